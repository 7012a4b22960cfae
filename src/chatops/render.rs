//! What podmedic says about a proposal (pure; no I/O): Slack Block Kit
//! messages and the generic webhook's JSON document, both from the
//! proposal alone.
//!
//! Slack's limits are respected by construction: section texts at most
//! [`SECTION_TEXT_LIMIT`] characters, a header at most 150, button values
//! well under 2000. User-controlled text (log lines, summaries, the plan)
//! is escaped for Slack's `mrkdwn` (`&`, `<`, `>`), so a log line cannot
//! mention `@channel` or forge a link.

use serde_json::{Value, json};

use super::payload::{ACTION_APPROVE, ACTION_REJECT, ProposalRef};
use crate::crd::{DecidedVia, Phase, RecoveryProposal};
use crate::diagnosis::Source;

/// Slack's limit on a section block's text, in characters.
pub const SECTION_TEXT_LIMIT: usize = 3000;
/// Slack's limit on a header block's text, in characters.
const HEADER_LIMIT: usize = 150;
/// Evidence lines shown.
const MAX_EVIDENCE_LINES: usize = 5;

/// The facts a message shows, read once from the proposal.
struct View<'a> {
    p: &'a RecoveryProposal,
    namespace: &'a str,
    name: &'a str,
    phase: Phase,
}

impl<'a> View<'a> {
    fn new(p: &'a RecoveryProposal) -> Self {
        View {
            p,
            namespace: p.metadata.namespace.as_deref().unwrap_or("default"),
            name: p.metadata.name.as_deref().unwrap_or_default(),
            phase: p.status.as_ref().map(|s| s.phase).unwrap_or_default(),
        }
    }

    fn target(&self) -> ProposalRef {
        ProposalRef {
            namespace: self.namespace.to_owned(),
            name: self.name.to_owned(),
            content_hash: Some(self.p.spec.content_hash.clone()).filter(|h| !h.is_empty()),
        }
    }

    fn title(&self) -> String {
        let d = &self.p.spec.diagnosis;
        format!("podmedic: {} in {}/{}", d.class.as_str(), self.namespace, self.p.spec.target.name)
    }

    fn confidence(&self) -> String {
        format!("{:.0}%", (self.p.spec.diagnosis.confidence.clamp(0.0, 1.0) * 100.0))
    }

    fn evidence(&self) -> Vec<String> {
        self.p
            .spec
            .diagnosis
            .evidence
            .iter()
            .take(MAX_EVIDENCE_LINES)
            .map(|e| format!("{:>5} | {}", e.line, e.text))
            .collect()
    }

    /// One line about the decision or state, `None` while waiting.
    fn outcome(&self) -> Option<String> {
        let status = self.p.status.as_ref()?;
        if status.phase == Phase::Proposed {
            return None;
        }
        let mut line = format!("*{}*", status.phase.as_str());
        if let Some(by) = &status.decided_by {
            line.push_str(&format!(" by {}", escape(by)));
        }
        if let Some(via) = status.decided_via {
            line.push_str(&format!(" via {}", via.as_str()));
        }
        if let Some(at) = &status.decided_at {
            line.push_str(&format!(" at {}", at.0));
        }
        if !status.message.is_empty() && status.decided_by.is_none() {
            line.push_str(&format!(": {}", escape(&status.message)));
        }
        Some(line)
    }
}

/// A Slack message (`text` fallback + `blocks`) for a proposal in its
/// current phase: buttons while it is `Proposed`, the outcome afterwards.
/// Post it with `chat.postMessage`/an incoming webhook, or send it to a
/// `response_url` with `replace_original`.
pub fn slack_message(p: &RecoveryProposal) -> Value {
    let v = View::new(p);
    let spec = &p.spec;
    let d = &spec.diagnosis;
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate_chars(&v.title(), HEADER_LIMIT)}}),
        json!({"type": "section", "text": mrkdwn(&escape(&d.summary))}),
        json!({"type": "section", "fields": [
            mrkdwn(&format!("*Workload*\n{} `{}`", escape(&spec.target.kind), escape(&spec.target.name))),
            mrkdwn(&format!("*Class*\n`{}`{}", d.class.as_str(), if d.subclass.is_empty() { String::new() } else { format!(" / {}", escape(&d.subclass)) })),
            mrkdwn(&format!("*Confidence*\n{} ({})", v.confidence(), source_str(d.source))),
            mrkdwn(&format!("*Pod*\n`{}` / `{}`", escape(&spec.pod), escape(&spec.container))),
            mrkdwn(&format!("*Phase*\n{}", v.phase.as_str())),
            mrkdwn(&format!("*Expires*\n{}", spec.expires_at.0)),
        ]}),
    ];
    let evidence = v.evidence();
    if !evidence.is_empty() {
        blocks.push(json!({"type": "section", "text": mrkdwn(&code_section("*Evidence*", &evidence.join("\n")))}));
    }
    match &spec.plan {
        Some(plan) => blocks
            .push(json!({"type": "section", "text": mrkdwn(&code_section("*Proposed change*", &plan_text(plan)))})),
        None => blocks.push(
            json!({"type": "section", "text": mrkdwn("_No automatic fix applies; this proposal only informs._")}),
        ),
    }
    if spec.dry_run {
        blocks.push(json!({"type": "context", "elements": [mrkdwn(":test_tube: dry-run: podmedic records the decision but will not execute it")]}));
    }
    match v.outcome() {
        None => blocks.push(buttons(&v)),
        Some(outcome) => {
            blocks.push(json!({"type": "section", "text": mrkdwn(&truncate_chars(&outcome, SECTION_TEXT_LIMIT))}))
        }
    }
    blocks.push(json!({"type": "context", "elements": [mrkdwn(&truncate_chars(&format!(
        "`kubectl -n {ns} get rxp {name}` · hash `{hash}`",
        ns = v.namespace, name = v.name, hash = short_hash(&spec.content_hash),
    ), SECTION_TEXT_LIMIT))]}));
    let text = match v.outcome() {
        None => format!("{}: {} ({} confidence). Approve or reject.", v.title(), d.summary, v.confidence()),
        Some(outcome) => format!("{}: {}", v.title(), outcome.replace('*', "")),
    };
    json!({"text": truncate_chars(&escape(&text), SECTION_TEXT_LIMIT), "blocks": blocks})
}

fn buttons(v: &View<'_>) -> Value {
    let value = v.target().button_value();
    let question = truncate_chars(
        &format!("Apply the proposed change to {} `{}`?", v.p.spec.target.kind, v.p.spec.target.name),
        300,
    );
    json!({"type": "actions", "block_id": "podmedic:actions", "elements": [
        {"type": "button", "action_id": ACTION_APPROVE, "style": "primary", "value": value,
         "text": {"type": "plain_text", "text": "Approve"},
         "confirm": {"title": {"type": "plain_text", "text": "Approve this fix?"}, "text": mrkdwn(&escape(&question)),
                     "confirm": {"type": "plain_text", "text": "Approve"}, "deny": {"type": "plain_text", "text": "Cancel"}}},
        {"type": "button", "action_id": ACTION_REJECT, "style": "danger", "value": value,
         "text": {"type": "plain_text", "text": "Reject"}},
    ]})
}

/// The generic webhook's JSON document for a proposal: the same content as
/// the Slack message, as data, plus a Markdown `text` (which Mattermost and
/// most relays display as is). `actions` lists the decisions that
/// `POST /chatops/webhook/decision` accepts while the proposal is open.
pub fn webhook_message(p: &RecoveryProposal) -> Value {
    let v = View::new(p);
    let spec = &p.spec;
    let d = &spec.diagnosis;
    let status = p.status.as_ref();
    let mut text = format!(
        "**{}**\n{}\n\nconfidence {} ({}), phase {}",
        v.title(),
        d.summary,
        v.confidence(),
        source_str(d.source),
        v.phase.as_str()
    );
    if let Some(plan) = &spec.plan {
        text.push_str(&format!("\n\n```\n{}\n```", truncate_chars(&plan_text(plan), SECTION_TEXT_LIMIT)));
    }
    if let Some(outcome) = v.outcome() {
        text.push_str(&format!("\n\n{}", outcome.replace('*', "**")));
    }
    let actions: Vec<Value> = if v.phase == Phase::Proposed {
        ["approve", "reject"]
            .iter()
            .map(|d| json!({"decision": d, "namespace": v.namespace, "name": v.name, "contentHash": spec.content_hash}))
            .collect()
    } else {
        Vec::new()
    };
    json!({
        "source": "podmedic",
        "kind": "RecoveryProposal",
        "namespace": v.namespace,
        "name": v.name,
        "uid": p.metadata.uid,
        "phase": v.phase.as_str(),
        "contentHash": spec.content_hash,
        "dryRun": spec.dry_run,
        "expiresAt": spec.expires_at,
        "target": {"kind": spec.target.kind, "name": spec.target.name},
        "pod": spec.pod,
        "container": spec.container,
        "node": spec.node,
        "diagnosis": {
            "class": d.class.as_str(),
            "subclass": d.subclass,
            "confidence": d.confidence,
            "source": source_str(d.source),
            "summary": d.summary,
            "evidence": d.evidence.iter().take(MAX_EVIDENCE_LINES).collect::<Vec<_>>(),
        },
        "plan": spec.plan,
        "planText": spec.plan.as_ref().map(|p| truncate_chars(&plan_text(p), SECTION_TEXT_LIMIT)),
        "decision": status.filter(|s| s.decided_by.is_some()).map(|s| json!({
            "by": s.decided_by, "via": s.decided_via.map(DecidedVia::as_str), "at": s.decided_at,
        })),
        "actions": actions,
        "text": text,
    })
}

/// A plan as text: each step's `diff` under `# id (action)`, or the step's
/// description when it changes no workload field.
pub fn plan_text(plan: &crate::playbook::Plan) -> String {
    let mut out = Vec::new();
    for step in &plan.steps {
        let head = format!("# {} ({})", step.id, step.action.kind());
        match &step.diff {
            Some(diff) => out.push(format!("{head}\n{}", diff.trim_end())),
            None => out.push(format!("{head}\n{}", step.description)),
        }
    }
    out.join("\n")
}

/// `title` then `body` in a code block, cut so the whole stays within
/// [`SECTION_TEXT_LIMIT`] characters (and escaped for mrkdwn).
fn code_section(title: &str, body: &str) -> String {
    // Fences cannot be closed early by the body: a ``` inside is broken up.
    let body = escape(&body.replace("```", "`\u{200b}``"));
    let room = SECTION_TEXT_LIMIT - title.chars().count() - "\n```\n\n```".len();
    format!("{title}\n```\n{}\n```", truncate_chars(&body, room))
}

fn mrkdwn(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

/// Escapes the three characters Slack's mrkdwn gives meaning to.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `s` cut to at most `max` characters, ending in `…` when cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn short_hash(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

fn source_str(s: Source) -> &'static str {
    match s {
        Source::Signature => "signature",
        Source::Model => "model",
        Source::Both => "signature+model",
        Source::None => "none",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::chatops::testing::proposal;
    use crate::crd::RecoveryProposalStatus;

    fn texts(v: &Value) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let (Some(Value::String(t)), Some(Value::String(kind))) = (m.get("text"), m.get("type"))
                        && (kind == "mrkdwn" || kind == "plain_text")
                    {
                        out.push(t.clone());
                    }
                    m.values().for_each(|v| walk(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        walk(v, &mut out);
        out
    }

    #[test]
    fn proposed_message_has_summary_evidence_diff_and_buttons() {
        let p = proposal("team-a", "rxp-1");
        let msg = slack_message(&p);
        let blocks = msg["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["text"], "podmedic: kv-cache-oom in team-a/vllm");
        let all = texts(&msg).join("\n");
        assert!(all.contains("only 20144 fit"), "{all}");
        assert!(all.contains("   9 | ValueError"), "{all}");
        assert!(all.contains("-        - \"32768\""), "{all}");
        assert!(all.contains("# set-max-model-len (set-arg)"), "{all}");
        assert!(all.contains("97%"), "{all}");
        let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
        let ids: Vec<&str> =
            actions["elements"].as_array().unwrap().iter().map(|e| e["action_id"].as_str().unwrap()).collect();
        assert_eq!(ids, [ACTION_APPROVE, ACTION_REJECT]);
        assert_eq!(actions["elements"][0]["value"], "team-a/rxp-1/9c1e5d");
        assert!(msg["text"].as_str().unwrap().contains("Approve or reject"));
    }

    #[test]
    fn decided_message_shows_the_outcome_without_buttons() {
        let mut p = proposal("team-a", "rxp-1");
        p.status = Some(RecoveryProposalStatus {
            phase: Phase::Rejected,
            decided_by: Some("slack:U1".into()),
            decided_via: Some(DecidedVia::Slack),
            ..Default::default()
        });
        let msg = slack_message(&p);
        assert!(!msg["blocks"].as_array().unwrap().iter().any(|b| b["type"] == "actions"));
        assert!(texts(&msg).iter().any(|t| t.starts_with("*Rejected* by slack:U1 via slack")), "{msg:#}");
        let hook = webhook_message(&p);
        assert_eq!(hook["phase"], "Rejected");
        assert_eq!(hook["actions"].as_array().unwrap().len(), 0);
        assert_eq!(hook["decision"]["by"], "slack:U1");
    }

    #[test]
    fn long_and_hostile_text_stays_within_slacks_limits() {
        let mut p = proposal("team-a", "rxp-1");
        p.spec.diagnosis.summary = "<!channel> & <https://evil|click>".into();
        if let Some(plan) = p.spec.plan.as_mut() {
            plan.steps[0].diff = Some("x```y\n".repeat(2000));
        }
        let msg = slack_message(&p);
        for t in texts(&msg) {
            assert!(t.chars().count() <= SECTION_TEXT_LIMIT, "{} chars", t.chars().count());
            assert!(!t.contains("<!channel>") && !t.contains("<https://evil"), "{t}");
        }
        let plan = texts(&msg).into_iter().find(|t| t.starts_with("*Proposed change*")).unwrap();
        assert!(plan.ends_with("…\n```"), "{}", &plan[plan.len() - 20..]);
        assert_eq!(plan.matches("```").count(), 2, "fences are not closed early");
    }

    #[test]
    fn webhook_message_carries_the_same_content() {
        let p = proposal("team-a", "rxp-1");
        let hook = webhook_message(&p);
        assert_eq!(hook["namespace"], "team-a");
        assert_eq!(hook["diagnosis"]["class"], "kv-cache-oom");
        assert_eq!(hook["diagnosis"]["evidence"][0]["line"], 9);
        assert!(hook["planText"].as_str().unwrap().contains("+        - \"20144\""), "{}", hook["planText"]);
        assert_eq!(
            hook["actions"][0],
            json!({"decision": "approve", "namespace": "team-a", "name": "rxp-1", "contentHash": "9c1e5d"})
        );
        assert!(hook["text"].as_str().unwrap().starts_with("**podmedic: kv-cache-oom in team-a/vllm**"));
    }
}
