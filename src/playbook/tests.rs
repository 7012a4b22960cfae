use std::path::Path;

use super::*;

fn shipped() -> PlaybookSet {
    match check(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks")]) {
        Ok(s) => s,
        Err(p) => panic!("shipped playbooks do not compile:\n{p}"),
    }
}

#[test]
fn shipped_playbooks_compile_and_cover_every_class() {
    let set = shipped();
    for class in FailureClass::ALL {
        let fallback = set.playbooks().iter().filter(|p| p.class == class).any(|p| {
            p.when.is_empty()
                && p.params.iter().all(|x| {
                    x.default.is_some() || x.from.iter().any(|s| matches!(s, Source::Fact(f) if f == "summary"))
                })
                && !p.steps.iter().any(|s| s.kind.needs_template())
        });
        assert!(fallback, "class {class} needs an unconditional notify-only fallback playbook");
    }
}
