//! Driving one's own avatar: whatever decides the movement (keyboard and mouse, or a bot's
//! brain) writes [`AvatarControl`]; each tick it becomes a numbered input, sent to the server
//! ([`AvatarInputs`]) and applied here at once by the same movement rule the server runs
//! (prediction). The server answers with its pose and the last input it applied
//! ([`OwnPose`]); where that differs from what was predicted for that input, the pose is taken
//! from the server and the inputs after it are applied again (reconciliation).

use std::collections::VecDeque;

use archipelago_shared::crowd::{
    AvatarInputs, CrowdChannel, CrowdId, MAX_INPUTS_PER_MESSAGE, OwnPose,
};
use archipelago_shared::movement::{WorldColliders, step};
use archipelago_shared::protocol::{AvatarInput, AvatarPose};
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ClientSystems;
use crate::connection::{ConnectionState, Session};
use crate::crowd::Crowd;

/// Inputs kept until the server answers them: four seconds at 30 Hz. Past that the server is
/// so far behind that its answer is taken as it is.
const HISTORY: usize = 120;
/// How far the server's pose may be from the predicted one and still count as the same.
const SAME_POSITION: f32 = 0.005;
const SAME_YAW: f32 = 0.01;
const SAME_VERTICAL_SPEED: f32 = 0.05;

/// What the local person (or bot) wants their avatar to do right now.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct AvatarControl {
    /// Desired horizontal direction in world space (`x`, `z`), length at most 1.
    pub direction: Vec2,
    /// Facing, radians around +Y.
    pub yaw: f32,
    pub run: bool,
    /// Set to jump; cleared once a tick has taken it.
    pub jump: bool,
}

/// The input this tick will send and apply: written from [`AvatarControl`] by
/// [`write_input`], then taken by [`predict`].
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct NextInput(pub AvatarInput);

/// An input sent, and the pose predicted after it.
#[derive(Debug, Clone, Copy)]
struct Sent {
    seq: u32,
    input: AvatarInput,
    after: AvatarPose,
}

/// Our own avatar's prediction.
#[derive(Resource, Debug, Default)]
pub struct Prediction {
    /// Our avatar's crowd id, as the server's answers tell it.
    own: Option<CrowdId>,
    /// The number of the last input sent (0: none yet).
    last: u32,
    sent: VecDeque<Sent>,
    /// The newest answer not applied yet.
    answer: Option<OwnPose>,
    /// The newest answer, applied or not: the pose a new own avatar entity starts from.
    latest: Option<OwnPose>,
    newest_tick: Option<u32>,
    /// Answers that differed from the prediction, so far.
    pub corrections: u64,
}

impl Prediction {
    /// Inputs sent since this login.
    pub fn inputs_sent(&self) -> u32 {
        self.last
    }
}

/// The phases of the own avatar's fixed tick.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlSystems {
    /// Take in the server's newest answer.
    Reconcile,
    /// Write [`NextInput`] from [`AvatarControl`].
    Input,
    /// Send the input and apply it.
    Predict,
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<AvatarControl>()
        .init_resource::<NextInput>()
        .init_resource::<Prediction>()
        .configure_sets(
            FixedUpdate,
            (
                ControlSystems::Reconcile,
                ControlSystems::Input,
                ControlSystems::Predict,
            )
                .chain(),
        )
        .add_systems(
            Update,
            (read_answers, adopt_own_avatar)
                .chain()
                .in_set(ClientSystems::Receive)
                .after(crate::crowd::read_roster),
        )
        .add_systems(
            FixedUpdate,
            (
                reconcile.in_set(ControlSystems::Reconcile),
                write_input.in_set(ControlSystems::Input),
                predict.in_set(ControlSystems::Predict),
            ),
        );
}

/// Keeps the newest of the server's answers about our avatar.
fn read_answers(
    mut links: Query<&mut MessageReceiver<OwnPose>, With<Client>>,
    mut prediction: ResMut<Prediction>,
    state: Res<ConnectionState>,
) {
    if state.is_changed() && *state != ConnectionState::InWorld {
        *prediction = Prediction::default();
    }
    for mut receiver in &mut links {
        for answer in receiver.receive() {
            if prediction
                .newest_tick
                .is_some_and(|tick| answer.tick.wrapping_sub(tick) as i32 <= 0)
            {
                continue;
            }
            prediction.newest_tick = Some(answer.tick);
            prediction.own = Some(answer.id);
            prediction.answer = Some(answer);
            prediction.latest = Some(answer);
        }
    }
}

/// Our avatar is the one the roster names with our id: it gets our pose (the server's newest,
/// whenever the entity has none: first made, or made again) and our input.
fn adopt_own_avatar(
    mut session: ResMut<Session>,
    crowd: Res<Crowd>,
    prediction: Res<Prediction>,
    poses: Query<(), With<AvatarPose>>,
    mut commands: Commands,
) {
    let own = prediction.own.and_then(|id| crowd.avatar(id));
    if session.own_avatar != own {
        session.own_avatar = own;
        if let Some(entity) = own {
            commands.entity(entity).insert(Name::new("Own avatar"));
        }
    }
    if let (Some(entity), Some(latest)) = (own, prediction.latest)
        && !poses.contains(entity)
    {
        commands.entity(entity).insert(latest.pose);
    }
}

/// Takes in the server's newest answer: the inputs it covers are done with, and if our
/// prediction for its input differs, its pose with our later inputs applied again becomes
/// ours.
fn reconcile(
    mut prediction: ResMut<Prediction>,
    session: Res<Session>,
    mut poses: Query<&mut AvatarPose>,
    colliders: Res<WorldColliders>,
    time: Res<Time<Fixed>>,
) {
    let Some(entity) = session.own_avatar else {
        return;
    };
    let Ok(mut pose) = poses.get_mut(entity) else {
        return;
    };
    let Some(answer) = prediction.answer.take() else {
        return;
    };
    let predicted = prediction
        .sent
        .iter()
        .find(|sent| sent.seq == answer.input)
        .map(|sent| sent.after);
    prediction.sent.retain(|sent| sent.seq > answer.input);
    if predicted.is_some_and(|p| same(&p, &answer.pose))
        || (predicted.is_none() && prediction.sent.is_empty() && *pose == answer.pose)
    {
        return;
    }
    prediction.corrections += 1;
    let dt = time.delta_secs();
    let mut replayed = answer.pose;
    for sent in prediction.sent.iter_mut() {
        step(&mut replayed, &sent.input, dt, &colliders);
        sent.after = replayed;
    }
    if *pose != replayed {
        *pose = replayed;
    }
}

fn same(a: &AvatarPose, b: &AvatarPose) -> bool {
    a.position.distance(b.position) <= SAME_POSITION
        && (a.yaw - b.yaw).abs() <= SAME_YAW
        && (a.vertical_speed - b.vertical_speed).abs() <= SAME_VERTICAL_SPEED
        && a.grounded == b.grounded
}

pub fn write_input(mut control: ResMut<AvatarControl>, mut next: ResMut<NextInput>) {
    next.0 = AvatarInput {
        direction: control.direction.clamp_length_max(1.0),
        yaw: control.yaw,
        run: control.run,
        jump: control.jump,
    };
    control.jump = false;
}

/// Sends this tick's input, with the few before it, and applies it to our avatar.
fn predict(
    next: Res<NextInput>,
    mut prediction: ResMut<Prediction>,
    session: Res<Session>,
    mut poses: Query<&mut AvatarPose>,
    mut links: Query<&mut MessageSender<AvatarInputs>, With<Client>>,
    colliders: Res<WorldColliders>,
    time: Res<Time<Fixed>>,
) {
    let Some(mut pose) = session.own_avatar.and_then(|e| poses.get_mut(e).ok()) else {
        return;
    };
    let Ok(mut sender) = links.single_mut() else {
        return;
    };
    let mut after = *pose;
    step(&mut after, &next.0, time.delta_secs(), &colliders);
    prediction.last += 1;
    let seq = prediction.last;
    prediction.sent.push_back(Sent {
        seq,
        input: next.0,
        after,
    });
    while prediction.sent.len() > HISTORY {
        prediction.sent.pop_front();
    }
    let newest = prediction.sent.len().saturating_sub(MAX_INPUTS_PER_MESSAGE);
    sender.send::<CrowdChannel>(AvatarInputs {
        last: seq,
        inputs: prediction.sent.range(newest..).map(|s| s.input).collect(),
    });
    if *pose != after {
        *pose = after;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poses_within_a_few_millimetres_are_the_same() {
        let a = AvatarPose {
            position: Vec3::new(1.0, 0.0, 2.0),
            yaw: 0.5,
            vertical_speed: 0.0,
            grounded: true,
        };
        let mut b = a;
        b.position.x += 0.002;
        assert!(same(&a, &b));
        b.position.x += 0.01;
        assert!(!same(&a, &b));
        let mut c = a;
        c.grounded = false;
        assert!(!same(&a, &c));
    }
}
