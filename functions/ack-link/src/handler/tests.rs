//! The handler on in-memory ports: routing, every page's status and headers, the
//! acknowledgement, refusals that give nothing away, failures without a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::sync::Mutex;

use chrono::{TimeDelta, TimeZone};
use lambda_http::http;
use vigil_domain::alerts::{Alert, AlertId, Language, RuleKind};
use vigil_domain::lifecycle::Outcome;
use vigil_domain::link::{LINK_TTL, LinkClaim};
use vigil_domain::reading::Location;
use vigil_testkit::{MemoryAlerts, MemoryWearers, throttled};

use super::*;

/// The lifecycle records handed on, or a failure.
#[derive(Debug, Default)]
struct Sink {
    records: Mutex<Vec<AlertRecord>>,
    fail: bool,
}

impl LifecycleSink for Sink {
    async fn record(&self, record: &AlertRecord) -> Result<(), StoreError> {
        if self.fail {
            return Err(throttled("PutObject"));
        }
        self.records.lock().unwrap().push(record.clone());
        Ok(())
    }
}

/// An alert store that never answers in time.
#[derive(Debug, Default)]
struct Stuck;

impl AlertStore for Stuck {
    async fn put_alert(&self, _: &Alert, _: bool) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn resolve(&self, _: &str, _: DateTime<Utc>) -> Result<Option<AlertRecord>, StoreError> {
        Ok(None)
    }
    async fn get(&self, _: &str) -> Result<Option<AlertRecord>, StoreError> {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(None)
    }
    async fn transition(&self, _: &str, _: &Transition, _: Option<&str>) -> Result<Option<AlertRecord>, StoreError> {
        Ok(None)
    }
}

fn sent_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 42, 0).single().unwrap()
}

fn now() -> DateTime<Utc> {
    sent_at() + TimeDelta::minutes(3)
}

fn key() -> LinkKey {
    LinkKey::new(&[7; 32]).unwrap()
}

fn caregiver(id: &str, name: &str, language: Language) -> Caregiver {
    vigil_testkit::caregiver(id, name, language, "+34600111222")
}

fn profile(name: &str) -> WearerProfile {
    WearerProfile {
        wearer_id: "w-1".into(),
        name: name.into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers: vec![
            caregiver("cg-ana", "Ana", Language::Es),
            caregiver("cg-ben", "Ben", Language::En),
            caregiver("cg-bia", "Bia", Language::PtBr),
        ],
        snoozes: Default::default(),
        escalation: Default::default(),
    }
}

fn sos() -> Alert {
    Alert {
        id: AlertId::new("w-1", RuleKind::Sos, sent_at()),
        wearer_id: "w-1".into(),
        rule: RuleKind::Sos,
        severity: RuleKind::Sos.severity(),
        episode_start: sent_at(),
        raised_at: sent_at(),
        readings: vec![],
        location: Some(Location { lat: 40.41678, lon: -3.70379, accuracy_m: None }),
        value: None,
    }
}

type Handler = AckLink<MemoryAlerts, MemoryWearers, Sink>;

fn handler(wearer_name: &str) -> Handler {
    let alerts = MemoryAlerts::default();
    alerts.alerts.lock().unwrap().insert(sos().id.to_string(), AlertRecord::open(sos(), false));
    AckLink {
        alerts,
        wearers: MemoryWearers::with([profile(wearer_name)]),
        lifecycle: Sink::default(),
        key: key(),
        budget: Duration::from_secs(4),
    }
}

/// The token for caregiver `index` of the alert `alert_id`, sent at [`sent_at`].
fn token(alert_id: &str, index: u8) -> String {
    key().sign(&LinkClaim::new(alert_id, index, sent_at() + LINK_TTL).unwrap())
}

fn request(method: &str, path: &str, accept_language: Option<&str>) -> Request {
    let builder = http::Request::builder().method(method).uri(path);
    let builder = match accept_language {
        Some(l) => builder.header("accept-language", l),
        None => builder,
    };
    builder.body(Body::Empty).unwrap()
}

async fn call<A: AlertStore + Sync, W: WearerDirectory + Sync, L: LifecycleSink + Sync>(
    h: &AckLink<A, W, L>,
    method: &str,
    path: &str,
) -> (u16, String, Response<Body>, Metrics) {
    call_at(h, method, path, now()).await
}

async fn call_at<A: AlertStore + Sync, W: WearerDirectory + Sync, L: LifecycleSink + Sync>(
    h: &AckLink<A, W, L>,
    method: &str,
    path: &str,
    at: DateTime<Utc>,
) -> (u16, String, Response<Body>, Metrics) {
    let (response, metrics) = h.process(request(method, path, None), at).await;
    let body = match response.body() {
        Body::Text(t) => t.clone(),
        other => panic!("not a text body: {other:?}"),
    };
    (response.status().as_u16(), body, response, metrics)
}

fn assert_headers(response: &Response<Body>) {
    let h = response.headers();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
}

#[test]
fn the_token_is_the_last_segment_after_a() {
    assert_eq!(token_of("/a/abc"), Some("abc"));
    assert_eq!(token_of("/prod/a/abc/"), Some("abc"));
    assert_eq!(token_of("/a/"), None);
    assert_eq!(token_of("/b/abc"), None);
    assert_eq!(token_of("/abc"), None);
    assert_eq!(token_of(""), None);
    assert_eq!(token_of("/a/../x"), None);
}

#[tokio::test]
async fn get_shows_the_alert_with_one_button_and_changes_nothing() {
    let h = handler("Carmen Ruiz");
    let path = format!("/a/{}", token(sos().id.as_str(), 1));
    for _ in 0..3 {
        let (status, body, response, metrics) = call(&h, "GET", &path).await;
        assert_eq!(status, 200, "{body}");
        assert_headers(&response);
        assert!(body.contains("<h1>SOS: Carmen</h1>"), "{body}");
        assert!(body.contains("Carmen pressed the SOS button at 10:42."), "{body}");
        assert!(body.contains("When: 10:42 CET"));
        assert!(body.contains("https://www.openstreetmap.org/?mlat=40.41678&amp;mlon=-3.70379"));
        assert_eq!(body.matches("<button").count(), 1);
        assert!(body.contains("<form method=\"post\">"));
        assert_eq!(metrics.get("Acknowledged"), 0.0);
    }
    let stored = h.alerts.record(sos().id.as_str()).unwrap();
    assert_eq!((stored.status, stored.history.len()), (AlertStatus::Open, 0), "GET never acknowledges");
    assert!(h.lifecycle.records.lock().unwrap().is_empty());
    // In the caregiver's language: Ana (0) speaks Spanish, Bia (2) Portuguese.
    let (_, es, _, _) = call(&h, "GET", &format!("/a/{}", token(sos().id.as_str(), 0))).await;
    assert!(es.contains(">Voy para allá</button>") && es.contains("Carmen pulsó el botón SOS"), "{es}");
    let (_, pt, _, _) = call(&h, "GET", &format!("/a/{}", token(sos().id.as_str(), 2))).await;
    assert!(pt.contains(">Estou a caminho</button>") && pt.contains("lang=\"pt-BR\""), "{pt}");
}

#[tokio::test]
async fn post_acknowledges_as_the_links_caregiver_and_the_first_stands() {
    let h = handler("Carmen Ruiz");
    let id = sos().id.to_string();
    let ben = format!("/a/{}", token(&id, 1));
    let (status, body, response, metrics) = call(&h, "POST", &ben).await;
    assert_eq!(status, 200, "{body}");
    assert_headers(&response);
    assert!(body.contains("Thanks, Ben: the other caregivers see you are on your way."), "{body}");
    assert!(!body.contains("<button"));
    assert_eq!(metrics.get("Acknowledged"), 1.0);
    let stored = h.alerts.record(&id).unwrap();
    let ack = stored.acknowledged.clone().unwrap();
    assert_eq!(
        (stored.status, ack.by.as_str(), ack.via, ack.at),
        (AlertStatus::Acknowledged, "cg-ben", Via::Link, now())
    );
    assert_eq!(*h.lifecycle.records.lock().unwrap(), vec![stored.clone()], "handed on as it stands");

    // Ben again (a double tap, a reload): thanks again, nothing new, not counted.
    let later = now() + TimeDelta::minutes(1);
    let (status, body, _, metrics) = call_at(&h, "POST", &ben, later).await;
    assert_eq!((status, metrics.get("Acknowledged")), (200, 0.0));
    assert!(body.contains("Thanks, Ben"), "{body}");
    assert_eq!(h.alerts.record(&id).unwrap().history.len(), 1);

    // Ana's link: Ben's acknowledgement stands, and she is told whose and when, in Spanish.
    let ana = format!("/a/{}", token(&id, 0));
    let (status, body, _, metrics) = call_at(&h, "POST", &ana, later).await;
    assert_eq!((status, metrics.get("Acknowledged")), (200, 0.0));
    assert!(body.contains("Ben ya va para allá. <span class=\"when\">Desde: 10:45 CET</span>"), "{body}");
    assert!(!body.contains("<button"));
    assert_eq!(h.alerts.record(&id).unwrap().acknowledged.unwrap().by, "cg-ben");
    assert_eq!(h.lifecycle.records.lock().unwrap().len(), 3, "every POST hands the record on, won or lost");
    // And a GET of Ana's link says the same, without a button.
    let (_, body, _, _) = call(&h, "GET", &ana).await;
    assert!(body.contains("Ben ya va para allá.") && !body.contains("<form"), "{body}");
    // Ben's own GET: his acknowledgement.
    let (_, body, _, _) = call(&h, "GET", &ben).await;
    assert!(body.contains("Thanks, Ben"), "{body}");
}

#[tokio::test]
async fn a_resolved_alert_is_said_to_be_resolved_and_stays_so() {
    let h = handler("Carmen Ruiz");
    let id = sos().id.to_string();
    h.alerts.transition(&id, &Transition::resolve("cg-ana", sent_at(), Via::Api, Outcome::Helped), None).await.unwrap();
    let path = format!("/a/{}", token(&id, 1));
    for method in ["GET", "POST"] {
        let (status, body, _, metrics) = call(&h, method, &path).await;
        assert_eq!(status, 200);
        assert!(body.contains("<h1>Resolved</h1>") && body.contains("This alert has been resolved."), "{body}");
        assert!(!body.contains("<form") && !body.contains("<button"));
        assert_eq!(metrics.get("Acknowledged"), 0.0);
    }
    let stored = h.alerts.record(&id).unwrap();
    assert_eq!((stored.status, stored.acknowledged), (AlertStatus::Resolved, None));
}

#[tokio::test]
async fn what_is_not_a_valid_link_gets_one_and_the_same_404() {
    let h = handler("Carmen Ruiz");
    let id = sos().id.to_string();
    let good = token(&id, 1);
    // One character changed, past the version byte.
    let mut forged = good.clone().into_bytes();
    forged[30] = if forged[30] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let unknown = token(&"0".repeat(32), 1);
    let beyond = token(&id, 3);
    let other_key = LinkKey::new(&[8; 32]).unwrap().sign(&LinkClaim::new(&id, 1, sent_at() + LINK_TTL).unwrap());
    let paths = [
        format!("/a/{forged}"),
        format!("/a/{unknown}"),
        format!("/a/{beyond}"),
        format!("/a/{other_key}"),
        format!("/a/{}", &good[..47]),
        format!("/a/{good}A"),
        format!("/a/{}", "A".repeat(60_000)),
        "/a/%C3%A9%C3%A9%C3%A9".into(),
        format!("/a/{}%C3%A9", &good[..45]),
        "/a/..%2F..%2Fetc%2Fpasswd".into(),
        "/a/%2E%2E".into(),
        "/a/".into(),
        "/a/%00".into(),
        "/nothing/here".into(),
    ];
    let (_, expected, _, _) = call(&h, "GET", &paths[0]).await;
    assert!(expected.contains("<h1>This link is not valid</h1>"), "{expected}");
    for path in &paths {
        for method in ["GET", "POST"] {
            let (status, body, response, _) = call(&h, method, path).await;
            let shown = &path[..path.len().min(80)];
            assert_eq!(status, 404, "{method} {shown}");
            assert_eq!(body, expected, "{method} {shown}: one page for every invalid link");
            assert_headers(&response);
        }
    }
    assert_eq!(h.alerts.record(&id).unwrap().status, AlertStatus::Open);
}

#[tokio::test]
async fn an_expired_link_is_gone_and_refusals_speak_the_browsers_language() {
    let h = handler("Carmen Ruiz");
    let id = sos().id.to_string();
    let expired = key().sign(&LinkClaim::new(&id, 1, now() - TimeDelta::seconds(1)).unwrap());
    let (status, body, response, metrics) = call(&h, "POST", &format!("/a/{expired}")).await;
    assert_eq!((status, metrics.get("LinksExpired")), (410, 1.0));
    assert!(body.contains("This link has expired") && body.contains("Open the Vigil app"), "{body}");
    assert_headers(&response);
    assert_eq!(h.alerts.record(&id).unwrap().status, AlertStatus::Open);

    for (accept, expected) in [
        ("es-ES,es;q=0.9", "Este enlace ha caducado"),
        ("pt-BR,pt;q=0.9,en;q=0.5", "Este link expirou"),
        ("de-DE", "This link has expired"),
    ] {
        let (response, _) = h.process(request("GET", &format!("/a/{expired}"), Some(accept)), now()).await;
        let Body::Text(body) = response.body() else { panic!("no text") };
        assert!(body.contains(expected), "{accept}: {body}");
    }
    let (response, _) = h.process(request("GET", "/a/x", Some("es")), now()).await;
    let Body::Text(body) = response.body() else { panic!("no text") };
    assert!(body.contains("Este enlace no es válido"), "{body}");
}

#[tokio::test]
async fn other_methods_are_405() {
    let h = handler("Carmen Ruiz");
    let path = format!("/a/{}", token(sos().id.as_str(), 1));
    for method in ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        let (status, _, response, _) = call(&h, method, &path).await;
        assert_eq!(status, 405, "{method}");
        assert_eq!(response.headers()["allow"], "GET, POST");
        assert_headers(&response);
    }
    assert_eq!(h.alerts.record(sos().id.as_str()).unwrap().status, AlertStatus::Open);
}

#[tokio::test]
async fn store_failures_and_timeouts_are_503_without_details() {
    let path = format!("/a/{}", token(sos().id.as_str(), 1));
    // The alerts table, the profiles, the lifecycle sink: each failing in turn.
    let h = handler("Carmen Ruiz");
    h.alerts.faults.fail_next(1);
    let (status, body, response, metrics) = call(&h, "GET", &path).await;
    assert_eq!((status, metrics.get("RequestsFailed")), (503, 1.0));
    assert_eq!(response.headers()["retry-after"], "2");
    assert_headers(&response);
    assert!(body.contains("This page could not be loaded"), "{body}");
    assert!(!body.contains("throttled") && !body.contains("GetItem") && !body.contains("memory"), "{body}");
    h.wearers.faults.fail_next(1);
    assert_eq!(call(&h, "POST", &path).await.0, 503);
    assert_eq!(h.alerts.record(sos().id.as_str()).unwrap().status, AlertStatus::Open);
    let failing = AckLink { lifecycle: Sink { fail: true, ..Sink::default() }, ..handler("Carmen Ruiz") };
    assert_eq!(call(&failing, "POST", &path).await.0, 503, "the warehouse's copy failed: retry");
    // A retry completes it: the acknowledgement stands, the sink gets it now.
    let retried = AckLink { alerts: failing.alerts, ..handler("Carmen Ruiz") };
    let (status, body, _, _) = call(&retried, "POST", &path).await;
    assert!(status == 200 && body.contains("Thanks, Ben"), "{body}");
    assert_eq!(retried.lifecycle.records.lock().unwrap().len(), 1);

    let stuck = AckLink {
        alerts: Stuck,
        wearers: MemoryWearers::with([profile("Carmen Ruiz")]),
        lifecycle: Sink::default(),
        key: key(),
        budget: Duration::from_millis(50),
    };
    let started = Instant::now();
    let (status, _, _, metrics) = call(&stuck, "GET", &path).await;
    assert_eq!((status, metrics.get("StoreTimeouts")), (503, 1.0));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_hostile_wearer_name_is_shown_as_text() {
    let h = handler("<script>alert(1)</script> Ruiz");
    let path = format!("/a/{}", token(sos().id.as_str(), 1));
    for method in ["GET", "POST", "GET"] {
        let (status, body, _, _) = call(&h, method, &path).await;
        assert_eq!(status, 200);
        assert!(!body.contains("<script"), "{body}");
        assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{body}");
    }
}
