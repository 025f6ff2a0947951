//! `vigil run --chaos <rate>`: every function's SDK pointed at a fault-injecting
//! proxy of its own ([`vigil_local::chaos`]), the phones behind one too, and the
//! audit of what chaos may explain. A message sent twice is allowed only when a
//! fault fell between its send and its confirm (`docs/alerts.md`: the claim, send,
//! confirm protocol sends at most one message twice, and only after such a crash);
//! every such duplicate is listed with its cause, and any other fails the run.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::Serialize;
use vigil_domain::care::Channel;
use vigil_local::chaos::{Abort, Chaos, ChaosReport, Confirm, Fault, Proxy, Upstream};
use vigil_local::declaration::FUNCTIONS;

use crate::observe::Sent;

const DETECTOR: &str = "offline-detector";
/// How much later than the caller's timeout a slow answer comes.
const SLOW_MARGIN: Duration = Duration::from_secs(1);
/// The phones' own timeout (`phones.rs`): a slow answer to a phone comes after it.
const PHONE_TIMEOUT: Duration = Duration::from_secs(15);

/// The proxies of one run, and each function's SDK config pointed at its own.
#[derive(Debug)]
pub struct ChaosRun {
    pub chaos: Arc<Chaos>,
    sdks: HashMap<&'static str, SdkConfig>,
    slow: Duration,
    proxies: Vec<Proxy>,
    detector_runs: Mutex<Vec<DetectorRun>>,
}

/// One offline-detector run under chaos, as the escalation audit's explanation needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorRun {
    /// The run's "now" (simulated).
    pub now: DateTime<Utc>,
    /// Dropped at a random point: it may have claimed a step it never sent.
    pub aborted: bool,
    /// A request of this run met an injected fault.
    pub faulted: bool,
}

impl ChaosRun {
    /// A proxy to the endpoint of `sdk` for every declared function.
    pub async fn start(rate: f64, seed: u64, sdk: &SdkConfig) -> anyhow::Result<Self> {
        let chaos = Chaos::new(rate, seed);
        let endpoint = sdk.endpoint_url().context("--chaos needs a local endpoint (AWS_ENDPOINT_URL)")?.to_owned();
        let attempt_timeout =
            sdk.timeout_config().and_then(|t| t.operation_attempt_timeout()).unwrap_or(Duration::from_secs(5));
        let slow = attempt_timeout + SLOW_MARGIN;
        let mut run = Self { chaos, sdks: HashMap::new(), slow, proxies: Vec::new(), detector_runs: Mutex::default() };
        for (function, _) in FUNCTIONS {
            let url = run.proxy(function, &endpoint, Upstream::Aws, slow).await?;
            run.sdks.insert(function, sdk.to_builder().endpoint_url(url).build());
        }
        Ok(run)
    }

    async fn proxy(&mut self, name: &str, upstream: &str, kind: Upstream, slow: Duration) -> anyhow::Result<String> {
        let proxy = self.chaos.proxy(name, upstream, kind, slow).await.context("starting a chaos proxy")?;
        let url = proxy.url().to_owned();
        self.proxies.push(proxy);
        Ok(url)
    }

    /// `function`'s SDK config: its requests go through its own proxy.
    pub fn sdk(&self, function: &str, fallback: &SdkConfig) -> SdkConfig {
        self.sdks.get(function).cloned().unwrap_or_else(|| fallback.clone())
    }

    /// A proxy in front of the voice stand-in, for `function`'s calls.
    pub async fn voice(&mut self, function: &str, stand_in: &str) -> anyhow::Result<String> {
        let slow = self.slow;
        self.proxy(function, stand_in, Upstream::Aws, slow).await
    }

    /// Runs `run`, an offline-detector run at `now`, perhaps aborting it, and
    /// records whether it was aborted or met a fault.
    pub async fn detect<F: Future>(&self, now: DateTime<Utc>, run: F) {
        let before = self.chaos.report().faults_by_function.get(DETECTOR).map_or(0, |f| f.values().sum::<u64>());
        let aborted = self.chaos.invoke(DETECTOR, run).await.is_none();
        let after = self.chaos.report().faults_by_function.get(DETECTOR).map_or(0, |f| f.values().sum::<u64>());
        let faulted = after > before;
        tracing::info!(%now, aborted, faulted, "chaos: offline-detector run");
        self.detector_runs.lock().unwrap_or_else(PoisonError::into_inner).push(DetectorRun { now, aborted, faulted });
    }

    pub fn detector_runs(&self) -> Vec<DetectorRun> {
        self.detector_runs.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// A proxy between the phones and the local API Gateway at `gateway`.
    pub async fn phones(&mut self, gateway: &str) -> anyhow::Result<String> {
        self.proxy("phones", gateway, Upstream::Gateway, PHONE_TIMEOUT + SLOW_MARGIN).await
    }
}

/// The summary's chaos section.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChaosSummary {
    #[serde(flatten)]
    pub report: ChaosReport,
    /// Each message sent twice, with the fault between its send and its confirm.
    pub duplicates_explained: Vec<ExplainedDuplicate>,
    /// Messages sent twice that no such fault explains (must be 0).
    pub duplicates_unexplained: u64,
    /// Calls placed twice that a fault between send and confirm explains.
    pub calls_twice_explained: u64,
    /// Escalation steps late by a tick that a fault in the detector run due to send them explains.
    pub steps_late_explained: Vec<ExplainedLateStep>,
    /// First notifications claimed and never sent: nothing sends them later (must be 0).
    pub claimed_never_sent: u64,
    /// Failure-destination files holding records (JSON lines naming each shard's
    /// sequence range, replayable while the stream keeps them).
    pub failure_destination_files: Vec<PathBuf>,
}

impl ChaosSummary {
    /// The summary table's chaos rows.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let r = &self.report;
        let list = |m: &std::collections::BTreeMap<Fault, u64>| {
            m.iter().map(|(k, n)| format!("{} {n}", k.as_str())).collect::<Vec<_>>().join(", ")
        };
        let mut rows = vec![
            ("chaos: rate / faults", format!("{} / {} ({})", r.rate, r.faults(), list(&r.faults_by_kind))),
            ("  SDK retries seen", r.sdk_retries.values().sum::<u64>().to_string()),
            ("  invocations aborted", r.invocations_aborted.to_string()),
        ];
        for (function, faults) in &r.faults_by_function {
            let requests = r.requests.get(function).copied().unwrap_or(0);
            rows.push(("  where", format!("{function}: {} ({requests} requests)", list(faults))));
        }
        rows.push((
            "  duplicates explained / not",
            format!(
                "{} / {} (calls twice explained {})",
                self.duplicates_explained.len(),
                self.duplicates_unexplained,
                self.calls_twice_explained
            ),
        ));
        for d in &self.duplicates_explained {
            rows.push((
                "  explained",
                format!("alert {} {} to {}: {}", d.alert_id, d.channel.as_str(), d.caregiver_id, d.why),
            ));
        }
        rows.push(("  steps late or missed, explained", self.steps_late_explained.len().to_string()));
        for l in &self.steps_late_explained {
            let when = l.sent.map_or("not sent by the run's end".to_owned(), |sent| {
                format!("sent {} s after due", (sent - l.due).num_seconds())
            });
            rows.push(("  explained", format!("step of alert {} {when}: {}", l.alert_id, l.why)));
        }
        rows.push(("  claimed, never sent", self.claimed_never_sent.to_string()));
        let files: Vec<String> = self.failure_destination_files.iter().map(|p| p.display().to_string()).collect();
        rows.push(("  failure-destination files", if files.is_empty() { "none".into() } else { files.join(", ") }));
        rows
    }
}

/// An escalation step sent later than the first run at or after its due time, or
/// not sent by the run's end, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainedLateStep {
    pub alert_id: String,
    pub due: DateTime<Utc>,
    /// None: not sent when the run ended.
    pub sent: Option<DateTime<Utc>>,
    pub why: String,
}

/// The escalation steps late or missed by the audit's rule
/// ([`crate::escalations::audit`]: sent after, or not sent by, the first completed
/// detector run at or after their due time, the alert still open then) that faulted or
/// aborted detector runs explain:
///
/// - sent late: a faulted or aborted run between their due time and that first run (an
///   aborted one may have claimed the step, which then waits out the claim's lease; a
///   faulted one gave its claim back);
/// - never sent: an aborted run since their due time whose claim's lease (the
///   detector's `DELIVERY_LEASE_SECS`, 60 s) had not run out by the last run, or every
///   run since their due time met a fault. A calm run explains none.
pub fn late_steps_explained(
    steps: &[crate::escalations::Step],
    records: &HashMap<String, vigil_domain::lifecycle::AlertRecord>,
    completed: &[DateTime<Utc>],
    detector_runs: &[DetectorRun],
) -> Vec<ExplainedLateStep> {
    use crate::escalations::CLOCK_SLACK;
    let lease = chrono::Duration::from_std(vigil_aws::deliveries::DEFAULT_LEASE).unwrap_or(chrono::Duration::MAX);
    let mut out = Vec::new();
    for step in steps.iter().filter(|s| s.status != "cancelled") {
        let due = step.due_at();
        let Some(first) = completed.iter().copied().find(|r| *r >= due) else { continue };
        let closed = records
            .get(&step.delivery.alert_id)
            .and_then(|r| [r.acknowledged.as_ref(), r.resolved.as_ref()].into_iter().flatten().map(|t| t.at).min());
        if closed.is_some_and(|c| c <= first + CLOCK_SLACK) {
            continue;
        }
        let since_due = || detector_runs.iter().filter(|r| r.now + CLOCK_SLACK >= due);
        let why =
            match (step.status.as_str(), step.sent_at) {
                ("sent", Some(sent)) if sent > first + CLOCK_SLACK => since_due()
                    .filter(|r| r.now <= first + CLOCK_SLACK && (r.aborted || r.faulted))
                    .map(|r| {
                        if r.aborted { "an aborted detector run" } else { "a fault in the detector run due to send it" }
                    })
                    .next(),
                ("sent", _) => None,
                _ => {
                    let last = completed.last().copied().unwrap_or(first);
                    if since_due().any(|r| r.aborted && last < r.now + lease) {
                        Some("claimed by an aborted detector run, whose lease outlasted the run")
                    } else if since_due().next().is_some() && since_due().all(|r| r.aborted || r.faulted) {
                        Some("every detector run since it was due met a fault")
                    } else {
                        None
                    }
                }
            };
        if let Some(why) = why {
            out.push(ExplainedLateStep {
                alert_id: step.delivery.alert_id.clone(),
                due,
                sent: step.sent_at,
                why: why.to_owned(),
            });
        }
    }
    out
}

/// One message sent twice, and why (no address, no text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainedDuplicate {
    pub alert_id: String,
    pub caregiver_id: String,
    pub channel: Channel,
    pub why: String,
}

/// The fault, if any, that fell between `sent` and its confirm: every confirm
/// write of its delivery up to `until` (the next send of the same message) failed,
/// or the invocation that sent it was aborted.
fn fault_between_send_and_confirm(
    sent: &Sent,
    caregiver_id: &str,
    until: Option<Instant>,
    confirms: &[Confirm],
    aborts: &[Abort],
) -> Option<String> {
    let (prefix, suffix) = (format!("{}#", sent.alert_id), format!("#{caregiver_id}#{}", sent.channel.as_str()));
    let mine: Vec<&Confirm> = confirms
        .iter()
        .filter(|c| c.delivery_key.starts_with(&prefix) && c.delivery_key.ends_with(&suffix))
        .filter(|c| c.at >= sent.at && until.is_none_or(|u| c.at < u))
        .collect();
    // A slow answer is lost after the write is done: that confirm stands.
    if mine.iter().any(|c| matches!(c.fault, None | Some(Fault::Slow))) {
        return None;
    }
    if let Some(fault) = mine.iter().find_map(|c| c.fault) {
        return Some(format!("every attempt of its confirm write failed (chaos: {})", fault.as_str()));
    }
    aborts
        .iter()
        .find(|a| a.started <= sent.at && sent.at <= a.at)
        .map(|a| format!("{} was aborted between the send and the confirm", a.function))
}

/// Explains the duplicates among `sent` ([`crate::summary::duplicates`]'s: the same
/// text about the same alert to the same address) and the calls placed twice.
/// `caregivers`: address → caregiver id. Returns the summary's section without
/// the report and files.
pub fn explain(
    sent: &[Sent],
    caregivers: &HashMap<String, String>,
    confirms: &[Confirm],
    aborts: &[Abort],
    duplicate_calls: usize,
) -> ChaosSummary {
    let mut out = ChaosSummary::default();
    let mut groups: HashMap<(&str, &str, &str), Vec<&Sent>> = HashMap::new();
    let mut calls: HashMap<(&str, &str), Vec<&Sent>> = HashMap::new();
    for s in sent {
        if s.channel == Channel::Voice {
            calls.entry((s.address.as_str(), s.alert_id.as_str())).or_default().push(s);
        } else {
            groups.entry((s.address.as_str(), s.alert_id.as_str(), s.text.as_str())).or_default().push(s);
        }
    }
    let caregiver = |s: &Sent| caregivers.get(&s.address).cloned().unwrap_or_default();
    for group in groups.values_mut().filter(|g| g.len() > 1) {
        group.sort_by_key(|s| s.at);
        for pair in group.windows(2) {
            let id = caregiver(pair[0]);
            match fault_between_send_and_confirm(pair[0], &id, Some(pair[1].at), confirms, aborts) {
                Some(why) => out.duplicates_explained.push(ExplainedDuplicate {
                    alert_id: pair[0].alert_id.clone(),
                    caregiver_id: id,
                    channel: pair[0].channel,
                    why,
                }),
                None => out.duplicates_unexplained += 1,
            }
        }
    }
    let mut unconfirmed_calls = 0;
    for group in calls.values_mut() {
        group.sort_by_key(|s| s.at);
        for (i, s) in group.iter().enumerate() {
            let until = group.get(i + 1).map(|next| next.at);
            unconfirmed_calls +=
                u64::from(fault_between_send_and_confirm(s, &caregiver(s), until, confirms, aborts).is_some());
        }
    }
    out.calls_twice_explained = unconfirmed_calls.min(duplicate_calls as u64);
    out
}

/// First notifications (deliveries with no stored body, which nothing retries
/// later) still claimed or released at the end with no message sent for them.
pub async fn claimed_never_sent(
    sdk: &SdkConfig,
    table: &str,
    sent: &[Sent],
    caregivers: &HashMap<String, String>,
) -> anyhow::Result<u64> {
    let told: std::collections::HashSet<String> = sent
        .iter()
        .map(|s| {
            let id = caregivers.get(&s.address).map_or("", String::as_str);
            format!("{}#{id}#{}", s.alert_id, s.channel.as_str())
        })
        .collect();
    let client = vigil_aws::sdk::dynamodb(sdk);
    let mut items = client.scan().table_name(table).into_paginator().items().send();
    let mut never = 0;
    while let Some(item) = items.next().await {
        let item = item.with_context(|| format!("scanning {table}"))?;
        let status = item.get("status").and_then(|v| v.as_s().ok()).map_or("", String::as_str);
        let Some(AttributeValue::S(key)) = item.get("delivery_key") else { continue };
        if !item.contains_key("delivery") && matches!(status, "sending" | "released") && !told.contains(key) {
            tracing::warn!(delivery_key = %key, status, "a first notification was claimed and never sent");
            never += 1;
        }
    }
    Ok(never)
}

/// The failure-destination files in `dir` that hold records.
pub fn failure_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-failures.jsonl"))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(at: Instant, channel: Channel) -> Sent {
        Sent { alert_id: "a1".into(), channel, address: "+1".into(), text: "t".into(), id: String::new(), at }
    }

    #[test]
    fn a_duplicate_is_explained_only_by_a_fault_between_its_send_and_its_confirm() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let caregivers = HashMap::from([("+1".to_owned(), "c1".to_owned())]);
        let log = [sent(ms(0), Channel::Sms), sent(ms(100), Channel::Sms)];
        let confirm = |at, fault| Confirm { delivery_key: "a1#c1#sms".into(), at, fault };
        let abort = |started, at| Abort { function: "alert-processor".into(), started, at };

        // No fault at all: unexplained.
        let out = explain(&log, &caregivers, &[], &[], 0);
        assert_eq!((out.duplicates_explained.len(), out.duplicates_unexplained), (0, 1));
        // The confirm failed every attempt: explained.
        let failed = [confirm(ms(10), Some(Fault::Throttled)), confirm(ms(20), Some(Fault::Reset))];
        let out = explain(&log, &caregivers, &failed, &[], 0);
        assert_eq!((out.duplicates_explained.len(), out.duplicates_unexplained), (1, 0), "{out:?}");
        assert_eq!(out.duplicates_explained[0].caregiver_id, "c1");
        // A retry of the confirm went through: the first send was confirmed, so unexplained.
        let retried = [confirm(ms(10), Some(Fault::Throttled)), confirm(ms(20), None)];
        assert_eq!(explain(&log, &caregivers, &retried, &[], 0).duplicates_unexplained, 1);
        // A slow answer is lost after the write: confirmed.
        assert_eq!(explain(&log, &caregivers, &[confirm(ms(10), Some(Fault::Slow))], &[], 0).duplicates_unexplained, 1);
        // A fault on another delivery's confirm explains nothing.
        let other = [Confirm { delivery_key: "a1#c2#sms".into(), at: ms(10), fault: Some(Fault::Throttled) }];
        assert_eq!(explain(&log, &caregivers, &other, &[], 0).duplicates_unexplained, 1);
        // The sender aborted after sending: explained; an abort before the send is not.
        let out = explain(&log, &caregivers, &[], &[abort(t0, ms(5))], 0);
        assert!(out.duplicates_explained[0].why.contains("alert-processor"), "{out:?}");
        assert_eq!(explain(&log, &caregivers, &[], &[abort(ms(50), ms(60))], 0).duplicates_unexplained, 1);
    }

    #[test]
    fn calls_twice_are_explained_up_to_the_unconfirmed_calls() {
        let t0 = Instant::now();
        let caregivers = HashMap::from([("+1".to_owned(), "c1".to_owned())]);
        let log = [sent(t0, Channel::Voice), sent(t0 + Duration::from_millis(100), Channel::Voice)];
        let aborts = [Abort { function: "offline-detector".into(), started: t0, at: t0 + Duration::from_millis(5) }];
        assert_eq!(explain(&log, &caregivers, &[], &aborts, 1).calls_twice_explained, 1);
        assert_eq!(explain(&log, &caregivers, &[], &aborts, 0).calls_twice_explained, 0);
        assert_eq!(explain(&log, &caregivers, &[], &[], 1).calls_twice_explained, 0);
        // Calls are never counted as message duplicates.
        assert_eq!(explain(&log, &caregivers, &[], &[], 1).duplicates_unexplained, 0);
    }
}
