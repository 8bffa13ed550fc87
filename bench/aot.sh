#!/usr/bin/env bash
# NativeAOT against the JIT build, in ONE run on this machine (docs/aot.md): for each build, ROUNDS times, alternating
# the builds so both see the same noise:
#   ready_ms   — from the process start to the first 200 from /health/ready (polled every 5 ms);
#   idle_mb    — RSS after ready plus 5 s idle;
#   rps        — wrk, closed loop, everything on in memory (limits, cache misses, redaction, the Information request log,
#                usage analytics; bench/run.sh's "everything on, memory" mode) after a warm-up at full load;
#   load_mb    — RSS at the end of that load; peak_mb — the process's peak RSS (VmHWM) over its whole life.
# The upstream is nginx answering a canned completion (bench/nginx.conf.template), as in bench/run.sh.
# Prints one line per run, then min–max and median per build, and AOT/JIT throughput ratios; writes bench/out-aot/.
# Usage: bench/aot.sh [ROUNDS=3] [SECONDS=10]
#   AOT_DIR=… JIT_DIR=… reuse published folders (scripts/publish.sh DIR aot|jit) instead of publishing both.
#   READY_PATH=/metrics times readiness on another management path (a build whose /health/ready cannot answer).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; seconds=${2:-10}; warm=${WARM:-10}; connections=${CONNECTIONS:-32}
. scripts/deps.sh
require_tools nginx:nginx wrk:wrk python3:python3 curl:curl "${AOT_TOOLS[@]}"
out=$(pwd)/bench/out-aot; rm -rf "$out"; mkdir -p "$out/tmp"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

aot=${AOT_DIR:-$out/aot}; jit=${JIT_DIR:-$out/jit}
for b in aot jit; do
  dir=$aot; [ $b = jit ] && dir=$jit
  if [ ! -e "$dir/appsettings.json" ]; then
    echo "aot.sh: publishing the $b build" >&2
    start=$(date +%s); ./scripts/publish.sh "$dir" $b >/dev/null; echo "aot.sh: $b publish took $(( $(date +%s) - start )) s" >&2
  fi
done
echo "aot.sh: native executable $(du -m "$aot/InferenceSidecar" | cut -f1) MB; JIT build folder $(du -sm "$jit" | cut -f1) MB (+ the shared ASP.NET Core runtime)" >&2

upstream=$(free_port); nginxproxy=$(free_port)
sed -e "s#__DIR__#$out#g" -e "s#__UPSTREAM__#$upstream#g" -e "s#__NGINXPROXY__#$nginxproxy#g" bench/nginx.conf.template > "$out/nginx.conf"
nginx -c "$out/nginx.conf" & pids+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$upstream/" && break; sleep 0.1; done

# The everything-on environment of bench/run.sh (memory stores).
everything=(Sidecar__RateLimits__Tiers__default__RequestsPerMinute=1000000000 Sidecar__RateLimits__Tiers__default__TokensPerMinute=1000000000000
  Sidecar__RateLimits__Tiers__default__TokensPerDay=1000000000000 Sidecar__RateLimits__Tiers__default__CostPerDay=1000000000
  ReverseProxy__Routes__openai__Metadata__Redaction=Redact ReverseProxy__Routes__openai__Metadata__Cache=On
  Serilog__MinimumLevel__Default=Information Serilog__MinimumLevel__Override__Microsoft.AspNetCore=Warning)
kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }

: > "$out/runs.txt"
for round in $(seq 1 "$rounds"); do
  for b in aot jit; do
    dir=$aot; cmd=("$aot/InferenceSidecar")
    [ $b = jit ] && { dir=$jit; cmd=(dotnet "$jit/InferenceSidecar.dll"); }
    port=$(free_port); mport=$(free_port)
    t0=$(now_ms)
    env ASPNETCORE_ENVIRONMENT=Production \
      Kestrel__Endpoints__Proxy__Url="http://127.0.0.1:$port" Kestrel__Endpoints__Management__Url="http://127.0.0.1:$mport" \
      ReverseProxy__Clusters__openai__Destinations__primary__Address="http://127.0.0.1:$upstream/" \
      ReverseProxy__Clusters__openai__Metadata__ApiKey=none \
      DOTNET_gcServer=0 DOTNET_EnableDiagnostics=0 DOTNET_TC_CallCountingDelayMs=0 \
      "${everything[@]}" "${cmd[@]}" > "$out/sidecar-$b-$round.log" 2>&1 &
    pid=$!; pids+=("$pid")
    ready=""
    for _ in $(seq 1 2000); do
      if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport${READY_PATH:-/health/ready}" 2>/dev/null)" = 200 ]; then ready=$(( $(now_ms) - t0 )); break; fi
      sleep 0.005
    done
    [ -n "$ready" ] || { echo "aot.sh: the $b build never became ready"; tail -20 "$out/sidecar-$b-$round.log"; exit 1; }
    sleep 5
    idle=$(kb "$pid" VmRSS)
    url="http://127.0.0.1:$port/openai/v1/chat/completions"
    wrk -t2 -c"$connections" -d"${warm}s" -s bench/vary.lua "$url" > /dev/null
    wrk -t2 -c"$connections" -d"${seconds}s" -s bench/vary.lua "$url" > "$out/wrk-$b-$round.txt"
    load=$(kb "$pid" VmRSS); peak=$(kb "$pid" VmHWM)
    rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$out/wrk-$b-$round.txt")
    bad=$(awk '/Non-2xx/ {print $NF}' "$out/wrk-$b-$round.txt"); bad=${bad:-0}
    kill "$pid"; wait "$pid" 2>/dev/null || true
    printf '%s %d %d %.1f %d %.1f %.1f %d\n' "$b" "$round" "$ready" "$(awk -v v="$idle" "BEGIN{print v/1024}")" "$rps" "$(awk -v v="$load" "BEGIN{print v/1024}")" "$(awk -v v="$peak" "BEGIN{print v/1024}")" "$bad" | tee -a "$out/runs.txt"
  done
done

python3 - "$out/runs.txt" <<'PY' | tee "$out/report.md"
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
cols = ["ready_ms", "idle_mb", "rps", "load_mb", "peak_mb", "non2xx"]
by = {b: [r for r in rows if r[0] == b] for b in ("aot", "jit")}
print("| build | runs | " + " | ".join(c + " (min–max, median)" for c in cols[:-1]) + " | non-2xx |")
print("|---|---|" + "---|" * len(cols))
for b, rs in by.items():
    cells = []
    for i, c in enumerate(cols):
        v = [float(r[i + 2]) for r in rs]
        cells.append(f"{min(v):g}–{max(v):g}, {statistics.median(v):g}" if c != "non2xx" else f"{sum(v):g}")
    print(f"| {b} | {len(rs)} | " + " | ".join(cells) + " |")
pairs = [float(a[4]) / float(j[4]) for a, j in zip(by["aot"], by["jit"]) if float(j[4]) > 0]
if pairs:
    print(f"\nAOT/JIT throughput, same round: {' '.join(f'{p:.2f}' for p in pairs)} (median {statistics.median(pairs):.2f})")
PY
