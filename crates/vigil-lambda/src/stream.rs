//! What every Kinesis stream function shares, so each one only says what it
//! does with the envelopes:
//! - decoding a batch, keeping stream order and each record's position;
//! - quarantining records that can never be decoded (poison), so they never
//!   block their shard — and reporting them only if the quarantine write fails;
//! - answering `batchItemFailures` with real sequence numbers (an empty or null
//!   identifier would make Lambda fail the whole batch).

use std::future::Future;
use std::time::Duration;

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use chrono::{DateTime, Utc};
use vigil_domain::Envelope;
use vigil_domain::envelope::Decoder;
use vigil_domain::ports::{PoisonRecord, Quarantine};

use crate::{Deadline, Expired, Metrics};

/// Time kept back from a stream invocation's deadline to answer Lambda.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// A Kinesis stream function: what it does with one batch.
pub trait StreamFunction {
    /// The function's name, for the metrics written when its time runs out.
    const NAME: &'static str;

    /// Processes one batch as of `now`; returns the response and the metrics
    /// without writing them (the local runner and the tests read them).
    fn process_batch(
        &self,
        event: KinesisEvent,
        now: DateTime<Utc>,
    ) -> impl Future<Output = (KinesisEventResponse, Metrics)>;

    /// [`process_batch`](Self::process_batch) under `deadline`. If the batch is
    /// not done by then, the work is dropped and every record of the batch is
    /// reported (Lambda delivers it again; every write is idempotent), rather
    /// than Lambda's timeout failing the invocation as a whole.
    fn process_within(
        &self,
        event: KinesisEvent,
        now: DateTime<Utc>,
        deadline: Deadline,
    ) -> impl Future<Output = (KinesisEventResponse, Metrics)> {
        async move {
            let sequence_numbers: Vec<String> =
                event.records.iter().map(|r| r.kinesis.sequence_number.clone()).collect();
            // Boxed: a batch's future is large (vitals-writer's nests four write
            // lanes), and the timer around it would otherwise hold it on the stack.
            match deadline.run(Box::pin(self.process_batch(event, now))).await {
                Ok(answer) => answer,
                Err(Expired) => {
                    tracing::warn!(
                        function = Self::NAME,
                        records = sequence_numbers.len(),
                        "batch not done before the deadline; reporting every record for retry"
                    );
                    let mut metrics = Metrics::new(Self::NAME);
                    metrics
                        .count("RecordsIn", sequence_numbers.len())
                        .count("RecordsFailed", sequence_numbers.len())
                        .count("BatchTimeouts", 1);
                    (response(sequence_numbers.iter().map(String::as_str)), metrics)
                }
            }
        }
    }

    /// Writes a batch's metrics to stdout as EMF: a line each, unless the
    /// function pools them ([`crate::metrics::Pool`]).
    fn emit(&self, metrics: Metrics) {
        metrics.emit();
    }

    /// Lambda's entry: the batch processed now under `deadline`, its metrics
    /// written by [`emit`](Self::emit).
    fn handle(&self, event: KinesisEvent, deadline: Deadline) -> impl Future<Output = KinesisEventResponse> {
        async move {
            let (response, metrics) = self.process_within(event, Utc::now(), deadline).await;
            self.emit(metrics);
            response
        }
    }
}

/// Runs `function` behind the Lambda runtime until the sandbox ends; each batch
/// under the invocation's deadline less [`DEADLINE_MARGIN`].
pub async fn serve(function: &impl StreamFunction) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(|event: lambda_runtime::LambdaEvent<KinesisEvent>| async move {
        let deadline = Deadline::of(&event.context, DEADLINE_MARGIN);
        Ok::<_, std::convert::Infallible>(function.handle(event.payload, deadline).await)
    }))
    .await
}

/// Where a record sits in the stream.
#[derive(Debug, Clone, Copy)]
pub struct Position<'a> {
    pub shard_id: &'a str,
    pub sequence_number: &'a str,
    pub arrival: DateTime<Utc>,
}

/// A record that decoded into an envelope.
#[derive(Debug)]
pub struct Decoded<'a> {
    pub position: Position<'a>,
    pub envelope: Envelope,
}

/// A decoded batch.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    /// Envelopes in stream order.
    pub decoded: Vec<Decoded<'a>>,
    /// Records to report for retry (poison whose quarantine failed).
    pub failed: Vec<&'a str>,
    /// Poison records seen (quarantined or not).
    pub poison: usize,
    /// Envelopes the fast path declined and serde_json read (metric
    /// `RecordsDecodedSlowly`): none while ingest and the stream functions run
    /// the same version; many means the two disagree on the layout.
    pub decoded_slowly: usize,
    /// Arrival time of the newest record, for the processing-lag metric.
    pub newest_arrival: Option<DateTime<Utc>>,
}

impl Batch<'_> {
    /// Readings carried by the decoded envelopes.
    pub fn readings(&self) -> usize {
        self.decoded.iter().map(|d| d.envelope.readings.len()).sum()
    }
}

/// The position of a record from Lambda's event (`eventID` is `shardId-…:<sequence number>`).
pub fn position(record: &KinesisEventRecord) -> Position<'_> {
    Position {
        shard_id: record.event_id.as_deref().and_then(|id| id.split(':').next()).unwrap_or("unknown"),
        sequence_number: &record.kinesis.sequence_number,
        arrival: record.kinesis.approximate_arrival_timestamp.0,
    }
}

/// Decodes every record; quarantines the ones that are not envelopes.
pub async fn decode_batch<'a, Q: Quarantine + Sync>(
    event: &'a KinesisEvent,
    function: &str,
    quarantine: &Q,
) -> Batch<'a> {
    let mut batch = Batch { decoded: Vec::with_capacity(event.records.len()), ..Batch::default() };
    for record in &event.records {
        let position = position(record);
        batch.newest_arrival = batch.newest_arrival.max(Some(position.arrival));
        match Envelope::decode_by(&record.kinesis.data.0) {
            Ok((envelope, decoder)) => {
                batch.decoded_slowly += usize::from(decoder == Decoder::Serde);
                batch.decoded.push(Decoded { position, envelope });
            }
            Err(err) => {
                batch.poison += 1;
                let reason = err.to_string();
                let poison = PoisonRecord {
                    function,
                    shard_id: position.shard_id,
                    sequence_number: position.sequence_number,
                    data: &record.kinesis.data.0,
                    reason: &reason,
                };
                match quarantine.quarantine(&poison).await {
                    Ok(()) => tracing::error!(
                        shard_id = position.shard_id,
                        sequence_number = position.sequence_number,
                        // The reason (in the quarantined object) may quote the record: not logged.
                        kind = err.kind(),
                        bytes = record.kinesis.data.0.len(),
                        "poison record quarantined"
                    ),
                    Err(err) => {
                        tracing::error!(shard_id = position.shard_id, sequence_number = position.sequence_number, error = %err, "poison record could not be quarantined; reporting for retry");
                        batch.failed.push(position.sequence_number);
                    }
                }
            }
        }
    }
    batch
}

/// The handler's answer: each failed record's sequence number (Lambda restarts
/// from the lowest). Empty identifiers are never produced.
pub fn response<'a>(failed: impl IntoIterator<Item = &'a str>) -> KinesisEventResponse {
    let mut response = KinesisEventResponse::default();
    for sequence_number in failed.into_iter().filter(|s| !s.is_empty()) {
        let mut failure = KinesisBatchItemFailure::default();
        failure.item_identifier = Some(sequence_number.to_owned());
        response.batch_item_failures.push(failure);
    }
    response
}
