//! Embeds the shipped signature library, playbooks and engine-flag table
//! into the binary, so
//! `podmedic triage` works from any directory and the container image needs
//! no data files. `--patterns` / `--playbooks` still load from disk.
use std::fmt::Write as _;
use std::path::Path;

fn embed(dir: &str, out: &mut String, name: &str) {
    println!("cargo:rerun-if-changed={dir}");
    let mut files: Vec<_> =
        std::fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.retain(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")));
    files.sort();
    writeln!(out, "/// `{dir}/*.yaml` as shipped: (path, text).").unwrap();
    writeln!(out, "pub const {name}: &[(&str, &str)] = &[").unwrap();
    for f in files {
        println!("cargo:rerun-if-changed={}", f.display());
        let abs = std::fs::canonicalize(&f).unwrap();
        writeln!(out, "    ({:?}, include_str!({:?})),", f.display().to_string(), abs.display().to_string()).unwrap();
    }
    writeln!(out, "];").unwrap();
}

fn main() {
    let mut out = String::new();
    embed("patterns", &mut out, "PATTERNS");
    embed("playbooks", &mut out, "PLAYBOOKS");
    embed("engines", &mut out, "ENGINES");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(dest, out).unwrap();
}
