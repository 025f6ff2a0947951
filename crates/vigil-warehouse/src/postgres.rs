//! The warehouse on PostgreSQL 15 (local runs and tests): the same tables,
//! view and MERGE as Redshift ([`crate::sql`]), with Redshift's
//! `COPY … FORMAT AS PARQUET` replaced by the client reading each Parquet file
//! from the data lake ([`ObjectSource`]) and streaming its rows into the stage
//! with `COPY … FROM STDIN` (text format), the fastest way into PostgreSQL.
//!
//! One connection per call (a load is seconds of work; a connection is
//! milliseconds), one transaction per load. Loads and migrations take a
//! transaction-scoped advisory lock first, so two overlapping runs queue instead
//! of racing: PostgreSQL's MERGE does not retry a concurrent insert of the same
//! key (it fails with a unique violation), while Redshift's serializable
//! isolation fails one of two concurrent writers outright.

use std::io::Write as _;
use std::pin::pin;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, TimestampMillisecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use bytes::Bytes;
use chrono::NaiveDate;
use futures_util::SinkExt;
use tokio_postgres::{Client, NoTls};

use crate::sql::{self, CopyFrom, Dialect, Table};
use crate::{FileKind, Loaded, Migrated, ObjectSource, PendingFile, Warehouse, WarehouseError};

/// Advisory lock keys (arbitrary, fixed): one for migrations, one for loads.
const MIGRATE_LOCK: i64 = 0x5649_4749_4c00_0001;
const LOAD_LOCK: i64 = 0x5649_4749_4c00_0002;

/// Bytes of COPY text buffered before they are sent.
const CHUNK_BYTES: usize = 1 << 20;

/// The warehouse on PostgreSQL at `url` (`postgres://user@host:port/db`), reading
/// curated files through `objects` (on AWS or moto: `aws::S3ObjectSource`).
#[derive(Debug, Clone)]
pub struct PostgresWarehouse<S> {
    url: String,
    objects: S,
}

impl<S> PostgresWarehouse<S> {
    pub fn new(url: impl Into<String>, objects: S) -> Self {
        Self { url: url.into(), objects }
    }

    /// A new connection, its I/O driven on the runtime.
    pub async fn connect(&self) -> Result<Client, WarehouseError> {
        let (client, connection) = tokio_postgres::connect(&self.url, NoTls).await.map_err(|e| call("connect", e))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "postgres connection ended with an error");
            }
        });
        Ok(client)
    }
}

/// A failed SQL statement becomes [`WarehouseError::Failed`] with the server's
/// message (never its DETAIL, which can quote row values); a lost connection a
/// retryable [`WarehouseError::Call`].
fn sql_error(operation: &'static str, e: tokio_postgres::Error) -> WarehouseError {
    match e.as_db_error() {
        Some(db) => WarehouseError::Failed {
            statement_id: operation.to_owned(),
            status: "FAILED".into(),
            message: format!("{}: {}", db.code().code(), db.message()),
        },
        None => call(operation, e),
    }
}

fn call(operation: &'static str, e: tokio_postgres::Error) -> WarehouseError {
    WarehouseError::Call { operation, retryable: true, source: e.into() }
}

impl<S: ObjectSource + Sync> Warehouse for PostgresWarehouse<S> {
    async fn migrate(&self) -> Result<Migrated, WarehouseError> {
        let mut client = self.connect().await?;
        let tx = client.transaction().await.map_err(|e| call("BEGIN", e))?;
        tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({MIGRATE_LOCK})"))
            .await
            .map_err(|e| sql_error("lock", e))?;
        tx.batch_execute(&sql::create_migrations_table(Dialect::Postgres))
            .await
            .map_err(|e| sql_error("schema_migrations", e))?;
        let applied: Vec<i32> = tx
            .query("SELECT version FROM schema_migrations", &[])
            .await
            .map_err(|e| sql_error("schema_migrations", e))?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut done = Migrated::default();
        for m in sql::migrations(Dialect::Postgres) {
            if applied.iter().any(|v| i64::from(*v) == i64::from(m.version)) {
                continue;
            }
            for statement in &m.statements {
                tx.batch_execute(statement).await.map_err(|e| sql_error(m.name, e))?;
            }
            tx.batch_execute(&sql::record_migration(&m)).await.map_err(|e| sql_error(m.name, e))?;
            done.applied.push(m.version);
        }
        tx.commit().await.map_err(|e| sql_error("COMMIT", e))?;
        Ok(done)
    }

    async fn load(
        &self,
        kind: FileKind,
        files: &[PendingFile],
        _run_id: &str,
        expire_before: Option<NaiveDate>,
        budget: Duration,
    ) -> Result<Loaded, WarehouseError> {
        let table = Table::of(kind);
        let statements = sql::load_statements(table, CopyFrom::Stdin);
        let mut client = self.connect().await?;
        let tx = client.transaction().await.map_err(|e| call("BEGIN", e))?;
        // The budget bounds every statement, waiting for the lock included.
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = {}; SELECT pg_advisory_xact_lock({LOAD_LOCK})",
            budget.as_millis().max(1)
        ))
        .await
        .map_err(|e| sql_error("lock", e))?;
        tx.batch_execute(&statements[0]).await.map_err(|e| sql_error("CREATE TEMP TABLE", e))?;

        let sink = tx.copy_in::<_, Bytes>(&statements[sql::COPY_STATEMENT]).await.map_err(|e| sql_error("COPY", e))?;
        let mut sink = pin!(sink);
        let mut buf = Vec::with_capacity(CHUNK_BYTES + 64 * 1024);
        for file in files {
            let body = self
                .objects
                .get(&file.key)
                .await
                .map_err(|e| WarehouseError::File { key: file.key.clone(), source: e.into() })?;
            let reader = vigil_curated::read(body)
                .map_err(|e| WarehouseError::File { key: file.key.clone(), source: e.into() })?;
            for batch in reader {
                let batch = batch.map_err(|e| WarehouseError::File { key: file.key.clone(), source: e.into() })?;
                copy_text(&batch, table, &mut buf)
                    .map_err(|e| WarehouseError::File { key: file.key.clone(), source: e.into() })?;
                if buf.len() >= CHUNK_BYTES {
                    let chunk = Bytes::from(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK_BYTES + 64 * 1024)));
                    sink.send(chunk).await.map_err(|e| sql_error("COPY", e))?;
                }
            }
        }
        if !buf.is_empty() {
            sink.send(Bytes::from(buf)).await.map_err(|e| sql_error("COPY", e))?;
        }
        let rows_staged = sink.as_mut().finish().await.map_err(|e| sql_error("COPY", e))?;

        tx.batch_execute(&statements[2]).await.map_err(|e| sql_error("deduplicate", e))?;
        let rows_merged =
            tx.execute(&statements[sql::MERGE_STATEMENT], &[]).await.map_err(|e| sql_error("MERGE", e))?;
        for drop in &statements[sql::MERGE_STATEMENT + 1..] {
            tx.batch_execute(drop).await.map_err(|e| sql_error("DROP TABLE", e))?;
        }
        let rows_expired = match expire_before {
            Some(day) => {
                tx.execute(&sql::expire_statement(table, day), &[]).await.map_err(|e| sql_error("DELETE", e))?
            }
            None => 0,
        };
        tx.commit().await.map_err(|e| sql_error("COMMIT", e))?;
        Ok(Loaded { rows_staged, rows_merged, rows_expired, statement_id: None })
    }
}

/// A Parquet column the stage cannot take.
#[derive(Debug, thiserror::Error)]
pub enum ColumnError {
    #[error("column {0} is missing")]
    Missing(&'static str),
    #[error("column {name} has type {data_type}, which the warehouse does not load")]
    Unsupported { name: &'static str, data_type: DataType },
}

/// One column of a record batch, typed.
enum Col<'a> {
    /// A nullable column the file does not have (written before the column
    /// was added): null in every row.
    Absent,
    Str(&'a arrow_array::StringArray),
    I32(&'a arrow_array::Int32Array),
    I64(&'a arrow_array::Int64Array),
    F64(&'a arrow_array::Float64Array),
    Bool(&'a arrow_array::BooleanArray),
    Micros(&'a arrow_array::TimestampMicrosecondArray),
    Millis(&'a arrow_array::TimestampMillisecondArray),
    Date(&'a arrow_array::Date32Array),
}

fn typed<'a>(name: &'static str, array: &'a dyn Array) -> Result<Col<'a>, ColumnError> {
    let unsupported = || ColumnError::Unsupported { name, data_type: array.data_type().clone() };
    Ok(match array.data_type() {
        DataType::Utf8 => Col::Str(array.as_string_opt::<i32>().ok_or_else(unsupported)?),
        DataType::Int32 => Col::I32(array.as_primitive_opt::<Int32Type>().ok_or_else(unsupported)?),
        DataType::Int64 => Col::I64(array.as_primitive_opt::<Int64Type>().ok_or_else(unsupported)?),
        DataType::Float64 => Col::F64(array.as_primitive_opt::<Float64Type>().ok_or_else(unsupported)?),
        DataType::Boolean => Col::Bool(array.as_boolean_opt().ok_or_else(unsupported)?),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Col::Micros(array.as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(unsupported)?)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            Col::Millis(array.as_primitive_opt::<TimestampMillisecondType>().ok_or_else(unsupported)?)
        }
        DataType::Date32 => Col::Date(array.as_primitive_opt::<Date32Type>().ok_or_else(unsupported)?),
        _ => return Err(unsupported()),
    })
}

/// Appends `batch`'s rows to `out` in COPY's text format, in the table's column
/// order, columns found by name (so a file with its columns in another order
/// still loads right; Redshift's Parquet COPY matches by position, which the
/// writers guarantee and `sql`'s tests check). A nullable column the file lacks
/// (a file written before the column was added) is null; a `NOT NULL` one is
/// refused.
pub fn copy_text(batch: &RecordBatch, table: &Table, out: &mut Vec<u8>) -> Result<(), ColumnError> {
    let schema = batch.schema();
    let mut columns = Vec::with_capacity(table.columns.len());
    for c in table.columns {
        match schema.index_of(c.name) {
            Ok(index) => columns.push(typed(c.name, batch.column(index).as_ref())?),
            Err(_) if !c.sql_type.ends_with("NOT NULL") => columns.push(Col::Absent),
            Err(_) => return Err(ColumnError::Missing(c.name)),
        }
    }
    for row in 0..batch.num_rows() {
        for (i, col) in columns.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            write_value(col, row, out);
        }
        out.push(b'\n');
    }
    Ok(())
}

fn write_value(col: &Col<'_>, row: usize, out: &mut Vec<u8>) {
    let null = match col {
        Col::Absent => true,
        Col::Str(a) => a.is_null(row),
        Col::I32(a) => a.is_null(row),
        Col::I64(a) => a.is_null(row),
        Col::F64(a) => a.is_null(row),
        Col::Bool(a) => a.is_null(row),
        Col::Micros(a) => a.is_null(row),
        Col::Millis(a) => a.is_null(row),
        Col::Date(a) => a.is_null(row),
    };
    if null {
        out.extend_from_slice(b"\\N");
        return;
    }
    // Writes to a Vec cannot fail.
    let _ = match col {
        Col::Absent => Ok(()),
        Col::Str(a) => {
            escape(a.value(row), out);
            Ok(())
        }
        Col::I32(a) => write!(out, "{}", a.value(row)),
        Col::I64(a) => write!(out, "{}", a.value(row)),
        Col::F64(a) => {
            let v = a.value(row);
            if v.is_nan() {
                write!(out, "NaN")
            } else if v.is_infinite() {
                write!(out, "{}Infinity", if v < 0.0 { "-" } else { "" })
            } else {
                write!(out, "{v}")
            }
        }
        Col::Bool(a) => {
            out.push(if a.value(row) { b't' } else { b'f' });
            Ok(())
        }
        Col::Micros(a) => timestamp(a.value(row), 1_000_000, out),
        Col::Millis(a) => timestamp(a.value(row), 1_000, out),
        Col::Date(a) => match a.value_as_date(row) {
            Some(date) => write!(out, "{}", date.format("%Y-%m-%d")),
            None => write!(out, "\\N"),
        },
    };
}

/// An instant as `YYYY-MM-DD HH:MM:SS.ffffff+00`, from units since the epoch.
fn timestamp(units: i64, per_second: i64, out: &mut Vec<u8>) -> std::io::Result<()> {
    let secs = units.div_euclid(per_second);
    let micros = units.rem_euclid(per_second) * (1_000_000 / per_second);
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(t) => write!(out, "{}.{micros:06}+00", t.format("%Y-%m-%d %H:%M:%S")),
        None => write!(out, "\\N"),
    }
}

/// COPY text escaping: backslash, tab, newline and carriage return.
fn escape(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use std::sync::Arc;

    use arrow_array::{BooleanArray, Float64Array, Int32Array, StringArray, TimestampMicrosecondArray};
    use arrow_schema::{Field, Schema};

    use super::*;

    #[test]
    fn rows_become_copy_text_by_column_name_with_nulls_and_escapes() {
        // Columns deliberately out of the table's order.
        let schema = Schema::new(vec![
            Field::new("resolved", DataType::Boolean, false),
            Field::new("alert_key", DataType::Utf8, false),
            Field::new("wearer_pseudonym", DataType::Utf8, false),
            Field::new("rule", DataType::Utf8, false),
            Field::new("severity", DataType::Utf8, true),
            Field::new("raised_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(BooleanArray::from(vec![true, false])),
                Arc::new(StringArray::from(vec!["k1", "k2"])),
                Arc::new(StringArray::from(vec!["w\t1", "w\\2"])),
                Arc::new(StringArray::from(vec!["sos", "fall"])),
                Arc::new(StringArray::from(vec![Some("critical"), None])),
                Arc::new(TimestampMicrosecondArray::from(vec![1_795_341_600_000_001, -1]).with_timezone("UTC")),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        copy_text(&batch, &sql::ALERTS, &mut out).unwrap();
        // The file predates the lifecycle and deviation columns: they load as null.
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "k1\tw\\t1\tsos\tcritical\t2026-11-22 10:00:00.000001+00\tt\t\\N\t\\N\t\\N\t\\N\t\\N\n\
             k2\tw\\\\2\tfall\t\\N\t1969-12-31 23:59:59.999999+00\tf\t\\N\t\\N\t\\N\t\\N\t\\N\n"
        );
    }

    #[test]
    fn the_lifecycle_columns_load_by_name_with_their_nulls() {
        let micros = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let schema = Schema::new(vec![
            Field::new("outcome", DataType::Utf8, true),
            Field::new("alert_key", DataType::Utf8, false),
            Field::new("wearer_pseudonym", DataType::Utf8, false),
            Field::new("rule", DataType::Utf8, false),
            Field::new("severity", DataType::Utf8, false),
            Field::new("raised_at", micros(), false),
            Field::new("resolved", DataType::Boolean, false),
            Field::new("acknowledged_at", micros(), true),
            Field::new("resolved_at", micros(), true),
        ]);
        let at = |v: Option<i64>| TimestampMicrosecondArray::from(vec![v]).with_timezone("UTC");
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from(vec![Some("false_alarm")])),
                Arc::new(StringArray::from(vec!["k1"])),
                Arc::new(StringArray::from(vec!["w1"])),
                Arc::new(StringArray::from(vec!["fall"])),
                Arc::new(StringArray::from(vec!["critical"])),
                Arc::new(at(Some(1_795_341_600_000_000))),
                Arc::new(BooleanArray::from(vec![true])),
                Arc::new(at(None)),
                Arc::new(at(Some(1_795_342_200_000_000))),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        copy_text(&batch, &sql::ALERTS, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "k1\tw1\tfall\tcritical\t2026-11-22 10:00:00.000000+00\tt\t\\N\t2026-11-22 10:10:00.000000+00\tfalse_alarm\t\\N\t\\N\n",
            "a file of before version 8 has no feature or z: null"
        );
    }

    #[test]
    fn a_missing_or_odd_column_is_refused_by_name() {
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("alert_key", DataType::Float32, false)])),
            vec![Arc::new(arrow_array::Float32Array::from(vec![1.5]))],
        )
        .unwrap();
        let err = copy_text(&batch, &sql::ALERTS, &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("alert_key has type Float32"), "{err}");
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("x", DataType::Int32, false)])),
            vec![Arc::new(Int32Array::from(vec![1]))],
        )
        .unwrap();
        assert_eq!(
            copy_text(&batch, &sql::ALERTS, &mut Vec::new()).unwrap_err().to_string(),
            "column alert_key is missing"
        );
    }

    #[test]
    fn floats_keep_full_precision_and_specials_use_postgres_spelling() {
        let mut out = Vec::new();
        let a = Float64Array::from(vec![34.25, 0.1, f64::NAN, f64::NEG_INFINITY]);
        for row in 0..a.len() {
            write_value(&Col::F64(&a), row, &mut out);
            out.push(b' ');
        }
        assert_eq!(String::from_utf8(out).unwrap(), "34.25 0.1 NaN -Infinity ");
    }

    #[test]
    fn dates_are_written_as_iso_dates() {
        let mut out = Vec::new();
        let a = arrow_array::Date32Array::from(vec![Some(20_413), None, Some(-1)]);
        for row in 0..a.len() {
            write_value(&Col::Date(&a), row, &mut out);
            out.push(b' ');
        }
        assert_eq!(String::from_utf8(out).unwrap(), "2025-11-21 \\N 1969-12-31 ");
    }
}
