//! Encodes one 10,000-record batch of realistic envelopes (12 readings each),
//! as raw-archiver does before its writes, so its peak memory can be measured:
//!
//! ```text
//! cargo build --release -p raw-archiver --example archive_rss_10k
//! /usr/bin/time -v target/release/examples/archive_rss_10k     # "Maximum resident set size"
//! ```
//!
//! The batch is built first (it is the invocation's input, about 20 MB of
//! envelopes), then handed over to the encoder, which consumes it chunk by chunk.
#![allow(clippy::unwrap_used, reason = "a measurement fails loudly on a broken fixture")]

#[path = "../benches/fixture/mod.rs"]
mod fixture;

use raw_archiver::archive::encode;
use vigil_testkit::MemoryQuarantine;

/// A line of /proc/self/status in MB (Linux), e.g. `VmRSS` now or `VmHWM`, the peak.
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let event = fixture::batch();
    let input: usize = event.records.iter().map(|r| r.kinesis.data.0.len()).sum();
    let before = status_mb("VmRSS:");
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let quarantine = MemoryQuarantine::default();
    let archive = runtime
        .block_on(encode(event, "raw-archiver", &fixture::pseudonymizer(), &quarantine, chrono::Utc::now()))
        .unwrap()
        .unwrap();
    println!(
        "{} records, {:.1} MB of envelopes -> raw {:.2} MB, {} curated file(s) {:.2} MB, {} rows",
        archive.records,
        input as f64 / 1e6,
        archive.raw.body.len() as f64 / 1e6,
        archive.curated.len(),
        archive.curated.iter().map(|c| c.body.len()).sum::<usize>() as f64 / 1e6,
        archive.curated_rows()
    );
    if let (Some(before), Some(peak)) = (before, status_mb("VmHWM:")) {
        println!("RSS with the batch built: {before:.1} MB; peak: {peak:.1} MB");
    }
}
