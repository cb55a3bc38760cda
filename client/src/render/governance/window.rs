//! The governance window (G, or the ballot kiosk in a town hall): open and past proposals,
//! a proposal's text and options, this member's vote and receipt, the count as a chart, and
//! for founders the controls to write, open and close proposals. Ballots are signed by
//! [`CastVote`]; the server checks everything again.

use archipelago_shared::governance::tally::{Choice, MAX_OPTIONS, Outcome, VoteType, YesNo};
use archipelago_shared::governance::{
    Eligibility, GovernanceRequest, MAX_BODY_CHARS, MAX_TITLE_CHARS, Phase, ProposalDraft,
    ProposalId, ProposalView, Scope, check_draft, countdown, describe_choice, describe_result,
    quadratic_budget_left,
};
use archipelago_shared::parcels::utc_date_time;
use archipelago_shared::protocol::{Role, ToServer};
use archipelago_shared::world::World;
use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use egui_plot::{Bar, BarChart, Plot};

use crate::clock::ServerClock;
use crate::connection::{Request, Session};
use crate::governance::{CastVote, Governance};

/// Answers older than this fade from the window.
const ANSWER_SECONDS: f64 = 15.0;

/// Where the window is and what it shows.
#[derive(Resource, Debug, Default)]
pub struct GovernanceWindow {
    pub open: bool,
    pub selected: Option<ProposalId>,
    /// Opened at a town hall's kiosk: only that hall's proposals (and the nation's).
    pub kiosk: Option<String>,
    ballot: BallotDraft,
    new: Option<NewProposal>,
}

/// The ballot being filled in, reset when another proposal is selected.
#[derive(Debug, Default)]
struct BallotDraft {
    proposal: Option<ProposalId>,
    single: Option<u8>,
    approved: Vec<bool>,
    ranking: Vec<u8>,
    votes: Vec<u32>,
}

/// A founder's new proposal form.
#[derive(Debug, Clone)]
struct NewProposal {
    title: String,
    body: String,
    scope: Option<String>,
    eligibility: Eligibility,
    kind: usize,
    options: String,
    credits: u32,
    minutes: u32,
    quorum: u32,
    threshold: u32,
    live: bool,
    /// Open by itself this many minutes after saving (else when a founder opens it).
    opens_in: Option<u32>,
}

impl Default for NewProposal {
    fn default() -> Self {
        Self {
            title: String::new(),
            body: String::new(),
            scope: None,
            eligibility: Eligibility::AtLeast(Role::Member),
            kind: 0,
            options: String::new(),
            credits: 100,
            minutes: 30,
            quorum: 3,
            threshold: 50,
            live: true,
            opens_in: None,
        }
    }
}

const KINDS: [&str; 5] = [
    "yes / no",
    "single choice",
    "approval",
    "ranked choice",
    "quadratic",
];

impl NewProposal {
    /// The draft as it stands, a draft that opens later counted from `now` (server clock).
    fn draft(&self, now: i64) -> ProposalDraft {
        let vote_type = match self.kind {
            0 => VoteType::YesNo,
            1 => VoteType::SingleChoice,
            2 => VoteType::Approval,
            3 => VoteType::RankedChoice,
            _ => VoteType::Quadratic {
                credits: self.credits,
            },
        };
        let options = if vote_type == VoteType::YesNo {
            Vec::new()
        } else {
            self.options
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        };
        ProposalDraft {
            title: self.title.clone(),
            body: self.body.clone(),
            scope: self.scope.clone().map_or(Scope::Nation, Scope::Protocity),
            eligibility: self.eligibility,
            vote_type,
            options,
            opens_at: self.opens_in.map(|minutes| now + i64::from(minutes) * 60),
            voting_secs: self.minutes.saturating_mul(60),
            quorum: self.quorum,
            threshold_percent: self.threshold,
            live_tally: self.live,
        }
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<GovernanceWindow>()
        .add_systems(EguiPrimaryContextPass, window);
}

/// The phase in words, with the time left while open.
pub(super) fn status_line(view: &ProposalView, now: i64) -> String {
    let p = &view.proposal;
    match p.phase {
        Phase::Draft => match p.draft.opens_at {
            Some(at) => format!("draft: opens by itself in {}", countdown(at - now)),
            None => "draft: not open yet".into(),
        },
        Phase::Open => format!(
            "open: closes in {}",
            countdown(p.closes_at.unwrap_or(now) - now)
        ),
        Phase::Closed => match &p.result {
            Some(result) => format!("closed: {}", describe_result(&p.draft, result)),
            None => "closed".into(),
        },
    }
}

fn window(
    mut contexts: EguiContexts,
    mut state: ResMut<GovernanceWindow>,
    book: Res<Governance>,
    session: Res<Session>,
    world: Res<World>,
    clock: Res<ServerClock>,
    time: Res<Time>,
    mut votes: MessageWriter<CastVote>,
    mut requests: MessageWriter<Request>,
) -> Result {
    if !state.open {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let now = clock.now();
    let role = session.role.unwrap_or(Role::Visitor);
    let title = match &state.kiosk {
        Some(id) => format!(
            "Ballot kiosk: town hall of {}",
            world.protocity(id).map_or(id.as_str(), |p| p.name.as_str())
        ),
        None => "Governance (G)".to_owned(),
    };
    let mut still_open = true;
    let mut outgoing: Vec<GovernanceRequest> = Vec::new();
    let mut cast: Option<CastVote> = None;
    egui::Window::new(title)
        .id(egui::Id::new("governance"))
        .open(&mut still_open)
        .default_width(720.0)
        .default_height(520.0)
        .default_pos(egui::pos2(40.0, 70.0))
        .show(ctx, |ui| {
            if !book.loaded {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Waiting for the proposals…");
                });
                return;
            }
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.set_width(230.0);
                    list(ui, &mut state, &book, role, now);
                });
                ui.separator();
                ui.vertical(|ui| {
                    if state.new.is_some() {
                        new_form(ui, &mut state, &world, now, &mut outgoing);
                    } else if let Some(view) = state.selected.and_then(|id| book.proposals.get(&id))
                    {
                        proposal_view(
                            ui,
                            &mut state,
                            view,
                            &book,
                            role,
                            now,
                            &mut cast,
                            &mut outgoing,
                        );
                    } else {
                        ui.label("Choose a proposal on the left.");
                    }
                });
            });
            let recent = book
                .answers
                .iter()
                .rev()
                .take_while(|(at, _, _)| time.elapsed_secs_f64() - at < ANSWER_SECONDS)
                .take(2);
            for (_, _, answer) in recent {
                match answer {
                    Ok(text) => ui.colored_label(egui::Color32::from_rgb(120, 200, 120), text),
                    Err(refusal) => ui
                        .colored_label(egui::Color32::from_rgb(240, 120, 100), refusal.to_string()),
                };
            }
        });
    state.open = still_open;
    if !still_open {
        state.kiosk = None;
    }
    if let Some(vote) = cast {
        votes.write(vote);
    }
    for request in outgoing {
        requests.write(Request(ToServer::Governance(request)));
    }
    Ok(())
}

fn list(ui: &mut egui::Ui, state: &mut GovernanceWindow, book: &Governance, role: Role, now: i64) {
    let in_scope = |view: &&ProposalView| match (&state.kiosk, &view.proposal.draft.scope) {
        (None, _) | (Some(_), Scope::Nation) => true,
        (Some(hall), Scope::Protocity(id)) => hall == id,
    };
    let mut selected = state.selected;
    egui::ScrollArea::vertical()
        .max_height(420.0)
        .show(ui, |ui| {
            for (phase, heading) in [
                (Phase::Open, "Open for voting"),
                (Phase::Draft, "Drafts"),
                (Phase::Closed, "Decided"),
            ] {
                let views: Vec<&ProposalView> = book
                    .proposals
                    .values()
                    .rev()
                    .filter(|v| v.proposal.phase == phase)
                    .filter(in_scope)
                    .collect();
                if views.is_empty() && phase != Phase::Open {
                    continue;
                }
                ui.strong(heading);
                if views.is_empty() {
                    ui.weak("Nothing to vote on right now.");
                }
                for view in views {
                    let p = &view.proposal;
                    let voted = if book.my_ballots.contains_key(&p.id) {
                        "  (voted)"
                    } else {
                        ""
                    };
                    let text = format!("#{} {}{voted}", p.id, p.draft.title);
                    if ui.selectable_label(selected == Some(p.id), text).clicked() {
                        selected = Some(p.id);
                    }
                    ui.weak(format!(
                        "   {}; {} of {} ballots",
                        status_line(view, now),
                        view.turnout,
                        p.draft.quorum
                    ));
                }
                ui.add_space(6.0);
            }
        });
    if selected != state.selected {
        state.selected = selected;
        state.new = None;
    }
    if role == Role::Founder && state.kiosk.is_none() && ui.button("New proposal…").clicked() {
        state.new = Some(NewProposal::default());
    }
}

fn proposal_view(
    ui: &mut egui::Ui,
    state: &mut GovernanceWindow,
    view: &ProposalView,
    book: &Governance,
    role: Role,
    now: i64,
    cast: &mut Option<CastVote>,
    outgoing: &mut Vec<GovernanceRequest>,
) {
    let p = &view.proposal;
    let draft = &p.draft;
    ui.heading(&draft.title);
    let scope = match &draft.scope {
        Scope::Nation => "the whole nation".to_owned(),
        Scope::Protocity(id) => id.clone(),
    };
    ui.label(format!(
        "#{} by {} on {}. For {scope}; {} may vote.",
        p.id,
        p.author,
        utc_date_time(p.created_at),
        draft.eligibility.describe(&draft.scope)
    ));
    ui.label(format!(
        "{} vote. Quorum {} ballots, passes at {}% or more.",
        draft.vote_type.name(),
        draft.quorum,
        draft.threshold_percent
    ));
    ui.strong(status_line(view, now));
    if !draft.body.is_empty() {
        egui::ScrollArea::vertical()
            .id_salt("body")
            .max_height(90.0)
            .show(ui, |ui| ui.label(&draft.body));
    }
    ui.separator();
    let turnout = view.turnout as f32;
    let quorum = draft.quorum.max(1) as f32;
    ui.add(egui::ProgressBar::new((turnout / quorum).min(1.0)).text(
        if view.turnout >= draft.quorum {
            format!(
                "{} ballots: quorum of {} reached",
                view.turnout, draft.quorum
            )
        } else {
            format!(
                "{} ballots of the {} needed for a quorum",
                view.turnout, draft.quorum
            )
        },
    ));
    match &view.tally {
        Some(tally) => chart(ui, draft, tally),
        None => {
            ui.weak("The count is shown when voting closes.");
        }
    }
    ui.separator();
    if let Some(mine) = book.my_ballots.get(&p.id) {
        ui.label(format!(
            "Your ballot: {}",
            describe_choice(draft, &mine.choice)
        ));
        ui.weak(format!(
            "Receipt {} (stored {}). It is counted: check it in the export after closing.",
            &mine.receipt[..16.min(mine.receipt.len())],
            utc_date_time(mine.stored_at)
        ));
    }
    if book.in_flight.contains_key(&p.id) {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Sending your ballot…");
        });
    }
    if p.phase == Phase::Open && p.closes_at.is_some_and(|end| now < end) {
        if role == Role::Visitor {
            ui.weak("Visitors cannot vote. Ask a founder to make you a member.");
        } else {
            ballot_form(ui, state, view, cast);
        }
    }
    if role == Role::Founder {
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("Founder:");
            match p.phase {
                Phase::Draft => {
                    if ui.button("Open voting now").clicked() {
                        outgoing.push(GovernanceRequest::Open(p.id));
                    }
                }
                Phase::Open => {
                    if ui.button("Close voting now").clicked() {
                        outgoing.push(GovernanceRequest::Close(p.id));
                    }
                }
                Phase::Closed => {
                    ui.weak(format!(
                        "export: archipelago-server admin proposal export {}",
                        p.id
                    ));
                }
            }
        });
    }
}

/// The count as horizontal bars, with the winner highlighted; ranked rounds below.
fn chart(
    ui: &mut egui::Ui,
    draft: &ProposalDraft,
    tally: &archipelago_shared::governance::tally::Tally,
) {
    let labels = draft.labels();
    let bars: Vec<Bar> = tally
        .counts
        .iter()
        .enumerate()
        .map(|(i, count)| {
            let won = tally.winner == Some(i as u8) && tally.outcome == Outcome::Passed;
            let color = if won {
                egui::Color32::from_rgb(240, 190, 60)
            } else {
                egui::Color32::from_rgb(90, 150, 230)
            };
            Bar::new(-(i as f64), *count as f64)
                .width(0.7)
                .fill(color)
                .name(labels.get(i).cloned().unwrap_or_default())
        })
        .collect();
    let names = labels.clone();
    Plot::new("tally")
        .height(30.0 + 28.0 * labels.len() as f32)
        .show_axes([true, true])
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .show_grid([true, false])
        .y_axis_formatter(move |mark, _| {
            let i = (-mark.value).round();
            if (mark.value + i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("count", bars).horizontal());
        });
    ui.label(format!(
        "{} ballots; if it closed now: {}",
        tally.turnout,
        describe_result(draft, tally)
    ));
    if tally.rounds.len() > 1 {
        egui::CollapsingHeader::new(format!("Instant-runoff rounds ({})", tally.rounds.len()))
            .show(ui, |ui| {
                for (n, round) in tally.rounds.iter().enumerate() {
                    let cells: Vec<String> = round
                        .iter()
                        .zip(&labels)
                        .filter_map(|(c, label)| c.map(|c| format!("{label} {c}")))
                        .collect();
                    ui.label(format!("Round {}: {}", n + 1, cells.join(", ")));
                }
            });
    }
}

fn ballot_form(
    ui: &mut egui::Ui,
    state: &mut GovernanceWindow,
    view: &ProposalView,
    cast: &mut Option<CastVote>,
) {
    let p = &view.proposal;
    let labels = p.draft.labels();
    let n = labels.len().min(MAX_OPTIONS);
    if state.ballot.proposal != Some(p.id) {
        state.ballot = BallotDraft {
            proposal: Some(p.id),
            approved: vec![false; n],
            votes: vec![0; n],
            ..default()
        };
    }
    let ballot = &mut state.ballot;
    let vote = |choice: Choice| CastVote {
        proposal: p.id,
        choice,
    };
    ui.strong("Your vote");
    match p.draft.vote_type {
        VoteType::YesNo => {
            ui.horizontal(|ui| {
                for (answer, text) in [
                    (YesNo::Yes, "Yes"),
                    (YesNo::No, "No"),
                    (YesNo::Abstain, "Abstain"),
                ] {
                    if ui.button(text).clicked() {
                        *cast = Some(vote(Choice::YesNo(answer)));
                    }
                }
            });
        }
        VoteType::SingleChoice => {
            for (i, label) in labels.iter().enumerate().take(n) {
                ui.radio_value(&mut ballot.single, Some(i as u8), label);
            }
            let ready = ballot.single.is_some();
            if ui
                .add_enabled(ready, egui::Button::new("Cast ballot"))
                .clicked()
                && let Some(i) = ballot.single
            {
                *cast = Some(vote(Choice::Single(i)));
            }
        }
        VoteType::Approval => {
            for (i, label) in labels.iter().enumerate().take(n) {
                ui.checkbox(&mut ballot.approved[i], label);
            }
            if ui.button("Cast ballot").clicked() {
                let chosen = (0..n as u8).filter(|i| ballot.approved[usize::from(*i)]);
                *cast = Some(vote(Choice::Approval(chosen.collect())));
            }
        }
        VoteType::RankedChoice => {
            ui.weak("Rank the options you support, most preferred first.");
            let mut remove = None;
            let mut raise = None;
            for (rank, option) in ballot.ranking.iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.label(format!("{}. {}", rank + 1, labels[usize::from(*option)]));
                    if rank > 0 && ui.small_button("up").clicked() {
                        raise = Some(rank);
                    }
                    if ui.small_button("remove").clicked() {
                        remove = Some(rank);
                    }
                });
            }
            if let Some(rank) = raise {
                ballot.ranking.swap(rank, rank - 1);
            }
            if let Some(rank) = remove {
                ballot.ranking.remove(rank);
            }
            ui.horizontal_wrapped(|ui| {
                for (i, label) in labels.iter().enumerate().take(n) {
                    if !ballot.ranking.contains(&(i as u8))
                        && ui.button(format!("rank {label}")).clicked()
                    {
                        ballot.ranking.push(i as u8);
                    }
                }
            });
            let ready = !ballot.ranking.is_empty();
            if ui
                .add_enabled(ready, egui::Button::new("Cast ballot"))
                .clicked()
            {
                *cast = Some(vote(Choice::Ranked(ballot.ranking.clone())));
            }
        }
        VoteType::Quadratic { credits } => {
            for (i, label) in labels.iter().enumerate().take(n) {
                ui.horizontal(|ui| {
                    ui.add(egui::DragValue::new(&mut ballot.votes[i]).range(0..=100));
                    ui.label(format!("{label}  (costs {})", ballot.votes[i].pow(2)));
                });
            }
            let left = quadratic_budget_left(credits, &ballot.votes);
            let fits = left >= 0;
            ui.label(format!("{left} of {credits} credits left"));
            if ui
                .add_enabled(fits, egui::Button::new("Cast ballot"))
                .clicked()
            {
                *cast = Some(vote(Choice::Quadratic(ballot.votes.clone())));
            }
        }
    }
}

fn new_form(
    ui: &mut egui::Ui,
    state: &mut GovernanceWindow,
    world: &World,
    now: i64,
    outgoing: &mut Vec<GovernanceRequest>,
) {
    let Some(form) = state.new.as_mut() else {
        return;
    };
    ui.heading("New proposal");
    egui::Grid::new("new-proposal")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("Title");
            ui.add(egui::TextEdit::singleline(&mut form.title).char_limit(MAX_TITLE_CHARS));
            ui.end_row();
            ui.label("Text");
            ui.add(
                egui::TextEdit::multiline(&mut form.body)
                    .desired_rows(3)
                    .char_limit(MAX_BODY_CHARS),
            );
            ui.end_row();
            ui.label("For");
            egui::ComboBox::from_id_salt("scope")
                .selected_text(form.scope.clone().unwrap_or("the whole nation".into()))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut form.scope, None, "the whole nation");
                    for p in &world.protocities {
                        ui.selectable_value(&mut form.scope, Some(p.id.clone()), &p.name);
                    }
                });
            ui.end_row();
            ui.label("Who votes");
            egui::ComboBox::from_id_salt("eligibility")
                .selected_text(form.eligibility.describe(&Scope::Nation))
                .show_ui(ui, |ui| {
                    for choice in [
                        Eligibility::AtLeast(Role::Member),
                        Eligibility::AtLeast(Role::Resident),
                        Eligibility::AtLeast(Role::Founder),
                        Eligibility::Landholders,
                    ] {
                        ui.selectable_value(
                            &mut form.eligibility,
                            choice,
                            choice.describe(&Scope::Nation),
                        );
                    }
                });
            ui.end_row();
            ui.label("Vote");
            egui::ComboBox::from_id_salt("kind")
                .selected_text(KINDS[form.kind])
                .show_ui(ui, |ui| {
                    for (i, kind) in KINDS.iter().enumerate() {
                        ui.selectable_value(&mut form.kind, i, *kind);
                    }
                });
            ui.end_row();
            if form.kind > 0 {
                ui.label("Options\n(one a line)");
                ui.add(egui::TextEdit::multiline(&mut form.options).desired_rows(3));
                ui.end_row();
            }
            if form.kind == 4 {
                ui.label("Credits each");
                ui.add(egui::DragValue::new(&mut form.credits).range(1..=10_000));
                ui.end_row();
            }
            ui.label("Opens");
            ui.horizontal(|ui| {
                let mut scheduled = form.opens_in.is_some();
                ui.checkbox(&mut scheduled, "by itself in");
                let mut minutes = form.opens_in.unwrap_or(60);
                ui.add_enabled(
                    scheduled,
                    egui::DragValue::new(&mut minutes)
                        .range(1..=86_400)
                        .suffix(" min"),
                );
                form.opens_in = scheduled.then_some(minutes);
                if !scheduled {
                    ui.weak("(else when a founder opens it)");
                }
            });
            ui.end_row();
            ui.label("Open for");
            ui.add(
                egui::DragValue::new(&mut form.minutes)
                    .range(1..=86_400)
                    .suffix(" min"),
            );
            ui.end_row();
            ui.label("Quorum");
            ui.add(
                egui::DragValue::new(&mut form.quorum)
                    .range(0..=1_000_000)
                    .suffix(" ballots"),
            );
            ui.end_row();
            ui.label("Passes at");
            ui.add(egui::Slider::new(&mut form.threshold, 1..=100).suffix(" %"));
            ui.end_row();
            ui.label("Count");
            ui.checkbox(&mut form.live, "show the count live while voting");
            ui.end_row();
        });
    let draft = form.draft(now);
    let ids: Vec<&str> = world.protocities.iter().map(|p| p.id.as_str()).collect();
    // The same check the server makes, so mistakes show before anything is sent.
    let checked = check_draft(&draft, &ids, now);
    if let Err(problem) = &checked {
        ui.colored_label(egui::Color32::from_rgb(240, 160, 90), problem.to_string());
    }
    let mut done = false;
    ui.horizontal(|ui| {
        if ui
            .add_enabled(checked.is_ok(), egui::Button::new("Save as draft"))
            .clicked()
        {
            outgoing.push(GovernanceRequest::Create(draft));
            done = true;
        }
        if ui.button("Cancel").clicked() {
            done = true;
        }
    });
    if done {
        state.new = None;
    }
}
