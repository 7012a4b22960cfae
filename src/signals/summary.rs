//! From raw series to the compact summary a diagnosis carries (pure).
//!
//! [`summarize`] names the server from the metric names present, picks for
//! each signal the first row of the [`table`](super::table) with data,
//! turns counters into per-second rates between consecutive samples (a
//! reset counts from zero), adds up several series of one metric (engines,
//! GPUs) at each timestamp (a series' last sample stands for up to
//! [`LOOKBACK_S`], as in PromQL), and keeps every sample of the window, so
//! `last` and `max` are the recorded values themselves. [`Facts`] reads the
//! shapes a diagnosis cares about (KV saturation, queue, a throughput
//! collapse, an Xid) and [`Facts::sentence`] says them in one sentence.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::parse::RawSeries;
use super::table::{self, Agg, Kind, Server, Signal, Source};

/// How long a sample stands for its series when aligning several (PromQL's
/// default lookback).
pub const LOOKBACK_S: f64 = 300.0;
/// Most points kept per signal (10 minutes at one sample a second); longer
/// series are thinned evenly, the extremes kept.
pub const MAX_POINTS: usize = 600;
/// KV-cache usage at or above this counts as saturated.
pub const KV_SATURATED: f64 = 0.95;

/// One signal over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalSummary {
    /// The value at the end of the window.
    pub last: f64,
    /// The largest value.
    pub max: f64,
    /// The smallest value.
    pub min: f64,
    /// The mean of the samples.
    pub mean: f64,
    /// Where it came from, e.g. `vllm:kv_cache_usage_perc` or
    /// `rate(vllm:generation_tokens_total)`.
    pub metric: String,
    /// `[[unix_seconds, value], ...]`, oldest first.
    pub points: Vec<[f64; 2]>,
}

/// The serving signals of one pod before a crash (or during a stall): the
/// `metrics` object of the triage JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsSummary {
    /// Which engine exported them (`vllm-v1`, `vllm-v0`, `sglang`, `tgi`,
    /// `llama.cpp`, `triton`; `unknown` with GPU facts only).
    pub server: String,
    /// The window read, seconds.
    pub window_seconds: u64,
    /// KV-cache usage, 0..1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_cache_usage: Option<SignalSummary>,
    /// Requests waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_waiting: Option<SignalSummary>,
    /// Requests running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_running: Option<SignalSummary>,
    /// Generated tokens per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_throughput: Option<SignalSummary>,
    /// GPU memory in use, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_used: Option<SignalSummary>,
    /// The last Xid DCGM reported (kept for the diagnosis, not serialised).
    #[serde(skip)]
    pub gpu_xid: Option<SignalSummary>,
    /// End of the window, unix seconds (not serialised: the points say it).
    #[serde(skip)]
    pub end: f64,
}

impl MetricsSummary {
    /// The summary of `signal`, if its series existed.
    pub fn get(&self, signal: Signal) -> Option<&SignalSummary> {
        match signal {
            Signal::KvCacheUsage => self.kv_cache_usage.as_ref(),
            Signal::RequestsWaiting => self.requests_waiting.as_ref(),
            Signal::RequestsRunning => self.requests_running.as_ref(),
            Signal::GenerationThroughput => self.generation_throughput.as_ref(),
            Signal::GpuMemoryUsed => self.gpu_memory_used.as_ref(),
            Signal::GpuXid => self.gpu_xid.as_ref(),
        }
    }

    fn slot(&mut self, signal: Signal) -> &mut Option<SignalSummary> {
        match signal {
            Signal::KvCacheUsage => &mut self.kv_cache_usage,
            Signal::RequestsWaiting => &mut self.requests_waiting,
            Signal::RequestsRunning => &mut self.requests_running,
            Signal::GenerationThroughput => &mut self.generation_throughput,
            Signal::GpuMemoryUsed => &mut self.gpu_memory_used,
            Signal::GpuXid => &mut self.gpu_xid,
        }
    }

    /// `(signal id, statistic) → value` for playbook references
    /// (`metric.requests_running.max`).
    pub fn stat(&self, signal: Signal, stat: &str) -> Option<f64> {
        let s = self.get(signal)?;
        match stat {
            "last" => Some(s.last),
            "max" => Some(s.max),
            "min" => Some(s.min),
            "mean" => Some(s.mean),
            _ => None,
        }
    }

    /// The shapes a diagnosis reads.
    pub fn facts(&self) -> Facts {
        Facts::of(self)
    }
}

/// Builds the summary of the series in `[start, end]`; `None` when none of
/// them is a known signal.
pub fn summarize(raw: &[RawSeries], start: f64, end: f64) -> Option<MetricsSummary> {
    let mut by_name: BTreeMap<&str, Vec<RawSeries>> = BTreeMap::new();
    for s in raw {
        let Some(name) = s.name() else { continue };
        let points: Vec<(f64, f64)> = s.points.iter().copied().filter(|(t, _)| *t >= start && *t <= end).collect();
        if points.is_empty() {
            continue;
        }
        by_name.entry(name).or_default().push(RawSeries { labels: s.labels.clone(), points });
    }
    let server = pick_server(&by_name);
    let mut out = MetricsSummary {
        server: server.map_or("unknown", Server::id).to_owned(),
        window_seconds: (end - start).round().max(0.0) as u64,
        kv_cache_usage: None,
        requests_waiting: None,
        requests_running: None,
        generation_throughput: None,
        gpu_memory_used: None,
        gpu_xid: None,
        end,
    };
    let mut any = false;
    for signal in Signal::CONTRACT.into_iter().chain([Signal::GpuXid]) {
        let rows = table::TABLE
            .iter()
            .filter(|r| r.signal == signal && (Some(r.server) == server || r.server == Server::Dcgm));
        // The engine's own rows first, then DCGM's.
        let (own, dcgm): (Vec<&Source>, Vec<&Source>) = rows.partition(|r| r.server != Server::Dcgm);
        for row in own.into_iter().chain(dcgm) {
            if let Some(s) = signal_of(row, &by_name) {
                *out.slot(signal) = Some(s);
                any = true;
                break;
            }
        }
    }
    any.then_some(out)
}

fn pick_server(by_name: &BTreeMap<&str, Vec<RawSeries>>) -> Option<Server> {
    if by_name.keys().any(|n| table::is_vllm(n)) {
        let v1 = by_name.contains_key("vllm:kv_cache_usage_perc")
            || by_name
                .iter()
                .filter(|(n, _)| table::is_vllm(n))
                .any(|(_, ss)| ss.iter().any(|s| s.labels.contains_key("engine")));
        return Some(if v1 { Server::VllmV1 } else { Server::VllmV0 });
    }
    let mut best: Option<(usize, Server)> = None;
    for server in Server::ENGINES {
        let n = table::rows(server)
            .filter(|r| by_name.contains_key(r.metric))
            .map(|r| r.signal)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if n > 0 && best.is_none_or(|(b, _)| n > b) {
            best = Some((n, server));
        }
    }
    best.map(|(_, s)| s)
}

fn signal_of(row: &Source, by_name: &BTreeMap<&str, Vec<RawSeries>>) -> Option<SignalSummary> {
    let series = by_name.get(row.metric)?;
    let (points, metric) = match row.kind {
        Kind::Gauge => (aggregate(series.iter().map(|s| s.points.clone()).collect(), row.agg), row.metric.to_owned()),
        Kind::Counter => {
            (aggregate(series.iter().map(|s| rates(&s.points)).collect(), row.agg), format!("rate({})", row.metric))
        }
        Kind::Ratio(den) => {
            let num = aggregate(series.iter().map(|s| s.points.clone()).collect(), Agg::Sum);
            let den_series = by_name.get(den)?;
            let den_points = aggregate(den_series.iter().map(|s| s.points.clone()).collect(), Agg::Sum);
            (ratio(&num, &den_points), format!("{} / {den}", row.metric))
        }
    };
    let points: Vec<(f64, f64)> = points.into_iter().map(|(t, v)| (t, v * row.scale)).collect();
    stats(points, metric)
}

/// Per-second rates between consecutive samples of one counter; a drop is
/// a reset (the counter restarted from zero).
pub fn rates(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points
        .windows(2)
        .filter_map(|w| {
            let ((t0, c0), (t1, c1)) = (w[0], w[1]);
            let dt = t1 - t0;
            if dt <= 0.0 {
                return None;
            }
            let dc = if c1 < c0 { c1 } else { c1 - c0 };
            Some((t1, dc / dt))
        })
        .collect()
}

/// Combines several series at every timestamp any of them has: each
/// contributes its latest sample no older than [`LOOKBACK_S`].
pub fn aggregate(mut series: Vec<Vec<(f64, f64)>>, agg: Agg) -> Vec<(f64, f64)> {
    series.retain(|s| !s.is_empty());
    if series.len() <= 1 {
        return series.pop().unwrap_or_default();
    }
    for s in &mut series {
        s.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let mut times: Vec<f64> = series.iter().flatten().map(|(t, _)| *t).collect();
    times.sort_by(f64::total_cmp);
    times.dedup_by(|a, b| (*a - *b).abs() < 1e-3);
    let mut cursor = vec![0usize; series.len()];
    let mut out = Vec::with_capacity(times.len());
    for t in times {
        let mut acc: Option<f64> = None;
        for (s, c) in series.iter().zip(cursor.iter_mut()) {
            while *c + 1 < s.len() && s[*c + 1].0 <= t + 1e-3 {
                *c += 1;
            }
            let (ts, v) = s[*c];
            if ts <= t + 1e-3 && t - ts <= LOOKBACK_S {
                acc = Some(match (acc, agg) {
                    (None, _) => v,
                    (Some(a), Agg::Sum) => a + v,
                    (Some(a), Agg::Max) => a.max(v),
                });
            }
        }
        if let Some(v) = acc {
            out.push((t, v));
        }
    }
    out
}

fn ratio(num: &[(f64, f64)], den: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let both = aggregate(vec![num.to_vec()], Agg::Sum);
    both.into_iter()
        .filter_map(|(t, n)| {
            let d = den.iter().rev().find(|(td, _)| *td <= t + 1e-3 && t - *td <= LOOKBACK_S)?.1;
            (d > 0.0).then_some((t, n / d))
        })
        .collect()
}

fn round6(x: f64) -> f64 {
    if x.abs() >= 1e12 { x.round() } else { (x * 1e6).round() / 1e6 }
}

fn stats(mut points: Vec<(f64, f64)>, metric: String) -> Option<SignalSummary> {
    points.retain(|(t, v)| t.is_finite() && v.is_finite());
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    let last = points.last()?.1;
    let (mut max, mut min, mut sum) = (f64::MIN, f64::MAX, 0.0);
    for (_, v) in &points {
        max = max.max(*v);
        min = min.min(*v);
        sum += v;
    }
    let mean = sum / points.len() as f64;
    let points = thin(points, MAX_POINTS);
    Some(SignalSummary {
        last: round6(last),
        max: round6(max),
        min: round6(min),
        mean: round6(mean),
        metric,
        points: points.into_iter().map(|(t, v)| [t, round6(v)]).collect(),
    })
}

/// At most `n` points, evenly spaced by index, keeping the first, the last
/// and the largest.
fn thin(points: Vec<(f64, f64)>, n: usize) -> Vec<(f64, f64)> {
    if points.len() <= n || n < 3 {
        return points;
    }
    let peak = points.iter().enumerate().max_by(|a, b| a.1.1.total_cmp(&b.1.1)).map_or(0, |(i, _)| i);
    let step = (points.len() - 1) as f64 / (n - 2) as f64;
    let mut keep: Vec<usize> = (0..n - 1).map(|k| ((k as f64) * step).round() as usize).collect();
    keep.push(peak);
    keep.push(points.len() - 1);
    keep.sort_unstable();
    keep.dedup();
    keep.into_iter().map(|i| points[i]).collect()
}

/// A throughput that fell and stayed down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Collapse {
    /// Tokens/s before (the best level before the fall).
    pub from: f64,
    /// Tokens/s at the end.
    pub to: f64,
    /// When it fell (unix seconds).
    pub at: f64,
    /// Seconds from the fall to the end of the window.
    pub before_end: f64,
}

/// What the series show, in the terms a diagnosis uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    /// The engine's name for people, e.g. `vLLM (V1 engine)`.
    pub server: String,
    /// Window length, seconds.
    pub window_seconds: u64,
    /// Whether it ran or generated anything in the window.
    pub served: bool,
    /// The longest stretch at or above [`KV_SATURATED`], seconds.
    pub kv_saturated_seconds: Option<f64>,
    /// Peak KV usage.
    pub kv_max: Option<f64>,
    /// Peak queue.
    pub waiting_max: Option<f64>,
    /// Queue at the end.
    pub waiting_last: Option<f64>,
    /// Peak running requests.
    pub running_max: Option<f64>,
    /// Peak throughput.
    pub throughput_max: Option<f64>,
    /// A throughput that fell to under a tenth and stayed there.
    pub collapse: Option<Collapse>,
    /// Peak GPU memory, bytes.
    pub gpu_memory_max: Option<f64>,
    /// The Xid DCGM reported and when it first did.
    pub xid: Option<(u32, f64)>,
}

fn server_name(id: &str) -> &'static str {
    match id {
        "vllm-v1" => "vLLM (V1 engine)",
        "vllm-v0" => "vLLM (V0 engine)",
        "sglang" => "SGLang",
        "tgi" => "TGI",
        "llama.cpp" => "llama.cpp",
        "triton" => "Triton",
        _ => "the GPU exporter",
    }
}

impl Facts {
    fn of(m: &MetricsSummary) -> Facts {
        let running_max = m.requests_running.as_ref().map(|s| s.max);
        let throughput_max = m.generation_throughput.as_ref().map(|s| s.max);
        Facts {
            server: server_name(&m.server).to_owned(),
            window_seconds: m.window_seconds,
            served: running_max.unwrap_or(0.0) >= 1.0 || throughput_max.unwrap_or(0.0) > 0.0,
            kv_saturated_seconds: m.kv_cache_usage.as_ref().and_then(|s| longest_run(&s.points, |v| v >= KV_SATURATED)),
            kv_max: m.kv_cache_usage.as_ref().map(|s| s.max),
            waiting_max: m.requests_waiting.as_ref().map(|s| s.max),
            waiting_last: m.requests_waiting.as_ref().map(|s| s.last),
            running_max,
            throughput_max,
            collapse: m.generation_throughput.as_ref().and_then(|s| collapse(&s.points)),
            gpu_memory_max: m.gpu_memory_used.as_ref().map(|s| s.max),
            xid: m.gpu_xid.as_ref().and_then(|s| {
                s.points.iter().find(|p| p[1] >= 1.0).map(|p| (s.max.round().clamp(0.0, u32::MAX as f64) as u32, p[0]))
            }),
        }
    }

    /// Whether the KV cache was saturated for at least a minute while
    /// requests ran: a squeeze under load.
    pub fn kv_saturated_under_load(&self) -> bool {
        self.served && self.kv_saturated_seconds.unwrap_or(0.0) >= 60.0
    }

    /// One sentence: what the engine was doing in the window.
    pub fn sentence(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(kv) = self.kv_max {
            match self.kv_saturated_seconds {
                Some(s) if s > 0.0 => {
                    parts.push(format!("KV cache at {} or more for {}", pct(KV_SATURATED), duration(s)))
                }
                _ => parts.push(format!("KV cache at most {}", pct(kv))),
            }
        }
        match (self.waiting_max, self.running_max) {
            (Some(w), Some(r)) => parts.push(format!("up to {} requests waiting and {} running", count(w), count(r))),
            (Some(w), None) => parts.push(format!("up to {} requests waiting", count(w))),
            (None, Some(r)) => parts.push(format!("up to {} requests running", count(r))),
            (None, None) => {}
        }
        match (self.collapse, self.throughput_max) {
            (Some(c), _) => parts.push(format!(
                "generation fell from {} to {} tokens/s at {}, {} before the end",
                count(c.from),
                count(c.to),
                clock(c.at),
                duration(c.before_end)
            )),
            (None, Some(t)) if t > 0.0 => parts.push(format!("generation peaked at {} tokens/s", count(t))),
            (None, Some(_)) => parts.push("no tokens generated".to_owned()),
            (None, None) => {}
        }
        if let Some(b) = self.gpu_memory_max {
            parts.push(format!("GPU memory up to {}", gib(b)));
        }
        if let Some((xid, at)) = self.xid {
            parts.push(format!("DCGM reported Xid {xid} at {}", clock(at)));
        }
        if parts.is_empty() {
            return format!(
                "{} exported no serving signal in the {} read",
                self.server,
                duration(self.window_seconds as f64)
            );
        }
        format!("{} metrics, last {}: {}", self.server, duration(self.window_seconds as f64), parts.join(", "))
    }
}

/// The longest stretch of consecutive points satisfying `f`, in seconds
/// (one point alone counts as zero seconds).
fn longest_run(points: &[[f64; 2]], f: impl Fn(f64) -> bool) -> Option<f64> {
    let mut best: Option<f64> = None;
    let mut start: Option<f64> = None;
    for p in points {
        if f(p[1]) {
            let s = *start.get_or_insert(p[0]);
            let len = p[0] - s;
            best = Some(best.map_or(len, |b: f64| b.max(len)));
        } else {
            start = None;
        }
    }
    best
}

/// A throughput that reached a level of at least 1 token/s, then fell to
/// under a tenth of it and stayed there for at least two samples up to the
/// end.
fn collapse(points: &[[f64; 2]]) -> Option<Collapse> {
    if points.len() < 4 {
        return None;
    }
    let end = points.last()?[0];
    // The tail that stays low, relative to the best level before it.
    let mut i = points.len();
    let best_before = |k: usize| points[..k].iter().map(|p| p[1]).fold(0.0, f64::max);
    while i > 1 {
        let level = best_before(i - 1);
        if level >= 1.0 && points[i - 1][1] < 0.1 * level {
            i -= 1;
        } else {
            break;
        }
    }
    let tail = points.len() - i;
    if tail < 2 || i == 0 {
        return None;
    }
    let from = best_before(i);
    if from < 1.0 {
        return None;
    }
    let at = points[i][0];
    Some(Collapse { from, to: points.last()?[1], at, before_end: end - at })
}

/// `3m10s`, `45s`, `1h5m`.
pub fn duration(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, sec) => format!("{m}m{sec}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn count(x: f64) -> String {
    if x.abs() >= 100.0 || x.fract().abs() < 1e-9 { format!("{x:.0}") } else { format!("{x:.1}") }
}

fn gib(b: f64) -> String {
    format!("{:.1} GiB", b / (1024.0 * 1024.0 * 1024.0))
}

fn clock(t: f64) -> String {
    chrono::DateTime::from_timestamp(t.floor() as i64, 0)
        .map_or_else(|| format!("{t:.0}"), |d| d.format("%H:%M:%S UTC").to_string())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn series(name: &str, labels: &[(&str, &str)], points: &[(f64, f64)]) -> RawSeries {
        let mut l: BTreeMap<String, String> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        l.insert("__name__".into(), name.into());
        RawSeries { labels: l, points: points.to_vec() }
    }

    fn ramp(t0: f64, n: usize, f: impl Fn(usize) -> f64) -> Vec<(f64, f64)> {
        (0..n).map(|i| (t0 + 15.0 * i as f64, f(i))).collect()
    }

    #[test]
    fn vllm_v1_summary_keeps_recorded_values_and_rates_counters() {
        let t0 = 1_700_000_000.0;
        let raw = vec![
            series("vllm:kv_cache_usage_perc", &[("engine", "0")], &ramp(t0, 41, |i| (i as f64 / 30.0).min(1.0))),
            series("vllm:gpu_cache_usage_perc", &[("engine", "0")], &ramp(t0, 41, |_| 0.5)),
            series("vllm:num_requests_waiting", &[], &ramp(t0, 41, |i| (i * 6) as f64)),
            series("vllm:num_requests_running", &[], &ramp(t0, 41, |_| 48.0)),
            series("vllm:generation_tokens_total", &[], &ramp(t0, 41, |i| 1500.0 * 15.0 * i as f64)),
            series("DCGM_FI_DEV_FB_USED", &[("gpu", "0")], &ramp(t0, 41, |_| 1024.0)),
            series("DCGM_FI_DEV_FB_USED", &[("gpu", "1")], &ramp(t0, 41, |_| 2048.0)),
            series("unrelated_metric", &[], &ramp(t0, 41, |_| 7.0)),
        ];
        let m = summarize(&raw, t0, t0 + 600.0).unwrap();
        assert_eq!(m.server, "vllm-v1");
        assert_eq!(m.window_seconds, 600);
        let kv = m.kv_cache_usage.as_ref().unwrap();
        assert_eq!((kv.last, kv.max, kv.metric.as_str()), (1.0, 1.0, "vllm:kv_cache_usage_perc"));
        assert_eq!(kv.points.len(), 41);
        let w = m.requests_waiting.as_ref().unwrap();
        assert_eq!((w.last, w.max, w.min), (240.0, 240.0, 0.0));
        let g = m.generation_throughput.as_ref().unwrap();
        assert_eq!((g.last, g.max, g.points.len()), (1500.0, 1500.0, 40));
        assert_eq!(g.metric, "rate(vllm:generation_tokens_total)");
        assert_eq!(m.gpu_memory_used.as_ref().unwrap().last, 3.0 * 1024.0 * 1024.0 * 1024.0);
        let json = serde_json::to_value(&m).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "server",
                "window_seconds",
                "kv_cache_usage",
                "requests_waiting",
                "requests_running",
                "generation_throughput",
                "gpu_memory_used"
            ]
        );
        assert_eq!(json["kv_cache_usage"]["points"][0], serde_json::json!([t0, 0.0]));
        let f = m.facts();
        assert!(f.kv_saturated_under_load(), "{f:?}");
        assert!(f.sentence().contains("up to 240 requests waiting and 48 running"), "{}", f.sentence());
    }

    #[test]
    fn server_is_named_from_what_it_exports() {
        let t0 = 100.0;
        let one = |n: &str| summarize(&[series(n, &[], &ramp(t0, 3, |_| 1.0))], t0, t0 + 60.0).map(|m| m.server);
        assert_eq!(one("vllm:gpu_cache_usage_perc").as_deref(), Some("vllm-v0"));
        assert_eq!(one("vllm:kv_cache_usage_perc").as_deref(), Some("vllm-v1"));
        assert_eq!(one("sglang:num_queue_reqs").as_deref(), Some("sglang"));
        assert_eq!(one("tgi_queue_size").as_deref(), Some("tgi"));
        assert_eq!(one("llamacpp:requests_deferred").as_deref(), Some("llama.cpp"));
        assert_eq!(one("nv_inference_pending_request_count").as_deref(), Some("triton"));
        assert_eq!(one("DCGM_FI_DEV_FB_USED").as_deref(), Some("unknown"));
        assert_eq!(one("node_load1"), None);
        let v1_by_label =
            summarize(&[series("vllm:num_requests_waiting", &[("engine", "0")], &ramp(t0, 3, |_| 1.0))], t0, t0 + 60.0);
        assert_eq!(v1_by_label.unwrap().server, "vllm-v1");
    }

    #[test]
    fn counter_resets_and_tgi_ratio() {
        assert_eq!(rates(&[(0.0, 10.0), (10.0, 30.0), (20.0, 5.0), (20.0, 9.0)]), vec![(10.0, 2.0), (20.0, 0.5)]);
        let t0 = 0.0;
        let raw = vec![
            series("tgi_batch_current_max_tokens", &[], &[(t0, 100.0), (t0 + 15.0, 800.0)]),
            series("tgi_batch_max_total_tokens", &[], &[(t0, 1000.0)]),
        ];
        let m = summarize(&raw, t0, t0 + 60.0).unwrap();
        assert_eq!(m.server, "tgi");
        assert_eq!(m.kv_cache_usage.unwrap().points, vec![[0.0, 0.1], [15.0, 0.8]]);
    }

    #[test]
    fn aggregation_aligns_series_with_lookback() {
        let a = vec![(0.0, 1.0), (10.0, 2.0)];
        let b = vec![(5.0, 10.0), (400.0, 20.0)];
        assert_eq!(
            aggregate(vec![a.clone(), b.clone()], Agg::Sum),
            vec![(0.0, 1.0), (5.0, 11.0), (10.0, 12.0), (400.0, 20.0)]
        );
        assert_eq!(aggregate(vec![a, b], Agg::Max)[1], (5.0, 10.0));
    }

    #[test]
    fn collapse_and_xid_facts() {
        let mut pts: Vec<[f64; 2]> = (0..30).map(|i| [i as f64 * 15.0, 1800.0]).collect();
        pts.extend((30..40).map(|i| [i as f64 * 15.0, 0.0]));
        let c = collapse(&pts).unwrap();
        assert_eq!((c.from, c.to, c.at, c.before_end), (1800.0, 0.0, 450.0, 135.0));
        // Idle all along: no collapse; one low sample at the end: not yet.
        assert_eq!(collapse(&(0..10).map(|i| [i as f64, 0.0]).collect::<Vec<_>>()), None);
        let mut blip: Vec<[f64; 2]> = (0..10).map(|i| [i as f64, 50.0]).collect();
        blip.push([10.0, 0.0]);
        assert_eq!(collapse(&blip), None);
        assert_eq!(duration(190.0), "3m10s");
        assert_eq!(duration(3600.0 * 2.0 + 65.0), "2h1m");
    }

    #[test]
    fn thinning_keeps_ends_and_peak() {
        let pts: Vec<(f64, f64)> = (0..5000).map(|i| (i as f64, if i == 1234 { 99.0 } else { 1.0 })).collect();
        let t = thin(pts, 600);
        assert!(t.len() <= 601);
        assert_eq!(t.first(), Some(&(0.0, 1.0)));
        assert_eq!(t.last(), Some(&(4999.0, 1.0)));
        assert!(t.contains(&(1234.0, 99.0)));
    }

    proptest! {
        #[test]
        fn summary_stats_are_those_of_the_samples(
            values in prop::collection::vec(0.0f64..1e6, 1..120),
            name in prop_oneof![Just("vllm:num_requests_waiting"), Just("sglang:num_queue_reqs"), Just("llamacpp:requests_deferred")],
        ) {
            let pts: Vec<(f64, f64)> = values.iter().enumerate().map(|(i, v)| (1000.0 + i as f64, *v)).collect();
            let m = summarize(&[series(name, &[], &pts)], 1000.0, 1000.0 + values.len() as f64).unwrap();
            let w = m.requests_waiting.unwrap();
            let max = values.iter().copied().fold(f64::MIN, f64::max);
            prop_assert!((w.max - max).abs() <= 1e-6 * max.max(1.0));
            prop_assert!((w.last - values[values.len() - 1]).abs() <= 1e-6 * w.last.abs().max(1.0));
            prop_assert_eq!(w.points.len(), values.len());
            prop_assert!(w.min <= w.mean + 1e-6 && w.mean <= w.max + 1e-6);
        }

        #[test]
        fn rates_of_a_monotone_counter_are_never_negative(
            steps in prop::collection::vec((0.1f64..60.0, 0.0f64..1e4, any::<bool>()), 0..80),
        ) {
            let (mut t, mut c) = (0.0, 0.0);
            let mut pts = Vec::new();
            for (dt, dc, reset) in steps {
                t += dt;
                c = if reset { dc } else { c + dc };
                pts.push((t, c));
            }
            for (_, r) in rates(&pts) {
                prop_assert!(r >= 0.0 && r.is_finite());
            }
        }
    }
}
