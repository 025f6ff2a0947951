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
use std::time::Instant;

use aws_lambda_events::event::kinesis::KinesisEvent;
use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use fixture::{PER_RECORD, RECORDS, batch, pseudonymizer};
use raw_archiver::archive::{Archive, encode};
use vigil_domain::curated::Pseudonymizer;
use vigil_testkit::MemoryQuarantine;

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
    let mut ratios = Vec::new();
    let mut best = f64::MAX;
    let mut sizes = (0, 0);
    for _ in 0..7 {
        let input = event.clone();
        let t = Instant::now();
        let archive = encode_batch(&runtime, input, &p, &q);
        let encode = t.elapsed().as_secs_f64();
        sizes = (archive.raw.body.len(), archive.curated.iter().map(|c| c.body.len()).sum::<usize>());
        drop(archive);
        let t = Instant::now();
        parse_only(event);
        let parse = t.elapsed().as_secs_f64();
        ratios.push(encode / parse);
        best = best.min(encode);
    }
    ratios.sort_by(f64::total_cmp);
    let input: usize = event.records.iter().map(|r| r.kinesis.data.0.len()).sum();
    println!(
        "raw-archiver raw + curated encoding: {RECORDS} records, {} readings ({:.1} MB of envelopes -> raw {:.2} MB gzip, curated {:.2} MB Parquet): {:.2} M readings/s/core; ratio encode/parse: {:.2}",
        RECORDS * PER_RECORD,
        input as f64 / 1e6,
        sizes.0 as f64 / 1e6,
        sizes.1 as f64 / 1e6,
        readings / best / 1e6,
        ratios[ratios.len() / 2]
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

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs each benchmark once.
    if std::env::args().any(|a| a == "--bench") {
        ratio(&batch());
        if std::env::var_os("RAW_ARCHIVER_GZIP_SWEEP").is_some() {
            gzip_sweep(&batch());
        }
        if std::env::var_os("RAW_ARCHIVER_STAGES").is_some() {
            stages(&batch());
        }
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

/// Temporary: gzip levels on the raw NDJSON of the batch.
fn gzip_sweep(event: &KinesisEvent) {
    use std::io::Write;
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let archive = encode_batch(&runtime, event.clone(), &pseudonymizer(), &MemoryQuarantine::default());
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&archive.raw.body[..]).read_to_end_compat(&mut plain);
    for level in [1, 2, 3, 4, 5, 6, 9] {
        let t = Instant::now();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        for line in plain.split_inclusive(|b| *b == b'\n') {
            gz.write_all(line).unwrap();
        }
        let out = gz.finish().unwrap();
        println!(
            "gzip level {level}: {:.1} ms, {:.2} MB of {:.2} MB",
            t.elapsed().as_secs_f64() * 1e3,
            out.len() as f64 / 1e6,
            plain.len() as f64 / 1e6
        );
    }
}

trait ReadAll {
    fn read_to_end_compat(self, out: &mut Vec<u8>);
}
impl<R: std::io::Read> ReadAll for R {
    fn read_to_end_compat(mut self, out: &mut Vec<u8>) {
        self.read_to_end(out).unwrap();
    }
}

/// Temporary: time per stage.
fn stages(event: &KinesisEvent) {
    use vigil_domain::Envelope;
    let p = pseudonymizer();
    for _ in 0..3 {
        let t = Instant::now();
        let envs: Vec<Envelope> = event.records.iter().map(|r| Envelope::decode(&r.kinesis.data.0).unwrap()).collect();
        let decode = t.elapsed();
        let t = Instant::now();
        let mut raw = raw_archiver::raw::RawWriter::new();
        for r in &event.records {
            raw.push("shardId-000000000001", &r.kinesis, true).unwrap();
        }
        black_box(raw.finish().unwrap());
        let rawt = t.elapsed();
        let t = Instant::now();
        let mut n = 0;
        for e in &envs {
            let w = p.wearer(&e.wearer_id);
            for r in &e.readings {
                n += p.reading(e.reading_id(r)).as_str().len() + w.as_str().len();
            }
        }
        black_box(n);
        let hmac = t.elapsed();
        let t = Instant::now();
        let mut seen = std::collections::HashSet::new();
        for e in &envs {
            for r in &e.readings {
                seen.insert(e.reading_id(r));
            }
        }
        black_box(seen.len());
        let dedupe = t.elapsed();
        let t = Instant::now();
        let rows: Vec<vigil_domain::curated::CuratedRow> =
            envs.iter().flat_map(|e| e.readings.iter().map(|r| p.row(e, r))).collect();
        let rowt = t.elapsed();
        let t = Instant::now();
        let mut w = raw_archiver::curated::CuratedWriter::new();
        for r in &rows {
            w.push(r).unwrap();
        }
        black_box(w.finish().unwrap());
        let parquet = t.elapsed();
        let t = Instant::now();
        black_box(event.clone());
        let clone = t.elapsed();
        println!(
            "decode {decode:?} raw {rawt:?} hmac {hmac:?} dedupe {dedupe:?} rows(incl hmac) {rowt:?} parquet {parquet:?} clone {clone:?}"
        );
    }
}
