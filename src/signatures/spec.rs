//! The YAML shape of `patterns/*.yaml`, mirrored one to one. Nothing here is
//! validated beyond the shape; `compile` turns it into a `SignatureSet`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// One `patterns/*.yaml` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The signatures of this file.
    pub signatures: Vec<SignatureSpec>,
}

/// One signature as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureSpec {
    /// Unique id, kebab-case.
    pub id: Spanned<String>,
    /// One of the fixed failure class ids.
    pub class: Spanned<String>,
    /// Finer detail, free kebab-case text.
    pub subclass: String,
    /// One line for humans.
    pub title: String,
    /// Optional sentence with `{capture}` placeholders.
    #[serde(default)]
    pub summary: Option<Spanned<String>>,
    /// Servers whose logs carry this line.
    pub servers: Spanned<Vec<String>>,
    /// Literal fragments for the prefilter (ASCII case-insensitive).
    pub anchors: Spanned<Vec<String>>,
    /// Confirming regex with named captures.
    pub regex: Spanned<String>,
    /// How surely one matching line means this class, in (0, 1].
    pub weight: Spanned<f64>,
    /// Where the wording comes from.
    pub references: Spanned<Vec<String>>,
    /// Literal fragments (ASCII case-insensitive) that, anywhere in the same
    /// log tail, show this signature's line to be a consequence of another
    /// failure: its hits are then dropped from the diagnosis.
    #[serde(default)]
    pub unless: Option<Spanned<Vec<String>>>,
    /// Lines that must and must not match.
    pub examples: Spanned<ExamplesSpec>,
}

/// A signature's own test cases.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExamplesSpec {
    /// Lines that must match (with expected captures, optionally).
    #[serde(rename = "match")]
    pub matching: Vec<ExampleSpec>,
    /// Near misses that must not match.
    pub no_match: Vec<String>,
}

/// A positive example: a bare line, or a line with the captures it must give.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ExampleSpec {
    /// Just the line.
    Line(String),
    /// The line and expected capture values.
    WithCaptures {
        /// The line.
        line: String,
        /// Capture name → expected text.
        captures: BTreeMap<String, String>,
    },
}

impl ExampleSpec {
    /// The example's line.
    pub fn line(&self) -> &str {
        match self {
            ExampleSpec::Line(l) | ExampleSpec::WithCaptures { line: l, .. } => l,
        }
    }
}
