//! The engine-flag table (`engines/*.yaml`) compiled: per engine and flag,
//! the releases that accept it, its special values, its defaults per
//! release and hardware, its environment aliases, deprecation and
//! replacement. Parse → compile like patterns and playbooks: every problem
//! with `file:line:col` and a hint, all collected before refusing.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_saphyr::Location;

use super::spec::{DefaultSpec, EngineSpec, FlagSpec, ValueSpec, WhenSpec};
use super::version::{Range, Version};
use crate::problem::{Problem, Problems};

/// What a flag's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagType {
    /// A whole number.
    Int,
    /// A number.
    Float,
    /// A switch (present or not; `--x` / `--no-x`).
    Bool,
    /// Text.
    Str,
}

impl FlagType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "int" => FlagType::Int,
            "float" => FlagType::Float,
            "bool" => FlagType::Bool,
            "string" => FlagType::Str,
            _ => return None,
        })
    }

    /// Its name in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Int => "int",
            FlagType::Float => "float",
            FlagType::Bool => "bool",
            FlagType::Str => "string",
        }
    }
}

/// A value in the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Num(f64),
    /// A switch's state.
    Bool(bool),
    /// Text.
    Text(String),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => write!(f, "{}", *n as i64),
            Value::Num(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Text(t) => f.write_str(t),
        }
    }
}

/// A special value (`auto`) and the releases that accept it.
#[derive(Debug, Clone)]
pub struct Form {
    /// As written.
    pub value: String,
    /// What it means.
    pub means: String,
    /// Releases that accept it.
    pub range: Range,
    /// `file @ release`.
    pub source: String,
}

/// A condition of a default.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// GPU memory ≥ N GiB.
    GpuMemAtLeast(f64),
    /// GPU memory < N GiB.
    GpuMemBelow(f64),
    /// The GPU product contains none of these (lowercase).
    GpuProductExcludes(Vec<String>),
    /// The GPU product contains one of these (lowercase).
    GpuProductIncludes(Vec<String>),
    /// On an NVIDIA GPU (or not).
    Cuda(bool),
    /// None of these flags is set.
    Unset(Vec<String>),
    /// The env var has this value.
    Env(String, String),
}

/// A default for some releases and hardware.
#[derive(Debug, Clone)]
pub struct Default {
    /// Releases it holds for.
    pub range: Range,
    /// Conditions.
    pub when: Vec<Cond>,
    /// The value; `None` when the engine computes it at start-up.
    pub value: Option<Value>,
    /// How it is computed, when it is.
    pub computed: Option<String>,
    /// `file @ release`.
    pub source: String,
}

/// One flag of one engine.
#[derive(Debug, Clone)]
pub struct Flag {
    /// The long flag (`--max-model-len`).
    pub flag: String,
    /// Other spellings.
    pub aliases: Vec<String>,
    /// Its type.
    pub ty: FlagType,
    /// Its name in printed settings.
    pub key: String,
    /// Environment aliases.
    pub env: Vec<String>,
    /// Releases that accept it.
    pub range: Range,
    /// What replaces it.
    pub replacement: Option<String>,
    /// Deprecated from this release on.
    pub deprecated_since: Option<Version>,
    /// Bounds.
    pub min: Option<f64>,
    /// Whether `min` is excluded.
    pub min_exclusive: bool,
    /// Upper bound.
    pub max: Option<f64>,
    /// Special values.
    pub forms: Vec<Form>,
    /// Defaults, first matching wins.
    pub defaults: Vec<Default>,
    /// `file @ release`.
    pub source: String,
    /// For people.
    pub note: Option<String>,
}

impl Flag {
    /// Whether `s` names this flag (its long form or an alias).
    pub fn named(&self, s: &str) -> bool {
        self.flag == s || self.aliases.iter().any(|a| a == s)
    }
}

/// One engine's table.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Server id.
    pub name: String,
    /// Display name.
    pub title: String,
    /// Releases read, oldest first.
    pub releases: Vec<Version>,
    /// Releases looked for and not found.
    pub missing_releases: Vec<String>,
    /// Flags.
    pub flags: Vec<Flag>,
    /// The file it came from.
    pub file: PathBuf,
}

impl Engine {
    /// The flag named `s` (long form or alias).
    pub fn flag(&self, s: &str) -> Option<&Flag> {
        let s = s.split_once('=').map_or(s, |(f, _)| f);
        self.flags.iter().find(|f| f.named(s))
    }

    /// The releases a range covers, as `0.2.0–0.34.0` for messages.
    pub fn span(&self) -> String {
        match (self.releases.first(), self.releases.last()) {
            (Some(a), Some(b)) => format!("{a}–{b}"),
            _ => "none".into(),
        }
    }

    /// Whether `range` holds for `version`, or, with the version unknown,
    /// for every release in the table.
    pub fn covers(&self, range: &Range, version: Option<&Version>) -> bool {
        match version {
            Some(v) => range.contains(v),
            None => self.releases.iter().all(|r| range.contains(r)),
        }
    }
}

/// Every engine's table.
#[derive(Debug, Clone, Default)]
pub struct EngineTable {
    engines: Vec<Engine>,
}

static EMBEDDED: OnceLock<Result<Arc<EngineTable>, Problems>> = OnceLock::new();

impl EngineTable {
    /// The table compiled into the binary (`engines/` at build time),
    /// parsed once per process.
    pub fn embedded() -> Result<Arc<EngineTable>, Problems> {
        EMBEDDED
            .get_or_init(|| {
                Self::compile(crate::embedded::ENGINES.iter().map(|(f, t)| (Path::new(*f), *t))).map(Arc::new)
            })
            .clone()
    }

    /// Loads and compiles every `.yaml` file of `paths`.
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Self, Problems> {
        let (texts, problems) = crate::problem::read_yaml_texts(paths);
        crate::problem::with_read_problems(
            problems,
            Self::compile(texts.iter().map(|(f, t)| (f.as_path(), t.as_str()))),
        )
    }

    /// Compiles engine files given as `(path, text)`.
    pub fn compile<'a>(files: impl IntoIterator<Item = (&'a Path, &'a str)>) -> Result<Self, Problems> {
        let mut problems = Vec::new();
        let mut engines: Vec<Engine> = Vec::new();
        for (file, text) in files {
            let spec: EngineSpec = match crate::yaml::from_str(text) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(
                        Problem::new(file, e.line, e.column, e.message)
                            .hint("see engines/README.md for the format; quote versions (\"0.20.0\")"),
                    );
                    continue;
                }
            };
            if let Some(first) = engines.iter().find(|e| e.name == spec.engine.value) {
                problems.push(
                    Problem::at(file, &spec.engine.referenced, format!("engine `{}` is defined twice", first.name))
                        .hint(format!("first defined in {}", first.file.display())),
                );
                continue;
            }
            if let Some(e) = compile_engine(file, &spec, &mut problems) {
                engines.push(e);
            }
        }
        if problems.is_empty() { Ok(EngineTable { engines }) } else { Err(Problems(problems)) }
    }

    /// The engines.
    pub fn engines(&self) -> &[Engine] {
        &self.engines
    }

    /// The engine named `name`, if the table has it.
    pub fn engine(&self, name: &str) -> Option<&Engine> {
        self.engines.iter().find(|e| e.name == name)
    }
}

fn version_at(
    file: &Path,
    v: &Option<serde_saphyr::Spanned<String>>,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Option<Version> {
    let s = v.as_ref()?;
    match Version::parse(&s.value) {
        Some(v) => Some(v),
        None => {
            problems.push(
                Problem::at(file, &s.referenced, format!("{what}: `{}` is not a version", s.value))
                    .hint("write a release like \"0.14.0\" (quoted)"),
            );
            None
        }
    }
}

fn range_at(
    file: &Path,
    since: &Option<serde_saphyr::Spanned<String>>,
    until: &Option<serde_saphyr::Spanned<String>>,
    what: &str,
    problems: &mut Vec<Problem>,
) -> Range {
    let since_v = version_at(file, since, &format!("{what}: since"), problems);
    let until_v = version_at(file, until, &format!("{what}: until"), problems);
    if let (Some(a), Some(b), Some(u)) = (&since_v, &until_v, until)
        && a >= b
    {
        problems.push(Problem::at(file, &u.referenced, format!("{what}: `until` {b} is not after `since` {a}")));
    }
    Range { since: since_v, until: until_v }
}

/// A source citation: `file @ release` (the release must parse).
fn check_source(file: &Path, s: &serde_saphyr::Spanned<String>, what: &str, problems: &mut Vec<Problem>) {
    let ok = s.value.rsplit_once(" @ ").is_some_and(|(f, v)| {
        !f.trim().is_empty() && Version::parse(v.split_whitespace().next().unwrap_or_default()).is_some()
    });
    if !ok {
        problems.push(
            Problem::at(file, &s.referenced, format!("{what}: source `{}` does not cite a file and release", s.value))
                .hint("write `path/in/the/package.py @ 0.14.0`"),
        );
    }
}

fn compile_engine(file: &Path, spec: &EngineSpec, problems: &mut Vec<Problem>) -> Option<Engine> {
    let before = problems.len();
    let name = spec.engine.value.clone();
    if !crate::playbook::SERVERS.contains(&name.as_str()) || name == "other" {
        let p = Problem::at(file, &spec.engine.referenced, format!("unknown engine `{name}`"));
        problems.push(match crate::util::closest(&name, crate::playbook::SERVERS.iter().copied()) {
            Some(c) => p.hint(format!("did you mean `{c}`?")),
            None => p.hint(format!("one of: {}", crate::playbook::SERVERS.join(", "))),
        });
    }
    let mut releases = Vec::new();
    for r in &spec.releases.value {
        match Version::parse(r) {
            Some(v) => {
                if releases.last().is_some_and(|l: &Version| *l >= v) {
                    problems.push(
                        Problem::at(
                            file,
                            &spec.releases.referenced,
                            format!("releases: `{r}` is not after the one before"),
                        )
                        .hint("list releases oldest first, each once"),
                    );
                }
                releases.push(v);
            }
            None => {
                problems.push(Problem::at(file, &spec.releases.referenced, format!("releases: `{r}` is not a version")))
            }
        }
    }
    if releases.is_empty() {
        problems.push(Problem::at(
            file,
            &spec.releases.referenced,
            "releases: list the releases the table was read from",
        ));
    }
    // Names first (from the spec, so that a flag with other problems still counts).
    let mut names: Vec<(&str, &Location)> = Vec::new();
    for f in &spec.flags {
        let spelled = std::iter::once(f.value.flag.value.trim()).chain(f.value.aliases.iter().map(|a| a.trim()));
        for n in spelled {
            if let Some((_, first)) = names.iter().find(|(x, _)| *x == n) {
                problems.push(
                    Problem::at(file, &f.value.flag.referenced, format!("`{n}` is defined twice"))
                        .hint(format!("first at line {}", first.line())),
                );
            }
        }
        names.push((f.value.flag.value.trim(), &f.value.flag.referenced));
        names.extend(f.value.aliases.iter().map(|a| (a.trim(), &f.value.flag.referenced)));
    }
    // `unset:` conditions name flags of this engine (a `--no-x` switch counts as `--x`).
    for f in &spec.flags {
        for d in &f.value.defaults {
            for n in d.value.when.iter().flat_map(|w| &w.unset) {
                let base = n.strip_prefix("--no-").map(|b| format!("--{b}"));
                if names.iter().any(|(x, _)| *x == n || Some(*x) == base.as_deref()) {
                    continue;
                }
                let p = Problem::at(
                    file,
                    &d.referenced,
                    format!("flag `{}`: a default's `unset` names unknown flag `{n}`", f.value.flag.value.trim()),
                );
                problems.push(match crate::util::closest(n, names.iter().map(|(x, _)| *x)) {
                    Some(c) => p.hint(format!("did you mean `{c}`?")),
                    None => p.hint("add the flag to the table first"),
                });
            }
        }
    }
    let mut flags: Vec<Flag> = Vec::new();
    for f in &spec.flags {
        if let Some(flag) = compile_flag(file, &f.value, &f.referenced, problems) {
            flags.push(flag);
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(Engine {
        name,
        title: spec.title.clone(),
        releases,
        missing_releases: spec.missing_releases.clone(),
        flags,
        file: file.to_owned(),
    })
}

fn compile_flag(file: &Path, spec: &FlagSpec, loc: &Location, problems: &mut Vec<Problem>) -> Option<Flag> {
    let before = problems.len();
    let name = spec.flag.value.trim().to_owned();
    let what = format!("flag `{name}`");
    if !name.starts_with('-') || name.contains(char::is_whitespace) || name.len() < 2 {
        problems.push(Problem::at(
            file,
            &spec.flag.referenced,
            format!("{what}: a flag starts with `-` and has no blanks"),
        ));
    }
    let ty = FlagType::parse(&spec.ty.value);
    if ty.is_none() {
        let names = ["int", "float", "bool", "string"];
        let p = Problem::at(file, &spec.ty.referenced, format!("{what}: unknown type `{}`", spec.ty.value));
        problems.push(match crate::util::closest(&spec.ty.value, names) {
            Some(c) => p.hint(format!("did you mean `{c}`?")),
            None => p.hint("one of: int, float, bool, string"),
        });
    }
    check_source(file, &spec.source, &what, problems);
    let range = range_at(file, &spec.since, &spec.until, &what, problems);
    let deprecated_since = version_at(file, &spec.deprecated_since, &format!("{what}: deprecated_since"), problems);
    if let (Some(lo), Some(hi)) = (spec.min, spec.max)
        && lo > hi
    {
        problems.push(Problem::at(file, loc, format!("{what}: min {lo} is greater than max {hi}")));
    }
    let mut forms = Vec::new();
    for f in &spec.forms {
        check_source(file, &f.value.source, &format!("{what}: form `{}`", f.value.value), problems);
        let range =
            range_at(file, &f.value.since, &f.value.until, &format!("{what}: form `{}`", f.value.value), problems);
        forms.push(Form {
            value: f.value.value.clone(),
            means: f.value.means.clone(),
            range,
            source: f.value.source.value.clone(),
        });
    }
    let mut defaults = Vec::new();
    for d in &spec.defaults {
        if let Some(def) = compile_default(file, &what, &d.value, &d.referenced, ty, spec, problems) {
            defaults.push(def);
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(Flag {
        key: spec.key.clone().unwrap_or_else(|| name.trim_start_matches('-').replace('-', "_")),
        flag: name,
        aliases: spec.aliases.clone(),
        ty: ty?,
        env: spec.env.clone(),
        range,
        replacement: spec.replacement.clone(),
        deprecated_since,
        min: spec.min,
        min_exclusive: spec.min_exclusive,
        max: spec.max,
        forms,
        defaults,
        source: spec.source.value.clone(),
        note: spec.note.clone(),
    })
}

fn compile_default(
    file: &Path,
    what: &str,
    d: &DefaultSpec,
    loc: &Location,
    ty: Option<FlagType>,
    flag: &FlagSpec,
    problems: &mut Vec<Problem>,
) -> Option<Default> {
    let before = problems.len();
    let what = format!("{what}: default");
    check_source(file, &d.source, &what, problems);
    let range = range_at(file, &d.since, &d.until, &what, problems);
    let value = match (&d.value, &d.computed) {
        (Some(_), Some(_)) => {
            problems.push(Problem::at(file, loc, format!("{what}: write `value` or `computed`, not both")));
            None
        }
        (None, None) => {
            problems.push(
                Problem::at(file, loc, format!("{what}: needs `value` or `computed`"))
                    .hint("`computed: <how the engine picks it>` when it has no fixed default"),
            );
            None
        }
        (Some(v), None) => {
            let v = match v {
                ValueSpec::Bool(b) => Value::Bool(*b),
                ValueSpec::Num(n) => Value::Num(*n),
                ValueSpec::Text(t) => Value::Text(t.clone()),
            };
            if let Some(ty) = ty
                && let Err(e) = check_value(ty, &v, flag.min, flag.min_exclusive, flag.max)
            {
                problems.push(Problem::at(file, loc, format!("{what}: {e}")));
            }
            Some(v)
        }
        (None, Some(_)) => None,
    };
    let when = d.when.as_ref().map(compile_when).unwrap_or_default();
    if problems.len() > before {
        return None;
    }
    Some(Default { range, when, value, computed: d.computed.clone(), source: d.source.value.clone() })
}

fn compile_when(w: &WhenSpec) -> Vec<Cond> {
    let mut out = Vec::new();
    if let Some(g) = w.gpu_memory_gib_at_least {
        out.push(Cond::GpuMemAtLeast(g));
    }
    if let Some(g) = w.gpu_memory_gib_below {
        out.push(Cond::GpuMemBelow(g));
    }
    if !w.gpu_product_excludes.is_empty() {
        out.push(Cond::GpuProductExcludes(w.gpu_product_excludes.iter().map(|s| s.to_ascii_lowercase()).collect()));
    }
    if !w.gpu_product_includes.is_empty() {
        out.push(Cond::GpuProductIncludes(w.gpu_product_includes.iter().map(|s| s.to_ascii_lowercase()).collect()));
    }
    if let Some(c) = w.cuda {
        out.push(Cond::Cuda(c));
    }
    if !w.unset.is_empty() {
        out.push(Cond::Unset(w.unset.clone()));
    }
    for (k, v) in &w.env {
        out.push(Cond::Env(k.clone(), v.clone()));
    }
    out
}

/// Whether a value has the flag's type and lies within its bounds.
pub fn check_value(
    ty: FlagType,
    v: &Value,
    min: Option<f64>,
    min_exclusive: bool,
    max: Option<f64>,
) -> Result<(), String> {
    let n = match (ty, v) {
        (FlagType::Int, Value::Num(n)) if n.fract() == 0.0 => *n,
        (FlagType::Int, other) => return Err(format!("`{other}` is not a whole number")),
        (FlagType::Float, Value::Num(n)) => *n,
        (FlagType::Float, other) => return Err(format!("`{other}` is not a number")),
        (FlagType::Bool, Value::Bool(_)) | (FlagType::Str, Value::Text(_)) => return Ok(()),
        (FlagType::Bool, other) => return Err(format!("`{other}` is not true or false")),
        (FlagType::Str, other) => return Err(format!("`{other}` is not text")),
    };
    if let Some(lo) = min
        && (n < lo || (min_exclusive && n == lo))
    {
        return Err(format!("{n} is {} {lo}", if min_exclusive { "not above" } else { "below" }));
    }
    if let Some(hi) = max
        && n > hi
    {
        return Err(format!("{n} is above {hi}"));
    }
    Ok(())
}
