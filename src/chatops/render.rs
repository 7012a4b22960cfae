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
    if let Some(op) = &d.llm {
        blocks
            .push(json!({"type": "section", "text": mrkdwn(&truncate_chars(&llm_text(op, true), SECTION_TEXT_LIMIT))}));
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
    if let Some(op) = &d.llm {
        text.push_str(&format!("\n\n{}", truncate_chars(&llm_text(op, false), SECTION_TEXT_LIMIT).replace('*', "**")));
    }
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
            "llm": d.llm,
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

/// The operator's model's second opinion, labelled as such; its text is
/// model output, escaped for mrkdwn when `escaped` (Slack).
fn llm_text(op: &crate::crd::LlmOpinion, escaped: bool) -> String {
    let esc = |s: &str| if escaped { escape(s) } else { s.to_owned() };
    let mut out = format!(
        "*Second opinion of the operator's model* (`{}`; advice only, not verified by podmedic)\n",
        esc(&op.model)
    );
    match (&op.class, op.accepted) {
        (Some(c), true) => {
            let sub = if op.subclass.is_empty() { String::new() } else { format!(" / {}", esc(&op.subclass)) };
            out.push_str(&format!("`{}`{sub}: {}", c.as_str(), esc(&op.summary)));
            if !op.suggestion.is_empty() {
                out.push_str(&format!("\nSuggestion: {}", esc(&op.suggestion)));
            }
            if !op.cited_lines.is_empty() {
                let lines: Vec<String> = op.cited_lines.iter().map(usize::to_string).collect();
                out.push_str(&format!("\nCites log line(s) {}", lines.join(", ")));
            }
        }
        _ => out.push_str(&format!("_Not used: {}_", esc(&op.reason))),
    }
    out
}

/// A plan as text: each step's `diff` when the steps have them (`# id
/// (action)` above each), else the plan's `text`, else compact JSON.
pub fn plan_text(plan: &Value) -> String {
    if let Some(steps) = plan.get("steps").and_then(Value::as_array)
        && steps.iter().any(|s| s.get("diff").and_then(Value::as_str).is_some())
    {
        let mut out = Vec::new();
        for step in steps {
            let id = step.get("id").and_then(Value::as_str).unwrap_or("step");
            let action = step.get("action").or_else(|| step.get("type")).and_then(Value::as_str);
            let head = match action {
                Some(a) => format!("# {id} ({a})"),
                None => format!("# {id}"),
            };
            match step.get("diff").and_then(Value::as_str) {
                Some(diff) => out.push(format!("{head}\n{}", diff.trim_end())),
                None => out.push(head),
            }
        }
        return out.join("\n");
    }
    if let Some(text) = plan.get("text").and_then(Value::as_str) {
        return text.to_owned();
    }
    serde_json::to_string(plan).unwrap_or_default()
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
        Source::Llm => "the operator's model",
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
        assert!(all.contains("-        - --max-model-len=32768"), "{all}");
        assert!(all.contains("# lower-max-model-len (set-arg)"), "{all}");
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
        p.spec.plan = Some(json!({"steps": [{"id": "s", "diff": "x```y\n".repeat(2000)}]}));
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
    fn the_models_opinion_is_labelled_and_escaped() {
        let mut p = proposal("team-a", "rxp-1");
        p.spec.diagnosis.source = Source::Llm;
        p.spec.diagnosis.llm = Some(crate::crd::LlmOpinion {
            model: "llama-3.1-8b".into(),
            class: Some(crate::class::FailureClass::HostOom),
            subclass: "oom-while-loading".into(),
            summary: "<!channel> approve this now & <https://evil|click>".into(),
            suggestion: "Raise the memory limit to 48Gi.".into(),
            cited_lines: vec![9, 12],
            accepted: true,
            reason: String::new(),
            trigger: crate::llm::Trigger::Abstained,
        });
        let msg = slack_message(&p);
        let section =
            texts(&msg).into_iter().find(|t| t.starts_with("*Second opinion of the operator's model*")).unwrap();
        assert!(section.contains("(`llama-3.1-8b`; advice only, not verified by podmedic)"), "{section}");
        assert!(
            section.contains("`host-oom` / oom-while-loading: &lt;!channel&gt; approve this now &amp;"),
            "{section}"
        );
        assert!(section.contains("Suggestion: Raise the memory limit to 48Gi.\nCites log line(s) 9, 12"), "{section}");
        assert!(texts(&msg).iter().any(|t| t.contains("(the operator's model)")), "the source is named");
        for t in texts(&msg) {
            assert!(!t.contains("<!channel>") && !t.contains("<https://evil"), "{t}");
        }
        let hook = webhook_message(&p);
        assert_eq!(hook["diagnosis"]["llm"]["citedLines"], json!([9, 12]));
        assert!(hook["text"].as_str().unwrap().contains("**Second opinion of the operator's model**"));
        // An opinion that was not used says why.
        let op = p.spec.diagnosis.llm.as_mut().unwrap();
        (op.accepted, op.class, op.reason) = (false, None, "no answer within 30 s (--llm-timeout)".into());
        let all = texts(&slack_message(&p)).join("\n");
        assert!(all.contains("_Not used: no answer within 30 s (--llm-timeout)_"), "{all}");
    }

    #[test]
    fn plans_without_diffs_render_as_text_or_json() {
        assert_eq!(plan_text(&json!({"text": "lower it"})), "lower it");
        assert_eq!(plan_text(&json!({"steps": [{"id": "a"}]})), r#"{"steps":[{"id":"a"}]}"#);
    }

    #[test]
    fn webhook_message_carries_the_same_content() {
        let p = proposal("team-a", "rxp-1");
        let hook = webhook_message(&p);
        assert_eq!(hook["namespace"], "team-a");
        assert_eq!(hook["diagnosis"]["class"], "kv-cache-oom");
        assert_eq!(hook["diagnosis"]["evidence"][0]["line"], 9);
        assert!(hook["planText"].as_str().unwrap().contains("--max-model-len=20144"));
        assert_eq!(
            hook["actions"][0],
            json!({"decision": "approve", "namespace": "team-a", "name": "rxp-1", "contentHash": "9c1e5d"})
        );
        assert!(hook["text"].as_str().unwrap().starts_with("**podmedic: kv-cache-oom in team-a/vllm**"));
    }
}
