//! A vitals item: one envelope's readings of one half-hour span, its keys and
//! its size as DynamoDB counts it.

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};

use super::row::{FormatError, Rows, StoredReading};
use crate::envelope::Envelope;
use crate::reading::Reading;

/// Minutes one item spans at most. Spans are aligned on the UTC hour
/// (`:00` and `:30`), so every item starts on a minute.
pub const ITEM_SPAN_MINUTES: i64 = 30;

/// Most readings one item holds: an upload of ten minutes of readings every 5 s
/// (120); a longer upload (a phone back after hours offline) or a band sampling
/// faster splits into more items, so an item stays a few KB.
pub const MAX_READINGS_PER_ITEM: usize = 120;

/// Default retention of vitals items.
pub const DEFAULT_TTL_DAYS: u32 = 30;

/// DynamoDB charges one write unit per started KB of item size.
pub const WRITE_UNIT_BYTES: usize = 1024;

/// Attribute names of a vitals item. Short: names count toward the item size.
pub mod attr {
    pub const WEARER_ID: &str = "wearer_id";
    pub const SK: &str = "sk";
    pub const FORMAT: &str = "v";
    pub const COUNT: &str = "n";
    pub const HR_MIN: &str = "hr_min";
    pub const HR_AVG: &str = "hr_avg";
    pub const HR_MAX: &str = "hr_max";
    pub const SPO2_MIN: &str = "spo2_min";
    pub const STEPS: &str = "steps";
    pub const READINGS: &str = "r";
    /// The version of the app that uploaded the item's readings (the wearer's
    /// status shows it); absent on items written before 2026-12-04.
    pub const APP_VERSION: &str = "app";
    pub const EXPIRES_AT: &str = "expires_at";
}

/// One envelope's readings of one span (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct VitalsItem {
    pub wearer_id: String,
    /// Start of the span of the readings' event time (a whole minute; items
    /// written before 2026-12-03 span one minute, and until 2026-12-04 ten).
    pub start: DateTime<Utc>,
    pub device_id: String,
    /// Lowest seq of the readings in this item.
    pub first_seq: u64,
    /// Readings in `readings`.
    pub count: u32,
    pub hr_min: Option<i64>,
    /// Mean heart rate, rounded to one decimal.
    pub hr_avg: Option<f64>,
    pub hr_max: Option<i64>,
    pub spo2_min: Option<i64>,
    /// Sum of the readings' steps.
    pub steps: Option<i64>,
    /// The rows, as stored in `r`.
    pub readings: Rows,
    /// The uploading app's version (`app`); empty when the item has none.
    pub app_version: String,
    /// TTL, epoch seconds.
    pub expires_at: i64,
}

/// A stored attribute value, as DynamoDB types it (strings, numbers in their
/// decimal text form, and binary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    S(String),
    N(String),
    B(Vec<u8>),
}

impl Attr {
    /// DynamoDB's size of the value: UTF-8 bytes of a string; for a number,
    /// one byte per two significant digits plus one.
    pub fn size(&self) -> usize {
        match self {
            Attr::S(s) => s.len(),
            Attr::B(b) => b.len(),
            Attr::N(n) => {
                let digits = n.trim_start_matches('-').replace('.', "");
                let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
                significant.div_ceil(2) + 1
            }
        }
    }
}

/// The sort key of the item starting at `start`, of `device_id` and `first_seq`.
pub fn sort_key(start: DateTime<Utc>, device_id: &str, first_seq: u64) -> String {
    let mut sk = String::with_capacity(18 + device_id.len() + 20);
    push_minute(&mut sk, start);
    let _ = write!(sk, "#{device_id}#{first_seq}");
    sk
}

/// Inclusive sort-key bounds (for BETWEEN) of every item that may hold a
/// reading of `from..=to`: from the span holding `from` to the minute of `to`.
/// It can include items ending before `from`: readers filter rows by time.
pub fn key_range(from: DateTime<Utc>, to: DateTime<Utc>) -> (String, String) {
    let mut low = String::with_capacity(17);
    push_minute(&mut low, span_start(from));
    let mut high = String::with_capacity(18);
    push_minute(&mut high, minute_start(to));
    // Every key of minute `to` continues with '#', and '$' is the next byte.
    high.push('$');
    (low, high)
}

/// `2026-11-22T10:59Z`, written by hand: chrono's formatter re-parses its
/// pattern on every call, and this runs for every item.
fn push_minute(out: &mut String, minute: DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}Z",
        minute.year(),
        minute.month(),
        minute.day(),
        minute.hour(),
        minute.minute()
    );
}

/// Splits a sort key into start, device and first seq. Device ids may hold
/// `#`: the minute ends at the first one and the seq starts after the last.
pub fn parse_sort_key(sk: &str) -> Option<(DateTime<Utc>, &str, u64)> {
    let (minute, rest) = sk.split_once('#')?;
    let (device, seq) = rest.rsplit_once('#')?;
    let minute = minute.strip_suffix('Z')?;
    let minute = chrono::NaiveDateTime::parse_from_str(minute, "%Y-%m-%dT%H:%M").ok()?.and_utc();
    Some((minute, device, seq.parse().ok()?))
}

fn minute_start(ts: DateTime<Utc>) -> DateTime<Utc> {
    floor_secs(ts, 60)
}

/// Start of the span holding `ts`.
pub(super) fn span_start(ts: DateTime<Utc>) -> DateTime<Utc> {
    floor_secs(ts, ITEM_SPAN_MINUTES * 60)
}

fn floor_secs(ts: DateTime<Utc>, unit: i64) -> DateTime<Utc> {
    let secs = ts.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(unit), 0).unwrap_or(ts)
}

impl VitalsItem {
    pub fn sort_key(&self) -> String {
        sort_key(self.start, &self.device_id, self.first_seq)
    }

    /// The item as stored: every attribute, absent aggregates left out.
    pub fn attributes(&self) -> Vec<(&'static str, Attr)> {
        let mut a = Vec::with_capacity(12);
        a.push((attr::WEARER_ID, Attr::S(self.wearer_id.clone())));
        a.push((attr::SK, Attr::S(self.sort_key())));
        a.push((attr::FORMAT, Attr::N(self.readings.version().to_string())));
        a.push((attr::COUNT, Attr::N(self.count.to_string())));
        let numbers = [
            (attr::HR_MIN, self.hr_min.map(|v| v.to_string())),
            (attr::HR_AVG, self.hr_avg.map(|v| v.to_string())),
            (attr::HR_MAX, self.hr_max.map(|v| v.to_string())),
            (attr::SPO2_MIN, self.spo2_min.map(|v| v.to_string())),
            (attr::STEPS, self.steps.map(|v| v.to_string())),
        ];
        a.extend(numbers.into_iter().filter_map(|(name, v)| v.map(|v| (name, Attr::N(v)))));
        a.push((
            attr::READINGS,
            match &self.readings {
                Rows::Text(text) => Attr::S(text.clone()),
                Rows::Packed(bytes) => Attr::B(bytes.clone()),
            },
        ));
        if !self.app_version.is_empty() {
            a.push((attr::APP_VERSION, Attr::S(self.app_version.clone())));
        }
        a.push((attr::EXPIRES_AT, Attr::N(self.expires_at.to_string())));
        a
    }

    /// The item's size as DynamoDB counts it (names plus values).
    pub fn size_bytes(&self) -> usize {
        self.attributes().iter().map(|(name, value)| name.len() + value.size()).sum()
    }

    /// Write units one PutItem of this item costs.
    pub fn write_units(&self) -> usize {
        self.size_bytes().div_ceil(WRITE_UNIT_BYTES).max(1)
    }

    /// The readings back from `r`.
    pub fn rows(&self) -> Result<Vec<StoredReading>, FormatError> {
        self.readings.decode(self.start, self.first_seq)
    }
}

/// Builds the vitals items of one envelope: one per span of event time
/// (more if a span holds over [`MAX_READINGS_PER_ITEM`] readings), ordered by
/// span then seq. Deterministic: the same envelope gives the same items in
/// any reading order. A seq repeated within the envelope is kept once (its
/// first occurrence), as ingest does.
pub fn vitals_items(envelope: &Envelope, ttl: TimeDelta) -> Vec<VitalsItem> {
    let readings = &envelope.readings;
    // (seq, index) sorted, first occurrence of each seq kept.
    let mut unique: Vec<(u64, usize)> = readings.iter().enumerate().map(|(i, r)| (r.seq, i)).collect();
    unique.sort_unstable();
    unique.dedup_by_key(|(seq, _)| *seq);
    let span = ITEM_SPAN_MINUTES * 60;
    let mut keyed: Vec<(i64, u64, usize)> = unique
        .into_iter()
        .map(|(seq, i)| {
            let secs = readings[i].ts.timestamp();
            (secs - secs.rem_euclid(span), seq, i)
        })
        .collect();
    keyed.sort_unstable();

    let mut items = Vec::new();
    for span_group in keyed.chunk_by(|a, b| a.0 == b.0) {
        for chunk in span_group.chunks(MAX_READINGS_PER_ITEM) {
            let (start_secs, first_seq, _) = chunk[0];
            let Some(start) = DateTime::from_timestamp(start_secs, 0) else { continue };
            items.push(build_item(envelope, start, first_seq, chunk.iter().map(|&(_, _, i)| &readings[i]), ttl));
        }
    }
    items
}

fn build_item<'a>(
    envelope: &Envelope,
    start: DateTime<Utc>,
    first_seq: u64,
    chunk: impl Iterator<Item = &'a Reading> + Clone,
    ttl: TimeDelta,
) -> VitalsItem {
    let (mut count, mut hr_n, mut hr_sum) = (0u32, 0i64, 0i64);
    let (mut hr_min, mut hr_max, mut spo2_min, mut steps) = (None::<i64>, None::<i64>, None::<i64>, None::<i64>);
    for r in chunk.clone() {
        count += 1;
        if let Some(hr) = r.heart_rate_bpm {
            hr_n += 1;
            hr_sum += hr;
            hr_min = Some(hr_min.map_or(hr, |m| m.min(hr)));
            hr_max = Some(hr_max.map_or(hr, |m| m.max(hr)));
        }
        if let Some(s) = r.spo2_pct {
            spo2_min = Some(spo2_min.map_or(s, |m| m.min(s)));
        }
        if let Some(s) = r.steps {
            steps = Some(steps.unwrap_or(0).saturating_add(s));
        }
    }
    let hr_avg = (hr_n > 0).then(|| (hr_sum as f64 / hr_n as f64 * 10.0).round() / 10.0);
    VitalsItem {
        wearer_id: envelope.wearer_id.clone(),
        start,
        device_id: envelope.device_id.clone(),
        first_seq,
        count,
        hr_min,
        hr_avg,
        hr_max,
        spo2_min,
        steps,
        readings: Rows::pack(chunk, start, first_seq),
        app_version: envelope.app_version.clone(),
        expires_at: (start + ttl).timestamp(),
    }
}
