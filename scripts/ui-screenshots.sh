#!/usr/bin/env bash
# Re-takes the dashboard screenshots in docs/ (docs/ui-<view>-<1280|390>.png) by running the browser test with
# SIDECAR_UI_SCREENSHOTS set: real traffic through the sidecar, Debian's headless chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/deps.sh
source scripts/deps.sh
require_tools chromium:chromium
SIDECAR_UI_SCREENSHOTS="$PWD/docs" dotnet test tests/Sidecar.Tests --filter "FullyQualifiedName~DashboardBrowserTests.Dashboard_AfterRealTraffic_EachViewShowsWhatHappened"
