//! The curated alerts (`curated/alerts/`): the columns, and the row of one
//! alert as it stands (see the crate docs for the table).

use chrono::{DateTime, NaiveDate, Utc};
use vigil_domain::lifecycle::{AlertRecord, AlertStatus};

use crate::pseudonym::{Pseudonym, Pseudonymizer};

/// The curated alert columns, in file order. The lifecycle columns come last:
/// the warehouse added them to an existing table (Redshift's Parquet COPY
/// matches columns by position).
pub const ALERT_COLUMNS: [&str; 9] = [
    "alert_key",
    "wearer_pseudonym",
    "rule",
    "severity",
    "raised_at",
    "resolved",
    "acknowledged_at",
    "resolved_at",
    "outcome",
];

/// One curated alert row: the alert and where its lifecycle stands. Nothing of
/// who acted, through what, or the note: only when, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
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
        }
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
