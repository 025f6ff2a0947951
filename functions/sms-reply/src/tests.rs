//! The reply path with in-memory ports: parsing, matching, the window, retries.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

use std::sync::Mutex;

use vigil_domain::alerts::{Alert, AlertId, Language, RuleKind};
use vigil_domain::care::{Caregiver, WearerProfile};
use vigil_domain::lifecycle::Outcome as Resolution;
use vigil_testkit::{MemoryAlerts, MemoryNotifier, MemoryWearers, throttled};

use super::*;

const ANA: &str = "+34600111222";
const BEN: &str = "+447700900123";
const OURS: &str = "+15555550100";

/// The SMS sent, by number, as the deliveries table's phone index holds them.
#[derive(Debug, Default)]
struct MemoryTexts {
    sent: Mutex<Vec<(String, Texted)>>,
    /// The next n queries are throttled.
    failures: Mutex<usize>,
}

impl MemoryTexts {
    fn text(&self, phone: &str, alert_id: &str, caregiver_id: &str, sent_at: DateTime<Utc>) {
        let texted = Texted { alert_id: alert_id.to_owned(), caregiver_id: caregiver_id.to_owned(), sent_at };
        self.sent.lock().unwrap().push((phone.to_owned(), texted));
    }
}

impl TextLog for MemoryTexts {
    async fn texted(&self, phone: &str, limit: usize) -> Result<Vec<Texted>, StoreError> {
        let mut failures = self.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return Err(throttled("Query"));
        }
        drop(failures);
        let mut out: Vec<Texted> =
            self.sent.lock().unwrap().iter().filter(|(p, _)| p == phone).map(|(_, t)| t.clone()).collect();
        out.sort_by_key(|t| std::cmp::Reverse(t.sent_at));
        out.truncate(limit);
        Ok(out)
    }
}

/// The alerts handed to the lifecycle sink.
#[derive(Debug, Default)]
struct MemorySink {
    records: Mutex<Vec<AlertRecord>>,
    failures: Mutex<usize>,
}

impl LifecycleSink for MemorySink {
    async fn record(&self, record: &AlertRecord) -> Result<(), StoreError> {
        let mut failures = self.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return Err(throttled("PutObject"));
        }
        self.records.lock().unwrap().push(record.clone());
        Ok(())
    }
}

type Handler<A = MemoryAlerts> = SmsReply<MemoryTexts, A, MemoryWearers, MemoryNotifier, MemorySink>;

fn t(s: &str) -> DateTime<Utc> {
    format!("2026-11-22T{s}Z").parse().unwrap()
}

fn caregiver(id: &str, phone: &str, language: Language) -> Caregiver {
    vigil_testkit::caregiver(id, id, language, phone)
}

fn profile() -> WearerProfile {
    WearerProfile {
        wearer_id: "w1".into(),
        name: "Carmen Ruiz".into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers: vec![caregiver("cg-ana", ANA, Language::Es), caregiver("cg-ben", BEN, Language::En)],
        snoozes: Default::default(),
        escalation: Default::default(),
    }
}

fn alert(rule: RuleKind, at: DateTime<Utc>) -> Alert {
    Alert {
        id: AlertId::new("w1", rule, at),
        wearer_id: "w1".into(),
        rule,
        severity: rule.severity(),
        episode_start: at,
        raised_at: at,
        readings: vec![],
        location: None,
        value: None,
    }
}

fn handler_with<A>(alerts: A) -> Handler<A> {
    SmsReply {
        texts: MemoryTexts::default(),
        alerts,
        wearers: MemoryWearers::with([profile()]),
        notifier: MemoryNotifier::default(),
        lifecycle: MemorySink::default(),
        window: Duration::hours(24),
    }
}

fn handler() -> Handler {
    handler_with(MemoryAlerts::default())
}

/// Stores `alert` open and records the SMS sent about it to `phone` at `sent_at`.
async fn texted<A: AlertStore>(h: &Handler<A>, alert: &Alert, phone: &str, caregiver: &str, sent_at: DateTime<Utc>) {
    h.alerts.put_alert(alert, false).await.unwrap();
    h.texts.text(phone, alert.id.as_str(), caregiver, sent_at);
}

fn reply(phone: &str, body: &str, id: &str, published: DateTime<Utc>) -> SnsEvent {
    inbound_event_at(phone, OURS, body, id, published)
}

fn ack_of(h: &Handler, alert: &Alert) -> Option<Transition> {
    h.alerts.record(alert.id.as_str()).and_then(|r| r.acknowledged)
}

#[test]
fn the_documented_payload_parses_and_its_debug_shows_no_number_or_body() {
    // The example in the AWS End User Messaging SMS user guide, "Example of a two-way
    // SMS message payload for Amazon SNS topics".
    let payload = r#"{
        "originationNumber":"+14255550182",
        "destinationNumber":"+12125550101",
        "messageKeyword":"JOIN",
        "messageBody":"EXAMPLE",
        "inboundMessageId":"cae173d2-66b9-564c-8309-21f858e9fb84",
        "previousPublishedMessageId":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    }"#;
    let sms: InboundSms = serde_json::from_str(payload).unwrap();
    assert_eq!(sms.origination_number, "+14255550182");
    assert_eq!(sms.destination_number, "+12125550101");
    assert_eq!(sms.message_keyword, "JOIN");
    assert_eq!(sms.message_body, "EXAMPLE");
    assert_eq!(sms.inbound_message_id, "cae173d2-66b9-564c-8309-21f858e9fb84");
    assert_eq!(sms.previous_published_message_id.as_deref(), Some("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
    let debug = format!("{sms:?}");
    assert!(!debug.contains("+1425") && !debug.contains("+1212") && !debug.contains("EXAMPLE"), "{debug}");
}

#[test]
fn an_inbound_event_is_what_lambda_delivers_and_carries_the_reply() {
    let published = t("10:05:00");
    let event = inbound_event_at(ANA, OURS, "Sí", "in-1", published);
    // Through JSON, as Lambda hands it over (PascalCase SNS records).
    let wire = serde_json::to_string(&event).unwrap();
    assert!(wire.contains("\"Records\"") && wire.contains("\"Sns\"") && wire.contains("\"Timestamp\""), "{wire}");
    let back: SnsEvent = serde_json::from_str(&wire).unwrap();
    assert_eq!(back, event);
    let sns = &back.records[0].sns;
    assert_eq!((sns.sns_message_type.as_str(), sns.timestamp), ("Notification", published));
    let message: serde_json::Value = serde_json::from_str(&sns.message).unwrap();
    assert_eq!(message["originationNumber"], ANA);
    assert_eq!(message["destinationNumber"], OURS);
    assert_eq!(message["messageBody"], "Sí");
    assert_eq!(message["inboundMessageId"], "in-1");
    assert!(message["messageKeyword"].is_string());
    // The same reply makes the same event, as a redelivery does.
    assert_eq!(inbound_event_at(ANA, OURS, "Sí", "in-1", published), event);
}

#[tokio::test]
async fn a_yes_acknowledges_the_alert_texted_to_the_number_and_confirms_once() {
    let h = handler();
    let sos = alert(RuleKind::Sos, t("10:00:00"));
    texted(&h, &sos, ANA, "cg-ana", t("10:00:02")).await;
    texted(&h, &sos, BEN, "cg-ben", t("10:00:02")).await;

    let now = t("10:06:00");
    let summary = h.handle(reply(ANA, "  sí ", "in-1", t("10:05:58")), now).await.unwrap();
    assert_eq!((summary.replies, summary.acknowledged, summary.confirmations_sent), (1, 1, 1), "{summary:?}");

    let ack = ack_of(&h, &sos).expect("acknowledged");
    assert_eq!((ack.by.as_str(), ack.via, ack.at), ("cg-ana", Via::Sms, now));
    // One confirmation, to the number that replied, in its caregiver's language.
    let sent = h.notifier.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].channel, sent[0].address.as_str()), (Channel::Sms, ANA));
    assert_eq!(sent[0].message.sms, vigil_domain::reply::confirmation(Language::Es, "Carmen Ruiz"));
    assert_eq!(sent[0].message.alert_id, sos.id.as_str());
    // The lifecycle reaches the sink.
    let sunk = h.lifecycle.records.lock().unwrap().clone();
    assert_eq!(sunk.len(), 1);
    assert_eq!(sunk[0].status, AlertStatus::Acknowledged);
}

#[tokio::test]
async fn every_yes_word_acknowledges_and_anything_else_does_nothing() {
    for (i, body) in ["1", "OK", "ok", "Si", "SÍ", "sim", "Yes", "yes "].into_iter().enumerate() {
        let h = handler();
        let fall = alert(RuleKind::Fall, t("10:00:00"));
        texted(&h, &fall, BEN, "cg-ben", t("10:00:01")).await;
        let id = format!("in-{i}");
        let summary = h.handle(reply(BEN, body, &id, t("10:01:00")), t("10:01:01")).await.unwrap();
        assert_eq!(summary.acknowledged, 1, "{body:?}: {summary:?}");
    }
    for body in ["no", "NO", "2", "", "ok?? who is this", "stop"] {
        let h = handler();
        let fall = alert(RuleKind::Fall, t("10:00:00"));
        texted(&h, &fall, BEN, "cg-ben", t("10:00:01")).await;
        let summary = h.handle(reply(BEN, body, "in-x", t("10:01:00")), t("10:01:01")).await.unwrap();
        assert_eq!(summary.not_acknowledging, 1, "{body:?}: {summary:?}");
        assert_eq!(ack_of(&h, &fall), None, "{body:?}");
        assert!(h.notifier.sent().is_empty());
    }
}

#[tokio::test]
async fn an_unknown_number_and_a_malformed_message_are_counted_not_errors() {
    let h = handler();
    let sos = alert(RuleKind::Sos, t("10:00:00"));
    texted(&h, &sos, ANA, "cg-ana", t("10:00:02")).await;

    let (result, metrics) = h.process(&reply("+34699999999", "OK", "in-1", t("10:01:00")), t("10:01:01")).await;
    assert_eq!(result.unwrap().unknown_number, 1);
    assert_eq!(metrics.get("RepliesUnknownNumber"), 1.0);

    let mut event = reply(ANA, "OK", "in-2", t("10:01:00"));
    event.records[0].sns.message = "OK from Ana, not JSON".into();
    let mut missing_number = reply(ANA, "OK", "in-3", t("10:01:00"));
    missing_number.records[0].sns.message = r#"{"messageBody":"OK"}"#.into();
    event.records.push(missing_number.records.remove(0));
    let (result, metrics) = h.process(&event, t("10:01:01")).await;
    let summary = result.unwrap();
    assert_eq!((summary.replies, summary.malformed), (2, 2), "{summary:?}");
    assert_eq!(metrics.get("RepliesMalformed"), 2.0);
    assert_eq!(metrics.get("RepliesReceived"), 2.0);
    assert_eq!(ack_of(&h, &sos), None);
    assert!(h.notifier.sent().is_empty());
}

#[tokio::test]
async fn the_most_recent_open_alert_is_acknowledged() {
    let h = handler();
    let older = alert(RuleKind::HeartRateHigh, t("09:00:00"));
    let newer = alert(RuleKind::Sos, t("10:00:00"));
    texted(&h, &older, ANA, "cg-ana", t("09:00:03")).await;
    texted(&h, &newer, ANA, "cg-ana", t("10:00:03")).await;

    let summary = h.handle(reply(ANA, "1", "in-1", t("10:02:00")), t("10:02:01")).await.unwrap();
    assert_eq!(summary.acknowledged, 1);
    assert_eq!(ack_of(&h, &newer).map(|a| a.by), Some("cg-ana".to_owned()));
    assert_eq!(ack_of(&h, &older), None, "the older alert stays open");

    // A second yes, later, acknowledges the next open one.
    let summary = h.handle(reply(ANA, "1", "in-2", t("10:03:00")), t("10:03:01")).await.unwrap();
    assert_eq!(summary.acknowledged, 1, "{summary:?}");
    assert!(ack_of(&h, &older).is_some());
    assert_eq!(h.notifier.sent().len(), 2);

    // A third has nothing left to acknowledge.
    let summary = h.handle(reply(ANA, "1", "in-3", t("10:04:00")), t("10:04:01")).await.unwrap();
    assert_eq!(summary.unmatched, 1, "{summary:?}");
    assert_eq!(h.notifier.sent().len(), 2);
}

#[tokio::test]
async fn an_alert_acknowledged_already_is_passed_over_for_the_next_open_one() {
    let h = handler();
    let older = alert(RuleKind::Spo2Low, t("09:00:00"));
    let newer = alert(RuleKind::Sos, t("10:00:00"));
    texted(&h, &older, ANA, "cg-ana", t("09:00:03")).await;
    texted(&h, &newer, ANA, "cg-ana", t("10:00:03")).await;
    // Ben took the newest in the app.
    h.alerts
        .transition(newer.id.as_str(), &Transition::acknowledge("cg-ben", t("10:01:00"), Via::Api), None)
        .await
        .unwrap();

    let summary = h.handle(reply(ANA, "ok", "in-1", t("10:02:00")), t("10:02:01")).await.unwrap();
    assert_eq!(summary.acknowledged, 1, "{summary:?}");
    assert_eq!(ack_of(&h, &newer).map(|a| a.by), Some("cg-ben".to_owned()), "the first acknowledgement stands");
    assert_eq!(ack_of(&h, &older).map(|a| (a.by, a.via)), Some(("cg-ana".to_owned(), Via::Sms)));
}

#[tokio::test]
async fn resolved_alerts_and_alerts_outside_the_window_are_not_acknowledged() {
    let h = handler();
    let resolved = alert(RuleKind::NoData, t("10:00:00"));
    let old = alert(RuleKind::Inactivity, t("10:00:00") - Duration::hours(30));
    texted(&h, &resolved, ANA, "cg-ana", t("10:00:02")).await;
    texted(&h, &old, ANA, "cg-ana", t("10:00:02") - Duration::hours(30)).await;
    h.alerts.transition(resolved.id.as_str(), &Transition::cleared(t("10:01:00")), None).await.unwrap();

    let summary = h.handle(reply(ANA, "SI", "in-1", t("10:05:00")), t("10:05:01")).await.unwrap();
    assert_eq!(summary.unmatched, 1, "{summary:?}");
    assert_eq!(ack_of(&h, &old), None);
    assert!(h.notifier.sent().is_empty());

    // A shorter window leaves out what a longer one takes in.
    let mut h = handler();
    let sos = alert(RuleKind::Sos, t("08:00:00"));
    texted(&h, &sos, ANA, "cg-ana", t("08:00:02")).await;
    h.window = Duration::hours(1);
    let summary = h.handle(reply(ANA, "SI", "in-1", t("10:05:00")), t("10:05:01")).await.unwrap();
    assert_eq!(summary.unmatched, 1, "{summary:?}");
    h.window = Duration::hours(3);
    let summary = h.handle(reply(ANA, "SI", "in-1", t("10:05:00")), t("10:05:01")).await.unwrap();
    assert_eq!(summary.acknowledged, 1, "{summary:?}");
}

#[tokio::test]
async fn an_sms_sent_after_the_reply_arrived_is_not_what_it_answers() {
    let h = handler();
    let answered = alert(RuleKind::HeartRateLow, t("09:00:00"));
    let later = alert(RuleKind::Sos, t("10:10:00"));
    texted(&h, &answered, ANA, "cg-ana", t("09:00:02")).await;
    texted(&h, &later, ANA, "cg-ana", t("10:10:02")).await;
    // The reply arrived at 10:05; Lambda runs it (a retry) at 10:12.
    let summary = h.handle(reply(ANA, "yes", "in-1", t("10:05:00")), t("10:12:00")).await.unwrap();
    assert_eq!(summary.acknowledged, 1);
    assert!(ack_of(&h, &answered).is_some());
    assert_eq!(ack_of(&h, &later), None);
}

#[tokio::test]
async fn a_number_no_longer_the_caregivers_acknowledges_nothing() {
    let h = handler();
    let sos = alert(RuleKind::Sos, t("10:00:00"));
    texted(&h, &sos, ANA, "cg-ana", t("10:00:02")).await;
    // Ana changed her number after the SMS went out.
    {
        let mut profiles = h.wearers.profiles.lock().unwrap();
        profiles.get_mut("w1").unwrap().caregivers[0].phone = Some("+34600000000".into());
    }
    let summary = h.handle(reply(ANA, "ok", "in-1", t("10:01:00")), t("10:01:01")).await.unwrap();
    assert_eq!(summary.unmatched, 1, "{summary:?}");
    assert_eq!(ack_of(&h, &sos), None);
}

#[tokio::test]
async fn the_same_event_twice_acknowledges_and_confirms_once() {
    let h = handler();
    let older = alert(RuleKind::Fall, t("09:55:00"));
    let newer = alert(RuleKind::Sos, t("10:00:00"));
    texted(&h, &older, ANA, "cg-ana", t("09:55:02")).await;
    texted(&h, &newer, ANA, "cg-ana", t("10:00:02")).await;
    let event = reply(ANA, "Sí", "in-1", t("10:01:00"));

    let first = h.handle(event.clone(), t("10:01:01")).await.unwrap();
    assert_eq!(first.acknowledged, 1);
    // Redelivered at once, and again a minute later (Lambda's retries).
    for now in [t("10:01:01"), t("10:02:01")] {
        let again = h.handle(event.clone(), now).await.unwrap();
        assert_eq!((again.repeated, again.acknowledged), (1, 0), "{again:?}");
    }
    assert_eq!(ack_of(&h, &newer).map(|a| a.at), Some(t("10:01:01")));
    assert_eq!(ack_of(&h, &older), None, "a retry does not acknowledge the next alert");
    assert_eq!(h.notifier.sent().len(), 1);
}

#[tokio::test]
async fn a_store_error_fails_the_invocation_and_the_retry_completes_it() {
    let h = handler();
    let sos = alert(RuleKind::Sos, t("10:00:00"));
    texted(&h, &sos, ANA, "cg-ana", t("10:00:02")).await;
    let event = reply(ANA, "OK", "in-1", t("10:01:00"));

    // The number's SMS cannot be read: nothing is acknowledged.
    *h.texts.failures.lock().unwrap() = 1;
    assert!(h.handle(event.clone(), t("10:01:01")).await.is_err());
    assert_eq!(ack_of(&h, &sos), None);

    // The profile read is throttled: nothing is acknowledged yet.
    h.wearers.faults.fail_next(1);
    let (result, metrics) = h.process(&event, t("10:01:01")).await;
    let err = result.unwrap_err();
    assert!(err.to_string().contains("1 of 1"), "{err}");
    assert!(!format!("{err:?}").contains(ANA), "{err:?}");
    assert_eq!(metrics.get("RepliesFailed"), 1.0);
    assert_eq!(ack_of(&h, &sos), None);

    // The sink fails after the acknowledgement and the confirmation.
    *h.lifecycle.failures.lock().unwrap() = 1;
    assert!(h.handle(event.clone(), t("10:02:00")).await.is_err());
    assert_eq!(ack_of(&h, &sos).map(|a| a.at), Some(t("10:02:00")));
    assert_eq!(h.notifier.sent().len(), 1);
    assert!(h.lifecycle.records.lock().unwrap().is_empty());

    // Lambda's retry: the sink gets the alert, no second confirmation.
    let retry = h.handle(event, t("10:03:00")).await.unwrap();
    assert_eq!(retry.repeated, 1, "{retry:?}");
    assert_eq!(h.notifier.sent().len(), 1);
    let sunk = h.lifecycle.records.lock().unwrap().clone();
    assert_eq!(sunk.len(), 1);
    assert_eq!(sunk[0].acknowledged.as_ref().map(|a| a.at), Some(t("10:02:00")));
}

#[tokio::test]
async fn a_refused_confirmation_leaves_the_acknowledgement_standing() {
    let h = handler();
    let sos = alert(RuleKind::Sos, t("10:00:00"));
    texted(&h, &sos, ANA, "cg-ana", t("10:00:02")).await;
    h.notifier.refused.lock().unwrap().push(ANA.to_owned());
    let (result, metrics) = h.process(&reply(ANA, "OK", "in-1", t("10:01:00")), t("10:01:01")).await;
    let summary = result.unwrap();
    assert_eq!((summary.acknowledged, summary.confirmations_failed), (1, 1), "{summary:?}");
    assert_eq!(metrics.get("ConfirmationsFailed"), 1.0);
    assert!(ack_of(&h, &sos).is_some());
}

/// Alerts where another caregiver acknowledges (or the rules resolve) each alert
/// between our read and our write.
#[derive(Debug, Default)]
struct Racing {
    inner: MemoryAlerts,
    resolve: bool,
}

impl AlertStore for Racing {
    async fn put_alert(&self, alert: &Alert, snoozed: bool) -> Result<bool, StoreError> {
        self.inner.put_alert(alert, snoozed).await
    }
    async fn resolve(&self, alert_id: &str, at: DateTime<Utc>) -> Result<Option<AlertRecord>, StoreError> {
        self.inner.resolve(alert_id, at).await
    }
    async fn get(&self, alert_id: &str) -> Result<Option<AlertRecord>, StoreError> {
        self.inner.get(alert_id).await
    }
    async fn transition(
        &self,
        alert_id: &str,
        step: &Transition,
        note: Option<&str>,
    ) -> Result<Option<AlertRecord>, StoreError> {
        let first = if self.resolve {
            Transition::resolve("cg-ben", step.at, Via::Api, Resolution::FalseAlarm)
        } else {
            Transition::acknowledge("cg-ben", step.at, Via::Api)
        };
        self.inner.transition(alert_id, &first, None).await?;
        self.inner.transition(alert_id, step, note).await
    }
}

#[tokio::test]
async fn a_reply_that_loses_the_race_is_late_and_confirms_nothing() {
    for resolve in [false, true] {
        let h = handler_with(Racing { resolve, ..Racing::default() });
        let sos = alert(RuleKind::Sos, t("10:00:00"));
        texted(&h, &sos, ANA, "cg-ana", t("10:00:02")).await;
        let older = alert(RuleKind::Fall, t("09:00:00"));
        texted(&h, &older, ANA, "cg-ana", t("09:00:02")).await;

        let summary = h.handle(reply(ANA, "OK", "in-1", t("10:01:00")), t("10:01:01")).await.unwrap();
        assert_eq!((summary.late, summary.acknowledged), (1, 0), "{summary:?}");
        let record = h.alerts.inner.record(sos.id.as_str()).unwrap();
        assert_ne!(record.acknowledged.as_ref().map(|a| a.by.as_str()), Some("cg-ana"));
        assert!(h.notifier.sent().is_empty());
        assert_eq!(h.alerts.inner.record(older.id.as_str()).unwrap().status, AlertStatus::Open, "nothing else taken");
        // The winner's state still reaches the sink.
        assert_eq!(h.lifecycle.records.lock().unwrap().len(), 1);

        // Late and the sink fails: no error, so no retry that would take the older alert.
        let h = handler_with(Racing { resolve, ..Racing::default() });
        texted(&h, &sos, ANA, "cg-ana", t("10:00:02")).await;
        texted(&h, &older, ANA, "cg-ana", t("09:00:02")).await;
        *h.lifecycle.failures.lock().unwrap() = 1;
        let summary = h.handle(reply(ANA, "OK", "in-1", t("10:01:00")), t("10:01:01")).await.unwrap();
        assert_eq!(summary.late, 1, "{summary:?}");
        assert_eq!(h.alerts.inner.record(older.id.as_str()).unwrap().status, AlertStatus::Open);
    }
}

#[test]
fn the_window_defaults_to_a_day_and_the_tables_are_required() {
    let all = [("DELIVERIES_TABLE", "d"), ("ALERTS_TABLE", "a"), ("WEARERS_TABLE", "w"), ("CAREGIVERS_TABLE", "c")];
    let config = ReplyConfig::from_source(&all).unwrap();
    assert_eq!(config.window, Duration::hours(24));
    assert_eq!(
        ReplyConfig::from_source(&[all[0], all[1], all[2], all[3], ("REPLY_WINDOW_HOURS", "6")]).unwrap().window,
        Duration::hours(6)
    );
    for bad in ["0", "-1", "a day"] {
        let err = ReplyConfig::from_source(&[all[0], all[1], all[2], all[3], ("REPLY_WINDOW_HOURS", bad)]).unwrap_err();
        assert!(err.to_string().contains("REPLY_WINDOW_HOURS"), "{err}");
    }
    for skip in 0..all.len() {
        let mut partial = all;
        partial[skip].0 = "UNRELATED";
        let err = ReplyConfig::from_source(&partial).unwrap_err();
        assert!(err.to_string().contains(all[skip].0), "{err}");
    }
}
