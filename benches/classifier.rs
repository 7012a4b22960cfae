//! Classifier latency and throughput on the CPU, with baselines from the
//! same run. Prints figures; asserts nothing.
//!
//!     RAYON_NUM_THREADS=1 taskset -c 0 cargo bench --bench classifier
//!
//! (one core, as the model card reports; `PODMEDIC_PATTERNS=DIR` points the
//! signature baseline at another library than `patterns/`). Windows are 256
//! windows of exactly 50 lines built from `data/dev.jsonl`.
//!
//! On a GPU machine, `PODMEDIC_BENCH_DEVICE=cuda` puts the model on the first
//! GPU (a `--features cuda` build: see scripts/cuda-build and
//! models/README.md); `auto` and `cpu` work too. Featurization stays on the
//! CPU; each timed GPU figure includes the copy of the results back.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use podmedic::classifier::data::read_jsonl;
use podmedic::classifier::featurize::{Scratch, WindowFeatures};
use podmedic::classifier::{DEFAULT_MODEL, DeviceChoice, ModelClassifier};
use podmedic::diagnosis::Classifier;
use podmedic::logtext::LogTail;
use podmedic::signatures::SignatureSet;

/// The device named by `PODMEDIC_BENCH_DEVICE` (default `cpu`).
fn bench_device() -> DeviceChoice {
    use clap::ValueEnum as _;
    let name = std::env::var("PODMEDIC_BENCH_DEVICE").unwrap_or_else(|_| "cpu".into());
    DeviceChoice::from_str(&name, true).unwrap_or_else(|e| panic!("PODMEDIC_BENCH_DEVICE={name}: {e}"))
}

/// Median of `rounds` timings of `f`, each over all of `n` items; per item.
fn time_per_item(rounds: usize, n: usize, mut f: impl FnMut()) -> Duration {
    let mut v: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v[v.len() / 2] / n as u32
}

fn us(d: Duration) -> String {
    format!("{:>9.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dev = read_jsonl(&root.join("data/dev.jsonl")).expect("data/dev.jsonl");
    // Exactly 50 lines each: a dev window's lines, preceded by the lines of
    // the windows before it where it is shorter (the worst case the
    // classifier sees; most real windows have fewer distinct lines).
    let all: Vec<Vec<String>> = dev.iter().take(300).map(|e| e.window()).collect();
    let windows: Vec<Vec<String>> = (44..300)
        .map(|i| {
            let mut lines: Vec<String> =
                all[..=i].iter().rev().flat_map(|w| w.iter().rev().cloned()).take(50).collect();
            lines.reverse();
            lines
        })
        .collect();
    let refs: Vec<Vec<&str>> = windows.iter().map(|w| w.iter().map(String::as_str).collect()).collect();
    let n = refs.len();
    let mean_lines = windows.iter().map(Vec::len).sum::<usize>() as f64 / n as f64;
    let mean_bytes = windows.iter().map(|w| w.iter().map(String::len).sum::<usize>()).sum::<usize>() as f64 / n as f64;
    println!(
        "{n} windows, {mean_lines:.1} lines and {:.1} KiB each on average; candle CPU threads: {}",
        mean_bytes / 1024.0,
        candle_core::utils::get_num_threads()
    );

    // Model load as `podmedic` does it (`load_default`: on the CPU the
    // embedding is read in place from the binary, no copy).
    let choice = bench_device();
    let model = podmedic::classifier::load_default(choice).unwrap();
    let device = model.device().clone();
    println!("model on {device:?}{}", model.fallback().map_or(String::new(), |w| format!(" ({w})")));
    let load = time_per_item(if device.is_cpu() { 21 } else { 5 }, 1, || {
        black_box(podmedic::classifier::load_default(black_box(choice)).unwrap());
    });
    println!("model load ({:.1} MiB file):            {}", DEFAULT_MODEL.len() as f64 / (1 << 20) as f64, us(load));
    // Baseline 0: the same bytes as a `--model` file is loaded (validated,
    // the embedding copied to the heap: the layout before it was read in place).
    let copied = ModelClassifier::from_bytes(DEFAULT_MODEL, choice).unwrap();
    let load_copy = time_per_item(if device.is_cpu() { 21 } else { 5 }, 1, || {
        black_box(ModelClassifier::from_bytes(black_box(DEFAULT_MODEL), choice).unwrap());
    });
    println!("  baseline: load with a heap copy:       {}", us(load_copy));

    // Baseline 1: the featurizer alone.
    let mut scratch = Scratch::default();
    let mut wf = WindowFeatures::default();
    let feat = time_per_item(21, n, || {
        for r in &refs {
            model.featurizer().window_into(r, &mut scratch, &mut wf);
            black_box(&wf);
        }
    });
    // Baseline 2: the signature scan of the same window, when patterns/ exists.
    let patterns = std::env::var_os("PODMEDIC_PATTERNS").map_or_else(|| root.join("patterns"), Into::into);
    let sig = SignatureSet::load(&[patterns]).ok().filter(|s| !s.is_empty());
    let tails: Vec<LogTail> = windows.iter().map(|w| LogTail::from_text(&w.join("\n"), 50)).collect();
    let scan = sig.as_ref().map(|s| {
        time_per_item(21, n, || {
            for t in &tails {
                black_box(s.scan_tail(t));
            }
        })
    });

    // Batch 1: featurize + bag sums + dense layers, one window at a time.
    let b1 = time_per_item(21, n, || {
        for r in &refs {
            black_box(model.predict(r));
        }
    });
    let b1_copy = time_per_item(21, n, || {
        for r in &refs {
            black_box(copied.predict(r));
        }
    });
    // Batch 64: featurize 64 windows, then bags + one dense forward for all.
    let mut wfs: Vec<WindowFeatures> = vec![WindowFeatures::default(); 64];
    let b64 = time_per_item(21, n, || {
        for chunk in refs.chunks(64) {
            for (r, w) in chunk.iter().zip(wfs.iter_mut()) {
                model.featurizer().window_into(r, &mut scratch, w);
            }
            let batch: Vec<&WindowFeatures> = wfs[..chunk.len()].iter().collect();
            black_box(model.predict_batch(&batch).unwrap());
        }
    });
    // The all-candle path (index_select + index_add + dense), what CUDA runs.
    let feats: Vec<WindowFeatures> = refs.iter().map(|r| model.featurizer().window(r, &mut scratch)).collect();
    let batches: Vec<Vec<&WindowFeatures>> = feats.chunks(64).map(|c| c.iter().collect()).collect();
    let candle64 = time_per_item(5, n, || {
        for b in &batches {
            black_box(model.logits_batch(b).unwrap());
        }
        device.synchronize().unwrap();
    });
    let fast_only = time_per_item(21, n, || {
        for f in &feats {
            black_box(model.predict_features(f).unwrap());
        }
    });

    println!("featurizer alone (baseline):           {} per window", us(feat));
    if let Some(scan) = scan {
        println!("signature scan (baseline, {} sigs):  {} per window", sig.as_ref().unwrap().len(), us(scan));
    } else {
        println!("signature scan: skipped (no patterns/ directory)");
    }
    println!("model, batch 1 (featurize + predict):  {} per window  ({:.0} windows/s)", us(b1), 1.0 / b1.as_secs_f64());
    println!("  of which bags + dense (no featurize):{} per window", us(fast_only));
    println!("  baseline: batch 1, heap copy:        {} per window", us(b1_copy));
    println!(
        "model, batch 64 (featurize + predict): {} per window  ({:.0} windows/s)",
        us(b64),
        1.0 / b64.as_secs_f64()
    );
    if device.is_cpu() {
        println!("  all-candle path on CPU, batch 64:    {} per window  (no featurize; what CUDA runs)", us(candle64));
    } else {
        println!("  logits on the GPU, batch 64:         {} per window  (no featurize, no softmax)", us(candle64));
    }
    println!("ratio model batch 1 / featurizer:      {:>9.2}x", b1.as_secs_f64() / feat.as_secs_f64());
    println!("ratio batch 1 in place / heap copy:    {:>9.2}x", b1.as_secs_f64() / b1_copy.as_secs_f64());
    if let Some(scan) = scan {
        println!("ratio model batch 1 / signature scan:  {:>9.2}x", b1.as_secs_f64() / scan.as_secs_f64());
    }
}
