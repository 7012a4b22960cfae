//! Reading and normalising container log text.
//!
//! Logs come from `kubectl logs`, CRI log files, JSON log shippers and
//! terminals, so a line may carry a timestamp prefix, a CRI stream tag,
//! ANSI colours, a CR before its LF, invalid UTF-8, or be a JSON object whose
//! message is what matters. [`normalize_line`] turns all of these into the
//! text a signature is written against. [`read_tail`] reads the last N lines
//! of a stream of any size with bounded memory.

use std::collections::VecDeque;
use std::io::{self, BufRead};

/// Longest line, in bytes, that is kept; the rest of a longer line is dropped.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// The last lines of a log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogTail {
    /// Raw lines (without their `\n`), each at most [`MAX_LINE_BYTES`].
    pub lines: Vec<Vec<u8>>,
    /// 1-based number, in the whole input, of `lines[0]`.
    pub first_line_no: usize,
    /// Lines in the whole input.
    pub total_lines: usize,
    /// Lines that were longer than [`MAX_LINE_BYTES`] and were cut.
    pub cut_lines: usize,
}

impl LogTail {
    /// The tail as one buffer, lines joined by `\n`: what the scanner reads.
    pub fn joined(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(self.lines.iter().map(|l| l.len() + 1).sum());
        for l in &self.lines {
            buf.extend_from_slice(l);
            buf.push(b'\n');
        }
        buf
    }

    /// A tail built from text already in memory (tests, the controller's log fetch).
    pub fn from_text(text: &str, max_lines: usize) -> Self {
        read_tail(text.as_bytes(), max_lines).expect("reading from memory cannot fail")
    }
}

/// Reads `input` to its end and keeps its last `max_lines` lines. Memory is
/// bounded by `max_lines × MAX_LINE_BYTES` whatever the input's size or its
/// longest line.
pub fn read_tail(mut input: impl BufRead, max_lines: usize) -> io::Result<LogTail> {
    let max_lines = max_lines.max(1);
    let mut ring: VecDeque<Vec<u8>> = VecDeque::with_capacity(max_lines.min(4096));
    let mut total = 0usize;
    let mut cut = 0usize;
    let mut current: Vec<u8> = Vec::new();
    let mut current_cut = false;
    let mut in_line = false;
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let (chunk, ends_line) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        in_line = true;
        let room = MAX_LINE_BYTES.saturating_sub(current.len());
        if chunk.len() > room {
            current_cut = true;
        }
        current.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let consumed = ends_line.unwrap_or(buf.len());
        input.consume(consumed);
        if ends_line.is_some() {
            total += 1;
            cut += usize::from(current_cut);
            current_cut = false;
            in_line = false;
            let line = if ring.len() == max_lines {
                let mut recycled = ring.pop_front().expect("ring is full");
                recycled.clear();
                recycled.extend_from_slice(&current);
                recycled
            } else {
                current.clone()
            };
            ring.push_back(line);
            current.clear();
        }
    }
    if in_line && !current.is_empty() {
        total += 1;
        cut += usize::from(current_cut);
        if ring.len() == max_lines {
            ring.pop_front();
        }
        ring.push_back(current);
    }
    let lines: Vec<Vec<u8>> = ring.into();
    Ok(LogTail { first_line_no: total - lines.len() + 1, total_lines: total, cut_lines: cut, lines })
}

/// Writes the normalised text of one raw line into `out` (cleared first).
///
/// Removes, in order: invalid UTF-8 (replaced, lossy), a trailing CR, a
/// Kubernetes/CRI timestamp prefix and stream tag, ANSI escape sequences;
/// and replaces a JSON object line by its message (plus its exception text,
/// when it has one). A JSON message that spans several lines keeps its
/// newlines; callers treat each as its own line.
pub fn normalize_line(raw: &[u8], out: &mut String) {
    out.clear();
    let raw = &raw[..raw.len().min(MAX_LINE_BYTES)];
    let text = String::from_utf8_lossy(raw);
    let mut s: &str = &text;
    if let Some(stripped) = s.strip_suffix('\r') {
        s = stripped;
    }
    s = strip_timestamp_prefix(s);
    if s.as_bytes().contains(&0x1b) {
        let mut cleaned = String::with_capacity(s.len());
        strip_ansi(s, &mut cleaned);
        normalize_json_or_copy(&cleaned, out);
    } else {
        normalize_json_or_copy(s, out);
    }
}

fn normalize_json_or_copy(s: &str, out: &mut String) {
    let trimmed = s.trim();
    if trimmed.len() >= 2
        && trimmed.starts_with('{')
        && trimmed.ends_with('}')
        && let Some(msg) = json_message(trimmed)
    {
        out.push_str(&msg);
        return;
    }
    out.push_str(s);
}

/// The message of a structured log line, if it is a JSON object with one.
fn json_message(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let obj = value.as_object()?;
    const MESSAGE_KEYS: [&str; 6] = ["message", "msg", "log", "text", "MESSAGE", "event"];
    // Where loggers put the cause next to the message: Python's exception
    // fields, Go's `error`/`err`, and the `reason`/`detail`/`cause` fields of
    // Kubernetes operators (KubeRay logs an OOMKilled container's state in
    // `reason`) and of API error bodies.
    const EXTRA_KEYS: [&str; 8] = ["exc_info", "exception", "error", "stack_trace", "err", "reason", "detail", "cause"];
    let mut msg = MESSAGE_KEYS.iter().find_map(|k| obj.get(*k)?.as_str())?.to_owned();
    for k in EXTRA_KEYS {
        if let Some(extra) = obj.get(k).and_then(|v| v.as_str()) {
            msg.push('\n');
            msg.push_str(extra);
        }
    }
    Some(msg)
}

/// Strips `2026-01-01T00:00:00.123456789Z ` (kubectl `--timestamps`) and the
/// CRI form `2026-01-01T00:00:00.1Z stdout F `.
///
/// Byte positions are only used where they are known to be char boundaries:
/// the prefix is searched as bytes, and the space that ends it is ASCII, so
/// slicing just after it is safe whatever text follows (a multi-byte
/// character across byte 40 once panicked here).
fn strip_timestamp_prefix(s: &str) -> &str {
    let b = s.as_bytes();
    // YYYY-MM-DDTHH:MM:SS at least.
    if b.len() < 20 || !(b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-' && b[10] == b'T') {
        return s;
    }
    let Some(space) = memchr::memchr(b' ', &b[..b.len().min(40)]) else { return s };
    // `space` indexes an ASCII byte, so `space + 1` is a char boundary.
    let Some(rest) = s.get(space + 1..) else { return s };
    for stream in ["stdout ", "stderr "] {
        if let Some(r) = rest.strip_prefix(stream) {
            for tag in ["F ", "P "] {
                if let Some(r2) = r.strip_prefix(tag) {
                    return r2;
                }
            }
            return r;
        }
    }
    rest
}

/// Copies `s` without its ANSI escape sequences (CSI `ESC [ ... final` and
/// two-byte `ESC x`).
fn strip_ansi(s: &str, out: &mut String) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                // OSC: until BEL or ESC \.
                chars.next();
                while let Some(c) = chars.next() {
                    if c == '\x07' {
                        break;
                    }
                    if c == '\x1b' {
                        chars.next();
                        break;
                    }
                }
            }
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &[u8]) -> String {
        let mut out = String::new();
        normalize_line(raw, &mut out);
        out
    }

    #[test]
    fn strips_cri_and_kubectl_timestamps() {
        assert_eq!(norm(b"2026-01-01T00:00:00.000000000Z stdout F hello world"), "hello world");
        assert_eq!(norm(b"2026-01-01T00:00:00.1Z stderr P partial"), "partial");
        assert_eq!(norm(b"2026-11-27T18:01:04.123456789Z INFO started"), "INFO started");
        assert_eq!(norm(b"2026 is a year"), "2026 is a year");
    }

    #[test]
    fn multibyte_text_across_the_prefix_window_is_kept() {
        // Regression (issue 11): a timestamp prefix, then a multi-byte
        // character across byte 40, panicked the normaliser.
        let line = "2026-01-01T00:00:00.000000000Zxy日本語のログ: 起動しました";
        assert!(line.len() > 40 && !line.is_char_boundary(40));
        assert_eq!(norm(line.as_bytes()), line);
        // The usual form: kubectl's timestamp, then Chinese text.
        let line = "2026-11-27T18:01:04.12345678Z 模型加载失败，显存不足";
        assert!(!line.is_char_boundary(40));
        assert_eq!(norm(line.as_bytes()), "模型加载失败，显存不足");
        for cut in 0..line.len() {
            // Every prefix of the line, even one ending inside a character.
            let _ = norm(&line.as_bytes()[..cut]);
        }
    }

    #[test]
    fn strips_ansi_and_crlf() {
        assert_eq!(norm(b"\x1b[31mERROR\x1b[0m boom\r"), "ERROR boom");
        assert_eq!(norm(b"\x1b]0;title\x07text"), "text");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_rejected() {
        assert_eq!(norm(b"bad \xff\xfe byte"), "bad \u{fffd}\u{fffd} byte");
    }

    #[test]
    fn json_lines_yield_their_message_and_exception() {
        assert_eq!(norm(br#"{"level":"error","msg":"CUDA out of memory","ts":1}"#), "CUDA out of memory");
        assert_eq!(
            norm(br#"{"message":"Engine failed","exc_info":"Traceback\nValueError: x"}"#),
            "Engine failed\nTraceback\nValueError: x"
        );
        // An operator's `reason` field carries the cause.
        assert_eq!(
            norm(br#"{"level":"info","msg":"Deleting pod","reason":"container terminated: Reason:OOMKilled"}"#),
            "Deleting pod\ncontainer terminated: Reason:OOMKilled"
        );
        // Not JSON after all: kept as is.
        assert_eq!(norm(b"{not json}"), "{not json}");
    }

    #[test]
    fn tail_keeps_last_lines_and_numbers_them() {
        let t = LogTail::from_text("a\nb\nc\nd\n", 2);
        assert_eq!(t.lines, vec![b"c".to_vec(), b"d".to_vec()]);
        assert_eq!((t.first_line_no, t.total_lines), (3, 4));
        let t = LogTail::from_text("a\nb", 10);
        assert_eq!(t.lines.len(), 2);
        let t = LogTail::from_text("", 10);
        assert!(t.lines.is_empty());
        assert_eq!(t.first_line_no, 1);
    }

    #[test]
    fn huge_lines_are_capped() {
        let mut text = "x".repeat(MAX_LINE_BYTES * 3);
        text.push_str("\nshort\n");
        // A tiny BufReader capacity exercises lines that span many reads.
        let t = read_tail(io::BufReader::with_capacity(64, text.as_bytes()), 10).unwrap();
        assert_eq!(t.lines[0].len(), MAX_LINE_BYTES);
        assert_eq!(t.lines[1], b"short");
        assert_eq!(t.cut_lines, 1);
    }
}
