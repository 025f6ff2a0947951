//! The request handler: route → authorize (the caller's `sub` must be a caregiver
//! of the wearer, in the wearer's profile) → read or act → respond.
//!
//! Status codes (see docs/care-api.yaml):
//! - 200: the answer; for acknowledge and resolve also when someone else got
//!   there first (the body shows whose step stands).
//! - 400: a query or body that cannot be used (every problem listed per field).
//! - 401: no caller identity from the authorizer.
//! - 404: no such route, or a wearer or alert that does not exist or is not the
//!   caller's — one answer for both, so ids cannot be probed.
//! - 405: another method on a known route. 413: body over 16 KiB. 415: not JSON.
//! - 409: a daily message setting for a caregiver who has no record of their own
//!   yet (their details are still embedded in a wearer's profile).
//! - 422: a snooze of a rule that can never be snoozed (SOS, fall).
//! - 503 + Retry-After: the stores did not answer within the request's budget.
//! - 500: anything else; the body never carries its text.

use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, SubsecRound, Utc};
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use vigil_domain::alerts::RuleKind;
use vigil_domain::care::{Snooze, SnoozeError, WearerProfile};
use vigil_domain::days::day_of;
use vigil_domain::lifecycle::{self, AlertRecord, AlertStatus, Outcome, Transition, Via};
use vigil_domain::ports::{AlertCursor, AlertQuery, CareStore, LifecycleSink, StoreError};
use vigil_domain::vitals::{MetricsRequest, Resolution, Window, WindowError, readings_in, series};
use vigil_lambda::metrics::Metrics;

use crate::view;

/// Largest request body: every request here is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 2;
/// Default and largest page of an alerts list.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;
/// How far back a wearer's status looks for alerts nobody has resolved.
pub const STATUS_LOOKBACK_DAYS: i64 = 7;
/// Most unresolved alerts a status lists.
pub const STATUS_MAX_ALERTS: usize = 100;
/// Days a days request answers when it names no `from`: two weeks, ending at
/// `to` (default: the wearer's yesterday).
pub const DEFAULT_DAYS: u64 = 14;
/// Most days one days request covers, both ends included: a quarter.
pub const MAX_DAYS: u64 = 92;
/// Time kept back from the invocation deadline to write the response.
const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

/// The care-api handler with its store. Built once per container.
#[derive(Debug)]
pub struct Care<S, L> {
    pub store: S,
    /// Where each acknowledgement and resolution goes besides the alerts table
    /// (the warehouse's curated alerts), or `None`.
    pub lifecycle: L,
    /// Longest time spent on the store calls of one request.
    pub budget: Duration,
}

/// A route, with its path ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Wearers,
    Wearer(&'a str),
    Alerts(&'a str),
    Vitals(&'a str),
    Metrics(&'a str),
    Snooze(&'a str),
    Days(&'a str),
    Daily(&'a str),
    Acknowledge(&'a str),
    Resolve(&'a str),
}

impl<'a> Route<'a> {
    /// The route of `path` (anything before `/v1/`, a stage name, is ignored).
    fn of(path: &'a str) -> Option<Self> {
        let rest = &path[path.find("/v1/")? + 4..];
        let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        Some(match parts.as_slice() {
            ["wearers"] => Route::Wearers,
            ["wearers", id] => Route::Wearer(id),
            ["wearers", id, "alerts"] => Route::Alerts(id),
            ["wearers", id, "vitals"] => Route::Vitals(id),
            ["wearers", id, "metrics"] => Route::Metrics(id),
            ["wearers", id, "snooze"] => Route::Snooze(id),
            ["wearers", id, "days"] => Route::Days(id),
            ["wearers", id, "daily"] => Route::Daily(id),
            ["alerts", id, "acknowledge"] => Route::Acknowledge(id),
            ["alerts", id, "resolve"] => Route::Resolve(id),
            _ => return None,
        })
    }

    fn method(self) -> Method {
        match self {
            Route::Wearers | Route::Wearer(_) | Route::Alerts(_) | Route::Vitals(_) | Route::Days(_) => Method::GET,
            Route::Daily(_) => Method::PUT,
            _ => Method::POST,
        }
    }

    /// The metric dimension: the route's template.
    fn name(self) -> &'static str {
        match self {
            Route::Wearers => "GET /v1/wearers",
            Route::Wearer(_) => "GET /v1/wearers/{wearer_id}",
            Route::Alerts(_) => "GET /v1/wearers/{wearer_id}/alerts",
            Route::Vitals(_) => "GET /v1/wearers/{wearer_id}/vitals",
            Route::Metrics(_) => "POST /v1/wearers/{wearer_id}/metrics",
            Route::Snooze(_) => "POST /v1/wearers/{wearer_id}/snooze",
            Route::Days(_) => "GET /v1/wearers/{wearer_id}/days",
            Route::Daily(_) => "PUT /v1/wearers/{wearer_id}/daily",
            Route::Acknowledge(_) => "POST /v1/alerts/{alert_id}/acknowledge",
            Route::Resolve(_) => "POST /v1/alerts/{alert_id}/resolve",
        }
    }
}

/// Why a request gets no 200.
#[derive(Debug)]
enum Refusal {
    NotFound,
    Unauthorized,
    MethodNotAllowed(Method),
    Invalid(&'static str, Vec<WindowError>),
    /// Metrics naming no known measure: 400 with an empty result.
    InvalidMetrics(&'static str, Vec<WindowError>),
    Unprocessable(String),
    /// The caller has no caregiver record to keep a setting in.
    NoRecord,
    TooLarge,
    NotJson,
    Unavailable,
    Internal,
}

impl From<StoreError> for Refusal {
    fn from(err: StoreError) -> Self {
        // Names the operation and table only: never a value.
        tracing::warn!(error = %err, retryable = err.retryable, source = ?std::error::Error::source(&err).map(ToString::to_string), "store call failed");
        if err.retryable { Refusal::Unavailable } else { Refusal::Internal }
    }
}

type Answer = Result<Value, Refusal>;

impl<S: CareStore + Sync, L: LifecycleSink + Sync> Care<S, L> {
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let (response, metrics) = self.process(request, Utc::now()).await;
        metrics.emit();
        response
    }

    /// The response and the metrics of one request as of `now`, without writing anything.
    pub async fn process(&self, request: Request, now: DateTime<Utc>) -> (Response<Body>, Metrics) {
        let started = Instant::now();
        let mut metrics = Metrics::new("care-api");
        let response = match self.answer(&request, now, &mut metrics).await {
            Ok(body) => json_response(StatusCode::OK, &body),
            Err(refusal) => refuse(refusal),
        };
        vigil_lambda::http::count_request(&mut metrics, response.status(), "CareMs", started);
        (response, metrics)
    }

    async fn answer(&self, request: &Request, now: DateTime<Utc>, metrics: &mut Metrics) -> Answer {
        // Steps are kept to the millisecond, as every stored time is.
        let now = now.trunc_subsecs(3);
        let route = Route::of(request.uri().path()).ok_or(Refusal::NotFound)?;
        if request.method() != route.method() {
            return Err(Refusal::MethodNotAllowed(route.method()));
        }
        let caller = vigil_lambda::http::caller(request).ok_or(Refusal::Unauthorized)?;
        let body = body_of(request, route)?;
        let budget = vigil_lambda::http::budget(request, self.budget, DEADLINE_MARGIN);
        let work = self.route(route, &caller, request, body, now, metrics);
        match tokio::time::timeout(budget, work).await {
            Ok(answer) => answer,
            Err(_) => {
                metrics.count("StoreTimeouts", 1);
                tracing::warn!(
                    route = route.name(),
                    budget_ms = budget.as_millis() as u64,
                    "stores did not answer in time"
                );
                Err(Refusal::Unavailable)
            }
        }
    }

    async fn route(
        &self,
        route: Route<'_>,
        caller: &str,
        request: &Request,
        body: Option<Value>,
        now: DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> Answer {
        match route {
            Route::Wearers => self.wearers(caller, now).await,
            Route::Wearer(id) => self.status(&self.profile_for(caller, id).await?, now).await,
            Route::Alerts(id) => {
                let profile = self.profile_for(caller, id).await?;
                self.alerts(&profile, request).await
            }
            Route::Vitals(id) => {
                let profile = self.profile_for(caller, id).await?;
                self.vitals(&profile, request).await
            }
            Route::Metrics(id) => {
                let profile = self.profile_for(caller, id).await?;
                self.metrics(&profile, &body.unwrap_or(Value::Null)).await
            }
            Route::Snooze(id) => {
                let profile = self.profile_for(caller, id).await?;
                self.snooze(&profile, caller, &body.unwrap_or(Value::Null), now).await
            }
            Route::Days(id) => {
                let profile = self.profile_for(caller, id).await?;
                self.days(&profile, request, now).await
            }
            Route::Daily(id) => {
                let at = daily_at(&body.unwrap_or(Value::Null))?;
                let profile = self.profile_for(caller, id).await?;
                self.daily(&profile, caller, at).await
            }
            Route::Acknowledge(id) => {
                let (profile, _) = self.alert_for(caller, id).await?;
                let by = caregiver_id(&profile, caller);
                let record = self.step(id, &Transition::acknowledge(&by, now, Via::Api), None).await?;
                if record.acknowledged.as_ref().is_some_and(|t| t.by == by && t.at == now) {
                    metrics.count("Acknowledged", 1);
                }
                Ok(view::alert(&profile, &record))
            }
            Route::Resolve(id) => {
                let (outcome, note) = resolution(&body.unwrap_or(Value::Null))?;
                let (profile, _) = self.alert_for(caller, id).await?;
                let by = caregiver_id(&profile, caller);
                let step = Transition::resolve(&by, now, Via::Api, outcome);
                let record = self.step(id, &step, note.as_deref()).await?;
                if record.resolved.as_ref().is_some_and(|t| t.by == by && t.at == now) {
                    metrics.count("Resolved", 1);
                }
                Ok(view::alert(&profile, &record))
            }
        }
    }

    /// The wearer's profile if `caller` cares for them; else, as for a wearer that
    /// does not exist, 404.
    async fn profile_for(&self, caller: &str, wearer_id: &str) -> Result<WearerProfile, Refusal> {
        if !plausible_id(wearer_id) {
            return Err(Refusal::NotFound);
        }
        match self.store.profile(wearer_id).await? {
            Some(profile) if profile.caregiver_by_sub(caller).is_some() => Ok(profile),
            _ => Err(Refusal::NotFound),
        }
    }

    /// The alert and its wearer's profile if `caller` cares for that wearer; else 404.
    async fn alert_for(&self, caller: &str, alert_id: &str) -> Result<(WearerProfile, AlertRecord), Refusal> {
        if !plausible_id(alert_id) {
            return Err(Refusal::NotFound);
        }
        let record = self.store.alert(alert_id).await?.ok_or(Refusal::NotFound)?;
        let profile = self.profile_for(caller, &record.alert.wearer_id).await?;
        Ok((profile, record))
    }

    /// Applies `step` and hands the alert as it then stands to the lifecycle sink,
    /// won or lost: a retried request completes a write an earlier failure left undone.
    async fn step(&self, alert_id: &str, step: &Transition, note: Option<&str>) -> Result<AlertRecord, Refusal> {
        // The alert was there a moment ago; alerts are never deleted by the API.
        let record = self.store.transition(alert_id, step, note).await?.ok_or(Refusal::NotFound)?;
        self.lifecycle.record(&record).await?;
        Ok(record)
    }

    /// Alerts nobody has resolved, of the last days.
    async fn unresolved(&self, wearer_id: &str, now: DateTime<Utc>) -> Result<Vec<AlertRecord>, Refusal> {
        let query = AlertQuery {
            status: None,
            from: Some(now - chrono::Duration::days(STATUS_LOOKBACK_DAYS)),
            to: None,
            limit: STATUS_MAX_ALERTS,
            after: None,
        };
        let page = self.store.alerts_of(wearer_id, &query).await?;
        Ok(page.alerts.into_iter().filter(|r| r.status != AlertStatus::Resolved).collect())
    }

    async fn wearers(&self, caller: &str, now: DateTime<Utc>) -> Answer {
        let ids = self.store.linked_wearers(caller).await?;
        let rows = futures_util::future::join_all(ids.iter().map(|id| self.summary(caller, id, now))).await;
        let mut wearers = Vec::new();
        for row in rows {
            match row {
                Ok(Some(row)) => wearers.push(row),
                // A stale link: the profile no longer lists the caller.
                Ok(None) => {}
                Err(refusal) => return Err(refusal),
            }
        }
        Ok(json!({ "wearers": wearers }))
    }

    async fn summary(&self, caller: &str, wearer_id: &str, now: DateTime<Utc>) -> Result<Option<Value>, Refusal> {
        let profile = match self.profile_for(caller, wearer_id).await {
            Ok(profile) => profile,
            Err(Refusal::NotFound) => return Ok(None),
            Err(other) => return Err(other),
        };
        let (shadow, unresolved) = tokio::join!(self.store.shadow(wearer_id), self.unresolved(wearer_id, now));
        let (shadow, unresolved) = (shadow?, unresolved?);
        let last_seen = shadow.as_ref().map(|s| s.last_seen);
        Ok(Some(json!({
            "wearer_id": profile.wearer_id,
            "first_name": view::first_name(&profile),
            "time_zone": profile.time_zone,
            "online": profile.online(last_seen, now),
            "last_seen": last_seen,
            "battery_pct": shadow.as_ref().and_then(|s| s.battery_pct),
            "open_alert_count": unresolved.iter().filter(|r| r.status == AlertStatus::Open).count(),
        })))
    }

    async fn status(&self, profile: &WearerProfile, now: DateTime<Utc>) -> Answer {
        let id = profile.wearer_id.as_str();
        let (shadow, unresolved) = tokio::join!(self.store.shadow(id), self.unresolved(id, now));
        let (shadow, unresolved) = (shadow?, unresolved?);
        let last_seen = shadow.as_ref().map(|s| s.last_seen);
        let of = |status: AlertStatus| -> Vec<Value> {
            unresolved.iter().filter(|r| r.status == status).map(|r| view::alert(profile, r)).collect()
        };
        Ok(json!({
            "wearer_id": id,
            "first_name": view::first_name(profile),
            "time_zone": profile.time_zone,
            "online": profile.online(last_seen, now),
            "last_seen": last_seen,
            "no_data_after_min": profile.thresholds.no_data_min,
            "vitals": shadow.as_ref().map(view::vitals),
            "open_alerts": of(AlertStatus::Open),
            "acknowledged_alerts": of(AlertStatus::Acknowledged),
            "snoozes": view::snoozes(profile, now),
        }))
    }

    async fn alerts(&self, profile: &WearerProfile, request: &Request) -> Answer {
        let query = alert_query(request)?;
        let page = self.store.alerts_of(&profile.wearer_id, &query).await?;
        Ok(json!({
            "alerts": page.alerts.iter().map(|r| view::alert(profile, r)).collect::<Vec<_>>(),
            "next_cursor": page.next.map(|c| c.encode()),
        }))
    }

    async fn vitals(&self, profile: &WearerProfile, request: &Request) -> Answer {
        let params = request.query_string_parameters();
        let resolution = Resolution::parse(params.first("resolution"));
        // An unknown resolution is checked against the longer window, so every problem is listed.
        let max_days = resolution.unwrap_or(Resolution::Hour).max_days();
        let window = Window::parse(params.first("from"), params.first("to"), max_days);
        let (resolution, window) = match (resolution, window) {
            (Some(r), Ok(w)) => (r, w),
            (resolution, window) => {
                let mut errors = Vec::new();
                if resolution.is_none() {
                    errors.push(WindowError::new("resolution", "minute or hour"));
                }
                errors.extend(window.err().unwrap_or_default());
                return Err(Refusal::Invalid("the query is not valid", errors));
            }
        };
        let items = self.store.vitals(&profile.wearer_id, &window).await?;
        let readings = readings_in(&items, &window).map_err(|_| {
            tracing::error!("a vitals item of the wearer does not decode");
            Refusal::Internal
        })?;
        Ok(json!({
            "wearer_id": profile.wearer_id,
            "from": window.from, "to": window.to,
            "resolution": match resolution { Resolution::Minute => "minute", Resolution::Hour => "hour" },
            "points": series(&readings, resolution),
        }))
    }

    async fn metrics(&self, profile: &WearerProfile, body: &Value) -> Answer {
        let request = MetricsRequest::parse(body).map_err(|r| Refusal::InvalidMetrics(r.message, r.errors))?;
        let items = self.store.vitals(&profile.wearer_id, &request.window).await?;
        let readings = readings_in(&items, &request.window).map_err(|_| {
            tracing::error!("a vitals item of the wearer does not decode");
            Refusal::Internal
        })?;
        Ok(json!({"result": request.compute(&readings), "errors": request.errors}))
    }

    async fn snooze(&self, profile: &WearerProfile, caller: &str, body: &Value, now: DateTime<Utc>) -> Answer {
        let mut errors = Vec::new();
        let rule = match body.get("rule").and_then(Value::as_str) {
            Some(name) => match name.parse::<RuleKind>() {
                Ok(rule) => Some(rule),
                Err(_) => {
                    errors.push(WindowError::new("rule", "unknown rule"));
                    None
                }
            },
            None => {
                errors.push(WindowError::new("rule", "required: the rule to silence, e.g. \"inactivity\""));
                None
            }
        };
        let minutes = match body.get("minutes") {
            // Beyond u32: out of range like any other too-long snooze.
            Some(v) if v.is_u64() => v.as_u64().map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
            Some(_) => {
                errors.push(WindowError::new("minutes", "must be a whole number of minutes"));
                None
            }
            None => {
                errors.push(WindowError::new("minutes", "required: a whole number of minutes"));
                None
            }
        };
        let (Some(rule), Some(minutes), true) = (rule, minutes, errors.is_empty()) else {
            return Err(Refusal::Invalid("the snooze is not valid", errors));
        };
        let by = caregiver_id(profile, caller);
        let snooze = match Snooze::new(rule, minutes, &by, now) {
            Ok(s) => s,
            Err(e @ SnoozeError::Critical(_)) => return Err(Refusal::Unprocessable(e.to_string())),
            Err(e @ SnoozeError::Minutes) => {
                return Err(Refusal::Invalid(
                    "the snooze is not valid",
                    vec![WindowError::new("minutes", e.to_string())],
                ));
            }
        };
        if !self.store.snooze(&profile.wearer_id, rule, &snooze).await? {
            return Err(Refusal::NotFound);
        }
        let mut profile = profile.clone();
        profile.snoozes.insert(rule, snooze);
        Ok(json!({"wearer_id": profile.wearer_id, "snoozes": view::snoozes(&profile, now)}))
    }

    async fn days(&self, profile: &WearerProfile, request: &Request, now: DateTime<Utc>) -> Answer {
        let params = request.query_string_parameters();
        let yesterday = day_of(profile.tz(), now).pred_opt().unwrap_or(NaiveDate::MIN);
        let (from, to) = day_range(params.first("from"), params.first("to"), yesterday)?;
        let days = self.store.days(&profile.wearer_id, from, to).await?;
        Ok(json!({
            "wearer_id": profile.wearer_id,
            "time_zone": profile.time_zone,
            "from": from,
            "to": to,
            "days": days,
        }))
    }

    /// Sets the caller's daily message time on their record: one record per
    /// caregiver, so it holds for every wearer they care for.
    async fn daily(&self, profile: &WearerProfile, caller: &str, at: Option<NaiveTime>) -> Answer {
        let id = caregiver_id(profile, caller);
        let record = self.store.set_daily_at(&id, at).await?.ok_or(Refusal::NoRecord)?;
        // Read in the caregiver's own zone when they gave one (with their quiet hours).
        let time_zone = record.quiet_hours.as_ref().map_or(&profile.time_zone, |q| &q.time_zone);
        Ok(json!({
            "wearer_id": profile.wearer_id,
            "caregiver_id": record.id,
            "at": record.daily_at.map(|t| t.format("%H:%M").to_string()),
            "time_zone": time_zone,
        }))
    }
}

/// `from` and `to` of a days request (`YYYY-MM-DD`, both included): `to` defaults
/// to `yesterday`, `from` to [`DEFAULT_DAYS`] days ending at `to`; every problem
/// listed.
fn day_range(from: Option<&str>, to: Option<&str>, yesterday: NaiveDate) -> Result<(NaiveDate, NaiveDate), Refusal> {
    let mut errors = Vec::new();
    let mut date = |field: &str, text: Option<&str>| {
        let text = text?;
        let parsed = (text.len() == 10).then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()).flatten();
        if parsed.is_none() {
            errors.push(WindowError::new(field, "not a date YYYY-MM-DD, e.g. 2026-11-22"));
        }
        parsed
    };
    let (given_from, given_to) = (date("from", from), date("to", to));
    if !errors.is_empty() {
        return Err(Refusal::Invalid("the query is not valid", errors));
    }
    let end = given_to.unwrap_or(yesterday);
    let start =
        given_from.unwrap_or_else(|| end.checked_sub_days(Days::new(DEFAULT_DAYS - 1)).unwrap_or(NaiveDate::MIN));
    // Blame the end the caller gave: `to` when both were given, else `from`.
    let (field, other) =
        if given_to.is_some() { ("to", "from") } else { ("from", "to (default: yesterday, the wearer's)") };
    let span = (end - start).num_days() + 1;
    if start > end {
        let message = if given_to.is_some() {
            "must not be before from".to_owned()
        } else {
            format!("must not be after {other}")
        };
        errors.push(WindowError::new(field, message));
    } else if span > MAX_DAYS as i64 {
        errors.push(WindowError::new(field, format!("the range is at most {MAX_DAYS} days, from and to included")));
    }
    if !errors.is_empty() {
        return Err(Refusal::Invalid("the query is not valid", errors));
    }
    Ok((start, end))
}

/// `{"at": "08:30"}` (HH:MM, 24 h) or `{"at": null}`.
fn daily_at(body: &Value) -> Result<Option<NaiveTime>, Refusal> {
    let problem = match body.get("at") {
        Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => {
            let parsed = (text.len() == 5).then(|| NaiveTime::parse_from_str(text, "%H:%M").ok()).flatten();
            match parsed {
                Some(at) => return Ok(Some(at)),
                None => "not a time of day HH:MM (24 h), e.g. 08:30",
            }
        }
        Some(_) => "must be a time of day HH:MM (24 h), e.g. 08:30, or null to stop",
        None => "required: a time of day HH:MM (24 h), e.g. 08:30, or null to stop",
    };
    Err(Refusal::Invalid("the daily message setting is not valid", vec![WindowError::new("at", problem)]))
}

/// The caller's caregiver id in the profile (they are in it: checked before).
fn caregiver_id(profile: &WearerProfile, caller: &str) -> String {
    profile.caregiver_by_sub(caller).map(|c| c.id.clone()).unwrap_or_default()
}

/// Ids are short tokens; anything else cannot exist, and gets the same 404.
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The JSON body of a POST or PUT (`None` for a GET or an empty acknowledge).
fn body_of(request: &Request, route: Route<'_>) -> Result<Option<Value>, Refusal> {
    if route.method() == Method::GET {
        return Ok(None);
    }
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Refusal::TooLarge);
    }
    if bytes.is_empty() && matches!(route, Route::Acknowledge(_)) {
        return Ok(None);
    }
    if !vigil_lambda::http::is_json(request) {
        return Err(Refusal::NotJson);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(Some(v)),
        Ok(_) => {
            Err(Refusal::Invalid("the body must be a JSON object", vec![WindowError::new("", "expected an object")]))
        }
        Err(e) => Err(Refusal::Invalid(
            "the body is not valid JSON",
            vec![WindowError::new("", format!("malformed JSON at line {} column {}", e.line(), e.column()))],
        )),
    }
}

/// `{"outcome": "helped", "note": "…"}`.
fn resolution(body: &Value) -> Result<(Outcome, Option<String>), Refusal> {
    let mut errors = Vec::new();
    let outcome = match body.get("outcome").and_then(Value::as_str).map(str::parse::<Outcome>) {
        Some(Ok(o)) if Outcome::CAREGIVER.contains(&o) => Some(o),
        Some(_) => {
            errors.push(WindowError::new("outcome", "one of ok, helped, false_alarm, emergency_services"));
            None
        }
        None => {
            errors.push(WindowError::new("outcome", "required: ok, helped, false_alarm or emergency_services"));
            None
        }
    };
    let note = match body.get("note") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => lifecycle::note(Some(text)),
        Some(_) => {
            errors.push(WindowError::new("note", "must be a string"));
            Ok(None)
        }
    };
    let note = note.unwrap_or_else(|e| {
        errors.push(WindowError::new("note", e.to_string()));
        None
    });
    match outcome {
        Some(outcome) if errors.is_empty() => Ok((outcome, note)),
        _ => Err(Refusal::Invalid("the resolution is not valid", errors)),
    }
}

/// `?status=&from=&to=&limit=&cursor=`, every problem listed.
fn alert_query(request: &Request) -> Result<AlertQuery, Refusal> {
    let params = request.query_string_parameters();
    let mut errors = Vec::new();
    let status = params.first("status").and_then(|s| match s.parse::<AlertStatus>() {
        Ok(s) => Some(s),
        Err(_) => {
            errors.push(WindowError::new("status", "open, acknowledged or resolved"));
            None
        }
    });
    let mut time = |field: &str| {
        params.first(field).and_then(|t| match DateTime::parse_from_rfc3339(t) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                errors.push(WindowError::new(field, "not an RFC 3339 time, e.g. 2026-11-22T10:00:00Z"));
                None
            }
        })
    };
    let (from, to) = (time("from"), time("to"));
    if let (Some(f), Some(t)) = (from, to)
        && t <= f
    {
        errors.push(WindowError::new("to", "must be after from"));
    }
    let limit = match params.first("limit").map(str::parse::<usize>) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=MAX_PAGE).contains(&n) => n,
        Some(_) => {
            errors.push(WindowError::new("limit", format!("a whole number from 1 to {MAX_PAGE}")));
            DEFAULT_PAGE
        }
    };
    let after = params.first("cursor").and_then(|c| match AlertCursor::decode(c) {
        Some(c) => Some(c),
        None => {
            errors.push(WindowError::new("cursor", "not a cursor this API gave out"));
            None
        }
    });
    if !errors.is_empty() {
        return Err(Refusal::Invalid("the query is not valid", errors));
    }
    Ok(AlertQuery { status, from, to, limit, after })
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({"error": code, "message": message}))
}

fn refuse(refusal: Refusal) -> Response<Body> {
    match refusal {
        Refusal::NotFound => error(StatusCode::NOT_FOUND, "not_found", "no such wearer, alert or route for you"),
        Refusal::Unauthorized => {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the request carries no signed-in caregiver; sign in again",
            );
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        Refusal::MethodNotAllowed(allowed) => {
            let mut response =
                error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", &format!("this route takes {allowed}"));
            if let Ok(v) = HeaderValue::from_str(allowed.as_str()) {
                response.headers_mut().insert(header::ALLOW, v);
            }
            response
        }
        Refusal::Invalid(message, errors) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "message": message, "errors": errors}),
        ),
        Refusal::InvalidMetrics(message, errors) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "message": message, "result": {}, "errors": errors}),
        ),
        Refusal::Unprocessable(message) => error(StatusCode::UNPROCESSABLE_ENTITY, "not_snoozable", &message),
        Refusal::NoRecord => error(
            StatusCode::CONFLICT,
            "no_caregiver_record",
            "your caregiver account is not set up for settings yet; ask the service that registered you",
        ),
        Refusal::TooLarge => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        ),
        Refusal::NotJson => error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as Content-Type: application/json",
        ),
        Refusal::Unavailable => {
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the request could not be answered in time; retry it",
            );
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            response
        }
        Refusal::Internal => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the request failed; retry it later"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_recognised_with_their_ids() {
        assert_eq!(Route::of("/v1/wearers"), Some(Route::Wearers));
        assert_eq!(Route::of("/prod/v1/wearers/w-1/"), Some(Route::Wearer("w-1")));
        assert_eq!(Route::of("/v1/wearers/w-1/alerts"), Some(Route::Alerts("w-1")));
        assert_eq!(Route::of("/v1/alerts/a1/acknowledge"), Some(Route::Acknowledge("a1")));
        assert_eq!(Route::of("/v1/wearers/w-1/days"), Some(Route::Days("w-1")));
        assert_eq!(Route::of("/v1/wearers/w-1/daily"), Some(Route::Daily("w-1")));
        assert_eq!(Route::Daily("w-1").method(), Method::PUT);
        assert_eq!(Route::of("/v1/alerts/a1"), None);
        assert_eq!(Route::of("/v1/uploads"), None);
        assert_eq!(Route::of("/wearers"), None);
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// The fields of a refused request.
    fn fields(refusal: Refusal) -> Vec<String> {
        match refusal {
            Refusal::Invalid(_, errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("not a 400: {other:?}"),
        }
    }

    #[test]
    fn a_day_range_defaults_to_the_two_weeks_up_to_yesterday() {
        let yesterday = date("2026-12-02");
        let range = |from, to| day_range(from, to, yesterday).map_err(fields);
        assert_eq!(range(None, None).unwrap(), (date("2026-11-19"), yesterday));
        assert_eq!(range(None, Some("2026-03-31")).unwrap(), (date("2026-03-18"), date("2026-03-31")));
        assert_eq!(range(Some("2026-11-30"), None).unwrap(), (date("2026-11-30"), yesterday));
        assert_eq!(range(Some("2026-11-30"), Some("2026-11-30")).unwrap(), (date("2026-11-30"), date("2026-11-30")));
        // Across a year, the longest range: 92 days, both ends included.
        assert_eq!(range(Some("2026-11-01"), Some("2027-01-31")).unwrap(), (date("2026-11-01"), date("2027-01-31")));
    }

    #[test]
    fn a_bad_day_range_names_each_field() {
        let yesterday = date("2026-12-02");
        let range = |from, to| day_range(from, to, yesterday).map_err(fields);
        for bad in ["2026-11-31", "2026-1-01", "22/11/2026", "2026-11-01T00:00:00Z", "", "yesterday"] {
            assert_eq!(range(Some(bad), None).unwrap_err(), ["from"], "{bad:?}");
        }
        assert_eq!(range(Some("x"), Some("2026-13-01")).unwrap_err(), ["from", "to"]);
        assert_eq!(range(Some("2026-11-05"), Some("2026-11-04")).unwrap_err(), ["to"]);
        assert_eq!(range(Some("2026-12-03"), None).unwrap_err(), ["from"], "after the default end");
        assert_eq!(range(Some("2026-11-01"), Some("2027-02-01")).unwrap_err(), ["to"], "93 days");
        assert_eq!(range(Some("2026-01-01"), None).unwrap_err(), ["from"], "over 92 days to yesterday");
    }

    #[test]
    fn the_daily_time_is_hh_mm_or_null() {
        let at = |body: Value| daily_at(&body).map_err(fields);
        assert_eq!(at(json!({"at": "08:30"})).unwrap(), NaiveTime::from_hms_opt(8, 30, 0));
        assert_eq!(at(json!({"at": "00:00"})).unwrap(), NaiveTime::from_hms_opt(0, 0, 0));
        assert_eq!(at(json!({"at": null})).unwrap(), None);
        for bad in [
            json!({}),
            json!({"at": "8:30"}),
            json!({"at": "24:00"}),
            json!({"at": "08:30:00"}),
            json!({"at": 830}),
            json!({"at": "08h30"}),
            json!({"time": "08:30"}),
        ] {
            assert_eq!(at(bad.clone()).unwrap_err(), ["at"], "{bad}");
        }
    }

    #[test]
    fn ids_outside_the_alphabet_cannot_exist() {
        assert!(plausible_id("wearer-0001") && plausible_id("9f86d081884c7d65"));
        for bad in ["", "a b", "a/b", "ü", &"x".repeat(129), "%00"] {
            assert!(!plausible_id(bad), "{bad:?}");
        }
    }
}
