//! What the handler and integration tests share: envelopes, Lambda's Kinesis
//! event, and reading the archive back (gunzip, Parquet).
#![allow(dead_code, reason = "each test crate uses part of it")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

use std::io::Read;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, TimestampMicrosecondType};
use aws_lambda_events::encodings::SecondTimestamp;
use aws_lambda_events::event::kinesis::KinesisEventRecord;
use chrono::DateTime;
use vigil_curated::{COLUMNS, Pseudonymizer};
use vigil_domain::Envelope;
use vigil_domain::reading::{Activity, Location, Reading};
pub use vigil_testkit::kinesis::{at, event, seq};

pub const KEY: &[u8] = b"test pseudonym key, 32+ bytes long";

pub fn pseudonymizer() -> Pseudonymizer {
    Pseudonymizer::new(KEY).unwrap()
}

pub fn reading(ts: &str, seq: u64) -> Reading {
    let mut r = Reading::at(DateTime::parse_from_rfc3339(ts).unwrap(), seq);
    r.heart_rate_bpm = Some(70 + (seq % 30) as i64);
    r.spo2_pct = Some(97);
    r.skin_temp_c = Some(33.5);
    r.steps = Some((seq % 7) as i64);
    r.activity = Some(Activity::Light);
    r.worn = Some(true);
    r.battery_pct = Some(80);
    r.location = Some(Location { lat: 40.4168, lon: -3.7038, accuracy_m: Some(8.0) });
    r
}

pub fn envelope_for(device: &str, wearer: &str, readings: Vec<Reading>) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        v: 1,
        batch_id: format!("batch-{device}"),
        part: 0,
        parts: 1,
        device_id: device.into(),
        wearer_id: wearer.into(),
        app_version: "1.4.2".into(),
        received_at: at("2026-11-22T10:00:00.900Z"),
        readings,
    })
    .unwrap()
}

pub fn envelope(readings: Vec<Reading>) -> Vec<u8> {
    envelope_for("band-0001", "wearer-42", readings)
}

pub fn record(n: u64, data: Vec<u8>) -> KinesisEventRecord {
    let mut r = KinesisEventRecord::default();
    r.event_id = Some(format!("shardId-000000000001:{}", seq(n)));
    r.event_source = Some("aws:kinesis".into());
    r.kinesis.sequence_number = seq(n);
    r.kinesis.partition_key = "wearer-42".into();
    r.kinesis.data.0 = data;
    r.kinesis.approximate_arrival_timestamp = SecondTimestamp(at("2026-11-22T10:00:01.250Z"));
    r
}

/// One NDJSON line of the raw archive, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    pub shard_id: String,
    pub sequence_number: String,
    pub partition_key: String,
    pub approximate_arrival: String,
    /// The record's bytes, from `data` verbatim or `data_base64` decoded.
    pub data: Vec<u8>,
    pub embedded: bool,
}

pub fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body).read_to_end(&mut out).unwrap();
    out
}

pub fn raw_lines(body: &[u8]) -> Vec<RawLine> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Line<'a> {
        shard_id: String,
        sequence_number: String,
        partition_key: String,
        approximate_arrival: String,
        #[serde(borrow)]
        data: Option<&'a serde_json::value::RawValue>,
        data_base64: Option<String>,
    }
    use base64::Engine;
    let text = gunzip(body);
    assert!(text.ends_with(b"\n"), "every line is terminated");
    text.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let line: Line<'_> = serde_json::from_slice(l).unwrap();
            let (data, embedded) = match (line.data, line.data_base64) {
                (Some(raw), None) => (raw.get().as_bytes().to_vec(), true),
                (None, Some(b64)) => (base64::engine::general_purpose::STANDARD.decode(b64).unwrap(), false),
                other => panic!("exactly one of data and data_base64: {:?}", other.1),
            };
            RawLine {
                shard_id: line.shard_id,
                sequence_number: line.sequence_number,
                partition_key: line.partition_key,
                approximate_arrival: line.approximate_arrival,
                data,
                embedded,
            }
        })
        .collect()
}

/// One curated row read back from Parquet.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub reading_key: String,
    pub wearer_pseudonym: String,
    pub ts_micros: i64,
    pub received_at_micros: i64,
    pub heart_rate_bpm: Option<i32>,
    pub skin_temp_c: Option<f64>,
    pub activity: Option<String>,
    pub sos: Option<bool>,
}

/// Reads a curated file with the parquet crate; checks the columns are exactly
/// the documented ones and that no string in it is one of `identifiers`.
pub fn read_curated(body: &[u8], identifiers: &[&str]) -> (Vec<Row>, usize) {
    let builder = vigil_curated::reader(body.to_vec()).unwrap();
    let row_groups = builder.metadata().num_row_groups();
    let names: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, COLUMNS.to_vec(), "the documented columns, in order");
    let mut rows = Vec::new();
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        for (i, field) in batch.schema().fields().iter().enumerate() {
            if let Some(strings) = batch.column(i).as_string_opt::<i32>() {
                for value in strings.iter().flatten() {
                    for id in identifiers {
                        assert!(!value.contains(id), "{id} in column {}", field.name());
                    }
                }
            }
        }
        let col = |name: &str| batch.column_by_name(name).unwrap();
        let keys = col("reading_key").as_string::<i32>();
        let wearers = col("wearer_pseudonym").as_string::<i32>();
        let ts = col("ts").as_primitive::<TimestampMicrosecondType>();
        let received = col("received_at").as_primitive::<TimestampMicrosecondType>();
        let hr = col("heart_rate_bpm").as_primitive::<Int32Type>();
        let temp = col("skin_temp_c").as_primitive::<Float64Type>();
        let activity = col("activity").as_string::<i32>();
        let sos = col("sos").as_boolean();
        for i in 0..batch.num_rows() {
            rows.push(Row {
                reading_key: keys.value(i).to_owned(),
                wearer_pseudonym: wearers.value(i).to_owned(),
                ts_micros: ts.value(i),
                received_at_micros: received.value(i),
                heart_rate_bpm: hr.is_valid(i).then(|| hr.value(i)),
                skin_temp_c: temp.is_valid(i).then(|| temp.value(i)),
                activity: activity.is_valid(i).then(|| activity.value(i).to_owned()),
                sos: sos.is_valid(i).then(|| sos.value(i)),
            });
        }
    }
    (rows, row_groups)
}
