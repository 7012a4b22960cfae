use std::path::Path;

use super::*;
use crate::evidence::{ContainerFacts, EventFacts, Termination};
use crate::logtext::LogTail;

fn sig(id: &str, class: &str, anchor: &str, regex: &str, weight: f64, example: &str) -> String {
    format!(
        "  - id: {id}\n    class: {class}\n    subclass: {id}\n    title: \"{id}\"\n    servers: [any]\n    anchors: [\"{anchor}\"]\n    regex: '{regex}'\n    weight: {weight}\n    references: [\"test\"]\n    examples:\n      match: [\"{example}\"]\n      no_match: [\"INFO all good\"]\n"
    )
}

fn lib() -> SignatureSet {
    let yaml = [
        sig(
            "xid",
            "gpu-hardware-fault",
            "NVRM: Xid",
            r"NVRM: Xid \(PCI:(?P<pci>[0-9a-fA-F:.]+)\): (?P<xid>\d+)",
            0.95,
            "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus",
        ),
        sig("nccl", "nccl-failure", "NCCL error", r"NCCL error", 0.85, "RuntimeError: NCCL error in: x"),
        sig(
            "driver",
            "cuda-driver-mismatch",
            "driver version is insufficient",
            r"CUDA driver version is insufficient",
            0.95,
            "CUDA driver version is insufficient for CUDA runtime version",
        ),
        sig(
            "nogpu",
            "no-gpu-visible",
            "No CUDA GPUs are available",
            r"No CUDA GPUs are available",
            0.9,
            "RuntimeError: No CUDA GPUs are available",
        ),
        sig("cudaoom", "gpu-oom", "CUDA out of memory", r"CUDA out of memory", 0.9, "CUDA out of memory"),
        sig("weak", "config-error", "deprecated flag", r"deprecated flag", 0.3, "deprecated flag"),
    ]
    .concat();
    SignatureSet::compile([(Path::new("t.yaml"), format!("signatures:\n{yaml}").leak() as &str)]).unwrap()
}

fn ev(log: &str) -> Evidence {
    Evidence { log: LogTail::from_text(log, 200), ..Default::default() }
}

fn run(e: &Evidence) -> Diagnosis {
    diagnose(e, &lib(), None, &FusionConfig::default())
}

#[test]
fn root_cause_wins_over_its_consequences() {
    // (log, expected class): each pair is a real-world causal chain.
    let cases = [
        (
            "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus\nRuntimeError: NCCL error in: x",
            FailureClass::GpuHardwareFault,
        ),
        ("RuntimeError: NCCL error in: x\nNVRM: Xid (PCI:0000:3b:00): 79, fell off", FailureClass::GpuHardwareFault),
        (
            "CUDA driver version is insufficient for CUDA runtime version\nRuntimeError: No CUDA GPUs are available",
            FailureClass::CudaDriverMismatch,
        ),
        ("torch.OutOfMemoryError: CUDA out of memory\nRuntimeError: NCCL error in: x", FailureClass::GpuOom),
    ];
    for (log, want) in cases {
        let d = run(&ev(log));
        assert_eq!(d.class, want, "{log}");
        assert_eq!(d.source, Source::Signature);
        assert!(d.alternatives.iter().all(|a| a.class != want));
    }
}

#[test]
fn captures_evidence_and_summary_come_from_the_winning_class() {
    let d = run(&ev(
        "INFO boot\nNVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus\nRuntimeError: NCCL error in: x",
    ));
    assert_eq!(d.captures["xid"], "79");
    assert_eq!(
        d.evidence,
        vec![EvidenceLine { line: 2, text: "NVRM: Xid (PCI:0000:3b:00): 79, GPU has fallen off the bus".into() }]
    );
    assert!(d.summary.contains("log line 2"), "{}", d.summary);
    assert_eq!(d.signatures, vec!["xid".to_owned()]);
    assert_eq!(d.alternatives[0].class, FailureClass::NcclFailure);
}

#[test]
fn healthy_and_weak_logs_abstain() {
    let d = run(&ev("INFO starting\nINFO Uvicorn running on http://0.0.0.0:8000"));
    assert_eq!((d.class, d.source, d.confidence), (FailureClass::Unknown, Source::None, 0.0));
    let d = run(&ev("WARNING deprecated flag --foo"));
    assert_eq!(d.class, FailureClass::Unknown);
    assert_eq!(d.alternatives[0].class, FailureClass::ConfigError);
    assert!(d.summary.contains("strongest hint is config-error"), "{}", d.summary);
}

fn with_container(mut e: Evidence, exit: i32, reason: &str) -> Evidence {
    e.container = Some(ContainerFacts {
        name: "vllm".into(),
        restart_count: 3,
        last_termination: Some(Termination { exit_code: exit, reason: Some(reason.into()), ran_seconds: Some(90) }),
        limits: [("memory".to_owned(), "32Gi".to_owned())].into(),
        ..Default::default()
    });
    e
}

#[test]
fn oomkilled_status_is_host_oom_even_with_a_gpu_oom_line() {
    let d = run(&with_container(ev("INFO loading weights"), 137, "OOMKilled"));
    assert_eq!((d.class, d.subclass.as_str()), (FailureClass::HostOom, "oom-killed"));
    assert!(d.summary.contains("OOMKilled") && d.summary.contains("32Gi"), "{}", d.summary);
    let d = run(&with_container(ev("CUDA out of memory"), 137, "OOMKilled"));
    assert_eq!(d.class, FailureClass::HostOom);
    // A bare exit 137 is only a hint.
    assert_eq!(run(&with_container(ev("INFO loading"), 137, "Error")).class, FailureClass::Unknown);
}

#[test]
fn probe_kills_come_from_events_and_yield_to_real_errors() {
    let mut e = with_container(ev("INFO Loading safetensors checkpoint shards: 40% Completed"), 137, "Error");
    e.events = vec![
        EventFacts {
            reason: "Unhealthy".into(),
            message: "Startup probe failed: connection refused".into(),
            ..Default::default()
        },
        EventFacts {
            reason: "Killing".into(),
            message: "Container vllm failed startup probe, will be restarted".into(),
            ..Default::default()
        },
    ];
    let d = run(&e);
    assert_eq!((d.class, d.subclass.as_str()), (FailureClass::StartupProbeKill, "startup-probe"));
    assert!(d.summary.contains("startup probe"), "{}", d.summary);
    e.log = LogTail::from_text("CUDA out of memory", 10);
    assert_eq!(run(&e).class, FailureClass::GpuOom);
}

/// A model with fixed probabilities that reads the last line as telling.
struct Fixed(FailureClass, f32);
impl Classifier for Fixed {
    fn predict(&self, _lines: &[&str]) -> [f32; FailureClass::COUNT] {
        let mut p = [(1.0 - self.1) / (FailureClass::COUNT as f32 - 1.0); FailureClass::COUNT];
        p[self.0.index()] = self.1;
        p
    }
    fn telling_line(&self, lines: &[&str], _class: FailureClass) -> Option<usize> {
        lines.len().checked_sub(1)
    }
}

#[test]
fn fusion_precedence() {
    let cfg = FusionConfig::default();
    let fused = |log: &str, m: &Fixed| diagnose(&ev(log), &lib(), Some(m), &cfg);
    // A strong signature stands against a disagreeing model.
    let d = fused("CUDA out of memory", &Fixed(FailureClass::HostOom, 0.9));
    assert_eq!((d.class, d.source), (FailureClass::GpuOom, Source::Signature));
    // Agreement raises confidence.
    let d = fused("CUDA out of memory", &Fixed(FailureClass::GpuOom, 0.8));
    assert_eq!(d.source, Source::Both);
    assert!(d.confidence > 0.9);
    // The model rescues a miss, citing the line it read...
    let d = fused("INFO boot\nloader failed on something odd", &Fixed(FailureClass::WeightLoadFailure, 0.9));
    assert_eq!((d.class, d.source), (FailureClass::WeightLoadFailure, Source::Model));
    assert!(d.summary.contains("classifier") && d.summary.contains("log line 2"), "{}", d.summary);
    assert_eq!(d.evidence, vec![EvidenceLine { line: 2, text: "loader failed on something odd".into() }]);
    // ...but, unless it is sure, never on a line that does not read like an
    // error (checked with a bar low enough for a 0.65 model to decide at all)...
    let low_bar = FusionConfig { model_decides: 0.4, ..FusionConfig::default() };
    let banner = "INFO boot\nDevice 0: NVIDIA A10G, compute capability 8.6";
    let d = diagnose(&ev(banner), &lib(), Some(&Fixed(FailureClass::GpuHardwareFault, 0.65)), &low_bar);
    assert_eq!((d.class, d.source), (FailureClass::Unknown, Source::None));
    assert_eq!(d.alternatives[0].class, FailureClass::GpuHardwareFault);
    let d = diagnose(
        &ev("INFO boot\nloader failed on something odd"),
        &lib(),
        Some(&Fixed(FailureClass::WeightLoadFailure, 0.65)),
        &low_bar,
    );
    assert_eq!((d.class, d.source), (FailureClass::WeightLoadFailure, Source::Model));
    // ...and at the defaults (the model decides from 0.5, answers under 0.55
    // abstain) such a model decides on the error-like line but never on a
    // banner, and one at 0.52 decides nothing: its class is only a candidate.
    let d = fused("INFO boot\nloader failed on something odd", &Fixed(FailureClass::WeightLoadFailure, 0.65));
    assert_eq!((d.class, d.source), (FailureClass::WeightLoadFailure, Source::Model));
    let d = fused(banner, &Fixed(FailureClass::GpuHardwareFault, 0.65));
    assert_eq!((d.class, d.source), (FailureClass::Unknown, Source::None));
    let d = fused("INFO boot\nloader failed on something odd", &Fixed(FailureClass::WeightLoadFailure, 0.52));
    assert_eq!((d.class, d.source), (FailureClass::Unknown, Source::None));
    assert_eq!(d.alternatives[0].class, FailureClass::WeightLoadFailure);
    // ...overrides a weak signature...
    let d = fused("deprecated flag; the collective failed", &Fixed(FailureClass::NcclFailure, 0.88));
    assert_eq!((d.class, d.source), (FailureClass::NcclFailure, Source::Model));
    // ...but an unsure model decides nothing.
    let d = fused("something odd failed", &Fixed(FailureClass::WeightLoadFailure, 0.4));
    assert_eq!((d.class, d.source), (FailureClass::Unknown, Source::None));
    assert_eq!(d.model.unwrap().class, FailureClass::WeightLoadFailure);
}

#[test]
fn the_model_alone_has_its_own_threshold() {
    let cfg = FusionConfig::default();
    let p = cfg.model_alone as f32 + 0.02;
    assert!(f64::from(p) < cfg.abstain_below, "the test needs a probability between the two thresholds");
    let m = Fixed(FailureClass::WeightLoadFailure, p);
    // Without signatures (`--engine model`), the model's top class decides...
    let d = diagnose(&ev("something odd failed"), &SignatureSet::empty(), Some(&m), &cfg);
    assert_eq!((d.class, d.source), (FailureClass::WeightLoadFailure, Source::Model));
    // ...but not when fused with signatures, where it only rescues when sure.
    let d = diagnose(&ev("something odd failed"), &lib(), Some(&m), &cfg);
    assert_eq!((d.class, d.source), (FailureClass::Unknown, Source::None));
    // And it never lowers the bar for pod facts: a bare exit 137 stays a hint.
    let e = with_container(ev("loading weights"), 137, "Error");
    let d = diagnose(&e, &SignatureSet::empty(), Some(&Fixed(FailureClass::Unknown, 0.9)), &cfg);
    assert_eq!(d.class, FailureClass::Unknown);
}

#[test]
fn fused_and_model_alone_have_their_own_error_line_gates() {
    let cfg = FusionConfig::default();
    assert!(cfg.model_needs_error_line_below > cfg.model_alone_needs_error_line_below);
    let banner = "INFO boot\nDevice 0: NVIDIA A10G, compute capability 8.6";
    let sure = Fixed(FailureClass::GpuHardwareFault, 0.95);
    // Fused, even a sure model needs a line that reads like an error...
    let d = diagnose(&ev(banner), &lib(), Some(&sure), &cfg);
    assert_eq!((d.class, d.source), (FailureClass::Unknown, Source::None));
    assert_eq!(d.alternatives[0].class, FailureClass::GpuHardwareFault);
    let d = diagnose(&ev("INFO boot\nloader failed on something odd"), &lib(), Some(&sure), &cfg);
    assert_eq!((d.class, d.source), (FailureClass::GpuHardwareFault, Source::Model));
    // ...while the model alone, above its own gate, decides on its reading.
    let d = diagnose(&ev(banner), &SignatureSet::empty(), Some(&sure), &cfg);
    assert_eq!((d.class, d.source), (FailureClass::GpuHardwareFault, Source::Model));
}

/// A model that names a class and points at the line holding a word.
struct Pointing(FailureClass, f32, &'static str);
impl Classifier for Pointing {
    fn predict(&self, lines: &[&str]) -> [f32; FailureClass::COUNT] {
        Fixed(self.0, self.1).predict(lines)
    }
    fn telling_line(&self, lines: &[&str], class: FailureClass) -> Option<usize> {
        (class == self.0).then(|| lines.iter().position(|l| l.contains(self.2))).flatten()
    }
}

#[test]
fn abstentions_list_candidates_with_their_lines() {
    let cfg = FusionConfig::default();
    let log = "INFO boot\nWARNING deprecated flag --foo\nINFO loading\nweird loader message here\nINFO done";
    let d = diagnose(&ev(log), &lib(), Some(&Pointing(FailureClass::WeightLoadFailure, 0.35, "loader")), &cfg);
    assert_eq!((d.class, d.source), (FailureClass::Unknown, Source::None));
    // The weak signature's class, with its line...
    let cfg_alt = d.alternatives.iter().find(|a| a.class == FailureClass::ConfigError).expect("config-error listed");
    assert_eq!(cfg_alt.source, Some(Source::Signature));
    assert_eq!(cfg_alt.evidence, vec![EvidenceLine { line: 2, text: "WARNING deprecated flag --foo".into() }]);
    // ...and the model's unsure class, with the line the model reads as telling.
    let model_alt =
        d.alternatives.iter().find(|a| a.class == FailureClass::WeightLoadFailure).expect("model's class listed");
    assert_eq!(model_alt.source, Some(Source::Model));
    assert_eq!(model_alt.evidence, vec![EvidenceLine { line: 4, text: "weird loader message here".into() }]);
    assert!((model_alt.score - 0.35).abs() < 1e-3);
    // The JSON carries them; a decided diagnosis keeps the short form.
    let json = serde_json::to_value(&d).unwrap();
    assert!(json["alternatives"][0]["evidence"].is_array(), "{json}");
    let decided = run(&ev("NVRM: Xid (PCI:0000:3b:00): 79, fell off\nRuntimeError: NCCL error in: x"));
    let json = serde_json::to_value(&decided).unwrap();
    assert!(json["alternatives"][0].get("evidence").is_none(), "{json}");
    assert!(json["alternatives"][0].get("source").is_none(), "{json}");
}

#[test]
fn error_lines_are_told_from_chatter() {
    for line in [
        "RuntimeError: CUDA error: out of memory",
        "Killed",
        "INFO 10-14 21:40:24 llm_engine.py:205] # GPU blocks: 0, # CPU blocks: 512",
        "NVRM: Xid (PCI:0000:3b:00): 79",
        "usage: launch_server.py [-h] --model-path MODEL_PATH",
        "CUresult CUDA_ERROR_OUT_OF_MEMORY returned",
        "raise ValueError(f\"on_error={x}: bad value\")",
    ] {
        assert!(reads_like_error(line), "{line}");
    }
    for line in [
        "  Device 0: NVIDIA A10G, compute capability 8.6, VMM: yes",
        "Loading safetensors checkpoint shards: 100% Completed | 4/4",
        "INFO:     Application startup complete.",
        "| exit_on_error                    | 1                                            |",
        "INFO args: timeout_keep_alive=5, disable_log_requests=False, max_log_len=None",
    ] {
        assert!(!reads_like_error(line), "{line}");
    }
}

/// A client's prompt echoed by vLLM's request logger is not evidence: the
/// genuine KV-cache crash stays a KV-cache crash, and an echoed error alone
/// decides nothing (regression: an echoed Xid line turned a KV crash into
/// "cordon gpu-h100-535").
#[test]
fn echoed_prompts_are_not_evidence() {
    let shipped = SignatureSet::load(&["patterns"]).unwrap();
    let echo = "INFO 11-27 12:00:02 logger.py:37] Received request chatcmpl-9a: prompt: '<|user|>NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.', params: SamplingParams(n=1, temperature=0.7)";
    let kv = "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20144). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.";
    let ev = |text: &str| Evidence { log: LogTail::from_text(text, 200), ..Default::default() };
    let d = diagnose(&ev(&format!("{echo}\n{echo}\n{kv}")), &shipped, None, &FusionConfig::default());
    assert_eq!(d.class, FailureClass::KvCacheOom, "{}", d.summary);
    assert!(d.evidence.iter().all(|e| !e.text.contains("Received request")), "{:?}", d.evidence);
    let d = diagnose(&ev(&format!("INFO starting\n{echo}")), &shipped, None, &FusionConfig::default());
    assert_eq!(d.class, FailureClass::Unknown, "{}", d.summary);
    // The same line printed by the driver itself counts.
    let d = diagnose(
        &ev("NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus."),
        &shipped,
        None,
        &FusionConfig::default(),
    );
    assert_eq!(d.class, FailureClass::GpuHardwareFault);
}

/// Signatures of class `unknown` name causes outside the classes: the
/// diagnosis stays `unknown`, says which cause, and a sure model cannot
/// turn it into a class; a class signature of about the same weight still
/// wins on root-cause rank, and `unknown` is never listed as a runner-up.
#[test]
fn causes_outside_the_classes_keep_the_answer_unknown() {
    let yaml = [
        sig("xid", "gpu-hardware-fault", "NVRM: Xid", r"NVRM: Xid", 0.95, "NVRM: Xid 79"),
        sig(
            "modmissing",
            "unknown",
            "ModuleNotFoundError",
            r"ModuleNotFoundError: No module named",
            0.85,
            "ModuleNotFoundError: No module named x",
        ),
        sig("weak", "config-error", "deprecated flag", r"deprecated flag", 0.3, "deprecated flag"),
    ]
    .concat();
    let set = SignatureSet::compile([(Path::new("t.yaml"), format!("signatures:\n{yaml}").leak() as &str)]).unwrap();
    let cfg = FusionConfig::default();
    let log = "INFO boot\nWARNING deprecated flag --foo\nModuleNotFoundError: No module named 'weights_loader'";
    let model = Pointing(FailureClass::WeightLoadFailure, 0.95, "weights_loader");
    let d = diagnose(&ev(log), &set, Some(&model), &cfg);
    assert_eq!((d.class, d.subclass.as_str(), d.source), (FailureClass::Unknown, "modmissing", Source::None));
    assert!(
        d.summary.contains("outside podmedic's failure classes") && d.summary.contains("(line 3)"),
        "{}",
        d.summary
    );
    assert_eq!(d.evidence[0].line, 3, "the outside cause's line comes first: {:?}", d.evidence);
    assert!(d.alternatives.iter().all(|a| a.class != FailureClass::Unknown), "{:?}", d.alternatives);
    // A class signature as strong as the outside cause wins by rank.
    let d = diagnose(&ev(&format!("{log}\nNVRM: Xid 79")), &set, Some(&model), &cfg);
    assert_eq!(d.class, FailureClass::GpuHardwareFault);
    assert!(d.alternatives.iter().all(|a| a.class != FailureClass::Unknown), "{:?}", d.alternatives);
}

/// A line that a signature's `unless:` context marks as a consequence in
/// this log is no evidence for the model either.
#[test]
fn the_model_cannot_claim_a_line_the_library_knows_is_a_consequence() {
    let yaml = "signatures:\n  - id: killed\n    class: host-oom\n    subclass: killed\n    title: \"killed\"\n    servers: [any]\n    anchors: [\"Killed\"]\n    regex: '^Killed$'\n    weight: 0.7\n    references: [\"test\"]\n    unless: [\"Received sigquit from a child\"]\n    examples:\n      match: [\"Killed\"]\n      no_match: [\"INFO all good\"]\n";
    let set = SignatureSet::compile([(Path::new("t.yaml"), yaml)]).unwrap();
    let cfg = FusionConfig::default();
    let model = Pointing(FailureClass::HostOom, 0.8, "Killed");
    let sglang = "AttributeError: 'NoneType' object has no attribute 'get'\nReceived sigquit from a child process. It usually means the child failed.\nKilled";
    let d = diagnose(&ev(sglang), &set, Some(&model), &cfg);
    assert_eq!(d.class, FailureClass::Unknown, "{}", d.summary);
    // Without that context the same model may rescue the bare line.
    let d = diagnose(&ev("loading shard 3/8\nsomething else\nKilled"), &SignatureSet::empty(), Some(&model), &cfg);
    assert_eq!(d.class, FailureClass::HostOom);
}
