//! Fixtures shared by the handler, mocks and curated tests.

use chrono::DateTime;
use vigil_domain::alerts::Language;
use vigil_domain::care::{Caregiver, WearerProfile};
use vigil_domain::reading::{Location, Reading};

/// The only caregiver of [`sms_only`] wearers.
pub const PHONE: &str = "+34600000001";

/// A wearer in Madrid with one caregiver, SMS only, and no escalation: an alert
/// means exactly one message (escalation is tested in offline-detector's tests).
pub fn sms_only(wearer: &str) -> WearerProfile {
    WearerProfile {
        snoozes: Default::default(),
        escalation: vigil_domain::escalation::EscalationPolicy {
            critical: Vec::new(),
            high: Vec::new(),
            medium: Vec::new(),
            low: Vec::new(),
        },
        wearer_id: wearer.into(),
        name: "Carmen Ruiz".into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers: vec![Caregiver {
            sub: None,
            name: None,
            id: "cg-daughter".into(),
            level: 1,
            language: Language::Es,
            phone: Some(PHONE.into()),
            push_endpoint: None,
            quiet_hours: None,
            daily_at: None,
        }],
    }
}

/// A calm reading: worn, walking a little, heart rate 80.
pub fn reading(ts: &str, seq: u64) -> Reading {
    let mut r = Reading::at(DateTime::parse_from_rfc3339(ts).unwrap(), seq);
    r.heart_rate_bpm = Some(80);
    r.worn = Some(true);
    r.steps = Some(3);
    r
}

/// SOS pressed, with the phone's location.
pub fn sos(ts: &str, seq: u64) -> Reading {
    let mut r = reading(ts, seq);
    r.sos = Some(true);
    r.location = Some(Location { lat: 40.4168, lon: -3.7038, accuracy_m: Some(8.0) });
    r
}
