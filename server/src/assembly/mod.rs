//! Assemblies in the town halls. A founder opens a session in a hall and names its chair;
//! attendees raise hands into one queue; the chair gives the floor for a set time, moves
//! through the agenda and opens the linked proposals' votes. Each open session is an entity
//! carrying the replicated [`HallSession`], in the hall's room, so only those inside receive
//! it. Everything that happens goes into the session's minutes. Moderation (mutes, removals,
//! bans) is in [`moderation`].

mod moderation;
mod overflow;
mod procedure;

use std::collections::HashMap;

use archipelago_shared::assembly::{
    ASSEMBLY_REQUEST_BURST, ASSEMBLY_REQUESTS_PER_SECOND, AssemblyRefusal, AssemblyRequest,
    HallSession, MinuteEntry, Person, SessionId,
};
use archipelago_shared::governance::{Phase, ProposalId};
use archipelago_shared::identity::to_hex;
use archipelago_shared::protocol::{ControlChannel, Role, ToClient};
use archipelago_shared::world::World;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use lightyear::prelude::*;

pub use moderation::{Sanctions, sanction_words};

use crate::ServerSystems;
use crate::avatars::{Avatar, HasAvatar};
use crate::events::Calendar;
use crate::governance::Proposals;
use crate::login::LoggedIn;
use crate::rooms::{HallCapacity, InPlace};
use crate::storage::StorageHandle;
use crate::storage::assembly::MinuteLine;
use crate::storage::now;

/// A logged-in client's assembly request, passed on by the login plugin.
#[derive(Message, Debug, Clone)]
pub struct AssemblyMessage {
    pub link: Entity,
    pub request: AssemblyRequest,
}

/// Token bucket for one link's assembly requests (and founders' event and recognition
/// requests).
#[derive(Component, Debug)]
pub(crate) struct AssemblyBudget(pub(crate) f32);

/// Why a founders-only request may not go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FounderGate {
    TooFast,
    NotFounder,
}

impl AssemblyBudget {
    /// Admits a founders-only request: spends a token whatever the answer (a refused request
    /// costs as much as an accepted one, so those not allowed cannot send more than those
    /// who are), then checks the role.
    pub(crate) fn admit_founder(&mut self, role: Role) -> Result<(), FounderGate> {
        if self.0 < 1.0 {
            return Err(FounderGate::TooFast);
        }
        self.0 -= 1.0;
        if role != Role::Founder {
            return Err(FounderGate::NotFounder);
        }
        Ok(())
    }
}

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
    /// Avatars in the hall: who they are and their key.
    present: HashMap<Entity, (Person, String)>,
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
        storage: &StorageHandle,
        session: SessionId,
        kind: &str,
        who: Option<(&Person, &str)>,
        detail: impl Into<String>,
    ) {
        self.seq += 1;
        storage.minute(MinuteLine {
            session,
            seq: self.seq,
            entry: MinuteEntry {
                at: now(),
                kind: kind.to_owned(),
                who: who.map(|(person, _)| person.to_string()),
                detail: detail.into(),
            },
            who_key: who
                .map(|(_, key)| key.to_owned())
                .filter(|key| !key.is_empty()),
        });
    }

    /// The key of someone present, by fingerprint (empty if they are not).
    fn key_of(&self, fingerprint: &str) -> String {
        self.present(fingerprint)
            .map(|(_, key)| key.clone())
            .unwrap_or_default()
    }

    /// Someone present, by fingerprint.
    fn present(&self, fingerprint: &str) -> Option<&(Person, String)> {
        self.present
            .values()
            .find(|(person, _)| person.fingerprint == fingerprint)
    }
}

/// Who a logged-in member is in the procedure, and their key.
pub(crate) fn person(member: &LoggedIn) -> (Person, String) {
    (
        Person {
            name: member.name.clone(),
            fingerprint: member.fingerprint(),
        },
        to_hex(&member.public_key),
    )
}

/// May this member run the session's procedure? Its chair, or any founder.
fn may_chair(session: &HallSession, member: &LoggedIn) -> bool {
    member.role == Role::Founder || session.is_chair(&member.fingerprint())
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
    world: Res<'w, World>,
    sanctions: ResMut<'w, Sanctions>,
    proposals: Res<'w, Proposals>,
    capacity: ResMut<'w, HallCapacity>,
    calendar: Res<'w, Calendar>,
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

    /// The link of whoever is online with this fingerprint.
    fn link_with(&self, fingerprint: &str) -> Option<(Entity, LoggedIn)> {
        self.links
            .iter()
            .find(|(_, m, _, _)| m.fingerprint() == fingerprint)
            .map(|(e, m, _, _)| (e, m.clone()))
    }

    fn answer(&mut self, link: Entity, outcome: Result<String, AssemblyRefusal>) {
        let Ok((_, member, _, mut sender)) = self.links.get_mut(link) else {
            return;
        };
        if let Err(refusal) = &outcome {
            warn!("assembly request of {} refused: {refusal}", member.name);
        }
        sender.send::<ControlChannel>(ToClient::AssemblyAnswer {
            outcome: outcome.map_err(|r| r.to_string()),
        });
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<HallSessions>()
        .add_message::<AssemblyMessage>()
        .add_observer(give_budget)
        .add_systems(
            Update,
            (
                route_requests.in_set(ServerSystems::Apply),
                refill_budgets.in_set(ServerSystems::Publish),
            ),
        )
        .add_plugins((procedure::plugin, moderation::plugin, overflow::plugin));
}

fn give_budget(trigger: On<Add, LoggedIn>, mut commands: Commands) {
    commands
        .entity(trigger.entity)
        .insert(AssemblyBudget(ASSEMBLY_REQUEST_BURST));
}

fn refill_budgets(mut budgets: Query<&mut AssemblyBudget>, time: Res<Time>) {
    for mut budget in &mut budgets {
        budget.0 = (budget.0 + ASSEMBLY_REQUESTS_PER_SECOND * time.delta_secs())
            .min(ASSEMBLY_REQUEST_BURST);
    }
}

/// Checks each request against the sender's budget and hands it to the procedure or to
/// moderation.
fn route_requests(
    mut requests: MessageReader<AssemblyMessage>,
    mut budgets: Query<&mut AssemblyBudget>,
    mut assembly: Assembly,
) {
    for AssemblyMessage { link, request } in requests.read() {
        let Ok(mut budget) = budgets.get_mut(*link) else {
            continue;
        };
        if budget.0 < 1.0 {
            assembly.answer(*link, Err(AssemblyRefusal::TooFast));
            continue;
        }
        budget.0 -= 1.0;
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
