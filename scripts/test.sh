#!/usr/bin/env bash
# Runs every test of InferenceSidecar on a fresh Debian/Ubuntu machine with the .NET 10 SDK.
# First installs, in one apt-get step, whatever any step calls and is missing (scripts/deps.sh: redis-server,
# redis-tools, prometheus, nginx, wrk, golang-go with Debian's sprig and yaml.v3 Go packages, python3, curl, and clang
# and zlib1g-dev for the NativeAOT publish). Then:
#   1. charts/validate/run.sh   — renders the Helm chart offline and checks every object (see the chart README);
#   2. scripts/publish-check.sh — publishes exactly as the Dockerfile does (NativeAOT) and runs the artifact as the container
#                                  would, once with a test config and once per config the chart rendered;
#   3. scripts/pack-check.sh    — packs the library (src/Transforms) and builds the embedded sample against the package
#                                  outside the repo;
#   4. dotnet test over the solution;
#   5. bench/run.sh --smoke     — every benchmark mode for 2 s, so the benchmark keeps working (its figures are not
#                                  checked: timing belongs in benchmarks, not tests);
# and ends with one plain line: "N passed, N failed, N skipped" (steps 1, 2, 3 and 5 count as one test each).
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything any step calls, installed in one apt-get step when missing (scripts/deps.sh; the steps' own checks then
# find nothing to install). Only processes the scripts start themselves are ever stopped, by pid.
. scripts/deps.sh
require_tools "${TEST_TOOLS[@]}" "${PUBLISH_CHECK_TOOLS[@]}" "${BENCH_TOOLS[@]}" "${CHART_TOOLS[@]}"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
configs=$(mktemp -d)
trap 'rm -rf "$log" "$configs"' EXIT
chmod a+rx "$configs"
set +e
extra_passed=0 extra_failed=0
if ./charts/validate/run.sh "$configs"; then extra_passed=$((extra_passed + 1)); else extra_failed=$((extra_failed + 1)); fi
chmod -R a+rX "$configs"
if ./scripts/publish-check.sh "$configs" 2>&1 | grep -v '^{"@t"'; [ "${PIPESTATUS[0]}" -eq 0 ]; then
  extra_passed=$((extra_passed + 1)); else extra_failed=$((extra_failed + 1)); fi
if ./scripts/pack-check.sh; then extra_passed=$((extra_passed + 1)); else extra_failed=$((extra_failed + 1)); fi
dotnet test InferenceSidecar.sln 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The smoke publishes the JIT build: publish-check has already compiled and run the native one, and a second native
# compile would add minutes to CI for figures nobody reads (bench/run.sh measures the default build otherwise).
if SIDECAR_BUILD=jit bash bench/run.sh --smoke > "$configs/bench.log" 2>&1 && grep -q '^### Targets' "$configs/bench.log"; then
  echo "bench smoke: ok (every mode ran; figures in bench/out/report.md)"; extra_passed=$((extra_passed + 1))
else
  echo "bench smoke: FAILED"; tail -30 "$configs/bench.log"; extra_failed=$((extra_failed + 1))
fi
set -e

# Sum the per-assembly summaries ("Passed!  - Failed: 0, Passed: 49, Skipped: 0, Total: 49, ...").
read -r passed failed skipped < <(awk '
  /(Passed|Failed)! +- +Failed:/ {
    for (i = 1; i <= NF; i++) {
      gsub(",", "", $(i+1))
      if ($i == "Failed:")  f += $(i+1)
      if ($i == "Passed:")  p += $(i+1)
      if ($i == "Skipped:") s += $(i+1)
    }
  }
  END { printf "%d %d %d\n", p, f, s }' "$log")

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the build or the runner failed before any test could
fi
passed=$((passed + extra_passed))
failed=$((failed + extra_failed))
[ "$extra_failed" -eq 0 ] || status=1
echo "${passed} passed, ${failed} failed, ${skipped} skipped"
exit "$status"
