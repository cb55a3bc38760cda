//! The whole wire protocol: every replicated component, message, input and channel, registered
//! in one plugin that the server and the client both add, in the same order.
//!
//! Change [`PROTOCOL_VERSION`] with any change to the types on the wire (here and in the
//! modules they come from) or to the order of registration. The test
//! `shared/tests/rules/protocol.rs` traces every wire type's format and fails when it changes
//! without a new version.

use bevy::math::{Vec2, Vec3};
use bevy::prelude::*;
use lightyear::prelude::*;
use serde::{Deserialize, Serialize};

use crate::assembly::{AssemblyNews, AssemblyRequest, HallSession};
use crate::avatars::{AvatarNews, AvatarRequest};
use crate::chat::ChatNews;
use crate::crowd::{AvatarInputs, CrowdAck, CrowdChannel, CrowdFrame, OwnPose};
use crate::events::{EventNews, EventRequest};
use crate::governance::{GovernanceNews, GovernanceRequest};
use crate::parcels::{ParcelNews, ParcelRequest};
use crate::recognition::{RecognitionNews, RecognitionRequest};
use crate::voice::{VoiceChannel, VoiceDown, VoiceUp};

/// Netcode protocol id: clients of another protocol are refused during the handshake.
pub const PROTOCOL_ID: u64 = 0x4152_4348_4950_0001;
/// Bumped with every change to the types in this file; checked at login.
pub const PROTOCOL_VERSION: u32 = 23;

/// Log directives both binaries add to Bevy's default filter. lightyear reports every input
/// that arrives for a tick already simulated as an ERROR carrying the whole input buffer; that
/// is normal under load or loss, and a client can cause it at will, so a busy server wrote
/// 118 MB of it in six minutes (BENCHMARKS.md, soak). `RUST_LOG` adds its directives on top:
/// only one naming `lightyear_debug` brings these records back.
pub const LOG_DIRECTIVES: &str = "lightyear_debug=off";

/// Bevy's default log filter with [`LOG_DIRECTIVES`] added.
pub fn log_filter(default: &str) -> String {
    format!("{default},{LOG_DIRECTIVES}")
}
/// Simulation ticks per second the server runs unless told otherwise.
pub const DEFAULT_TICK_HZ: u32 = 30;
/// Default UDP port of the server (QUIC).
pub const DEFAULT_PORT: u16 = 7447;

/// Seconds of silence after which either side drops a connection. Generous: a client whose
/// software renderer compiles shaders can stall for seconds.
pub const NETCODE_TIMEOUT_SECS: i32 = 15;

/// How often QUIC pings a quiet connection.
pub const QUIC_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(1);
/// Silence after which QUIC gives a connection up (both sides ask for the same). Long enough
/// to ride out a network gone quiet for several seconds on a lossy link: after a silence,
/// QUIC's probes come at doubling intervals, and one of them must get through.
pub const QUIC_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Largest packet lightyear builds on our links, both ways (its default is 1200). A packet
/// goes out inside netcode (up to 25 bytes more) inside a QUIC datagram, and QUIC only
/// promises 1200-byte UDP payloads, less up to 58 bytes of its own and WebTransport's
/// framing: 1100 fits that floor. A larger packet is dropped by QUIC unannounced whenever the
/// path MTU is smaller than path-MTU discovery found, or it has not found it yet, which
/// before login cost whole fragmented messages (see
/// docs/upstream/lightyear-packets-larger-than-quic-datagrams.md). Both peers must agree:
/// lightyear derives its fragment size from it.
pub const LINK_MTU: usize = 1100;

/// [`LINK_MTU`] as lightyear takes it: give a link entity `Link::with_mtu(link_mtu())` before
/// lightyear's transport is added to it.
pub fn link_mtu() -> LinkMtu {
    LinkMtu::new(LINK_MTU)
}

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 24;
/// Longest protocity id a client may send.
pub const MAX_ID_CHARS: usize = 32;
/// Largest message our client ever sends, serialized: a proposal draft at its limits is about
/// 20 KB. The server drops a link whose fragments claim more (lightyear would reserve memory
/// for whatever count a sender claims).
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 48 * 1024;
/// Longest signature a client may send (ed25519 signatures are 64 bytes).
pub const SIGNATURE_BYTES: usize = 64;
/// Teleports a client may request per second; more are refused.
pub const MAX_TELEPORTS_PER_SECOND: f32 = 2.0;
/// Requests a link may send per second over time, whatever they are for. Far above what a
/// person or a bot sends (a few a second at most); a client past it is flooding the server,
/// and what it sends over is dropped unread.
pub const REQUESTS_PER_SECOND: f32 = 20.0;
/// Requests a link may send in one burst.
pub const REQUEST_BURST: f32 = 60.0;
/// Parcel requests a client may make per second, on average; more are refused.
pub const MAX_PARCEL_REQUESTS_PER_SECOND: f32 = 4.0;
/// Parcel requests a client may make in one burst.
pub const PARCEL_REQUEST_BURST: f32 = 8.0;
/// Requests about civic life (assemblies, events, recognition, together) a client may make
/// per second, on average, and in a burst.
pub const CIVIC_REQUESTS_PER_SECOND: f32 = 4.0;
pub const CIVIC_REQUEST_BURST: f32 = 8.0;
// The limits on parcel text (descriptions, group names) and amounts are in
// [`crate::parcels`], those on proposals and ballots in [`crate::governance`], beside the
// rules that check them.

/// A member's standing in the nation. Ordered: later variants hold more rights.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Reflect,
)]
pub enum Role {
    /// A key the registry does not know yet.
    Visitor,
    Member,
    Resident,
    Founder,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Visitor => "visitor",
            Role::Member => "member",
            Role::Resident => "resident",
            Role::Founder => "founder",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        [Role::Visitor, Role::Member, Role::Resident, Role::Founder]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an avatar stands and how it is moving: the state the movement rule advances.
/// One's own is predicted from one's inputs ([`crate::crowd::OwnPose`]); everyone else's is
/// drawn from crowd frames.
#[derive(Component, Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, Reflect)]
pub struct AvatarPose {
    /// Feet position in world space.
    pub position: Vec3,
    /// Facing, radians around +Y.
    pub yaw: f32,
    /// Vertical speed in m/s (positive up).
    pub vertical_speed: f32,
    pub grounded: bool,
}

/// Who an avatar belongs to, shown on its name tag.
#[derive(Component, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvatarProfile {
    pub name: String,
    pub role: Role,
    /// The member's whole public key (hex): how requests name them. Shown by its
    /// [`AvatarProfile::fingerprint`], to tell equal names apart.
    pub key: String,
}

impl AvatarProfile {
    /// The short form of the key shown beside the name.
    pub fn fingerprint(&self) -> &str {
        crate::identity::short_key(&self.key)
    }
}

/// The world's live numbers, on one replicated entity.
#[derive(Component, Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WorldStatus {
    /// People with an avatar in the world.
    pub online: u32,
    /// People online per protocity id (those standing on its island), sorted by id.
    pub per_island: Vec<(String, u32)>,
    /// People inside each protocity's town hall, sorted by id: what those outside a hall
    /// learn of it, since they do not receive the avatars inside.
    pub in_hall: Vec<(String, u32)>,
    /// The title of the session open in each hall that has one, sorted by protocity id.
    pub sessions: Vec<(String, String)>,
}

/// What a client asks of its avatar each tick. The server clamps it to what the rules allow.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, Reflect)]
pub struct AvatarInput {
    /// Desired horizontal direction in world space (`x`, `z`); length at most 1.
    pub direction: Vec2,
    /// Facing, radians around +Y.
    pub yaw: f32,
    pub run: bool,
    pub jump: bool,
}

/// Writes [`ToServer`] and [`ToClient`]: the session's own variants as written, then one
/// of each per feature in the list, with `From<News> for ToClient`; and `feature_modules!`,
/// which declares each feature's module in `lib.rs`.
macro_rules! wire {
    (
        $(#[$to_server:meta])*
        pub enum ToServer { $($server:tt)* }
        $(#[$to_client:meta])*
        pub enum ToClient { $($client:tt)* }
        features {
            $(
                $(#[$doc:meta])*
                $module:ident: $request:ident($request_type:ty) => $news:ident($news_type:ty),
            )*
        }
    ) => {
        $(#[$to_server])*
        pub enum ToServer {
            $($server)*
            $($(#[$doc])* $request($request_type),)*
        }

        $(#[$to_client])*
        pub enum ToClient {
            $($client)*
            $($(#[$doc])* $news($news_type),)*
        }

        $(
            impl From<$news_type> for ToClient {
                fn from(news: $news_type) -> Self {
                    ToClient::$news(news)
                }
            }
        )*

        macro_rules! feature_modules {
            () => {
                $(pub mod $module;)*
            };
        }
    };
}

wire! {
    /// Requests from a client.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum ToServer {
        /// Answer to [`ToClient::Challenge`]: who I am, proven by signing the nonce.
        Login {
            protocol_version: u32,
            name: String,
            public_key: [u8; 32],
            /// ed25519 signature of [`crate::identity::login_payload`].
            signature: Vec<u8>,
        },
        /// Move my avatar to a protocity's spawn point.
        Teleport { protocity: String },
        /// Move my avatar just inside a protocity's town hall.
        EnterHall { protocity: String },
    }

    /// Answers and notices from the server.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub enum ToClient {
        /// Sent on connect: sign this nonce to log in.
        Challenge {
            nonce: [u8; 32],
            tick_hz: u32,
            /// Which server this is: signed into the login, checked against the pinned digest.
            server: crate::identity::ServerIdentity,
        },
        /// Login accepted; the avatar follows.
        Welcome {
            name: String,
            role: Role,
            nation: String,
            /// Protocity id where the avatar appears.
            arrived_at: String,
            /// The server's clock (Unix milliseconds) when it sent this: deadlines are the
            /// server's, and the client reckons them from its own clock with this.
            server_time_ms: i64,
        },
        /// This client's role changed while it was online (granted or taken away); what it
        /// may do follows at once.
        RoleChanged { role: Role },
        /// Login refused, or a logged-in connection closed; the server closes it right after.
        Rejected {
            reason: crate::identity::LoginRefusal,
        },
        /// A request was not done, whatever feature it was for: the session's and the
        /// avatar's own refusals.
        Refused(RequestRefusal),
        /// The avatar was moved to a protocity.
        Teleported { protocity: String },
        /// Who this client can see, as it changes ([`crate::crowd`]).
        Roster(crate::crowd::RosterNews),
    }

    // Each feature, one line: its module, its requests and its news (answers, refusals and
    // what it publishes). New features go at the end, with a new PROTOCOL_VERSION.
    features {
        /// Land: parcels, their changes, pledges and histories.
        parcels: Parcel(ParcelRequest) => Parcels(ParcelNews),
        /// Proposals, ballots, tallies and receipts.
        governance: Governance(GovernanceRequest) => Governance(GovernanceNews),
        /// Chat lines, and why one was not sent.
        chat: Chat(ChatRequest) => Chat(ChatNews),
        /// Sessions in the town halls: the floor, the agenda, moderation.
        assembly: Assembly(AssemblyRequest) => Assembly(AssemblyNews),
        /// The calendar of live events.
        events: Event(EventRequest) => Events(EventNews),
        /// The nation's standing: stage, relations, census.
        recognition: Recognition(RecognitionRequest) => Recognition(RecognitionNews),
        /// Looks, gestures and seats.
        avatars: Avatar(AvatarRequest) => Avatars(AvatarNews),
    }
}

/// A chat line to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub to: crate::chat::ChatTo,
    pub text: String,
}

/// Why a request was not done, whatever it was for. It goes to the client as it is
/// ([`ToClient::Refused`]); its `Display` is the one place that puts it into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum RequestRefusal {
    #[error(
        "too many requests: {dropped} dropped unread; this server reads at most \
         {REQUESTS_PER_SECOND} a second from each client"
    )]
    Flood { dropped: u32 },
    #[error("you are already logged in")]
    AlreadyLoggedIn,
    #[error("your login is already being checked")]
    LoginPending,
    #[error("the server is shutting down; this was not done. Try again once it is back")]
    ShuttingDown,
    #[error("that protocity id is too long")]
    IdTooLong,
    #[error("there is no protocity `{0}`")]
    UnknownProtocity(String),
    #[error("too many teleports; wait a moment")]
    TooManyTeleports,
    #[error("log in first")]
    LogInFirst,
    #[error(
        "{dropped} frames of your voice were not sent on: too large, too frequent, or you are \
         muted where you stand"
    )]
    VoiceDropped { dropped: u32 },
    #[error(
        "{dropped} of your movement messages were dropped: malformed (at most {} inputs each) \
         or too many at once",
        crate::crowd::MAX_INPUTS_PER_MESSAGE
    )]
    InputsDropped { dropped: u32 },
}

/// Reliable, ordered channel for requests and answers.
pub struct ControlChannel;

/// Registers the protocol. Server and client add this exact plugin.
pub struct ProtocolPlugin;

impl Plugin for ProtocolPlugin {
    fn build(&self, app: &mut App) {
        app.add_channel::<ControlChannel>(ChannelSettings {
            mode: ChannelMode::OrderedReliable(ReliableSettings::default()),
            ..default()
        })
        .add_direction(NetworkDirection::Bidirectional);

        app.register_message::<ToServer>()
            .add_direction(NetworkDirection::ClientToServer);
        app.register_message::<ToClient>()
            .add_direction(NetworkDirection::ServerToClient);

        app.add_channel::<VoiceChannel>(ChannelSettings {
            mode: ChannelMode::UnorderedUnreliable,
            ..default()
        })
        .add_direction(NetworkDirection::Bidirectional);
        app.register_message::<VoiceUp>()
            .add_direction(NetworkDirection::ClientToServer);
        app.register_message::<VoiceDown>()
            .add_direction(NetworkDirection::ServerToClient);

        app.add_channel::<CrowdChannel>(ChannelSettings {
            mode: ChannelMode::UnorderedUnreliable,
            ..default()
        })
        .add_direction(NetworkDirection::Bidirectional);
        app.register_message::<CrowdFrame>()
            .add_direction(NetworkDirection::ServerToClient);
        app.register_message::<CrowdAck>()
            .add_direction(NetworkDirection::ClientToServer);
        app.register_message::<OwnPose>()
            .add_direction(NetworkDirection::ServerToClient);
        app.register_message::<AvatarInputs>()
            .add_direction(NetworkDirection::ClientToServer);

        // Avatars are not replicated (crate::crowd): only these few world entities are.
        app.component::<WorldStatus>().replicate();
        app.component::<HallSession>().replicate();
    }
}
