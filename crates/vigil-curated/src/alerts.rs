//! The curated alerts (`curated/alerts/`): the columns, and the row of one
//! alert (see the crate docs for the table).

use chrono::{DateTime, NaiveDate, Utc};

use crate::pseudonym::Pseudonym;

/// The curated alert columns, in file order.
pub const ALERT_COLUMNS: [&str; 6] = ["alert_key", "wearer_pseudonym", "rule", "severity", "raised_at", "resolved"];

/// One curated alert row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlertRow {
    pub alert_key: Pseudonym,
    pub wearer_pseudonym: Pseudonym,
    pub rule: &'static str,
    pub severity: &'static str,
    pub raised_at: DateTime<Utc>,
    pub resolved: bool,
}

/// A curated alerts file, not yet stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFile {
    pub key: String,
    pub event_date: NaiveDate,
    pub rows: Vec<AlertRow>,
    pub body: Vec<u8>,
}
