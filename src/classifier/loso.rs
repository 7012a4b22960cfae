//! Leave-one-server-out evaluation: for each server family, a model
//! trained without that family's logs, scored on that family's logs.
//!
//! The unit is `Example::family` (`data/real/build.py` maps servers to
//! families: `vllm`, `sglang`, `tgi`, `triton-trtllm`, `ollama-llamacpp`,
//! `pytorch`, `nvidia`, `platform`, `other`). Each held-out model is
//! trained exactly as `podmedic train` trains the shipped one (same
//! config, same augmentation, the same generated windows), minus the
//! family's real training logs and their healthy noise; its temperature
//! is fitted on the dev split minus the family. The signature library is
//! not held out (it was written from the whole training split), and its
//! example lines stay in every held-out model's training set as they do in
//! the shipped model's: the figures measure how the model reads a server
//! family's logs it never saw, not wording no signature knows.

use serde::Serialize;

use super::augment::training_set;
use super::data::Example;
use super::eval::{Cached, Confusion, model_alone};
use super::train::{TrainConfig, train};
use super::{ClassifierError, DeviceChoice, ModelClassifier};
use crate::diagnosis::{Classifier, FusionConfig, diagnose};
use crate::signatures::SignatureSet;

/// The scores of one held-out family.
#[derive(Debug, Clone, Serialize)]
pub struct LosoRow {
    /// The family left out.
    pub family: String,
    /// Training windows of its model (after augmentation).
    pub train_windows: usize,
    /// Scored examples of the family.
    pub n: usize,
    /// The held-out model alone.
    pub model: Confusion,
    /// Signatures fused with the held-out model.
    pub fused: Confusion,
}

/// Trains one model per family present in `test` and scores it on that
/// family's examples. `progress` gets one line per family.
#[allow(clippy::too_many_arguments)]
pub fn leave_one_family_out(
    real_train: &[Example],
    real_dev: &[Example],
    signature_examples: &[Example],
    extra: &[Example],
    copies: usize,
    test: &[Example],
    cfg: &TrainConfig,
    signatures: &SignatureSet,
    fusion: &FusionConfig,
    mut progress: impl FnMut(&str),
) -> Result<Vec<LosoRow>, ClassifierError> {
    let mut families: Vec<&str> = test.iter().map(|e| e.family.as_str()).filter(|f| !f.is_empty()).collect();
    families.sort_unstable();
    families.dedup();
    let mut rows = Vec::new();
    for family in families {
        let keep = |e: &&Example| e.family != family;
        let real: Vec<Example> = real_train.iter().filter(keep).chain(signature_examples).cloned().collect();
        let dev: Vec<Example> = real_dev.iter().filter(keep).cloned().collect();
        let set = training_set(&real, extra, copies, cfg.seed);
        let (bytes, _) = train(&set, Some(&dev), cfg, |_| {})?;
        let model = ModelClassifier::from_bytes(&bytes, DeviceChoice::Cpu)?;
        let (mut m, mut f) = (Confusion::default(), Confusion::default());
        let held: Vec<&Example> = test.iter().filter(|e| e.family == family).collect();
        for e in &held {
            let w = e.window();
            let refs: Vec<&str> = w.iter().map(String::as_str).collect();
            let mut c = Cached { probs: model.predict(&refs), telling: None };
            c.telling = model.telling_line(&refs, c.top());
            m.add(e.class, model_alone(e, &c, fusion));
            f.add(e.class, diagnose(&e.evidence(), signatures, Some(&c), fusion).class);
        }
        progress(&format!(
            "{family}: {} examples, model {:.3}, fused {:.3} (trained on {} windows)",
            held.len(),
            m.accuracy(),
            f.accuracy(),
            set.len()
        ));
        rows.push(LosoRow { family: family.to_owned(), train_windows: set.len(), n: held.len(), model: m, fused: f });
    }
    Ok(rows)
}
