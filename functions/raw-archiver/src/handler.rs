//! Batch semantics (ReportBatchItemFailures):
//! - The whole batch is one raw object and, per event date, one curated file,
//!   so it is stored all or nothing: if any PutObject, or the registration of a
//!   curated file, fails, the batch's FIRST record is reported and Lambda
//!   delivers the batch again from it. Every write is idempotent (deterministic
//!   keys, identical bytes, a conditional registration), so what was stored on
//!   the failed attempt is simply written again.
//! - Order: the raw archive first (the audit trail), then each curated file
//!   followed by its registration, so a file is never registered before it
//!   exists.
//! - A record that is not an envelope is poison: it is archived raw like any
//!   other (base64 when it is not JSON), quarantined under `raw-archiver`, and
//!   not reported, so it never blocks the shard. If its quarantine fails, it is
//!   reported.
//! - Within a batch each reading (same reading id) is curated once; across
//!   batches the warehouse MERGEs on the reading key.
//! - Every reported identifier is a real sequence number from the batch.

use std::time::Instant;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use chrono::{DateTime, Utc};
use vigil_curated::{PARQUET_CONTENT_TYPE, Pseudonymizer, RAW_CONTENT_TYPE};
use vigil_domain::ports::{CuratedFileRegistry, ObjectStore, Quarantine, StoreError};
use vigil_lambda::metrics::Metrics;
use vigil_lambda::stream::{StreamFunction, response};

use crate::archive::{Archive, encode};

pub const FUNCTION: &str = "raw-archiver";

/// The data lake, the curated-file registry, the quarantine and the pseudonym
/// key. Built once per container.
#[derive(Debug)]
pub struct Archiver<O, R, Q> {
    pub objects: O,
    pub registry: R,
    pub quarantine: Q,
    pub pseudonymizer: Pseudonymizer,
}

/// What a stored batch amounted to, for metrics.
#[derive(Debug, Default, Clone, Copy)]
struct Stored {
    raw_bytes: usize,
    curated_bytes: usize,
    curated_rows: usize,
    files: usize,
    registered: usize,
}

impl<O, R, Q> Archiver<O, R, Q>
where
    O: ObjectStore + Sync,
    R: CuratedFileRegistry + Sync,
    Q: Quarantine + Sync,
{
    /// Archives one batch as of `now`; returns the response and the metrics
    /// without writing them.
    pub async fn process(&self, event: KinesisEvent, now: DateTime<Utc>) -> (KinesisEventResponse, Metrics) {
        let started = Instant::now();
        let mut metrics = Metrics::new(FUNCTION);
        metrics.count("RecordsIn", event.records.len());
        let Some(first) = event.records.first().map(|r| r.kinesis.sequence_number.clone()) else {
            return (response([]), metrics);
        };

        let archive = match encode(event, FUNCTION, &self.pseudonymizer, &self.quarantine, now).await {
            Ok(Some(archive)) => archive,
            Ok(None) => return (response([]), metrics),
            Err(err) => {
                // Retrying cannot help a bug; after the retries the batch goes
                // to the failure destination.
                tracing::error!(sequence_number = %first, error = %err, source = ?std::error::Error::source(&err).map(ToString::to_string), "batch could not be encoded; reporting for retry");
                metrics.count("RecordsFailed", 1);
                return (response([first.as_str()]), metrics);
            }
        };
        metrics
            .count("ReadingsIn", archive.readings)
            .count("DuplicateReadings", archive.duplicates)
            .count("PoisonRecords", archive.poison)
            .count("RecordsDecodedSlowly", archive.decoded_slowly);
        if let Some(arrival) = archive.newest_arrival {
            metrics.millis("ProcessingLagMs", (now - arrival).num_milliseconds().max(0) as f64);
        }

        let raw_key = archive.raw.key.clone();
        let mut failed = archive.unquarantined.clone();
        match self.store(archive).await {
            Ok(stored) => {
                tracing::debug!(
                    raw_key,
                    curated_files = stored.files,
                    registered = stored.registered,
                    "batch archived"
                );
                metrics
                    .count("ReadingsCurated", stored.curated_rows)
                    .count("CuratedFiles", stored.files)
                    .count("RawBytes", stored.raw_bytes)
                    .count("CuratedBytes", stored.curated_bytes);
            }
            Err(err) => {
                tracing::warn!(raw_key, sequence_number = %first, operation = err.operation, resource = %err.resource, retryable = err.retryable, error = ?std::error::Error::source(&err).map(ToString::to_string), "batch not stored; reporting its first record for retry");
                // The lowest record: Lambda redelivers the whole batch from it.
                if !failed.contains(&first) {
                    failed.insert(0, first);
                }
            }
        }
        metrics.count("RecordsFailed", failed.len()).millis("BatchMs", started.elapsed().as_secs_f64() * 1e3);
        (response(failed.iter().map(String::as_str)), metrics)
    }

    /// Writes the raw object, then each curated file and its registration; stops
    /// at the first failure. Bodies are handed over, so each is freed once sent.
    async fn store(&self, archive: Archive) -> Result<Stored, StoreError> {
        let mut stored = Stored { raw_bytes: archive.raw.body.len(), ..Stored::default() };
        self.objects.put(&archive.raw.key, archive.raw.body, RAW_CONTENT_TYPE).await?;
        for curated in archive.curated {
            let file = curated.file;
            self.objects.put(&file.key, curated.body, PARQUET_CONTENT_TYPE).await?;
            if self.registry.register(&file).await? {
                stored.registered += 1;
            }
            stored.files += 1;
            stored.curated_bytes += file.bytes;
            stored.curated_rows += file.rows;
        }
        Ok(stored)
    }
}

impl<O, R, Q> StreamFunction for Archiver<O, R, Q>
where
    O: ObjectStore + Sync,
    R: CuratedFileRegistry + Sync,
    Q: Quarantine + Sync,
{
    const NAME: &'static str = FUNCTION;

    async fn process_batch(&self, event: KinesisEvent, now: DateTime<Utc>) -> (KinesisEventResponse, Metrics) {
        self.process(event, now).await
    }
}
