//! Vitals over a window, for the caregivers' API: metrics (count, min, avg, max,
//! sum of a measure) and series for charts (per minute or per hour), computed
//! from the readings the vitals items keep (their rows), never from the items'
//! rounded per-minute aggregates, so every figure is exact: an average is the
//! sum over the count of the readings in the window, not an average of
//! averages, and a window that cuts a minute counts only the readings inside it.
//!
//! A window is `[from, to)` in event time. A reading stored twice (the same
//! device and seq in two items, after a re-upload that split a minute
//! differently) counts once.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::item::{ITEM_SPAN_MINUTES, VitalsItem};
use super::row::{FormatError, StoredReading};

/// Longest window of a metrics request or an hourly series.
pub const MAX_WINDOW_DAYS: i64 = 31;
/// Longest window of a per-minute series (2,880 points).
pub const MAX_MINUTE_SERIES_DAYS: i64 = 2;

/// A numeric measurement of a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    HeartRate,
    Spo2,
    SkinTemp,
    Steps,
    Battery,
}

impl Measure {
    pub const ALL: [Measure; 5] =
        [Measure::HeartRate, Measure::Spo2, Measure::SkinTemp, Measure::Steps, Measure::Battery];

    /// The name used in requests and responses: the reading's field name.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::HeartRate => "heart_rate_bpm",
            Measure::Spo2 => "spo2_pct",
            Measure::SkinTemp => "skin_temp_c",
            Measure::Steps => "steps",
            Measure::Battery => "battery_pct",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    fn of(self, r: &StoredReading) -> Option<f64> {
        match self {
            Measure::HeartRate => r.heart_rate_bpm.map(|v| v as f64),
            Measure::Spo2 => r.spo2_pct.map(|v| v as f64),
            Measure::SkinTemp => r.skin_temp_c,
            Measure::Steps => r.steps.map(|v| v as f64),
            Measure::Battery => r.battery_pct.map(|v| v as f64),
        }
    }

    fn integral(self) -> bool {
        self != Measure::SkinTemp
    }
}

/// An aggregate of a measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    Count,
    Min,
    Avg,
    Max,
    Sum,
}

impl Metric {
    pub const ALL: [Metric; 5] = [Metric::Count, Metric::Min, Metric::Avg, Metric::Max, Metric::Sum];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Count => "count",
            Metric::Min => "min",
            Metric::Avg => "avg",
            Metric::Max => "max",
            Metric::Sum => "sum",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// Count, sum, min and max of one measure: combined exactly, so the average of
/// any union of windows is right.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Agg {
    pub count: u64,
    pub sum: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Agg {
    pub fn add(&mut self, v: f64) {
        self.count += 1;
        self.sum += v;
        self.min = Some(self.min.map_or(v, |m| m.min(v)));
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
    }

    pub fn avg(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    fn value(&self, metric: Metric, integral: bool) -> Value {
        let number = |v: f64| if integral && v.fract() == 0.0 && v.abs() < 9.0e15 { json!(v as i64) } else { json!(v) };
        match metric {
            Metric::Count => json!(self.count),
            Metric::Sum => number(self.sum),
            Metric::Min => self.min.map_or(Value::Null, number),
            Metric::Max => self.max.map_or(Value::Null, number),
            Metric::Avg => self.avg().map_or(Value::Null, |v| json!(v)),
        }
    }
}

/// A time window `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A field-level problem with a request, in the upload API's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowError {
    pub field: String,
    pub message: String,
}

impl WindowError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), message: message.into() }
    }
}

impl Window {
    /// A window from request text: both ends RFC 3339, `to` after `from`, at most
    /// `max_days` long. Every problem is listed.
    pub fn parse(from: Option<&str>, to: Option<&str>, max_days: i64) -> Result<Self, Vec<WindowError>> {
        let mut errors = Vec::new();
        let mut end = |field: &str, text: Option<&str>| match text {
            None => {
                errors.push(WindowError::new(field, "required: an RFC 3339 time, e.g. 2026-11-22T10:00:00Z"));
                None
            }
            Some(t) => match DateTime::parse_from_rfc3339(t) {
                Ok(t) => Some(t.with_timezone(&Utc)),
                Err(_) => {
                    errors.push(WindowError::new(field, "not an RFC 3339 time, e.g. 2026-11-22T10:00:00Z"));
                    None
                }
            },
        };
        let (from, to) = (end("from", from), end("to", to));
        if let (Some(from), Some(to)) = (from, to) {
            if to <= from {
                errors.push(WindowError::new("to", "must be after from"));
            } else if to - from > Duration::days(max_days) {
                errors.push(WindowError::new("to", format!("the window is longer than {max_days} days")));
            } else {
                return Ok(Self { from, to });
            }
        }
        Err(errors)
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }

    /// The last instant inside the window, for a store's inclusive key range.
    pub fn last(&self) -> DateTime<Utc> {
        self.to - Duration::nanoseconds(1)
    }
}

/// The readings of `items` inside `window`, each (device, seq) once, in time order.
pub fn readings_in(items: &[VitalsItem], window: &Window) -> Result<Vec<StoredReading>, FormatError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for item in items {
        // Items wholly outside the window need no decoding.
        if item.start + Duration::minutes(ITEM_SPAN_MINUTES) <= window.from || item.start >= window.to {
            continue;
        }
        for r in item.rows()? {
            if window.contains(r.ts) && seen.insert((item.device_id.as_str(), r.seq)) {
                out.push(r);
            }
        }
    }
    out.sort_by_key(|r| r.ts);
    Ok(out)
}

/// A metrics request: which metrics of which measures.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRequest {
    pub window: Window,
    pub wanted: BTreeMap<Measure, Vec<Metric>>,
    /// Unknown measures or metrics: reported, the rest still computed.
    pub errors: Vec<WindowError>,
}

/// Why a metrics request cannot be computed at all (400).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsRejected {
    pub message: &'static str,
    pub errors: Vec<WindowError>,
}

impl MetricsRequest {
    /// Reads `{"heart_rate_bpm": ["count","avg"], "steps": ["sum"], "from": …, "to": …}`.
    pub fn parse(body: &Value) -> Result<Self, MetricsRejected> {
        let Some(object) = body.as_object() else {
            return Err(MetricsRejected {
                message: "the body must be a JSON object of measures and a window",
                errors: vec![WindowError::new("", "expected an object")],
            });
        };
        let text = |k: &str| object.get(k).and_then(Value::as_str);
        let mut errors = Vec::new();
        for k in ["from", "to"] {
            if object.get(k).is_some_and(|v| !v.is_string()) {
                errors.push(WindowError::new(k, "must be a string (RFC 3339)"));
            }
        }
        let window = Window::parse(text("from"), text("to"), MAX_WINDOW_DAYS);
        let mut wanted = BTreeMap::new();
        let mut soft = Vec::new();
        for (key, value) in object {
            if key == "from" || key == "to" {
                continue;
            }
            let Some(measure) = Measure::parse(key) else {
                soft.push(WindowError::new(key, "unknown measure"));
                continue;
            };
            let Some(names) = value.as_array().filter(|a| !a.is_empty()) else {
                soft.push(WindowError::new(key, "expected a non-empty list of metrics"));
                continue;
            };
            let mut metrics = Vec::new();
            for (i, name) in names.iter().enumerate() {
                match name.as_str().and_then(Metric::parse) {
                    Some(m) if !metrics.contains(&m) => metrics.push(m),
                    Some(_) => {}
                    None => soft.push(WindowError::new(
                        &format!("{key}[{i}]"),
                        "unknown metric; use count, min, avg, max or sum",
                    )),
                }
            }
            if !metrics.is_empty() {
                wanted.insert(measure, metrics);
            }
        }
        let window = match window {
            Ok(w) if errors.is_empty() => Some(w),
            Ok(_) => None,
            Err(e) => {
                errors.extend(e);
                None
            }
        };
        if wanted.is_empty() {
            if soft.is_empty() {
                soft.push(WindowError::new("", "name at least one measure, e.g. \"heart_rate_bpm\": [\"avg\"]"));
            }
            errors.extend(soft);
            return Err(MetricsRejected { message: "no known measure and metric in the request", errors });
        }
        match window {
            Some(window) => Ok(Self { window, wanted, errors: soft }),
            None => {
                errors.extend(soft);
                Err(MetricsRejected { message: "the window is not valid", errors })
            }
        }
    }

    /// `{"heart_rate_bpm": {"count": 12, "avg": 71.5}, …}` over `readings` (already in the window).
    pub fn compute(&self, readings: &[StoredReading]) -> Map<String, Value> {
        let mut result = Map::new();
        for (measure, metrics) in &self.wanted {
            let mut agg = Agg::default();
            for v in readings.iter().filter_map(|r| measure.of(r)) {
                agg.add(v);
            }
            let values = metrics.iter().map(|m| (m.as_str().to_owned(), agg.value(*m, measure.integral()))).collect();
            result.insert(measure.as_str().to_owned(), Value::Object(values));
        }
        result
    }
}

/// A series' step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Minute,
    Hour,
}

impl Resolution {
    pub fn parse(text: Option<&str>) -> Option<Self> {
        match text {
            None | Some("minute") => Some(Resolution::Minute),
            Some("hour") => Some(Resolution::Hour),
            Some(_) => None,
        }
    }

    pub fn max_days(self) -> i64 {
        match self {
            Resolution::Minute => MAX_MINUTE_SERIES_DAYS,
            Resolution::Hour => MAX_WINDOW_DAYS,
        }
    }

    fn step(self) -> Duration {
        match self {
            Resolution::Minute => Duration::minutes(1),
            Resolution::Hour => Duration::hours(1),
        }
    }
}

/// One point of a series: the readings of one minute or hour (UTC).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub t: DateTime<Utc>,
    pub readings: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heart_rate_bpm: Option<Stats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spo2_pct: Option<Stats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skin_temp_c: Option<Stats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<f64>,
    /// The last battery level of the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub battery_pct: Option<i64>,
    /// Readings with the band on.
    pub worn: u64,
}

/// Min, average and max of a measure in one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
}

fn stats(agg: &Agg) -> Option<Stats> {
    Some(Stats { min: agg.min?, avg: agg.avg()?, max: agg.max? })
}

/// The series of `readings` (in the window, time order) at `resolution`; steps
/// without readings are left out (a gap in the chart).
pub fn series(readings: &[StoredReading], resolution: Resolution) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    let mut aggs = [Agg::default(); 4];
    let flush = |point: &mut Point, aggs: &mut [Agg; 4]| {
        point.heart_rate_bpm = stats(&aggs[0]);
        point.spo2_pct = stats(&aggs[1]);
        point.skin_temp_c = stats(&aggs[2]);
        point.steps = (aggs[3].count > 0).then_some(aggs[3].sum);
        *aggs = [Agg::default(); 4];
    };
    for r in readings {
        let t = r.ts.duration_trunc(resolution.step()).unwrap_or(r.ts);
        if out.last().is_none_or(|p| p.t != t) {
            if let Some(last) = out.last_mut() {
                flush(last, &mut aggs);
            }
            out.push(Point {
                t,
                readings: 0,
                heart_rate_bpm: None,
                spo2_pct: None,
                skin_temp_c: None,
                steps: None,
                battery_pct: None,
                worn: 0,
            });
        }
        let Some(point) = out.last_mut() else { continue };
        point.readings += 1;
        point.worn += u64::from(r.worn == Some(true));
        if r.battery_pct.is_some() {
            point.battery_pct = r.battery_pct;
        }
        for (agg, measure) in
            aggs.iter_mut().zip([Measure::HeartRate, Measure::Spo2, Measure::SkinTemp, Measure::Steps])
        {
            if let Some(v) = measure.of(r) {
                agg.add(v);
            }
        }
    }
    if let Some(last) = out.last_mut() {
        flush(last, &mut aggs);
    }
    out
}
