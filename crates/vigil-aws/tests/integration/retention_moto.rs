//! Retention against moto's server: every write path of the stores that expire
//! (alerts, deliveries and escalation steps, rule state) leaves `expires_at`, the
//! tables' TTL attribute, at the item's time plus the configured days. Each test reads
//! the items back as stored, so a path that forgets the attribute fails here.
//!
//! Needs the endpoint: `bash localstack/endpoint.sh start`.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::deliveries::DynamoDeliveryLog;
use vigil_aws::state::DynamoStateStore;
use vigil_domain::alerts::{Alert, AlertId, Message, RuleKind, WearerState};
use vigil_domain::care::{Channel, Delivery, StepRef};
use vigil_domain::lifecycle::{Transition, Via};
use vigil_domain::ports::{AlertStore, Claim, DeliveryLog, StateStore};
use vigil_domain::retention::{DEFAULT_ALERTS_DAYS, DEFAULT_DELIVERIES_DAYS, DEFAULT_STATE_DAYS, Retention};
use vigil_local::endpoint::{require, unique_name};
use vigil_local::provision::{create_table, enable_ttl};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 15, 0).unwrap()
}

/// `at` plus `days`, in epoch seconds: computed here, not by the code under test.
fn plus_days(at: DateTime<Utc>, days: i64) -> i64 {
    at.timestamp() + days * 86_400
}

/// A fresh table keyed by `key`, with TTL on as provisioning turns it on.
async fn table(sdk: &SdkConfig, prefix: &str, key: &str) -> (aws_sdk_dynamodb::Client, String) {
    let client = vigil_aws::sdk::dynamodb(sdk);
    let name = unique_name(prefix);
    create_table(&client, &name, key, None).await.unwrap();
    enable_ttl(&client, &name).await.unwrap();
    (client, name)
}

/// Every item of `table` as stored, by its key attribute's value.
async fn items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: &str,
) -> HashMap<String, HashMap<String, AttributeValue>> {
    let out = client.scan().table_name(table).consistent_read(true).send().await.unwrap();
    out.items().iter().map(|item| (item[key].as_s().unwrap().clone(), item.clone())).collect()
}

fn expires_at(item: &HashMap<String, AttributeValue>) -> i64 {
    let value = item.get("expires_at").unwrap_or_else(|| panic!("no expires_at in {:?}", item.keys()));
    value.as_n().unwrap().parse().unwrap()
}

fn alert(raised_at: DateTime<Utc>) -> Alert {
    Alert {
        id: AlertId::new("w-1", RuleKind::Fall, raised_at),
        wearer_id: "w-1".into(),
        rule: RuleKind::Fall,
        severity: RuleKind::Fall.severity(),
        episode_start: raised_at,
        raised_at,
        readings: vec!["r1".into()],
        location: None,
        value: None,
    }
}

#[tokio::test]
async fn tables_have_ttl_on_expires_at_and_enabling_it_twice_is_harmless() {
    let sdk = require().await;
    let (client, name) = table(&sdk, "ttl", "k").await;
    enable_ttl(&client, &name).await.unwrap();
    let out = client.describe_time_to_live().table_name(&name).send().await.unwrap();
    let ttl = out.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
    assert_eq!(ttl.time_to_live_status().map(|s| s.as_str()), Some("ENABLED"));
}

#[tokio::test]
async fn alerts_expire_the_configured_days_after_they_were_raised() {
    let sdk = require().await;
    let (client, name) = table(&sdk, "alerts", "alert_id").await;
    let store = DynamoAlertStore::new(client.clone(), &name).with_retention(Retention::days(7));
    let first = alert(t0());
    assert!(store.put_alert(&first, false).await.unwrap());
    let snoozed = alert(t0() + TimeDelta::hours(3));
    assert!(store.put_alert(&snoozed, true).await.unwrap());
    // A step keeps the alert's expiry: it counts from the raise.
    let ack = Transition::acknowledge("cg-1", t0() + TimeDelta::days(2), Via::Api);
    store.transition(first.id.as_str(), &ack, None).await.unwrap().unwrap();

    // An alert stored before alerts expired gets one from its next step.
    let legacy = alert(t0() + TimeDelta::hours(5));
    assert!(store.put_alert(&legacy, false).await.unwrap());
    client
        .update_item()
        .table_name(&name)
        .key("alert_id", AttributeValue::S(legacy.id.to_string()))
        .update_expression("REMOVE expires_at")
        .send()
        .await
        .unwrap();
    let resolved_at = t0() + TimeDelta::days(3);
    store.transition(legacy.id.as_str(), &Transition::cleared(resolved_at), Some("fine")).await.unwrap().unwrap();

    let stored = items(&client, &name, "alert_id").await;
    assert_eq!(stored.len(), 3);
    assert_eq!(expires_at(&stored[first.id.as_str()]), plus_days(t0(), 7), "raised + 7 days, after a step too");
    assert_eq!(expires_at(&stored[snoozed.id.as_str()]), plus_days(snoozed.raised_at, 7));
    assert_eq!(expires_at(&stored[legacy.id.as_str()]), plus_days(resolved_at, 7), "backfilled by the step");

    // The default, for a store built without a setting.
    let (client, name) = table(&sdk, "alerts", "alert_id").await;
    DynamoAlertStore::new(client.clone(), &name).put_alert(&first, false).await.unwrap();
    let stored = items(&client, &name, "alert_id").await;
    assert_eq!(expires_at(&stored[first.id.as_str()]), plus_days(t0(), i64::from(DEFAULT_ALERTS_DAYS)));
}

fn delivery(caregiver: &str, not_before: Option<DateTime<Utc>>, step: Option<StepRef>) -> Delivery {
    Delivery {
        alert_id: AlertId::new("w-1", RuleKind::Fall, t0()).to_string(),
        caregiver_id: caregiver.into(),
        channel: Channel::Sms,
        address: "+15550000000".into(),
        message: Message { alert_id: "a1".into(), sms: "Vigil: a fall".into(), ..Message::default() },
        not_before,
        step,
        notice: None,
    }
}

#[tokio::test]
async fn deliveries_and_escalation_steps_expire_the_configured_days_after_their_last_write() {
    let sdk = require().await;
    let (client, name) = table(&sdk, "deliveries", "delivery_key").await;
    for index in vigil_local::provision::deliveries_indexes() {
        vigil_local::provision::ensure_index(&client, &name, &index).await.unwrap();
    }
    let log = DynamoDeliveryLog::new(client.clone(), &name).with_retention(Retention::days(10));

    // Claimed only (its sender died): from the claim.
    let claimed = delivery("cg-1", None, None);
    assert_eq!(log.claim(&claimed, t0()).await.unwrap(), Claim::Granted);
    // Claimed, then sent: from the send.
    let sent = delivery("cg-2", None, None);
    assert_eq!(log.claim(&sent, t0()).await.unwrap(), Claim::Granted);
    let sent_at = t0() + TimeDelta::seconds(3);
    log.sent(&sent, "msg-1", sent_at).await.unwrap();
    // An escalation step waiting for its time: from its due time.
    let due = t0() + TimeDelta::minutes(10);
    let step = delivery("cg-3", Some(due), Some(StepRef { level: 2, round: 0, last: false }));
    log.defer(&step).await.unwrap();
    // A step deferred, claimed when due, released after a failed send: from the claim.
    let retried = delivery("cg-4", Some(due), Some(StepRef { level: 3, round: 0, last: true }));
    log.defer(&retried).await.unwrap();
    assert_eq!(log.claim(&retried, due).await.unwrap(), Claim::Granted);
    log.release(&retried).await.unwrap();
    // A step cancelled by an acknowledgement keeps its expiry.
    let cancelled = delivery("cg-5", Some(due), Some(StepRef { level: 2, round: 1, last: false }));
    log.defer(&cancelled).await.unwrap();
    log.cancel(&cancelled).await.unwrap();
    // Sent with no claim record at all (the send's update creates the item).
    let unclaimed = delivery("cg-6", None, None);
    log.sent(&unclaimed, "msg-2", sent_at).await.unwrap();
    // Deferred with no due time (due at once): from the write.
    let before = Utc::now();
    let at_once = delivery("cg-7", None, Some(StepRef { level: 2, round: 0, last: false }));
    log.defer(&at_once).await.unwrap();
    let after = Utc::now();

    let stored = items(&client, &name, "delivery_key").await;
    assert_eq!(stored.len(), 7, "every delivery is stored");
    assert_eq!(expires_at(&stored[&claimed.key()]), plus_days(t0(), 10));
    assert_eq!(expires_at(&stored[&sent.key()]), plus_days(sent_at, 10));
    assert_eq!(expires_at(&stored[&step.key()]), plus_days(due, 10));
    assert_eq!(expires_at(&stored[&retried.key()]), plus_days(due, 10));
    assert_eq!(expires_at(&stored[&cancelled.key()]), plus_days(due, 10));
    assert_eq!(expires_at(&stored[&unclaimed.key()]), plus_days(sent_at, 10));
    let now_ish = expires_at(&stored[&at_once.key()]);
    assert!(
        (plus_days(before, 10) - 1..=plus_days(after, 10)).contains(&now_ish),
        "due at once: counted from the write"
    );

    // The default, for a log built without a setting.
    let (client, name) = table(&sdk, "deliveries", "delivery_key").await;
    DynamoDeliveryLog::new(client.clone(), &name).claim(&claimed, t0()).await.unwrap();
    let stored = items(&client, &name, "delivery_key").await;
    assert_eq!(expires_at(&stored[&claimed.key()]), plus_days(t0(), i64::from(DEFAULT_DELIVERIES_DAYS)));
}

#[tokio::test]
async fn rule_state_expires_the_configured_days_after_the_last_reading_and_each_save_moves_it() {
    let sdk = require().await;
    let (client, name) = table(&sdk, "state", "wearer_id").await;
    let store = DynamoStateStore::new(client.clone(), &name).with_retention(Retention::days(5));
    let state = WearerState { last_seen: Some(t0()), ..WearerState::new("w-1") };
    assert!(store.save(&state).await.unwrap());
    assert_eq!(expires_at(&items(&client, &name, "wearer_id").await["w-1"]), plus_days(t0(), 5));

    // An active wearer: the next save counts from the newer reading.
    let later = t0() + TimeDelta::days(4);
    let loaded = store.load("w-1").await.unwrap().unwrap();
    assert!(store.save(&WearerState { last_seen: Some(later), ..loaded }).await.unwrap());
    assert_eq!(expires_at(&items(&client, &name, "wearer_id").await["w-1"]), plus_days(later, 5));

    let (client, name) = table(&sdk, "state", "wearer_id").await;
    DynamoStateStore::new(client.clone(), &name).save(&state).await.unwrap();
    let stored = items(&client, &name, "wearer_id").await;
    assert_eq!(expires_at(&stored["w-1"]), plus_days(t0(), i64::from(DEFAULT_STATE_DAYS)));
}
