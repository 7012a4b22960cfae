//! A second opinion from the operator's own model when podmedic cannot
//! name a cause: synthesis, never autonomy.
//!
//! Off unless `--llm-url` names an OpenAI-compatible endpoint (llama.cpp's
//! server, vLLM, TGI, Ollama, a hosted API); requests go to
//! `{llm-url}/chat/completions`. With it off nothing here runs: no client
//! is built, no connection is made.
//!
//! # Flow
//!
//! 1. **When** ([`trigger`]): only when the fused diagnosis abstains
//!    (`unknown`), or when the signature library and the classifier
//!    disagree and the decision's confidence is below
//!    `--llm-disagree-below`. Never for a confident diagnosis.
//! 2. **Budget** ([`budget`]): at most `--llm-max-concurrent` calls at once
//!    and `--llm-calls-per-hour` per sliding hour; a call over budget is
//!    not made. The controller asks once per workload and reading in half
//!    an hour ([`Llm::consult_for`]): a crash loop's restarts reuse the answer.
//! 3. **What is sent** ([`request`]): the last `--llm-log-lines` lines of the
//!    previous container's log (normalised, each and all bounded), exit
//!    code and reason, resources and limits, the node's GPU labels, recent
//!    Events and podmedic's own candidate classes with their evidence —
//!    with request echoes dropped ([`echo`]) and secrets redacted
//!    ([`redact`]), and a JSON Schema for the answer (`response_format`).
//! 4. **The call** ([`client`]): one POST over the project's hyper + rustls
//!    stack, the API key (`--llm-api-key-file`) as a bearer token, the whole
//!    exchange (slot wait included) bounded by `--llm-timeout`, the answer
//!    by 64 KiB.
//! 5. **What comes back is checked** ([`validate`]): a class from the fixed
//!    list or `unknown`, a subclass, cited lines that were in the window
//!    sent, a summary, a suggestion as text; anything else is rejected with
//!    its reason.
//! 6. **How it is used** ([`adopt`]): the result is an [`Opinion`], labelled
//!    as the model's, shown in the proposal, the JSON line, the chat
//!    message and triage's output. When podmedic abstained and the model
//!    names a class, that class becomes the diagnosis with source `llm`,
//!    confidence 0 and the model's cited lines as evidence; otherwise the
//!    diagnosis is unchanged.
//!
//! # Guarantees
//!
//! - **Advice only.** A diagnosis whose class came from the model selects
//!   only playbooks that change nothing (notify-only), always needs a
//!   human's approval ([`crate::playbook::PlaybookSet::plan`] enforces it),
//!   and carries no captured values: every value a patch writes is
//!   computed by podmedic's own code from captures and pod facts.
//! - **Failure changes nothing else.** A timeout, an HTTP error, a refusal,
//!   a malformed or off-schema answer or a spent budget yields an opinion
//!   with `accepted: false` and the reason; the diagnosis and the proposal
//!   go out as they would have without it, and say so.
//! - **Nothing secret leaves.** The API key is a [`Secret`] (never logged,
//!   `Debug` prints `[redacted]`); the request body is redacted (property
//!   tested: a secret embedded anywhere in the log never reaches it);
//!   request echoes are not sent.

pub mod budget;
pub mod client;
pub mod echo;
pub mod eval;
pub mod redact;
pub mod request;
pub mod validate;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::chatops::Secret;
use crate::class::FailureClass;
use crate::diagnosis::{Diagnosis, EvidenceLine, Source};
pub use client::Llm;

/// How every opinion is labelled where people see it.
pub const LABEL: &str = "second opinion of the operator's model: advice only, not verified by podmedic";

/// Why the model was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// podmedic's fused diagnosis abstained (`unknown`).
    Abstained,
    /// The signature library and the classifier disagreed, below the threshold.
    Disagreement,
}

impl Trigger {
    /// The serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Abstained => "abstained",
            Trigger::Disagreement => "disagreement",
        }
    }
}

/// What became of one consultation (a bounded metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The answer passed every check.
    Accepted,
    /// An answer came and failed a check.
    Rejected,
    /// No answer within `--llm-timeout`.
    Timeout,
    /// The exchange failed (connection refused, reset, answer too large).
    Error,
    /// Not asked: the budget was spent or every slot stayed busy.
    Budget,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::Timeout => "timeout",
            Outcome::Error => "error",
            Outcome::Budget => "budget",
        }
    }
}

/// The model's second opinion on one crash, accepted or not: the `llm`
/// object of `triage --output json` (a contract: at least `model`,
/// `class`, `subclass`, `summary`, `suggestion`, `cited_lines`,
/// `accepted`, and `reason` when not accepted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Opinion {
    /// The model that answered: `--llm-model`, else the name the server reported.
    pub model: String,
    /// The class it named; null when no answer was usable.
    pub class: Option<FailureClass>,
    /// Its subclass (kebab-case, possibly empty).
    pub subclass: String,
    /// Its summary of the error pattern.
    pub summary: String,
    /// The change it suggests, as text for a person.
    pub suggestion: String,
    /// Line numbers it cited, each in the window it was sent.
    pub cited_lines: Vec<usize>,
    /// Whether the answer passed every check.
    pub accepted: bool,
    /// Why it was not used; null when accepted.
    pub reason: Option<String>,
    /// What became of the call.
    pub outcome: Outcome,
    /// Why it was asked.
    pub trigger: Trigger,
    /// How long the call took, in milliseconds.
    pub latency_ms: u64,
    /// Log lines in the window sent.
    pub window_lines: usize,
    /// Request-echo lines left out of the window.
    pub echoes_dropped: usize,
    /// [`LABEL`].
    pub label: &'static str,
    /// The cited lines with the text that was sent for them.
    #[serde(skip)]
    pub cited: Vec<EvidenceLine>,
    /// An earlier answer for the same workload and reading, given again
    /// without a request ([`Llm::consult_for`]); not counted as a request.
    #[serde(skip)]
    pub reused: bool,
}

impl Opinion {
    /// An opinion that carries no answer, only why.
    pub fn unavailable(model: &str, trigger: Trigger, outcome: Outcome, reason: String, latency_ms: u64) -> Self {
        Opinion {
            model: model.to_owned(),
            class: None,
            subclass: String::new(),
            summary: String::new(),
            suggestion: String::new(),
            cited_lines: Vec::new(),
            accepted: false,
            reason: Some(reason),
            outcome,
            trigger,
            latency_ms,
            window_lines: 0,
            echoes_dropped: 0,
            label: LABEL,
            cited: Vec::new(),
            reused: false,
        }
    }

    /// One line for people: `host-oom / oom-while-loading: summary`, or why it is missing.
    pub fn headline(&self) -> String {
        match (self.accepted, self.class) {
            (true, Some(c)) => {
                let sub = if self.subclass.is_empty() { String::new() } else { format!(" / {}", self.subclass) };
                format!("{c}{sub}: {}", self.summary)
            }
            _ => format!("not used: {}", self.reason.as_deref().unwrap_or("no answer")),
        }
    }
}

/// Whether (and why) to ask the model about diagnosis `d`.
pub fn trigger(d: &Diagnosis, disagree_below: f64) -> Option<Trigger> {
    if d.class == FailureClass::Unknown {
        return Some(Trigger::Abstained);
    }
    if d.confidence >= disagree_below {
        return None;
    }
    let disagree = match d.source {
        // The library decided; the classifier named another cause.
        Source::Signature => d.model.as_ref().is_some_and(|m| m.class != d.class && m.class != FailureClass::Unknown),
        // The classifier overrode signature evidence for another class.
        Source::Model => !d.signatures.is_empty() || d.alternatives.iter().any(|a| a.score > 0.0),
        Source::Both | Source::None | Source::Llm => false,
    };
    disagree.then_some(Trigger::Disagreement)
}

/// Folds an opinion into the diagnosis: when podmedic abstained and the
/// model's accepted answer names a class, the diagnosis takes that class
/// with source `llm`, confidence 0 (podmedic itself is not confident),
/// the model's subclass, its cited lines as evidence and a summary that
/// says whose reading it is. Captures stay podmedic's own (none, for an
/// abstention), so no playbook parameter is read from the model. In every
/// other case the diagnosis is left as it is.
pub fn adopt(d: &mut Diagnosis, op: &Opinion) {
    let Some(class) = op.class else { return };
    if !op.accepted
        || op.trigger != Trigger::Abstained
        || d.class != FailureClass::Unknown
        || class == FailureClass::Unknown
    {
        return;
    }
    d.class = class;
    d.subclass = if op.subclass.is_empty() { format!("{class}-llm") } else { op.subclass.clone() };
    d.confidence = 0.0;
    d.source = Source::Llm;
    d.evidence = op.cited.clone();
    d.summary = format!(
        "The operator's model ({}) reads this as {class}: {} (its opinion, not verified by podmedic, which found no cause certain enough.)",
        op.model,
        op.summary.trim_end_matches('.')
    );
    d.captures.clear();
}

/// Flags of the second opinion, shared by `podmedic run`, `triage` and `eval`.
///
/// The URL's variable is `PODMEDIC_LLM_BASE_URL`, not `PODMEDIC_LLM_URL`:
/// the test suite exports `PODMEDIC_LLM_URL` to point its own tests at the
/// local llama.cpp server, and that must not turn the feature on in every
/// other test that starts podmedic.
#[derive(Debug, Clone, clap::Args)]
pub struct LlmArgs {
    /// Ask the operator's own model for a second opinion when podmedic
    /// abstains: an OpenAI-compatible base URL (e.g.
    /// `http://127.0.0.1:8080/v1`; requests go to `{url}/chat/completions`).
    /// Off when empty.
    #[arg(id = "llm-url", long = "llm-url", env = "PODMEDIC_LLM_BASE_URL", value_name = "URL")]
    pub url: Option<String>,
    /// The model name sent in each request (and shown with its opinions);
    /// by default the name the server reports.
    #[arg(id = "llm-model", long = "llm-model", env = "PODMEDIC_LLM_MODEL", value_name = "NAME")]
    pub model: Option<String>,
    /// File holding the endpoint's API key (sent as a bearer token), e.g. a
    /// mounted Secret; never logged.
    #[arg(id = "llm-api-key-file", long = "llm-api-key-file", env = "PODMEDIC_LLM_API_KEY_FILE", value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Time limit of one consultation, waiting for a free slot included.
    #[arg(id = "llm-timeout", long = "llm-timeout", env = "PODMEDIC_LLM_TIMEOUT", default_value = "30s", value_parser = crate::controller::config::parse_duration)]
    pub timeout: Duration,
    /// Most calls in any sliding hour; further crashes get no second opinion.
    #[arg(id = "llm-calls-per-hour", long = "llm-calls-per-hour", env = "PODMEDIC_LLM_CALLS_PER_HOUR", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub calls_per_hour: u32,
    /// Most calls at the same time.
    #[arg(id = "llm-max-concurrent", long = "llm-max-concurrent", env = "PODMEDIC_LLM_MAX_CONCURRENT", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_concurrent: u32,
    /// Trailing log lines sent (after request echoes are dropped).
    #[arg(id = "llm-log-lines", long = "llm-log-lines", env = "PODMEDIC_LLM_LOG_LINES", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub log_lines: u32,
    /// Also ask when signatures and classifier disagree and the decision's
    /// confidence is below this (0 turns that off).
    #[arg(
        id = "llm-disagree-below",
        long = "llm-disagree-below",
        env = "PODMEDIC_LLM_DISAGREE_BELOW",
        default_value_t = 0.7
    )]
    pub disagree_below: f64,
}

/// The checked settings of an enabled second opinion.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `{url}/chat/completions`.
    pub endpoint: String,
    /// `--llm-model`.
    pub model: Option<String>,
    /// The API key.
    pub api_key: Option<Secret>,
    /// `--llm-timeout`.
    pub timeout: Duration,
    /// `--llm-calls-per-hour`.
    pub calls_per_hour: usize,
    /// `--llm-max-concurrent`.
    pub max_concurrent: usize,
    /// `--llm-log-lines`.
    pub log_lines: usize,
    /// `--llm-disagree-below`.
    pub disagree_below: f64,
}

/// A second-opinion configuration podmedic refuses.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// `--llm-url` is not an http(s) URL.
    #[error("--llm-url must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080/v1 ({0})")]
    BadUrl(&'static str),
    /// The API key file cannot be used.
    #[error("--llm-api-key-file")]
    ApiKey(#[source] crate::chatops::secret::SecretFileError),
    /// `--llm-disagree-below` is outside 0..=1.
    #[error("--llm-disagree-below must be between 0 and 1")]
    Threshold,
    /// The HTTP client could not be built.
    #[error("building the HTTP client")]
    Http(#[source] crate::chatops::outbound::OutboundError),
}

impl LlmArgs {
    /// The settings, or `None` when `--llm-url` is unset or empty (the feature is off).
    pub fn settings(&self) -> Result<Option<Settings>, LlmError> {
        let Some(url) = self.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(None);
        };
        let uri: http::Uri = url.parse().map_err(|_| LlmError::BadUrl("not a URL"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(LlmError::BadUrl("the scheme is not http or https"));
        }
        let Some(authority) = uri.authority() else { return Err(LlmError::BadUrl("no host")) };
        if authority.as_str().contains('@') {
            return Err(LlmError::BadUrl("credentials in the URL; use --llm-api-key-file"));
        }
        if uri.query().is_some() {
            return Err(LlmError::BadUrl("a query string"));
        }
        if !(0.0..=1.0).contains(&self.disagree_below) {
            return Err(LlmError::Threshold);
        }
        let api_key = self.api_key_file.as_deref().map(Secret::from_file).transpose().map_err(LlmError::ApiKey)?;
        Ok(Some(Settings {
            endpoint: format!("{}/chat/completions", url.trim_end_matches('/')),
            model: self.model.as_deref().map(str::trim).filter(|m| !m.is_empty()).map(str::to_owned),
            api_key,
            timeout: self.timeout,
            calls_per_hour: self.calls_per_hour as usize,
            max_concurrent: self.max_concurrent as usize,
            log_lines: self.log_lines as usize,
            disagree_below: self.disagree_below,
        }))
    }
}

#[cfg(test)]
mod tests;
