//! The sink of curated alerts for the warehouse's `alerts` fact table: each
//! evaluation's alerts, pseudonymized, as Parquet files in the data lake,
//! registered in the curated-files table (kind `alerts`) like raw-archiver's
//! readings. The files themselves (columns, keys, encoding) are
//! `vigil_curated`'s ([`vigil_curated::alert_files`]).
//!
//! The sink runs after delivery and before the wearer's state is saved (see
//! `vigil_alerting::Alerting::process_wearer_with`): a failure leaves the state
//! unsaved, the handler reports the wearer's first record, and the retry
//! evaluates the same alerts again (deliveries are not repeated). The key is
//! the date, the wearer's pseudonym and a digest of the alert keys, and the
//! bytes depend only on the alerts, so a retry rewrites the same object and a
//! different set of alerts can never overwrite an earlier file.
//!
//! A resolution (a silent band is back) writes the alert again with
//! `resolved = true`, into a file of its own (its digest covers the flag too),
//! so the raise file is never rewritten. The loader keeps the resolved copy of
//! a key and its MERGE only ever sets `resolved` (`alerts.resolved OR s.resolved`),
//! whichever file is loaded first.

use chrono::{DateTime, Utc};
use vigil_curated::{CuratedError, PARQUET_CONTENT_TYPE, Pseudonymizer, alert_files};
use vigil_domain::alerts::Alert;
use vigil_domain::ports::{CuratedFile, CuratedFileRegistry, ObjectStore, StoreError};

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

impl<O: ObjectStore + Sync, R: CuratedFileRegistry + Sync> AlertSink for CuratedAlerts<O, R> {
    async fn record(&self, wearer_id: &str, raised: &[Alert], resolved: &[Alert]) -> Result<(), StoreError> {
        let mut files = alert_files(&self.pseudonymizer, wearer_id, raised, false).map_err(storage_error)?;
        files.extend(alert_files(&self.pseudonymizer, wearer_id, resolved, true).map_err(storage_error)?);
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
