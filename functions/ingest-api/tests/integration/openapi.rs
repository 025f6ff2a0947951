//! docs/openapi.yaml matches what the handler does: the same fields, the same
//! error codes, the same statuses, and its examples are accepted.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::*;
use ingest_api::Ingest;
use serde_json::{Value, json};
use vigil_domain::reading::{Activity, Location, Reading, SleepStage};
use vigil_domain::upload::ErrorCode;

fn spec() -> Value {
    serde_yaml_ng::from_str(include_str!("../../../../docs/openapi.yaml")).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Every error code; the match fails to compile when a code is added here but not below.
fn all_codes() -> Vec<ErrorCode> {
    use ErrorCode::*;
    let all = [
        MalformedJson,
        InvalidType,
        InvalidFormat,
        MissingField,
        UnknownField,
        OutOfRange,
        TooFewReadings,
        TooManyReadings,
        FutureTimestamp,
        StaleTimestamp,
        NoMeasurement,
        DuplicateSeq,
        InvalidReading,
    ];
    for code in all {
        match code {
            MalformedJson | InvalidType | InvalidFormat | MissingField | UnknownField | OutOfRange | TooFewReadings
            | TooManyReadings | FutureTimestamp | StaleTimestamp | NoMeasurement | DuplicateSeq | InvalidReading => {}
        }
    }
    all.to_vec()
}

#[test]
fn reading_and_location_properties_are_exactly_the_contracts_fields() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    let mut full = Reading::at(chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap(), 1);
    full.heart_rate_bpm = Some(70);
    full.spo2_pct = Some(97);
    full.skin_temp_c = Some(33.0);
    full.steps = Some(1);
    full.activity = Some(Activity::Rest);
    full.sleep_stage = Some(SleepStage::Rem);
    full.fall_detected = Some(false);
    full.fall_cancelled = Some(false);
    full.sos = Some(false);
    full.battery_pct = Some(50);
    full.worn = Some(true);
    full.location = Some(Location { lat: 1.0, lon: 2.0, accuracy_m: Some(3.0) });
    let serialized = serde_json::to_value(&full).unwrap();
    assert_eq!(keys(&schemas["Reading"]["properties"]), keys(&serialized));
    assert_eq!(keys(&schemas["Location"]["properties"]), keys(&serialized["location"]));
    assert_eq!(
        keys(&schemas["Upload"]["properties"]),
        ["app_version", "batch_id", "device_id", "readings"].map(String::from).into()
    );
    assert_eq!(schemas["Upload"]["properties"]["readings"]["maxItems"], json!(vigil_domain::upload::MAX_READINGS));
}

#[test]
fn error_codes_are_exactly_the_domains() {
    let spec = spec();
    let documented: BTreeSet<String> = spec["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let actual: BTreeSet<String> =
        all_codes().into_iter().map(|c| serde_json::to_value(c).unwrap().as_str().unwrap().to_owned()).collect();
    assert_eq!(documented, actual);
}

#[tokio::test]
async fn every_status_the_handler_gives_is_documented_with_its_body_shape() {
    let spec = spec();
    let responses = &spec["paths"]["/v1/uploads"]["post"]["responses"];
    let error_codes: Vec<Value> =
        spec["components"]["schemas"]["Error"]["properties"]["error"]["enum"].as_array().unwrap().clone();
    let mut cases: Vec<(lambda_http::Request, PublishMode)> = vec![
        (request(V2_UPLOAD), PublishMode::Ok),
        (request(V2_MIXED), PublishMode::Ok),
        (request(V2_INVALID), PublishMode::Ok),
        (request(V2_UNAUTHORIZED), PublishMode::Ok),
        (
            edited(V2_UPLOAD, |e| e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("x")),
            PublishMode::Ok,
        ),
        (edited(V2_UPLOAD, |e| e["headers"]["content-type"] = json!("text/csv")), PublishMode::Ok),
        (edited(V2_UPLOAD, |e| e["body"] = json!("x".repeat(1_100_000))), PublishMode::Ok),
        (edited(V2_UPLOAD, |e| e["requestContext"]["http"]["method"] = json!("PUT")), PublishMode::Ok),
        (edited(V2_UPLOAD, |e| e["rawPath"] = json!("/v2/x")), PublishMode::Ok),
        (request(V2_UPLOAD), PublishMode::TimesOut),
        (request(V2_UPLOAD), PublishMode::Refuses),
    ];
    let mut seen = BTreeSet::new();
    for (req, mode) in cases.drain(..) {
        let ingest = Ingest {
            publisher: MemoryPublisher::new(mode),
            directory: MemoryDirectory::with([band_0001()]),
            limits: MemoryLimits::default(),
            upload: Intervals::default(),
            publish_budget: Duration::from_secs(1),
        };
        let response = ingest.handle_at(req, event_time()).await;
        let status = response.status().as_u16().to_string();
        let documented = &responses[&status];
        assert!(documented.is_object(), "status {status} is not in the spec");
        let schema_ref = documented["content"]["application/json"]["schema"]["$ref"].as_str().unwrap();
        let schema = &spec["components"]["schemas"][schema_ref.rsplit('/').next().unwrap()];
        let body = body_json(&response);
        for required in schema["required"].as_array().unwrap() {
            assert!(body.get(required.as_str().unwrap()).is_some(), "{status}: {body} lacks {required}");
        }
        if let Some(code) = body.get("error").filter(|_| status != "400") {
            assert!(error_codes.contains(code), "{code} not documented");
        }
        for header in documented["headers"].as_object().into_iter().flat_map(|h| h.keys()) {
            assert!(response.headers().contains_key(header.as_str()), "{status} lacks header {header}");
        }
        seen.insert(status);
    }
    let all_documented: BTreeSet<String> = keys(responses);
    assert_eq!(seen, all_documented, "every documented status is produced by some case");
}

#[tokio::test]
async fn the_request_examples_are_accepted() {
    let spec = spec();
    let examples = spec["paths"]["/v1/uploads"]["post"]["requestBody"]["content"]["application/json"]["examples"]
        .as_object()
        .unwrap()
        .clone();
    assert!(examples.len() >= 2);
    for (name, example) in examples {
        let ingest = Ingest {
            publisher: MemoryPublisher::new(PublishMode::Ok),
            directory: MemoryDirectory::with([band_0001()]),
            limits: MemoryLimits::default(),
            upload: Intervals::default(),
            publish_budget: Duration::from_secs(1),
        };
        let body = example["value"].to_string();
        let response = ingest.handle_at(edited(V2_UPLOAD, |e| e["body"] = json!(body)), event_time()).await;
        assert_eq!(response.status(), 202, "example {name}: {}", body_json(&response));
        assert!(body_json(&response)["rejected"].as_array().unwrap().is_empty(), "example {name}");
    }
}
