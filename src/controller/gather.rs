//! Gathering the evidence bundle for a crash from the API server: the
//! previous container's log tail, the pod's status and spec, its Events, its
//! node's labels, and the workload that owns it.

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
}

fn api_err(what: &'static str) -> impl FnOnce(kube::Error) -> GatherError {
    move |source| GatherError::Api { what, source }
}

/// Reads everything about `crash` that a diagnosis and a plan use.
pub async fn gather(client: &Client, crash: &Crash, log_tail: i64) -> Result<Gathered, GatherError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &crash.namespace);
    let pod = pods
        .get_opt(&crash.pod)
        .await
        .map_err(api_err("the pod"))?
        .ok_or_else(|| GatherError::PodGone(format!("{}/{}", crash.namespace, crash.pod)))?;

    let log = read_log(&pods, &crash.pod, &crash.container, log_tail).await?;
    let container = ContainerFacts::from_pod(&pod, Some(&crash.container));

    let node_labels = match pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
        Some(node) => {
            let nodes: Api<Node> = Api::all(client.clone());
            nodes.get_opt(node).await.map_err(api_err("the node"))?.map(|n| n.labels().clone()).unwrap_or_default()
        }
        None => BTreeMap::new(),
    };

    let events: Api<Event> = Api::namespaced(client.clone(), &crash.namespace);
    let lp = ListParams::default().fields(&format!("involvedObject.name={}", crash.pod));
    let mut evs = events.list(&lp).await.map_err(api_err("the pod's events"))?.items;
    evs.sort_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0).or(e.event_time.as_ref().map(|t| t.0)));
    let events = evs.iter().rev().take(50).rev().map(EventFacts::from).collect();

    let owner = owner_of(client, &pod).await?;
    Ok(Gathered { evidence: Evidence { log, container, events, node_labels, metrics: BTreeMap::new() }, pod, owner })
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
