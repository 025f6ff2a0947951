//! raw-archiver's encoding of a 10,000-record batch of realistic envelopes
//! (12 readings each): the raw gzip NDJSON archive and the curated Parquet,
//! decoding included, I/O excluded; beside parsing the same records with
//! `serde_json::from_slice::<Value>` alone.
//!
//! Prints readings/s/core and `ratio encode/parse: X.XX` (median of interleaved
//! rounds, so machine noise hits both sides alike), then criterion's report.
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly on a broken fixture")]

mod fixture;

use std::hint::black_box;

use aws_lambda_events::event::kinesis::KinesisEvent;
use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use fixture::{batch, pseudonymizer};
use raw_archiver::archive::{Archive, encode};
use vigil_curated::Pseudonymizer;
use vigil_testkit::MemoryQuarantine;
use vigil_testkit::bench_batch::{PER_RECORD, RECORDS, interleaved};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_341_700, 0).unwrap()
}

/// What raw-archiver does to a batch before its writes.
fn encode_batch(
    runtime: &tokio::runtime::Runtime,
    event: KinesisEvent,
    p: &Pseudonymizer,
    q: &MemoryQuarantine,
) -> Archive {
    runtime.block_on(encode(event, "raw-archiver", p, q, now())).unwrap().unwrap()
}

fn parse_only(event: &KinesisEvent) {
    for r in &event.records {
        black_box(serde_json::from_slice::<serde_json::Value>(&r.kinesis.data.0).unwrap());
    }
}

fn ratio(event: &KinesisEvent) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let (p, q) = (pseudonymizer(), MemoryQuarantine::default());
    let readings = (RECORDS * PER_RECORD) as f64;
    let rounds = interleaved(7, || encode_batch(&runtime, event.clone(), &p, &q), || parse_only(event));
    let archive = &rounds.output;
    let sizes = (archive.raw.body.len(), archive.curated.iter().map(|c| c.body.len()).sum::<usize>());
    let input: usize = event.records.iter().map(|r| r.kinesis.data.0.len()).sum();
    println!(
        "raw-archiver raw + curated encoding: {RECORDS} records, {} readings ({:.1} MB of envelopes -> raw {:.2} MB gzip, curated {:.2} MB Parquet): {:.2} M readings/s/core; ratio encode/parse: {:.2}",
        RECORDS * PER_RECORD,
        input as f64 / 1e6,
        sizes.0 as f64 / 1e6,
        sizes.1 as f64 / 1e6,
        readings / rounds.best / 1e6,
        rounds.ratio
    );
}

fn bench(c: &mut Criterion) {
    let event = batch();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let (p, q) = (pseudonymizer(), MemoryQuarantine::default());
    let mut group = c.benchmark_group("raw-archiver");
    group.sample_size(10);
    group.throughput(Throughput::Elements((RECORDS * PER_RECORD) as u64));
    group.bench_function("encode/10k-records", |b| {
        b.iter_batched(|| event.clone(), |e| encode_batch(&runtime, e, &p, &q), BatchSize::PerIteration)
    });
    group.bench_function("serde_json_value/10k-records", |b| b.iter(|| parse_only(&event)));
    group.finish();
}

criterion_group!(benches, bench);
vigil_testkit::bench_main!(ratio(&batch()); benches);
