//! The vitals items, their rows and the shadow, tested together (they share the fixtures).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

use super::item::span_start;
use super::*;
use crate::envelope::Envelope;
use crate::reading::{Activity, Reading, SleepStage};
use chrono::FixedOffset;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
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
fn readings_group_by_half_hour_span_with_deterministic_keys() {
    let e = envelope(
        "wearer-42",
        vec![
            full("2026-11-22T11:59:55+01:00", 3002),
            full("2026-11-22T10:59:50Z", 3001),
            full("2026-11-22T11:00:00Z", 3003),
        ],
    );
    let items = vitals_items(&e, ttl());
    let keys: Vec<String> = items.iter().map(VitalsItem::sort_key).collect();
    assert_eq!(keys, vec!["2026-11-22T10:30Z#band-0001#3001", "2026-11-22T11:00Z#band-0001#3003"]);
    assert_eq!(items[0].count, 2);
    // Format v2: the first row from the span's start, each next one from the row before.
    assert_eq!(items[0].readings.version(), 2);
    assert_eq!(items[0].readings.text().unwrap(), "1790,0,72,97,33.5,3,80,1,l;5,1,72,97,33.5,3,80,1,l");
    assert_eq!(items[0].expires_at, at("2026-12-22T10:30:00Z").timestamp());
    assert_eq!(items[0].steps, Some(6));
    assert_eq!(parse_sort_key(&keys[0]), Some((at("2026-11-22T10:30:00Z").with_timezone(&Utc), "band-0001", 3001)));
}

#[test]
fn aggregates_cover_only_what_was_measured() {
    let mut a = Reading::at(at("2026-11-22T10:50:00Z"), 1);
    a.heart_rate_bpm = Some(60);
    a.sos = Some(true);
    let mut b = Reading::at(at("2026-11-22T10:50:05.25Z"), 2);
    b.heart_rate_bpm = Some(75);
    b.spo2_pct = Some(91);
    b.fall_detected = Some(false);
    let c = Reading { worn: Some(false), ..Reading::at(at("2026-11-22T10:59:10Z"), 3) };
    let item = &vitals_items(&envelope("w", vec![a, b, c]), ttl())[0];
    assert_eq!((item.hr_min, item.hr_avg, item.hr_max), (Some(60), Some(67.5), Some(75)));
    assert_eq!((item.spo2_min, item.steps, item.count), (Some(91), None, 3));
    assert_eq!(item.readings.text().unwrap(), "1200,0,60,,,,,,,,S;5.25,1,75,91,,,,,,,f;544.75,1,,,,,,0");
    let names: Vec<&str> = item.attributes().iter().map(|(n, _)| *n).collect();
    assert!(!names.contains(&attr::STEPS), "{names:?}");
}

#[test]
fn a_crowded_span_splits_into_items_keyed_by_their_own_first_seq() {
    let readings: Vec<Reading> =
        (0..250).map(|i| full(&format!("2026-11-22T10:59:{:02}.{:03}Z", i / 5, (i % 5) * 200), 1000 + i)).collect();
    let items = vitals_items(&envelope("w", readings), ttl());
    assert_eq!(items.iter().map(|i| i.count).collect::<Vec<_>>(), vec![120, 120, 10]);
    assert_eq!(items.iter().map(|i| i.first_seq).collect::<Vec<_>>(), vec![1000, 1120, 1240]);
    assert!(items.iter().all(|i| i.size_bytes() < 8 * 1024));
}

/// A full reading whose measurements vary from one to the next about as a wearer's do
/// (rows are compressed, so constant readings would understate an item's size).
fn varied(ts: &str, seq: u64) -> Reading {
    let mut r = full(ts, seq);
    r.heart_rate_bpm = Some(70 + (seq * 7 % 11) as i64);
    r.spo2_pct = Some(96 + (seq % 3) as i64);
    r.skin_temp_c = Some((328 + seq * 3 % 5) as f64 / 10.0);
    r.steps = Some((seq % 6) as i64);
    r
}

#[test]
fn a_full_minute_costs_one_write_unit() {
    let wearer = "w".repeat(40);
    let readings = (0..12).map(|i| varied(&format!("2026-11-22T10:59:{:02}Z", i * 5), 123_456 + i)).collect();
    let item = &vitals_items(&envelope(&wearer, readings), ttl())[0];
    // About 160 bytes of sort key, wearer id, aggregates and TTL, and the rows: 12 readings
    // in 97 bytes (v1 text took 311).
    assert_eq!(item.readings.len(), 97);
    assert_eq!(item.size_bytes(), 254, "a full minute's size changed: update the cost in the module docs");
    assert_eq!(item.write_units(), 1);
}

#[test]
fn ten_minutes_of_readings_are_one_item_of_one_write_unit() {
    let wearer = "w".repeat(40);
    let readings = (0..120)
        .map(|i| varied(&format!("2026-11-22T10:{:02}:{:02}Z", 50 + i / 12, (i % 12) * 5), 123_456 + i))
        .collect();
    let items = vitals_items(&envelope(&wearer, readings), ttl());
    assert_eq!(items.len(), 1);
    // 120 readings in 447 bytes of rows, 3.7 a reading (v1 text took 3,233).
    assert_eq!(items[0].readings.len(), 447);
    assert_eq!(items[0].size_bytes(), 603, "ten minutes' size changed: update the cost in the module docs");
    assert_eq!(items[0].write_units(), 1);
}

#[test]
fn items_of_format_v1_still_read_back() {
    // As vitals-writer wrote them until 2026-12-04: text, every row from the item's start.
    let rows = Rows::Text("590,0,72,97,33.5,3,80,1,l;595.5,1,,,,,,0,,,S".into());
    assert_eq!(rows.version(), 1);
    let start = at("2026-11-22T10:50:00Z").with_timezone(&Utc);
    let read = rows.decode(start, 3001).unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(
        (read[0].ts, read[0].seq, read[0].heart_rate_bpm),
        (at("2026-11-22T10:59:50Z").with_timezone(&Utc), 3001, Some(72))
    );
    assert_eq!(
        (read[1].ts, read[1].seq, read[1].worn, read[1].sos),
        (at("2026-11-22T10:59:55.5Z").with_timezone(&Utc), 3002, Some(false), Some(true))
    );
}

#[test]
fn packed_rows_that_are_corrupt_or_inflate_past_the_bound_are_refused() {
    use std::io::Write as _;
    let start = at("2026-11-22T10:50:00Z").with_timezone(&Utc);
    // 1 MiB of text in about a KB: refused before it is inflated whole.
    let mut bomb = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&vec![b'5'; 1 << 20]).unwrap();
    let bomb = bomb.finish().unwrap();
    assert!(bomb.len() < 2_048, "{}", bomb.len());
    assert!(matches!(Rows::Packed(bomb).decode(start, 0), Err(FormatError::Packed)));
    assert!(matches!(Rows::Packed(vec![0xff; 16]).decode(start, 0), Err(FormatError::Packed)));
    // Valid DEFLATE, but not rows.
    let mut text = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    text.write_all(b"5,1,x").unwrap();
    assert!(matches!(
        Rows::Packed(text.finish().unwrap()).decode(start, 0),
        Err(FormatError::Field { row: 0, field: 2 })
    ));
    // Offsets past any date are an error, in either format, not an overflow.
    let huge = format!("{},0;{},1", i64::MAX / 1000, i64::MAX / 1000);
    let mut far = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    far.write_all(huge.as_bytes()).unwrap();
    assert!(matches!(
        Rows::Packed(far.finish().unwrap()).decode(start, 0),
        Err(FormatError::Field { row: 0, field: 0 })
    ));
    assert!(matches!(Rows::Text(huge).decode(start, 0), Err(FormatError::Field { row: 0, field: 0 })));
    // Cut short, or not UTF-8: refused.
    let packed = Rows::pack(&[full("2026-11-22T10:50:05Z", 1), full("2026-11-22T10:50:10Z", 2)], start, 0);
    let Rows::Packed(bytes) = &packed else { panic!("v2 packs") };
    for cut in [1, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(Rows::Packed(bytes[..cut].to_vec()).decode(start, 0), Err(FormatError::Packed)), "{cut}");
    }
    let mut latin1 = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    latin1.write_all(b"5,1,\xe9").unwrap();
    assert!(matches!(Rows::Packed(latin1.finish().unwrap()).decode(start, 0), Err(FormatError::Packed)));
    // The bound itself: 64 KiB inflates (and is then read as rows), a byte more does not.
    for (len, inflates) in [(64 * 1024, true), (64 * 1024 + 1, false)] {
        let mut text = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        text.write_all(&vec![b'x'; len]).unwrap();
        let got = Rows::Packed(text.finish().unwrap()).decode(start, 0);
        assert_eq!(matches!(got, Err(FormatError::Field { .. })), inflates, "{len}: {got:?}");
    }
    // The inflater is reused: an item after a refused one still reads.
    assert_eq!(packed.decode(start, 0).unwrap().len(), 2);
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
fn key_ranges_select_every_item_that_can_hold_the_window() {
    let t = |s: &str| at(s).with_timezone(&Utc);
    let (low, high) = key_range(t("2026-11-22T10:07:30Z"), t("2026-11-22T10:59:59Z"));
    assert_eq!((low.as_str(), high.as_str()), ("2026-11-22T10:00Z", "2026-11-22T10:59Z$"));
    for (sk, inside) in [
        ("2026-11-22T09:59Z#band#1", false),
        ("2026-11-22T09:50Z#band#1", false),
        // The span holding 10:07:30, and a one-minute item written before spans.
        ("2026-11-22T10:00Z#band#1", true),
        ("2026-11-22T10:07Z#band#1", true),
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
fn the_shadow_is_the_newest_reading_of_the_items() {
    let e = envelope("w", vec![full("2026-11-22T10:59:50Z", 2), full("2026-11-22T10:59:45Z", 3)]);
    let mut late = envelope("w", vec![Reading::at(at("2026-11-22T10:59:40.0004Z"), 1)]);
    late.app_version = "1.4.1".into();
    let mut items = vitals_items(&late, ttl());
    items.extend(vitals_items(&e, ttl()));
    let shadow = Shadow::latest(&items).unwrap().unwrap();
    assert_eq!((shadow.seq, shadow.device_id.as_str(), shadow.app_version.as_str()), (2, "band-0001", "1.4.2"));
    assert_eq!(shadow.last_seen, at("2026-11-22T10:59:50Z"));
    assert_eq!((shadow.heart_rate_bpm, shadow.worn, shadow.sleep_stage), (Some(72), Some(true), None));
    // Only the late reading: its own state, to the millisecond, without measurements it lacked.
    let alone = Shadow::latest(&vitals_items(&late, ttl())).unwrap().unwrap();
    assert_eq!(
        (alone.last_seen, alone.app_version.as_str(), alone.heart_rate_bpm),
        (at("2026-11-22T10:59:40Z").with_timezone(&Utc), "1.4.1", None)
    );
    assert_eq!(Shadow::latest(&[]).unwrap(), None);
    // A row that does not decode is an error, not a missing state.
    let mut broken = vitals_items(&e, ttl());
    broken[0].readings = Rows::Text("x,y".into());
    assert!(Shadow::latest(&broken).is_err());
    broken[0].readings = Rows::Packed(b"not deflate".to_vec());
    assert!(Shadow::latest(&broken).is_err());
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
            let ts =
                DateTime::from_timestamp(base.div_euclid(1000), 0).unwrap() + TimeDelta::nanoseconds(i64::from(nanos));
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
            r.activity =
                [None, Some(Activity::Rest), Some(Activity::Light), Some(Activity::Moderate), Some(Activity::Vigorous)]
                    [act as usize];
            r.sleep_stage =
                [None, Some(SleepStage::Awake), Some(SleepStage::Light), Some(SleepStage::Deep), Some(SleepStage::Rem)]
                    [sleep as usize];
            r
        })
}

proptest! {
    /// Every distinct reading lands in exactly one item, in the item of its
    /// span, and reads back exactly; the items do not depend on the order
    /// of the readings.
    #[test]
    fn every_reading_is_in_exactly_one_item_and_reads_back(
        readings in proptest::collection::vec(arb_reading(), 0..300),
        seed in any::<u64>(),
    ) {
        let e = envelope("wearer-1", readings.clone());
        let items = vitals_items(&e, ttl());
        let mut stored: Vec<StoredReading> = Vec::new();
        for item in &items {
            let rows = item.rows().unwrap();
            prop_assert_eq!(rows.len(), item.count as usize);
            prop_assert!(rows.len() <= MAX_READINGS_PER_ITEM);
            prop_assert_eq!(rows.iter().map(|r| r.seq).min(), Some(item.first_seq));
            for row in &rows {
                prop_assert_eq!(span_start(row.ts), item.start);
            }
            stored.extend(rows);
        }
        let mut expected: Vec<StoredReading> = Vec::new();
        for r in &readings {
            if !expected.iter().any(|x| x.seq == r.seq) {
                expected.push(StoredReading::of(r));
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
        let again = vitals_items(&envelope("wearer-1", unique), ttl());
        prop_assert_eq!(again, items);
    }

    /// Whatever order envelopes arrive in, the shadow is the newest reading of
    /// them all, and the items of the newest span alone give it (what the store reads).
    #[test]
    fn the_shadow_is_the_newest_reading_in_any_order(
        envelopes in proptest::collection::vec(proptest::collection::vec(arb_reading(), 1..8), 1..12),
        order in any::<u64>(),
    ) {
        let envelopes: Vec<Envelope> = envelopes.into_iter().map(|r| envelope("w", r)).collect();
        // Of a seq repeated within an envelope the first is kept, as ingest does.
        let newest_overall = envelopes
            .iter()
            .flat_map(|e| e.readings.iter().enumerate().filter(|(i, r)| !e.readings[..*i].iter().any(|x| x.seq == r.seq)))
            .map(|(_, r)| r.ts.with_timezone(&Utc).trunc_subsecs(3))
            .max();
        let mut idx: Vec<usize> = (0..envelopes.len()).collect();
        let mut rng = order;
        for i in (1..idx.len()).rev() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            idx.swap(i, (rng >> 33) as usize % (i + 1));
        }
        let items: Vec<VitalsItem> = idx.iter().flat_map(|&i| vitals_items(&envelopes[i], ttl())).collect();
        let shadow = Shadow::latest(&items).unwrap();
        prop_assert_eq!(shadow.as_ref().map(|s| s.last_seen), newest_overall);
        let newest_span = items.iter().map(|i| i.start).max();
        let span_items: Vec<VitalsItem> = items.iter().filter(|i| Some(i.start) == newest_span).cloned().collect();
        prop_assert_eq!(Shadow::latest(&span_items).unwrap(), shadow);
    }
}

/// A known day: readings every 5 s from 10:00:00 to 10:09:55 with heart rate
/// 60 + (seq % 7) and 2 steps each, a gap 10:10–10:20, then 10:20:00–10:24:55
/// with heart rate 100; a re-upload repeats 10:00's minute at another first seq.
fn known_day() -> Vec<VitalsItem> {
    let mut readings = Vec::new();
    let mut seq = 0;
    for (start_min, minutes, hr) in [(0, 10, None), (20, 5, Some(100))] {
        for i in 0..minutes * 12 {
            let ts = format!("2026-11-22T10:{:02}:{:02}Z", start_min + i / 12, (i % 12) * 5);
            let mut r = Reading::at(at(&ts), seq);
            r.heart_rate_bpm = Some(hr.unwrap_or(60 + (seq % 7) as i64));
            r.steps = Some(2);
            r.worn = Some(true);
            readings.push(r);
            seq += 1;
        }
    }
    let mut items = vitals_items(&envelope("w", readings.clone()), ttl());
    // The same first minute again, in an upload that starts it at seq 3.
    items.extend(vitals_items(&envelope("w", readings[3..12].to_vec()), ttl()));
    items
}

fn window(from: &str, to: &str) -> Window {
    Window::parse(Some(from), Some(to), MAX_WINDOW_DAYS).unwrap()
}

#[test]
fn metrics_are_exact_over_readings_not_averages_of_minutes() {
    let items = known_day();
    let w = window("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z");
    let readings = readings_in(&items, &w).unwrap();
    assert_eq!(readings.len(), 180, "each (device, seq) once, re-upload included");
    let request = MetricsRequest::parse(&serde_json::json!({
        "heart_rate_bpm": ["count", "min", "avg", "max"], "steps": ["sum"],
        "from": "2026-11-22T10:00:00Z", "to": "2026-11-22T11:00:00Z"
    }))
    .unwrap();
    let result = request.compute(&readings);
    let expected_sum: i64 = (0..120).map(|s| 60 + (s % 7)).sum::<i64>() + 60 * 100;
    assert_eq!(result["heart_rate_bpm"]["count"], 180);
    assert_eq!(result["heart_rate_bpm"]["min"], 60);
    assert_eq!(result["heart_rate_bpm"]["max"], 100);
    assert_eq!(result["heart_rate_bpm"]["avg"], expected_sum as f64 / 180.0);
    assert_eq!(result["steps"]["sum"], 360);
    // The average of the two spans' averages would be wrong: the second, half as full, weighs as much.
    let span_avgs: f64 = items.iter().take(2).filter_map(|i| i.hr_avg).sum::<f64>() / 2.0;
    assert_ne!(result["heart_rate_bpm"]["avg"], span_avgs);
}

#[test]
fn a_window_that_cuts_minutes_counts_only_the_readings_inside() {
    let items = known_day();
    // 10:00:30 (inclusive) to 10:01:10 (exclusive): seconds 30..55 of minute 0 and 0..5 of minute 1.
    let w = window("2026-11-22T10:00:30Z", "2026-11-22T10:01:10Z");
    let readings = readings_in(&items, &w).unwrap();
    assert_eq!(readings.len(), 6 + 2);
    assert!(readings.iter().all(|r| w.contains(r.ts)));
    // The gap: nothing, and the metrics say so instead of inventing zeros.
    let gap = window("2026-11-22T10:10:00Z", "2026-11-22T10:20:00Z");
    let none = readings_in(&items, &gap).unwrap();
    assert!(none.is_empty());
    let request = MetricsRequest::parse(&serde_json::json!({
        "heart_rate_bpm": ["count", "avg", "max"], "from": "2026-11-22T10:10:00Z", "to": "2026-11-22T10:20:00Z"
    }))
    .unwrap();
    assert_eq!(
        serde_json::Value::Object(request.compute(&none)),
        serde_json::json!({"heart_rate_bpm": {"count": 0, "avg": null, "max": null}})
    );
}

#[test]
fn series_leave_gaps_and_aggregate_each_step() {
    let items = known_day();
    let w = window("2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z");
    let readings = readings_in(&items, &w).unwrap();
    let minutes = series(&readings, Resolution::Minute);
    assert_eq!(minutes.len(), 15, "10 + 5 minutes, the gap left out");
    assert_eq!(minutes[10].t, at("2026-11-22T10:20:00Z").with_timezone(&Utc));
    assert_eq!((minutes[10].readings, minutes[10].worn, minutes[10].steps), (12, 12, Some(24.0)));
    assert_eq!(minutes[10].heart_rate_bpm.map(|s| (s.min, s.avg, s.max)), Some((100.0, 100.0, 100.0)));
    let hours = series(&readings, Resolution::Hour);
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].readings, 180);
    assert_eq!(hours[0].heart_rate_bpm.map(|s| s.max), Some(100.0));
}

#[test]
fn metrics_requests_report_every_problem() {
    let ok = |body: serde_json::Value| MetricsRequest::parse(&body);
    let from = "2026-11-01T00:00:00Z";
    // Unknown measures and metrics are listed; the rest is computed.
    let r = ok(serde_json::json!({"heart_rate_bpm": ["avg", "median"], "mood": ["avg"], "from": from, "to": "2026-11-02T00:00:00Z"})).unwrap();
    assert_eq!(r.wanted.len(), 1);
    let fields: Vec<&str> = r.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["heart_rate_bpm[1]", "mood"]);
    // Only unknown keys: rejected.
    let rejected = ok(serde_json::json!({"mood": ["avg"], "from": from, "to": "2026-11-02T00:00:00Z"})).unwrap_err();
    assert_eq!(rejected.errors.len(), 1);
    // Windows: over 31 days, backwards, missing, malformed.
    for (to, field) in [("2026-12-02T00:00:01Z", "to"), ("2026-10-31T00:00:00Z", "to"), ("soon", "to")] {
        let e = ok(serde_json::json!({"steps": ["sum"], "from": from, "to": to})).unwrap_err();
        assert_eq!(e.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), [field], "{to}");
    }
    assert!(
        ok(serde_json::json!({"steps": ["sum"], "from": from, "to": "2026-12-02T00:00:00Z"})).is_ok(),
        "31 days exactly"
    );
    let e = ok(serde_json::json!({"steps": ["sum"]})).unwrap_err();
    assert_eq!(e.errors.len(), 2);
    // A bad window and an unknown measure: both listed.
    let e = ok(serde_json::json!({"steps": ["sum"], "mood": ["avg"], "from": from, "to": from})).unwrap_err();
    assert_eq!(e.errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["to", "mood"]);
    let e = ok(serde_json::json!([1, 2])).unwrap_err();
    assert_eq!(e.errors.len(), 1);
}
