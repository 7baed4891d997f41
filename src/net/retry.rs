//! When to try again: backoff between attempts on one mirror, and which failures are worth
//! another attempt (server errors, resets, timeouts, truncated bodies) versus final for that
//! mirror (other 4xx answers, wrong bytes) so the next mirror is asked instead.

use super::transport::{Transport, TransportError};
use std::time::Duration;
use url::Url;

/// Attempts per mirror and the delay between them (doubling from `base_delay` up to
/// `max_delay`). The delay has no random jitter: a handful of parallel workers against a
/// mirror do not synchronise into a thundering herd, and a deterministic schedule keeps
/// tests and logs readable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts on one mirror before moving to the next (at least 1).
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The pause before attempt `attempt + 1`, after `attempt` (1-based) attempts failed.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// A URL that timed out this many times is left for the next mirror, whatever the policy's
/// attempts: a server that accepts and then says nothing costs a full read timeout each
/// time, and a second silence in a row rarely ends in a third.
pub const MAX_TIMEOUTS: u32 = 2;

/// Retries for metadata files (repomd.xml, primary, comps, keys read with [`get_small`]
/// keep the caller's policy): a reset or a 503 is tried again after short pauses; a mirror
/// that keeps failing gives way to the next soon.
pub const METADATA: RetryPolicy = RetryPolicy {
    attempts: 3,
    base_delay: Duration::from_millis(250),
    max_delay: Duration::from_secs(1),
};

/// Whether attempt `attempt` (1-based) of a URL may be followed by another after `err`,
/// given how many attempts so far (this one included) timed out.
pub fn again(policy: &RetryPolicy, attempt: u32, timeouts: u32, err: &TransportError) -> bool {
    attempt < policy.attempts.max(1) && classify(err) == Next::Retry && timeouts < MAX_TIMEOUTS
}

/// Whether a failure was a timeout (counted against [`MAX_TIMEOUTS`]).
pub fn is_timeout(err: &TransportError) -> bool {
    matches!(err, TransportError::Timeout { .. })
}

/// Run `op` (one attempt at a URL) until it succeeds, fails for good, or the policy's
/// attempts are spent, pausing between attempts.
pub fn with_retries<T>(
    policy: &RetryPolicy,
    mut op: impl FnMut() -> Result<T, TransportError>,
) -> Result<T, TransportError> {
    let mut attempt = 1;
    let mut timeouts = 0;
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) => {
                timeouts += u32::from(is_timeout(&e));
                if !again(policy, attempt, timeouts, &e) {
                    return Err(e);
                }
                tracing::debug!("{}; trying again", super::error_chain(&e));
                std::thread::sleep(policy.delay(attempt));
                attempt += 1;
            }
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Transient: the same URL again, after a pause.
    Retry,
    /// Final for this mirror: ask the next one.
    NextMirror,
}

/// HTTP statuses that say "try later": 5xx, 408 Request Timeout and 429 Too Many Requests.
pub fn status_is_transient(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

pub fn classify(err: &TransportError) -> Next {
    match err {
        TransportError::Status { status, .. } if status_is_transient(*status) => Next::Retry,
        TransportError::Status { .. } => Next::NextMirror,
        TransportError::Connect { .. }
        | TransportError::Timeout { .. }
        | TransportError::Body { .. }
        | TransportError::Truncated { .. } => Next::Retry,
        // A mirror slower than `minrate` stays slow: the next one may do better (dnf too).
        TransportError::TooSlow { .. }
        | TransportError::TooLong { .. }
        | TransportError::File { .. }
        | TransportError::Write { .. }
        | TransportError::Scheme { .. }
        | TransportError::Client { .. }
        | TransportError::Tls { .. } => Next::NextMirror,
    }
}

/// A small document (key, mirrorlist, metalink), read whole (at most 16 MiB), with retries
/// on transient errors.
pub fn get_small(
    t: &Transport,
    url: &str,
    policy: &RetryPolicy,
) -> Result<Vec<u8>, TransportError> {
    let u = Url::parse(url).map_err(|_| TransportError::Scheme {
        url: url.to_string(),
    })?;
    with_retries(policy, || t.get_bytes(&u, 16 << 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), Duration::from_millis(500));
        assert_eq!(p.delay(2), Duration::from_millis(1000));
        assert_eq!(p.delay(3), Duration::from_millis(2000));
        assert_eq!(p.delay(10), Duration::from_secs(8));
        assert_eq!(p.delay(100), Duration::from_secs(8));
    }

    #[test]
    fn transient_statuses() {
        for s in [500, 502, 503, 504, 408, 429] {
            assert!(status_is_transient(s), "{s}");
        }
        for s in [400, 401, 403, 404, 410] {
            assert!(!status_is_transient(s), "{s}");
        }
    }
}
