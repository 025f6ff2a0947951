//! The shadow: the wearer's latest state, read from the newest vitals items.

use chrono::{DateTime, SubsecRound, Utc};

use super::item::VitalsItem;
use super::row::FormatError;
use crate::reading::{Activity, SleepStage};

/// The wearer's latest state: the newest stored reading's measurements, as of
/// `last_seen`. Measurements the newest reading did not carry are absent (an
/// older heart rate shown as current would mislead a caregiver).
///
/// It is not stored apart: vitals items are keyed by the span of their
/// readings' event time, so the newest reading is in the newest span's items,
/// and a late or replayed upload never moves it backwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Shadow {
    pub wearer_id: String,
    /// Event time of the newest reading, to the millisecond.
    pub last_seen: DateTime<Utc>,
    pub device_id: String,
    pub seq: u64,
    /// The version of the app that uploaded it (empty for items written before 2026-12-04).
    pub app_version: String,
    pub heart_rate_bpm: Option<i64>,
    pub spo2_pct: Option<i64>,
    pub skin_temp_c: Option<f64>,
    pub battery_pct: Option<i64>,
    pub worn: Option<bool>,
    pub activity: Option<Activity>,
    pub sleep_stage: Option<SleepStage>,
}

impl Shadow {
    /// The state of the newest reading in `items` (latest event time, then
    /// highest seq); `None` when they hold no reading.
    pub fn latest(items: &[VitalsItem]) -> Result<Option<Self>, FormatError> {
        let mut newest: Option<Self> = None;
        for item in items {
            for r in item.rows()? {
                let last_seen = r.ts.trunc_subsecs(3);
                if newest.as_ref().is_some_and(|n| (n.last_seen, n.seq) >= (last_seen, r.seq)) {
                    continue;
                }
                newest = Some(Self {
                    wearer_id: item.wearer_id.clone(),
                    last_seen,
                    device_id: item.device_id.clone(),
                    seq: r.seq,
                    app_version: item.app_version.clone(),
                    heart_rate_bpm: r.heart_rate_bpm,
                    spo2_pct: r.spo2_pct,
                    skin_temp_c: r.skin_temp_c,
                    battery_pct: r.battery_pct,
                    worn: r.worn,
                    activity: r.activity,
                    sleep_stage: r.sleep_stage,
                });
            }
        }
        Ok(newest)
    }
}
