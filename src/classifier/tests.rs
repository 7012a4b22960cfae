use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::data::{Example, read_jsonl};
use super::eval::{Confusion, model_decision, model_probs};
use super::featurize::{FeaturizerConfig, Scratch};
use super::model::{Arch, ModelConfig};
use super::train::{TrainConfig, train};
use super::*;
use crate::diagnosis::FusionConfig;

fn ex(class: FailureClass, text: &str, key: &[&str]) -> Example {
    let mut e = Example::new("", class, text);
    e.key = key.iter().map(|k| (*k).to_owned()).collect();
    e
}

fn tiny_set() -> Vec<Example> {
    let noise = "INFO starting server\nINFO loading weights 50%\n";
    let mut v = Vec::new();
    for (class, line) in [
        (FailureClass::GpuOom, "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
        (FailureClass::KvCacheOom, "ValueError: No available memory for the cache blocks."),
        (FailureClass::NcclFailure, "ncclSystemError: Error while creating shared memory segment /dev/shm/nccl-x"),
        (FailureClass::HostOom, "Killed"),
        (FailureClass::Unknown, "INFO:     Application startup complete."),
    ] {
        for i in 0..4 {
            v.push(ex(class, &format!("{noise}step {i}\n{line}\n"), &[line]));
        }
    }
    v
}

fn tiny_config(arch: Arch) -> TrainConfig {
    TrainConfig {
        featurizer: FeaturizerConfig { buckets: 1024, ..FeaturizerConfig::default() },
        model: ModelConfig { arch, dim: 8, hidden: 8 },
        epochs: 3,
        batch: 4,
        feature_dropout: 0.1,
        line_weight: 0.5,
        ..TrainConfig::default()
    }
}

#[test]
fn training_is_deterministic() {
    let data = tiny_set();
    let cfg = tiny_config(Arch::Hybrid);
    let (a, ra) = train(&data, Some(&data[..5]), &cfg, |_| {}).unwrap();
    let (b, rb) = train(&data, Some(&data[..5]), &cfg, |_| {}).unwrap();
    assert_eq!(a, b, "two runs with the same seed must give the same bytes");
    assert_eq!(ra.epoch_loss, rb.epoch_loss);
    let (c, _) = train(&data, None, &TrainConfig { seed: 7, ..cfg }, |_| {}).unwrap();
    assert_ne!(a, c, "another seed gives other weights");
}

#[test]
fn training_learns_the_tiny_set() {
    let data = tiny_set();
    for arch in [Arch::Bag, Arch::LineMax, Arch::LineMaxMlp, Arch::LineMil, Arch::Hybrid] {
        let cfg = TrainConfig { epochs: 30, ..tiny_config(arch) };
        let (bytes, report) = train(&data, None, &cfg, |_| {}).unwrap();
        assert!(report.epoch_loss.last().unwrap() < report.epoch_loss.first().unwrap(), "{arch:?}: {report:?}");
        let m = ModelClassifier::from_bytes(&bytes, DeviceChoice::Cpu).unwrap();
        let p = m.predict(&[
            "INFO starting server",
            "INFO loading weights 50%",
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        ]);
        let top = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(FailureClass::ALL[top], FailureClass::GpuOom, "{arch:?}: {p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    }
}

#[test]
fn fast_cpu_path_matches_the_candle_path() {
    let data = tiny_set();
    for arch in [Arch::Bag, Arch::LineMax, Arch::LineMaxMlp, Arch::LineMil, Arch::Hybrid] {
        let (bytes, _) = train(&data, Some(&data), &tiny_config(arch), |_| {}).unwrap();
        let m = ModelClassifier::from_bytes(&bytes, DeviceChoice::Cpu).unwrap();
        let mut scratch = Scratch::default();
        let windows: Vec<_> = data
            .iter()
            .map(|e| {
                let w = e.window();
                let refs: Vec<&str> = w.iter().map(String::as_str).collect();
                m.featurizer().window(&refs, &mut scratch)
            })
            .chain(std::iter::once(Default::default()))
            .collect();
        let refs: Vec<_> = windows.iter().collect();
        let logits = m.logits_batch(&refs).unwrap();
        let t = f64::from(m.meta().temperature);
        let probs = candle_nn::ops::softmax(&(logits / t).unwrap(), candle_core::D::Minus1).unwrap();
        let probs = probs.to_vec2::<f32>().unwrap();
        let batched = m.predict_batch(&refs).unwrap();
        for ((w, want), b) in windows.iter().zip(&probs).zip(&batched) {
            let got = m.predict_features(w).unwrap();
            for (g, e) in b.iter().zip(want) {
                assert!((g - e).abs() < 1e-5, "{arch:?} batched: {b:?} vs {want:?}");
            }
            for (g, e) in got.iter().zip(want) {
                assert!((g - e).abs() < 1e-5, "{arch:?}: {got:?} vs {want:?}");
            }
        }
    }
}

fn valid_bytes() -> Vec<u8> {
    train(&tiny_set(), None, &tiny_config(Arch::Hybrid), |_| {}).unwrap().0
}

fn rewrite(bytes: &[u8], edit: impl FnOnce(&mut Vec<(String, Tensor)>, &mut serde_json::Value)) -> Vec<u8> {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let mut meta: serde_json::Value =
        serde_json::from_str(&header.metadata().as_ref().unwrap()[model::META_KEY]).unwrap();
    let mut tensors: Vec<(String, Tensor)> = st
        .names()
        .into_iter()
        .map(|n| (n.to_owned(), candle_core::safetensors::Load::load(&st.tensor(n).unwrap(), &Device::Cpu).unwrap()))
        .collect();
    edit(&mut tensors, &mut meta);
    let info: HashMap<String, String> = [(model::META_KEY.to_owned(), meta.to_string())].into();
    safetensors::serialize(tensors, Some(info)).unwrap()
}

#[test]
fn corrupt_or_foreign_model_files_are_errors_not_panics() {
    let good = valid_bytes();
    assert!(ModelClassifier::from_bytes(&good, DeviceChoice::Cpu).is_ok());
    let invalid = |bytes: &[u8]| match ModelClassifier::from_bytes(bytes, DeviceChoice::Cpu) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted a bad model"),
    };
    assert!(invalid(b"").contains("not a safetensors file"));
    assert!(invalid(b"\x08\0\0\0\0\0\0\0{}garbage").contains("safetensors"));
    assert!(invalid(&good[..good.len() / 2]).contains("safetensors"));
    let mut flipped = good.clone();
    flipped[3] ^= 0x40; // absurd header length
    assert!(invalid(&flipped).contains("safetensors"));

    let no_meta = safetensors::serialize([("x", Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap())], None).unwrap();
    assert!(invalid(&no_meta).contains("no `podmedic` metadata"));
    let msg = invalid(&rewrite(&good, |_, m| m["classes"] = serde_json::json!(["gpu-oom", "not-a-class", "unknown"])));
    assert!(msg.contains("classes") && msg.contains("not-a-class"), "{msg}");
    let msg = invalid(&rewrite(&good, |_, m| m["classes"] = serde_json::json!(["gpu-oom", "gpu-oom", "unknown"])));
    assert!(msg.contains("repeat"), "{msg}");
    let msg = invalid(&rewrite(&good, |_, m| m["classes"] = serde_json::json!(["gpu-oom", "host-oom"])));
    assert!(msg.contains("lack `unknown`"), "{msg}");
    // A subset of classes whose output layer does not have that many rows.
    let msg = invalid(&rewrite(&good, |_, m| m["classes"] = serde_json::json!(["gpu-oom", "unknown"])));
    assert!(msg.contains("shape"), "{msg}");
    let msg = invalid(&rewrite(&good, |_, m| m["format"] = "something-else/9".into()));
    assert!(msg.contains("format"), "{msg}");
    let msg = invalid(&rewrite(&good, |_, m| m["featurizer"]["buckets"] = 1000.into()));
    assert!(msg.contains("power of two"), "{msg}");
    let msg = invalid(&rewrite(&good, |_, m| m["temperature"] = (-1.0).into()));
    assert!(msg.contains("temperature"), "{msg}");
    let msg = invalid(&rewrite(&good, |t, _| t.retain(|(n, _)| n != "output.bias")));
    assert!(msg.contains("missing tensor `output.bias`"), "{msg}");
    let msg = invalid(&rewrite(&good, |t, _| {
        let (_, w) = t.iter_mut().find(|(n, _)| n == "output.weight").unwrap();
        *w = Tensor::zeros((3, 3), DType::F32, &Device::Cpu).unwrap();
    }));
    assert!(msg.contains("shape"), "{msg}");
    let msg = invalid(&rewrite(&good, |t, _| {
        let (_, w) = t.iter_mut().find(|(n, _)| n == "output.bias").unwrap();
        let n = w.elem_count();
        *w = Tensor::from_vec(vec![f32::NAN; n], n, &Device::Cpu).unwrap();
    }));
    assert!(msg.contains("non-finite"), "{msg}");
    let msg = invalid(&rewrite(&good, |t, _| {
        let (_, w) = t.iter_mut().find(|(n, _)| n == "output.bias").unwrap();
        *w = Tensor::zeros(w.elem_count(), DType::U32, &Device::Cpu).unwrap();
    }));
    assert!(msg.contains("dtype"), "{msg}");

    let missing = ModelClassifier::load(Path::new("/nonexistent/model.safetensors"), DeviceChoice::Cpu).unwrap_err();
    assert!(matches!(missing, ClassifierError::Read { .. }));
}

#[test]
fn serialisation_is_byte_stable() {
    let good = valid_bytes();
    let m = ModelClassifier::from_bytes(&good, DeviceChoice::Cpu).unwrap();
    let again = to_safetensors(m.params().unwrap(), m.meta()).unwrap();
    assert_eq!(good, again);
}

#[test]
fn cuda_without_cuda_is_an_error_and_auto_falls_back_to_the_cpu() {
    // Without the `cuda` feature (every build but scripts/cuda-build's):
    // `cuda` names the missing feature, `auto` is the CPU and says why.
    if !candle_core::utils::cuda_is_available() {
        let err = DeviceChoice::Cuda.device().unwrap_err();
        assert!(matches!(err, ClassifierError::NoCudaBuild), "{err:?}");
        assert!(err.to_string().contains("--features cuda"), "{err}");
        let (device, why) = DeviceChoice::Auto.device().unwrap();
        assert!(device.is_cpu());
        let why = why.expect("auto says why it runs on the CPU");
        assert!(why.contains("without CUDA support") && why.contains("running on the CPU"), "{why}");
        let m = load_default(DeviceChoice::Auto).unwrap();
        assert!(m.device().is_cpu());
        assert_eq!(m.fallback(), Some(why.as_str()));
        // And it answers exactly as the CPU model does.
        let cpu = load_default(DeviceChoice::Cpu).unwrap();
        assert_eq!(cpu.fallback(), None);
        let window = ["INFO starting", "RuntimeError: No CUDA GPUs are available"];
        assert_eq!(m.predict(&window), cpu.predict(&window));
    }
    let (device, why) = DeviceChoice::Cpu.device().unwrap();
    assert!(device.is_cpu() && why.is_none());
}

#[test]
fn the_shipped_model_loads_and_reads_obvious_lines() {
    let m = load_default(DeviceChoice::Cpu).unwrap();
    assert_eq!(m.meta().classes.len(), FailureClass::COUNT);
    let cases = [
        (
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 79.15 GiB of which 1.2 GiB is free.",
            FailureClass::GpuOom,
        ),
        (
            "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20144). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
            FailureClass::KvCacheOom,
        ),
        ("NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.", FailureClass::GpuHardwareFault),
        ("RuntimeError: No CUDA GPUs are available", FailureClass::NoGpuVisible),
        ("INFO:     Application startup complete.", FailureClass::Unknown),
    ];
    for (line, want) in cases {
        let p = m.predict(&["INFO starting", line]);
        let top = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        assert_eq!(FailureClass::ALL[top], want, "{line}: {p:?}");
    }
    // Empty and odd windows are answered, not panicked on.
    let p = m.predict(&[]);
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    m.predict(&["\u{fffd}", "", &"x".repeat(20_000)]);
}

/// The built-in model is read in place (no finiteness scan at load), so its
/// values are checked here; and it predicts exactly what a copy does.
#[test]
fn the_built_in_embedding_is_read_in_place_finite_and_equal_to_a_copy() {
    let borrowed = load_default(DeviceChoice::Cpu).unwrap();
    let EmbRows::BuiltIn(rows) = borrowed.emb else { panic!("the built-in embedding was copied") };
    assert_eq!(rows.as_ptr() as usize % 2, 0);
    assert!(rows.iter().all(|v| v.is_finite()));
    let copied = ModelClassifier::from_bytes(DEFAULT_MODEL, DeviceChoice::Cpu).unwrap();
    let EmbRows::Owned(copy) = &copied.emb else { panic!("a model from bytes is read in place") };
    assert_eq!(rows.len(), copy.len());
    assert!(rows.iter().zip(copy).all(|(a, b)| a.to_f32() == *b));
    let window = ["INFO starting", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"];
    assert_eq!(borrowed.predict(&window), copied.predict(&window));
}

#[test]
fn the_shipped_model_beats_trivial_baselines_on_the_dev_split() {
    let dev = read_jsonl(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/real/dev.jsonl")).unwrap();
    let m = load_default(DeviceChoice::Cpu).unwrap();
    let probs = model_probs(&m, &dev);
    let cfg = FusionConfig::default();
    let (mut model, mut top, mut majority) = (Confusion::default(), Confusion::default(), Confusion::default());
    for (e, p) in dev.iter().zip(&probs) {
        model.add(e.class, model_decision(p, &cfg));
        top.add(e.class, model_decision(p, &FusionConfig { model_alone: 0.0, ..cfg }));
        majority.add(e.class, FailureClass::Unknown);
    }
    // Majority class (`unknown`): accuracy ~0.37, macro-F1 ~0.05. Uniform
    // guessing over 11 classes: accuracy ~0.09.
    assert!(top.accuracy() > majority.accuracy().max(1.0 / 11.0) + 0.3, "argmax accuracy {}", top.accuracy());
    assert!(top.macro_f1() > 5.0 * majority.macro_f1(), "argmax macro-F1 {}", top.macro_f1());
    assert!(model.macro_f1() > 3.0 * majority.macro_f1(), "thresholded macro-F1 {}", model.macro_f1());
}

/// A model trained before a class existed (fewer outputs, another order)
/// still loads: its outputs are mapped by name, the missing classes get 0.
#[test]
fn a_model_with_fewer_classes_maps_them_by_name() {
    let good = valid_bytes();
    let full = ModelClassifier::from_bytes(&good, DeviceChoice::Cpu).unwrap();
    let lines = ["INFO starting server", "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"];
    let want = full.predict(&lines);
    // Keep three classes, in a new order, in both heads of the hybrid net.
    let keep = [FailureClass::Unknown, FailureClass::GpuOom, FailureClass::HostOom];
    let sub = rewrite(&good, |t, m| {
        m["classes"] = serde_json::json!(keep.iter().map(|c| c.as_str()).collect::<Vec<_>>());
        for (name, tensor) in t.iter_mut() {
            if name == "output.weight" || name == "output.bias" {
                let rows: Vec<u32> = (0..2)
                    .flat_map(|h| keep.iter().map(move |c| (h * FailureClass::COUNT + c.index()) as u32))
                    .collect();
                let idx = Tensor::from_vec(rows.clone(), rows.len(), &Device::Cpu).unwrap();
                *tensor = tensor.index_select(&idx, 0).unwrap();
            }
        }
    });
    let m = ModelClassifier::from_bytes(&sub, DeviceChoice::Cpu).unwrap();
    assert_eq!(m.meta().classes.len(), FailureClass::COUNT);
    let got = m.predict(&lines);
    assert!((got.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    for c in FailureClass::ALL {
        if !keep.contains(&c) {
            assert!(got[c.index()] < 1e-6, "{c}: {got:?}");
        }
    }
    // The kept classes keep their order among themselves.
    let rank = |p: &[f32; FailureClass::COUNT]| {
        let mut k = keep.to_vec();
        k.sort_by(|a, b| p[b.index()].total_cmp(&p[a.index()]));
        k
    };
    assert_eq!(rank(&got), rank(&want));
}

#[test]
fn the_model_points_at_the_telling_line() {
    let cfg = TrainConfig { epochs: 30, ..tiny_config(Arch::LineMax) };
    let m = ModelClassifier::from_bytes(&train(&tiny_set(), None, &cfg, |_| {}).unwrap().0, DeviceChoice::Cpu).unwrap();
    let lines = [
        "INFO starting server",
        "INFO loading weights 50%",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        "INFO shutting down",
    ];
    assert_eq!(m.telling_line_of(&lines, FailureClass::GpuOom).unwrap(), Some(2));
    assert_eq!(m.telling_line_of(&lines, FailureClass::Unknown).unwrap(), None);
    assert_eq!(m.telling_line_of(&[], FailureClass::GpuOom).unwrap(), None);
}

/// The bag sums' f16 widening is exact for every finite f16.
#[test]
fn widening_f16_is_exact_for_every_finite_value() {
    for bits in 0..=u16::MAX {
        let h = half::f16::from_bits(bits);
        if h.is_finite() {
            assert_eq!(model::widen(h).to_bits(), h.to_f32().to_bits(), "{bits:#06x}");
        }
    }
}

proptest::proptest! {
    /// The bag sums at the shipped width (F16C widening and prefetching
    /// where the CPU has them) are bit for bit the plain sum: each value
    /// gets `widen(h) * s` added in feature order.
    #[test]
    fn bag_sums_at_width_32_are_the_plain_sums(
        bits in proptest::collection::vec(0u16..0x7c00, 64 * 32),
        signs in proptest::collection::vec(proptest::bool::ANY, 64 * 32),
        ids in proptest::collection::vec(0u32..64, 0..200),
        s in 0.001f32..1.0,
        start in proptest::collection::vec(-4.0f32..4.0, 32),
    ) {
        let rows: Vec<half::f16> =
            bits.iter().zip(&signs).map(|(&b, &neg)| half::f16::from_bits(b | if neg { 0x8000 } else { 0 })).collect();
        let mut got = start.clone();
        model::EmbView::F16(&rows).add_rows(&ids, s, &mut got);
        let mut want = start;
        for &id in &ids {
            for (k, w) in want.iter_mut().enumerate() {
                *w += model::widen(rows[id as usize * 32 + k]) * s;
            }
        }
        let bits_of = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        proptest::prop_assert_eq!(bits_of(&got), bits_of(&want));
    }
}
