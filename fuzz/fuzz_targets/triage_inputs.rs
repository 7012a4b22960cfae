//! Pod, Event, workload and node JSON into evidence and planning (what
//! `podmedic triage --pod --events --workload` and the controller read).
//! Input: sections separated by 0xff bytes: pod JSON, workload YAML/JSON,
//! node labels JSON, node allocatable JSON, Events JSON, log.
#![no_main]
use std::collections::BTreeMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use podmedic::class::FailureClass;
use podmedic::diagnosis::{FusionConfig, diagnose};
use podmedic::evidence::ContainerFacts;
use podmedic::playbook::{NodeInfo, PlanContext, PlaybookSet};
use podmedic::signatures::SignatureSet;

fn signatures() -> &'static SignatureSet {
    static S: OnceLock<SignatureSet> = OnceLock::new();
    S.get_or_init(|| SignatureSet::embedded_lazy().expect("embedded signatures"))
}

fn playbooks() -> &'static PlaybookSet {
    static P: OnceLock<PlaybookSet> = OnceLock::new();
    P.get_or_init(|| PlaybookSet::embedded().expect("embedded playbooks"))
}

fn string_map(bytes: &[u8]) -> BTreeMap<String, String> {
    serde_json::from_slice(bytes).unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0xff);
    let mut next = || parts.next().unwrap_or_default();
    let (pod, workload, labels, allocatable, events, log) = (next(), next(), next(), next(), next(), next());
    let pod: Option<k8s_openapi::api::core::v1::Pod> = serde_json::from_slice(pod).ok();
    let events: Vec<k8s_openapi::api::core::v1::Event> = serde_json::from_slice(events).unwrap_or_default();
    if let Some(p) = &pod {
        let _ = ContainerFacts::from_pod(p, Some("vllm"));
        let _ = podmedic::controller::watch::crash_of(p, 2);
        let _ = podmedic::controller::gather::may_be_probe_kill(p, "vllm");
    }
    let workload = podmedic::actions::workload::Workload::from_str(&String::from_utf8_lossy(workload)).ok();
    let log = podmedic::logtext::read_tail(log, 200).expect("reading memory");
    let mut ev = podmedic::triage::evidence(log, pod.as_ref(), &events);
    ev.node_labels = string_map(labels);
    let _ = ev.probe_kill();
    let mut d = diagnose(&ev, signatures(), None, &FusionConfig::default());
    let mut ctx = PlanContext::from_evidence(&ev, chrono::Utc::now());
    ctx.node_allocatable = string_map(allocatable);
    ctx.candidate_nodes = vec![NodeInfo { name: "n".into(), labels: ev.node_labels.clone() }];
    // The diagnosed class, then every class with the same captures.
    for class in std::iter::once(d.class).chain(FailureClass::ALL.iter().copied()) {
        d.class = class;
        d.confidence = 0.97;
        if let Some(plan) = playbooks().plan(&d, workload.as_ref(), &ctx) {
            assert!(!plan.to_text().is_empty());
            serde_json::to_value(&plan).expect("a plan serialises");
        }
    }
});
