//! `POST /v1/wearers/{id}/metrics` over a 7-day window for one wearer: 10,080
//! vitals items (a minute of 5-second readings each, 120,960 readings), as the
//! Query returns them (DynamoDB attribute maps) — read back, every reading in the
//! window decoded, and heart rate count/min/avg/max, SpO2 min/avg, skin
//! temperature avg and steps sum computed exactly. Beside it, in the same rounds,
//! decoding the same items with serde_dynamo alone into a struct of their
//! attributes (no rows decoded, nothing computed). Both sides start by cloning
//! the items (the SDK hands them over owned), so the clone is on both sides.
//!
//! Prints the CPU time per request and `ratio metrics/serde_dynamo` (median of
//! interleaved rounds, so machine noise hits both alike), then criterion's report.
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly on a broken fixture")]

use std::collections::HashMap;
use std::hint::black_box;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, TimeDelta, Utc};
use criterion::{Criterion, criterion_group};
use serde::Deserialize;
use serde_json::json;
use vigil_domain::vitals::{MetricsRequest, readings_in, vitals_items};
use vigil_testkit::bench_batch::{interleaved, wearer_uploads};

const MINUTES: i64 = 7 * 24 * 60;

type Item = HashMap<String, AttributeValue>;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-16T00:00:00Z").unwrap().to_utc()
}

/// One wearer's week of uploads every minute (an item each), as stored.
fn week() -> Vec<Item> {
    wearer_uploads(42, start(), MINUTES, 12)
        .iter()
        .flat_map(|envelope| vitals_items(envelope, TimeDelta::days(30)))
        .map(|item| vigil_aws::vitals::to_item(&item))
        .collect()
}

fn request() -> MetricsRequest {
    MetricsRequest::parse(&json!({
        "heart_rate_bpm": ["count", "min", "avg", "max"], "spo2_pct": ["min", "avg"],
        "skin_temp_c": ["avg"], "steps": ["sum"],
        "from": start().to_rfc3339(), "to": (start() + Duration::days(7)).to_rfc3339(),
    }))
    .unwrap()
}

/// What care-api does with the Query's items: read them back, decode the window's readings, compute.
fn metrics(items: &[Item], request: &MetricsRequest) -> serde_json::Map<String, serde_json::Value> {
    let owned: Vec<Item> = items.to_vec();
    let vitals: Vec<_> = owned.iter().map(|i| vigil_aws::vitals::from_item(i).unwrap()).collect();
    let readings = readings_in(&vitals, &request.window).unwrap();
    request.compute(&readings)
}

/// The item's attributes, as serde_dynamo would read them into a struct.
#[derive(Deserialize)]
#[allow(dead_code, reason = "read by serde, kept to decode every attribute")]
struct Raw {
    wearer_id: String,
    sk: String,
    v: u32,
    n: u32,
    hr_min: Option<i64>,
    hr_avg: Option<f64>,
    hr_max: Option<i64>,
    spo2_min: Option<i64>,
    steps: Option<i64>,
    /// The rows, compressed (format v2): binary.
    r: serde_bytes::ByteBuf,
    expires_at: i64,
}

fn serde_dynamo_only(items: &[Item]) {
    let owned: Vec<Item> = items.to_vec();
    for item in owned {
        black_box(serde_dynamo::from_item::<_, Raw>(item).unwrap());
    }
}

fn figures(items: &[Item]) {
    let request = request();
    let result = metrics(items, &request);
    assert_eq!(result["heart_rate_bpm"]["count"], (MINUTES * 12) as u64);
    let rounds = interleaved(9, || metrics(items, &request), || serde_dynamo_only(items));
    println!(
        "care-api metrics, 7 days: {} items, {} readings: {:.1} ms CPU per request; ratio metrics/serde_dynamo: {:.2}",
        items.len(),
        MINUTES * 12,
        rounds.best * 1e3,
        rounds.ratio
    );
}

fn bench(c: &mut Criterion) {
    let items = week();
    let request = request();
    let mut group = c.benchmark_group("care-api");
    group.sample_size(10);
    group.bench_function("metrics/7-days", |b| b.iter(|| black_box(metrics(&items, &request))));
    group.bench_function("serde_dynamo/7-days", |b| b.iter(|| serde_dynamo_only(&items)));
    group.finish();
}

criterion_group!(benches, bench);
vigil_testkit::bench_main!(figures(&week()); benches);
