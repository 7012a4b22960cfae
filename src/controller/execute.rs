//! The proposal reconciler: the edge of the execution state machine.
//!
//! Each reconcile reads what [`machine::needs`] asks for, asks
//! [`machine::next`] what to do, and does exactly that one thing: a status
//! write (a replace of the status subresource guarded by the read
//! `resourceVersion`, so a second replica or a concurrent decision makes it
//! fail with a conflict and nothing is written), or one effect on the
//! cluster followed by the status [`machine::record`] gives for its
//! outcome, or releasing podmedic's finalizer. Then it asks to be called
//! again. The flow, the guarantees after a crash at any instant, and the
//! assumptions are documented in [`machine`]; this module adds only I/O:
//!
//! - Events, chat notifications and metrics are derived from each
//!   transition after its status write succeeded (a crash before them loses
//!   a notification, never a step).
//! - `PODMEDIC_FAILPOINT=exit-after-apply` exits right after an effect and
//!   before its status write, to prove the resume path against a real API
//!   server.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::Value;
use tracing::{instrument, warn};

use super::machine::{self, Direction, Effect, Health, Next, NodeObs, Observed, Outcome, Settings};
use super::{Context, ControllerConfig};
use crate::actions::patch::PatchOp;
use crate::approval;
use crate::crd::{
    CORDONED_BY_ANNOTATION, DecidedVia, FINALIZER, Phase, RecoveryProposal, RecoveryProposalStatus, WORKLOAD_LABEL,
};
use crate::metrics::{ActionLabels, CodeLabel, DecisionLabels, PhaseLabel};

/// Execution limits shared by every proposal (in the leader's memory).
pub struct Limits {
    max_concurrent: usize,
    breaker_failures: usize,
    breaker_window: Duration,
    executing: Mutex<HashSet<String>>,
    failures: Mutex<VecDeque<Instant>>,
    /// Phase of every stamped proposal seen, for the `podmedic_proposals` gauge.
    phases: Mutex<HashMap<String, Phase>>,
}

impl Limits {
    /// Limits from the flags.
    pub fn new(config: &ControllerConfig) -> Self {
        Limits {
            max_concurrent: config.max_concurrent_executions.max(1),
            breaker_failures: config.breaker_failures.max(1),
            breaker_window: config.breaker_window,
            executing: Mutex::default(),
            failures: Mutex::default(),
            phases: Mutex::default(),
        }
    }

    /// Whether the circuit breaker is open (too many failures recently).
    pub fn breaker_open(&self) -> bool {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        while f.front().is_some_and(|t| t.elapsed() > self.breaker_window) {
            f.pop_front();
        }
        f.len() >= self.breaker_failures
    }

    fn record_failure(&self) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).push_back(Instant::now());
    }

    /// Takes a slot for `key` (true when it has one).
    fn try_start(&self, key: &str) -> bool {
        let mut e = self.executing.lock().unwrap_or_else(|e| e.into_inner());
        if e.contains(key) {
            return true;
        }
        if e.len() >= self.max_concurrent {
            return false;
        }
        e.insert(key.to_owned());
        true
    }

    fn adopt(&self, key: &str) {
        self.executing.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_owned());
    }

    fn finish(&self, key: &str) {
        self.executing.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    /// Records `key`'s phase (`None`: gone) and returns the counts per phase.
    fn set_phase(&self, key: &str, phase: Option<Phase>) -> BTreeMap<Phase, i64> {
        let mut p = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        match phase {
            Some(ph) => {
                p.insert(key.to_owned(), ph);
            }
            None => {
                p.remove(key);
            }
        }
        let mut counts: BTreeMap<Phase, i64> = Phase::ALL.iter().map(|ph| (*ph, 0)).collect();
        for ph in p.values() {
            *counts.entry(*ph).or_default() += 1;
        }
        counts
    }
}

/// Errors of one reconcile.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// An API call failed (retried with backoff).
    #[error("{what} failed")]
    Api {
        /// What was being done.
        what: &'static str,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// The proposal changed since it was read; nothing was written.
    #[error("the proposal changed while reconciling")]
    Conflict,
}

impl ExecError {
    fn code(&self) -> &'static str {
        match self {
            ExecError::Api { .. } => "api",
            ExecError::Conflict => "conflict",
        }
    }
}

fn api_err(what: &'static str) -> impl FnOnce(kube::Error) -> ExecError {
    move |source| ExecError::Api { what, source }
}

/// Runs the proposal controller until the stream ends.
pub async fn run(ctx: Arc<Context>) {
    // One controller per watched namespace, so namespaced RBAC suffices;
    // one cluster-wide controller when no namespace is listed.
    let apis = super::scoped_apis::<RecoveryProposal>(&ctx);
    futures::future::join_all(apis.into_iter().map(|api| {
        Controller::new(api, watcher::Config::default()).run(reconcile_guarded, error_policy, ctx.clone()).for_each(
            |res| async move {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "proposal reconcile failed");
                }
            },
        )
    }))
    .await;
}

fn error_policy(_rxp: Arc<RecoveryProposal>, err: &ExecError, ctx: Arc<Context>) -> Action {
    // A guarded write lost a race (another writer changed the proposal):
    // nothing was written; look again at once.
    if matches!(err, ExecError::Conflict)
        || matches!(err, ExecError::Api { source: kube::Error::Api(s), .. } if s.code == 409)
    {
        tracing::debug!("proposal changed while reconciling; retrying");
        return Action::requeue(Duration::from_millis(200));
    }
    warn!(error = %crate::util::error_chain(err), "proposal reconcile error");
    ctx.metrics.reconcile_errors.get_or_create(&CodeLabel { code: err.code() }).inc();
    Action::requeue(Duration::from_secs(5))
}

/// [`reconcile`], with a panic turned into this proposal's error (logged,
/// counted, retried later) instead of the end of the controller.
async fn reconcile_guarded(rxp: Arc<RecoveryProposal>, ctx: Arc<Context>) -> Result<Action, ExecError> {
    let c = ctx.clone();
    match tokio::spawn(reconcile(rxp, ctx)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "proposal reconcile panicked");
            c.metrics.reconcile_errors.get_or_create(&CodeLabel { code: "panic" }).inc();
            Ok(Action::requeue(Duration::from_secs(30)))
        }
    }
}

/// The machine's settings from the flags.
pub fn settings(config: &ControllerConfig) -> Settings {
    Settings {
        dry_run: config.dry_run,
        max_attempts_per_day: config.max_attempts_per_day,
        verify_window_cap: config.verify_window_cap,
        verify_ready_cap: config.verify_ready_cap,
        max_cordoned_nodes: config.max_cordoned_nodes,
    }
}

/// One reconcile of one proposal: at most one change, then requeue.
#[instrument(skip(rxp, ctx), fields(namespace = %rxp.namespace().unwrap_or_default(), proposal = %rxp.name_any()))]
pub async fn reconcile(rxp: Arc<RecoveryProposal>, ctx: Arc<Context>) -> Result<Action, ExecError> {
    let ns = rxp.namespace().unwrap_or_default();
    let key = format!("{ns}/{}", rxp.name_any());
    let settings = settings(&ctx.config);
    let needs = machine::needs(&rxp, &settings);
    let obs = observe(&ctx, &rxp, &needs, &key).await?;
    let next = machine::next(&rxp, &obs, &settings);
    let starts = matches!(&next, Next::Write { status, .. } if status.phase == Phase::Executing);
    if needs.limits && !starts {
        ctx.limits.finish(&key);
    }
    let stamped = !matches!(next, Next::Ignore(_));
    if stamped {
        let phase = rxp.status.as_ref().map(|s| s.phase).unwrap_or_default();
        if phase.is_executing() {
            ctx.limits.adopt(&key);
        }
        publish_counts(&ctx, ctx.limits.set_phase(&key, Some(phase)));
    }
    perform(&ctx, &rxp, next, &key).await
}

fn publish_counts(ctx: &Context, counts: BTreeMap<Phase, i64>) {
    for (phase, n) in counts {
        ctx.metrics.proposals.get_or_create(&PhaseLabel { phase: phase.as_str() }).set(n);
    }
}

async fn perform(ctx: &Context, rxp: &RecoveryProposal, next: Next, key: &str) -> Result<Action, ExecError> {
    match next {
        Next::Ignore(why) => {
            tracing::debug!(why, "not podmedic's proposal; ignored");
            ctx.metrics.decisions.get_or_create(&DecisionLabels { via: "annotation", outcome: "not_podmedics" }).inc();
            Ok(Action::await_change())
        }
        Next::Wait(None) => Ok(Action::await_change()),
        Next::Wait(Some(d)) => Ok(Action::requeue(d)),
        Next::Write { status, note, requeue } => {
            write(ctx, rxp, *status, note, key).await?;
            Ok(Action::requeue(requeue))
        }
        Next::Effect(plan) => {
            let outcome = effect(ctx, rxp, &plan.effect).await;
            failpoint("exit-after-apply");
            let result = match (&outcome, plan.direction) {
                (Outcome::Done { .. }, Direction::Apply) => "applied",
                (Outcome::Done { .. }, Direction::Revert) => "reverted",
                (Outcome::Unknown(_), _) => "unknown",
                (_, Direction::Apply) => "failed",
                (_, Direction::Revert) => "revert_refused",
            };
            ctx.metrics.actions.get_or_create(&ActionLabels { action: plan.action.as_str(), result }).inc();
            match machine::record(rxp, &plan, outcome, Timestamp::now()) {
                Next::Write { status, note, requeue } => {
                    write(ctx, rxp, *status, note, key).await?;
                    Ok(Action::requeue(requeue))
                }
                Next::Wait(d) => Ok(d.map_or_else(Action::await_change, Action::requeue)),
                _ => Ok(Action::requeue(Duration::ZERO)),
            }
        }
        Next::Release => {
            release(ctx, rxp).await?;
            ctx.limits.finish(key);
            if rxp.metadata.deletion_timestamp.is_some() {
                publish_counts(ctx, ctx.limits.set_phase(key, None));
            }
            Ok(Action::await_change())
        }
    }
}

/// Writes the new status, then derives telemetry from the transition.
async fn write(
    ctx: &Context,
    rxp: &RecoveryProposal,
    status: RecoveryProposalStatus,
    note: Option<machine::Note>,
    key: &str,
) -> Result<(), ExecError> {
    let ns = rxp.namespace().unwrap_or_default();
    let api: Api<RecoveryProposal> = Api::namespaced(ctx.client.clone(), &ns);
    let before = rxp.status.as_ref().map(|s| s.phase).unwrap_or_default();
    let after = status.phase;
    let mut status = status;
    status.observed_generation = rxp.metadata.generation;
    let updated = approval::replace_status(&api, rxp, status).await.map_err(api_err("writing the proposal status"))?;
    if let Some(n) = note {
        publish(ctx, rxp, if n.warning { EventType::Warning } else { EventType::Normal }, n.reason, &n.message).await;
    }
    if before != after {
        ctx.metrics.transitions.get_or_create(&PhaseLabel { phase: after.as_str() }).inc();
        publish_counts(ctx, ctx.limits.set_phase(key, Some(after)));
        ctx.notifier.notify(&updated);
        if before == Phase::Proposed
            && let Some(s) = &updated.status
            && s.decided_via.is_some_and(DecidedVia::is_human)
        {
            ctx.metrics.decisions.get_or_create(&DecisionLabels { via: "annotation", outcome: "accepted" }).inc();
            if let Some(created) = &rxp.metadata.creation_timestamp {
                ctx.metrics.approval_latency.observe(Timestamp::now().duration_since(created.0).as_secs_f64().max(0.0));
            }
        }
        if after == Phase::Executing {
            ctx.limits.adopt(key);
        }
        if after.is_terminal() {
            ctx.limits.finish(key);
            if before.is_executing() && matches!(after, Phase::Failed | Phase::RolledBack) {
                ctx.limits.record_failure();
            }
        }
        ctx.metrics.circuit_breaker_open.set(i64::from(ctx.limits.breaker_open()));
    }
    Ok(())
}

async fn publish(ctx: &Context, rxp: &RecoveryProposal, type_: EventType, reason: &str, note: &str) {
    let ev = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(crate::util::truncate(note, 1000).into_owned()),
        action: "Recover".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&ev, &rxp.object_ref(&())).await {
        warn!(error = %e, "could not record an event");
    }
}

/// Removes podmedic's finalizer (guarded by the read `resourceVersion`).
async fn release(ctx: &Context, rxp: &RecoveryProposal) -> Result<(), ExecError> {
    let Some(finalizers) = rxp.metadata.finalizers.as_ref() else { return Ok(()) };
    let rest: Vec<&String> = finalizers.iter().filter(|f| *f != FINALIZER).collect();
    let patch = serde_json::json!([
        { "op": "test", "path": "/metadata/resourceVersion", "value": rxp.metadata.resource_version },
        { "op": "replace", "path": "/metadata/finalizers", "value": rest },
    ]);
    let patch: json_patch::Patch = serde_json::from_value(patch)
        .map_err(|e| ExecError::Api { what: "building the finalizer patch", source: kube::Error::SerdeError(e) })?;
    let api: Api<RecoveryProposal> = Api::namespaced(ctx.client.clone(), &rxp.namespace().unwrap_or_default());
    match api.patch(&rxp.name_any(), &PatchParams::default(), &Patch::<()>::Json(patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        // The proposal changed since it was read (the `test` failed): look again.
        Err(kube::Error::Api(s)) if s.code == 422 || s.code == 409 => Err(ExecError::Conflict),
        Err(e) => Err(ExecError::Api { what: "releasing the finalizer", source: e }),
    }
}

/// Reads what the machine needs.
async fn observe(
    ctx: &Context,
    rxp: &RecoveryProposal,
    needs: &machine::Needs,
    key: &str,
) -> Result<Observed, ExecError> {
    let mut obs = Observed::at(Timestamp::now());
    if needs.workload {
        obs.workload = approval::read_target(&ctx.client, rxp).await.map_err(api_err("reading the workload"))?;
    }
    if let Some(node) = &needs.node {
        let nodes: Api<Node> = Api::all(ctx.client.clone());
        obs.node = nodes.get_opt(node).await.map_err(api_err("reading the node"))?.map(|n| NodeObs {
            name: n.name_any(),
            unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true),
            cordoned_by: n.annotations().get(CORDONED_BY_ANNOTATION).cloned(),
            resource_version: n.resource_version().unwrap_or_default(),
            has_annotations: n.metadata.annotations.is_some(),
        });
        let all = nodes.list_metadata(&ListParams::default()).await.map_err(api_err("listing nodes"))?;
        obs.cordoned_elsewhere = all
            .items
            .iter()
            .filter(|n| n.name_any() != *node && n.annotations().contains_key(CORDONED_BY_ANNOTATION))
            .count();
    }
    if let Some(pod) = &needs.pod {
        let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &rxp.namespace().unwrap_or_default());
        obs.pod =
            Some(pods.get_opt(pod).await.map_err(api_err("reading the pod"))?.map(|p| p.uid().unwrap_or_default()));
    }
    if needs.health {
        obs.health = Some(workload_health(ctx, rxp).await?);
    }
    if needs.limits {
        obs.breaker_open = ctx.limits.breaker_open();
        ctx.metrics.circuit_breaker_open.set(i64::from(obs.breaker_open));
        obs.attempts_today = attempts_today(ctx, rxp).await?;
        obs.slot_free = ctx.limits.try_start(key);
    }
    Ok(obs)
}

/// Other executions on the target workload in the last 24 hours.
async fn attempts_today(ctx: &Context, rxp: &RecoveryProposal) -> Result<u32, ExecError> {
    let api: Api<RecoveryProposal> = Api::namespaced(ctx.client.clone(), &rxp.namespace().unwrap_or_default());
    let label = crate::crd::workload_label_value(&rxp.spec.target.name);
    let lp = ListParams::default().labels(&format!("{WORKLOAD_LABEL}={label}"));
    let siblings = api.list(&lp).await.map_err(api_err("listing proposals"))?.items;
    let day = SignedDuration::from_hours(24);
    let n = siblings
        .iter()
        .filter(|p| p.name_any() != rxp.name_any() && p.spec.target.uid == rxp.spec.target.uid)
        .filter(|p| crate::crd::is_stamped(p))
        .filter(|p| {
            p.status.as_ref().is_some_and(|s| {
                matches!(
                    s.phase,
                    Phase::Executing | Phase::Verifying | Phase::Succeeded | Phase::Failed | Phase::RolledBack
                ) && s.decided_at.as_ref().is_some_and(|t| Timestamp::now().duration_since(t.0) < day)
            })
        })
        .count();
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

/// Performs one effect; never panics, maps every error to an [`Outcome`].
async fn effect(ctx: &Context, rxp: &RecoveryProposal, effect: &Effect) -> Outcome {
    let ns = rxp.namespace().unwrap_or_default();
    match effect {
        Effect::PatchWorkload { ops } => {
            let t = &rxp.spec.target;
            match t.kind.as_str() {
                "Deployment" => json_patch::<Deployment>(Api::namespaced(ctx.client.clone(), &ns), &t.name, ops).await,
                "StatefulSet" => {
                    json_patch::<StatefulSet>(Api::namespaced(ctx.client.clone(), &ns), &t.name, ops).await
                }
                other => Outcome::Failed(format!("cannot patch a {other}")),
            }
        }
        Effect::Cordon { node, by, resource_version, has_annotations } => {
            let annotation = PatchOp::Add {
                path: format!("/metadata/annotations/{}", crate::actions::patch::escape(CORDONED_BY_ANNOTATION)),
                value: Value::String(by.clone()),
            };
            let annotations = PatchOp::Add {
                path: "/metadata/annotations".into(),
                value: serde_json::json!({ CORDONED_BY_ANNOTATION: by }),
            };
            let ops = vec![
                PatchOp::Test {
                    path: "/metadata/resourceVersion".into(),
                    value: Value::String(resource_version.clone()),
                },
                if *has_annotations { annotation } else { annotations },
                PatchOp::Add { path: "/spec/unschedulable".into(), value: Value::Bool(true) },
            ];
            json_patch::<Node>(Api::all(ctx.client.clone()), node, &ops).await
        }
        Effect::Uncordon { node, by } => {
            let ann = format!("/metadata/annotations/{}", crate::actions::patch::escape(CORDONED_BY_ANNOTATION));
            let ops = vec![
                PatchOp::Test { path: ann.clone(), value: Value::String(by.clone()) },
                PatchOp::Test { path: "/spec/unschedulable".into(), value: Value::Bool(true) },
                PatchOp::Remove { path: "/spec/unschedulable".into() },
                PatchOp::Remove { path: ann },
            ];
            json_patch::<Node>(Api::all(ctx.client.clone()), node, &ops).await
        }
        Effect::DeletePod { name, uid } => {
            let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
            let dp = DeleteParams {
                preconditions: uid.as_ref().map(|u| Preconditions { uid: Some(u.clone()), resource_version: None }),
                ..DeleteParams::default()
            };
            match pods.delete(name, &dp).await {
                Ok(_) => Outcome::Done { object: None },
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {
                    Outcome::Gone(format!("pod {name} is gone or was replaced"))
                }
                Err(e) => outcome_of(e, &format!("deleting pod {name}")),
            }
        }
    }
}

async fn json_patch<K>(api: Api<K>, name: &str, ops: &[PatchOp]) -> Outcome
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let patch: json_patch::Patch = match serde_json::to_value(ops).and_then(serde_json::from_value) {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(format!("the patch is not a JSON Patch: {e}")),
    };
    match api.patch(name, &PatchParams::default(), &Patch::<()>::Json(patch)).await {
        Ok(obj) => Outcome::Done { object: serde_json::to_value(&obj).ok() },
        Err(e) => outcome_of(e, &format!("patching {name}")),
    }
}

/// Maps a client error to what it says about the change.
fn outcome_of(e: kube::Error, what: &str) -> Outcome {
    match e {
        kube::Error::Api(s) if s.code == 409 || s.code == 422 => {
            Outcome::Refused(format!("{what}: the object is not as read ({})", crate::util::truncate(&s.message, 300)))
        }
        kube::Error::Api(s) if s.code == 404 => Outcome::Gone(format!("{what}: not found")),
        kube::Error::Api(s) if s.code == 400 || s.code == 403 || s.code == 405 => {
            Outcome::Failed(format!("{what}: {}", crate::util::truncate(&s.message, 300)))
        }
        other => Outcome::Unknown(format!("{what}: {}", crate::util::truncate(&other.to_string(), 300))),
    }
}

/// The target workload's health after the fix.
async fn workload_health(ctx: &Context, rxp: &RecoveryProposal) -> Result<Health, ExecError> {
    let ns = rxp.namespace().unwrap_or_default();
    let t = &rxp.spec.target;
    let status = rxp.status.clone().unwrap_or_default();
    let started = status.verify_started_at.as_ref().map_or_else(Timestamp::now, |t| t.0);
    let read = api_err("reading the workload");
    let (generation, observed, desired, updated, ready, selector) = match t.kind.as_str() {
        "Deployment" => {
            let Some(d) =
                Api::<Deployment>::namespaced(ctx.client.clone(), &ns).get_opt(&t.name).await.map_err(read)?
            else {
                return Ok(Health::Unhealthy("the workload is gone".into()));
            };
            let s = d.status.unwrap_or_default();
            let spec = d.spec.unwrap_or_default();
            (
                d.metadata.generation,
                s.observed_generation,
                spec.replicas.unwrap_or(1),
                s.updated_replicas.unwrap_or(0),
                s.ready_replicas.unwrap_or(0),
                spec.selector,
            )
        }
        "StatefulSet" => {
            let Some(d) =
                Api::<StatefulSet>::namespaced(ctx.client.clone(), &ns).get_opt(&t.name).await.map_err(read)?
            else {
                return Ok(Health::Unhealthy("the workload is gone".into()));
            };
            let s = d.status.unwrap_or_default();
            let spec = d.spec.unwrap_or_default();
            (
                d.metadata.generation,
                s.observed_generation,
                spec.replicas.unwrap_or(1),
                s.updated_replicas.unwrap_or(0),
                s.ready_replicas.unwrap_or(0),
                spec.selector,
            )
        }
        // A bare pod: healthy once nothing crashes.
        _ => return Ok(Health::Healthy { since: started }),
    };
    let _ = generation;
    if observed < status.applied_generation {
        return Ok(Health::Pending("the controller has not seen the new spec yet".into()));
    }
    // Pods of the workload (the full selector, matchExpressions included;
    // an empty or unreadable one never means "every pod of the namespace").
    let selector = match kube::core::Selector::try_from(selector) {
        Ok(s) if !s.selects_all() => s,
        _ => return Ok(Health::Unhealthy("the workload's selector is empty or invalid".into())),
    };
    let pods = Api::<Pod>::namespaced(ctx.client.clone(), &ns)
        .list(&ListParams::default().labels_from(&selector))
        .await
        .map_err(api_err("listing the workload's pods"))?
        .items;
    for p in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        let created_after =
            p.metadata.creation_timestamp.as_ref().is_some_and(|c| c.0 >= started - SignedDuration::from_secs(1));
        for cs in p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).into_iter().flatten() {
            let waiting = cs.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref());
            if created_after && (cs.restart_count > 0 || waiting == Some("CrashLoopBackOff")) {
                return Ok(Health::Unhealthy(format!("pod {} restarted after the fix", p.name_any())));
            }
        }
    }
    if updated < desired || ready < desired {
        return Ok(Health::Pending(format!("{ready}/{desired} ready, {updated}/{desired} updated")));
    }
    // Ready since: the latest Ready transition among the pods.
    let since = pods
        .iter()
        .filter_map(|p| {
            p.status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == "Ready" && c.status == "True")?
                .last_transition_time
                .clone()
        })
        .map(|t: Time| t.0)
        .max()
        .unwrap_or_else(Timestamp::now);
    Ok(Health::Healthy { since: since.max(started) })
}

/// Test hook: `PODMEDIC_FAILPOINT=<name>` makes the process exit at that
/// point, to prove the crash guarantees against a real API server.
fn failpoint(name: &str) {
    if std::env::var("PODMEDIC_FAILPOINT").is_ok_and(|v| v == name) {
        tracing::error!(failpoint = name, "failpoint reached; exiting");
        std::process::exit(86);
    }
}
