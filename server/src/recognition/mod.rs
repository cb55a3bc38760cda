//! The nation's standing: founders record stages, relations and censuses from the client or
//! `admin recognition|census`; everyone online gets the whole standing at login and again
//! whenever it changes (the CLI's changes are noticed by a poll). The real-estate footprint
//! is never typed in: it is computed from the land registry whenever the registry changes.

use std::time::Duration;

use archipelago_shared::protocol::{ControlChannel, ToClient};
use archipelago_shared::recognition::{
    RecognitionNews, RecognitionRefusal, RecognitionRequest, Standing, parse_date,
};
use archipelago_shared::world::World;
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;

use crate::parcels::ParcelRegistry;
use crate::refusal_log::RefusalLog;
use crate::session::{CivicBudget, FounderGate, LoggedIn, Request, RequestsExt, broadcast, routed};
use crate::storage::{Done, StorageHandle};

pub mod cli;
pub mod storage;

/// How often the database is read for changes the admin CLI made.
const POLL: Duration = Duration::from_secs(2);

/// The standing as stored, kept in step with the database.
#[derive(Resource, Debug, Default)]
pub struct NationStanding(pub Standing);

routed!(RecognitionRequest, Recognition);

/// A founder's change stored (the standing after it, and the words for it), or refused.
#[derive(Debug)]
struct Recorded(Result<Box<(Standing, String)>, RecognitionRefusal>);

/// The standing as stored, read to notice the admin CLI's changes or after new footprints.
#[derive(Debug)]
struct Read(Result<Box<Standing>, String>);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<NationStanding>()
        .add_request::<RecognitionRequest>()
        .add_message::<Done<Recorded>>()
        .add_message::<Done<Read>>()
        .add_observer(send_standing)
        .add_systems(Startup, load_standing)
        .add_systems(
            Update,
            (
                (handle_requests, apply_replies).in_set(ServerSystems::Apply),
                (follow_registry, poll_database).in_set(ServerSystems::Publish),
            ),
        );
}

fn founded(world: &World) -> i64 {
    parse_date(&world.nation.founded).unwrap_or_default()
}

fn load_standing(
    storage: Res<StorageHandle>,
    world: Res<World>,
    mut standing: ResMut<NationStanding>,
    mut exit: MessageWriter<AppExit>,
) {
    let founded = founded(&world);
    match storage.run_now(|db| async move { db.standing(founded).await }) {
        Ok(stored) => standing.0 = stored,
        Err(error) => {
            error!("cannot read the nation's standing: {error}");
            exit.write(AppExit::error());
        }
    }
}

/// The standing, sent after the welcome (the login's commands insert `LoggedIn` after it).
fn send_standing(
    trigger: On<Add, LoggedIn>,
    mut links: Query<&mut MessageSender<ToClient>>,
    standing: Res<NationStanding>,
) {
    if let Ok(mut sender) = links.get_mut(trigger.entity) {
        sender.send::<ControlChannel>(ToClient::from(RecognitionNews::Standing(
            standing.0.clone(),
        )));
    }
}

fn handle_requests(
    mut requests: MessageReader<Request<RecognitionRequest>>,
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
                    FounderGate::TooFast => RecognitionRefusal::TooFast,
                    FounderGate::NotFounder => RecognitionRefusal::NotFounder,
                });
        if let Some(refusal) = refusal {
            refusals.note(*link, || {
                format!("recognition request of {} refused: {refusal}", member.name)
            });
            sender.send::<ControlChannel>(ToClient::from(RecognitionNews::Answer {
                outcome: Err(refusal),
            }));
            continue;
        }
        let protocities: Vec<String> = world.protocities.iter().map(|p| p.id.clone()).collect();
        let (by, request, founded) = (member.name.clone(), request.clone(), founded(&world));
        storage.run_for(
            *link,
            move |db| async move {
                let ids: Vec<&str> = protocities.iter().map(String::as_str).collect();
                let result = db.record_standing(&request, &by, founded, &ids).await;
                Recorded(
                    result
                        .map(|standing| Box::new((standing, request.describe())))
                        .map_err(|e| {
                            e.for_client(
                                RecognitionRefusal::Unavailable,
                                RecognitionRefusal::Busy,
                                format_args!("recording {request:?}"),
                            )
                        }),
                )
            },
            || Recorded(Err(RecognitionRefusal::Busy)),
        );
    }
}

fn apply_replies(
    mut recorded: MessageReader<Done<Recorded>>,
    mut reads: MessageReader<Done<Read>>,
    mut standing: ResMut<NationStanding>,
    mut links: Query<&mut MessageSender<ToClient>, With<LoggedIn>>,
) {
    for Done { link, output } in recorded.read() {
        let outcome = match &output.0 {
            Ok(recorded) => {
                let (stored, words) = recorded.as_ref();
                info!("standing {words}");
                standing.0 = stored.clone();
                broadcast(
                    &RecognitionNews::Standing(standing.0.clone()).into(),
                    &mut links,
                );
                Ok(words.clone())
            }
            Err(refusal) => {
                warn!("recognition request refused: {refusal}");
                Err(refusal.clone())
            }
        };
        if let Some(mut sender) = link.and_then(|l| links.get_mut(l).ok()) {
            sender.send::<ControlChannel>(ToClient::from(RecognitionNews::Answer { outcome }));
        }
    }
    for Done { output, .. } in reads.read() {
        match &output.0 {
            // The tables only grow: a read with fewer rows in any list started before a
            // change this server already applied, and would take it back.
            Ok(stored) if **stored != standing.0 && !older(stored, &standing.0) => {
                info!("the nation's standing changed outside or in the registry");
                standing.0 = (**stored).clone();
                broadcast(
                    &RecognitionNews::Standing(standing.0.clone()).into(),
                    &mut links,
                );
            }
            Ok(_) => {}
            Err(error) => error!("cannot read the nation's standing: {error}"),
        }
    }
}

/// Whether a read holds fewer rows somewhere than the standing already known.
fn older(read: &Standing, known: &Standing) -> bool {
    read.stages.len() < known.stages.len()
        || read.relations.len() < known.relations.len()
        || read.census.len() < known.census.len()
        || read.footprints.len() < known.footprints.len()
}

fn poll_database(
    storage: Res<StorageHandle>,
    world: Res<World>,
    time: Res<Time>,
    mut timer: Local<Option<Timer>>,
) {
    let timer = timer.get_or_insert_with(|| Timer::new(POLL, TimerMode::Repeating));
    if timer.tick(time.delta()).just_finished() {
        let founded = founded(&world);
        storage.run(move |db| async move {
            Read(
                db.standing(founded)
                    .await
                    .map(Box::new)
                    .map_err(|e| e.to_string()),
            )
        });
    }
}

/// When the registry changes a protocity's footprint, the new one is stored and sent.
fn follow_registry(
    registry: Res<ParcelRegistry>,
    standing: Res<NationStanding>,
    storage: Res<StorageHandle>,
    world: Res<World>,
) {
    if !registry.is_changed() {
        return;
    }
    let areas = crate::footprints(&world, registry.parcels.values());
    let changed = areas
        .iter()
        .any(|(id, area)| standing.0.footprint_of(id) != *area);
    if changed {
        let founded = founded(&world);
        storage.run(move |db| async move {
            let stored = async {
                db.record_footprints(&areas).await?;
                db.standing(founded).await
            };
            Read(stored.await.map(Box::new).map_err(|e| {
                error!("recording footprints failed: {e}");
                e.to_string()
            }))
        });
    }
}
