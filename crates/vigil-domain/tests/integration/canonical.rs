//! The envelope's fast path (`envelope::canonical`) against serde_json, the
//! decoder of record: whenever the fast path returns an envelope, serde_json
//! decodes the same bytes to an equal one; and it does take ingest's own layout.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use vigil_domain::envelope::{canonical, encode_envelopes};
use vigil_domain::reading::{Activity, Location, SleepStage};
use vigil_domain::{Envelope, Reading, Upload};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
}

/// The fast path's contract on `bytes`: declines, or agrees with serde_json.
fn assert_agrees(bytes: &[u8]) -> Result<bool, TestCaseError> {
    let Some(fast) = canonical::decode(bytes) else { return Ok(false) };
    match Envelope::decode_serde(bytes) {
        Ok(serde) => prop_assert_eq!(&fast, &serde, "{}", String::from_utf8_lossy(bytes)),
        // The version and repeated seqs are checked after decoding, on both paths.
        Err(vigil_domain::envelope::DecodeError::Version(v)) => prop_assert_eq!(fast.v, v),
        Err(vigil_domain::envelope::DecodeError::RepeatedSeq(seq)) => {
            prop_assert!(fast.readings.iter().filter(|r| r.seq == seq).count() > 1)
        }
        Err(e) => {
            prop_assert!(false, "fast path took what serde_json refuses ({e}): {}", String::from_utf8_lossy(bytes))
        }
    }
    // And `decode` (fast path first) gives what serde_json alone gives.
    prop_assert_eq!(format!("{:?}", Envelope::decode(bytes)), format!("{:?}", Envelope::decode_serde(bytes)));
    Ok(true)
}

fn realistic_reading(seq: u64) -> Reading {
    let ts = (now() - Duration::seconds(5 * (100 - seq as i64))).with_timezone(&FixedOffset::east_opt(3600).unwrap());
    let mut r = Reading::at(ts, seq);
    r.heart_rate_bpm = Some(72);
    r.spo2_pct = Some(97);
    r.skin_temp_c = Some(33.9);
    r.steps = Some(0);
    r.activity = Some(Activity::Rest);
    r.sleep_stage = Some(SleepStage::Deep);
    r.fall_detected = Some(false);
    r.fall_cancelled = Some(true);
    r.sos = Some(false);
    r.battery_pct = Some(64);
    r.worn = Some(true);
    r.location = Some(Location { lat: 40.4168, lon: -3.7038, accuracy_m: Some(12.5) });
    r
}

fn ingest_record(readings: Vec<Reading>) -> Vec<u8> {
    let upload = Upload {
        device_id: "band-0001".into(),
        batch_id: "01JD8Z6Q3K4M5N6P7R8S9T0V1W".into(),
        app_version: "1.4.2".into(),
        readings,
        rejected: Vec::new(),
    };
    encode_envelopes(&upload, "wearer-0001", now() + Duration::nanoseconds(123_456_789)).unwrap().remove(0)
}

#[test]
fn ingests_own_records_take_the_fast_path() {
    let mut sparse = Reading::at(now().fixed_offset(), 7);
    sparse.sos = Some(true);
    let mut no_accuracy = realistic_reading(8);
    no_accuracy.location = Some(Location { lat: -23.5505, lon: -46.6333, accuracy_m: None });
    for readings in [vec![realistic_reading(1), realistic_reading(2)], vec![sparse], vec![no_accuracy]] {
        let bytes = ingest_record(readings.clone());
        assert!(assert_agrees(&bytes).unwrap(), "declined: {}", String::from_utf8_lossy(&bytes));
        assert_eq!(canonical::decode(&bytes).unwrap().readings, readings);
    }
}

#[test]
fn every_layout_it_does_not_expect_is_declined() {
    let good = String::from_utf8(ingest_record(vec![realistic_reading(1)])).unwrap();
    let declined = [
        good.replacen("{\"v\":1,", "{ \"v\":1,", 1),
        good.replacen("\"seq\":1,", "\"seq\":1 ,", 1),
        format!("{good} "),
        format!("{good}x"),
        good.replacen("\"heart_rate_bpm\":72,\"spo2_pct\":97", "\"spo2_pct\":97,\"heart_rate_bpm\":72", 1),
        good.replacen("\"spo2_pct\":97", "\"spo2_pct\":97,\"spo2_pct\":98", 1),
        good.replacen("\"spo2_pct\":97", "\"spo2_pct\":null", 1),
        good.replacen("\"spo2_pct\":97", "\"spo2_pct\":097", 1),
        good.replacen("\"spo2_pct\":97", "\"spo2_pct\":97.0", 1),
        good.replacen("\"spo2_pct\":97", "\"spo2_pct\":-0", 1),
        good.replacen("\"spo2_pct\":97", "\"spo2_pct\":9223372036854775808", 1),
        good.replacen("\"skin_temp_c\":33.9", "\"skin_temp_c\":3.39e1", 1),
        good.replacen("\"skin_temp_c\":33.9", "\"skin_temp_c\":33.", 1),
        good.replacen("\"skin_temp_c\":33.9", "\"skin_temp_c\":1e999", 1),
        good.replacen("\"band-0001\"", "\"band\\u002d0001\"", 1),
        good.replacen("\"band-0001\"", "\"band\t0001\"", 1),
        good.replacen("\"rest\"", "\"Rest\"", 1),
        good.replacen("\"worn\":true", "\"worn\":1", 1),
        good.replacen("\"worn\":true", "\"worn\":true,\"mood\":\"ok\"", 1),
        good.replacen("\"accuracy_m\":12.5}", "\"accuracy_m\":12.5,\"alt\":3}", 1),
        good.replacen("\"v\":1", "\"v\":4294967296", 1),
        good.replacen("+01:00\"", "+01:00:00\"", 1),
    ];
    for bytes in declined {
        assert_ne!(bytes, good, "the fixture no longer contains what this case changes");
        assert!(canonical::decode(bytes.as_bytes()).is_none(), "taken: {bytes}");
        // serde_json still decides: most of these are refused, some accepted.
        assert_eq!(
            format!("{:?}", Envelope::decode(bytes.as_bytes())),
            format!("{:?}", Envelope::decode_serde(bytes.as_bytes()))
        );
    }
    // Forms the fast path reads the way serde_json does rather than declining.
    let taken = [
        good.replacen("+01:00\"", "+00:00\"", 1),
        good.replacen("\"ts\":\"2026-11-22T10:51:45+01:00\"", "\"ts\":\"2026-11-22T10:51:45.5+01:00\"", 1),
        good.replacen("\"skin_temp_c\":33.9", "\"skin_temp_c\":-0.0", 1),
        good.replacen("\"skin_temp_c\":33.9", "\"skin_temp_c\":34", 1),
        good.replacen("\"spo2_pct\":97", "\"spo2_pct\":-97", 1),
        good.replacen("\"v\":1", "\"v\":2", 1),
        good.replacen("\"band-0001\"", "\"bånd-0001\"", 1),
    ];
    for bytes in taken {
        assert_ne!(bytes, good, "the fixture no longer contains what this case changes");
        assert!(assert_agrees(bytes.as_bytes()).unwrap(), "declined: {bytes}");
    }
}

/// Every single-byte change, deletion and insertion of a structural, numeric or
/// odd byte anywhere in a full record: the fast path declines or agrees.
#[test]
fn no_single_byte_edit_makes_it_disagree() {
    let good = ingest_record(vec![realistic_reading(1), realistic_reading(2)]);
    let bytes: &[u8] = b"{}[]\",:\\ \t0159-.eE+tfnulZT\x00\x1f\x7f\xc3\xff";
    let mut taken = 0;
    for i in 0..good.len() {
        let mut deleted = good.clone();
        deleted.remove(i);
        taken += usize::from(assert_agrees(&deleted).unwrap());
        for &b in bytes {
            let mut changed = good.clone();
            changed[i] = b;
            taken += usize::from(assert_agrees(&changed).unwrap());
            let mut inserted = good.clone();
            inserted.insert(i, b);
            taken += usize::from(assert_agrees(&inserted).unwrap());
        }
    }
    // Digits changed inside numbers and ids are still ingest's layout.
    assert!(taken > 1000, "only {taken} edits taken: the fast path declines too much to test");
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z0-9-]{0,12}", 1 => ".{0,8}", 1 => "[\"\\\\\\x00-\\x1f é]{0,4}"]
}

fn arb_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (-100_000i64..100_000, 0u32..4).prop_map(|(n, scale)| n as f64 / 10f64.powi(scale as i32)),
        1 => any::<f64>().prop_filter("JSON has no NaN or infinity", |f| f.is_finite()),
    ]
}

fn arb_int() -> impl Strategy<Value = i64> {
    prop_oneof![3 => -300i64..300_000, 1 => any::<i64>()]
}

fn arb_reading() -> impl Strategy<Value = Reading> {
    use prop::option::of;
    let ts = (-3_000_000_000i64..3_000_000_000, prop_oneof![3 => Just(0u32), 1 => 0u32..1_000_000_000], -1439i32..1440)
        .prop_map(|(s, nanos, off)| {
            let utc = DateTime::from_timestamp(1_764_000_000 + s, nanos).unwrap();
            utc.with_timezone(&FixedOffset::east_opt(off * 60).unwrap())
        });
    let ints = (of(arb_int()), of(arb_int()), of(arb_int()), of(arb_int()));
    let states = (
        of(select(&[Activity::Rest, Activity::Light, Activity::Moderate, Activity::Vigorous][..])),
        of(select(&[SleepStage::Awake, SleepStage::Light, SleepStage::Deep, SleepStage::Rem][..])),
        (of(any::<bool>()), of(any::<bool>()), of(any::<bool>()), of(any::<bool>())),
    );
    let location = of((arb_float(), arb_float(), of(arb_float())).prop_map(|(lat, lon, accuracy_m)| Location {
        lat,
        lon,
        accuracy_m,
    }));
    (ts, any::<u64>(), ints, of(arb_float()), states, location).prop_map(
        |(ts, seq, (hr, spo2, steps, battery), temp, (activity, sleep, (fall, cancel, sos, worn)), location)| {
            let mut r = Reading::at(ts, seq);
            (r.heart_rate_bpm, r.spo2_pct, r.steps, r.battery_pct, r.skin_temp_c) = (hr, spo2, steps, battery, temp);
            (r.activity, r.sleep_stage, r.fall_detected, r.fall_cancelled, r.sos, r.worn) =
                (activity, sleep, fall, cancel, sos, worn);
            r.location = location;
            r
        },
    )
}

fn arb_envelope() -> impl Strategy<Value = Envelope> {
    (
        prop_oneof![9 => Just(1u32), 1 => any::<u32>()],
        (arb_string(), arb_string(), arb_string(), arb_string()),
        (any::<u32>(), any::<u32>()),
        (0i64..4_000_000_000, 0u32..1_000_000_000),
        prop::collection::vec(arb_reading(), 0..6),
    )
        .prop_map(|(v, (batch_id, device_id, wearer_id, app_version), (part, parts), (secs, nanos), readings)| {
            Envelope {
                v,
                batch_id,
                part,
                parts,
                device_id,
                wearer_id,
                app_version,
                received_at: DateTime::from_timestamp(secs, nanos).unwrap(),
                readings,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any envelope serde_json writes: the fast path takes it or declines it,
    /// and what it takes is what serde_json reads back.
    #[test]
    fn any_envelope_is_read_as_serde_json_reads_it(envelope in arb_envelope()) {
        let bytes = serde_json::to_vec(&envelope).unwrap();
        assert_agrees(&bytes)?;
    }

    /// Plain ids and decimal values, as ingest writes them: always taken.
    #[test]
    fn ingests_layout_is_always_taken(mut envelope in arb_envelope(), plain in "[a-z0-9-]{1,12}") {
        envelope.v = 1;
        (envelope.batch_id, envelope.device_id, envelope.wearer_id, envelope.app_version) =
            (plain.clone(), plain.clone(), plain.clone(), plain);
        for r in &mut envelope.readings {
            // What ryu writes without an exponent: two decimals, below 10^5.
            let short = |f: f64| ((f % 100_000.0) * 100.0).round() / 100.0;
            r.skin_temp_c = r.skin_temp_c.map(short);
            if let Some(l) = &mut r.location {
                (l.lat, l.lon, l.accuracy_m) = (short(l.lat), short(l.lon), l.accuracy_m.map(short));
            }
        }
        let bytes = serde_json::to_vec(&envelope).unwrap();
        prop_assert!(assert_agrees(&bytes)?, "declined: {}", String::from_utf8_lossy(&bytes));
    }

    /// Decimals of any length where a float goes (serde_json with
    /// `float_roundtrip` and `str::parse` must round them alike), and any
    /// integer text where an integer goes.
    #[test]
    fn numbers_of_any_length_are_read_alike(
        decimal in "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,30})?",
        integer in "-?[0-9]{1,22}",
    ) {
        let good = String::from_utf8(ingest_record(vec![realistic_reading(1)])).unwrap();
        for text in [
            good.replacen("\"skin_temp_c\":33.9", &format!("\"skin_temp_c\":{decimal}"), 1),
            good.replacen("\"lat\":40.4168", &format!("\"lat\":{decimal}"), 1),
            good.replacen("\"spo2_pct\":97", &format!("\"spo2_pct\":{integer}"), 1),
            good.replacen("\"seq\":1", &format!("\"seq\":{integer}"), 1),
        ] {
            assert_agrees(text.as_bytes())?;
        }
        // Up to 19 integer digits fit the scan: such decimals are taken, not declined.
        let int_digits = decimal.trim_start_matches('-').split('.').next().unwrap_or("").len();
        if int_digits <= 19 {
            let text = good.replacen("\"skin_temp_c\":33.9", &format!("\"skin_temp_c\":{decimal}"), 1);
            prop_assert!(assert_agrees(text.as_bytes())?, "declined {decimal}");
        }
    }

    /// Random edits of an arbitrary envelope's bytes: declined, or read alike.
    #[test]
    fn edited_envelopes_are_declined_or_read_alike(
        envelope in arb_envelope(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut bytes = serde_json::to_vec(&envelope).unwrap();
        for (at, byte, kind) in edits {
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => { bytes.remove(i); }
            }
        }
        assert_agrees(&bytes)?;
    }
}
