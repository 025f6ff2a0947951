//! Reading ids and the stream envelope: ids every sink can deduplicate on, and
//! uploads split into records Kinesis will take.

use std::collections::HashSet;

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use serde_json::json;
use vigil_domain::envelope::{MAX_RECORD_BYTES, encode_envelopes};
use vigil_domain::reading::{Activity, Location, SleepStage};
use vigil_domain::upload::MAX_READINGS;
use vigil_domain::{Envelope, Reading, ReadingId, Upload, parse_upload};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
}

/// A reading with every field set, at the widest text each field can take.
fn widest_reading(seq: u64) -> Reading {
    let ts = (now() - Duration::days(6) + Duration::nanoseconds(123_456_789 + seq as i64))
        .with_timezone(&FixedOffset::west_opt(11 * 3600 + 59 * 60).unwrap());
    let mut r = Reading::at(ts, u64::MAX - seq);
    r.heart_rate_bpm = Some(250);
    r.spo2_pct = Some(100);
    r.skin_temp_c = Some(44.999999999999986);
    r.steps = Some(10_000);
    r.activity = Some(Activity::Vigorous);
    r.sleep_stage = Some(SleepStage::Awake);
    r.fall_detected = Some(false);
    r.fall_cancelled = Some(false);
    r.sos = Some(false);
    r.battery_pct = Some(100);
    r.worn = Some(false);
    r.location =
        Some(Location { lat: -89.99999999999997, lon: -179.99999999999997, accuracy_m: Some(99_999.99999999999) });
    r
}

fn upload_of(readings: Vec<Reading>) -> Upload {
    Upload {
        device_id: "band-0001".into(),
        batch_id: "01JD8Z6Q3K4M5N6P7R8S9T0V1W".into(),
        app_version: "1.4.2".into(),
        readings,
        rejected: Vec::new(),
    }
}

/// Decodes every part, checks the part numbering and that each part is a usable
/// record, and returns the readings in part order.
fn decode_all(parts: &[Vec<u8>], upload: &Upload, wearer: &str) -> Vec<Reading> {
    let mut readings = Vec::new();
    for (i, bytes) in parts.iter().enumerate() {
        assert!(bytes.len() <= MAX_RECORD_BYTES, "part {i} is {} bytes", bytes.len());
        let env = Envelope::decode(bytes).unwrap();
        assert_eq!((env.part as usize, env.parts as usize), (i, parts.len()));
        assert_eq!(env.batch_id, upload.batch_id);
        assert_eq!(env.device_id, upload.device_id);
        assert_eq!(env.partition_key(), wearer);
        assert!(!env.readings.is_empty(), "part {i} carries no readings");
        readings.extend(env.readings);
    }
    readings
}

#[test]
fn a_reading_id_is_the_same_for_the_same_device_and_seq() {
    let first = ReadingId::new("band-0001", 42);
    for _ in 0..3 {
        assert_eq!(ReadingId::new("band-0001", 42), first);
    }
    // Pinned: the id is stored by every sink and merged on in Redshift, so the
    // derivation (SHA-256 of "vigil/reading/v1\0" device "\0" seq-big-endian,
    // first 16 bytes) must never change between releases.
    assert_eq!(first.to_string(), "8e8703f800aea2d1422905442bd9790c");
    let env =
        Envelope::decode(&encode_envelopes(&upload_of(vec![widest_reading(7)]), "w-1", now()).unwrap()[0]).unwrap();
    assert_eq!(env.reading_id(&env.readings[0]), ReadingId::new("band-0001", u64::MAX - 7));
}

#[test]
fn a_reading_id_differs_when_the_device_or_the_seq_differs() {
    assert_ne!(ReadingId::new("band-0001", 1), ReadingId::new("band-0002", 1));
    assert_ne!(ReadingId::new("band-0001", 1), ReadingId::new("band-0001", 2));
    // Devices that are prefixes of each other and seqs that share bytes must
    // not meet: ("band-1", 0) and ("band-10", ..) or ("band-1", 256).
    let mut seen = HashSet::new();
    for device in ["band-1", "band-10", "band-100", "", "band-1\0"] {
        for seq in [0, 1, 10, 256, 65_536, u64::MAX] {
            assert!(seen.insert(ReadingId::new(device, seq)), "collision at {device:?}/{seq}");
        }
    }
}

#[test]
fn a_reading_id_shows_as_32_lowercase_hex_digits_that_hide_the_device() {
    for device in ["band-0001", "deadbeef", "0123456789abcdef"] {
        let id = ReadingId::new(device, 3);
        let shown = id.to_string();
        assert_eq!(shown.len(), 32, "{shown}");
        assert!(shown.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "{shown}");
        assert!(!shown.contains(device), "{shown} reveals {device}");
        assert_eq!(shown, hex(id.as_bytes()));
        // Serialized the same way, so every sink writes the same key.
        assert_eq!(serde_json::to_value(id).unwrap(), json!(shown));
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_largest_valid_upload_fits_one_record() {
    // Splitting is a safety net: validation bounds every field, so even the
    // maximum number of the widest readings goes as one record.
    let readings: Vec<_> =
        (0..MAX_READINGS as u64).map(|seq| serde_json::to_value(widest_reading(seq)).unwrap()).collect();
    let body = serde_json::to_vec(&json!({
        "device_id": "d".repeat(64), "batch_id": "b".repeat(64), "app_version": "v".repeat(32), "readings": readings,
    }))
    .unwrap();
    let upload = parse_upload(&body, now()).unwrap();
    assert_eq!(upload.readings.len(), MAX_READINGS);
    let parts = encode_envelopes(&upload, &"w".repeat(128), now()).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(decode_all(&parts, &upload, &"w".repeat(128)), upload.readings);
}

#[test]
fn an_upload_too_big_for_one_record_is_split_into_records_that_fit_and_keep_order() {
    // More than one record's worth: built directly, as validation would refuse it.
    let readings: Vec<_> = (0..6_000).map(widest_reading).collect();
    let upload = upload_of(readings);
    let parts = encode_envelopes(&upload, "wearer-7", now()).unwrap();
    assert!(parts.len() >= 2, "{} part(s)", parts.len());
    assert_eq!(decode_all(&parts, &upload, "wearer-7"), upload.readings);
    // Deterministic, so a retried ingest writes the same records.
    assert_eq!(encode_envelopes(&upload, "wearer-7", now()).unwrap(), parts);
}

#[test]
fn a_split_upload_fills_records_rather_than_scattering_readings() {
    // Just over the limit: halving once is enough, so two parts, not dozens.
    let one: usize = serde_json::to_vec(&widest_reading(0)).unwrap().len() + 1;
    let n = MAX_RECORD_BYTES / one + 10;
    let upload = upload_of((0..n as u64).map(widest_reading).collect());
    let parts = encode_envelopes(&upload, "wearer-7", now()).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(decode_all(&parts, &upload, "wearer-7"), upload.readings);
}

#[test]
fn timestamps_keep_their_offset_and_precision_through_the_envelope() {
    let body = json!({"device_id": "band-0001", "batch_id": "b-1", "app_version": "1.4.2", "readings": [
        {"ts": "2026-11-22T06:59:00.250-03:00", "seq": 1, "worn": true},
        {"ts": "2026-11-22T19:29:59.123456789+09:30", "seq": 2, "worn": true},
        {"ts": "2026-11-22T09:59:60.5Z", "seq": 3, "worn": true},
    ]});
    let upload = parse_upload(&serde_json::to_vec(&body).unwrap(), now()).unwrap();
    assert_eq!(upload.readings.len(), 3, "{:?}", upload.rejected);
    let env = Envelope::decode(&encode_envelopes(&upload, "w-1", now()).unwrap()[0]).unwrap();
    for (got, sent) in env.readings.iter().zip(&upload.readings) {
        assert_eq!(got.ts, sent.ts);
        assert_eq!(got.ts.offset(), sent.ts.offset());
        assert_eq!(got.ts.to_rfc3339(), sent.ts.to_rfc3339());
    }
}

#[test]
fn records_ingest_never_writes_are_refused_with_their_reason() {
    use vigil_domain::envelope::DecodeError;
    let decode = |v: &serde_json::Value| Envelope::decode(&serde_json::to_vec(v).unwrap());
    let bytes = encode_envelopes(&upload_of((0..3).map(widest_reading).collect()), "w-1", now()).unwrap().remove(0);
    let valid: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(decode(&valid).is_ok());

    // A newer version with a field this one lacks is named as the version, not as a stray field.
    let mut newer = valid.clone();
    newer["v"] = json!(2);
    newer["consent"] = json!({"scope": "research"});
    assert!(matches!(decode(&newer), Err(DecodeError::Version(2))), "{:?}", decode(&newer));

    let mut repeated = valid.clone();
    repeated["readings"][2]["seq"] = repeated["readings"][0]["seq"].clone();
    let seq = repeated["readings"][0]["seq"].as_u64().unwrap();
    assert!(matches!(decode(&repeated), Err(DecodeError::RepeatedSeq(s)) if s == seq), "{:?}", decode(&repeated));

    // Valid but for its size: refused before it is parsed.
    let mut big = valid;
    big["readings"] = json!((0..4_000).map(widest_reading).collect::<Vec<_>>());
    let big = serde_json::to_vec(&big).unwrap();
    assert!(big.len() > MAX_RECORD_BYTES);
    assert!(matches!(Envelope::decode(&big), Err(DecodeError::TooLarge(n)) if n == big.len()));

    for (err, kind) in [(decode(&newer), "unsupported_version"), (decode(&repeated), "repeated_seq")] {
        assert_eq!(err.unwrap_err().kind(), kind);
    }
    assert_eq!(Envelope::decode(b"\xde\xad").unwrap_err().kind(), "not_json");
    assert_eq!(Envelope::decode(b"[1]").unwrap_err().kind(), "not_an_envelope");
}
