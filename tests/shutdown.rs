//! `podmedic run` stops cleanly on SIGTERM and SIGINT, against the real
//! local control plane: it exits 0 within 5 s, well inside the chart's 30 s
//! grace period, and leaves the leader Lease free (holder cleared), so the
//! next replica takes it at once instead of waiting for it to expire. A
//! passive replica stops without touching the leader's Lease.
//!
//! (`scripts/image test` checks the same on the container image, run as
//! PID 1 of its own PID namespace.)
//!
//! Needs `tests/cluster/up` and `eval "$(tests/cluster/env)"`; without a
//! kubeconfig the tests print why and pass as skipped.

#[path = "common/cluster.rs"]
mod cluster;

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use cluster::*;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::{Api, ListParams};
use podmedic::crd::RecoveryProposal;

const TIMEOUT: Duration = Duration::from_secs(90);
/// The bound on stopping: SIGTERM to exit.
const STOP_LIMIT: Duration = Duration::from_secs(5);
const LEASE: &str = "podmedic-shutdown-test";

/// A `podmedic run` replica with leader election on [`LEASE`] in its
/// namespace; killed on drop. Its output goes to a file, shown on failure.
struct Replica {
    child: Child,
    port: u16,
    identity: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Replica {
    fn start(ns: &str, identity: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("podmedic.log");
        let out = std::fs::File::create(&log)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let kubeconfig = kubeconfig_path().context("no kubeconfig")?;
        let child = Command::new(env!("CARGO_BIN_EXE_podmedic"))
            .args(["run", "--dry-run", "--namespaces", ns, "--listen", &format!("127.0.0.1:{port}")])
            .args(["--leader-election=true", "--lease-namespace", ns, "--lease-name", LEASE, "--identity", identity])
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "info,kube=warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("spawning podmedic run")?;
        Ok(Replica { child, port, identity: identity.to_owned(), log, _dir: dir })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn leads(&self) -> bool {
        http_get(self.port, "/metrics").await.is_ok_and(|m| m.lines().any(|l| l == "podmedic_leader 1"))
    }

    async fn serves(&self) -> bool {
        http_get(self.port, "/healthz").await.is_ok_and(|r| r.contains("ok"))
    }

    /// Sends `signal` ("TERM", "INT") to the process.
    fn signal(&self, signal: &str) -> Result<()> {
        let status = Command::new("kill").args(["-s", signal, &self.child.id().to_string()]).status()?;
        ensure!(status.success(), "kill -s {signal} failed: {status}");
        Ok(())
    }

    /// Waits up to `limit` for the process to end.
    async fn wait_exit(&mut self, limit: Duration) -> Result<(ExitStatus, Duration)> {
        let t0 = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok((status, t0.elapsed()));
            }
            if t0.elapsed() > limit {
                bail!("{} still running {limit:?} after the signal; its log:\n{}", self.identity, self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Signals the process and checks that it exits 0 within [`STOP_LIMIT`].
    async fn stop_with(&mut self, signal: &str) -> Result<Duration> {
        self.signal(signal)?;
        let (status, took) = self.wait_exit(STOP_LIMIT).await?;
        ensure!(
            status.success(),
            "{} exited with {status} on SIG{signal}; its log:\n{}",
            self.identity,
            self.log_text()
        );
        Ok(took)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn holder(client: &Client, ns: &str) -> Result<Option<String>> {
    let lease = Api::<Lease>::namespaced(client.clone(), ns).get_opt(LEASE).await?;
    Ok(lease.and_then(|l| l.spec).and_then(|s| s.holder_identity).filter(|h| !h.is_empty()))
}

async fn wait_until_leading(client: &Client, ns: &str, r: &Replica) -> Result<()> {
    poll(&format!("{} to hold the Lease", r.identity), TIMEOUT, || async {
        Ok((r.leads().await && holder(client, ns).await?.as_deref() == Some(r.identity.as_str())).then_some(()))
    })
    .await
}

/// Runs `body` in a fresh namespace with the CRD installed; the namespace
/// is deleted afterwards.
async fn in_namespace<F, Fut>(test: &str, body: F) -> Result<()>
where
    F: FnOnce(Client, String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let Some(client) = client_or_skip(test).await else { return Ok(()) };
    install_crd(&client, "podmedic-tests", TIMEOUT).await?;
    let ns = create_namespace(&client, "shutdown").await?;
    let res = body(client.clone(), ns.clone()).await;
    if res.is_err() {
        dump_namespace(&client, &ns).await;
    }
    delete_namespace(&client, &ns).await?;
    res
}

const KV_LOG: &str = "INFO 11-27 12:00:00 api_server.py:528] vLLM API server version 0.6.3
INFO 11-27 12:00:09 gpu_executor.py:122] # GPU blocks: 1296, # CPU blocks: 2048
ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20736). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.";

/// The leader, busy watching a crash loop it has proposed a fix for, stops
/// on SIGTERM within 5 s with status 0 and clears the Lease's holder; a
/// replica started afterwards leads at once, well before the 15 s the
/// Lease would otherwise take to expire.
#[tokio::test]
async fn sigterm_stops_the_leader_within_5s_and_releases_the_lease() -> Result<()> {
    in_namespace("sigterm_stops_the_leader_within_5s_and_releases_the_lease", |client, ns| async move {
        let mut spec = VllmSpec::new("llama");
        spec.scenario = Some(Scenario::CrashLoop);
        spec.previous_log = Some(cri_log(KV_LOG)?);
        spec.run_duration = Some("2s".into());
        spec.backoff_duration = Some("3s".into());
        create_deployment(&client, &ns, &spec.deployment()).await?;

        let mut a = Replica::start(&ns, "replica-a")?;
        wait_until_leading(&client, &ns, &a).await?;
        let proposals: Api<RecoveryProposal> = Api::namespaced(client.clone(), &ns);
        poll("a RecoveryProposal", TIMEOUT, || async {
            Ok(proposals.list(&ListParams::default()).await?.items.into_iter().find(|p| p.status.is_some()))
        })
        .await?;

        let took = a.stop_with("TERM").await?;
        let h = holder(&client, &ns).await?;
        ensure!(h.is_none(), "the Lease is still held by {h:?} after replica-a exited; its log:\n{}", a.log_text());
        let log = a.log_text();
        ensure!(log.contains("released the leader lease"), "no release logged:\n{log}");
        eprintln!("replica-a stopped {took:?} after SIGTERM");

        let started = Instant::now();
        let b = Replica::start(&ns, "replica-b")?;
        poll("replica-b to hold the Lease", Duration::from_secs(10), || async {
            Ok((holder(&client, &ns).await?.as_deref() == Some("replica-b")).then_some(()))
        })
        .await
        .with_context(|| format!("replica-b's log:\n{}", b.log_text()))?;
        ensure!(started.elapsed() < Duration::from_secs(10), "replica-b waited for the Lease to expire");
        Ok(())
    })
    .await
}

/// A passive replica stops on SIGINT within 5 s with status 0 and leaves
/// the leader's Lease alone; the leader then stops on SIGTERM and releases it.
#[tokio::test]
async fn sigint_stops_a_passive_replica_without_touching_the_leaders_lease() -> Result<()> {
    in_namespace("sigint_stops_a_passive_replica_without_touching_the_leaders_lease", |client, ns| async move {
        let mut a = Replica::start(&ns, "replica-a")?;
        wait_until_leading(&client, &ns, &a).await?;
        let mut b = Replica::start(&ns, "replica-b")?;
        poll("replica-b to serve", TIMEOUT, || async { Ok(b.serves().await.then_some(())) }).await?;
        ensure!(!b.leads().await, "replica-b leads while replica-a holds the Lease");

        b.stop_with("INT").await?;
        ensure!(
            holder(&client, &ns).await?.as_deref() == Some("replica-a"),
            "the passive replica's exit changed the Lease"
        );
        ensure!(a.leads().await, "replica-a stopped leading when replica-b exited");

        a.stop_with("TERM").await?;
        ensure!(holder(&client, &ns).await?.is_none(), "replica-a's Lease is still held; its log:\n{}", a.log_text());
        Ok(())
    })
    .await
}
