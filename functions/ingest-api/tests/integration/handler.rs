//! The handler end to end with in-memory ports: every status the API promises.

use std::time::Duration;

use crate::common::*;
use ingest_api::Ingest;
use lambda_http::http::StatusCode;
use serde_json::{Value, json};
use vigil_domain::Envelope;

fn ingest(mode: PublishMode) -> Ingest<MemoryPublisher, MemoryDirectory, MemoryLimits> {
    Ingest {
        publisher: MemoryPublisher::new(mode),
        directory: MemoryDirectory::with([band_0001()]),
        limits: MemoryLimits::default(),
        upload: Intervals::default(),
        publish_budget: Duration::from_secs(3),
    }
}

#[test]
fn sample_events_round_trip_through_the_lambda_event_types() {
    use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
    for event in [V2_UPLOAD, V2_MIXED, V2_INVALID, V2_UNAUTHORIZED, V2_SOS] {
        let parsed: ApiGatewayV2httpRequest = serde_json::from_slice(event).unwrap();
        let again: ApiGatewayV2httpRequest = serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
        assert_eq!(parsed, again);
        assert_eq!(parsed.request_context.http.method, "POST");
    }
    let parsed: ApiGatewayProxyRequest = serde_json::from_slice(V1_UPLOAD).unwrap();
    let again: ApiGatewayProxyRequest = serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
    assert_eq!(parsed, again);
}

async fn accepted_upload_reaches_the_stream(event: &[u8]) {
    let ingest = ingest(PublishMode::Ok);
    let response = ingest.handle_at(request(event), event_time()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        body_json(&response),
        json!({
            "batch_id": "7f0c2b1e-9a7d-4a52-8f0e-2c1d3b4a5e6f",
            "accepted": 3,
            "rejected": [],
            "upload_policy": {
                "routine_every_s": 300,
                "urgent_every_s": 60,
                "heart_rate_above_bpm": 110,
                "heart_rate_below_bpm": 40,
                "spo2_below_pct": 90
            }
        })
    );

    let records = ingest.publisher.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].partition_key, "wearer-42");
    let envelope = Envelope::decode(&records[0].data).unwrap();
    assert_eq!(envelope.wearer_id, "wearer-42");
    assert_eq!(envelope.device_id, "band-0001");
    assert_eq!((envelope.part, envelope.parts), (0, 1));
    assert_eq!(envelope.received_at, event_time());
    assert_eq!(envelope.readings.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1001, 1002, 1003]);
    assert_eq!(envelope.readings[2].location.unwrap().lat, 40.4168);
}

#[tokio::test]
async fn http_api_v2_upload_is_accepted_and_put_on_the_stream() {
    accepted_upload_reaches_the_stream(V2_UPLOAD).await;
}

#[tokio::test]
async fn rest_api_v1_upload_is_accepted_and_put_on_the_stream() {
    accepted_upload_reaches_the_stream(V1_UPLOAD).await;
}

#[tokio::test]
async fn a_partly_valid_upload_is_accepted_with_its_rejections_listed() {
    let ingest = ingest(PublishMode::Ok);
    let response = ingest.handle_at(request(V2_MIXED), event_time()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body = body_json(&response);
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["rejected"][0]["index"], 1);
    let mut fields: Vec<&str> =
        body["rejected"][0]["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    fields.sort();
    assert_eq!(fields, vec!["readings[1].heart_rate_bpm", "readings[1].mood", "readings[1].spo2_pct"]);
    let envelope = Envelope::decode(&ingest.publisher.records()[0].data).unwrap();
    assert_eq!(envelope.readings.len(), 1);
}

#[tokio::test]
async fn an_upload_with_no_valid_reading_is_400_with_every_error_and_nothing_published() {
    let ingest = ingest(PublishMode::Ok);
    let response = ingest.handle_at(request(V2_INVALID), event_time()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = body_json(&response);
    assert_eq!(body["error"], "invalid_upload");
    let codes: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert!(codes.contains(&("readings[0].ts", "invalid_format")), "{codes:?}");
    assert!(codes.contains(&("readings[0].seq", "out_of_range")), "{codes:?}");
    assert!(codes.contains(&("readings[0].heart_rate_bpm", "out_of_range")), "{codes:?}");
    assert!(ingest.publisher.records().is_empty());
}

#[tokio::test]
async fn no_claims_is_401_before_anything_is_read() {
    let ingest = ingest(PublishMode::Ok);
    let response = ingest.handle_at(request(V2_UNAUTHORIZED), event_time()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(*ingest.directory.calls.lock().unwrap(), 0);
    assert!(ingest.publisher.records().is_empty());
}

#[tokio::test]
async fn unknown_and_foreign_devices_get_the_same_403() {
    let ingest = ingest(PublishMode::Ok);
    let foreign = ingest
        .handle_at(
            edited(V2_UPLOAD, |e| e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("someone-else")),
            event_time(),
        )
        .await;
    let unknown = ingest
        .handle_at(
            edited(V2_UPLOAD, |e| {
                let mut body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
                body["device_id"] = json!("band-9999");
                e["body"] = json!(body.to_string());
            }),
            event_time(),
        )
        .await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(unknown.status(), StatusCode::FORBIDDEN);
    assert_eq!(foreign.body().as_ref(), unknown.body().as_ref());
    assert!(ingest.publisher.records().is_empty());
}

#[tokio::test]
async fn content_type_must_be_json() {
    let ingest = ingest(PublishMode::Ok);
    for ct in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let response = ingest
            .handle_at(
                edited(V2_UPLOAD, |e| match ct {
                    Some(ct) => e["headers"]["content-type"] = json!(ct),
                    None => {
                        e["headers"].as_object_mut().unwrap().remove("content-type");
                    }
                }),
                event_time(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
    }
    let response = ingest
        .handle_at(
            edited(V2_UPLOAD, |e| e["headers"]["content-type"] = json!("Application/JSON; charset=UTF-8")),
            event_time(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_413() {
    let ingest = ingest(PublishMode::Ok);
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 * 1024));
    let response = ingest.handle_at(edited(V2_UPLOAD, |e| e["body"] = json!(big)), event_time()).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn base64_bodies_are_decoded() {
    use base64::Engine as _;
    let ingest = ingest(PublishMode::Ok);
    let response = ingest
        .handle_at(
            edited(V2_UPLOAD, |e| {
                let raw = e["body"].as_str().unwrap().to_owned();
                e["body"] = json!(base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()));
                e["isBase64Encoded"] = json!(true);
            }),
            event_time(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn other_routes_and_methods_are_refused() {
    let ingest = ingest(PublishMode::Ok);
    let get = ingest
        .handle_at(edited(V2_UPLOAD, |e| e["requestContext"]["http"]["method"] = json!("GET")), event_time())
        .await;
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.headers()["allow"], "POST");
    let other = ingest
        .handle_at(
            edited(V2_UPLOAD, |e| {
                e["rawPath"] = json!("/v1/other");
                e["requestContext"]["http"]["path"] = json!("/v1/other");
            }),
            event_time(),
        )
        .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_stream_that_cannot_take_the_upload_in_time_is_503_with_retry_after() {
    let ingest = ingest(PublishMode::TimesOut);
    let response = ingest.handle_at(request(V2_UPLOAD), event_time()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(body_json(&response)["error"], "unavailable");
}

#[tokio::test]
async fn the_upload_policy_follows_the_wearer_and_the_deployed_intervals() {
    let mut ingest = ingest(PublishMode::Ok);
    ingest.upload = Intervals { routine_every_s: 600, urgent_every_s: 30 };
    let policy = body_json(&ingest.handle_at(request(V2_UPLOAD), event_time()).await)["upload_policy"].clone();
    assert_eq!((policy["routine_every_s"].as_u64(), policy["urgent_every_s"].as_u64()), (Some(600), Some(30)));
    assert_eq!(policy["heart_rate_above_bpm"], 110);

    // A wearer with no profile (yet) gets the default limits.
    ingest.limits.limits.clear();
    let policy = body_json(&ingest.handle_at(request(V2_UPLOAD), event_time()).await)["upload_policy"].clone();
    assert_eq!(policy["heart_rate_above_bpm"], 120);
}

#[tokio::test]
async fn limits_that_fail_or_lag_leave_the_policy_out_and_the_upload_accepted() {
    for (fail, delay) in [(true, Duration::ZERO), (false, Duration::from_secs(30))] {
        let mut ingest = ingest(PublishMode::Ok);
        (ingest.limits.fail, ingest.limits.delay) = (fail, delay);
        let started = std::time::Instant::now();
        let response = ingest.handle_at(request(V2_UPLOAD), event_time()).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "fail {fail}, delay {delay:?}");
        let body = body_json(&response);
        assert_eq!(body["accepted"], 3);
        assert!(body.get("upload_policy").is_none(), "{body}");
        assert_eq!(ingest.publisher.records().len(), 1);
        // A lagging read is given up well before the request's budget, not awaited.
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    }
}

#[tokio::test]
async fn internal_errors_never_leak_their_text() {
    let refused = ingest(PublishMode::Refuses);
    let response = refused.handle_at(request(V2_UPLOAD), event_time()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = String::from_utf8(response.body().as_ref().to_vec()).unwrap();
    assert!(!text.contains("AccessDenied") && !text.contains("arn:aws"), "{text}");

    let mut down = ingest(PublishMode::Ok);
    down.directory.fail = true;
    let response = down.handle_at(request(V2_UPLOAD), event_time()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = String::from_utf8(response.body().as_ref().to_vec()).unwrap();
    assert!(!text.contains("connection reset") && !text.contains("vigil-devices"), "{text}");
}

#[tokio::test]
async fn the_publish_budget_is_cut_by_the_invocation_deadline() {
    use lambda_http::RequestExt;
    let ingest = ingest(PublishMode::Ok);
    let mut ctx = lambda_http::Context::default();
    ctx.deadline = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap() + 1_500;
    let req = request(V2_UPLOAD).with_lambda_context(ctx);
    assert_eq!(ingest.handle_at(req, event_time()).await.status(), StatusCode::ACCEPTED);
    let budget = ingest.publisher.budgets.lock().unwrap()[0];
    assert!(budget <= Duration::from_millis(1_000), "{budget:?}");
    assert!(budget > Duration::ZERO);
}

mod client_mistakes {
    use super::*;
    use proptest::prelude::*;

    fn status_for(body: String) -> StatusCode {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let ingest = ingest(PublishMode::Ok);
        runtime.block_on(ingest.handle_at(edited(V2_UPLOAD, |e| e["body"] = json!(body)), event_time())).status()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Whatever a client sends, the answer is a 2xx or a 4xx, never a 5xx.
        #[test]
        fn any_body_gets_an_answer_that_is_never_a_server_error(body in ".{0,400}") {
            let status = status_for(body);
            prop_assert!(status.is_success() || status.is_client_error(), "{status}");
        }

        #[test]
        fn any_mangling_of_a_valid_body_is_never_a_server_error(cut in 0usize..600, junk in ".{0,8}") {
            let v: Value = serde_json::from_slice(V2_UPLOAD).unwrap();
            let valid = v["body"].as_str().unwrap().to_owned();
            let mut mangled: String = valid.chars().take(cut).collect();
            mangled.push_str(&junk);
            mangled.extend(valid.chars().skip(cut + junk.chars().count()));
            let status = status_for(mangled);
            prop_assert!(status.is_success() || status.is_client_error(), "{status}");
        }
    }
}

/// An accepted upload records only routine metrics, so the process pools its
/// lines; a refused one is written at once, with what was pooled.
#[tokio::test]
async fn accepted_uploads_pool_their_metrics_and_a_refused_one_writes_at_once() {
    use std::time::Instant;
    use vigil_lambda::metrics::{POOL_FOR, Pool};
    let ingest = ingest(PublishMode::Ok);
    let pool = Pool::new(ingest_api::handler::ROUTINE_METRICS);
    let t0 = Instant::now();
    for n in 0..3 {
        let (response, metrics) = ingest.process(request(V2_UPLOAD), event_time()).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert!(pool.add(metrics, t0 + Duration::from_secs(n), 0).is_empty(), "upload {n} is routine");
    }
    let (response, metrics) = ingest.process(request(V2_UNAUTHORIZED), event_time()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let line: Value = serde_json::from_str(&pool.add(metrics, t0 + Duration::from_secs(3), 0).concat()).unwrap();
    assert_eq!((line["Uploads"].clone(), line["UploadsRefused"].clone()), (json!(4.0), json!(1.0)));
    assert_eq!((line["ReadingsAccepted"].clone(), line["PublishCalls"].clone()), (json!(9.0), json!(3.0)));
    assert_eq!(line["IngestMs"].as_array().map(Vec::len), Some(4));
    // Routine uploads alone are written once the first is POOL_FOR old.
    let (_, metrics) = ingest.process(request(V2_UPLOAD), event_time()).await;
    assert!(pool.add(metrics, t0, 0).is_empty());
    let (_, metrics) = ingest.process(request(V2_UPLOAD), event_time()).await;
    assert_eq!(pool.add(metrics, t0 + POOL_FOR, 0).len(), 1);

    // Log bytes per upload (docs/cost.md): 300 uploads 10 ms apart, a line each
    // against pooled.
    let (mut alone, mut pooled) = (0, 0);
    for n in 0..300 {
        let (_, metrics) = ingest.process(request(V2_UPLOAD), event_time()).await;
        alone += metrics.to_emf(1_764_806_400_000).to_string().len() + 1;
        pooled += pool
            .add(metrics, t0 + Duration::from_millis(10 * n), 1_764_806_400_000)
            .iter()
            .map(|l| l.len() + 1)
            .sum::<usize>();
    }
    let (alone, pooled) = (alone as f64 / 300.0, pooled as f64 / 300.0);
    eprintln!("ingest-api EMF bytes per upload: {alone:.1} a line each, {pooled:.1} pooled");
    assert!(pooled * 10.0 < alone, "{pooled:.1} pooled against {alone:.1}");
}
