//! The whole diagnosis (signature scan, classifier, fusion) on any log.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use podmedic::diagnosis::{Classifier, FusionConfig, diagnose};
use podmedic::evidence::Evidence;
use podmedic::logtext::read_tail;
use podmedic::signatures::SignatureSet;

fn signatures() -> &'static SignatureSet {
    static S: OnceLock<SignatureSet> = OnceLock::new();
    S.get_or_init(|| SignatureSet::embedded_lazy().expect("embedded signatures"))
}

fn model() -> &'static podmedic::classifier::ModelClassifier {
    static M: OnceLock<podmedic::classifier::ModelClassifier> = OnceLock::new();
    M.get_or_init(|| podmedic::classifier::load_default(podmedic::classifier::DeviceChoice::Cpu).expect("model"))
}

fuzz_target!(|data: &[u8]| {
    let ev = Evidence { log: read_tail(data, 200).expect("reading memory"), ..Evidence::default() };
    let d = diagnose(&ev, signatures(), Some(model() as &dyn Classifier), &FusionConfig::default());
    assert!((0.0..=1.0).contains(&d.confidence));
    let clean = |s: &str| !s.chars().any(podmedic::sanitize::is_unsafe);
    assert!(clean(&d.summary));
    assert!(d.evidence.iter().all(|e| clean(&e.text) && e.line <= ev.log.total_lines));
    assert!(d.captures.values().all(|v| clean(v)));
});
