use super::*;
use crate::logtext::LogTail;

const LIB: &str = r#"
signatures:
  - id: kv-max-seq
    class: kv-cache-oom
    subclass: max-model-len-exceeds-kv-capacity
    title: "max-model-len does not fit"
    summary: "needs {max_seq_len} tokens but only {kv_tokens} fit"
    servers: [vllm]
    anchors: ["can be stored in KV cache"]
    regex: 'max seq len \((?P<max_seq_len>\d+)\) is larger than the maximum number of tokens that can be stored in KV cache \((?P<kv_tokens>\d+)\)'
    weight: 0.97
    references: ["https://example.org/vllm"]
    examples:
      match:
        - line: "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20144)."
          captures: { max_seq_len: "32768", kv_tokens: "20144" }
      no_match:
        - "INFO # GPU blocks: 2725"
  - id: cuda-oom
    class: gpu-oom
    subclass: cuda-oom
    title: "CUDA out of memory"
    servers: [pytorch]
    anchors: ["CUDA out of memory", "OutOfMemoryError"]
    regex: '(?i)CUDA out of memory(?:\. Tried to allocate (?P<tried_gib>[\d.]+) GiB)?'
    weight: 0.9
    references: ["https://example.org/torch"]
    examples:
      match: ["torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"]
      no_match: ["INFO using 90% of GPU memory"]
"#;

fn set() -> SignatureSet {
    SignatureSet::compile([(Path::new("lib.yaml"), LIB)]).unwrap()
}

fn ids(set: &SignatureSet, text: &str) -> Vec<(usize, String)> {
    let tail = LogTail::from_text(text, 1000);
    set.scan_tail(&tail).into_iter().map(|h| (h.line_no, set.signatures()[h.signature].id.clone())).collect()
}

#[test]
fn matches_with_line_numbers_and_captures() {
    let s = set();
    let log = "INFO starting\nINFO loading\nValueError: The model's max seq len (4096) is larger than the maximum number of tokens that can be stored in KV cache (2048).\nnoise\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.50 GiB\n";
    let tail = LogTail::from_text(log, 1000);
    let hits = s.scan_tail(&tail);
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].line_no, 3);
    assert_eq!(hits[0].captures["kv_tokens"], "2048");
    assert_eq!(hits[1].line_no, 5);
    assert_eq!(hits[1].captures["tried_gib"], "1.50");
    assert_eq!(s.signatures()[0].render_summary(&hits[0].captures), "needs 4096 tokens but only 2048 fit");
}

#[test]
fn anchors_are_case_insensitive_but_regex_decides() {
    let s = set();
    assert_eq!(ids(&s, "cuda OUT OF MEMORY"), vec![(1, "cuda-oom".to_owned())]);
    // Anchor present, regex not satisfied: no hit.
    assert!(ids(&s, "can be stored in KV cache, nothing else").is_empty());
}

#[test]
fn sees_through_timestamps_ansi_json_and_crlf() {
    let s = set();
    let log = concat!(
        "2026-01-01T00:00:00.000000000Z stderr F \x1b[31mtorch.OutOfMemoryError: CUDA \x1b[1mout of memory\x1b[0m\r\n",
        "{\"level\":\"error\",\"msg\":\"engine died\",\"exc_info\":\"Traceback\\nRuntimeError: CUDA out of memory\"}\n",
    );
    assert_eq!(ids(&s, log), vec![(1, "cuda-oom".to_owned()), (2, "cuda-oom".to_owned())]);
}

#[test]
fn invalid_utf8_and_huge_lines_do_not_panic() {
    let s = set();
    let mut buf = b"\xff\xfe CUDA out of memory \xc3\n".to_vec();
    buf.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES * 4));
    buf.extend_from_slice(b" CUDA out of memory ");
    buf.extend(std::iter::repeat_n(b'y', MAX_LINE_BYTES * 4));
    buf.push(b'\n');
    let mut scratch = s.scratch();
    assert_eq!(s.count_matching_lines(&buf, &mut scratch), 2);
}

#[test]
fn counts_each_line_once() {
    let s = set();
    let mut scratch = s.scratch();
    let log = b"CUDA out of memory OutOfMemoryError CUDA out of memory\nfine\nCUDA out of memory";
    assert_eq!(s.count_matching_lines(log, &mut scratch), 2);
}

fn problems(yaml: &str) -> Vec<String> {
    match SignatureSet::compile([(Path::new("bad.yaml"), yaml)]) {
        Ok(_) => panic!("expected problems"),
        Err(Problems(ps)) => ps.iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn every_problem_is_reported_with_its_location() {
    let yaml = LIB
        .replace("class: gpu-oom", "class: gpu-om")
        .replace("servers: [vllm]", "servers: [vlm]")
        .replace("weight: 0.97", "weight: 1.5")
        .replace(r"(?P<tried_gib>[\d.]+)", r"(?P<tried_gib>[\d.]+");
    let ps = problems(&yaml);
    assert!(ps.iter().any(|p| p.contains("unknown failure class `gpu-om`; did you mean `gpu-oom`")), "{ps:#?}");
    assert!(ps.iter().any(|p| p.contains("unknown server `vlm`") && p.contains("did you mean `vllm`")), "{ps:#?}");
    assert!(ps.iter().any(|p| p.contains("weight 1.5 is outside")), "{ps:#?}");
    assert!(ps.iter().any(|p| p.contains("regex does not compile")), "{ps:#?}");
    assert!(ps.iter().all(|p| p.starts_with("bad.yaml:") && !p.starts_with("bad.yaml:0:")), "{ps:#?}");
}

#[test]
fn failing_examples_are_load_errors() {
    let yaml = LIB
        .replace("match: [\"torch.OutOfMemoryError", "match: [\"an OOM happened\", \"torch.OutOfMemoryError")
        .replace("INFO using 90% of GPU memory", "CUDA out of memory");
    let ps = problems(&yaml);
    assert!(ps.iter().any(|p| p.contains("example does not match") && p.contains("none of the anchors")), "{ps:#?}");
    assert!(ps.iter().any(|p| p.contains("`no_match` example matches")), "{ps:#?}");
    let yaml = LIB.replace("kv_tokens: \"20144\"", "kv_tokens: \"1\"");
    assert!(problems(&yaml).iter().any(|p| p.contains("captures `kv_tokens`")));
}

#[test]
fn shape_errors_and_duplicates() {
    let ps = problems("signatures:\n  - id: x\n    bogus: 1\n");
    assert_eq!(ps.len(), 1);
    assert!(ps[0].starts_with("bad.yaml:3:") || ps[0].starts_with("bad.yaml:2:"), "{ps:?}");
    let doubled = format!("{LIB}{}", &LIB[LIB.find("  - id: cuda-oom").unwrap()..]);
    let ps = problems(&doubled);
    assert!(
        ps.iter().any(|p| p.contains("duplicate signature id `cuda-oom`") && p.contains("first defined at bad.yaml:")),
        "{ps:#?}"
    );
    let ps = problems(&LIB.replace("summary: \"needs {max_seq_len}", "summary: \"needs {max_seq}"));
    assert!(ps.iter().any(|p| p.contains("no such capture") && p.contains("did you mean `{max_seq_len}`")), "{ps:#?}");
}

#[test]
fn not_yaml_at_all() {
    let ps = problems("signatures: [\n");
    assert_eq!(ps.len(), 1);
    assert!(ps[0].starts_with("bad.yaml:"));
}

#[test]
fn the_lazy_library_matches_like_the_checked_one() {
    let checked = SignatureSet::embedded().expect("the embedded library compiles and its examples pass");
    let mut lazy = SignatureSet::embedded_lazy().unwrap();
    assert_eq!(checked.len(), lazy.len());
    let mut corpus = String::new();
    for dir in std::fs::read_dir("tests/fixtures/logs").unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(dir).unwrap() {
            corpus.push_str(&String::from_utf8_lossy(&std::fs::read(f.unwrap().path()).unwrap()));
        }
    }
    let hits = |set: &SignatureSet| {
        let mut out = Vec::new();
        let mut scratch = set.scratch();
        set.scan_with(corpus.as_bytes(), &mut scratch, |m| {
            out.push((m.line_start, m.signature, set.captures_of(m.signature, m.text, m.captures)))
        });
        out
    };
    let want = hits(&checked);
    assert!(want.len() > 50, "the fixture corpus should hit many signatures: {}", want.len());
    assert_eq!(want, hits(&lazy));
    // Released regexes compile again on demand.
    lazy.release_compiled();
    assert_eq!(want, hits(&lazy));
}

#[test]
fn a_long_running_set_keeps_no_examples_or_references() {
    let empty = |s: &Signature| s.examples.is_empty() && s.near_misses.is_empty() && s.references.is_empty();
    let checked = SignatureSet::embedded().unwrap();
    assert!(checked.signatures().iter().all(|s| !s.examples.is_empty() && !s.references.is_empty()));
    assert!(SignatureSet::embedded_lazy().unwrap().signatures().iter().all(empty));
    let mut released = checked.clone();
    released.release_compiled();
    assert!(released.signatures().iter().all(empty));
}

#[test]
fn unless_context_cancels_a_consequence_line() {
    let yaml = r#"
signatures:
  - id: bare-killed
    class: host-oom
    subclass: killed
    title: "Killed"
    servers: [linux]
    anchors: ["Killed"]
    regex: '(?:^|\s)Killed\s*$'
    weight: 0.65
    references: ["x"]
    unless: ["received SIGQUIT from a child"]
    examples:
      match: ["Killed"]
      no_match: ["Killed process 12 (python3)"]
"#;
    let set = SignatureSet::compile([(Path::new("t.yaml"), yaml)]).unwrap();
    let tail = |text: &str| crate::logtext::LogTail::from_text(text, 100);
    assert_eq!(set.scan_tail(&tail("loading shard 3/8\nKilled\n")).len(), 1);
    let sglang =
        "[2025-01-01 00:00:00] Received sigquit from a child process. It usually means the child failed.\nKilled\n";
    assert!(set.scan_tail(&tail(sglang)).is_empty());

    let short = yaml.replace("received SIGQUIT from a child", "abc");
    let err = SignatureSet::compile([(Path::new("t.yaml"), short.as_str())]).unwrap_err().to_string();
    assert!(err.contains("`unless` fragment"), "{err}");
}

/// Wave 28's `unless` edits on the shipped library: a wrapper or a generic
/// line stands aside when the log shows the context that makes it a
/// consequence (or not a model-weight failure at all).
#[test]
fn shipped_unless_context_on_wrappers_and_image_pulls() {
    let lib = SignatureSet::embedded().unwrap();
    let classes = |text: &str| -> Vec<(String, FailureClass)> {
        let tail = LogTail::from_text(text, 1000);
        lib.scan_tail(&tail)
            .into_iter()
            .map(|h| (lib.signatures()[h.signature].id.clone(), lib.signatures()[h.signature].class))
            .collect()
    };

    // TensorRT-LLM's zero-block KV pool under Triton: the load wrappers
    // (weight-load-failure) must not stand beside the inner cause.
    let triton = "I0312 model_lifecycle.cc:469] loading: tensorrt_llm:1\n\
        [TensorRT-LLM][INFO] Number of blocks in KV cache primary pool: 0\n\
        E0312 model_lifecycle.cc:638] failed to load 'tensorrt_llm' version 1: Internal: unexpected error when creating modelInstanceState: [TensorRT-LLM][ERROR] Assertion failed: allottedPrimaryBlocks > 0\n\
        error: creating server: Internal - failed to load all models\n";
    let hits = classes(triton);
    assert!(hits.iter().any(|(_, c)| *c == FailureClass::KvCacheOom), "{hits:?}");
    assert!(hits.iter().all(|(_, c)| *c != FailureClass::WeightLoadFailure), "{hits:?}");
    let without_cause = "E0312 model_lifecycle.cc:638] failed to load 'tensorrt_llm' version 1: Internal: something else\n\
        error: creating server: Internal - failed to load all models\n";
    assert!(classes(without_cause).iter().any(|(_, c)| *c == FailureClass::WeightLoadFailure));

    // A full node disk while pulling the image is not a weight download.
    let full = "write /root/.cache/huggingface/hub/models--x/blobs/3f2a.incomplete: no space left on device\n";
    assert!(classes(full).iter().any(|(id, _)| id == "disk-full-enospc"));
    let pull = "Warning  Failed  kubelet  Failed to pull image \"vllm/vllm-openai:v0.9.0\": failed to pull and unpack image \"docker.io/vllm/vllm-openai:v0.9.0\": failed to extract layer sha256:abc: write /var/lib/containerd/snapshots/123/fs/usr/lib/libcudnn.so: no space left on device: unknown\n";
    assert!(classes(pull).iter().all(|(id, _)| id != "disk-full-enospc"), "{:?}", classes(pull));
}
