//! Playbooks: `playbooks/*.yaml` loaded, compiled into validated DAGs of
//! recovery steps, and rendered into concrete [`Plan`]s.
//!
//! Parse → compile → render. [`spec`] mirrors the YAML; [`check`] (and
//! [`PlaybookSet::load`]) compiles every file, collecting *every* problem
//! with `file:line:col` before refusing the set: unknown classes, servers,
//! action types and fields (with "did you mean"), parameter type and bound
//! errors, parameter and step cycles (printed as `a -> b -> a`), unknown
//! and unreachable steps, duplicate ids, mutating steps without a
//! revert path, and flags (written by `set-arg`/`remove-arg`, or read as
//! `effective.--flag`) that the engine table ([`crate::engine`]) of one of
//! the playbook's servers lacks. [`PlaybookSet::plan`] picks the playbook for a
//! [`Diagnosis`](crate::diagnosis::Diagnosis) and renders it against a
//! workload; see [`plan`].

pub mod expr;
pub mod plan;
pub mod spec;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use petgraph::graphmap::DiGraphMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use crate::actions::{ActionKind, FieldType, Presence, Risk};
use crate::class::FailureClass;
use crate::problem::{Problem, Problems};
use expr::{Expr, ParamType, Source, Val};
pub use plan::{Attempt, NodeFault, NodeInfo, ParamValue, Plan, PlanContext, PlannedStep, Policy, Skipped, Target};
use spec::{ConditionSpec, ExprSpec, FileSpec, ParamSpec, PlaybookSpec, StepSpec};

/// Servers a playbook may name in `match.servers`.
pub const SERVERS: &[&str] = &["vllm", "tgi", "sglang", "triton", "ollama", "llama.cpp", "other"];

/// What a step does when it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// Stop the plan; keep what was applied (a person decides).
    Stop,
    /// Stop and revert every applied step, newest first.
    Revert,
    /// Record the failure and go on with the steps that do not need this one.
    Continue,
}

/// How to tell that the fix worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Verification {
    /// The workload must be Ready within this many seconds of the last step.
    pub ready_within_seconds: i64,
    /// And show no new container restart for this many seconds after that.
    pub no_restart_for_seconds: i64,
}

/// How often a playbook may run for one workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Limits {
    /// Seconds after an attempt before the next may start.
    pub cooldown_seconds: i64,
    /// Attempts per workload within `window_seconds`.
    pub max_attempts: i64,
    /// The window for `max_attempts`.
    pub window_seconds: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { cooldown_seconds: 1800, max_attempts: 3, window_seconds: 86400 }
    }
}

/// Where a playbook was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub file: PathBuf,
    /// 1-based line of its `id`.
    pub line: u64,
}

/// A compiled parameter.
#[derive(Debug, Clone)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: ParamType,
    /// References tried first, in order.
    pub from: Vec<Source>,
    /// Computed when `from` gives nothing.
    pub compute: Option<Expr>,
    /// The fallback.
    pub default: Option<Expr>,
    /// Lower bound.
    pub min: Option<Expr>,
    /// Upper bound.
    pub max: Option<Expr>,
}

/// Comparison operators of conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `lt`
    Lt,
    /// `le`
    Le,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Condition {
    /// The value is known.
    Has(Expr),
    /// The value is not known.
    Missing(Expr),
    /// The value compares as stated with each operand.
    Compare(Expr, Vec<(Cmp, Expr)>),
}

/// A compiled step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its id.
    pub id: String,
    /// For people.
    pub description: Option<String>,
    /// The action type.
    pub kind: ActionKind,
    /// The action's fields as written (`${param}` templates unresolved).
    pub fields: BTreeMap<String, Value>,
    /// Steps that must succeed first.
    pub needs: Vec<String>,
    /// What a failure does.
    pub on_failure: OnFailure,
    /// Its risk.
    pub risk: Risk,
    /// Why an irreversible mutation is acceptable.
    pub irreversible: Option<String>,
    /// For `set-arg`: the direction it must move the flag's effective value.
    pub moves: Option<Moves>,
}

/// The direction a `set-arg` step moves its flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moves {
    /// The new value must be above the effective one.
    Raise,
    /// The new value must be below the effective one.
    Lower,
}

/// A compiled playbook.
#[derive(Debug, Clone)]
pub struct Playbook {
    /// Unique id.
    pub id: String,
    /// One line.
    pub title: String,
    /// Why this fix.
    pub description: String,
    /// The class it handles.
    pub class: FailureClass,
    /// Subclasses it handles (all when empty).
    pub subclasses: Vec<String>,
    /// Servers it handles (all when empty).
    pub servers: Vec<String>,
    /// Conditions.
    pub when: Vec<Condition>,
    /// Higher is tried first.
    pub priority: i64,
    /// Its risk (at least every step's).
    pub risk: Risk,
    /// Parameters, each after those it uses.
    pub params: Vec<Param>,
    /// Steps, each after those it needs.
    pub steps: Vec<Step>,
    /// Verification.
    pub verify: Option<Verification>,
    /// Limits.
    pub limits: Limits,
    /// Where it was defined.
    pub origin: Origin,
}

impl Playbook {
    /// Whether any step changes the cluster.
    pub fn is_mutating(&self) -> bool {
        self.steps.iter().any(|s| s.kind.is_mutating())
    }
}

/// The compiled playbooks, with the engine-flag table they were checked
/// against (and that guards their plans).
#[derive(Debug, Clone, Default)]
pub struct PlaybookSet {
    playbooks: Vec<Playbook>,
    engines: std::sync::Arc<crate::engine::EngineTable>,
}

/// Loads and compiles every `.yaml` file of `paths` (files or directories);
/// the entry point of `podmedic check` for playbooks.
pub fn check(paths: &[impl AsRef<Path>]) -> Result<PlaybookSet, Problems> {
    PlaybookSet::load(paths)
}

impl PlaybookSet {
    /// The playbooks compiled into the binary (`playbooks/` at build time).
    pub fn embedded() -> Result<Self, Problems> {
        Self::compile(crate::embedded::PLAYBOOKS.iter().map(|(f, t)| (Path::new(*f), *t)))
    }

    /// Loads and compiles every `.yaml` file of `paths` (files or directories),
    /// checked against the embedded engine table.
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Self, Problems> {
        Self::load_with(paths, crate::engine::EngineTable::embedded()?)
    }

    /// Loads and compiles every `.yaml` file of `paths`, checked against `engines`.
    pub fn load_with(
        paths: &[impl AsRef<Path>],
        engines: std::sync::Arc<crate::engine::EngineTable>,
    ) -> Result<Self, Problems> {
        let (texts, problems) = crate::problem::read_yaml_texts(paths);
        crate::problem::with_read_problems(
            problems,
            Self::compile_with(texts.iter().map(|(f, t)| (f.as_path(), t.as_str())), engines),
        )
    }

    /// Compiles playbook files given as `(path, text)` pairs, checked
    /// against the embedded engine table.
    pub fn compile<'a>(files: impl IntoIterator<Item = (&'a Path, &'a str)>) -> Result<Self, Problems> {
        Self::compile_with(files, crate::engine::EngineTable::embedded()?)
    }

    /// Compiles playbook files given as `(path, text)` pairs, checked against `engines`:
    /// every flag a step writes or reads as `effective.` must be in the
    /// table of each engine the playbook is for.
    pub fn compile_with<'a>(
        files: impl IntoIterator<Item = (&'a Path, &'a str)>,
        engines: std::sync::Arc<crate::engine::EngineTable>,
    ) -> Result<Self, Problems> {
        let mut problems = Vec::new();
        let mut playbooks: Vec<Playbook> = Vec::new();
        let mut seen: HashMap<String, Origin> = HashMap::new();
        for (file, text) in files {
            let parsed: FileSpec = match crate::yaml::from_str(text) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(Problem::new(file, e.line, e.column, e.message));
                    continue;
                }
            };
            for spec in &parsed.playbooks {
                let id = spec.id.value.trim().to_owned();
                if let Some(first) = seen.get(&id) {
                    problems.push(
                        Problem::at(file, &spec.id.referenced, format!("duplicate playbook id `{id}`")).hint(format!(
                            "first defined at {}:{}",
                            first.file.display(),
                            first.line
                        )),
                    );
                    continue;
                }
                seen.insert(id, Origin { file: file.to_owned(), line: spec.id.referenced.line() });
                if let Some(pb) = compile_playbook(file, spec, &mut problems) {
                    check_engine_flags(file, spec, &pb, &engines, &mut problems);
                    playbooks.push(pb);
                }
            }
        }
        if playbooks.is_empty() && problems.is_empty() {
            problems.push(
                Problem::whole_file(Path::new("playbooks"), "no playbooks found").hint("pass the playbooks/ directory"),
            );
        }
        if problems.is_empty() { Ok(PlaybookSet { playbooks, engines }) } else { Err(Problems(problems)) }
    }

    /// The engine-flag table the playbooks were checked against.
    pub fn engines(&self) -> &crate::engine::EngineTable {
        &self.engines
    }

    /// The playbooks, in load order.
    pub fn playbooks(&self) -> &[Playbook] {
        &self.playbooks
    }

    /// A playbook by id.
    pub fn get(&self, id: &str) -> Option<&Playbook> {
        self.playbooks.iter().find(|p| p.id == id)
    }

    /// Number of playbooks.
    pub fn len(&self) -> usize {
        self.playbooks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.playbooks.is_empty()
    }
}

fn kebab(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn choice<T: Copy>(
    given: &Spanned<String>,
    options: &[(&'static str, T)],
    what: &str,
    file: &Path,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    // `what` may carry a prefix naming the playbook and step: "playbook `x`: risk".
    let (prefix, what) = match what.rsplit_once(": ") {
        Some((p, w)) => (format!("{p}: "), w),
        None => (String::new(), what),
    };
    if let Some((_, v)) = options.iter().find(|(n, _)| *n == given.value) {
        return Some(*v);
    }
    let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
    let mut p = Problem::at(file, &given.referenced, format!("{prefix}unknown {what} `{}`", given.value));
    p = match crate::util::closest(&given.value, names.iter().copied()) {
        Some(c) => p.hint(format!("did you mean `{c}`?")),
        None => p.hint(format!("one of: {}", names.join(", "))),
    };
    problems.push(p);
    None
}

const RISKS: &[(&str, Risk)] = &[("low", Risk::Low), ("medium", Risk::Medium), ("high", Risk::High)];

/// Whether a value of type `got` may stand where `want` is declared.
fn assignable(want: ParamType, got: Option<ParamType>) -> Result<(), String> {
    use ParamType::*;
    match (want, got) {
        (_, None) => Ok(()),
        (w, Some(g)) if w == g => Ok(()),
        (Float, Some(Int)) => Ok(()),
        (String, Some(_)) => Ok(()),
        (Int, Some(Float)) => Err("gives a float where an int is declared (use floor or ceil)".into()),
        (Quantity, Some(Int | Float)) => {
            Err("gives a plain number where a quantity is declared (write a quantity like 100Mi, or use a memory reference)".into())
        }
        (w, Some(g)) => Err(format!("gives a {} where a {} is declared", g.as_str(), w.as_str())),
    }
}

fn compile_playbook(file: &Path, spec: &PlaybookSpec, problems: &mut Vec<Problem>) -> Option<Playbook> {
    let before = problems.len();
    let id = spec.id.value.trim().to_owned();
    let at = |loc: &Location, msg: String| Problem::at(file, loc, msg);
    if !kebab(&id) {
        problems.push(at(&spec.id.referenced, format!("playbook id `{id}` must be lowercase kebab-case")));
    }
    let class = match spec.matches.class.value.parse::<FailureClass>() {
        Ok(c) => Some(c),
        Err(e) => {
            let mut p = at(&spec.matches.class.referenced, format!("playbook `{id}`: {e}"));
            if e.suggestion.is_none() {
                p = p.hint(format!("valid classes: {}", FailureClass::ALL.map(|c| c.as_str()).join(", ")));
            }
            problems.push(p);
            None
        }
    };
    let mut servers = Vec::new();
    if let Some(s) = &spec.matches.servers {
        for name in &s.value {
            if SERVERS.contains(&name.as_str()) {
                servers.push(name.clone());
            } else {
                let p = at(&s.referenced, format!("playbook `{id}`: unknown server `{name}`"));
                problems.push(match crate::util::closest(name, SERVERS.iter().copied()) {
                    Some(c) => p.hint(format!("did you mean `{c}`?")),
                    None => p.hint(format!("one of: {}", SERVERS.join(", "))),
                });
            }
        }
    }
    let risk = choice(&spec.risk, RISKS, &format!("playbook `{id}`: risk"), file, problems);
    if let Some(a) = &spec.approval {
        problems.push(
            Problem::at(file, &a.referenced, format!("playbook `{id}`: `approval` is not a playbook setting"))
                .hint("every proposal waits for a human decision; a playbook that changes nothing only informs"),
        );
    }

    // Parameters.
    let names: HashSet<&str> = spec.params.keys().map(String::as_str).collect();
    let known = |n: &str| names.contains(n);
    let mut params: Vec<Param> = Vec::new();
    let mut param_types: HashMap<String, ParamType> = HashMap::new();
    for (name, p) in &spec.params {
        if !p.value.ty.value.is_empty()
            && let Some(t) = ParamType::parse(&p.value.ty.value)
        {
            param_types.insert(name.clone(), t);
        }
    }
    for (name, p) in &spec.params {
        if let Some(param) = compile_param(file, &id, name, p, &known, &param_types, problems) {
            params.push(param);
        }
    }
    let params = order_params(file, &id, params, spec, problems);

    // Conditions.
    let mut when = Vec::new();
    for c in &spec.matches.when {
        match compile_condition(&c.value, &known, &param_types) {
            Ok(cond) => when.push(cond),
            Err(msgs) => {
                for m in msgs {
                    problems.push(at(&c.referenced, format!("playbook `{id}`: condition: {m}")));
                }
            }
        }
    }

    // Steps.
    let steps = compile_steps(file, &id, &spec.steps, &param_types, risk, problems);

    let verify = spec.verify.as_ref().map(|v| {
        for (n, x) in [
            ("ready_within_seconds", v.value.ready_within_seconds),
            ("no_restart_for_seconds", v.value.no_restart_for_seconds),
        ] {
            if x <= 0 {
                problems.push(at(&v.referenced, format!("playbook `{id}`: verify.{n} must be positive, got {x}")));
            }
        }
        Verification {
            ready_within_seconds: v.value.ready_within_seconds,
            no_restart_for_seconds: v.value.no_restart_for_seconds,
        }
    });
    let mutating = steps.iter().any(|s| s.kind.is_mutating());
    if mutating && verify.is_none() {
        problems.push(
            at(&spec.id.referenced, format!("playbook `{id}` changes the cluster but has no `verify`"))
                .hint("add `verify: {ready_within_seconds: N, no_restart_for_seconds: M}`"),
        );
    }
    let mut limits = Limits::default();
    if let Some(l) = &spec.limits {
        let d = Limits::default();
        limits = Limits {
            cooldown_seconds: l.value.cooldown_seconds.unwrap_or(d.cooldown_seconds),
            max_attempts: l.value.max_attempts.unwrap_or(d.max_attempts),
            window_seconds: l.value.window_seconds.unwrap_or(d.window_seconds),
        };
        if limits.cooldown_seconds < 0 || limits.max_attempts < 1 || limits.window_seconds < 1 {
            problems.push(at(
                &l.referenced,
                format!(
                    "playbook `{id}`: limits need cooldown_seconds >= 0, max_attempts >= 1 and window_seconds >= 1"
                ),
            ));
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(Playbook {
        id,
        title: spec.title.clone(),
        description: spec.description.trim().to_owned(),
        class: class?,
        subclasses: spec.matches.subclasses.clone(),
        servers,
        when,
        priority: spec.priority,
        risk: risk?,
        params: params?,
        steps,
        verify,
        limits,
        origin: Origin { file: file.to_owned(), line: spec.id.referenced.line() },
    })
}

fn compile_param(
    file: &Path,
    pb: &str,
    name: &str,
    p: &Spanned<ParamSpec>,
    known: &dyn Fn(&str) -> bool,
    types: &HashMap<String, ParamType>,
    problems: &mut Vec<Problem>,
) -> Option<Param> {
    let before = problems.len();
    let spec = &p.value;
    let at =
        |loc: &Location, msg: String| Problem::at(file, loc, format!("playbook `{pb}`: parameter `{name}`: {msg}"));
    if !name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        problems.push(at(&p.referenced, "names must be snake_case".into()));
    }
    let ty = match ParamType::parse(&spec.ty.value) {
        Some(t) => Some(t),
        None => {
            let mut pr = at(&spec.ty.referenced, format!("unknown type `{}`", spec.ty.value));
            pr = match crate::util::closest(&spec.ty.value, ParamType::NAMES) {
                Some(c) => pr.hint(format!("did you mean `{c}`?")),
                None => pr.hint(format!("one of: {}", ParamType::NAMES.join(", "))),
            };
            problems.push(pr);
            None
        }
    };
    let ptype = |n: &str| types.get(n).copied();
    let mut from = Vec::new();
    if let Some(f) = &spec.from {
        for r in &f.value {
            match expr::parse_source(r) {
                Ok(s) => {
                    if let Some(t) = ty
                        && let Err(e) = assignable(t, expr::source_type(&s))
                    {
                        problems.push(at(&f.referenced, format!("`{r}` {e}")));
                    }
                    from.push(s);
                }
                Err(e) => problems.push(at(&f.referenced, e)),
            }
        }
    }
    let mut compile_expr = |e: &Spanned<ExprSpec>, what: &str| -> Option<Expr> {
        let mut msgs = Vec::new();
        let out = expr::compile(&e.value, known, &mut msgs);
        for m in msgs {
            problems.push(at(&e.referenced, format!("{what}: {m}")));
        }
        let out = out?;
        if let Some(t) = ty
            && let Err(m) = assignable(t, expr::static_type(&out, &ptype))
        {
            problems.push(at(&e.referenced, format!("{what} {m}")));
        }
        Some(out)
    };
    let compute = spec.compute.as_ref().and_then(|e| compile_expr(e, "compute"));
    // A string parameter's default is always literal text, even when it reads like a name.
    let default = match (&spec.default, ty) {
        (Some(Spanned { value: ExprSpec::Text(t), .. }), Some(ParamType::String)) => {
            Some(Expr::Const(Val::Str(t.clone()), ParamType::String))
        }
        (d, _) => d.as_ref().and_then(|e| compile_expr(e, "default")),
    };
    let min = spec.min.as_ref().and_then(|e| compile_expr(e, "min"));
    let max = spec.max.as_ref().and_then(|e| compile_expr(e, "max"));
    if spec.from.is_none() && spec.compute.is_none() && spec.default.is_none() {
        problems.push(at(&p.referenced, "needs `from`, `compute` or `default`".into()));
    }
    if let (Some(d), Some(spec_d)) = (&default, &spec.default)
        && !matches!(d, Expr::Const(..))
    {
        problems.push(at(&spec_d.referenced, "default must be a constant".into()));
    }
    let constant = |e: &Option<Expr>| match e {
        Some(Expr::Const(Val::Num(n), _)) => Some(*n),
        _ => None,
    };
    if let (Some(lo), Some(hi)) = (constant(&min), constant(&max))
        && lo > hi
    {
        problems.push(at(&p.referenced, format!("min {lo} is greater than max {hi}")));
    }
    if let Some(d) = constant(&default) {
        if let Some(lo) = constant(&min).filter(|lo| d < *lo) {
            problems.push(at(&p.referenced, format!("default {d} is below min {lo}")));
        }
        if let Some(hi) = constant(&max).filter(|hi| d > *hi) {
            problems.push(at(&p.referenced, format!("default {d} is above max {hi}")));
        }
    }
    if problems.len() > before {
        return None;
    }
    Some(Param { name: name.to_owned(), ty: ty?, from, compute, default, min, max })
}

/// A cycle in `graph` through `start`, as `a -> b -> a`.
fn cycle_path(graph: &DiGraphMap<&str, ()>, scc: &[&str]) -> String {
    let set: HashSet<&str> = scc.iter().copied().collect();
    let mut sorted: Vec<&str> = scc.to_vec();
    sorted.sort();
    let start = sorted[0];
    // DFS within the component back to start.
    let mut path = vec![start];
    let mut visited = HashSet::new();
    fn dfs<'a>(
        g: &DiGraphMap<&'a str, ()>,
        set: &HashSet<&'a str>,
        start: &'a str,
        path: &mut Vec<&'a str>,
        visited: &mut HashSet<&'a str>,
    ) -> bool {
        let cur = *path.last().expect("path starts non-empty");
        let mut next: Vec<&str> = g.neighbors(cur).filter(|n| set.contains(n)).collect();
        next.sort();
        for n in next {
            if n == start {
                path.push(n);
                return true;
            }
            if visited.insert(n) {
                path.push(n);
                if dfs(g, set, start, path, visited) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    dfs(graph, &set, start, &mut path, &mut visited);
    path.join(" -> ")
}

/// Components of `graph` that are cycles (size > 1, or a self-loop).
fn cycles<'a>(graph: &DiGraphMap<&'a str, ()>) -> Vec<Vec<&'a str>> {
    petgraph::algo::kosaraju_scc(graph).into_iter().filter(|c| c.len() > 1 || graph.contains_edge(c[0], c[0])).collect()
}

fn order_params(
    file: &Path,
    pb: &str,
    params: Vec<Param>,
    spec: &PlaybookSpec,
    problems: &mut Vec<Problem>,
) -> Option<Vec<Param>> {
    let mut g: DiGraphMap<&str, ()> = DiGraphMap::new();
    for p in &params {
        g.add_node(&p.name);
        let mut refs = Vec::new();
        for e in [&p.compute, &p.default, &p.min, &p.max].into_iter().flatten() {
            expr::param_refs(e, &mut refs);
        }
        for r in refs {
            // Edge: user -> used, so that a cycle prints as `a -> b -> a`: a uses b uses a.
            g.add_edge(&p.name, r, ());
        }
    }
    let cyc = cycles(&g);
    if !cyc.is_empty() {
        for c in cyc {
            let path = cycle_path(&g, &c);
            let first = path.split(" -> ").next().unwrap_or_default().to_owned();
            let loc = spec.params.get(&first).map_or(Location::UNKNOWN, |p| p.referenced);
            problems.push(Problem::at(file, &loc, format!("playbook `{pb}`: parameter cycle: {path}")));
        }
        return None;
    }
    // Users come first in a toposort of `uses` edges: evaluate in reverse.
    let order: Vec<String> = petgraph::algo::toposort(&g, None).ok()?.into_iter().rev().map(str::to_owned).collect();
    let mut by_name: HashMap<String, Param> = params.into_iter().map(|p| (p.name.clone(), p)).collect();
    Some(order.iter().filter_map(|n| by_name.remove(n)).collect())
}

fn compile_condition(
    c: &ConditionSpec,
    known: &dyn Fn(&str) -> bool,
    types: &HashMap<String, ParamType>,
) -> Result<Condition, Vec<String>> {
    let mut msgs = Vec::new();
    let ops: Vec<(Cmp, &ExprSpec)> =
        [(Cmp::Eq, &c.eq), (Cmp::Ne, &c.ne), (Cmp::Lt, &c.lt), (Cmp::Le, &c.le), (Cmp::Gt, &c.gt), (Cmp::Ge, &c.ge)]
            .into_iter()
            .filter_map(|(op, e)| e.as_ref().map(|e| (op, e)))
            .collect();
    let heads = [c.has.is_some(), c.missing.is_some(), c.value.is_some()].iter().filter(|b| **b).count();
    if heads != 1 {
        return Err(vec!["write exactly one of `has`, `missing` or `value`".into()]);
    }
    let ptype = |n: &str| types.get(n).copied();
    let text = |s: &String, msgs: &mut Vec<String>| expr::compile(&ExprSpec::Text(s.clone()), known, msgs);
    let cond = if let Some(h) = &c.has {
        if !ops.is_empty() {
            msgs.push("`has` takes no comparison".into());
        }
        text(h, &mut msgs).map(Condition::Has)
    } else if let Some(m) = &c.missing {
        if !ops.is_empty() {
            msgs.push("`missing` takes no comparison".into());
        }
        text(m, &mut msgs).map(Condition::Missing)
    } else {
        let v = expr::compile(c.value.as_ref().expect("counted above"), known, &mut msgs);
        if ops.is_empty() {
            msgs.push("`value` needs a comparison (eq, ne, lt, le, gt, ge)".into());
        }
        let mut cmps = Vec::new();
        let versioned = v.as_ref().is_some_and(|l| expr::static_type(l, &ptype) == Some(ParamType::Version));
        for (op, e) in ops {
            let rhs = if versioned {
                match e {
                    ExprSpec::Text(t) if !t.contains('.') || !is_reference(t) => match crate::engine::Version::parse(t)
                    {
                        Some(ver) => Some(Expr::Const(Val::Str(ver.to_string()), ParamType::Version)),
                        None => {
                            msgs.push(format!("`{t}` is not a version (write a release like \"0.14.0\")"));
                            None
                        }
                    },
                    ExprSpec::Num(n) => {
                        msgs.push(format!("write the version {n} in quotes (\"0.20.0\", not 0.20)"));
                        None
                    }
                    other => expr::compile(other, known, &mut msgs),
                }
            } else {
                expr::compile(e, known, &mut msgs)
            };
            if let Some(rhs) = rhs {
                if let Some(lhs) = &v {
                    let (a, b) = (expr::static_type(lhs, &ptype), expr::static_type(&rhs, &ptype));
                    let boolish = |t: Option<ParamType>| t == Some(ParamType::Bool);
                    if (a.is_some() && b.is_some()) && boolish(a) != boolish(b) {
                        msgs.push(format!(
                            "cannot compare {} ({}) with {} ({})",
                            expr::show(lhs),
                            a.map_or("text", |t| t.as_str()),
                            expr::show(&rhs),
                            b.map_or("text", |t| t.as_str())
                        ));
                    }
                    if boolish(a) && !matches!(op, Cmp::Eq | Cmp::Ne) {
                        msgs.push(format!("{} is a bool: compare it with eq or ne", expr::show(lhs)));
                    }
                }
                cmps.push((op, rhs));
            }
        }
        v.map(|v| Condition::Compare(v, cmps))
    };
    if msgs.is_empty() { cond.ok_or_else(Vec::new) } else { Err(msgs) }
}

/// Whether a text operand is a dotted reference (`fact.engine_version`)
/// rather than a constant (`0.14.0`).
fn is_reference(t: &str) -> bool {
    t.split_once('.').is_some_and(|(ns, _)| expr::NAMESPACES.contains(&ns))
}

/// Every flag a playbook writes (`set-arg`, `remove-arg` with a literal
/// flag) or reads (`effective.`) must be in the table of each engine it is
/// for; a playbook that sets flags must name its servers.
fn check_engine_flags(
    file: &Path,
    spec: &PlaybookSpec,
    pb: &Playbook,
    engines: &crate::engine::EngineTable,
    problems: &mut Vec<Problem>,
) {
    let tables: Vec<&crate::engine::Engine> = pb.servers.iter().filter_map(|s| engines.engine(s)).collect();
    let mut check = |flag: &str, loc: &Location, what: &str| {
        if pb.servers.is_empty() {
            problems.push(
                Problem::at(file, loc, format!("playbook `{}`: {what} `{flag}` but names no servers", pb.id))
                    .hint("say which engines' flag it is with `match.servers`"),
            );
            return;
        }
        for t in &tables {
            if t.flag(flag).is_none() {
                let p = Problem::at(
                    file,
                    loc,
                    format!("playbook `{}`: {what} `{flag}`, which the {} table does not know", pb.id, t.title),
                );
                problems.push(match crate::util::closest(flag, t.flags.iter().map(|f| f.flag.as_str())) {
                    Some(c) => p.hint(format!("did you mean `{c}`?")),
                    None => p.hint(format!("add it to {} with the releases that accept it", t.file.display())),
                });
            }
        }
    };
    for s in &spec.steps.value {
        let kind = s.action.value.get("type").and_then(|t| t.value.as_str());
        if !matches!(kind, Some("set-arg" | "remove-arg")) {
            continue;
        }
        if let Some(f) = s.action.value.get("flag")
            && let Some(flag) = f.value.as_str()
            && !flag.contains("${")
        {
            check(flag, &f.referenced, "a step writes");
        }
    }
    let mut in_when = Vec::new();
    for c in &pb.when {
        match c {
            Condition::Has(e) | Condition::Missing(e) => sources(e, &mut in_when),
            Condition::Compare(l, cmps) => {
                sources(l, &mut in_when);
                cmps.iter().for_each(|(_, r)| sources(r, &mut in_when));
            }
        }
    }
    for r in in_when {
        if let Source::Effective(flag, _) = r {
            check(flag, &spec.id.referenced, "a condition reads");
        }
    }
    for p in &pb.params {
        let mut refs: Vec<&Source> = p.from.iter().collect();
        let mut found = Vec::new();
        for e in [&p.compute, &p.default, &p.min, &p.max].into_iter().flatten() {
            sources(e, &mut found);
        }
        refs.extend(found);
        for r in refs {
            if let Source::Effective(flag, _) = r {
                let loc = spec.params.get(&p.name).map_or(Location::UNKNOWN, |x| x.referenced);
                check(flag, &loc, &format!("parameter `{}` reads", p.name));
            }
        }
    }
}

fn sources<'a>(e: &'a Expr, out: &mut Vec<&'a Source>) {
    match e {
        Expr::Source(s) => out.push(s),
        Expr::Op(_, args) => args.iter().for_each(|a| sources(a, out)),
        _ => {}
    }
}

/// `${name}` references in a template string.
pub fn template_refs(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("${") {
        let after = &rest[open + 2..];
        let close = after.find('}').ok_or_else(|| format!("unclosed `${{` in {s:?}"))?;
        out.push(after[..close].trim());
        rest = &after[close + 1..];
    }
    Ok(out)
}

fn check_field(field: &crate::actions::Field, v: &Value, types: &HashMap<String, ParamType>, msgs: &mut Vec<String>) {
    let name = field.name;
    let refs = |s: &str, msgs: &mut Vec<String>| -> Vec<(String, Option<ParamType>)> {
        match template_refs(s) {
            Ok(rs) => rs
                .into_iter()
                .map(|r| {
                    let t = types.get(r).copied();
                    if t.is_none() {
                        let hint = crate::util::closest(r, types.keys().map(String::as_str))
                            .map(|c| format!("; did you mean `{c}`?"))
                            .unwrap_or_default();
                        msgs.push(format!("`{name}` uses unknown parameter `{r}`{hint}"));
                    }
                    (r.to_owned(), t)
                })
                .collect(),
            Err(e) => {
                msgs.push(format!("`{name}`: {e}"));
                Vec::new()
            }
        }
    };
    let whole = |s: &str| s.trim().starts_with("${") && s.trim().ends_with('}') && s.matches("${").count() == 1;
    let want = |ok: &[ParamType], label: &str, s: &str, msgs: &mut Vec<String>| {
        for (r, t) in refs(s, msgs) {
            if let Some(t) = t
                && !ok.contains(&t)
            {
                msgs.push(format!("`{name}` needs {label}, but parameter `{r}` is a {}", t.as_str()));
            }
        }
    };
    match field.ty {
        FieldType::Str => match v {
            Value::String(s) => {
                refs(s, msgs);
            }
            Value::Number(_) => {}
            _ => msgs.push(format!("`{name}` must be text")),
        },
        FieldType::Int => match v {
            Value::Number(n) if n.is_i64() => {}
            Value::String(s) if whole(s) => want(&[ParamType::Int], "an int", s, msgs),
            _ => msgs.push(format!("`{name}` must be an integer or `${{int parameter}}`")),
        },
        FieldType::Quantity => match v {
            Value::String(s) if whole(s) => want(&[ParamType::Quantity], "a quantity", s, msgs),
            Value::String(s) if crate::actions::quantity::parse(s).is_ok() => {}
            _ => msgs.push(format!("`{name}` must be a quantity like 16Gi or `${{quantity parameter}}`")),
        },
        FieldType::StrList => match v {
            Value::Array(items) => {
                for i in items {
                    match i {
                        Value::String(s) => {
                            refs(s, msgs);
                        }
                        Value::Number(_) => {}
                        _ => msgs.push(format!("`{name}` must be a list of strings")),
                    }
                }
            }
            _ => msgs.push(format!("`{name}` must be a list")),
        },
        FieldType::QuantityMap => match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, q) in m {
                    match q {
                        Value::String(s) if whole(s) => {
                            want(&[ParamType::Quantity, ParamType::Int], "a quantity or an int", s, msgs)
                        }
                        Value::String(s) if crate::actions::quantity::parse(s).is_ok() => {}
                        Value::Number(_) => {}
                        _ => msgs.push(format!("`{name}.{k}` must be a quantity")),
                    }
                }
            }
            _ => msgs.push(format!("`{name}` must be a map of resource to quantity")),
        },
        FieldType::Enum(options) => match v {
            Value::String(s) if whole(s) => want(&[ParamType::String], "text", s, msgs),
            Value::String(s) if options.contains(&s.as_str()) => {}
            Value::String(s) => {
                let hint = crate::util::closest(s, options.iter().copied())
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                msgs.push(format!("`{name}` must be one of {}, got `{s}`{hint}", options.join(", ")));
            }
            _ => msgs.push(format!("`{name}` must be one of {}", options.join(", "))),
        },
    }
}

const ON_FAILURE: &[(&str, OnFailure)] =
    &[("stop", OnFailure::Stop), ("revert", OnFailure::Revert), ("continue", OnFailure::Continue)];

fn compile_steps(
    file: &Path,
    pb: &str,
    steps: &Spanned<Vec<StepSpec>>,
    types: &HashMap<String, ParamType>,
    pb_risk: Option<Risk>,
    problems: &mut Vec<Problem>,
) -> Vec<Step> {
    let at = |loc: &Location, msg: String| Problem::at(file, loc, format!("playbook `{pb}`: {msg}"));
    if steps.value.is_empty() {
        problems.push(at(&steps.referenced, "has no steps".into()));
        return Vec::new();
    }
    let mut out: Vec<Step> = Vec::new();
    let mut locs: HashMap<String, Location> = HashMap::new();
    let ids: Vec<&str> = steps.value.iter().map(|s| s.id.value.as_str()).collect();
    for s in &steps.value {
        let sid = s.id.value.trim().to_owned();
        if !kebab(&sid) {
            problems.push(at(&s.id.referenced, format!("step id `{sid}` must be lowercase kebab-case")));
        }
        if let Some(first) = locs.get(&sid) {
            problems.push(
                at(&s.id.referenced, format!("duplicate step id `{sid}`"))
                    .hint(format!("first defined at line {}", first.line())),
            );
            continue;
        }
        locs.insert(sid.clone(), s.id.referenced);
        let step_at = |loc: &Location, msg: String| at(loc, format!("step `{sid}`: {msg}"));
        // The action type and fields.
        let kind = match s.action.value.get("type") {
            None => {
                problems.push(step_at(&s.action.referenced, "the action has no `type`".into()));
                None
            }
            Some(t) => match t.value.as_str().and_then(ActionKind::parse) {
                Some(k) => Some(k),
                None => {
                    let given = t.value.as_str().map_or_else(|| t.value.to_string(), str::to_owned);
                    let names = ActionKind::ALL.map(|k| k.as_str());
                    let p = step_at(&t.referenced, format!("unknown action type `{given}`"));
                    problems.push(match crate::util::closest(&given, names) {
                        Some(c) => p.hint(format!("did you mean `{c}`?")),
                        None => p.hint(format!("one of: {}", names.join(", "))),
                    });
                    None
                }
            },
        };
        let Some(kind) = kind else { continue };
        let mut fields = BTreeMap::new();
        for (k, v) in &s.action.value {
            if k == "type" {
                continue;
            }
            let Some(field) = kind.fields().iter().find(|f| f.name == k) else {
                let names: Vec<&str> =
                    kind.fields().iter().filter(|f| f.presence != Presence::Internal).map(|f| f.name).collect();
                let p = step_at(&v.referenced, format!("`{kind}` has no field `{k}`"));
                problems.push(match crate::util::closest(k, names.iter().copied()) {
                    Some(c) => p.hint(format!("did you mean `{c}`?")),
                    None if names.is_empty() => p.hint(format!("`{kind}` takes no fields")),
                    None => p.hint(format!("fields: {}", names.join(", "))),
                });
                continue;
            };
            if field.presence == Presence::Internal {
                problems
                    .push(step_at(&v.referenced, format!("`{k}` of `{kind}` is filled in by the renderer; remove it")));
                continue;
            }
            let mut msgs = Vec::new();
            check_field(field, &v.value, types, &mut msgs);
            for m in msgs {
                problems.push(step_at(&v.referenced, m));
            }
            fields.insert(k.clone(), v.value.clone());
        }
        for f in kind.fields() {
            if f.presence == Presence::Required && !s.action.value.contains_key(f.name) {
                problems.push(step_at(&s.action.referenced, format!("`{kind}` needs `{}`", f.name)));
            }
        }
        if kind == ActionKind::SetResources && !fields.contains_key("limits") && !fields.contains_key("requests") {
            problems.push(step_at(&s.action.referenced, "`set-resources` needs `limits` or `requests`".into()));
        }
        if kind == ActionKind::AddNodeAffinity
            && let Some(op) = fields.get("operator").and_then(Value::as_str)
        {
            let n = fields.get("values").and_then(Value::as_array).map_or(0, Vec::len);
            let ok = match op {
                "Gt" | "Lt" => n == 1,
                "Exists" | "DoesNotExist" => n == 0,
                _ => n >= 1,
            };
            if !ok {
                problems.push(step_at(
                    &s.action.referenced,
                    format!(
                        "operator `{op}` takes {}",
                        match op {
                            "Gt" | "Lt" => "exactly one value",
                            "Exists" | "DoesNotExist" => "no values",
                            _ => "at least one value",
                        }
                    ),
                ));
            }
        }
        let mutating = kind.is_mutating();
        let on_failure = match &s.on_failure {
            Some(o) => choice(o, ON_FAILURE, &format!("playbook `{pb}`: step `{sid}`: on_failure"), file, problems),
            None if mutating && kind.is_revertible() => Some(OnFailure::Revert),
            None => Some(OnFailure::Stop),
        };
        let risk = match &s.risk {
            Some(r) => choice(r, RISKS, &format!("playbook `{pb}`: step `{sid}`: risk"), file, problems),
            None => Some(kind.default_risk()),
        };
        if let (Some(r), Some(pr)) = (risk, pb_risk)
            && r > pr
        {
            let loc = s.risk.as_ref().map_or(s.id.referenced, |r| r.referenced);
            problems.push(
                step_at(&loc, format!("risk {} is above the playbook's risk {}", r.as_str(), pr.as_str()))
                    .hint("raise the playbook's `risk` so approvers see it"),
            );
        }
        if mutating && !kind.is_revertible() && s.irreversible.is_none() {
            problems.push(
                step_at(&s.id.referenced, format!("`{kind}` changes the cluster and has no revert path"))
                    .hint("say why that is safe with `irreversible: <reason>`"),
            );
        }
        if mutating && on_failure == Some(OnFailure::Continue) {
            let loc = s.on_failure.as_ref().map_or(s.id.referenced, |o| o.referenced);
            problems.push(step_at(&loc, "a failed change must `stop` or `revert`, not `continue`".into()));
        }
        let mut needs = Vec::new();
        if let Some(n) = &s.needs {
            for dep in &n.value {
                if !ids.contains(&dep.as_str()) {
                    let p = step_at(&n.referenced, format!("needs unknown step `{dep}`"));
                    problems.push(match crate::util::closest(dep, ids.iter().copied()) {
                        Some(c) => p.hint(format!("did you mean `{c}`?")),
                        None => p,
                    });
                }
                needs.push(dep.clone());
            }
        }
        let moves = match &s.moves {
            None => None,
            Some(m) => {
                if kind != ActionKind::SetArg {
                    problems.push(step_at(&m.referenced, format!("`moves` is for `set-arg` steps, not `{kind}`")));
                }
                choice(
                    m,
                    &[("raise", Moves::Raise), ("lower", Moves::Lower)],
                    &format!("playbook `{pb}`: step `{sid}`: moves"),
                    file,
                    problems,
                )
            }
        };
        if let (Some(on_failure), Some(risk)) = (on_failure, risk) {
            out.push(Step {
                moves,
                id: sid,
                description: s.description.clone(),
                kind,
                fields,
                needs,
                on_failure,
                risk,
                irreversible: s.irreversible.clone(),
            });
        }
    }
    order_steps(file, pb, out, &locs, problems)
}

fn order_steps(
    file: &Path,
    pb: &str,
    steps: Vec<Step>,
    locs: &HashMap<String, Location>,
    problems: &mut Vec<Problem>,
) -> Vec<Step> {
    let mut g: DiGraphMap<&str, ()> = DiGraphMap::new();
    for s in &steps {
        g.add_node(&s.id);
    }
    for s in &steps {
        for n in &s.needs {
            if g.contains_node(n) {
                g.add_edge(n.as_str(), s.id.as_str(), ());
            }
        }
    }
    let at = |id: &str, msg: String| {
        Problem::at(file, &locs.get(id).copied().unwrap_or(Location::UNKNOWN), format!("playbook `{pb}`: {msg}"))
    };
    // Cycles, printed along `needs` (a needs b needs a).
    let mut rev: DiGraphMap<&str, ()> = DiGraphMap::new();
    for (a, b, _) in g.all_edges() {
        rev.add_edge(b, a, ());
    }
    let mut broken: HashSet<String> = HashSet::new();
    let mut reported = false;
    for c in cycles(&rev) {
        let path = cycle_path(&rev, &c);
        let first = path.split(" -> ").next().unwrap_or_default().to_owned();
        problems.push(at(&first, format!("step cycle: {path}")).hint("`a -> b` reads: step a needs step b"));
        broken.extend(c.iter().map(|s| s.to_string()));
        reported = true;
    }
    for s in &steps {
        if s.needs.iter().any(|n| !g.contains_node(n.as_str())) {
            broken.insert(s.id.clone());
        }
    }
    // Steps that need a broken step can never run.
    let mut changed = true;
    let mut unreachable: Vec<(String, String)> = Vec::new();
    while changed {
        changed = false;
        for s in &steps {
            if broken.contains(&s.id) {
                continue;
            }
            if let Some(n) = s.needs.iter().find(|n| broken.contains(n.as_str())) {
                unreachable.push((
                    s.id.clone(),
                    format!("step `{}` is unreachable: it needs `{n}`, which can never run", s.id),
                ));
                broken.insert(s.id.clone());
                changed = true;
            }
        }
    }
    for (id, msg) in unreachable {
        problems.push(at(&id, msg));
        reported = true;
    }
    if reported || !broken.is_empty() {
        return steps;
    }
    stable_topo(steps)
}

/// Orders steps so that each comes after those it needs and, among ready
/// steps, the one written first comes first (Kahn's algorithm with a
/// positional tie-break). The graph is known to be acyclic.
fn stable_topo(steps: Vec<Step>) -> Vec<Step> {
    let mut pending: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(pending.len());
    while out.len() < pending.len() {
        let next = pending.iter().position(|s| s.as_ref().is_some_and(|s| s.needs.iter().all(|n| done.contains(n))));
        let Some(i) = next else { break };
        let s = pending[i].take().expect("position found a pending step");
        done.insert(s.id.clone());
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests;
