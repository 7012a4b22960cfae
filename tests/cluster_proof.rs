//! Proof that the local control plane (tests/cluster/) is a real one:
//! a Deployment goes through the real kube-controller-manager (ReplicaSet,
//! Pod) and kube-scheduler onto a fake GPU node, kwok plays a crash loop,
//! the previous container's log comes back through the API server's
//! pods/log path, and a patched Deployment rolls out to a Ready pod.
//!
//! Needs `tests/cluster/up` and `eval "$(tests/cluster/env)"`; without a
//! kubeconfig the tests print why and pass as skipped.

#[path = "common/cluster.rs"]
mod cluster;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use cluster::*;
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{Node, Pod},
};
use kube::{
    Client,
    api::{Api, ListParams, Patch, PatchParams},
};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `body` in a fresh namespace, dumps the namespace if it fails and
/// deletes the namespace either way.
async fn in_namespace<F, Fut>(client: &Client, prefix: &str, body: F) -> Result<()>
where
    F: FnOnce(Client, String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let ns = create_namespace(client, prefix).await?;
    let res = body(client.clone(), ns.clone()).await;
    if res.is_err() {
        dump_namespace(client, &ns).await;
    }
    delete_namespace(client, &ns).await?;
    res
}

#[tokio::test]
async fn plane_has_fake_gpu_nodes_and_reports_its_version() -> Result<()> {
    let Some(client) = client_or_skip("plane_has_fake_gpu_nodes_and_reports_its_version").await else {
        return Ok(());
    };
    let version = client.apiserver_version().await?;
    ensure!(version.git_version == "v1.36.3", "server version {}", version.git_version);

    let nodes = Api::<Node>::all(client.clone()).list(&ListParams::default().labels("type=kwok")).await?;
    let label = |n: &Node, k: &str| n.metadata.labels.as_ref().and_then(|l| l.get(k)).cloned();
    let mut drivers: Vec<String> = nodes
        .items
        .iter()
        .filter(|n| label(n, "nvidia.com/gpu.product").as_deref() == Some("NVIDIA-H100-80GB-HBM3"))
        .filter_map(|n| label(n, "nvidia.com/cuda.driver.major"))
        .collect();
    drivers.sort();
    ensure!(drivers.starts_with(&["535".into(), "570".into()]), "GPU node drivers: {drivers:?}");
    for n in &nodes.items {
        let ready = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        ensure!(ready, "node {:?} not Ready", n.metadata.name);
    }
    let gpu = nodes
        .items
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some(NODE_GPU_DRIVER_570))
        .and_then(|n| n.status.as_ref()?.allocatable.as_ref()?.get("nvidia.com/gpu").cloned());
    ensure!(
        gpu.map(|q| q.0) == Some("64".into()),
        "allocatable nvidia.com/gpu on {NODE_GPU_DRIVER_570} (see tests/cluster/kwok/nodes.yaml)"
    );
    Ok(())
}

#[tokio::test]
async fn crashloop_previous_logs_and_fixed_rollout() -> Result<()> {
    let Some(client) = client_or_skip("crashloop_previous_logs_and_fixed_rollout").await else {
        return Ok(());
    };
    let crash_text = "The model's max seq len (32768) is larger than the maximum number of tokens \
                      that can be stored in KV cache (20736)";
    let previous = cri_log_from_file(sample_log("vllm-kv-cache-oom.log"))?;
    ensure!(std::fs::read_to_string(&previous)?.contains(crash_text), "sample log lacks the crash text");

    in_namespace(&client, "proof-crashloop", |client, ns| async move {
        let spec = VllmSpec {
            scenario: Some(Scenario::CrashLoop),
            previous_log: Some(previous),
            broken_while_args_contain: Some("--max-model-len 32768".into()),
            run_duration: Some("1s".into()),
            backoff_duration: Some("2s".into()),
            ..VllmSpec::new("llama")
        };
        create_deployment(&client, &ns, &spec.deployment()).await?;

        // kube-controller-manager made a ReplicaSet and a pod; the
        // scheduler bound it to a fake GPU node.
        let rs = poll("ReplicaSet of llama", TIMEOUT, || current_replica_set(&client, &ns, "llama")).await?;
        let first_hash = rs.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash")).cloned();
        let pod = wait_for_crashloop(&client, &ns, "llama", 2, TIMEOUT).await?;
        let pod_name = pod.metadata.name.clone().context("pod name")?;
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
        ensure!(
            node == NODE_GPU_DRIVER_535 || node == NODE_GPU_DRIVER_570,
            "pod scheduled to {node:?}, not a GPU node"
        );
        let last = last_terminated(&pod, Some(VLLM_CONTAINER)).context("no lastState.terminated")?;
        ensure!(last.exit_code == 1 && last.reason.as_deref() == Some("Error"), "last state {last:?}");
        ensure!(!is_pod_ready(&pod), "crash-looping pod is Ready");

        // Previous container logs through the API server (kube-rs).
        let logs = previous_logs(&client, &ns, &pod_name, Some(VLLM_CONTAINER)).await?;
        ensure!(logs.contains(crash_text), "previous logs lack the crash text:\n{logs}");
        ensure!(logs.contains("Traceback (most recent call last):"), "previous logs:\n{logs}");

        let events = pod_events(&client, &ns, &pod_name).await?;
        ensure!(
            events.iter().any(|e| e.reason.as_deref() == Some("BackOff")),
            "no BackOff event: {:?}",
            events.iter().map(|e| e.reason.clone()).collect::<Vec<_>>()
        );

        // The fix: lower --max-model-len. A new ReplicaSet rolls out and
        // its pod becomes Ready; the crash-looping one goes away.
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        let fixed = VllmSpec { max_model_len: 16384, ..spec.clone() };
        let patch = json!({ "spec": { "template": { "spec": { "containers": [
            { "name": VLLM_CONTAINER, "args": fixed.args() }
        ] } } } });
        deployments.patch("llama", &PatchParams::default(), &Patch::Strategic(&patch)).await?;

        let ready = wait_for_ready_pod(&client, &ns, "llama", TIMEOUT).await?;
        let new_hash = ready.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash")).cloned();
        ensure!(new_hash != first_hash, "Ready pod is from the old ReplicaSet {first_hash:?}");
        let args = ready.spec.as_ref().map(|s| s.containers[0].args.clone().unwrap_or_default());
        ensure!(
            args.as_ref().is_some_and(|a| a.windows(2).any(|w| w[0] == "--max-model-len" && w[1] == "16384")),
            "new pod args {args:?}"
        );
        ensure!(restart_count(&ready, None) == 0, "new pod restarted: {}", describe_pod(&ready));
        wait_for_rollout(&client, &ns, "llama", TIMEOUT).await?;

        let rss = Api::<ReplicaSet>::namespaced(client.clone(), &ns).list(&ListParams::default()).await?;
        ensure!(rss.items.len() == 2, "expected old + new ReplicaSet, got {}", rss.items.len());
        poll("old pod gone", TIMEOUT, || async {
            let pods = deployment_pods(&client, &ns, "llama").await?;
            Ok(pods.iter().all(|p: &Pod| p.metadata.name.as_deref() != Some(&pod_name)).then_some(()))
        })
        .await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn oomkilled_scenario_reports_exit_137() -> Result<()> {
    let Some(client) = client_or_skip("oomkilled_scenario_reports_exit_137").await else {
        return Ok(());
    };
    let previous = cri_log_from_file(sample_log("vllm-host-oom.log"))?;
    in_namespace(&client, "proof-oom", |client, ns| async move {
        let spec = VllmSpec {
            scenario: Some(Scenario::OomKilled),
            previous_log: Some(previous),
            run_duration: Some("1s".into()),
            backoff_duration: Some("2s".into()),
            ..VllmSpec::new("llama-70b")
        };
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let pod = wait_for_last_terminated(&client, &ns, "llama-70b", "OOMKilled", 137, TIMEOUT).await?;
        let name = pod.metadata.name.clone().context("pod name")?;
        let logs = previous_logs(&client, &ns, &name, None).await?;
        ensure!(logs.contains("Loading safetensors checkpoint shards:  47%"), "previous logs:\n{logs}");
        wait_for_crashloop(&client, &ns, "llama-70b", 1, TIMEOUT).await?;

        // Healing the live pod ends its scenario: Ready, restarts kept.
        heal_pod(&client, &ns, &name).await?;
        let healed = wait_for_deployment_pod(&client, &ns, "llama-70b", "healed pod Ready", TIMEOUT, |p| {
            p.metadata.name.as_deref() == Some(name.as_str()) && is_pod_ready(p)
        })
        .await?;
        ensure!(restart_count(&healed, None) >= 1, "healed pod {}", describe_pod(&healed));
        Ok(())
    })
    .await
}

#[tokio::test]
async fn probe_kill_scenario_emits_kubelet_events_and_longer_probe_fixes_it() -> Result<()> {
    let Some(client) = client_or_skip("probe_kill_scenario_emits_kubelet_events_and_longer_probe_fixes_it").await
    else {
        return Ok(());
    };
    let previous = cri_log_from_file(sample_log("vllm-startup-slow.log"))?;
    in_namespace(&client, "proof-probe", |client, ns| async move {
        // Loading takes 600 s; the startup probe allows 10 s * 3.
        let spec = VllmSpec {
            scenario: Some(Scenario::ProbeKill),
            previous_log: Some(previous),
            startup_probe: Some((10, 3)),
            load_seconds: Some(600),
            run_duration: Some("1s".into()),
            backoff_duration: Some("2s".into()),
            ..VllmSpec::new("llama-tp8")
        };
        create_deployment(&client, &ns, &spec.deployment()).await?;
        let pod = wait_for_crashloop(&client, &ns, "llama-tp8", 1, TIMEOUT).await?;
        let name = pod.metadata.name.clone().context("pod name")?;
        let last = last_terminated(&pod, None).context("no lastState.terminated")?;
        ensure!(last.exit_code == 137 && last.reason.as_deref() == Some("Error"), "last state {last:?}");
        let unhealthy = wait_for_pod_event(&client, &ns, &name, "Unhealthy", TIMEOUT).await?;
        ensure!(
            unhealthy.message.as_deref().is_some_and(|m| m.starts_with("Startup probe failed: ")),
            "Unhealthy event {unhealthy:?}"
        );
        let killing = wait_for_pod_event(&client, &ns, &name, "Killing", TIMEOUT).await?;
        ensure!(
            killing.message.as_deref() == Some("Container vllm failed startup probe, will be restarted"),
            "Killing event {killing:?}"
        );
        let logs = previous_logs(&client, &ns, &name, None).await?;
        ensure!(logs.contains("Downloading shards:"), "previous logs:\n{logs}");

        // Lengthen the startup probe to 10 s * 90 = 900 s >= 600 s.
        let patch = json!({ "spec": { "template": { "spec": { "containers": [
            { "name": VLLM_CONTAINER, "startupProbe": { "failureThreshold": 90 } }
        ] } } } });
        Api::<Deployment>::namespaced(client.clone(), &ns)
            .patch("llama-tp8", &PatchParams::default(), &Patch::Strategic(&patch))
            .await?;
        wait_for_ready_pod(&client, &ns, "llama-tp8", TIMEOUT).await?;
        wait_for_rollout(&client, &ns, "llama-tp8", TIMEOUT).await?;
        Ok(())
    })
    .await
}
