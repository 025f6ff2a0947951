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
//!
//! The wearers it looks at are those whose rule state says they are due
//! ([`vigil_domain::alerts::next_check`], written with every state save and indexed
//! by the state adapter): a Query per index shard, never a Scan, so a run reads what
//! is due, not every wearer. Whatever a run leaves (cut short, skipped, failed)
//! stays due and the next run finds it.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;
use vigil_alerting::{AlertPorts, Alerting, Outcome};
use vigil_domain::config::Source;
use vigil_domain::ports::{StateStore, StoreError};
use vigil_lambda::Deadline;
use vigil_lambda::deadline::within;
use vigil_lambda::metrics::Metrics;

pub const FUNCTION: &str = "offline-detector";

/// Time kept back from the invocation's deadline to answer.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(5);
/// Of a run's time, what wearer checks leave for the due messages and escalation
/// steps (the more urgent work: nobody has answered an alert).
pub const DUE_RESERVE: std::time::Duration = std::time::Duration::from_secs(15);

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
    Ok(Detector { alerting })
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
    /// Wearers not checked: the run's time ran short (the next run checks them).
    pub wearers_left: usize,
    /// The due messages and steps were not all seen to: the run's time ran out
    /// (what was not sent stays due for the next run).
    pub due_left: bool,
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

#[derive(Debug)]
pub struct Detector<P: AlertPorts> {
    pub alerting: Alerting<P>,
}

impl<P: AlertPorts> Detector<P> {
    /// One scheduled run at `now` with no deadline of its own (tests), its metrics
    /// written to stdout as EMF.
    pub async fn handle(&self, now: DateTime<Utc>) -> Result<Summary, RunError> {
        self.handle_within(now, None).await
    }

    /// Lambda's entry: one scheduled run at `now` under the invocation's `deadline`,
    /// its metrics written to stdout as EMF.
    pub async fn handle_within(&self, now: DateTime<Utc>, deadline: Option<Deadline>) -> Result<Summary, RunError> {
        let (result, metrics) = self.process_within(now, deadline).await;
        metrics.emit();
        result
    }

    /// One scheduled run at `now` with no deadline of its own (tests).
    pub async fn process(&self, now: DateTime<Utc>) -> (Result<Summary, RunError>, Metrics) {
        self.process_within(now, None).await
    }

    /// One scheduled run at `now` that is over by `deadline`; returns the result and
    /// the metrics without writing them (the local runner shows them instead). The
    /// alerts raised go to the alert path's sink (the curated alerts for the
    /// warehouse), as alert-processor's do.
    ///
    /// Wearer checks take no new wearer once less than [`DUE_RESERVE`] is left, which
    /// is kept for the due messages and escalation steps; what was left is in the
    /// summary (`wearers_left`, `due_left`) and the next run (a minute later) does it.
    pub async fn process_within(
        &self,
        now: DateTime<Utc>,
        deadline: Option<Deadline>,
    ) -> (Result<Summary, RunError>, Metrics) {
        let started = Instant::now();
        let mut metrics = Metrics::new(FUNCTION);
        let checks_until = deadline.map(|d| d.less(DUE_RESERVE));
        let candidates = match within(checks_until, self.alerting.states.due_for_check(now)).await {
            Ok(Ok(candidates)) => candidates,
            Ok(Err(err)) => return (Err(RunError::List(err)), metrics),
            Err(expired) => {
                let err = StoreError {
                    operation: "due_for_check",
                    resource: FUNCTION.into(),
                    retryable: true,
                    source: expired.into(),
                };
                return (Err(RunError::List(err)), metrics);
            }
        };
        let mut summary = Summary { checked: candidates.len(), ..Summary::default() };
        let mut total = Outcome::default();
        for (i, wearer_id) in candidates.iter().enumerate() {
            match within(checks_until, self.alerting.check_wearer(wearer_id, now)).await {
                Ok(Ok(outcome)) => total.add(outcome),
                Ok(Err(err)) => {
                    summary.failed += 1;
                    tracing::warn!(wearer_id = %wearer_id, error = %err, "wearer check failed; the next run retries");
                }
                Err(_expired) => {
                    // This wearer (its check dropped) and every later one.
                    summary.wearers_left = candidates.len() - i;
                    summary.checked = i;
                    break;
                }
            }
        }
        match within(deadline, self.alerting.send_due(now)).await {
            Ok(Ok(outcome)) => total.add(outcome),
            Ok(Err(err)) => {
                summary.failed += 1;
                tracing::warn!(error = %err, "listing due messages failed; the next run retries");
            }
            Err(_expired) => summary.due_left = true,
        }
        if summary.wearers_left > 0 || summary.due_left {
            tracing::warn!(
                wearers_left = summary.wearers_left,
                due_left = summary.due_left,
                "run cut short by its deadline; the next run takes the rest"
            );
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
            .count("WearersLeft", summary.wearers_left)
            .count("DueLeft", usize::from(summary.due_left))
            .millis("RunMs", started.elapsed().as_secs_f64() * 1e3);
        if summary.failed > 0 {
            return (Err(RunError::Partial { failed: summary.failed, checked: summary.checked }), metrics);
        }
        (Ok(summary), metrics)
    }
}
