//! The local event source mapping against the local endpoint (moto's server):
//! records put on a real stream reach a handler as Lambda would deliver them.
//! Start the endpoint with `bash localstack/endpoint.sh start`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use base64::Engine as _;
use vigil_local::esm::{EventSourceMapping, FailedBatch, StartingPosition};
use vigil_local::{endpoint, provision};

// A bound, not a measure: these drain in well under a second, but in a full CI run two of
// them once waited over 30 s on the shared moto server while other tests loaded it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// A record as put: where it landed and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Put {
    shard_id: String,
    sequence_number: String,
    partition_key: String,
    data: Vec<u8>,
}

async fn new_stream(shards: i32) -> (aws_config::SdkConfig, aws_sdk_kinesis::Client, String) {
    let sdk = endpoint::require().await;
    let client = aws_sdk_kinesis::Client::new(&sdk);
    let stream = endpoint::unique_name("esm");
    provision::create_stream(&client, &stream, shards).await.expect("create stream");
    (sdk, client, stream)
}

/// Puts `(partition key, data)` records in one PutRecords call, in order.
async fn put(client: &aws_sdk_kinesis::Client, stream: &str, records: &[(String, Vec<u8>)]) -> Vec<Put> {
    let entries = records
        .iter()
        .map(|(key, data)| {
            PutRecordsRequestEntry::builder().partition_key(key).data(Blob::new(data.clone())).build().expect("entry")
        })
        .collect::<Vec<_>>();
    let out = client.put_records().stream_name(stream).set_records(Some(entries)).send().await.expect("put records");
    assert_eq!(out.failed_record_count(), Some(0));
    out.records()
        .iter()
        .zip(records)
        .map(|(r, (key, data))| Put {
            shard_id: r.shard_id().expect("shard id").to_owned(),
            sequence_number: r.sequence_number().expect("sequence number").to_owned(),
            partition_key: key.clone(),
            data: data.clone(),
        })
        .collect()
}

fn payloads(texts: &[&str]) -> Vec<(String, Vec<u8>)> {
    texts.iter().map(|t| ("wearer-1".to_owned(), t.as_bytes().to_vec())).collect()
}

fn quick(stream: &str) -> EventSourceMapping {
    EventSourceMapping {
        maximum_batching_window: Duration::ZERO,
        poll_interval: Duration::from_millis(20),
        ..EventSourceMapping::new(stream)
    }
}

fn seqs(event: &KinesisEvent) -> Vec<String> {
    event.records.iter().map(|r| r.kinesis.sequence_number.clone()).collect()
}

fn datas(event: &KinesisEvent) -> Vec<String> {
    event.records.iter().map(|r| String::from_utf8_lossy(&r.kinesis.data).into_owned()).collect()
}

fn fail_at(ids: &[Option<&str>]) -> KinesisEventResponse {
    let mut response = KinesisEventResponse::default();
    for id in ids {
        let mut failure = KinesisBatchItemFailure::default();
        failure.item_identifier = id.map(str::to_owned);
        response.batch_item_failures.push(failure);
    }
    response
}

/// Every event the handler received, in order.
type Seen = Arc<Mutex<Vec<KinesisEvent>>>;

fn seen(log: &Seen) -> Vec<KinesisEvent> {
    log.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Records the event and answers with `respond(invocation number, event)`.
fn recording(
    log: &Seen,
    respond: impl Fn(usize, &KinesisEvent) -> Result<KinesisEventResponse, String>,
) -> impl Fn(KinesisEvent) -> std::future::Ready<Result<KinesisEventResponse, String>> {
    let log = log.clone();
    move |event| {
        let mut events = log.lock().unwrap_or_else(PoisonError::into_inner);
        let answer = respond(events.len(), &event);
        events.push(event);
        std::future::ready(answer)
    }
}

#[tokio::test]
async fn every_record_reaches_the_handler_once_in_shard_order_as_lambda_sends_it() {
    let (sdk, client, stream) = new_stream(2).await;
    let records: Vec<_> =
        (0..40).map(|i| (format!("wearer-{}", i % 8), format!("{{\"reading\":{i}}}").into_bytes())).collect();
    let put = put(&client, &stream, &records).await;
    let arn = client.describe_stream_summary().stream_name(&stream).send().await.expect("describe");
    let arn = arn.stream_description_summary().expect("summary").stream_arn().to_owned();

    let log = Seen::default();
    let config = EventSourceMapping { batch_size: 7, ..quick(&stream) };
    let mut esm = config
        .start(&sdk, recording(&log, |_, _| Ok(KinesisEventResponse::default())), Vec::new())
        .await
        .expect("start");
    let stats = esm.run_until_idle(IDLE_TIMEOUT).await.expect("idle");

    let events = seen(&log);
    let mut delivered = Vec::new();
    for event in &events {
        assert!(!event.records.is_empty() && event.records.len() <= 7, "batch of {}", event.records.len());
        let json = serde_json::to_value(event).expect("serialize");
        for (i, r) in event.records.iter().enumerate() {
            let shard_id = r.event_id.as_deref().expect("eventID").split(':').next().expect("shard").to_owned();
            assert_eq!(r.event_id.as_deref(), Some(format!("{shard_id}:{}", r.kinesis.sequence_number).as_str()));
            assert_eq!(r.event_source.as_deref(), Some("aws:kinesis"));
            assert_eq!(r.event_name.as_deref(), Some("aws:kinesis:record"));
            assert_eq!(r.event_version.as_deref(), Some("1.0"));
            assert_eq!(r.event_source_arn.as_deref(), Some(arn.as_str()));
            assert!(r.aws_region.as_deref().is_some_and(|region| !region.is_empty()));
            assert_eq!(r.kinesis.kinesis_schema_version.as_deref(), Some("1.0"));
            assert!(r.kinesis.approximate_arrival_timestamp.timestamp() > 1_600_000_000);
            // On the wire the data is base64, as Lambda sends it.
            let wire = &json["Records"][i];
            let data = base64::engine::general_purpose::STANDARD
                .decode(wire["kinesis"]["data"].as_str().expect("base64 data"))
                .expect("valid base64");
            assert_eq!(wire["eventSourceARN"], arn.as_str());
            delivered.push(Put {
                shard_id,
                sequence_number: r.kinesis.sequence_number.clone(),
                partition_key: r.kinesis.partition_key.clone(),
                data,
            });
        }
        let shards: std::collections::BTreeSet<_> =
            delivered[delivered.len() - event.records.len()..].iter().map(|p| &p.shard_id).collect();
        assert_eq!(shards.len(), 1, "a batch holds one shard's records");
    }

    // Exactly once each, and in each shard the order it was put in (PutRecords keeps
    // a call's order within a shard).
    assert_eq!(delivered.len(), put.len());
    for shard in ["shardId-000000000000", "shardId-000000000001"] {
        let sent: Vec<_> = put.iter().filter(|p| p.shard_id == shard).collect();
        let got: Vec<_> = delivered.iter().filter(|p| p.shard_id == shard).collect();
        assert!(!sent.is_empty(), "{shard} got records");
        assert_eq!(got, sent, "{shard}");
    }
    assert_eq!(stats.batches_invoked, events.len() as u64);
    assert_eq!((stats.records_delivered, stats.records_succeeded, stats.retries), (40, 40, 0));
    assert!(stats.shards.iter().all(|s| s.pending_records == 0 && s.iterator_age_ms == 0));
    assert!(esm.destination().is_empty());
}

#[tokio::test]
async fn a_reported_failure_redelivers_from_the_lowest_reported_record_only() {
    let (sdk, client, stream) = new_stream(1).await;
    let first = put(&client, &stream, &payloads(&["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9"])).await;

    let log = Seen::default();
    // First invocation: records 7 and 4 failed (reported out of order); then all succeed.
    let handler = recording(&log, |call, event| {
        let seq = |i: usize| event.records[i].kinesis.sequence_number.clone();
        Ok(if call == 0 { fail_at(&[Some(&seq(7)), Some(&seq(4))]) } else { KinesisEventResponse::default() })
    });
    let config = EventSourceMapping { batch_size: 10, ..quick(&stream) };
    let mut esm = config.start(&sdk, handler, Vec::new()).await.expect("start");
    let stats = esm.run_until_idle(IDLE_TIMEOUT).await.expect("idle");

    let events = seen(&log);
    let all: Vec<_> = first.iter().map(|p| p.sequence_number.clone()).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(seqs(&events[0]), all);
    assert_eq!(seqs(&events[1]), all[4..], "retried from record 4, not before");
    assert_eq!((stats.records_succeeded, stats.retries), (10, 1));

    // The checkpoint moved past the batch: new records come alone.
    let later = put(&client, &stream, &payloads(&["s0", "s1", "s2"])).await;
    esm.run_until_idle(IDLE_TIMEOUT).await.expect("idle");
    let events = seen(&log);
    assert_eq!(events.len(), 3);
    assert_eq!(seqs(&events[2]), later.iter().map(|p| p.sequence_number.clone()).collect::<Vec<_>>());
    assert!(esm.destination().is_empty());
}

#[tokio::test]
async fn an_empty_null_or_unknown_identifier_redelivers_the_whole_batch() {
    let (sdk, client, stream) = new_stream(1).await;
    let put = put(&client, &stream, &payloads(&["a", "b", "c", "d", "e"])).await;

    let log = Seen::default();
    let handler = recording(&log, |call, event| {
        let valid = event.records[3].kinesis.sequence_number.clone();
        Ok(match call {
            0 => fail_at(&[Some("")]),
            1 => fail_at(&[None]),
            // A valid identifier does not rescue an unknown one.
            2 => fail_at(&[Some(&valid), Some("not-in-this-batch")]),
            _ => KinesisEventResponse::default(),
        })
    });
    let config = EventSourceMapping { batch_size: 5, maximum_retry_attempts: 5, ..quick(&stream) };
    let mut esm = config.start(&sdk, handler, Vec::new()).await.expect("start");
    let stats = esm.run_until_idle(IDLE_TIMEOUT).await.expect("idle");

    let all: Vec<_> = put.iter().map(|p| p.sequence_number.clone()).collect();
    let events = seen(&log);
    assert_eq!(events.len(), 4);
    for event in &events {
        assert_eq!(seqs(event), all);
    }
    assert_eq!((stats.records_succeeded, stats.retries, stats.records_to_destination), (5, 3, 0));
}

#[tokio::test]
async fn a_function_error_exhausts_retries_then_goes_to_the_destination_and_the_shard_moves_on() {
    let (sdk, client, stream) = new_stream(1).await;
    let put = put(&client, &stream, &payloads(&["a", "poison", "b", "c", "d", "e"])).await;

    let log = Seen::default();
    let handler = recording(&log, |_, event| {
        if datas(event).iter().any(|d| d == "poison") {
            Err("cannot decode record".to_owned())
        } else {
            Ok(KinesisEventResponse::default())
        }
    });
    let config = EventSourceMapping { batch_size: 3, maximum_retry_attempts: 2, ..quick(&stream) };
    let mut esm = config.start(&sdk, handler, Vec::new()).await.expect("start");
    let stats = esm.run_until_idle(IDLE_TIMEOUT).await.expect("idle");

    let events = seen(&log);
    let batches: Vec<_> = events.iter().map(datas).collect();
    let poisoned = vec!["a", "poison", "b"];
    assert_eq!(batches, vec![poisoned.clone(), poisoned.clone(), poisoned, vec!["c", "d", "e"]], "1 try + 2 retries");

    let failures: &Vec<FailedBatch> = esm.destination();
    assert_eq!(failures.len(), 1);
    let info = &failures[0].kinesis_batch_info;
    assert_eq!(info.shard_id, put[0].shard_id);
    assert_eq!(info.start_sequence_number, put[0].sequence_number);
    assert_eq!(info.end_sequence_number, put[2].sequence_number);
    assert_eq!(info.batch_size, 3);
    assert!(info.stream_arn.ends_with(&format!("stream/{stream}")));
    assert_eq!(failures[0].request_context.condition, "RetryAttemptsExhausted");
    assert_eq!(failures[0].request_context.approximate_invoke_count, 3);
    assert_eq!(failures[0].response_context.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(failures[0].response_context.reason, "cannot decode record");
    assert_eq!((stats.retries, stats.records_to_destination, stats.records_succeeded), (2, 3, 3));
}

#[tokio::test]
async fn bisect_isolates_a_single_poison_record() {
    let (sdk, client, stream) = new_stream(1).await;
    let texts = ["r0", "r1", "r2", "r3", "r4", "poison", "r6", "r7"];
    let put = put(&client, &stream, &payloads(&texts)).await;

    let log = Seen::default();
    let handler = recording(&log, |_, event| {
        if datas(event).iter().any(|d| d == "poison") {
            Err("poison".to_owned())
        } else {
            Ok(KinesisEventResponse::default())
        }
    });
    let config = EventSourceMapping {
        batch_size: 8,
        maximum_retry_attempts: 1,
        bisect_batch_on_function_error: true,
        ..quick(&stream)
    };
    let mut esm = config.start(&sdk, handler, Vec::new()).await.expect("start");
    let stats = esm.run_until_idle(IDLE_TIMEOUT).await.expect("idle");

    // Everything but the poison record succeeded exactly once, in order.
    let succeeded: Vec<_> =
        seen(&log).iter().map(datas).filter(|batch| !batch.iter().any(|d| d == "poison")).flatten().collect();
    assert_eq!(succeeded, ["r0", "r1", "r2", "r3", "r4", "r6", "r7"]);

    let failures = esm.destination();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let info = &failures[0].kinesis_batch_info;
    assert_eq!((info.batch_size, &info.start_sequence_number), (1, &put[5].sequence_number));
    assert_eq!(info.end_sequence_number, put[5].sequence_number);
    // 8 -> 4+4, then 4 -> 2+2, then 2 -> 1+1.
    assert_eq!((stats.bisections, stats.records_to_destination, stats.records_succeeded), (3, 1, 7));
}

#[tokio::test]
async fn latest_skips_records_already_on_the_stream() {
    let (sdk, client, stream) = new_stream(1).await;
    put(&client, &stream, &payloads(&["old-1", "old-2"])).await;

    let log = Seen::default();
    let config = EventSourceMapping { starting_position: StartingPosition::Latest, ..quick(&stream) };
    let mut esm = config
        .start(&sdk, recording(&log, |_, _| Ok(KinesisEventResponse::default())), Vec::new())
        .await
        .expect("start");
    put(&client, &stream, &payloads(&["new-1", "new-2"])).await;
    esm.run_until_idle(IDLE_TIMEOUT).await.expect("idle");

    let delivered: Vec<_> = seen(&log).iter().flat_map(datas).collect();
    assert_eq!(delivered, ["new-1", "new-2"]);
}

#[tokio::test]
async fn at_timestamp_starts_at_the_first_record_that_arrived_at_or_after_it() {
    let (sdk, client, stream) = new_stream(2).await;
    let wearers = |prefix: &str| -> Vec<(String, Vec<u8>)> {
        (0..6).map(|i| (format!("wearer-{i}"), format!("{prefix}-{i}").into_bytes())).collect()
    };
    put(&client, &stream, &wearers("before")).await;
    // Arrival times are the endpoint's clock (the same host): leave a clear gap on both sides.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let at = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = put(&client, &stream, &wearers("after")).await;

    let log = Seen::default();
    let config = EventSourceMapping { starting_position: StartingPosition::AtTimestamp(at), ..quick(&stream) };
    let mut esm = config
        .start(&sdk, recording(&log, |_, _| Ok(KinesisEventResponse::default())), Vec::new())
        .await
        .expect("start");
    esm.run_until_idle(IDLE_TIMEOUT).await.expect("idle");

    let mut delivered: Vec<_> = seen(&log).iter().flat_map(datas).collect();
    delivered.sort();
    let mut expected: Vec<_> = after.iter().map(|p| String::from_utf8_lossy(&p.data).into_owned()).collect();
    expected.sort();
    assert_eq!(delivered, expected, "only the records put after the timestamp, on every shard");
    let shards: std::collections::HashSet<_> = after.iter().map(|p| p.shard_id.as_str()).collect();
    assert!(shards.len() > 1, "the records span both shards: {shards:?}");
    assert!(
        seen(&log).iter().flat_map(|e| &e.records).all(|r| r.kinesis.approximate_arrival_timestamp.0 >= at),
        "every delivered record arrived at or after the timestamp"
    );
}

#[tokio::test]
async fn the_batching_window_gathers_records_that_arrive_within_it() {
    let (sdk, client, stream) = new_stream(1).await;
    put(&client, &stream, &payloads(&["early"])).await;

    let log = Seen::default();
    let window = Duration::from_millis(800);
    let config = EventSourceMapping { maximum_batching_window: window, ..quick(&stream) };
    let mut esm = config
        .start(&sdk, recording(&log, |_, _| Ok(KinesisEventResponse::default())), Vec::new())
        .await
        .expect("start");
    let started = tokio::time::Instant::now();
    let late_put = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        put(&client, &stream, &payloads(&["late"])).await;
    };
    let (drained, ()) = tokio::join!(esm.run_until_idle(IDLE_TIMEOUT), late_put);
    drained.expect("idle");

    let batches: Vec<_> = seen(&log).iter().map(datas).collect();
    assert_eq!(batches, vec![vec!["early", "late"]]);
    assert!(started.elapsed() >= window);
}

#[tokio::test]
async fn run_delivers_until_shutdown() {
    let (sdk, client, stream) = new_stream(2).await;
    let log = Seen::default();
    let mut esm = quick(&stream)
        .start(&sdk, recording(&log, |_, _| Ok(KinesisEventResponse::default())), Vec::new())
        .await
        .expect("start");

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let feed = async {
        put(&client, &stream, &payloads(&["x", "y", "z"])).await;
        while seen(&log).iter().map(|e| e.records.len()).sum::<usize>() < 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop.send(());
    };
    let run = tokio::time::timeout(
        IDLE_TIMEOUT,
        esm.run(async {
            let _ = stopped.await;
        }),
    );
    let (stats, ()) = tokio::join!(run, feed);
    let stats = stats.expect("stopped in time").expect("run");
    assert_eq!(stats.records_succeeded, 3);
}

#[tokio::test]
async fn with_a_parallelization_factor_batches_run_concurrently_and_each_key_stays_in_order() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    let (sdk, client, stream) = new_stream(1).await;
    let records: Vec<_> =
        (0..48).map(|i| (format!("wearer-{}", i % 12), format!("{}:{i}", i % 12).into_bytes())).collect();
    put(&client, &stream, &records).await;

    let log = Seen::default();
    let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let handler = |event: KinesisEvent| {
        let (log, running, most) = (&log, &running, &most);
        async move {
            log.lock().unwrap_or_else(PoisonError::into_inner).push(event);
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, String>(KinesisEventResponse::default())
        }
    };
    let config = EventSourceMapping { batch_size: 3, parallelization_factor: 4, ..quick(&stream) };
    let mut esm = config.start(&sdk, handler, Vec::new()).await.expect("start");
    let stats = esm.run_until_idle(IDLE_TIMEOUT).await.expect("idle");

    // Every record once; per partition key, in the order it was put.
    let events = seen(&log);
    let mut by_key = std::collections::BTreeMap::<String, Vec<usize>>::new();
    for r in events.iter().flat_map(|e| &e.records) {
        let data = String::from_utf8_lossy(&r.kinesis.data).into_owned();
        let (key, i) = data.split_once(':').expect("key:i");
        by_key.entry(key.to_owned()).or_default().push(i.parse().expect("number"));
    }
    assert_eq!(by_key.values().map(Vec::len).sum::<usize>(), 48);
    for (key, order) in &by_key {
        assert!(order.windows(2).all(|w| w[0] < w[1]), "key {key} out of order: {order:?}");
    }
    // Lanes ran at once, never more than the factor.
    let most = most.load(Ordering::SeqCst);
    assert!((2..=4).contains(&most), "{most} batches at once");
    assert_eq!((stats.records_delivered, stats.records_succeeded), (48, 48));
}

#[tokio::test]
async fn a_parallelization_factor_out_of_range_is_refused() {
    let (sdk, _client, stream) = new_stream(1).await;
    let log = Seen::default();
    for factor in [0, 11] {
        let config = EventSourceMapping { parallelization_factor: factor, ..quick(&stream) };
        let err = config.start(&sdk, recording(&log, |_, _| Ok(KinesisEventResponse::default())), Vec::new()).await;
        assert!(err.is_err_and(|e| e.to_string().contains("parallelization_factor")), "factor {factor}");
    }
}
