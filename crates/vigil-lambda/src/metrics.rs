//! Metrics as CloudWatch Embedded Metric Format log lines: one JSON line per
//! invocation on stdout, turned into metrics by CloudWatch Logs, so the hot path
//! makes no metrics API calls. (Hand-written: the format is one small JSON object,
//! and the crates that emit it bring a whole metrics facade with them.)
//!
//! A count of zero is left out of the line: log ingestion is billed by the byte, most
//! counts of most invocations are zero (no alert, nothing rejected), and every alarm
//! and graph reads counts as sums with missing data as not breaching, so an absent
//! zero reads the same. Durations are always written.

use serde_json::{Map, Value, json};

/// Namespace of every Vigil metric.
pub const NAMESPACE: &str = "Vigil";

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

/// Metrics of one invocation of one function, dimensioned by function name.
#[derive(Debug, Clone)]
pub struct Metrics {
    function: &'static str,
    values: Vec<(&'static str, f64, Unit)>,
}

impl Metrics {
    pub fn new(function: &'static str) -> Self {
        Self { function, values: Vec::with_capacity(8) }
    }

    /// Adds a count; a zero is not written (see the module's note).
    pub fn count(&mut self, name: &'static str, n: usize) -> &mut Self {
        if n > 0 {
            self.values.push((name, n as f64, Unit::Count));
        }
        self
    }

    pub fn millis(&mut self, name: &'static str, ms: f64) -> &mut Self {
        self.values.push((name, ms, Unit::Milliseconds));
        self
    }

    pub fn seconds(&mut self, name: &'static str, s: f64) -> &mut Self {
        self.values.push((name, s, Unit::Seconds));
        self
    }

    /// The sum of the values recorded under `name` (0 if none).
    pub fn get(&self, name: &str) -> f64 {
        self.values.iter().filter(|(n, _, _)| *n == name).fold(0.0, |sum, (_, v, _)| sum + v)
    }

    /// The EMF document for these metrics at `timestamp_ms`.
    pub fn to_emf(&self, timestamp_ms: i64) -> Value {
        let definitions: Vec<Value> =
            self.values.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()})).collect();
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
        for (name, value, _) in &self.values {
            doc.insert((*name).into(), json!(value));
        }
        Value::Object(doc)
    }

    /// Writes the EMF line to stdout, where Lambda ships it to CloudWatch Logs.
    pub fn emit(&self) {
        if self.values.is_empty() {
            return;
        }
        println!("{}", self.to_emf(chrono::Utc::now().timestamp_millis()));
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
}
