//! The caregivers' side: who cares for whom, alerts with their lifecycle, and
//! what the caregivers' API reads of a wearer.

use std::future::Future;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::StoreError;
use crate::alerts::RuleKind;
use crate::care::{Caregiver, Snooze, WearerProfile};
use crate::days::DaySummary;
use crate::lifecycle::{AlertRecord, AlertStatus, Transition};
use crate::vitals::{Shadow, VitalsItem, Window};

/// Which alerts of a wearer, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertQuery {
    pub status: Option<AlertStatus>,
    /// Raised at or after.
    pub from: Option<DateTime<Utc>>,
    /// Raised before.
    pub to: Option<DateTime<Utc>>,
    pub limit: usize,
    /// Where the previous page ended.
    pub after: Option<AlertCursor>,
}

/// The last alert of a page: the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertCursor {
    pub raised_at: DateTime<Utc>,
    pub alert_id: String,
}

impl AlertCursor {
    /// The opaque text handed to clients (hex, so it is safe in a query string).
    pub fn encode(&self) -> String {
        hex::encode(format!("{}|{}", self.raised_at.to_rfc3339(), self.alert_id))
    }

    pub fn decode(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (at, id) = text.split_once('|')?;
        let valid_id = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
        valid_id.then_some(())?;
        Some(Self { raised_at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc), alert_id: id.to_owned() })
    }
}

/// One page of alerts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AlertPage {
    pub alerts: Vec<AlertRecord>,
    /// Set when more alerts may follow.
    pub next: Option<AlertCursor>,
}

/// What the caregivers' API reads and writes.
pub trait CareStore {
    /// The wearers the account `sub` is linked to. A link is only a pointer: the
    /// wearer's profile decides (a stale link whose profile no longer lists the
    /// caregiver grants nothing).
    fn linked_wearers(&self, sub: &str) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    fn profile(&self, wearer_id: &str) -> impl Future<Output = Result<Option<WearerProfile>, StoreError>> + Send;

    /// Sets the snooze of `rule` for the wearer (replacing one of that rule);
    /// `Ok(false)` if the wearer has no profile.
    fn snooze(
        &self,
        wearer_id: &str,
        rule: RuleKind,
        snooze: &Snooze,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The newest reading's state (from the newest vitals items), if any is stored.
    fn shadow(&self, wearer_id: &str) -> impl Future<Output = Result<Option<Shadow>, StoreError>> + Send;

    fn alert(&self, alert_id: &str) -> impl Future<Output = Result<Option<AlertRecord>, StoreError>> + Send;

    fn alerts_of(
        &self,
        wearer_id: &str,
        query: &AlertQuery,
    ) -> impl Future<Output = Result<AlertPage, StoreError>> + Send;

    /// Applies `step` (with a resolution's note) if the stored status accepts it
    /// (see [`AlertStatus::accepts`]) and returns the alert as it then stands:
    /// the winner's step when another caregiver got there first. `None` if there
    /// is no such alert.
    fn transition(
        &self,
        alert_id: &str,
        step: &Transition,
        note: Option<&str>,
    ) -> impl Future<Output = Result<Option<AlertRecord>, StoreError>> + Send;

    /// The vitals items of the minutes the window touches.
    fn vitals(
        &self,
        wearer_id: &str,
        window: &Window,
    ) -> impl Future<Output = Result<Vec<VitalsItem>, StoreError>> + Send;

    /// The wearer's stored days from `from` to `to`, both included, oldest first
    /// (see [`super::DaysStore::days`]).
    fn days(
        &self,
        wearer_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<DaySummary>, StoreError>> + Send;

    /// Sets (`Some`) or clears (`None`) when the caregiver wants the daily message
    /// ([`Caregiver::daily_at`]) on their one record, shared by every wearer they
    /// care for, and returns the record as stored; `None` if they have no record.
    fn set_daily_at(
        &self,
        caregiver_id: &str,
        at: Option<NaiveTime>,
    ) -> impl Future<Output = Result<Option<Caregiver>, StoreError>> + Send;
}

/// Where an alert's lifecycle goes besides the alerts table: the warehouse's
/// curated alerts. Handed the alert as it stands after every acknowledge or
/// resolve (won or lost), so it must be idempotent: the same state writes the
/// same file, and a retried request completes a write a failure left undone.
pub trait LifecycleSink {
    fn record(&self, record: &AlertRecord) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// No sink: the lifecycle stays in the alerts table only.
impl<T: LifecycleSink + Sync> LifecycleSink for Option<T> {
    async fn record(&self, record: &AlertRecord) -> Result<(), StoreError> {
        match self {
            Some(sink) => sink.record(record).await,
            None => Ok(()),
        }
    }
}
