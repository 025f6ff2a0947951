//! What one routine upload writes to the vitals table, from the item layout itself
//! ([`vigil_domain::vitals::vitals_items`]): the defaults of the model's vitals inputs
//! for an upload interval, before a run measures them.

use chrono::{DateTime, TimeDelta, Utc};
use vigil_domain::envelope::Envelope;
use vigil_domain::reading::{Activity, Reading};
use vigil_domain::vitals::{ITEM_SPAN_MINUTES, vitals_items};

/// Vitals items per upload, and their mean write units and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VitalsPerUpload {
    pub items: f64,
    pub write_units_per_item: f64,
    pub bytes_per_item: f64,
}

/// Averages over every phase a phone can upload at (a reading interval apart within
/// one span): an upload of `upload_every_s` of full readings (heart rate, SpO2,
/// temperature, steps, battery, worn, activity) from a wearer with a 36-character id.
pub fn vitals_per_upload(upload_every_s: f64, reading_interval_s: f64) -> VitalsPerUpload {
    let step = reading_interval_s.max(1.0).round() as i64;
    let readings = ((upload_every_s / reading_interval_s).round() as u64).clamp(1, 1_000);
    let span_s = ITEM_SPAN_MINUTES * 60;
    let base = DateTime::from_timestamp(1_795_000_800, 0).unwrap_or_default(); // on a span boundary
    let (mut items, mut units, mut bytes, mut phases) = (0usize, 0usize, 0usize, 0usize);
    for phase in (0..span_s).step_by(step as usize) {
        let built = vitals_items(&upload(base + TimeDelta::seconds(phase), step, readings), TimeDelta::days(30));
        items += built.len();
        units += built.iter().map(|i| i.write_units()).sum::<usize>();
        bytes += built.iter().map(|i| i.size_bytes()).sum::<usize>();
        phases += 1;
    }
    let per = |n: usize, of: usize| n as f64 / of.max(1) as f64;
    VitalsPerUpload {
        items: per(items, phases),
        write_units_per_item: per(units, items),
        bytes_per_item: per(bytes, items),
    }
}

/// Interval of the uploads whose stream records `vigil run` measured (the model's
/// default `record_bytes`, docs/cost.md).
pub const RECORD_BYTES_MEASURED_AT_S: f64 = 60.0;

/// How much bigger a stream record of an upload every `upload_every_s` is than one
/// every [`RECORD_BYTES_MEASURED_AT_S`]: the ratio of the two envelopes' encoded sizes
/// (a record carries its upload's readings behind a fixed header).
pub fn record_bytes_scale(upload_every_s: f64, reading_interval_s: f64) -> f64 {
    let bytes = |every_s: f64| {
        let step = reading_interval_s.max(1.0).round() as i64;
        let readings = ((every_s / reading_interval_s).round() as u64).clamp(1, 1_000);
        serde_json::to_vec(&upload(DateTime::UNIX_EPOCH, step, readings)).map_or(1.0, |b| b.len() as f64)
    };
    bytes(upload_every_s) / bytes(RECORD_BYTES_MEASURED_AT_S)
}

/// An upload of full readings that vary as the simulated fleet's do while a wearer is up
/// and about (`fleet::sim`): the heart rate wanders a beat or two between readings, SpO2
/// is 96–98 %, the skin temperature 32.8–33.2 °C, and a quarter of the readings have no
/// steps. Vitals rows are stored compressed, so constant readings would understate their
/// size. Deterministic: the same upload for the same arguments.
fn upload(start: DateTime<Utc>, step: i64, readings: u64) -> Envelope {
    let mut state: u64 = 0x5eed;
    let mut next = move |below: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % below
    };
    let mut hr = 80i64;
    let readings = (0..readings)
        .map(|k| {
            let mut r = Reading::at((start + TimeDelta::seconds(step * k as i64)).fixed_offset(), 10_000 + k);
            hr = (hr + next(5) as i64 - 2).clamp(70, 95);
            r.heart_rate_bpm = Some(hr);
            r.spo2_pct = Some(96 + next(3) as i64);
            r.skin_temp_c = Some((328 + next(5)) as f64 / 10.0);
            r.steps = Some(if next(4) == 0 { 0 } else { 2 + next(4) as i64 });
            r.battery_pct = Some(80);
            r.worn = Some(true);
            r.activity = Some(Activity::Light);
            r
        })
        .collect();
    Envelope {
        v: 1,
        batch_id: String::new(),
        part: 0,
        parts: 1,
        device_id: "band-0001".into(),
        wearer_id: "0".repeat(36),
        app_version: String::new(),
        received_at: start,
        readings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_grows_with_its_readings_behind_a_fixed_header() {
        assert_eq!(record_bytes_scale(60.0, 5.0), 1.0);
        let five = record_bytes_scale(300.0, 5.0);
        // 60 readings against 12: less than 5 times the bytes, as the header is shared.
        assert!(five > 4.0 && five < 5.0, "{five}");
        assert!(record_bytes_scale(600.0, 5.0) > 2.0 * five - 1.0);
    }

    #[test]
    fn an_upload_crosses_a_span_boundary_in_proportion_to_its_length() {
        // A minute's 12 readings cross a half-hour boundary from 11 of the 360 phases.
        let minute = vitals_per_upload(60.0, 5.0);
        assert!((minute.items - (1.0 + 11.0 / 360.0)).abs() < 1e-9, "{minute:?}");
        assert_eq!(minute.write_units_per_item, 1.0);
        // Five minutes' 60 readings from 59 of them; compressed, every item is one unit.
        let five = vitals_per_upload(300.0, 5.0);
        assert!((five.items - (1.0 + 59.0 / 360.0)).abs() < 1e-9, "{five:?}");
        assert_eq!(five.write_units_per_item, 1.0);
        // 60 readings compress to about 4 bytes each behind about 160 of keys and aggregates.
        let bytes = five.items * five.bytes_per_item;
        assert!(bytes > 300.0 && bytes < 700.0, "{five:?}");
    }
}
