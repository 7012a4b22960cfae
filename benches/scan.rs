//! Scanner throughput next to ripgrep, in the same run.
//!
//! Generates a large corpus of realistic serving-log noise with rare error
//! lines (taken from the signatures' own examples), then counts matching
//! lines twice: with podmedic's scanner (one thread, streaming 8 MiB chunks
//! from the file) and with `rg -c -f` given the same regexes. Prints MB/s for
//! both, the ratio, and whether the counts agree.
//!
//! `cargo bench --bench scan` (corpus size: `PODMEDIC_BENCH_MB`, default 512).

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use podmedic::signatures::SignatureSet;

/// A small deterministic PRNG (xorshift64*), so the corpus is the same every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const NOISE: &[&str] = &[
    "INFO {d} 12:{m}:{s} [metrics.py:351] Avg prompt throughput: {n}.4 tokens/s, Avg generation throughput: {n}.1 tokens/s, Running: {k} reqs, Swapped: 0 reqs, Pending: 0 reqs, GPU KV cache usage: {k}.3%, CPU KV cache usage: 0.0%.",
    "INFO:     10.0.{k}.{n}:5{n} - \"POST /v1/chat/completions HTTP/1.1\" 200 OK",
    "INFO {d} 12:{m}:{s} [engine.py:267] Added request chatcmpl-{h}{h}.",
    "INFO {d} 12:{m}:{s} [async_llm_engine.py:173] Finished request chatcmpl-{h}{h}.",
    "DEBUG {d} 12:{m}:{s} [scheduler.py:1190] Scheduled {k} prefill and {n} decode sequences, {n} blocks used of 2725",
    "2026-11-27T12:{m}:{s}.{n}Z  INFO text_generation_router::server: router/src/server.rs:1{n}: Success total_time=\"{n}.2ms\" validation_time=\"{k}µs\" queue_time=\"{n}µs\" inference_time=\"{n}ms\" time_per_token=\"{k}ms\" seed=\"None\"",
    "[2026-11-27 12:{m}:{s}] Decode batch. #running-req: {k}, #token: {n}, token usage: 0.{k}, gen throughput (token/s): {n}.{k}, #queue-req: 0",
    "Loading safetensors checkpoint shards:  {k}% Completed | {k}/4 [00:{s}<00:{m}, 1.{n}s/it]",
    "time=2026-11-27T12:{m}:{s}.000Z level=INFO source=server.go:{n} msg=\"llama runner started in {k}.{n} seconds\"",
    "I1127 12:{m}:{s}.{n} 1 grpc_server.cc:{n}] Started GRPCInferenceService at 0.0.0.0:8001",
    "WARNING {d} 12:{m}:{s} [config.py:{n}] Possibly too large swap space. {k}.00 GiB out of the 503.{n} GiB total CPU memory is allocated for the swap space.",
    "slot update_slots: id  0 | task {n} | prompt done, n_past = {n}, n_tokens = {k}",
];

fn fill(template: &str, rng: &mut Rng, out: &mut Vec<u8>) {
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.extend_from_slice(&rest.as_bytes()[..i]);
        let key = &rest[i + 1..i + 2];
        match key {
            "d" => write!(out, "11-{:02}", 1 + rng.below(28)).unwrap(),
            "m" | "s" => write!(out, "{:02}", rng.below(60)).unwrap(),
            "n" => write!(out, "{}", rng.below(10_000)).unwrap(),
            "k" => write!(out, "{}", rng.below(100)).unwrap(),
            _ => write!(out, "{:08x}", rng.next() as u32).unwrap(),
        }
        rest = &rest[i + 3..];
    }
    out.extend_from_slice(rest.as_bytes());
}

fn main() {
    let mb: usize = std::env::var("PODMEDIC_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    let set = SignatureSet::load(&["patterns"]).unwrap_or_else(|p| panic!("patterns/ is invalid:\n{p}"));
    let errors: Vec<&str> = set.signatures().iter().flat_map(|s| s.examples.iter().map(String::as_str)).collect();

    let dir = tempfile::tempdir().expect("temp dir");
    let corpus = dir.path().join("corpus.log");
    let patterns = dir.path().join("patterns.txt");
    let t = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut buf = Vec::with_capacity(mb << 20);
    let mut planted = 0u64;
    while buf.len() < mb << 20 {
        if rng.below(5_000) == 0 {
            buf.extend_from_slice(errors[rng.below(errors.len())].as_bytes());
            planted += 1;
        } else {
            fill(NOISE[rng.below(NOISE.len())], &mut rng, &mut buf);
        }
        buf.push(b'\n');
    }
    std::fs::write(&corpus, &buf).expect("write corpus");
    let bytes = buf.len() as f64;
    drop(buf);
    let mut pats = String::new();
    // ripgrep 13 joins `-f` patterns into one alternation, where repeated
    // capture names are an error; unnamed groups match the same lines.
    let named = regex::Regex::new(r"\(\?P?<[A-Za-z_][A-Za-z0-9_]*>").expect("valid");
    for s in set.signatures() {
        // Each pattern in its own group, so that an inline flag such as
        // `(?i)` cannot leak into the patterns joined after it.
        pats.push_str("(?:");
        pats.push_str(&named.replace_all(s.regex().as_str(), "(?:"));
        pats.push_str(")\n");
    }
    std::fs::write(&patterns, pats).expect("write patterns");
    println!(
        "corpus: {:.0} MiB, {} signatures, {planted} error lines planted (generated in {:.1}s)",
        bytes / 1048576.0,
        set.len(),
        t.elapsed().as_secs_f64()
    );

    // Warm the page cache for both.
    let _ = std::fs::read(&corpus);

    let mut best_pm = f64::MAX;
    let mut pm_count = 0;
    for _ in 0..3 {
        let t = Instant::now();
        pm_count = scan_file(&set, &corpus);
        best_pm = best_pm.min(t.elapsed().as_secs_f64());
    }
    let pm_mbs = bytes / 1e6 / best_pm;
    println!("podmedic scanner : {pm_mbs:8.2} MB/s  ({best_pm:.3}s, {pm_count} matching lines, 1 thread)");

    match rg(&patterns, &corpus) {
        Some((secs, rg_count)) => {
            let rg_mbs = bytes / 1e6 / secs;
            println!("rg -c -f         : {rg_mbs:8.2} MB/s  ({secs:.3}s, {rg_count} matching lines)");
            println!("ratio podmedic/rg: {:.2}x", pm_mbs / rg_mbs);
            if rg_count == pm_count {
                println!("counts agree: yes");
            } else {
                println!("counts agree: NO ({pm_count} vs {rg_count})");
                std::process::exit(1);
            }
        }
        None => println!("rg not found: install Debian's `ripgrep` for the comparison"),
    }
}

/// Streams the file in 8 MiB chunks, scanning whole lines, like rg does.
fn scan_file(set: &SignatureSet, path: &Path) -> u64 {
    let mut f = std::fs::File::open(path).expect("open corpus");
    let mut scratch = set.scratch();
    let mut buf = vec![0u8; 8 << 20];
    let mut filled = 0;
    let mut count = 0;
    loop {
        let n = f.read(&mut buf[filled..]).expect("read corpus");
        filled += n;
        if n == 0 {
            if filled > 0 {
                count += set.count_matching_lines(&buf[..filled], &mut scratch);
            }
            return count;
        }
        let Some(last_nl) = memchr::memrchr(b'\n', &buf[..filled]) else {
            if filled == buf.len() {
                buf.resize(buf.len() * 2, 0);
            }
            continue;
        };
        count += set.count_matching_lines(&buf[..last_nl + 1], &mut scratch);
        buf.copy_within(last_nl + 1..filled, 0);
        filled -= last_nl + 1;
    }
}

fn rg(patterns: &Path, corpus: &Path) -> Option<(f64, u64)> {
    let mut best = f64::MAX;
    let mut count = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let out =
            Command::new("rg").args(["--no-config", "-c", "-j1", "-f"]).arg(patterns).arg(corpus).output().ok()?;
        best = best.min(t.elapsed().as_secs_f64());
        if !out.status.success() && out.status.code() != Some(1) {
            panic!("rg failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        count = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
        if best > 30.0 {
            break; // one slow run says enough
        }
    }
    Some((best, count))
}
