//! Hostile uploads: a corpus of bodies, headers and tokens no app should send, posted
//! through the local API Gateway (routes and JWT authorizer from the declarations) to
//! ingest-api built by its own `build`, on the local endpoint (moto). Every answer is the
//! documented 4xx (or a 202 listing the rejected readings), never a 5xx or a panic, names
//! the field, echoes no internal detail and no large part of the input, and takes at most
//! 100 ms of handler time (the best of 3 tries, so a busy machine does not fail it).
//!
//! [`local_api`] is the fixture the schemathesis test shares: the gateway in front of
//! ingest-api and care-api with one registered band and wearer.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};
use vigil_aws::registry::DynamoDeviceDirectory;
use vigil_domain::care::WearerProfile;
use vigil_domain::registry::DeviceLink;
use vigil_local::declaration::Users;
use vigil_local::provision::Resources;
use vigil_run::gateway::{self, Backend, LocalIssuer};
use vigil_run::pipeline::{ApiBackend, Env};

pub const DEVICE: &str = "band-0001";
pub const APP_USER: &str = "app-user-hostile";
/// A band registered to someone else.
const OTHER_DEVICE: &str = "band-other";
const OTHER_USER: &str = "app-user-other";
/// Longest handler time allowed for any case (the best of [`TRIES`]).
const HANDLER_BUDGET: Duration = Duration::from_millis(100);
const TRIES: usize = 3;
/// A filler for long strings: no answer may echo a run of it.
const FILLER: char = 'Q';

/// The functions behind the gateway, timed: how long the last call took in the handler.
pub struct Timed {
    pub inner: ApiBackend,
    last: Mutex<Option<Duration>>,
}

impl Timed {
    /// The handler time of the last request, if it reached a function (the gateway answers
    /// some itself); clears it.
    pub fn take(&self) -> Option<Duration> {
        self.last.lock().unwrap().take()
    }
}

impl Backend for Timed {
    async fn call(&self, function: &str, request: lambda_http::Request) -> lambda_http::Response<lambda_http::Body> {
        let started = Instant::now();
        let response = self.inner.call(function, request).await;
        *self.last.lock().unwrap() = Some(started.elapsed());
        response
    }
}

pub struct LocalApi {
    pub base: String,
    pub issuer: Arc<LocalIssuer>,
    pub backend: Arc<Timed>,
    pub profile: WearerProfile,
    pub resources: Resources,
    pub server: tokio::task::JoinHandle<()>,
}

/// The local gateway in front of ingest-api, care-api and ack-link, on fresh resources:
/// the demo wearer (events/wearer-profile.json) with band [`DEVICE`] of [`APP_USER`],
/// and [`OTHER_DEVICE`] of [`OTHER_USER`].
pub async fn local_api(prefix: &str) -> LocalApi {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources { stream_shards: 1, ..Resources::unique(prefix) };
    vigil_local::provision::provision(&sdk, &resources).await.unwrap();
    let profile: WearerProfile = serde_json::from_str(include_str!("../../../../events/wearer-profile.json")).unwrap();
    let band = |device: &str, user: &str| DeviceLink {
        device_id: device.into(),
        wearer_id: profile.wearer_id.clone(),
        app_users: vec![user.into()],
        time_zone: profile.time_zone.clone(),
    };
    vigil_run::run::register_wearer(&sdk, &resources, &band(DEVICE, APP_USER), &profile).await.unwrap();
    DynamoDeviceDirectory::new(aws_sdk_dynamodb::Client::new(&sdk), &resources.devices_table)
        .put(&band(OTHER_DEVICE, OTHER_USER))
        .await
        .unwrap();
    let env = Env::for_resources(&resources, &"ab".repeat(32));
    let inner = ApiBackend::build(&sdk, &env, vigil_run::clock::SimClock::new(Utc::now(), 1.0)).await.unwrap();
    let backend = Arc::new(Timed { inner, last: Mutex::new(None) });
    let issuer = Arc::new(LocalIssuer::generate().unwrap());
    let (addr, server) =
        gateway::serve(SocketAddr::from(([127, 0, 0, 1], 0)), issuer.clone(), backend.clone()).await.unwrap();
    LocalApi { base: format!("http://{addr}"), issuer, backend, profile, resources, server }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Owner,
    /// A token of the user the band is not linked to.
    OtherUser,
    None,
    Garbage,
    Basic,
    Expired,
    Caregiver,
}

#[derive(Debug)]
enum Expect {
    /// 202; these readings rejected, each with (field, code) among its errors.
    Accepted(Vec<(usize, String, &'static str)>),
    /// 400 `invalid_upload` with these (field, code) among its errors.
    Invalid(Vec<(String, &'static str)>),
    /// Another 4xx with this `error` code; `None`: API Gateway's own answer (`message` only).
    Refused(u16, Option<&'static str>),
}

struct Case {
    name: String,
    body: Vec<u8>,
    content_type: Option<&'static str>,
    auth: Auth,
    expect: Expect,
}

fn case(name: impl Into<String>, body: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case { name: name.into(), body: body.into(), content_type: Some("application/json"), auth: Auth::Owner, expect }
}

fn now() -> String {
    Utc::now().to_rfc3339()
}

/// A reading's JSON text: ts now, seq, heart rate 70, with `field` set to the raw JSON `value`
/// (replacing the default, or added).
fn reading_with(seq: u64, field: &str, value: &str) -> String {
    let mut fields = vec![
        ("ts".to_owned(), format!("\"{}\"", now())),
        ("seq".to_owned(), seq.to_string()),
        ("heart_rate_bpm".to_owned(), "70".to_owned()),
    ];
    match fields.iter_mut().find(|(k, _)| k == field) {
        Some(slot) => slot.1 = value.to_owned(),
        None => fields.push((field.to_owned(), value.to_owned())),
    }
    let inner: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", inner.join(","))
}

fn valid_reading(seq: u64) -> String {
    reading_with(seq, "heart_rate_bpm", "70")
}

/// An upload of `device`'s with these readings' JSON texts.
fn upload_of(device: &str, readings: &[String]) -> String {
    format!(
        r#"{{"device_id":"{device}","batch_id":"hostile-{}","app_version":"1.4.2","readings":[{}]}}"#,
        fastrand::u32(..),
        readings.join(",")
    )
}

/// A hostile reading at index 0, then a valid one: a 202 rejecting reading 0 for `field`.
fn one_bad_reading(name: &str, field: &str, value: &str, code: &'static str) -> Case {
    let body = upload_of(DEVICE, &[reading_with(1, field, value), valid_reading(2)]);
    let path = if field.is_empty() { "readings[0]".to_owned() } else { format!("readings[0].{field}") };
    case(name, body, Expect::Accepted(vec![(0, path, code)]))
}

/// A valid upload with its top-level `field` set to the raw JSON `value`.
fn upload_with(field: &str, value: &str) -> String {
    let mut v: Value = serde_json::from_str(&upload_of(DEVICE, &[valid_reading(1)])).unwrap();
    v.as_object_mut().unwrap().remove(field);
    let text = v.to_string();
    // Inserted as text: the value may be JSON serde_json cannot hold.
    format!("{{\"{field}\":{value},{}", &text[1..])
}

fn deep_array(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

fn deep_object(levels: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(levels), "}".repeat(levels))
}

/// `n` distinct short keys, each set to 0, as object members (no braces).
fn many_keys(n: usize) -> String {
    (0..n).map(|i| format!("\"k{i:x}\":0")).collect::<Vec<_>>().join(",")
}

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let valid = || upload_of(DEVICE, &[valid_reading(1), valid_reading(2)]);
    let long = |n: usize| FILLER.to_string().repeat(n);
    let invalid =
        |fields: &[(&str, &'static str)]| Expect::Invalid(fields.iter().map(|(f, c)| ((*f).to_owned(), *c)).collect());

    // Not JSON, or not an upload.
    cases.push(case("not JSON", "hello", invalid(&[("", "malformed_json")])));
    cases.push(case("empty body", "", invalid(&[("", "malformed_json")])));
    let whole = valid();
    cases.push(case("truncated", &whole.as_bytes()[..whole.len() / 2], invalid(&[("", "malformed_json")])));
    cases.push(case("truncated by one byte", &whole.as_bytes()[..whole.len() - 1], invalid(&[("", "malformed_json")])));
    cases.push(case("trailing garbage", format!("{whole} {{"), invalid(&[("", "malformed_json")])));
    cases.push(case("JSON array", "[]", invalid(&[("", "invalid_type")])));
    cases.push(case("JSON null", "null", invalid(&[("", "invalid_type")])));
    cases.push(case("JSON string", "\"upload\"", invalid(&[("", "invalid_type")])));
    cases.push(case("empty object", "{}", invalid(&[("device_id", "missing_field"), ("readings", "missing_field")])));
    cases.push(case("100k nested arrays", deep_array(100_000), invalid(&[("", "invalid_type")])));
    cases.push(case("100k nested objects", deep_object(100_000), invalid(&[("a", "unknown_field")])));
    cases.push(case(
        "100k nested arrays in an unknown field",
        upload_with("extra", &deep_array(100_000)),
        invalid(&[("extra", "unknown_field")]),
    ));
    cases.push(one_bad_reading("reading: 100k nested arrays", "", "", "invalid_type"));
    if let Some(Case { body, .. }) = cases.last_mut() {
        *body = upload_of(DEVICE, &[deep_array(100_000), valid_reading(2)]).into_bytes();
    }
    cases.push(one_bad_reading(
        "heart rate: 100k nested arrays",
        "heart_rate_bpm",
        &deep_array(100_000),
        "invalid_type",
    ));
    let mut deep_location =
        one_bad_reading("location: 100k nested objects", "location", &deep_object(100_000), "unknown_field");
    if let Expect::Accepted(rejected) = &mut deep_location.expect {
        rejected[0].1 = "readings[0].location.a".into();
    }
    cases.push(deep_location);

    // Numbers.
    cases.push(case("NaN", upload_with("device_id", "NaN"), invalid(&[("", "malformed_json")])));
    cases.push(one_bad_reading("heart rate NaN", "heart_rate_bpm", "NaN", "invalid_type"));
    if let Some(c) = cases.last_mut() {
        c.expect = invalid(&[("", "malformed_json")]);
    }
    cases.push(one_bad_reading("skin temp Infinity", "skin_temp_c", "Infinity", "invalid_type"));
    if let Some(c) = cases.last_mut() {
        c.expect = invalid(&[("", "malformed_json")]);
    }
    cases.push(one_bad_reading("heart rate 1e400", "heart_rate_bpm", "1e400", "out_of_range"));
    cases.push(one_bad_reading("skin temp -1e400", "skin_temp_c", "-1e400", "out_of_range"));
    cases.push(one_bad_reading("seq 1e400", "seq", "1e400", "out_of_range"));
    let digits = format!("9{}", "0".repeat(4_999));
    cases.push(one_bad_reading("seq of 5,000 digits", "seq", &digits, "out_of_range"));
    cases.push(one_bad_reading("steps of 5,000 digits", "steps", &format!("-{digits}"), "out_of_range"));
    cases.push(one_bad_reading("skin temp 0.(5,000 digits)1", "skin_temp_c", &format!("0.{digits}1"), "out_of_range"));
    cases.push(one_bad_reading("battery 1e-400", "battery_pct", "1e-400", "invalid_type"));
    cases.push(one_bad_reading("location.lat 1e400", "location", r#"{"lat":1e400,"lon":0}"#, "out_of_range"));
    if let Some(Case { expect: Expect::Accepted(rejected), .. }) = cases.last_mut() {
        rejected[0].1 = "readings[0].location.lat".into();
    }
    cases.push(case("device_id 1e400", upload_with("device_id", "1e400"), invalid(&[("device_id", "invalid_type")])));
    cases.push(case(
        "batch_id of 5,000 digits",
        upload_with("batch_id", &digits),
        invalid(&[("batch_id", "invalid_type")]),
    ));

    // Bytes and encodings.
    let mut bad_utf8 = valid().into_bytes();
    let at = bad_utf8.windows(DEVICE.len()).position(|w| w == DEVICE.as_bytes()).unwrap();
    bad_utf8[at] = 0xff;
    cases.push(case("invalid UTF-8 in device_id", bad_utf8, invalid(&[("", "malformed_json")])));
    cases.push(case(
        "random bytes",
        (0..4096).map(|_| fastrand::u8(..)).collect::<Vec<u8>>(),
        invalid(&[("", "malformed_json")]),
    ));
    cases.push(case(
        "UTF-8 BOM",
        [b"\xef\xbb\xbf".as_slice(), valid().as_bytes()].concat(),
        invalid(&[("", "malformed_json")]),
    ));
    let utf16: Vec<u8> = valid().encode_utf16().flat_map(u16::to_le_bytes).collect();
    cases.push(case("UTF-16", utf16, invalid(&[("", "malformed_json")])));
    cases.push(case("NUL bytes", b"{\"device_id\":\"band\0\"}".to_vec(), invalid(&[("", "malformed_json")])));
    cases.push(case(
        "escaped NUL in device_id",
        upload_with("device_id", r#""band\u0000""#),
        invalid(&[("device_id", "invalid_format")]),
    ));
    cases.push(case(
        "lone surrogate in device_id",
        upload_with("device_id", r#""\ud800""#),
        invalid(&[("device_id", "invalid_format")]),
    ));

    // Duplicate keys.
    cases.push(case(
        "duplicate device_id",
        upload_with("device_id", &format!("\"{DEVICE}\",\"device_id\":\"{OTHER_DEVICE}\"")),
        invalid(&[("device_id", "invalid_type")]),
    ));
    cases.push(one_bad_reading(
        "duplicate heart_rate_bpm",
        "heart_rate_bpm",
        "70,\"heart_rate_bpm\":71",
        "invalid_reading",
    ));

    // Many keys, long strings.
    cases.push(case(
        "200k keys",
        format!("{{{},{}", many_keys(200_000), &valid()[1..]),
        Expect::Refused(413, Some("payload_too_large")),
    ));
    cases.push(case(
        "90k unknown keys (under 1 MiB)",
        format!("{{{},{}", many_keys(90_000), &valid()[1..]),
        invalid(&[("k0", "unknown_field")]),
    ));
    let reading_keys = format!(r#"{{"ts":"{}","seq":1,"worn":true,{}}}"#, now(), many_keys(90_000));
    let mut keys_case = one_bad_reading("reading: 90k unknown keys", "k0", "0", "unknown_field");
    keys_case.body = upload_of(DEVICE, &[reading_keys, valid_reading(2)]).into_bytes();
    cases.push(keys_case);
    cases.push(case(
        "device_id of 2 MiB",
        upload_with("device_id", &format!("\"{}\"", long(2 << 20))),
        Expect::Refused(413, Some("payload_too_large")),
    ));
    cases.push(case(
        "device_id of 1,000,000 characters",
        upload_with("device_id", &format!("\"{}\"", long(1_000_000))),
        invalid(&[("device_id", "invalid_format")]),
    ));
    cases.push(one_bad_reading("unknown key of 1,000,000 characters", &long(1_000_000), "1", "unknown_field"));
    if let Some(Case { expect: Expect::Accepted(rejected), .. }) = cases.last_mut() {
        // The field path is capped (96 characters).
        rejected[0].1 = format!("readings[0].{}", long(96 - "readings[0].".len()));
    }
    cases.push(one_bad_reading(
        "ts of 1,000,000 characters",
        "ts",
        &format!("\"{}\"", long(1_000_000)),
        "invalid_format",
    ));
    cases.push(one_bad_reading(
        "activity of 1,000,000 characters",
        "activity",
        &format!("\"{}\"", long(1_000_000)),
        "invalid_format",
    ));

    // Every top-level field of the wrong type or out of range.
    for (field, value, code) in [
        ("device_id", "42", "invalid_type"),
        ("device_id", "true", "invalid_type"),
        ("device_id", "[\"band-hostile\"]", "invalid_type"),
        ("device_id", "{\"id\":1}", "invalid_type"),
        ("device_id", "null", "missing_field"),
        ("device_id", "\"\"", "invalid_format"),
        ("device_id", "\"band 0001\"", "invalid_format"),
        ("device_id", "\"bänd\"", "invalid_format"),
        ("batch_id", "7", "invalid_type"),
        ("batch_id", &format!("\"{}\"", "b".repeat(65)), "invalid_format"),
        ("batch_id", "\"../../etc/passwd\"", "invalid_format"),
        ("app_version", "1.4", "invalid_type"),
        ("app_version", "\"1.4 beta\"", "invalid_format"),
        ("app_version", &format!("\"{}\"", "1".repeat(33)), "invalid_format"),
        ("readings", "{}", "invalid_type"),
        ("readings", "\"many\"", "invalid_type"),
        ("readings", "5", "invalid_type"),
        ("readings", "null", "missing_field"),
        ("readings", "[]", "too_few_readings"),
    ] {
        cases.push(case(format!("{field} = {}", clip(value)), upload_with(field, value), invalid(&[(field, code)])));
    }
    let many: Vec<String> = (0..1001).map(valid_reading).collect();
    cases.push(case("1,001 readings", upload_of(DEVICE, &many), invalid(&[("readings", "too_many_readings")])));

    // Every reading field of the wrong type or out of range.
    let year_ahead = (Utc::now() + chrono::Duration::days(366)).to_rfc3339();
    let month_old = (Utc::now() - chrono::Duration::days(30)).to_rfc3339();
    let ahead_6min = (Utc::now() + chrono::Duration::minutes(6)).to_rfc3339();
    for (field, value, code) in [
        ("ts", "12345".to_owned(), "invalid_type"),
        ("ts", "\"yesterday\"".into(), "invalid_format"),
        ("ts", "\"2026-11-22 10:00:00\"".into(), "invalid_format"),
        ("ts", "\"2026-11-22T10:00:00\"".into(), "invalid_format"),
        ("ts", "\"0000-01-01T00:00:00Z\"".into(), "stale_timestamp"),
        ("ts", "\"9999-12-31T23:59:59Z\"".into(), "future_timestamp"),
        ("ts", "\"9999-12-31T23:59:59-23:59\"".into(), "future_timestamp"),
        ("ts", format!("\"{year_ahead}\""), "future_timestamp"),
        ("ts", format!("\"{ahead_6min}\""), "future_timestamp"),
        ("ts", format!("\"{month_old}\""), "stale_timestamp"),
        ("ts", "null".into(), "missing_field"),
        ("seq", "\"1\"".into(), "invalid_type"),
        ("seq", "-1".into(), "out_of_range"),
        ("seq", "1.5".into(), "invalid_type"),
        ("seq", "true".into(), "invalid_type"),
        ("heart_rate_bpm", "\"70\"".into(), "invalid_type"),
        ("heart_rate_bpm", "300".into(), "out_of_range"),
        ("heart_rate_bpm", "19".into(), "out_of_range"),
        ("heart_rate_bpm", "70.5".into(), "invalid_type"),
        ("heart_rate_bpm", "18446744073709551616".into(), "invalid_type"),
        ("heart_rate_bpm", "9223372036854775808".into(), "out_of_range"),
        ("spo2_pct", "101".into(), "out_of_range"),
        ("spo2_pct", "49".into(), "out_of_range"),
        ("spo2_pct", "\"97\"".into(), "invalid_type"),
        ("skin_temp_c", "\"36.5\"".into(), "invalid_type"),
        ("skin_temp_c", "46".into(), "out_of_range"),
        ("steps", "-1".into(), "out_of_range"),
        ("steps", "10001".into(), "out_of_range"),
        ("steps", "[]".into(), "invalid_type"),
        ("activity", "\"running\"".into(), "invalid_format"),
        ("activity", "3".into(), "invalid_type"),
        ("sleep_stage", "\"nap\"".into(), "invalid_format"),
        ("sleep_stage", "{}".into(), "invalid_type"),
        ("fall_detected", "\"true\"".into(), "invalid_type"),
        ("fall_detected", "1".into(), "invalid_type"),
        ("fall_cancelled", "\"no\"".into(), "invalid_type"),
        ("sos", "1".into(), "invalid_type"),
        ("sos", "\"yes\"".into(), "invalid_type"),
        ("battery_pct", "101".into(), "out_of_range"),
        ("battery_pct", "-1".into(), "out_of_range"),
        ("battery_pct", "\"50\"".into(), "invalid_type"),
        ("worn", "\"yes\"".into(), "invalid_type"),
        ("location", "[40.4, -3.7]".into(), "invalid_type"),
        ("location", "\"Madrid\"".into(), "invalid_type"),
        ("mood", "\"fine\"".into(), "unknown_field"),
    ] {
        cases.push(one_bad_reading(&format!("{field} = {}", clip(&value)), field, &value, code));
    }
    for (value, sub, code) in [
        (r#"{"lat":91,"lon":0}"#, "lat", "out_of_range"),
        (r#"{"lat":0,"lon":-181}"#, "lon", "out_of_range"),
        (r#"{"lat":"40","lon":0}"#, "lat", "invalid_type"),
        (r#"{"lon":0}"#, "lat", "missing_field"),
        (r#"{"lat":0,"lon":0,"accuracy_m":-1}"#, "accuracy_m", "out_of_range"),
        (r#"{"lat":0,"lon":0,"alt":5}"#, "alt", "unknown_field"),
    ] {
        let mut c = one_bad_reading(&format!("location = {value}"), "location", value, code);
        if let Expect::Accepted(rejected) = &mut c.expect {
            rejected[0].1 = format!("readings[0].location.{sub}");
        }
        cases.push(c);
    }
    for (name, reading, code) in [
        ("reading as array", "[1,2]", "invalid_type"),
        ("reading as null", "null", "invalid_type"),
        ("reading as string", "\"r\"", "invalid_type"),
    ] {
        let mut c = one_bad_reading(name, "", "", code);
        c.body = upload_of(DEVICE, &[reading.to_owned(), valid_reading(2)]).into_bytes();
        cases.push(c);
    }
    let mut bare = one_bad_reading("reading without a measurement", "", "", "no_measurement");
    bare.body = upload_of(DEVICE, &[format!(r#"{{"ts":"{}","seq":1}}"#, now()), valid_reading(2)]).into_bytes();
    cases.push(bare);
    cases.push(case(
        "repeated seq",
        upload_of(DEVICE, &[valid_reading(7), valid_reading(7)]),
        Expect::Accepted(vec![(1, "readings[1].seq".into(), "duplicate_seq")]),
    ));
    // The largest answers: 1,000 readings, every field wrong, and 20 unknown keys each.
    let all_wrong = format!(
        r#"{{"ts":1,"seq":"s","heart_rate_bpm":"x","spo2_pct":"x","skin_temp_c":"x","steps":"x","activity":1,"sleep_stage":1,"fall_detected":0,"fall_cancelled":0,"sos":0,"battery_pct":"x","worn":0,"location":[],{}}}"#,
        many_keys(20)
    );
    cases.push(case(
        "1,000 readings, every field wrong",
        upload_of(DEVICE, &vec![all_wrong; 1000]),
        invalid(&[("readings[0].location", "invalid_type"), ("readings[0].k0", "unknown_field")]),
    ));
    let full = (0..1000).map(|i| reading_with(i, "location", r#"{"lat":40.4168,"lon":-3.7038,"accuracy_m":8}"#));
    cases.push(case("1,000 valid readings", upload_of(DEVICE, &full.collect::<Vec<_>>()), Expect::Accepted(vec![])));

    // Content types.
    for (content_type, expect) in [
        (None, Expect::Refused(415, Some("unsupported_media_type"))),
        (Some("text/plain"), Expect::Refused(415, Some("unsupported_media_type"))),
        (Some("application/x-www-form-urlencoded"), Expect::Refused(415, Some("unsupported_media_type"))),
        (Some("multipart/form-data; boundary=x"), Expect::Refused(415, Some("unsupported_media_type"))),
        (Some("application/jsonp"), Expect::Refused(415, Some("unsupported_media_type"))),
        (Some("application/json-patch+json"), Expect::Refused(415, Some("unsupported_media_type"))),
        (Some("application/json; charset=utf-8"), Expect::Accepted(vec![])),
        (Some("Application/JSON"), Expect::Accepted(vec![])),
    ] {
        let mut c = case(format!("content type {content_type:?}"), valid(), expect);
        c.content_type = content_type;
        cases.push(c);
    }

    // Who is calling.
    for auth in [Auth::None, Auth::Garbage, Auth::Basic, Auth::Expired, Auth::Caregiver] {
        let mut c = case(format!("token: {auth:?}"), valid(), Expect::Refused(401, None));
        c.auth = auth;
        cases.push(c);
    }
    let mut other = case("another user's device", valid(), Expect::Refused(403, Some("forbidden")));
    other.auth = Auth::OtherUser;
    cases.push(other);
    cases.push(case(
        "an unknown device",
        upload_of("band-nobody", &[valid_reading(1)]),
        Expect::Refused(403, Some("forbidden")),
    ));
    cases
}

/// At most 24 characters of `s`, for case names.
fn clip(s: &str) -> String {
    if s.chars().count() <= 24 { s.to_owned() } else { format!("{}…", s.chars().take(24).collect::<String>()) }
}

struct Answer {
    status: u16,
    content_type: String,
    body: String,
    handler: Option<Duration>,
}

fn token(api: &LocalApi, auth: Auth) -> Option<String> {
    match auth {
        Auth::Owner => Some(format!("Bearer {}", api.issuer.token(Users::App, APP_USER))),
        Auth::OtherUser => Some(format!("Bearer {}", api.issuer.token(Users::App, OTHER_USER))),
        Auth::None => None,
        Auth::Garbage => Some("Bearer not.a.token".into()),
        Auth::Basic => Some("Basic YXBwOnB3".into()),
        Auth::Expired => Some(format!(
            "Bearer {}",
            api.issuer.token_until(Users::App, APP_USER, Utc::now() - chrono::Duration::minutes(1))
        )),
        Auth::Caregiver => {
            let sub = api.profile.caregivers.iter().find_map(|c| c.sub.clone()).unwrap();
            Some(format!("Bearer {}", api.issuer.token(Users::Caregivers, &sub)))
        }
    }
}

async fn post(api: &LocalApi, agent: &ureq::Agent, case: &Case) -> Answer {
    let (agent, url, body) = (agent.clone(), format!("{}/v1/uploads", api.base), case.body.clone());
    let (content_type, authorization) = (case.content_type, token(api, case.auth));
    let _ = api.backend.take();
    let (status, content_type, body) = tokio::task::spawn_blocking(move || {
        let mut request = ureq::http::Request::builder().method("POST").uri(url);
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        let mut response = agent.run(request.body(body).unwrap()).expect("the gateway answers");
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let text = response.body_mut().with_config().limit(64 << 20).read_to_string().unwrap();
        (response.status().as_u16(), content_type, text)
    })
    .await
    .unwrap();
    Answer { status, content_type, body, handler: api.backend.take() }
}

/// What no answer may carry: the names of the resources behind the API, AWS and Rust
/// internals, and long runs of the input.
fn leaks(api: &LocalApi, body: &str) -> Vec<String> {
    let r = &api.resources;
    let mut markers = vec![
        r.stream.clone(),
        r.devices_table.clone(),
        "arn:".into(),
        "Exception".into(),
        "amazonaws".into(),
        "dispatch failure".into(),
        "panicked".into(),
        ".rs:".into(),
        "127.0.0.1".into(),
        api.profile.wearer_id.clone(),
        api.profile.name.clone(),
        FILLER.to_string().repeat(100),
    ];
    markers.retain(|m| body.contains(m.as_str()));
    markers
}

fn check(api: &LocalApi, case: &Case, answer: &Answer) -> Result<(), String> {
    let Answer { status, content_type, body, .. } = answer;
    if *status >= 500 {
        return Err(format!("a {status}: {}", clip(body)));
    }
    let leaked = leaks(api, body);
    if !leaked.is_empty() {
        return Err(format!("the answer carries {leaked:?}"));
    }
    // Lambda's response payload limit is 6 MB, the body JSON-escaped inside it.
    if body.len() > 4 << 20 {
        return Err(format!("an answer of {} bytes", body.len()));
    }
    if !content_type.starts_with("application/json") {
        return Err(format!("content type {content_type:?}"));
    }
    let json: Value = serde_json::from_str(body).map_err(|e| format!("a body that is not JSON ({e})"))?;
    let errors = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .into_iter()
            .flatten()
            .map(|e| (e["field"].as_str().unwrap_or("?").to_owned(), e["code"].as_str().unwrap_or("?").to_owned()))
            .collect()
    };
    let want = |expected: u16| {
        if *status == expected { Ok(()) } else { Err(format!("{status} where {expected} was due: {}", clip(body))) }
    };
    match &case.expect {
        Expect::Accepted(rejected) => {
            want(202)?;
            if json["accepted"].as_u64().unwrap_or(0) == 0 {
                return Err(format!("a 202 accepting nothing: {}", clip(body)));
            }
            let listed = json["rejected"].as_array().ok_or("no `rejected` list")?;
            if listed.len() != rejected.len() {
                return Err(format!(
                    "{} rejected readings listed, {} expected: {}",
                    listed.len(),
                    rejected.len(),
                    clip(body)
                ));
            }
            for (index, field, code) in rejected {
                let Some(r) = listed.iter().find(|r| r["index"] == json!(index)) else {
                    return Err(format!("reading {index} is not listed as rejected"));
                };
                let got = errors(&r["errors"]);
                if !got.iter().any(|(f, c)| f == field && c == code) {
                    return Err(format!("reading {index}: ({field}, {code}) not among {got:?}"));
                }
            }
        }
        Expect::Invalid(expected) => {
            want(400)?;
            if json["error"] != "invalid_upload" || !json["message"].is_string() {
                return Err(format!("not an invalid_upload body: {}", clip(body)));
            }
            let got = errors(&json["errors"]);
            for (field, code) in expected {
                if !got.iter().any(|(f, c)| f == field && c == code) {
                    return Err(format!("({field}, {code}) not among {:?}", &got[..got.len().min(8)]));
                }
            }
        }
        Expect::Refused(expected, code) => {
            want(*expected)?;
            let ok = match code {
                Some(code) => json["error"] == *code && json["message"].is_string(),
                None => json["message"].is_string(),
            };
            if !ok {
                return Err(format!("body {}", clip(body)));
            }
        }
    }
    Ok(())
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_uploads_get_a_4xx_naming_the_field_fast_and_never_a_5xx() {
    // A panic in a handler kills only its connection's task: count them.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));
    let api = local_api("hostile").await;
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(30))).build(),
    );
    let cases = corpus();
    let (mut failures, mut table) = (Vec::new(), String::new());
    let mut classes = std::collections::BTreeMap::<u16, usize>::new();
    let mut slowest = (Duration::ZERO, String::new());
    for case in &cases {
        let mut best: Option<Duration> = None;
        let mut status = 0;
        for _ in 0..TRIES {
            let answer = post(&api, &agent, case).await;
            status = answer.status;
            if let Err(why) = check(&api, case, &answer) {
                failures.push(format!("{}: {why}", case.name));
                break;
            }
            best = match (best, answer.handler) {
                (Some(b), Some(h)) => Some(b.min(h)),
                (None, h) => h,
                (b, None) => b,
            };
        }
        *classes.entry(status).or_default() += 1;
        let shown = best.map_or("gateway".to_owned(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3));
        writeln!(table, "{:>4}  {:>10}  {:>9} B  {}", status, shown, case.body.len(), case.name).unwrap();
        if let Some(best) = best {
            if best > slowest.0 {
                slowest = (best, case.name.clone());
            }
            if best > HANDLER_BUDGET {
                failures.push(format!("{}: {best:?} of handler time at best", case.name));
            }
        }
    }
    println!("status  handler (best of {TRIES})  body  case\n{table}");
    println!(
        "{} cases: {classes:?} by status; slowest handler {:.1} ms ({})",
        cases.len(),
        slowest.0.as_secs_f64() * 1e3,
        slowest.1
    );
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a handler panicked");
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    // Still serving after all that.
    let after =
        post(&api, &agent, &case("valid, after", upload_of(DEVICE, &[valid_reading(9)]), Expect::Accepted(vec![])))
            .await;
    assert_eq!(after.status, 202, "{}", after.body);
    api.server.abort();
}
