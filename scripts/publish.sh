#!/usr/bin/env bash
# The one publish command: the Dockerfile runs it, and CI (scripts/publish-check.sh, from scripts/test.sh) runs it
# too, so the image's build is exercised on every test run even where no Docker engine exists.
# Usage: scripts/publish.sh <output-dir> [aot|jit]
#   aot (default; or SIDECAR_BUILD=aot) — NativeAOT: one native executable, ./InferenceSidecar, no .NET runtime needed
#        (needs clang and zlib1g-dev, installed here when missing; see docs/aot.md);
#   jit — the framework-dependent build: InferenceSidecar.dll, run with `dotnet InferenceSidecar.dll`.
# Either way the output folder holds appsettings.json beside the program.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/publish.sh <output-dir> [aot|jit]}
build=${2:-${SIDECAR_BUILD:-aot}}
case $build in
  aot)
    . scripts/deps.sh
    require_tools "${AOT_TOOLS[@]}"
    # Every trim/AOT warning fails the publish, except the one known, checked package warning (docs/aot.md): Serilog's
    # reflection-based destructuring ({@Object}), which the sidecar never uses, reported as one IL2104 for 'Serilog'.
    # The compiler's warnings are collected here rather than made errors, so that exception can be this precise.
    log=$(mktemp)
    # ILC_INSTRUCTION_SET overrides the instruction set the native code assumes (default on x64: sse4.2, x86-64-v2;
    # e.g. avx2 for nodes known to be x86-64-v3; see docs/aot.md).
    if ! dotnet publish src/Sidecar/InferenceSidecar.csproj -c Release -o "$out" --use-current-runtime -p:PublishAot=true \
        ${ILC_INSTRUCTION_SET:+-p:IlcInstructionSet=$ILC_INSTRUCTION_SET} -p:TreatWarningsAsErrors=false --nologo -v quiet > "$log" 2>&1; then
      cat "$log"; rm -f "$log"; exit 1
    fi
    unexpected=$(grep -E 'warning (IL|SYSLIB|CS|CA)[0-9]+' "$log" | grep -v "warning IL2104: Assembly 'Serilog' produced trim warnings" | sort -u || true)
    rm -f "$log"
    if [ -n "$unexpected" ]; then
      echo "publish.sh: the native build has warnings (trim/AOT-unsafe code; see docs/aot.md):" >&2; echo "$unexpected" >&2; exit 1
    fi
    ;;
  jit)
    dotnet publish src/Sidecar/InferenceSidecar.csproj -c Release -o "$out" -p:PublishAot=false -p:UseAppHost=false --nologo -v quiet
    ;;
  *) echo "usage: scripts/publish.sh <output-dir> [aot|jit]" >&2; exit 2 ;;
esac
