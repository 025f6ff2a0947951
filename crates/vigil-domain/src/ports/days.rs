//! The days table: each wearer's daily picture (what it holds: [`crate::days`]).

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

use super::StoreError;
use crate::care::WearerProfile;
use crate::days::DaySummary;
use crate::lifecycle::AlertRecord;
use crate::vitals::VitalsItem;

/// Each wearer's days, one item per wearer and local date (personal data,
/// expired like vitals).
pub trait DaysStore {
    /// Stores `day` for the wearer, replacing the day stored for its date (a
    /// recomputed day is the same item again: idempotent).
    fn put_day(&self, wearer_id: &str, day: &DaySummary) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The wearer's stored days from `from` to `to`, both included, oldest first.
    fn days(
        &self,
        wearer_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Future<Output = Result<Vec<DaySummary>, StoreError>> + Send;

    /// Where the daily job's last run stopped short in its pass over the wearers:
    /// the `after` of [`DayInputs::wearers`] the next run starts from (`None`: the
    /// first page).
    fn scan_position(&self) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Keeps `after` as where the next run starts (`None`: the first page).
    fn set_scan_position(&self, after: Option<&str>) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// One page of the registered wearers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WearerPage {
    /// The page's profiles, with their caregivers.
    pub wearers: Vec<WearerProfile>,
    /// Where the next page starts (give it as `after`); `None`: this was the last.
    pub next: Option<String>,
}

/// What a day is computed from, and whose days there are.
pub trait DayInputs {
    /// Up to `limit` registered wearers' profiles (with their caregivers), from
    /// after `after` (`None`: the first page). A reader of every wearer holds one
    /// page at a time.
    fn wearers(&self, after: Option<&str>, limit: usize)
    -> impl Future<Output = Result<WearerPage, StoreError>> + Send;

    /// The wearer's vitals items of the minutes `from..to`.
    fn minutes(
        &self,
        wearer_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<VitalsItem>, StoreError>> + Send;

    /// The wearer's alerts raised in `from..to`, as they stand.
    fn alerts(
        &self,
        wearer_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<AlertRecord>, StoreError>> + Send;
}
