//! Every metric podmedic exports, in one place. Names are API (alerts and
//! dashboards in `deploy/` use them); labels are bounded enums, never free
//! text.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `podmedic_pod_events_total` | counter | `kind` = crashloop, oomkilled, probe_kill, stall |
//! | `podmedic_diagnoses_total` | counter | `class`, `source` |
//! | `podmedic_proposals` | gauge | `phase` (open proposals seen by this replica) |
//! | `podmedic_proposal_transitions_total` | counter | `phase` (entered) |
//! | `podmedic_actions_total` | counter | `action`, `result` = applied, failed, reverted, skipped |
//! | `podmedic_event_to_proposal_seconds` | histogram | — |
//! | `podmedic_approval_latency_seconds` | histogram | — |
//! | `podmedic_decisions_total` | counter | `via`, `outcome` (accepted or a refusal code) |
//! | `podmedic_reconcile_errors_total` | counter | `code` |
//! | `podmedic_circuit_breaker_open` | gauge | — |
//! | `podmedic_leader` | gauge | — |
//! | `podmedic_notifications_total` | counter | `channel`, `result` |
//! | `podmedic_metrics_reads_total` | counter | `result` = read, no_data, unavailable (serving metrics of a crash) |
//! | `podmedic_stall_checks_total` | counter | `result` = ok, or a Prometheus error code |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label set `{kind}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    /// Bounded: crashloop, oomkilled, probe_kill.
    pub kind: &'static str,
}

/// Label set `{class, source}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DiagnosisLabels {
    /// A failure class id.
    pub class: &'static str,
    /// signature, model, both, none.
    pub source: &'static str,
}

/// Label set `{phase}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabel {
    /// A proposal phase.
    pub phase: &'static str,
}

/// Label set `{action, result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    /// An action type id.
    pub action: &'static str,
    /// applied, failed, reverted, skipped.
    pub result: &'static str,
}

/// Label set `{via, outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// annotation, slack, webhook.
    pub via: &'static str,
    /// accepted, or a refusal code.
    pub outcome: &'static str,
}

/// Label set `{code}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    /// A bounded error code.
    pub code: &'static str,
}

/// Label set `{result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// A bounded result code.
    pub result: &'static str,
}

/// Label set `{channel, result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    /// slack, webhook.
    pub channel: &'static str,
    /// sent, retried, failed, dropped.
    pub result: &'static str,
}

/// podmedic's metrics, registered in a registry it owns.
#[derive(Clone)]
pub struct Metrics {
    /// Crash events seen on pods.
    pub pod_events: Family<KindLabel, Counter>,
    /// Diagnoses made.
    pub diagnoses: Family<DiagnosisLabels, Counter>,
    /// Open proposals by phase.
    pub proposals: Family<PhaseLabel, Gauge>,
    /// Proposal phase transitions.
    pub transitions: Family<PhaseLabel, Counter>,
    /// Actions run.
    pub actions: Family<ActionLabels, Counter>,
    /// From the crash reaching the API server to the proposal existing.
    pub event_to_proposal: Histogram,
    /// From proposal creation to a human decision.
    pub approval_latency: Histogram,
    /// Decisions received, accepted or refused.
    pub decisions: Family<DecisionLabels, Counter>,
    /// Reconcile errors.
    pub reconcile_errors: Family<CodeLabel, Counter>,
    /// 1 while the circuit breaker stops all execution.
    pub circuit_breaker_open: Gauge,
    /// 1 while this replica holds the lease.
    pub leader: Gauge,
    /// Outbound notifications.
    pub notifications: Family<ChannelLabels, Counter>,
    /// Serving-metric reads for crashes, by result.
    pub metrics_reads: Family<ResultLabel, Counter>,
    /// Stall checks against Prometheus, by result.
    pub stall_checks: Family<ResultLabel, Counter>,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry` under `podmedic_`.
    pub fn new(registry: &mut Registry) -> Self {
        let m = Metrics {
            pod_events: Family::default(),
            diagnoses: Family::default(),
            proposals: Family::default(),
            transitions: Family::default(),
            actions: Family::default(),
            event_to_proposal: Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            approval_latency: Histogram::new([10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0]),
            decisions: Family::default(),
            reconcile_errors: Family::default(),
            circuit_breaker_open: Gauge::default(),
            leader: Gauge::default(),
            notifications: Family::default(),
            metrics_reads: Family::default(),
            stall_checks: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("podmedic");
        r.register("pod_events", "Crash events seen on watched pods", m.pod_events.clone());
        r.register("diagnoses", "Diagnoses made, by class and deciding source", m.diagnoses.clone());
        r.register("proposals", "Open recovery proposals by phase", m.proposals.clone());
        r.register("proposal_transitions", "Recovery proposal phase transitions", m.transitions.clone());
        r.register("actions", "Plan actions run, by type and result", m.actions.clone());
        r.register(
            "event_to_proposal_seconds",
            "Seconds from the controller seeing a crash to its proposal (status written)",
            m.event_to_proposal.clone(),
        );
        r.register("approval_latency_seconds", "Seconds from proposal to human decision", m.approval_latency.clone());
        r.register("decisions", "Decisions received, by channel and outcome", m.decisions.clone());
        r.register("reconcile_errors", "Reconcile errors by code", m.reconcile_errors.clone());
        r.register(
            "circuit_breaker_open",
            "1 while execution is stopped by the circuit breaker",
            m.circuit_breaker_open.clone(),
        );
        r.register("leader", "1 while this replica holds the leader lease", m.leader.clone());
        r.register("notifications", "Outbound ChatOps notifications by channel and result", m.notifications.clone());
        r.register("metrics_reads", "Serving-metric reads for crashes, by result", m.metrics_reads.clone());
        r.register("stall_checks", "Stall checks against Prometheus, by result", m.stall_checks.clone());
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_and_encoded() {
        let mut reg = Registry::default();
        let m = Metrics::new(&mut reg);
        m.diagnoses.get_or_create(&DiagnosisLabels { class: "kv-cache-oom", source: "signature" }).inc();
        m.event_to_proposal.observe(0.3);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &reg).unwrap();
        assert!(out.contains("podmedic_diagnoses_total{class=\"kv-cache-oom\",source=\"signature\"} 1"), "{out}");
        assert!(out.contains("podmedic_event_to_proposal_seconds_bucket{le=\"0.5\"} 1"), "{out}");
        for line in out.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            assert!(line.starts_with("podmedic_"), "{line}");
        }
    }
}
