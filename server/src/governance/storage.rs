//! Governance tables: proposals and ballots. Every rule that needs the database (the voter's
//! current role, their land, their previous ballot, the proposal's phase) is checked inside
//! the transaction that stores the ballot, and a ballot is acknowledged only once that
//! transaction has committed. Ballots arrive in batches: one commit (one disk flush) stores a
//! whole batch, which is what lets a hall full of people vote at once.

use std::collections::HashMap;

use archipelago_shared::governance::tally::{self, Choice};
use archipelago_shared::governance::{
    Ballot, BallotReceipt, EXPORT_FORMAT, Export, ExportedBallot, GovernanceRefusal, Phase,
    PhaseAct, Proposal, ProposalAct, ProposalDraft, ProposalId, SignedBallot, check_ballot,
    check_draft, may_vote, proposal_digest, receipt, verify_ballot,
};
use archipelago_shared::identity::to_hex;
use archipelago_shared::parcels::Actor;
use archipelago_shared::protocol::Role;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::storage::Storage;

/// The columns a row of `proposals` is read from (never `SELECT *`: see `crate::storage`).
const PROPOSAL_COLUMNS: &str = "id, draft, phase, result, revision, author, created_at, digest, opened_at, closes_at, closed_at";

/// Why a governance change was not stored.
#[derive(Debug, thiserror::Error)]
pub enum GovernanceError {
    #[error(transparent)]
    Refused(#[from] GovernanceRefusal),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored proposal {proposal} is unreadable: {problem}")]
    Corrupt {
        proposal: ProposalId,
        problem: String,
    },
}

impl GovernanceError {
    /// What the person who asked is told; database details stay in the log.
    pub fn for_client(&self) -> GovernanceRefusal {
        match self {
            GovernanceError::Refused(refusal) => refusal.clone(),
            _ => GovernanceRefusal::Unavailable,
        }
    }
}

/// A ballot to store, with who sent it.
#[derive(Debug, Clone)]
pub struct CastBallot {
    pub signed: SignedBallot,
    /// The key the sender logged in with.
    pub logged_in_key: [u8; 32],
    pub name: String,
}

impl CastBallot {
    /// A ballot signed by `key` and sent by that key's owner, as tools and tests cast them.
    pub fn signed_by(key: &ed25519_dalek::SigningKey, ballot: Ballot, name: &str) -> Self {
        let signed = archipelago_shared::governance::sign_ballot(key, ballot);
        Self {
            logged_in_key: signed.ballot.voter,
            name: name.to_owned(),
            signed,
        }
    }
}

fn corrupt(proposal: ProposalId, problem: impl ToString) -> GovernanceError {
    GovernanceError::Corrupt {
        proposal,
        problem: problem.to_string(),
    }
}

fn proposal_from_row(row: &SqliteRow) -> Result<Proposal, GovernanceError> {
    let id: i64 = row.try_get("id")?;
    let id = id as ProposalId;
    let draft: String = row.try_get("draft")?;
    let phase: String = row.try_get("phase")?;
    let result: Option<String> = row.try_get("result")?;
    let revision: i64 = row.try_get("revision")?;
    Ok(Proposal {
        id,
        draft: serde_json::from_str(&draft).map_err(|e| corrupt(id, e))?,
        author: row.try_get("author")?,
        created_at: row.try_get("created_at")?,
        digest: row.try_get("digest")?,
        phase: Phase::parse(&phase).ok_or_else(|| corrupt(id, format!("phase `{phase}`")))?,
        opened_at: row.try_get("opened_at")?,
        closes_at: row.try_get("closes_at")?,
        closed_at: row.try_get("closed_at")?,
        result: result
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|e| corrupt(id, e))?,
        revision: revision as u32,
    })
}

/// This database's deployment id, made at the first need.
async fn deployment_id(tx: &mut SqliteConnection) -> Result<String, sqlx::Error> {
    if let Some(id) = sqlx::query_scalar("SELECT id FROM deployment LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?
    {
        return Ok(id);
    }
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    let id = to_hex(&bytes);
    sqlx::query("INSERT INTO deployment (id) VALUES (?)")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    Ok(id)
}

async fn load(tx: &mut SqliteConnection, id: ProposalId) -> Result<Proposal, GovernanceError> {
    let Ok(key) = i64::try_from(id) else {
        return Err(GovernanceRefusal::UnknownProposal(id).into());
    };
    let row = sqlx::query(&format!(
        "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = ?"
    ))
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(GovernanceRefusal::UnknownProposal(id))?;
    proposal_from_row(&row)
}

/// The role the registry gives a key now (not at its login); the CLI is a founder.
async fn current_role(tx: &mut SqliteConnection, key: Option<&str>) -> Result<Role, sqlx::Error> {
    let Some(key) = key else {
        return Ok(Role::Founder);
    };
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM members WHERE public_key = ?")
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(role
        .as_deref()
        .and_then(Role::parse)
        .unwrap_or(Role::Visitor))
}

async fn require_founder(
    tx: &mut SqliteConnection,
    actor: &Actor,
    what: ProposalAct,
) -> Result<(), GovernanceError> {
    if current_role(tx, actor.key.as_deref()).await? == Role::Founder {
        Ok(())
    } else {
        Err(GovernanceRefusal::NotFounder(what).into())
    }
}

fn wrong_phase(proposal: &Proposal, action: PhaseAct) -> GovernanceError {
    GovernanceRefusal::WrongPhase {
        id: proposal.id,
        phase: proposal.phase,
        action,
    }
    .into()
}

/// Each voter's counted (last) ballot on a proposal.
async fn counted(
    tx: &mut SqliteConnection,
    id: ProposalId,
) -> Result<Vec<(String, Choice)>, GovernanceError> {
    let rows = sqlx::query(
        "SELECT voter_key, choice FROM ballots b
         WHERE proposal_id = ? AND sequence =
           (SELECT MAX(sequence) FROM ballots WHERE proposal_id = b.proposal_id AND voter_key = b.voter_key)
         ORDER BY voter_key",
    )
    .bind(id as i64)
    .fetch_all(&mut *tx)
    .await?;
    rows.iter()
        .map(|row| {
            let choice: String = row.try_get("choice")?;
            Ok((
                row.try_get("voter_key")?,
                serde_json::from_str(&choice).map_err(|e| corrupt(id, e))?,
            ))
        })
        .collect()
}

/// Opens a draft inside `tx`.
async fn open_in(
    tx: &mut SqliteConnection,
    proposal: &Proposal,
    at: i64,
) -> Result<Proposal, GovernanceError> {
    if proposal.phase != Phase::Draft {
        return Err(wrong_phase(proposal, PhaseAct::Opened));
    }
    let closes_at = at + i64::from(proposal.draft.voting_secs);
    sqlx::query(
        "UPDATE proposals SET phase = 'open', opened_at = ?, closes_at = ?, revision = revision + 1
         WHERE id = ?",
    )
    .bind(at)
    .bind(closes_at)
    .bind(proposal.id as i64)
    .execute(&mut *tx)
    .await?;
    load(tx, proposal.id).await
}

/// Closes an open proposal inside `tx`, counting its ballots once and for all.
async fn close_in(
    tx: &mut SqliteConnection,
    proposal: &Proposal,
    at: i64,
) -> Result<Proposal, GovernanceError> {
    if proposal.phase != Phase::Open {
        return Err(wrong_phase(proposal, PhaseAct::Closed));
    }
    let ballots: Vec<Choice> = counted(tx, proposal.id)
        .await?
        .into_iter()
        .map(|(_, choice)| choice)
        .collect();
    let result = tally::tally(&proposal.draft.rules(), &ballots);
    let result = serde_json::to_string(&result).map_err(|e| corrupt(proposal.id, e))?;
    sqlx::query(
        "UPDATE proposals SET phase = 'closed', closed_at = ?, result = ?, revision = revision + 1
         WHERE id = ?",
    )
    .bind(at)
    .bind(result)
    .bind(proposal.id as i64)
    .execute(&mut *tx)
    .await?;
    load(tx, proposal.id).await
}

impl Storage {
    /// Stores a founder's draft. `protocities` are the ids a scope may name.
    pub async fn create_proposal(
        &self,
        actor: &Actor,
        draft: &ProposalDraft,
        protocities: &[&str],
    ) -> Result<Proposal, GovernanceError> {
        let at = self.now();
        let draft = check_draft(draft, protocities, at).map_err(GovernanceRefusal::from)?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        require_founder(&mut tx, actor, ProposalAct::Create).await?;
        let json = serde_json::to_string(&draft).map_err(|e| corrupt(0, e))?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO proposals (draft, digest, author, author_key, created_at, phase, opens_at)
             VALUES (?, '', ?, ?, ?, 'draft', ?) RETURNING id",
        )
        .bind(&json)
        .bind(&actor.name)
        .bind(&actor.key)
        .bind(at)
        .bind(draft.opens_at)
        .fetch_one(&mut *tx)
        .await?;
        // The digest covers the deployment and the id, which only exists once the row does.
        let deployment = deployment_id(&mut tx).await?;
        sqlx::query("UPDATE proposals SET digest = ?, deployment = ? WHERE id = ?")
            .bind(proposal_digest(Some(&deployment), id as ProposalId, &draft))
            .bind(&deployment)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let proposal = load(&mut tx, id as ProposalId).await?;
        tx.commit().await?;
        Ok(proposal)
    }

    /// Opens a draft for voting now.
    pub async fn open_proposal(
        &self,
        actor: &Actor,
        id: ProposalId,
    ) -> Result<Proposal, GovernanceError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        require_founder(&mut tx, actor, ProposalAct::Open).await?;
        let proposal = load(&mut tx, id).await?;
        let opened = open_in(&mut tx, &proposal, self.now()).await?;
        tx.commit().await?;
        Ok(opened)
    }

    /// Closes an open proposal now; its result is final.
    pub async fn close_proposal(
        &self,
        actor: &Actor,
        id: ProposalId,
    ) -> Result<Proposal, GovernanceError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        require_founder(&mut tx, actor, ProposalAct::Close).await?;
        let proposal = load(&mut tx, id).await?;
        let closed = close_in(&mut tx, &proposal, self.now()).await?;
        tx.commit().await?;
        Ok(closed)
    }

    /// Opens drafts whose opening time has come and closes proposals whose voting time is
    /// over; returns what changed.
    pub async fn advance_proposals(&self, at: i64) -> Result<Vec<Proposal>, GovernanceError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let due = sqlx::query(&format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE (phase = 'draft' AND opens_at <= ?)
               OR (phase = 'open' AND closes_at <= ?) ORDER BY id"
        ))
        .bind(at)
        .bind(at)
        .fetch_all(&mut *tx)
        .await?;
        let mut changed = Vec::new();
        for row in &due {
            let proposal = proposal_from_row(row)?;
            changed.push(match proposal.phase {
                Phase::Draft => open_in(&mut tx, &proposal, at).await?,
                _ => {
                    // Close at the announced time, not at the moment we noticed.
                    let end = proposal.closes_at.unwrap_or(at);
                    close_in(&mut tx, &proposal, end).await?
                }
            });
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Every proposal, oldest first.
    pub async fn proposals(&self) -> Result<Vec<Proposal>, GovernanceError> {
        let rows = sqlx::query(&format!(
            "SELECT {PROPOSAL_COLUMNS} FROM proposals ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(proposal_from_row).collect()
    }

    pub async fn proposal(&self, id: ProposalId) -> Result<Proposal, GovernanceError> {
        let mut conn = self.pool.acquire().await?;
        load(&mut conn, id).await
    }

    /// Each voter's counted ballot on a proposal, by voter key.
    pub async fn counted_ballots(
        &self,
        id: ProposalId,
    ) -> Result<Vec<(String, Choice)>, GovernanceError> {
        let mut conn = self.pool.acquire().await?;
        counted(&mut conn, id).await
    }

    /// A voter's last ballot on every proposal they voted on.
    pub async fn my_ballots(&self, voter: &str) -> Result<Vec<BallotReceipt>, GovernanceError> {
        let rows = sqlx::query(
            "SELECT proposal_id, sequence, choice, receipt, stored_at FROM ballots b
             WHERE voter_key = ? AND sequence =
               (SELECT MAX(sequence) FROM ballots WHERE proposal_id = b.proposal_id AND voter_key = b.voter_key)
             ORDER BY proposal_id",
        )
        .bind(voter)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let proposal = row.try_get::<i64, _>("proposal_id")? as ProposalId;
                let choice: String = row.try_get("choice")?;
                Ok(BallotReceipt {
                    proposal,
                    sequence: row.try_get::<i64, _>("sequence")? as u64,
                    choice: serde_json::from_str(&choice).map_err(|e| corrupt(proposal, e))?,
                    receipt: row.try_get("receipt")?,
                    stored_at: row.try_get("stored_at")?,
                })
            })
            .collect()
    }

    /// Checks and stores a batch of ballots in one transaction. Each ballot gets its own
    /// answer; none is acknowledged unless the transaction committed.
    pub async fn cast_ballots(
        &self,
        batch: &[CastBallot],
    ) -> Vec<Result<BallotReceipt, GovernanceError>> {
        // Signatures are checked before the transaction, so the write lock is held only for
        // the cheap checks and the inserts.
        let signatures: Vec<_> = batch.iter().map(|c| verify_ballot(&c.signed)).collect();
        match self.cast_in_one_transaction(batch, &signatures).await {
            Ok(results) => results,
            Err(e) => {
                let shown = e.to_string();
                batch
                    .iter()
                    .map(|_| {
                        Err(GovernanceError::Database(sqlx::Error::Protocol(
                            shown.clone(),
                        )))
                    })
                    .collect()
            }
        }
    }

    async fn cast_in_one_transaction(
        &self,
        batch: &[CastBallot],
        signatures: &[Result<(), GovernanceRefusal>],
    ) -> Result<Vec<Result<BallotReceipt, GovernanceError>>, GovernanceError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let at = self.now();
        let mut proposals: HashMap<ProposalId, Option<Proposal>> = HashMap::new();
        let mut results = Vec::with_capacity(batch.len());
        for (cast, signature) in batch.iter().zip(signatures) {
            let id = cast.signed.ballot.proposal;
            if let std::collections::hash_map::Entry::Vacant(slot) = proposals.entry(id) {
                slot.insert(match load(&mut tx, id).await {
                    Ok(p) => Some(p),
                    Err(GovernanceError::Refused(_)) => None,
                    Err(e) => return Err(e),
                });
            }
            let Some(Some(proposal)) = proposals.get(&id) else {
                results.push(Err(GovernanceRefusal::UnknownProposal(id).into()));
                continue;
            };
            results.push(store_ballot(&mut tx, proposal, cast, signature.clone(), at).await);
        }
        tx.commit().await?;
        Ok(results)
    }

    /// Everything `verify` needs to recount a closed proposal.
    pub async fn export(&self, id: ProposalId, nation: &str) -> Result<Export, GovernanceError> {
        let mut conn = self.pool.acquire().await?;
        let proposal = load(&mut conn, id).await?;
        if proposal.phase != Phase::Closed {
            return Err(wrong_phase(&proposal, PhaseAct::Exported));
        }
        let rows = sqlx::query(
            "SELECT voter_key, voter_name, sequence, choice, signature, receipt, stored_at
             FROM ballots WHERE proposal_id = ? ORDER BY id",
        )
        .bind(id as i64)
        .fetch_all(&mut *conn)
        .await?;
        let ballots = rows
            .iter()
            .map(|row| {
                let choice: String = row.try_get("choice")?;
                Ok(ExportedBallot {
                    voter: row.try_get("voter_key")?,
                    name: row.try_get("voter_name")?,
                    sequence: row.try_get::<i64, _>("sequence")? as u64,
                    choice: serde_json::from_str(&choice).map_err(|e| corrupt(id, e))?,
                    signature: row.try_get("signature")?,
                    receipt: row.try_get("receipt")?,
                    stored_at: row.try_get("stored_at")?,
                })
            })
            .collect::<Result<_, GovernanceError>>()?;
        let deployment: Option<String> =
            sqlx::query_scalar("SELECT deployment FROM proposals WHERE id = ?")
                .bind(id as i64)
                .fetch_one(&mut *conn)
                .await?;
        Ok(Export {
            format: EXPORT_FORMAT.into(),
            nation: nation.into(),
            deployment,
            proposal,
            ballots,
        })
    }
}

/// Checks one ballot against the proposal and the voter's standing, and inserts it.
async fn store_ballot(
    tx: &mut SqliteConnection,
    proposal: &Proposal,
    cast: &CastBallot,
    signature: Result<(), GovernanceRefusal>,
    at: i64,
) -> Result<BallotReceipt, GovernanceError> {
    let ballot = &cast.signed.ballot;
    check_ballot(ballot, proposal, &cast.logged_in_key, at)?;
    let sequence = i64::try_from(ballot.sequence).map_err(|_| GovernanceRefusal::BadSequence)?;
    signature?;
    let voter = to_hex(&ballot.voter);
    let role = current_role(tx, Some(&voter)).await?;
    let holds_land = match proposal.draft.scope.protocity() {
        Some(protocity) => {
            sqlx::query("SELECT 1 FROM parcels WHERE owner_key = ? AND protocity = ? LIMIT 1")
                .bind(&voter)
                .bind(protocity)
                .fetch_optional(&mut *tx)
                .await?
        }
        None => {
            sqlx::query("SELECT 1 FROM parcels WHERE owner_key = ? LIMIT 1")
                .bind(&voter)
                .fetch_optional(&mut *tx)
                .await?
        }
    }
    .is_some();
    may_vote(&proposal.draft, role, holds_land)?;
    let latest: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(sequence) FROM ballots WHERE proposal_id = ? AND voter_key = ?",
    )
    .bind(proposal.id as i64)
    .bind(&voter)
    .fetch_one(&mut *tx)
    .await?;
    if latest == Some(sequence) {
        // The same signed ballot again (its answer was lost with a connection, and the client
        // sent it once more): it is stored once and acknowledged again.
        let stored: Option<(String, String, i64)> = sqlx::query_as(
            "SELECT signature, receipt, stored_at FROM ballots
             WHERE proposal_id = ? AND voter_key = ? AND sequence = ?",
        )
        .bind(proposal.id as i64)
        .bind(&voter)
        .bind(sequence)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((signature, receipt, stored_at)) = stored
            && signature == to_hex(&cast.signed.signature)
        {
            return Ok(BallotReceipt {
                proposal: proposal.id,
                sequence: ballot.sequence,
                choice: ballot.choice.clone(),
                receipt,
                stored_at,
            });
        }
    }
    if let Some(latest) = latest
        && sequence <= latest
    {
        return Err(GovernanceRefusal::Replayed {
            sequence: ballot.sequence,
            latest: latest as u64,
        }
        .into());
    }
    let proof = receipt(&cast.signed);
    sqlx::query(
        "INSERT INTO ballots (proposal_id, voter_key, voter_name, sequence, choice, signature,
           receipt, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(proposal.id as i64)
    .bind(&voter)
    .bind(&cast.name)
    .bind(sequence)
    .bind(serde_json::to_string(&ballot.choice).map_err(|e| corrupt(proposal.id, e))?)
    .bind(to_hex(&cast.signed.signature))
    .bind(&proof)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(BallotReceipt {
        proposal: proposal.id,
        sequence: ballot.sequence,
        choice: ballot.choice.clone(),
        receipt: proof,
        stored_at: at,
    })
}
