//! The signature loader (`patterns/*.yaml`) on any text.
#![no_main]
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use podmedic::signatures::SignatureSet;

fuzz_target!(|text: &str| {
    if let Err(problems) = SignatureSet::compile([(Path::new("p.yaml"), text)]) {
        let shown = problems.to_string();
        assert!(!shown.is_empty() && shown.lines().all(|l| l.starts_with("p.yaml:")), "{shown}");
    }
});
