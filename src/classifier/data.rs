//! Labelled log windows: the JSONL files under `data/` (written by
//! `data/gen/generate.py`) and directories of `<class>/*.log` files (the
//! test fixtures' layout).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ClassifierError;
use crate::class::FailureClass;
use crate::diagnosis::{MODEL_WINDOW_LINES, normalised_window};
use crate::evidence::Evidence;
use crate::logtext::LogTail;

/// Lines of log kept per example, as `podmedic triage` keeps by default.
pub const TAIL_LINES: usize = 200;

/// One labelled window.
#[derive(Debug, Clone, Deserialize)]
pub struct Example {
    /// Record id (`train-00042`) or file name.
    pub id: String,
    /// The label.
    pub class: FailureClass,
    /// The seed message it was generated from (empty for plain log files).
    #[serde(default)]
    pub seed: String,
    /// Which server's log it imitates.
    #[serde(default)]
    pub server: String,
    /// Where its wording comes from.
    #[serde(default)]
    pub origin: String,
    /// Augmentations applied.
    #[serde(default)]
    pub augment: Vec<String>,
    /// The lines that carry the label's evidence (raw, before transport
    /// formatting); used for line-level supervision in training.
    #[serde(default)]
    pub key: Vec<String>,
    /// The raw log text.
    pub text: String,
    /// The public thread it was copied from (`owner/repo#N` or a URL);
    /// empty for generated windows.
    #[serde(default)]
    pub source: String,
    /// Server family, the leave-one-server-out unit (`data/real/build.py`).
    #[serde(default)]
    pub family: String,
    /// Format and content tags (`timestamps`, `cjk`, `healthy`, ...).
    #[serde(default)]
    pub tags: Vec<String>,
    /// How sure the label is, 0.6..=1 (1 for generated windows).
    #[serde(default = "one")]
    pub label_confidence: f64,
    /// The corpus label when it is not a podmedic class the log alone can
    /// show (`engine-stalled`: `class` is then `unknown`, the expected
    /// answer from the log).
    #[serde(default)]
    pub corpus_class: String,
}

fn one() -> f64 {
    1.0
}

impl Example {
    /// An example with only an id, a label and a text.
    pub fn new(id: impl Into<String>, class: FailureClass, text: impl Into<String>) -> Self {
        Example {
            id: id.into(),
            class,
            seed: String::new(),
            server: String::new(),
            origin: String::new(),
            augment: Vec::new(),
            key: Vec::new(),
            text: text.into(),
            source: String::new(),
            family: String::new(),
            tags: Vec::new(),
            label_confidence: 1.0,
            corpus_class: String::new(),
        }
    }

    /// The evidence `diagnose` sees for this window (log only).
    pub fn evidence(&self) -> Evidence {
        Evidence { log: LogTail::from_text(&self.text, TAIL_LINES), ..Default::default() }
    }

    /// The normalised lines the classifier sees.
    pub fn window(&self) -> Vec<String> {
        normalised_window(&self.evidence(), MODEL_WINDOW_LINES)
    }

    /// Whether each line of [`Example::window`] is one of the key lines
    /// (equal after normalisation, or a cut-off prefix of a long one).
    pub fn key_flags(&self, window: &[String]) -> Vec<bool> {
        let mut buf = String::new();
        let keys: Vec<String> = self
            .key
            .iter()
            .map(|k| {
                crate::logtext::normalize_line(k.as_bytes(), &mut buf);
                buf.clone()
            })
            .collect();
        window.iter().map(|l| keys.iter().any(|k| k == l || (l.len() >= 200 && k.starts_with(l.as_str())))).collect()
    }
}

/// Reads a JSONL file of [`Example`]s.
pub fn read_jsonl(path: &Path) -> Result<Vec<Example>, ClassifierError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ClassifierError::Read { path: path.to_owned(), source })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let ex: Example = serde_json::from_str(line).map_err(|e| ClassifierError::Data {
            path: path.to_owned(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(ex);
    }
    Ok(out)
}

/// Reads `DIR/<class>/*.log` files; the directory name is the label.
pub fn read_log_dir(dir: &Path) -> Result<Vec<Example>, ClassifierError> {
    let read_dir = |p: &Path| -> Result<Vec<PathBuf>, ClassifierError> {
        let rd = std::fs::read_dir(p).map_err(|source| ClassifierError::Read { path: p.to_owned(), source })?;
        let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        v.sort();
        Ok(v)
    };
    let mut out = Vec::new();
    for sub in read_dir(dir)? {
        let Some(name) = sub.file_name().and_then(|n| n.to_str()) else { continue };
        let Ok(class) = name.parse::<FailureClass>() else { continue };
        if !sub.is_dir() {
            continue;
        }
        for file in read_dir(&sub)? {
            if file.extension().and_then(|e| e.to_str()) != Some("log") {
                continue;
            }
            let bytes = std::fs::read(&file).map_err(|source| ClassifierError::Read { path: file.clone(), source })?;
            let id = file.strip_prefix(dir).unwrap_or(&file).display().to_string();
            let mut ex = Example::new(id, class, String::from_utf8_lossy(&bytes).into_owned());
            ex.origin = file.display().to_string();
            out.push(ex);
        }
    }
    Ok(out)
}

/// Examples from a path: a `.jsonl` file, a directory holding `<split>.jsonl`,
/// or a directory of `<class>/*.log` files.
pub fn read_examples(path: &Path, split: &str) -> Result<(PathBuf, Vec<Example>), ClassifierError> {
    if path.is_dir() {
        let file = path.join(format!("{split}.jsonl"));
        if file.is_file() {
            let ex = read_jsonl(&file)?;
            return Ok((file, ex));
        }
        return Ok((path.to_owned(), read_log_dir(path)?));
    }
    Ok((path.to_owned(), read_jsonl(path)?))
}
