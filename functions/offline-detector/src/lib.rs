//! offline-detector: runs every minute on an EventBridge schedule and does the
//! alert path's time-driven work, which no incoming reading would trigger:
//! - a band silent for longer than its wearer's `no_data` threshold raises a
//!   `no_data` alert (once per silence; the next reading resolves it);
//! - a fall whose cancel window has passed with no cancel and no later reading
//!   (the wearer may be on the floor, the phone idle) is raised;
//! - low-severity messages held for a caregiver's quiet hours are sent when due.
//!
//! It goes through the same [`vigil_alerting::Alerting`] service as the
//! alert-processor, so alerts, deliveries and state writes behave identically.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use vigil_alerting::{AlertSink, Alerting, NoSink, Outcome};
use vigil_aws::env::{self, ConfigError, Source};
use vigil_aws::metrics::Metrics;
use vigil_domain::ports::{AlertStore, DeliveryLog, Notifier, StateStore, WearerDirectory};

pub const FUNCTION: &str = "offline-detector";

/// What one run did; also the Lambda's response, for `cargo lambda invoke`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub checked: usize,
    pub alerts_raised: usize,
    pub messages_sent: usize,
    pub messages_deferred: usize,
    pub failed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Listing candidates failed: nothing was checked this run; the next run retries.
    #[error("could not list wearers to check")]
    List(#[source] vigil_domain::ports::StoreError),
    /// Some wearers or messages failed; the others were done. The next run retries them.
    #[error("{failed} of {checked} checks failed")]
    Partial { failed: usize, checked: usize },
}

/// Configuration beyond the tables (which the AWS adapters read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorConfig {
    /// `NO_DATA_SCAN_AFTER_MIN` (default 5): wearers silent at least this long are
    /// candidates; each is then judged against its own `no_data` threshold
    /// (15 min by default), so this must not exceed the smallest threshold in use.
    pub scan_after: Duration,
}

impl DetectorConfig {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        let minutes: i64 = env::parsed_or(src, "NO_DATA_SCAN_AFTER_MIN", 5, "minutes as an integer")?;
        Ok(Self { scan_after: Duration::minutes(minutes) })
    }
}

#[derive(Debug)]
pub struct Detector<W, S, A, D, N> {
    pub alerting: Alerting<W, S, A, D, N>,
    pub config: DetectorConfig,
}

impl<W, S, A, D, N> Detector<W, S, A, D, N>
where
    W: WearerDirectory + Sync,
    S: StateStore + Sync,
    A: AlertStore + Sync,
    D: DeliveryLog + Sync,
    N: Notifier + Sync,
{
    /// One scheduled run at `now`, its metrics written to stdout as EMF.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<Summary, RunError> {
        self.run_with(now, &NoSink).await
    }

    /// [`Self::run`], handing the alerts raised to `sink` (the curated alerts
    /// for the warehouse, as alert-processor does).
    pub async fn run_with(&self, now: DateTime<Utc>, sink: &(impl AlertSink + Sync)) -> Result<Summary, RunError> {
        let (result, metrics) = self.check_with(now, sink).await;
        metrics.emit();
        result
    }

    /// One scheduled run at `now` without a sink; see [`Self::check_with`].
    pub async fn check(&self, now: DateTime<Utc>) -> (Result<Summary, RunError>, Metrics) {
        self.check_with(now, &NoSink).await
    }

    /// One scheduled run at `now`, the alerts raised handed to `sink`; returns
    /// the result and the metrics without writing them (the local runner shows
    /// them instead).
    pub async fn check_with(
        &self,
        now: DateTime<Utc>,
        sink: &(impl AlertSink + Sync),
    ) -> (Result<Summary, RunError>, Metrics) {
        let started = Instant::now();
        let mut metrics = Metrics::new(FUNCTION);
        let candidates = match self.alerting.states.needing_check(now - self.config.scan_after).await {
            Ok(candidates) => candidates,
            Err(err) => return (Err(RunError::List(err)), metrics),
        };
        let mut summary = Summary { checked: candidates.len(), ..Summary::default() };
        let mut total = Outcome::default();
        for wearer_id in &candidates {
            match self.alerting.check_wearer_with(wearer_id, now, sink).await {
                Ok(outcome) => total.add(outcome),
                Err(err) => {
                    summary.failed += 1;
                    tracing::warn!(wearer_id = %wearer_id, error = %err, "wearer check failed; the next run retries");
                }
            }
        }
        match self.alerting.send_due(now).await {
            Ok(outcome) => total.add(outcome),
            Err(err) => {
                summary.failed += 1;
                tracing::warn!(error = %err, "sending due messages failed; the next run retries");
            }
        }
        for alert in &total.alerts_raised {
            tracing::info!(alert_id = %alert.id, rule = alert.rule.as_str(), severity = ?alert.severity, "alert raised");
        }
        summary.alerts_raised = total.alerts_raised.len();
        summary.messages_sent = total.sent;
        summary.messages_deferred = total.deferred;
        metrics
            .count("WearersChecked", summary.checked)
            .count("AlertsRaised", summary.alerts_raised)
            .count("NotificationsSent", summary.messages_sent)
            .count("NotificationsDeferred", summary.messages_deferred)
            .count("ChecksFailed", summary.failed)
            .millis("RunMs", started.elapsed().as_secs_f64() * 1e3);
        if summary.failed > 0 {
            return (Err(RunError::Partial { failed: summary.failed, checked: summary.checked }), metrics);
        }
        (Ok(summary), metrics)
    }
}
