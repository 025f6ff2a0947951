//! The warehouse: the port the loader writes through, the SQL it sends (versioned
//! migrations, staging, deduplication, MERGE) in the two dialects Vigil speaks —
//! Amazon Redshift (production, through the Data API: `aws::redshift`) and
//! PostgreSQL 15 (local runs and tests: [`postgres`]) — and the COPY manifest.
//!
//! # What is loaded
//!
//! Curated Parquet files written by raw-archiver (`curated/readings/`) and
//! alert-processor (`curated/alerts/`), both with `vigil_curated`'s writers and
//! schemas, registered in the curated-files table. A load takes a
//! bounded set of pending files of one [`FileKind`] and, in ONE transaction,
//! stages them, deduplicates the stage on the key, MERGEs into the fact table and
//! drops the stage. So loading a file twice, loading two files that share
//! readings, or two runs racing on the same files, always leaves one row per key.
//!
//! # Dialects
//!
//! [`sql`] holds every statement for both dialects side by side; where they differ
//! (distribution and sort keys, column encodings, COPY versus COPY FROM STDIN,
//! locking) the difference is one function with a `match` on [`sql::Dialect`],
//! and docs/warehouse.md lists each difference and its test.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
pub use vigil_curated::FileKind;
use vigil_domain::ports::{BoxError, StoreError};

#[cfg(feature = "aws")]
pub mod aws;
pub mod erasure;
pub mod manifest;
pub mod sql;

#[cfg(feature = "postgres")]
pub mod postgres;

/// A registered curated file the warehouse has not loaded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFile {
    /// The object key in the data bucket.
    pub key: String,
    pub kind: FileKind,
    pub event_date: NaiveDate,
    pub rows: u64,
    /// The object's size: a COPY manifest of Parquet files must give it.
    pub bytes: u64,
    pub created_at: DateTime<Utc>,
}

/// What one load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Rows staged from the files (before deduplication).
    pub rows_staged: u64,
    /// Rows the MERGE inserted or updated.
    pub rows_merged: u64,
    /// Rows the retention deleted in the same transaction (0 when the load
    /// carried no cut).
    pub rows_expired: u64,
    /// The warehouse's id of the load (the Data API statement id), for logs.
    pub statement_id: Option<String>,
}

/// What applying the migrations did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrated {
    /// Versions applied by this call (empty when the schema was up to date).
    pub applied: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The warehouse ran the load and it failed or was aborted: nothing was
    /// committed. `message` is the warehouse's own error text; the warehouse holds
    /// only pseudonymized data, so it cannot carry personal data.
    #[error("statement {statement_id} ended {status}: {message}")]
    Failed { statement_id: String, status: String, message: String },
    /// The statement had not finished when the time budget ran out; it was
    /// cancelled (best effort) and nothing is assumed committed.
    #[error("statement {statement_id} not finished within {budget:?}")]
    Timeout { statement_id: String, budget: Duration },
    /// A call to the warehouse failed (throttled, refused, unreachable).
    #[error("{operation} failed")]
    Call {
        operation: &'static str,
        retryable: bool,
        #[source]
        source: BoxError,
    },
    /// A curated file could not be read or does not have the expected columns.
    #[error("curated file {key} unreadable")]
    File {
        key: String,
        #[source]
        source: BoxError,
    },
}

/// The warehouse (Redshift or PostgreSQL).
pub trait Warehouse {
    /// Applies the migrations not applied yet ([`sql::migrations`]), in one
    /// transaction; a second call is a no-op.
    fn migrate(&self) -> impl Future<Output = Result<Migrated, WarehouseError>> + Send;

    /// Loads `files` (all of `kind`) in one transaction: stage, deduplicate,
    /// MERGE on the key, drop the stage, and with `expire_before` delete the
    /// kind's rows older than that day ([`sql::expire_statement`]). `run_id`
    /// names this attempt (manifest key, statement name); `budget` bounds the
    /// wait for the result. `Ok` means committed; any error means nothing was.
    fn load(
        &self,
        kind: FileKind,
        files: &[PendingFile],
        run_id: &str,
        expire_before: Option<NaiveDate>,
        budget: Duration,
    ) -> impl Future<Output = Result<Loaded, WarehouseError>> + Send;
}

/// The registry of curated files, as the loader uses it.
pub trait FileQueue {
    /// Up to `limit` pending files, oldest registration first.
    fn pending(&self, limit: usize) -> impl Future<Output = Result<Vec<PendingFile>, StoreError>> + Send;

    /// Marks `key` loaded if it is still pending (a conditional write).
    /// `Ok(false)` when it was not pending any more: another run marked it.
    fn mark_loaded(&self, key: &str, at: DateTime<Utc>) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Reads objects from the data lake (the PostgreSQL adapter's stand-in for
/// Redshift reading S3 itself).
pub trait ObjectSource {
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
}
