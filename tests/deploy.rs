//! The in-cluster deployment (`deploy/`), checked for real.
//!
//! Without a cluster: the chart's CRD copies are `podmedic crd`'s output,
//! the controller's RBAC is exactly the table below, the Deployment's
//! environment parses as `podmedic run`'s configuration (with default
//! values, and with every option, `tests/deploy/all-options.rendered.yaml`),
//! and every `podmedic_*` metric the alerts and the dashboard use exists.
//!
//! Against the local control plane (`tests/cluster/up`, then
//! `eval "$(tests/cluster/env)"`): `deploy/manifests/` is applied as
//! `kubectl apply --server-side -f deploy/manifests/` would (namespace
//! `podmedic`), then
//! - the controller's ServiceAccount, with a real token from the
//!   TokenRequest API, can do each thing podmedic needs and none of the
//!   dangerous ones (SelfSubjectAccessReview, as the SA itself);
//! - a user without `podmedic-approver` cannot approve, one with it can;
//! - the ValidatingAdmissionPolicy makes `podmedic.io/decided-by` the
//!   requesting user's own name and keeps people to `podmedic.io/*`
//!   annotations, while the controller's ServiceAccount is exempt;
//! - podmedic's pods pass the namespace's `restricted` Pod Security level;
//! - end to end, the `podmedic run` binary with nothing but that
//!   ServiceAccount's token (outside the cluster, execution on) proposes a
//!   fix for a crash-looping vLLM-like Deployment, and once a person bound
//!   to `podmedic-approver` approves it under their own name, applies and
//!   verifies it: a new ReplicaSet with `--max-model-len 20736` is Ready.
//!
//! The plane is shared with other tests, so the shipped
//! ValidatingAdmissionPolicyBinding (all namespaces) is not installed here;
//! a copy of it that differs only in its namespaceSelector guards this
//! file's own namespaces. Everything else is applied unchanged and left
//! installed (applying again is idempotent). Without a kubeconfig the
//! cluster tests print why and pass as skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::{Args, FromArgMatches};
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{Event, Namespace, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::RoleBinding;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{
    Api, DeleteParams, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::{self, Scope};
use kube::{Client, Config};
use podmedic::class::FailureClass;
use podmedic::controller::config::ControllerConfig;
use podmedic::crd::{
    CLASS_LABEL, DECIDED_BY_ANNOTATION, DECISION_ANNOTATION, Phase, RecoveryProposal, RecoveryProposalSpec,
    RecoveryProposalStatus, WORKLOAD_LABEL,
};
use serde_json::{Value, json};

#[path = "common/cluster.rs"]
mod cluster;

/// Namespace and release of deploy/manifests/.
const NS: &str = "podmedic";
/// The controller's ServiceAccount, and the user name the API server gives it.
const SA: &str = "podmedic";
const SA_USER: &str = "system:serviceaccount:podmedic:podmedic";
/// Field manager of this file's server-side applies.
const MANAGER: &str = "podmedic-deploy-test";
/// The shipped admission policy and binding.
const POLICY: &str = "podmedic-decisions";
/// This file's copy of the binding, limited to namespaces with this label.
const TEST_BINDING: &str = "podmedic-decisions-deploy-test";
const TEST_NS_LABEL: &str = "podmedic.test/deploy-admission";
const TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// The repository's files
// ---------------------------------------------------------------------------

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The YAML documents of a file, as JSON values (empty documents dropped).
fn yaml_docs(rel: &str) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    docs.into_iter().filter(Value::is_object).collect()
}

/// Every object of `deploy/manifests/`, in `kubectl apply -f` order.
fn manifests() -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("deploy/manifests"))
        .expect("deploy/manifests")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files.iter().flat_map(|p| yaml_docs(p.strip_prefix(repo()).unwrap().to_str().unwrap())).collect()
}

fn kind_of(obj: &Value) -> &str {
    obj["kind"].as_str().unwrap_or("")
}

fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or("")
}

/// The one object of `kind` named `name` in deploy/manifests/.
fn manifest(kind: &str, name: &str) -> Value {
    let found: Vec<Value> = manifests().into_iter().filter(|o| kind_of(o) == kind && name_of(o) == name).collect();
    assert_eq!(found.len(), 1, "deploy/manifests/ should hold exactly one {kind} {name}");
    found.into_iter().next().unwrap()
}

// ---------------------------------------------------------------------------
// Without a cluster
// ---------------------------------------------------------------------------

#[test]
fn crd_copies_are_podmedic_crd_output() {
    use kube::CustomResourceExt as _;
    let generated = podmedic::yaml::to_string(&RecoveryProposal::crd()).unwrap();
    assert_eq!(
        read("deploy/crd/recoveryproposals.yaml"),
        generated,
        "deploy/crd/ is stale: podmedic crd > deploy/crd/recoveryproposals.yaml"
    );
    assert_eq!(
        read("deploy/helm/podmedic/crds/recoveryproposals.yaml"),
        generated,
        "the chart's CRD copy is stale: run deploy/render"
    );
    let in_manifests = read("deploy/manifests/10-crd.yaml");
    let body = in_manifests.split_once('\n').map(|(_, rest)| rest).unwrap_or_default();
    assert_eq!(body, generated, "deploy/manifests/10-crd.yaml is stale: run deploy/render");
}

/// One RBAC permission: (apiGroup, resource, resourceName or "", verb).
type Perm = (String, String, String, String);

fn perms(rules: &Value) -> BTreeSet<Perm> {
    let strs = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect()).unwrap_or_default()
    };
    let mut out = BTreeSet::new();
    for rule in rules.as_array().expect("rules") {
        let names = strs(&rule["resourceNames"]);
        let names = if names.is_empty() { vec![String::new()] } else { names };
        for g in strs(&rule["apiGroups"]) {
            for r in strs(&rule["resources"]) {
                for n in &names {
                    for v in strs(&rule["verbs"]) {
                        out.insert((g.clone(), r.clone(), n.clone(), v));
                    }
                }
            }
        }
    }
    out
}

fn table(rows: &[(&str, &str, &str, &[&str])]) -> BTreeSet<Perm> {
    rows.iter()
        .flat_map(|(g, r, n, verbs)| {
            verbs.iter().map(move |v| (g.to_string(), r.to_string(), n.to_string(), v.to_string()))
        })
        .collect()
}

/// What the controller may do in the namespaces it watches.
const WORKLOAD_RULES: &[(&str, &str, &str, &[&str])] = &[
    ("", "pods", "", &["get", "list", "watch", "delete"]),
    ("", "pods/log", "", &["get"]),
    ("", "events", "", &["get", "list", "watch", "create", "patch"]),
    ("events.k8s.io", "events", "", &["get", "list", "watch", "create", "patch"]),
    ("apps", "deployments", "", &["get", "list", "watch", "patch"]),
    ("apps", "statefulsets", "", &["get", "list", "watch", "patch"]),
    ("apps", "replicasets", "", &["get", "list", "watch"]),
    ("apps", "controllerrevisions", "", &["get", "list", "watch"]),
    ("podmedic.io", "recoveryproposals", "", &["get", "list", "watch", "create", "update", "patch"]),
    ("podmedic.io", "recoveryproposals/status", "", &["get", "update", "patch"]),
];
/// What it may do cluster-wide.
const CLUSTER_RULES: &[(&str, &str, &str, &[&str])] = &[
    ("", "nodes", "", &["get", "list", "watch", "patch"]),
    ("authorization.k8s.io", "subjectaccessreviews", "", &["create"]),
];
/// What it may do in its own namespace: its one Lease.
const LEASE_RULES: &[(&str, &str, &str, &[&str])] = &[
    ("coordination.k8s.io", "leases", "", &["create"]),
    ("coordination.k8s.io", "leases", "podmedic", &["get", "update", "patch"]),
];

#[test]
fn controller_rbac_is_exactly_what_it_needs() {
    let check = |kind: &str, name: &str, want: &[(&str, &str, &str, &[&str])]| {
        let got = perms(&manifest(kind, name)["rules"]);
        let want = table(want);
        let extra: Vec<_> = got.difference(&want).collect();
        let missing: Vec<_> = want.difference(&got).collect();
        assert!(extra.is_empty() && missing.is_empty(), "{kind} {name}: extra {extra:?}, missing {missing:?}");
    };
    check("ClusterRole", "podmedic-workloads", WORKLOAD_RULES);
    check("ClusterRole", "podmedic-cluster", CLUSTER_RULES);
    check("Role", "podmedic-leader-election", LEASE_RULES);
    check(
        "ClusterRole",
        "podmedic-approver",
        &[("podmedic.io", "recoveryproposals", "", &["get", "list", "watch", "patch"])],
    );
    check("ClusterRole", "podmedic-viewer", &[("podmedic.io", "recoveryproposals", "", &["get", "list", "watch"])]);

    // The bindings name the chart's ServiceAccount and nothing else.
    for (kind, name) in [
        ("ClusterRoleBinding", "podmedic-workloads"),
        ("ClusterRoleBinding", "podmedic-cluster"),
        ("RoleBinding", "podmedic-leader-election"),
    ] {
        let b = manifest(kind, name);
        assert_eq!(b["subjects"], json!([{"kind": "ServiceAccount", "name": SA, "namespace": NS}]), "{kind} {name}");
        assert_eq!(b["roleRef"]["name"], name, "{kind} {name}");
    }
    // No other role or binding ships.
    let rbac: Vec<String> = manifests()
        .iter()
        .filter(|o| kind_of(o).ends_with("Role") || kind_of(o).ends_with("RoleBinding"))
        .map(|o| format!("{} {}", kind_of(o), name_of(o)))
        .collect();
    assert_eq!(rbac.len(), 8, "unexpected RBAC objects: {rbac:?}");
    // The approver role is not aggregated into `admin` by default.
    let approver = manifest("ClusterRole", "podmedic-approver");
    assert!(approver["metadata"]["labels"].get("rbac.authorization.k8s.io/aggregate-to-admin").is_none());
    let viewer = manifest("ClusterRole", "podmedic-viewer");
    assert_eq!(viewer["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"], "true");
}

/// `podmedic run` variables the chart never sets, and why.
const NEVER_SET: &[&str] = &[
    "PODMEDIC_PATTERNS",  // the built-in signature library (extraEnv can set it)
    "PODMEDIC_PLAYBOOKS", // the built-in playbooks (extraEnv can set it)
    "PODMEDIC_MODEL",     // the built-in classifier weights (extraEnv can set it)
    "PODMEDIC_DEVICE",    // the image is CPU-only; a CUDA build would set it
    // Secrets as values would show in the process environment and to anyone
    // who may read the Deployment; the chart mounts them and sets *_FILE.
    "PODMEDIC_SLACK_BOT_TOKEN",
    "PODMEDIC_SLACK_SIGNING_SECRET",
    "PODMEDIC_SLACK_WEBHOOK_URL",
    "PODMEDIC_WEBHOOK_SECRET",
    "PODMEDIC_WEBHOOK_URL",
];
/// `podmedic run` variables the chart sets only when asked to, and why
/// (`tests/deploy/all-options.rendered.yaml` sets every one of them).
const UNSET_BY_DEFAULT: &[&str] = &[
    "PODMEDIC_NAMESPACES",        // empty: all namespaces
    "PODMEDIC_SELECTOR",          // empty: every pod
    "PODMEDIC_VERIFY_WINDOW_CAP", // the playbooks' verification windows
    "PODMEDIC_VERIFY_READY_CAP",  // the playbooks' time to become Ready
    // Serving metrics are off until metrics.prometheusURL names Prometheus.
    "PODMEDIC_PROMETHEUS_URL",
    "PODMEDIC_PROMETHEUS_TIMEOUT",
    "PODMEDIC_METRICS_WINDOW",
    "PODMEDIC_STALL_WINDOW",
    "PODMEDIC_STALL_CHECK_INTERVAL",
    // ChatOps is off until chatops.existingSecret names its credentials.
    "PODMEDIC_CHATOPS_APPROVERS_FILE",
    "PODMEDIC_CHATOPS_MAX_ATTEMPTS",
    "PODMEDIC_CHATOPS_QUEUE",
    "PODMEDIC_CHATOPS_RETRY_BASE",
    "PODMEDIC_CHATOPS_SUBJECT_ACCESS_REVIEW",
    "PODMEDIC_SLACK_API_URL",
    "PODMEDIC_SLACK_APPROVERS",
    "PODMEDIC_SLACK_BOT_TOKEN_FILE",
    "PODMEDIC_SLACK_CHANNEL",
    "PODMEDIC_SLACK_SIGNING_SECRET_FILE",
    "PODMEDIC_SLACK_USERS",
    "PODMEDIC_SLACK_WEBHOOK_URL_FILE",
    "PODMEDIC_WEBHOOK_APPROVERS",
    "PODMEDIC_WEBHOOK_SECRET_FILE",
    "PODMEDIC_WEBHOOK_URL_FILE",
];

/// `podmedic run`'s flags, as a clap command.
fn run_command() -> clap::Command {
    ControllerConfig::augment_args(clap::Command::new("run").no_binary_name(true))
}

/// The container's environment as `podmedic run` flags (values only; the
/// downward API's fields become a placeholder), and the variables it sets.
fn env_as_flags(c: &Value) -> (Vec<String>, BTreeSet<String>) {
    let by_env: BTreeMap<String, String> = run_command()
        .get_arguments()
        .filter_map(|a| Some((a.get_env()?.to_str()?.to_owned(), a.get_long()?.to_owned())))
        .collect();
    let mut argv = Vec::new();
    let mut set = BTreeSet::new();
    for e in c["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        assert!(set.insert(name.to_owned()), "the chart sets {name} twice");
        let long =
            by_env.get(name).unwrap_or_else(|| panic!("the chart sets {name}, which podmedic run does not read"));
        if let Some(v) = e["value"].as_str() {
            argv.push(format!("--{long}={v}"));
        } else {
            let field = e["valueFrom"]["fieldRef"]["fieldPath"]
                .as_str()
                .unwrap_or_else(|| panic!("{name} comes from {}; only values and the downward API", e["valueFrom"]));
            let want = match name {
                "POD_NAME" => "metadata.name",
                "POD_NAMESPACE" => "metadata.namespace",
                _ => panic!("{name} from {field}"),
            };
            assert_eq!(field, want, "{name}");
            argv.push(format!("--{long}=from-downward-api"));
        }
    }
    let unset: BTreeSet<String> = by_env.keys().filter(|n| !set.contains(*n)).cloned().collect();
    (argv, unset)
}

fn names(list: &[&[&str]]) -> BTreeSet<String> {
    list.iter().flat_map(|l| l.iter().map(|s| s.to_string())).collect()
}

#[test]
fn deployment_environment_is_a_valid_podmedic_run_configuration() {
    let dep = manifest("Deployment", "podmedic");
    let pod = &dep["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(c["args"], json!(["run"]));

    let (argv, unset) = env_as_flags(c);
    assert_eq!(
        unset,
        names(&[NEVER_SET, UNSET_BY_DEFAULT]),
        "podmedic run variables the chart does not set (expose new flags in values.yaml)"
    );
    let cmd = run_command();
    let matches = cmd.try_get_matches_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let cfg = ControllerConfig::from_arg_matches(&matches).unwrap();
    assert!(cfg.dry_run, "dry-run must be on by default");
    assert_eq!(cfg.restart_threshold, 2);
    assert_eq!(cfg.proposal_ttl, Duration::from_secs(30 * 60));
    assert_eq!(cfg.cooldown, Duration::from_secs(10 * 60));
    assert_eq!(cfg.max_concurrent_executions, 2);
    assert_eq!(cfg.max_attempts_per_day, 3);
    assert_eq!((cfg.breaker_failures, cfg.breaker_window), (3, Duration::from_secs(15 * 60)));
    assert_eq!(cfg.listen.port(), 8080);
    assert!(cfg.leader_election);
    assert_eq!(cfg.lease_name, "podmedic");
    assert_eq!(cfg.log_format, "json");
    assert_eq!(cfg.verify_window_cap, None);
    let chatops = cfg.chatops.settings().expect("ChatOps settings");
    assert!(chatops.notifier.slack.is_none() && chatops.notifier.webhook.is_none(), "ChatOps is off by default");
    assert!(pod["volumes"].as_array().unwrap().iter().all(|v| v["name"] == "tmp"), "{}", pod["volumes"]);

    // Two replicas with leader election, a PDB, a non-root read-only container.
    assert_eq!(dep["spec"]["replicas"], 2);
    let pdb = manifest("PodDisruptionBudget", "podmedic");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
}

/// `tests/deploy/all-options.rendered.yaml`: the chart with every optional
/// setting (`tests/deploy/all-options.values.yaml`) sets every variable of
/// `podmedic run` except [`NEVER_SET`]; secrets and the approvers file
/// arrive as read-only mounted files, and the result passes podmedic's own
/// start-up checks (the mounted files recreated in a temporary directory).
#[test]
fn every_chart_option_is_a_valid_podmedic_run_configuration() {
    let docs = yaml_docs("tests/deploy/all-options.rendered.yaml");
    let one = |kind: &str| docs.iter().find(|d| kind_of(d) == kind).unwrap_or_else(|| panic!("no {kind}")).clone();
    let (dep, approvers_cm) = (one("Deployment"), one("ConfigMap"));
    let pod = &dep["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let (argv, unset) = env_as_flags(c);
    assert_eq!(unset, names(&[NEVER_SET]), "podmedic run variables no chart option sets");
    let text = serde_json::to_string(c).unwrap();
    assert!(!text.contains("secretKeyRef"), "a secret as an environment variable: {text}");

    // Each file a variable names lies in a read-only mount of the ChatOps
    // Secret (one of its listed keys) or of the approvers ConfigMap.
    let volumes: BTreeMap<&str, &Value> =
        pod["volumes"].as_array().unwrap().iter().map(|v| (v["name"].as_str().unwrap(), v)).collect();
    let secret = &volumes["chatops-secrets"]["secret"];
    assert_eq!(secret["secretName"], "podmedic-chatops");
    assert_eq!(secret["defaultMode"], 0o440, "secret files are 0440");
    assert_eq!(pod["securityContext"]["fsGroup"], 65532, "the secret files' group is podmedic's");
    let dir = tempfile::tempdir().unwrap();
    let mut argv_local = Vec::new();
    let mut files = BTreeSet::new();
    for arg in &argv {
        let (flag, value) = arg.split_once('=').unwrap();
        if !(flag.ends_with("-file") && value.starts_with('/')) {
            argv_local.push(arg.clone());
            continue;
        }
        let mount = c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| value.starts_with(&format!("{}/", m["mountPath"].as_str().unwrap())))
            .unwrap_or_else(|| panic!("{flag}={value} is in no volume mount"));
        assert_eq!(mount["readOnly"], true, "{mount}");
        let key = &value[mount["mountPath"].as_str().unwrap().len() + 1..];
        let volume = volumes[mount["name"].as_str().unwrap()];
        let items = volume["secret"]["items"].as_array().or(volume["configMap"]["items"].as_array()).unwrap();
        assert!(items.contains(&json!({"key": key, "path": key})), "{flag}: {key} is not mounted from {volume}");
        let content = if volume.get("configMap").is_some() {
            assert_eq!(volume["configMap"]["name"], approvers_cm["metadata"]["name"]);
            approvers_cm["data"][key].as_str().unwrap().to_owned()
        } else {
            format!("test-value-of-{key}\n")
        };
        let local = dir.path().join(key);
        std::fs::write(&local, content).unwrap();
        argv_local.push(format!("{flag}={}", local.display()));
        files.insert(flag.to_owned());
    }
    assert_eq!(files.len(), 6, "five secrets and the approvers file: {files:?}");

    let matches = run_command().try_get_matches_from(&argv_local).unwrap_or_else(|e| panic!("{argv_local:?}: {e}"));
    let cfg = ControllerConfig::from_arg_matches(&matches).unwrap();
    assert_eq!(cfg.namespaces, ["llm-prod", "llm-staging"]);
    assert_eq!(cfg.selector.as_deref(), Some("app.kubernetes.io/component=llm"));
    assert_eq!(cfg.verify_window_cap, Some(Duration::from_secs(120)));
    let s = cfg.chatops.settings().unwrap_or_else(|e| panic!("podmedic run would refuse to start: {e}"));
    use podmedic::chatops::SlackTarget;
    use podmedic::chatops::policy::Verdict;
    match &s.notifier.slack {
        Some(SlackTarget::Bot { api_url, token, channel }) => {
            assert_eq!((api_url.as_str(), channel.as_str()), ("https://slack.example.com/api", "C0123PROPOSALS"));
            assert_eq!(token.expose(), "test-value-of-slack-bot-token", "the trailing newline is dropped");
        }
        other => panic!("Slack posts with the bot token: {other:?}"),
    }
    assert_eq!(s.notifier.webhook.as_ref().unwrap().url.expose(), "test-value-of-webhook-url");
    assert_eq!((s.notifier.queue_capacity, s.notifier.max_attempts), (64, 3));
    assert_eq!(s.notifier.retry_base, Duration::from_secs(2));
    let i = &s.inbound;
    assert_eq!(i.slack_signing_secret.as_ref().unwrap().expose(), "test-value-of-slack-signing-secret");
    assert_eq!(i.slack_approvers.verdict("llm-prod", "U0123ABCD"), Verdict::Allowed);
    assert_eq!(i.slack_approvers.verdict("llm-other", "U0789IJKL"), Verdict::Allowed, "`*` in values");
    assert_eq!(i.slack_approvers.verdict("llm-staging", "U0999STAGE"), Verdict::Allowed, "from the file");
    assert_eq!(i.slack_approvers.groups_in("llm-prod").collect::<Vec<_>>(), ["S0456EFGH"]);
    assert_eq!(i.slack_users["U0123ABCD"], "alice@example.com");
    assert_eq!(i.slack_users["U0999STAGE"], "bob@example.com", "from the file");
    assert_eq!(i.webhook_approvers.verdict("llm-prod", "alice"), Verdict::Allowed);
    assert_eq!(i.webhook_approvers.verdict("llm-other", "carol"), Verdict::Allowed, "from the file");
    assert_eq!(i.webhook_secret.as_ref().unwrap().expose(), "test-value-of-webhook-secret");
    assert!(i.subject_access_review);
    // The pods restart when the chart's approvers file changes.
    assert!(dep["spec"]["template"]["metadata"]["annotations"]["checksum/chatops-approvers"].is_string());
}

#[test]
fn metrics_used_by_alerts_and_dashboard_exist() {
    // Every series name podmedic's registry can produce.
    use podmedic::metrics::*;
    let mut registry = prometheus_client::registry::Registry::default();
    let m = Metrics::new(&mut registry);
    // A family without a label set is not encoded at all: give each one.
    m.pod_events.get_or_create(&KindLabel { kind: "crashloop" }).inc();
    m.diagnoses.get_or_create(&DiagnosisLabels { class: "kv-cache-oom", source: "signature" }).inc();
    m.proposals.get_or_create(&PhaseLabel { phase: "Proposed" }).set(1);
    m.transitions.get_or_create(&PhaseLabel { phase: "Failed" }).inc();
    m.actions.get_or_create(&ActionLabels { action: "patch-args", result: "applied" }).inc();
    m.decisions.get_or_create(&DecisionLabels { via: "annotation", outcome: "accepted" }).inc();
    m.reconcile_errors.get_or_create(&CodeLabel { code: "kube" }).inc();
    m.notifications.get_or_create(&ChannelLabels { channel: "slack", result: "failed" }).inc();
    m.metrics_reads.get_or_create(&ResultLabel { result: "read" }).inc();
    m.stall_checks.get_or_create(&ResultLabel { result: "ok" }).inc();
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    let mut known = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else { continue };
        let (name, kind) = rest.split_once(' ').unwrap();
        match kind {
            "counter" => {
                known.insert(format!("{name}_total"));
            }
            "histogram" => {
                for s in ["bucket", "sum", "count"] {
                    known.insert(format!("{name}_{s}"));
                }
            }
            _ => {
                known.insert(name.to_owned());
            }
        }
    }
    let re = regex::Regex::new(r"\bpodmedic_[a-z_]+").unwrap();
    for file in ["deploy/prometheus/rules.yaml", "deploy/grafana/podmedic.json"] {
        let text = read(file);
        let used: BTreeSet<&str> = re.find_iter(&text).map(|m| m.as_str()).collect();
        assert!(!used.is_empty(), "{file} uses no podmedic metric");
        let unknown: Vec<&&str> = used.iter().filter(|m| !known.contains(**m)).collect();
        assert!(unknown.is_empty(), "{file} uses metrics podmedic does not export: {unknown:?} (known: {known:?})");
    }
}

// ---------------------------------------------------------------------------
// The local control plane
// ---------------------------------------------------------------------------

fn kubeconfig_path() -> Option<PathBuf> {
    ["PODMEDIC_KUBECONFIG", "KUBECONFIG"]
        .iter()
        .filter_map(std::env::var_os)
        .filter_map(|v| std::env::split_paths(&v).next())
        .find(|p| !p.as_os_str().is_empty())
        .filter(|p| p.is_file())
}

/// The admin configuration, or `None` (after saying why) when no plane is
/// configured. A kubeconfig that is set but unusable fails the test.
async fn admin_config_or_skip(test: &str) -> Option<Config> {
    let Some(path) = kubeconfig_path() else {
        println!(
            "SKIPPED {test}: no local control plane (PODMEDIC_KUBECONFIG / KUBECONFIG unset or missing); \
             run tests/cluster/up && eval \"$(tests/cluster/env)\""
        );
        return None;
    };
    let kc = Kubeconfig::read_from(&path).unwrap_or_else(|e| panic!("{test}: reading {}: {e}", path.display()));
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{test}: loading {}: {e}", path.display()));
    Some(cfg)
}

/// The same API server as `user` (impersonated by the admin).
fn client_as(admin: &Config, user: &str) -> Result<Client> {
    let mut cfg = admin.clone();
    cfg.auth_info.impersonate = Some(user.to_owned());
    cfg.auth_info.impersonate_groups = None;
    Ok(Client::try_from(cfg)?)
}

/// The same API server with `token` as the only credential.
fn client_with_token(admin: &Config, token: &str) -> Result<Client> {
    let mut cfg = admin.clone();
    cfg.auth_info = serde_json::from_value(json!({ "token": token }))?;
    Ok(Client::try_from(cfg)?)
}

/// A client authenticated as podmedic's ServiceAccount with a real,
/// short-lived token from the TokenRequest API (what the kubelet mounts).
async fn controller_client(admin_cfg: &Config, admin: &Client) -> Result<Client> {
    let token = controller_token(admin).await?;
    let client = client_with_token(admin_cfg, &token)?;
    let review = whoami(&client).await?;
    ensure!(review == SA_USER, "the token authenticates as {review}, not {SA_USER}");
    // Fresh bindings reach the authorizer's cache within moments: wait for
    // one permission from each.
    poll("podmedic's RoleBindings to take effect", TIMEOUT, || async {
        let ready = can_i(&client, "get", "", "pods", Some("llm-serving"), None).await?
            && can_i(&client, "patch", "", "nodes", None, None).await?
            && can_i(&client, "get", "coordination.k8s.io", "leases", Some(NS), Some("podmedic")).await?;
        Ok(ready.then_some(()))
    })
    .await?;
    Ok(client)
}

/// A real, short-lived token of podmedic's ServiceAccount from the
/// TokenRequest API (what the kubelet mounts into podmedic's pods).
async fn controller_token(admin: &Client) -> Result<String> {
    let req = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(1200), ..TokenRequestSpec::default() }),
        ..TokenRequest::default()
    };
    let tr = Api::<ServiceAccount>::namespaced(admin.clone(), NS)
        .create_token_request(SA, &PostParams::default(), &req)
        .await
        .context("TokenRequest for podmedic's ServiceAccount")?;
    tr.status.and_then(|s| s.token).context("TokenRequest without a token")
}

async fn whoami(client: &Client) -> Result<String> {
    let review = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .context("SelfSubjectReview")?;
    Ok(review.status.and_then(|s| s.user_info).and_then(|u| u.username).unwrap_or_default())
}

async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => None,
            Err(e) => Some(e),
        };
        if Instant::now() >= deadline {
            return Err(match last {
                Some(e) => e.context(format!("timed out after {timeout:?} waiting for {what}")),
                None => anyhow!("timed out after {timeout:?} waiting for {what}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Server-side applies `obj` (force: this file owns what it applies);
/// returns whether it changed an object that already existed.
async fn apply(client: &Client, obj: &Value) -> Result<bool> {
    let (group, version) = match obj["apiVersion"].as_str().context("apiVersion")?.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", obj["apiVersion"].as_str().unwrap()),
    };
    let gvk = GroupVersionKind::gvk(group, version, kind_of(obj));
    let (ar, caps) = discovery::pinned_kind(client, &gvk).await.with_context(|| format!("discovering {gvk:?}"))?;
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => {
            Api::namespaced_with(client.clone(), obj["metadata"]["namespace"].as_str().unwrap_or(NS), &ar)
        }
        Scope::Cluster => Api::all_with(client.clone(), &ar),
    };
    let before = api.get_opt(name_of(obj)).await?.and_then(|o| o.metadata.resource_version);
    let after = api
        .patch(name_of(obj), &PatchParams::apply(MANAGER).force(), &Patch::Apply(obj))
        .await
        .with_context(|| format!("applying {} {}", kind_of(obj), name_of(obj)))?;
    Ok(before.is_some() && before != after.metadata.resource_version)
}

static INSTALLED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// Applies deploy/manifests/ once per test run (the shipped binding
/// replaced by this file's namespace-limited copy) and waits until the CRD
/// is established and the admission policy has been type-checked.
async fn install(admin: &Client) -> Result<()> {
    INSTALLED
        .get_or_try_init(|| async {
            let objs = manifests();
            let mut policy_changed = false;
            for obj in &objs {
                match kind_of(obj) {
                    "ValidatingAdmissionPolicyBinding" => {
                        let spec = &obj["spec"];
                        ensure!(spec["policyName"] == POLICY, "binding for {}", spec["policyName"]);
                        ensure!(spec["validationActions"] == json!(["Deny"]), "shipped binding does not deny");
                        ensure!(
                            spec["matchResources"]["namespaceSelector"] == json!({}),
                            "shipped binding does not cover all namespaces"
                        );
                        let mut ours = obj.clone();
                        ours["metadata"] = json!({"name": TEST_BINDING, "labels": obj["metadata"]["labels"]});
                        ours["spec"]["matchResources"]["namespaceSelector"] =
                            json!({"matchLabels": {TEST_NS_LABEL: "true"}});
                        apply(admin, &ours).await?;
                    }
                    "ValidatingAdmissionPolicy" => policy_changed |= apply(admin, obj).await?,
                    _ => {
                        apply(admin, obj).await?;
                    }
                }
                if kind_of(obj) == "CustomResourceDefinition" {
                    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
                    poll("the RecoveryProposal CRD to be established", TIMEOUT, || async {
                        let crd = crds.get(name_of(obj)).await?;
                        let established = crd
                            .status
                            .and_then(|s| s.conditions)
                            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Established" && c.status == "True"));
                        Ok(established.then_some(()))
                    })
                    .await?;
                }
            }
            // The policy type-checks against the CRD's schema without warnings.
            let vap = GroupVersionKind::gvk("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy");
            let (ar, _) = discovery::pinned_kind(admin, &vap).await?;
            let policies: Api<DynamicObject> = Api::all_with(admin.clone(), &ar);
            let status = poll("the admission policy to be type-checked", TIMEOUT, || async {
                let p = policies.get(POLICY).await?;
                let observed = p.data["status"]["observedGeneration"].as_i64();
                Ok((observed.is_some() && observed == p.metadata.generation).then(|| p.data["status"].clone()))
            })
            .await?;
            let warnings = &status["typeChecking"]["expressionWarnings"];
            ensure!(warnings.is_null() || warnings == &json!([]), "policy type-check warnings: {warnings:#}");
            if policy_changed {
                // The admission plugin compiles a changed policy from its own
                // informer, shortly after the status above; until then the old
                // version judges requests. (A new policy needs no wait: the
                // tests poll until it denies.)
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh namespace guarded by this file's copy of the admission binding.
async fn create_namespace(admin: &Client, prefix: &str) -> Result<String> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos();
    let name = format!("{prefix}-{:x}{}", nanos % 0xfffff, COUNTER.fetch_add(1, Ordering::Relaxed));
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(BTreeMap::from([(TEST_NS_LABEL.to_owned(), "true".to_owned())])),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(admin.clone()).create(&PostParams::default(), &ns).await?;
    Ok(name)
}

async fn delete_namespace(admin: &Client, name: &str) {
    let _ = Api::<Namespace>::all(admin.clone()).delete(name, &DeleteParams::background()).await;
}

/// Binds `user` to ClusterRole `role` in namespace `ns`.
async fn bind(admin: &Client, ns: &str, user: &str, role: &str) -> Result<()> {
    let rb: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": format!("{user}-{role}")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))?;
    Api::<RoleBinding>::namespaced(admin.clone(), ns).create(&PostParams::default(), &rb).await?;
    Ok(())
}

/// A proposal as podmedic would create it (the ChatOps fixture's spec: a
/// real rendered plan).
fn proposal(name: &str) -> RecoveryProposal {
    let expires =
        k8s_openapi::jiff::Timestamp::now().checked_add(k8s_openapi::jiff::SignedDuration::from_secs(1800)).unwrap();
    let mut spec: RecoveryProposalSpec = serde_json::from_str(&read("tests/fixtures/chatops/proposal-spec.json"))
        .expect("tests/fixtures/chatops/proposal-spec.json is a RecoveryProposal spec");
    spec.expires_at = Time(expires);
    spec.dry_run = true;
    let mut rp = RecoveryProposal::new(name, spec);
    rp.metadata.labels = Some(BTreeMap::from([
        (WORKLOAD_LABEL.to_owned(), "vllm".to_owned()),
        (CLASS_LABEL.to_owned(), "kv-cache-oom".to_owned()),
    ]));
    rp.metadata.annotations = Some(BTreeMap::from([("example.com/owner".to_owned(), "team-llm".to_owned())]));
    rp.metadata.finalizers = Some(vec![podmedic::crd::FINALIZER.to_owned()]);
    rp
}

fn merge(v: Value) -> Patch<Value> {
    Patch::Merge(v)
}

fn annotations(pairs: &[(&str, &str)]) -> Value {
    let map: serde_json::Map<String, Value> = pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    json!({"metadata": {"annotations": map}})
}

/// The API error of a failed request, or an error if it succeeded.
fn api_error<T>(res: kube::Result<T>, what: &str) -> Result<Box<kube::core::Status>> {
    match res {
        Ok(_) => bail!("{what}: the API server allowed it"),
        Err(kube::Error::Api(status)) => Ok(status),
        Err(e) => Err(anyhow!(e).context(what.to_owned())),
    }
}

/// Runs `body` in a fresh namespace and deletes the namespace afterwards.
async fn in_namespace<F, Fut>(admin: &Client, prefix: &str, body: F) -> Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let ns = create_namespace(admin, prefix).await?;
    let res = body(ns.clone()).await;
    delete_namespace(admin, &ns).await;
    res
}

/// Asks the API server, as `client`'s own identity, whether it may do `verb`.
async fn can_i(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    ns: Option<&str>,
    name: Option<&str>,
) -> Result<bool> {
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_owned())),
        None => (resource, None),
    };
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                subresource,
                namespace: ns.map(Into::into),
                name: name.map(Into::into),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let out = Api::<SelfSubjectAccessReview>::all(client.clone()).create(&PostParams::default(), &review).await?;
    Ok(out.status.is_some_and(|s| s.allowed))
}

#[tokio::test]
async fn controller_service_account_can_do_what_it_needs_and_nothing_dangerous() -> Result<()> {
    let test = "controller_service_account_can_do_what_it_needs_and_nothing_dangerous";
    let Some(cfg) = admin_config_or_skip(test).await else { return Ok(()) };
    let admin = Client::try_from(cfg.clone())?;
    install(&admin).await?;
    let sa = controller_client(&cfg, &admin).await?;

    // A namespace podmedic watches (with the default all-namespaces install, any).
    let llm = Some("llm-serving");
    let mut wrong = Vec::new();
    let mut expect = |allowed: bool, want: bool, what: String| {
        if allowed != want {
            wrong.push(format!("{} {what}", if want { "CANNOT" } else { "CAN" }));
        }
    };
    for (rules, ns) in [(WORKLOAD_RULES, llm), (CLUSTER_RULES, None), (LEASE_RULES, Some(NS))] {
        for (group, resource, name, verbs) in rules {
            let name = (!name.is_empty()).then_some(*name);
            for verb in *verbs {
                let ok = can_i(&sa, verb, group, resource, ns, name).await?;
                expect(ok, true, format!("{verb} {group}/{resource} {name:?} in {ns:?}"));
            }
        }
    }
    let dangerous: &[(&str, &str, &str, Option<&str>)] = &[
        ("get", "", "secrets", llm),
        ("list", "", "secrets", llm),
        ("watch", "", "secrets", llm),
        ("get", "", "secrets", Some(NS)),
        ("list", "", "secrets", None),
        ("get", "", "configmaps", llm),
        ("create", "", "pods", llm),
        ("update", "", "pods", llm),
        ("patch", "", "pods", llm),
        ("create", "", "pods/exec", llm),
        ("get", "", "pods/exec", llm),
        ("create", "", "pods/attach", llm),
        ("create", "", "pods/portforward", llm),
        ("create", "", "pods/ephemeralcontainers", llm),
        ("patch", "", "pods/ephemeralcontainers", llm),
        ("delete", "", "nodes", None),
        ("update", "", "nodes", None),
        ("get", "", "nodes/proxy", None),
        ("create", "", "serviceaccounts/token", Some(NS)),
        ("impersonate", "", "users", None),
        ("impersonate", "", "serviceaccounts", Some(NS)),
        ("delete", "", "namespaces", None),
        ("delete", "apps", "deployments", llm),
        ("create", "apps", "deployments", llm),
        ("update", "apps", "deployments", llm),
        ("deletecollection", "apps", "deployments", llm),
        ("patch", "apps", "deployments/scale", llm),
        ("delete", "apps", "statefulsets", llm),
        ("delete", "apps", "replicasets", llm),
        ("delete", "podmedic.io", "recoveryproposals", llm),
        ("deletecollection", "podmedic.io", "recoveryproposals", llm),
        ("escalate", "rbac.authorization.k8s.io", "clusterroles", None),
        ("bind", "rbac.authorization.k8s.io", "clusterroles", None),
        ("create", "rbac.authorization.k8s.io", "clusterrolebindings", None),
        ("create", "rbac.authorization.k8s.io", "rolebindings", llm),
        ("update", "apiextensions.k8s.io", "customresourcedefinitions", None),
        ("delete", "admissionregistration.k8s.io", "validatingadmissionpolicies", None),
        ("update", "admissionregistration.k8s.io", "validatingadmissionpolicybindings", None),
        ("create", "coordination.k8s.io", "leases", Some("kube-system")),
        ("update", "coordination.k8s.io", "leases", Some("kube-system")),
        ("*", "*", "*", None),
    ];
    for (verb, group, resource, ns) in dangerous {
        let ok = can_i(&sa, verb, group, resource, *ns, None).await?;
        expect(ok, false, format!("{verb} {group}/{resource} in {ns:?}"));
    }
    // Another Lease in its own namespace (another controller's) is out of reach.
    let ok = can_i(&sa, "update", "coordination.k8s.io", "leases", Some(NS), Some("another-controller")).await?;
    expect(ok, false, "update another Lease in podmedic".into());
    ensure!(wrong.is_empty(), "the controller's ServiceAccount:\n  {}", wrong.join("\n  "));
    Ok(())
}

#[tokio::test]
async fn approving_needs_the_approver_role() -> Result<()> {
    let test = "approving_needs_the_approver_role";
    let Some(cfg) = admin_config_or_skip(test).await else { return Ok(()) };
    let admin = Client::try_from(cfg.clone())?;
    install(&admin).await?;
    let a = admin.clone();
    in_namespace(&a, "podmedic-approve", |ns| async move {
        // Only podmedic creates proposals (the admission policy is bound here).
        Api::<RecoveryProposal>::namespaced(controller_client(&cfg, &admin).await?, &ns)
            .create(&PostParams::default(), &proposal("kv-1"))
            .await?;
        bind(&admin, &ns, "bob", "podmedic-viewer").await?;
        bind(&admin, &ns, "alice", "podmedic-approver").await?;
        let bob: Api<RecoveryProposal> = Api::namespaced(client_as(&cfg, "bob")?, &ns);
        let alice: Api<RecoveryProposal> = Api::namespaced(client_as(&cfg, "alice")?, &ns);

        // RBAC bindings reach the authorizer's cache within moments.
        poll("bob to see the proposal", TIMEOUT, || async { Ok(Some(bob.get("kv-1").await?)) }).await?;
        let approve_as = |who: &str| annotations(&[(DECISION_ANNOTATION, "approve"), (DECIDED_BY_ANNOTATION, who)]);
        let denied =
            api_error(bob.patch("kv-1", &PatchParams::default(), &merge(approve_as("bob"))).await, "bob approving")?;
        ensure!(denied.code == 403, "bob approving: {denied:?}");
        ensure!(
            denied.message.contains("cannot patch resource \"recoveryproposals\""),
            "bob approving: {}",
            denied.message
        );
        let denied = api_error(bob.delete("kv-1", &DeleteParams::default()).await, "bob deleting")?;
        ensure!(denied.code == 403, "bob deleting: {denied:?}");

        let approved = poll("alice's approval to be accepted", TIMEOUT, || async {
            Ok(Some(alice.patch("kv-1", &PatchParams::default(), &merge(approve_as("alice"))).await?))
        })
        .await?;
        let ann = approved.metadata.annotations.unwrap_or_default();
        ensure!(ann.get(DECISION_ANNOTATION).map(String::as_str) == Some("approve"), "{ann:?}");
        ensure!(ann.get(DECIDED_BY_ANNOTATION).map(String::as_str) == Some("alice"), "{ann:?}");

        // Approvers decide; they cannot delete the record or write its status.
        let denied = api_error(alice.delete("kv-1", &DeleteParams::default()).await, "alice deleting")?;
        ensure!(denied.code == 403, "alice deleting: {denied:?}");
        let status = json!({"status": {"phase": "Succeeded"}});
        let denied = api_error(
            alice.patch_status("kv-1", &PatchParams::default(), &merge(status)).await,
            "alice writing status",
        )?;
        ensure!(denied.code == 403, "alice writing status: {denied:?}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn admission_policy_makes_decided_by_the_requesting_user() -> Result<()> {
    let test = "admission_policy_makes_decided_by_the_requesting_user";
    let Some(cfg) = admin_config_or_skip(test).await else { return Ok(()) };
    let admin = Client::try_from(cfg.clone())?;
    install(&admin).await?;
    let a = admin.clone();
    in_namespace(&a, "podmedic-vap", |ns| async move {
        let admin_rxp: Api<RecoveryProposal> = Api::namespaced(admin.clone(), &ns);
        Api::<RecoveryProposal>::namespaced(controller_client(&cfg, &admin).await?, &ns)
            .create(&PostParams::default(), &proposal("kv-1"))
            .await?;
        bind(&admin, &ns, "alice", "podmedic-approver").await?;
        let alice: Api<RecoveryProposal> = Api::namespaced(client_as(&cfg, "alice")?, &ns);
        let pp = PatchParams::default();

        // Wait until both alice's binding and the policy are in force, with
        // a dry-run label change (admission runs for dry runs too).
        let relabel = json!({"metadata": {"labels": {CLASS_LABEL: "gpu-oom"}}});
        let first = poll("the admission policy to deny alice relabelling", TIMEOUT, || async {
            match alice.patch("kv-1", &PatchParams::default().dry_run(), &merge(relabel.clone())).await {
                Err(kube::Error::Api(s)) if s.message.contains("ValidatingAdmissionPolicy") => Ok(Some(s)),
                Err(kube::Error::Api(s)) if s.code == 403 => Ok(None), // RBAC not yet in the cache
                Err(e) => Err(e.into()),
                Ok(_) => Ok(None),
            }
        })
        .await?;
        ensure!(first.code == 403, "relabel: {first:?}");
        ensure!(
            first.message.contains("the labels of a RecoveryProposal are podmedic's"),
            "relabel: {}",
            first.message
        );

        // (i) decided-by must be the requesting user.
        let forged = annotations(&[(DECISION_ANNOTATION, "approve"), (DECIDED_BY_ANNOTATION, "mallory")]);
        let denied = api_error(alice.patch("kv-1", &pp, &merge(forged)).await, "alice approving as mallory")?;
        ensure!(denied.code == 403, "forged decided-by: {denied:?}");
        ensure!(
            denied.message.contains("podmedic.io/decided-by must be your own user name \"alice\""),
            "forged decided-by: {}",
            denied.message
        );
        let anonymous = annotations(&[(DECISION_ANNOTATION, "approve")]);
        let denied =
            api_error(alice.patch("kv-1", &pp, &merge(anonymous)).await, "alice approving without decided-by")?;
        ensure!(denied.message.contains("podmedic.io/decided-by must be your own user name"), "{}", denied.message);
        let odd = annotations(&[(DECISION_ANNOTATION, "maybe"), (DECIDED_BY_ANNOTATION, "alice")]);
        let denied = api_error(alice.patch("kv-1", &pp, &merge(odd)).await, "alice deciding `maybe`")?;
        ensure!(denied.message.contains("podmedic.io/decision must be approve or reject"), "{}", denied.message);

        let ok = annotations(&[(DECISION_ANNOTATION, "approve"), (DECIDED_BY_ANNOTATION, "alice")]);
        alice.patch("kv-1", &pp, &merge(ok)).await.context("alice approving as alice")?;
        // Re-stamping someone else's decision with another name is forging too.
        let restamp = annotations(&[(DECIDED_BY_ANNOTATION, "mallory")]);
        let denied = api_error(alice.patch("kv-1", &pp, &merge(restamp)).await, "alice re-stamping decided-by")?;
        ensure!(denied.code == 403, "re-stamp: {denied:?}");
        // The admin is held to the same rule.
        let as_admin = annotations(&[(DECISION_ANNOTATION, "reject"), (DECIDED_BY_ANNOTATION, "alice")]);
        let denied = api_error(admin_rxp.patch("kv-1", &pp, &merge(as_admin)).await, "admin deciding as alice")?;
        ensure!(denied.message.contains("must be your own user name \"admin\""), "{}", denied.message);

        // (ii) people may change podmedic.io/* annotations only.
        let denied = api_error(alice.patch("kv-1", &pp, &merge(relabel.clone())).await, "alice relabelling")?;
        ensure!(denied.message.contains("the labels of a RecoveryProposal are podmedic's"), "{}", denied.message);
        let other = annotations(&[("example.com/owner", "mallory")]);
        let denied = api_error(alice.patch("kv-1", &pp, &merge(other)).await, "alice changing another annotation")?;
        ensure!(denied.message.contains("only podmedic.io/* annotations"), "{}", denied.message);
        let added = annotations(&[("example.com/note", "hi")]);
        let denied = api_error(alice.patch("kv-1", &pp, &merge(added)).await, "alice adding another annotation")?;
        ensure!(denied.message.contains("only podmedic.io/* annotations"), "{}", denied.message);
        let respec = json!({"spec": {"pod": "other-pod"}});
        let denied = api_error(alice.patch("kv-1", &pp, &merge(respec)).await, "alice changing the spec")?;
        ensure!(denied.message.contains("immutable"), "{}", denied.message);
        alice
            .patch("kv-1", &pp, &merge(annotations(&[("podmedic.io/note", "checked the node first")])))
            .await
            .context("alice adding a podmedic.io/ annotation")?;

        // The controller (its ServiceAccount, real token) is exempt, and writes status.
        let sa: Api<RecoveryProposal> = Api::namespaced(controller_client(&cfg, &admin).await?, &ns);
        let status = RecoveryProposalStatus {
            phase: Phase::Approved,
            decided_by: Some("alice".into()),
            message: "approved by alice".into(),
            ..RecoveryProposalStatus::default()
        };
        let written = sa
            .patch_status("kv-1", &pp, &merge(json!({ "status": status })))
            .await
            .context("the controller writing status")?;
        ensure!(written.status.map(|s| s.phase) == Some(Phase::Approved), "status not written");
        let via_slack = annotations(&[(DECISION_ANNOTATION, "approve"), (DECIDED_BY_ANNOTATION, "slack:U024BE7LH")]);
        sa.patch("kv-1", &pp, &merge(via_slack)).await.context("the controller recording a ChatOps decision")?;
        sa.patch("kv-1", &pp, &merge(json!({"metadata": {"labels": {"podmedic.io/phase": "Approved"}}})))
            .await
            .context("the controller labelling")?;
        let denied = api_error(sa.delete("kv-1", &DeleteParams::default()).await, "the controller deleting")?;
        ensure!(denied.code == 403, "controller deleting: {denied:?}");
        Ok(())
    })
    .await
}

/// Only podmedic authors proposals and writes their status; nobody but
/// podmedic (and the garbage collector) touches their ownerReferences or
/// finalizers, so the audit record can be neither erased nor pinned.
#[tokio::test]
async fn only_podmedic_authors_proposals_and_the_record_cannot_be_erased() -> Result<()> {
    let test = "only_podmedic_authors_proposals_and_the_record_cannot_be_erased";
    let Some(cfg) = admin_config_or_skip(test).await else { return Ok(()) };
    let admin = Client::try_from(cfg.clone())?;
    install(&admin).await?;
    let a = admin.clone();
    in_namespace(&a, "podmedic-author", |ns| async move {
        let pp = PatchParams::default();
        // A user who may create proposals (a role granting just that).
        let role: k8s_openapi::api::rbac::v1::Role = serde_json::from_value(json!({
            "metadata": {"name": "rxp-creator"},
            "rules": [{"apiGroups": ["podmedic.io"], "resources": ["recoveryproposals", "recoveryproposals/status"],
                       "verbs": ["create", "get", "update", "patch"]}],
        }))?;
        Api::<k8s_openapi::api::rbac::v1::Role>::namespaced(admin.clone(), &ns)
            .create(&PostParams::default(), &role)
            .await?;
        let rb: RoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "carol-creator"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "rxp-creator"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "carol"}],
        }))?;
        Api::<RoleBinding>::namespaced(admin.clone(), &ns).create(&PostParams::default(), &rb).await?;
        let carol: Api<RecoveryProposal> = Api::namespaced(client_as(&cfg, "carol")?, &ns);
        let mut preapproved = proposal("pre-approved");
        preapproved.metadata.annotations = Some(BTreeMap::from([
            (DECISION_ANNOTATION.to_owned(), "approve".to_owned()),
            (DECIDED_BY_ANNOTATION.to_owned(), "sre-oncall".to_owned()),
        ]));
        let denied = poll("carol's create to be denied by the policy", TIMEOUT, || async {
            match carol.create(&PostParams::default(), &preapproved).await {
                Err(kube::Error::Api(s)) if s.message.contains("ValidatingAdmissionPolicy") => Ok(Some(s)),
                Err(kube::Error::Api(s)) if s.code == 403 => Ok(None), // RBAC not yet in the cache
                Err(e) => Err(e.into()),
                Ok(_) => bail!("carol created a proposal"),
            }
        })
        .await?;
        ensure!(denied.message.contains("only podmedic creates RecoveryProposals"), "{}", denied.message);
        let admin_rxp: Api<RecoveryProposal> = Api::namespaced(admin.clone(), &ns);
        let denied =
            api_error(admin_rxp.create(&PostParams::default(), &proposal("by-admin")).await, "admin creating")?;
        ensure!(denied.message.contains("only podmedic creates RecoveryProposals"), "{}", denied.message);

        // podmedic's own proposal.
        let sa: Api<RecoveryProposal> = Api::namespaced(controller_client(&cfg, &admin).await?, &ns);
        sa.create(&PostParams::default(), &proposal("kv-1")).await?;
        let status = json!({"status": {"phase": "Approved", "stamp": "forged", "decidedBy": "sre-oncall"}});
        let denied = api_error(carol.patch_status("kv-1", &pp, &merge(status.clone())).await, "carol writing status")?;
        ensure!(denied.message.contains("only podmedic writes the status"), "{}", denied.message);
        let denied = api_error(admin_rxp.patch_status("kv-1", &pp, &merge(status)).await, "admin writing status")?;
        ensure!(denied.message.contains("only podmedic writes the status"), "{}", denied.message);

        // An approver can neither hand the record to the garbage collector nor pin it.
        bind(&admin, &ns, "alice", "podmedic-approver").await?;
        let alice: Api<RecoveryProposal> = Api::namespaced(client_as(&cfg, "alice")?, &ns);
        let owner = json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "gone",
            "uid": "00000000-0000-0000-0000-000000000000"}]}});
        let denied = poll("alice's ownerReferences edit to be denied by the policy", TIMEOUT, || async {
            match alice.patch("kv-1", &pp, &merge(owner.clone())).await {
                Err(kube::Error::Api(s)) if s.message.contains("ValidatingAdmissionPolicy") => Ok(Some(s)),
                Err(kube::Error::Api(s)) if s.code == 403 => Ok(None),
                Err(e) => Err(e.into()),
                Ok(_) => bail!("alice set ownerReferences"),
            }
        })
        .await?;
        ensure!(denied.message.contains("ownerReferences of a RecoveryProposal are podmedic's"), "{}", denied.message);
        let pin = json!({"metadata": {"finalizers": [podmedic::crd::FINALIZER, "example.com/keep-forever"]}});
        let denied = api_error(alice.patch("kv-1", &pp, &merge(pin)).await, "alice adding a finalizer")?;
        ensure!(denied.message.contains("finalizers of a RecoveryProposal are podmedic's"), "{}", denied.message);
        let unpin = json!({"metadata": {"finalizers": null}});
        let denied = api_error(alice.patch("kv-1", &pp, &merge(unpin)).await, "alice removing podmedic's finalizer")?;
        ensure!(denied.message.contains("finalizers of a RecoveryProposal are podmedic's"), "{}", denied.message);
        Ok(())
    })
    .await
}

#[tokio::test]
async fn podmedic_pods_pass_restricted_pod_security() -> Result<()> {
    let test = "podmedic_pods_pass_restricted_pod_security";
    let Some(cfg) = admin_config_or_skip(test).await else { return Ok(()) };
    let admin = Client::try_from(cfg.clone())?;
    install(&admin).await?;
    let ns = Api::<Namespace>::all(admin.clone()).get(NS).await?;
    let labels = ns.metadata.labels.unwrap_or_default();
    ensure!(labels.get("pod-security.kubernetes.io/enforce").map(String::as_str) == Some("restricted"), "{labels:?}");
    // The ReplicaSet can only create the pods if they meet `restricted`.
    let pods: Api<Pod> = Api::namespaced(admin.clone(), NS);
    let lp = ListParams::default().labels("app.kubernetes.io/name=podmedic,app.kubernetes.io/instance=podmedic");
    let created = poll("podmedic's two pods to be created", TIMEOUT, || async {
        let list = pods.list(&lp).await?;
        Ok((list.items.len() >= 2).then_some(list.items))
    })
    .await;
    if let Err(e) = created {
        // Why the ReplicaSet could not create them (e.g. a Pod Security violation).
        let events = Api::<Event>::namespaced(admin.clone(), NS).list(&ListParams::default()).await?;
        let msgs: Vec<String> = events.items.into_iter().filter_map(|e| e.message).collect();
        return Err(e.context(format!("events in {NS}: {msgs:#?}")));
    }
    Ok(())
}

#[test]
fn manifests_directory_holds_only_generated_files() {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("deploy/manifests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["00-namespace.yaml", "10-crd.yaml", "20-podmedic.yaml"]);
    for n in &names {
        let text = read(&format!("deploy/manifests/{n}"));
        assert!(text.starts_with("# Generated by deploy/render"), "{n} lacks the generated header");
    }
}

// ---------------------------------------------------------------------------
// End to end: the controller with nothing but its ServiceAccount's token
// ---------------------------------------------------------------------------

/// vLLM refusing to start: the KV cache holds 20736 tokens, not 32768.
const KV_CACHE_LOG: &str = "INFO 11-27 12:00:00 api_server.py:528] vLLM API server version 0.6.3
INFO 11-27 12:00:05 model_runner.py:1067] Loading model weights took 14.9888 GB
INFO 11-27 12:00:09 gpu_executor.py:122] # GPU blocks: 1296, # CPU blocks: 2048
ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20736). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.";

/// A person allowed to approve in the test's namespace (podmedic-approver).
const APPROVER: &str = "sre-dana";

/// A `podmedic run` process; killed on drop. Its output goes to a file
/// (a pipe nobody reads would block it), shown when the test fails.
struct RunningController {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl RunningController {
    /// Runs the binary outside the cluster with a kubeconfig that holds
    /// only the ServiceAccount's token, as the chart's pods run it: leader
    /// election on the chart's Lease in the release namespace.
    fn start(admin_kubeconfig: &std::path::Path, token: &str, watch: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let kubeconfig = dir.path().join("kubeconfig");
        write_token_kubeconfig(admin_kubeconfig, token, &kubeconfig)?;
        let log = dir.path().join("podmedic.log");
        let out = std::fs::File::create(&log)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_podmedic"))
            .args(["run", "--dry-run=false", "--namespaces", watch])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--leader-election=true", "--lease-name", "podmedic"])
            // The playbook wants 5 minutes without a restart; a test cannot wait that long.
            .args(["--verify-window-cap", "5s"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KUBECONFIG", &kubeconfig)
            .env("POD_NAMESPACE", NS)
            .env("POD_NAME", format!("e2e-{watch}"))
            .env("RUST_LOG", "info,podmedic=debug,kube=warn")
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("spawning podmedic run")?;
        Ok(RunningController { child, port, log, _dir: dir })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_tail(&self, n: usize) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Status line and body of `GET path`.
    async fn get(&self, path: &str) -> Result<(String, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        Ok((head.lines().next().unwrap_or("").to_owned(), body.to_owned()))
    }
}

impl Drop for RunningController {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a kubeconfig for the admin's current cluster whose only
/// credential is `token`.
fn write_token_kubeconfig(admin: &std::path::Path, token: &str, out: &std::path::Path) -> Result<()> {
    let kc: Value = serde_saphyr::from_str(&std::fs::read_to_string(admin)?)?;
    let current = kc["current-context"].as_str().context("no current-context")?;
    let named = |list: &str, name: &str| {
        kc[list]
            .as_array()
            .and_then(|l| l.iter().find(|e| e["name"] == name))
            .cloned()
            .context(format!("{list} {name}"))
    };
    let context = named("contexts", current)?;
    let cluster_name = context["context"]["cluster"].as_str().context("context without a cluster")?;
    let mut cluster = named("clusters", cluster_name)?;
    if let Some(ca) = cluster["cluster"]["certificate-authority"].as_str() {
        // Relative to the kubeconfig it came from.
        let ca = admin.parent().unwrap_or(std::path::Path::new(".")).join(ca);
        cluster["cluster"]["certificate-authority"] = json!(ca);
    }
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": "podmedic", "user": {"token": token}}],
        "contexts": [{"name": "podmedic", "context": {"cluster": cluster_name, "user": "podmedic"}}],
        "current-context": "podmedic",
    });
    std::fs::write(out, serde_json::to_vec_pretty(&config)?)?;
    Ok(())
}

/// The chart's least-privilege claim, end to end: `podmedic run` outside the
/// cluster, authenticated only by a TokenRequest token of the ServiceAccount
/// that deploy/manifests/ creates (so with exactly the chart's RBAC: the
/// default, cluster-wide binding of podmedic-workloads, the Lease role in
/// `podmedic`), execution on, watches a fresh namespace where a vLLM-like
/// Deployment crash-loops on a KV-cache error. It proposes lowering
/// `--max-model-len` to 20736; a person bound to podmedic-approver approves
/// under their own name (the admission policy would refuse any other); the
/// controller patches the Deployment, a new ReplicaSet rolls out and becomes
/// Ready, and the proposal ends `Succeeded`. The controller never hears
/// "forbidden" on the way.
#[tokio::test]
async fn controller_with_only_its_service_account_fixes_a_crash_loop() -> Result<()> {
    let test = "controller_with_only_its_service_account_fixes_a_crash_loop";
    let Some(cfg) = admin_config_or_skip(test).await else { return Ok(()) };
    let admin = Client::try_from(cfg.clone())?;
    install(&admin).await?;
    let a = admin.clone();
    in_namespace(&a, "podmedic-e2e", |ns| async move {
        let mut ctl = None;
        let res = end_to_end(&cfg, &admin, &ns, &mut ctl).await;
        if res.is_err() {
            cluster::dump_namespace(&admin, &ns).await;
            if let Ok(list) = Api::<RecoveryProposal>::namespaced(admin.clone(), &ns).list(&ListParams::default()).await
            {
                for p in list.items {
                    let name = p.metadata.name.clone().unwrap_or_default();
                    eprintln!("proposal {name}: {}", serde_json::to_string(&p.status).unwrap_or_default());
                }
            }
            if let Some(c) = &ctl {
                eprintln!("--- podmedic run (last 80 lines) ---\n{}", c.log_tail(80));
            }
        }
        res
    })
    .await
}

async fn end_to_end(cfg: &Config, admin: &Client, ns: &str, ctl_slot: &mut Option<RunningController>) -> Result<()> {
    use k8s_openapi::api::apps::v1::Deployment;
    poll("the namespace's default ServiceAccount", TIMEOUT, || async {
        Ok(Api::<ServiceAccount>::namespaced(admin.clone(), ns).get_opt("default").await?.map(|_| ()))
    })
    .await?;
    bind(admin, ns, APPROVER, "podmedic-approver").await?;

    let mut spec = cluster::VllmSpec::new("llama");
    spec.scenario = Some(cluster::Scenario::CrashLoop);
    spec.previous_log = Some(cluster::cri_log(KV_CACHE_LOG)?);
    spec.broken_while_args_contain = Some("32768".into());
    spec.run_duration = Some("2s".into());
    spec.backoff_duration = Some("3s".into());
    cluster::create_deployment(admin, ns, &spec.deployment()).await?;

    // The controller, as podmedic's ServiceAccount and nothing else.
    let token = controller_token(admin).await?;
    ensure!(whoami(&client_with_token(cfg, &token)?).await? == SA_USER, "the token is not podmedic's");
    let kubeconfig = kubeconfig_path().context("no kubeconfig")?;
    let ctl: &RunningController = ctl_slot.insert(RunningController::start(&kubeconfig, &token, ns)?);
    poll("podmedic run to answer /readyz with 200", TIMEOUT, || async {
        Ok(ctl.get("/readyz").await.ok().filter(|(status, _)| status.contains(" 200 ")).map(|_| ()))
    })
    .await?;
    // It takes the chart's Lease (another run's may first have to expire).
    poll("podmedic run to lead", Duration::from_secs(90), || async {
        let (_, metrics) = ctl.get("/metrics").await?;
        Ok(metrics.lines().any(|l| l == "podmedic_leader 1").then_some(()))
    })
    .await?;

    let proposals: Api<RecoveryProposal> = Api::namespaced(admin.clone(), ns);
    let proposal = poll("a RecoveryProposal", Duration::from_secs(120), || async {
        Ok(proposals.list(&ListParams::default()).await?.items.into_iter().find(|p| p.status.is_some()))
    })
    .await?;
    let name = proposal.metadata.name.clone().unwrap_or_default();
    ensure!(proposal.spec.diagnosis.class == FailureClass::KvCacheOom, "{:?}", proposal.spec.diagnosis);
    ensure!(!proposal.spec.dry_run, "the proposal is a dry run");
    ensure!(
        proposal.spec.diagnosis.captures.get("kv_tokens").map(String::as_str) == Some("20736"),
        "{:?}",
        proposal.spec.diagnosis.captures
    );
    let before = cluster::current_replica_set(admin, ns, "llama").await?.context("no current ReplicaSet")?;

    // The approver decides under their own name (the admission policy
    // refuses any other), through RBAC that may take a moment to apply.
    let as_approver: Api<RecoveryProposal> = Api::namespaced(client_as(cfg, APPROVER)?, ns);
    let approve = annotations(&[(DECISION_ANNOTATION, "approve"), (DECIDED_BY_ANNOTATION, APPROVER)]);
    poll("the approval to be accepted", TIMEOUT, || async {
        Ok(Some(as_approver.patch(&name, &PatchParams::default(), &merge(approve.clone())).await?))
    })
    .await?;

    let deadline = Instant::now() + Duration::from_secs(180);
    let done = loop {
        let p = proposals.get(&name).await?;
        let status = p.status.clone().unwrap_or_default();
        if status.phase == Phase::Succeeded {
            break p;
        }
        ensure!(!status.phase.is_terminal(), "proposal {name} ended {:?}: {}", status.phase, status.message);
        ensure!(Instant::now() < deadline, "proposal {name} still {:?} after 180s: {}", status.phase, status.message);
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let status = done.status.unwrap_or_default();
    ensure!(status.decided_by.as_deref() == Some(APPROVER), "decided by {:?}", status.decided_by);

    // The fix is in the Deployment, rolled out as a new ReplicaSet whose pod is Ready.
    let dep = Api::<Deployment>::namespaced(admin.clone(), ns).get("llama").await?;
    let args = dep.spec.and_then(|s| s.template.spec).map(|s| s.containers[0].args.clone().unwrap_or_default());
    let args = args.unwrap_or_default();
    ensure!(args.iter().any(|a| a == "20736") && !args.iter().any(|a| a.contains("32768")), "args: {args:?}");
    cluster::wait_for_rollout(admin, ns, "llama", TIMEOUT).await?;
    let after = cluster::current_replica_set(admin, ns, "llama").await?.context("no current ReplicaSet")?;
    ensure!(after.metadata.uid != before.metadata.uid, "no new ReplicaSet rolled out");
    cluster::wait_for_ready_pod(admin, ns, "llama", TIMEOUT).await?;

    let log = ctl.log_text();
    let forbidden: Vec<&str> = log.lines().filter(|l| l.to_ascii_lowercase().contains("forbidden")).collect();
    ensure!(forbidden.is_empty(), "the controller was refused something:\n{}", forbidden.join("\n"));
    Ok(())
}
