//! The request's time budget against an endpoint that accepts connections and never
//! answers: a genuine link whose stores stall is answered 503 + `Retry-After` (the
//! "try again" page) before the invocation's deadline.

use std::time::{Duration, Instant};

use chrono::Utc;
use lambda_http::{Body, RequestExt};
use serde_json::json;
use vigil_domain::alerts::{AlertId, RuleKind};
use vigil_domain::link::{LINK_TTL, LinkClaim, LinkKey};
use vigil_testkit::stalled::Stalled;

/// The invocation's time: shorter than one SDK attempt (5 s) and the configured budget.
const TIMEOUT: Duration = Duration::from_secs(3);
const LINK_KEY: &str = "stalled-test-link-key-0123456789abcdef";

#[tokio::test]
async fn stalled_stores_are_503_before_the_deadline() {
    let stalled = Stalled::start().await;
    let sdk = vigil_local::endpoint::sdk_config(&stalled.url()).await;
    let env = [
        ("ALERTS_TABLE", "alerts"),
        ("WEARERS_TABLE", "wearers"),
        ("CAREGIVERS_TABLE", "caregivers"),
        ("LINK_KEY", LINK_KEY),
        ("REQUEST_BUDGET_MS", "10000"),
    ];
    let link = ack_link::build(&env, &sdk).await.unwrap();
    let key = LinkKey::new(LINK_KEY.as_bytes()).unwrap();
    let alert_id = AlertId::new("wearer-1", RuleKind::Sos, Utc::now());
    let token = key.sign(&LinkClaim::new(alert_id.as_str(), 0, Utc::now() + LINK_TTL).unwrap());
    for method in ["GET", "POST"] {
        let raw_path = format!("/a/{token}");
        let event = json!({
            "version": "2.0", "routeKey": format!("{method} /a/{{token}}"), "rawPath": raw_path,
            "rawQueryString": "", "headers": {"accept-language": "en", "user-agent": "test"},
            "requestContext": {"accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1",
                "domainPrefix": "local", "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1", "userAgent": "test"}, "requestId": "r-1", "routeKey": "$default",
                "stage": "$default", "time": "22/Nov/2026:10:00:00 +0000", "timeEpoch": 0},
            "body": "", "isBase64Encoded": false
        });
        let request = lambda_http::request::from_str(&event.to_string())
            .unwrap()
            .with_lambda_context(vigil_lambda::deadline::context(TIMEOUT));
        let started = Instant::now();
        let response = link.handle(request).await;
        let took = started.elapsed();
        assert_eq!(response.status(), 503, "{method}");
        assert_eq!(response.headers()["retry-after"], "2");
        assert!(matches!(response.body(), Body::Text(page) if page.contains("<html")), "{method}: an HTML page");
        assert!(took < TIMEOUT, "{method} answered after {took:?}, past the invocation's {TIMEOUT:?}");
    }
}
