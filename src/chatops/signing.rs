//! Request signing, freshness and replay protection (pure; no I/O).
//!
//! - Slack: `X-Slack-Signature: v0=` + hex(HMAC-SHA256(signing secret,
//!   `v0:{X-Slack-Request-Timestamp}:{raw body}`)).
//! - podmedic's generic webhook (both directions): `X-Podmedic-Signature:
//!   sha256=` + hex(HMAC-SHA256(webhook secret, `{X-Podmedic-Timestamp}.{raw
//!   body}`)).
//!
//! Signatures are compared in constant time (`hmac`'s `verify_slice`). A
//! timestamp more than [`MAX_SKEW`] from now, in either direction, is
//! refused; so is a second request carrying a signature already seen
//! ([`ReplayGuard`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far a request's timestamp may be from now.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// Header carrying Slack's signature.
pub const SLACK_SIGNATURE_HEADER: &str = "x-slack-signature";
/// Header carrying Slack's request timestamp (Unix seconds).
pub const SLACK_TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Header carrying podmedic's webhook signature.
pub const PODMEDIC_SIGNATURE_HEADER: &str = "x-podmedic-signature";
/// Header carrying podmedic's webhook timestamp (Unix seconds).
pub const PODMEDIC_TIMESTAMP_HEADER: &str = "x-podmedic-timestamp";

/// Why a request's signature or timestamp was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature or timestamp header is absent.
    #[error("missing signature or timestamp header")]
    Missing,
    /// The header is not `<scheme>=<64 hex digits>` or the timestamp not an integer.
    #[error("malformed signature or timestamp header")]
    Malformed,
    /// The signature does not match the body.
    #[error("signature does not match")]
    Mismatch,
    /// The timestamp is more than five minutes from now.
    #[error("request timestamp is more than 5 minutes from now")]
    Stale,
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
    }
    mac
}

/// The `X-Slack-Signature` value for a request.
pub fn slack_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let tag = mac(secret, &[b"v0:", timestamp.as_bytes(), b":", body]).finalize().into_bytes();
    format!("v0={}", hex(&tag))
}

/// The `X-Podmedic-Signature` value for a request.
pub fn podmedic_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let tag = mac(secret, &[timestamp.as_bytes(), b".", body]).finalize().into_bytes();
    format!("sha256={}", hex(&tag))
}

/// Checks a Slack request: signature first (so that the timestamp is
/// authentic), then freshness against `now_unix`. Returns the verified
/// signature, the key for [`ReplayGuard`].
pub fn verify_slack(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<[u8; 32], SignatureError> {
    verify(timestamp, signature, "v0=", now_unix, |ts| mac(secret, &[b"v0:", ts.as_bytes(), b":", body]))
}

/// Checks a podmedic webhook request, like [`verify_slack`].
pub fn verify_podmedic(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<[u8; 32], SignatureError> {
    verify(timestamp, signature, "sha256=", now_unix, |ts| mac(secret, &[ts.as_bytes(), b".", body]))
}

fn verify(
    timestamp: Option<&str>,
    signature: Option<&str>,
    scheme: &str,
    now_unix: i64,
    mac_for: impl FnOnce(&str) -> HmacSha256,
) -> Result<[u8; 32], SignatureError> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else { return Err(SignatureError::Missing) };
    let ts = ts.trim();
    let ts_num: i64 = ts.parse().map_err(|_| SignatureError::Malformed)?;
    let hex_sig = sig.trim().strip_prefix(scheme).ok_or(SignatureError::Malformed)?;
    let given = unhex32(hex_sig).ok_or(SignatureError::Malformed)?;
    mac_for(ts).verify_slice(&given).map_err(|_| SignatureError::Mismatch)?;
    if ts_num.abs_diff(now_unix) > MAX_SKEW.as_secs() {
        return Err(SignatureError::Stale);
    }
    Ok(given)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Exactly 64 hex digits (either case) as 32 bytes.
fn unhex32(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Remembers verified signatures for twice [`MAX_SKEW`] (every timestamp
/// that could still pass the freshness check), so a captured request cannot
/// be sent again. Memory is bounded: past `capacity` entries the oldest is
/// forgotten. Only requests with a valid signature are remembered, so
/// filling it takes the secret.
#[derive(Debug)]
pub struct ReplayGuard {
    ttl: Duration,
    capacity: usize,
    inner: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    by_key: HashMap<[u8; 32], Instant>,
    order: VecDeque<([u8; 32], Instant)>,
}

impl ReplayGuard {
    /// A guard remembering up to `capacity` signatures for `2 × MAX_SKEW`.
    pub fn new(capacity: usize) -> Self {
        ReplayGuard { ttl: MAX_SKEW * 2, capacity: capacity.max(1), inner: Mutex::default() }
    }

    /// `true` (and remembers `key`) the first time a key is seen within the
    /// window; `false` for a replay.
    pub fn first_use(&self, key: [u8; 32], now: Instant) -> bool {
        let mut seen = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(k, at)) = seen.order.front() {
            if now.saturating_duration_since(at) < self.ttl && seen.order.len() < self.capacity {
                break;
            }
            seen.order.pop_front();
            if seen.by_key.get(&k) == Some(&at) {
                seen.by_key.remove(&k);
            }
        }
        if seen.by_key.contains_key(&key) {
            return false;
        }
        seen.by_key.insert(key, now);
        seen.order.push_back((key, now));
        true
    }

    /// How many signatures are remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).by_key.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example from Slack's "Verifying requests from Slack".
    const DOC_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const DOC_TS: &str = "1531420618";
    const DOC_SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const DOC_BODY: &str = include_str!("../../tests/fixtures/chatops/slack-docs-example.body");

    #[test]
    fn matches_slacks_documented_example() {
        let body = DOC_BODY.trim_end_matches('\n').as_bytes();
        assert_eq!(slack_signature(DOC_SECRET.as_bytes(), DOC_TS, body), DOC_SIG);
        let now = 1531420618 + 10;
        assert!(verify_slack(DOC_SECRET.as_bytes(), Some(DOC_TS), Some(DOC_SIG), body, now).is_ok());
        // Upper-case hex is the same signature.
        let upper = format!("v0={}", DOC_SIG[3..].to_uppercase());
        assert!(verify_slack(DOC_SECRET.as_bytes(), Some(DOC_TS), Some(&upper), body, now).is_ok());
    }

    #[test]
    fn refuses_tampering_staleness_and_garbage() {
        let body = DOC_BODY.trim_end_matches('\n').as_bytes();
        let secret = DOC_SECRET.as_bytes();
        let now = 1531420618;
        let v = |ts: Option<&str>, sig: Option<&str>, body: &[u8], now| verify_slack(secret, ts, sig, body, now);
        assert_eq!(v(Some(DOC_TS), Some(DOC_SIG), b"token=tampered", now), Err(SignatureError::Mismatch));
        assert_eq!(v(Some("1531420619"), Some(DOC_SIG), body, now), Err(SignatureError::Mismatch));
        assert_eq!(verify_slack(b"wrong", Some(DOC_TS), Some(DOC_SIG), body, now), Err(SignatureError::Mismatch));
        assert_eq!(v(Some(DOC_TS), Some(DOC_SIG), body, now + 301), Err(SignatureError::Stale));
        assert_eq!(v(Some(DOC_TS), Some(DOC_SIG), body, now - 301), Err(SignatureError::Stale));
        assert!(v(Some(DOC_TS), Some(DOC_SIG), body, now + 300).is_ok());
        assert_eq!(v(None, Some(DOC_SIG), body, now), Err(SignatureError::Missing));
        assert_eq!(v(Some(DOC_TS), None, body, now), Err(SignatureError::Missing));
        assert_eq!(v(Some("soon"), Some(DOC_SIG), body, now), Err(SignatureError::Malformed));
        assert_eq!(v(Some(DOC_TS), Some(&DOC_SIG[3..]), body, now), Err(SignatureError::Malformed));
        assert_eq!(v(Some(DOC_TS), Some("v0=abc"), body, now), Err(SignatureError::Malformed));
        assert_eq!(
            v(Some(DOC_TS), Some(&format!("v0={}", "zz".repeat(32))), body, now),
            Err(SignatureError::Malformed)
        );
        // The podmedic scheme is not accepted as Slack's, and vice versa.
        let pm = podmedic_signature(secret, DOC_TS, body);
        assert_eq!(v(Some(DOC_TS), Some(&pm), body, now), Err(SignatureError::Malformed));
        assert!(verify_podmedic(secret, Some(DOC_TS), Some(&pm), body, now).is_ok());
        assert_eq!(verify_podmedic(secret, Some(DOC_TS), Some(DOC_SIG), body, now), Err(SignatureError::Malformed));
    }

    #[test]
    fn replay_guard_remembers_within_the_window_and_stays_bounded() {
        let guard = ReplayGuard::new(3);
        let t0 = Instant::now();
        assert!(guard.first_use([1; 32], t0));
        assert!(!guard.first_use([1; 32], t0 + Duration::from_secs(1)));
        assert!(guard.first_use([2; 32], t0));
        assert!(guard.first_use([3; 32], t0));
        assert!(guard.first_use([4; 32], t0));
        assert_eq!(guard.len(), 3, "oldest forgotten past capacity");
        // After the window, a key is forgotten (its timestamp is stale by then anyway).
        let later = t0 + MAX_SKEW * 2 + Duration::from_secs(1);
        assert!(guard.first_use([4; 32], later));
        assert_eq!(guard.len(), 1);
    }

    proptest::proptest! {
        /// Fuzz: arbitrary header values and bodies never panic and never verify.
        #[test]
        fn arbitrary_headers_never_panic_or_pass(ts in "\\PC{0,24}", sig in "\\PC{0,80}", body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            proptest::prop_assert!(verify_slack(b"secret", Some(&ts), Some(&sig), &body, 0).is_err());
            proptest::prop_assert!(verify_podmedic(b"secret", Some(&ts), Some(&sig), &body, 0).is_err());
        }
    }
}
