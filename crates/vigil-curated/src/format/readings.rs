//! Curated rows to Parquet: one file per event date, built a record batch at a
//! time. [`readings_schema`] is the Arrow form of the crate docs' table; a test
//! keeps it in step with [`crate::COLUMNS`].
//!
//! Memory stays bounded whatever the batch: rows go into Arrow builders of at
//! most [`BATCH_ROWS`] per date, which are encoded (dictionary, Snappy; the key GZIP) into the
//! file's current row group as soon as they fill; a row group is closed at
//! [`MAX_ROW_GROUP_ROWS`]. What stays in memory is the encoded files.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int32Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, GzipLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use vigil_domain::reading::{Activity, SleepStage};

use super::{CuratedError, snappy, utc_micros};
use crate::readings::{CuratedRow, MAX_ROW_GROUP_ROWS};

/// Rows buffered in Arrow builders per date before they are encoded.
pub const BATCH_ROWS: usize = 8_192;

/// The curated readings schema in Arrow terms ([`crate::COLUMNS`], typed as the
/// crate docs say).
pub fn readings_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("reading_key", DataType::Utf8, false),
        Field::new("wearer_pseudonym", DataType::Utf8, false),
        Field::new("ts", utc_micros(), false),
        Field::new("received_at", utc_micros(), false),
        Field::new("heart_rate_bpm", DataType::Int32, true),
        Field::new("spo2_pct", DataType::Int32, true),
        Field::new("skin_temp_c", DataType::Float64, true),
        Field::new("steps", DataType::Int32, true),
        Field::new("activity", DataType::Utf8, true),
        Field::new("sleep_stage", DataType::Utf8, true),
        Field::new("fall_detected", DataType::Boolean, true),
        Field::new("fall_cancelled", DataType::Boolean, true),
        Field::new("sos", DataType::Boolean, true),
        Field::new("battery_pct", DataType::Int32, true),
        Field::new("worn", DataType::Boolean, true),
    ]))
}

/// Snappy, bounded row groups. The reading key is unique per row, so a
/// dictionary and min/max statistics would only cost space; it is 32 random hex
/// digits, which Snappy (no entropy coding) leaves at 36 bytes a row with its
/// length, and GZIP at about half: the key column is GZIP.
pub fn writer_properties() -> WriterProperties {
    let key = ColumnPath::from("reading_key");
    snappy()
        .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS))
        .set_column_dictionary_enabled(key.clone(), false)
        .set_column_statistics_enabled(key.clone(), EnabledStatistics::None)
        .set_column_compression(key, Compression::GZIP(GzipLevel::default()))
        .build()
}

/// The Arrow builders of one record batch.
#[derive(Debug)]
struct Columns {
    reading_key: StringBuilder,
    wearer_pseudonym: StringBuilder,
    ts: TimestampMicrosecondBuilder,
    received_at: TimestampMicrosecondBuilder,
    heart_rate_bpm: Int32Builder,
    spo2_pct: Int32Builder,
    skin_temp_c: Float64Builder,
    steps: Int32Builder,
    activity: StringBuilder,
    sleep_stage: StringBuilder,
    fall_detected: BooleanBuilder,
    fall_cancelled: BooleanBuilder,
    sos: BooleanBuilder,
    battery_pct: Int32Builder,
    worn: BooleanBuilder,
    len: usize,
}

impl Columns {
    fn new() -> Self {
        Self {
            reading_key: StringBuilder::new(),
            wearer_pseudonym: StringBuilder::new(),
            ts: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            received_at: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            heart_rate_bpm: Int32Builder::new(),
            spo2_pct: Int32Builder::new(),
            skin_temp_c: Float64Builder::new(),
            steps: Int32Builder::new(),
            activity: StringBuilder::new(),
            sleep_stage: StringBuilder::new(),
            fall_detected: BooleanBuilder::new(),
            fall_cancelled: BooleanBuilder::new(),
            sos: BooleanBuilder::new(),
            battery_pct: Int32Builder::new(),
            worn: BooleanBuilder::new(),
            len: 0,
        }
    }

    fn push(&mut self, row: &CuratedRow) {
        self.reading_key.append_value(row.reading_key.as_str());
        self.wearer_pseudonym.append_value(row.wearer_pseudonym.as_str());
        self.ts.append_value(row.ts.timestamp_micros());
        self.received_at.append_value(row.received_at.timestamp_micros());
        self.heart_rate_bpm.append_option(row.heart_rate_bpm);
        self.spo2_pct.append_option(row.spo2_pct);
        self.skin_temp_c.append_option(row.skin_temp_c);
        self.steps.append_option(row.steps);
        self.activity.append_option(row.activity.map(Activity::as_str));
        self.sleep_stage.append_option(row.sleep_stage.map(SleepStage::as_str));
        self.fall_detected.append_option(row.fall_detected);
        self.fall_cancelled.append_option(row.fall_cancelled);
        self.sos.append_option(row.sos);
        self.battery_pct.append_option(row.battery_pct);
        self.worn.append_option(row.worn);
        self.len += 1;
    }

    /// The buffered rows as a record batch; the builders start empty again.
    fn take(&mut self, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
        self.len = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.reading_key.finish()),
            Arc::new(self.wearer_pseudonym.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.received_at.finish()),
            Arc::new(self.heart_rate_bpm.finish()),
            Arc::new(self.spo2_pct.finish()),
            Arc::new(self.skin_temp_c.finish()),
            Arc::new(self.steps.finish()),
            Arc::new(self.activity.finish()),
            Arc::new(self.sleep_stage.finish()),
            Arc::new(self.fall_detected.finish()),
            Arc::new(self.fall_cancelled.finish()),
            Arc::new(self.sos.finish()),
            Arc::new(self.battery_pct.finish()),
            Arc::new(self.worn.finish()),
        ];
        RecordBatch::try_new(schema.clone(), columns)
    }
}

/// One event date's file in the making.
struct DateFile {
    columns: Columns,
    writer: ArrowWriter<Vec<u8>>,
    rows: usize,
    min_ts: DateTime<Utc>,
    max_ts: DateTime<Utc>,
}

/// A finished curated file, not yet stored.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedFile {
    pub event_date: NaiveDate,
    pub rows: usize,
    pub min_ts: DateTime<Utc>,
    pub max_ts: DateTime<Utc>,
    pub body: Vec<u8>,
}

/// Curated rows in, one Parquet file per event date out, rows in push order.
pub struct CuratedWriter {
    schema: SchemaRef,
    properties: WriterProperties,
    files: BTreeMap<NaiveDate, DateFile>,
}

impl std::fmt::Debug for CuratedWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CuratedWriter").field("dates", &self.files.keys().collect::<Vec<_>>()).finish()
    }
}

impl Default for CuratedWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CuratedWriter {
    pub fn new() -> Self {
        Self { schema: readings_schema(), properties: writer_properties(), files: BTreeMap::new() }
    }

    pub fn push(&mut self, row: &CuratedRow) -> Result<(), CuratedError> {
        let date = row.event_date();
        let file = match self.files.entry(date) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(DateFile {
                columns: Columns::new(),
                writer: ArrowWriter::try_new(Vec::new(), self.schema.clone(), Some(self.properties.clone()))?,
                rows: 0,
                min_ts: row.ts,
                max_ts: row.ts,
            }),
        };
        file.columns.push(row);
        file.rows += 1;
        file.min_ts = file.min_ts.min(row.ts);
        file.max_ts = file.max_ts.max(row.ts);
        if file.columns.len >= BATCH_ROWS {
            let batch = file.columns.take(&self.schema)?;
            file.writer.write(&batch)?;
        }
        Ok(())
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> usize {
        self.files.values().map(|f| f.rows).sum()
    }

    /// The finished files, by event date.
    pub fn finish(self) -> Result<Vec<EncodedFile>, CuratedError> {
        let mut out = Vec::with_capacity(self.files.len());
        for (event_date, mut file) in self.files {
            if file.columns.len > 0 {
                let batch = file.columns.take(&self.schema)?;
                file.writer.write(&batch)?;
            }
            let body = file.writer.into_inner()?;
            out.push(EncodedFile { event_date, rows: file.rows, min_ts: file.min_ts, max_ts: file.max_ts, body });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arrow_schema_has_the_documented_columns_in_order() {
        let names: Vec<String> = readings_schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, crate::COLUMNS.to_vec());
    }
}
