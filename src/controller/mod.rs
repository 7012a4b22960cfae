//! The in-cluster controller: watch → evidence → diagnose → propose →
//! approve → execute → verify.
//!
//! Two loops run while this replica holds the leader Lease:
//!
//! - the **crash pipeline** ([`watch`], [`gather`], [`propose`]): a pod
//!   watcher (managedFields stripped, no cache of pods kept) spots
//!   CrashLoopBackOff and OOMKilled containers, gathers the evidence through
//!   the API server, diagnoses it, renders the playbook and creates or
//!   updates a `RecoveryProposal`;
//! - the **proposal reconciler** ([`execute`]): decisions, expiry and the
//!   execution state machine, kept entirely in each proposal's status.
//!
//! Losing the Lease cancels both loops at their next await point; since all
//! progress lives in proposal statuses, the next leader resumes where this
//! one stopped (see [`execute`] for the guarantees).
//!
//! No pod can take the process down: each crash is handled inside
//! [`guard::catch`], so a panic while handling one pod is that pod's error
//! (logged, counted as `podmedic_reconcile_errors_total{code="panic"}`);
//! the proposal reconciler is restarted after a panic (see [`guard`]).
//!
//! On SIGTERM or SIGINT ([`crate::shutdown`]) both loops stop taking new
//! work, finish what is in flight (no reconcile is cut short), and the
//! Lease is released before [`run_with_leader_election`] returns.

pub mod config;
pub mod execute;
pub mod gather;
pub mod guard;
pub mod machine;
pub mod propose;
pub mod stall;
pub mod watch;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use tracing::{debug, info, instrument, warn};

use crate::crd::RecoveryProposal;
use crate::diagnosis::{Classifier, FusionConfig, diagnose};
use crate::metrics::{DiagnosisLabels, KindLabel, LlmLabels, Metrics};
use crate::playbook::{PlaybookSet, Policy};
use crate::signatures::SignatureSet;
pub use config::ControllerConfig;
use watch::{Crash, Seen};

/// Crashes handled at the same time.
const CRASH_CONCURRENCY: usize = 16;
/// Largest Prometheus answer read (one pod's raw samples over the window,
/// or the list of stall candidates).
pub const METRICS_MAX_BYTES: usize = 4 << 20;

/// What every loop of the controller shares.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Flags.
    pub config: ControllerConfig,
    /// The signature library.
    pub signatures: SignatureSet,
    /// The classifier, when enabled.
    pub classifier: Option<Arc<dyn Classifier>>,
    /// The playbooks.
    pub playbooks: PlaybookSet,
    /// The operator's policy for rendering plans.
    pub policy: Policy,
    /// Kubernetes Events.
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Metrics,
    /// Crashes already handled.
    pub seen: Mutex<Seen>,
    /// Execution limits shared by all proposals.
    pub limits: execute::Limits,
    /// Announces proposals and their phase changes in chat (never blocks).
    pub notifier: crate::chatops::Notifier,
    /// Prometheus, when `--prometheus-url` is set: crash metrics and stalls.
    pub prometheus: Option<Arc<crate::signals::Prometheus>>,
    /// Stalls already proposed, so one stall is proposed once per window.
    pub stalls: Mutex<stall::Proposed>,
    /// The operator's model, asked for a second opinion when podmedic
    /// abstains (`--llm-url`); `None` when off.
    pub llm: Option<Arc<crate::llm::Llm>>,
    /// Set on SIGTERM/SIGINT: the loops take no new work and return once
    /// the work in flight is done (never set by default).
    pub shutdown: crate::shutdown::Shutdown,
}

impl Context {
    /// A context with podmedic's reporter name.
    pub fn new(
        client: Client,
        config: ControllerConfig,
        signatures: SignatureSet,
        classifier: Option<Arc<dyn Classifier>>,
        playbooks: PlaybookSet,
        metrics: Metrics,
    ) -> Self {
        let reporter = Reporter { controller: "podmedic".into(), instance: config.identity.clone() };
        let limits = execute::Limits::new(&config);
        // `podmedic run` checks the URL before it gets here (a bad one stops it).
        let prometheus = config.metrics.prometheus_url.as_ref().and_then(|url| {
            crate::signals::Prometheus::new(&crate::signals::Settings {
                url: url.clone(),
                timeout: config.metrics.prometheus_timeout,
                max_bytes: METRICS_MAX_BYTES,
            })
            .ok()
            .map(Arc::new)
        });
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            config,
            signatures,
            classifier,
            playbooks,
            policy: Policy::default(),
            metrics,
            seen: Mutex::new(Seen::default()),
            limits,
            notifier: crate::chatops::Notifier::disabled(),
            prometheus,
            stalls: Mutex::new(stall::Proposed::default()),
            llm: None,
            shutdown: crate::shutdown::Shutdown::never(),
        }
    }
}

/// Runs both loops until shutdown is requested and the work in flight is
/// done ([`Context::shutdown`]), or until the future is dropped.
pub async fn run_loops(ctx: Arc<Context>, on_ready: impl Fn() + Send + Sync + 'static) {
    let proposals = proposal_loop(ctx.clone());
    let crashes = crash_pipeline(ctx.clone(), on_ready);
    let stalls = stall::run(ctx.clone());
    tokio::join!(proposals, crashes, stalls);
}

/// The proposal reconciler, restarted after a panic (counted and logged)
/// with a growing pause, so that no proposal can crash the process.
async fn proposal_loop(ctx: Arc<Context>) {
    let mut pause = Duration::from_secs(1);
    loop {
        match guard::catch(execute::run(ctx.clone())).await {
            Ok(()) => return,
            Err(message) => {
                tracing::error!(panic = %message, "the proposal reconciler panicked; restarting it in {pause:?}");
                count_panic(&ctx);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(60));
            }
        }
    }
}

fn count_panic(ctx: &Context) {
    ctx.metrics.reconcile_errors.get_or_create(&crate::metrics::CodeLabel { code: guard::PANIC_CODE }).inc();
}

/// The API handles for `K` in the watched scope: one per listed namespace,
/// or one cluster-wide handle when none is listed.
pub fn scoped_apis<K>(ctx: &Context) -> Vec<Api<K>>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    let namespaces: Vec<&String> = ctx.config.namespaces.iter().filter(|n| !n.is_empty()).collect();
    if namespaces.is_empty() {
        vec![Api::all(ctx.client.clone())]
    } else {
        namespaces.into_iter().map(|n| Api::namespaced(ctx.client.clone(), n)).collect()
    }
}

/// Watches pods and handles each new crash.
async fn crash_pipeline(ctx: Arc<Context>, on_ready: impl Fn() + Send + Sync + 'static) {
    // Pods come one by one from a streaming list; a paged LIST holds whole
    // pages of full pods, and the allocator keeps that memory.
    let mut wc = if streaming_lists(&ctx).await {
        watcher::Config::default().streaming_lists()
    } else {
        watcher::Config::default().page_size(100)
    };
    if let Some(sel) = &ctx.config.selector {
        wc = wc.labels(sel);
    }
    let streams = scoped_apis::<Pod>(&ctx).into_iter().map(|api| {
        watcher(api, wc.clone())
            .default_backoff()
            .modify(|pod: &mut Pod| {
                // Keep only what crash detection reads.
                pod.managed_fields_mut().clear();
                pod.annotations_mut().clear();
                if let Some(spec) = pod.spec.as_mut() {
                    spec.volumes = None;
                    for c in &mut spec.containers {
                        c.env = None;
                        c.args = None;
                        c.command = None;
                    }
                }
            })
            .boxed()
    });
    // On shutdown the stream ends: no new crash is taken, and
    // `for_each_concurrent` below returns once the ones in flight are done.
    let events = futures::stream::select_all(streams).take_until(ctx.shutdown.clone().requested());
    let on_ready = Arc::new(on_ready);
    let crashes = events.filter_map(|ev| {
        let ctx = ctx.clone();
        let on_ready = on_ready.clone();
        async move {
            match ev {
                Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => {
                    let crash = match guard::catch_sync(|| watch::crash_of(&pod, ctx.config.restart_threshold)) {
                        Ok(crash) => crash?,
                        Err(message) => {
                            warn!(namespace = %pod.namespace().unwrap_or_default(), pod = %pod.name_any(), panic = %message, "reading a pod's status panicked");
                            count_panic(&ctx);
                            return None;
                        }
                    };
                    ctx.seen.lock().unwrap_or_else(|e| e.into_inner()).first_time(&crash).then_some(crash)
                }
                Ok(watcher::Event::Delete(pod)) => {
                    ctx.seen
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .forget_pod(&pod.namespace().unwrap_or_default(), &pod.name_any());
                    None
                }
                Ok(watcher::Event::InitDone) => {
                    on_ready();
                    None
                }
                Ok(watcher::Event::Init) => None,
                Err(e) => {
                    warn!(error = %e, "pod watch failed; retrying");
                    ctx.metrics.reconcile_errors.get_or_create(&crate::metrics::CodeLabel { code: "watch" }).inc();
                    None
                }
            }
        }
    });
    crashes
        .for_each_concurrent(CRASH_CONCURRENCY, |crash| {
            let ctx = ctx.clone();
            async move {
                // One pod's failure, panic included, is that pod's error.
                match guard::catch(handle_crash(&ctx, &crash)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        warn!(namespace = %crash.namespace, pod = %crash.pod, error = %crate::util::error_chain(&e), "could not handle crash");
                        ctx.metrics.reconcile_errors.get_or_create(&crate::metrics::CodeLabel { code: e.code() }).inc();
                    }
                    Err(message) => {
                        tracing::error!(namespace = %crash.namespace, pod = %crash.pod, panic = %message, "handling a crash panicked; the pod is skipped");
                        count_panic(&ctx);
                    }
                }
            }
        })
        .await;
}

/// Whether the pod watcher should use streaming lists (`--initial-list`).
async fn streaming_lists(ctx: &Context) -> bool {
    match ctx.config.initial_list.as_str() {
        "streaming" => true,
        "paged" => false,
        _ => match ctx.client.apiserver_version().await {
            Ok(v) => {
                let streaming = config::streams_lists_by_default(&v.major, &v.minor);
                info!(version = %v.git_version, streaming, "initial list of pods");
                streaming
            }
            Err(e) => {
                warn!(error = %e, "cannot read the API server's version; listing pods in pages");
                false
            }
        },
    }
}

/// Errors handling one crash.
#[derive(Debug, thiserror::Error)]
pub enum CrashError {
    /// Evidence could not be gathered.
    #[error("gathering evidence failed")]
    Gather(#[from] gather::GatherError),
    /// The proposal could not be written.
    #[error("writing the proposal failed")]
    Propose(#[source] kube::Error),
}

impl CrashError {
    /// Bounded code for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            CrashError::Gather(g) => g.code(),
            CrashError::Propose(_) => "propose",
        }
    }
}

/// Gathers, diagnoses, plans and proposes for one crash.
#[instrument(skip(ctx, crash), fields(namespace = %crash.namespace, pod = %crash.pod, container = %crash.container))]
pub async fn handle_crash(ctx: &Context, crash: &Crash) -> Result<propose::Outcome, CrashError> {
    ctx.metrics.pod_events.get_or_create(&KindLabel { kind: crash.kind.as_str() }).inc();
    guard::failpoint("panic-handling-pod", &crash.pod);
    let api: Api<RecoveryProposal> = Api::namespaced(ctx.client.clone(), &crash.namespace);
    // The metrics need only the crash's labels and time: read them while
    // the evidence is gathered, so a responsive Prometheus adds no latency.
    let (gathered, reading) =
        tokio::join!(gather::gather(&ctx.client, crash, ctx.config.log_tail), crash_metrics(ctx, crash));
    let mut gathered = gathered?;
    gathered.evidence.metrics = reading;
    // The workload's proposals, read once: earlier attempts for the plan's
    // limits, and the open one a repeat crash updates.
    let existing = propose::for_workload(&api, &gathered.owner.name);
    let fusion = FusionConfig::default();
    let mut diagnosis = diagnose(&gathered.evidence, &ctx.signatures, ctx.classifier.as_deref(), &fusion);
    if diagnosis.class == crate::class::FailureClass::Unknown
        && !gathered.events_read
        && gather::has_probe(&gathered.pod, &crash.container)
    {
        // The log decides nothing: a probe kill is the one cause left that
        // only the Events show.
        gathered.evidence.events = gather::pod_events(&ctx.client, &crash.namespace, &crash.pod).await?;
        gathered.events_read = true;
        diagnosis = diagnose(&gathered.evidence, &ctx.signatures, ctx.classifier.as_deref(), &fusion);
    }
    if gathered.evidence.probe_kill().is_some() {
        ctx.metrics.pod_events.get_or_create(&KindLabel { kind: "probe_kill" }).inc();
    }
    let opinion = match &ctx.llm {
        Some(llm) => {
            let key = format!("{}/{}/{}", crash.namespace, gathered.owner.uid, crash.container);
            llm.consult_for(&key, &gathered.evidence, &diagnosis).await
        }
        None => None,
    };
    if let Some(op) = &opinion {
        // A reused answer (the same workload's crash loop) was not a request.
        if op.reused {
            debug!(outcome = op.outcome.as_str(), "second opinion reused");
        } else {
            ctx.metrics
                .llm_requests
                .get_or_create(&LlmLabels { outcome: op.outcome.as_str(), trigger: op.trigger.as_str() })
                .inc();
            ctx.metrics.llm_request_seconds.observe(op.latency_ms as f64 / 1000.0);
            info!(outcome = op.outcome.as_str(), model = %op.model, latency_ms = op.latency_ms, reason = op.reason.as_deref().unwrap_or(""), "second opinion");
        }
        crate::llm::adopt(&mut diagnosis, op);
    }
    ctx.metrics
        .diagnoses
        .get_or_create(&DiagnosisLabels { class: diagnosis.class.as_str(), source: diagnosis.source.as_str() })
        .inc();
    let (plan_input, existing) = tokio::join!(plan_input(ctx, &diagnosis, &gathered, &crash.namespace), existing);
    let existing = existing.map_err(CrashError::Propose)?;
    let plan = plan_for(ctx, &diagnosis, &gathered, plan_input?, &existing);
    attach_metrics(&mut diagnosis, &gathered.evidence.metrics);
    let node = gathered.pod.spec.as_ref().and_then(|s| s.node_name.clone());
    let spec = propose::build_spec(
        &gathered.owner,
        crash,
        gathered.pod.uid(),
        node,
        &diagnosis,
        opinion.as_ref(),
        plan,
        &ctx.config,
        Timestamp::now(),
    );
    let pod_ref = gathered.pod.object_ref(&());
    let outcome = propose::propose(&api, &ctx.recorder, spec, &pod_ref, ctx.config.cooldown, &existing)
        .await
        .map_err(CrashError::Propose)?;
    if let propose::Outcome::Created(created) = &outcome {
        let secs = crash.observed_at.elapsed().as_secs_f64();
        ctx.metrics.event_to_proposal.observe(secs);
        info!(proposal = %created.name_any(), class = %diagnosis.class, latency_s = secs, "proposed");
        ctx.notifier.notify(created);
    }
    Ok(outcome)
}

/// The crashed container's serving metrics over `--metrics-window` before
/// its run ended (before now when the kubelet did not say when).
async fn crash_metrics(ctx: &Context, crash: &Crash) -> crate::signals::Reading {
    let Some(prom) = ctx.prometheus.as_deref() else { return crate::signals::Reading::NotRequested };
    let target = crate::signals::Target {
        namespace: crash.namespace.clone(),
        pod: crash.pod.clone(),
        container: Some(crash.container.clone()),
    };
    // The window before the run ended; never "now" when the end is known:
    // a restarted container's series are not the crashed run's.
    let end = crash.finished_at.as_ref().map_or_else(crate::signals::now, |t| t.0.as_second() as f64);
    let reading = crate::signals::read_window(prom, &target, &[end], ctx.config.metrics.window.as_secs().max(1)).await;
    ctx.metrics.metrics_reads.get_or_create(&crate::metrics::ResultLabel { result: reading.code() }).inc();
    if let crate::signals::Reading::Unavailable(why) = &reading {
        warn!(namespace = %crash.namespace, pod = %crash.pod, reason = %why, "diagnosing without serving metrics");
    }
    reading
}

/// Records the metrics summary on the proposal: the capture `metrics` holds
/// the same JSON object as `podmedic triage`'s `metrics` key.
pub(crate) fn attach_metrics(diagnosis: &mut crate::diagnosis::Diagnosis, reading: &crate::signals::Reading) {
    if let Some(m) = reading.summary()
        && let Ok(json) = serde_json::to_string(m)
    {
        diagnosis.captures.insert(METRICS_CAPTURE.to_owned(), json);
    }
}

/// The capture of a diagnosis that carries its metrics summary (as JSON) to
/// the proposal, where it becomes `spec.diagnosis.metrics`.
pub const METRICS_CAPTURE: &str = "metrics";

/// What a plan reads beyond the evidence, fetched for the classes that use
/// it: the workload with its revisions (rollbacks), GPU nodes (driver
/// pinning).
pub(crate) struct PlanInput {
    pub(crate) object: serde_json::Value,
    pub(crate) candidate_nodes: Vec<crate::playbook::NodeInfo>,
    pub(crate) node_fault: crate::playbook::NodeFault,
}

async fn plan_input(
    ctx: &Context,
    diagnosis: &crate::diagnosis::Diagnosis,
    gathered: &gather::Gathered,
    ns: &str,
) -> Result<PlanInput, CrashError> {
    use crate::class::FailureClass;
    let object = match diagnosis.class {
        FailureClass::ConfigError | FailureClass::CudaDriverMismatch => {
            gather::workload_with_history(&ctx.client, ns, &gathered.owner).await?
        }
        _ => gathered.owner.object.clone(),
    };
    let candidate_nodes = if diagnosis.class == FailureClass::CudaDriverMismatch {
        gather::gpu_nodes(&ctx.client).await?
    } else {
        Vec::new()
    };
    let node_fault = if diagnosis.class == FailureClass::GpuHardwareFault {
        node_fault(ctx, gathered).await?
    } else {
        crate::playbook::NodeFault::default()
    };
    Ok(PlanInput { object, candidate_nodes, node_fault })
}

/// What corroborates a GPU fault on the crashed pod's node beyond its own
/// log: the node's own reports, other workloads' proposals for a GPU fault
/// on the same node within the last hour, and how many nodes podmedic has
/// cordoned now.
async fn node_fault(ctx: &Context, gathered: &gather::Gathered) -> Result<crate::playbook::NodeFault, CrashError> {
    use k8s_openapi::api::core::v1::Node;
    let mut f = crate::playbook::NodeFault {
        pod_holds_gpu: gathered.evidence.container.as_ref().is_some_and(crate::evidence::holds_gpu),
        max_cordoned: ctx.config.max_cordoned_nodes,
        ..Default::default()
    };
    let Some(node) = gathered.pod.spec.as_ref().and_then(|s| s.node_name.clone()) else { return Ok(f) };
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let read = |what| move |source| CrashError::Gather(gather::GatherError::Api { what, source });
    if let Some(n) = nodes.get_opt(&node).await.map_err(read("the node"))? {
        f.node_reports = crate::evidence::node_gpu_reports(&n);
    }
    f.cordoned_by_podmedic = nodes
        .list_metadata(&kube::api::ListParams::default())
        .await
        .map_err(read("nodes"))?
        .items
        .iter()
        .filter(|n| n.annotations().contains_key(crate::crd::CORDONED_BY_ANNOTATION))
        .count();
    let lp = kube::api::ListParams::default().labels(&format!(
        "{}={}",
        crate::crd::CLASS_LABEL,
        crate::class::FailureClass::GpuHardwareFault.as_str()
    ));
    let hour = k8s_openapi::jiff::SignedDuration::from_hours(1);
    let mut others = std::collections::BTreeSet::new();
    for api in scoped_apis::<RecoveryProposal>(ctx) {
        for p in api.list(&lp).await.map_err(read("proposals"))?.items {
            let recent = p
                .status
                .as_ref()
                .and_then(|s| s.last_seen.as_ref())
                .is_some_and(|t| Timestamp::now().duration_since(t.0) < hour);
            if crate::crd::is_stamped(&p)
                && recent
                && p.spec.node.as_deref() == Some(node.as_str())
                && p.spec.target.uid != gathered.owner.uid
            {
                others.insert(p.spec.target.uid.clone());
            }
        }
    }
    f.other_workloads = others.len();
    Ok(f)
}

/// Renders the playbook for a diagnosis; earlier executions on the workload
/// (in `existing`) count against the playbook's limits.
pub(crate) fn plan_for(
    ctx: &Context,
    diagnosis: &crate::diagnosis::Diagnosis,
    gathered: &gather::Gathered,
    input: PlanInput,
    existing: &[RecoveryProposal],
) -> Option<crate::playbook::Plan> {
    let workload = crate::actions::Workload::from_value(input.object).ok();
    let mut pc = crate::playbook::PlanContext::from_evidence(&gathered.evidence, chrono::Utc::now());
    pc.pod_name = Some(gathered.pod.name_any());
    pc.node_allocatable = gathered.node_allocatable.clone();
    pc.policy = ctx.policy.clone();
    pc.candidate_nodes = input.candidate_nodes;
    pc.node_fault = input.node_fault;
    let image = gathered.evidence.container.as_ref().and_then(|c| c.image.as_deref());
    pc.engine = Some(crate::engine::EngineInfo::identify(&gathered.engine_log, image, ""));
    for p in existing.iter().filter(|p| p.spec.target.uid == gathered.owner.uid) {
        let ran = p.status.as_ref().is_some_and(|s| {
            use crate::crd::Phase::*;
            matches!(s.phase, Executing | Verifying | Succeeded | Failed | RolledBack)
        });
        let at = p.status.as_ref().and_then(|s| s.decided_at.as_ref()).map(|t| t.0.as_second());
        let playbook = p.spec.plan.as_ref().map(|v| v.playbook.as_str());
        if let (true, Some(at), Some(playbook)) = (ran, at, playbook)
            && let Some(at) = chrono::DateTime::from_timestamp(at, 0)
        {
            pc.attempts.push(crate::playbook::Attempt { playbook: playbook.to_owned(), at });
        }
    }
    ctx.playbooks.plan(diagnosis, workload.as_ref(), &pc)
}

/// Waits for leadership (when enabled), runs the loops while it lasts, and
/// starts over when it is lost. Returns once shutdown is requested
/// ([`Context::shutdown`]), the work in flight is done and the Lease is
/// released (its holder cleared, so another replica takes over at once).
pub async fn run_with_leader_election(
    ctx: Arc<Context>,
    on_ready: impl Fn() + Clone + Send + Sync + 'static,
) -> anyhow::Result<()> {
    if !ctx.config.leader_election {
        ctx.metrics.leader.set(1);
        run_loops(ctx.clone(), on_ready).await;
        ctx.metrics.leader.set(0);
        return Ok(());
    }
    let identity = ctx.config.identity.clone().unwrap_or_else(|| format!("podmedic-{}", std::process::id()));
    let manager = kube_lease_manager::LeaseManagerBuilder::new(ctx.client.clone(), &ctx.config.lease_name)
        .with_namespace(&ctx.config.lease_namespace)
        .with_identity(&identity)
        .with_duration(15)
        .with_grace(5)
        .build()
        .await?;
    let (mut leader, task) = manager.watch().await;
    // A passive replica is healthy and ready: it serves metrics and waits.
    on_ready();
    let stop = ctx.shutdown.clone();
    'replica: while !stop.is_requested() {
        while !*leader.borrow_and_update() {
            ctx.metrics.leader.set(0);
            tokio::select! {
                changed = leader.changed() => changed?,
                () = stop.clone().requested() => break 'replica,
            }
        }
        info!(%identity, "acquired the leader lease");
        ctx.metrics.leader.set(1);
        let loops = run_loops(ctx.clone(), on_ready.clone());
        tokio::select! {
            // The loops end only on shutdown.
            () = loops => break 'replica,
            lost = async {
                while *leader.borrow_and_update() {
                    if leader.changed().await.is_err() { break; }
                }
            } => {
                let () = lost;
                warn!(%identity, "lost the leader lease; stopping work");
                ctx.metrics.leader.set(0);
            }
        }
    }
    // Closing the channel makes the manager's task release the Lease (if
    // this replica holds it) and end.
    drop(leader);
    ctx.metrics.leader.set(0);
    match tokio::time::timeout(LEASE_RELEASE_LIMIT, task).await {
        Ok(Ok(Ok(_))) => info!(%identity, "released the leader lease"),
        Ok(Ok(Err(e))) => warn!(%identity, error = %e, "could not release the leader lease; it will expire"),
        Ok(Err(e)) => warn!(%identity, error = %e, "the lease task failed; the lease will expire"),
        Err(_) => warn!(%identity, "releasing the leader lease timed out; it will expire"),
    }
    Ok(())
}

/// How long releasing the Lease may take on shutdown (one read and one
/// patch of the Lease).
const LEASE_RELEASE_LIMIT: Duration = Duration::from_secs(3);

/// How long a reconcile waits before looking at a proposal again when
/// nothing else wakes it.
pub const RESYNC: Duration = Duration::from_secs(30);
