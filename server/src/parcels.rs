//! The land registry in the world: every client gets the parcels it may see when it logs in
//! and every change as it happens; requests are checked (size, rate, existence) here and
//! against the rules and the caller's role in the database transaction that stores them.
//! Changes made by the admin CLI reach clients through a poll of the history.

use std::collections::BTreeMap;
use std::time::Duration;

use archipelago_shared::identity::to_hex;
use archipelago_shared::parcels::{
    Actor, MAX_DESCRIPTION_CHARS, MAX_GROUP_CHARS, OwnerClaim, ParcelInfo, ParcelRefusal,
    ParcelRequest, may_assign, may_set_status,
};
use archipelago_shared::protocol::{
    ControlChannel, MAX_ID_CHARS, MAX_PARCEL_REQUESTS_PER_SECOND, PARCEL_REQUEST_BURST, Role,
    ToClient,
};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::login::LoggedIn;
use crate::refusal_log::RefusalLog;
use crate::storage::{StorageHandle, StorageReply};

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

/// A logged-in client's parcel request, passed on by the login plugin.
#[derive(Message, Debug, Clone)]
pub struct ParcelCommand {
    pub link: Entity,
    pub request: ParcelRequest,
}

/// Token bucket for one link's parcel requests.
#[derive(Component, Debug)]
struct RequestBudget(f32);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<ParcelRegistry>()
        .add_message::<ParcelCommand>()
        .add_observer(send_snapshot)
        .add_systems(Startup, load_registry)
        .add_systems(
            Update,
            (
                (handle_commands, apply_replies)
                    .chain()
                    .in_set(ServerSystems::Apply),
                (refill_budgets, poll_database).in_set(ServerSystems::Publish),
            ),
        );
}

fn load_registry(
    storage: Res<StorageHandle>,
    mut registry: ResMut<ParcelRegistry>,
    mut exit: MessageWriter<AppExit>,
) {
    match storage.load_parcels_now() {
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
) {
    let Ok((member, mut sender)) = links.get_mut(trigger.entity) else {
        return;
    };
    let parcels = registry
        .parcels
        .values()
        .map(|p| p.seen_by(member.role))
        .collect();
    sender.send::<ControlChannel>(ToClient::Parcels(parcels));
    commands
        .entity(trigger.entity)
        .insert(RequestBudget(PARCEL_REQUEST_BURST));
}

fn answer(sender: &mut MessageSender<ToClient>, parcel: &str, outcome: Result<String, String>) {
    sender.send::<ControlChannel>(ToClient::ParcelAnswer {
        parcel: parcel.to_owned(),
        outcome,
    });
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
    mut commands_in: MessageReader<ParcelCommand>,
    mut links: Query<(
        &RemoteId,
        &LoggedIn,
        &mut RequestBudget,
        &mut MessageSender<ToClient>,
    )>,
    registry: Res<ParcelRegistry>,
    storage: Res<StorageHandle>,
    mut refusals: ResMut<RefusalLog>,
) {
    for ParcelCommand { link, request } in commands_in.read() {
        let Ok((remote, member, mut budget, mut sender)) = links.get_mut(*link) else {
            continue;
        };
        let parcel = request.parcel();
        let actor = Actor {
            key: Some(to_hex(&member.public_key)),
            name: member.name.clone(),
            role: member.role,
        };
        let checked = if budget.0 < 1.0 {
            Err(ParcelRefusal::TooFast)
        } else {
            budget.0 -= 1.0;
            precheck(request, &actor, &registry)
        };
        if let Err(refusal) = checked {
            refusals.note(*link, || {
                format!(
                    "refused parcel request from {} ({:?}): {refusal}",
                    member.name, remote.0
                )
            });
            answer(&mut sender, parcel, Err(refusal.to_string()));
            continue;
        }
        match request {
            ParcelRequest::History { parcel } => storage.parcel_history(*link, parcel.clone()),
            _ => {
                storage.change_parcel(*link, actor, request.clone());
            }
        }
    }
}

/// Sends a changed record to every logged-in client, as each may see it.
fn broadcast(record: &ParcelInfo, links: &mut Query<(&LoggedIn, &mut MessageSender<ToClient>)>) {
    for (member, mut sender) in links.iter_mut() {
        sender.send::<ControlChannel>(ToClient::ParcelChanged(record.seen_by(member.role)));
    }
}

fn apply_replies(
    mut replies: MessageReader<StorageReply>,
    mut registry: ResMut<ParcelRegistry>,
    mut links: Query<(&LoggedIn, &mut MessageSender<ToClient>)>,
) {
    for reply in replies.read() {
        match reply {
            StorageReply::ParcelChange {
                link,
                parcel,
                result,
            } => {
                if let Ok((_, mut sender)) = links.get_mut(*link) {
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
            StorageReply::ParcelHistory {
                link,
                parcel,
                result,
            } => {
                let Ok((_, mut sender)) = links.get_mut(*link) else {
                    continue;
                };
                match result {
                    Ok(changes) => sender.send::<ControlChannel>(ToClient::ParcelHistory {
                        parcel: parcel.clone(),
                        changes: changes.clone(),
                    }),
                    Err(reason) => answer(&mut sender, parcel, Err(reason.clone())),
                }
            }
            StorageReply::ParcelsChanged { result } => {
                registry.polling = false;
                match result {
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
            _ => {}
        }
    }
}

fn refill_budgets(mut budgets: Query<&mut RequestBudget>, time: Res<Time>) {
    for mut budget in &mut budgets {
        budget.0 = (budget.0 + MAX_PARCEL_REQUESTS_PER_SECOND * time.delta_secs())
            .min(PARCEL_REQUEST_BURST);
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
        storage.poll_parcels(registry.cursor);
    }
}
