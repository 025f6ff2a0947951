//! The curated files' Parquet: the writer settings both kinds share, the two
//! writers, and the one reader (the PostgreSQL warehouse, `vigil run`'s audit
//! and the tests read curated files through it).

mod alerts;
mod days;
mod erasure;
mod readings;

use arrow_schema::{ArrowError, DataType, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};

pub use alerts::{alert_files, alert_row_files, alerts_schema};
pub use days::{day_files, days_schema};
pub use erasure::{Filtered, wearer_rows, without_wearer};
pub use readings::{BATCH_ROWS, CuratedWriter, EncodedFile, readings_schema, writer_properties};

#[derive(Debug, thiserror::Error)]
pub enum CuratedError {
    #[error("building a curated record batch")]
    Arrow(#[from] ArrowError),
    #[error("writing curated Parquet")]
    Parquet(#[from] ParquetError),
    /// A day's figure is NaN or infinite (names the column, never the wearer).
    #[error("day {local_date}: {field} is not a finite number")]
    NotFinite { field: &'static str, local_date: chrono::NaiveDate },
}

/// Every curated time column: microseconds, UTC.
fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// What every curated file is written with: Snappy.
fn snappy() -> WriterPropertiesBuilder {
    WriterProperties::builder().set_compression(Compression::SNAPPY)
}

/// A curated file opened for reading, [`BATCH_ROWS`] rows a record batch; its
/// metadata (row groups, schema) is on the builder.
pub fn reader(body: impl Into<Bytes>) -> Result<ParquetRecordBatchReaderBuilder<Bytes>, ParquetError> {
    Ok(ParquetRecordBatchReaderBuilder::try_new(body.into())?.with_batch_size(BATCH_ROWS))
}

/// The record batches of a curated file.
pub fn read(body: impl Into<Bytes>) -> Result<ParquetRecordBatchReader, ParquetError> {
    reader(body)?.build()
}
