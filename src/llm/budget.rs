//! The budget: at most N calls in any sliding hour and at most M at once.
//!
//! The model is heavy and the operator's; podmedic asks it only during an
//! incident, and a crash storm must not turn into a request storm. A call
//! first waits (within its deadline) for one of the concurrent slots, then
//! takes one of the hour's calls; a call the hour has no room for is not
//! sent at all. Time is tokio's, so tests run it with `tokio::time::pause`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The window the hourly limit counts over.
const HOUR: Duration = Duration::from_secs(3600);

/// Calls per hour and at once.
#[derive(Debug)]
pub struct Budget {
    per_hour: usize,
    sent: Mutex<VecDeque<Instant>>,
    slots: Arc<Semaphore>,
    concurrent: usize,
}

/// Why a call was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The last hour already holds the allowed number of calls.
    #[error("the budget of {per_hour} calls per hour is spent (next call possible in {wait_s} s)")]
    Hourly {
        /// The limit.
        per_hour: usize,
        /// Seconds until the oldest call leaves the window.
        wait_s: u64,
    },
    /// Every concurrent slot stayed busy until the deadline.
    #[error("all {concurrent} concurrent calls stayed busy until the deadline")]
    Busy {
        /// The limit.
        concurrent: usize,
    },
}

/// A granted call: holds its concurrent slot until dropped.
#[derive(Debug)]
pub struct Grant {
    _slot: OwnedSemaphorePermit,
}

impl Budget {
    /// A budget of `per_hour` calls per sliding hour, `concurrent` at once (each at least 1).
    pub fn new(per_hour: usize, concurrent: usize) -> Self {
        let concurrent = concurrent.max(1);
        Budget {
            per_hour: per_hour.max(1),
            sent: Mutex::new(VecDeque::new()),
            slots: Arc::new(Semaphore::new(concurrent)),
            concurrent,
        }
    }

    /// Waits until `deadline` for a slot, then takes one of the hour's calls.
    pub async fn acquire(&self, deadline: Instant) -> Result<Grant, Refusal> {
        let slot = tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| Refusal::Busy { concurrent: self.concurrent })?
            .map_err(|_| Refusal::Busy { concurrent: self.concurrent })?;
        let now = Instant::now();
        let mut sent = self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        while sent.front().is_some_and(|t| now.duration_since(*t) >= HOUR) {
            sent.pop_front();
        }
        if sent.len() >= self.per_hour {
            let oldest = *sent.front().expect("len >= per_hour >= 1");
            let wait_s = HOUR.saturating_sub(now.duration_since(oldest)).as_secs().max(1);
            return Err(Refusal::Hourly { per_hour: self.per_hour, wait_s });
        }
        sent.push_back(now);
        Ok(Grant { _slot: slot })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_hourly_limit_slides() {
        let b = Budget::new(3, 8);
        let soon = || Instant::now() + Duration::from_secs(1);
        for _ in 0..3 {
            drop(b.acquire(soon()).await.unwrap());
            tokio::time::advance(Duration::from_secs(600)).await;
        }
        // 30 minutes in: three calls in the last hour.
        let err = b.acquire(soon()).await.unwrap_err();
        assert_eq!(err, Refusal::Hourly { per_hour: 3, wait_s: 1800 });
        // The first call leaves the window an hour after it was made.
        tokio::time::advance(Duration::from_secs(1800)).await;
        assert!(b.acquire(soon()).await.is_ok());
        assert!(b.acquire(soon()).await.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_calls_wait_for_a_slot_until_their_deadline() {
        let b = Arc::new(Budget::new(100, 2));
        let deadline = Instant::now() + Duration::from_secs(10);
        let first = b.acquire(deadline).await.unwrap();
        let _second = b.acquire(deadline).await.unwrap();
        // A third waits; the first finishing after 4 s lets it in.
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.acquire(deadline).await.map(|_| Instant::now()) })
        };
        tokio::time::sleep(Duration::from_secs(4)).await;
        drop(first);
        let started = waiter.await.unwrap().unwrap();
        assert_eq!(started.duration_since(deadline - Duration::from_secs(10)), Duration::from_secs(4));
        // With both slots held to the deadline, the next is refused as busy.
        let _third = b.acquire(deadline).await.unwrap();
        let err = b.acquire(deadline).await.unwrap_err();
        assert_eq!(err, Refusal::Busy { concurrent: 2 });
        assert_eq!(Instant::now(), deadline);
    }
}
