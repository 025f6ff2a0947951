//! `vigil redrive` against the local endpoint: a failure destination (an SQS queue on
//! moto, then a local run's JSON-lines file) holding three on-failure records of
//! vitals-writer: one whose records are still on the stream, one whose stream is gone
//! but whose records raw-archiver archived, and one whose records are nowhere. The first
//! two are run through vitals-writer and deleted; the third stays and is reported.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_s3::primitives::Blob;
use chrono::{DateTime, TimeDelta, Utc};
use vigil_domain::Envelope;
use vigil_domain::reading::Reading;
use vigil_local::esm::{EventSourceMapping, FailedBatch, KinesisBatchInfo, Lambda, RequestContext, ResponseContext};
use vigil_local::provision::{Resources, create_stream, provision};
use vigil_run::audit::ReadingRef;
use vigil_run::ops::redrive::{FailureSource, Options, redrive};
use vigil_run::pipeline::Env;

const WEARER: (&str, &str) = ("wearer-rd", "band-rd");

fn envelope(n: u64) -> Vec<u8> {
    let (wearer, device) = WEARER;
    let mut r = Reading::at((Utc::now() - TimeDelta::seconds(60 - n as i64)).fixed_offset(), n);
    r.heart_rate_bpm = Some(70);
    r.worn = Some(true);
    serde_json::to_vec(&Envelope {
        v: 1,
        batch_id: format!("{device}-{n}"),
        part: 0,
        parts: 1,
        device_id: device.into(),
        wearer_id: wearer.into(),
        app_version: "1.4.2".into(),
        received_at: Utc::now(),
        readings: vec![r],
    })
    .unwrap()
}

/// A record as put: shard, sequence number, arrival.
struct Put {
    shard_id: String,
    sequence_number: String,
}

/// Puts readings `ns` on the stream's one shard, one at a time.
async fn put(kinesis: &aws_sdk_kinesis::Client, stream: &str, ns: std::ops::RangeInclusive<u64>) -> Vec<Put> {
    let mut puts = Vec::new();
    for n in ns {
        let out = kinesis
            .put_record()
            .stream_name(stream)
            .partition_key(WEARER.0)
            .data(Blob::new(envelope(n)))
            .send()
            .await
            .unwrap();
        puts.push(Put { shard_id: out.shard_id, sequence_number: out.sequence_number });
    }
    puts
}

async fn stream_arn(kinesis: &aws_sdk_kinesis::Client, stream: &str) -> String {
    let out = kinesis.describe_stream_summary().stream_name(stream).send().await.unwrap();
    out.stream_description_summary.unwrap().stream_arn
}

/// The on-failure record a mapping writes for `records`, in Lambda's shape.
fn failure(stream_arn: &str, shard_id: &str, start: &str, end: &str, size: usize, at: DateTime<Utc>) -> String {
    serde_json::to_string(&FailedBatch {
        request_context: RequestContext { condition: "RetryAttemptsExhausted".into(), approximate_invoke_count: 101 },
        response_context: ResponseContext { function_error: None, reason: "batch item failure".into() },
        version: "1.0".into(),
        timestamp: Utc::now(),
        kinesis_batch_info: KinesisBatchInfo {
            shard_id: shard_id.into(),
            start_sequence_number: start.into(),
            end_sequence_number: end.into(),
            approximate_arrival_of_first_record: at - TimeDelta::minutes(1),
            approximate_arrival_of_last_record: at,
            batch_size: size,
            stream_arn: stream_arn.into(),
        },
    })
    .unwrap()
}

fn range(puts: &[Put]) -> (&str, &str, &str, usize) {
    (&puts[0].shard_id, &puts[0].sequence_number, &puts[puts.len() - 1].sequence_number, puts.len())
}

async fn stored(sdk: &aws_config::SdkConfig, resources: &Resources) -> HashSet<ReadingRef> {
    let now = Utc::now();
    vigil_run::audit::vitals_readings(sdk, &resources.vitals_table, [WEARER.0], now - TimeDelta::hours(1), now)
        .await
        .unwrap()
}

fn readings(ns: impl IntoIterator<Item = u64>) -> HashSet<ReadingRef> {
    ns.into_iter().map(|n| (WEARER.1.to_owned(), n)).collect()
}

async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages;
    let out =
        sqs.get_queue_attributes().queue_url(url).attribute_names(ApproximateNumberOfMessages).send().await.unwrap();
    out.attributes.unwrap_or_default()[&ApproximateNumberOfMessages].parse().unwrap()
}

#[tokio::test]
async fn redrive_runs_what_it_finds_deletes_it_and_leaves_the_rest_reported() {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources { stream_shards: 1, ..Resources::unique("redrive") };
    provision(&sdk, &resources).await.unwrap();
    let env = Env::for_resources(&resources, &hex::encode([5u8; 32]));
    let kinesis = vigil_aws::sdk::kinesis(&sdk);

    // 1. On the stream: readings 1..=3 (4..=6 follow them and are not to be run).
    let on_stream = put(&kinesis, &resources.stream, 1..=6).await;
    let live_arn = stream_arn(&kinesis, &resources.stream).await;
    // 2. Only in the archive: readings 11..=13 on a stream raw-archiver archived, since deleted.
    let gone = vigil_local::endpoint::unique_name("redrive-gone");
    create_stream(&kinesis, &gone, 1).await.unwrap();
    let archived = put(&kinesis, &gone, 11..=13).await;
    let gone_arn = stream_arn(&kinesis, &gone).await;
    let raw_archiver = raw_archiver::build(&env, &sdk).await.unwrap();
    let mut mapping = EventSourceMapping::for_tests(&gone, 100)
        .start(&sdk, Lambda(&raw_archiver), Vec::<FailedBatch>::new())
        .await
        .unwrap();
    Box::pin(mapping.run_until_idle(Duration::from_secs(60))).await.unwrap();
    kinesis.delete_stream().stream_name(&gone).send().await.unwrap();
    let now = Utc::now();

    let (shard, start, end, size) = range(&on_stream[..3]);
    let first = failure(&live_arn, shard, start, end, size, now);
    let (shard, start, end, size) = range(&archived);
    let second = failure(&gone_arn, shard, start, end, size, now);
    // 3. Nowhere: a range of the deleted stream that was never archived.
    let third = failure(&gone_arn, shard, "900", "902", 3, now);

    // The SQS queue, named as the stack names vitals-writer's.
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_name = vigil_local::endpoint::unique_name("VitalsWriterFailures");
    let url = sqs.create_queue().queue_name(&queue_name).send().await.unwrap().queue_url.unwrap();
    for body in [&first, &second, &third] {
        sqs.send_message().queue_url(&url).message_body(body).send().await.unwrap();
    }
    let options = |source: FailureSource, dry_run: bool| Options {
        source,
        function: None,
        dry_run,
        bucket: resources.data_bucket.clone(),
        lookback: TimeDelta::hours(1),
    };

    // A dry run finds the records of two, touches nothing.
    let dry = Box::pin(redrive(&sdk, &env, &options(FailureSource::Queue(queue_name.clone()), true))).await.unwrap();
    println!("dry run: {dry:?}");
    assert_eq!((dry.function.as_str(), dry.messages, dry.redriven, dry.left.len()), ("vitals-writer", 3, 2, 1));
    assert_eq!((dry.from_stream, dry.from_archive, dry.records), (1, 1, 6));
    assert_eq!(depth(&sqs, &url).await, 3, "a dry run deletes nothing and leaves every message visible");
    assert!(stored(&sdk, &resources).await.is_empty(), "a dry run invokes nothing");

    // The redrive: two run and deleted, one stays.
    let report = Box::pin(redrive(&sdk, &env, &options(FailureSource::Queue(url.clone()), false))).await.unwrap();
    println!("redrive: {report:?}");
    assert_eq!((report.messages, report.redriven, report.from_stream, report.from_archive), (3, 2, 1, 1));
    assert_eq!(report.records, 6);
    assert_eq!(report.left.len(), 1, "{report:?}");
    let left = &report.left[0];
    assert_eq!(left.start_sequence_number.as_deref(), Some("900"));
    assert!(left.reason.contains("nor in the raw archive"), "{}", left.reason);
    assert_eq!(
        stored(&sdk, &resources).await,
        readings([1, 2, 3, 11, 12, 13]),
        "exactly the records of the two ranges reached vitals-writer's store"
    );
    let remaining = sqs.receive_message().queue_url(&url).max_number_of_messages(10).send().await.unwrap();
    let bodies: Vec<&str> = remaining.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, [third.as_str()], "only the message that could not be redriven stays");

    // The same records from a local run's failure file: the file keeps only what stays.
    let dir = std::env::temp_dir().join(vigil_local::endpoint::unique_name("redrive-file"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("vitals-writer-failures.jsonl");
    std::fs::write(&file, format!("{first}\n{second}\nnot json\n{third}\n")).unwrap();
    let report = Box::pin(redrive(&sdk, &env, &options(FailureSource::File(file.clone()), false))).await.unwrap();
    println!("redrive of {}: {report:?}", file.display());
    assert_eq!((report.messages, report.redriven, report.left.len()), (4, 2, 2));
    assert!(report.left.iter().any(|l| l.reason.contains("not a Kinesis on-failure record")), "{report:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), format!("not json\n{third}\n"));
    assert_eq!(stored(&sdk, &resources).await, readings([1, 2, 3, 11, 12, 13]), "run twice, stored once");
    std::fs::remove_dir_all(&dir).unwrap();
}
