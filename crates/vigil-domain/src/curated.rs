//! The data lake written by raw-archiver, and the de-identified data set the
//! warehouse loads: storage key layouts, the keyed pseudonyms, the curated row,
//! and the two ports that store them.
//!
//! # Raw archive
//!
//! Every record of every batch, exactly as it came off the stream (poison too:
//! it is the audit trail and the source for replay), gzip NDJSON under
//! [`raw_key`]: `raw/dt=YYYY-MM-DD/hh=HH/<shard>/<first-seq>-<last-seq>.ndjson.gz`,
//! dated by the arrival on the stream of the batch's first record. It holds
//! personal data: the bucket is encrypted and private, and only replay and audit
//! read it. The line format is documented in raw-archiver's `raw` module.
//!
//! # Curated data set (`curated/readings/`)
//!
//! Parquet (Snappy, row groups of at most 65,536 rows), one file per shard, batch
//! and event date under [`curated_key`]:
//! `curated/readings/dt=YYYY-MM-DD/<shard>-<first-seq>-<last-seq>.parquet`, where
//! the date is the readings' **event** date in UTC, so a phone that uploads a day
//! late still lands its readings under the day they were taken. One row per
//! distinct reading of the batch:
//!
//! | column             | Parquet (Arrow)                         | Redshift          | null | meaning |
//! |--------------------|------------------------------------------|-------------------|------|---------|
//! | `reading_key`      | BYTE_ARRAY UTF8 (Utf8)                   | CHAR(32)          | no   | [`Pseudonymizer::reading`] of the reading id: the MERGE key |
//! | `wearer_pseudonym` | BYTE_ARRAY UTF8 (Utf8)                   | CHAR(32)          | no   | [`Pseudonymizer::wearer`] of the wearer id |
//! | `ts`               | INT64 TIMESTAMP(MICROS, UTC) (Timestamp µs "UTC") | TIMESTAMPTZ | no | event time: when the band took the reading |
//! | `received_at`      | INT64 TIMESTAMP(MICROS, UTC)             | TIMESTAMPTZ       | no   | when ingest accepted the upload |
//! | `heart_rate_bpm`   | INT32 (Int32)                            | INTEGER           | yes  | beats per minute |
//! | `spo2_pct`         | INT32 (Int32)                            | INTEGER           | yes  | blood oxygen saturation, % |
//! | `skin_temp_c`      | DOUBLE (Float64)                         | DOUBLE PRECISION  | yes  | skin temperature, °C |
//! | `steps`            | INT32 (Int32)                            | INTEGER           | yes  | steps since the previous reading |
//! | `activity`         | BYTE_ARRAY UTF8 (Utf8)                   | VARCHAR(16)       | yes  | `rest`, `light`, `moderate`, `vigorous` |
//! | `sleep_stage`      | BYTE_ARRAY UTF8 (Utf8)                   | VARCHAR(8)        | yes  | `awake`, `light`, `deep`, `rem` |
//! | `fall_detected`    | BOOLEAN                                  | BOOLEAN           | yes  | the band detected a fall |
//! | `fall_cancelled`   | BOOLEAN                                  | BOOLEAN           | yes  | the wearer pressed "I'm OK" after a fall |
//! | `sos`              | BOOLEAN                                  | BOOLEAN           | yes  | the SOS button was pressed |
//! | `battery_pct`      | INT32 (Int32)                            | INTEGER           | yes  | the band's battery, % |
//! | `worn`             | BOOLEAN                                  | BOOLEAN           | yes  | the band was on the wrist |
//!
//! Deliberately absent: the device id, the wearer id, names, phone numbers, the
//! location, the upload's batch id and app version, and the reading's UTC offset
//! (an offset hints where the wearer is). Null means the band did not report the
//! measurement. Integers are as the app sent them: ingest bounds every one of
//! them far inside INT32 (`reading::limits`), so a value outside it can only come
//! from an envelope ingest never wrote, and is stored as null.
//!
//! A reading appears once per file, but may appear in more than one file: a batch
//! that Lambda retries from a later record, or splits, gets new keys. The loader
//! MERGEs on `reading_key`, which is the same for the same reading everywhere.
//!
//! # Pseudonyms
//!
//! HMAC-SHA256 under a secret key (`PSEUDONYM_KEY`, from configuration, never in
//! code), truncated to 128 bits, lower-case hex (32 characters), with a distinct
//! prefix per kind so a wearer's pseudonym can never equal a reading's. Stable
//! for as long as the key is: the warehouse can follow one wearer over time
//! without learning who it is. The reading key is keyed too, not the plain
//! reading id: the plain id is a hash of the device id and the band's counter,
//! both guessable, so the warehouse could otherwise confirm a guessed device.
//! Rotating the key changes every pseudonym: the warehouse must then be rebuilt.
//!
//! # Registration
//!
//! Each curated file is registered for the warehouse loader once it is stored
//! ([`CuratedFileRegistry`]), as [`STATUS_PENDING`] with its row count, size and
//! time range; a redelivered batch never resets a file already loaded.

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::envelope::{Envelope, ReadingId};
use crate::ports::StoreError;
use crate::reading::{Activity, Reading, SleepStage};

/// The curated columns, in file order (see the module docs).
pub const COLUMNS: [&str; 15] = [
    "reading_key",
    "wearer_pseudonym",
    "ts",
    "received_at",
    "heart_rate_bpm",
    "spo2_pct",
    "skin_temp_c",
    "steps",
    "activity",
    "sleep_stage",
    "fall_detected",
    "fall_cancelled",
    "sos",
    "battery_pct",
    "worn",
];

/// The most rows in one Parquet row group of a curated file.
pub const MAX_ROW_GROUP_ROWS: usize = 65_536;

/// Status of a registered curated file the warehouse has not loaded yet.
pub const STATUS_PENDING: &str = "pending";

/// Content type of a raw archive object (gzip of NDJSON; deliberately not a
/// `Content-Encoding`, so downloads keep the bytes as stored).
pub const RAW_CONTENT_TYPE: &str = "application/gzip";

/// Content type of a curated Parquet file.
pub const PARQUET_CONTENT_TYPE: &str = "application/vnd.apache.parquet";

/// Shortest pseudonym key accepted: 256 bits, HMAC-SHA256's full strength.
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pseudonym key has {len} bytes; at least {MIN_KEY_BYTES} are required")]
pub struct WeakKey {
    pub len: usize,
}

/// A keyed pseudonym: 32 lower-case hex characters (128 bits of HMAC-SHA256).
/// Fixed size and `Copy`, so a batch of rows allocates nothing for them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pseudonym([u8; 32]);

impl Pseudonym {
    pub fn as_str(&self) -> &str {
        // Only ever hex digits (see `Pseudonymizer::tagged`).
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for Pseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Pseudonym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pseudonym({})", self.as_str())
    }
}

impl PartialEq<str> for Pseudonym {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Pseudonym {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for Pseudonym {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Keyed pseudonyms for the curated data set (see the module docs). Its `Debug`
/// never shows the key.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer { key: <redacted> }")
    }
}

impl Pseudonymizer {
    /// A pseudonymizer under `key`, which must have at least [`MIN_KEY_BYTES`].
    pub fn new(key: &[u8]) -> Result<Self, WeakKey> {
        if key.len() < MIN_KEY_BYTES {
            return Err(WeakKey { len: key.len() });
        }
        // HMAC takes keys of any length; the error cannot happen.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| WeakKey { len: key.len() })?;
        Ok(Self { mac })
    }

    /// The wearer's pseudonym, stable under one key.
    pub fn wearer(&self, wearer_id: &str) -> Pseudonym {
        self.tagged(b"vigil/wearer/v1\0", wearer_id.as_bytes())
    }

    /// The reading's key in the curated data set.
    pub fn reading(&self, id: ReadingId) -> Pseudonym {
        self.tagged(b"vigil/reading/v1\0", id.as_bytes())
    }

    /// An alert's key in the curated alerts (`curated/alerts/`): keyed like the
    /// reading key, since the plain alert id is a hash of the wearer id, the
    /// rule and a time, all guessable.
    pub fn alert(&self, alert_id: &str) -> Pseudonym {
        self.tagged(b"vigil/alert/v1\0", alert_id.as_bytes())
    }

    /// The curated row of one reading of `envelope`.
    pub fn row(&self, envelope: &Envelope, reading: &Reading) -> CuratedRow {
        CuratedRow::new(self.reading(envelope.reading_id(reading)), self.wearer(&envelope.wearer_id), envelope, reading)
    }

    fn tagged(&self, tag: &[u8], data: &[u8]) -> Pseudonym {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut mac = self.mac.clone();
        mac.update(tag);
        mac.update(data);
        let digest = mac.finalize().into_bytes();
        let mut out = [0u8; 32];
        for (i, b) in digest.iter().take(16).enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
        }
        Pseudonym(out)
    }
}

/// One row of the curated data set (see the module docs for the columns). It
/// has no field that identifies a person or a device.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CuratedRow {
    pub reading_key: Pseudonym,
    pub wearer_pseudonym: Pseudonym,
    pub ts: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub heart_rate_bpm: Option<i32>,
    pub spo2_pct: Option<i32>,
    pub skin_temp_c: Option<f64>,
    pub steps: Option<i32>,
    pub activity: Option<Activity>,
    pub sleep_stage: Option<SleepStage>,
    pub fall_detected: Option<bool>,
    pub fall_cancelled: Option<bool>,
    pub sos: Option<bool>,
    pub battery_pct: Option<i32>,
    pub worn: Option<bool>,
}

impl CuratedRow {
    /// The row of `reading`, with its pseudonyms already computed (a batch
    /// computes each wearer's once, not once per reading).
    pub fn new(reading_key: Pseudonym, wearer_pseudonym: Pseudonym, envelope: &Envelope, reading: &Reading) -> Self {
        let int = |v: Option<i64>| v.and_then(|v| i32::try_from(v).ok());
        Self {
            reading_key,
            wearer_pseudonym,
            ts: reading.ts.with_timezone(&Utc),
            received_at: envelope.received_at,
            heart_rate_bpm: int(reading.heart_rate_bpm),
            spo2_pct: int(reading.spo2_pct),
            skin_temp_c: reading.skin_temp_c,
            steps: int(reading.steps),
            activity: reading.activity,
            sleep_stage: reading.sleep_stage,
            fall_detected: reading.fall_detected,
            fall_cancelled: reading.fall_cancelled,
            sos: reading.sos,
            battery_pct: int(reading.battery_pct),
            worn: reading.worn,
        }
    }

    /// The date (UTC) of the curated file this row goes to.
    pub fn event_date(&self) -> NaiveDate {
        self.ts.date_naive()
    }
}

/// The curated string of an activity (as in the upload contract).
pub fn activity_str(activity: Activity) -> &'static str {
    match activity {
        Activity::Rest => "rest",
        Activity::Light => "light",
        Activity::Moderate => "moderate",
        Activity::Vigorous => "vigorous",
    }
}

/// The curated string of a sleep stage (as in the upload contract).
pub fn sleep_stage_str(stage: SleepStage) -> &'static str {
    match stage {
        SleepStage::Awake => "awake",
        SleepStage::Light => "light",
        SleepStage::Deep => "deep",
        SleepStage::Rem => "rem",
    }
}

/// A key part as given, or with anything but `[A-Za-z0-9_-]` replaced by `_`:
/// shard ids and sequence numbers never need it, but a key must never gain a
/// `/` from an odd event.
fn key_part(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') && !s.is_empty() {
        std::borrow::Cow::Borrowed(s)
    } else if s.is_empty() {
        std::borrow::Cow::Borrowed("_")
    } else {
        std::borrow::Cow::Owned(
            s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect(),
        )
    }
}

/// Where a batch's raw archive goes: dated by the arrival of its first record,
/// named by its shard and first and last sequence numbers, so every delivery of
/// the same batch writes the same key.
pub fn raw_key(shard_id: &str, first_seq: &str, last_seq: &str, first_arrival: DateTime<Utc>) -> String {
    format!(
        "raw/dt={}/hh={}/{}/{}-{}.ndjson.gz",
        first_arrival.format("%Y-%m-%d"),
        first_arrival.format("%H"),
        key_part(shard_id),
        key_part(first_seq),
        key_part(last_seq)
    )
}

/// Where a batch's curated readings of one event date (UTC) go.
pub fn curated_key(event_date: NaiveDate, shard_id: &str, first_seq: &str, last_seq: &str) -> String {
    format!(
        "curated/readings/dt={}/{}-{}-{}.parquet",
        event_date.format("%Y-%m-%d"),
        key_part(shard_id),
        key_part(first_seq),
        key_part(last_seq)
    )
}

/// Where one evaluation's curated alerts of one date (UTC, of `raised_at`) go:
/// named by the wearer's pseudonym and a digest of the alert keys, so the same
/// alerts always land on the same key with the same bytes, and a different set
/// never overwrites an earlier one. Columns: `vigil_warehouse::sql::ALERT_COLUMNS`.
pub fn curated_alerts_key(date: NaiveDate, wearer: Pseudonym, digest: &str) -> String {
    format!("curated/alerts/dt={}/{}-{}.parquet", date.format("%Y-%m-%d"), wearer, key_part(digest))
}

/// The registry's `kind` of a curated key: `alerts` under `curated/alerts/`,
/// else `readings`.
pub fn curated_kind(key: &str) -> &'static str {
    if key.starts_with("curated/alerts/") { "alerts" } else { "readings" }
}

/// A stored curated file, as registered for the warehouse loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CuratedFile {
    /// The object key in the data bucket ([`curated_key`]).
    pub key: String,
    /// The event date (UTC) of every row.
    pub event_date: NaiveDate,
    pub rows: usize,
    /// The object's size: Redshift's COPY from a manifest of Parquet files needs it.
    pub bytes: usize,
    /// Earliest and latest event time in the file.
    pub min_ts: DateTime<Utc>,
    pub max_ts: DateTime<Utc>,
    /// When the file was first written (a retry keeps the first registration).
    pub created_at: DateTime<Utc>,
}

/// Stores objects in the data lake.
pub trait ObjectStore {
    /// Writes `body` at `key`, replacing whatever is there: keys are
    /// deterministic, so a retry rewrites the same bytes.
    fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Registers curated files for the warehouse loader.
pub trait CuratedFileRegistry {
    /// Registers `file` as [`STATUS_PENDING`] unless its key is registered
    /// already, whatever its status (so a redelivered batch never resets a file
    /// already loaded). `Ok(true)` when registered now.
    fn register(&self, file: &CuratedFile) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use crate::reading::Location;
    use chrono::DateTime;
    use proptest::prelude::*;

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
        assert_eq!(
            (row.heart_rate_bpm, row.spo2_pct, row.steps, row.battery_pct),
            (Some(96), Some(97), Some(3), Some(81))
        );
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
        assert_eq!(json["activity"], activity_str(Activity::Light));
        assert_eq!(json["sleep_stage"], sleep_stage_str(SleepStage::Rem));
    }

    #[test]
    fn enum_strings_match_the_upload_contract() {
        for a in [Activity::Rest, Activity::Light, Activity::Moderate, Activity::Vigorous] {
            assert_eq!(serde_json::to_value(a).unwrap(), activity_str(a));
        }
        for s in [SleepStage::Awake, SleepStage::Light, SleepStage::Deep, SleepStage::Rem] {
            assert_eq!(serde_json::to_value(s).unwrap(), sleep_stage_str(s));
        }
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
}
