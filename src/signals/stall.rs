//! The stall detector (pure): an engine that stays Ready and answers its
//! health check while it generates nothing.
//!
//! Reported shapes (the kubelet restarts none of them, because `/health`
//! keeps answering 200):
//!
//! - **queue stalled**: requests wait and no token is generated for the
//!   whole window (SGLang and TensorRT-LLM schedulers that stop scheduling;
//!   vLLM V1's engine core stuck while its API server still answers, the log
//!   repeating "No available shared memory broadcast block found in 60
//!   seconds");
//! - **decode stalled**: requests stay in the running batch and no token is
//!   generated (a rank of a tensor-parallel group blocked in an NCCL
//!   collective: every rank waits, none fails).
//!
//! Never a stall: an idle engine (nothing waiting, nothing running), one
//! that generated anything in the window, or a window the series do not
//! cover (a pod that just started, a scrape that failed): no evidence, no
//! proposal.

use super::summary::{MetricsSummary, SignalSummary, duration};

/// Why an engine is not called stalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStalled {
    /// Nothing waited and nothing ran.
    Idle,
    /// Tokens were generated in the window.
    Generating,
    /// Work came and went: neither the queue nor the batch stayed occupied.
    Intermittent,
    /// A needed series is missing or does not cover the window.
    InsufficientData,
}

/// Which stall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Requests waited the whole window; nothing was generated.
    QueueStalled,
    /// Requests stayed running the whole window; nothing was generated.
    DecodeStalled,
}

impl Shape {
    /// The diagnosis subclass.
    pub fn subclass(self) -> &'static str {
        match self {
            Shape::QueueStalled => "queue-stalled",
            Shape::DecodeStalled => "decode-stalled",
        }
    }
}

/// A stalled engine, with the numbers its evidence cites.
#[derive(Debug, Clone, PartialEq)]
pub struct Stall {
    /// Which stall.
    pub shape: Shape,
    /// Seconds since the series last showed a token generated (or since
    /// they begin).
    pub seconds: f64,
    /// Requests waiting at the end.
    pub waiting: f64,
    /// Requests running at the end.
    pub running: f64,
    /// When tokens were last generated, if within the series.
    pub last_generated_at: Option<f64>,
}

impl Stall {
    /// One sentence for people.
    pub fn sentence(&self, server: &str) -> String {
        let what = match self.shape {
            Shape::QueueStalled => format!("{} requests waited", self.waiting),
            Shape::DecodeStalled => format!("{} requests stayed in the running batch", self.running),
        };
        format!(
            "The pod is Ready but {server} generated no tokens for {} while {what}: the engine is wedged and Kubernetes will not restart it.",
            duration(self.seconds)
        )
    }
}

/// What the detector concluded.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Stalled.
    Stalled(Stall),
    /// Not stalled, and why.
    NotStalled(NotStalled),
}

/// Share of a window's samples that must show the occupied queue or batch.
pub const OCCUPIED_SHARE: f64 = 0.9;

/// Decides whether the engine in `m` is stalled over the last `window`
/// seconds before `now`.
pub fn detect(m: &MetricsSummary, now: f64, window: f64) -> Verdict {
    let from = now - window;
    let Some(gen_) = m.generation_throughput.as_ref() else {
        return Verdict::NotStalled(NotStalled::InsufficientData);
    };
    let gen_pts = within(gen_, from, now);
    let waiting = m.requests_waiting.as_ref().map(|s| within(s, from, now)).unwrap_or_default();
    let running = m.requests_running.as_ref().map(|s| within(s, from, now)).unwrap_or_default();
    let idle = waiting.iter().chain(&running).all(|p| p[1] < 1.0);
    if !waiting.is_empty() || !running.is_empty() {
        if idle {
            return Verdict::NotStalled(NotStalled::Idle);
        }
    } else {
        return Verdict::NotStalled(NotStalled::InsufficientData);
    }
    if gen_pts.iter().any(|p| p[1] > 1e-9) {
        return Verdict::NotStalled(NotStalled::Generating);
    }
    if !covers(&gen_pts, from, now, window) {
        return Verdict::NotStalled(NotStalled::InsufficientData);
    }
    let occupied = |pts: &[[f64; 2]]| {
        covers(pts, from, now, window)
            && pts.last().is_some_and(|p| p[1] >= 1.0)
            && pts.iter().filter(|p| p[1] >= 1.0).count() as f64 >= OCCUPIED_SHARE * pts.len() as f64
    };
    let shape = if occupied(&waiting) {
        Shape::QueueStalled
    } else if occupied(&running) {
        Shape::DecodeStalled
    } else {
        return Verdict::NotStalled(NotStalled::Intermittent);
    };
    let last_generated_at = gen_.points.iter().rev().find(|p| p[1] > 1e-9).map(|p| p[0]);
    // Since the last sample that showed tokens, else since the series began.
    let since = last_generated_at.or(gen_.points.first().map(|p| p[0])).unwrap_or(from);
    Verdict::Stalled(Stall {
        shape,
        seconds: (now - since).max(0.0),
        waiting: waiting.last().map_or(0.0, |p| p[1]),
        running: running.last().map_or(0.0, |p| p[1]),
        last_generated_at,
    })
}

fn within(s: &SignalSummary, from: f64, to: f64) -> Vec<[f64; 2]> {
    s.points.iter().copied().filter(|p| p[0] >= from - 1e-3 && p[0] <= to + 1e-3).collect()
}

/// Whether points span the window: the first within a fifth of the window
/// (at least 30 s) of its start, the last as close to its end, and no gap
/// longer than that.
fn covers(pts: &[[f64; 2]], from: f64, to: f64, window: f64) -> bool {
    let slack = (window * 0.2).max(30.0);
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else { return false };
    first[0] <= from + slack && last[0] >= to - slack && pts.windows(2).all(|w| w[1][0] - w[0][0] <= slack)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn sig(points: Vec<[f64; 2]>) -> Option<SignalSummary> {
        let last = points.last()?[1];
        let max = points.iter().map(|p| p[1]).fold(f64::MIN, f64::max);
        let min = points.iter().map(|p| p[1]).fold(f64::MAX, f64::min);
        Some(SignalSummary { last, max, min, mean: 0.0, metric: "m".into(), points })
    }

    fn summary(waiting: &[f64], running: &[f64], gen_: &[f64]) -> MetricsSummary {
        let pts = |vs: &[f64]| vs.iter().enumerate().map(|(i, v)| [i as f64 * 15.0, *v]).collect::<Vec<_>>();
        MetricsSummary {
            server: "vllm-v1".into(),
            window_seconds: 600,
            kv_cache_usage: None,
            requests_waiting: sig(pts(waiting)),
            requests_running: sig(pts(running)),
            generation_throughput: sig(pts(gen_)),
            gpu_memory_used: None,
            gpu_xid: None,
            end: 600.0,
        }
    }

    const N: usize = 41; // 10 minutes at 15 s

    #[test]
    fn queue_and_decode_stalls_and_what_is_not_one() {
        let now = 600.0;
        let v = |x: f64| vec![x; N];
        let mut gen_then_zero = v(1500.0);
        gen_then_zero[N - 21..].fill(0.0);
        // Generated until five minutes ago, queue waiting since: stalled for the 5-minute window.
        match detect(&summary(&v(12.0), &v(0.0), &gen_then_zero), now, 300.0) {
            Verdict::Stalled(s) => {
                assert_eq!(s.shape, Shape::QueueStalled);
                assert_eq!(s.waiting, 12.0);
                assert_eq!((s.seconds, s.last_generated_at), (315.0, Some(285.0)));
                assert!(s.sentence("vLLM").contains("12 requests waited"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            detect(&summary(&v(0.0), &v(4.0), &v(0.0)), now, 300.0),
            Verdict::Stalled(Stall { shape: Shape::DecodeStalled, .. })
        ));
        // An idle engine with an empty queue is never stalled, however long.
        assert_eq!(detect(&summary(&v(0.0), &v(0.0), &v(0.0)), now, 300.0), Verdict::NotStalled(NotStalled::Idle));
        // Busy and generating.
        assert_eq!(
            detect(&summary(&v(30.0), &v(8.0), &v(900.0)), now, 300.0),
            Verdict::NotStalled(NotStalled::Generating)
        );
        // Generated within the window: not yet stalled for it.
        assert_eq!(
            detect(&summary(&v(12.0), &v(0.0), &gen_then_zero), now, 400.0),
            Verdict::NotStalled(NotStalled::Generating)
        );
        // Queue came and went.
        let flapping: Vec<f64> = (0..N).map(|i| if i % 2 == 0 { 3.0 } else { 0.0 }).collect();
        assert_eq!(
            detect(&summary(&flapping, &v(0.0), &v(0.0)), now, 300.0),
            Verdict::NotStalled(NotStalled::Intermittent)
        );
        // Too little data: the series cover only the last minute.
        let mut m = summary(&v(12.0), &v(0.0), &v(0.0));
        for s in [&mut m.requests_waiting, &mut m.generation_throughput].into_iter().flatten() {
            s.points.retain(|p| p[0] >= 540.0);
        }
        assert_eq!(detect(&m, now, 300.0), Verdict::NotStalled(NotStalled::InsufficientData));
        m.generation_throughput = None;
        assert_eq!(detect(&m, now, 300.0), Verdict::NotStalled(NotStalled::InsufficientData));
    }

    proptest! {
        #[test]
        fn an_idle_engine_is_never_stalled(gen_ in prop::collection::vec(0.0f64..10.0, N), window in 30.0f64..600.0) {
            let zeros = vec![0.0; N];
            prop_assert!(!matches!(detect(&summary(&zeros, &zeros, &gen_), 600.0, window), Verdict::Stalled(_)));
        }

        #[test]
        fn any_generation_in_the_window_is_no_stall(
            waiting in prop::collection::vec(0.0f64..100.0, N),
            running in prop::collection::vec(0.0f64..100.0, N),
            at in 21usize..N,
            tokens in 0.001f64..1e4,
        ) {
            let mut gen_ = vec![0.0; N];
            gen_[at] = tokens;
            prop_assert!(!matches!(detect(&summary(&waiting, &running, &gen_), 600.0, 300.0), Verdict::Stalled(_)));
        }

        #[test]
        fn a_full_queue_with_no_generation_is_a_stall(waiting in prop::collection::vec(1.0f64..500.0, N), window in 60.0f64..600.0) {
            let zeros = vec![0.0; N];
            prop_assert!(matches!(detect(&summary(&waiting, &zeros, &zeros), 600.0, window), Verdict::Stalled(_)));
        }
    }
}
