#!/usr/bin/env bash
# Renders and checks charts/inference-sidecar offline (no helm binary exists here): Go 1.19's text/template with the
# sprig library Helm uses (Debian packages), Helm's functions and value coalescing (render.go), typed Kubernetes
# objects decoded strictly (k8s.go) and cross-object checks (main.go). Scenarios: default values, gateway with
# everything on, sidecar-mode values, the example app chart that wraps an app with the sidecar, and broken values
# that must be rejected. Writes each scenario's rendered appsettings.json to $1 (if given) for publish-check.sh to
# start the real sidecar with. Installs golang-go and the Debian Go packages when missing (scripts/deps.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
chart="$here/../inference-sidecar"
configs=${1:-}

. "$here/../../scripts/deps.sh"
require_tools "${CHART_TOOLS[@]}"

# GOPATH mode over Debian's /usr/share/gocode; sprig and semver are imported as .../v3, so an overlay maps those paths.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/gopath/src/github.com/Masterminds/sprig" "$work/gopath/src/github.com/Masterminds/semver"
ln -s /usr/share/gocode/src/github.com/Masterminds/sprig "$work/gopath/src/github.com/Masterminds/sprig/v3"
ln -s /usr/share/gocode/src/github.com/Masterminds/semver "$work/gopath/src/github.com/Masterminds/semver/v3"
export GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="${GOCACHE:-$work/gocache}" GOFLAGS=
(cd "$here" && go vet . && go build -o "$work/validate" .)

failed=0
scenario() { # name, expected kinds, args...
  local name=$1 expect=$2; shift 2
  local out
  if out=$("$work/validate" -expect "$expect" -o "$work/$name.yaml" ${configs:+-config-out "$configs/$name.json"} "$@" 2>&1); then
    echo "chart ok   $name: ${out##*$'\n'}"
  else
    echo "chart FAIL $name:"; echo "$out" | sed 's/^/    /'; failed=1
  fi
}
must_fail() { # name, args...
  local name=$1; shift
  if out=$("$work/validate" "$@" 2>&1); then
    echo "chart FAIL $name: was accepted but must be rejected"; failed=1
  else
    echo "chart ok   $name: rejected ($(echo "$out" | grep -m1 FAIL | cut -c1-110))"
  fi
}
[ -n "$configs" ] && mkdir -p "$configs"

scenario default ConfigMap,Deployment,Pod,PodDisruptionBudget,Secret,Service,ServiceAccount -chart "$chart"
scenario gateway-all ConfigMap,ConfigMap,Deployment,HorizontalPodAutoscaler,NetworkPolicy,Pod,PodDisruptionBudget,PrometheusRule,Secret,Secret,Service,ServiceAccount,ServiceMonitor \
  -chart "$chart" -f "$chart/examples/gateway-values.yaml"
scenario sidecar-values ConfigMap,ConfigMap,PrometheusRule,Secret -chart "$chart" -f "$chart/examples/sidecar-values.yaml"
scenario app-with-sidecar ConfigMap,Deployment,Secret -chart "$chart/examples/app-with-sidecar" -release shop
must_fail broken-wrong-type -chart "$chart" -f "$here/testdata/broken-wrong-type.yaml"
must_fail broken-port-range -chart "$chart" -f "$here/testdata/broken-port-range.yaml"
must_fail broken-security -chart "$chart" -f "$here/testdata/broken-security.yaml"
must_fail broken-expected-replicas -chart "$chart" -f "$here/testdata/broken-expected-replicas.yaml"
must_fail broken-label -chart "$chart" -f "$here/testdata/broken-label.yaml"

# The alert rules, as rendered in both modes, must pass promtool (syntax and PromQL) and their unit tests.
for mode in gateway-all sidecar-values; do
  python3 - "$work/$mode.yaml" "$work/$mode-rules.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d.get("kind") == "PrometheusRule"]
yaml.safe_dump({"groups": docs[0]["spec"]["groups"]}, open(sys.argv[2], "w"), sort_keys=False)
PY
  if ! out=$(promtool check rules "$work/$mode-rules.yaml" 2>&1); then echo "chart FAIL $mode rules: $out"; failed=1; else echo "chart ok   $mode: promtool check rules"; fi
done
job=$(grep -o 'job="[^"]*"' "$work/gateway-all-rules.yaml" | head -1 | cut -d'"' -f2)
sed "s/JOB/$job/g" "$here/testdata/alerts-test.yaml" > "$work/alerts-test.yaml"
cp "$work/gateway-all-rules.yaml" "$work/rules.yaml"
if ! out=$(cd "$work" && promtool test rules alerts-test.yaml 2>&1); then echo "chart FAIL promtool test rules:"; echo "$out" | sed 's/^/    /'; failed=1; else echo "chart ok   promtool test rules (every alert fires on its series and stays quiet without)"; fi

# The example app's pod must really hold both containers and the sidecar's volumes.
if ! grep -q "name: inference-sidecar$" "$work/app-with-sidecar.yaml" || ! grep -q "name: my-app$" "$work/app-with-sidecar.yaml"; then
  echo "chart FAIL app-with-sidecar: the app pod lacks the app or the sidecar container"; failed=1
fi
exit $failed
