//! The parcel panel: everything the registry says about the selected parcel, its history,
//! and the controls the viewer's role allows (founders assign and set status, owners
//! describe, members pledge). Controls a person may not use are not shown; the server checks
//! every request again.

use archipelago_shared::parcels::{
    Actor, MAX_DESCRIPTION_CHARS, MAX_GROUP_CHARS, MAX_PLEDGE, MAX_PRICE, Owner, OwnerClaim,
    ParcelInfo, ParcelRequest, ParcelStatus, StatusChoice, StatusKind, dollars, may_assign,
    percent, utc_date_time,
};
use archipelago_shared::protocol::{Role, ToServer};
use archipelago_shared::world::World;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::plots::{SelectedParcel, status_color};
use crate::ClientConfig;
use crate::connection::{Request, Session};
use crate::parcels::{ParcelBook, WantHistory};
use crate::render::egui_color;
use crate::render::map::{AtlasState, AtlasTab};

/// Answers older than this fade from the panel.
const ANSWER_SECONDS: f64 = 12.0;

/// What the person has typed into the panel's controls, reset when another parcel opens.
#[derive(Resource, Debug, Default)]
struct Drafts {
    parcel: Option<String>,
    owner_kind: OwnerKind,
    owner_name: String,
    status: Option<StatusKind>,
    amount: String,
    description: Option<String>,
    pledge: String,
    problem: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum OwnerKind {
    #[default]
    Member,
    Group,
    Nobody,
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Drafts>()
        .add_systems(EguiPrimaryContextPass, panel);
}

/// Dollars typed by a person: digits with optional `$`, `,` or spaces.
fn parse_dollars(text: &str, max: u64) -> Result<u64, String> {
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, '$' | ',' | ' ' | '_'))
        .collect();
    if cleaned.starts_with('-') {
        return Err("amounts cannot be negative".into());
    }
    match cleaned.parse::<u64>() {
        Ok(0) => Err("enter an amount above $0".into()),
        Ok(v) if v > max => Err(format!("at most {}", dollars(max))),
        Ok(v) => Ok(v),
        Err(_) => Err(format!("`{text}` is not a whole number of dollars")),
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "a Bevy system: each argument is a resource it reads or writes"
)]
fn panel(
    mut contexts: EguiContexts,
    mut selected: ResMut<SelectedParcel>,
    book: Res<ParcelBook>,
    session: Res<Session>,
    config: Res<ClientConfig>,
    world: Res<World>,
    time: Res<Time>,
    mut drafts: ResMut<Drafts>,
    mut atlas: ResMut<AtlasState>,
    mut requests: MessageWriter<Request>,
    mut want_history: MessageWriter<WantHistory>,
) -> Result {
    let Some(id) = selected.0.clone() else {
        return Ok(());
    };
    if drafts.parcel.as_ref() != Some(&id) {
        *drafts = Drafts {
            parcel: Some(id.clone()),
            ..default()
        };
    }
    let ctx = contexts.ctx_mut()?;
    let Some(parcel) = book.get(&id) else {
        egui::Window::new(format!("Parcel {id}"))
            .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-10.0, 60.0))
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Waiting for the land registry…");
                });
            });
        return Ok(());
    };
    want_history.write(WantHistory(id.clone()));
    let role = session.role.unwrap_or(Role::Visitor);
    let actor = Actor {
        key: Some(archipelago_shared::identity::to_hex(
            config.key.verifying_key().as_bytes(),
        )),
        name: session.name.clone(),
        role,
    };
    let place = world
        .protocity(&parcel.protocity)
        .map_or_else(|| parcel.protocity.clone(), |p| p.name.clone());
    let mut open = true;
    let mut outgoing: Vec<ParcelRequest> = Vec::new();
    egui::Window::new(format!("Parcel {id} · {place}"))
        .id(egui::Id::new("parcel_panel"))
        .open(&mut open)
        .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-10.0, 60.0))
        .default_width(380.0)
        .resizable(false)
        .show(ctx, |ui| {
            ui.set_width(380.0);
            // As tall as the screen allows; scroll beyond that.
            let tallest = ui.ctx().content_rect().height() - 140.0;
            egui::ScrollArea::vertical()
                .max_height(tallest)
                .min_scrolled_height(tallest)
                .show(ui, |ui| {
                    facts(ui, parcel, role);
                    if let ParcelStatus::Crowdfunding { goal, raised } = parcel.status {
                        ui.add(
                            egui::ProgressBar::new((raised as f32 / goal.max(1) as f32).min(1.0))
                                .text(format!(
                                    "{} of {} pledged ({}%)",
                                    dollars(raised),
                                    dollars(goal),
                                    percent(raised, goal)
                                ))
                                .fill(egui_color(status_color(Some(StatusKind::Crowdfunding)))),
                        );
                    }
                    ui.add_space(4.0);
                    description(ui, parcel, &actor, &mut drafts, &mut outgoing);
                    pledge(ui, parcel, role, &mut drafts, &mut outgoing);
                    if may_assign(&actor).is_ok() {
                        founder_controls(ui, parcel, &mut drafts, &mut outgoing);
                    }
                    answer(ui, &book, &id, time.elapsed_secs_f64(), &drafts);
                    history(ui, &book, &id);
                    ui.separator();
                    ui.horizontal(|ui| {
                        if ui.button("Show on map").clicked() {
                            atlas.open = true;
                            atlas.tab = AtlasTab::Island;
                            atlas.island = parcel.protocity.clone();
                            atlas.focus = Some(id.clone());
                        }
                        if ui.button("Close").clicked() {
                            selected.0 = None;
                        }
                    });
                });
        });
    if !open {
        selected.0 = None;
    }
    for request in outgoing {
        requests.write(Request(ToServer::Parcel(request)));
    }
    Ok(())
}

fn facts(ui: &mut egui::Ui, parcel: &ParcelInfo, role: Role) {
    let color = egui_color(status_color(Some(parcel.status.kind())));
    ui.horizontal(|ui| {
        let (dot, _) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
        ui.painter().circle_filled(dot.center(), 6.0, color);
        ui.heading(parcel.status.display());
    });
    egui::Grid::new("parcel_facts")
        .num_columns(2)
        .spacing([12.0, 4.0])
        .striped(true)
        .show(ui, |ui| {
            let row = |ui: &mut egui::Ui, label: &str, value: String| {
                ui.label(egui::RichText::new(label).weak());
                ui.label(value);
                ui.end_row();
            };
            let owner = match &parcel.owner {
                Owner::Member { key, name } => {
                    format!("{name} (member {})", &key[..8.min(key.len())])
                }
                Owner::Group(name) => format!("{name} (group)"),
                Owner::Unowned => "nobody yet".into(),
            };
            row(ui, "Held by", owner);
            row(ui, "Zoning", parcel.zoning.as_str().to_owned());
            row(ui, "Area", format!("{} m²", parcel.area_m2));
            row(
                ui,
                "To build or live",
                format!("{}s and above", parcel.residency),
            );
            row(ui, "Jurisdiction", parcel.jurisdiction.clone());
            match &parcel.title {
                Some(title) => {
                    row(ui, "Address", title.address.clone());
                    row(
                        ui,
                        "Coordinates",
                        format!("{:.5}, {:.5}", title.latitude, title.longitude),
                    );
                    ui.label(egui::RichText::new("Deed SHA-256").weak());
                    ui.horizontal(|ui| {
                        ui.monospace(format!(
                            "{}…",
                            &title.deed_hash[..16.min(title.deed_hash.len())]
                        ));
                        if ui.small_button("Copy").clicked() {
                            ui.ctx().copy_text(title.deed_hash.clone());
                        }
                    });
                    ui.end_row();
                }
                None => {
                    ui.label(egui::RichText::new("Title").weak());
                    ui.label(
                        egui::RichText::new(format!(
                            "Address, coordinates and deed are shown to members (you are a {role})."
                        ))
                        .italics(),
                    );
                    ui.end_row();
                }
            }
            row(
                ui,
                "Record",
                format!(
                    "version {} · {}",
                    parcel.version,
                    if parcel.updated_at > 0 {
                        utc_date_time(parcel.updated_at)
                    } else {
                        "from the world data".into()
                    }
                ),
            );
        });
}

fn description(
    ui: &mut egui::Ui,
    parcel: &ParcelInfo,
    actor: &Actor,
    drafts: &mut Drafts,
    outgoing: &mut Vec<ParcelRequest>,
) {
    ui.strong("About this parcel");
    let own = matches!(&parcel.owner, Owner::Member { key, .. } if Some(key) == actor.key.as_ref());
    if !(own || actor.role == Role::Founder) {
        ui.label(if parcel.description.is_empty() {
            "The owner has not written anything yet."
        } else {
            parcel.description.as_str()
        });
        return;
    }
    let draft = drafts
        .description
        .get_or_insert_with(|| parcel.description.clone());
    ui.add(
        egui::TextEdit::multiline(draft)
            .desired_rows(3)
            .desired_width(f32::INFINITY)
            .char_limit(MAX_DESCRIPTION_CHARS),
    );
    ui.horizontal(|ui| {
        let changed = *draft != parcel.description;
        if ui
            .add_enabled(changed, egui::Button::new("Save description"))
            .clicked()
        {
            outgoing.push(ParcelRequest::Describe {
                parcel: parcel.id.clone(),
                text: draft.clone(),
                expected_version: parcel.version,
            });
        }
        ui.small(format!(
            "{} / {MAX_DESCRIPTION_CHARS}",
            draft.chars().count()
        ));
    });
}

fn pledge(
    ui: &mut egui::Ui,
    parcel: &ParcelInfo,
    role: Role,
    drafts: &mut Drafts,
    outgoing: &mut Vec<ParcelRequest>,
) {
    if !matches!(parcel.status, ParcelStatus::Crowdfunding { .. }) {
        return;
    }
    ui.add_space(4.0);
    if role == Role::Visitor {
        ui.label(egui::RichText::new("Members can pledge towards this parcel.").italics());
        return;
    }
    ui.horizontal(|ui| {
        ui.label("Pledge $");
        ui.add(egui::TextEdit::singleline(&mut drafts.pledge).desired_width(90.0));
        if ui.button("Pledge").clicked() {
            match parse_dollars(&drafts.pledge, MAX_PLEDGE) {
                Ok(amount) => {
                    drafts.problem = None;
                    drafts.pledge.clear();
                    outgoing.push(ParcelRequest::Pledge {
                        parcel: parcel.id.clone(),
                        amount,
                    });
                }
                Err(problem) => drafts.problem = Some(format!("Pledge: {problem}")),
            }
        }
    });
}

fn founder_controls(
    ui: &mut egui::Ui,
    parcel: &ParcelInfo,
    drafts: &mut Drafts,
    outgoing: &mut Vec<ParcelRequest>,
) {
    egui::CollapsingHeader::new("Founder controls")
        .default_open(true)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label("Give to");
                egui::ComboBox::from_id_salt("owner_kind")
                    .width(80.0)
                    .selected_text(match drafts.owner_kind {
                        OwnerKind::Member => "member",
                        OwnerKind::Group => "group",
                        OwnerKind::Nobody => "nobody",
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut drafts.owner_kind, OwnerKind::Member, "member");
                        ui.selectable_value(&mut drafts.owner_kind, OwnerKind::Group, "group");
                        ui.selectable_value(&mut drafts.owner_kind, OwnerKind::Nobody, "nobody");
                    });
                if drafts.owner_kind != OwnerKind::Nobody {
                    ui.add(
                        egui::TextEdit::singleline(&mut drafts.owner_name)
                            .hint_text(if drafts.owner_kind == OwnerKind::Member {
                                "name or key"
                            } else {
                                "group name"
                            })
                            .char_limit(64)
                            .desired_width(130.0),
                    );
                }
                if ui.button("Assign").clicked() {
                    let name = drafts.owner_name.trim().to_owned();
                    let claim = match drafts.owner_kind {
                        OwnerKind::Nobody => Some(OwnerClaim::Unowned),
                        _ if name.is_empty() => None,
                        OwnerKind::Member => Some(OwnerClaim::Member(name)),
                        OwnerKind::Group if name.chars().count() > MAX_GROUP_CHARS => None,
                        OwnerKind::Group => Some(OwnerClaim::Group(name)),
                    };
                    match claim {
                        Some(owner) => {
                            drafts.problem = None;
                            outgoing.push(ParcelRequest::Assign {
                                parcel: parcel.id.clone(),
                                owner,
                                expected_version: parcel.version,
                            });
                        }
                        None => {
                            drafts.problem = Some(format!(
                                "Assign: give a name of 1 to {MAX_GROUP_CHARS} characters"
                            ));
                        }
                    }
                }
            });
            let current = parcel.status.kind();
            let chosen = drafts.status.get_or_insert(current);
            ui.horizontal(|ui| {
                ui.label("Status");
                for kind in StatusKind::ALL {
                    ui.radio_value(chosen, kind, kind.as_str());
                }
            });
            let chosen = *chosen;
            ui.horizontal(|ui| {
                let needs_amount = matches!(chosen, StatusKind::ForSale | StatusKind::Crowdfunding);
                if needs_amount {
                    ui.label(if chosen == StatusKind::ForSale {
                        "Price $"
                    } else {
                        "Goal $"
                    });
                    ui.add(egui::TextEdit::singleline(&mut drafts.amount).desired_width(110.0));
                }
                if ui.button("Set status").clicked() {
                    let choice = match chosen {
                        StatusKind::Owned => Ok(StatusChoice::Owned),
                        StatusKind::Reserved => Ok(StatusChoice::Reserved),
                        StatusKind::ForSale => parse_dollars(&drafts.amount, MAX_PRICE)
                            .map(|price| StatusChoice::ForSale { price }),
                        StatusKind::Crowdfunding => parse_dollars(&drafts.amount, MAX_PRICE)
                            .map(|goal| StatusChoice::Crowdfunding { goal }),
                    };
                    match choice {
                        Ok(status) => {
                            drafts.problem = None;
                            outgoing.push(ParcelRequest::SetStatus {
                                parcel: parcel.id.clone(),
                                status,
                                expected_version: parcel.version,
                            });
                        }
                        Err(problem) => drafts.problem = Some(format!("Status: {problem}")),
                    }
                }
            });
        });
}

fn answer(ui: &mut egui::Ui, book: &ParcelBook, id: &str, now: f64, drafts: &Drafts) {
    let red = egui::Color32::from_rgb(240, 110, 100);
    if let Some(problem) = &drafts.problem {
        ui.colored_label(red, problem);
    }
    let Some((at, outcome)) = book.answers.get(id) else {
        return;
    };
    if now - at > ANSWER_SECONDS {
        return;
    }
    match outcome {
        Ok(what) => ui.colored_label(
            egui::Color32::from_rgb(110, 220, 130),
            format!("Done: {what}"),
        ),
        Err(reason) => ui.colored_label(red, format!("Refused: {reason}")),
    };
}

fn history(ui: &mut egui::Ui, book: &ParcelBook, id: &str) {
    egui::CollapsingHeader::new("History")
        .default_open(true)
        .show(ui, |ui| match book.history.get(id) {
            Some(changes) => {
                for change in changes.iter().rev() {
                    ui.horizontal_wrapped(|ui| {
                        ui.monospace(format!("v{}", change.version));
                        ui.label(egui::RichText::new(utc_date_time(change.at)).small().weak());
                        ui.strong(&change.by);
                        ui.label(&change.what);
                    });
                }
            }
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Loading the history…");
                });
            }
        });
}
