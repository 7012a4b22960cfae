//! `podmedic eval --llm-url …`: how often the operator's model names the
//! right class on the windows where podmedic's fused diagnosis abstains
//! (and, separately, where signatures and classifier disagree).
//!
//! Runs on any JSONL of labelled windows with the `data/*.jsonl` record
//! shape (`id`, `class`, `text`), each window diagnosed from its log alone
//! as `podmedic eval` does. The consultations are the controller's own
//! ([`super::Llm::consult`]: same trigger, request, checks, budget), one
//! at a time unless `--llm-max-concurrent` allows more.
//!
//! The honest comparison is with abstaining: on the abstentions, podmedic
//! alone is right exactly when the truth is `unknown`. The figures say how
//! many of the truly-caused windows the model rescues, how many healthy
//! windows it over-claims a cause for, and how the final answer (the
//! model's class where accepted, else `unknown`) compares with abstaining.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use futures::StreamExt as _;
use serde::Serialize;

use super::{Llm, Outcome, Trigger};
use crate::class::FailureClass;
use crate::classifier::data::Example;
use crate::diagnosis::Diagnosis;

/// One consulted window.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// The window's id.
    pub id: String,
    /// Its label.
    pub truth: FailureClass,
    /// podmedic's own answer.
    pub fused: FailureClass,
    /// Why the model was asked.
    pub trigger: Trigger,
    /// What became of the call.
    pub outcome: Outcome,
    /// The model's class, when accepted.
    pub llm: Option<FailureClass>,
    /// Why not accepted.
    pub reason: Option<String>,
    /// Milliseconds.
    pub latency_ms: u64,
}

impl Record {
    /// The class podmedic would report: the model's where it was adopted, else its own.
    pub fn final_class(&self) -> FailureClass {
        match (self.trigger, self.llm) {
            (Trigger::Abstained, Some(c)) => c,
            _ => self.fused,
        }
    }
}

/// Figures over one trigger's records.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    /// Windows consulted.
    pub consulted: usize,
    /// Calls by outcome.
    pub outcomes: BTreeMap<&'static str, usize>,
    /// Accepted answers whose class equals the label.
    pub llm_right: usize,
    /// Accepted answers.
    pub accepted: usize,
    /// Windows whose label is a real cause.
    pub caused: usize,
    /// Of those, the model named the right class.
    pub rescued: usize,
    /// Of those, the model named another real class.
    pub wrong_cause: usize,
    /// Windows whose label is `unknown` (healthy, or no cause in the log).
    pub healthy: usize,
    /// Of those, the model named a cause anyway.
    pub over_claimed: usize,
    /// The final answer equals the label.
    pub final_right: usize,
    /// podmedic alone equals the label.
    pub alone_right: usize,
    /// Latency percentiles of answered calls, ms.
    pub latency_p50_ms: u64,
    /// 95th percentile.
    pub latency_p95_ms: u64,
}

/// Figures per trigger, and the records.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The model, as the opinions name it.
    pub model: String,
    /// Windows read.
    pub windows: usize,
    /// Windows where podmedic abstained (consulted or not).
    pub abstained: usize,
    /// Windows where signatures and classifier disagreed (consulted or not).
    pub disagreed: usize,
    /// Over the abstentions consulted.
    pub on_abstentions: Figures,
    /// Over the disagreements consulted.
    pub on_disagreements: Figures,
    /// Every consultation.
    pub records: Vec<Record>,
}

/// Consults the model on each window of `cases` (a window and podmedic's
/// own diagnosis of it) that triggers a consultation, at most `limit` per
/// trigger; `progress` gets one line per call.
pub async fn run(
    llm: &Llm,
    cases: &[(&Example, Diagnosis)],
    limit: Option<usize>,
    progress: &(dyn Fn(&str) + Sync),
) -> Report {
    let disagree_below = llm.settings().disagree_below;
    let (mut abstentions, mut disagreements) = (Vec::new(), Vec::new());
    for (e, d) in cases {
        match super::trigger(d, disagree_below) {
            Some(Trigger::Abstained) => abstentions.push((*e, d)),
            Some(Trigger::Disagreement) => disagreements.push((*e, d)),
            None => {}
        }
    }
    let (abstained, disagreed) = (abstentions.len(), disagreements.len());
    let limit = limit.unwrap_or(usize::MAX);
    let mut todo = spread(abstentions, limit);
    todo.extend(spread(disagreements, limit));
    let total = todo.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let concurrency = llm.settings().max_concurrent.max(1);
    let mut model = llm.settings().model.clone().unwrap_or_default();
    let records: Vec<(Record, String)> = futures::stream::iter(todo.into_iter().map(|(e, d)| {
        let done = &done;
        async move {
            let op = llm.consult(&e.evidence(), d).await?;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let got = match (op.class, &op.reason) {
                (Some(c), _) => c.to_string(),
                (None, Some(r)) => format!("{}: {}", op.outcome.as_str(), crate::util::truncate(r, 160)),
                (None, None) => op.outcome.as_str().to_owned(),
            };
            progress(&format!(
                "[{n}/{total}] {} truth {} podmedic {} model {got} ({} ms)",
                e.id, e.class, d.class, op.latency_ms
            ));
            Some((
                Record {
                    id: e.id.clone(),
                    truth: e.class,
                    fused: d.class,
                    trigger: op.trigger,
                    outcome: op.outcome,
                    llm: op.class.filter(|_| op.accepted),
                    reason: op.reason.clone(),
                    latency_ms: op.latency_ms,
                },
                op.model,
            ))
        }
    }))
    .buffered(concurrency)
    .filter_map(std::future::ready)
    .collect()
    .await;
    let records: Vec<Record> = records
        .into_iter()
        .map(|(r, m)| {
            if model.is_empty() {
                model = m;
            }
            r
        })
        .collect();
    Report {
        model,
        windows: cases.len(),
        abstained,
        disagreed,
        on_abstentions: figures(records.iter().filter(|r| r.trigger == Trigger::Abstained)),
        on_disagreements: figures(records.iter().filter(|r| r.trigger == Trigger::Disagreement)),
        records,
    }
}

/// At most `n` of `items`, evenly spaced over them (the files are ordered
/// by seed and class; the first `n` would not be a fair sample).
fn spread<T>(items: Vec<T>, n: usize) -> Vec<T> {
    let len = items.len();
    if n >= len {
        return items;
    }
    let wanted: std::collections::BTreeSet<usize> = (0..n).map(|i| i * len / n).collect();
    items.into_iter().enumerate().filter(|(i, _)| wanted.contains(i)).map(|(_, x)| x).collect()
}

fn figures<'a>(records: impl Iterator<Item = &'a Record>) -> Figures {
    let mut f = Figures::default();
    let mut latencies = Vec::new();
    for r in records {
        f.consulted += 1;
        *f.outcomes.entry(r.outcome.as_str()).or_default() += 1;
        if matches!(r.outcome, Outcome::Accepted | Outcome::Rejected) {
            latencies.push(r.latency_ms);
        }
        let named = r.llm.filter(|c| *c != FailureClass::Unknown);
        if r.llm.is_some() {
            f.accepted += 1;
            f.llm_right += usize::from(r.llm == Some(r.truth));
        }
        if r.truth == FailureClass::Unknown {
            f.healthy += 1;
            f.over_claimed += usize::from(named.is_some());
        } else {
            f.caused += 1;
            f.rescued += usize::from(named == Some(r.truth));
            f.wrong_cause += usize::from(named.is_some_and(|c| c != r.truth));
        }
        f.final_right += usize::from(r.final_class() == r.truth);
        f.alone_right += usize::from(r.fused == r.truth);
    }
    latencies.sort_unstable();
    let pct = |p: f64| latencies.get(((latencies.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0);
    f.latency_p50_ms = pct(0.5);
    f.latency_p95_ms = pct(0.95);
    f
}

/// The report as text.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nsecond opinion of {}: {} windows, podmedic abstained on {} and its engines disagreed on {}",
        if r.model.is_empty() { "the model" } else { &r.model },
        r.windows,
        r.abstained,
        r.disagreed
    );
    for (name, f) in [("abstentions", &r.on_abstentions), ("disagreements", &r.on_disagreements)] {
        if f.consulted == 0 {
            continue;
        }
        let pct = |a: usize, b: usize| if b == 0 { 0.0 } else { 100.0 * a as f64 / b as f64 };
        let outcomes: Vec<String> = f.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "\non {} {name} consulted ({}):", f.consulted, outcomes.join(", "));
        let _ = writeln!(
            out,
            "  model's class right: {} of {} accepted answers ({:.1}%); of all consulted {:.1}%",
            f.llm_right,
            f.accepted,
            pct(f.llm_right, f.accepted),
            pct(f.llm_right, f.consulted)
        );
        let _ = writeln!(
            out,
            "  windows with a real cause: {}; rescued {} ({:.1}%), another cause named {}",
            f.caused,
            f.rescued,
            pct(f.rescued, f.caused),
            f.wrong_cause
        );
        let _ = writeln!(out, "  windows without one: {}; a cause over-claimed on {}", f.healthy, f.over_claimed);
        let _ = writeln!(
            out,
            "  final answer right {} ({:.1}%) vs podmedic alone {} ({:.1}%)",
            f.final_right,
            pct(f.final_right, f.consulted),
            f.alone_right,
            pct(f.alone_right, f.consulted)
        );
        let _ = writeln!(out, "  latency p50 {} ms, p95 {} ms", f.latency_p50_ms, f.latency_p95_ms);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(truth: FailureClass, fused: FailureClass, trigger: Trigger, llm: Option<FailureClass>) -> Record {
        Record {
            id: "x".into(),
            truth,
            fused,
            trigger,
            outcome: if llm.is_some() { Outcome::Accepted } else { Outcome::Rejected },
            llm,
            reason: None,
            latency_ms: 10,
        }
    }

    #[test]
    fn a_limited_sample_is_spread_over_the_windows() {
        assert_eq!(spread((0..10).collect(), 3), [0, 3, 6]);
        assert_eq!(spread((0..4).collect(), 9), [0, 1, 2, 3]);
        assert_eq!(spread((0..4).collect::<Vec<i32>>(), 0), Vec::<i32>::new());
    }

    #[test]
    fn figures_count_rescues_over_claims_and_the_final_answer() {
        use FailureClass::*;
        let a = Trigger::Abstained;
        let rs = [
            rec(HostOom, Unknown, a, Some(HostOom)),     // rescued
            rec(GpuOom, Unknown, a, Some(HostOom)),      // another cause
            rec(Unknown, Unknown, a, Some(NcclFailure)), // over-claimed
            rec(Unknown, Unknown, a, Some(Unknown)),     // right, both abstain
            rec(ConfigError, Unknown, a, None),          // rejected
        ];
        let f = figures(rs.iter());
        assert_eq!((f.consulted, f.accepted, f.llm_right), (5, 4, 2));
        assert_eq!((f.caused, f.rescued, f.wrong_cause), (3, 1, 1));
        assert_eq!((f.healthy, f.over_claimed), (2, 1));
        assert_eq!((f.final_right, f.alone_right), (2, 2));
        assert_eq!(f.outcomes["accepted"], 4);
        let text = render(&Report {
            model: "m".into(),
            windows: 10,
            abstained: 5,
            disagreed: 0,
            on_abstentions: f,
            on_disagreements: Figures::default(),
            records: rs.to_vec(),
        });
        assert!(text.contains("rescued 1 (33.3%)"), "{text}");
        assert!(text.contains("final answer right 2 (40.0%) vs podmedic alone 2 (40.0%)"), "{text}");
    }
}
