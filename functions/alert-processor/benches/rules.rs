//! Decode + rules for a 10,000-record Kinesis batch of realistic readings (100
//! wearers, one minute of 5-second readings per record), beside decoding the
//! same records with `serde_json::from_slice::<Value>` alone.
//!
//! Prints readings/s/core and `ratio rules/parse: X.XX` (median of interleaved
//! rounds, so machine noise hits both sides alike), how many records the
//! envelope's fast path took, and decode and rules timed apart; then
//! criterion's report.
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly on a broken fixture")]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, Throughput, criterion_group};
use vigil_domain::Envelope;
use vigil_domain::alerts::{Thresholds, WearerState, evaluate};
use vigil_domain::reading::{Activity, Reading};

const RECORDS: usize = 10_000;
const WEARERS: usize = 100;
const PER_RECORD: usize = 12;

fn batch() -> Vec<Vec<u8>> {
    let start = DateTime::parse_from_rfc3339("2026-11-22T09:00:00+01:00").unwrap();
    let mut rng = fastrand_like(42);
    (0..RECORDS)
        .map(|i| {
            let wearer = i % WEARERS;
            let minute = (i / WEARERS) as i64;
            let readings = (0..PER_RECORD)
                .map(|k| {
                    let ts = start + Duration::seconds(minute * 60 + 5 * k as i64);
                    let mut r = Reading::at(ts, (minute as u64) * 12 + k as u64);
                    r.heart_rate_bpm = Some(60 + (rng() % 70) as i64);
                    r.spo2_pct = Some(90 + (rng() % 10) as i64);
                    r.skin_temp_c = Some(33.0 + (rng() % 20) as f64 / 10.0);
                    r.steps = Some((rng() % 12) as i64);
                    r.activity = Some(if rng().is_multiple_of(3) { Activity::Rest } else { Activity::Light });
                    r.worn = Some(!rng().is_multiple_of(50));
                    r.battery_pct = Some(80 - minute.min(60));
                    r.sos = rng().is_multiple_of(5000).then_some(true);
                    r.fall_detected = rng().is_multiple_of(7000).then_some(true);
                    r
                })
                .collect();
            serde_json::to_vec(&Envelope {
                v: 1,
                batch_id: format!("b-{i}"),
                part: 0,
                parts: 1,
                device_id: format!("band-{wearer:04}"),
                wearer_id: format!("wearer-{wearer:04}"),
                app_version: "1.4.2".into(),
                received_at: Utc::now(),
                readings,
            })
            .unwrap()
        })
        .collect()
}

/// A tiny deterministic generator, so the batch is the same in every run.
fn fastrand_like(mut s: u64) -> impl FnMut() -> u64 {
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

/// What alert-processor does per batch, minus I/O: decode every record, group by
/// wearer, evaluate each wearer's readings on its state.
fn decode_and_evaluate(records: &[Vec<u8>], states: &mut HashMap<String, WearerState>) -> usize {
    let th = Thresholds::default();
    let tz: chrono_tz::Tz = chrono_tz::Europe::Madrid;
    let mut by_wearer: HashMap<String, Vec<Envelope>> = HashMap::new();
    for data in records {
        let e = Envelope::decode(data).unwrap();
        by_wearer.entry(e.wearer_id.clone()).or_default().push(e);
    }
    let mut alerts = 0;
    for (wearer, envelopes) in by_wearer {
        let state = states.entry(wearer.clone()).or_insert_with(|| WearerState::new(wearer));
        for e in &envelopes {
            alerts += evaluate(state, &th, tz, &e.device_id, &e.readings).len();
        }
    }
    alerts
}

fn parse_only(records: &[Vec<u8>]) {
    for data in records {
        black_box(serde_json::from_slice::<serde_json::Value>(data).unwrap());
    }
}

fn ratio(records: &[Vec<u8>]) {
    let readings = (RECORDS * PER_RECORD) as f64;
    let mut ratios = Vec::new();
    let mut best = f64::MAX;
    let (mut decode, mut decode_serde) = (f64::MAX, f64::MAX);
    for _ in 0..7 {
        let t = Instant::now();
        for data in records {
            black_box(Envelope::decode(data).unwrap());
        }
        decode = decode.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for data in records {
            black_box(Envelope::decode_serde(data).unwrap());
        }
        decode_serde = decode_serde.min(t.elapsed().as_secs_f64());
        let mut states = HashMap::new();
        let t = Instant::now();
        black_box(decode_and_evaluate(records, &mut states));
        let rules = t.elapsed().as_secs_f64();
        let t = Instant::now();
        parse_only(records);
        let parse = t.elapsed().as_secs_f64();
        ratios.push(rules / parse);
        best = best.min(rules);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "alert-processor decode + rules: {RECORDS} records, {} readings: {:.2} M readings/s/core; ratio rules/parse: {:.2}",
        RECORDS * PER_RECORD,
        readings / best / 1e6,
        ratios[ratios.len() / 2]
    );
    let fast = records.iter().filter(|d| vigil_domain::envelope::canonical::decode(d).is_some()).count();
    println!(
        "  decode alone: {:.1} ms ({fast} of {RECORDS} records by the fast path; serde_json typed: {:.1} ms); rules: {:.1} ms (the rest)",
        decode * 1e3,
        decode_serde * 1e3,
        (best - decode).max(0.0) * 1e3
    );
}

fn bench(c: &mut Criterion) {
    let records = batch();
    let mut group = c.benchmark_group("alert-processor");
    group.sample_size(10);
    group.throughput(Throughput::Elements((RECORDS * PER_RECORD) as u64));
    group.bench_function("decode+rules/10k-records", |b| {
        b.iter(|| {
            let mut states = HashMap::new();
            black_box(decode_and_evaluate(&records, &mut states))
        })
    });
    group.bench_function("serde_json_value/10k-records", |b| b.iter(|| parse_only(&records)));
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs each benchmark once.
    if std::env::args().any(|a| a == "--bench") {
        ratio(&batch());
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
