//! `archipelago-server admin proposal ...` and `archipelago-server verify FILE`: founders'
//! governance from the command line, and the offline recount of an export.

use std::path::{Path, PathBuf};

use crate::storage::Storage;
use anyhow::Context;
use archipelago_shared::governance::tally::{Tally, VoteType, tally};
use archipelago_shared::governance::{
    Eligibility, Export, Phase, Proposal, ProposalDraft, ProposalId, Scope, describe_result,
    verify_export,
};
use archipelago_shared::parcels::{Actor, utc_date_time};
use archipelago_shared::protocol::Role;
use archipelago_shared::world::World;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum ProposalAction {
    /// List proposals, newest first.
    List {
        /// Only proposals in this phase: draft, open or closed.
        #[arg(long)]
        phase: Option<String>,
    },
    /// Show one proposal with its count.
    Show { id: ProposalId },
    /// Write a new proposal (a draft until opened).
    Create {
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        body: String,
        /// `nation` or a protocity id.
        #[arg(long, default_value = "nation")]
        scope: String,
        /// Who may vote: member, resident, founder (that role and above) or landholders.
        #[arg(long, default_value = "member")]
        eligible: String,
        /// yes-no, single, approval, ranked or quadratic:CREDITS.
        #[arg(long = "type", default_value = "yes-no")]
        vote_type: String,
        /// An option (repeat for each; none for yes-no).
        #[arg(long = "option")]
        options: Vec<String>,
        /// How long voting lasts once open, in minutes.
        #[arg(long, default_value_t = 60)]
        minutes: u32,
        /// Ballots needed for a decision.
        #[arg(long, default_value_t = 1)]
        quorum: u32,
        /// Percent of the decisive votes needed to pass (at least).
        #[arg(long, default_value_t = 50)]
        threshold: u32,
        /// Show only the turnout until voting closes.
        #[arg(long)]
        hidden_tally: bool,
        /// Open for voting right away.
        #[arg(long, conflicts_with = "opens_in")]
        open: bool,
        /// Open by itself this many minutes from now (the running server opens it).
        #[arg(long)]
        opens_in: Option<u32>,
    },
    /// Open a draft for voting now.
    Open { id: ProposalId },
    /// Close an open proposal now; its result is final.
    Close { id: ProposalId },
    /// Write every signed ballot of a closed proposal and its result, for `verify`.
    Export {
        id: ProposalId,
        /// File to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn parse_vote_type(text: &str) -> anyhow::Result<VoteType> {
    Ok(match text {
        "yes-no" => VoteType::YesNo,
        "single" => VoteType::SingleChoice,
        "approval" => VoteType::Approval,
        "ranked" => VoteType::RankedChoice,
        _ => match text.strip_prefix("quadratic:").map(str::parse) {
            Some(Ok(credits)) => VoteType::Quadratic { credits },
            _ => anyhow::bail!(
                "`{text}` is not a vote type: use yes-no, single, approval, ranked or quadratic:CREDITS"
            ),
        },
    })
}

fn parse_eligibility(text: &str) -> anyhow::Result<Eligibility> {
    if text == "landholders" {
        return Ok(Eligibility::Landholders);
    }
    match Role::parse(text) {
        Some(role) if role > Role::Visitor => Ok(Eligibility::AtLeast(role)),
        _ => anyhow::bail!("`{text}`: give member, resident, founder or landholders"),
    }
}

fn line(p: &Proposal) -> String {
    let when = match p.phase {
        Phase::Draft => match p.draft.opens_at {
            Some(at) => format!("opens {}", utc_date_time(at)),
            None => "not opened".to_owned(),
        },
        Phase::Open => format!("closes {}", p.closes_at.map_or("?".into(), utc_date_time)),
        Phase::Closed => format!("closed {}", p.closed_at.map_or("?".into(), utc_date_time)),
    };
    format!(
        "#{:<4} {:<7} {:<14} {:<44} {when}",
        p.id,
        p.phase.as_str(),
        p.draft.vote_type.name(),
        p.draft.title
    )
}

fn print_tally(draft: &ProposalDraft, tally: &Tally) {
    let labels = draft.labels();
    println!(
        "  turnout {} (quorum {}), threshold {}%: {}",
        tally.turnout,
        draft.quorum,
        draft.threshold_percent,
        describe_result(draft, tally)
    );
    for (label, count) in labels.iter().zip(&tally.counts) {
        println!("    {count:>8}  {label}");
    }
    for (n, round) in tally.rounds.iter().enumerate() {
        let counts: Vec<String> = round
            .iter()
            .map(|c| c.map_or("-".into(), |c| c.to_string()))
            .collect();
        println!("    round {}: {}", n + 1, counts.join(" / "));
    }
}

pub async fn run(
    storage: &Storage,
    world: &World,
    action: ProposalAction,
    json: bool,
) -> anyhow::Result<()> {
    let admin = Actor::admin();
    let print = |p: &Proposal| -> anyhow::Result<()> {
        if json {
            println!("{}", serde_json::to_string_pretty(p)?);
        } else {
            println!("{}", line(p));
        }
        Ok(())
    };
    match action {
        ProposalAction::List { phase } => {
            let phase = match phase {
                Some(text) => Some(Phase::parse(&text).with_context(|| {
                    format!("`{text}` is not a phase: use draft, open or closed")
                })?),
                None => None,
            };
            let mut proposals: Vec<Proposal> = storage
                .proposals()
                .await?
                .into_iter()
                .filter(|p| phase.is_none_or(|phase| p.phase == phase))
                .collect();
            proposals.reverse();
            if json {
                println!("{}", serde_json::to_string_pretty(&proposals)?);
            } else {
                for p in &proposals {
                    println!("{}", line(p));
                }
                println!("{} proposals", proposals.len());
            }
        }
        ProposalAction::Show { id } => {
            let proposal = storage.proposal(id).await?;
            let count = match &proposal.result {
                Some(result) => result.clone(),
                None => {
                    let ballots: Vec<_> = storage
                        .counted_ballots(id)
                        .await?
                        .into_iter()
                        .map(|(_, c)| c)
                        .collect();
                    tally(&proposal.draft.rules(), &ballots)
                }
            };
            if json {
                let value = serde_json::json!({ "proposal": proposal, "count": count });
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("{}", line(&proposal));
                println!(
                    "  by {} on {}",
                    proposal.author,
                    utc_date_time(proposal.created_at)
                );
                let scope = match &proposal.draft.scope {
                    Scope::Nation => "the nation".to_owned(),
                    Scope::Protocity(id) => id.clone(),
                };
                println!(
                    "  for {scope}; {} may vote",
                    proposal.draft.eligibility.describe(&proposal.draft.scope)
                );
                println!("  digest {}", proposal.digest);
                if !proposal.draft.body.is_empty() {
                    println!("  {}", proposal.draft.body);
                }
                print_tally(&proposal.draft, &count);
            }
        }
        ProposalAction::Create {
            title,
            body,
            scope,
            eligible,
            vote_type,
            options,
            minutes,
            quorum,
            threshold,
            hidden_tally,
            open,
            opens_in,
        } => {
            let draft = ProposalDraft {
                title,
                body,
                scope: if scope == "nation" {
                    Scope::Nation
                } else {
                    Scope::Protocity(scope)
                },
                eligibility: parse_eligibility(&eligible)?,
                vote_type: parse_vote_type(&vote_type)?,
                options,
                opens_at: opens_in
                    .map(|m| archipelago_shared::clock::unix_seconds() + i64::from(m) * 60),
                voting_secs: minutes.saturating_mul(60),
                quorum,
                threshold_percent: threshold,
                live_tally: !hidden_tally,
            };
            let ids: Vec<&str> = world.protocities.iter().map(|p| p.id.as_str()).collect();
            let mut proposal = storage.create_proposal(&admin, &draft, &ids).await?;
            if open {
                proposal = storage.open_proposal(&admin, proposal.id).await?;
            }
            print(&proposal)?;
        }
        ProposalAction::Open { id } => print(&storage.open_proposal(&admin, id).await?)?,
        ProposalAction::Close { id } => {
            let closed = storage.close_proposal(&admin, id).await?;
            print(&closed)?;
            if let (false, Some(result)) = (json, &closed.result) {
                print_tally(&closed.draft, result);
            }
        }
        ProposalAction::Export { id, out } => {
            let export = storage.export(id, &world.nation.name).await?;
            let text = serde_json::to_string_pretty(&export)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "wrote {} ballots of proposal {id} to {}",
                        export.ballots.len(),
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
        }
    }
    Ok(())
}

/// `archipelago-server verify FILE`: recounts an export; fails unless it matches.
pub fn verify(file: &Path, json: bool) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let export: Export = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a ballot export", file.display()))?;
    let report = verify_export(&export);
    let draft = &export.proposal.draft;
    if json {
        let value = serde_json::json!({ "matches": report.matches(), "report": report });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "proposal #{} \"{}\" of {}",
            export.proposal.id, draft.title, export.nation
        );
        println!(
            "{} ballots, {} with a valid signature",
            report.ballots, report.signatures_valid
        );
        for problem in &report.problems {
            println!("  problem: {problem}");
        }
        println!("recount:");
        print_tally(draft, &report.recount);
        match &report.claimed {
            Some(claimed) if *claimed == report.recount => {
                println!("the recount matches the published result")
            }
            Some(claimed) => {
                println!("published result:");
                print_tally(draft, claimed);
            }
            None => println!("the export has no published result"),
        }
    }
    if report.matches() {
        Ok(())
    } else {
        anyhow::bail!("verification failed: the export does not match its published result")
    }
}
