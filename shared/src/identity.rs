//! Identity rules both sides agree on: what a login signature covers, what a valid display
//! name is, how a key is shown.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use unicode_normalization::UnicodeNormalization;

use crate::protocol::{MAX_NAME_CHARS, SIGNATURE_BYTES};

/// The fewest hex digits of a key that name a member (8 bytes: too many to grind).
pub const MIN_KEY_PREFIX: usize = 16;

/// Domain tag so a login signature can never be replayed as any other kind of signature.
const LOGIN_DOMAIN: &[u8] = b"archipelago-login-v2";

/// Which server a login is for: the nation of its world data and the digest of the
/// certificate it presents. A login signed for one server is refused by any other, so a
/// server that relays its visitors' logins elsewhere gains nothing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerIdentity {
    pub nation: String,
    /// SHA-256 of the server's certificate, lowercase hex.
    pub certificate: String,
}

/// The bytes a client signs to log in: the domain tag, the server it logs in to, the
/// server's nonce and the name. Lengths precede the variable parts, so no two different
/// logins share their bytes.
pub fn login_payload(server: &ServerIdentity, nonce: &[u8; 32], name: &str) -> Vec<u8> {
    let mut payload = Vec::with_capacity(
        LOGIN_DOMAIN.len() + 12 + server.nation.len() + server.certificate.len() + 32 + name.len(),
    );
    payload.extend_from_slice(LOGIN_DOMAIN);
    for part in [&server.nation, &server.certificate] {
        payload.extend_from_slice(&(part.len() as u32).to_le_bytes());
        payload.extend_from_slice(part.as_bytes());
    }
    payload.extend_from_slice(nonce);
    payload.extend_from_slice(&(name.len() as u32).to_le_bytes());
    payload.extend_from_slice(name.as_bytes());
    payload
}

/// Whether the server a client reached is the one it asked for: with a pinned certificate
/// digest, the identity the server states must name that certificate (any other means the
/// connection was relayed, and the client does not sign).
pub fn check_server(pinned_digest: &str, stated: &ServerIdentity) -> Result<(), LoginError> {
    if pinned_digest.is_empty() || pinned_digest.eq_ignore_ascii_case(&stated.certificate) {
        Ok(())
    } else {
        Err(LoginError::OtherServer {
            stated: stated.certificate.chars().take(16).collect(),
        })
    }
}

/// Why the server refused a login, or closed a logged-in connection. It goes to the client
/// as it is (`ToClient::Rejected`); its `Display` is the one place that puts it into words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum LoginRefusal {
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error(transparent)]
    Admission(#[from] AdmissionRefusal),
    #[error("the name `{0}` belongs to someone else here; choose another name")]
    NameTaken(String),
    #[error("the server is busy; try again in a moment")]
    Busy,
    #[error("the member registry is unavailable; try again shortly")]
    Unavailable,
    #[error("you logged in again from another connection, so this one is closed")]
    LoggedInElsewhere,
    #[error("the server is shutting down; try again once it is back")]
    ShuttingDown,
}

/// Why a connection was turned away; the words go to the person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum AdmissionRefusal {
    #[error(
        "too many connections from your address (at most {0} at once); close one and try again"
    )]
    TooManyFromAddress(usize),
    #[error(
        "too many connections from your address are logging in at once (at most {0}); try again \
         in a few seconds"
    )]
    ArrivingFromAddress(usize),
    #[error("too many people are arriving at once; try again in a few seconds")]
    TooManyArriving,
    #[error(
        "this connection did not log in while others were waiting to; try again in a few \
         seconds"
    )]
    GaveWay,
    #[error("the server is full: all {0} places are taken. Try again in a while")]
    Full(usize),
    #[error(
        "the server is full for visitors: its last {0} places are kept for members and founders. \
         Try again in a while"
    )]
    FullForVisitors(usize),
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum LoginError {
    #[error("the public key is not a valid ed25519 key")]
    BadKey,
    #[error("the signature must be {SIGNATURE_BYTES} bytes, got {0}")]
    BadSignatureLength(usize),
    #[error("the signature does not match the key: login refused")]
    BadSignature,
    #[error("invalid name: {0}")]
    BadName(#[from] NameError),
    #[error("this client speaks protocol {client}, the server speaks {server}: please update")]
    WrongVersion { client: u32, server: u32 },
    #[error(
        "the server says it is another server (certificate {stated}…) than the one asked for; \
         the connection may be relayed, so this client does not log in"
    )]
    OtherServer { stated: String },
}

/// Why a display name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("the name may hold only letters, digits, spaces and - _ . '")]
    BadCharacter,
}

/// Checks a display name and returns it trimmed.
pub fn validate_name(name: &str) -> Result<String, NameError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(NameError::Empty);
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::TooLong);
    }
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '\'');
    if !trimmed.chars().all(allowed) {
        return Err(NameError::BadCharacter);
    }
    Ok(trimmed.to_owned())
}

/// What makes two display names the same name: Unicode NFKC (so a fullwidth `Ａｄａ` or a
/// ligature is its plain letters), then lower case. One key holds each such name.
pub fn name_key(name: &str) -> String {
    name.trim().nfkc().flat_map(char::to_lowercase).collect()
}

/// Verifies a login to `server`: the name is valid and the signature over [`login_payload`]
/// matches the key.
pub fn verify_login(
    server: &ServerIdentity,
    public_key: &[u8; 32],
    name: &str,
    nonce: &[u8; 32],
    signature: &[u8],
) -> Result<String, LoginError> {
    let name = validate_name(name)?;
    let key = VerifyingKey::from_bytes(public_key).map_err(|_| LoginError::BadKey)?;
    let bytes: [u8; SIGNATURE_BYTES] = signature
        .try_into()
        .map_err(|_| LoginError::BadSignatureLength(signature.len()))?;
    key.verify(
        &login_payload(server, nonce, &name),
        &Signature::from_bytes(&bytes),
    )
    .map_err(|_| LoginError::BadSignature)?;
    Ok(name)
}

/// Lowercase hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of bytes in lowercase hex: how a certificate's digest is written and pinned.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    to_hex(&Sha256::digest(bytes))
}

/// Parses 64 hex characters into a 32-byte key.
pub fn parse_key_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The short form of a key shown next to names: its first 8 hex characters. Only for people
/// to read: anyone can grind a key that shares them, so nothing is looked up or compared by it.
pub fn fingerprint(public_key: &[u8; 32]) -> String {
    to_hex(&public_key[..4])
}

/// The first 8 characters of a key in hex (all of it if shorter), as [`fingerprint`] shows it.
pub fn short_key(key_hex: &str) -> &str {
    key_hex
        .char_indices()
        .nth(8)
        .map_or(key_hex, |(end, _)| &key_hex[..end])
}
