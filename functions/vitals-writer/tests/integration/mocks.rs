//! vitals-writer with the real DynamoDB adapters against answers scripted with
//! aws-smithy-mocks: throttling gives the right batchItemFailures, and
//! UnprocessedItems are resent until every item is written exactly once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ErrorMetadata;
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemError, BatchWriteItemOutput};
use aws_sdk_dynamodb::types::WriteRequest;
use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use chrono::TimeDelta;
use vigil_aws::retry::Backoff;
use vigil_aws::vitals::DynamoVitalsStore;
use vigil_domain::Envelope;
use vigil_domain::reading::Reading;
use vigil_testkit::MemoryQuarantine;
use vigil_testkit::kinesis::{at, record, seq};
use vitals_writer::Writer;

const VITALS: &str = "vitals";

type W = Writer<DynamoVitalsStore, MemoryQuarantine>;

fn no_retries(c: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder {
    c.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
}

fn writer(client: Client, budget: Duration) -> W {
    Writer {
        vitals: DynamoVitalsStore::new(client, VITALS)
            .with_backoff(Backoff { base: Duration::from_millis(1), max: Duration::from_millis(5) })
            .with_budget(budget),
        quarantine: MemoryQuarantine::default(),
        ttl: TimeDelta::days(30),
    }
}

/// `n` readings every 5 s from `start`, seqs from `seq`.
fn envelope(wearer: &str, start: &str, seq: u64, n: u64) -> Vec<u8> {
    let readings = (0..n)
        .map(|k| {
            let mut r = Reading::at((at(start) + TimeDelta::seconds(5 * k as i64)).fixed_offset(), seq + k);
            r.heart_rate_bpm = Some(70);
            r
        })
        .collect();
    serde_json::to_vec(&Envelope {
        v: 1,
        batch_id: "b".into(),
        part: 0,
        parts: 1,
        device_id: "band-0001".into(),
        wearer_id: wearer.into(),
        app_version: "1.4.2".into(),
        received_at: at("2026-11-22T10:00:00Z"),
        readings,
    })
    .unwrap()
}

/// Three records: wearer-7 over 10:59:30–11:00:25 (2 items: the 10:30 and 11:00
/// spans), wearer-42 over 10:59:50–11:01:05 (2 items), wearer-7 at 11:01 (1 item).
fn batch() -> KinesisEvent {
    let mut e = KinesisEvent::default();
    e.records = vec![
        record(1, envelope("wearer-7", "2026-11-22T10:59:30Z", 1, 12)),
        record(2, envelope("wearer-42", "2026-11-22T10:59:50Z", 100, 16)),
        record(3, envelope("wearer-7", "2026-11-22T11:01:00Z", 13, 12)),
    ];
    e
}

fn run(w: &W, e: &KinesisEvent) -> (Vec<String>, serde_json::Value) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (response, metrics) = runtime.block_on(w.process(e.clone(), at("2026-11-22T10:00:02Z")));
    (response.batch_item_failures.into_iter().map(|f| f.item_identifier.unwrap()).collect(), metrics.to_emf(0))
}

fn meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message("mocked").build()
}

fn throttled() -> BatchWriteItemError {
    BatchWriteItemError::ProvisionedThroughputExceededException(
        ProvisionedThroughputExceededException::builder()
            .message("mocked")
            .meta(meta("ProvisionedThroughputExceededException"))
            .build(),
    )
}

fn key(request: &WriteRequest) -> (String, String) {
    let item = request.put_request().unwrap().item();
    (item["wearer_id"].as_s().unwrap().clone(), item["sk"].as_s().unwrap().clone())
}

#[test]
fn dynamodb_throttling_reports_every_unwritten_record() {
    let write = mock!(Client::batch_write_item).then_error(throttled);
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&write], no_retries);
    let (failed, emf) = run(&writer(client, Duration::from_millis(100)), &batch());
    assert_eq!(failed, vec![seq(1), seq(2), seq(3)]);
    assert!(write.num_calls() > 1, "throttled calls are resent until the budget is spent");
    assert_eq!(emf.get("VitalsItems"), None, "a zero count is left out");
    assert_eq!(emf["VitalsItemsUnwritten"], 5.0);
}

#[test]
fn unprocessed_items_are_resent_until_written_and_the_batch_succeeds() {
    // Call 1: three of five items come back; call 2: one comes back; call 3: done.
    let calls = Arc::new(AtomicUsize::new(0));
    let written: Arc<Mutex<BTreeMap<(String, String), usize>>> = Arc::default();
    let (c, w) = (calls.clone(), written.clone());
    let write = mock!(Client::batch_write_item).then_compute_output(move |req| {
        let sent = &req.request_items().unwrap()[VITALS];
        let keep_back = match c.fetch_add(1, Ordering::SeqCst) {
            0 => 3,
            1 => 1,
            _ => 0,
        };
        let (accepted, back) = sent.split_at(sent.len() - keep_back);
        for request in accepted {
            *w.lock().unwrap().entry(key(request)).or_default() += 1;
        }
        BatchWriteItemOutput::builder().unprocessed_items(VITALS, back.to_vec()).build()
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&write], no_retries);
    let (failed, emf) = run(&writer(client, Duration::from_secs(5)), &batch());

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(write.num_calls(), 3);
    let written = written.lock().unwrap().clone();
    assert_eq!(written.len(), 5, "{written:?}");
    assert!(written.values().all(|&n| n == 1), "each item written exactly once: {written:?}");
    assert_eq!(emf["VitalsItems"], 5.0);
    assert_eq!(emf["UnprocessedRetries"], 4.0);
}

#[test]
fn items_unprocessed_at_the_deadline_report_only_their_records() {
    // wearer-42's items (the middle record) never get through.
    let write = mock!(Client::batch_write_item).then_compute_output(|req| {
        let sent = &req.request_items().unwrap()[VITALS];
        let back: Vec<WriteRequest> = sent.iter().filter(|r| key(r).0 == "wearer-42").cloned().collect();
        BatchWriteItemOutput::builder().unprocessed_items(VITALS, back).build()
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&write], no_retries);
    let (failed, emf) = run(&writer(client, Duration::from_millis(150)), &batch());
    assert_eq!(failed, vec![seq(2)]);
    assert_eq!(emf["VitalsItems"], 3.0);
    assert_eq!(emf["VitalsItemsUnwritten"], 2.0);
}
