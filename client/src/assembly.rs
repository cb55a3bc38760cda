//! The client's view of assemblies: the session of the hall this client stands in (the
//! server replicates it only to those inside), and the server's answers to this client's
//! assembly requests. [`SendAssembly`] sends a request. Runs without a window, so bots and
//! tests raise hands and chair sessions through exactly this code.

use archipelago_shared::assembly::{
    AssemblyNews, AssemblyRefusal, AssemblyRequest, HallSession, ModerationRecord, SanctionTerms,
};
use archipelago_shared::protocol::{ToClient, ToServer};
use archipelago_shared::world::World;
use bevy::prelude::*;

use crate::ClientSystems;
use crate::connection::{FromServer, Request, Session, push_capped};

/// Answers kept for the UI.
const MAX_ANSWERS: usize = 64;

/// The server's answers to this client's assembly requests, oldest first, with the time they
/// came (seconds since start).
#[derive(Resource, Debug, Default)]
pub struct AssemblyAnswers {
    pub answers: Vec<(f64, Result<String, AssemblyRefusal>)>,
    /// The moderation log as last sent (founders ask for it).
    pub moderation_log: Option<Vec<ModerationRecord>>,
    /// What the server told this client about itself: a sanction, being kept out of a hall,
    /// moving up from an overflow. Each is also in the session's notices, in words.
    pub told: Vec<(f64, AssemblyNews)>,
}

impl AssemblyAnswers {
    pub fn last(&self) -> Option<&Result<String, AssemblyRefusal>> {
        self.answers.last().map(|(_, outcome)| outcome)
    }
}

/// Ask something of the assembly: raise a hand, give the floor, open a session...
#[derive(Message, Debug, Clone)]
pub struct SendAssembly(pub AssemblyRequest);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<AssemblyAnswers>()
        .add_message::<SendAssembly>()
        .add_systems(
            Update,
            (
                receive.in_set(ClientSystems::Receive),
                send.after(ClientSystems::Control)
                    .before(ClientSystems::Present),
            ),
        );
}

/// The session of the hall of `protocity`, if this client receives one (it does while
/// standing in that hall).
pub fn session_in<'a>(
    sessions: impl IntoIterator<Item = &'a HallSession>,
    protocity: &str,
) -> Option<&'a HallSession> {
    sessions.into_iter().find(|s| s.protocity == protocity)
}

/// Something the server told this client about itself, in words; `None` for the rest of the
/// assembly's news. The one place they are put into words.
pub fn told_words(news: &AssemblyNews, world: &World) -> Option<String> {
    let hall = |id: &str| {
        let name = world.protocity(id).map_or(id, |p| p.name.as_str());
        format!("the {name} town hall")
    };
    Some(match news {
        AssemblyNews::Sanctioned(record) => {
            let terms = SanctionTerms {
                until: record.until,
                reason: record.reason.clone(),
            };
            let by = &record.actor;
            match record.action.as_str() {
                "mute" if record.hall_only => {
                    format!("You are muted in {}{terms}, by {by}.", hall(&record.protocity))
                }
                "mute" => format!("You are muted everywhere{terms}, by {by}."),
                "unmute" => format!("{by} lifted your mute: you may speak again."),
                "remove" => format!("{by} put you out of {}.", hall(&record.protocity)),
                "ban" => format!("You are banned from {}{terms}, by {by}.", hall(&record.protocity)),
                _ => format!("{by} lifted your ban from {}.", hall(&record.protocity)),
            }
        }
        AssemblyNews::KeptOut { protocity, terms } => {
            format!("You are banned from {}{terms}.", hall(protocity))
        }
        AssemblyNews::MovedUp { protocity } => format!(
            "A place has freed up in {}: you have moved up from the overflow into the hall.",
            hall(protocity)
        ),
        AssemblyNews::Answer { .. } | AssemblyNews::ModerationLog(_) => return None,
    })
}

fn receive(
    mut messages: MessageReader<FromServer>,
    mut answers: ResMut<AssemblyAnswers>,
    mut session: ResMut<Session>,
    world: Res<World>,
    time: Res<Time>,
) {
    for FromServer(message) in messages.read() {
        match message {
            ToClient::Assembly(news) if let Some(words) = told_words(news, &world) => {
                info!("{words}");
                let now = time.elapsed_secs_f64();
                session.notices.push((now, words));
                push_capped(&mut answers.told, (now, news.clone()), MAX_ANSWERS);
            }
            ToClient::Assembly(AssemblyNews::ModerationLog(lines)) => {
                answers.moderation_log = Some(lines.clone());
            }
            ToClient::Assembly(AssemblyNews::Answer { outcome }) => {
                push_capped(
                    &mut answers.answers,
                    (time.elapsed_secs_f64(), outcome.clone()),
                    MAX_ANSWERS,
                );
            }
            _ => {}
        }
    }
}

fn send(mut requests: MessageReader<SendAssembly>, mut out: MessageWriter<Request>) {
    for SendAssembly(request) in requests.read() {
        out.write(Request(ToServer::Assembly(request.clone())));
    }
}
