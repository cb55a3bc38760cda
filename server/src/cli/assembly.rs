//! `archipelago-server admin session ...`, `admin moderation ...` and `admin event ...`: the
//! minutes of town hall sessions, the moderation log and the calendar of live events, for
//! founders at the command line.

use anyhow::Context;
use archipelago_server::storage::Storage;
use archipelago_server::storage::assembly::Minutes;
use archipelago_shared::assembly::{DEFAULT_HALL_CAPACITY, SessionId};
use archipelago_shared::events::{Event, EventDraft, EventId, calendar};
use archipelago_shared::parcels::utc_date_time;
use archipelago_shared::protocol::Role;
use archipelago_shared::world::World;
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

#[derive(Subcommand, Debug)]
pub enum EventAction {
    /// The calendar: events under way or to come (--all: past and called off too).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Schedule an event in a protocity's town hall (a running server announces it).
    Create {
        #[arg(long)]
        title: String,
        /// The protocity whose town hall holds it.
        #[arg(long)]
        hall: String,
        /// Starts this many minutes from now.
        #[arg(long, default_value_t = 0)]
        starts_in: u32,
        /// How long it lasts, in minutes.
        #[arg(long, default_value_t = 60)]
        minutes: u32,
        /// How many the main hall holds; more follow from the overflow room.
        #[arg(long, default_value_t = DEFAULT_HALL_CAPACITY)]
        capacity: u32,
        /// Who may attend: visitor (everyone), member, resident or founder, and above.
        #[arg(long, default_value = "visitor")]
        audience: String,
    },
    /// Call off an event that has not ended.
    Cancel { id: EventId },
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

fn print_event(event: &Event, now: i64) {
    let state = if event.cancelled_at.is_some() {
        "called off"
    } else if event.is_live(now) {
        "LIVE"
    } else if event.is_current(now) {
        "upcoming"
    } else {
        "over"
    };
    println!(
        "#{:<4} {:<10} {} for {} min  {:<12} {:<36} capacity {}, {}",
        event.id,
        state,
        time(event.draft.starts_at),
        event.draft.minutes,
        event.draft.protocity,
        event.draft.title,
        event.draft.capacity,
        match event.draft.audience {
            Role::Visitor => "open to everyone".to_owned(),
            role => format!("{role}s and above"),
        }
    );
}

pub async fn events(
    storage: &Storage,
    world: &World,
    action: EventAction,
    json: bool,
) -> anyhow::Result<()> {
    let now = archipelago_server::storage::unix_now();
    match action {
        EventAction::List { all } => {
            let events = storage.events().await?;
            let shown: Vec<&Event> = if all {
                events.iter().collect()
            } else {
                calendar(&events, now)
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&shown)?);
                return Ok(());
            }
            for event in &shown {
                print_event(event, now);
            }
            println!("{} events", shown.len());
        }
        EventAction::Create {
            title,
            hall,
            starts_in,
            minutes,
            capacity,
            audience,
        } => {
            let audience = Role::parse(&audience).with_context(|| {
                format!("`{audience}` is not a role: use visitor, member, resident or founder")
            })?;
            let draft = EventDraft {
                title,
                protocity: hall,
                starts_at: now + i64::from(starts_in) * 60,
                minutes,
                capacity,
                audience,
            };
            let ids: Vec<&str> = world.protocities.iter().map(|p| p.id.as_str()).collect();
            let event = storage.schedule_event("admin (CLI)", &draft, &ids).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&event)?);
            } else {
                print_event(&event, now);
            }
        }
        EventAction::Cancel { id } => {
            let event = storage.cancel_event(id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&event)?);
            } else {
                print_event(&event, now);
            }
        }
    }
    Ok(())
}
