//! Fixtures shared by the upload and property tests.

use serde_json::{Value, json};

/// A complete, valid reading as the app would send it.
pub fn full_reading(seq: u64) -> Value {
    json!({
        "ts": "2026-11-22T10:59:00+01:00",
        "seq": seq,
        "heart_rate_bpm": 72,
        "spo2_pct": 97,
        "skin_temp_c": 33.4,
        "steps": 4,
        "activity": "light",
        "sleep_stage": "awake",
        "fall_detected": false,
        "fall_cancelled": false,
        "sos": false,
        "battery_pct": 81,
        "worn": true,
        "location": {"lat": 40.41, "lon": -3.70, "accuracy_m": 12.0}
    })
}
