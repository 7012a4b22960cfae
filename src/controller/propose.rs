//! Turning a diagnosed crash into a `RecoveryProposal`: one open proposal
//! per workload and class (a repeat crash updates its status instead of
//! creating another; an open proposal rendered for an older pod template is
//! superseded by the new one), a cooldown per workload after a decision,
//! Events on the pod and the proposal, and one JSON line per new proposal on
//! stdout.
//!
//! Every proposal podmedic creates carries its finalizer (the execution
//! record stays until the execution is finished) and, written right after
//! the create, its stamp in the status ([`crate::crd::stamp_of`]): only
//! stamped proposals are ever decided or executed, and proposals without
//! the stamp (made by anyone else) are ignored here too, so they can
//! neither take podmedic's place nor block it.

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
    CLASS_LABEL, FINALIZER, Phase, ProposalDiagnosis, RecoveryProposal, RecoveryProposalSpec, RecoveryProposalStatus,
    TargetRef, WORKLOAD_LABEL, is_stamped, workload_label_value,
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
pub fn content_hash(target: &TargetRef, class: &str, plan: Option<&crate::playbook::Plan>) -> String {
    let mut h = Sha256::new();
    h.update(target.kind.as_bytes());
    h.update([0]);
    h.update(target.name.as_bytes());
    h.update([0]);
    h.update(target.uid.as_bytes());
    h.update([0]);
    h.update(class.as_bytes());
    h.update([0]);
    if let Some(t) = &target.template_hash {
        h.update(t.as_bytes());
    }
    h.update([0]);
    if let Some(p) = plan {
        h.update(crate::util::canonical_json(&serde_json::to_value(p).unwrap_or_default()).as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A DNS-1123 proposal name: `<workload>-<class>-<hash8>`, with `-<n>`
/// appended for the n-th attempt when the name is taken.
pub fn proposal_name(workload: &str, class: &str, hash: &str, attempt: u32) -> String {
    let h: String = hash.chars().take(8).collect();
    let suffix = if attempt == 0 { format!("-{class}-{h}") } else { format!("-{class}-{h}-{attempt}") };
    let w: String = workload.chars().take(63usize.saturating_sub(suffix.len()).max(1)).collect();
    let w = w.trim_end_matches(['-', '.']);
    format!("{w}{suffix}")
}

/// Builds the spec of a new proposal (pure).
#[allow(clippy::too_many_arguments)]
pub fn build_spec(
    owner: &Owner,
    crash: &Crash,
    pod_uid: Option<String>,
    node: Option<String>,
    diagnosis: &Diagnosis,
    plan: Option<crate::playbook::Plan>,
    config: &ControllerConfig,
    now: Timestamp,
) -> RecoveryProposalSpec {
    let (ttl, dry_run) = (config.proposal_ttl, config.dry_run);
    let has_template = matches!(owner.kind.as_str(), "Deployment" | "StatefulSet");
    let target = TargetRef {
        kind: owner.kind.clone(),
        name: owner.name.clone(),
        uid: owner.uid.clone(),
        generation: owner.object.pointer("/metadata/generation").and_then(serde_json::Value::as_i64),
        template_hash: has_template.then(|| crate::actions::workload::template_hash(&owner.object)).flatten(),
    };
    let content_hash = content_hash(&target, diagnosis.class.as_str(), plan.as_ref());
    let ttl = SignedDuration::try_from(ttl).unwrap_or(SignedDuration::from_hours(1));
    RecoveryProposalSpec {
        target,
        pod: crash.pod.clone(),
        pod_uid,
        container: crash.container.clone(),
        node,
        diagnosis: ProposalDiagnosis {
            class: diagnosis.class,
            subclass: diagnosis.subclass.clone(),
            confidence: diagnosis.confidence,
            source: diagnosis.source,
            summary: diagnosis.summary.clone(),
            evidence: diagnosis.evidence.clone(),
            captures: diagnosis
                .captures
                .iter()
                .filter(|(k, _)| *k != super::METRICS_CAPTURE)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            metrics: diagnosis
                .captures
                .get(super::METRICS_CAPTURE)
                .and_then(|m| serde_json::from_str::<crate::signals::MetricsSummary>(m).ok()),
        },
        plan,
        content_hash,
        expires_at: Time(now.checked_add(ttl).unwrap_or(now)),
        dry_run,
    }
}

/// podmedic's own proposals for a workload (by its label and name; those
/// without podmedic's stamp are left out), as [`propose`] reads them.
pub async fn for_workload(api: &Api<RecoveryProposal>, workload: &str) -> Result<Vec<RecoveryProposal>, kube::Error> {
    let label = workload_label_value(workload);
    let all = api.list(&ListParams::default().labels(&format!("{WORKLOAD_LABEL}={label}"))).await?.items;
    Ok(all.into_iter().filter(|p| p.spec.target.name == workload && is_stamped(p)).collect())
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
    let same_target = existing.iter().filter(|p| p.spec.target.uid == spec.target.uid && is_stamped(p));

    // One open proposal per workload and class; one rendered for another
    // pod template is superseded by this one.
    for open in same_target.clone().filter(|p| {
        p.spec.diagnosis.class == spec.diagnosis.class && !p.status.as_ref().is_some_and(|s| s.phase.is_terminal())
    }) {
        let stale = open.spec.target.template_hash.is_some()
            && open.spec.target.template_hash != spec.target.template_hash
            && open.status.as_ref().is_some_and(|s| s.phase == Phase::Proposed);
        if !stale {
            let name = open.name_any();
            count_occurrence(api, open.clone(), now).await?;
            return Ok(Outcome::Updated(name));
        }
        supersede(api, open, now).await?;
    }

    // Cooldown after a decision on this workload.
    let cooldown = SignedDuration::try_from(cooldown).unwrap_or_default();
    if let Some(recent) = same_target.clone().find(|p| {
        p.status.as_ref().and_then(|s| s.decided_at.as_ref()).is_some_and(|t| now.duration_since(t.0) < cooldown)
            && p.status.as_ref().is_some_and(|s| s.decided_via.is_some_and(crate::crd::DecidedVia::is_human))
    }) {
        return Ok(Outcome::CoolingDown(recent.name_any()));
    }

    // A free name: the same content proposed again after a decision, or a
    // name taken by an object podmedic did not create, gets `-<n>`.
    let mut created = None;
    for attempt in 0..8u32 {
        let name = proposal_name(&spec.target.name, class, &spec.content_hash, attempt);
        let mut rxp = RecoveryProposal::new(&name, spec.clone());
        rxp.metadata.labels = Some(
            [
                (WORKLOAD_LABEL.to_owned(), workload_label_value(&rxp.spec.target.name)),
                (CLASS_LABEL.to_owned(), class.to_owned()),
                ("app.kubernetes.io/managed-by".to_owned(), "podmedic".to_owned()),
            ]
            .into(),
        );
        rxp.metadata.finalizers = Some(vec![FINALIZER.to_owned()]);
        match api.create(&PostParams::default(), &rxp).await {
            Ok(c) => {
                created = Some(c);
                break;
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                // Ours and open (e.g. made by a replica that just lost its
                // lease): count it. Anything else: try the next name.
                if let Some(p) = api.get_opt(&name).await?
                    && is_stamped(&p)
                    && p.spec.target.uid == spec.target.uid
                    && !p.status.as_ref().is_some_and(|s| s.phase.is_terminal())
                {
                    count_occurrence(api, p, now).await?;
                    return Ok(Outcome::Updated(name));
                }
            }
            Err(e) => return Err(e),
        }
    }
    let Some(created) = created else {
        return Err(kube::Error::Api(Box::new(
            kube::core::Status::failure("no free proposal name after 8 attempts", "AlreadyExists").with_code(409),
        )));
    };
    let status = RecoveryProposalStatus {
        phase: Phase::Proposed,
        stamp: Some(crate::crd::stamp_of(&created)),
        occurrences: 1,
        last_seen: Some(Time(now)),
        observed_generation: created.metadata.generation,
        message: if created.spec.dry_run {
            "dry-run: proposed only, never executed".into()
        } else {
            "waiting for approval".into()
        },
        ..RecoveryProposalStatus::default()
    };
    let created = crate::approval::replace_status(api, &created, status).await?;
    announce(recorder, &created, pod);
    Ok(Outcome::Created(Box::new(created)))
}

/// Marks an open proposal `Superseded` (a newer crash of a changed workload
/// replaces it); guarded by its `resourceVersion`.
async fn supersede(api: &Api<RecoveryProposal>, open: &RecoveryProposal, now: Timestamp) -> Result<(), kube::Error> {
    let status = crate::controller::machine::finish(
        open.status.clone().unwrap_or_default(),
        Phase::Superseded,
        "superseded: the workload's pod template changed and a newer proposal replaces this one; nothing was changed"
            .into(),
        now,
    );
    match crate::approval::replace_status(api, open, status).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
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
    let note = format!(
        "{} ({}, confidence {:.2}): {}",
        d.class,
        if d.subclass.is_empty() { "-" } else { &d.subclass },
        d.confidence,
        crate::util::truncate(&d.summary, 700)
    );
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
        "dryRun": rxp.spec.dry_run,
        "plan": rxp.spec.plan,
        // The serving metrics before the crash (triage's `metrics` object), or null.
        "metrics": d.metrics,
    });
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_safe_and_stable() {
        let t = TargetRef {
            kind: "Deployment".into(),
            name: "llama".into(),
            uid: "u1".into(),
            generation: Some(1),
            template_hash: Some("t".into()),
        };
        let h = content_hash(&t, "kv-cache-oom", None);
        assert_eq!(h.len(), 64);
        assert_eq!(h, content_hash(&t, "kv-cache-oom", None));
        assert_ne!(h, content_hash(&t, "gpu-oom", None));
        let n = proposal_name(&"x".repeat(100), "kv-cache-oom", &h, 0);
        assert!(n.len() <= 63 && n.starts_with("xxxx") && n.contains("-kv-cache-oom-"), "{n}");
        let n2 = proposal_name(&"x".repeat(100), "kv-cache-oom", &h, 7);
        assert!(n2.len() <= 63 && n2.ends_with("-7") && n2 != n, "{n2}");
    }
}
