//! The compact row format of a vitals item's `r` attribute: what an item keeps
//! of each reading, and its encodings.
//!
//! - **v2** (written since 2026-12-04): `r` is binary, the raw DEFLATE of the rows
//!   of [`encode_row`], where each row's time and seq count from the row before it
//!   (the first row's from the item's start and first seq). Readings 5 s and one
//!   seq apart make every row start `5,1,`, which DEFLATE all but removes: about
//!   4 bytes a reading against v1's 27.
//! - **v1**: `r` is the rows as text, each row's time and seq counted from the
//!   item's start and first seq. Read, no longer written.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::reading::{Activity, Reading, SleepStage};

/// The row format of `r` this code writes (attribute `v`).
pub const FORMAT_VERSION: u32 = 2;

/// Most bytes the rows of one item may inflate to: 120 rows of at most about 80
/// bytes fit many times over, and a corrupt or hostile `r` is refused, not inflated.
const MAX_ROWS_TEXT: u64 = 64 * 1024;

thread_local! {
    /// One deflater per thread, reset for each item: a new one allocates its
    /// window and hash tables (hundreds of KiB) for a few hundred bytes of rows.
    static DEFLATER: RefCell<Compress> = RefCell::new(Compress::new(Compression::default(), false));
    /// One inflater per thread, reset for each item: a read of a week of one-minute
    /// items inflates ten thousand of them, and a new inflater (and a reader's
    /// buffer) for each was most of what inflating cost.
    static INFLATER: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// The raw DEFLATE of `text` (the default level).
fn deflate(text: &[u8]) -> Vec<u8> {
    DEFLATER.with_borrow_mut(|deflater| {
        deflater.reset();
        // Rows compress about fivefold; a DEFLATE stream is never much longer than
        // its input, and `out` grows if it must.
        let mut out = Vec::with_capacity(text.len() / 2 + 64);
        loop {
            let read = usize::try_from(deflater.total_in()).unwrap_or(text.len()).min(text.len());
            match deflater.compress_vec(&text[read..], &mut out, FlushCompress::Finish) {
                // An error is a misuse of the stream, which this loop does not make
                // (the old encoder's `finish` was unwrapped the same way).
                Ok(Status::StreamEnd) | Err(_) => break,
                // Finishing stops short of the end only when `out` is full.
                Ok(_) if out.len() == out.capacity() => out.reserve(out.capacity().max(64)),
                Ok(_) => break,
            }
        }
        out
    })
}

/// The text of v2 rows: raw DEFLATE, inflated to at most [`MAX_ROWS_TEXT`] bytes.
/// Anything else (not DEFLATE, cut short, past the bound, not UTF-8) is
/// [`FormatError::Packed`].
fn inflate(bytes: &[u8]) -> Result<String, FormatError> {
    const MAX: usize = MAX_ROWS_TEXT as usize;
    INFLATER.with_borrow_mut(|inflater| {
        inflater.reset(false);
        // Rows compress about fivefold: most items inflate without growing `out`.
        let mut out = Vec::with_capacity(bytes.len().saturating_mul(8).clamp(256, MAX + 1));
        loop {
            let read = usize::try_from(inflater.total_in()).map_err(|_| FormatError::Packed)?;
            let input = bytes.get(read..).ok_or(FormatError::Packed)?;
            let written = out.len();
            let status =
                inflater.decompress_vec(input, &mut out, FlushDecompress::Finish).map_err(|_| FormatError::Packed)?;
            if out.len() > MAX {
                return Err(FormatError::Packed);
            }
            match status {
                Status::StreamEnd => break,
                // Out of room: grow, up to one byte past the bound.
                _ if out.len() == out.capacity() => out.reserve(out.capacity().min(MAX + 1 - out.len())),
                // Neither room nor input was the limit, and nothing moved: the stream
                // is cut short.
                _ if inflater.total_in() as usize == read && out.len() == written => return Err(FormatError::Packed),
                _ => {}
            }
        }
        String::from_utf8(out).map_err(|_| FormatError::Packed)
    })
}

/// The rows of an item as stored in `r`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    /// v1: text, times and seqs from the item's start and first seq.
    Text(String),
    /// v2: DEFLATE of the text, times and seqs from the row before.
    Packed(Vec<u8>),
}

impl Rows {
    /// Packs `readings` (in the item's order) as v2.
    pub fn pack<'a>(readings: impl IntoIterator<Item = &'a Reading>, start: DateTime<Utc>, first_seq: u64) -> Self {
        let mut text = String::with_capacity(32 * 120);
        let (mut base, mut base_seq) = (start, first_seq);
        for (i, r) in readings.into_iter().enumerate() {
            if i > 0 {
                text.push(';');
            }
            encode_row(&mut text, r, base, base_seq);
            (base, base_seq) = (r.ts.with_timezone(&Utc), r.seq);
        }
        Self::Packed(deflate(text.as_bytes()))
    }

    /// The format version of these rows (attribute `v`).
    pub fn version(&self) -> u32 {
        match self {
            Rows::Text(_) => 1,
            Rows::Packed(_) => FORMAT_VERSION,
        }
    }

    /// The rows' text: v1 as stored, v2 inflated.
    pub fn text(&self) -> Result<Cow<'_, str>, FormatError> {
        match self {
            Rows::Text(text) => Ok(Cow::Borrowed(text)),
            Rows::Packed(bytes) => inflate(bytes).map(Cow::Owned),
        }
    }

    /// The readings back (the inverse of [`encode_row`]), of an item starting at
    /// `start` with `first_seq`.
    pub fn decode(&self, start: DateTime<Utc>, first_seq: u64) -> Result<Vec<StoredReading>, FormatError> {
        // v1 counts every row from the item's start, v2 each from the row before.
        let from_previous = matches!(self, Rows::Packed(_));
        let (mut base, mut base_seq) = (start, first_seq);
        let text = self.text()?;
        text.split(';')
            .enumerate()
            .map(|(row, text)| {
                let r = decode_row(row, text, base, base_seq)?;
                if from_previous {
                    (base, base_seq) = (r.ts, r.seq);
                }
                Ok(r)
            })
            .collect()
    }

    /// Bytes of `r` as DynamoDB counts them.
    pub fn len(&self) -> usize {
        match self {
            Rows::Text(text) => text.len(),
            Rows::Packed(bytes) => bytes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a vitals item keeps of a reading: its time in UTC, seq and
/// measurements (not the location).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReading {
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

impl StoredReading {
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

/// Appends one row. Fields, in order:
///
/// | # | field | form |
/// |---|-------|------|
/// | 0 | seconds since `base` | `5`, `312.25`, `-2.75` as `-3.25` (whole seconds rounded down, then the fraction; exact to the nanosecond) |
/// | 1 | seq − `base_seq` | `0`, `1`, … |
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
/// `5,1,72,97,33.5,3,80,1,l`. `base` and `base_seq` are the item's start and
/// first seq in v1, the previous row's in v2.
pub fn encode_row(out: &mut String, r: &Reading, base: DateTime<Utc>, base_seq: u64) {
    let nanos = (r.ts.timestamp() - base.timestamp()) * 1_000_000_000 + i64::from(r.ts.timestamp_subsec_nanos())
        - i64::from(base.timestamp_subsec_nanos());
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
    let _ = write!(out, ",{}", r.seq.wrapping_sub(base_seq));
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

/// A stored `r` that does not read back.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("vitals row {row} field {field} is malformed")]
    Field { row: usize, field: usize },
    #[error("vitals rows are not DEFLATE data of at most {MAX_ROWS_TEXT} bytes of text")]
    Packed,
}

/// One row, its time and seq counted from `start` and `first_seq` (see [`encode_row`]).
fn decode_row(row: usize, text: &str, start: DateTime<Utc>, first_seq: u64) -> Result<StoredReading, FormatError> {
    let fields: Vec<&str> = text.split(',').collect();
    if fields.len() > 11 {
        return Err(FormatError::Field { row, field: 11 });
    }
    let err = |field: usize| FormatError::Field { row, field };
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
    // Checked: a corrupt row's offset is an error, not an overflow.
    let ts = TimeDelta::try_seconds(secs)
        .and_then(|offset| offset.checked_add(&TimeDelta::nanoseconds(nanos)))
        .and_then(|offset| start.checked_add_signed(offset))
        .ok_or(err(0))?;
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
    Ok(StoredReading {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    /// Text that does not compress outgrows the first buffer on both sides: the
    /// deflater's (half the input) and the inflater's.
    #[test]
    fn incompressible_text_grows_the_buffers_and_comes_back_whole() {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let text: Vec<u8> = (0..20_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b' ' + (x % 94) as u8
            })
            .collect();
        let packed = deflate(&text);
        assert!(packed.len() > text.len() / 2 + 64, "{}", packed.len());
        assert_eq!(inflate(&packed).unwrap().as_bytes(), text.as_slice());
        // And again on the same thread's (reset) deflater and inflater.
        assert_eq!(deflate(&text), packed);
        assert_eq!(inflate(&packed).unwrap().as_bytes(), text.as_slice());
    }
}
