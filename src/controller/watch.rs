//! Which pod changes are crashes worth diagnosing (pure), and the memory of
//! which crashes were already handled.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// What kind of crash a pod shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashKind {
    /// Waiting in CrashLoopBackOff with enough restarts.
    CrashLoop,
    /// The last run ended OOMKilled.
    OomKilled,
    /// No crash: a Ready engine stopped generating (found in its metrics).
    Stall,
}

impl CrashKind {
    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            CrashKind::CrashLoop => "crashloop",
            CrashKind::OomKilled => "oomkilled",
            CrashKind::Stall => "stall",
        }
    }
}

/// One crash of one container.
#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    /// Namespace of the pod.
    pub namespace: String,
    /// The pod.
    pub pod: String,
    /// The crashed container.
    pub container: String,
    /// What it shows.
    pub kind: CrashKind,
    /// Restarts so far (identifies this crash among the pod's crashes).
    pub restart_count: i32,
    /// When the crashed run ended, if the kubelet said (whole seconds).
    pub finished_at: Option<Time>,
    /// When the controller saw this pod status (the start of its
    /// crash → proposal latency).
    pub observed_at: std::time::Instant,
}

/// The crash a pod shows now, if any: a container waiting in
/// CrashLoopBackOff with at least `restart_threshold` restarts, or one whose
/// last run was OOMKilled (at once, whatever the restart count).
pub fn crash_of(pod: &Pod, restart_threshold: i32) -> Option<Crash> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.iter().find_map(|s| {
        let term = crate::evidence::termination(s);
        let waiting = s.state.as_ref().and_then(|st| st.waiting.as_ref()).and_then(|w| w.reason.as_deref());
        let oom = term.as_ref().is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"));
        let kind = if oom && (s.restart_count >= 1 || waiting.is_some()) {
            CrashKind::OomKilled
        } else if waiting == Some("CrashLoopBackOff") && s.restart_count >= restart_threshold {
            CrashKind::CrashLoop
        } else {
            return None;
        };
        let finished_at = s
            .last_state
            .as_ref()
            .and_then(|l| l.terminated.as_ref())
            .or_else(|| s.state.as_ref().and_then(|st| st.terminated.as_ref()))
            .and_then(|t| t.finished_at.clone());
        Some(Crash {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            pod: pod.metadata.name.clone().unwrap_or_default(),
            container: s.name.clone(),
            kind,
            restart_count: s.restart_count,
            finished_at,
            observed_at: std::time::Instant::now(),
        })
    })
}

/// Remembers the restart count last handled per container, so the same
/// crash (seen again on every status change) is diagnosed once.
#[derive(Debug, Default)]
pub struct Seen {
    handled: HashMap<(String, String, String), i32>,
}

impl Seen {
    /// Whether `crash` is new; marks it handled when it is.
    pub fn first_time(&mut self, crash: &Crash) -> bool {
        let key = (crash.namespace.clone(), crash.pod.clone(), crash.container.clone());
        match self.handled.get(&key) {
            Some(&n) if n >= crash.restart_count => false,
            _ => {
                self.handled.insert(key, crash.restart_count);
                true
            }
        }
    }

    /// Forgets a deleted pod.
    pub fn forget_pod(&mut self, namespace: &str, pod: &str) {
        self.handled.retain(|(ns, p, _), _| !(ns == namespace && p == pod));
    }

    /// Entries kept (for the memory benchmark).
    pub fn len(&self) -> usize {
        self.handled.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.handled.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "vllm"}]},
            "status": {"containerStatuses": [status]}
        }))
        .unwrap()
    }

    #[test]
    fn detects_crash_loops_over_the_threshold_and_oom_kills_at_once() {
        let cl = |n: i32| {
            pod(serde_json::json!({"name": "vllm", "image": "", "imageID": "", "ready": false, "restartCount": n,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-01-01T00:00:00Z"}}}))
        };
        assert_eq!(crash_of(&cl(1), 2), None);
        let c = crash_of(&cl(2), 2).unwrap();
        assert_eq!((c.kind, c.restart_count, c.container.as_str()), (CrashKind::CrashLoop, 2, "vllm"));
        assert!(c.finished_at.is_some());
        let oom =
            pod(serde_json::json!({"name": "vllm", "image": "", "imageID": "", "ready": false, "restartCount": 1,
            "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}));
        assert_eq!(crash_of(&oom, 2).unwrap().kind, CrashKind::OomKilled);
        let healthy = pod(
            serde_json::json!({"name": "vllm", "image": "", "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}),
        );
        assert_eq!(crash_of(&healthy, 2), None);
    }

    #[test]
    fn each_crash_is_handled_once() {
        let mut seen = Seen::default();
        let c = |n| Crash {
            namespace: "ns".into(),
            pod: "p".into(),
            container: "c".into(),
            kind: CrashKind::CrashLoop,
            restart_count: n,
            finished_at: None,
            observed_at: std::time::Instant::now(),
        };
        assert!(seen.first_time(&c(2)));
        assert!(!seen.first_time(&c(2)));
        assert!(seen.first_time(&c(3)));
        seen.forget_pod("ns", "p");
        assert!(seen.is_empty());
    }
}
