//! Properties of the upload contract and the stream envelope over generated input:
//! validation is total, every refusal is explained at the right place, valid data
//! always gets through unchanged, and the envelope carries exactly what was accepted.

use crate::common::full_reading;
use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Value, json};
use vigil_domain::envelope::{DecodeError, ENVELOPE_VERSION, MAX_RECORD_BYTES, encode_envelopes};
use vigil_domain::reading::{Activity, Location, Range, SleepStage, limits};
use vigil_domain::upload::{MAX_AGE, MAX_FUTURE, MAX_READINGS, RejectedReading};
use vigil_domain::{Envelope, Reading, Upload, UploadRejected, parse_upload};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
}

fn in_window(ts: DateTime<FixedOffset>) -> bool {
    let ts = ts.with_timezone(&Utc);
    ts <= now() + MAX_FUTURE && ts >= now() - MAX_AGE
}

fn body(readings: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "device_id": "band-0001",
        "batch_id": "b-1",
        "app_version": "1.4.2",
        "readings": readings,
    }))
    .unwrap()
}

// ---------------------------------------------------------------------------
// Checks shared by the properties.

/// True when `field` is `readings[index]` itself or a path inside it.
fn belongs_to(field: &str, index: usize) -> bool {
    let prefix = format!("readings[{index}]");
    field.strip_prefix(&prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

fn assert_within_limits(r: &Reading) -> Result<(), TestCaseError> {
    let int = |v: Option<i64>, range: Range<i64>| v.is_none_or(|v| range.contains(v));
    let float = |v: Option<f64>, range: Range<f64>| v.is_none_or(|v| range.contains(v));
    prop_assert!(in_window(r.ts), "accepted ts out of window: {r:?}");
    prop_assert!(int(r.heart_rate_bpm, limits::HEART_RATE_BPM), "{r:?}");
    prop_assert!(int(r.spo2_pct, limits::SPO2_PCT), "{r:?}");
    prop_assert!(float(r.skin_temp_c, limits::SKIN_TEMP_C), "{r:?}");
    prop_assert!(int(r.steps, limits::STEPS), "{r:?}");
    prop_assert!(int(r.battery_pct, limits::BATTERY_PCT), "{r:?}");
    if let Some(l) = r.location {
        prop_assert!(limits::LAT.contains(l.lat) && limits::LON.contains(l.lon), "{r:?}");
        prop_assert!(float(l.accuracy_m, limits::ACCURACY_M), "{r:?}");
    }
    prop_assert!(r.has_measurement(), "accepted without a measurement: {r:?}");
    Ok(())
}

fn assert_explained(errors: &[vigil_domain::FieldError]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty(), "a refusal without a reason");
    for e in errors {
        prop_assert!(!e.message.trim().is_empty(), "empty message: {e:?}");
    }
    Ok(())
}

/// What must hold of any parse result: refusals are explained; in an accepted
/// upload every reading sent is either accepted or rejected (with reasons that
/// point into that reading), and nothing out of range gets through.
fn assert_consistent(result: &Result<Upload, UploadRejected>, sent: Option<usize>) -> Result<(), TestCaseError> {
    match result {
        Err(rejected) => assert_explained(&rejected.errors)?,
        Ok(up) => {
            let total = up.readings.len() + up.rejected.len();
            prop_assert!((1..=MAX_READINGS).contains(&total), "{total} readings in an accepted upload");
            if let Some(sent) = sent {
                prop_assert_eq!(total, sent);
            }
            let indexes: Vec<usize> = up.rejected.iter().map(|r| r.index).collect();
            prop_assert!(indexes.windows(2).all(|w| w[0] < w[1]), "indexes not increasing: {indexes:?}");
            prop_assert!(indexes.iter().all(|&i| i < total), "index beyond the batch: {indexes:?}");
            for RejectedReading { index, errors } in &up.rejected {
                assert_explained(errors)?;
                for e in errors {
                    prop_assert!(belongs_to(&e.field, *index), "error of reading {index} at {:?}", e.field);
                }
            }
            for r in &up.readings {
                assert_within_limits(r)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Strategies.

/// Keys the contract knows, so generated objects often look like uploads or readings.
const KNOWN_KEYS: &[&str] = &[
    "device_id",
    "batch_id",
    "app_version",
    "readings",
    "ts",
    "seq",
    "heart_rate_bpm",
    "spo2_pct",
    "skin_temp_c",
    "steps",
    "activity",
    "sleep_stage",
    "fall_detected",
    "fall_cancelled",
    "sos",
    "battery_pct",
    "worn",
    "location",
    "lat",
    "lon",
    "accuracy_m",
];

/// Strings the validator treats specially: enum values, timestamps in and out of
/// the window, almost-timestamps, a leap second, ids.
const INTERESTING_STRINGS: &[&str] = &[
    "rest",
    "light",
    "moderate",
    "vigorous",
    "awake",
    "deep",
    "rem",
    "Light",
    "",
    "2026-11-22T09:59:00Z",
    "2026-11-22T10:59:00+01:00",
    "2026-11-22T10:05:00Z",
    "2026-11-22T10:05:00.000000001Z",
    "2026-11-15T10:00:00Z",
    "2026-11-15T09:59:59.999Z",
    "2026-11-22T09:59:60Z",
    "2026-11-22 09:59:00Z",
    "2026-11-22t09:59:00z",
    "2026-11-22T09:59:00",
    "2026-11-22T09:59:00+24:00",
    "2026-11-22T09:59:00.123456789123-00:00",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00Z",
    "band-0001",
    "72",
    "true",
    "null",
];

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(KNOWN_KEYS).prop_map(str::to_owned),
        1 => "[a-z_]{0,12}",
        1 => any::<String>(),
    ]
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(INTERESTING_STRINGS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn arb_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        // Small numbers land in and around the physiological ranges.
        3 => (-300i64..=20_000).prop_map(Value::from),
        2 => (-200.0f64..200.0).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_filter_map("JSON has no NaN or infinity", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        1 => select(&[0.5f64, -0.0, 1e300, -1e-300, 72.0][..]).prop_map(Value::from),
    ]
}

/// Any JSON value, nested at most 4 deep, at most 64 nodes.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(arb_key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arb_ts() -> impl Strategy<Value = DateTime<FixedOffset>> {
    let window = (MAX_AGE + MAX_FUTURE).num_seconds();
    let second = prop_oneof![1 => Just(0), 1 => Just(window), 8 => 0..=window];
    let max_offset = 23 * 3600 + 59 * 60;
    (second, 0i64..1_000_000_000, (-max_offset / 60..=max_offset / 60)).prop_map(move |(second, nanos, offset_min)| {
        let nanos = if second == window { 0 } else { nanos };
        let utc = now() - MAX_AGE + Duration::seconds(second) + Duration::nanoseconds(nanos);
        utc.with_timezone(&FixedOffset::east_opt(offset_min * 60).unwrap())
    })
}

fn int_in(r: Range<i64>) -> impl Strategy<Value = i64> {
    prop_oneof![1 => Just(r.min), 1 => Just(r.max), 6 => r.min..=r.max]
}

fn float_in(r: Range<f64>) -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(r.min), 1 => Just(r.max), 6 => r.min..=r.max]
}

/// A reading every field of which is valid; its `seq` is set by the caller.
fn arb_valid_reading() -> impl Strategy<Value = Reading> {
    use prop::option::of;
    let activity = select(&[Activity::Rest, Activity::Light, Activity::Moderate, Activity::Vigorous][..]);
    let sleep = select(&[SleepStage::Awake, SleepStage::Light, SleepStage::Deep, SleepStage::Rem][..]);
    let vitals = (
        of(int_in(limits::HEART_RATE_BPM)),
        of(int_in(limits::SPO2_PCT)),
        of(float_in(limits::SKIN_TEMP_C)),
        of(int_in(limits::STEPS)),
        of(int_in(limits::BATTERY_PCT)),
    );
    let states = (of(activity), of(sleep), of(any::<bool>()), of(any::<bool>()), of(any::<bool>()), of(any::<bool>()));
    let location = of((float_in(limits::LAT), float_in(limits::LON), of(float_in(limits::ACCURACY_M)))
        .prop_map(|(lat, lon, accuracy_m)| Location { lat, lon, accuracy_m }));
    (arb_ts(), vitals, states, location).prop_map(|(ts, vitals, states, location)| {
        let mut r = Reading::at(ts, 0);
        (r.heart_rate_bpm, r.spo2_pct, r.skin_temp_c, r.steps, r.battery_pct) = vitals;
        (r.activity, r.sleep_stage, r.fall_detected, r.fall_cancelled, r.sos, r.worn) = states;
        r.location = location;
        if !r.has_measurement() {
            r.worn = Some(true);
        }
        r
    })
}

/// Valid readings with distinct sequence numbers.
fn arb_valid_readings(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Reading>> {
    (prop::collection::vec(arb_valid_reading(), len), 0..u64::MAX / 2).prop_map(|(mut readings, base)| {
        for (i, r) in readings.iter_mut().enumerate() {
            r.seq = base + i as u64;
        }
        readings
    })
}

fn to_json(readings: &[Reading]) -> Vec<Value> {
    readings.iter().map(|r| serde_json::to_value(r).unwrap()).collect()
}

/// Bytes that are mostly noise, or a valid body damaged in a few places.
fn arb_body_bytes() -> impl Strategy<Value = Vec<u8>> {
    let damaged = (
        arb_valid_readings(1..4),
        prop::collection::vec((any::<Index>(), any::<u8>()), 0..4),
        prop::option::of(any::<Index>()),
    )
        .prop_map(|(readings, edits, cut)| {
            let mut bytes = body(to_json(&readings));
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            bytes
        });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        "[{}\\[\\]\":,0-9a-z \\-.]{0,200}".prop_map(String::into_bytes),
        damaged,
    ]
}

/// One way to spoil an otherwise valid reading.
#[derive(Debug, Clone)]
enum Fault {
    None,
    OutOfRange(&'static str, Value),
    WrongType(&'static str),
    UnknownField,
    MissingTs,
    Stale,
    Future,
    NoMeasurement,
    /// Reuse the seq of an earlier reading of the batch.
    SeqOfEarlier(Index),
}

const READING_FIELDS: &[&str] = &[
    "ts",
    "seq",
    "heart_rate_bpm",
    "spo2_pct",
    "skin_temp_c",
    "steps",
    "activity",
    "sleep_stage",
    "fall_detected",
    "fall_cancelled",
    "sos",
    "battery_pct",
    "worn",
    "location",
];

fn arb_fault() -> impl Strategy<Value = Fault> {
    let int_fields = select(
        &[
            ("heart_rate_bpm", limits::HEART_RATE_BPM),
            ("spo2_pct", limits::SPO2_PCT),
            ("steps", limits::STEPS),
            ("battery_pct", limits::BATTERY_PCT),
        ][..],
    );
    let float_fields = select(
        &[
            ("skin_temp_c", limits::SKIN_TEMP_C),
            ("location.lat", limits::LAT),
            ("location.lon", limits::LON),
            ("location.accuracy_m", limits::ACCURACY_M),
        ][..],
    );
    let int_out = (int_fields, any::<bool>(), 1i64..1_000_000)
        .prop_map(|((name, r), low, by)| Fault::OutOfRange(name, json!(if low { r.min - by } else { r.max + by })));
    let float_out = (float_fields, any::<bool>(), 0.001f64..1e6)
        .prop_map(|((name, r), low, by)| Fault::OutOfRange(name, json!(if low { r.min - by } else { r.max + by })));
    prop_oneof![
        6 => Just(Fault::None),
        1 => int_out,
        1 => float_out,
        1 => select(READING_FIELDS).prop_map(Fault::WrongType),
        1 => Just(Fault::UnknownField),
        1 => Just(Fault::MissingTs),
        1 => Just(Fault::Stale),
        1 => Just(Fault::Future),
        1 => Just(Fault::NoMeasurement),
        2 => any::<Index>().prop_map(Fault::SeqOfEarlier),
    ]
}

/// Applies the fault; returns the reading's JSON and whether it is valid on its own.
fn spoil(reading: &Reading, fault: &Fault, earlier: &[Reading]) -> (Value, bool) {
    let mut v = serde_json::to_value(reading).unwrap();
    let rfc = |t: DateTime<Utc>| Value::String(t.to_rfc3339());
    let valid_alone = match fault {
        Fault::None => true,
        Fault::OutOfRange(name, bad) => {
            match name.strip_prefix("location.") {
                Some(sub) => {
                    let mut location = json!({"lat": 0.0, "lon": 0.0});
                    location[sub] = bad.clone();
                    v["location"] = location;
                }
                None => v[*name] = bad.clone(),
            }
            false
        }
        Fault::WrongType(name) => {
            v[*name] = json!([1]);
            false
        }
        Fault::UnknownField => {
            v["mood"] = json!("ok");
            false
        }
        Fault::MissingTs => {
            v.as_object_mut().unwrap().remove("ts");
            false
        }
        Fault::Stale => {
            v["ts"] = rfc(now() - MAX_AGE - Duration::milliseconds(1));
            false
        }
        Fault::Future => {
            v["ts"] = rfc(now() + MAX_FUTURE + Duration::milliseconds(1));
            false
        }
        Fault::NoMeasurement => {
            v = json!({"ts": v["ts"], "seq": v["seq"]});
            false
        }
        Fault::SeqOfEarlier(which) => {
            if !earlier.is_empty() {
                v["seq"] = json!(earlier[which.index(earlier.len())].seq);
            }
            true
        }
    };
    (v, valid_alone)
}

// ---------------------------------------------------------------------------
// The oracle for a single field: would the contract accept this value there?

/// `key` is a reading field or `location.<field>`; the rest of the reading is
/// valid and `taken_seq` is the seq of an accepted reading earlier in the batch.
fn field_accepts(key: &str, v: &Value, taken_seq: u64) -> bool {
    let int = |r: Range<i64>| v.is_null() || v.as_i64().is_some_and(|i| r.contains(i));
    let num = |r: Range<f64>| v.as_f64().is_some_and(|f| r.contains(f));
    let one_of = |allowed: &[&str]| v.is_null() || v.as_str().is_some_and(|s| allowed.contains(&s));
    match key {
        "ts" => v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).is_some_and(in_window),
        "seq" => v.as_u64().is_some_and(|s| s != taken_seq),
        "heart_rate_bpm" => int(limits::HEART_RATE_BPM),
        "spo2_pct" => int(limits::SPO2_PCT),
        "steps" => int(limits::STEPS),
        "battery_pct" => int(limits::BATTERY_PCT),
        "skin_temp_c" => v.is_null() || num(limits::SKIN_TEMP_C),
        "activity" => one_of(&["rest", "light", "moderate", "vigorous"]),
        "sleep_stage" => one_of(&["awake", "light", "deep", "rem"]),
        "fall_detected" | "fall_cancelled" | "sos" | "worn" => v.is_null() || v.is_boolean(),
        "location" => {
            v.is_null()
                || v.as_object().is_some_and(|o| {
                    o.keys().all(|k| ["lat", "lon", "accuracy_m"].contains(&k.as_str()))
                        && ["lat", "lon", "accuracy_m"].iter().all(|k| {
                            field_accepts(&format!("location.{k}"), o.get(*k).unwrap_or(&Value::Null), taken_seq)
                        })
                })
        }
        "location.lat" => num(limits::LAT),
        "location.lon" => num(limits::LON),
        "location.accuracy_m" => v.is_null() || num(limits::ACCURACY_M),
        _ => false,
    }
}

const SUBSTITUTABLE: &[&str] = &[
    "ts",
    "seq",
    "heart_rate_bpm",
    "spo2_pct",
    "skin_temp_c",
    "steps",
    "activity",
    "sleep_stage",
    "fall_detected",
    "fall_cancelled",
    "sos",
    "battery_pct",
    "worn",
    "location",
    "location.lat",
    "location.lon",
    "location.accuracy_m",
    "mood",
];

proptest! {
    #[test]
    fn any_bytes_are_parsed_without_panic_and_every_refusal_is_explained(bytes in arb_body_bytes()) {
        assert_consistent(&parse_upload(&bytes, now()), None)?;
    }

    #[test]
    fn any_json_body_is_parsed_without_panic_and_every_refusal_is_explained(
        value in prop_oneof![
            arb_json(),
            // Upload-shaped objects with arbitrary field values.
            prop::collection::btree_map(
                select(&["device_id", "batch_id", "app_version", "readings", "extra"][..]).prop_map(str::to_owned),
                arb_json(),
                0..6,
            ).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    ) {
        let bytes = serde_json::to_vec(&value).unwrap();
        assert_consistent(&parse_upload(&bytes, now()), None)?;
    }

    #[test]
    fn any_json_readings_are_each_accepted_or_rejected_at_their_own_index(
        readings in prop::collection::vec(arb_json(), 1..12),
    ) {
        let sent = readings.len();
        let result = parse_upload(&body(readings), now());
        prop_assert!(result.is_ok(), "a valid envelope was refused: {:?}", result.err());
        assert_consistent(&result, Some(sent))?;
    }

    #[test]
    fn any_json_reading_between_valid_ones_spoils_only_itself(odd in arb_json()) {
        let result = parse_upload(&body(vec![full_reading(1), odd, full_reading(2)]), now());
        assert_consistent(&result, Some(3))?;
        let up = result.unwrap();
        prop_assert_eq!(up.readings[0].seq, 1);
        // Reading 2 can only be lost to a clash with the odd one's seq.
        for r in &up.rejected {
            prop_assert!(r.index == 1 || (r.index == 2 && r.errors[0].field == "readings[2].seq"), "{:?}", up.rejected);
        }
    }

    #[test]
    fn any_json_value_in_any_field_is_accepted_exactly_when_the_contract_allows_it(
        key in select(SUBSTITUTABLE),
        value in arb_json(),
    ) {
        let mut odd = full_reading(2);
        match key.strip_prefix("location.") {
            Some(sub) => odd["location"][sub] = value.clone(),
            None => odd[key] = value.clone(),
        }
        let result = parse_upload(&body(vec![full_reading(1), odd]), now());
        assert_consistent(&result, Some(2))?;
        let up = result.unwrap();
        prop_assert_eq!(up.readings[0].seq, 1);
        let expected = field_accepts(key, &value, 1);
        prop_assert_eq!(up.readings.len() == 2, expected, "{} = {}: {:?}", key, value, up.rejected);
        if let Some(rejected) = up.rejected.first() {
            // The field that was changed is among the reasons, by its path.
            let path = format!("readings[1].{key}");
            prop_assert!(
                rejected.errors.iter().any(|e| e.field == path || e.field.starts_with(&format!("{path}."))),
                "{} = {}: {:?}", key, value, rejected.errors
            );
        }
    }

    #[test]
    fn valid_readings_are_always_accepted_unchanged_and_in_order(readings in arb_valid_readings(1..40)) {
        let up = parse_upload(&body(to_json(&readings)), now());
        prop_assert!(up.is_ok(), "{:?}", up.err());
        let up = up.unwrap();
        prop_assert!(up.rejected.is_empty(), "{:?}", up.rejected);
        prop_assert_eq!(&up.readings, &readings);
        for (got, sent) in up.readings.iter().zip(&readings) {
            prop_assert_eq!(got.ts.offset(), sent.ts.offset());
        }
    }

    #[test]
    fn a_mixed_batch_accepts_exactly_the_valid_readings_and_accounts_for_every_one(
        batch in prop::collection::vec((arb_valid_reading(), arb_fault()), 1..40),
        base in 0..u64::MAX / 2,
    ) {
        let mut sent = Vec::new();
        let mut expected_accepted = Vec::new();
        let mut expected_rejected = Vec::new();
        let mut readings: Vec<Reading> = Vec::new();
        let mut taken = std::collections::HashSet::new();
        for (i, (mut reading, fault)) in batch.into_iter().enumerate() {
            reading.seq = base + i as u64;
            let (json, valid_alone) = spoil(&reading, &fault, &readings);
            // Only an accepted reading claims its seq.
            if let Some(seq) = json["seq"].as_u64().filter(|&seq| valid_alone && taken.insert(seq)) {
                expected_accepted.push(seq);
            } else {
                expected_rejected.push(i);
            }
            readings.push(reading);
            sent.push(json);
        }
        let n = sent.len();
        let result = parse_upload(&body(sent), now());
        assert_consistent(&result, Some(n))?;
        let up = result.unwrap();
        prop_assert_eq!(up.readings.iter().map(|r| r.seq).collect::<Vec<_>>(), expected_accepted);
        prop_assert_eq!(up.rejected.iter().map(|r| r.index).collect::<Vec<_>>(), expected_rejected);
    }

    #[test]
    fn envelope_decode_never_panics(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            (arb_valid_readings(1..4), prop::collection::vec((any::<Index>(), any::<u8>()), 1..4))
                .prop_map(|(readings, edits)| {
                    let mut bytes = encoded_parts(&upload_of(readings)).remove(0);
                    for (at, byte) in edits {
                        let i = at.index(bytes.len());
                        bytes[i] = byte;
                    }
                    bytes
                }),
            arb_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        ]
    ) {
        let _ = Envelope::decode(&bytes);
    }

    #[test]
    fn envelopes_carry_exactly_the_accepted_readings_in_order(
        readings in arb_valid_readings(1..40),
        wearer in "[a-z0-9-]{1,36}",
        received_ms in 0i64..4_000_000_000_000,
    ) {
        let received_at = DateTime::from_timestamp_millis(received_ms).unwrap();
        let up = parse_upload(&body(to_json(&readings)), now()).unwrap();
        let parts = encode_envelopes(&up, &wearer, received_at).unwrap();
        prop_assert!(!parts.is_empty());
        let mut carried = Vec::new();
        for (i, bytes) in parts.iter().enumerate() {
            prop_assert!(bytes.len() <= MAX_RECORD_BYTES, "part {i} is {} bytes", bytes.len());
            let env = Envelope::decode(bytes).unwrap();
            prop_assert_eq!(env.v, ENVELOPE_VERSION);
            prop_assert_eq!(env.part as usize, i);
            prop_assert_eq!(env.parts as usize, parts.len());
            prop_assert_eq!(&env.batch_id, &up.batch_id);
            prop_assert_eq!(&env.device_id, &up.device_id);
            prop_assert_eq!(&env.app_version, &up.app_version);
            prop_assert_eq!(env.partition_key(), wearer.as_str());
            prop_assert_eq!(env.received_at, received_at);
            carried.extend(env.readings);
        }
        prop_assert_eq!(&carried, &up.readings);
    }

    #[test]
    fn envelope_decode_refuses_any_other_version(
        readings in arb_valid_readings(1..4),
        v in prop_oneof![any::<u32>().prop_map(Value::from), any::<i64>().prop_map(Value::from), arb_json()],
    ) {
        prop_assume!(v != json!(ENVELOPE_VERSION));
        let mut envelope: Value = serde_json::from_slice(&encoded_parts(&upload_of(readings))[0]).unwrap();
        envelope["v"] = v.clone();
        let result = Envelope::decode(&serde_json::to_vec(&envelope).unwrap());
        match v.as_u64().and_then(|v| u32::try_from(v).ok()) {
            Some(v) => prop_assert!(matches!(result, Err(DecodeError::Version(got)) if got == v), "{result:?}"),
            None => prop_assert!(matches!(result, Err(DecodeError::Malformed(_))), "{result:?}"),
        }
    }
}

fn upload_of(readings: Vec<Reading>) -> Upload {
    parse_upload(&body(to_json(&readings)), now()).unwrap()
}

fn encoded_parts(up: &Upload) -> Vec<Vec<u8>> {
    encode_envelopes(up, "wearer-1", now()).unwrap()
}

/// Found by `valid_readings_are_always_accepted_unchanged_and_in_order`: a phone
/// sends a double as its shortest round-trip text, often 17 digits; serde_json's
/// default parser read this one a unit in the last place off.
#[test]
fn seventeen_digit_floats_are_kept_exactly_through_validation_and_the_envelope() {
    let sent = 38.707421091839876_f64;
    let mut r = full_reading(1);
    r["skin_temp_c"] = json!(sent);
    r["location"]["lat"] = json!(-12.345678901234567_f64);
    let up = parse_upload(&body(vec![r]), now()).unwrap();
    assert_eq!(up.readings[0].skin_temp_c, Some(sent));
    assert_eq!(up.readings[0].location.unwrap().lat, -12.345678901234567);
    let env = Envelope::decode(&encoded_parts(&up)[0]).unwrap();
    assert_eq!(env.readings, up.readings);
}
