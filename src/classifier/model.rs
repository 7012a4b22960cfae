//! The network: an embedding bag per log line, an optional hidden layer, max
//! pooling over the window's lines and a linear layer to one logit per
//! [`FailureClass`].
//!
//! ```text
//! line features ──gather+mean──► e_l ∈ R^dim ──(W1, ReLU)──► z_l ∈ R^hidden
//!     max over lines ──► m ──(W2)──► logits ∈ R^11 ──softmax(·/T)──► p
//! ```
//!
//! Max pooling fits crash logs: the class is usually decided by one or two
//! lines among dozens of start-up noise lines, and a line's contribution does
//! not shrink as the window grows. [`Arch::Bag`] (one mean over every
//! feature of the window, fastText's classic model) is kept as the baseline
//! the model card compares against.
//!
//! Two forward passes share these parameters:
//! - [`Params::forward`]: candle ops end to end (`index_select` +
//!   `index_add` for the bags), differentiable; training and the CUDA path
//!   use it.
//! - [`Params::forward_fast`]: the CPU inference path. The embedding bag is a
//!   gather-and-sum in plain Rust over the embedding's rows ([`EmbView`]:
//!   the built-in file's f16 rows in place, or an f32 copy); the dense part
//!   (hidden layer, ReLU, max pool, output layer, softmax) runs as candle
//!   ops on the CPU device. A test checks both agree.

use candle_core::{D, DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::featurize::{FeaturizerConfig, WindowFeatures};
use crate::class::FailureClass;

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// fastText: the mean of all of the window's feature embeddings, then linear.
    Bag,
    /// Per-line mean embedding, max over lines, then linear.
    LineMax,
    /// Per-line mean embedding, a ReLU hidden layer, max over lines, then linear.
    LineMaxMlp,
    /// Multiple-instance: each line is scored on its own (mean embedding,
    /// ReLU hidden layer, linear), a class's window logit is its best
    /// line's logit, and `unknown`'s logit is a learned constant: a window is
    /// a class when some line is evidence of it, never because of lines that
    /// look unfamiliar.
    LineMil,
    /// The mean of two heads on one embedding and hidden layer: the
    /// [`Arch::LineMil`] head, and a [`Arch::LineMaxMlp`]-style head on the
    /// max-pooled hidden layer, which can read context no single line
    /// carries (a log that stops mid-load, a bare `Killed`).
    Hybrid,
}

/// Shape of the network. Stored in the model file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The network.
    pub arch: Arch,
    /// Embedding width.
    pub dim: usize,
    /// Hidden width ([`Arch::LineMaxMlp`] and [`Arch::LineMil`]).
    pub hidden: usize,
}

impl ModelConfig {
    /// Width of the pooled vector that feeds the output layer.
    pub fn pooled(&self) -> usize {
        if self.has_hidden() { self.hidden } else { self.dim }
    }

    /// Whether the network has the hidden layer.
    pub fn has_hidden(&self) -> bool {
        matches!(self.arch, Arch::LineMaxMlp | Arch::LineMil | Arch::Hybrid)
    }

    /// Rows of the output layer: one per class and head.
    pub fn out_rows(&self) -> usize {
        if self.arch == Arch::Hybrid { 2 * FailureClass::COUNT } else { FailureClass::COUNT }
    }
}

/// Padding rows get this value before max pooling, so they never win.
const PAD: f32 = -1e4;

/// The parameters, as candle tensors on one device (f32).
#[derive(Debug, Clone)]
pub struct Params {
    /// `[buckets, dim]`.
    pub embedding: Tensor,
    /// `[hidden, dim]` and `[hidden]`, when the network has a hidden layer.
    pub hidden: Option<(Tensor, Tensor)>,
    /// `[classes, pooled]` (`[2 * classes, pooled]` for [`Arch::Hybrid`]:
    /// the MIL head's rows, then the pooled head's).
    pub out_w: Tensor,
    /// `[classes]` (`[2 * classes]` for [`Arch::Hybrid`]).
    pub out_b: Tensor,
}

/// A batch of windows laid out for [`Params::forward`].
#[derive(Debug)]
pub struct Batch {
    /// The same ids, seg and scale on the host (training scatters with them).
    pub host: (Vec<u32>, Vec<u32>, Vec<f32>),
    /// Bucket ids of every feature, `[F]`.
    pub ids: Tensor,
    /// Row of the bag each feature goes to, `[F]`.
    pub seg: Tensor,
    /// Each feature's weight (1 / its bag's size), `[F, 1]`.
    pub scale: Tensor,
    /// 0 for real rows, [`PAD`] for padding rows, `[windows * rows, 1]`.
    pub pad: Tensor,
    /// 1 for real rows, 0 for padding rows, `[windows * rows, 1]`.
    pub keep: Tensor,
    /// Windows in the batch.
    pub windows: usize,
    /// Bag rows per window (1 for [`Arch::Bag`]).
    pub rows: usize,
}

impl Batch {
    /// Lays out `windows` (each with its features, possibly thinned by
    /// `keep_feature`) for `arch` on `device`.
    pub fn new(
        windows: &[&WindowFeatures],
        arch: Arch,
        device: &Device,
        mut keep_feature: impl FnMut() -> bool,
    ) -> candle_core::Result<Self> {
        let rows = match arch {
            Arch::Bag => 1,
            _ => windows.iter().map(|w| w.lines().max(1)).max().unwrap_or(1),
        };
        let mut ids = Vec::new();
        let mut seg = Vec::new();
        let mut scale = Vec::new();
        let mut keep = vec![0f32; windows.len() * rows];
        let mut line_buf = Vec::new();
        for (wi, w) in windows.iter().enumerate() {
            keep[wi * rows] = 1.0;
            match arch {
                Arch::Bag => {
                    line_buf.clear();
                    line_buf.extend(w.ids.iter().copied().filter(|_| keep_feature()));
                    push_bag(&line_buf, (wi * rows) as u32, &mut ids, &mut seg, &mut scale);
                }
                _ => {
                    for li in 0..w.lines() {
                        keep[wi * rows + li] = 1.0;
                        line_buf.clear();
                        line_buf.extend(w.line(li).iter().copied().filter(|_| keep_feature()));
                        push_bag(&line_buf, (wi * rows + li) as u32, &mut ids, &mut seg, &mut scale);
                    }
                }
            }
        }
        let n = ids.len();
        let pad: Vec<f32> = keep.iter().map(|k| if *k > 0.0 { 0.0 } else { PAD }).collect();
        Ok(Batch {
            ids: Tensor::from_slice(&ids, n, device)?,
            seg: Tensor::from_slice(&seg, n, device)?,
            scale: Tensor::from_slice(&scale, (n, 1), device)?,
            host: (ids, seg, scale),
            pad: Tensor::from_vec(pad, (windows.len() * rows, 1), device)?,
            keep: Tensor::from_vec(keep, (windows.len() * rows, 1), device)?,
            windows: windows.len(),
            rows,
        })
    }
}

fn push_bag(bag: &[u32], row: u32, ids: &mut Vec<u32>, seg: &mut Vec<u32>, scale: &mut Vec<f32>) {
    let s = 1.0 / bag.len().max(1) as f32;
    for &id in bag {
        ids.push(id);
        seg.push(row);
        scale.push(s);
    }
}

impl Params {
    /// Logits `[windows, classes]` for a batch, with candle ops only.
    pub fn forward(&self, cfg: &ModelConfig, b: &Batch) -> candle_core::Result<Tensor> {
        let device = self.embedding.device();
        let gathered = self.embedding.index_select(&b.ids, 0)?.broadcast_mul(&b.scale)?;
        let bags = Tensor::zeros((b.windows * b.rows, cfg.dim), DType::F32, device)?.index_add(&b.seg, &gathered, 0)?;
        self.head(cfg, &bags, b)
    }

    /// The dense part: bags `[windows * rows, dim]` to logits `[windows, classes]`.
    pub fn head(&self, cfg: &ModelConfig, bags: &Tensor, b: &Batch) -> candle_core::Result<Tensor> {
        head(cfg, self.hidden.as_ref(), &self.out_w, &self.out_b, bags, b)
    }

    /// Class probabilities for one window on the CPU: the bag sums in plain
    /// Rust over `emb` (the embedding's rows), the rest as
    /// candle ops. `w1t`/`w2t` are the transposed weights, made contiguous
    /// once at load.
    pub fn forward_fast(
        cfg: &ModelConfig,
        emb: EmbView<'_>,
        dense: &Dense,
        wf: &WindowFeatures,
        temperature: f32,
    ) -> candle_core::Result<[f32; FailureClass::COUNT]> {
        let dim = cfg.dim;
        let rows = if cfg.arch == Arch::Bag { 1 } else { wf.lines().max(1) };
        let mut bags = vec![0f32; rows * dim];
        let mut add = |row: usize, ids: &[u32]| {
            let s = 1.0 / ids.len().max(1) as f32;
            let dst = &mut bags[row * dim..(row + 1) * dim];
            emb.add_rows(ids, s, dst);
        };
        match cfg.arch {
            Arch::Bag => add(0, &wf.ids),
            _ => (0..wf.lines()).for_each(|li| add(li, wf.line(li))),
        }
        let x = Tensor::from_vec(bags, (rows, dim), &Device::Cpu)?;
        let z = match &dense.w1t {
            Some((w1t, b1)) if cfg.has_hidden() => x.matmul(w1t)?.broadcast_add(b1)?.relu()?,
            _ => x,
        };
        let logits = match cfg.arch {
            Arch::LineMil => {
                let best = z.matmul(&dense.w2t)?.broadcast_add(&dense.b2)?.max_keepdim(0)?;
                mil_unknown(&best, &dense.b2.squeeze(0)?)?
            }
            Arch::Hybrid => {
                let n = FailureClass::COUNT;
                let (w_mil, b_mil) = (dense.w2t.narrow(1, 0, n)?, dense.b2.narrow(1, 0, n)?);
                let (w_ctx, b_ctx) = (dense.w2t.narrow(1, n, n)?, dense.b2.narrow(1, n, n)?);
                let best = z.matmul(&w_mil)?.broadcast_add(&b_mil)?.max_keepdim(0)?;
                let mil = mil_unknown(&best, &b_mil.squeeze(0)?)?;
                let ctx = z.max_keepdim(0)?.matmul(&w_ctx)?.broadcast_add(&b_ctx)?;
                ((mil + ctx)? * 0.5)?
            }
            _ => z.max_keepdim(0)?.matmul(&dense.w2t)?.broadcast_add(&dense.b2)?,
        };
        let logits = (logits / f64::from(temperature))?;
        let probs = candle_nn::ops::softmax(&logits, D::Minus1)?.squeeze(0)?.to_vec1::<f32>()?;
        let mut out = [0f32; FailureClass::COUNT];
        out.copy_from_slice(&probs);
        Ok(out)
    }
}

/// The dense part of the network: bags `[windows * rows, dim]` to logits
/// `[windows, classes]` (hidden layer and ReLU, padding mask, max over each
/// window's rows, output layer).
pub fn head(
    cfg: &ModelConfig,
    hidden: Option<&(Tensor, Tensor)>,
    out_w: &Tensor,
    out_b: &Tensor,
    bags: &Tensor,
    b: &Batch,
) -> candle_core::Result<Tensor> {
    Ok(head_rows(cfg, hidden, out_w, out_b, bags, b, false)?.0)
}

/// [`head`], and with `rows` also each row's own logits `[windows * rows,
/// classes]` (the output layer applied to one line; training supervises
/// them with line labels). Row logits are `None` for [`Arch::Bag`].
pub fn head_rows(
    cfg: &ModelConfig,
    hidden: Option<&(Tensor, Tensor)>,
    out_w: &Tensor,
    out_b: &Tensor,
    bags: &Tensor,
    b: &Batch,
    rows: bool,
) -> candle_core::Result<(Tensor, Option<Tensor>)> {
    let z = match hidden {
        Some((w, bias)) if cfg.has_hidden() => bags.matmul(&w.t()?)?.broadcast_add(bias)?.relu()?,
        _ => bags.clone(),
    };
    match cfg.arch {
        Arch::Bag => Ok((z.matmul(&out_w.t()?)?.broadcast_add(out_b)?, None)),
        Arch::LineMax | Arch::LineMaxMlp => {
            let row_logits = if rows { Some(z.matmul(&out_w.t()?)?.broadcast_add(out_b)?) } else { None };
            let z = z.broadcast_mul(&b.keep)?.broadcast_add(&b.pad)?;
            let pooled = z.reshape((b.windows, b.rows, cfg.pooled()))?.max(1)?;
            Ok((pooled.matmul(&out_w.t()?)?.broadcast_add(out_b)?, row_logits))
        }
        Arch::LineMil => {
            let row_logits = z.matmul(&out_w.t()?)?.broadcast_add(out_b)?;
            let masked = row_logits.broadcast_mul(&b.keep)?.broadcast_add(&b.pad)?;
            let best = masked.reshape((b.windows, b.rows, FailureClass::COUNT))?.max(1)?;
            Ok((mil_unknown(&best, out_b)?, rows.then_some(row_logits)))
        }
        Arch::Hybrid => {
            let n = FailureClass::COUNT;
            let (w_mil, b_mil) = (out_w.narrow(0, 0, n)?, out_b.narrow(0, 0, n)?);
            let (w_ctx, b_ctx) = (out_w.narrow(0, n, n)?, out_b.narrow(0, n, n)?);
            let row_logits = z.matmul(&w_mil.t()?)?.broadcast_add(&b_mil)?;
            let masked = row_logits.broadcast_mul(&b.keep)?.broadcast_add(&b.pad)?;
            let best = masked.reshape((b.windows, b.rows, n))?.max(1)?;
            let mil = mil_unknown(&best, &b_mil)?;
            let zm = z.broadcast_mul(&b.keep)?.broadcast_add(&b.pad)?;
            let pooled = zm.reshape((b.windows, b.rows, cfg.pooled()))?.max(1)?;
            let ctx = pooled.matmul(&w_ctx.t()?)?.broadcast_add(&b_ctx)?;
            Ok((((mil + ctx)? * 0.5)?, rows.then_some(row_logits)))
        }
    }
}

/// Replaces the `unknown` column of `logits` `[n, classes]` by the constant
/// `out_b[unknown]`.
pub fn mil_unknown(logits: &Tensor, out_b: &Tensor) -> candle_core::Result<Tensor> {
    let u = FailureClass::Unknown.index();
    let mut m = vec![1f32; FailureClass::COUNT];
    m[u] = 0.0;
    let class_mask = Tensor::from_vec(m, FailureClass::COUNT, logits.device())?;
    let unknown_only = (out_b.broadcast_mul(&(class_mask.ones_like()? - &class_mask)?))?;
    logits.broadcast_mul(&class_mask)?.broadcast_add(&unknown_only)
}

/// The embedding's rows as the CPU bag sums read them (row-major,
/// `[buckets, dim]`): f32 (a model being trained, or a `--model` file,
/// copied), or f16 (the built-in file, read in place: half the pages of
/// f32 for the same rows, so half the memory a process holds of it).
#[derive(Debug, Clone, Copy)]
pub enum EmbView<'a> {
    /// f32 rows.
    F32(&'a [f32]),
    /// f16 rows, widened to f32 as they are added.
    F16(&'a [half::f16]),
}

impl EmbView<'_> {
    /// Values in all (`buckets * dim`).
    pub fn len(&self) -> usize {
        match self {
            EmbView::F32(v) => v.len(),
            EmbView::F16(v) => v.len(),
        }
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `s` times row `id` into `dst` (a row of `dst.len()` values).
    #[inline]
    pub fn add_row(&self, id: usize, s: f32, dst: &mut [f32]) {
        let dim = dst.len();
        match self {
            EmbView::F32(v) => {
                for (d, e) in dst.iter_mut().zip(&v[id * dim..(id + 1) * dim]) {
                    *d += e * s;
                }
            }
            EmbView::F16(v) => add_rows_f16(v, std::slice::from_ref(&(id as u32)), s, dst),
        }
    }

    /// Adds `s` times each of rows `ids` into `dst` (one line's bag).
    #[inline]
    pub fn add_rows(&self, ids: &[u32], s: f32, dst: &mut [f32]) {
        match self {
            EmbView::F32(_) => ids.iter().for_each(|&id| self.add_row(id as usize, s, dst)),
            EmbView::F16(v) => add_rows_f16(v, ids, s, dst),
        }
    }

    /// Every value as f32 (for the candle path on the CPU).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match self {
            EmbView::F32(v) => v.to_vec(),
            EmbView::F16(v) => {
                use half::slice::HalfFloatSliceExt;
                v.to_f32_vec()
            }
        }
    }
}

/// `h` as f32, exactly, for every finite `h` (a unit test checks all of
/// them): the magnitude's bits moved into f32's places and scaled by
/// 2^(127 - 15), the sign put back. Branch-free, so the row loop
/// vectorises (`half`'s own conversion is a call per value, or per slice
/// with a CPU-feature check; either costs more than the rest of the bag
/// sums). Infinities and NaN come out finite: the built-in file has none
/// (checked by a unit test), other files are widened by `half` at load.
#[inline(always)]
pub fn widen(h: half::f16) -> f32 {
    let b = u32::from(h.to_bits());
    let magnitude = f32::from_bits((b & 0x7fff) << 13) * f32::from_bits(0x7780_0000);
    f32::from_bits(magnitude.to_bits() | ((b & 0x8000) << 16))
}

/// Adds `s` times each of the f16 rows `ids` of `rows` into `dst`: at the
/// shipped width by [`add_rows_f16_32`], at any other by
/// [`add_rows_f16_any`], which widens by [`widen`] eight values at a time.
/// That shape vectorises where the CPU has AVX2 (x86-64 servers since 2013;
/// the version is picked at run time by `multiversion`) and on aarch64. On
/// the plain x86-64 baseline the widening does not vectorise: about 2× the
/// f32 path's time for the bags.
fn add_rows_f16(rows: &[half::f16], ids: &[u32], s: f32, dst: &mut [f32]) {
    match <&mut [f32; 32]>::try_from(&mut *dst) {
        Ok(dst) => add_rows_f16_32(rows, ids, s, dst),
        Err(_) => add_rows_f16_any(rows, ids, s, dst),
    }
}

/// How many rows ahead [`add_rows_f16_32`] asks for a row's cache lines.
const PREFETCH_AHEAD: usize = 16;

/// [`add_rows_f16`] for the shipped width (32): the row sum stays in
/// registers across the rows instead of going through `dst` for each one.
/// Each value gets the same additions in the same order, so the result is
/// bit for bit [`add_rows_f16_any`]'s (a property test checks it against
/// the plain sum, `dst[k] += widen(h) * s` feature after feature).
///
/// Where the CPU has F16C (x86-64 since 2013), the widening is one
/// `vcvtph2ps` per eight values instead of [`widen`]'s seven operations;
/// both are exact for every finite f16, so the sums are the same.
#[multiversion::multiversion(targets("x86_64+avx2+f16c", "x86_64+avx2", "aarch64+neon"))]
fn add_rows_f16_32(rows: &[half::f16], ids: &[u32], s: f32, dst: &mut [f32; 32]) {
    let mut acc = *dst;
    multiversion::target::match_target! {
        "x86_64+f16c" => {
            /// Eight f16 values (as bits) widened by the CPU.
            #[multiversion::inherit_target]
            fn widen8(bits: [u16; 8]) -> [f32; 8] {
                use std::arch::x86_64::{__m128i, _mm256_cvtph_ps};
                bytemuck::cast(_mm256_cvtph_ps(bytemuck::cast::<[u16; 8], __m128i>(bits)))
            }
            /// Asks for row `id`'s cache lines ahead of use (the rows a
            /// window reads are scattered over the 4 MiB table). A hint:
            /// it reads nothing and cannot fault, whatever the address.
            #[multiversion::inherit_target]
            fn prefetch_row(rows: &[half::f16], id: u32) {
                use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
                let p = rows.as_ptr().wrapping_add(id as usize * 32).cast::<i8>();
                _mm_prefetch::<_MM_HINT_T0>(p);
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(63));
            }
            for (i, &id) in ids.iter().enumerate() {
                if let Some(&ahead) = ids.get(i + PREFETCH_AHEAD) {
                    prefetch_row(rows, ahead);
                }
                for (a8, h8) in acc.chunks_exact_mut(8).zip(row32(rows, id).chunks_exact(8)) {
                    let bits: [u16; 8] = std::array::from_fn(|k| h8[k].to_bits());
                    for (a, w) in a8.iter_mut().zip(widen8(bits)) {
                        *a += w * s;
                    }
                }
            }
        }
        _ => {
            for &id in ids {
                for (a, &h) in acc.iter_mut().zip(row32(rows, id)) {
                    *a += widen(h) * s;
                }
            }
        }
    }
    *dst = acc;
}

/// Row `id` of a width-32 table.
#[inline(always)]
fn row32(rows: &[half::f16], id: u32) -> &[half::f16; 32] {
    let at = id as usize * 32;
    rows[at..at + 32].try_into().expect("a row is 32 values")
}

/// [`add_rows_f16`] for any width.
#[multiversion::multiversion(targets("x86_64+avx2", "aarch64+neon"))]
fn add_rows_f16_any(rows: &[half::f16], ids: &[u32], s: f32, dst: &mut [f32]) {
    let dim = dst.len();
    for &id in ids {
        let src = &rows[id as usize * dim..(id as usize + 1) * dim];
        let mut dst_chunks = dst.chunks_exact_mut(8);
        let mut src_chunks = src.chunks_exact(8);
        for (d8, s8) in (&mut dst_chunks).zip(&mut src_chunks) {
            let mut wide = [0f32; 8];
            for (w, &h) in wide.iter_mut().zip(s8) {
                *w = widen(h);
            }
            for (d, w) in d8.iter_mut().zip(wide) {
                *d += w * s;
            }
        }
        for (d, &h) in dst_chunks.into_remainder().iter_mut().zip(src_chunks.remainder()) {
            *d += widen(h) * s;
        }
    }
}

/// Adds each feature's scaled embedding row into its bag row, in feature
/// order (the same order `index_add` uses, so both paths agree).
/// Consecutive features of one bag (same row and weight, as
/// [`Batch::new`] lays them out) are added by one [`EmbView::add_rows`].
pub fn bag_sums(emb: EmbView<'_>, dim: usize, ids: &[u32], seg: &[u32], scale: &[f32], bags: &mut [f32]) {
    let n = ids.len().min(seg.len()).min(scale.len());
    let mut start = 0;
    while start < n {
        let (row, s) = (seg[start] as usize, scale[start]);
        let mut end = start + 1;
        while end < n && seg[end] as usize == row && scale[end] == s {
            end += 1;
        }
        emb.add_rows(&ids[start..end], s, &mut bags[row * dim..(row + 1) * dim]);
        start = end;
    }
}

/// The dense layers prepared for [`Params::forward_fast`] (CPU tensors).
#[derive(Debug, Clone)]
pub struct Dense {
    /// `[dim, hidden]` and `[1, hidden]`.
    pub w1t: Option<(Tensor, Tensor)>,
    /// `[pooled, out_rows]`.
    pub w2t: Tensor,
    /// `[1, out_rows]`.
    pub b2: Tensor,
}

impl Dense {
    /// Transposed, contiguous copies of `p`'s dense layers on the CPU.
    pub fn new(p: &Params) -> candle_core::Result<Self> {
        let cpu = Device::Cpu;
        let w1t = match &p.hidden {
            Some((w, b)) => Some((w.to_device(&cpu)?.t()?.contiguous()?, b.to_device(&cpu)?.unsqueeze(0)?)),
            None => None,
        };
        Ok(Dense { w1t, w2t: p.out_w.to_device(&cpu)?.t()?.contiguous()?, b2: p.out_b.to_device(&cpu)?.unsqueeze(0)? })
    }
}

/// Everything a model file holds besides the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// The class ids, in output order; must equal [`FailureClass::ALL`].
    pub classes: Vec<String>,
    /// How lines become features.
    pub featurizer: FeaturizerConfig,
    /// The network's shape.
    pub model: ModelConfig,
    /// Softmax temperature, fitted on the dev split.
    pub temperature: f32,
    /// How it was trained (for the model card; not read back).
    pub training: serde_json::Value,
}

/// Value of [`ModelMeta::format`].
pub const FORMAT: &str = "podmedic-classifier/1";
/// The one safetensors metadata key (one key keeps the file byte-stable:
/// the safetensors crate stores metadata in a `HashMap`).
pub const META_KEY: &str = "podmedic";
