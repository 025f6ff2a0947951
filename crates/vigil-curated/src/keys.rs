//! Where things are in the data lake: the raw archive's and the curated files'
//! keys, their content types, and the kind of a curated file.

use chrono::{DateTime, NaiveDate, Utc};

use crate::pseudonym::Pseudonym;

/// Content type of a raw archive object (gzip of NDJSON; deliberately not a
/// `Content-Encoding`, so downloads keep the bytes as stored).
pub const RAW_CONTENT_TYPE: &str = "application/gzip";

/// Content type of a curated Parquet file.
pub const PARQUET_CONTENT_TYPE: &str = "application/vnd.apache.parquet";

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

/// Where one evaluation's (or one lifecycle step's) curated alerts of one date
/// (UTC, of `raised_at`) go: named by the wearer's pseudonym and a digest of the
/// alert keys and their lifecycle, so the same alerts in the same state always
/// land on the same key with the same bytes, and a different set or state never
/// overwrites an earlier one. Columns: [`crate::ALERT_COLUMNS`].
pub fn curated_alerts_key(date: NaiveDate, wearer: Pseudonym, digest: &str) -> String {
    format!("curated/alerts/dt={}/{}-{}.parquet", date.format("%Y-%m-%d"), wearer, key_part(digest))
}

/// Where one batch's curated days of one local date go: named by a digest of
/// the file's bytes (which depend only on its rows), so a retried batch
/// rewrites the same key and a recomputed day lands in a new file, never over
/// one the loader may not have read yet. Columns: [`crate::DAY_COLUMNS`].
pub fn curated_days_key(local_date: NaiveDate, digest: &str) -> String {
    format!("curated/days/dt={}/{}.parquet", local_date.format("%Y-%m-%d"), key_part(digest))
}

/// What a curated file holds (the registry's vocabulary, so it lives with the port).
pub use vigil_domain::ports::FileKind;
