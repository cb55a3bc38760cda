//! Guided tours on screen: the list of tours (T), a welcome that offers visitors the tour,
//! the camera flying from stop to stop, and the card at each stop (previous, pause, next,
//! stay here, leave). While a tour plays the avatar stands still and the keys steer the tour.

use archipelago_shared::protocol::{Role, ToServer};
use archipelago_shared::world::World;
use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use crate::connection::{ConnectionState, Request, Session};
use crate::tours::{CameraShot, TourPlayer, Tours};

/// Whether the list of tours is open.
#[derive(Resource, Debug, Default)]
struct TourList {
    open: bool,
    /// The visitor's welcome was answered (or never applied).
    welcomed: bool,
}

/// Ask to start the tour at this index of [`Tours`].
#[derive(Message, Debug, Clone, Copy)]
pub struct StartTour(pub usize);

/// Start the tour with this id as soon as we are in the world (`--tour`).
#[derive(Resource, Debug, Clone)]
pub struct TourOnArrival(pub String);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<TourList>()
        .init_resource::<Tours>()
        .add_message::<StartTour>()
        .add_systems(
            Update,
            (
                keys.run_if(not(egui_wants_any_keyboard_input)),
                start_on_arrival.run_if(resource_exists::<TourOnArrival>),
                start,
                play,
            )
                .chain(),
        )
        .add_systems(
            PostUpdate,
            aim_camera
                .run_if(resource_exists::<TourPlayer>)
                .after(super::camera::CameraPlacement)
                .before(TransformSystems::Propagate),
        )
        .add_systems(EguiPrimaryContextPass, (welcome, list, card).chain());
}

fn keys(
    keys: Res<ButtonInput<KeyCode>>,
    mut list: ResMut<TourList>,
    player: Option<ResMut<TourPlayer>>,
    world: Res<World>,
    mut commands: Commands,
) {
    if keys.just_pressed(KeyCode::KeyT) {
        list.open = !list.open;
    }
    let Some(mut player) = player else {
        return;
    };
    if keys.just_pressed(KeyCode::Escape) {
        commands.remove_resource::<TourPlayer>();
    } else if keys.just_pressed(KeyCode::Space) {
        player.paused = !player.paused;
    } else if keys.just_pressed(KeyCode::ArrowRight) {
        player.next(&world);
    } else if keys.just_pressed(KeyCode::ArrowLeft) {
        player.previous(&world);
    }
}

fn start_on_arrival(
    wanted: Res<TourOnArrival>,
    tours: Res<Tours>,
    state: Res<ConnectionState>,
    mut starts: MessageWriter<StartTour>,
    mut commands: Commands,
) {
    if *state != ConnectionState::InWorld {
        return;
    }
    match tours.tours.iter().position(|t| t.id == wanted.0) {
        Some(index) => {
            starts.write(StartTour(index));
        }
        None => warn!("--tour: there is no tour `{}`", wanted.0),
    }
    commands.remove_resource::<TourOnArrival>();
}

fn start(
    mut starts: MessageReader<StartTour>,
    tours: Res<Tours>,
    camera: Single<&Transform, With<Camera3d>>,
    mut list: ResMut<TourList>,
    mut commands: Commands,
) {
    let Some(StartTour(index)) = starts.read().last() else {
        return;
    };
    let Some(tour) = tours.tours.get(*index) else {
        return;
    };
    let from = CameraShot {
        eye: camera.translation,
        focus: camera.translation + camera.forward() * 20.0,
    };
    if let Some(player) = TourPlayer::start(tour.clone(), Some(from)) {
        info!("starting the tour `{}`", tour.id);
        commands.insert_resource(player);
        list.open = false;
        list.welcomed = true;
    }
}

fn play(
    player: Option<ResMut<TourPlayer>>,
    world: Res<World>,
    time: Res<Time>,
    mut session: ResMut<Session>,
    mut commands: Commands,
) {
    let Some(mut player) = player else {
        return;
    };
    if !player.advance(time.delta_secs(), &world) {
        session.notices.push((
            time.elapsed_secs_f64(),
            format!(
                "The tour \"{}\" is over. Press T for another.",
                player.tour.title
            ),
        ));
        commands.remove_resource::<TourPlayer>();
    }
}

fn aim_camera(
    player: Res<TourPlayer>,
    world: Res<World>,
    mut camera: Single<&mut Transform, With<Camera3d>>,
) {
    if let Some(shot) = player.shot(&world) {
        **camera = Transform::from_translation(shot.eye).looking_at(shot.focus, Vec3::Y);
    }
}

/// Visitors are offered the tour once when they arrive.
fn welcome(
    mut contexts: EguiContexts,
    mut list: ResMut<TourList>,
    session: Res<Session>,
    state: Res<ConnectionState>,
    tours: Res<Tours>,
    player: Option<Res<TourPlayer>>,
    mut starts: MessageWriter<StartTour>,
) -> Result {
    let visitor = session.role == Some(Role::Visitor) && *state == ConnectionState::InWorld;
    if list.welcomed || !visitor || player.is_some() || tours.tours.is_empty() {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    egui::Area::new(egui::Id::new("tour_welcome"))
        .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -48.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.label(format!("Welcome to {}, {}!", session.nation, session.name));
                    if ui.button("Take the guided tour").clicked() {
                        starts.write(StartTour(0));
                    }
                    if ui.button("All tours (T)").clicked() {
                        list.open = true;
                        list.welcomed = true;
                    }
                    if ui.button("Not now").clicked() {
                        list.welcomed = true;
                    }
                });
            });
        });
    Ok(())
}

fn list(
    mut contexts: EguiContexts,
    mut list: ResMut<TourList>,
    tours: Res<Tours>,
    world: Res<World>,
    mut starts: MessageWriter<StartTour>,
) -> Result {
    if !list.open {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let mut open = true;
    egui::Window::new("Guided tours (T)")
        .open(&mut open)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .default_width(420.0)
        .collapsible(false)
        .show(ctx, |ui| {
            if let Some(problem) = &tours.problem {
                ui.colored_label(
                    egui::Color32::from_rgb(240, 110, 100),
                    format!("The tours could not be loaded: {problem}"),
                );
            }
            for (index, tour) in tours.tours.iter().enumerate() {
                ui.group(|ui| {
                    ui.set_width(400.0);
                    ui.strong(&tour.title);
                    ui.label(&tour.summary);
                    let places: Vec<&str> = {
                        let mut ids: Vec<&str> =
                            tour.stops.iter().map(|s| s.protocity.as_str()).collect();
                        ids.dedup();
                        ids.iter()
                            .filter_map(|id| world.protocity(id).map(|p| p.name.as_str()))
                            .collect()
                    };
                    ui.small(format!(
                        "{} stops · {}",
                        tour.stops.len(),
                        places.join(" → ")
                    ));
                    if ui.button("Start").clicked() {
                        starts.write(StartTour(index));
                    }
                });
            }
            ui.small(
                "During a tour: Space pauses, the left and right arrow keys move between stops, \
                 Esc leaves.",
            );
        });
    list.open = open;
    Ok(())
}

fn card(
    mut contexts: EguiContexts,
    player: Option<ResMut<TourPlayer>>,
    world: Res<World>,
    mut requests: MessageWriter<Request>,
    mut commands: Commands,
) -> Result {
    let Some(mut player) = player else {
        return Ok(());
    };
    let ctx = contexts.ctx_mut()?;
    let stop = player.current().clone();
    let place = world
        .protocity(&stop.protocity)
        .map_or_else(String::new, |p| {
            format!("{} · {}, {}", p.name, p.city, p.jurisdiction)
        });
    let mut leave = false;
    egui::Window::new(format!(
        "{}: stop {} of {}",
        player.tour.title,
        player.stop + 1,
        player.tour.stops.len()
    ))
    .id(egui::Id::new("tour_card"))
    .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -40.0))
    .collapsible(false)
    .resizable(false)
    .show(ctx, |ui| {
        ui.set_width(520.0);
        ui.heading(&stop.title);
        ui.small(place);
        ui.add_space(4.0);
        ui.label(&stop.text);
        ui.add_space(6.0);
        let bar = if player.arrived() {
            egui::ProgressBar::new(player.progress())
        } else {
            egui::ProgressBar::new(0.0).text("flying there…")
        };
        ui.add(bar.desired_height(6.0));
        ui.horizontal(|ui| {
            if ui
                .add_enabled(player.stop > 0, egui::Button::new("Previous"))
                .clicked()
            {
                player.previous(&world);
            }
            let pause = if player.paused { "Resume" } else { "Pause" };
            if ui.button(pause).clicked() {
                player.paused = !player.paused;
            }
            if ui
                .add_enabled(!player.is_last(), egui::Button::new("Next"))
                .clicked()
            {
                player.next(&world);
            }
            ui.separator();
            if ui
                .button("Stay here")
                .on_hover_text("Leave the tour and walk from this protocity")
                .clicked()
            {
                requests.write(Request(ToServer::Teleport {
                    protocity: stop.protocity.clone(),
                }));
                leave = true;
            }
            if ui.button("Leave tour").clicked() {
                leave = true;
            }
        });
    });
    if leave {
        commands.remove_resource::<TourPlayer>();
    }
    Ok(())
}
