//! The evidence bundle an SRE would look at, as plain data.
//!
//! [`Evidence`] is filled from the API server by the controller and from
//! files by `podmedic triage`; everything downstream (diagnosis, playbook
//! rendering) reads only this, never the cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use serde::{Deserialize, Serialize};

use crate::logtext::LogTail;

/// Everything known about one crash.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Last lines of the previous container's log.
    pub log: LogTail,
    /// The crashed container's status and spec, when the pod is known.
    pub container: Option<ContainerFacts>,
    /// Recent Events about the pod, oldest first.
    pub events: Vec<EventFacts>,
    /// Labels of the node the pod ran on (GPU product, driver, CUDA version).
    pub node_labels: BTreeMap<String, String>,
    /// The serving metrics of the minutes before the crash (or of the
    /// stall), or why there are none (see [`crate::signals`]).
    pub metrics: crate::signals::Reading,
}

/// How a container last ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Termination {
    /// Exit code (137 = SIGKILL, usually the OOM killer or a probe).
    pub exit_code: i32,
    /// Kubelet's reason, e.g. `OOMKilled`, `Error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Seconds between start and termination, when both are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_seconds: Option<i64>,
}

/// The crashed container, from the pod's status and spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerFacts {
    /// Container name.
    pub name: String,
    /// Image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Restarts so far.
    pub restart_count: i32,
    /// Reason it is waiting now, e.g. `CrashLoopBackOff`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_reason: Option<String>,
    /// How the previous run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_termination: Option<Termination>,
    /// Resource limits as written (`memory: 32Gi`, `nvidia.com/gpu: 1`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
    /// Resource requests as written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
    /// Node the pod ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
}

/// One Kubernetes Event, reduced to what a diagnosis reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventFacts {
    /// `Normal` or `Warning`.
    #[serde(rename = "type", default)]
    pub type_: String,
    /// e.g. `Unhealthy`, `Killing`, `BackOff`.
    pub reason: String,
    /// The message.
    pub message: String,
    /// How many times it was seen.
    #[serde(default)]
    pub count: i32,
}

/// Which kind of probe killed a container, from its Events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKill {
    /// The startup probe failed.
    Startup,
    /// The liveness probe failed.
    Liveness,
}

impl Evidence {
    /// Whether the Events say a probe killed the container, and which one.
    pub fn probe_kill(&self) -> Option<ProbeKill> {
        self.events.iter().rev().find_map(|e| {
            let m = e.message.to_ascii_lowercase();
            let killing = e.reason == "Killing" || m.contains("will be restarted");
            if killing && m.contains("failed startup probe") {
                Some(ProbeKill::Startup)
            } else if killing && m.contains("failed liveness probe") {
                Some(ProbeKill::Liveness)
            } else {
                None
            }
        })
    }

    /// The last probe failure message (`Startup probe failed: ...`), if any.
    pub fn probe_failure_message(&self) -> Option<&str> {
        self.events.iter().rev().find(|e| e.reason == "Unhealthy").map(|e| e.message.as_str())
    }
}

impl ContainerFacts {
    /// Facts about container `name` (or the first container) of `pod`.
    pub fn from_pod(pod: &Pod, name: Option<&str>) -> Option<Self> {
        let spec = pod.spec.as_ref()?;
        let container = match name {
            Some(n) => spec.containers.iter().find(|c| c.name == n)?,
            None => {
                // Prefer the container that is crashing.
                let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
                let crashing = statuses.and_then(|ss| ss.iter().find(|s| is_crashing(s))).map(|s| s.name.as_str());
                match crashing {
                    Some(n) => spec.containers.iter().find(|c| c.name == n)?,
                    None => spec.containers.first()?,
                }
            }
        };
        let status = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|ss| ss.iter().find(|s| s.name == container.name));
        let quantities = |m: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
            m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect()).unwrap_or_default()
        };
        let resources = container.resources.as_ref();
        Some(ContainerFacts {
            name: container.name.clone(),
            image: container.image.clone(),
            restart_count: status.map_or(0, |s| s.restart_count),
            waiting_reason: status
                .and_then(|s| s.state.as_ref())
                .and_then(|st| st.waiting.as_ref())
                .and_then(|w| w.reason.clone()),
            last_termination: status.and_then(termination),
            limits: quantities(resources.and_then(|r| r.limits.as_ref())),
            requests: quantities(resources.and_then(|r| r.requests.as_ref())),
            node_name: spec.node_name.clone(),
        })
    }
}

/// Whether a container status shows a crash worth diagnosing.
pub fn is_crashing(s: &ContainerStatus) -> bool {
    let waiting = s.state.as_ref().and_then(|st| st.waiting.as_ref()).and_then(|w| w.reason.as_deref());
    waiting == Some("CrashLoopBackOff") || termination(s).is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"))
}

/// The most recent termination of a container: its current state when it is
/// terminated now, else its last state.
pub fn termination(s: &ContainerStatus) -> Option<Termination> {
    let t = s
        .state
        .as_ref()
        .and_then(|st| st.terminated.as_ref())
        .or_else(|| s.last_state.as_ref().and_then(|st| st.terminated.as_ref()))?;
    let ran_seconds = match (&t.started_at, &t.finished_at) {
        (Some(a), Some(b)) => Some(b.0.as_second() - a.0.as_second()),
        _ => None,
    };
    Some(Termination { exit_code: t.exit_code, reason: t.reason.clone(), ran_seconds })
}

impl From<&Event> for EventFacts {
    fn from(e: &Event) -> Self {
        EventFacts {
            type_: e.type_.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            message: e.message.clone().unwrap_or_default(),
            count: e.count.unwrap_or(1),
        }
    }
}

/// What a node itself says about its GPUs being faulty (pure): devices the
/// NVIDIA device plugin withdrew (`nvidia.com/gpu` allocatable below
/// capacity), node conditions that are `True` and name a GPU, Xid, NVLink
/// or ECC problem (node-problem-detector, DCGM and GPU-health agents), and
/// taints naming one. These are written by node agents, not by pods, so
/// they corroborate a GPU fault read from a pod's log.
pub fn node_gpu_reports(node: &k8s_openapi::api::core::v1::Node) -> Vec<String> {
    let mut out = Vec::new();
    let gpu_word = |s: &str| {
        let l = s.to_ascii_lowercase();
        ["gpu", "xid", "nvlink", "ecc", "nvidia"].iter().any(|w| l.contains(w))
    };
    if let Some(st) = &node.status {
        let q = |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
            m.as_ref().and_then(|m| m.get("nvidia.com/gpu")).and_then(|q| q.0.trim().parse::<i64>().ok())
        };
        if let (Some(cap), Some(alloc)) = (q(&st.capacity), q(&st.allocatable))
            && alloc < cap
        {
            out.push(format!("{} of {cap} GPUs withdrawn by the device plugin (allocatable {alloc})", cap - alloc));
        }
        for c in st.conditions.iter().flatten() {
            if c.status == "True" && gpu_word(&c.type_) {
                out.push(format!(
                    "node condition {}{}",
                    c.type_,
                    c.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
                ));
            }
        }
    }
    for t in node.spec.as_ref().and_then(|s| s.taints.as_ref()).into_iter().flatten() {
        if gpu_word(&t.key) && t.key != "nvidia.com/gpu" {
            out.push(format!("node taint {}", t.key));
        }
    }
    out
}

/// Whether the container holds at least one GPU (`nvidia.com/gpu` limit).
pub fn holds_gpu(c: &ContainerFacts) -> bool {
    c.limits.get("nvidia.com/gpu").and_then(|q| q.trim().parse::<i64>().ok()).is_some_and(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn reads_the_crashing_containers_facts() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "vllm-0"},
            "spec": {"nodeName": "gpu-1", "containers": [
                {"name": "sidecar", "image": "envoy"},
                {"name": "vllm", "image": "vllm/vllm-openai:v0.6.3",
                 "resources": {"limits": {"memory": "32Gi", "nvidia.com/gpu": "1"}}}
            ]},
            "status": {"containerStatuses": [
                {"name": "sidecar", "image": "envoy", "imageID": "", "ready": true, "restartCount": 0},
                {"name": "vllm", "image": "", "imageID": "", "ready": false, "restartCount": 4,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                   "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:02:05Z"}}}
            ]}
        }));
        let c = ContainerFacts::from_pod(&p, None).unwrap();
        assert_eq!(c.name, "vllm");
        assert_eq!(c.restart_count, 4);
        assert_eq!(c.waiting_reason.as_deref(), Some("CrashLoopBackOff"));
        let t = c.last_termination.unwrap();
        assert_eq!((t.exit_code, t.reason.as_deref(), t.ran_seconds), (137, Some("OOMKilled"), Some(125)));
        assert_eq!(c.limits["memory"], "32Gi");
        assert_eq!(c.node_name.as_deref(), Some("gpu-1"));
    }

    #[test]
    fn probe_kills_are_read_from_events() {
        let ev = |reason: &str, message: &str| EventFacts {
            reason: reason.into(),
            message: message.into(),
            ..Default::default()
        };
        let mut e = Evidence::default();
        e.events.push(ev("Unhealthy", "Startup probe failed: Get \"http://10.0.0.1:8000/health\": connection refused"));
        assert_eq!(e.probe_kill(), None);
        e.events.push(ev("Killing", "Container vllm failed startup probe, will be restarted"));
        assert_eq!(e.probe_kill(), Some(ProbeKill::Startup));
        assert!(e.probe_failure_message().unwrap().starts_with("Startup probe failed"));
    }
}
