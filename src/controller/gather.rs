//! Gathering the evidence bundle for a crash from the API server: the
//! previous container's log tail and head (where engines print their
//! version and settings), the pod's status and spec, its Events, its node's
//! labels, and the workload that owns it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, LogParams};
use kube::{Client, ResourceExt};

use super::watch::Crash;
use crate::evidence::{ContainerFacts, EventFacts, Evidence};
use crate::logtext::LogTail;

/// Most log bytes fetched per crash (the tail is cut to lines afterwards).
const LOG_LIMIT_BYTES: i64 = 2 << 20;

/// Failures gathering evidence.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// The pod is gone.
    #[error("pod {0} no longer exists")]
    PodGone(String),
    /// An API call failed.
    #[error("reading {what} failed")]
    Api {
        /// What was being read.
        what: &'static str,
        /// The client error.
        #[source]
        source: kube::Error,
    },
}

impl GatherError {
    /// Bounded code for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            GatherError::PodGone(_) => "pod_gone",
            GatherError::Api { .. } => "api",
        }
    }
}

/// The workload that owns a crashed pod.
#[derive(Debug, Clone)]
pub struct Owner {
    /// `Deployment`, `StatefulSet`, or `Pod` for a bare pod.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Its UID.
    pub uid: String,
    /// The object as JSON (what playbooks render patches against).
    pub object: serde_json::Value,
}

/// Evidence plus what a plan needs.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// The evidence bundle.
    pub evidence: Evidence,
    /// The pod as read.
    pub pod: Pod,
    /// Its owning workload.
    pub owner: Owner,
    /// Allocatable resources of the pod's node.
    pub node_allocatable: BTreeMap<String, String>,
    /// Whether the pod's Events were read into the evidence.
    pub events_read: bool,
    /// What the head of the previous container's log says about the engine.
    pub engine_log: crate::engine::LogFacts,
}

fn api_err(what: &'static str) -> impl FnOnce(kube::Error) -> GatherError {
    move |source| GatherError::Api { what, source }
}

/// Reads everything about `crash` that a diagnosis and a plan use, in two
/// rounds of concurrent calls: the pod and its previous log, then its node,
/// its owner and (for a possible probe kill) its Events.
pub async fn gather(client: &Client, crash: &Crash, log_tail: i64) -> Result<Gathered, GatherError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &crash.namespace);
    let (pod, log, engine_log) = tokio::join!(
        async {
            pods.get_opt(&crash.pod)
                .await
                .map_err(api_err("the pod"))?
                .ok_or_else(|| GatherError::PodGone(format!("{}/{}", crash.namespace, crash.pod)))
        },
        read_log(&pods, &crash.pod, &crash.container, log_tail),
        read_log_head(&pods, &crash.pod, &crash.container),
    );
    let (pod, log) = (pod?, log?);
    let container = ContainerFacts::from_pod(&pod, Some(&crash.container));
    let events_read = may_be_probe_kill(&pod, &crash.container);
    let node_name = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    let (node, events, owner) = tokio::try_join!(
        async {
            match node_name {
                Some(node) => Api::<Node>::all(client.clone()).get_opt(node).await.map_err(api_err("the node")),
                None => Ok(None),
            }
        },
        async { if events_read { pod_events(client, &crash.namespace, &crash.pod).await } else { Ok(Vec::new()) } },
        owner_of(client, &pod),
    )?;
    let node_labels = node.as_ref().map(|n| n.labels().clone()).unwrap_or_default();
    let node_allocatable = node
        .as_ref()
        .and_then(|n| n.status.as_ref()?.allocatable.as_ref())
        .map(|a| a.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
        .unwrap_or_default();
    Ok(Gathered {
        evidence: Evidence { log, container, events, node_labels, metrics: Default::default() },
        pod,
        owner,
        node_allocatable,
        events_read,
        engine_log,
    })
}

/// The pod's most recent Events (at most 50, oldest first).
///
/// Listing them is the costliest call of a crash: the API server filters
/// every Event of the namespace by `involvedObject.name`. So they are read
/// only where they can change the diagnosis, a possible probe kill (see
/// [`may_be_probe_kill`], and [`super::handle_crash`] reads them as a
/// fallback when the log alone decides nothing).
pub async fn pod_events(client: &Client, namespace: &str, pod: &str) -> Result<Vec<EventFacts>, GatherError> {
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().fields(&format!("involvedObject.name={pod}"));
    let mut evs = events.list(&lp).await.map_err(api_err("the pod's events"))?.items;
    evs.sort_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0).or(e.event_time.as_ref().map(|t| t.0)));
    Ok(evs.iter().rev().take(50).rev().map(EventFacts::from).collect())
}

/// Whether `container` has a startup or liveness probe.
pub fn has_probe(pod: &Pod, container: &str) -> bool {
    pod.spec.as_ref().is_some_and(|s| {
        s.containers.iter().any(|c| c.name == container && (c.startup_probe.is_some() || c.liveness_probe.is_some()))
    })
}

/// Whether the kubelet may have killed `container` for failing a probe: it
/// has a startup or liveness probe, and its last run ended by a signal (exit
/// above 128: SIGKILL after the grace period, or SIGTERM unhandled) or
/// cleanly (SIGTERM handled), not OOMKilled. An exit with the server's own
/// error code (1, say) is its own failure, whatever the probes did.
pub fn may_be_probe_kill(pod: &Pod, container: &str) -> bool {
    if !has_probe(pod, container) {
        return false;
    }
    let status = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|ss| ss.iter().find(|s| s.name == container));
    match status.and_then(crate::evidence::termination) {
        Some(t) => t.reason.as_deref() != Some("OOMKilled") && (t.exit_code == 0 || t.exit_code > 128),
        // Nothing recorded: do not rule it out.
        None => true,
    }
}

/// The workload with its earlier revisions (ReplicaSets of a Deployment,
/// ControllerRevisions of a StatefulSet), as playbooks read it for rollbacks.
pub async fn workload_with_history(client: &Client, ns: &str, owner: &Owner) -> Result<serde_json::Value, GatherError> {
    use k8s_openapi::api::apps::v1::ControllerRevision;
    let selector = owner
        .object
        .pointer("/spec/selector/matchLabels")
        .and_then(|m| m.as_object())
        .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let lp = ListParams::default().labels(&selector);
    let mut items = vec![owner.object.clone()];
    match owner.kind.as_str() {
        "Deployment" => {
            let rss =
                Api::<ReplicaSet>::namespaced(client.clone(), ns).list(&lp).await.map_err(api_err("ReplicaSets"))?;
            for mut rs in rss.items {
                rs.managed_fields_mut().clear();
                items.push(with_kind(serde_json::to_value(&rs).unwrap_or_default(), "apps/v1", "ReplicaSet"));
            }
        }
        "StatefulSet" => {
            let crs = Api::<ControllerRevision>::namespaced(client.clone(), ns)
                .list(&lp)
                .await
                .map_err(api_err("ControllerRevisions"))?;
            for mut cr in crs.items {
                cr.managed_fields_mut().clear();
                items.push(with_kind(serde_json::to_value(&cr).unwrap_or_default(), "apps/v1", "ControllerRevision"));
            }
        }
        _ => {}
    }
    Ok(serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items }))
}

/// Nodes a pod could move to (with NVIDIA labels), for driver-pinning plans.
pub async fn gpu_nodes(client: &Client) -> Result<Vec<crate::playbook::NodeInfo>, GatherError> {
    let nodes =
        Api::<Node>::all(client.clone()).list_metadata(&ListParams::default()).await.map_err(api_err("nodes"))?;
    Ok(nodes
        .items
        .into_iter()
        .filter(|n| n.labels().keys().any(|k| k.starts_with("nvidia.com/")))
        .map(|n| crate::playbook::NodeInfo { name: n.name_any(), labels: n.labels().clone() })
        .collect())
}

async fn read_log(pods: &Api<Pod>, pod: &str, container: &str, tail: i64) -> Result<LogTail, GatherError> {
    let mut params = LogParams {
        container: Some(container.to_owned()),
        previous: true,
        tail_lines: Some(tail),
        limit_bytes: Some(LOG_LIMIT_BYTES),
        ..LogParams::default()
    };
    let text = match pods.logs(pod, &params).await {
        Ok(t) => t,
        // No previous container (first crash still running): read the current one.
        Err(kube::Error::Api(s)) if s.code == 400 || s.code == 404 => {
            params.previous = false;
            pods.logs(pod, &params).await.unwrap_or_default()
        }
        Err(e) => return Err(GatherError::Api { what: "the previous container's log", source: e }),
    };
    Ok(LogTail::from_text(&text, tail.max(1) as usize))
}

/// The head of the previous container's log (`limitBytes` from the start,
/// read beside the tail so a crash's latency does not grow), reduced at once
/// to what it says about the engine. Best effort: a failed read is an empty
/// head, never a failed crash.
async fn read_log_head(pods: &Api<Pod>, pod: &str, container: &str) -> crate::engine::LogFacts {
    let mut params = LogParams {
        container: Some(container.to_owned()),
        previous: true,
        limit_bytes: Some(crate::engine::HEAD_BYTES as i64),
        ..LogParams::default()
    };
    let text = match pods.logs(pod, &params).await {
        Ok(t) => t,
        Err(kube::Error::Api(s)) if s.code == 400 || s.code == 404 => {
            params.previous = false;
            pods.logs(pod, &params).await.unwrap_or_default()
        }
        Err(e) => {
            tracing::debug!(error = %e, "could not read the log head");
            String::new()
        }
    };
    crate::engine::read_head(text.as_bytes())
}

/// Follows controller owner references: Pod → ReplicaSet → Deployment, or
/// Pod → StatefulSet; a pod without one is its own workload.
pub async fn owner_of(client: &Client, pod: &Pod) -> Result<Owner, GatherError> {
    let ns = pod.namespace().unwrap_or_default();
    let bare = || Owner {
        kind: "Pod".into(),
        name: pod.name_any(),
        uid: pod.uid().unwrap_or_default(),
        object: serde_json::to_value(pod).unwrap_or_default(),
    };
    let Some(owner) = pod.owner_references().iter().find(|o| o.controller == Some(true)) else {
        return Ok(bare());
    };
    match owner.kind.as_str() {
        "ReplicaSet" => {
            let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
            let Some(rs) = rss.get_opt(&owner.name).await.map_err(api_err("the ReplicaSet"))? else {
                return Ok(bare());
            };
            let Some(dep_ref) =
                rs.owner_references().iter().find(|o| o.controller == Some(true) && o.kind == "Deployment")
            else {
                return Ok(bare());
            };
            let deps: Api<Deployment> = Api::namespaced(client.clone(), &ns);
            match deps.get_opt(&dep_ref.name).await.map_err(api_err("the Deployment"))? {
                Some(mut d) => {
                    d.managed_fields_mut().clear();
                    Ok(Owner {
                        kind: "Deployment".into(),
                        name: d.name_any(),
                        uid: d.uid().unwrap_or_default(),
                        object: with_kind(serde_json::to_value(&d).unwrap_or_default(), "apps/v1", "Deployment"),
                    })
                }
                None => Ok(bare()),
            }
        }
        "StatefulSet" => {
            let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
            match sts.get_opt(&owner.name).await.map_err(api_err("the StatefulSet"))? {
                Some(mut s) => {
                    s.managed_fields_mut().clear();
                    Ok(Owner {
                        kind: "StatefulSet".into(),
                        name: s.name_any(),
                        uid: s.uid().unwrap_or_default(),
                        object: with_kind(serde_json::to_value(&s).unwrap_or_default(), "apps/v1", "StatefulSet"),
                    })
                }
                None => Ok(bare()),
            }
        }
        _ => Ok(bare()),
    }
}

/// Typed objects serialise without apiVersion/kind; manifests have them.
fn with_kind(mut v: serde_json::Value, api_version: &str, kind: &str) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".into(), api_version.into());
        o.insert("kind".into(), kind.into());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(probe: bool, exit_code: i32, reason: &str) -> Pod {
        let probe = if probe {
            serde_json::json!({"httpGet": {"path": "/health", "port": 8000}})
        } else {
            serde_json::Value::Null
        };
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "vllm", "startupProbe": probe}]},
            "status": {"containerStatuses": [{"name": "vllm", "image": "", "imageID": "", "ready": false,
                "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": exit_code, "reason": reason}}}]}
        }))
        .unwrap()
    }

    #[test]
    fn events_are_read_only_for_possible_probe_kills() {
        // Killed after the grace period, or SIGTERM unhandled / handled.
        assert!(may_be_probe_kill(&pod(true, 137, "Error"), "vllm"));
        assert!(may_be_probe_kill(&pod(true, 143, "Error"), "vllm"));
        assert!(may_be_probe_kill(&pod(true, 0, "Completed"), "vllm"));
        // The server's own error, an OOM kill, or no probe at all.
        assert!(!may_be_probe_kill(&pod(true, 1, "Error"), "vllm"));
        assert!(!may_be_probe_kill(&pod(true, 137, "OOMKilled"), "vllm"));
        assert!(!may_be_probe_kill(&pod(false, 137, "Error"), "vllm"));
        assert!(!may_be_probe_kill(&pod(true, 137, "Error"), "other"));
    }
}
