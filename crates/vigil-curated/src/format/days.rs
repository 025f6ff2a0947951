//! Curated days to Parquet: one file per local date of a batch of days, one row
//! per wearer, named and encoded deterministically (see the crate docs).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use super::{Column, CuratedError, write_columns};
use crate::days::{DayFile, DayRow};
use crate::keys::curated_days_key;

/// The curated days schema as files read in Arrow ([`crate::DAY_COLUMNS`]). Counts are
/// INT64 (the day's `u32` counts and `i64` steps all fit, with no conversion
/// that could fail).
pub fn days_schema() -> SchemaRef {
    let int = |name: &str, nullable: bool| Field::new(name, DataType::Int64, nullable);
    Arc::new(Schema::new(vec![
        Field::new("wearer_pseudonym", DataType::Utf8, false),
        Field::new("local_date", DataType::Date32, false),
        Field::new("complete", DataType::Boolean, false),
        int("day_minutes", false),
        int("worn_minutes", false),
        int("sleep_minutes", false),
        int("wake_ups", false),
        Field::new("restlessness", DataType::Float64, true),
        int("steps", false),
        int("active_minutes", false),
        Field::new("resting_hr", DataType::Float64, true),
        int("lowest_spo2", true),
        int("alerts", false),
        int("acked", false),
        int("ack_median_secs", true),
        int("summary_version", false),
        int("computed_after_s", false),
    ]))
}

/// The files of a batch of days (the daily job's one call): one per local
/// date, one row per wearer sorted by pseudonym, keyed by a digest of the
/// bytes under `curated/days/dt=<local date>/`. Should one wearer's day come
/// twice, the later computation (larger `computed_after_s`) is kept. A figure
/// that is not a finite number is refused, naming the column.
pub fn day_files(days: &[DayRow]) -> Result<Vec<DayFile>, CuratedError> {
    let mut by_date: BTreeMap<NaiveDate, Vec<DayRow>> = BTreeMap::new();
    for day in days {
        let finite = [("restlessness", day.restlessness), ("resting_hr", day.resting_hr)];
        if let Some((field, _)) = finite.iter().find(|(_, v)| v.is_some_and(|v| !v.is_finite())) {
            return Err(CuratedError::NotFinite { field, local_date: day.local_date });
        }
        by_date.entry(day.local_date).or_default().push(*day);
    }
    let mut files = Vec::with_capacity(by_date.len());
    for (local_date, mut rows) in by_date {
        // By wearer, the latest computation first; the first of each wearer stays.
        rows.sort_by(|a, b| {
            a.wearer_pseudonym.cmp(&b.wearer_pseudonym).then_with(|| b.computed_after_s.cmp(&a.computed_after_s))
        });
        rows.dedup_by(|later, kept| later.wearer_pseudonym == kept.wearer_pseudonym);
        let body = encode(&rows)?;
        let digest = hex::encode(&Sha256::digest(&body)[..8]);
        files.push(DayFile { key: curated_days_key(local_date, &digest), local_date, rows, body });
    }
    Ok(files)
}

/// Days since 1970-01-01 (Parquet's DATE).
fn date32(date: NaiveDate) -> i32 {
    // A NaiveDate spans ±262,143 years: its day count always fits an i32.
    i32::try_from((date - NaiveDate::default()).num_days()).unwrap_or(i32::MAX)
}

/// The file's columns as Parquet stores them ([`days_schema`] is how they read in Arrow).
const DAYS_MESSAGE: &str = "message days {
    REQUIRED BYTE_ARRAY wearer_pseudonym (STRING);
    REQUIRED INT32 local_date (DATE);
    REQUIRED BOOLEAN complete;
    REQUIRED INT64 day_minutes;
    REQUIRED INT64 worn_minutes;
    REQUIRED INT64 sleep_minutes;
    REQUIRED INT64 wake_ups;
    OPTIONAL DOUBLE restlessness;
    REQUIRED INT64 steps;
    REQUIRED INT64 active_minutes;
    OPTIONAL DOUBLE resting_hr;
    OPTIONAL INT64 lowest_spo2;
    REQUIRED INT64 alerts;
    REQUIRED INT64 acked;
    OPTIONAL INT64 ack_median_secs;
    REQUIRED INT64 summary_version;
    REQUIRED INT64 computed_after_s;
}";

fn encode(rows: &[DayRow]) -> Result<Vec<u8>, CuratedError> {
    let int = |f: fn(&DayRow) -> Option<i64>| Column::Int64(rows.iter().map(f).collect());
    let double = |f: fn(&DayRow) -> Option<f64>| Column::Double(rows.iter().map(f).collect());
    write_columns(
        DAYS_MESSAGE,
        vec![
            Column::Text(rows.iter().map(|r| Some(r.wearer_pseudonym.as_str())).collect()),
            Column::Int32(rows.iter().map(|r| Some(date32(r.local_date))).collect()),
            Column::Bool(rows.iter().map(|r| Some(r.complete)).collect()),
            int(|r| Some(i64::from(r.day_minutes))),
            int(|r| Some(i64::from(r.worn_minutes))),
            int(|r| Some(i64::from(r.sleep_minutes))),
            int(|r| Some(i64::from(r.wake_ups))),
            double(|r| r.restlessness),
            int(|r| Some(r.steps)),
            int(|r| Some(i64::from(r.active_minutes))),
            double(|r| r.resting_hr),
            int(|r| r.lowest_spo2),
            int(|r| Some(i64::from(r.alerts))),
            int(|r| Some(i64::from(r.acked))),
            int(|r| r.ack_median_secs),
            int(|r| Some(i64::from(r.summary_version))),
            int(|r| Some(r.computed_after_s)),
        ],
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Float64Type, Int64Type};

    use super::*;
    use crate::Pseudonymizer;

    fn pseudonymizer() -> Pseudonymizer {
        Pseudonymizer::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn day(p: &Pseudonymizer, wearer: &str, d: u32, steps: i64, computed_after_s: i64) -> DayRow {
        DayRow {
            wearer_pseudonym: p.wearer(wearer),
            local_date: date(d),
            complete: true,
            day_minutes: 1_440,
            worn_minutes: 1_380,
            sleep_minutes: 430,
            wake_ups: 2,
            restlessness: Some(1.5),
            steps,
            active_minutes: 95,
            resting_hr: Some(61.5),
            lowest_spo2: Some(93),
            alerts: 1,
            acked: 1,
            ack_median_secs: Some(240),
            summary_version: 1,
            computed_after_s,
        }
    }

    #[test]
    fn the_arrow_schema_has_the_documented_columns_in_order() {
        let schema = days_schema();
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, crate::DAY_COLUMNS.to_vec());
        let nullable: Vec<&str> =
            schema.fields().iter().filter(|f| f.is_nullable()).map(|f| f.name().as_str()).collect();
        assert_eq!(nullable, ["restlessness", "resting_hr", "lowest_spo2", "ack_median_secs"]);
    }

    #[test]
    fn a_file_reads_back_in_the_arrow_schema() {
        let files = day_files(&[day(&pseudonymizer(), "wearer-42", 21, 4_300, 600)]).unwrap();
        let builder = crate::reader(files[0].body.clone()).unwrap();
        assert_eq!(builder.schema().fields(), days_schema().fields());
    }

    #[test]
    fn a_batch_becomes_one_file_per_local_date_deterministic_and_without_identities() {
        let p = pseudonymizer();
        let days = vec![
            day(&p, "wearer-42", 21, 4_300, 600),
            day(&p, "wearer-7", 21, 8_000, 600),
            day(&p, "wearer-42", 20, 5_100, 600),
        ];
        let files = day_files(&days).unwrap();
        assert_eq!(
            files.iter().map(|f| (f.local_date, f.rows.len())).collect::<Vec<_>>(),
            [(date(20), 1), (date(21), 2)]
        );
        assert!(files[1].key.starts_with("curated/days/dt=2026-11-21/") && files[1].key.ends_with(".parquet"));
        assert_eq!(files[1].key.len(), "curated/days/dt=2026-11-21/".len() + 16 + ".parquet".len(), "{}", files[1].key);
        // Rows by pseudonym; the same batch in another order: same keys, same bytes.
        assert!(files[1].rows[0].wearer_pseudonym < files[1].rows[1].wearer_pseudonym);
        let mut reversed = days.clone();
        reversed.reverse();
        assert_eq!(day_files(&reversed).unwrap(), files);
        // A recomputed day (other figures) goes to another key: never over a
        // file the loader may not have read yet.
        let mut recomputed = days.clone();
        recomputed[0].steps = 4_450;
        recomputed[0].computed_after_s = 86_400;
        assert_ne!(day_files(&recomputed).unwrap()[1].key, files[1].key);
        let text = String::from_utf8_lossy(&files[1].body);
        for secret in ["wearer-42", "wearer-7"] {
            assert!(!text.contains(secret), "{secret} leaked into the file");
        }
        assert!(text.contains(p.wearer("wearer-42").as_str()));

        let registered = files[1].registration(chrono::DateTime::UNIX_EPOCH);
        assert_eq!((registered.event_date, registered.rows, registered.bytes), (date(21), 2, files[1].body.len()));
        assert_eq!(registered.min_ts.to_rfc3339(), "2026-11-21T00:00:00+00:00");
        assert_eq!(registered.max_ts.to_rfc3339(), "2026-11-21T23:59:59.999999+00:00");
    }

    #[test]
    fn one_wearers_day_twice_keeps_the_later_computation_whatever_the_order() {
        let p = pseudonymizer();
        let first = day(&p, "wearer-42", 21, 4_300, 300);
        let later = day(&p, "wearer-42", 21, 4_450, 90_000);
        let a = day_files(&[first, later]).unwrap();
        assert_eq!(a, day_files(&[later, first]).unwrap());
        assert_eq!(a[0].rows, [later]);
    }

    #[test]
    fn the_file_reads_back_with_its_values_and_nulls() {
        let p = pseudonymizer();
        let mut incomplete = day(&p, "wearer-42", 21, 900, 600);
        (incomplete.complete, incomplete.resting_hr, incomplete.lowest_spo2, incomplete.ack_median_secs) =
            (false, None, None, None);
        let file = day_files(&[incomplete]).unwrap().remove(0);
        let batch = crate::read(file.body).unwrap().next().unwrap().unwrap();
        let column = |name: &str| batch.column(batch.schema().index_of(name).unwrap()).clone();
        let date = column("local_date");
        assert_eq!(date.as_primitive::<Date32Type>().value_as_date(0), Some(super::tests::date(21)));
        assert!(!column("complete").as_boolean().value(0));
        assert_eq!(column("steps").as_primitive::<Int64Type>().value(0), 900);
        assert_eq!(column("restlessness").as_primitive::<Float64Type>().value(0), 1.5);
        for nullable in ["resting_hr", "lowest_spo2", "ack_median_secs"] {
            assert!(column(nullable).is_null(0), "{nullable}");
        }
        assert_eq!(column("computed_after_s").as_primitive::<Int64Type>().value(0), 600);
    }

    #[test]
    fn a_figure_that_is_not_a_number_is_refused_by_name() {
        let p = pseudonymizer();
        let mut bad = day(&p, "wearer-42", 21, 900, 600);
        bad.resting_hr = Some(f64::NAN);
        let err = day_files(&[day(&p, "wearer-7", 21, 1, 1), bad]).unwrap_err();
        assert_eq!(err.to_string(), "day 2026-11-21: resting_hr is not a finite number");
        bad.resting_hr = None;
        bad.restlessness = Some(f64::INFINITY);
        assert!(day_files(&[bad]).unwrap_err().to_string().contains("restlessness"));
    }

    #[test]
    fn computed_after_counts_from_the_end_of_the_local_day() {
        let end = chrono::DateTime::parse_from_rfc3339("2026-11-21T23:00:00Z").unwrap().to_utc();
        assert_eq!(DayRow::computed_after(end, end + chrono::Duration::minutes(10)), 600);
        assert_eq!(DayRow::computed_after(end, end - chrono::Duration::seconds(5)), -5);
    }

    #[test]
    fn a_domain_day_becomes_its_row_field_for_field() {
        let p = pseudonymizer();
        let summary = vigil_domain::days::DaySummary {
            date: date(1),
            complete: false,
            day_minutes: 1_500,
            worn_minutes: 700,
            sleep_minutes: 400,
            wake_ups: 3,
            restlessness: None,
            steps: 2_345,
            active_minutes: 40,
            resting_hr: Some(58.5),
            lowest_spo2: Some(91),
            alerts: 2,
            acked: 1,
            ack_median_secs: Some(95),
            version: vigil_domain::days::SUMMARY_VERSION,
        };
        let row = DayRow::new(p.wearer("wearer-42"), &summary, 42);
        let expected = DayRow {
            wearer_pseudonym: p.wearer("wearer-42"),
            local_date: date(1),
            complete: false,
            day_minutes: 1_500,
            worn_minutes: 700,
            sleep_minutes: 400,
            wake_ups: 3,
            restlessness: None,
            steps: 2_345,
            active_minutes: 40,
            resting_hr: Some(58.5),
            lowest_spo2: Some(91),
            alerts: 2,
            acked: 1,
            ack_median_secs: Some(95),
            summary_version: vigil_domain::days::SUMMARY_VERSION,
            computed_after_s: 42,
        };
        assert_eq!(row, expected);
    }
}
