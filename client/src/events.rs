//! The client's calendar ([`EventBook`]): every event under way or to come, kept current by
//! the server, and the events this member may attend that have started since joining (for
//! the toast with its one-click way to the hall). [`SendEvent`] schedules or calls off one.

use std::collections::{BTreeMap, BTreeSet};

use archipelago_shared::events::{Event, EventId, EventNews, EventRefusal, EventRequest};
use archipelago_shared::protocol::{ToClient, ToServer};
use archipelago_shared::world::World;
use bevy::prelude::*;

use crate::ClientSystems;
use crate::clock::ServerClock;
use crate::connection::{FromServer, Request, Session, push_capped};

/// Answers kept for the UI.
const MAX_ANSWERS: usize = 32;

/// What this client knows of the calendar.
#[derive(Resource, Debug, Default)]
pub struct EventBook {
    /// The calendar has arrived.
    pub loaded: bool,
    pub events: BTreeMap<EventId, Event>,
    /// Events this member may attend that are under way, in the order they were announced,
    /// with when (seconds since start); the UI shows a toast for the recent ones.
    pub started: Vec<(f64, EventId)>,
    announced: BTreeSet<EventId>,
    /// The server's answers to this client's requests, oldest first, with when they came.
    pub answers: Vec<(f64, Result<String, EventRefusal>)>,
    /// Events whose hall this client was kept out of (not invited), with when.
    pub kept_out: Vec<(f64, EventId)>,
}

/// Schedule or call off an event (founders).
#[derive(Message, Debug, Clone)]
pub struct SendEvent(pub EventRequest);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<EventBook>()
        .add_message::<SendEvent>()
        .add_systems(
            Update,
            (
                (receive, announce).chain().in_set(ClientSystems::Receive),
                send.after(ClientSystems::Control)
                    .before(ClientSystems::Present),
            ),
        );
}

fn receive(
    mut messages: MessageReader<FromServer>,
    mut book: ResMut<EventBook>,
    mut session: ResMut<Session>,
    world: Res<World>,
    time: Res<Time>,
) {
    for FromServer(message) in messages.read() {
        let ToClient::Events(news) = message else {
            continue;
        };
        match news {
            EventNews::Calendar(events) => {
                book.events = events.iter().map(|e| (e.id, e.clone())).collect();
                book.loaded = true;
            }
            EventNews::Changed(event) => {
                book.events.insert(event.id, event.clone());
            }
            EventNews::KeptOut { event } => {
                let now = time.elapsed_secs_f64();
                push_capped(&mut book.kept_out, (now, *event), MAX_ANSWERS);
                let words = match book.events.get(event) {
                    Some(e) => format!(
                        "The {} town hall holds \"{}\" for {}s and above until it ends.",
                        world
                            .protocity(&e.draft.protocity)
                            .map_or(e.draft.protocity.as_str(), |p| p.name.as_str()),
                        e.draft.title,
                        e.draft.audience
                    ),
                    None => "The town hall holds an event you are not invited to.".into(),
                };
                info!("{words}");
                session.notices.push((now, words));
            }
            EventNews::Answer { outcome } => {
                push_capped(
                    &mut book.answers,
                    (time.elapsed_secs_f64(), outcome.clone()),
                    MAX_ANSWERS,
                );
            }
        }
    }
}

/// Notes each event this member may attend as it starts (or, at joining, that is under way).
fn announce(
    mut book: ResMut<EventBook>,
    session: Res<Session>,
    clock: Res<ServerClock>,
    time: Res<Time>,
) {
    let Some(role) = session.role else {
        return;
    };
    let now = clock.now();
    let started: Vec<EventId> = book
        .events
        .values()
        .filter(|e| e.is_live(now) && e.admits(role) && !book.announced.contains(&e.id))
        .map(|e| e.id)
        .collect();
    for id in started {
        book.announced.insert(id);
        book.started.push((time.elapsed_secs_f64(), id));
    }
}

fn send(mut requests: MessageReader<SendEvent>, mut out: MessageWriter<Request>) {
    for SendEvent(request) in requests.read() {
        out.write(Request(ToServer::Event(request.clone())));
    }
}
