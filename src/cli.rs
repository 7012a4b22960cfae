//! Command-line interface: argument parsing and the offline commands.
//! Each command is a thin wiring of library functions.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnosis::{FusionConfig, diagnose};
use crate::problem::{Problem, Problems, yaml_files};
use crate::signatures::SignatureSet;
use crate::triage;

/// podmedic: keeps self-hosted LLM serving alive. Diagnoses crash-looping
/// and OOMKilled pods, proposes targeted fixes, applies them only after a
/// human approves.
#[derive(Debug, Parser)]
#[command(name = "podmedic", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// Parsed once per process: the size of `Run`'s configuration does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose one crash offline from its log (and optionally its pod and events).
    Triage(TriageArgs),
    /// Validate signature and playbook files; prints `file:line:col: message`.
    Check(CheckArgs),
    /// Print the RecoveryProposal CustomResourceDefinition as YAML.
    Crd,
    /// Run the controller (in cluster, or against the current kubeconfig).
    Run(crate::controller::ControllerConfig),
    /// Train the classifier from labelled log windows (deterministic on CPU).
    Train(crate::classifier::cli::TrainArgs),
    /// Per-class precision/recall/F1 and confusion matrices: signatures, model, fused.
    Eval(crate::classifier::cli::EvalArgs),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Readable text (colour on a terminal).
    Text,
    /// One JSON object (the triage contract).
    Json,
}

/// Which diagnosis engine to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// The signature library only.
    Signatures,
    /// The learned classifier only.
    Model,
    /// Signatures fused with the classifier.
    Fused,
}

/// Arguments of `podmedic triage`.
#[derive(Debug, clap::Args)]
pub struct TriageArgs {
    /// Log of the crashed container (`kubectl logs --previous`); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub log: String,
    /// The pod as JSON or YAML (`kubectl get pod NAME -o json`): exit code, OOMKilled, restarts, limits.
    #[arg(long, value_name = "POD.json")]
    pub pod: Option<PathBuf>,
    /// Events as JSON (`kubectl get events -o json`): probe kills.
    #[arg(long, value_name = "EVENTS.json")]
    pub events: Option<PathBuf>,
    /// The owning Deployment/StatefulSet manifest; the plan then includes the concrete patch.
    #[arg(long, value_name = "DEPLOY.yaml")]
    pub workload: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Diagnosis engine.
    #[arg(long, value_enum, default_value_t = Engine::Fused)]
    pub engine: Engine,
    /// Classifier weights (safetensors) instead of the built-in model.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Where the classifier runs.
    #[arg(long, value_enum, default_value_t = crate::classifier::DeviceChoice::Cpu)]
    pub device: crate::classifier::DeviceChoice,
    /// How many trailing log lines to examine.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tail: u32,
    /// Load signatures from this directory instead of the built-in library.
    #[arg(long, value_name = "DIR", env = "PODMEDIC_PATTERNS")]
    pub patterns: Option<PathBuf>,
    /// Load playbooks from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR", env = "PODMEDIC_PLAYBOOKS")]
    pub playbooks: Option<PathBuf>,
}

/// Arguments of `podmedic check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Files or directories; by default `patterns/` and `playbooks/`.
    pub paths: Vec<PathBuf>,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Triage(args) => run_triage(&args),
        Command::Check(args) => Ok(run_check(&args)),
        Command::Run(config) => run_controller(config),
        Command::Train(a) => crate::classifier::cli::run_train(&a).map(|()| ExitCode::SUCCESS),
        Command::Eval(a) => crate::classifier::cli::run_eval(&a).map(|()| ExitCode::SUCCESS),
        Command::Crd => {
            use kube::CustomResourceExt as _;
            print!("{}", crate::yaml::to_string(&crate::crd::RecoveryProposal::crd())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load_signatures(dir: Option<&PathBuf>) -> anyhow::Result<SignatureSet> {
    let set = match dir {
        Some(d) => SignatureSet::load(&[d]),
        None => SignatureSet::embedded(),
    };
    set.map_err(|problems| anyhow::anyhow!("the signature library is invalid:\n{problems}"))
}

/// The classifier: weights from `path`, or the ones built into the binary.
pub fn load_model(
    path: Option<&std::path::Path>,
    device: crate::classifier::DeviceChoice,
) -> anyhow::Result<crate::classifier::ModelClassifier> {
    let model = match path {
        Some(p) => crate::classifier::ModelClassifier::load(p, device),
        None => crate::classifier::load_default(device),
    };
    model.context("loading the classifier")
}

fn load_playbooks(dir: Option<&PathBuf>) -> anyhow::Result<crate::playbook::PlaybookSet> {
    let set = match dir {
        Some(d) => crate::playbook::PlaybookSet::load(&[d]),
        None => crate::playbook::PlaybookSet::embedded(),
    };
    set.map_err(|problems| anyhow::anyhow!("the playbooks are invalid:\n{problems}"))
}

fn run_triage(args: &TriageArgs) -> anyhow::Result<ExitCode> {
    let signatures = match args.engine {
        Engine::Model => SignatureSet::empty(),
        Engine::Signatures | Engine::Fused => load_signatures(args.patterns.as_ref())?,
    };
    let model = match args.engine {
        Engine::Signatures => None,
        Engine::Model | Engine::Fused => Some(load_model(args.model.as_deref(), args.device)?),
    };
    let log = triage::read_log(&args.log, args.tail as usize)?;
    let pod = args.pod.as_deref().map(triage::read_pod).transpose()?;
    let events = args.events.as_deref().map(triage::read_events).transpose()?.unwrap_or_default();
    let ev = triage::evidence(log, pod.as_ref(), &events);
    let classifier = model.as_ref().map(|m| m as &dyn crate::diagnosis::Classifier);
    let diagnosis = diagnose(&ev, &signatures, classifier, &FusionConfig::default());
    let playbooks = load_playbooks(args.playbooks.as_ref())?;
    let workload = args.workload.as_deref().map(crate::actions::workload::Workload::load).transpose()?;
    let mut ctx = crate::playbook::PlanContext::from_evidence(&ev, chrono::Utc::now());
    ctx.pod_name = pod.as_ref().and_then(|p| p.metadata.name.clone());
    let plan = playbooks.plan(&diagnosis, workload.as_ref(), &ctx);
    let report = triage::Report::new(diagnosis, &ev, plan);
    match args.output {
        Output::Json => println!("{}", serde_json::to_string(&report).context("serialising the report")?),
        Output::Text => print!("{}", report.to_text(std::io::stdout().is_terminal())),
    }
    Ok(ExitCode::SUCCESS)
}

fn run_check(args: &CheckArgs) -> ExitCode {
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        ["patterns", "playbooks"].into_iter().map(PathBuf::from).filter(|p| p.exists()).collect()
    } else {
        args.paths.clone()
    };
    let mut problems = Vec::new();
    let (mut signature_files, mut playbook_files) = (Vec::new(), Vec::new());
    for path in &paths {
        match yaml_files(path) {
            Ok(files) => {
                for f in files {
                    // A playbook file says so at its top level; anything else is a signature file.
                    let text = std::fs::read_to_string(&f).unwrap_or_default();
                    if text.lines().any(|l| l.starts_with("playbooks:")) {
                        playbook_files.push(f);
                    } else {
                        signature_files.push(f);
                    }
                }
            }
            Err(e) => problems.push(Problem::whole_file(path, format!("cannot read: {e}"))),
        }
    }
    if signature_files.is_empty() && playbook_files.is_empty() && problems.is_empty() {
        let first = paths.first().map_or(Path::new("."), |p| p.as_path());
        problems.push(Problem::whole_file(first, "no .yaml files found"));
    }
    let (mut signatures, mut playbooks) = (0, 0);
    if !signature_files.is_empty() {
        match SignatureSet::load(&signature_files) {
            Ok(set) => signatures = set.len(),
            Err(Problems(ps)) => problems.extend(ps),
        }
    }
    if !playbook_files.is_empty() {
        match crate::playbook::check(&playbook_files) {
            Ok(set) => playbooks = set.playbooks().len(),
            Err(Problems(ps)) => problems.extend(ps),
        }
    }
    if problems.is_empty() {
        println!(
            "ok: {signatures} signatures in {} files, {playbooks} playbooks in {} files",
            signature_files.len(),
            playbook_files.len()
        );
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            eprintln!("{p}");
        }
        eprintln!("{} problem(s)", problems.len());
        ExitCode::FAILURE
    }
}

fn run_controller(config: crate::controller::ControllerConfig) -> anyhow::Result<ExitCode> {
    init_tracing(&config.log_format);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async move {
        // The controller keeps only the regexes that ever match compiled: the
        // embedded library (checked in full by `podmedic check` and the tests
        // of the build) loads lazily; a --patterns directory is checked in
        // full, then its compiled regexes are dropped.
        let signatures = match config.patterns.as_ref() {
            None => SignatureSet::embedded_lazy()
                .map_err(|problems| anyhow::anyhow!("the signature library is invalid:\n{problems}"))?,
            Some(dir) => {
                let mut set = load_signatures(Some(dir))?;
                set.release_compiled();
                set
            }
        };
        let client = kube::Client::try_default().await.context("connecting to the Kubernetes API server")?;
        // Fail early and clearly when the CRD or the RBAC is missing, in the scope watched.
        let proposals: kube::Api<crate::crd::RecoveryProposal> = match config.namespaces.iter().find(|n| !n.is_empty())
        {
            Some(ns) => kube::Api::namespaced(client.clone(), ns),
            None => kube::Api::all(client.clone()),
        };
        if let Err(e) = proposals.list(&kube::api::ListParams::default().limit(1)).await {
            let hint = match &e {
                kube::Error::Api(s) if s.code == 404 => {
                    "; install it with `kubectl apply -f deploy/crd/recoveryproposals.yaml`"
                }
                kube::Error::Api(s) if s.code == 403 => "; check podmedic's RBAC (deploy/manifests)",
                _ => "",
            };
            anyhow::bail!("cannot list RecoveryProposals: {}{hint}", crate::util::error_chain(&e));
        }
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = crate::metrics::Metrics::new(&mut registry);
        let state = crate::server::State::new(registry);
        let playbooks = load_playbooks(config.playbooks.as_ref())?;
        let listen = config.listen;
        let mut settings = config.chatops.settings().context("invalid ChatOps configuration")?;
        settings.inbound.dry_run = config.dry_run;
        let chatops =
            crate::chatops::ChatOps::start(settings, client.clone(), metrics.clone()).context("starting ChatOps")?;
        let classifier: Option<std::sync::Arc<dyn crate::diagnosis::Classifier>> = match config.engine.as_str() {
            "fused" => Some(std::sync::Arc::new(load_model(config.model.as_deref(), config.device)?)),
            _ => None,
        };
        let mut ctx = crate::controller::Context::new(client, config, signatures, classifier, playbooks, metrics);
        ctx.notifier = chatops.notifier.clone();
        let ctx = std::sync::Arc::new(ctx);
        let app = crate::server::router(state.clone(), chatops.router());
        let server = tokio::spawn(crate::server::serve(listen, app));
        let ready = state.clone();
        let controller = crate::controller::run_with_leader_election(ctx, move || ready.set_ready(true));
        tokio::select! {
            r = controller => r?,
            r = server => r.context("the HTTP server stopped")?.context("the HTTP server failed")?,
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,kube=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
