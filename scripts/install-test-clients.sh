#!/usr/bin/env bash
# Installs the real SSH clients the tests drive (Debian packages), only those that are missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for pair in ssh:openssh-client sshpass:sshpass plink:putty-tools puttygen:putty-tools dbclient:dropbear-bin ssh-audit:ssh-audit lftp:lftp rclone:rclone haproxy:haproxy curl:curl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
# OpenSSH's sftp-server is the reference the SFTP tests compare with (it runs without sshd).
[ -x /usr/lib/openssh/sftp-server ] || need+=(openssh-sftp-server)
/usr/bin/python3 -c 'import paramiko' 2>/dev/null || need+=(python3-paramiko)
/usr/bin/python3 -c 'import asyncssh' 2>/dev/null || need+=(python3-asyncssh)
if [ ${#need[@]} -eq 0 ]; then
  echo "test clients: all present"
  exit 0
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "test clients: installing ${need[*]}"
$sudo apt-get update -qq
$sudo apt-get install -y -qq $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
