//! The raw-archiver handler with in-memory ports: the raw archive holds every
//! record as received, the curated files one pseudonymized row per reading, a
//! redelivered batch rewrites identical bytes, and a failed write reports the
//! batch's first record.

use crate::common::*;
use aws_lambda_events::event::kinesis::KinesisEvent;
use proptest::prelude::*;
use raw_archiver::Archiver;
use vigil_curated::{PARQUET_CONTENT_TYPE, RAW_CONTENT_TYPE, curated_key, raw_key};
use vigil_domain::ReadingId;
use vigil_domain::ports::STATUS_PENDING;
use vigil_testkit::MemoryQuarantine;
use vigil_testkit::sinks_raw::{MemoryCuratedFiles, MemoryObjectStore};

type Arch = Archiver<MemoryObjectStore, MemoryCuratedFiles, MemoryQuarantine>;

const NOW: &str = "2026-11-22T10:00:02Z";
const IDS: &[&str] = &["wearer-42", "wearer-7", "band-0001", "band-0002", "batch-band"];

fn archiver() -> Arch {
    Archiver {
        objects: MemoryObjectStore::default(),
        registry: MemoryCuratedFiles::default(),
        quarantine: MemoryQuarantine::default(),
        pseudonymizer: pseudonymizer(),
    }
}

fn failures(a: &Arch, e: &KinesisEvent) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (response, _) = runtime.block_on(a.process(e.clone(), at(NOW)));
    response.batch_item_failures.into_iter().map(|f| f.item_identifier.unwrap()).collect()
}

fn raw_key_of(e: &KinesisEvent) -> String {
    let (first, last) = (e.records.first().unwrap(), e.records.last().unwrap());
    raw_key(
        "shardId-000000000001",
        &first.kinesis.sequence_number,
        &last.kinesis.sequence_number,
        first.kinesis.approximate_arrival_timestamp.0,
    )
}

fn mixed_batch() -> KinesisEvent {
    event(vec![
        record(1, envelope(vec![reading("2026-11-22T10:59:50+01:00", 1), reading("2026-11-22T10:59:55+01:00", 2)])),
        record(2, b"\x00\xffnot an envelope".to_vec()),
        record(3, b"{\"v\":2,\"other\":\"version\"}".to_vec()),
        record(4, b"{\n  \"pretty\": true\n}".to_vec()),
        record(5, envelope_for("band-0002", "wearer-7", vec![reading("2026-11-22T11:00:00+01:00", 1)])),
    ])
}

#[test]
fn every_record_is_archived_raw_exactly_as_received_in_order() {
    let a = archiver();
    let e = mixed_batch();
    assert!(failures(&a, &e).is_empty());
    let key = raw_key_of(&e);
    assert!(key.starts_with("raw/dt=2026-11-22/hh=10/shardId-000000000001/"), "{key}");
    let object = a.objects.get(&key).expect("raw object at its key");
    assert_eq!(object.content_type, RAW_CONTENT_TYPE);
    assert_eq!(&object.body[..2], b"\x1f\x8b", "gzip");
    assert_eq!(&object.body[4..8], &[0, 0, 0, 0], "mtime 0");
    let lines = raw_lines(&object.body);
    assert_eq!(lines.len(), e.records.len());
    for (line, record) in lines.iter().zip(&e.records) {
        assert_eq!(line.data, record.kinesis.data.0, "byte for byte");
        assert_eq!(line.sequence_number, record.kinesis.sequence_number);
        assert_eq!(line.shard_id, "shardId-000000000001");
        assert_eq!(line.partition_key, "wearer-42");
        assert_eq!(line.approximate_arrival, "2026-11-22T10:00:01.250Z");
    }
    let embedded: Vec<bool> = lines.iter().map(|l| l.embedded).collect();
    assert_eq!(embedded, [true, false, true, false, true], "JSON on one line verbatim, the rest base64");
}

#[test]
fn readings_are_curated_once_pseudonymized_and_registered_pending() {
    let a = archiver();
    let e = mixed_batch();
    assert!(failures(&a, &e).is_empty());
    let key =
        curated_key(chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(), "shardId-000000000001", &seq(1), &seq(5));
    assert_eq!(a.objects.keys("curated/"), vec![key.clone()]);
    let object = a.objects.get(&key).unwrap();
    assert_eq!(object.content_type, PARQUET_CONTENT_TYPE);
    let (rows, _) = read_curated(&object.body, IDS);
    let p = pseudonymizer();
    let keys: Vec<&str> = rows.iter().map(|r| r.reading_key.as_str()).collect();
    assert_eq!(
        keys,
        [
            p.reading(ReadingId::new("band-0001", 1)).to_string(),
            p.reading(ReadingId::new("band-0001", 2)).to_string(),
            p.reading(ReadingId::new("band-0002", 1)).to_string(),
        ]
    );
    assert_eq!(rows[0].wearer_pseudonym, p.wearer("wearer-42").to_string());
    assert_eq!(rows[2].wearer_pseudonym, p.wearer("wearer-7").to_string());
    assert_eq!(rows[0].ts_micros, at("2026-11-22T09:59:50Z").timestamp_micros());
    assert_eq!(rows[0].received_at_micros, at("2026-11-22T10:00:00.900Z").timestamp_micros());
    assert_eq!((rows[0].heart_rate_bpm, rows[0].skin_temp_c), (Some(71), Some(33.5)));
    assert_eq!(rows[0].activity.as_deref(), Some("light"));
    assert_eq!(rows[0].sos, None);

    let registered = a.registry.all();
    assert_eq!(registered.len(), 1);
    let r = &registered[0];
    assert_eq!((r.status.as_str(), r.file.key.as_str(), r.file.rows), (STATUS_PENDING, key.as_str(), 3));
    assert_eq!(r.file.bytes, object.body.len());
    assert_eq!((r.file.min_ts, r.file.max_ts), (at("2026-11-22T09:59:50Z"), at("2026-11-22T10:00:00Z")));
    assert_eq!(r.file.created_at, at(NOW));
}

#[test]
fn poison_is_archived_quarantined_and_not_reported() {
    let a = archiver();
    let e = mixed_batch();
    assert!(failures(&a, &e).is_empty());
    let q = a.quarantine.records.lock().unwrap().clone();
    assert_eq!(q.len(), 3);
    assert!(q.iter().all(|r| r.function == "raw-archiver"));
    assert_eq!(q[0].sequence_number, seq(2));
    assert_eq!(q[0].data, b"\x00\xffnot an envelope");
}

#[test]
fn poison_that_cannot_be_quarantined_is_reported_and_the_rest_is_stored() {
    let a = archiver();
    a.quarantine.faults.fail_next(1);
    assert_eq!(failures(&a, &mixed_batch()), vec![seq(2)]);
    assert_eq!(a.objects.keys("raw/").len(), 1);
    assert_eq!(a.registry.all().len(), 1);
}

#[test]
fn a_redelivered_batch_rewrites_identical_bytes_and_never_resets_a_loaded_file() {
    let a = archiver();
    let e = mixed_batch();
    assert!(failures(&a, &e).is_empty());
    let first = a.objects.snapshot();
    let key = a.registry.all()[0].file.key.clone();
    a.registry.mark(&key, "loaded");

    // Another container, a minute later.
    let b = archiver();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(b.process(e.clone(), at("2026-11-22T10:01:02Z")));
    assert_eq!(b.objects.snapshot(), first, "same keys, same bytes, from any container");

    assert!(failures(&a, &e).is_empty());
    assert_eq!(a.objects.snapshot(), first);
    let registered = a.registry.all();
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].status, "loaded");
    assert_eq!(registered[0].file.created_at, at(NOW));
}

#[test]
fn an_s3_failure_on_the_raw_object_reports_the_first_record_and_the_retry_stores_everything() {
    let a = archiver();
    let e = mixed_batch();
    a.objects.faults.fail_next(1);
    assert_eq!(failures(&a, &e), vec![seq(1)], "the whole batch is one object: its first record");
    assert!(a.objects.snapshot().is_empty() && a.registry.all().is_empty());
    assert!(failures(&a, &e).is_empty());
    assert_eq!(a.objects.keys("raw/").len(), 1);
    assert_eq!(a.registry.all().len(), 1);
}

#[test]
fn an_s3_failure_on_a_curated_file_reports_the_first_record_and_registers_nothing() {
    let a = archiver();
    let e = mixed_batch();
    *a.objects.failing_prefix.lock().unwrap() = Some("curated/".into());
    assert_eq!(failures(&a, &e), vec![seq(1)]);
    assert_eq!(a.objects.keys("raw/").len(), 1, "the raw archive went first");
    assert!(a.registry.all().is_empty(), "a file is registered only once stored");
    *a.objects.failing_prefix.lock().unwrap() = None;
    assert!(failures(&a, &e).is_empty());
    assert_eq!(a.registry.all().len(), 1);
}

#[test]
fn a_registry_failure_reports_the_first_record() {
    let a = archiver();
    a.registry.faults.fail_next(1);
    let e = mixed_batch();
    assert_eq!(failures(&a, &e), vec![seq(1)]);
    assert!(failures(&a, &e).is_empty());
    assert_eq!(a.registry.all().len(), 1);
}

#[test]
fn a_reading_sent_twice_in_a_batch_is_curated_once() {
    let a = archiver();
    let r = reading("2026-11-22T10:59:50+01:00", 1);
    let e = event(vec![
        record(1, envelope(vec![r.clone()])),
        record(2, envelope(vec![r, reading("2026-11-22T10:59:55+01:00", 2)])),
    ]);
    assert!(failures(&a, &e).is_empty());
    let key = a.objects.keys("curated/")[0].clone();
    let (rows, _) = read_curated(&a.objects.get(&key).unwrap().body, IDS);
    assert_eq!(rows.len(), 2);
    assert_eq!(raw_lines(&a.objects.get(&raw_key_of(&e)).unwrap().body).len(), 2, "raw keeps both records");
}

#[test]
fn readings_go_to_the_file_of_their_event_date_in_utc() {
    let a = archiver();
    // A phone that was offline: yesterday's readings arrive with today's.
    let e = event(vec![record(
        1,
        envelope(vec![
            reading("2026-11-21T23:59:59+00:00", 1),
            reading("2026-11-22T00:30:00+01:00", 2), // 23:30 UTC on the 21st
            reading("2026-11-22T00:00:00+00:00", 3),
        ]),
    )]);
    assert!(failures(&a, &e).is_empty());
    let keys = a.objects.keys("curated/");
    assert_eq!(
        keys,
        vec![
            format!("curated/readings/dt=2026-11-21/shardId-000000000001-{}-{}.parquet", seq(1), seq(1)),
            format!("curated/readings/dt=2026-11-22/shardId-000000000001-{}-{}.parquet", seq(1), seq(1)),
        ]
    );
    let rows: Vec<usize> = a.registry.all().iter().map(|r| r.file.rows).collect();
    assert_eq!(rows, [2, 1]);
}

#[test]
fn a_large_batch_is_chunked_and_its_row_groups_bounded() {
    let a = archiver();
    // 5,500 records × 12 readings: several decode chunks, more than one row group.
    let records = (0..5_500u64)
        .map(|i| {
            let readings = (0..12).map(|k| reading("2026-11-22T10:00:00+01:00", i * 12 + k)).collect();
            record(i + 1, envelope_for(&format!("band-{:04}", i % 50), &format!("wearer-{}", i % 50), readings))
        })
        .collect();
    let e = event(records);
    assert!(failures(&a, &e).is_empty());
    let key = a.objects.keys("curated/")[0].clone();
    let (rows, row_groups) = read_curated(&a.objects.get(&key).unwrap().body, &[]);
    assert_eq!(rows.len(), 66_000);
    assert_eq!(row_groups, 2, "65,536 rows at most per row group");
    assert_eq!(raw_lines(&a.objects.get(&raw_key_of(&e)).unwrap().body).len(), 5_500);
}

#[test]
fn an_empty_batch_writes_nothing() {
    let a = archiver();
    assert!(failures(&a, &event(vec![])).is_empty());
    assert!(a.objects.snapshot().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary batches and faults: never a panic; a reported identifier is a
    /// real sequence number; redelivering from the lowest reported record until
    /// nothing is reported leaves every record in a raw object and every
    /// distinct reading in exactly one curated row of the last delivery's files.
    #[test]
    fn failures_are_real_and_retries_converge(
        specs in proptest::collection::vec((0u8..3, proptest::collection::vec(any::<u8>(), 0..48), 0u64..4), 1..10),
        put_faults in 0usize..3,
        registry_faults in 0usize..2,
        quarantine_faults in 0usize..2,
    ) {
        let a = archiver();
        a.objects.faults.fail_next(put_faults);
        a.registry.faults.fail_next(registry_faults);
        a.quarantine.faults.fail_next(quarantine_faults);
        let e = event(specs.iter().enumerate().map(|(i, (kind, junk, s))| {
            let data = match kind {
                0 => junk.clone(),
                _ => envelope(vec![reading("2026-11-22T10:59:50+01:00", *s)]),
            };
            record(i as u64 + 1, data)
        }).collect());
        let seqs: Vec<String> = e.records.iter().map(|r| r.kinesis.sequence_number.clone()).collect();
        let mut from = Some(0);
        let mut rounds = 0;
        while let Some(start) = from {
            rounds += 1;
            prop_assert!(rounds < 10);
            let retry = event(e.records[start..].to_vec());
            let reported = failures(&a, &retry);
            for id in &reported {
                prop_assert!(seqs[start..].contains(id));
            }
            from = reported.iter().filter_map(|id| seqs.iter().position(|s| s == id)).min();
        }
        let archived: std::collections::BTreeSet<String> = a.objects.keys("raw/").iter()
            .flat_map(|k| raw_lines(&a.objects.get(k).unwrap().body))
            .map(|l| l.sequence_number).collect();
        prop_assert_eq!(archived.len(), seqs.len());
        let distinct: std::collections::BTreeSet<u64> =
            specs.iter().filter(|(kind, _, _)| *kind != 0).map(|(_, _, s)| *s).collect();
        let registered = a.registry.all();
        for r in &registered {
            let (rows, _) = read_curated(&a.objects.get(&r.file.key).unwrap().body, IDS);
            let unique: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.reading_key.as_str()).collect();
            prop_assert_eq!(unique.len(), rows.len(), "one row per reading in a file");
        }
        if !distinct.is_empty() {
            prop_assert!(!registered.is_empty());
        }
    }
}

mod sample_events {
    use super::*;

    const READINGS: &[u8] = include_bytes!("../../../../events/kinesis-readings.json");
    const POISON: &[u8] = include_bytes!("../../../../events/kinesis-readings-poison.json");

    #[test]
    fn the_sample_events_archive_every_record_and_curate_every_reading() {
        let a = archiver();
        let e: KinesisEvent = serde_json::from_slice(READINGS).unwrap();
        assert!(failures(&a, &e).is_empty());
        let raw = a.objects.keys("raw/");
        assert_eq!(
            raw,
            vec![format!(
                "raw/dt=2026-11-22/hh=10/shardId-000000000001/{}-{}.ndjson.gz",
                e.records[0].kinesis.sequence_number, e.records[1].kinesis.sequence_number
            )]
        );
        let lines = raw_lines(&a.objects.get(&raw[0]).unwrap().body);
        assert_eq!(
            lines.iter().map(|l| l.data.clone()).collect::<Vec<_>>(),
            e.records.iter().map(|r| r.kinesis.data.0.clone()).collect::<Vec<_>>()
        );
        let (rows, _) = read_curated(
            &a.objects.get(&a.objects.keys("curated/")[0]).unwrap().body,
            &["wearer-42", "band-0001", "40.4168"],
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.iter().filter(|r| r.sos == Some(true)).count(), 1);

        let a = archiver();
        let e: KinesisEvent = serde_json::from_slice(POISON).unwrap();
        assert!(failures(&a, &e).is_empty());
        assert_eq!(a.quarantine.records.lock().unwrap().len(), 1);
        let lines = raw_lines(&a.objects.get(&a.objects.keys("raw/")[0]).unwrap().body);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].data, e.records[0].kinesis.data.0);
    }
}
