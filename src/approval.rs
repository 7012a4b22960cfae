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
//!   first decision.
//! - Dry-run proposals record the decision but never leave `Approved` for
//!   execution (the executor checks `spec.dryRun`).
//! - Annotation values are untrusted input: bounded length, exact words.
//!   `podmedic.io/decided-by` is only as trustworthy as the admission policy
//!   shipped in `deploy/` makes it (it must equal the requesting user).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};

use crate::crd::{DECIDED_BY_ANNOTATION, DECISION_ANNOTATION, DecidedVia, Phase, RecoveryProposal};

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
    Ok(Some(DecisionRequest { decision, by, via: DecidedVia::Annotation }))
}

/// Whether a decision may still be taken for `proposal` at `now` (pure).
pub fn check(proposal: &RecoveryProposal, now: &Time) -> Result<(), Refusal> {
    let phase = proposal.status.as_ref().map(|s| s.phase).unwrap_or_default();
    if phase != Phase::Proposed {
        return Err(Refusal::AlreadyDecided(phase.as_str()));
    }
    if proposal.spec.expires_at.0 <= now.0 {
        return Err(Refusal::Expired);
    }
    Ok(())
}

/// Failures recording a decision.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The decision is not allowed (nothing was written).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Someone else changed the proposal first; nothing was written.
    #[error("the proposal changed while deciding; nothing was recorded")]
    Conflict,
    /// The API server failed.
    #[error("recording the decision failed")]
    Api(#[source] kube::Error),
}

/// Records a decision: checks it against the proposal as read, then writes
/// phase, decidedBy, decidedVia and decidedAt in one status patch guarded by
/// the read `resourceVersion`. Annotation approvals and ChatOps both come
/// through here.
pub async fn record_decision(
    api: &Api<RecoveryProposal>,
    proposal: &RecoveryProposal,
    request: &DecisionRequest,
) -> Result<RecoveryProposal, RecordError> {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    check(proposal, &now)?;
    let name = proposal.metadata.name.as_deref().unwrap_or_default();
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": proposal.metadata.resource_version },
        "status": {
            "phase": request.decision.phase(),
            "decidedBy": request.by,
            "decidedVia": request.via,
            "decidedAt": now,
            "message": format!("{} by {} via {}", request.decision.as_str(), request.by, request.via.as_str()),
        }
    });
    match api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
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
