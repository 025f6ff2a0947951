//! The escalation audit: every escalation step the deliveries table holds, read
//! back at the end of a run and checked against the alerts' lifecycle and the
//! scheduled runs. A step due while its alert was still open must have gone out in
//! the first offline-detector run at or after its due time (within one scheduler
//! tick); none may go out after the alert was acknowledged or resolved; each call
//! the voice stand-in recorded must be one step sent (no call twice).
//!
//! The ticks are the detector's own runs, as recorded: on the simulated clock a
//! run's "now" is held back while alert-processor has a backlog (see `run.rs`),
//! so two runs can be more than a simulated minute apart; the summary reports the
//! widest gap next to the steps' lateness.

use std::collections::HashMap;

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use vigil_domain::care::{Channel, Delivery};
use vigil_domain::lifecycle::AlertRecord;

/// How far apart the alert's acknowledgement and a step's check may be read on
/// the simulated clock: both take "now" a few real milliseconds before their
/// write, which is a few simulated seconds at 60×.
pub const CLOCK_SLACK: TimeDelta = TimeDelta::seconds(5);

/// One escalation step as the deliveries table holds it.
#[derive(Debug, Clone)]
pub struct Step {
    pub delivery: Delivery,
    /// `deferred`, `sending`, `sent`, `released`, `cancelled`.
    pub status: String,
    /// When the scheduled run that sent it started (the function's "now").
    pub sent_at: Option<DateTime<Utc>>,
    /// The provider refused it for good (an unreachable number).
    pub refused: bool,
}

impl Step {
    pub fn due_at(&self) -> DateTime<Utc> {
        self.delivery.not_before.unwrap_or(DateTime::UNIX_EPOCH)
    }

    pub fn last(&self) -> bool {
        self.delivery.step.is_some_and(|s| s.last)
    }
}

/// Every escalation step in the deliveries `table` (a Scan: the audit reads
/// everything; the functions never do).
pub async fn steps(sdk: &SdkConfig, table: &str) -> anyhow::Result<Vec<Step>> {
    let client = vigil_aws::sdk::dynamodb(sdk);
    let mut items = client.scan().table_name(table).into_paginator().items().send();
    let mut steps = Vec::new();
    while let Some(item) = items.next().await {
        let item = item.with_context(|| format!("scanning {table}"))?;
        let Some(AttributeValue::M(body)) = item.get("delivery") else { continue };
        let delivery: Delivery = serde_dynamo::from_item(body.clone()).context("a stored delivery")?;
        if delivery.step.is_none() {
            continue;
        }
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        steps.push(Step {
            delivery,
            status: text("status").unwrap_or_default(),
            sent_at: text("sent_at").and_then(|t| t.parse().ok()),
            refused: text("message_id").as_deref() == Some(vigil_domain::ports::REFUSED),
        });
    }
    Ok(steps)
}

/// What the escalations did in a run, and whether they kept their promises.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Escalations {
    /// Steps recorded when alerts were raised.
    pub steps_planned: usize,
    /// Alerts with at least one step sent.
    pub alerts_escalated: usize,
    pub steps_sent: usize,
    /// Calls placed (voice steps sent).
    pub calls: usize,
    /// Steps dropped because the alert was acknowledged or resolved first.
    pub steps_cancelled: usize,
    /// Steps the provider refused for good (skipped, counted).
    pub steps_refused: usize,
    /// Alerts whose last level went out with nobody answering.
    pub reached_last_level: usize,
    /// Longest wait past a step's due time, simulated seconds.
    pub max_lateness_s: i64,
    /// The widest gap between two detector runs, simulated seconds (the tick).
    pub max_tick_s: i64,
    /// Steps due while their alert was open that a detector run passed over (sent
    /// in a later run, or not at all; must be 0).
    pub late_or_missed: usize,
    /// Steps sent after their alert was acknowledged or resolved (must be 0).
    pub after_acknowledgement: usize,
    /// Calls the voice stand-in put through beyond the call steps sent (must be 0).
    pub duplicate_calls: usize,
}

/// Audits `steps` against the alerts as they stand (`records`, by id) and the
/// detector's `runs` (their "now", in order). `calls_received`: the calls the voice
/// stand-in put through (not those it refused).
pub fn audit(
    steps: &[Step],
    records: &HashMap<String, AlertRecord>,
    runs: &[DateTime<Utc>],
    calls_received: usize,
) -> Escalations {
    let mut out = Escalations { steps_planned: steps.len(), ..Escalations::default() };
    out.max_tick_s = runs.windows(2).map(|w| (w[1] - w[0]).num_seconds()).max().unwrap_or(0);
    // The first run that should have sent a step due at `due`.
    let first_run = |due: DateTime<Utc>| runs.iter().copied().find(|r| *r >= due);
    let mut escalated: HashMap<&str, bool> = HashMap::new();
    for step in steps {
        let alert_id = step.delivery.alert_id.as_str();
        // When the alert stopped needing anyone: the first acknowledgement or resolution.
        let closed_at = records
            .get(alert_id)
            .and_then(|r| [r.acknowledged.as_ref(), r.resolved.as_ref()].into_iter().flatten().map(|t| t.at).min());
        let due = step.due_at();
        match (step.status.as_str(), step.sent_at) {
            ("sent", Some(sent_at)) => {
                if step.refused {
                    out.steps_refused += 1;
                } else {
                    out.steps_sent += 1;
                    out.calls += usize::from(step.delivery.channel == Channel::Voice);
                }
                out.max_lateness_s = out.max_lateness_s.max((sent_at - due).num_seconds());
                // Late: a run at or after its due time, with the alert still open, passed it over.
                let open_at = |run: DateTime<Utc>| closed_at.is_none_or(|closed| closed > run + CLOCK_SLACK);
                if first_run(due).is_some_and(|run| sent_at > run + CLOCK_SLACK && open_at(run)) {
                    out.late_or_missed += 1;
                }
                if closed_at.is_some_and(|closed| sent_at > closed + CLOCK_SLACK) {
                    out.after_acknowledgement += 1;
                }
                let last = escalated.entry(alert_id).or_default();
                *last |= step.last();
            }
            ("cancelled", _) => out.steps_cancelled += 1,
            // Not sent: fine if no run came after its due time, or the alert was
            // closed by that run (which may then not have cancelled it yet); else
            // that run passed it over.
            _ => {
                let missed =
                    first_run(due).is_some_and(|run| closed_at.is_none_or(|closed| closed > run + CLOCK_SLACK));
                out.late_or_missed += usize::from(missed);
            }
        }
    }
    out.alerts_escalated = escalated.len();
    out.reached_last_level = escalated.values().filter(|last| **last).count();
    out.duplicate_calls = calls_received.saturating_sub(out.calls);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;
    use vigil_domain::alerts::Message;
    use vigil_domain::care::StepRef;
    use vigil_domain::lifecycle::{Transition, Via};

    fn t(min: i64) -> DateTime<Utc> {
        "2026-11-22T03:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(min)
    }

    fn step(alert: &str, due: i64, status: &str, sent: Option<i64>, last: bool) -> Step {
        Step {
            delivery: Delivery {
                alert_id: alert.into(),
                caregiver_id: "c".into(),
                channel: Channel::Voice,
                address: "+1".into(),
                message: Message { alert_id: alert.into(), voice: "v".into(), ..Message::default() },
                not_before: Some(t(due)),
                step: Some(StepRef { level: 2, round: 0, last }),
                notice: None,
            },
            status: status.into(),
            sent_at: sent.map(t),
            refused: false,
        }
    }

    fn acknowledged(alert: &str, at: i64) -> (String, AlertRecord) {
        let alert_row: vigil_domain::alerts::Alert = serde_json::from_value(serde_json::json!({
            "id": "0".repeat(32), "wearer_id": "w", "rule": "sos", "severity": "critical",
            "episode_start": t(0), "raised_at": t(0), "readings": []
        }))
        .unwrap();
        let mut record = AlertRecord::open(alert_row, false);
        record.apply(Transition::acknowledge("c", t(at), Via::Sms), None);
        (alert.to_owned(), record)
    }

    #[test]
    fn on_time_steps_pass_and_late_missed_or_after_ack_ones_are_counted() {
        // A run every minute up to 60, but none between 20 and 26.
        let runs: Vec<_> = (0..=60).filter(|m| !(21..26).contains(m)).map(t).collect();
        let records = HashMap::from([acknowledged("acked", 5)]);
        let steps = [
            step("open", 3, "sent", Some(3), false),
            step("open", 20, "sent", Some(20), true),
            step("acked", 3, "sent", Some(3), false),
            step("acked", 10, "cancelled", None, false),
            // Sent after the acknowledgement at 5.
            step("acked", 6, "sent", Some(7), false),
            // Passed over by the runs at 4, 5 and 6.
            step("late", 4, "sent", Some(7), false),
            // Due at 22, sent by the first run after the gap: on time.
            step("gap", 22, "sent", Some(26), false),
            // Due at 30 in a run that ended at 60, never sent.
            step("missed", 30, "deferred", None, false),
            // Due after the last run: not yet.
            step("future", 61, "deferred", None, false),
        ];
        let out = audit(&steps, &records, &runs, 7);
        assert_eq!(out.steps_sent, 6);
        assert_eq!(out.steps_cancelled, 1);
        assert_eq!(out.after_acknowledgement, 1);
        assert_eq!(out.late_or_missed, 2, "{out:?}");
        assert_eq!(out.reached_last_level, 1);
        assert_eq!(out.alerts_escalated, 4);
        assert_eq!(out.duplicate_calls, 1, "7 calls received for 6 steps");
        assert_eq!(out.max_lateness_s, 240, "the step due at 22, sent after the gap");
        assert_eq!(out.max_tick_s, 6 * 60);
    }

    #[test]
    fn chaos_explains_a_missed_step_only_by_an_aborted_claim_still_leased_or_faults_in_every_run() {
        use crate::chaos::{DetectorRun, late_steps_explained};
        let run = |min: i64, aborted: bool, faulted: bool| DetectorRun { now: t(min), aborted, faulted };
        // Runs every minute from 0 to 10; the step was due at 10 and never sent.
        let completed: Vec<_> = (0..=10).map(t).collect();
        let missed = [step("open", 10, "sending", None, false)];
        let explain = |runs: &[DetectorRun]| late_steps_explained(&missed, &HashMap::new(), &completed, runs);

        // Calm runs explain nothing: the audit's miss stands.
        let calm: Vec<_> = (0..=10).map(|m| run(m, false, false)).collect();
        assert!(explain(&calm).is_empty());
        // The run at 10 was aborted after claiming it, and its 60 s lease outlasted the runs.
        let mut aborted = calm.clone();
        aborted[10] = run(10, true, false);
        let out = explain(&aborted);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!((out[0].due, out[0].sent), (t(10), None));
        // Aborted at 10 with a run a minute later: the lease ran out, so that run should have sent it.
        let later: Vec<_> = (0..=11).map(t).collect();
        let mut then_calm = aborted.clone();
        then_calm.push(run(11, false, false));
        assert!(late_steps_explained(&missed, &HashMap::new(), &later, &then_calm).is_empty());
        // An aborted run long before the step was due explains nothing.
        let mut early = calm.clone();
        early[2] = run(2, true, false);
        assert!(explain(&early).is_empty());
        // Every run since it was due met a fault: explained; one calm run among them: not.
        let mut faulted = calm.clone();
        faulted[10] = run(10, false, true);
        assert_eq!(explain(&faulted).len(), 1);
        faulted.push(run(11, false, false));
        assert!(late_steps_explained(&missed, &HashMap::new(), &later, &faulted).is_empty());
        // A closed alert's step needs no explaining: the audit does not count it.
        let records = HashMap::from([acknowledged("open", 9)]);
        assert!(late_steps_explained(&missed, &records, &completed, &aborted).is_empty());
    }
}
