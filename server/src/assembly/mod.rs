//! Assemblies in the town halls. A founder opens a session in a hall and names its chair;
//! attendees raise hands into one queue; the chair gives the floor for a set time, moves
//! through the agenda and opens the linked proposals' votes. Each open session is an entity
//! carrying the replicated [`HallSession`], in the hall's room, so only those inside receive
//! it. Everything that happens goes into the session's minutes. Moderation (mutes, removals,
//! bans) is in [`moderation`].

pub mod cli;
mod moderation;
mod overflow;
mod procedure;
pub mod storage;

use std::collections::HashMap;

use archipelago_shared::assembly::{
    AssemblyNews, AssemblyRefusal, AssemblyRequest, HallSession, MinuteEntry, Person, SessionId,
};
use archipelago_shared::clock::Clock;
use archipelago_shared::governance::{Phase, ProposalId};
use archipelago_shared::identity::parse_key_hex;
use archipelago_shared::protocol::{ControlChannel, Role, ToClient};
use archipelago_shared::world::World;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use lightyear::prelude::*;

pub use moderation::Sanctions;

use crate::ServerSystems;
use crate::avatars::{Avatar, HasAvatar};
use crate::events::Calendar;
use crate::governance::Proposals;
use crate::refusal_log::RefusalLog;
use crate::rooms::{HallCapacity, InPlace};
use crate::session::{CivicBudget, LoggedIn, Request, RequestsExt, routed};
use crate::storage::{Batches, Refusable, Replies, StorageHandle, WriteQueue};
use storage::MinuteLine;

routed!(AssemblyRequest, Assembly);

/// The entity of each hall's open session, by protocity index, and the halls whose session
/// is being recorded.
#[derive(Resource, Debug, Default)]
pub struct HallSessions {
    pub by_hall: HashMap<usize, Entity>,
    opening: HashMap<usize, String>,
}

/// The server's side of an open session: its minutes' numbering, who is in the hall, and the
/// phase of each linked proposal last seen.
#[derive(Component, Debug)]
pub(crate) struct SessionBook {
    pub hall: usize,
    seq: i64,
    /// Avatars in the hall and who they are.
    present: HashMap<Entity, Person>,
    phases: HashMap<ProposalId, Phase>,
}

impl SessionBook {
    fn new(hall: usize) -> Self {
        Self {
            hall,
            seq: 0,
            present: HashMap::new(),
            phases: HashMap::new(),
        }
    }

    /// Appends a line to the minutes.
    fn minute(
        &mut self,
        minutes: &MinutesQueue,
        session: SessionId,
        kind: &str,
        who: Option<&Person>,
        detail: impl Into<String>,
    ) {
        self.seq += 1;
        minutes.line(MinuteLine {
            session,
            seq: self.seq,
            entry: MinuteEntry {
                at: minutes.clock.unix_seconds(),
                kind: kind.to_owned(),
                who: who.map(Person::to_string),
                detail: detail.into(),
            },
            who_key: who.map(|person| person.key.clone()),
        });
    }

    /// Someone present, by their whole key.
    fn present(&self, key: &str) -> Option<&Person> {
        self.present.values().find(|person| person.key == key)
    }
}

/// Work for the minutes writer, done in the order given.
#[derive(Debug)]
enum MinutesJob {
    Line(MinuteLine),
    Close(SessionId, i64),
}

/// The queue into the minutes writer: every line of every session, in order, each stamped
/// with the server's clock as it is given.
#[derive(Resource)]
pub(crate) struct MinutesQueue {
    queue: WriteQueue<MinutesJob>,
    clock: Clock,
}

impl MinutesQueue {
    /// Appends a line to a session's minutes (lines are written in the order given).
    fn line(&self, line: MinuteLine) {
        if self.queue.send(MinutesJob::Line(line)).is_err() {
            warn!("a line of minutes came after the minutes were closed for shutdown");
        }
    }

    /// Marks a session closed now, after the lines already given.
    fn close(&self, id: SessionId) {
        let at = self.clock.unix_seconds();
        if self.queue.send(MinutesJob::Close(id, at)).is_err() {
            warn!("session {id} closed after the minutes were closed for shutdown");
        }
    }
}

fn start_minutes_writer(
    mut commands: Commands,
    mut storage: ResMut<StorageHandle>,
    clock: Res<Clock>,
) {
    commands.insert_resource(MinutesQueue {
        queue: storage.start_writer(usize::MAX, write_minutes),
        clock: clock.clone(),
    });
}

/// Writes minutes in the order they were given, as many lines per commit as are waiting.
async fn write_minutes(
    storage: crate::storage::Storage,
    mut queue: Batches<MinutesJob>,
    _replies: Replies,
) {
    let mut batch = Vec::new();
    while queue.next(&mut batch, 1024).await > 0 {
        let mut lines = Vec::new();
        let mut closed = Vec::new();
        for job in batch.drain(..) {
            match job {
                MinutesJob::Line(line) => lines.push(line),
                MinutesJob::Close(id, at) => closed.push((id, at)),
            }
        }
        if let Err(e) = storage.write_minutes(&lines, &closed).await {
            error!("writing {} lines of minutes failed: {e}", lines.len());
        }
    }
}

/// Who a logged-in member is in the procedure.
pub(crate) fn person(member: &LoggedIn) -> Person {
    Person {
        name: member.name.clone(),
        key: member.key_hex(),
    }
}

/// May this member run the session's procedure? Its chair, or any founder. The chair is
/// recognised by their whole key.
fn may_chair(session: &HallSession, member: &LoggedIn) -> bool {
    member.role == Role::Founder || session.is_chair(&member.key_hex())
}

/// What the request handlers need.
#[derive(SystemParam)]
pub(crate) struct Assembly<'w, 's> {
    commands: Commands<'w, 's>,
    links: Query<
        'w,
        's,
        (
            Entity,
            &'static LoggedIn,
            Option<&'static HasAvatar>,
            &'static mut MessageSender<ToClient>,
        ),
    >,
    places: Query<'w, 's, (&'static InPlace, &'static Avatar)>,
    sessions: Query<'w, 's, (&'static mut HallSession, &'static mut SessionBook)>,
    halls: ResMut<'w, HallSessions>,
    storage: Res<'w, StorageHandle>,
    minutes: Res<'w, MinutesQueue>,
    world: Res<'w, World>,
    sanctions: ResMut<'w, Sanctions>,
    proposals: Res<'w, Proposals>,
    capacity: ResMut<'w, HallCapacity>,
    calendar: Res<'w, Calendar>,
    refusals: ResMut<'w, RefusalLog>,
    clock: Res<'w, Clock>,
}

impl Assembly<'_, '_> {
    fn hall(&self, protocity: &str) -> Result<usize, AssemblyRefusal> {
        self.world
            .protocities
            .iter()
            .position(|p| p.id == protocity)
            .ok_or_else(|| {
                let shown: String = protocity.chars().take(32).collect();
                AssemblyRefusal::UnknownProtocity(shown)
            })
    }

    fn member(&self, link: Entity) -> Option<LoggedIn> {
        self.links.get(link).ok().map(|(_, m, _, _)| m.clone())
    }

    /// The hall a link's avatar stands in.
    fn hall_of(&self, link: Entity) -> Option<usize> {
        let (_, _, avatar, _) = self.links.get(link).ok()?;
        let (place, _) = self.places.get(avatar?.0).ok()?;
        match place.0 {
            archipelago_shared::world::Place::Hall(i) => Some(i),
            archipelago_shared::world::Place::Grounds(_) => None,
        }
    }

    /// The link of whoever is online with this whole key (hex).
    fn link_with(&self, key: &str) -> Option<(Entity, LoggedIn)> {
        let key = parse_key_hex(&key.to_ascii_lowercase())?;
        self.links
            .iter()
            .find(|(_, m, _, _)| m.public_key == key)
            .map(|(e, m, _, _)| (e, m.clone()))
    }

    fn answer(&mut self, link: Entity, outcome: Result<String, AssemblyRefusal>) {
        let Ok((_, member, _, mut sender)) = self.links.get_mut(link) else {
            return;
        };
        if let Err(refusal) = &outcome {
            self.refusals.note(link, || {
                format!("assembly request of {} refused: {refusal}", member.name)
            });
        }
        sender.send::<ControlChannel>(ToClient::from(AssemblyNews::Answer { outcome }));
    }
}

/// What the person who asked is told when the database did not do what they asked: the
/// refusal it gave, or that assemblies are unavailable (the details go to the log).
fn refusal(error: impl Into<Refusable<AssemblyRefusal>>, doing: &str) -> AssemblyRefusal {
    error
        .into()
        .for_client(AssemblyRefusal::Unavailable, AssemblyRefusal::Busy, doing)
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<HallSessions>()
        .add_request::<AssemblyRequest>()
        .add_systems(Startup, start_minutes_writer)
        .add_systems(Update, route_requests.in_set(ServerSystems::Apply))
        .add_plugins((procedure::plugin, moderation::plugin, overflow::plugin));
}

/// Checks each request against the sender's budget and hands it to the procedure or to
/// moderation.
fn route_requests(
    mut requests: MessageReader<Request<AssemblyRequest>>,
    mut budgets: Query<&mut CivicBudget>,
    mut assembly: Assembly,
    time: Res<Time>,
) {
    for Request { link, request } in requests.read() {
        let Ok(mut budget) = budgets.get_mut(*link) else {
            continue;
        };
        if !budget.take(time.elapsed()) {
            assembly.answer(*link, Err(AssemblyRefusal::TooFast));
            continue;
        }
        let outcome = match request {
            AssemblyRequest::Moderate {
                protocity,
                whom,
                action,
                reason,
            } => moderation::request(&mut assembly, *link, protocity, whom, *action, reason),
            AssemblyRequest::ModerationLog => moderation::read_log(&mut assembly, *link),
            other => procedure::request(&mut assembly, *link, other),
        };
        // Requests that need the database are answered when it has replied.
        if let Some(outcome) = outcome {
            assembly.answer(*link, outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(key: [u8; 32], role: Role) -> LoggedIn {
        LoggedIn {
            public_key: key,
            name: "Ada".into(),
            name_key: "ada".into(),
            role,
        }
    }

    #[test]
    fn a_key_sharing_the_chairs_first_four_bytes_does_not_chair() {
        let mut chair_key = [0u8; 32];
        chair_key[..4].copy_from_slice(&[0xa1, 0xb2, 0xc3, 0xd4]);
        let mut impostor_key = chair_key;
        impostor_key[31] = 0xff;
        let chair = member(chair_key, Role::Member);
        let impostor = member(impostor_key, Role::Member);
        assert_eq!(chair.fingerprint(), impostor.fingerprint());
        let session = HallSession {
            id: 1,
            protocity: "meridian".into(),
            title: "Spring assembly".into(),
            chair: person(&chair),
            agenda: Vec::new(),
            current: 0,
            queue: Vec::new(),
            floor: None,
            opened_at: 0,
            capacity: 10,
            in_main: 0,
            in_overflow: 0,
            floor_only: false,
        };
        assert!(may_chair(&session, &chair));
        assert!(
            !may_chair(&session, &impostor),
            "the same fingerprint is not the same person"
        );
        assert!(may_chair(&session, &member(impostor_key, Role::Founder)));
    }
}
