//! Login throttling, per account and per client IP, with the `governor` crate (GCRA).
//!
//! Every login attempt (the form or the password grant) spends one cell in three buckets:
//! - (account, IP): strict, stops one source guessing one account's password;
//! - account: looser, bounds guessing spread over many IPs — and so bounds how long anyone can
//!   lock a victim out from elsewhere;
//! - IP: generous, bounds one source spraying many accounts.
//!
//! The peer address is the TCP peer: `X-Forwarded-For` is not trusted. Behind a proxy every
//! request shares the proxy's address, so the per-(account, IP) bucket degrades to per-account.
//! The limits are per node (in memory); with N nodes the effective limits are N times higher
//! (docs/deploy.md).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Attempts per (account, IP): a burst of 10, then one every 6 seconds (10 a minute).
const PAIR_BURST: u32 = 10;
const PAIR_PERIOD: Duration = Duration::from_secs(6);
/// Attempts per account from anywhere: a burst of 30, then one every 2 seconds.
const ACCOUNT_BURST: u32 = 30;
const ACCOUNT_PERIOD: Duration = Duration::from_secs(2);
/// Attempts per IP: a burst of 100, then two a second.
const IP_BURST: u32 = 100;
const IP_PERIOD: Duration = Duration::from_millis(500);

/// The three keyed limiters.
#[derive(Debug)]
pub struct LoginThrottle {
    per_pair: DefaultKeyedRateLimiter<(String, Option<IpAddr>)>,
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
            per_pair: RateLimiter::keyed(quota(PAIR_PERIOD, PAIR_BURST)),
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
        let account = email.trim().to_lowercase();
        if let Some(ip) = ip {
            self.per_ip.check_key(&ip).map_err(wait)?;
        }
        self.per_pair
            .check_key(&(account.clone(), ip))
            .map_err(wait)?;
        self.per_account.check_key(&account).map_err(wait)
    }

    /// Forgets buckets that are full again (bounded memory).
    pub fn shrink(&self) {
        self.per_pair.retain_recent();
        self.per_account.retain_recent();
        self.per_ip.retain_recent();
    }
}
