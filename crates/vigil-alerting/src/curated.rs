//! The sink of curated alerts for the warehouse's `alerts` fact table: each
//! evaluation's alerts, and each step of an alert's lifecycle, pseudonymized, as
//! Parquet files in the data lake, registered in the curated-files table (kind
//! `alerts`) like raw-archiver's readings. The files themselves (columns, keys,
//! encoding) are `vigil_curated`'s ([`vigil_curated::alert_files`]).
//!
//! Two ways in, one way out ([`CuratedAlerts::store`]):
//!
//! - [`AlertSink`]: the alert path (alert-processor, offline-detector) hands it
//!   the alerts an evaluation raised (open) and those it resolved (the rules'
//!   own resolution, outcome `cleared`, as the alerts table then has it). It
//!   runs after delivery and before the wearer's state is saved (see
//!   `vigil_alerting::Alerting::process_wearer_with`): a failure leaves the
//!   state unsaved, the handler reports the wearer's first record, and the retry
//!   evaluates the same alerts again (deliveries are not repeated).
//! - [`LifecycleSink`]: care-api hands it the alert as it stands after every
//!   acknowledge or resolve (won or lost), written as a one-row file.
//!
//! The key is the date, the wearer's pseudonym and a digest of the alert keys
//! with their lifecycle, and the bytes depend only on the rows, so a retry
//! rewrites the same object and a different set of alerts, or another state of
//! one, can never overwrite an earlier file: raised, acknowledged and resolved
//! are each a file of their own. The loader keeps the most advanced copy of a
//! key and its MERGE only fills the lifecycle in (`resolved` stays true once
//! true; `acknowledged_at`, `resolved_at` and `outcome` keep the first value
//! loaded), whichever file is loaded first.

use chrono::{DateTime, Utc};
use vigil_curated::{AlertFile, CuratedError, PARQUET_CONTENT_TYPE, Pseudonymizer, alert_files};
use vigil_domain::alerts::Alert;
use vigil_domain::lifecycle::AlertRecord;
use vigil_domain::ports::{CuratedFile, CuratedFileRegistry, LifecycleSink, ObjectStore, StoreError};

use crate::AlertSink;

fn storage_error(err: CuratedError) -> StoreError {
    StoreError { operation: "EncodeParquet", resource: "curated/alerts".into(), retryable: false, source: err.into() }
}

/// The sink: curated alert files in the data lake, registered for the loader.
#[derive(Debug, Clone)]
pub struct CuratedAlerts<O, R> {
    pub objects: O,
    pub registry: R,
    pub pseudonymizer: Pseudonymizer,
}

impl<O: ObjectStore + Sync, R: CuratedFileRegistry + Sync> CuratedAlerts<O, R> {
    /// The files of `records` as they stand (see [`vigil_curated::alert_files`]).
    fn files(&self, records: &[AlertRecord]) -> Result<Vec<AlertFile>, StoreError> {
        alert_files(&self.pseudonymizer, records).map_err(storage_error)
    }

    /// Stores each file, then registers it for the loader (put-if-absent: a
    /// file rewritten by a retry keeps its first registration and status).
    pub async fn store(&self, files: Vec<AlertFile>) -> Result<(), StoreError> {
        for file in files {
            let (min_ts, max_ts) =
                file.rows.iter().fold((DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC), |(lo, hi), r| {
                    (lo.min(r.raised_at), hi.max(r.raised_at))
                });
            let registered = CuratedFile {
                key: file.key.clone(),
                event_date: file.event_date,
                rows: file.rows.len(),
                bytes: file.body.len(),
                min_ts,
                max_ts,
                // Kept from the first registration (put-if-absent).
                created_at: Utc::now(),
            };
            self.objects.put(&file.key, file.body, PARQUET_CONTENT_TYPE).await?;
            self.registry.register(&registered).await?;
        }
        Ok(())
    }
}

impl<O: ObjectStore + Sync, R: CuratedFileRegistry + Sync> AlertSink for CuratedAlerts<O, R> {
    /// The raised alerts (open) in their evaluation's file(s); the resolved ones
    /// in file(s) of their own.
    async fn record(&self, _wearer_id: &str, raised: &[Alert], resolved: &[AlertRecord]) -> Result<(), StoreError> {
        let raised: Vec<AlertRecord> = raised.iter().map(|a| AlertRecord::open(a.clone(), false)).collect();
        let mut files = self.files(&raised)?;
        files.extend(self.files(resolved)?);
        self.store(files).await
    }
}

impl<O: ObjectStore + Sync, R: CuratedFileRegistry + Sync> LifecycleSink for CuratedAlerts<O, R> {
    /// The alert as it stands, in a one-row file of its own.
    async fn record(&self, record: &AlertRecord) -> Result<(), StoreError> {
        self.store(self.files(std::slice::from_ref(record))?).await
    }
}
