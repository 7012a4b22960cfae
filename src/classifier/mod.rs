//! The learned classifier: a second opinion next to the signature library.
//!
//! A small candle model reads the last lines of a crash log and gives a
//! probability for each [`FailureClass`] (including `unknown`). It exists for
//! the crashes no signature was written for: new wording after an upgrade,
//! wrappers that rephrase errors, logs cut mid-traceback. `diagnosis` fuses
//! it with the signatures (a strong signature always wins).
//!
//! - [`featurize`]: masked, hashed word and character n-gram features.
//! - [`model`]: the network and its two forward passes.
//! - [`train`]: deterministic training on CPU (`podmedic train`).
//! - [`augment`]: what training reads: real crash logs (`data/real`) and
//!   the signature library's example lines, wrapped in healthy noise, cut
//!   and thinned, plus the generated windows (`data/`).
//! - [`eval`]: per-class, per-group metrics, calibration (ECE) and the
//!   fusion sweep for signatures, model and fused (`podmedic eval`).
//! - [`loso`]: leave-one-server-out models (`podmedic eval --loso`).
//! - [`data`]: the labelled JSONL windows under `data/` and `data/real/`.
//!
//! The shipped weights (`models/classifier.safetensors`, see
//! `models/README.md`) are compiled into the binary; `--model PATH` loads
//! another file. Loading validates everything in the file (format, class
//! list, shapes, finite values), so a corrupt or foreign file is an error,
//! never a panic (the built-in file's embedding values are checked by a
//! unit test instead, so that loading does not read them all). A file
//! trained before a class was added to
//! [`FailureClass`] still loads: its outputs are mapped by class name and
//! the new class gets probability 0.
//!
//! Memory: the file stores the embedding (65,536 × 32) as f16 (4 MiB; the
//! dense layers as f32). On the CPU the built-in model's embedding is read
//! in place, straight from the binary's read-only data (aligned, little
//! endian), each row widened to f32 as it is added into a bag: no copy is
//! made, and only the pages of the rows that the logs seen so far hashed to
//! are ever touched, so they are all that the process holds of it (clean,
//! file-backed pages the kernel can reclaim; 4 MiB at the very most, half
//! of what the same rows took as f32). A `--model` file is copied into one
//! f32 vector.
//!
//! What runs where: on the CPU (the default), featurization and the
//! embedding-bag sums are plain Rust over the embedding's rows; the
//! dense layers, max pooling and softmax are candle ops. On CUDA every step
//! is a candle op on the GPU (`index_select`/`index_add` for the bags).

pub mod augment;
pub mod cli;
pub mod data;
pub mod eval;
pub mod featurize;
pub mod loso;
pub mod model;
pub mod train;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use candle_core::safetensors::Load as _;
use candle_core::{DType, Device, Tensor};

use crate::class::FailureClass;
use crate::diagnosis::Classifier;
use featurize::{Featurizer, Scratch, WindowFeatures};
use model::{Batch, Dense, EmbView, FORMAT, META_KEY, ModelMeta, Params};

/// Bytes aligned to 8, so that a tensor in them (the f16 embedding) can be
/// read in place.
#[repr(C, align(8))]
struct Aligned<B: ?Sized>(B);

static ALIGNED_MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("../../models/classifier.safetensors"));

/// The shipped model, compiled in (8-byte aligned).
pub static DEFAULT_MODEL: &[u8] = &ALIGNED_MODEL.0;

/// Where the classifier runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    /// CUDA when this build has it and a GPU is present, else the CPU.
    Auto,
    /// The CPU (the default: fast enough, and deterministic).
    #[default]
    Cpu,
    /// The first CUDA GPU; an error when the build or the machine has none.
    Cuda,
}

impl DeviceChoice {
    /// The candle device. `auto` without a usable GPU (a build without the
    /// `cuda` feature, no GPU, no working driver) is the CPU; the second
    /// value then says why, for the caller to tell the user. `cuda` without
    /// one is an error.
    pub fn device(self) -> Result<(Device, Option<String>), ClassifierError> {
        match self {
            DeviceChoice::Cpu => Ok((Device::Cpu, None)),
            DeviceChoice::Auto => match cuda_device() {
                Ok(d) => Ok((d, None)),
                Err(e) => Ok((
                    Device::Cpu,
                    Some(format!(
                        "--device auto: {}; the classifier is running on the CPU",
                        crate::util::error_chain(&e)
                    )),
                )),
            },
            DeviceChoice::Cuda => Ok((cuda_device()?, None)),
        }
    }
}

/// The first CUDA GPU, or why not.
fn cuda_device() -> Result<Device, ClassifierError> {
    if !candle_core::utils::cuda_is_available() {
        return Err(ClassifierError::NoCudaBuild);
    }
    // On a CUDA build without a GPU, cuInit fails (CUDA_ERROR_NO_DEVICE, or
    // a driver older than the toolkit): an error, not a panic.
    Device::new_cuda(0).map_err(|e| ClassifierError::Device {
        // The driver's words, without the backtrace candle attaches under
        // RUST_BACKTRACE (a user's error, not a bug).
        source: match e {
            candle_core::Error::WithBacktrace { inner, .. } => *inner,
            e => e,
        },
    })
}

/// Errors of the classifier module.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a safetensors file.
    #[error("not a safetensors file")]
    Format(#[source] safetensors::SafeTensorError),
    /// A safetensors file, but not a usable podmedic classifier.
    #[error("not a usable podmedic classifier: {0}")]
    Invalid(String),
    /// A CUDA device was asked for, but this build has no CUDA backend.
    #[error("this podmedic was built without CUDA support (build it with `--features cuda`, see scripts/cuda-build)")]
    NoCudaBuild,
    /// The first CUDA GPU could not be opened.
    #[error("cannot use CUDA GPU 0 (no GPU visible to this process, or no working NVIDIA driver)")]
    Device {
        /// Why, as the CUDA driver said it.
        #[source]
        source: candle_core::Error,
    },
    /// A tensor operation failed.
    #[error("tensor operation failed")]
    Tensor(#[from] candle_core::Error),
    /// A data record is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The classifier, ready to predict.
#[derive(Debug)]
pub struct ModelClassifier {
    meta: ModelMeta,
    featurizer: Featurizer,
    /// On CUDA, every parameter on the device. On the CPU, the dense layers
    /// only: the embedding is an empty `[0, dim]` tensor, its rows live in
    /// `emb` (one copy, not two).
    params: Params,
    /// CPU only: `params` with the embedding as a tensor, built on first use
    /// of the candle path ([`ModelClassifier::logits_batch`]: tests,
    /// training, benchmarks).
    full: OnceLock<Params>,
    device: Device,
    /// Why `--device auto` runs on the CPU, when it does.
    fallback: Option<String>,
    /// The embedding's rows for the CPU bag sums (empty on CUDA).
    emb: EmbRows,
    dense: Dense,
}

/// The embedding's rows, row-major, for the CPU bag sums.
#[derive(Debug)]
enum EmbRows {
    /// The built-in file's f16 rows, read in place from the binary.
    BuiltIn(&'static [half::f16]),
    /// A copy as f32 (a `--model` file; empty on CUDA).
    Owned(Vec<f32>),
}

impl EmbRows {
    fn view(&self) -> EmbView<'_> {
        match self {
            EmbRows::BuiltIn(v) => EmbView::F16(v),
            EmbRows::Owned(v) => EmbView::F32(v),
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<(Scratch, WindowFeatures)> = RefCell::new(Default::default());
}

/// The shipped model on `device`.
pub fn load_default(device: DeviceChoice) -> Result<ModelClassifier, ClassifierError> {
    ModelClassifier::from_bytes_with(DEFAULT_MODEL, device, Some(DEFAULT_MODEL))
}

impl ModelClassifier {
    /// Loads a model file.
    pub fn load(path: &Path, device: DeviceChoice) -> Result<Self, ClassifierError> {
        let bytes = std::fs::read(path).map_err(|source| ClassifierError::Read { path: path.to_owned(), source })?;
        Self::from_bytes(&bytes, device)
    }

    /// Loads a model from the bytes of a safetensors file, validating it.
    pub fn from_bytes(bytes: &[u8], device: DeviceChoice) -> Result<Self, ClassifierError> {
        Self::from_bytes_with(bytes, device, None)
    }

    /// [`ModelClassifier::from_bytes`]; with `in_place` (the same bytes,
    /// compiled in: [`DEFAULT_MODEL`]) the CPU path reads the embedding
    /// where it lies when it is f32 and aligned, without a copy and without
    /// the finiteness scan (which would touch every page; a unit test checks
    /// the built-in values instead).
    fn from_bytes_with(
        bytes: &[u8],
        device: DeviceChoice,
        in_place: Option<&'static [u8]>,
    ) -> Result<Self, ClassifierError> {
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(ClassifierError::Format)?;
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(ClassifierError::Format)?;
        let raw = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| ClassifierError::Invalid(format!("no `{META_KEY}` metadata")))?;
        let mut meta: ModelMeta = serde_json::from_str(raw)
            .map_err(|e| ClassifierError::Invalid(format!("bad `{META_KEY}` metadata: {e}")))?;
        let file_classes = validate_meta(&meta)?;
        let (device, fallback) = device.device()?;
        if let Some(why) = &fallback {
            tracing::warn!(reason = %why, "no CUDA GPU for the classifier; it runs on the CPU");
        }
        let cfg = meta.model;
        let load = |name: &str, shape: &[usize]| -> Result<Tensor, ClassifierError> {
            let view = st.tensor(name).map_err(|_| ClassifierError::Invalid(format!("missing tensor `{name}`")))?;
            if view.shape() != shape {
                return Err(ClassifierError::Invalid(format!(
                    "tensor `{name}` has shape {:?}, expected {shape:?}",
                    view.shape()
                )));
            }
            let t = view.load(&Device::Cpu).map_err(|e| ClassifierError::Invalid(format!("tensor `{name}`: {e}")))?;
            if !matches!(t.dtype(), DType::F32 | DType::F16 | DType::BF16) {
                return Err(ClassifierError::Invalid(format!("tensor `{name}` has dtype {:?}", t.dtype())));
            }
            let t = t.to_dtype(DType::F32)?;
            let data = t.flatten_all()?.to_vec1::<f32>()?;
            if data.iter().any(|v| !v.is_finite()) {
                return Err(ClassifierError::Invalid(format!("tensor `{name}` holds non-finite values")));
            }
            Ok(t)
        };
        let buckets = meta.featurizer.buckets as usize;
        let hidden = if cfg.has_hidden() {
            Some((load("hidden.weight", &[cfg.hidden, cfg.dim])?, load("hidden.bias", &[cfg.hidden])?))
        } else {
            None
        };
        let heads = cfg.out_rows() / FailureClass::COUNT;
        let out_w = load("output.weight", &[heads * file_classes.len(), cfg.pooled()])?;
        let out_b = load("output.bias", &[heads * file_classes.len()])?;
        let (out_w, out_b) = to_build_classes(&file_classes, heads, out_w, out_b)?;
        meta.classes = FailureClass::ALL.iter().map(|c| c.as_str().to_owned()).collect();
        if device.is_cpu() {
            // The built-in file's f16 rows where they lie; a `--model` file
            // straight from its bytes into the one f32 copy the bag sums
            // read: no intermediate tensors.
            let emb = match in_place.and_then(|b| embedding_in_place(b, buckets, cfg.dim)) {
                Some(rows) => EmbRows::BuiltIn(rows),
                None => EmbRows::Owned(embedding_rows(&st, buckets, cfg.dim)?),
            };
            let params =
                Params { embedding: Tensor::zeros((0, cfg.dim), DType::F32, &Device::Cpu)?, hidden, out_w, out_b };
            let dense = Dense::new(&params)?;
            let featurizer = Featurizer::new(meta.featurizer);
            return Ok(ModelClassifier {
                featurizer,
                meta,
                params,
                full: OnceLock::new(),
                device,
                fallback,
                emb,
                dense,
            });
        }
        let embedding = load("embedding", &[buckets, cfg.dim])?;
        let cpu = Params { embedding, hidden, out_w, out_b };
        let dense = Dense::new(&cpu)?;
        let params = Params {
            embedding: cpu.embedding.to_device(&device)?,
            hidden: match &cpu.hidden {
                Some((w, b)) => Some((w.to_device(&device)?, b.to_device(&device)?)),
                None => None,
            },
            out_w: cpu.out_w.to_device(&device)?,
            out_b: cpu.out_b.to_device(&device)?,
        };
        let emb = EmbRows::Owned(Vec::new());
        Ok(ModelClassifier {
            featurizer: Featurizer::new(meta.featurizer),
            meta,
            params,
            full: OnceLock::new(),
            device,
            fallback,
            emb,
            dense,
        })
    }

    /// Every parameter as candle tensors on the model's device (on the CPU,
    /// the embedding tensor is made from `emb` on first call and kept).
    pub fn params(&self) -> Result<&Params, ClassifierError> {
        if !self.device.is_cpu() {
            return Ok(&self.params);
        }
        if let Some(p) = self.full.get() {
            return Ok(p);
        }
        let rows = self.emb.view().len() / self.meta.model.dim.max(1);
        let full = Params {
            embedding: Tensor::from_vec(self.emb.view().to_f32_vec(), (rows, self.meta.model.dim), &Device::Cpu)?,
            ..self.params.clone()
        };
        Ok(self.full.get_or_init(|| full))
    }

    /// What the file says about itself.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// The device it runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Why `--device auto` put the model on the CPU (no CUDA in this build,
    /// no GPU, no working driver); `None` when it runs where it was asked.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The featurizer.
    pub fn featurizer(&self) -> &Featurizer {
        &self.featurizer
    }

    /// Probabilities over [`FailureClass::ALL`] for a window of normalised lines.
    pub fn predict_window(&self, lines: &[&str]) -> Result<[f32; FailureClass::COUNT], ClassifierError> {
        SCRATCH.with(|cell| {
            let mut guard = cell.borrow_mut();
            let (scratch, wf) = &mut *guard;
            self.featurizer.window_into(lines, scratch, wf);
            self.predict_features(wf)
        })
    }

    /// Probabilities for an already featurized window.
    pub fn predict_features(&self, wf: &WindowFeatures) -> Result<[f32; FailureClass::COUNT], ClassifierError> {
        if self.device.is_cpu() {
            return Ok(Params::forward_fast(
                &self.meta.model,
                self.emb.view(),
                &self.dense,
                wf,
                self.meta.temperature,
            )?);
        }
        let logits = self.logits_batch(&[wf])?;
        let probs = candle_nn::ops::softmax(&(logits / f64::from(self.meta.temperature))?, candle_core::D::Minus1)?;
        let v = probs.squeeze(0)?.to_vec1::<f32>()?;
        let mut out = [0f32; FailureClass::COUNT];
        out.copy_from_slice(&v);
        Ok(out)
    }

    /// Probabilities for a batch of featurized windows. On the CPU the bags
    /// are summed in plain Rust and the dense part runs once for the whole
    /// batch; on CUDA everything is candle ops on the GPU.
    pub fn predict_batch(
        &self,
        windows: &[&WindowFeatures],
    ) -> Result<Vec<[f32; FailureClass::COUNT]>, ClassifierError> {
        let logits = if self.device.is_cpu() {
            let cfg = &self.meta.model;
            let batch = Batch::new(windows, cfg.arch, &Device::Cpu, || true)?;
            let (ids, seg, scale) = &batch.host;
            let mut bags = vec![0f32; batch.windows * batch.rows * cfg.dim];
            model::bag_sums(self.emb.view(), cfg.dim, ids, seg, scale, &mut bags);
            let bags = Tensor::from_vec(bags, (batch.windows * batch.rows, cfg.dim), &Device::Cpu)?;
            self.params.head(cfg, &bags, &batch)?
        } else {
            self.logits_batch(windows)?
        };
        let probs = candle_nn::ops::softmax(&(logits / f64::from(self.meta.temperature))?, candle_core::D::Minus1)?;
        Ok(probs
            .to_vec2::<f32>()?
            .into_iter()
            .map(|v| {
                let mut out = [0f32; FailureClass::COUNT];
                out.copy_from_slice(&v);
                out
            })
            .collect())
    }

    /// Raw logits (before temperature) for a batch, with candle ops on the
    /// model's device.
    pub fn logits_batch(&self, windows: &[&WindowFeatures]) -> Result<Tensor, ClassifierError> {
        let batch = Batch::new(windows, self.meta.model.arch, &self.device, || true)?;
        Ok(self.params()?.forward(&self.meta.model, &batch)?)
    }
}

impl ModelClassifier {
    /// The index in `lines` of the line whose own logits favour `class`
    /// over `unknown` the most: the output layer applied to each line's
    /// features (after the hidden layer, where there is one), as the
    /// max-pooled networks combine them. `None` for the `bag` network,
    /// on CUDA, for `unknown`, or when no line has features.
    pub fn telling_line_of(&self, lines: &[&str], class: FailureClass) -> Result<Option<usize>, ClassifierError> {
        let cfg = &self.meta.model;
        if !self.device.is_cpu() || cfg.arch == model::Arch::Bag || class == FailureClass::Unknown {
            return Ok(None);
        }
        let mut scratch = Scratch::default();
        let mut wf = WindowFeatures::default();
        let mut first_input = Vec::new();
        self.featurizer.window_mapped(lines, &mut scratch, &mut wf, |i, row| {
            if row == first_input.len() {
                first_input.push(i);
            }
        });
        let rows = wf.lines();
        if rows == 0 {
            return Ok(None);
        }
        let dim = cfg.dim;
        let mut bags = vec![0f32; rows * dim];
        for r in 0..rows {
            let ids = wf.line(r);
            let sc = 1.0 / ids.len().max(1) as f32;
            self.emb.view().add_rows(ids, sc, &mut bags[r * dim..(r + 1) * dim]);
        }
        let x = Tensor::from_vec(bags, (rows, dim), &Device::Cpu)?;
        let z = match &self.dense.w1t {
            Some((w1t, b1)) if cfg.has_hidden() => x.matmul(w1t)?.broadcast_add(b1)?.relu()?,
            _ => x,
        };
        let logits = z.matmul(&self.dense.w2t)?.broadcast_add(&self.dense.b2)?.to_vec2::<f32>()?;
        let (c, u) = (class.index(), FailureClass::Unknown.index());
        let best =
            logits.iter().enumerate().map(|(r, l)| (r, l[c] - l[u])).fold(None, |acc: Option<(usize, f32)>, (r, v)| {
                match acc {
                    Some((_, b)) if b >= v => acc,
                    _ => Some((r, v)),
                }
            });
        Ok(best.and_then(|(r, _)| first_input.get(r).copied()))
    }
}

impl Classifier for ModelClassifier {
    fn telling_line(&self, lines: &[&str], class: FailureClass) -> Option<usize> {
        self.telling_line_of(lines, class).ok().flatten()
    }

    fn predict(&self, lines: &[&str]) -> [f32; FailureClass::COUNT] {
        match self.predict_window(lines) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "classifier failed; treating its opinion as unknown");
                let mut p = [0f32; FailureClass::COUNT];
                p[FailureClass::Unknown.index()] = 1.0;
                p
            }
        }
    }
}

/// Checks the metadata; returns the file's classes in its output order.
///
/// A file may hold fewer classes than this build (a model trained before a
/// class was added): its outputs are mapped by name and the missing classes
/// get probability 0 ([`to_build_classes`]). A class this build does not
/// know, a repeated class, or no `unknown` is an error.
fn validate_meta(meta: &ModelMeta) -> Result<Vec<FailureClass>, ClassifierError> {
    let bad = |m: String| Err(ClassifierError::Invalid(m));
    if meta.format != FORMAT {
        return bad(format!("format `{}`, expected `{FORMAT}`", meta.format));
    }
    let ids: Vec<&str> = FailureClass::ALL.iter().map(|c| c.as_str()).collect();
    let mut classes = Vec::with_capacity(meta.classes.len());
    for c in &meta.classes {
        match c.parse::<FailureClass>() {
            Ok(class) if !classes.contains(&class) => classes.push(class),
            Ok(_) => return bad(format!("its classes {:?} repeat `{c}`", meta.classes)),
            Err(_) => {
                return bad(format!("its classes {:?} include `{c}`, unknown to this build's {ids:?}", meta.classes));
            }
        }
    }
    if !classes.contains(&FailureClass::Unknown) {
        return bad(format!("its classes {:?} lack `unknown`", meta.classes));
    }
    meta.featurizer.validate().map_err(ClassifierError::Invalid)?;
    let m = meta.model;
    if m.dim == 0 || m.dim > 1024 || (m.has_hidden() && (m.hidden == 0 || m.hidden > 4096)) {
        return bad(format!("implausible model shape {m:?}"));
    }
    if !(meta.temperature.is_finite() && meta.temperature > 0.0) {
        return bad(format!("temperature {} is not a positive number", meta.temperature));
    }
    Ok(classes)
}

/// The output layer rearranged from the file's class order to
/// [`FailureClass::ALL`]'s, one block of rows per head; a class the file
/// lacks gets zero weights and a bias of -1e4, so its probability is 0.
fn to_build_classes(
    file: &[FailureClass],
    heads: usize,
    out_w: Tensor,
    out_b: Tensor,
) -> Result<(Tensor, Tensor), ClassifierError> {
    if file == &FailureClass::ALL[..] {
        return Ok((out_w, out_b));
    }
    let pooled = out_w.dim(1)?;
    let w = out_w.to_vec2::<f32>()?;
    let b = out_b.to_vec1::<f32>()?;
    let n = FailureClass::COUNT;
    let mut nw = vec![0f32; heads * n * pooled];
    let mut nb = vec![-1e4f32; heads * n];
    for h in 0..heads {
        for (fi, class) in file.iter().enumerate() {
            let (src, dst) = (h * file.len() + fi, h * n + class.index());
            nw[dst * pooled..(dst + 1) * pooled].copy_from_slice(&w[src]);
            nb[dst] = b[src];
        }
    }
    Ok((Tensor::from_vec(nw, (heads * n, pooled), &Device::Cpu)?, Tensor::from_vec(nb, heads * n, &Device::Cpu)?))
}

/// The `embedding` tensor of compiled-in model bytes as row-major f16, read
/// in place: `None` unless it is f16 with the expected shape, 2-byte aligned
/// and this machine is little-endian (the caller then copies it as f32).
fn embedding_in_place(bytes: &'static [u8], buckets: usize, dim: usize) -> Option<&'static [half::f16]> {
    use half::slice::HalfBitsSliceExt;
    if !cfg!(target_endian = "little") {
        return None;
    }
    let st = safetensors::SafeTensors::deserialize(bytes).ok()?;
    let view = st.tensor("embedding").ok()?;
    if view.dtype() != safetensors::Dtype::F16 || view.shape() != [buckets, dim] {
        return None;
    }
    let bits: &'static [u16] = bytemuck::try_cast_slice(view.data()).ok()?;
    (bits.len() == buckets * dim).then(|| bits.reinterpret_cast::<half::f16>())
}

/// The `embedding` tensor of a model file as row-major f32, checked for
/// shape, dtype and finiteness.
fn embedding_rows(st: &safetensors::SafeTensors<'_>, buckets: usize, dim: usize) -> Result<Vec<f32>, ClassifierError> {
    use safetensors::Dtype;
    let view = st.tensor("embedding").map_err(|_| ClassifierError::Invalid("missing tensor `embedding`".into()))?;
    if view.shape() != [buckets, dim] {
        return Err(ClassifierError::Invalid(format!(
            "tensor `embedding` has shape {:?}, expected {:?}",
            view.shape(),
            [buckets, dim]
        )));
    }
    let bytes = view.data();
    let rows: Vec<f32> = match view.dtype() {
        Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        other => return Err(ClassifierError::Invalid(format!("tensor `embedding` has dtype {other:?}"))),
    };
    if rows.len() != buckets * dim {
        return Err(ClassifierError::Invalid("tensor `embedding` is truncated".into()));
    }
    if rows.iter().any(|v| !v.is_finite()) {
        return Err(ClassifierError::Invalid("tensor `embedding` holds non-finite values".into()));
    }
    Ok(rows)
}

/// Serialises parameters and metadata into safetensors bytes: the embedding
/// as f16 (no measurable loss; the CPU path reads the built-in file's rows
/// in place, module docs, "Memory"), the dense layers as f32. The bytes are
/// a pure function of the inputs.
pub fn to_safetensors(params: &Params, meta: &ModelMeta) -> Result<Vec<u8>, ClassifierError> {
    let cpu = Device::Cpu;
    let mut tensors: Vec<(&str, Tensor)> = vec![
        ("embedding", params.embedding.to_device(&cpu)?.to_dtype(DType::F16)?),
        ("output.weight", params.out_w.to_device(&cpu)?),
        ("output.bias", params.out_b.to_device(&cpu)?),
    ];
    if let Some((w, b)) = &params.hidden {
        tensors.push(("hidden.weight", w.to_device(&cpu)?));
        tensors.push(("hidden.bias", b.to_device(&cpu)?));
    }
    tensors.sort_by(|a, b| a.0.cmp(b.0));
    let meta_json = serde_json::to_string(meta).map_err(|e| ClassifierError::Invalid(e.to_string()))?;
    let info: HashMap<String, String> = [(META_KEY.to_owned(), meta_json)].into();
    safetensors::serialize(tensors, Some(info)).map_err(ClassifierError::Format)
}

#[cfg(test)]
mod tests;
