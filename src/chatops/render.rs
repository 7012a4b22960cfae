//! What podmedic says about a proposal (pure; no I/O): Slack Block Kit
//! messages and the generic webhook's JSON document, both from the
//! proposal alone.
//!
//! Slack's limits are respected by construction: section texts at most
//! [`SECTION_TEXT_LIMIT`] characters, a header at most 150, button values
//! well under 2000. Text that comes from a log (the summary, evidence
//! lines, the plan's diff) or from a person (`decidedBy`, messages) is made
//! inert for each channel by [`crate::sanitize`]: in Slack, `&<>` escaped,
//! mentions broken, formatting characters replaced by look-alikes outside
//! code, backtick runs broken inside code, and every mrkdwn object marked
//! `verbatim` (Slack then links and mentions nothing by itself); in the
//! generic webhook's Markdown `text`, punctuation backslash-escaped,
//! mentions and bare URLs broken, code fences unbreakable. So a log line
//! cannot mention `@channel`, forge a link or an image, add a fake
//! "APPROVED" line or break out of a code block.

use serde_json::{Value, json};

use super::payload::{ACTION_APPROVE, ACTION_REJECT, ProposalRef};
use crate::crd::{DecidedVia, Phase, RecoveryProposal};
use crate::diagnosis::Source;
use crate::sanitize;

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

    /// One line about the decision or state, `None` while waiting; `bold`
    /// marks the phase and `inline` makes untrusted text inert for the
    /// channel.
    fn outcome_with(&self, bold: &str, inline: fn(&str) -> String) -> Option<String> {
        let status = self.p.status.as_ref()?;
        if status.phase == Phase::Proposed {
            return None;
        }
        let mut line = format!("{bold}{}{bold}", status.phase.as_str());
        if let Some(by) = &status.decided_by {
            line.push_str(&format!(" by {}", inline(by)));
        }
        if let Some(via) = status.decided_via {
            line.push_str(&format!(" via {}", via.as_str()));
        }
        if let Some(at) = &status.decided_at {
            line.push_str(&format!(" at {}", at.0));
        }
        if !status.message.is_empty() && status.decided_by.is_none() {
            line.push_str(&format!(": {}", inline(&status.message)));
        }
        Some(line)
    }

    /// [`View::outcome_with`] for Slack mrkdwn.
    fn outcome(&self) -> Option<String> {
        self.outcome_with("*", sanitize::slack_inline)
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
        json!({"type": "section", "text": mrkdwn(&truncate_chars(&sanitize::slack_inline(&d.summary), SECTION_TEXT_LIMIT))}),
        json!({"type": "section", "fields": [
            mrkdwn(&format!("*Workload*\n{} `{}`", sanitize::slack_inline(&spec.target.kind), sanitize::slack_inline(&spec.target.name))),
            mrkdwn(&format!("*Class*\n`{}`{}", d.class.as_str(), if d.subclass.is_empty() { String::new() } else { format!(" / {}", sanitize::slack_inline(&d.subclass)) })),
            mrkdwn(&format!("*Confidence*\n{} ({})", v.confidence(), source_str(d.source))),
            mrkdwn(&format!("*Pod*\n`{}` / `{}`", sanitize::slack_inline(&spec.pod), sanitize::slack_inline(&spec.container))),
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
    // The notification text: shown in push notifications and by clients
    // without Block Kit, so it is made inert the same way.
    let text = match v.outcome() {
        None => format!(
            "{}: {} ({} confidence). Approve or reject.",
            sanitize::slack_inline(&v.title()),
            sanitize::slack_inline(&d.summary),
            v.confidence()
        ),
        Some(outcome) => format!("{}: {}", sanitize::slack_inline(&v.title()), outcome.replace('*', "")),
    };
    json!({"text": truncate_chars(&text, SECTION_TEXT_LIMIT), "blocks": blocks})
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
         "confirm": {"title": {"type": "plain_text", "text": "Approve this fix?"}, "text": mrkdwn(&sanitize::slack_inline(&question)),
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
    // Markdown: every untrusted text escaped (inline) or fenced unbreakably.
    let mut text = format!(
        "**{}**\n{}\n\nconfidence {} ({}), phase {}",
        // Class id and Kubernetes names (DNS labels): nothing to escape.
        v.title(),
        sanitize::markdown_inline(&d.summary),
        v.confidence(),
        source_str(d.source),
        v.phase.as_str()
    );
    if let Some(op) = &d.llm {
        text.push_str(&format!("\n\n{}", truncate_chars(&llm_text(op, false), SECTION_TEXT_LIMIT).replace('*', "**")));
    }
    if let Some(plan) = &spec.plan {
        let plan = sanitize::markdown_code(&truncate_chars(&plan_text(plan), SECTION_TEXT_LIMIT));
        text.push_str(&format!("\n\n```\n{plan}\n```"));
    }
    if let Some(outcome) = v.outcome_with("**", sanitize::markdown_inline) {
        text.push_str(&format!("\n\n{outcome}"));
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
    // Fences cannot be closed early by the body: no two backticks stay adjacent.
    let body = sanitize::slack_code(body);
    let room = SECTION_TEXT_LIMIT - title.chars().count() - "\n```\n\n```".len();
    format!("{title}\n```\n{}\n```", truncate_chars(&body, room))
}

/// A mrkdwn text object. `verbatim`: Slack does not turn URLs, channel
/// names or `@here` in it into links or mentions by itself.
fn mrkdwn(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": text, "verbatim": true})
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

    /// Regression (issue 11): log text went raw into the webhook's
    /// Markdown and could link, mention and forge an outcome in Slack.
    #[test]
    fn hostile_log_text_is_inert_in_slack_and_markdown() {
        let hostile = "<!channel> <http://evil.example|login> @here @channel **APPROVED by sre-oncall** *Approved* \
                       ![x](http://evil.example/i.png) [docs](http://evil.example) www.evil.example ~x~ _y_ `z` \
                       ```\n# heading\n```";
        let mut p = proposal("team-a", "rxp-1");
        p.spec.diagnosis.summary = hostile.replace('\n', " ");
        p.spec.diagnosis.evidence[0].text = hostile.into();
        if let Some(plan) = p.spec.plan.as_mut() {
            plan.steps.truncate(1);
            plan.steps[0].diff = Some(hostile.into());
        }
        p.status = Some(RecoveryProposalStatus {
            phase: Phase::Rejected,
            decided_by: Some("*mallory* <!here>".into()),
            decided_via: Some(DecidedVia::Annotation),
            ..Default::default()
        });
        let slack = slack_message(&p);
        for block in slack["blocks"].as_array().unwrap() {
            for t in texts(block) {
                for bad in ["<!channel>", "<!here>", "<http", "@here", "@channel"] {
                    assert!(!t.contains(bad), "{bad:?} in {t:?}");
                }
                let outside_code: String = t.split("```").step_by(2).collect();
                assert!(!outside_code.contains("**") && !outside_code.contains("*mallory*"), "{t:?}");
                assert_eq!(t.matches("```").count() % 2, 0, "a code block was broken out of: {t:?}");
            }
        }
        // Every mrkdwn object is verbatim: Slack links and mentions nothing by itself.
        let json = slack.to_string();
        assert_eq!(json.matches("\"type\":\"mrkdwn\"").count(), json.matches("\"verbatim\":true").count());
        assert!(!slack["text"].as_str().unwrap().contains("<!channel>"));

        let md = webhook_message(&p)["text"].as_str().unwrap().to_owned();
        let (prose, code) = {
            let parts: Vec<&str> = md.split("```").collect();
            assert_eq!(parts.len(), 3, "exactly one code block: {md}");
            (format!("{}{}", parts[0], parts[2]), parts[1].to_owned())
        };
        for bad in [
            "<!channel>",
            "](",
            "![",
            "**APPROVED",
            "*Approved*",
            "@here",
            "@channel",
            "www.evil",
            "://evil",
            "*mallory*",
        ] {
            assert!(!prose.contains(bad), "{bad:?} in {prose:?}");
        }
        assert!(prose.contains("**Rejected**"), "podmedic's own outcome stays bold: {prose}");
        assert!(!code.contains("``") && !code.contains("@here"), "{code:?}");
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
        assert!(hook["text"].as_str().unwrap().contains("only 20144 fit"));
    }
}
