#!/usr/bin/env bash
# Builds the artifact exactly as the Dockerfile does (scripts/publish.sh) and runs it the way the container and the
# Helm chart do: Production, the Dockerfile's environment, the published folder read-only, a non-root user when this
# runs as root, config from a SIDECAR_CONFIG file and a provider key mounted as a file. Checks /health/ready, /metrics
# and a request through the proxy port, then stops it. With a folder argument, also starts the artifact once per
# *.json in it (the appsettings the Helm chart renders, from charts/validate/run.sh) and requires /health/ready to
# answer 200: the chart's config passes the sidecar's own validation. Fails if the artifact carries FakeProvider. Prints "publish-check: ok" or fails.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
require_tools "${PUBLISH_CHECK_TOOLS[@]}"
chart_configs=${1:-}
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

./scripts/publish.sh "$work/app"
# The production artifact carries no test double: the fake provider is compiled only into dev (Debug) builds.
if ls "$work/app" | grep -qi 'FakeProvider' || grep -qi 'FakeProvider' "$work/app/InferenceSidecar.deps.json"; then
  echo "publish-check: the published artifact contains the fake provider (a test double)"; ls "$work/app"; exit 1
fi
chmod -R a+rX,a-w "$work/app"
mkdir -p "$work/etc" "$work/keys"
echo "sk-publish-check-key" > "$work/keys/OPENAI_API_KEY"
echo "sk-ant-publish-check-key" > "$work/keys/ANTHROPIC_API_KEY"
chmod -R a+rX "$work/etc" "$work/keys" "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
proxy=$(free_port); mgmt=$(free_port); upstream=$(free_port)
# A JSON config file like the chart's ConfigMap: one route to a tiny upstream answering a canned completion.
cat > "$work/etc/appsettings.json" <<JSON
{ "Sidecar": { "Identity": { "AllowAnonymous": true } },
  "ReverseProxy": { "Clusters": { "openai": { "Metadata": { "ApiKey": "file:$work/keys/OPENAI_API_KEY" },
    "Destinations": { "primary": { "Address": "http://127.0.0.1:$upstream/" } } },
    "anthropic": { "Metadata": { "ApiKey": "file:$work/keys/ANTHROPIC_API_KEY" } } } } }
JSON
python3 - "$upstream" <<'PY' &
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        ok = self.headers.get("authorization") == "Bearer sk-publish-check-key"
        body = json.dumps({"id": "x", "object": "chat.completion", "model": "gpt-4o", "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}, separators=(",", ":")).encode() if ok else b'{"error":{"message":"no key"}}'
        self.send_response(200 if ok else 401); self.send_header("content-type", "application/json"); self.send_header("content-length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
upstream_pid=$!
trap 'kill $upstream_pid 2>/dev/null; cleanup' EXIT

# The Dockerfile's ENV, with the ports moved to free ones on loopback.
run=(env -i PATH="$PATH" HOME=/nonexistent DOTNET_ROOT="${DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")}"
     ASPNETCORE_ENVIRONMENT=Production DOTNET_EnableDiagnostics=0 DOTNET_USE_POLLING_FILE_WATCHER=true DOTNET_gcServer=0 DOTNET_TC_CallCountingDelayMs=0
     Kestrel__Endpoints__Proxy__Url=http://127.0.0.1:$proxy Kestrel__Endpoints__Management__Url=http://127.0.0.1:$mgmt
     SIDECAR_CONFIG="$work/etc/appsettings.json")
if [ "$(id -u)" -eq 0 ]; then
  run=(setpriv --reuid=65534 --regid=65534 --clear-groups "${run[@]}")
fi
(cd "$work/app" && exec "${run[@]}" dotnet InferenceSidecar.dll) > "$work/sidecar.log" 2>&1 &
pid=$!

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$mgmt/health/ready" > "$work/ready.json" 2>/dev/null && break
  sleep 0.2
done
grep -q '"status":"Healthy"' "$work/ready.json" || { echo "publish-check: not ready"; cat "$work/ready.json" "$work/sidecar.log"; exit 1; }
answer=$(curl -fs "http://127.0.0.1:$proxy/openai/v1/chat/completions" -H 'content-type: application/json' \
  -d '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}')
echo "$answer" | grep -q '"content":"ok"' || { echo "publish-check: proxy answer wrong: $answer"; cat "$work/sidecar.log"; exit 1; }
# The request counter is recorded when the request's pipeline ends, which can be just after the client has the whole
# response: poll briefly, as a scrape would see it on its next pass.
metric='sidecar_requests_total{route="openai",model="gpt-4o",status_code="200"} 1'
for _ in $(seq 1 25); do
  curl -fs "http://127.0.0.1:$mgmt/metrics" > "$work/metrics.txt" 2>/dev/null && grep -qF "$metric" "$work/metrics.txt" && break
  sleep 0.2
done
grep -qF "$metric" "$work/metrics.txt" || { echo "publish-check: metrics missing"; grep '^sidecar_requests_total' "$work/metrics.txt"; exit 1; }
if grep -q "publish-check-key" "$work/sidecar.log"; then echo "publish-check: key in log"; exit 1; fi
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

# The chart's rendered configs: each must start and be ready (keys absent here, so Degraded, still 200).
for config in ${chart_configs:+"$chart_configs"/*.json}; do
  cp "$config" "$work/etc/chart.json"
  run_chart=("${run[@]/#SIDECAR_CONFIG=*/SIDECAR_CONFIG=$work/etc/chart.json}")
  (cd "$work/app" && exec "${run_chart[@]}" dotnet InferenceSidecar.dll) > "$work/chart.log" 2>&1 &
  pid=$!
  status=000
  for _ in $(seq 1 100); do
    status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mgmt/health/ready" 2>/dev/null) || true
    [ "$status" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  [ "$status" = 200 ] || { echo "publish-check: chart config $(basename "$config") not accepted (ready: $status)"; awk '!/^\{"@t"/ || /"@l":/' "$work/chart.log" | head -20; exit 1; }
  echo "publish-check: chart config $(basename "$config") starts and is ready"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
done
echo "publish-check: ok (published as in the Dockerfile, ran $( [ "$(id -u)" -eq 0 ] && echo 'as uid 65534, ' )from a read-only folder)"
