//! `archipelago-server admin grant-role | enroll | members`: the member registry at the
//! command line. A running server applies a role change to the person's live connection
//! within a second.

use std::path::PathBuf;

use anyhow::Context;
use archipelago_shared::protocol::Role;
use clap::Subcommand;

use crate::storage::Storage;

#[derive(Subcommand, Debug)]
pub enum MemberAction {
    /// Give a member a role: visitor, member, resident or founder.
    GrantRole {
        /// The member's display name (any case), public key, or the key's first 16 or more
        /// hex digits. The key acted on is printed.
        who: String,
        role: String,
    },
    /// List every member of the registry.
    Members,
    /// Register many keys with one role: a file with one "KEY NAME" line each
    /// (as `archipelago-bots --print-keys` writes; `-` reads standard input).
    Enroll {
        file: PathBuf,
        #[arg(long, default_value = "member")]
        role: String,
    },
}

/// Runs one of the registry's admin commands.
pub async fn run(storage: &Storage, action: MemberAction, json: bool) -> anyhow::Result<()> {
    match action {
        MemberAction::GrantRole { who, role } => {
            let role = Role::parse(&role).with_context(|| {
                format!("`{role}` is not a role: use visitor, member, resident or founder")
            })?;
            let member = storage.grant_role(&who, role, "admin cli").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&member)?);
            } else {
                println!(
                    "{} ({}) is now a {}",
                    member.name, member.public_key, member.role
                );
            }
            Ok(())
        }
        MemberAction::Enroll { file, role } => {
            let role = Role::parse(&role).with_context(|| {
                format!("`{role}` is not a role: use visitor, member, resident or founder")
            })?;
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read {}", file.display()))?
            };
            let mut lines = Vec::new();
            for (n, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                let (key, name) = line
                    .trim()
                    .split_once(' ')
                    .with_context(|| format!("line {}: expected \"KEY NAME\"", n + 1))?;
                archipelago_shared::identity::parse_key_hex(key).with_context(|| {
                    format!("line {}: `{key}` is not a 64-digit hex key", n + 1)
                })?;
                archipelago_shared::identity::validate_name(name)
                    .with_context(|| format!("line {}: bad name", n + 1))?;
                lines.push((key.to_lowercase(), name.trim().to_owned()));
            }
            let enrolled = storage.enroll(&lines, role, "admin cli").await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "enrolled": enrolled, "role": role })
                );
            } else {
                println!("{enrolled} keys are now {role}s");
            }
            Ok(())
        }
        MemberAction::Members => {
            let members = storage.members().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&members)?);
            } else {
                for m in &members {
                    println!("{:<9} {:<24} {}", m.role, m.name, m.public_key);
                }
                println!("{} members", members.len());
            }
            Ok(())
        }
    }
}
