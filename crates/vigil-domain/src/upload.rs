//! The upload contract v1 and its validation.
//!
//! Validation has a fast path and a diagnostic path. A well-formed reading is
//! parsed straight into [`Reading`] and range-checked. Only when typed parsing
//! fails is the reading re-read as a JSON value and walked field by field, so
//! the client gets every problem at once (wrong types, unknown fields, missing
//! fields *and* out-of-range values), each with a field path, a stable code and
//! a human message.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde::de::{IgnoredAny, MapAccess};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::reading::{Location, MapOnly, Range, Reading, limits};

pub mod policy;

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
/// Unknown fields listed one by one in an object; the rest get one error together, so a
/// body of 100,000 keys gets an answer of a few kilobytes.
pub const MAX_UNKNOWN_LISTED: usize = 5;

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

impl Upload {
    /// How logs name the upload: the first 16 hex digits of SHA-256 of
    /// `vigil/batch/v1\0<batch_id>`. The `batch_id` is the app's to choose and may hold
    /// the device id (the simulated phones' do), so logs never quote it; an operator
    /// finds an app's upload by computing the same digest.
    pub fn log_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new().chain_update(b"vigil/batch/v1\0").chain_update(self.batch_id.as_bytes()).finalize();
        hex::encode(&digest[..8])
    }
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
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(err) => {
            let at = err.valid_up_to();
            return vec![FieldError::new("", ErrorCode::MalformedJson, format!("the body is not UTF-8 (byte {at})"))];
        }
    };
    let Diagnosed { obj, repeated, unreadable, unknown, unknown_count } = match read_json(text, &UPLOAD_FIELDS) {
        Read::Object(members) => members,
        Read::Other(kind) => {
            return vec![FieldError::new(
                "",
                ErrorCode::InvalidType,
                format!("the body must be a JSON object, got {kind}"),
            )];
        }
        Read::Malformed(err) => {
            return vec![FieldError::new("", ErrorCode::MalformedJson, format!("the body is not valid JSON: {err}"))];
        }
    };
    let mut errors = Vec::new();
    unknown_fields(&unknown, unknown_count, "", &UPLOAD_FIELDS, &mut errors);
    for (field, kind) in
        [("device_id", Kind::Text), ("batch_id", Kind::Text), ("app_version", Kind::Text), ("readings", Kind::Array)]
    {
        if let Some((_, raw)) = unreadable.iter().find(|(k, _)| k == field) {
            errors.extend(check_unreadable(field, kind, raw));
        } else if repeated.iter().any(|k| k == field) {
            errors.push(repeated_field(field, ErrorCode::InvalidType));
        } else {
            match obj.get(field) {
                None | Some(Value::Null) => errors.push(missing(field)),
                Some(v) => errors.extend(check_kind(field, kind, v).into_iter().flatten()),
            }
        }
    }
    if errors.is_empty() {
        // Shape looks right yet typed parsing failed: say what the parser said, which
        // names the position.
        errors.push(FieldError::new("", ErrorCode::InvalidType, typed_err.to_string()));
    }
    errors
}

/// A key, borrowed from the input unless it has escapes.
struct Borrowed<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Borrowed<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Borrowed<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Borrowed<'de>, E> {
                Ok(Borrowed(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Borrowed<'de>, E> {
                Ok(Borrowed(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(Visit)
    }
}

/// An object read for diagnosis, its known fields apart: their values `Value` holds (the
/// last of a repeated key), the known keys sent more than once, the members whose values
/// `Value` cannot hold (still raw), and the first [`MAX_UNKNOWN_LISTED`] unknown keys of
/// `unknown_count` (their values are not read).
struct Diagnosed<'a> {
    obj: Map<String, Value>,
    repeated: Vec<String>,
    unreadable: Vec<(String, &'a str)>,
    unknown: Vec<String>,
    unknown_count: usize,
}

impl Diagnosed<'_> {
    fn new() -> Self {
        Self { obj: Map::new(), repeated: Vec::new(), unreadable: Vec::new(), unknown: Vec::new(), unknown_count: 0 }
    }

    fn add_unknown(&mut self, key: &str) {
        self.unknown_count += 1;
        if self.unknown.len() < MAX_UNKNOWN_LISTED {
            self.unknown.push(key.to_owned());
        }
    }

    /// An object `Value` already holds.
    fn of_map(map: &Map<String, Value>, allowed: &[&str]) -> Self {
        let mut read = Self::new();
        for (key, value) in map {
            if allowed.contains(&key.as_str()) {
                read.obj.insert(key.clone(), value.clone());
            } else {
                read.add_unknown(key);
            }
        }
        read
    }
}

enum Read<'a> {
    Object(Diagnosed<'a>),
    /// Valid JSON that is not an object: what it is.
    Other(&'static str),
    Malformed(serde_json::Error),
}

/// Reads a JSON text for diagnosis, whatever valid JSON it holds: serde_json's `Value`
/// cannot hold every valid JSON value (a number beyond f64, nesting past its recursion
/// limit, a lone surrogate escape), and keeps only the last of a repeated key. `allowed`:
/// the object's known fields (the values of others are skipped unread).
fn read_json<'a>(text: &'a str, allowed: &[&str]) -> Read<'a> {
    let mut de = serde_json::Deserializer::from_str(text);
    let read = serde::Deserializer::deserialize_map(&mut de, ReadObject { allowed }).and_then(|read| {
        de.end()?;
        Ok(read)
    });
    match read {
        Ok(read) => Read::Object(read),
        // IgnoredAny checks the syntax alone, without nesting limits or number ranges.
        Err(err) => match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) if raw_kind(text) != "an object" => Read::Other(raw_kind(text)),
            Ok(_) => Read::Malformed(err),
            Err(syntax) => Read::Malformed(syntax),
        },
    }
}

struct ReadObject<'s> {
    allowed: &'s [&'s str],
}

impl<'de> serde::de::Visitor<'de> for ReadObject<'_> {
    type Value = Diagnosed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Diagnosed<'de>, A::Error> {
        let mut read = Diagnosed::new();
        while let Some(Borrowed(key)) = map.next_key::<Borrowed<'de>>()? {
            if !self.allowed.contains(&key.as_ref()) {
                map.next_value::<IgnoredAny>()?;
                read.add_unknown(&key);
                continue;
            }
            let raw: &'de RawValue = map.next_value()?;
            if read.obj.contains_key(key.as_ref()) || read.unreadable.iter().any(|(k, _)| *k == key) {
                if !read.repeated.iter().any(|k| *k == key) {
                    read.repeated.push(key.into_owned());
                }
                continue;
            }
            match serde_json::from_str::<Value>(raw.get()) {
                Ok(value) => {
                    read.obj.insert(key.into_owned(), value);
                }
                Err(_) => read.unreadable.push((key.into_owned(), raw.get())),
            }
        }
        Ok(read)
    }
}

/// The kind of a valid JSON text, from its first byte.
fn raw_kind(text: &str) -> &'static str {
    match text.trim_start().bytes().next() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Errors for a value `Value` cannot hold (see [`Members`]) where `kind` was expected.
fn check_unreadable(field: &str, kind: Kind, raw: &str) -> Vec<FieldError> {
    let got = raw_kind(raw);
    match (got, kind) {
        ("a number", Kind::Seq | Kind::Int | Kind::Number) => vec![FieldError::new(
            field,
            ErrorCode::OutOfRange,
            format!("{} is out of range, got a number too large to read", last(field)),
        )],
        ("a string", Kind::Timestamp | Kind::Enum(_) | Kind::Text) => vec![FieldError::new(
            field,
            ErrorCode::InvalidFormat,
            format!("{} is not valid Unicode (a lone surrogate escape)", last(field)),
        )],
        ("an array", Kind::Array) => Vec::new(),
        ("an object", Kind::Location) => match read_json(raw, &LOCATION_FIELDS) {
            Read::Object(location) => check_location(field, &location),
            Read::Other(_) | Read::Malformed(_) => vec![wrong_kind(field, kind, got)],
        },
        _ => vec![wrong_kind(field, kind, got)],
    }
}

/// A key sent twice. Its code is the one a repeated key got before fields were named:
/// `invalid_type` in the upload, `invalid_reading` in a reading.
fn repeated_field(field: &str, code: ErrorCode) -> FieldError {
    FieldError::new(field, code, format!("{} is sent more than once; send each field once", last(field)))
}

/// Unknown-field errors: one per listed key (`path` is the object's, empty for the body),
/// then one for the rest of `count`.
fn unknown_fields(listed: &[String], count: usize, path: &str, allowed: &[&str], errors: &mut Vec<FieldError>) {
    for key in listed {
        let field = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        errors.push(unknown_field(&field, key, allowed));
    }
    if count > listed.len() {
        errors.push(FieldError::new(
            path,
            ErrorCode::UnknownField,
            format!("{} more unknown fields are not listed; allowed: {}", count - listed.len(), allowed.join(", ")),
        ));
    }
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
    /// A string of the upload (ids, app version).
    Text,
    /// The readings.
    Array,
}

/// What `kind` expects, for messages.
fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Timestamp => "an RFC 3339 timestamp string",
        Kind::Seq => "a non-negative integer",
        Kind::Int => "an integer",
        Kind::Number => "a number",
        Kind::Bool => "true or false",
        Kind::Enum(_) | Kind::Text => "a string",
        Kind::Location => "an object {lat, lon, accuracy_m}",
        Kind::Array => "an array of readings",
    }
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
    let Diagnosed { mut obj, repeated, unreadable, unknown, unknown_count } = match read_json(raw, &READING_FIELD_NAMES)
    {
        Read::Object(members) => members,
        Read::Other(kind) => {
            return vec![FieldError::new(
                format!("readings[{index}]"),
                ErrorCode::InvalidType,
                format!("each reading must be a JSON object, got {kind}"),
            )];
        }
        // RawValue guarantees valid JSON: only a key that is a lone surrogate gets here.
        Read::Malformed(_) => {
            return vec![FieldError::new(
                format!("readings[{index}]"),
                ErrorCode::InvalidReading,
                "the reading has a field name that is not valid Unicode",
            )];
        }
    };

    let mut errors = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    unknown_fields(&unknown, unknown_count, &format!("readings[{index}]"), &READING_FIELD_NAMES, &mut errors);
    for (key, v) in &obj {
        let Some((_, kind)) = READING_FIELDS.iter().find(|(name, _)| name == key) else {
            continue;
        };
        if repeated.contains(key) {
            errors.push(repeated_field(&at(key), ErrorCode::InvalidReading));
            bad.push(key.clone());
        } else if v.is_null() {
            continue;
        } else if let Some(err) = check_kind(&at(key), *kind, v) {
            errors.extend(err);
            bad.push(key.clone());
        }
    }
    for (key, raw) in &unreadable {
        if let Some((_, kind)) = READING_FIELDS.iter().find(|(name, _)| name == key) {
            errors.extend(check_unreadable(&at(key), *kind, raw));
        }
        bad.push(key.clone());
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
    let wrong = || Some(vec![wrong_kind(field, kind, json_kind(v))]);
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
            _ => wrong(),
        },
        Kind::Seq => match v {
            Value::Number(n) if n.is_u64() => None,
            Value::Number(n) if n.is_i64() => one(FieldError::new(
                field,
                ErrorCode::OutOfRange,
                format!("seq must be a non-negative integer, got {n}"),
            )),
            _ => wrong(),
        },
        Kind::Int => match v {
            Value::Number(n) if n.is_i64() => None,
            Value::Number(n) if n.is_u64() => one(FieldError::new(
                field,
                ErrorCode::OutOfRange,
                format!("{} is far out of range, got {n}", last(field)),
            )),
            _ => wrong(),
        },
        Kind::Number => match v {
            Value::Number(_) => None,
            _ => wrong(),
        },
        Kind::Bool => match v {
            Value::Bool(_) => None,
            _ => wrong(),
        },
        Kind::Enum(allowed) => match v {
            Value::String(s) if allowed.contains(&s.as_str()) => None,
            Value::String(_) => one(FieldError::new(
                field,
                ErrorCode::InvalidFormat,
                format!("{} must be one of: {}", last(field), allowed.join(", ")),
            )),
            _ => wrong(),
        },
        Kind::Text => match v {
            Value::String(_) => None,
            _ => wrong(),
        },
        Kind::Array => match v {
            Value::Array(_) => None,
            _ => wrong(),
        },
        Kind::Location => match v {
            Value::Object(obj) => {
                let location = Diagnosed::of_map(obj, &LOCATION_FIELDS);
                let errors = check_location(field, &location);
                if errors.is_empty() { None } else { Some(errors) }
            }
            _ => wrong(),
        },
    }
}

fn check_location(field: &str, location: &Diagnosed<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    unknown_fields(&location.unknown, location.unknown_count, field, &LOCATION_FIELDS, &mut errors);
    for (key, v) in &location.obj {
        let path = format!("{field}.{key}");
        if !(v.is_number() || (key == "accuracy_m" && v.is_null())) {
            errors.push(wrong_kind(&path, Kind::Number, json_kind(v)));
        }
    }
    for (key, raw) in &location.unreadable {
        errors.extend(check_unreadable(&format!("{field}.{key}"), Kind::Number, raw));
    }
    for required in ["lat", "lon"] {
        let unreadable = location.unreadable.iter().any(|(k, _)| k == required);
        if !unreadable && location.obj.get(required).is_none_or(Value::is_null) {
            errors.push(missing(&format!("{field}.{required}")));
        }
    }
    errors
}

fn last(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_kind(field: &str, kind: Kind, got: &str) -> FieldError {
    FieldError::new(field, ErrorCode::InvalidType, format!("{} must be {}, got {got}", last(field), expected(kind)))
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
