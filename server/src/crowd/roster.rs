//! The roster: who each client can see, told as it changes ([`RosterNews`]). A client sees the
//! avatars that share a room with its link (crate::rooms), its own among them. The pass costs
//! what changed: an avatar that changes rooms is looked at by the links in the rooms it
//! entered or left, and only a link that changes rooms goes over everyone in its new rooms.

use std::collections::{HashMap, HashSet};

use archipelago_shared::assembly::InOverflow;
use archipelago_shared::avatars::Look;
use archipelago_shared::crowd::{CrowdId, MAX_PEOPLE_PER_MESSAGE, RosterEntry, RosterNews};
use archipelago_shared::protocol::{AvatarProfile, ControlChannel, ToClient};
use bevy::prelude::*;
use lightyear::prelude::*;

use super::CrowdStats;
use crate::ServerSystems;
use crate::avatars::{Avatar, HasAvatar};

/// On a link: the avatars its client has been told of.
#[derive(Component, Debug, Default)]
pub struct Roster {
    known: HashSet<u16>,
}

impl Roster {
    /// Whether this client has been told of the avatar numbered `id`: it can see it.
    pub fn knows(&self, id: CrowdId) -> bool {
        self.known.contains(&id.0)
    }

    /// Bytes held for this client.
    pub fn footprint(&self) -> usize {
        self.known.capacity() * (size_of::<u16>() + 1)
    }
}

/// On an avatar: the rooms the roster last placed it in.
#[derive(Component, Debug, Default)]
struct Announced(Vec<RoomId>);

/// Avatars gone since the last pass, with the rooms they were announced in.
#[derive(Resource, Debug, Default)]
struct Departed(Vec<(u16, Vec<RoomId>)>);

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Departed>()
        .add_observer(start_roster)
        .add_observer(depart)
        .add_systems(Update, tell.after(ServerSystems::Publish));
}

fn start_roster(trigger: On<Add, HasAvatar>, mut commands: Commands) {
    commands.entity(trigger.entity).insert(Roster::default());
}

fn depart(
    trigger: On<Remove, CrowdId>,
    avatars: Query<(&CrowdId, Option<&Announced>, Option<&Rooms>)>,
    mut departed: ResMut<Departed>,
) {
    if let Ok((id, announced, rooms)) = avatars.get(trigger.entity) {
        let mut all: Vec<RoomId> = announced.map(|a| a.0.clone()).unwrap_or_default();
        for room in rooms.into_iter().flat_map(|r| r.rooms()) {
            if !all.contains(&room) {
                all.push(room);
            }
        }
        departed.0.push((id.0, all));
    }
}

fn person(id: &CrowdId, profile: &AvatarProfile, look: &Look, overflow: bool) -> RosterEntry {
    RosterEntry {
        id: *id,
        name: profile.name.clone(),
        role: profile.role,
        key: profile.key.clone(),
        overflow,
        look: *look,
    }
}

/// What one link is to be told this pass.
#[derive(Default)]
struct Told {
    /// Avatars that may have come into sight, and whether something about them changed.
    arrived: Vec<(Entity, bool)>,
    /// Avatars that may have gone out of sight (the entity is gone for those that left).
    left: Vec<(u16, Option<Entity>)>,
}

#[expect(clippy::type_complexity, reason = "one query per kind of entity read")]
fn tell(
    mut commands: Commands,
    moved: Query<(Entity, &Rooms, Option<&Announced>), (With<CrowdId>, Changed<Rooms>)>,
    changed: Query<
        Entity,
        (
            With<CrowdId>,
            Or<(Changed<AvatarProfile>, Changed<Look>, Added<InOverflow>)>,
        ),
    >,
    mut left_overflow: RemovedComponents<InOverflow>,
    avatars: Query<(
        Entity,
        &CrowdId,
        &AvatarProfile,
        &Look,
        Has<InOverflow>,
        Option<&Rooms>,
    )>,
    owners: Query<&Avatar>,
    mut links: Query<
        (
            Entity,
            &HasAvatar,
            Ref<Rooms>,
            &mut Roster,
            &mut MessageSender<ToClient>,
        ),
        With<HasAvatar>,
    >,
    mut departed: ResMut<Departed>,
    mut stats: ResMut<CrowdStats>,
) {
    let changed: Vec<Entity> = changed
        .iter()
        .chain(left_overflow.read().filter(|e| avatars.contains(*e)))
        .collect();
    let anything = !moved.is_empty()
        || !changed.is_empty()
        || !departed.0.is_empty()
        || links.iter().any(|(_, _, rooms, ..)| rooms.is_changed());
    if !anything {
        return;
    }

    let mut in_room: HashMap<RoomId, Vec<Entity>> = HashMap::new();
    for (link, _, rooms, ..) in &links {
        for room in rooms.rooms() {
            in_room.entry(room).or_default().push(link);
        }
    }
    let mut told: HashMap<Entity, Told> = HashMap::new();
    let mut tell_room = |room: RoomId, what: &mut dyn FnMut(&mut Told)| {
        for link in in_room.get(&room).into_iter().flatten() {
            what(told.entry(*link).or_default());
        }
    };
    for (avatar, rooms, announced) in &moved {
        let now: Vec<RoomId> = rooms.rooms().collect();
        let before = announced.map(|a| a.0.as_slice()).unwrap_or_default();
        let Ok((_, id, ..)) = avatars.get(avatar) else {
            continue;
        };
        for room in now.iter().filter(|r| !before.contains(r)) {
            tell_room(*room, &mut |t| t.arrived.push((avatar, false)));
        }
        for room in before.iter().filter(|r| !now.contains(r)) {
            tell_room(*room, &mut |t| t.left.push((id.0, Some(avatar))));
        }
        commands.entity(avatar).insert(Announced(now));
    }
    let mut to_owners = Vec::new();
    for avatar in changed {
        if let Ok((.., Some(rooms))) = avatars.get(avatar) {
            for room in rooms.rooms() {
                tell_room(room, &mut |t| t.arrived.push((avatar, true)));
            }
        }
        // Its owner hears of it wherever the rooms are.
        if let Ok(owner) = owners.get(avatar) {
            to_owners.push((owner.link, avatar));
        }
    }
    for (id, rooms) in std::mem::take(&mut departed.0) {
        for room in rooms {
            tell_room(room, &mut |t| t.left.push((id, None)));
        }
    }
    for (link, avatar) in to_owners {
        told.entry(link).or_default().arrived.push((avatar, true));
    }

    // Links that changed rooms go over everyone in their rooms now.
    let mut everyone_in: Option<HashMap<RoomId, Vec<Entity>>> = None;
    for (link, own, rooms, mut roster, mut sender) in &mut links {
        let mut arrived: Vec<RosterEntry> = Vec::new();
        let mut left: Vec<CrowdId> = Vec::new();
        // A client always sees its own avatar, whatever rooms each is in for a moment (the
        // stage's avatar is put in its overflow room as well, without its link).
        let sees = |avatar: Entity, avatar_rooms: Option<&Rooms>| {
            avatar == own.0
                || avatar_rooms.is_some_and(|a| a.rooms().any(|r| rooms.contains_room(r)))
        };
        let mut told_link = told.remove(&link).unwrap_or_default();
        if rooms.is_changed() {
            stats.roster_full += 1;
            let everyone = everyone_in.get_or_insert_with(|| {
                let mut map: HashMap<RoomId, Vec<Entity>> = HashMap::new();
                for (avatar, .., avatar_rooms) in &avatars {
                    for room in avatar_rooms.into_iter().flat_map(|r| r.rooms()) {
                        map.entry(room).or_default().push(avatar);
                    }
                }
                map
            });
            let mut visible: HashSet<u16> = HashSet::new();
            let mine = std::iter::once(own.0);
            for avatar in rooms
                .rooms()
                .flat_map(|room| everyone.get(&room).into_iter().flatten().copied())
                .chain(mine)
            {
                if let Ok((_, id, profile, look, overflow, _)) = avatars.get(avatar)
                    && visible.insert(id.0)
                    && !roster.known.contains(&id.0)
                {
                    arrived.push(person(id, profile, look, overflow));
                }
            }
            left.extend(
                roster
                    .known
                    .iter()
                    .filter(|id| !visible.contains(id))
                    .map(|id| CrowdId(*id)),
            );
            roster.known = visible;
            // What changed about someone already known still goes out.
            told_link.arrived.retain(|(_, changed)| *changed);
            told_link.left.clear();
        }
        for (avatar, changed) in told_link.arrived {
            let Ok((_, id, profile, look, overflow, avatar_rooms)) = avatars.get(avatar) else {
                continue;
            };
            if !sees(avatar, avatar_rooms) {
                continue;
            }
            let new = roster.known.insert(id.0);
            if (new || changed) && !arrived.iter().any(|p| p.id == *id) {
                arrived.push(person(id, profile, look, overflow));
            }
        }
        for (id, avatar) in told_link.left {
            let still = avatar
                .and_then(|a| avatars.get(a).ok())
                .is_some_and(|(a, .., avatar_rooms)| sees(a, avatar_rooms));
            if !still && roster.known.remove(&id) {
                left.push(CrowdId(id));
            }
        }
        stats.roster_left += left.len() as u64;
        stats.roster_arrived += arrived.len() as u64;
        if !left.is_empty() {
            sender.send::<ControlChannel>(ToClient::Roster(RosterNews::Left(left)));
        }
        for chunk in arrived.chunks(MAX_PEOPLE_PER_MESSAGE) {
            sender.send::<ControlChannel>(ToClient::Roster(RosterNews::Arrived(chunk.to_vec())));
        }
    }
}
