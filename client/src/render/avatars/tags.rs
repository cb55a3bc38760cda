//! Name tags over avatars. A tag behind a wall, a building or the stage is not drawn (a ray
//! from the camera to the head, [`in_sight`]); tags fade with distance; in a crowd only the
//! nearest [`FULL_TAGS`], one's own, the chair, the speaker and whoever is talking carry a
//! full tag, and the next few a small one with the name alone.

use archipelago_shared::movement::WorldColliders;
use archipelago_shared::protocol::AvatarProfile;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::super::assembly::{HallView, SPEAKING};
use super::super::{egui_color, role_color};
use crate::avatars::in_sight;
use crate::connection::Session;

/// Tags are drawn for avatars closer than this.
const RANGE: f32 = 60.0;
/// Tags are wholly opaque up to this distance, and fade out from there to [`RANGE`].
const OPAQUE_UP_TO: f32 = 25.0;
/// Full tags at most, nearest first, besides one's own, the stage's and those talking.
pub const FULL_TAGS: usize = 30;
/// Small tags (the name alone) after the full ones, at most.
const SMALL_TAGS: usize = 30;
/// Height of a tag over the feet of someone standing (and sitting: it follows the head).
const TAG_HEIGHT: f32 = 2.2;

/// How many tags were drawn in the last frame, and how many were hidden behind something:
/// what the screenshot reports.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct TagStats {
    pub drawn: usize,
    pub hidden: usize,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<TagStats>()
        .add_systems(EguiPrimaryContextPass, name_tags);
}

/// How a tag is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Full,
    Small,
}

fn name_tags(
    mut contexts: EguiContexts,
    camera: Single<(&Camera, &GlobalTransform), With<Camera3d>>,
    avatars: Query<(Entity, &AvatarProfile, &GlobalTransform, Option<&archipelago_shared::avatars::Look>)>,
    session: Res<Session>,
    hall: Res<HallView>,
    colliders: Res<WorldColliders>,
    heard: Option<Res<crate::voice::Heard>>,
    mut stats: ResMut<TagStats>,
    time: Res<Time>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let talking: Vec<Entity> = heard
        .map(|h| h.speaking(time.elapsed()).collect())
        .unwrap_or_default();
    let (camera, camera_transform) = *camera;
    let eye = camera_transform.translation();
    let painter = ctx.layer_painter(egui::LayerId::background());
    let hall_session = hall.session.as_ref();
    let on_stage = |profile: &AvatarProfile| {
        hall_session.is_some_and(|s| {
            s.is_chair(&profile.key)
                || s.floor
                    .as_ref()
                    .is_some_and(|f| f.speaker.key == profile.key)
        })
    };
    let mut tagged: Vec<(f32, Entity, &AvatarProfile, Vec3)> = avatars
        .iter()
        .map(|(entity, profile, transform, look)| {
            let sitting = look.is_some_and(|l| l.seated);
            let height = if sitting { TAG_HEIGHT - 0.5 } else { TAG_HEIGHT };
            let head = transform.translation() + Vec3::Y * height;
            (head.distance(eye), entity, profile, head)
        })
        .filter(|(distance, ..)| *distance <= RANGE)
        .collect();
    tagged.sort_by(|a, b| a.0.total_cmp(&b.0));
    let always = |entity: Entity, profile: &AvatarProfile| {
        Some(entity) == session.own_avatar || on_stage(profile) || talking.contains(&entity)
    };
    let mut plain = 0;
    let mut hidden = 0;
    let mut tags: Vec<(f32, Entity, &AvatarProfile, Vec3, Tag)> = Vec::new();
    for (distance, entity, profile, head) in tagged {
        let always = always(entity, profile);
        // Past the caps only those always tagged are looked at: the rays are the cost.
        if !always && plain >= FULL_TAGS + SMALL_TAGS {
            continue;
        }
        if !in_sight(&colliders, eye, head) {
            hidden += 1;
            continue;
        }
        let tag = if always {
            Tag::Full
        } else {
            plain += 1;
            if plain <= FULL_TAGS {
                Tag::Full
            } else {
                Tag::Small
            }
        };
        tags.push((distance, entity, profile, head, tag));
    }
    *stats = TagStats {
        drawn: tags.len(),
        hidden,
    };
    // The farthest first, so nearer tags are drawn over them.
    for (distance, entity, profile, head, tag) in tags.into_iter().rev() {
        let Ok(at) = camera.world_to_viewport(camera_transform, head) else {
            continue;
        };
        let own = Some(entity) == session.own_avatar;
        let fade = if own {
            1.0
        } else {
            1.0 - ((distance - OPAQUE_UP_TO) / (RANGE - OPAQUE_UP_TO)).clamp(0.0, 0.85)
        };
        let alpha = |a: u8| (f32::from(a) * fade) as u8;
        if tag == Tag::Small {
            let ink = egui::Color32::from_white_alpha(alpha(220));
            let galley =
                painter.layout_no_wrap(profile.name.clone(), egui::FontId::proportional(10.0), ink);
            let rect =
                egui::Rect::from_center_size(egui::pos2(at.x, at.y), galley.size()).expand(2.0);
            painter.rect_filled(rect, 3.0, egui::Color32::from_black_alpha(alpha(110)));
            painter.galley(rect.min + egui::vec2(2.0, 2.0), galley, ink);
            continue;
        }
        let speaking = hall_session
            .and_then(|s| s.floor.as_ref())
            .is_some_and(|f| f.speaker.key == profile.key);
        let mut text = format!("{} · {}", profile.name, profile.role);
        let heard = talking.contains(&entity);
        if let Some(s) = hall_session {
            if s.is_chair(&profile.key) {
                text.push_str(" · chair");
            }
            if speaking {
                text.push_str(if heard {
                    " · speaking live"
                } else {
                    " · speaking"
                });
            } else if let Some(position) = s.queue_position(&profile.key) {
                text.push_str(&format!(" · hand {position}"));
            }
        }
        if heard && !speaking {
            text.push_str(" · talking");
        }
        let size = if own || speaking { 14.0 } else { 13.0 };
        let ink = if speaking {
            egui::Color32::BLACK
        } else {
            egui::Color32::from_white_alpha(alpha(255))
        };
        let galley = painter.layout_no_wrap(text, egui::FontId::proportional(size), ink);
        let rect = egui::Rect::from_center_size(egui::pos2(at.x, at.y), galley.size()).expand(4.0);
        let fill = if speaking {
            SPEAKING
        } else {
            egui::Color32::from_black_alpha(alpha(150))
        };
        painter.rect_filled(rect, 4.0, fill);
        painter.rect_filled(
            egui::Rect::from_min_size(rect.left_top(), egui::vec2(4.0, rect.height())),
            2.0,
            egui_color(role_color(profile.role)).gamma_multiply(fade),
        );
        painter.galley(rect.min + egui::vec2(4.0, 4.0), galley, ink);
    }
    Ok(())
}
