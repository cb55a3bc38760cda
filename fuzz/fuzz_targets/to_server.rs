#![no_main]
//! A hostile client's message bytes, decoded the way lightyear decodes a `ToServer`
//! (postcard), then every check the server makes of it before the database: the login
//! signature and name, chat text, proposal drafts, ballots and their tally, parcel
//! descriptions, sessions, moderation, events and the nation's standing. None may panic.

use archipelago_shared::assembly::{AssemblyRequest, check_moderation, check_session};
use archipelago_shared::avatars::AvatarRequest;
use archipelago_shared::chat::check_text;
use archipelago_shared::events::{EventRequest, check_event};
use archipelago_shared::governance::tally::{check_choice, tally};
use archipelago_shared::governance::{
    GovernanceRequest, Phase, Proposal, ProposalDraft, check_ballot, check_draft, proposal_digest,
    receipt, verify_ballot,
};
use archipelago_shared::identity::{ServerIdentity, name_key, validate_name, verify_login};
use archipelago_shared::parcels::{ParcelRequest, check_description};
use archipelago_shared::protocol::ToServer;
use archipelago_shared::recognition::Standing;
use libfuzzer_sys::fuzz_target;

const PROTOCITIES: [&str; 3] = ["capital", "prospera", "praxis"];
/// 2026-12-01, a fixed "now" so runs repeat.
const NOW: i64 = 1_796_083_200;

fn proposal(draft: ProposalDraft) -> Proposal {
    Proposal {
        id: 7,
        digest: proposal_digest(Some("fuzz"), 7, &draft),
        draft,
        author: "Fay".into(),
        created_at: NOW,
        phase: Phase::Open,
        opened_at: Some(NOW),
        closes_at: Some(NOW + 3600),
        closed_at: None,
        result: None,
        revision: 1,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(message) = postcard::from_bytes::<ToServer>(data) else {
        return;
    };
    match message {
        ToServer::Login {
            name,
            public_key,
            signature,
            ..
        } => {
            let server = ServerIdentity {
                nation: "The Meridian Archipelago".into(),
                certificate: "ab".repeat(32),
            };
            let _ = verify_login(&server, &public_key, &name, &[7; 32], &signature);
            if let Ok(name) = validate_name(&name) {
                let _ = name_key(&name);
            }
        }
        ToServer::Teleport { .. } | ToServer::EnterHall { .. } => {}
        ToServer::Parcel(request) => {
            let _ = request.parcel();
            let _ = request.expected_version();
            if let ParcelRequest::Describe { text, .. } = request {
                let _ = check_description(&text);
            }
        }
        ToServer::Governance(request) => match request {
            GovernanceRequest::Create(draft) => {
                if let Ok(draft) = check_draft(&draft, &PROTOCITIES, NOW) {
                    let _ = proposal(draft);
                }
            }
            GovernanceRequest::Vote(signed) => {
                let _ = receipt(&signed);
                // Against a proposal of each kind the choice could be meant for.
                for draft in drafts() {
                    let rules = draft.rules();
                    let proposal = proposal(draft);
                    if check_ballot(&signed.ballot, &proposal, &signed.ballot.voter, NOW).is_ok() {
                        let _ = verify_ballot(&signed);
                    }
                    if check_choice(&rules, &signed.ballot.choice).is_ok() {
                        let ballots = vec![signed.ballot.choice.clone(); 3];
                        let _ = tally(&rules, &ballots);
                    }
                }
            }
            GovernanceRequest::Open(_) | GovernanceRequest::Close(_) => {}
        },
        ToServer::Chat(request) => {
            let _ = check_text(&request.text);
        }
        ToServer::Assembly(request) => match request {
            AssemblyRequest::Open { title, agenda, .. } => {
                let _ = check_session(&title, &agenda);
            }
            AssemblyRequest::Moderate { action, reason, .. } => {
                let _ = check_moderation(action, &reason);
            }
            _ => {}
        },
        ToServer::Event(EventRequest::Schedule(draft)) => {
            let _ = check_event(&draft, &PROTOCITIES, &[], NOW);
        }
        ToServer::Event(EventRequest::Cancel(_)) => {}
        ToServer::Recognition(request) => {
            let standing = Standing {
                founded: NOW - 400 * 86_400,
                ..Standing::default()
            };
            let _ = standing.check(&request, &PROTOCITIES, NOW);
            let _ = request.describe();
        }
        ToServer::Avatar(AvatarRequest::SetAppearance(appearance)) => {
            if let Err(bad) = appearance.check() {
                let _ = bad.to_string();
            }
        }
        ToServer::Avatar(_) => {}
    }
});

/// One valid draft of each vote type.
fn drafts() -> Vec<ProposalDraft> {
    use archipelago_shared::governance::tally::VoteType;
    use archipelago_shared::governance::{Eligibility, Scope};
    use archipelago_shared::protocol::Role;
    [
        VoteType::YesNo,
        VoteType::SingleChoice,
        VoteType::Approval,
        VoteType::RankedChoice,
        VoteType::Quadratic { credits: 9 },
    ]
    .into_iter()
    .map(|vote_type| ProposalDraft {
        title: "Which harbour first?".into(),
        body: String::new(),
        scope: Scope::Nation,
        eligibility: Eligibility::AtLeast(Role::Member),
        options: if vote_type == VoteType::YesNo {
            Vec::new()
        } else {
            vec!["North".into(), "South".into(), "East".into()]
        },
        vote_type,
        opens_at: None,
        voting_secs: 3600,
        quorum: 1,
        threshold_percent: 50,
        live_tally: true,
    })
    .collect()
}
