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
    /// The node it ran on (`kubectl get node NAME -o json`): GPU product and memory labels, allocatable resources.
    #[arg(long, value_name = "NODE.json")]
    pub node: Option<PathBuf>,
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
    /// Read the crashed pod's serving metrics (queue, running, KV cache,
    /// throughput, GPU memory) from this Prometheus; needs `--pod`, whose
    /// namespace, name and container select the series.
    #[arg(long, value_name = "URL", requires = "pod")]
    pub prometheus_url: Option<String>,
    /// The serving metrics from a file instead: a Prometheus query answer
    /// (JSON) holding the pod's raw series, e.g.
    /// `curl -G .../api/v1/query --data-urlencode 'query={namespace="ns",pod="p"}[10m]'`.
    #[arg(long, value_name = "FILE", conflicts_with = "prometheus_url")]
    pub metrics: Option<PathBuf>,
    /// How much time before the crash the metrics cover.
    #[arg(long, default_value = "10m", value_parser = crate::controller::config::parse_duration)]
    pub metrics_window: std::time::Duration,
    /// Time limit of the Prometheus query.
    #[arg(long, default_value = "5s", value_parser = crate::controller::config::parse_duration_ms)]
    pub prometheus_timeout: std::time::Duration,
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
    let (log, head) = triage::read_log_and_head(&args.log, args.tail as usize)?;
    let pod = args.pod.as_deref().map(triage::read_pod).transpose()?;
    let events = args.events.as_deref().map(triage::read_events).transpose()?.unwrap_or_default();
    let node = args.node.as_deref().map(triage::read_node).transpose()?;
    let mut ev = triage::evidence(log, pod.as_ref(), &events);
    ev.metrics = triage_metrics(args, pod.as_ref(), ev.container.as_ref().map(|c| c.name.as_str()))?;
    let classifier = model.as_ref().map(|m| m as &dyn crate::diagnosis::Classifier);
    let diagnosis = diagnose(&ev, &signatures, classifier, &FusionConfig::default());
    let playbooks = load_playbooks(args.playbooks.as_ref())?;
    let workload = args.workload.as_deref().map(crate::actions::workload::Workload::load).transpose()?;
    let mut ctx = crate::playbook::PlanContext::from_evidence(&ev, chrono::Utc::now());
    ctx.pod_name = pod.as_ref().and_then(|p| p.metadata.name.clone());
    if let Some(n) = &node {
        (ctx.node_labels, ctx.node_allocatable) = triage::node_facts(n);
    }
    let engine = identify_engine(&head, ev.container.as_ref(), workload.as_ref());
    ctx.engine = Some(engine.clone());
    let plan = playbooks.plan(&diagnosis, workload.as_ref(), &ctx);
    // The plan may know the version better (its target container's image).
    let engine = match &plan {
        Some(p) if p.target.server.as_deref() == Some(engine.name.as_str()) || engine.name == "other" => {
            let mut e = engine;
            if let Some(server) = &p.target.server {
                e.name = server.clone();
            }
            if e.version.is_none()
                && let Some(v) = p.target.server_version.as_deref().and_then(crate::engine::Version::parse)
            {
                e.version = Some(v);
                e.version_source = Some(crate::engine::VersionSource::Image);
            }
            e
        }
        _ => engine,
    };
    let report = triage::Report::new(diagnosis, &ev, plan, engine);
    match args.output {
        Output::Json => println!("{}", serde_json::to_string(&report).context("serialising the report")?),
        Output::Text => print!("{}", report.to_text(std::io::stdout().is_terminal())),
    }
    Ok(ExitCode::SUCCESS)
}

/// The engine from the log head and the crashed container (the pod's, else
/// the workload's serving container).
fn identify_engine(
    head: &[u8],
    facts: Option<&crate::evidence::ContainerFacts>,
    workload: Option<&crate::actions::workload::Workload>,
) -> crate::engine::EngineInfo {
    let log = crate::engine::read_head(head);
    let containers = workload.map(|w| w.containers()).unwrap_or_default();
    let container = facts
        .and_then(|f| containers.iter().find(|c| c.get("name").and_then(|n| n.as_str()) == Some(f.name.as_str())))
        .or_else(|| {
            containers.iter().find(|c| {
                let image = c.get("image").and_then(|i| i.as_str()).unwrap_or_default();
                crate::playbook::plan::detect_server(image, &crate::playbook::plan::command_line(c)) != "other"
            })
        })
        .or_else(|| containers.first());
    let image = facts
        .and_then(|f| f.image.clone())
        .or_else(|| container.and_then(|c| c.get("image").and_then(|i| i.as_str()).map(str::to_owned)));
    let cmd = container.map(crate::playbook::plan::command_line).unwrap_or_default();
    crate::engine::EngineInfo::identify(&log, image.as_deref(), &cmd)
}

/// The metrics for `podmedic triage`: from `--metrics FILE`, or asked of
/// `--prometheus-url` for the pod's crashed container (a Prometheus that
/// does not answer is stated in the diagnosis, never an error).
fn triage_metrics(
    args: &TriageArgs,
    pod: Option<&k8s_openapi::api::core::v1::Pod>,
    container: Option<&str>,
) -> anyhow::Result<crate::signals::Reading> {
    use crate::signals::{self, Reading, Target};
    let window = args.metrics_window.as_secs().max(1);
    let target = pod.and_then(|p| Target::of_pod(p, container));
    let end = pod.zip(container).and_then(|(p, c)| signals::crash_end(p, c));
    if let Some(file) = &args.metrics {
        return Ok(triage::read_metrics_file(file, target.as_ref(), end, window)?);
    }
    let Some(url) = &args.prometheus_url else { return Ok(Reading::NotRequested) };
    let target = target.context("--prometheus-url needs a --pod with a name to know which series to read")?;
    let prom = signals::Prometheus::new(&signals::Settings {
        url: url.clone(),
        timeout: args.prometheus_timeout,
        max_bytes: 16 << 20,
    })
    .map_err(|e| anyhow::anyhow!("--prometheus-url {url:?}: {e}"))?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let ends: Vec<f64> = end.into_iter().chain([signals::now()]).collect();
    Ok(runtime.block_on(signals::read_window(&prom, &target, &ends, window)))
}

fn run_check(args: &CheckArgs) -> ExitCode {
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        ["patterns", "playbooks", "engines"].into_iter().map(PathBuf::from).filter(|p| p.exists()).collect()
    } else {
        args.paths.clone()
    };
    let mut problems = Vec::new();
    let (mut signature_files, mut playbook_files, mut engine_files) = (Vec::new(), Vec::new(), Vec::new());
    for path in &paths {
        match yaml_files(path) {
            Ok(files) => {
                for f in files {
                    // A playbook file says so at its top level; anything else is a signature file.
                    let text = std::fs::read_to_string(&f).unwrap_or_default();
                    if text.lines().any(|l| l.starts_with("playbooks:")) {
                        playbook_files.push(f);
                    } else if text.lines().any(|l| l.starts_with("engine:")) {
                        engine_files.push(f);
                    } else {
                        signature_files.push(f);
                    }
                }
            }
            Err(e) => problems.push(Problem::whole_file(path, format!("cannot read: {e}"))),
        }
    }
    if signature_files.is_empty() && playbook_files.is_empty() && engine_files.is_empty() && problems.is_empty() {
        let first = paths.first().map_or(Path::new("."), |p| p.as_path());
        problems.push(Problem::whole_file(first, "no .yaml files found"));
    }
    let (mut signatures, mut playbooks, mut engines, mut flags) = (0, 0, 0, 0);
    // Playbooks are checked against the engine files given, else the embedded table.
    let table = if engine_files.is_empty() {
        crate::engine::EngineTable::embedded()
    } else {
        crate::engine::EngineTable::load(&engine_files).map(std::sync::Arc::new)
    };
    let table = match table {
        Ok(t) => {
            if !engine_files.is_empty() {
                engines = t.engines().len();
                flags = t.engines().iter().map(|e| e.flags.len()).sum::<usize>();
            }
            Some(t)
        }
        Err(Problems(ps)) => {
            problems.extend(ps);
            None
        }
    };
    if !signature_files.is_empty() {
        match SignatureSet::load(&signature_files) {
            Ok(set) => signatures = set.len(),
            Err(Problems(ps)) => problems.extend(ps),
        }
    }
    if !playbook_files.is_empty()
        && let Some(table) = table
    {
        match crate::playbook::PlaybookSet::load_with(&playbook_files, table) {
            Ok(set) => playbooks = set.playbooks().len(),
            Err(Problems(ps)) => problems.extend(ps),
        }
    }
    if problems.is_empty() {
        println!(
            "ok: {signatures} signatures in {} files, {playbooks} playbooks in {} files, {flags} engine flags of {engines} engines in {} files",
            signature_files.len(),
            playbook_files.len(),
            engine_files.len()
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
    if let Some(url) = &config.metrics.prometheus_url {
        crate::signals::Prometheus::new(&crate::signals::Settings {
            url: url.clone(),
            timeout: config.metrics.prometheus_timeout,
            max_bytes: crate::controller::METRICS_MAX_BYTES,
        })
        .map_err(|e| anyhow::anyhow!("--prometheus-url {url:?}: {e}"))?;
    }
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
