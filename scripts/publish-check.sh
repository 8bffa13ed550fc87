#!/usr/bin/env bash
# Builds the artifact exactly as the Dockerfile does (scripts/publish.sh; the image's default build, NativeAOT, or the
# one named by SIDECAR_BUILD=aot|jit, the Dockerfile's BUILD argument) and runs it the way the container and the Helm chart do: Production, the Dockerfile's environment, the published folder read-only, a non-root user when this
# runs as root, config from a SIDECAR_CONFIG file and a provider key mounted as a file. Checks /health/ready, a chat
# request through the proxy port (the provider key injected; the per-user request limit counted, in the rate-limit
# headers, and enforced with a 429 in the OpenAI dialect), /sidecar/v1/limits, /admin/usage (the source-generated JSON
# of the native build), /metrics and that no key reached the log, then stops it. With a folder argument, also starts the artifact once per
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

build=${SIDECAR_BUILD:-aot}
started=$(date +%s)
if [ -n "${PUBLISHED:-}" ]; then
  cp -r "$PUBLISHED" "$work/app" # PUBLISHED=DIR checks an artifact scripts/publish.sh already built (its build: SIDECAR_BUILD)
else
  ./scripts/publish.sh "$work/app" "$build"
  echo "publish-check: published the $build build in $(( $(date +%s) - started )) s"
fi
# The native build is one executable; the JIT build a dll for the dotnet host (as the image's ENTRYPOINT).
if [ "$build" = aot ]; then program=(./InferenceSidecar); else program=(dotnet InferenceSidecar.dll); fi
# The production artifact carries no test double: the fake provider is compiled only into dev (Debug) builds.
if ls "$work/app" | grep -qi 'FakeProvider' || { [ -f "$work/app/InferenceSidecar.deps.json" ] && grep -qi 'FakeProvider' "$work/app/InferenceSidecar.deps.json"; } \
  || { [ -f "$work/app/InferenceSidecar" ] && grep -aqi 'InferenceSidecar.FakeProvider' "$work/app/InferenceSidecar"; }; then
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
# Two requests a minute per user, so the third is refused; an admin token from a file.
echo "publish-check-admin-token" > "$work/keys/ADMIN_TOKEN"
cat > "$work/etc/appsettings.json" <<JSON
{ "Sidecar": { "Identity": { "AllowAnonymous": true }, "Admin": { "Token": "file:$work/keys/ADMIN_TOKEN" },
    "RateLimits": { "Tiers": { "default": { "RequestsPerMinute": 2 } } } },
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
# Wait for the upstream to listen: the native build is ready within milliseconds, before python has bound its port.
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$upstream/" && break; sleep 0.1; done

# The Dockerfile's ENV, with the ports moved to free ones on loopback.
run=(env -i PATH="$PATH" HOME=/nonexistent DOTNET_ROOT="${DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")}"
     ASPNETCORE_ENVIRONMENT=Production DOTNET_EnableDiagnostics=0 DOTNET_USE_POLLING_FILE_WATCHER=true DOTNET_gcServer=0 DOTNET_TC_CallCountingDelayMs=0
     Kestrel__Endpoints__Proxy__Url=http://127.0.0.1:$proxy Kestrel__Endpoints__Management__Url=http://127.0.0.1:$mgmt
     SIDECAR_CONFIG="$work/etc/appsettings.json")
if [ "$(id -u)" -eq 0 ]; then
  run=(setpriv --reuid=65534 --regid=65534 --clear-groups "${run[@]}")
fi
(cd "$work/app" && exec "${run[@]}" "${program[@]}") > "$work/sidecar.log" 2>&1 &
pid=$!

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$mgmt/health/ready" > "$work/ready.json" 2>/dev/null && break
  sleep 0.2
done
grep -q '"status":"Healthy"' "$work/ready.json" || { echo "publish-check: not ready"; cat "$work/ready.json" "$work/sidecar.log"; exit 1; }
chat() { curl -s -D "$work/headers.txt" "http://127.0.0.1:$proxy/openai/v1/chat/completions" -H 'X-User-Id: pat' -H 'content-type: application/json' \
  -d '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'; }
answer=$(chat)
echo "$answer" | grep -q '"content":"ok"' || { echo "publish-check: proxy answer wrong: $answer"; cat "$work/sidecar.log"; exit 1; }
grep -qi '^x-ratelimit-remaining-requests: 1' "$work/headers.txt" || { echo "publish-check: no request-limit headers"; cat "$work/headers.txt"; exit 1; }
chat > /dev/null
refused=$(chat)
grep -q '^HTTP/1.1 429' "$work/headers.txt" && echo "$refused" | grep -q '"type":"rate_limit_exceeded"\|"code":"rate_limit_exceeded"' \
  || { echo "publish-check: the third request in a minute was not refused: $(head -1 "$work/headers.txt") $refused"; exit 1; }
limits=$(curl -fs "http://127.0.0.1:$proxy/sidecar/v1/limits" -H 'X-User-Id: pat')
echo "$limits" | grep -Eq '"requests_per_minute":\{"limit":2,("per_window":2,)?"used":[12][.0-9]*,"remaining":0[.0-9]*,.*"price":\{"priced":true' \
  || { echo "publish-check: /sidecar/v1/limits wrong: $limits"; exit 1; }
# Usage rows are flushed once a second (Sidecar:Usage:FlushInterval): poll briefly.
for _ in $(seq 1 25); do
  usage=$(curl -fs "http://127.0.0.1:$mgmt/admin/usage?user=pat" -H 'Authorization: Bearer publish-check-admin-token') || true
  echo "$usage" | grep -q '"user":"pat","model":"gpt-4o"' && break
  sleep 0.2
done
echo "$usage" | grep -q '"user":"pat","model":"gpt-4o"' \
  || { echo "publish-check: /admin/usage wrong: $usage"; exit 1; }
# The request counter is recorded when the request's pipeline ends, which can be just after the client has the whole
# response: poll briefly, as a scrape would see it on its next pass.
metric='sidecar_requests_total{route="openai",model="gpt-4o",status_code="200"} 2'
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
  (cd "$work/app" && exec "${run_chart[@]}" "${program[@]}") > "$work/chart.log" 2>&1 &
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
echo "publish-check: ok ($build build published as in the Dockerfile, ran $( [ "$(id -u)" -eq 0 ] && echo 'as uid 65534, ' )from a read-only folder)"
