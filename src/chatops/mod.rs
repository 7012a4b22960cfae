//! ChatOps: announcing proposals in Slack (or any JSON webhook receiver)
//! and taking approve/reject decisions from there, from authenticated
//! approvers only.
//!
//! # Operator guide
//!
//! ## What it does
//!
//! When podmedic creates a `RecoveryProposal`, and whenever its phase
//! changes, it posts a message: the diagnosis summary, the key evidence
//! lines, the change it proposes (the plan's diffs), its confidence and —
//! while the proposal waits — **Approve** and **Reject** buttons. A click
//! records the decision exactly as `kubectl annotate rxp NAME
//! podmedic.io/decision=approve` would: through the same gate
//! ([`crate::approval::record_decision`]), so the same rules hold (only a
//! `Proposed`, unexpired proposal can be decided; the first decision wins).
//! The message is then replaced by the outcome.
//!
//! ## Slack setup
//!
//! 1. Create a Slack app. Under *Interactivity*, set the request URL to
//!    `https://<podmedic's address>/chatops/slack/interactions`.
//! 2. Give podmedic the app's *signing secret*:
//!    `PODMEDIC_SLACK_SIGNING_SECRET` or `--slack-signing-secret-file`.
//! 3. Choose how messages are posted: a bot token (scope `chat:write`,
//!    plus `usergroups:read` to use user groups as approvers) with
//!    `PODMEDIC_SLACK_BOT_TOKEN` and `--slack-channel`; or an incoming
//!    webhook URL, `PODMEDIC_SLACK_WEBHOOK_URL`. With a bot token, later
//!    phases update the original message instead of posting new ones.
//! 4. Say who may decide, per namespace (`*` = every namespace):
//!    `PODMEDIC_SLACK_APPROVERS='team-a=U0123ABCD,S0456EFGH;*=U0789IJKL'`
//!    (user ids `U…`/`W…`, user-group ids `S…`), or the
//!    `--chatops-approvers-file` (see [`policy::ApproversFile`]).
//! 5. Optionally map Slack users to Kubernetes users
//!    (`PODMEDIC_SLACK_USERS='U0123ABCD=alice@example.com'`): the mapped
//!    name is recorded as `decidedBy` (else `slack:<user id>`), and with
//!    `--chatops-subject-access-review` the mapped user must also be
//!    allowed to `patch recoveryproposals` in the namespace (RBAC decides;
//!    podmedic's ServiceAccount then needs `create` on
//!    `subjectaccessreviews.authorization.k8s.io`). A user's Kubernetes
//!    groups follow its name, `|`-separated
//!    (`U0123ABCD=alice@example.com|sre-oncall|platform`, or
//!    `{user: ..., groups: [...]}` in the approvers file); the review sends
//!    them, so a RoleBinding to a Group counts. To let RBAC alone decide,
//!    list `*=*` as approvers and enable the review: podmedic refuses to
//!    start with a `*` approver *without* the review, since every member
//!    of the workspace, guests included, could then approve.
//!
//! ## Generic webhook
//!
//! `PODMEDIC_WEBHOOK_URL` receives a JSON document per announcement (see
//! [`render::webhook_message`]): the same content as data, plus a Markdown
//! `text` that Mattermost and most relays show as is. With
//! `PODMEDIC_WEBHOOK_SECRET` each request is signed:
//! `X-Podmedic-Timestamp: <unix seconds>` and `X-Podmedic-Signature:
//! sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`.
//! Decisions come back, signed the same way, as
//! `POST /chatops/webhook/decision` with
//! `{"namespace": "...", "name": "...", "decision": "approve"|"reject", "user": "...", "contentHash": "..."}`
//! from users listed in `PODMEDIC_WEBHOOK_APPROVERS` (same syntax as the
//! Slack list; recorded as `decidedBy: webhook:<user>`).
//!
//! ## Security
//!
//! - Every inbound request is authenticated by HMAC-SHA256 over the raw
//!   body, compared in constant time; timestamps more than 5 minutes off
//!   are refused, and so is a second request with a signature already
//!   seen. Refusals are answered with a JSON error and a status (401 bad
//!   signature or stale, 409 replay/already decided/expired, 403 not
//!   allowed, 404 unknown proposal, 400 malformed, 413 over 64 KiB), are
//!   counted in `podmedic_decisions_total{via,outcome}` and change nothing.
//!   The full table is in [`inbound`].
//! - A button carries the proposal's content hash: a proposal recreated
//!   under the same name with different content is not decided by an old
//!   message.
//! - Secrets (signing secret, bot token, webhook URL and secret) come
//!   from the environment (the Helm chart maps them from Kubernetes
//!   Secrets) or from `--…-file` paths; they are held in [`Secret`], whose
//!   `Debug` prints `[redacted]`, are hidden from `--help`, and never
//!   appear in logs or metrics.
//!
//! ## Delivery
//!
//! Announcing never blocks reconciliation: see [`outbound`]. Outcomes are
//! counted in `podmedic_notifications_total{channel,result}` (`sent`,
//! `retried`, `failed`, `dropped`).
//!
//! # Wiring (for the controller)
//!
//! ```ignore
//! let settings = cfg.chatops.settings()?;                  // flags → validated settings
//! let chatops = ChatOps::start(settings, client.clone(), metrics.clone())?;  // inside the runtime
//! let app = server_routes.merge(podmedic::chatops::router(chatops.state.clone()));
//! // in the reconciler, after creating a proposal or changing its phase:
//! chatops.notifier.notify(&proposal);
//! ```

pub mod inbound;
pub mod outbound;
pub mod payload;
pub mod policy;
pub mod render;
pub mod secret;
pub mod signing;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub use inbound::{ChatOpsState, InboundSettings, router};
pub use outbound::{Notifier, NotifierSettings, SlackTarget, WebhookTarget};
pub use secret::Secret;

use crate::controller::config::parse_duration;
use crate::metrics::Metrics;
use policy::{Approvers, ApproversFile, PolicyError};

/// Slack's Web API.
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";

/// ChatOps flags (flattened into the controller's configuration). Secrets
/// are best given by environment variable or file; their values are never
/// printed by `--help`.
#[derive(Debug, Clone, clap::Args)]
pub struct ChatOpsConfig {
    /// Slack app signing secret; enables `POST /chatops/slack/interactions`.
    #[arg(long, env = "PODMEDIC_SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub slack_signing_secret: Option<Secret>,

    /// File holding the Slack signing secret.
    #[arg(long, env = "PODMEDIC_SLACK_SIGNING_SECRET_FILE", conflicts_with = "slack_signing_secret")]
    pub slack_signing_secret_file: Option<PathBuf>,

    /// Slack bot token (`xoxb-…`): posts with chat.postMessage and resolves user groups.
    #[arg(long, env = "PODMEDIC_SLACK_BOT_TOKEN", hide_env_values = true)]
    pub slack_bot_token: Option<Secret>,

    /// File holding the Slack bot token.
    #[arg(long, env = "PODMEDIC_SLACK_BOT_TOKEN_FILE", conflicts_with = "slack_bot_token")]
    pub slack_bot_token_file: Option<PathBuf>,

    /// Channel (id or name) the bot posts proposals to.
    #[arg(long, env = "PODMEDIC_SLACK_CHANNEL")]
    pub slack_channel: Option<String>,

    /// Slack incoming webhook URL (used when no bot token and channel are given).
    #[arg(long, env = "PODMEDIC_SLACK_WEBHOOK_URL", hide_env_values = true)]
    pub slack_webhook_url: Option<Secret>,

    /// File holding the Slack incoming webhook URL.
    #[arg(long, env = "PODMEDIC_SLACK_WEBHOOK_URL_FILE", conflicts_with = "slack_webhook_url")]
    pub slack_webhook_url_file: Option<PathBuf>,

    /// Slack Web API base URL.
    #[arg(long, env = "PODMEDIC_SLACK_API_URL", default_value = DEFAULT_SLACK_API_URL)]
    pub slack_api_url: String,

    /// Who may decide via Slack: `ns=U1,S2;*=U3` (user ids, user-group ids; `*` = all namespaces).
    #[arg(long, env = "PODMEDIC_SLACK_APPROVERS", default_value = "")]
    pub slack_approvers: String,

    /// Slack user id → Kubernetes user: `U1=alice,U2=bob@example.com`.
    #[arg(long, env = "PODMEDIC_SLACK_USERS", default_value = "")]
    pub slack_users: String,

    /// Generic webhook URL that receives a JSON document per announcement.
    #[arg(long, env = "PODMEDIC_WEBHOOK_URL", hide_env_values = true)]
    pub webhook_url: Option<Secret>,

    /// File holding the generic webhook URL.
    #[arg(long, env = "PODMEDIC_WEBHOOK_URL_FILE", conflicts_with = "webhook_url")]
    pub webhook_url_file: Option<PathBuf>,

    /// Secret that signs outbound webhook requests and authenticates `POST /chatops/webhook/decision`.
    #[arg(long, env = "PODMEDIC_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,

    /// File holding the webhook secret.
    #[arg(long, env = "PODMEDIC_WEBHOOK_SECRET_FILE", conflicts_with = "webhook_secret")]
    pub webhook_secret_file: Option<PathBuf>,

    /// Who may decide via the webhook: `ns=alice,bob;*=carol`.
    #[arg(long, env = "PODMEDIC_WEBHOOK_APPROVERS", default_value = "")]
    pub webhook_approvers: String,

    /// YAML/JSON file with approvers and the Slack user mapping (merged with the flags).
    #[arg(long, env = "PODMEDIC_CHATOPS_APPROVERS_FILE")]
    pub chatops_approvers_file: Option<PathBuf>,

    /// Also require that the mapped Kubernetes user may `patch recoveryproposals` (SubjectAccessReview).
    #[arg(long, env = "PODMEDIC_CHATOPS_SUBJECT_ACCESS_REVIEW", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub chatops_subject_access_review: bool,

    /// Notifications waiting at most; more are dropped (and counted).
    #[arg(long, env = "PODMEDIC_CHATOPS_QUEUE", default_value_t = 256)]
    pub chatops_queue: usize,

    /// Attempts per notification, first try included.
    #[arg(long, env = "PODMEDIC_CHATOPS_MAX_ATTEMPTS", default_value_t = 5)]
    pub chatops_max_attempts: u32,

    /// Wait before the first retry; doubles with each retry.
    #[arg(long, env = "PODMEDIC_CHATOPS_RETRY_BASE", default_value = "1s", value_parser = parse_duration)]
    pub chatops_retry_base: Duration,
}

/// Validated ChatOps settings.
#[derive(Debug, Clone, Default)]
pub struct ChatOpsSettings {
    /// Outbound announcements.
    pub notifier: NotifierSettings,
    /// Inbound decisions.
    pub inbound: InboundSettings,
}

/// ChatOps configuration or start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum ChatOpsError {
    /// A secret file could not be used.
    #[error(transparent)]
    SecretFile(#[from] secret::SecretFileError),
    /// An approvers list or user mapping is invalid.
    #[error("{flag}: {source}")]
    Policy {
        /// The flag or file.
        flag: String,
        /// What is wrong.
        #[source]
        source: PolicyError,
    },
    /// The approvers file cannot be read.
    #[error("cannot read approvers file {path}")]
    ReadApprovers {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The approvers file is not valid.
    #[error("{path}:{source}")]
    ApproversFile {
        /// The file.
        path: String,
        /// Where and what.
        #[source]
        source: crate::yaml::YamlError,
    },
    /// Flags that do not work together.
    #[error("{0}")]
    Inconsistent(String),
    /// The outbound HTTP client could not be built.
    #[error(transparent)]
    Outbound(#[from] outbound::OutboundError),
}

fn secret(value: &Option<Secret>, file: &Option<PathBuf>) -> Result<Option<Secret>, ChatOpsError> {
    Ok(match (value, file) {
        (Some(v), _) if !v.is_empty() => Some(v.clone()),
        (_, Some(path)) => Some(Secret::from_file(path)?),
        _ => None,
    })
}

impl ChatOpsConfig {
    /// Reads secret files and the approvers file, parses the lists and
    /// checks that the flags make sense together. Every problem is an
    /// error at start-up, not a surprise at the first click.
    pub fn settings(&self) -> Result<ChatOpsSettings, ChatOpsError> {
        let signing_secret = secret(&self.slack_signing_secret, &self.slack_signing_secret_file)?;
        let bot_token = secret(&self.slack_bot_token, &self.slack_bot_token_file)?;
        let slack_webhook = secret(&self.slack_webhook_url, &self.slack_webhook_url_file)?;
        let webhook_url = secret(&self.webhook_url, &self.webhook_url_file)?;
        let webhook_secret = secret(&self.webhook_secret, &self.webhook_secret_file)?;
        let policy = |flag: &str| {
            let flag = flag.to_owned();
            move |source| ChatOpsError::Policy { flag, source }
        };
        let mut slack_approvers = Approvers::parse(&self.slack_approvers).map_err(policy("--slack-approvers"))?;
        let mut webhook_approvers = Approvers::parse(&self.webhook_approvers).map_err(policy("--webhook-approvers"))?;
        let mut identities = policy::parse_identities(&self.slack_users).map_err(policy("--slack-users"))?;
        if let Some(path) = &self.chatops_approvers_file {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|source| ChatOpsError::ReadApprovers { path: shown.clone(), source })?;
            let file = ApproversFile::parse(&text)
                .map_err(|source| ChatOpsError::ApproversFile { path: shown.clone(), source })?;
            let (s, w) = file.approvers().map_err(policy(&shown))?;
            slack_approvers.merge(s);
            webhook_approvers.merge(w);
            identities.extend(file.identities().map_err(policy(&shown))?);
        }
        let slack_users: BTreeMap<String, String> =
            identities.iter().map(|(k, v)| (k.clone(), v.user.clone())).collect();
        let slack_groups: BTreeMap<String, Vec<String>> =
            identities.into_iter().filter(|(_, v)| !v.groups.is_empty()).map(|(k, v)| (k, v.groups)).collect();

        let inconsistent = |m: &str| Err(ChatOpsError::Inconsistent(m.to_owned()));
        if signing_secret.is_some() && slack_approvers.is_empty() {
            return inconsistent(
                "a Slack signing secret is set but nobody may approve: set --slack-approvers or --chatops-approvers-file",
            );
        }
        if signing_secret.is_none() && !slack_approvers.is_empty() {
            return inconsistent(
                "Slack approvers are listed but no Slack signing secret is set (--slack-signing-secret-file)",
            );
        }
        if !webhook_approvers.is_empty() && webhook_secret.is_none() {
            return inconsistent("webhook approvers are listed but no webhook secret is set (--webhook-secret-file)");
        }
        if self.slack_channel.is_some() && bot_token.is_none() {
            return inconsistent("--slack-channel needs a bot token (--slack-bot-token-file)");
        }
        let wildcards = slack_approvers.wildcard_namespaces();
        if !wildcards.is_empty() && !self.chatops_subject_access_review {
            return Err(ChatOpsError::Inconsistent(format!(
                "the Slack approvers list `*` as a principal (in namespace {}): every member of the Slack workspace, \
                 guests included, could approve. List Slack user and user-group ids instead, or turn on \
                 --chatops-subject-access-review (with --slack-users) so that Kubernetes RBAC decides",
                wildcards.join(", ")
            )));
        }
        if self.chatops_subject_access_review && slack_users.is_empty() {
            return inconsistent(
                "--chatops-subject-access-review needs Slack users mapped to Kubernetes users (--slack-users)",
            );
        }
        let api_url = self.slack_api_url.trim_end_matches('/').to_owned();
        let slack = match (&bot_token, &self.slack_channel, &slack_webhook) {
            (Some(token), Some(channel), _) => {
                Some(SlackTarget::Bot { api_url: api_url.clone(), token: token.clone(), channel: channel.clone() })
            }
            (_, _, Some(url)) => Some(SlackTarget::IncomingWebhook { url: url.clone() }),
            _ => None,
        };
        let webhook = webhook_url.map(|url| WebhookTarget { url, secret: webhook_secret.clone() });
        Ok(ChatOpsSettings {
            notifier: NotifierSettings {
                slack,
                webhook,
                queue_capacity: self.chatops_queue.max(1),
                max_attempts: self.chatops_max_attempts.max(1),
                retry_base: self.chatops_retry_base,
                ..NotifierSettings::default()
            },
            inbound: InboundSettings {
                slack_signing_secret: signing_secret,
                slack_approvers,
                slack_users,
                slack_groups,
                slack_api_url: api_url,
                slack_bot_token: bot_token,
                webhook_secret,
                webhook_approvers,
                subject_access_review: self.chatops_subject_access_review,
                ..InboundSettings::default()
            },
        })
    }
}

/// Running ChatOps: the notifier for the controller and the state for the
/// HTTP routes.
#[derive(Debug, Clone)]
pub struct ChatOps {
    /// Call [`Notifier::notify`] when a proposal is created or changes phase.
    pub notifier: Notifier,
    /// Pass to [`router`].
    pub state: ChatOpsState,
}

impl ChatOps {
    /// Starts the delivery task and builds the handlers' state. Call inside
    /// a Tokio runtime.
    pub fn start(settings: ChatOpsSettings, client: kube::Client, metrics: Metrics) -> Result<Self, ChatOpsError> {
        let http = outbound::Http::new(settings.notifier.request_timeout)?;
        let notifier = Notifier::start_with(settings.notifier, http.clone(), metrics.clone());
        let state = ChatOpsState::new(settings.inbound, client, metrics, notifier.clone(), http);
        Ok(ChatOps { notifier, state })
    }

    /// The routes; same as `router(self.state.clone())`.
    pub fn router(&self) -> axum::Router {
        router(self.state.clone())
    }
}

/// Shared fixtures for the unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::crd::{RecoveryProposal, RecoveryProposalSpec};

    /// The sample proposal of `tests/fixtures/chatops/proposal-spec.json`.
    pub fn proposal(namespace: &str, name: &str) -> RecoveryProposal {
        let spec: RecoveryProposalSpec =
            serde_json::from_str(include_str!("../../tests/fixtures/chatops/proposal-spec.json")).unwrap();
        let mut p = RecoveryProposal::new(name, spec);
        p.metadata.namespace = Some(namespace.to_owned());
        p.metadata.uid = Some(format!("uid-{namespace}-{name}"));
        p
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        chatops: ChatOpsConfig,
    }

    fn parse(args: &[&str]) -> ChatOpsConfig {
        Cli::try_parse_from(std::iter::once("podmedic").chain(args.iter().copied())).unwrap().chatops
    }

    #[test]
    fn flags_become_settings_and_secrets_stay_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("signing");
        std::fs::write(&file, "sekrit-signing\n").unwrap();
        let cfg = parse(&[
            "--slack-signing-secret-file",
            file.to_str().unwrap(),
            "--slack-bot-token",
            "xoxb-sekrit-token",
            "--slack-channel",
            "C0001",
            "--slack-approvers",
            "team-a=U1",
            "--slack-users",
            "U1=alice",
            "--webhook-url",
            "https://relay.example/hook?token=sekrit-url",
            "--chatops-retry-base",
            "2s",
        ]);
        let settings = cfg.settings().unwrap();
        assert_eq!(settings.inbound.slack_signing_secret.as_ref().unwrap().expose(), "sekrit-signing");
        assert!(
            matches!(&settings.notifier.slack, Some(SlackTarget::Bot { channel, api_url, .. }) if channel == "C0001" && api_url == DEFAULT_SLACK_API_URL)
        );
        assert_eq!(settings.notifier.retry_base, Duration::from_secs(2));
        assert_eq!(settings.inbound.slack_users["U1"], "alice");
        let debug = format!("{cfg:?} {settings:?}");
        assert!(!debug.contains("sekrit"), "{debug}");
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn inconsistent_flags_are_refused_at_start_up() {
        let err = |args: &[&str]| parse(args).settings().unwrap_err().to_string();
        assert!(err(&["--slack-signing-secret", "s"]).contains("nobody may approve"));
        assert!(err(&["--slack-approvers", "a=U1"]).contains("no Slack signing secret"));
        assert!(err(&["--webhook-approvers", "a=alice"]).contains("no webhook secret"));
        assert!(err(&["--slack-channel", "C1"]).contains("needs a bot token"));
        assert!(
            err(&["--slack-signing-secret", "s", "--slack-approvers", "a=U1", "--chatops-subject-access-review"])
                .contains("--slack-users")
        );
        assert!(err(&["--slack-signing-secret", "s", "--slack-approvers", "A=U1"]).starts_with("--slack-approvers: "));
        assert!(err(&["--slack-signing-secret-file", "/nonexistent/podmedic"]).contains("cannot read secret file"));
        assert!(Cli::try_parse_from(["podmedic", "--slack-bot-token", "x", "--slack-bot-token-file", "/f"]).is_err());
        // A wildcard approver without the review: anyone in the workspace could approve.
        for approvers in ["*=*", "team-a=U1,*", "team-a=*"] {
            let e = err(&["--slack-signing-secret", "s", "--slack-approvers", approvers]);
            assert!(
                e.contains("every member of the Slack workspace") && e.contains("--chatops-subject-access-review"),
                "{e}"
            );
        }
        let sar = parse(&[
            "--slack-signing-secret",
            "s",
            "--slack-approvers",
            "*=*",
            "--chatops-subject-access-review",
            "--slack-users",
            "U1=alice|sre-oncall,U2=bob",
        ])
        .settings()
        .unwrap()
        .inbound;
        assert_eq!(sar.slack_users["U1"], "alice");
        assert_eq!(sar.slack_groups["U1"], ["sre-oncall"]);
        assert!(!sar.slack_groups.contains_key("U2"));
        // Nothing configured is valid: ChatOps is simply off.
        let off = parse(&[]).settings().unwrap();
        assert!(off.notifier.slack.is_none() && off.notifier.webhook.is_none());
        assert!(off.inbound.slack_signing_secret.is_none());
    }

    #[test]
    fn approvers_file_merges_with_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("approvers.yaml");
        std::fs::write(&file, include_str!("../../tests/fixtures/chatops/approvers.yaml")).unwrap();
        let cfg = parse(&[
            "--slack-signing-secret",
            "s",
            "--slack-approvers",
            "team-b=U9",
            "--webhook-secret",
            "w",
            "--chatops-approvers-file",
            file.to_str().unwrap(),
        ]);
        let s = cfg.settings().unwrap().inbound;
        assert_eq!(s.slack_approvers.verdict("team-a", "U0123ABCD"), policy::Verdict::Allowed);
        assert_eq!(s.slack_approvers.verdict("team-b", "U9"), policy::Verdict::Allowed);
        assert_eq!(s.webhook_approvers.verdict("team-a", "alice"), policy::Verdict::Allowed);
        std::fs::write(&file, "slack:\n  approvers:\n    team-a: [U1]\n  extra: 1\n").unwrap();
        let err = cfg.settings().unwrap_err().to_string();
        assert!(err.contains("approvers.yaml:4:"), "{err}");
    }
}
