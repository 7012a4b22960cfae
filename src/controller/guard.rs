//! Keeping one pod's (or one proposal's) failure from taking the process
//! down.
//!
//! The crash pipeline handles each pod inside [`catch`]: a panic while
//! gathering, diagnosing, planning or proposing for one pod becomes that
//! pod's error. It is logged with the pod and the panic's message and
//! counted as `podmedic_reconcile_errors_total{code="panic"}`; the other
//! pods, the watch and the process carry on. The proposal reconciler runs
//! inside [`catch`] as a whole and is restarted after a panic (with a
//! pause), so a proposal that makes it panic cannot crash-loop podmedic.
//!
//! This is a second line of defence: inputs are fuzzed (`fuzz/`,
//! `tests/no_panic.rs`) so that nothing is expected to panic at all.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

/// The bounded `code` label of a caught panic.
pub const PANIC_CODE: &str = "panic";

/// The text of a panic's payload (`panic!("...")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    };
    crate::sanitize::one_line(&crate::util::truncate(&text, 500)).into_owned()
}

/// Runs `fut`; a panic inside it becomes `Err(message)`.
///
/// What `fut` borrows must not be left half-updated by a panic in a way
/// others rely on (the controller's shared state is a few counters and
/// mutexes whose users recover from poisoning).
pub async fn catch<F: Future>(fut: F) -> Result<F::Output, String> {
    AssertUnwindSafe(fut).catch_unwind().await.map_err(|p| panic_message(p.as_ref()))
}

/// [`catch`] for a synchronous function.
pub fn catch_sync<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(p.as_ref()))
}

/// Test hook: with `PODMEDIC_FAILPOINT=<name>=<prefix>` in the
/// environment, panics when `name` is reached with a value that starts
/// with `prefix` (e.g. `panic-handling-pod=boom-` panics while handling
/// the pods named `boom-…`), so the tests can check that a panic stays that
/// pod's error.
pub fn failpoint(name: &str, value: &str) {
    if let Ok(v) = std::env::var("PODMEDIC_FAILPOINT")
        && v.split_once('=').is_some_and(|(n, prefix)| n == name && !prefix.is_empty() && value.starts_with(prefix))
    {
        panic!("failpoint {name}={value} reached");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_become_errors_with_their_message() {
        assert_eq!(catch(async { 7 }).await, Ok(7));
        let e = catch(async { panic!("boom\nsecond line") }).await.unwrap_err();
        assert_eq!(e, "boom second line");
        let e = catch(async { panic!("{}", String::from("owned")) }).await.unwrap_err();
        assert_eq!(e, "owned");
        assert_eq!(catch_sync(|| 1), Ok(1));
        let slice: &[u8] = &[];
        let e = catch_sync(|| slice[3]).unwrap_err();
        assert!(e.contains("index out of bounds"), "{e}");
    }
}
