//! Governance in the world: founders propose, open and close; members vote with signed
//! ballots. Requests are checked here for what needs no database (rate, size, phase, shape,
//! key), then again, with signatures and the voter's standing, in the transaction that stores
//! them. Every client knows every proposal and sees the count as ballots are committed.

pub mod ballots;
pub mod cli;
mod proposals;
pub mod storage;

pub(crate) use proposals::{GovernanceCommand, govern};

use std::collections::{BTreeMap, HashMap};

use archipelago_shared::budget::TokenBucket;
use archipelago_shared::clock::Clock;
use archipelago_shared::governance::tally::{self, Choice, Tally};
use archipelago_shared::governance::{
    GovernanceNews, GovernanceRefusal, GovernanceRequest, Phase, Proposal, ProposalAct, ProposalId,
    ProposalView, check_ballot, may_vote,
};
use archipelago_shared::identity::to_hex;
use archipelago_shared::parcels::Actor;
use archipelago_shared::protocol::{ControlChannel, Role, ToClient, ToServer};
use archipelago_shared::world::World;
use bevy::prelude::*;
use lightyear::prelude::*;

use crate::ServerSystems;
use crate::refusal_log::RefusalLog;
use crate::session::{LoggedIn, Request, RequestsExt, Routed};
use crate::storage::StorageHandle;
use ballots::BallotQueue;
use storage::{CastBallot, GovernanceError};

/// A proposal as the server keeps it: the stored record and the counted ballots.
#[derive(Debug)]
pub struct Tracked {
    pub proposal: Proposal,
    /// Each voter's counted choice, by key (hex).
    pub ballots: HashMap<String, Choice>,
    /// The count of `ballots`, refreshed when they change.
    pub tally: Tally,
    /// Ballots arrived since the count was last published.
    dirty: bool,
}

impl Tracked {
    fn new(proposal: Proposal, ballots: HashMap<String, Choice>) -> Self {
        let mut tracked = Self {
            proposal,
            ballots,
            tally: Tally::default(),
            dirty: false,
        };
        tracked.recount();
        tracked
    }

    fn recount(&mut self) {
        let ballots: Vec<Choice> = self.ballots.values().cloned().collect();
        self.tally = tally::tally(&self.proposal.draft.rules(), &ballots);
    }

    /// Ballots counted so far (the final turnout once closed).
    pub fn turnout(&self) -> u32 {
        match &self.proposal.result {
            Some(result) => result.turnout,
            None => self.tally.turnout,
        }
    }

    /// The count a client may see: the result once closed, the live count if the proposal
    /// shows it, else nothing.
    pub fn visible_tally(&self) -> Option<Tally> {
        match (&self.proposal.result, self.proposal.phase) {
            (Some(result), _) => Some(result.clone()),
            (None, Phase::Open) if self.proposal.shows_live() => Some(self.tally.clone()),
            _ => None,
        }
    }

    pub fn view(&self) -> ProposalView {
        ProposalView {
            proposal: self.proposal.clone(),
            turnout: self.turnout(),
            tally: self.visible_tally(),
        }
    }
}

/// Every proposal, kept in step with the database.
#[derive(Resource, Debug, Default)]
pub struct Proposals {
    pub map: BTreeMap<ProposalId, Tracked>,
}

impl Proposals {
    /// Takes a newer stored record; returns whether it was newer.
    fn accept(&mut self, proposal: Proposal) -> bool {
        match self.map.get_mut(&proposal.id) {
            Some(known) if known.proposal.revision >= proposal.revision => false,
            Some(known) => {
                known.proposal = proposal;
                true
            }
            None => {
                self.map
                    .insert(proposal.id, Tracked::new(proposal, HashMap::new()));
                true
            }
        }
    }
}

impl Routed for GovernanceRequest {
    fn take(message: ToServer) -> Result<Self, ToServer> {
        match message {
            ToServer::Governance(request) => Ok(request),
            other => Err(other),
        }
    }

    /// A ballot is answered as refused, so its voter knows it was not stored.
    fn while_stopping(&self) -> ToClient {
        GovernanceNews::Answer {
            proposal: self.proposal(),
            outcome: Err(GovernanceRefusal::ShuttingDown),
        }
        .into()
    }
}

/// Token bucket for one link's governance requests, given at login.
#[derive(Component, Debug)]
pub(crate) struct GovernanceBudget(pub(crate) TokenBucket);

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<Proposals>()
        .add_request::<GovernanceRequest>()
        .add_systems(Startup, load_proposals)
        .add_systems(Update, handle_requests.in_set(ServerSystems::Apply))
        .add_plugins((proposals::plugin, ballots::plugin));
}

fn load_proposals(
    storage: Res<StorageHandle>,
    mut proposals: ResMut<Proposals>,
    mut exit: MessageWriter<AppExit>,
) {
    let loaded = storage.run_now(|db| async move {
        let mut loaded = Vec::new();
        for proposal in db.proposals().await? {
            let ballots = if proposal.phase == Phase::Open {
                db.counted_ballots(proposal.id).await?
            } else {
                Vec::new()
            };
            loaded.push((proposal, ballots));
        }
        Ok::<_, GovernanceError>(loaded)
    });
    match loaded {
        Ok(loaded) => {
            for (proposal, ballots) in loaded {
                let ballots = ballots.into_iter().collect();
                proposals
                    .map
                    .insert(proposal.id, Tracked::new(proposal, ballots));
            }
            info!("governance holds {} proposals", proposals.map.len());
        }
        Err(e) => {
            error!("cannot read the proposals: {e}");
            exit.write(AppExit::error());
        }
    }
}

/// Tells one client how its governance request went.
pub(crate) fn answer(
    sender: &mut MessageSender<ToClient>,
    proposal: Option<ProposalId>,
    outcome: Result<String, GovernanceRefusal>,
) {
    sender.send::<ControlChannel>(ToClient::from(GovernanceNews::Answer { proposal, outcome }));
}

/// What can be refused without the database: the role first (it follows the registry while
/// people are online), so requests nobody may make never reach the single writer.
fn precheck(
    request: &GovernanceRequest,
    member: &LoggedIn,
    proposals: &Proposals,
    now: i64,
) -> Result<(), GovernanceRefusal> {
    let founders_only = match request {
        GovernanceRequest::Create(_) => Some(ProposalAct::Create),
        GovernanceRequest::Open(_) => Some(ProposalAct::Open),
        GovernanceRequest::Close(_) => Some(ProposalAct::Close),
        GovernanceRequest::Vote(_) => None,
    };
    if let Some(what) = founders_only
        && member.role != Role::Founder
    {
        return Err(GovernanceRefusal::NotFounder(what));
    }
    let Some(id) = request.proposal() else {
        return Ok(());
    };
    let Some(tracked) = proposals.map.get(&id) else {
        return Err(GovernanceRefusal::UnknownProposal(id));
    };
    let GovernanceRequest::Vote(signed) = request else {
        return Ok(());
    };
    let proposal = &tracked.proposal;
    check_ballot(&signed.ballot, proposal, &member.public_key, now)?;
    // Land is the database's to check; the role is known here.
    may_vote(&proposal.draft, member.role, true)?;
    Ok(())
}

fn handle_requests(
    mut requests: MessageReader<Request<GovernanceRequest>>,
    mut links: Query<(
        &RemoteId,
        &LoggedIn,
        &mut GovernanceBudget,
        &mut MessageSender<ToClient>,
    )>,
    proposals: Res<Proposals>,
    storage: Res<StorageHandle>,
    ballot_queue: Res<BallotQueue>,
    world: Res<World>,
    mut refusals: ResMut<RefusalLog>,
    time: Res<Time>,
    clock: Res<Clock>,
) {
    for Request { link, request } in requests.read() {
        let Ok((remote, member, mut budget, mut sender)) = links.get_mut(*link) else {
            continue;
        };
        let checked = if budget.0.take(time.elapsed()) {
            precheck(request, member, &proposals, clock.unix_seconds())
        } else {
            Err(GovernanceRefusal::TooFast)
        };
        if let Err(refusal) = checked {
            refusals.note(*link, || {
                format!(
                    "refused governance request from {} ({:?}): {refusal}",
                    member.name, remote.0
                )
            });
            answer(&mut sender, request.proposal(), Err(refusal));
            continue;
        }
        let actor = Actor {
            key: Some(to_hex(&member.public_key)),
            name: member.name.clone(),
            role: member.role,
        };
        let command = match request {
            GovernanceRequest::Vote(signed) => {
                let cast = CastBallot {
                    signed: signed.clone(),
                    logged_in_key: member.public_key,
                    name: member.name.clone(),
                };
                if ballot_queue.cast(*link, cast).is_err() {
                    warn!(
                        "ballot from {} refused: the ballot queue is full",
                        member.name
                    );
                    answer(
                        &mut sender,
                        request.proposal(),
                        Err(GovernanceRefusal::Busy),
                    );
                }
                continue;
            }
            GovernanceRequest::Create(draft) => GovernanceCommand::Create(draft.clone()),
            GovernanceRequest::Open(id) => GovernanceCommand::Open(*id),
            GovernanceRequest::Close(id) => GovernanceCommand::Close(*id),
        };
        let protocities = world.protocities.iter().map(|p| p.id.clone()).collect();
        govern(&storage, Some(*link), actor, command, protocities);
    }
}
