//! The daily picture, baselines, trends and the daily message, tested together
//! (they share the fixtures).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::America::{New_York, Sao_Paulo};
use chrono_tz::Europe::Madrid;
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;
use crate::alerts::{Language, RuleKind, Severity};
use crate::care::{Caregiver, QuietHours, WearerProfile, plan_deliveries};
use crate::reading::{Activity, SleepStage};
use crate::sms::segments;
use crate::vitals::StoredReading;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

// ---- the local day ----

#[test]
fn a_local_day_is_23_or_25_hours_when_clocks_change() {
    let cases: [(Tz, NaiveDate, &str, &str, i64); 6] = [
        (Madrid, date(2026, 3, 29), "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", 23),
        (Madrid, date(2026, 10, 25), "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z", 25),
        (Madrid, date(2026, 11, 22), "2026-11-21T23:00:00Z", "2026-11-22T23:00:00Z", 24),
        (New_York, date(2026, 3, 8), "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", 23),
        (New_York, date(2026, 11, 1), "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", 25),
        // São Paulo's clocks went back at midnight: 23:00–24:00 of the 16th twice.
        (Sao_Paulo, date(2019, 2, 16), "2019-02-16T02:00:00Z", "2019-02-17T03:00:00Z", 25),
    ];
    for (tz, d, start, end, hours) in cases {
        let (s, e) = local_day(tz, d);
        assert_eq!((s, e), (utc(start), utc(end)), "{tz} {d}");
        assert_eq!((e - s).num_hours(), hours);
        assert_eq!(day_of(tz, s), d);
        assert_eq!(day_of(tz, e - Duration::nanoseconds(1)), d);
        assert_eq!(day_of(tz, e), d.succ_opt().unwrap());
    }
}

#[test]
fn a_day_whose_midnight_does_not_exist_starts_at_its_first_instant() {
    // São Paulo, 2018-11-04: clocks jumped from 00:00 to 01:00 (-03 to -02).
    let (start, end) = local_day(Sao_Paulo, date(2018, 11, 4));
    assert_eq!(start, utc("2018-11-04T03:00:00Z"));
    assert_eq!(start.with_timezone(&Sao_Paulo).format("%H:%M").to_string(), "01:00");
    assert_eq!(end, utc("2018-11-05T02:00:00Z"));
    assert_eq!(day_of(Sao_Paulo, start - Duration::seconds(1)), date(2018, 11, 3));
    // The days tile time: no gap and no overlap between them.
    let (_, previous_end) = local_day(Sao_Paulo, date(2018, 11, 3));
    assert_eq!(previous_end, start);
}

// ---- the summary ----

/// One minute's state, repeated in each of its readings.
#[derive(Debug, Clone, Copy, PartialEq)]
struct State {
    worn: Option<bool>,
    stage: Option<SleepStage>,
    activity: Option<Activity>,
    hr: Option<i64>,
    spo2: Option<i64>,
    /// Steps in the minute.
    steps: i64,
}

const WORN_AWAKE: State = State {
    worn: Some(true),
    stage: Some(SleepStage::Awake),
    activity: Some(Activity::Rest),
    hr: Some(70),
    spo2: Some(96),
    steps: 0,
};

/// `per_minute` readings in each minute from `start`, seqs counting up from 1.
fn readings(start: DateTime<Utc>, minutes: &[State], per_minute: u32) -> Vec<StoredReading> {
    let mut out = Vec::new();
    let gap = 60 / i64::from(per_minute);
    for (i, s) in minutes.iter().enumerate() {
        for k in 0..per_minute {
            out.push(StoredReading {
                ts: start + Duration::minutes(i as i64) + Duration::seconds(i64::from(k) * gap),
                seq: out.len() as u64 + 1,
                heart_rate_bpm: s.hr,
                spo2_pct: s.spo2,
                skin_temp_c: None,
                // The band counts the minute's steps in its first reading.
                steps: Some(if k == 0 { s.steps } else { 0 }),
                battery_pct: Some(80),
                worn: s.worn,
                activity: s.activity,
                sleep_stage: s.stage,
                fall_detected: None,
                fall_cancelled: None,
                sos: None,
            });
        }
    }
    out
}

/// Madrid's fall-back day (25 h): asleep from local midnight to 07:00 (8 real
/// hours, as 02:00–03:00 happens twice) but awake 10 minutes from minute 180 and 3
/// from minute 300; light activity with 10 steps a minute for 2 hours; the band
/// off for an hour; one SpO2 minute at 91 and one heart rate minute mis-read at 30.
fn fall_back_day() -> Vec<State> {
    let mut day = vec![WORN_AWAKE; 1500];
    for (i, m) in day.iter_mut().enumerate().take(480) {
        let awake = (180..190).contains(&i) || (300..303).contains(&i);
        if !awake {
            *m = State { stage: Some(SleepStage::Deep), hr: Some(55), ..WORN_AWAKE };
        }
    }
    day[100].hr = Some(30);
    for m in &mut day[600..720] {
        *m = State { activity: Some(Activity::Light), steps: 10, hr: Some(90), ..WORN_AWAKE };
    }
    for m in &mut day[1200..1260] {
        *m = State { worn: Some(false), stage: None, activity: None, hr: None, spo2: None, steps: 0 };
    }
    day[800].spo2 = Some(91);
    day
}

fn day_alerts(start: DateTime<Utc>) -> Vec<DayAlert> {
    let at = |m: i64| start + Duration::minutes(m);
    vec![
        DayAlert { raised_at: at(500), acknowledged_at: Some(at(501)), rule: RuleKind::Inactivity },
        DayAlert { raised_at: at(900), acknowledged_at: Some(at(903)), rule: RuleKind::NotWorn },
        DayAlert { raised_at: at(1000), acknowledged_at: None, rule: RuleKind::BatteryLow },
        // Not this day's, and a trend (about the day before): left out.
        DayAlert { raised_at: at(-5), acknowledged_at: None, rule: RuleKind::Sos },
        DayAlert { raised_at: at(1), acknowledged_at: None, rule: RuleKind::BaselineDeviation },
    ]
}

#[test]
fn a_known_day_gives_known_figures() {
    let d = date(2026, 10, 25);
    let (start, _) = local_day(Madrid, d);
    let s = summarize(Madrid, d, &readings(start, &fall_back_day(), 1), &day_alerts(start));
    assert_eq!(
        s,
        DaySummary {
            date: d,
            complete: true,
            day_minutes: 1500,
            worn_minutes: 1440,
            sleep_minutes: 467,
            wake_ups: 1,
            restlessness: Some(1.63),
            steps: 1200,
            active_minutes: 120,
            resting_hr: Some(55.0),
            lowest_spo2: Some(91),
            alerts: 3,
            acked: 2,
            ack_median_secs: Some(120),
            version: SUMMARY_VERSION,
        }
    );
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["date"], "2026-10-25");
    assert_eq!(json["ack_median_secs"], 120);
    assert_eq!(serde_json::from_value::<DaySummary>(json).unwrap(), s);
}

#[test]
fn little_wear_makes_an_incomplete_day_scaled_to_its_length() {
    // Spring forward: 1,380 minutes; complete from 1,150 worn.
    let d = date(2026, 3, 29);
    let (start, _) = local_day(Madrid, d);
    let off = State { worn: Some(false), stage: None, activity: None, hr: None, spo2: None, steps: 0 };
    let mut day = vec![WORN_AWAKE; 1380];
    for m in &mut day[1150..] {
        *m = off;
    }
    let s = summarize(Madrid, d, &readings(start, &day, 1), &[]);
    assert_eq!((s.day_minutes, s.worn_minutes, s.complete), (1380, 1150, true));
    day[1149] = off;
    let s = summarize(Madrid, d, &readings(start, &day, 1), &[]);
    assert_eq!((s.worn_minutes, s.complete), (1149, false));
    // No sleep: no night figures, no resting heart rate from sleep, but from rest.
    assert_eq!((s.sleep_minutes, s.wake_ups, s.restlessness), (0, 0, None));
    assert_eq!(s.resting_hr, Some(70.0));
    // Nothing at all.
    let empty = summarize(Madrid, d, &[], &[]);
    assert_eq!((empty.complete, empty.worn_minutes, empty.steps, empty.resting_hr), (false, 0, 0, None));
}

fn state() -> impl Strategy<Value = State> {
    (
        prop::option::of(any::<bool>()),
        prop::option::of(prop::sample::select(SleepStage::ALL.to_vec())),
        prop::option::of(prop::sample::select(Activity::ALL.to_vec())),
        prop::option::of(35..130i64),
        prop::option::of(85..100i64),
        0..40i64,
    )
        .prop_map(|(worn, stage, activity, hr, spo2, steps)| State { worn, stage, activity, hr, spo2, steps })
}

/// A day of stretches of one state each (as a day is: asleep for hours, then…).
fn day_of_stretches() -> impl Strategy<Value = Vec<State>> {
    prop::collection::vec((state(), 1..240usize), 1..30).prop_map(|stretches| {
        let mut day: Vec<State> = stretches.into_iter().flat_map(|(s, n)| std::iter::repeat_n(s, n)).collect();
        day.resize(1440, WORN_AWAKE);
        day
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every 5 s or once a minute, shuffled, some readings twice: the same figures.
    #[test]
    fn figures_do_not_depend_on_rate_order_or_duplicates(
        day in day_of_stretches(),
        per_minute in prop::sample::select(vec![2u32, 3, 12]),
        seed in any::<u64>(),
    ) {
        let d = date(2026, 11, 22);
        let (start, _) = local_day(Madrid, d);
        let once = summarize(Madrid, d, &readings(start, &day, 1), &[]);
        let mut many = readings(start, &day, per_minute);
        let mut rng = Rng(seed);
        for i in (1..many.len()).rev() {
            many.swap(i, rng.below(i + 1));
        }
        for _ in 0..50 {
            let again = many[rng.below(many.len())].clone();
            many.push(again);
        }
        // Readings of the days around it do not count.
        many.push(StoredReading { ts: start - Duration::seconds(1), seq: 0, ..many[0].clone() });
        prop_assert_eq!(summarize(Madrid, d, &many, &[]), once);
    }

    #[test]
    fn z_is_symmetric_and_zero_at_the_median(
        median in -1.0e4..1.0e5f64, mad in 0.0..1.0e4f64, d in 0.0..1.0e5f64, f in 0..3usize,
    ) {
        let (b, f) = (Baseline { median, mad, days: 20 }, Feature::ALL[f]);
        prop_assert_eq!(z(median, &b, f), 0.0);
        let (up, down) = (z(median + d, &b, f), z(median - d, &b, f));
        prop_assert!((up + down).abs() <= 1e-9 * up.abs().max(1.0), "{} {}", up, down);
        prop_assert!(up >= 0.0 && up.is_finite());
    }

    /// Steps and heart rate within a person's usual day-to-day noise for 60 days:
    /// no trend, ever.
    #[test]
    fn a_stable_noisy_history_raises_no_trend(seed in any::<u64>()) {
        let history = history(seed, 60, |_| (5000.0, 60.0, 6.0));
        for on in history.iter().map(|d| d.date) {
            let trends = trends(&history, on);
            prop_assert!(trends.is_empty(), "{:?}", trends);
        }
    }
}

/// Histories per planted change in [`planted_changes_are_caught_within_4_days_in_at_least_999_of_1000`].
const PLANTED: u64 = 3_000;

/// A 40 % decline in steps over 10 days and a 10-bpm rise in resting heart rate over 7,
/// each planted in 3,000 noisy histories (fixed seeds, so every run checks the same
/// histories) starting on day 20 to 49: each raises exactly one alert, within 4 days of its
/// start in at least 99.9 % of histories and within 5 in all. (As proptests with fresh
/// seeds, the rise was once caught on day 5: 1 in 3,000 here; baseline.rs.)
#[test]
fn planted_changes_are_caught_within_4_days_in_at_least_999_of_1000() {
    type Level = fn(i64, i64) -> (f64, f64, f64);
    let changes: [(Feature, i64, Level); 2] = [
        (Feature::Steps, 25, |day, start| {
            let into = (day - start + 1).clamp(0, 10) as f64;
            (5000.0 * (1.0 - 0.04 * into), 60.0, 6.0)
        }),
        (Feature::RestingHeartRate, 30, |day, start| {
            let into = (day - start + 1).clamp(0, 7) as f64;
            (5000.0, 60.0 + 10.0 * into / 7.0, 6.0)
        }),
    ];
    for (feature, starts, level) in changes {
        let mut delays = std::collections::BTreeMap::new();
        for n in 0..PLANTED {
            let start = 20 + (n as i64 % starts);
            let history = history(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ feature as u64, 60, |day| level(day, start));
            assert_eq!(raised(&history).len(), 1, "{feature:?}, history {n}: one change, one alert");
            *delays.entry(first_new_trend(&history, feature).map(|d| d - start)).or_insert(0u64) += 1;
        }
        let within = |days: i64| {
            delays.iter().filter(|(d, _)| d.is_some_and(|d| (0..=days).contains(&d))).map(|(_, n)| n).sum::<u64>()
        };
        assert_eq!(within(5), PLANTED, "{feature:?}: every change caught within 5 days: {delays:?}");
        assert!(within(4) * 1000 >= PLANTED * 999, "{feature:?}: within 4 days in 99.9 %: {delays:?}");
    }
}

/// splitmix64: reproducible noise for the planted histories.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
}

/// Standard deviations of the day-to-day noise in the planted histories.
const STEPS_NOISE: f64 = 0.02;
const HR_NOISE_BPM: f64 = 0.7;
const RESTLESSNESS_NOISE: f64 = 0.5;

/// `days` complete days from 2026-09-01 whose steps, resting heart rate and
/// restlessness are `level(day index)` plus normal noise (capped at 3 standard
/// deviations, as a simulator's would be).
fn history(seed: u64, days: i64, level: impl Fn(i64) -> (f64, f64, f64)) -> Vec<DaySummary> {
    let mut rng = Rng(seed);
    let mut noise = move || rng.normal().clamp(-3.0, 3.0);
    (0..days)
        .map(|i| {
            let (steps, hr, restless) = level(i);
            DaySummary {
                date: date(2026, 9, 1) + Duration::days(i),
                complete: true,
                day_minutes: 1440,
                worn_minutes: 1400,
                sleep_minutes: 420,
                wake_ups: 1,
                restlessness: Some((restless + RESTLESSNESS_NOISE * noise()).max(0.0)),
                steps: (steps * (1.0 + STEPS_NOISE * noise())).round() as i64,
                active_minutes: 200,
                resting_hr: Some(((hr + HR_NOISE_BPM * noise()) * 10.0).round() / 10.0),
                lowest_spo2: Some(93),
                alerts: 0,
                acked: 0,
                ack_median_secs: None,
                version: SUMMARY_VERSION,
            }
        })
        .collect()
}

/// The day index of the first new trend of `feature`, each day judged on the
/// history up to it (as the daily function sees it).
fn first_new_trend(history: &[DaySummary], feature: Feature) -> Option<i64> {
    raised(history).into_iter().find(|(_, f)| *f == feature).map(|(i, _)| i)
}

/// Every new trend raised over `history`: (day index, feature).
fn raised(history: &[DaySummary]) -> Vec<(i64, Feature)> {
    let mut out = Vec::new();
    for (i, day) in history.iter().enumerate() {
        for t in new_trends(&history[..=i], day.date) {
            out.push((i as i64, t.feature));
        }
    }
    out
}

// ---- baselines and trends ----

#[test]
fn a_baseline_needs_14_complete_days_and_leaves_out_the_2_before() {
    let mut h = history(7, 30, |_| (5000.0, 60.0, 6.0));
    let on = h[29].date;
    assert_eq!(baseline(&h, on, Feature::Steps).unwrap().days, 27, "days 0..=26: 27 of them");
    // Only 13 complete days left: no baseline, no trend even for wild days.
    for d in &mut h[..14] {
        d.complete = false;
    }
    assert!(baseline(&h, on, Feature::Steps).is_none());
    h[28].steps = 0;
    h[29].steps = 0;
    assert!(trends(&h, on).is_empty());
    // The 2 days before `on` never count: wild values there do not move it.
    let steady = history(7, 40, |_| (5000.0, 60.0, 6.0));
    let mut wild = steady.clone();
    wild[37].steps = 100_000;
    wild[38].steps = 100_000;
    let on = steady[39].date;
    assert_eq!(baseline(&steady, on, Feature::Steps), baseline(&wild, on, Feature::Steps));
    // At most 28 days.
    assert_eq!(baseline(&steady, on, Feature::Steps).unwrap().days, 28);
}

#[test]
fn the_median_and_mad_are_robust_and_the_floor_holds() {
    let mut h = history(1, 20, |_| (5000.0, 60.0, 6.0));
    for (i, d) in h.iter_mut().enumerate() {
        d.steps = 5000 + (i as i64 % 3) * 100 - 100; // 4900, 5000, 5100, …
        d.resting_hr = Some(60.0);
    }
    h[0].steps = 50_000; // one day out walking: does not move the median
    let b = baseline(&h, date(2026, 9, 21), Feature::Steps).unwrap();
    assert_eq!((b.median, b.mad, b.days), (5000.0, 100.0, 18));
    // 1.4826 · max(100, 2 % of 5000 = 100): 1,000 fewer steps is z = −6.74.
    assert!((z(4000.0, &b, Feature::Steps) + 6.744).abs() < 0.01);
    // A perfectly steady heart rate: MAD 0, floored at 0.75 bpm.
    let b = baseline(&h, date(2026, 9, 21), Feature::RestingHeartRate).unwrap();
    assert_eq!(b.mad, 0.0);
    assert!((z(63.0, &b, Feature::RestingHeartRate) - 3.0 / (1.4826 * 0.75)).abs() < 1e-9);
}

#[test]
fn a_trend_needs_two_days_in_the_bad_direction() {
    let h = history(3, 40, |_| (5000.0, 60.0, 6.0));
    let on = h[39].date;
    let with = |days: &[(usize, i64)]| {
        let mut h = h.clone();
        for &(i, steps) in days {
            h[i].steps = steps;
        }
        trends(&h, on)
    };
    assert!(with(&[(39, 2000)]).is_empty(), "one low day is not a trend");
    assert!(with(&[(39, 9000), (38, 9000)]).is_empty(), "more steps is not bad");
    let t = with(&[(39, 2000), (38, 2000), (37, 2000)]);
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].feature, t[0].date, t[0].value, t[0].days), (Feature::Steps, on, 2000.0, 3));
    assert!(t[0].z <= -3.0);
    // An incomplete day breaks it.
    let mut h2 = h.clone();
    h2[38].steps = 2000;
    h2[39].steps = 2000;
    h2[38].complete = false;
    assert!(trends(&h2, on).is_empty());
}

#[test]
fn a_sustained_change_raises_once_and_a_new_one_after_recovery_again() {
    // Steps halve on days 30–39, recover on 40–49, halve again from 50.
    let h = history(11, 60, |d| {
        let low = (30..40).contains(&d) || d >= 50;
        (if low { 2500.0 } else { 5000.0 }, 60.0, 6.0)
    });
    assert_eq!(raised(&h), [(31, Feature::Steps), (51, Feature::Steps)]);
    // trends() still reports every day of it; new_trends() only the first.
    assert_eq!(trends(&h[..=33], h[33].date).len(), 1);
    assert!(continues_episode(&h[..=33], h[33].date, Feature::Steps));
    assert!(!continues_episode(&h[..=31], h[31].date, Feature::Steps));
}

#[test]
fn a_trend_alert_is_low_one_per_wearer_and_day_and_deterministic() {
    let h = history(5, 40, |d| (if d >= 38 { 1000.0 } else { 5000.0 }, 60.0, 6.0));
    let on = h[39].date;
    let new = new_trends(&h, on);
    assert_eq!(new.len(), 1);
    let a = trend_alert("w-1", Madrid, on, &new).unwrap();
    assert_eq!((a.rule, a.severity), (RuleKind::BaselineDeviation, Severity::Low));
    assert_eq!(a.episode_start, local_day(Madrid, h[38].date).0);
    assert_eq!(a.raised_at, local_day(Madrid, on).1);
    assert_eq!(a, trend_alert("w-1", Madrid, on, &new).unwrap());
    assert_ne!(a.id, trend_alert("w-2", Madrid, on, &new).unwrap().id);
    assert!(trend_alert("w-1", Madrid, on, &[]).is_none());
    assert_eq!(RuleKind::BaselineDeviation.as_str(), "baseline_deviation");
    assert_eq!("steps".parse::<Feature>().unwrap(), Feature::Steps);
    assert!("walking".parse::<Feature>().is_err());
}

// ---- the daily message ----

fn summary() -> DaySummary {
    DaySummary {
        date: date(2026, 11, 22),
        complete: true,
        day_minutes: 1440,
        worn_minutes: 1400,
        sleep_minutes: 430,
        wake_ups: 2,
        restlessness: Some(4.2),
        steps: 4300,
        active_minutes: 190,
        resting_hr: Some(62.4),
        lowest_spo2: Some(93),
        alerts: 0,
        acked: 0,
        ack_median_secs: None,
        version: SUMMARY_VERSION,
    }
}

fn usual() -> Usual {
    Usual { resting_hr: Some(60.0), restlessness: Some(4.0), steps: Some(5000.0) }
}

fn trend(feature: Feature, days: u32) -> Trend {
    Trend {
        feature,
        date: date(2026, 11, 22),
        z: -4.0,
        value: 2000.0,
        baseline: Baseline { median: 5000.0, mad: 300.0, days: 28 },
        days,
    }
}

#[test]
fn the_daily_message_in_each_language() {
    let s = summary();
    assert_eq!(
        daily_message(Language::En, "Lucía", &s, &usual(), &[]),
        "Vigil: Yesterday Lucía slept 7 h 10 min, walked 4,300 steps, resting heart rate 62 (usual 60). No alerts."
    );
    assert_eq!(
        daily_message(Language::Es, "Lucía", &s, &usual(), &[]),
        "Vigil: ayer Lucía durmió 7 h 10 min, caminó 4.300 pasos, pulso en reposo 62 (habitual 60). Sin alertas."
    );
    assert_eq!(
        daily_message(Language::PtBr, "Lucía", &s, &usual(), &[]),
        "Vigil: ontem Lucía dormiu 7 h 10 min, caminhou 4.300 passos, frequência cardíaca em repouso 62 \
         (normal 60). Nenhum alerta."
    );
    let alerts = DaySummary { alerts: 3, acked: 2, ack_median_secs: Some(250), ..summary() };
    let text = daily_message(Language::En, "Ana", &alerts, &Usual::default(), &[trend(Feature::Steps, 2)]);
    assert_eq!(
        text,
        "Vigil: Yesterday Ana slept 7 h 10 min, walked 4,300 steps, resting heart rate 62. \
         3 alerts, 2 acknowledged (median 4 min). Walking well below usual for 2 days."
    );
    let one = DaySummary { alerts: 1, acked: 1, ack_median_secs: Some(40), ..summary() };
    assert!(
        daily_message(Language::Es, "Ana", &one, &usual(), &[]).ends_with("1 alerta, 1 confirmada (mediana 40 s).")
    );
    let none = DaySummary { alerts: 2, ..summary() };
    assert!(daily_message(Language::PtBr, "Ana", &none, &usual(), &[]).ends_with("2 alertas, nenhum confirmado."));
}

#[test]
fn an_incomplete_day_says_so_instead_of_figures() {
    let s = DaySummary { complete: false, worn_minutes: 560, ..summary() };
    let text = daily_message(Language::En, "Lucía", &s, &usual(), &[]);
    assert_eq!(text, "Vigil: Yesterday Lucía wore the band 9 h 20 min, too little for a daily picture. No alerts.");
    assert!(!text.contains("4,300"));
    let es = daily_message(Language::Es, "Lucía", &s, &usual(), &[]);
    assert!(es.contains("llevó la pulsera 9 h 20 min"), "{es}");
}

#[test]
fn a_daily_message_fits_two_sms_segments_and_keeps_its_trends() {
    let all = [trend(Feature::Steps, 3), trend(Feature::RestingHeartRate, 2), trend(Feature::Restlessness, 4)];
    let big = DaySummary { steps: 123_456, alerts: 12, acked: 11, ack_median_secs: Some(7_300), ..summary() };
    let emoji = "🚨".repeat(60);
    let names = ["Lucía", "María José Pérez Gil", "Maria da Conceição Albuquerque Fernandes", emoji.as_str()];
    for lang in [Language::En, Language::Es, Language::PtBr] {
        for name in &names {
            for trends in [&all[..0], &all[..1], &all[..]] {
                for s in [&big, &summary(), &DaySummary { complete: false, ..summary() }] {
                    let text = daily_message(lang, name, s, &usual(), trends);
                    assert!(segments(&text).segments <= 2, "{} segments: {text}", segments(&text).segments);
                    assert!(text.starts_with("Vigil"), "{text}");
                    // With a name of up to 20 characters, every trend is there.
                    if name.chars().count() <= 20 {
                        let keywords = |f: Feature| match (lang, f) {
                            (Language::En, Feature::Steps) => "walking",
                            (Language::En, Feature::RestingHeartRate) => "heart rate",
                            (Language::En, Feature::Restlessness) => "restless",
                            (Language::Es, Feature::Steps) => "a",
                            (Language::Es, Feature::RestingHeartRate) => "ulso",
                            (Language::Es, Feature::Restlessness) => "agitadas",
                            (Language::PtBr, Feature::Steps) => "a",
                            (Language::PtBr, Feature::RestingHeartRate) => "repouso",
                            (Language::PtBr, Feature::Restlessness) => "agitadas",
                        };
                        for t in trends {
                            assert!(text.to_lowercase().contains(keywords(t.feature)), "{text}");
                        }
                        assert!(text.contains(*name), "the name is whole: {text}");
                    }
                }
            }
        }
    }
    // Three trends in Spanish with a long name: merged into one sentence.
    let text = daily_message(Language::Es, "María José Pérez Gil", &summary(), &usual(), &all);
    assert!(text.contains("Desde hace 2 días: menos pasos, pulso en reposo más alto y noches más agitadas"), "{text}");
}

// ---- when it is due, and its key ----

fn quiet(start: &str, end: &str, tz: &str) -> QuietHours {
    QuietHours { start: start.parse().unwrap(), end: end.parse().unwrap(), time_zone: tz.into() }
}

#[test]
fn the_daily_message_is_due_from_the_chosen_hour_for_the_day_before() {
    let eight = NaiveTime::from_hms_opt(8, 0, 0).unwrap();
    // Madrid in winter is UTC+1: 08:00 is 07:00Z.
    assert_eq!(due(Madrid, Madrid, eight, None, utc("2026-11-23T06:59:59Z")), None);
    assert_eq!(due(Madrid, Madrid, eight, None, utc("2026-11-23T07:00:00Z")), Some(date(2026, 11, 22)));
    assert_eq!(due(Madrid, Madrid, eight, None, utc("2026-11-23T22:59:00Z")), Some(date(2026, 11, 22)));
    // Quiet hours until 08:30 hold it until they end.
    let q = quiet("22:00", "08:30", "Europe/Madrid");
    assert_eq!(due(Madrid, Madrid, eight, Some(&q), utc("2026-11-23T07:10:00Z")), None);
    assert_eq!(due(Madrid, Madrid, eight, Some(&q), utc("2026-11-23T07:30:00Z")), Some(date(2026, 11, 22)));
    // A caregiver in Madrid for a wearer in New York: at 08:00 in Madrid it is
    // 02:00 in New York, whose 22nd has ended.
    assert_eq!(due(New_York, Madrid, eight, None, utc("2026-11-23T07:00:00Z")), Some(date(2026, 11, 22)));
    // And the other way round: 08:00 in New York is 14:00 in Madrid, whose last
    // ended day is also the 22nd.
    assert_eq!(due(Madrid, New_York, eight, None, utc("2026-11-23T13:00:00Z")), Some(date(2026, 11, 22)));
    // 02:30 does not exist in Madrid on 2026-03-29: it is due an hour later.
    let half_two = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
    assert_eq!(due(Madrid, Madrid, half_two, None, utc("2026-03-29T01:29:00Z")), None);
    assert_eq!(due(Madrid, Madrid, half_two, None, utc("2026-03-29T01:30:00Z")), Some(date(2026, 3, 28)));
    assert_eq!(daily_key("w-1", date(2026, 11, 22), "cg-ana"), "daily#w-1#2026-11-22#cg-ana");
}

// ---- a trend alert reaches caregivers by day, never by a call ----

fn profile(quiet_hours: Option<QuietHours>) -> WearerProfile {
    WearerProfile {
        wearer_id: "w-1".into(),
        name: "Lucía".into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers: vec![Caregiver {
            id: "cg".into(),
            sub: None,
            name: None,
            level: 1,
            language: Language::Es,
            phone: Some("+34600000001".into()),
            push_endpoint: Some("arn:push:1".into()),
            quiet_hours,
            daily_at: None,
        }],
        snoozes: Default::default(),
        escalation: Default::default(),
    }
}

#[test]
fn a_trend_alert_waits_for_the_day_and_never_calls() {
    let h = history(5, 40, |d| (if d >= 38 { 1000.0 } else { 5000.0 }, 60.0, 6.0));
    let on = h[39].date; // 2026-10-10
    let alert = trend_alert("w-1", Madrid, on, &new_trends(&h, on)).unwrap();
    let now = alert.raised_at; // midnight in Madrid
    // Without quiet hours: held until the wearer's daytime, 08:00 in Madrid.
    let plan = plan_deliveries(&alert, &profile(None), now, None);
    assert_eq!(plan.len(), 2);
    assert!(plan.iter().all(|d| d.not_before == Some(utc("2026-10-11T06:00:00Z"))), "{plan:?}");
    // With quiet hours: theirs.
    let plan = plan_deliveries(&alert, &profile(Some(quiet("23:00", "07:30", "Europe/Madrid"))), now, None);
    assert!(plan.iter().all(|d| d.not_before == Some(utc("2026-10-11T05:30:00Z"))), "{plan:?}");
    // By day it goes at once.
    let noon = utc("2026-10-11T10:00:00Z");
    assert!(plan_deliveries(&alert, &profile(None), noon, None).iter().all(|d| d.not_before.is_none()));
    // No escalation step, so no call.
    assert!(crate::escalation::deliveries(&alert, &profile(None), now, None).is_empty());
    // Other low alerts keep their behaviour: without quiet hours they go at once.
    let battery = crate::alerts::Alert { rule: RuleKind::BatteryLow, ..alert.clone() };
    assert!(plan_deliveries(&battery, &profile(None), now, None).iter().all(|d| d.not_before.is_none()));
    let sms = &plan_deliveries(&alert, &profile(None), noon, None)[0].message.sms;
    assert!(sms.starts_with("Vigil, cambio respecto a lo habitual: Lucía"), "{sms}");
}

/// The detection figures of the module docs: `cargo nextest run -p vigil-domain
/// --run-ignored only detection_figures --no-capture`. For each noise level, 100
/// seeded 60-day histories per planted change (start on day 30) and 100 stable
/// ones: the delays from the start to the first alert, and the false alerts.
#[test]
#[ignore = "a measurement: prints the figures of the baseline docs"]
fn detection_figures() {
    for scale in [0.5, 1.0, 2.0, 3.0] {
        let run = |level: &dyn Fn(i64) -> (f64, f64, f64), feature: Option<Feature>| {
            let mut delays = std::collections::BTreeMap::<i64, u32>::new();
            let (mut false_alerts, mut missed) = (0, 0);
            for seed in 0..100 {
                let h = history_scaled(seed, scale, level);
                let raised = raised(&h);
                match feature {
                    Some(f) => {
                        match raised.iter().find(|(_, g)| *g == f) {
                            Some((i, _)) => *delays.entry(i - 30).or_default() += 1,
                            None => missed += 1,
                        }
                        false_alerts += raised.iter().filter(|(i, g)| *g != f || *i < 30).count();
                    }
                    None => false_alerts += raised.len(),
                }
            }
            format!("delays {delays:?}, missed {missed}, false alerts {false_alerts}")
        };
        let decline = |d: i64| (5000.0 * (1.0 - 0.04 * (d - 29).clamp(0, 10) as f64), 60.0, 6.0);
        let rise = |d: i64| (5000.0, 60.0 + 10.0 * (d - 29).clamp(0, 7) as f64 / 7.0, 6.0);
        let stable = |_| (5000.0, 60.0, 6.0);
        println!(
            "noise x{scale} (steps {:.0} %, rhr {:.2} bpm, restlessness {:.2} min/h)",
            STEPS_NOISE * scale * 100.0,
            HR_NOISE_BPM * scale,
            RESTLESSNESS_NOISE * scale
        );
        println!("  steps -40 % over 10 days: {}", run(&decline, Some(Feature::Steps)));
        println!("  rhr +10 bpm over 7 days:  {}", run(&rise, Some(Feature::RestingHeartRate)));
        println!("  stable: {}", run(&stable, None));
    }
}

/// [`history`] with its noise multiplied by `scale`.
fn history_scaled(seed: u64, scale: f64, level: &dyn Fn(i64) -> (f64, f64, f64)) -> Vec<DaySummary> {
    let plain = history(seed, 60, |_| (5000.0, 60.0, 6.0));
    plain
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let (steps, hr, restless) = level(i as i64);
            let noise = |v: f64, base: f64| base + (v - base) * scale;
            DaySummary {
                steps: noise(d.steps as f64, 5000.0) as i64 + (steps - 5000.0) as i64,
                resting_hr: d.resting_hr.map(|v| noise(v, 60.0) + hr - 60.0),
                restlessness: d.restlessness.map(|v| (noise(v, 6.0) + restless - 6.0).max(0.0)),
                ..d
            }
        })
        .collect()
}
