//! The controller's configuration: flags, each also settable by environment
//! variable (the Helm chart uses the variables).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `podmedic run`: the in-cluster controller.
#[derive(Debug, Clone, clap::Args)]
pub struct ControllerConfig {
    /// Propose only: create RecoveryProposals and announce them, never execute,
    /// whatever their annotations say.
    #[arg(long, env = "PODMEDIC_DRY_RUN", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: bool,

    /// Namespaces to watch, comma-separated; empty watches all namespaces.
    #[arg(long, env = "PODMEDIC_NAMESPACES", value_delimiter = ',', default_value = "")]
    pub namespaces: Vec<String>,

    /// Only watch pods matching this label selector (e.g. `app.kubernetes.io/component=llm`).
    #[arg(long, env = "PODMEDIC_SELECTOR")]
    pub selector: Option<String>,

    /// Restarts before a CrashLoopBackOff counts (OOMKilled and probe kills count at once).
    #[arg(long, env = "PODMEDIC_RESTART_THRESHOLD", default_value_t = 2)]
    pub restart_threshold: i32,

    /// How many trailing lines of the previous container's log to read.
    #[arg(long, env = "PODMEDIC_LOG_TAIL", default_value_t = 200)]
    pub log_tail: i64,

    /// How long a proposal can be approved before it expires.
    #[arg(long, env = "PODMEDIC_PROPOSAL_TTL", default_value = "30m", value_parser = parse_duration)]
    pub proposal_ttl: Duration,

    /// After a proposal for a workload is decided, wait this long before proposing again for it.
    #[arg(long, env = "PODMEDIC_COOLDOWN", default_value = "10m", value_parser = parse_duration)]
    pub cooldown: Duration,

    /// Most proposals executing at the same time.
    #[arg(long, env = "PODMEDIC_MAX_CONCURRENT", default_value_t = 2)]
    pub max_concurrent_executions: usize,

    /// Most executions per workload per 24 hours.
    #[arg(long, env = "PODMEDIC_MAX_ATTEMPTS_PER_DAY", default_value_t = 3)]
    pub max_attempts_per_day: u32,

    /// Failed executions within `--breaker-window` that stop all execution.
    #[arg(long, env = "PODMEDIC_BREAKER_FAILURES", default_value_t = 3)]
    pub breaker_failures: usize,

    /// Window of the circuit breaker.
    #[arg(long, env = "PODMEDIC_BREAKER_WINDOW", default_value = "15m", value_parser = parse_duration)]
    pub breaker_window: Duration,

    /// Cap on how long a fixed workload must stay free of restarts before a
    /// proposal succeeds (playbooks say how long; this only shortens it).
    #[arg(long, env = "PODMEDIC_VERIFY_WINDOW_CAP", value_parser = parse_duration)]
    pub verify_window_cap: Option<Duration>,

    /// Cap on how long a fixed workload may take to become Ready before the
    /// fix counts as failed and is reverted (playbooks say how long; this
    /// only shortens it).
    #[arg(long, env = "PODMEDIC_VERIFY_READY_CAP", value_parser = parse_duration)]
    pub verify_ready_cap: Option<Duration>,

    /// Most nodes podmedic may have cordoned at the same time, cluster-wide
    /// (a node-level fix beyond it fails its step instead of cordoning).
    #[arg(long, env = "PODMEDIC_MAX_CORDONED_NODES", default_value_t = 1)]
    pub max_cordoned_nodes: usize,

    /// Address of the HTTP server (/metrics, /healthz, /readyz, ChatOps callbacks).
    #[arg(long, env = "PODMEDIC_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Elect a leader on a Lease so that only one replica acts.
    #[arg(long, env = "PODMEDIC_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_election: bool,

    /// Name of the Lease.
    #[arg(long, env = "PODMEDIC_LEASE_NAME", default_value = "podmedic")]
    pub lease_name: String,

    /// Namespace of the Lease (in cluster: the pod's namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,

    /// This replica's identity in the Lease (in cluster: the pod's name).
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,

    /// Load signatures from this directory instead of the built-in library.
    #[arg(long, env = "PODMEDIC_PATTERNS")]
    pub patterns: Option<PathBuf>,

    /// Load playbooks from this directory instead of the built-in ones.
    #[arg(long, env = "PODMEDIC_PLAYBOOKS")]
    pub playbooks: Option<PathBuf>,

    /// Diagnosis engine: `fused` (signatures plus the classifier) or `signatures`.
    #[arg(long, env = "PODMEDIC_ENGINE", default_value = "fused", value_parser = ["fused", "signatures"])]
    pub engine: String,

    /// Classifier weights (safetensors) instead of the built-in model.
    #[arg(long, env = "PODMEDIC_MODEL")]
    pub model: Option<PathBuf>,

    /// Where the classifier runs.
    #[arg(long, env = "PODMEDIC_DEVICE", value_enum, default_value_t = crate::classifier::DeviceChoice::Cpu)]
    pub device: crate::classifier::DeviceChoice,

    /// How the pod watcher reads the pods that exist at start-up: `streaming`
    /// (one watch that sends them one by one: WatchList, on by default in
    /// Kubernetes 1.32 and from 1.34), `paged` (LIST in pages of 100), or
    /// `auto` (`streaming` where the API server's version has it on by default).
    #[arg(long, env = "PODMEDIC_INITIAL_LIST", default_value = "auto", value_parser = ["auto", "streaming", "paged"])]
    pub initial_list: String,

    /// Log format.
    #[arg(long, env = "PODMEDIC_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// ChatOps (Slack, generic webhook).
    #[command(flatten)]
    pub chatops: crate::chatops::ChatOpsConfig,

    /// Serving metrics from Prometheus (evidence for diagnoses, stall detection).
    #[command(flatten)]
    pub metrics: MetricsConfig,
}

/// Where serving metrics come from, and how wedged engines are found.
#[derive(Debug, Clone, clap::Args)]
pub struct MetricsConfig {
    /// Prometheus' base URL (e.g. `http://prometheus.monitoring:9090`): each
    /// crash's serving metrics become evidence, and Ready engines that stop
    /// generating get proposals. Unset: neither.
    #[arg(long = "prometheus-url", env = "PODMEDIC_PROMETHEUS_URL")]
    pub prometheus_url: Option<String>,

    /// Time limit of one Prometheus query (`2s`, `500ms`); a slower
    /// Prometheus leaves the diagnosis without metrics, saying so.
    #[arg(long = "prometheus-timeout", env = "PODMEDIC_PROMETHEUS_TIMEOUT", default_value = "2s", value_parser = parse_duration_ms)]
    pub prometheus_timeout: Duration,

    /// How much time before a crash its metrics cover.
    #[arg(long = "metrics-window", env = "PODMEDIC_METRICS_WINDOW", default_value = "10m", value_parser = parse_duration)]
    pub window: Duration,

    /// A Ready engine whose requests wait (or stay running) while it
    /// generates nothing for this long is stalled; `0` turns stall
    /// detection off.
    #[arg(long = "stall-window", env = "PODMEDIC_STALL_WINDOW", default_value = "5m", value_parser = parse_duration)]
    pub stall_window: Duration,

    /// How often Prometheus is asked for stalled engines.
    #[arg(long = "stall-check-interval", env = "PODMEDIC_STALL_CHECK_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub stall_interval: Duration,
}

/// Parses `500ms`, or anything [`parse_duration`] takes.
pub fn parse_duration_ms(s: &str) -> Result<Duration, String> {
    match s.trim().strip_suffix("ms") {
        Some(ms) => ms
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("invalid duration {s:?}: expected e.g. 500ms, 2s")),
        None => parse_duration(s),
    }
}

/// Whether an API server of this version serves streaming lists (the
/// WatchList feature) by default: beta and on in 1.32, off again in 1.33,
/// on from 1.34. Minors like `34+` (managed clusters) count as 34.
pub fn streams_lists_by_default(major: &str, minor: &str) -> bool {
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u32>().ok();
    match (digits(major), digits(minor)) {
        (Some(1), Some(m)) => m == 32 || m >= 34,
        (Some(major), Some(_)) => major > 1,
        _ => false,
    }
}

/// Parses `90s`, `10m`, `2h`, `1h30m` or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}: expected e.g. 90s, 10m, 1h30m"))?;
        num.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(format!("invalid duration {s:?}: unknown unit `{c}` (use s, m, h, d)")),
        };
    }
    if !num.is_empty() || s.is_empty() {
        return Err(format!("invalid duration {s:?}: expected e.g. 90s, 10m, 1h30m"));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("10x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5m3").is_err());
        assert_eq!(parse_duration_ms("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration_ms("2s").unwrap(), Duration::from_secs(2));
        assert!(parse_duration_ms("xms").is_err());
    }

    #[test]
    fn streaming_lists_by_version() {
        assert!(streams_lists_by_default("1", "36"));
        assert!(streams_lists_by_default("1", "34+"));
        assert!(streams_lists_by_default("1", "32"));
        assert!(!streams_lists_by_default("1", "33"));
        assert!(!streams_lists_by_default("1", "31"));
        assert!(!streams_lists_by_default("", ""));
    }
}
