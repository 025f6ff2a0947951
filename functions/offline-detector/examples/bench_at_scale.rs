//! The detector at scale on the local endpoint: provisions `WEARERS` wearers' rule
//! state (default 100,000) through the real state adapter, then, for a few scheduled
//! runs a minute apart, measures
//! - before: the Scan the detector used to list its candidates (the same filter and
//!   projection, on the same table, at the same instant): items read, calls, time;
//! - after: the due index's Queries (items read, calls, time) and the whole detector
//!   run through its handler (`process`: list, check, write), with ratios.
//!
//! The population: most wearers current (last reading in the minute before the first
//! run; the runs are a minute apart, so none of them is 5 minutes silent by the last
//! run, as bands uploading every 1–5 minutes would not be), 2 % silent for hours and
//! already alerted (band on the charger, left at home), `DUE` wearers (default 100)
//! whose band falls silent past the 15-minute threshold spread over the runs, and 5
//! pending falls.
//!
//! ```sh
//! bash localstack/endpoint.sh start && eval "$(bash localstack/endpoint.sh env)"
//! cargo run -p offline-detector --example bench_at_scale -- 100000 100 3
//! ```
//! (`scripts/bench-detector.sh` does this.) Arguments: wearers, due, runs.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails loudly")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, DurationRound, Utc};
use vigil_aws::state::{CHECK_INDEX, DynamoStateStore, check_shards};
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_domain::alerts::{Episode, PendingFall, RuleKind, Thresholds, WearerState, next_check};
use vigil_domain::care::WearerProfile;
use vigil_domain::ports::StateStore;
use vigil_local::provision::{Resources, provision};

/// Concurrent writers while provisioning (moto serves them from one process).
const WRITERS: usize = 32;

fn arg(n: usize, default: usize) -> usize {
    std::env::args().nth(n).map_or(default, |a| a.parse().expect("arguments: wearers due runs (integers)"))
}

/// What one listing read.
#[derive(Debug, Default, Clone, Copy)]
struct Listing {
    scanned: i64,
    returned: i64,
    calls: usize,
    took: StdDuration,
}

#[tokio::main]
async fn main() {
    let (wearers, due, runs) = (arg(1, 100_000), arg(2, 100), arg(3, 3));
    // moto answers a Scan page or an index Query by going through the whole table: at
    // 100,000 items that takes longer than the deployed 5 s attempt timeout.
    let sdk = vigil_local::endpoint::require()
        .await
        .to_builder()
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(StdDuration::from_secs(2))
                .operation_attempt_timeout(StdDuration::from_secs(600))
                .build(),
        )
        .build();
    let r = Resources::unique("bench-detector");
    provision(&sdk, &r).await.unwrap();
    let client = vigil_aws::sdk::dynamodb(&sdk);
    let store = DynamoStateStore::new(client.clone(), &r.state_table);
    let directory = DynamoWearerDirectory::new(client.clone(), &r.wearers_table, &r.caregivers_table);
    let th = Thresholds::default();
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap();

    // ---- the population, through the adapter's own writes
    let states: Vec<WearerState> = (0..wearers).map(|i| population(i, wearers, due, runs, now, &th)).collect();
    let silent = states.iter().filter(|s| s.episodes.contains_key(&RuleKind::NoData)).count();
    eprintln!(
        "provisioning {wearers} wearers' state into {} ({due} due over the runs, {silent} silent and alerted, 5 falls)",
        r.state_table
    );
    let started = Instant::now();
    let states = Arc::new(states);
    let next = Arc::new(AtomicUsize::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..WRITERS {
        let (states, next, store) = (states.clone(), next.clone(), store.clone());
        writers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(state) = states.get(i) else { break };
                assert!(store.save(state).await.unwrap(), "a fresh table has no state yet");
                if (i + 1) % 10_000 == 0 {
                    eprintln!("  {} of {} ({:.0} s)", i + 1, states.len(), started.elapsed().as_secs_f64());
                }
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    // Profiles for the wearers a run checks (no caregivers: alerts are stored, nobody is texted).
    for state in states.iter().filter(|s| s.wearer_id.starts_with("due-") || s.wearer_id.starts_with("fall-")) {
        directory.put(&profile(&state.wearer_id)).await.unwrap();
    }
    let provisioning = started.elapsed();
    eprintln!("provisioned in {:.0} s", provisioning.as_secs_f64());

    let env = [
        ("WEARERS_TABLE", r.wearers_table.as_str()),
        ("CAREGIVERS_TABLE", r.caregivers_table.as_str()),
        ("STATE_TABLE", r.state_table.as_str()),
        ("ALERTS_TABLE", r.alerts_table.as_str()),
        ("DELIVERIES_TABLE", r.deliveries_table.as_str()),
        ("QUARANTINE_BUCKET", r.quarantine_bucket.as_str()),
    ];
    let detector = offline_detector::build(&env, &sdk).await.unwrap();

    println!("# offline-detector over {wearers} wearers on {}", vigil_local::endpoint::url());
    println!(
        "provisioning: {:.0} s ({WRITERS} concurrent PutItem through DynamoStateStore::save)",
        provisioning.as_secs_f64()
    );
    println!(
        "| run | Scan (before): items read / matched / calls / ms | index (after): items read / matched / calls / ms | items read, before/after | listing time, before/after | detector run (after): checked / alerts / ms |"
    );
    println!("|---|---|---|---|---|---|");
    for run in 0..runs {
        let at = now + Duration::minutes(i64::try_from(run).unwrap());
        let scan = scan_baseline(&client, &r.state_table, at).await;
        let index = index_listing(&store, &client, &r.state_table, at).await;
        let started = Instant::now();
        let (result, _metrics) = detector.process(at).await;
        let took = started.elapsed();
        let summary = result.unwrap();
        println!(
            "| {} | {} / {} / {} / {:.0} | {} / {} / {} / {:.0} | {:.0}× | {:.0}× | {} / {} / {:.0} |",
            run + 1,
            scan.scanned,
            scan.returned,
            scan.calls,
            ms(scan.took),
            index.scanned,
            index.returned,
            index.calls,
            ms(index.took),
            scan.scanned as f64 / index.scanned.max(1) as f64,
            ms(scan.took) / ms(index.took).max(0.001),
            summary.checked,
            summary.alerts_raised,
            ms(took),
        );
    }
    eprintln!("done; the tables ({}) stay on the endpoint until it is restarted", r.state_table);
}

fn ms(d: StdDuration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Wearer `i` of `n` at `now`: `due` of them fall silent so that their no_data check
/// comes due between 2 minutes before the first run and the last run; 2 % have been
/// silent for hours (alerted); 5 have a fall in its cancel window; the rest are current.
fn population(i: usize, n: usize, due: usize, runs: usize, now: DateTime<Utc>, th: &Thresholds) -> WearerState {
    let secs = |s: i64| Duration::seconds(s);
    let spread = |k: usize, of: usize, over: i64| i64::try_from(k).unwrap() * over / i64::try_from(of.max(1)).unwrap();
    let no_data = Duration::minutes(i64::from(th.no_data_min));
    let mut state = if i < due {
        // Due from 2 minutes before the first run to the last run.
        let window = 60 * (i64::try_from(runs).unwrap() + 1);
        let seen = now - no_data - secs(120) + secs(spread(i, due, window));
        WearerState { last_seen: Some(seen), ..WearerState::new(format!("due-{i:06}")) }
    } else if i < due + 5 {
        let fall = PendingFall { at: now - secs(10), reading: "r".into(), location: None };
        WearerState { last_seen: Some(fall.at), pending_falls: vec![fall], ..WearerState::new(format!("fall-{i:06}")) }
    } else if i.is_multiple_of(50) {
        let last = now - Duration::hours(3) - secs(spread(i, n, 3600));
        let episode =
            Episode { start: last, last: last + no_data, readings: Vec::new(), value: Some(15.0), alerted: true };
        WearerState {
            last_seen: Some(last),
            episodes: [(RuleKind::NoData, episode)].into(),
            last_alert: [(RuleKind::NoData, last + no_data)].into(),
            ..WearerState::new(format!("silent-{i:06}"))
        }
    } else {
        let seen = now - secs(spread(i, n, 60));
        WearerState { last_seen: Some(seen), last_movement: Some(seen), ..WearerState::new(format!("wearer-{i:06}")) }
    };
    state.next_check = next_check(&state, th);
    state
}

fn profile(id: &str) -> WearerProfile {
    WearerProfile {
        snoozes: Default::default(),
        escalation: Default::default(),
        wearer_id: id.into(),
        name: "Bench Wearer".into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers: Vec::new(),
    }
}

/// The detector's former listing: a filtered Scan of the whole state table (cutoff
/// `NO_DATA_SCAN_AFTER_MIN`, 5 minutes, before `now`), as `needing_check` ran it.
async fn scan_baseline(client: &aws_sdk_dynamodb::Client, table: &str, now: DateTime<Utc>) -> Listing {
    let cutoff = vigil_aws::dynamo::timestamp(now - Duration::minutes(5));
    let started = Instant::now();
    let mut listing = Listing::default();
    let mut pages = client
        .scan()
        .table_name(table)
        .filter_expression("last_seen < :cutoff OR pending_falls = :true")
        .expression_attribute_values(":cutoff", AttributeValue::S(cutoff))
        .expression_attribute_values(":true", AttributeValue::Bool(true))
        .projection_expression("wearer_id")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        listing.scanned += i64::from(page.scanned_count());
        listing.returned += i64::from(page.count());
        listing.calls += 1;
    }
    listing.took = started.elapsed();
    listing
}

/// The index's Queries as `DynamoStateStore::due_for_check` makes them, counted (one
/// shard after another), and timed as `due_for_check` runs them (all shards at once).
async fn index_listing(
    store: &DynamoStateStore,
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    now: DateTime<Utc>,
) -> Listing {
    let started = Instant::now();
    let found = store.due_for_check(now).await.unwrap();
    let took = started.elapsed();
    let mut listing = Listing::default();
    for shard in check_shards() {
        let mut pages = client
            .query()
            .table_name(table)
            .index_name(CHECK_INDEX)
            .key_condition_expression("check_shard = :shard AND check_at <= :now")
            .expression_attribute_values(":shard", AttributeValue::S(shard))
            .expression_attribute_values(":now", AttributeValue::S(vigil_aws::dynamo::timestamp(now)))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.unwrap();
            listing.scanned += i64::from(page.scanned_count());
            listing.returned += i64::from(page.count());
            listing.calls += 1;
        }
    }
    assert_eq!(usize::try_from(listing.returned).unwrap(), found.len(), "the same wearers, counted");
    listing.took = took;
    listing
}
