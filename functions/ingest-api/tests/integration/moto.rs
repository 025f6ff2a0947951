//! Integration: uploads through the handler into Kinesis on a real
//! AWS-compatible endpoint (moto's server or LocalStack at AWS_ENDPOINT_URL,
//! default http://127.0.0.1:4566), read back from the stream.
//! Start the endpoint with `bash localstack/endpoint.sh start`.

use std::time::Duration;

use crate::common::*;
use chrono::{DateTime, Utc};
use ingest_api::Ingest;
use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use vigil_aws::kinesis::KinesisPublisher;
use vigil_aws::registry::DynamoDeviceDirectory;
use vigil_aws::wearers::DynamoWearerLimits;
use vigil_domain::Envelope;
use vigil_domain::cache::CachedDirectory;
use vigil_local::provision::{Resources, provision};
use vigil_local::stream::read_all;

type RealIngest = Ingest<KinesisPublisher, CachedDirectory<DynamoDeviceDirectory>, DynamoWearerLimits>;

async fn setup() -> (RealIngest, aws_sdk_kinesis::Client, Resources) {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources::unique("ingest");
    provision(&sdk, &resources).await.unwrap();
    let registry = DynamoDeviceDirectory::new(aws_sdk_dynamodb::Client::new(&sdk), &resources.devices_table);
    registry.put(&band_0001()).await.unwrap();
    let kinesis = aws_sdk_kinesis::Client::new(&sdk);
    let ingest = Ingest {
        publisher: KinesisPublisher::new(kinesis.clone(), &resources.stream),
        directory: CachedDirectory::new(registry, Duration::from_secs(60), Duration::from_secs(10)),
        limits: DynamoWearerLimits::new(aws_sdk_dynamodb::Client::new(&sdk), &resources.wearers_table),
        upload: Intervals::default(),
        publish_budget: Duration::from_secs(5),
    };
    (ingest, kinesis, resources)
}

fn envelopes(records: &[vigil_local::stream::StoredRecord]) -> Vec<Envelope> {
    records.iter().map(|r| Envelope::decode(&r.data).unwrap()).collect()
}

#[tokio::test]
async fn uploads_land_on_the_stream_exactly_as_accepted() {
    let (ingest, kinesis, resources) = setup().await;

    for event in [V2_UPLOAD, V1_UPLOAD, V2_MIXED, V2_INVALID, V2_UNAUTHORIZED] {
        ingest.handle_at(request(event), event_time()).await;
    }
    let records = read_all(&kinesis, &resources.stream).await.unwrap();
    // v2 and v1 carry the same upload (3 readings each), the mixed one 1 valid
    // reading; the invalid and unauthorized ones put nothing on the stream.
    assert_eq!(records.len(), 3, "{records:?}");
    assert!(records.iter().all(|r| r.partition_key == "wearer-42"));
    // One wearer, one shard: arrival order is kept.
    assert!(records.windows(2).all(|w| w[0].shard_id == w[1].shard_id));
    let envs = envelopes(&records);
    let seqs: Vec<Vec<u64>> = envs.iter().map(|e| e.readings.iter().map(|r| r.seq).collect()).collect();
    assert_eq!(seqs, vec![vec![1001, 1002, 1003], vec![1001, 1002, 1003], vec![2001]]);
    // A resent reading has the same id, so sinks can deduplicate it.
    assert_eq!(envs[0].reading_id(&envs[0].readings[0]), envs[1].reading_id(&envs[1].readings[0]));
}

#[tokio::test]
async fn an_hour_of_buffered_readings_arrives_whole() {
    let (ingest, kinesis, resources) = setup().await;
    let now: DateTime<Utc> = Utc::now();
    let readings: Vec<Value> = (0..720)
        .map(|i| {
            json!({
                "ts": (now - chrono::Duration::seconds(5 * (720 - i))).to_rfc3339(),
                "seq": 50_000 + i,
                "heart_rate_bpm": 60 + (i % 30),
                "spo2_pct": 95,
                "steps": i % 9,
                "worn": true,
                "location": {"lat": 40.0 + (i as f64) / 1e4, "lon": -3.7, "accuracy_m": 10.0}
            })
        })
        .collect();
    let body = json!({"device_id": "band-0001", "batch_id": "hour-1", "app_version": "1.4.2", "readings": readings});
    let response = ingest.handle_at(edited(V2_UPLOAD, |e| e["body"] = json!(body.to_string())), now).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(body_json(&response)["accepted"], 720);

    let envs = envelopes(&read_all(&kinesis, &resources.stream).await.unwrap());
    let got: Vec<u64> = envs.iter().flat_map(|e| e.readings.iter().map(|r| r.seq)).collect();
    assert_eq!(got, (50_000..50_720).collect::<Vec<u64>>());
}

#[tokio::test]
async fn refused_uploads_put_nothing_on_the_stream() {
    let (ingest, kinesis, resources) = setup().await;
    let foreign = edited(V2_UPLOAD, |e| e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("intruder"));
    assert_eq!(ingest.handle_at(foreign, event_time()).await.status(), StatusCode::FORBIDDEN);
    let unknown = edited(V2_UPLOAD, |e| {
        let mut body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
        body["device_id"] = json!("band-unknown");
        e["body"] = json!(body.to_string());
    });
    assert_eq!(ingest.handle_at(unknown, event_time()).await.status(), StatusCode::FORBIDDEN);
    assert!(read_all(&kinesis, &resources.stream).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_stream_is_a_500_without_detail() {
    let (mut ingest, kinesis, _) = setup().await;
    ingest.publisher = KinesisPublisher::new(kinesis, "no-such-stream");
    let response = ingest.handle_at(request(V2_UPLOAD), event_time()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = String::from_utf8(response.body().as_ref().to_vec()).unwrap();
    assert!(!text.contains("no-such-stream") && !text.contains("ResourceNotFound"), "{text}");
}

#[tokio::test]
async fn the_upload_policy_carries_the_wearers_stored_limits() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let (ingest, _, resources) = setup().await;
    let policy = |response: lambda_http::Response<lambda_http::Body>| body_json(&response)["upload_policy"].clone();
    // No profile yet: the default limits.
    let before = policy(ingest.handle_at(request(V2_UPLOAD), event_time()).await);
    assert_eq!((before["heart_rate_above_bpm"].as_i64(), before["routine_every_s"].as_i64()), (Some(120), Some(300)));

    // A profile that sets one limit and leaves the others to their defaults.
    let sdk = vigil_local::endpoint::require().await;
    let thresholds = AttributeValue::M([("heart_rate_high_bpm".to_owned(), AttributeValue::N("110".into()))].into());
    aws_sdk_dynamodb::Client::new(&sdk)
        .put_item()
        .table_name(&resources.wearers_table)
        .item("wearer_id", AttributeValue::S("wearer-42".into()))
        .item("thresholds", thresholds)
        .send()
        .await
        .unwrap();
    let after = policy(ingest.handle_at(request(V2_UPLOAD), event_time()).await);
    assert_eq!(after["heart_rate_above_bpm"], 110, "{after}");
    assert_eq!((after["heart_rate_below_bpm"].as_i64(), after["spo2_below_pct"].as_i64()), (Some(40), Some(90)));
}
