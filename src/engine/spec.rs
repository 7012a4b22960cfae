//! The YAML shape of `engines/*.yaml`, mirrored one to one; the compile
//! pass in [`super::table`] validates it. See `engines/README.md`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// One `engines/*.yaml` file: one engine.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSpec {
    /// The server id (`vllm`, `sglang`, `tgi`, `llama.cpp`), as playbooks name it.
    pub engine: Spanned<String>,
    /// How people write its name (`vLLM`).
    pub title: String,
    /// Where the facts were read (a package registry, a repository).
    pub source: String,
    /// The releases the table was read from, oldest first: the versions it
    /// supports. A plan for an unknown version keeps to what every one of
    /// them accepts.
    pub releases: Spanned<Vec<String>>,
    /// Releases the table's author looked for and did not find, with why
    /// (said in `podmedic check` output and the docs, never guessed).
    #[serde(default)]
    pub missing_releases: Vec<String>,
    /// The flags.
    pub flags: Vec<Spanned<FlagSpec>>,
}

/// One command-line flag.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagSpec {
    /// The long flag, with its dashes (`--max-model-len`).
    pub flag: Spanned<String>,
    /// Other spellings the parser accepts (`-c`, `--gpu-layers`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `int`, `float`, `bool` (a switch) or `string`.
    #[serde(rename = "type")]
    pub ty: Spanned<String>,
    /// Its name in the engine's printed settings (vLLM's "non-default args",
    /// SGLang's `server_args=`, TGI's `Args {..}`); default: the flag in
    /// snake_case.
    #[serde(default)]
    pub key: Option<String>,
    /// Environment variables the engine reads it from (TGI's
    /// `MAX_TOTAL_TOKENS`, llama.cpp's `LLAMA_ARG_CTX_SIZE`).
    #[serde(default)]
    pub env: Vec<String>,
    /// First release that accepts it (absent: every release in the table).
    #[serde(default)]
    pub since: Option<Spanned<String>>,
    /// First release that no longer accepts it.
    #[serde(default)]
    pub until: Option<Spanned<String>>,
    /// What to use instead once it is gone or deprecated.
    #[serde(default)]
    pub replacement: Option<String>,
    /// Deprecated (still accepted, with a warning) from this release.
    #[serde(default)]
    pub deprecated_since: Option<Spanned<String>>,
    /// Smallest value accepted.
    #[serde(default)]
    pub min: Option<f64>,
    /// Whether `min` itself is refused (`gt=0`).
    #[serde(default)]
    pub min_exclusive: bool,
    /// Largest value accepted.
    #[serde(default)]
    pub max: Option<f64>,
    /// Special values (`auto`, `-1`) and the releases that accept them.
    #[serde(default)]
    pub forms: Vec<Spanned<FormSpec>>,
    /// The default when the flag is not given, first matching entry wins.
    #[serde(default)]
    pub defaults: Vec<Spanned<DefaultSpec>>,
    /// `file @ release` the flag was read from.
    pub source: Spanned<String>,
    /// For people.
    #[serde(default)]
    pub note: Option<String>,
}

/// A special value of a flag.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormSpec {
    /// The value as written (`auto`).
    pub value: String,
    /// What the engine does with it.
    pub means: String,
    /// First release that accepts it.
    #[serde(default)]
    pub since: Option<Spanned<String>>,
    /// First release that no longer accepts it.
    #[serde(default)]
    pub until: Option<Spanned<String>>,
    /// `file @ release`.
    pub source: Spanned<String>,
}

/// A default value for some releases, maybe only on some hardware.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultSpec {
    /// First release it holds for.
    #[serde(default)]
    pub since: Option<Spanned<String>>,
    /// First release it no longer holds for.
    #[serde(default)]
    pub until: Option<Spanned<String>>,
    /// Conditions, all of which must hold.
    #[serde(default)]
    pub when: Option<WhenSpec>,
    /// The value; absent when the engine computes it at start-up (`computed`).
    #[serde(default)]
    pub value: Option<ValueSpec>,
    /// How the engine computes it, when there is no fixed value.
    #[serde(default)]
    pub computed: Option<String>,
    /// `file @ release`.
    pub source: Spanned<String>,
}

/// Hardware and configuration conditions of a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenSpec {
    /// The GPU has at least this many GiB (node label `nvidia.com/gpu.memory`).
    #[serde(default)]
    pub gpu_memory_gib_at_least: Option<f64>,
    /// The GPU has less than this many GiB.
    #[serde(default)]
    pub gpu_memory_gib_below: Option<f64>,
    /// The GPU's product name (`nvidia.com/gpu.product`) contains none of these (case-insensitive).
    #[serde(default)]
    pub gpu_product_excludes: Vec<String>,
    /// The GPU's product name contains one of these (case-insensitive).
    #[serde(default)]
    pub gpu_product_includes: Vec<String>,
    /// The pod runs on an NVIDIA GPU (node GPU labels or an `nvidia.com/gpu` limit).
    #[serde(default)]
    pub cuda: Option<bool>,
    /// None of these flags is set.
    #[serde(default)]
    pub unset: Vec<String>,
    /// These environment variables have these values.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// A value in the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ValueSpec {
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Num(f64),
    /// Text.
    Text(String),
}
