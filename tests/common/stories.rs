//! Recorded crash stories: serving metrics of engines that cannot run here
//! (vLLM V0 and V1, SGLang, TGI, DCGM), written as OpenMetrics for
//! `promtool tsdb create-blocks-from openmetrics` (`tests/cluster/backfill`)
//! so that they sit in a real Prometheus TSDB and are read through its API.
//!
//! # How they were generated
//!
//! Each story is a deterministic function of time (no randomness beyond a
//! fixed-seed jitter, so reruns write the same values relative to their
//! end): piecewise ramps and plateaus sampled every 15 s (a common scrape
//! interval) for 12 minutes up to `end`, the moment the container stopped.
//! The metric names, label names (`model_name`, `engine`; DCGM's `gpu`,
//! `UUID`, `Hostname`) and units are those the engines export (see
//! `src/signals/table.rs` for the sources); the shapes follow incidents as
//! operators describe them:
//!
//! | story | engine | shape | modelled on |
//! |---|---|---|---|
//! | `vllm-v1-kv-saturation` | vLLM 0.10, V1 engine | load climbs, KV cache at 100% for the last 3m10s, queue to 240, 48 running, throughput sagging under preemption, then the crash | the guide's "KV cache at 100% for three minutes, queue at 240, then the OOM" |
//! | `vllm-v0-xid-collapse` | vLLM 0.6, V0 engine + DCGM | steady ~900 tokens/s, then generation falls to 0 two minutes before the crash while the queue grows; DCGM reports Xid 79 at the fall | a GPU falling off the bus mid-serving: the process hangs in NCCL, then dies |
//! | `sglang-kv-under-load` | SGLang 0.5 | token pool fills to 99%, 60 queued, 32 running, then the crash | KV pool exhaustion under a burst of long prompts |
//! | `tgi-queue-kv` | TGI 3.3 | the batch's reserved tokens reach 98% of `max_batch_total_tokens`, queue to 85, then the crash | TGI under a traffic spike |
//! | `sglang-stalled` | SGLang 0.5 | serving, then `gen_throughput` 0 for 8 minutes while 17 requests wait and 8 stay running; the pod stays Ready | scheduler hangs reported against SGLang |
//! | `vllm-v1-stalled` | vLLM 0.10, V1 engine | generation counter flat for 7 minutes, 12 waiting, 0 running; Ready | V1 engine core wedged while the API server answers |
//! | `sglang-idle` | SGLang 0.5 | nothing waiting, nothing running, no tokens, for 12 minutes | an idle replica at night: never a stall |
//! | `vllm-v1-idle` | vLLM 0.10, V1 engine | idle, counters flat | the same for vLLM |
//!
//! Used by `tests/signals.rs`, the controller tests and `scripts/demo`
//! (through `cargo run --example metric_stories`).

#![allow(dead_code)]

use std::fmt::Write as _;

/// Sampling interval, seconds.
pub const STEP: f64 = 15.0;
/// How long before `end` a story starts, seconds.
pub const SPAN: f64 = 720.0;

/// The labels a ServiceMonitor gives a pod's series.
#[derive(Debug, Clone)]
pub struct PodLabels {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

/// Names of every story.
pub const STORIES: &[&str] = &[
    "vllm-v1-kv-saturation",
    "vllm-v0-xid-collapse",
    "sglang-kv-under-load",
    "tgi-queue-kv",
    "sglang-stalled",
    "vllm-v1-stalled",
    "sglang-idle",
    "vllm-v1-idle",
];

/// A metric family being written.
struct Family {
    name: &'static str,
    kind: &'static str,
    /// Extra labels beyond the pod's.
    extra: Vec<(&'static str, String)>,
    /// Value at `t` seconds before the end (0 = the end).
    value: Box<dyn Fn(f64) -> f64>,
}

fn gauge(name: &'static str, extra: Vec<(&'static str, String)>, f: impl Fn(f64) -> f64 + 'static) -> Family {
    Family { name, kind: "gauge", extra, value: Box::new(f) }
}

fn counter(name: &'static str, extra: Vec<(&'static str, String)>, f: impl Fn(f64) -> f64 + 'static) -> Family {
    Family { name, kind: "counter", extra, value: Box::new(f) }
}

/// Deterministic jitter in [-1, 1] for sample `i` of stream `k`.
fn jitter(k: u64, i: u64) -> f64 {
    let mut z = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ 20_260_101;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

/// Linear interpolation through `(seconds before end, value)` knots
/// (ordered from the oldest, i.e. largest `t`).
fn knots(points: &'static [(f64, f64)]) -> impl Fn(f64) -> f64 {
    move |t: f64| {
        let mut prev = points[0];
        if t >= prev.0 {
            return prev.1;
        }
        for &p in &points[1..] {
            if t >= p.0 {
                let f = (prev.0 - t) / (prev.0 - p.0);
                return prev.1 + f * (p.1 - prev.1);
            }
            prev = p;
        }
        prev.1
    }
}

/// Integral of a rate function sampled at `STEP`, as a counter.
fn integral(rate: impl Fn(f64) -> f64 + 'static, start: f64) -> impl Fn(f64) -> f64 {
    move |t: f64| {
        let mut total = start;
        let mut s = SPAN;
        while s > t + 1e-9 {
            total += rate(s) * STEP;
            s -= STEP;
        }
        total.round()
    }
}

fn vllm_labels(v1: bool) -> Vec<(&'static str, String)> {
    let mut l = vec![("model_name", "meta-llama/Llama-3.1-8B-Instruct".to_owned())];
    if v1 {
        l.push(("engine", "0".to_owned()));
    }
    l
}

fn dcgm_labels(gpu: u32) -> Vec<(&'static str, String)> {
    vec![
        ("gpu", gpu.to_string()),
        ("UUID", format!("GPU-8f1c2b6e-0000-4000-8000-00000000000{gpu}")),
        ("device", format!("nvidia{gpu}")),
        ("modelName", "NVIDIA H100 80GB HBM3".to_owned()),
        ("Hostname", "gpu-h100-570".to_owned()),
    ]
}

fn families(story: &str) -> Option<Vec<Family>> {
    let sg = || vec![("model_name", "Qwen/Qwen2.5-7B-Instruct".to_owned()), ("tp_rank", "0".to_owned())];
    Some(match story {
        "vllm-v1-kv-saturation" => {
            let kv = knots(&[(720.0, 0.12), (600.0, 0.35), (400.0, 0.8), (190.0, 1.0), (0.0, 1.0)]);
            let waiting = knots(&[(720.0, 0.0), (420.0, 0.0), (300.0, 40.0), (190.0, 120.0), (0.0, 240.0)]);
            let running = knots(&[(720.0, 6.0), (600.0, 20.0), (420.0, 48.0), (0.0, 48.0)]);
            let rate = knots(&[(720.0, 300.0), (420.0, 1800.0), (190.0, 1700.0), (0.0, 1100.0)]);
            vec![
                gauge("vllm:kv_cache_usage_perc", vllm_labels(true), kv),
                gauge(
                    "vllm:gpu_cache_usage_perc",
                    vllm_labels(true),
                    knots(&[(720.0, 0.12), (600.0, 0.35), (400.0, 0.8), (190.0, 1.0), (0.0, 1.0)]),
                ),
                gauge("vllm:num_requests_waiting", vllm_labels(true), move |t| waiting(t).round()),
                gauge("vllm:num_requests_running", vllm_labels(true), move |t| running(t).round()),
                counter(
                    "vllm:generation_tokens",
                    vllm_labels(true),
                    integral(move |t| rate(t) + 20.0 * jitter(1, t as u64), 5_000_000.0),
                ),
                gauge("DCGM_FI_DEV_FB_USED", dcgm_labels(0), |t| (72_000.0 + 5_000.0 * (1.0 - t / SPAN)).round()),
            ]
        }
        "vllm-v0-xid-collapse" => {
            let rate = |t: f64| if t > 120.0 { 900.0 + 30.0 * jitter(2, t as u64) } else { 0.0 };
            vec![
                gauge("vllm:gpu_cache_usage_perc", vllm_labels(false), |t| if t > 120.0 { 0.42 } else { 0.44 }),
                gauge("vllm:num_requests_waiting", vllm_labels(false), |t| {
                    if t > 120.0 { 0.0 } else { ((120.0 - t) / 4.0).round() }
                }),
                gauge("vllm:num_requests_running", vllm_labels(false), |_| 16.0),
                counter("vllm:generation_tokens", vllm_labels(false), integral(rate, 1_000_000.0)),
                gauge("DCGM_FI_DEV_FB_USED", dcgm_labels(3), |_| 61_440.0),
                gauge("DCGM_FI_DEV_XID_ERRORS", dcgm_labels(3), |t| if t > 120.0 { 0.0 } else { 79.0 }),
            ]
        }
        "sglang-kv-under-load" => {
            let usage = knots(&[(720.0, 0.3), (400.0, 0.7), (200.0, 0.99), (0.0, 0.99)]);
            let queue = knots(&[(720.0, 0.0), (400.0, 5.0), (200.0, 30.0), (0.0, 60.0)]);
            let running = knots(&[(720.0, 8.0), (400.0, 32.0), (0.0, 32.0)]);
            let gen_ = knots(&[(720.0, 600.0), (400.0, 2400.0), (200.0, 2100.0), (0.0, 1500.0)]);
            vec![
                gauge("sglang:token_usage", sg(), usage),
                gauge("sglang:num_queue_reqs", sg(), move |t| queue(t).round()),
                gauge("sglang:num_running_reqs", sg(), move |t| running(t).round()),
                gauge("sglang:gen_throughput", sg(), move |t| (gen_(t) + 25.0 * jitter(3, t as u64)).max(0.0)),
            ]
        }
        "tgi-queue-kv" => {
            let reserved = knots(&[(720.0, 20_000.0), (300.0, 150_000.0), (120.0, 160_000.0), (0.0, 161_000.0)]);
            let queue = knots(&[(720.0, 0.0), (300.0, 10.0), (0.0, 85.0)]);
            let running = knots(&[(720.0, 4.0), (300.0, 24.0), (0.0, 24.0)]);
            let rate = knots(&[(720.0, 200.0), (300.0, 1300.0), (0.0, 900.0)]);
            vec![
                gauge("tgi_queue_size", vec![], move |t| queue(t).round()),
                gauge("tgi_batch_current_size", vec![], move |t| running(t).round()),
                gauge("tgi_batch_current_max_tokens", vec![], move |t| reserved(t).round()),
                gauge("tgi_batch_max_total_tokens", vec![], |_| 164_000.0),
                counter("tgi_request_generated_tokens_sum", vec![], integral(rate, 0.0)),
            ]
        }
        "sglang-stalled" => vec![
            gauge("sglang:token_usage", sg(), |t| if t > 480.0 { 0.55 } else { 0.61 }),
            gauge("sglang:num_queue_reqs", sg(), |t| if t > 480.0 { 3.0 } else { 17.0 }),
            gauge("sglang:num_running_reqs", sg(), |_| 8.0),
            gauge("sglang:gen_throughput", sg(), |t| if t > 480.0 { 850.0 + 20.0 * jitter(4, t as u64) } else { 0.0 }),
        ],
        "vllm-v1-stalled" => {
            let rate = |t: f64| if t > 420.0 { 700.0 } else { 0.0 };
            vec![
                gauge("vllm:kv_cache_usage_perc", vllm_labels(true), |t| if t > 420.0 { 0.3 } else { 0.0 }),
                gauge("vllm:num_requests_waiting", vllm_labels(true), |t| if t > 420.0 { 0.0 } else { 12.0 }),
                gauge("vllm:num_requests_running", vllm_labels(true), |t| if t > 420.0 { 6.0 } else { 0.0 }),
                counter("vllm:generation_tokens", vllm_labels(true), integral(rate, 42_000.0)),
            ]
        }
        "sglang-idle" => vec![
            gauge("sglang:token_usage", sg(), |_| 0.0),
            gauge("sglang:num_queue_reqs", sg(), |_| 0.0),
            gauge("sglang:num_running_reqs", sg(), |_| 0.0),
            gauge("sglang:gen_throughput", sg(), |_| 0.0),
        ],
        "vllm-v1-idle" => vec![
            gauge("vllm:kv_cache_usage_perc", vllm_labels(true), |_| 0.0),
            gauge("vllm:num_requests_waiting", vllm_labels(true), |_| 0.0),
            gauge("vllm:num_requests_running", vllm_labels(true), |_| 0.0),
            counter("vllm:generation_tokens", vllm_labels(true), |_| 42_000.0),
        ],
        _ => return None,
    })
}

/// The sample times of a story ending at `end`: every [`STEP`] over [`SPAN`].
pub fn times(end: f64) -> Vec<f64> {
    let n = (SPAN / STEP) as usize;
    (0..=n).map(|i| end - SPAN + STEP * i as f64).collect()
}

/// One story as OpenMetrics text (ends with `# EOF`), or `None` for an
/// unknown name. `end` is whole unix seconds.
pub fn openmetrics(story: &str, pod: &PodLabels, end: f64) -> Option<String> {
    let fams = families(story)?;
    let mut out = String::new();
    for f in &fams {
        let base = f.name.strip_suffix("_total").unwrap_or(f.name);
        let (family, sample) = if f.kind == "counter" && !f.name.ends_with("_sum") {
            (base.to_owned(), format!("{base}_total"))
        } else if f.kind == "counter" {
            // A histogram's _sum, written as its own counter family.
            (f.name.to_owned(), f.name.to_owned())
        } else {
            (f.name.to_owned(), f.name.to_owned())
        };
        let kind = if f.name.ends_with("_sum") { "unknown" } else { f.kind };
        let _ = writeln!(out, "# TYPE {family} {kind}");
        let mut labels = format!("namespace=\"{}\",pod=\"{}\",container=\"{}\"", pod.namespace, pod.pod, pod.container);
        for (k, v) in &f.extra {
            let _ = write!(labels, ",{k}=\"{v}\"");
        }
        for t in times(end) {
            let v = (f.value)(end - t);
            let _ = writeln!(out, "{sample}{{{labels}}} {v} {t:.0}");
        }
    }
    out.push_str("# EOF\n");
    Some(out)
}

/// The value a story's series holds at `end - before` (for assertions).
pub fn value_at(story: &str, metric: &str, before: f64) -> Option<f64> {
    families(story)?
        .into_iter()
        .find(|f| f.name == metric || format!("{}_total", f.name) == metric)
        .map(|f| (f.value)(before))
}
