//! The recovery actions: a closed set, each a pure function over the object
//! it changes.
//!
//! Every [`Action`] can
//! - **apply** itself to an object (a Deployment/StatefulSet as JSON, or a
//!   Node for `cordon-node`): pure and idempotent, applying twice equals
//!   applying once;
//! - **render** a dry run: the forward JSON Patch (guarded by `test` ops),
//!   the revert patch holding the prior values, and a unified diff of the
//!   object's YAML;
//! - **revert**: the revert patch restores the prior values, so apply then
//!   revert returns the original object;
//!
//! Actions without an object to patch (`delete-pod`, `notify`, `wait-ready`,
//! a `rollback` with no earlier revision at hand) render as described steps.

pub mod args;
pub mod patch;
pub mod quantity;
pub mod workload;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use patch::PatchOp;
pub use workload::{Revision, Workload, WorkloadError, WorkloadKind};

/// How much could go wrong if a step misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Read-only or trivially undone.
    Low,
    /// Changes the serving configuration; reverted if verification fails.
    Medium,
    /// Touches shared infrastructure (nodes) or capacity.
    High,
}

impl Risk {
    /// The id used in YAML and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

/// Node affinity operators (`NodeSelectorRequirement.operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum AffinityOperator {
    /// Label value in `values`.
    In,
    /// Label value not in `values`.
    NotIn,
    /// Label present.
    Exists,
    /// Label absent.
    DoesNotExist,
    /// Label value, as an integer, greater than the single value.
    Gt,
    /// Label value, as an integer, less than the single value.
    Lt,
}

/// The action types, without their fields (the playbook compiler's view).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// See [`Action::SetArg`].
    SetArg,
    /// See [`Action::RemoveArg`].
    RemoveArg,
    /// See [`Action::SetEnv`].
    SetEnv,
    /// See [`Action::SetResources`].
    SetResources,
    /// See [`Action::AddNodeAffinity`].
    AddNodeAffinity,
    /// See [`Action::AddToleration`].
    AddToleration,
    /// See [`Action::MountShm`].
    MountShm,
    /// See [`Action::SetStartupProbe`].
    SetStartupProbe,
    /// See [`Action::Rollback`].
    Rollback,
    /// See [`Action::RolloutRestart`].
    RolloutRestart,
    /// See [`Action::DeletePod`].
    DeletePod,
    /// See [`Action::CordonNode`].
    CordonNode,
    /// See [`Action::Scale`].
    Scale,
    /// See [`Action::Notify`].
    Notify,
    /// See [`Action::WaitReady`].
    WaitReady,
}

/// The type of an action field, as a playbook writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Any text (parameters of any type are formatted into it).
    Str,
    /// A whole number.
    Int,
    /// A Kubernetes quantity (`16Gi`).
    Quantity,
    /// A list of strings.
    StrList,
    /// A map of resource name to quantity.
    QuantityMap,
    /// One of a few words.
    Enum(&'static [&'static str]),
}

/// Whether a playbook must, may or must not write a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// The playbook must write it.
    Required,
    /// The playbook may write it.
    Optional,
    /// The playbook may write it; the renderer fills it from the context
    /// when it does not (target container, pod, node, time).
    Filled,
    /// Only the renderer writes it.
    Internal,
}

/// One field of an action type.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Its name in YAML and JSON.
    pub name: &'static str,
    /// Its type.
    pub ty: FieldType,
    /// Who writes it.
    pub presence: Presence,
}

const fn f(name: &'static str, ty: FieldType, presence: Presence) -> Field {
    Field { name, ty, presence }
}

use FieldType::*;
use Presence::*;

impl ActionKind {
    /// Every action type.
    pub const ALL: [ActionKind; 15] = [
        ActionKind::SetArg,
        ActionKind::RemoveArg,
        ActionKind::SetEnv,
        ActionKind::SetResources,
        ActionKind::AddNodeAffinity,
        ActionKind::AddToleration,
        ActionKind::MountShm,
        ActionKind::SetStartupProbe,
        ActionKind::Rollback,
        ActionKind::RolloutRestart,
        ActionKind::DeletePod,
        ActionKind::CordonNode,
        ActionKind::Scale,
        ActionKind::Notify,
        ActionKind::WaitReady,
    ];

    /// The id used in YAML and JSON (`set-arg`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ActionKind::SetArg => "set-arg",
            ActionKind::RemoveArg => "remove-arg",
            ActionKind::SetEnv => "set-env",
            ActionKind::SetResources => "set-resources",
            ActionKind::AddNodeAffinity => "add-node-affinity",
            ActionKind::AddToleration => "add-toleration",
            ActionKind::MountShm => "mount-shm",
            ActionKind::SetStartupProbe => "set-startup-probe",
            ActionKind::Rollback => "rollback",
            ActionKind::RolloutRestart => "rollout-restart",
            ActionKind::DeletePod => "delete-pod",
            ActionKind::CordonNode => "cordon-node",
            ActionKind::Scale => "scale",
            ActionKind::Notify => "notify",
            ActionKind::WaitReady => "wait-ready",
        }
    }

    /// The type named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Its fields, as a playbook writes them.
    pub fn fields(self) -> &'static [Field] {
        const OPS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];
        const SET_ARG: &[Field] = &[
            f("container", Str, Filled),
            f("flag", Str, Required),
            f("value", Str, Required),
            f("env", Str, Optional),
        ];
        const REMOVE_ARG: &[Field] = &[f("container", Str, Filled), f("flag", Str, Required), f("env", Str, Optional)];
        const SET_ENV: &[Field] = &[f("container", Str, Filled), f("name", Str, Required), f("value", Str, Required)];
        const SET_RESOURCES: &[Field] =
            &[f("container", Str, Filled), f("limits", QuantityMap, Optional), f("requests", QuantityMap, Optional)];
        const AFFINITY: &[Field] =
            &[f("key", Str, Required), f("operator", Enum(OPS), Required), f("values", StrList, Optional)];
        const TOLERATION: &[Field] = &[
            f("key", Str, Required),
            f("operator", Enum(&["Equal", "Exists"]), Optional),
            f("value", Str, Optional),
            f("effect", Enum(&["NoSchedule", "PreferNoSchedule", "NoExecute"]), Optional),
        ];
        const SHM: &[Field] = &[f("container", Str, Filled), f("size_limit", Quantity, Required)];
        const PROBE: &[Field] =
            &[f("container", Str, Filled), f("failure_threshold", Int, Required), f("period_seconds", Int, Optional)];
        const ROLLBACK: &[Field] =
            &[f("revision", Int, Internal), f("source", Str, Internal), f("template", Str, Internal)];
        const RESTART: &[Field] = &[f("restarted_at", Str, Filled)];
        const DELETE: &[Field] = &[f("pod", Str, Filled)];
        const CORDON: &[Field] = &[f("node", Str, Filled)];
        const SCALE: &[Field] = &[f("replicas", Int, Required)];
        const NOTIFY: &[Field] = &[f("message", Str, Required)];
        const WAIT: &[Field] = &[f("timeout_seconds", Int, Required)];
        match self {
            ActionKind::SetArg => SET_ARG,
            ActionKind::RemoveArg => REMOVE_ARG,
            ActionKind::SetEnv => SET_ENV,
            ActionKind::SetResources => SET_RESOURCES,
            ActionKind::AddNodeAffinity => AFFINITY,
            ActionKind::AddToleration => TOLERATION,
            ActionKind::MountShm => SHM,
            ActionKind::SetStartupProbe => PROBE,
            ActionKind::Rollback => ROLLBACK,
            ActionKind::RolloutRestart => RESTART,
            ActionKind::DeletePod => DELETE,
            ActionKind::CordonNode => CORDON,
            ActionKind::Scale => SCALE,
            ActionKind::Notify => NOTIFY,
            ActionKind::WaitReady => WAIT,
        }
    }

    /// Whether it changes the cluster.
    pub const fn is_mutating(self) -> bool {
        !matches!(self, ActionKind::Notify | ActionKind::WaitReady)
    }

    /// Whether applying it records prior values that a revert restores.
    pub const fn is_revertible(self) -> bool {
        !matches!(self, ActionKind::DeletePod | ActionKind::Notify | ActionKind::WaitReady)
    }

    /// Whether it patches the workload's pod template (so a bare Pod cannot take it).
    pub const fn needs_template(self) -> bool {
        matches!(
            self,
            ActionKind::SetArg
                | ActionKind::RemoveArg
                | ActionKind::SetEnv
                | ActionKind::SetResources
                | ActionKind::AddNodeAffinity
                | ActionKind::AddToleration
                | ActionKind::MountShm
                | ActionKind::SetStartupProbe
                | ActionKind::Rollback
                | ActionKind::RolloutRestart
                | ActionKind::Scale
        )
    }

    /// Its risk when a playbook does not say.
    pub const fn default_risk(self) -> Risk {
        match self {
            ActionKind::Notify | ActionKind::WaitReady | ActionKind::MountShm | ActionKind::SetStartupProbe => {
                Risk::Low
            }
            ActionKind::RolloutRestart | ActionKind::DeletePod | ActionKind::AddToleration => Risk::Low,
            ActionKind::SetArg
            | ActionKind::RemoveArg
            | ActionKind::SetEnv
            | ActionKind::SetResources
            | ActionKind::AddNodeAffinity
            | ActionKind::Rollback => Risk::Medium,
            ActionKind::CordonNode | ActionKind::Scale => Risk::High,
        }
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One concrete recovery action, with every value decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Sets a server flag (`--max-model-len 20128`) wherever the container
    /// writes it: `args`, `command`, a shell script, or the env var `env`.
    SetArg {
        /// The container.
        container: String,
        /// The flag, e.g. `--max-model-len`.
        flag: String,
        /// Its new value.
        value: String,
        /// An environment variable the server also reads the flag from (TGI).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        env: Option<String>,
    },
    /// Removes a server flag (and its value) wherever the container writes
    /// it, and its env alias `env`: for a flag the running engine version
    /// no longer accepts.
    RemoveArg {
        /// The container.
        container: String,
        /// The flag, e.g. `--swap-space`.
        flag: String,
        /// An environment variable the server also reads the flag from.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        env: Option<String>,
    },
    /// Sets an environment variable.
    SetEnv {
        /// The container.
        container: String,
        /// Variable name.
        name: String,
        /// Its value.
        value: String,
    },
    /// Sets resource limits and requests.
    SetResources {
        /// The container.
        container: String,
        /// Limits to set (`memory: 40Gi`, `nvidia.com/gpu: "1"`).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        limits: BTreeMap<String, String>,
        /// Requests to set.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        requests: BTreeMap<String, String>,
    },
    /// Requires nodes whose label satisfies an expression (ANDed into every
    /// existing node selector term).
    AddNodeAffinity {
        /// Node label key, e.g. `nvidia.com/cuda.driver.major`.
        key: String,
        /// The operator.
        operator: AffinityOperator,
        /// Values (one integer for `Gt`/`Lt`).
        #[serde(default)]
        values: Vec<String>,
    },
    /// Adds a toleration.
    AddToleration {
        /// Taint key.
        key: String,
        /// `Equal` (default) or `Exists`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operator: Option<String>,
        /// Taint value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
        /// Taint effect.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        effect: Option<String>,
    },
    /// Mounts a memory-backed `emptyDir` at `/dev/shm`.
    MountShm {
        /// The container.
        container: String,
        /// `sizeLimit` of the volume, e.g. `16Gi`.
        size_limit: String,
    },
    /// Lengthens (or adds, from the liveness probe) the startup probe.
    SetStartupProbe {
        /// The container.
        container: String,
        /// New `failureThreshold`.
        failure_threshold: i64,
        /// New `periodSeconds`, when it changes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        period_seconds: Option<i64>,
    },
    /// Rolls the pod template back to an earlier revision.
    Rollback {
        /// The revision rolled back to, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<i64>,
        /// Where the revision came from (`ReplicaSet/x`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source: Option<String>,
        /// Its pod template; without it the step is `kubectl rollout undo`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<Value>,
    },
    /// Restarts every pod (annotation `kubectl.kubernetes.io/restartedAt`).
    RolloutRestart {
        /// The annotation's value (RFC 3339).
        restarted_at: String,
    },
    /// Deletes the pod so that its controller recreates it elsewhere.
    DeletePod {
        /// The pod.
        pod: String,
    },
    /// Marks a node unschedulable.
    CordonNode {
        /// The node.
        node: String,
    },
    /// Sets the replica count.
    Scale {
        /// New replica count.
        replicas: i64,
    },
    /// Tells people; changes nothing.
    Notify {
        /// What to say.
        message: String,
    },
    /// Waits until the workload is ready.
    WaitReady {
        /// How long to wait.
        timeout_seconds: i64,
    },
}

/// Why an action cannot be applied to an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The object has no such container.
    #[error("the workload has no container `{0}`")]
    NoContainer(String),
    /// The action needs a pod template and the object has none.
    #[error("`{action}` needs a Deployment or StatefulSet; a {kind} gets delete-pod and notify only")]
    NeedsTemplate {
        /// The action type.
        action: ActionKind,
        /// What was given.
        kind: String,
    },
    /// A flag could not be placed.
    #[error(transparent)]
    Arg(#[from] args::ArgError),
    /// The object's shape is not what Kubernetes allows.
    #[error("the object's `{0}` has an unexpected shape")]
    Shape(String),
    /// Neither a startup, liveness nor readiness probe to start from.
    #[error("container `{0}` has no probe to lengthen")]
    NoProbe(String),
    /// `/dev/shm` is mounted from something other than an `emptyDir`.
    #[error("/dev/shm of container `{container}` is mounted from volume `{volume}`, which is not an emptyDir")]
    ShmNotEmptyDir {
        /// The container.
        container: String,
        /// The volume.
        volume: String,
    },
    /// A patch did not apply (the object changed since rendering).
    #[error(transparent)]
    Patch(#[from] patch::PatchError),
}

/// A step's dry run: patches and diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rendered {
    /// JSON Patch that applies the action (with `test` guards).
    pub patch: Vec<PatchOp>,
    /// JSON Patch that restores the prior values.
    pub revert: Vec<PatchOp>,
    /// Unified diff of the object's YAML.
    pub diff: String,
}

fn ensure_obj<'a>(v: &'a mut Value, key: &str) -> Result<&'a mut Map<String, Value>, ActionError> {
    let m = v.as_object_mut().ok_or_else(|| ActionError::Shape(key.to_owned()))?;
    let e = m.entry(key).or_insert_with(|| json!({}));
    if e.is_null() {
        *e = json!({});
    }
    e.as_object_mut().ok_or_else(|| ActionError::Shape(key.to_owned()))
}

fn ensure_arr<'a>(v: &'a mut Value, key: &str) -> Result<&'a mut Vec<Value>, ActionError> {
    let m = v.as_object_mut().ok_or_else(|| ActionError::Shape(key.to_owned()))?;
    let e = m.entry(key).or_insert_with(|| json!([]));
    if e.is_null() {
        *e = json!([]);
    }
    e.as_array_mut().ok_or_else(|| ActionError::Shape(key.to_owned()))
}

fn kind_of(obj: &Value) -> String {
    obj.get("kind").and_then(Value::as_str).unwrap_or("object").to_owned()
}

fn pod_spec_mut(obj: &mut Value, action: ActionKind) -> Result<&mut Value, ActionError> {
    let kind = kind_of(obj);
    if !matches!(kind.as_str(), "Deployment" | "StatefulSet") {
        return Err(ActionError::NeedsTemplate { action, kind });
    }
    let template = ensure_obj(obj.get_mut("spec").ok_or_else(|| ActionError::Shape("spec".into()))?, "template")?;
    let spec = template.entry("spec").or_insert_with(|| json!({}));
    Ok(spec)
}

fn container_mut<'a>(obj: &'a mut Value, name: &str, action: ActionKind) -> Result<&'a mut Value, ActionError> {
    let spec = pod_spec_mut(obj, action)?;
    spec.get_mut("containers")
        .and_then(Value::as_array_mut)
        .and_then(|cs| cs.iter_mut().find(|c| c.get("name").and_then(Value::as_str) == Some(name)))
        .ok_or_else(|| ActionError::NoContainer(name.to_owned()))
}

fn op_str(op: AffinityOperator) -> &'static str {
    match op {
        AffinityOperator::In => "In",
        AffinityOperator::NotIn => "NotIn",
        AffinityOperator::Exists => "Exists",
        AffinityOperator::DoesNotExist => "DoesNotExist",
        AffinityOperator::Gt => "Gt",
        AffinityOperator::Lt => "Lt",
    }
}

const SHM_VOLUME: &str = "dshm";
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

impl Action {
    /// Its type.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::SetArg { .. } => ActionKind::SetArg,
            Action::RemoveArg { .. } => ActionKind::RemoveArg,
            Action::SetEnv { .. } => ActionKind::SetEnv,
            Action::SetResources { .. } => ActionKind::SetResources,
            Action::AddNodeAffinity { .. } => ActionKind::AddNodeAffinity,
            Action::AddToleration { .. } => ActionKind::AddToleration,
            Action::MountShm { .. } => ActionKind::MountShm,
            Action::SetStartupProbe { .. } => ActionKind::SetStartupProbe,
            Action::Rollback { .. } => ActionKind::Rollback,
            Action::RolloutRestart { .. } => ActionKind::RolloutRestart,
            Action::DeletePod { .. } => ActionKind::DeletePod,
            Action::CordonNode { .. } => ActionKind::CordonNode,
            Action::Scale { .. } => ActionKind::Scale,
            Action::Notify { .. } => ActionKind::Notify,
            Action::WaitReady { .. } => ActionKind::WaitReady,
        }
    }

    /// Whether it changes the workload object (rather than a node, a pod or nothing).
    pub fn patches_workload(&self) -> bool {
        match self {
            Action::Rollback { template, .. } => template.is_some(),
            a => a.kind().needs_template(),
        }
    }

    /// Applies the action to `obj` (the workload, or the Node for
    /// `cordon-node`), returning the new object. Pure and idempotent.
    /// Actions with nothing to patch return `obj` unchanged.
    pub fn apply(&self, obj: &Value) -> Result<Value, ActionError> {
        let mut out = obj.clone();
        let kind = self.kind();
        match self {
            Action::SetArg { container, flag, value, env } => {
                args::set_flag(container_mut(&mut out, container, kind)?, flag, value, env.as_deref())?;
            }
            Action::RemoveArg { container, flag, env } => {
                args::remove_flag(container_mut(&mut out, container, kind)?, flag, env.as_deref())?;
            }
            Action::SetEnv { container, name, value } => {
                args::set_env(container_mut(&mut out, container, kind)?, name, value)?;
            }
            Action::SetResources { container, limits, requests } => {
                let c = container_mut(&mut out, container, kind)?;
                let res = ensure_obj(c, "resources")?;
                for (key, map) in [("limits", limits), ("requests", requests)] {
                    if map.is_empty() {
                        continue;
                    }
                    let e = res.entry(key).or_insert_with(|| json!({}));
                    let m = e.as_object_mut().ok_or_else(|| ActionError::Shape(format!("resources.{key}")))?;
                    for (k, v) in map {
                        m.insert(k.clone(), Value::String(v.clone()));
                    }
                }
            }
            Action::AddNodeAffinity { key, operator, values } => {
                let spec = pod_spec_mut(&mut out, kind)?;
                let affinity = ensure_obj(spec, "affinity")?;
                let na = affinity.entry("nodeAffinity").or_insert_with(|| json!({}));
                let req = ensure_obj(na, "requiredDuringSchedulingIgnoredDuringExecution")?;
                let terms = req.entry("nodeSelectorTerms").or_insert_with(|| json!([]));
                let terms = terms.as_array_mut().ok_or_else(|| ActionError::Shape("nodeSelectorTerms".into()))?;
                if terms.is_empty() {
                    terms.push(json!({"matchExpressions": []}));
                }
                let mut expr = Map::new();
                expr.insert("key".into(), json!(key));
                expr.insert("operator".into(), json!(op_str(*operator)));
                if !values.is_empty() {
                    expr.insert("values".into(), json!(values));
                }
                for term in terms.iter_mut() {
                    let exprs = ensure_arr(term, "matchExpressions")?;
                    let same = |e: &Value| {
                        e.get("key").and_then(Value::as_str) == Some(key)
                            && e.get("operator").and_then(Value::as_str) == Some(op_str(*operator))
                    };
                    match exprs.iter_mut().find(|e| same(e)) {
                        Some(e) => *e = Value::Object(expr.clone()),
                        None => exprs.push(Value::Object(expr.clone())),
                    }
                }
            }
            Action::AddToleration { key, operator, value, effect } => {
                let spec = pod_spec_mut(&mut out, kind)?;
                let tols = ensure_arr(spec, "tolerations")?;
                let mut t = Map::new();
                t.insert("key".into(), json!(key));
                t.insert("operator".into(), json!(operator.as_deref().unwrap_or("Equal")));
                if let Some(v) = value {
                    t.insert("value".into(), json!(v));
                }
                if let Some(e) = effect {
                    t.insert("effect".into(), json!(e));
                }
                let same = |x: &Value| {
                    x.get("key").and_then(Value::as_str) == Some(key)
                        && x.get("effect").and_then(Value::as_str) == effect.as_deref()
                };
                match tols.iter_mut().find(|x| same(x)) {
                    Some(x) => *x = Value::Object(t),
                    None => tols.push(Value::Object(t)),
                }
            }
            Action::MountShm { container, size_limit } => {
                let spec = pod_spec_mut(&mut out, kind)?;
                let mounted = spec
                    .get("containers")
                    .and_then(Value::as_array)
                    .and_then(|cs| cs.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(container)))
                    .ok_or_else(|| ActionError::NoContainer(container.clone()))?
                    .get("volumeMounts")
                    .and_then(Value::as_array)
                    .and_then(|ms| ms.iter().find(|m| m.get("mountPath").and_then(Value::as_str) == Some("/dev/shm")))
                    .and_then(|m| m.get("name").and_then(Value::as_str))
                    .map(str::to_owned);
                let volume = match &mounted {
                    Some(v) => v.clone(),
                    None => {
                        let taken = |n: &str| {
                            spec.get("volumes")
                                .and_then(Value::as_array)
                                .is_some_and(|vs| vs.iter().any(|v| v.get("name").and_then(Value::as_str) == Some(n)))
                        };
                        if taken(SHM_VOLUME) { "podmedic-dshm".to_owned() } else { SHM_VOLUME.to_owned() }
                    }
                };
                let vols = ensure_arr(spec, "volumes")?;
                match vols.iter_mut().find(|v| v.get("name").and_then(Value::as_str) == Some(volume.as_str())) {
                    Some(v) => {
                        let ed = v.get_mut("emptyDir").ok_or_else(|| ActionError::ShmNotEmptyDir {
                            container: container.clone(),
                            volume: volume.clone(),
                        })?;
                        if ed.is_null() {
                            *ed = json!({});
                        }
                        let m = ed.as_object_mut().ok_or_else(|| ActionError::Shape("emptyDir".into()))?;
                        m.insert("medium".into(), json!("Memory"));
                        m.insert("sizeLimit".into(), json!(size_limit));
                    }
                    None => {
                        vols.push(json!({"name": volume, "emptyDir": {"medium": "Memory", "sizeLimit": size_limit}}))
                    }
                }
                if mounted.is_none() {
                    let c = container_mut(&mut out, container, kind)?;
                    ensure_arr(c, "volumeMounts")?.push(json!({"name": volume, "mountPath": "/dev/shm"}));
                }
            }
            Action::SetStartupProbe { container, failure_threshold, period_seconds } => {
                let c = container_mut(&mut out, container, kind)?;
                let m = c.as_object_mut().ok_or_else(|| ActionError::Shape("container".into()))?;
                if !m.get("startupProbe").is_some_and(Value::is_object) {
                    let base = ["livenessProbe", "readinessProbe"]
                        .iter()
                        .find_map(|p| m.get(*p).and_then(Value::as_object))
                        .ok_or_else(|| ActionError::NoProbe(container.clone()))?;
                    let mut probe = Map::new();
                    for handler in ["httpGet", "tcpSocket", "exec", "grpc"] {
                        if let Some(h) = base.get(handler) {
                            probe.insert(handler.into(), h.clone());
                        }
                    }
                    m.insert("startupProbe".into(), Value::Object(probe));
                }
                let p = m
                    .get_mut("startupProbe")
                    .and_then(Value::as_object_mut)
                    .ok_or_else(|| ActionError::Shape("startupProbe".into()))?;
                p.insert("failureThreshold".into(), json!(failure_threshold));
                if let Some(s) = period_seconds {
                    p.insert("periodSeconds".into(), json!(s));
                }
            }
            Action::Rollback { template, .. } => {
                if let Some(t) = template {
                    let k = kind_of(&out);
                    if !matches!(k.as_str(), "Deployment" | "StatefulSet") {
                        return Err(ActionError::NeedsTemplate { action: kind, kind: k });
                    }
                    ensure_obj(&mut out, "spec")?.insert("template".into(), t.clone());
                }
            }
            Action::RolloutRestart { restarted_at } => {
                pod_spec_mut(&mut out, kind)?;
                let template =
                    out.pointer_mut("/spec/template").ok_or_else(|| ActionError::Shape("spec.template".into()))?;
                let meta = ensure_obj(template, "metadata")?;
                let ann = meta.entry("annotations").or_insert_with(|| json!({}));
                if ann.is_null() {
                    *ann = json!({});
                }
                ann.as_object_mut()
                    .ok_or_else(|| ActionError::Shape("annotations".into()))?
                    .insert(RESTARTED_AT.into(), json!(restarted_at));
            }
            Action::Scale { replicas } => {
                pod_spec_mut(&mut out, kind)?;
                ensure_obj(&mut out, "spec")?.insert("replicas".into(), json!(replicas));
            }
            Action::CordonNode { .. } => {
                if kind_of(&out) == "Node" {
                    ensure_obj(&mut out, "spec")?.insert("unschedulable".into(), json!(true));
                }
            }
            Action::DeletePod { .. } | Action::Notify { .. } | Action::WaitReady { .. } => {}
        }
        Ok(out)
    }

    /// Renders the action against `obj`: patches and a YAML diff.
    pub fn render(&self, obj: &Value, label: &str) -> Result<Rendered, ActionError> {
        let after = self.apply(obj)?;
        let (patch, revert) = patch::diff(obj, &after);
        Ok(Rendered { patch, revert, diff: yaml_diff(obj, &after, label) })
    }

    /// Restores the prior values recorded in a rendered revert patch.
    pub fn revert(applied: &Value, rendered: &Rendered) -> Result<Value, ActionError> {
        Ok(patch::apply(applied, &rendered.revert)?)
    }

    /// One sentence saying what the action does.
    pub fn describe(&self) -> String {
        match self {
            Action::SetArg { container, flag, value, env } => {
                let alias = env.as_ref().map(|e| format!(" (or env {e})")).unwrap_or_default();
                format!("set `{flag} {value}`{alias} on container {container}")
            }
            Action::RemoveArg { container, flag, env } => {
                let alias = env.as_ref().map(|e| format!(" (and env {e})")).unwrap_or_default();
                format!("remove `{flag}`{alias} from container {container}")
            }
            Action::SetEnv { container, name, value } => format!("set env {name}={value} on container {container}"),
            Action::SetResources { container, limits, requests } => {
                let fmt = |m: &BTreeMap<String, String>| {
                    m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
                };
                let mut parts = Vec::new();
                if !limits.is_empty() {
                    parts.push(format!("limits {}", fmt(limits)));
                }
                if !requests.is_empty() {
                    parts.push(format!("requests {}", fmt(requests)));
                }
                format!("set {} on container {container}", parts.join(" and "))
            }
            Action::AddNodeAffinity { key, operator, values } => {
                format!("require nodes with `{key} {} {}`", op_str(*operator), values.join(","))
            }
            Action::AddToleration { key, value, effect, .. } => format!(
                "tolerate taint `{key}{}{}`",
                value.as_ref().map(|v| format!("={v}")).unwrap_or_default(),
                effect.as_ref().map(|e| format!(":{e}")).unwrap_or_default()
            ),
            Action::MountShm { container, size_limit } => {
                format!("mount a memory-backed emptyDir of {size_limit} at /dev/shm in container {container}")
            }
            Action::SetStartupProbe { container, failure_threshold, period_seconds } => match period_seconds {
                Some(p) => format!(
                    "give container {container}'s startup probe failureThreshold {failure_threshold} × periodSeconds {p} = {} s",
                    failure_threshold * p
                ),
                None => format!("set container {container}'s startup probe failureThreshold to {failure_threshold}"),
            },
            Action::Rollback { revision, source, template } => match (revision, template) {
                (Some(r), Some(_)) => format!(
                    "roll the pod template back to revision {r}{}",
                    source.as_ref().map(|s| format!(" ({s})")).unwrap_or_default()
                ),
                _ => "roll back to the previous revision (`kubectl rollout undo`)".to_owned(),
            },
            Action::RolloutRestart { .. } => "restart every pod (rollout restart)".to_owned(),
            Action::DeletePod { pod } => format!("delete pod {pod} so that it is rescheduled"),
            Action::CordonNode { node } => format!("cordon node {node}"),
            Action::Scale { replicas } => format!("scale to {replicas} replicas"),
            Action::Notify { message } => format!("notify: {message}"),
            Action::WaitReady { timeout_seconds } => {
                format!("wait up to {timeout_seconds} s for the workload to be ready")
            }
        }
    }
}

/// A unified diff of two objects' YAML.
pub fn yaml_diff(before: &Value, after: &Value, label: &str) -> String {
    if before == after {
        return String::new();
    }
    let a = crate::yaml::to_string(before).unwrap_or_default();
    let b = crate::yaml::to_string(after).unwrap_or_default();
    similar::TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{label}"), &format!("b/{label}"))
        .to_string()
}

#[cfg(test)]
mod tests;
