//! Turning a diagnosed crash into a `RecoveryProposal`: one open proposal
//! per workload and class (a repeat crash updates its status instead of
//! creating another), a cooldown per workload after a decision, Events on
//! the pod and the proposal, and one JSON line per new proposal on stdout.

use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use super::ControllerConfig;
use super::gather::Owner;
use super::watch::Crash;
use crate::crd::{
    CLASS_LABEL, Phase, ProposalDiagnosis, RecoveryProposal, RecoveryProposalSpec, TargetRef, WORKLOAD_LABEL,
};
use crate::diagnosis::Diagnosis;

/// What became of a diagnosed crash.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A new proposal was created (as written, status included).
    Created(Box<RecoveryProposal>),
    /// An open proposal for the same workload and class was updated.
    Updated(String),
    /// The workload is cooling down after a recent decision.
    CoolingDown(String),
}

/// The content hash of a proposal: target, class and plan.
pub fn content_hash(target: &TargetRef, class: &str, plan: Option<&serde_json::Value>) -> String {
    let mut h = Sha256::new();
    h.update(target.kind.as_bytes());
    h.update([0]);
    h.update(target.name.as_bytes());
    h.update([0]);
    h.update(target.uid.as_bytes());
    h.update([0]);
    h.update(class.as_bytes());
    h.update([0]);
    if let Some(p) = plan {
        h.update(serde_json::to_vec(p).unwrap_or_default());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A DNS-1123 proposal name: `<workload>-<class>-<hash8>`.
pub fn proposal_name(workload: &str, class: &str, hash: &str) -> String {
    let w: String = workload.chars().take(40).collect();
    let w = w.trim_end_matches('-');
    format!("{w}-{class}-{}", &hash[..8])
}

/// Builds the spec of a new proposal (pure).
pub fn build_spec(
    owner: &Owner,
    crash: &Crash,
    node: Option<String>,
    diagnosis: &Diagnosis,
    llm: Option<&crate::llm::Opinion>,
    plan: Option<serde_json::Value>,
    config: &ControllerConfig,
    now: Timestamp,
) -> RecoveryProposalSpec {
    let (ttl, dry_run) = (config.proposal_ttl, config.dry_run);
    let target = TargetRef { kind: owner.kind.clone(), name: owner.name.clone(), uid: owner.uid.clone() };
    let content_hash = content_hash(&target, diagnosis.class.as_str(), plan.as_ref());
    let ttl = SignedDuration::try_from(ttl).unwrap_or(SignedDuration::from_hours(1));
    RecoveryProposalSpec {
        target,
        pod: crash.pod.clone(),
        container: crash.container.clone(),
        node,
        diagnosis: ProposalDiagnosis {
            class: diagnosis.class,
            subclass: diagnosis.subclass.clone(),
            confidence: diagnosis.confidence,
            source: diagnosis.source,
            summary: diagnosis.summary.clone(),
            evidence: diagnosis.evidence.clone(),
            captures: diagnosis.captures.clone(),
            llm: llm.map(crate::crd::LlmOpinion::from),
        },
        plan,
        content_hash,
        expires_at: Time(now.checked_add(ttl).unwrap_or(now)),
        dry_run,
    }
}

/// The proposals for a workload (by its label), as [`propose`] reads them.
pub async fn for_workload(api: &Api<RecoveryProposal>, workload: &str) -> Result<Vec<RecoveryProposal>, kube::Error> {
    Ok(api.list(&ListParams::default().labels(&format!("{WORKLOAD_LABEL}={workload}"))).await?.items)
}

/// Creates a proposal for `spec`, or records one more occurrence on the
/// open proposal for the same workload and class. `existing` is
/// [`for_workload`] for the target, read beforehand.
pub async fn propose(
    api: &Api<RecoveryProposal>,
    recorder: &Recorder,
    spec: RecoveryProposalSpec,
    pod: &ObjectReference,
    cooldown: Duration,
    existing: &[RecoveryProposal],
) -> Result<Outcome, kube::Error> {
    let now = Timestamp::now();
    let class = spec.diagnosis.class.as_str();
    let same_target = existing.iter().filter(|p| p.spec.target.uid == spec.target.uid);

    // One open proposal per workload and class.
    if let Some(open) = same_target.clone().find(|p| {
        p.spec.diagnosis.class == spec.diagnosis.class && !p.status.as_ref().is_some_and(|s| s.phase.is_terminal())
    }) {
        let name = open.name_any();
        count_occurrence(api, open.clone(), now).await?;
        return Ok(Outcome::Updated(name));
    }

    // Cooldown after a decision on this workload.
    let cooldown = SignedDuration::try_from(cooldown).unwrap_or_default();
    if let Some(recent) = same_target.clone().find(|p| {
        p.status.as_ref().and_then(|s| s.decided_at.as_ref()).is_some_and(|t| now.duration_since(t.0) < cooldown)
    }) {
        return Ok(Outcome::CoolingDown(recent.name_any()));
    }

    let name = proposal_name(&spec.target.name, class, &spec.content_hash);
    let mut rxp = RecoveryProposal::new(&name, spec);
    rxp.metadata.labels = Some(
        [
            (WORKLOAD_LABEL.to_owned(), rxp.spec.target.name.clone()),
            (CLASS_LABEL.to_owned(), class.to_owned()),
            ("app.kubernetes.io/managed-by".to_owned(), "podmedic".to_owned()),
        ]
        .into(),
    );
    let created = match api.create(&PostParams::default(), &rxp).await {
        Ok(c) => c,
        // Same content already proposed (e.g. after a restart): count it.
        Err(kube::Error::Api(s)) if s.code == 409 => {
            count_occurrence(api, api.get(&name).await?, now).await?;
            return Ok(Outcome::Updated(name));
        }
        Err(e) => return Err(e),
    };
    let status = serde_json::json!({
        "status": {
            "phase": Phase::Proposed,
            "occurrences": 1,
            "lastSeen": Time(now),
            "observedGeneration": created.metadata.generation,
            "message": if created.spec.dry_run { "dry-run: proposed only, never executed" } else { "waiting for approval" },
        }
    });
    let created = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await?;
    announce(recorder, &created, pod);
    Ok(Outcome::Created(Box::new(created)))
}

/// Counts one more occurrence on `rxp`. Only `occurrences` and `lastSeen`
/// are written, guarded by the read resourceVersion (retried on conflict),
/// so this never overwrites a phase or step the executor wrote meanwhile.
async fn count_occurrence(
    api: &Api<RecoveryProposal>,
    mut rxp: RecoveryProposal,
    now: Timestamp,
) -> Result<(), kube::Error> {
    for _ in 0..5 {
        let occurrences = rxp.status.as_ref().map_or(0, |s| s.occurrences) + 1;
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": rxp.metadata.resource_version },
            "status": { "occurrences": occurrences, "lastSeen": Time(now) }
        });
        match api.patch_status(&rxp.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => rxp = api.get(&rxp.name_any()).await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One JSON line on stdout, and Events on the proposal and the pod (written
/// in the background: they are not on the crash → proposal path).
fn announce(recorder: &Recorder, rxp: &RecoveryProposal, pod: &ObjectReference) {
    let d = &rxp.spec.diagnosis;
    let mut note = format!(
        "{} ({}, confidence {:.2}): {}",
        d.class,
        if d.subclass.is_empty() { "-" } else { &d.subclass },
        d.confidence,
        crate::util::truncate(&d.summary, 700)
    );
    if let Some(op) = d.llm.as_ref().filter(|op| d.source != crate::diagnosis::Source::Llm || !op.accepted) {
        let said = match (&op.class, op.accepted) {
            (Some(c), true) => format!("{c}: {}", crate::util::truncate(&op.summary, 200)),
            _ => format!("not used: {}", crate::util::truncate(&op.reason, 200)),
        };
        note.push_str(&format!(" Second opinion of the operator's model ({}): {said}", op.model));
    }
    let rxp_ref = rxp.object_ref(&());
    let (recorder, pod) = (recorder.clone(), pod.clone());
    tokio::spawn(async move {
        for (object, related) in [(&rxp_ref, &pod), (&pod, &rxp_ref)] {
            let event = Event {
                type_: EventType::Warning,
                reason: "RecoveryProposed".into(),
                note: Some(note.clone()),
                action: "Propose".into(),
                secondary: Some(related.clone()),
            };
            if let Err(e) = recorder.publish(&event, object).await {
                tracing::warn!(error = %e, "could not record the proposal event");
            }
        }
    });
    let line = serde_json::json!({
        "event": "proposal",
        "namespace": rxp.namespace(),
        "name": rxp.name_any(),
        "workload": format!("{}/{}", rxp.spec.target.kind, rxp.spec.target.name),
        "pod": rxp.spec.pod,
        "class": d.class,
        "subclass": d.subclass,
        "confidence": d.confidence,
        "source": d.source,
        "summary": d.summary,
        "llm": d.llm,
        "dryRun": rxp.spec.dry_run,
        "plan": rxp.spec.plan,
    });
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_safe_and_stable() {
        let t = TargetRef { kind: "Deployment".into(), name: "llama".into(), uid: "u1".into() };
        let h = content_hash(&t, "kv-cache-oom", None);
        assert_eq!(h.len(), 64);
        assert_eq!(h, content_hash(&t, "kv-cache-oom", None));
        assert_ne!(h, content_hash(&t, "gpu-oom", None));
        let n = proposal_name(&"x".repeat(100), "kv-cache-oom", &h);
        assert!(n.len() <= 63 && n.starts_with("xxxx") && n.contains("-kv-cache-oom-"), "{n}");
    }
}
