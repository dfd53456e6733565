#!/usr/bin/env bash
# Captures the requests a real OpenSSH sftp client sends, for the sftp fuzz target's corpus:
# `sftp -D` runs our SFTPSession (sftpStdioServer.ts) on a pipe, jailed to a temporary folder, and
# the server records every byte the client sends. Usage: test/fuzz/seeds/captureSftp.sh OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root" "$work/local"
head -c 20000 /dev/urandom > "$work/local/upload.bin"
printf 'hello\n' > "$work/local/small.txt"
cat > "$work/server" <<SERVER
#!/bin/sh
cd "$repo" && exec node --import tsx "$here/sftpStdioServer.ts" "$work/root" "\$CAPTURE"
SERVER
chmod +x "$work/server"
session() { # name, batch commands (run from the local folder)
  printf '%s\n' "$2" > "$work/batch"
  (cd "$work/local" && CAPTURE="$work/$1.cap" sftp -q -b "$work/batch" -D "$work/server" >/dev/null 2>&1) || true
  { printf '\x00'; cat "$work/$1.cap"; } > "$out/capture-$1"
}
session transfer $'put upload.bin up.bin\nget up.bin down.bin\nls -l\nrm up.bin'
session tree $'mkdir d\nmkdir d/e\nput small.txt d/e/f.txt\nrename d/e/f.txt d/g.txt\nls -la d\nrmdir d/e\nrm d/g.txt\nrmdir d'
session links $'put small.txt t.txt\nsymlink t.txt l.txt\nln t.txt h.txt\nls -l\nrm l.txt\nrm h.txt\nrm t.txt'
session attrs $'put small.txt m.txt\nchmod 600 m.txt\nchown 0 m.txt\nchgrp 0 m.txt\ndf -h\nlstat m.txt\nrm m.txt'
session resume $'put small.txt r.txt\nreput small.txt r.txt\nreget r.txt r2.txt\nrm r.txt'
session escape $'cd ..\nls -l /\nget ../../../etc/hostname x\nsymlink /etc/passwd p\nln -s ../../outside o\nrename small.txt ../s\nmkdir /../z'
