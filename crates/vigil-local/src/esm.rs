//! A local Kinesis event source mapping: AWS Lambda's stream poller played on one
//! machine, so integration tests and the local runner drive the real stream
//! functions with the exact [`KinesisEvent`] Lambda sends and with Lambda's
//! checkpoint, retry, bisect and on-failure semantics.
//!
//! Per shard, records are read and spread by partition key over
//! `parallelization_factor` lanes (Lambda's concurrent batches per shard). Each lane
//! is a pending buffer whose front is its checkpoint: nothing leaves it until the
//! handler has processed it or it went to the on-failure destination. So a retry
//! never needs the stream again, and a partition key's records are delivered
//! strictly in order, one batch at a time. Every shard's lanes are invoked
//! concurrently, and reads go on while batches run: a slow batch holds up only its
//! own lane, as in Lambda.
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
    /// Concurrent batches per shard, 1 to 10 (default 1). Records are spread over them
    /// by partition key, so each key's records are still delivered in order.
    pub parallelization_factor: usize,
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
            parallelization_factor: 1,
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
        if !(1..=10).contains(&self.parallelization_factor) {
            return Err(invalid("parallelization_factor must be between 1 and 10"));
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
            shards.push(Shard::new(id, iterator, self.parallelization_factor, now));
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
    /// A GetRecords call on this shard is in flight.
    reading: bool,
    /// The last GetRecords returned nothing and was 0 ms behind.
    caught_up: bool,
    millis_behind_latest: i64,
    next_read: Instant,
    /// The shard's records by partition key: `parallelization_factor` lanes, each
    /// delivered in order, one batch at a time.
    lanes: Vec<Lane>,
}

/// One concurrent batcher of a shard (Lambda's parallelization factor): the records
/// whose partition key hashes to it, in shard order.
#[derive(Debug)]
struct Lane {
    /// Read but not checkpointed; the front is the checkpoint.
    pending: VecDeque<KinesisEventRecord>,
    /// Sizes of the next batches, set by a failure (retry that range) or a bisection
    /// (the two halves); empty means "gather a normal batch".
    plan: VecDeque<usize>,
    /// Failed invocations of the range starting at the checkpoint.
    failed_attempts: u32,
    /// When the oldest pending record was read: the batching window runs from here.
    gathering_since: Option<Instant>,
    /// A failed batch is retried after one poll interval, not in a hot loop.
    next_invoke: Instant,
    /// An invocation with this lane's front records is in flight.
    busy: bool,
}

impl Shard {
    fn new(id: String, iterator: Option<String>, lanes: usize, now: Instant) -> Self {
        Self {
            id,
            iterator,
            last_read: None,
            reading: false,
            caught_up: false,
            millis_behind_latest: 0,
            next_read: now,
            lanes: (0..lanes.max(1)).map(|_| Lane::new(now)).collect(),
        }
    }

    fn pending(&self) -> usize {
        self.lanes.iter().map(|l| l.pending.len()).sum()
    }

    /// Room for another read: at most one batch per lane is held.
    fn wants_records(&self, batch_size: usize) -> bool {
        self.iterator.is_some() && !self.reading && self.pending() < batch_size * self.lanes.len()
    }

    fn is_idle(&self) -> bool {
        !self.reading && self.pending() == 0 && (self.iterator.is_none() || self.caught_up)
    }

    /// When this shard next has something to do (reads or invocations not in flight).
    fn next_wake(&self, config: &EventSourceMapping) -> Option<Instant> {
        let read = self.wants_records(config.batch_size).then_some(self.next_read);
        let invoke = self.lanes.iter().filter_map(|l| l.next_wake(config)).min();
        read.into_iter().chain(invoke).min()
    }

    /// The lane of a partition key: the same key always lands in the same lane, so
    /// one wearer's records stay in order whatever the parallelization factor.
    fn lane_of(&self, partition_key: &str) -> usize {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        partition_key.hash(&mut hasher);
        (hasher.finish() % self.lanes.len() as u64) as usize
    }

    /// Applies a GetRecords answer read at `now`.
    fn take(&mut self, read: Read, source: &EventSource, config: &EventSourceMapping, now: Instant) -> usize {
        self.reading = false;
        match read {
            Read::Throttled => {
                self.next_read = now + config.poll_interval;
                0
            }
            Read::Reopened(iterator) => {
                self.iterator = iterator;
                0
            }
            Read::Records { records, next_iterator, millis_behind_latest } => {
                let added = records.len();
                self.millis_behind_latest = millis_behind_latest;
                self.caught_up = added == 0 && millis_behind_latest == 0;
                // A closed shard read to its end has no next iterator.
                self.iterator = next_iterator;
                self.next_read = if added == 0 { now + config.poll_interval } else { now };
                for record in records {
                    self.last_read = Some(record.sequence_number.clone());
                    let event = event_record(record, &self.id, source);
                    let lane = self.lane_of(&event.kinesis.partition_key);
                    let lane = &mut self.lanes[lane];
                    if lane.pending.is_empty() {
                        lane.gathering_since = Some(now);
                    }
                    lane.pending.push_back(event);
                }
                added
            }
        }
    }
}

impl Lane {
    fn new(now: Instant) -> Self {
        Self {
            pending: VecDeque::new(),
            plan: VecDeque::new(),
            failed_attempts: 0,
            gathering_since: None,
            next_invoke: now,
            busy: false,
        }
    }

    /// The size of the batch to invoke now, if one is due. `drained`: the shard has no
    /// more records to gather (closed and read to its end).
    fn due_batch(&self, config: &EventSourceMapping, drained: bool, now: Instant) -> Option<usize> {
        if self.busy || self.pending.is_empty() || now < self.next_invoke {
            return None;
        }
        if let Some(&planned) = self.plan.front() {
            return Some(planned.min(self.pending.len()));
        }
        if self.pending.len() >= config.batch_size {
            return Some(config.batch_size);
        }
        let window_over = self.gathering_since.is_some_and(|t| now >= t + config.maximum_batching_window);
        (window_over || drained).then_some(self.pending.len())
    }

    fn next_wake(&self, config: &EventSourceMapping) -> Option<Instant> {
        if self.busy {
            return None;
        }
        match (self.pending.is_empty(), self.plan.is_empty()) {
            (true, _) => None,
            (false, false) => Some(self.next_invoke),
            (false, true) => self.gathering_since.map(|t| (t + config.maximum_batching_window).max(self.next_invoke)),
        }
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

/// What one GetRecords call brought.
enum Read {
    Records {
        records: Vec<aws_sdk_kinesis::types::Record>,
        next_iterator: Option<String>,
        millis_behind_latest: i64,
    },
    /// Throttled: read again after the poll interval.
    Throttled,
    /// The iterator had expired; this is a new one after the last record read.
    Reopened(Option<String>),
}

/// A read or an invocation that finished.
enum Done<E> {
    Read { shard: usize, at: Instant, result: Result<Read, EsmError> },
    Invoked { shard: usize, lane: usize, n: usize, result: Result<KinesisEventResponse, E> },
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
        all_idle(&self.shards)
    }

    /// Counters so far and each shard's current lag.
    pub fn stats(&self) -> Stats {
        stats_of(&self.shards, &self.counters)
    }

    pub fn destination(&self) -> &D {
        &self.destination
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }
}

fn stats_of(shards: &[Shard], counters: &Stats) -> Stats {
    let now = Utc::now();
    let shards = shards
        .iter()
        .map(|s| ShardLag {
            shard_id: s.id.clone(),
            pending_records: s.pending(),
            millis_behind_latest: s.millis_behind_latest,
            iterator_age_ms: s
                .lanes
                .iter()
                .filter_map(|l| l.pending.front())
                .map(|r| (now - r.kinesis.approximate_arrival_timestamp.0).num_milliseconds().max(0))
                .max()
                .unwrap_or(0),
        })
        .collect();
    Stats { shards, ..counters.clone() }
}

/// Every shard caught up with nothing pending or in flight.
fn all_idle(shards: &[Shard]) -> bool {
    shards.iter().all(Shard::is_idle)
}

/// When the poller next has something to do: bounded both ways, never a hot loop,
/// never longer than one poll interval.
fn next_wake(config: &EventSourceMapping, shards: &[Shard]) -> Instant {
    let now = Instant::now();
    let soonest = shards.iter().filter_map(|s| s.next_wake(config)).min();
    soonest.unwrap_or(now + config.poll_interval).clamp(now + Duration::from_millis(1), now + config.poll_interval)
}

type Work<'a, E> = futures_util::stream::FuturesUnordered<std::pin::Pin<Box<dyn Future<Output = Done<E>> + 'a>>>;

/// When [`Mapping::drive`] returns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    Idle,
    Shutdown,
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
        let drained = tokio::time::timeout(timeout, self.drive(Until::Idle, std::future::pending(), |_| {})).await;
        match drained {
            Ok(Ok(())) => Ok(self.stats()),
            Ok(Err(e)) => Err(e),
            Err(_elapsed) => Err(EsmError::Timeout {
                stream: self.config.stream_name.clone(),
                timeout,
                pending_records: self.shards.iter().map(Shard::pending).sum(),
            }),
        }
    }

    /// Processes until `shutdown` completes (the local runner). Invocations in flight
    /// when it does finish and are checkpointed; nothing new starts.
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
        report: impl FnMut(Stats),
    ) -> Result<Stats, EsmError> {
        self.drive(Until::Shutdown, shutdown, report).await?;
        Ok(self.stats())
    }

    /// The poller: reads each shard when it has room and its poll is due, and invokes
    /// every lane whose batch is due, all at once — a slow batch holds up only its own
    /// lane, as in Lambda. State changes only here, as each read or invocation finishes.
    async fn drive(
        &mut self,
        until: Until,
        shutdown: impl Future<Output = ()>,
        mut report: impl FnMut(Stats),
    ) -> Result<(), EsmError> {
        // Nothing survives a previous drive (it may have been cancelled by a timeout).
        let Self { config, client, source, handler, destination, shards, counters } = self;
        let (config, client, source, handler) = (&*config, &*client, &*source, &*handler);
        for shard in shards.iter_mut() {
            shard.reading = false;
            shard.lanes.iter_mut().for_each(|l| l.busy = false);
        }
        tokio::pin!(shutdown);
        let mut stopping = false;
        let mut work: Work<'_, H::Error> = futures_util::stream::FuturesUnordered::new();
        loop {
            if !stopping {
                start_due(config, client, handler, shards, counters, &mut work);
            }
            if work.is_empty() && (stopping || (until == Until::Idle && all_idle(shards))) {
                return Ok(());
            }
            let wake = next_wake(config, shards);
            tokio::select! {
                biased;
                () = &mut shutdown, if !stopping => stopping = true,
                Some(done) = futures_util::StreamExt::next(&mut work) => {
                    match done {
                        Done::Read { shard, at, result } => {
                            let shard = &mut shards[shard];
                            let read = result.inspect_err(|_| shard.reading = false)?;
                            if let Read::Throttled = read {
                                tracing::warn!(stream = %config.stream_name, shard = %shard.id, "GetRecords throttled, reading again after the poll interval");
                            }
                            shard.take(read, source, config, at);
                        }
                        Done::Invoked { shard, lane, n, result } => {
                            let shard = &mut shards[shard];
                            shard.lanes[lane].busy = false;
                            let settled = Settle { config, source, destination: &mut *destination, counters: &mut *counters };
                            settled.invoked(shard, lane, n, result.map_err(|e| e.to_string()))?;
                        }
                    }
                    report(stats_of(shards, counters));
                }
                () = sleep_until(wake), if !stopping => {}
            }
        }
    }
}

/// Starts the reads and invocations that are due.
fn start_due<'a, H: Handler>(
    config: &'a EventSourceMapping,
    client: &'a aws_sdk_kinesis::Client,
    handler: &'a H,
    shards: &mut [Shard],
    counters: &mut Stats,
    work: &mut Work<'a, H::Error>,
) {
    let now = Instant::now();
    for (i, shard) in shards.iter_mut().enumerate() {
        if shard.wants_records(config.batch_size)
            && now >= shard.next_read
            && let Some(iterator) = shard.iterator.clone()
        {
            shard.reading = true;
            let limit = (config.batch_size * shard.lanes.len() - shard.pending()).min(GET_RECORDS_MAX);
            let (shard_id, last_read) = (shard.id.clone(), shard.last_read.clone());
            work.push(Box::pin(async move {
                let result = get_records(client, config, &shard_id, iterator, last_read, limit).await;
                Done::Read { shard: i, at: now, result }
            }));
        }
        let drained = shard.iterator.is_none();
        for (j, lane) in shard.lanes.iter_mut().enumerate() {
            let Some(n) = lane.due_batch(config, drained, now) else { continue };
            lane.busy = true;
            let mut event = KinesisEvent::default();
            event.records = lane.pending.iter().take(n).cloned().collect();
            counters.batches_invoked += 1;
            counters.records_delivered += n as u64;
            work.push(Box::pin(
                async move { Done::Invoked { shard: i, lane: j, n, result: handler.call(event).await } },
            ));
        }
    }
}

/// What applying an invocation's result touches besides the shard.
struct Settle<'a, D> {
    config: &'a EventSourceMapping,
    source: &'a EventSource,
    destination: &'a mut D,
    counters: &'a mut Stats,
}

impl<D: FailureDestination> Settle<'_, D> {
    /// Applies Lambda's reading of an invocation's result to the lane whose first `n`
    /// pending records it was given.
    fn invoked(
        self,
        shard: &mut Shard,
        lane: usize,
        n: usize,
        result: Result<KinesisEventResponse, String>,
    ) -> Result<(), EsmError> {
        let shard_id = shard.id.clone();
        let lane = &mut shard.lanes[lane];
        let batch = lane.pending.make_contiguous();
        let outcome = match result {
            Ok(response) => outcome(&batch[..n], &response),
            Err(e) => Outcome::FunctionError(e),
        };
        let (function_error, reason) = match outcome {
            Outcome::Success => {
                lane.checkpoint(n);
                lane.plan.pop_front();
                self.counters.records_succeeded += n as u64;
                return Ok(());
            }
            Outcome::FunctionError(reason) if self.config.bisect_batch_on_function_error && n > 1 => {
                // Each half becomes its own batch; splitting uses no retry attempts.
                lane.plan.pop_front();
                lane.plan.push_front(n / 2);
                lane.plan.push_front(n - n / 2);
                lane.failed_attempts = 0;
                lane.next_invoke = Instant::now() + self.config.poll_interval;
                self.counters.bisections += 1;
                self.counters.retries += 1;
                tracing::debug!(stream = %self.config.stream_name, shard = %shard_id, records = n, %reason, "function error, bisecting the batch");
                return Ok(());
            }
            Outcome::FailedFrom(k) if k > 0 => {
                // Records before k are processed; k.. is a new range, failed once.
                lane.checkpoint(k);
                self.counters.records_succeeded += k as u64;
                lane.plan_next(n - k);
                lane.failed_attempts = 1;
                (None, "batch item failure".to_owned())
            }
            Outcome::FailedFrom(_) => {
                lane.plan_next(n);
                lane.failed_attempts += 1;
                (None, "batch item failure".to_owned())
            }
            Outcome::InvalidIdentifier(reason) => {
                lane.plan_next(n);
                lane.failed_attempts += 1;
                (None, reason)
            }
            Outcome::FunctionError(reason) => {
                lane.plan_next(n);
                lane.failed_attempts += 1;
                (Some("Unhandled".to_owned()), reason)
            }
        };

        let exhausted = u32::try_from(self.config.maximum_retry_attempts).is_ok_and(|max| lane.failed_attempts > max);
        if !exhausted {
            lane.next_invoke = Instant::now() + self.config.poll_interval;
            self.counters.retries += 1;
            return Ok(());
        }
        let size = lane.plan.front().copied().unwrap_or(n).min(lane.pending.len());
        let (first, last) = (&lane.pending[0], &lane.pending[size - 1]);
        let failure = FailedBatch {
            request_context: RequestContext {
                condition: "RetryAttemptsExhausted".into(),
                approximate_invoke_count: lane.failed_attempts,
            },
            response_context: ResponseContext { function_error, reason },
            version: "1.0".into(),
            timestamp: Utc::now(),
            kinesis_batch_info: KinesisBatchInfo {
                shard_id,
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
        lane.checkpoint(size);
        lane.plan.pop_front();
        self.counters.records_to_destination += size as u64;
        Ok(())
    }
}

/// One GetRecords call on a shard; an expired iterator (iterators expire after 5
/// minutes, e.g. behind a very slow handler) is replaced by one after the last record read.
async fn get_records(
    client: &aws_sdk_kinesis::Client,
    config: &EventSourceMapping,
    shard_id: &str,
    iterator: String,
    last_read: Option<String>,
    limit: usize,
) -> Result<Read, EsmError> {
    let stream = &config.stream_name;
    let kinesis = |operation: &'static str| {
        move |e: aws_sdk_kinesis::Error| EsmError::Kinesis { stream: stream.clone(), operation, source: Box::new(e) }
    };
    match client.get_records().shard_iterator(iterator).limit(limit as i32).send().await {
        Ok(out) => Ok(Read::Records {
            millis_behind_latest: out.millis_behind_latest.unwrap_or(0),
            next_iterator: out.next_shard_iterator,
            records: out.records,
        }),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_provisioned_throughput_exceeded_exception()) => {
            Ok(Read::Throttled)
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_expired_iterator_exception()) => {
            let request = match &last_read {
                Some(seq) => client
                    .get_shard_iterator()
                    .stream_name(stream)
                    .shard_id(shard_id)
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .starting_sequence_number(seq),
                None => config.starting_position.iterator_request(client, stream, shard_id),
            };
            let out = request.send().await.map_err(|e| kinesis("GetShardIterator")(e.into()))?;
            Ok(Read::Reopened(out.shard_iterator))
        }
        Err(e) => Err(kinesis("GetRecords")(e.into())),
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
