#!/usr/bin/env bash
# CPU profile of one sidecar mode (or plain YARP) at saturation, charged to the owning assembly (docs/profile.md).
# Usage: bench/profile.sh DIR MODE [OUT]
#   DIR   a published sidecar (scripts/publish.sh DIR jit|aot), or "plain" for bench/PlainYarp
#   MODE  pass | memory | redis | cache-memory | cache-redis (hits) | all (everything on, cache misses)
# Needs Debian's linux-perf (installed when missing), nginx, wrk, redis-server. Ends only the processes it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1; mode=${2:-pass}; out=${3:-bench/out/profile-$mode}
mkdir -p "$(dirname "$out")" bench/out/profile-tmp
tmp=$(cd bench/out/profile-tmp && pwd)
command -v perf >/dev/null || apt-get install -y -qq linux-perf >/dev/null
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
upstream=$(free_port); nginxproxy=$(free_port); redis=$(free_port); port=$(free_port); mport=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
sed -e "s#__DIR__#$tmp#g" -e "s#__UPSTREAM__#$upstream#g" -e "s#__NGINXPROXY__#$nginxproxy#g" bench/nginx.conf.template > "$tmp/nginx.conf"
nginx -c "$tmp/nginx.conf" & pids+=($!)
redis-server --port "$redis" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >/dev/null & pids+=($!)
sleep 0.5
script=bench/post.lua
high=(Sidecar__RateLimits__Tiers__default__RequestsPerMinute=1000000000 Sidecar__RateLimits__Tiers__default__TokensPerMinute=1000000000000
  Sidecar__RateLimits__Tiers__default__TokensPerDay=1000000000000 Sidecar__RateLimits__Tiers__default__CostPerDay=1000000000 ReverseProxy__Routes__openai__Metadata__Redaction=Off)
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 DOTNET_gcServer=0 DOTNET_TC_CallCountingDelayMs=0
if [ "$dir" = plain ]; then
  dotnet publish bench/PlainYarp -c Release -o bench/out/plain-yarp --nologo -v quiet >/dev/null
  dotnet bench/out/plain-yarp/InferenceSidecar.Bench.PlainYarp.dll "$port" "http://127.0.0.1:$upstream/" > "$tmp/plain.log" 2>&1 & pid=$!
  url=http://127.0.0.1:$port/v1/chat/completions; sleep 2
else
  extra=()
  case $mode in
    pass) extra=(Sidecar__RateLimits__Tiers__default__RequestsPerMinute=0 Sidecar__RateLimits__Tiers__default__TokensPerMinute=0 Sidecar__RateLimits__Tiers__default__TokensPerDay=0 Sidecar__RateLimits__Tiers__default__CostPerDay=0) ;;
    memory) ;;
    redis) extra=(ConnectionStrings__Redis=127.0.0.1:$redis) ;;
    cache-memory) extra=(ReverseProxy__Routes__openai__Metadata__Cache=On) ;;
    cache-redis) extra=(ReverseProxy__Routes__openai__Metadata__Cache=On ConnectionStrings__Redis=127.0.0.1:$redis) ;;
    all) extra=(ReverseProxy__Routes__openai__Metadata__Redaction=Redact ReverseProxy__Routes__openai__Metadata__Cache=On Serilog__MinimumLevel__Default=Information Serilog__MinimumLevel__Override__Microsoft.AspNetCore=Warning); script=bench/vary.lua ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
  if [ -f "$dir/InferenceSidecar.dll" ]; then cmd=(dotnet "$dir/InferenceSidecar.dll"); else cmd=("$dir/InferenceSidecar"); fi
  env ASPNETCORE_ENVIRONMENT=Production Kestrel__Endpoints__Proxy__Url="http://127.0.0.1:$port" Kestrel__Endpoints__Management__Url="http://127.0.0.1:$mport" \
    ReverseProxy__Clusters__openai__Destinations__primary__Address="http://127.0.0.1:$upstream/" ReverseProxy__Clusters__openai__Metadata__ApiKey=none \
    Serilog__MinimumLevel__Default=Warning "${high[@]}" "${extra[@]}" "${cmd[@]}" > "$tmp/sidecar.log" 2>&1 & pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$mport/health/ready" && break; sleep 0.1; done
  url=http://127.0.0.1:$port/openai/v1/chat/completions
fi
pids+=("$pid")
wrk -t2 -c32 -d12s -s "$script" "$url" >/dev/null
wrk -t2 -c32 -d10s -s "$script" "$url" > "$tmp/wrk.txt" & wpid=$!
sleep 1
perf record -F 2999 -g -p "$pid" -o "$out.data" -- sleep 7 >/dev/null 2>&1
wait "$wpid"
rps=$(awk '/Requests\/sec/{print $2}' "$tmp/wrk.txt")
echo "$dir $mode: $rps req/s under perf"
python3 bench/profile_owners.py "$out.data" "$rps" 7 2999 | tee "$out.txt"
