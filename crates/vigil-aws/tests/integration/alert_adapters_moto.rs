//! The alert path's adapters against moto's server (or LocalStack): real
//! conditional writes, scans, SNS SMS and S3 objects. Every test makes its own
//! tables, bucket and phone number.
//!
//! Needs the endpoint: `bash localstack/endpoint.sh start`.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::deliveries::DynamoDeliveryLog;
use vigil_aws::quarantine::{S3Quarantine, quarantine_key};
use vigil_aws::sns::SnsNotifier;
use vigil_aws::state::DynamoStateStore;
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_domain::alerts::{
    Alert, AlertId, Episode, Language, Message, PendingFall, RuleKind, Thresholds, WearerState,
};
use vigil_domain::care::{Caregiver, Channel, Delivery, QuietHours, WearerProfile};
use vigil_domain::lifecycle::{AlertStatus, Transition};
use vigil_domain::ports::{
    AlertStore, Claim, DeliveryLog, Notifier, PoisonRecord, Quarantine, StateStore, WearerDirectory,
};
use vigil_domain::reading::Location;
use vigil_local::endpoint::{require, unique_name};
use vigil_local::provision::create_table;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 15, 0).unwrap()
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

/// A fresh deliveries table with its indexes (what is due, SMS by number).
async fn deliveries_table(sdk: &SdkConfig) -> DynamoDeliveryLog {
    let (client, name) = table(sdk, "deliveries", "delivery_key").await;
    for index in vigil_local::provision::deliveries_indexes() {
        vigil_local::provision::ensure_index(&client, &name, &index).await.unwrap();
    }
    DynamoDeliveryLog::new(client, name)
}

/// A fresh table keyed by `key`, and a DynamoDB client.
async fn table(sdk: &SdkConfig, prefix: &str, key: &str) -> (aws_sdk_dynamodb::Client, String) {
    let client = vigil_aws::sdk::dynamodb(sdk);
    let name = unique_name(prefix);
    create_table(&client, &name, key, None).await.unwrap();
    (client, name)
}

fn message(text: &str) -> Message {
    Message {
        alert_id: "a1".into(),
        sms: format!("Vigil: {text}"),
        push_title: "Vigil".into(),
        push_body: text.into(),
        ..Message::default()
    }
}

fn delivery(caregiver: &str, not_before: Option<DateTime<Utc>>) -> Delivery {
    Delivery {
        alert_id: AlertId::new("w-1", RuleKind::BatteryLow, t0()).to_string(),
        caregiver_id: caregiver.into(),
        channel: Channel::Sms,
        address: "+15550000000".into(),
        message: message("Ana's band battery is low"),
        not_before,
        step: None,
        notice: None,
    }
}

#[tokio::test]
async fn a_profile_round_trips() {
    let sdk = require().await;
    let (client, name) = table(&sdk, "wearers", "wearer_id").await;
    let (_, caregivers) = table(&sdk, "caregivers", "caregiver_id").await;
    let directory = DynamoWearerDirectory::new(client, name, caregivers);
    let profile = WearerProfile {
        snoozes: Default::default(),
        escalation: Default::default(),
        wearer_id: "w-1".into(),
        name: "Ana Núñez".into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Thresholds {
            heart_rate_high_bpm: 130,
            cooldown_overrides_min: BTreeMap::from([(RuleKind::BatteryLow, 240)]),
            ..Thresholds::default()
        },
        caregivers: vec![
            Caregiver {
                sub: None,
                name: None,
                id: "cg-1".into(),
                level: 1,
                language: Language::Es,
                phone: Some("+34600111222".into()),
                push_endpoint: None,
                quiet_hours: Some(QuietHours {
                    start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
                    end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
                    time_zone: "Europe/Madrid".into(),
                }),
                daily_at: None,
            },
            Caregiver {
                sub: None,
                name: None,
                id: "cg-2".into(),
                level: 1,
                language: Language::PtBr,
                phone: None,
                push_endpoint: Some("arn:aws:sns:us-east-1:123456789012:endpoint/GCM/vigil/abc".into()),
                quiet_hours: None,
                daily_at: None,
            },
        ],
    };
    directory.put(&profile).await.unwrap();
    assert_eq!(directory.wearer("w-1").await.unwrap(), Some(profile.clone()));
    assert_eq!(directory.wearer("w-unknown").await.unwrap(), None);

    // Pages: every wearer once, each resolved like a single read, then the end.
    let second =
        WearerProfile { wearer_id: "w-2".into(), caregivers: vec![profile.caregivers[1].clone()], ..profile.clone() };
    let third = WearerProfile { wearer_id: "w-3".into(), caregivers: Vec::new(), ..profile.clone() };
    directory.put(&second).await.unwrap();
    directory.put(&third).await.unwrap();
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = directory.page(after.as_deref(), 2).await.unwrap();
        assert!(page.wearers.len() <= 2, "{page:?}");
        pages += 1;
        seen.extend(page.wearers);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert!((2..=3).contains(&pages), "{pages} pages");
    seen.sort_by(|a, b| a.wearer_id.cmp(&b.wearer_id));
    assert_eq!(seen, vec![profile, second, third]);
    assert_eq!(directory.list().await.unwrap(), seen);
}

#[tokio::test]
async fn state_writes_are_conditional_on_the_version() {
    let sdk = require().await;
    let (client, name) = table(&sdk, "state", "wearer_id").await;
    let store = DynamoStateStore::new(client, name);
    assert_eq!(store.load("w-1").await.unwrap(), None);

    let mut state = WearerState::new("w-1");
    state.last_seen = Some(t0());
    state.last_location = Some((t0(), Location { lat: 40.4168, lon: -3.7038, accuracy_m: Some(12.5) }));
    state.episodes.insert(
        RuleKind::HeartRateHigh,
        Episode {
            start: t0(),
            last: t0() + minutes(1),
            readings: vec!["r1".into(), "r2".into()],
            value: Some(131.0),
            alerted: false,
        },
    );
    state.pending_falls.push(PendingFall { at: t0(), reading: "r3".into(), location: None });
    state.alerted_windows.insert(RuleKind::Sos, vec![t0()]);

    assert!(store.save(&state).await.unwrap(), "version 0: no item yet");
    assert!(!store.save(&state).await.unwrap(), "a second first write loses");
    let loaded = store.load("w-1").await.unwrap().unwrap();
    assert_eq!(loaded, WearerState { version: 1, ..state.clone() });

    let mut next = loaded.clone();
    next.pending_falls.clear();
    assert!(store.save(&next).await.unwrap(), "version 1 is current");
    assert!(!store.save(&loaded).await.unwrap(), "version 1 is stale now");
    assert_eq!(store.load("w-1").await.unwrap().unwrap(), WearerState { version: 2, ..next });
}

#[tokio::test]
async fn due_for_check_queries_the_index_for_the_wearers_due_by_now_only() {
    let sdk = require().await;
    let (client, name) = table(&sdk, "state", "wearer_id").await;
    vigil_local::provision::ensure_index(&client, &name, &vigil_local::provision::state_check_index()).await.unwrap();
    let store = DynamoStateStore::new(client, name);
    let now = t0();
    let due_at = |id: &str, at: Option<DateTime<Utc>>| WearerState { next_check: at, ..WearerState::new(id) };

    // Enough wearers to land in several shards.
    let mut expected = Vec::new();
    for i in 0..40 {
        let id = format!("overdue-{i:02}");
        store.save(&due_at(&id, Some(now - minutes(i)))).await.unwrap();
        expected.push(id);
    }
    store.save(&due_at("due-now", Some(now))).await.unwrap();
    expected.push("due-now".into());
    // 30 ms after `now`: string comparison must not take it for due.
    store.save(&due_at("not-yet", Some(now + chrono::Duration::milliseconds(30)))).await.unwrap();
    store.save(&due_at("later", Some(now + minutes(14)))).await.unwrap();
    store.save(&due_at("nothing-to-check", None)).await.unwrap();
    // Due once, then saved with nothing to check (its silence alerted): out of the index.
    let alerted = due_at("alerted", Some(now - minutes(3)));
    store.save(&alerted).await.unwrap();
    store.save(&WearerState { version: 1, next_check: None, ..alerted }).await.unwrap();

    let shards: std::collections::BTreeSet<String> =
        expected.iter().map(|id| vigil_aws::state::check_shard(id)).collect();
    assert!(shards.len() > 4, "the wearers fall in a few shards: {shards:?}");
    expected.sort();
    assert_eq!(store.due_for_check(now).await.unwrap(), expected);
}

#[tokio::test]
async fn an_alert_is_stored_once_and_resolved_once() {
    let sdk = require().await;
    let (client, name) = table(&sdk, "alerts", "alert_id").await;
    let store = DynamoAlertStore::new(client, name);
    let alert = Alert {
        id: AlertId::new("w-1", RuleKind::Fall, t0()),
        wearer_id: "w-1".into(),
        rule: RuleKind::Fall,
        severity: RuleKind::Fall.severity(),
        episode_start: t0(),
        raised_at: t0() + chrono::Duration::seconds(4),
        readings: vec!["r1".into(), "r2".into()],
        location: Some(Location { lat: -23.5505, lon: -46.6333, accuracy_m: None }),
        value: Some(1.5),
    };
    assert!(store.put_alert(&alert, false).await.unwrap());
    assert!(!store.put_alert(&alert, false).await.unwrap(), "same id: already stored");
    let stored = store.get(alert.id.as_str()).await.unwrap().unwrap();
    assert_eq!(
        (stored.alert, stored.status, stored.resolved, stored.snoozed),
        (alert.clone(), AlertStatus::Open, None, false)
    );

    let resolved = store.resolve(alert.id.as_str(), t0() + minutes(5)).await.unwrap().unwrap();
    assert_eq!(resolved.alert, alert, "resolving hands back the alert");
    assert_eq!(
        (resolved.status, resolved.resolved.clone()),
        (AlertStatus::Resolved, Some(Transition::cleared(t0() + minutes(5)))),
        "as it then stands: resolved by the rules"
    );
    let again = store.resolve(alert.id.as_str(), t0() + minutes(9)).await.unwrap();
    assert_eq!(again, Some(resolved), "a retried resolution gets the same state: the first resolution");
    let stored = store.get(alert.id.as_str()).await.unwrap().unwrap();
    assert_eq!(stored.status, AlertStatus::Resolved);
    assert_eq!(stored.resolved, Some(Transition::cleared(t0() + minutes(5))), "the first resolution stands");
    assert_eq!(stored.history, [Transition::cleared(t0() + minutes(5))], "one step, however often it is retried");

    assert_eq!(store.resolve("no-such-alert", t0()).await.unwrap(), None);
    assert_eq!(store.get("no-such-alert").await.unwrap(), None, "resolving never creates an alert");
}

#[tokio::test]
async fn claims_allow_one_sender_at_a_time_and_one_message_in_all() {
    let sdk = require().await;
    let (client, name) = table(&sdk, "deliveries", "delivery_key").await;
    let log = DynamoDeliveryLog::new(client, name);
    let now = t0();

    let d = delivery("cg-1", None);
    assert_eq!(log.claim(&d, now).await.unwrap(), Claim::Granted);
    assert_eq!(log.claim(&d, now + chrono::Duration::seconds(5)).await.unwrap(), Claim::InFlight);
    log.sent(&d, "msg-1", now + chrono::Duration::seconds(6)).await.unwrap();
    assert_eq!(log.claim(&d, now + minutes(10)).await.unwrap(), Claim::AlreadySent, "even after the lease");
    log.release(&d).await.unwrap();
    assert_eq!(log.claim(&d, now + minutes(10)).await.unwrap(), Claim::AlreadySent, "release cannot undo a send");

    let d = delivery("cg-2", None);
    assert_eq!(log.claim(&d, now).await.unwrap(), Claim::Granted);
    log.release(&d).await.unwrap();
    assert_eq!(log.claim(&d, now).await.unwrap(), Claim::Granted, "released: another attempt may send");

    // The sender died without confirming: after the 60 s lease, the claim is free again.
    let d = delivery("cg-3", None);
    assert_eq!(log.claim(&d, now).await.unwrap(), Claim::Granted);
    assert_eq!(log.claim(&d, now + chrono::Duration::seconds(59)).await.unwrap(), Claim::InFlight);
    assert_eq!(log.claim(&d, now + chrono::Duration::seconds(61)).await.unwrap(), Claim::Granted);
}

#[tokio::test]
async fn a_shorter_lease_frees_a_claim_sooner() {
    let sdk = require().await;
    let (client, name) = table(&sdk, "deliveries", "delivery_key").await;
    let log = DynamoDeliveryLog::new(client, name).with_lease(Duration::from_secs(5));
    let d = delivery("cg-1", None);
    assert_eq!(log.claim(&d, t0()).await.unwrap(), Claim::Granted);
    assert_eq!(log.claim(&d, t0() + chrono::Duration::seconds(6)).await.unwrap(), Claim::Granted);
}

#[tokio::test]
async fn deferred_deliveries_come_due_once_and_survive_a_failed_send() {
    let sdk = require().await;
    let log = deliveries_table(&sdk).await;
    let at = t0() + minutes(45);
    let d = delivery("cg-1", Some(at));

    log.defer(&d).await.unwrap();
    log.defer(&d).await.unwrap();
    assert!(log.due(at - chrono::Duration::seconds(1)).await.unwrap().is_empty(), "quiet hours not over");
    assert_eq!(log.due(at).await.unwrap(), vec![d.clone()], "deferred once, due once");

    // The scheduled sender claims it, the send fails, it gives the claim back.
    assert_eq!(log.claim(&d, at).await.unwrap(), Claim::Granted);
    assert!(log.due(at).await.unwrap().is_empty(), "claimed: not due to anyone else");
    log.release(&d).await.unwrap();
    assert_eq!(log.due(at).await.unwrap(), vec![d.clone()], "a failed send is due again");

    // A sender that dies mid-send: due again once its lease is over.
    assert_eq!(log.claim(&d, at).await.unwrap(), Claim::Granted);
    assert_eq!(log.due(at + minutes(2)).await.unwrap(), vec![d.clone()]);

    assert_eq!(log.claim(&d, at + minutes(2)).await.unwrap(), Claim::Granted);
    log.sent(&d, "msg-1", at + minutes(2)).await.unwrap();
    assert!(log.due(at + minutes(60)).await.unwrap().is_empty(), "sent: never due again");
    assert_eq!(log.claim(&d, at + minutes(60)).await.unwrap(), Claim::AlreadySent);
}

#[tokio::test]
async fn a_message_whose_sender_died_between_claim_and_send_comes_due_when_its_lease_ends() {
    let sdk = require().await;
    let log = deliveries_table(&sdk).await;
    let (first, confirmed) = (delivery("cg-1", None), delivery("cg-2", None));
    for d in [&first, &confirmed] {
        assert_eq!(log.claim(d, t0()).await.unwrap(), Claim::Granted);
    }
    log.sent(&confirmed, "msg-2", t0()).await.unwrap();
    assert!(log.due(t0() + chrono::Duration::seconds(59)).await.unwrap().is_empty(), "a live sender's lease");
    assert_eq!(
        log.due(t0() + chrono::Duration::seconds(61)).await.unwrap(),
        vec![first.clone()],
        "the unconfirmed claim, whole, for the sweep to send; the confirmed one never"
    );
    // The sweep takes it over, sends and confirms: it leaves the index.
    assert_eq!(log.claim(&first, t0() + minutes(2)).await.unwrap(), Claim::Granted);
    log.sent(&first, "msg-1", t0() + minutes(2)).await.unwrap();
    assert!(log.due(t0() + minutes(60)).await.unwrap().is_empty());
}

#[tokio::test]
async fn escalation_steps_come_due_by_their_time_and_a_cancelled_one_never_does() {
    use vigil_domain::care::StepRef;
    let sdk = require().await;
    let log = deliveries_table(&sdk).await;
    let step = |caregiver: &str, level: u8, due: i64, channel: Channel| Delivery {
        channel,
        step: Some(StepRef { level, round: 0, last: false }),
        ..delivery(caregiver, Some(t0() + minutes(due)))
    };
    let call = step("cg-1", 2, 3, Channel::Voice);
    let text = step("cg-2", 3, 3, Channel::Sms);
    let later = step("cg-1", 4, 10, Channel::Voice);
    for d in [&call, &text, &later] {
        log.defer(d).await.unwrap();
    }
    assert_ne!(call.key(), delivery("cg-1", None).key(), "a step is not the first notification");
    assert!(log.due(t0() + minutes(2)).await.unwrap().is_empty());
    let mut due = log.due(t0() + minutes(3)).await.unwrap();
    due.sort_by_key(Delivery::key);
    assert_eq!(due, vec![call.clone(), text.clone()], "the index holds only what is due by now");
    // Sent and cancelled steps leave the index.
    assert_eq!(log.claim(&call, t0() + minutes(3)).await.unwrap(), Claim::Granted);
    log.sent(&call, "call-1", t0() + minutes(3)).await.unwrap();
    log.cancel(&text).await.unwrap();
    log.cancel(&later).await.unwrap();
    assert!(log.due(t0() + minutes(60)).await.unwrap().is_empty());
    assert_eq!(log.claim(&later, t0() + minutes(60)).await.unwrap(), Claim::AlreadySent, "cancelled: final");
    // Cancelling a sent step changes nothing.
    log.cancel(&call).await.unwrap();
    assert_eq!(log.claim(&call, t0() + minutes(60)).await.unwrap(), Claim::AlreadySent);
}

#[tokio::test]
async fn the_sms_sent_to_a_number_are_found_newest_first_and_nothing_else_is() {
    use vigil_domain::ports::{TextLog, Texted};
    let sdk = require().await;
    let log = deliveries_table(&sdk).await;
    let sms = |alert: &str, caregiver: &str| Delivery { alert_id: alert.into(), ..delivery(caregiver, None) };
    let (older, newer) = (sms("a-older", "cg-1"), sms("a-newer", "cg-1"));
    for (d, at) in [(&older, 1), (&newer, 5)] {
        log.claim(d, t0() + minutes(at)).await.unwrap();
        log.sent(d, "m", t0() + minutes(at)).await.unwrap();
    }
    // A push and a refused SMS are nothing a reply can refer to.
    let push = Delivery { channel: Channel::Push, address: "arn:push".into(), ..sms("a-push", "cg-1") };
    let refused = sms("a-refused", "cg-1");
    for (d, id) in [(&push, "m"), (&refused, vigil_domain::ports::REFUSED)] {
        log.claim(d, t0()).await.unwrap();
        log.sent(d, id, t0() + minutes(9)).await.unwrap();
    }
    let found = log.texted("+15550000000", 10).await.unwrap();
    let texted = |alert: &str, at: i64| Texted {
        alert_id: alert.into(),
        caregiver_id: "cg-1".into(),
        sent_at: t0() + minutes(at),
    };
    assert_eq!(found, vec![texted("a-newer", 5), texted("a-older", 1)]);
    assert_eq!(log.texted("+15550000000", 1).await.unwrap(), vec![texted("a-newer", 5)]);
    assert!(log.texted("+15559999999", 10).await.unwrap().is_empty(), "an unknown number");
}

#[tokio::test]
async fn an_sms_reaches_moto_with_its_text_and_number() {
    let sdk = require().await;
    let notifier = SnsNotifier::new(vigil_aws::sdk::sns(&sdk));
    let phone = format!("+1555{:07}", fastrand::u32(..10_000_000));
    let text = message(&format!("Ana pressed SOS ({})", unique_name("sms")));
    let id = notifier.send(Channel::Sms, &phone, &text).await.unwrap();
    assert!(!id.is_empty());

    // What moto recorded, read as the local runner reads it (asked again after moto's
    // data.json race with concurrent writers).
    let url = vigil_local::endpoint::url();
    let all = tokio::task::spawn_blocking(move || vigil_local::moto::recorded_sms(&url)).await.unwrap().unwrap();
    let sent: Vec<_> = all.iter().filter(|m| m.phone_number == phone).collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].message, text.sms);
    assert_eq!(sent[0].message_id, id);
}

#[tokio::test]
async fn a_poison_record_lands_at_its_deterministic_key() {
    let sdk = require().await;
    let client = vigil_aws::sdk::s3(&sdk);
    let bucket = unique_name("quarantine");
    let quarantine = S3Quarantine::new(client.clone(), &bucket);
    quarantine.create_bucket().await.unwrap();
    quarantine.create_bucket().await.unwrap();

    let data = b"\x00\xffnot an envelope";
    let record = PoisonRecord {
        function: "alert-processor",
        shard_id: "shardId-000000000001",
        sequence_number: "49590338271490256608559692538361571095921575989136588818",
        data,
        reason: "envelope: expected value at line 1 column 1",
    };
    quarantine.quarantine(&record).await.unwrap();
    quarantine.quarantine(&record).await.unwrap();

    let key = quarantine_key(&record);
    assert_eq!(
        key,
        "quarantine/alert-processor/shardId-000000000001/49590338271490256608559692538361571095921575989136588818.json"
    );
    let listed = client.list_objects_v2().bucket(&bucket).send().await.unwrap();
    assert_eq!(listed.contents().len(), 1, "a retried quarantine overwrites itself");
    let object = client.get_object().bucket(&bucket).key(&key).send().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD.decode(body["data_base64"].as_str().unwrap()).unwrap();
    assert_eq!(decoded, data);
    assert_eq!(body["function"], "alert-processor");
    assert_eq!(body["shard_id"], "shardId-000000000001");
    assert_eq!(body["sequence_number"], record.sequence_number);
    assert_eq!(body["reason"], record.reason);
    assert!(body["quarantined_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn provisioning_creates_the_alert_tables_and_bucket_idempotently() {
    let sdk = require().await;
    let resources = vigil_local::provision::Resources::unique("alerting");
    vigil_local::provision::provision(&sdk, &resources).await.unwrap();
    vigil_local::provision::provision(&sdk, &resources).await.unwrap();
    let dynamodb = vigil_aws::sdk::dynamodb(&sdk);
    for (table, key) in [
        (&resources.wearers_table, "wearer_id"),
        (&resources.state_table, "wearer_id"),
        (&resources.alerts_table, "alert_id"),
        (&resources.deliveries_table, "delivery_key"),
    ] {
        let described = dynamodb.describe_table().table_name(table).send().await.unwrap();
        let schema = described.table().unwrap().key_schema();
        assert_eq!(schema.iter().map(|k| k.attribute_name()).collect::<Vec<_>>(), [key], "{table}");
    }
    vigil_aws::sdk::s3(&sdk).head_bucket().bucket(&resources.quarantine_bucket).send().await.unwrap();
}
