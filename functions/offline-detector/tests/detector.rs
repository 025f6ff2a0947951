//! The scheduled detector with in-memory ports.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

use chrono::{DateTime, Utc};
use offline_detector::{Detector, RunError};
use vigil_alerting::{AlertSink, Alerting, DeviceReadings, NoSink};
use vigil_domain::alerts::{Language, RuleKind};
use vigil_domain::care::{Caregiver, WearerProfile};
use vigil_domain::reading::Reading;
use vigil_testkit::*;

type Det<S = NoSink> = Detector<Memory<S>>;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn profile(id: &str, phone: &str) -> WearerProfile {
    WearerProfile {
        snoozes: Default::default(),
        escalation: Default::default(),
        wearer_id: id.into(),
        name: "João Silva".into(),
        time_zone: "America/Sao_Paulo".into(),
        thresholds: Default::default(),
        caregivers: vec![Caregiver {
            sub: None,
            name: None,
            id: format!("cg-{id}"),
            level: 1,
            language: Language::PtBr,
            phone: Some(phone.into()),
            push_endpoint: None,
            quiet_hours: None,
            daily_at: None,
        }],
    }
}

fn detector() -> Det {
    detector_with(NoSink)
}

/// The detector on in-memory ports, handing its alerts to `sink`.
fn detector_with<S: AlertSink + Sync>(sink: S) -> Det<S> {
    Detector {
        alerting: Alerting {
            wearers: MemoryWearers::with([profile("w-silent", "+5511900000001"), profile("w-fresh", "+5511900000002")]),
            states: MemoryStates::default(),
            alerts: MemoryAlerts::default(),
            deliveries: MemoryDeliveries::default(),
            notifier: MemoryNotifier::default(),
            sink,
            links: None,
        },
    }
}

fn seen<S: AlertSink + Sync>(d: &Det<S>, wearer: &str, ts: &str, fall: bool) {
    let mut r = Reading::at(DateTime::parse_from_rfc3339(ts).unwrap(), 1);
    r.heart_rate_bpm = Some(70);
    r.fall_detected = fall.then_some(true);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let batch = [DeviceReadings { device_id: "band", readings: std::slice::from_ref(&r) }];
    runtime.block_on(d.alerting.process_wearer(wearer, &batch, at(ts))).unwrap();
}

fn run(d: &Det, now: &str) -> Result<offline_detector::Summary, RunError> {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(d.handle(at(now)))
}

#[test]
fn a_band_silent_past_its_threshold_raises_no_data_once_and_a_fresh_one_does_not() {
    let d = detector();
    seen(&d, "w-silent", "2026-11-22T12:00:00Z", false);
    seen(&d, "w-fresh", "2026-11-22T12:14:00Z", false);
    let s = run(&d, "2026-11-22T12:16:00Z").unwrap();
    assert_eq!((s.checked, s.alerts_raised, s.messages_sent), (1, 1, 1));
    let alerts = d.alerting.alerts.all();
    assert_eq!((alerts[0].rule, alerts[0].wearer_id.as_str()), (RuleKind::NoData, "w-silent"));
    let sent = d.alerting.notifier.sent();
    assert_eq!(sent[0].address, "+5511900000001");
    assert!(sent[0].message.sms.contains("João Silva"), "{}", sent[0].message.sms);
    // Next minute: still silent, nothing new.
    let s = run(&d, "2026-11-22T12:17:00Z").unwrap();
    assert_eq!((s.alerts_raised, s.messages_sent), (0, 0));
}

#[test]
fn a_fall_with_no_cancel_and_no_later_reading_is_raised_by_the_schedule() {
    let d = detector();
    seen(&d, "w-fresh", "2026-11-22T12:00:00Z", true);
    assert!(d.alerting.alerts.all().is_empty(), "inside the cancel window");
    let s = run(&d, "2026-11-22T12:00:40Z").unwrap();
    assert_eq!(s.alerts_raised, 1);
    assert_eq!(d.alerting.alerts.all()[0].rule, RuleKind::Fall);
}

#[test]
fn one_failing_wearer_does_not_stop_the_others_and_the_run_reports_it() {
    let d = detector();
    seen(&d, "w-silent", "2026-11-22T12:00:00Z", false);
    seen(&d, "w-fresh", "2026-11-22T12:00:00Z", false);
    d.alerting.states.faults.fail_next(1);
    let err = run(&d, "2026-11-22T12:16:00Z").unwrap_err();
    assert!(matches!(err, RunError::Partial { failed: 1, checked: 2 }), "{err:?}");
    assert_eq!(d.alerting.alerts.all().len(), 1);
    // The next run catches up with the one that failed.
    let s = run(&d, "2026-11-22T12:17:00Z").unwrap();
    assert_eq!(s.alerts_raised, 1);
    assert_eq!(d.alerting.alerts.all().len(), 2);
}

#[test]
fn the_sample_scheduled_event_is_a_valid_eventbridge_event() {
    // The detector ignores the event's content; the sample must still be what
    // EventBridge sends, for `cargo lambda invoke --data-file`.
    let raw = include_bytes!("../../../events/scheduled-offline-detector.json");
    let event: serde_json::Value = serde_json::from_slice(raw).unwrap();
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["source"], "aws.events");
    assert!(DateTime::parse_from_rfc3339(event["time"].as_str().unwrap()).is_ok());
}

#[test]
fn the_schedules_alerts_are_curated_for_the_warehouse_like_the_streams() {
    use vigil_alerting::curated::CuratedAlerts;
    use vigil_testkit::sinks_raw::{MemoryCuratedFiles, MemoryObjectStore};
    let d = detector_with(CuratedAlerts {
        objects: MemoryObjectStore::default(),
        registry: MemoryCuratedFiles::default(),
        pseudonymizer: vigil_curated::Pseudonymizer::new(&[7; 32]).unwrap(),
    });
    let sink = &d.alerting.sink;
    seen(&d, "w-silent", "2026-11-22T12:00:00Z", false);
    seen(&d, "w-fresh", "2026-11-22T12:15:30Z", true);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let s = runtime.block_on(d.handle(at("2026-11-22T12:16:30Z"))).unwrap();
    assert_eq!(s.alerts_raised, 2, "no_data for the silent band, the fall for the other");
    let files = sink.objects.keys("curated/alerts/");
    assert_eq!(files.len(), 2, "one file per wearer's evaluation: {files:?}");
    let registered = sink.registry.all();
    assert_eq!(registered.len(), 2);
    // Nothing new on the next run: nothing new written.
    runtime.block_on(d.handle(at("2026-11-22T12:17:30Z"))).unwrap();
    assert_eq!(sink.objects.keys("curated/alerts/").len(), 2);
}
