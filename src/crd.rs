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

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::class::FailureClass;
use crate::diagnosis::{EvidenceLine, Source};

/// Annotation a human sets to decide: `approve` or `reject`.
pub const DECISION_ANNOTATION: &str = "podmedic.io/decision";
/// Annotation naming who decided (checked by the shipped admission policy).
pub const DECIDED_BY_ANNOTATION: &str = "podmedic.io/decided-by";
/// Label on a proposal: the target workload's name.
pub const WORKLOAD_LABEL: &str = "podmedic.io/workload";
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
    #[schemars(schema_with = "preserve_unknown_object")]
    pub plan: Option<serde_json::Value>,
    /// SHA-256 over target, diagnosis class and plan: two proposals with the
    /// same hash propose the same change.
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
    /// What decided: signature, model, both or none; `llm` when the class
    /// is the operator's model's reading after podmedic abstained (advice
    /// only: see `llm`).
    pub source: Source,
    /// One plain sentence: the evidence and what it means.
    pub summary: String,
    /// The log lines (and pod facts, line 0) that show it.
    #[serde(default)]
    pub evidence: Vec<EvidenceLine>,
    /// Values read from the evidence that the plan uses (e.g. `kv_tokens`).
    #[serde(default)]
    pub captures: BTreeMap<String, String>,
    /// The operator's own model's second opinion, when podmedic asked for
    /// one (`--llm-url`): advice only, not verified by podmedic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmOpinion>,
}

/// A second opinion from the operator's own model, asked when podmedic
/// could not name the cause (or its signatures and classifier disagreed).
/// It is advice: it never sets a value a fix writes, and when the class
/// came from it (`source: llm`) only a fix that changes nothing is
/// proposed, and a person approves even that.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LlmOpinion {
    /// The model that answered.
    pub model: String,
    /// The failure class it named; absent when its answer was not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<FailureClass>,
    /// Finer detail it gave.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subclass: String,
    /// Its summary of the error pattern.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
    /// The change it suggests, as text for a person; podmedic never applies it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub suggestion: String,
    /// Log lines it cited (numbers in the log window it was sent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<i64>")]
    pub cited_lines: Vec<usize>,
    /// Whether its answer passed podmedic's checks.
    pub accepted: bool,
    /// Why it was not used (rejected, timed out, over budget).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Why it was asked: `abstained` or `disagreement`.
    pub trigger: crate::llm::Trigger,
}

impl From<&crate::llm::Opinion> for LlmOpinion {
    fn from(o: &crate::llm::Opinion) -> Self {
        LlmOpinion {
            model: o.model.clone(),
            class: o.class.filter(|_| o.accepted),
            subclass: o.subclass.clone(),
            summary: o.summary.clone(),
            suggestion: o.suggestion.clone(),
            cited_lines: o.cited_lines.clone(),
            accepted: o.accepted,
            reason: o.reason.clone().unwrap_or_default(),
            trigger: o.trigger,
        }
    }
}

/// Where a proposal stands.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, JsonSchema, Default)]
pub enum Phase {
    /// Waiting for a human decision.
    #[default]
    Proposed,
    /// Approved; execution starts next.
    Approved,
    /// Rejected by a human; nothing was changed.
    Rejected,
    /// Not decided before `spec.expiresAt`; nothing was changed.
    Expired,
    /// Steps are being applied.
    Executing,
    /// All steps applied; waiting for the workload to become healthy.
    Verifying,
    /// Applied and verified healthy.
    Succeeded,
    /// A step or the verification failed and the change could not be undone.
    Failed,
    /// Verification failed and the applied steps were reverted.
    RolledBack,
    /// A newer proposal or a change to the workload made this one moot.
    Superseded,
}

impl Phase {
    /// Whether nothing more will happen to a proposal in this phase.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Phase::Rejected | Phase::Expired | Phase::Succeeded | Phase::Failed | Phase::RolledBack | Phase::Superseded
        )
    }

    /// The phase's name as written in the status (also a metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Proposed => "Proposed",
            Phase::Approved => "Approved",
            Phase::Rejected => "Rejected",
            Phase::Expired => "Expired",
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
}

/// Progress of one plan step.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
pub enum StepState {
    /// Not started.
    Pending,
    /// Recorded as started; the change may or may not have reached the API server.
    Applying,
    /// The change is in the API server.
    Applied,
    /// Skipped (its `needs` failed with `on_failure: continue`, or nothing to do).
    Skipped,
    /// The step failed.
    Failed,
    /// The change was undone.
    Reverted,
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
    /// The workload's state before the step (what a revert restores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub prior: Option<serde_json::Value>,
}

/// Observed state of a proposal.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryProposalStatus {
    /// Where the proposal stands.
    #[serde(default)]
    pub phase: Phase,
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
    /// How often the same crash was seen while this proposal was open.
    #[serde(default)]
    pub occurrences: i32,
    /// When the crash was last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Time>,
    /// The workload's generation after the fix was applied (verification waits for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_generation: Option<i64>,
    /// When verification began (the no-new-restart window counts from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_started_at: Option<Time>,
    /// Latest human-readable message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Standard conditions (`Decided`, `Executed`, `Verified`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

fn preserve_unknown_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
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
