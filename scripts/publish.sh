#!/usr/bin/env bash
# The one publish command: the Dockerfile runs it, and CI (scripts/publish-check.sh, from scripts/test.sh) runs it
# too, so the image's build is exercised on every test run even where no Docker engine exists.
# Usage: scripts/publish.sh <output-dir>
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/publish.sh <output-dir>}
dotnet publish src/Sidecar/InferenceSidecar.csproj -c Release -o "$out" -p:UseAppHost=false --nologo -v quiet
