//! How a body moves: the gait's phase, advanced by the distance walked so feet do not slide,
//! and the angles of each joint for a moment ([`BodyPose`]) from what the avatar is doing.
//! Plain functions over plain numbers, tested without an App.
//!
//! Conventions: the figure faces -Z; a positive pitch swings a limb forward (a leg's foot, an
//! arm's hand towards -Z and then up); a positive roll lifts an arm out to its side; a
//! positive knee bends the shin back, a positive elbow the forearm forward.

use std::f32::consts::{PI, TAU};

use archipelago_shared::avatars::Gesture;
use archipelago_shared::movement::{RUN_SPEED, WALK_SPEED};
use bevy::math::Vec2;

/// Metres covered by one whole gait cycle (two steps) at walking speed, and running.
const WALK_STRIDE: f32 = 1.5;
const RUN_STRIDE: f32 = 2.6;
/// Seconds of one breath when standing.
const BREATH: f32 = 4.0;

/// The gait cycle's stride at `speed`: longer strides as people go faster.
pub fn stride(speed: f32) -> f32 {
    let t = ((speed - WALK_SPEED) / (RUN_SPEED - WALK_SPEED)).clamp(0.0, 1.0);
    WALK_STRIDE + (RUN_STRIDE - WALK_STRIDE) * t
}

/// Advances the gait's phase (0 to 1, wrapping) by `dt` seconds at `speed` m/s: one cycle per
/// stride travelled, so the feet keep pace with the ground whatever the speed.
pub fn advance_phase(phase: f32, speed: f32, dt: f32) -> f32 {
    if speed <= 0.05 {
        return phase;
    }
    (phase + speed * dt / stride(speed)).rem_euclid(1.0)
}

/// What an avatar is doing this moment, as far as its body shows it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Activity {
    /// Horizontal speed, m/s.
    pub speed: f32,
    /// In the air (jumping or falling).
    pub airborne: bool,
    pub seated: bool,
    /// Its hand is up in a hall's queue.
    pub hand_raised: bool,
    /// It holds the floor and speaks.
    pub speaking: bool,
    /// A gesture under way, and how far through it (0 to 1).
    pub gesture: Option<(Gesture, f32)>,
}

/// The joints of a body for one moment. Index 0 is the left side, 1 the right.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BodyPose {
    /// Metres the hips are lifted (negative: lowered) from standing.
    pub bob: f32,
    /// Forward lean of the torso, radians.
    pub lean: f32,
    pub hips: [f32; 2],
    pub knees: [f32; 2],
    /// Each shoulder's (pitch, roll).
    pub shoulders: [Vec2; 2],
    pub elbows: [f32; 2],
    /// Head tilt forward, radians.
    pub nod: f32,
}

/// How much of the walk (0 to 1) and of the run (0 to 1) show at `speed`.
fn gait_weights(speed: f32) -> (f32, f32) {
    let walk = (speed / WALK_SPEED).clamp(0.0, 1.0);
    let run = ((speed - WALK_SPEED) / (RUN_SPEED - WALK_SPEED)).clamp(0.0, 1.0);
    (walk, run)
}

/// The body's pose at gait `phase`, `time` seconds into the avatar's life (for breathing and
/// speaking), doing `activity`.
pub fn pose(activity: &Activity, phase: f32, time: f32) -> BodyPose {
    let mut pose = BodyPose::default();
    let breath = (time * TAU / BREATH).sin();
    // Standing: a breath, arms hanging a little away from the body.
    pose.bob = 0.008 * breath;
    pose.shoulders = [Vec2::new(0.0, 0.08 + 0.01 * breath); 2];
    pose.elbows = [0.12; 2];

    if activity.seated {
        pose.bob = -(super::body::HIP_HEIGHT - 0.06);
        pose.hips = [PI / 2.0; 2];
        pose.knees = [PI / 2.0; 2];
        pose.shoulders = [Vec2::new(0.35, 0.06); 2];
        pose.elbows = [0.9; 2];
        pose.lean = -0.05;
    } else if activity.airborne {
        pose.hips = [0.7, 0.25];
        pose.knees = [1.1, 0.5];
        pose.shoulders = [Vec2::new(0.5, 0.5); 2];
        pose.elbows = [0.5; 2];
    } else {
        let (walk, run) = gait_weights(activity.speed);
        let swing = (phase * TAU).sin();
        let amplitude = walk * (0.45 + 0.25 * run);
        pose.hips = [amplitude * swing, -amplitude * swing];
        // Each knee bends while its leg swings through, most at mid-swing.
        let knee = |offset: f32| {
            let s = ((phase + offset) * TAU).cos();
            walk * (0.15 + (0.5 + 0.7 * run) * s.max(0.0))
        };
        pose.knees = [knee(0.0), knee(0.5)];
        // Arms swing against the legs; running bends the elbows.
        let arm = walk * (0.35 + 0.3 * run) * swing;
        pose.shoulders = [Vec2::new(-arm, 0.08), Vec2::new(arm, 0.08)];
        pose.elbows = [0.15 + 1.1 * run + 0.2 * walk; 2];
        pose.lean = 0.04 * walk + 0.16 * run;
        // Two steps to a cycle: the body rises over each.
        pose.bob += walk * (0.025 + 0.035 * run) * ((phase * 2.0 * TAU).cos() * 0.5 - 0.5);
    }

    if activity.speaking {
        // Someone holding the floor talks with their hands.
        pose.shoulders = [
            Vec2::new(0.55 + 0.2 * (time * 2.1).sin(), 0.15),
            Vec2::new(0.6 + 0.25 * (time * 1.7 + 1.0).sin(), 0.15),
        ];
        pose.elbows = [1.3 + 0.2 * (time * 2.6).sin(), 1.2 + 0.25 * (time * 2.3).cos()];
        pose.nod = 0.06 * (time * 1.9).sin();
    }
    if activity.hand_raised {
        pose.shoulders[1] = Vec2::new(PI - 0.1, 0.15);
        pose.elbows[1] = 0.1;
    }
    if let Some((gesture, t)) = activity.gesture {
        gesture_arms(&mut pose, gesture, t);
    }
    pose
}

/// Eases a gesture in and out over its first and last tenth.
fn envelope(t: f32) -> f32 {
    (t / 0.1).min((1.0 - t) / 0.1).clamp(0.0, 1.0)
}

fn blend(from: f32, to: f32, weight: f32) -> f32 {
    from + (to - from) * weight
}

fn gesture_arms(pose: &mut BodyPose, gesture: Gesture, t: f32) {
    let w = envelope(t);
    let beat = |hz: f32| (t * gesture.seconds() * hz * TAU).sin();
    let right = |pose: &mut BodyPose, pitch: f32, roll: f32, elbow: f32| {
        pose.shoulders[1] = Vec2::new(
            blend(pose.shoulders[1].x, pitch, w),
            blend(pose.shoulders[1].y, roll, w),
        );
        pose.elbows[1] = blend(pose.elbows[1], elbow, w);
    };
    let left = |pose: &mut BodyPose, pitch: f32, roll: f32, elbow: f32| {
        pose.shoulders[0] = Vec2::new(
            blend(pose.shoulders[0].x, pitch, w),
            blend(pose.shoulders[0].y, roll, w),
        );
        pose.elbows[0] = blend(pose.elbows[0], elbow, w);
    };
    match gesture {
        Gesture::Wave => right(pose, 2.7, 0.55 + 0.3 * beat(2.2), 0.5),
        Gesture::Clap => {
            // Hands meet in front of the chest, a little over twice a second.
            let open = 0.5 + 0.5 * beat(2.4);
            left(pose, 1.2, -0.35 + 0.4 * open, 1.0);
            right(pose, 1.2, -0.35 + 0.4 * open, 1.0);
        }
        Gesture::Cheer => {
            let pump = 0.2 * beat(2.0);
            left(pose, 2.8 + pump, 0.45, 0.2);
            right(pose, 2.8 + pump, 0.45, 0.2);
            pose.bob += w * 0.04 * beat(2.0).max(0.0);
        }
        Gesture::Point => right(pose, 1.55, 0.05, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phase_advances_one_cycle_per_stride_travelled() {
        for speed in [1.0, WALK_SPEED, (WALK_SPEED + RUN_SPEED) / 2.0, RUN_SPEED] {
            // Walk one stride in small steps: the phase comes back to where it started.
            let dt = 1.0 / 60.0;
            let steps = (stride(speed) / speed / dt).round() as usize;
            let mut phase = 0.25;
            let mut covered = 0.0;
            for _ in 0..steps {
                phase = advance_phase(phase, speed, dt);
                covered += speed * dt;
            }
            let expected = (0.25 + covered / stride(speed)).rem_euclid(1.0);
            assert!((phase - expected).abs() < 1e-3, "speed {speed}");
            assert!((covered - stride(speed)).abs() < speed * dt);
        }
    }

    #[test]
    fn faster_is_more_steps_a_second_and_standing_is_none() {
        let cycles = |speed: f32| advance_phase(0.0, speed, 0.1) / 0.1;
        assert_eq!(advance_phase(0.4, 0.0, 1.0), 0.4);
        assert!(cycles(RUN_SPEED) > cycles(WALK_SPEED));
        assert!(cycles(WALK_SPEED) > cycles(WALK_SPEED / 2.0));
        // Running takes longer strides too: fewer steps than the speed alone would give.
        assert!(stride(RUN_SPEED) > stride(WALK_SPEED));
    }

    #[test]
    fn legs_swing_with_speed_and_not_at_rest() {
        let at = |speed| {
            pose(
                &Activity {
                    speed,
                    ..Default::default()
                },
                0.25,
                0.0,
            )
        };
        assert_eq!(at(0.0).hips, [0.0, 0.0]);
        let walking = at(WALK_SPEED);
        let running = at(RUN_SPEED);
        assert!(walking.hips[0] > 0.3 && walking.hips[1] < -0.3, "{walking:?}");
        assert!(running.hips[0] > walking.hips[0]);
        assert!(running.lean > walking.lean);
        // Arms swing against the legs.
        assert!(walking.shoulders[0].x < 0.0 && walking.shoulders[1].x > 0.0);
    }

    #[test]
    fn a_raised_hand_and_a_wave_lift_the_right_arm_above_the_shoulder() {
        let raised = pose(
            &Activity {
                hand_raised: true,
                ..Default::default()
            },
            0.0,
            1.0,
        );
        assert!(raised.shoulders[1].x > PI / 2.0);
        assert!(raised.shoulders[0].x < 0.5);
        let waving = pose(
            &Activity {
                gesture: Some((Gesture::Wave, 0.5)),
                ..Default::default()
            },
            0.0,
            1.0,
        );
        assert!(waving.shoulders[1].x > PI / 2.0);
        // A gesture at its very start has not moved the arm yet.
        let starting = pose(
            &Activity {
                gesture: Some((Gesture::Wave, 0.0)),
                ..Default::default()
            },
            0.0,
            1.0,
        );
        assert!(starting.shoulders[1].x < 0.5);
    }

    #[test]
    fn sitting_folds_the_legs_and_lowers_the_hips() {
        let sitting = pose(
            &Activity {
                seated: true,
                ..Default::default()
            },
            0.0,
            0.0,
        );
        assert!((sitting.hips[0] - PI / 2.0).abs() < 1e-6);
        assert!((sitting.knees[1] - PI / 2.0).abs() < 1e-6);
        assert!(sitting.bob < -0.5);
    }
}
