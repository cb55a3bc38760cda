//! Governance: proposals, signed ballots and the rules for both.
//!
//! A founder writes a [`ProposalDraft`]; the server checks it with [`check_draft`], stores it
//! and fixes its [`proposal_digest`]. While the proposal is open, members send
//! [`SignedBallot`]s: the member's ed25519 key signs [`ballot_payload`], which names the
//! proposal, its digest, the voter and a sequence number, so a ballot cannot be moved to
//! another proposal, forged or replayed. The last ballot (highest sequence) of each voter
//! counts. Counting is in [`tally`]. After closing, an [`Export`] holds every signed ballot
//! and the result, and [`verify_export`] recounts it offline.

pub mod tally;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::identity::{parse_key_hex, to_hex};
use crate::protocol::{Role, SIGNATURE_BYTES};
use tally::{
    Choice, ChoiceError, MAX_CREDITS, MAX_OPTIONS, Outcome, Rules, Tally, VoteKind, VoteType,
};

/// A proposal's number, given by the server in creation order.
pub type ProposalId = u64;

/// Longest proposal title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;
/// Longest proposal text, in characters.
pub const MAX_BODY_CHARS: usize = 4000;
/// Longest option label, in characters.
pub const MAX_OPTION_CHARS: usize = 60;
/// Shortest and longest voting period.
pub const MIN_VOTING_SECS: u32 = 60;
pub const MAX_VOTING_SECS: u32 = 60 * 24 * 3600;
/// Highest quorum a proposal may ask for, in ballots.
pub const MAX_QUORUM: u32 = 10_000_000;
/// Ballots and governance requests a client may send per second, on average, and in a burst.
pub const MAX_GOVERNANCE_REQUESTS_PER_SECOND: f32 = 3.0;
pub const GOVERNANCE_REQUEST_BURST: f32 = 6.0;

/// Domain tag so a ballot signature can never pass for a login or anything else.
const BALLOT_DOMAIN: &[u8] = b"archipelago-ballot-v1";
/// Names the export file format.
pub const EXPORT_FORMAT: &str = "archipelago-ballots-v1";
/// How near (metres, on the ground) a member must stand to use a town hall's ballot kiosk.
pub const KIOSK_REACH: f32 = 2.4;

/// Who a proposal is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// The whole nation.
    Nation,
    /// One protocity, by id.
    Protocity(String),
}

impl Scope {
    pub fn protocity(&self) -> Option<&str> {
        match self {
            Scope::Nation => None,
            Scope::Protocity(id) => Some(id),
        }
    }
}

/// Who may vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Eligibility {
    /// Everyone with at least this role (never [`Role::Visitor`]).
    AtLeast(Role),
    /// Members who hold a parcel in the proposal's protocity (anywhere, for the nation).
    Landholders,
}

impl Eligibility {
    pub fn describe(self, scope: &Scope) -> String {
        match (self, scope) {
            (Eligibility::AtLeast(Role::Founder), _) => "founders".into(),
            (Eligibility::AtLeast(role), _) => format!("{role}s and above"),
            (Eligibility::Landholders, Scope::Nation) => "landholders".into(),
            (Eligibility::Landholders, Scope::Protocity(id)) => format!("landholders in {id}"),
        }
    }
}

/// What a founder writes to propose something.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalDraft {
    pub title: String,
    pub body: String,
    pub scope: Scope,
    pub eligibility: Eligibility,
    pub vote_type: VoteType,
    /// The options (none for yes/no, whose answers are fixed).
    pub options: Vec<String>,
    /// When voting opens by itself (unix seconds); `None`: when a founder opens it.
    pub opens_at: Option<i64>,
    /// How long voting stays open, counted from the moment it opens.
    pub voting_secs: u32,
    /// Ballots needed for a decision.
    pub quorum: u32,
    /// Share of the decisive votes, in percent, needed to pass (at least).
    pub threshold_percent: u32,
    /// Whether everyone sees the count while voting goes on (else only the turnout).
    pub live_tally: bool,
}

impl ProposalDraft {
    pub fn rules(&self) -> Rules {
        Rules {
            vote_type: self.vote_type,
            options: self.options.len(),
            quorum: self.quorum,
            threshold_percent: self.threshold_percent,
        }
    }

    /// The labels of the answers a ballot chooses among.
    pub fn labels(&self) -> Vec<String> {
        match self.vote_type {
            VoteType::YesNo => vec!["Yes".into(), "No".into(), "Abstain".into()],
            _ => self.options.clone(),
        }
    }
}

/// Where a proposal is in its life. A closed proposal's result never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    Draft,
    Open,
    Closed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Draft => "draft",
            Phase::Open => "open",
            Phase::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Phase> {
        [Phase::Draft, Phase::Open, Phase::Closed]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: ProposalId,
    pub draft: ProposalDraft,
    pub author: String,
    pub created_at: i64,
    /// Hex SHA-256 of the id and the draft; every ballot signs it.
    pub digest: String,
    pub phase: Phase,
    pub opened_at: Option<i64>,
    pub closes_at: Option<i64>,
    pub closed_at: Option<i64>,
    /// The final count, set once when the proposal closes.
    pub result: Option<Tally>,
    /// Bumped with every change, so newer copies replace older ones.
    pub revision: u32,
}

impl Proposal {
    /// Whether a ballot may be cast at `now`.
    pub fn accepts_ballots(&self, now: i64) -> bool {
        self.phase == Phase::Open && self.closes_at.is_some_and(|end| now < end)
    }

    /// Whether the count may be shown before closing.
    pub fn shows_live(&self) -> bool {
        self.draft.live_tally
    }
}

/// A proposal as a client sees it, with the count it may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    pub proposal: Proposal,
    pub turnout: u32,
    /// The live count when the proposal shows it, the final count when closed, else `None`.
    pub tally: Option<Tally>,
}

/// What a voter says, before signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ballot {
    pub proposal: ProposalId,
    /// The proposal's digest, hex, as the voter saw it.
    pub digest: String,
    /// The voter's public key.
    pub voter: [u8; 32],
    /// Greater than the voter's previous ballot on this proposal; the highest counts.
    pub sequence: u64,
    pub choice: Choice,
}

/// A ballot with the voter's ed25519 signature over [`ballot_payload`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedBallot {
    pub ballot: Ballot,
    pub signature: Vec<u8>,
}

/// Proof that a ballot was stored: its receipt is the hex SHA-256 of the signed bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BallotReceipt {
    pub proposal: ProposalId,
    pub sequence: u64,
    pub choice: Choice,
    pub receipt: String,
    /// When the server committed it (unix seconds).
    pub stored_at: i64,
}

/// What a client may ask of governance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GovernanceRequest {
    /// Founders: store a new draft.
    Create(ProposalDraft),
    /// Founders: open a draft for voting now.
    Open(ProposalId),
    /// Founders: close an open proposal now and fix its result.
    Close(ProposalId),
    /// Cast or change a ballot.
    Vote(SignedBallot),
}

impl GovernanceRequest {
    pub fn proposal(&self) -> Option<ProposalId> {
        match self {
            GovernanceRequest::Create(_) => None,
            GovernanceRequest::Open(id) | GovernanceRequest::Close(id) => Some(*id),
            GovernanceRequest::Vote(signed) => Some(signed.ballot.proposal),
        }
    }
}

/// What the server tells clients about governance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GovernanceNews {
    /// Every proposal, and this client's last ballot on each; sent after login.
    Proposals {
        proposals: Vec<ProposalView>,
        my_ballots: Vec<BallotReceipt>,
    },
    /// A proposal was created, opened or closed; replaces the client's copy.
    ProposalChanged(Box<ProposalView>),
    /// New ballots were counted: the turnout, and the count when the proposal shows it live.
    TallyChanged {
        proposal: ProposalId,
        turnout: u32,
        tally: Option<Tally>,
    },
    /// This client's ballot is stored (committed to disk): the receipt to keep.
    BallotStored(BallotReceipt),
    /// The outcome of this client's governance request: what was done, or why not.
    Answer {
        proposal: Option<ProposalId>,
        outcome: Result<String, GovernanceRefusal>,
    },
}

/// Why a governance request was refused. It goes to whoever asked as it is
/// ([`GovernanceNews::Answer`]); its `Display` is the one place that puts it into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum GovernanceRefusal {
    #[error("only founders may {0}")]
    NotFounder(ProposalAct),
    #[error("there is no proposal {0}")]
    UnknownProposal(ProposalId),
    #[error("proposal {id} is {phase}, so it cannot be {action}")]
    WrongPhase {
        id: ProposalId,
        phase: Phase,
        action: PhaseAct,
    },
    #[error("voting on proposal {0} has ended")]
    VotingEnded(ProposalId),
    #[error("only {allowed} may vote on this proposal; you are a {role}")]
    NotEligible { allowed: String, role: Role },
    #[error("only landholders in {0} may vote on this proposal, and you hold no parcel there")]
    NotLandholder(String),
    #[error("the ballot's signature does not match its key")]
    BadSignature,
    #[error("the ballot is signed with another key than the one you logged in with")]
    NotYourKey,
    #[error("the ballot was signed for another version of the proposal")]
    WrongDigest,
    #[error(
        "ballot number {sequence} is not newer than your ballot number {latest}: replayed or out of date"
    )]
    Replayed { sequence: u64, latest: u64 },
    #[error("the ballot number is out of range")]
    BadSequence,
    #[error("the ballot does not fit the proposal: {0}")]
    Shape(#[from] ChoiceError),
    #[error("the proposal is not valid: {0}")]
    BadDraft(#[from] DraftError),
    #[error("too many governance requests; wait a moment")]
    TooFast,
    #[error("governance is unavailable right now; try again shortly")]
    Unavailable,
    #[error("the server is busy; try again in a moment")]
    Busy,
    #[error("the server is shutting down; this was not done. Try again once it is back")]
    ShuttingDown,
}

/// What only founders may do to proposals, as a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProposalAct {
    Create,
    Open,
    Close,
}

impl std::fmt::Display for ProposalAct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProposalAct::Create => "create proposals",
            ProposalAct::Open => "open proposals",
            ProposalAct::Close => "close proposals",
        })
    }
}

/// What a proposal's phase may forbid, as a refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhaseAct {
    Opened,
    Closed,
    VotedOn,
    Exported,
}

impl std::fmt::Display for PhaseAct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PhaseAct::Opened => "opened",
            PhaseAct::Closed => "closed",
            PhaseAct::VotedOn => "voted on",
            PhaseAct::Exported => "exported before it closes",
        })
    }
}

/// What is wrong with a draft.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum DraftError {
    #[error("the title is empty")]
    NoTitle,
    #[error("the title is longer than {MAX_TITLE_CHARS} characters")]
    TitleTooLong,
    #[error("the text is longer than {MAX_BODY_CHARS} characters")]
    BodyTooLong,
    #[error("a yes/no proposal has no options of its own")]
    OptionsOnYesNo,
    #[error("a {0} proposal needs at least two options")]
    TooFewOptions(VoteKind),
    #[error("at most {MAX_OPTIONS} options")]
    TooManyOptions,
    #[error("option {0} is empty or longer than {MAX_OPTION_CHARS} characters")]
    BadOption(usize),
    #[error("options {0} and {1} are the same")]
    SameOptions(usize, usize),
    #[error("a quadratic vote needs between 1 and {MAX_CREDITS} credits per voter")]
    BadCredits,
    #[error("voting must last between one minute and 60 days")]
    BadDuration,
    #[error("the threshold must be between 1 and 100 percent")]
    BadThreshold,
    #[error("the quorum may be at most {MAX_QUORUM} ballots")]
    BadQuorum,
    #[error("visitors cannot be given a vote; choose members or above")]
    VisitorsCannotVote,
    #[error("there is no protocity `{0}`")]
    UnknownProtocity(String),
    #[error("the opening time is in the past")]
    OpensInThePast,
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// Checks a draft and returns it tidied (trimmed text). `protocities` are the known ids.
pub fn check_draft(
    draft: &ProposalDraft,
    protocities: &[&str],
    now: i64,
) -> Result<ProposalDraft, DraftError> {
    let mut draft = draft.clone();
    draft.title = draft.title.trim().to_owned();
    draft.body = draft.body.trim().to_owned();
    if draft.title.is_empty() {
        return Err(DraftError::NoTitle);
    }
    if chars(&draft.title) > MAX_TITLE_CHARS {
        return Err(DraftError::TitleTooLong);
    }
    if chars(&draft.body) > MAX_BODY_CHARS {
        return Err(DraftError::BodyTooLong);
    }
    for option in &mut draft.options {
        *option = option.trim().to_owned();
    }
    match draft.vote_type {
        VoteType::YesNo if !draft.options.is_empty() => return Err(DraftError::OptionsOnYesNo),
        VoteType::YesNo => {}
        other if draft.options.len() < 2 => return Err(DraftError::TooFewOptions(other.kind())),
        _ if draft.options.len() > MAX_OPTIONS => return Err(DraftError::TooManyOptions),
        _ => {}
    }
    for (i, option) in draft.options.iter().enumerate() {
        if option.is_empty() || chars(option) > MAX_OPTION_CHARS {
            return Err(DraftError::BadOption(i + 1));
        }
        if let Some(j) = draft.options[..i]
            .iter()
            .position(|o| o.eq_ignore_ascii_case(option))
        {
            return Err(DraftError::SameOptions(j + 1, i + 1));
        }
    }
    if let VoteType::Quadratic { credits } = draft.vote_type
        && !(1..=MAX_CREDITS).contains(&credits)
    {
        return Err(DraftError::BadCredits);
    }
    if !(MIN_VOTING_SECS..=MAX_VOTING_SECS).contains(&draft.voting_secs) {
        return Err(DraftError::BadDuration);
    }
    if !(1..=100).contains(&draft.threshold_percent) {
        return Err(DraftError::BadThreshold);
    }
    if draft.quorum > MAX_QUORUM {
        return Err(DraftError::BadQuorum);
    }
    if draft.eligibility == Eligibility::AtLeast(Role::Visitor) {
        return Err(DraftError::VisitorsCannotVote);
    }
    if let Scope::Protocity(id) = &draft.scope
        && !protocities.contains(&id.as_str())
    {
        return Err(DraftError::UnknownProtocity(id.clone()));
    }
    if draft.opens_at.is_some_and(|at| at < now - 60) {
        return Err(DraftError::OpensInThePast);
    }
    Ok(draft)
}

/// The digest a proposal's ballots sign: SHA-256 over its id and its draft as JSON.
pub fn proposal_digest(deployment: Option<&str>, id: ProposalId, draft: &ProposalDraft) -> String {
    let mut hasher = Sha256::new();
    match deployment {
        // The deployment's id binds the digest, and so every ballot, to one server's data.
        Some(deployment) => {
            hasher.update(b"archipelago-proposal-v2");
            hasher.update((deployment.len() as u32).to_le_bytes());
            hasher.update(deployment.as_bytes());
        }
        // Proposals stored before deployments had ids.
        None => hasher.update(b"archipelago-proposal-v1"),
    }
    hasher.update(id.to_le_bytes());
    // Serialising plain structs and enums to JSON is deterministic: fields in declaration
    // order, no maps, no floats.
    hasher.update(serde_json::to_vec(draft).unwrap_or_default());
    to_hex(&hasher.finalize())
}

/// Canonical bytes of a choice: a tag, then the answer with explicit lengths.
fn choice_bytes(choice: &Choice, out: &mut Vec<u8>) {
    let list = |tag: u8, items: &[u8], out: &mut Vec<u8>| {
        out.push(tag);
        out.extend_from_slice(&(items.len() as u32).to_le_bytes());
        out.extend_from_slice(items);
    };
    match choice {
        Choice::YesNo(answer) => {
            out.push(1);
            out.push(*answer as u8);
        }
        Choice::Single(option) => {
            out.push(2);
            out.push(*option);
        }
        Choice::Approval(options) => list(3, options, out),
        Choice::Ranked(options) => list(4, options, out),
        Choice::Quadratic(votes) => {
            out.push(5);
            out.extend_from_slice(&(votes.len() as u32).to_le_bytes());
            for v in votes {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// The bytes a voter signs.
pub fn ballot_payload(ballot: &Ballot) -> Vec<u8> {
    let mut out = Vec::with_capacity(BALLOT_DOMAIN.len() + 8 + 64 + 32 + 8 + 16);
    out.extend_from_slice(BALLOT_DOMAIN);
    out.extend_from_slice(&ballot.proposal.to_le_bytes());
    out.extend_from_slice(ballot.digest.as_bytes());
    out.extend_from_slice(&ballot.voter);
    out.extend_from_slice(&ballot.sequence.to_le_bytes());
    choice_bytes(&ballot.choice, &mut out);
    out
}

/// Signs a ballot with the voter's key (the ballot's `voter` is set from the key).
pub fn sign_ballot(key: &SigningKey, mut ballot: Ballot) -> SignedBallot {
    ballot.voter = key.verifying_key().to_bytes();
    let signature = key.sign(&ballot_payload(&ballot)).to_bytes().to_vec();
    SignedBallot { ballot, signature }
}

/// Checks a ballot's signature against its voter key.
pub fn verify_ballot(signed: &SignedBallot) -> Result<(), GovernanceRefusal> {
    let key = VerifyingKey::from_bytes(&signed.ballot.voter)
        .map_err(|_| GovernanceRefusal::BadSignature)?;
    let bytes: [u8; SIGNATURE_BYTES] = signed
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| GovernanceRefusal::BadSignature)?;
    key.verify(
        &ballot_payload(&signed.ballot),
        &Signature::from_bytes(&bytes),
    )
    .map_err(|_| GovernanceRefusal::BadSignature)
}

/// A ballot's receipt: hex SHA-256 of the signed payload and the signature.
pub fn receipt(signed: &SignedBallot) -> String {
    let mut hasher = Sha256::new();
    hasher.update(ballot_payload(&signed.ballot));
    hasher.update(&signed.signature);
    to_hex(&hasher.finalize())
}

/// The ballot checks that need neither the database nor the signature: the proposal's phase
/// and clock (at `now`, Unix seconds), the key the ballot came from (`sender`, the key its
/// sender logged in with), the digest, and the shape of the choice. The server runs them from
/// memory when a ballot arrives and again in the transaction that stores it; the signature
/// ([`verify_ballot`]) and who may vote ([`may_vote`]) are checked apart.
pub fn check_ballot(
    ballot: &Ballot,
    proposal: &Proposal,
    sender: &[u8; 32],
    now: i64,
) -> Result<(), GovernanceRefusal> {
    if proposal.phase != Phase::Open {
        return Err(GovernanceRefusal::WrongPhase {
            id: proposal.id,
            phase: proposal.phase,
            action: PhaseAct::VotedOn,
        });
    }
    if !proposal.accepts_ballots(now) {
        return Err(GovernanceRefusal::VotingEnded(proposal.id));
    }
    if ballot.voter != *sender {
        return Err(GovernanceRefusal::NotYourKey);
    }
    if ballot.digest != proposal.digest {
        return Err(GovernanceRefusal::WrongDigest);
    }
    tally::check_choice(&proposal.draft.rules(), &ballot.choice)?;
    Ok(())
}

/// Whether someone with `role` (holding land in the scope or not) may vote.
pub fn may_vote(
    draft: &ProposalDraft,
    role: Role,
    holds_land: bool,
) -> Result<(), GovernanceRefusal> {
    match draft.eligibility {
        Eligibility::AtLeast(minimum) if role >= minimum && role > Role::Visitor => Ok(()),
        Eligibility::AtLeast(_) => Err(GovernanceRefusal::NotEligible {
            allowed: draft.eligibility.describe(&draft.scope),
            role,
        }),
        Eligibility::Landholders if holds_land && role > Role::Visitor => Ok(()),
        Eligibility::Landholders => Err(GovernanceRefusal::NotLandholder(
            draft.scope.protocity().unwrap_or("the nation").to_owned(),
        )),
    }
}

/// One stored ballot in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedBallot {
    /// Voter's public key, hex.
    pub voter: String,
    pub name: String,
    pub sequence: u64,
    pub choice: Choice,
    /// Hex ed25519 signature.
    pub signature: String,
    pub receipt: String,
    pub stored_at: i64,
}

impl ExportedBallot {
    /// Rebuilds the signed ballot this row records.
    pub fn signed(&self, proposal: &Proposal) -> Option<SignedBallot> {
        Some(SignedBallot {
            ballot: Ballot {
                proposal: proposal.id,
                digest: proposal.digest.clone(),
                voter: parse_key_hex(&self.voter)?,
                sequence: self.sequence,
                choice: self.choice.clone(),
            },
            signature: parse_hex(&self.signature)?,
        })
    }
}

fn parse_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Everything needed to check a closed proposal's result without the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export {
    pub format: String,
    pub nation: String,
    /// The deployment the proposal's digest covers (none for proposals stored before
    /// deployments had ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    pub proposal: Proposal,
    /// Every stored ballot, changed ones included, in the order they were stored.
    pub ballots: Vec<ExportedBallot>,
}

/// What [`verify_export`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub ballots: usize,
    pub signatures_valid: usize,
    /// One line per ballot that failed a check.
    pub problems: Vec<String>,
    /// The count recomputed from each voter's last valid ballot.
    pub recount: Tally,
    /// The result the export claims.
    pub claimed: Option<Tally>,
}

impl Verification {
    /// Whether every check passed and the recount equals the claimed result.
    pub fn matches(&self) -> bool {
        self.problems.is_empty() && self.claimed.as_ref() == Some(&self.recount)
    }
}

/// The ballots that count: each voter's highest sequence, in order of the voter key.
pub fn last_ballots<'a>(
    ballots: impl IntoIterator<Item = (&'a str, u64, &'a Choice)>,
) -> Vec<Choice> {
    let mut latest = std::collections::BTreeMap::<&str, (u64, &Choice)>::new();
    for (voter, sequence, choice) in ballots {
        match latest.get(voter) {
            Some((known, _)) if *known >= sequence => {}
            _ => {
                latest.insert(voter, (sequence, choice));
            }
        }
    }
    latest.into_values().map(|(_, c)| c.clone()).collect()
}

/// Re-checks every signature, the proposal digest and each receipt, and recounts.
pub fn verify_export(export: &Export) -> Verification {
    let proposal = &export.proposal;
    let mut problems = Vec::new();
    if export.format != EXPORT_FORMAT {
        problems.push(format!(
            "unknown format `{}` (expected {EXPORT_FORMAT})",
            export.format
        ));
    }
    if proposal_digest(export.deployment.as_deref(), proposal.id, &proposal.draft)
        != proposal.digest
    {
        problems.push("the proposal's digest does not match its text".into());
    }
    let rules = proposal.draft.rules();
    let mut valid = Vec::new();
    for (n, row) in export.ballots.iter().enumerate() {
        let who = format!("ballot {} ({} #{})", n + 1, row.name, row.sequence);
        let Some(signed) = row.signed(proposal) else {
            problems.push(format!("{who}: the key or signature is not valid hex"));
            continue;
        };
        if verify_ballot(&signed).is_err() {
            problems.push(format!("{who}: the signature does not match"));
            continue;
        }
        if receipt(&signed) != row.receipt {
            problems.push(format!("{who}: the receipt does not match the ballot"));
        }
        if let Err(e) = tally::check_choice(&rules, &row.choice) {
            problems.push(format!("{who}: {e}"));
            continue;
        }
        valid.push(row);
    }
    let signatures_valid = valid.len();
    let counted = last_ballots(
        valid
            .iter()
            .map(|row| (row.voter.as_str(), row.sequence, &row.choice)),
    );
    Verification {
        ballots: export.ballots.len(),
        signatures_valid,
        problems,
        recount: tally::tally(&rules, &counted),
        claimed: proposal.result.clone(),
    }
}

/// The outcome in words, for lists, the board and the CLI.
pub fn describe_result(draft: &ProposalDraft, tally: &Tally) -> String {
    match (tally.outcome, draft.vote_type, tally.winner) {
        (Outcome::NoQuorum, ..) => "no quorum".into(),
        (Outcome::Passed, VoteType::YesNo, _) => "passed".into(),
        (Outcome::Failed, VoteType::YesNo, _) => "failed".into(),
        (Outcome::Passed, _, Some(winner)) => {
            let labels = draft.labels();
            let label = labels.get(usize::from(winner)).map_or("?", String::as_str);
            format!("chosen: {label}")
        }
        _ => "no option carried".into(),
    }
}

/// A ballot's choice in words, e.g. "Yes" or "1. Harbour, 2. School".
pub fn describe_choice(draft: &ProposalDraft, choice: &Choice) -> String {
    let labels = draft.labels();
    let label = |i: &u8| {
        labels
            .get(usize::from(*i))
            .cloned()
            .unwrap_or_else(|| format!("option {i}"))
    };
    match choice {
        Choice::YesNo(answer) => format!("{answer:?}"),
        Choice::Single(i) => label(i),
        Choice::Approval(options) if options.is_empty() => "approves none (blank)".into(),
        Choice::Approval(options) => options.iter().map(label).collect::<Vec<_>>().join(", "),
        Choice::Ranked(options) => options
            .iter()
            .enumerate()
            .map(|(n, i)| format!("{}. {}", n + 1, label(i)))
            .collect::<Vec<_>>()
            .join(", "),
        Choice::Quadratic(votes) => votes
            .iter()
            .enumerate()
            .filter(|(_, v)| **v > 0)
            .map(|(i, v)| format!("{v} on {}", label(&(i as u8))))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Time left as a person reads it: "2 d 3 h", "4 h 05 min", "3:07".
pub fn countdown(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        s if s >= 86_400 => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
        s => format!("{}:{:02}", s / 60, s % 60),
    }
}

/// Credits a quadratic ballot leaves unspent (negative when it spends too many).
pub fn quadratic_budget_left(credits: u32, votes: &[u32]) -> i64 {
    i64::from(credits).saturating_sub(tally::quadratic_cost(votes).min(i64::MAX as u64) as i64)
}
