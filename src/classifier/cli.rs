//! `podmedic train` and `podmedic eval`: argument structs and handlers, for
//! the binary's command enum to wire in.

use std::path::PathBuf;

use anyhow::Context as _;
use sha2::Digest as _;

use super::eval::{
    Confusion, evaluate, fusion_grid, model_decision, model_probs, render, tune_fusion, tune_model_alone,
};
use super::featurize::FeaturizerConfig;
use super::model::{Arch, ModelConfig};
use super::train::{TrainConfig, train};
use super::{DeviceChoice, ModelClassifier, data, load_default};
use crate::diagnosis::FusionConfig;
use crate::signatures::SignatureSet;

/// Arguments of `podmedic train`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// Directory holding `train.jsonl` (and `dev.jsonl`, used to fit the
    /// softmax temperature and to report metrics).
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data: PathBuf,
    /// Where to write the model.
    #[arg(long, value_name = "PATH", default_value = "models/classifier.safetensors")]
    pub out: PathBuf,
    /// Network.
    #[arg(long, value_enum, default_value_t = TrainConfig::default().model.arch)]
    pub arch: Arch,
    /// Embedding width.
    #[arg(long, default_value_t = TrainConfig::default().model.dim)]
    pub dim: usize,
    /// Hidden width (line-max-mlp, line-mil, hybrid; ignored by the others).
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// log2 of the hashed feature space.
    #[arg(long, default_value_t = TrainConfig::default().featurizer.buckets.trailing_zeros(), value_parser = clap::value_parser!(u32).range(10..=24))]
    pub buckets_log2: u32,
    /// Shortest character n-gram (0 disables them).
    #[arg(long, default_value_t = TrainConfig::default().featurizer.char_min)]
    pub char_min: u8,
    /// Longest character n-gram.
    #[arg(long, default_value_t = TrainConfig::default().featurizer.char_max)]
    pub char_max: u8,
    /// Passes over the training set.
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub epochs: usize,
    /// Seed of every random choice.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
    /// Weight of the line-level loss (0 turns it off).
    #[arg(long, default_value_t = TrainConfig::default().line_weight)]
    pub line_weight: f32,
    /// Probability of dropping each feature in a training step.
    #[arg(long, default_value_t = TrainConfig::default().feature_dropout)]
    pub feature_dropout: f32,
}

impl TrainArgs {
    /// The training config these arguments describe.
    pub fn config(&self) -> TrainConfig {
        let d = TrainConfig::default();
        TrainConfig {
            featurizer: FeaturizerConfig {
                buckets: 1 << self.buckets_log2,
                char_min: self.char_min,
                char_max: self.char_max,
                ..d.featurizer
            },
            model: {
                let m = ModelConfig { arch: self.arch, dim: self.dim, hidden: self.hidden };
                ModelConfig { hidden: if m.has_hidden() { self.hidden } else { 0 }, ..m }
            },
            epochs: self.epochs,
            seed: self.seed,
            line_weight: self.line_weight,
            feature_dropout: self.feature_dropout,
            ..d
        }
    }
}

/// Runs `podmedic train`.
pub fn run_train(args: &TrainArgs) -> anyhow::Result<()> {
    let train_path = args.data.join("train.jsonl");
    let train_set = data::read_jsonl(&train_path)?;
    let dev_path = args.data.join("dev.jsonl");
    let dev_set = if dev_path.is_file() { Some(data::read_jsonl(&dev_path)?) } else { None };
    let cfg = args.config();
    eprintln!(
        "training {:?} on {} windows from {} ({} dev windows)",
        cfg.model,
        train_set.len(),
        train_path.display(),
        dev_set.as_ref().map_or(0, Vec::len)
    );
    let (bytes, report) = train(&train_set, dev_set.as_deref(), &cfg, |line| eprintln!("  {line}"))?;
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} bytes, sha256 {}) in {:.1}s",
        args.out.display(),
        bytes.len(),
        sha256_hex(&bytes),
        report.seconds
    );
    if let Some(dev) = &dev_set {
        let model = ModelClassifier::from_bytes(&bytes, DeviceChoice::Cpu)?;
        let cfg = FusionConfig::default();
        let (mut c, mut top) = (Confusion::default(), Confusion::default());
        for (e, p) in dev.iter().zip(model_probs(&model, dev)) {
            c.add(e.class, model_decision(&p, &cfg));
            top.add(e.class, model_decision(&p, &FusionConfig { model_alone: 0.0, ..cfg }));
        }
        eprintln!(
            "dev, model alone: macro-F1 {:.3}, accuracy {:.3} (argmax without abstaining: macro-F1 {:.3}, accuracy {:.3})",
            c.macro_f1(),
            c.accuracy(),
            top.macro_f1(),
            top.accuracy()
        );
    }
    Ok(())
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Output format of `podmedic eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EvalOutput {
    /// Tables.
    Text,
    /// One JSON object.
    Json,
}

/// Arguments of `podmedic eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// A `.jsonl` file, a directory holding `<split>.jsonl`, or a directory
    /// of `<class>/*.log` files.
    #[arg(long, value_name = "PATH", default_value = "data")]
    pub data: PathBuf,
    /// Which split to read from a data directory.
    #[arg(long, default_value = "dev")]
    pub split: String,
    /// Signature library directory.
    #[arg(long, value_name = "DIR", default_value = "patterns")]
    pub patterns: PathBuf,
    /// Model file instead of the built-in one.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Where the model runs.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    pub device: DeviceChoice,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EvalOutput::Text)]
    pub output: EvalOutput,
    /// Also sweep the fusion thresholds and print the best settings.
    #[arg(long)]
    pub tune: bool,
    /// Write one line per window (id, seed, truth, each engine's answer and
    /// the model's top probability) to this TSV file.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// With `--llm-url`: ask the operator's model on at most this many
    /// windows per trigger (abstentions, disagreements).
    #[arg(long, value_name = "N")]
    pub llm_limit: Option<usize>,
    /// With `--llm-url`: write every consultation (id, truth, podmedic's and
    /// the model's class, outcome) to this JSON file.
    #[arg(long, value_name = "FILE")]
    pub llm_dump: Option<PathBuf>,
    /// The operator's model's second opinion, measured on the windows
    /// where podmedic abstains (`--llm-url`; the hourly budget does not
    /// apply, `--llm-max-concurrent` does).
    #[command(flatten)]
    pub llm: crate::llm::LlmArgs,
}

/// Runs `podmedic eval`.
pub fn run_eval(args: &EvalArgs) -> anyhow::Result<()> {
    let (source, examples) = data::read_examples(&args.data, &args.split)?;
    anyhow::ensure!(!examples.is_empty(), "no labelled windows in {}", args.data.display());
    let signatures = SignatureSet::load(&[&args.patterns])
        .map_err(|p| anyhow::anyhow!("the signature library in {} is invalid:\n{p}", args.patterns.display()))?;
    let model = match &args.model {
        Some(p) => ModelClassifier::load(p, args.device)?,
        None => load_default(args.device)?,
    };
    if let Some(why) = model.fallback() {
        eprintln!("note: {why}");
    }
    let probs = model_probs(&model, &examples);
    let cfg = FusionConfig::default();
    let results = evaluate(&examples, &signatures, Some(&probs), &cfg);
    if let Some(path) = &args.dump {
        let mut out = String::from("id\tseed\ttruth\tsignatures\tmodel\tmodel_p\tmodel_top\tfused\tsignature_ids\n");
        for (e, p) in examples.iter().zip(&probs) {
            let ev = e.evidence();
            let sig_d = crate::diagnosis::diagnose(&ev, &signatures, None, &cfg);
            let sig = sig_d.class;
            let fused = crate::diagnosis::diagnose(&ev, &signatures, Some(&super::eval::Cached(*p)), &cfg).class;
            let (top, tp) = p.iter().enumerate().fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\t{:.3}\t{}\t{}\t{}\n",
                e.id,
                e.seed,
                e.class,
                sig,
                model_decision(p, &cfg),
                tp,
                crate::class::FailureClass::ALL[top],
                fused,
                sig_d.signatures.join(",")
            ));
        }
        std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
    }
    let llm_report = match args.llm.settings()? {
        Some(mut settings) => {
            // The hourly budget rations calls during incidents; a measurement asks about every window.
            settings.calls_per_hour = usize::MAX;
            let cases: Vec<(&data::Example, crate::diagnosis::Diagnosis)> = examples
                .iter()
                .zip(&probs)
                .map(|(e, p)| {
                    (e, crate::diagnosis::diagnose(&e.evidence(), &signatures, Some(&super::eval::Cached(*p)), &cfg))
                })
                .collect();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            let report = runtime.block_on(async {
                let llm = crate::llm::Llm::new(settings)?;
                anyhow::Ok(crate::llm::eval::run(&llm, &cases, args.llm_limit, &|l| eprintln!("  {l}")).await)
            })?;
            if let Some(path) = &args.llm_dump {
                std::fs::write(path, serde_json::to_string_pretty(&report.records)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Some(report)
        }
        None => None,
    };
    let tuned = if args.tune { tune_fusion(&examples, &signatures, &probs, &fusion_grid()) } else { Vec::new() };
    let alone = if args.tune { tune_model_alone(&examples, &probs) } else { Vec::new() };
    match args.output {
        EvalOutput::Json => {
            let v = serde_json::json!({
                "data": source.display().to_string(),
                "windows": examples.len(),
                "signatures": signatures.len(),
                "fusion": format!("{cfg:?}"),
                "results": results,
                "tuned": tuned.iter().take(10).map(|(c, f1, acc)| serde_json::json!({"config": format!("{c:?}"), "macro_f1": f1, "accuracy": acc})).collect::<Vec<_>>(),
                "model_alone": alone.iter().map(|(t, f1, acc)| serde_json::json!({"threshold": t, "macro_f1": f1, "accuracy": acc})).collect::<Vec<_>>(),
                "llm": llm_report.as_ref().map(|r| serde_json::json!({
                    "model": r.model, "windows": r.windows, "abstained": r.abstained, "disagreed": r.disagreed,
                    "on_abstentions": r.on_abstentions, "on_disagreements": r.on_disagreements,
                })),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        EvalOutput::Text => {
            println!(
                "{} windows from {}; {} signatures from {}; model {}; {cfg:?}\n",
                examples.len(),
                source.display(),
                signatures.len(),
                args.patterns.display(),
                args.model.as_ref().map_or("built-in".to_owned(), |p| p.display().to_string()),
            );
            print!("{}", render(&results));
            if let Some(r) = &llm_report {
                print!("{}", crate::llm::eval::render(r));
            }
            if !tuned.is_empty() {
                println!("\nbest fusion settings on these windows (fused macro-F1, accuracy):");
                for (c, f1, acc) in tuned.iter().take(10) {
                    println!("  {f1:.4} {acc:.4}  {c:?}");
                }
                println!("\nmodel alone by model_alone threshold (macro-F1, accuracy):");
                for (t, f1, acc) in &alone {
                    println!("  {t:.2}  {f1:.4} {acc:.4}");
                }
            }
        }
    }
    Ok(())
}
