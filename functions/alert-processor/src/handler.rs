//! Batch semantics (ReportBatchItemFailures):
//! - Records are grouped by wearer; each wearer's readings are evaluated once, in
//!   event-time order, through [`vigil_alerting::Alerting`].
//! - A wearer whose processing fails (throttling, a store or SNS error) reports
//!   its first record of the batch. Lambda restarts from the lowest reported
//!   sequence number, so that record and everything after it come again; wearers
//!   that succeeded are re-evaluated on their saved state and raise nothing new.
//! - A record that can never be decoded is poison: it is quarantined with its
//!   shard and sequence number, logged at ERROR, and not reported, so it never
//!   blocks the shard. If the quarantine write itself fails, it is reported.
//! - Every reported identifier is a real sequence number from the batch.

use std::collections::HashMap;
use std::time::Instant;

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use chrono::{DateTime, Utc};
use vigil_alerting::{Alerting, DeviceReadings, Outcome};
use vigil_aws::metrics::Metrics;
use vigil_domain::Envelope;
use vigil_domain::ports::{AlertStore, DeliveryLog, Notifier, PoisonRecord, Quarantine, StateStore, WearerDirectory};

pub const FUNCTION: &str = "alert-processor";

/// The alert path and where poison records go. Built once per container.
#[derive(Debug)]
pub struct Processor<W, S, A, D, N, Q> {
    pub alerting: Alerting<W, S, A, D, N>,
    pub quarantine: Q,
}

/// One decoded record: where it is in the batch and what it carries.
struct Decoded<'a> {
    sequence_number: &'a str,
    envelope: Envelope,
}

impl<W, S, A, D, N, Q> Processor<W, S, A, D, N, Q>
where
    W: WearerDirectory + Sync,
    S: StateStore + Sync,
    A: AlertStore + Sync,
    D: DeliveryLog + Sync,
    N: Notifier + Sync,
    Q: Quarantine + Sync,
{
    pub async fn handle(&self, event: KinesisEvent) -> KinesisEventResponse {
        let (response, metrics) = self.process(&event, Utc::now()).await;
        metrics.emit();
        response
    }

    /// Processes one batch as of `now`; returns the response and the metrics
    /// without writing them.
    pub async fn process(&self, event: &KinesisEvent, now: DateTime<Utc>) -> (KinesisEventResponse, Metrics) {
        let started = Instant::now();
        let mut metrics = Metrics::new(FUNCTION);
        let mut failed: Vec<&str> = Vec::new();
        let mut poison = 0usize;

        // Decode, keeping stream order; group by wearer in order of first appearance.
        let mut order: Vec<String> = Vec::new();
        let mut by_wearer: HashMap<String, Vec<Decoded<'_>>> = HashMap::new();
        let mut readings = 0usize;
        let mut newest_arrival: Option<DateTime<Utc>> = None;
        for record in &event.records {
            let sequence_number = record.kinesis.sequence_number.as_str();
            let arrival = record.kinesis.approximate_arrival_timestamp.0;
            newest_arrival = newest_arrival.max(Some(arrival));
            match Envelope::decode(&record.kinesis.data.0) {
                Ok(envelope) => {
                    readings += envelope.readings.len();
                    let wearer = envelope.wearer_id.clone();
                    let group = by_wearer.entry(wearer.clone()).or_insert_with(|| {
                        order.push(wearer);
                        Vec::new()
                    });
                    group.push(Decoded { sequence_number, envelope });
                }
                Err(err) => {
                    poison += 1;
                    if !self.quarantine_record(record, &err.to_string()).await {
                        failed.push(sequence_number);
                    }
                }
            }
        }

        let mut total = Outcome::default();
        for wearer in &order {
            let Some(records) = by_wearer.get(wearer) else { continue };
            let batches: Vec<DeviceReadings<'_>> = records
                .iter()
                .map(|d| DeviceReadings { device_id: &d.envelope.device_id, readings: &d.envelope.readings })
                .collect();
            match self.alerting.process_wearer(wearer, &batches, now).await {
                Ok(outcome) => total.add(outcome),
                Err(err) => {
                    let first = records.first().map(|d| d.sequence_number);
                    tracing::warn!(wearer_id = %wearer, error = %err, source = ?std::error::Error::source(&err).map(ToString::to_string), "wearer not processed; reporting for retry");
                    failed.extend(first);
                }
            }
        }

        for alert in &total.alerts_raised {
            // Alert ids and rules only: who and where stay out of logs.
            tracing::info!(alert_id = %alert.id, rule = alert.rule.as_str(), severity = ?alert.severity, "alert raised");
            let latency_ms = (now - alert.raised_at).num_milliseconds().max(0) as f64;
            metrics.millis("AlertLatencyMs", latency_ms);
        }
        metrics
            .count("RecordsIn", event.records.len())
            .count("ReadingsIn", readings)
            .count("PoisonRecords", poison)
            .count("AlertsRaised", total.alerts_raised.len())
            .count("NotificationsSent", total.sent)
            .count("NotificationsDeferred", total.deferred)
            .count("NotificationsRefused", total.refused)
            .count("RecordsFailed", failed.len())
            .millis("BatchMs", started.elapsed().as_secs_f64() * 1e3);
        if let Some(arrival) = newest_arrival {
            metrics.millis("ProcessingLagMs", (now - arrival).num_milliseconds().max(0) as f64);
        }

        let mut response = KinesisEventResponse::default();
        for sequence_number in failed {
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number.to_owned());
            response.batch_item_failures.push(failure);
        }
        (response, metrics)
    }

    /// Quarantines a poison record; false if that failed (then it must be retried).
    async fn quarantine_record(&self, record: &KinesisEventRecord, reason: &str) -> bool {
        let shard_id = shard_of(record);
        let poison = PoisonRecord {
            function: FUNCTION,
            shard_id,
            sequence_number: &record.kinesis.sequence_number,
            data: &record.kinesis.data.0,
            reason,
        };
        match self.quarantine.quarantine(&poison).await {
            Ok(()) => {
                tracing::error!(shard_id, sequence_number = %record.kinesis.sequence_number, reason, "poison record quarantined");
                true
            }
            Err(err) => {
                tracing::error!(shard_id, sequence_number = %record.kinesis.sequence_number, error = %err, "poison record could not be quarantined; reporting for retry");
                false
            }
        }
    }
}

/// The shard id from Lambda's `eventID` (`shardId-000000000000:<sequence number>`).
fn shard_of(record: &KinesisEventRecord) -> &str {
    record.event_id.as_deref().and_then(|id| id.split(':').next()).unwrap_or("unknown")
}
