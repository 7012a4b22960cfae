//! The state machine without a cluster: table tests for each rule, and a
//! property test that drives it against a simulated world through random
//! interleavings of decisions, dry-run switches, expiry, deletion, human
//! edits, a second replica with a stale view, and kills between an effect
//! and its status write.

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::actions::workload::WorkloadObs;
use crate::approval::DecisionRequest;
use crate::crd::{DECIDED_BY_ANNOTATION, DECISION_ANNOTATION, ProposalDiagnosis, RecoveryProposalSpec, TargetRef};

fn t0() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

/// The fixture workload as the API server would return it.
fn workload() -> Value {
    let w =
        crate::actions::Workload::load(std::path::Path::new("tests/fixtures/workloads/vllm-deployment.yaml")).unwrap();
    let mut o = w.object;
    o["metadata"]["uid"] = json!("wl-uid");
    o["metadata"]["resourceVersion"] = json!("100");
    o["metadata"]["generation"] = json!(1);
    o
}

fn plan_for(log: &str, obj: &Value, node_fault: bool) -> crate::playbook::Plan {
    static PLANS: std::sync::Mutex<Vec<(String, bool, crate::playbook::Plan)>> = std::sync::Mutex::new(Vec::new());
    if let Some((_, _, p)) = PLANS.lock().unwrap().iter().find(|(l, f, _)| l == log && *f == node_fault) {
        return p.clone();
    }
    let p = render_plan(log, obj, node_fault);
    PLANS.lock().unwrap().push((log.to_owned(), node_fault, p.clone()));
    p
}

fn render_plan(log: &str, obj: &Value, node_fault: bool) -> crate::playbook::Plan {
    let set = crate::playbook::PlaybookSet::load(&["playbooks"]).unwrap();
    let sigs = crate::signatures::SignatureSet::load(&["patterns"]).unwrap();
    let mut pod = crate::evidence::ContainerFacts { name: "vllm".into(), ..Default::default() };
    pod.limits.insert("nvidia.com/gpu".into(), "1".into());
    pod.node_name = Some("gpu-1".into());
    let ev = crate::evidence::Evidence {
        log: crate::logtext::LogTail::from_text(log, 50),
        container: Some(pod),
        ..Default::default()
    };
    let d = crate::diagnosis::diagnose(&ev, &sigs, None, &Default::default());
    let w = crate::actions::Workload::from_value(obj.clone()).unwrap();
    let mut ctx = crate::playbook::PlanContext::from_evidence(&ev, chrono::Utc::now());
    ctx.pod_name = Some("vllm-0".into());
    if node_fault {
        ctx.node_fault.node_reports = vec!["node condition GpuXid".into()];
    }
    set.plan(&d, Some(&w), &ctx).unwrap()
}

const KV_LOG: &str = "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20144). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.";
const XID_LOG: &str = "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.";

/// A proposal podmedic made for `plan`, stamped, with status `Proposed`.
fn proposal(plan: crate::playbook::Plan, obj: &Value, dry_run: bool) -> RecoveryProposal {
    let spec = RecoveryProposalSpec {
        target: TargetRef {
            kind: "Deployment".into(),
            name: obj["metadata"]["name"].as_str().unwrap().into(),
            uid: "wl-uid".into(),
            generation: Some(1),
            template_hash: crate::actions::workload::template_hash(obj),
        },
        pod: "vllm-0".into(),
        pod_uid: Some("pod-uid".into()),
        container: "vllm".into(),
        node: Some("gpu-1".into()),
        diagnosis: ProposalDiagnosis {
            class: plan.class,
            subclass: String::new(),
            confidence: 0.97,
            source: crate::diagnosis::Source::Signature,
            summary: "s".into(),
            evidence: vec![],
            captures: BTreeMap::new(),
            metrics: None,
        },
        content_hash: "h".into(),
        expires_at: Time(t0() + SignedDuration::from_mins(30)),
        dry_run,
        plan: Some(plan),
    };
    let mut p = RecoveryProposal::new("p", spec);
    p.metadata.namespace = Some("ns".into());
    p.metadata.uid = Some("rxp-uid".into());
    p.metadata.resource_version = Some("1".into());
    p.metadata.finalizers = Some(vec![FINALIZER.into()]);
    p.status =
        Some(RecoveryProposalStatus { stamp: Some(crate::crd::stamp_of(&p)), ..RecoveryProposalStatus::default() });
    p
}

fn kv_proposal() -> RecoveryProposal {
    let obj = workload();
    // (plans are rendered once per log and cached)
    proposal(plan_for(KV_LOG, &obj, false), &obj, false)
}

fn approve(p: &mut RecoveryProposal, by: &str) {
    p.metadata.annotations = Some(
        [(DECISION_ANNOTATION.to_owned(), "approve".to_owned()), (DECIDED_BY_ANNOTATION.to_owned(), by.to_owned())]
            .into(),
    );
}

fn obs(now: Timestamp) -> Observed {
    Observed { workload: Some(Some(WorkloadObs::from_object(workload()))), ..Observed::at(now) }
}

fn status_of(n: &Next) -> &RecoveryProposalStatus {
    match n {
        Next::Write { status, .. } => status,
        other => panic!("expected a status write, got {other:?}"),
    }
}

#[test]
fn unstamped_or_tampered_proposals_are_never_touched() {
    let mut p = kv_proposal();
    approve(&mut p, "sre-oncall");
    // Made by someone else: no stamp at all, even "pre-approved".
    let mut foreign = p.clone();
    foreign.status = Some(RecoveryProposalStatus { phase: Phase::Approved, ..Default::default() });
    assert_eq!(
        next(&foreign, &obs(t0()), &Settings::default()),
        Next::Ignore("the proposal does not carry podmedic's stamp")
    );
    assert_eq!(needs(&foreign, &Settings::default()), Needs::default());
    // podmedic's stamp copied onto another object, or a spec changed after stamping.
    let mut copied = p.clone();
    copied.metadata.uid = Some("other".into());
    assert!(matches!(next(&copied, &obs(t0()), &Settings::default()), Next::Ignore(_)));
    let mut edited = p.clone();
    edited.spec.pod = "victim".into();
    assert!(matches!(next(&edited, &obs(t0()), &Settings::default()), Next::Ignore(_)));
    // The genuine one is decided.
    let n = next(&p, &obs(t0()), &Settings::default());
    assert_eq!(status_of(&n).phase, Phase::Approved);
    assert_eq!(status_of(&n).decided_by.as_deref(), Some("sre-oncall"));
}

#[test]
fn a_dry_run_decision_is_recorded_and_ends_the_proposal() {
    let dry = Settings { dry_run: true, ..Settings::default() };
    // Live proposal, podmedic in dry-run: NotExecuted, whoever decides.
    let mut p = kv_proposal();
    approve(&mut p, "alice");
    let s = status_of(&next(&p, &obs(t0()), &dry)).clone();
    assert_eq!((s.phase, s.decided_by.as_deref()), (Phase::NotExecuted, Some("alice")));
    assert!(s.phase.is_terminal());
    // Dry-run proposal, podmedic live: the same.
    let obj = workload();
    let mut d = proposal(plan_for(KV_LOG, &obj, false), &obj, true);
    approve(&mut d, "alice");
    assert_eq!(status_of(&next(&d, &obs(t0()), &Settings::default())).phase, Phase::NotExecuted);
    // The same rule for a ChatOps decision.
    let req = DecisionRequest {
        decision: crate::approval::Decision::Approve,
        by: "slack:U1".into(),
        via: DecidedVia::Slack,
        digest: Some("d1".into()),
    };
    let w = Some(Some(WorkloadObs::from_object(workload())));
    let s = crate::approval::decide(&kv_proposal(), &req, w.as_ref(), true, &Time(t0())).unwrap();
    assert_eq!(s.phase, Phase::NotExecuted);
}

#[test]
fn a_controller_in_dry_run_executes_nothing_whatever_the_proposal_says() {
    let dry = Settings { dry_run: true, ..Settings::default() };
    let mut p = kv_proposal();
    approve(&mut p, "alice");
    let approved = status_of(&next(&p, &obs(t0()), &Settings::default())).clone();
    p.status = Some(approved);
    // Approved before the restart in dry-run: paused, never started.
    let n = next(&p, &obs(t0()), &dry);
    assert_eq!(status_of(&n).phase, Phase::Approved);
    assert_eq!(status_of(&n).message, PAUSED);
    // …and expires if not resumed in time.
    let later = t0() + SignedDuration::from_mins(31);
    assert_eq!(status_of(&next(&p, &obs(later), &dry)).phase, Phase::Expired);
    // Executing: paused too, no effect.
    let started = status_of(&next(&p, &obs(t0()), &Settings::default())).clone();
    assert_eq!(started.phase, Phase::Executing);
    p.status = Some(started);
    let n = next(&p, &obs(t0()), &dry);
    assert_eq!((status_of(&n).phase, status_of(&n).message.as_str()), (Phase::Executing, PAUSED));
    assert!(status_of(&n).steps.iter().all(|s| s.state == StepState::Pending), "no step moved");
}

#[test]
fn a_stale_approval_expires_instead_of_running() {
    let mut p = kv_proposal();
    approve(&mut p, "alice");
    p.status = Some(status_of(&next(&p, &obs(t0()), &Settings::default())).clone());
    // The breaker was open, then the leader restarted after expiresAt.
    let o = Observed { breaker_open: true, ..obs(t0()) };
    assert_eq!(status_of(&next(&p, &o, &Settings::default())).phase, Phase::Approved);
    let late = t0() + SignedDuration::from_mins(45);
    let n = next(&p, &obs(late), &Settings::default());
    assert_eq!(status_of(&n).phase, Phase::Expired);
}

#[test]
fn a_changed_workload_supersedes_the_proposal() {
    let mut p = kv_proposal();
    let mut changed = workload();
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("vllm/vllm-openai:v0.99.0");
    let o = Observed { workload: Some(Some(WorkloadObs::from_object(changed.clone()))), ..Observed::at(t0()) };
    assert_eq!(status_of(&next(&p, &o, &Settings::default())).phase, Phase::Superseded);
    // Scaling does not.
    let mut scaled = workload();
    scaled["spec"]["replicas"] = json!(4);
    scaled["metadata"]["generation"] = json!(2);
    let o = Observed { workload: Some(Some(WorkloadObs::from_object(scaled))), ..Observed::at(t0()) };
    assert!(matches!(next(&p, &o, &Settings::default()), Next::Wait(_)));
    // Approved, then changed before the start: superseded, nothing runs.
    approve(&mut p, "alice");
    p.status = Some(status_of(&next(&p, &obs(t0()), &Settings::default())).clone());
    let o = Observed { workload: Some(Some(WorkloadObs::from_object(changed))), ..Observed::at(t0()) };
    assert_eq!(status_of(&next(&p, &o, &Settings::default())).phase, Phase::Superseded);
}

#[test]
fn anchors_are_whole_fields() {
    assert_eq!(anchor_of("/spec/template/spec/containers/0/args/3"), "/spec/template/spec/containers/0/args");
    assert_eq!(
        anchor_of("/spec/template/spec/containers/1/resources/limits/memory"),
        "/spec/template/spec/containers/1/resources"
    );
    assert_eq!(anchor_of("/spec/template/spec/volumes/-"), "/spec/template/spec/volumes");
    assert_eq!(anchor_of("/spec/template/metadata/annotations/a~1b"), "/spec/template/metadata/annotations");
    assert_eq!(anchor_of("/spec/replicas"), "/spec/replicas");
    assert_eq!(anchor_of("/spec/template"), "/spec/template");
    let ops = vec![
        PatchOp::Replace { path: "/spec/template".into(), value: json!({}) },
        PatchOp::Add { path: "/spec/template/spec/containers/0/args/-".into(), value: json!("x") },
    ];
    assert_eq!(anchors_of(&ops), ["/spec/template"]);
}

// ---- The simulated world -------------------------------------------------

/// A cluster with one workload, one node, one pod, and the proposal.
#[derive(Debug, Clone)]
struct World {
    now: Timestamp,
    dry_run: bool,
    workload: Value,
    node: NodeObs,
    pod_uid: Option<String>,
    health: Health,
    proposal: RecoveryProposal,
    /// Successful forward effects per step id.
    applied: BTreeMap<String, usize>,
    /// The latest value a human wrote at a path; a revert must leave it.
    human: BTreeMap<String, Value>,
    /// The node was cordoned by someone else before podmedic looked.
    foreign_cordon: bool,
    approved_by_human: bool,
    deleted: bool,
    /// Deleted and its finalizers released: the object is gone.
    gone: bool,
    effects: usize,
}

impl World {
    fn new(proposal: RecoveryProposal) -> Self {
        World {
            now: t0(),
            dry_run: false,
            workload: workload(),
            node: NodeObs {
                name: "gpu-1".into(),
                unschedulable: false,
                cordoned_by: None,
                resource_version: "7".into(),
                has_annotations: true,
            },
            pod_uid: Some("pod-uid".into()),
            health: Health::Pending("rolling out".into()),
            proposal,
            applied: BTreeMap::new(),
            human: BTreeMap::new(),
            foreign_cordon: false,
            approved_by_human: false,
            deleted: false,
            gone: false,
            effects: 0,
        }
    }

    fn bump(&mut self) {
        let rv: u64 = self.workload["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
        self.workload["metadata"]["resourceVersion"] = json!((rv + 1).to_string());
        let g = self.workload["metadata"]["generation"].as_i64().unwrap();
        self.workload["metadata"]["generation"] = json!(g + 1);
    }

    fn settings(&self) -> Settings {
        Settings { dry_run: self.dry_run, ..Settings::default() }
    }

    fn observe(&self, p: &RecoveryProposal) -> Observed {
        let n = needs(p, &self.settings());
        let mut o = Observed::at(self.now);
        if n.workload {
            o.workload = Some(Some(WorkloadObs::from_object(self.workload.clone())));
        }
        if n.node.is_some() {
            o.node = Some(self.node.clone());
        }
        if n.pod.is_some() {
            o.pod = Some(self.pod_uid.clone());
        }
        if n.health {
            o.health = Some(self.health.clone());
        }
        o
    }

    /// Performs an effect as the API server would.
    fn perform(&mut self, e: &EffectPlan) -> Outcome {
        self.effects += 1;
        // The safety contract, checked at the moment of every effect.
        let st = self.proposal.status.clone().unwrap_or_default();
        assert!(crate::crd::is_stamped(&self.proposal), "effect on an unstamped proposal");
        assert!(!self.dry_run, "effect while podmedic runs in dry-run: {e:?}");
        assert!(!self.proposal.spec.dry_run, "effect on a dry-run proposal");
        assert!(self.approved_by_human, "effect without a human approval");
        assert!(st.decided_via.is_some_and(DecidedVia::is_human), "effect without a recorded human decision");
        if e.direction == Direction::Apply {
            assert!(self.now < self.proposal.spec.expires_at.0, "forward effect after expiry");
        }
        match &e.effect {
            Effect::PatchWorkload { ops } => match crate::actions::patch::apply(&self.workload, ops) {
                Ok(after) => {
                    if e.direction == Direction::Revert {
                        for (path, v) in &self.human {
                            assert_eq!(after.pointer(path), Some(v), "a revert clobbered a human edit at {path}");
                        }
                    }
                    self.workload = after;
                    self.bump();
                    if e.direction == Direction::Apply {
                        *self.applied.entry(st.steps[e.step].id.clone()).or_default() += 1;
                    }
                    Outcome::Done { object: Some(self.workload.clone()) }
                }
                Err(err) => Outcome::Refused(err.to_string()),
            },
            Effect::Cordon { by, resource_version, .. } => {
                if *resource_version != self.node.resource_version {
                    return Outcome::Refused("test failed: resourceVersion".into());
                }
                self.node.resource_version.push('+');
                self.node.unschedulable = true;
                self.node.cordoned_by = Some(by.clone());
                *self.applied.entry(st.steps[e.step].id.clone()).or_default() += 1;
                Outcome::Done { object: None }
            }
            Effect::Uncordon { by, .. } => {
                assert!(
                    !self.foreign_cordon || self.node.cordoned_by.as_deref() == Some(by),
                    "uncordoned a foreign cordon"
                );
                if self.node.cordoned_by.as_deref() == Some(by.as_str()) && self.node.unschedulable {
                    self.node.resource_version.push('+');
                    self.node.unschedulable = false;
                    self.node.cordoned_by = None;
                    Outcome::Done { object: None }
                } else {
                    Outcome::Refused("test failed".into())
                }
            }
            Effect::DeletePod { uid, .. } => {
                if self.pod_uid.is_none() || (uid.is_some() && uid != &self.pod_uid) {
                    return Outcome::Gone("gone".into());
                }
                self.pod_uid = Some("replacement".into());
                *self.applied.entry(st.steps[e.step].id.clone()).or_default() += 1;
                Outcome::Done { object: None }
            }
        }
    }

    /// Writes a status if the writer's view is current (resourceVersion).
    fn write(&mut self, seen: &RecoveryProposal, status: RecoveryProposalStatus) -> bool {
        if seen.metadata.resource_version != self.proposal.metadata.resource_version {
            return false;
        }
        self.proposal.status = Some(status);
        self.bump_proposal();
        true
    }

    fn bump_proposal(&mut self) {
        let rv: u64 = self.proposal.metadata.resource_version.as_deref().unwrap().parse().unwrap();
        self.proposal.metadata.resource_version = Some((rv + 1).to_string());
    }

    /// One reconcile from the view `seen`; `kill` drops the status write
    /// that follows an effect. Returns false when nothing happened.
    fn reconcile(&mut self, seen: &RecoveryProposal, kill: bool) -> bool {
        if self.gone {
            return false;
        }
        let o = self.observe(seen);
        match next(seen, &o, &self.settings()) {
            Next::Ignore(_) | Next::Wait(_) => false,
            Next::Write { status, .. } => self.write(seen, *status),
            Next::Effect(plan) => {
                let outcome = self.perform(&plan);
                if kill {
                    return true;
                }
                if let Next::Write { status, .. } = record(seen, &plan, outcome, self.now) {
                    self.write(seen, *status);
                }
                true
            }
            Next::Release => {
                if seen.metadata.resource_version == self.proposal.metadata.resource_version {
                    self.proposal.metadata.finalizers = Some(vec![]);
                    self.bump_proposal();
                    self.gone = self.proposal.metadata.deletion_timestamp.is_some();
                }
                true
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Ev {
    /// The leader reconciles with a fresh view; `kill` after an effect.
    Reconcile {
        kill: bool,
    },
    /// A second replica reconciles with the view it read earlier.
    StaleReplica,
    /// Two replicas read the same view, then both act, then both write.
    Race,
    Approve,
    Reject,
    DryRun(bool),
    Advance(u16),
    Delete,
    /// A human edits the workload's args (inserts one in front).
    EditArgs,
    /// A human changes the image (the template).
    EditImage,
    /// Someone cordons the node by hand.
    CordonByHand,
    Health(u8),
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        8 => any::<bool>().prop_map(|k| Ev::Reconcile { kill: k }),
        2 => Just(Ev::StaleReplica),
        2 => Just(Ev::Race),
        2 => Just(Ev::Approve),
        1 => Just(Ev::Reject),
        1 => any::<bool>().prop_map(Ev::DryRun),
        2 => (1u16..1200).prop_map(Ev::Advance),
        1 => Just(Ev::Delete),
        1 => Just(Ev::EditArgs),
        1 => Just(Ev::EditImage),
        1 => Just(Ev::CordonByHand),
        2 => (0u8..3).prop_map(Ev::Health),
    ]
}

fn run(initial: RecoveryProposal, events: &[Ev]) -> World {
    let mut w = World::new(initial);
    let mut stale = w.proposal.clone();
    for e in events {
        match e {
            Ev::Reconcile { kill } => {
                stale = w.proposal.clone();
                let p = w.proposal.clone();
                w.reconcile(&p, *kill);
            }
            Ev::StaleReplica => {
                let p = stale.clone();
                w.reconcile(&p, false);
            }
            Ev::Race => {
                if w.gone {
                    continue;
                }
                let view = w.proposal.clone();
                let o = w.observe(&view);
                let settings = w.settings();
                let (a, b) = (next(&view, &o, &settings), next(&view, &o, &settings));
                let mut writes = Vec::new();
                for n in [a, b] {
                    match n {
                        Next::Write { status, .. } => writes.push(*status),
                        Next::Effect(plan) => {
                            let outcome = w.perform(&plan);
                            if let Next::Write { status, .. } = record(&view, &plan, outcome, w.now) {
                                writes.push(*status);
                            }
                        }
                        _ => {}
                    }
                }
                for s in writes {
                    w.write(&view, s);
                }
            }
            Ev::Approve | Ev::Reject => {
                let mut a = w.proposal.metadata.annotations.clone().unwrap_or_default();
                let d = if matches!(e, Ev::Approve) { "approve" } else { "reject" };
                a.insert(DECISION_ANNOTATION.into(), d.into());
                a.insert(DECIDED_BY_ANNOTATION.into(), "alice".into());
                w.proposal.metadata.annotations = Some(a);
                w.bump_proposal();
                if matches!(e, Ev::Approve) {
                    w.approved_by_human = true;
                }
            }
            Ev::DryRun(d) => w.dry_run = *d,
            Ev::Advance(s) => w.now += SignedDuration::from_secs(i64::from(*s)),
            Ev::Delete => {
                if w.proposal.metadata.deletion_timestamp.is_none() {
                    w.proposal.metadata.deletion_timestamp = Some(Time(w.now));
                    w.deleted = true;
                    w.bump_proposal();
                }
            }
            Ev::EditArgs => {
                if let Some(args) =
                    w.workload.pointer_mut("/spec/template/spec/containers/0/args").and_then(Value::as_array_mut)
                {
                    args.insert(0, json!("--enforce-eager"));
                    let v = json!(args.clone());
                    w.bump();
                    w.human.insert("/spec/template/spec/containers/0/args".into(), v);
                }
            }
            Ev::EditImage => {
                w.workload["spec"]["template"]["spec"]["containers"][0]["image"] = json!("vllm/vllm-openai:v9.9.9");
                w.bump();
                w.human.insert("/spec/template/spec/containers/0/image".into(), json!("vllm/vllm-openai:v9.9.9"));
            }
            Ev::CordonByHand => {
                if !w.node.unschedulable {
                    w.node.resource_version.push('+');
                    w.node.unschedulable = true;
                    w.foreign_cordon = true;
                }
            }
            Ev::Health(h) => {
                w.health = match h {
                    0 => Health::Healthy { since: w.now },
                    1 => Health::Pending("not ready".into()),
                    _ => Health::Unhealthy("crashed again".into()),
                }
            }
        }
    }
    // Quiesce: the leader alone, nothing else happening, time moving on.
    w.health = Health::Healthy { since: w.now };
    for _ in 0..200 {
        let p = w.proposal.clone();
        if !w.reconcile(&p, false) {
            w.now += SignedDuration::from_secs(120);
            let p = w.proposal.clone();
            if !w.reconcile(&p, false) && w.proposal.status.as_ref().is_some_and(|s| s.phase.is_terminal()) {
                break;
            }
        }
    }
    w
}

fn check_end(w: &World) {
    for (step, n) in &w.applied {
        assert!(*n <= 1, "step {step} applied {n} times");
    }
    let st = w.proposal.status.clone().unwrap_or_default();
    let settled = w.gone
        || st.phase.is_terminal()
        || (w.dry_run && matches!(st.phase, Phase::Approved | Phase::Executing | Phase::Verifying))
        || (st.phase == Phase::Proposed && !w.approved_by_human);
    assert!(settled, "not settled: {:?} ({})", st.phase, st.message);
    if st.phase.is_terminal() {
        assert!(w.proposal.metadata.finalizers.as_ref().is_none_or(|f| f.is_empty()), "finalizer kept after the end");
    }
    if w.foreign_cordon {
        assert!(w.node.unschedulable, "a cordon podmedic did not set was undone");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn kv_fix_is_safe_under_any_interleaving(events in prop::collection::vec(ev(), 0..40)) {
        let w = run(kv_proposal(), &events);
        check_end(&w);
    }

    #[test]
    fn node_fix_is_safe_under_any_interleaving(events in prop::collection::vec(ev(), 0..40)) {
        let obj = workload();
        let p = proposal(plan_for(XID_LOG, &obj, true), &obj, false);
        prop_assume!(p.spec.plan.as_ref().is_some_and(|pl| pl.steps.iter().any(|s| s.action.kind() == ActionKind::CordonNode)));
        let w = run(p, &events);
        check_end(&w);
    }

    #[test]
    fn dry_run_proposals_never_cause_an_effect(events in prop::collection::vec(ev(), 0..30)) {
        let obj = workload();
        let w = run(proposal(plan_for(KV_LOG, &obj, false), &obj, true), &events);
        prop_assert_eq!(w.effects, 0);
        check_end(&w);
    }
}

#[test]
fn a_kill_after_each_effect_still_applies_each_step_once_and_succeeds() {
    let mut events = vec![Ev::Approve];
    for _ in 0..12 {
        events.push(Ev::Reconcile { kill: true });
        events.push(Ev::Reconcile { kill: false });
    }
    events.push(Ev::Health(0));
    events.push(Ev::Advance(600));
    let w = run(kv_proposal(), &events);
    check_end(&w);
    let st = w.proposal.status.unwrap();
    assert_eq!(st.phase, Phase::Succeeded, "{}", st.message);
    assert_eq!(w.applied.values().sum::<usize>(), 1);
    let args = w.workload.pointer("/spec/template/spec/containers/0/args").unwrap();
    assert!(args.as_array().unwrap().contains(&json!("20144")), "{args}");
}

#[test]
fn a_revert_after_a_human_edit_is_refused_not_forced() {
    let mut w = World::new(kv_proposal());
    let mut a = BTreeMap::new();
    a.insert(DECISION_ANNOTATION.to_owned(), "approve".to_owned());
    a.insert(DECIDED_BY_ANNOTATION.to_owned(), "alice".to_owned());
    w.proposal.metadata.annotations = Some(a);
    w.approved_by_human = true;
    for _ in 0..10 {
        let p = w.proposal.clone();
        w.reconcile(&p, false);
    }
    assert_eq!(w.proposal.status.as_ref().unwrap().phase, Phase::Verifying);
    // A human edits the args after the fix; then the workload crashes again.
    let args = w.workload.pointer_mut("/spec/template/spec/containers/0/args").unwrap().as_array_mut().unwrap();
    args.insert(0, json!("--enforce-eager"));
    let edited = w.workload.pointer("/spec/template/spec/containers/0/args").unwrap().clone();
    w.bump();
    w.health = Health::Unhealthy("pod restarted after the fix".into());
    for _ in 0..10 {
        let p = w.proposal.clone();
        w.reconcile(&p, false);
    }
    let st = w.proposal.status.clone().unwrap();
    assert_eq!(st.phase, Phase::Failed, "{}", st.message);
    assert!(st.steps.iter().any(|s| s.state == StepState::RevertRefused), "{:?}", st.steps);
    assert_eq!(w.workload.pointer("/spec/template/spec/containers/0/args"), Some(&edited));
}

#[test]
fn verification_is_ready_within_then_stable_for() {
    let mut w = World::new(kv_proposal());
    let mut a = BTreeMap::new();
    a.insert(DECISION_ANNOTATION.to_owned(), "approve".to_owned());
    a.insert(DECIDED_BY_ANNOTATION.to_owned(), "alice".to_owned());
    w.proposal.metadata.annotations = Some(a);
    w.approved_by_human = true;
    for _ in 0..10 {
        let p = w.proposal.clone();
        w.reconcile(&p, false);
    }
    assert_eq!(w.proposal.status.as_ref().unwrap().phase, Phase::Verifying);
    let (ready_within, stable_for) = verification_of(&w.proposal, &Settings::default());
    // Ready late in the window (a slow 70B load), then stable past the deadline.
    w.now += SignedDuration::from_secs(i64::try_from(ready_within.as_secs()).unwrap() - 200);
    let p = w.proposal.clone();
    w.reconcile(&p, false);
    w.health = Health::Healthy { since: w.now };
    let p = w.proposal.clone();
    w.reconcile(&p, false);
    assert!(w.proposal.status.as_ref().unwrap().ready_since.is_some());
    w.now += SignedDuration::from_secs(i64::try_from(stable_for.as_secs()).unwrap() + 1);
    let p = w.proposal.clone();
    w.reconcile(&p, false);
    let st = w.proposal.status.clone().unwrap();
    assert_eq!(st.phase, Phase::Succeeded, "{}", st.message);
    assert_eq!(w.applied.values().sum::<usize>(), 1);
}
