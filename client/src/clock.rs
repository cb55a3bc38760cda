//! The server's clock as this client reckons it. Deadlines are the server's: a proposal
//! closes, the floor runs out and an event starts when the server's clock says so. A member
//! whose own clock is minutes off must still see the right countdown, and must not find a
//! ballot box shut that is still open.

use archipelago_shared::clock::Clock;
use bevy::prelude::*;

/// How far the server's clock is ahead of this machine's, measured at login.
#[derive(Resource, Debug, Clone, Default)]
pub struct ServerClock {
    /// Milliseconds to add to this machine's clock; zero until the server has said its time.
    offset_ms: i64,
    /// Whether the server has said its time yet.
    known: bool,
    /// This machine's clock: the system's, or a test's moved with game time.
    local: Clock,
}

impl ServerClock {
    /// A clock reckoned against `local` instead of the system clock.
    pub fn with_local(local: Clock) -> Self {
        Self { local, ..default() }
    }

    /// The server said its time is `server_ms` in a message that arrived just now.
    pub fn heard(&mut self, server_ms: i64) {
        let arrived = self.local.unix_millis();
        *self = Self {
            local: self.local.clone(),
            ..Self::reckon(server_ms, arrived)
        };
    }

    /// The clock from the server's time in a message and this machine's time when the
    /// message arrived. The message's time in flight is not added: the reckoned clock runs
    /// late by it (tens of milliseconds), never early, so the client never sees an event start
    /// or a floor run out before the server does and asks for something the server then
    /// refuses as too soon.
    pub fn reckon(server_ms: i64, arrived_ms: i64) -> Self {
        Self {
            offset_ms: server_ms.saturating_sub(arrived_ms),
            known: true,
            local: Clock::system(),
        }
    }

    /// Milliseconds the server's clock is ahead of this machine's (negative: behind).
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    pub fn is_known(&self) -> bool {
        self.known
    }

    /// Unix milliseconds on the server's clock, given this machine's.
    pub fn at(&self, local_ms: i64) -> i64 {
        local_ms.saturating_add(self.offset_ms)
    }

    /// Unix milliseconds on the server's clock now.
    pub fn now_ms(&self) -> i64 {
        self.at(self.local.unix_millis())
    }

    /// Unix seconds on the server's clock now.
    pub fn now(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_minutes_off_is_corrected_by_the_servers_time() {
        // This machine is five minutes fast; the Welcome took 40 ms to come.
        let server_sent = 1_800_000_000_000;
        let arrived_here = server_sent + 5 * 60_000 + 40;
        let clock = ServerClock::reckon(server_sent, arrived_here);
        assert!(clock.is_known());
        assert_eq!(clock.offset_ms(), -5 * 60_000 - 40);
        // Late by the trip, never early.
        assert_eq!(clock.at(arrived_here), server_sent);
        let slow = ServerClock::reckon(server_sent, server_sent - 90_000);
        assert_eq!(slow.offset_ms(), 90_000);
        assert!(!ServerClock::default().is_known());
        assert_eq!(ServerClock::default().at(123), 123);
    }
}
