//! Training, deterministic on the CPU.
//!
//! Every random choice (initial weights, shuffling, feature dropout) comes
//! from one SplitMix64 stream seeded by [`TrainConfig::seed`], implemented
//! here so that no dependency upgrade can change the sequence.
//!
//! What runs where: the embedding bags are summed in plain Rust (as in CPU
//! inference) into a candle `Var`; the dense part (hidden layer, max pool,
//! output layer, cross-entropy) and the whole backward pass are candle ops,
//! and candle's `AdamW` updates the dense layers. The gradient reaching the
//! bags is scattered back to the embedding rows the step used, which a
//! lazy Adam (below) updates in plain Rust: updating all 2M embedding
//! values every step, as a dense optimizer must, made training ~20x slower.
//!
//! All of it is sequential or order-independent on the CPU, so two runs on
//! the same machine give the same bytes (a test checks it). Different CPUs
//! may pick different SIMD paths in the matmul kernel and differ in the
//! last bits.
//!
//! After training the weights are serialised (embedding as f16), loaded back,
//! and the softmax temperature is fitted on the dev split by grid search on
//! its negative log-likelihood, so that what is evaluated and shipped is
//! exactly what the file holds.

use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use serde::Serialize;

use super::data::Example;
use super::featurize::{Featurizer, FeaturizerConfig, Scratch, WindowFeatures};
use super::model::{Arch, Batch, EmbView, FORMAT, ModelConfig, ModelMeta, Params, bag_sums, head_rows};
use super::{ClassifierError, DeviceChoice, ModelClassifier, to_safetensors};
use crate::class::FailureClass;

/// Hyper-parameters of one training run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrainConfig {
    /// Features.
    pub featurizer: FeaturizerConfig,
    /// Network.
    pub model: ModelConfig,
    /// Passes over the training set.
    pub epochs: usize,
    /// Windows per step.
    pub batch: usize,
    /// AdamW learning rate (decays linearly to a tenth).
    pub lr: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Probability of dropping each feature occurrence in a training step.
    pub feature_dropout: f32,
    /// Weight of the line-level loss (each line's own logits against its
    /// label: the window's class for key lines, `unknown` for the rest).
    pub line_weight: f32,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            featurizer: FeaturizerConfig::default(),
            model: ModelConfig { arch: Arch::Hybrid, dim: 32, hidden: 64 },
            epochs: 8,
            batch: 32,
            lr: 0.01,
            weight_decay: 0.0001,
            feature_dropout: 0.9,
            line_weight: 0.0,
            seed: 20260101,
        }
    }
}

/// SplitMix64: tiny, fast, and fixed forever.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }

    /// `n` values uniform in [-a, a).
    pub fn uniform(&mut self, n: usize, a: f32) -> Vec<f32> {
        (0..n).map(|_| (self.next_f32() * 2.0 - 1.0) * a).collect()
    }
}

/// Adam with decoupled weight decay for the embedding table, updating only
/// the rows a step touched ("lazy" Adam, as PyTorch's `SparseAdam`): a dense
/// update of every row would cost far more than the step itself. Bias
/// correction uses each row's own update count.
struct SparseAdam {
    theta: Vec<f32>,
    m: Vec<f32>,
    v: Vec<f32>,
    steps: Vec<u32>,
    grad: Vec<f32>,
    touched: Vec<u32>,
    is_touched: Vec<bool>,
    dim: usize,
    weight_decay: f32,
}

impl SparseAdam {
    fn new(theta: Vec<f32>, dim: usize, cfg: &TrainConfig) -> Self {
        let n = theta.len();
        let rows = n / dim;
        SparseAdam {
            theta,
            m: vec![0.0; n],
            v: vec![0.0; n],
            steps: vec![0; rows],
            grad: vec![0.0; n],
            touched: Vec::new(),
            is_touched: vec![false; rows],
            dim,
            weight_decay: cfg.weight_decay as f32,
        }
    }

    /// One step from the gradient of the bags (`[rows, dim]`, flattened).
    fn step(&mut self, bag_grad: &[f32], ids: &[u32], seg: &[u32], scale: &[f32], lr: f32) {
        let dim = self.dim;
        for ((&id, &row), &s) in ids.iter().zip(seg).zip(scale) {
            let (id, row) = (id as usize, row as usize);
            if !self.is_touched[id] {
                self.is_touched[id] = true;
                self.touched.push(id as u32);
            }
            let g = &bag_grad[row * dim..(row + 1) * dim];
            for (acc, gv) in self.grad[id * dim..(id + 1) * dim].iter_mut().zip(g) {
                *acc += gv * s;
            }
        }
        // Ascending row order: the result does not depend on feature order.
        self.touched.sort_unstable();
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        for &id in &self.touched {
            let id = id as usize;
            self.steps[id] += 1;
            let t = self.steps[id] as i32;
            let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
            for k in id * dim..(id + 1) * dim {
                let g = self.grad[k];
                self.m[k] = b1 * self.m[k] + (1.0 - b1) * g;
                self.v[k] = b2 * self.v[k] + (1.0 - b2) * g * g;
                let update = (self.m[k] / c1) / ((self.v[k] / c2).sqrt() + eps);
                self.theta[k] = self.theta[k] * (1.0 - lr * self.weight_decay) - lr * update;
                self.grad[k] = 0.0;
            }
            self.is_touched[id] = false;
        }
        self.touched.clear();
    }
}

/// What a training run did.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// The config.
    pub config: TrainConfig,
    /// Training windows.
    pub train_windows: usize,
    /// Mean training loss of each epoch.
    pub epoch_loss: Vec<f32>,
    /// Fitted softmax temperature (1 without a dev split).
    pub temperature: f32,
    /// Dev negative log-likelihood at that temperature.
    pub dev_nll: Option<f32>,
    /// Wall-clock seconds.
    pub seconds: f32,
}

/// Featurizes examples and labels each window line: the example's class
/// for its key lines, `unknown` for the rest.
pub fn featurize_labelled(f: &Featurizer, examples: &[Example]) -> Vec<(WindowFeatures, Vec<u32>)> {
    let mut scratch = Scratch::default();
    let unknown = FailureClass::Unknown.index() as u32;
    examples
        .iter()
        .map(|e| {
            let window = e.window();
            let flags = e.key_flags(&window);
            let refs: Vec<&str> = window.iter().map(String::as_str).collect();
            let mut wf = WindowFeatures::default();
            let mut labels: Vec<u32> = Vec::new();
            f.window_mapped(&refs, &mut scratch, &mut wf, |i, at| {
                if at == labels.len() {
                    labels.push(unknown);
                }
                if flags[i] {
                    labels[at] = e.class.index() as u32;
                }
            });
            (wf, labels)
        })
        .collect()
}

/// Featurizes examples (their model windows) with `f`.
pub fn featurize_all(f: &Featurizer, examples: &[Example]) -> Vec<WindowFeatures> {
    let mut scratch = Scratch::default();
    examples
        .iter()
        .map(|e| {
            let window = e.window();
            let refs: Vec<&str> = window.iter().map(String::as_str).collect();
            f.window(&refs, &mut scratch)
        })
        .collect()
}

/// Trains a model; returns the safetensors bytes and a report. `progress`
/// gets one line per epoch.
pub fn train(
    train: &[Example],
    dev: Option<&[Example]>,
    cfg: &TrainConfig,
    mut progress: impl FnMut(&str),
) -> Result<(Vec<u8>, TrainReport), ClassifierError> {
    cfg.featurizer.validate().map_err(ClassifierError::Invalid)?;
    if train.is_empty() {
        return Err(ClassifierError::Invalid("no training examples".into()));
    }
    let started = Instant::now();
    let device = Device::Cpu;
    let featurizer = Featurizer::new(cfg.featurizer);
    let labelled = featurize_labelled(&featurizer, train);
    let labels: Vec<u32> = train.iter().map(|e| e.class.index() as u32).collect();

    let mut rng = Rng::new(cfg.seed);
    let m = cfg.model;
    let dim = m.dim;
    let buckets = cfg.featurizer.buckets as usize;
    let var = |data: Vec<f32>, shape: &[usize]| -> Result<Var, ClassifierError> {
        Ok(Var::from_tensor(&Tensor::from_vec(data, shape, &device)?)?)
    };
    let mut emb = SparseAdam::new(rng.uniform(buckets * dim, 1.0 / (dim as f32).sqrt()), dim, cfg);
    let hidden = if m.has_hidden() {
        let a = 1.0 / (dim as f32).sqrt();
        Some((var(rng.uniform(m.hidden * dim, a), &[m.hidden, dim])?, var(rng.uniform(m.hidden, a), &[m.hidden])?))
    } else {
        None
    };
    let a = 1.0 / (m.pooled() as f32).sqrt();
    let out_w = var(rng.uniform(m.out_rows() * m.pooled(), a), &[m.out_rows(), m.pooled()])?;
    let out_b = var(vec![0.0; m.out_rows()], &[m.out_rows()])?;
    let mut vars = vec![out_w.clone(), out_b.clone()];
    if let Some((w, b)) = &hidden {
        vars.push(w.clone());
        vars.push(b.clone());
    }
    let hidden_t = || hidden.as_ref().map(|(w, b)| (w.as_tensor().clone(), b.as_tensor().clone()));
    let mut opt =
        AdamW::new(vars, ParamsAdamW { lr: cfg.lr, weight_decay: cfg.weight_decay, ..ParamsAdamW::default() })?;

    let steps_per_epoch = train.len().div_ceil(cfg.batch.max(1));
    let total_steps = (steps_per_epoch * cfg.epochs).max(1);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut epoch_loss = Vec::new();
    let mut step = 0usize;
    for epoch in 0..cfg.epochs {
        rng.shuffle(&mut order);
        let mut loss_sum = 0f32;
        for chunk in order.chunks(cfg.batch.max(1)) {
            let windows: Vec<&WindowFeatures> = chunk.iter().map(|&i| &labelled[i].0).collect();
            let p = cfg.feature_dropout;
            let batch = Batch::new(&windows, m.arch, &device, || rng.next_f32() >= p)?;
            let (ids, seg, scale) = &batch.host;
            let mut bags = vec![0f32; batch.windows * batch.rows * dim];
            bag_sums(EmbView::F32(&emb.theta), dim, ids, seg, scale, &mut bags);
            let bags = Var::from_tensor(&Tensor::from_vec(bags, (batch.windows * batch.rows, dim), &device)?)?;
            let target =
                Tensor::from_vec(chunk.iter().map(|&i| labels[i]).collect::<Vec<u32>>(), chunk.len(), &device)?;
            let want_rows = cfg.line_weight > 0.0;
            let (logits, rows) = head_rows(
                &m,
                hidden_t().as_ref(),
                out_w.as_tensor(),
                out_b.as_tensor(),
                bags.as_tensor(),
                &batch,
                want_rows,
            )?;
            let mut loss = candle_nn::loss::cross_entropy(&logits, &target)?;
            if let Some(rows) = rows {
                // Line labels; padding rows weigh nothing.
                let mut row_target = vec![FailureClass::Unknown.index() as u32; batch.windows * batch.rows];
                let mut row_weight = vec![0f32; batch.windows * batch.rows];
                for (wi, &i) in chunk.iter().enumerate() {
                    for (li, &label) in labelled[i].1.iter().enumerate() {
                        row_target[wi * batch.rows + li] = label;
                        row_weight[wi * batch.rows + li] = 1.0;
                    }
                }
                let n = row_weight.iter().sum::<f32>().max(1.0);
                let row_target = Tensor::from_vec(row_target, (batch.windows * batch.rows, 1), &device)?;
                let row_weight = Tensor::from_vec(row_weight, (batch.windows * batch.rows, 1), &device)?;
                let nll = candle_nn::ops::log_softmax(&rows, candle_core::D::Minus1)?.gather(&row_target, 1)?.neg()?;
                let line_loss = (nll.mul(&row_weight)?.sum_all()? / f64::from(n))?;
                loss = (loss + (line_loss * f64::from(cfg.line_weight))?)?;
            }
            let lr = cfg.lr * (1.0 - 0.9 * step as f64 / total_steps as f64);
            opt.set_learning_rate(lr);
            let grads = loss.backward()?;
            opt.step(&grads)?;
            if let Some(g) = grads.get(bags.as_tensor()) {
                emb.step(&g.flatten_all()?.to_vec1::<f32>()?, ids, seg, scale, lr as f32);
            }
            loss_sum += loss.to_scalar::<f32>()? * chunk.len() as f32;
            step += 1;
        }
        let mean = loss_sum / train.len() as f32;
        epoch_loss.push(mean);
        progress(&format!(
            "epoch {:>2}/{}: loss {mean:.4} ({:.1}s)",
            epoch + 1,
            cfg.epochs,
            started.elapsed().as_secs_f32()
        ));
    }

    let params = Params {
        embedding: Tensor::from_vec(emb.theta, (buckets, dim), &device)?,
        hidden: hidden_t(),
        out_w: out_w.as_tensor().clone(),
        out_b: out_b.as_tensor().clone(),
    };
    let mut meta = ModelMeta {
        format: FORMAT.to_owned(),
        classes: FailureClass::ALL.iter().map(|c| c.as_str().to_owned()).collect(),
        featurizer: cfg.featurizer,
        model: m,
        temperature: 1.0,
        training: serde_json::json!({
            "config": cfg,
            "train_windows": train.len(),
            "dev_windows": dev.map_or(0, <[Example]>::len),
        }),
    };
    let mut dev_nll = None;
    if let Some(dev) = dev.filter(|d| !d.is_empty()) {
        // Fit the temperature on the model as it will be shipped (f16 embedding).
        let bytes = to_safetensors(&params, &meta)?;
        let shipped = ModelClassifier::from_bytes(&bytes, DeviceChoice::Cpu)?;
        let dev_feats = featurize_all(&featurizer, dev);
        let dev_labels: Vec<usize> = dev.iter().map(|e| e.class.index()).collect();
        let logits = dev_logits(&shipped, &dev_feats)?;
        let (t, nll) = fit_temperature(&logits, &dev_labels);
        meta.temperature = t;
        dev_nll = Some(nll);
        progress(&format!("temperature {t:.3} (dev NLL {nll:.4})"));
    }
    let bytes = to_safetensors(&params, &meta)?;
    let report = TrainReport {
        config: *cfg,
        train_windows: train.len(),
        epoch_loss,
        temperature: meta.temperature,
        dev_nll,
        seconds: started.elapsed().as_secs_f32(),
    };
    Ok((bytes, report))
}

/// Logits (before temperature) of each window, in batches of 256.
pub fn dev_logits(model: &ModelClassifier, feats: &[WindowFeatures]) -> Result<Vec<Vec<f32>>, ClassifierError> {
    let mut out = Vec::with_capacity(feats.len());
    for chunk in feats.chunks(256) {
        let refs: Vec<&WindowFeatures> = chunk.iter().collect();
        let l = model.logits_batch(&refs)?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        out.extend(l);
    }
    Ok(out)
}

/// The temperature in a log-spaced grid over [0.25, 8] with the lowest mean
/// negative log-likelihood, and that NLL.
pub fn fit_temperature(logits: &[Vec<f32>], labels: &[usize]) -> (f32, f32) {
    let nll = |t: f32| -> f32 {
        let mut sum = 0f64;
        for (l, &y) in logits.iter().zip(labels) {
            let max = l.iter().copied().fold(f32::MIN, f32::max);
            let z: f64 = l.iter().map(|v| f64::from((v - max) / t).exp()).sum();
            sum += z.ln() - f64::from((l[y] - max) / t);
        }
        (sum / logits.len().max(1) as f64) as f32
    };
    let mut best = (1.0f32, nll(1.0));
    for i in 0..=60 {
        let t = 0.25f32 * 32f32.powf(i as f32 / 60.0);
        let v = nll(t);
        if v < best.1 {
            best = (t, v);
        }
    }
    best
}
