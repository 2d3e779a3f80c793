//! Login throttling, per account and per client IP, with the `governor` crate (GCRA).
//!
//! Every login attempt spends one cell of its account's bucket and one of its IP's. The limits
//! are per node (in memory); with N nodes behind a load balancer the effective limit is N times
//! higher (docs/deploy.md). Behind a proxy every request shares the proxy's IP, so the per-IP
//! limit is generous; the per-account limit is what stops password guessing.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Attempts per account: a burst of 10, then one every 6 seconds (10 a minute).
const ACCOUNT_BURST: u32 = 10;
const ACCOUNT_PERIOD: Duration = Duration::from_secs(6);
/// Attempts per IP: a burst of 30, then one every 2 seconds (30 a minute).
const IP_BURST: u32 = 30;
const IP_PERIOD: Duration = Duration::from_secs(2);

/// The two keyed limiters.
#[derive(Debug)]
pub struct LoginThrottle {
    per_account: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

fn quota(period: Duration, burst: u32) -> Quota {
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN))
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            per_account: RateLimiter::keyed(quota(ACCOUNT_PERIOD, ACCOUNT_BURST)),
            per_ip: RateLimiter::keyed(quota(IP_PERIOD, IP_BURST)),
        }
    }
}

impl LoginThrottle {
    /// Spends one attempt for `email` (case-insensitive) and `ip`.
    ///
    /// Errors: the whole seconds to wait (at least 1) when either bucket is empty.
    pub fn attempt(&self, email: &str, ip: Option<IpAddr>) -> Result<(), u64> {
        let now = DefaultClock::default().now();
        let wait =
            |not_until: governor::NotUntil<_>| not_until.wait_time_from(now).as_secs().max(1);
        if let Some(ip) = ip {
            self.per_ip.check_key(&ip).map_err(wait)?;
        }
        self.per_account
            .check_key(&email.trim().to_lowercase())
            .map_err(wait)
    }

    /// Forgets buckets that are full again (bounded memory).
    pub fn shrink(&self) {
        self.per_account.retain_recent();
        self.per_ip.retain_recent();
    }
}
