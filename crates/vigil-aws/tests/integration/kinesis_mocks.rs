//! KinesisPublisher against exact PutRecords responses injected with
//! aws-smithy-mocks: partial failures, throttling, deadlines, refusals.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::error::ErrorMetadata;
use aws_sdk_kinesis::operation::put_records::{PutRecordsError, PutRecordsInput, PutRecordsOutput};
use aws_sdk_kinesis::types::PutRecordsResultEntry;
use aws_sdk_kinesis::types::error::{ProvisionedThroughputExceededException, ResourceNotFoundException};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use proptest::prelude::*;
use vigil_aws::kinesis::KinesisPublisher;
use vigil_aws::retry::Backoff;
use vigil_domain::ports::{PublishError, RecordPublisher, StreamRecord};

fn records(n: usize) -> Vec<StreamRecord> {
    (0..n)
        .map(|i| StreamRecord { partition_key: format!("w-{}", i % 7), data: format!("record-{i}").into_bytes() })
        .collect()
}

fn ok_entry(seq: usize) -> PutRecordsResultEntry {
    PutRecordsResultEntry::builder().sequence_number(format!("{seq:020}")).shard_id("shardId-000000000000").build()
}

fn throttled_entry() -> PutRecordsResultEntry {
    PutRecordsResultEntry::builder()
        .error_code("ProvisionedThroughputExceededException")
        .error_message("Rate exceeded for shard shardId-000000000000")
        .build()
}

fn output(entries: Vec<PutRecordsResultEntry>) -> PutRecordsOutput {
    let failed = entries.iter().filter(|e| e.error_code().is_some()).count();
    PutRecordsOutput::builder()
        .set_records(Some(entries))
        .failed_record_count(i32::try_from(failed).unwrap())
        .build()
        .unwrap()
}

fn data_of(input: &PutRecordsInput) -> Vec<Vec<u8>> {
    input.records().iter().map(|r| r.data().as_ref().to_vec()).collect()
}

fn fast(client: Client) -> KinesisPublisher {
    KinesisPublisher::new(client, "readings")
        .with_backoff(Backoff { base: Duration::from_millis(1), max: Duration::from_millis(5) })
}

/// What the fake stream saw: every call's entries, and every entry it stored.
#[derive(Default)]
struct Seen {
    calls: Vec<Vec<Vec<u8>>>,
    written: Vec<Vec<u8>>,
}

#[tokio::test]
async fn throttled_entries_are_resent_alone() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let rule = mock!(Client::put_records).then_compute_output(move |input| {
        let mut seen = s.lock().unwrap();
        let data = data_of(input);
        seen.calls.push(data.clone());
        let first_call = seen.calls.len() == 1;
        // First call: entries 1 and 3 throttled. Later calls: all succeed.
        let entries = data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                if first_call && (i == 1 || i == 3) {
                    throttled_entry()
                } else {
                    seen.written.push(d.clone());
                    ok_entry(seen.written.len())
                }
            })
            .collect();
        output(entries)
    });
    let client = mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, [&rule]);
    let report = fast(client).publish(records(5), Duration::from_secs(5)).await.unwrap();

    let seen = seen.lock().unwrap();
    assert_eq!(seen.calls.len(), 2);
    assert_eq!(seen.calls[1], vec![b"record-1".to_vec(), b"record-3".to_vec()]);
    let mut written = seen.written.clone();
    written.sort();
    let mut expected: Vec<Vec<u8>> = records(5).into_iter().map(|r| r.data).collect();
    expected.sort();
    assert_eq!(written, expected);
    assert_eq!((report.calls, report.resent), (2, 2));
}

#[tokio::test]
async fn a_throttled_call_is_retried_whole() {
    let rule = mock!(Client::put_records)
        .sequence()
        .error(|| {
            PutRecordsError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder()
                    .message("Rate exceeded")
                    .meta(ErrorMetadata::builder().code("ProvisionedThroughputExceededException").build())
                    .build(),
            )
        })
        .times(4)
        .output(|| output((0..3).map(ok_entry).collect()))
        .build();
    let client = mock_client!(aws_sdk_kinesis, RuleMode::Sequential, [&rule], |c| c
        .retry_config(aws_sdk_kinesis::config::retry::RetryConfig::standard().with_max_attempts(2)));
    let report = fast(client).publish(records(3), Duration::from_secs(30)).await.unwrap();
    // The SDK retried once inside each of two calls; our loop made the third call.
    assert_eq!(rule.num_calls(), 5);
    assert_eq!(report.calls, 3);
}

#[tokio::test]
async fn a_stream_that_never_takes_the_records_runs_out_the_budget() {
    // The first entry of the first call is written; everything else stays throttled.
    let first = Arc::new(Mutex::new(true));
    let rule = mock!(Client::put_records).then_compute_output(move |input| {
        let mut first = first.lock().unwrap();
        let entries = input
            .records()
            .iter()
            .map(|_| if std::mem::take(&mut *first) { ok_entry(1) } else { throttled_entry() })
            .collect();
        output(entries)
    });
    let client = mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, [&rule]);
    let started = std::time::Instant::now();
    let err = fast(client).publish(records(4), Duration::from_millis(300)).await.unwrap_err();
    let elapsed = started.elapsed();
    match err {
        PublishError::Incomplete { unwritten, total } => assert_eq!((unwritten, total), (3, 4)),
        other => panic!("expected Incomplete, got {other:?}"),
    }
    assert!(rule.num_calls() > 2, "kept retrying within the budget: {}", rule.num_calls());
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn a_missing_stream_is_refused_at_once() {
    let rule = mock!(Client::put_records).then_error(|| {
        PutRecordsError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("Stream readings not found")
                .meta(ErrorMetadata::builder().code("ResourceNotFoundException").build())
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, [&rule]);
    let err = fast(client).publish(records(2), Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, PublishError::Refused { .. }), "{err:?}");
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_result_count_mismatch_resends_the_whole_call() {
    let calls = Arc::new(Mutex::new(0usize));
    let c = calls.clone();
    let rule = mock!(Client::put_records).then_compute_output(move |input| {
        let mut n = c.lock().unwrap();
        *n += 1;
        if *n == 1 { output(vec![ok_entry(1)]) } else { output(input.records().iter().map(|_| ok_entry(2)).collect()) }
    });
    let client = mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, [&rule]);
    let report = fast(client).publish(records(3), Duration::from_secs(5)).await.unwrap();
    assert_eq!((report.calls, report.resent), (2, 3));
}

#[tokio::test]
async fn large_publishes_are_split_within_the_api_limits() {
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let s = sizes.clone();
    let rule = mock!(Client::put_records).then_compute_output(move |input| {
        let bytes: usize =
            input.records().iter().map(|r| r.data().as_ref().len() + r.partition_key().map_or(0, str::len)).sum();
        s.lock().unwrap().push((input.records().len(), bytes));
        output(input.records().iter().map(|_| ok_entry(1)).collect())
    });
    let client = mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, [&rule]);
    let mut recs = records(1_100);
    for r in recs.iter_mut().take(12) {
        r.data = vec![b'x'; 900_000];
    }
    fast(client).publish(recs, Duration::from_secs(5)).await.unwrap();
    let sizes = sizes.lock().unwrap();
    assert!(sizes.iter().all(|(n, bytes)| *n <= 500 && *bytes <= 5 * 1024 * 1024), "{sizes:?}");
    assert_eq!(sizes.iter().map(|(n, _)| n).sum::<usize>(), 1_100);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Over many random mixes of failed entries, every record ends up written by
    /// exactly one successful entry, and only failed entries are ever resent.
    #[test]
    fn random_partial_failures_write_every_record_exactly_once(
        n in 1usize..1_200,
        fail_pct in 0u32..90,
        seed in any::<u64>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let rng = Arc::new(Mutex::new(fastrand::Rng::with_seed(seed)));
            let written: Arc<Mutex<HashMap<Vec<u8>, usize>>> = Arc::default();
            let failed_last: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
            let resent_ok = Arc::new(Mutex::new(true));
            let (w, f, ok, r) = (written.clone(), failed_last.clone(), resent_ok.clone(), rng.clone());
            let rule = mock!(Client::put_records).then_compute_output(move |input| {
                let mut rng = r.lock().unwrap();
                let mut written = w.lock().unwrap();
                let mut failed = f.lock().unwrap();
                let entries = input.records().iter().map(|entry| {
                    let data = entry.data().as_ref().to_vec();
                    // A record seen before must be one that failed before.
                    if written.contains_key(&data) { *ok.lock().unwrap() = false; }
                    if rng.u32(0..100) < fail_pct {
                        failed.push(data);
                        throttled_entry()
                    } else {
                        *written.entry(data).or_default() += 1;
                        ok_entry(written.len())
                    }
                }).collect();
                output(entries)
            });
            let client = mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, [&rule]);
            let recs = records(n);
            let expected: Vec<Vec<u8>> = recs.iter().map(|r| r.data.clone()).collect();
            fast(client).publish(recs, Duration::from_secs(60)).await.unwrap();
            let written = written.lock().unwrap();
            assert_eq!(written.len(), n);
            assert!(expected.iter().all(|d| written.get(d) == Some(&1)));
            assert!(*resent_ok.lock().unwrap(), "a written record was sent again");
        });
    }
}
