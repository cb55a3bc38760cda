//! The client's chat: lines heard since joining, and the server's refusals. [`SendChat`]
//! sends a line; the server decides who hears it and echoes it back to the sender.

use archipelago_shared::chat::{ChatLine, ChatNews, ChatRefusal, ChatTo};
use archipelago_shared::protocol::{ChatRequest, ToClient, ToServer};
use bevy::prelude::*;

use crate::ClientSystems;
use crate::connection::{FromServer, Request, push_capped};

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
                push_capped(&mut log.lines, (now, line.clone()), MAX_LINES);
                log.received += 1;
            }
            ToClient::Chat(ChatNews::Refused(refusal)) => {
                push_capped(&mut log.refusals, (now, refusal.clone()), MAX_LINES);
            }
            _ => {}
        }
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
