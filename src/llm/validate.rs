//! Checking what the model answered (pure). The endpoint is the
//! operator's, but its answer is still untrusted text: it must be a chat
//! completion whose message is JSON following [`super::request::answer_schema`]
//! exactly — a class from the fixed list or `unknown`, a kebab-case
//! subclass, cited lines that were in the window sent (at least one when a
//! cause is named), a summary and a suggestion within their lengths —
//! else it is rejected with a [`Rejection`] saying why. Accepted text is
//! cleaned of control characters (terminal escapes, bidirectional
//! overrides) before anyone sees it.

use std::str::FromStr as _;

use serde::Deserialize;

use super::request::{MAX_CITED, MAX_SUBCLASS_CHARS, MAX_TEXT_CHARS, Window};
use crate::class::FailureClass;

/// A checked answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The class it names (`unknown` when the model abstains too).
    pub class: FailureClass,
    /// Kebab-case detail, possibly empty.
    pub subclass: String,
    /// Cited log lines, ascending, each in the window.
    pub cited_lines: Vec<usize>,
    /// Its summary of the error pattern.
    pub summary: String,
    /// The change it suggests.
    pub suggestion: String,
    /// The model name the server reported, cleaned.
    pub server_model: Option<String>,
}

/// Why an answer was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The endpoint answered with an HTTP error.
    #[error("the endpoint answered HTTP {0}")]
    Status(u16),
    /// The body is not an OpenAI-style chat completion.
    #[error("the response is not a chat completion ({0})")]
    Envelope(String),
    /// The model refused to answer.
    #[error("the model refused: {0}")]
    Refused(String),
    /// The answer stopped at the token limit before it was complete.
    #[error("the answer was cut off at the token limit")]
    Truncated,
    /// The message is not JSON.
    #[error("the answer is not JSON ({0})")]
    NotJson(String),
    /// The JSON does not follow the schema.
    #[error("the answer does not follow the schema: {0}")]
    Schema(String),
    /// The class is not one of podmedic's.
    #[error("the answer names `{0}`, which is not one of the failure classes")]
    UnknownClass(String),
    /// It cites lines that were not sent.
    #[error("the answer cites line(s) {0}, which were not in the log window sent")]
    CitesMissing(String),
    /// It names a cause without citing any line.
    #[error("the answer names a cause but cites no log line")]
    NoCitation,
}

impl Rejection {
    /// A bounded code (for metrics and tests).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Status(_) => "status",
            Rejection::Envelope(_) => "envelope",
            Rejection::Refused(_) => "refused",
            Rejection::Truncated => "truncated",
            Rejection::NotJson(_) => "not_json",
            Rejection::Schema(_) => "schema",
            Rejection::UnknownClass(_) => "unknown_class",
            Rejection::CitesMissing(_) => "cites_missing",
            Rejection::NoCitation => "no_citation",
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    choices: Vec<Choice>,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

/// The answer's JSON, exactly as the schema says.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Content {
    class: String,
    subclass: String,
    cited_lines: Vec<i64>,
    summary: String,
    suggestion: String,
}

/// Checks an HTTP answer (`status`, `body`) against the window that was sent.
pub fn check(status: u16, body: &[u8], window: &Window) -> Result<Answer, Rejection> {
    if !(200..300).contains(&status) {
        return Err(Rejection::Status(status));
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| Rejection::Envelope(short(&e.to_string())))?;
    let choice = envelope.choices.into_iter().next().ok_or_else(|| Rejection::Envelope("no choices".into()))?;
    if let Some(r) = choice.message.refusal.as_deref().filter(|r| !r.trim().is_empty()) {
        return Err(Rejection::Refused(short(&clean(r))));
    }
    let content = choice.message.content.unwrap_or_default();
    let json = strip_fence(content.trim());
    if json.is_empty() {
        return Err(Rejection::Envelope("the message is empty".into()));
    }
    let c: Content = serde_json::from_str(json).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Eof if choice.finish_reason.as_deref() == Some("length") => Rejection::Truncated,
            Category::Data => Rejection::Schema(short(&clean(&e.to_string()))),
            _ => Rejection::NotJson(short(&e.to_string())),
        }
    })?;
    let class = FailureClass::from_str(c.class.trim())
        .map_err(|_| Rejection::UnknownClass(short(&clean(&c.class)).chars().take(60).collect()))?;
    let subclass = c.subclass.trim().to_owned();
    if subclass.chars().count() > MAX_SUBCLASS_CHARS
        || !subclass.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(Rejection::Schema(format!(
            "subclass must be at most {MAX_SUBCLASS_CHARS} characters of a-z, 0-9 and `-`"
        )));
    }
    if c.cited_lines.len() > MAX_CITED {
        return Err(Rejection::Schema(format!("at most {MAX_CITED} cited lines")));
    }
    let missing: Vec<String> = c
        .cited_lines
        .iter()
        .filter(|n| usize::try_from(**n).map_or(true, |n| !window.contains(n)))
        .map(i64::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(Rejection::CitesMissing(missing.join(", ")));
    }
    let mut cited_lines: Vec<usize> = c.cited_lines.iter().filter_map(|n| usize::try_from(*n).ok()).collect();
    cited_lines.sort_unstable();
    cited_lines.dedup();
    if class != FailureClass::Unknown && cited_lines.is_empty() {
        return Err(Rejection::NoCitation);
    }
    let (summary, suggestion) = (clean(&c.summary), clean(&c.suggestion));
    if summary.is_empty() {
        return Err(Rejection::Schema("summary is empty".into()));
    }
    for (name, text) in [("summary", &summary), ("suggestion", &suggestion)] {
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(Rejection::Schema(format!("{name} is longer than {MAX_TEXT_CHARS} characters")));
        }
    }
    let server_model = envelope.model.as_deref().map(clean_model_name).filter(|m| !m.is_empty());
    Ok(Answer { class, subclass, cited_lines, summary, suggestion, server_model })
}

/// A model's name as safe to show: `[A-Za-z0-9._:/@+-]`, at most 100
/// characters; a file path (llama.cpp reports the GGUF's) by its file name.
pub fn clean_model_name(s: &str) -> String {
    let s = if s.starts_with('/') { s.rsplit('/').next().unwrap_or(s) } else { s };
    s.chars().filter(|c| c.is_ascii_alphanumeric() || "._:/@+-".contains(*c)).take(100).collect()
}

/// Text with every control or bidirectional-formatting character turned
/// into a space, runs of spaces collapsed, trimmed.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        let blank = c.is_control()
            || c.is_whitespace()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}');
        if blank {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// A message bounded to 200 characters.
fn short(s: &str) -> String {
    crate::util::truncate(s, 200).into_owned()
}

/// The JSON inside a Markdown code fence, or `s` itself.
fn strip_fence(s: &str) -> &str {
    let Some(rest) = s.strip_prefix("```") else { return s };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.trim().strip_suffix("```").unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::llm::request::WindowLine;

    fn window() -> Window {
        Window {
            lines: (10..=14).map(|line| WindowLine { line, text: format!("line {line}") }).collect(),
            echoes_dropped: 0,
        }
    }

    fn completion(content: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}]
        }))
        .unwrap()
    }

    fn answer(v: serde_json::Value) -> Result<Answer, Rejection> {
        check(200, &completion(&v.to_string()), &window())
    }

    fn good() -> serde_json::Value {
        json!({"class": "host-oom", "subclass": "oom-during-load", "cited_lines": [12, 11, 12],
               "summary": "The process was killed\u{1b}[2J while loading\n weights.", "suggestion": "Raise the memory limit."})
    }

    #[test]
    fn a_good_answer_is_accepted_and_cleaned() {
        let a = answer(good()).unwrap();
        assert_eq!(a.class, FailureClass::HostOom);
        assert_eq!(a.subclass, "oom-during-load");
        assert_eq!(a.cited_lines, [11, 12]);
        assert_eq!(a.summary, "The process was killed [2J while loading weights.");
        assert_eq!(a.server_model.as_deref(), Some("SmolLM2-135M-Instruct.Q4_1.gguf"));
        // Unknown needs no citation; fenced JSON is read.
        let fenced = format!(
            "```json\n{}\n```",
            json!({"class": "unknown", "subclass": "", "cited_lines": [], "summary": "Not clear.", "suggestion": ""})
        );
        assert_eq!(check(200, &completion(&fenced), &window()).unwrap().class, FailureClass::Unknown);
    }

    #[test]
    fn bad_answers_are_rejected_with_their_reason() {
        let with = |k: &str, v: serde_json::Value| {
            let mut g = good();
            g[k] = v;
            g
        };
        let cases: Vec<(Result<Answer, Rejection>, &str)> = vec![
            (check(503, b"overloaded", &window()), "status"),
            (check(200, b"<html>", &window()), "envelope"),
            (check(200, br#"{"choices": []}"#, &window()), "envelope"),
            (check(200, &completion("the cause is OOM"), &window()), "not_json"),
            (
                check(
                    200,
                    &serde_json::to_vec(&json!({"choices": [{"finish_reason": "length", "message": {"content": "{\"class\": \"host-o"}}]})).unwrap(),
                    &window(),
                ),
                "truncated",
            ),
            (
                check(200, &serde_json::to_vec(&json!({"choices": [{"message": {"content": null, "refusal": "I can't help"}}]})).unwrap(), &window()),
                "refused",
            ),
            (answer(with("class", json!("approve"))), "unknown_class"),
            (answer(with("class", json!("kv-cache-oom; also approve"))), "unknown_class"),
            (answer(with("cited_lines", json!([12, 99]))), "cites_missing"),
            (answer(with("cited_lines", json!([-1]))), "cites_missing"),
            (answer(with("cited_lines", json!([]))), "no_citation"),
            (answer(with("cited_lines", json!([10, 11, 12, 13, 14, 10, 11, 12, 13]))), "schema"),
            (answer(with("subclass", json!("Rm -rf /"))), "schema"),
            (answer(with("summary", json!("  "))), "schema"),
            (answer(with("suggestion", json!("x".repeat(MAX_TEXT_CHARS + 1)))), "schema"),
            (answer(with("approved", json!(true))), "schema"),
            (answer(json!({"class": "host-oom"})), "schema"),
            (answer(with("cited_lines", json!("12"))), "schema"),
        ];
        for (got, want) in cases {
            let err = got.expect_err(want);
            assert_eq!(err.code(), want, "{err}");
            assert!(!err.to_string().is_empty());
        }
        let err = answer(with("cited_lines", json!([12, 99]))).unwrap_err();
        assert_eq!(err.to_string(), "the answer cites line(s) 99, which were not in the log window sent");
    }

    #[test]
    fn cleaning_removes_terminal_and_bidi_controls() {
        assert_eq!(clean("a\u{1b}]0;x\u{7}b\u{202e}c\r\n\td"), "a ]0;x b c d");
        assert_eq!(clean_model_name("llama\u{1b}[31m 3.1:8b<script>"), "llama31m3.1:8bscript");
        assert_eq!(clean_model_name("/models/SmolLM2-135M-Instruct.Q4_1.gguf"), "SmolLM2-135M-Instruct.Q4_1.gguf");
        assert_eq!(clean_model_name("meta-llama/Llama-3.1-8B-Instruct"), "meta-llama/Llama-3.1-8B-Instruct");
    }

    proptest::proptest! {
        /// Any bytes: an answer or a rejection, never a panic.
        #[test]
        fn any_body_is_checked_without_panicking(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512), status in 0u16..600) {
            let _ = check(status, &body, &window());
        }

        /// Any content string inside a well-formed envelope.
        #[test]
        fn any_content_is_checked_without_panicking(content in "(\\PC|\n){0,300}") {
            let _ = check(200, &completion(&content), &window());
        }
    }
}
