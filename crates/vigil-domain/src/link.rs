//! The signed token of an acknowledgement link: the SMS a caregiver gets carries
//! `https://…/a/<token>`, and opening it acknowledges the alert as that caregiver
//! without signing in. The token names the alert, the caregiver and an expiry,
//! and is signed with HMAC-SHA256 under a secret key, so it cannot be made up or
//! altered; it is not encrypted (nothing in it is personal: an alert id is a hash).
//!
//! # Layout
//!
//! 36 bytes, written as 48 characters of base64url without padding (36 is a
//! multiple of 3, so every character carries 6 bits of the token and no
//! character has unused bits that could be changed unnoticed):
//!
//! | bytes | field |
//! |---|---|
//! | 0 | version, [`VERSION`] (1) |
//! | 1..17 | the alert id: the 16 bytes its 32 hex characters spell |
//! | 17..21 | expiry: seconds since the Unix epoch, u32 big-endian (up to 2106-02-07) |
//! | 21 | the caregiver: their index in the wearer's profile's caregiver list |
//! | 22..36 | tag: the first 14 bytes of HMAC-SHA256(key, `"vigil/ack-link/v1\0"` ‖ bytes 0..22) |
//!
//! # Why a 14-byte (112-bit) tag is enough
//!
//! Truncating an HMAC leaves forging as guessing: without the key each try at a
//! tag for a chosen claim succeeds with probability 2⁻¹¹², and tries can only be
//! made online, against the acknowledgement endpoint, within the link's 24 hours.
//! A billion tries a second for a year is about 2⁵⁵ tries, leaving odds of 2⁻⁵⁷.
//! Collisions (the birthday bound) do not matter for a MAC: an attacker cannot
//! compute tags to look for them. 112 bits is above RFC 2104's floor of 80 bits and
//! what NIST SP 800-107 requires of truncated MACs; 16 bytes would make the token
//! 51 characters, and 14 keeps it at 48.
//!
//! # The caregiver index
//!
//! The caregiver is an index (one byte) rather than their id, to keep the token
//! short. The verifier resolves it against the wearer's profile at the time of the
//! click: if caregivers were removed or reordered since the SMS was sent, the index
//! can name another caregiver. Within the link's 24 hours that is rare; a caller
//! that cares can compare against the caregiver the alert was delivered to.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long an acknowledgement link works.
pub const LINK_TTL: TimeDelta = TimeDelta::hours(24);
/// The fewest key bytes [`LinkKey::new`] takes: HMAC-SHA256's full strength.
pub const MIN_KEY_BYTES: usize = 32;
/// The token layout's version (its first byte).
pub const VERSION: u8 = 1;
/// Length of every token, in characters.
pub const TOKEN_LEN: usize = 48;

/// What a signed-over body and a tag add up to.
const BODY_LEN: usize = 22;
const TAG_LEN: usize = 14;
const TOKEN_BYTES: usize = BODY_LEN + TAG_LEN;
/// Domain separation: a tag for a link is never a valid tag for anything else
/// signed with the same key.
const CONTEXT: &[u8] = b"vigil/ack-link/v1\0";
// Short enough for an SMS, and whole base64 quanta: no character with unused bits.
const _: () = assert!(TOKEN_LEN <= 48 && TOKEN_BYTES.is_multiple_of(3) && TOKEN_BYTES / 3 * 4 == TOKEN_LEN);

/// What a link lets its holder do: acknowledge `alert_id` as caregiver number
/// `caregiver` of the wearer, until `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkClaim {
    alert_id: [u8; 16],
    caregiver: u8,
    /// Whole seconds within u32 of the Unix epoch.
    expires_at: DateTime<Utc>,
}

impl LinkClaim {
    /// A claim on the alert `alert_id` (its 32 hex characters, as
    /// [`crate::alerts::AlertId::as_str`] gives them) for the caregiver at index
    /// `caregiver` in the wearer's profile, valid until `expires_at` (usually the
    /// time of sending + [`LINK_TTL`]). The expiry is kept to the second, rounded
    /// down, and must fall between 1970 and 2106.
    pub fn new(alert_id: &str, caregiver: u8, expires_at: DateTime<Utc>) -> Result<Self, ClaimError> {
        let mut id = [0; 16];
        hex::decode_to_slice(alert_id, &mut id).map_err(|_| ClaimError::AlertId)?;
        let secs = u32::try_from(expires_at.timestamp()).map_err(|_| ClaimError::Expiry)?;
        Ok(Self { alert_id: id, caregiver, expires_at: from_secs(secs) })
    }

    /// The alert id, as 32 lowercase hex characters.
    pub fn alert_id(&self) -> String {
        hex::encode(self.alert_id)
    }

    /// The caregiver's index in the wearer's profile.
    pub fn caregiver(&self) -> u8 {
        self.caregiver
    }

    /// The first instant the link no longer works.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    fn body(&self) -> [u8; BODY_LEN] {
        let mut b = [0; BODY_LEN];
        b[0] = VERSION;
        b[1..17].copy_from_slice(&self.alert_id);
        // In range by construction (`new`).
        let secs = u32::try_from(self.expires_at.timestamp()).unwrap_or(0);
        b[17..21].copy_from_slice(&secs.to_be_bytes());
        b[21] = self.caregiver;
        b
    }

    fn from_body(b: &[u8; BODY_LEN]) -> Self {
        let mut alert_id = [0; 16];
        alert_id.copy_from_slice(&b[1..17]);
        let secs = u32::from_be_bytes([b[17], b[18], b[19], b[20]]);
        Self { alert_id, caregiver: b[21], expires_at: from_secs(secs) }
    }
}

fn from_secs(secs: u32) -> DateTime<Utc> {
    // Every u32 of seconds is a valid time.
    DateTime::from_timestamp(i64::from(secs), 0).unwrap_or_default()
}

/// The key links are signed and verified with. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct LinkKey {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey { key: <redacted> }")
    }
}

impl LinkKey {
    /// A key from at least [`MIN_KEY_BYTES`] secret bytes.
    pub fn new(key: &[u8]) -> Result<Self, WeakLinkKey> {
        if key.len() < MIN_KEY_BYTES {
            return Err(WeakLinkKey { len: key.len() });
        }
        // HMAC takes keys of any length; the error cannot happen.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| WeakLinkKey { len: key.len() })?;
        Ok(Self { mac })
    }

    /// The token for `claim`: [`TOKEN_LEN`] characters of base64url.
    pub fn sign(&self, claim: &LinkClaim) -> String {
        let body = claim.body();
        let mut token = [0; TOKEN_BYTES];
        token[..BODY_LEN].copy_from_slice(&body);
        token[BODY_LEN..].copy_from_slice(&self.mac(&body).finalize().into_bytes()[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The claim `token` carries if it was signed under this key and has not
    /// expired at `now`. The tag is checked in constant time, and before the
    /// expiry, so a forged token learns nothing about time.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<LinkClaim, LinkError> {
        if token.len() != TOKEN_LEN {
            return Err(LinkError::Malformed);
        }
        let mut bytes = [0; TOKEN_BYTES];
        match URL_SAFE_NO_PAD.decode_slice(token, &mut bytes) {
            Ok(TOKEN_BYTES) => {}
            _ => return Err(LinkError::Malformed),
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        let body: &[u8; BODY_LEN] = body.try_into().map_err(|_| LinkError::Malformed)?;
        if body[0] != VERSION {
            return Err(LinkError::Malformed);
        }
        self.mac(body).verify_truncated_left(tag).map_err(|_| LinkError::Forged)?;
        let claim = LinkClaim::from_body(body);
        if now >= claim.expires_at {
            return Err(LinkError::Expired);
        }
        Ok(claim)
    }

    fn mac(&self, body: &[u8; BODY_LEN]) -> Hmac<Sha256> {
        let mut mac = self.mac.clone();
        mac.update(CONTEXT);
        mac.update(body);
        mac
    }
}

/// Makes the acknowledgement links messages carry: `<base_url>/a/<token>`, valid
/// for [`LINK_TTL`] from the time of sending.
#[derive(Debug, Clone)]
pub struct LinkMaker {
    pub key: LinkKey,
    /// Where the API serves the page, without a trailing slash, e.g.
    /// `https://vgl.example.org`: kept short, so the SMS stays within 3 segments.
    pub base_url: String,
}

impl LinkMaker {
    pub fn new(key: LinkKey, base_url: &str) -> Self {
        Self { key, base_url: base_url.trim_end_matches('/').to_owned() }
    }

    /// The link for the caregiver at `caregiver` in the wearer's profile to
    /// acknowledge `alert_id`, sent at `now`; `None` for an alert id that is not a
    /// hash or a caregiver beyond the 256th (they get the SMS without a link).
    pub fn url(&self, alert_id: &str, caregiver: usize, now: DateTime<Utc>) -> Option<String> {
        let claim = LinkClaim::new(alert_id, u8::try_from(caregiver).ok()?, now + LINK_TTL).ok()?;
        Some(format!("{}/a/{}", self.base_url, self.key.sign(&claim)))
    }
}

/// Why a link token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token of this layout: wrong length, not base64url, unknown version.
    #[error("malformed link token")]
    Malformed,
    /// Well-formed, but its tag is not this key's: altered, or made up.
    #[error("link token not signed by this key")]
    Forged,
    /// Genuine, but past its expiry.
    #[error("link expired")]
    Expired,
}

/// A claim that cannot be put in a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error("an alert id is 32 hex characters")]
    AlertId,
    #[error("a link's expiry must fall between 1970 and 2106")]
    Expiry,
}

/// A key shorter than [`MIN_KEY_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a link key needs at least {MIN_KEY_BYTES} bytes, got {len}")]
pub struct WeakLinkKey {
    pub len: usize,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;
    use crate::alerts::{AlertId, RuleKind};

    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn key(byte: u8) -> LinkKey {
        LinkKey::new(&[byte; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn sent_at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 35, 7).single().unwrap_or_default()
    }

    fn claim() -> LinkClaim {
        let id = AlertId::new("wearer-0006", RuleKind::Fall, sent_at());
        LinkClaim::new(id.as_str(), 2, sent_at() + LINK_TTL).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_signed_claim_verifies_until_it_expires() {
        let k = key(1);
        let token = k.sign(&claim());
        assert_eq!(k.verify(&token, sent_at()), Ok(claim()));
        let c = k.verify(&token, sent_at()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.alert_id(), AlertId::new("wearer-0006", RuleKind::Fall, sent_at()).as_str());
        assert_eq!(c.caregiver(), 2);
        assert_eq!(c.expires_at(), sent_at() + TimeDelta::hours(24));
        let expiry = c.expires_at();
        assert_eq!(k.verify(&token, expiry - TimeDelta::milliseconds(1)), Ok(claim()));
        assert_eq!(k.verify(&token, expiry), Err(LinkError::Expired), "expired at exactly the expiry");
        assert_eq!(k.verify(&token, expiry + TimeDelta::days(400)), Err(LinkError::Expired));
    }

    #[test]
    fn tokens_are_48_base64url_characters() {
        let token = key(1).sign(&claim());
        assert_eq!(token.len(), 48);
        assert!(token.chars().all(|c| ALPHABET.contains(c)), "{token}");
        // The same claim, the same token; another caregiver, another token.
        assert_eq!(key(1).sign(&claim()), token);
        let other = LinkClaim::new(&claim().alert_id(), 3, claim().expires_at()).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(key(1).sign(&other), token);
    }

    #[test]
    fn any_single_character_change_is_refused() {
        let k = key(1);
        let token = k.sign(&claim());
        let mut tried = 0;
        for (i, original) in token.char_indices() {
            for c in ALPHABET.chars().chain(['=', '+', '/', '.', ' ', 'é', '\0']) {
                if c == original {
                    continue;
                }
                let changed = format!("{}{c}{}", &token[..i], &token[i + 1..]);
                let got = k.verify(&changed, sent_at());
                assert!(matches!(got, Err(LinkError::Forged | LinkError::Malformed)), "{changed}: {got:?}");
                if ALPHABET.contains(c) && i > 1 {
                    // A valid base64url change past the version byte decodes; only the tag stops it.
                    assert_eq!(got, Err(LinkError::Forged), "{changed}");
                }
                tried += 1;
            }
        }
        assert_eq!(tried, TOKEN_LEN * 70);
    }

    #[test]
    fn cut_or_padded_tokens_are_malformed() {
        let k = key(1);
        let token = k.sign(&claim());
        for bad in [
            "",
            &token[..TOKEN_LEN - 1],
            &token[1..],
            &format!("{token}A"),
            &format!("{token}="),
            &format!("{token}{token}"),
            &"A".repeat(TOKEN_LEN),
        ] {
            assert_eq!(k.verify(bad, sent_at()), Err(LinkError::Malformed), "{bad}");
        }
        // Standard base64's characters are not base64url.
        let std = token.replace('-', "+").replace('_', "/");
        if std != token {
            assert_eq!(k.verify(&std, sent_at()), Err(LinkError::Malformed));
        }
    }

    #[test]
    fn another_keys_token_is_forged() {
        let token = key(2).sign(&claim());
        assert_eq!(key(1).verify(&token, sent_at()), Err(LinkError::Forged));
        // Also when it has expired: the tag is checked first.
        assert_eq!(key(1).verify(&token, sent_at() + TimeDelta::days(2)), Err(LinkError::Forged));
        // Keys differing in one bit, or only in length, are different keys.
        let mut bytes = [1; 33];
        assert_eq!(LinkKey::new(&bytes).map(|k| k.verify(&token, sent_at())).ok(), Some(Err(LinkError::Forged)));
        bytes[0] ^= 1;
        assert!(LinkKey::new(&bytes).is_ok_and(|k| k.verify(&key(1).sign(&claim()), sent_at()).is_err()));
    }

    #[test]
    fn short_keys_and_bad_claims_are_refused() {
        assert_eq!(LinkKey::new(&[1; 31]).err(), Some(WeakLinkKey { len: 31 }));
        assert_eq!(LinkKey::new(&[]).err(), Some(WeakLinkKey { len: 0 }));
        assert!(LinkKey::new(&[1; 64]).is_ok());
        assert!(!format!("{:?}", key(9)).contains('9'), "Debug hides the key");
        let at = sent_at();
        assert_eq!(LinkClaim::new("abc", 0, at), Err(ClaimError::AlertId));
        assert_eq!(LinkClaim::new(&"g".repeat(32), 0, at), Err(ClaimError::AlertId));
        assert_eq!(LinkClaim::new(&"a".repeat(34), 0, at), Err(ClaimError::AlertId));
        let id = "0".repeat(32);
        let before_1970 = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).single().unwrap_or_default();
        assert_eq!(LinkClaim::new(&id, 0, before_1970), Err(ClaimError::Expiry));
        let after_2106 = Utc.with_ymd_and_hms(2106, 2, 8, 0, 0, 0).single().unwrap_or_default();
        assert_eq!(LinkClaim::new(&id, 0, after_2106), Err(ClaimError::Expiry));
        // The expiry is kept to the second, rounded down.
        let c = LinkClaim::new(&id, 0, at + TimeDelta::milliseconds(999)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.expires_at(), at);
        // Upper-case hex reads the same.
        assert_eq!(LinkClaim::new(&"AB".repeat(16), 0, at), LinkClaim::new(&"ab".repeat(16), 0, at));
    }

    proptest! {
        #[test]
        fn any_claim_round_trips(
            id in any::<[u8; 16]>(),
            caregiver in any::<u8>(),
            expiry in 1..=u32::MAX,
            before in 1..=u32::MAX,
            key_bytes in prop::collection::vec(any::<u8>(), 32..80),
        ) {
            let k = LinkKey::new(&key_bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let expires_at = from_secs(expiry);
            let claim = LinkClaim::new(&hex::encode(id), caregiver, expires_at)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let token = k.sign(&claim);
            prop_assert_eq!(token.len(), TOKEN_LEN);
            let now = expires_at - TimeDelta::seconds(i64::from(before.min(expiry)));
            prop_assert_eq!(k.verify(&token, now), Ok(claim));
            prop_assert_eq!(k.verify(&token, expires_at), Err(LinkError::Expired));
            prop_assert_eq!(claim.alert_id(), hex::encode(id));
            prop_assert_eq!(claim.caregiver(), caregiver);
        }
    }
}
