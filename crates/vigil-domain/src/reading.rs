//! One wristband reading as the app sends it (upload contract v1), and the
//! physiological ranges it is validated against.
//!
//! Every measurement is optional: the band reports what it measured in that
//! 5-second interval. Integer measurements are `i64` on the wire type so that a
//! value like `-3` or `300000` parses and is then reported as out of range with
//! the field's real limits, instead of as a confusing type error.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::names::{self, UnknownName};

/// A reading, exactly the fields the app may send. Unknown fields are rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    /// When the band took the reading (event time), RFC 3339 with offset.
    #[serde(deserialize_with = "rfc3339")]
    pub ts: DateTime<FixedOffset>,
    /// The band's own counter; with the device id it identifies the reading.
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heart_rate_bpm: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spo2_pct: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skin_temp_c: Option<f64>,
    /// Steps counted during the interval since the previous reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Activity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sleep_stage: Option<SleepStage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fall_detected: Option<bool>,
    /// The wearer pressed "I'm OK" on the band after a detected fall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fall_cancelled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sos: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery_pct: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worn: Option<bool>,
    /// The phone's location when it received the reading (personal data: never
    /// logged, never in the curated data or the warehouse).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "location")]
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    /// Horizontal accuracy in metres, as the phone reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    Rest,
    Light,
    Moderate,
    Vigorous,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SleepStage {
    Awake,
    Light,
    Deep,
    Rem,
}

impl Activity {
    pub const ALL: [Activity; 4] = [Activity::Rest, Activity::Light, Activity::Moderate, Activity::Vigorous];

    /// The upload contract's spelling (its serde form), as the status and the
    /// curated data store it.
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Rest => "rest",
            Activity::Light => "light",
            Activity::Moderate => "moderate",
            Activity::Vigorous => "vigorous",
        }
    }
}

impl std::str::FromStr for Activity {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        names::parse(&Self::ALL, Self::as_str, "activity", s)
    }
}

impl SleepStage {
    pub const ALL: [SleepStage; 4] = [SleepStage::Awake, SleepStage::Light, SleepStage::Deep, SleepStage::Rem];

    /// The upload contract's spelling (its serde form), as the status and the
    /// curated data store it.
    pub fn as_str(self) -> &'static str {
        match self {
            SleepStage::Awake => "awake",
            SleepStage::Light => "light",
            SleepStage::Deep => "deep",
            SleepStage::Rem => "rem",
        }
    }
}

impl std::str::FromStr for SleepStage {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        names::parse(&Self::ALL, Self::as_str, "sleep stage", s)
    }
}

/// RFC 3339 with an offset, as `parse_from_rfc3339` reads it (which, as the RFC
/// allows, also takes a space for the `T`). chrono's own `FromStr` is looser still.
fn rfc3339<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<FixedOffset>, D::Error> {
    // A visitor rather than `String::deserialize`: no allocation per reading.
    struct Rfc3339;
    impl serde::de::Visitor<'_> for Rfc3339 {
        type Value = DateTime<FixedOffset>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an RFC 3339 timestamp with an offset")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_rfc3339(v).map_err(E::custom)
        }
    }
    d.deserialize_str(Rfc3339)
}

/// Exactly `DateTime::parse_from_rfc3339`, with a fast path for the fixed-width
/// form the app and the envelope use (`2026-11-22T09:00:05+01:00`, `…Z`): chrono's
/// general parser is a large share of decoding a reading. Anything else — fractions,
/// a space or `t` separator, a leap second, odd years or offsets, and every error —
/// goes to chrono, so the accepted set, the values and the error messages are chrono's.
pub fn parse_rfc3339(s: &str) -> Result<DateTime<FixedOffset>, chrono::ParseError> {
    match fixed_width_rfc3339(s.as_bytes()) {
        Some(t) => Ok(t),
        None => DateTime::parse_from_rfc3339(s),
    }
}

pub(crate) fn fixed_width_rfc3339(b: &[u8]) -> Option<DateTime<FixedOffset>> {
    use chrono::{NaiveDate, TimeZone};
    let digits = |i: usize, n: usize| -> Option<u32> {
        b.get(i..i + n)?.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let offset_secs = match (b.len(), b.get(19)) {
        (20, Some(b'Z')) => 0,
        (25, Some(&sign @ (b'+' | b'-'))) if at(22, b':') => {
            let (h, m) = (digits(20, 2)?, digits(23, 2)?);
            // chrono takes wider offsets; they are not worth a fast path.
            if h > 23 || m > 59 {
                return None;
            }
            let secs = i32::try_from(h * 3600 + m * 60).ok()?;
            if sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let year = i32::try_from(digits(0, 4)?).ok()?;
    // Away from the ends of chrono's range, so applying the offset cannot overflow.
    if !(1000..=9998).contains(&year) {
        return None;
    }
    // Second 60 (a leap second) is left to chrono, which has its own rules for it.
    let (hour, min, sec) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if sec > 59 {
        return None;
    }
    let local = NaiveDate::from_ymd_opt(year, digits(5, 2)?, digits(8, 2)?)?.and_hms_opt(hour, min, sec)?;
    FixedOffset::east_opt(offset_secs)?.from_local_datetime(&local).single()
}

fn location<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Location>, D::Error> {
    Option::<MapOnly<Location>>::deserialize(d).map(|l| l.map(|l| l.0))
}

/// Deserializes `T` only from a JSON object. Derived struct impls also take a
/// positional array (`[lat, lon]`), which is not part of the contract.
#[derive(Debug)]
pub struct MapOnly<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Objects<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Objects<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Objects(std::marker::PhantomData)).map(MapOnly)
    }
}

impl Reading {
    /// A reading with only its time and sequence number (used by tests and the simulator).
    pub fn at(ts: DateTime<FixedOffset>, seq: u64) -> Self {
        Self {
            ts,
            seq,
            heart_rate_bpm: None,
            spo2_pct: None,
            skin_temp_c: None,
            steps: None,
            activity: None,
            sleep_stage: None,
            fall_detected: None,
            fall_cancelled: None,
            sos: None,
            battery_pct: None,
            worn: None,
            location: None,
        }
    }

    /// True when the reading carries at least one measurement besides its time.
    pub fn has_measurement(&self) -> bool {
        self.heart_rate_bpm.is_some()
            || self.spo2_pct.is_some()
            || self.skin_temp_c.is_some()
            || self.steps.is_some()
            || self.activity.is_some()
            || self.sleep_stage.is_some()
            || self.fall_detected.is_some()
            || self.fall_cancelled.is_some()
            || self.sos.is_some()
            || self.battery_pct.is_some()
            || self.worn.is_some()
            || self.location.is_some()
    }
}

/// An inclusive range a numeric field must fall in, with its unit for messages.
#[derive(Debug, Clone, Copy)]
pub struct Range<T> {
    pub min: T,
    pub max: T,
    pub unit: &'static str,
}

impl<T: PartialOrd + Copy> Range<T> {
    pub fn contains(&self, v: T) -> bool {
        v >= self.min && v <= self.max
    }
}

/// Ranges a healthy or unwell human wearer can produce; outside them the sensor
/// or the app is wrong, and the value must not reach the alert rules.
pub mod limits {
    use super::Range;

    pub const HEART_RATE_BPM: Range<i64> = Range { min: 20, max: 250, unit: "bpm" };
    pub const SPO2_PCT: Range<i64> = Range { min: 50, max: 100, unit: "%" };
    pub const SKIN_TEMP_C: Range<f64> = Range { min: 20.0, max: 45.0, unit: "°C" };
    /// Steps in one reading interval (5 s nominal, longer after a Bluetooth gap).
    pub const STEPS: Range<i64> = Range { min: 0, max: 10_000, unit: "steps" };
    pub const BATTERY_PCT: Range<i64> = Range { min: 0, max: 100, unit: "%" };
    pub const LAT: Range<f64> = Range { min: -90.0, max: 90.0, unit: "degrees" };
    pub const LON: Range<f64> = Range { min: -180.0, max: 180.0, unit: "degrees" };
    pub const ACCURACY_M: Range<f64> = Range { min: 0.0, max: 100_000.0, unit: "m" };
}
