//! The one wall clock. Stored rows, events, sanctions and certificates count Unix seconds;
//! deadlines on the wire (the floor, the server's clock at login) and ballot sequences count
//! Unix milliseconds. Both read the same system clock; a clock set before 1970 reads 0.
//!
//! The simulation's own pace (rate limits, timers) uses Bevy's `Time`, never this.
//!
//! A server reads it through a [`Clock`], so that tests stepping a server in game time can
//! move its calendar with it (events start, the floor runs out, sanctions lapse).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bevy::prelude::Resource;

/// The calendar a server (or a client reckoning the server's) goes by: the system clock, or
/// a clock a test moves by hand. Clones share one time.
#[derive(Resource, Debug, Clone, Default)]
pub struct Clock {
    /// Unix milliseconds of a hand-moved clock; `None` reads the system clock.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that reads `unix_millis` until [`Clock::advance`] moves it.
    pub fn manual(unix_millis: i64) -> Self {
        Self {
            manual: Some(Arc::new(AtomicI64::new(unix_millis))),
        }
    }

    /// Moves a hand-moved clock on; the system clock moves by itself and ignores this.
    pub fn advance(&self, by: Duration) {
        if let Some(millis) = &self.manual {
            let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            millis.fetch_add(by, Ordering::Relaxed);
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(&self) -> i64 {
        match &self.manual {
            Some(millis) => millis.load(Ordering::Relaxed),
            None => unix_millis(),
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        match &self.manual {
            Some(millis) => millis.load(Ordering::Relaxed).div_euclid(1000),
            None => unix_seconds(),
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Milliseconds since the Unix epoch.
pub fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_millis_read_the_same_clock() {
        let (seconds, millis) = (unix_seconds(), unix_millis());
        assert!(seconds > 1_700_000_000, "a clock after 2023: {seconds}");
        assert!(
            (millis / 1000 - seconds).abs() <= 1,
            "{millis} ms and {seconds} s are the same moment"
        );
        let system = Clock::system();
        system.advance(Duration::from_secs(3600));
        assert!(
            (system.unix_seconds() - unix_seconds()).abs() <= 1,
            "moved by nobody"
        );
    }

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_with_it() {
        let clock = Clock::manual(1_800_000_000_999);
        let shared = clock.clone();
        assert_eq!(clock.unix_seconds(), 1_800_000_000);
        shared.advance(Duration::from_millis(1));
        assert_eq!(clock.unix_millis(), 1_800_000_001_000);
        assert_eq!(clock.unix_seconds(), 1_800_000_001);
    }
}
