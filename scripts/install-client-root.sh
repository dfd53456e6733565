#!/usr/bin/env bash
# Builds the Debian 13 (trixie) root whose SSH clients the interop suites run beside the system's
# Debian 12 ones (test/fixtures/clientSets.ts): OpenSSH 10, PuTTY 0.83, Dropbear 2025, paramiko 3.5,
# AsyncSSH 2.20, sshpass, sftp-server, lftp, rclone.
#
# - Built once: a complete root (its .recipe file equals RECIPE below) is reused as it is. A build
#   goes into a temporary folder renamed into place only when complete, so an interrupted build is
#   never taken for a root; its leftovers are removed by the next run.
# - Network: only the Debian mirror this machine's apt uses (read from apt's own sources).
# - Needs root (debootstrap, chroot), as apt-get does; runs through sudo otherwise.
# - Where: $SSHDAEMON_CLIENT_ROOTS/debian13, default /var/cache/sshdaemon/client-roots/debian13, outside
#   the repository so every clone and worktree on the machine shares one root.
# - Cost: about 30 s (90 s on a loaded machine) and 30 MB of downloads cold, 210 MB on disk;
#   a few milliseconds warm.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

ROOTS="${SSHDAEMON_CLIENT_ROOTS:-/var/cache/sshdaemon/client-roots}"
ROOT="$ROOTS/debian13"
SUITE=trixie
PACKAGES="putty-tools dropbear-bin python3-paramiko python3-asyncssh sshpass openssh-sftp-server lftp rclone"
# Changing any line of the recipe rebuilds the root.
RECIPE="suite=$SUITE
variant=minbase
include=openssh-client
packages=$PACKAGES
layout=2"

if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env=SSHDAEMON_CLIENT_ROOTS "$0" "$@"
fi

if [ -f "$ROOT/.recipe" ] && [ "$(cat "$ROOT/.recipe")" = "$RECIPE" ]; then
  echo "debian13 client root: present at $ROOT"
  exit 0
fi

mkdir -p "$ROOTS"
# One build at a time on the machine (several worktrees or CI may start this together).
exec 9>"$ROOTS/.lock"
flock -w 600 9
if [ -f "$ROOT/.recipe" ] && [ "$(cat "$ROOT/.recipe")" = "$RECIPE" ]; then
  echo "debian13 client root: present at $ROOT (built meanwhile)"
  exit 0
fi

command -v debootstrap >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }

# The mirror apt uses for this release's own suite (not -updates, -security or third-party lists).
. /etc/os-release
MIRROR="$(apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE) $(TARGET_OF)' 'Identifier: Packages' 2>/dev/null |
  awk -v suite="$VERSION_CODENAME" '$2 == suite && $3 == "deb" { print $1; exit }')"
if [ -z "$MIRROR" ]; then
  echo "debian13 client root: no Debian mirror for suite '$VERSION_CODENAME' in /etc/apt/sources.list*" >&2
  exit 1
fi

# Leftovers of interrupted builds, then the new one beside the old.
rm -rf "$ROOTS"/.debian13.build.* "$ROOTS"/.debian13.old.*
BUILD="$(mktemp -d "$ROOTS/.debian13.build.XXXXXX")"
chmod 755 "$BUILD"
started=$(date +%s)
echo "debian13 client root: debootstrap $SUITE from $MIRROR"
# In a private mount namespace, as everything below: whatever debootstrap mounts in the target
# (/proc, /sys) goes away with it, even when killed, so leftovers never hold mounts.
if ! unshare --mount --propagation private debootstrap --variant=minbase --include=openssh-client "$SUITE" "$BUILD" "$MIRROR" >"$BUILD.log" 2>&1; then
  tail -20 "$BUILD.log" >&2
  exit 1
fi
# debootstrap's resolver cannot install the Python clients (their cffi dependency is a virtual
# package): apt inside the root does, with /proc mounted in a private mount namespace only.
echo "debian13 client root: apt-get install $PACKAGES"
if ! unshare --mount --propagation private sh -c '
  mount -t proc proc "$1/proc" &&
  chroot "$1" apt-get install -y -q --no-install-recommends $2 &&
  chroot "$1" apt-get clean' sh "$BUILD" "$PACKAGES" >>"$BUILD.log" 2>&1; then
  tail -20 "$BUILD.log" >&2
  exit 1
fi
# Only the programs matter here: no package lists, documentation or translations.
rm -rf "$BUILD"/var/lib/apt/lists/* "$BUILD"/usr/share/doc "$BUILD"/usr/share/man "$BUILD"/usr/share/locale "$BUILD"/usr/share/info
for bin in ssh sftp scp ssh-keygen plink psftp puttygen dbclient dropbearconvert sshpass lftp rclone setsid /usr/lib/openssh/sftp-server; do
  chroot "$BUILD" sh -c "command -v $bin >/dev/null" || { echo "debian13 client root: $bin missing after the build" >&2; exit 1; }
done
chroot "$BUILD" python3 -c 'import paramiko, asyncssh' || { echo "debian13 client root: paramiko or asyncssh missing" >&2; exit 1; }
printf '%s' "$RECIPE" >"$BUILD/.recipe"
rm -f "$BUILD.log"

# Swap in: the old root (another recipe) moves aside first, then goes.
if [ -e "$ROOT" ]; then
  old="$ROOTS/.debian13.old.$$"
  mv "$ROOT" "$old"
  rm -rf "$old"
fi
mv "$BUILD" "$ROOT"
echo "debian13 client root: built at $ROOT in $(($(date +%s) - started)) s, $(du -sh "$ROOT" | cut -f1)"
chroot "$ROOT" sh -c 'ssh -V 2>&1; plink -V | head -1; dbclient -V 2>&1 | head -1; python3 -c "import paramiko, asyncssh; print(\"paramiko\", paramiko.__version__, \"asyncssh\", asyncssh.__version__)"'
