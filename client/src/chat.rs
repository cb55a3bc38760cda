//! The client's chat: lines heard since joining, and the server's refusals. [`SendChat`]
//! sends a line; the server decides who hears it and echoes it back to the sender.

use archipelago_shared::chat::{ChatLine, ChatNews, ChatRefusal, ChatTo};
use archipelago_shared::protocol::{ChatRequest, ToClient, ToServer};
use bevy::prelude::*;

use crate::ClientSystems;
use crate::connection::{FromServer, Request};

/// Lines kept; older ones scroll away.
const MAX_LINES: usize = 500;

/// What this client has heard.
#[derive(Resource, Debug, Default)]
pub struct ChatLog {
    /// Oldest first, with when they arrived (seconds since start).
    pub lines: Vec<(f64, ChatLine)>,
    /// The server's refusals of this client's lines, with when.
    pub refusals: Vec<(f64, ChatRefusal)>,
    /// Lines received since joining, including those scrolled away.
    pub received: u64,
}

/// Say something.
#[derive(Message, Debug, Clone)]
pub struct SendChat {
    pub to: ChatTo,
    pub text: String,
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<ChatLog>()
        .add_message::<SendChat>()
        .add_systems(
            Update,
            (
                receive.in_set(ClientSystems::Receive),
                send.after(ClientSystems::Control)
                    .before(ClientSystems::Present),
            ),
        );
}

fn receive(mut messages: MessageReader<FromServer>, mut log: ResMut<ChatLog>, time: Res<Time>) {
    let now = time.elapsed_secs_f64();
    for FromServer(message) in messages.read() {
        match message {
            ToClient::Chat(ChatNews::Line(line)) => {
                log.lines.push((now, line.clone()));
                log.received += 1;
            }
            ToClient::Chat(ChatNews::Refused(refusal)) => log.refusals.push((now, refusal.clone())),
            _ => continue,
        }
        let excess = log.lines.len().saturating_sub(MAX_LINES);
        log.lines.drain(..excess);
        let excess = log.refusals.len().saturating_sub(MAX_LINES);
        log.refusals.drain(..excess);
    }
}

fn send(mut lines: MessageReader<SendChat>, mut requests: MessageWriter<Request>) {
    for line in lines.read() {
        requests.write(Request(ToServer::Chat(ChatRequest {
            to: line.to.clone(),
            text: line.text.clone(),
        })));
    }
}
