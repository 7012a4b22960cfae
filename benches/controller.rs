//! The controller at scale, against the real local control plane: event →
//! proposal latency and the controller's memory.
//!
//! Creates fake kwok nodes and, in a fresh namespace, `PODMEDIC_BENCH_PODS`
//! bare vLLM-like pods (default 1,000), waits until kwok has them all
//! Running, then starts the release `podmedic run` binary (dry run, no
//! leader election, `--restart-threshold 1`) on that namespace. Once it is
//! ready, `PODMEDIC_BENCH_CRASHING` of the pods (default 100; created last,
//! so they are part of the total) crash once with a vLLM KV-cache
//! `ValueError` as their previous log, and stay in CrashLoopBackOff.
//!
//! Latency: this process watches the crash-looping pods and the
//! RecoveryProposals and notes, on one monotonic clock, when it first sees
//! each pod in CrashLoopBackOff (the status change has reached the API
//! server) and when it first sees that pod's proposal (created, and with its
//! status written). Both are seen over loopback watches by the same process,
//! so the watch delivery delay cancels out. The controller's own histogram
//! `podmedic_event_to_proposal_seconds` is scraped as a cross-check.
//!
//! Memory: VmRSS of the controller from `/proc/<pid>/status`, idle (an empty
//! namespace), after the initial list, sampled every 50 ms during the
//! crashes, and at the end; VmHWM is the kernel's peak.
//!
//! Baselines, same run: the idle controller's RSS, and a bare reaction done
//! by this process for the same pods (read the pod, read the previous log,
//! create a ConfigMap), all at once, 16 at a time, as the controller works.
//!
//! `cargo bench --bench controller` (needs `tests/cluster/up` and
//! `eval "$(tests/cluster/env)"`; without a plane it says so and exits 0).
//! Settings: `PODMEDIC_BENCH_PODS`, `PODMEDIC_BENCH_CRASHING`,
//! `PODMEDIC_BENCH_SPREAD_S` (spread the crashes over this many seconds;
//! default 0: they all crash within about a second, as after a bad rollout),
//! `PODMEDIC_BENCH_PODS_PER_NODE` (default 250), `PODMEDIC_BENCH_KEEP_LOG`
//! (keep the controller's log; it inherits `RUST_LOG`), `PODMEDIC_BENCH_BIN`
//! (another `podmedic` binary, e.g. to compare a change with main),
//! `PODMEDIC_BENCH_ARGS` (more flags for `podmedic run`, e.g.
//! `--engine signatures`). With `PODMEDIC_PROMETHEUS_URL` set (as
//! `tests/cluster/env` sets it) the controller runs with `--prometheus-url`
//! and every crash's serving metrics are read from the test Prometheus: the
//! bench first backfills the recorded story `vllm-v1-kv-saturation` (six
//! series, 10 minutes at 15 s) for each crash-looping pod, so each query
//! returns a real window of samples. Everything else the
//! bench creates is deleted at the end, also after a failure or Ctrl-C.

#[path = "../tests/common/cluster.rs"]
mod cluster;
#[path = "../tests/common/stories.rs"]
mod stories;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use cluster::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use podmedic::crd::RecoveryProposal;
use serde_json::json;

/// Label on the bench's nodes; value: the run id.
const NODE_LABEL: &str = "podmedic.bench/run";
/// How many API calls the bench makes at once when creating objects.
const CREATE_CONCURRENCY: usize = 32;
/// The controller handles this many crashes at once (`CRASH_CONCURRENCY`);
/// the bare-reaction baseline uses the same.
const REACTION_CONCURRENCY: usize = 16;
/// How long a crash-looping container runs before its one crash.
const RUN_DURATION_MS: u64 = 5000;
const MIB: f64 = 1024.0;

struct Settings {
    pods: usize,
    crashing: usize,
    spread: Duration,
    pods_per_node: usize,
}

impl Settings {
    fn from_env() -> Result<Self> {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| anyhow!("{name}={v:?} is not a number")),
                _ => Ok(default),
            }
        }
        let s = Settings {
            pods: var("PODMEDIC_BENCH_PODS", 1000)?,
            crashing: var("PODMEDIC_BENCH_CRASHING", 100)?,
            spread: Duration::from_secs_f64(var("PODMEDIC_BENCH_SPREAD_S", 0.0f64)?.max(0.0)),
            pods_per_node: var("PODMEDIC_BENCH_PODS_PER_NODE", 250)?,
        };
        if s.crashing == 0 || s.crashing > s.pods {
            bail!("need 0 < PODMEDIC_BENCH_CRASHING ({}) <= PODMEDIC_BENCH_PODS ({})", s.crashing, s.pods);
        }
        if s.pods_per_node == 0 {
            bail!("PODMEDIC_BENCH_PODS_PER_NODE must be at least 1");
        }
        Ok(s)
    }

    fn nodes(&self) -> usize {
        self.pods.div_ceil(self.pods_per_node)
    }
}

/// What the bench created, deleted at the end whatever happened.
#[derive(Default)]
struct Created {
    run_id: String,
    nodes: bool,
    namespaces: Vec<String>,
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("controller bench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async_main())
}

async fn async_main() -> ExitCode {
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("controller bench: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let Some(kubeconfig) = kubeconfig_path() else {
        println!(
            "controller bench SKIPPED: no local control plane (PODMEDIC_KUBECONFIG / KUBECONFIG unset or the file is \
             missing); start one with `tests/cluster/up && eval \"$(tests/cluster/env)\"`"
        );
        return ExitCode::SUCCESS;
    };
    let reachable = async {
        let client = client().await?;
        tokio::time::timeout(Duration::from_secs(5), client.apiserver_version())
            .await
            .context("no answer within 5 s")??;
        anyhow::Ok(client)
    };
    let client = match reachable.await {
        Ok(c) => c,
        Err(e) => {
            println!(
                "controller bench SKIPPED: no control plane answers at {} ({e:#}); start one with `tests/cluster/up`",
                kubeconfig.display()
            );
            return ExitCode::SUCCESS;
        }
    };

    let mut created = Created { run_id: format!("{:x}", std::process::id()), ..Created::default() };
    let result = tokio::select! {
        r = bench(&client, &settings, &mut created) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow!("interrupted")),
    };
    let cleaned = clean_up(&client, &created).await;
    let mut code = ExitCode::SUCCESS;
    if let Err(e) = result {
        eprintln!("controller bench FAILED: {e:#}");
        code = ExitCode::FAILURE;
    }
    if let Err(e) = cleaned {
        eprintln!("controller bench: clean-up incomplete: {e:#}");
        code = ExitCode::FAILURE;
    }
    code
}

/// Everything the report prints.
struct Figures {
    /// The machine's load average when the crashes began.
    load: String,
    healthy_created_s: f64,
    healthy_running_s: f64,
    initial_list_s: f64,
    /// CPU seconds of the controller up to the end of its initial list, and
    /// from then to the end of the crashes.
    listed_cpu: f64,
    crash_cpu: f64,
    crashes: usize,
    /// Seconds between the first and the last crash seen.
    crash_window: f64,
    created_latency: Vec<f64>,
    proposed_latency: Vec<f64>,
    histogram: Option<Histogram>,
    errors: Vec<String>,
    reaction: Vec<f64>,
    idle_rss: u64,
    idle_hwm: u64,
    listed_rss: u64,
    listed_hwm: u64,
    peak_rss: u64,
    final_rss: u64,
    final_hwm: u64,
}

async fn bench(client: &Client, s: &Settings, created: &mut Created) -> Result<()> {
    let healthy = s.pods - s.crashing;
    println!(
        "controller bench: {} pods ({healthy} healthy, {} crash-looping), {} kwok nodes x {} pods, crashes spread \
         over {:.1} s",
        s.pods,
        s.crashing,
        s.nodes(),
        s.pods_per_node,
        s.spread.as_secs_f64()
    );
    install_crd(client, "podmedic-bench", Duration::from_secs(60)).await?;

    // Nodes, namespaces, the idle baseline.
    created.nodes = true;
    create_nodes(client, &created.run_id, s.nodes(), s.pods_per_node).await?;
    let idle_ns = create_namespace(client, "bench-ctl-idle").await?;
    created.namespaces.push(idle_ns.clone());
    let ns = create_namespace(client, "bench-ctl").await?;
    created.namespaces.push(ns.clone());
    let node_names: Vec<String> = (0..s.nodes()).map(|i| node_name(&created.run_id, i)).collect();

    let (idle_rss, idle_hwm) = {
        let ctl = Controller::start(&idle_ns).await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let m = (ctl.status_kib("VmRSS")?, ctl.status_kib("VmHWM")?);
        println!("idle controller (empty namespace): VmRSS {:.1} MiB", m.0 as f64 / MIB);
        m
    };

    // The healthy pods, Running before the controller starts.
    let t = Instant::now();
    create_pods(client, &ns, (0..healthy).map(|i| healthy_pod(i, &node_names[i % node_names.len()]))).await?;
    let healthy_created_s = t.elapsed().as_secs_f64();
    println!("created {healthy} healthy pods in {healthy_created_s:.1} s");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let not_running = ListParams::default().fields("status.phase!=Running").limit(1);
    poll(
        "every healthy pod Running",
        Duration::from_secs(120) + Duration::from_millis(30) * healthy as u32,
        || async { Ok(pods.list(&not_running).await?.items.is_empty().then_some(())) },
    )
    .await?;
    let healthy_running_s = t.elapsed().as_secs_f64();
    println!("all healthy pods Running after {healthy_running_s:.1} s");

    // The controller, its initial list.
    let t = Instant::now();
    let ctl = Controller::start(&ns).await?;
    let initial_list_s = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (listed_rss, listed_hwm) = (ctl.status_kib("VmRSS")?, ctl.status_kib("VmHWM")?);
    let listed_cpu = ctl.cpu_seconds()?;
    println!(
        "controller ready (initial list of {healthy} pods) in {initial_list_s:.2} s; VmRSS {:.1} MiB",
        listed_rss as f64 / MIB
    );
    let sampler = RssSampler::start(ctl.pid());

    // Watch the crashes and the proposals, then make the crashes.
    let seen = Seen::default();
    let watches = [
        tokio::spawn(watch_crashes(pods.clone(), seen.clone())),
        tokio::spawn(watch_proposals(Api::namespaced(client.clone(), &ns), seen.clone())),
    ];
    let watching = poll("the bench's watches to start", Duration::from_secs(30), || async {
        Ok((seen.ready.load(Ordering::Relaxed) == 2).then_some(()))
    })
    .await;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: String = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    let result = async {
        watching?;
        if let Some(url) = prometheus_url() {
            let t0 = Instant::now();
            backfill_stories(&ns, s.crashing)?;
            println!(
                "serving metrics: {url}, a recorded story backfilled for each of the {} crash-looping pods in {:.1} s",
                s.crashing,
                t0.elapsed().as_secs_f64()
            );
        }
        let log = cri_log_from_file(sample_log("vllm-kv-cache-oom.log"))?;
        created.files.push(log.clone());
        let step = s.spread.as_millis() as u64 / s.crashing as u64;
        let crashing = (0..s.crashing).map(|i| {
            crashing_pod(i, &node_names[(healthy + i) % node_names.len()], &log, RUN_DURATION_MS + i as u64 * step)
        });
        create_pods(client, &ns, crashing).await?;
        println!("created {} crash-looping pods; they crash in {} s", s.crashing, RUN_DURATION_MS / 1000);

        let deadline = Instant::now()
            + Duration::from_millis(RUN_DURATION_MS)
            + s.spread
            + Duration::from_secs(60)
            + s.crashing as u32 * Duration::from_millis(50);
        let mut last_print = Instant::now();
        loop {
            let (crashes, proposed) = seen.counts();
            if proposed >= s.crashing {
                break;
            }
            if Instant::now() > deadline {
                println!("timed out: {crashes} crashes seen, {proposed} proposals");
                break;
            }
            if last_print.elapsed() > Duration::from_secs(5) {
                println!("  ... {crashes}/{} crashes seen, {proposed} proposals", s.crashing);
                last_print = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (final_rss, final_hwm) = (ctl.status_kib("VmRSS")?, ctl.status_kib("VmHWM")?);
        let crash_cpu = ctl.cpu_seconds()? - listed_cpu;
        let peak_rss = sampler.stop().max(final_rss);
        let metrics = http_get(ctl.port, "/metrics").await.context("scraping /metrics")?;
        let (crashes, crash_window, created_latency, proposed_latency) = seen.latencies();

        // The bare reaction, after the controller is done.
        let crashed: Vec<String> = (0..s.crashing).map(crashing_name).collect();
        let reaction = bare_reaction(client, &ns, &crashed).await?;

        anyhow::Ok(Figures {
            load,
            healthy_created_s,
            healthy_running_s,
            initial_list_s,
            listed_cpu,
            crash_cpu,
            crashes,
            crash_window,
            created_latency,
            proposed_latency,
            histogram: Histogram::parse(&metrics, "podmedic_event_to_proposal_seconds"),
            errors: metrics
                .lines()
                .filter(|l| l.starts_with("podmedic_reconcile_errors_total{") && !l.ends_with(" 0"))
                .map(str::to_owned)
                .collect(),
            reaction,
            idle_rss,
            idle_hwm,
            listed_rss,
            listed_hwm,
            peak_rss,
            final_rss,
            final_hwm,
        })
    }
    .await;
    for w in watches {
        w.abort();
    }
    let figures = result.inspect_err(|_| eprintln!("the controller's log ends:\n{}", ctl.log_tail()))?;
    report(s, &figures);
    Ok(())
}

// ---------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------

fn node_name(run_id: &str, i: usize) -> String {
    format!("bench-{run_id}-{i}")
}

/// Nodes for the pods (no GPUs needed: pods are bound by name) that kwok
/// makes Ready.
async fn create_nodes(client: &Client, run_id: &str, count: usize, pods_per_node: usize) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    for i in 0..count {
        let name = node_name(run_id, i);
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
                "labels": {
                    NODE_LABEL: run_id,
                    "type": "kwok",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/hostname": name,
                }
            },
            "spec": {},
            "status": {
                "allocatable": { "cpu": "188", "memory": "1900Gi", "pods": pods_per_node.to_string() },
                "capacity": { "cpu": "192", "memory": "2000Gi", "pods": pods_per_node.to_string() }
            }
        }))?;
        nodes.create(&PostParams::default(), &node).await.with_context(|| format!("creating node {name}"))?;
    }
    let lp = ListParams::default().labels(&format!("{NODE_LABEL}={run_id}"));
    poll(&format!("{count} bench nodes Ready"), Duration::from_secs(60), || async {
        let ready = nodes
            .list(&lp)
            .await?
            .items
            .iter()
            .filter(|n| {
                n.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
            })
            .count();
        Ok((ready == count).then_some(()))
    })
    .await
}

fn bound(mut pod: Pod, node: &str) -> Pod {
    if let Some(spec) = pod.spec.as_mut() {
        spec.node_name = Some(node.to_owned());
    }
    pod
}

/// A serving pod that becomes Ready, as many as a real cluster has.
fn healthy_pod(i: usize, node: &str) -> Pod {
    let mut spec = VllmSpec::new(&format!("llm-{i:05}"));
    spec.labels.insert("app.kubernetes.io/name".into(), "vllm".into());
    spec.annotations.insert("prometheus.io/scrape".into(), "true".into());
    bound(spec.pod(), node)
}

fn crashing_name(i: usize) -> String {
    format!("crash-{i:05}")
}

/// A pod that crashes once after `run_ms` with `log` as its previous log
/// and then stays in CrashLoopBackOff for the rest of the bench.
/// The test Prometheus, when `tests/cluster/env` named one.
fn prometheus_url() -> Option<String> {
    std::env::var("PODMEDIC_PROMETHEUS_URL").ok().filter(|u| !u.is_empty())
}

/// Backfills `vllm-v1-kv-saturation`, ending now, for crash-looping pods
/// `0..n` of `ns` (one OpenMetrics file, one `tests/cluster/backfill`).
fn backfill_stories(ns: &str, n: usize) -> Result<()> {
    let end = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() as f64;
    let mut text = String::new();
    for i in 0..n {
        let labels =
            stories::PodLabels { namespace: ns.into(), pod: crashing_name(i), container: VLLM_CONTAINER.into() };
        let story = stories::openmetrics("vllm-v1-kv-saturation", &labels, end).context("story")?;
        // One `# EOF`, at the very end (promtool reads repeated families).
        text.push_str(story.trim_end_matches("# EOF\n"));
    }
    text.push_str("# EOF\n");
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("bench-stories.om");
    std::fs::write(&file, text)?;
    let out =
        Command::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/backfill")).arg(&file).output()?;
    if !out.status.success() {
        bail!("backfilling the bench's stories failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn crashing_pod(i: usize, node: &str, log: &std::path::Path, run_ms: u64) -> Pod {
    let mut spec = VllmSpec::new(&crashing_name(i));
    spec.scenario = Some(Scenario::CrashLoop);
    spec.previous_log = Some(log.to_owned());
    spec.run_duration = Some(format!("{run_ms}ms"));
    spec.backoff_duration = Some("1h".into());
    bound(spec.pod(), node)
}

async fn create_pods(client: &Client, ns: &str, pods: impl Iterator<Item = Pod>) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    futures::stream::iter(pods)
        .map(|pod| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &pod)
                    .await
                    .with_context(|| format!("creating pod {}", pod.name_any()))
            }
        })
        .buffer_unordered(CREATE_CONCURRENCY)
        .try_for_each(|_| async { Ok(()) })
        .await
}

/// Deletes what the bench created: pods at once (no kubelet to wait for),
/// the namespaces, then the nodes, then the log files.
async fn clean_up(client: &Client, created: &Created) -> Result<()> {
    let mut first_err = None;
    let now = DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::background() };
    for ns in &created.namespaces {
        let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
        let res = async {
            pods.delete_collection(&now, &ListParams::default()).await?;
            delete_namespace(client, ns).await?;
            poll(&format!("the pods of {ns} to be gone"), Duration::from_secs(120), || async {
                Ok(pods.list_metadata(&ListParams::default().limit(1)).await?.items.is_empty().then_some(()))
            })
            .await
        };
        if let Err(e) = res.await {
            first_err.get_or_insert(e.context(format!("deleting namespace {ns}")));
        }
    }
    if created.nodes {
        let nodes: Api<Node> = Api::all(client.clone());
        let lp = ListParams::default().labels(&format!("{NODE_LABEL}={}", created.run_id));
        if let Err(e) = nodes.delete_collection(&DeleteParams::default(), &lp).await {
            first_err.get_or_insert(anyhow!(e).context("deleting the bench nodes"));
        }
    }
    for f in &created.files {
        let _ = std::fs::remove_file(f);
    }
    println!(
        "cleaned up: namespaces {}, nodes {NODE_LABEL}={}, {} log file(s)",
        created.namespaces.join(", "),
        created.run_id,
        created.files.len()
    );
    first_err.map_or(Ok(()), Err)
}

// ---------------------------------------------------------------------------
// The controller process
// ---------------------------------------------------------------------------

/// A release `podmedic run` on one namespace; killed on drop.
struct Controller {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Controller {
    /// Starts the binary and waits for `/readyz` (the initial pod list done).
    async fn start(ns: &str) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let kubeconfig = kubeconfig_path().context("no kubeconfig")?;
        let log = std::env::temp_dir().join(format!("podmedic-bench-{ns}.log"));
        let out = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let bin = std::env::var_os("PODMEDIC_BENCH_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_podmedic").into());
        let child = Command::new(bin)
            .args(["run", "--dry-run", "--leader-election=false", "--restart-threshold", "1", "--namespaces", ns])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(prometheus_url().map(|u| vec!["--prometheus-url".to_owned(), u]).unwrap_or_default())
            .args(std::env::var("PODMEDIC_BENCH_ARGS").unwrap_or_default().split_whitespace())
            .env("KUBECONFIG", &kubeconfig)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("spawning podmedic run")?;
        let mut ctl = Controller { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = ctl.child.try_wait()? {
                bail!("podmedic run exited with {status} before it was ready; its log ends:\n{}", ctl.log_tail());
            }
            if http_get(port, "/readyz").await.is_ok_and(|r| r.ends_with("\r\n\r\nready")) {
                return Ok(ctl);
            }
            if Instant::now() > deadline {
                bail!("podmedic run was not ready within 120 s; its log ends:\n{}", ctl.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The last lines of its stdout and stderr.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time used so far (user + system), from `/proc/<pid>/stat`.
    fn cpu_seconds(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        // Fields after the command name (which is in parentheses): state is
        // field 3, utime 14, stime 15, in clock ticks (USER_HZ, 100 on Linux).
        let rest = stat.rsplit_once(')').map(|(_, r)| r).context("malformed /proc/<pid>/stat")?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f
            .get(11)
            .zip(f.get(12))
            .and_then(|(u, s)| Some(u.parse::<u64>().ok()? + s.parse::<u64>().ok()?))
            .context("malformed /proc/<pid>/stat")?;
        Ok(ticks as f64 / 100.0)
    }

    fn status_kib(&self, field: &str) -> Result<u64> {
        status_kib(self.pid(), field).with_context(|| format!("reading {field} of podmedic run"))
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("PODMEDIC_BENCH_KEEP_LOG").is_some() {
            println!("controller log kept: {}", self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line[field.len() + 1..].trim().trim_end_matches("kB").trim().parse().ok()
}

/// Samples a process's VmRSS every 50 ms on a thread; keeps the largest.
struct RssSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let (stop, max) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
        let (s, m) = (stop.clone(), max.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(kib) = status_kib(pid, "VmRSS") {
                    m.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssSampler { stop, max, thread: Some(thread) }
    }

    fn stop(mut self) -> u64 {
        self.halt();
        self.max.load(Ordering::Relaxed)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.halt();
    }
}

// ---------------------------------------------------------------------------
// What the bench sees
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Times {
    crash: HashMap<String, Instant>,
    created: HashMap<String, Instant>,
    proposed: HashMap<String, Instant>,
}

/// First sightings, by pod name, on this process's monotonic clock.
#[derive(Clone, Default)]
struct Seen {
    times: Arc<Mutex<Times>>,
    /// Watches that finished their initial list.
    ready: Arc<std::sync::atomic::AtomicUsize>,
}

impl Seen {
    fn counts(&self) -> (usize, usize) {
        let t = self.times.lock().expect("times lock");
        (t.crash.len(), t.proposed.len())
    }

    /// Crashes seen, seconds from the first to the last, and seconds from
    /// each crash to its proposal (created; status written), for the crashes
    /// that got one.
    fn latencies(&self) -> (usize, f64, Vec<f64>, Vec<f64>) {
        let t = self.times.lock().expect("times lock");
        let window = match (t.crash.values().min(), t.crash.values().max()) {
            (Some(first), Some(last)) => last.duration_since(*first).as_secs_f64(),
            _ => 0.0,
        };
        let after = |m: &HashMap<String, Instant>| -> Vec<f64> {
            t.crash
                .iter()
                .filter_map(|(pod, c)| Some(m.get(pod)?.saturating_duration_since(*c).as_secs_f64()))
                .collect()
        };
        (t.crash.len(), window, after(&t.created), after(&t.proposed))
    }
}

async fn watch_crashes(pods: Api<Pod>, seen: Seen) {
    let wc = watcher::Config::default().labels(&format!("{LABEL_SCENARIO}=crashloop"));
    let mut events = watcher(pods, wc).default_backoff().boxed();
    while let Some(ev) = events.next().await {
        let now = Instant::now();
        match ev {
            Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) => {
                if waiting_reason(&pod, None) == Some("CrashLoopBackOff") && restart_count(&pod, None) >= 1 {
                    seen.times.lock().expect("times lock").crash.entry(pod.name_any()).or_insert(now);
                }
            }
            Ok(watcher::Event::InitDone) => {
                seen.ready.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => eprintln!("bench pod watch: {e}"),
        }
    }
}

async fn watch_proposals(api: Api<RecoveryProposal>, seen: Seen) {
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    while let Some(ev) = events.next().await {
        let now = Instant::now();
        match ev {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => {
                let mut t = seen.times.lock().expect("times lock");
                t.created.entry(p.spec.pod.clone()).or_insert(now);
                if p.status.is_some() {
                    t.proposed.entry(p.spec.pod.clone()).or_insert(now);
                }
            }
            Ok(watcher::Event::InitDone) => {
                seen.ready.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => eprintln!("bench proposal watch: {e}"),
        }
    }
}

/// The least any controller does per crash, done by this process for the
/// same pods, all at once, [`REACTION_CONCURRENCY`] at a time: read the pod,
/// read its previous log, write one object. Seconds from the start of the
/// burst to each reaction's end.
async fn bare_reaction(client: &Client, ns: &str, pods: &[String]) -> Result<Vec<f64>> {
    let (pod_api, cms): (Api<Pod>, Api<ConfigMap>) =
        (Api::namespaced(client.clone(), ns), Api::namespaced(client.clone(), ns));
    let start = Instant::now();
    futures::stream::iter(pods)
        .map(|name| {
            let (pod_api, cms) = (pod_api.clone(), cms.clone());
            async move {
                pod_api.get(name).await?;
                let lp = LogParams {
                    container: Some(VLLM_CONTAINER.into()),
                    previous: true,
                    tail_lines: Some(200),
                    ..LogParams::default()
                };
                let log = pod_api.logs(name, &lp).await?;
                let cm: ConfigMap = serde_json::from_value(json!({
                    "metadata": { "name": format!("reaction-{name}") },
                    "data": { "lines": log.lines().count().to_string() }
                }))?;
                cms.create(&PostParams::default(), &cm).await?;
                anyhow::Ok(start.elapsed().as_secs_f64())
            }
        })
        .buffer_unordered(REACTION_CONCURRENCY)
        .try_collect()
        .await
}

// ---------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------

/// A scraped Prometheus histogram.
struct Histogram {
    buckets: Vec<(f64, u64)>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn parse(text: &str, name: &str) -> Option<Self> {
        let mut h = Histogram { buckets: Vec::new(), sum: 0.0, count: 0 };
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(name) else { continue };
            let (key, value) = rest.rsplit_once(' ')?;
            if let Some(le) = key.strip_prefix("_bucket{le=\"").and_then(|k| k.strip_suffix("\"}")) {
                h.buckets.push((le.parse().unwrap_or(f64::INFINITY), value.parse().ok()?));
            } else if key == "_sum" {
                h.sum = value.parse().ok()?;
            } else if key == "_count" {
                h.count = value.parse().ok()?;
            }
        }
        (!h.buckets.is_empty()).then_some(h)
    }

    /// The upper bound of the bucket holding quantile `q`.
    fn quantile_bound(&self, q: f64) -> f64 {
        let want = (q * self.count as f64).ceil() as u64;
        self.buckets.iter().find(|(_, n)| *n >= want).map_or(f64::INFINITY, |(le, _)| *le)
    }
}

/// Nearest-rank quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn row(label: &str, values: &mut [f64], of: usize) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "  {label:<34} {:>7.3} {:>7.3} {:>7.3} {:>7.3}   n={}/{of}",
        quantile(values, 0.5),
        quantile(values, 0.9),
        quantile(values, 0.99),
        values.last().copied().unwrap_or(f64::NAN),
        values.len()
    )
}

fn report(s: &Settings, f: &Figures) {
    let healthy = s.pods - s.crashing;
    let mib = |kib: u64| kib as f64 / MIB;
    let (mut created, mut proposed, mut reaction) =
        (f.created_latency.clone(), f.proposed_latency.clone(), f.reaction.clone());
    println!();
    println!(
        "== podmedic run at scale: {} pods ({healthy} healthy + {} crash-looping once), {} nodes; release binary, \
         {} CPU(s) shared with the control plane (load average {})",
        s.pods,
        s.crashing,
        s.nodes(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        f.load
    );
    println!(
        "controller: podmedic run --dry-run --leader-election=false --restart-threshold 1 {}(defaults otherwise)",
        std::env::var("PODMEDIC_BENCH_ARGS").map(|a| a.trim().to_owned() + " ").unwrap_or_default()
    );
    println!(
        "setup: {healthy} pods created in {:.1} s, all Running after {:.1} s; controller ready (initial list) in {:.2} s",
        f.healthy_created_s, f.healthy_running_s, f.initial_list_s
    );
    println!();
    println!(
        "latency, crash seen -> proposal seen (s), {} crashes seen within {:.2} s\n{:>44} {:>7} {:>7} {:>7}",
        f.crashes, f.crash_window, "p50", "p90", "p99", "max"
    );
    println!("{}", row("proposal created", &mut created, s.crashing));
    println!("{}", row("proposal with status (Proposed)", &mut proposed, s.crashing));
    println!("{}", row("baseline: bare reaction, burst", &mut reaction, s.crashing));
    if f.crashes < s.crashing {
        println!("  only {} of {} crashes were seen", f.crashes, s.crashing);
    }
    let p99 = quantile(&proposed, 0.99);
    println!("  ratio p99 proposal / p99 bare reaction: {:.1}x", p99 / quantile(&reaction, 0.99));
    match &f.histogram {
        Some(h) if h.count > 0 => println!(
            "  controller's podmedic_event_to_proposal_seconds: n={}, mean {:.3} s, p99 <= {} s (from the \
             controller's own watch receipt: excludes watch delivery)",
            h.count,
            h.sum / h.count as f64,
            h.quantile_bound(0.99)
        ),
        _ => println!("  controller's podmedic_event_to_proposal_seconds: no observations"),
    }
    for e in &f.errors {
        println!("  controller error counter: {e}");
    }
    println!(
        "  controller CPU: {:.2} s to start and list, {:.2} s for the crashes ({:.0} ms per crash)",
        f.listed_cpu,
        f.crash_cpu,
        f.crash_cpu * 1000.0 / s.crashing as f64
    );
    println!();
    println!("memory, controller VmRSS (MiB)");
    println!("  idle, empty namespace               {:>7.1}   (VmHWM {:.1})", mib(f.idle_rss), mib(f.idle_hwm));
    println!("  after initial list of {healthy:>6} pods {:>7.1}   (VmHWM {:.1})", mib(f.listed_rss), mib(f.listed_hwm));
    println!("  peak during the crashes (50 ms)     {:>7.1}", mib(f.peak_rss));
    println!(
        "  final ({} pods, {} proposals) {:>7.1}   (VmHWM {:.1})",
        s.pods,
        proposed.len(),
        mib(f.final_rss),
        mib(f.final_hwm)
    );
    println!("  ratio final / idle: {:.2}x", f.final_rss as f64 / f.idle_rss as f64);
    println!();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let peak = mib(f.final_hwm.max(f.peak_rss));
    if s.pods == 1000 && s.crashing >= 100 {
        let all = proposed.len() == s.crashing;
        println!(
            "targets (issue 6, 1,000 pods / 100 crash-looping): p99 <= 1 s: {} ({p99:.3} s{}); RSS <= 48 MiB: {} \
             (peak {peak:.1} MiB)",
            verdict(all && p99 <= 1.0),
            if all { "" } else { ", some proposals missing" },
            verdict(peak <= 48.0)
        );
    } else if s.pods >= 10_000 {
        println!("target (issue 6, 10,000 pods): RSS <= 128 MiB: {} (peak {peak:.1} MiB)", verdict(peak <= 128.0));
    } else {
        println!("no verdict: issue 6's targets are for 1,000 pods with 100 crashing, and for 10,000 pods");
    }
}
