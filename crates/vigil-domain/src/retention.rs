//! How long the operational stores keep an item: a [`Retention`] per store, set by
//! configuration, turned into the `expires_at` attribute (epoch seconds) that
//! DynamoDB's TTL deletes items by. The periods and why they were chosen are in
//! docs/storage.md ("Retention").

use chrono::{DateTime, TimeDelta, Utc};

/// The TTL attribute of every table whose items expire (epoch seconds).
pub const EXPIRES_AT: &str = "expires_at";

/// `ALERTS_TTL_DAYS`: an alert is kept about 13 months after it was raised, so a
/// family can still ask about last year's fall.
pub const DEFAULT_ALERTS_DAYS: u32 = 400;
/// `DELIVERIES_TTL_DAYS`: what was sent to whom (first messages and escalation steps)
/// is the alert's own record, and the claim that keeps a replay from sending it
/// again: kept as long as the alert.
pub const DEFAULT_DELIVERIES_DAYS: u32 = 400;
/// `STATE_TTL_DAYS`: rule state is current state, kept this long after the wearer's
/// last reading. Every saved state moves it on, so it never expires while the wearer
/// wears the band; a wearer silent this long starts again from a fresh state.
pub const DEFAULT_STATE_DAYS: u32 = 90;

/// How long one store keeps an item after the item's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention(TimeDelta);

impl Retention {
    /// Kept `days` whole days.
    pub fn days(days: u32) -> Self {
        Self(TimeDelta::days(i64::from(days)))
    }

    /// The whole days kept.
    pub fn in_days(self) -> i64 {
        self.0.num_days()
    }

    /// When an item of time `at` expires, in epoch seconds (DynamoDB TTL's format).
    /// Saturates instead of overflowing: an absurd setting keeps items, never panics.
    pub fn expires_at(self, at: DateTime<Utc>) -> i64 {
        at.checked_add_signed(self.0).map_or(i64::MAX, |t| t.timestamp())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use chrono::TimeZone;

    #[test]
    fn expires_whole_days_after_the_items_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 2, 8, 15, 30).unwrap();
        let kept = Retention::days(400);
        assert_eq!(kept.in_days(), 400);
        assert_eq!(kept.expires_at(at), Utc.with_ymd_and_hms(2027, 12, 7, 8, 15, 30).unwrap().timestamp());
        assert_eq!(Retention::days(u32::MAX).expires_at(DateTime::<Utc>::MAX_UTC), i64::MAX);
    }
}
