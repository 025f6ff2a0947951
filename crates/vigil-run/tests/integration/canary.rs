//! Personal data stays where it belongs: a short end-to-end run whose wearers'
//! and caregivers' names, caregivers' phone numbers and device ids are canary
//! strings, then a scan for every canary in the run's logs (at INFO, the level
//! the deployed functions log at, and the failure-destination files), in every
//! curated Parquet object (each string column decoded, and the file's bytes), and
//! in every row of every warehouse table (cast to text). The raw archive, the
//! quarantine, the personal DynamoDB tables and the SMS hold them by design.

use std::io::Read;
use std::net::SocketAddr;

use arrow_array::cast::AsArray;
use vigil_run::fleet::canary_markers;
use vigil_run::run::RunOptions;
use vigil_run::view::Mode;

use crate::hostile_stream::Logs;

/// Every canary string of a fleet of `wearers` tagged `tag`: the name and device
/// markers, and each caregiver's number (at most two per wearer), also without its `+`.
fn canaries(tag: u32, wearers: usize) -> Vec<String> {
    let [name, device, phone] = canary_markers(tag);
    let mut all = vec![name, device];
    for k in 0..2 * wearers {
        let number = format!("{phone}{k:05}");
        all.push(number[1..].to_owned());
    }
    all
}

/// Where a canary was found: (place, canary).
fn hits(place: &str, text: &str, canaries: &[String]) -> Vec<(String, String)> {
    canaries.iter().filter(|c| text.contains(c.as_str())).map(|c| (place.to_owned(), c.clone())).collect()
}

async fn s3_objects(sdk: &aws_config::SdkConfig, bucket: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let s3 = vigil_aws::sdk::s3(sdk);
    let mut out = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        for object in page.unwrap().contents() {
            let key = object.key().unwrap().to_owned();
            let body = s3.get_object().bucket(bucket).key(&key).send().await.unwrap();
            out.push((key, body.body.collect().await.unwrap().into_bytes().to_vec()));
        }
    }
    out
}

/// Every string value in a Parquet file, column by column: (column, value).
fn parquet_strings(body: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for batch in vigil_curated::read(body.to_vec()).unwrap() {
        let batch = batch.unwrap();
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            let values: Vec<String> = if let Some(s) = column.as_string_opt::<i32>() {
                s.iter().flatten().map(str::to_owned).collect()
            } else if let Some(s) = column.as_string_opt::<i64>() {
                s.iter().flatten().map(str::to_owned).collect()
            } else if let Some(b) = column.as_binary_opt::<i32>() {
                b.iter().flatten().map(|v| String::from_utf8_lossy(v).into_owned()).collect()
            } else {
                assert!(
                    field.data_type().is_primitive() || column.as_boolean_opt().is_some(),
                    "column {} of type {} is not scanned",
                    field.name(),
                    field.data_type()
                );
                Vec::new()
            };
            out.extend(values.into_iter().map(|v| (field.name().clone(), v)));
        }
    }
    out
}

#[test]
fn a_run_leaves_no_name_phone_or_device_id_in_logs_curated_data_or_the_warehouse() {
    // On a thread with room: the whole run's futures overflow a test thread's stack in a
    // debug build.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(16 * 1024 * 1024)
        .enable_all()
        .build()
        .unwrap();
    std::thread::Builder::new()
        .stack_size(64 * 1024 * 1024)
        .spawn(move || runtime.block_on(scan_a_canary_run()))
        .unwrap()
        .join()
        .unwrap();
}

async fn scan_a_canary_run() {
    // The functions log on every worker thread: a global subscriber, at the deployed level.
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("info,aws_config=warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the canary test needs the process's log subscriber: run it with cargo nextest (one process per test)");

    let sdk = vigil_local::endpoint::require().await;
    let tag = fastrand::u32(100_000..1_000_000);
    let wearers = 4;
    let canaries = canaries(tag, wearers);
    let out_dir = std::env::temp_dir().join(format!("vigil-canary-test-{}", std::process::id()));
    let options = RunOptions {
        wearers,
        duration: chrono::TimeDelta::minutes(30),
        speed: 120.0,
        seed: 11,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        shards: 2,
        out_dir: out_dir.clone(),
        view: Mode::Quiet,
        endpoint_url: Some(vigil_local::endpoint::url()),
        warehouse_url: Some(std::env::var("VIGIL_PG_URL").expect(
            "VIGIL_PG_URL is not set: start the local warehouse with `bash scripts/pg.sh start` and \
             `eval \"$(bash scripts/pg.sh env)\"` (make test does this)",
        )),
        chaos: None,
        canary: Some(tag),
    };
    let summary = Box::pin(vigil_run::run::run(&sdk, &options)).await.unwrap();
    println!("{}", summary.table());
    assert!(summary.problems().is_empty(), "{:?}", summary.problems());
    assert!(summary.alerts_raised > 0 && summary.notifications_sent > 0, "{summary:?}");

    let mut found = Vec::new();
    let mut scanned = Vec::new();

    // The canaries did flow: the raw archive holds the uploads' device ids.
    let raw = s3_objects(&sdk, &summary.data_bucket, "raw/").await;
    let mut raw_text = String::new();
    flate2::read::GzDecoder::new(&raw[0].1[..]).read_to_string(&mut raw_text).unwrap();
    assert!(raw_text.contains(&canaries[1]), "the run's uploads carry the canary device ids");

    // Logs.
    let log_text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(log_text.contains("alert raised"), "the functions' INFO lines were captured");
    for line in log_text.lines() {
        found.extend(hits(&format!("log line {line:?}"), line, &canaries));
    }
    scanned.push(format!("logs: {} lines", log_text.lines().count()));
    for entry in std::fs::read_dir(&out_dir).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        found.extend(hits(&path.display().to_string(), &text, &canaries));
    }

    // Curated Parquet: readings and alerts.
    let curated = s3_objects(&sdk, &summary.data_bucket, "curated/").await;
    assert!(curated.iter().any(|(k, _)| k.starts_with("curated/alerts/")), "alerts were curated");
    let mut values = 0;
    for (key, body) in &curated {
        assert!(key.ends_with(".parquet"), "{key}");
        found.extend(hits(&format!("the bytes of {key}"), &String::from_utf8_lossy(body), &canaries));
        for (column, value) in parquet_strings(body) {
            values += 1;
            found.extend(hits(&format!("column {column} of {key}"), &value, &canaries));
        }
    }
    scanned.push(format!("curated: {} Parquet objects, {values} string values", curated.len()));

    // The warehouse: every table, every row as text.
    let url = summary.warehouse_url.clone().expect("the run loaded a warehouse");
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(tables.iter().any(|t| t == "readings"), "{tables:?}");
    let mut rows = 0;
    for table in &tables {
        for row in client.query(&format!("SELECT t::text FROM \"{table}\" t"), &[]).await.unwrap() {
            rows += 1;
            found.extend(hits(&format!("warehouse table {table}"), &row.get::<_, String>(0), &canaries));
        }
    }
    scanned.push(format!("warehouse: {} tables, {rows} rows", tables.len()));

    println!("canary tag {tag}; scanned {}", scanned.join("; "));
    found.sort();
    found.dedup();
    assert!(found.is_empty(), "personal data found where it must not be: {found:#?}");
}
