//! The caregivers' API end to end: the local API Gateway (routes and authorizers
//! from the declarations) in front of care-api built by its own `build`, on the
//! local endpoint. The authorization matrix: every route × {own, another
//! caregiver's, nonexistent} ids, and no token, an expired token and an app
//! user's token; then the alert lifecycle as two caregivers race for it.

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::wearers::{DynamoCaregiverLinks, DynamoWearerDirectory};
use vigil_domain::alerts::{Alert, AlertId, RuleKind};
use vigil_domain::care::{Caregiver, WearerProfile};
use vigil_domain::ports::AlertStore;
use vigil_local::declaration::Users;
use vigil_run::gateway::{self, LocalIssuer};
use vigil_run::pipeline::{ApiBackend, Env};

struct Api {
    base: String,
    issuer: Arc<LocalIssuer>,
    agent: ureq::Agent,
    alerts: DynamoAlertStore,
    server: tokio::task::JoinHandle<()>,
}

impl Api {
    /// `(status, body)` of `method path` with `token` (none: no Authorization header).
    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let (agent, url) = (self.agent.clone(), format!("{}{path}", self.base));
        let (method, token) = (method.to_owned(), token.map(str::to_owned));
        tokio::task::spawn_blocking(move || {
            let request = ureq::http::Request::builder().method(method.as_str()).uri(url);
            let request = match &token {
                Some(t) => request.header("authorization", format!("Bearer {t}")),
                None => request,
            };
            let mut response = match body {
                Some(b) => agent.run(request.header("content-type", "application/json").body(b.to_string()).unwrap()),
                None => agent.run(request.body(()).unwrap()),
            }
            .unwrap();
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
        })
        .await
        .unwrap()
    }

    fn caregiver(&self, sub: &str) -> String {
        self.issuer.token(Users::Caregivers, sub)
    }
}

fn caregiver(id: &str, sub: &str, name: &str) -> Caregiver {
    Caregiver {
        id: id.into(),
        level: 1,
        sub: Some(sub.into()),
        name: Some(name.into()),
        language: Default::default(),
        phone: None,
        push_endpoint: None,
        quiet_hours: None,
        daily_at: None,
    }
}

fn profile(wearer_id: &str, caregivers: Vec<Caregiver>) -> WearerProfile {
    WearerProfile {
        wearer_id: wearer_id.into(),
        name: "Carmen Ruiz".into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers,
        snoozes: Default::default(),
        escalation: Default::default(),
    }
}

fn alert(wearer_id: &str, rule: RuleKind, at: DateTime<Utc>) -> Alert {
    Alert {
        id: AlertId::new(wearer_id, rule, at),
        wearer_id: wearer_id.into(),
        rule,
        severity: rule.severity(),
        episode_start: at,
        raised_at: at,
        readings: vec![],
        location: None,
        value: None,
    }
}

/// Two wearers: `w-own` cared for by Ana and Ben, `w-other` by Zoe.
async fn setup() -> Api {
    let sdk = vigil_local::endpoint::require().await;
    let resources =
        vigil_local::provision::Resources { stream_shards: 1, ..vigil_local::provision::Resources::unique("care") };
    vigil_local::provision::provision(&sdk, &resources).await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let wearers = DynamoWearerDirectory::new(dynamodb.clone(), &resources.wearers_table, &resources.caregivers_table);
    let links = DynamoCaregiverLinks::new(dynamodb.clone(), &resources.caregiver_links_table);
    for p in [
        profile("w-own", vec![caregiver("cg-ana", "sub-ana", "Ana"), caregiver("cg-ben", "sub-ben", "Ben")]),
        profile("w-other", vec![caregiver("cg-zoe", "sub-zoe", "Zoe")]),
    ] {
        wearers.put(&p).await.unwrap();
        links.link(&p).await.unwrap();
    }
    // A stale link: Zoe's account points at w-own, whose profile does not list her.
    links.link(&profile("w-own", vec![caregiver("cg-x", "sub-zoe", "Zoe")])).await.unwrap();

    let env = Env::for_resources(&resources, &"ab".repeat(32));
    let backend =
        Arc::new(ApiBackend::build(&sdk, &env, vigil_run::clock::SimClock::new(Utc::now(), 1.0)).await.unwrap());
    let issuer = Arc::new(LocalIssuer::generate().unwrap());
    let (addr, server) = gateway::serve(SocketAddr::from(([127, 0, 0, 1], 0)), issuer.clone(), backend).await.unwrap();
    let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
    Api {
        base: format!("http://{addr}"),
        issuer,
        agent,
        alerts: DynamoAlertStore::new(dynamodb, &resources.alerts_table),
        server,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_only_its_caregivers_and_the_same_404_otherwise() {
    let api = setup().await;
    let now = Utc::now();
    let own = alert("w-own", RuleKind::Inactivity, now - Duration::minutes(5));
    let other = alert("w-other", RuleKind::Inactivity, now - Duration::minutes(5));
    for a in [&own, &other] {
        assert!(api.alerts.put_alert(a, false).await.unwrap());
    }
    let window = json!({"from": (now - Duration::hours(1)).to_rfc3339(), "to": now.to_rfc3339()});
    let metrics = json!({"heart_rate_bpm": ["avg"], "from": window["from"], "to": window["to"]});
    let vitals =
        format!("?from={}&to={}", window["from"].as_str().unwrap(), window["to"].as_str().unwrap()).replace('+', "%2B");
    // (method, path with {id}, body, the id kind: wearer or alert).
    let routes: Vec<(&str, String, Option<Value>, bool)> = vec![
        ("GET", "/v1/wearers/{id}".into(), None, true),
        ("GET", "/v1/wearers/{id}/alerts".into(), None, true),
        ("GET", format!("/v1/wearers/{{id}}/vitals{vitals}"), None, true),
        ("POST", "/v1/wearers/{id}/metrics".into(), Some(metrics), true),
        ("POST", "/v1/wearers/{id}/snooze".into(), Some(json!({"rule": "inactivity", "minutes": 30})), true),
        ("GET", "/v1/wearers/{id}/days?from=2026-11-01&to=2026-11-30".into(), None, true),
        ("PUT", "/v1/wearers/{id}/daily".into(), Some(json!({"at": "08:30"})), true),
        ("POST", "/v1/alerts/{id}/acknowledge".into(), None, false),
        ("POST", "/v1/alerts/{id}/resolve".into(), Some(json!({"outcome": "ok"})), false),
    ];
    let ana = api.caregiver("sub-ana");
    let mut cells = 0;
    for (method, path, body, wearer) in &routes {
        let id = |kind: &str| match (kind, wearer) {
            ("own", true) => "w-own".to_owned(),
            ("other", true) => "w-other".to_owned(),
            ("own", false) => own.id.to_string(),
            ("other", false) => other.id.to_string(),
            _ => "0123456789abcdef0123456789abcdef".to_owned(),
        };
        let at = |kind: &str| path.replace("{id}", &id(kind));
        let (other_status, other_body) = api.call(method, &at("other"), Some(&ana), body.clone()).await;
        let (none_status, none_body) = api.call(method, &at("none"), Some(&ana), body.clone()).await;
        assert_eq!((other_status, none_status), (404, 404), "{method} {path}: {other_body} / {none_body}");
        assert_eq!(other_body, none_body, "{method} {path}: another's and a nonexistent id answer alike");
        for token in [
            None,
            Some(api.issuer.token_until(Users::Caregivers, "sub-ana", Utc::now() - Duration::minutes(1))),
            Some(api.issuer.token(Users::App, "sub-ana")),
        ] {
            let (status, _) = api.call(method, &at("own"), token.as_deref(), body.clone()).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}");
        }
        let (status, answer) = api.call(method, &at("own"), Some(&ana), body.clone()).await;
        assert_eq!(status, 200, "{method} {path}: {answer}");
        cells += 6;
    }
    // The list: only the caller's wearers (the stale link grants nothing).
    let (status, list) = api.call("GET", "/v1/wearers", Some(&ana), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        list["wearers"].as_array().unwrap().iter().map(|w| w["wearer_id"].clone()).collect::<Vec<_>>(),
        [json!("w-own")]
    );
    assert_eq!(list["wearers"][0]["first_name"], "Carmen");
    let (_, zoe) = api.call("GET", "/v1/wearers", Some(&api.caregiver("sub-zoe")), None).await;
    assert_eq!(zoe["wearers"].as_array().unwrap().len(), 1, "Zoe sees w-other only: {zoe}");
    for token in [None, Some(api.issuer.token(Users::App, "sub-ana"))] {
        assert_eq!(api.call("GET", "/v1/wearers", token.as_deref(), None).await.0, 401);
    }
    // Someone signed in who cares for nobody sees nothing, and no route.
    let (status, nobody) = api.call("GET", "/v1/wearers", Some(&api.caregiver("sub-nobody")), None).await;
    assert_eq!((status, nobody), (200, json!({"wearers": []})));
    assert_eq!(api.call("GET", "/v1/wearers/w-own", Some(&api.caregiver("sub-nobody")), None).await.0, 404);
    // An app user's upload route does not take a caregiver's token either.
    assert_eq!(api.call("POST", "/v1/uploads", Some(&ana), Some(json!({}))).await.0, 401);
    println!("authorization matrix: {} route × caller cells, all as expected", cells + 5);
    api.server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_acknowledgement_wins_and_everyone_sees_it() {
    let api = setup().await;
    let now = Utc::now();
    let sos = alert("w-own", RuleKind::Sos, now - Duration::minutes(2));
    api.alerts.put_alert(&sos, false).await.unwrap();
    let path = format!("/v1/alerts/{}/acknowledge", sos.id);
    let (ana, ben) = (api.caregiver("sub-ana"), api.caregiver("sub-ben"));

    // Both at once, several times each: one acknowledgement stands.
    let calls = (0..6).map(|i| {
        let token = if i % 2 == 0 { ana.clone() } else { ben.clone() };
        let (api, path) = (&api, path.clone());
        async move { api.call("POST", &path, Some(&token), None).await }
    });
    let answers = futures_util::future::join_all(calls).await;
    let first = &answers[0].1["acknowledged"];
    assert!(first["by"]["name"] == "Ana" || first["by"]["name"] == "Ben", "{first}");
    for (status, body) in &answers {
        assert_eq!(*status, 200);
        assert_eq!(&body["acknowledged"], first, "everyone sees the same acknowledgement");
        assert_eq!(body["status"], "acknowledged");
        assert_eq!(body["history"].as_array().unwrap().len(), 1, "{body}");
    }

    // Resolve: the first resolution stands too; a later one gets it back.
    let resolve = format!("/v1/alerts/{}/resolve", sos.id);
    let (status, done) =
        api.call("POST", &resolve, Some(&ben), Some(json!({"outcome": "helped", "note": "she is fine"}))).await;
    assert_eq!(
        (status, done["resolved"]["outcome"].as_str(), done["resolved"]["note"].as_str()),
        (200, Some("helped"), Some("she is fine"))
    );
    let (_, again) = api.call("POST", &resolve, Some(&ana), Some(json!({"outcome": "false_alarm"}))).await;
    assert_eq!(again["resolved"], done["resolved"]);
    assert_eq!(again["history"].as_array().unwrap().len(), 2);
    let (_, late_ack) = api.call("POST", &path, Some(&ana), None).await;
    assert_eq!(late_ack["status"], "resolved", "nothing acknowledges a resolved alert");

    // Bad requests: each field named, nothing changed.
    let (status, bad) =
        api.call("POST", &resolve, Some(&ana), Some(json!({"outcome": "fixed", "note": "x".repeat(501)}))).await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = bad["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["outcome", "note"]);
    let (status, sos_snooze) =
        api.call("POST", "/v1/wearers/w-own/snooze", Some(&ana), Some(json!({"rule": "sos", "minutes": 10}))).await;
    assert_eq!(status, 422, "{sos_snooze}");
    let (status, _) = api
        .call("POST", "/v1/wearers/w-own/snooze", Some(&ana), Some(json!({"rule": "no_data", "minutes": 241})))
        .await;
    assert_eq!(status, 400);
    api.server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_page_newest_first_by_status_through_the_index() {
    let api = setup().await;
    let start = Utc::now() - Duration::hours(30);
    let mut ids = Vec::new();
    for i in 0..25 {
        let a = alert("w-own", RuleKind::BatteryLow, start + Duration::hours(i));
        api.alerts.put_alert(&a, false).await.unwrap();
        ids.push(a.id.to_string());
    }
    api.alerts.put_alert(&alert("w-other", RuleKind::BatteryLow, start), false).await.unwrap();
    let ana = api.caregiver("sub-ana");
    // Acknowledge every fifth.
    for id in ids.iter().step_by(5) {
        assert_eq!(api.call("POST", &format!("/v1/alerts/{id}/acknowledge"), Some(&ana), None).await.0, 200);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=10&cursor={c}"),
            None => "?limit=10".into(),
        };
        let (status, page) = api.call("GET", &format!("/v1/wearers/w-own/alerts{query}"), Some(&ana), None).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["alerts"].as_array().unwrap().iter().map(|a| a["alert_id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    let (_, acked) = api.call("GET", "/v1/wearers/w-own/alerts?status=acknowledged&limit=100", Some(&ana), None).await;
    assert_eq!(acked["alerts"].as_array().unwrap().len(), 5);
    let (status, bad) = api
        .call("GET", "/v1/wearers/w-own/alerts?status=closed&limit=0&cursor=zz&from=yesterday", Some(&ana), None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(bad["errors"].as_array().unwrap().len(), 4, "{bad}");
    // The status lists what nobody resolved in the last week, and the wearer is offline (never seen).
    let (_, status) = api.call("GET", "/v1/wearers/w-own", Some(&ana), None).await;
    assert_eq!(status["online"], false);
    assert_eq!(status["acknowledged_alerts"].as_array().unwrap().len(), 5);
    assert_eq!(status["open_alerts"].as_array().unwrap().len(), 20);
    api.server.abort();
}
