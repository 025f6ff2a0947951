//! ack-link built by its own `build` on the local endpoint (moto): the tables as
//! `vigil_local::provision` makes them, requests as API Gateway's payload-v2 events.
//! GET shows the button and changes nothing; POST acknowledges through the link as the
//! caregiver the token names, and hands the alert to the curated alerts; a second
//! caregiver's POST is told who was first; and every kind of bad link is refused
//! without a 500.

use chrono::{DateTime, Duration, Utc};
use lambda_http::{Body, Request};
use serde_json::json;
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_domain::alerts::{Alert, AlertId, Language, RuleKind};
use vigil_domain::care::{Caregiver, WearerProfile};
use vigil_domain::lifecycle::{AlertStatus, Outcome, Transition, Via};
use vigil_domain::link::{LINK_TTL, LinkClaim, LinkKey};
use vigil_domain::ports::AlertStore;
use vigil_domain::reading::Location;
use vigil_local::provision::Resources;

const LINK_KEY: &str = "an acknowledgement link key of the tests, 32+ bytes";
const PSEUDONYM_KEY: &str = "abababababababababababababababababababababababababababababababab";

struct Fixture {
    link: ack_link::AwsAckLink,
    alerts: DynamoAlertStore,
    s3: aws_sdk_s3::Client,
    resources: Resources,
    key: LinkKey,
}

fn caregiver(id: &str, name: &str, language: Language) -> Caregiver {
    vigil_testkit::caregiver(id, name, language, "+34600111222")
}

fn sos(wearer_id: &str, at: DateTime<Utc>) -> Alert {
    Alert {
        id: AlertId::new(wearer_id, RuleKind::Sos, at),
        wearer_id: wearer_id.into(),
        rule: RuleKind::Sos,
        severity: RuleKind::Sos.severity(),
        episode_start: at,
        raised_at: at,
        readings: vec![],
        location: Some(Location { lat: 40.41678, lon: -3.70379, accuracy_m: Some(8.0) }),
        value: None,
    }
}

/// `w-1` (named `wearer_name`) cared for by Ana (es) and Ben (en), and ack-link as deployed.
async fn setup(wearer_name: &str) -> Fixture {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources { stream_shards: 1, ..Resources::unique("ack-link") };
    vigil_local::provision::provision(&sdk, &resources).await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let profile = WearerProfile {
        wearer_id: "w-1".into(),
        name: wearer_name.into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers: vec![caregiver("cg-ana", "Ana", Language::Es), caregiver("cg-ben", "Ben", Language::En)],
        snoozes: Default::default(),
        escalation: Default::default(),
    };
    DynamoWearerDirectory::new(dynamodb.clone(), &resources.wearers_table, &resources.caregivers_table)
        .put(&profile)
        .await
        .unwrap();
    let env = [
        ("ALERTS_TABLE", resources.alerts_table.as_str()),
        ("WEARERS_TABLE", resources.wearers_table.as_str()),
        ("CAREGIVERS_TABLE", resources.caregivers_table.as_str()),
        ("LINK_KEY", LINK_KEY),
        ("DATA_BUCKET", resources.data_bucket.as_str()),
        ("CURATED_FILES_TABLE", resources.curated_files_table.as_str()),
        ("PSEUDONYM_KEY", PSEUDONYM_KEY),
    ];
    let link = ack_link::build(&env, &sdk).await.unwrap();
    Fixture {
        link,
        alerts: DynamoAlertStore::new(dynamodb, &resources.alerts_table),
        s3: aws_sdk_s3::Client::new(&sdk),
        key: LinkKey::new(LINK_KEY.as_bytes()).unwrap(),
        resources,
    }
}

impl Fixture {
    /// The token of caregiver `index` for `alert_id`, sent a few minutes ago.
    fn token(&self, alert_id: &str, index: u8) -> String {
        self.key.sign(&LinkClaim::new(alert_id, index, Utc::now() - Duration::minutes(3) + LINK_TTL).unwrap())
    }

    /// `(status, body)` of `method rawPath` as API Gateway (payload v2, no authorizer) sends it.
    async fn call(&self, method: &str, raw_path: &str) -> (u16, String) {
        let event = json!({
            "version": "2.0", "routeKey": format!("{method} /a/{{token}}"), "rawPath": raw_path,
            "rawQueryString": "", "headers": {"accept-language": "en-GB,en;q=0.9", "user-agent": "test"},
            "requestContext": {"accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1",
                "domainPrefix": "local", "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1", "userAgent": "test"}, "requestId": "r-1", "routeKey": "$default",
                "stage": "$default", "time": "22/Nov/2026:10:00:00 +0000", "timeEpoch": 0},
            "body": "", "isBase64Encoded": false
        });
        let request: Request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(r) => r,
            // What the runtime cannot even read never reaches the handler: not ours to answer.
            Err(e) => panic!("{raw_path}: not an event lambda_http reads: {e}"),
        };
        let response = self.link.handle(request).await;
        let body = match response.body() {
            Body::Text(t) => t.clone(),
            other => panic!("not a text body: {other:?}"),
        };
        (response.status().as_u16(), body)
    }

    /// The curated alert files written so far.
    async fn curated(&self) -> Vec<String> {
        let listed = self
            .s3
            .list_objects_v2()
            .bucket(&self.resources.data_bucket)
            .prefix("curated/alerts/")
            .send()
            .await
            .unwrap();
        listed.contents().iter().filter_map(|o| o.key().map(str::to_owned)).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_shows_the_button_and_post_acknowledges_through_the_link() {
    let f = setup("Carmen Ruiz").await;
    let alert = sos("w-1", Utc::now() - Duration::minutes(3));
    assert!(f.alerts.put_alert(&alert, false).await.unwrap());
    let ben = format!("/a/{}", f.token(alert.id.as_str(), 1));
    let ana = format!("/a/{}", f.token(alert.id.as_str(), 0));

    // GET (an SMS app's preview, then the caregiver): the alert and its button, nothing changed.
    for _ in 0..2 {
        let (status, page) = f.call("GET", &ben).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("<h1>SOS: Carmen</h1>") && page.contains("Carmen pressed the SOS button"), "{page}");
        assert_eq!(page.matches("<button").count(), 1);
        assert!(page.contains("I&#39;m on my way</button>"), "{page}");
        assert!(page.contains("openstreetmap.org"), "a map for an SOS with a location");
    }
    let stored = f.alerts.get(alert.id.as_str()).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.history.len()), (AlertStatus::Open, 0), "GET never acknowledges");
    assert!(f.curated().await.is_empty());

    // Ben's POST: acknowledged by Ben, through the link; the warehouse gets its file.
    let (status, page) = f.call("POST", &ben).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Thanks, Ben: the other caregivers see you are on your way."), "{page}");
    let stored = f.alerts.get(alert.id.as_str()).await.unwrap().unwrap();
    let ack = stored.acknowledged.clone().unwrap();
    assert_eq!((stored.status, ack.by.as_str(), ack.via), (AlertStatus::Acknowledged, "cg-ben", Via::Link));
    assert_eq!(stored.history.len(), 1);
    assert_eq!(f.curated().await.len(), 1, "the acknowledged state's curated file");

    // Ana's link, later: Ben's acknowledgement stands, and she is told so, in Spanish.
    let (status, page) = f.call("POST", &ana).await;
    assert_eq!(status, 200);
    assert!(page.contains("Ben ya va para allá.") && page.contains("Desde: "), "{page}");
    assert!(!page.contains("<button"), "{page}");
    let (_, page) = f.call("GET", &ana).await;
    assert!(page.contains("Ben ya va para allá.") && !page.contains("<form"), "{page}");
    let after = f.alerts.get(alert.id.as_str()).await.unwrap().unwrap();
    assert_eq!(after.acknowledged, stored.acknowledged, "the first acknowledgement stands");
    assert_eq!(after.history.len(), 1);
    assert_eq!(f.curated().await.len(), 1, "the same state, the same file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_links_are_refused_and_none_is_a_500() {
    let f = setup("<script>alert(1)</script>").await;
    let now = Utc::now();
    let alert = sos("w-1", now - Duration::minutes(3));
    let resolved = sos("w-1", now - Duration::hours(2));
    for a in [&alert, &resolved] {
        assert!(f.alerts.put_alert(a, false).await.unwrap());
    }
    let step = Transition::resolve("cg-ana", now - Duration::hours(1), Via::Api, Outcome::FalseAlarm);
    f.alerts.transition(resolved.id.as_str(), &step, None).await.unwrap();

    // The hostile name is text.
    let (status, page) = f.call("GET", &format!("/a/{}", f.token(alert.id.as_str(), 1))).await;
    assert_eq!(status, 200);
    assert!(!page.contains("<script") && page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");

    // Resolved: said so, no button, for GET and POST alike, and it stays resolved.
    let path = format!("/a/{}", f.token(resolved.id.as_str(), 1));
    for method in ["GET", "POST"] {
        let (status, page) = f.call(method, &path).await;
        assert_eq!(status, 200);
        assert!(page.contains("This alert has been resolved.") && !page.contains("<button"), "{page}");
    }
    let stored = f.alerts.get(resolved.id.as_str()).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.acknowledged), (AlertStatus::Resolved, None));

    // Expired: 410.
    let expired = f.key.sign(&LinkClaim::new(alert.id.as_str(), 1, now - Duration::seconds(5)).unwrap());
    let (status, page) = f.call("POST", &format!("/a/{expired}")).await;
    assert_eq!(status, 410);
    assert!(page.contains("This link has expired"), "{page}");

    // Not valid: one page, 404, whatever the reason.
    let good = f.token(alert.id.as_str(), 1);
    let mut forged = good.clone().into_bytes();
    forged[30] = if forged[30] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let paths = [
        format!("/a/{forged}"),
        format!("/a/{}", f.token(&"0123456789abcdef".repeat(2), 1)),
        format!("/a/{}", f.token(alert.id.as_str(), 2)),
        format!("/a/{}", f.token(alert.id.as_str(), 255)),
        format!("/a/{}", "A".repeat(10_000)),
        format!("/a/{}", &good[..47]),
        "/a/%C3%A9t%C3%A9".into(),
        "/a/été".into(),
        format!("/a/{}é", &good[..46]),
        "/a/..%2F..%2Fetc%2Fpasswd".into(),
        "/a/../../etc/passwd".into(),
        "/a/%00%0A".into(),
    ];
    let (_, expected) = f.call("GET", &paths[0]).await;
    assert!(expected.contains("<h1>This link is not valid</h1>"), "{expected}");
    for path in &paths {
        for method in ["GET", "POST"] {
            let (status, page) = f.call(method, path).await;
            let shown = &path[..path.len().min(80)];
            assert_eq!(status, 404, "{method} {shown}: {page}");
            assert_eq!(page, expected, "{method} {shown}: the same page for every invalid link");
        }
    }
    let stored = f.alerts.get(alert.id.as_str()).await.unwrap().unwrap();
    assert_eq!(stored.status, AlertStatus::Open, "nothing acknowledged it");
    assert_eq!(f.curated().await.len(), 1, "only the resolved alert's POSTs handed a state on (one state, one file)");
}
