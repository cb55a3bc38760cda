//! The procedure of a session: opening and closing it, raised hands, the floor, the agenda
//! and the votes opened from the stage; who comes and goes; and the minutes of it all.

use std::collections::HashMap;

use archipelago_shared::assembly::{
    AgendaItem, AssemblyNews, AssemblyRefusal, AssemblyRequest, ChairAct, DEFAULT_HALL_CAPACITY,
    FloorEnd, HallSession, InOverflow, MAX_HALL_CAPACITY, Person, check_session,
};
use archipelago_shared::clock::Clock;
use archipelago_shared::governance::{Phase, describe_result};
use archipelago_shared::parcels::Actor;
use archipelago_shared::protocol::{ControlChannel, Role, ToClient};
use archipelago_shared::world::{Place, World};
use bevy::prelude::*;
use lightyear::prelude::*;

use super::MinutesQueue;
use super::storage::SessionRecord;
use super::{Assembly, HallSessions, SessionBook, may_chair, person};
use crate::ServerSystems;
use crate::avatars::Avatar;
use crate::governance::Proposals;
use crate::governance::{GovernanceCommand, govern};
use crate::rooms::{HallCapacity, InPlace, PlaceRooms};
use crate::session::LoggedIn;
use crate::shutdown::ShuttingDown;
use crate::storage::Done;

pub(super) fn plugin(app: &mut App) {
    app.add_message::<Done<Opened>>()
        .add_message::<Done<MicCutLogged>>()
        .add_systems(
        Update,
        (
            record_opened.in_set(ServerSystems::Apply),
            log_failed_cuts.in_set(ServerSystems::Receive),
            close_for_shutdown
                .run_if(resource_added::<ShuttingDown>)
                .in_set(ServerSystems::Apply),
            (track_attendance, expire_floors, follow_votes, minute_voices)
                .chain()
                .in_set(ServerSystems::Publish),
        ),
    );
}

/// The server is stopping: every open session ends, and its minutes say why.
fn close_for_shutdown(
    mut commands: Commands,
    mut sessions: Query<(Entity, &mut HallSession, &mut SessionBook)>,
    minutes: Res<MinutesQueue>,
) {
    for (entity, mut session, mut book) in &mut sessions {
        let id = session.id;
        if let Ok(speaker) = session.end_floor() {
            book.minute(
                &minutes,
                id,
                "floor-ended",
                None,
                format!("{speaker}: the server shut down"),
            );
        }
        let present = book.present.len();
        book.minute(
            &minutes,
            id,
            "closed",
            None,
            format!("the server shut down with {present} present"),
        );
        minutes.close(id);
        // Nothing more is written for it: the minutes' queue closes with this frame.
        commands.entity(entity).despawn();
        info!("session {id} closed: the server is shutting down");
    }
}

fn floor_words(seconds: u32) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// Handles a procedural request; `None` when the answer comes later (after the database).
pub(super) fn request(
    a: &mut Assembly,
    link: Entity,
    request: &AssemblyRequest,
) -> Option<Result<String, AssemblyRefusal>> {
    let member = a.member(link)?;
    Some(match request {
        AssemblyRequest::Open {
            protocity,
            title,
            agenda,
            chair,
            capacity,
        } => {
            // A session during a live event in the hall takes the event's capacity.
            let capacity = capacity
                .or_else(|| {
                    a.calendar
                        .live_in(protocity, a.clock.unix_seconds())
                        .map(|e| e.draft.capacity)
                })
                .unwrap_or(DEFAULT_HALL_CAPACITY);
            let chair = chair.as_deref();
            return open(
                a,
                link,
                &member,
                protocity,
                (title, agenda),
                chair,
                capacity,
            )
            .err()
            .map(Err);
        }
        AssemblyRequest::Close { protocity } => close(a, &member, protocity),
        AssemblyRequest::RaiseHand => raise_hand(a, link, &member),
        AssemblyRequest::LowerHand => lower_hand(a, link, &member),
        AssemblyRequest::GiveFloor {
            protocity,
            to,
            seconds,
        } => give_floor(a, &member, protocity, to.as_deref(), *seconds),
        AssemblyRequest::EndFloor { protocity } => end_floor(a, &member, protocity),
        AssemblyRequest::Agenda { protocity, item } => move_agenda(a, &member, protocity, *item),
        AssemblyRequest::OpenVote { protocity } => open_vote(a, link, &member, protocity),
        AssemblyRequest::FloorOnly { protocity, on } => floor_only(a, &member, protocity, *on),
        AssemblyRequest::Moderate { .. } | AssemblyRequest::ModerationLog => return None,
    })
}

/// The session entity of a hall, by protocity id.
fn session_in(a: &Assembly, protocity: &str) -> Result<(usize, Entity), AssemblyRefusal> {
    let hall = a.hall(protocity)?;
    let entity = a
        .halls
        .by_hall
        .get(&hall)
        .copied()
        .ok_or(AssemblyRefusal::NoSession)?;
    Ok((hall, entity))
}

/// Checks an opening and asks the database to record it.
fn open(
    a: &mut Assembly,
    link: Entity,
    member: &LoggedIn,
    protocity: &str,
    (title, agenda): (&str, &[AgendaItem]),
    chair: Option<&str>,
    capacity: u32,
) -> Result<(), AssemblyRefusal> {
    if member.role != Role::Founder {
        return Err(AssemblyRefusal::NotFounder);
    }
    if !(1..=MAX_HALL_CAPACITY).contains(&capacity) {
        return Err(AssemblyRefusal::BadCapacity);
    }
    let hall = a.hall(protocity)?;
    if let Some(entity) = a.halls.by_hall.get(&hall) {
        let title = a
            .sessions
            .get(*entity)
            .map(|(s, _)| s.title.clone())
            .unwrap_or_default();
        return Err(AssemblyRefusal::AlreadyOpen(title));
    }
    if let Some(title) = a.halls.opening.get(&hall) {
        return Err(AssemblyRefusal::AlreadyOpen(title.clone()));
    }
    let (title, agenda) = check_session(title, agenda)?;
    for (index, item) in agenda.iter().enumerate() {
        if let Some(id) = item.proposal
            && !a.proposals.map.contains_key(&id)
        {
            return Err(AssemblyRefusal::UnknownProposal(index + 1, id));
        }
    }
    let chair = match chair {
        None => person(member),
        Some(key) => a
            .link_with(key)
            .map(|(_, m)| person(&m))
            .ok_or_else(|| AssemblyRefusal::nobody_with(key))?,
    };
    a.halls.opening.insert(hall, title.clone());
    let record = SessionRecord {
        id: 0,
        protocity: a.world.protocities[hall].id.clone(),
        title,
        agenda,
        chair_key: chair.key,
        chair_name: chair.name,
        opened_by: member.name.clone(),
        opened_at: a.clock.unix_seconds(),
        closed_at: None,
        capacity,
    };
    let protocity = record.protocity.clone();
    a.storage.run_for(
        link,
        move |db| async move {
            let protocity = record.protocity.clone();
            let result = db
                .open_session(record)
                .await
                .map_err(|e| super::refusal(e, "recording a session"));
            Opened { protocity, result }
        },
        || Opened {
            protocity,
            result: Err(AssemblyRefusal::Busy),
        },
    );
    Ok(())
}

/// A session recorded, with its number, for the founder who opened it; or why not.
#[derive(Debug)]
pub(super) struct Opened {
    protocity: String,
    result: Result<SessionRecord, AssemblyRefusal>,
}

/// Once the database has given the session its number: the session begins.
fn record_opened(
    mut commands: Commands,
    mut replies: MessageReader<Done<Opened>>,
    mut halls: ResMut<HallSessions>,
    mut capacity: ResMut<HallCapacity>,
    mut links: Query<&mut MessageSender<ToClient>>,
    world: Res<World>,
    rooms: Res<PlaceRooms>,
    minutes: Res<MinutesQueue>,
    proposals: Res<Proposals>,
) {
    for Done { link, output } in replies.read() {
        let Opened { protocity, result } = output;
        let Some(hall) = world.protocities.iter().position(|p| p.id == *protocity) else {
            continue;
        };
        halls.opening.remove(&hall);
        let outcome = match result {
            Ok(record) => {
                let session = HallSession {
                    id: record.id,
                    protocity: record.protocity.clone(),
                    title: record.title.clone(),
                    chair: Person {
                        name: record.chair_name.clone(),
                        key: record.chair_key.clone(),
                    },
                    agenda: record.agenda.clone(),
                    current: 0,
                    queue: Vec::new(),
                    floor: None,
                    opened_at: record.opened_at,
                    capacity: record.capacity,
                    in_main: 0,
                    in_overflow: 0,
                    floor_only: false,
                };
                capacity.0.insert(hall, record.capacity);
                let mut book = SessionBook::new(hall);
                for id in session.agenda.iter().filter_map(|item| item.proposal) {
                    if let Some(tracked) = proposals.map.get(&id) {
                        book.phases.insert(id, tracked.proposal.phase);
                    }
                }
                book.minute(
                    &minutes,
                    record.id,
                    "opened",
                    None,
                    format!(
                        "\"{}\" opened by {}, chaired by {}",
                        record.title, record.opened_by, session.chair
                    ),
                );
                book.minute(
                    &minutes,
                    record.id,
                    "item",
                    None,
                    format!("item 1: {}", session.agenda[0].title),
                );
                let name = &world.protocities[hall].name;
                info!(
                    "session {} opened in the {name} town hall: {}",
                    record.id, record.title
                );
                let entity = commands
                    .spawn((
                        Name::new(format!("Session {} ({name})", record.id)),
                        session,
                        book,
                        Replicate::to_clients(NetworkTarget::All),
                        Rooms::from(
                            [rooms.room(Place::Hall(hall)), rooms.overflow(hall)].into_iter(),
                        ),
                    ))
                    .id();
                halls.by_hall.insert(hall, entity);
                Ok(format!(
                    "session {} is open in the {name} town hall",
                    record.id
                ))
            }
            Err(error) => Err(error.clone()),
        };
        if let Some(Ok(mut sender)) = link.map(|l| links.get_mut(l)) {
            sender.send::<ControlChannel>(ToClient::from(AssemblyNews::Answer { outcome }));
        }
    }
}

fn close(a: &mut Assembly, member: &LoggedIn, protocity: &str) -> Result<String, AssemblyRefusal> {
    let (hall, entity) = session_in(a, protocity)?;
    let Ok((mut session, mut book)) = a.sessions.get_mut(entity) else {
        return Err(AssemblyRefusal::NoSession);
    };
    if !may_chair(&session, member) {
        return Err(AssemblyRefusal::NotChair(ChairAct::Close));
    }
    let id = session.id;
    if let Ok(speaker) = session.end_floor() {
        book.minute(
            &a.minutes,
            id,
            "floor-ended",
            None,
            format!("{speaker}: the session closed"),
        );
    }
    let who = person(member);
    let present = book.present.len();
    book.minute(
        &a.minutes,
        id,
        "closed",
        Some(&who),
        format!("closed with {present} present"),
    );
    a.minutes.close(id);
    a.commands.entity(entity).despawn();
    a.halls.by_hall.remove(&hall);
    a.capacity.0.remove(&hall);
    info!("session {id} closed by {}", member.name);
    Ok(format!(
        "session {id} is closed; its minutes: archipelago-server admin session minutes {id}"
    ))
}

/// The session of the hall a member stands in.
fn own_session(a: &Assembly, link: Entity) -> Result<Entity, AssemblyRefusal> {
    let hall = a.hall_of(link).ok_or(AssemblyRefusal::NotInHall)?;
    a.halls
        .by_hall
        .get(&hall)
        .copied()
        .ok_or(AssemblyRefusal::NotInHall)
}

fn raise_hand(
    a: &mut Assembly,
    link: Entity,
    member: &LoggedIn,
) -> Result<String, AssemblyRefusal> {
    let entity = own_session(a, link)?;
    if member.role == Role::Visitor {
        return Err(AssemblyRefusal::VisitorsListen);
    }
    let who = person(member);
    let hall = a.hall_of(link).map(|i| a.world.protocities[i].id.clone());
    let now = a.clock.unix_seconds();
    if let Some(sanction) = a.sanctions.muted(&who.key, hall.as_deref(), now) {
        return Err(AssemblyRefusal::Muted(sanction.terms()));
    }
    let Ok((mut session, mut book)) = a.sessions.get_mut(entity) else {
        return Err(AssemblyRefusal::NotInHall);
    };
    let position = session.raise_hand(who.clone())?;
    let id = session.id;
    book.minute(
        &a.minutes,
        id,
        "hand",
        Some(&who),
        format!("raised a hand (number {position} in the queue)"),
    );
    Ok(format!(
        "your hand is raised: number {position} in the queue"
    ))
}

fn lower_hand(
    a: &mut Assembly,
    link: Entity,
    member: &LoggedIn,
) -> Result<String, AssemblyRefusal> {
    let entity = own_session(a, link)?;
    let Ok((mut session, mut book)) = a.sessions.get_mut(entity) else {
        return Err(AssemblyRefusal::NotInHall);
    };
    let who = person(member);
    session.lower_hand(&who.key)?;
    let id = session.id;
    book.minute(
        &a.minutes,
        id,
        "hand-lowered",
        Some(&who),
        "lowered their hand",
    );
    Ok("your hand is lowered".into())
}

fn give_floor(
    a: &mut Assembly,
    member: &LoggedIn,
    protocity: &str,
    to: Option<&str>,
    seconds: u32,
) -> Result<String, AssemblyRefusal> {
    let (_, entity) = session_in(a, protocity)?;
    let Ok((mut session, mut book)) = a.sessions.get_mut(entity) else {
        return Err(AssemblyRefusal::NoSession);
    };
    if !may_chair(&session, member) {
        return Err(AssemblyRefusal::NotChair(ChairAct::GiveFloor));
    }
    let present = to.and_then(|key| book.present(key)).cloned();
    let (speaker, previous) = session.give_floor(to, present, seconds, a.clock.unix_millis())?;
    let id = session.id;
    if let Some(previous) = previous {
        book.minute(
            &a.minutes,
            id,
            "floor-ended",
            Some(&previous),
            "the chair gave the floor to someone else",
        );
    }
    book.minute(
        &a.minutes,
        id,
        "floor",
        Some(&speaker),
        format!(
            "given the floor for {} by {}",
            floor_words(seconds),
            member.name
        ),
    );
    Ok(format!(
        "{} has the floor for {}",
        speaker.name,
        floor_words(seconds)
    ))
}

fn end_floor(
    a: &mut Assembly,
    member: &LoggedIn,
    protocity: &str,
) -> Result<String, AssemblyRefusal> {
    let (_, entity) = session_in(a, protocity)?;
    let Ok((mut session, mut book)) = a.sessions.get_mut(entity) else {
        return Err(AssemblyRefusal::NoSession);
    };
    let speaking = session
        .floor
        .as_ref()
        .is_some_and(|f| f.speaker.key == member.key_hex());
    let how = if may_chair(&session, member) && !speaking {
        FloorEnd::TakenBack
    } else if speaking {
        FloorEnd::Yielded
    } else {
        return Err(AssemblyRefusal::NotChair(ChairAct::TakeFloorBack));
    };
    let speaker = session.end_floor()?;
    let id = session.id;
    book.minute(&a.minutes, id, "floor-ended", Some(&speaker), how.as_str());
    if how == FloorEnd::TakenBack {
        // The voice relay stops forwarding them to the hall with this frame; the
        // moderation log keeps the cut.
        let (actor, subject, hall) = (person(member), speaker.clone(), protocity.to_owned());
        a.storage.run(move |storage| async move {
            MicCutLogged(storage.log_mic_cut(&actor, &subject, &hall).await)
        });
    }
    Ok(format!("{} no longer has the floor", speaker.name))
}

fn move_agenda(
    a: &mut Assembly,
    member: &LoggedIn,
    protocity: &str,
    item: usize,
) -> Result<String, AssemblyRefusal> {
    let (_, entity) = session_in(a, protocity)?;
    let Ok((mut session, mut book)) = a.sessions.get_mut(entity) else {
        return Err(AssemblyRefusal::NoSession);
    };
    if !may_chair(&session, member) {
        return Err(AssemblyRefusal::NotChair(ChairAct::MoveAgenda));
    }
    let title = session.move_to(item)?.title.clone();
    let id = session.id;
    book.minute(
        &a.minutes,
        id,
        "item",
        None,
        format!("item {}: {title}", item + 1),
    );
    Ok(format!("now on item {}: {title}", item + 1))
}

/// Lets only the floor and the chair be heard, or everyone by their neighbours too.
fn floor_only(
    a: &mut Assembly,
    member: &LoggedIn,
    protocity: &str,
    on: bool,
) -> Result<String, AssemblyRefusal> {
    let (_, entity) = session_in(a, protocity)?;
    let Ok((mut session, mut book)) = a.sessions.get_mut(entity) else {
        return Err(AssemblyRefusal::NoSession);
    };
    if !may_chair(&session, member) {
        return Err(AssemblyRefusal::NotChair(ChairAct::ChooseWhoIsHeard));
    }
    session.floor_only = on;
    let words = if on {
        "only the floor speaks"
    } else {
        "everyone may speak to their neighbours"
    };
    let id = session.id;
    book.minute(&a.minutes, id, "voice", Some(&person(member)), words);
    Ok(format!("Now {words}."))
}

fn open_vote(
    a: &mut Assembly,
    link: Entity,
    member: &LoggedIn,
    protocity: &str,
) -> Result<String, AssemblyRefusal> {
    let (_, entity) = session_in(a, protocity)?;
    let Ok((session, _)) = a.sessions.get(entity) else {
        return Err(AssemblyRefusal::NoSession);
    };
    if !may_chair(session, member) {
        return Err(AssemblyRefusal::NotChair(ChairAct::OpenVotes));
    }
    let id = session
        .current_item()
        .and_then(|item| item.proposal)
        .ok_or(AssemblyRefusal::NoProposal)?;
    let phase = a
        .proposals
        .map
        .get(&id)
        .map(|t| t.proposal.phase)
        .ok_or(AssemblyRefusal::NoProposal)?;
    if phase != Phase::Draft {
        return Err(AssemblyRefusal::VoteNotDraft(id, phase));
    }
    // The session gives its chair this one power over the linked proposal; the opening is
    // stored as the server's, in the chair's name.
    let actor = Actor {
        key: None,
        name: format!("{} (chair of session {})", member.name, session.id),
        role: Role::Founder,
    };
    let protocities = a.world.protocities.iter().map(|p| p.id.clone()).collect();
    govern(
        &a.storage,
        Some(link),
        actor,
        GovernanceCommand::Open(id),
        protocities,
    );
    Ok(format!("opening the vote on proposal #{id}"))
}

/// Notes who comes into and leaves each hall with a session; those who leave lose their
/// place in the queue and the floor.
fn track_attendance(
    mut sessions: Query<(&mut HallSession, &mut SessionBook)>,
    avatars: Query<(Entity, &InPlace, &Avatar, Has<InOverflow>)>,
    members: Query<&LoggedIn>,
    minutes: Res<MinutesQueue>,
) {
    for (mut session, mut book) in &mut sessions {
        let hall = Place::Hall(book.hall);
        let id = session.id;
        let here: HashMap<Entity, (Entity, bool)> = avatars
            .iter()
            .filter(|(_, place, _, _)| place.0 == hall)
            .map(|(avatar, _, a, overflow)| (avatar, (a.link, overflow)))
            .collect();
        let in_overflow = here.values().filter(|(_, overflow)| *overflow).count() as u32;
        let in_main = here.len() as u32 - in_overflow;
        if (session.in_main, session.in_overflow) != (in_main, in_overflow) {
            session.in_main = in_main;
            session.in_overflow = in_overflow;
        }
        for (avatar, (link, overflow)) in &here {
            if book.present.contains_key(avatar) {
                continue;
            }
            let Ok(member) = members.get(*link) else {
                continue;
            };
            let who = person(member);
            let how = if *overflow {
                "came in and follows from the overflow room"
            } else {
                "came into the hall"
            };
            book.minute(&minutes, id, "joined", Some(&who), how);
            book.present.insert(*avatar, who);
        }
        let gone: Vec<Entity> = book
            .present
            .keys()
            .filter(|avatar| !here.contains_key(avatar))
            .copied()
            .collect();
        for avatar in gone {
            let Some(who) = book.present.remove(&avatar) else {
                continue;
            };
            let speaking = session
                .floor
                .as_ref()
                .is_some_and(|f| f.speaker.key == who.key);
            if speaking || session.queue_position(&who.key).is_some() {
                let (was_queued, had_floor) = session.left(&who.key);
                if had_floor {
                    book.minute(
                        &minutes,
                        id,
                        "floor-ended",
                        Some(&who),
                        FloorEnd::Left.as_str(),
                    );
                }
                if was_queued {
                    book.minute(&minutes, id, "hand-lowered", Some(&who), "left the hall");
                }
            }
            book.minute(&minutes, id, "left", Some(&who), "went out of the hall");
        }
    }
}

/// A microphone cut, stored in the moderation log (or why not).
#[derive(Debug)]
pub(super) struct MicCutLogged(Result<(), crate::storage::StorageError>);

fn log_failed_cuts(mut done: MessageReader<Done<MicCutLogged>>) {
    for Done { output, .. } in done.read() {
        if let MicCutLogged(Err(error)) = output {
            error!("a microphone cut could not be logged: {error}");
        }
    }
}

/// Who spoke in a hall in session, and for how long (the voice relay tells; no audio is
/// kept anywhere).
fn minute_voices(
    mut spoke: MessageReader<crate::voice::Spoke>,
    links: Query<&LoggedIn>,
    mut sessions: Query<(&HallSession, &mut SessionBook)>,
    halls: Res<HallSessions>,
    minutes: Res<MinutesQueue>,
) {
    for spoke in spoke.read() {
        let (Ok(member), Some(&entity)) = (links.get(spoke.link), halls.by_hall.get(&spoke.hall))
        else {
            continue;
        };
        if let Ok((session, mut book)) = sessions.get_mut(entity) {
            book.minute(
                &minutes,
                session.id,
                "spoke",
                Some(&person(member)),
                format!("{:.0} s", spoke.seconds.max(1.0)),
            );
        }
    }
}

fn expire_floors(
    mut sessions: Query<(&mut HallSession, &mut SessionBook)>,
    minutes: Res<MinutesQueue>,
    clock: Res<Clock>,
) {
    let now = clock.unix_millis();
    for (mut session, mut book) in &mut sessions {
        if session.floor.as_ref().is_none_or(|f| f.until_ms > now) {
            continue;
        }
        let id = session.id;
        if let Some(speaker) = session.expire(now) {
            book.minute(
                &minutes,
                id,
                "floor-ended",
                Some(&speaker),
                FloorEnd::Expired.as_str(),
            );
        }
    }
}

/// Minutes the opening and the result of each vote on the agenda while the session runs.
fn follow_votes(
    mut sessions: Query<(&HallSession, &mut SessionBook)>,
    proposals: Res<Proposals>,
    minutes: Res<MinutesQueue>,
) {
    if !proposals.is_changed() {
        return;
    }
    for (session, mut book) in &mut sessions {
        for id in session.agenda.iter().filter_map(|item| item.proposal) {
            let Some(tracked) = proposals.map.get(&id) else {
                continue;
            };
            let phase = tracked.proposal.phase;
            if book.phases.insert(id, phase) == Some(phase) {
                continue;
            }
            let title = &tracked.proposal.draft.title;
            let present = book.present.len();
            match (phase, &tracked.proposal.result) {
                (Phase::Open, _) => book.minute(
                    &minutes,
                    session.id,
                    "vote-opened",
                    None,
                    format!("vote opened on #{id} {title} with {present} in the hall"),
                ),
                (Phase::Closed, Some(result)) => book.minute(
                    &minutes,
                    session.id,
                    "result",
                    None,
                    format!(
                        "#{id} {title}: {} ({} ballots; {present} in the hall)",
                        describe_result(&tracked.proposal.draft, result),
                        result.turnout
                    ),
                ),
                _ => {}
            }
        }
    }
}
