//! The batch's time budget against an endpoint that accepts connections and never
//! answers: with its stores stalled, vitals-writer reports every record of the batch for
//! retry (`batchItemFailures`) before the invocation's deadline, rather than
//! Lambda's timeout failing the invocation unreported.

use std::time::{Duration, Instant};

use aws_lambda_events::event::kinesis::KinesisEvent;
use vigil_lambda::Deadline;
use vigil_lambda::stream::StreamFunction;
use vigil_testkit::stalled::Stalled;

/// The invocation's time: shorter than one SDK attempt (5 s).
const TIMEOUT: Duration = Duration::from_secs(4);
const READINGS: &[u8] = include_bytes!("../../../../events/kinesis-readings.json");

#[tokio::test]
async fn stalled_stores_report_every_record_before_the_deadline() {
    let stalled = Stalled::start().await;
    let sdk = vigil_local::endpoint::sdk_config(&stalled.url()).await;
    let env = [("VITALS_TABLE", "vitals"), ("QUARANTINE_BUCKET", "quarantine")];
    let function = vitals_writer::build(&env, &sdk).await.unwrap();
    let event: KinesisEvent = serde_json::from_slice(READINGS).unwrap();
    let sequence_numbers: Vec<String> = event.records.iter().map(|r| r.kinesis.sequence_number.clone()).collect();
    assert!(!sequence_numbers.is_empty());

    let started = Instant::now();
    let deadline = Deadline::after(TIMEOUT, vigil_lambda::stream::DEADLINE_MARGIN);
    let (response, metrics) = function.process_within(event, chrono::Utc::now(), deadline).await;
    let took = started.elapsed();

    let reported: Vec<String> =
        response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap_or_default()).collect();
    assert_eq!(reported, sequence_numbers);
    assert_eq!(metrics.get("RecordsFailed"), sequence_numbers.len() as f64);
    assert!(took < TIMEOUT, "answered after {took:?}, past the invocation's {TIMEOUT:?}");
}
