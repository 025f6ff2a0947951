//! offline-detector: runs every minute on an EventBridge schedule and does the
//! alert path's time-driven work, which no incoming reading would trigger:
//! - a band silent for longer than its wearer's `no_data` threshold raises a
//!   `no_data` alert (once per silence; the next reading resolves it);
//! - a fall whose cancel window has passed with no cancel and no later reading
//!   (the wearer may be on the floor, the phone idle) is raised;
//! - low-severity messages held for a caregiver's quiet hours are sent when due;
//! - escalation steps (SMS, push, calls) of alerts nobody acknowledged are sent
//!   when due, found through the deliveries' due index (a Query, never a Scan);
//!   a step whose alert was acknowledged or resolved meanwhile is cancelled.
//!
//! It goes through the same [`vigil_alerting::Alerting`] service as the
//! alert-processor, so alerts, deliveries and state writes behave identically.

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use vigil_alerting::{AlertPorts, Alerting, Outcome};
use vigil_domain::config::{self as env, ConfigError, Source};
use vigil_domain::ports::StateStore;
use vigil_lambda::metrics::Metrics;

pub const FUNCTION: &str = "offline-detector";

/// offline-detector on AWS (`N`: the notifier, SNS and voice unless the local runner wraps it).
pub type AwsDetector<N = vigil_alerting::aws::Messaging> = Detector<vigil_alerting::aws::Aws<N>>;

/// offline-detector as deployed, from its environment (see `function.json`) and one SDK
/// config, at cold start. Its `main` and `vigil run` both build it here.
pub async fn build(
    src: &impl Source,
    sdk: &aws_config::SdkConfig,
) -> Result<AwsDetector, vigil_aws::secrets::SecretError> {
    let (_, mut alerting) = vigil_alerting::aws::alerting(src, sdk).await?;
    // Escalation steps are sent here, so only this function places calls.
    alerting.notifier.voice = vigil_alerting::aws::voice_caller(src, sdk);
    Ok(Detector { alerting, config: DetectorConfig::from_source(src)? })
}

/// What one run did; also the Lambda's response, for `cargo lambda invoke`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub checked: usize,
    pub alerts_raised: usize,
    pub messages_sent: usize,
    pub messages_deferred: usize,
    /// Escalation steps sent (calls among them: `calls`).
    pub escalated: usize,
    pub calls: usize,
    /// Escalation steps dropped: their alert was acknowledged or resolved.
    pub escalations_cancelled: usize,
    /// Messages and calls the provider refused for good (unreachable numbers).
    pub refused: usize,
    /// Alerts whose last escalation level went out with nobody answering.
    pub last_level: Vec<String>,
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
pub struct Detector<P: AlertPorts> {
    pub alerting: Alerting<P>,
    pub config: DetectorConfig,
}

impl<P: AlertPorts> Detector<P> {
    /// Lambda's entry: one scheduled run at `now`, its metrics written to stdout as EMF.
    pub async fn handle(&self, now: DateTime<Utc>) -> Result<Summary, RunError> {
        let (result, metrics) = self.process(now).await;
        metrics.emit();
        result
    }

    /// One scheduled run at `now`; returns the result and the metrics without writing
    /// them (the local runner shows them instead). The alerts raised go to the alert
    /// path's sink (the curated alerts for the warehouse), as alert-processor's do.
    pub async fn process(&self, now: DateTime<Utc>) -> (Result<Summary, RunError>, Metrics) {
        let started = Instant::now();
        let mut metrics = Metrics::new(FUNCTION);
        let candidates = match self.alerting.states.needing_check(now - self.config.scan_after).await {
            Ok(candidates) => candidates,
            Err(err) => return (Err(RunError::List(err)), metrics),
        };
        let mut summary = Summary { checked: candidates.len(), ..Summary::default() };
        let mut total = Outcome::default();
        for wearer_id in &candidates {
            match self.alerting.check_wearer(wearer_id, now).await {
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
                tracing::warn!(error = %err, "listing due messages failed; the next run retries");
            }
        }
        for alert_id in &total.last_level {
            tracing::warn!(alert_id = %alert_id, "alert reached its last escalation level unacknowledged");
        }
        for alert in &total.alerts_raised {
            tracing::info!(alert_id = %alert.id, rule = alert.rule.as_str(), severity = ?alert.severity, "alert raised");
        }
        summary.alerts_raised = total.alerts_raised.len();
        summary.messages_sent = total.sent;
        summary.messages_deferred = total.deferred;
        summary.escalated = total.escalated;
        summary.calls = total.calls;
        summary.escalations_cancelled = total.cancelled;
        summary.refused = total.refused;
        summary.failed += total.failed;
        metrics
            .count("EscalationSteps", summary.escalated)
            .count("Calls", summary.calls)
            .count("EscalationsCancelled", summary.escalations_cancelled)
            .count("NotificationsRefused", summary.refused)
            .count("LastLevelReached", total.last_level.len());
        summary.last_level = total.last_level;
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
