//! When and how long to wait before repeating a GitHub API request.
//!
//! octocrab's own retry layer is disabled in Cargo.toml, because it retries a comment
//! `POST` blindly (which can leave two sticky comments) and ignores GitHub's rate-limit
//! headers. This module holds the policy as pure functions over a status code and the
//! throttling headers, so the rules can be tested without a server.

use std::time::Duration;

/// Limits on retrying transient GitHub failures (5xx, 429, rate-limited 403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most attempts of one request, the first included.
    pub max_attempts: u32,
    /// Longest single wait, whatever `Retry-After` or `x-ratelimit-reset` ask for.
    pub max_wait: Duration,
    /// Longest total waiting over one `upsert_sticky_comment` call.
    pub max_total_wait: Duration,
    /// First back-off step for a 5xx without `Retry-After`; doubled on each attempt.
    pub backoff_base: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_wait: Duration::from_secs(60),
            max_total_wait: Duration::from_secs(120),
            backoff_base: Duration::from_secs(1),
        }
    }
}

/// GitHub's guidance for a secondary rate limit without `Retry-After` or a spent
/// primary quota: "wait for at least one minute before retrying"
/// (docs.github.com, REST API "Rate limits for the REST API", "Exceeding the rate limit").
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The throttling headers of one response, as raw strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Throttle {
    /// `Retry-After`, in seconds (GitHub never sends the HTTP-date form).
    pub retry_after: Option<String>,
    /// `x-ratelimit-remaining`.
    pub remaining: Option<String>,
    /// `x-ratelimit-reset`, UTC epoch seconds.
    pub reset: Option<String>,
}

impl Throttle {
    fn quota_spent(&self) -> bool {
        self.remaining.as_deref().map(str::trim) == Some("0")
    }

    fn retry_after(&self) -> Option<Duration> {
        let secs: u64 = self.retry_after.as_deref()?.trim().parse().ok()?;
        Some(Duration::from_secs(secs))
    }

    fn until_reset(&self, now_epoch_s: u64) -> Option<Duration> {
        let reset: u64 = self.reset.as_deref()?.trim().parse().ok()?;
        // One second more, since the reset second itself may still be throttled.
        Some(Duration::from_secs(reset.saturating_sub(now_epoch_s) + 1))
    }
}

/// True when a response means "slow down" rather than "forbidden": GitHub answers
/// rate limits with 429, or with 403 plus `x-ratelimit-remaining: 0` or a message
/// naming the secondary rate limit.
pub(crate) fn is_rate_limited(status: u16, throttle: &Throttle, message: &str) -> bool {
    match status {
        429 => true,
        403 => throttle.quota_spent() || message.to_ascii_lowercase().contains("rate limit"),
        _ => false,
    }
}

/// True for failures worth repeating: server errors and rate limits.
pub(crate) fn is_transient(status: u16, throttle: &Throttle, message: &str) -> bool {
    (500..=599).contains(&status) || is_rate_limited(status, throttle, message)
}

/// How long GitHub asks us to wait after a transient failure, before capping.
/// `attempt` counts from 1 (the attempt that just failed); `status` None means the
/// request never got an answer (connection refused, timeout).
pub(crate) fn requested_wait(
    policy: &RetryPolicy,
    status: Option<u16>,
    throttle: &Throttle,
    message: &str,
    attempt: u32,
    now_epoch_s: u64,
) -> Duration {
    if let Some(wait) = throttle.retry_after() {
        return wait;
    }
    let rate_limited = status.is_some_and(|s| is_rate_limited(s, throttle, message));
    if rate_limited {
        if throttle.quota_spent() {
            if let Some(wait) = throttle.until_reset(now_epoch_s) {
                return wait;
            }
        }
        return SECONDARY_LIMIT_WAIT;
    }
    let doublings = attempt.saturating_sub(1).min(16);
    policy.backoff_base.saturating_mul(1 << doublings)
}

/// The waiting left to one upsert call, shared by all its requests.
#[derive(Debug)]
pub(crate) struct WaitBudget {
    left: Duration,
}

impl WaitBudget {
    pub(crate) fn new(policy: &RetryPolicy) -> Self {
        WaitBudget {
            left: policy.max_total_wait,
        }
    }

    /// The wait to actually sleep, capped by the policy and what is left of the
    /// budget, or None when the budget is spent and the caller should give up.
    pub(crate) fn take(&mut self, policy: &RetryPolicy, requested: Duration) -> Option<Duration> {
        if self.left.is_zero() {
            return None;
        }
        let wait = requested.min(policy.max_wait).min(self.left);
        self.left -= wait;
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(
        retry_after: Option<&str>,
        remaining: Option<&str>,
        reset: Option<&str>,
    ) -> Throttle {
        Throttle {
            retry_after: retry_after.map(String::from),
            remaining: remaining.map(String::from),
            reset: reset.map(String::from),
        }
    }

    #[test]
    fn transient_statuses() {
        let none = Throttle::default();
        let spent = throttle(None, Some("0"), Some("100"));
        let cases: &[(u16, &Throttle, &str, bool)] = &[
            (500, &none, "", true),
            (502, &none, "", true),
            (503, &none, "", true),
            (429, &none, "", true),
            (403, &spent, "API rate limit exceeded", true),
            (403, &none, "You have exceeded a secondary rate limit", true),
            (403, &none, "Resource not accessible by integration", false),
            (404, &none, "Not Found", false),
            (401, &none, "Bad credentials", false),
            (422, &none, "Validation Failed", false),
        ];
        for &(status, t, message, want) in cases {
            assert_eq!(is_transient(status, t, message), want, "{status} {message}");
        }
    }

    #[test]
    fn requested_wait_follows_github_headers() {
        let p = RetryPolicy::default();
        let now = 1_000;
        let cases: &[(Option<u16>, Throttle, u32, u64)] = &[
            (Some(429), throttle(Some("7"), None, None), 1, 7),
            (Some(403), throttle(None, Some("0"), Some("1030")), 1, 31),
            (Some(403), throttle(None, Some("0"), Some("900")), 1, 1),
            (Some(429), throttle(None, None, None), 1, 60),
            (Some(502), throttle(None, None, None), 1, 1),
            (Some(502), throttle(None, None, None), 3, 4),
            (None, throttle(None, None, None), 2, 2),
        ];
        for (status, t, attempt, want_s) in cases {
            let got = requested_wait(&p, *status, t, "", *attempt, now);
            assert_eq!(got, Duration::from_secs(*want_s), "{status:?} {t:?}");
        }
    }

    #[test]
    fn budget_caps_each_wait_and_the_total() {
        let p = RetryPolicy {
            max_wait: Duration::from_millis(300),
            max_total_wait: Duration::from_millis(500),
            ..RetryPolicy::default()
        };
        let mut budget = WaitBudget::new(&p);
        assert_eq!(
            budget.take(&p, Duration::from_secs(5)),
            Some(Duration::from_millis(300))
        );
        assert_eq!(
            budget.take(&p, Duration::from_secs(5)),
            Some(Duration::from_millis(200))
        );
        assert_eq!(budget.take(&p, Duration::from_secs(5)), None);
    }
}
