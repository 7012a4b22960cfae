//! The fixed failure classes (see DESIGN.md): the vocabulary shared by the
//! signature library, the classifier, the playbooks and the CRD.
//!
//! The ids are a contract: other tools parse them from `triage --output json`
//! and from `RecoveryProposal` objects. Never rename one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a pod crashed, at the coarsest level podmedic commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailureClass {
    /// The image's CUDA needs a newer NVIDIA driver than the node has.
    CudaDriverMismatch,
    /// The KV cache cannot hold the configured context length / batch.
    KvCacheOom,
    /// CUDA ran out of device memory while loading or running the model.
    GpuOom,
    /// The container ran out of host memory (cgroup OOM kill, bad_alloc).
    HostOom,
    /// Model weights could not be fetched or loaded.
    WeightLoadFailure,
    /// NCCL collective failures, watchdog timeouts, too small `/dev/shm`.
    NcclFailure,
    /// Xid errors, GPU fallen off the bus, uncorrectable ECC errors.
    GpuHardwareFault,
    /// The process sees no GPU at all.
    NoGpuVisible,
    /// Bad arguments or configuration of the serving process.
    ConfigError,
    /// Killed by a startup or liveness probe while still loading.
    StartupProbeKill,
    /// No crash: the pod is Ready, but requests wait (or stay running) and
    /// nothing is generated for a window (serving metrics).
    EngineStalled,
    /// None of the above with enough confidence.
    Unknown,
}

impl FailureClass {
    /// Every class, in index order (the classifier's output order).
    pub const ALL: [FailureClass; 12] = [
        FailureClass::CudaDriverMismatch,
        FailureClass::KvCacheOom,
        FailureClass::GpuOom,
        FailureClass::HostOom,
        FailureClass::WeightLoadFailure,
        FailureClass::NcclFailure,
        FailureClass::GpuHardwareFault,
        FailureClass::NoGpuVisible,
        FailureClass::ConfigError,
        FailureClass::StartupProbeKill,
        FailureClass::EngineStalled,
        FailureClass::Unknown,
    ];

    /// Number of classes, `unknown` included.
    pub const COUNT: usize = Self::ALL.len();

    /// The stable id, e.g. `kv-cache-oom`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FailureClass::CudaDriverMismatch => "cuda-driver-mismatch",
            FailureClass::KvCacheOom => "kv-cache-oom",
            FailureClass::GpuOom => "gpu-oom",
            FailureClass::HostOom => "host-oom",
            FailureClass::WeightLoadFailure => "weight-load-failure",
            FailureClass::NcclFailure => "nccl-failure",
            FailureClass::GpuHardwareFault => "gpu-hardware-fault",
            FailureClass::NoGpuVisible => "no-gpu-visible",
            FailureClass::ConfigError => "config-error",
            FailureClass::StartupProbeKill => "startup-probe-kill",
            FailureClass::EngineStalled => "engine-stalled",
            FailureClass::Unknown => "unknown",
        }
    }

    /// Position in [`FailureClass::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).expect("ALL lists every class")
    }

    /// How close to the root cause a class is, when several show in one log.
    ///
    /// Higher wins among classes whose evidence is about equally strong
    /// (see `diagnosis`). The order encodes causality seen in real incidents:
    /// - a GPU hardware fault (Xid 79, fallen off the bus) surfaces later as
    ///   NCCL errors, CUDA errors and "no GPUs available";
    /// - a driver too old for the image surfaces as "no CUDA GPUs are available";
    /// - a missing GPU makes every later CUDA call fail;
    /// - a failed weight download ends in generic tracebacks;
    /// - the KV-cache message is a more specific reading of a GPU OOM;
    /// - NCCL failures are often the consequence of OOM or config problems
    ///   on one rank, so the specific rank error outranks them;
    /// - a probe kill is what happens when nothing else is wrong but the
    ///   load was slow, so any real error outranks it;
    /// - a stall is read from metrics, never from a crash log: any cause a
    ///   log names outranks it (it is only ever decided on its own).
    pub const fn root_cause_rank(self) -> u8 {
        match self {
            FailureClass::GpuHardwareFault => 100,
            FailureClass::CudaDriverMismatch => 90,
            FailureClass::NoGpuVisible => 80,
            FailureClass::HostOom => 70,
            FailureClass::WeightLoadFailure => 60,
            FailureClass::KvCacheOom => 55,
            FailureClass::GpuOom => 50,
            FailureClass::ConfigError => 40,
            FailureClass::NcclFailure => 30,
            FailureClass::StartupProbeKill => 10,
            FailureClass::EngineStalled => 5,
            FailureClass::Unknown => 0,
        }
    }

    /// A few words for people, e.g. "KV cache does not fit".
    pub const fn description(self) -> &'static str {
        match self {
            FailureClass::CudaDriverMismatch => "the node's NVIDIA driver is too old for the image's CUDA",
            FailureClass::KvCacheOom => "the KV cache does not fit in GPU memory",
            FailureClass::GpuOom => "the GPU ran out of memory",
            FailureClass::HostOom => "the container ran out of host memory",
            FailureClass::WeightLoadFailure => "the model weights could not be loaded",
            FailureClass::NcclFailure => "NCCL communication between GPUs failed",
            FailureClass::GpuHardwareFault => "the GPU hardware reported a fault",
            FailureClass::NoGpuVisible => "no GPU is visible to the container",
            FailureClass::ConfigError => "the server's configuration is invalid",
            FailureClass::StartupProbeKill => "a probe killed the container while it was still loading",
            FailureClass::EngineStalled => "the engine is Ready but generates nothing while requests wait",
            FailureClass::Unknown => "the cause is not known with enough confidence",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An id that is not one of the fixed failure classes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown failure class `{given}`{}", suggestion.map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
pub struct UnknownClass {
    /// What was given.
    pub given: String,
    /// The closest valid id, if one is close.
    pub suggestion: Option<&'static str>,
}

impl FromStr for FailureClass {
    type Err = UnknownClass;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s).ok_or_else(|| UnknownClass {
            given: s.to_owned(),
            suggestion: crate::util::closest(s, Self::ALL.iter().map(|c| c.as_str())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_serde_and_from_str() {
        for c in FailureClass::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<FailureClass>(&json).unwrap(), c);
            assert_eq!(c.as_str().parse::<FailureClass>().unwrap(), c);
            assert_eq!(FailureClass::ALL[c.index()], c);
        }
    }

    #[test]
    fn unknown_id_suggests_the_closest() {
        let err = "kv-cache-om".parse::<FailureClass>().unwrap_err();
        assert_eq!(err.suggestion, Some("kv-cache-oom"));
        assert!(err.to_string().contains("did you mean `kv-cache-oom`"));
        assert_eq!("zzzzzzzzzzzzzzzzzz".parse::<FailureClass>().unwrap_err().suggestion, None);
    }

    #[test]
    fn root_causes_outrank_their_consequences() {
        use FailureClass::*;
        assert!(GpuHardwareFault.root_cause_rank() > NcclFailure.root_cause_rank());
        assert!(CudaDriverMismatch.root_cause_rank() > NoGpuVisible.root_cause_rank());
        assert!(KvCacheOom.root_cause_rank() > GpuOom.root_cause_rank());
        assert!(GpuOom.root_cause_rank() > NcclFailure.root_cause_rank());
        assert!(ConfigError.root_cause_rank() > StartupProbeKill.root_cause_rank());
        let ranks: std::collections::HashSet<u8> = FailureClass::ALL.iter().map(|c| c.root_cause_rank()).collect();
        assert_eq!(ranks.len(), FailureClass::COUNT, "ranks must be a strict order");
    }
}
