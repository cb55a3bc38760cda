//! Guided tours: routes of stops in `assets/tours/*.ron`, each with a place, a camera view, a
//! title and a text, validated against the world like the world data itself.

use std::path::Path;

use bevy::math::{Vec2, Vec3};
use serde::{Deserialize, Serialize};

use crate::world::{Problem, World, WorldError, parse_ron, read_ron_dir};

/// Longest text on a stop's card, in characters.
pub const MAX_STOP_TEXT_CHARS: usize = 700;

/// One tour file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tour {
    /// Stable id (lowercase, `a-z0-9-`).
    pub id: String,
    pub title: String,
    /// One or two sentences shown in the list of tours.
    pub summary: String,
    pub stops: Vec<TourStop>,
}

/// A stop: where the camera looks from, and what the card says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TourStop {
    /// The protocity whose island the stop is on.
    pub protocity: String,
    /// What the camera looks at, island-local `x`, `z`, on the ground.
    pub look_at: Vec2,
    /// How high above the ground the camera's focus sits, in metres.
    #[serde(default = "eye_height")]
    pub focus_height: f32,
    /// Compass bearing from the focus to the camera, in degrees (0 = south of it, 90 = east).
    pub bearing: f32,
    /// Degrees above the horizon.
    pub elevation: f32,
    /// Metres from the focus.
    pub distance: f32,
    pub title: String,
    pub text: String,
    /// Seconds to stay before moving on.
    #[serde(default = "default_seconds")]
    pub seconds: f32,
}

fn eye_height() -> f32 {
    1.6
}

fn default_seconds() -> f32 {
    14.0
}

impl TourStop {
    /// The world-space point the camera looks at.
    pub fn focus(&self, world: &World) -> Option<Vec3> {
        let island = &world.protocity(&self.protocity)?.island;
        Some(island.to_world(self.look_at, self.focus_height))
    }

    /// The world-space camera position.
    pub fn eye(&self, world: &World) -> Option<Vec3> {
        let focus = self.focus(world)?;
        Some(focus + view_offset(self.bearing, self.elevation, self.distance))
    }
}

/// Offset from a focus to a camera at a bearing and elevation (degrees) and distance.
pub fn view_offset(bearing: f32, elevation: f32, distance: f32) -> Vec3 {
    let (yaw, pitch) = (bearing.to_radians(), elevation.to_radians());
    Vec3::new(
        yaw.sin() * pitch.cos(),
        pitch.sin(),
        yaw.cos() * pitch.cos(),
    ) * distance
}

/// Line of the `index`-th stop's first mention of `needle`, for errors.
fn stop_line(text: &str, index: usize, needle: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("TourStop("))
        .nth(index)
        .map_or(0, |(i, _)| i);
    lines[start..]
        .iter()
        .position(|l| l.contains(needle))
        .map_or(start + 1, |i| start + i + 1)
}

/// Parses and validates one tour's text against the world (the file name is used in errors).
pub fn parse_and_check(file: &Path, text: &str, world: &World) -> Result<Tour, WorldError> {
    let tour: Tour = parse_ron(file, text)?;
    let invalid = |line: usize, field: &str, problem: Problem| WorldError::Invalid {
        file: file.to_owned(),
        line,
        field: field.to_owned(),
        problem,
    };
    let range = |value: String, expected: &'static str| Problem::OutOfRange { value, expected };
    let valid_id = (1..=32).contains(&tour.id.len())
        && tour
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid_id {
        return Err(invalid(1, "id", Problem::BadId(tour.id.clone())));
    }
    if tour.title.trim().is_empty() {
        return Err(invalid(1, "title", range(String::new(), "a title")));
    }
    if tour.stops.is_empty() {
        return Err(invalid(
            1,
            "stops",
            range("no stops".into(), "at least one stop"),
        ));
    }
    let extent = world.nation.ocean_half_extent;
    for (index, stop) in tour.stops.iter().enumerate() {
        let line = |needle: &str| stop_line(text, index, needle);
        let Some(protocity) = world.protocity(&stop.protocity) else {
            return Err(invalid(
                line("protocity"),
                "stops.protocity",
                Problem::UnknownReference {
                    kind: "protocity",
                    id: stop.protocity.clone(),
                },
            ));
        };
        if stop.look_at.length() > protocity.island.radius {
            return Err(invalid(
                line("look_at"),
                "stops.look_at",
                Problem::OffIsland {
                    what: format!("stop {} (`{}`)", index + 1, stop.title),
                    radius: protocity.island.radius,
                },
            ));
        }
        if !(0.0..=60.0).contains(&stop.focus_height) {
            return Err(invalid(
                line("focus_height"),
                "stops.focus_height",
                range(stop.focus_height.to_string(), "0 to 60 metres"),
            ));
        }
        if !(5.0..=89.0).contains(&stop.elevation) {
            return Err(invalid(
                line("elevation"),
                "stops.elevation",
                range(stop.elevation.to_string(), "5 to 89 degrees"),
            ));
        }
        if !(4.0..=400.0).contains(&stop.distance) {
            return Err(invalid(
                line("distance"),
                "stops.distance",
                range(stop.distance.to_string(), "4 to 400 metres"),
            ));
        }
        if !(3.0..=120.0).contains(&stop.seconds) {
            return Err(invalid(
                line("seconds"),
                "stops.seconds",
                range(stop.seconds.to_string(), "3 to 120 seconds"),
            ));
        }
        if stop.title.trim().is_empty() || stop.text.chars().count() > MAX_STOP_TEXT_CHARS {
            return Err(invalid(
                line("title"),
                "stops.text",
                range(
                    format!("{} characters", stop.text.chars().count()),
                    "a title and at most 700 characters of text",
                ),
            ));
        }
        // The camera itself must be inside the world: over the ocean, above the water.
        let eye = stop.eye(world).unwrap_or_default();
        if eye.x.abs() > extent || eye.z.abs() > extent || eye.y < 1.0 {
            return Err(invalid(
                line("distance"),
                "stops.distance",
                range(
                    format!("a camera at {eye}"),
                    "a camera above the sea and inside the ocean",
                ),
            ));
        }
    }
    Ok(tour)
}

/// Loads and validates every `*.ron` file in `dir`, sorted by file name.
pub fn load_tours_dir(dir: impl AsRef<Path>, world: &World) -> Result<Vec<Tour>, WorldError> {
    let mut tours = Vec::new();
    for (file, text) in read_ron_dir(dir.as_ref())? {
        let tour = parse_and_check(&file, &text, world)?;
        if tours.iter().any(|t: &Tour| t.id == tour.id) {
            return Err(WorldError::Invalid {
                file,
                line: 1,
                field: "id".into(),
                problem: Problem::DuplicateId {
                    kind: "tour",
                    id: tour.id,
                },
            });
        }
        tours.push(tour);
    }
    Ok(tours)
}
