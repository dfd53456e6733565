#!/usr/bin/env bash
# Installs the real SSH clients the tests drive: Debian 12's as system packages (only those that are
# missing), and Debian 13's in a root of their own (scripts/install-client-root.sh, built once).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
# python3, make and g++: node-gyp builds node-pty (terminals for enableProcesses) at `npm ci`;
# setpriv (util-linux): the uid/gid switch of enableProcesses plans.
for pair in ssh:openssh-client sshd:openssh-server sshpass:sshpass plink:putty-tools puttygen:putty-tools dbclient:dropbear-bin ssh-audit:ssh-audit lftp:lftp rclone:rclone haproxy:haproxy redis-server:redis-server curl:curl git:git debootstrap:debootstrap python3:python3 make:make g++:g++ setpriv:util-linux; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# OpenSSH's sftp-server: the reference the SFTP tests compare with (sftp -D).
[ -x /usr/lib/openssh/sftp-server ] || need+=(openssh-sftp-server)
# PostgreSQL (initdb, postgres): the shared user store of samples/sftp-hosting, a cluster per test run.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
/usr/bin/python3 -c 'import paramiko' 2>/dev/null || need+=(python3-paramiko)
/usr/bin/python3 -c 'import asyncssh' 2>/dev/null || need+=(python3-asyncssh)
if [ ${#need[@]} -eq 0 ]; then
  echo "test clients: all present"
else
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "test clients: installing ${need[*]}"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
# node-gyp needs Node's headers: it downloads them unless npm's nodedir names a local copy, and the
# machines that run CI reach no download site but the package registries. Point nodedir at the
# headers of the Node.js that runs npm when they are installed beside it (/usr/include/node).
node_prefix=$(node -p 'require("path").resolve(process.execPath, "..", "..")')
nodedir=$(npm config get nodedir 2>/dev/null || true)
if [ -f "$node_prefix/include/node/node.h" ] && { [ -z "$nodedir" ] || [ "$nodedir" = "undefined" ] || [ "$nodedir" = "null" ]; }; then
  npm config set nodedir "$node_prefix" --location=user
  echo "npm: nodedir set to $node_prefix (Node.js headers for node-gyp)"
fi
"$(dirname "$0")/install-client-root.sh"
