//! The YAML shape of `playbooks/*.yaml`, mirrored one to one. Nothing here is
//! validated beyond the shape; the compile pass turns it into a `PlaybookSet`.
//! See `playbooks/README.md` for the format.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// One `playbooks/*.yaml` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The playbooks of this file.
    pub playbooks: Vec<PlaybookSpec>,
}

/// One playbook as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookSpec {
    /// Unique id, kebab-case.
    pub id: Spanned<String>,
    /// One line for humans.
    pub title: String,
    /// Why this fix, for the proposal.
    #[serde(default)]
    pub description: String,
    /// Which diagnoses it handles.
    #[serde(rename = "match")]
    pub matches: MatchSpec,
    /// Higher is tried first among playbooks of the same class.
    #[serde(default)]
    pub priority: i64,
    /// `low`, `medium` or `high`.
    pub risk: Spanned<String>,
    /// Removed (every proposal needs a human decision); reported with a hint.
    #[serde(default)]
    pub approval: Option<Spanned<String>>,
    /// Parameters by name.
    #[serde(default)]
    pub params: BTreeMap<String, Spanned<ParamSpec>>,
    /// The steps; `needs` edges make them a DAG.
    pub steps: Spanned<Vec<StepSpec>>,
    /// How to tell that the fix worked.
    #[serde(default)]
    pub verify: Option<Spanned<VerifySpec>>,
    /// Cooldown and attempt limits.
    #[serde(default)]
    pub limits: Option<Spanned<LimitsSpec>>,
}

/// Which diagnoses a playbook handles.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    /// One of the fixed class ids.
    pub class: Spanned<String>,
    /// Any of these subclasses (all when empty).
    #[serde(default)]
    pub subclasses: Vec<String>,
    /// Any of these servers (all when absent).
    #[serde(default)]
    pub servers: Option<Spanned<Vec<String>>>,
    /// Conditions, all of which must hold.
    #[serde(default)]
    pub when: Vec<Spanned<ConditionSpec>>,
}

/// A condition on a value (exactly one of `has`, `missing`, `value`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    /// Holds when the reference has a value.
    #[serde(default)]
    pub has: Option<String>,
    /// Holds when the reference has no value.
    #[serde(default)]
    pub missing: Option<String>,
    /// The value compared by the operators below.
    #[serde(default)]
    pub value: Option<ExprSpec>,
    /// Equal to.
    #[serde(default)]
    pub eq: Option<ExprSpec>,
    /// Not equal to.
    #[serde(default)]
    pub ne: Option<ExprSpec>,
    /// Less than.
    #[serde(default)]
    pub lt: Option<ExprSpec>,
    /// Less than or equal to.
    #[serde(default)]
    pub le: Option<ExprSpec>,
    /// Greater than.
    #[serde(default)]
    pub gt: Option<ExprSpec>,
    /// Greater than or equal to.
    #[serde(default)]
    pub ge: Option<ExprSpec>,
}

/// A parameter as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    /// `int`, `float`, `quantity`, `string` or `bool`.
    #[serde(rename = "type")]
    pub ty: Spanned<String>,
    /// For people.
    #[serde(default)]
    pub description: String,
    /// References tried in order; the first with a value wins.
    #[serde(default)]
    pub from: Option<Spanned<Vec<String>>>,
    /// An expression, used when `from` gives nothing.
    #[serde(default)]
    pub compute: Option<Spanned<ExprSpec>>,
    /// The value when neither gives one.
    #[serde(default)]
    pub default: Option<Spanned<ExprSpec>>,
    /// Lower bound (the value is clamped into the bounds).
    #[serde(default)]
    pub min: Option<Spanned<ExprSpec>>,
    /// Upper bound.
    #[serde(default)]
    pub max: Option<Spanned<ExprSpec>>,
}

/// An expression: a number, a string (a reference, a quantity or text), or
/// an operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ExprSpec {
    /// `true` / `false`.
    Bool(bool),
    /// A plain number.
    Num(f64),
    /// A reference (`kv_tokens`, `capture.kv_tokens`), a quantity (`100Mi`) or text.
    Text(String),
    /// An operation.
    Op(Box<OpSpec>),
}

/// The operations of the expression language.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum OpSpec {
    /// Sum.
    Add(Vec<ExprSpec>),
    /// First minus the rest.
    Sub(Vec<ExprSpec>),
    /// Product.
    Mul(Vec<ExprSpec>),
    /// First divided by the rest.
    Div(Vec<ExprSpec>),
    /// Smallest of those with a value.
    Min(Vec<ExprSpec>),
    /// Largest of those with a value.
    Max(Vec<ExprSpec>),
    /// The first with a value.
    First(Vec<ExprSpec>),
    /// Rounded down.
    Floor(ExprSpec),
    /// Rounded up.
    Ceil(ExprSpec),
    /// `[x, m]`: x rounded down to a multiple of m.
    RoundDown(Vec<ExprSpec>),
    /// The leading integer of a version (`550.54.14` → 550).
    Major(ExprSpec),
    /// Minimum NVIDIA driver major for a CUDA version (`12.4` → 550).
    DriverForCuda(ExprSpec),
    /// Driver major of the next CUDA release after the given one (a node
    /// whose driver supports only `found` needs at least this).
    DriverAboveCuda(ExprSpec),
    /// Whether the running engine version no longer accepts the flag
    /// (`--swap-space`, or `--swap-space=4`): true when the engine table
    /// says it was removed at or before the running version.
    FlagRemoved(ExprSpec),
}

/// One step as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Unique within the playbook.
    pub id: Spanned<String>,
    /// For people; defaults to the action's own description.
    #[serde(default)]
    pub description: Option<String>,
    /// The action: `type` and its fields.
    pub action: Spanned<BTreeMap<String, Spanned<serde_json::Value>>>,
    /// Steps that must succeed first.
    #[serde(default)]
    pub needs: Option<Spanned<Vec<String>>>,
    /// `stop`, `revert` or `continue`.
    #[serde(default)]
    pub on_failure: Option<Spanned<String>>,
    /// Overrides the action's own risk.
    #[serde(default)]
    pub risk: Option<Spanned<String>>,
    /// Why it is safe that this mutation cannot be reverted.
    #[serde(default)]
    pub irreversible: Option<String>,
    /// `raise` or `lower`: the direction a `set-arg` step moves its flag
    /// from the effective value; checked for the running engine version
    /// before the step is proposed.
    #[serde(default)]
    pub moves: Option<Spanned<String>>,
}

/// How to verify a playbook's fix.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    /// Ready within this many seconds of the last step.
    pub ready_within_seconds: i64,
    /// And no new restart for this many seconds after that.
    pub no_restart_for_seconds: i64,
}

/// How often a playbook may run for one workload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Seconds after an attempt before the next.
    #[serde(default)]
    pub cooldown_seconds: Option<i64>,
    /// Attempts per workload within `window_seconds`.
    #[serde(default)]
    pub max_attempts: Option<i64>,
    /// The window for `max_attempts` (default one day).
    #[serde(default)]
    pub window_seconds: Option<i64>,
}
