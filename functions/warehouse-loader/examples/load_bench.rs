//! Loading into PostgreSQL: rows/s of a full load (Parquet decode → COPY FROM
//! STDIN into the stage → dedup → MERGE) against a baseline measured in the same
//! run on the same server: a bare COPY FROM STDIN of the same rows, already in
//! COPY text, into a plain table (the most PostgreSQL can take).
//!
//! ```sh
//! bash scripts/pg.sh start && eval "$(bash scripts/pg.sh env)"
//! cargo run --release -p warehouse-loader --example load_bench -- 200000
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly")]

use std::collections::HashMap;
use std::pin::pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{NaiveDate, TimeZone, Utc};
use futures_util::SinkExt;
use tokio_postgres::NoTls;
use vigil_curated::{CuratedRow, CuratedWriter, Pseudonymizer};
use vigil_domain::ReadingId;
use vigil_domain::ports::StoreError;
use vigil_domain::reading::{Activity, SleepStage};
use vigil_warehouse::postgres::{PostgresWarehouse, copy_text};
use vigil_warehouse::{FileKind, ObjectSource, PendingFile, Warehouse, sql};

/// The files in memory: the benchmark measures the warehouse, not S3.
struct Files(HashMap<String, Vec<u8>>);

impl ObjectSource for Files {
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        Ok(self.0[key].clone())
    }
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::args().nth(1).map_or(200_000, |a| a.parse().expect("rows as an integer"));
    let admin_url =
        std::env::var("VIGIL_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5433/postgres".into());
    let (admin, conn) = tokio_postgres::connect(&admin_url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("no PostgreSQL at {admin_url} ({e}): run `bash scripts/pg.sh start`"));
    tokio::spawn(conn);
    let db = format!("vigil_bench_{}", std::process::id());
    // Separate calls: several statements in one are one transaction, which DROP DATABASE refuses.
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).await.unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
    let url = format!("{}/{db}", admin_url.rsplit_once('/').unwrap().0);

    // 20 files of 5 % overlap each (a retried batch), 100 wearers, readings every 5 s.
    let p = Pseudonymizer::new(b"0123456789abcdef0123456789abcdef").unwrap();
    let start = Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap();
    let wearers: Vec<_> = (0..100).map(|w| p.wearer(&format!("wearer-{w}"))).collect();
    let per_file = rows / 20;
    let mut files = HashMap::new();
    let mut pending = Vec::new();
    let mut distinct = 0u64;
    for f in 0..20 {
        let first = (f * per_file).saturating_sub(per_file / 20);
        let mut writer = CuratedWriter::new();
        for i in first..(f + 1) * per_file {
            let wearer = i % 100;
            let ts = start + chrono::Duration::seconds(5 * (i / 100) as i64);
            writer
                .push(&CuratedRow {
                    reading_key: p.reading(ReadingId::new(&format!("band-{wearer}"), i as u64)),
                    wearer_pseudonym: wearers[wearer],
                    ts: ts.min(start + chrono::Duration::hours(23)),
                    received_at: ts + chrono::Duration::seconds(40),
                    heart_rate_bpm: Some(60 + (i % 40) as i32),
                    spo2_pct: Some(97),
                    skin_temp_c: Some(34.25),
                    steps: Some((i % 7) as i32),
                    activity: Some(Activity::Light),
                    sleep_stage: (i % 3 == 0).then_some(SleepStage::Light),
                    fall_detected: Some(false),
                    fall_cancelled: None,
                    sos: Some(false),
                    battery_pct: Some(80),
                    worn: Some(true),
                })
                .unwrap();
        }
        let file = writer.finish().unwrap().remove(0);
        let key = format!("curated/readings/dt=2026-11-22/bench-{f}.parquet");
        pending.push(PendingFile {
            key: key.clone(),
            kind: FileKind::Readings,
            event_date: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            rows: file.rows as u64,
            bytes: file.body.len() as u64,
            created_at: start,
        });
        files.insert(key, file.body);
    }
    distinct += (20 * per_file) as u64;
    let staged: u64 = pending.iter().map(|f| f.rows).sum();

    // Baseline: the same rows as COPY text, straight into a plain table.
    let mut text = Vec::new();
    for body in files.values() {
        for batch in vigil_curated::read(body.clone()).unwrap() {
            copy_text(&batch.unwrap(), &sql::READINGS, &mut text).unwrap();
        }
    }
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(&sql::create_table(sql::Dialect::Postgres, &sql::READINGS)[0]).await.unwrap();
    client.batch_execute("CREATE TABLE baseline (LIKE readings)").await.unwrap();
    let t = Instant::now();
    let sink = client.copy_in::<_, Bytes>("COPY baseline FROM STDIN").await.unwrap();
    let mut sink = pin!(sink);
    for chunk in text.chunks(1 << 20) {
        sink.send(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    let copied = sink.as_mut().finish().await.unwrap();
    let baseline = t.elapsed();
    client.batch_execute("DROP TABLE baseline; DROP TABLE readings").await.unwrap();
    assert_eq!(copied, staged);

    let warehouse = PostgresWarehouse::new(&url, Files(files));
    warehouse.migrate().await.unwrap();
    let t = Instant::now();
    let budget = Duration::from_secs(600);
    let first = warehouse.load(FileKind::Readings, &pending, "bench-1", None, budget).await.unwrap();
    let insert = t.elapsed();
    let t = Instant::now();
    let again = warehouse.load(FileKind::Readings, &pending, "bench-2", None, budget).await.unwrap();
    let update = t.elapsed();
    // The retention's cut in the same transaction, as every deployed load has it;
    // here it falls before every row, as on most loads (each expires what aged
    // out since the last one).
    let cut = NaiveDate::from_ymd_opt(2025, 1, 1);
    let t = Instant::now();
    let expiring = warehouse.load(FileKind::Readings, &pending, "bench-3", cut, budget).await.unwrap();
    let update_expire = t.elapsed();
    assert_eq!((first.rows_merged, again.rows_merged, expiring.rows_merged), (distinct, distinct, distinct));
    assert_eq!(expiring.rows_expired, 0);

    let rate = |d: Duration| staged as f64 / d.as_secs_f64();
    println!("rows staged per load: {staged} ({distinct} distinct) in 20 files");
    println!("baseline  COPY FROM STDIN, plain table      {:>10.0} rows/s ({baseline:.2?})", rate(baseline));
    println!("load      new rows (MERGE inserts)          {:>10.0} rows/s ({insert:.2?})", rate(insert));
    println!("reload    same files (MERGE updates)        {:>10.0} rows/s ({update:.2?})", rate(update));
    println!("reload    + retention cut (deletes nothing) {:>10.0} rows/s ({update_expire:.2?})", rate(update_expire));
    println!(
        "ratio load/baseline {:.2}, reload/baseline {:.2}, reload with the cut/reload {:.2}",
        rate(insert) / rate(baseline),
        rate(update) / rate(baseline),
        rate(update_expire) / rate(update)
    );
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.ok();
}
