//! Serving metrics as evidence: how the model was breathing before it
//! crashed, and whether an engine that never crashes has stopped.
//!
//! | module | owns |
//! |---|---|
//! | [`table`] | the signals and, per server and version, the series that give them (with citations) |
//! | [`parse`] | Prometheus query answers (or a file holding one) → raw series (pure) |
//! | [`summary`] | raw series → the `metrics` summary, its facts and its sentence (pure) |
//! | [`stall`] | the wedged-engine detector (pure) |
//! | [`client`] | the bounded HTTP client (time limit, size limit, back-off) |
//!
//! This module is the thin shell around them: [`read_window`] asks
//! Prometheus for every raw sample of one pod's known series in a window
//! (one instant query of a range selector, so `last` and `max` are the
//! samples themselves, whatever the scrape interval) and never fails: a
//! down, slow or refusing Prometheus gives [`Reading::Unavailable`] with the
//! reason, which the diagnosis states.
//!
//! Series are matched by the labels a ServiceMonitor / PodMonitor (or
//! kubernetes_sd relabelling, or dcgm-exporter's pod mapping) gives them:
//! `namespace`, `pod`, and `container` where present.

pub mod client;
pub mod parse;
pub mod stall;
pub mod summary;
pub mod table;

pub use client::{PromError, Prometheus, Settings};
pub use summary::{Facts, MetricsSummary, SignalSummary};
pub use table::{Server, Signal};

/// Whose series to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod.
    pub pod: String,
    /// The container, when known; series without a `container` label match too.
    pub container: Option<String>,
}

impl Target {
    /// The series selector: the pod's labels and every metric name the
    /// table knows.
    pub fn selector(&self) -> String {
        let mut m = format!("namespace=\"{}\",pod=\"{}\"", escape(&self.namespace), escape(&self.pod));
        if let Some(c) = &self.container {
            m.push_str(&format!(",container=~\"{}|\"", escape(&regex::escape(c))));
        }
        format!("{{{m},__name__=~\"{}\"}}", table::metric_names().join("|"))
    }
}

impl Target {
    /// The target for `container` of `pod` (its namespace defaults to
    /// `default`, as kubectl's does).
    pub fn of_pod(pod: &k8s_openapi::api::core::v1::Pod, container: Option<&str>) -> Option<Target> {
        Some(Target {
            namespace: pod.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned()),
            pod: pod.metadata.name.clone()?,
            container: container.map(str::to_owned),
        })
    }
}

/// When `container`'s last run ended (unix seconds), from the pod's status:
/// the end of the window read before a crash.
pub fn crash_end(pod: &k8s_openapi::api::core::v1::Pod, container: &str) -> Option<f64> {
    let s = pod.status.as_ref()?.container_statuses.as_ref()?.iter().find(|s| s.name == container)?;
    let t = s
        .last_state
        .as_ref()
        .and_then(|l| l.terminated.as_ref())
        .or_else(|| s.state.as_ref().and_then(|st| st.terminated.as_ref()))?;
    Some(t.finished_at.as_ref()?.0.as_second() as f64)
}

/// Now, in unix seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A PromQL string literal's content.
pub fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// What became of the metrics for one diagnosis.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Reading {
    /// No Prometheus configured and no file given.
    #[default]
    NotRequested,
    /// Prometheus could not be asked, or refused; the reason.
    Unavailable(String),
    /// Prometheus answered, with no known series for the pod in the window.
    NoData {
        /// The window asked for, seconds.
        window_seconds: u64,
    },
    /// The summary.
    Read(Box<MetricsSummary>),
}

impl Reading {
    /// The summary, when metrics were read.
    pub fn summary(&self) -> Option<&MetricsSummary> {
        match self {
            Reading::Read(m) => Some(m.as_ref()),
            _ => None,
        }
    }

    /// Why there are no metrics, for people (none when read or not asked).
    pub fn note(&self) -> Option<String> {
        match self {
            Reading::NotRequested | Reading::Read(_) => None,
            Reading::Unavailable(why) => {
                Some(format!("Serving metrics were unavailable ({why}); diagnosed without them."))
            }
            Reading::NoData { window_seconds } => Some(format!(
                "Prometheus had no serving metrics for this pod in the {} before it stopped.",
                summary::duration(*window_seconds as f64)
            )),
        }
    }

    /// A bounded code for metrics: `read`, `no_data`, `unavailable`, `off`.
    pub fn code(&self) -> &'static str {
        match self {
            Reading::NotRequested => "off",
            Reading::Unavailable(_) => "unavailable",
            Reading::NoData { .. } => "no_data",
            Reading::Read(_) => "read",
        }
    }
}

/// Reads `target`'s series over `window` seconds ending at the first of
/// `ends` (unix seconds) whose window holds any; later ends are tried only
/// when an earlier window is empty (a crash time from the pod, then now).
pub async fn read_window(prom: &Prometheus, target: &Target, ends: &[f64], window: u64) -> Reading {
    let query = format!("{}[{window}s]", target.selector());
    let mut tried: Vec<f64> = Vec::new();
    for &end in ends {
        if tried.iter().any(|t| (t - end).abs() < 1.0) {
            continue;
        }
        tried.push(end);
        match prom.query(&query, end).await {
            Ok(raw) => {
                if let Some(m) = summary::summarize(&raw, end - window as f64, end) {
                    return Reading::Read(Box::new(m));
                }
            }
            Err(e) => return Reading::Unavailable(e.to_string()),
        }
    }
    Reading::NoData { window_seconds: window }
}

/// The sentence a diagnosis of `class` adds about the metrics: what the
/// engine was doing, and where that decides something, what it means (a KV
/// cache that filled under load is not a context that never fit; a
/// throughput that collapsed before the crash points at the GPU). With no
/// metrics, why there are none; `None` when none were asked for.
pub fn explain(class: crate::class::FailureClass, reading: &Reading) -> Option<String> {
    use crate::class::FailureClass as C;
    let Reading::Read(m) = reading else { return reading.note() };
    let f = m.facts();
    let conclusion = match class {
        C::KvCacheOom | C::GpuOom if f.kv_saturated_under_load() => Some(format!(
            "the KV cache filled under load ({} requests at the peak), not a context that never fit",
            f.running_max.map_or_else(|| "several".to_owned(), |r| format!("{r:.0}"))
        )),
        C::KvCacheOom | C::GpuOom if !f.served => {
            Some("it served nothing before it stopped, so the configuration never fit, from start-up".to_owned())
        }
        C::GpuHardwareFault | C::NcclFailure | C::Unknown if f.collapse.is_some() => Some(format!(
            "generation collapsed {} before the end{}",
            summary::duration(f.collapse.map_or(0.0, |c| c.before_end)),
            if f.xid.is_some() { ", with a GPU fault on record" } else { ", before the process died" }
        )),
        _ => None,
    };
    Some(match conclusion {
        Some(c) => format!("{}: {c}.", f.sentence()),
        None => format!("{}.", f.sentence()),
    })
}

/// One instant query that lists the pods (`namespace`, `pod` labels) whose
/// queue or running batch stayed occupied for `window` seconds while their
/// generation stayed at zero: the candidates [`stall::detect`] then judges
/// on their full series. `namespaces` (empty: all) limits the search.
pub fn stall_candidates_query(window: u64, namespaces: &[String]) -> String {
    use table::{Kind, Signal as S};
    let scope = if namespaces.iter().any(|n| !n.is_empty()) {
        let ns: Vec<String> = namespaces.iter().filter(|n| !n.is_empty()).map(|n| escape(&regex::escape(n))).collect();
        format!("{{namespace=~\"{}\"}}", ns.join("|"))
    } else {
        String::new()
    };
    let by = "by (namespace, pod)";
    // (waiting, running) → the zero-generation conditions of every server
    // exporting them (vLLM V0 and V1 share their names).
    let mut groups: Vec<((&str, &str), Vec<String>)> = Vec::new();
    for server in Server::ENGINES {
        let first = |sig: S| table::rows(server).find(|r| r.signal == sig);
        let (Some(w), Some(r)) = (first(S::RequestsWaiting), first(S::RequestsRunning)) else { continue };
        // Zero generation by any of the throughput series: a prefilter
        // only; the detector judges the series the summary uses.
        let zeros = table::rows(server).filter(|g| g.signal == S::GenerationThroughput).map(|g| match g.kind {
            Kind::Counter => format!("max {by} (increase({}{scope}[{window}s])) == 0", g.metric),
            _ => format!("max {by} (max_over_time({}{scope}[{window}s])) == 0", g.metric),
        });
        let key = (w.metric, r.metric);
        let i = groups.iter().position(|(k, _)| *k == key).unwrap_or_else(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        for z in zeros {
            if !groups[i].1.contains(&z) {
                groups[i].1.push(z);
            }
        }
    }
    let parts: Vec<String> = groups
        .into_iter()
        .filter(|(_, zeros)| !zeros.is_empty())
        .map(|((w, r), zeros)| {
            format!(
                "((max {by} (min_over_time({w}{scope}[{window}s])) >= 1 or max {by} (min_over_time({r}{scope}[{window}s])) >= 1) and on (namespace, pod) ({}))",
                zeros.join(" or ")
            )
        })
        .collect();
    parts.join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_escapes_and_lists_every_known_metric() {
        let t = Target { namespace: "llm".into(), pod: "qwen-0".into(), container: Some("vllm".into()) };
        let s = t.selector();
        assert!(s.starts_with("{namespace=\"llm\",pod=\"qwen-0\",container=~\"vllm|\",__name__=~\""), "{s}");
        for n in table::metric_names() {
            assert!(s.contains(n), "{n}");
        }
        let odd = Target { namespace: "a\"b".into(), pod: "p\\".into(), container: Some("c.d".into()) };
        assert!(odd.selector().contains(r#"namespace="a\"b",pod="p\\",container=~"c\\.d|""#), "{}", odd.selector());
    }

    #[test]
    fn stall_query_covers_each_engine_once() {
        let q = stall_candidates_query(300, &["llm".into()]);
        assert_eq!(q.matches("vllm:num_requests_waiting").count(), 1, "{q}");
        for m in ["sglang:num_queue_reqs", "tgi_queue_size", "llamacpp:requests_deferred", "sglang:gen_throughput"] {
            assert!(q.contains(m), "{m}: {q}");
        }
        assert!(q.contains("increase(vllm:generation_tokens_total{namespace=~\"llm\"}[300s])) == 0"), "{q}");
        assert!(
            q.contains("max_over_time(vllm:avg_generation_throughput_toks_per_s{namespace=~\"llm\"}[300s])) == 0"),
            "{q}"
        );
        assert!(!stall_candidates_query(60, &[]).contains("namespace=~"));
    }

    #[test]
    fn notes_say_why_there_are_no_metrics() {
        assert_eq!(Reading::NotRequested.note(), None);
        let u = Reading::Unavailable("Prometheus could not be reached: connection refused".into());
        assert!(u.note().unwrap().starts_with("Serving metrics were unavailable (Prometheus could not be reached"));
        assert!(Reading::NoData { window_seconds: 600 }.note().unwrap().contains("in the 10m before"));
    }
}
