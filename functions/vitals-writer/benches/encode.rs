//! Encoding for a 10,000-record Kinesis batch of realistic readings (100
//! wearers, one minute of 5-second readings per record): decode every record
//! and build its vitals items, no I/O — beside decoding the same records with
//! `serde_json::from_slice::<Value>` alone.
//!
//! Prints readings/s/core, `ratio encode/parse: X.XX` (median of interleaved
//! rounds, so machine noise hits both sides alike) and the write units the
//! items would cost per million readings, then criterion's report.
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly on a broken fixture")]

use std::hint::black_box;

use chrono::{DateTime, Duration, TimeDelta};
use criterion::{Criterion, Throughput, criterion_group};
use vigil_domain::Envelope;
use vigil_domain::vitals::{VitalsItem, vitals_items};
use vigil_testkit::bench_batch::{self, PER_RECORD, RECORDS, interleaved};

/// The batch, its readings `offset_secs` into the minute (uploads do not start
/// on a minute, so most records then make two items).
fn batch(offset_secs: i64) -> Vec<Vec<u8>> {
    let start = DateTime::parse_from_rfc3339("2026-11-22T09:00:00+01:00").unwrap() + Duration::seconds(offset_secs);
    bench_batch::envelopes(start, start.to_utc() + Duration::hours(1))
}

/// What vitals-writer does per record before any I/O: decode, build items.
fn encode(records: &[Vec<u8>], ttl: TimeDelta) -> Vec<VitalsItem> {
    let mut items = Vec::with_capacity(records.len() * 2);
    for data in records {
        let envelope = Envelope::decode(data).unwrap();
        items.extend(vitals_items(&envelope, ttl));
    }
    items
}

fn parse_only(records: &[Vec<u8>]) {
    for data in records {
        black_box(serde_json::from_slice::<serde_json::Value>(data).unwrap());
    }
}

fn figures(records: &[Vec<u8>], aligned: &[Vec<u8>]) {
    let ttl = TimeDelta::days(30);
    let readings = (RECORDS * PER_RECORD) as f64;
    let rounds = interleaved(7, || encode(records, ttl), || parse_only(records));
    println!(
        "vitals-writer decode + items: {RECORDS} records, {} readings: {:.2} M readings/s/core; ratio encode/parse: {:.2}",
        RECORDS * PER_RECORD,
        readings / rounds.best / 1e6,
        rounds.ratio
    );
    for (name, batch) in [("uploads starting mid-minute", records), ("uploads aligned to minutes", aligned)] {
        let items = encode(batch, ttl);
        let units: usize = items.iter().map(VitalsItem::write_units).sum();
        let bytes: usize = items.iter().map(VitalsItem::size_bytes).sum();
        println!(
            "vitals-writer write cost, {name}: {} items, mean {} bytes, max {} bytes, {} WCU; {:.0} WCU per million readings",
            items.len(),
            bytes / items.len(),
            items.iter().map(VitalsItem::size_bytes).max().unwrap_or(0),
            units,
            units as f64 / readings * 1e6
        );
    }
}

fn bench(c: &mut Criterion) {
    let records = batch(20);
    let ttl = TimeDelta::days(30);
    let mut group = c.benchmark_group("vitals-writer");
    group.sample_size(10);
    group.throughput(Throughput::Elements((RECORDS * PER_RECORD) as u64));
    group.bench_function("decode+items/10k-records", |b| b.iter(|| black_box(encode(&records, ttl))));
    group.bench_function("serde_json_value/10k-records", |b| b.iter(|| parse_only(&records)));
    group.finish();
}

criterion_group!(benches, bench);
vigil_testkit::bench_main!(figures(&batch(20), &batch(0)); benches);
