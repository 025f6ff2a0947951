//! The pseudonyms, the curated row and the lake keys.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use sha2::Sha256;
use vigil_domain::envelope::{Envelope, ReadingId};
use vigil_domain::reading::{Activity, Location, Reading, SleepStage};

use crate::*;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn envelope(readings: Vec<Reading>) -> Envelope {
    Envelope {
        v: 1,
        batch_id: "batch-7f3a".into(),
        part: 0,
        parts: 1,
        device_id: "band-0001".into(),
        wearer_id: "wearer-42".into(),
        app_version: "1.4.2".into(),
        received_at: DateTime::parse_from_rfc3339("2026-11-22T10:00:00.900Z").unwrap().with_timezone(&Utc),
        readings,
    }
}

fn full_reading() -> Reading {
    let mut r = Reading::at(DateTime::parse_from_rfc3339("2026-11-23T00:30:00+01:00").unwrap(), 3001);
    r.heart_rate_bpm = Some(96);
    r.spo2_pct = Some(97);
    r.skin_temp_c = Some(34.25);
    r.steps = Some(3);
    r.activity = Some(Activity::Light);
    r.sleep_stage = Some(SleepStage::Rem);
    r.fall_detected = Some(true);
    r.fall_cancelled = Some(false);
    r.sos = Some(true);
    r.battery_pct = Some(81);
    r.worn = Some(true);
    r.location = Some(Location { lat: 40.4168, lon: -3.7038, accuracy_m: Some(8.0) });
    r
}

#[test]
fn a_short_key_is_refused_and_debug_never_shows_the_key() {
    assert_eq!(Pseudonymizer::new(&KEY[..31]).unwrap_err(), WeakKey { len: 31 });
    let p = Pseudonymizer::new(KEY).unwrap();
    let shown = format!("{p:?}");
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
    assert!(shown.contains("redacted"));
}

#[test]
fn pseudonyms_are_32_hex_chars_stable_and_depend_on_the_key() {
    let p = Pseudonymizer::new(KEY).unwrap();
    let w = p.wearer("wearer-42");
    assert_eq!(w.as_str().len(), 32);
    assert!(w.as_str().bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(w, Pseudonymizer::new(KEY).unwrap().wearer("wearer-42"));
    assert_ne!(w, p.wearer("wearer-43"));
    let other = Pseudonymizer::new(b"another key of at least 32 bytes!").unwrap();
    assert_ne!(w, other.wearer("wearer-42"));
    let id = ReadingId::new("band-0001", 3001);
    assert_eq!(p.reading(id).as_str().len(), 32);
    assert_ne!(p.reading(id), other.reading(id));
    // Not the plain reading id, which anyone can recompute from a guessed device.
    assert_ne!(p.reading(id), id.to_string().as_str());
}

#[test]
fn pseudonyms_are_hmac_sha256_with_a_kind_prefix() {
    // Fixed vector: a change of algorithm or prefix would silently split the
    // warehouse's history in two.
    let p = Pseudonymizer::new(KEY).unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(KEY).unwrap();
    mac.update(b"vigil/wearer/v1\0wearer-42");
    assert_eq!(p.wearer("wearer-42"), hex::encode(&mac.finalize().into_bytes()[..16]).as_str());
    assert_eq!(serde_json::to_value(p.wearer("wearer-42")).unwrap(), p.wearer("wearer-42").to_string());
}

#[test]
fn a_row_carries_the_measurements_in_utc_and_no_identifier() {
    let p = Pseudonymizer::new(KEY).unwrap();
    let e = envelope(vec![full_reading()]);
    let row = p.row(&e, &e.readings[0]);
    assert_eq!(row.ts, DateTime::parse_from_rfc3339("2026-11-22T23:30:00Z").unwrap().with_timezone(&Utc));
    assert_eq!(row.event_date(), NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
    assert_eq!((row.heart_rate_bpm, row.spo2_pct, row.steps, row.battery_pct), (Some(96), Some(97), Some(3), Some(81)));
    assert_eq!(row.reading_key, p.reading(ReadingId::new("band-0001", 3001)));
    assert_eq!(row.wearer_pseudonym, p.wearer("wearer-42"));

    let json = serde_json::to_value(row).unwrap();
    let fields: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let mut columns = COLUMNS.to_vec();
    columns.sort_unstable();
    let mut sorted = fields.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, columns, "CuratedRow and COLUMNS must agree");
    let text = json.to_string();
    for secret in ["band-0001", "wearer-42", "batch-7f3a", "40.4168", "-3.7038", "1.4.2", "+01:00", "3001"] {
        assert!(!text.contains(secret), "{secret} leaked into {text}");
    }
    assert_eq!(json["activity"], Activity::Light.as_str());
    assert_eq!(json["sleep_stage"], SleepStage::Rem.as_str());
}

#[test]
fn an_integer_outside_int32_becomes_null() {
    let p = Pseudonymizer::new(KEY).unwrap();
    let mut r = full_reading();
    r.steps = Some(i64::from(i32::MAX) + 1);
    let e = envelope(vec![r]);
    assert_eq!(p.row(&e, &e.readings[0]).steps, None);
}

#[test]
fn keys_follow_the_documented_layouts() {
    let arrival = DateTime::parse_from_rfc3339("2026-11-22T09:05:00.900Z").unwrap().with_timezone(&Utc);
    assert_eq!(
        raw_key("shardId-000000000001", "4965", "4971", arrival),
        "raw/dt=2026-11-22/hh=09/shardId-000000000001/4965-4971.ndjson.gz"
    );
    let date = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
    assert_eq!(
        curated_key(date, "shardId-000000000001", "4965", "4971"),
        "curated/readings/dt=2026-11-21/shardId-000000000001-4965-4971.parquet"
    );
    assert_eq!(
        raw_key("../x", "", "1/2", arrival),
        "raw/dt=2026-11-22/hh=09/___x/_-1_2.ndjson.gz",
        "an odd event cannot move the key"
    );
}

proptest! {
    #[test]
    fn keys_are_deterministic_and_distinct_per_batch(
        shard in "shardId-[0-9]{12}",
        first in 0u128..u128::MAX / 2,
        len in 0u128..10_000,
        secs in 1_600_000_000i64..2_000_000_000,
    ) {
        let arrival = DateTime::from_timestamp(secs, 0).unwrap();
        let (a, b) = (format!("{first:056}"), format!("{:056}", first + len));
        let key = raw_key(&shard, &a, &b, arrival);
        prop_assert_eq!(&key, &raw_key(&shard, &a, &b, arrival));
        prop_assert_ne!(&key, &raw_key(&shard, &a, &format!("{:056}", first + len + 1), arrival));
        let expected_prefix = format!("raw/dt={}/hh={}/", arrival.format("%Y-%m-%d"), arrival.format("%H"));
        prop_assert!(key.starts_with(&expected_prefix));
        prop_assert_eq!(key.matches('/').count(), 4);
        let date = arrival.date_naive();
        prop_assert_eq!(curated_key(date, &shard, &a, &b), curated_key(date, &shard, &a, &b));
    }

    #[test]
    fn pseudonyms_never_repeat_the_identifier(id in "[a-z0-9-]{1,40}", key in proptest::collection::vec(any::<u8>(), 32..64)) {
        let p = Pseudonymizer::new(&key).unwrap();
        let w = p.wearer(&id);
        prop_assert_eq!(w.as_str().len(), 32);
        prop_assert!(id.len() < 8 || !w.as_str().contains(&id));
        prop_assert_eq!(&w, &p.wearer(&id));
    }
}

#[test]
fn a_readings_file_stores_the_key_gzip_and_every_other_column_snappy_and_reads_back() {
    use parquet::basic::Compression;
    let p = Pseudonymizer::new(KEY).unwrap();
    let readings: Vec<Reading> = (0..2_000).map(|seq| Reading { seq, ..full_reading() }).collect();
    let e = envelope(readings);
    let mut writer = CuratedWriter::new();
    for r in &e.readings {
        writer.push(&p.row(&e, r)).unwrap();
    }
    let file = writer.finish().unwrap().remove(0);
    let reader = reader(file.body.clone()).unwrap();
    let metadata = reader.metadata().clone();
    for column in metadata.row_group(0).columns() {
        let (name, compression) = (column.column_path().string(), column.compression());
        if name == "reading_key" {
            assert!(matches!(compression, Compression::GZIP(_)), "{name}: {compression:?}");
        } else {
            assert_eq!(compression, Compression::SNAPPY, "{name}");
        }
    }
    // The keys read back as written: 2,000 distinct hex strings.
    let keys: std::collections::BTreeSet<String> = reader
        .build()
        .unwrap()
        .flat_map(|batch| {
            let batch = batch.unwrap();
            let keys = batch.column(0).as_any().downcast_ref::<arrow_array::StringArray>().unwrap().clone();
            keys.iter().map(|k| k.unwrap().to_owned()).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(keys.len(), 2_000);
    assert!(keys.contains(p.reading(ReadingId::new("band-0001", 7)).as_str()));
    // GZIP stores a hex digit in about half a byte: the key column is well under its 36
    // bytes a row uncompressed (Snappy's size for it).
    let key_bytes: i64 = metadata.row_groups().iter().map(|g| g.column(0).compressed_size()).sum();
    assert!(key_bytes < 2_000 * 24, "{key_bytes} bytes for 2,000 keys");
}
