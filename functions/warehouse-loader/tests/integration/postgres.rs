//! Integration: the loader end to end on real parts — curated Parquet written by
//! `vigil_curated::CuratedWriter` (raw-archiver's) into S3 and registered in the curated-files table (moto's
//! server at AWS_ENDPOINT_URL), loaded into a real PostgreSQL 15 (VIGIL_PG_URL,
//! default postgres://postgres@127.0.0.1:5433/postgres), each test in its own
//! database and its own bucket and table.
//!
//! Start both with `bash localstack/endpoint.sh start` and `bash scripts/pg.sh start`
//! (`make test` does). Without them these tests fail and say so.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tokio_postgres::NoTls;
use vigil_aws::archive::S3ObjectStore;
use vigil_aws::curated_files::DynamoCuratedFiles;
use vigil_curated::{CuratedRow, CuratedWriter, PARQUET_CONTENT_TYPE, Pseudonym, Pseudonymizer};
use vigil_domain::ReadingId;
use vigil_domain::lifecycle::{AlertRecord, Outcome, Transition, Via};
use vigil_domain::ports::{CuratedFile, CuratedFileRegistry, ObjectStore};
use vigil_domain::reading::SleepStage;
use vigil_local::provision::{Resources, provision};
use warehouse_loader::{PostgresLoader, postgres_loader};

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5433/postgres";

fn pg_url() -> String {
    std::env::var("VIGIL_PG_URL").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| DEFAULT_PG_URL.to_owned())
}

/// A fresh database on the test server, or a panic that says how to start one.
pub(crate) async fn fresh_database() -> String {
    let admin_url = pg_url();
    let (admin, connection) = match tokio_postgres::connect(&admin_url, NoTls).await {
        Ok(c) => c,
        Err(e) => panic!(
            "no PostgreSQL answers at {admin_url} ({e}). Start it with `bash scripts/pg.sh start` and \
             `eval \"$(bash scripts/pg.sh env)\"`, or set VIGIL_PG_URL"
        ),
    };
    tokio::spawn(connection);
    let name = vigil_local::endpoint::unique_name("vigil_test").replace('-', "_").to_lowercase();
    admin.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

pub(crate) struct Setup {
    pub(crate) sdk: aws_config::SdkConfig,
    pub(crate) resources: Resources,
    pub(crate) db_url: String,
    pub(crate) pseudonymizer: Pseudonymizer,
}

impl Setup {
    pub(crate) async fn new() -> Self {
        let sdk = vigil_local::endpoint::require().await;
        let resources = Resources::unique("wh");
        provision(&sdk, &resources).await.unwrap();
        Self { sdk, resources, db_url: fresh_database().await, pseudonymizer: Pseudonymizer::new(KEY).unwrap() }
    }

    pub(crate) fn loader(&self, max_files: usize) -> PostgresLoader {
        let max_files = max_files.to_string();
        let env = [
            ("DATA_BUCKET", self.resources.data_bucket.as_str()),
            ("CURATED_FILES_TABLE", self.resources.curated_files_table.as_str()),
            ("LOAD_MAX_FILES", max_files.as_str()),
            ("LOAD_BUDGET_MS", "30000"),
        ];
        postgres_loader(&self.sdk, &env, &self.db_url).unwrap()
    }

    /// The loader with `WAREHOUSE_RETENTION_DAYS` set to `days`.
    fn loader_keeping(&self, days: u32) -> PostgresLoader {
        let days = days.to_string();
        let env = [
            ("DATA_BUCKET", self.resources.data_bucket.as_str()),
            ("CURATED_FILES_TABLE", self.resources.curated_files_table.as_str()),
            ("WAREHOUSE_RETENTION_DAYS", days.as_str()),
        ];
        postgres_loader(&self.sdk, &env, &self.db_url).unwrap()
    }

    pub(crate) async fn db(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.db_url, NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    /// Drops the test's database (each is ~8 MB; the server's data directory
    /// outlives the tests). Left in place when a test fails, for a look inside.
    pub(crate) async fn finish(self) {
        let (admin, connection) = tokio_postgres::connect(&pg_url(), NoTls).await.unwrap();
        tokio::spawn(connection);
        let name = self.db_url.rsplit_once('/').unwrap().1;
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
    }

    pub(crate) fn wearer(&self, id: &str) -> Pseudonym {
        self.pseudonymizer.wearer(id)
    }

    /// A reading of `wearer` with band counter `seq` at `ts`.
    fn row(&self, wearer: &str, seq: u64, ts: DateTime<Utc>) -> CuratedRow {
        CuratedRow {
            reading_key: self.pseudonymizer.reading(ReadingId::new(&format!("band-{wearer}"), seq)),
            wearer_pseudonym: self.wearer(wearer),
            ts,
            received_at: ts + chrono::Duration::seconds(30),
            heart_rate_bpm: None,
            spo2_pct: None,
            skin_temp_c: None,
            steps: None,
            activity: None,
            sleep_stage: None,
            fall_detected: None,
            fall_cancelled: None,
            sos: None,
            battery_pct: None,
            worn: Some(true),
        }
    }

    /// Writes `rows` (one event date) as a curated file at `name` and registers it.
    async fn put_file(&self, name: &str, rows: &[CuratedRow], created_at: DateTime<Utc>) -> String {
        let mut writer = CuratedWriter::new();
        for row in rows {
            writer.push(row).unwrap();
        }
        let mut encoded = writer.finish().unwrap();
        assert_eq!(encoded.len(), 1, "one event date per test file");
        let file = encoded.remove(0);
        let key = format!("curated/readings/dt={}/{name}.parquet", file.event_date);
        let bytes = file.body.len();
        S3ObjectStore::new(vigil_aws::sdk::s3(&self.sdk), &self.resources.data_bucket)
            .put(&key, file.body, PARQUET_CONTENT_TYPE)
            .await
            .unwrap();
        let registry =
            DynamoCuratedFiles::new(vigil_aws::sdk::dynamodb(&self.sdk), &self.resources.curated_files_table);
        let registered = registry
            .register(&CuratedFile {
                key: key.clone(),
                event_date: file.event_date,
                rows: file.rows,
                bytes,
                min_ts: file.min_ts,
                max_ts: file.max_ts,
                created_at,
            })
            .await
            .unwrap();
        assert!(registered);
        key
    }

    /// Status of every registered file: key → status.
    pub(crate) async fn statuses(&self) -> Vec<(String, String)> {
        self.registry().await.into_iter().map(|(key, status, _)| (key, status)).collect()
    }

    /// Every registry item: key, status and TTL (`expires_at`, epoch seconds).
    async fn registry(&self) -> Vec<(String, String, Option<i64>)> {
        let out = vigil_aws::sdk::dynamodb(&self.sdk)
            .scan()
            .table_name(&self.resources.curated_files_table)
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        let mut all: Vec<(String, String, Option<i64>)> = out
            .items()
            .iter()
            .map(|i| {
                let expires = i.get("expires_at").map(|v| v.as_n().unwrap().parse().unwrap());
                (i["file_key"].as_s().unwrap().clone(), i["status"].as_s().unwrap().clone(), expires)
            })
            .collect();
        all.sort();
        all
    }

    /// Marks `key` pending again, as if a run had crashed after loading it.
    async fn reset_pending(&self, key: &str) {
        vigil_aws::sdk::dynamodb(&self.sdk)
            .update_item()
            .table_name(&self.resources.curated_files_table)
            .key("file_key", aws_sdk_dynamodb::types::AttributeValue::S(key.into()))
            .update_expression("SET #s = :p REMOVE expires_at")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":p", aws_sdk_dynamodb::types::AttributeValue::S("pending".into()))
            .send()
            .await
            .unwrap();
    }

    pub(crate) async fn count(&self, sql: &str) -> i64 {
        self.db().await.query_one(sql, &[]).await.unwrap().get(0)
    }
}

pub(crate) fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

#[tokio::test]
async fn the_same_files_twice_and_overlapping_files_give_one_row_per_distinct_reading() {
    let s = Setup::new().await;
    let t = |m: i64| at("2026-11-22T09:00:00Z") + chrono::Duration::minutes(m);
    // File b overlaps a (readings 3 and 4, as a retried batch would), and
    // carries reading 5 twice-received: once in a, once (later) in b.
    let a: Vec<CuratedRow> = (1..=5).map(|seq| s.row("w1", seq, t(seq as i64))).collect();
    let mut b: Vec<CuratedRow> = (3..=8).map(|seq| s.row("w1", seq, t(seq as i64))).collect();
    b[2].received_at += chrono::Duration::hours(1);
    let ka = s.put_file("shard-1-1-5", &a, now()).await;
    let kb = s.put_file("shard-1-3-8", &b, now() + chrono::Duration::seconds(1)).await;

    let loader = s.loader(200);
    let first = loader.run(now()).await.unwrap();
    assert_eq!((first.files_pending, first.files_loaded), (2, 2));
    assert_eq!(first.rows_staged, 11, "5 + 6 rows read");
    assert_eq!(first.rows_merged, 8, "one MERGE row per distinct reading");
    assert_eq!(first.migrations_applied, (1..=9).collect::<Vec<u32>>());
    assert_eq!(s.count("SELECT COUNT(*) FROM readings").await, 8);
    assert_eq!(s.count("SELECT COUNT(DISTINCT reading_key) FROM readings").await, 8);
    // Reading 5 keeps its first acceptance time.
    let key5 = s.pseudonymizer.reading(ReadingId::new("band-w1", 5)).to_string();
    let received: DateTime<Utc> = s
        .db()
        .await
        .query_one("SELECT received_at FROM readings WHERE reading_key = $1", &[&key5])
        .await
        .unwrap()
        .get(0);
    assert_eq!(received, a[4].received_at);

    // Loaded items expire 30 days (LOADED_FILES_TTL_DAYS) after their load, as
    // DynamoDB TTL reads it; pending ones carry no expiry.
    let expiry = (now() + chrono::Duration::days(30)).timestamp();
    let ttl: Vec<(String, Option<i64>)> = s.registry().await.into_iter().map(|(_, st, ttl)| (st, ttl)).collect();
    assert_eq!(ttl, vec![("loaded".into(), Some(expiry)); 2]);

    // Nothing pending: a second run loads nothing.
    let idle = loader.run(now()).await.unwrap();
    assert_eq!((idle.files_pending, idle.rows_merged), (0, 0));

    // Both files again (a crash after the load, before the marks): still 8 rows.
    s.reset_pending(&ka).await;
    s.reset_pending(&kb).await;
    let again = loader.run(now()).await.unwrap();
    assert_eq!((again.files_loaded, again.rows_staged), (2, 11));
    assert_eq!(s.count("SELECT COUNT(*) FROM readings").await, 8);
    assert!(again.migrations_applied.is_empty());
    assert_eq!(s.statuses().await.iter().filter(|(_, st)| st == "loaded").count(), 2);
    s.finish().await;
}

#[tokio::test]
async fn a_load_deletes_the_rows_older_than_the_retention_in_its_transaction() {
    let s = Setup::new().await;
    // At 2026-11-22 12:00 UTC, 365 days keep 2025-11-22 00:00 UTC onward.
    let old = s.row("w1", 1, at("2025-11-21T23:59:59Z"));
    let first_kept = s.row("w1", 2, at("2025-11-22T00:00:00Z"));
    let recent = s.row("w2", 3, at("2026-11-22T09:00:00Z"));
    s.put_file("old", std::slice::from_ref(&old), now()).await;
    s.put_file("edge", std::slice::from_ref(&first_kept), now()).await;
    s.put_file("recent", std::slice::from_ref(&recent), now()).await;
    let everything = s.loader_keeping(3_650).run(now()).await.unwrap();
    assert_eq!((everything.files_loaded, everything.rows_merged, everything.rows_expired), (3, 3, 0));

    s.put_file("later", &[s.row("w2", 4, at("2026-11-22T10:00:00Z"))], now() + chrono::Duration::seconds(1)).await;
    let year = s.loader(200).run(now()).await.unwrap();
    assert_eq!((year.files_loaded, year.rows_merged, year.rows_expired), (1, 1, 1), "the default keeps 365 days");
    let keys: Vec<String> = s
        .db()
        .await
        .query("SELECT reading_key FROM readings ORDER BY ts", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect();
    let expected: Vec<String> = [2, 3, 4]
        .map(|seq| {
            s.pseudonymizer.reading(ReadingId::new(&format!("band-w{}", 1 + u8::from(seq > 2)), seq)).to_string()
        })
        .into();
    assert_eq!(keys, expected, "only the reading from before the cut is gone");

    // The other tables' cuts run on PostgreSQL as written (a date column, a time column).
    let db = s.db().await;
    let day = NaiveDate::from_ymd_opt(2025, 11, 22).unwrap();
    for table in [&vigil_warehouse::sql::ALERTS, &vigil_warehouse::sql::WEARER_DAYS] {
        assert_eq!(db.execute(&vigil_warehouse::sql::expire_statement(table, day), &[]).await.unwrap(), 0);
    }
    s.finish().await;
}

#[tokio::test]
async fn the_pending_lookup_is_bounded_and_oldest_first_and_late_files_land_in_their_day() {
    let s = Setup::new().await;
    // Registered in this order: two of today, then a late one from two days ago
    // (a phone that was offline uploads late; its file is dated by event time).
    let today = s.put_file("today-1", &[s.row("w1", 1, at("2026-11-22T08:00:00Z"))], now()).await;
    let today2 = s
        .put_file("today-2", &[s.row("w1", 2, at("2026-11-22T08:00:05Z"))], now() + chrono::Duration::seconds(1))
        .await;
    let late = s
        .put_file(
            "late",
            &[s.row("w1", 3, at("2026-11-20T23:59:59Z")), s.row("w1", 4, at("2026-11-20T23:00:00Z"))],
            now() + chrono::Duration::seconds(2),
        )
        .await;
    assert!(late.starts_with("curated/readings/dt=2026-11-20/"), "{late}");

    let loader = s.loader(2);
    let first = loader.run(now()).await.unwrap();
    assert_eq!((first.files_pending, first.files_loaded), (2, 2), "LOAD_MAX_FILES bounds a run");
    let statuses = s.statuses().await;
    assert!(statuses.contains(&(today.clone(), "loaded".into())) && statuses.contains(&(today2, "loaded".into())));
    assert!(statuses.contains(&(late.clone(), "pending".into())), "the newest registration waits: {statuses:?}");
    let waiting = s.registry().await.into_iter().find(|(key, _, _)| *key == late).unwrap();
    assert_eq!(waiting.2, None, "a pending file never expires");

    assert_eq!(first.oldest_pending_age_s, 0, "registered as the run began");
    // A quarter of an hour later the file left behind is the backlog's oldest.
    let second = loader.run(now() + chrono::Duration::minutes(15)).await.unwrap();
    assert_eq!((second.files_pending, second.files_loaded, second.rows_merged), (1, 1, 2));
    assert_eq!(second.oldest_pending_age_s, 15 * 60 - 2, "registered 2 s after the first run's time");
    let days: Vec<(NaiveDate, i64)> = s
        .db()
        .await
        .query("SELECT day, readings FROM daily_summary ORDER BY day", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        days,
        vec![(NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), 2), (NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), 2)]
    );
    s.finish().await;
}

#[tokio::test]
async fn the_daily_summary_gives_the_expected_figures_for_a_known_data_set() {
    let s = Setup::new().await;
    let day = |h: u32, m: u32, sec: u32| Utc.with_ymd_and_hms(2026, 11, 21, h, m, sec).unwrap();
    // w1 on 2026-11-21: heart rate 60, 70, 71, (none); steps 10, 20, 0, 5;
    // 720 readings asleep (1 hour at one reading per 5 s) of which 360 deep.
    let mut rows = Vec::new();
    for (i, (hr, steps)) in [(Some(60), 10), (Some(70), 20), (Some(71), 0), (None, 5)].into_iter().enumerate() {
        let mut r = s.row("w1", i as u64 + 1, day(9, 0, i as u32 * 5));
        r.heart_rate_bpm = hr;
        r.steps = Some(steps);
        rows.push(r);
    }
    for i in 0..720u64 {
        let ts = day(1, 0, 0) + chrono::Duration::seconds(5 * i as i64);
        let mut r = s.row("w1", 1_000 + i, ts);
        r.sleep_stage = Some(if i % 2 == 0 { SleepStage::Deep } else { SleepStage::Light });
        rows.push(r);
    }
    // One awake reading: not sleep.
    let mut awake = s.row("w1", 5_000, day(7, 0, 0));
    awake.sleep_stage = Some(SleepStage::Awake);
    rows.push(awake);
    // w2 the same day, one reading, so per-wearer grouping is checked.
    let mut other = s.row("w2", 1, day(12, 0, 0));
    other.heart_rate_bpm = Some(100);
    rows.push(other);
    s.put_file("known", &rows, now()).await;
    s.loader(200).run(now()).await.unwrap();

    // Alerts inserted directly (the loader's alert path is covered by
    // alert_files_load_into_the_alerts_fact_table_once).
    let db = s.db().await;
    let (w1, w2) = (s.wearer("w1").to_string(), s.wearer("w2").to_string());
    for (key, wearer, severity, at) in [
        ("a1", &w1, "critical", "2026-11-21T10:00:00Z"),
        ("a2", &w1, "high", "2026-11-21T11:00:00Z"),
        ("a3", &w1, "high", "2026-11-21T23:59:59Z"),
        ("a4", &w1, "low", "2026-11-22T00:00:00Z"),
    ] {
        db.execute(
            "INSERT INTO alerts VALUES (rpad($1, 32, '0'), $2, 'rule', $3, $4::text::timestamptz, false)",
            &[&key, wearer, &severity, &at],
        )
        .await
        .unwrap();
    }
    let row = db
        .query_one(
            "SELECT readings, heart_rate_min, heart_rate_avg, heart_rate_max, steps, hours_asleep, alerts_critical, \
             alerts_high, alerts_medium, alerts_low FROM daily_summary WHERE wearer_pseudonym = $1 AND day = \
             '2026-11-21'",
            &[&w1],
        )
        .await
        .unwrap();
    let readings: i64 = row.get(0);
    let (min, avg, max): (i32, f64, i32) = (row.get(1), row.get(2), row.get(3));
    let (steps, asleep): (i64, f64) = (row.get(4), row.get(5));
    let alerts: (i64, i64, i64, i64) = (row.get(6), row.get(7), row.get(8), row.get(9));
    assert_eq!(readings, 4 + 720 + 1);
    assert_eq!((min, max), (60, 71));
    assert!((avg - 67.0).abs() < 1e-9, "avg of 60, 70, 71 is 67 (nulls ignored), got {avg}");
    assert_eq!(steps, 35);
    assert!((asleep - 1.0).abs() < 1e-9, "720 readings × 5 s = 1 h, got {asleep}");
    assert_eq!(alerts, (1, 2, 0, 0), "the 00:00:00 alert belongs to the next day");
    let next: (i64, i64) = {
        let r = db
            .query_one(
                "SELECT readings, alerts_low FROM daily_summary WHERE wearer_pseudonym = $1 AND day = '2026-11-22'",
                &[&w1],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(next, (0, 1), "a day with alerts and no readings still has its row");
    let w2_avg: f64 = db
        .query_one("SELECT heart_rate_avg FROM daily_summary WHERE wearer_pseudonym = $1", &[&w2])
        .await
        .unwrap()
        .get(0);
    assert_eq!(w2_avg, 100.0);
    s.finish().await;
}

#[tokio::test]
async fn migrations_applied_twice_are_a_no_op() {
    let s = Setup::new().await;
    let objects = vigil_warehouse::aws::S3ObjectSource::new(vigil_aws::sdk::s3(&s.sdk), &s.resources.data_bucket);
    let warehouse = vigil_warehouse::postgres::PostgresWarehouse::new(&s.db_url, objects);
    use vigil_warehouse::Warehouse;
    assert_eq!(warehouse.migrate().await.unwrap().applied, (1..=9).collect::<Vec<u32>>());
    let objects_before = s.count("SELECT COUNT(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace").await;
    assert_eq!(warehouse.migrate().await.unwrap().applied, Vec::<u32>::new());
    assert_eq!(s.count("SELECT COUNT(*) FROM schema_migrations").await, 9);
    assert_eq!(
        s.count("SELECT COUNT(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace").await,
        objects_before
    );
    assert_eq!(
        s.count(
            "SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'alerts' AND column_name IN \
             ('acknowledged_at', 'resolved_at', 'outcome') AND is_nullable = 'YES'"
        )
        .await,
        3
    );
    // Every PostgreSQL statement is also safe to run again on its own.
    let db = s.db().await;
    for m in vigil_warehouse::sql::migrations(vigil_warehouse::sql::Dialect::Postgres) {
        for statement in &m.statements {
            db.batch_execute(statement).await.unwrap();
        }
        db.batch_execute(&vigil_warehouse::sql::record_migration(&m)).await.unwrap();
    }
    assert_eq!(s.count("SELECT COUNT(*) FROM schema_migrations").await, 9);
    s.finish().await;
}

#[tokio::test]
async fn overlapping_runs_load_each_reading_once_and_mark_each_file_once() {
    let s = Setup::new().await;
    let t = |i: u64| at("2026-11-22T06:00:00Z") + chrono::Duration::seconds(5 * i as i64);
    for f in 0..6u64 {
        let rows: Vec<CuratedRow> = (f * 50..f * 50 + 80).map(|i| s.row("w1", i, t(i))).collect();
        s.put_file(&format!("overlap-{f}"), &rows, now() + chrono::Duration::seconds(f as i64)).await;
    }
    let (a, b) = (s.loader(200), s.loader(200));
    let (ra, rb) = tokio::join!(a.run(now()), b.run(now()));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.files_loaded + rb.files_loaded, 6, "each file marked by exactly one run: {ra:?} {rb:?}");
    assert_eq!(s.count("SELECT COUNT(*) FROM readings").await, 5 * 50 + 80);
    assert!(s.statuses().await.iter().all(|(_, st)| st == "loaded"));
    s.finish().await;
}

#[tokio::test]
async fn alert_files_load_into_the_alerts_fact_table_once() {
    use vigil_alerting::AlertSink;
    use vigil_alerting::curated::CuratedAlerts;
    use vigil_domain::alerts::{Alert, AlertId, RuleKind, Severity};

    let s = Setup::new().await;
    let sink = CuratedAlerts {
        objects: S3ObjectStore::new(vigil_aws::sdk::s3(&s.sdk), &s.resources.data_bucket),
        registry: DynamoCuratedFiles::new(vigil_aws::sdk::dynamodb(&s.sdk), &s.resources.curated_files_table),
        pseudonymizer: s.pseudonymizer.clone(),
    };
    let alert = |rule: RuleKind, severity: Severity, ts: &str| {
        let raised_at = at(ts);
        Alert {
            id: AlertId::new("w1", rule, raised_at),
            wearer_id: "w1".into(),
            rule,
            severity,
            episode_start: raised_at,
            raised_at,
            readings: Vec::new(),
            location: None,
            value: None,
        }
    };
    let alerts = [
        alert(RuleKind::Sos, Severity::Critical, "2026-11-21T10:00:00Z"),
        alert(RuleKind::HeartRateHigh, Severity::High, "2026-11-21T11:00:00Z"),
    ];
    // Written, rewritten by a redelivery, and one alert again in another evaluation.
    sink.record("w1", &alerts, &[]).await.unwrap();
    sink.record("w1", &alerts, &[]).await.unwrap();
    sink.record("w1", &alerts[..1], &[]).await.unwrap();
    let registered = s.statuses().await;
    assert_eq!(registered.len(), 2, "a redelivery rewrites the same file: {registered:?}");
    assert!(registered.iter().all(|(k, _)| k.starts_with("curated/alerts/dt=2026-11-21/")));

    let report = s.loader(200).run(now()).await.unwrap();
    assert_eq!((report.files_loaded, report.rows_staged, report.rows_merged), (2, 3, 2));
    assert_eq!(s.count("SELECT COUNT(*) FROM alerts").await, 2);
    let w1 = s.wearer("w1").to_string();
    let row = s
        .db()
        .await
        .query_one(
            "SELECT readings, alerts_critical, alerts_high FROM daily_summary WHERE wearer_pseudonym = $1 AND day = \
             '2026-11-21'",
            &[&w1],
        )
        .await
        .unwrap();
    let figures: (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(figures, (0, 1, 1));

    // The SOS resolved: a file of its own, and the merge sets the flag on the row.
    sink.record("w1", &[], &[cleared(&alerts[0], "2026-11-21T10:30:00Z")]).await.unwrap();
    // A silent band's alert raised and resolved before the next load: both
    // copies are staged together, and the resolved one is kept.
    let silent = alert(RuleKind::NoData, Severity::Medium, "2026-11-21T12:00:00Z");
    sink.record("w1", std::slice::from_ref(&silent), &[]).await.unwrap();
    sink.record("w1", &[], &[cleared(&silent, "2026-11-21T12:40:00Z")]).await.unwrap();
    let report = s.loader(200).run(now()).await.unwrap();
    assert_eq!((report.files_loaded, report.rows_staged, report.rows_merged), (3, 3, 2));
    let db = s.db().await;
    let rows = db
        .query("SELECT rule, resolved, acknowledged_at, resolved_at, outcome FROM alerts ORDER BY rule", &[])
        .await
        .unwrap();
    let rows: Vec<(String, Lifecycle)> =
        rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4)))).collect();
    assert_eq!(
        rows,
        vec![
            ("heart_rate_high".into(), (false, None, None, None)),
            ("no_data".into(), (true, None, Some(at("2026-11-21T12:40:00Z")), Some("cleared".into()))),
            ("sos".into(), (true, None, Some(at("2026-11-21T10:30:00Z")), Some("cleared".into()))),
        ],
        "one row per alert, resolved (by the rules: cleared) where a resolution was loaded"
    );
    // A later raise file carrying the silent band's alert again (beside a new
    // one) cannot reopen it: the merge only ever sets `resolved`.
    let low = alert(RuleKind::BatteryLow, Severity::Low, "2026-11-21T13:00:00Z");
    sink.record("w1", &[silent.clone(), low], &[]).await.unwrap();
    let report = s.loader(200).run(now()).await.unwrap();
    assert_eq!((report.files_loaded, report.rows_merged), (1, 2));
    assert_eq!(s.count("SELECT COUNT(*) FROM alerts").await, 4);
    assert_eq!(s.count("SELECT COUNT(*) FROM alerts WHERE resolved").await, 2);
    s.finish().await;
}

/// An alert of wearer `w1` raised at `ts`.
fn alert(rule: vigil_domain::alerts::RuleKind, ts: &str) -> vigil_domain::alerts::Alert {
    let raised_at = at(ts);
    vigil_domain::alerts::Alert {
        id: vigil_domain::alerts::AlertId::new("w1", rule, raised_at),
        wearer_id: "w1".into(),
        rule,
        severity: rule.severity(),
        episode_start: raised_at,
        raised_at,
        readings: Vec::new(),
        location: None,
        value: None,
    }
}

/// `alert` as the alerts table has it after the rules resolved it at `ts`.
fn cleared(alert: &vigil_domain::alerts::Alert, ts: &str) -> AlertRecord {
    let mut record = AlertRecord::open(alert.clone(), false);
    assert!(record.apply(Transition::cleared(at(ts)), None));
    record
}

/// An alert's lifecycle row in the warehouse.
type Lifecycle = (bool, Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<String>);

#[tokio::test]
async fn the_lifecycle_loads_in_any_order_onto_the_first_acknowledgement_and_resolution() {
    use vigil_alerting::AlertSink;
    use vigil_alerting::curated::CuratedAlerts;
    use vigil_domain::alerts::RuleKind;
    use vigil_domain::ports::LifecycleSink;

    let s = Setup::new().await;
    let sink = CuratedAlerts {
        objects: S3ObjectStore::new(vigil_aws::sdk::s3(&s.sdk), &s.resources.data_bucket),
        registry: DynamoCuratedFiles::new(vigil_aws::sdk::dynamodb(&s.sdk), &s.resources.curated_files_table),
        pseudonymizer: s.pseudonymizer.clone(),
    };
    let lifecycle = |key: String| {
        let s = &s;
        async move {
            let row = s
                .db()
                .await
                .query_one(
                    "SELECT resolved, acknowledged_at, resolved_at, outcome FROM alerts WHERE alert_key = $1",
                    &[&key],
                )
                .await
                .unwrap();
            let got: Lifecycle = (row.get(0), row.get(1), row.get(2), row.get(3));
            got
        }
    };
    let key = |a: &vigil_domain::alerts::Alert| s.pseudonymizer.alert(a.id.as_str()).to_string();
    let ack = |record: &mut AlertRecord, ts: &str| {
        assert!(record.apply(Transition::acknowledge("cg-ana", at(ts), Via::Sms), None));
    };
    let resolve = |record: &mut AlertRecord, ts: &str, outcome: Outcome| {
        assert!(record.apply(Transition::resolve("cg-ben", at(ts), Via::Api, outcome), Some("a note".into())));
    };

    // In order: raised, loaded; acknowledged 4 minutes later, loaded; resolved, loaded.
    let first = alert(RuleKind::Sos, "2026-11-21T10:00:00Z");
    AlertSink::record(&sink, "w1", std::slice::from_ref(&first), &[]).await.unwrap();
    s.loader(200).run(now()).await.unwrap();
    assert_eq!(lifecycle(key(&first)).await, (false, None, None, None));
    let mut record = AlertRecord::open(first.clone(), false);
    ack(&mut record, "2026-11-21T10:04:00Z");
    LifecycleSink::record(&sink, &record).await.unwrap();
    s.loader(200).run(now()).await.unwrap();
    assert_eq!(lifecycle(key(&first)).await, (false, Some(at("2026-11-21T10:04:00Z")), None, None));
    resolve(&mut record, "2026-11-21T10:30:00Z", Outcome::Helped);
    LifecycleSink::record(&sink, &record).await.unwrap();
    // The rules' resolution coming after the caregiver's: the alerts table keeps
    // the first, so the sink is handed the same state (the same file) again.
    LifecycleSink::record(&sink, &record).await.unwrap();
    s.loader(200).run(now()).await.unwrap();
    let first_done: Lifecycle =
        (true, Some(at("2026-11-21T10:04:00Z")), Some(at("2026-11-21T10:30:00Z")), Some("helped".into()));
    assert_eq!(lifecycle(key(&first)).await, first_done);

    // In reverse: the resolution is loaded first, then the acknowledgement, then
    // the raise file; nothing later undoes what an earlier file set.
    let second = alert(RuleKind::Sos, "2026-11-21T11:00:00Z");
    let mut acknowledged = AlertRecord::open(second.clone(), false);
    ack(&mut acknowledged, "2026-11-21T11:10:00Z");
    let mut resolved = acknowledged.clone();
    resolve(&mut resolved, "2026-11-21T11:20:00Z", Outcome::FalseAlarm);
    let second_done: Lifecycle =
        (true, Some(at("2026-11-21T11:10:00Z")), Some(at("2026-11-21T11:20:00Z")), Some("false_alarm".into()));
    LifecycleSink::record(&sink, &resolved).await.unwrap();
    s.loader(200).run(now()).await.unwrap();
    assert_eq!(lifecycle(key(&second)).await, second_done);
    LifecycleSink::record(&sink, &acknowledged).await.unwrap();
    s.loader(200).run(now()).await.unwrap();
    assert_eq!(lifecycle(key(&second)).await, second_done, "a late acknowledgement file reopens nothing");
    AlertSink::record(&sink, "w1", std::slice::from_ref(&second), &[]).await.unwrap();
    s.loader(200).run(now()).await.unwrap();
    assert_eq!(lifecycle(key(&second)).await, second_done, "a late raise file resets nothing");

    // All in one load, in any order of files: a fall resolved without an
    // acknowledgement, and a silent band the rules resolved.
    let fall = alert(RuleKind::Fall, "2026-11-21T12:00:00Z");
    let mut fall_done = AlertRecord::open(fall.clone(), false);
    resolve(&mut fall_done, "2026-11-21T12:07:00Z", Outcome::Ok);
    LifecycleSink::record(&sink, &fall_done).await.unwrap();
    AlertSink::record(&sink, "w1", std::slice::from_ref(&fall), &[]).await.unwrap();
    let silent = alert(RuleKind::NoData, "2026-11-21T13:00:00Z");
    AlertSink::record(&sink, "w1", &[], &[cleared(&silent, "2026-11-21T13:30:00Z")]).await.unwrap();
    AlertSink::record(&sink, "w1", std::slice::from_ref(&silent), &[]).await.unwrap();
    let report = s.loader(200).run(now()).await.unwrap();
    assert_eq!((report.files_loaded, report.rows_staged, report.rows_merged), (4, 4, 2));
    assert_eq!(lifecycle(key(&fall)).await, (true, None, Some(at("2026-11-21T12:07:00Z")), Some("ok".into())));
    assert_eq!(lifecycle(key(&silent)).await, (true, None, Some(at("2026-11-21T13:30:00Z")), Some("cleared".into())));
    assert_eq!(s.count("SELECT COUNT(*) FROM alerts").await, 4);

    // Time to acknowledge per rule and severity: SOS acknowledged after 4 and
    // 10 minutes (median 7, p90 9.4), one false alarm; the fall and the silent
    // band resolved without an acknowledgement.
    let rows = s
        .db()
        .await
        .query(
            "SELECT rule, severity, alerts, acknowledged, median_minutes_to_acknowledge, p90_minutes_to_acknowledge, \
             resolved, false_alarms FROM alert_response_times ORDER BY rule",
            &[],
        )
        .await
        .unwrap();
    type ViewRow = (String, String, i64, i64, Option<f64>, Option<f64>, i64, i64);
    let rows: Vec<ViewRow> =
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7))).collect();
    let round = |v: Option<f64>| v.map(|v| (v * 1e6).round() / 1e6);
    let rows: Vec<ViewRow> =
        rows.into_iter().map(|(a, b, c, d, e, f, g, h)| (a, b, c, d, round(e), round(f), g, h)).collect();
    assert_eq!(
        rows,
        vec![
            ("fall".into(), "critical".into(), 1, 0, None, None, 1, 0),
            ("no_data".into(), RuleKind::NoData.severity().as_str().into(), 1, 0, None, None, 1, 0),
            ("sos".into(), "critical".into(), 2, 2, Some(7.0), Some(9.4), 2, 1),
        ]
    );
    // Nothing of who acted, or the note, reached the warehouse.
    let columns = s.count("SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'alerts'").await;
    assert_eq!(columns, vigil_curated::ALERT_COLUMNS.len() as i64);
    s.finish().await;
}
