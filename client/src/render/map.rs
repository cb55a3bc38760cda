//! The atlas (M): the ocean with every island, each island from above with its parcels
//! coloured by status, the protocities' real places on a small world map, people online, a
//! parcel search, and teleports (checked by the server).

use archipelago_shared::parcels::{ParcelFilter, StatusKind};
use archipelago_shared::protocol::{AvatarPose, ToServer, WorldStatus};
use archipelago_shared::world::{BEACH_WIDTH, Protocity, World};
use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::egui_color;
use super::parcels::plots::{SelectedParcel, status_color};
use crate::connection::{Request, Session};
use crate::parcels::ParcelBook;

/// Simplified coastlines, `(longitude, latitude)` polygons.
const CONTINENTS: &str = include_str!("../../../assets/maps/continents.ron");

/// Which page of the atlas is shown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum AtlasTab {
    #[default]
    Ocean,
    Island,
    World,
    Search,
}

/// The atlas window's state.
#[derive(Resource, Debug, Default)]
pub struct AtlasState {
    pub open: bool,
    pub tab: AtlasTab,
    /// Protocity shown on the island page.
    pub island: String,
    /// Parcel to point out on the island page.
    pub focus: Option<String>,
    search: ParcelFilter,
}

/// Coastline polygons for the world page, parsed once.
#[derive(Resource, Debug, Default)]
struct Coastlines(Vec<Vec<(f32, f32)>>);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<AtlasState>()
        .insert_resource(load_coastlines())
        .add_systems(Update, toggle.run_if(not(egui_wants_any_keyboard_input)))
        .add_systems(EguiPrimaryContextPass, atlas);
}

fn load_coastlines() -> Coastlines {
    match ron::from_str(CONTINENTS) {
        Ok(polygons) => Coastlines(polygons),
        Err(e) => {
            error!("assets/maps/continents.ron is unreadable ({e}); the world map shows no land");
            Coastlines::default()
        }
    }
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, mut atlas: ResMut<AtlasState>) {
    if keys.just_pressed(KeyCode::KeyM) {
        atlas.open = !atlas.open;
    }
}

/// What the atlas pages read.
struct View<'a> {
    world: &'a World,
    book: &'a ParcelBook,
    status: Option<&'a WorldStatus>,
    standing: Option<&'a archipelago_shared::recognition::Standing>,
    own: Option<Vec3>,
}

impl View<'_> {
    fn online(&self, id: &str) -> u32 {
        self.status
            .and_then(|s| s.per_island.iter().find(|(i, _)| i == id))
            .map_or(0, |(_, n)| *n)
    }
}

/// What the person asked for on an atlas page.
#[derive(Default)]
struct Actions {
    teleport: Option<String>,
    inspect: Option<String>,
    open_island: Option<String>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "a Bevy system: each argument is a resource it reads or writes"
)]
fn atlas(
    mut contexts: EguiContexts,
    mut state: ResMut<AtlasState>,
    world: Res<World>,
    book: Res<ParcelBook>,
    session: Res<Session>,
    poses: Query<&AvatarPose>,
    status: Query<&WorldStatus>,
    coastlines: Res<Coastlines>,
    standing: Res<crate::recognition::StandingBook>,
    mut selected: ResMut<SelectedParcel>,
    mut requests: MessageWriter<Request>,
) -> Result {
    if !state.open {
        return Ok(());
    }
    if world.protocity(&state.island).is_none() {
        state.island = world.capital().id.clone();
    }
    let ctx = contexts.ctx_mut()?;
    let view = View {
        world: &world,
        book: &book,
        status: status.iter().next(),
        standing: standing.standing.as_ref(),
        own: session
            .own_avatar
            .and_then(|e| poses.get(e).ok())
            .map(|p| p.position),
    };
    let mut actions = Actions::default();
    let mut still_open = true;
    egui::Window::new("Atlas of the archipelago (M)")
        .id(egui::Id::new("atlas"))
        .open(&mut still_open)
        .default_width(600.0)
        .default_pos(egui::pos2(20.0, 60.0))
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                for (tab, label) in [
                    (AtlasTab::Ocean, "Ocean"),
                    (AtlasTab::Island, "Island"),
                    (AtlasTab::World, "On Earth"),
                    (AtlasTab::Search, "Find a parcel"),
                ] {
                    ui.selectable_value(&mut state.tab, tab, label);
                }
            });
            ui.separator();
            match state.tab {
                AtlasTab::Ocean => ocean_page(ui, &view, &mut actions),
                AtlasTab::Island => island_page(ui, &view, &mut state, &mut actions),
                AtlasTab::World => world_page(ui, &view, &coastlines, &mut actions),
                AtlasTab::Search => search_page(ui, &view, &mut state, &mut actions),
            }
        });
    state.open = still_open;
    if let Some(island) = actions.open_island {
        // Keep pointing at a parcel only if it is on the island now shown.
        state.focus = state
            .focus
            .take()
            .filter(|f| world.parcel(f).is_some_and(|(p, _)| p.id == island));
        state.island = island;
        state.tab = AtlasTab::Island;
    }
    if let Some(parcel) = actions.inspect {
        selected.0 = Some(parcel);
    }
    if let Some(protocity) = actions.teleport {
        requests.write(Request(ToServer::Teleport { protocity }));
    }
    Ok(())
}

fn legend(ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        for kind in StatusKind::ALL {
            let (dot, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter()
                .rect_filled(dot, 2.0, egui_color(status_color(Some(kind))));
            ui.small(kind.as_str());
        }
    });
}

fn island_fill(protocity: &Protocity) -> egui::Color32 {
    let g = protocity.island.ground_color;
    egui::Color32::from_rgb(
        (g[0] * 400.0) as u8,
        (g[1] * 400.0).min(255.0) as u8,
        (g[2] * 400.0) as u8,
    )
}

fn ocean_page(ui: &mut egui::Ui, view: &View, actions: &mut Actions) {
    let world = view.world;
    ui.label(format!("{} — {}", world.nation.name, world.nation.motto));
    let size = egui::vec2(ui.available_width().min(580.0), 300.0);
    let (response, painter) = ui.allocate_painter(size, egui::Sense::click());
    let rect = response.rect;
    painter.rect_filled(rect, 6.0, egui::Color32::from_rgb(22, 78, 112));
    let extent = world.nation.ocean_half_extent;
    let scale = (rect.width().min(rect.height()) / 2.0 - 10.0) / (extent * 0.6);
    let to_screen = |p: Vec2| rect.center() + egui::vec2(p.x, p.y) * scale;
    for protocity in &world.protocities {
        let island = &protocity.island;
        let center = to_screen(island.position);
        let radius = (island.radius * scale).max(6.0);
        painter.circle(
            center,
            radius,
            island_fill(protocity),
            egui::Stroke::new(2.0, egui::Color32::from_rgb(225, 205, 150)),
        );
        for parcel in &island.parcels {
            let kind = view.book.get(&parcel.id).map(|p| p.status.kind());
            let min = to_screen(island.position + parcel.min);
            let max = to_screen(island.position + parcel.max);
            painter.rect_filled(
                egui::Rect::from_min_max(min, max),
                0.0,
                egui_color(status_color(kind)),
            );
        }
        let capital = if protocity.id == world.nation.capital {
            " ★"
        } else {
            ""
        };
        painter.text(
            center + egui::vec2(0.0, radius + 8.0),
            egui::Align2::CENTER_TOP,
            format!(
                "{}{capital} · {} online",
                protocity.name,
                view.online(&protocity.id)
            ),
            egui::FontId::proportional(12.0),
            egui::Color32::WHITE,
        );
        if response.clicked()
            && let Some(click) = response.interact_pointer_pos()
            && click.distance(center) <= radius + 4.0
        {
            actions.open_island = Some(protocity.id.clone());
        }
    }
    if let Some(p) = view.own {
        painter.circle_filled(to_screen(Vec2::new(p.x, p.z)), 4.0, egui::Color32::RED);
    }
    legend(ui);
    ui.small("Click an island to see its parcels. The red dot is you.");
    ui.separator();
    egui::Grid::new("protocities").striped(true).show(ui, |ui| {
        ui.strong("Protocity");
        ui.strong("Where");
        ui.strong("Founded");
        ui.strong("Population");
        ui.strong("Online");
        ui.end_row();
        for protocity in &world.protocities {
            ui.label(&protocity.name);
            ui.label(format!(
                "{}, {} ({})",
                protocity.city, protocity.jurisdiction, protocity.continent
            ));
            ui.label(&protocity.founded);
            let population = view
                .standing
                .and_then(|s| s.census_of(&protocity.id))
                .map_or("…".to_owned(), |c| c.census.population.to_string());
            ui.label(population);
            ui.label(view.online(&protocity.id).to_string());
            if ui.button("Teleport").clicked() {
                actions.teleport = Some(protocity.id.clone());
            }
            ui.end_row();
        }
    });
}

fn island_page(ui: &mut egui::Ui, view: &View, state: &mut AtlasState, actions: &mut Actions) {
    let world = view.world;
    let Some(protocity) = world.protocity(&state.island) else {
        return;
    };
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("atlas_island")
            .selected_text(&protocity.name)
            .show_ui(ui, |ui| {
                for p in &world.protocities {
                    if ui.selectable_label(p.id == protocity.id, &p.name).clicked() {
                        actions.open_island = Some(p.id.clone());
                    }
                }
            });
        ui.label(format!(
            "{}, {} · {} online",
            protocity.city,
            protocity.jurisdiction,
            view.online(&protocity.id)
        ));
        if ui.button("Teleport here").clicked() {
            actions.teleport = Some(protocity.id.clone());
        }
    });
    let island = &protocity.island;
    let side = ui.available_width().min(560.0);
    let (response, painter) =
        ui.allocate_painter(egui::vec2(side, side * 0.8), egui::Sense::click());
    let rect = response.rect;
    painter.rect_filled(rect, 6.0, egui::Color32::from_rgb(22, 78, 112));
    let reach = island.radius + BEACH_WIDTH;
    let scale = (rect.height() / 2.0 - 8.0) / reach;
    let to_screen = |local: Vec2| rect.center() + egui::vec2(local.x, local.y) * scale;
    painter.circle_filled(
        rect.center(),
        reach * scale,
        egui::Color32::from_rgb(200, 178, 120),
    );
    painter.circle_filled(rect.center(), island.radius * scale, island_fill(protocity));
    let hall = &island.town_hall;
    let (hall_min, hall_max) = hall.footprint();
    painter.rect_stroke(
        egui::Rect::from_min_max(to_screen(hall_min), to_screen(hall_max)),
        1.0,
        egui::Stroke::new(2.0, egui::Color32::from_rgb(240, 230, 210)),
        egui::StrokeKind::Inside,
    );
    painter.text(
        to_screen(hall.center),
        egui::Align2::CENTER_CENTER,
        "Town hall",
        egui::FontId::proportional(11.0),
        egui::Color32::WHITE,
    );
    let pointer = response.hover_pos();
    let mut hovered: Option<String> = None;
    for parcel in &island.parcels {
        let record = view.book.get(&parcel.id);
        let area = egui::Rect::from_min_max(to_screen(parcel.min), to_screen(parcel.max));
        let color = egui_color(status_color(record.map(|p| p.status.kind())));
        painter.rect_filled(area, 2.0, color.gamma_multiply(0.75));
        let focused = state.focus.as_ref() == Some(&parcel.id);
        let over = pointer.is_some_and(|p| area.contains(p));
        if over {
            hovered = Some(parcel.id.clone());
        }
        let stroke = if focused || over {
            egui::Stroke::new(3.0, egui::Color32::WHITE)
        } else {
            egui::Stroke::new(1.0, egui::Color32::from_black_alpha(120))
        };
        painter.rect_stroke(area, 2.0, stroke, egui::StrokeKind::Outside);
        painter.text(
            area.center(),
            egui::Align2::CENTER_CENTER,
            &parcel.id,
            egui::FontId::proportional(10.0),
            egui::Color32::BLACK,
        );
    }
    for building in &island.buildings {
        let half = Vec2::new(building.size.x, building.size.z) / 2.0;
        painter.rect_filled(
            egui::Rect::from_min_max(
                to_screen(building.center - half),
                to_screen(building.center + half),
            ),
            1.0,
            egui::Color32::from_black_alpha(70),
        );
    }
    if let Some(p) = view.own
        && world
            .island_at(p)
            .is_some_and(|here| here.id == protocity.id)
    {
        let local = Vec2::new(p.x, p.z) - island.position;
        painter.circle_filled(to_screen(local), 4.0, egui::Color32::RED);
    }
    if let Some(id) = &hovered {
        let text = view.book.get(id).map_or_else(String::new, |p| {
            format!("{id}: {} · {}", p.owner.display(), p.status.display())
        });
        response.clone().on_hover_text_at_pointer(text);
    }
    if response.clicked()
        && let Some(id) = hovered
    {
        state.focus = Some(id.clone());
        actions.inspect = Some(id);
    }
    legend(ui);
    ui.small("Click a parcel to open its panel. The red dot is you.");
}

fn world_page(ui: &mut egui::Ui, view: &View, coastlines: &Coastlines, actions: &mut Actions) {
    let width = ui.available_width().min(580.0);
    let (response, painter) =
        ui.allocate_painter(egui::vec2(width, width / 2.0), egui::Sense::click());
    let rect = response.rect;
    painter.rect_filled(rect, 4.0, egui::Color32::from_rgb(26, 64, 96));
    let to_screen = |lon: f32, lat: f32| {
        egui::pos2(
            rect.left() + (lon + 180.0) / 360.0 * rect.width(),
            rect.top() + (90.0 - lat) / 180.0 * rect.height(),
        )
    };
    let grid = egui::Stroke::new(0.5, egui::Color32::from_white_alpha(30));
    for lon in (-150..=150).step_by(30) {
        painter.line_segment(
            [to_screen(lon as f32, 90.0), to_screen(lon as f32, -90.0)],
            grid,
        );
    }
    for lat in (-60..=60).step_by(30) {
        painter.line_segment(
            [to_screen(-180.0, lat as f32), to_screen(180.0, lat as f32)],
            grid,
        );
    }
    let land = egui::Color32::from_rgb(150, 196, 130);
    for polygon in &coastlines.0 {
        let points: Vec<egui::Pos2> = polygon
            .iter()
            .map(|&(lon, lat)| to_screen(lon, lat))
            .collect();
        // Coastlines are concave and egui fills only convex shapes: draw them as lines.
        painter.add(egui::Shape::closed_line(
            points,
            egui::Stroke::new(1.6, land),
        ));
    }
    let pointer = response.hover_pos();
    for protocity in &view.world.protocities {
        let at = to_screen(protocity.longitude as f32, protocity.latitude as f32);
        let capital = protocity.id == view.world.nation.capital;
        painter.circle(
            at,
            if capital { 6.0 } else { 5.0 },
            egui::Color32::from_rgb(255, 214, 90),
            egui::Stroke::new(1.5, egui::Color32::BLACK),
        );
        // Labels near the right edge go to the left of their dot, so they stay on the map.
        let (offset, align) = if at.x > rect.left() + rect.width() * 0.7 {
            (egui::vec2(-7.0, -7.0), egui::Align2::RIGHT_BOTTOM)
        } else {
            (egui::vec2(7.0, -7.0), egui::Align2::LEFT_BOTTOM)
        };
        painter.text(
            at + offset,
            align,
            format!("{} ({})", protocity.name, protocity.city),
            egui::FontId::proportional(11.0),
            egui::Color32::WHITE,
        );
        if response.clicked() && pointer.is_some_and(|p| p.distance(at) < 9.0) {
            actions.open_island = Some(protocity.id.clone());
        }
    }
    ui.small("Where the protocities stand on Earth. Click one to see its island.");
    egui::Grid::new("places").striped(true).show(ui, |ui| {
        for protocity in &view.world.protocities {
            ui.label(&protocity.name);
            ui.label(format!("{}, {}", protocity.city, protocity.jurisdiction));
            ui.label(format!(
                "{:.2}°, {:.2}°",
                protocity.latitude, protocity.longitude
            ));
            ui.label(format!("{} online", view.online(&protocity.id)));
            ui.end_row();
        }
    });
}

fn search_page(ui: &mut egui::Ui, view: &View, state: &mut AtlasState, actions: &mut Actions) {
    ui.horizontal(|ui| {
        ui.label("Find");
        ui.add(
            egui::TextEdit::singleline(&mut state.search.text)
                .hint_text("parcel id or owner")
                .desired_width(180.0),
        );
        egui::ComboBox::from_id_salt("search_status")
            .selected_text(state.search.status.map_or("any status", |k| k.as_str()))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut state.search.status, None, "any status");
                for kind in StatusKind::ALL {
                    ui.selectable_value(&mut state.search.status, Some(kind), kind.as_str());
                }
            });
        let island_name = state
            .search
            .protocity
            .as_deref()
            .and_then(|id| view.world.protocity(id))
            .map_or("every island", |p| p.name.as_str());
        egui::ComboBox::from_id_salt("search_island")
            .selected_text(island_name)
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut state.search.protocity, None, "every island");
                for p in &view.world.protocities {
                    ui.selectable_value(&mut state.search.protocity, Some(p.id.clone()), &p.name);
                }
            });
    });
    if !view.book.loaded {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Waiting for the land registry…");
        });
        return;
    }
    let found: Vec<_> = view
        .book
        .parcels
        .values()
        .filter(|p| state.search.matches(p))
        .collect();
    ui.small(format!(
        "{} of {} parcels",
        found.len(),
        view.book.parcels.len()
    ));
    egui::ScrollArea::vertical()
        .max_height(360.0)
        .show(ui, |ui| {
            egui::Grid::new("search_results")
                .striped(true)
                .show(ui, |ui| {
                    for parcel in found {
                        ui.monospace(&parcel.id);
                        let place = view
                            .world
                            .protocity(&parcel.protocity)
                            .map_or(parcel.protocity.as_str(), |p| p.name.as_str());
                        ui.label(place);
                        ui.label(parcel.owner.display());
                        ui.colored_label(
                            egui_color(status_color(Some(parcel.status.kind()))),
                            parcel.status.display(),
                        );
                        if ui.small_button("Inspect").clicked() {
                            actions.inspect = Some(parcel.id.clone());
                        }
                        if ui.small_button("Show").clicked() {
                            state.focus = Some(parcel.id.clone());
                            actions.open_island = Some(parcel.protocity.clone());
                        }
                        ui.end_row();
                    }
                });
        });
}
