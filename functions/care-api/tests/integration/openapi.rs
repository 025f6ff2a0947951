//! docs/care-api.yaml matches what care-api does: the same routes as its
//! `function.json`, the domain's enums, the handler's limits, and exactly the
//! keys of the objects the handler answers with (in the schemas and in the
//! document's examples).

use std::collections::BTreeSet;
use std::time::Duration;

use care_api::Care;
use care_api::handler::{
    DEFAULT_DAYS, DEFAULT_PAGE, MAX_BODY_BYTES, MAX_DAYS, MAX_PAGE, RETRY_AFTER_SECS, STATUS_LOOKBACK_DAYS,
    STATUS_MAX_ALERTS,
};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::{Value, json};
use vigil_domain::alerts::{Alert, AlertId, RuleKind, Severity};
use vigil_domain::care::{Caregiver, MAX_SNOOZE_MINUTES, Snooze, WearerProfile};
use vigil_domain::days::DaySummary;
use vigil_domain::lifecycle::{AlertRecord, AlertStatus, MAX_NOTE_CHARS, Outcome, Transition, Via};
use vigil_domain::ports::{AlertPage, AlertQuery, CareStore, LifecycleSink, StoreError};
use vigil_domain::reading::{Activity, Location, SleepStage};
use vigil_domain::vitals::{MAX_MINUTE_SERIES_DAYS, MAX_WINDOW_DAYS, Measure, Metric, Shadow, VitalsItem, Window};

/// The operations of an OpenAPI path item.
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

fn spec() -> Value {
    serde_yaml_ng::from_str(include_str!("../../../../docs/care-api.yaml")).unwrap()
}

fn schema<'a>(spec: &'a Value, name: &str) -> &'a Value {
    let schema = &spec["components"]["schemas"][name];
    assert!(schema.is_object(), "the document has no schema {name}");
    schema
}

/// `v`, or what its `$ref` (`#/components/…`) points to.
fn resolve<'a>(spec: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(pointer) => spec.pointer(pointer.trim_start_matches('#')).unwrap_or_else(|| panic!("dangling {pointer}")),
        None => v,
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")).to_owned())
        .collect()
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> BTreeSet<String> {
    all.iter().map(|t| name(*t).to_owned()).collect()
}

/// A description with its line breaks and indentation folded to single spaces.
fn text(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}")).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// 16384 → "16,384".
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Every documented operation: (`METHOD path`, operation).
fn operations(spec: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (key, operation) in item.as_object().unwrap() {
            if METHODS.contains(&key.as_str()) {
                out.push((format!("{} {path}", key.to_uppercase()), operation));
            }
        }
    }
    out
}

fn parameter<'a>(spec: &'a Value, operation: &'a Value, name: &str) -> &'a Value {
    operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| resolve(spec, p))
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
}

#[test]
fn the_documented_routes_are_exactly_the_declared_ones() {
    let declaration: Value = serde_json::from_str(include_str!("../../function.json")).unwrap();
    let declared = strings(&declaration["trigger"]["http"]["routes"]);
    let spec = spec();
    let documented: BTreeSet<String> = operations(&spec).into_iter().map(|(route, _)| route).collect();
    assert_eq!(documented, declared);

    // Each path parameter is declared, under its name in the path.
    for (path, item) in spec["paths"].as_object().unwrap() {
        let in_path: BTreeSet<String> =
            path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}').map(str::to_owned)).collect();
        let declared: BTreeSet<String> = item["parameters"]
            .as_array()
            .map(|ps| ps.iter().map(|p| resolve(&spec, p)).filter(|p| p["in"] == "path").collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(in_path, declared, "{path}");
    }
}

#[test]
fn the_documented_enums_are_exactly_the_domains() {
    let spec = spec();
    let documented = |name: &str| strings(&schema(&spec, name)["enum"]);
    assert_eq!(documented("Rule"), names(&RuleKind::ALL, RuleKind::as_str));
    assert_eq!(documented("Severity"), names(&Severity::ALL, Severity::as_str));
    assert_eq!(documented("AlertStatus"), names(&AlertStatus::ALL, AlertStatus::as_str));
    assert_eq!(documented("Via"), names(&Via::ALL, Via::as_str));
    assert_eq!(documented("Outcome"), names(&Outcome::ALL, Outcome::as_str));
    assert_eq!(documented("Measure"), names(&Measure::ALL, Measure::as_str));
    assert_eq!(documented("Metric"), names(&Metric::ALL, Metric::as_str));
    assert_eq!(
        strings(&schema(&spec, "ResolveRequest")["properties"]["outcome"]["enum"]),
        names(&Outcome::CAREGIVER, Outcome::as_str),
        "a caregiver resolves with the caregivers' outcomes"
    );
    // A step moves an alert to a status some status accepts.
    let targets: Vec<AlertStatus> =
        AlertStatus::ALL.into_iter().filter(|to| !AlertStatus::sources(*to).is_empty()).collect();
    assert_eq!(strings(&schema(&spec, "Step")["properties"]["status"]["enum"]), names(&targets, AlertStatus::as_str));

    // The measures are the metrics request's keys (besides the window) and the result's.
    let measures = names(&Measure::ALL, Measure::as_str);
    let mut request = keys(&schema(&spec, "MetricsRequest")["properties"]);
    assert!(request.remove("from") && request.remove("to"));
    assert_eq!(request, measures);
    assert_eq!(keys(&schema(&spec, "MetricsResponse")["properties"]["result"]["properties"]), measures);
    assert_eq!(keys(&schema(&spec, "MetricValues")["properties"]), names(&Metric::ALL, Metric::as_str));

    // The shadow's activity and sleep stage: the reading's, or null.
    let vitals = &schema(&spec, "Vitals")["properties"];
    for (field, domain) in [
        ("activity", names(&Activity::ALL, Activity::as_str)),
        ("sleep_stage", names(&SleepStage::ALL, SleepStage::as_str)),
    ] {
        let values = vitals[field]["enum"].as_array().unwrap();
        assert!(values.contains(&Value::Null), "{field} may be null");
        let named: BTreeSet<String> = values.iter().filter_map(Value::as_str).map(str::to_owned).collect();
        assert_eq!(named, domain, "{field}");
    }

    // The alerts list filters by the same statuses.
    let alerts = &spec["paths"]["/v1/wearers/{wearer_id}/alerts"]["get"];
    assert_eq!(parameter(&spec, alerts, "status")["schema"]["$ref"], "#/components/schemas/AlertStatus");
}

#[test]
fn the_documented_limits_are_the_handlers() {
    let spec = spec();
    let alerts = &spec["paths"]["/v1/wearers/{wearer_id}/alerts"]["get"];
    let limit = &parameter(&spec, alerts, "limit")["schema"];
    assert_eq!(limit["minimum"], json!(1));
    assert_eq!(limit["maximum"], json!(MAX_PAGE));
    assert_eq!(limit["default"], json!(DEFAULT_PAGE));
    assert_eq!(schema(&spec, "AlertPage")["properties"]["alerts"]["maxItems"], json!(MAX_PAGE));
    assert!(text(&alerts["responses"]["400"]["description"]).contains(&format!("outside 1–{MAX_PAGE}")));

    let minutes = &schema(&spec, "SnoozeRequest")["properties"]["minutes"];
    assert_eq!(minutes["minimum"], json!(1));
    assert_eq!(minutes["maximum"], json!(MAX_SNOOZE_MINUTES));
    let snooze = &spec["paths"]["/v1/wearers/{wearer_id}/snooze"]["post"];
    assert!(text(&snooze["description"]).contains(&format!("(1–{MAX_SNOOZE_MINUTES})")));
    assert!(text(&snooze["responses"]["400"]["description"]).contains(&format!("outside 1–{MAX_SNOOZE_MINUTES}")));

    let note = &schema(&spec, "ResolveRequest")["properties"]["note"];
    assert_eq!(note["maxLength"], json!(MAX_NOTE_CHARS));
    assert!(text(&note["description"]).contains(&format!("At most {MAX_NOTE_CHARS} characters")));
    assert_eq!(schema(&spec, "Resolution")["allOf"][1]["properties"]["note"]["maxLength"], json!(MAX_NOTE_CHARS));
    let resolve = &spec["paths"]["/v1/alerts/{alert_id}/resolve"]["post"];
    assert!(
        text(&resolve["responses"]["400"]["description"]).contains(&format!("longer than {MAX_NOTE_CHARS} characters"))
    );

    let status = &spec["paths"]["/v1/wearers/{wearer_id}"]["get"];
    assert!(text(&status["description"]).contains(&format!("in the last {STATUS_LOOKBACK_DAYS} days")));
    assert!(text(&status["description"]).contains(&format!("at most {STATUS_MAX_ALERTS} alerts")));
    assert!(
        text(&schema(&spec, "WearerSummary")["properties"]["open_alert_count"]["description"])
            .contains(&format!("last {STATUS_LOOKBACK_DAYS} days"))
    );

    let vitals = &spec["paths"]["/v1/wearers/{wearer_id}/vitals"]["get"];
    assert!(
        text(&parameter(&spec, vitals, "to")["description"])
            .contains(&format!("at most {MAX_MINUTE_SERIES_DAYS} days (minute) or {MAX_WINDOW_DAYS} days (hour)"))
    );
    assert!(
        text(&schema(&spec, "MetricsRequest")["properties"]["to"]["description"])
            .contains(&format!("at most {MAX_WINDOW_DAYS} days"))
    );

    let days = &spec["paths"]["/v1/wearers/{wearer_id}/days"]["get"];
    assert!(text(&days["description"]).contains(&format!("at most {MAX_DAYS} days per request")));
    assert!(
        text(&days["description"])
            .contains(&format!("{} days before `to` ({DEFAULT_DAYS} days in all)", DEFAULT_DAYS - 1))
    );
    assert!(
        text(&parameter(&spec, days, "from")["description"])
            .contains(&format!("Default {} days before `to`", DEFAULT_DAYS - 1))
    );
    assert!(text(&parameter(&spec, days, "to")["description"]).contains(&format!("at most {MAX_DAYS} days from it")));
    assert!(text(&days["responses"]["400"]["description"]).contains(&format!("longer than {MAX_DAYS} days")));
    assert_eq!(schema(&spec, "DayList")["properties"]["days"]["maxItems"], json!(MAX_DAYS));

    // Every route: a 503 with its Retry-After; every POST and PUT: a 413 at the body limit.
    let too_large = format!("larger than {} KiB ({} bytes)", MAX_BODY_BYTES / 1024, grouped(MAX_BODY_BYTES));
    for (route, operation) in operations(&spec) {
        let responses = &operation["responses"];
        assert_eq!(responses["503"]["headers"]["Retry-After"]["schema"]["const"], json!(RETRY_AFTER_SECS), "{route}");
        let documented_413 = &responses["413"];
        assert_eq!(
            documented_413.is_object(),
            route.starts_with("POST ") || route.starts_with("PUT "),
            "{route} documents a 413 iff it takes a body"
        );
        if documented_413.is_object() {
            assert!(text(&documented_413["description"]).contains(&too_large), "{route}");
            if let Some(message) = documented_413["content"]["application/json"]["example"]["message"].as_str() {
                assert!(message.contains(&MAX_BODY_BYTES.to_string()), "{route}: {message}");
            }
        }
    }
}

// ---- the objects the handler answers with ----

fn t(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn profile() -> WearerProfile {
    serde_json::from_str(include_str!("../../../../events/wearer-profile.json")).unwrap()
}

/// An alert of wearer-42 raised at `at` (an SOS located, anything else with a value).
fn alert(rule: RuleKind, at: &str) -> Alert {
    let raised_at = t(at);
    let episode_start = raised_at - chrono::Duration::minutes(2);
    let located = matches!(rule, RuleKind::Sos | RuleKind::Fall);
    Alert {
        id: AlertId::new("wearer-42", rule, episode_start),
        wearer_id: "wearer-42".into(),
        rule,
        severity: rule.severity(),
        episode_start,
        raised_at,
        readings: Vec::new(),
        location: located.then_some(Location { lat: 40.4168, lon: -3.7038, accuracy_m: Some(8.0) }),
        value: (!located).then_some(131.0),
    }
}

/// An SOS acknowledged by one caregiver and resolved by the other, with a note.
fn resolved_sos() -> AlertRecord {
    let mut record = AlertRecord::open(alert(RuleKind::Sos, "2026-11-22T09:59:58Z"), false);
    assert!(record.apply(Transition::acknowledge("cg-daughter", t("2026-11-22T10:00:31Z"), Via::Sms), None));
    let resolution = Transition::resolve("cg-neighbour", t("2026-11-22T10:12:09Z"), Via::Api, Outcome::Helped);
    assert!(record.apply(resolution, Some("Pressed by mistake.".into())));
    record
}

#[test]
fn the_alert_schema_has_exactly_the_keys_of_an_alert() {
    let spec = spec();
    let profile = profile();
    let view = care_api::view::alert(&profile, &resolved_sos());
    let alert_schema = schema(&spec, "Alert");
    assert_eq!(keys(&view), keys(&alert_schema["properties"]));
    assert_eq!(keys(&view), strings(&alert_schema["required"]), "every key is always there");

    let step = schema(&spec, "Step");
    assert_eq!(keys(&view["acknowledged"]), strings(&step["required"]), "an acknowledgement has no outcome");
    assert_eq!(keys(&view["history"][0]), strings(&step["required"]));
    assert_eq!(keys(&view["history"][1]), keys(&step["properties"]), "a resolution step has its outcome");

    let resolution = &schema(&spec, "Resolution")["allOf"];
    assert_eq!(resolution[0]["$ref"], "#/components/schemas/Step");
    let mut documented = keys(&step["properties"]);
    documented.extend(keys(&resolution[1]["properties"]));
    assert_eq!(keys(&view["resolved"]), documented);
    let mut required = strings(&step["required"]);
    required.extend(strings(&resolution[1]["required"]));
    assert_eq!(keys(&view["resolved"]), required);

    let place = schema(&spec, "Place");
    assert_eq!(keys(&view["where"]), keys(&place["properties"]));
    assert_eq!(keys(&view["where"]), strings(&place["required"]));
    let actor = schema(&spec, "Actor");
    assert_eq!(keys(&view["acknowledged"]["by"]), keys(&actor["properties"]));
    assert_eq!(keys(&view["resolved"]["by"]), strings(&actor["required"]));

    // An alert the rules resolved themselves: the same shapes, by Vigil.
    let mut cleared = AlertRecord::open(alert(RuleKind::HeartRateHigh, "2026-11-22T08:14:05Z"), true);
    assert!(cleared.apply(Transition::cleared(t("2026-11-22T08:30:00Z")), None));
    let view = care_api::view::alert(&profile, &cleared);
    assert_eq!(keys(&view), keys(&alert_schema["properties"]));
    assert_eq!(view["where"], Value::Null);
    assert_eq!(view["acknowledged"], Value::Null);
    assert_eq!(keys(&view["resolved"]), documented);
    assert_eq!(view["resolved"]["by"], json!({"caregiver_id": "vigil", "name": "Vigil"}));
}

/// One wearer (events/wearer-profile.json) with a shadow, two unresolved alerts and two days.
struct Memory {
    profile: WearerProfile,
    shadow: Shadow,
    alerts: Vec<AlertRecord>,
    days: Vec<DaySummary>,
}

impl CareStore for Memory {
    async fn linked_wearers(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.profile.caregiver_by_sub(sub).map(|_| vec![self.profile.wearer_id.clone()]).unwrap_or_default())
    }

    async fn profile(&self, wearer_id: &str) -> Result<Option<WearerProfile>, StoreError> {
        Ok((wearer_id == self.profile.wearer_id).then(|| self.profile.clone()))
    }

    async fn snooze(&self, _: &str, _: RuleKind, _: &Snooze) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn shadow(&self, _: &str) -> Result<Option<Shadow>, StoreError> {
        Ok(Some(self.shadow.clone()))
    }

    async fn alert(&self, alert_id: &str) -> Result<Option<AlertRecord>, StoreError> {
        Ok(self.alerts.iter().find(|r| r.alert.id.as_str() == alert_id).cloned())
    }

    async fn alerts_of(&self, _: &str, query: &AlertQuery) -> Result<AlertPage, StoreError> {
        let alerts = self.alerts.iter().filter(|r| query.status.is_none_or(|s| r.status == s)).cloned().collect();
        Ok(AlertPage { alerts, next: None })
    }

    async fn transition(&self, _: &str, _: &Transition, _: Option<&str>) -> Result<Option<AlertRecord>, StoreError> {
        Ok(None)
    }

    async fn vitals(&self, _: &str, _: &Window) -> Result<Vec<VitalsItem>, StoreError> {
        Ok(Vec::new())
    }

    async fn days(&self, _: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<DaySummary>, StoreError> {
        Ok(self.days.iter().filter(|d| (from..=to).contains(&d.date)).cloned().collect())
    }

    async fn set_daily_at(&self, caregiver_id: &str, at: Option<NaiveTime>) -> Result<Option<Caregiver>, StoreError> {
        let record = self.profile.caregiver(caregiver_id).cloned();
        Ok(record.map(|c| Caregiver { daily_at: at, ..c }))
    }
}

/// Where the lifecycle would go besides the alerts table: nowhere (these requests only read).
struct NoSink;

impl LifecycleSink for NoSink {
    async fn record(&self, _: &AlertRecord) -> Result<(), StoreError> {
        Ok(())
    }
}

fn care() -> Care<Memory, NoSink> {
    let mut acknowledged = AlertRecord::open(alert(RuleKind::HeartRateHigh, "2026-11-22T08:14:05Z"), false);
    assert!(acknowledged.apply(Transition::acknowledge("cg-daughter", t("2026-11-22T08:16:40Z"), Via::Sms), None));
    let store = Memory {
        profile: profile(),
        shadow: Shadow {
            wearer_id: "wearer-42".into(),
            last_seen: t("2026-11-22T10:04:55Z"),
            device_id: "band-0042".into(),
            seq: 7,
            app_version: "1.4.2".into(),
            heart_rate_bpm: Some(96),
            spo2_pct: Some(96),
            skin_temp_c: Some(33.4),
            battery_pct: Some(81),
            worn: Some(true),
            activity: Some(Activity::Light),
            sleep_stage: None,
        },
        alerts: vec![AlertRecord::open(alert(RuleKind::Sos, "2026-11-22T09:59:58Z"), false), acknowledged],
        days: ["2026-11-20", "2026-11-21"].map(day).to_vec(),
    };
    Care { store, lifecycle: NoSink, budget: Duration::from_secs(1) }
}

/// A day of the wearer, with a night and without one (an alert acknowledged in 155 s).
fn day(date: &str) -> DaySummary {
    let night = date.ends_with("20");
    DaySummary {
        date: date.parse().unwrap(),
        complete: night,
        day_minutes: 1440,
        worn_minutes: if night { 1362 } else { 610 },
        sleep_minutes: if night { 430 } else { 0 },
        wake_ups: if night { 2 } else { 0 },
        restlessness: night.then_some(4.5),
        steps: 4300,
        active_minutes: 212,
        resting_hr: Some(62.0),
        lowest_spo2: Some(93),
        alerts: u32::from(!night),
        acked: u32::from(!night),
        ack_median_secs: (!night).then_some(155),
        version: vigil_domain::days::SUMMARY_VERSION,
    }
}

/// `GET path` as the first caregiver of the profile, through API Gateway.
async fn get(care: &Care<Memory, NoSink>, path: &str) -> Value {
    call(care, "GET", path, None).await
}

/// `method path` with `body` as the first caregiver of the profile, through API Gateway.
async fn call(care: &Care<Memory, NoSink>, method: &str, path: &str, body: Option<Value>) -> Value {
    let sub = profile().caregivers[0].sub.clone().unwrap();
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"accept": "application/json", "content-type": "application/json"},
        "body": body.map(|b| b.to_string()),
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1", "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "authorizer": {"jwt": {"claims": {"sub": sub}, "scopes": null}},
            "requestId": "test", "routeKey": "$default", "stage": "$default", "time": "", "timeEpoch": 0
        },
        "isBase64Encoded": false
    });
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let (response, _) = care.process(request, t("2026-11-22T10:05:00Z")).await;
    assert_eq!(response.status(), 200, "{method} {path}");
    match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap(),
        lambda_http::Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap(),
        other => panic!("{method} {path}: no JSON body: {other:?}"),
    }
}

#[tokio::test]
async fn the_wearer_schemas_have_exactly_the_keys_the_handler_answers_with() {
    let spec = spec();
    let care = care();
    let props = |name: &str| keys(&schema(&spec, name)["properties"]);
    let required = |name: &str| strings(&schema(&spec, name)["required"]);

    let list = get(&care, "/v1/wearers").await;
    assert_eq!(keys(&list), props("WearerList"));
    let row = &list["wearers"][0];
    assert_eq!(keys(row), props("WearerSummary"));
    assert_eq!(keys(row), required("WearerSummary"));
    assert_eq!(row["open_alert_count"], json!(1));

    let status = get(&care, "/v1/wearers/wearer-42").await;
    assert_eq!(keys(&status), props("WearerStatus"));
    assert_eq!(keys(&status), required("WearerStatus"));
    assert_eq!(keys(&status["vitals"]), props("Vitals"));
    assert_eq!(keys(&status["vitals"]), required("Vitals"));
    assert_eq!(keys(&status["snoozes"][0]), props("ActiveSnooze"));
    assert_eq!(keys(&status["snoozes"][0]), required("ActiveSnooze"));
    assert_eq!(keys(&status["open_alerts"][0]), props("Alert"));
    assert_eq!(keys(&status["acknowledged_alerts"][0]), props("Alert"));

    let page = get(&care, "/v1/wearers/wearer-42/alerts").await;
    assert_eq!(keys(&page), props("AlertPage"));
    assert_eq!(keys(&page), required("AlertPage"));
    assert_eq!(page["alerts"].as_array().unwrap().len(), 2);

    let days = get(&care, "/v1/wearers/wearer-42/days?from=2026-11-20&to=2026-11-21").await;
    assert_eq!(keys(&days), props("DayList"));
    assert_eq!(keys(&days), required("DayList"));
    assert_eq!(days["days"].as_array().unwrap().len(), 2);
    for day in days["days"].as_array().unwrap() {
        assert_eq!(keys(day), props("DaySummary"), "{day}");
        assert_eq!(keys(day), required("DaySummary"), "every key is always there: {day}");
    }

    for at in [json!("08:30"), Value::Null] {
        let setting = call(&care, "PUT", "/v1/wearers/wearer-42/daily", Some(json!({"at": at}))).await;
        assert_eq!(keys(&setting), props("DailySetting"));
        assert_eq!(keys(&setting), required("DailySetting"));
        assert_eq!(setting["at"], at);
    }
}

#[test]
fn the_response_examples_have_exactly_the_documented_keys() {
    let spec = spec();
    let props = |name: &str| keys(&schema(&spec, name)["properties"]);
    let ok = |route: &str| {
        let (method, path) = route.split_once(' ').unwrap();
        let example =
            &spec["paths"][path][method.to_lowercase()]["responses"]["200"]["content"]["application/json"]["example"];
        assert!(example.is_object(), "{route} has no 200 example");
        example.clone()
    };
    let step_keys = props("Step");
    let check_alert = |a: &Value| {
        assert_eq!(keys(a), props("Alert"), "{a}");
        for step in a["history"].as_array().unwrap().iter().chain([&a["acknowledged"]]) {
            if step.is_object() {
                assert!(keys(step).is_subset(&step_keys), "{step}");
            }
        }
        if a["resolved"].is_object() {
            let mut resolved = step_keys.clone();
            resolved.insert("note".into());
            assert_eq!(keys(&a["resolved"]), resolved, "{a}");
        }
        if a["where"].is_object() {
            assert_eq!(keys(&a["where"]), props("Place"), "{a}");
        }
    };

    for row in ok("GET /v1/wearers")["wearers"].as_array().unwrap() {
        assert_eq!(keys(row), props("WearerSummary"), "{row}");
    }
    let status = ok("GET /v1/wearers/{wearer_id}");
    assert_eq!(keys(&status), props("WearerStatus"));
    assert_eq!(keys(&status["vitals"]), props("Vitals"));
    for a in status["open_alerts"].as_array().unwrap().iter().chain(status["acknowledged_alerts"].as_array().unwrap()) {
        check_alert(a);
    }
    for snooze in status["snoozes"].as_array().unwrap() {
        assert_eq!(keys(snooze), props("ActiveSnooze"));
    }
    let page = ok("GET /v1/wearers/{wearer_id}/alerts");
    assert_eq!(keys(&page), props("AlertPage"));
    page["alerts"].as_array().unwrap().iter().for_each(check_alert);
    check_alert(&ok("POST /v1/alerts/{alert_id}/acknowledge"));
    check_alert(&ok("POST /v1/alerts/{alert_id}/resolve"));

    let days = ok("GET /v1/wearers/{wearer_id}/days");
    assert_eq!(keys(&days), props("DayList"));
    for day in days["days"].as_array().unwrap() {
        assert_eq!(keys(day), props("DaySummary"), "{day}");
        // The example is a day the domain can read.
        serde_json::from_value::<DaySummary>(day.clone()).unwrap();
    }
    let daily = &spec["paths"]["/v1/wearers/{wearer_id}/daily"]["put"];
    for (name, example) in daily["responses"]["200"]["content"]["application/json"]["examples"].as_object().unwrap() {
        assert_eq!(keys(&example["value"]), props("DailySetting"), "{name}");
    }
}
