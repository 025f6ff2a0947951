//! Properties of the alert engine over generated days of readings, delivered the
//! way the alert-processor will see them: in batches, out of order, redelivered,
//! with the state serialized between batches.

use std::collections::{BTreeMap, BTreeSet};
use vigil_domain::alerts::message::{MAX_LINK_CHARS, MAX_SMS_SEGMENTS};

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use vigil_domain::Reading;
use vigil_domain::alerts::{Alert, AlertId, Language, RuleKind, Thresholds, WearerState, evaluate, flush, render};
use vigil_domain::reading::{Activity, Location};

const WEARER: &str = "w-1";
const DEVICE: &str = "band-0001";
const ZONES: [Tz; 4] =
    [chrono_tz::Europe::Madrid, chrono_tz::America::Sao_Paulo, chrono_tz::America::New_York, chrono_tz::Asia::Kolkata];

fn midnight() -> DateTime<Utc> {
    // A DST change in Europe, to keep the daytime arithmetic honest.
    Utc.with_ymd_and_hms(2026, 3, 29, 0, 0, 0).unwrap()
}

/// SplitMix64: batch splits and shuffles derived from one generated seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

fn at(second: i64) -> DateTime<FixedOffset> {
    (midnight() + Duration::seconds(second)).with_timezone(&FixedOffset::west_opt(3 * 3600).unwrap())
}

/// A day of readings with SOS presses and falls, some cancelled (0–60 s after:
/// both sides of the 30 s window), plus stray cancels.
#[derive(Debug, Clone)]
struct Day {
    readings: Vec<Reading>,
}

fn day() -> impl Strategy<Value = Day> {
    let sos = prop::collection::vec(0..86_400i64, 0..10);
    let falls = prop::collection::vec((0..86_400i64, prop::option::of(0..=60i64)), 0..10);
    let stray = prop::collection::vec(0..86_400i64, 0..3);
    (sos, falls, stray).prop_map(|(sos, falls, stray)| {
        // Routine readings every minute, with a location now and then.
        let mut readings: Vec<Reading> = (0..1440)
            .map(|m| {
                let mut r = Reading::at(at(m * 60), 0);
                r.heart_rate_bpm = Some(70);
                r.steps = Some(m % 7);
                if m % 90 == 0 {
                    r.location = Some(Location { lat: 40.0 + m as f64 / 1e4, lon: -3.7, accuracy_m: None });
                }
                r
            })
            .collect();
        for s in sos {
            let mut r = Reading::at(at(s), 0);
            r.sos = Some(true);
            readings.push(r);
        }
        for (s, cancel) in falls {
            let mut r = Reading::at(at(s), 0);
            r.fall_detected = Some(true);
            readings.push(r);
            if let Some(after) = cancel {
                let mut c = Reading::at(at(s + after), 0);
                c.fall_cancelled = Some(true);
                readings.push(c);
            }
        }
        for s in stray {
            let mut c = Reading::at(at(s), 0);
            c.fall_cancelled = Some(true);
            readings.push(c);
        }
        // The band numbers readings in time order.
        let mut order: Vec<usize> = (0..readings.len()).collect();
        order.sort_by_key(|&i| (readings[i].ts, i));
        for (seq, &i) in order.iter().enumerate() {
            readings[i].seq = seq as u64;
        }
        Day { readings }
    })
}

/// Evaluates batch by batch, the state going through JSON in between as it
/// does through DynamoDB, and finally flushes falls past the end of the day.
fn deliver(batches: &[Vec<Reading>], th: &Thresholds, tz: Tz) -> (Vec<Alert>, WearerState) {
    let mut stored = serde_json::to_string(&WearerState::new(WEARER)).unwrap();
    let mut alerts = Vec::new();
    for batch in batches {
        let mut state: WearerState = serde_json::from_str(&stored).unwrap();
        alerts.extend(evaluate(&mut state, th, tz, DEVICE, batch));
        alerts.extend(flush(&mut state, th, batch_max(batch)));
        stored = serde_json::to_string(&state).unwrap();
    }
    let mut state: WearerState = serde_json::from_str(&stored).unwrap();
    alerts.extend(flush(&mut state, th, midnight() + Duration::days(2)));
    (alerts, state)
}

/// The processor flushes with its clock; in a replay the newest reading of the batch
/// stands in for it (a clock never runs behind the readings it has received).
fn batch_max(batch: &[Reading]) -> DateTime<Utc> {
    batch.iter().map(|r| r.ts.with_timezone(&Utc)).max().unwrap_or(midnight())
}

fn in_order_batches(readings: &[Reading], rng: &mut Rng) -> Vec<Vec<Reading>> {
    let mut sorted = readings.to_vec();
    sorted.sort_by_key(|r| (r.ts, r.seq));
    let mut batches = Vec::new();
    while !sorted.is_empty() {
        let n = (1 + rng.below(120)).min(sorted.len());
        batches.push(sorted.drain(..n).collect());
    }
    batches
}

/// Random batches in random order, except that a cancel is never delivered after
/// a fall it cancels: the engine's documented delivery contract (the app uploads
/// both at once; see the module docs).
fn shuffled_batches(day: &Day, rng: &mut Rng) -> Vec<Vec<Reading>> {
    let n = 1 + rng.below(40);
    let rs = &day.readings;
    let mut batch_of: Vec<usize> = (0..rs.len()).map(|_| rng.below(n)).collect();
    for c in (0..rs.len()).filter(|&c| rs[c].fall_cancelled == Some(true)) {
        for f in (0..rs.len()).filter(|&f| rs[f].fall_detected == Some(true)) {
            if rs[f].ts <= rs[c].ts && rs[c].ts <= rs[f].ts + Duration::seconds(30) {
                batch_of[c] = batch_of[c].min(batch_of[f]);
            }
        }
    }
    let mut batches = vec![Vec::new(); n];
    for (r, b) in day.readings.iter().zip(batch_of) {
        batches[b].push(r.clone());
    }
    for b in &mut batches {
        rng.shuffle(b);
    }
    batches
}

fn critical_ids(alerts: &[Alert]) -> BTreeSet<AlertId> {
    alerts.iter().filter(|a| matches!(a.rule, RuleKind::Sos | RuleKind::Fall)).map(|a| a.id.clone()).collect()
}

/// What should be raised, computed independently of the engine: one alert per
/// cooldown window (5 minutes for SOS and falls) holding a press, or a fall with
/// no cancel within 30 s after it.
fn expected_critical(day: &Day) -> BTreeSet<AlertId> {
    let window = |t: DateTime<Utc>| {
        let w = 5 * 60;
        DateTime::from_timestamp(t.timestamp() - t.timestamp().rem_euclid(w), 0).unwrap()
    };
    let times = |pred: fn(&Reading) -> bool| -> Vec<DateTime<Utc>> {
        day.readings.iter().filter(|r| pred(r)).map(|r| r.ts.with_timezone(&Utc)).collect()
    };
    let cancels = times(|r| r.fall_cancelled == Some(true));
    let mut ids: BTreeSet<_> =
        times(|r| r.sos == Some(true)).into_iter().map(|t| AlertId::new(WEARER, RuleKind::Sos, window(t))).collect();
    for fall in times(|r| r.fall_detected == Some(true)) {
        let cancelled = cancels.iter().any(|&c| fall <= c && c <= fall + Duration::seconds(30));
        if !cancelled {
            ids.insert(AlertId::new(WEARER, RuleKind::Fall, window(fall)));
        }
    }
    ids
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn sos_and_falls_do_not_depend_on_delivery_order(day in day(), seed in any::<u64>(), zone in 0..ZONES.len()) {
        let (th, tz) = (Thresholds::default(), ZONES[zone]);
        let mut rng = Rng(seed);
        let (in_order, _) = deliver(&in_order_batches(&day.readings, &mut rng), &th, tz);
        let (shuffled, _) = deliver(&shuffled_batches(&day, &mut rng), &th, tz);
        let expected = expected_critical(&day);
        prop_assert_eq!(&critical_ids(&in_order), &expected);
        prop_assert_eq!(&critical_ids(&shuffled), &expected);
        // And each id once: no duplicate notification for one episode.
        for alerts in [&in_order, &shuffled] {
            let critical = alerts.iter().filter(|a| matches!(a.rule, RuleKind::Sos | RuleKind::Fall)).count();
            prop_assert_eq!(critical, expected.len());
        }
    }
}

/// A day exercising every rule: heart rate, SpO2 and battery in runs, the band
/// taken off now and then, still stretches, SOS and falls.
fn busy_day() -> impl Strategy<Value = Vec<Reading>> {
    // Runs of up to two hours, so still and unworn stretches reach their thresholds.
    let runs = prop::collection::vec((1..240usize, 0..6u8), 1..40);
    (runs, any::<u64>()).prop_map(|(runs, seed)| {
        let mut rng = Rng(seed);
        let mut readings = Vec::new();
        let mut battery = 100i64;
        for (len, kind) in runs {
            for _ in 0..len {
                let i = readings.len() as i64;
                // Every 30 s, with a jitter.
                let mut r = Reading::at(at(i * 30 + rng.below(5) as i64), i as u64);
                r.heart_rate_bpm = Some(match kind {
                    1 => 121 + rng.below(30) as i64,
                    2 => 30 + rng.below(10) as i64,
                    _ => 60 + rng.below(40) as i64,
                });
                r.spo2_pct = Some(if kind == 3 { 80 + rng.below(12) as i64 } else { 96 });
                r.worn = Some(kind != 4);
                r.steps = Some(if kind == 5 { 3 } else { 0 });
                r.activity = Some(if kind == 5 { Activity::Light } else { Activity::Rest });
                battery = if rng.below(300) == 0 { 100 } else { (battery - (rng.below(3) == 0) as i64).max(0) };
                r.battery_pct = Some(battery);
                r.sos = (rng.below(500) == 0).then_some(true);
                r.fall_detected = (rng.below(500) == 0).then_some(true);
                r.fall_cancelled = (rng.below(800) == 0).then_some(true);
                readings.push(r);
            }
        }
        readings
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn a_redelivered_batch_raises_nothing_new(readings in busy_day(), seed in any::<u64>(), zone in 0..ZONES.len()) {
        let (th, tz) = (Thresholds::default(), ZONES[zone]);
        let mut rng = Rng(seed);
        let mut batches = in_order_batches(&readings, &mut rng);
        if rng.below(2) == 0 {
            rng.shuffle(&mut batches);
        }
        let mut state = WearerState::new(WEARER);
        let mut seen = BTreeSet::new();
        for batch in &batches {
            for alert in evaluate(&mut state, &th, tz, DEVICE, batch) {
                prop_assert!(seen.insert(alert.id.clone()), "id raised twice: {:?}", alert);
            }
            let mut again: WearerState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
            prop_assert_eq!(&again, &state);
            let redelivered = evaluate(&mut again, &th, tz, DEVICE, batch);
            prop_assert!(redelivered.is_empty(), "{:?}", redelivered);
        }
    }

    #[test]
    fn alerts_respect_durations_and_cooldowns(readings in busy_day(), seed in any::<u64>(), zone in 0..ZONES.len()) {
        let (th, tz) = (Thresholds::default(), ZONES[zone]);
        let (alerts, _) = deliver(&in_order_batches(&readings, &mut Rng(seed)), &th, tz);
        let mut last: BTreeMap<RuleKind, DateTime<Utc>> = BTreeMap::new();
        for a in &alerts {
            prop_assert_eq!(a.severity, a.rule.severity());
            prop_assert!(a.readings.len() <= 20 && !a.readings.is_empty());
            let lasted = a.raised_at - a.episode_start;
            let needed = match a.rule {
                RuleKind::HeartRateHigh | RuleKind::HeartRateLow | RuleKind::Spo2Low => Duration::minutes(2),
                RuleKind::Inactivity => Duration::hours(3),
                RuleKind::NotWorn => Duration::minutes(30),
                _ => Duration::zero(),
            };
            prop_assert!(lasted >= needed, "{:?} after {}", a.rule, lasted);
            if !matches!(a.rule, RuleKind::Sos | RuleKind::Fall)
                && let Some(prev) = last.insert(a.rule, a.raised_at)
            {
                prop_assert!(a.raised_at - prev >= Duration::minutes(30), "{:?} storm", a.rule);
            }
        }
    }
}

fn thresholds() -> impl Strategy<Value = Thresholds> {
    let time = (0..24u32, 0..60u32).prop_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).unwrap());
    (
        (0..600u32, 0..300i64, 0..300i64, 0..3600u32, 0..100i64),
        (0..48u32, 0..600u32, time.clone(), time, 0..100i64, 0..20i64, 0..240u32),
    )
        .prop_map(
            |((cancel, high, low, sustain, spo2), (idle, off, day_start, day_end, battery, hyst, cooldown))| {
                Thresholds {
                    fall_cancel_window_s: cancel,
                    heart_rate_high_bpm: high,
                    heart_rate_low_bpm: low,
                    heart_rate_sustain_s: sustain,
                    spo2_low_pct: spo2,
                    spo2_sustain_s: sustain,
                    inactivity_hours: idle,
                    not_worn_min: off,
                    day_start,
                    day_end,
                    battery_low_pct: battery,
                    battery_hysteresis_pct: hyst,
                    cooldown_min: cooldown,
                    ..Thresholds::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the registry holds, evaluation completes and stays idempotent.
    #[test]
    fn any_thresholds_evaluate_and_stay_idempotent(readings in busy_day(), th in thresholds(), seed in any::<u64>(), zone in 0..ZONES.len()) {
        let tz = ZONES[zone];
        let mut rng = Rng(seed);
        let mut readings = readings;
        rng.shuffle(&mut readings);
        let mut state = WearerState::new(WEARER);
        for batch in readings.chunks(1 + rng.below(200)) {
            evaluate(&mut state, &th, tz, DEVICE, batch);
            let mut again = state.clone();
            prop_assert!(evaluate(&mut again, &th, tz, DEVICE, batch).is_empty());
        }
    }

    #[test]
    fn any_message_fits_an_sms(name in "\\PC{0,120}", rule in 0..RuleKind::ALL.len(), value in prop::option::of(-1000.0..100_000.0f64), lang in "[a-zA-Z-]{0,6}", zone in 0..ZONES.len(), minute in 0..1440i64) {
        let rule = RuleKind::ALL[rule];
        let t = midnight() + Duration::minutes(minute);
        let alert: Alert = serde_json::from_value(serde_json::json!({
            "id": AlertId::new(WEARER, rule, t), "wearer_id": WEARER, "rule": rule,
            "severity": rule.severity(), "episode_start": t, "raised_at": t, "readings": [],
            "location": {"lat": -23.55052, "lon": -46.633308},
        })).unwrap();
        let mut alert = alert;
        alert.value = value;
        let lang = Language::parse(&lang);
        let m = render(&alert, &name, ZONES[zone], lang);
        // Within 3 segments with the acknowledgement link, the name shortened only as much as needed.
        prop_assert!(vigil_domain::sms::fits(&m.sms, MAX_LINK_CHARS + 1, MAX_SMS_SEGMENTS), "{}", m.sms);
        let shown: String = name.trim().chars().take(39).collect();
        prop_assert!(m.push_body.contains(&shown));
        let start: String = name.trim().chars().take(5).collect();
        prop_assert!(m.sms.contains(start.trim_end()), "{} not in {}", start, m.sms);
        let local = t.with_timezone(&ZONES[zone]).format(if lang == Language::PtBr { "%-Hh%M" } else { "%H:%M" }).to_string();
        // A trend is about days, not a time of day.
        if rule != RuleKind::BaselineDeviation {
            prop_assert!(m.sms.contains(&local), "{} not in {}", local, m.sms);
        }
    }
}
