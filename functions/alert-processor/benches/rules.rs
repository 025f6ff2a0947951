//! Decode + rules for a 10,000-record Kinesis batch of realistic readings (100
//! wearers, one minute of 5-second readings per record), beside decoding the
//! same records with `serde_json::from_slice::<Value>` alone.
//!
//! Prints readings/s/core and `ratio rules/parse: X.XX` (median of interleaved
//! rounds, so machine noise hits both sides alike), how many records the
//! envelope's fast path took, decode timed apart (and against serde_json's typed
//! decoding) and the rules' share; then criterion's report.
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly on a broken fixture")]

use std::collections::HashMap;
use std::hint::black_box;

use chrono::DateTime;
use criterion::{Criterion, Throughput, criterion_group};
use vigil_domain::Envelope;
use vigil_domain::alerts::{Thresholds, WearerState, evaluate};
use vigil_testkit::bench_batch::{self, PER_RECORD, RECORDS, interleaved};

fn batch() -> Vec<Vec<u8>> {
    let start = DateTime::parse_from_rfc3339("2026-11-22T09:00:00+01:00").unwrap();
    bench_batch::envelopes(start, start.to_utc() + chrono::Duration::hours(1))
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
    let rules = interleaved(7, || decode_and_evaluate(records, &mut HashMap::new()), || parse_only(records));
    println!(
        "alert-processor decode + rules: {RECORDS} records, {} readings: {:.2} M readings/s/core; ratio rules/parse: {:.2}",
        RECORDS * PER_RECORD,
        readings / rules.best / 1e6,
        rules.ratio
    );
    let decode = interleaved(
        7,
        || records.iter().for_each(|data| drop(black_box(Envelope::decode(data).unwrap()))),
        || records.iter().for_each(|data| drop(black_box(Envelope::decode_serde(data).unwrap()))),
    );
    let fast = records.iter().filter(|d| vigil_domain::envelope::canonical::decode(d).is_some()).count();
    println!(
        "  decode alone: {:.1} ms ({fast} of {RECORDS} records by the fast path; ratio to serde_json typed: {:.2}); rules: {:.1} ms (the rest)",
        decode.best * 1e3,
        decode.ratio,
        (rules.best - decode.best).max(0.0) * 1e3
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
vigil_testkit::bench_main!(ratio(&batch()); benches);
