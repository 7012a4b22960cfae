//! The controller end to end against the real local control plane: the
//! `podmedic run` binary watches a namespace where kwok plays crashing
//! vLLM-like Deployments; proposals, decisions, execution, verification,
//! revert, restarts and leader election are checked through the API server.
//!
//! Needs `tests/cluster/up` and `eval "$(tests/cluster/env)"` (`tests/run`
//! does both).

#[path = "common/cluster.rs"]
mod cluster;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cluster::*;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use podmedic::crd::{Phase, RecoveryProposal};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(90);

/// A `podmedic run` process watching one namespace; killed on drop.
struct Controller {
    child: Child,
    port: u16,
}

impl Controller {
    async fn start(ns: &str, extra: &[&str]) -> Result<Self> {
        Self::start_with_env(ns, extra, &[]).await
    }

    /// Starts the binary and waits for `/healthz`; fails at once if it exits.
    async fn start_with_env(ns: &str, extra: &[&str], env: &[(&str, &str)]) -> Result<Self> {
        let port = free_port()?;
        let kubeconfig = kubeconfig_path().context("no kubeconfig")?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_podmedic"));
        cmd.args(["run", "--namespaces", ns, "--listen", &format!("127.0.0.1:{port}"), "--log-tail", "200"])
            .args(["--lease-namespace", ns])
            .args(extra)
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "info,podmedic=debug,kube=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if !extra.iter().any(|a| a.starts_with("--leader-election")) {
            cmd.arg("--leader-election=false");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().context("spawning podmedic run")?;
        let mut ctl = Controller { child, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = ctl.child.try_wait()? {
                bail!("podmedic run exited with {status} before serving /healthz");
            }
            if http_get(port, "/healthz").await.is_ok_and(|r| r.contains("ok")) {
                return Ok(ctl);
            }
            if std::time::Instant::now() > deadline {
                bail!("podmedic run did not serve /healthz within 30s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn metrics(&self) -> Result<String> {
        http_get(self.port, "/metrics").await
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs `body` in a fresh namespace, dumping it on failure.
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
        if let Ok(list) = Api::<RecoveryProposal>::namespaced(client.clone(), &ns).list(&ListParams::default()).await {
            for p in list.items {
                eprintln!("proposal {}: {}", p.name_any(), serde_json::to_string(&p.status).unwrap_or_default());
            }
        }
    }
    delete_namespace(&client, &ns).await?;
    res
}

/// A crash-looping vLLM-like Deployment whose previous log is `log`.
fn crashing(name: &str, log: &str) -> Result<VllmSpec> {
    let mut spec = VllmSpec::new(name);
    spec.scenario = Some(Scenario::CrashLoop);
    spec.previous_log = Some(cri_log(log)?);
    spec.run_duration = Some("2s".into());
    spec.backoff_duration = Some("3s".into());
    Ok(spec)
}

const KV_LOG: &str = "INFO 11-27 12:00:00 api_server.py:528] vLLM API server version 0.6.3
INFO 11-27 12:00:05 model_runner.py:1067] Loading model weights took 14.9888 GB
INFO 11-27 12:00:09 gpu_executor.py:122] # GPU blocks: 1296, # CPU blocks: 2048
ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20736). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.";

async fn wait_for_proposal(client: &Client, ns: &str) -> Result<RecoveryProposal> {
    let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), ns);
    poll("a RecoveryProposal", TIMEOUT, || async {
        Ok(api.list(&ListParams::default()).await?.items.into_iter().find(|p| p.status.is_some()))
    })
    .await
}

async fn wait_for_phase(
    client: &Client,
    ns: &str,
    name: &str,
    phase: Phase,
    timeout: Duration,
) -> Result<RecoveryProposal> {
    let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), ns);
    let last = std::cell::Cell::new(None);
    let res = poll(&format!("proposal {name} in phase {phase:?}"), timeout, || {
        let (api, last) = (&api, &last);
        async move {
            let p = api.get(name).await?;
            let now = p.status.as_ref().map(|s| s.phase);
            last.set(now);
            Ok((now == Some(phase)).then_some(p))
        }
    })
    .await;
    res.with_context(|| format!("last phase: {:?}", last.get()))
}

async fn decide(client: &Client, ns: &str, name: &str, decision: &str, by: &str) -> Result<()> {
    let patch = json!({ "metadata": { "annotations": {
        "podmedic.io/decision": decision, "podmedic.io/decided-by": by } } });
    Api::<RecoveryProposal>::namespaced(client.clone(), ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .context("annotating the proposal")?;
    Ok(())
}

async fn generation(client: &Client, ns: &str, name: &str) -> Result<i64> {
    Ok(Api::<Deployment>::namespaced(client.clone(), ns).get(name).await?.metadata.generation.unwrap_or(0))
}

#[tokio::test]
async fn dry_run_proposes_and_never_executes() -> Result<()> {
    in_namespace("ctl-dry-run", |client, ns| async move {
        let spec = crashing("llama", KV_LOG)?;
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let _ctl = Controller::start(&ns, &["--dry-run"]).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        assert_eq!(p.spec.diagnosis.class.as_str(), "kv-cache-oom");
        assert!(p.spec.dry_run);
        assert_eq!(p.spec.target.kind, "Deployment");
        assert_eq!(p.spec.target.name, "llama");
        assert_eq!(p.spec.diagnosis.captures.get("kv_tokens").map(String::as_str), Some("20736"));
        let before = generation(&client, &ns, "llama").await?;
        decide(&client, &ns, &p.name_any(), "approve", "alice").await?;
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        let p = poll("the dry-run message", TIMEOUT, || async {
            let p = api.get(&p.name_any()).await?;
            Ok(p.status.as_ref().is_some_and(|s| s.message.starts_with("dry-run")).then_some(p))
        })
        .await?;
        assert_eq!(p.status.as_ref().unwrap().phase, Phase::Proposed, "dry-run never leaves Proposed");
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(generation(&client, &ns, "llama").await?, before, "dry-run changed the Deployment");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn one_open_proposal_per_workload_and_class() -> Result<()> {
    in_namespace("ctl-dedupe", |client, ns| async move {
        let spec = crashing("llama", KV_LOG)?;
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let ctl = Controller::start(&ns, &["--dry-run"]).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        // The pod keeps crashing: the same proposal counts the occurrences.
        poll("a second occurrence", TIMEOUT, || async {
            let p = api.get(&p.name_any()).await?;
            Ok((p.status.as_ref().map_or(0, |s| s.occurrences) >= 2).then_some(()))
        })
        .await?;
        assert_eq!(api.list(&ListParams::default()).await?.items.len(), 1);
        let metrics = ctl.metrics().await?;
        assert!(metrics.contains("podmedic_diagnoses_total{class=\"kv-cache-oom\",source="), "{metrics}");
        assert!(metrics.contains("podmedic_event_to_proposal_seconds_count 1"), "{metrics}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn rejection_and_expiry_change_nothing() -> Result<()> {
    in_namespace("ctl-reject", |client, ns| async move {
        let spec = crashing("llama", KV_LOG)?;
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let before = generation(&client, &ns, "llama").await?;
        let ctl = Controller::start(&ns, &["--proposal-ttl", "8s", "--cooldown", "1h"]).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        decide(&client, &ns, &p.name_any(), "reject", "bob").await?;
        let p = wait_for_phase(&client, &ns, &p.name_any(), Phase::Rejected, TIMEOUT).await?;
        let s = p.status.unwrap();
        assert_eq!(s.decided_by.as_deref(), Some("bob"));
        assert!(s.decided_at.is_some());
        assert_eq!(generation(&client, &ns, "llama").await?, before);
        drop(ctl);

        // A second workload left undecided expires.
        let spec = crashing("mistral", KV_LOG)?;
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let _ctl = Controller::start(&ns, &["--proposal-ttl", "6s"]).await?;
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        let p = poll("a proposal for mistral", TIMEOUT, || async {
            Ok(api.list(&ListParams::default()).await?.items.into_iter().find(|p| p.spec.target.name == "mistral"))
        })
        .await?;
        wait_for_phase(&client, &ns, &p.name_any(), Phase::Expired, TIMEOUT).await?;
        // Too late to approve: refused, nothing changes.
        decide(&client, &ns, &p.name_any(), "approve", "alice").await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(api.get(&p.name_any()).await?.status.unwrap().phase, Phase::Expired);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn hostile_annotations_are_refused() -> Result<()> {
    in_namespace("ctl-hostile", |client, ns| async move {
        let spec = crashing("llama", KV_LOG)?;
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let _ctl = Controller::start(&ns, &[]).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        decide(&client, &ns, &p.name_any(), "yes please; rm -rf /", "mallory").await?;
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        let p = poll("the refusal", TIMEOUT, || async {
            let p = api.get(&p.name_any()).await?;
            Ok(p.status.as_ref().is_some_and(|s| s.message.starts_with("decision refused")).then_some(p))
        })
        .await?;
        assert_eq!(p.status.unwrap().phase, Phase::Proposed);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_second_replica_stays_passive() -> Result<()> {
    in_namespace("ctl-leader", |client, ns| async move {
        let spec = crashing("llama", KV_LOG)?;
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let a = Controller::start(&ns, &["--dry-run", "--leader-election=true", "--identity", "replica-a"]).await?;
        let b = Controller::start(&ns, &["--dry-run", "--leader-election=true", "--identity", "replica-b"]).await?;
        wait_for_proposal(&client, &ns).await?;
        let leaders = poll("exactly one leader", TIMEOUT, || async {
            let (ma, mb) = (a.metrics().await.unwrap_or_default(), b.metrics().await.unwrap_or_default());
            let leads = |m: &str| m.lines().any(|l| l == "podmedic_leader 1");
            let (la, lb) = (leads(&ma), leads(&mb));
            Ok((la ^ lb).then_some((la, ma, mb)))
        })
        .await?;
        let (a_leads, ma, mb) = leaders;
        let passive = if a_leads { &mb } else { &ma };
        assert!(!passive.contains("podmedic_diagnoses_total{"), "the passive replica diagnosed:\n{passive}");
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        assert_eq!(api.list(&ListParams::default()).await?.items.len(), 1);
        Ok(())
    })
    .await
}

/// A KV-cache crash loop that the plan's `--max-model-len 20736` heals.
fn healable_kv(name: &str) -> Result<VllmSpec> {
    let mut spec = crashing(name, KV_LOG)?;
    spec.broken_while_args_contain = Some("32768".into());
    Ok(spec)
}

async fn container_args(client: &Client, ns: &str, name: &str) -> Result<Vec<String>> {
    let d = Api::<Deployment>::namespaced(client.clone(), ns).get(name).await?;
    Ok(d.spec
        .and_then(|s| s.template.spec)
        .map(|s| s.containers[0].args.clone().unwrap_or_default())
        .unwrap_or_default())
}

async fn revision(client: &Client, ns: &str, name: &str) -> Result<String> {
    let d = Api::<Deployment>::namespaced(client.clone(), ns).get(name).await?;
    Ok(d.annotations().get("deployment.kubernetes.io/revision").cloned().unwrap_or_default())
}

#[tokio::test]
async fn approval_executes_the_fix_and_verification_passes() -> Result<()> {
    in_namespace("ctl-approve", |client, ns| async move {
        // A floating tag: the engine's version can come only from the log's head.
        let mut spec = healable_kv("llama")?;
        spec.image = "vllm/vllm-openai:latest".into();
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let ctl = Controller::start(&ns, &["--verify-window-cap", "4s"]).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        let plan = p.spec.plan.clone().context("the proposal has a plan")?;
        assert_eq!(plan.playbook, "kv-cache-vllm-fit-context");
        // The head of the previous log (read with limitBytes beside the tail) gave the engine's version.
        assert_eq!(plan.target.server_version.as_deref(), Some("0.6.3"), "{:?}", plan.target);
        assert!(container_args(&client, &ns, "llama").await?.contains(&"32768".to_owned()));
        decide(&client, &ns, &p.name_any(), "approve", "alice").await?;
        let done = wait_for_phase(&client, &ns, &p.name_any(), Phase::Succeeded, TIMEOUT).await?;
        let status = done.status.unwrap();
        assert_eq!(
            (status.decided_by.as_deref(), status.decided_via),
            (Some("alice"), Some(podmedic::crd::DecidedVia::Annotation))
        );
        assert!(
            status.steps.iter().all(|s| matches!(s.state, podmedic::crd::StepState::Applied)),
            "{:?}",
            status.steps
        );
        let args = container_args(&client, &ns, "llama").await?;
        assert!(args.contains(&"20736".to_owned()) && !args.contains(&"32768".to_owned()), "{args:?}");
        // The real controller-manager rolled out a new ReplicaSet whose pod is Ready.
        assert_eq!(revision(&client, &ns, "llama").await?, "2");
        wait_for_ready_pod(&client, &ns, "llama", TIMEOUT).await?;
        let m = ctl.metrics().await?;
        assert!(m.contains("podmedic_actions_total{action=\"set-arg\",result=\"applied\"} 1"), "{m}");
        assert!(m.lines().any(|l| l == "podmedic_proposal_transitions_total{phase=\"Succeeded\"} 1"), "{m}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn failed_verification_reverts_the_fix() -> Result<()> {
    in_namespace("ctl-revert", |client, ns| async move {
        // Broken whatever the context length: the fix does not help.
        let mut spec = crashing("llama", KV_LOG)?;
        spec.broken_while_args_contain = Some("--model".into());
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let _ctl = Controller::start(&ns, &["--verify-window-cap", "4s"]).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        let before = container_args(&client, &ns, "llama").await?;
        decide(&client, &ns, &p.name_any(), "approve", "alice").await?;
        let done = wait_for_phase(&client, &ns, &p.name_any(), Phase::RolledBack, TIMEOUT).await?;
        let status = done.status.unwrap();
        assert!(
            status.steps.iter().any(|s| s.id == "verify" && s.message.contains("restarted after the fix")),
            "{:?}",
            status.steps
        );
        assert!(status.steps.iter().any(|s| s.state == podmedic::crd::StepState::Reverted), "{:?}", status.steps);
        assert_eq!(container_args(&client, &ns, "llama").await?, before, "the revert restores the original args");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_restart_mid_execution_applies_each_step_once() -> Result<()> {
    in_namespace("ctl-resume", |client, ns| async move {
        create_deployment(&client, &ns, &healable_kv("llama")?.deployment()).await?;
        // The first controller dies right after its patch reached the API
        // server and before it recorded the step as applied.
        let mut first = Controller::start_with_env(
            &ns,
            &["--verify-window-cap", "4s"],
            &[("PODMEDIC_FAILPOINT", "exit-after-apply")],
        )
        .await?;
        let p = wait_for_proposal(&client, &ns).await?;
        decide(&client, &ns, &p.name_any(), "approve", "alice").await?;
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        let deadline = std::time::Instant::now() + TIMEOUT;
        while first.child.try_wait()?.is_none() {
            anyhow::ensure!(std::time::Instant::now() < deadline, "the first controller never reached the failpoint");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mid = api.get(&p.name_any()).await?.status.unwrap();
        assert_eq!(mid.phase, Phase::Executing);
        assert!(mid.steps.iter().any(|s| s.state == podmedic::crd::StepState::Applying), "{:?}", mid.steps);
        assert!(container_args(&client, &ns, "llama").await?.contains(&"20736".to_owned()), "the patch landed");
        first.kill();
        // A new controller resumes from the status.
        let _second = Controller::start(&ns, &["--verify-window-cap", "4s"]).await?;
        let done = wait_for_phase(&client, &ns, &p.name_any(), Phase::Succeeded, TIMEOUT).await?;
        let steps = done.status.unwrap().steps;
        assert!(
            steps.iter().any(|s| s.message.contains("found in place")),
            "the resumed step was not re-sent: {steps:?}"
        );
        assert_eq!(revision(&client, &ns, "llama").await?, "2", "exactly one rollout");
        Ok(())
    })
    .await
}

/// Every failure class, played by kwok on the real API server, gets its
/// proposal with that class and a plan from that class's playbooks.
#[tokio::test]
async fn each_failure_class_gets_its_proposal_and_plan() -> Result<()> {
    in_namespace("ctl-classes", |client, ns| async move {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logs");
        // (workload, scenario, fixture log, class, playbook it must pick — or a prefix)
        let cases: &[(&str, Scenario, &str, &str, &str)] = &[
            (
                "driver",
                Scenario::CrashLoop,
                "cuda-driver-mismatch/vllm-driver-too-old-then-no-gpus.log",
                "cuda-driver-mismatch",
                "cuda-driver-pin-nodes",
            ),
            (
                "kv",
                Scenario::CrashLoop,
                "kv-cache-oom/vllm-v1-kv-needed-exceeds-available.log",
                "kv-cache-oom",
                "kv-cache-vllm-fit-context",
            ),
            ("gpuoom", Scenario::CrashLoop, "gpu-oom/vllm-tp-load-oom-then-nccl-error.log", "gpu-oom", "gpu-oom-"),
            (
                "hostoom",
                Scenario::OomKilled,
                "host-oom/vllm-killed-loading-weights.log",
                "host-oom",
                "host-oom-raise-memory",
            ),
            (
                "weights",
                Scenario::CrashLoop,
                "weight-load-failure/sglang-download-disk-full.log",
                "weight-load-failure",
                "weight-load-",
            ),
            (
                "nccl",
                Scenario::CrashLoop,
                "nccl-failure/vllm-tp-dev-shm-too-small.log",
                "nccl-failure",
                "nccl-mount-shm",
            ),
            // The log alone never moves a node: no node-level corroboration here.
            (
                "xid",
                Scenario::CrashLoop,
                "gpu-hardware-fault/vllm-xid79-then-nccl-errors.log",
                "gpu-hardware-fault",
                "gpu-fault-notify",
            ),
            (
                "nogpu",
                Scenario::CrashLoop,
                "no-gpu-visible/vllm-failed-to-infer-device.log",
                "no-gpu-visible",
                "no-gpu-",
            ),
            (
                "config",
                Scenario::CrashLoop,
                "config-error/vllm-unrecognized-arguments.log",
                "config-error",
                "config-error-",
            ),
            (
                "probe",
                Scenario::ProbeKill,
                "startup-probe-kill/vllm-70b-loading-startup-probe.log",
                "startup-probe-kill",
                "startup-probe-lengthen",
            ),
            ("other", Scenario::CrashLoop, "unknown/segfault-in-tokenizer.log", "unknown", "unknown-notify"),
        ];
        for (name, scenario, log, _, _) in cases {
            let mut spec = crashing(name, "")?;
            spec.scenario = Some(*scenario);
            spec.previous_log = Some(cri_log_from_file(fixtures.join(log))?);
            match *name {
                // The workload as the log describes it.
                "kv" => spec.max_model_len = 40960,
                // Killed after its whole 3 s startup budget, as a kubelet would.
                "probe" => {
                    spec.startup_probe = Some((1, 3));
                    spec.run_duration = Some("3s".into());
                }
                _ => {}
            }
            create_deployment(&client, &ns, &spec.deployment()).await?;
        }
        let _ctl = Controller::start(&ns, &["--dry-run"]).await?;
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        let proposals = poll("a proposal for every workload", Duration::from_secs(150), || async {
            let items = api.list(&ListParams::default()).await?.items;
            let all = cases.iter().all(|(n, ..)| items.iter().any(|p| p.spec.target.name == *n && p.status.is_some()));
            Ok(all.then_some(items))
        })
        .await?;
        let mut wrong = Vec::new();
        for (name, _, log, class, playbook) in cases {
            let p = proposals.iter().find(|p| p.spec.target.name == *name).expect("polled for it");
            let got_class = p.spec.diagnosis.class.as_str();
            let got_playbook = p.spec.plan.as_ref().map_or("(none)", |v| v.playbook.as_str());
            let ok = got_class == *class
                && (got_playbook == *playbook || (playbook.ends_with('-') && got_playbook.starts_with(playbook)));
            if !ok {
                wrong.push(format!(
                    "{name} ({log}): got {got_class} / {got_playbook}, want {class} / {playbook}: {}",
                    p.spec.diagnosis.summary
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        Ok(())
    })
    .await
}

/// POSTs `body` on loopback; returns the status line and body.
async fn http_post(port: u16, path: &str, headers: &[(&str, String)], body: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let mut req = format!("POST {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

/// A Slack button click, signed exactly as Slack signs it.
fn signed_click(secret: &str, user: &str, action: &str, value: &str) -> (Vec<(&'static str, String)>, String) {
    use hmac::{KeyInit, Mac};
    let mut payload: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/chatops/block_actions.json")).expect("fixture");
    payload["user"]["id"] = json!(user);
    payload["response_url"] = json!("http://127.0.0.1:9/unused");
    payload["actions"][0]["action_id"] = json!(action);
    payload["actions"][0]["value"] = json!(value);
    let body = form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish();
    let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{ts}:{body}").as_bytes());
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let headers = vec![
        ("Content-Type", "application/x-www-form-urlencoded".to_owned()),
        ("X-Slack-Request-Timestamp", ts.to_string()),
        ("X-Slack-Signature", format!("v0={sig}")),
    ];
    (headers, body)
}

/// The whole loop from a chat button: `podmedic run` serves the Slack
/// endpoint; a forged click is refused; a signed click by an allowed
/// approver executes and verifies the fix.
#[tokio::test]
async fn a_slack_button_approves_and_the_fix_is_executed() -> Result<()> {
    in_namespace("ctl-slack", |client, ns| async move {
        create_deployment(&client, &ns, &healable_kv("llama")?.deployment()).await?;
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let approvers = format!("{ns}=U0SRE");
        let ctl = Controller::start(
            &ns,
            &["--verify-window-cap", "4s", "--slack-signing-secret", secret, "--slack-approvers", &approvers],
        )
        .await?;
        let p = wait_for_proposal(&client, &ns).await?;
        let value = format!("{ns}/{}/{}", p.name_any(), p.spec.content_hash);
        let path = "/chatops/slack/interactions";

        let (headers, body) = signed_click("not-the-secret", "U0SRE", "podmedic:approve", &value);
        let resp = http_post(ctl.port, path, &headers, &body).await?;
        assert!(resp.starts_with("HTTP/1.0 401") || resp.starts_with("HTTP/1.1 401"), "{resp}");
        let (headers, body) = signed_click(secret, "U0MALLORY", "podmedic:approve", &value);
        let resp = http_post(ctl.port, path, &headers, &body).await?;
        assert!(resp.contains(" 403 "), "{resp}");
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        assert_eq!(
            api.get(&p.name_any()).await?.status.unwrap().phase,
            Phase::Proposed,
            "refused clicks change nothing"
        );

        let (headers, body) = signed_click(secret, "U0SRE", "podmedic:approve", &value);
        let resp = http_post(ctl.port, path, &headers, &body).await?;
        assert!(resp.contains(" 200 ") || resp.contains(" 202 "), "{resp}");
        // The same request again is a replay.
        let resp = http_post(ctl.port, path, &headers, &body).await?;
        assert!(resp.contains(" 409 ") || resp.contains(" 401 "), "{resp}");
        let done = wait_for_phase(&client, &ns, &p.name_any(), Phase::Succeeded, TIMEOUT).await?;
        let s = done.status.unwrap();
        assert_eq!(
            (s.decided_by.as_deref(), s.decided_via),
            (Some("slack:U0SRE"), Some(podmedic::crd::DecidedVia::Slack))
        );
        assert!(container_args(&client, &ns, "llama").await?.contains(&"20736".to_owned()));
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------
// The safety contract (issue 11), on the real API server without the
// admission policy: everything here must hold with RBAC and podmedic's own
// checks alone.
// ---------------------------------------------------------------------------

async fn workload_generation(client: &Client, ns: &str, name: &str) -> Result<i64> {
    generation(client, ns, name).await
}

/// Someone with `create` (and even status) rights makes a "pre-approved"
/// proposal with a plan of their own, decided-by a real approver: podmedic
/// never executes it, never stamps it, and its own proposals still work.
#[tokio::test]
async fn a_proposal_podmedic_did_not_make_is_never_executed() -> Result<()> {
    in_namespace("ctl-forged", |client, ns| async move {
        create_deployment(&client, &ns, &healable_kv("llama")?.deployment()).await?;
        let ctl = Controller::start(&ns, &["--verify-window-cap", "4s"]).await?;
        let genuine = wait_for_proposal(&client, &ns).await?;
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        let before = workload_generation(&client, &ns, "llama").await?;

        // A copy of podmedic's own spec (so the plan is valid), pre-approved,
        // with a status forged by someone who may write it, stamp included.
        let mut forged = RecoveryProposal::new("llama-forged", genuine.spec.clone());
        forged.metadata.labels = genuine.metadata.labels.clone();
        forged.metadata.annotations = Some(
            [
                ("podmedic.io/decision".to_owned(), "approve".to_owned()),
                ("podmedic.io/decided-by".to_owned(), "sre-oncall".to_owned()),
            ]
            .into(),
        );
        let forged = api.create(&kube::api::PostParams::default(), &forged).await?;
        let mut status = genuine.status.clone().unwrap_or_default();
        status.phase = Phase::Approved;
        status.decided_by = Some("sre-oncall".into());
        status.decided_via = Some(podmedic::crd::DecidedVia::Annotation);
        let forged = podmedic::approval::replace_status(&api, &forged, status).await?;
        assert!(!podmedic::crd::is_stamped(&forged), "a copied stamp does not fit another object");

        tokio::time::sleep(Duration::from_secs(8)).await;
        let now = api.get("llama-forged").await?;
        let s = now.status.unwrap_or_default();
        assert_eq!(s.phase, Phase::Approved, "podmedic left it alone");
        assert!(s.steps.is_empty(), "nothing was executed: {:?}", s.steps);
        assert_eq!(workload_generation(&client, &ns, "llama").await?, before, "the workload is untouched");
        let m = ctl.metrics().await?;
        assert!(!m.contains("podmedic_actions_total{action=\"set-arg\",result=\"applied\"}"), "{m}");

        // podmedic's own proposal still waits for a human, and works.
        assert_eq!(api.get(&genuine.name_any()).await?.status.unwrap().phase, Phase::Proposed);
        decide(&client, &ns, &genuine.name_any(), "approve", "alice").await?;
        wait_for_phase(&client, &ns, &genuine.name_any(), Phase::Succeeded, TIMEOUT).await?;
        Ok(())
    })
    .await
}

/// `--dry-run` is a kill switch: a proposal made while podmedic ran live is
/// not executed after a restart in dry-run; the decision is recorded as
/// `NotExecuted` (ending the proposal, so the workload is not wedged: its
/// next crash gets a new proposal after the cooldown).
#[tokio::test]
async fn dry_run_is_a_kill_switch_and_never_wedges_a_workload() -> Result<()> {
    in_namespace("ctl-killswitch", |client, ns| async move {
        create_deployment(&client, &ns, &healable_kv("llama")?.deployment()).await?;
        let mut live = Controller::start(&ns, &[]).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        assert!(!p.spec.dry_run);
        live.kill();
        let before = workload_generation(&client, &ns, "llama").await?;
        let dry = Controller::start(&ns, &["--dry-run", "--cooldown", "1s"]).await?;
        decide(&client, &ns, &p.name_any(), "approve", "alice").await?;
        let done = wait_for_phase(&client, &ns, &p.name_any(), Phase::NotExecuted, TIMEOUT).await?;
        let s = done.status.unwrap();
        assert_eq!(
            (s.decided_by.as_deref(), s.decided_via),
            (Some("alice"), Some(podmedic::crd::DecidedVia::Annotation))
        );
        assert!(s.steps.is_empty(), "{:?}", s.steps);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(workload_generation(&client, &ns, "llama").await?, before, "nothing executed in dry-run");
        // Not wedged: the crash loop goes on and gets a new proposal.
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        let old = p.name_any();
        poll("a new proposal after the decision", TIMEOUT, || async {
            let items = api.list(&ListParams::default()).await?.items;
            Ok(items.into_iter().find(|x| x.name_any() != old && x.status.is_some()))
        })
        .await?;
        drop(dry);
        Ok(())
    })
    .await
}

/// An approval given while execution could not start is not executed after
/// `expiresAt` (here: approved while podmedic ran in dry-run, resumed live
/// after expiry).
#[tokio::test]
async fn an_approval_is_never_executed_after_the_proposal_expired() -> Result<()> {
    in_namespace("ctl-stale", |client, ns| async move {
        create_deployment(&client, &ns, &healable_kv("llama")?.deployment()).await?;
        let mut live = Controller::start(&ns, &["--proposal-ttl", "12s"]).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        live.kill();
        // Recorded as Approved by a live controller that then stops before starting it.
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        let cur = api.get(&p.name_any()).await?;
        let mut s = cur.status.clone().unwrap();
        s.phase = Phase::Approved;
        s.decided_by = Some("alice".into());
        s.decided_via = Some(podmedic::crd::DecidedVia::Annotation);
        s.decided_at = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()));
        podmedic::approval::replace_status(&api, &cur, s).await?;
        let before = workload_generation(&client, &ns, "llama").await?;
        let until = p.spec.expires_at.0.duration_since(k8s_openapi::jiff::Timestamp::now());
        tokio::time::sleep(until.unsigned_abs() + Duration::from_secs(1)).await;
        let _ctl = Controller::start(&ns, &[]).await?;
        let done = wait_for_phase(&client, &ns, &p.name_any(), Phase::Expired, TIMEOUT).await?;
        assert!(done.status.unwrap().message.contains("not started before it expired"));
        assert_eq!(workload_generation(&client, &ns, "llama").await?, before);
        Ok(())
    })
    .await
}

/// A human edits the args after the fix; the fix does not help; the revert
/// is refused instead of writing the old value into the moved slot.
#[tokio::test]
async fn a_revert_never_overwrites_a_human_edit() -> Result<()> {
    in_namespace("ctl-clobber", |client, ns| async move {
        let mut spec = crashing("llama", KV_LOG)?;
        spec.broken_while_args_contain = Some("--model".into());
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let _ctl = Controller::start(&ns, &["--verify-window-cap", "30s"]).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        decide(&client, &ns, &p.name_any(), "approve", "alice").await?;
        wait_for_phase(&client, &ns, &p.name_any(), Phase::Verifying, TIMEOUT).await?;
        // The human's edit: an argument in front (every index moves).
        let deps: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        let mut args = container_args(&client, &ns, "llama").await?;
        assert!(args.contains(&"20736".to_owned()), "{args:?}");
        args.insert(0, "--enforce-eager".into());
        let patch = json!([{ "op": "replace", "path": "/spec/template/spec/containers/0/args", "value": args }]);
        let patch: json_patch::Patch = serde_json::from_value(patch)?;
        deps.patch("llama", &PatchParams::default(), &Patch::<()>::Json(patch)).await?;
        let done = wait_for_phase(&client, &ns, &p.name_any(), Phase::Failed, TIMEOUT).await?;
        let s = done.status.unwrap();
        assert!(s.steps.iter().any(|x| x.state == podmedic::crd::StepState::RevertRefused), "{:?}", s.steps);
        assert_eq!(container_args(&client, &ns, "llama").await?, args, "the human's args are untouched");
        Ok(())
    })
    .await
}

/// A node-level fix needs node-level corroboration; a cordon podmedic did
/// not set is never undone by its revert, and its own cordon is.
#[tokio::test]
async fn cordons_are_corroborated_and_only_podmedics_own_are_undone() -> Result<()> {
    in_namespace("ctl-cordon", |client, ns| async move {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/logs");
        let xid = cri_log_from_file(fixtures.join("gpu-hardware-fault/vllm-xid79-then-nccl-errors.log"))?;
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
        // Two nodes whose device plugin withdrew a GPU (allocatable 7 of 8).
        let mut names = Vec::new();
        for n in ["a", "b"] {
            let name = format!("{ns}-{n}");
            let mut node = gpu_node(&name, "570.133.20", "12.8");
            if let Some(st) = node.status.as_mut()
                && let Some(a) = st.allocatable.as_mut()
            {
                a.insert("nvidia.com/gpu".into(), k8s_openapi::apimachinery::pkg::api::resource::Quantity("7".into()));
            }
            create_node(&client, &node).await?;
            names.push(name);
        }
        let res = async {
            for (w, node) in [("on-a", &names[0]), ("on-b", &names[1])] {
                let mut spec = crashing(w, "")?;
                spec.previous_log = Some(xid.clone());
                spec.node_selector = [("kubernetes.io/hostname".to_owned(), node.clone())].into();
                create_deployment(&client, &ns, &spec.deployment()).await?;
            }
            let _ctl = Controller::start(
                &ns,
                &["--verify-window-cap", "3s", "--verify-ready-cap", "8s", "--max-cordoned-nodes", "5"],
            )
            .await?;
            let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
            let both = poll("two proposals", TIMEOUT, || async {
                let items: Vec<_> =
                    api.list(&ListParams::default()).await?.items.into_iter().filter(|p| p.status.is_some()).collect();
                Ok((items.len() >= 2).then_some(items))
            })
            .await?;
            // Node a is cordoned by an admin (maintenance) before the approvals.
            let cordon = json!({"spec": {"unschedulable": true}});
            nodes.patch(&names[0], &PatchParams::default(), &Patch::Merge(&cordon)).await?;
            for p in &both {
                let plan = p.spec.plan.as_ref().context("plan")?;
                assert_eq!(plan.playbook, "gpu-fault-cordon-and-reschedule", "{:?}", plan.considered);
                decide(&client, &ns, &p.name_any(), "approve", "alice").await?;
            }
            // The rescheduled pods cannot start anywhere (pinned): not Ready in time → reverted.
            for p in &both {
                let done =
                    wait_for_phase(&client, &ns, &p.name_any(), Phase::RolledBack, Duration::from_secs(150)).await?;
                let s = done.status.unwrap();
                let cordon = s.steps.iter().find(|x| x.id == "cordon").context("cordon step")?;
                if p.spec.target.name == "on-a" {
                    assert!(cordon.unchanged && cordon.message.contains("already cordoned"), "{cordon:?}");
                } else {
                    assert_eq!(cordon.state, podmedic::crd::StepState::Reverted, "{cordon:?}");
                }
            }
            let a = nodes.get(&names[0]).await?;
            assert_eq!(a.spec.and_then(|s| s.unschedulable), Some(true), "the admin's cordon stays");
            let b = nodes.get(&names[1]).await?;
            assert_ne!(b.spec.as_ref().and_then(|s| s.unschedulable), Some(true), "podmedic undid its own cordon");
            assert!(!b.annotations().contains_key(podmedic::crd::CORDONED_BY_ANNOTATION));
            anyhow::Ok(())
        }
        .await;
        for n in &names {
            delete_node(&client, n).await?;
        }
        res
    })
    .await
}

/// A human changes the workload after the proposal: approving it then
/// supersedes it and changes nothing.
#[tokio::test]
async fn a_changed_workload_supersedes_its_proposal() -> Result<()> {
    in_namespace("ctl-supersede", |client, ns| async move {
        create_deployment(&client, &ns, &healable_kv("llama")?.deployment()).await?;
        let _ctl = Controller::start(&ns, &["--dry-run=false"]).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        let deps: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.7.0"}]}}}});
        deps.patch("llama", &PatchParams::default(), &Patch::Strategic(&patch)).await?;
        let before = workload_generation(&client, &ns, "llama").await?;
        decide(&client, &ns, &p.name_any(), "approve", "alice").await?;
        let done = wait_for_phase(&client, &ns, &p.name_any(), Phase::Superseded, TIMEOUT).await?;
        assert!(done.status.unwrap().message.contains("pod template changed"));
        assert_eq!(workload_generation(&client, &ns, "llama").await?, before);
        Ok(())
    })
    .await
}

/// Workload names longer than a label value still get proposals; the
/// proposals gauge counts them; podmedic's finalizer is on each proposal and
/// released when a proposal that never ran is deleted.
#[tokio::test]
async fn long_names_the_gauge_and_the_finalizer() -> Result<()> {
    in_namespace("ctl-names", |client, ns| async move {
        let name = format!("llama-{}", "x".repeat(70));
        let mut dep = crashing(&name, KV_LOG)?.deployment();
        let labels: std::collections::BTreeMap<String, String> = [("app".to_owned(), "long".to_owned())].into();
        dep.metadata.labels = Some(labels.clone());
        if let Some(s) = dep.spec.as_mut() {
            s.selector.match_labels = Some(labels.clone());
            if let Some(m) = s.template.metadata.as_mut() {
                m.labels.get_or_insert_with(Default::default).insert("app".into(), "long".into());
            }
        }
        create_deployment(&client, &ns, &dep).await?;
        let ctl = Controller::start(&ns, &["--dry-run"]).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        assert_eq!(p.spec.target.name, name);
        assert!(p.finalizers().iter().any(|f| f == podmedic::crd::FINALIZER));
        assert!(podmedic::crd::is_stamped(&p));
        let m = poll("the proposals gauge", TIMEOUT, || async {
            let m = ctl.metrics().await?;
            Ok(m.lines().any(|l| l == "podmedic_proposals{phase=\"Proposed\"} 1").then_some(m))
        })
        .await?;
        assert!(m.lines().any(|l| l == "podmedic_proposals{phase=\"Succeeded\"} 0"), "{m}");
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        api.delete(&p.name_any(), &kube::api::DeleteParams::default()).await?;
        poll("the proposal to be gone", TIMEOUT, || async {
            Ok(api.get_opt(&p.name_any()).await?.is_none().then_some(()))
        })
        .await?;
        Ok(())
    })
    .await
}

/// A captured Slack click replayed to another replica is refused: the
/// replay guard lives in the proposal's status, not in a process.
#[tokio::test]
async fn a_replayed_click_is_refused_by_every_replica() -> Result<()> {
    in_namespace("ctl-replay", |client, ns| async move {
        create_deployment(&client, &ns, &healable_kv("llama")?.deployment()).await?;
        let secret = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
        let approvers = format!("{ns}=U0SRE");
        let args = ["--dry-run", "--slack-signing-secret", secret, "--slack-approvers", approvers.as_str()];
        let a = Controller::start(&ns, &args).await?;
        let b = Controller::start(&ns, &args).await?;
        let p = wait_for_proposal(&client, &ns).await?;
        let value = format!("{ns}/{}/{}", p.name_any(), p.spec.content_hash);
        let path = "/chatops/slack/interactions";
        let (headers, body) = signed_click(secret, "U0SRE", "podmedic:reject", &value);
        let first = http_post(a.port, path, &headers, &body).await?;
        assert!(first.contains(" 200 "), "{first}");
        let replay = http_post(b.port, path, &headers, &body).await?;
        assert!(replay.contains(" 409 ") && replay.contains("replay"), "{replay}");
        let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        assert_eq!(api.get(&p.name_any()).await?.status.unwrap().phase, Phase::Rejected);
        Ok(())
    })
    .await
}

/// In dry-run, a decision through ChatOps is recorded exactly as one by
/// annotation: `NotExecuted`, never left `Approved`.
#[tokio::test]
async fn a_dry_run_chatops_decision_is_recorded_like_an_annotation() -> Result<()> {
    in_namespace("ctl-dry-chat", |client, ns| async move {
        create_deployment(&client, &ns, &healable_kv("llama")?.deployment()).await?;
        let secret = "ffeeddccbbaa99887766554433221100";
        let approvers = format!("{ns}=U0SRE");
        let ctl =
            Controller::start(&ns, &["--dry-run", "--slack-signing-secret", secret, "--slack-approvers", &approvers])
                .await?;
        let p = wait_for_proposal(&client, &ns).await?;
        let value = format!("{ns}/{}/{}", p.name_any(), p.spec.content_hash);
        let (headers, body) = signed_click(secret, "U0SRE", "podmedic:approve", &value);
        let resp = http_post(ctl.port, "/chatops/slack/interactions", &headers, &body).await?;
        assert!(resp.contains(" 200 "), "{resp}");
        let done = wait_for_phase(&client, &ns, &p.name_any(), Phase::NotExecuted, TIMEOUT).await?;
        assert_eq!(done.status.unwrap().decided_via, Some(podmedic::crd::DecidedVia::Slack));
        Ok(())
    })
    .await
}
