//! Per-client-IP sliding-window rate limits for login and signup. In memory only: a restart
//! forgets them, which is acceptable for abuse throttling (lockout state is in auth.db).

use crate::base::config::RateLimit;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Login,
    Signup,
}

/// Most client IPs remembered at once; past it, idle entries are dropped first.
const MAX_TRACKED: usize = 10_000;

pub struct RateLimiter {
    login: RateLimit,
    signup: RateLimit,
    hits: Mutex<HashMap<(Bucket, IpAddr), VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(login: RateLimit, signup: RateLimit) -> RateLimiter {
        RateLimiter {
            login,
            signup,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request; `Err(retry_after)` when the IP is over its limit.
    pub fn check(&self, bucket: Bucket, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let limit = match bucket {
            Bucket::Login => self.login,
            Bucket::Signup => self.signup,
        };
        let window = Duration::from_secs(u64::from(limit.window_secs));
        let mut hits = self.hits.lock().unwrap_or_else(|e| e.into_inner());
        if hits.len() >= MAX_TRACKED {
            hits.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        let times = hits.entry((bucket, ip)).or_default();
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            times.pop_front();
        }
        if times.len() >= limit.max as usize {
            let oldest = *times.front().expect("a full window is not empty");
            return Err(window.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_ip_and_bucket_and_recovers() {
        let limiter = RateLimiter::new(
            RateLimit {
                max: 2,
                window_secs: 10,
            },
            RateLimit {
                max: 1,
                window_secs: 10,
            },
        );
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        assert!(limiter.check(Bucket::Login, a, t0).is_ok());
        assert!(limiter.check(Bucket::Login, a, t0).is_ok());
        let retry = limiter
            .check(Bucket::Login, a, t0 + Duration::from_secs(3))
            .unwrap_err();
        assert_eq!(retry, Duration::from_secs(7));
        assert!(limiter.check(Bucket::Login, b, t0).is_ok());
        assert!(limiter.check(Bucket::Signup, a, t0).is_ok());
        assert!(limiter
            .check(Bucket::Login, a, t0 + Duration::from_secs(10))
            .is_ok());
    }
}
