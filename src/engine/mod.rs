//! The serving engine that crashed: which one, which version, and the
//! settings it actually ran with, so that a fix fits the engine it is for.
//!
//! Pure, like the signatures and playbooks: plain data in, plain data out.
//!
//! - [`version`]: parsing and ordering releases (`0.14.0rc1 < 0.14.0`).
//! - [`detect`]: the head of the crashed container's log (banners such as
//!   "vLLM API server version X", llama.cpp's "build: N (sha)", and the
//!   settings dumps of vLLM, SGLang and TGI), and version-like image tags.
//! - [`table`]: `engines/*.yaml`, the engine-flag table: per engine and
//!   flag, the releases that accept it, its special values (`auto`), its
//!   defaults per release and GPU, env aliases, deprecations and
//!   replacements; every row cites the file and release it was read from.
//! - [`resolve`]: a flag's effective value (printed in the log, else given
//!   in the container's args or env, else the table's default for the
//!   version and GPU) and the guards every plan step passes: the running
//!   version accepts the flag and value, and a raise or a lower really moves
//!   the effective value that way.
//!
//! Where the version comes from, in order: the log head ([`VersionSource::Log`]),
//! an official image's release tag ([`VersionSource::Image`]), else unknown
//! (`null`). A Ready sibling's endpoint (`/version`, `/info`) is not read:
//! [`VersionSource::Endpoint`] is reserved for it.

pub mod detect;
pub mod resolve;
pub mod spec;
pub mod table;
pub mod version;

use std::collections::BTreeMap;

use serde::Serialize;

pub use detect::{HEAD_BYTES, LogFacts, read_head, version_from_image};
pub use resolve::{Effective, Gpu, Setup};
pub use table::{Engine, EngineTable};
pub use version::{Range, Version};

/// Where a version was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VersionSource {
    /// A banner in the head of the crashed container's log.
    Log,
    /// The image tag of the engine's official image.
    Image,
    /// A Ready sibling's version endpoint (not read yet).
    Endpoint,
}

impl VersionSource {
    /// Its name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionSource::Log => "log",
            VersionSource::Image => "image",
            VersionSource::Endpoint => "endpoint",
        }
    }
}

/// What is known of the engine that crashed (the triage JSON's `engine`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineInfo {
    /// `vllm`, `sglang`, `tgi`, `llama.cpp`, `triton`, `ollama` or `other`.
    pub name: String,
    /// The version, or null when unknown.
    pub version: Option<Version>,
    /// Where the version came from, or null.
    pub version_source: Option<VersionSource>,
    /// The banner line the version was read from (`{line, text}`), when from the log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_evidence: Option<crate::diagnosis::EvidenceLine>,
    /// Settings the engine printed at start-up, by its own key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
}

impl EngineInfo {
    /// Identifies the engine from what its log printed and its container
    /// (image and command line): the log's engine when the image does not
    /// name a known one, the log's version, else the official image's tag.
    pub fn identify(log: &LogFacts, image: Option<&str>, command_line: &str) -> Self {
        let from_image = crate::playbook::plan::detect_server(image.unwrap_or_default(), command_line);
        let name = match (from_image, log.engine) {
            ("other", Some(l)) => l,
            (i, _) => i,
        };
        let (version, version_source, version_evidence) = match (&log.version, log.engine) {
            (Some(v), Some(e)) if e == name => (
                Some(v.clone()),
                Some(VersionSource::Log),
                log.version_line
                    .as_ref()
                    .map(|(line, text)| crate::diagnosis::EvidenceLine { line: *line, text: text.clone() }),
            ),
            _ => match image.and_then(|i| version_from_image(name, i)) {
                Some(v) => (Some(v), Some(VersionSource::Image), None),
                None => (None, None, None),
            },
        };
        let settings = if log.engine == Some(name) { log.settings.clone() } else { BTreeMap::new() };
        EngineInfo { name: name.to_owned(), version, version_source, version_evidence, settings }
    }

    /// An engine known by name only.
    pub fn named(name: &str) -> Self {
        EngineInfo {
            name: name.to_owned(),
            version: None,
            version_source: None,
            version_evidence: None,
            settings: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests;
