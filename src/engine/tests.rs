use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use super::*;

fn shipped() -> std::sync::Arc<EngineTable> {
    EngineTable::embedded().unwrap_or_else(|p| panic!("the shipped engine table does not compile:\n{p}"))
}

fn v(s: &str) -> Version {
    Version::parse(s).unwrap()
}

fn h100() -> Gpu {
    let labels = BTreeMap::from([
        ("nvidia.com/gpu.product".to_owned(), "NVIDIA-H100-80GB-HBM3".to_owned()),
        ("nvidia.com/gpu.memory".to_owned(), "81559".to_owned()),
    ]);
    Gpu::from_labels(&labels, None)
}

fn l4() -> Gpu {
    let labels = BTreeMap::from([
        ("nvidia.com/gpu.product".to_owned(), "NVIDIA-L4".to_owned()),
        ("nvidia.com/gpu.memory".to_owned(), "23034".to_owned()),
    ]);
    Gpu::from_labels(&labels, None)
}

fn effective(
    engine: &str,
    version: Option<&str>,
    gpu: &Gpu,
    container: Option<&serde_json::Value>,
    flag: &str,
) -> Effective {
    let t = shipped();
    let version = version.map(v);
    let printed = BTreeMap::new();
    let setup =
        Setup { engine: t.engine(engine).unwrap(), version: version.as_ref(), printed: &printed, container, gpu };
    setup.effective(flag)
}

fn exact(e: &Effective) -> f64 {
    match e {
        Effective::Exact { value: table::Value::Num(n), .. } => *n,
        other => panic!("not exact: {other:?}"),
    }
}

#[test]
fn vllm_gpu_memory_utilization_defaults_follow_the_release() {
    let gpu = h100();
    assert_eq!(exact(&effective("vllm", Some("0.13.0"), &gpu, None, "--gpu-memory-utilization")), 0.9);
    assert_eq!(exact(&effective("vllm", Some("0.19.1"), &gpu, None, "--gpu-memory-utilization")), 0.9);
    assert_eq!(exact(&effective("vllm", Some("0.20.0"), &gpu, None, "--gpu-memory-utilization")), 0.92);
    assert_eq!(exact(&effective("vllm", Some("0.34.0"), &gpu, None, "--gpu-memory-utilization")), 1.0);
    // Not on an NVIDIA GPU, or with --kv-cache-memory-bytes, 0.34 falls back to 0.92.
    let no_gpu = Gpu { cuda: Some(false), ..Gpu::default() };
    assert_eq!(exact(&effective("vllm", Some("0.34.0"), &no_gpu, None, "--gpu-memory-utilization")), 0.92);
    let c = serde_json::json!({"args": ["--kv-cache-memory-bytes", "20000000000"]});
    assert_eq!(exact(&effective("vllm", Some("0.34.0"), &gpu, Some(&c), "--gpu-memory-utilization")), 0.92);
    // Given values win over defaults.
    let c = serde_json::json!({"args": ["--gpu-memory-utilization=0.8"]});
    assert_eq!(exact(&effective("vllm", Some("0.34.0"), &gpu, Some(&c), "--gpu-memory-utilization")), 0.8);
    // Unknown version: every default it could be.
    match effective("vllm", None, &gpu, None, "--gpu-memory-utilization") {
        Effective::Range { lo, hi, .. } => assert_eq!((lo, hi), (0.9, 1.0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn vllm_max_num_seqs_default_depends_on_the_gpu() {
    for ver in ["0.9.2", "0.14.0", "0.19.1", "0.34.0"] {
        assert_eq!(exact(&effective("vllm", Some(ver), &h100(), None, "--max-num-seqs")), 1024.0, "{ver}");
        assert_eq!(exact(&effective("vllm", Some(ver), &l4(), None, "--max-num-seqs")), 256.0, "{ver}");
    }
    let a100 = Gpu { product: Some("NVIDIA-A100-SXM4-80GB".into()), memory_gib: Some(80.0), cuda: Some(true) };
    assert_eq!(exact(&effective("vllm", Some("0.14.0"), &a100, None, "--max-num-seqs")), 256.0);
    // 0.8.5 had no A100 exception yet.
    assert_eq!(exact(&effective("vllm", Some("0.8.5"), &a100, None, "--max-num-seqs")), 1024.0);
    assert_eq!(exact(&effective("vllm", Some("0.5.5"), &a100, None, "--max-num-seqs")), 256.0);
    match effective("vllm", Some("0.14.0"), &Gpu::default(), None, "--max-num-seqs") {
        Effective::Range { lo, hi, .. } => assert_eq!((lo, hi), (256.0, 1024.0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn writes_are_checked_against_the_running_release() {
    let t = shipped();
    let gpu = h100();
    let printed = BTreeMap::new();
    let check = |ver: Option<&str>, flag: &str, value: &str| {
        let version = ver.map(v);
        let setup = Setup {
            engine: t.engine("vllm").unwrap(),
            version: version.as_ref(),
            printed: &printed,
            container: None,
            gpu: &gpu,
        };
        setup.check_write(flag, value)
    };
    assert!(check(Some("0.13.0"), "--max-model-len", "auto").unwrap_err().contains(">=0.14.0"));
    assert!(check(Some("0.14.0"), "--max-model-len", "auto").is_ok());
    assert!(check(None, "--max-model-len", "auto").unwrap_err().contains("version is unknown"));
    assert!(check(None, "--max-model-len", "20144").is_ok());
    assert!(check(Some("0.18.0"), "--swap-space", "4").unwrap_err().contains("removed in 0.18.0"));
    assert!(check(Some("0.17.1"), "--swap-space", "4").is_ok());
    assert!(check(Some("0.34.0"), "--gpu-memory-utilization", "1.2").is_err());
    assert!(check(Some("0.34.0"), "--gpu-memory-utilization", "0").is_err());
    assert!(check(Some("0.34.0"), "--no-such-flag", "1").is_err());
    assert!(check(Some("0.34.0"), "--max-num-seqs", "12.5").is_err());
    let setup = Setup {
        engine: t.engine("sglang").unwrap(),
        version: Some(&v("0.5.14")),
        printed: &printed,
        container: None,
        gpu: &gpu,
    };
    assert!(setup.check_write("--disable-cuda-graph", "true").is_err(), "a switch takes no value");
}

#[test]
fn moves_are_checked_against_the_effective_value() {
    let t = shipped();
    let gpu = h100();
    let printed = BTreeMap::new();
    let versions: Vec<Version> = vec![v("0.13.0"), v("0.34.0")];
    let setup = |ver: &str| Setup {
        engine: t.engine("vllm").unwrap(),
        version: versions.iter().find(|x| x.to_string() == ver),
        printed: &printed,
        container: None,
        gpu: &gpu,
    };
    assert!(setup("0.13.0").check_move("--gpu-memory-utilization", 0.95, true).is_ok());
    let e = setup("0.34.0").check_move("--gpu-memory-utilization", 0.95, true).unwrap_err();
    assert!(e.contains("would not raise") && e.contains("1 (default"), "{e}");
    assert!(setup("0.34.0").check_move("--max-num-seqs", 512.0, false).is_ok());
    assert!(setup("0.34.0").check_move("--max-num-seqs", 1024.0, false).is_err());
    let e = setup("0.34.0").check_move("--max-model-len", 1000.0, false).unwrap_err();
    assert!(e.contains("cannot tell"), "{e}");
}

#[test]
fn printed_settings_win_and_no_switches_count_as_set() {
    let t = shipped();
    let gpu = h100();
    let printed = BTreeMap::from([("mem_fraction_static".to_owned(), "0.871".to_owned())]);
    let s = Setup { engine: t.engine("sglang").unwrap(), version: None, printed: &printed, container: None, gpu: &gpu };
    assert_eq!(exact(&s.effective("--mem-fraction-static")), 0.871);
    let empty = BTreeMap::new();
    let s = Setup {
        engine: t.engine("sglang").unwrap(),
        version: Some(&v("0.5.23")),
        printed: &empty,
        container: None,
        gpu: &gpu,
    };
    assert!(matches!(s.effective("--mem-fraction-static"), Effective::Unknown(w) if w.contains("computes")));
    let printed = BTreeMap::from([("enable_extensible_kv_cache".to_owned(), "false".to_owned())]);
    let s = Setup {
        engine: t.engine("vllm").unwrap(),
        version: Some(&v("0.34.0")),
        printed: &printed,
        container: None,
        gpu: &gpu,
    };
    assert_eq!(exact(&s.effective("--gpu-memory-utilization")), 0.92);
}

fn problems(file: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/engines-broken").join(file);
    match EngineTable::load(&[&path]) {
        Ok(_) => panic!("{file} should not compile"),
        Err(p) => p.0.iter().map(|x| x.to_string()).collect(),
    }
}

#[test]
fn a_broken_table_reports_every_problem_with_its_location_and_a_hint() {
    let ps = problems("table.yaml");
    let expect = [
        (":2:9: unknown engine `vlm`", "did you mean `vllm`?"),
        (":5:11: releases: `0.13.0` is not after the one before", "oldest first"),
        (":8:11: flag `--max-model-len`: unknown type `integer`", "did you mean `int`?"),
        (
            ":9:13: flag `--max-model-len`: source `vllm/engine/arg_utils.py` does not cite a file and release",
            "@ 0.14.0",
        ),
        (":11:12: flag `--max-model-len`: `until` 0.2.0 is not after `since` 0.14.0", ""),
        ("form `auto`: since: `zero.fourteen` is not a version", "quoted"),
        ("default: 1.5 is above 1", ""),
        ("default: needs `value` or `computed`", "computed"),
        ("`--gpu-memory-utilization` is defined twice", "first at line 17"),
        ("`unset` names unknown flag `--kv-cache-memory-byte`", ""),
    ];
    for (what, hint) in expect {
        assert!(ps.iter().any(|p| p.contains(what) && p.contains(hint)), "missing {what:?} in:\n{}", ps.join("\n"));
    }
    assert!(ps.iter().all(|p| p.contains("table.yaml:")), "{ps:?}");
    let ps = problems("shape.yaml");
    assert!(ps[0].contains("shape.yaml:9:5: unknown field `defualts`"), "{ps:?}");
}

#[test]
fn every_row_of_the_shipped_table_cites_a_file_and_release() {
    let t = shipped();
    assert!(t.engines().len() >= 4);
    for e in t.engines() {
        for f in &e.flags {
            for s in std::iter::once(&f.source)
                .chain(f.defaults.iter().map(|d| &d.source))
                .chain(f.forms.iter().map(|x| &x.source))
            {
                let (file, release) = s.rsplit_once(" @ ").unwrap_or_else(|| panic!("{}: {s}", f.flag));
                assert!(!file.is_empty() && Version::parse(release).is_some(), "{}: {s}", f.flag);
            }
        }
    }
}

#[test]
fn playbooks_writing_a_flag_the_table_lacks_are_refused() {
    let pb = r#"
playbooks:
  - id: bad
    title: t
    match: { class: gpu-oom, servers: [vllm] }
    risk: medium
    steps:
      - id: s
        action: { type: set-arg, flag: --max-num-seq, value: "8" }
    verify: { ready_within_seconds: 1, no_restart_for_seconds: 1 }
  - id: unnamed
    title: t
    match: { class: gpu-oom }
    risk: medium
    params:
      cur: { type: int, from: [effective.--max-num-seqs] }
    steps:
      - id: s
        action: { type: set-arg, flag: --max-num-seqs, value: "${cur}" }
    verify: { ready_within_seconds: 1, no_restart_for_seconds: 1 }
"#;
    let err = crate::playbook::PlaybookSet::compile([(Path::new("pb.yaml"), pb)]).unwrap_err().to_string();
    assert!(err.contains("pb.yaml:9:") && err.contains("`--max-num-seq`, which the vLLM table does not know"), "{err}");
    assert!(err.contains("did you mean `--max-num-seqs`?"), "{err}");
    assert!(err.contains("playbook `unnamed`") && err.contains("names no servers"), "{err}");
}

#[test]
fn llama_cpp_build_lines_of_several_eras_resolve() {
    for (line, want) in [
        ("build: 4567 (1a2b3c4d) with cc (Debian 12.2.0-14) 12.2.0 for x86_64-linux-gnu", "4567"),
        ("main: build = 1722 (8d1d1e3) with cc for x86_64-linux-gnu", "1722"),
        ("version: 5123 (ab12cd34)", "5123"),
        (
            "0.00.000.412 T cmn  common_param: common_params_print_info: build 11434 (9f3e2d1c) with cc for x86_64",
            "11434",
        ),
        ("version: b11434-9f3e2d1c (build 11434, commit 9f3e2d1c)", "11434"),
    ] {
        let f = read_head(line.as_bytes());
        assert_eq!((f.engine, f.version.map(|v| v.to_string())), (Some("llama.cpp"), Some(want.to_owned())), "{line}");
    }
}

#[test]
fn a_settings_dump_cut_at_16_kib_keeps_its_whole_entries() {
    let mut line =
        String::from("[2026-12-04 10:00:01] server_args=ServerArgs(model_path='m', mem_fraction_static=0.871");
    for i in 0..2000 {
        line.push_str(&format!(", field_{i}='{}'", "x".repeat(8)));
    }
    line.push(')');
    assert!(line.len() > crate::logtext::MAX_LINE_BYTES);
    let f = read_head(line.as_bytes());
    assert_eq!(f.engine, Some("sglang"));
    assert_eq!(f.settings["mem_fraction_static"], "0.871");
    assert!(f.settings.values().all(|v| v == "m" || v == "0.871" || v == "xxxxxxxx"), "no cut value is kept");
}

proptest! {
    #[test]
    fn any_log_head_is_read_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let f = read_head(&bytes);
        prop_assert!(f.settings.len() <= 512);
    }

    #[test]
    fn banner_lines_survive_noise_around_them(
        prefix in "[ -~]{0,40}",
        ver in (0u64..2, 0u64..60, 0u64..10),
        noise in proptest::collection::vec("[ -~]{0,80}", 0..20),
    ) {
        let version = format!("{}.{}.{}", ver.0, ver.1, ver.2);
        let mut text = noise.join("\n");
        text.push_str(&format!("\n{prefix} vLLM API server version {version}\n"));
        let f = read_head(text.as_bytes());
        // Noise might hold a banner too; only the first counts, so check the lone-banner case.
        if !noise.iter().any(|n| n.contains("version") || n.contains("build")) && !prefix.contains("version") && !prefix.contains("build") {
            prop_assert_eq!(f.version.map(|v| v.to_string()), Some(Version::parse(&version).unwrap().to_string()));
        }
    }

    #[test]
    fn versions_round_trip_and_order_consistently(a in (0u64..100, 0u64..100, 0u64..100), b in (0u64..100, 0u64..100, 0u64..100)) {
        let va = Version::parse(&format!("{}.{}.{}", a.0, a.1, a.2)).unwrap();
        let vb = Version::parse(&format!("v{}.{}.{}", b.0, b.1, b.2)).unwrap();
        prop_assert_eq!(Version::parse(&va.to_string()).unwrap(), va.clone());
        prop_assert_eq!(va.cmp(&vb), a.cmp(&b));
        let rc = Version::parse(&format!("{}rc1", va)).unwrap();
        prop_assert!(rc < va);
    }

    #[test]
    fn any_text_is_parsed_or_refused_as_a_version_image_or_settings(s in "\\PC{0,80}") {
        let _ = Version::parse(&s);
        for e in ["vllm", "sglang", "tgi", "llama.cpp", "other"] {
            let _ = version_from_image(e, &s);
        }
        let _ = detect::parse_settings(&s);
    }
}
