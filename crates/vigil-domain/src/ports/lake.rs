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

/// What a curated file holds: which fact table it feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// `curated/readings/`: one row per reading, into `readings`.
    Readings,
    /// `curated/alerts/`: one row per alert, into `alerts`.
    Alerts,
    /// `curated/days/`: one row per wearer and local day, into `wearer_days`.
    Days,
}

impl FileKind {
    pub const ALL: [FileKind; 3] = [FileKind::Readings, FileKind::Alerts, FileKind::Days];

    /// The registry's `kind` attribute (absent means readings: files registered
    /// before alerts were curated carry none).
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Readings => "readings",
            FileKind::Alerts => "alerts",
            FileKind::Days => "days",
        }
    }

    /// The kind of a registry item's `kind` attribute; `None` for an unknown value.
    pub fn from_attribute(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("readings") => Some(FileKind::Readings),
            Some("alerts") => Some(FileKind::Alerts),
            Some("days") => Some(FileKind::Days),
            Some(_) => None,
        }
    }

    /// The kind of a curated key: alerts under `curated/alerts/`, days under
    /// `curated/days/`, else readings.
    pub fn of_key(key: &str) -> Self {
        if key.starts_with("curated/alerts/") {
            FileKind::Alerts
        } else if key.starts_with("curated/days/") {
            FileKind::Days
        } else {
            FileKind::Readings
        }
    }
}
