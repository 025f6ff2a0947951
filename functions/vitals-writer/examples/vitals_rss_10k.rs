//! Peak memory of one 10,000-record batch (12 readings per record) through the
//! real handler, with stores that only count what they are given (no I/O):
//!
//! ```sh
//! /usr/bin/time -v cargo run --release -p vitals-writer --example vitals_rss_10k
//! ```
//!
//! The event is built in memory as Lambda's runtime hands it to the handler
//! (record data already base64-decoded). Run the built binary itself under
//! `/usr/bin/time -v target/release/examples/vitals_rss_10k` to see its own peak: with
//! `cargo run`, the figure is cargo's or the compiler's when they use more.
#![allow(clippy::unwrap_used, reason = "an example fails loudly on a broken fixture")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use aws_lambda_events::encodings::SecondTimestamp;
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use chrono::{DateTime, TimeDelta, Utc};
use vigil_domain::ports::{PoisonRecord, Quarantine, StoreError, VitalsStore};
use vigil_domain::vitals::{VitalsItem, VitalsWriteError, WriteReport};
use vitals_writer::Writer;

use vigil_testkit::bench_batch::{self, PER_RECORD, RECORDS};

#[derive(Debug, Default)]
struct CountingVitals {
    items: AtomicUsize,
    bytes: AtomicUsize,
}

impl VitalsStore for CountingVitals {
    async fn put_items(&self, items: &[VitalsItem]) -> Result<WriteReport, VitalsWriteError> {
        self.items.fetch_add(items.len(), Ordering::Relaxed);
        self.bytes.fetch_add(items.iter().map(VitalsItem::size_bytes).sum(), Ordering::Relaxed);
        Ok(WriteReport { calls: items.len().div_ceil(25) as u32, retries: 0 })
    }
}

#[derive(Debug, Default)]
struct NoPoison;

impl Quarantine for NoPoison {
    async fn quarantine(&self, _record: &PoisonRecord<'_>) -> Result<(), StoreError> {
        Ok(())
    }
}

fn event() -> KinesisEvent {
    let start = DateTime::parse_from_rfc3339("2026-11-22T09:00:20+01:00").unwrap();
    let arrival = Utc::now();
    let mut e = KinesisEvent::default();
    e.records = bench_batch::envelopes(start, arrival)
        .into_iter()
        .enumerate()
        .map(|(i, data)| {
            let mut r = KinesisEventRecord::default();
            r.event_id = Some(format!("shardId-000000000001:{i:056}"));
            r.kinesis.sequence_number = format!("{i:056}");
            r.kinesis.partition_key = format!("wearer-{:04}", i % bench_batch::WEARERS);
            r.kinesis.data.0 = data;
            r.kinesis.approximate_arrival_timestamp = SecondTimestamp(arrival);
            r
        })
        .collect();
    e
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let writer = Writer { vitals: CountingVitals::default(), quarantine: NoPoison, ttl: TimeDelta::days(30) };
    let event = event();
    let data: usize = event.records.iter().map(|r| r.kinesis.data.0.len()).sum();
    let started = Instant::now();
    let (response, _metrics) = runtime.block_on(writer.process(event, Utc::now()));
    let elapsed = started.elapsed();
    assert!(response.batch_item_failures.is_empty());
    let items = writer.vitals.items.load(Ordering::Relaxed);
    println!(
        "vitals-writer vitals_rss_10k: {RECORDS} records ({:.1} MB of record data), {} readings -> {items} items \
         (mean {} bytes) in {:.0} ms",
        data as f64 / 1e6,
        RECORDS * PER_RECORD,
        writer.vitals.bytes.load(Ordering::Relaxed) / items.max(1),
        elapsed.as_secs_f64() * 1e3
    );
}
