//! Guided tours: which tour is playing, which stop, and where the camera is on its flight
//! between stops. Pure state and arithmetic, so it is tested without a window; the render
//! plugin drives the camera and draws the card from it.

use archipelago_shared::tours::{Tour, TourStop};
use archipelago_shared::world::World;
use bevy::math::curve::{Curve, EaseFunction, EasingCurve};
use bevy::prelude::*;

/// Seconds the camera takes to fly from one stop to the next.
pub const FLIGHT_SECONDS: f32 = 4.0;

/// The tours loaded from `assets/tours`, or why they could not be.
#[derive(Resource, Debug, Default, Clone)]
pub struct Tours {
    pub tours: Vec<Tour>,
    pub problem: Option<String>,
}

/// A camera placement: where it is and what it looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraShot {
    pub eye: Vec3,
    pub focus: Vec3,
}

impl CameraShot {
    fn of(stop: &TourStop, world: &World) -> Option<CameraShot> {
        Some(CameraShot {
            eye: stop.eye(world)?,
            focus: stop.focus(world)?,
        })
    }
}

/// A tour being played.
#[derive(Resource, Debug, Clone)]
pub struct TourPlayer {
    pub tour: Tour,
    pub stop: usize,
    /// Seconds spent at (or flying to) the current stop, paused time excluded.
    pub elapsed: f32,
    pub paused: bool,
    /// Where the camera was when the flight to the current stop began.
    from: Option<CameraShot>,
}

impl TourPlayer {
    /// Starts a tour with the camera at `from` (flying from there to the first stop);
    /// `None` for a tour without stops.
    pub fn start(tour: Tour, from: Option<CameraShot>) -> Option<Self> {
        (!tour.stops.is_empty()).then_some(Self {
            tour,
            stop: 0,
            elapsed: 0.0,
            paused: false,
            from,
        })
    }

    pub fn current(&self) -> &TourStop {
        &self.tour.stops[self.stop.min(self.tour.stops.len() - 1)]
    }

    pub fn is_last(&self) -> bool {
        self.stop + 1 >= self.tour.stops.len()
    }

    /// Whether the camera has arrived at the current stop.
    pub fn arrived(&self) -> bool {
        self.elapsed >= FLIGHT_SECONDS || self.from.is_none()
    }

    /// Share of the stop's time used, 0 to 1, for the card's progress bar.
    pub fn progress(&self) -> f32 {
        ((self.elapsed - FLIGHT_SECONDS).max(0.0) / self.current().seconds).clamp(0.0, 1.0)
    }

    /// Advances the clock. Moves on to the next stop when this one's time is up; returns
    /// `false` once the last stop's time is up (the tour is over).
    pub fn advance(&mut self, dt: f32, world: &World) -> bool {
        if self.paused {
            return true;
        }
        self.elapsed += dt;
        if self.elapsed >= FLIGHT_SECONDS + self.current().seconds {
            if self.is_last() {
                return false;
            }
            self.go_to(self.stop + 1, world);
        }
        true
    }

    /// Flies to stop `index` (clamped) from wherever the camera is now.
    pub fn go_to(&mut self, index: usize, world: &World) {
        self.from = Some(self.shot(world).unwrap_or(CameraShot {
            eye: Vec3::Y * 50.0,
            focus: Vec3::ZERO,
        }));
        self.stop = index.min(self.tour.stops.len() - 1);
        self.elapsed = 0.0;
    }

    pub fn next(&mut self, world: &World) {
        if !self.is_last() {
            self.go_to(self.stop + 1, world);
        }
    }

    pub fn previous(&mut self, world: &World) {
        self.go_to(self.stop.saturating_sub(1), world);
    }

    /// Where the camera is now: at the stop, or on the way there, rising over the sea on
    /// long flights so the islands pass below.
    pub fn shot(&self, world: &World) -> Option<CameraShot> {
        let to = CameraShot::of(self.current(), world)?;
        let Some(from) = self.from else {
            return Some(to);
        };
        let t = (self.elapsed / FLIGHT_SECONDS).clamp(0.0, 1.0);
        let eased = EasingCurve::new(0.0, 1.0, EaseFunction::SmootherStep).sample_clamped(t);
        let span = from.eye.distance(to.eye);
        let lift = (span * 0.25).min(220.0) * (std::f32::consts::PI * eased).sin();
        Some(CameraShot {
            eye: from.eye.lerp(to.eye, eased) + Vec3::Y * lift,
            focus: from.focus.lerp(to.focus, eased),
        })
    }
}
