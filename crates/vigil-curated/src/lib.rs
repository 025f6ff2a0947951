//! The curated data set: the de-identified data the warehouse loads, and the
//! data lake it lives in. Schemas and column lists, Parquet writer settings, the
//! writers and the reader, file kinds, lake keys and the pseudonymizer, each
//! written once here. Pure: no AWS, no I/O; the ports that store files are
//! `vigil_domain::ports::{ObjectStore, CuratedFileRegistry}`.
//!
//! The Parquet half (`format`: the schemas, writer settings, writers and
//! reader; readings are written through Arrow, the small alerts and days files
//! by Parquet's own column writers) is behind the default feature `parquet`, so crates that only need
//! keys and pseudonyms (the AWS adapters, every Lambda through them) do not
//! build arrow and parquet.
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
//! Parquet (Snappy, the reading key GZIP; row groups of at most 65,536 rows: [`MAX_ROW_GROUP_ROWS`]),
//! columns [`COLUMNS`], one file per shard, batch and event date under
//! [`curated_key`]:
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
//! | `activity`         | BYTE_ARRAY UTF8 (Utf8)                   | VARCHAR(16)       | yes  | [`Activity::as_str`]: `rest`, `light`, `moderate`, `vigorous` |
//! | `sleep_stage`      | BYTE_ARRAY UTF8 (Utf8)                   | VARCHAR(8)        | yes  | [`SleepStage::as_str`]: `awake`, `light`, `deep`, `rem` |
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
//! # Curated alerts (`curated/alerts/`)
//!
//! For the warehouse's `alerts` fact table: the alerts of each evaluation, and
//! each step of an alert's lifecycle, pseudonymized, as Parquet (Snappy) under
//! [`curated_alerts_key`]:
//! `curated/alerts/dt=YYYY-MM-DD/<wearer pseudonym>-<digest>.parquet`, registered
//! in the curated-files table (kind `alerts`) like raw-archiver's readings. A row
//! is built from the alert as stored, `vigil_domain::lifecycle::AlertRecord`
//! ([`AlertRow::new`]; a raised alert is `AlertRecord::open`).
//!
//! Columns ([`ALERT_COLUMNS`], file order):
//!
//! | column             | Parquet (Arrow)                    | warehouse     | null | meaning |
//! |--------------------|------------------------------------|---------------|------|---------|
//! | `alert_key`        | BYTE_ARRAY UTF8 (Utf8)             | CHAR(32)      | no   | `Pseudonymizer::alert` of the alert id: the MERGE key |
//! | `wearer_pseudonym` | BYTE_ARRAY UTF8 (Utf8)             | CHAR(32)      | no   | `Pseudonymizer::wearer` of the wearer id |
//! | `rule`             | BYTE_ARRAY UTF8 (Utf8)             | VARCHAR(32)   | no   | [`RuleKind::as_str`]: `sos`, `fall`, `heart_rate_high`, … |
//! | `severity`         | BYTE_ARRAY UTF8 (Utf8)             | VARCHAR(16)   | no   | [`Severity::as_str`]: `critical`, `high`, `medium`, `low` |
//! | `raised_at`        | INT64 TIMESTAMP(MICROS, UTC)       | TIMESTAMPTZ   | no   | event time of the reading that raised it |
//! | `resolved`         | BOOLEAN                            | BOOLEAN       | no   | the alert's status is `resolved` (by a caregiver or by the rules) |
//! | `acknowledged_at`  | INT64 TIMESTAMP(MICROS, UTC)       | TIMESTAMPTZ   | yes  | when the winning acknowledgement was made; null until then (and when it was resolved without one) |
//! | `resolved_at`      | INT64 TIMESTAMP(MICROS, UTC)       | TIMESTAMPTZ   | yes  | when the winning resolution was made |
//! | `outcome`          | BYTE_ARRAY UTF8 (Utf8)             | VARCHAR(32)   | yes  | [`Outcome::as_str`] of the resolution: `ok`, `helped`, `false_alarm`, `emergency_services`, or `cleared` (the rules' own) |
//! | `feature`          | BYTE_ARRAY UTF8 (Utf8)             | VARCHAR(32)   | yes  | a `baseline_deviation`'s daily figure (`resting_heart_rate`, `restlessness`, `steps`): [`AlertRow::deviation`] |
//! | `z`                | DOUBLE (Float64)                   | DOUBLE PRECISION | yes | that figure's z against the wearer's baseline |
//!
//! No names, phone numbers, locations, reading ids or measurement values, and
//! nothing of the lifecycle but when and how it ended: not who acknowledged or
//! resolved, not through what, not the caregiver's note. The lifecycle columns
//! come last: the warehouse added them to an existing table, and Redshift's
//! Parquet COPY matches columns by position.
//!
//! The key is the date, the wearer's pseudonym and a digest of the alert keys,
//! each with its lifecycle when it has one (an open alert adds its key alone),
//! and the bytes depend only on the rows, so a retry rewrites the same object
//! and a different set of alerts, or another state of one, can never overwrite
//! an earlier file (the sink that stores them, and when it runs:
//! `vigil_alerting::curated`).
//!
//! So each state of an alert is written once into a file of its own: raised
//! (open, in its evaluation's file), acknowledged, resolved — by a caregiver
//! through care-api, or by the rules (a silent band is back: outcome `cleared`).
//! The loader keeps the most advanced copy of a key and its MERGE only ever
//! fills the lifecycle in (`resolved` once true stays true; `acknowledged_at`,
//! `resolved_at` and `outcome` keep the first value loaded), whichever file is
//! loaded first.
//!
//! # Curated days (`curated/days/`)
//!
//! For the warehouse's `wearer_days` table: one row per wearer and local day
//! ([`DayRow`], columns [`DAY_COLUMNS`]), written by the daily job with
//! [`day_files`] from a batch of days ([`DayRow::new`] of each `DaySummary`), one file per local date under
//! [`curated_days_key`]: `curated/days/dt=<local date>/<digest>.parquet`, the
//! digest of the file's bytes, registered with kind `days`. Columns:
//! `wearer_pseudonym` (Utf8), `local_date` (DATE), `complete` (BOOLEAN),
//! `day_minutes`, `worn_minutes`, `sleep_minutes`, `wake_ups` (INT64),
//! `restlessness` (DOUBLE, null),
//! `steps`, `active_minutes` (INT64), `resting_hr` (DOUBLE, null),
//! `lowest_spo2` (INT64, null), `alerts`, `acked` (INT64), `ack_median_secs`
//! (INT64, null), `summary_version`, `computed_after_s` (INT64).
//!
//! The local date is the wearer's own, but the time zone is not kept: a zone
//! narrows down where a person lives, and the warehouse needs only the date.
//! Likewise no instant of the day is kept (the job's own time would betray
//! the zone, since it runs at each wearer's local midnight): what orders two
//! computations of a day is `computed_after_s`, seconds from the end of the
//! local day to the computation.
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
//! (`vigil_domain::ports::CuratedFileRegistry`), as `STATUS_PENDING` with its row
//! count, size and time range and its [`FileKind`]; a redelivered batch never
//! resets a file already loaded.
//!
//! [`Activity::as_str`]: vigil_domain::reading::Activity::as_str
//! [`SleepStage::as_str`]: vigil_domain::reading::SleepStage::as_str
//! [`RuleKind::as_str`]: vigil_domain::alerts::RuleKind::as_str
//! [`Severity::as_str`]: vigil_domain::alerts::Severity::as_str
//! [`Outcome::as_str`]: vigil_domain::lifecycle::Outcome::as_str

mod alerts;
mod days;
#[cfg(feature = "parquet")]
mod format;
mod keys;
mod pseudonym;
mod readings;

pub use alerts::{ALERT_COLUMNS, AlertFile, AlertRow};
pub use days::{DAY_COLUMNS, DayFile, DayRow};
#[cfg(feature = "parquet")]
pub use format::{
    BATCH_ROWS, CuratedError, CuratedWriter, EncodedFile, Filtered, alert_files, alert_row_files, alerts_schema,
    day_files, days_schema, read, reader, readings_schema, wearer_rows, without_wearer, writer_properties,
};
pub use keys::{
    FileKind, PARQUET_CONTENT_TYPE, RAW_CONTENT_TYPE, curated_alerts_key, curated_days_key, curated_key, raw_key,
};
pub use pseudonym::{MIN_KEY_BYTES, Pseudonym, Pseudonymizer, WeakKey, parse_key};
pub use readings::{COLUMNS, CuratedRow, MAX_ROW_GROUP_ROWS};

#[cfg(test)]
mod tests;
