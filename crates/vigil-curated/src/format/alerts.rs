//! Curated alerts to Parquet: the alerts of one wearer's evaluation (or one
//! alert's lifecycle step), one file per wearer and UTC date of `raised_at`,
//! named and encoded deterministically (see the crate docs).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use vigil_domain::lifecycle::AlertRecord;

use super::{Column, CuratedError, utc_micros, write_columns};
use crate::alerts::{AlertFile, AlertRow};
use crate::keys::curated_alerts_key;
use crate::pseudonym::{Pseudonym, Pseudonymizer};

/// The curated alerts schema as files read in Arrow ([`crate::ALERT_COLUMNS`]).
pub fn alerts_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("alert_key", DataType::Utf8, false),
        Field::new("wearer_pseudonym", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("severity", DataType::Utf8, false),
        Field::new("raised_at", utc_micros(), false),
        Field::new("resolved", DataType::Boolean, false),
        Field::new("acknowledged_at", utc_micros(), true),
        Field::new("resolved_at", utc_micros(), true),
        Field::new("outcome", DataType::Utf8, true),
        Field::new("feature", DataType::Utf8, true),
        Field::new("z", DataType::Float64, true),
    ]))
}

/// The files of `records` as they stand: one per wearer and UTC date of
/// `raised_at`, one row per alert sorted by key, named deterministically (see
/// the crate docs). Raised alerts are [`AlertRecord::open`]. Should one alert
/// come twice, the row that knows most is kept (resolved over open,
/// acknowledged over not), whatever the order.
pub fn alert_files(pseudonymizer: &Pseudonymizer, records: &[AlertRecord]) -> Result<Vec<AlertFile>, CuratedError> {
    alert_row_files(records.iter().map(|record| AlertRow::new(pseudonymizer, record)).collect())
}

/// The files of `rows`, as [`alert_files`] makes them: for rows built by hand,
/// such as a baseline deviation's with its feature and z ([`AlertRow::deviation`]).
/// A copy of an alert without them takes them from one that has them.
pub fn alert_row_files(rows: Vec<AlertRow>) -> Result<Vec<AlertFile>, CuratedError> {
    let mut files_rows: BTreeMap<(NaiveDate, Pseudonym), Vec<AlertRow>> = BTreeMap::new();
    for row in rows {
        files_rows.entry((row.raised_at.date_naive(), row.wearer_pseudonym)).or_default().push(row);
    }
    let mut files = Vec::with_capacity(files_rows.len());
    for ((event_date, wearer), mut rows) in files_rows {
        // By key, and within a key the most advanced state first.
        rows.sort_by(|a, b| {
            a.alert_key.cmp(&b.alert_key).then_with(|| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal))
        });
        rows.dedup_by(|later, kept| {
            let same = later.alert_key == kept.alert_key;
            if same && kept.feature.is_none() {
                (kept.feature, kept.z) = (later.feature, later.z);
            }
            same
        });
        let digest = hex::encode(&digest(&rows)[..8]);
        let body = encode(&rows)?;
        files.push(AlertFile { key: curated_alerts_key(event_date, wearer, &digest), event_date, rows, body });
    }
    Ok(files)
}

/// The digest naming a file: every alert key, each followed by its lifecycle
/// when it has one, so each distinct state of an alert gets a file of its own
/// (an earlier file is never overwritten) and the same state always the same
/// name. An open row adds its key alone: a raise file keeps the name it had
/// before the lifecycle columns existed. Times count as stored (microseconds).
fn digest(rows: &[AlertRow]) -> Vec<u8> {
    let micros = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros().to_string()).unwrap_or_default();
    let mut digest = Sha256::new();
    for r in rows {
        digest.update(r.alert_key.as_str());
        if let Some(feature) = r.feature {
            digest
                .update(format!("\0{feature}|{}\0", r.z.map(|z| format!("{:016x}", z.to_bits())).unwrap_or_default()));
        }
        if r.has_lifecycle() {
            digest.update(format!(
                "\0{}|{}|{}|{}\0",
                r.resolved,
                micros(r.acknowledged_at),
                micros(r.resolved_at),
                r.outcome.unwrap_or_default()
            ));
        }
    }
    digest.finalize().to_vec()
}

/// The file's columns as Parquet stores them ([`alerts_schema`] is how they read in Arrow).
const ALERTS_MESSAGE: &str = "message alerts {
    REQUIRED BYTE_ARRAY alert_key (STRING);
    REQUIRED BYTE_ARRAY wearer_pseudonym (STRING);
    REQUIRED BYTE_ARRAY rule (STRING);
    REQUIRED BYTE_ARRAY severity (STRING);
    REQUIRED INT64 raised_at (TIMESTAMP(MICROS,true));
    REQUIRED BOOLEAN resolved;
    OPTIONAL INT64 acknowledged_at (TIMESTAMP(MICROS,true));
    OPTIONAL INT64 resolved_at (TIMESTAMP(MICROS,true));
    OPTIONAL BYTE_ARRAY outcome (STRING);
    OPTIONAL BYTE_ARRAY feature (STRING);
    OPTIONAL DOUBLE z;
}";

fn encode(rows: &[AlertRow]) -> Result<Vec<u8>, CuratedError> {
    let text = |f: fn(&AlertRow) -> Option<&str>| Column::Text(rows.iter().map(f).collect());
    let micros = |f: fn(&AlertRow) -> Option<DateTime<Utc>>| {
        Column::Int64(rows.iter().map(|r| f(r).map(|t| t.timestamp_micros())).collect())
    };
    write_columns(
        ALERTS_MESSAGE,
        vec![
            text(|r| Some(r.alert_key.as_str())),
            text(|r| Some(r.wearer_pseudonym.as_str())),
            text(|r| Some(r.rule)),
            text(|r| Some(r.severity)),
            micros(|r| Some(r.raised_at)),
            Column::Bool(rows.iter().map(|r| Some(r.resolved)).collect()),
            micros(|r| r.acknowledged_at),
            micros(|r| r.resolved_at),
            text(|r| r.outcome),
            text(|r| r.feature),
            Column::Double(rows.iter().map(|r| r.z).collect()),
        ],
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMicrosecondType;
    use arrow_array::{Array, BooleanArray};
    use vigil_domain::alerts::{Alert, AlertId, RuleKind, Severity};
    use vigil_domain::lifecycle::{Outcome, Transition, Via};

    #[test]
    fn the_arrow_schema_has_the_documented_columns_in_order() {
        let schema = alerts_schema();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, crate::ALERT_COLUMNS.to_vec());
        let nullable: Vec<&str> =
            schema.fields().iter().filter(|f| f.is_nullable()).map(|f| f.name().as_str()).collect();
        assert_eq!(nullable, ["acknowledged_at", "resolved_at", "outcome", "feature", "z"]);
    }

    #[test]
    fn a_file_reads_back_in_the_arrow_schema() {
        let sos = alert(RuleKind::Sos, Severity::Critical, "2026-11-22T10:00:00Z");
        let files = alert_files(&pseudonymizer(), &open(&[sos])).unwrap();
        let builder = crate::reader(files[0].body.clone()).unwrap();
        assert_eq!(builder.schema().fields(), alerts_schema().fields());
    }

    fn t(at: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc)
    }

    fn alert(rule: RuleKind, severity: Severity, at: &str) -> Alert {
        let raised_at = t(at);
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

    fn open(alerts: &[Alert]) -> Vec<AlertRecord> {
        alerts.iter().map(|a| AlertRecord::open(a.clone(), false)).collect()
    }

    fn pseudonymizer() -> Pseudonymizer {
        Pseudonymizer::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn files_are_per_date_deterministic_and_carry_no_personal_data() {
        let p = pseudonymizer();
        let alerts = vec![
            alert(RuleKind::Sos, Severity::Critical, "2026-11-22T10:00:00Z"),
            alert(RuleKind::HeartRateHigh, Severity::High, "2026-11-22T11:00:00Z"),
            alert(RuleKind::BatteryLow, Severity::Low, "2026-11-21T23:59:00Z"),
        ];
        let files = alert_files(&p, &open(&alerts)).unwrap();
        assert_eq!(files.len(), 2);
        assert!(files[0].key.starts_with("curated/alerts/dt=2026-11-21/"), "{}", files[0].key);
        assert!(files[1].key.starts_with(&format!("curated/alerts/dt=2026-11-22/{}-", p.wearer("wearer-42"))));
        assert_eq!(files[1].rows.len(), 2);
        assert!(files.iter().flat_map(|f| &f.rows).all(|r| !r.has_lifecycle()));
        // Same alerts in another order: same keys, same bytes.
        let mut reversed = alerts.clone();
        reversed.reverse();
        assert_eq!(alert_files(&p, &open(&reversed)).unwrap(), files);
        // A different set goes elsewhere.
        let fewer = alert_files(&p, &open(&alerts[..1])).unwrap();
        assert_ne!(fewer[0].key, files[1].key);
        // A raise file keeps the name it had before the lifecycle columns: the
        // digest of its alert keys alone.
        let mut keys = Sha256::new();
        for r in &files[1].rows {
            keys.update(r.alert_key.as_str());
        }
        assert!(
            files[1].key.ends_with(&format!("-{}.parquet", hex::encode(&keys.finalize()[..8]))),
            "{}",
            files[1].key
        );
        let text = String::from_utf8_lossy(&files[1].body);
        for secret in ["wearer-42", "40.4168", alerts[0].id.as_str()] {
            assert!(!text.contains(secret), "{secret} leaked into the file");
        }
        assert!(text.contains("heart_rate_high") && text.contains("critical"));
    }

    #[test]
    fn each_lifecycle_state_is_a_file_of_its_own_with_when_and_how_and_never_who() {
        let p = pseudonymizer();
        let sos = alert(RuleKind::Sos, Severity::Critical, "2026-11-22T10:00:00Z");
        let mut record = AlertRecord::open(sos.clone(), false);
        let raised = alert_files(&p, std::slice::from_ref(&record)).unwrap();
        record.apply(Transition::acknowledge("caregiver-ana", t("2026-11-22T10:03:30.000250Z"), Via::Sms), None);
        let acknowledged = alert_files(&p, std::slice::from_ref(&record)).unwrap();
        record.apply(
            Transition::resolve("caregiver-ben", t("2026-11-22T10:20:00Z"), Via::Api, Outcome::FalseAlarm),
            Some("she dropped the band in the sink".into()),
        );
        let resolved = alert_files(&p, std::slice::from_ref(&record)).unwrap();
        let keys = [&raised[0].key, &acknowledged[0].key, &resolved[0].key];
        assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2], "{keys:?}");
        for k in keys {
            assert!(k.starts_with(&format!("curated/alerts/dt=2026-11-22/{}-", p.wearer("wearer-42"))), "{k}");
        }
        // The same state again: the same key and bytes (a retried request).
        assert_eq!(alert_files(&p, std::slice::from_ref(&record)).unwrap(), resolved);

        let row = &resolved[0].rows[0];
        assert_eq!(
            (row.resolved, row.acknowledged_at, row.resolved_at, row.outcome),
            (true, Some(t("2026-11-22T10:03:30.000250Z")), Some(t("2026-11-22T10:20:00Z")), Some("false_alarm"))
        );
        let ack = &acknowledged[0].rows[0];
        assert_eq!((ack.resolved, ack.resolved_at, ack.outcome), (false, None, None));

        // Read back: nulls where the lifecycle has not got to, micros in UTC.
        for (file, expected) in [
            (&raised[0], (false, None, None, None)),
            (&acknowledged[0], (false, Some(1_795_341_810_000_250), None, None)),
            (&resolved[0], (true, Some(1_795_341_810_000_250), Some(1_795_342_800_000_000), Some("false_alarm"))),
        ] {
            let batch = crate::read(file.body.clone()).unwrap().next().unwrap().unwrap();
            let column = |name: &str| batch.column(batch.schema().index_of(name).unwrap()).clone();
            let time = |name: &str| {
                let c = column(name);
                let c = c.as_primitive::<TimestampMicrosecondType>();
                (!c.is_null(0)).then(|| c.value(0))
            };
            let outcome = column("outcome");
            let outcome = outcome.as_string::<i32>();
            let resolved = column("resolved");
            let resolved = resolved.as_any().downcast_ref::<BooleanArray>().unwrap().value(0);
            let got = (
                resolved,
                time("acknowledged_at"),
                time("resolved_at"),
                (!outcome.is_null(0)).then(|| outcome.value(0)),
            );
            assert_eq!(got, expected, "{}", file.key);
        }
        for secret in ["caregiver-ana", "caregiver-ben", "sink", "sms", "\"api\""] {
            assert!(!String::from_utf8_lossy(&resolved[0].body).contains(secret), "{secret} leaked into the file");
        }

        // The rules' own resolution: resolved_at and outcome `cleared`.
        let mut cleared = AlertRecord::open(sos, false);
        cleared.apply(Transition::cleared(t("2026-11-22T10:05:00Z")), None);
        let file = alert_files(&p, std::slice::from_ref(&cleared)).unwrap();
        assert_eq!(
            (file[0].rows[0].resolved_at, file[0].rows[0].outcome),
            (Some(t("2026-11-22T10:05:00Z")), Some("cleared"))
        );
        assert_ne!(file[0].key, resolved[0].key);
    }

    #[test]
    fn one_alert_twice_keeps_the_most_advanced_row_whatever_the_order() {
        let p = pseudonymizer();
        let sos = alert(RuleKind::Sos, Severity::Critical, "2026-11-22T10:00:00Z");
        let open = AlertRecord::open(sos.clone(), false);
        let mut done = open.clone();
        done.apply(Transition::cleared(t("2026-11-22T10:05:00Z")), None);
        let a = alert_files(&p, &[open.clone(), done.clone()]).unwrap();
        let b = alert_files(&p, &[done.clone(), open]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].rows.len(), 1);
        assert!(a[0].rows[0].resolved);
        assert_eq!(a, alert_files(&p, &[done]).unwrap());
    }

    #[test]
    fn a_deviation_row_carries_its_feature_and_z_and_names_a_file_of_its_own() {
        let p = pseudonymizer();
        let trend = alert(RuleKind::HeartRateHigh, Severity::Low, "2026-11-22T23:00:00Z");
        let plain = AlertRow::new(&p, &AlertRecord::open(trend.clone(), false));
        let with = plain.clone().deviation("steps", -3.25);
        let files = alert_row_files(vec![with.clone()]).unwrap();
        assert_ne!(files[0].key, alert_row_files(vec![plain.clone()]).unwrap()[0].key);
        let batch = crate::read(files[0].body.clone()).unwrap().next().unwrap().unwrap();
        let column = |name: &str| batch.column(batch.schema().index_of(name).unwrap()).clone();
        assert_eq!(column("feature").as_string::<i32>().value(0), "steps");
        assert_eq!(column("z").as_primitive::<arrow_array::types::Float64Type>().value(0), -3.25);
        // Other alerts: both null.
        let other = alert_files(&p, &open(&[trend])).unwrap();
        let batch = crate::read(other[0].body.clone()).unwrap().next().unwrap().unwrap();
        assert!(batch.column(9).is_null(0) && batch.column(10).is_null(0));
        // A more advanced copy without them (acknowledged) takes them from the one that has them.
        let mut acknowledged = plain;
        acknowledged.acknowledged_at = Some(t("2026-11-23T08:00:00Z"));
        let merged = alert_row_files(vec![with, acknowledged.clone()]).unwrap();
        assert_eq!(merged[0].rows, [acknowledged.deviation("steps", -3.25)]);
    }
}
