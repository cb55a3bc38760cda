//! The sky over the protocity nearest the camera at its real time of day: the sun placed by
//! the protocity's latitude and longitude and today's date, warm near the horizon, a blue
//! moonlight at night, and the sky, ambient light and fog blended between night, dawn or dusk,
//! and day. Crossing to another island eases the sky over a couple of seconds.
//!
//! [`SOLAR_HOUR_VAR`] forces the local solar hour, for screenshots and tests.

use std::time::{SystemTime, UNIX_EPOCH};

use archipelago_shared::world::{Protocity, World};
use bevy::color::Mix;
use bevy::light::{CascadeShadowConfigBuilder, GlobalAmbientLight};
use bevy::pbr::DistanceFog;
use bevy::prelude::*;

/// Environment variable that forces the local solar hour everywhere: a number from 0 to 24,
/// where 12 is the sun's highest (`ARCHIPELAGO_SOLAR_HOUR=15.5` is mid-afternoon). Unset, each
/// protocity shows its own time now (UTC plus its longitude over 15 hours). For screenshots
/// and tests that must not depend on when they run.
pub const SOLAR_HOUR_VAR: &str = "ARCHIPELAGO_SOLAR_HOUR";

/// Seconds for the sky to cover about two thirds of the way to a new island's.
const EASE_SECS: f64 = 0.6;
/// Below this solar elevation (degrees) the light is the moon, above it the sun. Its
/// illuminance falls to nothing at the switch, so the light's jump across the sky is unseen.
const MOON_SWITCH_DEG: f32 = -3.0;
/// Degrees either side of the switch over which the light fades back in.
const SWITCH_FADE_DEG: f32 = 3.0;

/// The sun (or, at night, the moon): the scene's one directional light.
#[derive(Component)]
struct Sun;

/// Where the local solar hour comes from.
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
struct SolarClock {
    /// From [`SOLAR_HOUR_VAR`]: the same hour at every longitude.
    forced_hour: Option<f64>,
}

impl SolarClock {
    fn from_env() -> Self {
        let forced_hour = std::env::var(SOLAR_HOUR_VAR).ok().and_then(|value| {
            match value.trim().parse::<f64>() {
                Ok(hour) if (0.0..=24.0).contains(&hour) => Some(hour),
                _ => {
                    warn!("{SOLAR_HOUR_VAR}={value:?} is not an hour from 0 to 24; ignored");
                    None
                }
            }
        });
        Self { forced_hour }
    }
}

/// The place whose sky is shown, easing towards the nearest protocity's.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SkyPlace {
    latitude: f64,
    longitude: f64,
}

pub(crate) fn plugin(app: &mut App) {
    let day = palette_at(90.0);
    app.insert_resource(SolarClock::from_env())
        .insert_resource(ClearColor(day.sky.into()))
        .insert_resource(GlobalAmbientLight {
            color: day.ambient.into(),
            brightness: day.ambient_brightness,
            ..default()
        })
        .add_systems(Startup, spawn_sun)
        .add_systems(Update, follow_sun);
}

fn spawn_sun(mut commands: Commands) {
    let day = palette_at(90.0);
    commands.spawn((
        Name::new("Sun"),
        Sun,
        DirectionalLight {
            color: day.light.into(),
            illuminance: day.light_illuminance,
            shadow_maps_enabled: true,
            ..default()
        },
        // Placed by `follow_sun` from the first frame.
        Transform::default().looking_to(Vec3::new(-0.45, -0.75, -0.35), Vec3::Y),
        CascadeShadowConfigBuilder {
            num_cascades: 2,
            maximum_distance: 120.0,
            first_cascade_far_bound: 40.0,
            ..default()
        }
        .build(),
    ));
}

/// The protocity whose island's shore is nearest a world position.
fn nearest_protocity(world: &World, position: Vec3) -> Option<&Protocity> {
    let here = Vec2::new(position.x, position.z);
    world.protocities.iter().min_by(|a, b| {
        let edge = |p: &Protocity| p.island.position.distance(here) - p.island.radius;
        edge(a).total_cmp(&edge(b))
    })
}

/// Moves the sun and recolours the sky for the protocity nearest the camera, now.
fn follow_sun(
    time: Res<Time>,
    world: Res<World>,
    clock: Res<SolarClock>,
    mut place: Local<Option<SkyPlace>>,
    mut camera: Query<(&GlobalTransform, Option<&mut DistanceFog>), With<Camera3d>>,
    mut sun: Query<(&mut DirectionalLight, &mut Transform), With<Sun>>,
    mut clear: ResMut<ClearColor>,
    mut ambient: ResMut<GlobalAmbientLight>,
) {
    let Ok((eye, fog)) = camera.single_mut() else {
        return;
    };
    let Some(protocity) = nearest_protocity(&world, eye.translation()) else {
        return;
    };
    let target = SkyPlace {
        latitude: protocity.latitude,
        longitude: protocity.longitude,
    };
    let current = match *place {
        Some(current) => ease_place(current, target, f64::from(time.delta_secs())),
        None => target,
    };
    *place = Some(current);

    let unix_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let (day_of_year, utc_hour) = utc_day_and_hour(unix_secs);
    let hour = clock
        .forced_hour
        .unwrap_or_else(|| local_solar_hour(utc_hour, current.longitude));
    let to_sun = sun_direction(current.latitude, day_of_year, hour);
    let elevation = to_sun.y.asin().to_degrees();
    let palette = palette_at(elevation);
    let fade = light_fade(elevation);

    clear.0 = palette.sky.into();
    ambient.color = palette.ambient.into();
    ambient.brightness = palette.ambient_brightness;
    if let Some(mut fog) = fog {
        fog.color = palette.fog.into();
        fog.directional_light_color = palette.glow.with_alpha(palette.glow.alpha * fade).into();
    }
    if let Ok((mut light, mut transform)) = sun.single_mut() {
        light.color = palette.light.into();
        light.illuminance = palette.light_illuminance * fade;
        transform.look_to(-light_direction(to_sun), Vec3::Y);
    }
}

/// Moves `current` a step towards `target`, the longitude the short way round the globe.
fn ease_place(current: SkyPlace, target: SkyPlace, dt: f64) -> SkyPlace {
    let k = 1.0 - (-dt / EASE_SECS).exp();
    let turn = (target.longitude - current.longitude + 180.0).rem_euclid(360.0) - 180.0;
    SkyPlace {
        latitude: current.latitude + (target.latitude - current.latitude) * k,
        longitude: (current.longitude + turn * k + 180.0).rem_euclid(360.0) - 180.0,
    }
}

/// Day of the year (0 on the 1st of January, fractional) and the UTC hour (0..24) at a time
/// in seconds since the Unix epoch. The day ignores leap years' exact calendar (it may be a
/// day off), which moves the sun by less than half a degree.
fn utc_day_and_hour(unix_secs: f64) -> (f64, f64) {
    let days = unix_secs / 86_400.0;
    let utc_hour = days.rem_euclid(1.0) * 24.0;
    (days.rem_euclid(365.2425), utc_hour)
}

/// The local mean solar hour (0..24, 12 at the sun's highest) at a longitude in degrees east.
fn local_solar_hour(utc_hour: f64, longitude: f64) -> f64 {
    (utc_hour + longitude / 15.0).rem_euclid(24.0)
}

/// Unit vector towards the sun in world axes (east +X, north -Z, up +Y), from the latitude in
/// degrees, the day of the year and the local solar hour.
fn sun_direction(latitude: f64, day_of_year: f64, solar_hour: f64) -> Vec3 {
    let declination =
        (-23.44f64).to_radians() * (std::f64::consts::TAU / 365.0 * (day_of_year + 10.0)).cos();
    let hour_angle = (15.0 * (solar_hour - 12.0)).to_radians();
    let latitude = latitude.to_radians();
    let east = -declination.cos() * hour_angle.sin();
    let north =
        declination.sin() * latitude.cos() - declination.cos() * hour_angle.cos() * latitude.sin();
    let up =
        declination.sin() * latitude.sin() + declination.cos() * hour_angle.cos() * latitude.cos();
    Vec3::new(east as f32, up as f32, -north as f32).normalize_or(Vec3::Y)
}

/// Where the light comes from: the sun by day (held just above the horizon as it sets, so it
/// still grazes the ground), the moon opposite it by night, never lower than 25 degrees.
fn light_direction(to_sun: Vec3) -> Vec3 {
    let elevation = to_sun.y.asin();
    let flat = Vec2::new(to_sun.x, to_sun.z).normalize_or(Vec2::Y);
    let (flat, elevation) = if elevation.to_degrees() >= MOON_SWITCH_DEG {
        (flat, elevation.max(2f32.to_radians()))
    } else {
        (
            -flat,
            (-elevation).clamp(25f32.to_radians(), 65f32.to_radians()),
        )
    };
    Vec3::new(
        flat.x * elevation.cos(),
        elevation.sin(),
        flat.y * elevation.cos(),
    )
}

/// How much of the light shines (0..1): none where sun hands over to moon.
fn light_fade(elevation: f32) -> f32 {
    ((elevation - MOON_SWITCH_DEG).abs() / SWITCH_FADE_DEG).min(1.0)
}

/// The colours of one moment of the day, in linear RGB so they blend evenly.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SkyPalette {
    sky: LinearRgba,
    fog: LinearRgba,
    /// The fog's glow towards the light; its alpha is its strength.
    glow: LinearRgba,
    ambient: LinearRgba,
    ambient_brightness: f32,
    light: LinearRgba,
    light_illuminance: f32,
}

impl SkyPalette {
    fn mix(&self, other: &Self, t: f32) -> Self {
        Self {
            sky: self.sky.mix(&other.sky, t),
            fog: self.fog.mix(&other.fog, t),
            glow: self.glow.mix(&other.glow, t),
            ambient: self.ambient.mix(&other.ambient, t),
            ambient_brightness: self.ambient_brightness.lerp(other.ambient_brightness, t),
            light: self.light.mix(&other.light, t),
            light_illuminance: self.light_illuminance.lerp(other.light_illuminance, t),
        }
    }
}

fn srgb(r: f32, g: f32, b: f32) -> LinearRgba {
    Srgba::rgb(r, g, b).into()
}

fn srgba(r: f32, g: f32, b: f32, a: f32) -> LinearRgba {
    Srgba::new(r, g, b, a).into()
}

/// Full night: a dark blue sky, and moonlight bright enough to see people by.
fn night() -> SkyPalette {
    SkyPalette {
        sky: srgb(0.035, 0.06, 0.14),
        fog: srgb(0.045, 0.075, 0.16),
        glow: srgba(0.6, 0.7, 1.0, 0.0),
        ambient: srgb(0.5, 0.6, 1.0),
        ambient_brightness: 300.0,
        light: srgb(0.6, 0.7, 1.0),
        light_illuminance: 1800.0,
    }
}

/// The blue hour, the sun a few degrees below the horizon.
fn blue_hour() -> SkyPalette {
    SkyPalette {
        sky: srgb(0.2, 0.24, 0.45),
        fog: srgb(0.25, 0.27, 0.45),
        glow: srgba(0.6, 0.7, 1.0, 0.0),
        ambient: srgb(0.6, 0.62, 0.95),
        ambient_brightness: 380.0,
        light: srgb(0.62, 0.68, 1.0),
        light_illuminance: 1000.0,
    }
}

/// Sunrise or sunset, the sun on the horizon.
fn horizon() -> SkyPalette {
    SkyPalette {
        sky: srgb(0.78, 0.6, 0.58),
        fog: srgb(0.82, 0.6, 0.5),
        glow: srgba(1.0, 0.55, 0.3, 0.15),
        ambient: srgb(0.95, 0.78, 0.7),
        ambient_brightness: 520.0,
        light: srgb(1.0, 0.58, 0.32),
        light_illuminance: 4000.0,
    }
}

/// The golden hour, the sun low.
fn golden() -> SkyPalette {
    SkyPalette {
        sky: srgb(0.64, 0.72, 0.86),
        fog: srgb(0.74, 0.74, 0.8),
        glow: srgba(1.0, 0.8, 0.55, 0.05),
        ambient: srgb(0.85, 0.85, 0.95),
        ambient_brightness: 640.0,
        light: srgb(1.0, 0.84, 0.62),
        light_illuminance: 8000.0,
    }
}

/// Day: the colours the archipelago was first drawn with.
fn day() -> SkyPalette {
    SkyPalette {
        sky: srgb(0.56, 0.76, 0.93),
        fog: srgb(0.62, 0.78, 0.92),
        glow: srgba(1.0, 1.0, 1.0, 0.0),
        ambient: srgb(0.75, 0.85, 1.0),
        ambient_brightness: 700.0,
        light: srgb(1.0, 1.0, 1.0),
        light_illuminance: 11_000.0,
    }
}

/// The palette at a solar elevation in degrees, blended between the nearest moments of the day.
fn palette_at(elevation: f32) -> SkyPalette {
    let keys: [(f32, fn() -> SkyPalette); 5] = [
        (-14.0, night),
        (-6.0, blue_hour),
        (0.0, horizon),
        (6.0, golden),
        (18.0, day),
    ];
    let (first, last) = (keys[0], keys[keys.len() - 1]);
    if elevation <= first.0 {
        return first.1();
    }
    for pair in keys.windows(2) {
        let ((low, a), (high, b)) = (pair[0], pair[1]);
        // At a key itself the blend's weight is 0, so the key's palette comes out exactly.
        if elevation < high {
            return a().mix(&b(), (elevation - low) / (high - low));
        }
    }
    last.1()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Solar elevation in degrees above the horizon.
    fn solar_elevation(latitude: f64, day_of_year: f64, solar_hour: f64) -> f32 {
        sun_direction(latitude, day_of_year, solar_hour)
            .y
            .asin()
            .to_degrees()
    }

    /// Lisbon's latitude, where the capital is.
    const LISBON: f64 = 38.7;
    /// About the 21st of June and the 21st of December.
    const JUNE_SOLSTICE: f64 = 171.0;
    const DECEMBER_SOLSTICE: f64 = 354.0;

    #[test]
    fn sun_is_high_at_noon_and_below_at_midnight() {
        let noon = solar_elevation(LISBON, JUNE_SOLSTICE, 12.0);
        let midnight = solar_elevation(LISBON, JUNE_SOLSTICE, 0.0);
        // 90 - latitude + declination at noon; -(90 - latitude - declination) at midnight.
        assert!(
            (noon - 74.7).abs() < 0.5,
            "June noon in Lisbon at 74.7°: {noon}"
        );
        assert!(
            (midnight + 27.9).abs() < 0.5,
            "June midnight in Lisbon at -27.9°: {midnight}"
        );
        let winter_noon = solar_elevation(LISBON, DECEMBER_SOLSTICE, 12.0);
        assert!(
            (winter_noon - 27.9).abs() < 0.5,
            "December noon in Lisbon at 27.9°: {winter_noon}"
        );
    }

    #[test]
    fn sun_rises_in_the_east_and_stands_south_at_noon_in_the_north() {
        let morning = sun_direction(LISBON, 80.0, 7.0);
        assert!(morning.x > 0.5, "the morning sun is east (+X): {morning}");
        let noon = sun_direction(LISBON, 80.0, 12.0);
        assert!(noon.z > 0.5, "the noon sun is south (+Z) of Lisbon: {noon}");
        let southern = sun_direction(-34.9, 80.0, 12.0);
        assert!(
            southern.z < -0.5,
            "and north (-Z) of Montevideo: {southern}"
        );
    }

    #[test]
    fn solar_hour_is_utc_plus_longitude_over_fifteen() {
        assert_eq!(local_solar_hour(12.0, 0.0), 12.0, "Greenwich keeps UTC");
        assert_eq!(
            local_solar_hour(12.0, 90.0),
            18.0,
            "90° east is six hours ahead"
        );
        assert_eq!(
            local_solar_hour(3.0, -90.0),
            21.0,
            "and wraps back over midnight"
        );
        assert_eq!(
            local_solar_hour(23.0, 30.0),
            1.0,
            "or forward into the next day"
        );
    }

    #[test]
    fn utc_day_and_hour_come_from_unix_seconds() {
        // 2024-03-01T06:00:00Z: day 60 of a leap year, 06:00.
        let (day, hour) = utc_day_and_hour(1_709_272_800.0);
        assert!((hour - 6.0).abs() < 1e-9, "six in the morning: {hour}");
        assert!((day - 60.25).abs() < 1.5, "the 1st of March: {day}");
    }

    #[test]
    fn palette_ends_are_night_and_the_original_day() {
        assert_eq!(
            palette_at(-90.0),
            night(),
            "deep night is the night palette"
        );
        assert_eq!(palette_at(-14.0), night(), "night starts at -14°");
        assert_eq!(
            palette_at(90.0),
            day(),
            "the sun overhead is the day palette"
        );
        assert_eq!(palette_at(18.0), day(), "day starts at 18°");
        let sky = Srgba::from(palette_at(45.0).sky);
        let original = Srgba::rgb(0.56, 0.76, 0.93);
        assert!(
            (sky.red - original.red).abs() < 1e-4 && (sky.blue - original.blue).abs() < 1e-4,
            "the day sky is the colour it always was: {sky:?}"
        );
        assert_eq!(palette_at(45.0).ambient_brightness, 700.0);
        assert_eq!(palette_at(45.0).light_illuminance, 11_000.0);
    }

    #[test]
    fn palette_blends_evenly_between_moments() {
        assert_eq!(palette_at(0.0), horizon(), "the sun on the horizon");
        let halfway = palette_at(3.0);
        let expected = horizon().mix(&golden(), 0.5);
        assert_eq!(halfway, expected, "halfway from horizon to golden hour");
        assert!(
            halfway.light_illuminance > horizon().light_illuminance
                && halfway.light_illuminance < golden().light_illuminance,
            "the light grows as the sun climbs"
        );
    }

    #[test]
    fn light_fades_out_where_sun_hands_over_to_moon() {
        assert_eq!(light_fade(MOON_SWITCH_DEG), 0.0, "nothing at the switch");
        assert_eq!(light_fade(30.0), 1.0, "full by day");
        assert_eq!(light_fade(-30.0), 1.0, "full moonlight by night");
        let night_light = light_direction(sun_direction(LISBON, 80.0, 0.0));
        assert!(
            night_light.y > 0.4,
            "the moon is up at midnight: {night_light}"
        );
    }

    #[test]
    fn easing_goes_the_short_way_round_the_date_line() {
        let from = SkyPlace {
            latitude: -41.0,
            longitude: 175.0,
        };
        let to = SkyPlace {
            latitude: 16.0,
            longitude: -170.0,
        };
        let step = ease_place(from, to, 0.1);
        assert!(
            step.longitude > 175.0 || step.longitude < -170.0,
            "crosses 180°, not back over Africa: {step:?}"
        );
        let settled = (0..200).fold(from, |p, _| ease_place(p, to, 0.05));
        assert!(
            (settled.latitude - to.latitude).abs() < 1e-3
                && (settled.longitude - to.longitude).abs() < 1e-3,
            "arrives within seconds: {settled:?}"
        );
    }
}
