//! The run's verdict: the figures `--summary-json` writes and the table printed
//! at the end. `lost`, `alerts_missed` and `duplicate_notifications` must be zero.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::audit::AlertRow;
use crate::caregivers::Acknowledgements;
use crate::escalations::Escalations;
use crate::fleet::{EventKind, InjectedEvent};
use crate::observe::Sent;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnexpectedAlert {
    pub wearer_id: String,
    pub rule: String,
    pub raised_at: DateTime<Utc>,
}

/// An injected event that raised no alert (simulated wearer id, rule and time only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissedEvent {
    pub wearer_id: String,
    /// The rule whose alert was expected.
    pub rule: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: u64,
    pub p99: u64,
    /// Alerts measured (those raised by an upload; `no_data` is raised by the schedule).
    pub count: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub uploads_sent: u64,
    pub uploads_accepted: u64,
    /// Uploads whose 202 told the upload policy the simulated phone follows / another
    /// one (the rest had none: the wearer's limits could not be read in time).
    pub uploads_on_policy: u64,
    pub uploads_off_policy: u64,
    pub readings_accepted: u64,
    pub readings_raw: u64,
    pub readings_curated: u64,
    pub readings_vitals: u64,
    pub readings_warehouse: u64,
    /// Rows in the warehouse's alerts fact table.
    pub alerts_warehouse: u64,
    /// Alerts resolved in the alerts table (silent bands that came back, false alarms).
    pub alerts_resolved: u64,
    /// Rows of the warehouse's alerts fact table marked resolved.
    pub alerts_resolved_warehouse: u64,
    /// Alerts acknowledged in the alerts table / with `acknowledged_at` in the warehouse.
    pub alerts_acknowledged: u64,
    pub alerts_acknowledged_warehouse: u64,
    pub injected_events: u64,
    pub alerts_raised: u64,
    pub alerts_missed: u64,
    /// Those events, to look into.
    pub missed_events: Vec<MissedEvent>,
    /// Alerts that no injected event explains (0 with the simulator's realistic values).
    pub alerts_unexpected: u64,
    /// Those alerts, to look into (simulated wearer ids, rules and event times only).
    pub unexpected_alerts: Vec<UnexpectedAlert>,
    pub notifications_sent: u64,
    pub duplicate_notifications: u64,
    /// Accepted readings missing from at least one store after draining.
    pub lost: u64,
    /// From the 202 of the upload that carried the alert's reading (for a fall, the
    /// first reading past its cancel window: until then it may still be cancelled) to
    /// the alert's first message to a caregiver, in real milliseconds. A fall the
    /// detector raised (no reading after its window) has no such upload: not counted.
    pub alert_latency_ms: Latency,
    /// What the simulated caregivers did (app, SMS reply, link), audited against the alerts table.
    pub acknowledgements: Acknowledgements,
    /// What escalation did when nobody answered, audited against the deliveries and alerts tables
    /// and the calls the voice stand-in received.
    pub escalations: Escalations,
    /// Accepted readings per real second while the fleet was uploading.
    pub readings_per_s: f64,
    /// Stream records that went to an on-failure destination (should be 0).
    pub records_to_failure_destination: u64,
    /// SMS the endpoint itself recorded for this run's messages (moto), if it exposes them.
    pub sms_recorded_by_endpoint: Option<u64>,
    pub wearers: usize,
    pub simulated_minutes: i64,
    pub speed: f64,
    /// The speed the fleet's clock achieved while uploading (simulated / real time):
    /// below `speed` when the phones held it back (back-pressure).
    pub achieved_speed: f64,
    /// Real seconds the phones held the clock back.
    pub clock_held_s: f64,
    pub real_seconds: f64,
    /// The run's data bucket and warehouse database, for tests that read them again
    /// (not in the JSON).
    #[serde(skip)]
    pub data_bucket: String,
    #[serde(skip)]
    pub warehouse_url: Option<String>,
    /// What `vigil cost --from-run` reads: stream bytes, store sizes, messages by channel.
    /// Absent when they could not be measured (the run's audit does not depend on them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_inputs: Option<crate::cost::Measured>,
    /// What `--chaos` injected and what it explains (absent in a calm run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chaos: Option<crate::chaos::ChaosSummary>,
}

impl Summary {
    /// What makes the run fail.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.lost > 0 {
            problems.push(format!("{} accepted readings are missing from a store", self.lost));
        }
        if self.uploads_off_policy > 0 {
            problems.push(format!(
                "{} uploads were answered with another upload policy than the phones follow",
                self.uploads_off_policy
            ));
        }
        if self.alerts_missed > 0 {
            let which: Vec<String> = self
                .missed_events
                .iter()
                .map(|e| format!("{} {} at {}", e.wearer_id, e.rule, e.at.format("%H:%M:%S")))
                .collect();
            problems.push(format!("{} injected events raised no alert: {}", self.alerts_missed, which.join(", ")));
        }
        if self.alerts_unexpected > 0 {
            let which: Vec<String> = self
                .unexpected_alerts
                .iter()
                .map(|a| format!("{} {} at {}", a.wearer_id, a.rule, a.raised_at.format("%H:%M:%S")))
                .collect();
            problems.push(format!(
                "{} alerts no injected event explains (false alarms): {}",
                self.alerts_unexpected,
                which.join(", ")
            ));
        }
        if self.acknowledgements.mismatches > 0 {
            problems.push(format!(
                "{} alerts are stored in a state the caregivers' actions do not explain",
                self.acknowledgements.mismatches
            ));
        }
        // Under chaos, a duplicate a fault between send and confirm explains is allowed (and listed).
        let explained = self.chaos.as_ref().map_or(0, |c| c.duplicates_explained.len() as u64);
        if self.duplicate_notifications > explained {
            problems.push(format!(
                "{} notifications were sent twice ({explained} of them explained by a fault between send and confirm)",
                self.duplicate_notifications
            ));
        }
        if let Some(c) = self.chaos.as_ref().filter(|c| c.claimed_never_sent > 0) {
            problems.push(format!("{} first notifications were claimed and never sent", c.claimed_never_sent));
        }
        let e = &self.escalations;
        // Under chaos, a step late by a fault in the run due to send it is allowed (and listed).
        let late_explained = self.chaos.as_ref().map_or(0, |c| c.steps_late_explained.len());
        if e.late_or_missed > late_explained {
            problems.push(format!(
                "{} escalation steps went out more than a tick late or not at all ({late_explained} explained by a fault)",
                e.late_or_missed
            ));
        }
        if e.after_acknowledgement > 0 {
            problems.push(format!(
                "{} escalation steps went out after the alert was acknowledged",
                e.after_acknowledgement
            ));
        }
        let calls_explained = self.chaos.as_ref().map_or(0, |c| c.calls_twice_explained as usize);
        if e.duplicate_calls > calls_explained {
            problems.push(format!("{} calls were placed twice ({calls_explained} explained)", e.duplicate_calls));
        }
        problems
    }

    /// The end-of-run table.
    pub fn table(&self) -> String {
        let (a, e) = (&self.acknowledgements, &self.escalations);
        let rows: [(&str, String); 25] = [
            ("uploads sent / accepted", format!("{} / {}", self.uploads_sent, self.uploads_accepted)),
            ("readings accepted", self.readings_accepted.to_string()),
            ("  in the raw archive (S3)", self.readings_raw.to_string()),
            ("  curated (Parquet)", self.readings_curated.to_string()),
            ("  vitals (DynamoDB)", self.readings_vitals.to_string()),
            ("  warehouse (PostgreSQL)", self.readings_warehouse.to_string()),
            ("lost", self.lost.to_string()),
            ("injected events", self.injected_events.to_string()),
            ("alerts raised", self.alerts_raised.to_string()),
            ("  in the warehouse", self.alerts_warehouse.to_string()),
            (
                "  resolved (table / warehouse)",
                format!("{} / {}", self.alerts_resolved, self.alerts_resolved_warehouse),
            ),
            (
                "  acknowledged (table / warehouse)",
                format!("{} / {}", self.alerts_acknowledged, self.alerts_acknowledged_warehouse),
            ),
            ("alerts missed / unexpected", format!("{} / {}", self.alerts_missed, self.alerts_unexpected)),
            ("notifications sent", self.notifications_sent.to_string()),
            ("duplicate notifications", self.duplicate_notifications.to_string()),
            (
                "alert latency p50 / p99",
                format!(
                    "{} ms / {} ms ({} alerts)",
                    self.alert_latency_ms.p50, self.alert_latency_ms.p99, self.alert_latency_ms.count
                ),
            ),
            (
                "caregivers: acknowledged / false alarm / never",
                format!(
                    "{} / {} / {} of {} told ({} mismatches)",
                    a.acknowledged, a.resolved_false_alarm, a.never_acknowledged, a.told, a.mismatches
                ),
            ),
            ("  acknowledged by app / SMS reply / link", format!("{} / {} / {}", a.by_api, a.by_sms, a.by_link)),
            (
                "escalations: alerts / steps / calls",
                format!(
                    "{} / {} / {} ({} steps cancelled, {} refused)",
                    e.alerts_escalated, e.steps_sent, e.calls, e.steps_cancelled, e.steps_refused
                ),
            ),
            (
                "  reached last level / max lateness",
                format!("{} alerts / {} s", e.reached_last_level, e.max_lateness_s),
            ),
            (
                "  late or missed / after ack / calls twice",
                format!("{} / {} / {}", e.late_or_missed, e.after_acknowledgement, e.duplicate_calls),
            ),
            (
                "time to acknowledge p50 / p99",
                format!(
                    "{:.1} / {:.1} simulated min",
                    a.time_to_ack_p50_s as f64 / 60.0,
                    a.time_to_ack_p99_s as f64 / 60.0
                ),
            ),
            ("readings/s", format!("{:.0}", self.readings_per_s)),
            ("to failure destinations", self.records_to_failure_destination.to_string()),
            (
                "run",
                format!(
                    "{} wearers, {} simulated min at x{} (achieved x{:.1}, held {:.1} s) in {:.1} s",
                    self.wearers,
                    self.simulated_minutes,
                    self.speed,
                    self.achieved_speed,
                    self.clock_held_s,
                    self.real_seconds
                ),
            ),
        ];
        let mut rows = rows.to_vec();
        if let Some(c) = &self.chaos {
            rows.extend(c.rows());
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        rows.iter().map(|(k, v)| format!("  {k:<width$}  {v}\n")).collect()
    }
}

/// How far outside the injected event's span an alert may be and still be its
/// alert: a little before (a reading's timestamp rounding), and after its end the
/// time a phone may take to upload its buffer.
const MATCH_BEFORE: TimeDelta = TimeDelta::minutes(2);
const MATCH_AFTER: TimeDelta = TimeDelta::minutes(30);

/// Whether `event` explains `alert`: the alert it expects, or, for a cancelled
/// fall, a fall alert the rules resolved (its cancel came after the fall was
/// raised: the caregivers were told it was cancelled on the band).
fn explains(event: &InjectedEvent, alert: &AlertRow) -> bool {
    let cancelled_late = event.kind == EventKind::FallCancelled && alert.rule == "fall" && alert.cleared;
    (cancelled_late || event.expects.is_some_and(|rule| rule.as_str() == alert.rule))
        && event.wearer_id == alert.wearer_id
        && alert.raised_at >= event.at - MATCH_BEFORE
        && alert.raised_at <= event.until + MATCH_AFTER
}

/// The injected events that raised no alert, and the alerts no injected event explains.
pub fn match_alerts(events: &[InjectedEvent], alerts: &[AlertRow]) -> (Vec<MissedEvent>, Vec<UnexpectedAlert>) {
    let missed = events
        .iter()
        .filter_map(|e| {
            let rule = e.expects?;
            (!alerts.iter().any(|a| explains(e, a))).then(|| MissedEvent {
                wearer_id: e.wearer_id.clone(),
                rule: rule.as_str().to_owned(),
                at: e.at,
            })
        })
        .collect();
    let unexpected = alerts
        .iter()
        .filter(|a| !events.iter().any(|e| explains(e, a)))
        .map(|a| UnexpectedAlert { wearer_id: a.wearer_id.clone(), rule: a.rule.clone(), raised_at: a.raised_at })
        .collect();
    (missed, unexpected)
}

/// Messages sent more than once: the same text about the same alert to the same
/// address (two alerts may well read alike: "thanks, acknowledged" twice is two
/// messages). Calls are left out: escalation repeats a call on purpose (each round
/// is its own step); calls twice are counted against the steps instead
/// ([`Escalations::duplicate_calls`]).
pub fn duplicates(sent: &[Sent]) -> u64 {
    let mut seen = HashSet::new();
    sent.iter()
        .filter(|s| s.channel != vigil_domain::care::Channel::Voice)
        .filter(|s| !seen.insert((s.address.as_str(), s.alert_id.as_str(), s.text.as_str())))
        .count() as u64
}

/// Alert latency (see [`Summary::alert_latency_ms`]). `carried`: per wearer, the
/// newest reading time of each accepted upload and when it was accepted. Each alert
/// is paired with its own first message (by alert id).
pub fn latency(
    alerts: &[AlertRow],
    carried: &HashMap<String, Vec<(DateTime<Utc>, Instant)>>,
    sent: &[Sent],
) -> Latency {
    // A fall is raised only once its cancel window has passed without an "I'm OK" (on the
    // first reading after it, or the detector's run): that wait is the product's, not the
    // pipeline's, so a fall's latency runs from the upload that carried a reading past it.
    let cancel_window = TimeDelta::seconds(i64::from(vigil_domain::alerts::Thresholds::default().fall_cancel_window_s));
    let mut samples: Vec<Duration> = Vec::new();
    for alert in alerts.iter().filter(|a| a.rule != "no_data") {
        let decided = |newest: DateTime<Utc>| match alert.rule.as_str() {
            "fall" => newest > alert.raised_at + cancel_window,
            _ => newest >= alert.raised_at,
        };
        let Some(accepted) = carried
            .get(&alert.wearer_id)
            .and_then(|uploads| uploads.iter().filter(|(newest, _)| decided(*newest)).map(|(_, at)| *at).min())
        else {
            continue;
        };
        let first_message = sent.iter().filter(|s| s.alert_id == alert.id).map(|s| s.at).min();
        // A message before that upload: the detector's run raised the alert (a fall with
        // no reading after its window), not an upload.
        if let Some(at) = first_message.filter(|at| *at >= accepted) {
            samples.push(at - accepted);
        }
    }
    samples.sort();
    let pick = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).map_or(0, |d| d.as_millis() as u64)
    };
    Latency { p50: pick(0.5), p99: pick(0.99), count: samples.len() }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;
    use vigil_domain::alerts::RuleKind;
    use vigil_domain::care::Channel;

    fn counts((missed, unexpected): &(Vec<MissedEvent>, Vec<UnexpectedAlert>)) -> (usize, usize) {
        (missed.len(), unexpected.len())
    }

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn alert(wearer: &str, rule: &str, at: &str) -> AlertRow {
        AlertRow {
            id: format!("{wearer}-{rule}"),
            wearer_id: wearer.into(),
            rule: rule.into(),
            raised_at: t(at),
            resolved: false,
            cleared: false,
            acknowledged: false,
        }
    }

    #[test]
    fn an_event_is_matched_only_by_its_wearers_alert_of_its_rule_near_its_time() {
        let sos = InjectedEvent {
            wearer_id: "w1".into(),
            kind: EventKind::Sos,
            at: t("2026-11-22T10:00:00Z"),
            until: t("2026-11-22T10:00:00Z"),
            expects: Some(RuleKind::Sos),
        };
        let cancelled = InjectedEvent { kind: EventKind::FallCancelled, expects: None, ..sos.clone() };
        let events = [sos, cancelled];
        assert_eq!(counts(&match_alerts(&events, &[alert("w1", "sos", "2026-11-22T10:00:05Z")])), (0, 0));
        assert_eq!(counts(&match_alerts(&events, &[alert("w2", "sos", "2026-11-22T10:00:05Z")])), (1, 1));
        assert_eq!(counts(&match_alerts(&events, &[alert("w1", "fall", "2026-11-22T10:00:05Z")])), (1, 1));
        assert_eq!(counts(&match_alerts(&events, &[alert("w1", "sos", "2026-11-22T12:00:00Z")])), (1, 1));
        assert_eq!(counts(&match_alerts(&events, &[])), (1, 0));
    }

    #[test]
    fn a_fall_resolved_by_its_late_cancel_is_expected_and_any_other_is_not() {
        let cancelled = InjectedEvent {
            wearer_id: "w1".into(),
            kind: EventKind::FallCancelled,
            at: t("2026-11-22T10:00:00Z"),
            until: t("2026-11-22T10:00:15Z"),
            expects: None,
        };
        let events = [cancelled];
        let fall = alert("w1", "fall", "2026-11-22T10:00:00Z");
        let resolved_by_rules = AlertRow { resolved: true, cleared: true, ..fall.clone() };
        assert_eq!(counts(&match_alerts(&events, std::slice::from_ref(&resolved_by_rules))), (0, 0));
        assert!(match_alerts(&events, &[resolved_by_rules]).1.is_empty());
        // Left standing, or resolved by a caregiver: a false alarm.
        assert_eq!(counts(&match_alerts(&events, std::slice::from_ref(&fall))), (0, 1));
        let by_caregiver = AlertRow { resolved: true, ..fall.clone() };
        assert_eq!(counts(&match_alerts(&events, &[by_caregiver])), (0, 1));
        let other_wearer = AlertRow { wearer_id: "w2".into(), resolved: true, cleared: true, ..fall };
        assert_eq!(counts(&match_alerts(&events, &[other_wearer])), (0, 1));
    }

    #[test]
    fn unexpected_alerts_fail_the_run_and_are_named_without_personal_data() {
        let summary = Summary {
            alerts_unexpected: 1,
            unexpected_alerts: vec![UnexpectedAlert {
                wearer_id: "wearer-0007".into(),
                rule: "no_data".into(),
                raised_at: t("2026-11-22T10:44:00Z"),
            }],
            ..Summary::default()
        };
        assert_eq!(
            summary.problems(),
            ["1 alerts no injected event explains (false alarms): wearer-0007 no_data at 10:44:00"]
        );
        assert!(Summary::default().problems().is_empty());
    }

    #[test]
    fn duplicates_are_the_same_text_about_the_same_alert_to_the_same_address_and_calls_are_not() {
        let now = Instant::now();
        let sent = |address: &str, alert: &str, text: &str, channel| Sent {
            alert_id: alert.into(),
            channel,
            address: address.into(),
            text: text.into(),
            id: String::new(),
            at: now,
        };
        let sms = |address, alert, text| sent(address, alert, text, Channel::Sms);
        let log = [
            sms("+1", "x", "a"),
            sms("+2", "x", "a"),
            sms("+1", "x", "b"),
            sms("+1", "x", "a"),
            sms("+1", "x", "a"),
            // The same words about another alert: another message.
            sms("+1", "y", "a"),
            // Escalation calls the same number again on purpose.
            sent("+1", "x", "call", Channel::Voice),
            sent("+1", "x", "call", Channel::Voice),
        ];
        assert_eq!(duplicates(&log), 2);
    }

    #[test]
    fn latency_runs_from_the_carrying_upload_to_the_alerts_own_first_message() {
        let t0 = Instant::now();
        let carried = HashMap::from([(
            "w1".to_owned(),
            vec![
                (t("2026-11-22T09:59:00Z"), t0),
                (t("2026-11-22T10:01:00Z"), t0 + Duration::from_millis(1_000)),
                (t("2026-11-22T10:02:00Z"), t0 + Duration::from_millis(2_000)),
            ],
        )]);
        let sent = |alert_id: &str, ms: u64| Sent {
            alert_id: alert_id.into(),
            channel: Channel::Sms,
            address: String::new(),
            text: String::new(),
            id: String::new(),
            at: t0 + Duration::from_millis(ms),
        };
        // Another wearer's alert and another alert of w1 go out before this one's.
        let log =
            [sent("w2-sos", 1_100), sent("w1-heart_rate_high", 1_200), sent("w1-sos", 1_250), sent("w1-sos", 1_300)];
        let l = latency(&[alert("w1", "sos", "2026-11-22T10:00:30Z")], &carried, &log);
        assert_eq!(l, Latency { p50: 250, p99: 250, count: 1 });
        let none = latency(&[alert("w1", "no_data", "2026-11-22T10:00:30Z")], &carried, &log);
        assert_eq!(none.count, 0);
        // A fall at 10:00:30 is decided by the first upload past its cancel window (10:02),
        // not by the one that carried it (10:01).
        let window = vigil_domain::alerts::Thresholds::default().fall_cancel_window_s;
        assert!(window < 90, "the test's uploads straddle a {window} s window");
        let fall = [alert("w1", "fall", "2026-11-22T10:00:30Z")];
        // From its 202 at 2,000 ms, nothing of this fall's was sent: no sample.
        assert_eq!(latency(&fall, &carried, &[sent("w1-fall", 1_250)]).count, 0, "raised by the detector");
        assert_eq!(latency(&fall, &carried, &[sent("w1-sos", 2_100)]).count, 0, "another alert's message");
        let l = latency(&fall, &carried, &[sent("w1-sos", 2_100), sent("w1-fall", 2_400)]);
        assert_eq!(l, Latency { p50: 400, p99: 400, count: 1 });
    }
}
