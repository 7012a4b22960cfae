//! The approval gate: who may decide a proposal, and how a decision is
//! recorded — the same way whatever the channel (annotation, Slack,
//! generic webhook).
//!
//! # Contract
//!
//! - A decision is `approve` or `reject`, for a proposal in phase
//!   `Proposed` whose `spec.expiresAt` has not passed. Anything else is
//!   refused and changes nothing ([`Refusal`]).
//! - Recording is one status write guarded by the proposal's
//!   `resourceVersion` ([`record_decision`]): two channels racing cannot both
//!   win; the loser gets [`RecordError::Conflict`] and the proposal keeps the
//!   first decision. (ChatOps then reads the proposal again and runs the
//!   gate again, a few times, so a click that lost to a status write which
//!   decided nothing still counts, and one that lost to another decision is
//!   refused as already decided.)
//! - **One dry-run rule for every channel**: an approval of a dry-run
//!   proposal, or given while podmedic runs in dry-run, is recorded as
//!   `NotExecuted` (who, how, when), which ends the proposal; nothing is
//!   ever executed from it. A rejection is `Rejected` either way.
//! - Only proposals that carry podmedic's stamp can be decided
//!   ([`crate::crd::is_stamped`]); a signed ChatOps request can be used
//!   once per proposal, across replicas and restarts (its digest is kept in
//!   the status, written with the decision).
//! - Annotation values are untrusted input: bounded length, exact words.
//!   `podmedic.io/decided-by` is only as trustworthy as the admission policy
//!   shipped in `deploy/` makes it (it must equal the requesting user).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, PostParams};

use crate::actions::workload::WorkloadObs;
use crate::crd::{
    DECIDED_BY_ANNOTATION, DECISION_ANNOTATION, DecidedVia, Phase, RecoveryProposal, RecoveryProposalStatus,
};

/// ChatOps request digests kept per proposal.
pub const MAX_REQUEST_DIGESTS: usize = 16;

/// Longest accepted annotation value.
const MAX_ANNOTATION_LEN: usize = 256;

/// A human's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Run the plan.
    Approve,
    /// Do nothing.
    Reject,
}

impl Decision {
    /// The phase a proposal moves to.
    pub fn phase(self) -> Phase {
        match self {
            Decision::Approve => Phase::Approved,
            Decision::Reject => Phase::Rejected,
        }
    }

    /// `approve` / `reject` (also a metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }
}

/// A decision with who made it and how it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRequest {
    /// The decision.
    pub decision: Decision,
    /// Who decided (a Kubernetes user name, or `slack:U123`).
    pub by: String,
    /// The channel.
    pub via: DecidedVia,
    /// Digest of the signed request it came in (ChatOps), for replay
    /// protection that holds across replicas.
    pub digest: Option<String>,
}

/// Why a decision was not taken. Each leaves the proposal unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The annotation's value is neither `approve` nor `reject`.
    #[error("invalid decision {0:?}: use `approve` or `reject`")]
    InvalidDecision(String),
    /// An annotation value is longer than podmedic accepts.
    #[error("annotation {0} is longer than {MAX_ANNOTATION_LEN} bytes")]
    TooLong(&'static str),
    /// The proposal was already decided or has moved on.
    #[error("the proposal is already {0}")]
    AlreadyDecided(&'static str),
    /// The proposal expired before the decision.
    #[error("the proposal expired")]
    Expired,
    /// The decider is not allowed to decide proposals in this namespace.
    #[error("{0} may not decide proposals in this namespace")]
    NotAllowed(String),
    /// The proposal does not carry podmedic's stamp: podmedic did not
    /// create it, or its spec changed.
    #[error("the proposal was not created by podmedic (its stamp is missing or wrong)")]
    NotPodmedics,
    /// This signed request was already used on this proposal.
    #[error("this request was already used")]
    Replay,
    /// The workload changed since the plan was rendered.
    #[error("superseded: {0}")]
    Superseded(String),
}

impl Refusal {
    /// A bounded label for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::InvalidDecision(_) => "invalid_decision",
            Refusal::TooLong(_) => "too_long",
            Refusal::AlreadyDecided(_) => "already_decided",
            Refusal::Expired => "expired",
            Refusal::NotAllowed(_) => "not_allowed",
            Refusal::NotPodmedics => "not_podmedics",
            Refusal::Replay => "replay",
            Refusal::Superseded(_) => "superseded",
        }
    }
}

/// Reads a decision from a proposal's annotations: `None` when there is none.
pub fn decision_from_annotations(annotations: &BTreeMap<String, String>) -> Result<Option<DecisionRequest>, Refusal> {
    let Some(raw) = annotations.get(DECISION_ANNOTATION) else { return Ok(None) };
    if raw.len() > MAX_ANNOTATION_LEN {
        return Err(Refusal::TooLong(DECISION_ANNOTATION));
    }
    let decision = match raw.trim() {
        "approve" | "approved" => Decision::Approve,
        "reject" | "rejected" => Decision::Reject,
        other => return Err(Refusal::InvalidDecision(crate::util::truncate(other, 64).into_owned())),
    };
    let by = match annotations.get(DECIDED_BY_ANNOTATION) {
        Some(b) if b.len() > MAX_ANNOTATION_LEN => return Err(Refusal::TooLong(DECIDED_BY_ANNOTATION)),
        Some(b) if !b.trim().is_empty() && b.chars().all(|c| !c.is_control()) => b.trim().to_owned(),
        _ => "unknown".to_owned(),
    };
    Ok(Some(DecisionRequest { decision, by, via: DecidedVia::Annotation, digest: None }))
}

/// Whether a decision may still be taken for `proposal` at `now` (pure).
pub fn check(proposal: &RecoveryProposal, now: &Time) -> Result<(), Refusal> {
    if !crate::crd::is_stamped(proposal) {
        return Err(Refusal::NotPodmedics);
    }
    let phase = proposal.status.as_ref().map(|s| s.phase).unwrap_or_default();
    if phase != Phase::Proposed {
        return Err(Refusal::AlreadyDecided(phase.as_str()));
    }
    if proposal.spec.expires_at.0 <= now.0 {
        return Err(Refusal::Expired);
    }
    Ok(())
}

/// The status that records `request` on `proposal` (pure): the one rule
/// every channel goes through. `dry_run` is whether podmedic runs in
/// dry-run; a dry-run proposal counts as dry-run too.
pub fn decided_status(
    proposal: &RecoveryProposal,
    request: &DecisionRequest,
    dry_run: bool,
    now: &Time,
) -> Result<RecoveryProposalStatus, Refusal> {
    let mut status = proposal.status.clone().unwrap_or_default();
    if let Some(d) = &request.digest
        && status.request_digests.contains(d)
    {
        return Err(Refusal::Replay);
    }
    check(proposal, now)?;
    let dry = dry_run || proposal.spec.dry_run;
    let mutates = proposal.spec.plan.as_ref().is_some_and(|p| p.steps.iter().any(|s| s.mutating));
    let phase = match request.decision {
        Decision::Reject => Phase::Rejected,
        Decision::Approve if dry || !mutates => Phase::NotExecuted,
        Decision::Approve => Phase::Approved,
    };
    status.phase = phase;
    status.decided_by = Some(request.by.clone());
    status.decided_via = Some(request.via);
    status.decided_at = Some(now.clone());
    status.message = match phase {
        Phase::NotExecuted if dry => {
            format!("approve by {} via {} recorded; dry-run: nothing is executed", request.by, request.via.as_str())
        }
        Phase::NotExecuted => format!(
            "approve by {} via {} recorded; the plan changes nothing, so there is nothing to execute",
            request.by,
            request.via.as_str()
        ),
        _ => format!("{} by {} via {}", request.decision.as_str(), request.by, request.via.as_str()),
    };
    if let Some(d) = &request.digest {
        status.request_digests.push(d.clone());
        let excess = status.request_digests.len().saturating_sub(MAX_REQUEST_DIGESTS);
        status.request_digests.drain(..excess);
    }
    Ok(status)
}

/// Failures recording a decision.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The decision is not allowed (nothing was written, unless the
    /// refusal is that the proposal is superseded, which is recorded).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Someone else changed the proposal first; nothing was written.
    #[error("the proposal changed while deciding; nothing was recorded")]
    Conflict,
    /// The API server failed.
    #[error("recording the decision failed")]
    Api(#[source] kube::Error),
}

/// Writes a whole status, guarded by the proposal's `resourceVersion`
/// (a replace of the status subresource: a concurrent writer makes it 409).
pub async fn replace_status(
    api: &Api<RecoveryProposal>,
    proposal: &RecoveryProposal,
    status: RecoveryProposalStatus,
) -> Result<RecoveryProposal, kube::Error> {
    let mut obj = proposal.clone();
    obj.metadata.managed_fields = None;
    obj.status = Some(status);
    let name = proposal.metadata.name.as_deref().unwrap_or_default();
    api.replace_status(name, &PostParams::default(), &obj).await
}

/// Whether the workload is no longer what the plan was rendered for (gone,
/// recreated, or its pod template changed); `None` when it is, or when it
/// was not read.
pub fn superseded_by(proposal: &RecoveryProposal, workload: Option<&Option<WorkloadObs>>) -> Option<String> {
    let t = &proposal.spec.target;
    match workload? {
        None => Some(format!("{} {} no longer exists", t.kind, t.name)),
        Some(w) if w.uid != t.uid => Some(format!("{} {} was recreated since the proposal", t.kind, t.name)),
        Some(w) if t.template_hash.is_some() && w.template_hash != t.template_hash => {
            Some(format!("{} {}'s pod template changed since the plan was rendered", t.kind, t.name))
        }
        _ => None,
    }
}

/// A refusal, with the status to write anyway (`Superseded`) when the
/// workload changed since the plan was rendered.
pub type Refused = Box<(Refusal, Option<RecoveryProposalStatus>)>;

/// A decision through the shared rule (pure): the status to write, or the
/// refusal (with the `Superseded` status to write when the workload
/// changed since the plan was rendered).
pub fn decide(
    proposal: &RecoveryProposal,
    request: &DecisionRequest,
    workload: Option<&Option<WorkloadObs>>,
    dry_run: bool,
    now: &Time,
) -> Result<RecoveryProposalStatus, Refused> {
    if !crate::crd::is_stamped(proposal) {
        return Err(Box::new((Refusal::NotPodmedics, None)));
    }
    let status = proposal.status.clone().unwrap_or_default();
    if status.phase == Phase::Proposed
        && let Some(why) = superseded_by(proposal, workload)
    {
        let mut s = status;
        s.phase = Phase::Superseded;
        s.message = format!("superseded: {why}; nothing was changed");
        s.decided_by = Some("podmedic".into());
        s.decided_via = Some(DecidedVia::Controller);
        s.decided_at = Some(now.clone());
        return Err(Box::new((Refusal::Superseded(why), Some(s))));
    }
    decided_status(proposal, request, dry_run, now).map_err(|r| Box::new((r, None)))
}

/// Reads the proposal's target workload (`None` for a bare Pod target;
/// `Some(None)` when it is gone).
pub async fn read_target(
    client: &kube::Client,
    proposal: &RecoveryProposal,
) -> Result<Option<Option<WorkloadObs>>, kube::Error> {
    use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
    let ns = proposal.metadata.namespace.clone().unwrap_or_default();
    let name = &proposal.spec.target.name;
    let object = match proposal.spec.target.kind.as_str() {
        "Deployment" => Api::<Deployment>::namespaced(client.clone(), &ns)
            .get_opt(name)
            .await?
            .map(|d| serde_json::to_value(d).unwrap_or_default()),
        "StatefulSet" => Api::<StatefulSet>::namespaced(client.clone(), &ns)
            .get_opt(name)
            .await?
            .map(|d| serde_json::to_value(d).unwrap_or_default()),
        _ => return Ok(None),
    };
    Ok(Some(object.map(WorkloadObs::from_object)))
}

/// Records a decision through the shared rule: reads the workload's
/// current pod template (a changed workload supersedes the proposal), then
/// one status write guarded by the read `resourceVersion`. Annotation
/// decisions and ChatOps both come through here.
pub async fn record_decision(
    client: &kube::Client,
    proposal: &RecoveryProposal,
    request: &DecisionRequest,
    dry_run: bool,
) -> Result<RecoveryProposal, RecordError> {
    let ns = proposal.metadata.namespace.clone().unwrap_or_default();
    let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
    let workload = read_target(client, proposal).await.map_err(RecordError::Api)?;
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let status = match decide(proposal, request, workload.as_ref(), dry_run, &now).map_err(|b| *b) {
        Ok(s) => s,
        Err((refusal, Some(superseded))) => {
            match replace_status(&api, proposal, superseded).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(RecordError::Api(e)),
            }
            return Err(RecordError::Refused(refusal));
        }
        Err((refusal, None)) => return Err(RecordError::Refused(refusal)),
    };
    match replace_status(&api, proposal, status).await {
        Ok(p) => Ok(p),
        Err(kube::Error::Api(s)) if s.code == 409 => Err(RecordError::Conflict),
        Err(e) => Err(RecordError::Api(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_decisions_from_annotations() {
        assert_eq!(decision_from_annotations(&ann(&[])).unwrap(), None);
        let d = decision_from_annotations(&ann(&[(DECISION_ANNOTATION, "approve"), (DECIDED_BY_ANNOTATION, "alice")]))
            .unwrap()
            .unwrap();
        assert_eq!((d.decision, d.by.as_str(), d.via), (Decision::Approve, "alice", DecidedVia::Annotation));
        let d = decision_from_annotations(&ann(&[(DECISION_ANNOTATION, " reject ")])).unwrap().unwrap();
        assert_eq!((d.decision, d.by.as_str()), (Decision::Reject, "unknown"));
    }

    #[test]
    fn hostile_annotations_are_refused() {
        let long = "a".repeat(10_000);
        assert_eq!(
            decision_from_annotations(&ann(&[(DECISION_ANNOTATION, "yes")])).unwrap_err().code(),
            "invalid_decision"
        );
        assert_eq!(
            decision_from_annotations(&ann(&[(DECISION_ANNOTATION, &long)])).unwrap_err(),
            Refusal::TooLong(DECISION_ANNOTATION)
        );
        assert_eq!(
            decision_from_annotations(&ann(&[(DECISION_ANNOTATION, "approve"), (DECIDED_BY_ANNOTATION, &long)]))
                .unwrap_err(),
            Refusal::TooLong(DECIDED_BY_ANNOTATION)
        );
        // Control characters in the name are not recorded as a name.
        let d = decision_from_annotations(&ann(&[
            (DECISION_ANNOTATION, "approve"),
            (DECIDED_BY_ANNOTATION, "eve\n[INFO] forged"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(d.by, "unknown");
    }
}
