//! Curated alerts to Parquet: the alerts of one wearer's evaluation, one file
//! per UTC date of `raised_at`, named and encoded deterministically (see the
//! crate docs).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use sha2::{Digest, Sha256};
use vigil_domain::alerts::Alert;

use super::{CuratedError, snappy, utc_micros};
use crate::alerts::{AlertFile, AlertRow};
use crate::keys::curated_alerts_key;
use crate::pseudonym::Pseudonymizer;

/// The curated alerts schema in Arrow terms ([`crate::ALERT_COLUMNS`]).
pub fn alerts_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("alert_key", DataType::Utf8, false),
        Field::new("wearer_pseudonym", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("raised_at", utc_micros(), false),
        Field::new("resolved", DataType::Boolean, false),
    ]))
}

/// The files of one wearer's evaluation: one per UTC date of `raised_at`, rows
/// sorted by key (one per alert), named deterministically (see the crate docs).
///
/// `resolved`: the alerts are being resolved, not raised.
pub fn alert_files(
    pseudonymizer: &Pseudonymizer,
    wearer_id: &str,
    alerts: &[Alert],
    resolved: bool,
) -> Result<Vec<AlertFile>, CuratedError> {
    let wearer = pseudonymizer.wearer(wearer_id);
    let mut by_date: BTreeMap<NaiveDate, Vec<AlertRow>> = BTreeMap::new();
    for a in alerts {
        by_date.entry(a.raised_at.date_naive()).or_default().push(AlertRow {
            alert_key: pseudonymizer.alert(a.id.as_str()),
            wearer_pseudonym: wearer,
            rule: a.rule.as_str(),
            severity: a.severity.as_str(),
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
        let body = encode(&rows)?;
        files.push(AlertFile { key: curated_alerts_key(event_date, wearer, &digest), event_date, rows, body });
    }
    Ok(files)
}

fn encode(rows: &[AlertRow]) -> Result<Vec<u8>, CuratedError> {
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
    let batch = RecordBatch::try_new(alerts_schema(), columns)?;
    let mut writer = ArrowWriter::try_new(Vec::new(), alerts_schema(), Some(snappy().build()))?;
    writer.write(&batch)?;
    Ok(writer.into_inner()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use chrono::{DateTime, Utc};
    use vigil_domain::alerts::{AlertId, RuleKind, Severity};

    #[test]
    fn the_arrow_schema_has_the_documented_columns_in_order() {
        let names: Vec<String> = alerts_schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, crate::ALERT_COLUMNS.to_vec());
    }

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
