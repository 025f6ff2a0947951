//! `vigil replay`: the raw archive's records of a window of time (by when they reached
//! the stream), deduplicated on (shard, sequence number) and optionally of one wearer,
//! put back on the stream or handed to one stream function as its event source mapping
//! would hand them (docs/operating.md#when-records-are-given-up-on).
//!
//! Safe to run twice: every sink deduplicates (raw-archiver's keys, vitals-writer's
//! conditional writes, alert-processor's episodes and delivery claims, the warehouse's
//! MERGE), so a second replay stores nothing new and sends no message again.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use aws_config::SdkConfig;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use vigil_aws::kinesis::{KinesisPublisher, MAX_ENTRIES_PER_CALL};
use vigil_domain::config::Source;
use vigil_domain::ports::{RecordPublisher, StreamRecord};
use vigil_lambda::stream::StreamFunction;
use vigil_local::declaration::Declaration;
use vigil_local::esm::EventSource;

use super::archive::{ArchivedRecord, RawArchive, sequence_order};

/// The stream functions a replay or a redrive can run.
pub const STREAM_FUNCTIONS: [&str; 3] = ["alert-processor", "raw-archiver", "vitals-writer"];

/// Attempts of a batch whose records a function reported as failed, as a mapping
/// retries them, before the rest of the batch is given up on and reported.
const ATTEMPTS: u32 = 4;
/// The pause before a failed batch is tried again.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// How long one PutRecords call of a replay may take, resends of failed entries included.
const PUT_BUDGET: Duration = Duration::from_secs(60);

/// `vigil replay`'s arguments.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to_stream", "function"])))]
pub struct Args {
    /// Start of the window (RFC 3339, e.g. 2026-11-22T09:00:00Z): records that reached the
    /// stream at or after it.
    #[arg(long, value_parser = parse_time)]
    pub from: DateTime<Utc>,
    /// End of the window (RFC 3339), excluded.
    #[arg(long, value_parser = parse_time)]
    pub to: DateTime<Utc>,
    /// Only this wearer's records (the stream's partition key is the wearer id).
    #[arg(long)]
    pub wearer: Option<String>,
    /// Put the records back on the stream (every stream function sees them again).
    #[arg(long)]
    pub to_stream: bool,
    /// Hand the records to this stream function only, in batches of its declared size,
    /// built from this process's environment as its Lambda is (docs/functions.md).
    #[arg(long, value_parser = stream_function)]
    pub function: Option<String>,
    /// Read and count what would be replayed; put and invoke nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The data lake bucket holding `raw/`.
    #[arg(long, env = "DATA_BUCKET", default_value = "vigil-data")]
    pub bucket: String,
    /// The stream to put records on (with --to-stream).
    #[arg(long, env = "STREAM_NAME", default_value = "vigil-readings")]
    pub stream: String,
    /// Archive objects are dated by their batch's first record: also read the objects of
    /// this many hours before --from, for batches that began before the window.
    #[arg(long, default_value_t = 1)]
    pub lookback_hours: u32,
}

/// Reads an RFC 3339 time, or says what is expected.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time such as 2026-11-22T09:00:00Z ({e})"))
}

/// Accepts only a function that reads the stream.
pub fn stream_function(s: &str) -> Result<String, String> {
    if STREAM_FUNCTIONS.contains(&s) {
        Ok(s.to_owned())
    } else {
        Err(format!("{s} is not a stream function; one of {}", STREAM_FUNCTIONS.join(", ")))
    }
}

/// Where a replay sends the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// PutRecords on [`Options::stream`].
    Stream,
    /// This stream function's handler.
    Function(String),
}

/// One replay.
#[derive(Debug, Clone)]
pub struct Options {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub wearer: Option<String>,
    pub target: Target,
    /// The readings stream: where `--to-stream` puts records, and the event source a
    /// function sees.
    pub stream: String,
    pub dry_run: bool,
    pub bucket: String,
    pub lookback: TimeDelta,
}

impl Options {
    /// The options `args` ask for, or an error naming the argument that is wrong.
    pub fn from_args(args: Args) -> anyhow::Result<Self> {
        if args.from >= args.to {
            anyhow::bail!("--from ({}) must be before --to ({})", args.from, args.to);
        }
        let target = match args.function {
            Some(function) => Target::Function(function),
            None => Target::Stream,
        };
        Ok(Self {
            from: args.from,
            to: args.to,
            wearer: args.wearer,
            target,
            stream: args.stream,
            dry_run: args.dry_run,
            bucket: args.bucket,
            lookback: TimeDelta::hours(i64::from(args.lookback_hours)),
        })
    }
}

/// A range of one shard's records a function still failed after every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedRange {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub records: usize,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub dry_run: bool,
    /// Archive objects read.
    pub objects: usize,
    /// Lines read from them.
    pub records_read: usize,
    /// Records read again (the same shard and sequence number in another object).
    pub duplicates: usize,
    /// Records outside the window or of another wearer.
    pub skipped: usize,
    /// Records replayed (or, with a dry run, to replay).
    pub records: usize,
    /// PutRecords calls, or function invocations (retries included).
    pub batches: usize,
    /// Records the function still failed after every attempt, or not written to the stream.
    pub records_failed: usize,
    pub failed_ranges: Vec<FailedRange>,
}

/// Progress on stderr: a bar on a terminal, a line per stage otherwise.
#[derive(Debug)]
pub struct Progress(indicatif::ProgressBar);

impl Progress {
    pub fn new(what: &str, total: usize) -> Self {
        use std::io::IsTerminal as _;
        eprintln!("{what}: {total}");
        let target = if std::io::stderr().is_terminal() {
            indicatif::ProgressDrawTarget::stderr()
        } else {
            indicatif::ProgressDrawTarget::hidden()
        };
        let bar = indicatif::ProgressBar::with_draw_target(Some(total as u64), target);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} {elapsed}") {
            bar.set_style(style);
        }
        bar.set_message(what.to_owned());
        Self(bar)
    }

    pub fn inc(&self, n: usize) {
        self.0.inc(n as u64);
    }

    pub fn finish(self) {
        self.0.finish_and_clear();
    }
}

/// Runs `vigil replay`.
///
/// # Errors
/// Bad arguments, an unreadable archive, a function that cannot be built, or records
/// that could not be replayed (after the report is printed).
pub async fn run(sdk: &SdkConfig, args: Args) -> anyhow::Result<()> {
    let options = Options::from_args(args)?;
    let report = replay(sdk, &vigil_lambda::ProcessEnv, &options).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if report.records_failed > 0 {
        anyhow::bail!("{} records were not replayed: {:?}", report.records_failed, report.failed_ranges);
    }
    Ok(())
}

/// Replays the window of `options`; a function target is built from `env` as its
/// Lambda `main` builds it.
///
/// # Errors
/// An unreadable archive, a function that cannot be built, a stream that refuses records.
pub async fn replay(sdk: &SdkConfig, env: &impl Source, options: &Options) -> anyhow::Result<Report> {
    let archive = RawArchive::new(vigil_aws::sdk::s3(sdk), &options.bucket);
    let (records, mut report) = select(&archive, options).await?;
    report.dry_run = options.dry_run;
    report.records = records.len();
    if options.dry_run || records.is_empty() {
        return Ok(report);
    }
    match &options.target {
        Target::Stream => {
            let stream = &options.stream;
            let publisher = KinesisPublisher::new(vigil_aws::sdk::kinesis(sdk), stream);
            let progress = Progress::new(&format!("putting records on {stream}"), records.len());
            // One call at a time: a wearer's records keep their order.
            for chunk in records.chunks(MAX_ENTRIES_PER_CALL) {
                let batch: Vec<StreamRecord> = chunk
                    .iter()
                    .map(|r| StreamRecord { partition_key: r.partition_key.clone(), data: r.data.clone() })
                    .collect();
                report.batches += 1;
                if let Err(err) = publisher.publish(batch, PUT_BUDGET).await {
                    progress.finish();
                    return Err(err).with_context(|| {
                        format!(
                            "putting records on {stream} ({} of {} put before this call)",
                            report.batches.saturating_sub(1) * MAX_ENTRIES_PER_CALL,
                            records.len()
                        )
                    });
                }
                progress.inc(chunk.len());
            }
            progress.finish();
        }
        Target::Function(name) => {
            let function = Function::build(name, env, sdk).await?;
            let source = event_source(sdk, &options.stream).await;
            let fed = function.feed(&records, &source).await;
            report.batches = fed.batches;
            report.records_failed = fed.failed_ranges.iter().map(|r| r.records).sum();
            report.failed_ranges = fed.failed_ranges;
        }
    }
    Ok(report)
}

/// The archive's records of the window, of the wearer if one is given, each once, in
/// shard and sequence order (so a wearer's records keep their order).
async fn select(archive: &RawArchive, options: &Options) -> anyhow::Result<(Vec<ArchivedRecord>, Report)> {
    let mut report = Report::default();
    let keys = archive.keys_between(options.from - options.lookback, options.to).await?;
    let progress = Progress::new(&format!("reading archive objects of s3://{}", archive.bucket()), keys.len());
    let mut seen = HashSet::new();
    let mut records = Vec::new();
    for key in &keys {
        let object = archive.records(key).await?;
        report.objects += 1;
        report.records_read += object.len();
        for record in object {
            let in_window = (options.from..options.to).contains(&record.approximate_arrival);
            let of_wearer = options.wearer.as_ref().is_none_or(|w| *w == record.partition_key);
            if !in_window || !of_wearer {
                report.skipped += 1;
            } else if seen.insert((record.shard_id.clone(), record.sequence_number.clone())) {
                records.push(record);
            } else {
                report.duplicates += 1;
            }
        }
        progress.inc(1);
    }
    progress.finish();
    records.sort_by(|a, b| {
        a.shard_id.cmp(&b.shard_id).then_with(|| sequence_order(&a.sequence_number, &b.sequence_number))
    });
    Ok((records, report))
}

/// The records' event source: the stream's ARN if it can be described, else one made
/// of its name (a replay of a stream that no longer exists).
pub async fn event_source(sdk: &SdkConfig, stream: &str) -> EventSource {
    let described = vigil_aws::sdk::kinesis(sdk).describe_stream_summary().stream_name(stream).send().await;
    let region = sdk.region().map(ToString::to_string);
    let arn = match described.ok().and_then(|d| d.stream_description_summary.map(|s| s.stream_arn)) {
        Some(arn) => arn,
        None => format!("arn:aws:kinesis:{}:000000000000:stream/{stream}", region.as_deref().unwrap_or("us-east-1")),
    };
    EventSource::of_stream(arn, region)
}

/// A stream function built as its Lambda `main` builds it, invoked as its event source
/// mapping invokes it.
pub struct Function {
    name: &'static str,
    batch_size: usize,
    built: Built,
}

enum Built {
    AlertProcessor(Box<alert_processor::AwsProcessor>),
    RawArchiver(Box<raw_archiver::AwsArchiver>),
    VitalsWriter(Box<vitals_writer::AwsWriter>),
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function").field("name", &self.name).field("batch_size", &self.batch_size).finish()
    }
}

/// What feeding records to a function did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fed {
    /// Invocations, retries included.
    pub batches: usize,
    pub records_succeeded: usize,
    pub failed_ranges: Vec<FailedRange>,
}

impl Function {
    /// The stream function `name`, from `env`, with its declared batch size.
    ///
    /// # Errors
    /// Not a stream function, or its configuration is incomplete (the error names the variable).
    pub async fn build(name: &str, env: &impl Source, sdk: &SdkConfig) -> anyhow::Result<Self> {
        let declaration = Declaration::of(name)?;
        let trigger = declaration.kinesis().with_context(|| format!("{name} is not a stream function"))?;
        let built = match name {
            "alert-processor" => Built::AlertProcessor(Box::new(alert_processor::build(env, sdk).await?)),
            "raw-archiver" => Built::RawArchiver(Box::new(raw_archiver::build(env, sdk).await?)),
            "vitals-writer" => Built::VitalsWriter(Box::new(vitals_writer::build(env, sdk).await?)),
            other => anyhow::bail!("{other} is not a stream function; one of {}", STREAM_FUNCTIONS.join(", ")),
        };
        let name = STREAM_FUNCTIONS.iter().find(|n| **n == name).copied().unwrap_or("stream function");
        Ok(Self { name, batch_size: trigger.batch_size, built })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// One invocation under the declared timeout, at the current time.
    async fn invoke(&self, event: KinesisEvent) -> KinesisEventResponse {
        let deadline =
            vigil_lambda::Deadline::after(Declaration::timeout_of(self.name), vigil_lambda::stream::DEADLINE_MARGIN);
        let now = Utc::now();
        match &self.built {
            Built::AlertProcessor(f) => f.process_within(event, now, deadline).await.0,
            Built::RawArchiver(f) => f.process_within(event, now, deadline).await.0,
            Built::VitalsWriter(f) => f.process_within(event, now, deadline).await.0,
        }
    }

    /// Hands `records` (in shard and sequence order) to the function shard by shard,
    /// in batches of its declared size, as its event source mapping does: a batch whose
    /// records it reports failed is tried again from the lowest reported record, and
    /// what still fails after [`ATTEMPTS`] is reported.
    pub async fn feed(&self, records: &[ArchivedRecord], source: &EventSource) -> Fed {
        let progress = Progress::new(&format!("invoking {}", self.name), records.len());
        let mut fed = Fed::default();
        for shard in records.chunk_by(|a, b| a.shard_id == b.shard_id) {
            for batch in shard.chunks(self.batch_size) {
                let mut start = 0;
                let mut attempts = 0;
                while start < batch.len() {
                    let range = &batch[start..];
                    let mut event = KinesisEvent::default();
                    event.records = range
                        .iter()
                        .map(|r| {
                            source.record(
                                &r.shard_id,
                                r.sequence_number.clone(),
                                r.partition_key.clone(),
                                r.data.clone(),
                                r.approximate_arrival,
                            )
                        })
                        .collect();
                    fed.batches += 1;
                    attempts += 1;
                    let response = self.invoke(event).await;
                    let done = lowest_failure(range, &response).unwrap_or(range.len());
                    fed.records_succeeded += done;
                    progress.inc(done);
                    start += done;
                    if start < batch.len() && attempts >= ATTEMPTS {
                        let left = &batch[start..];
                        fed.failed_ranges.push(FailedRange {
                            shard_id: left[0].shard_id.clone(),
                            start_sequence_number: left[0].sequence_number.clone(),
                            end_sequence_number: left[left.len() - 1].sequence_number.clone(),
                            records: left.len(),
                        });
                        tracing::warn!(function = self.name, shard = %left[0].shard_id, records = left.len(), "records still failing after every attempt");
                        progress.inc(left.len());
                        break;
                    }
                    if start < batch.len() {
                        tokio::time::sleep(RETRY_PAUSE).await;
                    }
                }
            }
        }
        progress.finish();
        fed
    }
}

/// Index of the lowest record a response reports, as a mapping reads it: an identifier
/// not in the batch (empty, null, unknown) fails the whole batch.
fn lowest_failure(batch: &[ArchivedRecord], response: &KinesisEventResponse) -> Option<usize> {
    let mut lowest = None::<usize>;
    for failure in &response.batch_item_failures {
        let id = failure.item_identifier.as_deref().unwrap_or_default();
        let at = batch.iter().position(|r| !id.is_empty() && r.sequence_number == id).unwrap_or(0);
        lowest = Some(lowest.map_or(at, |l| l.min(at)));
    }
    lowest
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::streams::KinesisBatchItemFailure;

    use super::*;

    fn records(seqs: &[&str]) -> Vec<ArchivedRecord> {
        seqs.iter()
            .map(|s| ArchivedRecord {
                shard_id: "shardId-0".into(),
                sequence_number: (*s).into(),
                partition_key: "w".into(),
                approximate_arrival: Utc::now(),
                data: vec![],
            })
            .collect()
    }

    fn response(ids: &[Option<&str>]) -> KinesisEventResponse {
        let mut response = KinesisEventResponse::default();
        for id in ids {
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = id.map(str::to_owned);
            response.batch_item_failures.push(failure);
        }
        response
    }

    #[test]
    fn the_lowest_reported_record_is_where_the_retry_starts() {
        let batch = records(&["10", "11", "12"]);
        assert_eq!(lowest_failure(&batch, &response(&[])), None);
        assert_eq!(lowest_failure(&batch, &response(&[Some("12"), Some("11")])), Some(1));
        assert_eq!(lowest_failure(&batch, &response(&[Some("12"), None])), Some(0), "a null id fails the batch");
        assert_eq!(lowest_failure(&batch, &response(&[Some("99")])), Some(0), "an unknown id fails the batch");
    }

    #[test]
    fn arguments_are_checked_with_a_clear_error() {
        assert!(parse_time("yesterday").is_err_and(|e| e.contains("RFC 3339")));
        assert!(stream_function("ingest-api").is_err_and(|e| e.contains("alert-processor")));
        let args = Args {
            from: Utc::now(),
            to: Utc::now() - TimeDelta::hours(1),
            wearer: None,
            to_stream: true,
            function: None,
            dry_run: false,
            bucket: "b".into(),
            stream: "s".into(),
            lookback_hours: 1,
        };
        assert!(Options::from_args(args).is_err_and(|e| e.to_string().contains("--from")));
    }
}
