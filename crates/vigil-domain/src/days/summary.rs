//! A wearer's local day and its figures.
//!
//! # The day
//!
//! A day is the wearer's local calendar day `[start, end)` in their time zone
//! ([`local_day`]): 24 h, or 23 h and 25 h on the days clocks change. Where a
//! time zone's clocks jump forward at midnight (America/Sao_Paulo until 2019),
//! the day starts at the first instant it has, 01:00.
//!
//! # Figures, per minute
//!
//! Readings come every 5 s live, once a minute from the fast simulation; they may
//! be duplicated (same seq: counted once) and in any order. Every figure except
//! steps is counted in minutes, and a minute is classified by the majority of its
//! readings (at least half of those that carry the field), so the figures do not
//! depend on the sampling rate. The minutes are the UTC minutes of the day (a
//! day's start is always on a minute: time zone offsets today are whole quarter
//! hours).
//!
//! | figure | definition |
//! |---|---|
//! | `worn_minutes` | minutes whose readings say `worn: true`; when none of them says either way, minutes that carry a heart rate or a sleep stage (only a band on a wrist measures them) |
//! | `complete` | `worn_minutes` ≥ 20/24 of the day's minutes (1,200 of 1,440; 1,150 and 1,250 on 23- and 25-hour days): room for charging and a shower, while the night and most of the day are seen. Incomplete days are shown but never enter a baseline |
//! | `sleep_minutes` | worn minutes with a sleep stage other than `awake` (the band's own staging) |
//! | main night | the longest sleep period of the day: asleep minutes joined across gaps shorter than [`NIGHT_BRIDGE_MIN`]; shorter than [`MIN_NIGHT_MIN`] it is a nap, and the day has no night figures |
//! | `wake_ups` | gaps inside the main night with at least [`WAKE_UP_MIN`] minutes staged `awake` |
//! | `restlessness` | minutes staged `awake` inside the main night per hour of it (wake after sleep onset, WASO, as a rate); `None` without a main night |
//! | `steps` | the sum of the readings' steps (each reading carries the steps since the one before, so this is the band's count whatever the sampling) |
//! | `active_minutes` | worn minutes whose activity is `light` or above |
//! | `resting_hr` | the [`RESTING_HR_PERCENTILE`]th percentile of the per-minute mean heart rate over the asleep minutes, when at least [`MIN_HR_MINUTES`] of them have one; else over the day's worn minutes at `rest` that are not asleep (same minimum); else `None`. One decimal |
//! | `lowest_spo2` | the lowest per-minute median SpO2 of the worn minutes (a single 5-second dip does not count; it is the alert rules' business) |
//! | `alerts`, `acked`, `ack_median_secs` | the alerts raised during the day, how many were acknowledged, and the median seconds from raised to acknowledged. `baseline_deviation` alerts are left out: they are about the day before, and the daily message has its own line for them |
//!
//! Why these choices:
//!
//! - Wake-ups of at least 5 minutes: short arousals happen several times an hour
//!   in healthy sleep and are not remembered, and a band's staging flickers for a
//!   minute or two; counting them would count sensor noise. Gaps of under an hour
//!   belong to the night (getting up to the toilet), longer ones end it.
//! - Restlessness as WASO per hour rather than a count: it does not grow with a
//!   longer night, so a night in bed of 7 h and one of 9 h compare; WASO is the
//!   measure sleep studies use for disturbed sleep.
//! - Active minutes from `light`: in old age most movement is light (household,
//!   slow walking) and moderate-or-vigorous minutes are near zero on most days, so
//!   a moderate+ count would sit at its floor and show no change.
//! - Resting heart rate from sleep: the lowest stretch of the day, free of the
//!   effect of activity, caffeine and posture; a low percentile rather than the
//!   minimum so a few mis-read minutes do not set it. Nightly resting heart rate
//!   from wrist wearables rises days before an infection is felt (Radin et al.,
//!   Lancet Digital Health 2020; Mishra et al., Nature Biomedical Engineering 2020).

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::alerts::RuleKind;
use crate::reading::{Activity, SleepStage};
use crate::vitals::StoredReading;

/// The version of [`DaySummary`]'s definitions; a stored summary of an older
/// version is recomputed, not compared.
pub const SUMMARY_VERSION: u32 = 1;
/// Minutes staged awake for a gap in the night to count as a wake-up.
pub const WAKE_UP_MIN: usize = 5;
/// Gaps between asleep minutes shorter than this stay within one sleep period.
pub const NIGHT_BRIDGE_MIN: usize = 60;
/// A sleep period shorter than this is a nap, not a night.
pub const MIN_NIGHT_MIN: usize = 180;
/// The percentile of the per-minute heart rate taken as the resting heart rate.
pub const RESTING_HR_PERCENTILE: f64 = 10.0;
/// Minutes with a heart rate needed for a resting heart rate.
pub const MIN_HR_MINUTES: usize = 60;
/// A day is complete with at least this many 24ths of its minutes worn.
pub const COMPLETE_WORN_24THS: u32 = 20;

/// `[start, end)` of the local day `date` in `tz`, across DST.
pub fn local_day(tz: Tz, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = day_start(tz, date);
    let end = date.succ_opt().map_or(start + Duration::days(1), |next| day_start(tz, next));
    (start, end)
}

/// The local day of `instant` in `tz`.
pub fn day_of(tz: Tz, instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

fn day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // Midnight is in a gap: the day starts at the transition, the instant that
        // clocks still on the offset before it would have shown as midnight.
        LocalResult::None => {
            let before = tz.from_local_datetime(&(midnight - Duration::hours(6))).earliest();
            let offset = before.map_or(0, |t| t.offset().fix().local_minus_utc());
            Utc.from_utc_datetime(&(midnight - Duration::seconds(i64::from(offset))))
        }
    }
}

/// An alert of the day, as the summary needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayAlert {
    pub raised_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub rule: RuleKind,
}

/// The figures of one wearer's local day (personal data: never logged). The
/// definitions are in the module docs; JSON in snake_case, as the care API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaySummary {
    /// The wearer's local date.
    pub date: NaiveDate,
    /// Worn long enough to be compared with other days.
    pub complete: bool,
    /// Minutes of the day (1,440; 1,380 or 1,500 when clocks change).
    pub day_minutes: u32,
    pub worn_minutes: u32,
    pub sleep_minutes: u32,
    pub wake_ups: u32,
    /// Awake minutes per hour of the main night.
    #[serde(default)]
    pub restlessness: Option<f64>,
    pub steps: i64,
    pub active_minutes: u32,
    /// bpm, one decimal.
    #[serde(default)]
    pub resting_hr: Option<f64>,
    /// %.
    #[serde(default)]
    pub lowest_spo2: Option<i64>,
    pub alerts: u32,
    pub acked: u32,
    #[serde(default)]
    pub ack_median_secs: Option<i64>,
    /// [`SUMMARY_VERSION`] when computed.
    pub version: u32,
}

/// What one minute's readings add up to.
#[derive(Debug, Clone, Default)]
struct Minute {
    worn_said: u32,
    worn_true: u32,
    /// Readings with a heart rate or a sleep stage.
    signal: u32,
    staged: u32,
    asleep: u32,
    activity: u32,
    active: u32,
    hr_sum: f64,
    hr_n: u32,
    spo2: Vec<i64>,
}

impl Minute {
    fn add(&mut self, r: &StoredReading) {
        if let Some(worn) = r.worn {
            self.worn_said += 1;
            self.worn_true += u32::from(worn);
        }
        if r.heart_rate_bpm.is_some() || r.sleep_stage.is_some() {
            self.signal += 1;
        }
        if let Some(stage) = r.sleep_stage {
            self.staged += 1;
            self.asleep += u32::from(stage != SleepStage::Awake);
        }
        if let Some(a) = r.activity {
            self.activity += 1;
            self.active += u32::from(a != Activity::Rest);
        }
        if let Some(hr) = r.heart_rate_bpm {
            self.hr_sum += hr as f64;
            self.hr_n += 1;
        }
        if let Some(s) = r.spo2_pct {
            self.spo2.push(s);
        }
    }

    fn worn(&self) -> bool {
        if self.worn_said > 0 { 2 * self.worn_true >= self.worn_said } else { self.signal > 0 }
    }

    fn asleep(&self) -> bool {
        self.worn() && self.staged > 0 && 2 * self.asleep >= self.staged
    }

    /// Staged awake (the band says so), as opposed to unknown.
    fn awake(&self) -> bool {
        self.worn() && self.staged > 0 && !self.asleep()
    }

    fn active(&self) -> bool {
        self.worn() && self.activity > 0 && 2 * self.active >= self.activity
    }

    fn resting(&self) -> bool {
        self.worn() && self.activity > 0 && !self.active() && !self.asleep()
    }

    fn hr(&self) -> Option<f64> {
        (self.hr_n > 0).then(|| self.hr_sum / f64::from(self.hr_n))
    }

    fn spo2(&self) -> Option<i64> {
        let mut values = self.spo2.clone();
        values.sort_unstable();
        // The lower median: an integer, as the readings.
        values.get(values.len().saturating_sub(1) / 2).copied()
    }
}

/// The figures of the local day `date` in `tz` from `readings` (any order and
/// rate; readings outside the day are ignored, a seq seen twice counts once) and
/// the wearer's `alerts` (those raised outside the day are ignored).
pub fn summarize(tz: Tz, date: NaiveDate, readings: &[StoredReading], alerts: &[DayAlert]) -> DaySummary {
    let (start, end) = local_day(tz, date);
    let day_minutes = usize::try_from((end - start).num_minutes()).unwrap_or(0);
    let mut minutes = vec![Minute::default(); day_minutes];

    // Each seq once: the earliest reading of it.
    let mut order: Vec<&StoredReading> = readings.iter().filter(|r| start <= r.ts && r.ts < end).collect();
    order.sort_by_key(|r| (r.seq, r.ts));
    order.dedup_by_key(|r| r.seq);
    let mut steps = 0i64;
    for r in order {
        let index = usize::try_from((r.ts - start).num_seconds() / 60).unwrap_or(usize::MAX);
        if let Some(m) = minutes.get_mut(index) {
            m.add(r);
        }
        steps = steps.saturating_add(r.steps.unwrap_or(0).max(0));
    }

    let count = |f: fn(&Minute) -> bool| minutes.iter().filter(|m| f(m)).count();
    let worn_minutes = count(Minute::worn);
    let (wake_ups, restlessness) = night(&minutes);
    let sleep_hr: Vec<f64> = minutes.iter().filter(|m| m.asleep()).filter_map(Minute::hr).collect();
    let resting_hr = if sleep_hr.len() >= MIN_HR_MINUTES {
        percentile(sleep_hr, RESTING_HR_PERCENTILE)
    } else {
        let rest_hr: Vec<f64> = minutes.iter().filter(|m| m.resting()).filter_map(Minute::hr).collect();
        if rest_hr.len() >= MIN_HR_MINUTES { percentile(rest_hr, RESTING_HR_PERCENTILE) } else { None }
    };
    let lowest_spo2 = minutes.iter().filter(|m| m.worn()).filter_map(Minute::spo2).min();

    let day_alerts: Vec<&DayAlert> = alerts
        .iter()
        .filter(|a| a.rule != RuleKind::BaselineDeviation && start <= a.raised_at && a.raised_at < end)
        .collect();
    let mut ack_secs: Vec<i64> =
        day_alerts.iter().filter_map(|a| a.acknowledged_at.map(|t| (t - a.raised_at).num_seconds().max(0))).collect();
    ack_secs.sort_unstable();
    let ack_median_secs = match ack_secs.len() {
        0 => None,
        n if n % 2 == 1 => Some(ack_secs[n / 2]),
        n => Some((ack_secs[n / 2 - 1] + ack_secs[n / 2]) / 2),
    };

    let u32_of = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    DaySummary {
        date,
        complete: worn_minutes * 24 >= day_minutes * COMPLETE_WORN_24THS as usize && day_minutes > 0,
        day_minutes: u32_of(day_minutes),
        worn_minutes: u32_of(worn_minutes),
        sleep_minutes: u32_of(count(Minute::asleep)),
        wake_ups: u32_of(wake_ups),
        restlessness,
        steps,
        active_minutes: u32_of(count(Minute::active)),
        resting_hr: resting_hr.map(|v| (v * 10.0).round() / 10.0),
        lowest_spo2,
        alerts: u32_of(day_alerts.len()),
        acked: u32_of(ack_secs.len()),
        ack_median_secs,
        version: SUMMARY_VERSION,
    }
}

/// Wake-ups and restlessness of the main night (see the module docs).
fn night(minutes: &[Minute]) -> (usize, Option<f64>) {
    let asleep: Vec<usize> = minutes.iter().enumerate().filter(|(_, m)| m.asleep()).map(|(i, _)| i).collect();
    // Sleep periods as (first, last) asleep minute, joined across short gaps.
    let mut periods: Vec<(usize, usize)> = Vec::new();
    for &i in &asleep {
        match periods.last_mut() {
            Some((_, last)) if i - *last <= NIGHT_BRIDGE_MIN => *last = i,
            _ => periods.push((i, i)),
        }
    }
    // The longest; the earliest of equals.
    let Some(&(first, last)) = periods.iter().rev().max_by_key(|(a, b)| b - a) else { return (0, None) };
    let span = last - first + 1;
    if span < MIN_NIGHT_MIN {
        return (0, None);
    }
    let (mut wake_ups, mut awake_total, mut awake_in_gap) = (0, 0, 0);
    for m in &minutes[first..=last] {
        if m.asleep() {
            wake_ups += usize::from(awake_in_gap >= WAKE_UP_MIN);
            awake_in_gap = 0;
        } else if m.awake() {
            awake_in_gap += 1;
            awake_total += 1;
        }
    }
    (wake_ups, Some(((awake_total as f64 * 60.0 / span as f64) * 100.0).round() / 100.0))
}

/// The `p`th percentile of `values`, interpolated between closest ranks.
fn percentile(mut values: Vec<f64>, p: f64) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let last = values.len().checked_sub(1)?;
    let rank = p / 100.0 * last as f64;
    let (lo, frac) = (rank.floor() as usize, rank.fract());
    let hi = (lo + 1).min(last);
    Some(values[lo] + frac * (values[hi] - values[lo]))
}
