use std::path::Path;

use super::*;

fn shipped() -> PlaybookSet {
    match check(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks")]) {
        Ok(s) => s,
        Err(p) => panic!("shipped playbooks do not compile:\n{p}"),
    }
}

#[test]
fn shipped_playbooks_compile_and_cover_every_class() {
    let set = shipped();
    for class in FailureClass::ALL {
        let fallback = set.playbooks().iter().filter(|p| p.class == class).any(|p| {
            p.when.is_empty()
                && p.params.iter().all(|x| {
                    x.default.is_some() || x.from.iter().any(|s| matches!(s, Source::Fact(f) if f == "summary"))
                })
                && !p.steps.iter().any(|s| s.kind.needs_template())
        });
        assert!(fallback, "class {class} needs an unconditional notify-only fallback playbook");
    }
}

use std::collections::BTreeMap;

use crate::actions::Workload;
use crate::diagnosis::{Diagnosis, Source as DSource};

fn diag(class: FailureClass, captures: &[(&str, &str)]) -> Diagnosis {
    Diagnosis {
        class,
        subclass: String::new(),
        confidence: 0.9,
        source: DSource::Signature,
        evidence: vec![],
        summary: "s.".into(),
        captures: captures.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        signatures: vec![],
        alternatives: vec![],
        model: None,
    }
}

const DEPLOY: &str = r#"
kind: Deployment
metadata: {name: m, namespace: ns}
spec:
  template:
    spec:
      containers:
        - name: vllm
          image: vllm/vllm-openai:v0.8.5
          args: ["--max-model-len", "32768", "--block-size", "32"]
          resources: {limits: {memory: 10Gi}}
"#;

fn ctx() -> PlanContext {
    PlanContext { now: "2026-03-01T00:00:00Z".parse().unwrap(), ..PlanContext::default() }
}

#[test]
fn block_size_comes_from_the_args() {
    let w = Workload::from_str(DEPLOY).unwrap();
    let p = shipped().plan(&diag(FailureClass::KvCacheOom, &[("kv_tokens", "20150")]), Some(&w), &ctx()).unwrap();
    assert_eq!(p.parameters["max_model_len"], ParamValue::Int(20128));
}

#[test]
fn a_context_already_at_capacity_is_nothing_to_change() {
    let w = Workload::from_str(&DEPLOY.replace("32768", "20128")).unwrap();
    let p = shipped().plan(&diag(FailureClass::KvCacheOom, &[("kv_tokens", "20150")]), Some(&w), &ctx()).unwrap();
    assert_eq!(p.playbook, "kv-cache-notify");
    assert!(
        p.considered
            .iter()
            .any(|s| s.playbook == "kv-cache-vllm-fit-context" && s.reason.starts_with("nothing to change")),
        "{:?}",
        p.considered
    );
}

#[test]
fn the_daily_policy_limit_leaves_only_notifications() {
    let w = Workload::from_str(DEPLOY).unwrap();
    let mut c = ctx();
    c.policy.max_attempts_per_day = 1;
    c.attempts.push(Attempt { playbook: "nccl-mount-shm".into(), at: c.now - chrono::Duration::hours(1) });
    let p = shipped().plan(&diag(FailureClass::HostOom, &[]), Some(&w), &c).unwrap();
    assert_eq!(p.playbook, "host-oom-notify");
    assert!(p.considered[0].reason.contains("changes per workload per day"), "{:?}", p.considered);
}

#[test]
fn cooldown_passes_a_playbook_over() {
    let w = Workload::from_str(DEPLOY).unwrap();
    let mut c = ctx();
    c.attempts.push(Attempt { playbook: "host-oom-raise-memory".into(), at: c.now - chrono::Duration::minutes(5) });
    let p = shipped().plan(&diag(FailureClass::HostOom, &[]), Some(&w), &c).unwrap();
    assert_eq!(p.considered[0].reason, "cooling down: last attempt 300 s ago, cooldown 900 s");
}

#[test]
fn vpa_bump_uses_the_larger_of_100mi_and_20_percent() {
    // 300Mi: +100Mi (400Mi) beats ×1.2 (360Mi).
    let w = Workload::from_str(&DEPLOY.replace("10Gi", "300Mi")).unwrap();
    let p = shipped().plan(&diag(FailureClass::HostOom, &[]), Some(&w), &ctx()).unwrap();
    assert_eq!(p.parameters["new_limit"], ParamValue::Text("400Mi".into()));
    let w = Workload::from_str(DEPLOY).unwrap();
    let p = shipped().plan(&diag(FailureClass::HostOom, &[]), Some(&w), &ctx()).unwrap();
    assert_eq!(p.parameters["new_limit"], ParamValue::Text("12Gi".into()));
}

#[test]
fn clamped_parameters_are_noted() {
    let w = Workload::from_str(&DEPLOY.replace("32768", "32768\", \"--gpu-memory-utilization\", \"0.93")).unwrap();
    let mut c = ctx();
    c.policy.prefer_keep_context = true;
    let p = shipped().plan(&diag(FailureClass::KvCacheOom, &[("kv_tokens", "20150")]), Some(&w), &c).unwrap();
    assert_eq!(p.playbook, "kv-cache-vllm-raise-gpu-util");
    assert_eq!(p.parameters["new_util"], ParamValue::Float(0.95));
}

#[test]
fn plans_and_actions_have_json_schemas() {
    let plan = serde_json::to_value(schemars::schema_for!(Plan)).unwrap();
    assert!(plan.to_string().contains("set-startup-probe"));
    let _ = serde_json::to_value(schemars::schema_for!(Policy)).unwrap();
}

#[test]
fn policy_reads_with_defaults_and_refuses_unknown_fields() {
    let p: Policy = crate::yaml::from_str("prefer_keep_context: true\nmax_memory_limit: 256Gi\n").unwrap();
    assert!(p.prefer_keep_context);
    assert_eq!(p.max_gpu_memory_utilization, 0.95);
    assert!(crate::yaml::from_str::<Policy>("max_gpu_memory_utilisation: 0.9\n").is_err());
    let _ = BTreeMap::<String, String>::new();
}

#[test]
fn compile_reports_problems_from_every_file() {
    let a = "playbooks:\n  - id: a\n    title: t\n    match: {class: unknwn}\n    risk: low\n    steps:\n      - id: n\n        action: {type: notify, message: m}\n";
    let b = "playbooks: [";
    let err = PlaybookSet::compile([(Path::new("a.yaml"), a), (Path::new("b.yaml"), b)]).unwrap_err();
    assert_eq!(err.0.len(), 2, "{err}");
    assert!(err.0[0].to_string().starts_with("a.yaml:4:20: playbook `a`: unknown failure class `unknwn`"), "{err}");
    assert!(err.0[1].to_string().starts_with("b.yaml:"), "{err}");
}

#[test]
fn plans_read_as_text() {
    let w = Workload::from_str(DEPLOY).unwrap();
    let ev = crate::evidence::Evidence::default();
    let c = PlanContext::from_evidence(&ev, "2026-03-01T00:00:00Z".parse().unwrap());
    let p = shipped().plan(&diag(FailureClass::KvCacheOom, &[("kv_tokens", "20150")]), Some(&w), &c).unwrap();
    let t = p.to_text();
    assert!(t.starts_with("plan kv-cache-vllm-fit-context: "), "{t}");
    assert!(t.contains("  1. [set-max-model-len] set `--max-model-len 20128` on container vllm"), "{t}");
    assert!(t.contains("+        - '20128'") || t.contains("+        - \"20128\""), "{t}");
}
