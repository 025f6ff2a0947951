//! `GET /v1/wearers/{id}/days` and `PUT /v1/wearers/{id}/daily` on the local endpoint
//! (moto's server), care-api built by its own `build` on freshly provisioned
//! resources: days read back in order for a range and by default, each bad query and
//! body named, the authorization matrix of both routes, and the opt-in kept on the
//! caller's one caregiver record (so it holds for all their wearers).

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use lambda_http::Body;
use serde_json::{Value, json};
use vigil_aws::caregivers::DynamoCaregiverDirectory;
use vigil_aws::days::{DEFAULT_TTL_DAYS, DynamoDays};
use vigil_aws::wearers::{DynamoCaregiverLinks, DynamoWearerDirectory};
use vigil_domain::alerts::Language;
use vigil_domain::care::{Caregiver, QuietHours, WearerProfile};
use vigil_domain::days::{DaySummary, SUMMARY_VERSION};
use vigil_domain::ports::{DaysStore, WearerDirectory};
use vigil_local::provision::{Resources, provision};

/// Madrid is at 00:30 on 2026-12-03 (UTC+1): its yesterday is 2026-12-02, UTC's is 2026-12-01.
const NOW: &str = "2026-12-02T23:30:00Z";
const ANA: &str = "sub-ana";
const BEN: &str = "sub-ben";
const ZOE: &str = "sub-zoe";
/// A caregiver whose details are still embedded in the wearer's item: no record.
const OLD: &str = "sub-old";

struct Fixture {
    care: care_api::AwsCare,
    days: DynamoDays,
    wearers: DynamoWearerDirectory,
    caregivers: DynamoCaregiverDirectory,
}

fn caregiver(id: &str, sub: &str, name: &str) -> Caregiver {
    Caregiver {
        id: id.into(),
        level: 1,
        sub: Some(sub.into()),
        name: Some(name.into()),
        language: Language::Es,
        phone: Some("+34600000001".into()),
        push_endpoint: None,
        quiet_hours: None,
        daily_at: None,
    }
}

fn profile(wearer_id: &str, time_zone: &str, caregivers: Vec<Caregiver>) -> WearerProfile {
    WearerProfile {
        wearer_id: wearer_id.into(),
        name: "Carmen Ruiz".into(),
        time_zone: time_zone.into(),
        thresholds: Default::default(),
        caregivers,
        snoozes: Default::default(),
        escalation: Default::default(),
    }
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A day whose figures say which day it is (steps = day of the year), so a day
/// answered for another date or another wearer shows.
fn day(on: NaiveDate, steps_offset: i64) -> DaySummary {
    DaySummary {
        date: on,
        complete: on.day().is_multiple_of(2),
        day_minutes: 1440,
        worn_minutes: 1300,
        sleep_minutes: 420,
        wake_ups: 1,
        restlessness: Some(3.5),
        steps: i64::from(on.ordinal()) + steps_offset,
        active_minutes: 200,
        resting_hr: Some(61.5),
        lowest_spo2: None,
        alerts: 0,
        acked: 0,
        ack_median_secs: None,
        version: SUMMARY_VERSION,
    }
}

/// Every date from `from` to `to`, both included.
fn dates(from: &str, to: &str) -> Vec<NaiveDate> {
    date(from).iter_days().take_while(|d| *d <= date(to)).collect()
}

/// `w-own` (Madrid) cared for by Ana and Ben (Ben with quiet hours in London),
/// `w-two` (São Paulo) by Ana too, `w-other` by Zoe, `w-old` by a caregiver with no
/// record of their own. `w-own` has the days 2026-11-01 to 2026-12-02 but 11-25,
/// written newest first; `w-other` the same dates with other figures.
async fn setup(prefix: &str) -> Fixture {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources { stream_shards: 1, ..Resources::unique(prefix) };
    provision(&sdk, &resources).await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let wearers = DynamoWearerDirectory::new(dynamodb.clone(), &resources.wearers_table, &resources.caregivers_table);
    let links = DynamoCaregiverLinks::new(dynamodb.clone(), &resources.caregiver_links_table);
    let mut ben = caregiver("cg-ben", BEN, "Ben");
    ben.quiet_hours = Some(QuietHours {
        start: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        time_zone: "Europe/London".into(),
    });
    for p in [
        profile("w-own", "Europe/Madrid", vec![caregiver("cg-ana", ANA, "Ana"), ben]),
        profile("w-two", "America/Sao_Paulo", vec![caregiver("cg-ana", ANA, "Ana")]),
        profile("w-other", "Europe/Madrid", vec![caregiver("cg-zoe", ZOE, "Zoe")]),
    ] {
        wearers.put(&p).await.unwrap();
        links.link(&p).await.unwrap();
    }
    // As written before caregivers had records: the details embedded in the links.
    let old = profile("w-old", "Europe/Madrid", vec![caregiver("cg-old", OLD, "Olga")]);
    let item = serde_dynamo::to_item(&old).unwrap();
    dynamodb.put_item().table_name(&resources.wearers_table).set_item(Some(item)).send().await.unwrap();
    links.link(&old).await.unwrap();

    let days = DynamoDays::new(dynamodb, &resources.days_table, DEFAULT_TTL_DAYS);
    for on in without(dates("2026-11-01", "2026-12-02"), "2026-11-25").into_iter().rev() {
        days.put_day("w-own", &day(on, 0)).await.unwrap();
        days.put_day("w-other", &day(on, 10_000)).await.unwrap();
    }

    let env = [
        ("WEARERS_TABLE", resources.wearers_table.as_str()),
        ("CAREGIVERS_TABLE", &resources.caregivers_table),
        ("CAREGIVER_LINKS_TABLE", &resources.caregiver_links_table),
        ("ALERTS_TABLE", &resources.alerts_table),
        ("VITALS_TABLE", &resources.vitals_table),
        ("DAYS_TABLE", &resources.days_table),
    ];
    let care = care_api::build(&env, &sdk).await.unwrap();
    let caregivers = wearers.caregivers().clone();
    Fixture { care, days, wearers, caregivers }
}

impl Fixture {
    /// `(status, body)` of `method path` (with its query) as the account `sub`
    /// (none: no caller), at [`NOW`].
    async fn call(&self, method: &str, path: &str, sub: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let authorizer = sub.map_or(Value::Null, |s| json!({"jwt": {"claims": {"sub": s}, "scopes": null}}));
        let event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
            "headers": {"accept": "application/json", "content-type": "application/json"},
            "body": body.map(|b| b.to_string()),
            "requestContext": {
                "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1", "domainPrefix": "local",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
                "authorizer": authorizer,
                "requestId": "test", "routeKey": "$default", "stage": "$default", "time": "", "timeEpoch": 0
            },
            "isBase64Encoded": false
        });
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let now: DateTime<Utc> = NOW.parse().unwrap();
        let (response, _) = self.care.process(request, now).await;
        let body = match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap(),
            Body::Empty => Value::Null,
            _ => panic!("{method} {path}: an unexpected body"),
        };
        (response.status().as_u16(), body)
    }

    /// The dates of `GET …/days{query}` as Ana, checking each day is `w-own`'s as stored.
    async fn days_of(&self, wearer: &str, query: &str) -> (Value, Vec<NaiveDate>) {
        let (status, body) = self.call("GET", &format!("/v1/wearers/{wearer}/days{query}"), Some(ANA), None).await;
        assert_eq!(status, 200, "{query}: {body}");
        let days: Vec<DaySummary> = serde_json::from_value(body["days"].clone()).unwrap();
        let offset = if wearer == "w-own" { 0 } else { 10_000 };
        for d in &days {
            assert_eq!(*d, day(d.date, offset), "{wearer} {query}: the day as stored");
        }
        (body, days.iter().map(|d| d.date).collect())
    }

    /// The caregiver's stored record.
    async fn record(&self, id: &str) -> Caregiver {
        self.caregivers.caregiver(id).await.unwrap().unwrap()
    }
}

fn without(mut all: Vec<NaiveDate>, gap: &str) -> Vec<NaiveDate> {
    all.retain(|d| *d != date(gap));
    all
}

#[tokio::test]
async fn days_come_oldest_first_for_the_range_and_default_to_the_wearers_last_two_weeks() {
    let f = setup("care-days").await;
    // A range with the gap (a day never computed is left out, not zero).
    let (body, got) = f.days_of("w-own", "?from=2026-11-20&to=2026-11-27").await;
    assert_eq!(got, without(dates("2026-11-20", "2026-11-27"), "2026-11-25"));
    assert_eq!(
        (&body["wearer_id"], &body["time_zone"], &body["from"], &body["to"]),
        (&json!("w-own"), &json!("Europe/Madrid"), &json!("2026-11-20"), &json!("2026-11-27"))
    );
    // One day; and the longest range, 92 days, of which 31 are stored.
    assert_eq!(f.days_of("w-own", "?from=2026-11-30&to=2026-11-30").await.1, [date("2026-11-30")]);
    let (_, all) = f.days_of("w-own", "?from=2026-09-02&to=2026-12-02").await;
    assert_eq!(all, without(dates("2026-11-01", "2026-12-02"), "2026-11-25"));

    // No range: the 14 days to yesterday in Madrid (2026-12-02, while UTC is still on the 2nd).
    let (body, got) = f.days_of("w-own", "").await;
    assert_eq!((&body["from"], &body["to"]), (&json!("2026-11-19"), &json!("2026-12-02")));
    assert_eq!(got, without(dates("2026-11-19", "2026-12-02"), "2026-11-25"));
    // Only `to`: the 14 days ending there (the first stored is 11-01).
    let (body, got) = f.days_of("w-own", "?to=2026-11-10").await;
    assert_eq!(body["from"], "2026-10-28");
    assert_eq!(got, dates("2026-11-01", "2026-11-10"));
    // Only `from`: up to yesterday.
    assert_eq!(f.days_of("w-own", "?from=2026-11-30").await.1, dates("2026-11-30", "2026-12-02"));
    // Nothing stored in the range: an empty list.
    assert_eq!(f.days_of("w-own", "?from=2026-01-01&to=2026-01-31").await.1, []);

    // A caregiver of two wearers reads each one's own days in its own zone.
    let (body, got) = f.days_of("w-two", "").await;
    assert_eq!((&body["time_zone"], &body["to"], got.len()), (&json!("America/Sao_Paulo"), &json!("2026-12-01"), 0));
    // Zoe's wearer has days of its own, never mixed with Ana's.
    let (status, zoe) = f.call("GET", "/v1/wearers/w-other/days?from=2026-11-20&to=2026-11-21", Some(ZOE), None).await;
    assert_eq!(status, 200);
    assert_eq!(zoe["days"][0]["steps"], json!(i64::from(date("2026-11-20").ordinal()) + 10_000));
    f.days.put_day("w-own", &day(date("2026-11-25"), 0)).await.unwrap();
    assert_eq!(f.days_of("w-own", "?from=2026-11-24&to=2026-11-26").await.1, dates("2026-11-24", "2026-11-26"));
}

#[tokio::test]
async fn each_bad_days_query_and_daily_body_is_a_400_naming_its_field() {
    let f = setup("care-days-400").await;
    let queries: [(&str, &[&str]); 9] = [
        ("?from=2026-11-31", &["from"]),
        ("?to=yesterday", &["to"]),
        ("?from=2026-1-01&to=2026-11-01T00:00:00Z", &["from", "to"]),
        ("?from=2026-11-05&to=2026-11-04", &["to"]),
        ("?from=2026-11-01&to=2027-02-01", &["to"]),
        ("?from=2026-12-03", &["from"]),
        ("?from=2026-01-01", &["from"]),
        ("?from=", &["from"]),
        ("?from=22%2F11%2F2026", &["from"]),
    ];
    for (query, fields) in queries {
        let (status, body) = f.call("GET", &format!("/v1/wearers/w-own/days{query}"), Some(ANA), None).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"], "invalid_request");
        let named: Vec<&str> =
            body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(named, fields, "{query}: {body}");
    }

    let before = f.record("cg-ana").await;
    for body in [
        json!({}),
        json!({"at": "8:30"}),
        json!({"at": "24:00"}),
        json!({"at": "08:30:00"}),
        json!({"at": 830}),
        json!({"at": true}),
        json!({"time": "08:30"}),
    ] {
        let (status, answer) = f.call("PUT", "/v1/wearers/w-own/daily", Some(ANA), Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["errors"], json!([{"field": "at", "message": answer["errors"][0]["message"]}]), "{body}");
    }
    let (status, answer) = f.call("PUT", "/v1/wearers/w-own/daily", Some(ANA), Some(json!(["08:30"]))).await;
    assert_eq!((status, &answer["errors"][0]["field"]), (400, &json!("")), "{answer}");
    assert_eq!(f.record("cg-ana").await, before, "a refused body changes nothing");
}

#[tokio::test]
async fn both_routes_answer_only_the_wearers_caregivers_and_the_same_404_otherwise() {
    let f = setup("care-days-auth").await;
    let routes: [(&str, &str, Option<Value>); 2] =
        [("GET", "/v1/wearers/{id}/days", None), ("PUT", "/v1/wearers/{id}/daily", Some(json!({"at": "07:15"})))];
    let zoe_before = f.record("cg-zoe").await;
    for (method, path, body) in &routes {
        let at = |id: &str| path.replace("{id}", id);
        let (other, other_body) = f.call(method, &at("w-other"), Some(ANA), body.clone()).await;
        let (none, none_body) = f.call(method, &at("w-nobody"), Some(ANA), body.clone()).await;
        let (odd, odd_body) = f.call(method, &at("w%20own"), Some(ANA), body.clone()).await;
        assert_eq!((other, none, odd), (404, 404, 404), "{method} {path}: {other_body} / {none_body}");
        assert_eq!(other_body, none_body, "{method} {path}: another's and a nonexistent wearer answer alike");
        assert_eq!(odd_body, none_body);
        // Signed in, caring for nobody; and no caller at all.
        assert_eq!(f.call(method, &at("w-own"), Some("sub-nobody"), body.clone()).await.0, 404);
        let (status, unauthorized) = f.call(method, &at("w-own"), None, body.clone()).await;
        assert_eq!((status, &unauthorized["error"]), (401, &json!("unauthorized")));
        // The other method of each route.
        let wrong = if *method == "GET" { "PUT" } else { "GET" };
        let (status, refused) = f.call(wrong, &at("w-own"), Some(ANA), body.clone()).await;
        assert_eq!((status, &refused["error"]), (405, &json!("method_not_allowed")), "{wrong} {path}");
        for sub in [ANA, BEN] {
            let (status, answer) = f.call(method, &at("w-own"), Some(sub), body.clone()).await;
            assert_eq!(status, 200, "{method} {path} as {sub}: {answer}");
        }
    }
    assert_eq!(f.record("cg-zoe").await, zoe_before, "Ana's request on Zoe's wearer touched nothing of Zoe's");
    assert_eq!(f.record("cg-ana").await.daily_at, NaiveTime::from_hms_opt(7, 15, 0));
}

#[tokio::test]
async fn the_opt_in_is_kept_on_the_callers_one_record_for_all_their_wearers() {
    let f = setup("care-daily").await;
    let ana_before = f.record("cg-ana").await;
    let (status, set) = f.call("PUT", "/v1/wearers/w-own/daily", Some(ANA), Some(json!({"at": "08:30"}))).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(
        set,
        json!({"wearer_id": "w-own", "caregiver_id": "cg-ana", "at": "08:30", "time_zone": "Europe/Madrid"})
    );
    // Stored on Ana's record, everything else of it as it was; Ben's untouched.
    let at = NaiveTime::from_hms_opt(8, 30, 0);
    assert_eq!(f.record("cg-ana").await, Caregiver { daily_at: at, ..ana_before.clone() });
    assert_eq!(f.record("cg-ben").await.daily_at, None);
    // Opted in once, for both her wearers: each profile resolves her record with it.
    for wearer in ["w-own", "w-two"] {
        let profile = f.wearers.wearer(wearer).await.unwrap().unwrap();
        assert_eq!(profile.caregiver_by_sub(ANA).unwrap().daily_at, at, "{wearer}");
    }
    // Sent again: the same answer, the same record.
    let (_, again) = f.call("PUT", "/v1/wearers/w-own/daily", Some(ANA), Some(json!({"at": "08:30"}))).await;
    assert_eq!(again, set);

    // Opting out through her other wearer: off for both, and the zone there is its own.
    let (status, off) = f.call("PUT", "/v1/wearers/w-two/daily", Some(ANA), Some(json!({"at": null}))).await;
    assert_eq!(status, 200, "{off}");
    assert_eq!(
        off,
        json!({"wearer_id": "w-two", "caregiver_id": "cg-ana", "at": null, "time_zone": "America/Sao_Paulo"})
    );
    assert_eq!(f.record("cg-ana").await, ana_before);
    for wearer in ["w-own", "w-two"] {
        let profile = f.wearers.wearer(wearer).await.unwrap().unwrap();
        assert_eq!(profile.caregiver_by_sub(ANA).unwrap().daily_at, None, "{wearer}");
    }
    // A caregiver with quiet hours: the time is read in their own zone.
    let (_, ben) = f.call("PUT", "/v1/wearers/w-own/daily", Some(BEN), Some(json!({"at": "19:05"}))).await;
    assert_eq!((&ben["at"], &ben["time_zone"]), (&json!("19:05"), &json!("Europe/London")));
    assert_eq!(f.record("cg-ben").await.daily_at, NaiveTime::from_hms_opt(19, 5, 0));
}

#[tokio::test]
async fn a_caregiver_without_a_record_reads_days_but_gets_409_for_the_setting() {
    let f = setup("care-daily-old").await;
    let (status, _) = f.call("GET", "/v1/wearers/w-old/days", Some(OLD), None).await;
    assert_eq!(status, 200);
    let (status, body) = f.call("PUT", "/v1/wearers/w-old/daily", Some(OLD), Some(json!({"at": "08:30"}))).await;
    assert_eq!((status, &body["error"]), (409, &json!("no_caregiver_record")), "{body}");
    assert_eq!(f.caregivers.caregiver("cg-old").await.unwrap(), None, "no record was made up");
    let raw = f.wearers.wearer("w-old").await.unwrap().unwrap();
    assert_eq!(raw.caregivers[0].daily_at, None);
}
