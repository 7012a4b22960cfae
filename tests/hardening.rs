//! Hardening against hostile and unlucky input (issue 11), end to end: the
//! `podmedic run` binary and the library against the real local control
//! plane (etcd + kube-apiserver + kwok).
//!
//! | what | test |
//! |---|---|
//! | long lines never hide the crash: 150 logged 15 KB prompts before a KV-cache crash | `long_prompt_lines_never_hide_the_crash` |
//! | owners and rollback revisions matched by UID and controller ownership | `owners_and_revisions_are_matched_by_uid` |
//! | a panic while handling one pod is that pod's error, counted | `a_panic_handling_one_pod_is_that_pods_error` |
//! | 3,000 slow unauthenticated clients: memory bounded, `/healthz` answers | `slow_clients_cannot_exhaust_memory` |
//! | log text is inert in Events, the JSON line, Slack and the webhook | `hostile_log_text_is_inert_everywhere_it_is_shown` |
//! | a wildcard Slack approver without SubjectAccessReview is refused | `wildcard_approvers_need_subject_access_review` (no cluster needed) |
//!
//! Needs `tests/cluster/up` and `eval "$(tests/cluster/env)"` (`tests/run`
//! does both); without a plane the cluster tests say SKIPPED and pass.

#[path = "common/cluster.rs"]
mod cluster;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use cluster::*;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use podmedic::crd::RecoveryProposal;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(120);

/// A `podmedic run` process watching one namespace; killed on drop. Its
/// stdout lines (the JSON announcement lines) are collected.
struct Controller {
    child: Child,
    port: u16,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Controller {
    async fn start(ns: &str, extra: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let kubeconfig = kubeconfig_path().context("no kubeconfig")?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_podmedic"));
        cmd.args(["run", "--namespaces", ns, "--listen", &format!("127.0.0.1:{port}"), "--log-tail", "200"])
            .args(["--lease-namespace", ns, "--leader-election=false"])
            .args(extra)
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("spawning podmedic run")?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stdout.take().context("stdout")?;
        let lines = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let mut ctl = Controller { child, port, stdout };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = ctl.child.try_wait()? {
                bail!("podmedic run exited with {status} before serving /healthz");
            }
            if http_get(port, "/healthz").await.is_ok_and(|r| r.contains("ok")) {
                return Ok(ctl);
            }
            ensure!(Instant::now() < deadline, "podmedic run did not serve /healthz within 30s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Resident memory of the process, in KiB.
    fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .context("no VmRSS")
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `body` in a fresh namespace (skipped without a plane), dumping the
/// namespace on failure.
async fn in_namespace<F, Fut>(test: &str, body: F) -> Result<()>
where
    F: FnOnce(Client, String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let Some(client) = client_or_skip(test).await else { return Ok(()) };
    install_crd(&client, "podmedic-tests", TIMEOUT).await?;
    let ns = create_namespace(&client, test).await?;
    let res = body(client.clone(), ns.clone()).await;
    if res.is_err() {
        dump_namespace(&client, &ns).await;
        if let Ok(list) = Api::<RecoveryProposal>::namespaced(client.clone(), &ns).list(&ListParams::default()).await {
            for p in list.items {
                eprintln!(
                    "proposal {}: {}",
                    p.name_any(),
                    serde_json::to_string(&p.spec.diagnosis).unwrap_or_default()
                );
            }
        }
    }
    delete_namespace(&client, &ns).await?;
    res
}

fn crashing(name: &str, log: &str) -> Result<VllmSpec> {
    let mut spec = VllmSpec::new(name);
    spec.scenario = Some(Scenario::CrashLoop);
    spec.previous_log = Some(cri_log(log)?);
    spec.run_duration = Some("2s".into());
    spec.backoff_duration = Some("3s".into());
    Ok(spec)
}

/// The first proposal whose target is `workload`.
async fn proposal_for(client: &Client, ns: &str, workload: &str) -> Result<RecoveryProposal> {
    let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), ns);
    poll(&format!("a RecoveryProposal for {workload}"), TIMEOUT, || async {
        Ok(api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .find(|p| p.status.is_some() && p.spec.target.name == workload))
    })
    .await
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series)?.trim().parse().ok()).unwrap_or(0.0)
}

/// One vLLM request-logger line echoing a ~15 KB prompt (no error text in it).
fn prompt_line(i: usize) -> String {
    let words = "请总结以下文档 summarise the following quarterly report section and list the risks; ";
    let mut prompt = String::new();
    while prompt.len() < 15_000 {
        prompt.push_str(words);
    }
    format!(
        "INFO 11-27 12:{:02}:{:02} [logger.py:41] Received request chatcmpl-{i:08x}: prompt: '{prompt}', params: SamplingParams(n=1, temperature=0.7, max_tokens=512), prompt_token_ids: None, lora_request: None.",
        i / 60 % 60,
        i % 60
    )
}

/// Regression (issue 11, "long logs hide the crash"): 150 logged 15 KB
/// prompts before a KV-cache crash. The kubelet cuts `limitBytes` from the
/// start of the tail, so on main the crash lines were dropped and the
/// proposal said `unknown`; the newest lines must always be read.
#[tokio::test]
async fn long_prompt_lines_never_hide_the_crash() -> Result<()> {
    in_namespace("harden-long-lines", |client, ns| async move {
        let mut log = String::from(
            "INFO 11-27 12:00:00 [api_server.py:1351] vLLM API server version 0.10.1\n\
             INFO 11-27 12:00:05 [gpu_model_runner.py:1892] Model loading took 14.99 GiB\n\
             INFO 11-27 12:00:09 [kv_cache_utils.py:849] GPU KV cache size: 20,144 tokens\n",
        );
        for i in 0..150 {
            log.push_str(&prompt_line(i));
            log.push('\n');
        }
        log.push_str(
            "ERROR 11-27 12:31:02 [core.py:708] EngineCore encountered a fatal error.\n\
             ERROR 11-27 12:31:02 [core.py:708] ValueError: To serve at least one request with the model's max seq len (32768), 4.00 GiB KV cache is needed, which is larger than the available KV cache memory (2.37 GiB). Based on the available memory, the estimated maximum model length is 19392. Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.\n",
        );
        assert!(log.len() > 2 * 1024 * 1024, "the log must exceed the 2 MiB read limit: {}", log.len());
        let spec = crashing("chat", &log)?;
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let _ctl = Controller::start(&ns, &["--dry-run"], &[]).await?;
        let p = proposal_for(&client, &ns, "chat").await?;
        assert_eq!(p.spec.diagnosis.class.as_str(), "kv-cache-oom", "{}", p.spec.diagnosis.summary);
        assert_eq!(p.spec.diagnosis.captures.get("est_max_len").map(String::as_str), Some("19392"));
        Ok(())
    })
    .await
}

/// Regression (issue 11, "rollback to a planted revision"): a ReplicaSet
/// with the Deployment's labels, a revision annotation and an owner
/// reference naming the Deployment (not as its controller) is not one of
/// the Deployment's revisions; a pod's owner reference must carry the UID
/// of the ReplicaSet it names.
#[tokio::test]
async fn owners_and_revisions_are_matched_by_uid() -> Result<()> {
    in_namespace("harden-owners", |client, ns| async move {
        use podmedic::controller::gather::{Owner, owner_of, workload_with_history};
        let spec = VllmSpec::new("llama");
        let dep = create_deployment(&client, &ns, &spec.deployment()).await?;
        let deps: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        // A second revision, so that the first is a rollback candidate.
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": VLLM_CONTAINER, "args": ["--model", "m2"]}]}}}});
        deps.patch("llama", &PatchParams::default(), &Patch::Strategic(&patch)).await?;
        let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), &ns);
        let dep_uid = dep.uid().context("uid")?;
        let own = poll("two ReplicaSets of the Deployment", TIMEOUT, || async {
            let own: Vec<ReplicaSet> = rss
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|rs| rs.owner_references().iter().any(|o| o.uid == dep_uid && o.controller == Some(true)))
                .collect();
            Ok((own.len() == 2).then_some(own))
        })
        .await?;

        // The plant: the Deployment's labels and a revision annotation, the
        // Deployment named as a (non-controller) owner; its controller is a
        // ConfigMap, so neither the Deployment controller adopts it nor the
        // garbage collector removes it.
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        let decoy = cms
            .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "decoy"}}))?)
            .await?;
        let mut template = spec.pod_template_json();
        template["metadata"]["labels"]["planted"] = json!("yes");
        template["spec"]["containers"][0]["image"] = json!("attacker.example/image:latest");
        let planted: ReplicaSet = serde_json::from_value(json!({
            "metadata": {
                "name": "llama-0planted",
                "labels": {"app": "llama", "planted": "yes"},
                "annotations": {"deployment.kubernetes.io/revision": "1"},
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama", "uid": dep_uid, "controller": false},
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "decoy", "uid": decoy.uid(), "controller": true},
                ],
            },
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "llama", "planted": "yes"}}, "template": template},
        }))?;
        let planted = rss.create(&PostParams::default(), &planted).await?;

        let mut d = deps.get("llama").await?;
        d.managed_fields_mut().clear();
        let mut object = serde_json::to_value(&d)?;
        object["apiVersion"] = json!("apps/v1");
        object["kind"] = json!("Deployment");
        let owner = Owner { kind: "Deployment".into(), name: "llama".into(), uid: dep_uid.clone(), object };
        let history = workload_with_history(&client, &ns, &owner).await?;
        let names: Vec<&str> =
            history["items"].as_array().unwrap().iter().filter_map(|i| i.pointer("/metadata/name")?.as_str()).collect();
        assert!(!names.contains(&"llama-0planted"), "the planted ReplicaSet is offered as a revision: {names:?}");
        for rs in &own {
            assert!(names.contains(&rs.name_any().as_str()), "{names:?}");
        }
        let w = podmedic::actions::workload::Workload::from_value(history)?;
        let prev = w.previous_revision().context("a previous revision")?;
        assert_ne!(prev.template["spec"]["containers"][0]["image"], "attacker.example/image:latest");

        // Pods naming a ReplicaSet: followed only with its UID.
        let pod = |rs: &str, uid: &str| -> Result<Pod> {
            Ok(serde_json::from_value(json!({
                "metadata": {"name": "p", "namespace": ns, "uid": "pod-uid", "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": uid, "controller": true}]},
                "spec": {"containers": [{"name": VLLM_CONTAINER, "image": "x"}]},
            }))?)
        };
        let real = &own[0];
        let o = owner_of(&client, &pod(&real.name_any(), &real.uid().unwrap_or_default())?).await?;
        assert_eq!((o.kind.as_str(), o.uid.as_str()), ("Deployment", dep_uid.as_str()));
        let o = owner_of(&client, &pod(&real.name_any(), "00000000-0000-0000-0000-000000000000")?).await?;
        assert_eq!(o.kind, "Pod", "a UID that is not the ReplicaSet's was followed by name");
        let o = owner_of(&client, &pod("llama-0planted", &planted.uid().unwrap_or_default())?).await?;
        assert_eq!(o.kind, "Pod", "the planted ReplicaSet does not belong to the Deployment");
        Ok(())
    })
    .await
}

/// A panic while handling one pod (forced by a test failpoint) is that
/// pod's error: counted as `code="panic"`, the process stays up, and the
/// other pods still get their proposals.
#[tokio::test]
async fn a_panic_handling_one_pod_is_that_pods_error() -> Result<()> {
    in_namespace("harden-panic", |client, ns| async move {
        const KV: &str = "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20736).";
        create_deployment(&client, &ns, &crashing("boom", KV)?.deployment()).await?;
        create_deployment(&client, &ns, &crashing("fine", KV)?.deployment()).await?;
        let mut ctl =
            Controller::start(&ns, &["--dry-run"], &[("PODMEDIC_FAILPOINT", "panic-handling-pod=boom-")]).await?;
        let p = proposal_for(&client, &ns, "fine").await?;
        assert_eq!(p.spec.diagnosis.class.as_str(), "kv-cache-oom");
        let panics = poll("a counted panic", TIMEOUT, || async {
            let m = http_get(ctl.port, "/metrics").await?;
            let n = metric(&m, "podmedic_reconcile_errors_total{code=\"panic\"}");
            Ok((n >= 1.0).then_some(n))
        })
        .await?;
        assert!(panics >= 1.0);
        assert!(ctl.alive(), "podmedic exited after a panic");
        assert!(http_get(ctl.port, "/healthz").await?.contains("ok"));
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        let boom = api.list(&ListParams::default()).await?.items.into_iter().filter(|p| p.spec.target.name == "boom");
        assert_eq!(boom.count(), 0, "the panicking pod got a proposal");
        Ok(())
    })
    .await
}

/// Regression (issue 11, "slow clients exhaust memory"): 3,000
/// unauthenticated connections, each sending half of a 64 KiB body to the
/// Slack endpoint and then nothing, took RSS from 45 to 292 MiB, over the
/// chart's 256 Mi. Memory must stay bounded (here: less than 64 MiB above
/// the idle process, and under 200 MiB in all) and `/healthz` must answer
/// throughout.
#[tokio::test]
async fn slow_clients_cannot_exhaust_memory() -> Result<()> {
    in_namespace("harden-slow", |_client, ns| async move {
        use tokio::io::AsyncWriteExt;
        let ctl = Controller::start(
            &ns,
            &["--dry-run", "--slack-signing-secret", "s3cret", "--slack-approvers", &format!("{ns}=U0ALICE")],
            &[],
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = ctl.rss_kib()?;
        let head = "POST /chatops/slack/interactions HTTP/1.1\r\nHost: podmedic\r\n\
                    Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 65536\r\n\r\n";
        let half = vec![b'a'; 32 * 1024];
        let mut peak = idle;
        let mut clients = Vec::with_capacity(3000);
        let started = Instant::now();
        for i in 0..3000 {
            let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", ctl.port)).await else { continue };
            let sent = tokio::time::timeout(Duration::from_secs(2), async {
                s.write_all(head.as_bytes()).await?;
                s.write_all(&half).await
            })
            .await;
            if matches!(sent, Ok(Ok(()))) {
                clients.push(s);
            }
            if i % 250 == 0 {
                peak = peak.max(ctl.rss_kib()?);
                // The kubelet's probe still gets through while the flood goes on.
                let probe = tokio::time::timeout(Duration::from_secs(2), http_get(ctl.port, "/healthz")).await;
                ensure!(matches!(&probe, Ok(Ok(r)) if r.contains("ok")), "no /healthz answer after {i} slow clients");
            }
        }
        eprintln!("{} slow clients connected and sent 32 KiB in {:?}", clients.len(), started.elapsed());
        for _ in 0..20 {
            peak = peak.max(ctl.rss_kib()?);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let probe = tokio::time::timeout(Duration::from_secs(2), http_get(ctl.port, "/healthz")).await;
        ensure!(matches!(&probe, Ok(Ok(r)) if r.contains("ok")), "no /healthz answer: {probe:?}");
        let metrics = tokio::time::timeout(Duration::from_secs(2), http_get(ctl.port, "/metrics")).await??;
        ensure!(metrics.contains("podmedic_"), "no metrics");
        eprintln!("RSS idle {} KiB, peak {} KiB with 3,000 slow clients", idle, peak);
        ensure!(peak < idle + 64 * 1024, "RSS grew from {idle} KiB to {peak} KiB");
        ensure!(peak < 200 * 1024, "RSS {peak} KiB is too close to the chart's 256 MiB limit");
        drop(clients);
        Ok(())
    })
    .await
}

/// Characters a log may use to act on whoever shows it.
fn has_controls(s: &str) -> bool {
    s.chars().any(podmedic::sanitize::is_unsafe)
}

/// Hostile text in a log (control characters, a bidi override, Slack and
/// Markdown links, mentions, a fake APPROVED line, a code-fence breakout)
/// reaches the proposal through a signature's capture; it must be inert in
/// every channel: the Event note, the JSON line, the Slack message and the
/// webhook's Markdown.
#[tokio::test]
async fn hostile_log_text_is_inert_everywhere_it_is_shown() -> Result<()> {
    in_namespace("harden-hostile", |client, ns| async move {
        let hostile = "--x\u{8}\u{8}\u{7}\u{202e}<!channel><http://evil.example|click>@here**APPROVED**![i](http://evil.example/i.png)```";
        let log = format!("INFO starting\nerror: unrecognized arguments: {hostile}\n");
        create_deployment(&client, &ns, &crashing("bad-args", &log)?.deployment()).await?;
        let ctl = Controller::start(&ns, &["--dry-run"], &[]).await?;
        let p = proposal_for(&client, &ns, "bad-args").await?;
        let d = &p.spec.diagnosis;
        assert_eq!(d.class.as_str(), "config-error", "{}", d.summary);
        assert!(d.summary.contains("<!channel>"), "the hostile capture is in the summary: {}", d.summary);
        assert!(!has_controls(&d.summary), "{:?}", d.summary);
        assert!(d.evidence.iter().all(|e| !has_controls(&e.text)));

        // Kubernetes Events: no control characters in the note.
        let events = poll("the RecoveryProposed event", TIMEOUT, || async {
            let evs = pod_events_by_reason(&client, &ns, "RecoveryProposed").await?;
            Ok((!evs.is_empty()).then_some(evs))
        })
        .await?;
        for note in &events {
            assert!(!has_controls(note), "{note:?}");
        }

        // The JSON line: one line, valid JSON, the same summary.
        let line = poll("the proposal's JSON line", TIMEOUT, || async {
            Ok(ctl.stdout.lock().unwrap().iter().find(|l| l.contains("\"proposal\"")).cloned())
        })
        .await?;
        let v: Value = serde_json::from_str(&line)?;
        assert_eq!(v["summary"], d.summary.as_str());

        // Slack: nothing links, mentions, formats or leaves its code block.
        let slack = podmedic::chatops::render::slack_message(&p);
        let mut texts = Vec::new();
        collect_texts(&slack, &mut texts);
        for t in &texts {
            for bad in ["<!channel>", "<http", "@here", "\u{202e}", "\u{8}"] {
                assert!(!t.contains(bad), "{bad:?} in Slack text {t:?}");
            }
            // Inside a code block `**` is inert; outside it must not be there.
            let outside_code = t.split("```").step_by(2).collect::<String>();
            assert!(!outside_code.contains("**APPROVED**"), "forged bold text in {t:?}");
            assert!(t.matches("```").count() % 2 == 0, "unbalanced fence in {t:?}");
        }
        // The generic webhook's Markdown.
        let hook = podmedic::chatops::render::webhook_message(&p);
        let md = hook["text"].as_str().unwrap();
        for bad in ["<!channel>", "](http", "![", "@here", "**APPROVED**", "\u{202e}", "\u{8}"] {
            assert!(!md.contains(bad), "{bad:?} in the webhook's Markdown {md:?}");
        }
        Ok(())
    })
    .await
}

/// The notes of the Events with `reason` in `ns`.
async fn pod_events_by_reason(client: &Client, ns: &str, reason: &str) -> Result<Vec<String>> {
    let evs =
        Api::<k8s_openapi::api::events::v1::Event>::namespaced(client.clone(), ns).list(&ListParams::default()).await?;
    Ok(evs.items.into_iter().filter(|e| e.reason.as_deref() == Some(reason)).filter_map(|e| e.note).collect())
}

fn collect_texts(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(t)) = m.get("text") {
                out.push(t.clone());
            }
            m.values().for_each(|v| collect_texts(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_texts(v, out)),
        _ => {}
    }
}

/// Regression (issue 11, "a footgun"): `--slack-approvers '*=*'` without
/// the SubjectAccessReview let every workspace member approve; podmedic now
/// refuses to start, before it even contacts the cluster.
#[test]
fn wildcard_approvers_need_subject_access_review() {
    for approvers in ["*=*", "team-a=U0ALICE,*"] {
        let out = Command::new(env!("CARGO_BIN_EXE_podmedic"))
            .args(["run", "--slack-signing-secret", "s3cret", "--slack-approvers", approvers])
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("every member of the Slack workspace") && err.contains("--chatops-subject-access-review"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `podmedic triage` on malformed and hostile files: an error message and
/// exit code 2, or a diagnosis; never a panic (exit 101) or an abort.
#[test]
fn malformed_triage_inputs_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    let log = write(
        "crash.log",
        "2026-11-27T18:01:04.12345678Z 模型加载失败，显存不足\n\u{feff}\x1b[31m\u{202e}x\n".as_bytes(),
    );
    let binary = write("binary", &(0..=255u8).cycle().take(70_000).collect::<Vec<u8>>());
    let bomb = {
        let mut s = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for i in 0..9u8 {
            let (p, c) = ((b'a' + i) as char, (b'b' + i) as char);
            s.push_str(&format!("{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"));
        }
        write("bomb.yaml", s.as_bytes())
    };
    let deep_yaml = write("deep.yaml", "- ".repeat(100_000).as_bytes());
    let deep_json = write("deep.json", format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).as_bytes());
    let pod_types = write(
        "pod.json",
        br#"{"kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"vllm","resources":{"limits":{"memory":"1e999Ei"}}}]},
            "status":{"containerStatuses":[{"name":"vllm","image":"","imageID":"","ready":false,"restartCount":2147483647,
            "lastState":{"terminated":{"exitCode":-2147483648,"reason":"OOMKilled"}}}]}}"#,
    );
    let two_workloads = write(
        "list.yaml",
        b"kind: List\nitems:\n- {kind: Deployment, metadata: {name: a}}\n- {kind: Deployment, metadata: {name: b}}\n",
    );
    let cases: Vec<Vec<String>> = vec![
        vec!["--log".into(), log.clone()],
        vec!["--log".into(), binary.clone(), "--output".into(), "json".into()],
        vec!["--log".into(), log.clone(), "--workload".into(), bomb.clone()],
        vec!["--log".into(), log.clone(), "--workload".into(), deep_yaml.clone()],
        vec!["--log".into(), log.clone(), "--workload".into(), deep_json.clone()],
        vec!["--log".into(), log.clone(), "--workload".into(), binary.clone()],
        vec!["--log".into(), log.clone(), "--workload".into(), two_workloads],
        vec!["--log".into(), log.clone(), "--pod".into(), bomb],
        vec!["--log".into(), log.clone(), "--pod".into(), deep_json.clone()],
        vec!["--log".into(), log.clone(), "--pod".into(), pod_types],
        vec!["--log".into(), log.clone(), "--events".into(), deep_yaml],
        vec!["--log".into(), log.clone(), "--events".into(), binary],
    ];
    for (i, args) in cases.into_iter().enumerate() {
        // The whole pipeline (with the classifier) on the logs; the
        // signature engine alone for the other files, to keep this quick.
        let engine = if i < 2 { "fused" } else { "signatures" };
        let out = Command::new(env!("CARGO_BIN_EXE_podmedic"))
            .args(["triage", "--engine", engine])
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(0 | 2)), "{args:?}: {:?}\n{err}", out.status);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if out.status.code() == Some(2) {
            assert!(err.starts_with("error: "), "{args:?}: {err}");
        }
    }
}
