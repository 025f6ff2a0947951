//! When the app posts readings: the upload policy.
//!
//! Routine readings wait for the next routine upload, every [`ROUTINE_EVERY_S`]
//! seconds (each phone on its own phase). A reading an alert waits for goes sooner:
//!
//! - SOS, a fall and a fall cancel: at once;
//! - a heart rate or SpO2 past the wearer's limits: at once, then at most every
//!   [`URGENT_EVERY_S`] seconds while readings stay past them, so a sustained rule
//!   (two minutes by default) sees its readings as soon as with one-minute uploads.
//!
//! Every upload carries all the readings buffered since the previous one. The rules
//! run on the server, on every reading, whatever the policy: the policy only decides
//! how soon they arrive. ingest-api's 202 answer carries the policy with the wearer's
//! limits ([`Intervals::policy`]), so a change of limits reaches the app with
//! its next upload.

use chrono::Duration;
use serde::{Deserialize, Serialize};

use crate::Reading;
use crate::alerts::Thresholds;

/// Seconds between two routine uploads of a phone.
pub const ROUTINE_EVERY_S: u32 = 300;
/// Seconds between two uploads while readings are past the wearer's limits.
pub const URGENT_EVERY_S: u32 = 60;

/// What the app is told, in ingest-api's 202 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadPolicy {
    /// Seconds between two routine uploads.
    pub routine_every_s: u32,
    /// While readings are past a limit below: the first goes at once, then an upload at
    /// most this often.
    pub urgent_every_s: u32,
    /// A heart rate strictly above this is past the limit.
    pub heart_rate_above_bpm: i64,
    /// A heart rate strictly below this is past the limit.
    pub heart_rate_below_bpm: i64,
    /// An SpO2 strictly below this is past the limit.
    pub spo2_below_pct: i64,
}

/// How soon a reading must reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// With the next routine upload.
    Routine,
    /// Past a limit: at once unless an upload went less than `urgent_every_s` ago.
    Soon,
    /// SOS, fall or fall cancel: at once.
    Now,
}

/// The policy's two intervals, as deployed (ingest-api's environment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervals {
    pub routine_every_s: u32,
    pub urgent_every_s: u32,
}

impl Default for Intervals {
    fn default() -> Self {
        Self { routine_every_s: ROUTINE_EVERY_S, urgent_every_s: URGENT_EVERY_S }
    }
}

impl Intervals {
    /// The policy for a wearer with these limits.
    pub fn policy(&self, th: &Thresholds) -> UploadPolicy {
        UploadPolicy {
            routine_every_s: self.routine_every_s,
            urgent_every_s: self.urgent_every_s,
            heart_rate_above_bpm: th.heart_rate_high_bpm,
            heart_rate_below_bpm: th.heart_rate_low_bpm,
            spo2_below_pct: th.spo2_low_pct,
        }
    }
}

impl UploadPolicy {
    /// How soon `r` must reach the server.
    pub fn urgency(&self, r: &Reading) -> Urgency {
        let yes = |flag: Option<bool>| flag == Some(true);
        if yes(r.sos) || yes(r.fall_detected) || yes(r.fall_cancelled) {
            return Urgency::Now;
        }
        let hr = r.heart_rate_bpm.is_some_and(|v| v > self.heart_rate_above_bpm || v < self.heart_rate_below_bpm);
        let spo2 = r.spo2_pct.is_some_and(|v| v < self.spo2_below_pct);
        if hr || spo2 { Urgency::Soon } else { Urgency::Routine }
    }

    /// Whether the app posts its buffer on taking `r`, when its previous upload went
    /// `since_last` ago (`None`: it has not uploaded yet). Routine uploads are the
    /// app's clock's business, not this.
    pub fn post_now(&self, r: &Reading, since_last: Option<Duration>) -> bool {
        match self.urgency(r) {
            Urgency::Now => true,
            Urgency::Soon => since_last.is_none_or(|d| d >= Duration::seconds(i64::from(self.urgent_every_s))),
            Urgency::Routine => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, FixedOffset};

    fn reading() -> Reading {
        let ts: DateTime<FixedOffset> = "2026-12-04T10:00:00+01:00".parse().unwrap();
        let mut r = Reading::at(ts, 1);
        r.heart_rate_bpm = Some(70);
        r.spo2_pct = Some(97);
        r
    }

    #[test]
    fn limits_come_from_the_wearer_and_are_strict_as_the_rules() {
        let th = Thresholds { heart_rate_high_bpm: 115, ..Thresholds::default() };
        let p = Intervals::default().policy(&th);
        assert_eq!((p.heart_rate_above_bpm, p.heart_rate_below_bpm, p.spo2_below_pct), (115, 40, 90));
        let with = |f: fn(&mut Reading)| {
            let mut r = reading();
            f(&mut r);
            p.urgency(&r)
        };
        assert_eq!(with(|_| {}), Urgency::Routine);
        assert_eq!(with(|r| r.heart_rate_bpm = Some(115)), Urgency::Routine);
        assert_eq!(with(|r| r.heart_rate_bpm = Some(116)), Urgency::Soon);
        assert_eq!(with(|r| r.heart_rate_bpm = Some(40)), Urgency::Routine);
        assert_eq!(with(|r| r.heart_rate_bpm = Some(39)), Urgency::Soon);
        assert_eq!(with(|r| r.spo2_pct = Some(90)), Urgency::Routine);
        assert_eq!(with(|r| r.spo2_pct = Some(89)), Urgency::Soon);
        assert_eq!(with(|r| r.sos = Some(true)), Urgency::Now);
        assert_eq!(with(|r| r.fall_detected = Some(true)), Urgency::Now);
        assert_eq!(with(|r| r.fall_cancelled = Some(true)), Urgency::Now);
        assert_eq!(with(|r| r.sos = Some(false)), Urgency::Routine);
        // A band off reports no heart rate: nothing past a limit, the schedule and the
        // next routine upload raise not-worn.
        assert_eq!(with(|r| (r.worn, r.heart_rate_bpm, r.spo2_pct) = (Some(false), None, None)), Urgency::Routine);
    }

    #[test]
    fn past_a_limit_posts_at_once_then_at_most_every_urgent_interval() {
        let p = Intervals::default().policy(&Thresholds::default());
        let mut high = reading();
        high.heart_rate_bpm = Some(130);
        let s = Duration::seconds;
        assert!(p.post_now(&high, None));
        assert!(!p.post_now(&high, Some(s(59))));
        assert!(p.post_now(&high, Some(s(60))));
        assert!(!p.post_now(&reading(), Some(s(3600))));
        let mut sos = reading();
        sos.sos = Some(true);
        assert!(p.post_now(&sos, Some(s(0))));
    }

    #[test]
    fn the_policy_reads_back_from_its_wire_form() {
        let p = Intervals::default().policy(&Thresholds::default());
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(
            text,
            r#"{"routine_every_s":300,"urgent_every_s":60,"heart_rate_above_bpm":120,"heart_rate_below_bpm":40,"spo2_below_pct":90}"#
        );
        assert_eq!(serde_json::from_str::<UploadPolicy>(&text).unwrap(), p);
    }
}
