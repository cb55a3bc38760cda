//! The wire cannot change without a new protocol version. The serde format of every type
//! `ProtocolPlugin` puts on the wire is traced (with serde-reflection, in postcard's
//! non-human-readable form) and compared with `protocol.json`, written when `PROTOCOL_VERSION`
//! last changed. A client and a server of the same version then always agree on the bytes,
//! and one of another version is refused at login with a clear reason.
//!
//! The tracer names containers without their type parameters, so the `Result`s on the wire
//! (each feature's answer, `Result<String, ItsRefusal>`) share one entry: a change of a
//! `Result`'s error type alone goes unseen (the refusal enums themselves are traced). The order of registration in `ProtocolPlugin` is not traced either.
//!
//! After changing a wire type: bump `PROTOCOL_VERSION` in `shared/src/protocol.rs`, then
//! `UPDATE_PROTOCOL_SNAPSHOT=1 cargo test -p archipelago-shared --test rules protocol`.

use archipelago_shared::assembly::{
    AssemblyNews, AssemblyRefusal, AssemblyRequest, ChairAct, HallSession, InOverflow,
    ModerationAction, SanctionKind,
};
use archipelago_shared::avatars::{
    AvatarNews, AvatarRefusal, AvatarRequest, BadAppearance, Gesture, Look, Part,
};
use archipelago_shared::chat::{ChatHeard, ChatNews, ChatRefusal, ChatTo};
use archipelago_shared::crowd::{
    AvatarInputs, CrowdAck, CrowdFrame, CrowdId, OwnPose, RosterEntry, RosterNews,
};
use archipelago_shared::events::{EventNews, EventRefusal, EventRequest};
use archipelago_shared::governance::tally::{
    Choice, ChoiceError, Outcome, VoteKind, VoteType, YesNo,
};
use archipelago_shared::governance::{
    DraftError, Eligibility, GovernanceNews, GovernanceRefusal, GovernanceRequest, Phase, PhaseAct,
    ProposalAct, Scope,
};
use archipelago_shared::identity::{AdmissionRefusal, LoginError, LoginRefusal, NameError};
use archipelago_shared::parcels::{
    Amount, Owner, OwnerClaim, ParcelAct, ParcelNews, ParcelRefusal, ParcelRequest, ParcelStatus,
    StatusChoice, Zoning,
};
use archipelago_shared::protocol::{
    AvatarInput, AvatarPose, AvatarProfile, PROTOCOL_VERSION, RequestRefusal, Role, ToClient,
    ToServer, WorldStatus,
};
use archipelago_shared::recognition::{
    CensusFigure, RecognitionNews, RecognitionRefusal, RecognitionRequest, RecognizerKind,
    RecordText, Relation, Stage,
};
use archipelago_shared::voice::{Reach, VoiceDown, VoiceUp};
use serde_json::{Value, json};
use serde_reflection::{Tracer, TracerConfig};

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rules/protocol.json");

/// The format of every message, input and replicated component, by type name.
fn wire_formats() -> Value {
    let mut tracer = Tracer::new(TracerConfig::default().is_human_readable(false));
    let traced = [
        tracer.trace_simple_type::<ToServer>().map(drop),
        tracer.trace_simple_type::<ToClient>().map(drop),
        tracer.trace_simple_type::<AvatarInput>().map(drop),
        tracer.trace_simple_type::<AvatarPose>().map(drop),
        tracer.trace_simple_type::<AvatarProfile>().map(drop),
        tracer.trace_simple_type::<WorldStatus>().map(drop),
        tracer.trace_simple_type::<HallSession>().map(drop),
        tracer.trace_simple_type::<InOverflow>().map(drop),
        tracer.trace_simple_type::<VoiceUp>().map(drop),
        tracer.trace_simple_type::<CrowdFrame>().map(drop),
        tracer.trace_simple_type::<CrowdAck>().map(drop),
        tracer.trace_simple_type::<CrowdId>().map(drop),
        tracer.trace_simple_type::<OwnPose>().map(drop),
        tracer.trace_simple_type::<AvatarInputs>().map(drop),
        tracer.trace_simple_type::<VoiceDown>().map(drop),
    ];
    // Enums inside them, each traced through all its variants (the tracer follows only the
    // first variant of an enum it meets inside another type).
    let nested = [
        tracer.trace_simple_type::<Reach>().map(drop),
        tracer.trace_simple_type::<RosterNews>().map(drop),
        tracer.trace_simple_type::<RosterEntry>().map(drop),
        tracer.trace_simple_type::<AssemblyRequest>().map(drop),
        tracer.trace_simple_type::<ModerationAction>().map(drop),
        tracer.trace_simple_type::<ChatHeard>().map(drop),
        tracer.trace_simple_type::<ChatRefusal>().map(drop),
        tracer.trace_simple_type::<ChatTo>().map(drop),
        tracer.trace_simple_type::<Choice>().map(drop),
        tracer.trace_simple_type::<Outcome>().map(drop),
        tracer.trace_simple_type::<VoteType>().map(drop),
        tracer.trace_simple_type::<YesNo>().map(drop),
        tracer.trace_simple_type::<Eligibility>().map(drop),
        tracer.trace_simple_type::<GovernanceRequest>().map(drop),
        tracer.trace_simple_type::<Phase>().map(drop),
        tracer.trace_simple_type::<Scope>().map(drop),
        tracer.trace_simple_type::<EventRequest>().map(drop),
        tracer.trace_simple_type::<EventRefusal>().map(drop),
        tracer.trace_simple_type::<Owner>().map(drop),
        tracer.trace_simple_type::<OwnerClaim>().map(drop),
        tracer.trace_simple_type::<ParcelRequest>().map(drop),
        tracer.trace_simple_type::<ParcelStatus>().map(drop),
        tracer.trace_simple_type::<StatusChoice>().map(drop),
        tracer.trace_simple_type::<Zoning>().map(drop),
        tracer.trace_simple_type::<RecognitionRequest>().map(drop),
        tracer.trace_simple_type::<RecognizerKind>().map(drop),
        tracer.trace_simple_type::<Relation>().map(drop),
        tracer.trace_simple_type::<Stage>().map(drop),
        tracer.trace_simple_type::<Role>().map(drop),
        tracer.trace_simple_type::<ParcelNews>().map(drop),
        tracer.trace_simple_type::<GovernanceNews>().map(drop),
        tracer.trace_simple_type::<ChatNews>().map(drop),
        tracer.trace_simple_type::<AssemblyNews>().map(drop),
        tracer.trace_simple_type::<EventNews>().map(drop),
        tracer.trace_simple_type::<RecognitionNews>().map(drop),
        tracer.trace_simple_type::<ParcelRefusal>().map(drop),
        tracer.trace_simple_type::<ParcelAct>().map(drop),
        tracer.trace_simple_type::<Amount>().map(drop),
        tracer.trace_simple_type::<GovernanceRefusal>().map(drop),
        tracer.trace_simple_type::<ProposalAct>().map(drop),
        tracer.trace_simple_type::<PhaseAct>().map(drop),
        tracer.trace_simple_type::<ChoiceError>().map(drop),
        tracer.trace_simple_type::<DraftError>().map(drop),
        tracer.trace_simple_type::<VoteKind>().map(drop),
        tracer.trace_simple_type::<AssemblyRefusal>().map(drop),
        tracer.trace_simple_type::<ChairAct>().map(drop),
        tracer.trace_simple_type::<SanctionKind>().map(drop),
        tracer.trace_simple_type::<RecognitionRefusal>().map(drop),
        tracer.trace_simple_type::<CensusFigure>().map(drop),
        tracer.trace_simple_type::<RecordText>().map(drop),
        tracer.trace_simple_type::<LoginRefusal>().map(drop),
        tracer.trace_simple_type::<RequestRefusal>().map(drop),
        tracer.trace_simple_type::<LoginError>().map(drop),
        tracer.trace_simple_type::<NameError>().map(drop),
        tracer.trace_simple_type::<AdmissionRefusal>().map(drop),
        tracer.trace_simple_type::<AvatarRequest>().map(drop),
        tracer.trace_simple_type::<AvatarNews>().map(drop),
        tracer.trace_simple_type::<AvatarRefusal>().map(drop),
        tracer.trace_simple_type::<BadAppearance>().map(drop),
        tracer.trace_simple_type::<Gesture>().map(drop),
        tracer.trace_simple_type::<Part>().map(drop),
        tracer.trace_simple_type::<Look>().map(drop),
        // One `Result` stands for all (see above).
        tracer
            .trace_simple_type::<Result<String, ParcelRefusal>>()
            .map(drop),
    ];
    for result in traced.into_iter().chain(nested) {
        result.unwrap_or_else(|e| panic!("a wire type cannot be traced: {e}"));
    }
    let registry = tracer
        .registry()
        .unwrap_or_else(|e| panic!("a wire type is traced only in part: {e}"));
    serde_json::to_value(registry).expect("formats are JSON")
}

#[test]
fn the_wire_does_not_change_without_a_new_protocol_version() {
    let formats = wire_formats();
    let stored: Option<Value> = std::fs::read_to_string(SNAPSHOT)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let stored_version = stored.as_ref().and_then(|s| s["version"].as_u64());
    let same_wire = stored.as_ref().is_some_and(|s| s["formats"] == formats);
    let version = u64::from(PROTOCOL_VERSION);
    if same_wire && stored_version == Some(version) {
        return;
    }
    assert!(
        same_wire || stored_version != Some(version),
        "the wire changed but PROTOCOL_VERSION is still {version}: bump it in \
         shared/src/protocol.rs, then run UPDATE_PROTOCOL_SNAPSHOT=1 cargo test -p \
         archipelago-shared --test rules protocol"
    );
    if std::env::var_os("UPDATE_PROTOCOL_SNAPSHOT").is_some() {
        let snapshot = json!({ "version": version, "formats": formats });
        let text = serde_json::to_string_pretty(&snapshot).expect("JSON") + "\n";
        std::fs::write(SNAPSHOT, text).expect("the snapshot is written");
        println!("wrote {SNAPSHOT} for protocol version {version}");
        return;
    }
    panic!(
        "protocol.json records version {stored_version:?}, PROTOCOL_VERSION is {version}: run \
         UPDATE_PROTOCOL_SNAPSHOT=1 cargo test -p archipelago-shared --test rules protocol"
    );
}
