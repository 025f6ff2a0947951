//! Keyed pseudonyms: HMAC-SHA256 under the secret pseudonym key, truncated to
//! 128 bits, one prefix per kind (see the crate docs).

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use vigil_domain::config::ConfigError;
use vigil_domain::envelope::{Envelope, ReadingId};
use vigil_domain::reading::Reading;

use crate::readings::CuratedRow;

/// Shortest pseudonym key accepted: 256 bits, HMAC-SHA256's full strength.
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pseudonym key has {len} bytes; at least {MIN_KEY_BYTES} are required")]
pub struct WeakKey {
    pub len: usize,
}

/// A keyed pseudonym: 32 lower-case hex characters (128 bits of HMAC-SHA256).
/// Fixed size and `Copy`, so a batch of rows allocates nothing for them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym([u8; 32]);

impl Pseudonym {
    pub fn as_str(&self) -> &str {
        // Only ever hex digits (see `Pseudonymizer::tagged`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pseudonym({})", self.as_str())
    }
}

impl PartialEq<str> for Pseudonym {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Pseudonym {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Pseudonym {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Keyed pseudonyms for the curated data set (see the module docs). Its `Debug`
/// never shows the key.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer { key: <redacted> }")
    }
}

impl Pseudonymizer {
    /// A pseudonymizer under `key`, which must have at least [`MIN_KEY_BYTES`].
    pub fn new(key: &[u8]) -> Result<Self, WeakKey> {
        if key.len() < MIN_KEY_BYTES {
            return Err(WeakKey { len: key.len() });
        }
        // HMAC takes keys of any length; the error cannot happen.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| WeakKey { len: key.len() })?;
        Ok(Self { mac })
    }

    /// The wearer's pseudonym, stable under one key.
    pub fn wearer(&self, wearer_id: &str) -> Pseudonym {
        self.tagged(b"vigil/wearer/v1\0", wearer_id.as_bytes())
    }

    /// The reading's key in the curated data set.
    pub fn reading(&self, id: ReadingId) -> Pseudonym {
        self.tagged(b"vigil/reading/v1\0", id.as_bytes())
    }

    /// An alert's key in the curated alerts (`curated/alerts/`): keyed like the
    /// reading key, since the plain alert id is a hash of the wearer id, the
    /// rule and a time, all guessable.
    pub fn alert(&self, alert_id: &str) -> Pseudonym {
        self.tagged(b"vigil/alert/v1\0", alert_id.as_bytes())
    }

    /// The curated row of one reading of `envelope`.
    pub fn row(&self, envelope: &Envelope, reading: &Reading) -> CuratedRow {
        CuratedRow::new(self.reading(envelope.reading_id(reading)), self.wearer(&envelope.wearer_id), envelope, reading)
    }

    fn tagged(&self, tag: &[u8], data: &[u8]) -> Pseudonym {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut mac = self.mac.clone();
        mac.update(tag);
        mac.update(data);
        let digest = mac.finalize().into_bytes();
        let mut out = [0u8; 32];
        for (i, b) in digest.iter().take(16).enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
        }
        Pseudonym(out)
    }
}

/// The key's bytes: hex when the value is only hex digits of even length
/// (surrounding whitespace from a secret file ignored), else base64 (standard or
/// URL-safe, padded or not).
pub fn parse_key(value: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let value = value.trim();
    if value.len().is_multiple_of(2) && !value.is_empty() && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(value).ok();
    }
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(value).ok())
}

impl Pseudonymizer {
    /// The pseudonymizer under the text of `PSEUDONYM_KEY` (at least 32 bytes as hex or
    /// base64, however it was obtained: the variable or its secret). Errors name the
    /// variable and never show the key.
    pub fn from_key_text(text: &str) -> Result<Self, ConfigError> {
        let invalid = |what: String| ConfigError::Invalid {
            name: "PSEUDONYM_KEY",
            value: what,
            expected: "at least 32 bytes as hex or base64",
        };
        let bytes = parse_key(text).ok_or_else(|| invalid(format!("<redacted: {} characters>", text.len())))?;
        Self::new(&bytes).map_err(|weak| invalid(format!("<redacted: {} bytes>", weak.len)))
    }
}
