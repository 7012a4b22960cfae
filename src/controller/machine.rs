//! The execution state machine, as a pure function.
//!
//! `(proposal, observed world, settings) -> next` ([`next`]), where the next
//! thing is a status write, one effect on the cluster (a patch, a cordon, a
//! pod deletion) whose result becomes a status write ([`record`]), releasing
//! podmedic's finalizer, or waiting. The reconciler in [`super::execute`]
//! reads what [`needs`] asks for, calls [`next`], performs the one thing it
//! returns, and writes the status; nothing here talks to a cluster, so every
//! path is tested without one (see the tests: every kill point between two
//! effects, every interleaving of decision, dry-run switch, expiry,
//! deletion, a human edit and a second replica).
//!
//! # Flow
//!
//! ```text
//! Proposed ──approve──► Approved ──limits ok──► Executing ──all steps applied──► Verifying ──ready in time, then stable──► Succeeded
//!  │ │ └──reject──► Rejected   │ └─expired / workload changed──► Expired / Superseded
//!  │ └─approve in dry-run──► NotExecuted                            │ step failed / not ready in time / unstable
//!  ├──expiresAt──► Expired                                          ▼
//!  └──workload template changed──► Superseded            revert applied steps ─► RolledBack (Failed if a revert was refused)
//! ```
//!
//! # Guarantees
//!
//! - **Nothing runs without podmedic's stamp and a human's decision.** A
//!   proposal whose status lacks podmedic's stamp for exactly this object
//!   ([`crate::crd::is_stamped`]) is never touched. Execution starts only
//!   from `Approved` with a recorded human decider, and every forward effect
//!   re-checks, just before it runs, that podmedic is not in dry-run, the
//!   proposal is not dry-run, and it has not expired.
//! - **One dry-run rule.** A controller in dry-run performs no effect at all
//!   (approved and executing proposals pause, and expire if not resumed in
//!   time); a decision on a dry-run proposal, or while podmedic runs in
//!   dry-run, is recorded the same way whatever the channel, as
//!   `NotExecuted` for an approval, and ends the proposal (so no workload is
//!   left with an open proposal for ever).
//! - **Each step at most once, whatever crashes.** A step is recorded
//!   `Applying`, with the object's `resourceVersion` and the values of the
//!   fields it will change, *before* its change is sent; the change carries
//!   a `test` of that `resourceVersion`, so it lands only on exactly the
//!   object that was read. After a crash, a step found `Applying` is first
//!   compared with the live object: already there → `Applied` without
//!   sending anything; object untouched → sent; changed by someone else →
//!   the step fails and nothing is sent.
//! - **Plans are bound to what they were rendered for.** The workload's UID
//!   and pod-template hash must match the proposal's (else `Superseded`,
//!   before anything ran); between steps, the template must still be what
//!   podmedic's own last write left.
//! - **Reverts never clobber.** A revert restores only the fields podmedic
//!   changed, and only while they still hold exactly what podmedic wrote
//!   (`test` operations, plus the `resourceVersion` read just before);
//!   otherwise the step becomes `RevertRefused` and the proposal `Failed`
//!   for a human. A node podmedic did not cordon is never uncordoned.
//! - **Verification** means Ready within `ready_within_seconds` of the last
//!   step, then stable (no new restart, still Ready) for
//!   `no_restart_for_seconds` from the moment it became Ready.
//!
//! # Assumptions
//!
//! - Patches are absolute values rendered from the object as read, so
//!   applying one twice equals applying it once; the spec is immutable (CRD
//!   CEL rule, admission policy, and the stamp).
//! - Deleting a pod (with its UID as precondition) is idempotent.
//! - The concurrency slots and the circuit breaker live in the leader's
//!   memory; after a restart an execution in flight re-takes its slot.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::actions::patch::PatchOp;
use crate::actions::workload::WorkloadObs;
use crate::actions::{Action, ActionKind};
use crate::approval::{self, Refusal};
use crate::crd::{
    Anchor, CORDONED_BY_ANNOTATION, DecidedVia, FINALIZER, Phase, RecoveryProposal, RecoveryProposalStatus, StepState,
    StepStatus,
};
use crate::playbook::{OnFailure, PlannedStep};

/// Default time for a fixed workload to become Ready.
pub const DEFAULT_READY_WITHIN: Duration = Duration::from_secs(600);
/// Default time it must then stay stable.
pub const DEFAULT_STABLE_FOR: Duration = Duration::from_secs(60);
/// How often an open proposal is looked at when nothing else wakes it.
pub const RESYNC: Duration = Duration::from_secs(300);

/// The operator's settings the machine reads.
#[derive(Debug, Clone)]
pub struct Settings {
    /// podmedic runs in dry-run: no effect at all.
    pub dry_run: bool,
    /// Most executions per workload per 24 hours.
    pub max_attempts_per_day: u32,
    /// Cap on the stability window.
    pub verify_window_cap: Option<Duration>,
    /// Cap on the time to become Ready.
    pub verify_ready_cap: Option<Duration>,
    /// Most nodes cordoned by podmedic at the same time, cluster-wide.
    pub max_cordoned_nodes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dry_run: false,
            max_attempts_per_day: 3,
            verify_window_cap: None,
            verify_ready_cap: None,
            max_cordoned_nodes: 1,
        }
    }
}

/// A node, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeObs {
    /// Its name.
    pub name: String,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// podmedic's cordon annotation, if set.
    pub cordoned_by: Option<String>,
    /// `metadata.resourceVersion`.
    pub resource_version: String,
    /// Whether it has an annotations map at all.
    pub has_annotations: bool,
}

/// How the target looks after the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Rolled out and Ready (every pod), since the given time.
    Healthy {
        /// The latest Ready transition among its pods.
        since: Timestamp,
    },
    /// Not (yet) rolled out or not Ready.
    Pending(String),
    /// A new crash since the fix, or the workload is gone.
    Unhealthy(String),
}

/// What the reconciler read for one call of [`next`] (see [`needs`]).
#[derive(Debug, Clone)]
pub struct Observed {
    /// The time.
    pub now: Timestamp,
    /// The target workload: `None` not read, `Some(None)` gone.
    pub workload: Option<Option<WorkloadObs>>,
    /// The node of the step at hand, when it acts on one.
    pub node: Option<NodeObs>,
    /// Nodes cordoned by podmedic (its annotation), this one excepted.
    pub cordoned_elsewhere: usize,
    /// The pod of a delete-pod step: `None` not read, `Some(None)` gone,
    /// `Some(Some(uid))` present.
    pub pod: Option<Option<String>>,
    /// The target's health (`Verifying`).
    pub health: Option<Health>,
    /// The circuit breaker is open.
    pub breaker_open: bool,
    /// Other executions on this workload in the last 24 hours.
    pub attempts_today: u32,
    /// A concurrency slot is free (or held by this proposal).
    pub slot_free: bool,
}

impl Observed {
    /// Nothing read yet, at `now`.
    pub fn at(now: Timestamp) -> Self {
        Observed {
            now,
            workload: None,
            node: None,
            cordoned_elsewhere: 0,
            pod: None,
            health: None,
            breaker_open: false,
            attempts_today: 0,
            slot_free: true,
        }
    }
}

/// What [`next`] needs read for a proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// The target workload.
    pub workload: bool,
    /// This node (and how many others podmedic cordoned).
    pub node: Option<String>,
    /// This pod.
    pub pod: Option<String>,
    /// The target's health.
    pub health: bool,
    /// Limits: breaker, attempts, a concurrency slot.
    pub limits: bool,
}

/// A Kubernetes Event to record with a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Warning (else Normal).
    pub warning: bool,
    /// The Event's reason.
    pub reason: &'static str,
    /// Its note.
    pub message: String,
}

/// One effect on the cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A JSON Patch on the target workload (its first op tests the
    /// `resourceVersion` that was read).
    PatchWorkload {
        /// The operations.
        ops: Vec<PatchOp>,
    },
    /// Mark the node unschedulable and annotate it with the proposal's UID:
    /// a JSON Patch that tests the `resourceVersion` read just before.
    Cordon {
        /// The node.
        node: String,
        /// The proposal's UID (the annotation's value).
        by: String,
        /// The node's `resourceVersion` as read.
        resource_version: String,
        /// Whether the node has an annotations map (else one is added).
        has_annotations: bool,
    },
    /// Undo podmedic's own cordon: a JSON Patch that tests the annotation
    /// and `spec.unschedulable` before removing both.
    Uncordon {
        /// The node.
        node: String,
        /// The proposal's UID.
        by: String,
    },
    /// Delete the pod, with its UID as precondition.
    DeletePod {
        /// The pod.
        name: String,
        /// Its UID.
        uid: Option<String>,
    },
}

impl Effect {
    /// A bounded label for metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Effect::PatchWorkload { .. } => "patch-workload",
            Effect::Cordon { .. } => "cordon-node",
            Effect::Uncordon { .. } => "uncordon-node",
            Effect::DeletePod { .. } => "delete-pod",
        }
    }
}

/// Whether an effect moves the plan forward or undoes a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Applying a step.
    Apply,
    /// Reverting a step.
    Revert,
}

/// One effect to perform for one step.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectPlan {
    /// Index of the step in `status.steps`.
    pub step: usize,
    /// Apply or revert.
    pub direction: Direction,
    /// The action's kind (a metric label).
    pub action: ActionKind,
    /// The effect.
    pub effect: Effect,
}

/// How an effect went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Done; for workload patches, the object as the API server stored it.
    Done {
        /// The object after the effect, when the API returns one.
        object: Option<Value>,
    },
    /// The API server refused because the object is not as read (a failed
    /// `test`, a precondition or a conflict): nothing was changed.
    Refused(String),
    /// The object does not exist.
    Gone(String),
    /// A definite failure (forbidden, invalid): nothing was changed.
    Failed(String),
    /// The call failed in a way that leaves unknown whether it took effect
    /// (timeout, connection reset, 5xx): the step is looked at again.
    Unknown(String),
}

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Not podmedic's proposal (no or wrong stamp): never touched.
    Ignore(&'static str),
    /// Nothing to write; look again after this long (`None`: on change).
    Wait(Option<Duration>),
    /// Write this status (guarded by the read `resourceVersion`), record the
    /// note, then look again after `requeue`.
    Write {
        /// The whole new status.
        status: Box<RecoveryProposalStatus>,
        /// An Event to record.
        note: Option<Note>,
        /// When to look again.
        requeue: Duration,
    },
    /// Perform one effect, then write what [`record`] gives for its outcome.
    Effect(EffectPlan),
    /// Remove podmedic's finalizer: nothing more will happen to it.
    Release,
}

fn write(status: RecoveryProposalStatus, note: Option<Note>, requeue: Duration) -> Next {
    Next::Write { status: Box::new(status), note, requeue }
}

fn note(warning: bool, reason: &'static str, message: impl Into<String>) -> Option<Note> {
    Some(Note { warning, reason, message: message.into() })
}

fn time(t: Timestamp) -> Time {
    Time(t)
}

fn until(from: Timestamp, to: Timestamp) -> Duration {
    let d = to.duration_since(from);
    if d.is_negative() { Duration::ZERO } else { d.unsigned_abs() }
}

fn since(from: Timestamp, now: Timestamp) -> Duration {
    until(from, now)
}

fn has_finalizer(rxp: &RecoveryProposal) -> bool {
    rxp.metadata.finalizers.as_ref().is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

fn steps_of(rxp: &RecoveryProposal) -> &[PlannedStep] {
    rxp.spec.plan.as_ref().map_or(&[], |p| p.steps.as_slice())
}

/// Where a step's change lands.
enum Target<'a> {
    Workload(&'a [PatchOp]),
    Node(String),
    Pod(String),
    Nothing,
    Unexecutable,
}

fn target_of<'a>(rxp: &'a RecoveryProposal, step: &'a PlannedStep) -> Target<'a> {
    match &step.action {
        Action::CordonNode { node } => Target::Node(node.clone()),
        Action::DeletePod { pod } => Target::Pod(pod.clone()),
        Action::Notify { .. } | Action::WaitReady { .. } => Target::Nothing,
        a if a.patches_workload() => match step.patch.as_deref() {
            Some(ops) if !ops.is_empty() && matches!(rxp.spec.target.kind.as_str(), "Deployment" | "StatefulSet") => {
                Target::Workload(ops)
            }
            Some([]) => Target::Nothing,
            _ => Target::Unexecutable,
        },
        _ => Target::Unexecutable,
    }
}

/// The fields a step changes: for each patch path, the whole field that
/// holds it (a container's `args`, `env`, `resources`, a probe; the pod
/// spec's `volumes`, `affinity`, `tolerations`; a template annotation map),
/// so that a revert restores and checks whole values and never addresses an
/// array element by an index that may have moved.
pub fn anchors_of(ops: &[PatchOp]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for op in ops {
        let path = match op {
            PatchOp::Add { path, .. } | PatchOp::Remove { path } | PatchOp::Replace { path, .. } => path,
            PatchOp::Test { .. } => continue,
        };
        let a = anchor_of(path);
        if !out.contains(&a) {
            out.push(a);
        }
    }
    // Drop anchors inside another anchor.
    let all = out.clone();
    out.retain(|a| !all.iter().any(|b| b != a && a.starts_with(&format!("{b}/"))));
    out
}

/// The anchor of one JSON Pointer (see [`anchors_of`]).
pub fn anchor_of(path: &str) -> String {
    let toks: Vec<&str> = path.split('/').skip(1).collect();
    let keep = match toks.as_slice() {
        ["spec", "template", "spec", "containers" | "initContainers", _, _, ..] => 6,
        ["spec", "template", "spec" | "metadata", _, ..] => 4,
        ["spec", "template"] => 2,
        ["spec" | "metadata", _, ..] => 2,
        _ => toks.iter().rposition(|t| t.parse::<usize>().is_err() && *t != "-").map_or(0, |i| i + 1),
    };
    let mut out = String::new();
    for t in toks.iter().take(keep.max(1)) {
        out.push('/');
        out.push_str(t);
    }
    out
}

fn read_anchors(obj: &Value, paths: &[String]) -> Vec<Anchor> {
    paths.iter().map(|p| Anchor { path: p.clone(), value: obj.pointer(p).cloned() }).collect()
}

fn anchors_hold(obj: &Value, anchors: &[Anchor]) -> bool {
    anchors.iter().all(|a| obj.pointer(&a.path) == a.value.as_ref())
}

/// Whether every value a JSON Patch writes is already in `obj` (quantities
/// compared by value: the API server rewrites `40960Mi` as `40Gi`).
pub fn already_applied(obj: &Value, ops: &[PatchOp]) -> bool {
    let same = |a: Option<&Value>, b: &Value| match (a, b) {
        (Some(Value::String(x)), Value::String(y)) if x != y => {
            matches!((crate::actions::quantity::parse(x), crate::actions::quantity::parse(y)), (Ok(p), Ok(q)) if p == q)
        }
        (Some(a), b) => a == b,
        (None, _) => false,
    };
    let mut writes = 0;
    for op in ops {
        match op {
            PatchOp::Add { path, value } if path.ends_with("/-") => {
                writes += 1;
                let parent = obj.pointer(&path[..path.len() - 2]).and_then(Value::as_array);
                if !parent.is_some_and(|a| a.contains(value)) {
                    return false;
                }
            }
            PatchOp::Add { path, value } | PatchOp::Replace { path, value } => {
                writes += 1;
                if !same(obj.pointer(path), value) {
                    return false;
                }
            }
            PatchOp::Remove { path } => {
                writes += 1;
                if obj.pointer(path).is_some() {
                    return false;
                }
            }
            PatchOp::Test { .. } => {}
        }
    }
    writes > 0
}

/// What the reconciler must read before calling [`next`].
pub fn needs(rxp: &RecoveryProposal, settings: &Settings) -> Needs {
    let status = rxp.status.clone().unwrap_or_default();
    let mut n = Needs::default();
    if !crate::crd::is_stamped(rxp) || status.phase.is_terminal() {
        return n;
    }
    match status.phase {
        Phase::Proposed => n.workload = is_workload_kind(rxp),
        Phase::Approved => {
            n.workload = is_workload_kind(rxp);
            n.limits = !settings.dry_run;
        }
        Phase::Executing => {
            let plan = steps_of(rxp);
            let i = reverting_candidate(rxp, &status).or_else(|| forward_candidate(&status, plan));
            if let Some(i) = i
                && let Some(p) = status.steps.get(i).and_then(|s| plan.iter().find(|p| p.id == s.id))
            {
                match target_of(rxp, p) {
                    Target::Workload(_) => n.workload = true,
                    Target::Node(node) => n.node = Some(node),
                    Target::Pod(pod) => n.pod = Some(pod),
                    Target::Nothing | Target::Unexecutable => {}
                }
            }
            n.workload |= is_workload_kind(rxp) && forward_candidate(&status, plan).is_some();
        }
        Phase::Verifying => {
            n.health = true;
        }
        _ => {}
    }
    n
}

fn is_workload_kind(rxp: &RecoveryProposal) -> bool {
    matches!(rxp.spec.target.kind.as_str(), "Deployment" | "StatefulSet")
}

/// The next thing to do for a proposal.
pub fn next(rxp: &RecoveryProposal, obs: &Observed, settings: &Settings) -> Next {
    if !crate::crd::is_stamped(rxp) {
        return Next::Ignore("the proposal does not carry podmedic's stamp");
    }
    let status = rxp.status.clone().unwrap_or_default();
    let deleting = rxp.metadata.deletion_timestamp.is_some();
    if status.phase.is_terminal() || (deleting && !status.phase.is_executing()) {
        return if has_finalizer(rxp) { Next::Release } else { Next::Wait(None) };
    }
    match status.phase {
        Phase::Proposed => proposed(rxp, status, obs, settings),
        Phase::Approved => approved(rxp, status, obs, settings),
        Phase::Executing => executing(rxp, status, obs, settings),
        Phase::Verifying => verifying(rxp, status, obs, settings),
        _ => Next::Wait(None),
    }
}

/// `status` ended in `phase` with `message` (podmedic decides expiry and supersession itself).
pub fn finish(
    mut status: RecoveryProposalStatus,
    phase: Phase,
    message: String,
    now: Timestamp,
) -> RecoveryProposalStatus {
    status.phase = phase;
    status.message = message;
    if matches!(phase, Phase::Expired | Phase::Superseded) && status.decided_at.is_none() {
        status.decided_by = Some("podmedic".into());
        status.decided_via = Some(DecidedVia::Controller);
        status.decided_at = Some(time(now));
    }
    status
}

fn superseded_by(rxp: &RecoveryProposal, obs: &Observed) -> Option<String> {
    approval::superseded_by(rxp, obs.workload.as_ref())
}

fn proposed(rxp: &RecoveryProposal, status: RecoveryProposalStatus, obs: &Observed, settings: &Settings) -> Next {
    let now = obs.now;
    if rxp.spec.expires_at.0 <= now {
        let s = finish(status, Phase::Expired, "expired before a decision; nothing was changed".into(), now);
        return write(s, note(false, "Expired", "expired before a decision; nothing was changed"), Duration::ZERO);
    }
    let wake = Next::Wait(Some((until(now, rxp.spec.expires_at.0) + Duration::from_secs(1)).min(RESYNC)));
    if let Some(why) = superseded_by(rxp, obs) {
        let msg = format!("superseded: {why}; nothing was changed");
        return write(
            finish(status, Phase::Superseded, msg.clone(), now),
            note(false, "Superseded", msg),
            Duration::ZERO,
        );
    }
    let request =
        match approval::decision_from_annotations(rxp.metadata.annotations.as_ref().unwrap_or(&Default::default())) {
            Ok(Some(r)) => r,
            Ok(None) => return wake,
            Err(refusal) => return refuse(status, &refusal, wake),
        };
    match approval::decided_status(rxp, &request, settings.dry_run, &time(now)) {
        Ok(s) => {
            let msg = s.message.clone();
            let reason = s.phase.as_str();
            write(s, note(false, reason, msg), Duration::ZERO)
        }
        Err(refusal) => refuse(status, &refusal, wake),
    }
}

fn refuse(mut status: RecoveryProposalStatus, refusal: &Refusal, wake: Next) -> Next {
    let msg = format!("decision refused: {refusal}");
    if status.message == msg {
        return wake;
    }
    status.message = msg.clone();
    let requeue = match wake {
        Next::Wait(Some(d)) => d,
        _ => RESYNC,
    };
    write(status, note(true, "DecisionRefused", msg), requeue)
}

/// Leaves `status` with `message` unless it already says so (then waits).
fn say(mut status: RecoveryProposalStatus, warning: bool, reason: &'static str, message: &str, then: Duration) -> Next {
    if status.message == message {
        return Next::Wait(Some(then));
    }
    status.message = message.to_owned();
    write(status, note(warning, reason, message), then)
}

const PAUSED: &str = "paused: podmedic runs in dry-run and executes nothing";

fn approved(rxp: &RecoveryProposal, status: RecoveryProposalStatus, obs: &Observed, settings: &Settings) -> Next {
    let now = obs.now;
    if rxp.spec.dry_run {
        let msg = "approved on a dry-run proposal: recorded, never executed".to_owned();
        return write(
            finish(status, Phase::NotExecuted, msg.clone(), now),
            note(false, "NotExecuted", msg),
            Duration::ZERO,
        );
    }
    if rxp.spec.expires_at.0 <= now {
        let msg = "approved but not started before it expired; nothing was changed".to_owned();
        return write(finish(status, Phase::Expired, msg.clone(), now), note(true, "Expired", msg), Duration::ZERO);
    }
    let expiry = until(now, rxp.spec.expires_at.0) + Duration::from_secs(1);
    if settings.dry_run {
        return say(status, false, "Paused", PAUSED, expiry.min(RESYNC));
    }
    if status.decided_by.as_deref().is_none_or(str::is_empty) || !status.decided_via.is_some_and(DecidedVia::is_human) {
        let msg = "no human decision is recorded on this proposal; not executing".to_owned();
        return write(finish(status, Phase::Failed, msg.clone(), now), note(true, "Failed", msg), Duration::ZERO);
    }
    if let Some(why) = superseded_by(rxp, obs) {
        let msg = format!("superseded: {why}; nothing was changed");
        return write(
            finish(status, Phase::Superseded, msg.clone(), now),
            note(true, "Superseded", msg),
            Duration::ZERO,
        );
    }
    if obs.breaker_open {
        return say(
            status,
            true,
            "CircuitBreakerOpen",
            "circuit breaker open: too many executions failed recently; waiting",
            Duration::from_secs(30).min(expiry),
        );
    }
    if obs.attempts_today >= settings.max_attempts_per_day {
        let msg = format!(
            "{} executions on this workload in the last 24h (limit {}); not executing",
            obs.attempts_today, settings.max_attempts_per_day
        );
        return write(finish(status, Phase::Failed, msg.clone(), now), note(true, "Failed", msg), Duration::ZERO);
    }
    if !obs.slot_free {
        return Next::Wait(Some(Duration::from_secs(10).min(expiry)));
    }
    let mut s = status;
    s.phase = Phase::Executing;
    s.message = "executing the approved plan".into();
    s.steps = steps_of(rxp).iter().map(|p| StepStatus::pending(&p.id)).collect();
    s.template_hash = obs.workload.as_ref().and_then(|w| w.as_ref()).and_then(|w| w.template_hash.clone());
    write(s, note(false, "Executing", "executing the approved plan"), Duration::ZERO)
}

/// The step a revert works on, when the execution is reverting.
fn reverting_candidate(rxp: &RecoveryProposal, status: &RecoveryProposalStatus) -> Option<usize> {
    reverting(rxp, status)?;
    status.steps.iter().rposition(|s| s.state == StepState::Applied && revertible(rxp, s))
}

/// Whether the execution is reverting: a failed step whose policy is to revert.
fn reverting(rxp: &RecoveryProposal, status: &RecoveryProposalStatus) -> Option<String> {
    let plan = steps_of(rxp);
    let failed = status.steps.iter().find(|s| s.state == StepState::Failed)?;
    let policy = plan.iter().find(|p| p.id == failed.id).map_or(OnFailure::Revert, |p| p.on_failure);
    (policy != OnFailure::Stop).then(|| failed.id.clone())
}

fn revertible(rxp: &RecoveryProposal, s: &StepStatus) -> bool {
    if s.unchanged {
        return false;
    }
    let Some(p) = steps_of(rxp).iter().find(|p| p.id == s.id) else { return false };
    match target_of(rxp, p) {
        Target::Workload(_) => !s.prior.is_empty(),
        Target::Node(_) => true,
        _ => false,
    }
}

/// The next forward step: one in flight, else the first pending one whose
/// needs are met.
fn forward_candidate(status: &RecoveryProposalStatus, plan: &[PlannedStep]) -> Option<usize> {
    if status.steps.iter().any(|s| s.state == StepState::Failed) {
        return None;
    }
    let state_of = |id: &str| status.steps.iter().find(|s| s.id == id).map(|s| s.state);
    status.steps.iter().position(|s| s.state == StepState::Applying).or_else(|| {
        status.steps.iter().position(|s| {
            s.state == StepState::Pending
                && plan.iter().find(|p| p.id == s.id).is_none_or(|p| {
                    p.needs.iter().all(|n| matches!(state_of(n), Some(StepState::Applied | StepState::Skipped) | None))
                })
        })
    })
}

fn executing(rxp: &RecoveryProposal, mut status: RecoveryProposalStatus, obs: &Observed, settings: &Settings) -> Next {
    let now = obs.now;
    if settings.dry_run {
        return say(status, false, "Paused", PAUSED, RESYNC);
    }
    let plan = steps_of(rxp);
    if let Some(failed) = status.steps.iter().find(|s| s.state == StepState::Failed).map(|s| s.id.clone()) {
        return match reverting(rxp, &status) {
            Some(_) => revert_next(rxp, status, obs, &format!("step {failed} failed")),
            None => {
                let msg = format!("step {failed} failed; stopped (on_failure: stop), a human decides what to keep");
                write(finish(status, Phase::Failed, msg.clone(), now), note(true, "Failed", msg), Duration::ZERO)
            }
        };
    }
    let Some(i) = forward_candidate(&status, plan) else {
        if let Some(j) = status.steps.iter().position(|s| s.state == StepState::Pending) {
            status.steps[j].state = StepState::Skipped;
            status.steps[j].message = "skipped: a step it needs did not apply".into();
            return write(status, None, Duration::ZERO);
        }
        status.phase = Phase::Verifying;
        status.message = "all steps applied; verifying".into();
        status.verify_started_at = Some(time(now));
        status.ready_since = None;
        status.applied_generation = obs.workload.as_ref().and_then(|w| w.as_ref()).and_then(|w| w.generation);
        return write(status, note(false, "Verifying", "all steps applied; verifying"), Duration::from_secs(2));
    };
    let Some(step) = plan.iter().find(|p| p.id == status.steps[i].id).cloned() else {
        status.steps[i].state = StepState::Skipped;
        status.steps[i].message = "not in the plan".into();
        return write(status, None, Duration::ZERO);
    };
    let target = target_of(rxp, &step);
    let fail = |mut status: RecoveryProposalStatus, msg: String| {
        status.steps[i].state =
            if step.on_failure == OnFailure::Continue { StepState::Skipped } else { StepState::Failed };
        status.steps[i].message = msg.clone();
        status.steps[i].finished_at = Some(time(now));
        write(status, note(true, "StepFailed", format!("step {}: {msg}", step.id)), Duration::ZERO)
    };
    if status.steps[i].state == StepState::Pending {
        // Boundary 1: re-check, then record the intent and what will change.
        if rxp.spec.expires_at.0 <= now {
            let applied = status.steps.iter().any(|s| s.state == StepState::Applied);
            if !applied {
                let msg = "expired before the first change; nothing was changed".to_owned();
                return write(
                    finish(status, Phase::Expired, msg.clone(), now),
                    note(true, "Expired", msg),
                    Duration::ZERO,
                );
            }
            status.steps[i].state = StepState::Failed;
            status.steps[i].message = "the proposal expired before this step; reverting what was applied".into();
            return write(status, note(true, "StepFailed", "expired mid-execution"), Duration::ZERO);
        }
        status.steps[i].started_at = Some(time(now));
        match &target {
            Target::Nothing => {
                status.steps[i].state = StepState::Applied;
                status.steps[i].unchanged = true;
                status.steps[i].message = format!("{}: recorded", step.action.kind());
                status.steps[i].finished_at = Some(time(now));
                return write(status, None, Duration::ZERO);
            }
            Target::Unexecutable => {
                return fail(
                    status,
                    format!("action `{}` has no rendered change and cannot be executed", step.action.kind()),
                );
            }
            Target::Workload(ops) => {
                let Some(Some(w)) = obs.workload.as_ref() else {
                    return fail(status, "the workload no longer exists".into());
                };
                if w.uid != rxp.spec.target.uid {
                    return fail(status, "the workload was recreated since the proposal".into());
                }
                if w.template_hash != status.template_hash {
                    return fail(
                        status,
                        "the workload's pod template changed since podmedic last wrote it; not applied".into(),
                    );
                }
                status.steps[i].state = StepState::Applying;
                status.steps[i].read_version = Some(w.resource_version.clone());
                status.steps[i].prior = read_anchors(&w.object, &anchors_of(ops));
            }
            Target::Node(node) => {
                let Some(n) = obs.node.as_ref().filter(|n| &n.name == node) else {
                    return fail(status, format!("node {node} does not exist"));
                };
                if !(n.unschedulable && n.cordoned_by.is_none())
                    && obs.cordoned_elsewhere >= settings.max_cordoned_nodes
                {
                    return fail(
                        status,
                        format!(
                            "{} other node(s) are cordoned by podmedic (limit {}); not cordoning {node}",
                            obs.cordoned_elsewhere, settings.max_cordoned_nodes
                        ),
                    );
                }
                status.steps[i].state = StepState::Applying;
                status.steps[i].prior = vec![
                    Anchor { path: "/spec/unschedulable".into(), value: Some(Value::Bool(n.unschedulable)) },
                    Anchor { path: cordon_annotation_path(), value: n.cordoned_by.clone().map(Value::String) },
                ];
            }
            Target::Pod(_) => status.steps[i].state = StepState::Applying,
        }
        return write(status, None, Duration::ZERO);
    }
    // Boundary 2: the step is Applying.
    if rxp.spec.expires_at.0 <= now {
        status.steps[i].state = StepState::Failed;
        status.steps[i].message = "the proposal expired before this step's change was sent; reverting".into();
        return write(status, note(true, "StepFailed", "expired mid-execution"), Duration::ZERO);
    }
    let uid = rxp.metadata.uid.clone().unwrap_or_default();
    let action = step.action.kind();
    match target {
        Target::Workload(ops) => {
            let Some(Some(w)) = obs.workload.as_ref() else {
                return fail(status, "the workload no longer exists".into());
            };
            let read = status.steps[i].read_version.clone().unwrap_or_default();
            if w.resource_version == read && w.uid == rxp.spec.target.uid {
                let mut all =
                    vec![PatchOp::Test { path: "/metadata/resourceVersion".into(), value: Value::String(read) }];
                all.extend(ops.iter().cloned());
                return Next::Effect(EffectPlan {
                    step: i,
                    direction: Direction::Apply,
                    action,
                    effect: Effect::PatchWorkload { ops: all },
                });
            }
            if w.uid == rxp.spec.target.uid && already_applied(&w.object, ops) {
                // The change went through before a crash: record it, send nothing.
                return record_applied(status, i, Some(&w.object), "applied (found in place after a restart)", now);
            }
            fail(status, "the workload changed before this step's change was sent; not applied".into())
        }
        Target::Node(node) => {
            let prior_cordoned =
                status.steps[i].prior.first().and_then(|a| a.value.as_ref()) == Some(&Value::Bool(true));
            // Cordoned by someone else since the prior state was recorded
            // (a person, between two reconciles): theirs, never claimed.
            let cordoned_since =
                obs.node.as_ref().is_some_and(|n| n.unschedulable && n.cordoned_by.as_deref() != Some(uid.as_str()));
            if prior_cordoned || cordoned_since {
                status.steps[i].state = StepState::Applied;
                status.steps[i].unchanged = true;
                status.steps[i].message = format!(
                    "node {node} was already cordoned by someone else; podmedic did not cordon it and will not uncordon it"
                );
                status.steps[i].finished_at = Some(time(now));
                return write(status, None, Duration::ZERO);
            }
            if obs.node.as_ref().is_some_and(|n| n.unschedulable && n.cordoned_by.as_deref() == Some(uid.as_str())) {
                return record_node(status, i, &node, &uid, now);
            }
            let Some(n) = obs.node.as_ref() else {
                return fail(status, format!("node {node} does not exist"));
            };
            let effect = Effect::Cordon {
                node,
                by: uid,
                resource_version: n.resource_version.clone(),
                has_annotations: n.has_annotations,
            };
            Next::Effect(EffectPlan { step: i, direction: Direction::Apply, action, effect })
        }
        Target::Pod(pod) => {
            let want_uid = (rxp.spec.pod == pod).then(|| rxp.spec.pod_uid.clone()).flatten();
            match &obs.pod {
                Some(None) => record_done(status, i, format!("pod {pod} was already gone"), now),
                Some(Some(u)) if want_uid.as_ref().is_some_and(|w| w != u) => {
                    record_done(status, i, format!("pod {pod} was already replaced"), now)
                }
                _ => Next::Effect(EffectPlan {
                    step: i,
                    direction: Direction::Apply,
                    action,
                    effect: Effect::DeletePod { name: pod, uid: want_uid },
                }),
            }
        }
        Target::Nothing | Target::Unexecutable => record_done(status, i, format!("{action}: recorded"), now),
    }
}

fn cordon_annotation_path() -> String {
    format!("/metadata/annotations/{}", crate::actions::patch::escape(CORDONED_BY_ANNOTATION))
}

fn record_done(mut status: RecoveryProposalStatus, i: usize, message: String, now: Timestamp) -> Next {
    status.steps[i].state = StepState::Applied;
    status.steps[i].message = message;
    status.steps[i].finished_at = Some(time(now));
    write(status, None, Duration::ZERO)
}

fn record_applied(
    mut status: RecoveryProposalStatus,
    i: usize,
    object: Option<&Value>,
    message: &str,
    now: Timestamp,
) -> Next {
    let paths: Vec<String> = status.steps[i].prior.iter().map(|a| a.path.clone()).collect();
    if let Some(obj) = object {
        status.steps[i].written = read_anchors(obj, &paths);
        status.template_hash = crate::actions::workload::template_hash(obj);
    }
    status.steps[i].state = StepState::Applied;
    status.steps[i].message = message.to_owned();
    status.steps[i].finished_at = Some(time(now));
    write(status, None, Duration::ZERO)
}

fn record_node(mut status: RecoveryProposalStatus, i: usize, node: &str, by: &str, now: Timestamp) -> Next {
    status.steps[i].written = vec![
        Anchor { path: "/spec/unschedulable".into(), value: Some(Value::Bool(true)) },
        Anchor { path: cordon_annotation_path(), value: Some(Value::String(by.to_owned())) },
    ];
    status.steps[i].state = StepState::Applied;
    status.steps[i].message = format!("cordoned node {node}");
    status.steps[i].finished_at = Some(time(now));
    write(status, None, Duration::ZERO)
}

/// Reverts the newest applied step that podmedic changed; when none is
/// left, ends in `RolledBack`, or `Failed` if a revert was refused.
fn revert_next(rxp: &RecoveryProposal, mut status: RecoveryProposalStatus, obs: &Observed, why: &str) -> Next {
    let now = obs.now;
    let Some(i) = reverting_candidate(rxp, &status) else {
        let refused = status.steps.iter().any(|s| s.state == StepState::RevertRefused);
        let (phase, msg) = if refused {
            (
                Phase::Failed,
                format!("{why}; a revert was refused (the object changed since podmedic's write): a human decides"),
            )
        } else {
            (Phase::RolledBack, format!("{why}; the applied steps were reverted"))
        };
        return write(finish(status, phase, msg.clone(), now), note(true, phase.as_str(), msg), Duration::ZERO);
    };
    let Some(step) = steps_of(rxp).iter().find(|p| p.id == status.steps[i].id).cloned() else {
        status.steps[i].state = StepState::RevertRefused;
        status.steps[i].message = "revert refused: the step is not in the plan".into();
        return write(status, None, Duration::ZERO);
    };
    let action = step.action.kind();
    let uid = rxp.metadata.uid.clone().unwrap_or_default();
    let refuse = |mut status: RecoveryProposalStatus, msg: String| {
        let id = status.steps[i].id.clone();
        status.steps[i].state = StepState::RevertRefused;
        status.steps[i].message = msg.clone();
        status.steps[i].finished_at = Some(time(now));
        write(status, note(true, "RevertRefused", format!("step {id}: {msg}")), Duration::ZERO)
    };
    match target_of(rxp, &step) {
        Target::Workload(_) => {
            let Some(Some(w)) = obs.workload.as_ref() else {
                return refuse(status, "revert refused: the workload no longer exists".into());
            };
            let s = status.steps[i].clone();
            if w.uid != rxp.spec.target.uid {
                return refuse(status, "revert refused: the workload was recreated".into());
            }
            if anchors_hold(&w.object, &s.prior) {
                status.steps[i].state = StepState::Reverted;
                status.steps[i].message = "reverted (found in place)".into();
                status.steps[i].finished_at = Some(time(now));
                return write(status, None, Duration::ZERO);
            }
            if s.written.is_empty() || !anchors_hold(&w.object, &s.written) {
                let changed: Vec<&str> = s
                    .written
                    .iter()
                    .filter(|a| w.object.pointer(&a.path) != a.value.as_ref())
                    .map(|a| a.path.as_str())
                    .collect();
                return refuse(
                    status,
                    format!(
                        "revert refused: {} changed since podmedic's write; podmedic never overwrites a change it did not make",
                        if changed.is_empty() { "the workload".to_owned() } else { changed.join(", ") }
                    ),
                );
            }
            let ops = revert_ops(&w.resource_version, &s.written, &s.prior);
            Next::Effect(EffectPlan {
                step: i,
                direction: Direction::Revert,
                action,
                effect: Effect::PatchWorkload { ops },
            })
        }
        Target::Node(node) => match obs.node.as_ref() {
            Some(n) if n.unschedulable && n.cordoned_by.as_deref() == Some(uid.as_str()) => Next::Effect(EffectPlan {
                step: i,
                direction: Direction::Revert,
                action,
                effect: Effect::Uncordon { node, by: uid },
            }),
            _ => {
                status.steps[i].state = StepState::Reverted;
                status.steps[i].message = format!("node {node} is no longer cordoned by podmedic; left as it is");
                status.steps[i].finished_at = Some(time(now));
                write(status, None, Duration::ZERO)
            }
        },
        _ => refuse(status, "revert refused: nothing to revert".into()),
    }
}

/// The guarded inverse of a workload step: `test` the `resourceVersion`
/// just read and every field as podmedic wrote it, then restore the prior
/// values of exactly those fields.
pub fn revert_ops(resource_version: &str, written: &[Anchor], prior: &[Anchor]) -> Vec<PatchOp> {
    let mut ops =
        vec![PatchOp::Test { path: "/metadata/resourceVersion".into(), value: Value::String(resource_version.into()) }];
    for a in written {
        if let Some(v) = &a.value {
            ops.push(PatchOp::Test { path: a.path.clone(), value: v.clone() });
        }
    }
    for p in prior {
        let now_there = written.iter().find(|a| a.path == p.path).and_then(|a| a.value.as_ref()).is_some();
        match (&p.value, now_there) {
            (Some(v), true) => ops.push(PatchOp::Replace { path: p.path.clone(), value: v.clone() }),
            (Some(v), false) => ops.push(PatchOp::Add { path: p.path.clone(), value: v.clone() }),
            (None, true) => ops.push(PatchOp::Remove { path: p.path.clone() }),
            (None, false) => {}
        }
    }
    ops
}

fn verifying(rxp: &RecoveryProposal, mut status: RecoveryProposalStatus, obs: &Observed, settings: &Settings) -> Next {
    let now = obs.now;
    if settings.dry_run {
        return say(status, false, "Paused", PAUSED, RESYNC);
    }
    let (ready_within, stable_for) = verification_of(rxp, settings);
    let started = status.verify_started_at.as_ref().map_or(now, |t| t.0);
    let elapsed = since(started, now);
    let fail = |mut status: RecoveryProposalStatus, why: String| {
        let mut v = StepStatus::pending("verify");
        v.state = StepState::Failed;
        v.started_at = Some(time(started));
        v.finished_at = Some(time(now));
        v.message = why.clone();
        status.steps.retain(|s| s.id != "verify");
        status.steps.push(v);
        status.phase = Phase::Executing;
        status.message = why.clone();
        write(status, note(true, "VerificationFailed", why), Duration::ZERO)
    };
    match obs.health.clone() {
        Some(Health::Unhealthy(m)) => fail(status, format!("verification failed: {m}")),
        Some(Health::Healthy { since: ready_at }) => {
            let ready_at = ready_at.max(started);
            let ready_since = status.ready_since.as_ref().map_or(ready_at, |t| t.0);
            if status.ready_since.is_none() && since(started, ready_since) > ready_within {
                return fail(status, "verification failed: not Ready in time".into());
            }
            if since(ready_since, now) >= stable_for {
                let msg = "the workload is healthy after the fix".to_owned();
                return write(
                    finish(status, Phase::Succeeded, msg.clone(), now),
                    note(false, "Succeeded", msg),
                    Duration::ZERO,
                );
            }
            let wait = (stable_for - since(ready_since, now)).min(Duration::from_secs(5));
            if status.ready_since.is_none() {
                status.ready_since = Some(time(ready_since));
                status.message = format!("Ready; verifying it stays stable for {} s", stable_for.as_secs());
                return write(status, None, wait);
            }
            Next::Wait(Some(wait.max(Duration::from_millis(500))))
        }
        Some(Health::Pending(_)) | None if elapsed < ready_within || status.ready_since.is_some() => {
            let m = match obs.health.clone() {
                Some(Health::Pending(m)) => m,
                _ => "health unknown".into(),
            };
            if status.ready_since.is_some() {
                // It was Ready and is not any more: not stable.
                if elapsed >= ready_within {
                    return fail(status, format!("verification failed: not stable ({m})"));
                }
                status.ready_since = None;
                status.message = format!("not Ready any more ({m}); waiting");
                return write(status, None, Duration::from_secs(2));
            }
            Next::Wait(Some(Duration::from_secs(2).min(ready_within - elapsed)))
        }
        Some(Health::Pending(m)) => fail(status, format!("verification failed: not Ready in time ({m})")),
        None => fail(status, "verification failed: health unknown".into()),
    }
}

/// Verification settings of a plan (ready within, then stable for).
pub fn verification_of(rxp: &RecoveryProposal, settings: &Settings) -> (Duration, Duration) {
    let v = rxp.spec.plan.as_ref().and_then(|p| p.verification);
    let secs = |s: i64| Duration::from_secs(u64::try_from(s).unwrap_or(0));
    let ready = v.map_or(DEFAULT_READY_WITHIN, |v| secs(v.ready_within_seconds));
    let stable = v.map_or(DEFAULT_STABLE_FOR, |v| secs(v.no_restart_for_seconds));
    (
        settings.verify_ready_cap.map_or(ready, |cap| ready.min(cap)),
        settings.verify_window_cap.map_or(stable, |cap| stable.min(cap)),
    )
}

/// The status to write after an effect's outcome (pure).
pub fn record(rxp: &RecoveryProposal, plan: &EffectPlan, outcome: Outcome, now: Timestamp) -> Next {
    let mut status = rxp.status.clone().unwrap_or_default();
    let i = plan.step;
    if i >= status.steps.len() {
        return Next::Wait(Some(Duration::ZERO));
    }
    let id = status.steps[i].id.clone();
    match (plan.direction, outcome) {
        (_, Outcome::Unknown(m)) => {
            // Unknown whether it took effect: leave the step as it is; the
            // next look compares it with the live object.
            status.message = format!("step {id}: {m}; looking again");
            write(status, None, Duration::from_secs(5))
        }
        (Direction::Apply, Outcome::Done { object }) => match &plan.effect {
            Effect::PatchWorkload { .. } => record_applied(status, i, object.as_ref(), "applied", now),
            Effect::Cordon { node, by, .. } => record_node(status, i, node, by, now),
            Effect::DeletePod { name, .. } => record_done(status, i, format!("deleted pod {name}"), now),
            Effect::Uncordon { .. } => record_done(status, i, "done".into(), now),
        },
        (Direction::Apply, Outcome::Gone(m)) if matches!(plan.effect, Effect::DeletePod { .. }) => {
            record_done(status, i, format!("already gone ({m})"), now)
        }
        // Refused by its `resourceVersion` test: another writer came first,
        // perhaps a second replica with the same step. Look again, without
        // sending: in place → Applied, else the step fails.
        (Direction::Apply, Outcome::Refused(m))
            if matches!(plan.effect, Effect::PatchWorkload { .. } | Effect::Cordon { .. }) =>
        {
            status.steps[i].read_version = None;
            status.steps[i].message = format!("refused ({m}); checking whether the change is in place");
            write(status, None, Duration::ZERO)
        }
        (Direction::Revert, Outcome::Refused(m)) => {
            status.steps[i].message = format!("revert refused by the API server ({m}); looking again");
            write(status, None, Duration::from_secs(1))
        }
        (Direction::Apply, Outcome::Refused(m) | Outcome::Gone(m) | Outcome::Failed(m)) => {
            let on_failure = steps_of(rxp).iter().find(|p| p.id == id).map_or(OnFailure::Revert, |p| p.on_failure);
            status.steps[i].state =
                if on_failure == OnFailure::Continue { StepState::Skipped } else { StepState::Failed };
            status.steps[i].message = format!("not applied: {m}");
            status.steps[i].finished_at = Some(time(now));
            write(status, note(true, "StepFailed", format!("step {id}: not applied: {m}")), Duration::ZERO)
        }
        (Direction::Revert, Outcome::Done { .. }) => {
            status.steps[i].state = StepState::Reverted;
            status.steps[i].message = match &plan.effect {
                Effect::Uncordon { node, .. } => format!("reverted: uncordoned node {node}"),
                _ => "reverted".into(),
            };
            status.steps[i].finished_at = Some(time(now));
            write(status, None, Duration::ZERO)
        }
        (Direction::Revert, Outcome::Gone(m) | Outcome::Failed(m)) => {
            status.steps[i].state = StepState::RevertRefused;
            status.steps[i].message = format!("revert refused: {m}");
            status.steps[i].finished_at = Some(time(now));
            write(status, note(true, "RevertRefused", format!("step {id}: revert refused: {m}")), Duration::ZERO)
        }
    }
}

/// Seconds as a signed duration (for tests and callers building times).
pub fn secs(s: i64) -> SignedDuration {
    SignedDuration::from_secs(s)
}

#[cfg(test)]
mod tests;
