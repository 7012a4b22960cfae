# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are used by the scripts that source this
# Common settings for tests/cluster/{build,up,down,env}. Sourced, not run.
#
# Everything is overridable from the environment:
#   PODMEDIC_CACHE   build cache root        (default ~/.cache/podmedic)
#   PODMEDIC_RUN     runtime state: pki, etcd data, logs, pids, kubeconfig
#                    (default /tmp/podmedic-cluster)
#   PODMEDIC_ETCD_PORT, PODMEDIC_APISERVER_PORT, PODMEDIC_KWOK_PORT

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
. "$CLUSTER_DIR/versions.env"

if [ -d /usr/local/go/bin ] && ! command -v go >/dev/null 2>&1; then
  PATH="$PATH:/usr/local/go/bin"
fi
if [ -d "$HOME/.cargo/bin" ] && ! command -v cargo >/dev/null 2>&1; then
  PATH="$PATH:$HOME/.cargo/bin"
fi
export PATH

CACHE_ROOT="${PODMEDIC_CACHE:-$HOME/.cache/podmedic}"
CACHE="$CACHE_ROOT/k8s-$K8S_VERSION"
BIN="$CACHE/bin"
RUN="${PODMEDIC_RUN:-/tmp/podmedic-cluster}"

ETCD_PORT="${PODMEDIC_ETCD_PORT:-23790}"
APISERVER_PORT="${PODMEDIC_APISERVER_PORT:-16443}"
KWOK_PORT="${PODMEDIC_KWOK_PORT:-10247}"

KUBECONFIG_FILE="$RUN/kubeconfig"

# Test services (tests/cluster/services): Prometheus on loopback, scraping a
# llama.cpp server that serves SmolLM2-135M with its metrics on.
PROMETHEUS_BIN="$CACHE_ROOT/prometheus-$PROMETHEUS_VERSION/bin"
LLAMA_VENV="${PODMEDIC_LLAMA_VENV:-$CACHE_ROOT/llama-venv}"
MODELS_DIR="$CACHE_ROOT/models"
LLM_MODEL_FILE="$MODELS_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
PROMETHEUS_PORT="${PODMEDIC_PROMETHEUS_PORT:-19090}"
LLM_PORT="${PODMEDIC_LLM_PORT:-18080}"
PROMETHEUS_DATA="$RUN/prometheus/data"
# The kwok pod whose labels (namespace, pod, container) Prometheus gives
# the llama.cpp series, as a ServiceMonitor would for a real pod.
LLM_NAMESPACE=podmedic-llm
LLM_POD=smollm-0
LLM_CONTAINER=llama-server
# Services in start order; `services down` stops them in reverse.
SERVICES=(llama-server prometheus)

# Components in start order; `down` stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { printf '[cluster] ERROR: %s\n' "$*" >&2; exit 1; }

# pid_alive NAME: true if $RUN/pids/NAME.pid names a live process.
pid_alive() {
  local f="$RUN/pids/$1.pid" pid
  [ -f "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# show_log NAME: the tail of a component's log, for failure reports.
show_log() {
  local f="$RUN/logs/$1.log"
  if [ -f "$f" ]; then
    printf '[cluster] ---- last lines of %s ----\n' "$f" >&2
    tail -n "${2:-40}" "$f" >&2
    printf '[cluster] ---- end of %s ----\n' "$f" >&2
  fi
}

# kc ARGS...: kubectl against the plane, with the plane's kubeconfig.
kc() {
  local kubectl=kubectl
  [ -x "$BIN/kubectl" ] && kubectl="$BIN/kubectl"
  "$kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"
}
