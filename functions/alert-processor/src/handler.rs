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

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use vigil_alerting::{AlertPorts, Alerting, DeviceReadings, Outcome};
use vigil_domain::ports::Quarantine;
use vigil_lambda::metrics::{Metrics, Pool};
use vigil_lambda::stream::{Decoded, StreamFunction, decode_batch, response};

pub const FUNCTION: &str = "alert-processor";

/// What every batch records when all is well: pooled across the batches of a
/// process (one invocation an upload), so that only a batch that records
/// anything else (an alert, a refusal, poison, a failure) writes its line at once.
pub const ROUTINE_METRICS: &[&str] = &["RecordsIn", "ReadingsIn", "BatchMs", "ProcessingLagMs"];

static METRICS: Pool = Pool::new(ROUTINE_METRICS);

/// Wearers of a batch evaluated at once (each makes a handful of sequential
/// DynamoDB and SNS calls; one SDK client serves them all).
pub const WEARER_CONCURRENCY: usize = 16;

/// The alert path and where poison records go. Built once per container.
#[derive(Debug)]
pub struct Processor<P: AlertPorts, Q> {
    pub alerting: Alerting<P>,
    pub quarantine: Q,
}

impl<P: AlertPorts, Q: Quarantine + Sync> Processor<P, Q> {
    /// Processes one batch as of `now`; returns the response and the metrics without
    /// writing them. A failure of the alerts sink is handled like a store failure:
    /// the wearer's first record is reported, and the retry re-evaluates the same
    /// alerts without sending anything twice.
    pub async fn process(&self, event: &KinesisEvent, now: DateTime<Utc>) -> (KinesisEventResponse, Metrics) {
        let started = Instant::now();
        let mut metrics = Metrics::new(FUNCTION);
        let batch = decode_batch(event, FUNCTION, &self.quarantine).await;
        let mut failed = batch.failed.clone();

        // Group by wearer in order of first appearance, keeping stream order within.
        let mut order: Vec<&str> = Vec::new();
        let mut by_wearer: HashMap<&str, Vec<&Decoded<'_>>> = HashMap::new();
        for decoded in &batch.decoded {
            let wearer = decoded.envelope.wearer_id.as_str();
            by_wearer
                .entry(wearer)
                .or_insert_with(|| {
                    order.push(wearer);
                    Vec::new()
                })
                .push(decoded);
        }

        // Wearers are independent (their own state item, alerts and claims), so up
        // to WEARER_CONCURRENCY of them are evaluated at once: a batch's time is
        // then bounded by its slowest wearers' store calls, not by their sum.
        let results: Vec<_> = futures_util::stream::iter(order.into_iter().map(|wearer| {
            let records = &by_wearer[wearer];
            async move {
                let batches: Vec<DeviceReadings<'_>> = records
                    .iter()
                    .map(|d| DeviceReadings { device_id: &d.envelope.device_id, readings: &d.envelope.readings })
                    .collect();
                (wearer, records, self.alerting.process_wearer(wearer, &batches, now).await)
            }
        }))
        .buffer_unordered(WEARER_CONCURRENCY)
        .collect()
        .await;
        let mut total = Outcome::default();
        for (wearer, records, result) in results {
            match result {
                Ok(outcome) => total.add(outcome),
                Err(err) => {
                    tracing::warn!(wearer_id = %wearer, error = %err, source = ?std::error::Error::source(&err).map(ToString::to_string), "wearer not processed; reporting for retry");
                    failed.extend(records.first().map(|d| d.position.sequence_number));
                }
            }
        }

        for alert in &total.alerts_raised {
            // Alert ids and rules only: who and where stay out of logs.
            tracing::info!(alert_id = %alert.id, rule = alert.rule.as_str(), severity = ?alert.severity, "alert raised");
            metrics.millis("AlertLatencyMs", (now - alert.raised_at).num_milliseconds().max(0) as f64);
        }
        metrics
            .count("RecordsIn", event.records.len())
            .count("ReadingsIn", batch.readings())
            .count("PoisonRecords", batch.poison)
            .count("RecordsDecodedSlowly", batch.decoded_slowly)
            .count("AlertsRaised", total.alerts_raised.len())
            .count("NotificationsSent", total.sent)
            .count("NotificationsDeferred", total.deferred)
            .count("NotificationsRefused", total.refused)
            // Readings of a wearer with no profile: alerts are stored, nobody is told.
            .count("WearersWithoutProfile", total.without_profile)
            .count("EscalationStepsPlanned", total.steps_planned)
            .count("RecordsFailed", failed.len())
            .millis("BatchMs", started.elapsed().as_secs_f64() * 1e3);
        if let Some(arrival) = batch.newest_arrival {
            metrics.millis("ProcessingLagMs", (now - arrival).num_milliseconds().max(0) as f64);
        }
        (response(failed), metrics)
    }
}

impl<P: AlertPorts, Q: Quarantine + Sync> StreamFunction for Processor<P, Q> {
    const NAME: &'static str = FUNCTION;

    async fn process_batch(&self, event: KinesisEvent, now: DateTime<Utc>) -> (KinesisEventResponse, Metrics) {
        self.process(&event, now).await
    }

    fn emit(&self, metrics: Metrics) {
        METRICS.emit(metrics);
    }
}
