//! Identity rules both sides agree on: what a login signature covers, what a valid display
//! name is, how a key is shown.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};

use crate::protocol::{MAX_NAME_CHARS, SIGNATURE_BYTES};

/// Domain tag so a login signature can never be replayed as any other kind of signature.
const LOGIN_DOMAIN: &[u8] = b"archipelago-login-v1";

/// The bytes a client signs to log in: the domain tag, the server's nonce and the name.
pub fn login_payload(nonce: &[u8; 32], name: &str) -> Vec<u8> {
    let mut payload = Vec::with_capacity(LOGIN_DOMAIN.len() + 32 + name.len());
    payload.extend_from_slice(LOGIN_DOMAIN);
    payload.extend_from_slice(nonce);
    payload.extend_from_slice(name.as_bytes());
    payload
}

/// Why a login was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
}

/// Why a display name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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

/// Verifies a login: the name is valid and the signature over [`login_payload`] matches the key.
pub fn verify_login(
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
    key.verify(&login_payload(nonce, &name), &Signature::from_bytes(&bytes))
        .map_err(|_| LoginError::BadSignature)?;
    Ok(name)
}

/// Lowercase hex of bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// The short form of a key shown next to names: its first 8 hex characters.
pub fn fingerprint(public_key: &[u8; 32]) -> String {
    to_hex(&public_key[..4])
}
