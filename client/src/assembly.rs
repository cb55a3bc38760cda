//! The client's view of assemblies: the session of the hall this client stands in (the
//! server replicates it only to those inside), and the server's answers to this client's
//! assembly requests. [`SendAssembly`] sends a request. Runs without a window, so bots and
//! tests raise hands and chair sessions through exactly this code.

use archipelago_shared::assembly::{
    AssemblyNews, AssemblyRefusal, AssemblyRequest, HallSession, ModerationRecord,
};
use archipelago_shared::protocol::{ToClient, ToServer};
use bevy::prelude::*;

use crate::ClientSystems;
use crate::connection::{FromServer, Request};

/// Answers kept for the UI.
const MAX_ANSWERS: usize = 64;

/// The server's answers to this client's assembly requests, oldest first, with the time they
/// came (seconds since start).
#[derive(Resource, Debug, Default)]
pub struct AssemblyAnswers {
    pub answers: Vec<(f64, Result<String, AssemblyRefusal>)>,
    /// The moderation log as last sent (founders ask for it).
    pub moderation_log: Option<Vec<ModerationRecord>>,
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

fn receive(
    mut messages: MessageReader<FromServer>,
    mut answers: ResMut<AssemblyAnswers>,
    time: Res<Time>,
) {
    for FromServer(message) in messages.read() {
        match message {
            ToClient::Assembly(AssemblyNews::ModerationLog(lines)) => {
                answers.moderation_log = Some(lines.clone());
            }
            ToClient::Assembly(AssemblyNews::Answer { outcome }) => {
                answers
                    .answers
                    .push((time.elapsed_secs_f64(), outcome.clone()));
                let excess = answers.answers.len().saturating_sub(MAX_ANSWERS);
                answers.answers.drain(..excess);
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
