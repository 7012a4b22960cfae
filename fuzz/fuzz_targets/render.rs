//! Hostile text into every channel podmedic shows it in: nothing it says
//! can link, mention, format or break out of a code block.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podmedic::sanitize::{is_unsafe, markdown_code, markdown_inline, one_line, slack_code, slack_inline};

fuzz_target!(|s: &str| {
    let joiner = '\u{2060}';
    let inert = |t: &str, newlines: bool| t.chars().all(|c| c == joiner || (newlines && c == '\n') || !is_unsafe(c));
    assert!(inert(&one_line(s), false));
    let si = slack_inline(s);
    assert!(inert(&si, false) && !si.contains('<') && !si.contains('*') && !si.contains("@here"));
    let mi = markdown_inline(s);
    assert!(inert(&mi, false) && !mi.contains("](") && !mi.contains("://"));
    for code in [slack_code(s), markdown_code(s)] {
        assert!(inert(&code, true) && !code.contains("``"));
    }
});
