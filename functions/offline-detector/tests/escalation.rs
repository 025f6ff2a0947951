//! Escalation on the scheduled path, with in-memory ports: the steps an alert
//! records when it is raised, sent by the minute's run when due, each once, and
//! never after someone acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

use chrono::{DateTime, Duration, NaiveTime, Utc};
use offline_detector::{Detector, Summary};
use vigil_alerting::{Alerting, DeviceReadings};
use vigil_domain::alerts::{Language, Thresholds};
use vigil_domain::care::{Caregiver, Channel, QuietHours, WearerProfile};
use vigil_domain::lifecycle::{Transition, Via};
use vigil_domain::link::{LinkKey, LinkMaker};
use vigil_domain::ports::AlertStore;
use vigil_domain::reading::Reading;
use vigil_testkit::*;

const T0: &str = "2026-11-22T03:00:00Z";

fn t(min: i64, sec: i64) -> DateTime<Utc> {
    T0.parse::<DateTime<Utc>>().unwrap() + Duration::minutes(min) + Duration::seconds(sec)
}

fn caregiver(id: &str, level: u8, phone: &str) -> Caregiver {
    Caregiver {
        id: id.into(),
        sub: None,
        name: Some(id.to_uppercase()),
        level,
        language: Language::Es,
        phone: Some(phone.into()),
        push_endpoint: None,
        // Quiet hours around the whole night: they never delay a critical alert or a call.
        quiet_hours: Some(QuietHours {
            start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            time_zone: "Europe/Madrid".into(),
        }),
        daily_at: None,
    }
}

fn detector(links: Option<LinkMaker>) -> Detector<Memory> {
    let profile = WearerProfile {
        wearer_id: "w1".into(),
        name: "Carmen".into(),
        time_zone: "Europe/Madrid".into(),
        // The band goes quiet after the press; no no_data alert within the hour under test.
        thresholds: Thresholds { no_data_min: 120, ..Thresholds::default() },
        caregivers: vec![
            caregiver("ana", 1, "+34600000001"),
            caregiver("ben", 1, "+34600000002"),
            caregiver("cruz", 2, "+34600000003"),
        ],
        snoozes: Default::default(),
        escalation: Default::default(),
    };
    Detector {
        alerting: Alerting {
            wearers: MemoryWearers::with([profile]),
            states: MemoryStates::default(),
            alerts: MemoryAlerts::default(),
            deliveries: MemoryDeliveries::default(),
            notifier: MemoryNotifier::default(),
            sink: vigil_alerting::NoSink,
            links,
        },
    }
}

/// An SOS press at T0, processed at once; returns the alert's id.
async fn sos(d: &Detector<Memory>) -> String {
    let mut r = Reading::at(t(0, 0).into(), 1);
    r.sos = Some(true);
    let batch = [DeviceReadings { device_id: "band", readings: std::slice::from_ref(&r) }];
    let outcome = d.alerting.process_wearer("w1", &batch, t(0, 0)).await.unwrap();
    assert_eq!(outcome.alerts_raised.len(), 1);
    assert_eq!(outcome.sent, 2, "the first notification: an SMS to each level-1 caregiver at once");
    outcome.alerts_raised[0].id.to_string()
}

/// (channel, address) of the messages sent from the `from`-th on.
fn sent_since(d: &Detector<Memory>, from: usize) -> Vec<(Channel, String)> {
    d.alerting.notifier.sent()[from..].iter().map(|m| (m.channel, m.address.clone())).collect()
}

async fn run(d: &Detector<Memory>, at: DateTime<Utc>) -> Summary {
    d.process(at).await.0.unwrap_or_else(|e| panic!("run at {at}: {e}"))
}

fn call(n: u8) -> (Channel, String) {
    (Channel::Voice, format!("+3460000000{n}"))
}

#[tokio::test]
async fn nobody_answers_calls_level_one_in_turn_texts_level_two_then_calls_everyone_to_the_last_level() {
    let d = detector(None);
    let alert = sos(&d).await;
    let mut seen = 2;
    let mut expect = |d: &Detector<Memory>, what: Vec<(Channel, String)>| {
        assert_eq!(sent_since(d, seen), what);
        seen += what.len();
    };
    for minute in 1..3 {
        run(&d, t(minute, 0)).await;
        expect(&d, vec![]);
    }
    // 3 min: the first level-1 caregiver is called, level 2 gets an SMS — in the night, in quiet hours.
    let s = run(&d, t(3, 0)).await;
    expect(&d, vec![call(1), (Channel::Sms, "+34600000003".into())]);
    assert_eq!((s.escalated, s.calls), (2, 1));
    // The same minute again (a retried run): nothing twice.
    run(&d, t(3, 30)).await;
    expect(&d, vec![]);
    // 4 min: the next level-1 caregiver, a minute later.
    run(&d, t(4, 0)).await;
    expect(&d, vec![call(2)]);
    // 10, 15, 20 min: everyone with a phone is called, three rounds; the last round is the last level.
    for (minute, last) in [(10, false), (15, false), (20, true)] {
        let s = run(&d, t(minute, 0)).await;
        expect(&d, vec![call(1), call(2), call(3)]);
        assert_eq!(s.last_level == vec![alert.clone()], last, "minute {minute}: {s:?}");
    }
    run(&d, t(60, 0)).await;
    expect(&d, vec![]);
    let calls = d.alerting.notifier.sent().iter().filter(|m| m.channel == Channel::Voice).count();
    assert_eq!(calls, 2 + 9);
    let voice = d.alerting.notifier.sent().into_iter().find(|m| m.channel == Channel::Voice).unwrap();
    assert!(voice.message.voice.contains("Carmen"), "a call says who: {}", voice.message.voice);
    assert_eq!(voice.message.language, Language::Es);
}

#[tokio::test]
async fn an_acknowledgement_stops_every_later_step() {
    let d = detector(None);
    let alert = sos(&d).await;
    run(&d, t(3, 0)).await;
    assert_eq!(sent_since(&d, 2).len(), 2);
    // Ana answers between the first call and the second.
    d.alerting.alerts.transition(&alert, &Transition::acknowledge("ana", t(3, 20), Via::Sms), None).await.unwrap();
    let s = run(&d, t(4, 0)).await;
    assert_eq!((s.escalated, s.escalations_cancelled), (0, 1), "Ben's call is cancelled");
    let mut cancelled = 1;
    for minute in [10, 15, 20, 30] {
        let s = run(&d, t(minute, 0)).await;
        assert!(s.last_level.is_empty());
        cancelled += s.escalations_cancelled;
    }
    assert_eq!(sent_since(&d, 2).len(), 2, "no step after the acknowledgement");
    assert_eq!(cancelled, 1 + 9, "every later step cancelled, once");
}

#[tokio::test]
async fn a_failing_call_is_retried_and_holds_back_nobody_and_an_unreachable_number_is_skipped() {
    let d = detector(None);
    sos(&d).await;
    // Ana's phone can never be called; the first call attempt of the run fails transiently.
    d.alerting.notifier.refused.lock().unwrap().push("+34600000001".into());
    d.alerting.notifier.transient.fail_next(1);
    let err = d.process(t(3, 0)).await.0.unwrap_err();
    assert!(matches!(err, offline_detector::RunError::Partial { failed: 1, .. }), "{err:?}");
    assert_eq!(sent_since(&d, 2), vec![(Channel::Sms, "+34600000003".into())], "level 2 is told anyway");
    // Next minute: the failed call is retried, refused for good (counted), Ben is called on time.
    let s = run(&d, t(4, 0)).await;
    assert_eq!((s.refused, s.calls, s.failed), (1, 1, 0), "{s:?}");
    assert_eq!(sent_since(&d, 3), vec![call(2)]);
    let s = run(&d, t(5, 0)).await;
    assert_eq!((s.refused, s.calls), (0, 0), "a refused step is never tried again");
}

#[tokio::test]
async fn each_sms_carries_its_caregivers_signed_link_and_a_call_none() {
    let key = LinkKey::new(&[9; 32]).unwrap();
    let d = detector(Some(LinkMaker::new(key.clone(), "https://vgl.example.org/")));
    let alert = sos(&d).await;
    let first = d.alerting.notifier.sent();
    assert_eq!(first.len(), 2, "level 2 (Cruz) is not told at first");
    for (index, message) in first.iter().enumerate() {
        let (_, token) = message.message.sms.rsplit_once("https://vgl.example.org/a/").expect("a link");
        let claim = key.verify(token, t(1, 0)).unwrap();
        assert_eq!((claim.alert_id(), usize::from(claim.caregiver())), (alert.clone(), index));
        assert_eq!(claim.expires_at(), t(24 * 60, 0), "valid for a day from the first notification");
    }
    run(&d, t(3, 0)).await;
    let sent = d.alerting.notifier.sent();
    let call = sent.iter().find(|m| m.channel == Channel::Voice).unwrap();
    assert!(!call.message.voice.contains("http"), "{}", call.message.voice);
    let level_two = sent.iter().rfind(|m| m.channel == Channel::Sms).unwrap();
    let (_, token) = level_two.message.sms.rsplit_once("/a/").unwrap();
    assert_eq!(key.verify(token, t(3, 0)).unwrap().caregiver(), 2, "Cruz's own link");
}
