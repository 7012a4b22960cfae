//! Reading the engine, its version and its printed settings from the head
//! of a container's log, and a version from an image tag.
//!
//! Banners recognised (each copied from the engine's own source):
//! - vLLM: `vLLM API server version X` (`entrypoints/openai/api_server.py`,
//!   0.4–0.14), `vLLM server version X, serving model M` and its logo form
//!   `… █ ▀▄▀ █  version X` (`entrypoints/utils.py` 0.17–0.20,
//!   `entrypoints/common/startup.py` 0.34), `Initializing a V1 LLM engine
//!   (vX) with config` (`v1/engine/core.py`), `Initializing an LLM engine
//!   (vX) with config` (`engine/llm_engine.py`, 0.4–0.6);
//! - llama.cpp: `build: N (sha) with …` (`common/common.cpp`; older
//!   `main` printed `build = N (sha)`, `--version` prints `version: N (sha)`),
//!   `common_params_print_info: build N (sha) with …` and `version: …
//!   (build N, commit sha)` (`common/build-info.cpp.in`, b11434);
//! - SGLang and TGI print no version; they are recognised by their settings
//!   dumps: SGLang's `server_args=ServerArgs(…)` / `server_args={…}`
//!   (`srt/entrypoints/engine.py`), TGI's `Args { … }`
//!   (`launcher/src/main.rs`).
//!
//! Printed settings: vLLM's `non-default args: {…}` (only what was given;
//! up to 0.8, `args: Namespace(…)` after the version banner, every argument),
//! SGLang's `server_args=` (every resolved value, computed ones included),
//! TGI's `Args {…}` (what was given; `None` means the launcher decides).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;

use super::version::Version;

/// Bytes of the log's head that are read (`limitBytes` from the start).
pub const HEAD_BYTES: usize = 64 * 1024;
/// Settings kept from one dump, at most.
const MAX_SETTINGS: usize = 512;
/// Longest setting value kept, in bytes.
const MAX_VALUE: usize = 256;

/// What the head of a log says about the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFacts {
    /// The engine, when a banner or settings dump names it.
    pub engine: Option<&'static str>,
    /// Its version, when a banner prints one.
    pub version: Option<Version>,
    /// 1-based line of the banner and its text (cut to 200 bytes).
    pub version_line: Option<(usize, String)>,
    /// Settings the engine printed, by its own key (`max_model_len`), as text.
    pub settings: BTreeMap<String, String>,
    /// 1-based line of the settings dump.
    pub settings_line: Option<usize>,
}

struct Banners {
    vllm: Regex,
    vllm_logo: Regex,
    llama: Regex,
    vllm_args: Regex,
    vllm_namespace: Regex,
    sglang_args: Regex,
}

fn banners() -> &'static Banners {
    static B: OnceLock<Banners> = OnceLock::new();
    B.get_or_init(|| Banners {
        vllm: Regex::new(
            r"vLLM (?:API )?server version (v?\d[\w.+\-]*?)(?:,|\s|$)|Initializing (?:a V1|an) LLM engine \(v(\d[^)\s]*)\)",
        )
        .expect("valid regex"),
        vllm_logo: Regex::new(r"█\s+version\s+(v?\d[\w.+\-]*)").expect("valid regex"),
        llama: Regex::new(
            r"\b(?:build(?::| =)?|version:) (\d+) \(([0-9a-f]{4,40})\)|\(build (\d+), commit [0-9a-f]{4,40}\)",
        )
            .expect("valid regex"),
        // A dump may be cut (lines over 16 KiB are): the closing bracket is optional.
        vllm_args: Regex::new(r"non-default args: (\{.*)$").expect("valid regex"),
        vllm_namespace: Regex::new(r"\bargs: (Namespace\(.*)$").expect("valid regex"),
        sglang_args: Regex::new(r"server_args=(ServerArgs\(.*|\{.*)$").expect("valid regex"),
    })
}

/// Reads the head of a log (raw bytes, at most [`HEAD_BYTES`] are looked at).
pub fn read_head(head: &[u8]) -> LogFacts {
    let head = &head[..head.len().min(HEAD_BYTES)];
    let b = banners();
    let mut facts = LogFacts::default();
    let mut norm = String::new();
    let mut tgi_block: Option<(usize, String)> = None;
    for (i, raw) in head.split(|c| *c == b'\n').enumerate() {
        let no = i + 1;
        crate::logtext::normalize_line(raw, &mut norm);
        for line in norm.split('\n') {
            let line = line.trim_end_matches('\r');
            if let Some((_, block)) = tgi_block.as_mut() {
                block.push(' ');
                block.push_str(line.trim());
                if line.starts_with('}') || line.trim_end().ends_with("\n}") || block.len() > HEAD_BYTES {
                    let (at, text) = tgi_block.take().expect("checked above");
                    if facts.settings.is_empty() {
                        facts.settings = parse_settings(&text);
                        facts.settings_line = Some(at);
                    }
                }
                continue;
            }
            if facts.version.is_none() {
                let found = if let Some(c) = b.vllm.captures(line) {
                    facts.engine.get_or_insert("vllm");
                    c.get(1).or_else(|| c.get(2)).map(|m| m.as_str())
                } else if line.contains('█')
                    && let Some(c) = b.vllm_logo.captures(line)
                {
                    facts.engine.get_or_insert("vllm");
                    c.get(1).map(|m| m.as_str())
                } else if let Some(c) = b.llama.captures(line) {
                    facts.engine.get_or_insert("llama.cpp");
                    c.get(1).or_else(|| c.get(3)).map(|m| m.as_str())
                } else {
                    None
                };
                if let Some(v) = found.and_then(|s| Version::parse(s.trim_end_matches(['.', ',', ')']))) {
                    facts.version = Some(v);
                    facts.version_line = Some((no, crate::util::truncate(line.trim(), 200).into_owned()));
                }
            }
            if facts.settings.is_empty() {
                if let Some(c) = b.vllm_args.captures(line) {
                    facts.engine.get_or_insert("vllm");
                    facts.settings = parse_settings(&c[1]);
                    facts.settings_line = Some(no);
                } else if facts.engine == Some("vllm")
                    && let Some(c) = b.vllm_namespace.captures(line)
                {
                    // vLLM up to 0.8 printed every argument: `args: Namespace(…)`.
                    facts.settings = parse_settings(&c[1]);
                    facts.settings_line = Some(no);
                } else if let Some(c) = b.sglang_args.captures(line) {
                    facts.engine.get_or_insert("sglang");
                    facts.settings = parse_settings(&c[1]);
                    facts.settings_line = Some(no);
                } else if let Some(at) = line.find("Args {")
                    && (at == 0 || line[..at].ends_with(' '))
                {
                    facts.engine.get_or_insert("tgi");
                    let rest = &line[at..];
                    if rest.trim_end().ends_with('}') {
                        facts.settings = parse_settings(rest);
                        facts.settings_line = Some(no);
                    } else {
                        tgi_block = Some((no, rest.to_owned()));
                    }
                }
            }
        }
    }
    if let Some((at, text)) = tgi_block
        && facts.settings.is_empty()
    {
        // The head ended inside the dump: keep what was read.
        facts.settings = parse_settings(&text);
        facts.settings_line = Some(at);
    }
    facts
}

/// Splits `s` at top-level `sep`, respecting quotes and brackets.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quote, mut escaped, mut start) = (0i32, None::<char>, false, 0usize);
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// A printed value as text: quotes removed, `None`/`null` as absent,
/// `True`/`False` lowercased, TGI's `Some(x)` unwrapped.
fn printed_value(v: &str) -> Option<String> {
    let mut v = v.trim().trim_end_matches(',').trim();
    if let Some(inner) = v.strip_prefix("Some(").and_then(|x| x.strip_suffix(')')) {
        v = inner.trim().trim_end_matches(',').trim();
    }
    if matches!(v, "None" | "null" | "" | "nil") {
        return None;
    }
    let v = match v {
        "True" => "true",
        "False" => "false",
        _ => v,
    };
    let b = v.as_bytes();
    let v =
        if b.len() >= 2 && (b[0] == b'\'' || b[0] == b'"') && b[b.len() - 1] == b[0] { &v[1..v.len() - 1] } else { v };
    Some(crate::util::truncate(v, MAX_VALUE).into_owned())
}

/// Parses a settings dump: a Python dict (`{'k': v, …}`), a dataclass repr
/// (`ServerArgs(k=v, …)`) or a Rust debug struct (`Args { k: v, … }`).
pub fn parse_settings(dump: &str) -> BTreeMap<String, String> {
    let d = dump.trim();
    let Some(open) = d.find(['{', '(']) else { return BTreeMap::new() };
    let inner = &d[open + 1..];
    let (body, whole) = match inner.strip_suffix(['}', ')']) {
        Some(b) => (b, true),
        None => (inner, false),
    };
    let mut entries = split_top(body, ',');
    if !whole {
        // A cut dump: its last entry may be cut too.
        entries.pop();
    }
    let mut out = BTreeMap::new();
    for entry in entries {
        if out.len() >= MAX_SETTINGS {
            break;
        }
        let entry = entry.trim();
        // `'k': v` (dict), `k: v` (Rust), `k=v` (dataclass): whichever
        // separator comes first outside quotes and brackets.
        let colon = split_top(entry, ':');
        let equals = split_top(entry, '=');
        let k = match (colon.len() > 1, equals.len() > 1) {
            (true, true) if colon[0].len() <= equals[0].len() => colon[0],
            (true, true) => equals[0],
            (true, false) => colon[0],
            (false, true) => equals[0],
            (false, false) => continue,
        };
        let v = &entry[k.len() + 1..];
        let key = k.trim().trim_matches(['\'', '"']);
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        if let Some(v) = printed_value(v) {
            out.insert(key.to_owned(), v);
        }
    }
    out
}

/// The repository names whose tags are the engine's own releases.
fn official_repo(engine: &str, repo: &str) -> bool {
    let last = repo.rsplit('/').next().unwrap_or(repo);
    match engine {
        "vllm" => last == "vllm-openai" || last == "vllm" || last.starts_with("vllm-openai-"),
        "sglang" => last == "sglang",
        "tgi" => last == "text-generation-inference",
        "llama.cpp" => last == "llama.cpp",
        _ => false,
    }
}

/// The engine's version from an image reference, when the image is the
/// engine's own and its tag names a release (`vllm/vllm-openai:v0.34.0`,
/// `lmsysorg/sglang:v0.5.14-cu129`, `ghcr.io/ggml-org/llama.cpp:server-cuda-b4567`).
/// Floating tags (`latest`, `server-cuda`, `nightly`) and digests give `None`.
pub fn version_from_image(engine: &str, image: &str) -> Option<Version> {
    let image = image.split('@').next().unwrap_or(image).trim();
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match image[slash..].rfind(':') {
        Some(c) => (&image[..slash + c], &image[slash + c + 1..]),
        None => return None,
    };
    if !official_repo(engine, repo) {
        return None;
    }
    if engine == "llama.cpp" {
        return tag
            .split(['-', '_'])
            .find(|t| t.len() > 1 && t.starts_with('b') && t[1..].bytes().all(|b| b.is_ascii_digit()))
            .and_then(Version::parse);
    }
    let first = tag.split(['-', '_']).next().unwrap_or(tag);
    let v = Version::parse(first)?;
    (v.parts().len() >= 2 || first.contains('.')).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_dumps_of_each_engine_parse() {
        let s = parse_settings(
            "{'model': 'Qwen/Qwen3-8B', 'max_model_len': 32768, 'gpu_memory_utilization': 0.95, 'enforce_eager': True, 'x': None}",
        );
        assert_eq!(s["model"], "Qwen/Qwen3-8B");
        assert_eq!(s["max_model_len"], "32768");
        assert_eq!(s["gpu_memory_utilization"], "0.95");
        assert_eq!(s["enforce_eager"], "true");
        assert!(!s.contains_key("x"));
        let s = parse_settings(
            "ServerArgs(model_path='m', mem_fraction_static=0.871, context_length=None, json_model_override_args='{\"a\": 1}', dp_size=1)",
        );
        assert_eq!(s["mem_fraction_static"], "0.871");
        assert_eq!(s["json_model_override_args"], "{\"a\": 1}");
        assert!(!s.contains_key("context_length"));
        let s = parse_settings(
            "Args { model_id: \"m\", max_total_tokens: Some( 4096, ), max_input_tokens: None, cuda_graphs: Some( [ 1, 2, ], ), }",
        );
        assert_eq!(s["model_id"], "m");
        assert_eq!(s["max_total_tokens"], "4096");
        assert!(!s.contains_key("max_input_tokens"));
    }

    #[test]
    fn image_tags_give_versions_only_for_official_releases() {
        let v = |e: &str, i: &str| version_from_image(e, i).map(|v| v.to_string());
        assert_eq!(v("vllm", "vllm/vllm-openai:v0.34.0").as_deref(), Some("0.34.0"));
        assert_eq!(v("vllm", "docker.io/vllm/vllm-openai:v0.13.0@sha256:abc").as_deref(), Some("0.13.0"));
        assert_eq!(v("vllm", "vllm/vllm-openai:latest"), None);
        assert_eq!(v("vllm", "vllm/vllm-openai"), None);
        assert_eq!(v("vllm", "myorg/llm-server:1.2.0"), None);
        assert_eq!(v("sglang", "lmsysorg/sglang:v0.5.14-cu129").as_deref(), Some("0.5.14"));
        assert_eq!(v("sglang", "lmsysorg/sglang:v0.5.15.post1-cu126").as_deref(), Some("0.5.15.post1"));
        assert_eq!(v("tgi", "ghcr.io/huggingface/text-generation-inference:3.3.4").as_deref(), Some("3.3.4"));
        assert_eq!(v("tgi", "ghcr.io/huggingface/text-generation-inference:sha-4f0c6f3"), None);
        assert_eq!(v("llama.cpp", "ghcr.io/ggml-org/llama.cpp:server-cuda-b4567").as_deref(), Some("4567"));
        assert_eq!(v("llama.cpp", "ghcr.io/ggml-org/llama.cpp:server-cuda"), None);
        assert_eq!(v("llama.cpp", "localhost:5000/llama.cpp"), None);
    }
}
