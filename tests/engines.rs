//! The engine a crash ran on: banners resolve to versions, fixes fit the
//! running version and GPU, and no plan of any shipped playbook writes a
//! flag or value the running version lacks.
//!
//! Banner lines in `tests/fixtures/engines/*.log` are copied from the
//! engines' own sources (cited in `tests/fixtures/engines/SOURCES.md`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use podmedic::actions::{Action, Workload};
use podmedic::class::FailureClass;
use podmedic::diagnosis::{Diagnosis, Source};
use podmedic::engine::{EngineInfo, EngineTable, Gpu, Setup, Version, VersionSource, read_head};
use podmedic::evidence::ContainerFacts;
use podmedic::playbook::{Plan, PlanContext, PlaybookSet};
use proptest::prelude::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/engines").join(name)
}

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

#[test]
fn real_banners_resolve_to_their_versions() {
    let cases = [
        ("vllm-0.13.0-no-cache-blocks.log", "vllm", "0.13.0"),
        ("vllm-0.14.0-head.log", "vllm", "0.14.0"),
        ("vllm-0.19.1-logo.log", "vllm", "0.19.1"),
        ("vllm-0.19.1-plain.log", "vllm", "0.19.1"),
        ("vllm-0.34.0-no-cache-blocks.log", "vllm", "0.34.0"),
        ("vllm-0.34.0-cuda-oom.log", "vllm", "0.34.0"),
        ("llamacpp-build.log", "llama.cpp", "4567"),
        ("llamacpp-b11434.log", "llama.cpp", "11434"),
    ];
    for (file, engine, version) in cases {
        let facts = read_head(&std::fs::read(fixture(file)).unwrap());
        assert_eq!(facts.engine, Some(engine), "{file}");
        assert_eq!(facts.version.as_ref().map(ToString::to_string).as_deref(), Some(version), "{file}");
        let (line, text) = facts.version_line.clone().unwrap();
        assert!(line >= 1 && text.contains(version), "{file}: {text}");
        let info = EngineInfo::identify(&facts, Some("registry.example.com/serving:prod"), "");
        assert_eq!((info.name.as_str(), info.version_source), (engine, Some(VersionSource::Log)), "{file}");
    }
}

#[test]
fn settings_dumps_name_the_engine_and_its_effective_values() {
    let s = read_head(&std::fs::read(fixture("sglang-0.5.23-head.log")).unwrap());
    assert_eq!(s.engine, Some("sglang"));
    assert_eq!(s.settings["mem_fraction_static"], "0.871");
    assert!(!s.settings.contains_key("context_length"), "None means computed");
    let s = read_head(&std::fs::read(fixture("sglang-0.4.6-head.log")).unwrap());
    assert_eq!((s.engine, s.settings["mem_fraction_static"].as_str()), (Some("sglang"), "0.88"));
    let t = read_head(&std::fs::read(fixture("tgi-3.3.4-head.log")).unwrap());
    assert_eq!((t.engine, t.settings["max_total_tokens"].as_str()), (Some("tgi"), "8192"));
    assert!(!t.settings.contains_key("max_input_tokens"));
    let v = read_head(&std::fs::read(fixture("vllm-0.14.0-head.log")).unwrap());
    assert_eq!(v.settings["gpu_memory_utilization"], "0.85");
    assert_eq!(v.settings["max_num_seqs"], "64");
}

#[test]
fn vllm_0_6_prints_every_argument_after_its_banner() {
    let head = std::fs::read(root().join("tests/fixtures/logs/kv-cache-oom/vllm-no-available-memory-cache-blocks.log"))
        .unwrap();
    let f = read_head(&head);
    assert_eq!(f.version.map(|v| v.to_string()).as_deref(), Some("0.6.4.post1"));
    assert_eq!(f.settings["gpu_memory_utilization"], "0.05");
    assert_eq!(f.settings["max_num_seqs"], "256");
    assert!(!f.settings.contains_key("max_model_len"), "None is not a setting");
}

#[test]
fn check_reports_a_broken_engine_table_with_locations() {
    let out = Command::new(env!("CARGO_BIN_EXE_podmedic"))
        .arg("check")
        .arg(root().join("tests/fixtures/engines-broken"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("table.yaml:8:11: flag `--max-model-len`: unknown type `integer` (hint: did you mean `int`?)"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_podmedic"))
        .arg("check")
        .args(["engines", "playbooks"].map(|d| root().join(d)))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("engine flags of 4 engines"));
}

/// Runs `podmedic triage` and returns its JSON.
fn triage(log: &str, image: Option<&str>, node: Option<&str>) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_podmedic"));
    cmd.args(["triage", "--engine", "signatures", "--output", "json", "--log"]).arg(fixture(log));
    let dir = tempfile::tempdir().unwrap();
    if let Some(image) = image {
        let text = std::fs::read_to_string(fixture("vllm-deployment.yaml")).unwrap().replace("IMAGE", image);
        let path = dir.path().join("deploy.yaml");
        std::fs::write(&path, text).unwrap();
        cmd.arg("--workload").arg(path);
    }
    if let Some(node) = node {
        cmd.arg("--node").arg(fixture(node));
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn set_args(report: &serde_json::Value) -> Vec<(String, String)> {
    report["plan"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["action"]["type"] == "set-arg")
        .map(|s| (s["action"]["flag"].as_str().unwrap().to_owned(), s["action"]["value"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn a_floating_tag_and_no_banner_give_a_null_version() {
    let r = triage("vllm-no-banner-no-cache-blocks.log", Some("vllm/vllm-openai:latest"), Some("node-h100.json"));
    assert_eq!(r["engine"]["name"], "vllm");
    assert!(r["engine"]["version"].is_null() && r["engine"]["version_source"].is_null(), "{}", r["engine"]);
    let notes = r["plan"]["notes"].to_string();
    assert!(notes.contains("version is unknown"), "the proposal says so: {notes}");
    // A release tag is used when the log has no banner.
    let r = triage("vllm-no-banner-no-cache-blocks.log", Some("vllm/vllm-openai:v0.13.0"), Some("node-h100.json"));
    assert_eq!(
        (r["engine"]["version"].as_str(), r["engine"]["version_source"].as_str()),
        (Some("0.13.0"), Some("image"))
    );
}

#[test]
fn vllm_034_on_an_h100_never_lowers_the_effective_gpu_utilization() {
    let r = triage("vllm-0.34.0-no-cache-blocks.log", Some("vllm/vllm-openai:v0.34.0"), Some("node-h100.json"));
    assert_eq!(r["class"], "kv-cache-oom");
    assert_eq!(r["engine"]["version"], "0.34.0");
    let writes = set_args(&r);
    assert!(writes.iter().all(|(f, _)| f != "--gpu-memory-utilization"), "{writes:?}");
    let considered = r["plan"]["considered"].to_string();
    assert!(considered.contains("kv-cache-vllm-no-room-raise-gpu-util"), "{considered}");
    // On 0.13 the same crash may raise the 0.9 default.
    let r = triage("vllm-0.13.0-no-cache-blocks.log", Some("vllm/vllm-openai:v0.13.0"), Some("node-h100.json"));
    assert_eq!(set_args(&r), vec![("--gpu-memory-utilization".to_owned(), "0.95".to_owned())]);
}

#[test]
fn cuda_oom_halves_the_gpu_dependent_default_of_max_num_seqs() {
    let oom = "vllm-0.34.0-cuda-oom.log";
    for (image, node, want) in [
        ("vllm/vllm-openai:v0.34.0", "node-h100.json", 512),
        ("vllm/vllm-openai:v0.14.0", "node-h100.json", 512),
        ("vllm/vllm-openai:v0.34.0", "node-l4.json", 128),
    ] {
        // The 0.34 banner wins over an older image tag; use a bannerless copy for other versions.
        let r = if image.ends_with("v0.34.0") {
            triage(oom, Some(image), Some(node))
        } else {
            let text = std::fs::read_to_string(fixture(oom)).unwrap();
            let body: String =
                text.lines().filter(|l| !l.contains("version") && !l.contains('█')).collect::<Vec<_>>().join("\n");
            let dir = tempfile::tempdir().unwrap();
            let log = dir.path().join("oom.log");
            std::fs::write(&log, body).unwrap();
            triage(log.to_str().unwrap(), Some(image), Some(node))
        };
        assert_eq!(r["class"], "gpu-oom", "{image} {node}");
        let writes = set_args(&r);
        assert_eq!(writes, vec![("--max-num-seqs".to_owned(), want.to_string())], "{image} {node}");
    }
}

// Library-level scenarios and the property test.

fn table() -> std::sync::Arc<EngineTable> {
    EngineTable::embedded().unwrap_or_else(|p| panic!("{p}"))
}

fn playbooks() -> PlaybookSet {
    PlaybookSet::embedded().unwrap_or_else(|p| panic!("{p}"))
}

fn diagnosis(class: FailureClass, subclass: &str, captures: &[(&str, String)]) -> Diagnosis {
    Diagnosis {
        class,
        subclass: subclass.into(),
        confidence: 0.95,
        source: Source::Signature,
        evidence: vec![],
        summary: "s.".into(),
        captures: captures.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        signatures: vec![],
        alternatives: vec![],
        model: None,
    }
}

fn workload(file: &str, image: &str, args: Option<&[&str]>) -> Workload {
    let text = std::fs::read_to_string(root().join("tests/fixtures").join(file)).unwrap().replace("IMAGE", image);
    let mut w: serde_json::Value = podmedic::yaml::from_str(&text).unwrap();
    let c = &mut w["spec"]["template"]["spec"]["containers"][0];
    c["image"] = image.into();
    if let Some(a) = args {
        c["args"] = a.iter().map(|s| serde_json::Value::from(*s)).collect();
    }
    Workload::from_value(w).unwrap()
}

fn context(engine: &str, version: Option<&Version>, gpu: Option<(&str, &str)>) -> PlanContext {
    let mut c = PlanContext { now: "2026-03-01T12:00:00Z".parse().unwrap(), ..PlanContext::default() };
    let mut e = EngineInfo::named(engine);
    e.version = version.cloned();
    e.version_source = version.map(|_| VersionSource::Log);
    c.engine = Some(e);
    if let Some((product, mib)) = gpu {
        c.node_labels = BTreeMap::from([
            ("nvidia.com/gpu.product".to_owned(), product.to_owned()),
            ("nvidia.com/gpu.memory".to_owned(), mib.to_owned()),
        ]);
    }
    c.container = Some(ContainerFacts { name: "x".into(), ..ContainerFacts::default() });
    c
}

fn writes(plan: &Plan) -> Vec<(String, String)> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::SetArg { flag, value, .. } => Some((flag.clone(), value.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn auto_context_length_is_never_written_to_vllm_013() {
    let set = playbooks();
    let w = workload("workloads/vllm-deployment.yaml", "vllm/vllm-openai:v0.13.0", None);
    let d = diagnosis(FailureClass::KvCacheOom, "max-model-len-exceeds-kv-capacity", &[("kv_tokens", "20150".into())]);
    for version in ["0.13.0", "0.12.0", "0.8.5"] {
        let mut c = context("vllm", Some(&v(version)), Some(("NVIDIA-H100-80GB-HBM3", "81559")));
        c.policy.max_model_len_auto = true;
        let p = set.plan(&d, Some(&w), &c).unwrap();
        assert!(writes(&p).iter().all(|(_, value)| value != "auto" && value != "-1"), "{version}: {p:?}");
        let why = p.considered.iter().find(|s| s.playbook == "kv-cache-vllm-auto-context").unwrap();
        assert!(why.reason.contains("0.14.0"), "{}", why.reason);
    }
    // From 0.14 the policy may choose it; by default it is listed beside the computed number.
    let c = context("vllm", Some(&v("0.14.0")), None);
    let p = set.plan(&d, Some(&w), &c).unwrap();
    assert_eq!(writes(&p), vec![("--max-model-len".to_owned(), "20144".to_owned())]);
    assert!(
        p.considered
            .iter()
            .any(|s| s.playbook == "kv-cache-vllm-auto-context" && s.reason.contains("max_model_len_auto"))
    );
}

#[test]
fn an_argument_the_running_version_removed_is_dropped() {
    let set = playbooks();
    let args: &[&str] = &["--model", "m", "--disable-log-requests", "--port", "8000"];
    let d = diagnosis(FailureClass::ConfigError, "unknown-argument", &[("arg", "--disable-log-requests".into())]);
    let w = workload("workloads/vllm-deployment.yaml", "vllm/vllm-openai:v0.17.0", Some(args));
    let p = set.plan(&d, Some(&w), &context("vllm", Some(&v("0.17.0")), None)).unwrap();
    assert_eq!(p.playbook, "config-error-drop-removed-arg");
    assert!(matches!(&p.steps[0].action, Action::RemoveArg { flag, .. } if flag == "--disable-log-requests"));
    assert!(p.notes.iter().any(|n| n.contains("--enable-log-requests")), "the replacement is named: {:?}", p.notes);
    // 0.16 still accepts it (deprecated), and an unknown version cannot tell: no removal.
    let w16 = workload("workloads/vllm-deployment.yaml", "vllm/vllm-openai:v0.16.0", Some(args));
    let p = set.plan(&d, Some(&w16), &context("vllm", Some(&v("0.16.0")), None)).unwrap();
    assert_eq!(p.playbook, "config-error-rollback");
    let floating = workload("workloads/vllm-deployment.yaml", "vllm/vllm-openai:latest", Some(args));
    let p = set.plan(&d, Some(&floating), &context("vllm", None, None)).unwrap();
    assert_eq!(p.playbook, "config-error-rollback");
    let why = p.considered.iter().find(|s| s.playbook == "config-error-drop-removed-arg").unwrap();
    assert!(why.reason.contains("removed"), "{}", why.reason);
}

/// What a release accepts, read straight from the table (the oracle the
/// property test holds plans to).
fn accepts(table: &EngineTable, engine: &str, version: &Version, flag: &str, value: &str) -> Result<(), String> {
    let e = table.engine(engine).ok_or("no table")?;
    let f = e.flag(flag).ok_or_else(|| format!("unknown flag {flag}"))?;
    if !f.range.contains(version) {
        return Err(format!("{flag} is not in {engine} {version}"));
    }
    if let Some(form) = f.forms.iter().find(|x| x.value.eq_ignore_ascii_case(value)) {
        return if form.range.contains(version) { Ok(()) } else { Err(format!("{flag} {value} not in {version}")) };
    }
    let n: f64 = value.parse().map_err(|_| format!("{flag} {value}: not a number and no such form in {version}"))?;
    if f.min.is_some_and(|m| n < m || (f.min_exclusive && n == m)) || f.max.is_some_and(|m| n > m) {
        return Err(format!("{flag} {value} out of bounds"));
    }
    Ok(())
}

const GPUS: [Option<(&str, &str)>; 4] = [
    None,
    Some(("NVIDIA-H100-80GB-HBM3", "81559")),
    Some(("NVIDIA-A100-SXM4-80GB", "81920")),
    Some(("NVIDIA-L4", "23034")),
];

fn cases(engine: &str) -> Vec<(Workload, &'static str, Option<&'static [&'static str]>)> {
    match engine {
        "vllm" => vec![
            (workload("workloads/vllm-deployment.yaml", "vllm/vllm-openai:IMAGE", None), "vllm", None),
            (workload("engines/vllm-deployment.yaml", "vllm/vllm-openai:IMAGE", None), "vllm", None),
            (
                workload(
                    "engines/vllm-deployment.yaml",
                    "vllm/vllm-openai:IMAGE",
                    Some(&["--model", "m", "--swap-space", "4", "--disable-log-requests"]),
                ),
                "vllm",
                None,
            ),
        ],
        "sglang" => {
            vec![(workload("workloads/sglang-statefulset.yaml", "lmsysorg/sglang:IMAGE", None), "sglang", None)]
        }
        "tgi" => vec![(
            workload("workloads/tgi-deployment.yaml", "ghcr.io/huggingface/text-generation-inference:IMAGE", None),
            "tgi",
            None,
        )],
        _ => vec![],
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Every shipped playbook × every release in the table (and an unknown
    /// version), on several GPUs, with random captures and policies: no
    /// step writes a flag or a value that release lacks, and no raise or
    /// lower moves the effective value the wrong way.
    #[test]
    fn no_plan_writes_what_the_running_version_lacks(
        kv in 1u32..200_000,
        prefill in 256u32..65_536,
        keep in any::<bool>(),
        auto in any::<bool>(),
        arg in prop::sample::select(vec!["--swap-space", "--disable-log-requests", "--max-model-len", "--disable-cuda-graph", "--nope"]),
    ) {
        let set = playbooks();
        let t = table();
        let diagnoses = [
            diagnosis(FailureClass::KvCacheOom, "max-model-len-exceeds-kv-capacity", &[("kv_tokens", kv.to_string())]),
            diagnosis(FailureClass::KvCacheOom, "v1-estimated-max-len", &[("est_max_len", kv.to_string())]),
            diagnosis(FailureClass::KvCacheOom, "no-cache-blocks", &[]),
            diagnosis(FailureClass::KvCacheOom, "tgi-prefill", &[("prefill_tokens", prefill.to_string())]),
            diagnosis(FailureClass::GpuOom, "cuda-oom", &[]),
            diagnosis(FailureClass::ConfigError, "unknown-argument", &[("arg", arg.to_owned())]),
        ];
        for engine in t.engines() {
            for (w, name, _) in cases(&engine.name) {
                let versions: Vec<Option<&Version>> = engine.releases.iter().map(Some).chain([None]).collect();
                for version in versions {
                    for gpu in GPUS {
                        let mut c = context(name, version, gpu);
                        c.policy.prefer_keep_context = keep;
                        c.policy.max_model_len_auto = auto;
                        for d in &diagnoses {
                            let Some(p) = set.plan(d, Some(&w), &c) else { continue };
                            let container = w.containers().first();
                            let gpu_facts = Gpu::from_labels(&c.node_labels, None);
                            let printed = BTreeMap::new();
                            let setup = Setup { engine, version, printed: &printed, container, gpu: &gpu_facts };
                            let playbook = set.get(&p.playbook).unwrap();
                            for step in &p.steps {
                                let Action::SetArg { flag, value, .. } = &step.action else { continue };
                                let (flag, value) = (flag.clone(), value.clone());
                                let moves = playbook.steps.iter().find(|s| s.id == step.id).and_then(|s| s.moves);
                                match version {
                                    Some(ver) => prop_assert!(accepts(&t, name, ver, &flag, &value).is_ok(),
                                        "{} {ver}: {} writes {flag} {value}: {:?}", engine.name, p.playbook, accepts(&t, name, ver, &flag, &value)),
                                    None => for r in &engine.releases {
                                        prop_assert!(accepts(&t, name, r, &flag, &value).is_ok(),
                                            "{} unknown version: {} writes {flag} {value}, which {r} lacks", engine.name, p.playbook);
                                    },
                                }
                                let new: f64 = match value.parse() { Ok(n) => n, Err(_) => continue };
                                let eff = setup.effective(&flag);
                                let raises = moves == Some(podmedic::playbook::Moves::Raise);
                                let lowers = moves == Some(podmedic::playbook::Moves::Lower);
                                if let (true, Some(podmedic::engine::table::Value::Num(hi))) = (raises, eff.pick(1)) {
                                    prop_assert!(new > hi, "{} raises {flag} to {new} from {hi}", p.playbook);
                                }
                                if let (true, Some(podmedic::engine::table::Value::Num(lo))) = (lowers, eff.pick(-1)) {
                                    prop_assert!(new < lo, "{} lowers {flag} to {new} from {lo}", p.playbook);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
