//! Curated alerts for the warehouse's `alerts` fact table: the alerts of each
//! evaluation, pseudonymized, as Parquet under `curated/alerts/dt=YYYY-MM-DD/`,
//! registered in the curated-files table (kind `alerts`) like raw-archiver's
//! readings.
//!
//! Columns (`vigil_warehouse::sql::ALERT_COLUMNS`, file order):
//!
//! | column             | Parquet (Arrow)                    | warehouse     | meaning |
//! |--------------------|------------------------------------|---------------|---------|
//! | `alert_key`        | BYTE_ARRAY UTF8 (Utf8)             | CHAR(32)      | `Pseudonymizer::alert` of the alert id: the MERGE key |
//! | `wearer_pseudonym` | BYTE_ARRAY UTF8 (Utf8)             | CHAR(32)      | `Pseudonymizer::wearer` of the wearer id |
//! | `rule`             | BYTE_ARRAY UTF8 (Utf8)             | VARCHAR(32)   | `sos`, `fall`, `heart_rate_high`, … |
//! | `severity`         | BYTE_ARRAY UTF8 (Utf8)             | VARCHAR(16)   | `critical`, `high`, `medium`, `low` |
//! | `raised_at`        | INT64 TIMESTAMP(MICROS, UTC)       | TIMESTAMPTZ   | event time of the reading that raised it |
//! | `resolved`         | BOOLEAN                            | BOOLEAN       | false when raised; true in the file written when it is resolved |
//!
//! No names, phone numbers, locations, reading ids or measurement values.
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

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::AlertSink;
use arrow_array::builder::{BooleanBuilder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};
use vigil_domain::alerts::{Alert, Severity};
use vigil_domain::curated::{
    CuratedFile, CuratedFileRegistry, ObjectStore, PARQUET_CONTENT_TYPE, Pseudonym, Pseudonymizer, curated_alerts_key,
};
use vigil_domain::ports::StoreError;

/// The curated alerts schema in Arrow terms.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("alert_key", DataType::Utf8, false),
        Field::new("wearer_pseudonym", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("raised_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("resolved", DataType::Boolean, false),
    ]))
}

pub fn severity_str(severity: Severity) -> &'static str {
    match severity {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// One curated alert row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlertRow {
    pub alert_key: Pseudonym,
    pub wearer_pseudonym: Pseudonym,
    pub rule: &'static str,
    pub severity: &'static str,
    pub raised_at: DateTime<Utc>,
    pub resolved: bool,
}

/// A curated alerts file, not yet stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertFile {
    pub key: String,
    pub event_date: NaiveDate,
    pub rows: Vec<AlertRow>,
    pub body: Vec<u8>,
}

fn storage_error(err: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError { operation: "EncodeParquet", resource: "curated/alerts".into(), retryable: false, source: err.into() }
}

/// The files of one wearer's evaluation: one per UTC date of `raised_at`, rows
/// sorted by key (one per alert), named deterministically (see the module docs).
///
/// `resolved`: the alerts are being resolved, not raised.
pub fn alert_files(
    pseudonymizer: &Pseudonymizer,
    wearer_id: &str,
    alerts: &[Alert],
    resolved: bool,
) -> Result<Vec<AlertFile>, StoreError> {
    let wearer = pseudonymizer.wearer(wearer_id);
    let mut by_date: BTreeMap<NaiveDate, Vec<AlertRow>> = BTreeMap::new();
    for a in alerts {
        by_date.entry(a.raised_at.date_naive()).or_default().push(AlertRow {
            alert_key: pseudonymizer.alert(a.id.as_str()),
            wearer_pseudonym: wearer,
            rule: a.rule.as_str(),
            severity: severity_str(a.severity),
            raised_at: a.raised_at,
            resolved,
        });
    }
    let mut files = Vec::with_capacity(by_date.len());
    for (event_date, mut rows) in by_date {
        rows.sort();
        rows.dedup_by(|a, b| a.alert_key == b.alert_key);
        let mut digest = Sha256::new();
        if resolved {
            digest.update(b"resolved\0");
        }
        for r in &rows {
            digest.update(r.alert_key.as_str());
        }
        let digest = hex::encode(&digest.finalize()[..8]);
        let body = encode(&rows).map_err(storage_error)?;
        files.push(AlertFile { key: curated_alerts_key(event_date, wearer, &digest), event_date, rows, body });
    }
    Ok(files)
}

fn encode(rows: &[AlertRow]) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let (mut key, mut wearer, mut rule, mut severity) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut raised_at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    let mut resolved = BooleanBuilder::new();
    for r in rows {
        key.append_value(r.alert_key.as_str());
        wearer.append_value(r.wearer_pseudonym.as_str());
        rule.append_value(r.rule);
        severity.append_value(r.severity);
        raised_at.append_value(r.raised_at.timestamp_micros());
        resolved.append_value(r.resolved);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(key.finish()),
        Arc::new(wearer.finish()),
        Arc::new(rule.finish()),
        Arc::new(severity.finish()),
        Arc::new(raised_at.finish()),
        Arc::new(resolved.finish()),
    ];
    let batch = RecordBatch::try_new(schema(), columns)?;
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema(), Some(properties))?;
    writer.write(&batch)?;
    writer.into_inner()
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
        let mut files = alert_files(&self.pseudonymizer, wearer_id, raised, false)?;
        files.extend(alert_files(&self.pseudonymizer, wearer_id, resolved, true)?);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use vigil_domain::alerts::{AlertId, RuleKind};

    fn alert(rule: RuleKind, severity: Severity, at: &str) -> Alert {
        let raised_at = DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc);
        Alert {
            id: AlertId::new("wearer-42", rule, raised_at),
            wearer_id: "wearer-42".into(),
            rule,
            severity,
            episode_start: raised_at,
            raised_at,
            readings: vec!["0011".into()],
            location: Some(vigil_domain::reading::Location { lat: 40.4168, lon: -3.7038, accuracy_m: None }),
            value: Some(131.0),
        }
    }

    #[test]
    fn files_are_per_date_deterministic_and_carry_no_personal_data() {
        let p = Pseudonymizer::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let alerts = vec![
            alert(RuleKind::Sos, Severity::Critical, "2026-11-22T10:00:00Z"),
            alert(RuleKind::HeartRateHigh, Severity::High, "2026-11-22T11:00:00Z"),
            alert(RuleKind::BatteryLow, Severity::Low, "2026-11-21T23:59:00Z"),
        ];
        let files = alert_files(&p, "wearer-42", &alerts, false).unwrap();
        assert_eq!(files.len(), 2);
        assert!(files[0].key.starts_with("curated/alerts/dt=2026-11-21/"), "{}", files[0].key);
        assert!(files[1].key.starts_with(&format!("curated/alerts/dt=2026-11-22/{}-", p.wearer("wearer-42"))));
        assert_eq!(files[1].rows.len(), 2);
        // Same alerts in another order: same keys, same bytes.
        let mut reversed = alerts.clone();
        reversed.reverse();
        assert_eq!(alert_files(&p, "wearer-42", &reversed, false).unwrap(), files);
        // A different set goes elsewhere.
        let fewer = alert_files(&p, "wearer-42", &alerts[..1], false).unwrap();
        assert_ne!(fewer[0].key, files[1].key);
        // So does the same set resolved: the raise file is never rewritten.
        let resolved = alert_files(&p, "wearer-42", &alerts, true).unwrap();
        assert_eq!(resolved.len(), 2);
        assert_ne!(resolved[1].key, files[1].key);
        assert!(resolved[1].rows.iter().all(|r| r.resolved) && files[1].rows.iter().all(|r| !r.resolved));
        let same_rows: Vec<_> = resolved[1].rows.iter().map(|r| (r.alert_key, r.raised_at)).collect();
        assert_eq!(same_rows, files[1].rows.iter().map(|r| (r.alert_key, r.raised_at)).collect::<Vec<_>>());
        let text = String::from_utf8_lossy(&files[1].body);
        for secret in ["wearer-42", "40.4168", alerts[0].id.as_str()] {
            assert!(!text.contains(secret), "{secret} leaked into the file");
        }
        assert!(text.contains("heart_rate_high") && text.contains("critical"));
    }
}
