//! Connecting, logging in and staying informed: the client entity, the login handshake, and
//! a [`ConnectionState`] the UI shows in words. Failure is always visible: an unreachable
//! server, a wrong certificate or a refused key ends in [`ConnectionState::Failed`] with a
//! reason, never in an endless wait.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use archipelago_shared::identity::{check_server, login_payload};
use archipelago_shared::protocol::{
    ControlChannel, NETCODE_TIMEOUT_SECS, PROTOCOL_ID, PROTOCOL_VERSION, Role, ToClient, ToServer,
};
use bevy::prelude::*;
use ed25519_dalek::Signer;
use lightyear::connection::client::{Connected, Disconnected, DisconnectedReason};
use lightyear::link::UnlinkReason;
use lightyear::netcode::client_plugin::NetcodeConfig;
use lightyear::prelude::client::*;
use lightyear::prelude::*;

use crate::clock::ServerClock;
use crate::transport::{AcceptedCertificate, InProcessLink, ServerConnection, Trust};
use crate::{ClientConfig, ClientSystems};

/// Where the client stands, in the words the HUD uses.
#[derive(Resource, Debug, Clone, PartialEq)]
pub enum ConnectionState {
    /// Waiting for the server to answer.
    Connecting { attempt: u32, elapsed: Duration },
    /// Connected; proving who we are.
    LoggingIn,
    /// Logged in with an avatar in the world.
    InWorld,
    /// The connection was lost after being in the world; trying to get back in by itself
    /// for [`RECONNECT_FOR`]. `why` says what happened, in words.
    Reconnecting {
        attempt: u32,
        lost_for: Duration,
        why: String,
    },
    /// Gave up; the reason says why in words a person understands.
    Failed { reason: String },
}

/// Appends `item` to a list kept for the UI, dropping the oldest beyond `cap`, so a long
/// session's answers and notices take bounded memory.
pub fn push_capped<T>(list: &mut Vec<T>, item: T, cap: usize) {
    list.push(item);
    let excess = list.len().saturating_sub(cap);
    list.drain(..excess);
}

/// How long a client that lost its connection keeps trying to get back in before it asks
/// the person to press Retry.
pub const RECONNECT_FOR: Duration = Duration::from_secs(120);

/// The wait before reconnection attempt `attempt` (from 1): 1, 2, 4, then every 5 s.
fn reconnect_delay(attempt: u32) -> Duration {
    Duration::from_secs(match attempt {
        0 | 1 => 1,
        2 => 2,
        3 => 4,
        _ => 5,
    })
}

/// Where getting back in stands, once the connection was lost.
#[derive(Resource, Debug, Default)]
struct Reconnect {
    /// When the connection was lost (app time); none while in the world.
    lost_at: Option<Duration>,
    /// When the attempt under way began (app time).
    trying_since: Option<Duration>,
    /// When to make the next attempt (app time).
    next_try: Duration,
}

impl ConnectionState {
    pub fn is_failed(&self) -> bool {
        matches!(self, ConnectionState::Failed { .. })
    }
}

/// What the server told us.
#[derive(Resource, Debug, Default, Clone)]
pub struct Session {
    pub name: String,
    pub role: Option<Role>,
    pub nation: String,
    /// Protocity id the avatar was last placed at.
    pub protocity: Option<String>,
    /// Notices from the server, oldest first, with the time they came (seconds since start).
    pub notices: Vec<(f64, String)>,
    pub teleports: u32,
    /// Round-trip time to the server.
    pub ping: Duration,
    /// Our own (predicted) avatar entity, once it exists.
    pub own_avatar: Option<Entity>,
    /// Server tick rate announced at login.
    pub server_tick_hz: u32,
    /// Why the server last refused our login or closed our connection, as it said it.
    pub refused: Option<archipelago_shared::identity::LoginRefusal>,
    /// Requests the server did not do, oldest first, with the time it said so (their words
    /// are in `notices` too).
    pub refusals: Vec<(f64, archipelago_shared::protocol::RequestRefusal)>,
}

/// Ask the client to try connecting again after a failure.
#[derive(Message, Debug, Clone, Copy, Default)]
pub struct Retry;

/// Connection attempts so far, the first included: counted across automatic and asked-for
/// retries, so the HUD's "attempt N" never goes back.
#[derive(Resource, Debug, Clone, Copy)]
struct Attempts(u32);

/// A request to send to the server once logged in.
#[derive(Message, Debug, Clone)]
pub struct Request(pub ToServer);

/// A server message for a feature plugin (parcels and what follows), passed on as received.
#[derive(Message, Debug, Clone)]
pub struct FromServer(pub ToClient);

pub(crate) fn plugin(app: &mut App) {
    app.insert_resource(ConnectionState::Connecting {
        attempt: 1,
        elapsed: Duration::ZERO,
    })
    .insert_resource(Attempts(1))
    .init_resource::<Reconnect>()
    .init_resource::<ServerClock>()
    .init_resource::<Session>()
    .add_message::<Retry>()
    .add_message::<Request>()
    .add_message::<FromServer>()
    .add_systems(Startup, spawn_client)
    .add_systems(
        Update,
        (watch_connection, receive_messages, retry, send_requests)
            .chain()
            .in_set(ClientSystems::Receive),
    );
}

/// A netcode client with a fresh random id. A reconnecting client needs a new one: the
/// server keeps the old id for the netcode timeout and refuses it meanwhile.
pub(crate) fn netcode_client(config: &ClientConfig) -> Result<NetcodeClient> {
    let auth = Authentication::Manual {
        server_addr: config.server,
        client_id: rand::random(),
        private_key: [0; 32],
        protocol_id: PROTOCOL_ID,
    };
    Ok(NetcodeClient::new(
        auth,
        NetcodeConfig {
            client_timeout_secs: NETCODE_TIMEOUT_SECS,
            token_expire_secs: -1,
            ..default()
        },
    )?)
}

fn spawn_client(
    mut commands: Commands,
    config: Res<ClientConfig>,
    mut in_process: ResMut<InProcessLink>,
) -> Result {
    let netcode = netcode_client(&config)?;
    let mut client = commands.spawn((
        Name::new("Client"),
        Client,
        Link::default().with_mtu(archipelago_shared::protocol::link_mtu()),
        LocalAddr(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
        PeerAddr(config.server),
        ReplicationReceiver,
        netcode,
    ));
    match in_process.take() {
        Some(channel) => client.insert(channel),
        None => client.insert(ServerConnection),
    };
    let client = client.id();
    commands.trigger(Connect { entity: client });
    info!("connecting to {}", config.server);
    Ok(())
}

/// What a disconnect comes down to, read once from lightyear's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// The server's certificate is not the one the digest names.
    Certificate,
    /// Nobody answered: timed out, refused or unreachable.
    Silence,
    /// The server closed the connection.
    ClosedByServer,
    /// netcode denied the connection: every place is taken.
    Full,
    /// Anything else the transport reports.
    Other,
}

fn cause_of(reason: &DisconnectedReason) -> Cause {
    // Transport errors carry a multi-line chain (and maybe a backtrace) as text.
    let full = format!("{reason:?}");
    debug!("disconnect reason: {full}");
    let says = |words: &[&str]| words.iter().any(|w| full.contains(w));
    if says(&["certificate", "UnknownIssuer"]) {
        Cause::Certificate
    } else if says(&["timed out", "refused", "unreachable"]) {
        Cause::Silence
    } else if matches!(
        reason,
        DisconnectedReason::ByPeer(_) | DisconnectedReason::LinkFailed(UnlinkReason::ByPeer(_))
    ) {
        Cause::ClosedByServer
    } else if says(&["ConnectionDenied"]) {
        // netcode denies a connection for one reason here: every place is taken.
        Cause::Full
    } else {
        Cause::Other
    }
}

/// Turns a lightyear disconnect reason into words for a person.
fn explain(reason: &DisconnectedReason, config: &ClientConfig) -> String {
    let server = config.shown_address();
    match cause_of(reason) {
        Cause::Certificate if config.trust() == Trust::Pinned => format!(
            "The server at {server} presented a certificate that does not match the digest you \
             gave (--cert-digest). Ask its host for the current digest."
        ),
        Cause::Certificate => format!(
            "The server at {server} presented a certificate that no authority this computer \
             trusts issued for that name. Ask its host for the certificate's digest \
             (--cert-digest) or for the authority's certificate (--ca-file)."
        ),
        Cause::Silence => {
            format!("No server answered at {server}. Is it running, and is the address right?")
        }
        Cause::ClosedByServer => format!(
            "The server at {server} closed the connection. It may have restarted; try again."
        ),
        Cause::Full => format!(
            "The server at {server} is full: as many people as it can hold are in. Try again \
             in a while."
        ),
        Cause::Other => match transport_words(reason) {
            Some(words) => format!("Lost the connection to {server} ({words})."),
            None => format!("Lost the connection to {server} ({reason})."),
        },
    }
}

/// The transport's own words for a failure on one line: the error and its first cause
/// ("failed to connect: connection closed by peer: 0"), without the error chain's layout or
/// a backtrace.
fn transport_words(reason: &DisconnectedReason) -> Option<String> {
    let (DisconnectedReason::LinkFailed(UnlinkReason::TransportError(chain))
    | DisconnectedReason::TransportError(chain)) = reason
    else {
        return None;
    };
    let mut lines = chain.lines().map(str::trim).filter(|line| !line.is_empty());
    let head = lines.next()?;
    let cause = lines
        .skip_while(|line| *line != "Caused by:")
        .nth(1)
        .map(|line| line.trim_start_matches("0: "));
    Some(match cause {
        Some(cause) => format!("{head}: {cause}"),
        None => head.to_owned(),
    })
}

/// A first handshake that the transport gave up on, for no reason a person could act on (not
/// a certificate, not silence): under load a QUIC handshake now and then ends this way, and
/// a second try succeeds, so the client makes it by itself instead of asking for Retry.
fn worth_retrying(reason: &DisconnectedReason) -> bool {
    matches!(
        reason,
        DisconnectedReason::LinkFailed(UnlinkReason::TransportError(_))
    ) && cause_of(reason) == Cause::Other
}

fn watch_connection(
    mut state: ResMut<ConnectionState>,
    mut config: ResMut<ClientConfig>,
    client: Single<(Entity, Option<&Connected>, Option<&Disconnected>, &Link), With<Client>>,
    mut session: ResMut<Session>,
    mut attempts: ResMut<Attempts>,
    mut reconnect: ResMut<Reconnect>,
    time: Res<Time>,
    mut commands: Commands,
) {
    let (entity, connected, disconnected, link) = *client;
    let now = time.elapsed();
    session.ping = link.stats.rtt;
    let next = match &*state {
        ConnectionState::Connecting { attempt, elapsed } => {
            let elapsed = *elapsed + time.delta();
            if connected.is_some() {
                Some(ConnectionState::LoggingIn)
            } else if elapsed > config.connect_timeout {
                commands.trigger(Disconnect { entity });
                Some(ConnectionState::Failed {
                    reason: format!(
                        "No answer from {} after {} s. Is the server running, and is the \
                         address right?",
                        config.server,
                        config.connect_timeout.as_secs()
                    ),
                })
            } else if let Some(d) = disconnected.filter(|d| {
                !matches!(d.reason, DisconnectedReason::Unknown)
                    && elapsed > Duration::from_millis(200)
            }) {
                if *attempt == 1 && worth_retrying(&d.reason) {
                    warn!(
                        "the first handshake failed ({}); trying once more",
                        transport_words(&d.reason).unwrap_or_default()
                    );
                    attempts.0 += 1;
                    commands.trigger(Connect { entity });
                    Some(ConnectionState::Connecting {
                        attempt: attempts.0,
                        elapsed: Duration::ZERO,
                    })
                } else {
                    Some(ConnectionState::Failed {
                        reason: explain(&d.reason, &config),
                    })
                }
            } else {
                Some(ConnectionState::Connecting {
                    attempt: *attempt,
                    elapsed,
                })
            }
        }
        ConnectionState::InWorld => {
            reconnect.lost_at = None;
            disconnected.map(|d| lost(&d.reason, &config, &mut reconnect, now))
        }
        ConnectionState::LoggingIn => disconnected.map(|d| {
            if reconnect.lost_at.is_some() {
                // Lost again while logging back in: keep trying on the same clock.
                lost(&d.reason, &config, &mut reconnect, now)
            } else {
                ConnectionState::Failed {
                    reason: explain(&d.reason, &config),
                }
            }
        }),
        ConnectionState::Reconnecting {
            attempt,
            lost_for: _,
            why,
        } => {
            let lost_at = *reconnect.lost_at.get_or_insert(now);
            let lost_for = now.saturating_sub(lost_at);
            let mut attempt = *attempt;
            if connected.is_some() {
                Some(ConnectionState::LoggingIn)
            } else if lost_for > RECONNECT_FOR {
                commands.trigger(Disconnect { entity });
                reconnect.lost_at = None;
                Some(ConnectionState::Failed {
                    reason: format!(
                        "{why} Could not get back in for {} s; press Retry to try again.",
                        RECONNECT_FOR.as_secs()
                    ),
                })
            } else {
                let mut gave_up = None;
                match reconnect.trying_since {
                    Some(since) => {
                        let trying_for = now.saturating_sub(since);
                        let failed = disconnected
                            .filter(|d| !matches!(d.reason, DisconnectedReason::Unknown))
                            .filter(|_| trying_for > Duration::from_millis(200));
                        let hung = trying_for > config.connect_timeout;
                        if let Some(d) = failed
                            && cause_of(&d.reason) == Cause::Certificate
                        {
                            // The server is back with another certificate. A server on this
                            // machine wrote its new digest where this client read the old.
                            match newer_digest(&config) {
                                Some(digest) => {
                                    info!("the server has a new certificate; its digest: {digest}");
                                    config.cert_digest = digest;
                                }
                                None => {
                                    reconnect.lost_at = None;
                                    gave_up = Some(ConnectionState::Failed {
                                        reason: explain(&d.reason, &config),
                                    });
                                }
                            }
                        }
                        if failed.is_some() || hung {
                            if hung {
                                commands.trigger(Disconnect { entity });
                            }
                            reconnect.trying_since = None;
                            reconnect.next_try = now + reconnect_delay(attempt + 1);
                        }
                    }
                    None if now >= reconnect.next_try => {
                        attempt += 1;
                        attempts.0 += 1;
                        info!("reconnecting (attempt {attempt})");
                        match netcode_client(&config) {
                            Ok(netcode) => {
                                commands.entity(entity).insert(netcode);
                                commands.trigger(Connect { entity });
                                reconnect.trying_since = Some(now);
                            }
                            Err(e) => {
                                warn!("cannot reconnect: {e}");
                                reconnect.next_try = now + reconnect_delay(attempt + 1);
                            }
                        }
                    }
                    None => {}
                }
                gave_up.or_else(|| {
                    Some(ConnectionState::Reconnecting {
                        attempt,
                        lost_for,
                        why: why.clone(),
                    })
                })
            }
        }
        ConnectionState::Failed { .. } => None,
    };
    if let Some(next) = next
        && next != *state
    {
        if let ConnectionState::Failed { reason } = &next {
            warn!("connection failed: {reason}");
        }
        *state = next;
    }
}

/// The digest in the file this client read its digest from, when it is another one now.
fn newer_digest(config: &ClientConfig) -> Option<String> {
    let path = config.digest_file.as_ref()?;
    let digest = std::fs::read_to_string(path).ok()?.trim().to_owned();
    (!digest.is_empty() && !digest.eq_ignore_ascii_case(&config.cert_digest)).then_some(digest)
}

/// What losing the connection leads to: trying to get back in, unless the certificate
/// changed (trying again cannot help; the person needs the new digest).
fn lost(
    reason: &DisconnectedReason,
    config: &ClientConfig,
    reconnect: &mut Reconnect,
    now: Duration,
) -> ConnectionState {
    let server = config.shown_address();
    let why = match cause_of(reason) {
        Cause::Certificate => {
            reconnect.lost_at = None;
            return ConnectionState::Failed {
                reason: explain(reason, config),
            };
        }
        Cause::Silence => format!("Nothing more came from the server at {server}."),
        Cause::ClosedByServer => {
            format!("The server at {server} closed the connection; it may be restarting.")
        }
        Cause::Full | Cause::Other => explain(reason, config),
    };
    warn!("{why} Reconnecting.");
    let lost_at = *reconnect.lost_at.get_or_insert(now);
    reconnect.trying_since = None;
    reconnect.next_try = now + reconnect_delay(1);
    ConnectionState::Reconnecting {
        attempt: 0,
        lost_for: now.saturating_sub(lost_at),
        why,
    }
}

pub(crate) fn receive_messages(
    mut receivers: Query<
        (&mut MessageReceiver<ToClient>, &mut MessageSender<ToServer>),
        With<Client>,
    >,
    client: Single<Entity, With<Client>>,
    config: Res<ClientConfig>,
    accepted: Res<AcceptedCertificate>,
    mut state: ResMut<ConnectionState>,
    mut session: ResMut<Session>,
    mut clock: ResMut<ServerClock>,
    time: Res<Time>,
    mut commands: Commands,
    mut for_features: MessageWriter<FromServer>,
) {
    let Ok((mut receiver, mut sender)) = receivers.single_mut() else {
        return;
    };
    for message in receiver.receive() {
        match message {
            ToClient::Challenge {
                nonce,
                tick_hz,
                server,
            } => {
                if !config.log_in {
                    continue;
                }
                let accepted = accepted.digest().unwrap_or_default();
                if let Err(other) = check_server(&accepted, &server) {
                    warn!("not logging in: {other}");
                    *state = ConnectionState::Failed {
                        reason: format!("Not logging in to {}: {other}.", config.server),
                    };
                    commands.trigger(Disconnect { entity: *client });
                    continue;
                }
                session.server_tick_hz = tick_hz;
                if tick_hz != config.tick_hz {
                    warn!(
                        "the server ticks at {tick_hz} Hz, this client at {} Hz",
                        config.tick_hz
                    );
                }
                let signature = config
                    .key
                    .sign(&login_payload(&server, &nonce, &config.name));
                sender.send::<ControlChannel>(ToServer::Login {
                    protocol_version: PROTOCOL_VERSION,
                    name: config.name.clone(),
                    public_key: config.key.verifying_key().to_bytes(),
                    signature: signature.to_bytes().to_vec(),
                });
            }
            ToClient::Welcome {
                name,
                role,
                nation,
                arrived_at,
                server_time_ms,
            } => {
                info!("logged in as {name} ({role}) in {nation}");
                clock.heard(server_time_ms);
                let off = clock.offset_ms().abs();
                let ahead = if clock.offset_ms() < 0 {
                    "ahead of"
                } else {
                    "behind"
                };
                if off > 2_000 {
                    warn!(
                        "this machine's clock is {:.1} s {ahead} the server's; deadlines follow \
                         the server's",
                        off as f64 / 1000.0
                    );
                }
                if off >= 60_000 {
                    session.notices.push((
                        time.elapsed_secs_f64(),
                        format!(
                            "Your computer's clock is {} min {ahead} the server's. Countdowns \
                             and deadlines here follow the server's clock.",
                            off / 60_000
                        ),
                    ));
                }
                session.name = name;
                session.role = Some(role);
                session.nation = nation;
                session.protocity = Some(arrived_at);
                *state = ConnectionState::InWorld;
            }
            ToClient::Rejected { reason } => {
                warn!("refused: {reason}");
                let what = if *state == ConnectionState::InWorld {
                    "closed this connection"
                } else {
                    "refused the login"
                };
                *state = ConnectionState::Failed {
                    reason: format!("The server at {} {what}: {reason}", config.server),
                };
                session.refused = Some(reason.clone());
                commands.trigger(Disconnect { entity: *client });
            }
            ToClient::RoleChanged { role } => {
                info!("our role is now {role}");
                let words = if session.role.is_some_and(|before| role < before) {
                    format!("You are now a {role}; what a {role} may not do is closed to you.")
                } else {
                    format!("You are now a {role} of the nation.")
                };
                session.role = Some(role);
                session.notices.push((time.elapsed_secs_f64(), words));
            }
            ToClient::Refused(refusal) => {
                info!("request refused: {refusal}");
                let now = time.elapsed_secs_f64();
                session.notices.push((now, refusal.to_string()));
                session.refusals.push((now, refusal));
            }
            ToClient::Teleported { protocity } => {
                session.teleports += 1;
                session.protocity = Some(protocity);
            }
            other => {
                for_features.write(FromServer(other));
            }
        }
    }
}

fn retry(
    mut requests: MessageReader<Retry>,
    mut state: ResMut<ConnectionState>,
    client: Single<Entity, With<Client>>,
    mut commands: Commands,
    mut attempts: ResMut<Attempts>,
    config: Res<ClientConfig>,
) {
    if requests.read().count() == 0 || !state.is_failed() {
        return;
    }
    attempts.0 += 1;
    info!("retrying the connection (attempt {})", attempts.0);
    match netcode_client(&config) {
        Ok(netcode) => {
            commands.entity(*client).insert(netcode);
        }
        Err(e) => warn!("keeping the netcode client: {e}"),
    }
    commands.trigger(Connect { entity: *client });
    *state = ConnectionState::Connecting {
        attempt: attempts.0,
        elapsed: Duration::ZERO,
    };
}

fn send_requests(
    mut requests: MessageReader<Request>,
    mut senders: Query<&mut MessageSender<ToServer>, With<Client>>,
    state: Res<ConnectionState>,
    mut session: ResMut<Session>,
    time: Res<Time>,
) {
    let Ok(mut sender) = senders.single_mut() else {
        return;
    };
    for Request(message) in requests.read() {
        let unsent = match *state {
            ConnectionState::InWorld => {
                sender.send::<ControlChannel>(message.clone());
                continue;
            }
            ConnectionState::Reconnecting { .. } => {
                "The connection is lost: that was not sent. Try again once back in."
            }
            _ => "Not in the world yet: the request was not sent.",
        };
        session
            .notices
            .push((time.elapsed_secs_f64(), unsent.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transport failure as lightyear hands it over: anyhow's error chain in Debug form.
    fn transport_failure(error: anyhow::Error) -> DisconnectedReason {
        DisconnectedReason::LinkFailed(UnlinkReason::TransportError(format!("{error:?}")))
    }

    #[test]
    fn transport_failures_read_as_one_line_with_their_cause() {
        let closed = transport_failure(
            anyhow::anyhow!("connection closed by peer: 0").context("failed to connect"),
        );
        assert_eq!(
            transport_words(&closed).as_deref(),
            Some("failed to connect: connection closed by peer: 0")
        );
        let nested = transport_failure(
            anyhow::anyhow!("reset")
                .context("QUIC protocol error")
                .context("failed to connect"),
        );
        assert_eq!(
            transport_words(&nested).as_deref(),
            Some("failed to connect: QUIC protocol error")
        );
        let bare = transport_failure(anyhow::anyhow!("endpoint stopping"));
        assert_eq!(transport_words(&bare).as_deref(), Some("endpoint stopping"));
        let config = ClientConfig::new(
            "127.0.0.1:7447".parse().unwrap(),
            "ab".repeat(32),
            "Ada".into(),
            ed25519_dalek::SigningKey::from_bytes(&[1; 32]),
        );
        assert_eq!(
            explain(&closed, &config),
            "Lost the connection to 127.0.0.1:7447 (failed to connect: connection closed by \
             peer: 0)."
        );
    }

    #[test]
    fn only_handshakes_dropped_for_no_stated_reason_are_retried() {
        let failed = |cause: &'static str| {
            transport_failure(anyhow::anyhow!(cause).context("failed to connect"))
        };
        assert!(worth_retrying(&failed("connection closed by peer: 0")));
        assert!(worth_retrying(&failed(
            "QUIC protocol error: connection has been reset"
        )));
        assert!(!worth_retrying(&failed("connection timed out")));
        assert!(!worth_retrying(&failed(
            "QUIC protocol error: invalid peer certificate: UnknownIssuer"
        )));
        assert!(!worth_retrying(&DisconnectedReason::ByPeer(None)));
        assert!(!worth_retrying(&DisconnectedReason::LinkFailed(
            UnlinkReason::ByPeer("bye".into())
        )));
    }
}
