//! Integration: readings on a real stream (moto's server or LocalStack at
//! AWS_ENDPOINT_URL, default http://127.0.0.1:4566) → the local event source
//! mapping → alert-processor with the real DynamoDB, SNS and S3 adapters.
//! Start the endpoint with `bash localstack/endpoint.sh start`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use vigil_alerting::aws::AlertPathConfig;
use vigil_aws::kinesis::KinesisPublisher;
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_domain::Envelope;
use vigil_domain::alerts::{AlertId, Language, RuleKind};
use vigil_domain::care::{Caregiver, WearerProfile};
use vigil_domain::lifecycle::{AlertStatus, Outcome, Via};
use vigil_domain::ports::{RecordPublisher, StreamRecord};
use vigil_domain::reading::{Location, Reading};
use vigil_domain::retention::{self, Retention};
use vigil_local::esm::{EventSourceMapping, FailedBatch, Lambda};
use vigil_local::provision::{Resources, provision};

struct Setup {
    sdk: aws_config::SdkConfig,
    resources: Resources,
    config: AlertPathConfig,
    phones: [String; 3],
}

async fn setup() -> Setup {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources::unique("alerts");
    provision(&sdk, &resources).await.unwrap();
    let config = AlertPathConfig {
        wearers_table: resources.wearers_table.clone(),
        caregivers_table: resources.caregivers_table.clone(),
        state_table: resources.state_table.clone(),
        alerts_table: resources.alerts_table.clone(),
        deliveries_table: resources.deliveries_table.clone(),
        quarantine_bucket: resources.quarantine_bucket.clone(),
        delivery_lease: Duration::from_secs(60),
        wearer_cache_ttl: vigil_alerting::aws::DEFAULT_WEARER_CACHE_TTL,
        alerts_retention: Retention::days(retention::DEFAULT_ALERTS_DAYS),
        deliveries_retention: Retention::days(retention::DEFAULT_DELIVERIES_DAYS),
        state_retention: Retention::days(retention::DEFAULT_STATE_DAYS),
    };
    // Numbers unique to this test: moto records every SMS in one list.
    let phones = [0, 1, 2].map(|i| format!("+{}{:07}", ["3460", "4477", "4478"][i], fastrand::u32(..10_000_000)));
    let profile = WearerProfile {
        snoozes: Default::default(),
        escalation: Default::default(),
        wearer_id: "wearer-42".into(),
        name: "Carmen Ruiz".into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers: vec![
            Caregiver {
                sub: None,
                name: None,
                id: "cg-1".into(),
                level: 1,
                language: Language::Es,
                phone: Some(phones[0].clone()),
                push_endpoint: None,
                quiet_hours: None,
                daily_at: None,
            },
            Caregiver {
                sub: None,
                name: None,
                id: "cg-2".into(),
                level: 1,
                language: Language::En,
                phone: Some(phones[1].clone()),
                push_endpoint: None,
                quiet_hours: None,
                daily_at: None,
            },
            // Told only when nobody acknowledges (an escalation step at 3 minutes).
            Caregiver {
                sub: None,
                name: None,
                id: "cg-3".into(),
                level: 2,
                language: Language::En,
                phone: Some(phones[2].clone()),
                push_endpoint: None,
                quiet_hours: None,
                daily_at: None,
            },
        ],
    };
    DynamoWearerDirectory::new(aws_sdk_dynamodb::Client::new(&sdk), &config.wearers_table, &config.caregivers_table)
        .put(&profile)
        .await
        .unwrap();
    Setup { sdk, resources, config, phones }
}

fn envelope(readings: Vec<Reading>) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        v: 1,
        batch_id: "b-1".into(),
        part: 0,
        parts: 1,
        device_id: "band-0001".into(),
        wearer_id: "wearer-42".into(),
        app_version: "1.4.2".into(),
        received_at: Utc::now(),
        readings,
    })
    .unwrap()
}

fn reading(ts: DateTime<Utc>, seq: u64) -> Reading {
    let mut r = Reading::at(ts.fixed_offset(), seq);
    r.heart_rate_bpm = Some(78);
    r.worn = Some(true);
    r.steps = Some(2);
    r
}

async fn put(s: &Setup, records: Vec<Vec<u8>>) {
    let publisher = KinesisPublisher::new(aws_sdk_kinesis::Client::new(&s.sdk), &s.resources.stream);
    let records = records.into_iter().map(|data| StreamRecord { partition_key: "wearer-42".into(), data }).collect();
    publisher.publish(records, Duration::from_secs(10)).await.unwrap();
}

/// Drives the whole stream through alert-processor once, from the oldest record.
async fn deliver_stream(s: &Setup) -> Vec<FailedBatch> {
    let c = &s.config;
    let env = [
        ("WEARERS_TABLE", c.wearers_table.as_str()),
        ("CAREGIVERS_TABLE", c.caregivers_table.as_str()),
        ("STATE_TABLE", c.state_table.as_str()),
        ("ALERTS_TABLE", c.alerts_table.as_str()),
        ("DELIVERIES_TABLE", c.deliveries_table.as_str()),
        ("QUARANTINE_BUCKET", c.quarantine_bucket.as_str()),
    ];
    let processor = alert_processor::build(&env, &s.sdk).await.unwrap();
    let esm = EventSourceMapping::for_tests(&s.resources.stream, 50);
    let mut mapping = esm.start(&s.sdk, Lambda(&processor), Vec::<FailedBatch>::new()).await.unwrap();
    mapping.run_until_idle(Duration::from_secs(60)).await.unwrap();
    mapping.destination().clone()
}

async fn sms_to(phone: &str) -> Vec<String> {
    let url = vigil_local::endpoint::url();
    let all = tokio::task::spawn_blocking(move || vigil_local::moto::recorded_sms(&url)).await.unwrap().unwrap();
    all.into_iter().filter(|m| m.phone_number == phone).map(|m| m.message).collect()
}

#[tokio::test]
async fn an_sos_on_the_stream_reaches_each_caregiver_once_even_when_delivered_twice() {
    let s = setup().await;
    let now = Utc::now();
    let mut press = reading(now - chrono::Duration::seconds(5), 11);
    press.sos = Some(true);
    press.location = Some(Location { lat: 40.4168, lon: -3.7038, accuracy_m: Some(8.0) });
    put(
        &s,
        vec![
            envelope(vec![
                reading(now - chrono::Duration::seconds(15), 9),
                reading(now - chrono::Duration::seconds(10), 10),
            ]),
            b"\xde\xad not an envelope".to_vec(),
            envelope(vec![press.clone()]),
        ],
    )
    .await;

    let failed = deliver_stream(&s).await;
    assert!(failed.is_empty(), "nothing went to the failure destination: {failed:?}");

    // The alert is in the alerts table under its deterministic id.
    let alerts =
        vigil_aws::alerts::DynamoAlertStore::new(aws_sdk_dynamodb::Client::new(&s.sdk), &s.config.alerts_table);
    let window = chrono::Duration::minutes(5).num_seconds();
    let ts = press.ts.timestamp();
    let start = DateTime::from_timestamp(ts - ts.rem_euclid(window), 0).unwrap();
    let stored =
        alerts.get(AlertId::new("wearer-42", RuleKind::Sos, start).as_str()).await.unwrap().expect("alert stored");
    assert_eq!(stored.alert.rule, RuleKind::Sos);

    // One SMS per caregiver, in their language, naming the wearer.
    let spanish = sms_to(&s.phones[0]).await;
    let english = sms_to(&s.phones[1]).await;
    assert_eq!((spanish.len(), english.len()), (1, 1), "{spanish:?} {english:?}");
    assert!(spanish[0].contains("Carmen Ruiz") && spanish[0].contains("SOS"), "{}", spanish[0]);
    assert!(english[0].contains("Carmen Ruiz"), "{}", english[0]);
    assert_ne!(spanish[0], english[0]);

    // The poison record is quarantined at its position.
    let s3 = vigil_aws::sdk::s3(&s.sdk);
    let listed = s3
        .list_objects_v2()
        .bucket(&s.config.quarantine_bucket)
        .prefix("quarantine/alert-processor/")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1);

    // Lambda redelivers the whole stream (e.g. after a timeout): nothing new is sent.
    let failed = deliver_stream(&s).await;
    assert!(failed.is_empty());
    assert_eq!(sms_to(&s.phones[0]).await.len(), 1);
    assert_eq!(sms_to(&s.phones[1]).await.len(), 1);
}

#[tokio::test]
async fn a_fall_raised_while_the_band_was_quiet_and_cancelled_late_is_resolved_with_one_notice_per_caregiver() {
    let s = setup().await;
    let now = Utc::now();
    // The fall is 60 s old when it is processed, with nothing after it: the band went
    // quiet inside its 30 s cancel window, so it is raised at once.
    let fall_at = now - chrono::Duration::seconds(60);
    let mut fall = reading(fall_at, 21);
    fall.fall_detected = Some(true);
    put(&s, vec![envelope(vec![fall.clone()])]).await;
    assert!(deliver_stream(&s).await.is_empty());
    let alerts =
        vigil_aws::alerts::DynamoAlertStore::new(aws_sdk_dynamodb::Client::new(&s.sdk), &s.config.alerts_table);
    let window = chrono::Duration::minutes(5).num_seconds();
    let ts = fall_at.timestamp();
    let id =
        AlertId::new("wearer-42", RuleKind::Fall, DateTime::from_timestamp(ts - ts.rem_euclid(window), 0).unwrap());
    let raised = alerts.get(id.as_str()).await.unwrap().expect("the fall is raised");
    assert_eq!(raised.status, AlertStatus::Open);
    assert_eq!((sms_to(&s.phones[0]).await.len(), sms_to(&s.phones[1]).await.len()), (1, 1));

    // Its cancel, 18 s after the fall (inside the window), arrives late.
    let mut cancel = reading(fall_at + chrono::Duration::seconds(18), 22);
    cancel.fall_cancelled = Some(true);
    put(&s, vec![envelope(vec![cancel])]).await;
    assert!(deliver_stream(&s).await.is_empty());
    let resolved = alerts.get(id.as_str()).await.unwrap().unwrap();
    assert_eq!(resolved.status, AlertStatus::Resolved);
    let step = resolved.resolved.expect("a resolution");
    assert_eq!((step.by.as_str(), step.via, step.outcome), ("vigil", Via::Rule, Some(Outcome::Cleared)));

    // Each caregiver: the alert, then one short notice in their language, without a link.
    let spanish = sms_to(&s.phones[0]).await;
    let english = sms_to(&s.phones[1]).await;
    assert_eq!((spanish.len(), english.len()), (2, 2), "{spanish:?} {english:?}");
    let cancelled = (fall_at + chrono::Duration::seconds(18)).with_timezone(&chrono_tz::Europe::Madrid);
    let local = cancelled.format("%H:%M");
    // "a la 01:58", "a las 14:05": the article agrees with the hour (the test runs at any time).
    let article = if chrono::Timelike::hour(&cancelled) == 1 { "la" } else { "las" };
    assert_eq!(
        spanish[1],
        format!(
            "Vigil: la alerta de caída de Carmen Ruiz se canceló en la pulsera a {article} {local}. No hace falta hacer nada."
        )
    );
    assert_eq!(
        english[1],
        format!("Vigil: Carmen Ruiz's fall alert was cancelled on the band at {local}. No action needed.")
    );

    // The whole stream again (a redelivery): nobody is told twice.
    assert!(deliver_stream(&s).await.is_empty());
    assert_eq!((sms_to(&s.phones[0]).await.len(), sms_to(&s.phones[1]).await.len()), (2, 2));

    // The escalation steps (calls from 3 minutes on) are cancelled when they come due.
    let due = scheduled(&s).await.alerting.send_due(Utc::now() + chrono::Duration::hours(1)).await.unwrap();
    assert!(due.cancelled > 0, "{due:?}");
    assert_eq!((due.sent, due.calls, due.escalated), (0, 0, 0), "{due:?}");
    assert_eq!((sms_to(&s.phones[0]).await.len(), sms_to(&s.phones[1]).await.len()), (2, 2));
    // The level-2 contact never heard of the fall: no notice either.
    assert!(sms_to(&s.phones[2]).await.is_empty());
}

#[tokio::test]
async fn a_fall_cancelled_late_after_escalation_reached_level_two_tells_level_two_too() {
    let s = setup().await;
    // Five minutes old: its cancel is processed after the 3-minute step was due.
    let fall_at = Utc::now() - chrono::Duration::minutes(5);
    let mut fall = reading(fall_at, 31);
    fall.fall_detected = Some(true);
    put(&s, vec![envelope(vec![fall])]).await;
    assert!(deliver_stream(&s).await.is_empty());
    // Nobody acknowledges: at 3 minutes the level-2 contact gets the escalation SMS.
    let due = scheduled(&s).await.alerting.send_due(Utc::now() + chrono::Duration::minutes(4)).await.unwrap();
    assert!(due.escalated > 0, "{due:?}");
    assert_eq!(sms_to(&s.phones[2]).await.len(), 1);

    let mut cancel = reading(fall_at + chrono::Duration::seconds(18), 32);
    cancel.fall_cancelled = Some(true);
    put(&s, vec![envelope(vec![cancel])]).await;
    assert!(deliver_stream(&s).await.is_empty());
    let level2 = sms_to(&s.phones[2]).await;
    assert_eq!(level2.len(), 2, "{level2:?}");
    assert!(level2[1].contains("was cancelled on the band"), "{}", level2[1]);
    // Redelivered: told once.
    assert!(deliver_stream(&s).await.is_empty());
    assert_eq!(sms_to(&s.phones[2]).await.len(), 2);
}

/// alert-processor as its schedule runs it (the due messages and escalation steps).
async fn scheduled(s: &Setup) -> alert_processor::AwsProcessor {
    let c = &s.config;
    let env = [
        ("WEARERS_TABLE", c.wearers_table.as_str()),
        ("CAREGIVERS_TABLE", c.caregivers_table.as_str()),
        ("STATE_TABLE", c.state_table.as_str()),
        ("ALERTS_TABLE", c.alerts_table.as_str()),
        ("DELIVERIES_TABLE", c.deliveries_table.as_str()),
        ("QUARANTINE_BUCKET", c.quarantine_bucket.as_str()),
    ];
    alert_processor::build(&env, &s.sdk).await.unwrap()
}

#[tokio::test]
async fn a_caregiver_of_two_wearers_who_changes_number_once_is_texted_there_for_both() {
    let s = setup().await;
    let directory = DynamoWearerDirectory::new(
        aws_sdk_dynamodb::Client::new(&s.sdk),
        &s.config.wearers_table,
        &s.config.caregivers_table,
    );
    // A second wearer linking the same caregiver record (cg-1) as wearer-42.
    let first = directory.caregivers().caregiver("cg-1").await.unwrap().unwrap();
    let second = WearerProfile {
        snoozes: Default::default(),
        escalation: Default::default(),
        wearer_id: "wearer-43".into(),
        name: "Pedro Gil".into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers: vec![first.clone()],
    };
    directory.put_links(&second).await.unwrap();
    // One write of the new number.
    let new_phone = format!("+3461{:07}", fastrand::u32(..10_000_000));
    directory.caregivers().put(&Caregiver { phone: Some(new_phone.clone()), ..first }).await.unwrap();

    let now = Utc::now();
    let mut press = reading(now - chrono::Duration::seconds(5), 11);
    press.sos = Some(true);
    let for_wearer = |wearer: &str| {
        let mut e: Envelope = serde_json::from_slice(&envelope(vec![press.clone()])).unwrap();
        e.wearer_id = wearer.into();
        serde_json::to_vec(&e).unwrap()
    };
    put(&s, vec![for_wearer("wearer-42"), for_wearer("wearer-43")]).await;
    assert!(deliver_stream(&s).await.is_empty());

    let texts = sms_to(&new_phone).await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("Carmen Ruiz")) && texts.iter().any(|t| t.contains("Pedro Gil")),
        "{texts:?}"
    );
    assert!(sms_to(&s.phones[0]).await.is_empty(), "nothing to the old number");
}

/// The stored item's `check_at` (the detector's index key), as DynamoDB holds it.
async fn check_at(s: &Setup) -> Option<String> {
    let item = aws_sdk_dynamodb::Client::new(&s.sdk)
        .get_item()
        .table_name(&s.config.state_table)
        .key("wearer_id", aws_sdk_dynamodb::types::AttributeValue::S("wearer-42".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    item.get("check_at").map(|v| v.as_s().unwrap().clone())
}

/// Uploads on time leave the index entry where it is (moving it is two index
/// writes); one that finds it less than half the no-data threshold ahead moves it
/// to the exact time, never later.
#[tokio::test]
async fn a_reading_on_time_leaves_the_detectors_index_entry_and_a_late_one_moves_it() {
    use vigil_testkit::kinesis::{event, record};
    let s = setup().await;
    let processor = scheduled(&s).await;
    let t0 = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().with_timezone(&Utc);
    let process = |n: u64, minutes: i64| {
        let at = t0 + chrono::Duration::minutes(minutes);
        let e = event(vec![record(n, envelope(vec![reading(at, n)]))]);
        let processor = &processor;
        async move { assert!(processor.process(&e, at).await.0.batch_item_failures.is_empty()) }
    };
    process(1, 0).await;
    let first = check_at(&s).await.expect("indexed");
    assert!(first.starts_with("2026-11-22T10:15:00"), "last seen + 15 minutes: {first}");
    // 5 minutes on, the entry is 10 minutes ahead: kept.
    process(2, 5).await;
    assert_eq!(check_at(&s).await.as_ref(), Some(&first));
    // 10 minutes on, 5: moved to the exact time.
    process(3, 10).await;
    let moved = check_at(&s).await.expect("indexed");
    assert!(moved.starts_with("2026-11-22T10:25:00"), "{moved}");
}
