//! The shadow: one item per wearer with the newest reading's state.

use chrono::{DateTime, SubsecRound, Utc};

use crate::envelope::Envelope;
use crate::reading::{Activity, Reading, SleepStage};

/// The wearer's latest state: the newest reading's measurements, as of
/// `last_seen`. Measurements the newest reading did not carry are absent (an
/// older heart rate shown as current would mislead a caregiver).
#[derive(Debug, Clone, PartialEq)]
pub struct Shadow {
    pub wearer_id: String,
    /// Event time of the newest reading, to the millisecond (as stored and compared).
    pub last_seen: DateTime<Utc>,
    pub device_id: String,
    pub seq: u64,
    pub app_version: String,
    /// When ingest accepted the upload that carried the reading.
    pub received_at: DateTime<Utc>,
    pub heart_rate_bpm: Option<i64>,
    pub spo2_pct: Option<i64>,
    pub skin_temp_c: Option<f64>,
    pub battery_pct: Option<i64>,
    pub worn: Option<bool>,
    pub activity: Option<Activity>,
    pub sleep_stage: Option<SleepStage>,
}

impl Shadow {
    /// The shadow `reading` of `envelope` gives.
    pub fn of(envelope: &Envelope, reading: &Reading) -> Self {
        Self {
            wearer_id: envelope.wearer_id.clone(),
            last_seen: reading.ts.with_timezone(&Utc).trunc_subsecs(3),
            device_id: envelope.device_id.clone(),
            seq: reading.seq,
            app_version: envelope.app_version.clone(),
            received_at: envelope.received_at,
            heart_rate_bpm: reading.heart_rate_bpm,
            spo2_pct: reading.spo2_pct,
            skin_temp_c: reading.skin_temp_c,
            battery_pct: reading.battery_pct,
            worn: reading.worn,
            activity: reading.activity,
            sleep_stage: reading.sleep_stage,
        }
    }

    /// The shadow of the envelope's newest reading (latest event time, then highest seq).
    pub fn newest(envelope: &Envelope) -> Option<Self> {
        let newest = envelope.readings.iter().max_by_key(|r| (r.ts.timestamp_millis(), r.seq))?;
        Some(Self::of(envelope, newest))
    }

    /// Whether this shadow may replace `stored`: the store's write condition.
    /// Equal times do not replace, so a replay is a no-op.
    pub fn supersedes(&self, stored: Option<&Shadow>) -> bool {
        stored.is_none_or(|s| s.last_seen < self.last_seen)
    }

    /// Keeps the newer of `self` and `other` (within a batch: time, then seq).
    pub fn keep_newer(&mut self, other: Shadow) {
        if (other.last_seen, other.seq) > (self.last_seen, self.seq) {
            *self = other;
        }
    }
}
