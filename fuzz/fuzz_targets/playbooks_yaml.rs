//! The playbook loader (`playbooks/*.yaml`) on any text.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use podmedic::playbook::PlaybookSet;

fuzz_target!(|text: &str| {
    if let Err(problems) = PlaybookSet::compile([(Path::new("b.yaml"), text)]) {
        let shown = problems.to_string();
        assert!(!shown.is_empty() && shown.lines().all(|l| l.starts_with("b.yaml:")), "{shown}");
    }
});
