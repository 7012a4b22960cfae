//! Evaluation: confusion matrices and per-class precision / recall / F1 for
//! three engines on the same windows:
//!
//! - **signatures**: `diagnose` without a model;
//! - **model**: the classifier alone, its top class when its probability
//!   reaches [`FusionConfig::model_alone`], else `unknown` (as
//!   `triage --engine model` decides);
//! - **fused**: `diagnose` with the model.
//!
//! Each window is diagnosed from its log alone (no pod status, no Events),
//! with the last [`super::data::TAIL_LINES`] lines as `podmedic triage` reads
//! them by default.

use serde::Serialize;

use super::ModelClassifier;
use super::data::Example;
use crate::class::FailureClass;
use crate::diagnosis::{Classifier, FusionConfig, diagnose};
use crate::signatures::SignatureSet;

const N: usize = FailureClass::COUNT;

/// Counts of (truth, prediction) pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Confusion {
    /// `m[truth][prediction]`, in [`FailureClass::ALL`] order.
    pub m: [[u32; N]; N],
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassScores {
    /// Of the windows predicted as the class, the share that are.
    pub precision: f64,
    /// Of the windows of the class, the share predicted as it.
    pub recall: f64,
    /// Harmonic mean of the two (0 when both are 0).
    pub f1: f64,
    /// Windows of the class.
    pub support: u32,
}

impl Confusion {
    /// Records one window.
    pub fn add(&mut self, truth: FailureClass, prediction: FailureClass) {
        self.m[truth.index()][prediction.index()] += 1;
    }

    /// Windows recorded.
    pub fn total(&self) -> u32 {
        self.m.iter().flatten().sum()
    }

    /// Scores of one class. A class never predicted has precision 0.
    pub fn scores(&self, c: FailureClass) -> ClassScores {
        let i = c.index();
        let tp = f64::from(self.m[i][i]);
        let predicted: u32 = (0..N).map(|t| self.m[t][i]).sum();
        let support: u32 = self.m[i].iter().sum();
        let precision = if predicted == 0 { 0.0 } else { tp / f64::from(predicted) };
        let recall = if support == 0 { 0.0 } else { tp / f64::from(support) };
        let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
        ClassScores { precision, recall, f1, support }
    }

    /// Mean F1 over the classes that occur in the truth.
    pub fn macro_f1(&self) -> f64 {
        let present: Vec<f64> =
            FailureClass::ALL.iter().filter(|c| self.scores(**c).support > 0).map(|c| self.scores(*c).f1).collect();
        if present.is_empty() { 0.0 } else { present.iter().sum::<f64>() / present.len() as f64 }
    }

    /// Share of windows predicted right.
    pub fn accuracy(&self) -> f64 {
        let t = self.total();
        if t == 0 { 0.0 } else { f64::from((0..N).map(|i| self.m[i][i]).sum::<u32>()) / f64::from(t) }
    }

    /// Accuracy and `unknown` precision as they would be on a set where
    /// logs whose truth is `unknown` make up `share` (0..=1) of the
    /// windows, the classes keeping their proportions among themselves:
    /// each row of the matrix is weighted, nothing else changes. `None`
    /// when either side (unknown or class logs) is empty.
    pub fn at_unknown_share(&self, share: f64) -> Option<(f64, f64)> {
        let u = FailureClass::Unknown.index();
        let n_u = f64::from(self.m[u].iter().sum::<u32>());
        let n_c = f64::from(self.total()) - n_u;
        if n_u == 0.0 || n_c == 0.0 {
            return None;
        }
        let share = share.clamp(0.0, 1.0);
        let (w_u, w_c) = (share / n_u, (1.0 - share) / n_c);
        let weight = |truth: usize| if truth == u { w_u } else { w_c };
        let accuracy = (0..N).map(|i| weight(i) * f64::from(self.m[i][i])).sum::<f64>();
        let said_unknown = (0..N).map(|t| weight(t) * f64::from(self.m[t][u])).sum::<f64>();
        let precision = if said_unknown == 0.0 { 0.0 } else { w_u * f64::from(self.m[u][u]) / said_unknown };
        Some((accuracy, precision))
    }
}

/// One engine's results.
#[derive(Debug, Clone, Serialize)]
pub struct EngineResult {
    /// `signatures`, `model` or `fused`.
    pub engine: &'static str,
    /// Its confusion matrix.
    pub confusion: Confusion,
    /// Its macro-F1.
    pub macro_f1: f64,
    /// Its accuracy.
    pub accuracy: f64,
}

impl EngineResult {
    fn new(engine: &'static str, confusion: Confusion) -> Self {
        EngineResult { engine, macro_f1: confusion.macro_f1(), accuracy: confusion.accuracy(), confusion }
    }
}

/// A classifier whose answers for one window were computed beforehand, so
/// that fusion thresholds can be swept without running the model again.
#[derive(Debug, Clone, Copy)]
pub struct Cached {
    /// Its probabilities.
    pub probs: [f32; N],
    /// The window line the model reads as most telling for its top class.
    pub telling: Option<usize>,
}

impl Cached {
    /// The top class.
    pub fn top(&self) -> FailureClass {
        let (i, _) =
            self.probs.iter().enumerate().fold((N - 1, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        FailureClass::ALL[i]
    }
}

impl Classifier for Cached {
    fn predict(&self, _lines: &[&str]) -> [f32; N] {
        self.probs
    }

    fn telling_line(&self, _lines: &[&str], class: FailureClass) -> Option<usize> {
        self.telling.filter(|_| class == self.top())
    }
}

/// The model's answers (probabilities and the telling line of its top
/// class) for each example.
pub fn model_answers(model: &ModelClassifier, examples: &[Example]) -> Vec<Cached> {
    examples
        .iter()
        .map(|e| {
            let w = e.window();
            let refs: Vec<&str> = w.iter().map(String::as_str).collect();
            let mut c = Cached { probs: model.predict(&refs), telling: None };
            c.telling = model.telling_line(&refs, c.top());
            c
        })
        .collect()
}

/// The model's probabilities for each example.
pub fn model_probs(model: &ModelClassifier, examples: &[Example]) -> Vec<[f32; N]> {
    model_answers(model, examples).into_iter().map(|c| c.probs).collect()
}

/// The model-alone decision as `triage --engine model` makes it (the
/// threshold and the evidence-line rule of `diagnose`).
pub fn model_alone(e: &Example, answer: &Cached, cfg: &FusionConfig) -> FailureClass {
    static EMPTY: std::sync::OnceLock<SignatureSet> = std::sync::OnceLock::new();
    diagnose(&e.evidence(), EMPTY.get_or_init(SignatureSet::empty), Some(answer), cfg).class
}

/// The model-only decision for one probability vector.
pub fn model_decision(p: &[f32; N], cfg: &FusionConfig) -> FailureClass {
    let (i, best) = p.iter().enumerate().fold((N - 1, f32::MIN), |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc });
    if f64::from(best) >= cfg.model_alone { FailureClass::ALL[i] } else { FailureClass::Unknown }
}

/// Each engine's answer for each example, in order.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    /// `diagnose` without a model.
    pub signatures: Vec<FailureClass>,
    /// The model alone (empty when no probabilities were given).
    pub model: Vec<FailureClass>,
    /// `diagnose` with the model (empty when no probabilities were given).
    pub fused: Vec<FailureClass>,
}

impl Answers {
    /// The engines that have answers, with their names.
    pub fn engines(&self) -> Vec<(&'static str, &[FailureClass])> {
        let mut v = vec![("signatures", self.signatures.as_slice())];
        if !self.model.is_empty() {
            v.push(("model", self.model.as_slice()));
            v.push(("fused", self.fused.as_slice()));
        }
        v
    }
}

/// Runs the engines on `examples`; `probs` are the model's answers
/// ([`model_probs`]), absent to skip the model and fused engines.
pub fn answers(
    examples: &[Example],
    signatures: &SignatureSet,
    model: Option<&[Cached]>,
    cfg: &FusionConfig,
) -> Answers {
    let mut out = Answers::default();
    for (i, e) in examples.iter().enumerate() {
        let ev = e.evidence();
        out.signatures.push(diagnose(&ev, signatures, None, cfg).class);
        if let Some(m) = model {
            out.model.push(model_alone(e, &m[i], cfg));
            out.fused.push(diagnose(&ev, signatures, Some(&m[i]), cfg).class);
        }
    }
    out
}

/// Evaluates the engines on `examples`; `model` are the model's answers
/// ([`model_answers`]), absent to skip the model and fused engines.
pub fn evaluate(
    examples: &[Example],
    signatures: &SignatureSet,
    model: Option<&[Cached]>,
    cfg: &FusionConfig,
) -> Vec<EngineResult> {
    results(examples, &answers(examples, signatures, model, cfg))
}

/// Confusion matrices of the engines' answers.
pub fn results(examples: &[Example], answers: &Answers) -> Vec<EngineResult> {
    answers
        .engines()
        .into_iter()
        .map(|(name, got)| {
            let mut c = Confusion::default();
            for (e, g) in examples.iter().zip(got) {
                c.add(e.class, *g);
            }
            EngineResult::new(name, c)
        })
        .collect()
}

/// Expected calibration error of the model's top-class probability:
/// windows binned by that probability into `bins` equal-width bins, the
/// mean |accuracy − confidence| weighted by bin size.
pub fn expected_calibration_error(examples: &[Example], probs: &[Cached], bins: usize) -> f64 {
    let bins = bins.max(1);
    let mut count = vec![0usize; bins];
    let mut conf = vec![0f64; bins];
    let mut right = vec![0f64; bins];
    for (e, c) in examples.iter().zip(probs) {
        let (i, top) = c.probs.iter().enumerate().fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        let top = f64::from(top).clamp(0.0, 1.0);
        let b = ((top * bins as f64) as usize).min(bins - 1);
        count[b] += 1;
        conf[b] += top;
        right[b] += f64::from(u8::from(FailureClass::ALL[i] == e.class));
    }
    let n = count.iter().sum::<usize>();
    if n == 0 {
        return 0.0;
    }
    (0..bins).filter(|&b| count[b] > 0).map(|b| (right[b] - conf[b]).abs()).sum::<f64>() / n as f64
}

/// Accuracy of each engine within each group of examples.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    /// The group (a server, a family, a tag).
    pub group: String,
    /// Examples in it.
    pub n: usize,
    /// Accuracy of each engine, in [`Answers::engines`] order.
    pub accuracy: Vec<f64>,
}

/// Per-group accuracy; `groups` names the groups an example belongs to
/// (an example may be in several, e.g. tags). Groups sorted by name.
pub fn by_group(examples: &[Example], answers: &Answers, groups: impl Fn(&Example) -> Vec<String>) -> Vec<GroupRow> {
    let engines = answers.engines();
    let mut acc: std::collections::BTreeMap<String, (usize, Vec<usize>)> = std::collections::BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        for g in groups(e) {
            let row = acc.entry(g).or_insert_with(|| (0, vec![0; engines.len()]));
            row.0 += 1;
            for (k, (_, got)) in engines.iter().enumerate() {
                row.1[k] += usize::from(got[i] == e.class);
            }
        }
    }
    acc.into_iter()
        .map(|(group, (n, right))| GroupRow {
            group,
            n,
            accuracy: right.iter().map(|&r| r as f64 / n.max(1) as f64).collect(),
        })
        .collect()
}

/// Fused macro-F1, accuracy and `unknown` precision for each candidate
/// [`FusionConfig`], best accuracy first. With `unknown_share`, accuracy
/// and precision are those of [`Confusion::at_unknown_share`] (the windows
/// reweighted so that `unknown` logs make up that share).
pub fn tune_fusion(
    examples: &[Example],
    signatures: &SignatureSet,
    model: &[Cached],
    candidates: &[FusionConfig],
    unknown_share: Option<f64>,
) -> Vec<(FusionConfig, f64, f64, f64)> {
    let evidence: Vec<_> = examples.iter().map(Example::evidence).collect();
    let mut out: Vec<(FusionConfig, f64, f64, f64)> = candidates
        .iter()
        .map(|cfg| {
            let mut c = Confusion::default();
            for (i, e) in examples.iter().enumerate() {
                c.add(e.class, diagnose(&evidence[i], signatures, Some(&model[i]), cfg).class);
            }
            match unknown_share.and_then(|share| c.at_unknown_share(share)) {
                Some((acc, unk)) => (*cfg, c.macro_f1(), acc, unk),
                None => (*cfg, c.macro_f1(), c.accuracy(), c.scores(FailureClass::Unknown).precision),
            }
        })
        .collect();
    // Accuracy first: the targets are accuracy and `unknown` precision.
    out.sort_by(|a, b| b.2.total_cmp(&a.2).then(b.1.total_cmp(&a.1)));
    out
}

/// Model-alone macro-F1 and accuracy for each [`FusionConfig::model_alone`]
/// threshold from 0.2 to 0.8, in order.
pub fn tune_model_alone(examples: &[Example], model: &[Cached]) -> Vec<(f64, f64, f64)> {
    (4..=16)
        .map(|k| {
            let t = f64::from(k) * 0.05;
            let cfg = FusionConfig { model_alone: t, ..FusionConfig::default() };
            let mut c = Confusion::default();
            for (e, m) in examples.iter().zip(model) {
                c.add(e.class, model_alone(e, m, &cfg));
            }
            (t, c.macro_f1(), c.accuracy())
        })
        .collect()
}

/// The grid `eval --tune` sweeps. `abstain_below` stays above 0.45, the
/// weight of a bare exit 137, which must remain only a hint (see the
/// diagnosis tests).
pub fn fusion_grid() -> Vec<FusionConfig> {
    let mut v = Vec::new();
    for margin in [0.1, 0.15, 0.2] {
        for strong in [0.75, 0.8, 0.85, 0.9, 0.95] {
            for decides in [0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95] {
                for abstain in [0.5, 0.55, 0.6] {
                    // 1.0: the model's telling line must always read like an error.
                    for needs_error_line in [0.7, 0.8, 0.9, 1.0] {
                        v.push(FusionConfig {
                            strong_signature: strong,
                            model_decides: decides,
                            root_cause_margin: margin,
                            abstain_below: abstain,
                            model_needs_error_line_below: needs_error_line,
                            ..FusionConfig::default()
                        });
                    }
                }
            }
        }
    }
    v
}

/// A short column name for a class.
fn abbrev(c: FailureClass) -> String {
    match c.as_str() {
        "cuda-driver-mismatch" => "drv".into(),
        "kv-cache-oom" => "kv".into(),
        "gpu-oom" => "goom".into(),
        "host-oom" => "hoom".into(),
        "weight-load-failure" => "wlf".into(),
        "nccl-failure" => "nccl".into(),
        "gpu-hardware-fault" => "hw".into(),
        "no-gpu-visible" => "nogpu".into(),
        "config-error" => "cfg".into(),
        "startup-probe-kill" => "probe".into(),
        "unknown" => "unk".into(),
        other => other.chars().take(5).collect(),
    }
}

/// Per-group accuracy as a text table.
pub fn render_groups(title: &str, engines: &[&str], rows: &[GroupRow]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = write!(s, "{title:28} {:>5}", "n");
    for e in engines {
        let _ = write!(s, " {e:>10}");
    }
    let _ = writeln!(s);
    for r in rows {
        let _ = write!(s, "{:28} {:>5}", r.group, r.n);
        for a in &r.accuracy {
            let _ = write!(s, " {a:>10.3}");
        }
        let _ = writeln!(s);
    }
    s
}

/// The report as text: per-class scores side by side, then the confusion
/// matrices.
pub fn render(results: &[EngineResult]) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let w = 22;
    let _ = write!(s, "{:w$}", "class");
    for r in results {
        let _ = write!(s, " | {:^22}", r.engine);
    }
    let _ = writeln!(s, " | support");
    let _ = write!(s, "{:w$}", "");
    for _ in results {
        let _ = write!(s, " | {:>6} {:>6} {:>6}  ", "P", "R", "F1");
    }
    let _ = writeln!(s, " |");
    for c in FailureClass::ALL {
        let _ = write!(s, "{:w$}", c.as_str());
        for r in results {
            let sc = r.confusion.scores(c);
            let _ = write!(s, " | {:>6.3} {:>6.3} {:>6.3}  ", sc.precision, sc.recall, sc.f1);
        }
        let _ = writeln!(s, " | {}", results.first().map_or(0, |r| r.confusion.scores(c).support));
    }
    let _ = write!(s, "{:w$}", "macro-F1");
    for r in results {
        let _ = write!(s, " | {:>20.3}  ", r.macro_f1);
    }
    let _ = writeln!(s, " |");
    let _ = write!(s, "{:w$}", "accuracy");
    for r in results {
        let _ = write!(s, " | {:>20.3}  ", r.accuracy);
    }
    let _ = writeln!(s, " |");
    let _ = write!(s, "{:w$}", "`unknown` precision");
    for r in results {
        let _ = write!(s, " | {:>20.3}  ", r.confusion.scores(FailureClass::Unknown).precision);
    }
    let _ = writeln!(s, " |");
    let abbrev: Vec<String> = FailureClass::ALL.iter().map(|c| abbrev(*c)).collect();
    for r in results {
        let _ = writeln!(s, "\nconfusion, {} (rows: truth, columns: prediction)", r.engine);
        let _ = write!(s, "{:w$}", "");
        for a in &abbrev {
            let _ = write!(s, "{a:>6}");
        }
        let _ = writeln!(s);
        for c in FailureClass::ALL {
            let _ = write!(s, "{:w$}", c.as_str());
            for v in r.confusion.m[c.index()] {
                let _ = write!(s, "{v:>6}");
            }
            let _ = writeln!(s);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureClass::*;

    /// 4 class logs (3 right, 1 left unknown), 2 unknown logs (1 right, 1 over-claimed).
    fn four_class_two_unknown() -> Confusion {
        let mut c = Confusion::default();
        for _ in 0..3 {
            c.add(GpuOom, GpuOom);
        }
        c.add(GpuOom, Unknown);
        c.add(Unknown, GpuOom);
        c.add(Unknown, Unknown);
        c
    }

    #[test]
    fn scores_and_macro_f1() {
        let c = four_class_two_unknown();
        let s = c.scores(GpuOom);
        assert_eq!((s.precision, s.recall, s.support), (0.75, 0.75, 4));
        let u = c.scores(Unknown);
        assert_eq!((u.precision, u.recall), (0.5, 0.5));
        assert!((c.macro_f1() - 0.625).abs() < 1e-12);
        assert!((c.accuracy() - 4.0 / 6.0).abs() < 1e-12);
        // A class that never occurs does not count towards macro-F1.
        assert_eq!(c.scores(HostOom).support, 0);
    }

    #[test]
    fn reweighting_to_an_unknown_share() {
        let c = four_class_two_unknown();
        // At the set's own share (1/3) nothing changes.
        let (acc, unk) = c.at_unknown_share(1.0 / 3.0).unwrap();
        assert!((acc - c.accuracy()).abs() < 1e-12 && (unk - c.scores(Unknown).precision).abs() < 1e-12);
        // At 20%: class logs 0.8 * 3/4 right, unknown logs 0.2 * 1/2 right.
        let (acc, unk) = c.at_unknown_share(0.2).unwrap();
        assert!((acc - (0.8 * 0.75 + 0.2 * 0.5)).abs() < 1e-12, "{acc}");
        // Said unknown: 0.2 * 1/2 (right) + 0.8 * 1/4 (a class log).
        assert!((unk - 0.1 / (0.1 + 0.2)).abs() < 1e-12, "{unk}");
        // Either side missing: no reweighting.
        let mut only = Confusion::default();
        only.add(GpuOom, GpuOom);
        assert_eq!(only.at_unknown_share(0.2), None);
    }

    #[test]
    fn model_decision_abstains_below_threshold() {
        let cfg = FusionConfig::default();
        let mut p = [0.0f32; N];
        p[GpuOom.index()] = 0.95;
        assert_eq!(model_decision(&p, &cfg), GpuOom);
        p[GpuOom.index()] = (cfg.model_alone as f32) - 0.01;
        assert_eq!(model_decision(&p, &cfg), Unknown);
    }
}
