//! The object a plan patches: a Deployment or StatefulSet (or a bare Pod,
//! which only gets delete and notify), kept as JSON so that fields podmedic
//! does not model survive a round trip untouched.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Kinds podmedic can render plans for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum WorkloadKind {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// A bare `v1` Pod (delete and notify only).
    Pod,
}

impl WorkloadKind {
    /// Whether the kind has a pod template that actions may patch.
    pub fn has_template(self) -> bool {
        !matches!(self, WorkloadKind::Pod)
    }

    /// `kubectl`'s name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::Pod => "Pod",
        }
    }
}

/// An earlier revision of a workload's pod template (from a ReplicaSet or
/// ControllerRevision given next to it).
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// The revision number.
    pub number: i64,
    /// The ReplicaSet or ControllerRevision it came from.
    pub source: String,
    /// Its pod template.
    pub template: Value,
}

/// A workload object.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Its kind.
    pub kind: WorkloadKind,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when written.
    pub namespace: Option<String>,
    /// The whole object.
    pub object: Value,
    /// Earlier revisions, newest first.
    pub revisions: Vec<Revision>,
}

/// A workload file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkloadError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// Not YAML or JSON.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// A kind podmedic does not patch.
    #[error(
        "unsupported kind `{kind}`: podmedic renders plans for Deployment and StatefulSet (a bare Pod gets delete and notify only)"
    )]
    UnsupportedKind {
        /// The kind found.
        kind: String,
    },
    /// A required field is missing.
    #[error("the {kind} has no `{field}`")]
    Missing {
        /// The kind.
        kind: String,
        /// The field.
        field: &'static str,
    },
    /// A `List` with no (or several) workloads in it.
    #[error("the list holds {0} Deployments/StatefulSets/Pods; give exactly one (its ReplicaSets may come along)")]
    NotOneWorkload(usize),
}

const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

impl Workload {
    /// Reads a workload from a YAML or JSON object (a `List` may add the
    /// workload's ReplicaSets or ControllerRevisions, for rollbacks).
    pub fn from_value(v: Value) -> Result<Self, WorkloadError> {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
        if kind == "List" {
            let items = v.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            let (workloads, others): (Vec<Value>, Vec<Value>) = items.into_iter().partition(|i| {
                matches!(i.get("kind").and_then(Value::as_str), Some("Deployment" | "StatefulSet" | "Pod"))
            });
            if workloads.len() != 1 {
                return Err(WorkloadError::NotOneWorkload(workloads.len()));
            }
            let mut w = Self::single(workloads.into_iter().next().unwrap_or_default())?;
            w.revisions = revisions(&w, &others);
            return Ok(w);
        }
        Self::single(v)
    }

    fn single(v: Value) -> Result<Self, WorkloadError> {
        let kind_str = v.get("kind").and_then(Value::as_str).unwrap_or("(none)").to_owned();
        let kind = match kind_str.as_str() {
            "Deployment" => WorkloadKind::Deployment,
            "StatefulSet" => WorkloadKind::StatefulSet,
            "Pod" => WorkloadKind::Pod,
            _ => return Err(WorkloadError::UnsupportedKind { kind: kind_str }),
        };
        let missing = |field| WorkloadError::Missing { kind: kind_str.clone(), field };
        let name =
            v.pointer("/metadata/name").and_then(Value::as_str).ok_or_else(|| missing("metadata.name"))?.to_owned();
        let containers = if kind.has_template() { "/spec/template/spec/containers" } else { "/spec/containers" };
        if v.pointer(containers).and_then(Value::as_array).is_none_or(|c| c.is_empty()) {
            return Err(missing(if kind.has_template() { "spec.template.spec.containers" } else { "spec.containers" }));
        }
        let namespace = v.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_owned);
        Ok(Workload { kind, name, namespace, object: v, revisions: Vec::new() })
    }

    /// Loads a workload from a YAML or JSON file.
    pub fn load(path: &Path) -> Result<Self, WorkloadError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| WorkloadError::Read { path: path.display().to_string(), message: e.to_string() })?;
        Self::from_str(&text).map_err(|e| match e {
            WorkloadError::Parse { line, column, message, .. } => {
                WorkloadError::Parse { path: path.display().to_string(), line, column, message }
            }
            other => other,
        })
    }

    /// Parses a workload from YAML or JSON text.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str) -> Result<Self, WorkloadError> {
        let v: Value = crate::yaml::from_str(text).map_err(|e| WorkloadError::Parse {
            path: "(input)".into(),
            line: e.line,
            column: e.column,
            message: e.message,
        })?;
        Self::from_value(v)
    }

    /// JSON Pointer of the pod spec (`/spec/template/spec` or `/spec`).
    pub fn pod_spec_path(&self) -> &'static str {
        if self.kind.has_template() { "/spec/template/spec" } else { "/spec" }
    }

    /// The containers of the pod spec.
    pub fn containers(&self) -> &[Value] {
        self.object
            .pointer(&format!("{}/containers", self.pod_spec_path()))
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// A container by name.
    pub fn container(&self, name: &str) -> Option<&Value> {
        self.containers().iter().find(|c| c.get("name").and_then(Value::as_str) == Some(name))
    }

    /// The current revision number (Deployments), when annotated.
    pub fn current_revision(&self) -> Option<i64> {
        self.object
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(REVISION_ANNOTATION))
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
    }

    /// The newest earlier revision whose template differs from the current one.
    pub fn previous_revision(&self) -> Option<&Revision> {
        let current = self.object.pointer("/spec/template").map(strip_hash);
        let cur_no = self.current_revision();
        self.revisions
            .iter()
            .filter(|r| cur_no.is_none_or(|c| r.number < c))
            .find(|r| Some(strip_hash(&r.template)) != current)
    }

    /// `Kind/namespace/name`.
    pub fn reference(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind.as_str(), self.name),
            None => format!("{}/{}", self.kind.as_str(), self.name),
        }
    }
}

/// SHA-256 of a workload's pod template (`spec.template`, canonical JSON,
/// without the `pod-template-hash` label): a plan is bound to it, so a
/// changed template supersedes a proposal while scaling does not.
pub fn template_hash(object: &Value) -> Option<String> {
    let t = object.pointer("/spec/template")?;
    Some(crate::util::sha256_hex(crate::util::canonical_json(&strip_hash(t)).as_bytes()))
}

/// A live workload as the executor and the approval gate read it.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadObs {
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.resourceVersion`.
    pub resource_version: String,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// [`template_hash`] of it.
    pub template_hash: Option<String>,
    /// The whole object.
    pub object: Value,
}

impl WorkloadObs {
    /// Reads the fields from an object as the API server returned it.
    pub fn from_object(object: Value) -> Self {
        let s = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or_default().to_owned();
        WorkloadObs {
            uid: s("/metadata/uid"),
            resource_version: s("/metadata/resourceVersion"),
            generation: object.pointer("/metadata/generation").and_then(Value::as_i64),
            template_hash: template_hash(&object),
            object,
        }
    }
}

/// A pod template without the `pod-template-hash` label the ReplicaSet adds.
pub fn strip_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.shift_remove("pod-template-hash");
    }
    t
}

fn revisions(w: &Workload, others: &[Value]) -> Vec<Revision> {
    let mut out = Vec::new();
    for o in others {
        let kind = o.get("kind").and_then(Value::as_str).unwrap_or_default();
        let owned = o
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_none_or(|refs| refs.iter().any(|r| r.get("name").and_then(Value::as_str) == Some(w.name.as_str())));
        let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let (number, template) = match (kind, w.kind) {
            ("ReplicaSet", WorkloadKind::Deployment) => (
                o.pointer("/metadata/annotations")
                    .and_then(|a| a.get(REVISION_ANNOTATION))
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse().ok()),
                o.pointer("/spec/template").cloned(),
            ),
            ("ControllerRevision", WorkloadKind::StatefulSet) => {
                (o.get("revision").and_then(Value::as_i64), o.pointer("/data/spec/template").cloned())
            }
            _ => (None, None),
        };
        if let (true, Some(number), Some(template)) = (owned, number, template) {
            let mut template = strip_hash(&template);
            if let Some(m) = template.as_object_mut() {
                m.shift_remove("$patch");
            }
            out.push(Revision { number, source: format!("{kind}/{name}"), template });
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.number));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_kinds_and_missing_fields_are_clear() {
        let e = Workload::from_str("kind: DaemonSet\nmetadata: {name: x}\n").unwrap_err();
        assert!(e.to_string().starts_with("unsupported kind `DaemonSet`"), "{e}");
        let e = Workload::from_str("kind: Deployment\nmetadata: {name: x}\nspec: {}\n").unwrap_err();
        assert_eq!(e.to_string(), "the Deployment has no `spec.template.spec.containers`");
        let e = Workload::from_str("kind: [").unwrap_err();
        assert!(matches!(e, WorkloadError::Parse { line: 1, .. }), "{e:?}");
    }

    #[test]
    fn lists_bring_revisions() {
        let text = r#"{"kind": "List", "items": [
          {"kind": "Deployment", "metadata": {"name": "d", "annotations": {"deployment.kubernetes.io/revision": "3"}},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v3"}]}}}},
          {"kind": "ReplicaSet", "metadata": {"name": "d-2", "annotations": {"deployment.kubernetes.io/revision": "2"}},
           "spec": {"template": {"metadata": {"labels": {"pod-template-hash": "abc"}}, "spec": {"containers": [{"name": "c", "image": "v2"}]}}}},
          {"kind": "ReplicaSet", "metadata": {"name": "d-3", "annotations": {"deployment.kubernetes.io/revision": "3"}},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "v3"}]}}}}
        ]}"#;
        let w = Workload::from_str(text).unwrap();
        assert_eq!(w.revisions.len(), 2);
        let prev = w.previous_revision().unwrap();
        assert_eq!((prev.number, prev.source.as_str()), (2, "ReplicaSet/d-2"));
        assert_eq!(prev.template.pointer("/metadata/labels"), Some(&serde_json::json!({})));
    }
}
