#!/usr/bin/env bash
# Seeds for the proxyProtocol target: the PROXY v1 and v2 headers a real HAProxy sends
# (send-proxy, send-proxy-v2, and v2 with TLVs), over IPv4 and IPv6 loopback. Each seed is the
# mode byte 0 then what arrived at the backend. Usage: test/fuzz/seeds/captureProxyHeaders.sh OUT_DIR
# Needs haproxy (scripts/install-test-clients.sh).
set -euo pipefail
out=$(mkdir -p "$1" && cd "$1" && pwd)
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
capture() { # name, haproxy server options, client address
  local name=$1 opts=$2 client=$3 front back
  front=$(port); back=$(port)
  node -e '
    const fs = require("fs"); const [port, file] = process.argv.slice(1);
    require("net").createServer((s) => { let got = Buffer.alloc(0);
      s.on("data", (d) => { got = Buffer.concat([got, d]); if (got.includes("SSH-2.0-")) { fs.writeFileSync(file, Buffer.concat([Buffer.from([0]), got])); process.exit(0); } });
    }).listen(port, "127.0.0.1");' "$back" "$out/haproxy-$name" &
  pids+=($!)
  cat > "$work/$name.cfg" <<CFG
global
  log stdout format raw local0 emerg
defaults
  mode tcp
  timeout connect 2s
  timeout client 5s
  timeout server 5s
frontend f
  bind ${client}:${front}
  default_backend b
backend b
  server s 127.0.0.1:${back} ${opts}
CFG
  haproxy -f "$work/$name.cfg" -db >/dev/null 2>&1 &
  pids+=($!)
  sleep 0.5
  node -e 'const s=require("net").connect({host:process.argv[1],port:+process.argv[2]},()=>s.write("SSH-2.0-OpenSSH_9.2\r\n"));setTimeout(()=>s.destroy(),1000)' "${client//[\[\]]/}" "$front"
  wait "${pids[-2]}" || true
}
capture v1-tcp4 send-proxy 127.0.0.1
capture v2-tcp4 send-proxy-v2 127.0.0.1
capture v1-tcp6 send-proxy '[::1]'
capture v2-tcp6 send-proxy-v2 '[::1]'
capture v2-tlvs 'send-proxy-v2 proxy-v2-options unique-id,authority,crc32c' 127.0.0.1
