//! The wristband fleet simulator: a pure, deterministic source of uploads exactly
//! as the mobile app would post them (upload contract v1), with injected events
//! that the pipeline must turn into alerts.
//!
//! Nothing here does I/O or reads a clock: [`Fleet::new`] lays out the wearers and
//! the events for a [`FleetConfig`], and [`Fleet::uploads`] generates every upload
//! of the run lazily, in `due` order. The same config (seed included) always gives
//! byte-identical uploads.
//!
//! # Wearers
//!
//! Wearer `n` (from 1) is `wearer-000n` with band `band-000n` and app user
//! `app-user-000n`, in one of five time zones in turn (Europe/Madrid,
//! America/Sao_Paulo, Europe/London, America/New_York, Asia/Tokyo), with a
//! fictitious name and 1–2 caregivers reading es, pt-BR or en. Caregiver phone
//! numbers are unique across the fleet and in the fictitious NXX-555-01xx range
//! ([`Fleet::wearer_by_phone`] maps one back). Every fourth wearer has a tighter
//! heart-rate limit (115 bpm): the generator takes every limit from the profile.
//!
//! # Readings
//!
//! One every `reading_interval_s` from `start` (truncated to whole seconds) until
//! `start + duration`, timestamped in the wearer's local offset. Awake, the wearer
//! moves in 10-minute blocks of rest, light or moderate activity (at least one in
//! four blocks has movement, so a daytime is never inactive for long); heart rate
//! follows the activity and a circadian term with smoothed noise; at night (a
//! bedtime 30–120 min after the wearer's daytime ends, waking 30–120 min before it
//! starts) it reports sleep stages in 90-minute cycles and a lower heart rate.
//! SpO2 95–99 %, skin temperature, battery draining about 0.5 %/h from 60–100 %
//! (topped up to 100 % before it would fall under 25 %: a band charged overnight),
//! `worn: true`. Outside injected events every value keeps a margin from the
//! wearer's [`Thresholds`]; the tests run the real rules engine over fleets without
//! events and expect no alert at all.
//!
//! # Uploads
//!
//! Each phone follows the upload policy ingest-api gives the app
//! ([`vigil_domain::upload::policy`]), with `upload_interval_s` as its routine
//! interval: every `upload_interval_s` (its own phase within the interval) it posts
//! the readings since its previous upload, at most [`MAX_READINGS`] per upload
//! (more are split into several uploads with the same `due`). A reading with SOS,
//! a fall or a fall cancel is posted at once (`due` one second after it); one past
//! the wearer's heart-rate or SpO2 limits too, unless the phone posted less than
//! the policy's urgent interval (60 s, or the routine one if shorter) ago. The last upload is due at the end of the run. `batch_id` is
//! `<device>-<first seq>`; seqs count up by one per reading from a seed-derived
//! start per band.
//!
//! # Injected events
//!
//! `events_per_wearer_hour × wearers × hours` events, rounded, and never fewer than
//! the five of [`CORE_EVENTS`] (SOS, fall, cancelled fall, high heart rate, resent
//! upload) unless the rate is 0, so even a 30-minute run of 4 wearers has all of
//! them. The list of kinds is the core five, then the others in turn (low heart
//! rate, SpO2 dip, phone offline, band off, then the core kinds again...),
//! shuffled by the seed. Event `j` of `N` aims at `(j + ½)/N` of the run (after a
//! 3-minute warm-up, and early enough to finish and be alerted on before the run
//! ends) and goes to wearers in rotation: the first wearer with a free slot
//! nearest that time wins. A slot is free when the event, with 2 minutes either
//! side, overlaps no other event of that wearer, and no event of the same rule for
//! that wearer starts within the rule's cooldown plus a margin (35 min by default;
//! 6 min for SOS and falls, whose 5-minute windows are aligned to the epoch). A
//! band taken off must be in the wearer's daytime from start to end, or it is
//! placed elsewhere. An event that fits nowhere is dropped (only in runs too short
//! or too crowded for it), so [`Fleet::events`] is the truth.
//!
//! | kind | what the band and phone do | expects |
//! |---|---|---|
//! | `sos` | one reading with `sos: true` and a location | `sos` |
//! | `fall` | `fall_detected: true` with a location, then 2 min lying still | `fall` |
//! | `fall_cancelled` | a fall, then `fall_cancelled: true` 10–20 s later (within the cancel window) | none |
//! | `heart_rate_high` / `_low` | heart rate 8–20 bpm above / 3–8 below the limit for the sustain time + 1–2 min (3–4 min) | `heart_rate_high` / `_low` |
//! | `spo2_low` | SpO2 3–6 points under the limit for the sustain time + 1 min (3 min) | `spo2_low` |
//! | `band_off` | `worn: false`, no heart rate, SpO2 or steps, for the not-worn time + 5–10 min (35–40 min), all in daytime | `not_worn` |
//! | `phone_offline` | no uploads for the no-data time + 5–10 min (20–25 min), then the buffer in ≤ 1,000-reading uploads | `no_data` |
//! | `upload_resent` | the upload due at `at` is posted again, identical, 10–30 s later (`resend: true`) | none |
//!
//! `at` is the first affected reading (for `upload_resent`, the original upload's
//! `due`; for `phone_offline`, the moment the phone goes offline); `until` is when
//! the event is over (the cancel, the resend, the first reading back to normal).
//!
//! # Cost
//!
//! Generating every upload body of the default demo as it was with one-minute
//! uploads (20 wearers, 2 simulated hours: 2,344 uploads, 28,848 readings with
//! resends, 4.9 MB of JSON) took 31 ms
//! in a release build (fat LTO) on the 2-core development machine, measured by
//! `cargo test --release -p vigil-run --test fleet -- --ignored --nocapture generation_speed`;
//! a debug build takes about ten times that.

pub mod days;
mod people;
mod plan;
mod rng;
mod sim;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::Serialize;
use vigil_domain::alerts::RuleKind;
use vigil_domain::care::WearerProfile;
use vigil_domain::registry::DeviceLink;
pub use vigil_domain::upload::MAX_READINGS;

pub use people::canary_markers;
pub use sim::Uploads;

/// The `app_version` every simulated upload carries.
pub const SIM_APP_VERSION: &str = "2.4.0-sim";

/// Most wearers one fleet holds (every caregiver needs a distinct fictitious
/// number); [`Fleet::new`] caps `wearers` at this.
pub const MAX_WEARERS: usize = people::MAX_CAREGIVERS / 2;

/// The kinds every fleet with events includes, however short the run.
pub const CORE_EVENTS: [EventKind; 5] =
    [EventKind::Sos, EventKind::Fall, EventKind::FallCancelled, EventKind::HeartRateHigh, EventKind::UploadResent];

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetConfig {
    /// Number of wearers (each with one band and one phone), at most [`MAX_WEARERS`].
    pub wearers: usize,
    /// Simulated time of the first reading; truncated to whole seconds.
    pub start: DateTime<Utc>,
    /// Simulated length of the run.
    pub duration: Duration,
    /// Everything random derives from this.
    pub seed: u64,
    /// Seconds between two readings of a band (5), at least 1.
    pub reading_interval_s: i64,
    /// Seconds between two routine uploads of a phone (300, the upload policy's
    /// default), at least 1. Keep it well under the wearers' no-data time (15 min),
    /// or healthy phones look offline.
    pub upload_interval_s: i64,
    /// Injected events per wearer per simulated hour; 0 for none.
    pub events_per_wearer_hour: f64,
    /// A tag (six digits, 100000 to 999999) that makes every name, caregiver phone and device id a
    /// canary string ([`canary_markers`]), for tests that scan logs and stores for
    /// personal data. None: the fictitious people above.
    pub canary: Option<u32>,
}

impl FleetConfig {
    /// The default rate: about 40 events in the 20-wearer, 2-hour demo.
    pub const DEFAULT_EVENTS_PER_WEARER_HOUR: f64 = 1.0;

    /// The demo: 20 wearers for 2 simulated hours from `start`, seed 1, readings
    /// every 5 s, routine uploads every 5 minutes, [`Self::DEFAULT_EVENTS_PER_WEARER_HOUR`].
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            wearers: 20,
            start,
            duration: Duration::hours(2),
            seed: 1,
            reading_interval_s: 5,
            upload_interval_s: i64::from(vigil_domain::upload::policy::ROUTINE_EVERY_S),
            events_per_wearer_hour: Self::DEFAULT_EVENTS_PER_WEARER_HOUR,
            canary: None,
        }
    }

    /// The config as the fleet uses it: whole-second start, bounded numbers.
    fn normalized(&self) -> Self {
        let start = self.start.duration_trunc(Duration::seconds(1)).unwrap_or(self.start);
        let rate = if self.events_per_wearer_hour.is_finite() { self.events_per_wearer_hour.max(0.0) } else { 0.0 };
        Self {
            wearers: self.wearers.min(MAX_WEARERS),
            start,
            duration: self.duration.max(Duration::zero()),
            seed: self.seed,
            reading_interval_s: self.reading_interval_s.clamp(1, 86_400),
            upload_interval_s: self.upload_interval_s.clamp(1, 86_400),
            events_per_wearer_hour: rate,
            canary: self.canary,
        }
    }
}

/// One simulated wearer: what the registry holds about them.
#[derive(Debug, Clone, PartialEq)]
pub struct SimWearer {
    pub profile: WearerProfile,
    pub device: DeviceLink,
    /// The JWT `sub` of the phone that uploads for the band.
    pub app_user: String,
}

/// What is injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Sos,
    Fall,
    FallCancelled,
    HeartRateHigh,
    HeartRateLow,
    Spo2Low,
    BandOff,
    PhoneOffline,
    UploadResent,
}

impl EventKind {
    pub const ALL: [EventKind; 9] = [
        EventKind::Sos,
        EventKind::Fall,
        EventKind::FallCancelled,
        EventKind::HeartRateHigh,
        EventKind::HeartRateLow,
        EventKind::Spo2Low,
        EventKind::BandOff,
        EventKind::PhoneOffline,
        EventKind::UploadResent,
    ];

    /// The alert the pipeline must raise for this event, if any.
    pub fn expects(self) -> Option<RuleKind> {
        match self {
            EventKind::Sos => Some(RuleKind::Sos),
            EventKind::Fall => Some(RuleKind::Fall),
            EventKind::HeartRateHigh => Some(RuleKind::HeartRateHigh),
            EventKind::HeartRateLow => Some(RuleKind::HeartRateLow),
            EventKind::Spo2Low => Some(RuleKind::Spo2Low),
            EventKind::BandOff => Some(RuleKind::NotWorn),
            EventKind::PhoneOffline => Some(RuleKind::NoData),
            EventKind::FallCancelled | EventKind::UploadResent => None,
        }
    }

    /// The rule whose cooldown spaces two events of this kind for one wearer.
    fn rule(self) -> Option<RuleKind> {
        match self {
            EventKind::FallCancelled => Some(RuleKind::Fall),
            other => other.expects(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Sos => "sos",
            EventKind::Fall => "fall",
            EventKind::FallCancelled => "fall_cancelled",
            EventKind::HeartRateHigh => "heart_rate_high",
            EventKind::HeartRateLow => "heart_rate_low",
            EventKind::Spo2Low => "spo2_low",
            EventKind::BandOff => "band_off",
            EventKind::PhoneOffline => "phone_offline",
            EventKind::UploadResent => "upload_resent",
        }
    }
}

/// One injected event and what the pipeline must do about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InjectedEvent {
    pub wearer_id: String,
    pub kind: EventKind,
    /// Simulated time it begins (see the module docs for each kind).
    pub at: DateTime<Utc>,
    /// Simulated time it is over.
    pub until: DateTime<Utc>,
    /// An alert of this rule must be raised for the wearer at or after `at`.
    pub expects: Option<RuleKind>,
}

/// One POST the app makes.
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    /// Simulated time the phone posts it.
    pub due: DateTime<Utc>,
    /// The JWT `sub` to post as.
    pub app_user: String,
    pub device_id: String,
    pub wearer_id: String,
    /// The `batch_id` inside `body`.
    pub batch_id: String,
    /// The request body: upload contract v1 JSON.
    pub body: Vec<u8>,
    /// The readings' seqs, in body order.
    pub seqs: Vec<u64>,
    /// A repeat, after a timeout, of an upload posted before (same body).
    pub resend: bool,
    /// The upload policy the phone follows; the API's 202 should say the same.
    pub policy: vigil_domain::upload::policy::UploadPolicy,
}

/// A simulated fleet: wearers, the events injected into their data, and their uploads.
#[derive(Debug)]
pub struct Fleet {
    pub wearers: Vec<SimWearer>,
    /// Every injected event, by `at` (then wearer).
    pub events: Vec<InjectedEvent>,
    config: FleetConfig,
    plans: Vec<sim::WearerPlan>,
}

impl Fleet {
    pub fn new(config: &FleetConfig) -> Fleet {
        let config = config.normalized();
        let timing = sim::Timing::of(&config);
        let mut next_caregiver = 0;
        let (wearers, mut plans): (Vec<_>, Vec<_>) = (0..config.wearers)
            .map(|i| {
                let mut rng = rng::Rng::derive(config.seed, i as u64);
                let person = people::person(i, &mut rng, &mut next_caregiver, config.canary);
                let plan = sim::WearerPlan::new(&person, &timing, rng);
                (person.sim, plan)
            })
            .unzip();
        let mut rng = rng::Rng::derive(config.seed, u64::MAX);
        let mut events = plan::place(&timing, &mut plans, config.events_per_wearer_hour, &mut rng);
        events.sort_by(|a, b| (a.at, &a.wearer_id).cmp(&(b.at, &b.wearer_id)));
        Fleet { wearers, events, config, plans }
    }

    /// Every upload of the run in `due` order (ties: by wearer, then as the phone
    /// sent them), generated lazily: memory stays at a few uploads per phone.
    pub fn uploads(&self) -> Uploads<'_> {
        Uploads::new(&self.plans, sim::Timing::of(&self.config))
    }

    /// The config as used: start truncated to whole seconds, numbers bounded.
    pub fn config(&self) -> &FleetConfig {
        &self.config
    }

    /// Simulated end of the run: no reading at or after it; the last uploads are due then.
    pub fn end(&self) -> DateTime<Utc> {
        self.config.start + self.config.duration
    }

    pub fn wearer(&self, wearer_id: &str) -> Option<&SimWearer> {
        self.wearers.iter().find(|w| w.profile.wearer_id == wearer_id)
    }

    /// The wearer one of whose caregivers has this phone number.
    pub fn wearer_by_phone(&self, phone: &str) -> Option<&SimWearer> {
        self.wearers.iter().find(|w| w.profile.caregivers.iter().any(|c| c.phone.as_deref() == Some(phone)))
    }
}
