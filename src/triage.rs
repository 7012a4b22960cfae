//! Offline triage of one crash: files in, a [`Report`] out. The same
//! pipeline the controller runs, minus the cluster.

use std::fmt::Write as _;
use std::path::Path;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use serde::Serialize;

use crate::class::FailureClass;
use crate::diagnosis::{Diagnosis, Source};
use crate::evidence::{ContainerFacts, EventFacts, Evidence};
use crate::logtext::{self, LogTail};

/// Errors reading triage inputs.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A pod or events file is not a Kubernetes object of the expected kind.
    #[error("{path} is not {what}: {message}")]
    Shape {
        /// The file.
        path: String,
        /// What was expected.
        what: &'static str,
        /// The parser's complaint.
        message: String,
    },
}

/// Reads the last `tail` lines of a log file (`-` for stdin).
pub fn read_log(path: &str, tail: usize) -> Result<LogTail, InputError> {
    read_log_and_head(path, tail).map(|(t, _)| t)
}

/// Keeps the first `limit` bytes that pass through a reader.
struct HeadCapture<R> {
    inner: R,
    head: Vec<u8>,
    limit: usize,
}

impl<R: std::io::Read> std::io::Read for HeadCapture<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let room = self.limit.saturating_sub(self.head.len());
        self.head.extend_from_slice(&buf[..n.min(room)]);
        Ok(n)
    }
}

/// Reads the last `tail` lines of a log file (`-` for stdin) and its first
/// [`crate::engine::HEAD_BYTES`] bytes (where engines print their version
/// and settings), in one pass.
pub fn read_log_and_head(path: &str, tail: usize) -> Result<(LogTail, Vec<u8>), InputError> {
    let err = |source| InputError::Read { path: path.to_owned(), source };
    let limit = crate::engine::HEAD_BYTES;
    if path == "-" {
        let stdin = std::io::stdin();
        let mut r = HeadCapture { inner: stdin.lock(), head: Vec::new(), limit };
        let t = logtext::read_tail(std::io::BufReader::with_capacity(64 * 1024, &mut r), tail).map_err(err)?;
        Ok((t, r.head))
    } else {
        let f = std::fs::File::open(path).map_err(err)?;
        let mut r = HeadCapture { inner: f, head: Vec::new(), limit };
        let t = logtext::read_tail(std::io::BufReader::with_capacity(64 * 1024, &mut r), tail).map_err(err)?;
        Ok((t, r.head))
    }
}

fn read_object<T: serde::de::DeserializeOwned>(path: &Path, what: &'static str) -> Result<T, InputError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read { path: p.clone(), source })?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        serde_json::from_str(&text).map_err(|e| InputError::Shape { path: p, what, message: e.to_string() })
    } else {
        crate::yaml::from_str(&text).map_err(|e| InputError::Shape { path: p, what, message: e.to_string() })
    }
}

/// Reads a Pod (`kubectl get pod -o json` or YAML).
pub fn read_pod(path: &Path) -> Result<Pod, InputError> {
    let pod: Pod = read_object(path, "a Pod")?;
    if pod.spec.is_none() && pod.status.is_none() {
        return Err(InputError::Shape {
            path: path.display().to_string(),
            what: "a Pod",
            message: "it has neither spec nor status".into(),
        });
    }
    Ok(pod)
}

/// Reads a Node (`kubectl get node NAME -o json` or YAML): its labels (GPU
/// product and memory, driver) and allocatable resources.
pub fn read_node(path: &Path) -> Result<Node, InputError> {
    let node: Node = read_object(path, "a Node")?;
    if node.metadata.labels.is_none() && node.status.is_none() {
        return Err(InputError::Shape {
            path: path.display().to_string(),
            what: "a Node",
            message: "it has neither labels nor status".into(),
        });
    }
    Ok(node)
}

/// A node's labels and allocatable resources, as plans read them.
pub fn node_facts(
    node: &Node,
) -> (std::collections::BTreeMap<String, String>, std::collections::BTreeMap<String, String>) {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let allocatable = node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .map(|a| a.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
        .unwrap_or_default();
    (labels, allocatable)
}

/// Reads Events (`kubectl get events -o json`: a List, or a bare array).
pub fn read_events(path: &Path) -> Result<Vec<Event>, InputError> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Events {
        List { items: Vec<Event> },
        Array(Vec<Event>),
    }
    Ok(match read_object::<Events>(path, "a list of Events")? {
        Events::List { items } | Events::Array(items) => items,
    })
}

/// Builds the evidence bundle from what triage was given.
pub fn evidence(log: LogTail, pod: Option<&Pod>, events: &[Event]) -> Evidence {
    let pod_name = pod.and_then(|p| p.metadata.name.as_deref());
    let events = events
        .iter()
        .filter(|e| pod_name.is_none() || e.involved_object.name.as_deref() == pod_name)
        .map(EventFacts::from)
        .collect();
    Evidence { log, container: pod.and_then(|p| ContainerFacts::from_pod(p, None)), events, ..Default::default() }
}

/// What the log window looked like.
#[derive(Debug, Clone, Serialize)]
pub struct LogInfo {
    /// Lines examined (the tail).
    pub lines_examined: usize,
    /// Lines in the whole input.
    pub total_lines: usize,
    /// Lines cut because they were too long.
    pub cut_lines: usize,
}

/// The triage result: the diagnosis contract plus the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The diagnosis (its fields are top-level keys of the JSON).
    #[serde(flatten)]
    pub diagnosis: Diagnosis,
    /// The rendered playbook plan, or null.
    pub plan: Option<crate::playbook::Plan>,
    /// Facts about the crashed container, when a pod was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerFacts>,
    /// The serving engine: `name`, `version` (null when unknown) and
    /// `version_source` (`log`, `image`, `endpoint` or null).
    pub engine: crate::engine::EngineInfo,
    /// The serving metrics of the minutes before the crash
    /// (`--prometheus-url` or `--metrics`); null when none were read.
    pub metrics: Option<crate::signals::MetricsSummary>,
    /// The log window.
    pub log: LogInfo,
}

impl Report {
    /// A report for a diagnosis of `ev`.
    pub fn new(
        diagnosis: Diagnosis,
        ev: &Evidence,
        plan: Option<crate::playbook::Plan>,
        engine: crate::engine::EngineInfo,
    ) -> Self {
        Report {
            diagnosis,
            plan,
            engine,
            container: ev.container.clone(),
            metrics: ev.metrics.summary().cloned(),
            log: LogInfo {
                lines_examined: ev.log.lines.len(),
                total_lines: ev.log.total_lines,
                cut_lines: ev.log.cut_lines,
            },
        }
    }

    /// Human-readable rendering; ANSI colour when `color`.
    pub fn to_text(&self, color: bool) -> String {
        let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() };
        let d = &self.diagnosis;
        let mut out = String::new();
        let class_color = if d.class == FailureClass::Unknown { "33" } else { "1;31" };
        let sub = if d.subclass.is_empty() { String::new() } else { format!(" / {}", d.subclass) };
        let _ = writeln!(
            out,
            "{}{}  confidence {:.2}  source {}",
            paint(class_color, d.class.as_str()),
            sub,
            d.confidence,
            source_str(d.source)
        );
        let _ = writeln!(out, "{}", d.summary);
        if !d.evidence.is_empty() {
            let _ = writeln!(out, "\n{}", paint("1", "Evidence"));
            for e in &d.evidence {
                let at = if e.line > 0 { format!("{:>6}", e.line) } else { "   pod".to_owned() };
                let _ = writeln!(out, "  {} {}", paint("2", &at), e.text);
            }
        }
        if !d.captures.is_empty() {
            let caps: Vec<String> = d.captures.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = writeln!(out, "\n{} {}", paint("1", "Values"), caps.join(" "));
        }
        if !d.alternatives.is_empty() {
            let alts: Vec<String> = d.alternatives.iter().map(|a| format!("{} ({:.2})", a.class, a.score)).collect();
            let _ = writeln!(out, "{} {}", paint("1", "Also seen"), alts.join(", "));
        }
        if let Some(m) = &d.model {
            let _ = writeln!(out, "{} {} ({:.2})", paint("1", "Classifier"), m.class, m.probability);
        }
        if self.engine.name != "other" {
            let version = match (&self.engine.version, self.engine.version_source) {
                (Some(v), Some(s)) => format!("{v} (from the {})", s.as_str()),
                (Some(v), None) => v.to_string(),
                _ => "version unknown".into(),
            };
            let _ = writeln!(out, "{} {} {version}", paint("1", "Engine"), self.engine.name);
        }
        if let Some(m) = &self.metrics {
            let _ = writeln!(
                out,
                "\n{} ({}, last {})",
                paint("1", "Serving metrics"),
                m.server,
                crate::signals::summary::duration(m.window_seconds as f64)
            );
            for signal in crate::signals::Signal::CONTRACT {
                if let Some(s) = m.get(signal) {
                    let _ = writeln!(
                        out,
                        "  {:<22} last {:<12} max {:<12} {} points  ({})",
                        signal.id(),
                        short(s.last),
                        short(s.max),
                        s.points.len(),
                        s.metric
                    );
                }
            }
        }
        if let Some(plan) = &self.plan {
            let _ = writeln!(out, "\n{}", paint("1", "Proposed plan"));
            let _ = writeln!(out, "{}", crate::util::indent(&plan.to_text(), "  "));
        }
        out
    }
}

fn short(x: f64) -> String {
    if x.abs() >= 1e6 {
        format!("{x:.3e}")
    } else if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

/// Most bytes of a `--metrics` file read.
pub const MAX_METRICS_FILE_BYTES: u64 = 64 << 20;

/// Reads `--metrics FILE` (a Prometheus query answer, see
/// [`crate::signals::parse`]): the series of `target` (all of them when
/// none is given, or when they carry no pod labels) over `window` seconds
/// ending at `end` (default: the file's last sample).
pub fn read_metrics_file(
    path: &Path,
    target: Option<&crate::signals::Target>,
    end: Option<f64>,
    window: u64,
) -> Result<crate::signals::Reading, InputError> {
    use std::io::Read as _;
    let p = path.display().to_string();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_METRICS_FILE_BYTES).read_to_end(&mut bytes))
        .map_err(|source| InputError::Read { path: p.clone(), source })?;
    let mut series = crate::signals::parse::parse(&bytes).map_err(|e| InputError::Shape {
        path: p,
        what: "a Prometheus query answer",
        message: e.to_string(),
    })?;
    if let Some(t) = target {
        let matches =
            |l: &std::collections::BTreeMap<String, String>, k: &str, v: &str| l.get(k).is_none_or(|x| x == v);
        series.retain(|s| matches(&s.labels, "namespace", &t.namespace) && matches(&s.labels, "pod", &t.pod));
    }
    let last = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(f64::MIN, f64::max);
    if last == f64::MIN {
        return Ok(crate::signals::Reading::NoData { window_seconds: window });
    }
    // A crash time outside the file's samples (a pod from another day) is ignored.
    let first = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(f64::MAX, f64::min);
    let end = end.filter(|e| *e >= first && *e <= last + window as f64).unwrap_or(last);
    Ok(match crate::signals::summary::summarize(&series, end - window as f64, end) {
        Some(m) => crate::signals::Reading::Read(Box::new(m)),
        None => crate::signals::Reading::NoData { window_seconds: window },
    })
}

fn source_str(s: Source) -> &'static str {
    match s {
        Source::Signature => "signature",
        Source::Model => "model",
        Source::Both => "both",
        Source::None => "none",
    }
}
