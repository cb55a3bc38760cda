//! The land registry in the world: every client gets the parcels it may see when it logs in
//! and every change as it happens; requests are checked (size, rate, existence) here and
//! against the rules and the caller's role in the database transaction that stores them.
//! Changes made by the admin CLI reach clients through a poll of the history.

use std::collections::BTreeMap;
use std::time::Duration;

use archipelago_shared::budget::TokenBucket;
use archipelago_shared::identity::to_hex;
use archipelago_shared::parcels::{
    Actor, MAX_DESCRIPTION_CHARS, MAX_GROUP_CHARS, OwnerClaim, PARCEL_HISTORY_LINES, ParcelChange,
    ParcelInfo, ParcelNews, ParcelRefusal, ParcelRequest, may_assign, may_set_status,
};
use archipelago_shared::protocol::{
    ControlChannel, MAX_ID_CHARS, MAX_PARCEL_REQUESTS_PER_SECOND, PARCEL_REQUEST_BURST, Role,
    ToClient,
};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::refusal_log::RefusalLog;
use crate::session::{LoggedIn, Request, RequestsExt, routed};
use crate::storage::{Done, StorageHandle};

pub mod cli;
pub mod storage;

use storage::ParcelError;

/// How often the database is asked for changes made outside this server (the admin CLI).
const POLL_INTERVAL: Duration = Duration::from_millis(400);

/// The server's copy of the registry, kept in step with the database.
#[derive(Resource, Debug, Default)]
pub struct ParcelRegistry {
    pub parcels: BTreeMap<String, ParcelInfo>,
    /// Newest history row seen, for the poll.
    cursor: i64,
    polling: bool,
}

impl ParcelRegistry {
    /// Takes a newer record; returns whether it was newer than what we had.
    fn accept(&mut self, record: ParcelInfo) -> bool {
        match self.parcels.get(&record.id) {
            Some(known) if known.version >= record.version => false,
            _ => {
                self.parcels.insert(record.id.clone(), record);
                true
            }
        }
    }
}

routed!(ParcelRequest, Parcel);

/// A parcel change stored (the record and the words for the history) or refused (the words
/// for the client).
#[derive(Debug)]
struct ChangeStored {
    parcel: String,
    /// Boxed: a record is far larger than a refusal.
    result: Result<Box<(ParcelInfo, String)>, ParcelRefusal>,
}

/// A parcel's newest history, or why it could not be read.
#[derive(Debug)]
struct History {
    parcel: String,
    result: Result<Vec<ParcelChange>, ParcelRefusal>,
}

/// Parcels changed since the cursor (by anyone, the admin CLI included), and the new cursor.
#[derive(Debug)]
struct Polled(Result<(Vec<ParcelInfo>, i64), String>);

/// What a client is told of a failed registry job; database details stay in the log.
fn for_client(error: ParcelError, doing: impl std::fmt::Display) -> ParcelRefusal {
    if !matches!(error, ParcelError::Refused(_)) {
        error!("land registry failed {doing}: {error}");
    }
    error.for_client()
}

/// One link's parcel requests: a burst of `PARCEL_REQUEST_BURST`, then
/// `MAX_PARCEL_REQUESTS_PER_SECOND`.
#[derive(Component, Debug)]
struct ParcelBudget(TokenBucket);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<ParcelRegistry>()
        .add_request::<ParcelRequest>()
        .add_message::<Done<ChangeStored>>()
        .add_message::<Done<History>>()
        .add_message::<Done<Polled>>()
        .add_observer(send_snapshot)
        .add_systems(Startup, load_registry)
        .add_systems(
            Update,
            (
                (handle_commands, apply_replies)
                    .chain()
                    .in_set(ServerSystems::Apply),
                poll_database.in_set(ServerSystems::Publish),
            ),
        );
}

fn load_registry(
    storage: Res<StorageHandle>,
    mut registry: ResMut<ParcelRegistry>,
    mut exit: MessageWriter<AppExit>,
) {
    let loaded = storage.run_now(|db| async move {
        let parcels = db.parcels().await?;
        let cursor = db.parcel_cursor().await?;
        Ok::<_, ParcelError>((parcels, cursor))
    });
    match loaded {
        Ok((parcels, cursor)) => {
            info!("land registry holds {} parcels", parcels.len());
            registry.parcels = parcels.into_iter().map(|p| (p.id.clone(), p)).collect();
            registry.cursor = cursor;
        }
        Err(e) => {
            error!("cannot read the land registry: {e}");
            exit.write(AppExit::error());
        }
    }
}

/// Every client that logs in gets the whole registry, as its role may see it.
fn send_snapshot(
    trigger: On<Add, LoggedIn>,
    mut links: Query<(&LoggedIn, &mut MessageSender<ToClient>)>,
    registry: Res<ParcelRegistry>,
    mut commands: Commands,
    time: Res<Time>,
) {
    let Ok((member, mut sender)) = links.get_mut(trigger.entity) else {
        return;
    };
    let parcels = registry
        .parcels
        .values()
        .map(|p| p.seen_by(member.role))
        .collect();
    sender.send::<ControlChannel>(ToClient::from(ParcelNews::All(parcels)));
    commands
        .entity(trigger.entity)
        .insert(ParcelBudget(TokenBucket::full(
            MAX_PARCEL_REQUESTS_PER_SECOND,
            PARCEL_REQUEST_BURST,
            time.elapsed(),
        )));
}

fn answer(
    sender: &mut MessageSender<ToClient>,
    parcel: &str,
    outcome: Result<String, ParcelRefusal>,
) {
    sender.send::<ControlChannel>(ToClient::from(ParcelNews::Answer {
        parcel: parcel.to_owned(),
        outcome,
    }));
}

/// Checks what can be checked without the database, the role first (it follows the registry
/// while people are online); the rest is the transaction's job.
fn precheck(
    request: &ParcelRequest,
    actor: &Actor,
    registry: &ParcelRegistry,
) -> Result<(), ParcelRefusal> {
    match request {
        ParcelRequest::Assign { .. } => may_assign(actor)?,
        ParcelRequest::SetStatus { .. } => may_set_status(actor)?,
        ParcelRequest::Pledge { .. } if actor.role == Role::Visitor => {
            return Err(ParcelRefusal::VisitorPledge);
        }
        _ => {}
    }
    let parcel = request.parcel();
    if parcel.chars().count() > MAX_ID_CHARS || !registry.parcels.contains_key(parcel) {
        let shown: String = parcel.chars().take(MAX_ID_CHARS).collect();
        return Err(ParcelRefusal::UnknownParcel(shown));
    }
    match request {
        ParcelRequest::Assign {
            owner: OwnerClaim::Group(name) | OwnerClaim::Member(name),
            ..
        } if name.chars().count() > MAX_GROUP_CHARS.max(64) => Err(ParcelRefusal::BadGroupName {
            max: MAX_GROUP_CHARS,
        }),
        // Refuse oversized text before it reaches the database; the rule checks it again.
        ParcelRequest::Describe { text, .. } if text.chars().count() > MAX_DESCRIPTION_CHARS => {
            Err(ParcelRefusal::DescriptionTooLong {
                chars: text.chars().count(),
                max: MAX_DESCRIPTION_CHARS,
            })
        }
        _ => Ok(()),
    }
}

fn handle_commands(
    mut commands_in: MessageReader<Request<ParcelRequest>>,
    mut links: Query<(
        &RemoteId,
        &LoggedIn,
        &mut ParcelBudget,
        &mut MessageSender<ToClient>,
    )>,
    registry: Res<ParcelRegistry>,
    storage: Res<StorageHandle>,
    mut refusals: ResMut<RefusalLog>,
    time: Res<Time>,
) {
    for Request { link, request } in commands_in.read() {
        let Ok((remote, member, mut budget, mut sender)) = links.get_mut(*link) else {
            continue;
        };
        let parcel = request.parcel();
        let actor = Actor {
            key: Some(to_hex(&member.public_key)),
            name: member.name.clone(),
            role: member.role,
        };
        let checked = if budget.0.take(time.elapsed()) {
            precheck(request, &actor, &registry)
        } else {
            Err(ParcelRefusal::TooFast)
        };
        if let Err(refusal) = checked {
            refusals.note(*link, || {
                format!(
                    "refused parcel request from {} ({:?}): {refusal}",
                    member.name, remote.0
                )
            });
            answer(&mut sender, parcel, Err(refusal));
            continue;
        }
        match request {
            ParcelRequest::History { parcel } => {
                let (parcel, busy_parcel) = (parcel.clone(), parcel.clone());
                storage.run_for(
                    *link,
                    move |db| async move {
                        let newest = Some(PARCEL_HISTORY_LINES);
                        let result = db.parcel_history(&parcel, newest).await.map_err(|e| {
                            for_client(e, format_args!("reading the history of {parcel}"))
                        });
                        History { parcel, result }
                    },
                    || History {
                        parcel: busy_parcel,
                        result: Err(ParcelRefusal::Busy),
                    },
                );
            }
            _ => {
                let (request, parcel) = (request.clone(), parcel.to_owned());
                let busy_parcel = parcel.clone();
                storage.run_for(
                    *link,
                    move |db| async move {
                        let result = db
                            .change_parcel(&actor, &request)
                            .await
                            .map(Box::new)
                            .map_err(|e| for_client(e, format_args!("on {request:?}")));
                        ChangeStored { parcel, result }
                    },
                    || ChangeStored {
                        parcel: busy_parcel,
                        result: Err(ParcelRefusal::Busy),
                    },
                );
            }
        }
    }
}

/// Sends a changed record to every logged-in client, as each may see it.
fn broadcast(record: &ParcelInfo, links: &mut Query<(&LoggedIn, &mut MessageSender<ToClient>)>) {
    for (member, mut sender) in links.iter_mut() {
        sender.send::<ControlChannel>(ToClient::from(ParcelNews::Changed(
            record.seen_by(member.role),
        )));
    }
}

fn apply_replies(
    mut changed: MessageReader<Done<ChangeStored>>,
    mut histories: MessageReader<Done<History>>,
    mut polled: MessageReader<Done<Polled>>,
    mut registry: ResMut<ParcelRegistry>,
    mut links: Query<(&LoggedIn, &mut MessageSender<ToClient>)>,
) {
    for Done { link, output } in changed.read() {
        let ChangeStored { parcel, result } = output;
        if let Some(Ok((_, mut sender))) = link.map(|link| links.get_mut(link)) {
            let outcome = match result {
                Ok(done) => Ok(done.1.clone()),
                Err(reason) => Err(reason.clone()),
            };
            answer(&mut sender, parcel, outcome);
        }
        match result.as_deref() {
            Ok((record, what)) => {
                info!("parcel {parcel} v{}: {what}", record.version);
                if registry.accept(record.clone()) {
                    broadcast(record, &mut links);
                }
            }
            Err(reason) => warn!("parcel request on {parcel} refused: {reason}"),
        }
    }
    for Done { link, output } in histories.read() {
        let History { parcel, result } = output;
        let Some(Ok((_, mut sender))) = link.map(|link| links.get_mut(link)) else {
            continue;
        };
        match result {
            Ok(changes) => sender.send::<ControlChannel>(ToClient::from(ParcelNews::History {
                parcel: parcel.clone(),
                changes: changes.clone(),
            })),
            Err(reason) => answer(&mut sender, parcel, Err(reason.clone())),
        }
    }
    for Done { output, .. } in polled.read() {
        registry.polling = false;
        match &output.0 {
            Ok((records, cursor)) => {
                registry.cursor = registry.cursor.max(*cursor);
                for record in records {
                    if registry.accept(record.clone()) {
                        info!(
                            "parcel {} changed outside the world (v{})",
                            record.id, record.version
                        );
                        broadcast(record, &mut links);
                    }
                }
            }
            Err(e) => error!("cannot poll the land registry: {e}"),
        }
    }
}

fn poll_database(
    mut registry: ResMut<ParcelRegistry>,
    storage: Res<StorageHandle>,
    time: Res<Time>,
    mut timer: Local<Option<Timer>>,
) {
    let timer = timer.get_or_insert_with(|| Timer::new(POLL_INTERVAL, TimerMode::Repeating));
    if timer.tick(time.delta()).just_finished() && !registry.polling {
        registry.polling = true;
        let cursor = registry.cursor;
        storage.run(move |db| async move {
            Polled(
                db.parcels_changed_since(cursor)
                    .await
                    .map_err(|e| e.to_string()),
            )
        });
    }
}
