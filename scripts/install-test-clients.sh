#!/usr/bin/env bash
# Installs the real SSH clients the tests drive: Debian 12's as system packages (only those that are
# missing), and Debian 13's in a root of their own (scripts/install-client-root.sh, built once).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for pair in ssh:openssh-client sshd:openssh-server sshpass:sshpass plink:putty-tools puttygen:putty-tools dbclient:dropbear-bin ssh-audit:ssh-audit lftp:lftp rclone:rclone haproxy:haproxy curl:curl git:git debootstrap:debootstrap; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# OpenSSH's sftp-server: the reference the SFTP tests compare with (sftp -D).
[ -x /usr/lib/openssh/sftp-server ] || need+=(openssh-sftp-server)
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
"$(dirname "$0")/install-client-root.sh"
