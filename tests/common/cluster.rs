//! Test support for the local Kubernetes control plane of `tests/cluster/`
//! (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
//! with fake GPU nodes; see `tests/cluster/README.md`).
//!
//! Everything here talks to a real API server. A test gets a client with
//! [`client_or_skip`] (or [`client`] where a missing plane must fail), makes
//! its own namespace with [`create_namespace`], builds a vLLM-like
//! Deployment with [`VllmSpec`] and waits with the `wait_for_*` helpers.
//!
//! Scenarios are played by kwok Stages keyed on the pod label
//! [`LABEL_SCENARIO`] and the `podmedic.test/*` annotations below; they run
//! on their own, like a kubelet: a broken pod crash-loops until its
//! Deployment is patched so that the broken condition no longer holds, and
//! the new pod then becomes Ready.
#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    future::Future,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, Result, anyhow};
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{ContainerStateTerminated, ContainerStatus, Event, Namespace, Node, Pod, ServiceAccount},
};
use kube::{
    Client, Config,
    api::{Api, DeleteParams, ListParams, LogParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use serde_json::json;

/// Pod label that makes a pod a scenario pod; value: a [`Scenario`].
pub const LABEL_SCENARIO: &str = "podmedic.test/scenario";
/// CRI-format file served as `kubectl logs --previous` (see [`cri_log`]).
pub const ANN_PREVIOUS_LOG: &str = "podmedic.test/previous-log";
/// CRI-format file served as the current container's log (default: the
/// previous log).
pub const ANN_LOG: &str = "podmedic.test/log";
/// Broken only while the pod's joined `command + args` contain this text.
pub const ANN_BROKEN_WHILE_ARGS_CONTAIN: &str = "podmedic.test/broken-while-args-contain";
/// Broken only while the pod's `.spec` as compact JSON contains this text.
pub const ANN_BROKEN_WHILE_SPEC_CONTAINS: &str = "podmedic.test/broken-while-spec-contains";
/// Broken only while the pod's `.spec` as compact JSON lacks this text.
pub const ANN_BROKEN_UNLESS_SPEC_CONTAINS: &str = "podmedic.test/broken-unless-spec-contains";
/// Broken only on these nodes (comma-separated node names).
pub const ANN_BROKEN_ON_NODES: &str = "podmedic.test/broken-on-nodes";
/// Broken only while the startup (else liveness) probe's budget
/// `initialDelaySeconds + periodSeconds * failureThreshold` is below this
/// many seconds (the model's load time).
pub const ANN_LOAD_SECONDS: &str = "podmedic.test/load-seconds";
/// `"true"` on a pod ends its scenario: it recovers and becomes Ready.
pub const ANN_HEALED: &str = "podmedic.test/healed";
/// How long a broken container runs before it crashes (Go duration, "3s").
pub const ANN_RUN_DURATION: &str = "podmedic.test/run-duration";
/// How long CrashLoopBackOff lasts before the next start (default "5s").
pub const ANN_BACKOFF_DURATION: &str = "podmedic.test/backoff-duration";
/// Delay before a healthy pod becomes Ready (default "500ms").
pub const ANN_READY_DELAY: &str = "podmedic.test/ready-delay";
/// Overrides the exit code of the crashed container.
pub const ANN_EXIT_CODE: &str = "podmedic.test/exit-code";
/// Overrides the terminated reason of the crashed container.
pub const ANN_REASON: &str = "podmedic.test/reason";
/// Which container crashes (default: the first).
pub const ANN_CONTAINER: &str = "podmedic.test/container";

/// Name of the container [`VllmSpec`] creates; kwok's scenario Events name
/// it ("Container vllm failed startup probe, will be restarted").
pub const VLLM_CONTAINER: &str = "vllm";

/// Names of the fake nodes `tests/cluster/up` creates.
pub const NODE_GPU_DRIVER_535: &str = "gpu-h100-535";
pub const NODE_GPU_DRIVER_570: &str = "gpu-h100-570";
pub const NODE_CPU: &str = "cpu-0";

/// Default time limit of the `wait_for_*` helpers.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What a broken scenario pod does (value of [`LABEL_SCENARIO`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Crashes with exit code 1, reason `Error`, then CrashLoopBackOff.
    CrashLoop,
    /// Is OOMKilled (exit code 137), then CrashLoopBackOff.
    OomKilled,
    /// Fails its startup probe: Events `Unhealthy` ("Startup probe failed:
    /// ...") and `Killing` ("Container vllm failed startup probe, will be
    /// restarted"), exit code 137 reason `Error`, then CrashLoopBackOff.
    ProbeKill,
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::CrashLoop => "crashloop",
            Scenario::OomKilled => "oomkilled",
            Scenario::ProbeKill => "probe-kill",
        }
    }
}

// ---------------------------------------------------------------------------
// Connecting
// ---------------------------------------------------------------------------

/// The plane's kubeconfig: `$PODMEDIC_KUBECONFIG`, else the first entry of
/// `$KUBECONFIG`; `None` when unset or the file does not exist.
pub fn kubeconfig_path() -> Option<PathBuf> {
    let from_env = |var: &str| {
        std::env::var_os(var).and_then(|v| std::env::split_paths(&v).next()).filter(|p| !p.as_os_str().is_empty())
    };
    from_env("PODMEDIC_KUBECONFIG").or_else(|| from_env("KUBECONFIG")).filter(|p| p.is_file())
}

/// A client for the plane; an error when there is no kubeconfig.
pub async fn client() -> Result<Client> {
    let path = kubeconfig_path().ok_or_else(|| {
        anyhow!("no kubeconfig: set PODMEDIC_KUBECONFIG or KUBECONFIG (eval \"$(tests/cluster/env)\")")
    })?;
    client_from(&path).await
}

/// A client from the kubeconfig at `path`.
pub async fn client_from(path: &Path) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(path).with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading kubeconfig {}", path.display()))?;
    Client::try_from(config).context("building kube client")
}

/// A client for the plane, or `None` after printing why the test is
/// skipped, when no kubeconfig is set. A kubeconfig that is set but does
/// not work is a failure, not a skip.
pub async fn client_or_skip(test: &str) -> Option<Client> {
    if kubeconfig_path().is_none() {
        // Written to the real stderr (not eprintln!, which the test harness
        // captures), so the skip shows in every `cargo test` run.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: no local control plane (PODMEDIC_KUBECONFIG / KUBECONFIG unset or \
             the file is missing); start one with `tests/cluster/up && eval \"$(tests/cluster/env)\"`"
        );
        return None;
    }
    match client().await {
        Ok(c) => Some(c),
        Err(e) => panic!("{test}: kubeconfig is set but unusable: {e:#}"),
    }
}

/// The plane's run dir: `$PODMEDIC_RUN`, else the kubeconfig's directory
/// (up writes `$RUN/kubeconfig`), else `/tmp/podmedic-cluster`.
pub fn run_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PODMEDIC_RUN").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    kubeconfig_path()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("/tmp/podmedic-cluster"))
}

/// A sample log shipped in `tests/cluster/logs/` (plain text), e.g.
/// `sample_log("vllm-kv-cache-oom.log")`.
pub fn sample_log(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/logs").join(name)
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}{n:x}", std::process::id() & 0xffff, (nanos / 1000) & 0xff_ffff)
}

/// Writes `text` (plain lines) as a CRI-format log file that kwok can serve
/// through the API server, under `$RUN/pod-logs/`; returns its path for
/// [`ANN_PREVIOUS_LOG`] / [`ANN_LOG`] or [`VllmSpec::previous_log`].
pub fn cri_log(text: &str) -> Result<PathBuf> {
    let dir = run_dir().join("pod-logs");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("test-{}.log", unique_suffix()));
    let mut out = String::with_capacity(text.len() + text.lines().count() * 40);
    for line in text.lines() {
        out.push_str("2026-01-01T00:00:00.000000000Z stderr F ");
        out.push_str(line);
        out.push('\n');
    }
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// [`cri_log`] of a plain-text log file (e.g. a fixture or [`sample_log`]).
pub fn cri_log_from_file(plain: impl AsRef<Path>) -> Result<PathBuf> {
    let plain = plain.as_ref();
    let text = std::fs::read_to_string(plain).with_context(|| format!("reading {}", plain.display()))?;
    cri_log(&text)
}

// ---------------------------------------------------------------------------
// Namespaces and nodes
// ---------------------------------------------------------------------------

/// Creates a fresh namespace `<prefix>-<unique>` and waits until its
/// `default` ServiceAccount exists (pods are refused before that).
pub async fn create_namespace(client: &Client, prefix: &str) -> Result<String> {
    let prefix: String =
        prefix.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).take(40).collect();
    let name = format!("{}-{}", prefix.trim_matches('-'), unique_suffix());
    let ns: Namespace = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "podmedic.test/namespace": "true" } }
    }))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
    poll(&format!("ServiceAccount default in {name}"), Duration::from_secs(30), || async {
        Ok(sas.get_opt("default").await?.map(|_| ()))
    })
    .await?;
    Ok(name)
}

/// Deletes a namespace (and so everything in it); does not wait.
pub async fn delete_namespace(client: &Client, name: &str) -> Result<()> {
    match Api::<Namespace>::all(client.clone()).delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("deleting namespace {name}")),
    }
}

/// A fake GPU node (8x H100) labelled as NVIDIA GPU feature discovery does,
/// with driver `driver` ("570.133.20") and CUDA runtime `cuda` ("12.8").
/// kwok marks it Ready once created with [`create_node`].
pub fn gpu_node(name: &str, driver: &str, cuda: &str) -> Node {
    let mut d = driver.splitn(3, '.');
    let (dmaj, dmin, drev) = (d.next().unwrap_or(""), d.next().unwrap_or(""), d.next().unwrap_or(""));
    let mut c = cuda.splitn(2, '.');
    let (cmaj, cmin) = (c.next().unwrap_or(""), c.next().unwrap_or(""));
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": { "kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0" },
            "labels": {
                "type": "kwok",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "nvidia.com/gpu.present": "true",
                "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
                "nvidia.com/gpu.family": "hopper",
                "nvidia.com/gpu.count": "8",
                "nvidia.com/gpu.memory": "81559",
                "nvidia.com/cuda.driver.major": dmaj,
                "nvidia.com/cuda.driver.minor": dmin,
                "nvidia.com/cuda.driver.rev": drev,
                "nvidia.com/cuda.driver-version.major": dmaj,
                "nvidia.com/cuda.driver-version.minor": dmin,
                "nvidia.com/cuda.driver-version.revision": drev,
                "nvidia.com/cuda.driver-version.full": driver,
                "nvidia.com/cuda.runtime.major": cmaj,
                "nvidia.com/cuda.runtime.minor": cmin,
                "nvidia.com/cuda.runtime-version.major": cmaj,
                "nvidia.com/cuda.runtime-version.minor": cmin,
                "nvidia.com/cuda.runtime-version.full": cuda,
            }
        },
        "spec": {},
        "status": {
            "allocatable": { "cpu": "188", "memory": "1900Gi", "nvidia.com/gpu": "8", "pods": "110" },
            "capacity": { "cpu": "192", "memory": "2000Gi", "nvidia.com/gpu": "8", "pods": "110" }
        }
    }))
    .expect("valid node")
}

/// Creates a node and waits until kwok reports it Ready.
pub async fn create_node(client: &Client, node: &Node) -> Result<Node> {
    let nodes: Api<Node> = Api::all(client.clone());
    let name = node.metadata.name.clone().unwrap_or_default();
    nodes.create(&PostParams::default(), node).await.with_context(|| format!("creating node {name}"))?;
    poll(&format!("node {name} Ready"), DEFAULT_TIMEOUT, || async {
        let n = nodes.get(&name).await?;
        let ready = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        Ok(ready.then_some(n))
    })
    .await
}

/// Deletes a node (ignores one that is already gone).
pub async fn delete_node(client: &Client, name: &str) -> Result<()> {
    match Api::<Node>::all(client.clone()).delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e).with_context(|| format!("deleting node {name}")),
    }
}

// ---------------------------------------------------------------------------
// The vLLM-like workload
// ---------------------------------------------------------------------------

/// A vLLM-like Deployment (`vllm/vllm-openai`, one container named
/// [`VLLM_CONTAINER`], one GPU, a startup probe) and its scenario.
///
/// ```ignore
/// let prev = cri_log_from_file(sample_log("vllm-kv-cache-oom.log"))?;
/// let spec = VllmSpec {
///     scenario: Some(Scenario::CrashLoop),
///     previous_log: Some(prev),
///     broken_while_args_contain: Some("--max-model-len 32768".into()),
///     ..VllmSpec::new("llama")
/// };
/// let dep = create_deployment(&client, &ns, &spec.deployment()).await?;
/// ```
#[derive(Clone, Debug)]
pub struct VllmSpec {
    pub name: String,
    pub image: String,
    pub model: String,
    pub max_model_len: u32,
    /// Rendered as given, e.g. "0.90".
    pub gpu_memory_utilization: String,
    /// Appended after the standard args.
    pub extra_args: Vec<String>,
    pub replicas: i32,
    pub gpus: u32,
    /// Memory limit (and request), e.g. "32Gi".
    pub memory: String,
    /// Startup probe `(periodSeconds, failureThreshold)`; `None`: no probe.
    pub startup_probe: Option<(i32, i32)>,
    pub node_selector: BTreeMap<String, String>,
    /// `None`: an ordinary pod that becomes Ready.
    pub scenario: Option<Scenario>,
    /// CRI-format file ([`cri_log`]) for `logs --previous`.
    pub previous_log: Option<PathBuf>,
    /// CRI-format file for the current logs (default: `previous_log`).
    pub log: Option<PathBuf>,
    /// See [`ANN_BROKEN_WHILE_ARGS_CONTAIN`].
    pub broken_while_args_contain: Option<String>,
    /// See [`ANN_BROKEN_ON_NODES`]; empty: any node.
    pub broken_on_nodes: Vec<String>,
    /// See [`ANN_LOAD_SECONDS`].
    pub load_seconds: Option<u32>,
    /// See [`ANN_RUN_DURATION`]; `None`: the stage default, 3s.
    pub run_duration: Option<String>,
    /// See [`ANN_BACKOFF_DURATION`]; `None`: the stage default, 5s.
    pub backoff_duration: Option<String>,
    /// Extra pod-template labels and annotations (any `podmedic.test/*`).
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

impl VllmSpec {
    pub fn new(name: &str) -> Self {
        VllmSpec {
            name: name.to_string(),
            image: "vllm/vllm-openai:v0.6.3".into(),
            model: "meta-llama/Llama-3.1-8B-Instruct".into(),
            max_model_len: 32768,
            gpu_memory_utilization: "0.90".into(),
            extra_args: Vec::new(),
            replicas: 1,
            gpus: 1,
            memory: "32Gi".into(),
            startup_probe: Some((10, 30)),
            node_selector: BTreeMap::new(),
            scenario: None,
            previous_log: None,
            log: None,
            broken_while_args_contain: None,
            broken_on_nodes: Vec::new(),
            load_seconds: None,
            run_duration: None,
            backoff_duration: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }

    /// The container args vLLM gets.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--model".to_string(),
            self.model.clone(),
            "--max-model-len".to_string(),
            self.max_model_len.to_string(),
            "--gpu-memory-utilization".to_string(),
            self.gpu_memory_utilization.clone(),
        ];
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// Pod-template labels: `app=<name>` plus the scenario label.
    pub fn pod_labels(&self) -> BTreeMap<String, String> {
        let mut l = BTreeMap::from([("app".to_string(), self.name.clone())]);
        if let Some(s) = self.scenario {
            l.insert(LABEL_SCENARIO.to_string(), s.as_str().to_string());
        }
        l.extend(self.labels.clone());
        l
    }

    /// Pod-template annotations that configure the scenario.
    pub fn pod_annotations(&self) -> BTreeMap<String, String> {
        let mut a = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                a.insert(k.to_string(), v);
            }
        };
        put(ANN_PREVIOUS_LOG, self.previous_log.as_ref().map(|p| p.display().to_string()));
        put(ANN_LOG, self.log.as_ref().map(|p| p.display().to_string()));
        put(ANN_BROKEN_WHILE_ARGS_CONTAIN, self.broken_while_args_contain.clone());
        put(ANN_BROKEN_ON_NODES, (!self.broken_on_nodes.is_empty()).then(|| self.broken_on_nodes.join(",")));
        put(ANN_LOAD_SECONDS, self.load_seconds.map(|s| s.to_string()));
        put(ANN_RUN_DURATION, self.run_duration.clone());
        put(ANN_BACKOFF_DURATION, self.backoff_duration.clone());
        a.extend(self.annotations.clone());
        a
    }

    /// The pod template (`spec.template` of the Deployment) as JSON.
    pub fn pod_template_json(&self) -> serde_json::Value {
        let mut container = json!({
            "name": VLLM_CONTAINER,
            "image": self.image,
            "args": self.args(),
            "ports": [{ "name": "http", "containerPort": 8000 }],
            "env": [{ "name": "HF_HOME", "value": "/models/hf" }],
            "resources": {
                "limits": { "nvidia.com/gpu": self.gpus.to_string(), "memory": self.memory },
                "requests": { "nvidia.com/gpu": self.gpus.to_string(), "memory": self.memory, "cpu": "4" }
            },
            "readinessProbe": {
                "httpGet": { "path": "/health", "port": 8000 }, "periodSeconds": 5
            }
        });
        if let Some((period, failures)) = self.startup_probe {
            container["startupProbe"] = json!({
                "httpGet": { "path": "/health", "port": 8000 },
                "periodSeconds": period,
                "failureThreshold": failures
            });
        }
        let mut spec = json!({ "containers": [container] });
        if !self.node_selector.is_empty() {
            spec["nodeSelector"] = json!(self.node_selector);
        }
        json!({
            "metadata": { "labels": self.pod_labels(), "annotations": self.pod_annotations() },
            "spec": spec
        })
    }

    /// The Deployment.
    pub fn deployment(&self) -> Deployment {
        serde_json::from_value(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": { "name": self.name, "labels": { "app": self.name } },
            "spec": {
                "replicas": self.replicas,
                "selector": { "matchLabels": { "app": self.name } },
                "template": self.pod_template_json()
            }
        }))
        .expect("valid deployment")
    }

    /// A bare Pod with the same template (no controller owns it).
    pub fn pod(&self) -> Pod {
        let mut v = self.pod_template_json();
        v["apiVersion"] = json!("v1");
        v["kind"] = json!("Pod");
        v["metadata"]["name"] = json!(self.name);
        serde_json::from_value(v).expect("valid pod")
    }
}

/// Creates a Deployment in `ns`.
pub async fn create_deployment(client: &Client, ns: &str, dep: &Deployment) -> Result<Deployment> {
    let name = dep.metadata.name.clone().unwrap_or_default();
    Api::<Deployment>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), dep)
        .await
        .with_context(|| format!("creating deployment {ns}/{name}"))
}

/// Ends a live pod's scenario ([`ANN_HEALED`]): it turns Ready, keeping its
/// restartCount and lastState.
pub async fn heal_pod(client: &Client, ns: &str, pod: &str) -> Result<()> {
    let patch = json!({ "metadata": { "annotations": { ANN_HEALED: "true" } } });
    Api::<Pod>::namespaced(client.clone(), ns)
        .patch(pod, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
        .await
        .with_context(|| format!("healing pod {ns}/{pod}"))?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading pod state
// ---------------------------------------------------------------------------

/// The status of container `container` (or of the first container).
pub fn container_status<'a>(pod: &'a Pod, container: Option<&str>) -> Option<&'a ContainerStatus> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    match container {
        Some(c) => statuses.iter().find(|s| s.name == c),
        None => statuses.first(),
    }
}

/// restartCount of the (first) container; 0 when unknown.
pub fn restart_count(pod: &Pod, container: Option<&str>) -> i32 {
    container_status(pod, container).map_or(0, |s| s.restart_count)
}

/// `state.waiting.reason`, e.g. "CrashLoopBackOff".
pub fn waiting_reason<'a>(pod: &'a Pod, container: Option<&str>) -> Option<&'a str> {
    container_status(pod, container)?.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

/// `lastState.terminated` of the (first) container.
pub fn last_terminated<'a>(pod: &'a Pod, container: Option<&str>) -> Option<&'a ContainerStateTerminated> {
    container_status(pod, container)?.last_state.as_ref()?.terminated.as_ref()
}

/// The pod's Ready condition is True.
pub fn is_pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A one-line summary of a pod for failure messages.
pub fn describe_pod(pod: &Pod) -> String {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("?");
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("-");
    format!(
        "{name} phase={phase} node={node} ready={} restarts={} waiting={:?} last={:?}",
        is_pod_ready(pod),
        restart_count(pod, None),
        waiting_reason(pod, None),
        last_terminated(pod, None).map(|t| (t.exit_code, t.reason.clone())),
    )
}

// ---------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------

/// Calls `f` every 250 ms until it returns `Ok(Some(_))`; fails after
/// `timeout` with `what` and the last error. Errors from `f` are retried.
pub async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let mut last_err: Option<anyhow::Error>;
    loop {
        match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => last_err = None,
            Err(e) => last_err = Some(e),
        }
        if Instant::now() >= deadline {
            return Err(match last_err {
                Some(e) => e.context(format!("timed out after {timeout:?} waiting for {what}")),
                None => anyhow!("timed out after {timeout:?} waiting for {what}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The pods that Deployment `name` selects.
pub async fn deployment_pods(client: &Client, ns: &str, name: &str) -> Result<Vec<Pod>> {
    let dep = Api::<Deployment>::namespaced(client.clone(), ns).get(name).await?;
    let labels = dep.spec.as_ref().and_then(|s| s.selector.match_labels.clone()).unwrap_or_default();
    let selector = labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    let pods = Api::<Pod>::namespaced(client.clone(), ns).list(&ListParams::default().labels(&selector)).await?;
    Ok(pods.items)
}

/// Waits for a pod of Deployment `deploy` that satisfies `pred`.
pub async fn wait_for_deployment_pod(
    client: &Client,
    ns: &str,
    deploy: &str,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&Pod) -> bool,
) -> Result<Pod> {
    let seen = std::cell::RefCell::new(String::new());
    let res = poll(what, timeout, || {
        let (seen, pred) = (&seen, &pred);
        async move {
            let pods = deployment_pods(client, ns, deploy).await?;
            *seen.borrow_mut() = pods.iter().map(describe_pod).collect::<Vec<_>>().join("; ");
            Ok(pods.into_iter().find(|p| p.metadata.deletion_timestamp.is_none() && pred(p)))
        }
    })
    .await;
    res.with_context(|| format!("pods of {ns}/{deploy}: [{}]", seen.borrow()))
}

/// Waits until a pod of `deploy` is in CrashLoopBackOff with at least
/// `min_restarts` restarts.
pub async fn wait_for_crashloop(
    client: &Client,
    ns: &str,
    deploy: &str,
    min_restarts: i32,
    timeout: Duration,
) -> Result<Pod> {
    wait_for_deployment_pod(
        client,
        ns,
        deploy,
        &format!("CrashLoopBackOff with restartCount >= {min_restarts}"),
        timeout,
        |p| waiting_reason(p, None) == Some("CrashLoopBackOff") && restart_count(p, None) >= min_restarts,
    )
    .await
}

/// Waits until a pod of `deploy` has `lastState.terminated` with `reason`
/// and `exit_code` (e.g. "OOMKilled", 137).
pub async fn wait_for_last_terminated(
    client: &Client,
    ns: &str,
    deploy: &str,
    reason: &str,
    exit_code: i32,
    timeout: Duration,
) -> Result<Pod> {
    wait_for_deployment_pod(client, ns, deploy, &format!("lastState.terminated {reason}/{exit_code}"), timeout, |p| {
        last_terminated(p, None).is_some_and(|t| t.exit_code == exit_code && t.reason.as_deref() == Some(reason))
    })
    .await
}

/// The ReplicaSet of the Deployment's current revision, once the
/// deployment controller has seen the Deployment's latest generation
/// (right after a patch the old ReplicaSet would still look current).
pub async fn current_replica_set(client: &Client, ns: &str, deploy: &str) -> Result<Option<ReplicaSet>> {
    const REV: &str = "deployment.kubernetes.io/revision";
    let dep = Api::<Deployment>::namespaced(client.clone(), ns).get(deploy).await?;
    let observed = dep.status.as_ref().and_then(|s| s.observed_generation).unwrap_or(0);
    if observed < dep.metadata.generation.unwrap_or(0) {
        return Ok(None);
    }
    let Some(rev) = dep.metadata.annotations.as_ref().and_then(|a| a.get(REV)).cloned() else {
        return Ok(None);
    };
    let uid = dep.metadata.uid.clone().unwrap_or_default();
    let rss = Api::<ReplicaSet>::namespaced(client.clone(), ns).list(&ListParams::default()).await?;
    Ok(rss.items.into_iter().find(|rs| {
        rs.metadata.owner_references.as_ref().is_some_and(|o| o.iter().any(|o| o.uid == uid))
            && rs.metadata.annotations.as_ref().and_then(|a| a.get(REV)) == Some(&rev)
    }))
}

/// Waits until the Deployment's rollout is complete: the controller saw
/// the latest generation, every replica is updated, ready and available,
/// and no old replicas are left.
pub async fn wait_for_rollout(client: &Client, ns: &str, deploy: &str, timeout: Duration) -> Result<Deployment> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    poll(&format!("rollout of {ns}/{deploy}"), timeout, || async {
        let d = api.get(deploy).await?;
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let generation = d.metadata.generation.unwrap_or(0);
        let done = d.status.as_ref().is_some_and(|s| {
            s.observed_generation.unwrap_or(0) >= generation
                && s.updated_replicas.unwrap_or(0) == want
                && s.ready_replicas.unwrap_or(0) == want
                && s.available_replicas.unwrap_or(0) == want
                && s.replicas.unwrap_or(0) == want
        });
        Ok(done.then_some(d))
    })
    .await
}

/// Waits for a Ready pod of the Deployment's current ReplicaSet (matched by
/// `pod-template-hash`), e.g. the pod of a patched Deployment.
pub async fn wait_for_ready_pod(client: &Client, ns: &str, deploy: &str, timeout: Duration) -> Result<Pod> {
    const HASH: &str = "pod-template-hash";
    let seen = std::cell::RefCell::new(String::new());
    let res = poll(&format!("a Ready pod of the current ReplicaSet of {ns}/{deploy}"), timeout, || {
        let seen = &seen;
        async move {
            let Some(rs) = current_replica_set(client, ns, deploy).await? else {
                return Ok(None);
            };
            let hash = rs.metadata.labels.as_ref().and_then(|l| l.get(HASH)).cloned().unwrap_or_default();
            let pods = deployment_pods(client, ns, deploy).await?;
            *seen.borrow_mut() = format!(
                "current {HASH}={hash}; pods: {}",
                pods.iter().map(describe_pod).collect::<Vec<_>>().join("; ")
            );
            Ok(pods.into_iter().find(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && is_pod_ready(p)
                    && p.metadata.labels.as_ref().and_then(|l| l.get(HASH)) == Some(&hash)
            }))
        }
    })
    .await;
    res.with_context(|| seen.borrow().clone())
}

// ---------------------------------------------------------------------------
// Logs and events through the API server
// ---------------------------------------------------------------------------

/// `kubectl logs --previous`: the previous container's log, through the
/// API server (which proxies to kwok as it would to a kubelet).
pub async fn previous_logs(client: &Client, ns: &str, pod: &str, container: Option<&str>) -> Result<String> {
    let lp = LogParams { previous: true, container: container.map(str::to_string), ..LogParams::default() };
    Api::<Pod>::namespaced(client.clone(), ns)
        .logs(pod, &lp)
        .await
        .with_context(|| format!("previous logs of {ns}/{pod}"))
}

/// `kubectl logs`: the current container's log.
pub async fn current_logs(client: &Client, ns: &str, pod: &str, container: Option<&str>) -> Result<String> {
    let lp = LogParams { container: container.map(str::to_string), ..LogParams::default() };
    Api::<Pod>::namespaced(client.clone(), ns).logs(pod, &lp).await.with_context(|| format!("logs of {ns}/{pod}"))
}

/// core/v1 Events about pod `pod`, oldest first.
pub async fn pod_events(client: &Client, ns: &str, pod: &str) -> Result<Vec<Event>> {
    let lp = ListParams::default().fields(&format!("involvedObject.kind=Pod,involvedObject.name={pod}"));
    let mut events = Api::<Event>::namespaced(client.clone(), ns).list(&lp).await?.items;
    events.sort_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0).or(e.event_time.as_ref().map(|t| t.0)));
    Ok(events)
}

/// Waits for an Event about `pod` with `reason` (e.g. "Unhealthy",
/// "Killing", "BackOff").
pub async fn wait_for_pod_event(
    client: &Client,
    ns: &str,
    pod: &str,
    reason: &str,
    timeout: Duration,
) -> Result<Event> {
    poll(&format!("event {reason} on {ns}/{pod}"), timeout, || async {
        let events = pod_events(client, ns, pod).await?;
        Ok(events.into_iter().find(|e| e.reason.as_deref() == Some(reason)))
    })
    .await
}

/// Prints what a failing test needs to see: pods and events of `ns`.
pub async fn dump_namespace(client: &Client, ns: &str) {
    let pods = Api::<Pod>::namespaced(client.clone(), ns).list(&ListParams::default()).await;
    if let Ok(pods) = pods {
        for p in &pods.items {
            eprintln!("pod {}", describe_pod(p));
        }
    }
    let events = Api::<Event>::namespaced(client.clone(), ns).list(&ListParams::default()).await;
    if let Ok(events) = events {
        for e in &events.items {
            eprintln!(
                "event {} {} x{} {}: {}",
                e.involved_object.name.as_deref().unwrap_or("?"),
                e.type_.as_deref().unwrap_or("?"),
                e.count.unwrap_or(1),
                e.reason.as_deref().unwrap_or("?"),
                e.message.as_deref().unwrap_or("")
            );
        }
    }
}

/// Installs the RecoveryProposal CRD generated from the Rust types (server-
/// side apply as `field_manager`) and waits until it is served.
pub async fn install_crd(client: &Client, field_manager: &str, timeout: Duration) -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::CustomResourceExt;
    use kube::api::{Patch, PatchParams};
    use podmedic::crd::RecoveryProposal;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = RecoveryProposal::crd();
    crds.patch("recoveryproposals.podmedic.io", &PatchParams::apply(field_manager).force(), &Patch::Apply(&crd))
        .await
        .context("installing the CRD")?;
    poll("the RecoveryProposal CRD to be served", timeout, || async {
        Ok(Api::<RecoveryProposal>::all(client.clone()).list(&ListParams::default().limit(1)).await.ok().map(|_| ()))
    })
    .await
}

/// A tiny HTTP/1.0 GET on loopback (no client crate needed).
pub async fn http_get(port: u16, path: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await?;
    let mut out = String::new();
    s.read_to_string(&mut out).await?;
    Ok(out)
}
