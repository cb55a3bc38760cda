//! Looks: an avatar arrives wearing the look its key picks ([`Appearance::for_key`]), then the
//! one its owner chose, read from the database by key; a change is checked, rate-limited,
//! stored, and worn. The roster tells everyone in sight (crate::crowd::roster), so it follows
//! the person to any machine and reaches the others with the next roster pass.

use archipelago_shared::avatars::{
    APPEARANCE_CHANGE_BURST, APPEARANCE_CHANGES_PER_SECOND, Appearance, AvatarNews,
    AvatarRefusal, AvatarRequest, Look,
};
use archipelago_shared::budget::TokenBucket;
use archipelago_shared::protocol::{ControlChannel, ToClient};
use bevy::prelude::*;
use lightyear::prelude::*;

use super::HasAvatar;
use crate::ServerSystems;
use crate::refusal_log::RefusalLog;
use crate::session::{LoggedIn, Request};
use crate::storage::{Done, StorageError, StorageHandle};

/// On an avatar: what its owner may still change of its look, over time.
#[derive(Component, Debug)]
pub struct LookBudget(TokenBucket);

/// The look stored for a link's key, read after its avatar appeared.
#[derive(Debug)]
struct Loaded(Result<Option<Appearance>, StorageError>);

/// A change stored (the look now worn), or not.
#[derive(Debug)]
struct Saved(Result<Appearance, AvatarRefusal>);

pub(super) fn plugin(app: &mut App) {
    app.add_message::<Done<Loaded>>()
        .add_message::<Done<Saved>>()
        .add_observer(load_look)
        .add_systems(
            Update,
            (change_looks, wear_loaded, wear_saved).in_set(ServerSystems::Apply),
        );
}

/// Reads the look a link's key chose as its avatar appears.
fn load_look(trigger: On<Add, HasAvatar>, links: Query<&LoggedIn>, storage: Res<StorageHandle>) {
    let link = trigger.entity;
    let Ok(member) = links.get(link) else {
        return;
    };
    let key = member.key_hex();
    storage.run_for(
        link,
        move |db| async move { Loaded(db.appearance(&key).await) },
        || Loaded(Err(StorageError::Busy)),
    );
}

fn wear_loaded(
    mut loaded: MessageReader<Done<Loaded>>,
    mut links: Query<(&LoggedIn, &HasAvatar, &mut MessageSender<ToClient>)>,
    mut looks: Query<&mut Look>,
) {
    for Done { link, output } in loaded.read() {
        let Some((member, has_avatar, mut sender)) = link.and_then(|l| links.get_mut(l).ok())
        else {
            continue;
        };
        let Ok(mut look) = looks.get_mut(has_avatar.0) else {
            continue;
        };
        let chosen = match &output.0 {
            Ok(Some(appearance)) => {
                if look.appearance != *appearance {
                    look.appearance = *appearance;
                }
                true
            }
            Ok(None) => false,
            Err(error) => {
                // They wear the look their key picks; what is stored stays as it is.
                warn!("cannot read the look of {}: {error}", member.name);
                false
            }
        };
        sender.send::<ControlChannel>(ToClient::from(AvatarNews::Yours {
            appearance: look.appearance,
            chosen,
        }));
    }
}

/// Checks each change of look: the owner's budget, then the record; a good one is stored and
/// worn once stored, a bad one refused with its reason and the old look kept.
fn change_looks(
    mut requests: MessageReader<Request<AvatarRequest>>,
    mut links: Query<(&LoggedIn, &HasAvatar, &mut MessageSender<ToClient>)>,
    mut budgets: Query<&mut LookBudget>,
    storage: Res<StorageHandle>,
    mut refusals: ResMut<RefusalLog>,
    time: Res<Time>,
) {
    for Request { link, request } in requests.read() {
        let AvatarRequest::SetAppearance(appearance) = request else {
            continue;
        };
        let Ok((member, has_avatar, mut sender)) = links.get_mut(*link) else {
            continue;
        };
        let Ok(mut budget) = budgets.get_mut(has_avatar.0) else {
            continue;
        };
        let refusal = if !budget.0.take(time.elapsed()) {
            Some(AvatarRefusal::TooManyChanges)
        } else {
            appearance.check().err().map(AvatarRefusal::BadAppearance)
        };
        if let Some(refusal) = refusal {
            refusals.note(*link, || {
                format!("look of {} refused: {refusal}", member.name)
            });
            sender.send::<ControlChannel>(ToClient::from(AvatarNews::Refused(refusal)));
            continue;
        }
        let (key, appearance) = (member.key_hex(), *appearance);
        storage.run_for(
            *link,
            move |db| async move {
                Saved(match db.set_appearance(&key, &appearance).await {
                    Ok(()) => Ok(appearance),
                    Err(error) => {
                        error!("cannot store the look of {key}: {error}");
                        Err(AvatarRefusal::Unavailable)
                    }
                })
            },
            || Saved(Err(AvatarRefusal::Unavailable)),
        );
    }
}

fn wear_saved(
    mut saved: MessageReader<Done<Saved>>,
    mut links: Query<(&LoggedIn, &HasAvatar, &mut MessageSender<ToClient>)>,
    mut looks: Query<&mut Look>,
) {
    for Done { link, output } in saved.read() {
        let Some((member, has_avatar, mut sender)) = link.and_then(|l| links.get_mut(l).ok())
        else {
            continue;
        };
        let news = match output.0 {
            Ok(appearance) => {
                if let Ok(mut look) = looks.get_mut(has_avatar.0) {
                    look.appearance = appearance;
                }
                info!("{} changed their look", member.name);
                AvatarNews::Yours {
                    appearance,
                    chosen: true,
                }
            }
            Err(ref refusal) => AvatarNews::Refused(refusal.clone()),
        };
        sender.send::<ControlChannel>(ToClient::from(news));
    }
}

/// What a new avatar starts with: the look its key picks, and a full budget of changes.
pub(super) fn first_look(key: &[u8], now: std::time::Duration) -> (Look, LookBudget) {
    (
        Look {
            appearance: Appearance::for_key(key),
            seated: false,
        },
        LookBudget(TokenBucket::full(
            APPEARANCE_CHANGES_PER_SECOND,
            APPEARANCE_CHANGE_BURST,
            now,
        )),
    )
}
