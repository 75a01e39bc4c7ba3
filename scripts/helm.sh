#!/usr/bin/env bash
# Runs Helm v3.16.4 (the version the chart in deploy/helm/ is checked with), obtaining it first when needed.
#
# usage: bash scripts/helm.sh ARGS...     e.g. bash scripts/helm.sh lint deploy/helm/dmarc-platform
#
# Which helm, first match wins (what was chosen goes to stderr; stdout is helm's own):
#   1. $HELM, if set: used as it is (no version check), for machines that provide their own.
#   2. `helm` on PATH, if `helm version` says v3.16.4.
#   3. A binary built earlier: <repo>/.tools/bin/helm, then $(go env GOPATH)/bin/helm, if it says v3.16.4.
#   4. Built from the Go module proxy (Helm is not packaged by Debian):
#        GOBIN=<repo>/.tools/bin go install -ldflags ... helm.sh/helm/v3/cmd/helm@v3.16.4
#      about 2-3 minutes on 2 cores; GOPROXY, GOFLAGS and the rest of the Go environment are used as they are.
#      The -ldflags are those of Helm's own Makefile for a release: `helm version` says v3.16.4, and
#      .Capabilities.KubeVersion (what `helm template` and `helm lint` assume) is v1.31.0 as in the release
#      binary, not the v1.20.0 a plain `go install` would leave.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=v3.16.4
# Kubernetes minor of the client-go Helm v3.16.4 is built with (k8s.io/client-go v0.31.3 -> 1.31).
KUBE_MAJOR=1 KUBE_MINOR=31
TOOLS_BIN=$ROOT/.tools/bin

say() { echo "helm.sh: $*" >&2; }

version_of() { "$1" version --template '{{.Version}}' 2>/dev/null || true; }

build() {
  if ! command -v go >/dev/null 2>&1; then
    say "no helm $VERSION found and no Go toolchain to build it with; install Go (https://go.dev/dl/) or put helm $VERSION on PATH (or set HELM)"
    exit 127
  fi
  mkdir -p "$TOOLS_BIN"
  local pkg=helm.sh/helm/v3
  local ldflags="-s -w -X $pkg/internal/version.version=$VERSION -X $pkg/internal/version.metadata="
  ldflags+=" -X $pkg/pkg/chartutil.k8sVersionMajor=$KUBE_MAJOR -X $pkg/pkg/chartutil.k8sVersionMinor=$KUBE_MINOR"
  ldflags+=" -X $pkg/pkg/lint/rules.k8sVersionMajor=$KUBE_MAJOR -X $pkg/pkg/lint/rules.k8sVersionMinor=$KUBE_MINOR"
  say "building helm $VERSION: GOBIN=$TOOLS_BIN go install $pkg/cmd/helm@$VERSION (GOPROXY=$(go env GOPROXY), GOFLAGS=$(go env GOFLAGS); takes a few minutes)"
  GOBIN=$TOOLS_BIN CGO_ENABLED=${CGO_ENABLED:-0} go install -trimpath -ldflags "$ldflags" "$pkg/cmd/helm@$VERSION" >&2
}

find_helm() {
  local candidate
  if candidate=$(command -v helm 2>/dev/null) && [ "$(version_of "$candidate")" = "$VERSION" ]; then
    echo "$candidate"
    return 0
  fi
  for candidate in "$TOOLS_BIN/helm" "$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin/helm"; do
    if [ -x "$candidate" ] && [ "$(version_of "$candidate")" = "$VERSION" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if [ -n "${HELM:-}" ]; then
  exec "$HELM" "$@"
fi

if ! bin=$(find_helm); then
  mkdir -p "$ROOT/.tools"
  # Test workers (or CI steps) asking at once: one builds, the others wait for it and find its binary.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$ROOT/.tools/helm-build.lock"
    flock 9
  fi
  if ! bin=$(find_helm); then
    build
    bin=$TOOLS_BIN/helm
    got=$(version_of "$bin")
    if [ "$got" != "$VERSION" ]; then
      say "built $bin but it says ${got:-nothing} for its version, not $VERSION"
      exit 1
    fi
  fi
  if command -v flock >/dev/null 2>&1; then exec 9>&-; fi
fi
say "using $bin ($VERSION)"
exec "$bin" "$@"
