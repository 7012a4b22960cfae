//! No input crashes podmedic: property tests over every path by which
//! outside text enters the process (issue 11, "no input crashes podmedic").
//!
//! | input | entry points exercised |
//! |---|---|
//! | container logs | `logtext::normalize_line`, `logtext::read_tail` |
//! | a whole crash | `diagnose` (signature scan + classifier + fusion) on arbitrary bytes |
//! | `patterns/` and `playbooks/` YAML | `SignatureSet::compile`, `PlaybookSet::compile` on arbitrary and mutated files |
//! | decision annotations | `approval::decision_from_annotations` |
//! | ChatOps payloads and headers | `parse_slack_interaction`, `parse_webhook_decision`, `verify_slack`, `verify_podmedic`, approver lists and the approvers file |
//! | pod, Events, workload and node JSON | `ContainerFacts::from_pod`, `triage::evidence`, `watch::crash_of`, `gather::may_be_probe_kill`, `Workload::from_value`, `PlaybookSet::plan` for every class |
//!
//! Each property also checks what must hold of the output, not only that
//! nothing panics. Case counts are small so the whole file runs in
//! seconds in CI; `PROPTEST_CASES=5000 cargo test --test no_panic` runs
//! longer, and `fuzz/` (cargo-fuzz) runs the same paths for hours.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use podmedic::approval::decision_from_annotations;
use podmedic::class::FailureClass;
use podmedic::diagnosis::{Diagnosis, FusionConfig, Source, diagnose};
use podmedic::evidence::{ContainerFacts, EventFacts, Evidence};
use podmedic::logtext::{self, MAX_LINE_BYTES, normalize_line, read_tail};
use podmedic::playbook::{NodeInfo, PlanContext, PlaybookSet};
use podmedic::signatures::SignatureSet;
use proptest::prelude::*;
use serde_json::{Value, json};

/// `PROPTEST_CASES` when set, else `n`.
fn cases(n: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(n);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn signatures() -> &'static SignatureSet {
    static S: OnceLock<SignatureSet> = OnceLock::new();
    S.get_or_init(|| SignatureSet::embedded_lazy().expect("the embedded library loads"))
}

fn playbooks() -> &'static PlaybookSet {
    static P: OnceLock<PlaybookSet> = OnceLock::new();
    P.get_or_init(|| PlaybookSet::embedded().expect("the embedded playbooks load"))
}

fn model() -> &'static podmedic::classifier::ModelClassifier {
    static M: OnceLock<podmedic::classifier::ModelClassifier> = OnceLock::new();
    M.get_or_init(|| {
        podmedic::classifier::load_default(podmedic::classifier::DeviceChoice::Cpu).expect("the built-in model loads")
    })
}

fn unsafe_free(s: &str) -> bool {
    !s.chars().any(podmedic::sanitize::is_unsafe)
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// Pieces real logs are made of, and the pieces that break parsers:
/// timestamp and CRI prefixes, ANSI, JSON, CJK and other multi-byte text,
/// bidi controls, NULs, and lines that match signatures.
const LOG_PIECES: &[&str] = &[
    "2026-01-01T00:00:00.000000000Z stdout F ",
    "2026-11-27T18:01:04.12345678Z ",
    "2026-11-27T18:01:04Z",
    "2026-",
    " stderr P ",
    "\x1b[31m",
    "\x1b[0m",
    "\x1b]0;title\x07",
    "\x1b",
    "\r",
    "\t",
    "\0",
    "{\"msg\":\"",
    "{\"level\":\"error\",\"message\":\"",
    "\",\"exc_info\":\"Traceback\\nValueError: x\"}",
    "\"}",
    "\\u001b[31m",
    "{",
    "}",
    "日本語のログ",
    "模型加载失败，显存不足",
    "é",
    "👩‍👩‍👧",
    "\u{202e}",
    "\u{2028}",
    "\u{fffd}",
    "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20144).",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
    "NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.",
    "RuntimeError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1970, unhandled system error",
    "CUDA driver version is insufficient for CUDA runtime version",
    "No available memory for the cache blocks",
    "Killed",
    "error: unrecognized arguments: --foo",
    "huggingface_hub.errors.GatedRepoError: 401 Client Error",
    "RuntimeError: No CUDA GPUs are available",
];

fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::sample::select(LOG_PIECES).prop_map(|s| s.as_bytes().to_vec()),
        2 => "\\PC{0,40}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>(), 0..40),
        1 => Just(b"\n".to_vec()),
        1 => (1usize..200).prop_map(|n| "x".repeat(n).into_bytes()),
    ]
}

/// Log text: pieces glued into lines, then cut at any byte (possibly in the
/// middle of a character).
fn log_bytes() -> impl Strategy<Value = Vec<u8>> {
    (proptest::collection::vec((piece(), any::<bool>()), 0..60), any::<prop::sample::Index>()).prop_map(
        |(pieces, cut)| {
            let mut out = Vec::new();
            for (p, newline) in pieces {
                out.extend_from_slice(&p);
                if newline {
                    out.push(b'\n');
                }
            }
            let keep = if out.is_empty() { 0 } else { cut.index(out.len() + 1) };
            out.truncate(keep.max(out.len().saturating_sub(8)));
            out
        },
    )
}

/// An arbitrary JSON value, leaves biased to what breaks Kubernetes types
/// (quantities, huge numbers, empty and multi-byte strings).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(0), Just(-1), Just(137), Just(1 << 53)].prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        proptest::sample::select(
            &[
                "",
                "0",
                "-1",
                "1e308",
                "1e999Gi",
                "512Mi",
                "9999999999999999999Ei",
                "0.0000001m",
                ".",
                "Gi",
                "1.5G",
                "NaN",
                "vllm",
                "--max-model-len",
                "32768",
                "--max-model-len=abc",
                "CrashLoopBackOff",
                "OOMKilled",
                "Error",
                "日本語",
                "nvidia.com/gpu",
                "apps/v1",
                "Deployment",
                "ReplicaSet",
                "true",
            ][..]
        )
        .prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON Pointer in `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(c, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// `base` with up to six places replaced by arbitrary values or removed.
fn mutated(base: Value) -> impl Strategy<Value = Value> {
    proptest::collection::vec((any::<prop::sample::Index>(), json_value(), any::<bool>()), 0..6).prop_map(
        move |edits| {
            let mut v = base.clone();
            for (at, new, remove) in edits {
                let mut ptrs = Vec::new();
                pointers(&v, String::new(), &mut ptrs);
                let ptr = &ptrs[at.index(ptrs.len())];
                if ptr.is_empty() {
                    continue;
                }
                let (parent, key) = ptr.rsplit_once('/').unwrap_or(("", ptr));
                let key = key.replace("~1", "/").replace("~0", "~");
                match v.pointer_mut(parent) {
                    Some(Value::Object(m)) if remove => {
                        m.remove(&key);
                    }
                    Some(Value::Array(a)) if remove => {
                        if let Ok(i) = key.parse::<usize>()
                            && i < a.len()
                        {
                            a.remove(i);
                        }
                    }
                    _ => {
                        if let Some(slot) = v.pointer_mut(ptr) {
                            *slot = new;
                        }
                    }
                }
            }
            v
        },
    )
}

fn pod_json() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "llm-0", "namespace": "team-a", "uid": "pod-uid",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "llm-7d9f", "uid": "rs-uid", "controller": true}]},
        "spec": {"nodeName": "gpu-h100-535", "containers": [{
            "name": "vllm", "image": "vllm/vllm-openai:v0.6.3",
            "args": ["--model", "m", "--max-model-len", "32768"],
            "resources": {"limits": {"memory": "24Gi", "nvidia.com/gpu": "1"}, "requests": {"cpu": "4"}},
            "startupProbe": {"httpGet": {"path": "/health", "port": 8000}, "periodSeconds": 10, "failureThreshold": 30}
        }, {"name": "sidecar", "image": "busybox"}]},
        "status": {"containerStatuses": [{
            "name": "vllm", "image": "x", "imageID": "", "ready": false, "restartCount": 3,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled",
                "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:05:00Z"}}
        }]}
    })
}

fn event_json() -> Value {
    json!({
        "metadata": {"name": "e1", "namespace": "team-a"},
        "involvedObject": {"kind": "Pod", "name": "llm-0", "namespace": "team-a"},
        "type": "Warning", "reason": "Unhealthy", "count": 12,
        "message": "Startup probe failed: Get \"http://10.0.0.1:8000/health\": dial tcp: connect: connection refused",
        "lastTimestamp": "2026-01-01T00:04:00Z"
    })
}

fn workload_fixtures() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workloads");
    let mut out: Vec<Value> = std::fs::read_dir(&dir)
        .expect("workload fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| podmedic::yaml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap())
        .collect();
    out.sort_by_key(|v: &Value| v.to_string());
    out
}

/// Capture names the playbooks read, with hostile or odd values.
fn captures() -> impl Strategy<Value = BTreeMap<String, String>> {
    let names = [
        "kv_tokens",
        "max_seq_len",
        "est_max_len",
        "prefill_tokens",
        "xid",
        "pci",
        "driver_version",
        "found_driver",
        "required_driver",
        "required_cuda",
        "tried_gib",
        "model",
    ];
    let values = prop_oneof![
        Just(String::new()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("1e309".to_owned()),
        Just("NaN".to_owned()),
        Just("20144".to_owned()),
        Just("12.8".to_owned()),
        Just("535.129.03".to_owned()),
        "[0-9.]{0,12}",
        "\\PC{0,16}",
    ];
    proptest::collection::btree_map(proptest::sample::select(names.to_vec()).prop_map(str::to_owned), values, 0..6)
}

fn node_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    let keys = [
        "memory",
        "cpu",
        "nvidia.com/gpu",
        "nvidia.com/cuda.driver.major",
        "nvidia.com/cuda.driver.minor",
        "nvidia.com/cuda.driver-version.full",
        "nvidia.com/cuda.runtime.major",
        "nvidia.com/gpu.product",
        "nvidia.com/gpu.memory",
        "kubernetes.io/hostname",
    ];
    let values = prop_oneof![
        Just("1900Gi".to_owned()),
        Just("570".to_owned()),
        Just("12.8".to_owned()),
        Just(String::new()),
        Just("1e999".to_owned()),
        "\\PC{0,12}",
    ];
    proptest::collection::btree_map(proptest::sample::select(keys.to_vec()).prop_map(str::to_owned), values, 0..6)
}

// ---------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(400))]

    /// The normaliser takes any bytes; its output is never longer than the
    /// (capped) input allows.
    #[test]
    fn normalize_line_takes_any_bytes(raw in log_bytes()) {
        let mut out = String::new();
        normalize_line(&raw, &mut out);
        prop_assert!(out.len() <= 3 * raw.len().min(MAX_LINE_BYTES) + 1);
    }

    /// The tail reader keeps the last lines, numbered, each at most
    /// MAX_LINE_BYTES, whatever the input and the reader's buffer size.
    #[test]
    fn read_tail_keeps_the_last_lines(raw in log_bytes(), tail in 1usize..20, cap in 1usize..64, long in 0usize..3) {
        let mut raw = raw;
        for _ in 0..long {
            raw.extend(std::iter::repeat_n(b'y', MAX_LINE_BYTES + 7));
            raw.push(b'\n');
        }
        let t = read_tail(std::io::BufReader::with_capacity(cap, raw.as_slice()), tail).unwrap();
        let expected: Vec<&[u8]> = {
            let mut ls: Vec<&[u8]> = raw.split(|b| *b == b'\n').collect();
            if raw.last() == Some(&b'\n') || raw.is_empty() {
                ls.pop();
            }
            ls
        };
        prop_assert_eq!(t.total_lines, expected.len());
        prop_assert!(t.lines.len() <= tail);
        prop_assert_eq!(t.lines.len(), expected.len().min(tail));
        prop_assert_eq!(t.first_line_no, expected.len() - t.lines.len() + 1);
        for (got, want) in t.lines.iter().zip(&expected[expected.len() - t.lines.len()..]) {
            prop_assert!(got.len() <= MAX_LINE_BYTES);
            prop_assert_eq!(&got[..], &want[..want.len().min(MAX_LINE_BYTES)]);
        }
    }
}

// ---------------------------------------------------------------------------
// The whole diagnosis
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(48))]

    /// `diagnose` (signatures, classifier, fusion) on any log, with any pod
    /// facts: a valid class and confidence, evidence lines from the log,
    /// and no text that could add a line to an Event or a terminal.
    #[test]
    fn diagnose_takes_any_log(raw in log_bytes(), pod in mutated(pod_json()), events in proptest::collection::vec(mutated(event_json()), 0..3)) {
        let tail = read_tail(raw.as_slice(), 200).unwrap();
        let pod: Option<k8s_openapi::api::core::v1::Pod> = serde_json::from_value(pod).ok();
        let events: Vec<k8s_openapi::api::core::v1::Event> =
            events.into_iter().filter_map(|e| serde_json::from_value(e).ok()).collect();
        let ev = podmedic::triage::evidence(tail, pod.as_ref(), &events);
        let total = ev.log.total_lines;
        for model in [None, Some(model() as &dyn podmedic::diagnosis::Classifier)] {
            let d = diagnose(&ev, signatures(), model, &FusionConfig::default());
            prop_assert!(FailureClass::ALL.contains(&d.class));
            prop_assert!((0.0..=1.0).contains(&d.confidence), "{}", d.confidence);
            prop_assert!(unsafe_free(&d.summary), "{:?}", d.summary);
            for e in &d.evidence {
                prop_assert!(e.line <= total);
                prop_assert!(unsafe_free(&e.text), "{:?}", e.text);
            }
            for v in d.captures.values() {
                prop_assert!(unsafe_free(v), "{:?}", v);
            }
            let _ = ev.probe_kill();
        }
    }
}

// ---------------------------------------------------------------------------
// The signature and playbook loaders
// ---------------------------------------------------------------------------

/// Text from `files`, mutated: byte ranges deleted, YAML-significant pieces
/// inserted, lines duplicated; cut at any byte (lossily re-read).
fn mutated_text(files: &'static [&'static str]) -> impl Strategy<Value = String> {
    const YAML_PIECES: &[&str] = &[
        ": ",
        "- ",
        "{",
        "}",
        "[",
        "]",
        "'",
        "\"",
        "&a ",
        "*a",
        "!!binary ",
        "<<: *a\n",
        "\t",
        "\n---\n",
        "%YAML 1.2\n",
        "日本",
        "1e999",
        "-0",
        "null",
        "~",
        "? ",
        "|\n",
        ">-\n",
        "#",
        "\\u0000",
        "(?P<x>",
        ")",
        "{x}",
        "(?",
        "\\",
        "weight: 2.5\n",
        "class: gpu-om\n",
        "regex: '('\n",
        "anchors: []\n",
        "steps: []\n",
        "after: [a]\n",
    ];
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), any::<prop::sample::Index>()).prop_map(|(a, b)| (0u8, a, b, String::new())),
        (any::<prop::sample::Index>(), proptest::sample::select(YAML_PIECES)).prop_map(|(a, p)| (
            1u8,
            a,
            a,
            p.to_owned()
        )),
        (any::<prop::sample::Index>(), "\\PC{0,12}").prop_map(|(a, p)| (1u8, a, a, p)),
        any::<prop::sample::Index>().prop_map(|a| (2u8, a, a, String::new())),
    ];
    (proptest::sample::select(files), proptest::collection::vec(edit, 0..5), any::<prop::sample::Index>()).prop_map(
        |(text, edits, cut)| {
            let mut b = text.as_bytes().to_vec();
            for (kind, a, z, piece) in edits {
                if b.is_empty() {
                    b.extend_from_slice(piece.as_bytes());
                    continue;
                }
                let i = a.index(b.len());
                match kind {
                    0 => {
                        let j = (i + z.index(200)).min(b.len());
                        b.drain(i..j);
                    }
                    1 => {
                        b.splice(i..i, piece.bytes());
                    }
                    _ => {
                        let start = b[..i].iter().rposition(|c| *c == b'\n').map_or(0, |p| p + 1);
                        let end = b[i..].iter().position(|c| *c == b'\n').map_or(b.len(), |p| i + p + 1);
                        let line = b[start..end].to_vec();
                        b.splice(end..end, line);
                    }
                }
            }
            if cut.index(4) == 0 && !b.is_empty() {
                b.truncate(cut.index(b.len()));
            }
            String::from_utf8_lossy(&b).into_owned()
        },
    )
}

static PATTERN_FILES: &[&str] = &[
    include_str!("../patterns/vllm.yaml"),
    include_str!("../patterns/nvidia.yaml"),
    include_str!("../patterns/config.yaml"),
    include_str!("../patterns/linux.yaml"),
];
static PLAYBOOK_FILES: &[&str] = &[
    include_str!("../playbooks/kv-cache-oom.yaml"),
    include_str!("../playbooks/host-oom.yaml"),
    include_str!("../playbooks/config-error.yaml"),
    include_str!("../playbooks/gpu-hardware-fault.yaml"),
    include_str!("../playbooks/cuda-driver-mismatch.yaml"),
];

fn located(problems: &podmedic::problem::Problems, file: &str) -> bool {
    let text = problems.to_string();
    !text.is_empty() && text.lines().all(|l| l.starts_with(file))
}

proptest! {
    #![proptest_config(cases(48))]

    /// Any text as a signature file: it loads, or every problem is
    /// reported with its file and position.
    #[test]
    fn signature_loader_takes_any_text(text in prop_oneof![mutated_text(PATTERN_FILES), "\\PC{0,300}"]) {
        if let Err(problems) = SignatureSet::compile([(Path::new("p.yaml"), text.as_str())]) {
            prop_assert!(located(&problems, "p.yaml:"), "{problems}");
        }
    }

    /// Any text as a playbook file: it loads, or every problem is reported
    /// with its file and position.
    #[test]
    fn playbook_loader_takes_any_text(text in prop_oneof![mutated_text(PLAYBOOK_FILES), "\\PC{0,300}"]) {
        if let Err(problems) = PlaybookSet::compile([(Path::new("b.yaml"), text.as_str())]) {
            prop_assert!(located(&problems, "b.yaml:"), "{problems}");
        }
    }
}

// ---------------------------------------------------------------------------
// Decision annotations and ChatOps input
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(400))]

    /// Any annotations: a decision is only ever `approve`/`reject` said
    /// exactly, and a recorded name is bounded and single-line.
    #[test]
    fn annotations_never_forge_a_decision(
        decision in prop_oneof![Just("approve".to_owned()), Just(" reject ".to_owned()), "\\PC{0,300}", ".{0,8}"],
        by in proptest::option::of(prop_oneof!["\\PC{0,300}", ".{0,300}", "[a-z\n\r\u{202e}]{0,20}"]),
        extra in proptest::collection::btree_map("\\PC{0,20}", "\\PC{0,20}", 0..4),
    ) {
        let mut ann: BTreeMap<String, String> = extra;
        ann.insert(podmedic::crd::DECISION_ANNOTATION.to_owned(), decision.clone());
        if let Some(by) = &by {
            ann.insert(podmedic::crd::DECIDED_BY_ANNOTATION.to_owned(), by.clone());
        }
        match decision_from_annotations(&ann) {
            Ok(Some(r)) => {
                prop_assert!(matches!(decision.trim(), "approve" | "approved" | "reject" | "rejected"));
                prop_assert!(r.by.len() <= 256 && !r.by.chars().any(char::is_control));
            }
            Ok(None) => prop_assert!(false, "the decision annotation is set"),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    /// Any header values and bodies: nothing verifies without the secret;
    /// a correctly signed body of any bytes verifies and then parses (or is
    /// refused) without panicking.
    #[test]
    fn chatops_headers_and_bodies(
        ts in proptest::collection::vec(any::<u8>(), 0..24),
        sig in proptest::collection::vec(any::<u8>(), 0..80),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        now in any::<i64>(),
    ) {
        use podmedic::chatops::{payload, signing};
        // Header values as a server sees them: bytes, valid text or not.
        let as_header = |b: &[u8]| http::HeaderValue::from_bytes(b).ok().and_then(|v| v.to_str().ok().map(str::to_owned));
        let (ts_h, sig_h) = (as_header(&ts), as_header(&sig));
        prop_assert!(signing::verify_slack(b"secret", ts_h.as_deref(), sig_h.as_deref(), &body, now).is_err());
        prop_assert!(signing::verify_podmedic(b"secret", ts_h.as_deref(), sig_h.as_deref(), &body, now).is_err());
        let stamp = "1700000000";
        let good = signing::slack_signature(b"secret", stamp, &body);
        prop_assert!(signing::verify_slack(b"secret", Some(stamp), Some(&good), &body, 1_700_000_010).is_ok());
        if let Ok(i) = payload::parse_slack_interaction(&body) {
            prop_assert!(payload::is_slack_id(&i.user_id));
        }
        if let Ok(d) = payload::parse_webhook_decision(&body) {
            prop_assert!(payload::is_user_name(&d.user));
        }
    }

    /// Any approver lists, user mappings and approvers files: parsed, or
    /// refused with the entry named.
    #[test]
    fn approver_lists_and_files(text in prop_oneof!["\\PC{0,120}", "[a-z*=,;|U0-9 \n]{0,60}"], file in prop_oneof![
        "\\PC{0,200}",
        mutated_text(&[include_str!("fixtures/chatops/approvers.yaml")]),
    ]) {
        use podmedic::chatops::policy;
        if let Ok(a) = policy::Approvers::parse(&text) {
            let _ = a.wildcard_namespaces();
        }
        if let Ok(ids) = policy::parse_identities(&text) {
            for id in ids.values() {
                prop_assert!(!id.user.is_empty() && !id.user.contains('|'));
            }
        }
        if let Ok(f) = policy::ApproversFile::parse(&file) {
            let _ = f.approvers();
            let _ = f.identities();
        }
    }
}

// ---------------------------------------------------------------------------
// Pod, Event, workload and node JSON into evidence and planning
// ---------------------------------------------------------------------------

fn any_class() -> impl Strategy<Value = FailureClass> {
    proptest::sample::select(FailureClass::ALL.to_vec())
}

proptest! {
    #![proptest_config(cases(160))]

    /// Any pod and Events: the facts read from them name the pod's own
    /// containers.
    #[test]
    fn pods_and_events_into_evidence(pod in mutated(pod_json()), event in mutated(event_json())) {
        use k8s_openapi::api::core::v1::{Event, Pod};
        if let Ok(pod) = serde_json::from_value::<Pod>(pod) {
            let names: Vec<String> =
                pod.spec.as_ref().map(|s| s.containers.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
            if let Some(f) = ContainerFacts::from_pod(&pod, None) {
                prop_assert!(names.contains(&f.name));
            }
            let _ = ContainerFacts::from_pod(&pod, Some("vllm"));
            if let Some(c) = podmedic::controller::watch::crash_of(&pod, 2) {
                let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
                prop_assert!(statuses.iter().any(|s| s.name == c.container));
            }
            let _ = podmedic::controller::gather::may_be_probe_kill(&pod, "vllm");
        }
        if let Ok(event) = serde_json::from_value::<Event>(event) {
            let facts = EventFacts::from(&event);
            let ev = Evidence { events: vec![facts], ..Evidence::default() };
            let _ = ev.probe_kill();
            let _ = ev.probe_failure_message();
        }
    }

    /// Any workload (mutated from the fixtures), node and captures, for
    /// every class: a plan renders or none does; a rendered plan serialises
    /// and prints.
    #[test]
    fn workloads_and_nodes_into_plans(
        workload in proptest::sample::select(workload_fixtures()).prop_flat_map(mutated),
        class in any_class(),
        captures in captures(),
        labels in node_map(),
        allocatable in node_map(),
        candidates in proptest::collection::vec(node_map(), 0..3),
        pod in mutated(pod_json()),
    ) {
        let w = podmedic::actions::workload::Workload::from_value(workload).ok();
        let pod: Option<k8s_openapi::api::core::v1::Pod> = serde_json::from_value(pod).ok();
        let ev = Evidence {
            container: pod.as_ref().and_then(|p| ContainerFacts::from_pod(p, None)),
            node_labels: labels,
            ..Evidence::default()
        };
        let mut ctx = PlanContext::from_evidence(&ev, chrono::Utc::now());
        ctx.node_allocatable = allocatable;
        ctx.candidate_nodes =
            candidates.into_iter().enumerate().map(|(i, labels)| NodeInfo { name: format!("n{i}"), labels }).collect();
        // A diagnosis of `class` with the given captures (built from a real
        // one, so that new fields keep their defaults).
        let mut d: Diagnosis = diagnose(&Evidence::default(), signatures(), None, &FusionConfig::default());
        d.class = class;
        d.confidence = 0.97;
        d.source = Source::Signature;
        d.captures = captures;
        if let Some(plan) = playbooks().plan(&d, w.as_ref(), &ctx) {
            prop_assert!(!plan.to_text().is_empty());
            prop_assert!(serde_json::to_value(&plan).is_ok());
        }
    }
}

/// The regression behind this file: one log line (a timestamp prefix, then
/// a multi-byte character across byte 40) panicked the normaliser, and so
/// triage and the controller.
#[test]
fn the_line_that_crashed_podmedic() {
    let line = "2026-11-27T18:01:04.12345678Z 模型加载失败，显存不足";
    let tail = logtext::LogTail::from_text(&format!("{line}\n"), 10);
    let d =
        diagnose(&Evidence { log: tail, ..Evidence::default() }, signatures(), Some(model()), &FusionConfig::default());
    assert!(FailureClass::ALL.contains(&d.class));
}
