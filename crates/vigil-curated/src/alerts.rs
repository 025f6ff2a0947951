//! The curated alerts (`curated/alerts/`): the columns, and the row of one
//! alert as it stands (see the crate docs for the table).

use chrono::{DateTime, NaiveDate, Utc};
use vigil_domain::lifecycle::{AlertRecord, AlertStatus};

use crate::pseudonym::{Pseudonym, Pseudonymizer};

/// The curated alert columns, in file order. The lifecycle columns, then a
/// deviation's `feature` and `z`, come last: the warehouse added them to an
/// existing table (Redshift's Parquet COPY matches columns by position).
pub const ALERT_COLUMNS: [&str; 11] = [
    "alert_key",
    "wearer_pseudonym",
    "rule",
    "severity",
    "raised_at",
    "resolved",
    "acknowledged_at",
    "resolved_at",
    "outcome",
    "feature",
    "z",
];

/// One curated alert row: the alert and where its lifecycle stands. Nothing of
/// who acted, through what, or the note: only when, and how it ended.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub struct AlertRow {
    pub alert_key: Pseudonym,
    pub wearer_pseudonym: Pseudonym,
    pub rule: &'static str,
    pub severity: &'static str,
    pub raised_at: DateTime<Utc>,
    /// The alert is resolved (by a caregiver or by the rules).
    pub resolved: bool,
    /// When the winning acknowledgement was made.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When the winning resolution was made.
    pub resolved_at: Option<DateTime<Utc>>,
    /// How it ended ([`vigil_domain::lifecycle::Outcome::as_str`]).
    pub outcome: Option<&'static str>,
    /// For a `baseline_deviation` alert: the daily figure that left the
    /// wearer's baseline (`resting_heart_rate`, `restlessness`, `steps`) and
    /// its z against that baseline ([`AlertRow::deviation`]). Null otherwise,
    /// and in the copies the alert path and care-api write (the warehouse
    /// takes them from whichever copy has them).
    pub feature: Option<&'static str>,
    pub z: Option<f64>,
}

impl AlertRow {
    /// The row of `record` as it stands.
    pub fn new(pseudonymizer: &Pseudonymizer, record: &AlertRecord) -> Self {
        let a = &record.alert;
        Self {
            alert_key: pseudonymizer.alert(a.id.as_str()),
            wearer_pseudonym: pseudonymizer.wearer(&a.wearer_id),
            rule: a.rule.as_str(),
            severity: a.severity.as_str(),
            raised_at: a.raised_at,
            resolved: record.status == AlertStatus::Resolved,
            acknowledged_at: record.acknowledged.as_ref().map(|t| t.at),
            resolved_at: record.resolved.as_ref().map(|t| t.at),
            outcome: record.resolved.as_ref().and_then(|t| t.outcome).map(|o| o.as_str()),
            feature: None,
            z: None,
        }
    }

    /// The row of a `baseline_deviation` alert, with the feature and z the
    /// daily job found (the alert itself does not carry them).
    pub fn deviation(self, feature: &'static str, z: f64) -> Self {
        Self { feature: Some(feature), z: Some(z), ..self }
    }

    /// Whether the row says anything beyond "raised" (an open alert's row is
    /// the same in the raise file and anywhere else).
    pub fn has_lifecycle(&self) -> bool {
        self.resolved || self.acknowledged_at.is_some() || self.resolved_at.is_some() || self.outcome.is_some()
    }
}

/// A curated alerts file, not yet stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFile {
    pub key: String,
    pub event_date: NaiveDate,
    pub rows: Vec<AlertRow>,
    pub body: Vec<u8>,
}
