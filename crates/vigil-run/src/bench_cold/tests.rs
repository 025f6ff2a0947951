#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

use super::*;
use vigil_local::declaration::FUNCTIONS;

#[test]
fn every_declared_function_is_benched_with_an_event_of_its_own() {
    for (name, _) in FUNCTIONS {
        assert!(ORDER.contains(&name), "{name} is not in bench_cold::ORDER");
        assert!(first_invocation(name).is_some(), "{name} has no first invocation");
    }
    assert_eq!(ORDER.len(), FUNCTIONS.len());
    assert!(first_invocation("nope").is_none());
    // Nothing is pending for the loader yet; the links and replies need the alert path's work.
    let at = |n: &str| ORDER.iter().position(|o| *o == n).unwrap();
    assert_eq!(at("warehouse-loader"), 0);
    assert!(at("alert-processor") < at("ack-link") && at("alert-processor") < at("sms-reply"));
}

#[test]
fn the_sample_events_read_as_what_each_function_is_invoked_with() {
    for name in ["ingest-api", "care-api", "ack-link"] {
        let event = first_invocation(name).unwrap().event;
        let request = lambda_http::request::from_str(event).unwrap_or_else(|e| panic!("{name}: {e}"));
        let method = if name == "ingest-api" { "POST" } else { "GET" };
        assert_eq!(request.method().as_str(), method, "{name}");
        let path = request.uri().path().to_owned();
        match name {
            "ingest-api" => assert_eq!(path, "/v1/uploads"),
            "care-api" => assert_eq!(path, "/v1/wearers/wearer-42"),
            _ => assert_eq!(path, format!("/a/{TOKEN_PLACEHOLDER}")),
        }
    }
    let kinesis: aws_lambda_events::event::kinesis::KinesisEvent =
        serde_json::from_str(first_invocation("raw-archiver").unwrap().event).unwrap();
    assert!(!kinesis.records.is_empty());
    let sns: aws_lambda_events::event::sns::SnsEvent =
        serde_json::from_str(first_invocation("sms-reply").unwrap().event).unwrap();
    let sms: sms_reply::InboundSms = serde_json::from_str(&sns.records[0].sns.message).unwrap();
    // The reply comes from the first caregiver of the sample wearer, whom alert-processor texts.
    let profile: WearerProfile = serde_json::from_str(PROFILE).unwrap();
    assert_eq!(Some(&sms.origination_number), profile.caregivers[0].phone.as_ref());
    assert_eq!(sms.message_body, "1");
    // The sample wearer's band is the one the upload names, for the app user it is signed in as.
    let upload: serde_json::Value = serde_json::from_str(first_invocation("ingest-api").unwrap().event).unwrap();
    assert_eq!(upload["requestContext"]["authorizer"]["jwt"]["claims"]["sub"], APP_USER);
    assert!(upload["body"].as_str().unwrap().contains(DEVICE));
}

#[test]
fn a_first_invocation_counts_only_with_the_expected_answer() {
    assert_eq!(check(Expect::Http(202), br#"{"statusCode":202,"body":"{}"}"#), Ok(()));
    assert_eq!(check(Expect::Http(200), br#"{"statusCode":503}"#), Err("answered HTTP 503, expected 200".to_owned()));
    assert!(check(Expect::Http(200), b"not json").is_err());
    assert!(check(Expect::Http(200), br#"{"body":"x"}"#).is_err());
    assert_eq!(check(Expect::NoBatchFailures, br#"{"batchItemFailures":[]}"#), Ok(()));
    assert_eq!(
        check(Expect::NoBatchFailures, br#"{"batchItemFailures":[{"itemIdentifier":"1"}]}"#),
        Err("1 batch item failures".to_owned())
    );
    assert!(check(Expect::NoBatchFailures, br#"{}"#).is_err());
    assert_eq!(check(Expect::Answer, b"null"), Ok(()));
    assert_eq!(check(Expect::Acknowledged, br#"{"replies":1,"acknowledged":1,"repeated":0}"#), Ok(()));
    assert_eq!(check(Expect::Acknowledged, br#"{"replies":1,"acknowledged":0,"repeated":1}"#), Ok(()));
    assert_eq!(
        check(Expect::Acknowledged, br#"{"replies":1,"acknowledged":0,"unmatched":1}"#),
        Err("acknowledged nothing".to_owned())
    );
}

#[test]
fn the_sample_reply_is_published_now() {
    let before = chrono::Utc::now() - chrono::Duration::milliseconds(1);
    let event: aws_lambda_events::event::sns::SnsEvent =
        serde_json::from_slice(&reply_now(first_invocation("sms-reply").unwrap().event).unwrap()).unwrap();
    assert!(event.records[0].sns.timestamp >= before);
    assert!(reply_now("{}").is_err());
}

#[test]
fn the_sample_upload_is_taken_now() {
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    let event: serde_json::Value =
        serde_json::from_slice(&upload_now(first_invocation("ingest-api").unwrap().event).unwrap()).unwrap();
    let upload: serde_json::Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    let ts: Vec<chrono::DateTime<chrono::Utc>> =
        upload["readings"].as_array().unwrap().iter().map(|r| r["ts"].as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(ts.len(), 3);
    assert!(ts[2] >= before && ts[0] == ts[2] - chrono::Duration::seconds(10), "{ts:?}");
    assert_eq!(upload["device_id"], DEVICE);
    assert!(upload_now("{}").is_err());
}

#[test]
fn peak_rss_is_read_from_proc_status() {
    let status = "Name:\tx\nVmPeak:\t  200000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t   12000 kB\n";
    assert_eq!(vm_hwm_kb(status), Some(12345));
    assert_eq!(vm_hwm_kb("Name:\tx\n"), None);
    // This process has one.
    assert!(peak_rss_kb(std::process::id()).unwrap() > 0);
    assert!(peak_rss_kb(u32::MAX).is_err());
}

#[test]
fn medians_and_maxima() {
    assert_eq!(median_max(&[]), None);
    assert_eq!(median_max(&[3.0]), Some((3.0, 3.0)));
    assert_eq!(median_max(&[9.0, 1.0, 5.0, 2.0, 7.0]), Some((5.0, 9.0)));
}

#[test]
fn functions_are_chosen_by_name_in_the_bench_order() {
    assert_eq!(selected(&[]).unwrap(), ORDER.to_vec());
    assert_eq!(selected(&["sms-reply".into(), "ingest-api".into()]).unwrap(), vec!["ingest-api", "sms-reply"]);
    let err = selected(&["ingest".into()]).unwrap_err().to_string();
    assert!(err.contains("--function ingest"), "{err}");
}

#[test]
fn each_function_gets_its_declared_variables_and_lambdas_own() {
    let resources = Resources::unique("bench-env");
    let env = environment(&resources).unwrap();
    for name in ORDER {
        let vars = function_environment(name, &env, "127.0.0.1:9001").unwrap();
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let d = Declaration::of(name).unwrap();
        assert_eq!(get("AWS_LAMBDA_FUNCTION_NAME"), Some(name));
        assert_eq!(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some(d.memory_mb.to_string().as_str()));
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), Some("127.0.0.1:9001"));
        for (var, v) in &d.environment {
            let secret_arn = var.ends_with("_SECRET_ARN");
            if v.optional || secret_arn {
                assert_eq!(get(var), None, "{name} {var} is unset, as in local runs");
            } else {
                assert!(get(var).is_some(), "{name} gets no {var}");
            }
            if let Some(default) = &v.default {
                assert_eq!(get(var), Some(default.as_str()), "{name} {var}");
            }
        }
        // Nothing beyond the declaration, the endpoint's settings and Lambda's own.
        for (var, _) in &vars {
            assert!(
                d.environment.contains_key(var) || var.starts_with("AWS_") || var == "TZ",
                "{name} gets {var}, which it does not declare"
            );
        }
    }
    assert_eq!(
        function_environment("ingest-api", &env, "x").unwrap().iter().find(|(k, _)| k == "STREAM_NAME").map(|(_, v)| v),
        Some(&resources.stream)
    );
}

#[test]
fn the_table_gives_medians_maxima_and_the_targets_verdict() {
    let run = |init_ms, first: f64, peak_rss_kb| Run { init_ms, first_invocation_ms: Some(first), peak_rss_kb };
    let report = Report {
        measured_at: "2026-12-03 08:00 UTC".into(),
        runs_per_function: 3,
        host: "test".into(),
        functions: vec![
            FunctionFigures {
                function: "ingest-api".into(),
                binary_bytes: 5 * 1024 * 1024,
                memory_mb: 256,
                runs: vec![run(10.0, 30.0, 20480), run(12.0, 31.0, 20000), run(40.0, 35.0, 21504)],
                failure: None,
            },
            FunctionFigures {
                function: "care-api".into(),
                binary_bytes: 9 * 1024 * 1024,
                memory_mb: 256,
                runs: vec![],
                failure: Some("run 1: answered HTTP 503, expected 200".into()),
            },
        ],
    };
    let table = report.table();
    assert!(table.contains("12.0 / 40.0"), "{table}");
    assert!(table.contains("31.0 / 35.0"), "{table}");
    assert!(table.contains("21.0"), "peak RSS is the max: {table}");
    assert!(table.contains("FAILED: run 1: answered HTTP 503"), "{table}");
    assert!(table.contains("init median <= 20 ms: met"), "{table}");
    assert!(table.contains("binary <= 8 MiB: missed by care-api"), "{table}");
    assert!(!report.complete());
}
