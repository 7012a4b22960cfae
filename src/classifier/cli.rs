//! `podmedic train` and `podmedic eval`: argument structs and handlers, for
//! the binary's command enum to wire in.

use std::path::PathBuf;

use anyhow::Context as _;
use sha2::Digest as _;

use super::augment::training_set;
use super::eval::{
    Answers, Cached, Confusion, answers, by_group, expected_calibration_error, fusion_grid, model_alone, model_answers,
    model_decision, render, render_groups, results, tune_fusion, tune_model_alone,
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
    /// Directory holding `train.jsonl` (real labelled logs, augmented
    /// `--augment` times) and `dev.jsonl` (used to fit the softmax
    /// temperature and to report metrics).
    #[arg(long, value_name = "DIR", default_value = "data/real")]
    pub data: PathBuf,
    /// More training windows, used as they are (not augmented): the
    /// generated corpus by default. Repeat for several files.
    #[arg(long, value_name = "FILE", default_value = "data/train.jsonl")]
    pub extra: Vec<PathBuf>,
    /// Train on `--data` alone, without the `--extra` windows.
    #[arg(long)]
    pub no_extra: bool,
    /// Augmented copies of each `--data` training log (wrapped in healthy
    /// noise, cut, thinned, prefixed; see `classifier::augment`).
    #[arg(long, default_value_t = super::augment::DEFAULT_AUGMENT)]
    pub augment: usize,
    /// Signature library whose `match` example lines (of signatures weighing
    /// at least 0.7) are added as one-line training examples of their
    /// class, augmented like the real logs.
    #[arg(long, value_name = "DIR", default_value = "patterns")]
    pub patterns: PathBuf,
    /// Do not add the signature library's example lines.
    #[arg(long)]
    pub no_signature_examples: bool,
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

/// The extra (generated) windows named by `--extra`, unless `--no-extra`.
fn read_extra(paths: &[PathBuf], none: bool) -> anyhow::Result<Vec<data::Example>> {
    let mut extra = Vec::new();
    if !none {
        for p in paths {
            extra.extend(data::read_jsonl(p)?);
        }
    }
    Ok(extra)
}

/// The example lines of the signature library in `dir` (signatures of
/// weight >= 0.7) as training examples.
fn library_examples(dir: &std::path::Path) -> anyhow::Result<Vec<data::Example>> {
    let set = SignatureSet::load(&[dir])
        .map_err(|p| anyhow::anyhow!("the signature library in {} is invalid:\n{p}", dir.display()))?;
    Ok(super::augment::signature_examples(&set, 0.7))
}

/// Runs `podmedic train`.
pub fn run_train(args: &TrainArgs) -> anyhow::Result<()> {
    let train_path = args.data.join("train.jsonl");
    let real = data::read_jsonl(&train_path)?;
    let dev_path = args.data.join("dev.jsonl");
    let dev_set = if dev_path.is_file() { Some(data::read_jsonl(&dev_path)?) } else { None };
    let extra = read_extra(&args.extra, args.no_extra)?;
    let sig_examples = if args.no_signature_examples { Vec::new() } else { library_examples(&args.patterns)? };
    let cfg = args.config();
    let base: Vec<data::Example> = real.iter().chain(&sig_examples).cloned().collect();
    let train_set = training_set(&base, &extra, args.augment, cfg.seed);
    eprintln!(
        "training {:?} on {} windows: {} from {} and {} signature example lines, {} augmented copies of each; {} extra ({} dev windows)",
        cfg.model,
        train_set.len(),
        real.len(),
        train_path.display(),
        sig_examples.len(),
        args.augment,
        extra.len(),
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
        let probs = model_answers(&model, dev);
        let (mut c, mut top) = (Confusion::default(), Confusion::default());
        for (e, p) in dev.iter().zip(&probs) {
            c.add(e.class, model_alone(e, p, &cfg));
            top.add(e.class, model_decision(&p.probs, &FusionConfig { model_alone: 0.0, ..cfg }));
        }
        eprintln!(
            "dev, model alone: accuracy {:.3}, macro-F1 {:.3}, `unknown` precision {:.3} (argmax: accuracy {:.3}); ECE {:.3}",
            c.accuracy(),
            c.macro_f1(),
            c.scores(crate::class::FailureClass::Unknown).precision,
            top.accuracy(),
            expected_calibration_error(dev, &probs, 10)
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

/// A breakdown of `podmedic eval`'s accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    /// By the record's server (`vllm`, `ollama`, ...).
    Server,
    /// By server family (the leave-one-server-out unit).
    Family,
    /// By format and content tag (`timestamps`, `cjk`, `multi-cause`, ...).
    Tag,
    /// By class.
    Class,
}

impl GroupBy {
    fn name(self) -> &'static str {
        match self {
            GroupBy::Server => "server",
            GroupBy::Family => "family",
            GroupBy::Tag => "tag",
            GroupBy::Class => "class",
        }
    }

    fn groups(self, e: &data::Example) -> Vec<String> {
        let or_none = |s: &str| if s.is_empty() { "(none)".to_owned() } else { s.to_owned() };
        match self {
            GroupBy::Server => vec![or_none(&e.server)],
            GroupBy::Family => vec![or_none(&e.family)],
            GroupBy::Tag => e.tags.clone(),
            GroupBy::Class => vec![e.class.as_str().to_owned()],
        }
    }
}

/// Arguments of `podmedic eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct EvalArgs {
    /// A `.jsonl` file, a directory holding `<split>.jsonl`, or a directory
    /// of `<class>/*.log` files.
    #[arg(long, value_name = "PATH", default_value = "data/real")]
    pub data: PathBuf,
    /// Which splits to read from a data directory, comma-separated
    /// (`train`, `dev`, `test`, `stalled`); each is reported on its own.
    #[arg(long, default_value = "dev", value_delimiter = ',')]
    pub split: Vec<String>,
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
    /// Accuracy of each engine by server, family, tag or class (repeat or
    /// comma-separate for several).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub by: Vec<GroupBy>,
    /// Also sweep the fusion thresholds on the windows of the first split
    /// and print the best settings.
    #[arg(long)]
    pub tune: bool,
    /// Also report each engine's accuracy and `unknown` precision as they
    /// would be where logs outside the classes make up this share (0..1)
    /// of the crashes (each split reweighted by truth), and rank `--tune`'s
    /// settings by that accuracy.
    #[arg(long, value_name = "SHARE", value_parser = parse_share)]
    pub unknown_share: Option<f64>,
    /// Leave-one-server-out: train one model per server family without that
    /// family (from `--data`'s `train.jsonl`, as `podmedic train` does) and
    /// score it on the family's windows of the requested splits. Slow: one
    /// training run per family.
    #[arg(long)]
    pub loso: bool,
    /// Generated windows added to each leave-one-out model's training set
    /// (as `podmedic train --extra`).
    #[arg(long, value_name = "FILE", default_value = "data/train.jsonl")]
    pub extra: Vec<PathBuf>,
    /// Augmented copies per real training log for `--loso` (as `podmedic
    /// train --augment`).
    #[arg(long, default_value_t = super::augment::DEFAULT_AUGMENT)]
    pub augment: usize,
    /// Write one line per window (id, source, truth, each engine's answer
    /// and the model's top probability) to this TSV file (the first split).
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

/// A share in 0..=1.
fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a share between 0 and 1")),
    }
}

/// Runs `podmedic eval`.
pub fn run_eval(args: &EvalArgs) -> anyhow::Result<()> {
    let signatures = SignatureSet::load(&[&args.patterns])
        .map_err(|p| anyhow::anyhow!("the signature library in {} is invalid:\n{p}", args.patterns.display()))?;
    let model = match &args.model {
        Some(p) => ModelClassifier::load(p, args.device)?,
        None => load_default(args.device)?,
    };
    if let Some(why) = model.fallback() {
        eprintln!("note: {why}");
    }
    let cfg = FusionConfig::default();
    let mut llm_report = None;
    let mut json_splits = Vec::new();
    let mut all_examples = Vec::new();
    for (k, split) in args.split.iter().enumerate() {
        let (source, examples) = data::read_examples(&args.data, split)?;
        anyhow::ensure!(!examples.is_empty(), "no labelled windows in {} (split {split})", args.data.display());
        let probs = model_answers(&model, &examples);
        let ans = answers(&examples, &signatures, Some(&probs), &cfg);
        let res = results(&examples, &ans);
        let ece = expected_calibration_error(&examples, &probs, 10);
        if k == 0
            && let Some(path) = &args.dump
        {
            dump(path, &examples, &probs, &ans, &signatures, &cfg)?;
        }
        let groups: Vec<(GroupBy, Vec<_>)> =
            args.by.iter().map(|g| (*g, by_group(&examples, &ans, |e| g.groups(e)))).collect();
        let tuned = if args.tune && k == 0 {
            tune_fusion(&examples, &signatures, &probs, &fusion_grid(), args.unknown_share)
        } else {
            Vec::new()
        };
        let alone = if args.tune && k == 0 { tune_model_alone(&examples, &probs) } else { Vec::new() };
        // The operator's model (--llm-url), on the first split's windows.
        if k == 0
            && let Some(mut settings) = args.llm.settings()?
        {
            // The hourly budget rations calls during incidents; a measurement asks about every window.
            settings.calls_per_hour = usize::MAX;
            let cases: Vec<(&data::Example, crate::diagnosis::Diagnosis)> = examples
                .iter()
                .zip(&probs)
                .map(|(e, p)| (e, crate::diagnosis::diagnose(&e.evidence(), &signatures, Some(p), &cfg)))
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
            llm_report = Some(report);
        }
        let llm_here = if k == 0 { llm_report.as_ref() } else { None };
        match args.output {
            EvalOutput::Json => json_splits.push(serde_json::json!({
                "split": split,
                "data": source.display().to_string(),
                "windows": examples.len(),
                "results": res,
                "at_unknown_share": args.unknown_share.map(|share| res.iter().map(|r| serde_json::json!({
                    "engine": r.engine,
                    "share": share,
                    "accuracy_and_unknown_precision": r.confusion.at_unknown_share(share),
                })).collect::<Vec<_>>()),
                "model_ece": ece,
                "by": groups.iter().map(|(g, rows)| serde_json::json!({"by": g.name(), "rows": rows})).collect::<Vec<_>>(),
                "tuned": tuned.iter().map(|(c, f1, acc, unk)| serde_json::json!({"config": format!("{c:?}"), "macro_f1": f1, "accuracy": acc, "unknown_precision": unk})).collect::<Vec<_>>(),
                "model_alone": alone.iter().map(|(t, f1, acc)| serde_json::json!({"threshold": t, "macro_f1": f1, "accuracy": acc})).collect::<Vec<_>>(),
                "llm": llm_here.map(|r| serde_json::json!({
                    "model": r.model, "windows": r.windows, "abstained": r.abstained, "disagreed": r.disagreed,
                    "on_abstentions": r.on_abstentions, "on_disagreements": r.on_disagreements,
                })),
            })),
            EvalOutput::Text => {
                println!(
                    "== {split}: {} windows from {}; {} signatures from {}; model {}; {cfg:?}\n",
                    examples.len(),
                    source.display(),
                    signatures.len(),
                    args.patterns.display(),
                    args.model.as_ref().map_or("built-in".to_owned(), |p| p.display().to_string()),
                );
                print!("{}", render(&res));
                if let Some(share) = args.unknown_share {
                    println!("\nreweighted so that `unknown` logs are {:.0}% of the windows:", share * 100.0);
                    for r in &res {
                        if let Some((acc, unk)) = r.confusion.at_unknown_share(share) {
                            println!("  {:10} accuracy {acc:.3}, `unknown` precision {unk:.3}", r.engine);
                        }
                    }
                }
                println!("\nmodel calibration: ECE {ece:.3} (10 bins, top-class probability)");
                if let Some(r) = llm_here {
                    print!("{}", crate::llm::eval::render(r));
                }
                let names: Vec<&str> = ans.engines().iter().map(|(n, _)| *n).collect();
                for (g, rows) in &groups {
                    println!("\naccuracy by {}:\n{}", g.name(), render_groups(g.name(), &names, rows));
                }
                if !tuned.is_empty() {
                    println!("\nbest fusion settings on these windows (fused accuracy, macro-F1, `unknown` precision):");
                    for (c, f1, acc, unk) in tuned.iter().take(10) {
                        println!("  {acc:.4} {f1:.4} {unk:.4}  {c:?}");
                    }
                    // Where the shipped defaults stand, and the error-line gate
                    // alone moved from them.
                    let d = FusionConfig::default();
                    println!("the defaults and the error-line gate moved from them (rank of {}):", tuned.len());
                    for (rank, (c, f1, acc, unk)) in tuned.iter().enumerate() {
                        let moved = FusionConfig { model_needs_error_line_below: d.model_needs_error_line_below, ..*c };
                        if moved == d {
                            println!("  #{:<5} {acc:.4} {f1:.4} {unk:.4}  error line below {}", rank + 1, c.model_needs_error_line_below);
                        }
                    }
                    println!("\nmodel alone by model_alone threshold (macro-F1, accuracy):");
                    for (t, f1, acc) in &alone {
                        println!("  {t:.2}  {f1:.4} {acc:.4}");
                    }
                }
                println!();
            }
        }
        all_examples.extend(examples);
    }
    let loso = if args.loso { Some(run_loso(args, &all_examples, &signatures, &cfg)?) } else { None };
    match args.output {
        EvalOutput::Json => {
            let v = serde_json::json!({
                "signatures": signatures.len(),
                "fusion": format!("{cfg:?}"),
                "splits": json_splits,
                "leave_one_server_out": loso,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        EvalOutput::Text => {
            if let Some(rows) = &loso {
                println!(
                    "leave-one-server-out ({}), accuracy of the held-out model and of fused:",
                    args.split.join("+")
                );
                println!("{:18} {:>5} {:>8} {:>8} {:>12}", "family left out", "n", "model", "fused", "train wins");
                let (mut n, mut m, mut f) = (0usize, 0f64, 0f64);
                for r in rows {
                    println!(
                        "{:18} {:>5} {:>8.3} {:>8.3} {:>12}",
                        r.family,
                        r.n,
                        r.model.accuracy(),
                        r.fused.accuracy(),
                        r.train_windows
                    );
                    n += r.n;
                    m += r.model.accuracy() * r.n as f64;
                    f += r.fused.accuracy() * r.n as f64;
                }
                if n > 0 {
                    println!("{:18} {:>5} {:>8.3} {:>8.3}", "all (pooled)", n, m / n as f64, f / n as f64);
                }
            }
        }
    }
    Ok(())
}

fn run_loso(
    args: &EvalArgs,
    test: &[data::Example],
    signatures: &SignatureSet,
    cfg: &FusionConfig,
) -> anyhow::Result<Vec<super::loso::LosoRow>> {
    anyhow::ensure!(args.data.is_dir(), "--loso needs a data directory holding train.jsonl and dev.jsonl");
    let real = data::read_jsonl(&args.data.join("train.jsonl"))?;
    let dev = data::read_jsonl(&args.data.join("dev.jsonl"))?;
    let extra = read_extra(&args.extra, false)?;
    let train_cfg = super::train::TrainConfig::default();
    let sig_examples = super::augment::signature_examples(signatures, 0.7);
    Ok(super::loso::leave_one_family_out(
        &real,
        &dev,
        &sig_examples,
        &extra,
        args.augment,
        test,
        &train_cfg,
        signatures,
        cfg,
        |l| eprintln!("  leave-one-server-out: {l}"),
    )?)
}

fn dump(
    path: &std::path::Path,
    examples: &[data::Example],
    probs: &[Cached],
    ans: &Answers,
    signatures: &SignatureSet,
    cfg: &FusionConfig,
) -> anyhow::Result<()> {
    let mut out =
        String::from("id\tsource\tserver\ttruth\tsignatures\tmodel\tmodel_p\tmodel_top\tfused\tsignature_ids\n");
    for (i, (e, p)) in examples.iter().zip(probs).enumerate() {
        let sig_d = crate::diagnosis::diagnose(&e.evidence(), signatures, None, cfg);
        let (top, tp) = p.probs.iter().enumerate().fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{:.3}\t{}\t{}\t{}\n",
            e.id,
            if e.source.is_empty() { &e.seed } else { &e.source },
            e.server,
            e.class,
            ans.signatures[i],
            ans.model[i],
            tp,
            crate::class::FailureClass::ALL[top],
            ans.fused[i],
            sig_d.signatures.join(",")
        ));
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::parse_share;

    #[test]
    fn unknown_share_must_be_a_share() {
        assert_eq!(parse_share("0.2"), Ok(0.2));
        assert_eq!(parse_share("0"), Ok(0.0));
        assert_eq!(parse_share("1"), Ok(1.0));
        for bad in ["1.5", "-0.1", "NaN", "twenty", ""] {
            let e = parse_share(bad).unwrap_err();
            assert!(e.contains("is not a share between 0 and 1"), "{bad}: {e}");
        }
    }
}
