//! ChatOps input: Slack interaction payloads, webhook decisions, signature
//! and timestamp headers, approver lists, user mappings, approvers files.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podmedic::chatops::{payload, policy, signing};

fuzz_target!(|data: &[u8]| {
    // Header-like values from the first bytes, the body from the rest.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (head, body) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let header = http::HeaderValue::from_bytes(head).ok();
    let value = header.as_ref().and_then(|h| h.to_str().ok());
    assert!(signing::verify_slack(b"secret", value, value, body, 0).is_err());
    assert!(signing::verify_podmedic(b"secret", value, value, body, 0).is_err());
    let good = signing::slack_signature(b"secret", "1700000000", body);
    assert!(signing::verify_slack(b"secret", Some("1700000000"), Some(&good), body, 1_700_000_000).is_ok());
    if let Ok(i) = payload::parse_slack_interaction(body) {
        assert!(payload::is_slack_id(&i.user_id) && payload::is_dns_label(&i.target.namespace));
    }
    if let Ok(d) = payload::parse_webhook_decision(body) {
        assert!(payload::is_user_name(&d.user) && payload::is_dns_subdomain(&d.target.name));
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(a) = policy::Approvers::parse(&text) {
        let _ = a.wildcard_namespaces();
        let _ = a.verdict("team-a", "U1");
    }
    if let Ok(ids) = policy::parse_identities(&text) {
        assert!(ids.values().all(|i| !i.user.is_empty()));
    }
    if let Ok(file) = policy::ApproversFile::parse(&text) {
        let _ = file.approvers();
        let _ = file.identities();
    }
});
