//! Integration: records on a real stream (moto's server or LocalStack at
//! AWS_ENDPOINT_URL, default http://127.0.0.1:4566) → the local event source
//! mapping → raw-archiver with the real S3 and DynamoDB adapters.
//! Start the endpoint with `bash localstack/endpoint.sh start`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;
use vigil_lambda::stream::StreamFunction;

use crate::common::*;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use raw_archiver::config::{AwsArchiver, Config};
use vigil_aws::kinesis::KinesisPublisher;
use vigil_curated::raw_key;
use vigil_domain::ReadingId;
use vigil_domain::ports::{RecordPublisher, StreamRecord};
use vigil_domain::reading::Reading;
use vigil_local::esm::{EventSourceMapping, FailedBatch};
use vigil_local::provision::{Resources, provision};

struct Setup {
    sdk: aws_config::SdkConfig,
    resources: Resources,
    archiver: AwsArchiver,
}

async fn setup() -> Setup {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources::unique("archive");
    provision(&sdk, &resources).await.unwrap();
    let config = Config {
        data_bucket: resources.data_bucket.clone(),
        curated_files_table: resources.curated_files_table.clone(),
        quarantine_bucket: resources.quarantine_bucket.clone(),
        pseudonymizer: pseudonymizer(),
    };
    let archiver = config.archiver(&sdk);
    Setup { sdk, resources, archiver }
}

/// (shard, first sequence number, last sequence number, first arrival) of a batch.
type BatchId = (String, String, String, DateTime<Utc>);

/// Drives the whole stream through raw-archiver once, from the oldest record;
/// returns what went to the failure destination and the batches delivered.
async fn deliver_stream(s: &Setup) -> (Vec<FailedBatch>, Vec<BatchId>) {
    let batches = Mutex::new(Vec::new());
    let handler = |event: KinesisEvent| {
        let (first, last) = (event.records.first().unwrap(), event.records.last().unwrap());
        let shard = first.event_id.as_deref().unwrap().split(':').next().unwrap().to_owned();
        batches.lock().unwrap().push((
            shard,
            first.kinesis.sequence_number.clone(),
            last.kinesis.sequence_number.clone(),
            first.kinesis.approximate_arrival_timestamp.0,
        ));
        let archiver = &s.archiver;
        let deadline = vigil_lambda::Deadline::after(Duration::from_secs(120), Duration::ZERO);
        async move { Ok::<_, std::convert::Infallible>(archiver.handle(event, deadline).await) }
    };
    let esm = EventSourceMapping::for_tests(&s.resources.stream, 100);
    let mut mapping = esm.start(&s.sdk, handler, Vec::<FailedBatch>::new()).await.unwrap();
    mapping.run_until_idle(Duration::from_secs(60)).await.unwrap();
    let failed = mapping.destination().clone();
    drop(mapping);
    (failed, batches.into_inner().unwrap())
}

/// Every object under `prefix`: key → bytes.
async fn objects(s: &Setup, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let s3 = vigil_aws::sdk::s3(&s.sdk);
    let listed = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await.unwrap();
    let mut out = BTreeMap::new();
    for object in listed.contents() {
        let key = object.key().unwrap().to_owned();
        let body = s3.get_object().bucket(bucket).key(&key).send().await.unwrap().body.collect().await.unwrap();
        out.insert(key, body.into_bytes().to_vec());
    }
    out
}

/// The registry's items: file_key → (status, rows).
async fn registry(s: &Setup) -> BTreeMap<String, (String, u64)> {
    let out = aws_sdk_dynamodb::Client::new(&s.sdk)
        .scan()
        .table_name(&s.resources.curated_files_table)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .map(|item| {
            let s = |k: &str| item[k].as_s().unwrap().clone();
            (s("file_key"), (s("status"), item["rows"].as_n().unwrap().parse().unwrap()))
        })
        .collect()
}

fn r(ts: DateTime<Utc>, seq: u64) -> Reading {
    reading(&ts.to_rfc3339(), seq)
}

#[tokio::test]
async fn the_stream_is_archived_raw_and_curated_once_even_when_delivered_twice() {
    let s = setup().await;
    let now = Utc::now();
    let yesterday = now - chrono::Duration::days(1);
    let minute = |m: i64| now - chrono::Duration::minutes(m);
    // wearer-42: two uploads, the second resending reading 2; one reading from
    // yesterday (a phone that was offline). wearer-7 on its own partition key.
    let sent: Vec<(&str, Vec<u8>)> = vec![
        ("wearer-42", envelope(vec![r(minute(3), 1), r(minute(2), 2)])),
        ("wearer-42", b"\xde\xad not an envelope".to_vec()),
        ("wearer-42", envelope(vec![r(minute(2), 2), r(minute(1), 3), r(yesterday, 4)])),
        ("wearer-7", envelope_for("band-0002", "wearer-7", vec![r(minute(1), 1)])),
    ];
    let publisher = KinesisPublisher::new(aws_sdk_kinesis::Client::new(&s.sdk), &s.resources.stream);
    let records =
        sent.iter().map(|(pk, data)| StreamRecord { partition_key: (*pk).into(), data: data.clone() }).collect();
    publisher.publish(records, Duration::from_secs(10)).await.unwrap();

    let (failed, batches) = deliver_stream(&s).await;
    assert!(failed.is_empty(), "nothing went to the failure destination: {failed:?}");

    // Raw: one object per batch, at the key the batch determines; together they
    // hold exactly the records sent, byte for byte.
    let raw = objects(&s, &s.resources.data_bucket, "raw/").await;
    let expected: BTreeSet<String> = batches.iter().map(|(sh, a, b, t)| raw_key(sh, a, b, *t)).collect();
    assert_eq!(raw.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let mut archived: Vec<(String, Vec<u8>)> =
        raw.values().flat_map(|body| raw_lines(body)).map(|l| (l.partition_key, l.data)).collect();
    let mut sent_sorted: Vec<(String, Vec<u8>)> = sent.iter().map(|(pk, d)| ((*pk).to_owned(), d.clone())).collect();
    archived.sort();
    sent_sorted.sort();
    assert_eq!(archived, sent_sorted);

    // Curated: one row per distinct reading, pseudonymized, no identifiers,
    // under the reading's event date.
    let curated = objects(&s, &s.resources.data_bucket, "curated/readings/").await;
    let ids = ["wearer-42", "wearer-7", "band-0001", "band-0002", "batch-band"];
    let mut keys = Vec::new();
    for (key, body) in &curated {
        let (rows, _) = read_curated(body, &ids);
        for row in rows {
            let date = DateTime::from_timestamp_micros(row.ts_micros).unwrap().format("dt=%Y-%m-%d").to_string();
            assert!(key.contains(&date), "{key} holds a reading of {date}");
            keys.push(row.reading_key);
        }
    }
    let p = pseudonymizer();
    let mut expected_keys: Vec<String> =
        [("band-0001", 1), ("band-0001", 2), ("band-0001", 3), ("band-0001", 4), ("band-0002", 1)]
            .iter()
            .map(|(d, n)| p.reading(ReadingId::new(d, *n)).to_string())
            .collect();
    keys.sort();
    expected_keys.sort();
    assert_eq!(keys, expected_keys, "exactly one row per distinct reading");
    assert!(curated.keys().any(|k| k.contains(&yesterday.format("dt=%Y-%m-%d").to_string())));

    // Each curated file is registered once, pending.
    let registered = registry(&s).await;
    assert_eq!(registered.keys().cloned().collect::<Vec<_>>(), curated.keys().cloned().collect::<Vec<_>>());
    assert!(registered.values().all(|(status, _)| status == "pending"));
    assert_eq!(registered.values().map(|(_, rows)| rows).sum::<u64>(), 5);

    // The poison record is quarantined under this function.
    let quarantined = objects(&s, &s.resources.quarantine_bucket, "quarantine/raw-archiver/").await;
    assert_eq!(quarantined.len(), 1);

    // The loader takes one file; then Lambda delivers the whole stream again.
    let taken = registered.keys().next().unwrap().clone();
    aws_sdk_dynamodb::Client::new(&s.sdk)
        .update_item()
        .table_name(&s.resources.curated_files_table)
        .key("file_key", AttributeValue::S(taken.clone()))
        .update_expression("SET #s = :loaded")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":loaded", AttributeValue::S("loaded".into()))
        .send()
        .await
        .unwrap();
    let (failed, again) = deliver_stream(&s).await;
    assert!(failed.is_empty());
    assert_eq!(again, batches, "the same batches");
    assert_eq!(objects(&s, &s.resources.data_bucket, "raw/").await, raw, "byte-identical raw objects");
    assert_eq!(objects(&s, &s.resources.data_bucket, "curated/readings/").await, curated, "byte-identical files");
    let after = registry(&s).await;
    assert_eq!(after.len(), registered.len(), "one registry item per file");
    assert_eq!(after[&taken].0, "loaded", "a loaded file is never reset to pending");
}
