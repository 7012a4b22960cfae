//! The stall loop: Ready serving pods that stopped generating.
//!
//! Every `--stall-check-interval`, one instant query
//! ([`crate::signals::stall_candidates_query`]) lists the pods whose queue
//! or running batch stayed occupied for `--stall-window` while their
//! generation stayed at zero. For each candidate in the watched scope the
//! pod is read from the API server: it must exist, not be terminating,
//! match `--selector` and be Ready (a crashing pod is the crash pipeline's).
//! Its full series over twice the window are then judged by the pure
//! detector ([`crate::signals::stall::detect`]); only a stall it confirms
//! becomes an `engine-stalled` proposal, with the series and the running
//! container's last log lines as evidence and a playbook that captures
//! diagnostics and restarts the pod behind the same approval gate as every
//! other proposal. An idle engine (nothing waiting, nothing running) never
//! gets one.
//!
//! Each stalled pod is proposed once per window ([`Proposed`]); further
//! checks of the same stall only count an occurrence on the open proposal
//! (see [`super::propose`]). Prometheus down or slow: the check is skipped
//! and counted (`podmedic_stall_checks_total{result}`), nothing else
//! happens.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, LogParams};
use kube::{Resource, ResourceExt};
use tracing::{debug, info, warn};

use super::watch::{Crash, CrashKind};
use super::{Context, PlanInput, gather, propose};
use crate::crd::RecoveryProposal;
use crate::evidence::{ContainerFacts, Evidence};
use crate::metrics::{DiagnosisLabels, KindLabel, ResultLabel};
use crate::signals::stall::{self, Verdict};
use crate::signals::{self, Reading, Target};

/// Most candidates handled per check (the rest wait for the next one).
const MAX_CANDIDATES_PER_CHECK: usize = 20;
/// Log lines of the running container kept as diagnostics.
const LOG_TAIL: i64 = 50;
/// Most log bytes read for them.
const LOG_LIMIT_BYTES: i64 = 256 << 10;

/// Pods proposed for a stall recently: `(namespace, pod) → when`.
#[derive(Debug, Default)]
pub struct Proposed {
    at: HashMap<(String, String), Instant>,
}

impl Proposed {
    /// Whether `(ns, pod)` was proposed within `quiet`; forgets older entries.
    pub fn recent(&mut self, ns: &str, pod: &str, quiet: Duration) -> bool {
        self.at.retain(|_, t| t.elapsed() < quiet);
        self.at.contains_key(&(ns.to_owned(), pod.to_owned()))
    }

    /// Remembers a proposal for `(ns, pod)`.
    pub fn mark(&mut self, ns: &str, pod: &str) {
        self.at.insert((ns.to_owned(), pod.to_owned()), Instant::now());
    }

    /// Entries kept.
    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }
}

/// Runs the stall checks until the future is dropped (returns at once when
/// there is no Prometheus or `--stall-window 0`).
pub async fn run(ctx: Arc<Context>) {
    let Some(prom) = ctx.prometheus.clone() else { return };
    let window = ctx.config.metrics.stall_window.as_secs();
    if window == 0 {
        return;
    }
    let mut tick = tokio::time::interval(ctx.config.metrics.stall_interval.max(Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let result = check(&ctx, &prom, window).await;
        let code = match &result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        ctx.metrics.stall_checks.get_or_create(&ResultLabel { result: code }).inc();
        match result {
            Ok(n) if n > 0 => debug!(candidates = n, "stall check"),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "stall check skipped: Prometheus did not answer"),
        }
    }
}

/// One check: asks for candidates and handles each. Returns how many
/// candidates Prometheus listed.
async fn check(ctx: &Context, prom: &signals::Prometheus, window: u64) -> Result<usize, signals::PromError> {
    let now = signals::now();
    let query = signals::stall_candidates_query(window, &ctx.config.namespaces);
    let candidates = prom.query(&query, now).await?;
    let n = candidates.len();
    let quiet = Duration::from_secs(window.max(60));
    let mut handled = 0;
    for c in candidates {
        let (Some(ns), Some(pod)) = (c.labels.get("namespace"), c.labels.get("pod")) else { continue };
        if !in_scope(ctx, ns) || ctx.stalls.lock().expect("stalls lock").recent(ns, pod, quiet) {
            continue;
        }
        if handled >= MAX_CANDIDATES_PER_CHECK {
            break;
        }
        handled += 1;
        match handle_candidate(ctx, prom, ns, pod, window, now).await {
            Ok(Some(outcome)) => {
                ctx.stalls.lock().expect("stalls lock").mark(ns, pod);
                debug!(namespace = %ns, pod = %pod, ?outcome, "stall proposed");
            }
            Ok(None) => {}
            Err(e) => {
                warn!(namespace = %ns, pod = %pod, error = %crate::util::error_chain(&e), "could not handle a stall");
                ctx.metrics.reconcile_errors.get_or_create(&crate::metrics::CodeLabel { code: "stall" }).inc();
            }
        }
    }
    Ok(n)
}

fn in_scope(ctx: &Context, ns: &str) -> bool {
    let listed: Vec<&String> = ctx.config.namespaces.iter().filter(|n| !n.is_empty()).collect();
    listed.is_empty() || listed.iter().any(|n| n.as_str() == ns)
}

/// Errors handling one stalled pod.
#[derive(Debug, thiserror::Error)]
pub enum StallError {
    /// Reading the pod, its log or its owner failed.
    #[error("reading {what} failed")]
    Api {
        /// What.
        what: &'static str,
        /// The client error.
        #[source]
        source: kube::Error,
    },
    /// Reading its owner failed.
    #[error("reading the pod's owner failed")]
    Owner(#[from] gather::GatherError),
}

fn api(what: &'static str) -> impl FnOnce(kube::Error) -> StallError {
    move |source| StallError::Api { what, source }
}

/// Whether a pod is a Ready serving pod podmedic should judge.
pub fn eligible(pod: &Pod, selector: Option<&str>) -> bool {
    if pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let ready = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    ready && selector.is_none_or(|sel| selector_matches(sel, pod.labels()))
}

/// Equality-based label selectors (`a=b,c!=d,e`), as `--selector` takes them
/// for the watch; anything fancier matches (the watch already filtered).
fn selector_matches(sel: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
    sel.split(',').map(str::trim).filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels.get(k.trim()).is_none_or(|x| x != v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels.get(k.trim()).is_some_and(|x| x == v.trim())
        } else if term.contains(' ') || term.contains('(') {
            true
        } else if let Some(k) = term.strip_prefix('!') {
            !labels.contains_key(k)
        } else {
            labels.contains_key(term)
        }
    })
}

/// The container that runs the engine: the only one, else the first whose
/// image or command names a known server, else the first.
pub fn engine_container(pod: &Pod) -> Option<String> {
    let containers = &pod.spec.as_ref()?.containers;
    let known = ["vllm", "sglang", "text-generation", "tgi", "llama", "triton", "tritonserver", "ollama"];
    containers
        .iter()
        .find(|c| {
            let mut text = c.image.clone().unwrap_or_default();
            for part in c.command.iter().flatten().chain(c.args.iter().flatten()) {
                text.push(' ');
                text.push_str(part);
            }
            let text = text.to_ascii_lowercase();
            containers.len() == 1 || known.iter().any(|k| text.contains(k))
        })
        .or(containers.first())
        .map(|c| c.name.clone())
}

async fn handle_candidate(
    ctx: &Context,
    prom: &signals::Prometheus,
    ns: &str,
    name: &str,
    window: u64,
    now: f64,
) -> Result<Option<propose::Outcome>, StallError> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let Some(pod) = pods.get_opt(name).await.map_err(api("the pod"))? else { return Ok(None) };
    if !eligible(&pod, ctx.config.selector.as_deref()) {
        return Ok(None);
    }
    // Twice the window: the detector judges the window, the rest says when
    // generation stopped.
    let target = Target { namespace: ns.to_owned(), pod: name.to_owned(), container: None };
    let reading = signals::read_window(prom, &target, &[now], window * 2).await;
    let Reading::Read(summary) = &reading else { return Ok(None) };
    let Verdict::Stalled(found) = stall::detect(summary, now, window as f64) else { return Ok(None) };
    let container = engine_container(&pod).unwrap_or_default();
    info!(namespace = %ns, pod = %name, shape = found.shape.subclass(), seconds = found.seconds, "engine stalled");
    ctx.metrics.pod_events.get_or_create(&KindLabel { kind: CrashKind::Stall.as_str() }).inc();
    // The diagnostics captured before any restart: the running log's tail.
    let params = LogParams {
        container: Some(container.clone()),
        tail_lines: Some(LOG_TAIL),
        limit_bytes: Some(LOG_LIMIT_BYTES),
        ..LogParams::default()
    };
    let log = pods.logs(name, &params).await.unwrap_or_default();
    let evidence = Evidence {
        log: crate::logtext::LogTail::from_text(&log, LOG_TAIL as usize),
        container: ContainerFacts::from_pod(&pod, Some(&container)),
        metrics: reading.clone(),
        ..Default::default()
    };
    let mut diagnosis = crate::diagnosis::stalled(&evidence, &found);
    ctx.metrics
        .diagnoses
        .get_or_create(&DiagnosisLabels {
            class: diagnosis.class.as_str(),
            source: super::source_label(diagnosis.source),
        })
        .inc();
    let owner = gather::owner_of(&ctx.client, &pod).await?;
    let api_rxp: Api<RecoveryProposal> = Api::namespaced(ctx.client.clone(), ns);
    let existing = propose::for_workload(&api_rxp, &owner.name).await.map_err(api("proposals"))?;
    let gathered = gather::Gathered {
        evidence,
        pod: pod.clone(),
        owner: owner.clone(),
        node_allocatable: Default::default(),
        events_read: false,
        engine_log: Default::default(),
    };
    let input = PlanInput {
        object: owner.object.clone(),
        candidate_nodes: Vec::new(),
        node_fault: crate::playbook::NodeFault::default(),
    };
    let plan = super::plan_for(ctx, &diagnosis, &gathered, input, &existing);
    super::attach_metrics(&mut diagnosis, &reading);
    let crash = Crash {
        namespace: ns.to_owned(),
        pod: name.to_owned(),
        container: container.clone(),
        kind: CrashKind::Stall,
        restart_count: gathered.evidence.container.as_ref().map_or(0, |c| c.restart_count),
        finished_at: None,
        observed_at: Instant::now(),
    };
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    let spec = propose::build_spec(&owner, &crash, pod.uid(), node, &diagnosis, plan, &ctx.config, Timestamp::now());
    let outcome = propose::propose(&api_rxp, &ctx.recorder, spec, &pod.object_ref(&()), ctx.config.cooldown, &existing)
        .await
        .map_err(api("the proposal"))?;
    if let propose::Outcome::Created(created) = &outcome {
        info!(proposal = %created.name_any(), "proposed a restart of a stalled engine");
        ctx.notifier.notify(created);
    }
    Ok(Some(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ready: &str, labels: serde_json::Value, containers: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "labels": labels},
            "spec": {"containers": containers},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}
        }))
        .unwrap()
    }

    #[test]
    fn only_ready_pods_in_the_selector_are_judged() {
        let c = serde_json::json!([{"name": "vllm"}]);
        let labels = serde_json::json!({"app": "llm", "tier": "gpu"});
        assert!(eligible(&pod("True", labels.clone(), c.clone()), None));
        assert!(!eligible(&pod("False", labels.clone(), c.clone()), None));
        assert!(eligible(&pod("True", labels.clone(), c.clone()), Some("app=llm,tier")));
        assert!(!eligible(&pod("True", labels.clone(), c.clone()), Some("app=web")));
        assert!(!eligible(&pod("True", labels.clone(), c.clone()), Some("app!=llm")));
        assert!(eligible(&pod("True", labels.clone(), c.clone()), Some("!gone,app==llm")));
        assert!(eligible(&pod("True", labels, c), Some("env in (prod)")));
    }

    #[test]
    fn the_engine_container_is_found_beside_sidecars() {
        let p = pod(
            "True",
            serde_json::json!({}),
            serde_json::json!([{"name": "envoy", "image": "envoyproxy/envoy"},
                               {"name": "server", "image": "lmsysorg/sglang:v0.5.2", "args": ["--port", "30000"]}]),
        );
        assert_eq!(engine_container(&p).as_deref(), Some("server"));
        let single = pod("True", serde_json::json!({}), serde_json::json!([{"name": "only", "image": "x"}]));
        assert_eq!(engine_container(&single).as_deref(), Some("only"));
    }

    #[test]
    fn a_stall_is_proposed_once_per_quiet_period() {
        let mut p = Proposed::default();
        assert!(!p.recent("ns", "a", Duration::from_secs(60)));
        p.mark("ns", "a");
        assert!(p.recent("ns", "a", Duration::from_secs(60)));
        assert!(!p.recent("ns", "b", Duration::from_secs(60)));
        assert!(!p.recent("ns", "a", Duration::ZERO));
        assert!(p.is_empty());
    }
}
