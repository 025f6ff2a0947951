//! Curated alerts from the alert-processor (in-memory ports): written after
//! delivery, a failed write reports the first record without re-sending, and
//! a redelivery rewrites the same object; each lifecycle step (the rules' own
//! resolution, a caregiver's acknowledgement and resolution) is a file of its own.

use crate::common::{reading, sms_only, sos};
use alert_processor::Processor;
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use vigil_alerting::Alerting;
use vigil_alerting::curated::CuratedAlerts;
use vigil_curated::Pseudonymizer;
use vigil_domain::lifecycle::{AlertRecord, Outcome, Transition, Via};
use vigil_domain::ports::LifecycleSink;
use vigil_domain::reading::Reading;
use vigil_testkit::kinesis::{self, at};
use vigil_testkit::sinks_raw::{MemoryCuratedFiles, MemoryObjectStore};
use vigil_testkit::*;

fn record(seq: u64, wearer: &str, readings: Vec<Reading>) -> KinesisEventRecord {
    kinesis::record(seq, kinesis::envelope(wearer, readings))
}

type MemorySink = CuratedAlerts<MemoryObjectStore, MemoryCuratedFiles>;
type MemoryProcessor = Processor<Memory<MemorySink>, MemoryQuarantine>;

/// The processor on in-memory ports, with a profile for each wearer and the
/// curated-alerts sink on in-memory stores; and the sink's pseudonymizer.
fn processor(wearers: &[&str]) -> (MemoryProcessor, Pseudonymizer) {
    let pseudonymizer = Pseudonymizer::new(b"0123456789abcdef0123456789abcdef").unwrap();
    let processor = Processor {
        alerting: Alerting {
            wearers: MemoryWearers::with(wearers.iter().map(|w| sms_only(w))),
            states: MemoryStates::default(),
            alerts: MemoryAlerts::default(),
            deliveries: MemoryDeliveries::default(),
            notifier: MemoryNotifier::default(),
            sink: CuratedAlerts {
                objects: MemoryObjectStore::default(),
                registry: MemoryCuratedFiles::default(),
                pseudonymizer: pseudonymizer.clone(),
            },
            links: None,
        },
        quarantine: MemoryQuarantine::default(),
    };
    (processor, pseudonymizer)
}

#[tokio::test]
async fn alerts_are_curated_after_delivery_and_a_failed_write_is_retried_without_resending() {
    let (processor, pseudonymizer) = processor(&["wearer-42", "wearer-7"]);
    let sink = &processor.alerting.sink;
    *sink.objects.failing_prefix.lock().unwrap() = Some("curated/alerts/".into());
    let mut event = KinesisEvent::default();
    event.records = vec![
        record(1, "wearer-7", vec![reading("2026-11-22T10:59:50+01:00", 1)]),
        record(2, "wearer-42", vec![sos("2026-11-22T10:59:55+01:00", 1)]),
    ];
    let now = at("2026-11-22T10:00:02Z");

    // The write fails: the SOS was delivered, the wearer's first record is reported.
    let (response, _) = processor.process(&event, now).await;
    let failed: Vec<String> = response.batch_item_failures.into_iter().map(|f| f.item_identifier.unwrap()).collect();
    assert_eq!(failed, vec![format!("{:056}", 2)]);
    assert_eq!(processor.alerting.notifier.sent().len(), 1);
    assert!(sink.objects.keys("curated/alerts/").is_empty());

    // Redelivery: the same alert is evaluated again and curated; nobody is told twice.
    *sink.objects.failing_prefix.lock().unwrap() = None;
    let (response, _) = processor.process(&event, now).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(processor.alerting.notifier.sent().len(), 1, "no second SMS");
    let keys = sink.objects.keys("curated/alerts/");
    assert_eq!(keys.len(), 1);
    assert!(keys[0].starts_with(&format!("curated/alerts/dt=2026-11-22/{}-", pseudonymizer.wearer("wearer-42"))));
    let registered = sink.registry.all();
    assert_eq!((registered.len(), registered[0].file.rows, registered[0].status.as_str()), (1, 1, "pending"));
    let body = sink.objects.get(&keys[0]).unwrap().body;

    // A third delivery raises nothing new (the state is saved): nothing rewritten.
    let puts = *sink.objects.puts.lock().unwrap();
    let (response, _) = processor.process(&event, now).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(*sink.objects.puts.lock().unwrap(), puts);
    assert_eq!(sink.objects.get(&keys[0]).unwrap().body, body);
}

#[tokio::test]
async fn a_silent_band_back_again_is_curated_as_resolved_by_the_rules_in_a_file_of_its_own() {
    let (processor, pseudonymizer) = processor(&["wearer-42"]);
    let sink = &processor.alerting.sink;
    let mut event = KinesisEvent::default();
    event.records = vec![record(1, "wearer-42", vec![reading("2026-11-22T10:00:00+01:00", 1)])];
    let (response, _) = processor.process(&event, at("2026-11-22T09:00:01Z")).await;
    assert!(response.batch_item_failures.is_empty());
    // The detector finds the band silent: a no_data alert, curated open.
    let silent = processor.alerting.check_wearer("wearer-42", at("2026-11-22T09:16:00Z")).await.unwrap();
    assert_eq!(silent.alerts_raised.len(), 1);
    let alert = silent.alerts_raised[0].clone();
    let raised = vigil_curated::alert_files(&pseudonymizer, &[AlertRecord::open(alert.clone(), false)]).unwrap();
    assert_eq!(sink.objects.keys("curated/alerts/"), vec![raised[0].key.clone()]);

    // The phone uploads its buffer: the alert is resolved by the rules, and
    // curated again as it then stands: resolved, when, outcome `cleared`.
    event.records = vec![record(2, "wearer-42", vec![reading("2026-11-22T10:21:00+01:00", 2)])];
    let (response, _) = processor.process(&event, at("2026-11-22T09:21:00Z")).await;
    assert!(response.batch_item_failures.is_empty());
    let stored = processor.alerting.alerts.record(alert.id.as_str()).unwrap();
    let resolved = vigil_curated::alert_files(&pseudonymizer, std::slice::from_ref(&stored)).unwrap();
    let mut expected = vec![raised[0].key.clone(), resolved[0].key.clone()];
    expected.sort();
    let mut keys = sink.objects.keys("curated/alerts/");
    keys.sort();
    assert_eq!(keys, expected);
    assert_eq!(sink.objects.get(&resolved[0].key).unwrap().body, resolved[0].body);
    let row = &resolved[0].rows[0];
    assert_eq!(
        (row.resolved, row.acknowledged_at, row.resolved_at, row.outcome),
        (true, None, Some(at("2026-11-22T09:21:00Z")), Some("cleared"))
    );
    assert_eq!(sink.registry.all().len(), 2, "both files registered for the loader");
}

#[tokio::test]
async fn each_caregiver_step_is_curated_once_as_a_file_of_its_own() {
    let (processor, pseudonymizer) = processor(&["wearer-42"]);
    let sink = &processor.alerting.sink;
    let mut event = KinesisEvent::default();
    event.records = vec![record(1, "wearer-42", vec![sos("2026-11-22T10:59:55+01:00", 1)])];
    let (response, _) = processor.process(&event, at("2026-11-22T10:00:02Z")).await;
    assert!(response.batch_item_failures.is_empty());
    let raised = sink.objects.keys("curated/alerts/");
    assert_eq!(raised.len(), 1);
    let alert = processor.alerting.alerts.all().remove(0);

    // What care-api does after each acknowledge or resolve (won or lost).
    let mut record = processor.alerting.alerts.record(alert.id.as_str()).unwrap();
    record.apply(Transition::acknowledge("cg-daughter", at("2026-11-22T10:02:00Z"), Via::Sms), None);
    LifecycleSink::record(sink, &record).await.unwrap();
    // A second caregiver's acknowledgement lost: the same state, handed on again.
    LifecycleSink::record(sink, &record).await.unwrap();
    record.apply(
        Transition::resolve("cg-daughter", at("2026-11-22T10:30:00Z"), Via::Api, Outcome::Helped),
        Some("she had fallen in the kitchen".into()),
    );
    LifecycleSink::record(sink, &record).await.unwrap();

    let keys = sink.objects.keys("curated/alerts/");
    assert_eq!(keys.len(), 3, "raised, acknowledged, resolved: {keys:?}");
    let registered = sink.registry.all();
    assert_eq!(registered.len(), 3);
    assert!(registered.iter().all(|r| r.status.as_str() == "pending"));
    let expected = vigil_curated::alert_files(&pseudonymizer, std::slice::from_ref(&record)).unwrap();
    let stored = sink.objects.get(&expected[0].key).unwrap();
    assert_eq!(stored.body, expected[0].body);
    let row = &expected[0].rows[0];
    assert_eq!(
        (row.resolved, row.acknowledged_at, row.resolved_at, row.outcome),
        (true, Some(at("2026-11-22T10:02:00Z")), Some(at("2026-11-22T10:30:00Z")), Some("helped"))
    );
    for secret in ["cg-daughter", "kitchen", "wearer-42"] {
        for key in &keys {
            let body = sink.objects.get(key).unwrap().body;
            assert!(!String::from_utf8_lossy(&body).contains(secret), "{secret} leaked into {key}");
            assert!(!key.contains(secret));
        }
    }
}
