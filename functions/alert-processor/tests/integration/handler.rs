//! The alert-processor handler with in-memory ports: alerts raised once,
//! messages sent once per caregiver and channel, failures reported as Lambda
//! needs them, poison quarantined.

use crate::common::{reading, sos};
use alert_processor::Processor;
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use chrono::NaiveTime;
use proptest::prelude::*;
use vigil_alerting::{Alerting, NoSink};
use vigil_domain::alerts::{RuleKind, Severity};
use vigil_domain::care::{Caregiver, Channel, QuietHours, WearerProfile};
use vigil_testkit::kinesis::{at, envelope, event, record};
use vigil_testkit::*;

type Proc = Processor<Memory, MemoryQuarantine>;

fn profile(wearer: &str) -> WearerProfile {
    WearerProfile {
        snoozes: Default::default(),
        escalation: Default::default(),
        wearer_id: wearer.into(),
        name: "Carmen Ruiz".into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers: vec![
            Caregiver {
                sub: None,
                name: None,
                id: "cg-daughter".into(),
                level: 1,
                language: vigil_domain::alerts::Language::Es,
                phone: Some("+34600000001".into()),
                push_endpoint: Some("arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/vigil/abc".into()),
                quiet_hours: None,
                daily_at: None,
            },
            Caregiver {
                sub: None,
                name: None,
                id: "cg-neighbour".into(),
                level: 1,
                language: vigil_domain::alerts::Language::En,
                phone: Some("+447700900002".into()),
                push_endpoint: None,
                quiet_hours: Some(QuietHours {
                    start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                    end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
                    time_zone: "Europe/London".into(),
                }),
                daily_at: None,
            },
        ],
    }
}

fn processor() -> Proc {
    Processor {
        alerting: Alerting {
            wearers: MemoryWearers::with([profile("wearer-42"), profile("wearer-7")]),
            states: MemoryStates::default(),
            alerts: MemoryAlerts::default(),
            deliveries: MemoryDeliveries::default(),
            notifier: MemoryNotifier::default(),
            sink: NoSink,
            links: None,
        },
        quarantine: MemoryQuarantine::default(),
    }
}

const NOW: &str = "2026-11-22T10:00:02Z";

fn failures(p: &Proc, e: &KinesisEvent, now: &str) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (response, _) = runtime.block_on(p.process(e, at(now)));
    response.batch_item_failures.into_iter().map(|f| f.item_identifier.unwrap()).collect()
}

#[test]
fn an_sos_raises_one_critical_alert_and_tells_every_caregiver_once_in_their_language() {
    let p = processor();
    let e = event(vec![record(
        1,
        envelope("wearer-42", vec![reading("2026-11-22T10:59:50+01:00", 1), sos("2026-11-22T10:59:55+01:00", 2)]),
    )]);
    assert!(failures(&p, &e, NOW).is_empty());

    let alerts = p.alerting.alerts.all();
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0].rule, alerts[0].severity), (RuleKind::Sos, Severity::Critical));
    assert!(alerts[0].location.is_some());

    let sent = p.alerting.notifier.sent();
    let mut got: Vec<(Channel, String)> = sent.iter().map(|m| (m.channel, m.address.clone())).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (Channel::Sms, "+34600000001".to_owned()),
            (Channel::Sms, "+447700900002".to_owned()),
            (Channel::Push, "arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/vigil/abc".to_owned()),
        ]
    );
    let spanish = sent.iter().find(|m| m.address == "+34600000001").unwrap();
    assert!(spanish.message.sms.contains("Carmen Ruiz"), "{}", spanish.message.sms);
    assert!(spanish.message.sms.contains("10:59"), "local time in Madrid: {}", spanish.message.sms);
    // Critical alerts ignore quiet hours, even at night for the neighbour.
    let p = processor();
    let e = event(vec![record(1, envelope("wearer-42", vec![sos("2026-11-22T02:00:00+01:00", 9)]))]);
    assert!(failures(&p, &e, "2026-11-22T01:00:05Z").is_empty());
    assert_eq!(p.alerting.notifier.sent().len(), 3);
}

#[test]
fn a_redelivered_batch_raises_and_sends_nothing_new() {
    let p = processor();
    let e = event(vec![record(1, envelope("wearer-42", vec![sos("2026-11-22T10:59:55+01:00", 2)]))]);
    assert!(failures(&p, &e, NOW).is_empty());
    assert!(failures(&p, &e, NOW).is_empty());
    assert!(failures(&p, &e, "2026-11-22T10:05:00Z").is_empty());
    assert_eq!(p.alerting.alerts.all().len(), 1);
    assert_eq!(p.alerting.notifier.sent().len(), 3);
}

#[test]
fn poison_is_quarantined_with_its_position_and_does_not_block_the_batch() {
    let p = processor();
    let e = event(vec![
        record(1, b"\x00\xffnot an envelope".to_vec()),
        record(2, envelope("wearer-42", vec![sos("2026-11-22T10:59:55+01:00", 2)])),
        record(3, br#"{"v":2,"other":"version"}"#.to_vec()),
    ]);
    assert!(failures(&p, &e, NOW).is_empty());
    let q = p.quarantine.records.lock().unwrap().clone();
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].shard_id, "shardId-000000000001");
    assert_eq!(q[0].sequence_number, format!("{:056}", 1));
    assert_eq!(q[0].data, b"\x00\xffnot an envelope");
    assert_eq!(q[0].function, "alert-processor");
    assert_eq!(p.alerting.alerts.all().len(), 1);
}

#[test]
fn poison_that_cannot_be_quarantined_is_reported() {
    let p = processor();
    p.quarantine.faults.fail_next(1);
    let e = event(vec![
        record(1, envelope("wearer-42", vec![reading("2026-11-22T10:59:50+01:00", 1)])),
        record(2, b"junk".to_vec()),
    ]);
    assert_eq!(failures(&p, &e, NOW), vec![format!("{:056}", 2)]);
}

#[test]
fn sns_throttling_reports_the_wearers_first_record_and_the_retry_sends_each_message_once() {
    let p = processor();
    let e = event(vec![
        record(1, envelope("wearer-7", vec![reading("2026-11-22T10:59:40+01:00", 1)])),
        record(2, envelope("wearer-42", vec![reading("2026-11-22T10:59:50+01:00", 1)])),
        record(3, envelope("wearer-42", vec![sos("2026-11-22T10:59:55+01:00", 2)])),
    ]);
    // The first send of the batch is throttled; the alert's other recipients are told
    // all the same (every recipient at once: nobody waits behind another's failure).
    p.alerting.notifier.transient.fail_next(1);
    assert_eq!(failures(&p, &e, NOW), vec![format!("{:056}", 2)]);
    assert_eq!(p.alerting.notifier.sent().len(), 2, "all but the throttled send went out");
    // Lambda redelivers from record 2.
    let retry = event(e.records[1..].to_vec());
    assert!(failures(&p, &retry, NOW).is_empty());
    assert_eq!(p.alerting.notifier.sent().len(), 3);
    assert_eq!(p.alerting.alerts.all().len(), 1);
}

#[test]
fn dynamodb_throttling_fails_only_that_wearer() {
    let p = processor();
    let e = event(vec![
        record(1, envelope("wearer-7", vec![sos("2026-11-22T10:59:40+01:00", 1)])),
        record(2, envelope("wearer-42", vec![sos("2026-11-22T10:59:50+01:00", 1)])),
    ]);
    p.alerting.states.faults.fail_next(1); // the first wearer's state load
    assert_eq!(failures(&p, &e, NOW), vec![format!("{:056}", 1)]);
    let alerts = p.alerting.alerts.all();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].wearer_id, "wearer-42");
}

#[test]
fn an_alert_that_could_not_be_stored_sends_nothing_and_its_retry_sends_at_once() {
    let p = processor();
    let e = event(vec![record(1, envelope("wearer-42", vec![sos("2026-11-22T10:59:55+01:00", 2)]))]);
    // The alert's put fails while its messages' claims (made at the same time) are granted.
    p.alerting.alerts.faults.fail_next(1);
    assert_eq!(failures(&p, &e, NOW), vec![format!("{:056}", 1)]);
    assert!(p.alerting.notifier.sent().is_empty(), "no message before its alert is stored");
    assert!(p.alerting.alerts.all().is_empty());
    // The claims were given back: Lambda's retry, within the claims' lease, sends every message.
    assert!(failures(&p, &e, NOW).is_empty());
    assert_eq!(p.alerting.notifier.sent().len(), 3);
    assert_eq!(p.alerting.alerts.all().len(), 1);
}

#[test]
fn a_lost_conditional_write_is_evaluated_again_without_duplicates() {
    let p = processor();
    p.alerting.states.conflicts.fail_next(2);
    let e = event(vec![record(1, envelope("wearer-42", vec![sos("2026-11-22T10:59:55+01:00", 2)]))]);
    assert!(failures(&p, &e, NOW).is_empty());
    assert_eq!(p.alerting.alerts.all().len(), 1);
    assert_eq!(p.alerting.notifier.sent().len(), 3);
    assert_eq!(p.alerting.states.states.lock().unwrap()["wearer-42"].version, 3);
}

#[test]
fn low_battery_waits_out_quiet_hours_then_is_sent() {
    let p = processor();
    let mut r = reading("2026-11-22T23:30:00+01:00", 5);
    r.battery_pct = Some(9);
    let e = event(vec![record(1, envelope("wearer-42", vec![r]))]);
    // 22:30 in London: the neighbour is in quiet hours, the daughter has none.
    assert!(failures(&p, &e, "2026-11-22T22:30:05Z").is_empty());
    let sent = p.alerting.notifier.sent();
    assert!(sent.iter().all(|m| m.address != "+447700900002"), "{sent:?}");
    assert_eq!(sent.len(), 2);

    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let early = runtime.block_on(p.alerting.send_due(at("2026-11-23T06:59:00Z"))).unwrap();
    assert_eq!(early.sent, 0);
    let due = runtime.block_on(p.alerting.send_due(at("2026-11-23T07:00:00Z"))).unwrap();
    assert_eq!(due.sent, 1);
    assert!(p.alerting.notifier.sent().iter().any(|m| m.address == "+447700900002"));
    let again = runtime.block_on(p.alerting.send_due(at("2026-11-23T07:10:00Z"))).unwrap();
    assert_eq!(again.sent, 0);
}

#[test]
fn a_snoozed_rule_is_stored_but_not_sent_and_sos_is_never_snoozed() {
    use vigil_domain::care::Snooze;
    let p = processor();
    {
        let mut profiles = p.alerting.wearers.profiles.lock().unwrap();
        let profile = profiles.get_mut("wearer-42").unwrap();
        let until = at("2026-11-22T11:00:00Z");
        for rule in [RuleKind::BatteryLow, RuleKind::Sos] {
            // Snooze::new refuses SOS; the alert path must not trust the profile to have refused it.
            profile.snoozes.insert(rule, Snooze { until, by: "cg-daughter".into() });
        }
    }
    let mut low = reading("2026-11-22T10:59:50+01:00", 1);
    low.battery_pct = Some(9);
    let e = event(vec![record(1, envelope("wearer-42", vec![low, sos("2026-11-22T10:59:55+01:00", 2)]))]);
    assert!(failures(&p, &e, NOW).is_empty());
    let alerts = p.alerting.alerts.all();
    let battery = alerts.iter().find(|a| a.rule == RuleKind::BatteryLow).expect("stored while snoozed");
    assert!(p.alerting.alerts.record(battery.id.as_str()).unwrap().snoozed);
    let sent = p.alerting.notifier.sent();
    assert!(sent.iter().all(|m| m.message.alert_id != battery.id.as_str()), "nothing sent for the snoozed rule");
    let sos = alerts.iter().find(|a| a.rule == RuleKind::Sos).unwrap();
    assert!(!p.alerting.alerts.record(sos.id.as_str()).unwrap().snoozed);
    assert_eq!(sent.iter().filter(|m| m.message.alert_id == sos.id.as_str()).count(), 3, "SOS to everyone: {sent:?}");
}

#[test]
fn a_refused_number_does_not_block_the_others_or_the_batch() {
    let p = processor();
    p.alerting.notifier.refused.lock().unwrap().push("+447700900002".into());
    let e = event(vec![record(1, envelope("wearer-42", vec![sos("2026-11-22T10:59:55+01:00", 2)]))]);
    assert!(failures(&p, &e, NOW).is_empty());
    assert_eq!(p.alerting.notifier.sent().len(), 2);
    assert!(failures(&p, &e, NOW).is_empty());
    assert_eq!(p.alerting.notifier.sent().len(), 2);
}

/// The metrics a batch reports, by name.
fn metrics(p: &Proc, e: &KinesisEvent, now: &str) -> vigil_lambda::metrics::Metrics {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(p.process(e, at(now))).1
}

#[test]
fn the_metrics_alarms_watch_count_refusals_poison_and_wearers_without_a_profile() {
    let p = processor();
    p.alerting.notifier.refused.lock().unwrap().push("+447700900002".into());
    let e = event(vec![
        record(1, envelope("wearer-42", vec![sos("2026-11-22T10:59:55+01:00", 2)])),
        // Readings of two wearers nobody registered: alerts stored, nobody told.
        record(2, envelope("wearer-unregistered", vec![sos("2026-11-22T10:59:56+01:00", 3)])),
        record(3, envelope("wearer-unregistered", vec![reading("2026-11-22T10:59:57+01:00", 4)])),
        record(4, envelope("wearer-also-unknown", vec![reading("2026-11-22T10:59:58+01:00", 5)])),
        record(5, b"not an envelope".to_vec()),
    ]);
    let m = metrics(&p, &e, NOW);
    assert_eq!(m.get("NotificationsRefused"), 1.0, "the neighbour's number");
    assert_eq!(m.get("NotificationsSent"), 2.0);
    assert_eq!(m.get("PoisonRecords"), 1.0);
    assert_eq!(m.get("WearersWithoutProfile"), 2.0, "once per wearer in the batch, not per record");
    assert_eq!(m.get("AlertsRaised"), 2.0, "the unregistered wearer's SOS is stored");
    assert_eq!(m.get("AlertLatencyMs"), 7_000.0 + 6_000.0, "event time to raised, per alert");
    assert_eq!(p.alerting.notifier.sent().len(), 2, "nobody to tell for the unregistered wearer");

    // Registered wearers only: nothing without a profile.
    let p = processor();
    let e = event(vec![record(1, envelope("wearer-7", vec![reading("2026-11-22T10:59:50+01:00", 1)]))]);
    assert_eq!(metrics(&p, &e, NOW).get("WearersWithoutProfile"), 0.0);
}

#[test]
fn a_fall_not_cancelled_within_the_window_alerts_and_a_cancelled_one_does_not() {
    let p = processor();
    let mut fall = reading("2026-11-22T10:59:00+01:00", 1);
    fall.fall_detected = Some(true);
    let mut cancel = reading("2026-11-22T10:59:20+01:00", 2);
    cancel.fall_cancelled = Some(true);
    let e = event(vec![record(1, envelope("wearer-42", vec![fall.clone(), cancel]))]);
    assert!(failures(&p, &e, "2026-11-22T10:00:30Z").is_empty());
    assert!(p.alerting.alerts.all().is_empty());

    let p = processor();
    let e = event(vec![record(1, envelope("wearer-42", vec![fall]))]);
    // Inside the window: pending, nothing sent yet.
    assert!(failures(&p, &e, "2026-11-22T10:59:10+01:00").is_empty());
    assert!(p.alerting.alerts.all().is_empty());
    // The scheduled check after the window raises it.
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let outcome = runtime.block_on(p.alerting.check_wearer("wearer-42", at("2026-11-22T10:00:00Z"))).unwrap();
    assert_eq!(outcome.alerts_raised.len(), 1);
    assert_eq!(outcome.alerts_raised[0].rule, RuleKind::Fall);
    assert_eq!(p.alerting.notifier.sent().len(), 3);
}

#[test]
fn a_silent_band_raises_no_data_once_and_a_late_upload_resolves_it() {
    let p = processor();
    let e = event(vec![record(1, envelope("wearer-42", vec![reading("2026-11-22T10:00:00+01:00", 1)]))]);
    assert!(failures(&p, &e, "2026-11-22T09:00:01Z").is_empty());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let quiet = runtime.block_on(p.alerting.check_wearer("wearer-42", at("2026-11-22T09:14:00Z"))).unwrap();
    assert!(quiet.alerts_raised.is_empty());
    let silent = runtime.block_on(p.alerting.check_wearer("wearer-42", at("2026-11-22T09:16:00Z"))).unwrap();
    assert_eq!(silent.alerts_raised.len(), 1);
    let id = silent.alerts_raised[0].id.to_string();
    let again = runtime.block_on(p.alerting.check_wearer("wearer-42", at("2026-11-22T09:20:00Z"))).unwrap();
    assert!(again.alerts_raised.is_empty());
    // The phone comes back and uploads its buffer.
    let late = event(vec![record(2, envelope("wearer-42", vec![reading("2026-11-22T10:21:00+01:00", 2)]))]);
    assert!(failures(&p, &late, "2026-11-22T09:21:00Z").is_empty());
    assert_eq!(p.alerting.alerts.resolved_at(&id), Some(at("2026-11-22T09:21:00Z")));
}

#[test]
fn a_late_upload_of_old_readings_neither_resolves_no_data_nor_raises_it_again() {
    let p = processor();
    let e = event(vec![record(1, envelope("wearer-42", vec![reading("2026-11-22T10:44:00+01:00", 1)]))]);
    assert!(failures(&p, &e, "2026-11-22T09:44:01Z").is_empty());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let silent = runtime.block_on(p.alerting.check_wearer("wearer-42", at("2026-11-22T10:01:00Z"))).unwrap();
    assert_eq!(silent.alerts_raised.len(), 1);
    let id = silent.alerts_raised[0].id.to_string();
    // The phone catches up on a minute of its buffer (readings up to 10:45, 16 min old).
    let old = event(vec![record(2, envelope("wearer-42", vec![reading("2026-11-22T10:45:00+01:00", 2)]))]);
    assert!(failures(&p, &old, "2026-11-22T10:01:30Z").is_empty());
    assert_eq!(p.alerting.alerts.resolved_at(&id), None, "not current again");
    for minute in ["10:02", "10:05", "10:20"] {
        let run = runtime.block_on(p.alerting.check_wearer("wearer-42", at(&format!("2026-11-22T{minute}:00Z"))));
        assert!(run.unwrap().alerts_raised.is_empty(), "no second alert for the same silence at {minute}");
    }
    // Current again: resolved, once.
    let back = event(vec![record(3, envelope("wearer-42", vec![reading("2026-11-22T11:21:00+01:00", 3)]))]);
    assert!(failures(&p, &back, "2026-11-22T10:21:05Z").is_empty());
    assert_eq!(p.alerting.alerts.resolved_at(&id), Some(at("2026-11-22T10:21:05Z")));
    assert_eq!(p.alerting.alerts.all().len(), 1, "one alert for one silence");
}

fn arb_record() -> impl Strategy<Value = (u8, Vec<u8>, bool)> {
    (0u8..3, proptest::collection::vec(any::<u8>(), 0..64), any::<bool>())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Arbitrary batches with arbitrary faults: never a panic; every reported
    /// identifier is a real sequence number of the batch; the lowest record that
    /// could not be processed is always reported, so Lambda's checkpoint never
    /// skips it.
    #[test]
    fn failures_are_real_and_include_the_lowest_failed_record(
        specs in proptest::collection::vec(arb_record(), 1..12),
        state_faults in 0usize..3,
        send_faults in 0usize..3,
        quarantine_faults in 0usize..2,
    ) {
        let p = processor();
        p.alerting.states.faults.fail_next(state_faults);
        p.alerting.notifier.transient.fail_next(send_faults);
        p.quarantine.faults.fail_next(quarantine_faults);
        let records: Vec<KinesisEventRecord> = specs
            .iter()
            .enumerate()
            .map(|(i, (kind, junk, is_sos))| {
                let seq = i as u64 + 1;
                let wearer = if i % 2 == 0 { "wearer-42" } else { "wearer-7" };
                let data = match kind {
                    0 => junk.clone(),
                    _ if *is_sos => envelope(wearer, vec![sos("2026-11-22T10:59:55+01:00", seq)]),
                    _ => envelope(wearer, vec![reading("2026-11-22T10:59:50+01:00", seq)]),
                };
                record(seq, data)
            })
            .collect();
        let e = event(records);
        let seqs: Vec<String> = e.records.iter().map(|r| r.kinesis.sequence_number.clone()).collect();
        let reported = failures(&p, &e, NOW);
        for id in &reported {
            prop_assert!(!id.is_empty() && seqs.contains(id));
        }
        // Redeliver from the lowest reported record until the batch succeeds
        // (faults are finite): every SOS wearer ends with exactly one alert and
        // exactly three messages, whatever failed on the way.
        let mut from = reported.iter().filter_map(|id| seqs.iter().position(|s| s == id)).min();
        let mut rounds = 0;
        while let Some(start) = from {
            rounds += 1;
            prop_assert!(rounds < 10);
            let retry = event(e.records[start..].to_vec());
            let again = failures(&p, &retry, NOW);
            from = again.iter().filter_map(|id| seqs.iter().position(|s| s == id)).min();
        }
        let sos_wearers: std::collections::BTreeSet<&str> = specs
            .iter()
            .enumerate()
            .filter(|(_, (kind, _, is_sos))| *kind != 0 && *is_sos)
            .map(|(i, _)| if i % 2 == 0 { "wearer-42" } else { "wearer-7" })
            .collect();
        prop_assert_eq!(p.alerting.alerts.all().len(), sos_wearers.len());
        prop_assert_eq!(p.alerting.notifier.sent().len(), 3 * sos_wearers.len());
    }
}

mod sample_events {
    use super::*;

    const READINGS: &[u8] = include_bytes!("../../../../events/kinesis-readings.json");
    const POISON: &[u8] = include_bytes!("../../../../events/kinesis-readings-poison.json");

    #[test]
    fn sample_events_round_trip_through_the_lambda_event_type() {
        for raw in [READINGS, POISON] {
            let parsed: KinesisEvent = serde_json::from_slice(raw).unwrap();
            let again: KinesisEvent = serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
            assert_eq!(parsed, again);
            assert_eq!(parsed.records.len(), 2);
        }
    }

    #[test]
    fn the_sample_sos_event_raises_one_alert_and_the_poison_one_is_quarantined() {
        let p = processor();
        let e: KinesisEvent = serde_json::from_slice(READINGS).unwrap();
        assert!(failures(&p, &e, "2026-11-22T10:00:02Z").is_empty());
        let alerts = p.alerting.alerts.all();
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].rule, RuleKind::Sos);

        let p = processor();
        let e: KinesisEvent = serde_json::from_slice(POISON).unwrap();
        assert!(failures(&p, &e, "2026-11-22T10:00:02Z").is_empty());
        let q = p.quarantine.records.lock().unwrap().clone();
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].sequence_number, e.records[0].kinesis.sequence_number);
        assert_eq!(q[0].shard_id, "shardId-000000000001");
    }
}

/// A batch that raises nothing records only routine metrics, so the process
/// pools its lines; the batch with an SOS writes at once, with what was pooled.
#[test]
fn quiet_batches_pool_their_metrics_and_an_alert_writes_at_once() {
    use std::time::{Duration, Instant};
    use vigil_lambda::metrics::Pool;
    let p = processor();
    let pool = Pool::new(alert_processor::handler::ROUTINE_METRICS);
    let t0 = Instant::now();
    for seq in 1..=3u64 {
        let ts = format!("2026-11-22T10:59:5{seq}+01:00");
        let e = event(vec![record(seq, envelope("wearer-42", vec![reading(&ts, seq)]))]);
        let m = metrics(&p, &e, NOW);
        assert!(pool.add(m, t0 + Duration::from_secs(seq), 0).is_empty(), "batch {seq} is routine");
    }
    let e = event(vec![record(4, envelope("wearer-42", vec![sos("2026-11-22T10:59:55+01:00", 4)]))]);
    let line = pool.add(metrics(&p, &e, NOW), t0 + Duration::from_secs(4), 0).concat();
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!((line["RecordsIn"].as_f64(), line["AlertsRaised"].as_f64()), (Some(4.0), Some(1.0)));
    assert_eq!(line["BatchMs"].as_array().map(Vec::len), Some(4));
    assert_eq!(line["AlertLatencyMs"].as_f64(), Some(7_000.0));

    // Log bytes per batch without an alert (docs/cost.md): 300 one-record batches
    // 10 ms apart, a line each against pooled.
    let (mut alone, mut pooled) = (0, 0);
    for n in 0..300u64 {
        let e = event(vec![record(10 + n, envelope("wearer-7", vec![reading("2026-11-22T10:59:50+01:00", 10 + n)]))]);
        let m = metrics(&p, &e, NOW);
        alone += m.to_emf(1_764_806_400_000).to_string().len() + 1;
        pooled += pool
            .add(m, t0 + Duration::from_millis(10 * n), 1_764_806_400_000)
            .iter()
            .map(|l| l.len() + 1)
            .sum::<usize>();
    }
    let (alone, pooled) = (alone as f64 / 300.0, pooled as f64 / 300.0);
    eprintln!("alert-processor EMF bytes per quiet batch: {alone:.1} a line each, {pooled:.1} pooled");
    assert!(pooled * 10.0 < alone, "{pooled:.1} pooled against {alone:.1}");
}
