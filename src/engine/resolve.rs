//! Effective settings and the guards on every written flag.
//!
//! A flag's effective value is, in order: what the engine printed in the
//! head of its log (vLLM's "non-default args", SGLang's `server_args=`,
//! TGI's `Args {..}`); else what the container gives it (args, a shell
//! script, or an env alias); else the table's default for the running
//! version and the node's GPU. When the version or the GPU is unknown, the
//! default is every value it could be, as a range: a "raise" must then go
//! above the highest and a "lower" below the lowest.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::table::{Cond, Default, Engine, Flag, FlagType, Value, check_value};
use super::version::Version;
use crate::actions::args;

/// The GPU the pod ran on, from its node's labels (GPU feature discovery)
/// and its limits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gpu {
    /// `nvidia.com/gpu.product`, e.g. `NVIDIA-H100-80GB-HBM3`.
    pub product: Option<String>,
    /// `nvidia.com/gpu.memory` (MiB per GPU) in GiB.
    pub memory_gib: Option<f64>,
    /// Whether it is an NVIDIA GPU (a GPU label, or an `nvidia.com/gpu` limit).
    pub cuda: Option<bool>,
}

impl Gpu {
    /// Reads the node's labels and the container's limits.
    pub fn from_labels(labels: &BTreeMap<String, String>, limits: Option<&BTreeMap<String, String>>) -> Self {
        let product = labels.get("nvidia.com/gpu.product").filter(|p| !p.is_empty()).cloned();
        let memory_gib = labels
            .get("nvidia.com/gpu.memory")
            .and_then(|m| m.trim().parse::<f64>().ok())
            .filter(|m| m.is_finite() && *m > 0.0)
            .map(|mib| mib / 1024.0);
        let limit = limits.is_some_and(|l| l.keys().any(|k| k == "nvidia.com/gpu"));
        let labelled = labels.keys().any(|k| k.starts_with("nvidia.com/gpu."));
        let cuda = (limit || labelled).then_some(true);
        Gpu { product, memory_gib, cuda }
    }

    /// `NVIDIA-H100-80GB-HBM3 (79.6 GiB)`, for messages.
    pub fn describe(&self) -> String {
        match (&self.product, self.memory_gib) {
            (Some(p), Some(m)) => format!("{p} ({m:.1} GiB)"),
            (Some(p), None) => p.clone(),
            (None, Some(m)) => format!("a {m:.1} GiB GPU"),
            (None, None) => "an unknown GPU".into(),
        }
    }
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// Printed by the engine at start-up.
    Log,
    /// Given in the container's args or command.
    Args,
    /// Given in this env var.
    Env(String),
    /// The table's default (its citation).
    Default(String),
}

/// A flag's effective value.
#[derive(Debug, Clone, PartialEq)]
pub enum Effective {
    /// Known.
    Exact {
        /// The value.
        value: Value,
        /// Where it came from.
        from: Origin,
    },
    /// One of several defaults (the version or the GPU is unknown).
    Range {
        /// Lowest possible.
        lo: f64,
        /// Highest possible.
        hi: f64,
        /// Why it is not one value.
        why: String,
    },
    /// Not known (computed by the engine at start-up, or no default).
    Unknown(String),
}

impl Effective {
    /// The value, or the lower or higher end of the range (`bound`: -1, 0, 1).
    pub fn pick(&self, bound: i8) -> Option<Value> {
        match self {
            Effective::Exact { value, .. } => Some(value.clone()),
            Effective::Range { lo, .. } if bound < 0 => Some(Value::Num(*lo)),
            Effective::Range { hi, .. } if bound > 0 => Some(Value::Num(*hi)),
            _ => None,
        }
    }

    /// How it reads in a plan's notes and reasons.
    pub fn describe(&self) -> String {
        match self {
            Effective::Exact { value, from } => match from {
                Origin::Log => format!("{value} (printed at start-up)"),
                Origin::Args => format!("{value} (set in the container's args)"),
                Origin::Env(e) => format!("{value} (set by env {e})"),
                Origin::Default(s) => format!("{value} (default: {s})"),
            },
            Effective::Range { lo, hi, why } => {
                format!("between {} and {} ({why})", Value::Num(*lo), Value::Num(*hi))
            }
            Effective::Unknown(why) => format!("unknown ({why})"),
        }
    }
}

/// One engine as it ran: its table, version, printed settings, container
/// and GPU. Every lookup and guard of a plan goes through this.
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    /// The engine's table.
    pub engine: &'a Engine,
    /// The running version, when known.
    pub version: Option<&'a Version>,
    /// Settings it printed at start-up.
    pub printed: &'a BTreeMap<String, String>,
    /// The container spec (args, command, env).
    pub container: Option<&'a Json>,
    /// The GPU.
    pub gpu: &'a Gpu,
}

fn parse_given(ty: FlagType, s: &str) -> Value {
    match ty {
        FlagType::Int | FlagType::Float => match crate::playbook::expr::parse_number(s) {
            Some(n) => Value::Num(n),
            None => Value::Text(s.to_owned()),
        },
        FlagType::Bool => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Value::Bool(true),
            "false" | "0" | "no" => Value::Bool(false),
            _ => Value::Text(s.to_owned()),
        },
        FlagType::Str => Value::Text(s.to_owned()),
    }
}

impl Setup<'_> {
    /// `vLLM 0.34.0` or `vLLM (version unknown)`.
    pub fn who(&self) -> String {
        match self.version {
            Some(v) => format!("{} {v}", self.engine.title),
            None => format!("{} (version unknown)", self.engine.title),
        }
    }

    /// Whether the container or the printed settings set `flag` (a switch
    /// counts when present).
    pub fn is_set(&self, flag: &str) -> bool {
        let key = flag.trim_start_matches('-').replace('-', "_");
        // `--no-x` is set when the engine printed `x` as false.
        if let Some(positive) = key.strip_prefix("no_")
            && self.printed.get(positive).is_some_and(|v| v == "false")
        {
            return true;
        }
        if let Some(v) = self.printed.get(&key) {
            return v != "false";
        }
        if let Some(f) = self.engine.flag(flag)
            && let Some(v) = self.printed.get(&f.key)
        {
            return v != "false";
        }
        let Some(c) = self.container else { return false };
        args::has_flag(c, flag)
            || self.engine.flag(flag).is_some_and(|f| {
                f.env.iter().any(|e| args::get_env(c, e).is_some()) || f.aliases.iter().any(|a| args::has_flag(c, a))
            })
    }

    /// The value given to the flag, and where: printed, args, env.
    pub fn given(&self, f: &Flag) -> Option<(String, Origin)> {
        if let Some(v) = self.printed.get(&f.key) {
            return Some((v.clone(), Origin::Log));
        }
        let c = self.container?;
        for name in std::iter::once(&f.flag).chain(&f.aliases) {
            if let Some(v) = args::get_flag(c, name, None) {
                return Some((v, Origin::Args));
            }
        }
        f.env.iter().find_map(|e| args::get_env(c, e).map(|v| (v, Origin::Env(e.clone()))))
    }

    fn holds(&self, c: &Cond) -> Option<bool> {
        match c {
            Cond::GpuMemAtLeast(g) => self.gpu.memory_gib.map(|m| m >= *g),
            Cond::GpuMemBelow(g) => self.gpu.memory_gib.map(|m| m < *g),
            Cond::GpuProductExcludes(names) => self.gpu.product.as_ref().map(|p| {
                let p = p.to_ascii_lowercase();
                !names.iter().any(|n| p.contains(n.as_str()))
            }),
            Cond::GpuProductIncludes(names) => self.gpu.product.as_ref().map(|p| {
                let p = p.to_ascii_lowercase();
                names.iter().any(|n| p.contains(n.as_str()))
            }),
            Cond::Cuda(want) => self.gpu.cuda.map(|c| c == *want),
            Cond::Unset(flags) => Some(!flags.iter().any(|f| self.is_set(f))),
            // Like flags, an env var the container does not show is not set.
            Cond::Env(k, v) => Some(self.container.is_some_and(|c| args::get_env(c, k).as_deref() == Some(v.as_str()))),
        }
    }

    /// The defaults that may apply to `version`: the first whose conditions
    /// all hold, with every earlier one whose conditions are unknown.
    fn defaults_at<'f>(&self, f: &'f Flag, version: &Version, out: &mut Vec<&'f Default>) {
        for d in f.defaults.iter().filter(|d| d.range.contains(version)) {
            let mut unknown = false;
            let mut fails = false;
            for c in &d.when {
                match self.holds(c) {
                    Some(true) => {}
                    Some(false) => fails = true,
                    None => unknown = true,
                }
            }
            if fails {
                continue;
            }
            out.push(d);
            if !unknown {
                return;
            }
        }
    }

    /// The effective value of `flag`.
    pub fn effective(&self, flag: &str) -> Effective {
        let Some(f) = self.engine.flag(flag) else {
            return Effective::Unknown(format!("`{flag}` is not in the {} table", self.engine.title));
        };
        if let Some((v, from)) = self.given(f) {
            return Effective::Exact { value: parse_given(f.ty, &v), from };
        }
        let mut candidates: Vec<&Default> = Vec::new();
        match self.version {
            Some(v) => self.defaults_at(f, v, &mut candidates),
            None => {
                for r in &self.engine.releases {
                    self.defaults_at(f, r, &mut candidates);
                }
            }
        }
        if candidates.is_empty() {
            return Effective::Unknown(format!("the table has no default of `{flag}` for {}", self.who()));
        }
        if let Some(d) = candidates.iter().find(|d| d.value.is_none()) {
            return Effective::Unknown(format!(
                "{} computes `{flag}` at start-up: {} ({})",
                self.who(),
                d.computed.as_deref().unwrap_or("no fixed default"),
                d.source
            ));
        }
        let values: Vec<&Value> = candidates.iter().filter_map(|d| d.value.as_ref()).collect();
        if values.iter().all(|v| *v == values[0]) {
            let d = candidates[0];
            let hw = if d.when.is_empty() { String::new() } else { format!(" on {}", self.gpu.describe()) };
            return Effective::Exact {
                value: values[0].clone(),
                from: Origin::Default(format!("{}{hw}, {}", self.who(), d.source)),
            };
        }
        let nums: Vec<f64> =
            values.iter().filter_map(|v| if let Value::Num(n) = v { Some(*n) } else { None }).collect();
        let why = match (self.version, self.gpu.product.is_some() || self.gpu.memory_gib.is_some()) {
            (None, _) => format!("the {} version is unknown", self.engine.title),
            (Some(_), false) => "the default depends on the GPU, which is unknown (no node GPU labels)".into(),
            (Some(_), true) => "the default depends on settings that are not known".into(),
        };
        if nums.len() == values.len() {
            let lo = nums.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = nums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Effective::Range { lo, hi, why }
        } else {
            Effective::Unknown(why)
        }
    }

    /// Whether the running version (or, unknown, every release in the
    /// table) accepts `flag` set to `value`. `Ok` may carry a note (a
    /// deprecated flag).
    pub fn check_write(&self, flag: &str, value: &str) -> Result<Option<String>, String> {
        let e = self.engine;
        let Some(f) = e.flag(flag) else {
            return Err(format!("the {} table does not know `{flag}`", e.title));
        };
        if !e.covers(&f.range, self.version) {
            return Err(match self.version {
                Some(v) if f.range.until.as_ref().is_some_and(|u| v >= u) => format!(
                    "{} {v} no longer accepts `{flag}` (removed in {}{}; {})",
                    e.title,
                    f.range.until.as_ref().map(ToString::to_string).unwrap_or_default(),
                    f.replacement.as_ref().map(|r| format!(", use {r}")).unwrap_or_default(),
                    f.source
                ),
                Some(v) => {
                    format!("{} {v} does not accept `{flag}` yet ({}; {})", e.title, f.range.describe(), f.source)
                }
                None => format!(
                    "the {} version is unknown and not every release in the table ({}) accepts `{flag}` ({})",
                    e.title,
                    e.span(),
                    f.range.describe()
                ),
            });
        }
        if f.ty == FlagType::Bool {
            return Err(format!("`{flag}` is a switch, not a flag with a value"));
        }
        if let Some(form) = f.forms.iter().find(|x| x.value.eq_ignore_ascii_case(value.trim())) {
            if !e.covers(&form.range, self.version) {
                return Err(match self.version {
                    Some(v) => format!(
                        "{} {v} does not accept `{flag} {value}` ({} {}; {})",
                        e.title,
                        e.title,
                        form.range.describe(),
                        form.source
                    ),
                    None => format!(
                        "the {} version is unknown and only {} {} accepts `{flag} {value}`",
                        e.title,
                        e.title,
                        form.range.describe()
                    ),
                });
            }
        } else {
            let v = parse_given(f.ty, value);
            check_value(f.ty, &v, f.min, f.min_exclusive, f.max).map_err(|m| format!("`{flag} {value}`: {m}"))?;
        }
        Ok(f.deprecated_since.as_ref().filter(|d| self.version.is_none_or(|v| v >= *d)).map(|d| {
            format!(
                "`{flag}` is deprecated since {} {d}{}",
                e.title,
                f.replacement.as_ref().map(|r| format!("; use {r}")).unwrap_or_default()
            )
        }))
    }

    /// Whether setting `flag` to `new` raises (`raise`) or lowers it from
    /// its effective value; the reason when it does not, or cannot be told.
    pub fn check_move(&self, flag: &str, new: f64, raise: bool) -> Result<(), String> {
        let eff = self.effective(flag);
        let verb = if raise { "raise" } else { "lower" };
        let (lo, hi) = match &eff {
            Effective::Exact { value: Value::Num(n), .. } => (*n, *n),
            Effective::Range { lo, hi, .. } => (*lo, *hi),
            other => {
                return Err(format!(
                    "cannot tell that `{flag} {}` would {verb} it: its effective value is {}",
                    Value::Num(new),
                    other.describe()
                ));
            }
        };
        let ok = if raise { new > hi } else { new < lo };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{flag} {}` would not {verb} it on {}: its effective value is {}",
                Value::Num(new),
                self.who(),
                eff.describe()
            ))
        }
    }

    /// `Some(true)` when the running version no longer accepts `flag` but an
    /// earlier release did (the table knows it); `Some(false)` when it
    /// accepts it; `None` when the version or the flag is unknown.
    pub fn removed(&self, flag: &str) -> Option<bool> {
        let v = self.version?;
        let f = self.engine.flag(flag)?;
        Some(f.range.until.as_ref().is_some_and(|u| v >= u))
    }
}
