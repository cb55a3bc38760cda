//! The nation's standing over real QUIC against the server binary: a founder records a new
//! recognition and every client's window data and the capital's embassy row show it within a
//! second; members and visitors are refused; bad dates, figures and protocities are refused
//! with a clear message and nothing partial is stored; a change made with the admin CLI
//! reaches clients too; and everything, with its history, survives the server being killed.

use std::time::Duration;

use archipelago_client::bots::bot_key;
use archipelago_shared::clock::unix_seconds as unix_now;
use archipelago_shared::recognition::{
    Census, CensusFigure, CensusRecord, RecognitionRefusal, RecognitionRequest, RecognizerKind,
    Relation, RelationChange, Stage, StageChange, Standing,
};
use archipelago_tests::{
    ServerProcess, TestClient, enroll_with_cli, enter_world, enter_world_together, server_cli,
    wait_until, world,
};
use ed25519_dalek::SigningKey;

fn connect(server: &ServerProcess, name: &str, key: &SigningKey) -> TestClient {
    TestClient::new(server.client_config(name, key.clone()))
}

fn relation(name: &str, relation: Relation, at: i64) -> RecognitionRequest {
    RecognitionRequest::Relation(RelationChange {
        recognizer: name.into(),
        kind: RecognizerKind::State,
        relation,
        at,
        source: "Note verbale no. 14".into(),
        recorded_by: "whoever the client claims".into(),
    })
}

fn census(protocity: &str, at: i64, residents: i64, online: i64) -> RecognitionRequest {
    RecognitionRequest::Census(CensusRecord {
        protocity: protocity.into(),
        at,
        census: Census {
            population: residents + online,
            residents,
            online_members: online,
            yearly_income: 3_100_000,
            parcels_crowdfunded: 8,
        },
        source: "census of November 2026".into(),
        recorded_by: String::new(),
    })
}

fn knows(standing: Option<Standing>, recognizer: &str) -> bool {
    standing.is_some_and(|s| s.recognizers().iter().any(|r| r.recognizer == recognizer))
}

#[test]
fn a_recognition_reaches_everyone_and_the_embassy_row_at_once_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let (fay_key, bo_key, vi_key) = (bot_key(6, 0), bot_key(6, 1), bot_key(6, 2));
    enroll_with_cli(&data, &[(&fay_key, "Fay")], "founder");
    enroll_with_cli(&data, &[(&bo_key, "Bo")], "member");

    let server = ServerProcess::start(&data);
    let mut fay = connect(&server, "Fay", &fay_key);
    let mut bo = connect(&server, "Bo", &bo_key);
    let mut vi = connect(&server, "Vi", &vi_key);
    enter_world_together(&mut [&mut fay, &mut bo, &mut vi]);
    let seeded = world().seed_standing();
    let arrived = wait_until(
        &mut [&mut fay, &mut bo, &mut vi],
        Duration::from_secs(5),
        |c| c.iter().all(|c| c.standing().is_some()),
    );
    assert!(
        arrived,
        "every client receives the standing after the welcome"
    );
    let at_start = vi.standing().expect("standing");
    assert_eq!(at_start.stage(), Some(Stage::NetworkArchipelago));
    assert_eq!(
        at_start.relations, seeded.relations,
        "the world data's relations, stored"
    );
    assert_eq!(
        vi.embassy_row().len(),
        seeded.recognizers().len(),
        "one plaque per recognizer"
    );

    // A founder records a new recognition: everyone sees it, and the row, within a second.
    let now = unix_now();
    let sent = std::time::Instant::now();
    fay.app
        .world_mut()
        .write_message(archipelago_client::recognition::SendRecognition(relation(
            "Estonia",
            Relation::DeJure,
            now - 60,
        )));
    let everyone = wait_until(
        &mut [&mut fay, &mut bo, &mut vi],
        Duration::from_secs(1),
        |c| {
            c.iter().all(|c| {
                knows(c.standing(), "Estonia") && c.embassy_row().contains(&"Estonia".into())
            })
        },
    );
    assert!(
        everyone,
        "every client's standing and embassy row show Estonia within 1 s (took {:?})",
        sent.elapsed()
    );
    let estonia = vi
        .standing()
        .and_then(|s| {
            s.recognizers()
                .into_iter()
                .find(|r| r.recognizer == "Estonia")
                .cloned()
        })
        .expect("Estonia recorded");
    assert_eq!(
        estonia.recorded_by, "Fay",
        "signed by the founder, not by the client's claim"
    );
    assert_eq!(
        vi.embassy_row()[0],
        "Estonia",
        "de jure recognition stands first in the row"
    );

    // Only founders record.
    for client in [&mut bo, &mut vi] {
        let refused = client.record(relation("Latvia", Relation::Talks, now - 60));
        assert_eq!(refused, Err(RecognitionRefusal::NotFounder));
    }

    // Refused requests cost the budget too: a burst beyond it is told to slow down.
    let answered = vi
        .app
        .world()
        .resource::<archipelago_client::recognition::StandingBook>()
        .answered;
    for _ in 0..12 {
        vi.app
            .world_mut()
            .write_message(archipelago_client::recognition::SendRecognition(relation(
                "Latvia",
                Relation::Talks,
                now - 60,
            )));
    }
    let all = wait_until(&mut [&mut vi], Duration::from_secs(5), |c| {
        c[0].app
            .world()
            .resource::<archipelago_client::recognition::StandingBook>()
            .answered
            >= answered + 12
    });
    assert!(all, "every request is answered");
    let book = vi
        .app
        .world()
        .resource::<archipelago_client::recognition::StandingBook>();
    let too_fast = book
        .answers
        .iter()
        .rev()
        .take(12)
        .filter(|(_, a)| {
            a.as_ref()
                .err()
                .is_some_and(|e| matches!(e, RecognitionRefusal::TooFast))
        })
        .count();
    assert!(
        too_fast >= 3,
        "a visitor's burst of 12 refusals runs out of budget: {:?}",
        book.answers
    );

    // Bad input: each refused with its reason, nothing stored.
    let before = fay.standing().expect("standing");
    let founded = before.founded;
    let refusals = [
        (
            relation("Latvia", Relation::Talks, now + 86_400),
            RecognitionRefusal::FutureDate,
        ),
        (
            relation("Latvia", Relation::Talks, founded - 86_400),
            RecognitionRefusal::BeforeFounding,
        ),
        (
            census("meridian", now - 60, -5, 100),
            RecognitionRefusal::Negative(CensusFigure::Residents),
        ),
        (
            census("atlantis", now - 60, 5, 100),
            RecognitionRefusal::UnknownProtocity("atlantis".into()),
        ),
        (
            RecognitionRequest::Stage(StageChange {
                stage: Stage::StartupSociety,
                at: now - 60,
                reason: None,
                source: "a mistake".into(),
                recorded_by: String::new(),
            }),
            RecognitionRefusal::BackwardsWithoutReason {
                from: Stage::NetworkArchipelago,
                to: Stage::StartupSociety,
            },
        ),
        (
            relation("Estonia", Relation::DeJure, now - 30),
            RecognitionRefusal::SameRelation("Estonia".into()),
        ),
    ];
    for (request, reason) in refusals {
        assert_eq!(fay.record(request.clone()), Err(reason), "{request:?}");
    }
    assert_eq!(fay.standing(), Some(before), "nothing partial stored");

    // A census: everyone's numbers change.
    let recorded = fay.record(census("meridian", now - 60, 500, 2100));
    assert!(recorded.is_ok(), "{recorded:?}");
    let counted = wait_until(
        &mut [&mut fay, &mut bo, &mut vi],
        Duration::from_secs(1),
        |c| {
            c.iter().all(|c| {
                c.standing()
                    .and_then(|s| s.census_of("meridian").map(|r| r.census.population))
                    == Some(2600)
            })
        },
    );
    assert!(counted, "every client sees the capital's new census");
    let censuses = |s: &Standing| {
        s.census
            .iter()
            .filter(|c| c.protocity == "meridian")
            .count()
    };
    assert_eq!(
        fay.standing().map(|s| censuses(&s)),
        Some(censuses(&seeded) + 1),
        "the earlier censuses are kept as history"
    );

    // The admin CLI's change reaches the running server's clients too.
    let cli = server_cli(
        &data,
        &[
            "admin",
            "recognition",
            "relation",
            "Pacific Islands Forum",
            "memorandum",
            "--kind",
            "body",
            "--source",
            "Communiqué, Suva",
        ],
        None,
    );
    assert!(cli.contains("Pacific Islands Forum, memorandum"), "{cli}");
    let polled = wait_until(
        &mut [&mut fay, &mut bo, &mut vi],
        Duration::from_secs(5),
        |c| {
            c.iter().all(|c| {
                c.standing().is_some_and(|s| {
                    s.recognizers().iter().any(|r| {
                        r.recognizer == "Pacific Islands Forum"
                            && r.relation == Relation::Memorandum
                    })
                })
            })
        },
    );
    assert!(polled, "a change made with the CLI reaches every client");
    let expected = fay.standing().expect("standing");

    // Killed and started again: the same standing, history included.
    server.kill();
    let server = ServerProcess::start(&data);
    let mut vi = connect(&server, "Vi", &vi_key);
    enter_world(&mut vi);
    let back = wait_until(&mut [&mut vi], Duration::from_secs(5), |c| {
        c[0].standing().is_some()
    });
    assert!(back, "the standing arrives after the restart");
    assert_eq!(
        vi.standing(),
        Some(expected),
        "the standing survives the restart"
    );
    let stored = vi.standing().expect("standing");
    assert_eq!(
        (stored.stages.len(), stored.relations.len()),
        (seeded.stages.len(), seeded.relations.len() + 2),
        "on disk: Estonia and the forum's memorandum added, none of the refused changes"
    );
    assert!(vi.embassy_row().contains(&"Estonia".into()));
    let palau = vi
        .standing()
        .map(|s| {
            s.relations
                .iter()
                .filter(|r| r.recognizer == "Republic of Palau")
                .count()
        })
        .unwrap_or_default();
    assert_eq!(palau, 2, "the history keeps talks and the memorandum");

    let json = server_cli(&data, &["admin", "census", "show", "--json"], None);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let meridian = value["protocities"]
        .as_array()
        .and_then(|list| list.iter().find(|p| p["protocity"] == "meridian"))
        .expect("the capital listed");
    assert_eq!(meridian["census"]["census"]["population"], 2600);
    assert_eq!(meridian["census"]["recorded_by"], "Fay");
}
