//! Integration: replies against moto's server (or LocalStack) at AWS_ENDPOINT_URL
//! (default http://127.0.0.1:4566), with the real adapters: the alert SMS recorded
//! as sent by `DynamoDeliveryLog` (the deliveries table's phone index), alerts in
//! DynamoDB, the confirmation through SNS (moto records it), the curated alerts on
//! S3. Start the endpoint with `bash localstack/endpoint.sh start`.

use chrono::{DateTime, Duration, Utc};
use sms_reply::{AwsSmsReply, Summary, inbound_event};
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::deliveries::DynamoDeliveryLog;
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_domain::alerts::{Alert, AlertId, Language, RuleKind};
use vigil_domain::care::{Caregiver, Channel, WearerProfile};
use vigil_domain::lifecycle::{AlertStatus, Transition, Via};
use vigil_domain::ports::{AlertStore, Claim, DeliveryLog};
use vigil_local::provision::{Resources, provision};

const OURS: &str = "+15555550100";

struct Setup {
    sdk: aws_config::SdkConfig,
    resources: Resources,
    profile: WearerProfile,
    /// The caregivers' numbers, unique to this test: moto records every SMS in one list.
    phones: [String; 2],
    reply: AwsSmsReply,
}

fn phone(country: &str) -> String {
    format!("+{country}{:09}", fastrand::u64(..1_000_000_000))
}

fn caregiver(id: &str, phone: &str, language: Language) -> Caregiver {
    vigil_testkit::caregiver(id, id, language, phone)
}

async fn setup() -> Setup {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources::unique("reply");
    provision(&sdk, &resources).await.unwrap();
    let phones = [phone("34"), phone("44")];
    let wearer_id = vigil_local::endpoint::unique_name("wearer");
    let profile = WearerProfile {
        wearer_id,
        name: "Carmen Ruiz".into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers: vec![caregiver("cg-1", &phones[0], Language::Es), caregiver("cg-2", &phones[1], Language::En)],
        snoozes: Default::default(),
        escalation: Default::default(),
    };
    DynamoWearerDirectory::new(vigil_aws::sdk::dynamodb(&sdk), &resources.wearers_table, &resources.caregivers_table)
        .put(&profile)
        .await
        .unwrap();
    let r = &resources;
    let key = "ab".repeat(32);
    let env = [
        ("DELIVERIES_TABLE", r.deliveries_table.as_str()),
        ("ALERTS_TABLE", r.alerts_table.as_str()),
        ("WEARERS_TABLE", r.wearers_table.as_str()),
        ("CAREGIVERS_TABLE", r.caregivers_table.as_str()),
        ("DATA_BUCKET", r.data_bucket.as_str()),
        ("CURATED_FILES_TABLE", r.curated_files_table.as_str()),
        ("PSEUDONYM_KEY", key.as_str()),
    ];
    let reply = sms_reply::build(&env, &sdk).await.unwrap();
    Setup { sdk, resources, profile, phones, reply }
}

impl Setup {
    fn alerts(&self) -> DynamoAlertStore {
        DynamoAlertStore::new(vigil_aws::sdk::dynamodb(&self.sdk), &self.resources.alerts_table)
    }

    /// Raises `rule` at `at`, and sends its SMS to every caregiver `sms_after` later,
    /// recorded as the alert path does: claimed, then marked sent.
    async fn alert_texted(&self, rule: RuleKind, at: DateTime<Utc>, sms_after: Duration) -> Alert {
        let alert = Alert {
            id: AlertId::new(&self.profile.wearer_id, rule, at),
            wearer_id: self.profile.wearer_id.clone(),
            rule,
            severity: rule.severity(),
            episode_start: at,
            raised_at: at,
            readings: vec![],
            location: None,
            value: None,
        };
        assert!(self.alerts().put_alert(&alert, false).await.unwrap());
        let log = DynamoDeliveryLog::new(vigil_aws::sdk::dynamodb(&self.sdk), &self.resources.deliveries_table);
        let sent_at = at + sms_after;
        for index in 0..self.profile.caregivers.len() {
            let delivery =
                vigil_domain::care::delivery(&alert, &self.profile, index, Channel::Sms, sent_at, None).unwrap();
            assert_eq!(log.claim(&delivery, sent_at).await.unwrap(), Claim::Granted);
            log.sent(&delivery, &format!("sns-{}", fastrand::u64(..)), sent_at).await.unwrap();
        }
        alert
    }

    async fn status(&self, alert: &Alert) -> (AlertStatus, Option<Transition>) {
        let record = self.alerts().get(alert.id.as_str()).await.unwrap().unwrap();
        (record.status, record.acknowledged)
    }

    async fn send(&self, from: &str, body: &str, id: &str) -> Summary {
        self.reply.handle(inbound_event(from, OURS, body, id), Utc::now()).await.unwrap()
    }

    /// The curated alert files registered for the warehouse.
    async fn curated_files(&self) -> usize {
        let out = vigil_aws::sdk::dynamodb(&self.sdk)
            .scan()
            .table_name(&self.resources.curated_files_table)
            .send()
            .await
            .unwrap();
        out.items().iter().filter(|i| i.get("file_key").and_then(|k| k.as_s().ok()).is_some()).count()
    }
}

async fn sms_to(phone: &str) -> Vec<String> {
    let url = vigil_local::endpoint::url();
    let all = tokio::task::spawn_blocking(move || vigil_local::moto::recorded_sms(&url)).await.unwrap().unwrap();
    all.into_iter().filter(|m| m.phone_number == phone).map(|m| m.message).collect()
}

#[tokio::test]
async fn a_yes_acknowledges_through_sms_as_the_caregiver_and_confirms_once() {
    let s = setup().await;
    let sos = s.alert_texted(RuleKind::Sos, Utc::now() - Duration::minutes(3), Duration::seconds(2)).await;

    let before = Utc::now();
    let summary = s.send(&s.phones[0], "sí", "in-1").await;
    assert_eq!((summary.acknowledged, summary.confirmations_sent), (1, 1), "{summary:?}");

    let (status, ack) = s.status(&sos).await;
    assert_eq!(status, AlertStatus::Acknowledged);
    let ack = ack.unwrap();
    assert_eq!((ack.by.as_str(), ack.via), ("cg-1", Via::Sms));
    assert!(ack.at >= before);

    // Exactly one SMS to the number that replied: the confirmation, in Spanish.
    let confirmation = vigil_domain::reply::confirmation(Language::Es, "Carmen Ruiz");
    assert_eq!(sms_to(&s.phones[0]).await, vec![confirmation]);
    assert!(sms_to(&s.phones[1]).await.is_empty(), "the other caregiver is not told");
    // The acknowledgement reaches the warehouse's curated alerts.
    assert!(s.curated_files().await >= 1);
}

#[tokio::test]
async fn a_no_an_unknown_number_and_a_malformed_message_change_nothing() {
    let s = setup().await;
    let fall = s.alert_texted(RuleKind::Fall, Utc::now() - Duration::minutes(3), Duration::seconds(2)).await;

    let no = s.send(&s.phones[0], "no", "in-1").await;
    assert_eq!(no.not_acknowledging, 1, "{no:?}");
    let stranger = phone("33");
    let unknown = s.send(&stranger, "OK", "in-2").await;
    assert_eq!(unknown.unknown_number, 1, "{unknown:?}");
    let mut malformed = inbound_event(&s.phones[0], OURS, "OK", "in-3");
    malformed.records[0].sns.message = "OK".into();
    let summary = s.reply.handle(malformed, Utc::now()).await.unwrap();
    assert_eq!(summary.malformed, 1, "{summary:?}");

    assert_eq!(s.status(&fall).await, (AlertStatus::Open, None));
    assert!(sms_to(&s.phones[0]).await.is_empty());
    assert!(sms_to(&stranger).await.is_empty());
}

#[tokio::test]
async fn of_two_alerts_texted_the_most_recent_open_one_is_acknowledged() {
    let s = setup().await;
    let now = Utc::now();
    let older = s.alert_texted(RuleKind::HeartRateHigh, now - Duration::minutes(40), Duration::seconds(5)).await;
    let newer = s.alert_texted(RuleKind::Sos, now - Duration::minutes(5), Duration::seconds(5)).await;

    let summary = s.send(&s.phones[1], "YES", "in-1").await;
    assert_eq!(summary.acknowledged, 1, "{summary:?}");
    let (status, ack) = s.status(&newer).await;
    assert_eq!((status, ack.map(|a| a.by)), (AlertStatus::Acknowledged, Some("cg-2".to_owned())));
    assert_eq!(s.status(&older).await, (AlertStatus::Open, None));
    let english = vigil_domain::reply::confirmation(Language::En, "Carmen Ruiz");
    assert_eq!(sms_to(&s.phones[1]).await, vec![english]);
}

#[tokio::test]
async fn an_alert_someone_acknowledged_is_passed_over_for_the_next_open_one() {
    let s = setup().await;
    let now = Utc::now();
    let older = s.alert_texted(RuleKind::Spo2Low, now - Duration::minutes(30), Duration::seconds(5)).await;
    let newer = s.alert_texted(RuleKind::Fall, now - Duration::minutes(4), Duration::seconds(5)).await;
    // The other caregiver took the newest in the app.
    let theirs = Transition::acknowledge("cg-2", now - Duration::minutes(2), Via::Api);
    s.alerts().transition(newer.id.as_str(), &theirs, None).await.unwrap();

    let summary = s.send(&s.phones[0], "1", "in-1").await;
    assert_eq!(summary.acknowledged, 1, "{summary:?}");
    assert_eq!(s.status(&newer).await.1, Some(theirs), "the first acknowledgement stands");
    let (status, ack) = s.status(&older).await;
    assert_eq!(status, AlertStatus::Acknowledged);
    assert_eq!(ack.map(|a| (a.by, a.via)), Some(("cg-1".to_owned(), Via::Sms)));
    assert_eq!(sms_to(&s.phones[0]).await.len(), 1);
}

#[tokio::test]
async fn the_same_event_delivered_twice_acknowledges_and_confirms_once() {
    let s = setup().await;
    let now = Utc::now();
    let older = s.alert_texted(RuleKind::Fall, now - Duration::minutes(20), Duration::seconds(3)).await;
    let newer = s.alert_texted(RuleKind::Sos, now - Duration::minutes(2), Duration::seconds(3)).await;
    let event = inbound_event(&s.phones[0], OURS, "Ok", "in-1");

    let first = s.reply.handle(event.clone(), Utc::now()).await.unwrap();
    assert_eq!(first.acknowledged, 1, "{first:?}");
    let acknowledged = s.status(&newer).await.1.unwrap();
    let again = s.reply.handle(event, Utc::now() + Duration::minutes(1)).await.unwrap();
    assert_eq!((again.repeated, again.acknowledged), (1, 0), "{again:?}");

    assert_eq!(s.status(&newer).await.1, Some(acknowledged), "one acknowledgement");
    assert_eq!(s.status(&older).await, (AlertStatus::Open, None), "the retry took nothing else");
    assert_eq!(sms_to(&s.phones[0]).await.len(), 1, "one confirmation");
}
