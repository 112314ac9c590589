//! Sealing credentials at rest: ChaCha20-Poly1305 (ring) with a key from `MCP_CREDENTIALS_KEY`,
//! which is never stored in the database.
//!
//! Each sealed value records the id of the key that sealed it (the start of the key's SHA-256),
//! so keys can be rotated: the new key goes into `MCP_CREDENTIALS_KEY`, the old ones into
//! `MCP_CREDENTIALS_OLD_KEYS` until `credentials rotate` has re-sealed every value. The row a
//! value belongs to (principal, server, field) is bound in as associated data, so a sealed value
//! copied into another row does not open.

use base64::Engine as _;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, Env};
use crate::secret::Secret;

/// Bytes in a key.
pub const KEY_BYTES: usize = 32;

/// One key, with its id.
struct Key {
    id: String,
    key: LessSafeKey,
}

/// The current key and the old ones still accepted for opening.
pub struct Keyring {
    current: Key,
    old: Vec<Key>,
    random: SystemRandom,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field("old", &self.old.iter().map(|k| &k.id).collect::<Vec<_>>())
            .finish()
    }
}

/// A value as stored: which key sealed it, the nonce, and the ciphertext with its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The id of the key that sealed it.
    pub key_id: String,
    /// The nonce, random per value.
    pub nonce: Vec<u8>,
    /// Ciphertext followed by the authentication tag.
    pub sealed: Vec<u8>,
}

/// Why a value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Sealed with a key that is neither current nor old.
    #[error(
        "sealed with key {0}, which is neither MCP_CREDENTIALS_KEY nor one of MCP_CREDENTIALS_OLD_KEYS"
    )]
    UnknownKey(String),
    /// The value or its row was altered, or the key is wrong.
    #[error(
        "the sealed value does not open: altered, moved to another row, or sealed with another key of the same id"
    )]
    Damaged,
}

impl Keyring {
    /// The keyring from `MCP_CREDENTIALS_KEY` (and `MCP_CREDENTIALS_OLD_KEYS`); `None` when no key
    /// is configured.
    pub fn from_env(env: &Env) -> Result<Option<Keyring>, ConfigError> {
        let Some(current) = env.secret("MCP_CREDENTIALS_KEY") else {
            if env.get("MCP_CREDENTIALS_OLD_KEYS").is_some() {
                return Err(ConfigError::Invalid {
                    variable: "MCP_CREDENTIALS_OLD_KEYS".into(),
                    expected:
                        "set only together with MCP_CREDENTIALS_KEY, the key that replaced them"
                            .into(),
                    found: None,
                });
            }
            return Ok(None);
        };
        let current = parse_key("MCP_CREDENTIALS_KEY", current.expose())?;
        let mut old = Vec::new();
        for text in env.list("MCP_CREDENTIALS_OLD_KEYS") {
            let key = parse_key("MCP_CREDENTIALS_OLD_KEYS", &text)?;
            // Registered for scrubbing, as every configured secret is.
            let _ = Secret::new(text.clone());
            if key.id != current.id {
                old.push(key);
            }
        }
        Ok(Some(Keyring {
            current,
            old,
            random: SystemRandom::new(),
        }))
    }

    /// A keyring of raw keys, the first current (tests and `credentials rotate`).
    pub fn from_keys(current: [u8; KEY_BYTES], old: &[[u8; KEY_BYTES]]) -> Keyring {
        Keyring {
            current: key_of(&current),
            old: old.iter().map(key_of).collect(),
            random: SystemRandom::new(),
        }
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plain` for the row named by `row` (bound in, not stored).
    pub fn seal(&self, row: &str, plain: &[u8]) -> Result<Sealed, OpenError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| OpenError::Damaged)?;
        let mut buffer = plain.to_vec();
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(row.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| OpenError::Damaged)?;
        Ok(Sealed {
            key_id: self.current.id.clone(),
            nonce: nonce.to_vec(),
            sealed: buffer,
        })
    }

    /// Opens a value sealed for the row named by `row`.
    pub fn open(&self, row: &str, sealed: &Sealed) -> Result<Vec<u8>, OpenError> {
        let key = std::iter::once(&self.current)
            .chain(&self.old)
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| OpenError::UnknownKey(sealed.key_id.clone()))?;
        let nonce: [u8; NONCE_LEN] = sealed
            .nonce
            .as_slice()
            .try_into()
            .map_err(|_| OpenError::Damaged)?;
        let mut buffer = sealed.sealed.clone();
        let plain = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(row.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| OpenError::Damaged)?;
        Ok(plain.to_vec())
    }
}

/// A new random key, base64 as `MCP_CREDENTIALS_KEY` takes it (`credentials new-key`).
pub fn generate_key() -> Result<String, String> {
    let mut key = [0u8; KEY_BYTES];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| "the system's random source failed".to_owned())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(key))
}

fn parse_key(variable: &str, text: &str) -> Result<Key, ConfigError> {
    // The key itself is never shown, only what was wrong with it.
    let invalid = |what: String| ConfigError::Invalid {
        variable: variable.into(),
        expected: format!(
            "{KEY_BYTES} random bytes in base64 (make one with `mcp-<server> credentials new-key`), not {what}"
        ),
        found: None,
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()))
        .map_err(|_| invalid("a value that is not base64".into()))?;
    let key: [u8; KEY_BYTES] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| invalid(format!("{} bytes", bytes.len())))?;
    Ok(key_of(&key))
}

fn key_of(bytes: &[u8; KEY_BYTES]) -> Key {
    let digest = Sha256::digest(bytes);
    let id: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    // CHACHA20_POLY1305 takes any 32-byte key, so this cannot fail.
    let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).map_or_else(
        |_| unreachable!("a 32-byte key is always valid for ChaCha20-Poly1305"),
        LessSafeKey::new,
    );
    Key {
        id: format!("k{id}"),
        key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_for_its_own_row_and_key() {
        let ring = Keyring::from_keys([7; 32], &[]);
        let sealed = ring.seal("alice|openai|api_key", b"sk-alice").unwrap();
        assert_eq!(
            ring.open("alice|openai|api_key", &sealed).unwrap(),
            b"sk-alice"
        );
        assert!(!sealed.sealed.windows(8).any(|w| w == b"sk-alice"));
        assert!(matches!(
            ring.open("bob|openai|api_key", &sealed),
            Err(OpenError::Damaged)
        ));
        let mut altered = sealed.clone();
        altered.sealed[0] ^= 1;
        assert!(matches!(
            ring.open("alice|openai|api_key", &altered),
            Err(OpenError::Damaged)
        ));
        let other = Keyring::from_keys([8; 32], &[]);
        assert!(matches!(
            other.open("alice|openai|api_key", &sealed),
            Err(OpenError::UnknownKey(_))
        ));
    }

    #[test]
    fn after_rotation_old_values_open_and_new_ones_use_the_new_key() {
        let before = Keyring::from_keys([1; 32], &[]);
        let sealed = before.seal("row", b"value").unwrap();
        let after = Keyring::from_keys([2; 32], &[[1; 32]]);
        assert_eq!(after.open("row", &sealed).unwrap(), b"value");
        let resealed = after.seal("row", b"value").unwrap();
        assert_ne!(resealed.key_id, sealed.key_id);
        assert_eq!(resealed.key_id, after.current_id());
    }

    #[test]
    fn two_seals_of_one_value_differ() {
        let ring = Keyring::from_keys([3; 32], &[]);
        let a = ring.seal("row", b"same").unwrap();
        let b = ring.seal("row", b"same").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.sealed, b.sealed);
    }

    #[test]
    fn keys_are_checked_naming_the_variable() {
        let env = Env::from_pairs([("MCP_CREDENTIALS_KEY", "c2hvcnQ=")]);
        let error = Keyring::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("MCP_CREDENTIALS_KEY"), "{error}");
        assert!(error.contains("5 bytes"), "{error}");
        let env = Env::from_pairs([("MCP_CREDENTIALS_OLD_KEYS", generate_key().unwrap())]);
        assert!(Keyring::from_env(&env).is_err());
        let env = Env::from_pairs([("MCP_CREDENTIALS_KEY", generate_key().unwrap())]);
        assert!(Keyring::from_env(&env).unwrap().is_some());
        assert!(
            Keyring::from_env(&Env::from_pairs::<&str, &str>([]))
                .unwrap()
                .is_none()
        );
    }
}
