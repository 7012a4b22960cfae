//! Who may decide proposals in which namespace (pure; no I/O).
//!
//! An [`Approvers`] list maps a namespace (or `*`, every namespace) to the
//! principals allowed to decide there. For Slack a principal is a user id
//! (`U…`/`W…`) or a user-group id (`S…`, membership is looked up through
//! Slack's `usergroups.users.list`); for the generic webhook it is the
//! `user` the signed request names. The principal `*` allows anyone who
//! can send a correctly signed request; use it only together with the
//! SubjectAccessReview check or a trusted relay.
//!
//! Inline syntax (`--slack-approvers`, `--webhook-approvers`):
//! `team-a=U01,S02;team-b=U03;*=U04` — `;` between namespaces, `,`
//! between principals. The file form (`--chatops-approvers-file`) is
//! described in [`ApproversFile`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// Namespace → allowed principals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Approvers {
    by_namespace: BTreeMap<String, BTreeSet<String>>,
}

/// What the allowlist says about a principal in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Listed for this namespace (or for `*`).
    Allowed,
    /// Listed, but for other namespaces only.
    NotAllowed,
    /// Not listed anywhere.
    Unknown,
}

/// An allowlist entry that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid approvers entry {entry:?}: {reason}")]
pub struct PolicyError {
    /// The offending text (cut to a readable length).
    pub entry: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Approvers {
    /// Parses the inline syntax `ns1=U1,U2;*=U3`. Empty text is an empty list.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let mut approvers = Approvers::default();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let err = |reason| PolicyError { entry: crate::util::truncate(part, 80).into_owned(), reason };
            let (ns, principals) = part.split_once('=').ok_or_else(|| err("expected `namespace=principal,...`"))?;
            let principals: Vec<&str> = principals.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
            if principals.is_empty() {
                return Err(err("no principals after `=`"));
            }
            approvers.add(ns.trim(), principals)?;
        }
        Ok(approvers)
    }

    /// Adds principals for a namespace (`*` for all).
    pub fn add<'a>(
        &mut self,
        namespace: &str,
        principals: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), PolicyError> {
        let err = |entry: &str, reason| PolicyError { entry: crate::util::truncate(entry, 80).into_owned(), reason };
        if namespace != "*" && !super::payload::is_dns_label(namespace) {
            return Err(err(namespace, "namespace must be a DNS label or `*`"));
        }
        let set = self.by_namespace.entry(namespace.to_owned()).or_default();
        for p in principals {
            if p.is_empty() || p.len() > 256 || p.chars().any(|c| c.is_whitespace() || c.is_control() || c == ';') {
                return Err(err(p, "principals are non-empty, at most 256 bytes, without whitespace"));
            }
            set.insert(p.to_owned());
        }
        Ok(())
    }

    /// Merges another list into this one.
    pub fn merge(&mut self, other: Approvers) {
        for (ns, set) in other.by_namespace {
            self.by_namespace.entry(ns).or_default().extend(set);
        }
    }

    /// Whether nothing is listed (then nobody may decide through this channel).
    pub fn is_empty(&self) -> bool {
        self.by_namespace.values().all(BTreeSet::is_empty)
    }

    /// Principals allowed in `namespace`: its own and those of `*`.
    pub fn allowed_in<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a str> + 'a {
        let own = self.by_namespace.get(namespace).into_iter().flatten();
        let any = self.by_namespace.get("*").into_iter().flatten();
        own.chain(any).map(String::as_str)
    }

    /// The verdict for `principal` in `namespace`, on direct listing only
    /// (group membership is resolved by the caller, see [`Approvers::groups_in`]).
    pub fn verdict(&self, namespace: &str, principal: &str) -> Verdict {
        if self.allowed_in(namespace).any(|p| p == principal || p == "*") {
            Verdict::Allowed
        } else if self.by_namespace.values().any(|set| set.contains(principal)) {
            Verdict::NotAllowed
        } else {
            Verdict::Unknown
        }
    }

    /// The Slack user-group ids (`S…`) allowed in `namespace`.
    pub fn groups_in<'a>(&'a self, namespace: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.allowed_in(namespace).filter(|p| is_slack_group(p))
    }
}

/// Whether a Slack principal is a user-group id (`S…`) rather than a user.
pub fn is_slack_group(principal: &str) -> bool {
    principal.starts_with('S') && principal.len() > 1 && principal.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Parses `U1=alice,U2=bob@example.com`: Slack user id → Kubernetes user name.
pub fn parse_user_map(text: &str) -> Result<BTreeMap<String, String>, PolicyError> {
    let mut map = BTreeMap::new();
    for part in text.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
        let err = |reason| PolicyError { entry: crate::util::truncate(part, 80).into_owned(), reason };
        let (slack, user) = part.split_once('=').ok_or_else(|| err("expected `SLACKID=kubernetes-user`"))?;
        let (slack, user) = (slack.trim(), user.trim());
        if slack.is_empty() || user.is_empty() || user.len() > 256 || user.chars().any(char::is_control) {
            return Err(err("expected `SLACKID=kubernetes-user`"));
        }
        map.insert(slack.to_owned(), user.to_owned());
    }
    Ok(map)
}

/// The approvers file (`--chatops-approvers-file`), YAML or JSON:
///
/// ```yaml
/// slack:
///   approvers:          # namespace (or "*") -> Slack user ids and user-group ids
///     team-a: [U0123ABCD, S0456EFGH]
///     "*": [U0789IJKL]
///   users:              # Slack user id -> Kubernetes user (decidedBy, SubjectAccessReview)
///     U0123ABCD: alice@example.com
/// webhook:
///   approvers:          # namespace (or "*") -> `user` values of signed webhook requests
///     team-a: [alice]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproversFile {
    /// Slack approvers and user mapping.
    #[serde(default)]
    pub slack: SlackApproversSpec,
    /// Generic webhook approvers.
    #[serde(default)]
    pub webhook: WebhookApproversSpec,
}

/// The `slack:` section of [`ApproversFile`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackApproversSpec {
    /// Namespace → Slack user and user-group ids.
    #[serde(default)]
    pub approvers: BTreeMap<String, Vec<String>>,
    /// Slack user id → Kubernetes user name.
    #[serde(default)]
    pub users: BTreeMap<String, String>,
}

/// The `webhook:` section of [`ApproversFile`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookApproversSpec {
    /// Namespace → webhook user names.
    #[serde(default)]
    pub approvers: BTreeMap<String, Vec<String>>,
}

impl ApproversFile {
    /// Parses the file's text (YAML; JSON is accepted as YAML).
    pub fn parse(text: &str) -> Result<Self, crate::yaml::YamlError> {
        crate::yaml::from_str(text)
    }

    /// The lists as [`Approvers`]: (slack, webhook).
    pub fn approvers(&self) -> Result<(Approvers, Approvers), PolicyError> {
        let build = |spec: &BTreeMap<String, Vec<String>>| {
            let mut a = Approvers::default();
            for (ns, list) in spec {
                a.add(ns, list.iter().map(String::as_str))?;
            }
            Ok::<_, PolicyError>(a)
        };
        Ok((build(&self.slack.approvers)?, build(&self.webhook.approvers)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_lists_parse_and_decide() {
        let a = Approvers::parse("team-a=U1,U2, S9 ; *=U3;team-b=U4").unwrap();
        assert_eq!(a.verdict("team-a", "U1"), Verdict::Allowed);
        assert_eq!(a.verdict("team-b", "U3"), Verdict::Allowed, "* applies everywhere");
        assert_eq!(a.verdict("team-b", "U1"), Verdict::NotAllowed);
        assert_eq!(a.verdict("team-a", "U4"), Verdict::NotAllowed);
        assert_eq!(a.verdict("team-a", "U5"), Verdict::Unknown);
        assert_eq!(a.groups_in("team-a").collect::<Vec<_>>(), ["S9"]);
        assert_eq!(a.groups_in("team-b").count(), 0);
        assert!(Approvers::parse("").unwrap().is_empty());
        let anyone = Approvers::parse("team-a=*").unwrap();
        assert_eq!(anyone.verdict("team-a", "whoever"), Verdict::Allowed);
        assert_eq!(anyone.verdict("team-b", "whoever"), Verdict::Unknown);
    }

    #[test]
    fn bad_inline_lists_say_what_is_wrong() {
        assert_eq!(Approvers::parse("team-a").unwrap_err().reason, "expected `namespace=principal,...`");
        assert_eq!(Approvers::parse("team-a=").unwrap_err().reason, "no principals after `=`");
        assert_eq!(Approvers::parse("Team_A=U1").unwrap_err().reason, "namespace must be a DNS label or `*`");
        assert!(parse_user_map("U1").is_err());
        assert_eq!(parse_user_map("U1=alice, U2=bob@example.com").unwrap()["U2"], "bob@example.com");
    }

    #[test]
    fn approvers_file_reads_yaml_and_refuses_unknown_fields() {
        let text = include_str!("../../tests/fixtures/chatops/approvers.yaml");
        let file = ApproversFile::parse(text).unwrap();
        let (slack, webhook) = file.approvers().unwrap();
        assert_eq!(slack.verdict("team-a", "U0123ABCD"), Verdict::Allowed);
        assert_eq!(slack.groups_in("team-a").collect::<Vec<_>>(), ["S0456EFGH"]);
        assert_eq!(file.slack.users["U0123ABCD"], "alice@example.com");
        assert_eq!(webhook.verdict("team-a", "alice"), Verdict::Allowed);
        let err = ApproversFile::parse("slack:\n  approver: {}\n").unwrap_err();
        assert!(err.message.contains("approver"), "{err}");
    }

    #[test]
    fn slack_groups_are_s_ids() {
        assert!(is_slack_group("S0456EFGH"));
        assert!(!is_slack_group("U0123"));
        assert!(!is_slack_group("S"));
        assert!(!is_slack_group("*"));
    }
}
