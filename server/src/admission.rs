//! Who may come in, beyond netcode's limit on connections: a cap on links from one address, a
//! cap on links that have connected but not logged in yet, and places kept for members and
//! founders, so strangers cannot fill every place before an assembly.
//!
//! Connections from the loopback address are the host's own (its bots, its tools): they are
//! not counted against the address and pending caps unless the host asks.

use std::net::IpAddr;
use std::time::Duration;

pub use archipelago_shared::identity::AdmissionRefusal;
use archipelago_shared::protocol::Role;

/// Links one address may hold at once unless the host sets `--max-per-ip`.
pub const DEFAULT_MAX_PER_IP: usize = 8;
/// Links that may be connected and not yet logged in at once, unless the host says otherwise.
pub const DEFAULT_MAX_PENDING: usize = 64;
/// Links one address may have arriving (not yet logged in) at once: a person logs in within
/// a moment, so a few hosts cannot hold every arrival's place.
pub const MAX_PENDING_PER_ADDRESS: usize = 2;

/// An arrival that has waited this long without logging in gives its place to a newcomer
/// when arrivals are full. Logging in takes a round trip and a signature: well under this.
pub const ARRIVAL_GRACE: Duration = Duration::from_secs(3);

/// What counts as one address: an IPv4 address, or an IPv6 /64 (what one subscriber gets).
pub fn address_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(segments.into())
        }
    }
}

/// The limits in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// Links from one address at once (0: no limit).
    pub max_per_ip: usize,
    /// Links connected and not yet logged in, at once (0: no limit).
    pub max_pending: usize,
    /// Places kept for members and founders: a visitor is refused once only this many are
    /// left.
    pub reserved: usize,
    /// Whether loopback connections count against the address and pending caps.
    pub limit_loopback: bool,
}

impl Admission {
    /// The defaults for a server of `max_clients` places: a tenth of them kept for members.
    pub fn for_places(max_clients: usize) -> Self {
        Self {
            max_per_ip: DEFAULT_MAX_PER_IP,
            max_pending: DEFAULT_MAX_PENDING,
            reserved: max_clients / 10,
            limit_loopback: false,
        }
    }

    /// May a link that just connected from `ip` go on to log in, with `same_address` other
    /// links from that address ([`address_of`]), `arriving_from_address` of them not logged
    /// in yet, and `pending` others not logged in yet in all?
    pub fn connection(
        &self,
        ip: IpAddr,
        same_address: usize,
        arriving_from_address: usize,
        pending: usize,
    ) -> Result<(), AdmissionRefusal> {
        if ip.is_loopback() && !self.limit_loopback {
            return Ok(());
        }
        if self.max_per_ip > 0 && same_address >= self.max_per_ip {
            return Err(AdmissionRefusal::TooManyFromAddress(self.max_per_ip));
        }
        if arriving_from_address >= MAX_PENDING_PER_ADDRESS {
            return Err(AdmissionRefusal::ArrivingFromAddress(
                MAX_PENDING_PER_ADDRESS,
            ));
        }
        if self.max_pending > 0 && pending >= self.max_pending {
            return Err(AdmissionRefusal::TooManyArriving);
        }
        Ok(())
    }

    /// May someone of `role` take a place, with `logged_in` people in of `max_clients`?
    /// Visitors leave the last [`Self::reserved`] places to members and founders.
    pub fn place(
        &self,
        role: Role,
        logged_in: usize,
        max_clients: usize,
    ) -> Result<(), AdmissionRefusal> {
        if logged_in >= max_clients {
            Err(AdmissionRefusal::Full(max_clients))
        } else if role == Role::Visitor && logged_in + self.reserved >= max_clients {
            Err(AdmissionRefusal::FullForVisitors(self.reserved))
        } else {
            Ok(())
        }
    }

    /// Connections netcode takes beyond the places, so that people being turned away (or
    /// still logging in) never take a member's place.
    pub fn headroom(&self) -> usize {
        if self.max_pending == 0 {
            DEFAULT_MAX_PENDING
        } else {
            self.max_pending
        }
    }
}

/// When arrivals are full, the arrival that gives its place to a newcomer: of `arrivals` (each
/// with how long it has waited), the one that has waited longest, if that is at least
/// [`ARRIVAL_GRACE`]. So holding arrival places takes new connections every few seconds,
/// not one every login timeout, while a person who logs in promptly is never closed.
pub fn arrival_to_close<T>(arrivals: impl IntoIterator<Item = (T, Duration)>) -> Option<T> {
    arrivals
        .into_iter()
        .filter(|(_, waited)| *waited >= ARRIVAL_GRACE)
        .max_by_key(|(_, waited)| *waited)
        .map(|(arrival, _)| arrival)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRANGER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7));
    const HOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn one_address_holds_a_few_links_and_arrivals_are_capped() {
        let rules = Admission::for_places(40);
        assert_eq!(rules.reserved, 4, "a tenth is kept for members");
        assert_eq!(rules.connection(STRANGER, 7, 1, 0), Ok(()));
        assert_eq!(
            rules.connection(STRANGER, 8, 0, 0),
            Err(AdmissionRefusal::TooManyFromAddress(8))
        );
        assert_eq!(
            rules.connection(STRANGER, 2, 2, 2),
            Err(AdmissionRefusal::ArrivingFromAddress(
                MAX_PENDING_PER_ADDRESS
            )),
            "one address holds only a couple of arrivals"
        );
        assert_eq!(
            rules.connection(STRANGER, 0, 0, DEFAULT_MAX_PENDING),
            Err(AdmissionRefusal::TooManyArriving)
        );
        assert_eq!(
            rules.connection(HOST, 500, 500, 500),
            Ok(()),
            "the host's own bots"
        );
        let strict = Admission {
            limit_loopback: true,
            ..rules.clone()
        };
        assert!(strict.connection(HOST, 8, 0, 0).is_err());
        let open = Admission {
            max_per_ip: 0,
            max_pending: 0,
            ..rules
        };
        assert_eq!(open.connection(STRANGER, 10_000, 0, 10_000), Ok(()));
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("v6");
        let same: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("v6");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("v6");
        assert_eq!(address_of(one), address_of(same), "one /64 is one address");
        assert_ne!(address_of(one), address_of(other));
        assert_eq!(address_of(STRANGER), STRANGER);
    }

    #[test]
    fn the_arrival_that_waited_longest_past_the_grace_gives_way() {
        let secs = Duration::from_secs_f32;
        assert_eq!(
            arrival_to_close([("a", secs(1.0)), ("b", secs(2.9))]),
            None,
            "nobody logging in promptly is closed"
        );
        assert_eq!(
            arrival_to_close([("a", secs(3.5)), ("b", secs(14.0)), ("c", secs(0.1))]),
            Some("b")
        );
        assert_eq!(arrival_to_close(Vec::<(u8, Duration)>::new()), None);
    }

    #[test]
    fn visitors_leave_the_last_places_to_members() {
        let rules = Admission::for_places(40);
        assert_eq!(rules.place(Role::Visitor, 35, 40), Ok(()));
        assert_eq!(
            rules.place(Role::Visitor, 36, 40),
            Err(AdmissionRefusal::FullForVisitors(4))
        );
        assert_eq!(rules.place(Role::Member, 36, 40), Ok(()));
        assert_eq!(rules.place(Role::Founder, 39, 40), Ok(()));
        assert_eq!(
            rules.place(Role::Founder, 40, 40),
            Err(AdmissionRefusal::Full(40))
        );
        let none_kept = Admission {
            reserved: 0,
            ..rules
        };
        assert_eq!(none_kept.place(Role::Visitor, 39, 40), Ok(()));
    }
}
