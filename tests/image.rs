//! The container image that users install (`scripts/image build`), tested
//! without Docker by `scripts/image test`, which unpacks each platform with
//! umoci (rootless) and runs these tests with the paths in `PODMEDIC_IMAGE_*`
//! variables (without them the image tests print why and pass as skipped):
//!
//! - the layout at `dist/oci`: an image index tagged with the crate version
//!   holding `linux/amd64` and `linux/arm64` manifests; every blob matches
//!   its digest; the config runs `/podmedic run` as `65532:65532` with port
//!   8080 and the `org.opencontainers.image.*` labels; one gzipped layer of
//!   at most 16 MB per platform, entries sorted, owned by 0:0, timestamped
//!   with the image's `created` time;
//! - each platform's rootfs holds exactly the binary, the CA bundle,
//!   `/etc/passwd`, `/etc/group` (with `nonroot` 65532) and `/tmp`; the
//!   binary is static, for its platform, without debuginfo; every
//!   certificate of the bundle parses;
//! - the SBOM (`dist/sbom.cdx.json`) lists every crate that each binary's
//!   embedded dependency list (cargo-auditable) names, each also in
//!   `Cargo.lock`;
//! - from its rootfs, in its own user, mount and PID namespaces (`unshare`
//!   and chroot; no container runtime), as uid 65532, each binary prints the
//!   same `--version`, `check` and `triage --output json` as the host build:
//!   amd64 natively, arm64 under qemu-user;
//! - the amd64 image run as a kubelet runs it: PID 1, in-cluster
//!   configuration from a mounted ServiceAccount token bound by the chart's
//!   RBAC (deploy/manifests), the chart's environment; it proposes a fix for
//!   a crash loop on the local control plane, announces it over HTTPS
//!   (verified with the image's CA bundle), and stops within 5 s of SIGTERM,
//!   releasing its Lease; from a rootfs without the CA bundle the same
//!   announcement fails its TLS check.
//!
//! The chart's default image (repository and tag) is checked always.

#[path = "common/cluster.rs"]
mod cluster;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Client;
use kube::api::{Api, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::{self, Scope};
use podmedic::crd::RecoveryProposal;
use serde_json::{Value, json};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const UID: u32 = 65532;
const MAX_LAYER: u64 = 16 * 1024 * 1024;
const PLATFORMS: [&str; 2] = ["amd64", "arm64"];
/// Namespace, ServiceAccount and Lease of deploy/manifests/.
const RELEASE_NS: &str = "podmedic";
const SA: &str = "podmedic";
const LEASE: &str = "podmedic";
const STOP_LIMIT: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(120);
/// The rootfs's entries (directories end in `/`).
const ROOTFS: [&str; 8] = [
    "etc/",
    "etc/group",
    "etc/passwd",
    "etc/ssl/",
    "etc/ssl/certs/",
    "etc/ssl/certs/ca-certificates.crt",
    "podmedic",
    "tmp/",
];
const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------
// What scripts/image test hands over
// ---------------------------------------------------------------------------

/// The paths `scripts/image test` sets.
struct Image {
    dist: PathBuf,
    rootfs: BTreeMap<&'static str, PathBuf>,
    qemu_arm64: PathBuf,
    work: PathBuf,
}

impl Image {
    /// `None` (after saying why) when not run by `scripts/image test`.
    fn from_env(test: &str) -> Option<Image> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let Some(dist) = var("PODMEDIC_IMAGE_DIST") else {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: no image under test (PODMEDIC_IMAGE_DIST unset); run `scripts/image build && scripts/image test`"
            );
            return None;
        };
        let need =
            |name: &str| var(name).unwrap_or_else(|| panic!("{test}: PODMEDIC_IMAGE_DIST is set but {name} is not"));
        Some(Image {
            dist,
            rootfs: BTreeMap::from([
                ("amd64", need("PODMEDIC_IMAGE_ROOTFS_AMD64")),
                ("arm64", need("PODMEDIC_IMAGE_ROOTFS_ARM64")),
            ]),
            qemu_arm64: need("PODMEDIC_IMAGE_QEMU_ARM64"),
            work: need("PODMEDIC_IMAGE_WORK"),
        })
    }

    fn layout(&self) -> PathBuf {
        self.dist.join("oci")
    }

    /// A private, writable copy of `platform`'s unpacked rootfs for one
    /// run (a container runtime's writable layer), named `name`.
    fn copy_rootfs(&self, platform: &str, name: &str) -> Result<Sandbox> {
        let dir = self.work.join(format!("{platform}-{name}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        let status = Command::new("cp").arg("-a").arg(&self.rootfs[platform]).arg(&dir).status()?;
        ensure!(status.success(), "copying the {platform} rootfs failed");
        let qemu = if platform == "arm64" {
            // The emulator goes into the copy's /tmp (a container's scratch
            // directory): there is nothing else to run it from in the chroot.
            std::fs::copy(&self.qemu_arm64, dir.join("tmp/qemu-aarch64-static"))?;
            Some("/tmp/qemu-aarch64-static")
        } else {
            None
        };
        Ok(Sandbox { root: dir, qemu })
    }
}

/// A rootfs to run `/podmedic` from, the way a container runtime would:
/// new user (uid and gid 65532), mount and PID namespaces, chrooted, with
/// only the environment given. No shell or other program is involved
/// inside the rootfs (under qemu-user for arm64).
struct Sandbox {
    root: PathBuf,
    qemu: Option<&'static str>,
}

impl Sandbox {
    /// `/podmedic args` in the sandbox, working directory `cwd`, with
    /// exactly the environment `env`.
    fn command(&self, cwd: &str, args: &[&str], env: &[(String, String)]) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args(["--user", "--map-user=65532", "--map-group=65532", "--mount", "--pid", "--fork", "--kill-child"])
            .arg(format!("--root={}", self.root.display()))
            .arg(format!("--wd={cwd}"))
            .arg("--");
        if let Some(qemu) = self.qemu {
            cmd.arg(qemu);
        }
        cmd.arg("/podmedic").args(args).env_clear().envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
        cmd
    }

    /// Runs `/podmedic args` in `cwd` (inside the rootfs) to completion.
    fn run(&self, cwd: &str, args: &[&str]) -> Result<Output> {
        self.command(cwd, args, &[("HOME".into(), "/nonexistent".into())]).output().context("running unshare")
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// The host build of podmedic (what the tests build), run in `cwd`.
fn host(cwd: &Path, args: &[&str]) -> Result<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_podmedic"))
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("HOME", "/nonexistent")
        .stdin(Stdio::null())
        .output()?)
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---------------------------------------------------------------------------
// The layout
// ---------------------------------------------------------------------------

fn blob(layout: &Path, desc: &Value) -> Result<Vec<u8>> {
    let digest = desc["digest"].as_str().context("descriptor without digest")?;
    let hex = digest.strip_prefix("sha256:").context("not a sha256 digest")?;
    let data = std::fs::read(layout.join("blobs/sha256").join(hex)).with_context(|| format!("blob {digest}"))?;
    ensure!(sha256_hex(&data) == hex, "blob {digest} does not match its digest");
    ensure!(desc["size"].as_u64() == Some(data.len() as u64), "blob {digest}: size {} in its descriptor", desc["size"]);
    Ok(data)
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn json_blob(layout: &Path, desc: &Value) -> Result<Value> {
    Ok(serde_json::from_slice(&blob(layout, desc)?)?)
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut child = Command::new("gzip").arg("-dc").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output()?;
    writer.join().map_err(|_| anyhow!("writer panicked"))??;
    ensure!(out.status.success(), "gzip -dc failed");
    Ok(out.stdout)
}

/// One ustar header: (name, mode, uid, gid, mtime, type).
struct TarEntry {
    name: String,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    size: u64,
}

fn octal(field: &[u8]) -> Result<u64> {
    let s = std::str::from_utf8(field)?.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() { Ok(0) } else { Ok(u64::from_str_radix(s, 8)?) }
}

/// The entries of an uncompressed tar.
fn tar_entries(tar: &[u8]) -> Result<Vec<TarEntry>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 512 <= tar.len() {
        let h = &tar[at..at + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let cstr = |f: &[u8]| String::from_utf8_lossy(f.split(|&b| b == 0).next().unwrap_or_default()).into_owned();
        let prefix = cstr(&h[345..500]);
        let name = cstr(&h[0..100]);
        let name = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        ensure!(&h[257..262] == b"ustar", "{name}: not a ustar header");
        ensure!(h[156] == b'0' || h[156] == b'5', "{name}: entry type {:?}", h[156] as char);
        let size = octal(&h[124..136])?;
        out.push(TarEntry {
            name,
            mode: octal(&h[100..108])? as u32,
            uid: octal(&h[108..116])?,
            gid: octal(&h[116..124])?,
            mtime: octal(&h[136..148])?,
            size,
        });
        at += 512 + size.div_ceil(512) as usize * 512;
    }
    Ok(out)
}

#[test]
fn layout_holds_an_index_of_both_platforms_tagged_with_the_crate_version() -> Result<()> {
    let Some(image) = Image::from_env("layout_holds_an_index_of_both_platforms_tagged_with_the_crate_version") else {
        return Ok(());
    };
    let layout = image.layout();
    let oci_layout: Value = serde_json::from_slice(&std::fs::read(layout.join("oci-layout"))?)?;
    assert_eq!(oci_layout, json!({"imageLayoutVersion": "1.0.0"}));
    let top: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json"))?)?;
    let refs = top["manifests"].as_array().context("index.json manifests")?;
    let by_ref =
        |name: &str| refs.iter().find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == name).cloned();
    let tagged = by_ref(VERSION).with_context(|| format!("no ref {VERSION} in index.json"))?;
    assert_eq!(tagged["mediaType"], "application/vnd.oci.image.index.v1+json");
    let index = json_blob(&layout, &tagged)?;
    let manifests = index["manifests"].as_array().context("index manifests")?;
    let platforms: BTreeSet<String> = manifests
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap_or(""),
                m["platform"]["architecture"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(platforms, BTreeSet::from(["linux/amd64".to_owned(), "linux/arm64".to_owned()]));

    let chart_port = chart_container_port()?;
    let mut created = BTreeSet::new();
    for m in manifests {
        let arch = m["platform"]["architecture"].as_str().context("architecture")?;
        // Each platform is also tagged on its own (what `umoci unpack` reads).
        let own = by_ref(&format!("{VERSION}-linux-{arch}")).context("no per-platform ref")?;
        assert_eq!(own["digest"], m["digest"], "{arch}");
        assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        let manifest = json_blob(&layout, m)?;
        let config = json_blob(&layout, &manifest["config"])?;
        assert_eq!(config["architecture"], arch);
        assert_eq!(config["os"], "linux");
        let c = &config["config"];
        assert_eq!(c["User"], format!("{UID}:{UID}"), "{arch}");
        assert_eq!(c["Entrypoint"], json!(["/podmedic"]), "{arch}");
        assert_eq!(c["Cmd"], json!(["run"]), "{arch}");
        assert!(c["ExposedPorts"].get(format!("{chart_port}/tcp")).is_some(), "{arch}: port {chart_port} not exposed");
        let labels = &c["Labels"];
        assert_eq!(labels["org.opencontainers.image.title"], "podmedic");
        assert_eq!(labels["org.opencontainers.image.version"], VERSION);
        assert_eq!(labels["org.opencontainers.image.licenses"], env!("CARGO_PKG_LICENSE"));
        assert_eq!(labels["org.opencontainers.image.description"], env!("CARGO_PKG_DESCRIPTION"));
        assert_eq!(labels["org.opencontainers.image.created"], config["created"]);
        let revision = labels["org.opencontainers.image.revision"].as_str().unwrap_or("");
        assert!(revision.len() >= 40 && revision[..40].chars().all(|c| c.is_ascii_hexdigit()), "revision {revision}");
        assert!(labels["org.opencontainers.image.source"].as_str().is_some_and(|s| s.starts_with("https://")));
        created.insert(config["created"].as_str().unwrap_or("").to_owned());

        let layers = manifest["layers"].as_array().context("layers")?;
        assert_eq!(layers.len(), 1, "{arch}: one layer");
        assert_eq!(layers[0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip");
        let size = layers[0]["size"].as_u64().unwrap_or(u64::MAX);
        assert!(size <= MAX_LAYER, "{arch}: the layer is {size} bytes gzipped, over {MAX_LAYER}");
        let tar = gunzip(&blob(&layout, &layers[0])?)?;
        assert_eq!(config["rootfs"]["diff_ids"], json!([format!("sha256:{}", sha256_hex(&tar))]), "{arch}");

        // Reproducible entries: sorted, root-owned, all at the image's time.
        let epoch = chrono::DateTime::parse_from_rfc3339(config["created"].as_str().unwrap_or(""))?.timestamp() as u64;
        let entries = tar_entries(&tar)?;
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ROOTFS, "{arch}: the layer's entries, in order");
        for e in &entries {
            assert_eq!((e.uid, e.gid, e.mtime), (0, 0, epoch), "{arch}: {}", e.name);
            let want = match e.name.as_str() {
                "tmp/" => 0o1777,
                "podmedic" => 0o755,
                n if n.ends_with('/') => 0o755,
                _ => 0o644,
            };
            assert_eq!(e.mode & 0o7777, want, "{arch}: mode of {}", e.name);
        }
        let binary = entries.iter().find(|e| e.name == "podmedic").map(|e| e.size).unwrap_or(0);
        eprintln!("linux/{arch}: binary {binary} bytes, layer {size} bytes gzipped");
    }
    assert_eq!(created.len(), 1, "both platforms share one creation time: {created:?}");
    Ok(())
}

/// The port of the chart's container.
fn chart_container_port() -> Result<u64> {
    let text = std::fs::read_to_string(repo().join("deploy/manifests/20-podmedic.yaml"))?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)?;
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").context("no Deployment")?;
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
        .as_u64()
        .context("no containerPort")
}

/// The chart installs what `scripts/image build` tags: its default image is
/// `…/podmedic` with the chart's appVersion, the crate version.
#[test]
fn the_charts_default_image_is_the_one_scripts_image_tags() -> Result<()> {
    let chart: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(repo().join("deploy/helm/podmedic/Chart.yaml"))?)?;
    assert_eq!(chart["appVersion"], VERSION, "Chart.yaml appVersion");
    let values: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(repo().join("deploy/helm/podmedic/values.yaml"))?)?;
    let repository = values["image"]["repository"].as_str().context("image.repository")?;
    assert!(repository.ends_with("/podmedic"), "{repository}");
    assert_eq!(values["image"]["tag"], "", "the tag defaults to appVersion");
    let text = std::fs::read_to_string(repo().join("deploy/manifests/20-podmedic.yaml"))?;
    assert!(
        text.contains(&format!("image: \"{repository}:{VERSION}\"")),
        "deploy/manifests uses {repository}:{VERSION}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// The rootfs and the binaries
// ---------------------------------------------------------------------------

/// Relative paths under `root` (directories end in `/`), sorted.
fn tree(root: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            let rel = p.strip_prefix(root)?.to_string_lossy().into_owned();
            if p.symlink_metadata()?.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &p, out)?;
            } else {
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

/// The parts of an ELF64 little-endian file these tests look at.
struct Elf {
    machine: u16,
    interpreter: bool,
    sections: BTreeMap<String, (usize, usize)>,
}

impl Elf {
    fn parse(data: &[u8]) -> Result<Elf> {
        ensure!(data.len() > 64 && &data[..4] == b"\x7fELF" && data[4] == 2 && data[5] == 1, "not ELF64 LE");
        let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]);
        let u32_at = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap_or_default());
        let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap_or_default()) as usize;
        let (phoff, shoff) = (u64_at(0x20), u64_at(0x28));
        let (phentsize, phnum, shentsize, shnum, shstrndx) = (
            u16_at(0x36) as usize,
            u16_at(0x38) as usize,
            u16_at(0x3a) as usize,
            u16_at(0x3c) as usize,
            u16_at(0x3e) as usize,
        );
        ensure!(phoff + phentsize * phnum <= data.len() && shoff + shentsize * shnum <= data.len(), "truncated ELF");
        let interpreter = (0..phnum).any(|i| u32_at(phoff + i * phentsize) == 3); // PT_INTERP
        let sh = |i: usize| shoff + i * shentsize;
        let (strtab, _) = (u64_at(sh(shstrndx) + 0x18), u64_at(sh(shstrndx) + 0x20));
        let mut sections = BTreeMap::new();
        for i in 0..shnum {
            let name_at = strtab + u32_at(sh(i)) as usize;
            let end = data[name_at..].iter().position(|&b| b == 0).context("section name")? + name_at;
            let name = String::from_utf8_lossy(&data[name_at..end]).into_owned();
            sections.insert(name, (u64_at(sh(i) + 0x18), u64_at(sh(i) + 0x20)));
        }
        Ok(Elf { machine: u16_at(0x12), interpreter, sections })
    }
}

#[test]
fn each_rootfs_holds_exactly_the_binary_ca_bundle_passwd_group_and_tmp() -> Result<()> {
    let Some(image) = Image::from_env("each_rootfs_holds_exactly_the_binary_ca_bundle_passwd_group_and_tmp") else {
        return Ok(());
    };
    for platform in PLATFORMS {
        let root = &image.rootfs[platform];
        assert_eq!(tree(root)?, ROOTFS, "linux/{platform}: the unpacked rootfs");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(root.join("tmp"))?.permissions().mode() & 0o7777, 0o1777, "/tmp");

        let passwd = std::fs::read_to_string(root.join("etc/passwd"))?;
        assert!(passwd.lines().any(|l| l.starts_with("nonroot:*:65532:65532:")), "{passwd}");
        assert!(passwd.lines().any(|l| l.starts_with("root:*:0:0:")), "{passwd}");
        let group = std::fs::read_to_string(root.join("etc/group"))?;
        assert!(group.lines().any(|l| l == "nonroot:*:65532:"), "{group}");

        // Every certificate of the bundle is one rustls accepts as a root.
        let pem = std::fs::read(root.join(CA_BUNDLE))?;
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let certs: Vec<CertificateDer> = CertificateDer::pem_slice_iter(&pem).collect::<Result<_, _>>()?;
        let begins = pem.windows(27).filter(|w| w == b"-----BEGIN CERTIFICATE-----").count();
        assert_eq!(certs.len(), begins);
        assert!(certs.len() > 100, "only {} certificates in the bundle", certs.len());
        let mut store = rustls::RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(certs);
        assert_eq!(ignored, 0, "{ignored} certificates of the bundle do not parse");
        eprintln!("linux/{platform}: {added} CA certificates");

        let binary = std::fs::read(root.join("podmedic"))?;
        let elf = Elf::parse(&binary)?;
        let machine = if platform == "amd64" { 62 } else { 183 }; // EM_X86_64, EM_AARCH64
        assert_eq!(elf.machine, machine, "linux/{platform}: ELF machine");
        assert!(!elf.interpreter, "linux/{platform}: the binary has an ELF interpreter (not static)");
        let debug: Vec<&String> = elf.sections.keys().filter(|s| s.starts_with(".debug")).collect();
        assert!(debug.is_empty(), "linux/{platform}: debuginfo sections {debug:?}");
        assert!(elf.sections.contains_key(".dep-v0"), "linux/{platform}: no cargo-auditable dependency list");
    }
    Ok(())
}

/// The dependency list cargo-auditable embedded in `binary` (zlib JSON).
fn audit_data(binary: &[u8]) -> Result<Value> {
    let elf = Elf::parse(binary)?;
    let (offset, size) = *elf.sections.get(".dep-v0").context("no .dep-v0 section")?;
    let compressed = binary.get(offset..offset + size).context(".dep-v0 out of bounds")?;
    let mut child = Command::new("python3")
        .args(["-c", "import sys, zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("python3 (zlib)")?;
    child.stdin.take().context("stdin")?.write_all(compressed)?;
    let out = child.wait_with_output()?;
    ensure!(out.status.success(), "zlib decompression failed");
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[test]
fn the_sbom_lists_every_crate_each_binary_embeds() -> Result<()> {
    let Some(image) = Image::from_env("the_sbom_lists_every_crate_each_binary_embeds") else { return Ok(()) };
    let sbom: Value = serde_json::from_slice(&std::fs::read(image.dist.join("sbom.cdx.json"))?)?;
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    let in_sbom: BTreeSet<(String, String)> = sbom["components"]
        .as_array()
        .context("components")?
        .iter()
        .map(|c| (c["name"].as_str().unwrap_or("").to_owned(), c["version"].as_str().unwrap_or("").to_owned()))
        .collect();
    let root = &sbom["metadata"]["component"];
    assert_eq!((root["name"].as_str(), root["version"].as_str()), (Some("podmedic"), Some(VERSION)), "{root}");
    let lock: Value = toml_lock()?;
    let in_lock: BTreeSet<(String, String)> = lock
        .as_array()
        .context("Cargo.lock packages")?
        .iter()
        .map(|p| (p["name"].as_str().unwrap_or("").to_owned(), p["version"].as_str().unwrap_or("").to_owned()))
        .collect();
    for platform in PLATFORMS {
        let binary = std::fs::read(image.rootfs[platform].join("podmedic"))?;
        let audit = audit_data(&binary)?;
        let packages = audit["packages"].as_array().context("packages")?;
        let mut runtime = 0;
        for p in packages {
            let id = (p["name"].as_str().unwrap_or("").to_owned(), p["version"].as_str().unwrap_or("").to_owned());
            assert!(in_lock.contains(&id), "linux/{platform}: {id:?} is not in Cargo.lock");
            // Build-time dependencies (build scripts, proc macros) are not in the binary.
            if p["kind"] == "build" || p["root"] == true {
                continue;
            }
            runtime += 1;
            assert!(in_sbom.contains(&id), "linux/{platform}: {id:?} is in the binary but not in the SBOM");
        }
        assert!(runtime > 100, "linux/{platform}: only {runtime} crates embedded");
        eprintln!("linux/{platform}: {runtime} crates in the binary, all in the SBOM");
    }
    Ok(())
}

/// Cargo.lock's `package` array as JSON (a tiny TOML reader for its shape).
fn toml_lock() -> Result<Value> {
    let text = std::fs::read_to_string(repo().join("Cargo.lock"))?;
    let mut packages = Vec::new();
    let mut current: Option<serde_json::Map<String, Value>> = None;
    for line in text.lines() {
        if line == "[[package]]" {
            packages.extend(current.take().map(Value::Object));
            current = Some(serde_json::Map::new());
        } else if let (Some(cur), Some((k, v))) = (current.as_mut(), line.split_once(" = "))
            && let Some(s) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'))
        {
            cur.insert(k.to_owned(), Value::String(s.to_owned()));
        }
    }
    packages.extend(current.map(Value::Object));
    Ok(Value::Array(packages))
}

// ---------------------------------------------------------------------------
// The same output as the host build
// ---------------------------------------------------------------------------

/// Copies `src` (a repository path) to `dst`.
fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    let status = Command::new("cp").arg("-a").arg(src).arg(dst).status()?;
    ensure!(status.success(), "cp -a {} {}", src.display(), dst.display());
    Ok(())
}

/// The inputs, copied into the sandbox's /tmp (a mounted volume) and into
/// a host directory at the same relative paths, so outputs that name files
/// are comparable.
const INPUTS: [&str; 7] = [
    "patterns",
    "playbooks",
    "engines",
    "tests/fixtures/logs",
    "tests/fixtures/golden",
    "tests/fixtures/workloads",
    "tests/fixtures/playbooks-broken",
];

/// Output with the one value that depends on when it was printed masked:
/// a rollout-restart step's `restarted_at` (the two runs may straddle a
/// second).
fn untimed(out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    let mut rest = text.as_ref();
    let mut masked = String::new();
    while let Some(i) = rest.find("\"restarted_at\":\"") {
        let start = i + "\"restarted_at\":\"".len();
        masked.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('"').unwrap_or(rest.len());
        masked.push_str("TIME");
        rest = &rest[end..];
    }
    masked.push_str(rest);
    masked
}

/// Equal text, or equal JSON where numbers may differ in the last bits of
/// an f32 (aarch64 fuses multiply-adds that x86-64 rounds twice: the
/// classifier's probabilities differ by about 1e-7).
fn same_json_or_text(a: &str, b: &str) -> bool {
    fn close(x: &Value, y: &Value) -> bool {
        match (x, y) {
            (Value::Number(p), Value::Number(q)) => match (p.as_f64(), q.as_f64()) {
                (Some(p), Some(q)) => (p - q).abs() <= 1e-6 * p.abs().max(q.abs()).max(1.0),
                _ => p == q,
            },
            (Value::Array(p), Value::Array(q)) => p.len() == q.len() && p.iter().zip(q).all(|(p, q)| close(p, q)),
            (Value::Object(p), Value::Object(q)) => {
                p.len() == q.len() && p.iter().all(|(k, v)| q.get(k).is_some_and(|w| close(v, w)))
            }
            _ => x == y,
        }
    }
    a == b
        || matches!((serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)), (Ok(x), Ok(y)) if close(&x, &y))
}

fn same_output(platform: &str, sandbox: &Sandbox, host_dir: &Path, args: &[&str]) -> Result<Output> {
    let t0 = Instant::now();
    let got = sandbox.run("/tmp/in", args)?;
    let took = t0.elapsed();
    let want = host(host_dir, args)?;
    ensure!(
        same_json_or_text(&untimed(&got.stdout), &untimed(&want.stdout))
            && got.stderr == want.stderr
            && got.status.code() == want.status.code(),
        "linux/{platform}: `podmedic {}` differs from the host build's\n=== image ({took:?})\n{}\n=== host\n{}",
        args.join(" "),
        show(&got),
        show(&want)
    );
    Ok(got)
}

#[test]
fn each_binary_prints_the_same_version_check_and_triage_as_the_host_build() -> Result<()> {
    let Some(image) = Image::from_env("each_binary_prints_the_same_version_check_and_triage_as_the_host_build") else {
        return Ok(());
    };
    let host_dir = image.work.join("host-inputs");
    if !host_dir.exists() {
        std::fs::create_dir_all(host_dir.join("tests/fixtures"))?;
        for rel in INPUTS {
            copy_tree(&repo().join(rel), &host_dir.join(rel))?;
        }
    }
    // One crash log per class, plus the README's golden example.
    let mut logs: Vec<String> = Vec::new();
    for class in std::fs::read_dir(repo().join("tests/fixtures/logs"))? {
        let class = class?.path();
        if class.is_dir() {
            let mut files: Vec<PathBuf> =
                std::fs::read_dir(&class)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
            files.sort();
            if let Some(f) = files.first() {
                logs.push(f.strip_prefix(repo())?.to_string_lossy().into_owned());
            }
        }
    }
    ensure!(logs.len() >= 10, "only {} classes of fixture logs", logs.len());
    let mut json_outputs: BTreeMap<&str, Vec<Vec<u8>>> = BTreeMap::new();
    for platform in PLATFORMS {
        let sandbox = image.copy_rootfs(platform, "outputs")?;
        std::fs::create_dir_all(sandbox.path("tmp/in/tests/fixtures"))?;
        for rel in INPUTS {
            copy_tree(&repo().join(rel), &sandbox.path(&format!("tmp/in/{rel}")))?;
        }
        let version = same_output(platform, &sandbox, &host_dir, &["--version"])?;
        ensure!(String::from_utf8_lossy(&version.stdout).trim() == format!("podmedic {VERSION}"));
        let check = same_output(platform, &sandbox, &host_dir, &["check", "patterns", "playbooks", "engines"])?;
        ensure!(check.status.success(), "check failed:\n{}", show(&check));
        // Broken playbooks: the same file:line:col problems, the same exit code.
        let broken = same_output(platform, &sandbox, &host_dir, &["check", "tests/fixtures/playbooks-broken"])?;
        ensure!(!broken.status.success() && !broken.stderr.is_empty(), "broken playbooks pass:\n{}", show(&broken));
        let golden = [
            "triage",
            "--output",
            "json",
            "--log",
            "tests/fixtures/golden/vllm-kv.log",
            "--workload",
            "tests/fixtures/workloads/vllm-deployment.yaml",
        ];
        let mut outs = vec![same_output(platform, &sandbox, &host_dir, &golden)?.stdout];
        for rel in &logs {
            let out = same_output(platform, &sandbox, &host_dir, &["triage", "--output", "json", "--log", rel])?;
            let report: Value = serde_json::from_slice(&out.stdout).with_context(|| format!("{rel}: not JSON"))?;
            ensure!(report.get("class").is_some(), "{rel}: no class in {report}");
            outs.push(out.stdout);
        }
        json_outputs.insert(platform, outs);
        eprintln!("linux/{platform}: --version, check and {} triage reports equal the host build's", logs.len() + 1);
    }
    let (amd, arm) = (&json_outputs["amd64"], &json_outputs["arm64"]);
    ensure!(amd.len() == arm.len(), "arm64 and amd64 printed different numbers of reports");
    for (a, b) in amd.iter().zip(arm) {
        let (a, b) = (untimed(a), untimed(b));
        ensure!(same_json_or_text(&a, &b), "arm64 and amd64 print different triage reports:\n{a}\n{b}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// As a kubelet runs it
// ---------------------------------------------------------------------------

/// An HTTPS endpoint with a certificate from a throwaway CA (openssl),
/// served with rustls; records each request, or why its connection failed.
struct TlsServer {
    port: u16,
    ca_pem: Vec<u8>,
    seen: Arc<Mutex<Vec<std::result::Result<String, String>>>>,
}

impl TlsServer {
    fn start(dir: &Path) -> Result<TlsServer> {
        std::fs::create_dir_all(dir)?;
        let openssl = |args: &[&str]| -> Result<()> {
            let out = Command::new("openssl").args(args).current_dir(dir).output().context("openssl")?;
            ensure!(out.status.success(), "openssl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
            Ok(())
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        openssl(
            &[
                &["req", "-x509", "-new"],
                &ec[..],
                &["-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=podmedic image test CA"],
                &["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ]
            .concat(),
        )?;
        openssl(
            &[&["req", "-new"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]]
                .concat(),
        )?;
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "server.ext",
        ])?;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(dir.join("server.pem"))?.collect::<Result<_, _>>()?;
        let key = PrivateKeyDer::from_pem_file(dir.join("server.key"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(chain, key)?,
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut sock) = conn else { continue };
                let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
                let result = match rustls::ServerConnection::new(config.clone()) {
                    Ok(mut tls) => Self::exchange(&mut rustls::Stream::new(&mut tls, &mut sock)),
                    Err(e) => Err(e.to_string()),
                };
                record.lock().unwrap_or_else(|e| e.into_inner()).push(result);
            }
        });
        Ok(TlsServer { port, ca_pem: std::fs::read(dir.join("ca.pem"))?, seen })
    }

    /// Reads one HTTP request, answers 200; returns its request line and body.
    fn exchange(s: &mut (impl Read + Write)) -> std::result::Result<String, String> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match s.read(&mut chunk) {
                Ok(0) => return Err("connection closed before a request".into()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e.to_string()),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let length = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>()))
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match s.read(&mut chunk) {
                Ok(0) => return Err("connection closed in the body".into()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").map_err(|e| e.to_string())?;
        let _ = s.flush();
        let request_line = head.lines().next().unwrap_or("").to_owned();
        Ok(format!("{request_line}\n{}", String::from_utf8_lossy(&buf[head_end..head_end + length])))
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/hook", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).iter().filter_map(|r| r.clone().ok()).collect()
    }

    fn failures(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).iter().filter_map(|r| r.clone().err()).collect()
    }
}

/// `podmedic run` from a rootfs, as PID 1 of its PID namespace; killed
/// (with everything in its namespaces) on drop.
struct Pid1 {
    unshare: Child,
    port: u16,
    identity: String,
    log: PathBuf,
}

impl Pid1 {
    fn start(sandbox: &Sandbox, env: Vec<(String, String)>, port: u16, identity: &str, log: PathBuf) -> Result<Pid1> {
        let out = std::fs::File::create(&log)?;
        let unshare = sandbox
            .command("/", &["run"], &env)
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("spawning unshare")?;
        Ok(Pid1 { unshare, port, identity: identity.to_owned(), log })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The host's pid of podmedic: the child `unshare --fork` made.
    fn host_pid(&self) -> Result<u32> {
        let parent = self.unshare.id().to_string();
        for e in std::fs::read_dir("/proc")? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(status) = std::fs::read_to_string(format!("/proc/{name}/status")) else { continue };
            if status.lines().any(|l| l.strip_prefix("PPid:").map(str::trim) == Some(parent.as_str())) {
                return Ok(name.parse()?);
            }
        }
        bail!("unshare (pid {parent}) has no child")
    }

    async fn metrics(&self) -> String {
        cluster::http_get(self.port, "/metrics").await.unwrap_or_default()
    }

    /// SIGTERM to podmedic (as a kubelet does); waits for it to end.
    async fn terminate(&mut self) -> Result<(std::process::ExitStatus, Duration)> {
        let pid = self.host_pid()?;
        let status = Command::new("kill").args(["-s", "TERM", &pid.to_string()]).status()?;
        ensure!(status.success(), "kill -s TERM {pid}");
        let t0 = Instant::now();
        loop {
            // `unshare --fork` exits with its child's status.
            if let Some(status) = self.unshare.try_wait()? {
                return Ok((status, t0.elapsed()));
            }
            if t0.elapsed() > Duration::from_secs(30) {
                bail!("{} still running 30 s after SIGTERM; its log:\n{}", self.identity, self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// The admin's kubeconfig as JSON.
fn admin_kubeconfig() -> Result<Value> {
    let path = cluster::kubeconfig_path().context("no kubeconfig")?;
    Ok(serde_saphyr::from_str(&std::fs::read_to_string(&path)?)?)
}

/// `(host, port, CA PEM)` of the plane's API server, for an in-cluster
/// configuration (`KUBERNETES_SERVICE_HOST`/`_PORT`, the mounted `ca.crt`).
fn api_server() -> Result<(String, String, Vec<u8>)> {
    let kc = admin_kubeconfig()?;
    let current = kc["current-context"].as_str().context("current-context")?;
    let ctx = kc["contexts"].as_array().and_then(|c| c.iter().find(|c| c["name"] == current)).context("context")?;
    let cname = &ctx["context"]["cluster"];
    let cluster = kc["clusters"].as_array().and_then(|c| c.iter().find(|c| &c["name"] == cname)).context("cluster")?;
    let server = cluster["cluster"]["server"].as_str().context("server")?;
    let hostport = server.strip_prefix("https://").context("the API server is not https")?.trim_end_matches('/');
    let (host, port) = hostport.rsplit_once(':').context("server without a port")?;
    let ca = if let Some(data) = cluster["cluster"]["certificate-authority-data"].as_str() {
        let mut child = Command::new("base64").arg("-d").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        child.stdin.take().context("stdin")?.write_all(data.as_bytes())?;
        let out = child.wait_with_output()?;
        ensure!(out.status.success(), "base64 -d");
        out.stdout
    } else {
        let file = cluster["cluster"]["certificate-authority"].as_str().context("no CA in the kubeconfig")?;
        let base = cluster::kubeconfig_path().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_default();
        std::fs::read(base.join(file))?
    };
    Ok((host.to_owned(), port.to_owned(), ca))
}

/// Server-side applies the objects of deploy/manifests/ that give
/// podmedic's ServiceAccount its RBAC (namespace, ServiceAccount, roles and
/// bindings), as `kubectl apply --server-side -f deploy/manifests/` would.
async fn install_rbac(admin: &Client) -> Result<()> {
    const KINDS: [&str; 6] =
        ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"];
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(repo().join("deploy/manifests"))?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    files.sort();
    for f in files {
        let docs: Vec<Value> = serde_saphyr::from_multiple(&std::fs::read_to_string(&f)?)?;
        for obj in docs.into_iter().filter(|d| KINDS.contains(&d["kind"].as_str().unwrap_or(""))) {
            let (group, version) = match obj["apiVersion"].as_str().context("apiVersion")?.split_once('/') {
                Some((g, v)) => (g.to_owned(), v.to_owned()),
                None => (String::new(), obj["apiVersion"].as_str().unwrap_or("v1").to_owned()),
            };
            let kind = obj["kind"].as_str().unwrap_or("");
            let name = obj["metadata"]["name"].as_str().context("name")?;
            let gvk = GroupVersionKind::gvk(&group, &version, kind);
            let (ar, caps) = discovery::pinned_kind(admin, &gvk).await?;
            let api: Api<DynamicObject> = match caps.scope {
                Scope::Namespaced => Api::namespaced_with(
                    admin.clone(),
                    obj["metadata"]["namespace"].as_str().unwrap_or(RELEASE_NS),
                    &ar,
                ),
                Scope::Cluster => Api::all_with(admin.clone(), &ar),
            };
            api.patch(name, &PatchParams::apply("podmedic-image-test").force(), &Patch::Apply(&obj))
                .await
                .with_context(|| format!("applying {kind} {name}"))?;
        }
    }
    Ok(())
}

/// A real token of podmedic's ServiceAccount (what the kubelet mounts).
async fn service_account_token(admin: &Client) -> Result<String> {
    let req = TokenRequest {
        spec: Some(TokenRequestSpec { expiration_seconds: Some(1200), ..TokenRequestSpec::default() }),
        ..TokenRequest::default()
    };
    let tr = Api::<ServiceAccount>::namespaced(admin.clone(), RELEASE_NS)
        .create_token_request(SA, &PostParams::default(), &req)
        .await
        .context("TokenRequest for podmedic's ServiceAccount")?;
    tr.status.and_then(|s| s.token).context("TokenRequest without a token")
}

/// A client with nothing but `token`.
async fn token_client(token: &str) -> Result<Client> {
    let mut kc = admin_kubeconfig()?;
    for u in kc["users"].as_array_mut().context("users")? {
        u["user"] = json!({ "token": token });
    }
    let kubeconfig: kube::config::Kubeconfig = serde_json::from_value(kc)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

async fn lease_holder(admin: &Client) -> Result<Option<String>> {
    let lease = Api::<Lease>::namespaced(admin.clone(), RELEASE_NS).get_opt(LEASE).await?;
    Ok(lease.and_then(|l| l.spec).and_then(|s| s.holder_identity).filter(|h| !h.is_empty()))
}

/// The chart's environment for the podmedic container (deploy/manifests),
/// with the downward API's values filled in and `overrides` applied.
fn chart_env(identity: &str, overrides: &[(&str, String)]) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(repo().join("deploy/manifests/20-podmedic.yaml"))?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)?;
    let deployment = docs.iter().find(|d| d["kind"] == "Deployment").context("no Deployment")?;
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    ensure!(container["args"] == json!(["run"]), "the chart runs {}", container["args"]);
    let mut env = BTreeMap::new();
    for e in container["env"].as_array().context("env")? {
        let name = e["name"].as_str().context("env name")?.to_owned();
        let value = match (&e["value"], e["valueFrom"]["fieldRef"]["fieldPath"].as_str()) {
            (Value::String(v), _) => v.clone(),
            (_, Some("metadata.name")) => identity.to_owned(),
            (_, Some("metadata.namespace")) => RELEASE_NS.to_owned(),
            _ => bail!("env {name}: {e}"),
        };
        env.insert(name, value);
    }
    env.insert("HOME".into(), "/nonexistent".into());
    for (k, v) in overrides {
        env.insert((*k).to_owned(), v.clone());
    }
    Ok(env.into_iter().collect())
}

const KV_LOG: &str = "INFO 11-27 12:00:00 api_server.py:528] vLLM API server version 0.6.3
INFO 11-27 12:00:09 gpu_executor.py:122] # GPU blocks: 1296, # CPU blocks: 2048
ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (20736). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.";

/// What one run of the image on the plane showed.
struct RunResult {
    proposal: String,
    stopped: std::process::ExitStatus,
    took: Duration,
}

/// Runs the amd64 image as PID 1 with the chart's environment watching
/// `ns`, where Deployment `workload` crash-loops; waits until it leads
/// and has proposed a fix for `workload`, calls `announced` until it
/// returns true (30 s at most), then sends SIGTERM.
async fn run_on_plane(
    image: &Image,
    admin: &Client,
    ns: &str,
    name: &str,
    with_ca_bundle: Option<&[u8]>,
    tls: &TlsServer,
    workload: &str,
    announced: impl Fn(&Pid1, &str) -> bool,
) -> Result<(RunResult, String)> {
    let sandbox = image.copy_rootfs("amd64", name)?;
    match with_ca_bundle {
        Some(extra) => {
            // The image's bundle, plus the test's CA (no public CA signs a loopback server).
            let mut f = std::fs::OpenOptions::new().append(true).open(sandbox.path(CA_BUNDLE))?;
            f.write_all(extra)?;
        }
        None => std::fs::remove_file(sandbox.path(CA_BUNDLE))?,
    }
    // What the kubelet mounts: the ServiceAccount's token, the cluster CA, the namespace.
    let (host, port, ca) = api_server()?;
    let sa_dir = sandbox.path("var/run/secrets/kubernetes.io/serviceaccount");
    std::fs::create_dir_all(&sa_dir)?;
    std::fs::write(sa_dir.join("token"), service_account_token(admin).await?)?;
    std::fs::write(sa_dir.join("ca.crt"), &ca)?;
    std::fs::write(sa_dir.join("namespace"), RELEASE_NS)?;

    let listen = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let identity = format!("podmedic-image-{name}-{}", std::process::id());
    let env = chart_env(
        &identity,
        &[
            ("KUBERNETES_SERVICE_HOST", host),
            ("KUBERNETES_SERVICE_PORT", port),
            // The shared plane: watch only this test's namespace.
            ("PODMEDIC_NAMESPACES", ns.to_owned()),
            ("PODMEDIC_LISTEN", format!("127.0.0.1:{listen}")),
            ("PODMEDIC_WEBHOOK_URL", tls.url()),
            ("PODMEDIC_CHATOPS_MAX_ATTEMPTS", "1".into()),
            ("RUST_LOG", "info,kube=warn,podmedic::chatops=debug".into()),
        ],
    )?;
    let log = image.work.join(format!("{name}.log"));
    let mut pod = Pid1::start(&sandbox, env, listen, &identity, log)?;
    let res = async {
        // PID 1 of its own namespace, uid 65532 inside its user namespace.
        // unshare may write the user namespace's uid map just after its
        // child starts: wait for the map, then check it.
        let (pid, uid_map) = poll_sync("podmedic to start with its uid map written", || {
            let pid = pod.host_pid().ok()?;
            let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).ok()?;
            (!map.trim().is_empty()).then_some((pid, map))
        })?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let nspid = status.lines().find_map(|l| l.strip_prefix("NSpid:")).context("NSpid")?;
        ensure!(nspid.split_whitespace().last() == Some("1"), "not PID 1 in its namespace: NSpid{nspid}");
        ensure!(uid_map.split_whitespace().next() == Some("65532"), "uid_map: {uid_map}");

        cluster::poll(&format!("{identity} to hold the Lease"), TIMEOUT, || async {
            Ok((lease_holder(admin).await?.as_deref() == Some(identity.as_str())
                && pod.metrics().await.lines().any(|l| l == "podmedic_leader 1"))
            .then_some(()))
        })
        .await?;
        let proposals: Api<RecoveryProposal> = Api::namespaced(admin.clone(), ns);
        let proposal = cluster::poll(&format!("a RecoveryProposal for {workload}"), TIMEOUT, || async {
            Ok(proposals
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .find(|p| p.spec.target.name == workload && p.status.is_some()))
        })
        .await?;
        let proposal_name = proposal.metadata.name.clone().unwrap_or_default();
        ensure!(proposal.spec.dry_run, "the chart's default is dry-run");
        cluster::poll("the announcement's outcome", Duration::from_secs(30), || async {
            Ok(announced(&pod, &proposal_name).then_some(()))
        })
        .await?;
        let metrics = pod.metrics().await;
        let (stopped, took) = pod.terminate().await?;
        Ok((RunResult { proposal: proposal_name, stopped, took }, metrics))
    }
    .await;
    match res {
        Ok(r) => Ok(r),
        Err(e) => Err(e.context(format!("{identity}'s log:\n{}", pod.log_text()))),
    }
}

fn poll_sync<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> Result<T> {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if t0.elapsed() > Duration::from_secs(10) {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The amd64 image, run as a kubelet runs it (PID 1, uid 65532, the
/// chart's environment and RBAC, an in-cluster configuration), proposes a
/// fix for a crash loop, announces it over HTTPS verified with the image's
/// CA bundle, and stops within 5 s of SIGTERM with status 0, releasing the
/// Lease. From a rootfs without the CA bundle the announcement fails the
/// TLS check (the certificate is refused, nothing is delivered).
#[tokio::test(flavor = "multi_thread")]
async fn the_image_as_pid_1_proposes_announces_and_stops_within_5s_of_sigterm() -> Result<()> {
    let test = "the_image_as_pid_1_proposes_announces_and_stops_within_5s_of_sigterm";
    let Some(image) = Image::from_env(test) else { return Ok(()) };
    let Some(admin) = cluster::client_or_skip(test).await else { return Ok(()) };
    cluster::install_crd(&admin, "podmedic-tests", TIMEOUT).await?;
    install_rbac(&admin).await?;
    // Fresh bindings reach the authorizer's cache within moments.
    let sa = token_client(&service_account_token(&admin).await?).await?;
    cluster::poll("podmedic's RBAC to take effect", TIMEOUT, || async {
        let listed = Api::<RecoveryProposal>::all(sa.clone()).list(&ListParams::default().limit(1)).await.is_ok();
        let lease = Api::<Lease>::namespaced(sa.clone(), RELEASE_NS).get_opt(LEASE).await.is_ok();
        Ok((listed && lease).then_some(()))
    })
    .await?;
    let ns = cluster::create_namespace(&admin, "image-run").await?;
    let res = async {
        let tls = TlsServer::start(&image.work.join("tls"))?;
        let crash = |name: &str| -> Result<k8s_openapi::api::apps::v1::Deployment> {
            let mut spec = cluster::VllmSpec::new(name);
            spec.scenario = Some(cluster::Scenario::CrashLoop);
            spec.previous_log = Some(cluster::cri_log(KV_LOG)?);
            spec.run_duration = Some("2s".into());
            spec.backoff_duration = Some("3s".into());
            Ok(spec.deployment())
        };

        cluster::create_deployment(&admin, &ns, &crash("llama")?).await?;
        let delivered = |_: &Pid1, proposal: &str| tls.requests().iter().any(|r| r.contains(proposal));
        let (run, metrics) =
            run_on_plane(&image, &admin, &ns, "with-ca", Some(&tls.ca_pem), &tls, "llama", delivered).await?;
        ensure!(
            metrics.lines().any(|l| l == r#"podmedic_notifications_total{channel="webhook",result="sent"} 1"#),
            "no webhook notification counted as sent:\n{metrics}"
        );
        ensure!(run.stopped.success(), "the image exited with {} on SIGTERM", run.stopped);
        ensure!(run.took <= STOP_LIMIT, "the image took {:?} to stop after SIGTERM", run.took);
        ensure!(lease_holder(&admin).await?.is_none(), "the Lease is still held after the image stopped");
        eprintln!(
            "with the CA bundle: proposed {}, announced over HTTPS, stopped {:?} after SIGTERM",
            run.proposal, run.took
        );

        let before = tls.failures().len();
        cluster::create_deployment(&admin, &ns, &crash("mistral")?).await?;
        let refused = |pod: &Pid1, _: &str| {
            pod.log_text().contains("notification attempt failed") && tls.failures().len() > before
        };
        let (run, metrics) = run_on_plane(&image, &admin, &ns, "without-ca", None, &tls, "mistral", refused).await?;
        ensure!(
            !tls.requests().iter().any(|r| r.contains(&run.proposal)),
            "without a CA bundle the announcement of {} was delivered",
            run.proposal
        );
        let log = std::fs::read_to_string(image.work.join("without-ca.log"))?;
        ensure!(log.contains("no CA certificates found"), "no warning about the missing CA bundle:\n{log}");
        ensure!(
            log.contains("UnknownIssuer") || log.contains("invalid peer certificate"),
            "the TLS failure is not a certificate refusal:\n{log}"
        );
        ensure!(metrics.contains(r#"podmedic_notifications_total{channel="webhook",result="failed"} 1"#), "{metrics}");
        ensure!(run.stopped.success() && run.took <= STOP_LIMIT, "{} after {:?}", run.stopped, run.took);
        eprintln!(
            "without the CA bundle: the TLS check failed ({}), stopped {:?} after SIGTERM",
            tls.failures().last().cloned().unwrap_or_default(),
            run.took
        );
        Ok(())
    }
    .await;
    if res.is_err() {
        cluster::dump_namespace(&admin, &ns).await;
    }
    cluster::delete_namespace(&admin, &ns).await?;
    res
}
