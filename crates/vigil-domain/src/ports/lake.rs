//! The data lake: objects (the raw archive, curated files) and the registry of
//! curated files the warehouse loader works from. The layouts and formats of
//! what is stored are the `vigil-curated` crate's.

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};

use super::StoreError;

/// Status of a registered curated file the warehouse has not loaded yet.
pub const STATUS_PENDING: &str = "pending";

/// A stored curated file, as registered for the warehouse loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CuratedFile {
    /// The object key in the data bucket (`vigil_curated::curated_key`).
    pub key: String,
    /// The event date (UTC) of every row.
    pub event_date: NaiveDate,
    pub rows: usize,
    /// The object's size: Redshift's COPY from a manifest of Parquet files needs it.
    pub bytes: usize,
    /// Earliest and latest event time in the file.
    pub min_ts: DateTime<Utc>,
    pub max_ts: DateTime<Utc>,
    /// When the file was first written (a retry keeps the first registration).
    pub created_at: DateTime<Utc>,
}

/// Stores objects in the data lake.
pub trait ObjectStore {
    /// Writes `body` at `key`, replacing whatever is there: keys are
    /// deterministic, so a retry rewrites the same bytes.
    fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Registers curated files for the warehouse loader.
pub trait CuratedFileRegistry {
    /// Registers `file` as [`STATUS_PENDING`] unless its key is registered
    /// already, whatever its status (so a redelivered batch never resets a file
    /// already loaded). `Ok(true)` when registered now.
    fn register(&self, file: &CuratedFile) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
