//! Inbound: the HTTP endpoints through which chat decides proposals.
//!
//! | route | authentication | body |
//! |---|---|---|
//! | `POST /chatops/slack/interactions` | Slack signing secret (`X-Slack-Signature`, `X-Slack-Request-Timestamp`) | form field `payload`: a `block_actions` interaction |
//! | `POST /chatops/webhook/decision` | webhook secret (`X-Podmedic-Signature`, `X-Podmedic-Timestamp`) | `{"namespace", "name", "decision", "user", "contentHash"?}` |
//!
//! A request goes through these checks in order; the first that fails
//! answers, counts `podmedic_decisions_total{via, outcome=<code>}` and
//! leaves the proposal unchanged:
//!
//! | check | status | code |
//! |---|---|---|
//! | a body-reading slot free within 2 s (at most 64 bodies are read at once) | 503 | `busy` |
//! | body at most 64 KiB | 413 | `too_large` |
//! | body received within 10 s | 408 | `timeout` |
//! | signature matches the raw body | 401 | `bad_signature` |
//! | timestamp within 5 minutes of now | 401 | `stale_timestamp` |
//! | signature not seen before | 409 | `replay` |
//! | payload parses, names are valid | 400 | `malformed` |
//! | the user is listed for the namespace (Slack: directly or via a user group) | 403 | `unknown_user` / `not_allowed` |
//! | optional SubjectAccessReview: the mapped Kubernetes user may `patch recoveryproposals` | 403 | `not_allowed` |
//! | the proposal exists | 404 | `unknown_proposal` |
//! | its content hash is the one in the button/request | 409 | `content_changed` |
//! | [`crate::approval::record_decision`]: still `Proposed` and not expired; nobody wrote first | 409 | `already_decided` / `expired` / `conflict` |
//!
//! Success answers 200 and counts `outcome="accepted"`. Slack wants an
//! answer within 3 seconds: the decision runs in its own task and, if it
//! takes longer than [`InboundSettings::answer_within`], the endpoint
//! answers 202 and the task finishes anyway (its outcome still counted and
//! shown in Slack). The clicked Slack message is replaced with the
//! outcome through the payload's `response_url`, asynchronously; refusals
//! after authentication are told to the clicking user as an ephemeral
//! message. Nothing is ever posted to a `response_url` of an
//! unauthenticated request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use super::outbound::{Http, Notifier};
use super::payload::{self, ProposalRef};
use super::policy::{Approvers, Verdict};
use super::secret::Secret;
use super::signing::{self, ReplayGuard, SignatureError};
use crate::approval::{Decision, DecisionRequest, RecordError, Refusal, record_decision};
use crate::crd::{DecidedVia, RecoveryProposal};
use crate::metrics::{DecisionLabels, Metrics};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Bodies read at the same time, before any authentication: with
/// [`MAX_BODY_BYTES`], at most 4 MiB of request bodies are held at once,
/// however many clients send slowly.
pub const MAX_CONCURRENT_BODIES: usize = 64;
/// How long a request may wait for a body-reading slot.
const BODY_SLOT_WAIT: Duration = Duration::from_secs(2);

/// Times a decision is read and recorded when another writer changed the
/// proposal in between (see `Inner::decide`).
const DECIDE_ATTEMPTS: usize = 3;

/// How long a client may take to send its whole body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Path of the Slack interactivity endpoint.
pub const SLACK_INTERACTIONS_PATH: &str = "/chatops/slack/interactions";
/// Path of the generic webhook decision endpoint.
pub const WEBHOOK_DECISION_PATH: &str = "/chatops/webhook/decision";
/// How long a Slack user group's members are cached.
const GROUP_TTL: Duration = Duration::from_secs(300);
/// Most user groups cached.
const GROUP_CACHE: usize = 256;
/// Signatures remembered per channel for replay protection.
const REPLAY_CAPACITY: usize = 100_000;

/// Who may decide through chat, and how requests are authenticated.
#[derive(Debug, Clone)]
pub struct InboundSettings {
    /// Verifies Slack's requests; without it the Slack route is not served.
    pub slack_signing_secret: Option<Secret>,
    /// Slack users and user groups allowed per namespace.
    pub slack_approvers: Approvers,
    /// Slack user id → Kubernetes user (recorded as `decidedBy`; checked by SubjectAccessReview).
    pub slack_users: BTreeMap<String, String>,
    /// Slack user id → the Kubernetes groups of its user (sent with the SubjectAccessReview).
    pub slack_groups: BTreeMap<String, Vec<String>>,
    /// Slack's Web API base (for `usergroups.users.list`).
    pub slack_api_url: String,
    /// Bot token (scope `usergroups:read`) to resolve user groups; without it groups match nobody.
    pub slack_bot_token: Option<Secret>,
    /// Verifies generic webhook decisions; without it (or without approvers) the route is not served.
    pub webhook_secret: Option<Secret>,
    /// Webhook users allowed per namespace.
    pub webhook_approvers: Approvers,
    /// Also require a SubjectAccessReview: the mapped Kubernetes user may `patch recoveryproposals`.
    pub subject_access_review: bool,
    /// Answer 202 if the decision takes longer than this (Slack's limit is 3 s).
    pub answer_within: Duration,
    /// podmedic runs in dry-run: an approval is recorded as `NotExecuted`,
    /// exactly as an annotation approval is.
    pub dry_run: bool,
}

impl Default for InboundSettings {
    fn default() -> Self {
        InboundSettings {
            slack_signing_secret: None,
            slack_approvers: Approvers::default(),
            slack_users: BTreeMap::new(),
            slack_groups: BTreeMap::new(),
            slack_api_url: super::DEFAULT_SLACK_API_URL.to_owned(),
            slack_bot_token: None,
            webhook_secret: None,
            webhook_approvers: Approvers::default(),
            subject_access_review: false,
            answer_within: Duration::from_millis(2500),
            dry_run: false,
        }
    }
}

/// What the ChatOps handlers share: settings, a Kubernetes client, metrics,
/// the notifier (to update Slack messages) and the replay guards.
#[derive(Clone)]
pub struct ChatOpsState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ChatOpsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatOpsState").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

struct Inner {
    settings: InboundSettings,
    client: kube::Client,
    metrics: Metrics,
    notifier: Notifier,
    http: Http,
    slack_replay: ReplayGuard,
    webhook_replay: ReplayGuard,
    groups: Mutex<HashMap<String, CachedGroup>>,
    /// Slots for reading request bodies ([`MAX_CONCURRENT_BODIES`]).
    bodies: tokio::sync::Semaphore,
}

/// When a user group's members were read, and who they are.
type CachedGroup = (Instant, Arc<BTreeSet<String>>);

impl ChatOpsState {
    pub(crate) fn new(
        settings: InboundSettings,
        client: kube::Client,
        metrics: Metrics,
        notifier: Notifier,
        http: Http,
    ) -> Self {
        ChatOpsState {
            inner: Arc::new(Inner {
                settings,
                client,
                metrics,
                notifier,
                http,
                slack_replay: ReplayGuard::new(REPLAY_CAPACITY),
                webhook_replay: ReplayGuard::new(REPLAY_CAPACITY),
                groups: Mutex::default(),
                bodies: tokio::sync::Semaphore::new(MAX_CONCURRENT_BODIES),
            }),
        }
    }

    /// Whether the Slack endpoint is served.
    pub fn serves_slack(&self) -> bool {
        self.inner.settings.slack_signing_secret.is_some()
    }

    /// Whether the generic webhook endpoint is served.
    pub fn serves_webhook(&self) -> bool {
        self.inner.settings.webhook_secret.is_some() && !self.inner.settings.webhook_approvers.is_empty()
    }
}

/// The ChatOps routes (only those whose secret is configured), to nest or
/// merge into the controller's HTTP server.
pub fn router(state: ChatOpsState) -> Router {
    let mut router = Router::new();
    if state.serves_slack() {
        router = router.route(SLACK_INTERACTIONS_PATH, post(slack_interactions));
    }
    if state.serves_webhook() {
        router = router.route(WEBHOOK_DECISION_PATH, post(webhook_decision));
    }
    router.with_state(state)
}

/// A refusal: HTTP status, bounded code (also the metric's `outcome`), message.
#[derive(Debug)]
struct Refused {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refused {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refused { status, code, message: message.into() }
    }

    fn body(&self) -> Value {
        json!({"ok": false, "error": self.code, "message": self.message})
    }
}

impl Inner {
    fn count(&self, via: DecidedVia, outcome: &'static str) {
        self.metrics.decisions.get_or_create(&DecisionLabels { via: via.as_str(), outcome }).inc();
    }

    fn refuse(&self, via: DecidedVia, r: Refused) -> Response {
        self.count(via, r.code);
        tracing::info!(via = via.as_str(), code = r.code, status = r.status.as_u16(), "chatops request refused");
        (r.status, axum::Json(r.body())).into_response()
    }
}

/// Reads a request body before anything else looks at the request: in one
/// of [`MAX_CONCURRENT_BODIES`] slots, at most [`MAX_BODY_BYTES`], within
/// [`BODY_READ_TIMEOUT`]. So unauthenticated clients, however many and
/// however slow, hold a bounded amount of memory.
async fn read_body(inner: &Inner, headers: &HeaderMap, body: Body) -> Result<Bytes, Refused> {
    let too_large = || {
        Refused::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let _slot = match tokio::time::timeout(BODY_SLOT_WAIT, inner.bodies.acquire()).await {
        Ok(Ok(slot)) => slot,
        _ => return Err(Refused::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "too many requests at once; retry")),
    };
    match tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, MAX_BODY_BYTES).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(_)) => Err(Refused::new(StatusCode::BAD_REQUEST, "malformed", "the body could not be read")),
        Err(_) => Err(Refused::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the body did not arrive within {} s", BODY_READ_TIMEOUT.as_secs()),
        )),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn signature_refusal(e: SignatureError) -> Refused {
    match e {
        SignatureError::Stale => Refused::new(StatusCode::UNAUTHORIZED, "stale_timestamp", e.to_string()),
        _ => Refused::new(StatusCode::UNAUTHORIZED, "bad_signature", e.to_string()),
    }
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The digest of a verified request, kept on the proposal it decided.
fn digest_hex(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn replay() -> Refused {
    Refused::new(StatusCode::CONFLICT, "replay", "this request was already received")
}

async fn slack_interactions(State(state): State<ChatOpsState>, headers: HeaderMap, body: Body) -> Response {
    let inner = &state.inner;
    let via = DecidedVia::Slack;
    let body = match read_body(inner, &headers, body).await {
        Ok(b) => b,
        Err(r) => return inner.refuse(via, r),
    };
    let Some(secret) = &inner.settings.slack_signing_secret else {
        return inner.refuse(via, Refused::new(StatusCode::NOT_FOUND, "not_configured", "Slack is not configured"));
    };
    let verified = signing::verify_slack(
        secret.expose().as_bytes(),
        header(&headers, signing::SLACK_TIMESTAMP_HEADER),
        header(&headers, signing::SLACK_SIGNATURE_HEADER),
        &body,
        now_unix(),
    );
    let key = match verified {
        Ok(k) => k,
        Err(e) => return inner.refuse(via, signature_refusal(e)),
    };
    if !inner.slack_replay.first_use(key, Instant::now()) {
        return inner.refuse(via, replay());
    }
    let interaction = match payload::parse_slack_interaction(&body) {
        Ok(i) => i,
        Err(e) => return inner.refuse(via, Refused::new(StatusCode::BAD_REQUEST, "malformed", e.to_string())),
    };
    let task_state = state.clone();
    let task = tokio::spawn(async move {
        let inner = &task_state.inner;
        let outcome = async {
            let by = inner.authorize_slack(&interaction.target, &interaction.user_id).await?;
            let request = DecisionRequest { decision: interaction.decision, by, via, digest: Some(digest_hex(&key)) };
            inner.decide(&interaction.target, &request).await
        }
        .await;
        let answer = inner.finish(via, &interaction.target, interaction.decision, outcome.as_ref());
        if let Some(url) = &interaction.response_url {
            match &outcome {
                Ok(p) => inner.notifier.respond(url, p),
                Err(r) => inner
                    .notifier
                    .respond_ephemeral(url, &format!("podmedic did not record your decision: {}", r.message)),
            }
        }
        answer
    });
    answer(inner, task).await
}

async fn webhook_decision(State(state): State<ChatOpsState>, headers: HeaderMap, body: Body) -> Response {
    let inner = &state.inner;
    let via = DecidedVia::Webhook;
    let body = match read_body(inner, &headers, body).await {
        Ok(b) => b,
        Err(r) => return inner.refuse(via, r),
    };
    let Some(secret) = &inner.settings.webhook_secret else {
        return inner
            .refuse(via, Refused::new(StatusCode::NOT_FOUND, "not_configured", "the webhook is not configured"));
    };
    let verified = signing::verify_podmedic(
        secret.expose().as_bytes(),
        header(&headers, signing::PODMEDIC_TIMESTAMP_HEADER),
        header(&headers, signing::PODMEDIC_SIGNATURE_HEADER),
        &body,
        now_unix(),
    );
    let key = match verified {
        Ok(k) => k,
        Err(e) => return inner.refuse(via, signature_refusal(e)),
    };
    if !inner.webhook_replay.first_use(key, Instant::now()) {
        return inner.refuse(via, replay());
    }
    let decision = match payload::parse_webhook_decision(&body) {
        Ok(d) => d,
        Err(e) => return inner.refuse(via, Refused::new(StatusCode::BAD_REQUEST, "malformed", e.to_string())),
    };
    let task_state = state.clone();
    let task = tokio::spawn(async move {
        let inner = &task_state.inner;
        let outcome = async {
            let by = inner.authorize_webhook(&decision.target, &decision.user)?;
            let request = DecisionRequest { decision: decision.decision, by, via, digest: Some(digest_hex(&key)) };
            inner.decide(&decision.target, &request).await
        }
        .await;
        inner.finish(via, &decision.target, decision.decision, outcome.as_ref())
    });
    answer(inner, task).await
}

/// Waits for the decision task at most `answer_within`; 202 after that.
async fn answer(inner: &Inner, task: tokio::task::JoinHandle<(StatusCode, Value)>) -> Response {
    match tokio::time::timeout(inner.settings.answer_within, task).await {
        Ok(Ok((status, body))) => (status, axum::Json(body)).into_response(),
        Ok(Err(_)) => {
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"ok": false, "error": "internal"}))).into_response()
        }
        Err(_) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({"ok": true, "status": "pending", "message": "the decision is still being recorded"})),
        )
            .into_response(),
    }
}

impl Inner {
    /// Counts and logs the outcome; the HTTP answer.
    fn finish(
        &self,
        via: DecidedVia,
        target: &ProposalRef,
        decision: Decision,
        outcome: Result<&RecoveryProposal, &Refused>,
    ) -> (StatusCode, Value) {
        match outcome {
            Ok(p) => {
                self.count(via, "accepted");
                let status = p.status.clone().unwrap_or_default();
                tracing::info!(
                    namespace = %target.namespace, name = %target.name, decision = decision.as_str(),
                    by = status.decided_by.as_deref().unwrap_or_default(), via = via.as_str(), "decision recorded"
                );
                (
                    StatusCode::OK,
                    json!({
                        "ok": true, "namespace": target.namespace, "name": target.name,
                        "decision": decision.as_str(), "phase": status.phase.as_str(), "decidedBy": status.decided_by,
                    }),
                )
            }
            Err(r) => {
                self.count(via, r.code);
                tracing::info!(
                    namespace = %target.namespace, name = %target.name, via = via.as_str(), code = r.code,
                    "chatops decision refused"
                );
                (r.status, r.body())
            }
        }
    }

    /// The `decidedBy` for an allowed Slack user.
    async fn authorize_slack(&self, target: &ProposalRef, user_id: &str) -> Result<String, Refused> {
        let s = &self.settings;
        let ns = target.namespace.as_str();
        let mapped = s.slack_users.get(user_id);
        let mut verdict = s.slack_approvers.verdict(ns, user_id);
        if verdict != Verdict::Allowed {
            for group in s.slack_approvers.groups_in(ns) {
                if self.group_members(group).await.contains(user_id) {
                    verdict = Verdict::Allowed;
                    break;
                }
            }
        }
        match verdict {
            Verdict::Allowed => {}
            Verdict::Unknown if mapped.is_none() => {
                return Err(Refused::new(
                    StatusCode::FORBIDDEN,
                    "unknown_user",
                    format!("Slack user {user_id} is not a podmedic approver"),
                ));
            }
            _ => return Err(not_allowed(&format!("Slack user {user_id}"), ns)),
        }
        if s.subject_access_review {
            let Some(user) = mapped else {
                return Err(Refused::new(
                    StatusCode::FORBIDDEN,
                    "unknown_user",
                    format!("no Kubernetes user is mapped to Slack user {user_id}"),
                ));
            };
            let groups = s.slack_groups.get(user_id).map_or(&[][..], Vec::as_slice);
            self.subject_access_review(user, groups, target).await?;
        }
        Ok(mapped.cloned().unwrap_or_else(|| format!("slack:{user_id}")))
    }

    /// The `decidedBy` for an allowed webhook user.
    fn authorize_webhook(&self, target: &ProposalRef, user: &str) -> Result<String, Refused> {
        let ns = target.namespace.as_str();
        match self.settings.webhook_approvers.verdict(ns, user) {
            Verdict::Allowed => Ok(format!("webhook:{user}")),
            Verdict::NotAllowed => Err(not_allowed(&format!("webhook user {user}"), ns)),
            Verdict::Unknown => Err(Refused::new(
                StatusCode::FORBIDDEN,
                "unknown_user",
                format!("webhook user {user} is not a podmedic approver"),
            )),
        }
    }

    /// Asks the API server whether `user`, member of `groups`, may `patch
    /// recoveryproposals/NAME` in the namespace.
    async fn subject_access_review(&self, user: &str, groups: &[String], target: &ProposalRef) -> Result<(), Refused> {
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.to_owned()),
                groups: (!groups.is_empty()).then(|| groups.to_vec()),
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(target.namespace.clone()),
                    verb: Some("patch".into()),
                    group: Some("podmedic.io".into()),
                    resource: Some("recoveryproposals".into()),
                    name: Some(target.name.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        match api.create(&PostParams::default(), &review).await {
            Ok(r) if r.status.as_ref().is_some_and(|s| s.allowed) => Ok(()),
            Ok(_) => Err(Refused::new(
                StatusCode::FORBIDDEN,
                "not_allowed",
                format!("Kubernetes user {user} may not patch recoveryproposals in namespace {}", target.namespace),
            )),
            Err(e) => {
                tracing::warn!(error = %e, "SubjectAccessReview failed");
                Err(Refused::new(
                    StatusCode::BAD_GATEWAY,
                    "api_error",
                    "could not check the approver's Kubernetes permissions",
                ))
            }
        }
    }

    /// Members of a Slack user group (cached; empty when they cannot be read).
    async fn group_members(&self, group: &str) -> Arc<BTreeSet<String>> {
        let now = Instant::now();
        {
            let cache = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, members)) = cache.get(group)
                && now.duration_since(*at) < GROUP_TTL
            {
                return members.clone();
            }
        }
        let Some(token) = &self.settings.slack_bot_token else { return Arc::default() };
        let url =
            format!("{}/usergroups.users.list?usergroup={group}", self.settings.slack_api_url.trim_end_matches('/'));
        let auth = [("authorization", format!("Bearer {}", token.expose()))];
        let members: Option<BTreeSet<String>> = match self.http.send(http::Method::GET, &url, &auth, None).await {
            Ok((status, _, body)) if status.is_success() => {
                serde_json::from_slice::<Value>(&body).ok().filter(|v| v["ok"] == json!(true)).and_then(|v| {
                    v["users"].as_array().map(|u| u.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                })
            }
            _ => None,
        };
        let Some(members) = members else {
            tracing::warn!(group, "could not read the members of a Slack user group");
            return Arc::default();
        };
        let members = Arc::new(members);
        let mut cache = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= GROUP_CACHE {
            cache.retain(|_, (at, _)| now.duration_since(*at) < GROUP_TTL);
            if cache.len() >= GROUP_CACHE {
                cache.clear();
            }
        }
        cache.insert(group.to_owned(), (now, members.clone()));
        members
    }

    /// Reads the proposal and records the decision through the shared gate.
    ///
    /// The record is one status write guarded by the `resourceVersion` just
    /// read; when another writer got in between (the leader counting a
    /// repeat crash, another replica), the proposal is read again and the
    /// whole gate runs again on it, at most [`DECIDE_ATTEMPTS`] times: a
    /// decision that the newer proposal no longer allows (decided, superseded,
    /// content changed, this request already used) is refused then, exactly
    /// as if it had arrived after the other write.
    async fn decide(&self, target: &ProposalRef, request: &DecisionRequest) -> Result<RecoveryProposal, Refused> {
        let api: Api<RecoveryProposal> = Api::namespaced(self.client.clone(), &target.namespace);
        let mut attempt = 1;
        loop {
            let proposal = match api.get_opt(&target.name).await {
                Ok(Some(p)) => p,
                Ok(None) => {
                    return Err(Refused::new(
                        StatusCode::NOT_FOUND,
                        "unknown_proposal",
                        format!("no RecoveryProposal {}/{}", target.namespace, target.name),
                    ));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading the proposal failed");
                    return Err(Refused::new(StatusCode::BAD_GATEWAY, "api_error", "could not read the proposal"));
                }
            };
            if let Some(hash) = &target.content_hash
                && *hash != proposal.spec.content_hash
            {
                return Err(Refused::new(
                    StatusCode::CONFLICT,
                    "content_changed",
                    "the proposal's content changed since this message was sent; decide on the current one",
                ));
            }
            return match record_decision(&self.client, &proposal, request, self.settings.dry_run).await {
                Ok(p) => Ok(p),
                Err(RecordError::Conflict) if attempt < DECIDE_ATTEMPTS => {
                    attempt += 1;
                    tracing::debug!(attempt, "the proposal changed while deciding; reading it again");
                    continue;
                }
                Err(RecordError::Refused(r @ Refusal::NotAllowed(_))) => {
                    Err(Refused::new(StatusCode::FORBIDDEN, r.code(), r.to_string()))
                }
                Err(RecordError::Refused(Refusal::NotPodmedics)) => Err(Refused::new(
                    StatusCode::NOT_FOUND,
                    "unknown_proposal",
                    format!("no RecoveryProposal {}/{} made by podmedic", target.namespace, target.name),
                )),
                Err(RecordError::Refused(r)) => Err(Refused::new(StatusCode::CONFLICT, r.code(), r.to_string())),
                Err(e @ RecordError::Conflict) => Err(Refused::new(StatusCode::CONFLICT, "conflict", e.to_string())),
                Err(RecordError::Api(e)) => {
                    tracing::warn!(error = %e, "recording the decision failed");
                    Err(Refused::new(StatusCode::BAD_GATEWAY, "api_error", "could not record the decision"))
                }
            };
        }
    }
}

fn not_allowed(who: &str, namespace: &str) -> Refused {
    Refused::new(
        StatusCode::FORBIDDEN,
        "not_allowed",
        format!("{who} may not decide proposals in namespace {namespace}"),
    )
}

#[cfg(test)]
mod tests {
    //! `Inner::decide` against a scripted API server (a `tower` service in
    //! place of the kube-apiserver): the races that the two-replica
    //! integration test meets only by chance, forced here.

    use std::collections::VecDeque;

    use bytes::Bytes;
    use http::{Method, Request, Response};
    use http_body_util::Full;
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::approval::Decision;
    use crate::chatops::outbound::NotifierSettings;
    use crate::chatops::testing::proposal;
    use crate::crd::{Phase, stamp_of};

    type Edit = fn(&mut RecoveryProposal);

    /// What the fake API server answers to the next status write.
    enum Put {
        /// 409, after `Edit` was applied to the stored proposal (the other writer).
        LoseTo(Edit),
        /// The write is stored.
        Accept,
    }

    struct Server {
        stored: RecoveryProposal,
        version: u64,
        puts: VecDeque<Put>,
        gets: usize,
        writes: usize,
    }

    fn json_response(code: u16, body: &Value) -> Response<Full<Bytes>> {
        Response::builder()
            .status(code)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    }

    fn conflict() -> Value {
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "the object has been modified", "reason": "Conflict", "code": 409})
    }

    async fn answer(server: Arc<Mutex<Server>>, req: Request<kube::client::Body>) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let path = parts.uri.path().to_owned();
        let mut s = server.lock().unwrap();
        if path.ends_with("/deployments/vllm") {
            let uid = s.stored.spec.target.uid.clone();
            return json_response(
                200,
                &json!({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "vllm", "namespace": "team-a", "uid": uid}}),
            );
        }
        if parts.method == Method::GET && path.ends_with("/recoveryproposals/rxp") {
            s.gets += 1;
            let mut p = s.stored.clone();
            p.metadata.resource_version = Some(s.version.to_string());
            return json_response(200, &serde_json::to_value(p).unwrap());
        }
        if parts.method == Method::PUT && path.ends_with("/recoveryproposals/rxp/status") {
            s.writes += 1;
            let sent: RecoveryProposal = serde_json::from_slice(&body).unwrap();
            assert_eq!(sent.metadata.resource_version, Some(s.version.to_string()), "a write guarded by what was read");
            return match s.puts.pop_front().unwrap_or(Put::Accept) {
                Put::LoseTo(edit) => {
                    edit(&mut s.stored);
                    s.version += 1;
                    json_response(409, &conflict())
                }
                Put::Accept => {
                    s.stored.status = sent.status;
                    s.version += 1;
                    let mut p = s.stored.clone();
                    p.metadata.resource_version = Some(s.version.to_string());
                    json_response(200, &serde_json::to_value(p).unwrap())
                }
            };
        }
        json_response(404, &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}))
    }

    fn server(puts: Vec<Put>) -> (Arc<Mutex<Server>>, kube::Client) {
        let mut stored = proposal("team-a", "rxp");
        let mut status = stored.status.clone().unwrap_or_default();
        status.stamp = Some(stamp_of(&stored));
        stored.status = Some(status);
        let server = Arc::new(Mutex::new(Server { stored, version: 1, puts: puts.into(), gets: 0, writes: 0 }));
        let s = server.clone();
        let service = tower::service_fn(move |req| {
            let s = s.clone();
            async move { Ok::<_, std::convert::Infallible>(answer(s, req).await) }
        });
        (server, kube::Client::new(service, "default"))
    }

    fn state(client: kube::Client) -> ChatOpsState {
        let metrics = Metrics::new(&mut Registry::default());
        let http = Http::new(Duration::from_secs(1)).unwrap();
        let notifier = Notifier::start_with(NotifierSettings::default(), http.clone(), metrics.clone());
        ChatOpsState::new(InboundSettings::default(), client, metrics, notifier, http)
    }

    fn click(digest: &str) -> DecisionRequest {
        DecisionRequest {
            decision: Decision::Approve,
            by: "alice".into(),
            via: DecidedVia::Slack,
            digest: Some(digest.into()),
        }
    }

    fn target() -> ProposalRef {
        ProposalRef { namespace: "team-a".into(), name: "rxp".into(), content_hash: None }
    }

    fn count_occurrence(p: &mut RecoveryProposal) {
        p.status.get_or_insert_with(Default::default).occurrences += 1;
    }

    fn reject_by_bob(p: &mut RecoveryProposal) {
        let s = p.status.get_or_insert_with(Default::default);
        s.phase = Phase::Rejected;
        s.decided_by = Some("bob".into());
    }

    #[tokio::test]
    async fn a_click_that_loses_a_race_to_an_unrelated_write_is_recorded_on_the_proposal_read_again() {
        let (server, client) = server(vec![Put::LoseTo(count_occurrence)]);
        let decided = state(client).inner.decide(&target(), &click("d1")).await.unwrap();
        let status = decided.status.unwrap();
        assert_eq!(status.decided_by.as_deref(), Some("alice"));
        assert_ne!(status.phase, Phase::Proposed);
        // The other writer's count survives: the decision was made on the proposal read again.
        assert_eq!(status.occurrences, 1);
        let s = server.lock().unwrap();
        assert_eq!((s.gets, s.writes), (2, 2));
        assert_eq!(s.stored.status.as_ref().unwrap().request_digests, vec!["d1".to_owned()]);
    }

    #[tokio::test]
    async fn a_click_that_loses_to_another_decision_is_refused_as_decided_and_writes_nothing() {
        let (server, client) = server(vec![Put::LoseTo(reject_by_bob)]);
        let refused = state(client).inner.decide(&target(), &click("d1")).await.unwrap_err();
        assert_eq!((refused.status, refused.code), (StatusCode::CONFLICT, "already_decided"));
        let s = server.lock().unwrap();
        assert_eq!((s.gets, s.writes), (2, 1), "the gate refused before a second write");
        let status = s.stored.status.as_ref().unwrap();
        assert_eq!((status.phase, status.decided_by.as_deref()), (Phase::Rejected, Some("bob")));
        assert!(status.request_digests.is_empty());
    }

    #[tokio::test]
    async fn a_click_that_keeps_losing_gives_up_after_its_attempts_with_a_conflict() {
        let puts = (0..DECIDE_ATTEMPTS + 1).map(|_| Put::LoseTo(count_occurrence)).collect();
        let (server, client) = server(puts);
        let refused = state(client).inner.decide(&target(), &click("d1")).await.unwrap_err();
        assert_eq!((refused.status, refused.code), (StatusCode::CONFLICT, "conflict"));
        let s = server.lock().unwrap();
        assert_eq!((s.gets, s.writes), (DECIDE_ATTEMPTS, DECIDE_ATTEMPTS));
        assert_eq!(s.stored.status.as_ref().unwrap().phase, Phase::Proposed);
    }
}
