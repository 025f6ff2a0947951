//! The request's time budget against an endpoint that accepts connections and never
//! answers: stalled stores are answered 503 + `Retry-After` with the documented JSON
//! error before the invocation's deadline.

use std::time::{Duration, Instant};

use lambda_http::RequestExt;
use serde_json::{Value, json};
use vigil_testkit::stalled::Stalled;

/// The invocation's time: shorter than one SDK attempt (5 s) and the configured budget.
const TIMEOUT: Duration = Duration::from_secs(3);

#[tokio::test]
async fn stalled_stores_are_503_before_the_deadline() {
    let stalled = Stalled::start().await;
    let sdk = vigil_local::endpoint::sdk_config(&stalled.url()).await;
    let env = [
        ("WEARERS_TABLE", "wearers"),
        ("CAREGIVERS_TABLE", "caregivers"),
        ("CAREGIVER_LINKS_TABLE", "links"),
        ("ALERTS_TABLE", "alerts"),
        ("VITALS_TABLE", "vitals"),
        ("DAYS_TABLE", "days"),
        ("REQUEST_BUDGET_MS", "10000"),
    ];
    let care = care_api::build(&env, &sdk).await.unwrap();
    let routes = [
        ("GET", "/v1/wearers", None),
        ("GET", "/v1/wearers/wearer-1", None),
        ("GET", "/v1/wearers/wearer-1/alerts", None),
        ("GET", "/v1/wearers/wearer-1/days", None),
        ("PUT", "/v1/wearers/wearer-1/daily", Some(json!({"at": "08:30"}).to_string())),
    ];
    for (method, path, body) in routes {
        let event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"accept": "application/json", "content-type": "application/json"},
            "body": body,
            "requestContext": {
                "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1", "domainPrefix": "local",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
                "authorizer": {"jwt": {"claims": {"sub": "caregiver-sub-1"}, "scopes": null}},
                "requestId": "test", "routeKey": "$default", "stage": "$default", "time": "", "timeEpoch": 0
            },
            "isBase64Encoded": false
        });
        let request = lambda_http::request::from_str(&event.to_string())
            .unwrap()
            .with_lambda_context(vigil_lambda::deadline::context(TIMEOUT));
        let started = Instant::now();
        let response = care.handle(request).await;
        let took = started.elapsed();
        assert_eq!(response.status(), 503, "{method} {path}");
        assert_eq!(response.headers()["retry-after"], "2");
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["error"], "unavailable", "{body}");
        assert!(body["message"].is_string());
        assert!(took < TIMEOUT, "{method} {path} answered after {took:?}, past the invocation's {TIMEOUT:?}");
    }
}
