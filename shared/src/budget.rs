//! The one rate limit: a token bucket. Every budget a client spends (requests read at all,
//! chat lines, votes, parcel and assembly requests, teleports) is one of these with its own
//! rate and burst, named where it is used.

use std::time::Duration;

/// Up to `burst` tokens, refilled at `per_second`; each admitted request spends one. It refills
/// from the time it is given when asked, so nothing has to visit every bucket each frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenBucket {
    per_second: f32,
    burst: f32,
    tokens: f32,
    /// When `tokens` was last brought up to date.
    at: Duration,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn full(per_second: f32, burst: f32, now: Duration) -> Self {
        Self {
            per_second,
            burst,
            tokens: burst,
            at: now,
        }
    }

    /// Tokens there are at `now`.
    pub fn tokens(&mut self, now: Duration) -> f32 {
        // A clock that went backwards (another time source) refills nothing.
        let seconds = now.saturating_sub(self.at).as_secs_f32();
        self.tokens = (self.tokens + seconds * self.per_second).min(self.burst);
        self.at = self.at.max(now);
        self.tokens
    }

    /// Spends a token at `now` if there is one.
    pub fn take(&mut self, now: Duration) -> bool {
        if self.tokens(now) >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f32) -> Duration {
        Duration::from_secs_f32(seconds)
    }

    #[test]
    fn a_burst_then_the_rate() {
        let mut bucket = TokenBucket::full(2.0, 4.0, at(10.0));
        let burst = (0..10).filter(|_| bucket.take(at(10.0))).count();
        assert_eq!(burst, 4, "a full bucket admits one burst at once");
        assert!(
            !bucket.take(at(10.25)),
            "a quarter second refills half a token"
        );
        assert!(
            bucket.take(at(10.5)),
            "half a second at 2/s refills one token"
        );
        let over_a_minute = (0..600)
            .filter(|n| bucket.take(at(10.5 + *n as f32 * 0.1)))
            .count();
        assert!(
            (118..=122).contains(&over_a_minute),
            "a steady flood gets the rate, 2/s, and no more: {over_a_minute} in 60 s"
        );
    }

    #[test]
    fn a_long_rest_refills_one_burst_only() {
        let mut bucket = TokenBucket::full(20.0, 60.0, Duration::ZERO);
        for _ in 0..60 {
            assert!(bucket.take(Duration::ZERO));
        }
        assert_eq!(bucket.tokens(at(3600.0)), 60.0, "never more than one burst");
    }

    #[test]
    fn a_clock_going_backwards_refills_nothing() {
        let mut bucket = TokenBucket::full(1.0, 1.0, at(5.0));
        assert!(bucket.take(at(5.0)));
        assert!(!bucket.take(at(1.0)), "an earlier time gives no token");
        assert!(
            !bucket.take(at(5.5)),
            "nor does it move the bucket's clock back"
        );
        assert!(bucket.take(at(6.0)));
    }
}
