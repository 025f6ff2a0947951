//! The alert engine: per-wearer rules evaluated in event time over a wearer's
//! readings, with the state that carries open episodes from one batch to the next.
//!
//! Pure: the alert-processor loads [`WearerState`] and [`Thresholds`], calls
//! [`evaluate`] (then [`flush`]), stores the state with a conditional write and
//! the returned [`Alert`]s keyed by their deterministic [`AlertId`], and only then
//! notifies. The offline detector calls [`check_offline`].
//!
//! # Rules
//!
//! | Rule | Raised when | Defaults (per wearer, [`Thresholds`]) | Severity |
//! |---|---|---|---|
//! | `sos` | a reading has `sos: true`; raised at once | — | critical |
//! | `fall` | a reading has `fall_detected: true` and no `fall_cancelled: true` reading falls within the cancel window after it; raised once event time has passed the window (a later reading, or [`flush`]) | cancel window 30 s | critical |
//! | `heart_rate_high` | heart rate above the limit in every reading carrying it for the duration | > 120 bpm for 2 min | high |
//! | `heart_rate_low` | heart rate below the limit, sustained | < 40 bpm for 2 min | high |
//! | `spo2_low` | SpO2 below the limit, sustained | < 90 % for 2 min | high |
//! | `inactivity` | band worn, no steps and no activity above `rest`, during the wearer's daytime | 3 h, daytime 08:00–21:00 local | medium |
//! | `not_worn` | band reported not worn during the wearer's daytime | 30 min, same daytime | medium |
//! | `battery_low` | battery below the limit; the episode ends back at limit + hysteresis | < 15 %, ends at ≥ 20 % | low |
//! | `no_data` | no reading for a while ([`check_offline`], wall clock); over once the band is current again ([`flush`]) | 15 min | medium |
//! | `baseline_deviation` | not by these rules: by the daily picture, when a day's figure and the day before's are far from the wearer's own baseline ([`crate::days`]) | z beyond ±3 on 2 days | low |
//!
//! Every rule raises at most one alert per episode, and none within the cooldown
//! (default 30 min, overridable per rule) after the previous alert of the same
//! rule for that wearer. Sustained rules tolerate gaps up to [`MAX_GAP`] between
//! readings; a reading back in range ends the episode. Daytime episodes start no
//! earlier than that day's daytime, so a night does not count towards them.
//!
//! # Time and order
//!
//! Readings are evaluated in event-time order. Readings older than the newest one
//! already evaluated (late uploads) still count for SOS, falls, fall cancels,
//! movement and location; they do not rewrite the past of the value rules (heart
//! rate, SpO2, battery, wear), which move forward only.
//!
//! SOS and fall alerts must not depend on the order uploads arrive in, so their
//! cooldown is a fixed window of event time aligned to the Unix epoch: at most one
//! alert per rule per window, whatever arrives first, and the window start is the
//! episode start (hence the alert id). A fall's cancel holds the alert back if it
//! is delivered no later than the first batch that carries event time past the
//! fall's window (the app uploads falls and cancels at once, routine readings
//! later), or before the band's silence raised it. A cancel that arrives after
//! its fall was raised marks it cancelled ([`RaisedFall::cancelled_at`],
//! [`newly_cancelled_falls`]): the alert path resolves the alert and tells the
//! caregivers it was cancelled on the band.

mod engine;
pub mod message;
mod state;
mod thresholds;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::names::{self, UnknownName};
use crate::reading::Location;

pub use engine::{MAX_GAP, check_offline, check_to_store, evaluate, flush, newly_cancelled_falls, next_check};
pub use message::{Language, Message, render, render_fall_cancelled, render_voice};
pub use state::{Episode, PendingFall, RaisedFall, WearStretch, WearerState};
pub use thresholds::Thresholds;

/// Most reading ids one alert (or open episode) keeps: enough to audit, bounded
/// so a long episode cannot grow the state item.
pub const MAX_ALERT_READINGS: usize = 20;

/// How urgent an alert is; ordered from least to most urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Can wait out the caregiver's quiet hours.
    Low,
    Medium,
    High,
    /// Someone must act now.
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    /// The snake_case name used on the wire and in the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        names::parse(&Self::ALL, Self::as_str, "severity", s)
    }
}

/// The rule that raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    Sos,
    Fall,
    HeartRateHigh,
    HeartRateLow,
    Spo2Low,
    Inactivity,
    NotWorn,
    BatteryLow,
    NoData,
    /// A daily figure far from the wearer's own baseline ([`crate::days`]).
    BaselineDeviation,
}

impl RuleKind {
    /// Every rule, in the order of the rules table.
    pub const ALL: [RuleKind; 10] = [
        RuleKind::Sos,
        RuleKind::Fall,
        RuleKind::HeartRateHigh,
        RuleKind::HeartRateLow,
        RuleKind::Spo2Low,
        RuleKind::Inactivity,
        RuleKind::NotWorn,
        RuleKind::BatteryLow,
        RuleKind::NoData,
        RuleKind::BaselineDeviation,
    ];

    /// The severity every alert of this rule carries.
    pub fn severity(self) -> Severity {
        match self {
            RuleKind::Sos | RuleKind::Fall => Severity::Critical,
            RuleKind::HeartRateHigh | RuleKind::HeartRateLow | RuleKind::Spo2Low => Severity::High,
            RuleKind::Inactivity | RuleKind::NotWorn | RuleKind::NoData => Severity::Medium,
            RuleKind::BatteryLow | RuleKind::BaselineDeviation => Severity::Low,
        }
    }

    /// The snake_case name used on the wire and in the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Sos => "sos",
            RuleKind::Fall => "fall",
            RuleKind::HeartRateHigh => "heart_rate_high",
            RuleKind::HeartRateLow => "heart_rate_low",
            RuleKind::Spo2Low => "spo2_low",
            RuleKind::Inactivity => "inactivity",
            RuleKind::NotWorn => "not_worn",
            RuleKind::BatteryLow => "battery_low",
            RuleKind::NoData => "no_data",
            RuleKind::BaselineDeviation => "baseline_deviation",
        }
    }
}

impl std::str::FromStr for RuleKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        names::parse(&Self::ALL, Self::as_str, "rule", s)
    }
}

/// An alert's id: the same for the same wearer, rule and episode start, so a
/// retried batch produces the same id and the alerts table and the "sent"
/// records deduplicate on it. 128 bits of a SHA-256, as hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlertId(String);

impl AlertId {
    pub fn new(wearer_id: &str, rule: RuleKind, episode_start: DateTime<Utc>) -> Self {
        let mut h = Sha256::new();
        h.update(b"vigil/alert/v1\0");
        h.update(wearer_id.as_bytes());
        h.update(b"\0");
        h.update(rule.as_str().as_bytes());
        h.update(b"\0");
        h.update(episode_start.timestamp().to_be_bytes());
        h.update(episode_start.timestamp_subsec_nanos().to_be_bytes());
        Self(hex::encode(&h.finalize()[..16]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AlertId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One alert: what the alerts table stores and what notifications are rendered from.
/// Times are event times (the band's clock), except for `no_data`, which has no
/// reading and uses the detector's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    pub wearer_id: String,
    pub rule: RuleKind,
    pub severity: Severity,
    /// When the episode began (for SOS and falls: the start of the cooldown window).
    pub episode_start: DateTime<Utc>,
    /// Event time of the reading that raised the alert (for SOS and falls: the press or the fall).
    pub raised_at: DateTime<Utc>,
    /// [`crate::ReadingId`]s (hex) of the readings behind the alert, at most [`MAX_ALERT_READINGS`]:
    /// the latest readings showing the condition for the sustained rules; the first
    /// and the completing reading for the daytime rules (`inactivity`, `not_worn`).
    pub readings: Vec<String>,
    /// For SOS and falls: the phone's location with the reading, else its last known one.
    /// Personal data: never log it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The measurement behind the alert: bpm, %, or minutes for inactivity, not worn and no data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

impl Alert {
    fn new(wearer_id: &str, rule: RuleKind, episode_start: DateTime<Utc>, raised_at: DateTime<Utc>) -> Self {
        Self {
            id: AlertId::new(wearer_id, rule, episode_start),
            wearer_id: wearer_id.to_owned(),
            rule,
            severity: rule.severity(),
            episode_start,
            raised_at,
            readings: Vec::new(),
            location: None,
            value: None,
        }
    }
}
