//! The member's key: an ed25519 key made on first run and kept in the user's config
//! directory, so the same person comes back with the same identity and role.

use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rand::rngs::OsRng;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot find a config directory for this user; pass --identity FILE")]
    NoConfigDir,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not an Archipelago key file (expected 64 hex characters)")]
    Corrupt { path: PathBuf },
}

/// Default key file: `<config dir>/archipelago/identity.key`.
pub fn default_identity_path() -> Result<PathBuf, IdentityError> {
    let dirs = directories::ProjectDirs::from("org", "Archipelago", "archipelago")
        .ok_or(IdentityError::NoConfigDir)?;
    Ok(dirs.config_dir().join("identity.key"))
}

/// Loads the key at `path`, or makes and saves a new one if the file does not exist.
pub fn load_or_create(path: &Path) -> Result<SigningKey, IdentityError> {
    let io = |source| IdentityError::Io {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => archipelago_shared::identity::parse_key_hex(text.trim())
            .map(|bytes| SigningKey::from_bytes(&bytes))
            .ok_or_else(|| IdentityError::Corrupt {
                path: path.to_owned(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate(&mut OsRng);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            let hex = archipelago_shared::identity::to_hex(&key.to_bytes());
            std::fs::write(path, hex).map_err(io)?;
            restrict_permissions(path);
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // Best effort: a key readable by others is still better than no key.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

/// A throwaway key, for bots and tests.
pub fn ephemeral() -> SigningKey {
    SigningKey::generate(&mut OsRng)
}

/// Default display name for a new member: the login name if it is a valid name.
pub fn default_name() -> String {
    std::env::var("USER")
        .ok()
        .and_then(|u| archipelago_shared::identity::validate_name(&u).ok())
        .unwrap_or_else(|| "Traveller".to_owned())
}
