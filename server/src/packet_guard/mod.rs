//! A look at every packet a client sends before lightyear's transport reads it.
//!
//! lightyear 0.30.1 reserves room for a fragmented message as soon as its first fragment
//! arrives, sized by the fragment count the sender wrote (`num_fragments ×` [`FRAGMENT_BYTES`] bytes), and
//! keeps partial messages of reliable channels until they complete. One packet claiming 2^40
//! fragments aborts the process; many claiming a plausible count eat the memory; an ordered
//! reliable channel keeps every message that arrives ahead of a missing one. So between
//! netcode's decryption and the transport's read, this module reads each packet with its own
//! reader (`fragments.rs`), at least as strictly as lightyear, and drops the link of a client
//! whose fragment claims more pieces than our largest message needs, that holds too many
//! partial messages at once, or too many messages ahead of a missing one. The report
//! upstream is docs/upstream/lightyear-fragment-allocation.md.

mod fragments;

use std::collections::HashMap;

use archipelago_shared::protocol::{LINK_MTU, MAX_CLIENT_MESSAGE_BYTES};
use bevy::prelude::*;
use lightyear::link::server::LinkOf;
use lightyear::link::{Link, Unlink, UnlinkReason};
use lightyear::prelude::*;
use lightyear::transport::plugin::TransportSystems;

use crate::refusal_log::RefusalLog;

pub use fragments::{
    Delivery, FRAGMENT_BYTES, FragmentHeader, Item, LinkWatch, MAX_FRAGMENTS, MAX_PARTIAL_MESSAGES,
    MAX_WAITING_BYTES, MAX_WAITING_MESSAGES, PacketViolation, read_packet,
};

/// A link's [`LinkWatch`].
#[derive(Component, Debug, Default)]
struct Watched(LinkWatch);

/// How a channel of the protocol delivers, by its network id (`None`: no such channel).
fn delivery(registry: &ChannelRegistry, channel: u16) -> Option<Delivery> {
    let settings = registry.settings(*registry.get_kind_from_net_id(channel)?)?;
    Some(match settings.mode {
        ChannelMode::UnorderedUnreliableWithAcks | ChannelMode::UnorderedUnreliable => {
            Delivery::UnreliableUnordered
        }
        ChannelMode::SequencedUnreliable => Delivery::UnreliableSequenced,
        ChannelMode::UnorderedReliable(_) | ChannelMode::SequencedReliable(_) => {
            Delivery::ReliableUnordered
        }
        ChannelMode::OrderedReliable(_) => Delivery::ReliableOrdered,
    })
}

/// On a link being dropped for what it sent: nothing more of it reaches lightyear.
#[derive(Component, Debug)]
struct Condemned;

pub(crate) fn plugin(app: &mut App) {
    app.add_observer(watch_new_link);
    app.add_systems(
        PreUpdate,
        inspect_packets
            .after(ConnectionSystems::Receive)
            .before(TransportSystems::Receive),
    );
}

fn watch_new_link(trigger: On<Add, LinkOf>, mut commands: Commands) {
    commands.entity(trigger.entity).insert(Watched::default());
}

/// Reads every decrypted packet of every link before the transport does; a link that breaks
/// the rules is emptied and dropped.
fn inspect_packets(
    mut commands: Commands,
    // Until the transport is on the link it leaves packets where they are, and they would be
    // counted twice.
    mut links: Query<
        (
            Entity,
            &mut Link,
            &mut Watched,
            Option<&PeerAddr>,
            Has<Condemned>,
        ),
        With<Transport>,
    >,
    registry: Res<ChannelRegistry>,
    time: Res<Time<Real>>,
    mut channels: Local<HashMap<u16, Option<Delivery>>>,
    mut refusals: ResMut<RefusalLog>,
) {
    let now = time.elapsed();
    for (entity, mut link, mut watch, peer, condemned) in &mut links {
        if condemned {
            link.recv.drain().for_each(drop);
            continue;
        }
        let mut violation = None;
        for _ in 0..link.recv.len() {
            let Some(packet) = link.recv.pop() else {
                break;
            };
            let checked = read_packet(&packet, |item| {
                let channel = match item {
                    Item::Fragment(fragment) => fragment.channel,
                    Item::Single { channel, .. } => channel,
                };
                let delivery = *channels
                    .entry(channel)
                    .or_insert_with(|| delivery(&registry, channel));
                let delivery = delivery.ok_or(PacketViolation::UnknownChannel(channel))?;
                watch.0.admit(item, delivery, now)
            });
            match checked {
                Ok(()) => link.recv.push_raw(packet),
                Err(error) => {
                    violation = Some(error);
                    break;
                }
            }
        }
        let Some(violation) = violation else {
            continue;
        };
        link.recv.drain().for_each(drop);
        // Every connection is a new link: these lines are written together, at most one
        // every 5 s with a count, so a flood of bad connections cannot fill the log.
        refusals.note(Entity::PLACEHOLDER, || {
            format!("dropping client {:?}: {violation}", peer.map(|p| p.0))
        });
        commands.entity(entity).insert(Condemned);
        commands.trigger(Unlink {
            entity,
            reason: UnlinkReason::UserRequested(Some(format!("bad packet: {violation}"))),
        });
    }
}

#[cfg(test)]
mod tests {
    use lightyear::transport::packet::packet::fragment_size_for_min_mtu;

    use super::*;

    #[test]
    fn the_guard_expects_the_fragment_size_lightyear_uses_on_our_links() {
        assert_eq!(fragment_size_for_min_mtu(LINK_MTU), Some(FRAGMENT_BYTES));
        assert_eq!(
            archipelago_shared::protocol::link_mtu().min_mtu(),
            LINK_MTU,
            "lightyear sizes fragments from the link's minimum MTU"
        );
    }
}
