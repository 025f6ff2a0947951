//! daily-summary's CPU for one wearer's night in steady state: the two days a run
//! computes when a day has ended (that day, and the day before, always redone),
//! from the items one Query returns for them. Two days of 5-second readings
//! uploaded every 5 minutes (the upload policy's routine interval), varying as a
//! band's do, stored as vitals-writer stores them (compressed items per upload and half-hour span),
//! handed over as DynamoDB attribute maps: read back, each day's readings
//! decoded and summarized (`daily_summary::compute`). Beside it, in the same
//! rounds, the decoding alone (attribute maps read back, both days' readings
//! decoded), so the ratio says what summarizing adds.
//!
//! Prints the CPU time per wearer-night (best of interleaved rounds) and `ratio
//! night/decode` (their median), then criterion's report. At daily-summary's
//! 256 MB Lambda gives 256/1,769 of a vCPU, so a night takes about 6.9 times
//! the printed time there (docs/performance.md turns it into wearers per run).
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly on a broken fixture")]

use std::collections::HashMap;
use std::hint::black_box;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, NaiveDate, TimeDelta, Utc};
use criterion::{Criterion, criterion_group};
use vigil_domain::care::WearerProfile;
use vigil_domain::vitals::{Window, readings_in, vitals_items};
use vigil_testkit::bench_batch::{interleaved, wearer_uploads};

type Item = HashMap<String, AttributeValue>;

/// Uploads in the two days: one every 5 minutes, 60 readings each.
const UPLOADS: i64 = 2 * 24 * 12;

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
}

fn start() -> DateTime<Utc> {
    first_day().and_hms_opt(0, 0, 0).unwrap().and_utc()
}

fn profile() -> WearerProfile {
    let mut profile: WearerProfile = serde_json::from_str(include_str!("../../../events/wearer-profile.json")).unwrap();
    profile.time_zone = "UTC".into();
    profile
}

/// One wearer's two days of uploads, as the Query returns their items.
fn nights_items() -> Vec<Item> {
    // An upload's items, keyed by their span and first seq (vitals-writer's PutItems).
    wearer_uploads(42, start(), UPLOADS, 60)
        .iter()
        .flat_map(|envelope| vitals_items(envelope, TimeDelta::days(30)))
        .map(|item| vigil_aws::vitals::to_item(&item))
        .collect()
}

/// What a run does with one wearer's Query: read the items back, compute both days.
fn night(items: &[Item], profile: &WearerProfile) -> [vigil_domain::days::DaySummary; 2] {
    let owned: Vec<Item> = items.to_vec();
    let vitals: Vec<_> = owned.iter().map(|i| vigil_aws::vitals::from_item(i).unwrap()).collect();
    let day = |d: NaiveDate| daily_summary::compute(profile, d, &vitals, &[]).unwrap();
    [day(first_day()), day(first_day().succ_opt().unwrap())]
}

/// The decoding alone: the items read back and both days' readings decoded.
fn decode(items: &[Item]) -> usize {
    let owned: Vec<Item> = items.to_vec();
    let vitals: Vec<_> = owned.iter().map(|i| vigil_aws::vitals::from_item(i).unwrap()).collect();
    readings_in(&vitals, &Window { from: start(), to: start() + Duration::days(2) }).unwrap().len()
}

fn figures(items: &[Item]) {
    let profile = profile();
    let [d1, d2] = night(items, &profile);
    assert!(d1.complete && d2.complete, "{d1:?} {d2:?}");
    assert_eq!(decode(items), (UPLOADS * 60) as usize);
    let rounds = interleaved(
        15,
        || night(items, &profile),
        || {
            black_box(decode(items));
        },
    );
    println!(
        "daily-summary night: {} items, {} readings, 2 days: {:.2} ms CPU per wearer-night; ratio night/decode: {:.2}",
        items.len(),
        UPLOADS * 60,
        rounds.best * 1e3,
        rounds.ratio
    );
}

fn bench(c: &mut Criterion) {
    let items = nights_items();
    let profile = profile();
    let mut group = c.benchmark_group("daily-summary");
    group.sample_size(20);
    group.bench_function("night/2-days", |b| b.iter(|| black_box(night(&items, &profile))));
    group.bench_function("decode/2-days", |b| b.iter(|| black_box(decode(&items))));
    group.finish();
}

criterion_group!(benches, bench);
vigil_testkit::bench_main!(figures(&nights_items()); benches);
