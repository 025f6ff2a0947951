//! The vitals-writer handler with in-memory ports: one item per wearer, span
//! and envelope, idempotent under redelivery, failures reported as Lambda needs
//! them, the latest state always the newest reading, poison quarantined.

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use vigil_domain::reading::Reading;
use vigil_domain::vitals::StoredReading;
use vigil_testkit::MemoryQuarantine;
use vigil_testkit::kinesis::{at, envelope, event, record, seq};
use vigil_testkit::sinks_vitals::MemoryVitals;
use vitals_writer::Writer;
use vitals_writer::handler::RECORDS_PER_CHUNK;

type W = Writer<MemoryVitals, MemoryQuarantine>;

fn writer() -> W {
    Writer { vitals: MemoryVitals::default(), quarantine: MemoryQuarantine::default(), ttl: TimeDelta::days(30) }
}

fn reading(ts: DateTime<Utc>, seq: u64) -> Reading {
    let mut r = Reading::at(ts.fixed_offset(), seq);
    r.heart_rate_bpm = Some(60 + (seq % 40) as i64);
    r.spo2_pct = Some(97);
    r.steps = Some(2);
    r.battery_pct = Some(80);
    r.worn = Some(true);
    r
}

/// `n` readings every 5 s from `start`, seqs from `seq`.
fn readings(start: &str, seq: u64, n: u64) -> Vec<Reading> {
    (0..n).map(|k| reading(at(start) + TimeDelta::seconds(5 * k as i64), seq + k)).collect()
}

const NOW: &str = "2026-11-22T10:00:02Z";

fn run(w: &W, e: &KinesisEvent) -> (Vec<String>, serde_json::Value) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (response, metrics) = runtime.block_on(w.process(e.clone(), at(NOW)));
    let failures = response.batch_item_failures.into_iter().map(|f| f.item_identifier.unwrap()).collect();
    (failures, metrics.to_emf(0))
}

fn failures(w: &W, e: &KinesisEvent) -> Vec<String> {
    run(w, e).0
}

/// Lambda's retry: redeliver from the lowest reported record until nothing fails.
fn deliver_until_done(w: &W, e: &KinesisEvent) -> usize {
    let seqs: Vec<&str> = e.records.iter().map(|r| r.kinesis.sequence_number.as_str()).collect();
    let mut start = Some(0);
    let mut rounds = 0;
    while let Some(from) = start {
        rounds += 1;
        assert!(rounds < 20, "never completes");
        let reported = failures(w, &event(e.records[from..].to_vec()));
        for id in &reported {
            assert!(seqs.contains(&id.as_str()), "{id} is not a record of the batch");
        }
        start = reported.iter().filter_map(|id| seqs.iter().position(|s| s == id)).min();
    }
    rounds
}

/// Every stored reading, as (wearer, device, seq), sorted.
fn stored_readings(w: &W) -> Vec<(String, String, u64)> {
    let mut all: Vec<(String, String, u64)> = w
        .vitals
        .all()
        .iter()
        .flat_map(|item| {
            item.rows()
                .unwrap()
                .into_iter()
                .map(|r: StoredReading| (item.wearer_id.clone(), item.device_id.clone(), r.seq))
                .collect::<Vec<_>>()
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_batch_becomes_one_item_per_wearer_span_and_envelope() {
    let w = writer();
    let e = event(vec![
        // wearer-42: 10:59:30 .. 11:00:25 → two spans (10:30 and 11:00)
        record(1, envelope("wearer-42", readings("2026-11-22T10:59:30Z", 100, 12))),
        // wearer-7: one span
        record(2, envelope("wearer-7", readings("2026-11-22T10:58:00Z", 5, 12))),
        // wearer-42 again, the next upload → shares the 11:00 span with its own key
        record(3, envelope("wearer-42", readings("2026-11-22T11:00:30Z", 112, 6))),
    ]);
    let (failed, emf) = run(&w, &e);
    assert!(failed.is_empty(), "{failed:?}");
    let mut keys: Vec<(String, String)> = w.vitals.items.lock().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            ("wearer-42".into(), "2026-11-22T10:30Z#band-wearer-42#100".into()),
            ("wearer-42".into(), "2026-11-22T11:00Z#band-wearer-42#106".into()),
            ("wearer-42".into(), "2026-11-22T11:00Z#band-wearer-42#112".into()),
            ("wearer-7".into(), "2026-11-22T10:30Z#band-wearer-7#5".into()),
        ]
    );
    assert_eq!(stored_readings(&w).len(), 30);
    let item = w.vitals.items.lock().unwrap()[&("wearer-7".to_owned(), "2026-11-22T10:30Z#band-wearer-7#5".to_owned())]
        .clone();
    assert_eq!((item.count, item.steps, item.spo2_min), (12, Some(24), Some(97)));
    assert_eq!(item.expires_at, at("2026-12-22T10:30:00Z").timestamp());

    // The latest state is each wearer's newest reading.
    let shadow = w.vitals.latest("wearer-42").unwrap();
    assert_eq!((shadow.last_seen, shadow.seq), (at("2026-11-22T11:00:55Z"), 117));
    assert_eq!(w.vitals.latest("wearer-7").unwrap().seq, 16);

    assert_eq!(emf["RecordsIn"], 3.0);
    assert_eq!(emf["ReadingsIn"], 30.0);
    assert_eq!(emf["VitalsItems"], 4.0);
    assert_eq!(emf["WriteUnitsEstimate"], 4.0, "four items of one unit, and nothing else");
    assert_eq!(emf.get("UnprocessedRetries"), None, "a zero count is left out");
    assert_eq!(emf.get("PoisonRecords"), None);
    assert_eq!(emf["ProcessingLagMs"], 1000.0);
}

#[test]
fn a_redelivered_batch_rewrites_the_same_items() {
    let w = writer();
    let e = event(vec![
        record(1, envelope("wearer-42", readings("2026-11-22T10:59:30Z", 100, 12))),
        record(2, envelope("wearer-42", readings("2026-11-22T11:00:30Z", 112, 12))),
    ]);
    assert!(failures(&w, &e).is_empty());
    let first = w.vitals.all();
    assert!(failures(&w, &e).is_empty());
    assert_eq!(w.vitals.all(), first, "same keys, same content");
    assert_eq!(w.vitals.writes(), 2 * first.len());
}

#[test]
fn poison_is_quarantined_under_vitals_writer_and_does_not_block_the_batch() {
    let w = writer();
    let e = event(vec![
        record(1, b"\x00\xffnot an envelope".to_vec()),
        record(2, envelope("wearer-42", readings("2026-11-22T10:59:00Z", 1, 3))),
        record(3, br#"{"v":2,"other":"version"}"#.to_vec()),
    ]);
    let (failed, emf) = run(&w, &e);
    assert!(failed.is_empty());
    let q = w.quarantine.records.lock().unwrap().clone();
    assert_eq!(q.len(), 2);
    assert_eq!((q[0].function.as_str(), q[0].sequence_number.as_str()), ("vitals-writer", seq(1).as_str()));
    assert_eq!(q[0].shard_id, "shardId-000000000001");
    assert_eq!(w.vitals.count(), 1);
    assert_eq!(emf["PoisonRecords"], 2.0);
}

#[test]
fn poison_that_cannot_be_quarantined_is_reported() {
    let w = writer();
    w.quarantine.faults.fail_next(1);
    let e = event(vec![
        record(1, envelope("wearer-42", readings("2026-11-22T10:59:00Z", 1, 3))),
        record(2, b"junk".into()),
    ]);
    assert_eq!(failures(&w, &e), vec![seq(2)]);
}

#[test]
fn unprocessed_items_report_their_envelopes_and_the_retry_stores_every_reading_once() {
    let w = writer();
    let e = event(vec![
        record(1, envelope("wearer-7", readings("2026-11-22T10:59:00Z", 1, 12))),
        record(2, envelope("wearer-42", readings("2026-11-22T10:59:30Z", 100, 12))),
        record(3, envelope("wearer-7", readings("2026-11-22T11:00:00Z", 13, 12))),
    ]);
    // Items: [w7 10:59], [w42 10:59, w42 11:00], [w7 11:00]. Only the first two are written.
    *w.vitals.partial.lock().unwrap() = Some(2);
    let (failed, emf) = run(&w, &e);
    assert_eq!(failed, vec![seq(2), seq(3)]);
    assert_eq!(emf["VitalsItems"], 2.0);
    assert_eq!(emf["VitalsItemsUnwritten"], 2.0);
    // wearer-42's first item is stored, but its upload is reported: it comes again.
    assert_eq!(w.vitals.latest("wearer-42").unwrap().seq, 105);
    assert_eq!(w.vitals.latest("wearer-7").unwrap().seq, 12);

    // Lambda redelivers from record 2.
    assert!(failures(&w, &event(e.records[1..].to_vec())).is_empty());
    assert_eq!(stored_readings(&w).len(), 36);
    assert_eq!(w.vitals.count(), 4);
    assert_eq!(w.vitals.latest("wearer-7").unwrap().seq, 24);
    assert_eq!(w.vitals.latest("wearer-42").unwrap().seq, 111);
}

#[test]
fn throttled_vitals_report_every_record() {
    let w = writer();
    w.vitals.faults.fail_next(1);
    let e = event(vec![
        record(1, envelope("wearer-7", readings("2026-11-22T10:59:00Z", 1, 2))),
        record(2, b"junk".into()),
        record(3, envelope("wearer-42", readings("2026-11-22T10:59:30Z", 100, 2))),
    ]);
    assert_eq!(failures(&w, &e), vec![seq(1), seq(3)]);
    assert_eq!(w.vitals.count(), 0);
    assert!(failures(&w, &e).is_empty());
    assert_eq!(w.vitals.count(), 2);
}

#[test]
fn a_failed_chunk_stops_the_batch_and_the_rest_comes_again() {
    let w = writer();
    let n = RECORDS_PER_CHUNK as u64 * 2 + 10;
    let records: Vec<KinesisEventRecord> = (0..n)
        .map(|i| record(i + 1, envelope(&format!("wearer-{}", i % 50), readings("2026-11-22T10:59:00Z", 10 * i, 2))))
        .collect();
    let e = event(records);
    // The second chunk's write is throttled: the first chunk is stored, the third is not tried.
    w.vitals.fail_calls.lock().unwrap().push(1);
    let (failed, _) = run(&w, &e);
    assert_eq!(w.vitals.calls(), 2, "the third chunk was not written");
    assert_eq!(w.vitals.count(), RECORDS_PER_CHUNK);
    let second: Vec<String> = (RECORDS_PER_CHUNK as u64 + 1..=2 * RECORDS_PER_CHUNK as u64).map(seq).collect();
    assert_eq!(failed, second);
    // Lambda redelivers from the first record of the second chunk.
    assert_eq!(deliver_until_done(&w, &event(e.records[RECORDS_PER_CHUNK..].to_vec())), 1);
    assert_eq!(w.vitals.calls(), 4);
    assert_eq!(w.vitals.writes(), n as usize, "every item written once");
    assert_eq!(stored_readings(&w).len(), 2 * n as usize);
}

fn arb_record() -> impl Strategy<Value = (u8, u8, i64, Vec<u8>)> {
    (0u8..6, 0u8..3, 0i64..40, proptest::collection::vec(any::<u8>(), 0..32))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Arbitrary batches with arbitrary faults: every reported identifier is a
    /// real sequence number; redelivering from the lowest until nothing fails
    /// stores every reading exactly as one clean run would.
    #[test]
    fn retries_converge_to_the_clean_result(
        specs in proptest::collection::vec(arb_record(), 1..16),
        vitals_faults in 0usize..3,
        partial in proptest::option::of(0usize..6),
        quarantine_faults in 0usize..2,
    ) {
        let records: Vec<KinesisEventRecord> = specs
            .iter()
            .enumerate()
            .map(|(i, (kind, wearer, minute, junk))| {
                let data = if *kind == 0 {
                    junk.clone()
                } else {
                    // Late and out-of-order uploads: each record is some minute of the hour.
                    let start = at("2026-11-22T10:00:20Z") + TimeDelta::minutes(*minute);
                    let first = 1_000 * *minute as u64;
                    let ts = start.to_rfc3339();
                    envelope(&format!("wearer-{wearer}"), readings(&ts, first, u64::from(*kind) * 3))
                };
                record(i as u64 + 1, data)
            })
            .collect();
        let e = event(records);

        let clean = writer();
        failures(&clean, &e);

        let w = writer();
        w.vitals.faults.fail_next(vitals_faults);
        *w.vitals.partial.lock().unwrap() = partial;
        w.quarantine.faults.fail_next(quarantine_faults);
        deliver_until_done(&w, &e);

        prop_assert_eq!(w.vitals.all(), clean.vitals.all());
        prop_assert_eq!(stored_readings(&w), stored_readings(&clean));
        for wearer in ["wearer-0", "wearer-1", "wearer-2"] {
            prop_assert_eq!(w.vitals.latest(wearer), clean.vitals.latest(wearer));
        }
    }

    /// Batches of one wearer's uploads delivered in any order, late ones
    /// included, leave the latest state at the newest reading after every batch.
    #[test]
    fn shuffled_and_late_batches_never_move_the_latest_state_backwards(
        minutes in proptest::collection::vec(0i64..120, 1..12),
        seed in any::<u64>(),
    ) {
        let w = writer();
        let mut batches: Vec<KinesisEvent> = minutes
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let ts = (at("2026-11-22T08:00:00Z") + TimeDelta::minutes(*m)).to_rfc3339();
                event(vec![record(i as u64 + 1, envelope("wearer-42", readings(&ts, 100 * *m as u64, 12)))])
            })
            .collect();
        let mut rng = seed;
        for i in (1..batches.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            batches.swap(i, (rng >> 33) as usize % (i + 1));
        }
        let mut newest_so_far: Option<DateTime<Utc>> = None;
        for b in &batches {
            prop_assert!(failures(&w, b).is_empty());
            let stored = b.records.iter().map(|r| {
                let e: vigil_domain::Envelope = serde_json::from_slice(&r.kinesis.data.0).unwrap();
                e.readings.iter().map(|r| r.ts.with_timezone(&Utc)).max().unwrap()
            }).max();
            newest_so_far = newest_so_far.max(stored);
            prop_assert_eq!(w.vitals.latest("wearer-42").map(|s| s.last_seen), newest_so_far);
        }
        let newest = minutes.iter().max().map(|m| at("2026-11-22T08:00:55Z") + TimeDelta::minutes(*m));
        prop_assert_eq!(newest_so_far, newest);
    }
}

mod sample_events {
    use super::*;

    const READINGS: &[u8] = include_bytes!("../../../../events/kinesis-readings.json");
    const POISON: &[u8] = include_bytes!("../../../../events/kinesis-readings-poison.json");

    #[test]
    fn the_sample_event_stores_its_readings_and_the_poison_one_is_quarantined() {
        let w = writer();
        let e: KinesisEvent = serde_json::from_slice(READINGS).unwrap();
        assert!(failures(&w, &e).is_empty());
        // Three readings of wearer-42 in the span 09:30 UTC, from two uploads.
        let items = w.vitals.all();
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(items.iter().all(|i| i.sort_key().starts_with("2026-11-22T09:30Z#band-0001#")));
        assert_eq!(stored_readings(&w).len(), 3);
        assert_eq!(w.vitals.latest("wearer-42").unwrap().seq, 3001);

        let w = writer();
        let e: KinesisEvent = serde_json::from_slice(POISON).unwrap();
        assert!(failures(&w, &e).is_empty());
        let q = w.quarantine.records.lock().unwrap().clone();
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].sequence_number, e.records[0].kinesis.sequence_number);
    }
}
