//! Parsing inbound decisions (pure; no I/O): Slack `block_actions`
//! interaction payloads and podmedic's generic webhook decision body.
//!
//! Input is hostile until proven otherwise: the parsers take raw bytes,
//! never panic (a proptest feeds them arbitrary bytes), accept only
//! podmedic's own buttons, and validate every name they return (Kubernetes
//! names, Slack ids, user names, URLs) so nothing unchecked reaches the API
//! server, a log line or a `decidedBy` field.

use serde::Deserialize;

use crate::approval::Decision;

/// `action_id` of the Approve button.
pub const ACTION_APPROVE: &str = "podmedic:approve";
/// `action_id` of the Reject button.
pub const ACTION_REJECT: &str = "podmedic:reject";

/// The proposal a button or a webhook request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalRef {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `spec.contentHash` when the message was sent: a proposal recreated
    /// with other content under the same name is not decided by an old button.
    pub content_hash: Option<String>,
}

impl ProposalRef {
    /// The button `value`: `namespace/name/contentHash`.
    pub fn button_value(&self) -> String {
        format!("{}/{}/{}", self.namespace, self.name, self.content_hash.as_deref().unwrap_or_default())
    }

    /// Reads a button `value` written by [`ProposalRef::button_value`].
    pub fn from_button_value(value: &str) -> Result<Self, PayloadError> {
        let mut parts = value.splitn(3, '/');
        let (Some(namespace), Some(name)) = (parts.next(), parts.next()) else { return Err(PayloadError::BadTarget) };
        let hash = parts.next().filter(|h| !h.is_empty());
        Self::checked(namespace, name, hash)
    }

    fn checked(namespace: &str, name: &str, hash: Option<&str>) -> Result<Self, PayloadError> {
        if !is_dns_label(namespace) || !is_dns_subdomain(name) || !hash.is_none_or(is_content_hash) {
            return Err(PayloadError::BadTarget);
        }
        Ok(ProposalRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            content_hash: hash.map(str::to_owned),
        })
    }
}

/// A decision clicked in Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackInteraction {
    /// The clicking user's Slack id (`U…`/`W…`).
    pub user_id: String,
    /// The workspace id, when given.
    pub team_id: Option<String>,
    /// Approve or reject.
    pub decision: Decision,
    /// The proposal.
    pub target: ProposalRef,
    /// Where to post the outcome (replaces the original message), valid for 30 minutes.
    pub response_url: Option<String>,
}

/// A decision sent to the generic webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDecision {
    /// Approve or reject.
    pub decision: Decision,
    /// The proposal.
    pub target: ProposalRef,
    /// Who decided, as the signed sender says.
    pub user: String,
}

/// Why an inbound payload was not understood (all answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The Slack body has no `payload` form field.
    #[error("the form has no `payload` field")]
    NoPayload,
    /// The JSON does not have the expected shape.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// The Slack interaction is not a `block_actions` one.
    #[error("unsupported interaction type {0:?}")]
    UnsupportedType(String),
    /// No podmedic Approve/Reject action in the interaction.
    #[error("no podmedic approve/reject action in the payload")]
    NoAction,
    /// The proposal reference is not a valid namespace/name(/hash).
    #[error("invalid proposal reference: expected a namespace, a name and optionally a content hash")]
    BadTarget,
    /// The user id or name is missing or not acceptable.
    #[error("invalid or missing user")]
    BadUser,
    /// The decision is neither `approve` nor `reject`.
    #[error("invalid decision: use `approve` or `reject`")]
    BadDecision,
    /// The `response_url` is not an http(s) URL.
    #[error("invalid response_url")]
    BadResponseUrl,
}

#[derive(Deserialize)]
struct RawInteraction {
    #[serde(rename = "type")]
    kind: String,
    user: Option<RawId>,
    team: Option<RawId>,
    response_url: Option<String>,
    #[serde(default)]
    actions: Vec<RawAction>,
}

#[derive(Deserialize)]
struct RawId {
    id: String,
}

#[derive(Deserialize)]
struct RawAction {
    #[serde(default)]
    action_id: String,
    #[serde(default)]
    value: String,
}

/// Parses the raw body of a Slack interactivity request
/// (`application/x-www-form-urlencoded`, one field `payload` holding JSON).
pub fn parse_slack_interaction(body: &[u8]) -> Result<SlackInteraction, PayloadError> {
    let payload = form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or(PayloadError::NoPayload)?;
    let raw: RawInteraction = serde_json::from_str(&payload).map_err(json_error)?;
    if raw.kind != "block_actions" {
        return Err(PayloadError::UnsupportedType(crate::util::truncate(&clean(&raw.kind), 40).into_owned()));
    }
    let action = raw
        .actions
        .iter()
        .find(|a| a.action_id == ACTION_APPROVE || a.action_id == ACTION_REJECT)
        .ok_or(PayloadError::NoAction)?;
    let decision = if action.action_id == ACTION_APPROVE { Decision::Approve } else { Decision::Reject };
    let target = ProposalRef::from_button_value(&action.value)?;
    let user_id = raw.user.map(|u| u.id).filter(|id| is_slack_id(id)).ok_or(PayloadError::BadUser)?;
    let team_id = raw.team.map(|t| t.id).filter(|id| is_slack_id(id));
    let response_url = match raw.response_url {
        Some(url) if is_http_url(&url) => Some(url),
        Some(_) => return Err(PayloadError::BadResponseUrl),
        None => None,
    };
    Ok(SlackInteraction { user_id, team_id, decision, target, response_url })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWebhookDecision {
    namespace: String,
    name: String,
    decision: String,
    user: String,
    #[serde(default)]
    content_hash: Option<String>,
}

/// Parses the JSON body of `POST /chatops/webhook/decision`:
/// `{"namespace", "name", "decision": "approve"|"reject", "user", "contentHash"?}`.
pub fn parse_webhook_decision(body: &[u8]) -> Result<WebhookDecision, PayloadError> {
    let raw: RawWebhookDecision = serde_json::from_slice(body).map_err(json_error)?;
    let decision = match raw.decision.trim() {
        "approve" | "approved" => Decision::Approve,
        "reject" | "rejected" => Decision::Reject,
        _ => return Err(PayloadError::BadDecision),
    };
    let target =
        ProposalRef::checked(&raw.namespace, &raw.name, raw.content_hash.as_deref().filter(|h| !h.is_empty()))?;
    if !is_user_name(&raw.user) {
        return Err(PayloadError::BadUser);
    }
    Ok(WebhookDecision { decision, target, user: raw.user })
}

fn json_error(e: serde_json::Error) -> PayloadError {
    // serde_json's messages quote at most a short piece of the input.
    PayloadError::Json(crate::util::truncate(&clean(&e.to_string()), 160).into_owned())
}

fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A Kubernetes DNS-1123 label (namespaces): at most 63 of `a-z0-9-`,
/// starting and ending alphanumeric.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A Kubernetes DNS-1123 subdomain (object names): at most 253 bytes of
/// dot-separated labels.
pub fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_content_hash(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b":-_/+=".contains(&b))
}

/// A Slack id: 1–32 upper-case letters and digits (`U…`, `W…`, `T…`, `S…`).
pub fn is_slack_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// A user name from a webhook: 1–128 of `A-Za-z0-9._@+:-`.
pub fn is_user_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'+' | b':' | b'-'))
}

fn is_http_url(s: &str) -> bool {
    s.len() <= 2048
        && (s.starts_with("https://") || s.starts_with("http://"))
        && s.parse::<http::Uri>().is_ok_and(|u| u.host().is_some())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn form(payload: &str) -> Vec<u8> {
        form_urlencoded::Serializer::new(String::new()).append_pair("payload", payload).finish().into_bytes()
    }

    #[test]
    fn parses_slacks_block_actions_payload() {
        let json = include_str!("../../tests/fixtures/chatops/block_actions.json");
        let i = parse_slack_interaction(&form(json)).unwrap();
        assert_eq!(i.user_id, "U0123ABCD");
        assert_eq!(i.team_id.as_deref(), Some("T0001"));
        assert_eq!(i.decision, Decision::Approve);
        assert_eq!(
            i.target,
            ProposalRef {
                namespace: "team-a".into(),
                name: "vllm-kv-cache-oom-7f3a".into(),
                content_hash: Some("9c1e".into())
            }
        );
        assert_eq!(i.response_url.as_deref(), Some("https://hooks.slack.com/actions/T0001/1234/abcd"));
    }

    #[test]
    fn refuses_what_is_not_a_podmedic_button() {
        let ok = include_str!("../../tests/fixtures/chatops/block_actions.json");
        let with = |from: &str, to: &str| parse_slack_interaction(&form(&ok.replace(from, to)));
        assert_eq!(parse_slack_interaction(b"token=x"), Err(PayloadError::NoPayload));
        assert!(matches!(parse_slack_interaction(&form("{")), Err(PayloadError::Json(_))));
        assert!(matches!(with("block_actions", "view_submission"), Err(PayloadError::UnsupportedType(_))));
        assert_eq!(with("podmedic:approve", "other:approve"), Err(PayloadError::NoAction));
        assert_eq!(with("team-a/", "Team_A/"), Err(PayloadError::BadTarget));
        assert_eq!(with("team-a/vllm-kv-cache-oom-7f3a/9c1e", "team-a"), Err(PayloadError::BadTarget));
        assert_eq!(with("U0123ABCD", "u\\nforged"), Err(PayloadError::BadUser));
        assert_eq!(with("https://hooks.slack.com", "javascript:alert(1)//"), Err(PayloadError::BadResponseUrl));
        let reject = with("podmedic:approve", "podmedic:reject").unwrap();
        assert_eq!(reject.decision, Decision::Reject);
    }

    #[test]
    fn parses_webhook_decisions() {
        let d = parse_webhook_decision(
            br#"{"namespace":"team-a","name":"rxp-1","decision":"reject","user":"alice@example.com"}"#,
        )
        .unwrap();
        assert_eq!((d.decision, d.user.as_str(), d.target.content_hash), (Decision::Reject, "alice@example.com", None));
        let bad = |body: &str| parse_webhook_decision(body.as_bytes()).unwrap_err();
        assert_eq!(
            bad(r#"{"namespace":"team-a","name":"rxp-1","decision":"yes","user":"a"}"#),
            PayloadError::BadDecision
        );
        assert_eq!(
            bad(r#"{"namespace":"team-a","name":"rxp-1","decision":"approve","user":"a b"}"#),
            PayloadError::BadUser
        );
        assert_eq!(
            bad(r#"{"namespace":"../x","name":"rxp-1","decision":"approve","user":"a"}"#),
            PayloadError::BadTarget
        );
        assert!(matches!(bad(r#"{"namespace":"team-a"}"#), PayloadError::Json(_)));
    }

    #[test]
    fn button_values_round_trip() {
        let r = ProposalRef { namespace: "ns".into(), name: "a.b-c".into(), content_hash: Some("00ff".into()) };
        assert_eq!(ProposalRef::from_button_value(&r.button_value()).unwrap(), r);
        let r = ProposalRef { content_hash: None, ..r };
        assert_eq!(ProposalRef::from_button_value(&r.button_value()).unwrap(), r);
    }

    #[test]
    fn names_follow_kubernetes_rules() {
        assert!(is_dns_label("team-a") && !is_dns_label("-a") && !is_dns_label("a-") && !is_dns_label(&"a".repeat(64)));
        assert!(is_dns_subdomain("a.b-c") && !is_dns_subdomain("a..b") && !is_dns_subdomain("A"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Fuzz: arbitrary bytes never panic either parser.
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_slack_interaction(&body);
            let _ = parse_webhook_decision(&body);
        }

        /// Fuzz: arbitrary text in the `payload` field never panics, and
        /// whatever parses carries only validated names.
        #[test]
        fn arbitrary_payload_json_never_panics(payload in "\\PC{0,512}") {
            if let Ok(i) = parse_slack_interaction(&form(&payload)) {
                prop_assert!(is_slack_id(&i.user_id));
                prop_assert!(is_dns_label(&i.target.namespace));
            }
        }

        /// Fuzz: structurally plausible payloads with arbitrary field values.
        #[test]
        fn mutated_payloads_never_panic(
            kind in prop_oneof![Just("block_actions".to_owned()), "\\PC{0,20}"],
            user in "\\PC{0,40}",
            action in prop_oneof![Just(ACTION_APPROVE.to_owned()), Just(ACTION_REJECT.to_owned()), "\\PC{0,30}"],
            value in "\\PC{0,300}",
            url in "\\PC{0,100}",
        ) {
            let json = serde_json::json!({
                "type": kind, "user": {"id": user}, "response_url": url,
                "actions": [{"action_id": action, "value": value}],
            });
            if let Ok(i) = parse_slack_interaction(&form(&json.to_string())) {
                prop_assert!(is_slack_id(&i.user_id));
                prop_assert!(is_dns_subdomain(&i.target.name));
            }
        }
    }
}
