//! The recognition window (R): where the nation stands on the ladder and what the next stage
//! requires, who recognizes it and how, the timeline, and the census in numbers and charts
//! over time (population, income, footprint; the nation or one protocity). Founders record
//! changes at the bottom; the server checks them and everyone's window follows.

use archipelago_shared::protocol::Role;
use archipelago_shared::recognition::{
    Census, CensusRecord, Figure, RecognitionRequest, RecognizerKind, Relation, RelationChange,
    Stage, StageChange, Standing, date_words, parse_date,
};
use archipelago_shared::world::World;
use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use egui_plot::{Line, Plot, PlotPoints};

use super::{dollars, grouped};
use crate::clock::ServerClock;
use crate::connection::Session;
use crate::recognition::{SendRecognition, StandingBook};

/// Answers older than this fade from the window.
const ANSWER_SECONDS: f64 = 15.0;
/// Seconds in an average year, to put dates on a chart's axis.
const YEAR: f64 = 365.2425 * 86_400.0;

/// Where the window is and what it shows; the founder's form.
#[derive(Resource, Debug)]
pub struct RecognitionWindow {
    pub open: bool,
    /// The protocity whose census is charted; none: the whole nation.
    pub protocity: Option<String>,
    form: Form,
    /// Answers already seen, to clear the form once a change is recorded.
    answers_seen: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FormTab {
    Stage,
    Relation,
    Census,
}

#[derive(Debug)]
struct Form {
    tab: FormTab,
    /// Filled with today's date on the server's clock when the form first shows.
    date: String,
    dated: bool,
    source: String,
    stage: Stage,
    reason: String,
    recognizer: String,
    kind: RecognizerKind,
    relation: Relation,
    protocity: usize,
    residents: i64,
    online_members: i64,
    income: i64,
    parcels: i64,
    /// The protocity whose latest census the figures were filled from.
    prefilled: Option<usize>,
}

impl Default for RecognitionWindow {
    fn default() -> Self {
        Self {
            open: false,
            protocity: None,
            answers_seen: 0,
            form: Form {
                tab: FormTab::Relation,
                date: String::new(),
                dated: false,
                source: String::new(),
                stage: Stage::NetworkState,
                reason: String::new(),
                recognizer: String::new(),
                kind: RecognizerKind::State,
                relation: Relation::Talks,
                protocity: 0,
                residents: 0,
                online_members: 0,
                income: 0,
                parcels: 0,
                prefilled: None,
            },
        }
    }
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<RecognitionWindow>()
        .add_systems(Update, toggle.run_if(not(egui_wants_any_keyboard_input)))
        .add_systems(EguiPrimaryContextPass, window);
}

fn toggle(keys: Res<ButtonInput<KeyCode>>, mut state: ResMut<RecognitionWindow>) {
    if keys.just_pressed(KeyCode::KeyR) {
        state.open = !state.open;
    }
}

/// The colour a relation is drawn in, here and in the embassy row.
pub fn relation_color(relation: Relation) -> egui::Color32 {
    match relation {
        Relation::Talks => egui::Color32::from_rgb(170, 176, 186),
        Relation::Memorandum => egui::Color32::from_rgb(205, 140, 80),
        Relation::DeFacto => egui::Color32::from_rgb(120, 200, 230),
        Relation::DeJure => egui::Color32::from_rgb(245, 200, 70),
    }
}

fn window(
    mut contexts: EguiContexts,
    mut state: ResMut<RecognitionWindow>,
    book: Res<StandingBook>,
    session: Res<Session>,
    world: Res<World>,
    time: Res<Time>,
    clock: Res<ServerClock>,
    mut send: MessageWriter<SendRecognition>,
) -> Result {
    if !state.open {
        return Ok(());
    }
    let today = clock.now();
    if !state.form.dated && clock.is_known() {
        state.form.date = date_words(today);
        state.form.dated = true;
    }
    if book.answered != state.answers_seen {
        state.answers_seen = book.answered;
        if matches!(book.answers.last(), Some((_, Ok(_)))) {
            // Recorded: the next change starts from a clean form.
            let form = &mut state.form;
            form.source.clear();
            form.reason.clear();
            form.recognizer.clear();
            form.prefilled = None;
        }
    }
    let ctx = contexts.ctx_mut()?;
    let mut open = true;
    egui::Window::new("Recognition and census (R)")
        .id(egui::Id::new("recognition"))
        .open(&mut open)
        .default_width(640.0)
        .default_height(640.0)
        .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-12.0, 48.0))
        .show(ctx, |ui| {
            let Some(standing) = &book.standing else {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Waiting for the nation's records…");
                });
                return;
            };
            egui::ScrollArea::vertical().show(ui, |ui| {
                ladder(ui, standing);
                ui.separator();
                ui.columns(2, |columns| {
                    recognizers(&mut columns[0], standing);
                    timeline(&mut columns[1], standing);
                });
                ui.separator();
                census(ui, standing, &world, &mut state, today);
                if session.role == Some(Role::Founder) {
                    ui.separator();
                    founder_form(ui, &mut state.form, standing, &world, &mut send);
                }
                let now = time.elapsed_secs_f64();
                if let Some((at, outcome)) = book.answers.last()
                    && now - at < ANSWER_SECONDS
                {
                    match outcome {
                        Ok(text) => ui.colored_label(egui::Color32::from_rgb(120, 220, 140), text),
                        Err(refusal) => ui.colored_label(
                            egui::Color32::from_rgb(240, 120, 100),
                            refusal.to_string(),
                        ),
                    };
                }
            });
        });
    state.open = open;
    Ok(())
}

/// Four steps, the reached ones with their date, the present one lit.
fn ladder(ui: &mut egui::Ui, standing: &Standing) {
    let current = standing.stage();
    ui.horizontal(|ui| {
        for stage in Stage::ALL {
            let reached = standing.stages.iter().rev().find(|s| s.stage == stage);
            let is_current = current == Some(stage);
            let (fill, text) = if is_current {
                (egui::Color32::from_rgb(245, 200, 70), egui::Color32::BLACK)
            } else if current.is_some_and(|c| stage < c) {
                (egui::Color32::from_rgb(70, 110, 80), egui::Color32::WHITE)
            } else {
                (egui::Color32::from_gray(55), egui::Color32::from_gray(170))
            };
            egui::Frame::new()
                .fill(fill)
                .corner_radius(6.0)
                .inner_margin(egui::Margin::symmetric(10, 6))
                .show(ui, |ui| {
                    ui.set_min_width(140.0);
                    ui.vertical(|ui| {
                        ui.label(egui::RichText::new(stage.title()).strong().color(text));
                        let when = match (reached, current.is_some_and(|c| stage <= c)) {
                            (Some(s), true) => format!("since {}", date_words(s.at)),
                            _ => "not yet".to_owned(),
                        };
                        ui.label(egui::RichText::new(when).small().color(text));
                    });
                });
            if stage != Stage::NetworkState {
                ui.label(">");
            }
        }
    });
    if let Some(stage) = current {
        ui.horizontal_wrapped(|ui| {
            ui.strong("Next:");
            ui.label(stage.next_requires());
        });
    }
}

fn recognizers(ui: &mut egui::Ui, standing: &Standing) {
    ui.strong("Who recognizes the nation");
    let list = standing.recognizers();
    if list.is_empty() {
        ui.weak("Nobody yet.");
    }
    egui::Grid::new("recognizers")
        .striped(true)
        .num_columns(3)
        .show(ui, |ui| {
            for r in list {
                let kind = match r.kind {
                    RecognizerKind::State => "",
                    RecognizerKind::Body => " (body)",
                };
                ui.label(format!("{}{kind}", r.recognizer))
                    .on_hover_text(format!(
                        "source: {}\nrecorded by {}",
                        r.source, r.recorded_by
                    ));
                ui.colored_label(relation_color(r.relation), r.relation.title());
                ui.weak(date_words(r.at));
                ui.end_row();
            }
        });
}

fn timeline(ui: &mut egui::Ui, standing: &Standing) {
    ui.strong("Timeline");
    egui::ScrollArea::vertical()
        .id_salt("timeline")
        .max_height(150.0)
        .stick_to_bottom(true)
        .show(ui, |ui| {
            for m in standing.timeline() {
                ui.horizontal_wrapped(|ui| {
                    ui.weak(date_words(m.at));
                    ui.label(&m.words)
                        .on_hover_text(format!("source: {}", m.source));
                });
            }
        });
}

fn census(
    ui: &mut egui::Ui,
    standing: &Standing,
    world: &World,
    state: &mut RecognitionWindow,
    today: i64,
) {
    let total = standing.total();
    ui.horizontal(|ui| {
        ui.strong("Census");
        ui.weak(format!(
            "the nation: {} people ({} residents, {} online members) · {} a year · {} m² held · {} parcels crowdfunded",
            grouped(total.population),
            grouped(total.residents),
            grouped(total.online_members),
            dollars(total.yearly_income),
            grouped(standing.total_footprint()),
            total.parcels_crowdfunded,
        ));
    });
    let shown = state
        .protocity
        .as_deref()
        .and_then(|id| world.protocity(id))
        .map_or("the whole nation".to_owned(), |p| p.name.clone());
    ui.horizontal(|ui| {
        ui.label(format!("Over time: {shown}"));
        if state.protocity.is_some() && ui.small_button("whole nation").clicked() {
            state.protocity = None;
        }
        ui.weak("(click a protocity to chart it alone)");
    });
    ui.columns(3, |columns| {
        for (ui, (figure, title)) in columns.iter_mut().zip([
            (Figure::Population, "Population"),
            (Figure::YearlyIncome, "Yearly income ($)"),
            (Figure::Footprint, "Footprint (m²)"),
        ]) {
            ui.label(title);
            chart(
                ui,
                standing,
                world,
                figure,
                state.protocity.as_deref(),
                today,
            );
        }
    });
    egui::Grid::new("census")
        .striped(true)
        .num_columns(7)
        .show(ui, |ui| {
            for title in [
                "Protocity",
                "People",
                "Residents",
                "Online members",
                "Income/year",
                "Footprint",
                "As of",
            ] {
                ui.strong(title);
            }
            ui.end_row();
            for p in &world.protocities {
                let Some(record) = standing.census_of(&p.id) else {
                    continue;
                };
                let c = &record.census;
                let name =
                    ui.selectable_label(state.protocity.as_deref() == Some(p.id.as_str()), &p.name);
                if name.clicked() {
                    state.protocity =
                        Some(p.id.clone()).filter(|id| state.protocity.as_ref() != Some(id));
                }
                ui.label(grouped(c.population));
                ui.label(grouped(c.residents));
                ui.label(grouped(c.online_members));
                ui.label(dollars(c.yearly_income));
                ui.label(format!("{} m²", grouped(standing.footprint_of(&p.id))));
                ui.weak(date_words(record.at))
                    .on_hover_text(format!("source: {}", record.source));
                ui.end_row();
            }
        });
}

fn year(at: i64) -> f64 {
    1970.0 + at as f64 / YEAR
}

fn points(series: Vec<(i64, i64)>, until: i64) -> PlotPoints<'static> {
    let mut points: Vec<[f64; 2]> = series
        .iter()
        .map(|(at, v)| [year(*at), *v as f64])
        .collect();
    // Carry the last value to today, so a footprint unchanged for months still shows.
    if let Some(&(_, last)) = series.last() {
        points.push([year(until), last as f64]);
    }
    PlotPoints::from(points)
}

fn chart(
    ui: &mut egui::Ui,
    standing: &Standing,
    world: &World,
    figure: Figure,
    only: Option<&str>,
    now: i64,
) {
    let id = format!("chart-{figure:?}");
    Plot::new(id)
        .height(120.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .include_x(year(standing.founded))
        .include_x(year(now))
        .x_axis_formatter(|mark, _| format!("{:.0}", mark.value.floor()))
        .y_axis_formatter(|mark, _| compact(mark.value))
        .y_grid_spacer(few_marks)
        .label_formatter(|hover| match hover {
            egui_plot::HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => Some(format!(
                "{plot_name}\n{:.1}: {}",
                position.x,
                compact(position.y)
            )),
            _ => None,
        })
        .show(ui, |plot| match only {
            Some(id) => {
                let name = world
                    .protocity(id)
                    .map_or(id.to_owned(), |p| p.name.clone());
                plot.line(
                    Line::new(name, points(standing.series(figure, Some(id)), now))
                        .width(2.5)
                        .color(egui::Color32::from_rgb(245, 200, 70)),
                );
            }
            None => {
                plot.line(
                    Line::new("nation", points(standing.series(figure, None), now))
                        .width(2.5)
                        .color(egui::Color32::from_rgb(245, 200, 70)),
                );
            }
        });
}

/// Four or five round marks over the visible range (1, 2, 2.5 or 5 times a power of ten
/// apart), so every one has room for its label on a short chart.
fn few_marks(input: egui_plot::GridInput) -> Vec<egui_plot::GridMark> {
    let (low, high) = input.bounds;
    let span = (high - low).max(1.0);
    let rough = span / 4.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last)
        .map(|i| egui_plot::GridMark {
            value: i as f64 * step,
            step_size: step,
        })
        .collect()
}

/// 2.4 M, 830 k, 12.
fn compact(value: f64) -> String {
    if value.abs() >= 1e6 {
        format!("{:.1} M", value / 1e6)
    } else if value.abs() >= 1e3 {
        format!("{:.1} k", value / 1e3).replace(".0 k", " k")
    } else {
        format!("{value:.0}")
    }
}

fn founder_form(
    ui: &mut egui::Ui,
    form: &mut Form,
    standing: &Standing,
    world: &World,
    send: &mut MessageWriter<SendRecognition>,
) {
    egui::CollapsingHeader::new("Record a change (founders)")
        .id_salt("record-standing")
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.selectable_value(&mut form.tab, FormTab::Relation, "A recognition");
                ui.selectable_value(&mut form.tab, FormTab::Stage, "A stage");
                ui.selectable_value(&mut form.tab, FormTab::Census, "A census");
            });
            match form.tab {
                FormTab::Relation => {
                    ui.horizontal(|ui| {
                        ui.add(
                            egui::TextEdit::singleline(&mut form.recognizer)
                                .hint_text("state or body, e.g. Republic of Palau")
                                .desired_width(240.0),
                        );
                        ui.selectable_value(&mut form.kind, RecognizerKind::State, "state");
                        ui.selectable_value(&mut form.kind, RecognizerKind::Body, "body");
                    });
                    ui.horizontal(|ui| {
                        for relation in Relation::ALL {
                            ui.selectable_value(&mut form.relation, relation, relation.title());
                        }
                    });
                }
                FormTab::Stage => {
                    ui.horizontal(|ui| {
                        for stage in Stage::ALL {
                            ui.selectable_value(&mut form.stage, stage, stage.title());
                        }
                    });
                    ui.add(
                        egui::TextEdit::singleline(&mut form.reason)
                            .hint_text("reason (needed to skip a stage or go back)")
                            .desired_width(400.0),
                    );
                }
                FormTab::Census => {
                    let index = form
                        .protocity
                        .min(world.protocities.len().saturating_sub(1));
                    egui::ComboBox::from_label("protocity")
                        .selected_text(&world.protocities[index].name)
                        .show_ui(ui, |ui| {
                            for (i, p) in world.protocities.iter().enumerate() {
                                ui.selectable_value(&mut form.protocity, i, &p.name);
                            }
                        });
                    // Start from the protocity's latest figures: a census changes a few of them.
                    if form.prefilled != Some(index) {
                        let latest = standing
                            .census_of(&world.protocities[index].id)
                            .map(|r| r.census)
                            .unwrap_or_default();
                        form.residents = latest.residents;
                        form.online_members = latest.online_members;
                        form.income = latest.yearly_income;
                        form.parcels = latest.parcels_crowdfunded;
                        form.prefilled = Some(index);
                    }
                    egui::Grid::new("census-form")
                        .num_columns(4)
                        .show(ui, |ui| {
                            ui.label("residents");
                            ui.add(egui::DragValue::new(&mut form.residents));
                            ui.label("online members");
                            ui.add(egui::DragValue::new(&mut form.online_members));
                            ui.end_row();
                            ui.label("income a year ($)");
                            ui.add(egui::DragValue::new(&mut form.income).speed(1000));
                            ui.label("parcels crowdfunded");
                            ui.add(egui::DragValue::new(&mut form.parcels));
                            ui.end_row();
                        });
                    ui.weak(format!(
                        "population {} · the footprint comes from the land registry",
                        form.residents.saturating_add(form.online_members)
                    ));
                }
            }
            ui.horizontal(|ui| {
                ui.label("date");
                ui.add(egui::TextEdit::singleline(&mut form.date).desired_width(90.0));
                ui.add(
                    egui::TextEdit::singleline(&mut form.source)
                        .hint_text("source: the document it rests on")
                        .desired_width(300.0),
                );
            });
            let at = parse_date(form.date.trim());
            if at.is_none() {
                ui.colored_label(
                    egui::Color32::from_rgb(240, 120, 100),
                    "the date reads YYYY-MM-DD",
                );
            }
            let ready = at.is_some() && !form.source.trim().is_empty();
            if ui.add_enabled(ready, egui::Button::new("Record")).clicked()
                && let Some(at) = at
            {
                send.write(SendRecognition(request(form, world, at)));
            }
        });
}

fn request(form: &Form, world: &World, at: i64) -> RecognitionRequest {
    let source = form.source.trim().to_owned();
    match form.tab {
        FormTab::Stage => RecognitionRequest::Stage(StageChange {
            stage: form.stage,
            at,
            reason: Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty()),
            source,
            recorded_by: String::new(),
        }),
        FormTab::Relation => RecognitionRequest::Relation(RelationChange {
            recognizer: form.recognizer.trim().to_owned(),
            kind: form.kind,
            relation: form.relation,
            at,
            source,
            recorded_by: String::new(),
        }),
        FormTab::Census => {
            let index = form
                .protocity
                .min(world.protocities.len().saturating_sub(1));
            RecognitionRequest::Census(CensusRecord {
                protocity: world.protocities[index].id.clone(),
                at,
                census: Census {
                    population: form.residents.saturating_add(form.online_members),
                    residents: form.residents,
                    online_members: form.online_members,
                    yearly_income: form.income,
                    parcels_crowdfunded: form.parcels,
                },
                source,
                recorded_by: String::new(),
            })
        }
    }
}
