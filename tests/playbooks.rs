//! Golden tests: every shipped playbook rendered against realistic vLLM, TGI
//! and SGLang manifests. Set `PODMEDIC_BLESS=1` to rewrite the golden files
//! under `tests/fixtures/plans/` after an intended change, and review the diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use podmedic::actions::Workload;
use podmedic::class::FailureClass;
use podmedic::diagnosis::{Diagnosis, EvidenceLine, Source};
use podmedic::evidence::{ContainerFacts, Termination};
use podmedic::playbook::{self, Attempt, NodeInfo, Plan, PlanContext, PlaybookSet};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn set() -> PlaybookSet {
    playbook::check(&[root().join("playbooks")]).unwrap_or_else(|p| panic!("{p}"))
}

fn now() -> DateTime<Utc> {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn diagnosis(class: FailureClass, subclass: &str, captures: &[(&str, &str)]) -> Diagnosis {
    Diagnosis {
        class,
        subclass: subclass.into(),
        confidence: 0.95,
        source: Source::Signature,
        evidence: vec![EvidenceLine { line: 412, text: format!("evidence line for {class}") }],
        summary: format!("The log shows {class}."),
        captures: captures.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        signatures: vec![],
        alternatives: vec![],
        model: None,
    }
}

fn workload(name: &str) -> Workload {
    Workload::load(&root().join("tests/fixtures/workloads").join(name)).unwrap()
}

/// A workload fixture with its first container's image replaced (to run it as another engine release).
fn workload_with(name: &str, image: &str, args: Option<&[&str]>) -> Workload {
    let text = std::fs::read_to_string(root().join("tests/fixtures/workloads").join(name)).unwrap();
    let mut v: serde_json::Value = podmedic::yaml::from_str(&text).unwrap();
    let c = &mut v["spec"]["template"]["spec"]["containers"][0];
    c["image"] = image.into();
    if let Some(a) = args {
        c["args"] = a.iter().map(|s| serde_json::Value::from(*s)).collect();
    }
    Workload::from_value(v).unwrap()
}

fn facts(name: &str, node: &str) -> ContainerFacts {
    ContainerFacts {
        name: name.into(),
        image: None,
        restart_count: 5,
        waiting_reason: Some("CrashLoopBackOff".into()),
        last_termination: Some(Termination { exit_code: 1, reason: Some("Error".into()), ran_seconds: Some(95) }),
        limits: BTreeMap::new(),
        requests: BTreeMap::new(),
        node_name: Some(node.into()),
    }
}

fn ctx(container: &str) -> PlanContext {
    PlanContext {
        container: Some(facts(container, "gpu-node-7")),
        pod_name: Some(format!("{container}-pod-abc12")),
        now: now(),
        ..PlanContext::default()
    }
}

/// The node itself reports the fault (a withdrawn GPU), the pod holds a GPU there.
fn corroborated(mut c: PlanContext) -> PlanContext {
    c.node_fault = podmedic::playbook::NodeFault {
        pod_holds_gpu: true,
        node_reports: vec!["1 of 8 GPUs withdrawn by the device plugin (allocatable 7)".into()],
        other_workloads: 0,
        cordoned_by_podmedic: 0,
        max_cordoned: 1,
    };
    c
}

/// A context with serving metrics: KV cache peak `kv`, `running` requests at the peak.
fn ctx_with_metrics(container: &str, kv: f64, running: f64) -> PlanContext {
    let sig = |max: f64| {
        serde_json::json!({"last": max, "max": max, "min": 0.0, "mean": max / 2.0, "metric": "m",
        "points": [[1_772_366_000.0, 0.0], [1_772_366_400.0, max]]})
    };
    let m = serde_json::json!({"server": "vllm-v1", "window_seconds": 600,
        "kv_cache_usage": sig(kv), "requests_running": sig(running), "requests_waiting": sig(240.0)});
    PlanContext { metrics: Some(serde_json::from_value(m).unwrap()), ..ctx(container) }
}

fn node(name: &str, driver: &str) -> NodeInfo {
    NodeInfo { name: name.into(), labels: [("nvidia.com/cuda.driver.major".to_owned(), driver.to_owned())].into() }
}

/// A readable rendering of a plan for golden files.
fn text(plan: &Plan) -> String {
    let j = |v: &dyn erased::Ser| v.json();
    let mut out = String::new();
    out.push_str(&format!("playbook: {} ({})\n", plan.playbook, plan.title));
    out.push_str(&format!("class: {}  risk: {}\n", plan.class, plan.risk.as_str()));
    out.push_str(&format!("target: {}\n", j(&plan.target)));
    out.push_str(&format!("parameters: {}\n", j(&plan.parameters)));
    if let Some(v) = &plan.verification {
        out.push_str(&format!("verification: {}\n", j(v)));
    }
    out.push_str(&format!("limits: {}\n", j(&plan.limits)));
    for n in &plan.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    for s in &plan.considered {
        out.push_str(&format!("passed over {}: {}\n", s.playbook, s.reason));
    }
    for s in &plan.steps {
        out.push_str(&format!(
            "\nstep {} [{}; risk {}; on_failure {}; needs {}]\n  {}\n",
            s.id,
            s.action.kind(),
            s.risk.as_str(),
            j(&s.on_failure),
            if s.needs.is_empty() { "-".to_owned() } else { s.needs.join(", ") },
            s.description
        ));
        if let Some(o) = &s.object {
            out.push_str(&format!("  object: {o}\n"));
        }
        if let Some(p) = &s.patch {
            out.push_str(&format!("  patch: {}\n", j(p)));
        }
        if let Some(p) = &s.revert {
            out.push_str(&format!("  revert: {}\n", j(p)));
        }
        if let Some(d) = &s.diff {
            for l in d.lines() {
                out.push_str(&format!("  | {l}\n"));
            }
        }
    }
    out
}

mod erased {
    pub trait Ser {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

fn golden(name: &str, plan: &Plan) {
    // The plan is JSON-serialisable and reads back identically.
    let json = serde_json::to_string(plan).unwrap();
    let back: Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, plan, "plan does not round-trip through JSON");
    let got = text(plan);
    let path = root().join("tests/fixtures/plans").join(format!("{name}.txt"));
    if std::env::var_os("PODMEDIC_BLESS").is_some() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}; run with PODMEDIC_BLESS=1", path.display()));
    if got != want {
        panic!("{name}: plan differs from {}\n--- got ---\n{got}", path.display());
    }
}

fn plan(d: &Diagnosis, w: Option<&Workload>, c: &PlanContext) -> Plan {
    set().plan(d, w, c).expect("a playbook applies")
}

macro_rules! golden_tests {
    ($($name:ident: $body:expr;)*) => {$(
        #[test]
        fn $name() {
            let (expected_playbook, p): (&str, Plan) = $body;
            assert_eq!(p.playbook, expected_playbook, "{}", text(&p));
            golden(stringify!($name), &p);
        }
    )*};
}

golden_tests! {
    kv_vllm_fit_context: {
        let d = diagnosis(FailureClass::KvCacheOom, "max-model-len-exceeds-kv-capacity", &[("kv_tokens", "20150"), ("max_seq_len", "32768")]);
        ("kv-cache-vllm-fit-context", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx("vllm")))
    };
    kv_vllm_fit_context_shell_command: {
        let d = diagnosis(FailureClass::KvCacheOom, "v1-estimated-max-len", &[("est_max_len", "18007")]);
        ("kv-cache-vllm-fit-context", plan(&d, Some(&workload("vllm-shell-deployment.yaml")), &ctx("server")))
    };
    kv_vllm_keep_context_raises_gpu_util: {
        let d = diagnosis(FailureClass::KvCacheOom, "max-model-len-exceeds-kv-capacity", &[("kv_tokens", "20150")]);
        let mut c = ctx("vllm");
        c.policy.prefer_keep_context = true;
        ("kv-cache-vllm-raise-gpu-util", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    kv_vllm_no_cache_blocks: {
        let d = diagnosis(FailureClass::KvCacheOom, "no-cache-blocks", &[]);
        ("kv-cache-vllm-no-room-raise-gpu-util", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx("vllm")))
    };
    kv_vllm_too_small_falls_back_to_notify: {
        let d = diagnosis(FailureClass::KvCacheOom, "max-model-len-exceeds-kv-capacity", &[("kv_tokens", "1000")]);
        ("kv-cache-notify", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx("vllm")))
    };
    kv_vllm_without_workload: {
        let d = diagnosis(FailureClass::KvCacheOom, "max-model-len-exceeds-kv-capacity", &[("kv_tokens", "20150")]);
        let mut c = ctx("vllm");
        c.server = Some("vllm".into());
        ("kv-cache-vllm-fit-context", plan(&d, None, &c))
    };
    kv_vllm_auto_context_by_policy: {
        let d = diagnosis(FailureClass::KvCacheOom, "max-model-len-exceeds-kv-capacity", &[("kv_tokens", "20150")]);
        let mut c = ctx("vllm");
        c.policy.max_model_len_auto = true;
        ("kv-cache-vllm-auto-context", plan(&d, Some(&workload_with("vllm-deployment.yaml", "vllm/vllm-openai:v0.14.0", None)), &c))
    };
    config_error_drops_removed_arg: {
        let d = diagnosis(FailureClass::ConfigError, "unknown-argument", &[("arg", "--swap-space")]);
        let args: &[&str] = &["--model", "Qwen/Qwen3-8B", "--swap-space", "4", "--port", "8000"];
        ("config-error-drop-removed-arg", plan(&d, Some(&workload_with("vllm-deployment.yaml", "vllm/vllm-openai:v0.18.0", Some(args))), &ctx("vllm")))
    };
    kv_sglang_fit_context: {
        let d = diagnosis(FailureClass::KvCacheOom, "sglang-kv-capacity", &[("kv_tokens", "25000")]);
        ("kv-cache-sglang-fit-context", plan(&d, Some(&workload("sglang-statefulset.yaml")), &ctx("sglang")))
    };
    kv_sglang_keep_context: {
        let d = diagnosis(FailureClass::KvCacheOom, "sglang-kv-capacity", &[("kv_tokens", "25000")]);
        let mut c = ctx("sglang");
        c.policy.prefer_keep_context = true;
        ("kv-cache-sglang-raise-mem-fraction", plan(&d, Some(&workload("sglang-statefulset.yaml")), &c))
    };
    kv_tgi_fit_total_tokens: {
        let d = diagnosis(FailureClass::KvCacheOom, "tgi-max-total-tokens", &[("kv_tokens", "9000")]);
        ("kv-cache-tgi-fit-total-tokens", plan(&d, Some(&workload("tgi-deployment.yaml")), &ctx("tgi")))
    };
    kv_tgi_shrink_prefill: {
        let d = diagnosis(FailureClass::KvCacheOom, "tgi-prefill", &[("prefill_tokens", "16384")]);
        ("kv-cache-tgi-shrink-prefill", plan(&d, Some(&workload("tgi-deployment.yaml")), &ctx("tgi")))
    };
    host_oom_vpa_bump: {
        let d = diagnosis(FailureClass::HostOom, "oom-killed", &[]);
        let mut c = ctx("vllm");
        c.node_allocatable.insert("memory".into(), "503Gi".into());
        ("host-oom-raise-memory", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    host_oom_capped_by_node: {
        let d = diagnosis(FailureClass::HostOom, "oom-killed", &[]);
        let mut c = ctx("vllm");
        c.node_allocatable.insert("memory".into(), "52Gi".into());
        ("host-oom-raise-memory", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    host_oom_at_policy_cap_notifies: {
        let d = diagnosis(FailureClass::HostOom, "oom-killed", &[]);
        let mut c = ctx("vllm");
        c.policy.max_memory_limit = "48Gi".into();
        ("host-oom-notify", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    host_oom_attempts_exhausted_notifies: {
        let d = diagnosis(FailureClass::HostOom, "oom-killed", &[]);
        let mut c = ctx("vllm");
        for h in [20, 10, 2] {
            c.attempts.push(Attempt { playbook: "host-oom-raise-memory".into(), at: now() - chrono::Duration::hours(h) });
        }
        ("host-oom-notify", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    cuda_pin_to_new_driver_nodes: {
        let d = diagnosis(FailureClass::CudaDriverMismatch, "driver-too-old", &[("required_cuda", "12.4")]);
        let mut c = ctx("vllm");
        c.candidate_nodes = vec![node("gpu-node-1", "535"), node("gpu-node-2", "550"), node("gpu-node-3", "570")];
        ("cuda-driver-pin-nodes", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    cuda_no_new_nodes_rolls_back: {
        let d = diagnosis(FailureClass::CudaDriverMismatch, "driver-too-old", &[("found_driver", "12020")]);
        let mut c = ctx("vllm");
        c.candidate_nodes = vec![node("gpu-node-1", "535")];
        ("cuda-driver-rollback-image", plan(&d, Some(&workload("vllm-with-history.yaml")), &c))
    };
    cuda_rollback_described_without_history: {
        let d = diagnosis(FailureClass::CudaDriverMismatch, "driver-too-old", &[]);
        ("cuda-driver-rollback-image", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx("vllm")))
    };
    gpu_oom_vllm_halves_max_num_seqs: {
        let d = diagnosis(FailureClass::GpuOom, "cuda-oom", &[("tried_gib", "2.00")]);
        ("gpu-oom-vllm-halve-max-num-seqs", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx("vllm")))
    };
    gpu_oom_vllm_caps_max_num_seqs_from_peak: {
        let d = diagnosis(FailureClass::GpuOom, "cuda-oom", &[("tried_gib", "2.00")]);
        ("gpu-oom-vllm-max-num-seqs-from-peak", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx_with_metrics("vllm", 1.0, 48.0)))
    };
    gpu_oom_vllm_few_running_halves_instead: {
        // A peak of 8 running: three quarters is below the floor of 8, so no measured cap.
        let d = diagnosis(FailureClass::GpuOom, "cuda-oom", &[("tried_gib", "2.00")]);
        ("gpu-oom-vllm-halve-max-num-seqs", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx_with_metrics("vllm", 1.0, 8.0)))
    };
    kv_vllm_caps_max_num_seqs_from_peak: {
        let d = diagnosis(FailureClass::KvCacheOom, "max-model-len-exceeds-kv-capacity", &[("kv_tokens", "20150")]);
        ("kv-cache-vllm-max-num-seqs-from-peak", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx_with_metrics("vllm", 0.99, 64.0)))
    };
    kv_vllm_unsaturated_fits_context: {
        let d = diagnosis(FailureClass::KvCacheOom, "max-model-len-exceeds-kv-capacity", &[("kv_tokens", "20150")]);
        ("kv-cache-vllm-fit-context", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx_with_metrics("vllm", 0.4, 64.0)))
    };
    kv_sglang_caps_max_running_from_peak: {
        let d = diagnosis(FailureClass::KvCacheOom, "sglang-kv-capacity", &[("kv_tokens", "25000")]);
        ("kv-cache-sglang-max-running-from-peak", plan(&d, Some(&workload("sglang-statefulset.yaml")), &ctx_with_metrics("sglang", 0.99, 32.0)))
    };
    stalled_engine_restarts_its_pod: {
        let d = diagnosis(FailureClass::EngineStalled, "queue-stalled", &[("stalled_seconds", "480")]);
        ("engine-stalled-restart-pod", plan(&d, Some(&workload("sglang-statefulset.yaml")), &ctx_with_metrics("sglang", 0.6, 8.0)))
    };
    stalled_bare_pod_notifies: {
        let d = diagnosis(FailureClass::EngineStalled, "decode-stalled", &[("stalled_seconds", "480")]);
        ("engine-stalled-notify", plan(&d, Some(&workload("bare-pod.yaml")), &ctx("vllm")))
    };
    gpu_oom_tgi_notifies: {
        let d = diagnosis(FailureClass::GpuOom, "cuda-oom", &[]);
        ("gpu-oom-notify", plan(&d, Some(&workload("tgi-deployment.yaml")), &ctx("tgi")))
    };
    weight_load_notifies: {
        let d = diagnosis(FailureClass::WeightLoadFailure, "hf-gated-repo", &[]);
        ("weight-load-notify", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx("vllm")))
    };
    nccl_mounts_shm: {
        let d = diagnosis(FailureClass::NcclFailure, "shm-too-small", &[]);
        ("nccl-mount-shm", plan(&d, Some(&workload("vllm-shell-deployment.yaml")), &ctx("server")))
    };
    nccl_with_shm_restarts_group: {
        let d = diagnosis(FailureClass::NcclFailure, "watchdog-timeout", &[]);
        ("nccl-restart-group", plan(&d, Some(&workload("sglang-statefulset.yaml")), &ctx("sglang")))
    };
    gpu_fault_cordons_and_reschedules: {
        let d = diagnosis(FailureClass::GpuHardwareFault, "xid-79", &[("xid", "79"), ("pci", "0000:3b:00.0")]);
        ("gpu-fault-cordon-and-reschedule", plan(&d, Some(&workload("vllm-deployment.yaml")), &corroborated(ctx("vllm"))))
    };
    gpu_fault_on_bare_pod: {
        let d = diagnosis(FailureClass::GpuHardwareFault, "xid-79", &[("xid", "79")]);
        ("gpu-fault-cordon-and-reschedule", plan(&d, Some(&workload("bare-pod.yaml")), &corroborated(ctx("vllm"))))
    };
    // The log alone (a tenant's pod can print any Xid line) never moves a node.
    gpu_fault_from_the_log_alone_notifies: {
        let d = diagnosis(FailureClass::GpuHardwareFault, "xid-79", &[("xid", "79"), ("pci", "0000:3b:00.0")]);
        let mut c = ctx("vllm");
        c.node_fault.pod_holds_gpu = true;
        ("gpu-fault-notify", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    gpu_fault_on_a_pod_without_a_gpu_notifies: {
        let d = diagnosis(FailureClass::GpuHardwareFault, "xid-79", &[("xid", "79")]);
        let mut c = corroborated(ctx("vllm"));
        c.node_fault.pod_holds_gpu = false;
        ("gpu-fault-notify", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    gpu_fault_at_the_cordon_limit_notifies: {
        let d = diagnosis(FailureClass::GpuHardwareFault, "xid-79", &[("xid", "79")]);
        let mut c = corroborated(ctx("vllm"));
        c.node_fault.cordoned_by_podmedic = 1;
        ("gpu-fault-notify", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    no_gpu_adds_gpu_limit: {
        let d = diagnosis(FailureClass::NoGpuVisible, "no-cuda-gpus", &[]);
        ("no-gpu-add-gpu-limit", plan(&d, Some(&workload("vllm-no-gpu-deployment.yaml")), &ctx("vllm")))
    };
    no_gpu_with_gpu_limit_notifies: {
        let d = diagnosis(FailureClass::NoGpuVisible, "no-cuda-gpus", &[]);
        ("no-gpu-notify", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx("vllm")))
    };
    config_error_rolls_back: {
        let d = diagnosis(FailureClass::ConfigError, "invalid-tp-size", &[]);
        ("config-error-rollback", plan(&d, Some(&workload("vllm-with-history.yaml")), &ctx("vllm")))
    };
    config_error_on_bare_pod_notifies: {
        let d = diagnosis(FailureClass::ConfigError, "unrecognized-arguments", &[]);
        ("config-error-notify", plan(&d, Some(&workload("bare-pod.yaml")), &ctx("vllm")))
    };
    startup_probe_lengthened: {
        let d = diagnosis(FailureClass::StartupProbeKill, "startup-probe", &[]);
        let mut c = ctx("vllm");
        c.container.as_mut().unwrap().last_termination = Some(Termination { exit_code: 137, reason: Some("Error".into()), ran_seconds: Some(420) });
        ("startup-probe-lengthen", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    startup_probe_added_from_liveness: {
        let d = diagnosis(FailureClass::StartupProbeKill, "liveness-probe", &[]);
        let mut c = ctx("server");
        c.load_seconds = Some(900);
        ("startup-probe-lengthen", plan(&d, Some(&workload("vllm-shell-deployment.yaml")), &c))
    };
    cuda_on_bare_pod_notifies: {
        let d = diagnosis(FailureClass::CudaDriverMismatch, "driver-too-old", &[("required_cuda", "12.8")]);
        let mut c = ctx("vllm");
        c.candidate_nodes = vec![node("gpu-node-3", "570")];
        ("cuda-driver-notify", plan(&d, Some(&workload("bare-pod.yaml")), &c))
    };
    gpu_fault_without_node_notifies: {
        let d = diagnosis(FailureClass::GpuHardwareFault, "xid-48", &[("xid", "48")]);
        let mut c = ctx("vllm");
        c.container.as_mut().unwrap().node_name = None;
        ("gpu-fault-notify", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    nccl_on_bare_pod_notifies: {
        let d = diagnosis(FailureClass::NcclFailure, "shm-too-small", &[]);
        ("nccl-notify", plan(&d, Some(&workload("bare-pod.yaml")), &ctx("vllm")))
    };
    startup_probe_without_load_time_notifies: {
        let d = diagnosis(FailureClass::StartupProbeKill, "startup-probe", &[]);
        let mut c = ctx("vllm");
        c.container.as_mut().unwrap().last_termination = None;
        ("startup-probe-notify", plan(&d, Some(&workload("vllm-deployment.yaml")), &c))
    };
    unknown_notifies: {
        let d = diagnosis(FailureClass::Unknown, "", &[]);
        ("unknown-notify", plan(&d, Some(&workload("vllm-deployment.yaml")), &ctx("vllm")))
    };
}

#[test]
fn every_shipped_playbook_has_a_golden_test() {
    let dir = root().join("tests/fixtures/plans");
    let mut covered = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        if let Some(id) =
            text.lines().next().and_then(|l| l.strip_prefix("playbook: ")).and_then(|l| l.split(' ').next())
        {
            covered.insert(id.to_owned());
        }
    }
    let all = set();
    let missing: Vec<&str> =
        all.playbooks().iter().map(|p| p.id.as_str()).filter(|id| !covered.contains(*id)).collect();
    assert!(missing.is_empty(), "playbooks without a golden test: {missing:?}");
}

#[test]
fn applying_every_rendered_patch_then_every_revert_restores_the_workload() {
    type Case = (&'static str, FailureClass, &'static [(&'static str, &'static str)]);
    let cases: &[Case] = &[
        ("vllm-deployment.yaml", FailureClass::KvCacheOom, &[("kv_tokens", "20150")]),
        ("vllm-shell-deployment.yaml", FailureClass::NcclFailure, &[]),
        ("tgi-deployment.yaml", FailureClass::KvCacheOom, &[("prefill_tokens", "16384")]),
        ("vllm-no-gpu-deployment.yaml", FailureClass::NoGpuVisible, &[]),
        ("vllm-with-history.yaml", FailureClass::ConfigError, &[]),
    ];
    for (file, class, caps) in cases {
        let w = workload(file);
        let p = plan(&diagnosis(*class, "", caps), Some(&w), &ctx("vllm"));
        let mut cur = w.object.clone();
        let reference = w.reference();
        let steps: Vec<_> = p.steps.iter().filter(|s| s.object.as_deref() == Some(reference.as_str())).collect();
        for s in &steps {
            cur = podmedic::actions::patch::apply(&cur, s.patch.as_ref().unwrap()).unwrap();
        }
        assert_ne!(cur, w.object, "{file}: the plan changes nothing");
        for s in steps.iter().rev() {
            cur = podmedic::actions::patch::apply(&cur, s.revert.as_ref().unwrap()).unwrap();
        }
        assert_eq!(cur, w.object, "{file}");
    }
}

#[test]
fn unsupported_workload_kinds_are_refused_clearly() {
    let e = Workload::from_str("apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\n").unwrap_err();
    assert!(e.to_string().contains("unsupported kind `DaemonSet`"), "{e}");
    let e = Workload::load(Path::new("/nonexistent/deploy.yaml")).unwrap_err();
    assert!(e.to_string().starts_with("cannot read /nonexistent/deploy.yaml"), "{e}");
}

fn problems(file: &str) -> Vec<String> {
    let path = root().join("tests/fixtures/playbooks-broken").join(file);
    match playbook::check(&[&path]) {
        Ok(_) => panic!("{file} compiled"),
        Err(p) => {
            p.0.iter().map(|p| p.to_string().replace(&format!("{}/", path.parent().unwrap().display()), "")).collect()
        }
    }
}

#[test]
fn step_cycles_print_their_path_and_unknown_and_unreachable_steps_are_named() {
    assert_eq!(
        problems("cycle.yaml"),
        [
            r#"cycle.yaml:21:16: playbook `cyclic`: step `e`: needs unknown step `wiat` (hint: did you mean `wait`?)"#,
            r#"cycle.yaml:23:13: playbook `cyclic`: step cycle: wait -> wait (hint: `a -> b` reads: step a needs step b)"#,
            r#"cycle.yaml:8:13: playbook `cyclic`: step cycle: a -> c -> b -> a (hint: `a -> b` reads: step a needs step b)"#,
            r#"cycle.yaml:17:13: playbook `cyclic`: step `d` is unreachable: it needs `b`, which can never run"#,
        ]
    );
}

#[test]
fn unknown_action_types_and_fields_get_hints() {
    assert_eq!(
        problems("actions.yaml"),
        [
            r#"actions.yaml:8:25: playbook `bad-actions`: step `one`: unknown action type `set-args` (hint: did you mean `set-arg`?)"#,
            r#"actions.yaml:10:25: playbook `bad-actions`: step `two`: unknown action type `rolback` (hint: did you mean `rollback`?)"#,
            r#"actions.yaml:12:41: playbook `bad-actions`: step `three`: `set-arg` has no field `flags` (hint: did you mean `flag`?)"#,
            r#"actions.yaml:12:17: playbook `bad-actions`: step `three`: `set-arg` needs `flag`"#,
            r#"actions.yaml:14:89: playbook `bad-actions`: step `four`: `operator` must be one of In, NotIn, Exists, DoesNotExist, Gt, Lt, got `Gte`; did you mean `Gt`?"#,
            r#"actions.yaml:16:17: playbook `bad-actions`: step `five`: operator `Gt` takes exactly one value"#,
            r#"actions.yaml:18:45: playbook `bad-actions`: step `six`: `template` of `rollback` is filled in by the renderer; remove it"#,
            r#"actions.yaml:20:17: playbook `bad-actions`: step `seven`: the action has no `type`"#,
        ]
    );
}

#[test]
fn parameter_type_bound_and_reference_errors_are_all_reported() {
    assert_eq!(
        problems("params.yaml"),
        [
            r#"params.yaml:13:33: playbook `bad-params`: parameter `cap`: unknown policy field `max_gpu_memory_utilisation`; did you mean `max_gpu_memory_utilization`?"#,
            r#"params.yaml:7:22: playbook `bad-params`: parameter `count`: unknown type `integer` (hint: did you mean `int`?)"#,
            r#"params.yaml:17:36: playbook `bad-params`: parameter `flag`: compute: `add` needs numbers, but `policy.prefer_keep_context` is a bool"#,
            r#"params.yaml:12:30: playbook `bad-params`: parameter `kv`: unknown reference namespace `captur` in `captur.kv_tokens`; did you mean `capture`?"#,
            r#"params.yaml:18:15: playbook `bad-params`: parameter `lonely`: needs `from`, `compute` or `default`"#,
            r#"params.yaml:9:42: playbook `bad-params`: parameter `memory`: default gives a plain number where a quantity is declared (write a quantity like 100Mi, or use a memory reference)"#,
            r#"params.yaml:8:36: playbook `bad-params`: parameter `ratio`: compute gives a float where an int is declared (use floor or ceil)"#,
            r#"params.yaml:10:13: playbook `bad-params`: parameter `util`: default 0.99 is above max 0.95"#,
            r#"params.yaml:11:15: playbook `bad-params`: parameter `window`: min 10 is greater than max 5"#,
            r#"params.yaml:11:15: playbook `bad-params`: parameter `window`: default 1 is below min 10"#,
            r#"params.yaml:14:13: playbook `bad-params`: parameter cycle: ping -> pong -> ping"#,
            r#"params.yaml:21:63: playbook `bad-params`: step `probe`: `failure_threshold` needs an int, but parameter `size` is a quantity"#,
            r#"params.yaml:23:64: playbook `bad-params`: step `arg`: `value` uses unknown parameter `max_len`"#,
        ]
    );
}

#[test]
fn mutations_need_a_revert_path_and_verification_and_approval_cannot_be_waived() {
    assert_eq!(
        problems("safety.yaml"),
        [
            r#"safety.yaml:6:15: playbook `unsafe`: `approval` is not a playbook setting (hint: every proposal waits for a human decision; a playbook that changes nothing only informs)"#,
            r#"safety.yaml:8:13: playbook `unsafe`: step `delete`: `delete-pod` changes the cluster and has no revert path (hint: say why that is safe with `irreversible: <reason>`)"#,
            r#"safety.yaml:10:13: playbook `unsafe`: step `cordon`: risk high is above the playbook's risk medium (hint: raise the playbook's `risk` so approvers see it)"#,
            r#"safety.yaml:13:21: playbook `unsafe`: step `cordon`: a failed change must `stop` or `revert`, not `continue`"#,
            r#"safety.yaml:2:9: playbook `unsafe` changes the cluster but has no `verify` (hint: add `verify: {ready_within_seconds: N, no_restart_for_seconds: M}`)"#,
        ]
    );
}

#[test]
fn classes_servers_risks_conditions_and_duplicate_ids_are_checked() {
    assert_eq!(
        problems("match.yaml"),
        [
            r#"match.yaml:2:9: playbook id `Bad_Id` must be lowercase kebab-case"#,
            r#"match.yaml:5:14: playbook `Bad_Id`: unknown failure class `kv-cache-om`; did you mean `kv-cache-oom`?"#,
            r#"match.yaml:6:16: playbook `Bad_Id`: unknown server `vlm` (hint: did you mean `vllm`?)"#,
            r#"match.yaml:12:11: playbook `Bad_Id`: unknown risk `mediun` (hint: did you mean `medium`?)"#,
            r#"match.yaml:8:11: playbook `Bad_Id`: condition: `has` takes no comparison"#,
            r#"match.yaml:10:11: playbook `Bad_Id`: condition: cannot compare `policy.prefer_keep_context` (bool) with 1 (int)"#,
            r#"match.yaml:10:11: playbook `Bad_Id`: condition: `policy.prefer_keep_context` is a bool: compare it with eq or ne"#,
            r#"match.yaml:17:21: playbook `Bad_Id`: step `notify`: unknown on_failure `retry` (hint: one of: stop, revert, continue)"#,
            r#"match.yaml:26:13: playbook `dup`: duplicate step id `x` (hint: first defined at line 24)"#,
            r#"match.yaml:28:9: duplicate playbook id `dup` (hint: first defined at match.yaml:18)"#,
        ]
    );
}

#[test]
fn misspelt_keys_are_refused_with_their_location() {
    assert_eq!(
        problems("shape.yaml"),
        [
            r#"shape.yaml:5:5: unknown field `prority`, expected one of id, title, description, match, priority, risk, approval, params, steps, verify, limits"#,
        ]
    );
}
