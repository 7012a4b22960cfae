//! The proposal reconciler: decisions, expiry, and the execution state
//! machine.
//!
//! # Flow
//!
//! ```text
//! Proposed ──approve──► Approved ──limits ok──► Executing ──all steps applied──► Verifying ──healthy for the window──► Succeeded
//!    │  └──reject──► Rejected                      │ step failed (on_failure)          │ not healthy in time
//!    └──expiresAt──► Expired                       ├─ stop ──► Failed                  ▼
//!                                                  └─ revert ─► revert applied steps ─► RolledBack (Failed if a revert fails)
//! ```
//!
//! Each reconcile makes **at most one change** (one status write, or one
//! write to the cluster followed by its status write) and then asks to be
//! called again, so every boundary is persisted before the next begins.
//!
//! # Guarantees after a crash at any instant
//!
//! - A step is recorded `Applying` in the status *before* its change is
//!   sent, and `Applied` *after* the API server accepted it.
//! - A step found `Applying` on resume is first checked against the live
//!   object: if its change is already there (every value the patch writes is
//!   present) it is marked `Applied` without sending anything. Otherwise the
//!   patch is sent; its `test` guards make the API server refuse it if the
//!   object moved on in between, so a change is never applied twice nor on
//!   top of someone else's edit.
//! - Reverts follow the same protocol in reverse order, with the inverse
//!   patch recorded at render time.
//! - Decisions are single guarded writes (see `approval`); a dry-run
//!   proposal never leaves `Proposed` whatever its annotations say.
//!
//! # Assumptions
//!
//! - Patches are absolute (set `--max-model-len` to 20144), never relative,
//!   so applying one twice equals applying it once; the plan is immutable
//!   (CRD CEL rule), so the patch resumed is the patch approved.
//! - Deleting a pod and cordoning a node are idempotent by nature.
//! - Limits (concurrency, attempts per day, circuit breaker) are evaluated
//!   when leaving `Approved`; the breaker's memory is per leader process and
//!   starts closed after a restart.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::Value;
use tracing::{instrument, warn};

use super::{Context, ControllerConfig};
use crate::approval::{self, RecordError};
use crate::crd::{DecidedVia, Phase, RecoveryProposal, RecoveryProposalStatus, StepState, StepStatus, WORKLOAD_LABEL};
use crate::metrics::{ActionLabels, CodeLabel, DecisionLabels, PhaseLabel};

/// Default time for a fixed workload to become healthy.
const DEFAULT_VERIFY_TIMEOUT: Duration = Duration::from_secs(600);
/// Default time it must then stay healthy (no new restart).
const DEFAULT_VERIFY_WINDOW: Duration = Duration::from_secs(60);

/// Execution limits shared by every proposal.
pub struct Limits {
    max_concurrent: usize,
    max_attempts_per_day: u32,
    breaker_failures: usize,
    breaker_window: Duration,
    executing: Mutex<HashSet<String>>,
    failures: Mutex<VecDeque<Instant>>,
}

impl Limits {
    /// Limits from the flags.
    pub fn new(config: &ControllerConfig) -> Self {
        Limits {
            max_concurrent: config.max_concurrent_executions.max(1),
            max_attempts_per_day: config.max_attempts_per_day,
            breaker_failures: config.breaker_failures.max(1),
            breaker_window: config.breaker_window,
            executing: Mutex::default(),
            failures: Mutex::default(),
        }
    }

    /// Whether the circuit breaker is open (too many failures recently).
    pub fn breaker_open(&self) -> bool {
        let mut f = self.failures.lock().expect("limits lock");
        while f.front().is_some_and(|t| t.elapsed() > self.breaker_window) {
            f.pop_front();
        }
        f.len() >= self.breaker_failures
    }

    fn record_failure(&self) {
        self.failures.lock().expect("limits lock").push_back(Instant::now());
    }

    fn try_start(&self, key: &str) -> bool {
        let mut e = self.executing.lock().expect("limits lock");
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
        self.executing.lock().expect("limits lock").insert(key.to_owned());
    }

    fn finish(&self, key: &str) {
        self.executing.lock().expect("limits lock").remove(key);
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
}

impl ExecError {
    fn code(&self) -> &'static str {
        match self {
            ExecError::Api { .. } => "api",
        }
    }
}

fn api_err(what: &'static str) -> impl FnOnce(kube::Error) -> ExecError {
    move |source| ExecError::Api { what, source }
}

/// What a plan step does, as the executor reads it from `spec.plan` (the
/// serialised `playbook::Plan`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecStep {
    /// Step id.
    pub id: String,
    /// Steps that must be applied first.
    pub needs: Vec<String>,
    /// `stop`, `revert` or `continue`.
    pub on_failure: String,
    /// The action type, e.g. `set-arg`.
    pub action: String,
    /// The action as rendered (its fields: node, pod, ...).
    pub action_spec: Value,
    /// The object it changes: `Deployment/ns/name`, `Node/n`, `Pod/ns/p`.
    pub object: Option<String>,
    /// Forward JSON Patch on that object, if the step patches it.
    pub patch: Option<Value>,
    /// Inverse JSON Patch.
    pub revert: Option<Value>,
}

impl ExecStep {
    /// Whether the step patches the target workload.
    fn patches_workload(&self) -> bool {
        self.patch.is_some()
            && self.object.as_deref().is_some_and(|o| o.starts_with("Deployment/") || o.starts_with("StatefulSet/"))
    }

    /// Whether a revert exists for this step once applied.
    fn revertible(&self) -> bool {
        (self.patches_workload() && self.revert.is_some()) || self.action == "cordon-node"
    }
}

/// Reads the executable steps of a rendered plan (pure).
pub fn steps_of(plan: Option<&Value>) -> Vec<ExecStep> {
    let Some(steps) = plan.and_then(|p| p.get("steps")).and_then(Value::as_array) else { return Vec::new() };
    let nonempty = |v: Option<&Value>| v.filter(|p| p.as_array().is_some_and(|a| !a.is_empty())).cloned();
    steps
        .iter()
        .filter_map(|s| {
            let id = s.get("id")?.as_str()?.to_owned();
            let action_spec = s.get("action").cloned().unwrap_or(Value::Null);
            let action = action_spec.get("type").and_then(Value::as_str).unwrap_or("notify").to_owned();
            Some(ExecStep {
                id,
                needs: s
                    .get("needs")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default(),
                on_failure: s.get("on_failure").and_then(Value::as_str).unwrap_or("revert").to_owned(),
                action,
                action_spec,
                object: s.get("object").and_then(Value::as_str).map(str::to_owned),
                patch: nonempty(s.get("patch")),
                revert: nonempty(s.get("revert")),
            })
        })
        .collect()
}

/// Verification settings of a plan (ready within, then stable for), with defaults.
fn verification_of(plan: Option<&Value>) -> (Duration, Duration) {
    let v = plan.and_then(|p| p.get("verification"));
    let secs = |k: &str| v.and_then(|v| v.get(k)).and_then(Value::as_u64).map(Duration::from_secs);
    (
        secs("ready_within_seconds").unwrap_or(DEFAULT_VERIFY_TIMEOUT),
        secs("no_restart_for_seconds").unwrap_or(DEFAULT_VERIFY_WINDOW),
    )
}

/// Runs the proposal controller until the stream ends.
pub async fn run(ctx: Arc<Context>) {
    // One controller per watched namespace, so namespaced RBAC suffices;
    // one cluster-wide controller when no namespace is listed.
    let apis = super::scoped_apis::<RecoveryProposal>(&ctx);
    futures::future::join_all(apis.into_iter().map(|api| {
        Controller::new(api, watcher::Config::default()).run(reconcile, error_policy, ctx.clone()).for_each(
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
    if let ExecError::Api { source: kube::Error::Api(s), .. } = err
        && s.code == 409
    {
        tracing::debug!("proposal changed while reconciling; retrying");
        return Action::requeue(Duration::from_millis(200));
    }
    warn!(error = %crate::util::error_chain(err), "proposal reconcile error");
    ctx.metrics.reconcile_errors.get_or_create(&CodeLabel { code: err.code() }).inc();
    Action::requeue(Duration::from_secs(5))
}

fn now() -> Time {
    Time(Timestamp::now())
}

fn until(t: &Time) -> Duration {
    let d = t.0.duration_since(Timestamp::now());
    if d.is_negative() { Duration::ZERO } else { d.unsigned_abs() }
}

/// One reconcile of one proposal: at most one change, then requeue.
#[instrument(skip(rxp, ctx), fields(namespace = %rxp.namespace().unwrap_or_default(), proposal = %rxp.name_any()))]
pub async fn reconcile(rxp: Arc<RecoveryProposal>, ctx: Arc<Context>) -> Result<Action, ExecError> {
    let ns = rxp.namespace().unwrap_or_default();
    let api: Api<RecoveryProposal> = Api::namespaced(ctx.client.clone(), &ns);
    let status = rxp.status.clone().unwrap_or_default();
    let key = format!("{ns}/{}", rxp.name_any());
    match status.phase {
        Phase::Proposed => decide(&api, &rxp, &ctx).await,
        Phase::Approved => start(&api, &rxp, &status, &ctx, &key).await,
        Phase::Executing => {
            ctx.limits.adopt(&key);
            step(&api, &rxp, &status, &ctx, &key).await
        }
        Phase::Verifying => {
            ctx.limits.adopt(&key);
            verify(&api, &rxp, &status, &ctx, &key).await
        }
        _ => {
            ctx.limits.finish(&key);
            Ok(Action::await_change())
        }
    }
}

async fn set_phase(
    api: &Api<RecoveryProposal>,
    rxp: &RecoveryProposal,
    ctx: &Context,
    phase: Phase,
    message: &str,
    extra: Value,
) -> Result<(), ExecError> {
    let mut status =
        serde_json::json!({ "phase": phase, "message": message, "observedGeneration": rxp.metadata.generation });
    if let (Some(s), Some(e)) = (status.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let patch =
        serde_json::json!({ "metadata": { "resourceVersion": rxp.metadata.resource_version }, "status": status });
    let updated = api
        .patch_status(&rxp.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(api_err("writing the proposal status"))?;
    ctx.notifier.notify(&updated);
    ctx.metrics.transitions.get_or_create(&PhaseLabel { phase: phase.as_str() }).inc();
    let type_ = if matches!(phase, Phase::Failed | Phase::RolledBack) { EventType::Warning } else { EventType::Normal };
    publish(ctx, rxp, type_, phase.as_str(), message).await;
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

/// `Proposed`: expiry, then a decision from the annotations.
async fn decide(api: &Api<RecoveryProposal>, rxp: &RecoveryProposal, ctx: &Context) -> Result<Action, ExecError> {
    let now = now();
    if rxp.spec.expires_at.0 <= now.0 {
        let extra =
            serde_json::json!({ "decidedVia": DecidedVia::Controller, "decidedBy": "podmedic", "decidedAt": now });
        set_phase(api, rxp, ctx, Phase::Expired, "expired before a decision; nothing was changed", extra).await?;
        return Ok(Action::await_change());
    }
    let wake = Action::requeue(until(&rxp.spec.expires_at) + Duration::from_secs(1));
    let request = match approval::decision_from_annotations(rxp.annotations()) {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(wake),
        Err(refusal) => {
            ctx.metrics.decisions.get_or_create(&DecisionLabels { via: "annotation", outcome: refusal.code() }).inc();
            let msg = format!("decision refused: {refusal}");
            if rxp.status.as_ref().is_none_or(|s| s.message != msg) {
                publish(ctx, rxp, EventType::Warning, "DecisionRefused", &msg).await;
                let patch = serde_json::json!({ "status": { "message": msg } });
                api.patch_status(&rxp.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(api_err("writing the proposal status"))?;
            }
            return Ok(wake);
        }
    };
    if rxp.spec.dry_run {
        let msg = format!(
            "dry-run: {} by {} recorded nowhere; podmedic never executes in dry-run",
            request.decision.as_str(),
            request.by
        );
        if rxp.status.as_ref().is_none_or(|s| s.message != msg) {
            ctx.metrics.decisions.get_or_create(&DecisionLabels { via: "annotation", outcome: "dry_run" }).inc();
            publish(ctx, rxp, EventType::Normal, "DryRun", &msg).await;
            let patch = serde_json::json!({ "status": { "message": msg } });
            api.patch_status(&rxp.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(api_err("writing the proposal status"))?;
        }
        return Ok(wake);
    }
    match approval::record_decision(api, rxp, &request).await {
        Ok(updated) => {
            ctx.notifier.notify(&updated);
            ctx.metrics.decisions.get_or_create(&DecisionLabels { via: "annotation", outcome: "accepted" }).inc();
            ctx.metrics.transitions.get_or_create(&PhaseLabel { phase: request.decision.phase().as_str() }).inc();
            if let Some(created) = &rxp.metadata.creation_timestamp {
                ctx.metrics.approval_latency.observe(Timestamp::now().duration_since(created.0).as_secs_f64().max(0.0));
            }
            let msg = format!("{} by {} via annotation", request.decision.as_str(), request.by);
            publish(ctx, rxp, EventType::Normal, request.decision.phase().as_str(), &msg).await;
            Ok(Action::requeue(Duration::ZERO))
        }
        Err(RecordError::Refused(r)) => {
            ctx.metrics.decisions.get_or_create(&DecisionLabels { via: "annotation", outcome: r.code() }).inc();
            Ok(wake)
        }
        Err(RecordError::Conflict) => Ok(Action::requeue(Duration::from_secs(1))),
        Err(RecordError::Api(e)) => Err(ExecError::Api { what: "recording the decision", source: e }),
    }
}

/// `Approved`: check the limits, then lay out the steps.
async fn start(
    api: &Api<RecoveryProposal>,
    rxp: &RecoveryProposal,
    status: &RecoveryProposalStatus,
    ctx: &Context,
    key: &str,
) -> Result<Action, ExecError> {
    if rxp.spec.dry_run {
        return Ok(Action::await_change());
    }
    let breaker = ctx.limits.breaker_open();
    ctx.metrics.circuit_breaker_open.set(i64::from(breaker));
    if breaker {
        let msg = "circuit breaker open: too many executions failed recently; waiting";
        if status.message != msg {
            publish(ctx, rxp, EventType::Warning, "CircuitBreakerOpen", msg).await;
            let patch = serde_json::json!({ "status": { "message": msg } });
            api.patch_status(&rxp.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(api_err("writing the proposal status"))?;
        }
        return Ok(Action::requeue(Duration::from_secs(30)));
    }
    // Attempts on this workload in the last 24 hours.
    let day = SignedDuration::from_hours(24);
    let lp = ListParams::default().labels(&format!("{WORKLOAD_LABEL}={}", rxp.spec.target.name));
    let siblings = api.list(&lp).await.map_err(api_err("listing proposals"))?.items;
    let attempts = siblings
        .iter()
        .filter(|p| p.name_any() != rxp.name_any() && p.spec.target.uid == rxp.spec.target.uid)
        .filter(|p| {
            let s = p.status.as_ref();
            let ran = s.is_some_and(|s| {
                matches!(
                    s.phase,
                    Phase::Executing | Phase::Verifying | Phase::Succeeded | Phase::Failed | Phase::RolledBack
                )
            });
            let recent =
                s.and_then(|s| s.decided_at.as_ref()).is_some_and(|t| Timestamp::now().duration_since(t.0) < day);
            ran && recent
        })
        .count();
    if attempts as u32 >= ctx.limits.max_attempts_per_day {
        let msg = format!(
            "{attempts} executions on this workload in the last 24h (limit {}); not executing",
            ctx.limits.max_attempts_per_day
        );
        set_phase(api, rxp, ctx, Phase::Failed, &msg, Value::Null).await?;
        return Ok(Action::await_change());
    }
    if !ctx.limits.try_start(key) {
        return Ok(Action::requeue(Duration::from_secs(10)));
    }
    let steps: Vec<StepStatus> = steps_of(rxp.spec.plan.as_ref())
        .into_iter()
        .map(|s| StepStatus {
            id: s.id,
            state: StepState::Pending,
            started_at: None,
            finished_at: None,
            message: String::new(),
            prior: None,
        })
        .collect();
    let extra = serde_json::json!({ "steps": steps });
    set_phase(api, rxp, ctx, Phase::Executing, "executing the approved plan", extra).await?;
    Ok(Action::requeue(Duration::ZERO))
}

/// Writes the step list with one step changed (guarded by resourceVersion).
async fn write_steps(
    api: &Api<RecoveryProposal>,
    rxp: &RecoveryProposal,
    steps: &[StepStatus],
) -> Result<(), ExecError> {
    let patch = serde_json::json!({ "metadata": { "resourceVersion": rxp.metadata.resource_version }, "status": { "steps": steps } });
    api.patch_status(&rxp.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(api_err("recording a step"))?;
    Ok(())
}

/// `Executing`: advance one step by one boundary.
async fn step(
    api: &Api<RecoveryProposal>,
    rxp: &RecoveryProposal,
    status: &RecoveryProposalStatus,
    ctx: &Context,
    key: &str,
) -> Result<Action, ExecError> {
    let plan = steps_of(rxp.spec.plan.as_ref());
    let mut steps = status.steps.clone();
    let state_of = |steps: &[StepStatus], id: &str| steps.iter().find(|s| s.id == id).map(|s| s.state);

    // A reverting execution (a failed step with on_failure: revert).
    let failed = steps.iter().find(|s| s.state == StepState::Failed).map(|s| s.id.clone());
    if let Some(failed) = failed {
        let policy = plan.iter().find(|p| p.id == failed).map_or("revert", |p| p.on_failure.as_str());
        if policy == "revert" {
            return revert_next(api, rxp, &plan, &mut steps, ctx, key, &format!("step {failed} failed")).await;
        }
        if policy == "stop" {
            ctx.limits.record_failure();
            ctx.limits.finish(key);
            set_phase(
                api,
                rxp,
                ctx,
                Phase::Failed,
                &format!("step {failed} failed; stopped (on_failure: stop)"),
                Value::Null,
            )
            .await?;
            return Ok(Action::await_change());
        }
    }

    // The next step to work on: one in flight, else the first pending one whose needs are met.
    let next = steps.iter().position(|s| s.state == StepState::Applying).or_else(|| {
        steps.iter().position(|s| {
            s.state == StepState::Pending
                && plan.iter().find(|p| p.id == s.id).is_none_or(|p| {
                    p.needs
                        .iter()
                        .all(|n| matches!(state_of(&steps, n), Some(StepState::Applied | StepState::Skipped) | None))
                })
        })
    });
    let Some(i) = next else {
        // Nothing runnable: pending steps whose needs failed are skipped.
        if let Some(j) = steps.iter().position(|s| s.state == StepState::Pending) {
            steps[j].state = StepState::Skipped;
            steps[j].message = "skipped: a step it needs did not apply".into();
            write_steps(api, rxp, &steps).await?;
            return Ok(Action::requeue(Duration::ZERO));
        }
        let generation = workload_generation(ctx, rxp).await?;
        let extra = serde_json::json!({ "verifyStartedAt": now(), "appliedGeneration": generation });
        set_phase(api, rxp, ctx, Phase::Verifying, "all steps applied; verifying", extra).await?;
        return Ok(Action::requeue(Duration::from_secs(2)));
    };
    let Some(exec) = plan.iter().find(|p| p.id == steps[i].id).cloned() else {
        steps[i].state = StepState::Skipped;
        steps[i].message = "not in the plan".into();
        write_steps(api, rxp, &steps).await?;
        return Ok(Action::requeue(Duration::ZERO));
    };

    if steps[i].state == StepState::Pending {
        // Boundary 1: record the intent before touching anything.
        steps[i].state = StepState::Applying;
        steps[i].started_at = Some(now());
        write_steps(api, rxp, &steps).await?;
        return Ok(Action::requeue(Duration::ZERO));
    }

    // Boundary 2: apply (idempotently) and record the result.
    let result = apply_step(ctx, rxp, &exec).await;
    failpoint("exit-after-apply");
    let label = action_label(&exec.action);
    match result {
        Ok(message) => {
            ctx.metrics.actions.get_or_create(&ActionLabels { action: label, result: "applied" }).inc();
            steps[i].state = StepState::Applied;
            steps[i].message = message;
        }
        Err(message) => {
            ctx.metrics.actions.get_or_create(&ActionLabels { action: label, result: "failed" }).inc();
            steps[i].state = if exec.on_failure == "continue" { StepState::Skipped } else { StepState::Failed };
            steps[i].message = message.clone();
            publish(ctx, rxp, EventType::Warning, "StepFailed", &format!("step {}: {message}", exec.id)).await;
        }
    }
    steps[i].finished_at = Some(now());
    write_steps(api, rxp, &steps).await?;
    Ok(Action::requeue(Duration::ZERO))
}

/// Reverts the last applied step that has an inverse; when none is left,
/// ends in `RolledBack` (or `Failed` if a revert failed).
async fn revert_next(
    api: &Api<RecoveryProposal>,
    rxp: &RecoveryProposal,
    plan: &[ExecStep],
    steps: &mut [StepStatus],
    ctx: &Context,
    key: &str,
    why: &str,
) -> Result<Action, ExecError> {
    let candidate = steps
        .iter()
        .rposition(|s| s.state == StepState::Applied && plan.iter().any(|p| p.id == s.id && p.revertible()));
    let Some(i) = candidate else {
        ctx.limits.record_failure();
        ctx.limits.finish(key);
        let revert_failed = steps.iter().any(|s| s.message.starts_with("revert failed"));
        let (phase, msg) = if revert_failed {
            (Phase::Failed, format!("{why}; a revert failed, the workload needs a human"))
        } else {
            (Phase::RolledBack, format!("{why}; the applied steps were reverted"))
        };
        set_phase(api, rxp, ctx, phase, &msg, Value::Null).await?;
        return Ok(Action::await_change());
    };
    let exec = plan.iter().find(|p| p.id == steps[i].id).expect("candidate is in the plan");
    let label = action_label(&exec.action);
    let undone = if exec.action == "cordon-node" {
        uncordon(ctx, rxp, exec).await
    } else {
        patch_workload(ctx, rxp, exec.revert.as_ref().expect("revertible workload steps have a revert")).await
    };
    match undone {
        Ok(m) => {
            ctx.metrics.actions.get_or_create(&ActionLabels { action: label, result: "reverted" }).inc();
            steps[i].state = StepState::Reverted;
            steps[i].message = format!("reverted: {m}");
        }
        Err(m) => {
            steps[i].state = StepState::Reverted;
            steps[i].message = format!("revert failed: {m}");
        }
    }
    steps[i].finished_at = Some(now());
    write_steps(api, rxp, steps).await?;
    Ok(Action::requeue(Duration::ZERO))
}

/// `Verifying`: healthy for the window → Succeeded; not in time → revert.
async fn verify(
    api: &Api<RecoveryProposal>,
    rxp: &RecoveryProposal,
    status: &RecoveryProposalStatus,
    ctx: &Context,
    key: &str,
) -> Result<Action, ExecError> {
    let (timeout, window) = verification_of(rxp.spec.plan.as_ref());
    let window = ctx.config.verify_window_cap.map_or(window, |cap| window.min(cap));
    let started = status.verify_started_at.clone().unwrap_or_else(now);
    let elapsed = Timestamp::now().duration_since(started.0).unsigned_abs();
    let health = workload_health(ctx, rxp, status.applied_generation).await?;
    match health {
        Health::Healthy { since } if Timestamp::now().duration_since(since.0).unsigned_abs() >= window => {
            ctx.limits.finish(key);
            set_phase(api, rxp, ctx, Phase::Succeeded, "the workload is healthy after the fix", Value::Null).await?;
            Ok(Action::await_change())
        }
        Health::Healthy { .. } | Health::Pending(_) if elapsed < timeout => Ok(Action::requeue(Duration::from_secs(2))),
        Health::Healthy { .. } | Health::Pending(_) | Health::Unhealthy(_) => {
            let why = match &health {
                Health::Unhealthy(m) | Health::Pending(m) => format!("verification failed: {m}"),
                Health::Healthy { .. } => "verification failed: not stable in time".to_owned(),
            };
            let plan = steps_of(rxp.spec.plan.as_ref());
            let mut steps = status.steps.clone();
            if !steps.iter().any(|s| s.state == StepState::Failed) {
                // Mark the verification failure once, then revert step by step.
                steps.push(StepStatus {
                    id: "verify".into(),
                    state: StepState::Failed,
                    started_at: Some(started),
                    finished_at: Some(now()),
                    message: why.clone(),
                    prior: None,
                });
                let patch = serde_json::json!({ "metadata": { "resourceVersion": rxp.metadata.resource_version }, "status": { "steps": steps, "phase": Phase::Executing, "message": why } });
                api.patch_status(&rxp.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(api_err("recording the verification"))?;
                publish(ctx, rxp, EventType::Warning, "VerificationFailed", &why).await;
                return Ok(Action::requeue(Duration::ZERO));
            }
            revert_next(api, rxp, &plan, &mut steps, ctx, key, &why).await
        }
    }
}

/// How the target looks after the fix.
#[derive(Debug)]
enum Health {
    /// Rolled out and ready, since the given time.
    Healthy { since: Time },
    /// Not yet rolled out.
    Pending(String),
    /// A new crash since the fix.
    Unhealthy(String),
}

/// What verification reads of a Deployment or StatefulSet.
struct RolloutView {
    generation: Option<i64>,
    observed: Option<i64>,
    desired: i32,
    updated: i32,
    ready: i32,
    selector: std::collections::BTreeMap<String, String>,
}

impl From<Deployment> for RolloutView {
    fn from(d: Deployment) -> Self {
        let s = d.status.unwrap_or_default();
        let spec = d.spec.unwrap_or_default();
        RolloutView {
            generation: d.metadata.generation,
            observed: s.observed_generation,
            desired: spec.replicas.unwrap_or(1),
            updated: s.updated_replicas.unwrap_or(0),
            ready: s.ready_replicas.unwrap_or(0),
            selector: spec.selector.match_labels.unwrap_or_default(),
        }
    }
}

impl From<StatefulSet> for RolloutView {
    fn from(d: StatefulSet) -> Self {
        let s = d.status.unwrap_or_default();
        let spec = d.spec.unwrap_or_default();
        RolloutView {
            generation: d.metadata.generation,
            observed: s.observed_generation,
            desired: spec.replicas.unwrap_or(1),
            updated: s.updated_replicas.unwrap_or(0),
            ready: s.ready_replicas.unwrap_or(0),
            selector: spec.selector.match_labels.unwrap_or_default(),
        }
    }
}

/// The target workload's rollout state; `Ok(None)` when it is gone or not a
/// Deployment/StatefulSet.
async fn rollout_view(ctx: &Context, rxp: &RecoveryProposal) -> Result<Option<RolloutView>, ExecError> {
    let ns = rxp.namespace().unwrap_or_default();
    let t = &rxp.spec.target;
    let read = api_err("reading the workload");
    Ok(match t.kind.as_str() {
        "Deployment" => {
            Api::<Deployment>::namespaced(ctx.client.clone(), &ns).get_opt(&t.name).await.map_err(read)?.map(Into::into)
        }
        "StatefulSet" => Api::<StatefulSet>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&t.name)
            .await
            .map_err(read)?
            .map(Into::into),
        _ => None,
    })
}

async fn workload_generation(ctx: &Context, rxp: &RecoveryProposal) -> Result<Option<i64>, ExecError> {
    Ok(rollout_view(ctx, rxp).await?.and_then(|v| v.generation))
}

async fn workload_health(ctx: &Context, rxp: &RecoveryProposal, applied: Option<i64>) -> Result<Health, ExecError> {
    let ns = rxp.namespace().unwrap_or_default();
    if !matches!(rxp.spec.target.kind.as_str(), "Deployment" | "StatefulSet") {
        // A bare pod (or a pod replaced elsewhere): healthy once nothing crashes.
        return Ok(Health::Healthy {
            since: rxp.status.as_ref().and_then(|s| s.verify_started_at.clone()).unwrap_or_else(now),
        });
    }
    let Some(RolloutView { observed, desired, updated, ready, selector, .. }) = rollout_view(ctx, rxp).await? else {
        return Ok(Health::Unhealthy("the workload is gone".into()));
    };
    if observed < applied {
        return Ok(Health::Pending("the controller has not seen the new spec yet".into()));
    }
    // Pods of the workload: any crash-looping one fails verification.
    let selector = selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    let pods = Api::<Pod>::namespaced(ctx.client.clone(), &ns)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(api_err("listing the workload's pods"))?
        .items;
    let started = rxp.status.as_ref().and_then(|s| s.verify_started_at.clone()).unwrap_or_else(now);
    for p in pods.iter().filter(|p| p.metadata.deletion_timestamp.is_none()) {
        let created_after =
            p.metadata.creation_timestamp.as_ref().is_some_and(|c| c.0 >= started.0 - SignedDuration::from_secs(1));
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
        .max_by_key(|t| t.0)
        .unwrap_or_else(now);
    let since = if since.0 < started.0 { started } else { since };
    Ok(Health::Healthy { since })
}

/// Test hook: `PODMEDIC_FAILPOINT=<name>` makes the process exit at that
/// point, to prove the crash guarantees above against a real API server.
fn failpoint(name: &str) {
    if std::env::var("PODMEDIC_FAILPOINT").is_ok_and(|v| v == name) {
        tracing::error!(failpoint = name, "failpoint reached; exiting");
        std::process::exit(86);
    }
}

fn action_label(action: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "set-arg",
        "set-env",
        "set-resources",
        "add-node-affinity",
        "add-toleration",
        "mount-shm",
        "lengthen-startup-probe",
        "rollback",
        "rollout-restart",
        "delete-pod",
        "cordon-node",
        "scale",
        "notify",
        "wait-ready",
    ];
    KNOWN.iter().copied().find(|k| *k == action).unwrap_or("other")
}

fn step_node(rxp: &RecoveryProposal, step: &ExecStep) -> Option<String> {
    step.action_spec.get("node").and_then(Value::as_str).map(str::to_owned).or_else(|| rxp.spec.node.clone())
}

async fn uncordon(ctx: &Context, rxp: &RecoveryProposal, step: &ExecStep) -> Result<String, String> {
    let node = step_node(rxp, step).ok_or("no node to uncordon")?;
    let p = serde_json::json!({ "spec": { "unschedulable": null } });
    Api::<Node>::all(ctx.client.clone())
        .patch(&node, &PatchParams::default(), &Patch::Merge(&p))
        .await
        .map_err(|e| format!("uncordoning {node}: {e}"))?;
    Ok(format!("uncordoned node {node}"))
}

/// Applies one step; `Ok(message)` when its change is in the cluster.
async fn apply_step(ctx: &Context, rxp: &RecoveryProposal, step: &ExecStep) -> Result<String, String> {
    let ns = rxp.namespace().unwrap_or_default();
    let field = |k: &str| step.action_spec.get(k).and_then(Value::as_str).map(str::to_owned);
    match step.action.as_str() {
        _ if step.patches_workload() => patch_workload(ctx, rxp, step.patch.as_ref().expect("checked")).await,
        "cordon-node" => {
            let node = step_node(rxp, step).ok_or("no node to cordon")?;
            let nodes: Api<Node> = Api::all(ctx.client.clone());
            let n = nodes.get(&node).await.map_err(|e| format!("reading node {node}: {e}"))?;
            if n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
                return Ok(format!("node {node} was already cordoned"));
            }
            let p = serde_json::json!({ "spec": { "unschedulable": true } });
            nodes
                .patch(&node, &PatchParams::default(), &Patch::Merge(&p))
                .await
                .map_err(|e| format!("cordoning {node}: {e}"))?;
            Ok(format!("cordoned node {node}"))
        }
        "delete-pod" => {
            let pod = field("pod").unwrap_or_else(|| rxp.spec.pod.clone());
            let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
            match pods.delete(&pod, &DeleteParams::default()).await {
                Ok(_) => Ok(format!("deleted pod {pod}")),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(format!("pod {pod} was already gone")),
                Err(e) => Err(format!("deleting pod {pod}: {e}")),
            }
        }
        "notify" | "wait-ready" => Ok(format!("{}: recorded", step.action)),
        other => Err(format!("action `{other}` has no rendered patch and cannot be executed")),
    }
}

/// Sends a JSON Patch to the target workload unless its values are already
/// there (a resumed step). `test` guards make a stale patch fail.
async fn patch_workload(ctx: &Context, rxp: &RecoveryProposal, patch: &Value) -> Result<String, String> {
    let ns = rxp.namespace().unwrap_or_default();
    match rxp.spec.target.kind.as_str() {
        "Deployment" => patch_typed::<Deployment>(Api::namespaced(ctx.client.clone(), &ns), rxp, patch).await,
        "StatefulSet" => patch_typed::<StatefulSet>(Api::namespaced(ctx.client.clone(), &ns), rxp, patch).await,
        other => Err(format!("cannot patch a {other}")),
    }
}

async fn patch_typed<K>(api: Api<K>, rxp: &RecoveryProposal, patch: &Value) -> Result<String, String>
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let t = &rxp.spec.target;
    let json: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| format!("the rendered patch is not a JSON Patch: {e}"))?;
    let cur = api.get(&t.name).await.map_err(|e| format!("reading {}/{}: {e}", t.kind, t.name))?;
    if cur.meta().uid.as_deref() != Some(t.uid.as_str()) {
        return Err("the workload was recreated since the proposal".into());
    }
    if already_applied(&serde_json::to_value(&cur).unwrap_or_default(), patch) {
        return Ok("already applied".into());
    }
    match api.patch(&t.name, &PatchParams::default(), &Patch::<()>::Json(json)).await {
        Ok(_) => Ok(format!("patched {}/{}", t.kind, t.name)),
        Err(kube::Error::Api(s)) if s.code == 422 || s.code == 409 => {
            Err(format!("the workload changed since the plan was rendered; not applied ({})", s.message))
        }
        Err(e) => Err(format!("patching {}/{}: {e}", t.kind, t.name)),
    }
}

/// Whether every value a JSON Patch writes is already in `obj` (pure).
pub fn already_applied(obj: &Value, patch: &Value) -> bool {
    let Some(ops) = patch.as_array() else { return false };
    let mut writes = 0;
    for op in ops {
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        match op.get("op").and_then(Value::as_str) {
            Some("add") if path.ends_with("/-") => {
                // An append: applied when the array already holds the value.
                writes += 1;
                let parent = obj.pointer(&path[..path.len() - 2]).and_then(Value::as_array);
                if !parent.is_some_and(|a| op.get("value").is_some_and(|v| a.contains(v))) {
                    return false;
                }
            }
            Some("add" | "replace") => {
                writes += 1;
                if obj.pointer(path) != op.get("value") {
                    return false;
                }
            }
            Some("remove") => {
                writes += 1;
                if obj.pointer(path).is_some() {
                    return false;
                }
            }
            _ => {}
        }
    }
    writes > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_steps_from_a_rendered_plan() {
        use crate::playbook::{PlanContext, PlaybookSet};
        let set = PlaybookSet::load(&["playbooks"]).unwrap();
        let log = "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20144).";
        let ev = crate::evidence::Evidence { log: crate::logtext::LogTail::from_text(log, 10), ..Default::default() };
        let sigs = crate::signatures::SignatureSet::load(&["patterns"]).unwrap();
        let d = crate::diagnosis::diagnose(&ev, &sigs, None, &Default::default());
        let w = crate::actions::Workload::load(std::path::Path::new("tests/fixtures/workloads/vllm-deployment.yaml"))
            .unwrap();
        let plan = set.plan(&d, Some(&w), &PlanContext::from_evidence(&ev, chrono::Utc::now())).unwrap();
        let plan = serde_json::to_value(&plan).unwrap();
        let steps = steps_of(Some(&plan));
        assert!(!steps.is_empty());
        assert_eq!(steps[0].action, "set-arg");
        assert!(steps[0].patches_workload() && steps[0].revertible(), "{:?}", steps[0]);
        assert!(
            steps.iter().skip(1).all(|s| s.needs.contains(&steps[0].id) || !s.needs.is_empty() || s.patch.is_none())
        );
        let (ready, stable) = verification_of(Some(&plan));
        assert!(ready > Duration::ZERO && stable > Duration::ZERO);
        assert!(steps_of(None).is_empty());
    }

    #[test]
    fn detects_patches_already_applied() {
        let obj = serde_json::json!({"spec": {"args": ["--max-model-len", "20144"]}});
        let done = serde_json::json!([{"op": "test", "path": "/spec/args/1", "value": "32768"}, {"op": "replace", "path": "/spec/args/1", "value": "20144"}]);
        let todo = serde_json::json!([{"op": "replace", "path": "/spec/args/1", "value": "16384"}]);
        assert!(already_applied(&obj, &done));
        assert!(!already_applied(&obj, &todo));
        assert!(!already_applied(&obj, &serde_json::json!([])));
        assert!(already_applied(&obj, &serde_json::json!([{"op": "remove", "path": "/spec/x"}])));
        let append = serde_json::json!([{"op": "add", "path": "/spec/args/-", "value": "20144"}]);
        assert!(already_applied(&obj, &append));
        let append = serde_json::json!([{"op": "add", "path": "/spec/args/-", "value": "--enforce-eager"}]);
        assert!(!already_applied(&obj, &append));
    }
}
