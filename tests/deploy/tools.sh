# shellcheck shell=bash
# Tools for deploy/render and tests/deploy/lint, installed on first use and
# cached outside the repository (${PODMEDIC_CACHE:-~/.cache/podmedic}/tools).
# Sourced, not run. Provides: $HELM, $PROMTOOL, $KUBE_VERSION, ensure_helm,
# ensure_promtool.

# Helm 3 built from its Go module (Debian has no package). Bump both
# together: the cache directory is keyed by the version.
HELM_VERSION=v3.22.0
# The Kubernetes version charts are rendered for (the local control plane's,
# tests/cluster/versions.env); a Helm built by `go install` defaults to 1.20.
KUBE_VERSION=1.36.3
# Fallback when Debian's `prometheus` package (which ships promtool) cannot
# be installed: promtool from the Prometheus Go module (v3.7 = v0.307).
PROMTOOL_GO_VERSION=v0.307.3

TOOLS_CACHE="${PODMEDIC_CACHE:-$HOME/.cache/podmedic}/tools"

if [ -d /usr/local/go/bin ] && ! command -v go >/dev/null 2>&1; then
  PATH="$PATH:/usr/local/go/bin"
fi

_tools_log() { printf '[deploy-tools] %s\n' "$*" >&2; }

ensure_helm() {
  local dir="$TOOLS_CACHE/helm-$HELM_VERSION"
  HELM="$dir/helm"
  [ -x "$HELM" ] && return 0
  command -v go >/dev/null 2>&1 || { _tools_log "need Go to build helm $HELM_VERSION"; return 1; }
  _tools_log "building helm $HELM_VERSION from its Go module into $dir (once; a few minutes)"
  mkdir -p "$dir"
  GOBIN="$dir" GOFLAGS=-trimpath go install \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
}

ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then
    PROMTOOL="$(command -v promtool)"
    return 0
  fi
  local dir="$TOOLS_CACHE/promtool-$PROMTOOL_GO_VERSION"
  PROMTOOL="$dir/promtool"
  [ -x "$PROMTOOL" ] && return 0
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    _tools_log "installing Debian's prometheus package for promtool"
    if { apt-get install -y --no-install-recommends prometheus ||
         { apt-get update -qq && apt-get install -y --no-install-recommends prometheus; }; } >/dev/null 2>&1 &&
       command -v promtool >/dev/null 2>&1; then
      PROMTOOL="$(command -v promtool)"
      return 0
    fi
    _tools_log "apt-get could not install prometheus; building promtool from Go instead"
  fi
  command -v go >/dev/null 2>&1 || { _tools_log "need Go (or apt-get) for promtool"; return 1; }
  mkdir -p "$dir"
  GOBIN="$dir" GOFLAGS=-trimpath go install \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_GO_VERSION" >&2
}
