//! The fleet simulator against the real upload contract and the real rules engine.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use vigil_domain::alerts::{Alert, RuleKind, WearerState, check_offline, evaluate, flush};
use vigil_domain::parse_upload;
use vigil_domain::upload::{MAX_BODY_BYTES, MAX_READINGS};
use vigil_run::fleet::{CORE_EVENTS, EventKind, Fleet, FleetConfig, SIM_APP_VERSION, Upload};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, 30, 0).unwrap()
}

fn demo(seed: u64) -> FleetConfig {
    FleetConfig { seed, ..FleetConfig::new(start()) }
}

fn short(seed: u64) -> FleetConfig {
    FleetConfig { wearers: 4, duration: Duration::minutes(30), seed, ..FleetConfig::new(start()) }
}

fn quiet(seed: u64, wearers: usize, start: DateTime<Utc>, duration: Duration) -> FleetConfig {
    FleetConfig { wearers, start, duration, seed, events_per_wearer_hour: 0.0, ..FleetConfig::new(start) }
}

/// Checks every upload against the contract and the fleet's promises; returns them.
fn check_uploads(fleet: &Fleet) -> Vec<Upload> {
    let uploads: Vec<Upload> = fleet.uploads().collect();
    let (start, end) = (fleet.config().start, fleet.end());
    let mut originals: HashMap<(String, String), Vec<u8>> = HashMap::new();
    let mut next_seq: HashMap<String, u64> = HashMap::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (i, u) in uploads.iter().enumerate() {
        if i > 0 {
            assert!(uploads[i - 1].due <= u.due, "upload {i} out of due order");
        }
        assert!(start <= u.due && u.due <= end, "due {} outside the run", u.due);
        assert!(u.body.len() <= MAX_BODY_BYTES);
        let parsed = parse_upload(&u.body, u.due).unwrap_or_else(|e| panic!("upload {i} rejected: {:?}", e.errors));
        assert!(parsed.rejected.is_empty(), "upload {i}: {:?}", parsed.rejected);
        assert_eq!(parsed.device_id, u.device_id);
        assert_eq!(parsed.batch_id, u.batch_id);
        assert_eq!(parsed.app_version, SIM_APP_VERSION);
        assert!(!u.seqs.is_empty() && u.seqs.len() <= MAX_READINGS);
        assert_eq!(parsed.readings.iter().map(|r| r.seq).collect::<Vec<_>>(), u.seqs);
        assert_eq!(u.batch_id, format!("{}-{}", u.device_id, u.seqs[0]));
        for r in &parsed.readings {
            assert!(r.ts.with_timezone(&Utc) <= u.due, "a reading posted before it was taken");
        }
        let wearer = fleet.wearer(&u.wearer_id).unwrap();
        assert_eq!(wearer.device.device_id, u.device_id);
        assert_eq!(wearer.app_user, u.app_user);
        assert!(wearer.device.app_users.contains(&u.app_user));

        let key = (u.device_id.clone(), u.batch_id.clone());
        if u.resend {
            assert_eq!(originals.get(&key), Some(&u.body), "a resend must repeat an earlier upload exactly");
            continue;
        }
        assert!(originals.insert(key, u.body.clone()).is_none(), "batch_id reused: {}", u.batch_id);
        for &seq in &u.seqs {
            let expected = next_seq.entry(u.device_id.clone()).or_insert(seq);
            assert_eq!(seq, *expected, "{}: seq gap or duplicate", u.device_id);
            *expected += 1;
        }
        *counts.entry(u.device_id.clone()).or_default() += u.seqs.len();
    }
    // Every reading of the run is posted: one per interval from the start.
    let step = fleet.config().reading_interval_s;
    let per_device = ((fleet.end() - start).num_seconds() + step - 1) as usize / step as usize;
    assert_eq!(counts.len(), fleet.wearers.len());
    assert!(counts.values().all(|&n| n == per_device), "{counts:?} vs {per_device}");
    uploads
}

/// Plays the uploads through the real rules engine in simulated time, with the
/// offline detector and fall flush every minute, as the pipeline runs them.
fn replay(fleet: &Fleet) -> Vec<Alert> {
    let profiles: HashMap<&str, _> = fleet.wearers.iter().map(|w| (w.profile.wearer_id.as_str(), &w.profile)).collect();
    let mut states: BTreeMap<String, WearerState> = BTreeMap::new();
    let mut alerts = Vec::new();
    let mut tick = fleet.config().start + Duration::minutes(1);
    let detector = |states: &mut BTreeMap<String, WearerState>, alerts: &mut Vec<Alert>, now| {
        for (id, state) in states.iter_mut() {
            let th = &profiles[id.as_str()].thresholds;
            alerts.extend(flush(state, th, now));
            alerts.extend(check_offline(state, th, now));
        }
    };
    for u in fleet.uploads() {
        while tick <= u.due {
            detector(&mut states, &mut alerts, tick);
            tick += Duration::minutes(1);
        }
        let profile = profiles[u.wearer_id.as_str()];
        let parsed = parse_upload(&u.body, u.due).unwrap();
        let state = states.entry(u.wearer_id.clone()).or_insert_with(|| WearerState::new(&u.wearer_id));
        alerts.extend(evaluate(state, &profile.thresholds, profile.tz(), &u.device_id, &parsed.readings));
        alerts.extend(flush(state, &profile.thresholds, u.due));
    }
    detector(&mut states, &mut alerts, fleet.end());
    alerts
}

/// Every expected event raised exactly one alert of its rule for its wearer at or
/// after `at`, and no other alert was raised.
fn assert_alerts_match(fleet: &Fleet, alerts: &[Alert]) {
    let mut matched = vec![0usize; fleet.events.len()];
    for alert in alerts {
        let hit = fleet.events.iter().position(|e| {
            e.wearer_id == alert.wearer_id
                && e.expects == Some(alert.rule)
                && alert.raised_at >= e.at
                && alert.raised_at <= e.until + Duration::minutes(2)
        });
        let i = hit
            .unwrap_or_else(|| panic!("unexpected alert {:?} {} at {}", alert.rule, alert.wearer_id, alert.raised_at));
        matched[i] += 1;
    }
    for (e, n) in fleet.events.iter().zip(&matched) {
        let want = usize::from(e.expects.is_some());
        assert_eq!(*n, want, "{:?} for {} at {}: {n} alerts", e.kind, e.wearer_id, e.at);
    }
}

#[test]
fn the_demo_validates_and_keeps_its_promises() {
    let fleet = Fleet::new(&demo(1));
    assert_eq!(fleet.wearers.len(), 20);
    let uploads = check_uploads(&fleet);
    assert!(uploads.iter().any(|u| u.resend));
    assert!(fleet.events.len() >= 30, "{} events", fleet.events.len());
    let kinds: HashSet<EventKind> = fleet.events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds.len(), EventKind::ALL.len(), "missing kinds: {kinds:?}");
    let wearers: HashSet<&str> = fleet.events.iter().map(|e| e.wearer_id.as_str()).collect();
    assert!(wearers.len() >= 15, "events on {} wearers only", wearers.len());
}

#[test]
fn injected_events_raise_exactly_their_alerts() {
    for seed in [1, 2, 3] {
        let fleet = Fleet::new(&demo(seed));
        assert_alerts_match(&fleet, &replay(&fleet));
    }
}

#[test]
fn a_short_run_has_every_core_event() {
    for seed in 0..20 {
        let fleet = Fleet::new(&short(seed));
        let kinds: HashSet<EventKind> = fleet.events.iter().map(|e| e.kind).collect();
        for kind in CORE_EVENTS {
            assert!(kinds.contains(&kind), "seed {seed}: no {kind:?}");
        }
        check_uploads(&fleet);
        assert_alerts_match(&fleet, &replay(&fleet));
    }
}

#[test]
fn events_carry_their_expectation_and_are_spaced() {
    for seed in 0..5 {
        let fleet = Fleet::new(&FleetConfig { events_per_wearer_hour: 3.0, ..demo(seed) });
        let mut by_wearer: HashMap<&str, Vec<_>> = HashMap::new();
        for e in &fleet.events {
            assert_eq!(e.expects, e.kind.expects());
            assert!(e.at >= fleet.config().start && e.until <= fleet.end() && e.at <= e.until);
            by_wearer.entry(&e.wearer_id).or_default().push(e);
        }
        for events in by_wearer.values() {
            for (i, a) in events.iter().enumerate() {
                for b in &events[i + 1..] {
                    assert!(a.until < b.at || b.until < a.at, "overlap: {a:?} {b:?}");
                    let rule =
                        |k: EventKind| if k == EventKind::FallCancelled { Some(RuleKind::Fall) } else { k.expects() };
                    if let (Some(ra), Some(rb)) = (rule(a.kind), rule(b.kind))
                        && ra == rb
                    {
                        let least = if matches!(ra, RuleKind::Sos | RuleKind::Fall) { 6 } else { 35 };
                        assert!((a.at - b.at).abs() >= Duration::minutes(least), "too close: {a:?} {b:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn a_band_off_is_all_daytime_and_reports_no_vitals() {
    let fleet = Fleet::new(&FleetConfig { events_per_wearer_hour: 3.0, ..demo(4) });
    let offs: Vec<_> = fleet.events.iter().filter(|e| e.kind == EventKind::BandOff).collect();
    assert!(!offs.is_empty());
    for u in fleet.uploads() {
        let parsed = parse_upload(&u.body, u.due).unwrap();
        for r in &parsed.readings {
            let t = r.ts.with_timezone(&Utc);
            let off = offs.iter().any(|e| e.wearer_id == u.wearer_id && e.at <= t && t < e.until);
            assert_eq!(r.worn, Some(!off));
            if off {
                assert!(r.heart_rate_bpm.is_none() && r.spo2_pct.is_none());
                let hour = chrono::Timelike::hour(&r.ts);
                assert!((8..21).contains(&hour), "band off at local {}", r.ts);
            }
        }
    }
}

#[test]
fn an_offline_phone_posts_its_buffer_late_in_bounded_uploads() {
    // One reading a second: 20–25 minutes offline is more than one upload can carry.
    let config = FleetConfig { reading_interval_s: 1, wearers: 5, events_per_wearer_hour: 4.0, ..demo(7) };
    let fleet = Fleet::new(&config);
    let uploads = check_uploads(&fleet);
    let offline: Vec<_> = fleet.events.iter().filter(|e| e.kind == EventKind::PhoneOffline).collect();
    assert!(!offline.is_empty());
    for e in offline {
        let device = &fleet.wearer(&e.wearer_id).unwrap().device.device_id;
        let mine: Vec<&Upload> = uploads.iter().filter(|u| &u.device_id == device).collect();
        assert!(!mine.iter().any(|u| e.at <= u.due && u.due < e.until), "posted while offline");
        let back = mine.iter().find(|u| u.due >= e.until).unwrap();
        let late: Vec<&&Upload> = mine.iter().filter(|u| u.due == back.due).collect();
        assert!(late.len() >= 2, "the buffer should need several uploads");
        assert!(late.iter().all(|u| u.seqs.len() <= MAX_READINGS));
    }
}

#[test]
fn the_same_seed_gives_the_same_fleet() {
    let digest = |fleet: &Fleet| {
        let bodies: Vec<(DateTime<Utc>, Vec<u8>)> = fleet.uploads().map(|u| (u.due, u.body)).collect();
        (format!("{:?}", fleet.wearers), format!("{:?}", fleet.events), bodies)
    };
    let a = digest(&Fleet::new(&short(9)));
    assert_eq!(a, digest(&Fleet::new(&short(9))));
    let b = digest(&Fleet::new(&short(10)));
    assert_ne!(a.1, b.1);
    assert_ne!(a.2, b.2);
}

#[test]
fn wearers_are_spread_over_zones_with_unique_caregiver_phones() {
    let fleet = Fleet::new(&demo(1));
    let zones: HashSet<&str> = fleet.wearers.iter().map(|w| w.profile.time_zone.as_str()).collect();
    assert_eq!(zones.len(), 5);
    let mut phones = HashSet::new();
    for (i, w) in fleet.wearers.iter().enumerate() {
        let n = i + 1;
        assert_eq!(w.profile.wearer_id, format!("wearer-{n:04}"));
        assert_eq!(w.device.device_id, format!("band-{n:04}"));
        assert_eq!(w.app_user, format!("app-user-{n:04}"));
        assert_eq!(w.device.time_zone, w.profile.time_zone);
        assert!((1..=2).contains(&w.profile.caregivers.len()));
        for c in &w.profile.caregivers {
            let phone = c.phone.clone().unwrap();
            assert!(phones.insert(phone.clone()), "{phone} twice");
            assert_eq!(fleet.wearer_by_phone(&phone).unwrap().profile.wearer_id, w.profile.wearer_id);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]

    /// Without injected events nothing ever crosses a threshold, whatever the seed,
    /// the season (DST) or the time of day: no reading beyond a limit, and the real
    /// engine (sustained rules, daytime inactivity and not-worn, offline detector)
    /// raises no alert over up to a day and a bit.
    #[test]
    fn without_events_nothing_crosses_a_threshold(
        seed in any::<u64>(),
        minute in 0i64..(4 * 365 * 24 * 60),
        hours in 2i64..27,
        wearers in 1usize..6,
    ) {
        let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(minute);
        let fleet = Fleet::new(&quiet(seed, wearers, start, Duration::hours(hours)));
        prop_assert!(fleet.events.is_empty());
        let profiles: HashMap<&str, _> =
            fleet.wearers.iter().map(|w| (w.profile.wearer_id.as_str(), &w.profile.thresholds)).collect();
        for u in fleet.uploads() {
            prop_assert!(!u.resend);
            let th = profiles[u.wearer_id.as_str()];
            let parsed = parse_upload(&u.body, u.due).unwrap();
            prop_assert!(parsed.rejected.is_empty());
            for r in &parsed.readings {
                let hr = r.heart_rate_bpm.unwrap();
                prop_assert!(hr >= th.heart_rate_low_bpm && hr <= th.heart_rate_high_bpm, "hr {}", hr);
                prop_assert!(r.spo2_pct.unwrap() >= th.spo2_low_pct);
                prop_assert!(r.battery_pct.unwrap() >= th.battery_low_pct + th.battery_hysteresis_pct);
                prop_assert_eq!(r.worn, Some(true));
                prop_assert!(r.sos.is_none() && r.fall_detected.is_none() && r.location.is_none());
            }
        }
        let alerts = replay(&fleet);
        prop_assert!(alerts.is_empty(), "alerts without events: {:?}", alerts.iter().map(|a| (a.rule, a.raised_at)).collect::<Vec<_>>());
    }
}

/// Generation speed of the default demo. Run in release:
/// `cargo test --release -p vigil-run --test fleet -- --ignored --nocapture generation_speed`
#[test]
#[ignore = "a measurement, meaningful in release builds only"]
fn generation_speed() {
    let config = FleetConfig::new(start());
    let runs = 10;
    let began = std::time::Instant::now();
    let mut totals = (0, 0, 0);
    for _ in 0..runs {
        let fleet = Fleet::new(&config);
        totals = fleet.uploads().fold((0, 0, 0), |(n, r, b), u| (n + 1, r + u.seqs.len(), b + u.body.len()));
    }
    let each = began.elapsed() / runs;
    println!("demo fleet: {} uploads, {} readings, {} bytes of JSON in {each:?}", totals.0, totals.1, totals.2);
    assert!(each < std::time::Duration::from_secs(1));
}
