//! The sensitive vitals store and the wearer's shadow: what vitals-writer keeps
//! of every reading, for the caregiver app and the query API.
//!
//! # Vitals items: one per wearer, minute, device and envelope
//!
//! DynamoDB charges one write unit per started KB of each item written, so one
//! item per 5-second reading would cost more than the rest of the pipeline. An
//! envelope's readings are grouped by the UTC minute of their event time, and
//! each group becomes one item:
//!
//! - partition key `wearer_id`; sort key `sk` = `<minute>#<device>#<first seq>`,
//!   e.g. `2026-11-22T10:59Z#band-0001#3001`, where the first seq is the lowest
//!   seq of this envelope in that minute. A redelivered envelope rebuilds the
//!   same keys with the same content, so PutItem makes redelivery idempotent; two
//!   uploads that split one minute write two items instead of overwriting each
//!   other. Time ranges are `begins_with(sk, "2026-11-22T10")` or
//!   `sk BETWEEN "<from>Z" AND "<to>Z$"` (`$` sorts right after `#`).
//! - `r` — the minute's readings, compactly: rows separated by `;`, fields by
//!   `,`, trailing empty fields dropped (see [`encode_row`]). UTC times; the
//!   phone's location is not kept here (the raw archive has it).
//! - aggregates: `n` count, `hr_min`, `hr_avg` (one decimal), `hr_max`,
//!   `spo2_min`, `steps` (sum) — absent when no reading of the minute had them;
//!   `v` the row format version.
//! - `expires_at` — DynamoDB TTL, epoch seconds: the minute plus the retention
//!   (default [`DEFAULT_TTL_DAYS`]). Event time, not processing time, so a
//!   redelivery writes the same value.
//!
//! A minute of more than [`MAX_READINGS_PER_ITEM`] readings (a band sampling
//! faster than every 5 s) is split into several items, each keyed by its own
//! first seq, so an item never nears DynamoDB's 400 KB limit.
//!
//! Readers may see one reading twice only if the app re-uploads it in a
//! different upload that starts the minute at another seq; rows carry their seq,
//! so readers deduplicate on (device, seq).
//!
//! # Write cost
//!
//! A full minute (12 readings with heart rate, SpO2, temperature, steps,
//! battery, worn and activity) is an item of 448 bytes with a 40-character wearer
//! id and `band-0001` as device (pinned by the test
//! `a_full_minute_costs_one_write_unit`): 1 write unit, with room for twice the
//! readings before a second unit. So:
//!
//! - minutes aligned with uploads: 1,000,000 / 12 ≈ **83,300 WCU per million
//!   readings**, against 1,000,000 for one item per reading (12× less);
//! - uploads every 5 minutes that do not start on a minute: 6 items per 60
//!   readings ≈ 100,000 WCU; every minute, unaligned: 2 items per 12 readings
//!   ≈ 167,000 WCU (the worst realistic case, still 6× less);
//! - plus the shadow: at most one conditional update (1 WCU, also when the
//!   condition fails) per wearer per Lambda batch, i.e. at most one per upload:
//!   ≤ 17,000–83,000 WCU per million readings for uploads every 5–1 minutes.
//!
//! # The shadow
//!
//! One item per wearer with the newest reading's state (see [`Shadow`]). It is
//! replaced only by a newer reading (`attribute_not_exists(last_seen) OR
//! last_seen < :ts`), so late or replayed batches never move it backwards.

mod item;
mod row;
mod shadow;
mod window;
mod write;

pub use item::{
    Attr, DEFAULT_TTL_DAYS, MAX_READINGS_PER_ITEM, VitalsItem, WRITE_UNIT_BYTES, attr, minute_items, minute_range,
    parse_sort_key, sort_key,
};
pub use row::{FORMAT_VERSION, FormatError, MinuteReading, decode_rows, encode_row};
pub use shadow::Shadow;
pub use window::{
    Agg, MAX_MINUTE_SERIES_DAYS, MAX_WINDOW_DAYS, Measure, Metric, MetricsRejected, MetricsRequest, Point, Resolution,
    Stats, Window, WindowError, readings_in, series,
};
pub use write::{VitalsWriteError, WriteReport};

#[cfg(test)]
mod tests;
