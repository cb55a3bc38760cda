//! `archipelago-server admin recognition ...` and `admin census ...`: the nation's stage, its
//! relations with states and bodies, and the census, read and recorded at the command line.
//! Every change passes the same checks as a founder's in the client and is kept as history;
//! a running server notices it within two seconds.

use crate::storage::Storage;
use anyhow::Context;
use archipelago_shared::recognition::{
    Census, CensusRecord, RecognitionRequest, RecognizerKind, Relation, RelationChange, Stage,
    StageChange, Standing, date_words, parse_date,
};
use archipelago_shared::world::World;
use clap::Subcommand;

/// How changes made here are signed in the history.
const BY: &str = "admin (CLI)";

#[derive(Subcommand, Debug)]
pub enum RecognitionAction {
    /// The stage, what the next one requires, who recognizes the nation, and the timeline.
    Show,
    /// Record a stage reached: startup-society, network-union, network-archipelago or
    /// network-state. Skipping a stage or going back needs --reason.
    Stage {
        stage: String,
        /// The document it rests on.
        #[arg(long)]
        source: String,
        /// When it happened, YYYY-MM-DD (default: today).
        #[arg(long)]
        date: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Record a state's or body's relation: talks, memorandum, de-facto or de-jure.
    Relation {
        /// The state or body, e.g. "Republic of Palau".
        recognizer: String,
        relation: String,
        #[arg(long)]
        source: String,
        /// state or body.
        #[arg(long, default_value = "state")]
        kind: String,
        /// When it happened, YYYY-MM-DD (default: today).
        #[arg(long)]
        date: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CensusAction {
    /// Each protocity's latest census, its footprint from the land registry, and the totals
    /// (--history: every census recorded).
    Show {
        #[arg(long)]
        history: bool,
    },
    /// Record a protocity's census. The population is residents plus online members.
    Record {
        protocity: String,
        #[arg(long, allow_negative_numbers = true)]
        residents: i64,
        #[arg(long, allow_negative_numbers = true)]
        online_members: i64,
        /// Yearly income in whole dollars.
        #[arg(long, allow_negative_numbers = true)]
        income: i64,
        #[arg(long, allow_negative_numbers = true, default_value_t = 0)]
        parcels_crowdfunded: i64,
        /// Checked against residents plus online members when given.
        #[arg(long, allow_negative_numbers = true)]
        population: Option<i64>,
        #[arg(long)]
        source: String,
        /// The census date, YYYY-MM-DD (default: today).
        #[arg(long)]
        date: Option<String>,
    },
}

fn founded(world: &World) -> i64 {
    parse_date(&world.nation.founded).unwrap_or_default()
}

fn date(text: Option<&str>) -> anyhow::Result<i64> {
    match text {
        None => Ok(archipelago_shared::clock::unix_seconds()),
        Some(text) => parse_date(text)
            .with_context(|| format!("`{text}` is not a date of the form YYYY-MM-DD")),
    }
}

async fn record(
    storage: &Storage,
    world: &World,
    request: RecognitionRequest,
    json: bool,
) -> anyhow::Result<()> {
    let ids: Vec<&str> = world.protocities.iter().map(|p| p.id.as_str()).collect();
    let words = request.describe();
    storage
        .record_standing(&request, BY, founded(world), &ids)
        .await?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "recorded": words, "change": request })
        );
    } else {
        println!("{words}");
    }
    Ok(())
}

pub async fn recognition(
    storage: &Storage,
    world: &World,
    action: RecognitionAction,
    json: bool,
) -> anyhow::Result<()> {
    match action {
        RecognitionAction::Show => {
            let standing = storage.standing(founded(world)).await?;
            show_recognition(&standing, json)
        }
        RecognitionAction::Stage {
            stage,
            source,
            date: when,
            reason,
        } => {
            let stage = Stage::parse(&stage).with_context(|| {
                format!(
                    "`{stage}` is not a stage: use startup-society, network-union, \
                     network-archipelago or network-state"
                )
            })?;
            let change = StageChange {
                stage,
                at: date(when.as_deref())?,
                reason,
                source,
                recorded_by: BY.into(),
            };
            record(storage, world, RecognitionRequest::Stage(change), json).await
        }
        RecognitionAction::Relation {
            recognizer,
            relation,
            source,
            kind,
            date: when,
        } => {
            let relation = Relation::parse(&relation).with_context(|| {
                format!(
                    "`{relation}` is not a relation: use talks, memorandum, de-facto or de-jure"
                )
            })?;
            let kind = RecognizerKind::parse(&kind)
                .with_context(|| format!("`{kind}` is not a kind: use state or body"))?;
            let change = RelationChange {
                recognizer,
                kind,
                relation,
                at: date(when.as_deref())?,
                source,
                recorded_by: BY.into(),
            };
            record(storage, world, RecognitionRequest::Relation(change), json).await
        }
    }
}

fn show_recognition(standing: &Standing, json: bool) -> anyhow::Result<()> {
    let stage = standing.stage();
    if json {
        let recognizers: Vec<&RelationChange> = standing.recognizers();
        let timeline: Vec<serde_json::Value> = standing
            .timeline()
            .into_iter()
            .map(|m| serde_json::json!({ "at": m.at, "date": date_words(m.at), "what": m.words, "source": m.source }))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "stage": stage,
                "next_requires": stage.map(Stage::next_requires),
                "recognizers": recognizers,
                "timeline": timeline,
                "stages": standing.stages,
                "relations": standing.relations,
            }))?
        );
        return Ok(());
    }
    match stage {
        Some(stage) => {
            println!("Stage: {}", stage.title());
            println!("Next: {}", stage.next_requires());
        }
        None => println!("Stage: none recorded"),
    }
    println!();
    println!("Recognizers:");
    for r in standing.recognizers() {
        println!(
            "  {:<28} {:<5} {:<30} since {}",
            r.recognizer,
            r.kind.as_str(),
            r.relation.title(),
            date_words(r.at)
        );
    }
    println!();
    println!("Timeline:");
    for m in standing.timeline() {
        println!("  {}  {}  ({})", date_words(m.at), m.words, m.source);
    }
    Ok(())
}

pub async fn census(
    storage: &Storage,
    world: &World,
    action: CensusAction,
    json: bool,
) -> anyhow::Result<()> {
    match action {
        CensusAction::Show { history } => {
            let standing = storage.standing(founded(world)).await?;
            show_census(&standing, world, history, json)
        }
        CensusAction::Record {
            protocity,
            residents,
            online_members,
            income,
            parcels_crowdfunded,
            population,
            source,
            date: when,
        } => {
            let census = Census {
                population: population.unwrap_or(residents.saturating_add(online_members)),
                residents,
                online_members,
                yearly_income: income,
                parcels_crowdfunded,
            };
            let record_ = CensusRecord {
                protocity,
                at: date(when.as_deref())?,
                census,
                source,
                recorded_by: BY.into(),
            };
            record(storage, world, RecognitionRequest::Census(record_), json).await
        }
    }
}

fn show_census(
    standing: &Standing,
    world: &World,
    history: bool,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        let latest: Vec<serde_json::Value> = world
            .protocities
            .iter()
            .map(|p| {
                serde_json::json!({
                    "protocity": p.id,
                    "census": standing.census_of(&p.id),
                    "footprint_m2": standing.footprint_of(&p.id),
                })
            })
            .collect();
        let mut value = serde_json::json!({
            "protocities": latest,
            "total": standing.total(),
            "total_footprint_m2": standing.total_footprint(),
        });
        if history {
            value["history"] = serde_json::to_value(&standing.census)?;
            value["footprints"] = serde_json::to_value(&standing.footprints)?;
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let line = |name: &str, date: &str, c: &Census, footprint: i64| {
        println!(
            "{name:<16} {date:<10} {:>8} {:>9} {:>8} {:>14} {:>8} {:>12}",
            c.population,
            c.residents,
            c.online_members,
            format!("${}", c.yearly_income),
            c.parcels_crowdfunded,
            format!("{footprint} m²"),
        );
    };
    println!(
        "{:<16} {:<10} {:>8} {:>9} {:>8} {:>14} {:>8} {:>12}",
        "protocity", "date", "people", "residents", "online", "income/year", "parcels", "footprint"
    );
    for p in &world.protocities {
        if history {
            for record in standing.census.iter().filter(|c| c.protocity == p.id) {
                line(
                    &p.name,
                    &date_words(record.at),
                    &record.census,
                    standing.footprint_of(&p.id),
                );
            }
        } else if let Some(record) = standing.census_of(&p.id) {
            line(
                &p.name,
                &date_words(record.at),
                &record.census,
                standing.footprint_of(&p.id),
            );
        }
    }
    line("total", "", &standing.total(), standing.total_footprint());
    Ok(())
}
