//! Chat on the server: checks each line (length, rate) and decides who hears it. Lines to a
//! place reach everyone in the sender's place (the hall they are in, or their island's
//! grounds); nearby lines reach those in the same place within `NEARBY_RANGE`; direct lines
//! reach one person by name. The sender always gets their own line back, so what they see is
//! what others got.

use archipelago_shared::assembly::InOverflow;
use archipelago_shared::budget::TokenBucket;
use archipelago_shared::chat::{
    CHAT_BURST, CHAT_LINES_PER_SECOND, ChatHeard, ChatLine, ChatNews, ChatRefusal, ChatTo,
    NEARBY_RANGE, check_text,
};
use archipelago_shared::clock::Clock;
use archipelago_shared::identity::{name_key, to_hex};
use archipelago_shared::protocol::{
    AvatarPose, ChatRequest, ControlChannel, MAX_NAME_CHARS, ToClient,
};
use archipelago_shared::world::{Place, World};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::assembly::Sanctions;
use crate::avatars::{Avatar, HasAvatar};
use crate::refusal_log::RefusalLog;
use crate::rooms::InPlace;
use crate::session::{LoggedIn, Request, RequestsExt, routed};

routed!(ChatRequest, Chat);

/// Lines a link may send: `CHAT_BURST` at once, `CHAT_LINES_PER_SECOND` over time.
#[derive(Component, Debug)]
pub struct ChatBudget(TokenBucket);

pub(crate) fn plugin(app: &mut App) {
    app.add_request::<ChatRequest>()
        .add_observer(on_login)
        .add_systems(Update, relay.in_set(ServerSystems::Apply));
}

fn on_login(trigger: On<Add, LoggedIn>, mut commands: Commands, time: Res<Time>) {
    commands
        .entity(trigger.entity)
        .insert(ChatBudget(TokenBucket::full(
            CHAT_LINES_PER_SECOND,
            CHAT_BURST,
            time.elapsed(),
        )));
}

fn place_name(world: &World, place: Place) -> String {
    match place {
        Place::Grounds(i) => world.protocities[i].name.clone(),
        Place::Hall(i) => format!("{} town hall", world.protocities[i].name),
    }
}

fn relay(
    mut requests: MessageReader<Request<ChatRequest>>,
    mut links: Links,
    avatars: Query<(&AvatarPose, &InPlace, &Avatar, Has<InOverflow>)>,
    world: Res<World>,
    sanctions: Res<Sanctions>,
    mut refusals: ResMut<RefusalLog>,
    time: Res<Time>,
    clock: Res<Clock>,
) {
    for Request { link, request } in requests.read() {
        let heard = match hear(
            *link,
            request,
            &mut links,
            &avatars,
            (&world, &sanctions),
            time.elapsed(),
            clock.unix_seconds(),
        ) {
            Ok(heard) => heard,
            Err(refusal) => {
                if let Ok((_, member, _, _, mut sender)) = links.get_mut(*link) {
                    refusals.note(*link, || {
                        format!("chat from {} refused: {refusal}", member.name)
                    });
                    sender.send::<ControlChannel>(ToClient::from(ChatNews::Refused(refusal)));
                }
                continue;
            }
        };
        let (line, recipients) = heard;
        for recipient in recipients {
            if let Ok((_, _, _, _, mut sender)) = links.get_mut(recipient) {
                sender.send::<ControlChannel>(ToClient::from(ChatNews::Line(line.clone())));
            }
        }
    }
}

type Links<'w, 's> = Query<
    'w,
    's,
    (
        Entity,
        &'static LoggedIn,
        Option<&'static HasAvatar>,
        &'static mut ChatBudget,
        &'static mut MessageSender<ToClient>,
    ),
>;

/// The line to send and who receives it, or why it is refused.
fn hear(
    link: Entity,
    request: &ChatRequest,
    links: &mut Links,
    avatars: &Query<(&AvatarPose, &InPlace, &Avatar, Has<InOverflow>)>,
    (world, sanctions): (&World, &Sanctions),
    now: std::time::Duration,
    at: i64,
) -> Result<(ChatLine, Vec<Entity>), ChatRefusal> {
    let Ok((_, member, has_avatar, mut budget, _)) = links.get_mut(link) else {
        return Err(ChatRefusal::NotInWorld);
    };
    // A hall's overflow room is a place of its own for chat.
    let (pose, place, overflow) = has_avatar
        .and_then(|a| avatars.get(a.0).ok())
        .map(|(pose, place, _, overflow)| (pose.position, place.0, overflow))
        .ok_or(ChatRefusal::NotInWorld)?;
    let hall = match place {
        Place::Hall(i) => world.protocities.get(i).map(|p| p.id.as_str()),
        Place::Grounds(_) => None,
    };
    if let Some(mute) = sanctions.muted(&to_hex(&member.public_key), hall, at) {
        return Err(ChatRefusal::Muted(mute.terms()));
    }
    if budget.0.tokens(now) < 1.0 {
        return Err(ChatRefusal::TooFast);
    }
    let text = check_text(&request.text)?;
    let (from, role) = (member.name.clone(), member.role);
    budget.0.take(now);
    let (to, recipients) = match &request.to {
        ChatTo::Place => (
            ChatHeard::Place(match overflow {
                true => format!("{} (overflow room)", place_name(world, place)),
                false => place_name(world, place),
            }),
            avatars
                .iter()
                .filter(|(_, p, _, o)| p.0 == place && *o == overflow)
                .map(|(_, _, a, _)| a.link)
                .collect(),
        ),
        ChatTo::Nearby => (
            ChatHeard::Nearby,
            avatars
                .iter()
                .filter(|(other, p, _, o)| {
                    p.0 == place && *o == overflow && other.position.distance(pose) <= NEARBY_RANGE
                })
                .map(|(_, _, a, _)| a.link)
                .collect(),
        ),
        ChatTo::Direct(name) => {
            let wanted = name.trim();
            let key = name_key(wanted);
            let Some((found, who)) = links
                .iter()
                .find(|(_, m, _, _, _)| m.name_key == key)
                .map(|(e, m, _, _, _)| (e, m.name.clone()))
            else {
                // Names are short; do not echo an arbitrarily long one back.
                let shown: String = wanted.chars().take(MAX_NAME_CHARS).collect();
                return Err(ChatRefusal::NobodyCalled(shown));
            };
            let mut recipients = vec![found];
            if found != link {
                recipients.push(link);
            }
            (ChatHeard::Direct { to: who }, recipients)
        }
    };
    let line = ChatLine {
        from,
        role,
        to,
        text,
        at,
    };
    Ok((line, recipients))
}
