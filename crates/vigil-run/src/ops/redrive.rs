//! `vigil redrive`: a stream function's on-failure records run through the function
//! again. Each record holds only a shard and a sequence range (Lambda's
//! `KinesisBatchInfo`); the records themselves are read from the stream while it still
//! holds them (GetShardIterator AT_SEQUENCE_NUMBER), else from the raw archive. A
//! message is deleted only after every record of its range succeeded; what cannot be
//! redriven stays, and is reported (docs/operating.md#when-records-are-given-up-on).
//!
//! The failure destination is an SQS queue in AWS (`--queue`); `vigil run` and
//! `vigil serve` write theirs as JSON lines, one file per function (`--file`), in the
//! same shape.

use std::path::{Path, PathBuf};

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_kinesis::types::ShardIteratorType;
use chrono::{DateTime, TimeDelta};
use serde::{Deserialize, Serialize};
use vigil_domain::config::Source;
use vigil_local::esm::{EventSource, KinesisBatchInfo};

use super::archive::{ArchivedRecord, RawArchive, sequence_order};
use super::replay::{Function, Progress, STREAM_FUNCTIONS, stream_function};

/// How long received messages stay hidden from other readers while this run works on them.
const VISIBILITY_TIMEOUT_SECS: i32 = 900;
/// GetRecords calls per range before the stream is given up for the archive.
const MAX_READS: usize = 1000;

/// `vigil redrive`'s arguments.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["queue", "file"])))]
pub struct Args {
    /// The function's on-failure destination: an SQS queue's URL or name.
    #[arg(long)]
    pub queue: Option<String>,
    /// A local run's on-failure destination: `<out_dir>/<function>-failures.jsonl`
    /// (`target/vigil-run/` by default).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// The function to run the records through; by default the one the queue or file is
    /// named after (e.g. `AlertProcessorFailures`, `alert-processor-failures.jsonl`).
    #[arg(long, value_parser = stream_function)]
    pub function: Option<String>,
    /// Find the records and report what would be redriven; invoke and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The data lake bucket holding `raw/`, for records the stream no longer holds.
    #[arg(long, env = "DATA_BUCKET", default_value = "vigil-data")]
    pub bucket: String,
    /// Archive objects are dated by their batch's first record: also read the objects of
    /// this many hours before a range's first record.
    #[arg(long, default_value_t = 1)]
    pub lookback_hours: u32,
}

/// Where the on-failure records are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureSource {
    /// An SQS queue's URL or name.
    Queue(String),
    /// A JSON-lines file written by the local runner.
    File(PathBuf),
}

/// One redrive.
#[derive(Debug, Clone)]
pub struct Options {
    pub source: FailureSource,
    pub function: Option<String>,
    pub dry_run: bool,
    pub bucket: String,
    pub lookback: TimeDelta,
}

impl Options {
    /// The options `args` ask for.
    ///
    /// # Errors
    /// Neither or both of --queue and --file (clap already refuses both).
    pub fn from_args(args: Args) -> anyhow::Result<Self> {
        let source = match (args.queue, args.file) {
            (Some(queue), None) => FailureSource::Queue(queue),
            (None, Some(file)) => FailureSource::File(file),
            _ => anyhow::bail!("give one of --queue and --file"),
        };
        Ok(Self {
            source,
            function: args.function,
            dry_run: args.dry_run,
            bucket: args.bucket,
            lookback: TimeDelta::hours(i64::from(args.lookback_hours)),
        })
    }
}

/// A message that stays where it is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Left {
    /// The SQS message id, or `line <n>` of a file.
    pub message: String,
    pub shard_id: Option<String>,
    pub start_sequence_number: Option<String>,
    pub end_sequence_number: Option<String>,
    pub reason: String,
}

/// What a redrive did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub function: String,
    /// Messages read.
    pub messages: usize,
    /// Messages whose records all succeeded, and were deleted (with a dry run: whose
    /// records were all found).
    pub redriven: usize,
    /// Records run through the function (with a dry run: found).
    pub records: usize,
    /// Ranges read from the stream, and from the raw archive.
    pub from_stream: usize,
    pub from_archive: usize,
    /// Function invocations, retries included.
    pub batches: usize,
    /// Messages left in place.
    pub left: Vec<Left>,
}

/// A Lambda on-failure record of a Kinesis mapping: only its batch info is needed.
#[derive(Debug, Deserialize)]
struct OnFailure {
    #[serde(rename = "KinesisBatchInfo")]
    info: KinesisBatchInfo,
}

/// One message of the failure destination.
#[derive(Debug)]
struct Message {
    /// The SQS message id, or `line <n>`.
    id: String,
    body: String,
    /// SQS: how to delete it.
    receipt_handle: Option<String>,
}

/// Runs `vigil redrive`.
///
/// # Errors
/// Bad arguments, an unreadable destination or archive, a function that cannot be built,
/// or messages left in place (after the report is printed).
pub async fn run(sdk: &SdkConfig, args: Args) -> anyhow::Result<()> {
    let options = Options::from_args(args)?;
    let report = redrive(sdk, &vigil_lambda::ProcessEnv, &options).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !report.left.is_empty() {
        anyhow::bail!("{} of {} messages could not be redriven and stay", report.left.len(), report.messages);
    }
    Ok(())
}

/// The stream function a queue or file is named after, if exactly one is.
pub fn function_named_in(name: &str) -> Option<&'static str> {
    let squashed: String = name.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    let mut named = STREAM_FUNCTIONS.iter().filter(|f| squashed.contains(&f.replace('-', "")));
    match (named.next(), named.next()) {
        (Some(f), None) => Some(*f),
        _ => None,
    }
}

/// Redrives the failure destination of `options`; the function is built from `env` as
/// its Lambda `main` builds it.
///
/// # Errors
/// An unreadable destination, a function that cannot be named or built.
pub async fn redrive(sdk: &SdkConfig, env: &impl Source, options: &Options) -> anyhow::Result<Report> {
    let destination_name = match &options.source {
        FailureSource::Queue(q) => q.rsplit('/').next().unwrap_or(q).to_owned(),
        FailureSource::File(path) => path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    let name = match &options.function {
        Some(f) => f.clone(),
        None => function_named_in(&destination_name)
            .with_context(|| format!("{destination_name} names no stream function: give --function"))?
            .to_owned(),
    };
    let mut report = Report { dry_run: options.dry_run, function: name.clone(), ..Report::default() };
    // Built before anything is read, so a missing variable fails before a message is touched.
    let function = if options.dry_run { None } else { Some(Function::build(&name, env, sdk).await?) };
    let archive = RawArchive::new(vigil_aws::sdk::s3(sdk), &options.bucket);
    let kinesis = vigil_aws::sdk::kinesis(sdk);

    let (messages, queue) = match &options.source {
        FailureSource::Queue(queue) => {
            let sqs = aws_sdk_sqs::Client::new(sdk);
            let url = queue_url(&sqs, queue).await?;
            (receive_all(&sqs, &url).await?, Some((sqs, url)))
        }
        FailureSource::File(path) => (read_file(path)?, None),
    };
    report.messages = messages.len();
    let progress = Progress::new(&format!("redriving {} messages through {name}", messages.len()), messages.len());
    let mut done = Vec::new();
    for message in &messages {
        let outcome = redrive_one(message, &kinesis, &archive, function.as_ref(), options, &mut report).await;
        match outcome {
            Ok(()) => {
                report.redriven += 1;
                done.push(message.id.clone());
                if let (Some((sqs, url)), Some(handle), false) = (&queue, &message.receipt_handle, options.dry_run) {
                    sqs.delete_message()
                        .queue_url(url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .with_context(|| format!("deleting message {} after its records succeeded", message.id))?;
                }
            }
            Err(left) => report.left.push(left),
        }
        progress.inc(1);
    }
    progress.finish();

    match (&options.source, &queue) {
        (_, Some((sqs, url))) => {
            // Visible again at once: what stays is there for the next look, not hidden for 15 minutes.
            for message in messages.iter().filter(|m| options.dry_run || !done.contains(&m.id)) {
                if let Some(handle) = &message.receipt_handle {
                    let shown = sqs.change_message_visibility().queue_url(url).receipt_handle(handle);
                    shown
                        .visibility_timeout(0)
                        .send()
                        .await
                        .with_context(|| format!("making message {} visible again", message.id))?;
                }
            }
        }
        (FailureSource::File(path), None) if !options.dry_run => {
            let kept: Vec<&Message> = messages.iter().filter(|m| !done.contains(&m.id)).collect();
            rewrite_file(path, &kept)?;
        }
        _ => {}
    }
    Ok(report)
}

/// Finds one message's records and runs them through the function.
async fn redrive_one(
    message: &Message,
    kinesis: &aws_sdk_kinesis::Client,
    archive: &RawArchive,
    function: Option<&Function>,
    options: &Options,
    report: &mut Report,
) -> Result<(), Left> {
    let left = |info: Option<&KinesisBatchInfo>, reason: String| Left {
        message: message.id.clone(),
        shard_id: info.map(|i| i.shard_id.clone()),
        start_sequence_number: info.map(|i| i.start_sequence_number.clone()),
        end_sequence_number: info.map(|i| i.end_sequence_number.clone()),
        reason,
    };
    let info = match serde_json::from_str::<OnFailure>(&message.body) {
        Ok(parsed) => parsed.info,
        Err(e) => return Err(left(None, format!("not a Kinesis on-failure record: {e}"))),
    };
    let info = &info;
    let records = match from_stream(kinesis, info).await {
        Ok(records) => {
            report.from_stream += 1;
            records
        }
        Err(why_not) => match from_archive(archive, info, options.lookback).await {
            Ok(records) => {
                report.from_archive += 1;
                records
            }
            Err(e) => {
                return Err(left(Some(info), format!("not on the stream ({why_not}) nor in the raw archive ({e})")));
            }
        },
    };
    let Some(function) = function else {
        report.records += records.len();
        return Ok(());
    };
    let source = EventSource::of_stream(info.stream_arn.clone(), None);
    let fed = function.feed(&records, &source).await;
    report.batches += fed.batches;
    report.records += fed.records_succeeded;
    match fed.failed_ranges.first() {
        None => Ok(()),
        Some(failed) => Err(left(
            Some(info),
            format!(
                "{} still failed {} records from {} after every attempt",
                function.name(),
                fed.failed_ranges.iter().map(|r| r.records).sum::<usize>(),
                failed.start_sequence_number
            ),
        )),
    }
}

/// The range's records from the stream, if it still holds every one of them.
async fn from_stream(
    kinesis: &aws_sdk_kinesis::Client,
    info: &KinesisBatchInfo,
) -> Result<Vec<ArchivedRecord>, String> {
    let stream = info.stream_arn.rsplit_once(":stream/").map_or(info.stream_arn.as_str(), |(_, name)| name);
    let iterator = kinesis
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(&info.shard_id)
        .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
        .starting_sequence_number(&info.start_sequence_number)
        .send()
        .await
        .map_err(|e| format!("GetShardIterator: {}", aws_sdk_kinesis::error::DisplayErrorContext(&e)))?;
    let mut iterator = iterator.shard_iterator;
    let mut records = Vec::new();
    for _ in 0..MAX_READS {
        let Some(it) = iterator else { break };
        let out = kinesis
            .get_records()
            .shard_iterator(it)
            .send()
            .await
            .map_err(|e| format!("GetRecords: {}", aws_sdk_kinesis::error::DisplayErrorContext(&e)))?;
        let mut past_end = false;
        for r in out.records() {
            if sequence_order(r.sequence_number(), &info.end_sequence_number).is_gt() {
                past_end = true;
                break;
            }
            let arrival = r
                .approximate_arrival_timestamp()
                .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
                .unwrap_or(info.approximate_arrival_of_first_record);
            records.push(ArchivedRecord {
                shard_id: info.shard_id.clone(),
                sequence_number: r.sequence_number().to_owned(),
                partition_key: r.partition_key().unwrap_or_default().to_owned(),
                approximate_arrival: arrival,
                data: r.data().as_ref().to_vec(),
            });
        }
        let caught_up = out.records().is_empty() && out.millis_behind_latest().unwrap_or(0) == 0;
        if past_end || caught_up || records.len() >= info.batch_size {
            break;
        }
        iterator = out.next_shard_iterator;
    }
    complete(records, info)
}

/// The range's records from the raw archive, if it holds every one of them.
async fn from_archive(
    archive: &RawArchive,
    info: &KinesisBatchInfo,
    lookback: TimeDelta,
) -> Result<Vec<ArchivedRecord>, String> {
    let keys = archive
        .keys_between(info.approximate_arrival_of_first_record - lookback, info.approximate_arrival_of_last_record)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let in_range = |seq: &str| {
        sequence_order(seq, &info.start_sequence_number).is_ge()
            && sequence_order(seq, &info.end_sequence_number).is_le()
    };
    let shard_part = format!("/{}/", info.shard_id);
    let mut records: Vec<ArchivedRecord> = Vec::new();
    for key in keys.iter().filter(|k| k.contains(&shard_part)) {
        let object = archive.records(key).await.map_err(|e| format!("{e:#}"))?;
        records.extend(object.into_iter().filter(|r| r.shard_id == info.shard_id && in_range(&r.sequence_number)));
    }
    records.sort_by(|a, b| sequence_order(&a.sequence_number, &b.sequence_number));
    records.dedup_by(|a, b| a.sequence_number == b.sequence_number);
    complete(records, info)
}

/// `records` if they are the whole range: from its first sequence number, as many as it held.
fn complete(records: Vec<ArchivedRecord>, info: &KinesisBatchInfo) -> Result<Vec<ArchivedRecord>, String> {
    let starts_right = records.first().is_some_and(|r| r.sequence_number == info.start_sequence_number);
    let ends_right = records.last().is_some_and(|r| r.sequence_number == info.end_sequence_number);
    if starts_right && ends_right && records.len() == info.batch_size {
        Ok(records)
    } else {
        Err(format!("{} of the range's {} records found", records.len(), info.batch_size))
    }
}

async fn queue_url(sqs: &aws_sdk_sqs::Client, queue: &str) -> anyhow::Result<String> {
    if queue.starts_with("https://") || queue.starts_with("http://") {
        return Ok(queue.to_owned());
    }
    let out = sqs.get_queue_url().queue_name(queue).send().await.with_context(|| format!("finding queue {queue}"))?;
    out.queue_url.with_context(|| format!("queue {queue} has no URL"))
}

/// Every message now in the queue, each hidden from other readers while this run works.
async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<Vec<Message>> {
    let mut messages: Vec<Message> = Vec::new();
    let mut empty = 0;
    // Short polls can miss messages on some servers of a queue: stop after two empty long polls.
    while empty < 2 {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(VISIBILITY_TIMEOUT_SECS)
            .wait_time_seconds(1)
            .send()
            .await
            .with_context(|| format!("receiving from {url}"))?;
        let got = out.messages.unwrap_or_default();
        if got.is_empty() {
            empty += 1;
        }
        for m in got {
            let id = m.message_id.unwrap_or_default();
            if messages.iter().any(|seen| seen.id == id) {
                continue;
            }
            messages.push(Message { id, body: m.body.unwrap_or_default(), receipt_handle: m.receipt_handle });
        }
    }
    Ok(messages)
}

fn read_file(path: &Path) -> anyhow::Result<Vec<Message>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| Message { id: format!("line {}", i + 1), body: line.to_owned(), receipt_handle: None })
        .collect())
}

/// Keeps only `kept` in the file (written beside it, then renamed over it).
fn rewrite_file(path: &Path, kept: &[&Message]) -> anyhow::Result<()> {
    let mut text = String::new();
    for message in kept {
        text.push_str(&message.body);
        text.push('\n');
    }
    let tmp = path.with_extension("jsonl.redrive");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_function_is_read_from_the_destinations_name() {
        assert_eq!(function_named_in("VigilStack-AlertProcessorFailuresA1B2C3"), Some("alert-processor"));
        assert_eq!(function_named_in("raw-archiver-failures.jsonl"), Some("raw-archiver"));
        assert_eq!(function_named_in("vitals-writer-failures.jsonl"), Some("vitals-writer"));
        assert_eq!(function_named_in("my-queue"), None);
    }

    #[test]
    fn lambdas_on_failure_record_is_read() {
        let body = r#"{"requestContext":{"requestId":"c9b8","functionArn":"arn:aws:lambda:eu-west-1:1:function:f","condition":"RetryAttemptsExhausted","approximateInvokeCount":101},"responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},"version":"1.0","timestamp":"2026-11-22T10:00:00.000Z","KinesisBatchInfo":{"shardId":"shardId-000000000001","startSequenceNumber":"4961","endSequenceNumber":"4969","approximateArrivalOfFirstRecord":"2026-11-22T09:59:00.000Z","approximateArrivalOfLastRecord":"2026-11-22T09:59:30.000Z","batchSize":3,"streamArn":"arn:aws:kinesis:eu-west-1:1:stream/readings"}}"#;
        let parsed: OnFailure = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.info.shard_id, "shardId-000000000001");
        assert_eq!(parsed.info.batch_size, 3);
        assert_eq!(parsed.info.end_sequence_number, "4969");
    }
}
