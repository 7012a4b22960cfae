//! The signature library: `patterns/*.yaml` loaded, compiled and matched.
//!
//! Parse → compile → match. [`spec`] mirrors the YAML; [`SignatureSet::load`]
//! compiles every file, collecting *every* problem (bad class ids, regexes
//! that do not compile, examples that fail) before refusing the set, so that
//! `podmedic check` can print them all with `file:line:col`.
//!
//! Matching is two-stage, in the manner of ripgrep's literal prefilters: all
//! anchors of all signatures live in one Aho-Corasick automaton that scans
//! the raw buffer; only a line holding an anchor (or an escape byte, see
//! below) is normalised and has the regexes of the signatures whose anchors
//! it holds run on it. Lines without anchors, the overwhelming majority, are
//! never copied, decoded or split. The hot loop allocates nothing: the
//! normalised line and the capture slots live in a reused [`Scratch`].
//!
//! A line holding an ESC byte (ANSI colours) or a backslash (JSON escapes)
//! may hide an anchor from the raw scan, so such lines are always
//! normalised and then scanned again.

pub mod spec;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};
use regex::{CaptureLocations, Regex, RegexBuilder};

use crate::class::FailureClass;
use crate::logtext::{self, MAX_LINE_BYTES};
use crate::problem::{Problem, Problems};
use spec::{FileSpec, SignatureSpec};

/// Servers a signature may name in `servers:`.
pub const SERVERS: &[&str] = &[
    "vllm",
    "tgi",
    "sglang",
    "triton",
    "ollama",
    "llama.cpp",
    "pytorch",
    "transformers",
    "hf-hub",
    "nccl",
    "nvidia",
    "kubernetes",
    "linux",
    "any",
];

/// Shortest anchor accepted: shorter ones make the prefilter useless.
const MIN_ANCHOR_LEN: usize = 4;
/// Compiled size limit of one regex.
const REGEX_SIZE_LIMIT: usize = 4 << 20;

/// Where a signature was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub file: PathBuf,
    /// 1-based line of its `id`.
    pub line: u64,
}

/// One compiled signature.
#[derive(Debug, Clone)]
pub struct Signature {
    /// Unique id.
    pub id: String,
    /// The failure class it indicates.
    pub class: FailureClass,
    /// Finer detail.
    pub subclass: String,
    /// One line for humans.
    pub title: String,
    /// Sentence template with `{capture}` placeholders.
    pub summary: Option<String>,
    /// Servers whose logs carry it.
    pub servers: Vec<String>,
    /// How surely one matching line means `class`, in (0, 1].
    pub weight: f64,
    /// Where the wording comes from (empty in a lazy set).
    pub references: Vec<String>,
    /// Where it was defined.
    pub origin: Origin,
    /// Its positive example lines (documentation, benchmarks, classifier
    /// training; empty in a lazy set).
    pub examples: Vec<String>,
    /// Its `no_match` examples: healthy lines that share its words (the
    /// classifier trains on them as `unknown`; empty in a lazy set).
    pub near_misses: Vec<String>,
    /// Fragments (lower-cased) that elsewhere in a log tail cancel its hits.
    pub unless: Vec<String>,
    pattern: String,
    /// Compiled on first use (or at load when the set is checked).
    regex: OnceLock<Regex>,
    anchors: Vec<String>,
}

impl Signature {
    /// The confirming regex, compiled on first use.
    pub fn regex(&self) -> &Regex {
        self.regex.get_or_init(|| {
            build_regex(&self.pattern).unwrap_or_else(|e| {
                // Only an unchecked set (the embedded library, which tests
                // and `podmedic check` compile) can get here.
                tracing::error!(signature = %self.id, error = %e, "signature regex does not compile; it never matches");
                Regex::new(r"[^\s\S]").expect("a fixed pattern compiles")
            })
        })
    }

    /// The regex source.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The literal anchors.
    pub fn anchors(&self) -> &[String] {
        &self.anchors
    }

    /// `summary` with its placeholders filled from `captures`, or `title`.
    pub fn render_summary(&self, captures: &BTreeMap<String, String>) -> String {
        let Some(template) = &self.summary else { return self.title.clone() };
        let mut out = String::with_capacity(template.len() + 16);
        let mut rest = template.as_str();
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            match after.find('}') {
                Some(close) => {
                    let name = &after[..close];
                    match captures.get(name) {
                        Some(v) => out.push_str(v),
                        None => out.push_str("(unknown)"),
                    }
                    rest = &after[close + 1..];
                }
                None => {
                    out.push_str(&rest[open..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// A matching line, borrowed from the scan.
#[derive(Debug)]
pub struct Match<'a> {
    /// Index of the signature in the set.
    pub signature: usize,
    /// Byte offset of the raw line's start in the scanned buffer.
    pub line_start: usize,
    /// The normalised text of the line.
    pub text: &'a str,
    /// Capture slots of the signature's regex against `text`.
    pub captures: &'a CaptureLocations,
}

/// A signature hit, owned: what a diagnosis keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Index of the signature in the set.
    pub signature: usize,
    /// 1-based line number in the log.
    pub line_no: usize,
    /// The normalised line (cut to a readable length).
    pub text: String,
    /// Named captures.
    pub captures: BTreeMap<String, String>,
}

/// Reused buffers for scanning; one per thread.
#[derive(Debug)]
pub struct Scratch {
    line: String,
    marks: Vec<u32>,
    generation: u32,
    candidates: Vec<u32>,
    /// Capture slots per signature, made when its regex first runs.
    locs: Vec<Option<CaptureLocations>>,
}

/// The compiled library.
#[derive(Debug, Clone)]
pub struct SignatureSet {
    sigs: Vec<Signature>,
    ac: AhoCorasick,
    /// Anchor pattern id → signatures that use it.
    anchor_sigs: Vec<Vec<u32>>,
}

impl SignatureSet {
    /// Loads and compiles every `.yaml` file of `paths` (files or directories).
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Self, Problems> {
        let (texts, problems) = crate::problem::read_yaml_texts(paths);
        crate::problem::with_read_problems(
            problems,
            Self::compile(texts.iter().map(|(f, t)| (f.as_path(), t.as_str()))),
        )
    }

    /// A set with no signatures (for `--engine model`).
    pub fn empty() -> Self {
        Self::build(Vec::new()).expect("an empty automaton always builds")
    }

    /// The library compiled into the binary (`patterns/` at build time).
    pub fn embedded() -> Result<Self, Problems> {
        Self::compile(crate::embedded::PATTERNS.iter().map(|(f, t)| (Path::new(*f), *t)))
    }

    /// The embedded library for a long-running process: parsed and its
    /// fields checked, but regexes are compiled only when an anchor first
    /// hits, examples are not run, and each signature's `examples`,
    /// `near_misses` and `references` are left empty. Compiling all of
    /// them and running their examples costs ~40 MiB that a controller
    /// would keep for nothing; `podmedic check` and the test suite do both
    /// for the library a binary embeds.
    pub fn embedded_lazy() -> Result<Self, Problems> {
        Self::compile_with(crate::embedded::PATTERNS.iter().map(|(f, t)| (Path::new(*f), *t)), false)
    }

    /// Drops every compiled regex and its caches (each is compiled again
    /// when it is next needed) and the examples and references, as
    /// [`SignatureSet::embedded_lazy`] leaves them. For long-running
    /// processes, after a checked load.
    pub fn release_compiled(&mut self) {
        for s in &mut self.sigs {
            s.regex = OnceLock::new();
            s.examples = Vec::new();
            s.near_misses = Vec::new();
            s.references = Vec::new();
        }
    }

    /// Compiles signature files given as `(path, text)` pairs, compiling
    /// every regex and checking every example.
    pub fn compile<'a>(files: impl IntoIterator<Item = (&'a Path, &'a str)>) -> Result<Self, Problems> {
        Self::compile_with(files, true)
    }

    fn compile_with<'a>(files: impl IntoIterator<Item = (&'a Path, &'a str)>, eager: bool) -> Result<Self, Problems> {
        let mut problems = Vec::new();
        let mut sigs = Vec::new();
        let mut examples = Vec::new();
        let mut seen: HashMap<String, Origin> = HashMap::new();
        for (file, text) in files {
            let parsed: FileSpec = match crate::yaml::from_str(text) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(Problem::new(file, e.line, e.column, e.message));
                    continue;
                }
            };
            for spec in parsed.signatures {
                if let Some(sig) = compile_one(file, &spec, eager, &mut problems) {
                    if let Some(first) = seen.get(&sig.id) {
                        problems.push(
                            Problem::new(
                                file,
                                sig.origin.line,
                                spec.id.referenced.column(),
                                format!("duplicate signature id `{}`", sig.id),
                            )
                            .hint(format!(
                                "first defined at {}:{}",
                                first.file.display(),
                                first.line
                            )),
                        );
                        continue;
                    }
                    seen.insert(sig.id.clone(), sig.origin.clone());
                    examples.push(spec.examples);
                    sigs.push(sig);
                }
            }
        }
        if sigs.is_empty() && problems.is_empty() {
            problems.push(
                Problem::whole_file(Path::new("patterns"), "no signatures found").hint("pass the patterns/ directory"),
            );
        }
        let set = match Self::build(sigs) {
            Ok(set) => set,
            Err(e) => {
                problems.push(Problem::whole_file(
                    Path::new("patterns"),
                    format!("cannot build the anchor automaton: {e}"),
                ));
                return Err(Problems(problems));
            }
        };
        if eager {
            set.check_examples(&examples, &mut problems);
        }
        if problems.is_empty() { Ok(set) } else { Err(Problems(problems)) }
    }

    fn build(sigs: Vec<Signature>) -> Result<Self, aho_corasick::BuildError> {
        let mut anchor_ids: HashMap<String, usize> = HashMap::new();
        let mut anchors: Vec<String> = Vec::new();
        let mut anchor_sigs: Vec<Vec<u32>> = Vec::new();
        for (i, sig) in sigs.iter().enumerate() {
            for a in &sig.anchors {
                let key = a.to_ascii_lowercase();
                let id = *anchor_ids.entry(key.clone()).or_insert_with(|| {
                    anchors.push(key);
                    anchor_sigs.push(Vec::new());
                    anchors.len() - 1
                });
                if !anchor_sigs[id].contains(&(i as u32)) {
                    anchor_sigs[id].push(i as u32);
                }
            }
        }
        let ac =
            AhoCorasickBuilder::new().ascii_case_insensitive(true).match_kind(MatchKind::Standard).build(&anchors)?;
        Ok(SignatureSet { sigs, ac, anchor_sigs })
    }

    fn check_examples(&self, examples: &[serde_saphyr::Spanned<spec::ExamplesSpec>], problems: &mut Vec<Problem>) {
        let mut scratch = self.scratch();
        for (i, (sig, ex)) in self.sigs.iter().zip(examples).enumerate() {
            let at = |msg: String| Problem::at(&sig.origin.file, &ex.referenced, msg);
            if ex.value.matching.is_empty() {
                problems.push(at(format!("signature `{}` has no `match` example", sig.id)));
            }
            if ex.value.no_match.is_empty() {
                problems.push(
                    at(format!("signature `{}` has no `no_match` example", sig.id))
                        .hint("add a healthy line that shares its words"),
                );
            }
            for example in &ex.value.matching {
                let line = example.line();
                let mut got: Option<BTreeMap<String, String>> = None;
                self.scan_with(line.as_bytes(), &mut scratch, |m| {
                    if m.signature == i && got.is_none() {
                        got = Some(self.captures_of(i, m.text, m.captures));
                    }
                });
                match got {
                    None => {
                        let hint = if !self.anchor_in(i, line) {
                            "the line holds none of the anchors"
                        } else {
                            "the line holds an anchor but the regex does not match it"
                        };
                        problems
                            .push(at(format!("signature `{}`: example does not match: {line:?}", sig.id)).hint(hint));
                    }
                    Some(caps) => {
                        if let spec::ExampleSpec::WithCaptures { captures: want, .. } = example {
                            for (k, v) in want {
                                if caps.get(k) != Some(v) {
                                    problems.push(at(format!(
                                        "signature `{}`: example captures `{k}` = {:?}, expected {v:?}",
                                        sig.id,
                                        caps.get(k)
                                    )));
                                }
                            }
                        }
                    }
                }
            }
            for line in &ex.value.no_match {
                let mut matched = false;
                self.scan_with(line.as_bytes(), &mut scratch, |m| matched |= m.signature == i);
                if matched {
                    problems.push(at(format!("signature `{}`: `no_match` example matches: {line:?}", sig.id)));
                }
            }
        }
    }

    fn anchor_in(&self, sig: usize, line: &str) -> bool {
        let lower = line.to_ascii_lowercase();
        self.sigs[sig].anchors.iter().any(|a| lower.contains(&a.to_ascii_lowercase()))
    }

    /// The signatures, in load order.
    pub fn signatures(&self) -> &[Signature] {
        &self.sigs
    }

    /// Number of signatures.
    pub fn len(&self) -> usize {
        self.sigs.len()
    }

    /// Whether the set is empty (never, once compiled).
    pub fn is_empty(&self) -> bool {
        self.sigs.is_empty()
    }

    /// Fresh scratch buffers for [`SignatureSet::scan_with`].
    pub fn scratch(&self) -> Scratch {
        Scratch {
            line: String::with_capacity(1024),
            marks: vec![0; self.sigs.len()],
            generation: 0,
            candidates: Vec::with_capacity(16),
            locs: vec![None; self.sigs.len()],
        }
    }

    /// Named captures of signature `sig` as owned strings.
    pub fn captures_of(&self, sig: usize, text: &str, locs: &CaptureLocations) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (i, name) in self.sigs[sig].regex().capture_names().enumerate() {
            if let (Some(name), Some((s, e))) = (name, locs.get(i)) {
                out.insert(name.to_owned(), text[s..e].to_owned());
            }
        }
        out
    }

    /// Scans `buf` (raw log bytes, lines separated by `\n`) and calls
    /// `on_match` for every (line, signature) that matches, in line order.
    pub fn scan_with(&self, buf: &[u8], scratch: &mut Scratch, mut on_match: impl FnMut(Match<'_>)) {
        const NONE: usize = usize::MAX;
        let mut pos = 0usize;
        let mut next_anchor = 0usize; // position of the next anchor at or after `pos`; NONE when none
        let mut anchor_valid = false;
        let mut next_escape = 0usize;
        let mut escape_valid = false;
        while pos < buf.len() {
            if !anchor_valid || (next_anchor != NONE && next_anchor < pos) {
                next_anchor = self.ac.find(Input::new(buf).range(pos..)).map_or(NONE, |m| m.start());
                anchor_valid = true;
            }
            if !escape_valid || (next_escape != NONE && next_escape < pos) {
                next_escape = memchr::memchr2(0x1b, b'\\', &buf[pos..]).map_or(NONE, |i| pos + i);
                escape_valid = true;
            }
            let p = next_anchor.min(next_escape);
            if p == NONE {
                break;
            }
            let line_start = memchr::memrchr(b'\n', &buf[pos..p]).map_or(pos, |i| pos + i + 1);
            let line_end = memchr::memchr(b'\n', &buf[p..]).map_or(buf.len(), |i| p + i);
            let (ws, we) = if line_end - line_start <= MAX_LINE_BYTES {
                (line_start, line_end)
            } else {
                // A huge line: look at a window around what caught our eye.
                let ws = p.saturating_sub(MAX_LINE_BYTES / 2).max(line_start);
                (ws, (ws + MAX_LINE_BYTES).min(line_end))
            };
            self.match_line(&buf[ws..we], line_start, scratch, &mut on_match);
            pos = line_end + 1;
        }
    }

    fn match_line(&self, raw: &[u8], line_start: usize, scratch: &mut Scratch, on_match: &mut impl FnMut(Match<'_>)) {
        logtext::normalize_line(raw, &mut scratch.line);
        let Scratch { line, marks, generation, candidates, locs } = scratch;
        for text in line.split('\n') {
            *generation = generation.wrapping_add(1);
            if *generation == 0 {
                marks.fill(0);
                *generation = 1;
            }
            candidates.clear();
            for m in self.ac.find_overlapping_iter(text) {
                for &s in &self.anchor_sigs[m.pattern().as_usize()] {
                    if marks[s as usize] != *generation {
                        marks[s as usize] = *generation;
                        candidates.push(s);
                    }
                }
            }
            candidates.sort_unstable();
            for &s in candidates.iter() {
                let s = s as usize;
                let re = self.sigs[s].regex();
                let loc = locs[s].get_or_insert_with(|| re.capture_locations());
                if re.captures_read(loc, text).is_some() {
                    on_match(Match { signature: s, line_start, text, captures: loc });
                }
            }
        }
    }

    /// Every hit in a log tail, with line numbers and owned captures.
    pub fn scan_tail(&self, tail: &logtext::LogTail) -> Vec<Hit> {
        self.scan_tail_with_suppressed(tail).0
    }

    /// [`SignatureSet::scan_tail`], and apart the hits left out because
    /// their signature's `unless:` context is in the log: lines the library
    /// knows to be a consequence there, not evidence of their class.
    pub fn scan_tail_with_suppressed(&self, tail: &logtext::LogTail) -> (Vec<Hit>, Vec<Hit>) {
        let buf = tail.joined();
        let mut scratch = self.scratch();
        let mut hits = Vec::new();
        let mut counted_pos = 0usize;
        let mut counted_lines = 0usize;
        self.scan_with(&buf, &mut scratch, |m| {
            counted_lines += memchr::memchr_iter(b'\n', &buf[counted_pos..m.line_start]).count();
            counted_pos = m.line_start;
            // Users' prompts and outputs echoed by request logging are not evidence.
            if crate::trust::is_request_echo(m.text) {
                return;
            }
            hits.push(Hit {
                signature: m.signature,
                line_no: tail.first_line_no + counted_lines,
                text: crate::util::truncate(m.text, 400).into_owned(),
                captures: self.captures_of(m.signature, m.text, m.captures),
            });
        });
        if hits.iter().any(|h| !self.sigs[h.signature].unless.is_empty()) {
            // Context that makes a line a consequence (`unless:`), looked for
            // only when such a signature hit (echoed requests left out).
            let mut lower = Vec::with_capacity(buf.len());
            for line in buf.split(|&b| b == b'\n') {
                if !crate::trust::is_request_echo(&String::from_utf8_lossy(line)) {
                    lower.extend(line.iter().map(u8::to_ascii_lowercase));
                    lower.push(b'\n');
                }
            }
            let present = |f: &str| memchr::memmem::find(&lower, f.as_bytes()).is_some();
            let (kept, suppressed) =
                hits.into_iter().partition(|h| !self.sigs[h.signature].unless.iter().any(|f| present(f)));
            return (kept, suppressed);
        }
        (hits, Vec::new())
    }

    /// Number of lines of `buf` matched by at least one signature (the
    /// benchmark's figure, comparable with `rg -c`).
    pub fn count_matching_lines(&self, buf: &[u8], scratch: &mut Scratch) -> u64 {
        let mut count = 0u64;
        let mut last = usize::MAX;
        self.scan_with(buf, scratch, |m| {
            if m.line_start != last {
                last = m.line_start;
                count += 1;
            }
        });
        count
    }
}

fn build_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build()
}

/// Checks one signature's fields; with `eager`, also compiles its regex (and
/// checks the summary's placeholders against the regex's captures).
fn compile_one(file: &Path, spec: &SignatureSpec, eager: bool, problems: &mut Vec<Problem>) -> Option<Signature> {
    let before = problems.len();
    let id = spec.id.value.trim().to_owned();
    let at = |loc: &serde_saphyr::Location, msg: String| Problem::at(file, loc, msg);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.') {
        problems.push(at(&spec.id.referenced, format!("signature id `{id}` must be lowercase kebab-case")));
    }
    let class = match spec.class.value.parse::<FailureClass>() {
        Ok(c) => Some(c),
        Err(e) => {
            let mut p = at(&spec.class.referenced, format!("signature `{id}`: {e}"));
            if e.suggestion.is_none() {
                p = p.hint(format!("valid classes: {}", FailureClass::ALL.map(|c| c.as_str()).join(", ")));
            }
            problems.push(p);
            None
        }
    };
    for s in &spec.servers.value {
        if !SERVERS.contains(&s.as_str()) {
            let mut p = at(&spec.servers.referenced, format!("signature `{id}`: unknown server `{s}`"));
            p = match crate::util::closest(s, SERVERS.iter().copied()) {
                Some(c) => p.hint(format!("did you mean `{c}`?")),
                None => p.hint(format!("valid servers: {}", SERVERS.join(", "))),
            };
            problems.push(p);
        }
    }
    if spec.servers.value.is_empty() {
        problems.push(
            at(&spec.servers.referenced, format!("signature `{id}`: `servers` is empty"))
                .hint("use [any] for generic lines"),
        );
    }
    if spec.anchors.value.is_empty() {
        problems.push(at(&spec.anchors.referenced, format!("signature `{id}`: needs at least one anchor")));
    }
    for a in &spec.anchors.value {
        if a.trim().len() < MIN_ANCHOR_LEN {
            problems.push(at(
                &spec.anchors.referenced,
                format!("signature `{id}`: anchor {a:?} is shorter than {MIN_ANCHOR_LEN} characters"),
            ));
        }
    }
    let unless: Vec<String> = match &spec.unless {
        Some(u) => {
            for f in &u.value {
                if f.trim().len() < MIN_ANCHOR_LEN {
                    problems.push(at(
                        &u.referenced,
                        format!(
                            "signature `{id}`: `unless` fragment {f:?} is shorter than {MIN_ANCHOR_LEN} characters"
                        ),
                    ));
                }
            }
            u.value.iter().map(|f| f.trim().to_ascii_lowercase()).collect()
        }
        None => Vec::new(),
    };
    let w = spec.weight.value;
    if !(w > 0.0 && w <= 1.0) {
        problems.push(at(&spec.weight.referenced, format!("signature `{id}`: weight {w} is outside (0, 1]")));
    }
    if spec.references.value.is_empty() {
        problems.push(
            at(&spec.references.referenced, format!("signature `{id}`: `references` is empty"))
                .hint("say where the wording comes from"),
        );
    }
    let regex = if eager {
        match build_regex(&spec.regex.value) {
            Ok(r) => Some(r),
            Err(e) => {
                let msg = e.to_string().lines().last().unwrap_or("invalid regex").trim().to_owned();
                problems.push(at(&spec.regex.referenced, format!("signature `{id}`: regex does not compile: {msg}")));
                None
            }
        }
    } else {
        None
    };
    if let (Some(regex), Some(summary)) = (&regex, &spec.summary) {
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        let mut rest = summary.value.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else { break };
            let name = &after[..close];
            if !names.contains(&name) {
                let mut p = at(
                    &summary.referenced,
                    format!("signature `{id}`: summary uses `{{{name}}}` but the regex has no such capture"),
                );
                if let Some(c) = crate::util::closest(name, names.iter().copied()) {
                    p = p.hint(format!("did you mean `{{{c}}}`?"));
                }
                problems.push(p);
            }
            rest = &after[close + 1..];
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(Signature {
        id,
        class: class?,
        subclass: spec.subclass.clone(),
        title: spec.title.clone(),
        summary: spec.summary.as_ref().map(|s| s.value.clone()),
        servers: spec.servers.value.clone(),
        weight: w,
        // A lazy (long-running) set keeps no examples or references: only
        // `podmedic check`, the tests and training read them, from a checked
        // set, and over a thousand signatures they are ~0.6 MiB of heap.
        references: if eager { spec.references.value.clone() } else { Vec::new() },
        origin: Origin { file: file.to_owned(), line: spec.id.referenced.line() },
        examples: if eager {
            spec.examples.value.matching.iter().map(|e| e.line().to_owned()).collect()
        } else {
            Vec::new()
        },
        near_misses: if eager { spec.examples.value.no_match.clone() } else { Vec::new() },
        unless,
        pattern: spec.regex.value.clone(),
        regex: regex.map(OnceLock::from).unwrap_or_default(),
        anchors: spec.anchors.value.iter().map(|a| a.trim().to_owned()).collect(),
    })
}

#[cfg(test)]
mod tests;
