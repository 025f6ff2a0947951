//! What the engine remembers about one wearer between batches.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::RuleKind;
use crate::reading::Location;

/// One wearer's rule state, stored as one item. The adapter reads it with its
/// `version`, and writes it back only if the stored version is still that one
/// (then stores `version + 1`), so a retried or concurrent batch cannot overwrite
/// newer state. The engine itself never changes `version`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WearerState {
    pub wearer_id: String,
    /// Version for the adapter's conditional write.
    pub version: u64,
    /// Latest event time evaluated: the wearer's event-time watermark, and when
    /// the band was last seen (the offline detector's input).
    pub last_seen: Option<DateTime<Utc>>,
    /// Latest event time with steps or activity above rest.
    pub last_movement: Option<DateTime<Utc>>,
    /// Whether the band is worn, and since when.
    pub wear: Option<WearStretch>,
    /// The phone's latest location and its event time (personal data).
    pub last_location: Option<(DateTime<Utc>, Location)>,
    /// Open episodes of the episode rules (not SOS or fall).
    pub episodes: BTreeMap<RuleKind, Episode>,
    /// Falls still inside their cancel window.
    pub pending_falls: Vec<PendingFall>,
    /// Event times of fall cancels, kept because a cancel may arrive before its fall.
    pub fall_cancels: Vec<DateTime<Utc>>,
    /// Falls that raised an alert, kept (as long as cancels are) because their
    /// cancel may arrive after the fall was raised.
    pub raised_falls: Vec<RaisedFall>,
    /// For SOS and fall: starts of the cooldown windows that already raised an alert.
    pub alerted_windows: BTreeMap<RuleKind, Vec<DateTime<Utc>>>,
    /// For the other rules: `raised_at` of the latest alert, for the cooldown.
    pub last_alert: BTreeMap<RuleKind, DateTime<Utc>>,
    /// When the scheduled detector must next look at this wearer
    /// ([`super::next_check`], set before every save); `None`: only a new reading
    /// can change anything. The state adapter indexes it, so the detector reads
    /// only the wearers that are due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_check: Option<DateTime<Utc>>,
}

impl WearerState {
    /// The state of a wearer never evaluated before.
    pub fn new(wearer_id: impl Into<String>) -> Self {
        Self { wearer_id: wearer_id.into(), ..Self::default() }
    }
}

/// A condition that holds (or held) over a stretch of event time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub start: DateTime<Utc>,
    /// Latest event time at which the condition held.
    pub last: DateTime<Utc>,
    /// Ids of the latest readings showing the condition, at most [`super::MAX_ALERT_READINGS`].
    pub readings: Vec<String>,
    /// The latest value behind the condition.
    pub value: Option<f64>,
    /// Whether this episode already raised its alert.
    pub alerted: bool,
}

/// A detected fall waiting out its cancel window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingFall {
    pub at: DateTime<Utc>,
    pub reading: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A fall that raised an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaisedFall {
    /// Event time of the fall (the alert's `raised_at`).
    pub at: DateTime<Utc>,
    /// Its alert's episode start (the cooldown window), hence its alert id.
    pub window_start: DateTime<Utc>,
    /// Event time of a cancel inside its window that arrived after it was
    /// raised: the alert is resolved and the caregivers are told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<DateTime<Utc>>,
}

impl RaisedFall {
    /// The id of the alert it raised, for `wearer_id`.
    pub fn alert_id(&self, wearer_id: &str) -> super::AlertId {
        super::AlertId::new(wearer_id, RuleKind::Fall, self.window_start)
    }
}

/// The band's wear status and when it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WearStretch {
    pub worn: bool,
    pub since: DateTime<Utc>,
}
