//! Rendering: from a [`Diagnosis`], a workload and the operator's
//! [`Policy`] to a concrete [`Plan`].
//!
//! # How a playbook is chosen
//!
//! The playbooks of the diagnosis's class are tried by descending
//! `priority` (file order breaks ties). The first that passes every gate
//! is rendered; the ones passed over are listed in [`Plan::considered`]
//! with the reason. A playbook is passed over when
//! 1. its `subclasses` or `servers` do not include the diagnosis's;
//! 2. the workload is a bare Pod and a step needs a pod template;
//! 3. its cooldown or attempt limit (or the policy's daily limit, for
//!    playbooks that change something) is reached;
//! 4. a parameter has no value (no capture, no default) or cannot be read;
//! 5. a `when` condition does not hold;
//! 6. an action cannot be applied to the workload (no such container, no
//!    probe to lengthen, a shell script with no known launcher), or a
//!    `set-arg` step fails the engine guards: the running engine release
//!    (every release in the engine table, when the version is unknown)
//!    must accept the flag and the value, and a `moves: raise|lower` step
//!    must move the flag's effective value that way (see [`crate::engine`]);
//! 7. with a workload at hand, every change it would make is already in
//!    place ("nothing to change"), so that a limit already at its cap, or a
//!    context already at the KV capacity, falls through to the next
//!    playbook rather than proposing a no-op.
//!
//! Rendering is pure: the clock is [`PlanContext::now`], the cluster is
//! what the context says.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::expr::{self, Lookup, ParamType, Source, Val};
use super::{Cmp, Condition, Limits, OnFailure, Playbook, PlaybookSet, Verification};
use crate::actions::{
    self, Action, ActionKind, FieldType, PatchOp, Presence, Risk, Workload, WorkloadKind, args, quantity,
};
use crate::class::FailureClass;
use crate::diagnosis::Diagnosis;
use crate::evidence::ContainerFacts;

/// The operator's bounds on what podmedic may propose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// On a KV-cache OOM, raise GPU memory utilisation before shrinking the context.
    pub prefer_keep_context: bool,
    /// Upper bound for `--gpu-memory-utilization` / `--mem-fraction-static`.
    pub max_gpu_memory_utilization: f64,
    /// Never shrink the context length below this many tokens.
    pub min_context_length: i64,
    /// Upper bound for a raised memory limit (a Kubernetes quantity).
    pub max_memory_limit: String,
    /// Mutating attempts per workload per day, all playbooks together.
    pub max_attempts_per_day: i64,
    /// Upper bound for a memory-backed `/dev/shm`.
    pub max_shm_size: String,
    /// Upper bound for a startup probe's total budget, in seconds.
    pub max_startup_seconds: i64,
    /// On a vLLM KV-cache OOM, propose `--max-model-len auto` (vLLM picks the
    /// largest context that fits, from 0.14.0) instead of the computed number.
    pub max_model_len_auto: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            prefer_keep_context: false,
            max_gpu_memory_utilization: 0.95,
            min_context_length: 2048,
            max_memory_limit: "512Gi".into(),
            max_attempts_per_day: 5,
            max_shm_size: "16Gi".into(),
            max_startup_seconds: 3600,
            max_model_len_auto: false,
        }
    }
}

/// A node a pod could move to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeInfo {
    /// Node name.
    pub name: String,
    /// Its labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// An earlier attempt of a playbook on this workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The playbook id.
    pub playbook: String,
    /// When it started.
    pub at: DateTime<Utc>,
}

/// What stands behind a node-level fix (cordoning a node): the log is
/// written partly by strangers (servers echo prompts; a tenant's pod can
/// print anything), so a node is acted on only when the fault is
/// corroborated outside the pod's own output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeFault {
    /// The crashed container holds a GPU (`nvidia.com/gpu` limit) on the node.
    pub pod_holds_gpu: bool,
    /// What the node itself reports: a GPU the device plugin marked
    /// unhealthy (allocatable below capacity), a GPU/Xid node condition or taint.
    pub node_reports: Vec<String>,
    /// Other workloads on the same node recently diagnosed with a GPU fault.
    pub other_workloads: usize,
    /// Nodes podmedic has cordoned now.
    pub cordoned_by_podmedic: usize,
    /// The most it may (`--max-cordoned-nodes`).
    pub max_cordoned: usize,
}

impl NodeFault {
    /// `Ok` when a node-level fix may be proposed, else why not.
    pub fn corroborated(&self) -> Result<(), String> {
        if !self.pod_holds_gpu {
            return Err("a node-level fix needs the crashed container to hold a GPU on that node".into());
        }
        if self.node_reports.is_empty() && self.other_workloads == 0 {
            return Err("a node-level fix needs node-level corroboration (the node reports a GPU fault, or other workloads on it fail the same way); the log alone is not enough".into());
        }
        if self.cordoned_by_podmedic >= self.max_cordoned {
            return Err(format!(
                "podmedic already has {} node(s) cordoned (limit {})",
                self.cordoned_by_podmedic, self.max_cordoned
            ));
        }
        Ok(())
    }
}

/// Everything besides the diagnosis and the workload that rendering reads.
#[derive(Debug, Clone)]
pub struct PlanContext {
    /// The crashed container's facts.
    pub container: Option<ContainerFacts>,
    /// The crashed pod's name.
    pub pod_name: Option<String>,
    /// Labels of the node it ran on.
    pub node_labels: BTreeMap<String, String>,
    /// Allocatable resources of that node (`memory: 500Gi`).
    pub node_allocatable: BTreeMap<String, String>,
    /// Nodes it could move to, with their labels.
    pub candidate_nodes: Vec<NodeInfo>,
    /// The operator's policy.
    pub policy: Policy,
    /// Earlier attempts on this workload.
    pub attempts: Vec<Attempt>,
    /// The time (for cooldowns and `restartedAt`).
    pub now: DateTime<Utc>,
    /// Observed weight-load time in seconds (first log line to kill), when known.
    pub load_seconds: Option<i64>,
    /// Observed peak memory of the container in bytes, when known.
    pub peak_memory_bytes: Option<u64>,
    /// The server, when known otherwise than from the workload.
    pub server: Option<String>,
    /// What corroborates a node-level fix.
    pub node_fault: NodeFault,
    /// The engine as identified from the log head and the image: its
    /// version and the settings it printed. Absent: identified from the
    /// target container's image alone.
    pub engine: Option<crate::engine::EngineInfo>,
    /// The serving metrics before the crash (`metric.*` references).
    pub metrics: Option<crate::signals::MetricsSummary>,
}

impl Default for PlanContext {
    fn default() -> Self {
        PlanContext {
            container: None,
            pod_name: None,
            node_labels: BTreeMap::new(),
            node_allocatable: BTreeMap::new(),
            candidate_nodes: Vec::new(),
            policy: Policy::default(),
            attempts: Vec::new(),
            now: Utc::now(),
            load_seconds: None,
            peak_memory_bytes: None,
            server: None,
            node_fault: NodeFault::default(),
            engine: None,
            metrics: None,
        }
    }
}

impl PlanContext {
    /// A context from an evidence bundle: the crashed container's facts and
    /// its node's labels, with the default policy. Set `pod_name`,
    /// `candidate_nodes`, `node_allocatable`, `attempts` and `policy` from
    /// the cluster and the configuration where they are known.
    pub fn from_evidence(ev: &crate::evidence::Evidence, now: DateTime<Utc>) -> Self {
        PlanContext {
            container: ev.container.clone(),
            node_labels: ev.node_labels.clone(),
            metrics: ev.metrics.summary().cloned(),
            now,
            node_fault: NodeFault {
                pod_holds_gpu: ev.container.as_ref().is_some_and(crate::evidence::holds_gpu),
                max_cordoned: 1,
                ..NodeFault::default()
            },
            ..PlanContext::default()
        }
    }
}

/// A computed parameter value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ParamValue {
    /// A whole number.
    Int(i64),
    /// A number.
    Float(f64),
    /// Text, quantities included (`39322Mi`).
    Text(String),
    /// A truth value.
    Bool(bool),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Text(s) => f.write_str(s),
            ParamValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The object a plan changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Target {
    /// Workload kind, when a workload was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<WorkloadKind>,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The container the actions change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The serving engine (`vllm`, `tgi`, `sglang`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Its version, when known (the plan's flags and values are checked against it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
}

/// One rendered step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannedStep {
    /// Step id.
    pub id: String,
    /// What it does, for people.
    pub description: String,
    /// The concrete action.
    #[schemars(schema_with = "crate::crd::action_schema")]
    pub action: Action,
    /// Steps that must succeed first.
    pub needs: Vec<String>,
    /// What a failure does.
    pub on_failure: OnFailure,
    /// Its risk.
    pub risk: Risk,
    /// Whether it changes the cluster.
    pub mutating: bool,
    /// The object it changes (`Deployment/ns/name`, `Node/gpu-3`, `Pod/ns/p`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// JSON Patch for that object (with `test` guards); absent for described steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::patch_schema")]
    pub patch: Option<Vec<PatchOp>>,
    /// JSON Patch restoring the prior values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::crd::patch_schema")]
    pub revert: Option<Vec<PatchOp>>,
    /// Unified diff of the object's YAML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// A playbook passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Skipped {
    /// The playbook id.
    pub playbook: String,
    /// Why it was passed over.
    pub reason: String,
}

/// A rendered playbook: what podmedic proposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// The playbook id.
    pub playbook: String,
    /// Its title.
    pub title: String,
    /// Why this fix.
    pub description: String,
    /// The class it handles.
    pub class: FailureClass,
    /// The playbook's risk.
    pub risk: Risk,
    /// What it changes.
    pub target: Target,
    /// Computed parameters.
    #[schemars(schema_with = "crate::crd::parameters_schema")]
    pub parameters: BTreeMap<String, ParamValue>,
    /// Steps, each after those it needs.
    pub steps: Vec<PlannedStep>,
    /// How to tell that it worked (absent for plans that change nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// Cooldown and attempt limits.
    pub limits: Limits,
    /// Unified diff of the whole workload, before and after every step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// Things to know (clamped parameters, missing workload).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Playbooks passed over, best first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub considered: Vec<Skipped>,
}

impl Plan {
    /// The plan for people: title, parameters, steps with their diffs.
    pub fn to_text(&self) -> String {
        let mut out = format!("plan {}: {} (risk {}", self.playbook, self.title, self.risk.as_str());
        out.push_str(", needs approval)\n");
        if !self.parameters.is_empty() {
            let ps: Vec<String> = self.parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("  parameters: {}\n", ps.join(", ")));
        }
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        for (i, s) in self.steps.iter().enumerate() {
            out.push_str(&format!("  {}. [{}] {}\n", i + 1, s.id, s.description));
            if let Some(d) = &s.diff {
                for l in d.lines() {
                    out.push_str(&format!("       {l}\n"));
                }
            }
        }
        if let Some(v) = &self.verification {
            out.push_str(&format!(
                "  verify: ready within {} s, then no restart for {} s\n",
                v.ready_within_seconds, v.no_restart_for_seconds
            ));
        }
        out
    }
}

/// Which serving engine a container runs, from its image and command line.
pub fn detect_server(image: &str, command_line: &str) -> &'static str {
    let text = format!("{image} {command_line}").to_ascii_lowercase();
    if text.contains("sglang") {
        "sglang"
    } else if text.contains("text-generation-inference") || text.contains("text-generation-launcher") {
        "tgi"
    } else if text.contains("vllm") {
        "vllm"
    } else if text.contains("tritonserver") || text.contains("triton") {
        "triton"
    } else if text.contains("ollama") {
        "ollama"
    } else if text.contains("llama.cpp") || text.contains("llama-server") {
        "llama.cpp"
    } else {
        "other"
    }
}

/// A container's `command` and `args` joined by blanks.
pub fn command_line(c: &Value) -> String {
    ["command", "args"]
        .iter()
        .filter_map(|k| c.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// TGI reads every flag from an env var of the same name (`--max-total-tokens` → `MAX_TOTAL_TOKENS`).
fn tgi_env(flag: &str) -> String {
    flag.trim_start_matches('-').replace('-', "_").to_ascii_uppercase()
}

struct Scope<'a> {
    d: &'a Diagnosis,
    w: Option<&'a Workload>,
    container: Option<&'a Value>,
    ctx: &'a PlanContext,
    server: Option<&'a str>,
    params: HashMap<String, Val>,
    /// The engine as it ran, when its table is known.
    setup: Option<crate::engine::Setup<'a>>,
    /// The engine's identity (name, version, where the version came from).
    engine: &'a crate::engine::EngineInfo,
    /// The GPU.
    gpu: &'a crate::engine::Gpu,
    /// Effective values read while rendering, for the plan's notes.
    used: &'a std::cell::RefCell<Vec<String>>,
}

impl Scope<'_> {
    fn facts(&self) -> Option<&ContainerFacts> {
        self.ctx.container.as_ref()
    }

    fn resource(&self, which: &str, r: &str) -> Option<Val> {
        let from_spec = self
            .container
            .and_then(|c| c.get("resources"))
            .and_then(|x| x.get(which))
            .and_then(|m| m.get(r))
            .and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|i| i.to_string())));
        let from_facts =
            || self.facts().and_then(|f| if which == "limits" { f.limits.get(r) } else { f.requests.get(r) }).cloned();
        let s = from_spec.or_else(from_facts)?;
        Some(expr::parse_number(&s).map_or(Val::Str(s), Val::Num))
    }
}

impl Lookup for Scope<'_> {
    fn param(&self, name: &str) -> Option<Val> {
        self.params.get(name).cloned()
    }

    fn flag_removed(&self, flag: &str) -> Option<bool> {
        self.setup?.removed(flag)
    }

    fn source(&self, s: &Source) -> Option<Val> {
        let p = &self.ctx.policy;
        match s {
            Source::Capture(n) => self.d.captures.get(n).map(|v| Val::Str(v.clone())),
            Source::Effective(flag, bound) => {
                let setup = self.setup?;
                let eff = setup.effective(flag);
                let v = eff.pick(*bound)?;
                let note = format!("`{flag}` on {}: {}", setup.who(), eff.describe());
                let mut used = self.used.borrow_mut();
                if !used.contains(&note) {
                    used.push(note);
                }
                Some(match v {
                    crate::engine::table::Value::Num(n) => Val::Num(n),
                    crate::engine::table::Value::Bool(b) => Val::Bool(b),
                    crate::engine::table::Value::Text(t) => Val::Str(t),
                })
            }
            Source::Arg(flag) => {
                let alias = (self.server == Some("tgi")).then(|| tgi_env(flag));
                args::get_flag(self.container?, flag, alias.as_deref()).map(Val::Str)
            }
            Source::Env(n) => args::get_env(self.container?, n).map(Val::Str),
            Source::Limit(r) => self.resource("limits", r),
            Source::Request(r) => self.resource("requests", r),
            Source::Probe(kind, field) => {
                let probe = self.container?.get(format!("{kind}Probe"))?;
                let (_, camel, default) = expr::PROBE_FIELDS.iter().find(|(n, _, _)| n == field)?;
                Some(Val::Num(probe.get(*camel).and_then(Value::as_i64).unwrap_or(*default) as f64))
            }
            Source::Fact(f) => {
                let t = self.facts().and_then(|c| c.last_termination.as_ref());
                match f.as_str() {
                    "ran_seconds" => t.and_then(|t| t.ran_seconds).map(|s| Val::Num(s as f64)),
                    "load_seconds" => {
                        self.ctx.load_seconds.or_else(|| t.and_then(|t| t.ran_seconds)).map(|s| Val::Num(s as f64))
                    }
                    "restart_count" => self.facts().map(|c| Val::Num(f64::from(c.restart_count))),
                    "exit_code" => t.map(|t| Val::Num(f64::from(t.exit_code))),
                    "oom_killed" => t.map(|t| Val::Bool(t.reason.as_deref() == Some("OOMKilled"))),
                    "node" => self.facts().and_then(|c| c.node_name.clone()).map(Val::Str),
                    "pod" => self.ctx.pod_name.clone().map(Val::Str),
                    "image" => self
                        .facts()
                        .and_then(|c| c.image.clone())
                        .or_else(|| self.container?.get("image")?.as_str().map(str::to_owned))
                        .map(Val::Str),
                    "peak_memory" => self.ctx.peak_memory_bytes.map(|b| Val::Num(b as f64)),
                    "engine" => Some(Val::Str(self.engine.name.clone())),
                    "engine_version" => self.engine.version.as_ref().map(|v| Val::Str(v.to_string())),
                    "engine_version_source" => self.engine.version_source.map(|s| Val::Str(s.as_str().to_owned())),
                    "gpu_product" => self.gpu.product.clone().map(Val::Str),
                    "gpu_memory" => self.gpu.memory_gib.map(|g| Val::Num(g * 1024.0 * 1024.0 * 1024.0)),
                    "summary" => Some(Val::Str(self.d.summary.clone())),
                    "subclass" => Some(Val::Str(self.d.subclass.clone())).filter(|_| !self.d.subclass.is_empty()),
                    "evidence" => Some(Val::Str(
                        self.d
                            .evidence
                            .iter()
                            .take(3)
                            .map(|e| if e.line > 0 { format!("line {}: {}", e.line, e.text) } else { e.text.clone() })
                            .collect::<Vec<_>>()
                            .join(" | "),
                    ))
                    .filter(|_| !self.d.evidence.is_empty()),
                    _ => None,
                }
            }
            Source::Metric(signal, stat) => self
                .ctx
                .metrics
                .as_ref()
                .and_then(|m| m.stat(crate::signals::Signal::from_id(signal)?, stat))
                .map(Val::Num),
            Source::NodeAllocatable(r) => {
                self.ctx.node_allocatable.get(r).and_then(|s| expr::parse_number(s)).map(Val::Num)
            }
            Source::NodeLabel(k) => self.ctx.node_labels.get(k).map(|v| Val::Str(v.clone())),
            Source::NodesMax(label) => self
                .ctx
                .candidate_nodes
                .iter()
                .filter_map(|n| n.labels.get(label).and_then(|v| expr::parse_number(v)))
                .reduce(f64::max)
                .map(Val::Num),
            Source::Policy(f) => match f.as_str() {
                "prefer_keep_context" => Some(Val::Bool(p.prefer_keep_context)),
                "max_gpu_memory_utilization" => Some(Val::Num(p.max_gpu_memory_utilization)),
                "min_context_length" => Some(Val::Num(p.min_context_length as f64)),
                "max_memory_limit" => quantity::parse(&p.max_memory_limit).ok().map(Val::Num),
                "max_attempts_per_day" => Some(Val::Num(p.max_attempts_per_day as f64)),
                "max_shm_size" => quantity::parse(&p.max_shm_size).ok().map(Val::Num),
                "max_startup_seconds" => Some(Val::Num(p.max_startup_seconds as f64)),
                "max_model_len_auto" => Some(Val::Bool(p.max_model_len_auto)),
                _ => None,
            },
            Source::Workload(f) => {
                let w = self.w?;
                match f.as_str() {
                    "replicas" => {
                        Some(Val::Num(w.object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1) as f64))
                    }
                    "kind" => Some(Val::Str(w.kind.as_str().to_owned())),
                    // A controller recreates its pods (not so a bare Pod).
                    "managed" => Some(Val::Bool(w.kind.as_str() != "Pod")),
                    "container" => self.container?.get("name")?.as_str().map(|s| Val::Str(s.to_owned())),
                    "shm_size" => {
                        let c = self.container?;
                        let vol = c
                            .get("volumeMounts")?
                            .as_array()?
                            .iter()
                            .find(|m| m.get("mountPath").and_then(Value::as_str) == Some("/dev/shm"))?
                            .get("name")?
                            .as_str()?;
                        let v = w
                            .object
                            .pointer(&format!("{}/volumes", w.pod_spec_path()))?
                            .as_array()?
                            .iter()
                            .find(|v| v.get("name").and_then(Value::as_str) == Some(vol))?;
                        let ed = v.get("emptyDir")?;
                        if ed.get("medium").and_then(Value::as_str) != Some("Memory") {
                            return None;
                        }
                        match ed.get("sizeLimit").and_then(Value::as_str) {
                            Some(s) => quantity::parse(s).ok().map(Val::Num),
                            None => Some(Val::Num(f64::INFINITY)),
                        }
                    }
                    _ => None,
                }
            }
            Source::PreviousRevision => self.w?.previous_revision().map(|r| Val::Num(r.number as f64)),
        }
    }
}

fn finish(ty: ParamType, v: Val) -> Result<Val, String> {
    Ok(match ty {
        ParamType::Int => Val::Num(v.num().ok_or_else(|| format!("{v:?} is not a number"))?.trunc()),
        ParamType::Float => Val::Num((v.num().ok_or_else(|| format!("{v:?} is not a number"))? * 1e4).round() / 1e4),
        ParamType::Quantity => {
            let n = v.num().ok_or_else(|| format!("{v:?} is not a quantity"))?;
            Val::Num(quantity::parse(&quantity::format_bytes(n)).unwrap_or(n))
        }
        ParamType::String => match v {
            Val::Str(s) => Val::Str(s),
            Val::Num(n) => Val::Str(format_num(n)),
            Val::Bool(b) => Val::Str(b.to_string()),
        },
        ParamType::Version => {
            let text = match &v {
                Val::Str(s) => s.clone(),
                Val::Num(n) => format_num(*n),
                Val::Bool(_) => return Err(format!("{v:?} is not a version")),
            };
            Val::Str(
                crate::engine::Version::parse(&text).ok_or_else(|| format!("{text:?} is not a version"))?.to_string(),
            )
        }
        ParamType::Bool => match v {
            Val::Bool(b) => Val::Bool(b),
            Val::Str(s) if s == "true" || s == "false" => Val::Bool(s == "true"),
            other => return Err(format!("{other:?} is not a bool")),
        },
    })
}

fn format_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{}", n as i64) } else { format!("{}", (n * 1e4).round() / 1e4) }
}

fn format_val(ty: ParamType, v: &Val) -> String {
    match (ty, v) {
        (ParamType::Quantity, Val::Num(n)) => quantity::format_bytes(*n),
        (_, Val::Num(n)) => format_num(*n),
        (_, Val::Str(s)) => s.clone(),
        (_, Val::Bool(b)) => b.to_string(),
    }
}

fn param_value(ty: ParamType, v: &Val) -> ParamValue {
    match (ty, v) {
        (ParamType::Int, Val::Num(n)) => ParamValue::Int(*n as i64),
        (ParamType::Float, Val::Num(n)) => ParamValue::Float(*n),
        (_, Val::Bool(b)) => ParamValue::Bool(*b),
        (t, v) => ParamValue::Text(format_val(t, v)),
    }
}

fn compare(a: &Val, op: Cmp, b: &Val) -> bool {
    if let (Some(x), Some(y)) = (a.num(), b.num())
        && !matches!((a, b), (Val::Bool(_), _) | (_, Val::Bool(_)))
    {
        return match op {
            Cmp::Eq => x == y,
            Cmp::Ne => x != y,
            Cmp::Lt => x < y,
            Cmp::Le => x <= y,
            Cmp::Gt => x > y,
            Cmp::Ge => x >= y,
        };
    }
    let text = |v: &Val| match v {
        Val::Str(s) => s.clone(),
        Val::Num(n) => format_num(*n),
        Val::Bool(b) => b.to_string(),
    };
    match op {
        Cmp::Eq => text(a) == text(b),
        Cmp::Ne => text(a) != text(b),
        _ => false,
    }
}

/// Compares two values as releases (`0.9.2 < 0.14.0`); false when either is not a version.
fn compare_versions(a: &Val, op: Cmp, b: &Val) -> bool {
    let v = |x: &Val| match x {
        Val::Str(s) => crate::engine::Version::parse(s),
        Val::Num(n) => crate::engine::Version::parse(&format_num(*n)),
        Val::Bool(_) => None,
    };
    let (Some(x), Some(y)) = (v(a), v(b)) else { return false };
    match op {
        Cmp::Eq => x == y,
        Cmp::Ne => x != y,
        Cmp::Lt => x < y,
        Cmp::Le => x <= y,
        Cmp::Gt => x > y,
        Cmp::Ge => x >= y,
    }
}

fn cmp_name(c: Cmp) -> &'static str {
    match c {
        Cmp::Eq => "eq",
        Cmp::Ne => "ne",
        Cmp::Lt => "lt",
        Cmp::Le => "le",
        Cmp::Gt => "gt",
        Cmp::Ge => "ge",
    }
}

struct Rendering {
    parameters: BTreeMap<String, ParamValue>,
    steps: Vec<PlannedStep>,
    diff: Option<String>,
    notes: Vec<String>,
}

impl PlaybookSet {
    /// Chooses and renders the playbook for a diagnosis; `None` when no
    /// playbook of its class applies (the shipped set always has a
    /// notify-only fallback per class).
    pub fn plan(&self, diagnosis: &Diagnosis, workload: Option<&Workload>, context: &PlanContext) -> Option<Plan> {
        let mut candidates: Vec<&Playbook> = self.playbooks().iter().filter(|p| p.class == diagnosis.class).collect();
        candidates.sort_by_key(|p| std::cmp::Reverse(p.priority));

        // The target container: the crashed one, else the first that runs a known server, else the first.
        let containers = workload.map(Workload::containers).unwrap_or_default();
        let by_name = |n: &str| containers.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(n));
        let container = context
            .container
            .as_ref()
            .and_then(|f| by_name(&f.name))
            .or_else(|| {
                containers.iter().find(|c| {
                    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
                    detect_server(image, &command_line(c)) != "other"
                })
            })
            .or_else(|| containers.first());
        let container_name = container
            .and_then(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
            .or_else(|| context.container.as_ref().map(|f| f.name.clone()));
        let image = container
            .and_then(|c| c.get("image").and_then(Value::as_str))
            .or_else(|| context.container.as_ref().and_then(|f| f.image.as_deref()));
        let from_log = context.engine.as_ref().map(|e| e.name.as_str()).filter(|n| *n != "other");
        let server: Option<String> = context.server.clone().or_else(|| {
            let detected = match container {
                Some(c) => Some(detect_server(image.unwrap_or_default(), &command_line(c))),
                None => image.map(|i| detect_server(i, "")),
            };
            match (detected, from_log) {
                (None | Some("other"), Some(l)) => Some(l.to_owned()),
                (d, _) => d.map(str::to_owned),
            }
        });
        let engine = engine_for(server.as_deref(), context.engine.as_ref(), image);
        let mut limits = context.container.as_ref().map(|f| f.limits.clone()).unwrap_or_default();
        if let Some(m) = container.and_then(|c| c.pointer("/resources/limits")).and_then(Value::as_object) {
            limits.extend(m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))));
        }
        let gpu = crate::engine::Gpu::from_labels(&context.node_labels, Some(&limits));
        let table = server.as_deref().and_then(|s| self.engines().engine(s));
        let setup = table.map(|t| crate::engine::Setup {
            engine: t,
            version: engine.version.as_ref(),
            printed: &engine.settings,
            container,
            gpu: &gpu,
        });
        let target = Target {
            kind: workload.map(|w| w.kind),
            namespace: workload.and_then(|w| w.namespace.clone()),
            name: workload.map(|w| w.name.clone()),
            container: container_name.clone(),
            server: server.clone(),
            server_version: engine.version.as_ref().map(ToString::to_string),
        };

        let mut considered = Vec::new();
        for pb in candidates {
            let used = std::cell::RefCell::new(Vec::new());
            let scope = Scope {
                d: diagnosis,
                w: workload,
                container,
                ctx: context,
                server: server.as_deref(),
                params: HashMap::new(),
                setup,
                engine: &engine,
                gpu: &gpu,
                used: &used,
            };
            match render(pb, scope, workload, container_name.as_deref(), context) {
                Ok(mut r) => {
                    if let Some(setup) = setup
                        && setup.version.is_none()
                    {
                        r.notes.push(unknown_version_note(&setup));
                    }
                    return Some(Plan {
                        playbook: pb.id.clone(),
                        title: pb.title.clone(),
                        description: pb.description.clone(),
                        class: pb.class,
                        risk: pb.risk,
                        target,
                        parameters: r.parameters,
                        steps: r.steps,
                        verification: pb.verify,
                        limits: pb.limits,
                        diff: r.diff,
                        notes: r.notes,
                        considered,
                    });
                }
                // Playbooks for another server or subclass are not worth listing.
                Err(Pass::NotForThis) => {}
                Err(Pass::Skipped(mut reason)) => {
                    // Say which effective values the decision rested on.
                    let used = used.into_inner();
                    if !used.is_empty() {
                        reason.push_str(&format!(" (effective {})", used.join("; ")));
                    }
                    considered.push(Skipped { playbook: pb.id.clone(), reason })
                }
            }
        }
        None
    }
}

/// Said in every plan for an engine with a table whose version is unknown.
fn unknown_version_note(setup: &crate::engine::Setup<'_>) -> String {
    let t = &setup.engine.title;
    format!(
        "the {t} version is unknown (no banner in the log head, no release in the image tag): only flags and values \
         that every {t} release in the table ({}) accepts were considered",
        setup.engine.span()
    )
}

/// The engine as identified (the context's, completed from the image),
/// under the name the plan uses.
fn engine_for(
    server: Option<&str>,
    known: Option<&crate::engine::EngineInfo>,
    image: Option<&str>,
) -> crate::engine::EngineInfo {
    use crate::engine::{EngineInfo, VersionSource, version_from_image};
    let name = server.unwrap_or("other");
    let mut e = match known {
        Some(k) if k.name == name => k.clone(),
        _ => EngineInfo::named(name),
    };
    if e.version.is_none()
        && let Some(v) = image.and_then(|i| version_from_image(name, i))
    {
        e.version = Some(v);
        e.version_source = Some(VersionSource::Image);
    }
    e
}

/// Why a playbook was not rendered.
enum Pass {
    /// It is for another server or subclass.
    NotForThis,
    /// It was considered and passed over.
    Skipped(String),
}

impl From<String> for Pass {
    fn from(s: String) -> Self {
        Pass::Skipped(s)
    }
}

fn render(
    pb: &Playbook,
    scope: Scope<'_>,
    workload: Option<&Workload>,
    container: Option<&str>,
    ctx: &PlanContext,
) -> Result<Rendering, Pass> {
    // 1. Subclass and server.
    if !pb.subclasses.is_empty() && !pb.subclasses.contains(&scope.d.subclass) {
        return Err(Pass::NotForThis);
    }
    if !pb.servers.is_empty() {
        match scope.server {
            Some(s) if pb.servers.iter().any(|x| x == s) => {}
            Some(_) => return Err(Pass::NotForThis),
            None => {
                return Err(Pass::Skipped(format!(
                    "the server is unknown (the playbook is for {})",
                    pb.servers.join(", ")
                )));
            }
        }
    }
    Ok(render_matching(pb, scope, workload, container, ctx)?)
}

fn render_matching(
    pb: &Playbook,
    mut scope: Scope<'_>,
    workload: Option<&Workload>,
    container: Option<&str>,
    ctx: &PlanContext,
) -> Result<Rendering, String> {
    // 2. Bare pods.
    if let Some(w) = workload
        && w.kind == WorkloadKind::Pod
        && let Some(s) = pb.steps.iter().find(|s| s.kind.needs_template())
    {
        return Err(format!(
            "step `{}` ({}) needs a Deployment or StatefulSet; a bare Pod gets delete-pod and notify only",
            s.id, s.kind
        ));
    }
    // 2b. Node-level fixes need corroboration beyond the pod's own log.
    if pb.steps.iter().any(|s| s.kind == ActionKind::CordonNode) {
        ctx.node_fault.corroborated()?;
    }
    // 3. Limits.
    let age = |a: &Attempt| (ctx.now - a.at).num_seconds();
    let mine: Vec<&Attempt> = ctx.attempts.iter().filter(|a| a.playbook == pb.id).collect();
    let recent = mine.iter().filter(|a| age(a) < pb.limits.window_seconds).count() as i64;
    if recent >= pb.limits.max_attempts {
        return Err(format!(
            "already attempted {recent} times in the last {} s (limit {})",
            pb.limits.window_seconds, pb.limits.max_attempts
        ));
    }
    if let Some(last) = mine.iter().map(|a| age(a)).min()
        && last < pb.limits.cooldown_seconds
    {
        return Err(format!("cooling down: last attempt {last} s ago, cooldown {} s", pb.limits.cooldown_seconds));
    }
    if pb.is_mutating() {
        let today = ctx.attempts.iter().filter(|a| age(a) < 86400).count() as i64;
        if today >= ctx.policy.max_attempts_per_day {
            return Err(format!(
                "the policy allows {} changes per workload per day and {today} were made",
                ctx.policy.max_attempts_per_day
            ));
        }
    }
    // 4. Parameters.
    let mut notes = Vec::new();
    let mut parameters = BTreeMap::new();
    let mut types = HashMap::new();
    for p in &pb.params {
        let mut v = None;
        for s in &p.from {
            if let Some(x) = scope.source(s) {
                v = Some(x);
                break;
            }
        }
        let err = |e: String| format!("parameter `{}`: {e}", p.name);
        if v.is_none()
            && let Some(c) = &p.compute
        {
            v = expr::eval(c, &scope).map_err(err)?;
        }
        if v.is_none()
            && let Some(d) = &p.default
        {
            v = expr::eval(d, &scope).map_err(err)?;
        }
        let Some(v) = v else {
            let mut wanted: Vec<String> = p.from.iter().map(expr::source_name).collect();
            if p.compute.is_some() {
                wanted.push("its `compute` inputs".into());
            }
            let mut why = String::new();
            if let Some(setup) = scope.setup {
                for s in &p.from {
                    if let Source::Effective(flag, _) = s {
                        why.push_str(&format!("; `{flag}` on {} is {}", setup.who(), setup.effective(flag).describe()));
                    }
                }
            }
            return Err(format!("parameter `{}` has no value (from {}){why}", p.name, wanted.join(", ")));
        };
        let mut v = finish(p.ty, v).map_err(err)?;
        if let Val::Num(n) = v {
            let lo =
                p.min.as_ref().map(|e| expr::eval(e, &scope)).transpose().map_err(err)?.flatten().and_then(|x| x.num());
            let hi =
                p.max.as_ref().map(|e| expr::eval(e, &scope)).transpose().map_err(err)?.flatten().and_then(|x| x.num());
            let mut c = n;
            if let Some(hi) = hi {
                c = c.min(hi);
            }
            if let Some(lo) = lo {
                c = c.max(lo);
            }
            if c != n {
                let shown = |x: f64| format_val(p.ty, &Val::Num(x));
                notes.push(format!("parameter `{}` clamped from {} to {}", p.name, shown(n), shown(c)));
                v = finish(p.ty, Val::Num(c)).map_err(err)?;
            }
        }
        parameters.insert(p.name.clone(), param_value(p.ty, &v));
        types.insert(p.name.clone(), p.ty);
        scope.params.insert(p.name.clone(), v);
    }
    // 5. Conditions.
    for c in &pb.when {
        let holds = match c {
            Condition::Has(e) => expr::eval(e, &scope)?.is_some(),
            Condition::Missing(e) => expr::eval(e, &scope)?.is_none(),
            Condition::Compare(l, cmps) => {
                let Some(lv) = expr::eval(l, &scope)? else {
                    return Err(format!("condition on {}: it has no value", expr::show(l)));
                };
                let mut ok = true;
                let is_version = |e: &super::expr::Expr| {
                    expr::static_type(e, &|p| types.get(p).copied()) == Some(ParamType::Version)
                };
                for (op, r) in cmps {
                    let rv = expr::eval(r, &scope)?;
                    let versioned = is_version(l) || is_version(r);
                    if !rv.as_ref().is_some_and(|rv| {
                        if versioned { compare_versions(&lv, *op, rv) } else { compare(&lv, *op, rv) }
                    }) {
                        let shown = |v: &Val| match v {
                            Val::Num(n) => format_num(*n),
                            Val::Str(s) => format!("{s:?}"),
                            Val::Bool(b) => b.to_string(),
                        };
                        return Err(format!(
                            "condition {} {} {} does not hold ({} vs {})",
                            expr::show(l),
                            cmp_name(*op),
                            expr::show(r),
                            shown(&lv),
                            rv.as_ref().map_or("unknown".into(), shown)
                        ));
                    }
                    ok &= true;
                }
                ok
            }
        };
        if !holds {
            let what = match c {
                Condition::Has(e) => format!("needs {}", expr::show(e)),
                Condition::Missing(e) => format!("needs {} to be absent", expr::show(e)),
                Condition::Compare(..) => "condition".into(),
            };
            return Err(format!("condition does not hold: {what}"));
        }
    }
    // 6. Steps.
    let ptypes: HashMap<String, ParamType> = types;
    let mut steps = Vec::new();
    let mut current = workload.map(|w| w.object.clone());
    let wref = workload.map(Workload::reference);
    let label = workload.map(|w| format!("{}.yaml", w.name)).unwrap_or_default();
    let mut any_change = false;
    let mut only_workload_changes = true;
    for s in &pb.steps {
        let mut obj = serde_json::Map::new();
        obj.insert("type".into(), json!(s.kind.as_str()));
        for f in s.kind.fields() {
            let value = match s.fields.get(f.name) {
                Some(v) => {
                    Some(substitute(f.ty, v, &scope.params, &ptypes).map_err(|e| format!("step `{}`: {e}", s.id))?)
                }
                None if f.presence == Presence::Filled => {
                    Some(fill(f.name, container, ctx, &scope).ok_or_else(|| {
                        format!(
                            "step `{}` ({}) needs the {} and it is not known",
                            s.id,
                            s.kind,
                            f.name.replace('_', " ")
                        )
                    })?)
                }
                None => None,
            };
            if let Some(v) = value {
                obj.insert(f.name.into(), v);
            }
        }
        if s.kind == ActionKind::Rollback
            && let Some(r) = workload.and_then(Workload::previous_revision)
        {
            obj.insert("revision".into(), json!(r.number));
            obj.insert("source".into(), json!(r.source));
            obj.insert("template".into(), r.template.clone());
        }
        let action: Action = serde_json::from_value(Value::Object(obj)).map_err(|e| format!("step `{}`: {e}", s.id))?;
        guard_step(s, &action, &scope, &mut notes).map_err(|e| format!("step `{}`: {e}", s.id))?;
        let mut step = PlannedStep {
            id: s.id.clone(),
            description: s.description.clone().unwrap_or_else(|| action.describe()),
            needs: s.needs.clone(),
            on_failure: s.on_failure,
            risk: s.risk,
            mutating: s.kind.is_mutating(),
            object: None,
            patch: None,
            revert: None,
            diff: None,
            action,
        };
        match &step.action {
            a if a.patches_workload() => {
                step.object = wref.clone();
                if let Some(cur) = &current {
                    let r = a.render(cur, &label).map_err(|e| format!("step `{}`: {e}", s.id))?;
                    let next = actions::patch::apply(cur, &r.patch).map_err(|e| format!("step `{}`: {e}", s.id))?;
                    any_change |= !r.patch.is_empty();
                    step.diff = (!r.diff.is_empty()).then_some(r.diff);
                    step.patch = Some(r.patch);
                    step.revert = Some(r.revert);
                    current = Some(next);
                }
            }
            Action::CordonNode { node } => {
                let stub = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}, "spec": {}});
                let r = step
                    .action
                    .render(&stub, &format!("node-{node}.yaml"))
                    .map_err(|e| format!("step `{}`: {e}", s.id))?;
                step.object = Some(format!("Node/{node}"));
                step.patch = Some(r.patch);
                step.revert = Some(r.revert);
                only_workload_changes = false;
            }
            Action::DeletePod { pod } => {
                step.object = Some(match workload.and_then(|w| w.namespace.as_deref()) {
                    Some(ns) => format!("Pod/{ns}/{pod}"),
                    None => format!("Pod/{pod}"),
                });
                only_workload_changes = false;
            }
            Action::Rollback { .. } => {
                step.object = wref.clone();
                only_workload_changes = false;
            }
            _ => {}
        }
        steps.push(step);
    }
    // 7. Nothing to change.
    if let Some(w) = workload
        && pb.is_mutating()
        && only_workload_changes
        && !any_change
    {
        return Err(format!("nothing to change: {} already has these settings", w.reference()));
    }
    notes.extend(scope.used.borrow().iter().map(|u| format!("effective {u}")));
    if workload.is_none() && pb.steps.iter().any(|s| s.kind.needs_template()) {
        notes.push(
            "no workload given: pass the Deployment or StatefulSet (`--workload`) to get the concrete patch".into(),
        );
    }
    let diff = match (workload, &current) {
        (Some(w), Some(after)) if &w.object != after => Some(actions::yaml_diff(&w.object, after, &label)),
        _ => None,
    };
    Ok(Rendering { parameters, steps, diff, notes })
}

/// The engine guards of a step: a `set-arg` writes only a flag and value
/// the running version accepts (every release in the table, when the
/// version is unknown), and a `moves:` step moves the effective value that
/// way. Engines without a table are not checked, except that a `moves:`
/// step needs one.
fn guard_step(s: &super::Step, action: &Action, scope: &Scope<'_>, notes: &mut Vec<String>) -> Result<(), String> {
    if let Action::RemoveArg { flag, .. } = action
        && let Some(setup) = scope.setup
        && let Some(f) = setup.engine.flag(flag)
    {
        let gone = f.range.until.as_ref().map(|u| format!("removed in {} {u}", setup.engine.title));
        notes.push(format!(
            "`{}` {} ({}){}",
            f.flag,
            gone.unwrap_or_else(|| "is in the table".into()),
            f.source,
            f.replacement.as_ref().map(|r| format!("; its replacement: {r}")).unwrap_or_default()
        ));
        return Ok(());
    }
    let Action::SetArg { flag, value, .. } = action else { return Ok(()) };
    let Some(setup) = scope.setup else {
        return match s.moves {
            Some(_) => Err(format!(
                "podmedic has no flag table for {} to tell which way `{flag} {value}` moves it",
                scope.server.unwrap_or("this server")
            )),
            None => Ok(()),
        };
    };
    if let Some(note) = setup.check_write(flag, value)? {
        notes.push(note);
    }
    if let Some(m) = s.moves {
        let new = expr::parse_number(value).ok_or_else(|| format!("`{flag} {value}` is not a number to compare"))?;
        setup.check_move(flag, new, m == super::Moves::Raise)?;
    }
    Ok(())
}

fn fill(field: &str, container: Option<&str>, ctx: &PlanContext, scope: &Scope<'_>) -> Option<Value> {
    match field {
        "container" => container.map(|c| json!(c)),
        "restarted_at" => Some(json!(ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
        // A bare Pod workload is the pod itself.
        "pod" => match scope.w {
            Some(w) if w.kind == WorkloadKind::Pod => Some(json!(w.name)),
            _ => ctx.pod_name.clone().map(Value::String),
        },
        "node" => scope.facts().and_then(|f| f.node_name.clone()).map(Value::String),
        _ => None,
    }
}

fn substitute(
    ty: FieldType,
    v: &Value,
    params: &HashMap<String, Val>,
    types: &HashMap<String, ParamType>,
) -> Result<Value, String> {
    let text = |s: &str| -> Result<String, String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(open) = rest.find("${") {
            out.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            let close = after.find('}').ok_or("unclosed `${`")?;
            let name = after[..close].trim();
            let v = params.get(name).ok_or_else(|| format!("parameter `{name}` has no value"))?;
            out.push_str(&format_val(types.get(name).copied().unwrap_or(ParamType::String), v));
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    };
    let scalar = |v: &Value| -> Result<String, String> {
        match v {
            Value::String(s) => text(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(format!("unexpected {other}")),
        }
    };
    Ok(match ty {
        FieldType::Int => match v {
            Value::Number(_) => v.clone(),
            _ => {
                let s = scalar(v)?;
                json!(s.parse::<i64>().map_err(|_| format!("{s:?} is not an integer"))?)
            }
        },
        FieldType::Str | FieldType::Quantity | FieldType::Enum(_) => json!(scalar(v)?),
        FieldType::StrList => match v {
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| scalar(i).map(Value::String)).collect::<Result<_, _>>()?)
            }
            other => json!([scalar(other)?]),
        },
        FieldType::QuantityMap => match v {
            Value::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, x) in m {
                    out.insert(k.clone(), json!(scalar(x)?));
                }
                Value::Object(out)
            }
            other => return Err(format!("unexpected {other}")),
        },
    })
}
