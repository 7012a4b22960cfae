//! Outbound: announcing proposals and their outcomes to Slack and to a
//! generic JSON webhook, without ever blocking reconciliation.
//!
//! [`Notifier::notify`] is synchronous and cheap: it puts the proposal on a
//! bounded queue and returns. A full queue drops the notification (counted
//! as `podmedic_notifications_total{result="dropped"}`) instead of
//! waiting. One background task delivers in order, retrying connection
//! errors, 5xx, 408 and 429 answers with exponential backoff (honouring
//! `Retry-After`) up to `max_attempts`; every retry, success and final
//! failure is counted.
//!
//! Slack messages are posted with `chat.postMessage` (bot token + channel)
//! or an incoming webhook. With a bot token, later phases of the same
//! proposal update the original message (`chat.update`) instead of posting
//! a new one; a decision clicked in Slack replaces the clicked message via
//! its `response_url`. The same (proposal, phase) is announced once per
//! channel while remembered (a bounded map), so calling `notify` on every
//! reconcile is harmless.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::render;
use super::secret::Secret;
use super::signing::{PODMEDIC_SIGNATURE_HEADER, PODMEDIC_TIMESTAMP_HEADER, podmedic_signature};
use crate::crd::{Phase, RecoveryProposal};
use crate::metrics::{ChannelLabels, Metrics};

/// Largest response body read from a receiver.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Proposals whose last announced phase (and Slack message) are remembered.
const TRACKED_PROPOSALS: usize = 4096;

/// Where Slack messages go.
#[derive(Debug, Clone)]
pub enum SlackTarget {
    /// `chat.postMessage` / `chat.update` with a bot token (`chat:write`).
    Bot {
        /// Slack's Web API base, e.g. `https://slack.com/api`.
        api_url: String,
        /// The bot token (`xoxb-…`).
        token: Secret,
        /// The channel id or name to post to.
        channel: String,
    },
    /// An incoming webhook URL (its path is a credential).
    IncomingWebhook {
        /// The webhook URL.
        url: Secret,
    },
}

/// The generic JSON webhook.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// Where to POST (may carry a token, so it is a [`Secret`]).
    pub url: Secret,
    /// Signs each request (`X-Podmedic-Signature`/`X-Podmedic-Timestamp`) when set.
    pub secret: Option<Secret>,
}

/// How the notifier delivers.
#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// Slack, if announcing there.
    pub slack: Option<SlackTarget>,
    /// The generic webhook, if announcing there.
    pub webhook: Option<WebhookTarget>,
    /// Notifications waiting at most; more are dropped.
    pub queue_capacity: usize,
    /// Attempts per message (first try included).
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time (at most a minute).
    pub retry_base: Duration,
    /// Time limit of one HTTP attempt.
    pub request_timeout: Duration,
}

impl Default for NotifierSettings {
    fn default() -> Self {
        NotifierSettings {
            slack: None,
            webhook: None,
            queue_capacity: 256,
            max_attempts: 5,
            retry_base: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Failures building the outbound machinery.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// rustls refused its own default protocol versions (a build problem).
    #[error("cannot configure TLS for outbound requests")]
    Tls(#[source] std::io::Error),
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

/// A small HTTPS/HTTP client (hyper + rustls with the ring provider, the
/// same stack `kube` uses) with a per-request time limit.
#[derive(Clone)]
pub(crate) struct Http {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    max_body: usize,
}

/// One HTTP exchange that produced no usable answer.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// The URL is not a valid URI (the URL itself is not repeated: it may be secret).
    BadUrl,
    /// No answer within the time limit.
    Timeout,
    /// Connecting or exchanging failed.
    Transport(String),
    /// The answer's body was larger than the client's limit.
    TooLarge(usize),
}

impl Http {
    pub(crate) fn new(timeout: Duration) -> Result<Self, OutboundError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match builder.with_provider_and_native_roots(provider.clone()) {
            Ok(b) => b,
            Err(err) => {
                tracing::warn!(error = %err, "no CA certificates found; outbound HTTPS notifications will fail");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| OutboundError::Tls(std::io::Error::other(e)))?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        Ok(Http {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            max_body: MAX_RESPONSE_BYTES,
        })
    }

    /// The same client reading at most `max_body` bytes of each answer
    /// (the Prometheus client reads larger answers than chat receivers send).
    pub(crate) fn with_max_body(mut self, max_body: usize) -> Self {
        self.max_body = max_body;
        self
    }

    /// Sends `body` as JSON with `extra` headers; returns status, headers and (bounded) body.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        extra: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), HttpError> {
        let uri: http::Uri = url.parse().map_err(|_| HttpError::BadUrl)?;
        let mut req = Request::builder().method(method).uri(uri);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json; charset=utf-8");
        }
        for (name, value) in extra {
            req = req.header(*name, value);
        }
        let req = req.body(Full::new(Bytes::from(body.unwrap_or_default()))).map_err(|_| HttpError::BadUrl)?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| HttpError::Transport(error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let max_body = self.max_body;
            let body = Limited::new(body, max_body)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                        HttpError::TooLarge(max_body)
                    } else {
                        HttpError::Transport(e.to_string())
                    }
                })?
                .to_bytes();
            Ok((parts.status, parts.headers, body))
        };
        tokio::time::timeout(self.timeout, exchange).await.map_err(|_| HttpError::Timeout)?
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    // hyper's messages never contain the request URL; keep them short anyway.
    crate::util::truncate(&s, 300).into_owned()
}

// ---------------------------------------------------------------------------
// Notifier
// ---------------------------------------------------------------------------

/// Announces proposals; cheap to clone, shared by the controller and the
/// ChatOps HTTP handlers. [`Notifier::disabled`] does nothing.
#[derive(Clone)]
pub struct Notifier {
    inner: Option<Arc<Shared>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("enabled", &self.inner.is_some()).finish()
    }
}

struct Shared {
    tx: mpsc::Sender<Job>,
    slack: bool,
    webhook: bool,
    tracker: Mutex<Tracker>,
    metrics: Metrics,
}

enum Job {
    /// Post or update the Slack message for a proposal.
    Slack(Box<RecoveryProposal>),
    /// Post the generic webhook document for a proposal.
    Webhook(Box<RecoveryProposal>),
    /// Post `body` to a Slack `response_url`.
    Respond { url: String, body: Value },
}

#[derive(Default)]
struct Tracker {
    entries: HashMap<String, Tracked>,
    order: VecDeque<String>,
}

#[derive(Default)]
struct Tracked {
    slack_phase: Option<Phase>,
    webhook_phase: Option<Phase>,
    /// (channel id, ts) of the posted Slack message.
    message: Option<(String, String)>,
}

impl Tracker {
    fn entry(&mut self, key: &str) -> &mut Tracked {
        if !self.entries.contains_key(key) {
            if self.order.len() >= TRACKED_PROPOSALS
                && let Some(old) = self.order.pop_front()
            {
                self.entries.remove(&old);
            }
            self.order.push_back(key.to_owned());
        }
        self.entries.entry(key.to_owned()).or_default()
    }
}

fn key(p: &RecoveryProposal) -> String {
    match &p.metadata.uid {
        Some(uid) => uid.clone(),
        None => format!(
            "{}/{}",
            p.metadata.namespace.as_deref().unwrap_or_default(),
            p.metadata.name.as_deref().unwrap_or_default()
        ),
    }
}

fn phase(p: &RecoveryProposal) -> Phase {
    p.status.as_ref().map(|s| s.phase).unwrap_or_default()
}

impl Notifier {
    /// A notifier that announces nothing.
    pub fn disabled() -> Self {
        Notifier { inner: None }
    }

    /// Starts the delivery task (call inside a Tokio runtime) and returns
    /// its handle. The task ends when every handle is dropped.
    pub fn start(settings: NotifierSettings, metrics: Metrics) -> Result<Self, OutboundError> {
        let http = Http::new(settings.request_timeout)?;
        Ok(Self::start_with(settings, http, metrics))
    }

    pub(crate) fn start_with(settings: NotifierSettings, http: Http, metrics: Metrics) -> Self {
        let (tx, rx) = mpsc::channel(settings.queue_capacity.max(1));
        let shared = Arc::new(Shared {
            tx,
            slack: settings.slack.is_some(),
            webhook: settings.webhook.is_some(),
            tracker: Mutex::default(),
            metrics: metrics.clone(),
        });
        let worker = Worker { settings, http, metrics, shared: Arc::downgrade(&shared) };
        tokio::spawn(worker.run(rx));
        Notifier { inner: Some(shared) }
    }

    /// Announces `proposal` in its current phase on every configured
    /// channel, unless that phase was already announced there. Never
    /// blocks: a full queue drops the notification and counts it.
    /// Call it when a proposal is created and whenever its phase changes.
    pub fn notify(&self, proposal: &RecoveryProposal) {
        let Some(shared) = &self.inner else { return };
        let (key, phase) = (key(proposal), phase(proposal));
        let mut tracker = shared.tracker.lock().unwrap_or_else(|e| e.into_inner());
        let entry = tracker.entry(&key);
        if shared.slack
            && entry.slack_phase != Some(phase)
            && shared.enqueue("slack", Job::Slack(Box::new(proposal.clone())))
        {
            entry.slack_phase = Some(phase);
        }
        if shared.webhook
            && entry.webhook_phase != Some(phase)
            && shared.enqueue("webhook", Job::Webhook(Box::new(proposal.clone())))
        {
            entry.webhook_phase = Some(phase);
        }
    }

    /// Replaces the Slack message behind `response_url` with `proposal`'s
    /// current state (after a decision clicked in Slack).
    pub fn respond(&self, response_url: &str, proposal: &RecoveryProposal) {
        let Some(shared) = &self.inner else { return };
        let mut body = render::slack_message(proposal);
        body["replace_original"] = json!(true);
        let mut tracker = shared.tracker.lock().unwrap_or_else(|e| e.into_inner());
        if shared.enqueue("slack", Job::Respond { url: response_url.to_owned(), body }) {
            tracker.entry(&key(proposal)).slack_phase = Some(phase(proposal));
        }
    }

    /// Tells only the clicking user, via `response_url`, why their click did nothing.
    pub fn respond_ephemeral(&self, response_url: &str, text: &str) {
        let Some(shared) = &self.inner else { return };
        let body = json!({"response_type": "ephemeral", "replace_original": false, "text": render::escape(text)});
        shared.enqueue("slack", Job::Respond { url: response_url.to_owned(), body });
    }
}

impl Shared {
    fn enqueue(&self, channel: &'static str, job: Job) -> bool {
        match self.tx.try_send(job) {
            Ok(()) => true,
            Err(_) => {
                self.metrics.notifications.get_or_create(&ChannelLabels { channel, result: "dropped" }).inc();
                tracing::warn!(channel, "notification queue full; notification dropped");
                false
            }
        }
    }
}

/// How one attempt went.
enum Verdict {
    Done(Bytes),
    Retry(Option<Duration>),
    Fail(String),
}

struct Worker {
    settings: NotifierSettings,
    http: Http,
    metrics: Metrics,
    shared: std::sync::Weak<Shared>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::Receiver<Job>) {
        while let Some(job) = rx.recv().await {
            match job {
                Job::Slack(p) => self.slack(&p).await,
                Job::Webhook(p) => self.webhook(&p).await,
                Job::Respond { url, body } => {
                    let body = body.to_string().into_bytes();
                    self.deliver("slack", || (Method::POST, url.clone(), Vec::new(), body.clone()), judge_plain).await;
                }
            }
        }
    }

    async fn slack(&self, p: &RecoveryProposal) {
        let Some(target) = &self.settings.slack else { return };
        let message = render::slack_message(p);
        match target {
            SlackTarget::IncomingWebhook { url } => {
                let body = message.to_string().into_bytes();
                self.deliver(
                    "slack",
                    || (Method::POST, url.expose().to_owned(), Vec::new(), body.clone()),
                    judge_plain,
                )
                .await;
            }
            SlackTarget::Bot { api_url, token, channel } => {
                let key = key(p);
                let posted = self.tracked_message(&key);
                let (method, mut body) = match &posted {
                    Some((channel, ts)) => ("chat.update", json!({"channel": channel, "ts": ts})),
                    None => {
                        ("chat.postMessage", json!({"channel": channel, "unfurl_links": false, "unfurl_media": false}))
                    }
                };
                body["text"] = message["text"].clone();
                body["blocks"] = message["blocks"].clone();
                let url = format!("{}/{method}", api_url.trim_end_matches('/'));
                let auth = vec![("authorization", format!("Bearer {}", token.expose()))];
                let body = body.to_string().into_bytes();
                let answer = self
                    .deliver("slack", || (Method::POST, url.clone(), auth.clone(), body.clone()), judge_slack_api)
                    .await;
                if posted.is_none()
                    && let Some(answer) = answer
                    && let Ok(v) = serde_json::from_slice::<Value>(&answer)
                    && let (Some(ch), Some(ts)) = (v["channel"].as_str(), v["ts"].as_str())
                {
                    self.remember_message(&key, ch, ts);
                }
            }
        }
    }

    async fn webhook(&self, p: &RecoveryProposal) {
        let Some(target) = &self.settings.webhook else { return };
        let body = render::webhook_message(p).to_string().into_bytes();
        let secret = target.secret.clone();
        self.deliver(
            "webhook",
            || {
                let mut headers = Vec::new();
                if let Some(secret) = &secret {
                    let ts = chrono::Utc::now().timestamp().to_string();
                    headers
                        .push((PODMEDIC_SIGNATURE_HEADER, podmedic_signature(secret.expose().as_bytes(), &ts, &body)));
                    headers.push((PODMEDIC_TIMESTAMP_HEADER, ts));
                }
                (Method::POST, target.url.expose().to_owned(), headers, body.clone())
            },
            judge_plain,
        )
        .await;
    }

    fn tracked_message(&self, key: &str) -> Option<(String, String)> {
        let shared = self.shared.upgrade()?;
        let tracker = shared.tracker.lock().unwrap_or_else(|e| e.into_inner());
        tracker.entries.get(key).and_then(|t| t.message.clone())
    }

    fn remember_message(&self, key: &str, channel: &str, ts: &str) {
        let Some(shared) = self.shared.upgrade() else { return };
        let mut tracker = shared.tracker.lock().unwrap_or_else(|e| e.into_inner());
        tracker.entry(key).message = Some((channel.to_owned(), ts.to_owned()));
    }

    /// Sends with retries; the answer's body on success.
    async fn deliver(
        &self,
        channel: &'static str,
        build: impl Fn() -> (Method, String, Vec<(&'static str, String)>, Vec<u8>),
        judge: fn(StatusCode, &HeaderMap, &Bytes) -> Verdict,
    ) -> Option<Bytes> {
        let count = |result| self.metrics.notifications.get_or_create(&ChannelLabels { channel, result }).inc();
        let attempts = self.settings.max_attempts.max(1);
        for attempt in 1..=attempts {
            let (method, url, headers, body) = build();
            let headers: Vec<(&str, String)> = headers.into_iter().collect();
            let verdict = match self.http.send(method, &url, &headers, Some(body)).await {
                Ok((status, headers, body)) => judge(status, &headers, &body),
                Err(HttpError::BadUrl) => Verdict::Fail("the configured URL is invalid".into()),
                Err(HttpError::Timeout) => Verdict::Retry(None),
                Err(HttpError::Transport(e)) => {
                    tracing::debug!(channel, error = %e, "notification attempt failed");
                    Verdict::Retry(None)
                }
                Err(HttpError::TooLarge(limit)) => {
                    tracing::debug!(channel, limit, "notification answer too large");
                    Verdict::Retry(None)
                }
            };
            match verdict {
                Verdict::Done(body) => {
                    count("sent");
                    return Some(body);
                }
                Verdict::Fail(reason) => {
                    count("failed");
                    tracing::warn!(channel, reason = %reason, "notification failed");
                    return None;
                }
                Verdict::Retry(_) if attempt == attempts => break,
                Verdict::Retry(after) => {
                    count("retried");
                    let backoff = self.settings.retry_base.saturating_mul(1 << (attempt - 1).min(16));
                    tokio::time::sleep(after.unwrap_or(backoff).min(MAX_BACKOFF)).await;
                }
            }
        }
        count("failed");
        tracing::warn!(channel, attempts, "notification failed after all attempts");
        None
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
        .map(Duration::from_secs)
}

fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::REQUEST_TIMEOUT
}

/// Incoming webhooks, response URLs, generic receivers: any 2xx is success.
fn judge_plain(status: StatusCode, headers: &HeaderMap, body: &Bytes) -> Verdict {
    if status.is_success() {
        Verdict::Done(body.clone())
    } else if retryable(status) {
        Verdict::Retry(retry_after(headers))
    } else {
        Verdict::Fail(format!(
            "HTTP {}: {}",
            status.as_u16(),
            crate::util::truncate(&String::from_utf8_lossy(body), 120)
        ))
    }
}

/// Slack's Web API answers 200 with `{"ok": false, "error": …}` on failure.
fn judge_slack_api(status: StatusCode, headers: &HeaderMap, body: &Bytes) -> Verdict {
    match judge_plain(status, headers, body) {
        Verdict::Done(body) => match serde_json::from_slice::<Value>(&body) {
            Ok(v) if v["ok"] == json!(true) => Verdict::Done(body),
            Ok(v) if v["error"] == "ratelimited" => Verdict::Retry(retry_after(headers)),
            Ok(v) => Verdict::Fail(format!(
                "Slack API error {}",
                crate::util::truncate(v["error"].as_str().unwrap_or("unknown"), 60)
            )),
            Err(_) => Verdict::Fail("Slack API answered with something other than JSON".into()),
        },
        other => other,
    }
}
