//! Serving metrics against the real test services (`tests/cluster/services`):
//! recorded stories backfilled into the real Prometheus TSDB with
//! `promtool`, the live llama.cpp server scraped by it, the alert rules
//! loaded by it, and the controller reading them through the HTTP API.
//!
//! Needs `tests/cluster/up` and `eval "$(tests/cluster/env)"` (`tests/run`
//! does both). Without `PODMEDIC_PROMETHEUS_URL` the tests that need the
//! services print `SKIPPED` and pass; the rest (Prometheus down, the file
//! input) always run.

#[path = "common/cluster.rs"]
mod cluster;
#[path = "common/stories.rs"]
mod stories;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use cluster::*;
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use podmedic::class::FailureClass;
use podmedic::crd::RecoveryProposal;
use serde_json::{Value, json};
use stories::PodLabels;

const TIMEOUT: Duration = Duration::from_secs(90);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn prometheus_or_skip(test: &str) -> Option<String> {
    match std::env::var("PODMEDIC_PROMETHEUS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            eprintln!("SKIPPED {test}: no test Prometheus (run tests/cluster/up; eval \"$(tests/cluster/env)\")");
            None
        }
    }
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as f64
}

fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Writes a story as OpenMetrics and backfills it with `tests/cluster/backfill`.
fn backfill(story: &str, pod: &PodLabels, end: f64) -> Result<()> {
    let text = stories::openmetrics(story, pod, end).context("unknown story")?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join(format!("{story}.om"));
    std::fs::write(&file, text)?;
    let out = Command::new(root().join("tests/cluster/backfill")).arg(&file).output()?;
    ensure!(out.status.success(), "backfill failed: {}", String::from_utf8_lossy(&out.stderr));
    // The script waits for Prometheus to reload its blocks; check that this
    // story's series are really queryable before the test reads them.
    let url = std::env::var("PODMEDIC_PROMETHEUS_URL").context("PODMEDIC_PROMETHEUS_URL")?;
    let selector = format!("{{namespace=\"{}\",pod=\"{}\"}}", pod.namespace, pod.pod);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let q = format!("count(last_over_time({selector}[11m]))");
        let found = prom_query(&url, &q, Some(end))
            .ok()
            .and_then(|v| v["data"]["result"][0]["value"][1].as_str().map(str::to_owned));
        if found.is_some_and(|n| n != "0") {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "story {story} for {selector} not queryable 60 s after the backfill");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A pod JSON whose container `c` last ended at `end`.
fn pod_json(dir: &Path, labels: &PodLabels, image: &str, args: &[&str], end: f64) -> Result<PathBuf> {
    let finished = chrono::DateTime::from_timestamp(end as i64, 0).context("time")?.to_rfc3339();
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": labels.pod, "namespace": labels.namespace},
        "spec": {"containers": [{"name": labels.container, "image": image, "args": args}]},
        "status": {"containerStatuses": [{"name": labels.container, "image": image, "imageID": "", "ready": false,
            "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                "startedAt": "2026-01-01T00:00:00Z", "finishedAt": finished}}}]}
    });
    let path = dir.join(format!("{}.json", labels.pod));
    std::fs::write(&path, serde_json::to_vec(&pod)?)?;
    Ok(path)
}

fn triage(args: &[&str]) -> Result<Value> {
    let out =
        Command::new(env!("CARGO_BIN_EXE_podmedic")).arg("triage").args(args).args(["--output", "json"]).output()?;
    ensure!(out.status.success(), "triage failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn fixture(class: &str, name: &str) -> String {
    root().join("tests/fixtures/logs").join(class).join(name).display().to_string()
}

/// vLLM 0.10 running out of GPU memory in the forward pass under load (goes
/// with the `vllm-v1-kv-saturation` story).
fn under_load_log() -> String {
    root().join("tests/fixtures/metrics/vllm-v1-oom-under-load.log").display().to_string()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

/// The story's own values for a gauge: (last, max) over the 10-minute window.
fn gauge_truth(story: &str, metric: &str) -> (f64, f64) {
    let vals: Vec<f64> = stories::times(0.0)
        .into_iter()
        .filter(|t| *t > -600.0)
        .map(|t| stories::value_at(story, metric, -t).unwrap())
        .collect();
    (*vals.last().unwrap(), vals.iter().copied().fold(f64::MIN, f64::max))
}

fn assert_signal(m: &Value, key: &str, last: f64, max: f64) -> Result<()> {
    let s = &m[key];
    ensure!(s.is_object(), "no {key} in {m}");
    let (l, x) = (s["last"].as_f64().unwrap(), s["max"].as_f64().unwrap());
    ensure!(close(l, last) && close(x, max), "{key}: got last {l} max {x}, want last {last} max {max}");
    ensure!(s["points"].as_array().is_some_and(|p| p.len() >= 30), "{key}: too few points");
    Ok(())
}

#[test]
fn recorded_crash_stories_are_read_back_as_recorded() -> Result<()> {
    let Some(url) = prometheus_or_skip("recorded_crash_stories_are_read_back_as_recorded") else { return Ok(()) };
    let dir = tempfile::tempdir()?;
    let end = now() - 30.0;
    let ns = unique("stories");
    let story_pod = |name: &str, container: &str| PodLabels {
        namespace: ns.clone(),
        pod: unique(name),
        container: container.into(),
    };

    // vLLM V1: the KV cache filled under load, then a CUDA OOM.
    let p = story_pod("vllm-v1", "vllm");
    backfill("vllm-v1-kv-saturation", &p, end)?;
    let pod = pod_json(dir.path(), &p, "vllm/vllm-openai:v0.10.2", &["--model", "m", "--max-num-seqs", "256"], end)?;
    let v = triage(&["--log", &under_load_log(), "--pod", pod.to_str().unwrap(), "--prometheus-url", &url])?;
    let m = &v["metrics"];
    assert_eq!(m["server"], "vllm-v1");
    assert_eq!(m["window_seconds"], 600);
    let s = "vllm-v1-kv-saturation";
    for (key, metric) in [
        ("kv_cache_usage", "vllm:kv_cache_usage_perc"),
        ("requests_waiting", "vllm:num_requests_waiting"),
        ("requests_running", "vllm:num_requests_running"),
    ] {
        let (last, max) = gauge_truth(s, metric);
        assert_signal(m, key, last, max)?;
    }
    let (fb_last, fb_max) = gauge_truth(s, "DCGM_FI_DEV_FB_USED");
    assert_signal(m, "gpu_memory_used", fb_last * 1048576.0, fb_max * 1048576.0)?;
    let c = |before: f64| stories::value_at(s, "vllm:generation_tokens_total", before).unwrap();
    let rate_last = (c(0.0) - c(15.0)) / 15.0;
    ensure!(close(m["generation_throughput"]["last"].as_f64().unwrap(), rate_last), "{}", m["generation_throughput"]);
    let summary = v["summary"].as_str().unwrap();
    ensure!(summary.contains("filled under load") && summary.contains("240 requests waiting"), "{summary}");
    assert_eq!(v["class"], "gpu-oom");

    // vLLM V0: throughput collapsed, DCGM saw Xid 79; the log shows only NCCL.
    let p = story_pod("vllm-v0", "vllm");
    backfill("vllm-v0-xid-collapse", &p, end)?;
    let pod = pod_json(dir.path(), &p, "vllm/vllm-openai:v0.6.3", &["--model", "m"], end)?;
    let log = fixture("nccl-failure", "pytorch-watchdog-collective-timeout.log");
    let without = triage(&["--log", &log])?;
    assert_eq!(without["class"], "nccl-failure");
    let v = triage(&["--log", &log, "--pod", pod.to_str().unwrap(), "--prometheus-url", &url])?;
    assert_eq!(v["metrics"]["server"], "vllm-v0");
    assert_eq!(v["class"], "gpu-hardware-fault", "{}", v["summary"]);
    let summary = v["summary"].as_str().unwrap();
    ensure!(summary.contains("Xid 79") && summary.contains("generation collapsed"), "{summary}");
    assert_signal(&v["metrics"], "kv_cache_usage", 0.44, 0.44)?;

    // SGLang: the token pool at 99% with 32 running.
    let p = story_pod("sglang", "sglang");
    backfill("sglang-kv-under-load", &p, end)?;
    let pod = pod_json(dir.path(), &p, "lmsysorg/sglang:v0.5.2", &["--model-path", "m"], end)?;
    let v = triage(&[
        "--log",
        &fixture("kv-cache-oom", "sglang-mem-fraction-static.log"),
        "--pod",
        pod.to_str().unwrap(),
        "--prometheus-url",
        &url,
    ])?;
    let m = &v["metrics"];
    assert_eq!(m["server"], "sglang");
    let s = "sglang-kv-under-load";
    for (key, metric) in [
        ("kv_cache_usage", "sglang:token_usage"),
        ("requests_waiting", "sglang:num_queue_reqs"),
        ("requests_running", "sglang:num_running_reqs"),
        ("generation_throughput", "sglang:gen_throughput"),
    ] {
        let (last, max) = gauge_truth(s, metric);
        assert_signal(m, key, last, max)?;
    }
    ensure!(v["summary"].as_str().unwrap().contains("filled under load"), "{}", v["summary"]);

    // TGI: reserved batch tokens over the most the cache holds.
    let p = story_pod("tgi", "tgi");
    backfill("tgi-queue-kv", &p, end)?;
    let pod = pod_json(dir.path(), &p, "ghcr.io/huggingface/text-generation-inference:3.3.4", &[], end)?;
    let v = triage(&[
        "--log",
        &fixture("kv-cache-oom", "tgi-prefill-tokens-warmup.log"),
        "--pod",
        pod.to_str().unwrap(),
        "--prometheus-url",
        &url,
    ])?;
    let m = &v["metrics"];
    assert_eq!(m["server"], "tgi");
    let (reserved_last, reserved_max) = gauge_truth("tgi-queue-kv", "tgi_batch_current_max_tokens");
    assert_signal(m, "kv_cache_usage", reserved_last / 164_000.0, reserved_max / 164_000.0)?;
    let (q_last, q_max) = gauge_truth("tgi-queue-kv", "tgi_queue_size");
    assert_signal(m, "requests_waiting", q_last, q_max)?;
    Ok(())
}

#[test]
fn saturation_under_load_is_told_from_a_context_that_never_fit() -> Result<()> {
    let Some(url) = prometheus_or_skip("saturation_under_load_is_told_from_a_context_that_never_fit") else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let end = now() - 30.0;
    let ns = unique("fit");
    let log = fixture("kv-cache-oom", "vllm-v1-kv-needed-exceeds-available.log");
    let run = |story: &str| -> Result<Value> {
        let p = PodLabels { namespace: ns.clone(), pod: unique(story), container: "vllm".into() };
        backfill(story, &p, end)?;
        let pod =
            pod_json(dir.path(), &p, "vllm/vllm-openai:v0.10.2", &["--model", "m", "--max-num-seqs", "256"], end)?;
        triage(&["--log", &log, "--pod", pod.to_str().unwrap(), "--prometheus-url", &url])
    };
    let idle = run("vllm-v1-idle")?;
    assert_eq!(idle["class"], "kv-cache-oom");
    ensure!(idle["summary"].as_str().unwrap().contains("never fit"), "{}", idle["summary"]);
    assert_ne!(idle["plan"]["playbook"], "kv-cache-vllm-max-num-seqs-from-peak");
    let loaded = run("vllm-v1-kv-saturation")?;
    ensure!(loaded["summary"].as_str().unwrap().contains("filled under load"), "{}", loaded["summary"]);
    assert_eq!(loaded["plan"]["playbook"], "kv-cache-vllm-max-num-seqs-from-peak");
    assert_eq!(loaded["plan"]["parameters"]["new_max_num_seqs"], 36);
    Ok(())
}

#[test]
fn prometheus_down_means_no_metrics_and_the_summary_says_so() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let p = PodLabels { namespace: "llm".into(), pod: "qwen-0".into(), container: "vllm".into() };
    let pod = pod_json(dir.path(), &p, "vllm/vllm-openai:v0.10.2", &[], now())?;
    let v = triage(&[
        "--log",
        &fixture("gpu-oom", "vllm-free-memory-below-utilization.log"),
        "--pod",
        pod.to_str().unwrap(),
        "--prometheus-url",
        &format!("http://127.0.0.1:{port}"),
    ])?;
    assert!(v["metrics"].is_null());
    assert_eq!(v["class"], "gpu-oom");
    let summary = v["summary"].as_str().unwrap();
    ensure!(summary.contains("Serving metrics were unavailable (Prometheus could not be reached"), "{summary}");
    // Without --prometheus-url the key is there, null, and nothing is said.
    let plain = triage(&["--log", &fixture("gpu-oom", "vllm-free-memory-below-utilization.log")])?;
    assert!(plain.as_object().unwrap().contains_key("metrics") && plain["metrics"].is_null());
    ensure!(!plain["summary"].as_str().unwrap().contains("metrics"), "{}", plain["summary"]);
    // --prometheus-url needs --pod; a bad URL is a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_podmedic"))
        .args(["triage", "--log", "-", "--prometheus-url", "http://127.0.0.1:1"])
        .stdin(Stdio::null())
        .output()?;
    assert!(!out.status.success());
    ensure!(String::from_utf8_lossy(&out.stderr).contains("--pod"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_podmedic"))
        .args(["triage", "--log", "-", "--pod", pod.to_str().unwrap(), "--prometheus-url", "prometheus:9090"])
        .stdin(Stdio::null())
        .output()?;
    assert!(!out.status.success());
    ensure!(String::from_utf8_lossy(&out.stderr).contains("not a valid http(s) URL"), "{:?}", out);
    Ok(())
}

#[test]
fn a_recorded_query_answer_file_gives_the_metrics() -> Result<()> {
    // tests/fixtures/metrics/vllm-v1-kv-saturation.json is Prometheus' own
    // answer to `{namespace="llm",pod="qwen-chat-0",...}[10m]` after the
    // story was backfilled (see tests/fixtures/metrics/README.md).
    let file = root().join("tests/fixtures/metrics/vllm-v1-kv-saturation.json");
    let v = triage(&["--log", &under_load_log(), "--metrics", file.to_str().unwrap()])?;
    let m = &v["metrics"];
    assert_eq!(m["server"], "vllm-v1");
    assert_signal(m, "kv_cache_usage", 1.0, 1.0)?;
    assert_signal(m, "requests_waiting", 240.0, 240.0)?;
    assert_signal(m, "requests_running", 48.0, 48.0)?;
    ensure!(v["summary"].as_str().unwrap().contains("filled under load"), "{}", v["summary"]);
    // A file that is not a query answer is an input error, named.
    let dir = tempfile::tempdir()?;
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"hello\": 1}")?;
    let out = Command::new(env!("CARGO_BIN_EXE_podmedic"))
        .args(["triage", "--log", "-", "--metrics", bad.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()?;
    assert!(!out.status.success());
    ensure!(String::from_utf8_lossy(&out.stderr).contains("not a Prometheus query answer"), "{out:?}");
    Ok(())
}

/// One chat completion from the llama.cpp server (curl: no HTTP client in
/// the dev-dependencies).
fn complete(base: &str, prompt: &str, max_tokens: u32) -> Result<Value> {
    let body = json!({
        "model": "smollm2-135m-instruct",
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0.0
    });
    let out = Command::new("curl")
        .args(["-fsS", "--max-time", "300", "-H", "content-type: application/json", "--data-binary", "@-"])
        .arg(format!("{base}/chat/completions"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(body.to_string().as_bytes())?;
            c.wait_with_output()
        })?;
    ensure!(out.status.success(), "completion failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn prom_query(url: &str, q: &str, time: Option<f64>) -> Result<Value> {
    let mut cmd = Command::new("curl");
    cmd.args(["-fsS", "--max-time", "10", "-G"])
        .arg(format!("{url}/api/v1/query"))
        .args(["--data-urlencode"])
        .arg(format!("query={q}"));
    if let Some(t) = time {
        cmd.args(["--data-urlencode"]).arg(format!("time={t}"));
    }
    let out = cmd.output()?;
    ensure!(out.status.success(), "query failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[test]
fn live_llama_cpp_series_are_read_through_prometheus() -> Result<()> {
    let Some(url) = prometheus_or_skip("live_llama_cpp_series_are_read_through_prometheus") else { return Ok(()) };
    let llm = std::env::var("PODMEDIC_LLM_URL").context("PODMEDIC_LLM_URL")?;
    let target = std::env::var("PODMEDIC_LLM_TARGET").context("PODMEDIC_LLM_TARGET")?;
    let [ns, pod, container]: [&str; 3] =
        target.splitn(3, '/').collect::<Vec<_>>().try_into().map_err(|_| anyhow::anyhow!("{target}"))?;
    // Real load: bursts of more concurrent requests than the server's two
    // slots, so some wait while others generate; short answers (the tests
    // share two cores with everything else). Between bursts the server is
    // idle for a few scrapes: llama.cpp answers /metrics from its task
    // queue, after the batch in flight, so under constant load scrapes time
    // out, and its requests_processing gauge mostly reads 0 when they do
    // not: that series must be there and read, its value is not asserted.
    let dir = tempfile::tempdir()?;
    let labels = PodLabels { namespace: ns.into(), pod: pod.into(), container: container.into() };
    let deadline = Instant::now() + Duration::from_secs(180);
    let m = loop {
        let workers: Vec<_> = (0..3)
            .map(|i| {
                let llm = llm.clone();
                std::thread::spawn(move || complete(&llm, &format!("Count from {i} to {} in words.", i + 40), 16))
            })
            .collect();
        for w in workers {
            let v = w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??;
            ensure!(v["usage"]["completion_tokens"].as_u64().unwrap_or(0) > 0, "{v}");
        }
        std::thread::sleep(Duration::from_secs(5)); // two scrapes of an idle server
        // The crash "happens" now: the metrics window ends at the pod's
        // finish time, so it must cover the bursts just sent.
        let pod_file = pod_json(dir.path(), &labels, "ghcr.io/ggml-org/llama.cpp:server", &[], now())?;
        let v = triage(&[
            "--log",
            &fixture("gpu-oom", "llamacpp-cuda-buffer-weights.log"),
            "--pod",
            pod_file.to_str().unwrap(),
            "--prometheus-url",
            &url,
            "--metrics-window",
            "5m",
        ])?;
        let m = v["metrics"].clone();
        if m["generation_throughput"]["max"].as_f64().unwrap_or(0.0) > 0.0 || Instant::now() > deadline {
            break m;
        }
    };
    assert_eq!(m["server"], "llama.cpp", "{m}");
    assert_eq!(m["requests_running"]["metric"], "llamacpp:requests_processing", "{m}");
    ensure!(!m["requests_running"]["points"].as_array().is_none_or(|p| p.is_empty()), "{}", m["requests_running"]);
    ensure!(m["generation_throughput"]["max"].as_f64().unwrap_or(0.0) > 0.0, "{}", m["generation_throughput"]);
    assert_eq!(m["generation_throughput"]["metric"], "rate(llamacpp:tokens_predicted_total)");
    // The scrape really carried the kwok pod's labels.
    let up = prom_query(
        &url,
        &format!("up{{job=\"llm\",namespace=\"{ns}\",pod=\"{pod}\",container=\"{container}\"}}"),
        None,
    )?;
    assert_eq!(up["data"]["result"][0]["value"][1], "1");
    Ok(())
}

#[test]
fn alert_rules_load_and_fire_on_real_data() -> Result<()> {
    let Some(url) = prometheus_or_skip("alert_rules_load_and_fire_on_real_data") else { return Ok(()) };
    // Loaded by the real Prometheus (reloaded: this checkout's rules),
    // evaluated against the scraped series without error.
    let reload = Command::new("curl")
        .args(["-fsS", "-X", "POST", "--max-time", "10"])
        .arg(format!("{url}/-/reload"))
        .output()?;
    ensure!(reload.status.success(), "reload: {}", String::from_utf8_lossy(&reload.stderr));
    std::thread::sleep(Duration::from_secs(5));
    let out = Command::new("curl").args(["-fsS", "--max-time", "10"]).arg(format!("{url}/api/v1/rules")).output()?;
    let rules: Value = serde_json::from_slice(&out.stdout)?;
    let groups = rules["data"]["groups"].as_array().context("no rule groups")?;
    let mut names = Vec::new();
    for g in groups {
        for r in g["rules"].as_array().unwrap() {
            ensure!(r["health"] == "ok", "rule {} is unhealthy: {}", r["name"], r["lastError"]);
            names.push(r["name"].as_str().unwrap().to_owned());
        }
    }
    for want in ["LLMRequestQueueGrowing", "LLMKVCacheSaturated", "LLMEngineStalled"] {
        ensure!(names.iter().any(|n| n == want), "{want} not loaded: {names:?}");
    }
    // Every dashboard query runs on the real Prometheus (variables filled in).
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(root().join("deploy/grafana/podmedic.json"))?)?;
    let mut exprs = Vec::new();
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(e)) = o.get("expr") {
                    out.push(e.clone());
                }
                o.values().for_each(|x| collect(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    collect(&dash, &mut exprs);
    ensure!(exprs.len() > 20, "{} dashboard queries", exprs.len());
    for e in exprs {
        let q = e.replace("$__rate_interval", "1m").replace("$namespace", ".*").replace("$pod", ".*");
        let v = prom_query(&url, &q, None)?;
        ensure!(v["status"] == "success", "dashboard query {q}: {v}");
    }
    // The alert expressions over backfilled stories, at their end: each fires
    // for its story's pod and not for the idle one.
    let end = now() - 20.0;
    let ns = unique("alerts");
    let mut pods = std::collections::BTreeMap::new();
    for story in ["vllm-v1-kv-saturation", "sglang-kv-under-load", "sglang-stalled", "sglang-idle", "vllm-v1-stalled"] {
        let p = PodLabels { namespace: ns.clone(), pod: unique(story), container: "engine".into() };
        backfill(story, &p, end)?;
        pods.insert(story, p.pod);
    }
    let rules_text = std::fs::read_to_string(root().join("deploy/prometheus/rules.yaml"))?;
    let rules: Value = serde_json::to_value(serde_saphyr::from_str::<serde_json::Value>(&rules_text)?)?;
    let expr = |alert: &str| -> Result<String> {
        for g in rules["groups"].as_array().unwrap() {
            for r in g["rules"].as_array().unwrap() {
                if r["alert"] == alert {
                    return Ok(r["expr"].as_str().unwrap().to_owned());
                }
            }
        }
        bail!("no alert {alert}")
    };
    let firing = |alert: &str| -> Result<Vec<String>> {
        let v = prom_query(&url, &expr(alert)?, Some(end))?;
        Ok(v["data"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["metric"]["namespace"] == ns.as_str())
            .filter_map(|r| r["metric"]["pod"].as_str().map(str::to_owned))
            .collect())
    };
    let kv = firing("LLMKVCacheSaturated")?;
    ensure!(kv.contains(&pods["vllm-v1-kv-saturation"]) && kv.contains(&pods["sglang-kv-under-load"]), "{kv:?}");
    ensure!(!kv.contains(&pods["sglang-idle"]), "{kv:?}");
    let queue = firing("LLMRequestQueueGrowing")?;
    ensure!(queue.contains(&pods["vllm-v1-kv-saturation"]) && !queue.contains(&pods["sglang-idle"]), "{queue:?}");
    let stalled = firing("LLMEngineStalled")?;
    ensure!(stalled.contains(&pods["sglang-stalled"]) && stalled.contains(&pods["vllm-v1-stalled"]), "{stalled:?}");
    ensure!(
        !stalled.contains(&pods["sglang-idle"]) && !stalled.contains(&pods["vllm-v1-kv-saturation"]),
        "{stalled:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// The controller
// ---------------------------------------------------------------------------

/// A `podmedic run` process; killed on drop.
struct Controller {
    child: Child,
    port: u16,
}

impl Controller {
    async fn start(ns: &str, prometheus: &str, extra: &[&str]) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let kubeconfig = kubeconfig_path().context("no kubeconfig")?;
        let child = Command::new(env!("CARGO_BIN_EXE_podmedic"))
            .args(["run", "--namespaces", ns, "--listen", &format!("127.0.0.1:{port}"), "--dry-run"])
            .args(["--leader-election=false", "--prometheus-url", prometheus, "--engine", "signatures"])
            .args(extra)
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "info,podmedic=debug,kube=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawning podmedic run")?;
        let mut ctl = Controller { child, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = ctl.child.try_wait()? {
                bail!("podmedic run exited with {status}");
            }
            if http_get(port, "/healthz").await.is_ok_and(|r| r.contains("ok")) {
                return Ok(ctl);
            }
            ensure!(std::time::Instant::now() < deadline, "podmedic run did not serve /healthz");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops it as the kubelet would (SIGTERM: the crash in flight is
    /// finished and announced; SIGKILL after 20 s) and returns its stdout
    /// (the JSON lines).
    fn stop(mut self) -> String {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let mut out = String::new();
        if let Some(mut s) = self.child.stdout.take() {
            use std::io::Read;
            let _ = s.read_to_string(&mut out);
        }
        let _ = self.child.wait();
        out
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn proposals(client: &Client, ns: &str) -> Result<Vec<RecoveryProposal>> {
    Ok(Api::<RecoveryProposal>::namespaced(client.clone(), ns).list(&ListParams::default()).await?.items)
}

async fn in_namespace<F, Fut>(prefix: &str, body: F) -> Result<()>
where
    F: FnOnce(Client, String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let client = client().await?;
    install_crd(&client, "podmedic-tests", TIMEOUT).await?;
    let ns = create_namespace(&client, prefix).await?;
    let res = body(client.clone(), ns.clone()).await;
    if res.is_err() {
        dump_namespace(&client, &ns).await;
    }
    delete_namespace(&client, &ns).await?;
    res
}

#[tokio::test]
async fn a_crash_proposal_carries_the_metric_history_it_explains() -> Result<()> {
    let Some(url) = prometheus_or_skip("a_crash_proposal_carries_the_metric_history_it_explains") else {
        return Ok(());
    };
    if client_or_skip("a_crash_proposal_carries_the_metric_history_it_explains").await.is_none() {
        return Ok(());
    }
    in_namespace("signals-crash", |client, ns| async move {
        // The Deployment's pod runs 15 s, then crashes; its story (the last
        // 10 minutes of its metrics) is backfilled meanwhile, ending before
        // the crash.
        let mut spec = VllmSpec::new("qwen-chat");
        spec.image = "vllm/vllm-openai:v0.10.2".into();
        spec.extra_args = vec!["--max-num-seqs".into(), "256".into()];
        spec.scenario = Some(Scenario::CrashLoop);
        spec.previous_log = Some(cri_log_from_file(under_load_log())?);
        spec.run_duration = Some("15s".into());
        spec.backoff_duration = Some("1h".into());
        let ctl = Controller::start(&ns, &url, &["--restart-threshold", "1"]).await?;
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let pod = poll("the pod", TIMEOUT, || async {
            Ok(deployment_pods(&client, &ns, "qwen-chat").await?.into_iter().next().map(|p| p.name_any()))
        })
        .await?;
        backfill(
            "vllm-v1-kv-saturation",
            &PodLabels { namespace: ns.clone(), pod: pod.clone(), container: VLLM_CONTAINER.into() },
            now(),
        )?;
        let rxp =
            poll("a proposal", TIMEOUT, || async { Ok(proposals(&client, &ns).await?.into_iter().next()) }).await?;
        let d = &rxp.spec.diagnosis;
        assert_eq!(d.class, FailureClass::GpuOom);
        assert_eq!(rxp.spec.pod, pod);
        ensure!(d.summary.contains("filled under load"), "{}", d.summary);
        let m: Value = serde_json::to_value(d.metrics.as_ref().context("no metrics on the proposal")?)?;
        assert_eq!(m["server"], "vllm-v1");
        assert_signal(&m, "kv_cache_usage", 1.0, 1.0)?;
        assert_signal(&m, "requests_waiting", 240.0, 240.0)?;
        let plan = rxp.spec.plan.as_ref().context("no plan")?;
        assert_eq!(plan.playbook, "gpu-oom-vllm-max-num-seqs-from-peak");
        assert_eq!(serde_json::to_value(&plan.parameters)?["new_max_num_seqs"], 36);
        let out = ctl.stop();
        let line: Value = out.lines().find_map(|l| serde_json::from_str(l).ok()).context("no JSON line")?;
        assert_eq!(line["metrics"]["server"], "vllm-v1");
        assert_eq!(line["metrics"]["requests_waiting"]["last"], 240.0);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_stalled_engine_gets_a_proposal_and_an_idle_one_does_not() -> Result<()> {
    let Some(url) = prometheus_or_skip("a_stalled_engine_gets_a_proposal_and_an_idle_one_does_not") else {
        return Ok(());
    };
    if client_or_skip("a_stalled_engine_gets_a_proposal_and_an_idle_one_does_not").await.is_none() {
        return Ok(());
    }
    in_namespace("signals-stall", |client, ns| async move {
        // Two healthy, Ready engines behind Deployments.
        let mut names = Vec::new();
        for (app, image) in [("sglang-wedged", "lmsysorg/sglang:v0.5.2"), ("sglang-idle", "lmsysorg/sglang:v0.5.2")] {
            let mut spec = VllmSpec::new(app);
            spec.image = image.into();
            create_deployment(&client, &ns, &spec.deployment()).await?;
            let pod = wait_for_ready_pod(&client, &ns, app, TIMEOUT).await?;
            names.push(pod.name_any());
        }
        let end = now();
        backfill(
            "sglang-stalled",
            &PodLabels { namespace: ns.clone(), pod: names[0].clone(), container: VLLM_CONTAINER.into() },
            end,
        )?;
        backfill(
            "sglang-idle",
            &PodLabels { namespace: ns.clone(), pod: names[1].clone(), container: VLLM_CONTAINER.into() },
            end,
        )?;
        let ctl = Controller::start(&ns, &url, &["--stall-window", "5m", "--stall-check-interval", "2s"]).await?;
        let rxp = poll("a stall proposal", TIMEOUT, || async {
            Ok(proposals(&client, &ns)
                .await?
                .into_iter()
                .find(|p| p.spec.diagnosis.class == FailureClass::EngineStalled))
        })
        .await?;
        assert_eq!(rxp.spec.pod, names[0]);
        assert_eq!(rxp.spec.target.name, "sglang-wedged");
        assert_eq!(rxp.spec.diagnosis.subclass, "queue-stalled");
        ensure!(rxp.spec.diagnosis.summary.contains("generated no tokens for 8m"), "{}", rxp.spec.diagnosis.summary);
        let m: Value = serde_json::to_value(rxp.spec.diagnosis.metrics.as_ref().context("no metrics")?)?;
        assert_eq!(m["server"], "sglang");
        assert_eq!(m["requests_waiting"]["last"], 17.0);
        let plan = rxp.spec.plan.as_ref().context("no plan")?;
        assert_eq!(plan.playbook, "engine-stalled-restart-pod");
        let steps: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(steps, ["capture-diagnostics", "restart-pod", "wait-ready"]);
        // Several more checks: still one proposal, and none for the idle engine.
        tokio::time::sleep(Duration::from_secs(8)).await;
        let all = proposals(&client, &ns).await?;
        assert_eq!(all.len(), 1, "{:?}", all.iter().map(|p| (&p.spec.pod, p.spec.diagnosis.class)).collect::<Vec<_>>());
        let metrics = http_get(ctl.port, "/metrics").await?;
        ensure!(metrics.contains("podmedic_stall_checks_total{result=\"ok\"}"), "{metrics}");
        ensure!(metrics.contains("podmedic_pod_events_total{kind=\"stall\"} 1"), "{metrics}");
        drop(ctl);
        Ok(())
    })
    .await
}

/// A private Prometheus (the same binary as the test services'), so that it
/// can be killed without disturbing other tests.
struct PrivatePrometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl PrivatePrometheus {
    fn start() -> Result<Self> {
        let promtool = PathBuf::from(std::env::var("PODMEDIC_PROMTOOL").context("PODMEDIC_PROMTOOL")?);
        let bin = promtool.with_file_name("prometheus");
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("prometheus.yml"), "global: {scrape_interval: 15s}\n")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if Command::new("curl")
                .args(["-fs", "--max-time", "1"])
                .arg(format!("{url}/-/ready"))
                .output()?
                .status
                .success()
            {
                return Ok(PrivatePrometheus { child, url, _dir: dir });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("private Prometheus not ready")
    }
}

impl Drop for PrivatePrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn prometheus_killed_mid_run_leaves_diagnoses_without_metrics() -> Result<()> {
    if prometheus_or_skip("prometheus_killed_mid_run_leaves_diagnoses_without_metrics").is_none()
        || client_or_skip("prometheus_killed_mid_run_leaves_diagnoses_without_metrics").await.is_none()
    {
        return Ok(());
    }
    in_namespace("signals-down", |client, ns| async move {
        let mut prom = PrivatePrometheus::start()?;
        let ctl =
            Controller::start(&ns, &prom.url, &["--restart-threshold", "1", "--stall-check-interval", "1s"]).await?;
        // Let a stall check or two succeed, then kill Prometheus.
        tokio::time::sleep(Duration::from_secs(2)).await;
        prom.child.kill()?;
        prom.child.wait()?;
        let mut spec = VllmSpec::new("llama-down");
        spec.scenario = Some(Scenario::CrashLoop);
        spec.previous_log = Some(cri_log_from_file(sample_log("vllm-kv-cache-oom.log"))?);
        spec.run_duration = Some("2s".into());
        spec.backoff_duration = Some("1h".into());
        Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), &ns)
            .create(&PostParams::default(), &spec.pod())
            .await?;
        let rxp = poll("a proposal without metrics", TIMEOUT, || async {
            Ok(proposals(&client, &ns).await?.into_iter().next())
        })
        .await?;
        assert_eq!(rxp.spec.diagnosis.class, FailureClass::KvCacheOom);
        ensure!(
            rxp.spec.diagnosis.summary.contains("Serving metrics were unavailable"),
            "{}",
            rxp.spec.diagnosis.summary
        );
        assert!(!rxp.spec.diagnosis.captures.contains_key("metrics"));
        // Still alive and healthy; the failed checks are counted.
        tokio::time::sleep(Duration::from_secs(2)).await;
        ensure!(http_get(ctl.port, "/healthz").await?.contains("ok"));
        let metrics = http_get(ctl.port, "/metrics").await?;
        ensure!(metrics.contains("podmedic_metrics_reads_total{result=\"unavailable\"} 1"), "{metrics}");
        ensure!(
            metrics.contains("podmedic_stall_checks_total{result=\"unreachable\"}")
                || metrics.contains("podmedic_stall_checks_total{result=\"backing_off\"}"),
            "{metrics}"
        );
        drop(ctl);
        Ok(())
    })
    .await
}
