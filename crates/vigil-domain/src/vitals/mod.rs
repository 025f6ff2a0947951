//! The sensitive vitals store: what vitals-writer keeps of every reading, for
//! the caregiver app and the query API, and the wearer's latest state (the
//! shadow) read from it.
//!
//! # Vitals items: one per wearer, half-hour span, device and envelope
//!
//! DynamoDB charges one write unit per started KB of each item written, so one
//! item per 5-second reading would cost more than the rest of the pipeline. An
//! envelope's readings are grouped by the half-hour span of their event time
//! ([`ITEM_SPAN_MINUTES`], aligned on the UTC hour), and each group becomes one
//! item:
//!
//! - partition key `wearer_id`; sort key `sk` = `<start>#<device>#<first seq>`,
//!   e.g. `2026-11-22T10:30Z#band-0001#3001`, where the start is the span's
//!   first minute and the first seq is the lowest seq of this envelope in that
//!   span. A redelivered envelope rebuilds the same keys with the same content,
//!   so PutItem makes redelivery idempotent; two uploads that split one span
//!   write two items instead of overwriting each other. A time range is
//!   `sk BETWEEN "<span of from>Z" AND "<minute of to>Z$"` (`$` sorts right
//!   after `#`; [`key_range`]).
//! - `r` — the span's readings, compactly: rows separated by `;`, fields by
//!   `,`, trailing empty fields dropped, each row's time and seq counted from
//!   the row before, the whole DEFLATE-compressed and stored as binary (format
//!   v2, [`Rows`]). UTC times; the phone's location is not kept here (the raw
//!   archive has it).
//! - aggregates of the item's readings: `n` count, `hr_min`, `hr_avg` (one
//!   decimal), `hr_max`, `spo2_min`, `steps` (sum) — absent when no reading had
//!   them; `v` the row format version.
//! - `app` — the uploading app's version (items before 2026-12-04 have none).
//! - `expires_at` — DynamoDB TTL, epoch seconds: the start plus the retention
//!   (default [`DEFAULT_TTL_DAYS`]). Event time, not processing time, so a
//!   redelivery writes the same value.
//!
//! More than [`MAX_READINGS_PER_ITEM`] readings of one span in one envelope are
//! split into several items, each keyed by its own first seq.
//!
//! Items written before 2026-12-04 (one-minute spans before 2026-12-03, then
//! ten-minute spans, with text rows of format v1) read the same way: their rows
//! count from their own start, and [`key_range`] starts at a span boundary,
//! which is also a minute and a ten-minute boundary.
//!
//! Readers may see one reading twice only if the app re-uploads it in a
//! different upload that starts the span at another seq (or a record written
//! before the spans changed is redelivered); rows carry their seq, so readers
//! deduplicate on (device, seq).
//!
//! # Write cost
//!
//! An item is about 160 bytes of keys, aggregates and TTL with a 40-character
//! wearer id, plus about 4 bytes a reading of readings that vary as a wearer's
//! do (12 readings: 254 bytes, 120: 603 bytes; pinned by tests; v1's text rows
//! took about 27 bytes a reading). So an item of up to 120 readings is one write
//! unit, and what an upload costs is how many spans it touches:
//!
//! - uploads every 5 minutes (the upload policy's routine interval): 1.16 items
//!   of 1 write unit per 60 readings ≈ **19,400 WCU per million readings**
//!   (ten-minute items of text rows: 1.49 items of 1.63 units, ≈ 40,500);
//! - uploads every minute: 1.03 items per 12 readings ≈ 86,000 (one-minute
//!   items took 2, ≈ 167,000);
//! - against 1,000,000 for one item per reading; and nothing else: the wearer's
//!   latest state is not written apart.
//!
//! # The shadow
//!
//! The wearer's latest state ([`Shadow`]) is the newest reading of the items of
//! the newest span, read with one descending Query. Until 2026-12-04 it was an
//! item of its own, updated once per wearer per batch: a second write unit per
//! upload, which cost as much as the vitals themselves.

mod item;
mod row;
mod shadow;
mod window;
mod write;

pub use item::{
    Attr, DEFAULT_TTL_DAYS, ITEM_SPAN_MINUTES, MAX_READINGS_PER_ITEM, VitalsItem, WRITE_UNIT_BYTES, attr, key_range,
    parse_sort_key, sort_key, vitals_items,
};
pub use row::{FORMAT_VERSION, FormatError, Rows, StoredReading, encode_row};
pub use shadow::Shadow;
pub use window::{
    Agg, MAX_MINUTE_SERIES_DAYS, MAX_WINDOW_DAYS, Measure, Metric, MetricsRejected, MetricsRequest, Point, Resolution,
    Stats, Window, WindowError, readings_in, series,
};
pub use write::{VitalsWriteError, WriteReport};

#[cfg(test)]
mod tests;
