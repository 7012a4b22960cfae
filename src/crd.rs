//! The `RecoveryProposal` custom resource (`podmedic.io/v1alpha1`, short
//! name `rxp`): one diagnosed crash, the fix podmedic proposes for it, and
//! the state of its approval and execution.
//!
//! The spec is written once, when the proposal is created, and is immutable
//! (a CEL rule `self == oldSelf`): what a human approves is exactly what
//! runs. Everything that changes afterwards — the decision, each step's
//! progress, further occurrences of the same crash — lives in the status.
//! The `///` docs on these fields are what `kubectl explain rxp` prints.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::class::FailureClass;
use crate::diagnosis::{EvidenceLine, Source};
use crate::playbook::Plan;

/// Annotation a human sets to decide: `approve` or `reject`.
pub const DECISION_ANNOTATION: &str = "podmedic.io/decision";
/// Annotation naming who decided (checked by the shipped admission policy).
pub const DECIDED_BY_ANNOTATION: &str = "podmedic.io/decided-by";
/// Label on a proposal: the target workload's name (or, for names longer
/// than a label value may be, a stable shortened form: see
/// [`workload_label_value`]).
pub const WORKLOAD_LABEL: &str = "podmedic.io/workload";
/// The finalizer podmedic puts on every proposal it creates: the execution
/// record stays until the execution is finished.
pub const FINALIZER: &str = "podmedic.io/execution-record";
/// Annotation podmedic sets on a node it cordoned (the proposal's UID), so
/// that a revert uncordons only a node podmedic itself cordoned.
pub const CORDONED_BY_ANNOTATION: &str = "podmedic.io/cordoned-by";
/// Label on a proposal: the failure class.
pub const CLASS_LABEL: &str = "podmedic.io/class";

/// A diagnosed crash and the targeted fix podmedic proposes for it. Nothing
/// is changed until a human approves (`kubectl annotate rxp NAME
/// podmedic.io/decision=approve`) and podmedic is not in dry-run mode.
#[allow(clippy::duplicated_attributes)] // printcolumn(...) repeats `type_` by design
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[kube(
    group = "podmedic.io",
    version = "v1alpha1",
    kind = "RecoveryProposal",
    namespaced,
    shortname = "rxp",
    category = "podmedic",
    status = "RecoveryProposalStatus",
    doc = "A diagnosed crash of an LLM serving workload and the targeted fix podmedic proposes for it.",
    printcolumn(name = "Workload", type_ = "string", json_path = ".spec.target.name"),
    printcolumn(name = "Class", type_ = "string", json_path = ".spec.diagnosis.class"),
    printcolumn(name = "Confidence", type_ = "number", json_path = ".spec.diagnosis.confidence"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("self == oldSelf").message("the spec of a RecoveryProposal is immutable"))]
#[serde(rename_all = "camelCase")]
pub struct RecoveryProposalSpec {
    /// The workload the fix applies to.
    pub target: TargetRef,
    /// The pod whose crash was diagnosed.
    pub pod: String,
    /// Its UID: a delete-pod step deletes only this pod, never another one
    /// that took its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    /// The crashed container.
    pub container: String,
    /// The node the pod ran on, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Why the pod crashed.
    pub diagnosis: ProposalDiagnosis,
    /// The rendered playbook: steps with their concrete patches. Absent
    /// when no playbook applies (the proposal then only informs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// SHA-256 over target, diagnosis class and plan: two proposals with the
    /// same hash propose the same change (ChatOps messages quote it).
    pub content_hash: String,
    /// After this time the proposal can no longer be approved.
    pub expires_at: Time,
    /// Created while podmedic ran in dry-run mode: never executed.
    #[serde(default)]
    pub dry_run: bool,
}

/// A reference to the workload a proposal targets.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    /// `Deployment`, `StatefulSet` or `Pod`.
    pub kind: String,
    /// Its name (same namespace as the proposal).
    pub name: String,
    /// Its UID when the proposal was made; a recreated workload does not match.
    pub uid: String,
    /// Its `metadata.generation` when the plan was rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// SHA-256 of its pod template when the plan was rendered: the plan is
    /// bound to it, and a workload whose template changed since supersedes
    /// the proposal (scaling does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_hash: Option<String>,
}

/// The diagnosis, as recorded in a proposal.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProposalDiagnosis {
    /// One of podmedic's fixed failure classes.
    pub class: FailureClass,
    /// Finer detail, e.g. `hf-gated-repo`.
    #[serde(default)]
    pub subclass: String,
    /// Confidence, 0..1.
    pub confidence: f64,
    /// What decided: signature, model, both or none.
    pub source: Source,
    /// One plain sentence: the evidence and what it means.
    pub summary: String,
    /// The log lines (and pod facts, line 0) that show it.
    #[serde(default)]
    pub evidence: Vec<EvidenceLine>,
    /// Values read from the evidence that the plan uses (e.g. `kv_tokens`).
    #[serde(default)]
    pub captures: BTreeMap<String, String>,
    /// The serving metrics of the minutes before the crash (or the stall),
    /// as `podmedic triage` reports them: `server`, `window_seconds` and per
    /// signal (`kv_cache_usage`, `requests_waiting`, `requests_running`,
    /// `generation_throughput`, `gpu_memory_used`) `last`, `max`, `min`,
    /// `mean`, `metric` and `points`. Absent when none were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "metrics_schema")]
    pub metrics: Option<crate::signals::MetricsSummary>,
}

/// Where a proposal stands.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema, Default)]
pub enum Phase {
    /// Waiting for a human decision.
    #[default]
    Proposed,
    /// Approved; execution starts next (not while podmedic runs in dry-run).
    Approved,
    /// Rejected by a human; nothing was changed.
    Rejected,
    /// Not decided, or not started, before `spec.expiresAt`; nothing was changed.
    Expired,
    /// Approved while podmedic or the proposal was in dry-run, or approved
    /// with a plan that changes nothing: the decision is recorded, nothing
    /// was or will be executed.
    NotExecuted,
    /// Steps are being applied.
    Executing,
    /// All steps applied; waiting for the workload to become healthy.
    Verifying,
    /// Applied and verified healthy.
    Succeeded,
    /// A step or the verification failed and the change could not be (fully) undone: a human looks.
    Failed,
    /// Verification failed and the applied steps were reverted.
    RolledBack,
    /// The workload changed since the plan was rendered (or a newer proposal
    /// replaced this one) before anything was applied; nothing was changed.
    Superseded,
}

impl Phase {
    /// Every phase (the `podmedic_proposals` gauge has one series each).
    pub const ALL: [Phase; 11] = [
        Phase::Proposed,
        Phase::Approved,
        Phase::Rejected,
        Phase::Expired,
        Phase::NotExecuted,
        Phase::Executing,
        Phase::Verifying,
        Phase::Succeeded,
        Phase::Failed,
        Phase::RolledBack,
        Phase::Superseded,
    ];

    /// Whether nothing more will happen to a proposal in this phase.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Phase::Rejected
                | Phase::Expired
                | Phase::NotExecuted
                | Phase::Succeeded
                | Phase::Failed
                | Phase::RolledBack
                | Phase::Superseded
        )
    }

    /// Whether a change may be in the cluster or on its way (the finalizer keeps the record).
    pub fn is_executing(self) -> bool {
        matches!(self, Phase::Executing | Phase::Verifying)
    }

    /// The phase's name as written in the status (also a metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Proposed => "Proposed",
            Phase::Approved => "Approved",
            Phase::Rejected => "Rejected",
            Phase::Expired => "Expired",
            Phase::NotExecuted => "NotExecuted",
            Phase::Executing => "Executing",
            Phase::Verifying => "Verifying",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
            Phase::RolledBack => "RolledBack",
            Phase::Superseded => "Superseded",
        }
    }
}

/// How a decision reached podmedic.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DecidedVia {
    /// `kubectl annotate rxp NAME podmedic.io/decision=...`.
    Annotation,
    /// A Slack interactive button.
    Slack,
    /// The generic signed webhook.
    Webhook,
    /// podmedic itself (expiry, supersession).
    Controller,
}

impl DecidedVia {
    /// The channel's name, as serialised and as status messages say it.
    pub fn as_str(self) -> &'static str {
        match self {
            DecidedVia::Annotation => "annotation",
            DecidedVia::Slack => "slack",
            DecidedVia::Webhook => "webhook",
            DecidedVia::Controller => "controller",
        }
    }

    /// Whether a person decided through this channel.
    pub fn is_human(self) -> bool {
        !matches!(self, DecidedVia::Controller)
    }
}

/// Progress of one plan step.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum StepState {
    /// Not started.
    Pending,
    /// Recorded as started (with what it will change, as read); the change
    /// may or may not have reached the API server.
    Applying,
    /// The change is in the API server.
    Applied,
    /// Skipped (its `needs` failed with `on_failure: continue`, or nothing to do).
    Skipped,
    /// The step failed.
    Failed,
    /// The change was undone.
    Reverted,
    /// A revert was refused: the object changed since podmedic's write, and
    /// podmedic never overwrites a change it did not make (a human looks).
    RevertRefused,
}

/// A value podmedic read or wrote at one JSON Pointer of an object (the
/// anchors of a step: whole fields such as a container's `args`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
pub struct Anchor {
    /// JSON Pointer into the object.
    pub path: String,
    /// The value there; absent when the field did not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_value")]
    pub value: Option<serde_json::Value>,
}

/// One step's record, written before and after it runs.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    /// The step's id in the plan.
    pub id: String,
    /// Where it stands.
    pub state: StepState,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// What happened, for humans.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The `resourceVersion` of the object the step was prepared against:
    /// its change is sent only while the object is still at this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_version: Option<String>,
    /// The changed fields before the step (what a revert restores).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prior: Vec<Anchor>,
    /// The changed fields as the API server stored them after the step (a
    /// revert first checks they are still so).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub written: Vec<Anchor>,
    /// podmedic changed nothing in this step (e.g. the node was already
    /// cordoned by someone else), so a revert leaves the object alone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unchanged: bool,
}

impl StepStatus {
    /// A step not started yet.
    pub fn pending(id: &str) -> Self {
        StepStatus {
            id: id.to_owned(),
            state: StepState::Pending,
            started_at: None,
            finished_at: None,
            message: String::new(),
            read_version: None,
            prior: Vec::new(),
            written: Vec::new(),
            unchanged: false,
        }
    }
}

/// Observed state of a proposal. Only podmedic writes it (people get no
/// RBAC for the status subresource, and the shipped admission policy
/// refuses anyone else's status writes).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryProposalStatus {
    /// Where the proposal stands.
    #[serde(default)]
    pub phase: Phase,
    /// podmedic's stamp: SHA-256 over the proposal's namespace, name, UID
    /// and spec, written once by podmedic right after it created the
    /// proposal. Nothing without a matching stamp is ever executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
    /// Per-step progress, in plan order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepStatus>,
    /// Who approved or rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// How the decision arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_via: Option<DecidedVia>,
    /// When it was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<Time>,
    /// Digests of the signed ChatOps requests already used on this proposal
    /// (replay protection that holds across replicas and restarts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_digests: Vec<String>,
    /// How often the same crash was seen while this proposal was open.
    #[serde(default)]
    pub occurrences: i32,
    /// When the crash was last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Time>,
    /// SHA-256 of the workload's pod template after podmedic's last write
    /// (the next step runs only if nobody changed it since).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_hash: Option<String>,
    /// The workload's generation after the fix was applied (verification waits for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_generation: Option<i64>,
    /// When verification began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_started_at: Option<Time>,
    /// When the workload first became Ready during verification (the
    /// stability window counts from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_since: Option<Time>,
    /// Latest human-readable message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The workload label value for a workload name: the name itself when it is
/// a valid label value (at most 63 characters), else its first 40
/// characters, `-`, and 16 hex digits of its SHA-256 (stable, and still a
/// valid label value). Readers also compare `spec.target.name`.
pub fn workload_label_value(name: &str) -> String {
    if name.len() <= 63 {
        return name.to_owned();
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let head: String = name.chars().take(40).collect();
    format!("{}-{hex}", head.trim_end_matches(['-', '.', '_']))
}

/// podmedic's stamp for a proposal (see [`RecoveryProposalStatus::stamp`]).
pub fn stamp_of(rxp: &RecoveryProposal) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        rxp.metadata.namespace.as_deref().unwrap_or_default(),
        rxp.metadata.name.as_deref().unwrap_or_default(),
        rxp.metadata.uid.as_deref().unwrap_or_default(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let spec = serde_json::to_value(&rxp.spec).unwrap_or_default();
    h.update(crate::util::canonical_json(&spec).as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether podmedic created this proposal and nobody changed its spec since:
/// its status carries the stamp podmedic wrote for exactly this object.
pub fn is_stamped(rxp: &RecoveryProposal) -> bool {
    rxp.metadata.uid.is_some()
        && rxp.status.as_ref().and_then(|s| s.stamp.as_deref()).is_some_and(|s| s == stamp_of(rxp))
}

/// Schema of a rendered action in the CRD: its `type` from the closed set,
/// the action's own fields as rendered (structural, so the API server
/// stores them as written).
pub(crate) fn action_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let kinds: Vec<&str> = crate::actions::ActionKind::ALL.iter().map(|k| k.as_str()).collect();
    schemars::json_schema!({
        "type": "object",
        "required": ["type"],
        "properties": { "type": { "type": "string", "enum": kinds } },
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// Schema of a JSON Patch in the CRD (RFC 6902 operations).
pub(crate) fn patch_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {
            "type": "object",
            "required": ["op", "path"],
            "properties": {
                "op": { "type": "string", "enum": ["add", "remove", "replace", "test"] },
                "path": { "type": "string" },
                "value": { "x-kubernetes-preserve-unknown-fields": true }
            }
        }
    })
}

/// Schema of the metrics summary (signals with their sample points).
fn metrics_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// Schema of computed parameters (numbers, text or truth values by name).
pub(crate) fn parameters_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

fn any_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "x-kubernetes-preserve-unknown-fields": true
    })
}

#[cfg(test)]
mod tests {
    use kube::CustomResourceExt;

    use super::*;

    #[test]
    fn decided_via_names_are_its_serialised_form() {
        for v in [DecidedVia::Annotation, DecidedVia::Slack, DecidedVia::Webhook, DecidedVia::Controller] {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
    }

    #[test]
    fn crd_has_the_contract_names_columns_and_immutability() {
        let crd = serde_json::to_value(RecoveryProposal::crd()).unwrap();
        assert_eq!(crd["spec"]["group"], "podmedic.io");
        assert_eq!(crd["spec"]["scope"], "Namespaced");
        assert_eq!(crd["spec"]["names"]["shortNames"][0], "rxp");
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1");
        let cols: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(cols, ["Workload", "Class", "Confidence", "Phase", "Age"]);
        let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(spec["x-kubernetes-validations"][0]["rule"], "self == oldSelf");
        assert_eq!(
            spec["properties"]["diagnosis"]["properties"]["class"]["enum"].as_array().unwrap().len(),
            FailureClass::COUNT
        );
        assert!(version["subresources"]["status"].is_object());
    }
}
