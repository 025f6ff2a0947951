//! Metrics as CloudWatch Embedded Metric Format log lines on stdout, turned into
//! metrics by CloudWatch Logs, so the hot path makes no metrics API calls.
//! (Hand-written: the format is one small JSON object, and the crates that emit it
//! bring a whole metrics facade with them.)
//!
//! A count of zero is left out of the line: log ingestion is billed by the byte, most
//! counts of most invocations are zero (no alert, nothing rejected), and every alarm
//! and graph reads counts as sums with missing data as not breaching, so an absent
//! zero reads the same. Durations are always written, every sample of them: a
//! metric recorded more than once in a line is written as an array of its values
//! (EMF takes up to [`MAX_VALUES`]; more go on in further lines), so a p99 stays
//! exact.
//!
//! Most functions write a line per invocation ([`Metrics::emit`]). The two invoked
//! once an upload, ingest-api and alert-processor, pool their routine invocations in
//! a [`Pool`] instead: about 900 M invocations a month at 100,000 wearers, whose
//! lines were most of the log bill (docs/cost.md).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

/// Namespace of every Vigil metric.
pub const NAMESPACE: &str = "Vigil";

/// The most values of one metric in one EMF line (CloudWatch's limit).
pub const MAX_VALUES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// Metrics of one invocation (or of a pool of them) of one function, dimensioned
/// by function name: counts summed by name, durations kept sample by sample.
#[derive(Debug, Clone)]
pub struct Metrics {
    function: &'static str,
    counts: Vec<(&'static str, f64)>,
    samples: Vec<(&'static str, Unit, Vec<f64>)>,
}

impl Metrics {
    pub fn new(function: &'static str) -> Self {
        Self { function, counts: Vec::with_capacity(8), samples: Vec::with_capacity(2) }
    }

    /// Adds a count; a zero is not written (see the module's note).
    pub fn count(&mut self, name: &'static str, n: usize) -> &mut Self {
        if n > 0 {
            self.add_count(name, n as f64);
        }
        self
    }

    /// Adds a duration, to a hundredth of a millisecond.
    pub fn millis(&mut self, name: &'static str, ms: f64) -> &mut Self {
        self.sample(name, Unit::Milliseconds, (ms * 100.0).round() / 100.0)
    }

    pub fn seconds(&mut self, name: &'static str, s: f64) -> &mut Self {
        self.sample(name, Unit::Seconds, s)
    }

    fn add_count(&mut self, name: &'static str, n: f64) {
        match self.counts.iter_mut().find(|(k, _)| *k == name) {
            Some((_, sum)) => *sum += n,
            None => self.counts.push((name, n)),
        }
    }

    fn sample(&mut self, name: &'static str, unit: Unit, value: f64) -> &mut Self {
        match self.samples.iter_mut().find(|(k, _, _)| *k == name) {
            Some((_, _, values)) => values.push(value),
            None => self.samples.push((name, unit, vec![value])),
        }
        self
    }

    /// The sum of the values recorded under `name` (0 if none).
    pub fn get(&self, name: &str) -> f64 {
        let counts = self.counts.iter().filter(|(k, _)| *k == name).map(|(_, n)| n);
        let samples = self.samples.iter().filter(|(k, _, _)| *k == name).flat_map(|(_, _, v)| v);
        // A fold from +0.0: an empty f64 sum is -0.0, which prints as such.
        counts.chain(samples).fold(0.0, |sum, v| sum + v)
    }

    /// Every name recorded.
    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.counts.iter().map(|(k, _)| *k).chain(self.samples.iter().map(|(k, _, _)| *k))
    }

    fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.samples.is_empty()
    }

    /// The most samples any one metric holds.
    fn most_samples(&self) -> usize {
        self.samples.iter().map(|(_, _, v)| v.len()).max().unwrap_or(0)
    }

    /// Adds `other`'s counts and samples to these.
    fn merge(&mut self, other: Metrics) {
        for (name, n) in other.counts {
            self.add_count(name, n);
        }
        for (name, unit, values) in other.samples {
            match self.samples.iter_mut().find(|(k, _, _)| *k == name) {
                Some((_, _, mine)) => mine.extend(values),
                None => self.samples.push((name, unit, values)),
            }
        }
    }

    /// The EMF document for these metrics at `timestamp_ms`: the first of
    /// [`lines`](Self::lines), every count and up to [`MAX_VALUES`] samples of each
    /// duration.
    pub fn to_emf(&self, timestamp_ms: i64) -> Value {
        self.document(timestamp_ms, 0).unwrap_or_else(|| self.document_of(timestamp_ms, &[], &[]))
    }

    /// Every EMF line these metrics take: one, unless a duration has more than
    /// [`MAX_VALUES`] samples (a batch that raised that many alerts); then the
    /// next lines carry the rest of them, [`MAX_VALUES`] a line.
    pub fn lines(&self, timestamp_ms: i64) -> Vec<String> {
        (0..).map_while(|chunk| self.document(timestamp_ms, chunk)).map(|doc| doc.to_string()).collect()
    }

    /// Line `chunk` of [`lines`](Self::lines); `None` past the last.
    fn document(&self, timestamp_ms: i64, chunk: usize) -> Option<Value> {
        let counts = if chunk == 0 { self.counts.as_slice() } else { &[] };
        let samples: Vec<(&'static str, Unit, &[f64])> = self
            .samples
            .iter()
            .filter_map(|(name, unit, values)| {
                values.chunks(MAX_VALUES).nth(chunk).map(|values| (*name, *unit, values))
            })
            .collect();
        (chunk == 0 && !self.is_empty() || !samples.is_empty())
            .then(|| self.document_of(timestamp_ms, counts, &samples))
    }

    fn document_of(
        &self,
        timestamp_ms: i64,
        counts: &[(&'static str, f64)],
        samples: &[(&'static str, Unit, &[f64])],
    ) -> Value {
        let units = counts.iter().map(|(k, _)| (*k, Unit::Count)).chain(samples.iter().map(|(k, u, _)| (*k, *u)));
        let definitions: Vec<Value> = units.map(|(name, unit)| json!({"Name": name, "Unit": unit.as_str()})).collect();
        let mut doc = Map::new();
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Function"]],
                    "Metrics": definitions,
                }]
            }),
        );
        doc.insert("Function".into(), Value::from(self.function));
        for (name, n) in counts {
            doc.insert((*name).into(), json!(n));
        }
        for (name, _, values) in samples {
            let value = match values {
                [one] => json!(one),
                many => json!(many),
            };
            doc.insert((*name).into(), value);
        }
        Value::Object(doc)
    }

    /// Writes the EMF lines to stdout, where Lambda ships them to CloudWatch Logs.
    pub fn emit(&self) {
        for line in self.lines(chrono::Utc::now().timestamp_millis()) {
            println!("{line}");
        }
    }
}

/// How long a [`Pool`] may hold routine metrics before it writes them.
pub const POOL_FOR: Duration = Duration::from_secs(60);

/// The routine metrics of a function invoked once an upload, pooled across the
/// invocations of one process and written as one line.
///
/// An invocation whose every metric is routine (the function's list: what every
/// invocation records when all is well) joins the pool. The pool is written, as
/// one line with its counts summed and every duration sample, when its first
/// invocation is [`POOL_FOR`] old, when a duration has [`MAX_VALUES`] samples,
/// or at once with an invocation that records anything else (a refusal, an
/// alert, a failure, a poison record): whatever an alarm reads is never held
/// back. The line's timestamp is its first invocation's.
///
/// What it costs: a line is written at the end of an invocation, never between
/// two (Lambda freezes the process), so a quiet function's routine counts wait
/// for its next invocation, and when Lambda retires a process at most
/// [`POOL_FOR`] of its routine counts are never written.
#[derive(Debug)]
pub struct Pool {
    routine: &'static [&'static str],
    pending: Mutex<Option<(Instant, i64, Metrics)>>,
}

impl Pool {
    pub const fn new(routine: &'static [&'static str]) -> Self {
        Self { routine, pending: Mutex::new(None) }
    }

    /// Adds an invocation's `metrics`, recorded at `now` (`timestamp_ms` on the
    /// wall clock); returns the lines to write now ([`Metrics::lines`]), none if it
    /// is not yet time.
    pub fn add(&self, metrics: Metrics, now: Instant, timestamp_ms: i64) -> Vec<String> {
        let routine = metrics.names().all(|name| self.routine.contains(&name));
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match pending.as_mut() {
            Some((_, _, pooled)) => pooled.merge(metrics),
            None if metrics.is_empty() => return Vec::new(),
            None => *pending = Some((now, timestamp_ms, metrics)),
        }
        let due = pending.as_ref().is_some_and(|(since, _, pooled)| {
            !routine || now.duration_since(*since) >= POOL_FOR || pooled.most_samples() >= MAX_VALUES
        });
        match pending.take_if(|_| due) {
            Some((_, at, pooled)) => pooled.lines(at),
            None => Vec::new(),
        }
    }

    /// [`add`](Self::add) now, writing the lines to stdout if it is time.
    pub fn emit(&self, metrics: Metrics) {
        for line in self.add(metrics, Instant::now(), chrono::Utc::now().timestamp_millis()) {
            println!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_declares_every_metric_it_carries() {
        let mut m = Metrics::new("ingest-api");
        m.count("ReadingsAccepted", 12).millis("PublishMs", 3.5);
        let doc = m.to_emf(1_700_000_000_000);
        assert_eq!(doc["Function"], "ingest-api");
        assert_eq!(doc["ReadingsAccepted"], 12.0);
        assert_eq!(doc["PublishMs"], 3.5);
        let defs = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(defs["Namespace"], "Vigil");
        assert_eq!(defs["Dimensions"][0][0], "Function");
        let names: Vec<_> = defs["Metrics"].as_array().unwrap().iter().map(|d| d["Name"].clone()).collect();
        assert_eq!(names, vec!["ReadingsAccepted", "PublishMs"]);
        assert_eq!(defs["Metrics"][1]["Unit"], "Milliseconds");
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000i64);
    }

    #[test]
    fn a_zero_count_is_left_out_and_a_zero_duration_kept() {
        let mut m = Metrics::new("alert-processor");
        m.count("RecordsIn", 4).count("AlertsRaised", 0).millis("BatchMs", 0.0);
        let doc = m.to_emf(1_700_000_000_000);
        assert_eq!(doc.get("AlertsRaised"), None);
        assert_eq!(doc["RecordsIn"], 4.0);
        assert_eq!(doc["BatchMs"], 0.0);
        let names: Vec<_> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["Name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["RecordsIn", "BatchMs"]);
        assert_eq!(m.get("AlertsRaised"), 0.0);
    }

    #[test]
    fn a_duration_recorded_twice_is_written_as_both_samples() {
        let mut m = Metrics::new("alert-processor");
        m.millis("AlertLatencyMs", 7_000.0)
            .millis("AlertLatencyMs", 6_000.126)
            .count("AlertsRaised", 1)
            .count("AlertsRaised", 1);
        let doc = m.to_emf(0);
        assert_eq!(doc["AlertLatencyMs"], json!([7000.0, 6000.13]));
        assert_eq!(doc["AlertsRaised"], 2.0);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().unwrap().len(),
            2,
            "each name declared once"
        );
        assert!((m.get("AlertLatencyMs") - 13_000.13).abs() < 1e-6);
    }

    const ROUTINE: &[&str] = &["Uploads", "ReadingsAccepted", "IngestMs"];

    fn upload(ms: f64) -> Metrics {
        let mut m = Metrics::new("ingest-api");
        m.count("Uploads", 1).count("ReadingsAccepted", 60).millis("IngestMs", ms);
        m
    }

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn a_pool_holds_routine_invocations_until_its_first_is_a_minute_old() {
        let pool = Pool::new(ROUTINE);
        let t0 = Instant::now();
        assert!(pool.add(upload(10.0), t0, 1_000).is_empty());
        assert!(pool.add(upload(12.5), t0 + Duration::from_secs(30), 31_000).is_empty());
        let lines = pool.add(upload(9.0), t0 + POOL_FOR, 61_000);
        let [line] = lines.as_slice() else { panic!("one line a minute after the first: {lines:?}") };
        let doc = parse(line);
        assert_eq!((doc["Uploads"].clone(), doc["ReadingsAccepted"].clone()), (json!(3.0), json!(180.0)));
        assert_eq!(doc["IngestMs"], json!([10.0, 12.5, 9.0]));
        assert_eq!(doc["_aws"]["Timestamp"], 1_000, "the first invocation's time");
        assert!(pool.add(upload(1.0), t0 + POOL_FOR, 61_000).is_empty(), "a new pool starts");
    }

    #[test]
    fn anything_but_routine_is_written_at_once_with_what_was_pooled() {
        let pool = Pool::new(ROUTINE);
        let t0 = Instant::now();
        assert!(pool.add(upload(10.0), t0, 1_000).is_empty());
        let mut refused = Metrics::new("ingest-api");
        refused.count("Uploads", 1).count("UploadsRefused", 1).millis("IngestMs", 1.0);
        let doc = parse(&pool.add(refused, t0 + Duration::from_millis(5), 1_005).concat());
        assert_eq!((doc["Uploads"].clone(), doc["UploadsRefused"].clone()), (json!(2.0), json!(1.0)));
        assert_eq!(doc["IngestMs"], json!([10.0, 1.0]));
        // A routine name with an unlisted duration is not routine either.
        let mut slow = upload(3.0);
        slow.millis("PublishMs", 2.0);
        assert_eq!(pool.add(slow, t0 + Duration::from_millis(6), 1_006).len(), 1);
        assert!(pool.add(Metrics::new("ingest-api"), t0, 0).is_empty(), "nothing to write");
    }

    #[test]
    fn a_pool_is_written_when_a_duration_has_as_many_samples_as_a_line_takes() {
        let pool = Pool::new(ROUTINE);
        let t0 = Instant::now();
        let lines: Vec<String> = (0..1_000u64)
            .flat_map(|n| pool.add(upload(10.0 + n as f64 / 7.0), t0 + Duration::from_millis(10 * n), 0))
            .collect();
        assert_eq!(lines.len(), 10, "one line per {MAX_VALUES} invocations");
        for line in &lines {
            let doc = parse(line);
            assert_eq!(doc["Uploads"], json!(MAX_VALUES as f64));
            assert_eq!(doc["IngestMs"].as_array().unwrap().len(), MAX_VALUES);
        }
        // What the pool saves: bytes per invocation, against a line each.
        let pooled = lines.iter().map(|l| l.len() + 1).sum::<usize>() as f64 / 1_000.0;
        let alone = upload(16.67).to_emf(1_764_800_000_000).to_string().len() + 1;
        assert!(pooled * 10.0 < alone as f64, "{pooled:.1} bytes per invocation pooled, {alone} alone");
    }

    #[test]
    fn a_duration_with_more_samples_than_a_line_takes_goes_on_in_further_lines() {
        let mut m = Metrics::new("alert-processor");
        m.count("AlertsRaised", 250);
        for n in 0..250 {
            m.millis("AlertLatencyMs", f64::from(n));
        }
        m.millis("BatchMs", 30.0);
        let lines: Vec<Value> = m.lines(7).iter().map(|l| parse(l)).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!((lines[0]["AlertsRaised"].clone(), lines[0]["BatchMs"].clone()), (json!(250.0), json!(30.0)));
        for (line, from) in lines.iter().zip([0, 100, 200]) {
            let values: Vec<f64> = serde_json::from_value(line["AlertLatencyMs"].clone()).unwrap();
            assert_eq!(values, (from..(from + 100).min(250)).map(f64::from).collect::<Vec<_>>());
            assert_eq!(line["_aws"]["Timestamp"], 7);
        }
        // The further lines carry the samples only, each declared.
        assert_eq!(lines[1].get("AlertsRaised"), None);
        assert_eq!(
            lines[2]["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "AlertLatencyMs", "Unit": "Milliseconds"}])
        );
        assert!(Metrics::new("x").lines(0).is_empty());
        assert_eq!(Metrics::new("x").get("AlertsRaised").to_string(), "0", "not -0");
    }
}
