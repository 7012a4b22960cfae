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
//!
//! A wildcard principal in the Slack list (`*=*`, `team-a=*`) lets every
//! member of the workspace approve, guests included: podmedic refuses to
//! start with one unless the SubjectAccessReview check is on, so that
//! Kubernetes RBAC decides ([`Approvers::wildcard_namespaces`]).
//!
//! Slack users map to Kubernetes identities ([`parse_identities`]):
//! `U01=alice@example.com` records `alice@example.com` as `decidedBy`;
//! `U01=alice@example.com|sre-oncall|platform` also names the Kubernetes
//! groups the user belongs to (after the user, separated by `|`), which the
//! SubjectAccessReview sends, so a RoleBinding to a Group decides.

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

    /// The namespaces (or `*`) whose list holds the wildcard principal `*`,
    /// which allows anyone who can send a correctly signed request.
    pub fn wildcard_namespaces(&self) -> Vec<&str> {
        self.by_namespace.iter().filter(|(_, set)| set.contains("*")).map(|(ns, _)| ns.as_str()).collect()
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

/// The Kubernetes identity a Slack user maps to: recorded as `decidedBy`
/// and checked by the SubjectAccessReview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The Kubernetes user name.
    pub user: String,
    /// The Kubernetes groups the user belongs to (sent with the review, so
    /// RoleBindings to a Group count).
    pub groups: Vec<String>,
}

impl Identity {
    /// Reads `user` or `user|group|group`.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let mut parts = text.split('|').map(str::trim);
        let user = parts.next().unwrap_or_default();
        let groups: Vec<String> = parts.map(str::to_owned).collect();
        Self::new(user, groups)
    }

    /// A checked identity: a user name and group names that are non-empty,
    /// at most 256 bytes and free of control characters and `|`.
    pub fn new(user: &str, groups: Vec<String>) -> Result<Self, &'static str> {
        let ok = |s: &str| !s.is_empty() && s.len() <= 256 && !s.chars().any(|c| c.is_control() || c == '|');
        if !ok(user) {
            return Err("expected `SLACKID=kubernetes-user` or `SLACKID=kubernetes-user|group|...`");
        }
        if groups.len() > 32 || !groups.iter().all(|g| ok(g)) {
            return Err("groups are `|`-separated names (at most 32), non-empty, at most 256 bytes each");
        }
        Ok(Identity { user: user.trim().to_owned(), groups })
    }
}

/// Parses `U1=alice,U2=bob@example.com|sre-oncall`: Slack user id →
/// Kubernetes user, optionally followed by its groups (`|`-separated).
pub fn parse_identities(text: &str) -> Result<BTreeMap<String, Identity>, PolicyError> {
    let mut map = BTreeMap::new();
    for part in text.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()) {
        let err = |reason| PolicyError { entry: crate::util::truncate(part, 80).into_owned(), reason };
        let (slack, user) = part.split_once('=').ok_or_else(|| err("expected `SLACKID=kubernetes-user`"))?;
        let slack = slack.trim();
        if slack.is_empty() {
            return Err(err("expected `SLACKID=kubernetes-user`"));
        }
        map.insert(slack.to_owned(), Identity::parse(user).map_err(err)?);
    }
    Ok(map)
}

/// Parses `U1=alice,U2=bob@example.com`: Slack user id → Kubernetes user
/// name (the groups of [`parse_identities`] dropped).
pub fn parse_user_map(text: &str) -> Result<BTreeMap<String, String>, PolicyError> {
    Ok(parse_identities(text)?.into_iter().map(|(k, v)| (k, v.user)).collect())
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
///     U0999ZZZZ: {user: bob@example.com, groups: [sre-oncall]}   # or "bob@example.com|sre-oncall"
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
    /// Slack user id → Kubernetes user name (`user|group|...`), or
    /// `{user, groups}`.
    #[serde(default)]
    pub users: BTreeMap<String, UserSpec>,
}

/// A Slack user's Kubernetes identity in the approvers file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum UserSpec {
    /// `alice@example.com`, or `alice@example.com|group|...`.
    Name(String),
    /// `{user: alice@example.com, groups: [sre-oncall]}`.
    Full {
        /// The Kubernetes user name.
        user: String,
        /// Its Kubernetes groups.
        #[serde(default)]
        groups: Vec<String>,
    },
}

impl UserSpec {
    /// The checked identity.
    pub fn identity(&self) -> Result<Identity, &'static str> {
        match self {
            UserSpec::Name(text) => Identity::parse(text),
            UserSpec::Full { user, groups } => Identity::new(user, groups.clone()),
        }
    }
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

    /// The Slack user mapping, checked.
    pub fn identities(&self) -> Result<BTreeMap<String, Identity>, PolicyError> {
        let mut out = BTreeMap::new();
        for (slack, spec) in &self.slack.users {
            let identity = spec
                .identity()
                .map_err(|reason| PolicyError { entry: crate::util::truncate(slack, 80).into_owned(), reason })?;
            out.insert(slack.clone(), identity);
        }
        Ok(out)
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
        assert_eq!(file.identities().unwrap()["U0123ABCD"].user, "alice@example.com");
        assert_eq!(webhook.verdict("team-a", "alice"), Verdict::Allowed);
        let err = ApproversFile::parse("slack:\n  approver: {}\n").unwrap_err();
        assert!(err.message.contains("approver"), "{err}");
    }

    #[test]
    fn wildcards_are_found_wherever_they_are_listed() {
        assert!(Approvers::parse("team-a=U1;*=U2").unwrap().wildcard_namespaces().is_empty());
        assert_eq!(Approvers::parse("*=*").unwrap().wildcard_namespaces(), ["*"]);
        assert_eq!(Approvers::parse("team-a=U1, * ;team-b=U3").unwrap().wildcard_namespaces(), ["team-a"]);
    }

    #[test]
    fn identities_carry_groups() {
        let m =
            parse_identities("U1=alice, U2=bob@example.com|sre-oncall|oidc:platform ;U3=system:serviceaccount:ns:sa")
                .unwrap();
        assert_eq!(m["U1"], Identity { user: "alice".into(), groups: vec![] });
        assert_eq!(m["U2"].groups, ["sre-oncall", "oidc:platform"]);
        assert_eq!(m["U3"].user, "system:serviceaccount:ns:sa");
        assert_eq!(parse_user_map("U2=bob|sre").unwrap()["U2"], "bob");
        assert!(parse_identities("U1=alice|").is_err(), "empty group");
        assert!(parse_identities("U1=|sre").is_err(), "no user");
        assert!(parse_identities("U1=al\u{7}ice").is_err());
        let file = ApproversFile::parse(
            "slack:\n  users:\n    U1: {user: carol, groups: [sre, ops]}\n    U2: dave|sre\n    U3: erin\n",
        )
        .unwrap();
        let ids = file.identities().unwrap();
        assert_eq!(ids["U1"], Identity { user: "carol".into(), groups: vec!["sre".into(), "ops".into()] });
        assert_eq!(ids["U2"], Identity { user: "dave".into(), groups: vec!["sre".into()] });
        assert_eq!(ids["U3"].groups.len(), 0);
    }

    #[test]
    fn slack_groups_are_s_ids() {
        assert!(is_slack_group("S0456EFGH"));
        assert!(!is_slack_group("U0123"));
        assert!(!is_slack_group("S"));
        assert!(!is_slack_group("*"));
    }
}
