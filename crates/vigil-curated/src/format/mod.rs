//! The curated files' Parquet: the writer settings every kind shares, the
//! writers, and the one reader (the PostgreSQL warehouse, `vigil run`'s audit
//! and the tests read curated files through it).
//!
//! Readings files are written through Arrow (raw-archiver's batches are large,
//! and Arrow's writer encodes them fast). Alerts and days files hold a few rows
//! each and are written on the alert path and by the daily job, so they go
//! through Parquet's own column writers ([`write_columns`]): the functions that
//! write them link no Arrow kernels, 1.6 MiB of each arm64 binary
//! (docs/performance.md). Either way a file reads back in Arrow as
//! `alerts_schema`, `days_schema` or `readings_schema` says.

mod alerts;
mod days;
mod erasure;
mod readings;

use std::sync::Arc;

use arrow_schema::{ArrowError, DataType, TimeUnit};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::Compression;
use parquet::column::writer::{ColumnWriter, ColumnWriterImpl};
use parquet::data_type::{ByteArray, DataType as ParquetType};
use parquet::errors::ParquetError;
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

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

/// One column of a small curated file, row by row; `None` is a null, which
/// only the schema's OPTIONAL columns take.
#[derive(Debug)]
pub(super) enum Column<'a> {
    Text(Vec<Option<&'a str>>),
    Int32(Vec<Option<i32>>),
    Int64(Vec<Option<i64>>),
    Double(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
}

impl Column<'_> {
    /// The column's type, for errors: never its values (pseudonyms, a wearer's figures).
    fn kind(&self) -> &'static str {
        match self {
            Self::Text(_) => "text",
            Self::Int32(_) => "INT32",
            Self::Int64(_) => "INT64",
            Self::Double(_) => "DOUBLE",
            Self::Bool(_) => "BOOLEAN",
        }
    }
}

/// `columns`, in the order of `schema` (a Parquet message type), as one row
/// group of a Snappy file, written by Parquet's column writers (no Arrow). A
/// column of the wrong type or a null in a REQUIRED column is an error.
pub(super) fn write_columns(schema: &str, columns: Vec<Column<'_>>) -> Result<Vec<u8>, CuratedError> {
    let schema = Arc::new(parse_message_type(schema)?);
    let mut file = SerializedFileWriter::new(Vec::new(), schema, Arc::new(snappy().build()))?;
    let mut group = file.next_row_group()?;
    let mut columns = columns.into_iter();
    while let Some(mut writer) = group.next_column()? {
        let column = columns.next().ok_or_else(|| general("fewer columns than the schema has"))?;
        match (writer.untyped(), column) {
            (ColumnWriter::ByteArrayColumnWriter(w), Column::Text(v)) => {
                put(w, v.into_iter().map(|s| s.map(ByteArray::from)).collect())
            }
            (ColumnWriter::Int32ColumnWriter(w), Column::Int32(v)) => put(w, v),
            (ColumnWriter::Int64ColumnWriter(w), Column::Int64(v)) => put(w, v),
            (ColumnWriter::DoubleColumnWriter(w), Column::Double(v)) => put(w, v),
            (ColumnWriter::BoolColumnWriter(w), Column::Bool(v)) => put(w, v),
            (_, column) => Err(general(format!("a {} column where the schema has another type", column.kind()))),
        }?;
        writer.close()?;
    }
    if columns.next().is_some() {
        return Err(general("more columns than the schema has").into());
    }
    group.close()?;
    Ok(file.into_inner()?)
}

/// One column's values, with definition levels when the column is OPTIONAL.
fn put<T: ParquetType>(writer: &mut ColumnWriterImpl<'_, T>, values: Vec<Option<T::T>>) -> Result<(), ParquetError> {
    let levels: Vec<i16> = values.iter().map(|v| i16::from(v.is_some())).collect();
    let present: Vec<T::T> = values.into_iter().flatten().collect();
    let column = writer.get_descriptor().clone();
    if column.max_def_level() > 0 {
        writer.write_batch(&present, Some(&levels), None)?;
    } else if present.len() == levels.len() {
        writer.write_batch(&present, None, None)?;
    } else {
        return Err(general(format!("a null in the REQUIRED column {}", column.name())));
    }
    Ok(())
}

fn general(message: impl Into<String>) -> ParquetError {
    ParquetError::General(message.into())
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;

    const PAIR: &str = "message pair { REQUIRED INT64 n; OPTIONAL BYTE_ARRAY s (STRING); }";

    #[test]
    fn columns_that_do_not_fit_the_schema_are_refused_by_name() {
        let int = || Column::Int64(vec![Some(1), Some(2)]);
        let text = || Column::Text(vec![Some("a"), None]);
        assert!(write_columns(PAIR, vec![int(), text()]).is_ok());
        for (columns, expected) in [
            (vec![int()], "fewer columns"),
            (vec![int(), text(), int()], "more columns"),
            (vec![text(), text()], "where the schema has another type"),
            (vec![Column::Int64(vec![Some(1), None]), text()], "a null in the REQUIRED column n"),
        ] {
            let err = write_columns(PAIR, columns).unwrap_err();
            assert!(format!("{:?}", err).contains(expected), "{err:?}");
        }
    }
}
