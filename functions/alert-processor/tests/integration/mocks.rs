//! The alert-processor on the real AWS adapters, with DynamoDB, SNS and S3
//! answering through aws-smithy-mocks: what Lambda is told when one service
//! fails part-way through a batch.
//!
//! Proves, for the adapters as `alert_path` assembles them (not the in-memory
//! ports of `handler.rs`):
//! - SNS throttling an SOS reports exactly that wearer's first record; the claim
//!   is released, the wearer's state is not saved, and another wearer of the
//!   batch that needed no message is not reported;
//! - DynamoDB throttling one wearer's state read reports exactly that wearer's
//!   first record, while another wearer's SOS is stored, sent and saved;
//! - a poison record is reported only when S3 refuses to quarantine it (503
//!   SlowDown), never when it is stored;
//! - every reported identifier is a non-empty sequence number of the batch, in
//!   the `batchItemFailures[].itemIdentifier` shape Lambda reads.
//!
//! SDK retries are off: they would only replay the same mocked answer after a
//! backoff, and the handler's contract is what happens once they give up.
//! Every client panics on a call no rule matches, so an unexpected request fails
//! the test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::common::{PHONE, reading, sms_only, sos};
use alert_processor::Processor;
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use vigil_alerting::{AlertPorts, Alerting, NoSink};
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::deliveries::DynamoDeliveryLog;
use vigil_aws::quarantine::S3Quarantine;
use vigil_aws::sns::SnsNotifier;
use vigil_aws::state::DynamoStateStore;
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_testkit::kinesis::{at, envelope, event, record, seq};

/// The AWS adapters as the alert path assembles them, without the profile cache.
#[derive(Debug)]
struct Adapters;

impl AlertPorts for Adapters {
    type Wearers = DynamoWearerDirectory;
    type States = DynamoStateStore;
    type Alerts = DynamoAlertStore;
    type Deliveries = DynamoDeliveryLog;
    type Notifier = SnsNotifier;
    type Sink = NoSink;
}

type Proc = Processor<Adapters, S3Quarantine>;

const WEARERS: &str = "wearers";
const CAREGIVERS: &str = "caregivers";
const STATE: &str = "state";
const ALERTS: &str = "alerts";
const DELIVERIES: &str = "deliveries";
const BUCKET: &str = "vigil-quarantine";
const NOW: &str = "2026-11-22T10:00:02Z";

// ---------------------------------------------------------------- the fake account

/// What goes wrong; everything else answers as a healthy account would.
#[derive(Debug, Default, Clone, Copy)]
struct Faults {
    /// The state GetItem of this wearer fails with ProvisionedThroughputExceeded.
    state_throttled_for: Option<&'static str>,
    /// Every SNS Publish is throttled.
    sns_throttled: bool,
    /// Every S3 PutObject answers 503 SlowDown.
    s3_slow_down: bool,
}

/// Every call the fake account answered, as `"<table or service> <step> <detail>"`, in order.
type Calls = Arc<Mutex<Vec<String>>>;

fn log(calls: &Calls, entry: String) {
    calls.lock().unwrap().push(entry);
}

fn processor(faults: Faults) -> (Proc, Calls) {
    let calls = Calls::default();
    let dynamodb = dynamodb(faults, &calls);
    let processor = Processor {
        alerting: Alerting {
            wearers: DynamoWearerDirectory::new(dynamodb.clone(), WEARERS, CAREGIVERS),
            states: DynamoStateStore::new(dynamodb.clone(), STATE),
            alerts: DynamoAlertStore::new(dynamodb.clone(), ALERTS),
            deliveries: DynamoDeliveryLog::new(dynamodb, DELIVERIES),
            notifier: SnsNotifier::new(sns(faults, &calls)),
            sink: NoSink,
            links: None,
        },
        quarantine: S3Quarantine::new(s3(faults, &calls), BUCKET),
    };
    (processor, calls)
}

fn key_of(key: Option<&HashMap<String, AttributeValue>>, name: &str) -> String {
    key.and_then(|k| k.get(name)).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

fn dynamodb(faults: Faults, calls: &Calls) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::Client;

    let c = calls.clone();
    let profiles =
        mock!(Client::get_item).match_requests(|r| r.table_name() == Some(WEARERS)).then_compute_output(move |r| {
            let wearer = key_of(r.key(), "wearer_id");
            log(&c, format!("wearers GetItem {wearer}"));
            GetItemOutput::builder().set_item(Some(vigil_aws::wearers::links_item(&sms_only(&wearer)).unwrap())).build()
        });
    // The caregivers the profiles link to, as their records (the same for every wearer).
    let records = mock!(Client::batch_get_item).then_output(|| {
        let items = sms_only("any").caregivers.iter().map(|c| vigil_aws::caregivers::to_item(c).unwrap()).collect();
        BatchGetItemOutput::builder().responses(CAREGIVERS, items).build()
    });
    // The rule is matched on the table; which wearer fails is read from the key.
    let c = calls.clone();
    let states =
        mock!(Client::get_item).match_requests(|r| r.table_name() == Some(STATE)).then_compute_response(move |r| {
            let wearer = key_of(r.key(), "wearer_id");
            if faults.state_throttled_for == Some(wearer.as_str()) {
                log(&c, format!("state GetItem {wearer} throttled"));
                MockResponse::Error(GetItemError::ProvisionedThroughputExceededException(throughput_exceeded()))
            } else {
                log(&c, format!("state GetItem {wearer}"));
                // No item: a wearer seen for the first time.
                MockResponse::Output(GetItemOutput::builder().build())
            }
        });
    // Alerts (put-if-absent) and state (conditional save) both accept: first writes.
    let c = calls.clone();
    let puts = mock!(Client::put_item)
        .match_requests(|r| matches!(r.table_name(), Some(ALERTS | STATE)))
        .then_compute_output(move |r| {
            let wearer = key_of(r.item(), "wearer_id");
            log(&c, format!("{} PutItem {wearer}", r.table_name().unwrap_or_default()));
            PutItemOutput::builder().build()
        });
    let c = calls.clone();
    let deliveries = mock!(Client::update_item)
        .match_requests(|r| r.table_name() == Some(DELIVERIES))
        .then_compute_output(move |r| {
            log(&c, format!("deliveries {}", delivery_step(r.update_expression().unwrap_or_default())));
            UpdateItemOutput::builder().build()
        });
    mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&profiles, &records, &states, &puts, &deliveries], |c| c
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()))
}

fn throughput_exceeded() -> ProvisionedThroughputExceededException {
    ProvisionedThroughputExceededException::builder()
        .message("The level of configured provisioned throughput for the table was exceeded.")
        .meta(
            aws_sdk_dynamodb::error::ErrorMetadata::builder()
                .code("ProvisionedThroughputExceededException")
                .message("mocked")
                .build(),
        )
        .build()
}

/// The delivery log's UpdateItems, told apart by the status they set.
fn delivery_step(update_expression: &str) -> &'static str {
    match update_expression {
        e if e.starts_with("SET #s = :sending") => "claim",
        e if e.starts_with("SET #s = :sent") => "sent",
        e if e.starts_with("SET #s = :released") => "release",
        _ => "unexpected update",
    }
}

fn sns(faults: Faults, calls: &Calls) -> aws_sdk_sns::Client {
    use aws_sdk_sns::Client;

    let c = calls.clone();
    let publish = if faults.sns_throttled {
        // Publish models no throttling error: SNS answers with the generic code "Throttling".
        mock!(Client::publish).then_compute_response(move |_| {
            log(&c, "sns Publish throttled".into());
            MockResponse::Error(PublishError::generic(
                aws_sdk_sns::error::ErrorMetadata::builder().code("Throttling").message("Rate exceeded").build(),
            ))
        })
    } else {
        mock!(Client::publish).then_compute_output(move |r| {
            log(&c, format!("sns Publish {}", r.phone_number().unwrap_or_default()));
            PublishOutput::builder().message_id("m-1").build()
        })
    };
    mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish], |c| c
        .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled()))
}

fn s3(faults: Faults, calls: &Calls) -> aws_sdk_s3::Client {
    use aws_sdk_s3::Client;

    let put: Rule = if faults.s3_slow_down {
        // The whole HTTP answer, so the SDK's own error parsing is part of the path.
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                    <Message>Please reduce your request rate.</Message><RequestId>R1</RequestId></Error>";
        mock!(Client::put_object).sequence().http_status(503, Some(body.into())).repeatedly().build()
    } else {
        let c = calls.clone();
        mock!(Client::put_object).then_compute_output(move |r| {
            log(&c, format!("s3 PutObject {}", r.key().unwrap_or_default()));
            PutObjectOutput::builder().build()
        })
    };
    mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put], |c| c
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()))
}

// ---------------------------------------------------------------- fixtures

/// A calm reading of `wearer` as record `n`.
fn calm(wearer: &str, n: u64) -> KinesisEventRecord {
    record(n, envelope(wearer, vec![reading("2026-11-22T10:59:50+01:00", n)]))
}

fn pressed_sos(wearer: &str, n: u64) -> KinesisEventRecord {
    record(n, envelope(wearer, vec![sos("2026-11-22T10:59:55+01:00", n)]))
}

fn poison(n: u64) -> KinesisEventRecord {
    record(n, b"\x00\xffnot an envelope".to_vec())
}

/// The batch's response, after checking what Lambda needs of every identifier.
async fn respond(p: &Proc, e: &KinesisEvent) -> KinesisEventResponse {
    let (response, _metrics) = p.process(e, at(NOW)).await;
    let batch: Vec<&str> = e.records.iter().map(|r| r.kinesis.sequence_number.as_str()).collect();
    for failure in &response.batch_item_failures {
        let id = failure.item_identifier.as_deref().unwrap_or_default();
        assert!(!id.is_empty() && batch.contains(&id), "reported {id:?}: not a sequence number of {batch:?}");
    }
    response
}

/// The reported sequence numbers, in the response's order.
async fn reported(p: &Proc, e: &KinesisEvent) -> Vec<String> {
    respond(p, e).await.batch_item_failures.into_iter().filter_map(|f| f.item_identifier).collect()
}

fn calls_of(calls: &Calls) -> Vec<String> {
    calls.lock().unwrap().clone()
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn sns_throttling_reports_the_first_record_of_the_wearer_whose_sos_was_not_sent() {
    let batch = event(vec![calm("wearer-7", 1), calm("wearer-42", 2), pressed_sos("wearer-42", 3)]);

    let (p, calls) = processor(Faults { sns_throttled: true, ..Faults::default() });
    assert_eq!(reported(&p, &batch).await, vec![seq(2)]);
    // The claim goes back for the retry, and the state is not saved: the state
    // never says "alerted" before the caregiver was told.
    assert_eq!(
        calls_of(&calls),
        [
            "wearers GetItem wearer-7",
            "state GetItem wearer-7",
            "state PutItem wearer-7",
            "wearers GetItem wearer-42",
            "state GetItem wearer-42",
            "alerts PutItem wearer-42",
            "deliveries claim",
            "sns Publish throttled",
            "deliveries release",
        ]
    );

    // The same batch with SNS answering: nothing to retry.
    let (p, calls) = processor(Faults::default());
    assert!(reported(&p, &batch).await.is_empty());
    let calls = calls_of(&calls);
    for step in [format!("sns Publish {PHONE}").as_str(), "deliveries sent", "state PutItem wearer-42"] {
        assert!(calls.iter().any(|c| c == step), "{step} missing from {calls:#?}");
    }
}

#[tokio::test]
async fn dynamodb_throttling_one_wearers_state_reports_only_that_wearers_first_record() {
    let batch = event(vec![calm("wearer-7", 1), pressed_sos("wearer-42", 2), pressed_sos("wearer-7", 3)]);

    let (p, calls) = processor(Faults { state_throttled_for: Some("wearer-7"), ..Faults::default() });
    assert_eq!(reported(&p, &batch).await, vec![seq(1)]);
    let calls = calls_of(&calls);
    assert!(calls.iter().any(|c| c == "state GetItem wearer-7 throttled"), "{calls:#?}");
    // wearer-42 went all the way; wearer-7 stopped at its state read.
    for step in ["alerts PutItem wearer-42", format!("sns Publish {PHONE}").as_str(), "state PutItem wearer-42"] {
        assert!(calls.iter().any(|c| c == step), "{step} missing from {calls:#?}");
    }
    assert_eq!(calls.iter().filter(|c| c.starts_with("sns Publish")).count(), 1, "{calls:#?}");
    assert!(!calls.iter().any(|c| c.ends_with("PutItem wearer-7")), "{calls:#?}");
}

#[tokio::test]
async fn a_poison_record_is_reported_only_when_s3_will_not_quarantine_it() {
    let batch = event(vec![calm("wearer-42", 1), poison(2), calm("wearer-42", 3)]);

    let (p, _) = processor(Faults { s3_slow_down: true, ..Faults::default() });
    assert_eq!(reported(&p, &batch).await, vec![seq(2)]);

    let (p, calls) = processor(Faults::default());
    assert!(reported(&p, &batch).await.is_empty());
    let key = format!("s3 PutObject quarantine/alert-processor/shardId-000000000001/{}.json", seq(2));
    assert!(calls_of(&calls).contains(&key), "{:#?}", calls_of(&calls));
}

#[tokio::test]
async fn every_reported_identifier_is_a_real_sequence_number_of_the_batch() {
    let batch = event(vec![
        calm("wearer-7", 1),         // state read throttled
        poison(2),                   // S3 SlowDown
        pressed_sos("wearer-42", 3), // SNS throttled
        calm("wearer-42", 4),
        calm("wearer-9", 5), // healthy, needs no message
    ]);
    let (p, _) = processor(Faults { state_throttled_for: Some("wearer-7"), sns_throttled: true, s3_slow_down: true });
    let response = respond(&p, &batch).await;

    // Exactly one entry per failure (Lambda restarts from the lowest), in the
    // shape Lambda reads; the order of entries is not part of the contract.
    let wire = serde_json::to_value(&response).unwrap();
    let mut ids: Vec<&str> =
        wire["batchItemFailures"].as_array().unwrap().iter().map(|f| f["itemIdentifier"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [seq(1), seq(2), seq(3)], "{wire}");
}
