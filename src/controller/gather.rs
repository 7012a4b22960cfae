//! Gathering the evidence bundle for a crash from the API server: the
//! previous container's log tail and head (where engines print their
//! version and settings), the pod's status and spec, its Events, its node's
//! labels, and the workload that owns it.
//!
//! - **The newest log lines always survive** ([`read_log`]): the kubelet
//!   applies `limitBytes` from the *start* of the `tailLines` it selected,
//!   so 200 long lines (logged prompts) once pushed the crash itself out.
//!   A response that reaches the byte limit is read again with fewer
//!   lines until the tail fits, so what comes back ends with the newest
//!   line; lines are then cut to [`crate::logtext::MAX_LINE_BYTES`].
//! - **Owners are matched by UID and controller ownership** ([`owner_of`],
//!   [`workload_with_history`]): a pod's ReplicaSet and that ReplicaSet's
//!   Deployment are followed through `controller: true` owner references
//!   and must carry the UID the reference names; revisions offered for a
//!   rollback are only the ReplicaSets / ControllerRevisions that the
//!   workload's UID controls. A ReplicaSet planted with the right labels,
//!   name or revision annotation is never taken for the workload's.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, ListParams, LogParams};
use kube::{Client, ResourceExt};

use super::watch::Crash;
use crate::actions::workload::controlled_by;
use crate::evidence::{ContainerFacts, EventFacts, Evidence};
use crate::logtext::LogTail;

/// Most log bytes fetched per request (the tail is cut to lines afterwards).
pub const LOG_LIMIT_BYTES: i64 = 2 << 20;
/// Log requests per crash at most (the first, then fewer lines each time).
const LOG_ATTEMPTS: usize = 6;

/// Failures gathering evidence.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// The pod is gone.
    #[error("pod {0} no longer exists")]
    PodGone(String),
    /// The log could not be read to its end.
    #[error("reading the container's log failed: {0}")]
    Log(String),
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
            GatherError::Api { .. } | GatherError::Log(_) => "api",
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
/// ControllerRevisions of a StatefulSet) as playbooks read it for
/// rollbacks: only those the workload's UID controls
/// ([`crate::actions::workload::controlled_by`]).
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
                let v = serde_json::to_value(&rs).unwrap_or_default();
                // Only the Deployment's own revisions: same labels are not enough.
                if controlled_by(&v, &owner.uid) {
                    items.push(with_kind(v, "apps/v1", "ReplicaSet"));
                }
            }
        }
        "StatefulSet" => {
            let crs = Api::<ControllerRevision>::namespaced(client.clone(), ns)
                .list(&lp)
                .await
                .map_err(api_err("ControllerRevisions"))?;
            for mut cr in crs.items {
                cr.managed_fields_mut().clear();
                let v = serde_json::to_value(&cr).unwrap_or_default();
                if controlled_by(&v, &owner.uid) {
                    items.push(with_kind(v, "apps/v1", "ControllerRevision"));
                }
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

/// Reads the last `tail` lines of the previous container's log (the
/// current one's when there is none), making sure the newest lines are in:
/// see [`read_log_with`].
pub async fn read_log(pods: &Api<Pod>, pod: &str, container: &str, tail: i64) -> Result<LogTail, GatherError> {
    read_log_with(pods, pod, container, tail, LOG_LIMIT_BYTES).await
}

/// [`read_log`] with a byte limit per request.
///
/// The kubelet selects the last `tailLines` lines and then sends at most
/// `limitBytes` of them *from their start*: when the lines are long, the
/// newest ones (the crash) are what gets cut. A response shorter than the
/// limit is complete; one that reaches it is asked again with fewer lines
/// ([`next_tail`]), at most [`LOG_ATTEMPTS`] times, so the result ends with
/// the log's last line unless even a handful of lines exceed the limit.
/// The log is read as bytes (invalid UTF-8, or a character cut by the
/// limit, is the normaliser's business, not a failure), and memory stays
/// bounded by one response of `limit_bytes` at a time.
pub async fn read_log_with(
    pods: &Api<Pod>,
    pod: &str,
    container: &str,
    tail: i64,
    limit_bytes: i64,
) -> Result<LogTail, GatherError> {
    let tail = tail.max(1);
    let limit_bytes = limit_bytes.max(1);
    let mut params = LogParams {
        container: Some(container.to_owned()),
        previous: true,
        tail_lines: Some(tail),
        limit_bytes: Some(limit_bytes),
        ..LogParams::default()
    };
    let mut bytes = match fetch_log(pods, pod, &params, limit_bytes).await {
        Ok(b) => b,
        // No previous container (first crash still running): read the current one.
        Err(GatherError::Api { source: kube::Error::Api(s), .. }) if s.code == 400 || s.code == 404 => {
            params.previous = false;
            fetch_log(pods, pod, &params, limit_bytes).await.unwrap_or_default()
        }
        Err(e) => return Err(e),
    };
    let mut lines = tail;
    for _ in 1..LOG_ATTEMPTS {
        let Some(fewer) = next_tail(&bytes, lines, limit_bytes) else { break };
        lines = fewer;
        params.tail_lines = Some(lines);
        bytes = fetch_log(pods, pod, &params, limit_bytes).await?;
    }
    crate::logtext::read_tail(bytes.as_slice(), tail as usize).map_err(|e| GatherError::Log(e.to_string()))
}

/// One log request, read as bytes, at most `limit_bytes` of them.
async fn fetch_log(pods: &Api<Pod>, pod: &str, params: &LogParams, limit_bytes: i64) -> Result<Vec<u8>, GatherError> {
    use futures::AsyncReadExt;
    let what = "the previous container's log";
    let stream = pods.log_stream(pod, params).await.map_err(|source| GatherError::Api { what, source })?;
    let mut bytes = Vec::new();
    stream
        .take(u64::try_from(limit_bytes).unwrap_or(0))
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| GatherError::Log(e.to_string()))?;
    Ok(bytes)
}

/// When a log response reached the byte limit (so its newest lines may be
/// missing), the number of lines to ask for next: fewer than the complete
/// lines that fitted (nine tenths of them), and at most 3/4 of `asked`, so
/// every retry shrinks the window; at least 1. `None` when the response is
/// complete (under the limit) or a single line was asked.
pub fn next_tail(text: &[u8], asked: i64, limit_bytes: i64) -> Option<i64> {
    if (text.len() as i64) < limit_bytes || asked <= 1 {
        return None;
    }
    let complete = memchr::memchr_iter(b'\n', text).count() as i64;
    Some((complete * 9 / 10).min(asked * 3 / 4).clamp(1, asked - 1))
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
    // Bytes, not text: the limit may cut a character in two, and a log may
    // hold invalid UTF-8; neither may cost the head.
    let limit = crate::engine::HEAD_BYTES as i64;
    let bytes = match fetch_log(pods, pod, &params, limit).await {
        Ok(b) => b,
        Err(GatherError::Api { source: kube::Error::Api(s), .. }) if s.code == 400 || s.code == 404 => {
            params.previous = false;
            fetch_log(pods, pod, &params, limit).await.unwrap_or_default()
        }
        Err(e) => {
            tracing::debug!(error = %e, "could not read the log head");
            Vec::new()
        }
    };
    crate::engine::read_head(&bytes)
}

/// Follows controller owner references: Pod → ReplicaSet → Deployment, or
/// Pod → StatefulSet; a pod without one is its own workload.
///
/// Each step trusts only a `controller: true` reference of the expected
/// kind, and the object read by that name must carry the reference's UID
/// (see also [`controller_ref`]): an object deleted and re-created under the same
/// name, or a reference written by someone else, does not make its
/// namesake the owner. When a link does not hold, the pod is treated as
/// its own workload.
pub async fn owner_of(client: &Client, pod: &Pod) -> Result<Owner, GatherError> {
    let ns = pod.namespace().unwrap_or_default();
    let bare = || Owner {
        kind: "Pod".into(),
        name: pod.name_any(),
        uid: pod.uid().unwrap_or_default(),
        object: serde_json::to_value(pod).unwrap_or_default(),
    };
    let Some(owner) = controller_ref(pod.owner_references(), &["ReplicaSet", "StatefulSet"]) else {
        return Ok(bare());
    };
    match owner.kind.as_str() {
        "ReplicaSet" => {
            let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
            let Some(rs) = rss.get_opt(&owner.name).await.map_err(api_err("the ReplicaSet"))? else {
                return Ok(bare());
            };
            if rs.uid().as_deref() != Some(owner.uid.as_str()) {
                tracing::debug!(pod = %pod.name_any(), replicaset = %owner.name, "the pod's ReplicaSet has another UID; not following it");
                return Ok(bare());
            }
            let Some(dep_ref) = controller_ref(rs.owner_references(), &["Deployment"]) else {
                return Ok(bare());
            };
            let deps: Api<Deployment> = Api::namespaced(client.clone(), &ns);
            match deps.get_opt(&dep_ref.name).await.map_err(api_err("the Deployment"))? {
                Some(mut d) if d.uid().as_deref() == Some(dep_ref.uid.as_str()) => {
                    d.managed_fields_mut().clear();
                    Ok(Owner {
                        kind: "Deployment".into(),
                        name: d.name_any(),
                        uid: d.uid().unwrap_or_default(),
                        object: with_kind(serde_json::to_value(&d).unwrap_or_default(), "apps/v1", "Deployment"),
                    })
                }
                _ => Ok(bare()),
            }
        }
        "StatefulSet" => {
            let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
            match sts.get_opt(&owner.name).await.map_err(api_err("the StatefulSet"))? {
                Some(mut s) if s.uid().as_deref() == Some(owner.uid.as_str()) => {
                    s.managed_fields_mut().clear();
                    Ok(Owner {
                        kind: "StatefulSet".into(),
                        name: s.name_any(),
                        uid: s.uid().unwrap_or_default(),
                        object: with_kind(serde_json::to_value(&s).unwrap_or_default(), "apps/v1", "StatefulSet"),
                    })
                }
                _ => Ok(bare()),
            }
        }
        _ => Ok(bare()),
    }
}

/// The `controller: true` owner reference, when it is of one of `kinds`
/// in the `apps` group and names a UID.
pub fn controller_ref<'a>(refs: &'a [OwnerReference], kinds: &[&str]) -> Option<&'a OwnerReference> {
    refs.iter()
        .find(|o| o.controller == Some(true))
        .filter(|o| kinds.contains(&o.kind.as_str()) && o.api_version == "apps/v1" && !o.uid.is_empty())
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
    fn only_controller_references_with_a_uid_are_followed() {
        let r = |kind: &str, controller: Option<bool>, uid: &str| OwnerReference {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: "x".into(),
            uid: uid.into(),
            controller,
            ..Default::default()
        };
        let ok = [r("ReplicaSet", Some(false), "u0"), r("ReplicaSet", Some(true), "u1")];
        assert_eq!(controller_ref(&ok, &["ReplicaSet"]).map(|o| o.uid.as_str()), Some("u1"));
        assert!(controller_ref(&[r("ReplicaSet", None, "u1")], &["ReplicaSet"]).is_none());
        assert!(controller_ref(&[r("ReplicaSet", Some(true), "")], &["ReplicaSet"]).is_none());
        assert!(controller_ref(&[r("Job", Some(true), "u1")], &["ReplicaSet"]).is_none());
        let mut other_group = r("ReplicaSet", Some(true), "u1");
        other_group.api_version = "evil.example.com/v1".into();
        assert!(controller_ref(&[other_group], &["ReplicaSet"]).is_none());

        let rs = |refs: serde_json::Value| serde_json::json!({"metadata": {"ownerReferences": refs}});
        assert!(controlled_by(&rs(serde_json::json!([{"uid": "d1", "controller": true}])), "d1"));
        assert!(!controlled_by(&rs(serde_json::json!([{"uid": "d1", "controller": false}])), "d1"));
        assert!(!controlled_by(&rs(serde_json::json!([{"uid": "d2", "controller": true, "name": "llama"}])), "d1"));
        assert!(!controlled_by(&serde_json::json!({"metadata": {}}), "d1"));
        assert!(!controlled_by(&rs(serde_json::json!([{"uid": "", "controller": true}])), ""));
    }

    #[test]
    fn log_reads_shrink_until_the_tail_fits() {
        // Under the limit: complete.
        assert_eq!(next_tail(b"a\nb\n", 200, 100), None);
        // At the limit with 150 whole lines in it: ask for fewer.
        let full = "x".repeat(9) + "\n";
        let text = full.repeat(150);
        let n = next_tail(text.as_bytes(), 200, text.len() as i64).unwrap();
        assert!((1..150).contains(&n), "{n}");
        // Never more than 3/4 of what was asked, never below 1.
        assert_eq!(next_tail(text.as_bytes(), 100, text.len() as i64), Some(75));
        assert_eq!(next_tail(b"yyyyyyyyyy", 5, 10), Some(1));
        assert_eq!(next_tail(b"yyyyyyyyyy", 1, 10), None);
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
