//! Decision annotations on a proposal: any keys and values.
#![no_main]
use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use podmedic::approval::decision_from_annotations;
use podmedic::crd::{DECIDED_BY_ANNOTATION, DECISION_ANNOTATION};

fuzz_target!(|data: &[u8]| {
    // Sections separated by 0xff: decision, decided-by, then key/value pairs.
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\u{fffd}');
    let mut ann = BTreeMap::new();
    if let Some(d) = parts.next() {
        ann.insert(DECISION_ANNOTATION.to_owned(), d.to_owned());
    }
    if let Some(b) = parts.next() {
        ann.insert(DECIDED_BY_ANNOTATION.to_owned(), b.to_owned());
    }
    while let (Some(k), Some(v)) = (parts.next(), parts.next()) {
        ann.insert(k.to_owned(), v.to_owned());
    }
    if let Ok(Some(r)) = decision_from_annotations(&ann) {
        let raw = ann[DECISION_ANNOTATION].trim();
        assert!(matches!(raw, "approve" | "approved" | "reject" | "rejected"));
        assert!(r.by.len() <= 256 && !r.by.chars().any(char::is_control));
    }
});
