//! Live events: founders schedule them from the client or `admin event`; everyone online gets
//! the calendar at login and every change as it happens (the CLI's changes are noticed by a
//! poll). While an event is under way its hall admits only its audience, and a session
//! opened there takes the event's capacity.

use std::time::Duration;

use archipelago_shared::clock::Clock;
use archipelago_shared::events::{Event, EventNews, EventRefusal, EventRequest};
use archipelago_shared::identity::to_hex;
use archipelago_shared::protocol::{AvatarPose, ControlChannel, ToClient};
use archipelago_shared::world::{Place, World};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;

use crate::avatars::{Avatar, hall_door};
use crate::refusal_log::RefusalLog;
use crate::rooms::InPlace;
use crate::session::{CivicBudget, FounderGate, LoggedIn, Request, RequestsExt, broadcast, routed};
use crate::storage::{Done, StorageHandle};

pub mod cli;
pub mod storage;

/// How often the database is read for events the admin CLI changed.
const POLL: Duration = Duration::from_secs(2);

/// Every event, kept in step with the database.
#[derive(Resource, Debug, Default)]
pub struct Calendar {
    pub events: Vec<Event>,
}

impl Calendar {
    /// The event under way in a protocity's hall, if any.
    pub fn live_in(&self, protocity: &str, at: i64) -> Option<&Event> {
        self.events
            .iter()
            .find(|e| e.draft.protocity == protocity && e.is_live(at))
    }

    /// Takes a stored event; returns whether it changed anything.
    fn accept(&mut self, event: Event) -> bool {
        match self.events.iter_mut().find(|e| e.id == event.id) {
            Some(known) if *known == event => false,
            Some(known) => {
                *known = event;
                true
            }
            None => {
                self.events.push(event);
                true
            }
        }
    }
}

routed!(EventRequest, Event);

/// A founder's event scheduled or called off (the event), or refused.
#[derive(Debug)]
struct EventStored(Result<Event, EventRefusal>);

/// Every event, read to notice the admin CLI's changes.
#[derive(Debug)]
struct Polled(Result<Vec<Event>, String>);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Calendar>()
        .add_request::<EventRequest>()
        .add_message::<Done<EventStored>>()
        .add_message::<Done<Polled>>()
        .add_observer(send_calendar)
        .add_systems(Startup, load_events)
        .add_systems(
            Update,
            (
                (handle_requests, apply_replies).in_set(ServerSystems::Apply),
                (poll_database, keep_to_audience).in_set(ServerSystems::Publish),
            ),
        );
}

fn load_events(
    storage: Res<StorageHandle>,
    mut calendar: ResMut<Calendar>,
    mut exit: MessageWriter<AppExit>,
) {
    match storage.run_now(|db| async move { db.events().await }) {
        Ok(events) => calendar.events = events,
        Err(error) => {
            error!("cannot read the events: {error}");
            exit.write(AppExit::error());
        }
    }
}

/// The calendar, sent after the welcome (the login's commands insert `LoggedIn` after it).
fn send_calendar(
    trigger: On<Add, LoggedIn>,
    mut links: Query<&mut MessageSender<ToClient>>,
    calendar: Res<Calendar>,
    clock: Res<Clock>,
) {
    let at = clock.unix_seconds();
    let current = calendar
        .events
        .iter()
        .filter(|e| e.is_current(at))
        .cloned()
        .collect();
    if let Ok(mut sender) = links.get_mut(trigger.entity) {
        sender.send::<ControlChannel>(ToClient::from(EventNews::Calendar(current)));
    }
}

fn handle_requests(
    mut requests: MessageReader<Request<EventRequest>>,
    mut links: Query<(&LoggedIn, &mut CivicBudget, &mut MessageSender<ToClient>)>,
    storage: Res<StorageHandle>,
    world: Res<World>,
    mut refusals: ResMut<RefusalLog>,
    time: Res<Time>,
) {
    for Request { link, request } in requests.read() {
        let Ok((member, mut budget, mut sender)) = links.get_mut(*link) else {
            continue;
        };
        let refusal =
            budget
                .admit_founder(member.role, time.elapsed())
                .err()
                .map(|gate| match gate {
                    FounderGate::TooFast => EventRefusal::TooFast,
                    FounderGate::NotFounder => EventRefusal::NotFounder,
                });
        if let Some(refusal) = refusal {
            refusals.note(*link, || {
                format!("event request of {} refused: {refusal}", member.name)
            });
            sender.send::<ControlChannel>(ToClient::from(EventNews::Answer {
                outcome: Err(refusal),
            }));
            continue;
        }
        let protocities: Vec<String> = world.protocities.iter().map(|p| p.id.clone()).collect();
        let (by, request) = (member.name.clone(), request.clone());
        storage.run_for(
            *link,
            move |db| async move {
                let ids: Vec<&str> = protocities.iter().map(String::as_str).collect();
                let result = match &request {
                    EventRequest::Schedule(draft) => db.schedule_event(&by, draft, &ids).await,
                    EventRequest::Cancel(id) => db.cancel_event(*id).await,
                };
                EventStored(result.map_err(|e| {
                    e.for_client(
                        EventRefusal::Unavailable,
                        EventRefusal::Busy,
                        format_args!("{request:?}"),
                    )
                }))
            },
            || EventStored(Err(EventRefusal::Busy)),
        );
    }
}

fn apply_replies(
    mut changes: MessageReader<Done<EventStored>>,
    mut polls: MessageReader<Done<Polled>>,
    mut calendar: ResMut<Calendar>,
    mut links: Query<&mut MessageSender<ToClient>, With<LoggedIn>>,
    world: Res<World>,
) {
    for Done { link, output } in changes.read() {
        let outcome = output.0.clone().map(|event| {
            let hall = world
                .protocity(&event.draft.protocity)
                .map_or(event.draft.protocity.clone(), |p| p.name.clone());
            let words = match event.cancelled_at {
                Some(_) => format!("\"{}\" is called off", event.draft.title),
                None => format!(
                    "\"{}\" is scheduled in the {hall} town hall (event {})",
                    event.draft.title, event.id
                ),
            };
            info!("{words}");
            if calendar.accept(event.clone()) {
                broadcast(&EventNews::Changed(event).into(), &mut links);
            }
            words
        });
        if let Some(mut sender) = link.and_then(|l| links.get_mut(l).ok()) {
            sender.send::<ControlChannel>(ToClient::from(EventNews::Answer { outcome }));
        }
    }
    for Done { output, .. } in polls.read() {
        match &output.0 {
            Ok(events) => {
                for event in events {
                    if calendar.accept(event.clone()) {
                        info!(
                            "event {} \"{}\" changed outside",
                            event.id, event.draft.title
                        );
                        broadcast(&EventNews::Changed(event.clone()).into(), &mut links);
                    }
                }
            }
            Err(error) => error!("cannot read the events: {error}"),
        }
    }
}

fn poll_database(storage: Res<StorageHandle>, time: Res<Time>, mut timer: Local<Option<Timer>>) {
    let timer = timer.get_or_insert_with(|| Timer::new(POLL, TimerMode::Repeating));
    if timer.tick(time.delta()).just_finished() {
        storage.run(|db| async move { Polled(db.events().await.map_err(|e| e.to_string())) });
    }
}

/// While an event is under way, its hall admits its audience only: others stepping in are
/// put back outside the door and told why.
fn keep_to_audience(
    mut avatars: Query<(&mut AvatarPose, &InPlace, &Avatar), Changed<InPlace>>,
    mut links: Query<(&LoggedIn, &mut MessageSender<ToClient>)>,
    calendar: Res<Calendar>,
    world: Res<World>,
    clock: Res<Clock>,
) {
    let at = clock.unix_seconds();
    for (mut pose, place, avatar) in &mut avatars {
        let Place::Hall(hall) = place.0 else {
            continue;
        };
        let protocity = &world.protocities[hall];
        let Some(event) = calendar.live_in(&protocity.id, at) else {
            continue;
        };
        let Ok((member, mut sender)) = links.get_mut(avatar.link) else {
            continue;
        };
        if event.admits(member.role) {
            continue;
        }
        *pose = AvatarPose {
            position: hall_door(&world, hall, false),
            ..*pose
        };
        info!(
            "{} ({}) kept out of \"{}\"",
            member.name,
            to_hex(&member.public_key[..4]),
            event.draft.title
        );
        sender.send::<ControlChannel>(ToClient::from(EventNews::KeptOut { event: event.id }));
    }
}
