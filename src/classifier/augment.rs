//! Training-time augmentation of real log excerpts, deterministic.
//!
//! Real excerpts copied from issue threads are short and clean: the error
//! and a few lines around it. A crashed pod's log is the same error under
//! a long start-up, cut at any point, behind transport prefixes. Each
//! augmented copy of an example applies one or more of:
//!
//! - **wrap**: a run of healthy lines before the excerpt (and sometimes a
//!   few after it), taken from the healthy logs of the training split
//!   ([`NoisePool`]), as a crashed server's start-up would show;
//! - **head cut**: only the last lines are kept, never cutting into the
//!   evidence lines (`key`);
//! - **thinning**: a share of the non-evidence lines is dropped;
//! - **prefix**: every line gets a `docker compose` service prefix
//!   (`vllm-1  | `), which normalisation does not strip.
//!
//! Timestamps, CRI prefixes and JSON log lines are not added: normalisation
//! (`logtext`) strips them before the classifier sees a line, so they would
//! change nothing the model reads.
//!
//! The label never changes: noise lines come only from logs labelled
//! healthy, and evidence lines are never dropped.

use super::data::Example;
use super::train::Rng;
use crate::class::FailureClass;

/// Augmented copies of each real training log, by default (`podmedic train
/// --augment`, `podmedic eval --loso --augment`). 8 since wave 23: on that
/// round's 737 dev logs, five seeds each, it raised the model alone from a
/// mean of 0.837 to 0.846 and fused from 0.880 to 0.886 against 4 (see
/// `models/README.md`, Training).
pub const DEFAULT_AUGMENT: usize = 8;

/// Healthy log lines to wrap excerpts in, kept as the runs they came in.
#[derive(Debug, Clone, Default)]
pub struct NoisePool {
    runs: Vec<Vec<String>>,
}

impl NoisePool {
    /// The pool from the healthy logs among `examples`: real records tagged
    /// `healthy`, and generated `unknown` windows with no evidence lines
    /// (healthy start-ups and shutdowns).
    pub fn from_examples<'a>(examples: impl IntoIterator<Item = &'a Example>) -> Self {
        let runs = examples
            .into_iter()
            .filter(|e| e.class == FailureClass::Unknown)
            .filter(|e| e.tags.iter().any(|t| t == "healthy") || (e.source.is_empty() && e.key.is_empty()))
            .map(|e| e.text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect::<Vec<_>>())
            .filter(|r| r.len() >= 2)
            .collect();
        NoisePool { runs }
    }

    /// Number of runs.
    pub fn len(&self) -> usize {
        self.runs.len()
    }

    /// Whether the pool is empty (wrapping is then skipped).
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Up to `n` consecutive lines of one run.
    fn take(&self, rng: &mut Rng, n: usize) -> Vec<String> {
        if self.runs.is_empty() || n == 0 {
            return Vec::new();
        }
        let run = &self.runs[rng.below(self.runs.len())];
        let n = n.min(run.len());
        let start = rng.below(run.len() - n + 1);
        run[start..start + n].to_vec()
    }
}

const SERVICES: &[&str] = &["vllm-1", "llm", "inference-1", "ollama", "tgi", "sglang-1", "server-1", "triton"];

/// One augmented copy of `ex` (`copy` numbers the copies; the id gets
/// `~copy` appended and `augment` lists what was done).
pub fn augment(ex: &Example, pool: &NoisePool, rng: &mut Rng, copy: usize) -> Example {
    let mut lines: Vec<String> = ex.text.lines().map(str::to_owned).collect();
    let is_key = |l: &str| ex.key.iter().any(|k| !k.is_empty() && (l == k || l.contains(k.as_str())));
    let mut done = Vec::new();
    // Head cut: keep from some point at or before the first evidence line.
    if lines.len() > 4 && rng.next_f32() < 0.35 {
        let first_key = lines.iter().position(|l| is_key(l)).unwrap_or(lines.len().saturating_sub(3));
        let cut = rng.below(first_key + 1);
        if cut > 0 {
            lines.drain(..cut);
            done.push("head-cut");
        }
    }
    // Thinning of non-evidence lines.
    if lines.len() > 6 && rng.next_f32() < 0.3 {
        let keep_p = 0.6 + 0.3 * rng.next_f32();
        let before = lines.len();
        let mut kept = Vec::with_capacity(lines.len());
        for l in lines {
            if is_key(&l) || rng.next_f32() < keep_p {
                kept.push(l);
            }
        }
        lines = kept;
        if lines.len() < before {
            done.push("thinned");
        }
    }
    // Wrap in healthy noise.
    if !pool.is_empty() && rng.next_f32() < 0.8 {
        let n_before = 3 + rng.below(40);
        let mut wrapped = pool.take(rng, n_before);
        wrapped.append(&mut lines);
        if rng.next_f32() < 0.25 {
            let n_after = 1 + rng.below(3);
            wrapped.extend(pool.take(rng, n_after));
        }
        lines = wrapped;
        done.push("wrapped");
    }
    // Docker compose prefix.
    if rng.next_f32() < 0.15 {
        let svc = SERVICES[rng.below(SERVICES.len())];
        let pad = " ".repeat(1 + rng.below(3));
        lines = lines.into_iter().map(|l| format!("{svc}{pad}| {l}")).collect();
        done.push("compose-prefix");
    }
    let mut out = ex.clone();
    out.id = format!("{}~{copy}", ex.id);
    out.text = lines.join("\n");
    out.augment.extend(done.into_iter().map(str::to_owned));
    out
}

/// The training set: every example of `real`, then `copies` augmented
/// copies of each, in a fixed order; all randomness from `seed`.
pub fn augmented_set(real: &[Example], pool: &NoisePool, copies: usize, seed: u64) -> Vec<Example> {
    let mut rng = Rng::new(seed ^ 0x5eed_a06e_47a7_1055);
    let mut out: Vec<Example> = real.to_vec();
    for copy in 1..=copies {
        for ex in real {
            out.push(augment(ex, pool, &mut rng, copy));
        }
    }
    out
}

/// The signature library's own example lines as one-line examples: each
/// `match` line of a signature of at least `min_weight` (hints below it are
/// not a class on their own) as its class, and every signature's
/// `no_match` lines (healthy lines that share its words, such as NGC's
/// minor-version-compatibility banner) as `unknown`. They teach the
/// classifier the wording the library knows and the near-misses it was
/// written to avoid; the augmentation then wraps them in healthy noise.
pub fn signature_examples(signatures: &crate::signatures::SignatureSet, min_weight: f64) -> Vec<Example> {
    let mut out = Vec::new();
    for s in signatures.signatures() {
        if s.weight >= min_weight {
            for (i, line) in s.examples.iter().enumerate() {
                let mut e = Example::new(format!("sig-{}-{i}", s.id), s.class, line.clone());
                e.key = vec![line.clone()];
                e.seed = format!("signature:{}", s.id);
                out.push(e);
            }
        }
        for (i, line) in s.near_misses.iter().enumerate() {
            let mut e = Example::new(format!("sig-{}-near-{i}", s.id), FailureClass::Unknown, line.clone());
            e.seed = format!("signature:{}", s.id);
            out.push(e);
        }
    }
    out
}

/// What `podmedic train` trains on: the real examples and the signature
/// examples, each with `copies` augmented copies (wrapped in noise from the
/// healthy logs of `real` and `extra`), then the `extra` windows (the
/// generated corpus) as they are.
pub fn training_set(real: &[Example], extra: &[Example], copies: usize, seed: u64) -> Vec<Example> {
    let pool = NoisePool::from_examples(real.iter().chain(extra));
    let mut set = augmented_set(real, &pool, copies, seed);
    set.extend_from_slice(extra);
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn healthy(text: &str) -> Example {
        let mut e = Example::new("h", FailureClass::Unknown, text);
        e.source = "owner/repo#1".into();
        e.tags = vec!["healthy".into()];
        e
    }

    #[test]
    fn the_pool_takes_only_healthy_logs() {
        let mut crash = Example::new("c", FailureClass::Unknown, "Segmentation fault\ncore dumped");
        crash.source = "owner/repo#2".into();
        let sick = Example::new("g", FailureClass::GpuOom, "CUDA out of memory\nmore");
        let generated_healthy = Example::new("s", FailureClass::Unknown, "INFO ready\nINFO serving");
        let pool = NoisePool::from_examples([&healthy("INFO a\nINFO b"), &crash, &sick, &generated_healthy]);
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn augmentation_is_deterministic_and_keeps_the_evidence() {
        let pool = NoisePool::from_examples([&healthy("INFO a\nINFO b\nINFO c\nINFO d")]);
        let mut ex =
            Example::new("x", FailureClass::GpuOom, "l1\nl2\nl3\nl4\nl5\nl6\nl7\nCUDA out of memory. Tried\nl9");
        ex.key = vec!["CUDA out of memory. Tried".into()];
        let a = augmented_set(std::slice::from_ref(&ex), &pool, 20, 1);
        let b = augmented_set(std::slice::from_ref(&ex), &pool, 20, 1);
        assert_eq!(a.iter().map(|e| &e.text).collect::<Vec<_>>(), b.iter().map(|e| &e.text).collect::<Vec<_>>());
        assert_eq!(a.len(), 21);
        for e in &a {
            assert!(e.text.contains("CUDA out of memory. Tried"), "{}", e.text);
            assert_eq!(e.class, FailureClass::GpuOom);
        }
        assert!(a.iter().any(|e| e.augment.iter().any(|x| x == "wrapped")));
    }

    proptest! {
        /// Any text, any key: augmentation never panics and never loses a key line.
        #[test]
        fn never_panics_and_keeps_keys(text in "(?s).{0,400}", key_at in 0usize..20, seed in any::<u64>()) {
            let lines: Vec<&str> = text.lines().collect();
            let mut ex = Example::new("p", FailureClass::NcclFailure, text.clone());
            if let Some(k) = lines.get(key_at % lines.len().max(1)).filter(|k| !k.is_empty()) {
                ex.key = vec![(*k).to_owned()];
            }
            let pool = NoisePool::from_examples([&healthy("INFO a\nINFO b\nINFO c")]);
            for e in augmented_set(std::slice::from_ref(&ex), &pool, 3, seed) {
                for k in &ex.key {
                    prop_assert!(e.text.contains(k.as_str()));
                }
            }
        }
    }
}
