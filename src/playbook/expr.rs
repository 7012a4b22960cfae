//! Parameter expressions: references to evidence, the workload and the
//! policy; a few operations; static types for the compile pass; evaluation.

use super::spec::{ExprSpec, OpSpec};
use crate::actions::quantity;

/// The declared type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    /// A whole number (computed values are truncated toward zero).
    Int,
    /// A number, rounded to 4 decimals.
    Float,
    /// A memory size in bytes, written as a Kubernetes quantity (rounded up to a whole Mi).
    Quantity,
    /// Text.
    String,
    /// `true` or `false`.
    Bool,
    /// A release version (`0.14.0`); compares as versions do.
    Version,
}

impl ParamType {
    /// Parses a type name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "int" => ParamType::Int,
            "float" => ParamType::Float,
            "quantity" => ParamType::Quantity,
            "string" => ParamType::String,
            "bool" => ParamType::Bool,
            "version" => ParamType::Version,
            _ => return None,
        })
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Quantity => "quantity",
            ParamType::String => "string",
            ParamType::Bool => "bool",
            ParamType::Version => "version",
        }
    }

    /// Type names, for hints.
    pub const NAMES: [&'static str; 6] = ["int", "float", "quantity", "string", "bool", "version"];
}

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A number (bytes for quantities).
    Num(f64),
    /// Text (captures, args, labels).
    Str(String),
    /// A truth value.
    Bool(bool),
}

impl Val {
    /// The value as a number, parsing text leniently (`20144`, `0.9`, `32k`, `16Gi`).
    pub fn num(&self) -> Option<f64> {
        match self {
            Val::Num(n) => Some(*n),
            Val::Bool(_) => None,
            Val::Str(s) => parse_number(s),
        }
    }
}

/// Parses `20144`, `0.9`, `32k`/`32K` (vLLM's human-readable forms), `16Gi`.
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if let Ok(n) = t.parse::<f64>() {
        return n.is_finite().then_some(n);
    }
    for (suffix, mult) in [("K", 1024.0), ("k", 1000.0)] {
        if let Some(n) = t.strip_suffix(suffix).and_then(|n| n.parse::<f64>().ok()) {
            return Some(n * mult);
        }
    }
    quantity::parse(t).ok()
}

/// Reference namespaces.
pub const NAMESPACES: &[&str] = &[
    "capture",
    "arg",
    "effective",
    "env",
    "limit",
    "request",
    "probe",
    "fact",
    "metric",
    "node",
    "nodes",
    "policy",
    "workload",
    "revision",
];

/// `metric.SIGNAL.STAT`: the signals of [`crate::signals::Signal::CONTRACT`]
/// and the statistics of their summaries; every one is a float.
pub const METRIC_STATS: &[&str] = &["last", "max", "min", "mean"];

/// `fact.*` names and their types.
pub const FACTS: &[(&str, ParamType)] = &[
    ("ran_seconds", ParamType::Int),
    ("load_seconds", ParamType::Int),
    ("restart_count", ParamType::Int),
    ("exit_code", ParamType::Int),
    ("oom_killed", ParamType::Bool),
    ("node", ParamType::String),
    ("pod", ParamType::String),
    ("image", ParamType::String),
    ("peak_memory", ParamType::Quantity),
    ("summary", ParamType::String),
    ("subclass", ParamType::String),
    ("evidence", ParamType::String),
    ("engine", ParamType::String),
    ("engine_version", ParamType::Version),
    ("engine_version_source", ParamType::String),
    ("gpu_product", ParamType::String),
    ("gpu_memory", ParamType::Quantity),
];

/// `policy.*` names and their types (see `Policy`).
pub const POLICY: &[(&str, ParamType)] = &[
    ("prefer_keep_context", ParamType::Bool),
    ("max_gpu_memory_utilization", ParamType::Float),
    ("min_context_length", ParamType::Int),
    ("max_memory_limit", ParamType::Quantity),
    ("max_attempts_per_day", ParamType::Int),
    ("max_shm_size", ParamType::Quantity),
    ("max_startup_seconds", ParamType::Int),
    ("max_model_len_auto", ParamType::Bool),
];

/// `workload.*` names and their types.
pub const WORKLOAD: &[(&str, ParamType)] = &[
    ("replicas", ParamType::Int),
    ("shm_size", ParamType::Quantity),
    ("kind", ParamType::String),
    ("container", ParamType::String),
    ("managed", ParamType::Bool),
];

/// Probe kinds and fields.
pub const PROBES: &[&str] = &["startup", "liveness", "readiness"];
/// Probe fields (snake case) with Kubernetes' defaults.
pub const PROBE_FIELDS: &[(&str, &str, i64)] = &[
    ("failure_threshold", "failureThreshold", 3),
    ("period_seconds", "periodSeconds", 10),
    ("initial_delay_seconds", "initialDelaySeconds", 0),
    ("timeout_seconds", "timeoutSeconds", 1),
];

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A diagnosis capture.
    Capture(String),
    /// The target container's current flag value.
    Arg(String),
    /// The flag's effective value for the running engine (printed, given or
    /// the table's default for the version and GPU); with the bound -1/1,
    /// the lowest/highest value it may have when only a range is known.
    Effective(String, i8),
    /// The target container's env var.
    Env(String),
    /// The target container's limit.
    Limit(String),
    /// The target container's request.
    Request(String),
    /// A probe field (`startup`, `failure_threshold`).
    Probe(String, String),
    /// A fact about the crash.
    Fact(String),
    /// A statistic of a serving signal before the crash (`kv_cache_usage`, `max`).
    Metric(String, String),
    /// The node's allocatable resource.
    NodeAllocatable(String),
    /// The node's label.
    NodeLabel(String),
    /// The largest integer value of a label across candidate nodes.
    NodesMax(String),
    /// A policy field.
    Policy(String),
    /// A workload field.
    Workload(String),
    /// The previous revision's number.
    PreviousRevision,
}

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant, with its static type.
    Const(Val, ParamType),
    /// Another parameter.
    Param(String),
    /// A reference.
    Source(Source),
    /// An operation.
    Op(Op, Vec<Expr>),
}

/// Operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Sum.
    Add,
    /// Difference.
    Sub,
    /// Product.
    Mul,
    /// Quotient.
    Div,
    /// Smallest present.
    Min,
    /// Largest present.
    Max,
    /// First present.
    First,
    /// Floor.
    Floor,
    /// Ceiling.
    Ceil,
    /// Round down to a multiple.
    RoundDown,
    /// Version major.
    Major,
    /// CUDA → driver.
    DriverForCuda,
    /// CUDA → next driver.
    DriverAboveCuda,
    /// Whether the running engine version no longer accepts a flag.
    FlagRemoved,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Min => "min",
            Op::Max => "max",
            Op::First => "first",
            Op::Floor => "floor",
            Op::Ceil => "ceil",
            Op::RoundDown => "round_down",
            Op::Major => "major",
            Op::DriverForCuda => "driver_for_cuda",
            Op::DriverAboveCuda => "driver_above_cuda",
            Op::FlagRemoved => "flag_removed",
        }
    }
}

fn is_ident(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_lowercase() || c == b'_')
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

fn named(list: &[(&'static str, ParamType)], name: &str, what: &str) -> Result<ParamType, String> {
    list.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).ok_or_else(|| {
        let mut m = format!("unknown {what} `{name}`");
        match crate::util::closest(name, list.iter().map(|(n, _)| *n)) {
            Some(c) => m.push_str(&format!("; did you mean `{c}`?")),
            None => m.push_str(&format!(" (known: {})", list.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "))),
        }
        m
    })
}

/// Parses a dotted reference like `capture.kv_tokens` into a source.
pub fn parse_source(s: &str) -> Result<Source, String> {
    let (ns, rest) = s.split_once('.').ok_or_else(|| format!("`{s}` is not a reference"))?;
    if rest.is_empty() {
        return Err(format!("reference `{s}` names nothing after `{ns}.`"));
    }
    Ok(match ns {
        "capture" => Source::Capture(rest.into()),
        "arg" => {
            if !rest.starts_with('-') {
                return Err(format!(
                    "`{s}`: an arg reference names the flag with its dashes, e.g. `arg.--max-model-len`"
                ));
            }
            Source::Arg(rest.into())
        }
        "effective" => {
            let (bound, flag) = match rest.split_once('.') {
                Some(("low", f)) => (-1, f),
                Some(("high", f)) => (1, f),
                _ => (0, rest),
            };
            if !flag.starts_with('-') {
                return Err(format!(
                    "`{s}`: an effective reference names the flag with its dashes, e.g. `effective.--max-num-seqs` \
                     or `effective.low.--max-num-seqs`"
                ));
            }
            Source::Effective(flag.into(), bound)
        }
        "env" => Source::Env(rest.into()),
        "limit" => Source::Limit(rest.into()),
        "request" => Source::Request(rest.into()),
        "probe" => {
            let (kind, field) = rest.split_once('.').unwrap_or((rest, ""));
            if !PROBES.contains(&kind) {
                return Err(format!("unknown probe `{kind}` in `{s}` (known: {})", PROBES.join(", ")));
            }
            if !PROBE_FIELDS.iter().any(|(n, _, _)| *n == field) {
                let names: Vec<&str> = PROBE_FIELDS.iter().map(|(n, _, _)| *n).collect();
                let hint = crate::util::closest(field, names.iter().copied())
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_default();
                return Err(format!("unknown probe field `{field}` in `{s}`{hint}"));
            }
            Source::Probe(kind.into(), field.into())
        }
        "fact" => {
            named(FACTS, rest, "fact")?;
            Source::Fact(rest.into())
        }
        "metric" => {
            let (signal, stat) = rest.split_once('.').unwrap_or((rest, ""));
            let signals: Vec<&str> = crate::signals::Signal::CONTRACT.iter().map(|s| s.id()).collect();
            if !signals.contains(&signal) {
                let hint = crate::util::closest(signal, signals.iter().copied())
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_else(|| format!(" (known: {})", signals.join(", ")));
                return Err(format!("unknown metric signal `{signal}` in `{s}`{hint}"));
            }
            if !METRIC_STATS.contains(&stat) {
                let hint = crate::util::closest(stat, METRIC_STATS.iter().copied())
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_else(|| format!(" (use one of: {})", METRIC_STATS.join(", ")));
                return Err(format!("unknown metric statistic `{stat}` in `{s}`{hint}"));
            }
            Source::Metric(signal.into(), stat.into())
        }
        "policy" => {
            named(POLICY, rest, "policy field")?;
            Source::Policy(rest.into())
        }
        "workload" => {
            named(WORKLOAD, rest, "workload field")?;
            Source::Workload(rest.into())
        }
        "node" => match rest.split_once('.') {
            Some(("allocatable", r)) => Source::NodeAllocatable(r.into()),
            Some(("label", r)) => Source::NodeLabel(r.into()),
            _ => return Err(format!("`{s}`: use `node.allocatable.<resource>` or `node.label.<key>`")),
        },
        "nodes" => match rest.split_once('.') {
            Some(("max", r)) => Source::NodesMax(r.into()),
            _ => return Err(format!("`{s}`: use `nodes.max.<label>`")),
        },
        "revision" if rest == "previous" => Source::PreviousRevision,
        "revision" => return Err(format!("`{s}`: the only revision reference is `revision.previous`")),
        _ => {
            let mut m = format!("unknown reference namespace `{ns}` in `{s}`");
            match crate::util::closest(ns, NAMESPACES.iter().copied()) {
                Some(c) => m.push_str(&format!("; did you mean `{c}`?")),
                None => m.push_str(&format!(" (known: {})", NAMESPACES.join(", "))),
            }
            return Err(m);
        }
    })
}

/// The static type of a source (`None`: text that converts on use).
pub fn source_type(s: &Source) -> Option<ParamType> {
    let find = |list: &[(&str, ParamType)], n: &str| list.iter().find(|(k, _)| *k == n).map(|(_, t)| *t);
    match s {
        Source::Capture(_) | Source::Arg(_) | Source::Effective(..) | Source::Env(_) | Source::NodeLabel(_) => None,
        Source::Limit(r) | Source::Request(r) | Source::NodeAllocatable(r) => {
            if r == "memory" || r.starts_with("ephemeral-storage") || r.starts_with("hugepages-") {
                Some(ParamType::Quantity)
            } else {
                None
            }
        }
        Source::Probe(..) | Source::NodesMax(_) | Source::PreviousRevision => Some(ParamType::Int),
        Source::Fact(f) => find(FACTS, f),
        Source::Metric(..) => Some(ParamType::Float),
        Source::Policy(p) => find(POLICY, p),
        Source::Workload(w) => find(WORKLOAD, w),
    }
}

/// Compiles an expression, reporting every problem as a message.
pub fn compile(spec: &ExprSpec, params: &dyn Fn(&str) -> bool, problems: &mut Vec<String>) -> Option<Expr> {
    match spec {
        ExprSpec::Bool(b) => Some(Expr::Const(Val::Bool(*b), ParamType::Bool)),
        ExprSpec::Num(n) => {
            let ty = if n.fract() == 0.0 { ParamType::Int } else { ParamType::Float };
            Some(Expr::Const(Val::Num(*n), ty))
        }
        ExprSpec::Text(t) => compile_text(t, params, problems),
        ExprSpec::Op(op) => {
            let (op, args): (Op, Vec<&ExprSpec>) = match op.as_ref() {
                OpSpec::Add(v) => (Op::Add, v.iter().collect()),
                OpSpec::Sub(v) => (Op::Sub, v.iter().collect()),
                OpSpec::Mul(v) => (Op::Mul, v.iter().collect()),
                OpSpec::Div(v) => (Op::Div, v.iter().collect()),
                OpSpec::Min(v) => (Op::Min, v.iter().collect()),
                OpSpec::Max(v) => (Op::Max, v.iter().collect()),
                OpSpec::First(v) => (Op::First, v.iter().collect()),
                OpSpec::RoundDown(v) => (Op::RoundDown, v.iter().collect()),
                OpSpec::Floor(e) => (Op::Floor, vec![e]),
                OpSpec::Ceil(e) => (Op::Ceil, vec![e]),
                OpSpec::Major(e) => (Op::Major, vec![e]),
                OpSpec::DriverForCuda(e) => (Op::DriverForCuda, vec![e]),
                OpSpec::DriverAboveCuda(e) => (Op::DriverAboveCuda, vec![e]),
                OpSpec::FlagRemoved(e) => (Op::FlagRemoved, vec![e]),
            };
            let arity_ok = match op {
                Op::RoundDown => args.len() == 2,
                Op::Sub | Op::Div => args.len() >= 2,
                Op::Floor | Op::Ceil | Op::Major | Op::DriverForCuda | Op::DriverAboveCuda | Op::FlagRemoved => true,
                _ => !args.is_empty(),
            };
            if !arity_ok {
                let want = if op == Op::RoundDown { "exactly 2" } else { "at least 2" };
                problems.push(format!("`{}` takes {want} operands, got {}", op.name(), args.len()));
            }
            let compiled: Vec<Option<Expr>> = args.iter().map(|a| compile(a, params, problems)).collect();
            let compiled: Option<Vec<Expr>> = compiled.into_iter().collect();
            let compiled = compiled?;
            if !matches!(op, Op::First | Op::Major | Op::DriverForCuda | Op::DriverAboveCuda | Op::FlagRemoved) {
                for a in &compiled {
                    if let Some(t @ (ParamType::Bool | ParamType::String)) = static_type(a, &|_| None) {
                        problems.push(format!("`{}` needs numbers, but {} is a {}", op.name(), show(a), t.as_str()));
                    }
                }
            }
            arity_ok.then_some(Expr::Op(op, compiled))
        }
    }
}

fn compile_text(t: &str, params: &dyn Fn(&str) -> bool, problems: &mut Vec<String>) -> Option<Expr> {
    let first = t.chars().next().unwrap_or(' ');
    if first.is_ascii_digit() || (first == '.' && t.len() > 1) {
        return match quantity::parse(t) {
            Ok(n) => {
                let has_suffix = t.trim_end().ends_with(|c: char| c.is_ascii_alphabetic());
                let ty = if has_suffix {
                    ParamType::Quantity
                } else if n.fract() == 0.0 {
                    ParamType::Int
                } else {
                    ParamType::Float
                };
                Some(Expr::Const(Val::Num(n), ty))
            }
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        };
    }
    if let Some((ns, _)) = t.split_once('.')
        && is_ident(ns)
    {
        return match parse_source(t) {
            Ok(s) => Some(Expr::Source(s)),
            Err(e) => {
                problems.push(e);
                None
            }
        };
    }
    if is_ident(t) {
        if params(t) {
            return Some(Expr::Param(t.to_owned()));
        }
        problems.push(format!("unknown parameter `{t}`"));
        return None;
    }
    Some(Expr::Const(Val::Str(t.to_owned()), ParamType::String))
}

/// How an expression reads in messages.
pub fn show(e: &Expr) -> String {
    match e {
        Expr::Const(Val::Num(n), _) => n.to_string(),
        Expr::Const(Val::Str(s), _) => format!("{s:?}"),
        Expr::Const(Val::Bool(b), _) => b.to_string(),
        Expr::Param(p) => format!("`{p}`"),
        Expr::Source(s) => format!("`{}`", source_name(s)),
        Expr::Op(op, _) => format!("`{}(...)`", op.name()),
    }
}

/// A source as written.
pub fn source_name(s: &Source) -> String {
    match s {
        Source::Capture(n) => format!("capture.{n}"),
        Source::Arg(n) => format!("arg.{n}"),
        Source::Effective(n, b) => match b {
            -1 => format!("effective.low.{n}"),
            1 => format!("effective.high.{n}"),
            _ => format!("effective.{n}"),
        },
        Source::Env(n) => format!("env.{n}"),
        Source::Limit(n) => format!("limit.{n}"),
        Source::Request(n) => format!("request.{n}"),
        Source::Probe(k, f) => format!("probe.{k}.{f}"),
        Source::Fact(n) => format!("fact.{n}"),
        Source::Metric(sig, stat) => format!("metric.{sig}.{stat}"),
        Source::NodeAllocatable(n) => format!("node.allocatable.{n}"),
        Source::NodeLabel(n) => format!("node.label.{n}"),
        Source::NodesMax(n) => format!("nodes.max.{n}"),
        Source::Policy(n) => format!("policy.{n}"),
        Source::Workload(n) => format!("workload.{n}"),
        Source::PreviousRevision => "revision.previous".into(),
    }
}

/// The parameters an expression refers to.
pub fn param_refs<'a>(e: &'a Expr, out: &mut Vec<&'a str>) {
    match e {
        Expr::Param(p) => out.push(p),
        Expr::Op(_, args) => args.iter().for_each(|a| param_refs(a, out)),
        _ => {}
    }
}

/// The static type of an expression (`None`: text that converts on use).
pub fn static_type(e: &Expr, param: &dyn Fn(&str) -> Option<ParamType>) -> Option<ParamType> {
    use ParamType::*;
    match e {
        Expr::Const(_, t) => Some(*t),
        Expr::Param(p) => param(p),
        Expr::Source(s) => source_type(s),
        Expr::Op(op, args) => {
            let ts: Vec<Option<ParamType>> = args.iter().map(|a| static_type(a, param)).collect();
            let numeric = |ts: &[Option<ParamType>]| {
                if ts.contains(&Some(Quantity)) {
                    Some(Quantity)
                } else if ts.contains(&Some(Float)) {
                    Some(Float)
                } else if ts.iter().all(|t| *t == Some(Int)) {
                    Some(Int)
                } else {
                    None
                }
            };
            match op {
                Op::Add | Op::Sub | Op::Min | Op::Max | Op::First => numeric(&ts),
                Op::Mul => match ts.iter().filter(|t| **t == Some(Quantity)).count() {
                    0 => numeric(&ts),
                    _ => Some(Quantity),
                },
                Op::Div => match (ts.first().copied().flatten(), ts.iter().skip(1).any(|t| *t == Some(Quantity))) {
                    (Some(Quantity), true) => Some(Float),
                    (Some(Quantity), false) => Some(Quantity),
                    _ => Some(Float),
                },
                Op::Floor | Op::Ceil => match ts.first().copied().flatten() {
                    Some(Quantity) => Some(Quantity),
                    _ => Some(Int),
                },
                // A multiple of an int is an int.
                Op::RoundDown => match (ts.first().copied().flatten(), ts.get(1).copied().flatten()) {
                    (Some(Quantity), _) => Some(Quantity),
                    (_, Some(Int)) => Some(Int),
                    (Some(Int), None) => Some(Int),
                    _ => Some(Float),
                },
                Op::Major | Op::DriverForCuda | Op::DriverAboveCuda => Some(Int),
                Op::FlagRemoved => Some(Bool),
            }
        }
    }
}

/// What an evaluation can look up.
pub trait Lookup {
    /// A source's value, if known.
    fn source(&self, s: &Source) -> Option<Val>;
    /// A parameter's value, if computed.
    fn param(&self, name: &str) -> Option<Val>;
    /// Whether the running engine version no longer accepts `flag`
    /// (`None`: the version, the engine's table or the flag is unknown).
    fn flag_removed(&self, _flag: &str) -> Option<bool> {
        None
    }
}

/// Evaluates an expression: `Ok(None)` when a value it needs is unknown.
pub fn eval(e: &Expr, env: &dyn Lookup) -> Result<Option<Val>, String> {
    Ok(match e {
        Expr::Const(v, _) => Some(v.clone()),
        Expr::Param(p) => env.param(p),
        Expr::Source(s) => env.source(s),
        Expr::Op(op, args) => {
            let num = |a: &Expr| -> Result<Option<f64>, String> {
                match eval(a, env)? {
                    None => Ok(None),
                    Some(v) => v.num().map(Some).ok_or_else(|| format!("{} = {v:?} is not a number", show(a))),
                }
            };
            match op {
                Op::First => {
                    for a in args {
                        if let Some(v) = eval(a, env)? {
                            return Ok(Some(v));
                        }
                    }
                    None
                }
                Op::Min | Op::Max => {
                    let mut best: Option<f64> = None;
                    for a in args {
                        if let Some(n) = num(a)? {
                            best = Some(match best {
                                None => n,
                                Some(b) if *op == Op::Min => b.min(n),
                                Some(b) => b.max(n),
                            });
                        }
                    }
                    best.map(Val::Num)
                }
                Op::Add | Op::Sub | Op::Mul | Op::Div | Op::RoundDown => {
                    let mut ns = Vec::with_capacity(args.len());
                    for a in args {
                        match num(a)? {
                            Some(n) => ns.push(n),
                            None => return Ok(None),
                        }
                    }
                    let (first, rest) = ns.split_first().ok_or("no operands")?;
                    let v = match op {
                        Op::Add => first + rest.iter().sum::<f64>(),
                        Op::Sub => rest.iter().fold(*first, |a, b| a - b),
                        Op::Mul => rest.iter().fold(*first, |a, b| a * b),
                        Op::Div => {
                            if rest.contains(&0.0) {
                                return Err("division by zero".into());
                            }
                            rest.iter().fold(*first, |a, b| a / b)
                        }
                        _ => {
                            let m = rest.first().copied().unwrap_or(1.0);
                            if m <= 0.0 {
                                return Err(format!("round_down to a multiple of {m}"));
                            }
                            (first / m).floor() * m
                        }
                    };
                    Some(Val::Num(v))
                }
                Op::Floor | Op::Ceil => {
                    let Some(n) = num(&args[0])? else { return Ok(None) };
                    Some(Val::Num(if *op == Op::Floor { n.floor() } else { n.ceil() }))
                }
                Op::Major => match eval(&args[0], env)? {
                    None => None,
                    Some(Val::Num(n)) => Some(Val::Num(n.trunc())),
                    Some(Val::Str(s)) => {
                        let digits: String = s
                            .trim_start_matches(|c: char| !c.is_ascii_digit())
                            .chars()
                            .take_while(char::is_ascii_digit)
                            .collect();
                        Some(Val::Num(digits.parse::<f64>().map_err(|_| format!("no version number in {s:?}"))?))
                    }
                    Some(Val::Bool(_)) => return Err("`major` of a bool".into()),
                },
                Op::FlagRemoved => match eval(&args[0], env)? {
                    None => None,
                    Some(Val::Str(s)) => {
                        // `--swap-space`, `--swap-space=4` or `--swap-space 4`.
                        let flag = s.split(['=', ' ']).next().unwrap_or_default();
                        env.flag_removed(flag).map(Val::Bool)
                    }
                    Some(other) => return Err(format!("`flag_removed` of {other:?}: it takes a flag")),
                },
                Op::DriverForCuda | Op::DriverAboveCuda => {
                    let Some(v) = eval(&args[0], env)? else { return Ok(None) };
                    let cuda = cuda_version(&v).ok_or_else(|| format!("{v:?} is not a CUDA version"))?;
                    let d = if *op == Op::DriverForCuda { driver_for_cuda(cuda) } else { driver_above_cuda(cuda) };
                    d.map(|d| Val::Num(f64::from(d)))
                }
            }
        }
    })
}

/// Minimum Linux driver branch for each CUDA toolkit release (NVIDIA's CUDA
/// Toolkit release notes, "CUDA Toolkit and Corresponding Driver Versions").
pub const CUDA_DRIVERS: &[((u32, u32), u32)] = &[
    ((11, 0), 450),
    ((11, 1), 455),
    ((11, 2), 460),
    ((11, 3), 465),
    ((11, 4), 470),
    ((11, 5), 495),
    ((11, 6), 510),
    ((11, 7), 515),
    ((11, 8), 520),
    ((12, 0), 525),
    ((12, 1), 530),
    ((12, 2), 535),
    ((12, 3), 545),
    ((12, 4), 550),
    ((12, 5), 555),
    ((12, 6), 560),
    ((12, 8), 570),
    ((12, 9), 575),
    ((13, 0), 580),
];

/// `12.4`, `12.4.1`, `cuda>=12.4`, `12040` (the CUDA API's encoding) → (12, 4).
pub fn cuda_version(v: &Val) -> Option<(u32, u32)> {
    let s = match v {
        Val::Num(n) if *n >= 1000.0 => {
            let n = *n as u32;
            return Some((n / 1000, (n % 1000) / 10));
        }
        Val::Num(n) => format!("{n}"),
        Val::Str(s) => s.clone(),
        Val::Bool(_) => return None,
    };
    let s = s.trim_start_matches(|c: char| !c.is_ascii_digit());
    let mut parts = s.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next()?.parse().ok()?;
    if major >= 1000 {
        return Some((major / 1000, (major % 1000) / 10));
    }
    let minor: u32 = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// The minimum driver major for a CUDA version (the next listed release's
/// for versions between entries); `None` past the table.
pub fn driver_for_cuda(v: (u32, u32)) -> Option<u32> {
    CUDA_DRIVERS.iter().find(|(c, _)| *c >= v).map(|(_, d)| *d)
}

/// The driver major of the first CUDA release after `v`.
pub fn driver_above_cuda(v: (u32, u32)) -> Option<u32> {
    CUDA_DRIVERS.iter().find(|(c, _)| *c > v).map(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_versions_map_to_driver_branches() {
        assert_eq!(driver_for_cuda(cuda_version(&Val::Str("12.4".into())).unwrap()), Some(550));
        assert_eq!(driver_for_cuda(cuda_version(&Val::Str("cuda>=12.6".into())).unwrap()), Some(560));
        assert_eq!(driver_for_cuda(cuda_version(&Val::Str("12.8.1".into())).unwrap()), Some(570));
        assert_eq!(driver_for_cuda(cuda_version(&Val::Num(11.8)).unwrap()), Some(520));
        assert_eq!(driver_for_cuda((12, 7)), Some(570));
        assert_eq!(cuda_version(&Val::Num(11040.0)), Some((11, 4)));
        assert_eq!(cuda_version(&Val::Str("11040".into())), Some((11, 4)));
        assert_eq!(driver_above_cuda((11, 4)), Some(495));
        assert_eq!(driver_for_cuda((14, 0)), None);
    }

    #[test]
    fn numbers_parse_leniently() {
        assert_eq!(parse_number("32k"), Some(32000.0));
        assert_eq!(parse_number("32K"), Some(32768.0));
        assert_eq!(parse_number("16Gi"), Some(17179869184.0));
        assert_eq!(parse_number("abc"), None);
    }

    #[test]
    fn references_are_checked_with_hints() {
        assert_eq!(parse_source("capture.kv_tokens"), Ok(Source::Capture("kv_tokens".into())));
        assert!(parse_source("captur.kv_tokens").unwrap_err().contains("did you mean `capture`"));
        assert!(
            parse_source("policy.max_gpu_memory_utilisation")
                .unwrap_err()
                .contains("did you mean `max_gpu_memory_utilization`")
        );
        assert!(parse_source("arg.max-model-len").is_err());
        assert_eq!(
            parse_source("node.label.nvidia.com/cuda.driver.major"),
            Ok(Source::NodeLabel("nvidia.com/cuda.driver.major".into()))
        );
    }
}
