//! Graceful shutdown of `podmedic run` on SIGTERM and SIGINT.
//!
//! A kubelet stops a container by sending SIGTERM to its PID 1 and, after
//! the pod's grace period (30 s by default), SIGKILL. A process that is
//! PID 1 of its PID namespace gets no default action for SIGTERM: without a
//! handler the signal is simply dropped. So podmedic handles both signals
//! itself:
//!
//! 1. The first signal sets the [`Shutdown`] flag. From then on:
//!    - the pod watcher stops taking new crashes; crashes already being
//!      handled finish (gather, diagnose, write the proposal);
//!    - the proposal reconciler starts no new reconcile; a reconcile in
//!      flight finishes. Each reconcile is one status write, or one effect
//!      followed by its status write (see [`crate::controller::execute`]),
//!      so stopping between reconciles leaves every proposal at a step the
//!      next leader resumes from;
//!    - the HTTP server stops accepting connections and finishes the
//!      requests in flight (ChatOps decisions included);
//!    - the leader Lease is released (its holder cleared), so another
//!      replica takes over at once instead of after the Lease expires;
//!    - the process exits 0.
//! 2. If that has not happened within [`DRAIN_LIMIT`] (well inside the
//!    chart's 30 s grace period), or a second signal arrives, the process
//!    exits at once with status 1. Progress is still safe: every step
//!    lives in proposal statuses (the same guarantee as a crash, see
//!    [`crate::controller::machine`]); only the Lease is left to expire.

use std::time::Duration;

use tokio::sync::watch;

/// How long in-flight work may take after the first signal before the
/// process exits regardless.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(20);

/// Whether shutdown was requested; cheap to clone, one per loop.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// Requests shutdown for every [`Shutdown`] made from it.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

impl Shutdown {
    /// A flag and the trigger that sets it.
    pub fn new() -> (Trigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (Trigger(tx), Shutdown(rx))
    }

    /// A flag that is never set (library callers that stop by dropping
    /// the future, as before).
    pub fn never() -> Shutdown {
        let (_tx, rx) = watch::channel(false);
        Shutdown(rx)
    }

    /// Whether shutdown has been requested.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown is requested; never if its [`Trigger`] is
    /// dropped without requesting it.
    pub async fn requested(mut self) {
        loop {
            if *self.0.borrow_and_update() {
                return;
            }
            if self.0.changed().await.is_err() {
                // The trigger is gone: nobody can request shutdown any more.
                std::future::pending::<()>().await;
            }
        }
    }
}

impl Trigger {
    /// Requests shutdown (idempotent).
    pub fn request(&self) {
        self.0.send_replace(true);
    }
}

/// Errors installing the signal handlers.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the {signal} handler")]
pub struct SignalError {
    signal: &'static str,
    #[source]
    source: std::io::Error,
}

/// Installs SIGTERM and SIGINT handlers (must run inside the runtime):
/// the first signal requests shutdown and starts the [`DRAIN_LIMIT`]
/// timer; the second, or the timer, ends the process with status 1.
pub fn on_signals() -> Result<Shutdown, SignalError> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind, name| signal(kind).map_err(|source| SignalError { signal: name, source });
    let mut term = install(SignalKind::terminate(), "SIGTERM")?;
    let mut int = install(SignalKind::interrupt(), "SIGINT")?;
    let (trigger, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = name,
            limit_s = DRAIN_LIMIT.as_secs(),
            "stopping: no new work, finishing work in flight, releasing the leader lease"
        );
        trigger.request();
        let reason = tokio::select! {
            _ = term.recv() => "a second signal (SIGTERM)",
            _ = int.recv() => "a second signal (SIGINT)",
            () = tokio::time::sleep(DRAIN_LIMIT) => "work in flight still unfinished after the drain limit",
        };
        tracing::error!(reason, "exiting now; the leader lease is left to expire");
        std::process::exit(1);
    });
    Ok(shutdown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requested_resolves_only_after_the_trigger() {
        let (trigger, shutdown) = Shutdown::new();
        assert!(!shutdown.is_requested());
        let waiter = tokio::spawn(shutdown.clone().requested());
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        trigger.request();
        tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("resolves").expect("no panic");
        assert!(shutdown.is_requested());
        // A flag cloned after the request is set too, and resolves at once.
        tokio::time::timeout(Duration::from_secs(5), shutdown.clone().requested()).await.expect("resolves");
        trigger.request();
        assert!(shutdown.is_requested(), "requesting twice keeps it set");
    }

    #[tokio::test]
    async fn a_dropped_trigger_or_never_does_not_request_shutdown() {
        let (trigger, shutdown) = Shutdown::new();
        drop(trigger);
        let wait = Duration::from_millis(200);
        assert!(tokio::time::timeout(wait, shutdown.clone().requested()).await.is_err());
        assert!(!shutdown.is_requested());
        assert!(tokio::time::timeout(wait, Shutdown::never().requested()).await.is_err());
    }

    /// The controller's loops need the future to be `Send + Sync` (kube's
    /// `Controller::graceful_shutdown_on`).
    #[test]
    fn requested_is_send_and_sync() {
        fn check<T: Send + Sync + 'static>(_: T) {}
        check(Shutdown::never().requested());
    }
}
