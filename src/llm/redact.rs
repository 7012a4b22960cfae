//! Redaction of secrets from text that leaves the process.
//!
//! Everything podmedic sends to the operator's model passes through
//! [`LineRedactor`] twice: each raw log line before it is normalised (so a
//! secret is caught in the form it was written), and the whole assembled
//! prompt afterwards (so nothing that normalisation revealed, and no fact
//! outside the log, slips through). A secret is replaced by a marker that
//! names its kind, e.g. `[redacted:hf-token]`, so the model still knows a
//! token was there (which matters for a gated-repo download failure).
//!
//! What is recognised, in the order the rules run (earlier rules see the
//! text first, so a structured secret is removed whole before a looser
//! rule could take part of it):
//!
//! 1. private keys: PEM blocks (`-----BEGIN … PRIVATE KEY-----`) on one line
//!    or spread over several (every line until `-----END`), and lines that
//!    are nothing but base64;
//! 2. JSON Web Tokens (`eyJ….….…`);
//! 3. credentials in URLs (`scheme://user:password@`, a bare token as the
//!    user, and `sig=`, `token=`, `X-Amz-Signature=`… query parameters);
//! 4. HTTP credentials: `Authorization:`, `Proxy-Authorization:`,
//!    `X-Api-Key:`, `Cookie:` header values and `Bearer …`;
//! 5. tokens with a known shape: Hugging Face (`hf_…`, `api_org_…`), OpenAI
//!    and Anthropic (`sk-…`), GitHub (`ghp_…`, `github_pat_…`), GitLab
//!    (`glpat-…`), Slack (`xox?-…`, webhook paths), AWS access key ids
//!    (`AKIA…`), Google API keys (`AIza…`), Stripe-style (`sk_live_…`), npm;
//! 6. `key=value` and `key: value` pairs (plain, JSON, Python reprs, YAML)
//!    and `--flag value` arguments whose key names a password, secret,
//!    token or key (`HF_TOKEN=`, `"password": "…"`, `'api_key': '…'`,
//!    `AWS_SECRET_ACCESS_KEY=`, `--hf-token …`); `max_num_batched_tokens=`
//!    and the like are not keys of that kind and stay;
//! 7. anything else that looks random: a run of token characters holding
//!    an alphanumeric stretch of 20 or more with upper case, lower case and
//!    digits (hex digests, model names and paths do not qualify).
//!
//! Redaction errs on the side of removing: a false positive costs the
//! model a word, a false negative leaks a credential.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::{Captures, Regex};

/// The marker a secret of `kind` is replaced with.
pub fn marker(kind: &str) -> String {
    format!("[redacted:{kind}]")
}

struct Rule {
    kind: &'static str,
    re: Regex,
    /// How a match is replaced.
    how: How,
}

enum How {
    /// The whole match.
    Whole,
    /// Keep capture group 1 (the key, the scheme…), replace the rest.
    KeepPrefix,
    /// Keep groups 1 and 3, replace group 2.
    KeepAround,
    /// `key=value` with a weak key: replace group 2 only when the value
    /// looks like a credential (see [`weak_value_is_secret`]).
    WeakKey,
    /// Replace only when the match looks random (see [`looks_random`]).
    Random,
}

fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let r = |kind, how, re: &str| Rule { kind, how, re: Regex::new(re).expect("redaction rules compile") };
        // Keys whose value is always a secret, whatever the separator.
        const STRONG: &str = r"[A-Za-z0-9_.-]*?(?:password|passwd|passphrase|pwd|secret|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|account[_-]?key|signing[_-]?key|encryption[_-]?key|master[_-]?key|client[_-]?secret|[a-z0-9]+[_-]token|token[_-]?secret|session[_-]?id|cookie)";
        // Keys whose value is a secret when it looks like one.
        const WEAK: &str = r"(?:token|credentials?|auth|authentication|pass)";
        vec![
            r("private-key", How::Whole, r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)"),
            r("jwt", How::Whole, r"eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*"),
            r("password", How::KeepAround, r"(?i)(\b[a-z][a-z0-9+.-]{1,20}://[^\s/?#@:]*:)([^\s/?#]+)(@)"),
            r("credential", How::KeepAround, r"(?i)(\b[a-z][a-z0-9+.-]{1,20}://)([A-Za-z0-9_.~-]{16,})(@)"),
            r("credential", How::KeepPrefix, r"(?i)([?&;](?:sig|signature|token|access_token|id_token|refresh_token|api_key|apikey|key|password|passwd|secret|client_secret|code|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)=)[^&\s#]+"),
            r("slack-webhook", How::Whole, r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+"),
            r("credential", How::KeepPrefix, r#"(?i)(\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token|digest|negotiate|apikey)\s+)?)[^\s"',;]+"#),
            r("credential", How::KeepPrefix, r#"(?i)(\b(?:x-api-key|api-key|x-auth-token|x-access-token|x-goog-api-key|set-cookie|cookie)["']?\s*[:=]\s*["']?)[^\s"',]+(?:;[^\s"',]+)*"#),
            r("credential", How::KeepPrefix, r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
            r("hf-token", How::Whole, r"\b(?:hf_|api_org_)[A-Za-z0-9]{20,}"),
            r("api-key", How::Whole, r"\bsk-(?:proj-|ant-(?:api\d\d-|admin\d\d-)?|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
            r("github-token", How::Whole, r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
            r("gitlab-token", How::Whole, r"\bglpat-[A-Za-z0-9_-]{20,}"),
            r("slack-token", How::Whole, r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
            r("aws-access-key", How::Whole, r"(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{16}"),
            r("google-api-key", How::Whole, r"\bAIza[0-9A-Za-z_-]{30,}"),
            r("api-key", How::Whole, r"\b[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}"),
            r("npm-token", How::Whole, r"\bnpm_[A-Za-z0-9]{30,}"),
            r(
                "secret",
                How::KeepPrefix,
                r#"(?i)(--[a-z0-9-]*?(?:token|password|passwd|secret|api-key|apikey|access-key|secret-key|private-key)[ =])(?:"[^"]*"|'[^']*'|[^\s,;&)}\]]+)"#,
            ),
            r("secret", How::KeepPrefix, &format!(r#"(?i)(["']?\b{STRONG}\b["']?\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s,;&)}}\]]+)"#)),
            r("secret", How::WeakKey, &format!(r#"(?i)(["']?\b{WEAK}\b["']?\s*([:=])\s*)("[^"]*"|'[^']*'|[^\s,;&)}}\]]+)"#)),
            r("high-entropy", How::Random, r"[A-Za-z0-9+/=_-]{20,}"),
        ]
    })
}

/// Whether the value of a weak key (`token`, `auth`, `credentials`) is a
/// credential: after `=` or quoted always; after `:` when it is one long
/// word (a sentence like `token: expired` stays).
fn weak_value_is_secret(separator: &str, value: &str) -> bool {
    separator == "=" || value.starts_with(['"', '\'']) || value.len() >= 12
}

/// Whether a run of token characters looks random: it holds an
/// alphanumeric stretch of at least 20 characters with upper case, lower
/// case and digits.
fn looks_random(run: &str) -> bool {
    run.split(|c: char| !c.is_ascii_alphanumeric()).any(|seg| {
        seg.len() >= 20
            && seg.bytes().any(|b| b.is_ascii_uppercase())
            && seg.bytes().any(|b| b.is_ascii_lowercase())
            && seg.bytes().any(|b| b.is_ascii_digit())
    })
}

/// Applies every rule to one line (no PEM state across lines).
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out: Cow<'_, str> = Cow::Borrowed(text);
    for rule in rules() {
        if !rule.re.is_match(&out) {
            continue;
        }
        let m = marker(rule.kind);
        let replaced = rule.re.replace_all(&out, |c: &Captures<'_>| {
            let whole = &c[0];
            let group = |i: usize| c.get(i).map_or("", |g| g.as_str());
            let (before, secret, after) = match rule.how {
                How::Whole | How::Random => ("", whole, ""),
                How::KeepPrefix => (group(1), &whole[group(1).len()..], ""),
                How::KeepAround => (group(1), group(2), group(3)),
                How::WeakKey => (group(1), group(3), ""),
            };
            let keep = secret.trim_start_matches(['"', '\'']).starts_with("[redacted:")
                || matches!(rule.how, How::Random) && !looks_random(whole)
                || matches!(rule.how, How::WeakKey) && !weak_value_is_secret(group(2), secret);
            if keep {
                return whole.to_owned();
            }
            // A quoted value keeps its quotes, so JSON and reprs stay well formed.
            match secret.chars().next().filter(|q| matches!(q, '"' | '\'')) {
                Some(q) if secret.len() >= 2 && secret.ends_with(q) => format!("{before}{q}{m}{q}{after}"),
                _ => format!("{before}{m}{after}"),
            }
        });
        if let Cow::Owned(s) = replaced {
            out = Cow::Owned(s);
        }
    }
    out
}

/// Most lines a PEM block is assumed to span; a `BEGIN` without its `END`
/// stops hiding lines after this many.
const MAX_PEM_LINES: usize = 200;

/// Redacts a sequence of lines, remembering an open PEM private-key block
/// across them.
#[derive(Debug, Default)]
pub struct LineRedactor {
    /// Lines still to hide of an open PEM block (0 when none is open).
    in_pem: usize,
}

impl LineRedactor {
    /// A redactor with no block open.
    pub fn new() -> Self {
        LineRedactor::default()
    }

    /// The redacted form of the next line.
    pub fn line<'a>(&mut self, line: &'a str) -> Cow<'a, str> {
        if self.in_pem > 0 {
            self.in_pem -= 1;
            if line.contains("-----END ") {
                self.in_pem = 0;
            }
            return Cow::Owned(marker("private-key"));
        }
        if line.contains("PRIVATE KEY") && line.contains("-----BEGIN ") && !line.contains("-----END ") {
            self.in_pem = MAX_PEM_LINES;
        }
        if is_base64_line(line) {
            return Cow::Owned(marker("private-key"));
        }
        redact(line)
    }

    /// Redacts every line of `text` (split on `\n`), joined again by `\n`.
    pub fn text(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for (i, l) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&self.line(l));
        }
        out
    }
}

/// A line that is nothing but base64 (the body of a PEM block whose
/// `BEGIN` line fell out of the window, a key pasted alone).
fn is_base64_line(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 40
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        && t.bytes().any(|b| b.is_ascii_digit() || b == b'+' || b == b'/')
        && t.bytes().any(|b| b.is_ascii_uppercase())
        && t.bytes().any(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn red(s: &str) -> String {
        LineRedactor::new().text(s)
    }

    /// Real-looking secrets in the contexts logs print them in: each
    /// secret must be gone, its kind named.
    #[test]
    fn real_looking_secrets_are_removed() {
        let cases: &[(&str, &str, &str)] = &[
            // (line, the secret, the marker kind)
            (
                "huggingface_hub: using token hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567 from HF_TOKEN",
                "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
                "hf-token",
            ),
            ("HF_TOKEN=hf_kQzPLmWnXbVcRtYuIoPaSdFgHjKlZx12345", "hf_kQzPLmWnXbVcRtYuIoPaSdFgHjKlZx12345", "hf-token"),
            (
                "export OPENAI_API_KEY=sk-proj-4fGh7JkL9mNpQrStUvWxYz0123AbCdEfGhIjKlMnOpQ",
                "4fGh7JkL9mNpQrStUvWxYz0123AbCdEfGhIjKlMnOpQ",
                "api-key",
            ),
            (
                "client = Anthropic(api_key='sk-ant-api03-Xy7_kLmN0pQrStUvWxYz-AbCdEfGhIjKl12345')",
                "Xy7_kLmN0pQrStUvWxYz-AbCdEfGhIjKl12345",
                "api-key",
            ),
            (
                "aws_access_key_id = AKIAIOSFODNN7EXAMPLE aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "AKIAIOSFODNN7EXAMPLE",
                "aws-access-key",
            ),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "secret",
            ),
            (
                "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "secret",
            ),
            (
                "git clone https://ghp_R2d2C3poL0ngT0kenValue1234567890ab@github.com/org/repo",
                "ghp_R2d2C3poL0ngT0kenValue1234567890ab",
                "credential",
            ),
            (
                "GITHUB_TOKEN is github_pat_11ABCDEFG0aBcDeFgHiJkL_MnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOp",
                "github_pat_11ABCDEFG0aBcDeFgHiJkL_MnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOp",
                "github-token",
            ),
            (
                "Authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdCJ9.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
                "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
                "jwt",
            ),
            ("curl -H 'Authorization: Basic dXNlcjpodW50ZXIy' http://minio:9000/", "dXNlcjpodW50ZXIy", "credential"),
            ("request headers: {'x-api-key': 'a1b2c3d4e5f6g7h8'}", "a1b2c3d4e5f6g7h8", "credential"),
            ("connecting to postgres://llm:S3cr3t-P4ss@db.internal:5432/models", "S3cr3t-P4ss", "password"),
            (
                "fetching s3://bucket/model.safetensors?X-Amz-Signature=8f7e6d5c4b3a29180716&X-Amz-Credential=AKIDEXAMPLE%2F20260101",
                "8f7e6d5c4b3a29180716",
                "credential",
            ),
            ("db password=hunter2 host=db", "hunter2", "secret"),
            (r#"{"level":"info","config":{"password":"letmein"}}"#, "letmein", "secret"),
            ("settings: {'hf_token': 'xyz-plain-secret', 'max_tokens': 512}", "xyz-plain-secret", "secret"),
            ("vllm serve llama --hf-token plainsecretvalue --port 8000", "plainsecretvalue", "secret"),
            ("REDIS_PASSWORD: 'p@ss word'", "p@ss word", "secret"),
            ("token=abc123", "abc123", "secret"),
            (
                "posting to https://hooks.slack.com/services/T0123ABCD/B0456EFGH/aBcDeFgHiJkLmNoPqRsTuVwX",
                "aBcDeFgHiJkLmNoPqRsTuVwX",
                "slack-webhook",
            ),
            ("SLACK_BOT_TOKEN=xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "AbCdEfGhIjKlMnOp", "slack-token"),
            ("SLACK_SIGNING_SECRET=8f14e45fceea167a5a36dedd4bea2543", "8f14e45fceea167a5a36dedd4bea2543", "secret"),
            ("key xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp", "AbCdEfGhIjKlMnOp", "slack-token"),
            (
                "GOOGLE_KEY AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
                "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW",
                "google-api-key",
            ),
            ("stripe sk_live_51H8aBcDeFgHiJkLmNoPqRsT", "sk_live_51H8aBcDeFgHiJkLmNoPqRsT", "api-key"),
            ("glpat token glpat-Ab3dEf6hIj9kLm2nOp5q used", "glpat-Ab3dEf6hIj9kLm2nOp5q", "gitlab-token"),
            (
                "weird opaque value Zx81mQ2pL7vN4kR9tW3yB6cF0hJ5sD in a line",
                "Zx81mQ2pL7vN4kR9tW3yB6cF0hJ5sD",
                "high-entropy",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA7bq\\n-----END RSA PRIVATE KEY-----",
                "MIIEpAIBAAKCAQEA7bq",
                "private-key",
            ),
            ("Cookie: session=8d7f6e5a4b3c2d1e; theme=dark", "8d7f6e5a4b3c2d1e", "credential"),
        ];
        for (line, secret, kind) in cases {
            let out = red(line);
            assert!(!out.contains(secret), "{secret} survived in {out}");
            assert!(out.contains(&marker(kind)), "expected [redacted:{kind}] in {out}");
        }
    }

    #[test]
    fn multi_line_private_keys_are_hidden_until_their_end() {
        let pem = "loading key\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDxEXAMPLEKEYxEXAMPLEKEY\n-----END OPENSSH PRIVATE KEY-----\nserver started";
        let out = red(pem);
        assert!(!out.contains("b3BlbnNzaC1"), "{out}");
        assert!(!out.contains("QyNTUxOQ"), "{out}");
        assert!(out.starts_with("loading key\n"), "{out}");
        assert!(out.ends_with("\nserver started"), "the block ends at its END line: {out}");
        // A block whose BEGIN fell out of the window: bare base64 lines go.
        let tail = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\nINFO ready";
        assert_eq!(red(tail), format!("{}\nINFO ready", marker("private-key")));
    }

    /// The lines podmedic diagnoses from must reach the model intact.
    #[test]
    fn ordinary_error_lines_are_left_alone() {
        let lines = [
            "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20144). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.15 GiB of which 1.06 GiB is free.",
            "INFO 06-25 01:45:57 cli_args.py:1964] non-default args: {'model': 'meta-llama/Llama-3.1-8B-Instruct', 'max_model_len': 8192, 'max_num_batched_tokens': 16384, 'tensor_parallel_size': 1}",
            "RuntimeError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1970, unhandled cuda error (run with NCCL_DEBUG=INFO for details), NCCL version 2.21.5",
            "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.",
            "huggingface_hub.errors.GatedRepoError: 401 Client Error. Cannot access gated repo for url https://huggingface.co/meta-llama/Llama-3.1-8B/resolve/main/config.json.",
            "OSError: /root/.cache/huggingface/hub/models--Qwen--Qwen2.5-7B-Instruct/snapshots/a09a35458c702b33eeacc393d103063234e8bc28/model-00001-of-00004.safetensors: No space left on device",
            "Invalid token provided: the token has expired",
            "loading image sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
            "Mistral-Small-24B-Instruct-2501-GGUF-Q4_K_M loaded with max_tokens=4096 pad_token_id=0",
            "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!",
        ];
        for l in lines {
            assert_eq!(red(l), l, "changed a line that holds no secret");
        }
    }

    /// A secret of a known shape, with an alphanumeric body of mixed case
    /// and digits as real ones have.
    fn secret() -> impl Strategy<Value = String> {
        let body = |n: std::ops::Range<usize>| {
            proptest::string::string_regex(&format!("[A-Za-z0-9]{{{},{}}}", n.start, n.end))
                .expect("regex")
                .prop_map(|s| format!("aZ9{s}"))
        };
        prop_oneof![
            body(31..40).prop_map(|b| format!("hf_{b}")),
            body(20..48).prop_map(|b| format!("sk-{b}")),
            body(20..48).prop_map(|b| format!("sk-proj-{b}")),
            body(36..37).prop_map(|b| format!("ghp_{b}")),
            body(30..60).prop_map(|b| format!("github_pat_{b}")),
            "[A-Z0-9]{16}".prop_map(|b| format!("AKIA{b}")),
            (body(10..30), body(20..60), body(20..40)).prop_map(|(a, b, c)| format!("eyJ{a}.eyJ{b}.{c}")),
            body(17..40),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// A secret anywhere in arbitrary text never survives redaction,
        /// nor does any 12-character piece of it.
        #[test]
        fn a_secret_anywhere_in_a_line_never_survives(
            before in "\\PC{0,80}",
            after in "\\PC{0,80}",
            sep_before in prop_oneof![Just(""), Just(" "), Just("="), Just(": "), Just("'"), Just("\""), Just("/"), Just("token=")],
            sep_after in prop_oneof![Just(""), Just(" "), Just("'"), Just("\""), Just(","), Just("@host"), Just("\\n")],
            secret in secret(),
        ) {
            let line = format!("{before}{sep_before}{secret}{sep_after}{after}");
            let out = red(&line);
            let chars: Vec<char> = secret.chars().collect();
            for piece in chars.windows(12) {
                let piece: String = piece.iter().collect();
                prop_assert!(!out.contains(&piece), "{piece:?} of {secret:?} survived in {out:?}");
            }
        }

        /// Redaction never panics and is idempotent on any input.
        #[test]
        fn redaction_is_total_and_idempotent(text in "(\\PC|\n){0,300}") {
            let once = red(&text);
            prop_assert_eq!(red(&once), once.clone());
        }
    }
}
