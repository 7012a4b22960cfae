//! The log normaliser and the bounded tail reader, on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podmedic::logtext::{MAX_LINE_BYTES, normalize_line, read_tail};

fuzz_target!(|data: &[u8]| {
    let mut out = String::new();
    normalize_line(data, &mut out);
    assert!(out.len() <= 3 * data.len().min(MAX_LINE_BYTES) + 1);
    // The first byte picks the tail size and the reader's buffer size.
    let (n, cap) = data.first().map_or((1, 1), |b| (usize::from(b & 0x0f) + 1, usize::from(b >> 4) + 1));
    let tail = read_tail(std::io::BufReader::with_capacity(cap, data), n).expect("reading memory");
    assert!(tail.lines.len() <= n && tail.lines.iter().all(|l| l.len() <= MAX_LINE_BYTES));
    for l in &tail.lines {
        normalize_line(l, &mut out);
    }
});
