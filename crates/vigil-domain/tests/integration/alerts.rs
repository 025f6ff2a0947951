//! The alert rules, one behaviour at a time, with their boundaries: what raises,
//! what must not, and what a redelivered or late batch does.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use chrono_tz::Tz;
use vigil_domain::alerts::message::{MAX_LINK_CHARS, MAX_SMS_SEGMENTS};
use vigil_domain::alerts::{
    Alert, AlertId, Language, MAX_ALERT_READINGS, MAX_GAP, RuleKind, Severity, Thresholds, WearerState, check_offline,
    evaluate, flush, newly_cancelled_falls, render, render_fall_cancelled,
};
use vigil_domain::reading::{Activity, Location};
use vigil_domain::{Reading, ReadingId};

const DEVICE: &str = "band-0001";
const MADRID: Tz = chrono_tz::Europe::Madrid;
const SAO_PAULO: Tz = chrono_tz::America::Sao_Paulo;

/// 2026-06-15 at h:m:s UTC (Madrid is UTC+2 then, São Paulo UTC-3).
fn utc(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, h, m, s).unwrap()
}

fn reading(at: DateTime<Utc>) -> Reading {
    // The band's clock offset must not matter: readings carry +02:00 here.
    let ts = at.with_timezone(&FixedOffset::east_opt(2 * 3600).unwrap());
    Reading::at(ts, u64::try_from(at.timestamp()).unwrap())
}

fn with(at: DateTime<Utc>, f: impl FnOnce(&mut Reading)) -> Reading {
    let mut r = reading(at);
    f(&mut r);
    r
}

/// A worn band, resting, every 5 s from `from` for `len`, each reading shaped by `f`.
fn series(from: DateTime<Utc>, len: Duration, f: impl Fn(&mut Reading)) -> Vec<Reading> {
    let n = len.num_seconds() / 5;
    (0..=n).map(|i| with(from + Duration::seconds(i * 5), |r| f(r))).collect()
}

fn run(state: &mut WearerState, readings: &[Reading]) -> Vec<Alert> {
    evaluate(state, &Thresholds::default(), MADRID, DEVICE, readings)
}

fn rules(alerts: &[Alert]) -> Vec<RuleKind> {
    alerts.iter().map(|a| a.rule).collect()
}

fn home() -> Location {
    Location { lat: 40.416_775, lon: -3.703_790, accuracy_m: Some(12.0) }
}

// ---- SOS ----

#[test]
fn sos_is_critical_at_once_with_the_readings_location() {
    let mut s = WearerState::new("w-1");
    let press = with(utc(12, 5, 0), |r| {
        r.sos = Some(true);
        r.location = Some(home());
    });
    let alerts = run(&mut s, std::slice::from_ref(&press));
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!((a.rule, a.severity), (RuleKind::Sos, Severity::Critical));
    assert_eq!(a.raised_at, utc(12, 5, 0));
    assert_eq!(a.location, Some(home()));
    assert_eq!(a.readings, vec![ReadingId::new(DEVICE, press.seq).to_string()]);
    assert_eq!(a.wearer_id, "w-1");
}

#[test]
fn sos_without_a_location_uses_the_last_known_one() {
    let mut s = WearerState::new("w-1");
    run(&mut s, &[with(utc(11, 0, 0), |r| r.location = Some(home()))]);
    let alerts = run(&mut s, &[with(utc(12, 0, 0), |r| r.sos = Some(true))]);
    assert_eq!(alerts[0].location, Some(home()));
}

#[test]
fn repeated_presses_alert_once_per_cooldown_window() {
    let mut s = WearerState::new("w-1");
    let presses: Vec<_> = [utc(12, 0, 5), utc(12, 0, 10), utc(12, 4, 0), utc(12, 20, 0), utc(12, 31, 0)]
        .into_iter()
        .map(|t| with(t, |r| r.sos = Some(true)))
        .collect();
    let alerts = run(&mut s, &presses);
    // SOS windows are 5 minutes by default: a second emergency ten minutes later
    // is a new alert, a wearer pressing again and again is not.
    assert_eq!(Thresholds::default().cooldown(RuleKind::Sos), chrono::Duration::minutes(5));
    let starts: Vec<_> = alerts.iter().map(|a| a.episode_start).collect();
    assert_eq!(starts, vec![utc(12, 0, 0), utc(12, 20, 0), utc(12, 30, 0)]);
    assert_eq!(alerts[0].raised_at, utc(12, 0, 5));
}

#[test]
fn a_late_sos_still_alerts() {
    let mut s = WearerState::new("w-1");
    run(&mut s, &series(utc(13, 0, 0), Duration::minutes(5), |_| {}));
    let alerts = run(&mut s, &[with(utc(11, 0, 0), |r| r.sos = Some(true))]);
    assert_eq!(rules(&alerts), vec![RuleKind::Sos]);
    assert_eq!(alerts[0].raised_at, utc(11, 0, 0));
}

// ---- falls ----

fn fall_then(cancel_after: Option<i64>) -> Vec<Alert> {
    let mut s = WearerState::new("w-1");
    let fall_at = utc(12, 0, 0);
    let mut readings = series(fall_at, Duration::seconds(60), |_| {});
    readings[0].fall_detected = Some(true);
    if let Some(secs) = cancel_after {
        readings.push(with(fall_at + Duration::seconds(secs), |r| r.fall_cancelled = Some(true)));
    }
    run(&mut s, &readings)
}

#[test]
fn a_fall_cancelled_within_the_window_is_not_raised() {
    assert!(fall_then(Some(29)).is_empty());
    assert!(fall_then(Some(30)).is_empty(), "the window is inclusive");
}

#[test]
fn a_fall_cancelled_after_the_window_is_raised() {
    let alerts = fall_then(Some(31));
    assert_eq!(rules(&alerts), vec![RuleKind::Fall]);
    assert_eq!(alerts[0].severity, Severity::Critical);
    assert_eq!(alerts[0].raised_at, utc(12, 0, 0));
    assert_eq!(rules(&fall_then(None)), vec![RuleKind::Fall]);
}

#[test]
fn a_fall_waits_until_event_time_has_passed_the_window() {
    let mut s = WearerState::new("w-1");
    let fall = with(utc(12, 0, 0), |r| {
        r.fall_detected = Some(true);
        r.location = Some(home());
    });
    assert!(run(&mut s, &[fall]).is_empty());
    assert!(run(&mut s, &[reading(utc(12, 0, 30))]).is_empty());
    let alerts = run(&mut s, &[reading(utc(12, 0, 31))]);
    assert_eq!(rules(&alerts), vec![RuleKind::Fall]);
    assert_eq!(alerts[0].location, Some(home()));
}

#[test]
fn flush_raises_a_fall_when_the_band_goes_silent() {
    let mut s = WearerState::new("w-1");
    let th = Thresholds::default();
    run(&mut s, &[with(utc(12, 0, 0), |r| r.fall_detected = Some(true))]);
    assert!(flush(&mut s, &th, utc(12, 0, 30)).is_empty());
    assert_eq!(rules(&flush(&mut s, &th, utc(12, 0, 31))), vec![RuleKind::Fall]);
    assert!(flush(&mut s, &th, utc(12, 5, 0)).is_empty(), "raised once");
}

#[test]
fn a_cancel_delivered_before_its_fall_still_cancels_it() {
    let mut s = WearerState::new("w-1");
    run(&mut s, &[with(utc(12, 0, 20), |r| r.fall_cancelled = Some(true))]);
    run(&mut s, &series(utc(12, 1, 0), Duration::minutes(1), |_| {}));
    assert!(run(&mut s, &[with(utc(12, 0, 0), |r| r.fall_detected = Some(true))]).is_empty());
    assert!(flush(&mut s, &Thresholds::default(), utc(13, 0, 0)).is_empty());
}

#[test]
fn a_cancel_delivered_after_event_time_passed_the_window_marks_the_raised_fall_cancelled() {
    // Too late to hold the alert back (the batch that passed the window raised it),
    // not too late to resolve it.
    let mut s = WearerState::new("w-1");
    let mut first = series(utc(12, 0, 0), Duration::seconds(60), |_| {});
    first[0].fall_detected = Some(true);
    let raised = run(&mut s, &first);
    assert_eq!(rules(&raised), vec![RuleKind::Fall]);
    let before = s.raised_falls.clone();
    assert!(run(&mut s, &[with(utc(12, 0, 10), |r| r.fall_cancelled = Some(true))]).is_empty());
    let cancelled = newly_cancelled_falls(&before, &s.raised_falls);
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0].alert_id("w-1"), raised[0].id);
    assert_eq!(cancelled[0].cancelled_at, Some(utc(12, 0, 10)));
}

#[test]
fn a_fall_raised_because_the_band_went_quiet_is_cancelled_by_its_late_cancel_once() {
    let th = Thresholds::default();
    let mut s = WearerState::new("w-1");
    run(&mut s, &[with(utc(12, 0, 0), |r| r.fall_detected = Some(true))]);
    // The band goes quiet inside the window: the schedule raises the fall.
    let raised = flush(&mut s, &th, utc(12, 1, 0));
    assert_eq!(rules(&raised), vec![RuleKind::Fall]);
    let before = s.raised_falls.clone();
    assert!(newly_cancelled_falls(&before, &s.raised_falls).is_empty(), "nothing cancelled yet");

    // Then the cancel (18 s after the fall, inside the window) arrives late.
    let cancel = with(utc(12, 0, 18), |r| r.fall_cancelled = Some(true));
    let mut retry = s.clone();
    assert!(run(&mut s, std::slice::from_ref(&cancel)).is_empty(), "no new alert");
    let cancelled = newly_cancelled_falls(&before, &s.raised_falls);
    assert_eq!(cancelled.iter().map(|f| f.alert_id("w-1")).collect::<Vec<_>>(), vec![raised[0].id.clone()]);
    assert_eq!(cancelled[0].at, utc(12, 0, 0));

    // A retry on the saved state before finds the same; once saved, a redelivery finds nothing.
    run(&mut retry, std::slice::from_ref(&cancel));
    assert_eq!(retry.raised_falls, s.raised_falls);
    let saved = s.raised_falls.clone();
    run(&mut s, std::slice::from_ref(&cancel));
    assert!(newly_cancelled_falls(&saved, &s.raised_falls).is_empty(), "told once");
    assert!(flush(&mut s, &th, utc(12, 30, 0)).is_empty());
}

#[test]
fn a_late_cancel_outside_the_falls_window_cancels_nothing() {
    let th = Thresholds::default();
    let mut s = WearerState::new("w-1");
    run(&mut s, &[with(utc(12, 0, 0), |r| r.fall_detected = Some(true))]);
    assert_eq!(rules(&flush(&mut s, &th, utc(12, 1, 0))), vec![RuleKind::Fall]);
    let before = s.raised_falls.clone();
    run(&mut s, &[with(utc(12, 0, 31), |r| r.fall_cancelled = Some(true))]);
    run(&mut s, &[with(utc(11, 59, 59), |r| r.fall_cancelled = Some(true))]);
    assert!(newly_cancelled_falls(&before, &s.raised_falls).is_empty());
}

#[test]
fn a_late_cancel_of_a_second_fall_in_the_window_leaves_the_first_falls_alert() {
    // One alert per 5-minute window: the second fall raised none, so its cancel resolves nothing.
    let th = Thresholds::default();
    let mut s = WearerState::new("w-1");
    run(&mut s, &[with(utc(12, 0, 0), |r| r.fall_detected = Some(true))]);
    assert_eq!(rules(&flush(&mut s, &th, utc(12, 1, 0))), vec![RuleKind::Fall]);
    run(&mut s, &[with(utc(12, 2, 0), |r| r.fall_detected = Some(true))]);
    assert!(flush(&mut s, &th, utc(12, 3, 0)).is_empty(), "same window");
    let before = s.raised_falls.clone();
    run(&mut s, &[with(utc(12, 2, 10), |r| r.fall_cancelled = Some(true))]);
    assert!(newly_cancelled_falls(&before, &s.raised_falls).is_empty());
}

// ---- heart rate and SpO2 ----

fn hr(bpm: i64) -> impl Fn(&mut Reading) {
    move |r| r.heart_rate_bpm = Some(bpm)
}

#[test]
fn high_heart_rate_alerts_after_exactly_two_minutes() {
    let mut s = WearerState::new("w-1");
    let start = utc(12, 0, 0);
    let before = series(start, Duration::seconds(115), hr(130)); // 0:00 .. 1:55
    assert!(run(&mut s, &before).is_empty());
    assert!(run(&mut s, &[with(start + Duration::seconds(119), hr(130))]).is_empty(), "1:59");
    let alerts = run(&mut s, &[with(start + Duration::seconds(120), hr(131))]);
    assert_eq!(rules(&alerts), vec![RuleKind::HeartRateHigh]);
    let a = &alerts[0];
    assert_eq!(a.severity, Severity::High);
    assert_eq!((a.episode_start, a.raised_at), (start, start + Duration::seconds(120)));
    assert_eq!(a.value, Some(131.0));
    assert_eq!(a.readings.len(), MAX_ALERT_READINGS);
    assert_eq!(a.readings.last(), Some(&ReadingId::new(DEVICE, utc(12, 2, 0).timestamp() as u64).to_string()));
    // Still high: same episode, no second alert.
    assert!(run(&mut s, &series(start + Duration::seconds(125), Duration::minutes(10), hr(130))).is_empty());
}

#[test]
fn heart_rate_at_the_limits_is_in_range() {
    let mut s = WearerState::new("w-1");
    assert!(run(&mut s, &series(utc(12, 0, 0), Duration::minutes(5), hr(120))).is_empty());
    assert!(run(&mut s, &series(utc(12, 10, 0), Duration::minutes(5), hr(40))).is_empty());
}

#[test]
fn low_heart_rate_alerts_when_sustained() {
    let mut s = WearerState::new("w-1");
    let alerts = run(&mut s, &series(utc(12, 0, 0), Duration::minutes(3), hr(38)));
    assert_eq!(rules(&alerts), vec![RuleKind::HeartRateLow]);
    assert_eq!(alerts[0].raised_at, utc(12, 2, 0));
}

#[test]
fn a_reading_back_in_range_ends_the_episode() {
    let mut s = WearerState::new("w-1");
    let mut readings = series(utc(12, 0, 0), Duration::minutes(3), |r| r.spo2_pct = Some(87));
    readings[18].spo2_pct = Some(95); // 1:30
    let alerts = run(&mut s, &readings);
    // The new episode starts at 1:35 and is 1:25 long by 3:00.
    assert!(alerts.is_empty(), "{alerts:?}");
    let alerts = run(&mut s, &[with(utc(12, 3, 35), |r| r.spo2_pct = Some(88))]);
    assert_eq!(rules(&alerts), vec![RuleKind::Spo2Low]);
    assert_eq!(alerts[0].episode_start, utc(12, 1, 35));
}

#[test]
fn readings_without_the_measurement_do_not_break_an_episode_but_long_gaps_do() {
    let mut s = WearerState::new("w-1");
    let mut readings = series(utc(12, 0, 0), Duration::minutes(2), hr(130));
    for r in &mut readings[5..20] {
        r.heart_rate_bpm = None;
    }
    assert_eq!(rules(&run(&mut s, &readings)), vec![RuleKind::HeartRateHigh]);

    let mut s = WearerState::new("w-1");
    run(&mut s, &[with(utc(12, 0, 0), hr(130))]);
    let after_gap = utc(12, 0, 0) + MAX_GAP + Duration::seconds(1);
    assert!(run(&mut s, &series(after_gap, Duration::seconds(115), hr(130))).is_empty());
}

#[test]
fn cooldown_stops_a_storm_from_a_flapping_heart_rate() {
    let mut s = WearerState::new("w-1");
    // Two and a half minutes high, then one normal reading, for an hour and a half.
    let readings = series(utc(12, 0, 0), Duration::minutes(90), |_| {})
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.heart_rate_bpm = Some(if i % 31 == 30 { 80 } else { 130 });
            r
        })
        .collect::<Vec<_>>();
    let alerts = run(&mut s, &readings);
    let times: Vec<_> = alerts.iter().map(|a| a.raised_at).collect();
    // Every 2:35 cycle is a sustained episode: 35 alerts without a cooldown,
    // one per 30 minutes with it.
    assert_eq!(times.len(), 3, "{times:?}");
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::minutes(30));
    }
    let ids: std::collections::HashSet<_> = alerts.iter().map(|a| &a.id).collect();
    assert_eq!(ids.len(), 3);
}

#[test]
fn a_cooldown_override_applies_to_its_rule_only() {
    let th: Thresholds = serde_json::from_str(r#"{"cooldown_overrides_min": {"heart_rate_high": 5}}"#).unwrap();
    assert_eq!(th.cooldown(RuleKind::HeartRateHigh), Duration::minutes(5));
    assert_eq!(th.cooldown(RuleKind::Sos), Duration::minutes(30));
}

// ---- battery ----

#[test]
fn low_battery_alerts_once_per_episode_with_hysteresis() {
    let mut s = WearerState::new("w-1");
    let battery = |pct| move |r: &mut Reading| r.battery_pct = Some(pct);
    let a = run(&mut s, &[with(utc(10, 0, 0), battery(15))]);
    assert!(a.is_empty(), "15 % is not below 15 %");
    let a = run(&mut s, &[with(utc(10, 1, 0), battery(14))]);
    assert_eq!(rules(&a), vec![RuleKind::BatteryLow]);
    assert_eq!((a[0].severity, a[0].value), (Severity::Low, Some(14.0)));
    // Hovering around the limit stays in the same episode.
    let hover: Vec<_> =
        [16, 14, 19, 13].iter().enumerate().map(|(i, &p)| with(utc(11, i as u32, 0), battery(p))).collect();
    assert!(run(&mut s, &hover).is_empty());
    // 20 % ends it; a new drop after the cooldown is a new episode.
    run(&mut s, &[with(utc(11, 10, 0), battery(20))]);
    assert_eq!(rules(&run(&mut s, &[with(utc(11, 11, 0), battery(12))])), vec![RuleKind::BatteryLow]);
}

#[test]
fn low_battery_within_the_cooldown_waits_for_it() {
    let mut s = WearerState::new("w-1");
    let battery = |pct| move |r: &mut Reading| r.battery_pct = Some(pct);
    assert_eq!(run(&mut s, &[with(utc(10, 0, 0), battery(10))]).len(), 1);
    run(&mut s, &[with(utc(10, 5, 0), battery(60))]); // charged a bit, then unplugged
    assert!(run(&mut s, &[with(utc(10, 20, 0), battery(14))]).is_empty());
    assert_eq!(rules(&run(&mut s, &[with(utc(10, 30, 0), battery(13))])), vec![RuleKind::BatteryLow]);
}

// ---- daytime rules ----

fn still_worn(r: &mut Reading) {
    r.worn = Some(true);
    r.steps = Some(0);
    r.activity = Some(Activity::Rest);
}

fn run_in(tz: Tz, state: &mut WearerState, readings: &[Reading]) -> Vec<Alert> {
    evaluate(state, &Thresholds::default(), tz, DEVICE, readings)
}

#[test]
fn inactivity_counts_only_daytime_in_the_wearers_time_zone() {
    // 04:00–10:00 UTC is 06:00–12:00 in Madrid but 01:00–07:00 in São Paulo.
    let day = series(utc(4, 0, 0), Duration::hours(6), still_worn);
    let mut madrid = WearerState::new("w-1");
    let alerts = run_in(MADRID, &mut madrid, &day);
    assert_eq!(rules(&alerts), vec![RuleKind::Inactivity]);
    let a = &alerts[0];
    assert_eq!(a.severity, Severity::Medium);
    // Daytime starts at 08:00 Madrid (06:00 UTC); three hours later.
    assert_eq!((a.episode_start, a.raised_at), (utc(6, 0, 0), utc(9, 0, 0)));
    assert_eq!(a.value, Some(180.0));
    let mut sao_paulo = WearerState::new("w-1");
    assert!(run_in(SAO_PAULO, &mut sao_paulo, &day).is_empty());
}

#[test]
fn the_evening_ends_daytime_in_the_wearers_time_zone() {
    // 16:00–20:00 UTC is 18:00–22:00 in Madrid (night from 21:00 = 19:00 UTC),
    // but 13:00–17:00 in São Paulo, all daytime.
    let evening = series(utc(16, 0, 0), Duration::hours(4), still_worn);
    assert!(run_in(MADRID, &mut WearerState::new("w-1"), &evening).is_empty());
    let a = run_in(SAO_PAULO, &mut WearerState::new("w-1"), &evening);
    assert_eq!(rules(&a), vec![RuleKind::Inactivity]);
    assert_eq!((a[0].episode_start, a[0].raised_at), (utc(16, 0, 0), utc(19, 0, 0)));
}

#[test]
fn inactivity_boundary_and_movement_reset() {
    let mut s = WearerState::new("w-1");
    // 08:00–10:59:55 Madrid: 2:59:55 without movement.
    assert!(run(&mut s, &series(utc(6, 0, 0), Duration::seconds(3 * 3600 - 5), still_worn)).is_empty());
    // A step at 09:00 UTC (11:00 in Madrid), just as three hours would be up,
    // starts the count over.
    let mut moving = Vec::new();
    moving.push(with(utc(9, 0, 0), |r| {
        still_worn(r);
        r.steps = Some(4);
    }));
    moving.extend(series(utc(9, 0, 5), Duration::hours(3) - Duration::seconds(10), still_worn));
    assert!(run(&mut s, &moving).is_empty());
    let a = run(&mut s, &[with(utc(12, 0, 0), still_worn)]);
    assert_eq!(rules(&a), vec![RuleKind::Inactivity]);
    assert_eq!(a[0].episode_start, utc(9, 0, 0));
    // The readings behind it: the first still one after the step, and the one
    // that completed three hours (not every "still" reading in between).
    let id = |t: DateTime<Utc>| ReadingId::new(DEVICE, t.timestamp() as u64).to_string();
    assert_eq!(a[0].readings, vec![id(utc(9, 0, 5)), id(utc(12, 0, 0))]);
}

#[test]
fn a_late_movement_reading_starts_inactivity_over() {
    let mut s = WearerState::new("w-1");
    run(&mut s, &series(utc(6, 0, 0), Duration::hours(2), still_worn));
    // Movement at 07:30 UTC, delivered late, then stillness continues to 09:00.
    run(&mut s, &[with(utc(7, 30, 0), |r| r.activity = Some(Activity::Light))]);
    assert!(run(&mut s, &series(utc(8, 0, 5), Duration::minutes(60), still_worn)).is_empty());
    let a = run(&mut s, &series(utc(9, 0, 10), Duration::minutes(90), still_worn));
    assert_eq!(rules(&a), vec![RuleKind::Inactivity]);
    assert_eq!((a[0].episode_start, a[0].raised_at), (utc(7, 30, 0), utc(10, 30, 0)));
}

#[test]
fn not_worn_alerts_after_thirty_daytime_minutes() {
    let off = |r: &mut Reading| r.worn = Some(false);
    let mut s = WearerState::new("w-1");
    run(&mut s, &[with(utc(9, 0, 0), still_worn)]);
    // Off from 09:00:05 UTC (11:00:05 Madrid).
    assert!(run(&mut s, &series(utc(9, 0, 5), Duration::seconds(29 * 60 + 55), off)).is_empty());
    let a = run(&mut s, &[with(utc(9, 30, 5), off)]);
    assert_eq!(rules(&a), vec![RuleKind::NotWorn]);
    assert_eq!((a[0].severity, a[0].episode_start), (Severity::Medium, utc(9, 0, 5)));
    // Not worn all night in São Paulo (21:00–07:00 local): nothing.
    let mut s = WearerState::new("w-2");
    assert!(run_in(SAO_PAULO, &mut s, &series(utc(0, 0, 0), Duration::hours(10), off)).is_empty());
    // ...but 30 minutes into their morning (08:30 local = 11:30 UTC) it alerts.
    let a = run_in(SAO_PAULO, &mut s, &series(utc(10, 0, 5), Duration::minutes(100), off));
    assert_eq!(rules(&a), vec![RuleKind::NotWorn]);
    assert_eq!((a[0].episode_start, a[0].raised_at), (utc(11, 0, 0), utc(11, 30, 0)));
}

#[test]
fn a_band_not_worn_does_not_count_as_inactivity() {
    let mut s = WearerState::new("w-1");
    let off = |r: &mut Reading| r.worn = Some(false);
    let a = run(&mut s, &series(utc(6, 0, 0), Duration::hours(4), off));
    assert_eq!(rules(&a), vec![RuleKind::NotWorn]);
}

#[test]
fn a_daytime_window_across_midnight_works() {
    let th: Thresholds = serde_json::from_str(r#"{"day_start": "22:00", "day_end": "06:00"}"#).unwrap();
    let mut s = WearerState::new("w-1");
    // 20:00–02:00 UTC on the 15th/16th is 22:00–04:00 Madrid.
    let a = evaluate(&mut s, &th, MADRID, DEVICE, &series(utc(20, 0, 0), Duration::hours(3), still_worn));
    assert_eq!(rules(&a), vec![RuleKind::Inactivity]);
    assert_eq!(a[0].episode_start, utc(20, 0, 0));
}

// ---- redelivery, late data, serde ----

fn busy_morning() -> Vec<Reading> {
    let mut readings = series(utc(9, 0, 0), Duration::hours(4), |r| {
        still_worn(r);
        r.heart_rate_bpm = Some(130);
        r.spo2_pct = Some(85);
        r.battery_pct = Some(10);
    });
    readings[3].sos = Some(true);
    readings[100].fall_detected = Some(true);
    readings[300].worn = Some(false);
    readings
}

#[test]
fn a_redelivered_batch_raises_nothing_new() {
    let mut s = WearerState::new("w-1");
    let readings = busy_morning();
    let first = run(&mut s, &readings);
    let raised: Vec<_> = first.iter().map(|a| a.rule).collect();
    for rule in [
        RuleKind::Sos,
        RuleKind::Fall,
        RuleKind::HeartRateHigh,
        RuleKind::Spo2Low,
        RuleKind::BatteryLow,
        RuleKind::Inactivity,
    ] {
        assert!(raised.contains(&rule), "{rule:?} missing from {raised:?}");
    }
    let saved = serde_json::to_string(&s).unwrap();
    let mut s: WearerState = serde_json::from_str(&saved).unwrap();
    assert!(run(&mut s, &readings).is_empty());
    assert!(run(&mut s, &readings[100..200]).is_empty());
}

#[test]
fn state_round_trips_through_json() {
    let mut s = WearerState::new("w-1");
    s.version = 7;
    run(&mut s, &busy_morning());
    run(
        &mut s,
        &[with(utc(14, 0, 0), |r| r.fall_detected = Some(true)), with(utc(14, 0, 1), |r| r.location = Some(home()))],
    );
    assert!(!s.pending_falls.is_empty() && !s.episodes.is_empty());
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["episodes"]["heart_rate_high"]["alerted"], true);
    let back: WearerState = serde_json::from_value(json).unwrap();
    assert_eq!(back, s);
}

#[test]
fn late_readings_do_not_rewrite_value_episodes() {
    let mut s = WearerState::new("w-1");
    run(&mut s, &[with(utc(12, 10, 0), hr(80))]);
    // A buffered minute of high heart rate from before: older than what was evaluated.
    assert!(run(&mut s, &series(utc(12, 0, 0), Duration::minutes(5), hr(150))).is_empty());
    assert!(!s.episodes.contains_key(&RuleKind::HeartRateHigh));
}

#[test]
fn thresholds_from_a_partial_registry_object() {
    let th: Thresholds =
        serde_json::from_str(r#"{"heart_rate_high_bpm": 130, "day_start": "07:30", "later_field": 1}"#).unwrap();
    assert_eq!(th.heart_rate_high_bpm, 130);
    assert_eq!(th.day_start.to_string(), "07:30:00");
    assert_eq!(th.heart_rate_low_bpm, 40);
    assert_eq!(serde_json::from_str::<Thresholds>("{}").unwrap(), Thresholds::default());
    let d = Thresholds::default();
    assert_eq!(
        (d.fall_cancel_window_s, d.heart_rate_sustain_s, d.spo2_low_pct, d.inactivity_hours, d.not_worn_min),
        (30, 120, 90, 3, 30)
    );
    assert_eq!((d.battery_low_pct, d.cooldown_min, d.no_data_min), (15, 30, 15));
    assert_eq!((d.day_start.to_string().as_str(), d.day_end.to_string().as_str()), ("08:00:00", "21:00:00"));
}

#[test]
fn rule_kinds_and_severities_are_snake_case_on_the_wire() {
    assert_eq!(serde_json::to_string(&RuleKind::HeartRateHigh).unwrap(), r#""heart_rate_high""#);
    assert_eq!(serde_json::to_string(&RuleKind::Spo2Low).unwrap(), r#""spo2_low""#);
    assert_eq!(serde_json::to_string(&Severity::Critical).unwrap(), r#""critical""#);
    for rule in RuleKind::ALL {
        assert_eq!(serde_json::to_string(&rule).unwrap(), format!("\"{}\"", rule.as_str()));
    }
}

// ---- alert ids ----

#[test]
fn alert_ids_are_deterministic_and_distinct() {
    let id = AlertId::new("w-1", RuleKind::Fall, utc(12, 0, 0));
    assert_eq!(id, AlertId::new("w-1", RuleKind::Fall, utc(12, 0, 0)));
    // Pinned: changing the derivation would duplicate alerts across a deploy.
    assert_eq!(id.as_str(), PINNED_FALL_ID);
    assert_eq!(id.as_str().len(), 32);
    assert_ne!(id, AlertId::new("w-2", RuleKind::Fall, utc(12, 0, 0)));
    assert_ne!(id, AlertId::new("w-1", RuleKind::Sos, utc(12, 0, 0)));
    assert_ne!(id, AlertId::new("w-1", RuleKind::Fall, utc(12, 0, 0) + Duration::milliseconds(1)));
    assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
}

const PINNED_FALL_ID: &str = "5d3c63c8e6c7e984339c808ab4aed5c8";

#[test]
fn the_same_readings_give_the_same_alert_ids_in_a_fresh_state() {
    let a = run(&mut WearerState::new("w-1"), &busy_morning());
    let b = run(&mut WearerState::new("w-1"), &busy_morning());
    assert_eq!(a, b);
}

// ---- offline ----

#[test]
fn no_data_after_fifteen_silent_minutes_once_per_silence() {
    let th = Thresholds::default();
    let mut s = WearerState::new("w-1");
    assert!(check_offline(&mut s, &th, utc(12, 0, 0)).is_none(), "never seen");
    run(&mut s, &[reading(utc(12, 0, 0))]);
    assert!(check_offline(&mut s, &th, utc(12, 14, 59)).is_none());
    let a = check_offline(&mut s, &th, utc(12, 15, 0)).unwrap();
    assert_eq!(
        (a.rule, a.severity, a.episode_start, a.value),
        (RuleKind::NoData, Severity::Medium, utc(12, 0, 0), Some(15.0))
    );
    assert!(check_offline(&mut s, &th, utc(12, 20, 0)).is_none());
    // The band comes back (the processor flushes at its clock), then goes silent
    // again: a new episode, after the cooldown.
    run(&mut s, &[reading(utc(12, 21, 0))]);
    flush(&mut s, &th, utc(12, 21, 5));
    assert!(!s.episodes.contains_key(&RuleKind::NoData), "current again");
    assert!(check_offline(&mut s, &th, utc(12, 40, 0)).is_none(), "cooldown");
    let b = check_offline(&mut s, &th, utc(12, 45, 0)).unwrap();
    assert_ne!(a.id, b.id);
}

#[test]
fn a_late_upload_of_old_readings_does_not_end_a_silence() {
    // The issue's flap: "no data since 10:44 (17 min)", then a late upload of
    // readings up to 10:45 and "no data since 10:45 (16 min)" a minute later.
    let th = Thresholds::default();
    let mut s = WearerState::new("w-1");
    run(&mut s, &[reading(utc(10, 44, 0))]);
    let first = check_offline(&mut s, &th, utc(11, 1, 0)).unwrap();
    assert_eq!(first.episode_start, utc(10, 44, 0));
    // The phone catches up on a minute of its buffer, processed at 11:01:30.
    run(&mut s, &series(utc(10, 44, 5), Duration::seconds(55), |_| {}));
    assert!(flush(&mut s, &th, utc(11, 1, 30)).is_empty());
    assert!(s.episodes.contains_key(&RuleKind::NoData), "still silent: the newest reading is 16 min old");
    for minute in 2..40 {
        assert!(check_offline(&mut s, &th, utc(11, minute, 0)).is_none(), "one alert per silence (11:{minute:02})");
    }
    // Current again: the episode is over (the alert path resolves it) ...
    run(&mut s, &[reading(utc(11, 40, 0))]);
    flush(&mut s, &th, utc(11, 40, 10));
    assert!(!s.episodes.contains_key(&RuleKind::NoData));
    // ... and the cooldown from 11:01 is long over: a new silence alerts.
    let second = check_offline(&mut s, &th, utc(11, 55, 0)).unwrap();
    assert_eq!(second.episode_start, utc(11, 40, 0));
}

#[test]
fn a_silence_that_ends_within_the_cooldown_waits_it_out_before_a_new_alert() {
    let th = Thresholds::default();
    let mut s = WearerState::new("w-1");
    run(&mut s, &[reading(utc(10, 0, 0))]);
    check_offline(&mut s, &th, utc(10, 15, 0)).unwrap();
    run(&mut s, &[reading(utc(10, 16, 0))]);
    flush(&mut s, &th, utc(10, 16, 0));
    // Silent again from 10:16: 15 min at 10:31, but the cooldown (30 min from 10:15) holds until 10:45.
    assert!(check_offline(&mut s, &th, utc(10, 31, 0)).is_none());
    assert!(check_offline(&mut s, &th, utc(10, 44, 59)).is_none());
    let again = check_offline(&mut s, &th, utc(10, 45, 0)).unwrap();
    assert_eq!(again.episode_start, utc(10, 16, 0));
}

// ---- messages ----

#[test]
fn the_fall_cancelled_notice_is_short_in_every_language_with_the_local_time() {
    use vigil_domain::alerts::message::MAX_CANCELLED_SMS_SEGMENTS;
    use vigil_domain::sms::segments;
    let fall = alert_of(RuleKind::Fall, None);
    // Cancelled at 12:42:10 UTC: 14:42 in Madrid.
    let at = utc(12, 42, 10);
    let en = render_fall_cancelled(&fall, "Carmen", MADRID, Language::En, at);
    assert_eq!(en.sms, "Vigil: Carmen's fall alert was cancelled on the band at 14:42. No action needed.");
    assert_eq!(en.alert_id, fall.id.to_string());
    assert_eq!(en.push_title, "Fall cancelled: Carmen");
    let es = render_fall_cancelled(&fall, "Carmen", MADRID, Language::Es, at);
    assert_eq!(
        es.sms,
        "Vigil: la alerta de caída de Carmen se canceló en la pulsera a las 14:42. No hace falta hacer nada."
    );
    let pt = render_fall_cancelled(&fall, "Carmen", SAO_PAULO, Language::PtBr, at);
    assert_eq!(
        pt.sms,
        "Vigil: o alerta de queda de Carmen foi cancelado na pulseira às 9h42. Não é preciso fazer nada."
    );
    for lang in [Language::En, Language::Es, Language::PtBr] {
        for name in ["Ana", "María José Pérez Gil", &"Conceição ".repeat(12)] {
            let m = render_fall_cancelled(&fall, name, MADRID, lang, at);
            let seg = segments(&m.sms);
            assert!(seg.segments <= MAX_CANCELLED_SMS_SEGMENTS, "{lang:?} {name}: {} ({seg:?})", m.sms);
            assert!(!m.sms.contains("http"), "nothing to acknowledge: no link");
        }
        let short = render_fall_cancelled(&fall, "Ana", MADRID, lang, at);
        assert!(short.sms.contains("Ana") && segments(&short.sms).segments <= 2, "{}", short.sms);
    }
}

/// An alert as the alerts table stores it, raised at 12:05 UTC (14:05 in Madrid).
fn alert_of(rule: RuleKind, value: Option<f64>) -> Alert {
    let at = utc(12, 5, 0);
    serde_json::from_value(serde_json::json!({
        "id": AlertId::new("w-1", rule, at),
        "wearer_id": "w-1",
        "rule": rule,
        "severity": rule.severity(),
        "episode_start": at,
        "raised_at": at,
        "readings": [],
        "location": {"lat": 40.416775, "lon": -3.70379},
        "value": value,
    }))
    .unwrap()
}

#[test]
fn language_tags_parse_leniently() {
    assert_eq!(Language::parse("pt-BR"), Language::PtBr);
    assert_eq!(Language::parse("PT-br"), Language::PtBr);
    assert_eq!(Language::parse("es"), Language::Es);
    assert_eq!(Language::parse("ES-mx"), Language::Es);
    assert_eq!(Language::parse("en"), Language::En);
    assert_eq!(Language::parse("fr"), Language::En);
    assert_eq!(Language::parse(""), Language::En);
    assert_eq!(serde_json::from_str::<Language>(r#""pt-br""#).unwrap(), Language::PtBr);
    assert_eq!(serde_json::to_string(&Language::PtBr).unwrap(), r#""pt-BR""#);
}

#[test]
fn every_message_names_the_wearer_gives_local_time_and_fits_an_sms() {
    let name = "Maria da Conceição Albuquerque Fernandes"; // 40 characters
    for rule in RuleKind::ALL {
        for lang in [Language::En, Language::Es, Language::PtBr] {
            let m = render(&alert_of(rule, Some(123.0)), name, MADRID, lang);
            let time = if lang == Language::PtBr { "14h05" } else { "14:05" };
            for text in [&m.sms, &m.push_body] {
                // The SMS may shorten a long name to keep 3 segments with the link.
                assert!(text.contains("Maria da Conceição"), "{rule:?} {lang:?}: {text}");
                // A trend is about days, not a time of day.
                assert!(text.contains(time) || rule == RuleKind::BaselineDeviation, "{rule:?} {lang:?}: {text}");
            }
            assert!(m.push_title.contains(name) && m.push_body.contains(name));
            assert!(
                vigil_domain::sms::fits(&m.sms, MAX_LINK_CHARS + 1, MAX_SMS_SEGMENTS),
                "{rule:?} {lang:?} with its link over {MAX_SMS_SEGMENTS} segments: {}",
                m.sms
            );
            let sos_or_fall = matches!(rule, RuleKind::Sos | RuleKind::Fall);
            assert_eq!(m.sms.contains("maps.google.com/?q=40.4168,-3.7038"), sos_or_fall, "{rule:?} {lang:?}");
            assert_eq!(
                m.push_body.contains("https://maps.google.com/?q=40.41678,-3.70379"),
                sos_or_fall,
                "{rule:?} {lang:?}"
            );
        }
    }
}

#[test]
fn the_same_alert_reads_at_the_wearers_local_time() {
    let alert = alert_of(RuleKind::Fall, None);
    assert!(render(&alert, "Ana", SAO_PAULO, Language::En).sms.contains("at 09:05"));
    assert!(render(&alert, "Ana", MADRID, Language::En).sms.contains("at 14:05"));
}

#[test]
fn messages_say_what_to_do_in_each_language() {
    let sos = alert_of(RuleKind::Sos, None);
    let en = render(&sos, "Ana", MADRID, Language::En);
    assert_eq!(en.push_title, "SOS: Ana");
    assert!(en.sms.starts_with("Vigil, SOS: Ana at 14:05. Call now; if no answer, emergency services."), "{}", en.sms);
    let es = render(&sos, "Ana", MADRID, Language::Es);
    assert!(es.sms.starts_with("Vigil, SOS: Ana a las 14:05. Llame ya; si no contesta, a emergencias."), "{}", es.sms);
    let pt = render(&sos, "Ana", MADRID, Language::PtBr);
    assert!(pt.sms.starts_with("Vigil, SOS: Ana às 14h05. Ligue já; sem resposta, chame o socorro."), "{}", pt.sms);
    let hr = render(&alert_of(RuleKind::HeartRateHigh, Some(134.0)), "Ana", MADRID, Language::Es);
    assert!(hr.sms.contains("Vigil, pulso alto: Ana (134 lpm) desde las 14:05"), "{}", hr.sms);
}

#[test]
fn one_oclock_takes_the_singular_article() {
    let mut alert = alert_of(RuleKind::Fall, None);
    alert.raised_at = utc(23, 10, 0); // 01:10 in Madrid
    assert!(render(&alert, "Ana", MADRID, Language::Es).sms.contains("a la 01:10"));
    assert!(render(&alert, "Ana", MADRID, Language::PtBr).sms.contains("à 1h10"));
}

#[test]
fn long_names_are_shortened_to_keep_the_sms_short() {
    let name = "Ana ".repeat(100);
    let m = render(&alert_of(RuleKind::NoData, Some(600.0)), &name, MADRID, Language::PtBr);
    assert!(vigil_domain::sms::fits(&m.sms, MAX_LINK_CHARS + 1, MAX_SMS_SEGMENTS), "{}", m.sms);
    assert!(m.sms.contains("Ana Ana"));
    assert!(m.sms.contains("10 h 00 min"));
}
