#!/usr/bin/env bash
# Sourced by scripts/test.sh, scripts/publish-check.sh, bench/run.sh and charts/validate/run.sh.
#   require_tools COMMAND_OR_PATH:DEBIAN_PACKAGE ...
# installs, in ONE apt-get step, the packages whose command (or, for an absolute path, file or folder) is missing;
# scripts/test.sh calls it first with everything any script needs, so the later calls find nothing missing. Debian
# starts a packaged service when it installs it (redis-server, prometheus, nginx, ...); the scripts start their own on
# free ports and stop them by pid, so the services of the packages installed here, and only those, are stopped again
# (systemctl when systemd runs, else the package's init script, which stops only the pid in its own pidfile; neither
# is an error when absent).
require_tools() {
  local spec cmd pkg need=()
  for spec in "$@"; do
    cmd=${spec%%:*} pkg=${spec#*:}
    if [[ $cmd == /* ]]; then [ -e "$cmd" ] && continue; else command -v "$cmd" >/dev/null 2>&1 && continue; fi
    [[ " ${need[*]} " == *" $pkg "* ]] || need+=("$pkg")
  done
  ((${#need[@]})) || return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  for pkg in "${need[@]}"; do
    case $pkg in
      redis-server | prometheus | nginx | haproxy | caddy) ;;
      *) continue ;;
    esac
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
      $sudo systemctl stop "$pkg" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$pkg" ]; then
      $sudo "/etc/init.d/$pkg" stop >/dev/null 2>&1 || true
    fi
  done
}

# What each script calls, as COMMAND:PACKAGE (scripts/test.sh installs the union up front).
# shellcheck disable=SC2034
TEST_TOOLS=(redis-server:redis-server promtool:prometheus prometheus:prometheus python3:python3 curl:curl chromium:chromium)
# The NativeAOT publish (scripts/publish.sh aot): ILCompiler links with clang and needs zlib's headers and library.
# shellcheck disable=SC2034
AOT_TOOLS=(clang:clang /usr/include/zlib.h:zlib1g-dev)
# shellcheck disable=SC2034
PUBLISH_CHECK_TOOLS=(python3:python3 curl:curl setpriv:util-linux "${AOT_TOOLS[@]}")
# shellcheck disable=SC2034
BENCH_TOOLS=(nginx:nginx haproxy:haproxy caddy:caddy wrk:wrk redis-server:redis-server redis-cli:redis-tools go:golang-go python3:python3 curl:curl "${AOT_TOOLS[@]}")
# shellcheck disable=SC2034
CHART_TOOLS=(go:golang-go /usr/share/gocode/src/github.com/Masterminds/sprig:golang-github-masterminds-sprig-dev
  /usr/share/gocode/src/gopkg.in/yaml.v3:golang-gopkg-yaml.v3-dev promtool:prometheus python3:python3
  /usr/lib/python3/dist-packages/yaml:python3-yaml)
