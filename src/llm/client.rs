//! The bounded client: one chat-completions POST per consultation over the
//! project's HTTP stack ([`crate::chatops::outbound`]'s hyper + rustls
//! client, the same TLS provider `kube` uses), within the budget and the
//! time limit, the answer read up to 64 KiB.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant as StdInstant;

use http::Method;

use super::budget::Budget;
use super::request::{self, Request};
use super::validate::{self, Rejection};
use super::{LABEL, Opinion, Outcome, Settings, Trigger};
use crate::chatops::outbound::{Http, HttpError};
use crate::diagnosis::{Diagnosis, EvidenceLine};
use crate::evidence::Evidence;

/// How long an answer is reused for the same workload and reading.
const REUSE_FOR: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// Answers remembered for reuse, at most.
const REMEMBERED: usize = 256;

/// The operator's model, as podmedic consults it. One per process: its
/// budget is shared by every consultation.
pub struct Llm {
    settings: Settings,
    http: Http,
    budget: Budget,
    /// Answers by workload and reading (see [`Llm::consult_for`]).
    remembered: Mutex<VecDeque<(String, StdInstant, Opinion)>>,
    /// One lock per workload and reading being asked about, so that two
    /// crashes of one workload handled at once ask once.
    asking: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llm").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Llm {
    /// A client for the settings (builds the TLS configuration; connects nothing yet).
    pub fn new(settings: Settings) -> Result<Self, super::LlmError> {
        let http = Http::new(settings.timeout).map_err(super::LlmError::Http)?;
        let budget = Budget::new(settings.calls_per_hour, settings.max_concurrent);
        Ok(Llm { settings, http, budget, remembered: Mutex::default(), asking: Mutex::default() })
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The model name requests carry: `--llm-model`, else `default`
    /// (servers that serve one model, like llama.cpp's, ignore it).
    fn model_name(&self) -> &str {
        self.settings.model.as_deref().unwrap_or("default")
    }

    /// The model as opinions name it before an answer says more.
    fn shown_model(&self) -> &str {
        self.settings.model.as_deref().unwrap_or("the endpoint's default model")
    }

    /// Asks the model about `d` when [`super::trigger`] says so; `None` when not asked.
    pub async fn consult(&self, ev: &Evidence, d: &Diagnosis) -> Option<Opinion> {
        let trigger = super::trigger(d, self.settings.disagree_below)?;
        let req = request::build(ev, d, trigger, self.model_name(), self.settings.log_lines);
        Some(self.ask(&req, trigger).await)
    }

    /// [`Llm::consult`] for a crash of the workload named by `key`: a crash
    /// loop restarts every few minutes, and the model is asked once per
    /// workload and reading (podmedic's class and the trigger) in
    /// half an hour; answers (accepted or rejected) are reused meanwhile,
    /// failures (timeout, error, budget) are not. Crashes of one workload
    /// handled at once wait for the first one's answer.
    pub async fn consult_for(&self, key: &str, ev: &Evidence, d: &Diagnosis) -> Option<Opinion> {
        let trigger = super::trigger(d, self.settings.disagree_below)?;
        let key = format!("{key}\0{}\0{}", d.class, trigger.as_str());
        let lock = {
            let mut asking = self.asking.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // Locks nobody holds or waits for are dropped as the map grows.
            if asking.len() >= REMEMBERED {
                asking.retain(|_, l| Arc::strong_count(l) > 1);
            }
            asking.entry(key.clone()).or_default().clone()
        };
        let _asking = lock.lock().await;
        {
            let mut memo = self.remembered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            memo.retain(|(_, at, _)| at.elapsed() < REUSE_FOR);
            if let Some((_, _, op)) = memo.iter().find(|(k, _, _)| *k == key) {
                tracing::debug!(outcome = op.outcome.as_str(), "reusing the model's earlier answer for this workload");
                return Some(Opinion { reused: true, ..op.clone() });
            }
        }
        let op = self.consult(ev, d).await?;
        if matches!(op.outcome, Outcome::Accepted | Outcome::Rejected) {
            let mut memo = self.remembered.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if memo.len() >= REMEMBERED {
                memo.pop_front();
            }
            memo.push_back((key, StdInstant::now(), op.clone()));
        }
        Some(op)
    }

    /// Sends one request and checks the answer; never fails, the opinion
    /// says what happened.
    pub async fn ask(&self, req: &Request, trigger: Trigger) -> Opinion {
        let started = StdInstant::now();
        let deadline = tokio::time::Instant::now() + self.settings.timeout;
        let model = self.shown_model().to_owned();
        let ms = |s: StdInstant| u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX);
        let unavailable = |outcome, reason: String| {
            let mut op = Opinion::unavailable(&model, trigger, outcome, reason, ms(started));
            op.window_lines = req.window.lines.len();
            op.echoes_dropped = req.window.echoes_dropped;
            op
        };
        let grant = match self.budget.acquire(deadline).await {
            Ok(g) => g,
            Err(refusal) => return unavailable(Outcome::Budget, format!("not asked: {refusal}")),
        };
        let body = match serde_json::to_vec(&req.body) {
            Ok(b) => b,
            Err(e) => return unavailable(Outcome::Error, format!("cannot encode the request: {e}")),
        };
        let mut headers = vec![("accept", "application/json".to_owned())];
        if let Some(key) = &self.settings.api_key {
            headers.push(("authorization", format!("Bearer {}", key.expose())));
        }
        let exchange = self.http.send(Method::POST, &self.settings.endpoint, &headers, Some(body));
        let result = tokio::time::timeout_at(deadline, exchange).await;
        drop(grant);
        let (status, _, answer) = match result {
            Err(_) | Ok(Err(HttpError::Timeout)) => {
                return unavailable(
                    Outcome::Timeout,
                    format!("no answer within {} s (--llm-timeout)", self.settings.timeout.as_secs_f64()),
                );
            }
            Ok(Err(HttpError::BadUrl)) => return unavailable(Outcome::Error, "--llm-url is not a valid URL".into()),
            Ok(Err(HttpError::TooLarge(max))) => {
                return unavailable(Outcome::Error, format!("the answer was larger than {} KiB", max / 1024));
            }
            Ok(Err(HttpError::Transport(e))) => {
                let e = if e.contains("length limit exceeded") {
                    "the answer was larger than 64 KiB".to_owned()
                } else {
                    format!("the request failed: {e}")
                };
                return unavailable(Outcome::Error, e);
            }
            Ok(Ok(r)) => r,
        };
        let latency_ms = ms(started);
        match validate::check(status.as_u16(), &answer, &req.window) {
            Ok(a) => Opinion {
                model: self.settings.model.clone().or(a.server_model).unwrap_or_else(|| model.clone()),
                class: Some(a.class),
                subclass: a.subclass,
                summary: a.summary,
                suggestion: a.suggestion,
                cited: a
                    .cited_lines
                    .iter()
                    .map(|n| EvidenceLine { line: *n, text: req.window.text_of(*n).unwrap_or_default().to_owned() })
                    .collect(),
                cited_lines: a.cited_lines,
                accepted: true,
                reason: None,
                outcome: Outcome::Accepted,
                trigger,
                latency_ms,
                window_lines: req.window.lines.len(),
                echoes_dropped: req.window.echoes_dropped,
                reused: false,
                label: LABEL,
            },
            Err(rejection) => {
                let outcome = match rejection {
                    Rejection::Status(_) | Rejection::Envelope(_) => Outcome::Error,
                    _ => Outcome::Rejected,
                };
                let mut op = unavailable(outcome, format!("rejected: {rejection}"));
                op.latency_ms = latency_ms;
                op
            }
        }
    }
}
