#!/usr/bin/env bash
# `make run`: Envoy + the meshgate filter + the sidecar + two demo upstreams, on this
# machine, with envoy/envoy.yaml. Prints the MCP URL, the key and client configs.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

ENVOY_PORT=10000 ADMIN_PORT=9901 SIDECAR_PORT=7300 ALS_PORT=7301 DEMO_HTTP_PORT=7302
DATA=.meshgate
mkdir -p "$DATA"
for port in $ENVOY_PORT $ADMIN_PORT $SIDECAR_PORT $ALS_PORT $DEMO_HTTP_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port on 127.0.0.1 is already in use (another make run?); stop it first" >&2
    exit 1
  fi
done

# Secrets stay on this machine, created once and kept in the data directory.
[ -s "$DATA/shared_secret" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DATA/shared_secret")
[ -s "$DATA/master_key" ] || (umask 077; printf 'sk-meshgate-%s' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$DATA/master_key")
export MESHGATE_SHARED_SECRET; MESHGATE_SHARED_SECRET=$(cat "$DATA/shared_secret")
export MESHGATE_MASTER_KEY; MESHGATE_MASTER_KEY=$(cat "$DATA/master_key")
# The access-log stream's token (audit trail): Envoy reads it from its config, so the
# config is rendered into the data directory.
[ -s "$DATA/als_token" ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DATA/als_token")
export MESHGATE_ALS_TOKEN; MESHGATE_ALS_TOKEN=$(cat "$DATA/als_token")
(umask 077; sed "s|@MESHGATE_ALS_TOKEN@|$MESHGATE_ALS_TOKEN|" envoy/envoy.yaml > "$DATA/envoy.yaml")

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "stopping meshgate ..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

target/release/meshgate-demo-http --name demo_http --listen "127.0.0.1:$DEMO_HTTP_PORT" > "$DATA/demo-http.log" 2>&1 &
pids+=($!)
target/release/meshgate-sidecar --listen "127.0.0.1:$SIDECAR_PORT" --als-listen "127.0.0.1:$ALS_PORT" --data-dir "$DATA" 2> >(tee "$DATA/sidecar.log" >&2) &
pids+=($!)
.tools/bin/envoy -c "$DATA/envoy.yaml" --concurrency 2 -l warn --base-id 7 > "$DATA/envoy.log" 2>&1 &
pids+=($!)

URL="http://127.0.0.1:$ENVOY_PORT/mcp"
ready=""
for _ in $(seq 1 100); do
  if python3 - "$URL" "$MESHGATE_MASTER_KEY" <<'PY' 2>/dev/null
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=b'{"jsonrpc":"2.0","id":1,"method":"ping"}', method="POST",
    headers={"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
sys.exit(0 if urllib.request.urlopen(req, timeout=2).status == 200 else 1)
PY
  then ready=1; break; fi
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a process exited during start-up; see $DATA/*.log" >&2; tail -n 20 "$DATA/envoy.log" >&2; exit 1; }; done
  sleep 0.2
done
[ -n "$ready" ] || { echo "meshgate did not become ready; see $DATA/*.log" >&2; exit 1; }

cat <<INFO

meshgate is running.

  MCP URL      $URL
  Gateway key  $MESHGATE_MASTER_KEY   (kept in $DATA/master_key)
  Servers      demo_stdio (stdio), demo_http as "web" (streamable HTTP)
  Logs         $DATA/sidecar.log, $DATA/envoy.log

Cursor (~/.cursor/mcp.json) or Claude Code (.mcp.json):
  {
    "mcpServers": {
      "meshgate": {
        "type": "http",
        "url": "$URL",
        "headers": {"x-litellm-api-key": "Bearer $MESHGATE_MASTER_KEY"}
      }
    }
  }

Claude Code, from the command line:
  claude mcp add --transport http meshgate $URL --header "x-litellm-api-key: Bearer $MESHGATE_MASTER_KEY"

Python (pip install "mcp==2.3.0"), scripts/example_client.py:
$(sed 's/^/  /' scripts/example_client.py)
  run it:  MESHGATE_MASTER_KEY=$MESHGATE_MASTER_KEY python3 scripts/example_client.py

Press Ctrl-C to stop.
INFO
wait -n "${pids[@]}" || true
echo "a meshgate process exited; see $DATA/*.log" >&2
