//! Batch semantics (ReportBatchItemFailures):
//! - Each envelope becomes one vitals item per half-hour span of event time
//!   ([`vigil_domain::vitals::vitals_items`]); items are written with
//!   idempotent puts, so a redelivered record rewrites identical items.
//! - An envelope with any item not written (throttled past the write budget,
//!   or refused) reports its record. Lambda restarts from the lowest reported
//!   sequence number, so that record and every later one come again; the
//!   records before it are stored and are not.
//! - The batch is handled in chunks of [`RECORDS_PER_CHUNK`] records, whose
//!   envelopes are dropped once their items are written, so memory stays flat
//!   for large batches. After a chunk with a failed write, later chunks are not
//!   written: they come again anyway, and under throttling more writes only
//!   make it worse.
//! - Nothing else is written: the wearer's latest state (the shadow) is read
//!   from the newest vitals items ([`vigil_domain::vitals::Shadow`]).
//! - A record that can never be decoded is poison: it is quarantined with its
//!   shard and sequence number and not reported, so it never blocks the shard.
//!   If the quarantine write itself fails, it is reported.
//! - Every reported identifier is a real sequence number from the batch.

use std::time::Instant;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use chrono::{DateTime, TimeDelta, Utc};
use vigil_domain::ports::{Quarantine, VitalsStore};
use vigil_domain::vitals::{VitalsItem, vitals_items};
use vigil_lambda::metrics::Metrics;
use vigil_lambda::stream::{StreamFunction, decode_batch, response};

pub const FUNCTION: &str = "vitals-writer";

/// Records decoded and written at a time.
pub const RECORDS_PER_CHUNK: usize = 500;

/// The vitals store and where poison records go. Built once per container.
#[derive(Debug)]
pub struct Writer<V, Q> {
    pub vitals: V,
    pub quarantine: Q,
    /// How long vitals items are kept after their minute (DynamoDB TTL).
    pub ttl: TimeDelta,
}

/// What one batch did, for the response and the metrics.
#[derive(Debug, Default)]
struct Tally {
    failed: Vec<String>,
    readings: usize,
    poison: usize,
    decoded_slowly: usize,
    items_written: usize,
    items_unwritten: usize,
    write_units: usize,
    retries: usize,
    newest_arrival: Option<DateTime<Utc>>,
}

impl<V, Q> Writer<V, Q>
where
    V: VitalsStore + Sync,
    Q: Quarantine + Sync,
{
    /// Processes one batch as of `now`; returns the response and the metrics
    /// without writing them.
    pub async fn process(&self, event: KinesisEvent, now: DateTime<Utc>) -> (KinesisEventResponse, Metrics) {
        let started = Instant::now();
        let records_in = event.records.len();
        let mut tally = Tally::default();
        let mut records = event.records.into_iter();
        loop {
            let mut chunk = KinesisEvent::default();
            chunk.records = records.by_ref().take(RECORDS_PER_CHUNK).collect();
            if chunk.records.is_empty() {
                break;
            }
            if !self.write_chunk(&chunk, &mut tally).await {
                break;
            }
        }
        drop(records);

        let mut metrics = Metrics::new(FUNCTION);
        metrics
            .count("RecordsIn", records_in)
            .count("ReadingsIn", tally.readings)
            .count("PoisonRecords", tally.poison)
            .count("RecordsDecodedSlowly", tally.decoded_slowly)
            .count("VitalsItems", tally.items_written)
            .count("VitalsItemsUnwritten", tally.items_unwritten)
            .count("WriteUnitsEstimate", tally.write_units)
            .count("UnprocessedRetries", tally.retries)
            .count("RecordsFailed", tally.failed.len())
            .millis("BatchMs", started.elapsed().as_secs_f64() * 1e3);
        if let Some(arrival) = tally.newest_arrival {
            metrics.millis("ProcessingLagMs", (now - arrival).num_milliseconds().max(0) as f64);
        }
        (response(tally.failed.iter().map(String::as_str)), metrics)
    }

    /// Decodes and writes one chunk; false when some items were not written.
    async fn write_chunk(&self, chunk: &KinesisEvent, tally: &mut Tally) -> bool {
        let batch = decode_batch(chunk, FUNCTION, &self.quarantine).await;
        tally.failed.extend(batch.failed.iter().map(|s| (*s).to_owned()));
        tally.poison += batch.poison;
        tally.decoded_slowly += batch.decoded_slowly;
        tally.readings += batch.readings();
        tally.newest_arrival = tally.newest_arrival.max(batch.newest_arrival);

        // Items of every envelope, each with the envelope it came from.
        let mut items: Vec<VitalsItem> = Vec::with_capacity(batch.decoded.len() * 2);
        let mut owner: Vec<usize> = Vec::with_capacity(batch.decoded.len() * 2);
        for (k, decoded) in batch.decoded.iter().enumerate() {
            for item in vitals_items(&decoded.envelope, self.ttl) {
                items.push(item);
                owner.push(k);
            }
        }

        let mut stored = vec![true; batch.decoded.len()];
        let mut written = vec![true; items.len()];
        let all_written = match self.vitals.put_items(&items).await {
            Ok(report) => {
                tally.retries += report.retries;
                true
            }
            Err(err) => {
                tally.retries += err.report().retries;
                for &i in err.unwritten() {
                    if let (Some(&k), Some(w)) = (owner.get(i), written.get_mut(i)) {
                        stored[k] = false;
                        *w = false;
                    }
                }
                let records = stored.iter().filter(|s| !**s).count();
                let source = std::error::Error::source(&err).map(ToString::to_string);
                if err.retryable() {
                    tracing::warn!(items = err.unwritten().len(), records, error = %err, source, "vitals not written; reporting for retry");
                } else {
                    tracing::error!(items = err.unwritten().len(), records, error = %err, source, "vitals refused; reporting for retry, an operator must act");
                }
                false
            }
        };
        for (item, ok) in items.iter().zip(&written) {
            if *ok {
                tally.items_written += 1;
                tally.write_units += item.write_units();
            } else {
                tally.items_unwritten += 1;
            }
        }

        for (decoded, ok) in batch.decoded.iter().zip(&stored) {
            if !ok {
                tally.failed.push(decoded.position.sequence_number.to_owned());
            }
        }
        all_written
    }
}

impl<V, Q> StreamFunction for Writer<V, Q>
where
    V: VitalsStore + Sync,
    Q: Quarantine + Sync,
{
    const NAME: &'static str = FUNCTION;

    async fn process_batch(&self, event: KinesisEvent, now: DateTime<Utc>) -> (KinesisEventResponse, Metrics) {
        self.process(event, now).await
    }
}
