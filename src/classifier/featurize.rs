//! Log lines to sparse hashed features.
//!
//! Each normalised line is lower-cased and tokenised, with the parts that vary
//! between otherwise identical incidents masked: numbers (`#num`), hex values
//! and hashes (`#hex`), UUIDs (`#uuid`), long random ids (`#id`), file paths
//! (`#path`, keeping the file name's words) and URLs (`#url`, keeping the
//! host's words). Digits inside words are masked too (`h100` → `h#`).
//! CamelCase identifiers are split into their words (`OutOfMemoryError` →
//! `out of memory error`), and the whole identifier is kept as an extra
//! feature.
//!
//! The features of a line are hashed word unigrams, word bigrams (with a
//! line-start marker) and character n-grams of each word (fastText-style,
//! with `<` `>` boundary marks), all into one bucket space of
//! [`FeaturizerConfig::buckets`] with a stable hash implemented here
//! (FNV-1a folded through the SplitMix64 finaliser): the same text gives the
//! same buckets on every platform and release, which the shipped weights
//! depend on.
//!
//! A window keeps each distinct line once (repeated lines add nothing under
//! max pooling) in order of first appearance.

use serde::{Deserialize, Serialize};

/// How lines are turned into features. Stored in the model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturizerConfig {
    /// Size of the hashed feature space (a power of two).
    pub buckets: u32,
    /// Shortest character n-gram (0 disables character n-grams).
    pub char_min: u8,
    /// Longest character n-gram.
    pub char_max: u8,
    /// Tokens of a line beyond this many are ignored (argument dumps).
    pub max_tokens: u16,
}

impl Default for FeaturizerConfig {
    fn default() -> Self {
        FeaturizerConfig { buckets: 1 << 16, char_min: 3, char_max: 5, max_tokens: 48 }
    }
}

impl FeaturizerConfig {
    /// Whether the values are usable (a model file may carry anything).
    pub fn validate(&self) -> Result<(), String> {
        if !self.buckets.is_power_of_two() || self.buckets < 1024 || self.buckets > (1 << 24) {
            return Err(format!("buckets must be a power of two in 1024..=16777216, got {}", self.buckets));
        }
        if self.char_min != 0 && (self.char_min < 2 || self.char_max < self.char_min || self.char_max > 8) {
            return Err(format!(
                "character n-grams must satisfy 2 <= min <= max <= 8, got {}..={}",
                self.char_min, self.char_max
            ));
        }
        if self.max_tokens == 0 {
            return Err("max_tokens must be positive".into());
        }
        Ok(())
    }
}

/// The features of one window: the bucket ids of each distinct line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowFeatures {
    /// All bucket ids, line after line.
    pub ids: Vec<u32>,
    /// End offset in `ids` of each line (line `i` is `ids[ends[i-1]..ends[i]]`).
    pub ends: Vec<u32>,
}

impl WindowFeatures {
    /// Number of lines with at least one feature.
    pub fn lines(&self) -> usize {
        self.ends.len()
    }

    /// The bucket ids of line `i`.
    pub fn line(&self, i: usize) -> &[u32] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.ids[start..self.ends[i] as usize]
    }
}

/// A token: a (lower-cased, masked) word or a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Word(&'a str),
    Mask(&'static str),
}

const NUM: &str = "#num";
const HEX: &str = "#hex";
const UUID: &str = "#uuid";
const ID: &str = "#id";
const PATH: &str = "#path";
const URL: &str = "#url";

// Feature kinds, mixed into the hash so that a unigram and a character
// n-gram with the same bytes land in different buckets.
const K_UNI: u64 = 0x9e37_79b9_7f4a_7c15;
const K_BI: u64 = 0xc2b2_ae3d_27d4_eb4f;
const K_CHAR: u64 = 0x1656_67b1_9e37_79f9;
const K_WHOLE: u64 = 0x27d4_eb2f_1656_67c5;
const BOS: u64 = 0x5851_f42d_4c95_7f2d;

/// Character n-grams read at most this many bytes of a word.
const MAX_NGRAM_WORD: usize = 24;

/// How many n-gram lengths a config may ask for ([`FeaturizerConfig::validate`]:
/// 2 ≤ min ≤ max ≤ 8).
const MAX_NGRAM_LENGTHS: usize = 7;

/// FNV-1a's 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// One FNV-1a step: the state after one more byte.
fn fnv1a_step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// FNV-1a, 64 bit.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| fnv1a_step(h, b))
}

/// SplitMix64's finaliser: spreads FNV's weak low bits over the word.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Reused buffers; one per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    lower: String,
    words: String,
    toks: Vec<(usize, usize, bool)>,
    wholes: Vec<(usize, usize)>,
    hashes: Vec<u64>,
    ngram: Vec<u8>,
    seen_lines: Vec<u64>,
    line_ids: Vec<u32>,
    ngrams: NgramCache,
}

/// The character n-gram ids of the words seen since the last clear, so that
/// a word repeated in a window (a logger's name, `error`, `cuda`) is hashed
/// once. Keyed by the bytes the n-grams read (a word's first
/// [`MAX_NGRAM_WORD`]), which are compared on every hit: a crafted hash
/// collision in a log line cannot swap one word's features for another's.
#[derive(Debug, Default)]
struct NgramCache {
    /// The config the cached ids were computed under.
    cfg: Option<FeaturizerConfig>,
    /// Mixed word hash → (start, end) in `bytes`, (start, end) in `ids`.
    /// (The keys are mixed already, so they are their own hash.)
    map: nohash_hasher::IntMap<u64, ([u32; 2], [u32; 2])>,
    bytes: Vec<u8>,
    ids: Vec<u32>,
}

/// Words cached per window at most (a pasted dump of random tokens must not
/// grow the cache without bound).
const NGRAM_CACHE_WORDS: usize = 2048;

impl NgramCache {
    fn clear(&mut self) {
        self.map.clear();
        self.bytes.clear();
        self.ids.clear();
    }
}

/// The featurizer: a [`FeaturizerConfig`] and its hashing.
#[derive(Debug, Clone, Copy)]
pub struct Featurizer {
    cfg: FeaturizerConfig,
    mask: u64,
}

impl Featurizer {
    /// A featurizer for a validated config.
    pub fn new(cfg: FeaturizerConfig) -> Self {
        Featurizer { cfg, mask: u64::from(cfg.buckets) - 1 }
    }

    /// Its config.
    pub fn config(&self) -> FeaturizerConfig {
        self.cfg
    }

    /// The features of a window of normalised lines.
    pub fn window(&self, lines: &[&str], scratch: &mut Scratch) -> WindowFeatures {
        let mut out = WindowFeatures::default();
        self.window_into(lines, scratch, &mut out);
        out
    }

    /// Like [`Featurizer::window`], into a reused `out`.
    pub fn window_into(&self, lines: &[&str], scratch: &mut Scratch, out: &mut WindowFeatures) {
        self.window_mapped(lines, scratch, out, |_, _| {});
    }

    /// Like [`Featurizer::window_into`], calling `kept(i, line)` for each
    /// input line `i` that has features, with the index of the window line
    /// it became (a repeated line maps to its first occurrence).
    pub fn window_mapped(
        &self,
        lines: &[&str],
        scratch: &mut Scratch,
        out: &mut WindowFeatures,
        mut kept: impl FnMut(usize, usize),
    ) {
        out.ids.clear();
        out.ends.clear();
        scratch.seen_lines.clear();
        scratch.ngrams.clear();
        for (i, line) in lines.iter().enumerate() {
            let mut ids = std::mem::take(&mut scratch.line_ids);
            ids.clear();
            let key = self.line_into(line, scratch, &mut ids);
            if !ids.is_empty() {
                match scratch.seen_lines.iter().position(|k| *k == key) {
                    Some(at) => kept(i, at),
                    None => {
                        kept(i, scratch.seen_lines.len());
                        scratch.seen_lines.push(key);
                        out.ids.extend_from_slice(&ids);
                        out.ends.push(out.ids.len() as u32);
                    }
                }
            }
            scratch.line_ids = ids;
        }
    }

    /// The bucket ids of one line, appended to `ids`; returns a hash of the
    /// line's token sequence (equal for lines that differ only in masked parts).
    pub fn line_into(&self, line: &str, scratch: &mut Scratch, ids: &mut Vec<u32>) -> u64 {
        tokenize(line, scratch, self.cfg.max_tokens as usize);
        let Scratch { words, toks, wholes, hashes, ngram, ngrams, .. } = scratch;
        if ngrams.cfg != Some(self.cfg) {
            ngrams.clear();
            ngrams.cfg = Some(self.cfg);
        }
        hashes.clear();
        let mut line_key: u64 = 0x243f_6a88_85a3_08d3;
        for &(start, end, is_mask) in toks.iter() {
            let text = &words.as_bytes()[start..end];
            let h = fnv1a(text);
            hashes.push(h);
            line_key = mix(line_key ^ h);
            ids.push(self.bucket(mix(h ^ K_UNI)));
            if !is_mask && self.cfg.char_min > 0 && text.len() >= 2 {
                self.cached_char_ngrams(text, h, ngram, ngrams, ids);
            }
        }
        for &(start, end) in wholes.iter() {
            ids.push(self.bucket(mix(fnv1a(&words.as_bytes()[start..end]) ^ K_WHOLE)));
        }
        let mut prev = BOS;
        for &h in hashes.iter() {
            ids.push(self.bucket(mix(prev.rotate_left(21) ^ h ^ K_BI)));
            prev = h;
        }
        line_key
    }

    /// [`Featurizer::char_ngrams`] through the cache; `word_hash` is
    /// `fnv1a(word)`.
    fn cached_char_ngrams(
        &self,
        word: &[u8],
        word_hash: u64,
        buf: &mut Vec<u8>,
        cache: &mut NgramCache,
        ids: &mut Vec<u32>,
    ) {
        let key = &word[..word.len().min(MAX_NGRAM_WORD)];
        let h = mix(if key.len() == word.len() { word_hash } else { fnv1a(key) });
        if let Some(&([b0, b1], [i0, i1])) = cache.map.get(&h) {
            if cache.bytes[b0 as usize..b1 as usize] == *key {
                ids.extend_from_slice(&cache.ids[i0 as usize..i1 as usize]);
                return;
            }
            // A collision of 64-bit hashes: compute, do not cache.
            self.char_ngrams(word, buf, ids);
            return;
        }
        let from = ids.len();
        self.char_ngrams(word, buf, ids);
        if cache.map.len() < NGRAM_CACHE_WORDS {
            let (b0, i0) = (cache.bytes.len() as u32, cache.ids.len() as u32);
            cache.bytes.extend_from_slice(key);
            cache.ids.extend_from_slice(&ids[from..]);
            cache.map.insert(h, ([b0, cache.bytes.len() as u32], [i0, cache.ids.len() as u32]));
        }
    }

    fn char_ngrams(&self, word: &[u8], buf: &mut Vec<u8>, ids: &mut Vec<u32>) {
        buf.clear();
        buf.push(b'<');
        buf.extend_from_slice(&word[..word.len().min(MAX_NGRAM_WORD)]);
        buf.push(b'>');
        let (lo, hi) = (self.cfg.char_min as usize, self.cfg.char_max as usize);
        // The FNV-1a state of the n-gram starting at `i` after `n` bytes is
        // one step on from its state after `n - 1`: each start is hashed once
        // up to the longest n, and the results are kept so that the ids come
        // out n after n, in the order the shipped weights were trained with
        // (`char_ngrams_reference` in the tests pins this).
        let mut table = [[0u32; MAX_NGRAM_WORD + 2]; MAX_NGRAM_LENGTHS];
        for i in 0..buf.len() {
            let mut h = FNV_OFFSET;
            for (k, &b) in buf[i..buf.len().min(i + hi)].iter().enumerate() {
                h = fnv1a_step(h, b);
                let n = k + 1;
                if n >= lo {
                    table[n - lo][i] = self.bucket(mix(h ^ K_CHAR ^ n as u64));
                }
            }
        }
        for n in lo..=hi {
            if n > buf.len() {
                break;
            }
            ids.extend_from_slice(&table[n - lo][..=buf.len() - n]);
        }
    }

    fn bucket(&self, h: u64) -> u32 {
        (h & self.mask) as u32
    }
}

/// The masked tokens of `line` as text, for tests and debugging.
pub fn tokens(line: &str) -> Vec<String> {
    let mut s = Scratch::default();
    tokenize(line, &mut s, usize::MAX);
    s.toks.iter().map(|&(a, b, _)| s.words[a..b].to_owned()).collect()
}

/// Splits `line` into masked tokens: `scratch.toks` holds `(start, end,
/// is_mask)` ranges into `scratch.words`; `scratch.wholes` the ranges of whole
/// CamelCase identifiers that were split into parts.
fn tokenize(line: &str, s: &mut Scratch, max_tokens: usize) {
    s.words.clear();
    s.toks.clear();
    s.wholes.clear();
    s.lower.clear();
    for chunk in line.split_ascii_whitespace() {
        if s.toks.len() >= max_tokens {
            break;
        }
        let c = chunk.trim_matches(|ch: char| {
            matches!(ch, '"' | '\'' | '`' | '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | ',' | ';' | ':' | '=' | '|')
                || !ch.is_ascii()
        });
        if c.is_empty() {
            continue;
        }
        if is_uuid(c) {
            push_mask(s, UUID);
        } else if let Some(rest) = after_scheme(c) {
            push_mask(s, URL);
            let host = rest.split(['/', ':', '?']).next().unwrap_or("");
            for part in host.split(['.', '-']) {
                if !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphabetic()) {
                    push_word(s, part);
                }
            }
        } else if is_path(c) {
            push_mask(s, PATH);
            let base = c.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            sub_tokens(base, s);
        } else {
            sub_tokens(c, s);
        }
    }
    s.toks.truncate(max_tokens);
}

fn push_mask(s: &mut Scratch, m: &'static str) {
    push(s, Tok::Mask(m));
}

fn push_word(s: &mut Scratch, w: &str) {
    push(s, Tok::Word(w));
}

fn push(s: &mut Scratch, t: Tok<'_>) {
    let start = s.words.len();
    match t {
        Tok::Mask(m) => {
            // Collapse runs of the same mask (`10.0.0.1` is one number).
            if let Some(&(a, b, true)) = s.toks.last()
                && &s.words[a..b] == m
            {
                return;
            }
            s.words.push_str(m);
            s.toks.push((start, s.words.len(), true));
        }
        Tok::Word(w) => {
            let mut in_digits = false;
            for ch in w.chars() {
                if ch.is_ascii_digit() {
                    if !in_digits {
                        s.words.push('#');
                    }
                    in_digits = true;
                } else {
                    s.words.push(ch.to_ascii_lowercase());
                    in_digits = false;
                }
            }
            s.toks.push((start, s.words.len(), false));
        }
    }
}

/// Splits a chunk into alphanumeric runs and classifies each.
fn sub_tokens(chunk: &str, s: &mut Scratch) {
    for run in chunk.split(|c: char| !c.is_ascii_alphanumeric()) {
        if run.is_empty() {
            continue;
        }
        let b = run.as_bytes();
        let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
        let letters = b.len() - digits;
        if letters == 0 {
            push_mask(s, NUM);
        } else if is_hex(b, digits) {
            push_mask(s, HEX);
        } else if b.len() >= 12 && digits >= 2 {
            push_mask(s, ID);
        } else {
            camel_parts(run, s);
        }
    }
}

/// Pushes a word, split at CamelCase boundaries when it has them.
fn camel_parts(word: &str, s: &mut Scratch) {
    let b = word.as_bytes();
    // A cut needs two letters on each side: `GiB`, `xFormers` stay whole.
    let is_cut = |i: usize| {
        let (p, c) = (b[i - 1], b[i]);
        let next_lower = b.get(i + 1).is_some_and(u8::is_ascii_lowercase);
        let boundary = (p.is_ascii_lowercase() && c.is_ascii_uppercase())
            || (p.is_ascii_uppercase() && c.is_ascii_uppercase() && next_lower);
        boundary && i >= 2 && b.len() - i >= 2
    };
    if !(1..b.len()).any(is_cut) {
        push_word(s, word);
        return;
    }
    push_word(s, word);
    let (a, end, _) = s.toks.pop().expect("just pushed");
    s.wholes.push((a, end));
    let mut last = 0;
    for i in (1..b.len()).filter(|&i| is_cut(i)).chain(std::iter::once(b.len())) {
        push_word(s, &word[last..i]);
        last = i;
    }
}

/// `0x…`, or 8+ hex digits with at least one decimal digit (hashes, addresses).
fn is_hex(b: &[u8], digits: usize) -> bool {
    let prefixed =
        b.len() > 2 && (b.starts_with(b"0x") || b.starts_with(b"0X")) && b[2..].iter().all(u8::is_ascii_hexdigit);
    prefixed || (b.len() >= 8 && digits > 0 && b.iter().all(u8::is_ascii_hexdigit))
}

fn is_uuid(c: &str) -> bool {
    let b = c.as_bytes();
    if b.len() < 36 {
        return false;
    }
    // Anywhere in the chunk (e.g. `GPU-<uuid>`).
    b.windows(36).any(|w| {
        w.iter()
            .enumerate()
            .all(|(i, ch)| if matches!(i, 8 | 13 | 18 | 23) { *ch == b'-' } else { ch.is_ascii_hexdigit() })
    })
}

fn is_path(c: &str) -> bool {
    let has_alpha = c.bytes().any(|b| b.is_ascii_alphabetic());
    has_alpha
        && ((c.starts_with('/') && c.len() > 1)
            || c.starts_with("./")
            || c.starts_with("~/")
            || c.bytes().filter(|&b| b == b'/').count() >= 2)
}

/// What follows the first `://` in `c` (as `c.split_once("://")` gives it,
/// without building a substring searcher for every chunk of every line).
fn after_scheme(c: &str) -> Option<&str> {
    let at = c.as_bytes().windows(3).position(|w| w == b"://")?;
    Some(&c[at + 3..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> String {
        tokens(s).join(" ")
    }

    #[test]
    fn masks_numbers_hex_uuids_paths_and_urls() {
        assert_eq!(toks("Tried to allocate 2.00 GiB"), "tried to allocate #num gib");
        assert_eq!(toks("at 0x7f3a2b1c4d5e pid=1234"), "at #hex pid #num");
        assert_eq!(toks("hash deadbeef12345678 ok"), "hash #hex ok");
        assert_eq!(toks("GPU-5f2c1b7a-1234-4cde-9abc-0123456789ab lost"), "#uuid lost");
        assert_eq!(
            toks(r#"File "/usr/local/lib/python3.12/site-packages/vllm/v1/engine/core.py", line 77"#),
            "file #path core py line #num"
        );
        assert_eq!(toks("see https://huggingface.co/meta-llama/Llama-3.1-8B"), "see #url huggingface co");
        assert_eq!(toks("connect to 10.0.0.12:29500 failed"), "connect to #num failed");
        assert_eq!(toks("an H100 with bf16 on sm_80"), "an h# with bf# on sm #num");
        assert_eq!(toks("id a1b2c3d4e5f6g7h8 done"), "id #id done");
    }

    #[test]
    fn splits_camel_case_and_keeps_the_whole_identifier() {
        assert_eq!(toks("torch.OutOfMemoryError: CUDA out of memory"), "torch out of memory error cuda out of memory");
        assert_eq!(toks("ncclSystemError: System call"), "nccl system error system call");
        assert_eq!(toks("HTTPServer"), "http server");
        assert_eq!(toks("2.00 GiB in xFormers"), "#num gib in xformers");
        let mut s = Scratch::default();
        tokenize("GatedRepoError", &mut s, 99);
        assert_eq!(s.wholes.len(), 1);
        assert_eq!(&s.words[s.wholes[0].0..s.wholes[0].1], "gatedrepoerror");
    }

    #[test]
    fn features_are_deterministic_and_in_range() {
        let f = Featurizer::new(FeaturizerConfig::default());
        let line = "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization`";
        let mut s = Scratch::default();
        let mut a = Vec::new();
        let mut b = Vec::new();
        let ka = f.line_into(line, &mut s, &mut a);
        let kb = f.line_into(line, &mut Scratch::default(), &mut b);
        assert_eq!((a.clone(), ka), (b, kb));
        assert!(a.iter().all(|&id| id < FeaturizerConfig::default().buckets));
        // Pinned values: the shipped weights depend on these buckets never changing.
        assert_eq!(fnv1a(b"kv"), 0x08be_5007_b562_9334);
        let mut first = Vec::new();
        f.line_into("cuda", &mut s, &mut first);
        assert_eq!(first[0], 0xd328);
    }

    #[test]
    fn masked_variants_share_features() {
        let f = Featurizer::new(FeaturizerConfig::default());
        let mut s = Scratch::default();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let ka = f.line_into("max seq len (32768) is larger than KV cache (20144)", &mut s, &mut a);
        let kb = f.line_into("max seq len (131072) is larger than KV cache (99)", &mut s, &mut b);
        assert_eq!((a, ka), (b, kb));
    }

    #[test]
    fn windows_keep_distinct_lines_once() {
        let f = Featurizer::new(FeaturizerConfig::default());
        let lines =
            ["Waiting for shard to be ready... rank=0", "", "Waiting for shard to be ready... rank=1", "Killed"];
        let w = f.window(&lines, &mut Scratch::default());
        assert_eq!(w.lines(), 2);
        assert_eq!(w.line(1).len(), f.window(&["Killed"], &mut Scratch::default()).ids.len());
        assert_eq!(f.window(&[], &mut Scratch::default()).lines(), 0);
    }

    #[test]
    fn odd_input_does_not_panic() {
        let f = Featurizer::new(FeaturizerConfig::default());
        let mut s = Scratch::default();
        for line in [
            "",
            " ",
            "\u{fffd}\u{fffd}",
            "████ 100%",
            "::::",
            "a",
            &"x".repeat(20_000),
            "日本語 エラー",
            "0x",
            "/",
            "://",
        ] {
            let mut ids = Vec::new();
            f.line_into(line, &mut s, &mut ids);
        }
    }

    /// The n-gram hashing the shipped weights were trained with, one n-gram
    /// at a time.
    fn char_ngrams_reference(f: &Featurizer, word: &[u8]) -> Vec<u32> {
        let mut buf = vec![b'<'];
        buf.extend_from_slice(&word[..word.len().min(24)]);
        buf.push(b'>');
        let mut ids = Vec::new();
        for n in f.cfg.char_min as usize..=f.cfg.char_max as usize {
            if n > buf.len() {
                break;
            }
            for w in buf.windows(n) {
                ids.push(f.bucket(mix(fnv1a(w) ^ K_CHAR ^ n as u64)));
            }
        }
        ids
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #[test]
        fn char_ngrams_match_the_reference(
            word in proptest::collection::vec(proptest::num::u8::ANY, 2..40),
            lo in 2u8..=8,
            span in 0u8..=6,
        ) {
            let hi = (lo + span).min(8);
            let f = Featurizer::new(FeaturizerConfig { char_min: lo, char_max: hi, ..Default::default() });
            let (mut buf, mut ids) = (Vec::new(), Vec::new());
            f.char_ngrams(&word, &mut buf, &mut ids);
            proptest::prop_assert_eq!(ids, char_ngrams_reference(&f, &word));
        }

        #[test]
        fn after_scheme_is_split_once(c in "[a-z:/.]{0,12}|\\PC{0,40}") {
            proptest::prop_assert_eq!(after_scheme(&c), c.split_once("://").map(|(_, r)| r));
        }

        /// The n-gram cache changes nothing: a window's ids are those of its
        /// lines featurized one by one with fresh buffers, and a scratch
        /// reused across featurizers of other configs gives the same.
        #[test]
        fn cached_windows_match_uncached_lines(
            lines in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::prop_oneof![
                        proptest::sample::select(
                            ["error", "CUDA", "OutOfMemoryError", "ncclInternalError", "h100", "x"].map(String::from).to_vec()
                        ),
                        "[a-zA-Z0-9/:.-]{1,30}",
                    ],
                    0..12,
                ).prop_map(|w| w.join(" ")),
                0..20,
            ),
            lo in 2u8..=4,
        ) {
            let f = Featurizer::new(FeaturizerConfig { char_min: lo, char_max: lo + 2, ..Default::default() });
            let other = Featurizer::new(FeaturizerConfig::default());
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            let mut shared = Scratch::default();
            other.window(&refs, &mut shared);
            let got = f.window(&refs, &mut shared);
            let mut want = WindowFeatures::default();
            let mut keys = Vec::new();
            for line in &refs {
                let mut ids = Vec::new();
                let key = f.line_into(line, &mut Scratch::default(), &mut ids);
                if !ids.is_empty() && !keys.contains(&key) {
                    keys.push(key);
                    want.ids.extend_from_slice(&ids);
                    want.ends.push(want.ids.len() as u32);
                }
            }
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn config_validation() {
        assert!(FeaturizerConfig::default().validate().is_ok());
        assert!(FeaturizerConfig { buckets: 1000, ..Default::default() }.validate().is_err());
        assert!(FeaturizerConfig { char_min: 4, char_max: 3, ..Default::default() }.validate().is_err());
        assert!(FeaturizerConfig { char_min: 0, char_max: 0, ..Default::default() }.validate().is_ok());
    }
}
