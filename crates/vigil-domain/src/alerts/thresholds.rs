//! Per-wearer thresholds, as the registry stores them.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveTime};
use serde::{Deserialize, Serialize};

use super::RuleKind;

/// A wearer's thresholds. Every field has a default, so the registry may store a
/// partial object (only what a clinician changed). Unknown fields are ignored
/// rather than rejected: a registry written by a newer version must not stop
/// alerts from being evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thresholds {
    /// Seconds of event time after a fall in which a cancel on the band withdraws it.
    pub fall_cancel_window_s: u32,
    /// Heart rate strictly above this is high.
    pub heart_rate_high_bpm: i64,
    /// Heart rate strictly below this is low.
    pub heart_rate_low_bpm: i64,
    /// Seconds a high or low heart rate must last before it alerts.
    pub heart_rate_sustain_s: u32,
    /// SpO2 strictly below this is low.
    pub spo2_low_pct: i64,
    /// Seconds a low SpO2 must last before it alerts.
    pub spo2_sustain_s: u32,
    /// Hours of daytime without movement before it alerts.
    pub inactivity_hours: u32,
    /// Minutes of daytime with the band off before it alerts.
    pub not_worn_min: u32,
    /// Start of the wearer's daytime, local time in their time zone ("08:00").
    pub day_start: NaiveTime,
    /// End of the wearer's daytime (exclusive). Earlier than `day_start` wraps past
    /// midnight; equal to it means all day.
    pub day_end: NaiveTime,
    /// Battery strictly below this is low.
    pub battery_low_pct: i64,
    /// A low-battery episode ends only at `battery_low_pct + battery_hysteresis_pct`,
    /// so a reading hovering around the limit does not open a new episode each time.
    pub battery_hysteresis_pct: i64,
    /// Minutes after an alert during which the same rule does not alert again for
    /// this wearer.
    pub cooldown_min: u32,
    /// Per-rule cooldowns in minutes, overriding `cooldown_min`.
    pub cooldown_overrides_min: BTreeMap<RuleKind, u32>,
    /// Minutes without any reading after which the band counts as offline.
    pub no_data_min: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            fall_cancel_window_s: 30,
            heart_rate_high_bpm: 120,
            heart_rate_low_bpm: 40,
            heart_rate_sustain_s: 120,
            spo2_low_pct: 90,
            spo2_sustain_s: 120,
            inactivity_hours: 3,
            not_worn_min: 30,
            day_start: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN),
            day_end: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or(NaiveTime::MIN),
            battery_low_pct: 15,
            battery_hysteresis_pct: 5,
            cooldown_min: 30,
            // A second SOS or fall ten minutes after the first is a new emergency:
            // their windows are short. The 30-minute default is for value rules.
            cooldown_overrides_min: BTreeMap::from([(RuleKind::Sos, 5), (RuleKind::Fall, 5)]),
            no_data_min: 15,
        }
    }
}

impl Thresholds {
    /// The cooldown of `rule`, never shorter than a second (SOS and fall windows
    /// divide by it).
    pub fn cooldown(&self, rule: RuleKind) -> Duration {
        let min = self.cooldown_overrides_min.get(&rule).copied().unwrap_or(self.cooldown_min);
        Duration::minutes(i64::from(min)).max(Duration::seconds(1))
    }

    pub(crate) fn fall_cancel_window(&self) -> Duration {
        Duration::seconds(i64::from(self.fall_cancel_window_s))
    }

    pub(crate) fn no_data(&self) -> Duration {
        Duration::minutes(i64::from(self.no_data_min))
    }
}
