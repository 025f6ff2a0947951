//! The upload contract v1 and its validation.
//!
//! Validation has a fast path and a diagnostic path. A well-formed reading is
//! parsed straight into [`Reading`] and range-checked. Only when typed parsing
//! fails is the reading re-read as a JSON value and walked field by field, so
//! the client gets every problem at once (wrong types, unknown fields, missing
//! fields *and* out-of-range values), each with a field path, a stable code and
//! a human message.

use std::collections::HashSet;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::reading::{Location, MapOnly, Range, Reading, limits};

/// Most readings one upload may carry (one hour of 5-second readings is 720).
pub const MAX_READINGS: usize = 1_000;
/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How far ahead of the server's clock a reading may be (phone clock skew).
pub const MAX_FUTURE: Duration = Duration::minutes(5);
/// How long a phone may buffer readings while offline and still upload them.
pub const MAX_AGE: Duration = Duration::days(7);
/// Longest device id, batch id.
pub const MAX_ID_LEN: usize = 64;
/// Longest app version string.
pub const MAX_APP_VERSION_LEN: usize = 32;

/// A stable, machine-readable reason; clients switch on these, so never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
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
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    /// Path of the field, e.g. `readings[3].heart_rate_bpm`; empty for the whole body.
    pub field: String,
    pub code: ErrorCode,
    pub message: String,
}

impl FieldError {
    fn new(field: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { field: field.into(), code, message: message.into() }
    }
}

/// A reading that was not accepted, with every reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedReading {
    pub index: usize,
    pub errors: Vec<FieldError>,
}

/// The whole upload is unusable (not JSON, wrong shape, bad identifiers, no or
/// too many readings). Nothing in it is accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadRejected {
    pub errors: Vec<FieldError>,
}

/// An upload whose envelope is valid. Some readings may still be rejected;
/// `readings` holds the accepted ones, in the order sent, duplicates removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub device_id: String,
    pub batch_id: String,
    pub app_version: String,
    pub readings: Vec<Reading>,
    pub rejected: Vec<RejectedReading>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadWire<'a> {
    device_id: String,
    batch_id: String,
    app_version: String,
    #[serde(borrow)]
    readings: Vec<&'a RawValue>,
}

const UPLOAD_FIELDS: [&str; 4] = ["device_id", "batch_id", "app_version", "readings"];

/// Parses and validates an upload body against the server's clock `now`.
///
/// Never panics, whatever the bytes.
pub fn parse_upload(body: &[u8], now: DateTime<Utc>) -> Result<Upload, UploadRejected> {
    let wire: UploadWire<'_> = match serde_json::from_slice::<MapOnly<_>>(body) {
        Ok(MapOnly(wire)) => wire,
        Err(err) => return Err(UploadRejected { errors: diagnose_upload(body, &err) }),
    };

    let mut errors = Vec::new();
    check_id("device_id", &wire.device_id, &mut errors);
    check_id("batch_id", &wire.batch_id, &mut errors);
    check_app_version(&wire.app_version, &mut errors);
    if wire.readings.is_empty() {
        errors.push(FieldError::new(
            "readings",
            ErrorCode::TooFewReadings,
            "an upload must carry at least one reading",
        ));
    } else if wire.readings.len() > MAX_READINGS {
        errors.push(FieldError::new(
            "readings",
            ErrorCode::TooManyReadings,
            format!("an upload may carry at most {MAX_READINGS} readings, got {}; split it", wire.readings.len()),
        ));
    }
    if !errors.is_empty() {
        return Err(UploadRejected { errors });
    }

    let mut readings = Vec::with_capacity(wire.readings.len());
    let mut rejected = Vec::new();
    let mut seen = HashSet::with_capacity(wire.readings.len());
    for (index, raw) in wire.readings.iter().enumerate() {
        match parse_reading(index, raw.get(), now) {
            Ok(reading) => {
                if seen.insert(reading.seq) {
                    readings.push(reading);
                } else {
                    rejected.push(RejectedReading {
                        index,
                        errors: vec![FieldError::new(
                            format!("readings[{index}].seq"),
                            ErrorCode::DuplicateSeq,
                            format!("seq {} appears earlier in this upload; this copy was dropped", reading.seq),
                        )],
                    });
                }
            }
            Err(errors) => rejected.push(RejectedReading { index, errors }),
        }
    }

    Ok(Upload { device_id: wire.device_id, batch_id: wire.batch_id, app_version: wire.app_version, readings, rejected })
}

fn parse_reading(index: usize, raw: &str, now: DateTime<Utc>) -> Result<Reading, Vec<FieldError>> {
    match serde_json::from_str::<MapOnly<Reading>>(raw) {
        Ok(MapOnly(reading)) => {
            let errors = check_reading(index, &reading, now);
            if errors.is_empty() { Ok(reading) } else { Err(errors) }
        }
        Err(err) => Err(diagnose_reading(index, raw, now, &err)),
    }
}

/// Range and time checks of a reading whose types are right.
fn check_reading(index: usize, r: &Reading, now: DateTime<Utc>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let path = |name: &str| format!("readings[{index}].{name}");

    let ts = r.ts.with_timezone(&Utc);
    if ts > now + MAX_FUTURE {
        errors.push(FieldError::new(
            path("ts"),
            ErrorCode::FutureTimestamp,
            format!(
                "ts {} is more than {} minutes ahead of the server clock ({}); check the phone's clock",
                r.ts.to_rfc3339(),
                MAX_FUTURE.num_minutes(),
                now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    } else if ts < now - MAX_AGE {
        errors.push(FieldError::new(
            path("ts"),
            ErrorCode::StaleTimestamp,
            format!(
                "ts {} is more than {} days old; readings buffered longer are not accepted",
                r.ts.to_rfc3339(),
                MAX_AGE.num_days()
            ),
        ));
    }

    range_i(&mut errors, &path("heart_rate_bpm"), r.heart_rate_bpm, limits::HEART_RATE_BPM);
    range_i(&mut errors, &path("spo2_pct"), r.spo2_pct, limits::SPO2_PCT);
    range_f(&mut errors, &path("skin_temp_c"), r.skin_temp_c, limits::SKIN_TEMP_C);
    range_i(&mut errors, &path("steps"), r.steps, limits::STEPS);
    range_i(&mut errors, &path("battery_pct"), r.battery_pct, limits::BATTERY_PCT);
    if let Some(Location { lat, lon, accuracy_m }) = r.location {
        range_f(&mut errors, &path("location.lat"), Some(lat), limits::LAT);
        range_f(&mut errors, &path("location.lon"), Some(lon), limits::LON);
        range_f(&mut errors, &path("location.accuracy_m"), accuracy_m, limits::ACCURACY_M);
    }
    if !r.has_measurement() {
        errors.push(FieldError::new(
            format!("readings[{index}]"),
            ErrorCode::NoMeasurement,
            "a reading must carry at least one measurement besides ts and seq",
        ));
    }
    errors
}

fn range_i(errors: &mut Vec<FieldError>, field: &str, v: Option<i64>, range: Range<i64>) {
    if let Some(v) = v
        && !range.contains(v)
    {
        errors.push(out_of_range(field, &v.to_string(), range.min, range.max, range.unit));
    }
}

fn range_f(errors: &mut Vec<FieldError>, field: &str, v: Option<f64>, range: Range<f64>) {
    if let Some(v) = v
        && !range.contains(v)
    {
        errors.push(out_of_range(field, &v.to_string(), range.min, range.max, range.unit));
    }
}

fn out_of_range(
    field: &str,
    got: &str,
    min: impl std::fmt::Display,
    max: impl std::fmt::Display,
    unit: &str,
) -> FieldError {
    let name = field.rsplit('.').next().unwrap_or(field);
    FieldError::new(field, ErrorCode::OutOfRange, format!("{name} must be between {min} and {max} {unit}, got {got}"))
}

fn check_id(field: &str, v: &str, errors: &mut Vec<FieldError>) {
    let ok_chars = v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if v.is_empty() || v.len() > MAX_ID_LEN || !ok_chars {
        errors.push(FieldError::new(
            field,
            ErrorCode::InvalidFormat,
            format!("{field} must be 1 to {MAX_ID_LEN} characters of A-Z, a-z, 0-9, '-', '_', '.', ':'"),
        ));
    }
}

fn check_app_version(v: &str, errors: &mut Vec<FieldError>) {
    if v.is_empty() || v.len() > MAX_APP_VERSION_LEN || !v.bytes().all(|b| b.is_ascii_graphic()) {
        errors.push(FieldError::new(
            "app_version",
            ErrorCode::InvalidFormat,
            format!("app_version must be 1 to {MAX_APP_VERSION_LEN} printable ASCII characters without spaces"),
        ));
    }
}

// ---------------------------------------------------------------------------
// Diagnostic path: the typed parse failed, find out every reason.

fn diagnose_upload(body: &[u8], typed_err: &serde_json::Error) -> Vec<FieldError> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(err) => {
            return vec![FieldError::new("", ErrorCode::MalformedJson, format!("the body is not valid JSON: {err}"))];
        }
    };
    let Value::Object(obj) = value else {
        return vec![FieldError::new(
            "",
            ErrorCode::InvalidType,
            format!("the body must be a JSON object, got {}", kind(&value)),
        )];
    };
    let mut errors = Vec::new();
    for key in obj.keys() {
        if !UPLOAD_FIELDS.contains(&key.as_str()) {
            errors.push(unknown_field(key, key, &UPLOAD_FIELDS));
        }
    }
    for field in ["device_id", "batch_id", "app_version"] {
        match obj.get(field) {
            None | Some(Value::Null) => errors.push(missing(field)),
            Some(Value::String(_)) => {}
            Some(other) => errors.push(wrong_type(field, "a string", other)),
        }
    }
    match obj.get("readings") {
        None | Some(Value::Null) => errors.push(missing("readings")),
        Some(Value::Array(_)) => {}
        Some(other) => errors.push(wrong_type("readings", "an array of readings", other)),
    }
    if errors.is_empty() {
        // Shape looks right yet typed parsing failed (e.g. a duplicated key):
        // say what the parser said, which names the position.
        errors.push(FieldError::new("", ErrorCode::InvalidType, typed_err.to_string()));
    }
    errors
}

/// The expected kind of each reading field, for the diagnostic walk.
#[derive(Clone, Copy)]
enum Kind {
    Timestamp,
    Seq,
    Int,
    Number,
    Bool,
    Enum(&'static [&'static str]),
    Location,
}

const READING_FIELDS: [(&str, Kind); 14] = [
    ("ts", Kind::Timestamp),
    ("seq", Kind::Seq),
    ("heart_rate_bpm", Kind::Int),
    ("spo2_pct", Kind::Int),
    ("skin_temp_c", Kind::Number),
    ("steps", Kind::Int),
    ("activity", Kind::Enum(&["rest", "light", "moderate", "vigorous"])),
    ("sleep_stage", Kind::Enum(&["awake", "light", "deep", "rem"])),
    ("fall_detected", Kind::Bool),
    ("fall_cancelled", Kind::Bool),
    ("sos", Kind::Bool),
    ("battery_pct", Kind::Int),
    ("worn", Kind::Bool),
    ("location", Kind::Location),
];
const READING_FIELD_NAMES: [&str; 14] = {
    let mut names = [""; 14];
    let mut i = 0;
    while i < READING_FIELDS.len() {
        names[i] = READING_FIELDS[i].0;
        i += 1;
    }
    names
};
const LOCATION_FIELDS: [&str; 3] = ["lat", "lon", "accuracy_m"];

fn diagnose_reading(index: usize, raw: &str, now: DateTime<Utc>, typed_err: &serde_json::Error) -> Vec<FieldError> {
    let at = |name: &str| format!("readings[{index}].{name}");
    // RawValue guarantees valid JSON, but stay total.
    let value: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
    let Value::Object(mut obj) = value else {
        return vec![FieldError::new(
            format!("readings[{index}]"),
            ErrorCode::InvalidType,
            format!("each reading must be a JSON object, got {}", kind(&value)),
        )];
    };

    let mut errors = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    for (key, v) in &obj {
        let Some((_, kind)) = READING_FIELDS.iter().find(|(name, _)| name == key) else {
            errors.push(unknown_field(&at(key), key, &READING_FIELD_NAMES));
            bad.push(key.clone());
            continue;
        };
        if v.is_null() {
            continue;
        }
        if let Some(err) = check_kind(&at(key), *kind, v) {
            errors.extend(err);
            bad.push(key.clone());
        }
    }
    for key in &bad {
        obj.remove(key);
    }
    obj.retain(|_, v| !v.is_null());

    // ts and seq are required; stand in valid placeholders so the remaining
    // fields can still be range-checked, then drop errors about the placeholders.
    let mut placeholders = Vec::new();
    for (name, placeholder) in [("ts", Value::String(now.to_rfc3339())), ("seq", Value::from(0u64))] {
        if !obj.contains_key(name) {
            if !bad.iter().any(|b| b == name) {
                errors.push(missing(&at(name)));
            }
            obj.insert(name.to_owned(), placeholder);
            placeholders.push(at(name));
        }
    }
    let measured_before = errors.len();
    if let Ok(MapOnly(reading)) = serde_json::from_value::<MapOnly<Reading>>(Value::Object(obj)) {
        let more = check_reading(index, &reading, now);
        errors.extend(
            more.into_iter()
                .filter(|e| !placeholders.contains(&e.field))
                // A reading whose only measurements were invalid already has errors for them.
                .filter(|e| !(e.code == ErrorCode::NoMeasurement && measured_before > 0)),
        );
    }
    if errors.is_empty() {
        errors.push(FieldError::new(format!("readings[{index}]"), ErrorCode::InvalidReading, typed_err.to_string()));
    }
    errors
}

fn check_kind(field: &str, kind: Kind, v: &Value) -> Option<Vec<FieldError>> {
    let one = |e: FieldError| Some(vec![e]);
    match kind {
        Kind::Timestamp => match v {
            Value::String(s) => match DateTime::<FixedOffset>::parse_from_rfc3339(s) {
                Ok(_) => None,
                Err(_) => one(FieldError::new(
                    field,
                    ErrorCode::InvalidFormat,
                    "ts must be an RFC 3339 timestamp with an offset, e.g. 2026-11-22T08:15:05+01:00",
                )),
            },
            other => one(wrong_type(field, "an RFC 3339 timestamp string", other)),
        },
        Kind::Seq => match v {
            Value::Number(n) if n.is_u64() => None,
            Value::Number(n) if n.is_i64() => one(FieldError::new(
                field,
                ErrorCode::OutOfRange,
                format!("seq must be a non-negative integer, got {n}"),
            )),
            other => one(wrong_type(field, "a non-negative integer", other)),
        },
        Kind::Int => match v {
            Value::Number(n) if n.is_i64() => None,
            Value::Number(n) if n.is_u64() => one(FieldError::new(
                field,
                ErrorCode::OutOfRange,
                format!("{} is far out of range, got {n}", last(field)),
            )),
            other => one(wrong_type(field, "an integer", other)),
        },
        Kind::Number => match v {
            Value::Number(_) => None,
            other => one(wrong_type(field, "a number", other)),
        },
        Kind::Bool => match v {
            Value::Bool(_) => None,
            other => one(wrong_type(field, "true or false", other)),
        },
        Kind::Enum(allowed) => match v {
            Value::String(s) if allowed.contains(&s.as_str()) => None,
            Value::String(_) => one(FieldError::new(
                field,
                ErrorCode::InvalidFormat,
                format!("{} must be one of: {}", last(field), allowed.join(", ")),
            )),
            other => one(wrong_type(field, "a string", other)),
        },
        Kind::Location => check_location(field, v),
    }
}

fn check_location(field: &str, v: &Value) -> Option<Vec<FieldError>> {
    let Value::Object(obj) = v else {
        return Some(vec![wrong_type(field, "an object {lat, lon, accuracy_m}", v)]);
    };
    let mut errors = Vec::new();
    check_location_fields(field, obj, &mut errors);
    if errors.is_empty() { None } else { Some(errors) }
}

fn check_location_fields(field: &str, obj: &Map<String, Value>, errors: &mut Vec<FieldError>) {
    for (key, v) in obj {
        let path = format!("{field}.{key}");
        if !LOCATION_FIELDS.contains(&key.as_str()) {
            errors.push(unknown_field(&path, key, &LOCATION_FIELDS));
        } else if !(v.is_number() || (key == "accuracy_m" && v.is_null())) {
            errors.push(wrong_type(&path, "a number", v));
        }
    }
    for required in ["lat", "lon"] {
        if obj.get(required).is_none_or(Value::is_null) {
            errors.push(missing(&format!("{field}.{required}")));
        }
    }
}

fn last(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(field: &str, expected: &str, got: &Value) -> FieldError {
    FieldError::new(field, ErrorCode::InvalidType, format!("{} must be {expected}, got {}", last(field), kind(got)))
}

fn missing(field: &str) -> FieldError {
    FieldError::new(field, ErrorCode::MissingField, format!("{} is required", last(field)))
}

fn unknown_field(path: &str, key: &str, allowed: &[&str]) -> FieldError {
    // The key is client input: cap what is echoed back.
    let shown: String = key.chars().take(64).collect();
    FieldError::new(
        path.chars().take(96).collect::<String>(),
        ErrorCode::UnknownField,
        format!("unknown field {shown:?}; allowed: {}", allowed.join(", ")),
    )
}
