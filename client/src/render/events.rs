//! Live events as people meet them: the calendar window (L) with what is on and what is
//! coming, each live event one click from its hall; founders schedule and call off events
//! there; and a toast when an event one may attend starts, with a button to go.

use archipelago_shared::assembly::{DEFAULT_HALL_CAPACITY, MAX_HALL_CAPACITY};
use archipelago_shared::events::{
    EventDraft, EventRequest, MAX_EVENT_MINUTES, MIN_EVENT_MINUTES, calendar,
};
use archipelago_shared::parcels::utc_date_time;
use archipelago_shared::protocol::{Role, ToServer};
use archipelago_shared::world::World;
use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use crate::clock::ServerClock;
use crate::connection::{Request, Session};
use crate::events::{EventBook, SendEvent};

/// A toast stays this long unless answered.
const TOAST_SECONDS: f64 = 60.0;
/// Answers stay in the window this long.
const ANSWER_SECONDS: f64 = 8.0;

/// The calendar window and the founders' scheduling form.
#[derive(Resource, Debug)]
pub struct EventsWindow {
    pub open: bool,
    title: String,
    hall: usize,
    starts_in: u32,
    minutes: u32,
    capacity: u32,
    audience: Role,
    /// Toasts answered (went, or later).
    dismissed: Vec<i64>,
}

impl Default for EventsWindow {
    fn default() -> Self {
        Self {
            open: false,
            title: String::new(),
            hall: 0,
            starts_in: 30,
            minutes: 60,
            capacity: DEFAULT_HALL_CAPACITY,
            audience: Role::Visitor,
            dismissed: Vec::new(),
        }
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<EventsWindow>()
        .add_systems(Update, toggle.run_if(not(egui_wants_any_keyboard_input)))
        .add_systems(EguiPrimaryContextPass, (window, toast));
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, mut state: ResMut<EventsWindow>) {
    if keys.just_pressed(KeyCode::KeyL) {
        state.open = !state.open;
    }
}

/// "in 2 h 10 min", "in 5 min", "now".
fn until_words(seconds: i64) -> String {
    let minutes = (seconds + 59) / 60;
    match (minutes / 60, minutes % 60) {
        (0, 0) => "now".into(),
        (0, m) => format!("in {m} min"),
        (h, 0) if h < 48 => format!("in {h} h"),
        (h, m) if h < 48 => format!("in {h} h {m} min"),
        _ => String::new(),
    }
}

fn audience_words(role: Role) -> &'static str {
    match role {
        Role::Visitor => "open to everyone",
        Role::Member => "for members",
        Role::Resident => "for residents",
        Role::Founder => "for founders",
    }
}

fn window(
    mut contexts: EguiContexts,
    mut state: ResMut<EventsWindow>,
    book: Res<EventBook>,
    session: Res<Session>,
    world: Res<World>,
    clock: Res<ServerClock>,
    time: Res<Time>,
    mut send: MessageWriter<SendEvent>,
    mut requests: MessageWriter<Request>,
) -> Result {
    if !state.open {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let role = session.role.unwrap_or(Role::Visitor);
    let now = clock.now();
    let mut open = true;
    egui::Window::new("Live events (L)")
        .id(egui::Id::new("events"))
        .open(&mut open)
        .default_width(420.0)
        .anchor(egui::Align2::CENTER_TOP, egui::vec2(0.0, 60.0))
        .show(ctx, |ui| {
            let events: Vec<_> = book.events.values().cloned().collect();
            let on = calendar(&events, now);
            if on.is_empty() {
                ui.weak("Nothing scheduled. Founders schedule events below or with `admin event`.");
            }
            for event in on {
                let hall = world
                    .protocity(&event.draft.protocity)
                    .map_or(event.draft.protocity.clone(), |p| p.name.clone());
                ui.horizontal(|ui| {
                    if event.is_live(now) {
                        ui.colored_label(egui::Color32::from_rgb(240, 90, 80), "LIVE");
                    } else {
                        ui.weak(until_words(event.draft.starts_at - now));
                    }
                    ui.strong(&event.draft.title);
                });
                ui.label(format!(
                    "{} · {} min · {hall} town hall · holds {} · {}",
                    utc_date_time(event.draft.starts_at),
                    event.draft.minutes,
                    event.draft.capacity,
                    audience_words(event.draft.audience)
                ));
                ui.horizontal(|ui| {
                    if event.is_live(now)
                        && event.admits(role)
                        && ui.button("Go to the hall").clicked()
                    {
                        requests.write(Request(ToServer::EnterHall {
                            protocity: event.draft.protocity.clone(),
                        }));
                    }
                    if role == Role::Founder && ui.small_button("call off").clicked() {
                        send.write(SendEvent(EventRequest::Cancel(event.id)));
                    }
                });
                ui.separator();
            }
            if role == Role::Founder {
                schedule_form(ui, &mut state, &world, now, &mut send);
            }
            let recent = time.elapsed_secs_f64();
            if let Some((at, outcome)) = book.answers.last()
                && recent - at < ANSWER_SECONDS
            {
                match outcome {
                    Ok(text) => ui.colored_label(egui::Color32::from_rgb(120, 220, 140), text),
                    Err(refusal) => ui
                        .colored_label(egui::Color32::from_rgb(240, 120, 100), refusal.to_string()),
                };
            }
        });
    state.open = open;
    Ok(())
}

fn schedule_form(
    ui: &mut egui::Ui,
    state: &mut EventsWindow,
    world: &World,
    now: i64,
    send: &mut MessageWriter<SendEvent>,
) {
    egui::CollapsingHeader::new("Schedule an event")
        .id_salt("schedule-event")
        .show(ui, |ui| {
            ui.add(egui::TextEdit::singleline(&mut state.title).hint_text("title"));
            let hall = state.hall.min(world.protocities.len().saturating_sub(1));
            egui::ComboBox::from_label("town hall")
                .selected_text(&world.protocities[hall].name)
                .show_ui(ui, |ui| {
                    for (i, p) in world.protocities.iter().enumerate() {
                        ui.selectable_value(&mut state.hall, i, &p.name);
                    }
                });
            ui.horizontal(|ui| {
                ui.label("starts in");
                ui.add(egui::DragValue::new(&mut state.starts_in).range(0..=60 * 24 * 30));
                ui.label("min, lasts");
                ui.add(
                    egui::DragValue::new(&mut state.minutes)
                        .range(MIN_EVENT_MINUTES..=MAX_EVENT_MINUTES),
                );
                ui.label("min");
            });
            ui.horizontal(|ui| {
                ui.label("the hall holds");
                ui.add(egui::DragValue::new(&mut state.capacity).range(1..=MAX_HALL_CAPACITY));
                egui::ComboBox::from_id_salt("audience")
                    .selected_text(audience_words(state.audience))
                    .show_ui(ui, |ui| {
                        for role in [Role::Visitor, Role::Member, Role::Resident, Role::Founder] {
                            ui.selectable_value(&mut state.audience, role, audience_words(role));
                        }
                    });
            });
            if ui
                .add_enabled(
                    !state.title.trim().is_empty(),
                    egui::Button::new("Schedule"),
                )
                .clicked()
            {
                send.write(SendEvent(EventRequest::Schedule(EventDraft {
                    title: state.title.clone(),
                    protocity: world.protocities[hall].id.clone(),
                    starts_at: now + i64::from(state.starts_in) * 60,
                    minutes: state.minutes,
                    capacity: state.capacity,
                    audience: state.audience,
                })));
            }
        });
}

/// "Live now" for each event one may attend that started since joining, until answered.
fn toast(
    mut contexts: EguiContexts,
    mut state: ResMut<EventsWindow>,
    book: Res<EventBook>,
    world: Res<World>,
    time: Res<Time>,
    mut requests: MessageWriter<Request>,
) -> Result {
    let now = time.elapsed_secs_f64();
    let Some(event) = book
        .started
        .iter()
        .rev()
        .filter(|(at, id)| now - at < TOAST_SECONDS && !state.dismissed.contains(id))
        .find_map(|(_, id)| book.events.get(id))
    else {
        return Ok(());
    };
    if event.cancelled_at.is_some() {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let hall = world
        .protocity(&event.draft.protocity)
        .map_or(event.draft.protocity.clone(), |p| p.name.clone());
    egui::Area::new(egui::Id::new("event_toast"))
        .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-10.0, -40.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style())
                .fill(egui::Color32::from_rgb(30, 36, 52))
                .inner_margin(egui::Margin::same(12))
                .show(ui, |ui| {
                    ui.colored_label(egui::Color32::from_rgb(240, 90, 80), "LIVE NOW");
                    ui.strong(&event.draft.title);
                    ui.label(format!("in the {hall} town hall"));
                    ui.horizontal(|ui| {
                        if ui.button("Go there").clicked() {
                            requests.write(Request(ToServer::EnterHall {
                                protocity: event.draft.protocity.clone(),
                            }));
                            state.dismissed.push(event.id);
                        }
                        if ui.button("Later").clicked() {
                            state.dismissed.push(event.id);
                        }
                    });
                });
        });
    Ok(())
}
