//! A look at every packet a client sends before lightyear's transport reads it.
//!
//! lightyear 0.30.1 reserves room for a fragmented message as soon as its first fragment
//! arrives, sized by the fragment count the sender wrote (`num_fragments × 1162` bytes), and
//! keeps partial messages of reliable channels until they complete. One packet claiming 2^40
//! fragments aborts the process; many claiming a plausible count eat the memory. So between
//! netcode's decryption and the transport's read, this module parses the few header fields it
//! needs with its own parser and drops the link of a client whose fragment claims more pieces
//! than our largest message needs, or that holds too many partial messages at once. The
//! report upstream is docs/upstream/lightyear-fragment-allocation.md.

mod fragments;

use archipelago_shared::protocol::MAX_CLIENT_MESSAGE_BYTES;
use bevy::prelude::*;
use lightyear::link::server::LinkOf;
use lightyear::link::{Link, Unlink, UnlinkReason};
use lightyear::prelude::*;
use lightyear::transport::plugin::TransportSystems;

pub use fragments::{
    FRAGMENT_BYTES, FragmentHeader, FragmentWatch, MAX_FRAGMENTS, MAX_PARTIAL_MESSAGES,
    PacketViolation, fragment_header,
};

/// A link's [`FragmentWatch`].
#[derive(Component, Debug, Default)]
struct Fragments(FragmentWatch);

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
    commands.entity(trigger.entity).insert(Fragments::default());
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
            &mut Fragments,
            Option<&PeerAddr>,
            Has<Condemned>,
        ),
        With<Transport>,
    >,
    registry: Res<ChannelRegistry>,
    time: Res<Time<Real>>,
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
            let Some(fragment) = fragment_header(&packet) else {
                link.recv.push_raw(packet);
                continue;
            };
            let reliable = registry
                .get_kind_from_net_id(fragment.channel)
                .and_then(|kind| registry.settings(*kind))
                .map(|settings| settings.mode.is_reliable());
            let checked = match reliable {
                None => Err(PacketViolation::UnknownChannel(fragment.channel)),
                Some(reliable) => watch.0.admit(fragment, reliable, now),
            };
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
        warn!("dropping client {:?}: {violation}", peer.map(|p| p.0));
        commands.entity(entity).insert(Condemned);
        commands.trigger(Unlink {
            entity,
            reason: UnlinkReason::UserRequested(Some(format!("bad packet: {violation}"))),
        });
    }
}
