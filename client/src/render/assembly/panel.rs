//! The session panel, shown while standing in a town hall: with a session, its agenda, who
//! has the floor, the queue and one's own hand; for the chair (and founders) the controls of
//! the floor and the agenda, the vote from the stage, and moderation of the people present.
//! Without a session, founders find the form to open one here.

use archipelago_shared::assembly::{
    AssemblyRequest, DEFAULT_FLOOR_SECONDS, DEFAULT_HALL_CAPACITY, HallSession, MAX_FLOOR_SECONDS,
    MAX_HALL_CAPACITY, MAX_REASON_CHARS, MAX_SESSION_TITLE_CHARS, MIN_FLOOR_SECONDS,
    ModerationAction, Person, parse_agenda,
};
use archipelago_shared::governance::Phase;
use archipelago_shared::parcels::utc_date_time;
use archipelago_shared::protocol::{AvatarProfile, Role};
use archipelago_shared::world::World;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use super::HallView;
use crate::assembly::{AssemblyAnswers, SendAssembly};
use crate::clock::ServerClock;
use crate::connection::Session;
use crate::governance::Governance;

/// Answers stay in the panel this long.
const ANSWER_SECONDS: f64 = 8.0;

/// What the panel holds between frames: the chair's floor time, a moderation reason, and the
/// opening form.
#[derive(Resource, Debug)]
pub struct AssemblyPanel {
    pub floor_seconds: u32,
    reason: String,
    title: String,
    /// One agenda item per line; "#12" at the end of a line links proposal 12.
    agenda: String,
    /// Whole key (hex) of the chair to name (empty: oneself).
    chair: String,
    /// How many the main hall holds.
    capacity: u32,
    /// Keys of those heard speaking now (for the people list).
    talking: Vec<String>,
}

impl Default for AssemblyPanel {
    fn default() -> Self {
        Self {
            floor_seconds: DEFAULT_FLOOR_SECONDS,
            reason: String::new(),
            title: String::new(),
            agenda: String::new(),
            chair: String::new(),
            capacity: DEFAULT_HALL_CAPACITY,
            talking: Vec::new(),
        }
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<AssemblyPanel>()
        .add_systems(EguiPrimaryContextPass, panel);
}

fn seconds_words(seconds: u32) -> String {
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one panel over several parts of the state"
)]
fn panel(
    mut contexts: EguiContexts,
    view: Res<HallView>,
    mut state: ResMut<AssemblyPanel>,
    session: Res<Session>,
    answers: Res<AssemblyAnswers>,
    governance: Res<Governance>,
    people: Query<&AvatarProfile>,
    world: Res<World>,
    clock: Res<ServerClock>,
    time: Res<Time>,
    mut send: MessageWriter<SendAssembly>,
    heard: Res<crate::voice::Heard>,
) -> Result {
    let Some((hall, protocity)) = view.hall.clone() else {
        return Ok(());
    };
    state.talking = heard
        .speaking(time.elapsed())
        .filter_map(|e| people.get(e).ok().map(|p| p.key.clone()))
        .collect();
    let role = session.role.unwrap_or(Role::Visitor);
    if view.session.is_none() && role != Role::Founder {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let hall_name = format!("{} town hall", world.protocities[hall].name);
    egui::Window::new(hall_name)
        .id(egui::Id::new("assembly"))
        .anchor(egui::Align2::RIGHT_TOP, egui::vec2(-10.0, 60.0))
        .default_width(320.0)
        .collapsible(true)
        .resizable(false)
        .show(ctx, |ui| {
            match &view.session {
                Some(hall_session) => session_view(
                    ui,
                    hall_session,
                    &view,
                    role,
                    &mut state,
                    &governance,
                    &people,
                    clock.now_ms(),
                    &mut send,
                ),
                None => open_form(ui, &protocity, &mut state, &people, &mut send),
            }
            if role == Role::Founder {
                moderation_log(ui, &answers, &mut send);
            }
            let now = time.elapsed_secs_f64();
            if let Some((at, outcome)) = answers.answers.last()
                && now - at < ANSWER_SECONDS
            {
                ui.separator();
                match outcome {
                    Ok(text) => ui.colored_label(egui::Color32::from_rgb(120, 220, 140), text),
                    Err(refusal) => ui
                        .colored_label(egui::Color32::from_rgb(240, 120, 100), refusal.to_string()),
                };
            }
        });
    Ok(())
}

/// Founders' view of the moderation log: who did what to whom, where, why and when.
fn moderation_log(
    ui: &mut egui::Ui,
    answers: &AssemblyAnswers,
    send: &mut MessageWriter<SendAssembly>,
) {
    egui::CollapsingHeader::new("Moderation log")
        .id_salt("moderation-log")
        .show(ui, |ui| {
            if ui.small_button("Refresh").clicked() {
                send.write(SendAssembly(AssemblyRequest::ModerationLog));
            }
            match &answers.moderation_log {
                None => {
                    ui.weak("Refresh to read it.");
                }
                Some(lines) if lines.is_empty() => {
                    ui.weak("Nobody has been muted, put out or banned.");
                }
                Some(lines) => {
                    egui::ScrollArea::vertical()
                        .max_height(140.0)
                        .show(ui, |ui| {
                            for line in lines.iter().rev() {
                                let until = line
                                    .until
                                    .map(|u| format!(" until {}", utc_date_time(u)))
                                    .unwrap_or_default();
                                let why = match line.reason.as_str() {
                                    "" => String::new(),
                                    reason => format!(": {reason}"),
                                };
                                ui.label(format!(
                                    "{} {} {} {} in {}{until}{why}",
                                    utc_date_time(line.at),
                                    line.actor,
                                    line.action,
                                    line.subject,
                                    line.protocity
                                ));
                            }
                        });
                }
            }
        });
}

fn person_label(person: &Person) -> String {
    format!("{} ({})", person.name, person.fingerprint())
}

#[expect(clippy::too_many_arguments, reason = "the panel's parts, passed down")]
fn session_view(
    ui: &mut egui::Ui,
    hall_session: &HallSession,
    view: &HallView,
    role: Role,
    state: &mut AssemblyPanel,
    governance: &Governance,
    people: &Query<&AvatarProfile>,
    now_ms: i64,
    send: &mut MessageWriter<SendAssembly>,
) {
    let protocity = hall_session.protocity.clone();
    let chairing = role == Role::Founder || hall_session.is_chair(&view.me);
    ui.heading(&hall_session.title);
    ui.label(format!(
        "Session {} · chair {}",
        hall_session.id, hall_session.chair.name
    ));
    let overflow = match hall_session.in_overflow {
        0 => String::new(),
        n => format!(" · {n} in the overflow room"),
    };
    ui.label(format!(
        "{} of {} in the hall{overflow}",
        hall_session.in_main, hall_session.capacity
    ));
    if view.in_overflow {
        ui.colored_label(
            egui::Color32::from_rgb(140, 200, 255),
            "The hall is full: you follow from the overflow room. You see the stage; your hand and your vote count the same.",
        );
    }
    ui.separator();

    ui.strong("Agenda");
    for (index, item) in hall_session.agenda.iter().enumerate() {
        let current = index == hall_session.current;
        let vote = item.proposal.map(|id| match governance.proposals.get(&id) {
            Some(v) => format!(" · vote #{id} {}", v.proposal.phase.as_str()),
            None => format!(" · vote #{id}"),
        });
        let text = format!("{}. {}{}", index + 1, item.title, vote.unwrap_or_default());
        ui.horizontal(|ui| {
            if current {
                ui.colored_label(egui::Color32::from_rgb(250, 210, 90), format!("> {text}"));
            } else {
                ui.weak(format!("  {text}"));
            }
            if chairing && !current && ui.small_button("go").clicked() {
                send.write(SendAssembly(AssemblyRequest::Agenda {
                    protocity: protocity.clone(),
                    item: index,
                }));
            }
        });
    }
    ui.separator();

    ui.strong("Floor");
    match &hall_session.floor {
        Some(floor) => {
            let left = hall_session.seconds_left(now_ms).unwrap_or(0);
            ui.horizontal(|ui| {
                ui.colored_label(
                    egui::Color32::from_rgb(250, 210, 90),
                    person_label(&floor.speaker),
                );
                ui.label(format!("{} left", seconds_words(left)));
            });
            let speaking = floor.speaker.key == view.me;
            if (chairing || speaking)
                && ui
                    .button(if speaking && !chairing {
                        "Yield the floor"
                    } else {
                        "Take the floor back"
                    })
                    .clicked()
            {
                send.write(SendAssembly(AssemblyRequest::EndFloor {
                    protocity: protocity.clone(),
                }));
            }
        }
        None => {
            ui.weak("Nobody has the floor.");
        }
    }
    ui.separator();

    ui.strong(format!("Raised hands ({})", hall_session.queue.len()));
    if hall_session.queue.is_empty() {
        ui.weak("Nobody is waiting. Press H to ask for the floor.");
    }
    for (index, person) in hall_session.queue.iter().enumerate() {
        ui.horizontal(|ui| {
            let mine = person.key == view.me;
            let text = format!("{}. {}", index + 1, person_label(person));
            if mine {
                ui.colored_label(
                    egui::Color32::from_rgb(140, 200, 255),
                    format!("{text} (you)"),
                );
            } else {
                ui.label(text);
            }
            if chairing && ui.small_button("give floor").clicked() {
                send.write(SendAssembly(AssemblyRequest::GiveFloor {
                    protocity: protocity.clone(),
                    to: Some(person.key.clone()),
                    seconds: state.floor_seconds,
                }));
            }
        });
    }
    let hand = match view.my_place_in_queue() {
        Some(_) => "Lower my hand (H)",
        None => "Raise my hand (H)",
    };
    if role != Role::Visitor && ui.button(hand).clicked() {
        send.write(SendAssembly(if view.my_place_in_queue().is_some() {
            AssemblyRequest::LowerHand
        } else {
            AssemblyRequest::RaiseHand
        }));
    }
    if role == Role::Visitor {
        ui.weak("Visitors listen; members ask for the floor.");
    }

    if !chairing {
        return;
    }
    ui.separator();
    ui.strong("Chair");
    ui.add(
        egui::Slider::new(
            &mut state.floor_seconds,
            MIN_FLOOR_SECONDS..=MAX_FLOOR_SECONDS.min(600),
        )
        .text("s per speaker"),
    );
    let mut floor_only = hall_session.floor_only;
    if ui
        .checkbox(&mut floor_only, "Only the floor speaks (no murmur)")
        .changed()
    {
        send.write(SendAssembly(AssemblyRequest::FloorOnly {
            protocity: protocity.clone(),
            on: floor_only,
        }));
    }
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(
                !hall_session.queue.is_empty(),
                egui::Button::new("Floor to next"),
            )
            .clicked()
        {
            send.write(SendAssembly(AssemblyRequest::GiveFloor {
                protocity: protocity.clone(),
                to: None,
                seconds: state.floor_seconds,
            }));
        }
        let next = hall_session.current + 1;
        if ui
            .add_enabled(
                next < hall_session.agenda.len(),
                egui::Button::new("Next item"),
            )
            .clicked()
        {
            send.write(SendAssembly(AssemblyRequest::Agenda {
                protocity: protocity.clone(),
                item: next,
            }));
        }
        let draft = hall_session
            .current_item()
            .and_then(|item| item.proposal)
            .filter(|id| {
                governance
                    .proposals
                    .get(id)
                    .is_some_and(|v| v.proposal.phase == Phase::Draft)
            });
        if let Some(id) = draft
            && ui.button(format!("Open the vote on #{id}")).clicked()
        {
            send.write(SendAssembly(AssemblyRequest::OpenVote {
                protocity: protocity.clone(),
            }));
        }
        if ui.button("Close the session").clicked() {
            send.write(SendAssembly(AssemblyRequest::Close {
                protocity: protocity.clone(),
            }));
        }
    });

    egui::CollapsingHeader::new("People here")
        .id_salt("assembly-people")
        .show(ui, |ui| {
            ui.add(
                egui::TextEdit::singleline(&mut state.reason)
                    .char_limit(MAX_REASON_CHARS)
                    .hint_text("reason (written to the log)"),
            );
            let mut everyone: Vec<&AvatarProfile> = people.iter().collect();
            everyone.sort_by(|a, b| a.name.cmp(&b.name));
            egui::ScrollArea::vertical()
                .max_height(160.0)
                .show(ui, |ui| {
                    for profile in everyone {
                        if profile.key == view.me {
                            continue;
                        }
                        ui.horizontal(|ui| {
                            let talking = if state.talking.contains(&profile.key) {
                                " · talking"
                            } else {
                                ""
                            };
                            ui.label(format!(
                                "{} ({}) · {}{talking}",
                                profile.name,
                                profile.fingerprint(),
                                profile.role
                            ));
                            if profile.role == Role::Founder {
                                return;
                            }
                            let actions = [
                                ("mute 10 min", ModerationAction::Mute { minutes: Some(10) }),
                                ("unmute", ModerationAction::Unmute),
                                ("put out", ModerationAction::Remove),
                                ("ban 1 h", ModerationAction::Ban { minutes: Some(60) }),
                            ];
                            for (words, action) in actions {
                                if ui.small_button(words).clicked() {
                                    send.write(SendAssembly(AssemblyRequest::Moderate {
                                        protocity: protocity.clone(),
                                        whom: profile.key.clone(),
                                        action,
                                        reason: state.reason.clone(),
                                    }));
                                }
                            }
                        });
                    }
                });
        });
}

fn open_form(
    ui: &mut egui::Ui,
    protocity: &str,
    state: &mut AssemblyPanel,
    people: &Query<&AvatarProfile>,
    send: &mut MessageWriter<SendAssembly>,
) {
    ui.label("No session here. As a founder you may open one.");
    ui.add(
        egui::TextEdit::singleline(&mut state.title)
            .char_limit(MAX_SESSION_TITLE_CHARS)
            .hint_text("title, e.g. Spring assembly"),
    );
    ui.label("Agenda, one item per line; end a line with #N to vote on proposal N:");
    ui.add(
        egui::TextEdit::multiline(&mut state.agenda)
            .desired_rows(4)
            .hint_text("Welcome\nThe harbour charter #3\nAny other business"),
    );
    let mut names: Vec<(String, String)> = people
        .iter()
        .map(|p| (p.key.clone(), format!("{} ({})", p.name, p.fingerprint())))
        .collect();
    names.sort_by(|a, b| a.1.cmp(&b.1));
    let selected = names
        .iter()
        .find(|(fp, _)| *fp == state.chair)
        .map_or("me".to_owned(), |(_, label)| label.clone());
    egui::ComboBox::from_label("chair")
        .selected_text(selected)
        .show_ui(ui, |ui| {
            ui.selectable_value(&mut state.chair, String::new(), "me");
            for (fp, label) in &names {
                ui.selectable_value(&mut state.chair, fp.clone(), label);
            }
        });
    ui.horizontal(|ui| {
        ui.label("the hall holds");
        ui.add(egui::DragValue::new(&mut state.capacity).range(1..=MAX_HALL_CAPACITY));
        ui.label("people; more follow from the overflow room");
    });
    let agenda = parse_agenda(&state.agenda);
    let ready = !state.title.trim().is_empty() && !agenda.is_empty();
    if ui
        .add_enabled(ready, egui::Button::new("Open the session"))
        .clicked()
    {
        send.write(SendAssembly(AssemblyRequest::Open {
            protocity: protocity.to_owned(),
            title: state.title.clone(),
            agenda,
            chair: (!state.chair.is_empty()).then(|| state.chair.clone()),
            capacity: Some(state.capacity),
        }));
    }
}
