//! A local Kinesis event source mapping: AWS Lambda's stream poller played on one
//! machine, so integration tests and the local runner drive the real stream
//! functions with the exact [`KinesisEvent`] Lambda sends and with Lambda's
//! checkpoint, retry, bisect and on-failure semantics.
//!
//! Per shard, records are read into a pending buffer whose front is the
//! checkpoint: nothing leaves the buffer until the handler has processed it or it
//! went to the on-failure destination. So a retry never needs the stream again,
//! and a shard's records are delivered strictly in order, one batch at a time
//! (ParallelizationFactor 1).
//!
//! ReportBatchItemFailures is always on, as every Vigil stream function answers
//! `batchItemFailures`:
//! - `Ok` with no failures: checkpoint past the batch.
//! - `Ok` with failures: checkpoint just before the lowest reported record and
//!   retry from it; the records before it are not delivered again.
//! - `Ok` with an empty, null or unknown identifier: the whole batch failed.
//! - `Err` (function error): retry the whole batch; with bisect on, split it in
//!   two and retry the halves separately (splitting uses no retry attempts).
//! - After `maximum_retry_attempts` failed retries of the range starting at the
//!   checkpoint, that range's metadata goes to the [`FailureDestination`] and the
//!   shard moves past it: a poison record never blocks its shard.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_lambda_events::encodings::SecondTimestamp;
use aws_lambda_events::event::kinesis::{KinesisEncryptionType, KinesisEvent, KinesisEventRecord, KinesisRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;
use aws_sdk_kinesis::types::{EncryptionType, ShardIteratorType};
use chrono::{DateTime, Utc};
use tokio::time::{Instant, sleep_until};

mod destination;
pub use destination::{FailedBatch, FailureDestination, JsonLines, KinesisBatchInfo, RequestContext, ResponseContext};

/// Most records one GetRecords call returns.
const GET_RECORDS_MAX: usize = 10_000;

/// Where a new mapping starts reading each shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartingPosition {
    /// The oldest record still on the stream.
    #[default]
    TrimHorizon,
    /// Only records put after the mapping started.
    Latest,
    /// The first record that reached the stream at or after this time (Lambda's
    /// `AT_TIMESTAMP` with `StartingPositionTimestamp`): GetShardIterator AT_TIMESTAMP.
    AtTimestamp(DateTime<Utc>),
}

impl StartingPosition {
    /// This position's GetShardIterator request for one shard.
    fn iterator_request(
        self,
        client: &aws_sdk_kinesis::Client,
        stream: &str,
        shard_id: &str,
    ) -> aws_sdk_kinesis::operation::get_shard_iterator::builders::GetShardIteratorFluentBuilder {
        let request = client.get_shard_iterator().stream_name(stream).shard_id(shard_id);
        match self {
            Self::TrimHorizon => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            Self::Latest => request.shard_iterator_type(ShardIteratorType::Latest),
            Self::AtTimestamp(at) => request
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(aws_smithy_types::DateTime::from_millis(at.timestamp_millis())),
        }
    }
}

/// The settings of one event source mapping, named as in Lambda's
/// CreateEventSourceMapping. Build with [`EventSourceMapping::new`] and struct
/// update syntax, then [`EventSourceMapping::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSourceMapping {
    /// The Kinesis stream to read.
    pub stream_name: String,
    /// Most records per invocation, 1 to 10,000 (Lambda's default: 100).
    pub batch_size: usize,
    /// How long to gather records before invoking with fewer than `batch_size`;
    /// zero invokes as soon as records arrive (default 1 s).
    pub maximum_batching_window: Duration,
    /// Where each shard is first read from (default TRIM_HORIZON).
    pub starting_position: StartingPosition,
    /// Failed retries of a record range before it goes to the on-failure
    /// destination; -1 retries until it succeeds (default 3).
    pub maximum_retry_attempts: i32,
    /// On a function error, split the batch in two and retry each half.
    pub bisect_batch_on_function_error: bool,
    /// Pause before reading a shard again after it returned nothing, and before
    /// retrying a failed batch (Lambda reads each shard about once a second).
    pub poll_interval: Duration,
}

impl EventSourceMapping {
    /// What the integration tests drive a function with: `batch_size` records from the
    /// oldest, no batching window, a poll every 100 ms.
    pub fn for_tests(stream_name: impl Into<String>, batch_size: usize) -> Self {
        Self {
            batch_size,
            maximum_batching_window: Duration::ZERO,
            poll_interval: Duration::from_millis(100),
            ..Self::new(stream_name)
        }
    }

    /// Lambda's defaults for `stream_name`, except that retries are bounded.
    pub fn new(stream_name: impl Into<String>) -> Self {
        Self {
            stream_name: stream_name.into(),
            batch_size: 100,
            maximum_batching_window: Duration::from_secs(1),
            starting_position: StartingPosition::TrimHorizon,
            maximum_retry_attempts: 3,
            bisect_batch_on_function_error: false,
            poll_interval: Duration::from_secs(1),
        }
    }

    /// Finds the stream's ARN and shards and takes an iterator at the starting
    /// position on each: with LATEST, records put after this returns are delivered.
    pub async fn start<H: Handler, D: FailureDestination>(
        self,
        sdk: &SdkConfig,
        handler: H,
        destination: D,
    ) -> Result<Mapping<H, D>, EsmError> {
        let invalid =
            |message: &str| EsmError::Config { stream: self.stream_name.clone(), message: message.to_owned() };
        if !(1..=GET_RECORDS_MAX).contains(&self.batch_size) {
            return Err(invalid("batch_size must be between 1 and 10000"));
        }
        if self.maximum_retry_attempts < -1 {
            return Err(invalid("maximum_retry_attempts must be -1 (forever) or more"));
        }
        let client = aws_sdk_kinesis::Client::new(sdk);
        let stream = self.stream_name.as_str();
        let kinesis = |operation: &'static str| {
            move |e: aws_sdk_kinesis::Error| EsmError::Kinesis {
                stream: stream.to_owned(),
                operation,
                source: Box::new(e),
            }
        };
        let summary = client
            .describe_stream_summary()
            .stream_name(stream)
            .send()
            .await
            .map_err(|e| kinesis("DescribeStreamSummary")(e.into()))?;
        let stream_arn = summary.stream_description_summary().map(|d| d.stream_arn().to_owned()).unwrap_or_default();
        let source = EventSource::of_stream(stream_arn, sdk.region().map(ToString::to_string));

        let mut shard_ids = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            // ListShards takes either the stream name or a continuation token, never both;
            // the SDK has no paginator for it.
            let request = match &next_token {
                Some(token) => client.list_shards().next_token(token),
                None => client.list_shards().stream_name(stream),
            };
            let out = request.send().await.map_err(|e| kinesis("ListShards")(e.into()))?;
            shard_ids.extend(out.shards().iter().map(|s| s.shard_id().to_owned()));
            next_token = out.next_token;
            if next_token.is_none() {
                break;
            }
        }

        let now = Instant::now();
        let mut shards = Vec::with_capacity(shard_ids.len());
        for id in shard_ids {
            let iterator = self
                .starting_position
                .iterator_request(&client, stream, &id)
                .send()
                .await
                .map_err(|e| kinesis("GetShardIterator")(e.into()))?
                .shard_iterator;
            shards.push(Shard::new(id, iterator, now));
        }
        Ok(Mapping { source, config: self, client, handler, destination, shards, counters: Stats::default() })
    }
}

/// A stream function as Lambda sees it: a [`KinesisEvent`] in, `batchItemFailures`
/// or a function error out. Implemented for every
/// `Fn(KinesisEvent) -> impl Future<Output = Result<KinesisEventResponse, E>>`.
pub trait Handler {
    type Error: fmt::Display;
    fn call(&self, event: KinesisEvent) -> impl Future<Output = Result<KinesisEventResponse, Self::Error>>;
}

impl<F, Fut, E> Handler for F
where
    F: Fn(KinesisEvent) -> Fut,
    Fut: Future<Output = Result<KinesisEventResponse, E>>,
    E: fmt::Display,
{
    type Error = E;
    fn call(&self, event: KinesisEvent) -> impl Future<Output = Result<KinesisEventResponse, E>> {
        self(event)
    }
}

/// A stream function as a mapping's handler, invoked as Lambda invokes it: the batch
/// processed now under its declared timeout, its metrics written.
#[derive(Debug)]
pub struct Lambda<'a, F>(pub &'a F);

impl<F: vigil_lambda::stream::StreamFunction> Handler for Lambda<'_, F> {
    type Error = std::convert::Infallible;
    fn call(&self, event: KinesisEvent) -> impl Future<Output = Result<KinesisEventResponse, Self::Error>> {
        let function = self.0;
        let timeout = crate::declaration::Declaration::timeout_of(F::NAME);
        let deadline = vigil_lambda::Deadline::after(timeout, vigil_lambda::stream::DEADLINE_MARGIN);
        async move { Ok(function.handle(event, deadline).await) }
    }
}

/// Counters since the mapping started, and each shard's lag now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Handler invocations, retries included.
    pub batches_invoked: u64,
    /// Records handed to the handler, redeliveries included.
    pub records_delivered: u64,
    /// Records checkpointed as processed.
    pub records_succeeded: u64,
    /// Failed invocations that were followed by another attempt (bisections included).
    pub retries: u64,
    /// Failed batches split in two.
    pub bisections: u64,
    /// Records given up on and reported to the on-failure destination.
    pub records_to_destination: u64,
    pub shards: Vec<ShardLag>,
}

/// How far one shard's processing is behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardLag {
    pub shard_id: String,
    /// Records read from the shard but not yet checkpointed.
    pub pending_records: usize,
    /// Kinesis' own figure from the last GetRecords: how far the read position is
    /// behind the shard's newest record.
    pub millis_behind_latest: i64,
    /// Age of the oldest pending record (Lambda's IteratorAge metric), 0 when none.
    pub iterator_age_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum EsmError {
    #[error("event source mapping for stream {stream}: {message}")]
    Config { stream: String, message: String },
    #[error("{operation} on stream {stream} failed")]
    Kinesis {
        stream: String,
        operation: &'static str,
        #[source]
        source: Box<aws_sdk_kinesis::Error>,
    },
    #[error(
        "on-failure destination refused records {start_sequence_number}..={end_sequence_number} of {shard_id} on stream {stream}"
    )]
    Destination {
        stream: String,
        shard_id: String,
        start_sequence_number: String,
        end_sequence_number: String,
        #[source]
        source: std::io::Error,
    },
    #[error("stream {stream}: not idle after {timeout:?}, {pending_records} records pending")]
    Timeout { stream: String, timeout: Duration, pending_records: usize },
}

/// A started mapping: reads the stream and invokes the handler.
pub struct Mapping<H, D> {
    config: EventSourceMapping,
    client: aws_sdk_kinesis::Client,
    source: EventSource,
    handler: H,
    destination: D,
    shards: Vec<Shard>,
    counters: Stats,
}

impl<H, D> fmt::Debug for Mapping<H, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping").field("config", &self.config).field("stats", &self.stats()).finish_non_exhaustive()
    }
}

/// The event-source fields every record of a mapping carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSource {
    pub stream_arn: String,
    pub region: String,
    pub invoke_identity_arn: String,
}

impl EventSource {
    /// The fields for the stream `stream_arn` (`arn:aws:kinesis:<region>:<account>:stream/<name>`),
    /// with `region` when the ARN has none.
    pub fn of_stream(stream_arn: String, region: Option<String>) -> Self {
        let arn_part = |i: usize| stream_arn.split(':').nth(i).filter(|p| !p.is_empty()).map(str::to_owned);
        let region = arn_part(3).or(region).unwrap_or_default();
        let account = arn_part(4).unwrap_or_else(|| "000000000000".to_owned());
        Self { invoke_identity_arn: format!("arn:aws:iam::{account}:role/vigil-local-esm"), stream_arn, region }
    }

    /// A record as Lambda presents it in a [`KinesisEvent`]: `eventID` is
    /// `<shard>:<sequence number>`, as the stream functions read it back.
    pub fn record(
        &self,
        shard_id: &str,
        sequence_number: String,
        partition_key: String,
        data: Vec<u8>,
        arrival: DateTime<Utc>,
    ) -> KinesisEventRecord {
        let mut kinesis = KinesisRecord::default();
        kinesis.approximate_arrival_timestamp = SecondTimestamp(arrival);
        kinesis.data.0 = data;
        kinesis.partition_key = partition_key;
        kinesis.kinesis_schema_version = Some("1.0".into());
        let mut event = KinesisEventRecord::default();
        event.event_id = Some(format!("{shard_id}:{sequence_number}"));
        kinesis.sequence_number = sequence_number;
        event.kinesis = kinesis;
        event.event_source = Some("aws:kinesis".into());
        event.event_version = Some("1.0".into());
        event.event_name = Some("aws:kinesis:record".into());
        event.event_source_arn = Some(self.stream_arn.clone());
        event.aws_region = Some(self.region.clone());
        event.invoke_identity_arn = Some(self.invoke_identity_arn.clone());
        event
    }
}

#[derive(Debug)]
struct Shard {
    id: String,
    /// None once a closed shard has been read to its end.
    iterator: Option<String>,
    /// The last sequence number read, to take a new iterator if this one expires.
    last_read: Option<String>,
    /// Read but not checkpointed; the front is the checkpoint.
    pending: VecDeque<KinesisEventRecord>,
    /// Sizes of the next batches, set by a failure (retry that range) or a bisection
    /// (the two halves); empty means "gather a normal batch".
    plan: VecDeque<usize>,
    /// Failed invocations of the range starting at the checkpoint.
    failed_attempts: u32,
    /// When the oldest pending record was read: the batching window runs from here.
    gathering_since: Option<Instant>,
    /// The last GetRecords returned nothing and was 0 ms behind.
    caught_up: bool,
    millis_behind_latest: i64,
    next_read: Instant,
    /// A failed batch is retried after one poll interval, not in a hot loop.
    next_invoke: Instant,
}

impl Shard {
    fn new(id: String, iterator: Option<String>, now: Instant) -> Self {
        Self {
            id,
            iterator,
            last_read: None,
            pending: VecDeque::new(),
            plan: VecDeque::new(),
            failed_attempts: 0,
            gathering_since: None,
            caught_up: false,
            millis_behind_latest: 0,
            next_read: now,
            next_invoke: now,
        }
    }

    fn wants_records(&self, batch_size: usize) -> bool {
        self.iterator.is_some() && self.pending.len() < batch_size
    }

    /// The size of the batch to invoke now, if one is due.
    fn due_batch(&self, config: &EventSourceMapping, now: Instant) -> Option<usize> {
        if self.pending.is_empty() || now < self.next_invoke {
            return None;
        }
        if let Some(&planned) = self.plan.front() {
            return Some(planned.min(self.pending.len()));
        }
        if self.pending.len() >= config.batch_size {
            return Some(config.batch_size);
        }
        let window_over = self.gathering_since.is_some_and(|t| now >= t + config.maximum_batching_window);
        (window_over || self.iterator.is_none()).then_some(self.pending.len())
    }

    /// When this shard next has something to do.
    fn next_wake(&self, config: &EventSourceMapping) -> Option<Instant> {
        let read = self.wants_records(config.batch_size).then_some(self.next_read);
        let invoke = match (self.pending.is_empty(), self.plan.is_empty()) {
            (true, _) => None,
            (false, false) => Some(self.next_invoke),
            (false, true) => self.gathering_since.map(|t| (t + config.maximum_batching_window).max(self.next_invoke)),
        };
        read.into_iter().chain(invoke).min()
    }

    /// Moves the checkpoint past the first `n` pending records.
    fn checkpoint(&mut self, n: usize) {
        self.pending.drain(..n);
        self.failed_attempts = 0;
        if self.pending.is_empty() {
            self.gathering_since = None;
        }
    }

    /// Makes the next batch exactly the `n` records at the checkpoint.
    fn plan_next(&mut self, n: usize) {
        match self.plan.front_mut() {
            Some(front) => *front = n,
            None => self.plan.push_front(n),
        }
    }
}

/// How Lambda reads one invocation's result.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Success,
    /// Index of the lowest reported record: everything before it is processed.
    FailedFrom(usize),
    /// An identifier Lambda cannot use fails the whole batch.
    InvalidIdentifier(String),
    FunctionError(String),
}

fn outcome(batch: &[KinesisEventRecord], response: &KinesisEventResponse) -> Outcome {
    let mut lowest = None::<usize>;
    for failure in &response.batch_item_failures {
        let id = failure.item_identifier.as_deref().unwrap_or_default();
        // A batch is in sequence order, so the lowest sequence number is the first position.
        match batch.iter().position(|r| !id.is_empty() && r.kinesis.sequence_number == id) {
            Some(i) => lowest = Some(lowest.map_or(i, |l| l.min(i))),
            None if failure.item_identifier.is_none() => {
                return Outcome::InvalidIdentifier("null itemIdentifier".into());
            }
            None if id.is_empty() => return Outcome::InvalidIdentifier("empty itemIdentifier".into()),
            None => return Outcome::InvalidIdentifier(format!("itemIdentifier {id:?} is not in the batch")),
        }
    }
    lowest.map_or(Outcome::Success, Outcome::FailedFrom)
}

impl<H, D> Mapping<H, D> {
    /// True when every shard is caught up and has nothing pending.
    pub fn is_idle(&self) -> bool {
        self.shards.iter().all(|s| s.pending.is_empty() && (s.iterator.is_none() || s.caught_up))
    }

    /// Counters so far and each shard's current lag.
    pub fn stats(&self) -> Stats {
        let now = Utc::now();
        let shards = self
            .shards
            .iter()
            .map(|s| ShardLag {
                shard_id: s.id.clone(),
                pending_records: s.pending.len(),
                millis_behind_latest: s.millis_behind_latest,
                iterator_age_ms: s
                    .pending
                    .front()
                    .map_or(0, |r| (now - r.kinesis.approximate_arrival_timestamp.0).num_milliseconds().max(0)),
            })
            .collect();
        Stats { shards, ..self.counters.clone() }
    }

    pub fn destination(&self) -> &D {
        &self.destination
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }
}

impl<H: Handler, D: FailureDestination> Mapping<H, D> {
    /// Processes until every shard is caught up and nothing is pending or being
    /// retried, or fails with [`EsmError::Timeout`]. What tests call after putting records.
    pub async fn run_until_idle(&mut self, timeout: Duration) -> Result<Stats, EsmError> {
        // "Caught up" must come from a read made during this call, or records put
        // since the last call would go unseen.
        let now = Instant::now();
        for shard in &mut self.shards {
            shard.caught_up = false;
            shard.next_read = now;
        }
        let drained = tokio::time::timeout(timeout, async {
            loop {
                let progressed = self.poll_once().await?;
                if self.is_idle() {
                    return Ok(());
                }
                if !progressed {
                    sleep_until(self.next_wake()).await;
                }
            }
        })
        .await;
        match drained {
            Ok(Ok(())) => Ok(self.stats()),
            Ok(Err(e)) => Err(e),
            Err(_elapsed) => Err(EsmError::Timeout {
                stream: self.config.stream_name.clone(),
                timeout,
                pending_records: self.shards.iter().map(|s| s.pending.len()).sum(),
            }),
        }
    }

    /// Processes until `shutdown` completes (the local runner). Shutdown is only
    /// looked at between steps, so an invocation in flight finishes and is checkpointed.
    /// Returns early on a Kinesis error the SDK's own retries did not cure, or on a
    /// destination error; handler errors never end it (they are retried).
    pub async fn run(&mut self, shutdown: impl Future<Output = ()>) -> Result<Stats, EsmError> {
        self.run_reporting(shutdown, |_| {}).await
    }

    /// [`Mapping::run`], handing `report` the stats after every step that
    /// did something (the local runner's live view of lag per function).
    pub async fn run_reporting(
        &mut self,
        shutdown: impl Future<Output = ()>,
        mut report: impl FnMut(Stats),
    ) -> Result<Stats, EsmError> {
        tokio::pin!(shutdown);
        loop {
            let progressed = self.poll_once().await?;
            if progressed {
                report(self.stats());
            }
            let wake = if progressed { Instant::now() } else { self.next_wake() };
            tokio::select! {
                biased;
                () = &mut shutdown => return Ok(self.stats()),
                () = sleep_until(wake) => {}
            }
        }
    }

    /// One round over the shards: at most one read and one invocation each.
    /// Returns whether anything happened.
    async fn poll_once(&mut self) -> Result<bool, EsmError> {
        let mut progressed = false;
        for i in 0..self.shards.len() {
            let now = Instant::now();
            let shard = &self.shards[i];
            if shard.wants_records(self.config.batch_size) && now >= shard.next_read {
                progressed |= self.read(i).await? > 0;
            }
            if let Some(n) = self.shards[i].due_batch(&self.config, Instant::now()) {
                self.invoke(i, n).await?;
                progressed = true;
            }
        }
        Ok(progressed)
    }

    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let soonest = self.shards.iter().filter_map(|s| s.next_wake(&self.config)).min();
        // Bounded both ways: never a hot loop, never longer than one poll interval.
        soonest
            .unwrap_or(now + self.config.poll_interval)
            .clamp(now + Duration::from_millis(1), now + self.config.poll_interval)
    }

    /// One GetRecords call on shard `i`; returns how many records it added.
    async fn read(&mut self, i: usize) -> Result<usize, EsmError> {
        let stream = &self.config.stream_name;
        let shard = &mut self.shards[i];
        let Some(iterator) = shard.iterator.clone() else { return Ok(0) };
        let limit = (self.config.batch_size - shard.pending.len()).min(GET_RECORDS_MAX);
        let now = Instant::now();
        let out = match self.client.get_records().shard_iterator(iterator).limit(limit as i32).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_provisioned_throughput_exceeded_exception()) => {
                tracing::warn!(stream = %stream, shard = %shard.id, "GetRecords throttled, reading again after the poll interval");
                shard.next_read = now + self.config.poll_interval;
                return Ok(0);
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_expired_iterator_exception()) => {
                // Iterators expire after 5 minutes (a very slow handler); resume after the last record read.
                let request = match &shard.last_read {
                    Some(seq) => self
                        .client
                        .get_shard_iterator()
                        .stream_name(stream)
                        .shard_id(&shard.id)
                        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                        .starting_sequence_number(seq),
                    None => self.config.starting_position.iterator_request(&self.client, stream, &shard.id),
                };
                shard.iterator = request
                    .send()
                    .await
                    .map_err(|e| EsmError::Kinesis {
                        stream: stream.clone(),
                        operation: "GetShardIterator",
                        source: Box::new(e.into()),
                    })?
                    .shard_iterator;
                return Ok(0);
            }
            Err(e) => {
                return Err(EsmError::Kinesis {
                    stream: stream.clone(),
                    operation: "GetRecords",
                    source: Box::new(e.into()),
                });
            }
        };
        let added = out.records.len();
        shard.millis_behind_latest = out.millis_behind_latest.unwrap_or(0);
        shard.caught_up = added == 0 && shard.millis_behind_latest == 0;
        // A closed shard read to its end has no next iterator.
        shard.iterator = out.next_shard_iterator;
        shard.next_read = if added == 0 { now + self.config.poll_interval } else { now };
        if added > 0 && shard.pending.is_empty() {
            shard.gathering_since = Some(now);
        }
        for record in out.records {
            shard.last_read = Some(record.sequence_number.clone());
            shard.pending.push_back(event_record(record, &shard.id, &self.source));
        }
        Ok(added)
    }

    /// Invokes the handler with the first `n` pending records of shard `i` and
    /// applies Lambda's reading of the result.
    async fn invoke(&mut self, i: usize, n: usize) -> Result<(), EsmError> {
        let mut event = KinesisEvent::default();
        event.records = self.shards[i].pending.iter().take(n).cloned().collect();
        self.counters.batches_invoked += 1;
        self.counters.records_delivered += n as u64;
        let result = self.handler.call(event).await;

        let shard = &mut self.shards[i];
        let batch = shard.pending.make_contiguous();
        let outcome = match result {
            Ok(response) => outcome(&batch[..n], &response),
            Err(e) => Outcome::FunctionError(e.to_string()),
        };
        let (function_error, reason) = match outcome {
            Outcome::Success => {
                shard.checkpoint(n);
                shard.plan.pop_front();
                self.counters.records_succeeded += n as u64;
                return Ok(());
            }
            Outcome::FunctionError(reason) if self.config.bisect_batch_on_function_error && n > 1 => {
                // Each half becomes its own batch; splitting uses no retry attempts.
                shard.plan.pop_front();
                shard.plan.push_front(n / 2);
                shard.plan.push_front(n - n / 2);
                shard.failed_attempts = 0;
                shard.next_invoke = Instant::now() + self.config.poll_interval;
                self.counters.bisections += 1;
                self.counters.retries += 1;
                tracing::debug!(stream = %self.config.stream_name, shard = %shard.id, records = n, %reason, "function error, bisecting the batch");
                return Ok(());
            }
            Outcome::FailedFrom(k) if k > 0 => {
                // Records before k are processed; k.. is a new range, failed once.
                shard.checkpoint(k);
                self.counters.records_succeeded += k as u64;
                shard.plan_next(n - k);
                shard.failed_attempts = 1;
                (None, "batch item failure".to_owned())
            }
            Outcome::FailedFrom(_) => {
                shard.plan_next(n);
                shard.failed_attempts += 1;
                (None, "batch item failure".to_owned())
            }
            Outcome::InvalidIdentifier(reason) => {
                shard.plan_next(n);
                shard.failed_attempts += 1;
                (None, reason)
            }
            Outcome::FunctionError(reason) => {
                shard.plan_next(n);
                shard.failed_attempts += 1;
                (Some("Unhandled".to_owned()), reason)
            }
        };

        let exhausted = u32::try_from(self.config.maximum_retry_attempts).is_ok_and(|max| shard.failed_attempts > max);
        if !exhausted {
            shard.next_invoke = Instant::now() + self.config.poll_interval;
            self.counters.retries += 1;
            return Ok(());
        }
        let size = shard.plan.front().copied().unwrap_or(n).min(shard.pending.len());
        let (first, last) = (&shard.pending[0], &shard.pending[size - 1]);
        let failure = FailedBatch {
            request_context: RequestContext {
                condition: "RetryAttemptsExhausted".into(),
                approximate_invoke_count: shard.failed_attempts,
            },
            response_context: ResponseContext { function_error, reason },
            version: "1.0".into(),
            timestamp: Utc::now(),
            kinesis_batch_info: KinesisBatchInfo {
                shard_id: shard.id.clone(),
                start_sequence_number: first.kinesis.sequence_number.clone(),
                end_sequence_number: last.kinesis.sequence_number.clone(),
                approximate_arrival_of_first_record: first.kinesis.approximate_arrival_timestamp.0,
                approximate_arrival_of_last_record: last.kinesis.approximate_arrival_timestamp.0,
                batch_size: size,
                stream_arn: self.source.stream_arn.clone(),
            },
        };
        let info = &failure.kinesis_batch_info;
        self.destination.send(&failure).map_err(|source| EsmError::Destination {
            stream: self.config.stream_name.clone(),
            shard_id: info.shard_id.clone(),
            start_sequence_number: info.start_sequence_number.clone(),
            end_sequence_number: info.end_sequence_number.clone(),
            source,
        })?;
        tracing::warn!(
            stream = %self.config.stream_name, shard = %info.shard_id, records = size,
            start = %info.start_sequence_number, end = %info.end_sequence_number,
            "retries exhausted, records sent to the on-failure destination"
        );
        shard.checkpoint(size);
        shard.plan.pop_front();
        self.counters.records_to_destination += size as u64;
        Ok(())
    }
}

/// A GetRecords record as Lambda presents it in a [`KinesisEvent`].
fn event_record(record: aws_sdk_kinesis::types::Record, shard_id: &str, source: &EventSource) -> KinesisEventRecord {
    let arrival = record
        .approximate_arrival_timestamp
        .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_else(Utc::now);
    let kms = record.encryption_type == Some(EncryptionType::Kms);
    let partition_key = record.partition_key.unwrap_or_default();
    let mut event = source.record(shard_id, record.sequence_number, partition_key, record.data.into_inner(), arrival);
    if kms {
        event.kinesis.encryption_type = KinesisEncryptionType::Kms;
    }
    event
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::event::streams::KinesisBatchItemFailure;

    use super::*;

    fn batch(seqs: &[&str]) -> Vec<KinesisEventRecord> {
        seqs.iter()
            .map(|s| {
                let mut r = KinesisEventRecord::default();
                r.kinesis.sequence_number = (*s).to_owned();
                r
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
    fn lowest_reported_record_is_the_checkpoint() {
        let b = batch(&["10", "11", "12", "13"]);
        assert_eq!(outcome(&b, &response(&[])), Outcome::Success);
        assert_eq!(outcome(&b, &response(&[Some("13"), Some("11")])), Outcome::FailedFrom(1));
        assert_eq!(outcome(&b, &response(&[Some("10")])), Outcome::FailedFrom(0));
    }

    #[test]
    fn unusable_identifiers_fail_the_whole_batch() {
        let b = batch(&["10", "11"]);
        for ids in [vec![Some("")], vec![None], vec![Some("11"), Some("99")]] {
            assert!(matches!(outcome(&b, &response(&ids)), Outcome::InvalidIdentifier(_)), "{ids:?}");
        }
    }
}
