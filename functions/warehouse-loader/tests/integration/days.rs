//! Integration: wearer-local days and baseline deviations on real parts — curated
//! files written by `vigil_curated::day_files` and `alert_row_files` into S3 and
//! registered in the curated-files table (moto's server), loaded by the loader into
//! a real PostgreSQL 15, then read through the analysts' views with exact figures.
//! Same services as `postgres.rs` (`make test` starts both).

use chrono::{DateTime, NaiveDate, Utc};
use vigil_aws::archive::S3ObjectStore;
use vigil_aws::curated_files::DynamoCuratedFiles;
use vigil_curated::{AlertRow, DayRow, PARQUET_CONTENT_TYPE, alert_row_files, day_files};
use vigil_domain::alerts::{Alert, AlertId, RuleKind};
use vigil_domain::lifecycle::{AlertRecord, Transition, Via};
use vigil_domain::ports::{CuratedFile, CuratedFileRegistry, ObjectStore};

use crate::postgres::{Setup, at, now};

fn date(d: &str) -> NaiveDate {
    d.parse().unwrap()
}

/// A complete day of `wearer` with `steps`, computed 10 minutes after its end.
fn day(s: &Setup, wearer: &str, d: &str, steps: i64) -> DayRow {
    DayRow {
        wearer_pseudonym: s.wearer(wearer),
        local_date: date(d),
        complete: true,
        day_minutes: 1_440,
        worn_minutes: 1_380,
        sleep_minutes: 420,
        wake_ups: 2,
        restlessness: Some(1.25),
        steps,
        active_minutes: 90,
        resting_hr: Some(60.0),
        lowest_spo2: Some(94),
        alerts: 0,
        acked: 0,
        ack_median_secs: None,
        summary_version: 1,
        computed_after_s: 600,
    }
}

/// Stores and registers a curated file, as the daily job and the alert path do.
async fn store(s: &Setup, file: CuratedFile, body: Vec<u8>) {
    S3ObjectStore::new(vigil_aws::sdk::s3(&s.sdk), &s.resources.data_bucket)
        .put(&file.key, body, PARQUET_CONTENT_TYPE)
        .await
        .unwrap();
    let registry = DynamoCuratedFiles::new(vigil_aws::sdk::dynamodb(&s.sdk), &s.resources.curated_files_table);
    assert!(registry.register(&file).await.unwrap(), "{} registered twice", file.key);
}

/// Writes a batch of days (the daily job's one call), one file per local date.
async fn store_days(s: &Setup, days: &[DayRow]) -> Vec<String> {
    let mut keys = Vec::new();
    for file in day_files(days).unwrap() {
        keys.push(file.key.clone());
        store(s, file.registration(now()), file.body).await;
    }
    keys
}

/// (steps, complete, computed_after_s) of one stored day.
async fn stored_day(s: &Setup, wearer: &str, d: &str) -> (i64, bool, i64) {
    let row = s
        .db()
        .await
        .query_one(
            "SELECT steps, complete, computed_after_s FROM wearer_days WHERE wearer_pseudonym = $1 AND local_date = \
             $2",
            &[&s.wearer(wearer).to_string(), &date(d)],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test]
async fn days_load_once_per_wearer_and_local_date_and_the_later_computation_replaces_a_day() {
    let s = Setup::new().await;
    // w1's week of Monday 2026-11-16: six complete days, and Thursday worn 6 h
    // only (incomplete, 900 steps). w2: one day the same week.
    let steps = [4_000, 5_000, 6_000, 900, 4_500, 5_500, 5_000];
    let mut days: Vec<DayRow> =
        steps.iter().enumerate().map(|(i, n)| day(&s, "w1", &format!("2026-11-{}", 16 + i), *n)).collect();
    days[3].complete = false;
    days[3].worn_minutes = 360;
    days[3].resting_hr = None;
    days.push(day(&s, "w2", "2026-11-18", 12_000));
    let keys = store_days(&s, &days).await;
    assert_eq!(keys.len(), 7, "one file per local date: {keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("curated/days/dt=2026-11-")), "{keys:?}");

    let loader = s.loader(200);
    let first = loader.run(now()).await.unwrap();
    assert_eq!((first.files_loaded, first.rows_staged, first.rows_merged), (7, 8, 8));
    assert_eq!(s.count("SELECT COUNT(*) FROM wearer_days").await, 8);

    // Late readings for Tuesday: the job recomputes it a day later (more steps).
    // A retry of the first computation lands after it, and both come again in
    // one load with a third copy: the latest computation stands every time.
    let mut recomputed = day(&s, "w1", "2026-11-17", 5_600);
    recomputed.computed_after_s = 86_400 + 600;
    store_days(&s, &[recomputed]).await;
    let second = loader.run(now()).await.unwrap();
    assert_eq!((second.files_loaded, second.rows_merged), (1, 1));
    assert_eq!(stored_day(&s, "w1", "2026-11-17").await, (5_600, true, 87_000));
    let mut stale = day(&s, "w1", "2026-11-17", 5_000);
    stale.computed_after_s = 300;
    store_days(&s, &[stale]).await;
    loader.run(now()).await.unwrap();
    assert_eq!(stored_day(&s, "w1", "2026-11-17").await, (5_600, true, 87_000), "an older computation never wins");
    let mut latest = day(&s, "w1", "2026-11-17", 5_700);
    latest.computed_after_s = 2 * 86_400;
    let mut older = day(&s, "w1", "2026-11-17", 5_650);
    older.computed_after_s = 86_400 + 900;
    store_days(&s, &[latest]).await;
    store_days(&s, &[older]).await;
    let fourth = loader.run(now()).await.unwrap();
    assert_eq!((fourth.files_loaded, fourth.rows_staged, fourth.rows_merged), (2, 2, 1));
    assert_eq!(stored_day(&s, "w1", "2026-11-17").await, (5_700, true, 172_800));
    assert_eq!(s.count("SELECT COUNT(*) FROM wearer_days").await, 8, "replaced, never duplicated");

    // Per wearer-local day: the incomplete Thursday is shown as such.
    let db = s.db().await;
    let w1 = s.wearer("w1").to_string();
    let rows = db
        .query(
            "SELECT day, complete, hours_worn, hours_asleep, steps, resting_heart_rate FROM daily_summary_local WHERE \
             wearer_pseudonym = $1 ORDER BY day",
            &[&w1],
        )
        .await
        .unwrap();
    type Local = (NaiveDate, bool, f64, f64, i64, Option<f64>);
    let rows: Vec<Local> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))).collect();
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[3], (date("2026-11-19"), false, 6.0, 7.0, 900, None));
    assert_eq!(rows[1], (date("2026-11-17"), true, 23.0, 7.0, 5_700, Some(60.0)));

    // Per week: 7 days, 6 complete; averages over the complete days only:
    // steps (4000 + 5700 + 6000 + 4500 + 5500 + 5000) / 6 = 5116.67, not / 7 with 900.
    let week = db
        .query_one(
            "SELECT week, days, complete_days, steps_avg, hours_asleep_avg, resting_heart_rate_avg FROM \
             weekly_summary_local WHERE wearer_pseudonym = $1",
            &[&w1],
        )
        .await
        .unwrap();
    let (week_start, n, complete): (NaiveDate, i64, i64) = (week.get(0), week.get(1), week.get(2));
    let (steps_avg, asleep_avg, hr_avg): (f64, f64, f64) = (week.get(3), week.get(4), week.get(5));
    assert_eq!((week_start, n, complete), (date("2026-11-16"), 7, 6));
    assert!((steps_avg - 30_700.0 / 6.0).abs() < 1e-9, "{steps_avg}");
    assert_eq!((asleep_avg, hr_avg), (7.0, 60.0));
    let w2: (i64, f64) = {
        let r = db
            .query_one(
                "SELECT complete_days, steps_avg FROM weekly_summary_local WHERE wearer_pseudonym = $1",
                &[&s.wearer("w2").to_string()],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(w2, (1, 12_000.0));
    // No local day leaks into the UTC view, which analysts' queries keep reading.
    assert_eq!(s.count("SELECT COUNT(*) FROM daily_summary").await, 0);
    s.finish().await;
}

/// A `baseline_deviation` alert of `wearer` raised at `ts`.
fn deviation(wearer: &str, ts: &str) -> Alert {
    let raised_at = at(ts);
    Alert {
        id: AlertId::new(wearer, RuleKind::BaselineDeviation, raised_at),
        wearer_id: wearer.into(),
        rule: RuleKind::BaselineDeviation,
        severity: RuleKind::BaselineDeviation.severity(),
        episode_start: raised_at,
        raised_at,
        readings: Vec::new(),
        location: None,
        value: None,
    }
}

async fn store_alerts(s: &Setup, rows: Vec<AlertRow>) {
    for file in alert_row_files(rows).unwrap() {
        let times = file.rows.iter().map(|r| r.raised_at);
        let (min_ts, max_ts): (DateTime<Utc>, DateTime<Utc>) = (times.clone().min().unwrap(), times.max().unwrap());
        let registered = CuratedFile {
            key: file.key.clone(),
            event_date: file.event_date,
            rows: file.rows.len(),
            bytes: file.body.len(),
            min_ts,
            max_ts,
            created_at: now(),
        };
        store(s, registered, file.body).await;
    }
}

#[tokio::test]
async fn baseline_deviations_give_per_feature_and_week_counts_wearers_and_median_z() {
    let s = Setup::new().await;
    let p = &s.pseudonymizer;
    let row = |a: &Alert| AlertRow::new(p, &AlertRecord::open(a.clone(), false));
    // Week of 2026-11-16: steps fell for w1 (z −3.5, then a second episode
    // −5.0) and w2 (−4.0); w1's resting heart rate rose (z 3.2). Week of
    // 2026-11-23: w2's steps again (−3.1). A heart-rate alarm is no deviation.
    let steps_w1 = deviation("w1", "2026-11-17T23:00:00Z");
    let steps_w1_again = deviation("w1", "2026-11-21T23:00:00Z");
    let steps_w2 = deviation("w2", "2026-11-18T22:00:00Z");
    let hr_w1 = deviation("w1", "2026-11-19T23:00:00Z");
    let steps_w2_next = deviation("w2", "2026-11-24T22:00:00Z");
    let mut alarm = deviation("w1", "2026-11-18T10:00:00Z");
    alarm.rule = RuleKind::HeartRateHigh;
    alarm.id = AlertId::new("w1", RuleKind::HeartRateHigh, alarm.raised_at);
    store_alerts(
        &s,
        vec![
            row(&steps_w1).deviation("steps", -3.5),
            row(&steps_w1_again).deviation("steps", -5.0),
            row(&steps_w2).deviation("steps", -4.0),
            row(&hr_w1).deviation("resting_heart_rate", 3.2),
            row(&steps_w2_next).deviation("steps", -3.1),
            row(&alarm),
        ],
    )
    .await;
    // The same load: w2's first deviation acknowledged by a caregiver, a copy
    // without feature or z (care-api's), which must not lose them.
    let mut acked = AlertRecord::open(steps_w2.clone(), false);
    assert!(acked.apply(Transition::acknowledge("cg-ana", at("2026-11-19T08:00:00Z"), Via::Api), None));
    store_alerts(&s, vec![AlertRow::new(p, &acked)]).await;

    let report = s.loader(200).run(now()).await.unwrap();
    assert_eq!((report.rows_staged, report.rows_merged), (7, 6));
    let rows = s
        .db()
        .await
        .query(
            "SELECT rule, feature, week, deviations, wearers, median_z, acknowledged FROM baseline_deviations ORDER \
             BY week, feature",
            &[],
        )
        .await
        .unwrap();
    type View = (String, String, NaiveDate, i64, i64, f64, i64);
    let rows: Vec<View> =
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6))).collect();
    let bd = || "baseline_deviation".to_owned();
    assert_eq!(
        rows,
        vec![
            (bd(), "resting_heart_rate".into(), date("2026-11-16"), 1, 1, 3.2, 0),
            (bd(), "steps".into(), date("2026-11-16"), 3, 2, -4.0, 1),
            (bd(), "steps".into(), date("2026-11-23"), 1, 1, -3.1, 0),
        ]
    );
    // The acknowledged copy kept its feature and z; other alerts have none.
    let key = p.alert(steps_w2.id.as_str()).to_string();
    let (feature, z): (Option<String>, Option<f64>) = {
        let r = s.db().await.query_one("SELECT feature, z FROM alerts WHERE alert_key = $1", &[&key]).await.unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((feature.as_deref(), z), (Some("steps"), Some(-4.0)));
    assert_eq!(s.count("SELECT COUNT(*) FROM alerts WHERE feature IS NULL AND z IS NULL").await, 1);
    s.finish().await;
}

#[tokio::test]
async fn an_erased_wearer_loses_their_days_too() {
    let s = Setup::new().await;
    store_days(
        &s,
        &[day(&s, "w1", "2026-11-20", 4_000), day(&s, "w1", "2026-11-21", 4_100), day(&s, "w2", "2026-11-21", 9_000)],
    )
    .await;
    s.loader(200).run(now()).await.unwrap();
    let w1 = s.wearer("w1").to_string();
    let mut db = s.db().await;
    let before = vigil_warehouse::erasure::count(&db, &w1).await.unwrap();
    assert_eq!(before, vec![("readings", 0), ("alerts", 0), ("wearer_days", 2)]);
    let erased = vigil_warehouse::erasure::erase(&mut db, &w1).await.unwrap();
    assert_eq!(erased, before);
    assert_eq!(
        vigil_warehouse::erasure::count(&db, &w1).await.unwrap(),
        vec![("readings", 0), ("alerts", 0), ("wearer_days", 0)]
    );
    assert_eq!(s.count("SELECT COUNT(*) FROM daily_summary_local").await, 1, "w2's day stays");
    assert_eq!(s.count("SELECT COUNT(*) FROM weekly_summary_local").await, 1);
    s.finish().await;
}
