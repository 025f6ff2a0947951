//! A fast path for decoding the envelope exactly as ingest writes it.
//!
//! ingest-api encodes every envelope with `serde_json::to_vec`: no whitespace,
//! fields in declaration order, absent measurements left out. Decoding those
//! bytes with serde_json was most of alert-processor's time (keys are scanned,
//! UTF-8-checked and matched one string at a time). This reads that one layout
//! directly and declines — returns `None` — at the first byte it does not
//! expect: whitespace, another key order, an unknown or repeated key, `null`,
//! an escape or control character in a string, a number with an exponent or a
//! leading zero, an integer out of its type's range, a timestamp chrono would
//! reject. [`super::Envelope::decode`] then decodes the record with serde_json,
//! which stays the decoder of record: it accepts every valid envelope and
//! explains every invalid one.
//!
//! The contract, property-tested in `tests/integration/canonical.rs`: whenever this returns
//! an envelope, serde_json decodes the same bytes to an equal one.

use chrono::{DateTime, FixedOffset, Utc};

use super::Envelope;
use crate::reading::{Activity, Location, Reading, SleepStage, fixed_width_rfc3339, parse_rfc3339};

/// Decodes `data` if it is an envelope in ingest's own layout.
pub fn decode(data: &[u8]) -> Option<Envelope> {
    let mut c = Cursor { b: data, i: 0 };
    c.lit(b"{\"v\":")?;
    let v = u32::try_from(c.uint()?).ok()?;
    c.lit(b",\"batch_id\":")?;
    let batch_id = c.string()?.to_owned();
    c.lit(b",\"part\":")?;
    let part = u32::try_from(c.uint()?).ok()?;
    c.lit(b",\"parts\":")?;
    let parts = u32::try_from(c.uint()?).ok()?;
    c.lit(b",\"device_id\":")?;
    let device_id = c.string()?.to_owned();
    c.lit(b",\"wearer_id\":")?;
    let wearer_id = c.string()?.to_owned();
    c.lit(b",\"app_version\":")?;
    let app_version = c.string()?.to_owned();
    c.lit(b",\"received_at\":")?;
    // chrono's own `Deserialize` for `DateTime<Utc>`: `FromStr`, then to UTC.
    let received_at = c.string()?.parse::<DateTime<FixedOffset>>().ok()?.with_timezone(&Utc);
    c.lit(b",\"readings\":[")?;
    let mut readings = Vec::new();
    if !c.eat(b']') {
        let first = c.i;
        readings.push(c.reading()?);
        // Readings are alike in size: room for as many as the rest would hold.
        readings.reserve(data.len().saturating_sub(c.i) / (c.i - first).max(1));
        loop {
            if c.eat(b']') {
                break;
            }
            c.lit(b",")?;
            readings.push(c.reading()?);
        }
    }
    c.lit(b"}")?;

    // serde_json allows trailing whitespace; ingest writes none.
    (c.i == data.len()).then_some(Envelope {
        v,
        batch_id,
        part,
        parts,
        device_id,
        wearer_id,
        app_version,
        received_at,
        readings,
    })
}

/// The optional fields of a reading, in declaration (and so serialization) order.
#[derive(Clone, Copy, PartialEq, PartialOrd)]
enum Field {
    HeartRate,
    Spo2,
    SkinTemp,
    Steps,
    Activity,
    SleepStage,
    FallDetected,
    FallCancelled,
    Sos,
    Battery,
    Worn,
    Location,
}

impl Field {
    fn from_key(key: &[u8]) -> Option<Self> {
        Some(match key {
            b"heart_rate_bpm" => Self::HeartRate,
            b"spo2_pct" => Self::Spo2,
            b"skin_temp_c" => Self::SkinTemp,
            b"steps" => Self::Steps,
            b"activity" => Self::Activity,
            b"sleep_stage" => Self::SleepStage,
            b"fall_detected" => Self::FallDetected,
            b"fall_cancelled" => Self::FallCancelled,
            b"sos" => Self::Sos,
            b"battery_pct" => Self::Battery,
            b"worn" => Self::Worn,
            b"location" => Self::Location,
            _ => return None,
        })
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    /// Consumes exactly `s`.
    fn lit(&mut self, s: &[u8]) -> Option<()> {
        let end = self.i.checked_add(s.len())?;
        (self.b.get(self.i..end)? == s).then(|| self.i = end)
    }

    /// Consumes `c` if it is next.
    fn eat(&mut self, c: u8) -> bool {
        let next = self.b.get(self.i) == Some(&c);
        if next {
            self.i += 1;
        }
        next
    }

    /// The bytes of a string without escapes or control characters (serde_json
    /// rejects the latter; the former it would unescape, which this leaves to it).
    /// Not yet checked to be UTF-8.
    fn raw_string(&mut self) -> Option<&'a [u8]> {
        self.lit(b"\"")?;
        let start = self.i;
        loop {
            match *self.b.get(self.i)? {
                b'"' => break,
                b'\\' | 0..=0x1f => return None,
                _ => self.i += 1,
            }
        }
        self.i += 1;
        Some(&self.b[start..self.i - 1])
    }

    fn string(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_string()?).ok()
    }

    /// A reading's timestamp, as [`parse_rfc3339`] reads it; its fixed-width
    /// form straight from the bytes (which it checks are all ASCII).
    fn timestamp(&mut self) -> Option<DateTime<FixedOffset>> {
        let raw = self.raw_string()?;
        match fixed_width_rfc3339(raw) {
            Some(ts) => Some(ts),
            None => parse_rfc3339(std::str::from_utf8(raw).ok()?).ok(),
        }
    }

    /// `"key":`, returning the key's bytes.
    fn key(&mut self) -> Option<&'a [u8]> {
        self.lit(b"\"")?;
        let start = self.i;
        let len = self.b.get(start..)?.iter().position(|&c| c == b'"')?;
        self.i = start + len + 1;
        self.lit(b":")?;
        Some(&self.b[start..start + len])
    }

    /// The digits of an unsigned JSON integer: `0`, or no leading zero. A `.`
    /// or an exponent after it is left for the caller's next `lit` to refuse.
    fn uint(&mut self) -> Option<u64> {
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(&c @ b'0'..=b'9') = self.b.get(self.i) {
            n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        let len = self.i - start;
        // serde_json refuses a leading zero; `-0` and overflow are not integers to it.
        (len == 1 || (len > 1 && self.b[start] != b'0')).then_some(n)
    }

    /// A JSON integer within `i64`. `-0` is a float to serde_json: declined.
    fn int(&mut self) -> Option<i64> {
        if self.eat(b'-') {
            let n = self.uint()?;
            (n != 0).then_some(())?;
            // Magnitudes up to 2^63 - 1 only; readings never come near.
            i64::try_from(n).ok().map(|n| -n)
        } else {
            i64::try_from(self.uint()?).ok()
        }
    }

    /// A JSON number without an exponent, as `f64`. serde_json (with
    /// `float_roundtrip`) and `str::parse` both round correctly, so they agree.
    fn float(&mut self) -> Option<f64> {
        let start = self.i;
        self.eat(b'-');
        self.uint()?;
        if self.eat(b'.') {
            let digits = self.i;
            while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            (self.i > digits).then_some(())?;
        }
        let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
        text.parse::<f64>().ok().filter(|f| f.is_finite())
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.lit(b"true").is_some() { Some(true) } else { self.lit(b"false").map(|()| false) }
    }

    fn reading(&mut self) -> Option<Reading> {
        self.lit(b"{\"ts\":")?;
        let ts = self.timestamp()?;
        self.lit(b",\"seq\":")?;
        let mut r = Reading::at(ts, self.uint()?);
        let mut last: Option<Field> = None;
        while !self.eat(b'}') {
            self.lit(b",")?;
            let field = Field::from_key(self.key()?)?;
            // Strictly in declaration order: nothing repeated, nothing reordered.
            if last.is_some_and(|l| field <= l) {
                return None;
            }
            last = Some(field);
            match field {
                Field::HeartRate => r.heart_rate_bpm = Some(self.int()?),
                Field::Spo2 => r.spo2_pct = Some(self.int()?),
                Field::SkinTemp => r.skin_temp_c = Some(self.float()?),
                Field::Steps => r.steps = Some(self.int()?),
                Field::Activity => r.activity = Some(activity(self.raw_string()?)?),
                Field::SleepStage => r.sleep_stage = Some(sleep_stage(self.raw_string()?)?),
                Field::FallDetected => r.fall_detected = Some(self.boolean()?),
                Field::FallCancelled => r.fall_cancelled = Some(self.boolean()?),
                Field::Sos => r.sos = Some(self.boolean()?),
                Field::Battery => r.battery_pct = Some(self.int()?),
                Field::Worn => r.worn = Some(self.boolean()?),
                Field::Location => r.location = Some(self.location()?),
            }
        }
        // Every field is read above. A field added to `Reading` stops this from
        // compiling until the fast path reads it too; otherwise every record
        // carrying it would quietly take the slow path.
        let Reading {
            ts: _,
            seq: _,
            heart_rate_bpm: _,
            spo2_pct: _,
            skin_temp_c: _,
            steps: _,
            activity: _,
            sleep_stage: _,
            fall_detected: _,
            fall_cancelled: _,
            sos: _,
            battery_pct: _,
            worn: _,
            location: _,
        } = &r;
        Some(r)
    }

    fn location(&mut self) -> Option<Location> {
        self.lit(b"{\"lat\":")?;
        let lat = self.float()?;
        self.lit(b",\"lon\":")?;
        let lon = self.float()?;
        let accuracy_m = if self.lit(b",\"accuracy_m\":").is_some() { Some(self.float()?) } else { None };
        self.lit(b"}")?;
        Some(Location { lat, lon, accuracy_m })
    }
}

fn activity(s: &[u8]) -> Option<Activity> {
    Some(match s {
        b"rest" => Activity::Rest,
        b"light" => Activity::Light,
        b"moderate" => Activity::Moderate,
        b"vigorous" => Activity::Vigorous,
        _ => return None,
    })
}

fn sleep_stage(s: &[u8]) -> Option<SleepStage> {
    Some(match s {
        b"awake" => SleepStage::Awake,
        b"light" => SleepStage::Light,
        b"deep" => SleepStage::Deep,
        b"rem" => SleepStage::Rem,
        _ => return None,
    })
}
