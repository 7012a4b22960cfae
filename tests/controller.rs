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

/// A tiny HTTP/1.0 GET on loopback (no client crate needed).
async fn http_get(port: u16, path: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}

/// Runs `body` in a fresh namespace, dumping it on failure.
async fn in_namespace<F, Fut>(prefix: &str, body: F) -> Result<()>
where
    F: FnOnce(Client, String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let client = client().await?;
    install_crd(&client).await?;
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

async fn install_crd(client: &Client) -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::CustomResourceExt;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = RecoveryProposal::crd();
    crds.patch("recoveryproposals.podmedic.io", &PatchParams::apply("podmedic-tests").force(), &Patch::Apply(&crd))
        .await
        .context("installing the CRD")?;
    poll("the RecoveryProposal CRD to be served", TIMEOUT, || async {
        Ok(Api::<RecoveryProposal>::all(client.clone()).list(&ListParams::default().limit(1)).await.ok().map(|_| ()))
    })
    .await
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
        assert!(metrics.contains("podmedic_diagnoses_total{class=\"kv-cache-oom\",source=\"signature\"}"), "{metrics}");
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
