//! `archipelago-server admin session ...` and `admin moderation ...`: the minutes of town
//! hall sessions and the moderation log, for founders at the command line.

use crate::assembly::storage::Minutes;
use crate::storage::Storage;
use archipelago_shared::assembly::SessionId;
use archipelago_shared::parcels::utc_date_time;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum SessionAction {
    /// List sessions, newest first.
    List,
    /// Print a session's minutes: who attended, and everything that happened, in order.
    Minutes { id: SessionId },
}

#[derive(Subcommand, Debug)]
pub enum ModerationAction {
    /// Every mute, removal and ban, oldest first: who, whom, where, why, when.
    Log,
    /// Mutes and bans in force now.
    Active,
}

fn time(at: i64) -> String {
    utc_date_time(at)
}

pub async fn sessions(storage: &Storage, action: SessionAction, json: bool) -> anyhow::Result<()> {
    match action {
        SessionAction::List => {
            let sessions = storage.sessions().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&sessions)?);
                return Ok(());
            }
            for s in &sessions {
                let state = match s.closed_at {
                    Some(at) => format!("closed {}", time(at)),
                    None => "open".into(),
                };
                println!(
                    "#{:<4} {:<12} {:<40} opened {} ({state})",
                    s.id,
                    s.protocity,
                    s.title,
                    time(s.opened_at)
                );
            }
            println!("{} sessions", sessions.len());
        }
        SessionAction::Minutes { id } => {
            let minutes = storage.minutes(id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&minutes)?);
            } else {
                print_minutes(&minutes);
            }
        }
    }
    Ok(())
}

fn print_minutes(minutes: &Minutes) {
    let s = &minutes.session;
    println!("Minutes of session #{}: {}", s.id, s.title);
    println!(
        "Town hall of {}; chair {}; opened by {}",
        s.protocity, s.chair_name, s.opened_by
    );
    match s.closed_at {
        Some(at) => println!("From {} to {}", time(s.opened_at), time(at)),
        None => println!("From {} (still open)", time(s.opened_at)),
    }
    println!();
    println!("Agenda:");
    for (i, item) in s.agenda.iter().enumerate() {
        match item.proposal {
            Some(p) => println!("  {}. {} (proposal #{p})", i + 1, item.title),
            None => println!("  {}. {}", i + 1, item.title),
        }
    }
    println!();
    println!("Attendance ({}):", minutes.attendees.len());
    for a in &minutes.attendees {
        let until = a.last_left.map_or("the close".to_owned(), time);
        println!(
            "  {:<36} from {} until {until}",
            a.name,
            time(a.first_joined)
        );
    }
    println!();
    println!("Proceedings:");
    for e in &minutes.entries {
        match &e.who {
            Some(who) => println!("  {}  {:<13} {who}: {}", time(e.at), e.kind, e.detail),
            None => println!("  {}  {:<13} {}", time(e.at), e.kind, e.detail),
        }
    }
}

pub async fn moderation(
    storage: &Storage,
    action: ModerationAction,
    json: bool,
) -> anyhow::Result<()> {
    match action {
        ModerationAction::Log => {
            let log = storage.moderation_log(None).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&log)?);
                return Ok(());
            }
            for l in &log {
                let until = l
                    .until
                    .map(|u| format!(" until {}", time(u)))
                    .unwrap_or_default();
                println!(
                    "{}  {} {} {} in {}{until}: {}",
                    time(l.at),
                    l.actor,
                    l.action,
                    l.subject,
                    l.protocity,
                    if l.reason.is_empty() {
                        "(no reason given)"
                    } else {
                        &l.reason
                    }
                );
            }
            println!("{} actions", log.len());
        }
        ModerationAction::Active => {
            let active = storage.sanctions_in_force().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&active)?);
                return Ok(());
            }
            for s in &active {
                let place = s
                    .protocity
                    .as_deref()
                    .map(|p| format!(" from {p}"))
                    .unwrap_or_default();
                let until = s
                    .until
                    .map_or("until lifted".to_owned(), |u| format!("until {}", time(u)));
                println!(
                    "{:?} {}{place} {until}: {}",
                    s.kind, s.subject_name, s.reason
                );
            }
            println!("{} in force", active.len());
        }
    }
    Ok(())
}
