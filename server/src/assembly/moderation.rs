//! Moderation: a hall's chair (in their hall) and founders (anywhere) mute people, put them
//! out of a hall, or ban them from it. Mutes and bans are stored with the action's log line
//! before anyone is told, are read back at startup, and so outlast reconnecting and restarts.
//! Muted people's chat lines and raised hands are refused; banned people are put back
//! outside the door whenever they step in.

use archipelago_shared::assembly::{
    AssemblyNews, AssemblyRefusal, ChairAct, HallSession, MODERATION_LOG_LINES, ModerationAction,
    ModerationRecord, check_moderation,
};
use archipelago_shared::clock::Clock;
use archipelago_shared::identity::to_hex;
use archipelago_shared::protocol::{AvatarPose, ControlChannel, Role, ToClient};
use archipelago_shared::world::{Place, World};
use bevy::prelude::*;
use lightyear::prelude::*;

use super::storage::{LogLine, Moderation, Sanction};
use super::{Assembly, HallSessions, MinutesQueue, SessionBook, person};
use crate::ServerSystems;
use crate::avatars::{Avatar, HasAvatar, hall_door};
use crate::rooms::InPlace;
use crate::session::LoggedIn;
use crate::storage::{Done, StorageError, StorageHandle};
use archipelago_shared::assembly::SanctionKind;

/// A moderation action stored (its log line, and the subject's sanctions in force after it),
/// or refused.
#[derive(Debug)]
struct Stored {
    /// Who it was for, to tell them.
    subject: Entity,
    result: Result<Box<(LogLine, Vec<Sanction>)>, AssemblyRefusal>,
}

/// The moderation log, read for a founder.
#[derive(Debug)]
struct Log(Result<Vec<LogLine>, AssemblyRefusal>);

/// Mutes and bans in force, kept in step with the database.
#[derive(Resource, Debug, Default)]
pub struct Sanctions {
    list: Vec<Sanction>,
}

impl Sanctions {
    /// The mute in force on this key where they are (`hall`: the protocity whose town hall
    /// they stand in), if any: a founder's holds everywhere, a chair's in their hall.
    pub fn muted(&self, key: &str, hall: Option<&str>, at: i64) -> Option<&Sanction> {
        self.list.iter().find(|s| {
            s.kind == SanctionKind::Mute
                && s.subject_key == key
                && (s.protocity.is_none() || s.protocity.as_deref() == hall)
                && s.in_force(at)
        })
    }

    /// The ban in force on this key in this protocity's hall, if any.
    pub fn banned(&self, key: &str, protocity: &str, at: i64) -> Option<&Sanction> {
        self.list.iter().find(|s| {
            s.kind == SanctionKind::Ban
                && s.subject_key == key
                && s.protocity.as_deref() == Some(protocity)
                && s.in_force(at)
        })
    }

    /// Takes in a subject's sanctions in force as the database holds them after an action.
    fn replace(&mut self, subject_key: &str, in_force: &[Sanction]) {
        self.list.retain(|s| s.subject_key != subject_key);
        self.list.extend_from_slice(in_force);
    }
}

fn until_words(until: Option<i64>, now: i64) -> String {
    match until {
        None => " until a moderator lifts it".into(),
        Some(until) => {
            let minutes = ((until - now).max(0) + 59) / 60;
            format!(
                " for {minutes} more minute{}",
                if minutes == 1 { "" } else { "s" }
            )
        }
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Sanctions>()
        .add_message::<Done<Stored>>()
        .add_message::<Done<Log>>()
        .add_systems(Startup, load_sanctions)
        .add_systems(
            Update,
            (
                (apply_stored, send_log).in_set(ServerSystems::Apply),
                keep_banned_out.in_set(ServerSystems::Publish),
            ),
        );
}

fn load_sanctions(
    storage: Res<StorageHandle>,
    mut sanctions: ResMut<Sanctions>,
    mut exit: MessageWriter<AppExit>,
) {
    let loaded = storage.run_now(|db| async move {
        let closed = db.close_abandoned_sessions().await?;
        let sanctions = db.sanctions_in_force().await?;
        Ok::<_, StorageError>((closed, sanctions))
    });
    match loaded {
        Ok((closed, list)) => {
            if closed > 0 {
                warn!("closed {closed} sessions left open when the server last stopped");
            }
            info!("{} mutes and bans in force", list.len());
            sanctions.list = list;
        }
        Err(error) => {
            error!("cannot read the sessions and sanctions: {error}");
            exit.write(AppExit::error());
        }
    }
}

/// Checks a moderation request and hands it to the database; `None` when it was.
pub(super) fn request(
    a: &mut Assembly,
    link: Entity,
    protocity: &str,
    whom: &str,
    action: ModerationAction,
    reason: &str,
) -> Option<Result<String, AssemblyRefusal>> {
    let member = a.member(link)?;
    let checked = (|| {
        let hall = a.hall(protocity)?;
        let reason = check_moderation(action, reason)?;
        let chairs_here = a
            .halls
            .by_hall
            .get(&hall)
            .and_then(|entity| a.sessions.get(*entity).ok())
            .is_some_and(|(session, _)| session.is_chair(&member.key_hex()));
        if member.role != Role::Founder && !chairs_here {
            return Err(AssemblyRefusal::NotChair(ChairAct::Moderate));
        }
        let (subject_link, subject) = a
            .link_with(whom)
            .ok_or_else(|| AssemblyRefusal::nobody_with(whom))?;
        let lifting = matches!(action, ModerationAction::Unmute | ModerationAction::Unban);
        if subject.role == Role::Founder && !lifting {
            return Err(AssemblyRefusal::Untouchable);
        }
        Ok((hall, reason, subject_link, subject))
    })();
    let (hall, reason, subject_link, subject) = match checked {
        Ok(checked) => checked,
        Err(refusal) => return Some(Err(refusal)),
    };
    let moderation = Moderation {
        actor_name: member.name.clone(),
        actor_key: Some(to_hex(&member.public_key)),
        actor_role: member.role,
        action,
        subject_name: subject.name.clone(),
        subject_key: to_hex(&subject.public_key),
        protocity: a.world.protocities[hall].id.clone(),
        reason,
    };
    a.storage.run_for(
        link,
        move |db| async move {
            let result = db
                .moderate(&moderation)
                .await
                .map(Box::new)
                .map_err(|e| super::refusal(e, "storing a moderation action"));
            Stored {
                subject: subject_link,
                result,
            }
        },
        move || Stored {
            subject: subject_link,
            result: Err(AssemblyRefusal::Busy),
        },
    );
    None
}

/// Asks the database for the moderation log, for a founder; `None` when it was.
pub(super) fn read_log(a: &mut Assembly, link: Entity) -> Option<Result<String, AssemblyRefusal>> {
    let member = a.member(link)?;
    if member.role != Role::Founder {
        return Some(Err(AssemblyRefusal::LogForFounders));
    }
    a.storage.run_for(
        link,
        |db| async move {
            let newest = MODERATION_LOG_LINES as u32;
            Log(db
                .moderation_log(Some(newest))
                .await
                .map_err(|e| super::refusal(e, "reading the moderation log")))
        },
        || Log(Err(AssemblyRefusal::Busy)),
    );
    None
}

/// Sends the newest lines of the log to the founder who asked.
fn send_log(mut replies: MessageReader<Done<Log>>, mut links: Query<&mut MessageSender<ToClient>>) {
    for Done { link, output } in replies.read() {
        let Some(Ok(mut sender)) = link.map(|l| links.get_mut(l)) else {
            continue;
        };
        match &output.0 {
            Ok(lines) => {
                let skip = lines.len().saturating_sub(MODERATION_LOG_LINES);
                let records = lines[skip..].iter().map(ModerationRecord::from).collect();
                sender.send::<ControlChannel>(ToClient::from(AssemblyNews::ModerationLog(records)));
            }
            Err(reason) => sender.send::<ControlChannel>(ToClient::from(AssemblyNews::Answer {
                outcome: Err(reason.clone()),
            })),
        }
    }
}

/// What a stored action did, in words: "Bo is muted for 10 more minutes (spam)".
fn action_words(line: &LogLine, hall_name: &str, now: i64) -> String {
    let reason = match line.reason.as_str() {
        "" => String::new(),
        reason => format!(" ({reason})"),
    };
    match line.action.as_str() {
        "mute" if line.hall_only => format!(
            "{} is muted in the {hall_name} town hall{}{reason}",
            line.subject,
            until_words(line.until, now)
        ),
        "mute" => format!(
            "{} is muted everywhere{}{reason}",
            line.subject,
            until_words(line.until, now)
        ),
        "unmute" => format!("{} may speak again", line.subject),
        "remove" => format!(
            "{} was put out of the {hall_name} town hall{reason}",
            line.subject
        ),
        "ban" => format!(
            "{} is banned from the {hall_name} town hall{}{reason}",
            line.subject,
            until_words(line.until, now)
        ),
        _ => format!("{} may enter the {hall_name} town hall again", line.subject),
    }
}

/// Once an action is stored: keep it, tell both sides, put the person out if asked, and
/// write it into the minutes of the hall's session.
#[expect(
    clippy::too_many_arguments,
    reason = "one system doing one job over many parts"
)]
fn apply_stored(
    mut replies: MessageReader<Done<Stored>>,
    mut sanctions: ResMut<Sanctions>,
    mut links: Query<(&LoggedIn, Option<&HasAvatar>, &mut MessageSender<ToClient>)>,
    mut avatars: Query<(&mut AvatarPose, &InPlace)>,
    mut sessions: Query<(&mut HallSession, &mut SessionBook)>,
    halls: Res<HallSessions>,
    world: Res<World>,
    minutes: Res<MinutesQueue>,
    clock: Res<Clock>,
) {
    for Done { link, output } in replies.read() {
        let Some(link) = *link else {
            continue;
        };
        let Stored { subject, result } = output;
        let (line, in_force) = match result {
            Ok(stored) => (&stored.0, &stored.1),
            Err(reason) => {
                if let Ok((_, _, mut sender)) = links.get_mut(link) {
                    sender.send::<ControlChannel>(ToClient::from(AssemblyNews::Answer {
                        outcome: Err(reason.clone()),
                    }));
                }
                continue;
            }
        };
        sanctions.replace(&line.subject_key, in_force);
        let Some(hall) = world
            .protocities
            .iter()
            .position(|p| p.id == line.protocity)
        else {
            continue;
        };
        let words = action_words(line, &world.protocities[hall].name, clock.unix_seconds());
        info!("moderation by {}: {words}", line.actor);
        if let Ok((_, _, mut sender)) = links.get_mut(link) {
            sender.send::<ControlChannel>(ToClient::from(AssemblyNews::Answer {
                outcome: Ok(words.clone()),
            }));
        }
        let mut subject_person = None;
        if let Ok((member, avatar, mut sender)) = links.get_mut(*subject) {
            subject_person = Some(person(member));
            sender.send::<ControlChannel>(ToClient::from(AssemblyNews::Sanctioned(
                ModerationRecord::from(line),
            )));
            let put_out = matches!(line.action.as_str(), "remove" | "ban");
            if put_out
                && let Some(avatar) = avatar
                && let Ok((mut pose, place)) = avatars.get_mut(avatar.0)
                && place.0 == Place::Hall(hall)
            {
                *pose = AvatarPose {
                    position: hall_door(&world, hall, false),
                    ..*pose
                };
            }
        }
        if let Some(entity) = halls.by_hall.get(&hall)
            && let Ok((mut session, mut book)) = sessions.get_mut(*entity)
        {
            let id = session.id;
            book.minute(
                &minutes,
                id,
                "moderation",
                subject_person.as_ref(),
                format!("{words}, by {}", line.actor),
            );
            // A muted person waits no longer for the floor.
            if line.action == "mute"
                && let Some(p) = &subject_person
                && session.queue_position(&p.key).is_some()
            {
                let _ = session.lower_hand(&p.key);
            }
        }
    }
}

/// Puts anyone banned from a hall back outside its door as they step in.
fn keep_banned_out(
    mut avatars: Query<(&mut AvatarPose, &InPlace, &Avatar), Changed<InPlace>>,
    mut links: Query<(&LoggedIn, &mut MessageSender<ToClient>)>,
    sanctions: Res<Sanctions>,
    world: Res<World>,
    clock: Res<Clock>,
) {
    if sanctions.list.is_empty() {
        return;
    }
    let at = clock.unix_seconds();
    for (mut pose, place, avatar) in &mut avatars {
        let Place::Hall(hall) = place.0 else {
            continue;
        };
        let Ok((member, mut sender)) = links.get_mut(avatar.link) else {
            continue;
        };
        let protocity = &world.protocities[hall];
        let Some(ban) = sanctions.banned(&to_hex(&member.public_key), &protocity.id, at) else {
            continue;
        };
        *pose = AvatarPose {
            position: hall_door(&world, hall, false),
            ..*pose
        };
        info!(
            "{} kept out of the {} town hall",
            member.name, protocity.name
        );
        sender.send::<ControlChannel>(ToClient::from(AssemblyNews::KeptOut {
            protocity: protocity.id.clone(),
            terms: ban.terms(),
        }));
    }
}
