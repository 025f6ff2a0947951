//! Integration: envelopes on a real stream (moto's server or LocalStack at
//! AWS_ENDPOINT_URL, default http://127.0.0.1:4566) → the local event source
//! mapping → vitals-writer with the real DynamoDB and S3 adapters.
//! Start the endpoint with `bash localstack/endpoint.sh start`.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use vigil_aws::kinesis::KinesisPublisher;
use vigil_aws::vitals::DynamoVitalsStore;
use vigil_domain::Envelope;
use vigil_domain::ports::{RecordPublisher, StreamRecord};
use vigil_domain::reading::Reading;
use vigil_domain::vitals::{Shadow, VitalsItem};
use vigil_local::esm::{EventSourceMapping, FailedBatch, Lambda, Mapping};
use vigil_local::provision::{Resources, provision};
use vigil_testkit::kinesis::at;
use vitals_writer::VitalsConfig;
use vitals_writer::config::AwsWriter;

struct Setup {
    sdk: aws_config::SdkConfig,
    resources: Resources,
    config: VitalsConfig,
}

async fn setup() -> Setup {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources::unique("vitals");
    provision(&sdk, &resources).await.unwrap();
    let config = VitalsConfig {
        vitals_table: resources.vitals_table.clone(),
        quarantine_bucket: resources.quarantine_bucket.clone(),
        ttl_days: 30,
        write_budget: Duration::from_secs(10),
    };
    Setup { sdk, resources, config }
}

/// `n` readings every 5 s from `start`, seqs from `seq`.
fn envelope(wearer: &str, start: DateTime<Utc>, seq: u64, n: u64) -> Vec<u8> {
    let readings = (0..n)
        .map(|k| {
            let mut r = Reading::at((start + TimeDelta::seconds(5 * k as i64)).fixed_offset(), seq + k);
            r.heart_rate_bpm = Some(60 + (k % 30) as i64);
            r.spo2_pct = Some(96);
            r.battery_pct = Some(70);
            r.worn = Some(true);
            r
        })
        .collect();
    serde_json::to_vec(&Envelope {
        v: 1,
        batch_id: format!("b-{wearer}-{seq}"),
        part: 0,
        parts: 1,
        device_id: format!("band-{wearer}"),
        wearer_id: wearer.into(),
        app_version: "1.4.2".into(),
        received_at: Utc::now(),
        readings,
    })
    .unwrap()
}

async fn put(s: &Setup, records: Vec<(&str, Vec<u8>)>) {
    let publisher = KinesisPublisher::new(aws_sdk_kinesis::Client::new(&s.sdk), &s.resources.stream);
    let records =
        records.into_iter().map(|(wearer, data)| StreamRecord { partition_key: wearer.to_owned(), data }).collect();
    publisher.publish(records, Duration::from_secs(10)).await.unwrap();
}

/// A mapping from the oldest record, with vitals-writer as its function.
async fn mapping<'a>(
    s: &Setup,
    writer: &'a AwsWriter,
    batch_size: usize,
) -> Mapping<Lambda<'a, AwsWriter>, Vec<FailedBatch>> {
    let esm = EventSourceMapping::for_tests(&s.resources.stream, batch_size);
    esm.start(&s.sdk, Lambda(writer), Vec::<FailedBatch>::new()).await.unwrap()
}

/// Drives the whole stream through vitals-writer once, from the oldest record.
async fn deliver_stream(s: &Setup) -> Vec<FailedBatch> {
    let writer = s.config.writer(&s.sdk);
    let mut m = mapping(s, &writer, 50).await;
    m.run_until_idle(Duration::from_secs(60)).await.unwrap();
    m.destination().clone()
}

fn vitals(s: &Setup) -> DynamoVitalsStore {
    DynamoVitalsStore::new(vigil_aws::sdk::dynamodb(&s.sdk), &s.config.vitals_table)
}

/// The wearer's latest state, as care-api reads it.
async fn shadow(s: &Setup, wearer: &str) -> Option<Shadow> {
    vitals(s).latest(wearer).await.unwrap()
}

async fn item_count(s: &Setup) -> i32 {
    let out = vigil_aws::sdk::dynamodb(&s.sdk)
        .scan()
        .table_name(&s.config.vitals_table)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    out.count()
}

async fn day(s: &Setup, wearer: &str) -> Vec<VitalsItem> {
    vitals(s).query_range(wearer, at("2026-11-22T00:00:00Z"), at("2026-11-22T23:59:00Z")).await.unwrap()
}

#[tokio::test]
async fn readings_become_span_items_and_a_second_delivery_leaves_the_same_items() {
    let s = setup().await;
    put(
        &s,
        vec![
            // 10:58:30 + 24 readings: the spans 10:30 (18 readings) and 11:00 (6) → 2 items.
            ("wearer-42", envelope("wearer-42", at("2026-11-22T10:58:30Z"), 100, 24)),
            ("wearer-42", b"\xde\xad not an envelope".to_vec()),
            // The next upload, from 11:00:30: the 11:00 span again, in an item of its own.
            ("wearer-42", envelope("wearer-42", at("2026-11-22T11:00:30Z"), 124, 12)),
            // Another wearer, one span → 1 item.
            ("wearer-7", envelope("wearer-7", at("2026-11-22T10:59:00Z"), 1, 12)),
        ],
    )
    .await;

    let failed = deliver_stream(&s).await;
    assert!(failed.is_empty(), "nothing went to the failure destination: {failed:?}");
    assert_eq!(item_count(&s).await, 4);
    let items = day(&s, "wearer-42").await;
    let keys: Vec<String> = items.iter().map(VitalsItem::sort_key).collect();
    assert_eq!(
        keys,
        vec![
            "2026-11-22T10:30Z#band-wearer-42#100",
            "2026-11-22T11:00Z#band-wearer-42#118",
            "2026-11-22T11:00Z#band-wearer-42#124",
        ]
    );
    let rows: usize = items.iter().map(|i| i.rows().unwrap().len()).sum();
    assert_eq!(rows, 36);
    assert_eq!((items[0].count, items[1].count), (18, 6));
    assert_eq!(items[0].expires_at, at("2026-12-22T10:30:00Z").timestamp());
    // A range finds exactly the items that can hold its readings: from 10:55, the 10:30 span too.
    let hour = vitals(&s).query_range("wearer-42", at("2026-11-22T11:00:00Z"), at("2026-11-22T11:59:00Z")).await;
    assert_eq!(hour.unwrap().len(), 2);
    let from_10_55 = vitals(&s).query_range("wearer-42", at("2026-11-22T10:55:00Z"), at("2026-11-22T10:59:00Z")).await;
    assert_eq!(from_10_55.unwrap().len(), 1);

    let newest = shadow(&s, "wearer-42").await.unwrap();
    assert_eq!((newest.last_seen, newest.seq), (at("2026-11-22T11:01:25Z"), 135));
    assert_eq!((newest.battery_pct, newest.worn, newest.app_version.as_str()), (Some(70), Some(true), "1.4.2"));
    assert_eq!(shadow(&s, "wearer-7").await.unwrap().seq, 12);

    // The poison record is quarantined at its position.
    let listed = vigil_aws::sdk::s3(&s.sdk)
        .list_objects_v2()
        .bucket(&s.config.quarantine_bucket)
        .prefix("quarantine/vitals-writer/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1);

    // Lambda redelivers the whole stream: the same items, the same shadow.
    let failed = deliver_stream(&s).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(item_count(&s).await, 4);
    assert_eq!(day(&s, "wearer-42").await, items);
    assert_eq!(shadow(&s, "wearer-42").await.unwrap(), newest);
}

#[tokio::test]
async fn shuffled_and_late_batches_never_move_the_latest_state_backwards() {
    let s = setup().await;
    let base = at("2026-11-22T08:00:00Z");
    let upload =
        |minute: i64| envelope("wearer-42", base + TimeDelta::minutes(minute), 1_000 * (100 + minute) as u64, 12);

    // One upload per batch, out of order: the latest state follows the newest seen so far.
    let writer = s.config.writer(&s.sdk);
    let mut m = mapping(&s, &writer, 1).await;
    let mut newest_so_far: Option<DateTime<Utc>> = None;
    for minute in [30, 10, 50, 20, 40] {
        put(&s, vec![("wearer-42", upload(minute))]).await;
        m.run_until_idle(Duration::from_secs(30)).await.unwrap();
        let upload_newest = base + TimeDelta::minutes(minute) + TimeDelta::seconds(55);
        newest_so_far = newest_so_far.max(Some(upload_newest));
        assert_eq!(shadow(&s, "wearer-42").await.map(|sh| sh.last_seen), newest_so_far, "after minute {minute}");
    }

    // A phone back online uploads an hour-old buffer, shuffled, in one batch: the
    // readings are stored, the latest state stays.
    let mut late: Vec<(&str, Vec<u8>)> = [-60, -45, -59, -50].into_iter().map(|m| ("wearer-42", upload(m))).collect();
    late.push(("wearer-42", upload(50))); // and a replay of the newest upload
    put(&s, late).await;
    let mut m = mapping(&s, &writer, 50).await;
    m.run_until_idle(Duration::from_secs(60)).await.unwrap();
    assert!(m.destination().is_empty());
    let after = shadow(&s, "wearer-42").await.unwrap();
    assert_eq!(after.last_seen, at("2026-11-22T08:50:55Z"));
    assert_eq!(after.seq, 150_011);
    // 5 + 4 distinct uploads of one minute each; the replays rewrote their items.
    assert_eq!(item_count(&s).await, 9);
}

#[tokio::test]
async fn the_latest_state_reads_every_item_of_the_newest_span_over_pages() {
    let s = setup().await;
    // 33 uploads of 2 readings in the 11:00 span, more than a page. Keys sort as
    // strings, newest first: `#9`, `#7`, `#65`, … `#11`, `#1`, so the item keyed `#1`
    // comes last, on the second page; here it holds the newest readings (the band's
    // counter was reset). And an older span before them.
    let mut uploads = vec![("wearer-42", envelope("wearer-42", at("2026-11-22T10:58:00Z"), 900, 12))];
    for k in 0..33u64 {
        let start = at("2026-11-22T11:10:00Z") - TimeDelta::seconds(10 * k as i64);
        uploads.push(("wearer-42", envelope("wearer-42", start, 1 + 2 * k, 2)));
    }
    put(&s, uploads).await;
    assert!(deliver_stream(&s).await.is_empty());
    assert_eq!(item_count(&s).await, 34);
    let latest = shadow(&s, "wearer-42").await.unwrap();
    assert_eq!((latest.seq, latest.last_seen), (2, at("2026-11-22T11:10:05Z")));
    assert_eq!(latest.device_id, "band-wearer-42");
    assert_eq!(shadow(&s, "wearer-nobody").await, None);
}

#[tokio::test]
async fn the_latest_state_finds_a_newer_reading_behind_an_older_ten_minute_item() {
    use vigil_domain::vitals::{Rows, vitals_items};
    let s = setup().await;
    let client = vigil_aws::sdk::dynamodb(&s.sdk);
    // As a deployment leaves them: a ten-minute item of text rows (format 1) at 10:40,
    // readings 10:40:00 and 10:45:00, then the new writer's half-hour item from 10:30,
    // readings 10:46:00–10:49:55. The older item's key sorts first, newest first.
    let old = VitalsItem {
        wearer_id: "wearer-42".into(),
        start: at("2026-11-22T10:40:00Z"),
        device_id: "band-wearer-42".into(),
        first_seq: 1,
        count: 2,
        hr_min: None,
        hr_avg: None,
        hr_max: None,
        spo2_min: None,
        steps: None,
        readings: Rows::Text("0,0,70;300,1,71".into()),
        app_version: String::new(),
        expires_at: 1_800_000_000,
    };
    let newer: Envelope = serde_json::from_slice(&envelope("wearer-42", at("2026-11-22T10:46:00Z"), 3, 48)).unwrap();
    let mut items = vitals_items(&newer, TimeDelta::days(30));
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].start, at("2026-11-22T10:30:00Z"));
    items.push(old);
    for item in &items {
        let put = client.put_item().table_name(&s.config.vitals_table).set_item(Some(vigil_aws::vitals::to_item(item)));
        put.send().await.unwrap();
    }
    let latest = shadow(&s, "wearer-42").await.unwrap();
    assert_eq!((latest.seq, latest.last_seen), (50, at("2026-11-22T10:49:55Z")));
    assert_eq!(latest.heart_rate_bpm, Some(60 + 47 % 30));
}
