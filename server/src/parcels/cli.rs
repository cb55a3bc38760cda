//! `archipelago-server admin parcel ...`: the land registry at the command line, with a
//! founder's powers, recorded as "admin (CLI)". Every change passes the same checks as a
//! founder's in the client; a running server notices it within half a second.

use anyhow::Context;
use archipelago_shared::parcels::{
    Actor, OwnerClaim, ParcelFilter, ParcelInfo, ParcelRequest, StatusChoice, StatusKind, percent,
    utc_date_time,
};
use clap::Subcommand;

use crate::storage::Storage;

#[derive(Subcommand, Debug)]
pub enum ParcelAction {
    /// List parcels, optionally only those matching a search.
    List {
        /// Part of a parcel id, or an owner's name.
        query: Option<String>,
        /// owned, for-sale, crowdfunding or reserved.
        #[arg(long)]
        status: Option<String>,
        /// A protocity id.
        #[arg(long)]
        protocity: Option<String>,
    },
    /// Show one parcel with its history.
    Show { id: String },
    /// Give a parcel to `nobody`, `member:NAME_OR_KEY` or `group:NAME`.
    Assign { id: String, owner: String },
    /// Set a parcel's status: owned, for-sale --price N, crowdfunding --goal N, reserved.
    Status {
        id: String,
        status: String,
        /// Asking price in whole dollars (for-sale).
        #[arg(long)]
        price: Option<u64>,
        /// Goal in whole dollars (crowdfunding).
        #[arg(long)]
        goal: Option<u64>,
    },
    /// Rewrite a parcel's description.
    Describe { id: String, text: String },
}

/// `nobody`, `member:NAME_OR_KEY` or `group:NAME`.
fn parse_owner(text: &str) -> anyhow::Result<OwnerClaim> {
    match text.split_once(':') {
        _ if text == "nobody" => Ok(OwnerClaim::Unowned),
        Some(("member", who)) if !who.is_empty() => Ok(OwnerClaim::Member(who.to_owned())),
        Some(("group", name)) if !name.is_empty() => Ok(OwnerClaim::Group(name.to_owned())),
        _ => anyhow::bail!("`{text}`: give nobody, member:NAME_OR_KEY or group:NAME"),
    }
}

fn parse_status(
    status: &str,
    price: Option<u64>,
    goal: Option<u64>,
) -> anyhow::Result<StatusChoice> {
    match (StatusKind::parse(status), price, goal) {
        (Some(StatusKind::Owned), None, None) => Ok(StatusChoice::Owned),
        (Some(StatusKind::Reserved), None, None) => Ok(StatusChoice::Reserved),
        (Some(StatusKind::ForSale), Some(price), None) => Ok(StatusChoice::ForSale { price }),
        (Some(StatusKind::Crowdfunding), None, Some(goal)) => {
            Ok(StatusChoice::Crowdfunding { goal })
        }
        (Some(StatusKind::ForSale), _, _) => anyhow::bail!("for-sale needs --price (only)"),
        (Some(StatusKind::Crowdfunding), _, _) => anyhow::bail!("crowdfunding needs --goal (only)"),
        (Some(_), _, _) => anyhow::bail!("--price and --goal go with for-sale and crowdfunding"),
        (None, _, _) => {
            anyhow::bail!(
                "`{status}` is not a status: use owned, for-sale, crowdfunding or reserved"
            )
        }
    }
}

fn print_parcel_line(p: &ParcelInfo) {
    println!(
        "{:<8} {:<15} {:<13} {:<36} {}",
        p.id,
        p.protocity,
        p.zoning.as_str(),
        p.owner.display(),
        p.status.display()
    );
}

/// Runs `admin parcel ACTION`.
pub async fn run(storage: &Storage, action: ParcelAction, json: bool) -> anyhow::Result<()> {
    match action {
        ParcelAction::List {
            query,
            status,
            protocity,
        } => {
            let status = match status {
                Some(text) => Some(StatusKind::parse(&text).with_context(|| {
                    format!(
                        "`{text}` is not a status: use owned, for-sale, crowdfunding or reserved"
                    )
                })?),
                None => None,
            };
            let filter = ParcelFilter {
                text: query.unwrap_or_default(),
                status,
                protocity,
            };
            let parcels: Vec<ParcelInfo> = storage
                .parcels()
                .await?
                .into_iter()
                .filter(|p| filter.matches(p))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&parcels)?);
            } else {
                for p in &parcels {
                    print_parcel_line(p);
                }
                println!("{} parcels", parcels.len());
            }
        }
        ParcelAction::Show { id } => {
            let parcel = storage.parcel(&id).await?;
            let history = storage.parcel_history(&id, None).await?;
            let (pledged, pledges) = storage.pledges(&id).await?;
            if json {
                let value = serde_json::json!({
                    "parcel": parcel,
                    "history": history,
                    "pledges": { "count": pledges, "total": pledged },
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print_parcel_line(&parcel);
                if let Some(title) = &parcel.title {
                    println!("  address:      {}", title.address);
                    println!(
                        "  coordinates:  {:.5}, {:.5}",
                        title.latitude, title.longitude
                    );
                    println!("  deed sha-256: {}", title.deed_hash);
                }
                println!("  jurisdiction: {}", parcel.jurisdiction);
                println!("  area:         {} m²", parcel.area_m2);
                println!("  residency:    {} or above", parcel.residency);
                println!("  description:  {}", parcel.description);
                if let archipelago_shared::parcels::ParcelStatus::Crowdfunding { goal, raised } =
                    parcel.status
                {
                    println!(
                        "  pledges:      {pledges} in world, {}% of the goal raised",
                        percent(raised, goal)
                    );
                }
                println!("  history (version {}):", parcel.version);
                for change in &history {
                    println!(
                        "    v{:<3} {}  {:<16} {}",
                        change.version,
                        utc_date_time(change.at),
                        change.by,
                        change.what
                    );
                }
            }
        }
        ParcelAction::Assign { id, owner } => {
            let owner = parse_owner(&owner)?;
            let current = storage.parcel(&id).await?;
            let request = ParcelRequest::Assign {
                parcel: id,
                owner,
                expected_version: current.version,
            };
            report_change(storage, &request, json).await?;
        }
        ParcelAction::Status {
            id,
            status,
            price,
            goal,
        } => {
            let status = parse_status(&status, price, goal)?;
            let current = storage.parcel(&id).await?;
            let request = ParcelRequest::SetStatus {
                parcel: id,
                status,
                expected_version: current.version,
            };
            report_change(storage, &request, json).await?;
        }
        ParcelAction::Describe { id, text } => {
            let current = storage.parcel(&id).await?;
            let request = ParcelRequest::Describe {
                parcel: id,
                text,
                expected_version: current.version,
            };
            report_change(storage, &request, json).await?;
        }
    }
    Ok(())
}

async fn report_change(
    storage: &Storage,
    request: &ParcelRequest,
    json: bool,
) -> anyhow::Result<()> {
    let (parcel, what) = storage.change_parcel(&Actor::admin(), request).await?;
    if json {
        let value = serde_json::json!({ "parcel": parcel, "change": what });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{} v{}: {what}", parcel.id, parcel.version);
    }
    Ok(())
}
