//! The one wall clock. Stored rows, events, sanctions and certificates count Unix seconds;
//! deadlines on the wire (the floor, the server's clock at login) and ballot sequences count
//! Unix milliseconds. Both read the same system clock; a clock set before 1970 reads 0.
//!
//! The simulation's own pace (rate limits, timers) uses Bevy's `Time`, never this.

use std::time::{SystemTime, UNIX_EPOCH};

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
    }
}
