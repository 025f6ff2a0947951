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

use std::fmt::Write as _;
use std::future::Future;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

use crate::envelope::Envelope;
use crate::ports::StoreError;
use crate::reading::{Activity, Reading, SleepStage};

/// The row format of `r` this code writes (attribute `v`).
pub const FORMAT_VERSION: u32 = 1;

/// Most readings one item holds: 12 a minute is the norm; this bounds an item
/// to a few KB even for a band sampling at 2 Hz.
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
    pub const EXPIRES_AT: &str = "expires_at";
}

/// One stored minute of one envelope's readings (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct VitalsItem {
    pub wearer_id: String,
    /// Start of the UTC minute of the readings' event time.
    pub minute: DateTime<Utc>,
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
    pub readings: String,
    /// TTL, epoch seconds.
    pub expires_at: i64,
}

/// A stored attribute value, as DynamoDB types it (strings and numbers only;
/// numbers in their decimal text form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    S(String),
    N(String),
}

impl Attr {
    /// DynamoDB's size of the value: UTF-8 bytes of a string; for a number,
    /// one byte per two significant digits plus one.
    pub fn size(&self) -> usize {
        match self {
            Attr::S(s) => s.len(),
            Attr::N(n) => {
                let digits = n.trim_start_matches('-').replace('.', "");
                let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
                significant.div_ceil(2) + 1
            }
        }
    }
}

/// The sort key of the items of `minute`, `device_id` and `first_seq`.
pub fn sort_key(minute: DateTime<Utc>, device_id: &str, first_seq: u64) -> String {
    let mut sk = String::with_capacity(18 + device_id.len() + 20);
    push_minute(&mut sk, minute);
    let _ = write!(sk, "#{device_id}#{first_seq}");
    sk
}

/// Inclusive sort-key bounds of the items of minutes `from..=to` (for BETWEEN).
pub fn minute_range(from: DateTime<Utc>, to: DateTime<Utc>) -> (String, String) {
    let mut low = String::with_capacity(17);
    push_minute(&mut low, minute_start(from));
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

/// Splits a sort key into minute, device and first seq. Device ids may hold
/// `#`: the minute ends at the first one and the seq starts after the last.
pub fn parse_sort_key(sk: &str) -> Option<(DateTime<Utc>, &str, u64)> {
    let (minute, rest) = sk.split_once('#')?;
    let (device, seq) = rest.rsplit_once('#')?;
    let minute = minute.strip_suffix('Z')?;
    let minute = chrono::NaiveDateTime::parse_from_str(minute, "%Y-%m-%dT%H:%M").ok()?.and_utc();
    Some((minute, device, seq.parse().ok()?))
}

fn minute_start(ts: DateTime<Utc>) -> DateTime<Utc> {
    let secs = ts.timestamp();
    DateTime::from_timestamp(secs - secs.rem_euclid(60), 0).unwrap_or(ts)
}

impl VitalsItem {
    pub fn sort_key(&self) -> String {
        sort_key(self.minute, &self.device_id, self.first_seq)
    }

    /// The item as stored: every attribute, absent aggregates left out.
    pub fn attributes(&self) -> Vec<(&'static str, Attr)> {
        let mut a = Vec::with_capacity(11);
        a.push((attr::WEARER_ID, Attr::S(self.wearer_id.clone())));
        a.push((attr::SK, Attr::S(self.sort_key())));
        a.push((attr::FORMAT, Attr::N(FORMAT_VERSION.to_string())));
        a.push((attr::COUNT, Attr::N(self.count.to_string())));
        let numbers = [
            (attr::HR_MIN, self.hr_min.map(|v| v.to_string())),
            (attr::HR_AVG, self.hr_avg.map(|v| v.to_string())),
            (attr::HR_MAX, self.hr_max.map(|v| v.to_string())),
            (attr::SPO2_MIN, self.spo2_min.map(|v| v.to_string())),
            (attr::STEPS, self.steps.map(|v| v.to_string())),
        ];
        a.extend(numbers.into_iter().filter_map(|(name, v)| v.map(|v| (name, Attr::N(v)))));
        a.push((attr::READINGS, Attr::S(self.readings.clone())));
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
    pub fn rows(&self) -> Result<Vec<MinuteReading>, FormatError> {
        decode_rows(&self.readings, self.minute, self.first_seq)
    }
}

/// What a vitals item keeps of a reading: its time in UTC, seq and
/// measurements (not the location).
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteReading {
    pub ts: DateTime<Utc>,
    pub seq: u64,
    pub heart_rate_bpm: Option<i64>,
    pub spo2_pct: Option<i64>,
    pub skin_temp_c: Option<f64>,
    pub steps: Option<i64>,
    pub battery_pct: Option<i64>,
    pub worn: Option<bool>,
    pub activity: Option<Activity>,
    pub sleep_stage: Option<SleepStage>,
    pub fall_detected: Option<bool>,
    pub fall_cancelled: Option<bool>,
    pub sos: Option<bool>,
}

impl MinuteReading {
    pub fn of(r: &Reading) -> Self {
        Self {
            ts: r.ts.with_timezone(&Utc),
            seq: r.seq,
            heart_rate_bpm: r.heart_rate_bpm,
            spo2_pct: r.spo2_pct,
            skin_temp_c: r.skin_temp_c,
            steps: r.steps,
            battery_pct: r.battery_pct,
            worn: r.worn,
            activity: r.activity,
            sleep_stage: r.sleep_stage,
            fall_detected: r.fall_detected,
            fall_cancelled: r.fall_cancelled,
            sos: r.sos,
        }
    }
}

/// Builds the vitals items of one envelope: one per UTC minute of event time
/// (more if a minute holds over [`MAX_READINGS_PER_ITEM`] readings), ordered by
/// minute then seq. Deterministic: the same envelope gives the same items in
/// any reading order. A seq repeated within the envelope is kept once (its
/// first occurrence), as ingest does.
pub fn minute_items(envelope: &Envelope, ttl: TimeDelta) -> Vec<VitalsItem> {
    let readings = &envelope.readings;
    // (seq, index) sorted, first occurrence of each seq kept.
    let mut unique: Vec<(u64, usize)> = readings.iter().enumerate().map(|(i, r)| (r.seq, i)).collect();
    unique.sort_unstable();
    unique.dedup_by_key(|(seq, _)| *seq);
    let mut keyed: Vec<(i64, u64, usize)> = unique
        .into_iter()
        .map(|(seq, i)| {
            let secs = readings[i].ts.timestamp();
            (secs - secs.rem_euclid(60), seq, i)
        })
        .collect();
    keyed.sort_unstable();

    let mut items = Vec::new();
    for minute_group in keyed.chunk_by(|a, b| a.0 == b.0) {
        for chunk in minute_group.chunks(MAX_READINGS_PER_ITEM) {
            let (minute_secs, first_seq, _) = chunk[0];
            let Some(minute) = DateTime::from_timestamp(minute_secs, 0) else { continue };
            items.push(build_item(envelope, minute, first_seq, chunk.iter().map(|&(_, _, i)| &readings[i]), ttl));
        }
    }
    items
}

fn build_item<'a>(
    envelope: &Envelope,
    minute: DateTime<Utc>,
    first_seq: u64,
    chunk: impl Iterator<Item = &'a Reading>,
    ttl: TimeDelta,
) -> VitalsItem {
    let mut rows = String::with_capacity(32 * 12);
    let (mut count, mut hr_n, mut hr_sum) = (0u32, 0i64, 0i64);
    let (mut hr_min, mut hr_max, mut spo2_min, mut steps) = (None::<i64>, None::<i64>, None::<i64>, None::<i64>);
    for r in chunk {
        if count > 0 {
            rows.push(';');
        }
        encode_row(&mut rows, r, minute, first_seq);
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
        minute,
        device_id: envelope.device_id.clone(),
        first_seq,
        count,
        hr_min,
        hr_avg,
        hr_max,
        spo2_min,
        steps,
        readings: rows,
        expires_at: (minute + ttl).timestamp(),
    }
}

/// Appends one row of format v1. Fields, in order:
///
/// | # | field | form |
/// |---|-------|------|
/// | 0 | seconds into the minute | `5`, `12.25` (exact to the nanosecond) |
/// | 1 | seq − the item's first seq | `0`, `1`, … |
/// | 2 | heart rate, bpm | integer |
/// | 3 | SpO2, % | integer |
/// | 4 | skin temperature, °C | shortest decimal that reads back exactly |
/// | 5 | steps | integer |
/// | 6 | battery, % | integer |
/// | 7 | worn | `1` / `0` |
/// | 8 | activity | `r`est `l`ight `m`oderate `v`igorous |
/// | 9 | sleep stage | `a`wake `l`ight `d`eep `r`em |
/// | 10 | events | `F` fall detected, `C` fall cancelled, `S` SOS; lower case when sent as false |
///
/// Absent fields are empty, and trailing empty fields are dropped:
/// `5,1,72,97,33.5,3,80,1,l`.
pub fn encode_row(out: &mut String, r: &Reading, minute: DateTime<Utc>, first_seq: u64) {
    let nanos = (r.ts.timestamp() - minute.timestamp()) * 1_000_000_000 + i64::from(r.ts.timestamp_subsec_nanos());
    let (secs, frac) = (nanos.div_euclid(1_000_000_000), nanos.rem_euclid(1_000_000_000));
    let _ = write!(out, "{secs}");
    if frac != 0 {
        let mut digits = format!("{frac:09}");
        while digits.ends_with('0') {
            digits.pop();
        }
        out.push('.');
        out.push_str(&digits);
    }
    let _ = write!(out, ",{}", r.seq.wrapping_sub(first_seq));
    out.push(',');
    push_opt(out, r.heart_rate_bpm);
    out.push(',');
    push_opt(out, r.spo2_pct);
    out.push(',');
    push_opt(out, r.skin_temp_c);
    out.push(',');
    push_opt(out, r.steps);
    out.push(',');
    push_opt(out, r.battery_pct);
    out.push(',');
    if let Some(worn) = r.worn {
        out.push(if worn { '1' } else { '0' });
    }
    out.push(',');
    if let Some(a) = r.activity {
        out.push(activity_code(a));
    }
    out.push(',');
    if let Some(s) = r.sleep_stage {
        out.push(sleep_code(s));
    }
    out.push(',');
    for (flag, upper) in [(r.fall_detected, 'F'), (r.fall_cancelled, 'C'), (r.sos, 'S')] {
        match flag {
            Some(true) => out.push(upper),
            Some(false) => out.push(upper.to_ascii_lowercase()),
            None => {}
        }
    }
    // Seconds and seq are never empty, so this stops at them at the latest.
    while out.ends_with(',') {
        out.pop();
    }
}

fn push_opt<T: std::fmt::Display>(out: &mut String, v: Option<T>) {
    if let Some(v) = v {
        let _ = write!(out, "{v}");
    }
}

fn activity_code(a: Activity) -> char {
    match a {
        Activity::Rest => 'r',
        Activity::Light => 'l',
        Activity::Moderate => 'm',
        Activity::Vigorous => 'v',
    }
}

fn sleep_code(s: SleepStage) -> char {
    match s {
        SleepStage::Awake => 'a',
        SleepStage::Light => 'l',
        SleepStage::Deep => 'd',
        SleepStage::Rem => 'r',
    }
}

/// A stored `r` that is not format v1.
#[derive(Debug, thiserror::Error)]
#[error("vitals row {row} field {field} is malformed")]
pub struct FormatError {
    pub row: usize,
    pub field: usize,
}

/// Reads the rows of `r` back (the inverse of [`encode_row`]).
pub fn decode_rows(r: &str, minute: DateTime<Utc>, first_seq: u64) -> Result<Vec<MinuteReading>, FormatError> {
    r.split(';').enumerate().map(|(row, text)| decode_row(row, text, minute, first_seq)).collect()
}

fn decode_row(row: usize, text: &str, minute: DateTime<Utc>, first_seq: u64) -> Result<MinuteReading, FormatError> {
    let fields: Vec<&str> = text.split(',').collect();
    if fields.len() > 11 {
        return Err(FormatError { row, field: 11 });
    }
    let err = |field: usize| FormatError { row, field };
    let get = |i: usize| fields.get(i).copied().filter(|f| !f.is_empty());
    fn num<T: std::str::FromStr>(v: Option<&str>, e: FormatError) -> Result<Option<T>, FormatError> {
        v.map(|v| v.parse().map_err(|_| e)).transpose()
    }
    let offset = get(0).ok_or(err(0))?;
    let (secs, frac) = offset.split_once('.').unwrap_or((offset, ""));
    let secs: i64 = secs.parse().map_err(|_| err(0))?;
    let nanos: i64 = if frac.is_empty() {
        0
    } else if frac.len() <= 9 && frac.bytes().all(|b| b.is_ascii_digit()) {
        format!("{frac:0<9}").parse().map_err(|_| err(0))?
    } else {
        return Err(err(0));
    };
    let ts = minute + TimeDelta::seconds(secs) + TimeDelta::nanoseconds(nanos);
    let delta: u64 = get(1).ok_or(err(1))?.parse().map_err(|_| err(1))?;
    let worn = match get(7) {
        None => None,
        Some("1") => Some(true),
        Some("0") => Some(false),
        Some(_) => return Err(err(7)),
    };
    let activity = match get(8) {
        None => None,
        Some("r") => Some(Activity::Rest),
        Some("l") => Some(Activity::Light),
        Some("m") => Some(Activity::Moderate),
        Some("v") => Some(Activity::Vigorous),
        Some(_) => return Err(err(8)),
    };
    let sleep_stage = match get(9) {
        None => None,
        Some("a") => Some(SleepStage::Awake),
        Some("l") => Some(SleepStage::Light),
        Some("d") => Some(SleepStage::Deep),
        Some("r") => Some(SleepStage::Rem),
        Some(_) => return Err(err(9)),
    };
    let (mut fall_detected, mut fall_cancelled, mut sos) = (None, None, None);
    for c in get(10).unwrap_or("").chars() {
        let slot = match c.to_ascii_uppercase() {
            'F' => &mut fall_detected,
            'C' => &mut fall_cancelled,
            'S' => &mut sos,
            _ => return Err(err(10)),
        };
        *slot = Some(c.is_ascii_uppercase());
    }
    Ok(MinuteReading {
        ts,
        seq: first_seq.wrapping_add(delta),
        heart_rate_bpm: num(get(2), err(2))?,
        spo2_pct: num(get(3), err(3))?,
        skin_temp_c: num(get(4), err(4))?,
        steps: num(get(5), err(5))?,
        battery_pct: num(get(6), err(6))?,
        worn,
        activity,
        sleep_stage,
        fall_detected,
        fall_cancelled,
        sos,
    })
}

// ---------------------------------------------------------------------------
// The shadow

/// The wearer's latest state: the newest reading's measurements, as of
/// `last_seen`. Measurements the newest reading did not carry are absent (an
/// older heart rate shown as current would mislead a caregiver).
#[derive(Debug, Clone, PartialEq)]
pub struct Shadow {
    pub wearer_id: String,
    /// Event time of the newest reading, to the millisecond (as stored and compared).
    pub last_seen: DateTime<Utc>,
    pub device_id: String,
    pub seq: u64,
    pub app_version: String,
    /// When ingest accepted the upload that carried the reading.
    pub received_at: DateTime<Utc>,
    pub heart_rate_bpm: Option<i64>,
    pub spo2_pct: Option<i64>,
    pub skin_temp_c: Option<f64>,
    pub battery_pct: Option<i64>,
    pub worn: Option<bool>,
    pub activity: Option<Activity>,
    pub sleep_stage: Option<SleepStage>,
}

impl Shadow {
    /// The shadow `reading` of `envelope` gives.
    pub fn of(envelope: &Envelope, reading: &Reading) -> Self {
        Self {
            wearer_id: envelope.wearer_id.clone(),
            last_seen: reading.ts.with_timezone(&Utc).trunc_subsecs(3),
            device_id: envelope.device_id.clone(),
            seq: reading.seq,
            app_version: envelope.app_version.clone(),
            received_at: envelope.received_at,
            heart_rate_bpm: reading.heart_rate_bpm,
            spo2_pct: reading.spo2_pct,
            skin_temp_c: reading.skin_temp_c,
            battery_pct: reading.battery_pct,
            worn: reading.worn,
            activity: reading.activity,
            sleep_stage: reading.sleep_stage,
        }
    }

    /// The shadow of the envelope's newest reading (latest event time, then highest seq).
    pub fn newest(envelope: &Envelope) -> Option<Self> {
        let newest = envelope.readings.iter().max_by_key(|r| (r.ts.timestamp_millis(), r.seq))?;
        Some(Self::of(envelope, newest))
    }

    /// Whether this shadow may replace `stored`: the store's write condition.
    /// Equal times do not replace, so a replay is a no-op.
    pub fn supersedes(&self, stored: Option<&Shadow>) -> bool {
        stored.is_none_or(|s| s.last_seen < self.last_seen)
    }

    /// Keeps the newer of `self` and `other` (within a batch: time, then seq).
    pub fn keep_newer(&mut self, other: Shadow) {
        if (other.last_seen, other.seq) > (self.last_seen, self.seq) {
            *self = other;
        }
    }
}

/// Activity as stored in the shadow (the upload contract's spelling).
pub fn activity_name(a: Activity) -> &'static str {
    match a {
        Activity::Rest => "rest",
        Activity::Light => "light",
        Activity::Moderate => "moderate",
        Activity::Vigorous => "vigorous",
    }
}

pub fn parse_activity(s: &str) -> Option<Activity> {
    [Activity::Rest, Activity::Light, Activity::Moderate, Activity::Vigorous]
        .into_iter()
        .find(|a| activity_name(*a) == s)
}

/// Sleep stage as stored in the shadow (the upload contract's spelling).
pub fn sleep_stage_name(s: SleepStage) -> &'static str {
    match s {
        SleepStage::Awake => "awake",
        SleepStage::Light => "light",
        SleepStage::Deep => "deep",
        SleepStage::Rem => "rem",
    }
}

pub fn parse_sleep_stage(s: &str) -> Option<SleepStage> {
    [SleepStage::Awake, SleepStage::Light, SleepStage::Deep, SleepStage::Rem]
        .into_iter()
        .find(|st| sleep_stage_name(*st) == s)
}

// ---------------------------------------------------------------------------
// Ports

/// What a successful (or partly successful) vitals write cost, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// API calls made, including retries.
    pub calls: u32,
    /// Items sent again after UnprocessedItems or a throttled call.
    pub retries: usize,
}

/// Items that were not written. Indexes point into the slice given to
/// [`VitalsStore::put_minutes`]; the caller reports their records for retry.
#[derive(Debug, thiserror::Error)]
pub enum VitalsWriteError {
    /// Still unprocessed (throttled) when the write deadline came.
    #[error("{} of {total} vitals items not written to {table}: still unprocessed at the deadline after {} resends", unwritten.len(), report.retries)]
    Deadline { table: String, total: usize, unwritten: Vec<usize>, report: WriteReport },
    /// A call failed for a reason resending at once will not fix.
    #[error("{} of {total} vitals items not written", unwritten.len())]
    Failed {
        total: usize,
        unwritten: Vec<usize>,
        report: WriteReport,
        #[source]
        source: StoreError,
    },
}

impl VitalsWriteError {
    pub fn unwritten(&self) -> &[usize] {
        match self {
            Self::Deadline { unwritten, .. } | Self::Failed { unwritten, .. } => unwritten,
        }
    }

    pub fn report(&self) -> WriteReport {
        match self {
            Self::Deadline { report, .. } | Self::Failed { report, .. } => *report,
        }
    }

    /// Whether a later retry can succeed (false: an operator must act).
    pub fn retryable(&self) -> bool {
        match self {
            Self::Deadline { .. } => true,
            Self::Failed { source, .. } => source.retryable,
        }
    }
}

/// The vitals table.
pub trait VitalsStore {
    /// Writes every item, replacing any stored item with the same key (so a
    /// rewrite is idempotent); of items sharing a key, the last one is written.
    /// Unprocessed items are resent until written or the adapter's deadline;
    /// `Ok` means every item is stored, `Err` names the ones that are not.
    fn put_minutes(&self, items: &[VitalsItem]) -> impl Future<Output = Result<WriteReport, VitalsWriteError>> + Send;
}

/// The shadow table.
pub trait ShadowStore {
    /// Stores `shadow` unless the stored one is as new or newer (see
    /// [`Shadow::supersedes`]). `Ok(true)` when stored; `Ok(false)` when a newer
    /// state was there already, which is not an error.
    fn advance(&self, shadow: &Shadow) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use chrono::FixedOffset;
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn full(ts: &str, seq: u64) -> Reading {
        let mut r = Reading::at(at(ts), seq);
        r.heart_rate_bpm = Some(72);
        r.spo2_pct = Some(97);
        r.skin_temp_c = Some(33.5);
        r.steps = Some(3);
        r.battery_pct = Some(80);
        r.worn = Some(true);
        r.activity = Some(Activity::Light);
        r
    }

    fn envelope(wearer: &str, readings: Vec<Reading>) -> Envelope {
        Envelope {
            v: 1,
            batch_id: "b".into(),
            part: 0,
            parts: 1,
            device_id: "band-0001".into(),
            wearer_id: wearer.into(),
            app_version: "1.4.2".into(),
            received_at: at("2026-11-22T10:00:00Z").with_timezone(&Utc),
            readings,
        }
    }

    fn ttl() -> TimeDelta {
        TimeDelta::days(i64::from(DEFAULT_TTL_DAYS))
    }

    #[test]
    fn readings_group_by_utc_minute_with_deterministic_keys() {
        let e = envelope(
            "wearer-42",
            vec![
                full("2026-11-22T11:59:55+01:00", 3002),
                full("2026-11-22T10:59:50Z", 3001),
                full("2026-11-22T11:00:00Z", 3003),
            ],
        );
        let items = minute_items(&e, ttl());
        let keys: Vec<String> = items.iter().map(VitalsItem::sort_key).collect();
        assert_eq!(keys, vec!["2026-11-22T10:59Z#band-0001#3001", "2026-11-22T11:00Z#band-0001#3003"]);
        assert_eq!(items[0].count, 2);
        assert_eq!(items[0].readings, "50,0,72,97,33.5,3,80,1,l;55,1,72,97,33.5,3,80,1,l");
        assert_eq!(items[0].expires_at, at("2026-12-22T10:59:00Z").timestamp());
        assert_eq!(items[0].steps, Some(6));
        assert_eq!(parse_sort_key(&keys[0]), Some((at("2026-11-22T10:59:00Z").with_timezone(&Utc), "band-0001", 3001)));
    }

    #[test]
    fn aggregates_cover_only_what_was_measured() {
        let mut a = Reading::at(at("2026-11-22T10:59:00Z"), 1);
        a.heart_rate_bpm = Some(60);
        a.sos = Some(true);
        let mut b = Reading::at(at("2026-11-22T10:59:05.25Z"), 2);
        b.heart_rate_bpm = Some(75);
        b.spo2_pct = Some(91);
        b.fall_detected = Some(false);
        let c = Reading { worn: Some(false), ..Reading::at(at("2026-11-22T10:59:10Z"), 3) };
        let item = &minute_items(&envelope("w", vec![a, b, c]), ttl())[0];
        assert_eq!((item.hr_min, item.hr_avg, item.hr_max), (Some(60), Some(67.5), Some(75)));
        assert_eq!((item.spo2_min, item.steps, item.count), (Some(91), None, 3));
        assert_eq!(item.readings, "0,0,60,,,,,,,,S;5.25,1,75,91,,,,,,,f;10,2,,,,,,0");
        let names: Vec<&str> = item.attributes().iter().map(|(n, _)| *n).collect();
        assert!(!names.contains(&attr::STEPS), "{names:?}");
    }

    #[test]
    fn a_crowded_minute_splits_into_items_keyed_by_their_own_first_seq() {
        let readings: Vec<Reading> =
            (0..250).map(|i| full(&format!("2026-11-22T10:59:{:02}.{:03}Z", i / 5, (i % 5) * 200), 1000 + i)).collect();
        let items = minute_items(&envelope("w", readings), ttl());
        assert_eq!(items.iter().map(|i| i.count).collect::<Vec<_>>(), vec![120, 120, 10]);
        assert_eq!(items.iter().map(|i| i.first_seq).collect::<Vec<_>>(), vec![1000, 1120, 1240]);
        assert!(items.iter().all(|i| i.size_bytes() < 8 * 1024));
    }

    #[test]
    fn a_full_minute_costs_one_write_unit() {
        let wearer = "w".repeat(40);
        let readings = (0..12).map(|i| full(&format!("2026-11-22T10:59:{:02}Z", i * 5), 123_456 + i)).collect();
        let item = &minute_items(&envelope(&wearer, readings), ttl())[0];
        let size = item.size_bytes();
        // 299 bytes of rows, 36 of sort key, 49 of wearer id, 64 of aggregates and TTL.
        assert_eq!(size, 448, "a full minute's size changed: update the cost in the module docs");
        assert_eq!(item.write_units(), 1);
    }

    #[test]
    fn number_sizes_follow_dynamodb() {
        assert_eq!(Attr::N("7".into()).size(), 2);
        assert_eq!(Attr::N("1795341600".into()).size(), 5, "trailing zeros are trimmed");
        assert_eq!(Attr::N("1795341601".into()).size(), 6);
        assert_eq!(Attr::N("-67.5".into()).size(), 3);
        assert_eq!(Attr::N("100".into()).size(), 2);
        assert_eq!(Attr::S("héllo".into()).size(), 6);
    }

    #[test]
    fn minute_ranges_select_exactly_their_minutes() {
        let t = |s: &str| at(s).with_timezone(&Utc);
        let (low, high) = minute_range(t("2026-11-22T10:00:30Z"), t("2026-11-22T10:59:59Z"));
        assert_eq!((low.as_str(), high.as_str()), ("2026-11-22T10:00Z", "2026-11-22T10:59Z$"));
        for (sk, inside) in [
            ("2026-11-22T09:59Z#band#1", false),
            ("2026-11-22T10:00Z#band#1", true),
            ("2026-11-22T10:59Z#band-zzz~#99999", true),
            ("2026-11-22T11:00Z#band#1", false),
        ] {
            assert_eq!(low.as_str() <= sk && sk <= high.as_str(), inside, "{sk}");
        }
    }

    #[test]
    fn a_device_id_with_hashes_still_parses() {
        let sk = sort_key(at("2026-11-22T10:59:00Z").with_timezone(&Utc), "band#7#x", 42);
        assert_eq!(parse_sort_key(&sk).map(|(_, d, s)| (d, s)), Some(("band#7#x", 42)));
        assert_eq!(parse_sort_key("garbage"), None);
    }

    #[test]
    fn the_shadow_moves_only_forward() {
        let e = envelope("w", vec![full("2026-11-22T10:59:50Z", 2), full("2026-11-22T10:59:45Z", 3)]);
        let newest = Shadow::newest(&e).unwrap();
        assert_eq!(newest.seq, 2);
        let older = Shadow::newest(&envelope("w", vec![full("2026-11-22T10:59:40Z", 1)])).unwrap();
        assert!(newest.supersedes(None));
        assert!(newest.supersedes(Some(&older)));
        assert!(!older.supersedes(Some(&newest)));
        assert!(!newest.supersedes(Some(&newest)), "a replay is a no-op");
        // Sub-millisecond differences are below what is stored.
        let r = Reading::at(at("2026-11-22T10:59:50.0004Z"), 9);
        assert!(!Shadow::of(&e, &r).supersedes(Some(&newest)));
    }

    fn arb_reading() -> impl Strategy<Value = Reading> {
        (
            0i64..600_000,
            0u64..1_000,
            proptest::option::of(20i64..250),
            proptest::option::of(50i64..=100),
            proptest::option::of(20.0f64..45.0),
            proptest::option::of(0i64..10_000),
            proptest::option::of(0i64..=100),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            (0u8..5, 0u8..5, 0u32..3, -2i32..3),
        )
            .prop_map(|(ms, seq, hr, spo2, temp, steps, batt, worn, fall, sos, (act, sleep, frac, tz))| {
                let base = at("2026-11-22T10:00:00Z").timestamp_millis() + ms;
                let nanos = [0u32, 250_000_000, 123_456_789][frac as usize];
                let ts = DateTime::from_timestamp(base.div_euclid(1000), 0).unwrap()
                    + TimeDelta::nanoseconds(i64::from(nanos));
                let offset = FixedOffset::east_opt(tz * 3600).unwrap();
                let mut r = Reading::at(ts.with_timezone(&offset), seq);
                r.heart_rate_bpm = hr;
                r.spo2_pct = spo2;
                r.skin_temp_c = temp;
                r.steps = steps;
                r.battery_pct = batt;
                r.worn = worn;
                r.fall_detected = fall;
                r.sos = sos;
                r.activity = [
                    None,
                    Some(Activity::Rest),
                    Some(Activity::Light),
                    Some(Activity::Moderate),
                    Some(Activity::Vigorous),
                ][act as usize];
                r.sleep_stage = [
                    None,
                    Some(SleepStage::Awake),
                    Some(SleepStage::Light),
                    Some(SleepStage::Deep),
                    Some(SleepStage::Rem),
                ][sleep as usize];
                r
            })
    }

    proptest! {
        /// Every distinct reading lands in exactly one item, in the item of its
        /// minute, and reads back exactly; the items do not depend on the order
        /// of the readings.
        #[test]
        fn every_reading_is_in_exactly_one_item_and_reads_back(
            readings in proptest::collection::vec(arb_reading(), 0..300),
            seed in any::<u64>(),
        ) {
            let e = envelope("wearer-1", readings.clone());
            let items = minute_items(&e, ttl());
            let mut stored: Vec<MinuteReading> = Vec::new();
            for item in &items {
                let rows = item.rows().unwrap();
                prop_assert_eq!(rows.len(), item.count as usize);
                prop_assert!(rows.len() <= MAX_READINGS_PER_ITEM);
                prop_assert_eq!(rows.iter().map(|r| r.seq).min(), Some(item.first_seq));
                for row in &rows {
                    prop_assert_eq!(minute_start(row.ts), item.minute);
                }
                stored.extend(rows);
            }
            let mut expected: Vec<MinuteReading> = Vec::new();
            for r in &readings {
                if !expected.iter().any(|x| x.seq == r.seq) {
                    expected.push(MinuteReading::of(r));
                }
            }
            expected.sort_by_key(|r| r.seq);
            stored.sort_by_key(|r| r.seq);
            prop_assert_eq!(&stored, &expected);

            // Shuffled readings (duplicates aside) give identical items.
            let mut unique: Vec<Reading> = Vec::new();
            for r in readings {
                if !unique.iter().any(|x| x.seq == r.seq) {
                    unique.push(r);
                }
            }
            let mut rng = seed;
            for i in (1..unique.len()).rev() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                unique.swap(i, (rng >> 33) as usize % (i + 1));
            }
            let again = minute_items(&envelope("wearer-1", unique), ttl());
            prop_assert_eq!(again, items);
        }

        /// Whatever order envelopes arrive in, a shadow store that applies the
        /// write condition never moves backwards and ends at the newest reading.
        #[test]
        fn shuffled_envelopes_never_move_the_shadow_backwards(
            envelopes in proptest::collection::vec(proptest::collection::vec(arb_reading(), 1..8), 1..12),
            order in any::<u64>(),
        ) {
            let envelopes: Vec<Envelope> = envelopes.into_iter().map(|r| envelope("w", r)).collect();
            let newest_overall = envelopes.iter().filter_map(Shadow::newest).map(|s| s.last_seen).max();
            let mut idx: Vec<usize> = (0..envelopes.len()).collect();
            let mut rng = order;
            for i in (1..idx.len()).rev() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                idx.swap(i, (rng >> 33) as usize % (i + 1));
            }
            let mut stored: Option<Shadow> = None;
            for i in idx {
                let candidate = Shadow::newest(&envelopes[i]).unwrap();
                let before = stored.as_ref().map(|s| s.last_seen);
                if candidate.supersedes(stored.as_ref()) {
                    stored = Some(candidate);
                }
                let after = stored.as_ref().map(|s| s.last_seen);
                prop_assert!(after >= before);
            }
            prop_assert_eq!(stored.map(|s| s.last_seen), newest_overall);
        }
    }
}
