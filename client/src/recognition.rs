//! The client's copy of the nation's standing ([`StandingBook`]), replaced whole whenever the
//! server sends it, and the capital's embassy row laid out from it ([`EmbassyRow`]): one
//! place per recognizer along the avenue that leaves the capital's plaza. [`SendRecognition`]
//! records a change (founders).

use archipelago_shared::protocol::{ToClient, ToServer};
use archipelago_shared::recognition::{
    RecognitionNews, RecognitionRefusal, RecognitionRequest, RecognizerKind, Relation, Standing,
};
use archipelago_shared::world::World;
use bevy::prelude::*;

use crate::ClientSystems;
use crate::connection::{FromServer, Request, push_capped};

/// Answers kept for the UI.
const MAX_ANSWERS: usize = 16;
/// Metres between two places in the embassy row.
const ROW_SPACING: f32 = 5.0;
/// Places on one side of the avenue before the row continues on the other.
const ROW_LENGTH: usize = 8;
/// Metres from the avenue's middle to the row of plaques.
const ROW_HALF_WIDTH: f32 = 6.0;

/// What this client knows of the nation's standing.
#[derive(Resource, Debug, Default)]
pub struct StandingBook {
    /// None until the server has sent it.
    pub standing: Option<Standing>,
    /// The server's answers to this client's requests, oldest first, with when they came.
    pub answers: Vec<(f64, Result<String, RecognitionRefusal>)>,
    /// How many answers have come in all (the list above keeps the last few).
    pub answered: usize,
}

/// A recognizer's place in the embassy row.
#[derive(Debug, Clone, PartialEq)]
pub struct Plaque {
    pub recognizer: String,
    pub kind: RecognizerKind,
    pub relation: Relation,
    /// Unix seconds of the present relation.
    pub since: i64,
    /// World position of the plaque's foot.
    pub position: Vec3,
    /// Rotation about Y that turns the plaque's face (+Z) towards the avenue.
    pub yaw: f32,
}

/// The capital's embassy row as it should stand now.
#[derive(Resource, Debug, Default, PartialEq)]
pub struct EmbassyRow {
    pub plaques: Vec<Plaque>,
}

/// Record a stage, a relation or a census (founders).
#[derive(Message, Debug, Clone)]
pub struct SendRecognition(pub RecognitionRequest);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<StandingBook>()
        .init_resource::<EmbassyRow>()
        .add_message::<SendRecognition>()
        .add_systems(
            Update,
            (
                (receive, lay_out_row)
                    .chain()
                    .in_set(ClientSystems::Receive),
                send.after(ClientSystems::Control)
                    .before(ClientSystems::Present),
            ),
        );
}

fn receive(
    mut messages: MessageReader<FromServer>,
    mut book: ResMut<StandingBook>,
    time: Res<Time>,
) {
    for FromServer(message) in messages.read() {
        match message {
            ToClient::Recognition(RecognitionNews::Standing(standing)) => {
                book.standing = Some(standing.clone())
            }
            ToClient::Recognition(RecognitionNews::Answer { outcome }) => {
                book.answered += 1;
                push_capped(
                    &mut book.answers,
                    (time.elapsed_secs_f64(), outcome.clone()),
                    MAX_ANSWERS,
                );
            }
            _ => {}
        }
    }
}

/// Places every recognizer along the avenue leading from the capital's plaza away from its
/// town hall: one row down its left side facing across, strongest relation nearest the plaza,
/// continuing down the right side when the left is full.
pub fn embassy_row(standing: &Standing, world: &World) -> Vec<Plaque> {
    let capital = world.capital();
    let island = &capital.island;
    let Some(plaza) = &island.plaza else {
        return Vec::new();
    };
    let away = (plaza.center - island.town_hall.center).normalize_or(Vec2::Y);
    let side = Vec2::new(-away.y, away.x);
    let start = plaza.center + away * (plaza.radius + 5.0);
    standing
        .recognizers()
        .into_iter()
        .enumerate()
        .map(|(i, change)| {
            let (row, place) = (i / ROW_LENGTH, i % ROW_LENGTH);
            let sign = if row % 2 == 0 { 1.0 } else { -1.0 };
            let local = start
                + away * ROW_SPACING * place as f32
                + side * sign * ROW_HALF_WIDTH * (1 + row / 2) as f32;
            // Face across the avenue: +Z of the plaque points towards its middle.
            let facing = -side * sign;
            Plaque {
                recognizer: change.recognizer.clone(),
                kind: change.kind,
                relation: change.relation,
                since: change.at,
                position: island.to_world(local, 0.0),
                yaw: facing.x.atan2(facing.y),
            }
        })
        .collect()
}

fn lay_out_row(book: Res<StandingBook>, world: Res<World>, mut row: ResMut<EmbassyRow>) {
    if !book.is_changed() {
        return;
    }
    let Some(standing) = &book.standing else {
        return;
    };
    let plaques = embassy_row(standing, &world);
    if row.plaques != plaques {
        row.plaques = plaques;
    }
}

fn send(mut requests: MessageReader<SendRecognition>, mut out: MessageWriter<Request>) {
    for SendRecognition(request) in requests.read() {
        out.write(Request(ToServer::Recognition(request.clone())));
    }
}
