//! The upload contract: what is accepted, and every way it is refused.

use crate::common::full_reading;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use vigil_domain::upload::{ErrorCode, MAX_READINGS, parse_upload};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().with_timezone(&Utc)
}

fn upload(readings: Vec<Value>) -> Value {
    json!({"device_id": "band-0001", "batch_id": "b-1", "app_version": "1.4.2", "readings": readings})
}

fn parse(v: &Value) -> Result<vigil_domain::Upload, vigil_domain::UploadRejected> {
    parse_upload(&serde_json::to_vec(v).unwrap(), now())
}

fn codes_at(errors: &[vigil_domain::FieldError]) -> Vec<(String, ErrorCode)> {
    errors.iter().map(|e| (e.field.clone(), e.code)).collect()
}

#[test]
fn a_full_valid_upload_is_accepted_whole() {
    let up = parse(&upload((1..=12).map(full_reading).collect())).unwrap();
    assert_eq!(up.readings.len(), 12);
    assert!(up.rejected.is_empty());
    assert_eq!(up.device_id, "band-0001");
    assert_eq!(up.readings[0].heart_rate_bpm, Some(72));
    assert_eq!(up.readings[0].location.unwrap().lat, 40.41);
}

#[test]
fn every_field_of_a_reading_is_type_checked_by_name() {
    // Replacing any single field of a complete reading with a wrong type must be
    // reported at exactly that field: the diagnostic walk covers every field.
    let full = full_reading(1);
    for key in full.as_object().unwrap().keys() {
        let mut bad = full.clone();
        bad[key] = json!([1, 2]);
        let up = parse(&upload(vec![full_reading(0), bad])).unwrap();
        assert_eq!(up.readings.len(), 1, "{key}");
        let errs = &up.rejected[0].errors;
        assert_eq!(up.rejected[0].index, 1);
        assert!(
            errs.iter().any(|e| e.field == format!("readings[1].{key}") && e.code == ErrorCode::InvalidType),
            "{key}: {errs:?}"
        );
    }
}

#[test]
fn all_problems_of_a_reading_are_reported_at_once() {
    let mut r = full_reading(5);
    r["heart_rate_bpm"] = json!(300); // out of range
    r["spo2_pct"] = json!("97"); // wrong type
    r["mood"] = json!("happy"); // unknown
    r["activity"] = json!("running"); // not an allowed value
    r["location"] = json!({"lat": 95.0, "lon": 1.0}); // out of range
    let up = parse(&upload(vec![r, full_reading(6)])).unwrap();
    assert_eq!(up.readings.len(), 1);
    let mut got = codes_at(&up.rejected[0].errors);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("readings[0].activity".into(), ErrorCode::InvalidFormat),
            ("readings[0].heart_rate_bpm".into(), ErrorCode::OutOfRange),
            ("readings[0].location.lat".into(), ErrorCode::OutOfRange),
            ("readings[0].mood".into(), ErrorCode::UnknownField),
            ("readings[0].spo2_pct".into(), ErrorCode::InvalidType),
        ]
    );
    let hr = up.rejected[0].errors.iter().find(|e| e.field.ends_with("heart_rate_bpm")).unwrap();
    assert_eq!(hr.message, "heart_rate_bpm must be between 20 and 250 bpm, got 300");
}

#[test]
fn physiological_ranges_are_inclusive_and_enforced() {
    for (field, ok, bad) in [
        ("heart_rate_bpm", json!(20), json!(19)),
        ("heart_rate_bpm", json!(250), json!(251)),
        ("spo2_pct", json!(100), json!(101)),
        ("spo2_pct", json!(50), json!(49)),
        ("skin_temp_c", json!(45.0), json!(45.1)),
        ("steps", json!(0), json!(-1)),
        ("battery_pct", json!(0), json!(-5)),
        ("battery_pct", json!(100), json!(101)),
    ] {
        let mut good = full_reading(1);
        good[field] = ok.clone();
        assert!(parse(&upload(vec![good])).unwrap().rejected.is_empty(), "{field}={ok}");
        let mut r = full_reading(1);
        r[field] = bad.clone();
        let up = parse(&upload(vec![r, full_reading(2)])).unwrap();
        assert_eq!(
            codes_at(&up.rejected[0].errors),
            vec![(format!("readings[0].{field}"), ErrorCode::OutOfRange)],
            "{field}={bad}"
        );
    }
}

#[test]
fn huge_integers_are_out_of_range_not_type_errors() {
    let mut r = full_reading(1);
    r["heart_rate_bpm"] = json!(u64::MAX);
    let up = parse(&upload(vec![r, full_reading(2)])).unwrap();
    assert_eq!(up.rejected[0].errors[0].code, ErrorCode::OutOfRange);
}

#[test]
fn timestamps_window_is_five_minutes_ahead_to_seven_days_back() {
    let at = |t: DateTime<Utc>| {
        let mut r = full_reading(1);
        r["ts"] = json!(t.to_rfc3339());
        parse(&upload(vec![r, full_reading(2)])).unwrap()
    };
    assert!(at(now() + Duration::minutes(5)).rejected.is_empty());
    assert_eq!(at(now() + Duration::minutes(6)).rejected[0].errors[0].code, ErrorCode::FutureTimestamp);
    assert!(at(now() - Duration::days(7)).rejected.is_empty());
    assert_eq!(
        at(now() - Duration::days(7) - Duration::seconds(1)).rejected[0].errors[0].code,
        ErrorCode::StaleTimestamp
    );
}

#[test]
fn timestamps_must_be_rfc3339_with_offset() {
    for ts in ["2026-11-22T10:00:00", "2026-11-22", "yesterday", "1700000000"] {
        let mut r = full_reading(1);
        r["ts"] = json!(ts);
        let up = parse(&upload(vec![r, full_reading(2)])).unwrap();
        assert_eq!(codes_at(&up.rejected[0].errors), vec![("readings[0].ts".into(), ErrorCode::InvalidFormat)], "{ts}");
    }
    let mut r = full_reading(1);
    r["ts"] = json!("2026-11-22T06:59:00.250-03:00");
    assert!(parse(&upload(vec![r])).unwrap().rejected.is_empty());
}

#[test]
fn ts_and_seq_are_required_and_other_fields_still_checked() {
    let mut r = full_reading(1);
    r.as_object_mut().unwrap().remove("ts");
    r.as_object_mut().unwrap().remove("seq");
    r["spo2_pct"] = json!(20);
    let up = parse(&upload(vec![r, full_reading(2)])).unwrap();
    let mut got = codes_at(&up.rejected[0].errors);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("readings[0].seq".into(), ErrorCode::MissingField),
            ("readings[0].spo2_pct".into(), ErrorCode::OutOfRange),
            ("readings[0].ts".into(), ErrorCode::MissingField),
        ]
    );
}

#[test]
fn nulls_mean_absent_and_a_reading_needs_a_measurement() {
    let r = json!({"ts": "2026-11-22T09:59:00Z", "seq": 9, "heart_rate_bpm": null});
    let up = parse(&upload(vec![r, full_reading(2)])).unwrap();
    assert_eq!(codes_at(&up.rejected[0].errors), vec![("readings[0]".into(), ErrorCode::NoMeasurement)]);
    let r = json!({"ts": "2026-11-22T09:59:00Z", "seq": 9, "battery_pct": 40, "heart_rate_bpm": null});
    assert!(parse(&upload(vec![r])).unwrap().rejected.is_empty());
}

#[test]
fn duplicate_seq_inside_an_upload_is_dropped_and_reported() {
    let up = parse(&upload(vec![full_reading(1), full_reading(2), full_reading(1)])).unwrap();
    assert_eq!(up.readings.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(codes_at(&up.rejected[0].errors), vec![("readings[2].seq".into(), ErrorCode::DuplicateSeq)]);
    assert_eq!(up.rejected[0].index, 2);
}

#[test]
fn positional_arrays_are_not_objects() {
    // serde's derived impls would take `[lat, lon]` or a whole reading as an array.
    let mut r = full_reading(1);
    r["location"] = json!([40.0, -3.0]);
    let up = parse(&upload(vec![r, json!(["2026-11-22T09:59:00Z", 3, 70]), full_reading(2)])).unwrap();
    assert_eq!(up.readings.len(), 1);
    assert_eq!(codes_at(&up.rejected[0].errors), vec![("readings[0].location".into(), ErrorCode::InvalidType)]);
    assert_eq!(codes_at(&up.rejected[1].errors), vec![("readings[1]".into(), ErrorCode::InvalidType)]);
    let err = parse(&json!(["band-0001", "b-1", "1.4.2", [full_reading(1)]])).unwrap_err();
    assert_eq!(err.errors[0].code, ErrorCode::InvalidType);
}

#[test]
fn a_reading_that_is_not_an_object_is_rejected_alone() {
    let up = parse(&upload(vec![json!(42), full_reading(2), json!("x")])).unwrap();
    assert_eq!(up.readings.len(), 1);
    assert_eq!(up.rejected.iter().map(|r| r.index).collect::<Vec<_>>(), vec![0, 2]);
    assert_eq!(up.rejected[0].errors[0].code, ErrorCode::InvalidType);
}

#[test]
fn a_duplicated_key_is_still_explained() {
    let body = br#"{"device_id":"d","batch_id":"b","app_version":"1","readings":[{"ts":"2026-11-22T09:59:00Z","seq":1,"seq":2,"worn":true}]}"#;
    let up = parse_upload(body, now()).unwrap();
    let e = &up.rejected[0].errors[0];
    assert_eq!((e.field.as_str(), e.code), ("readings[0].seq", ErrorCode::InvalidReading));
    assert!(e.message.contains("seq is sent more than once"), "{}", e.message);
}

#[test]
fn the_envelope_fields_are_checked_together() {
    let body = json!({"device_id": "", "batch_id": "has space", "app_version": "1.0", "readings": []});
    let err = parse(&body).unwrap_err();
    assert_eq!(
        codes_at(&err.errors),
        vec![
            ("device_id".into(), ErrorCode::InvalidFormat),
            ("batch_id".into(), ErrorCode::InvalidFormat),
            ("readings".into(), ErrorCode::TooFewReadings),
        ]
    );
}

#[test]
fn wrong_shapes_are_explained_field_by_field() {
    let body = json!({"device_id": 7, "app_version": "1.0", "readings": {}, "extra": true});
    let mut got = codes_at(&parse(&body).unwrap_err().errors);
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("batch_id".into(), ErrorCode::MissingField),
            ("device_id".into(), ErrorCode::InvalidType),
            ("extra".into(), ErrorCode::UnknownField),
            ("readings".into(), ErrorCode::InvalidType),
        ]
    );
}

#[test]
fn not_json_and_not_an_object_are_refused() {
    let err = parse_upload(b"{\"device_id\": ", now()).unwrap_err();
    assert_eq!(err.errors[0].code, ErrorCode::MalformedJson);
    assert!(err.errors[0].message.contains("line 1"), "{}", err.errors[0].message);
    let err = parse_upload(b"[1,2]", now()).unwrap_err();
    assert_eq!(err.errors[0].code, ErrorCode::InvalidType);
    let err = parse_upload(&[0xff, 0xfe, 0x00], now()).unwrap_err();
    assert_eq!(err.errors[0].code, ErrorCode::MalformedJson);
}

#[test]
fn more_than_the_maximum_readings_refuses_the_upload() {
    let readings = (0..=MAX_READINGS as u64).map(full_reading).collect();
    let err = parse(&upload(readings)).unwrap_err();
    assert_eq!(codes_at(&err.errors), vec![("readings".into(), ErrorCode::TooManyReadings)]);
    let readings = (0..MAX_READINGS as u64).map(full_reading).collect();
    assert_eq!(parse(&upload(readings)).unwrap().readings.len(), MAX_READINGS);
}

#[test]
fn unknown_keys_echoed_back_are_capped() {
    let mut r = full_reading(1);
    r[&"k".repeat(10_000)] = json!(1);
    let up = parse(&upload(vec![r, full_reading(2)])).unwrap();
    let e = &up.rejected[0].errors[0];
    assert_eq!(e.code, ErrorCode::UnknownField);
    assert!(e.message.len() < 400 && e.field.len() <= 96);
}
