//! ChatOps end to end: podmedic's real HTTP routes on loopback, requests
//! signed exactly as Slack signs them (computed here independently of
//! podmedic's own signing code), RecoveryProposals in the real local API
//! server (tests/cluster/), and a local receiver that plays Slack's Web API,
//! incoming webhooks, `response_url`s and a generic webhook consumer.
//!
//! Tests marked "cluster" need `tests/cluster/up` and
//! `eval "$(tests/cluster/env)"` (tests/run does both); without a kubeconfig
//! they fail and say so. The outbound tests need no cluster.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, CustomResourceExt};
use podmedic::chatops::policy::Approvers;
use podmedic::chatops::{
    ChatOps, ChatOpsSettings, InboundSettings, Notifier, NotifierSettings, Secret, SlackTarget, WebhookTarget,
};
use podmedic::crd::{DecidedVia, Phase, RecoveryProposal, RecoveryProposalSpec};
use podmedic::metrics::Metrics;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use sha2::Sha256;

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const WEBHOOK_SECRET: &str = "podmedic-webhook-test-secret";
const BOT_TOKEN: &str = "xoxb-podmedic-test-token";

// ---------------------------------------------------------------------------
// Signing, as Slack and a webhook sender do it
// ---------------------------------------------------------------------------

fn hmac_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Headers of a Slack request: `v0=hex(HMAC(secret, "v0:{ts}:{body}"))`.
fn slack_headers(secret: &str, ts: i64, body: &str) -> Vec<(&'static str, String)> {
    let sig = format!("v0={}", hmac_hex(secret, format!("v0:{ts}:{body}").as_bytes()));
    vec![
        ("content-type", "application/x-www-form-urlencoded".into()),
        ("x-slack-request-timestamp", ts.to_string()),
        ("x-slack-signature", sig),
    ]
}

/// Headers of a podmedic webhook request: `sha256=hex(HMAC(secret, "{ts}.{body}"))`.
fn webhook_headers(secret: &str, ts: i64, body: &str) -> Vec<(&'static str, String)> {
    let sig = format!("sha256={}", hmac_hex(secret, format!("{ts}.{body}").as_bytes()));
    vec![
        ("content-type", "application/json".into()),
        ("x-podmedic-timestamp", ts.to_string()),
        ("x-podmedic-signature", sig),
    ]
}

static NONCE: AtomicU64 = AtomicU64::new(1);

/// A `block_actions` payload shaped like the fixture Slack sends, for a click
/// by `user` on `action` with button `value`; form-encoded as Slack posts it.
fn slack_click(user: &str, action: &str, value: &str, response_url: &str) -> String {
    let mut payload: Value = serde_json::from_str(include_str!("fixtures/chatops/block_actions.json")).unwrap();
    payload["user"]["id"] = json!(user);
    payload["response_url"] = json!(response_url);
    payload["actions"][0]["action_id"] = json!(action);
    payload["actions"][0]["value"] = json!(value);
    // Every click is a distinct request (Slack's action_ts differs).
    payload["actions"][0]["action_ts"] = json!(format!("1764259260.{:06}", NONCE.fetch_add(1, Ordering::Relaxed)));
    form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish()
}

// ---------------------------------------------------------------------------
// The local API server
// ---------------------------------------------------------------------------

fn kubeconfig_path() -> Option<PathBuf> {
    let from = |var: &str| {
        std::env::var_os(var).and_then(|v| std::env::split_paths(&v).next()).filter(|p| !p.as_os_str().is_empty())
    };
    from("PODMEDIC_KUBECONFIG").or_else(|| from("KUBECONFIG")).filter(|p| p.is_file())
}

/// A client for the local control plane; fails the test, saying how to start one, when there is none.
async fn cluster() -> Client {
    let path = kubeconfig_path().unwrap_or_else(|| {
        panic!(
            "this test needs the local control plane: run `tests/cluster/up && eval \"$(tests/cluster/env)\"` \
             (tests/run does both); PODMEDIC_KUBECONFIG / KUBECONFIG is unset or missing"
        )
    });
    let kubeconfig = Kubeconfig::read_from(&path).expect("reading the kubeconfig");
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.expect("kubeconfig");
    let client = Client::try_from(config).expect("kube client");
    ensure_crd(&client).await;
    client
}

/// Applies podmedic's CRD (server-side apply, idempotent) and waits until it is served.
async fn ensure_crd(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = RecoveryProposal::crd();
    let name = crd.metadata.name.clone().unwrap();
    api.patch(&name, &PatchParams::apply("podmedic-chatops-test").force(), &Patch::Apply(&crd))
        .await
        .expect("applying the CRD");
    let established =
        kube::runtime::wait::await_condition(api, &name, kube::runtime::wait::conditions::is_crd_established());
    tokio::time::timeout(Duration::from_secs(30), established).await.expect("CRD not established in 30s").unwrap();
}

static NS_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh namespace for one test.
async fn namespace(client: &Client, prefix: &str) -> String {
    let n = NS_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    let name = format!("chatops-{prefix}-{}-{n}-{nanos:x}", std::process::id());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"podmedic.test/suite": "chatops"}}}))
            .unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.expect("creating the namespace");
    name
}

async fn delete_namespace(client: &Client, ns: &str) {
    let _ = Api::<Namespace>::all(client.clone()).delete(ns, &DeleteParams::background()).await;
}

fn spec(expires_in_secs: i64) -> RecoveryProposalSpec {
    let mut spec: RecoveryProposalSpec =
        serde_json::from_str(include_str!("fixtures/chatops/proposal-spec.json")).unwrap();
    let at = k8s_openapi::jiff::Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_secs(expires_in_secs);
    spec.expires_at = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at);
    spec
}

/// Creates a proposal in phase `Proposed`.
async fn create_proposal(client: &Client, ns: &str, name: &str, expires_in_secs: i64) -> RecoveryProposal {
    let api: Api<RecoveryProposal> = Api::namespaced(client.clone(), ns);
    let mut spec = spec(expires_in_secs);
    spec.target.uid = workload_uid(client, ns).await;
    let created =
        api.create(&PostParams::default(), &RecoveryProposal::new(name, spec)).await.expect("creating a proposal");
    // Stamped as podmedic stamps what it made: ChatOps decides nothing else.
    let stamp = podmedic::crd::stamp_of(&created);
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Proposed", "stamp": stamp}})),
    )
    .await
    .expect("setting the status")
}

/// The UID of the proposal's workload, the Deployment `vllm` (created the
/// first time): a decision on a proposal whose workload is gone supersedes it.
async fn workload_uid(client: &Client, ns: &str) -> String {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "vllm"},
        "spec": {
            "selector": {"matchLabels": {"app": "vllm"}},
            "template": {
                "metadata": {"labels": {"app": "vllm"}},
                "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.6.3"}]}
            }
        }
    }))
    .unwrap();
    let d = match api.create(&PostParams::default(), &d).await {
        Ok(d) => d,
        Err(kube::Error::Api(e)) if e.code == 409 => api.get("vllm").await.expect("reading the Deployment"),
        Err(e) => panic!("creating the Deployment: {e}"),
    };
    d.metadata.uid.expect("a Deployment has a UID")
}

async fn get(client: &Client, ns: &str, name: &str) -> RecoveryProposal {
    Api::<RecoveryProposal>::namespaced(client.clone(), ns).get(name).await.expect("reading the proposal")
}

/// The proposal is still undecided.
async fn assert_unchanged(client: &Client, ns: &str, name: &str, context: &str) {
    let p = get(client, ns, name).await;
    let status = p.status.unwrap_or_default();
    assert_eq!(status.phase, Phase::Proposed, "{context}: phase changed");
    assert_eq!(status.decided_by, None, "{context}: decidedBy set");
    assert_eq!(status.decided_via, None, "{context}: decidedVia set");
}

// ---------------------------------------------------------------------------
// The local receiver (Slack Web API, response URLs, webhooks)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Received {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

#[derive(Clone, Default)]
struct Receiver {
    inner: Arc<ReceiverInner>,
}

#[derive(Default)]
struct ReceiverInner {
    requests: Mutex<Vec<Received>>,
    /// Answer the next N requests with `fail_status`.
    fail_next: AtomicUsize,
    fail_status: AtomicUsize,
    /// Delay every answer (milliseconds).
    delay_ms: AtomicU64,
    /// Members returned by usergroups.users.list.
    group_members: Mutex<Vec<String>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        let r = Receiver::default();
        r.inner.fail_status.store(500, Ordering::Relaxed);
        let addr = serve(Router::new().fallback(receive).with_state(r.clone())).await;
        (r, format!("http://{addr}"))
    }

    fn fail_next(&self, n: usize, status: u16) {
        self.inner.fail_status.store(status.into(), Ordering::Relaxed);
        self.inner.fail_next.store(n, Ordering::Relaxed);
    }

    fn requests(&self) -> Vec<Received> {
        self.inner.requests.lock().unwrap().clone()
    }

    fn to(&self, path: &str) -> Vec<Received> {
        self.requests().into_iter().filter(|r| r.uri.path() == path).collect()
    }

    /// Waits until `path` has received `n` requests.
    async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.to(path);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: {} of {n} requests after 10s; all: {:?}",
                got.len(),
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(State(r): State<Receiver>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    r.inner.requests.lock().unwrap().push(Received { method, uri: uri.clone(), headers, body });
    let delay = r.inner.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if r.inner.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
        let status = StatusCode::from_u16(r.inner.fail_status.load(Ordering::Relaxed) as u16).unwrap();
        return (status, "receiver says no").into_response();
    }
    match uri.path() {
        "/api/chat.postMessage" => {
            axum::Json(json!({"ok": true, "channel": "C0001", "ts": "1764259200.000100"})).into_response()
        }
        "/api/chat.update" => {
            axum::Json(json!({"ok": true, "channel": "C0001", "ts": "1764259200.000100"})).into_response()
        }
        "/api/usergroups.users.list" => {
            axum::Json(json!({"ok": true, "users": *r.inner.group_members.lock().unwrap()})).into_response()
        }
        _ => "ok".into_response(),
    }
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

// ---------------------------------------------------------------------------
// podmedic's server
// ---------------------------------------------------------------------------

struct Podmedic {
    base: String,
    http: HttpClient<HttpConnector, Full<Bytes>>,
}

/// Inbound settings for namespace `ns`: U0ALICE and group S0OPS may decide
/// there, U0BOB only in `elsewhere`; webhook user alice there, bob elsewhere.
fn inbound(ns: &str, receiver_base: &str) -> InboundSettings {
    InboundSettings {
        slack_signing_secret: Some(Secret::new(SLACK_SECRET)),
        slack_approvers: Approvers::parse(&format!("{ns}=U0ALICE,S0OPS;elsewhere=U0BOB")).unwrap(),
        slack_users: BTreeMap::new(),
        slack_api_url: format!("{receiver_base}/api"),
        slack_bot_token: Some(Secret::new(BOT_TOKEN)),
        webhook_secret: Some(Secret::new(WEBHOOK_SECRET)),
        webhook_approvers: Approvers::parse(&format!("{ns}=alice;elsewhere=bob")).unwrap(),
        ..InboundSettings::default()
    }
}

impl Podmedic {
    async fn start(client: Client, inbound: InboundSettings) -> Self {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        let settings = ChatOpsSettings {
            inbound,
            notifier: NotifierSettings { retry_base: Duration::from_millis(10), ..Default::default() },
        };
        let chatops = ChatOps::start(settings, client, metrics).unwrap();
        let registry = Arc::new(registry);
        let metrics_route = axum::routing::get(move || {
            let registry = registry.clone();
            async move {
                let mut out = String::new();
                prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
                out
            }
        });
        let addr = serve(chatops.router().route("/metrics", metrics_route)).await;
        let http = HttpClient::builder(TokioExecutor::new()).build_http();
        Podmedic { base: format!("http://{addr}"), http }
    }

    async fn post(&self, path: &str, headers: &[(&str, String)], body: impl Into<Bytes>) -> (StatusCode, Value) {
        let mut req = axum::http::Request::post(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = self.http.request(req.body(Full::new(body.into())).unwrap()).await.expect("podmedic answers");
        let status = resp.status();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// A Slack click, signed with the right secret now.
    async fn click(&self, body: &str) -> (StatusCode, Value) {
        self.post("/chatops/slack/interactions", &slack_headers(SLACK_SECRET, now(), body), body.to_owned()).await
    }

    async fn decide_webhook(&self, body: &str) -> (StatusCode, Value) {
        self.post("/chatops/webhook/decision", &webhook_headers(WEBHOOK_SECRET, now(), body), body.to_owned()).await
    }

    async fn metrics(&self) -> String {
        let resp = self
            .http
            .request(axum::http::Request::get(format!("{}/metrics", self.base)).body(Full::default()).unwrap())
            .await
            .unwrap();
        String::from_utf8(resp.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    async fn decisions(&self, via: &str, outcome: &str) -> u64 {
        let text = self.metrics().await;
        let prefix = format!("podmedic_decisions_total{{via=\"{via}\",outcome=\"{outcome}\"}} ");
        text.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.parse().unwrap()).unwrap_or(0)
    }
}

/// How far outside the signing window (`MAX_SKEW`) the refused timestamps
/// sit. `t` is taken once before the cases run, and the server compares
/// against its own clock when each request arrives, so a future timestamp only
/// one second past the limit is accepted once a second has passed on a loaded
/// machine (it happened in CI). The exact boundary (±301 s) is unit-tested in
/// `chatops::signing` with a fixed clock.
const SKEW_PAST_LIMIT: i64 = podmedic::chatops::signing::MAX_SKEW.as_secs() as i64 + 120;

/// A table row: what, headers, body, expected status, expected error code.
type Case = (&'static str, Vec<(&'static str, String)>, String, StatusCode, &'static str);

fn value(ns: &str, name: &str) -> String {
    format!("{ns}/{name}/9c1e5d")
}

fn has_buttons(message: &Value) -> bool {
    message["blocks"].as_array().is_some_and(|b| b.iter().any(|b| b["type"] == "actions"))
}

// ---------------------------------------------------------------------------
// Inbound: Slack
// ---------------------------------------------------------------------------

/// cluster: approve and reject land in the status through the shared gate,
/// and the clicked message is replaced with the outcome.
#[tokio::test]
async fn slack_approve_and_reject_are_recorded_and_the_message_updated() {
    let client = cluster().await;
    let ns = namespace(&client, "decide").await;
    let (receiver, rbase) = Receiver::start().await;
    let pm = Podmedic::start(client.clone(), inbound(&ns, &rbase)).await;
    create_proposal(&client, &ns, "rxp-approve", 1800).await;
    create_proposal(&client, &ns, "rxp-reject", 1800).await;

    let (status, body) = pm
        .click(&slack_click("U0ALICE", "podmedic:approve", &value(&ns, "rxp-approve"), &format!("{rbase}/respond/1")))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["ok"].clone(), body["phase"].clone()), (json!(true), json!("Approved")));
    let p = get(&client, &ns, "rxp-approve").await.status.unwrap();
    assert_eq!(
        (p.phase, p.decided_by.as_deref(), p.decided_via),
        (Phase::Approved, Some("slack:U0ALICE"), Some(DecidedVia::Slack))
    );
    assert!(p.decided_at.is_some());

    let (status, _) = pm
        .click(&slack_click("U0ALICE", "podmedic:reject", &value(&ns, "rxp-reject"), &format!("{rbase}/respond/2")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get(&client, &ns, "rxp-reject").await.status.unwrap().phase, Phase::Rejected);

    // The original messages are replaced with the outcome, without buttons.
    let update = receiver.wait_for("/respond/1", 1).await.remove(0).json();
    assert_eq!(update["replace_original"], true);
    assert!(!has_buttons(&update), "{update:#}");
    assert!(update.to_string().contains("*Approved* by slack:U0ALICE via slack"), "{update:#}");
    let update = receiver.wait_for("/respond/2", 1).await.remove(0).json();
    assert!(update.to_string().contains("*Rejected* by slack:U0ALICE via slack"), "{update:#}");
    assert_eq!(pm.decisions("slack", "accepted").await, 2);
    delete_namespace(&client, &ns).await;
}

/// cluster: every refusal answers with its status and code, is counted, and
/// leaves the proposal exactly as it was.
#[tokio::test]
async fn slack_refusals_leave_the_proposal_unchanged() {
    let client = cluster().await;
    let ns = namespace(&client, "refuse").await;
    let (receiver, rbase) = Receiver::start().await;
    let pm = Podmedic::start(client.clone(), inbound(&ns, &rbase)).await;
    create_proposal(&client, &ns, "rxp", 1800).await;
    let url = format!("{rbase}/respond/refused");
    let path = "/chatops/slack/interactions";
    let click = |user: &str| slack_click(user, "podmedic:approve", &value(&ns, "rxp"), &url);
    let t = now();

    let body = click("U0ALICE");
    let cases: Vec<Case> = vec![
        (
            "wrong secret",
            slack_headers("not-the-secret", t, &body),
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        (
            "tampered body",
            slack_headers(SLACK_SECRET, t, &body),
            body.replace("U0ALICE", "U0MALLORY"),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        ("no headers", vec![], body.clone(), StatusCode::UNAUTHORIZED, "bad_signature"),
        (
            "stale timestamp",
            slack_headers(SLACK_SECRET, t - SKEW_PAST_LIMIT, &body),
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "stale_timestamp",
        ),
        (
            "future timestamp",
            slack_headers(SLACK_SECRET, t + SKEW_PAST_LIMIT, &body),
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "stale_timestamp",
        ),
    ];
    for (what, headers, body, want_status, want_code) in cases {
        let (status, answer) = pm.post(path, &headers, body).await;
        assert_eq!((status, answer["error"].as_str()), (want_status, Some(want_code)), "{what}: {answer}");
        assert_unchanged(&client, &ns, "rxp", what).await;
    }

    // Signed correctly, but refused after authentication.
    let signed: Vec<(&str, String, StatusCode, &str)> = vec![
        ("unknown user", click("U0MALLORY"), StatusCode::FORBIDDEN, "unknown_user"),
        ("user of another namespace", click("U0BOB"), StatusCode::FORBIDDEN, "not_allowed"),
        (
            "unknown proposal",
            slack_click("U0ALICE", "podmedic:approve", &value(&ns, "nope"), &url),
            StatusCode::NOT_FOUND,
            "unknown_proposal",
        ),
        (
            "content changed",
            slack_click("U0ALICE", "podmedic:approve", &format!("{ns}/rxp/0000"), &url),
            StatusCode::CONFLICT,
            "content_changed",
        ),
        ("not a form", "{\"type\":\"block_actions\"}".into(), StatusCode::BAD_REQUEST, "malformed"),
        (
            "broken JSON",
            form_urlencoded::Serializer::new(String::new()).append_pair("payload", "{\"type\":").finish(),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "foreign button",
            slack_click("U0ALICE", "other-app:approve", &value(&ns, "rxp"), &url),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "bad namespace",
            slack_click("U0ALICE", "podmedic:approve", "../etc/rxp/", &url),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
    ];
    for (what, body, want_status, want_code) in signed {
        let (status, answer) = pm.click(&body).await;
        assert_eq!((status, answer["error"].as_str()), (want_status, Some(want_code)), "{what}: {answer}");
        assert_unchanged(&client, &ns, "rxp", what).await;
    }
    // The clicking user is told why, privately (never the original message replaced).
    let told = receiver.wait_for("/respond/refused", 4).await;
    for r in &told {
        let m = r.json();
        assert_eq!(
            (m["response_type"].as_str(), m["replace_original"].as_bool()),
            (Some("ephemeral"), Some(false)),
            "{m}"
        );
    }
    assert!(told[0].json()["text"].as_str().unwrap().contains("not a podmedic approver"));

    // Oversized: 413 before anything else.
    let big = format!("payload={}", "a".repeat(70 * 1024));
    let (status, answer) = pm.click(&big).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")));
    assert_unchanged(&client, &ns, "rxp", "oversized").await;

    for (outcome, n) in [
        ("bad_signature", 3),
        ("stale_timestamp", 2),
        ("unknown_user", 1),
        ("not_allowed", 1),
        ("unknown_proposal", 1),
        ("content_changed", 1),
        ("malformed", 4),
        ("too_large", 1),
    ] {
        assert_eq!(pm.decisions("slack", outcome).await, n, "decisions{{via=slack,outcome={outcome}}}");
    }
    assert_eq!(pm.decisions("slack", "accepted").await, 0);
    let metrics = pm.metrics().await;
    assert!(!metrics.contains(SLACK_SECRET) && !metrics.contains(BOT_TOKEN) && !metrics.contains(WEBHOOK_SECRET));
    delete_namespace(&client, &ns).await;
}

/// cluster: a captured request sent again is refused as a replay, even when
/// the first one succeeded; a second click on a decided or an expired
/// proposal is refused by the gate.
#[tokio::test]
async fn slack_replays_decided_and_expired_proposals_are_refused() {
    let client = cluster().await;
    let ns = namespace(&client, "replay").await;
    let (_receiver, rbase) = Receiver::start().await;
    let pm = Podmedic::start(client.clone(), inbound(&ns, &rbase)).await;
    create_proposal(&client, &ns, "rxp", 1800).await;
    create_proposal(&client, &ns, "rxp-expired", -60).await;
    let url = format!("{rbase}/respond/x");

    let body = slack_click("U0ALICE", "podmedic:reject", &value(&ns, "rxp"), &url);
    let headers = slack_headers(SLACK_SECRET, now(), &body);
    let (status, _) = pm.post("/chatops/slack/interactions", &headers, body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = pm.post("/chatops/slack/interactions", &headers, body).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::CONFLICT, Some("replay")), "{answer}");

    // A new, distinct click to approve the rejected proposal.
    let (status, answer) = pm.click(&slack_click("U0ALICE", "podmedic:approve", &value(&ns, "rxp"), &url)).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::CONFLICT, Some("already_decided")), "{answer}");
    let p = get(&client, &ns, "rxp").await.status.unwrap();
    assert_eq!((p.phase, p.decided_by.as_deref()), (Phase::Rejected, Some("slack:U0ALICE")), "first decision kept");

    let (status, answer) =
        pm.click(&slack_click("U0ALICE", "podmedic:approve", &value(&ns, "rxp-expired"), &url)).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::CONFLICT, Some("expired")), "{answer}");
    assert_unchanged(&client, &ns, "rxp-expired", "expired").await;
    assert_eq!(pm.decisions("slack", "replay").await, 1);
    assert_eq!(pm.decisions("slack", "already_decided").await, 1);
    assert_eq!(pm.decisions("slack", "expired").await, 1);
    delete_namespace(&client, &ns).await;
}

/// cluster: a member of an allowed Slack user group may decide (membership
/// read with the bot token from usergroups.users.list).
#[tokio::test]
async fn slack_user_group_members_may_decide() {
    let client = cluster().await;
    let ns = namespace(&client, "group").await;
    let (receiver, rbase) = Receiver::start().await;
    *receiver.inner.group_members.lock().unwrap() = vec!["U0CAROL".into()];
    let pm = Podmedic::start(client.clone(), inbound(&ns, &rbase)).await;
    create_proposal(&client, &ns, "rxp", 1800).await;

    let (status, answer) =
        pm.click(&slack_click("U0CAROL", "podmedic:approve", &value(&ns, "rxp"), &format!("{rbase}/r"))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(get(&client, &ns, "rxp").await.status.unwrap().decided_by.as_deref(), Some("slack:U0CAROL"));
    let lookup = receiver.to("/api/usergroups.users.list");
    assert_eq!(lookup.len(), 1);
    assert_eq!((&lookup[0].method, lookup[0].uri.query()), (&Method::GET, Some("usergroup=S0OPS")));
    assert_eq!(lookup[0].headers["authorization"], format!("Bearer {BOT_TOKEN}"));
    delete_namespace(&client, &ns).await;
}

/// cluster: with the SubjectAccessReview on, RBAC has the last word for the
/// mapped Kubernetes user, who is recorded as `decidedBy`.
#[tokio::test]
async fn slack_subject_access_review_asks_rbac() {
    let client = cluster().await;
    let ns = namespace(&client, "sar").await;
    let (_receiver, rbase) = Receiver::start().await;
    let user = format!("dave-{ns}");
    let settings = InboundSettings {
        slack_approvers: Approvers::parse("*=*").unwrap(),
        slack_users: BTreeMap::from([("U0DAVE".to_owned(), user.clone())]),
        subject_access_review: true,
        ..inbound(&ns, &rbase)
    };
    let pm = Podmedic::start(client.clone(), settings).await;
    create_proposal(&client, &ns, "rxp", 1800).await;
    let url = format!("{rbase}/r");

    let (status, answer) = pm.click(&slack_click("U0ERIN", "podmedic:approve", &value(&ns, "rxp"), &url)).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::FORBIDDEN, Some("unknown_user")), "unmapped: {answer}");
    let (status, answer) = pm.click(&slack_click("U0DAVE", "podmedic:approve", &value(&ns, "rxp"), &url)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_allowed")),
        "no RBAC yet: {answer}"
    );
    assert_unchanged(&client, &ns, "rxp", "SAR denied").await;

    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "rxp-approver"},
        "rules": [{"apiGroups": ["podmedic.io"], "resources": ["recoveryproposals"], "verbs": ["get", "patch"]}],
    }))
    .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "rxp-approver"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "rxp-approver"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))
    .unwrap();
    Api::<Role>::namespaced(client.clone(), &ns).create(&PostParams::default(), &role).await.unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), &ns).create(&PostParams::default(), &binding).await.unwrap();

    // RBAC caches catch up within moments; each try is a new click.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, answer) = pm.click(&slack_click("U0DAVE", "podmedic:approve", &value(&ns, "rxp"), &url)).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(answer["error"], "not_allowed", "{answer}");
        assert!(Instant::now() < deadline, "RoleBinding not effective after 20s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let p = get(&client, &ns, "rxp").await.status.unwrap();
    assert_eq!((p.phase, p.decided_by), (Phase::Approved, Some(user)));
    delete_namespace(&client, &ns).await;
}

/// cluster: when recording takes longer than the answer budget, the endpoint
/// answers 202 at once and the decision still lands.
#[tokio::test]
async fn slow_decisions_are_answered_at_once_and_still_recorded() {
    let client = cluster().await;
    let ns = namespace(&client, "slow").await;
    let (receiver, rbase) = Receiver::start().await;
    let settings = InboundSettings { answer_within: Duration::ZERO, ..inbound(&ns, &rbase) };
    let pm = Podmedic::start(client.clone(), settings).await;
    create_proposal(&client, &ns, "rxp", 1800).await;

    let (status, answer) =
        pm.click(&slack_click("U0ALICE", "podmedic:approve", &value(&ns, "rxp"), &format!("{rbase}/late"))).await;
    assert_eq!((status, answer["status"].as_str()), (StatusCode::ACCEPTED, Some("pending")), "{answer}");
    let update = receiver.wait_for("/late", 1).await.remove(0).json();
    assert!(update.to_string().contains("*Approved*"), "{update}");
    assert_eq!(get(&client, &ns, "rxp").await.status.unwrap().phase, Phase::Approved);
    assert_eq!(pm.decisions("slack", "accepted").await, 1);
    delete_namespace(&client, &ns).await;
}

// ---------------------------------------------------------------------------
// Inbound: generic webhook
// ---------------------------------------------------------------------------

/// cluster: the generic webhook decides through the same gate, with its own
/// secret, freshness, replay and approver rules.
#[tokio::test]
async fn webhook_decisions_are_authenticated_and_recorded() {
    let client = cluster().await;
    let ns = namespace(&client, "hook").await;
    let (_receiver, rbase) = Receiver::start().await;
    let pm = Podmedic::start(client.clone(), inbound(&ns, &rbase)).await;
    create_proposal(&client, &ns, "rxp", 1800).await;
    let path = "/chatops/webhook/decision";
    let decision = |user: &str, decision: &str| {
        json!({"namespace": ns, "name": "rxp", "decision": decision, "user": user, "contentHash": "9c1e5d"}).to_string()
    };
    let body = decision("alice", "approve");
    let t = now();

    let cases: Vec<Case> = vec![
        (
            "Slack's scheme",
            slack_headers(WEBHOOK_SECRET, t, &body),
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
        ("wrong secret", webhook_headers("nope", t, &body), body.clone(), StatusCode::UNAUTHORIZED, "bad_signature"),
        (
            "stale",
            webhook_headers(WEBHOOK_SECRET, t - 600, &body),
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "stale_timestamp",
        ),
        ("malformed", webhook_headers(WEBHOOK_SECRET, t, "{}"), "{}".into(), StatusCode::BAD_REQUEST, "malformed"),
        (
            "unknown user",
            webhook_headers(WEBHOOK_SECRET, t, &decision("mallory", "approve")),
            decision("mallory", "approve"),
            StatusCode::FORBIDDEN,
            "unknown_user",
        ),
        (
            "user of another namespace",
            webhook_headers(WEBHOOK_SECRET, t, &decision("bob", "approve")),
            decision("bob", "approve"),
            StatusCode::FORBIDDEN,
            "not_allowed",
        ),
    ];
    for (what, headers, body, want_status, want_code) in cases {
        let (status, answer) = pm.post(path, &headers, body).await;
        assert_eq!((status, answer["error"].as_str()), (want_status, Some(want_code)), "{what}: {answer}");
        assert_unchanged(&client, &ns, "rxp", what).await;
    }
    let big = " ".repeat(65 * 1024) + &body;
    let (status, _) = pm.post(path, &webhook_headers(WEBHOOK_SECRET, t, &big), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let headers = webhook_headers(WEBHOOK_SECRET, t, &body);
    let (status, answer) = pm.post(path, &headers, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let p = get(&client, &ns, "rxp").await.status.unwrap();
    assert_eq!(
        (p.phase, p.decided_by.as_deref(), p.decided_via),
        (Phase::Approved, Some("webhook:alice"), Some(DecidedVia::Webhook))
    );
    let (status, answer) = pm.post(path, &headers, body).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::CONFLICT, Some("replay")));
    let (status, answer) = pm.decide_webhook(&decision("alice", "reject")).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::CONFLICT, Some("already_decided")));
    assert_eq!(get(&client, &ns, "rxp").await.status.unwrap().phase, Phase::Approved);
    assert_eq!(pm.decisions("webhook", "accepted").await, 1);
    assert_eq!(pm.decisions("webhook", "bad_signature").await, 2);
    assert_eq!(pm.decisions("webhook", "too_large").await, 1);
    delete_namespace(&client, &ns).await;
}

// ---------------------------------------------------------------------------
// Outbound (no cluster needed)
// ---------------------------------------------------------------------------

fn sample(ns: &str, name: &str, phase: Phase) -> RecoveryProposal {
    let mut p = RecoveryProposal::new(name, spec(1800));
    p.metadata.namespace = Some(ns.into());
    p.metadata.uid = Some(format!("uid-{ns}-{name}"));
    p.status = Some(podmedic::crd::RecoveryProposalStatus { phase, ..Default::default() });
    if phase != Phase::Proposed {
        let s = p.status.as_mut().unwrap();
        s.decided_by = Some("alice".into());
        s.decided_via = Some(DecidedVia::Annotation);
    }
    p
}

fn notifier(settings: NotifierSettings) -> (Notifier, Registry) {
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry);
    (Notifier::start(settings, metrics).unwrap(), registry)
}

fn notifications(registry: &Registry, channel: &str, result: &str) -> u64 {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    let prefix = format!("podmedic_notifications_total{{channel=\"{channel}\",result=\"{result}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.parse().unwrap()).unwrap_or(0)
}

fn fast(slack: Option<SlackTarget>, webhook: Option<WebhookTarget>) -> NotifierSettings {
    NotifierSettings { slack, webhook, retry_base: Duration::from_millis(10), max_attempts: 4, ..Default::default() }
}

/// chat.postMessage with Block Kit content and buttons, retried through
/// 500s; the next phase updates the same message in place; the same phase
/// is not announced twice.
#[tokio::test]
async fn slack_bot_posts_blocks_retries_and_updates_in_place() {
    let (receiver, rbase) = Receiver::start().await;
    receiver.fail_next(2, 500);
    let bot =
        SlackTarget::Bot { api_url: format!("{rbase}/api"), token: Secret::new(BOT_TOKEN), channel: "C0001".into() };
    let (n, registry) = notifier(fast(Some(bot), None));

    n.notify(&sample("team-a", "rxp-1", Phase::Proposed));
    let posts = receiver.wait_for("/api/chat.postMessage", 3).await;
    let post = &posts[2];
    assert_eq!(post.headers["authorization"], format!("Bearer {BOT_TOKEN}"));
    assert!(post.headers["content-type"].to_str().unwrap().starts_with("application/json"));
    let m = post.json();
    assert_eq!(m["channel"], "C0001");
    assert_eq!(
        m["blocks"][0],
        json!({"type": "header", "text": {"type": "plain_text", "text": "podmedic: kv-cache-oom in team-a/vllm"}})
    );
    let text = m.to_string();
    for needle in [
        "only 20144 fit",
        "ValueError: The model",
        "-        - \\\"32768\\\"\\n+        - \\\"20144\\\"",
        "97% (signature)",
        "`vllm-6d9c7b5f4-x2x9k`",
    ] {
        assert!(text.contains(needle), "{needle} missing from {m:#}");
    }
    let actions = m["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "actions").expect("buttons");
    let buttons: Vec<(&str, &str, &str)> = actions["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["action_id"].as_str().unwrap(), b["value"].as_str().unwrap(), b["text"]["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        buttons,
        [("podmedic:approve", "team-a/rxp-1/9c1e5d", "Approve"), ("podmedic:reject", "team-a/rxp-1/9c1e5d", "Reject")]
    );
    assert_eq!((notifications(&registry, "slack", "retried"), notifications(&registry, "slack", "sent")), (2, 1));

    n.notify(&sample("team-a", "rxp-1", Phase::Proposed)); // same phase: nothing new
    n.notify(&sample("team-a", "rxp-1", Phase::Approved));
    let update = receiver.wait_for("/api/chat.update", 1).await.remove(0).json();
    assert_eq!((update["channel"].as_str(), update["ts"].as_str()), (Some("C0001"), Some("1764259200.000100")));
    assert!(!has_buttons(&update));
    assert!(update.to_string().contains("*Approved* by alice via annotation"), "{update:#}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.to("/api/chat.postMessage").len(), 3, "no second post");
    assert_eq!(notifications(&registry, "slack", "sent"), 2);
}

/// Incoming webhook and generic webhook get the same content; the generic
/// one is signed so receivers can verify it like podmedic verifies them.
#[tokio::test]
async fn incoming_webhook_and_signed_generic_webhook() {
    let (receiver, rbase) = Receiver::start().await;
    let slack = SlackTarget::IncomingWebhook { url: Secret::new(format!("{rbase}/services/T0/B0/sekrit")) };
    let hook = WebhookTarget { url: Secret::new(format!("{rbase}/hook")), secret: Some(Secret::new(WEBHOOK_SECRET)) };
    let (n, registry) = notifier(fast(Some(slack), Some(hook)));
    n.notify(&sample("team-a", "rxp-2", Phase::Proposed));

    let slack = receiver.wait_for("/services/T0/B0/sekrit", 1).await.remove(0).json();
    assert!(has_buttons(&slack));
    let got = receiver.wait_for("/hook", 1).await.remove(0);
    let ts = got.headers["x-podmedic-timestamp"].to_str().unwrap();
    let want = format!("sha256={}", hmac_hex(WEBHOOK_SECRET, &[ts.as_bytes(), b".", &got.body].concat()));
    assert_eq!(got.headers["x-podmedic-signature"].to_str().unwrap(), want);
    assert!((now() - ts.parse::<i64>().unwrap()).abs() < 60);
    let doc = got.json();
    assert_eq!(
        (doc["namespace"].as_str(), doc["name"].as_str(), doc["phase"].as_str()),
        (Some("team-a"), Some("rxp-2"), Some("Proposed"))
    );
    assert_eq!(doc["diagnosis"]["class"], "kv-cache-oom");
    assert!(
        doc["planText"]
            .as_str()
            .unwrap()
            .contains("         - --max-model-len\n-        - \"32768\"\n+        - \"20144\"\n")
    );
    assert_eq!(doc["actions"][0]["decision"], "approve");
    assert!(doc["text"].as_str().unwrap().contains("only 20144 fit"));
    assert_eq!(notifications(&registry, "slack", "sent"), 1);
    assert_eq!(notifications(&registry, "webhook", "sent"), 1);
}

/// Bounded attempts on 5xx; no retry on a 4xx that will not get better.
#[tokio::test]
async fn delivery_gives_up_after_bounded_attempts() {
    let (receiver, rbase) = Receiver::start().await;
    let hook = WebhookTarget { url: Secret::new(format!("{rbase}/hook")), secret: None };
    let (n, registry) = notifier(fast(None, Some(hook)));
    receiver.fail_next(100, 503);
    n.notify(&sample("team-a", "rxp-3", Phase::Proposed));
    receiver.wait_for("/hook", 4).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while notifications(&registry, "webhook", "failed") == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!((notifications(&registry, "webhook", "retried"), notifications(&registry, "webhook", "failed")), (3, 1));
    assert_eq!(receiver.to("/hook").len(), 4, "max_attempts = 4");

    receiver.fail_next(1, 404);
    n.notify(&sample("team-a", "rxp-4", Phase::Proposed));
    receiver.wait_for("/hook", 5).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while notifications(&registry, "webhook", "failed") < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(notifications(&registry, "webhook", "failed"), 2);
    assert_eq!(notifications(&registry, "webhook", "retried"), 3, "a 404 is not retried");
    assert_eq!(receiver.to("/hook").len(), 5);
}

/// `notify` never waits: with a slow receiver and a queue of one, extra
/// notifications are dropped and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_never_blocks_and_drops_when_the_queue_is_full() {
    let (receiver, rbase) = Receiver::start().await;
    receiver.inner.delay_ms.store(2000, Ordering::Relaxed);
    let hook = WebhookTarget { url: Secret::new(format!("{rbase}/hook")), secret: None };
    let (n, registry) = notifier(NotifierSettings { queue_capacity: 1, ..fast(None, Some(hook)) });
    // The worker is now busy with rxp-0 for two seconds.
    n.notify(&sample("team-a", "rxp-0", Phase::Proposed));
    receiver.wait_for("/hook", 1).await;
    let started = Instant::now();
    for i in 1..6 {
        n.notify(&sample("team-a", &format!("rxp-{i}"), Phase::Proposed));
    }
    // A blocking notify would wait out the receiver's two seconds; one second
    // leaves room for a loaded CI machine without hiding that.
    assert!(started.elapsed() < Duration::from_secs(1), "notify blocked for {:?}", started.elapsed());
    // rxp-1 waits in the queue of one; rxp-2 to rxp-5 are dropped.
    assert_eq!(notifications(&registry, "webhook", "dropped"), 4);
    // A dropped phase is announced when notified again once there is room
    // (notifying an already queued phase again is a no-op).
    receiver.inner.delay_ms.store(0, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        n.notify(&sample("team-a", "rxp-5", Phase::Proposed));
        let got = receiver.to("/hook");
        if got.iter().any(|r| r.json()["name"] == "rxp-5") || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(got.iter().filter(|r| r.json()["name"] == "rxp-5").count(), 1, "announced once");
    assert!(got.iter().any(|r| r.json()["name"] == "rxp-5"));
}

/// A writer into a shared buffer, for capturing logs.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Secrets appear in no log line (debug level, failures included), no
/// `Debug` output and no metric, whatever goes wrong.
#[tokio::test]
async fn secrets_never_reach_logs_debug_output_or_metrics() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // Outbound: a refused connection, then a 404, with a credential in the URL.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (receiver, rbase) = Receiver::start().await;
    receiver.fail_next(1, 404);
    let slack = SlackTarget::IncomingWebhook { url: Secret::new(format!("http://{closed}/services/T0/B0/url-sekrit")) };
    let hook = WebhookTarget {
        url: Secret::new(format!("{rbase}/hook/url-sekrit2")),
        secret: Some(Secret::new(WEBHOOK_SECRET)),
    };
    let settings = NotifierSettings { max_attempts: 2, ..fast(Some(slack), Some(hook)) };
    let debug = format!("{settings:?}");
    let (n, registry) = notifier(settings);
    n.notify(&sample("team-a", "rxp-s", Phase::Proposed));
    let deadline = Instant::now() + Duration::from_secs(10);
    while notifications(&registry, "slack", "failed") + notifications(&registry, "webhook", "failed") < 2 {
        assert!(Instant::now() < deadline, "both deliveries should fail");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Inbound: refusals before any API call (the client points nowhere).
    let nowhere = Client::try_from(kube::Config::new("http://127.0.0.1:1".parse().unwrap())).unwrap();
    let settings = InboundSettings { slack_bot_token: Some(Secret::new(BOT_TOKEN)), ..inbound("team-a", &rbase) };
    let debug = format!("{debug} {settings:?}");
    let pm = Podmedic::start(nowhere, settings).await;
    let body = slack_click("U0ALICE", "podmedic:approve", "team-a/rxp/9c1e5d", &format!("{rbase}/r"));
    let (status, _) = pm.post("/chatops/slack/interactions", &slack_headers("wrong", now(), &body), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = pm.post("/chatops/webhook/decision", &webhook_headers("wrong", now(), "{}"), "{}").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("notification failed"), "expected failure logs, got:\n{logs}");
    assert!(logs.contains("chatops request refused"), "{logs}");
    let mut metrics = String::new();
    prometheus_client::encoding::text::encode(&mut metrics, &registry).unwrap();
    let everything = format!("{logs}\n{debug}\n{metrics}\n{}", pm.metrics().await);
    for secret in [SLACK_SECRET, BOT_TOKEN, WEBHOOK_SECRET, "url-sekrit"] {
        assert!(!everything.contains(secret), "{secret} leaked:\n{everything}");
    }
}

/// cluster: the SubjectAccessReview carries the approver's Kubernetes
/// groups (`U…=user|group`), so a RoleBinding to a Group decides; the same
/// user mapped without the group is refused.
#[tokio::test]
async fn slack_subject_access_review_sends_the_approvers_groups() {
    let client = cluster().await;
    let ns = namespace(&client, "sar-groups").await;
    let (_receiver, rbase) = Receiver::start().await;
    let user = format!("gina-{ns}");
    let group = format!("approvers-{ns}");
    let settings = InboundSettings {
        slack_approvers: Approvers::parse("*=*").unwrap(),
        slack_users: BTreeMap::from([("U0GINA".to_owned(), user.clone()), ("U0NOGROUP".to_owned(), user.clone())]),
        slack_groups: BTreeMap::from([("U0GINA".to_owned(), vec![group.clone()])]),
        subject_access_review: true,
        ..inbound(&ns, &rbase)
    };
    let pm = Podmedic::start(client.clone(), settings).await;
    create_proposal(&client, &ns, "rxp", 1800).await;
    let url = format!("{rbase}/r");

    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "rxp-approver"},
        "rules": [{"apiGroups": ["podmedic.io"], "resources": ["recoveryproposals"], "verbs": ["get", "patch"]}],
    }))
    .unwrap();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "rxp-approvers-group"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "rxp-approver"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
    }))
    .unwrap();
    Api::<Role>::namespaced(client.clone(), &ns).create(&PostParams::default(), &role).await.unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), &ns).create(&PostParams::default(), &binding).await.unwrap();

    // RBAC caches catch up within moments; each try is a new click.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, answer) = pm.click(&slack_click("U0GINA", "podmedic:approve", &value(&ns, "rxp"), &url)).await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(answer["error"], "not_allowed", "{answer}");
        assert!(Instant::now() < deadline, "the RoleBinding to the group was not effective after 20s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let p = get(&client, &ns, "rxp").await.status.unwrap();
    assert_eq!((p.phase, p.decided_by), (Phase::Approved, Some(user.clone())));

    // The same user without the group: RBAC says no (on a fresh proposal).
    create_proposal(&client, &ns, "rxp2", 1800).await;
    let (status, answer) = pm.click(&slack_click("U0NOGROUP", "podmedic:approve", &value(&ns, "rxp2"), &url)).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::FORBIDDEN, Some("not_allowed")), "{answer}");
    assert_unchanged(&client, &ns, "rxp2", "no group, no RBAC").await;
    delete_namespace(&client, &ns).await;
}
