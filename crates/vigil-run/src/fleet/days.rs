//! Whole days of a simulated wearer, for `vigil run --days` (see `days_play`):
//! one reading a minute of the wearer's local day, with the slow changes the
//! daily function must notice planted in some of them.
//!
//! Pure and deterministic, as the rest of the fleet: a [`DayModel`] is fixed by
//! the seed and the wearer, and [`DayModel::readings`] of a date is always the
//! same readings.
//!
//! # A day
//!
//! - **Asleep** from a bedtime (22:00–23:30) to a waking time (06:00–07:30),
//!   each moved by up to 15 minutes a day; sleep stages in 90-minute cycles
//!   (the live fleet's), so the night has a few wake-ups of 5 minutes.
//! - **Band off** for 30 minutes after waking (a shower): `worn: false`, nothing
//!   measured. The day stays complete (1,410 of 1,440 minutes worn).
//! - **Awake**: 10-minute blocks of rest or activity (light, sometimes moderate);
//!   the day's steps are spread over its active minutes, so they add up to the
//!   day's target exactly: the wearer's usual steps (4,000–7,000) times a planted
//!   factor times day-to-day noise of [`STEPS_NOISE`].
//! - **Heart rate**: the wearer's resting rate (60–70 bpm) plus the planted rise
//!   plus day-to-day noise of [`HR_NOISE_BPM`]; 8 bpm lower asleep (4 more in deep
//!   sleep), higher with activity, with a little minute-to-minute noise. SpO2
//!   95–98 %.
//!
//! The day-to-day noise is half of what the trend detection is measured to
//! tolerate for detection within 4 days (2 % of steps and 0.7 bpm;
//! `vigil_domain::days::baseline`): the simulated wearers are steady people.
//!
//! # Planted changes ([`Planted`])
//!
//! From its start day on, a change grows in equal daily steps to its full size
//! and stays there: steps fall by 40 % over 10 days ([`STEPS_DECLINE`]), or the
//! heart rate (hence the resting heart rate) rises by 10 bpm over 7 days
//! ([`HR_RISE_BPM`]). Day `k` of the change (from 0) carries `(k + 1) / ramp` of
//! it, as the domain's detection figures do.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use vigil_domain::Reading;
use vigil_domain::days::{Feature, local_day};
use vigil_domain::reading::{Activity, SleepStage};

use super::SimWearer;
use super::rng::{Rng, mix};
use super::sim::sleep_stage;

/// Standard deviation of a stable wearer's day-to-day steps, as a fraction.
pub const STEPS_NOISE: f64 = 0.01;
/// Standard deviation of a stable wearer's day-to-day heart rate, bpm.
pub const HR_NOISE_BPM: f64 = 0.35;
/// The planted decline of steps, as a fraction of the usual.
pub const STEPS_DECLINE: f64 = 0.40;
/// The planted rise of heart rate, bpm.
pub const HR_RISE_BPM: f64 = 10.0;
/// Minutes the band is off after waking.
pub const BAND_OFF_MIN: u32 = 30;

const DAY_MIN: u32 = 24 * 60;

/// A slow change planted in a wearer's days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Planted {
    /// Steps falling by [`STEPS_DECLINE`] over 10 days.
    StepsDecline,
    /// Heart rate rising by [`HR_RISE_BPM`] over 7 days.
    RestingHrRise,
}

impl Planted {
    /// The feature the daily function should see move.
    pub fn feature(self) -> Feature {
        match self {
            Planted::StepsDecline => Feature::Steps,
            Planted::RestingHrRise => Feature::RestingHeartRate,
        }
    }

    /// Days the change takes to reach its full size.
    pub fn ramp_days(self) -> i64 {
        match self {
            Planted::StepsDecline => 10,
            Planted::RestingHrRise => 7,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Planted::StepsDecline => "steps -40% over 10 days",
            Planted::RestingHrRise => "resting HR +10 bpm over 7 days",
        }
    }
}

/// A planted change and the local date it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Change {
    pub planted: Planted,
    pub start: NaiveDate,
}

impl Change {
    /// The share of the change present on `date`: 0 before its start, then
    /// `(k + 1) / ramp` on its day `k`, 1 once complete.
    pub fn progress(&self, date: NaiveDate) -> f64 {
        let into = (date - self.start).num_days() + 1;
        into.clamp(0, self.planted.ramp_days()) as f64 / self.planted.ramp_days() as f64
    }
}

/// Why days cannot be played as asked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DaysError {
    #[error(
        "--days must be at least {MIN_DAYS}: a baseline needs 14 complete days before a change, and the change 4 days to be caught (got {0})"
    )]
    TooFewDays(u32),
    #[error("--wearers must be at least 1 (got 0)")]
    NoWearers,
}

/// Fewest days a play can hold: room for a baseline before the earliest change
/// start ([`EARLIEST_START`]) and for detection after the latest.
pub const MIN_DAYS: u32 = EARLIEST_START + DETECTION_ROOM;
/// The earliest day index a change starts on: 14 complete days of baseline, the
/// 2 left out, and a few to spare.
pub const EARLIEST_START: u32 = 20;
/// Days after a change's start the play goes on, at least.
pub const DETECTION_ROOM: u32 = 6;

/// One wearer's days: everything fixed about them.
#[derive(Debug, Clone)]
pub struct DayModel {
    pub wearer_id: String,
    pub device_id: String,
    pub tz: Tz,
    /// Usual steps a day.
    pub steps: f64,
    /// Usual resting heart rate awake, bpm.
    pub hr_rest: f64,
    pub change: Option<Change>,
    /// Local minutes of the day of the usual bedtime and waking time.
    bed: u32,
    wake: u32,
    seq0: u64,
    seed: u64,
}

/// The models of `wearers` for `days` days from `first`, in turns of three: a
/// change, a stable wearer, the other change (which of steps and heart rate comes
/// first is drawn from the seed), so two wearers are one changed and one stable;
/// each change starts on a seed-derived day between
/// the middle of the play ([`EARLIEST_START`] at least) and [`DETECTION_ROOM`]
/// days before its end.
pub fn models(wearers: &[SimWearer], seed: u64, first: NaiveDate, days: u32) -> Result<Vec<DayModel>, DaysError> {
    if days < MIN_DAYS {
        return Err(DaysError::TooFewDays(days));
    }
    if wearers.is_empty() {
        return Err(DaysError::NoWearers);
    }
    let mut plan = Rng::derive(seed, u64::MAX - 1);
    // Which change comes first in the turn: steps or heart rate.
    let (a, b) = if plan.below(2) == 0 {
        (Planted::StepsDecline, Planted::RestingHrRise)
    } else {
        (Planted::RestingHrRise, Planted::StepsDecline)
    };
    let earliest = EARLIEST_START.max(days / 2);
    let latest = days - DETECTION_ROOM;
    Ok(wearers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let start = first + Duration::days(i64::from(earliest) + plan.range(0, i64::from(latest - earliest)));
            let change = match i % 3 {
                0 => Some(Change { planted: a, start }),
                1 => None,
                _ => Some(Change { planted: b, start }),
            };
            DayModel::new(w, seed, i, change)
        })
        .collect())
}

impl DayModel {
    pub fn new(wearer: &SimWearer, seed: u64, index: usize, change: Option<Change>) -> Self {
        let mut rng = Rng::derive(seed ^ 0xDA75, index as u64);
        Self {
            wearer_id: wearer.profile.wearer_id.clone(),
            device_id: wearer.device.device_id.clone(),
            tz: wearer.profile.tz(),
            steps: rng.range(4_000, 7_000) as f64,
            hr_rest: rng.range(60, 70) as f64,
            change,
            bed: (22 * 60 + rng.range(0, 90) as u32) % DAY_MIN,
            wake: 6 * 60 + rng.range(0, 90) as u32,
            seq0: rng.range(1_000, 999_999) as u64,
            seed: rng.next_u64(),
        }
    }

    /// The planted factor on steps and shift of heart rate (bpm) on `date`.
    pub fn planted(&self, date: NaiveDate) -> (f64, f64) {
        match self.change {
            Some(c) if c.planted == Planted::StepsDecline => (1.0 - STEPS_DECLINE * c.progress(date), 0.0),
            Some(c) => (1.0, HR_RISE_BPM * c.progress(date)),
            None => (1.0, 0.0),
        }
    }

    /// The day's own draws: its target steps, its heart-rate shift, its bedtime
    /// and its waking time (local minutes).
    fn day(&self, date: NaiveDate) -> (i64, f64, u32, u32) {
        let mut rng = Rng::derive(self.seed, date.num_days_from_ce() as u64);
        let (factor, shift) = self.planted(date);
        let steps = (self.steps * factor * (1.0 + rng.noise(STEPS_NOISE))).round() as i64;
        let hr = shift + rng.noise(HR_NOISE_BPM);
        let jitter = |r: &mut Rng| r.range(-15, 15);
        let bed = (i64::from(self.bed) + jitter(&mut rng)).rem_euclid(i64::from(DAY_MIN)) as u32;
        let wake = (i64::from(self.wake) + jitter(&mut rng)) as u32;
        (steps, hr, bed, wake)
    }

    /// Every reading of the wearer's local day `date`, one a minute (at second
    /// 30), in time order; seqs count the minutes since the epoch from the band's
    /// own start, so they never repeat across days.
    pub fn readings(&self, date: NaiveDate) -> Vec<Reading> {
        let (start, end) = local_day(self.tz, date);
        let (steps, shift, bed, wake) = self.day(date);
        // The night before this day's morning began at yesterday's bedtime.
        let (_, _, bed_before, _) = date.pred_opt().map_or((0, 0.0, bed, wake), |d| self.day(d));
        let minutes = (end - start).num_minutes();
        let local = |t: DateTime<Utc>| {
            let l = t.with_timezone(&self.tz);
            l.hour() * 60 + l.minute()
        };
        let active: Vec<bool> = (0..minutes)
            .map(|i| {
                let t = start + Duration::minutes(i);
                let m = local(t);
                let awake = m >= wake + BAND_OFF_MIN && m < bed;
                awake && block_active(self.seed, t)
            })
            .collect();
        let active_minutes = active.iter().filter(|a| **a).count().max(1) as i64;
        let (per_minute, extra) = (steps / active_minutes, steps % active_minutes);
        let mut rng = Rng::derive(self.seed ^ 0x5EC0, date.num_days_from_ce() as u64);
        let mut nth_active = 0i64;
        (0..minutes)
            .map(|i| {
                let t = start + Duration::minutes(i) + Duration::seconds(30);
                let m = local(t);
                let seq = self.seq0 + (t.timestamp() / 60) as u64;
                let mut r = Reading::at(t.with_timezone(&self.tz).fixed_offset(), seq);
                r.battery_pct = Some(80);
                let asleep = m >= bed || m < wake;
                if !asleep && m < wake + BAND_OFF_MIN {
                    r.worn = Some(false);
                    r.skin_temp_c = Some(23.5);
                    return r;
                }
                r.worn = Some(true);
                let hr = if asleep {
                    let since_bed = if m >= bed { m - bed } else { m + DAY_MIN - bed_before };
                    let stage = sleep_stage(since_bed);
                    r.sleep_stage = Some(stage);
                    r.activity = Some(Activity::Rest);
                    r.steps = Some(0);
                    r.skin_temp_c = Some(34.2);
                    let adj = match stage {
                        SleepStage::Deep => -4.0,
                        SleepStage::Light => 0.0,
                        SleepStage::Rem => 3.0,
                        SleepStage::Awake => 5.0,
                    };
                    self.hr_rest - 8.0 + adj
                } else if active[i as usize] {
                    let minute_steps = per_minute + i64::from(nth_active < extra);
                    nth_active += 1;
                    let moderate = minute_steps >= 30;
                    r.activity = Some(if moderate { Activity::Moderate } else { Activity::Light });
                    r.steps = Some(minute_steps);
                    r.skin_temp_c = Some(33.0);
                    self.hr_rest + if moderate { 25.0 } else { 13.0 }
                } else {
                    r.activity = Some(Activity::Rest);
                    r.steps = Some(0);
                    r.skin_temp_c = Some(33.2);
                    self.hr_rest
                };
                r.heart_rate_bpm = Some((hr + shift + rng.noise(0.8)).round() as i64);
                r.spo2_pct = Some(96 + rng.range(-1, 2));
                r
            })
            .collect()
    }
}

/// Whether the 10-minute block of `t` is an active one (about 4 in 10).
fn block_active(seed: u64, t: DateTime<Utc>) -> bool {
    mix(seed ^ t.timestamp().div_euclid(600) as u64) % 10 < 4
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use vigil_domain::days::{DaySummary, new_trends, summarize};
    use vigil_domain::vitals::StoredReading;

    use super::*;
    use crate::fleet::{Fleet, FleetConfig};

    fn fleet(wearers: usize) -> Fleet {
        let start = "2026-10-01T00:00:00Z".parse().unwrap();
        Fleet::new(&FleetConfig { wearers, events_per_wearer_hour: 0.0, ..FleetConfig::new(start) })
    }

    fn first() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 10, 1).unwrap()
    }

    fn minute_readings(readings: &[Reading]) -> Vec<StoredReading> {
        readings.iter().map(StoredReading::of).collect()
    }

    fn summary(model: &DayModel, date: NaiveDate) -> DaySummary {
        summarize(model.tz, date, &minute_readings(&model.readings(date)), &[])
    }

    fn model(planted: Option<Planted>, index: usize) -> DayModel {
        let fleet = fleet(index + 1);
        let change = planted.map(|planted| Change { planted, start: first() + Duration::days(30) });
        DayModel::new(&fleet.wearers[index], 7, index, change)
    }

    #[test]
    fn a_day_is_complete_with_a_night_and_its_planned_steps() {
        // Madrid, with the 25-hour day clocks went back on.
        let m = model(None, 0);
        for date in [first(), NaiveDate::from_ymd_opt(2026, 10, 25).unwrap()] {
            let readings = m.readings(date);
            let (start, end) = local_day(m.tz, date);
            assert_eq!(readings.len() as i64, (end - start).num_minutes());
            let s = summary(&m, date);
            assert!(s.complete, "{s:?}");
            assert_eq!(s.steps, m.day(date).0);
            assert!((6 * 60..9 * 60).contains(&s.sleep_minutes), "{s:?}");
            assert!(s.restlessness.is_some_and(|r| r > 0.0 && r < 6.0), "{s:?}");
            assert!(s.resting_hr.is_some_and(|hr| (m.hr_rest - 14.0..m.hr_rest - 9.0).contains(&hr)), "{s:?}");
        }
    }

    #[test]
    fn the_planted_change_has_the_planted_size() {
        let start = first() + Duration::days(30);
        let mean = |m: &DayModel, from: i64, f: fn(&DaySummary) -> f64| {
            (from..from + 5).map(|k| f(&summary(m, start + Duration::days(k)))).sum::<f64>() / 5.0
        };
        let steps = |s: &DaySummary| s.steps as f64;
        let hr = |s: &DaySummary| s.resting_hr.unwrap();

        let m = model(Some(Planted::StepsDecline), 1);
        let (before, after) = (mean(&m, -10, steps), mean(&m, 10, steps));
        assert!(((after / before) - 0.6).abs() < 0.02, "{before} -> {after}");
        // Half-way through the ramp, half of it.
        let (factor, _) = m.planted(start + Duration::days(4));
        assert!((factor - 0.8).abs() < 1e-9);
        assert!((mean(&m, -10, hr) - mean(&m, 10, hr)).abs() < 0.6, "heart rate unchanged");

        let m = model(Some(Planted::RestingHrRise), 2);
        // Readings are whole bpm: the resting rate moves in whole steps, within a bpm of the plan.
        let rise = mean(&m, 7, hr) - mean(&m, -10, hr);
        assert!((rise - 10.0).abs() < 1.0, "rose {rise}");
        assert!(((mean(&m, 7, steps) / mean(&m, -10, steps)) - 1.0).abs() < 0.02, "steps unchanged");
    }

    #[test]
    fn days_are_deterministic_and_seqs_never_repeat() {
        let m = model(None, 3);
        assert_eq!(m.readings(first()), model(None, 3).readings(first()));
        let mut seqs: Vec<u64> = (0..3).flat_map(|k| m.readings(first() + Duration::days(k))).map(|r| r.seq).collect();
        let n = seqs.len();
        seqs.dedup();
        assert_eq!(seqs.len(), n);
    }

    #[test]
    fn one_in_three_is_stable_and_changes_start_where_they_can_be_caught() {
        let fleet = fleet(6);
        assert_eq!(models(&fleet.wearers, 1, first(), 25).unwrap_err(), DaysError::TooFewDays(25));
        assert_eq!(models(&[], 1, first(), 60).unwrap_err(), DaysError::NoWearers);
        let kinds = |ms: &[DayModel]| ms.iter().map(|m| m.change.map(|c| c.planted)).collect::<Vec<_>>();
        let two = models(&fleet.wearers[..2], 1, first(), 26).unwrap();
        assert!(two[0].change.is_some() && two[1].change.is_none(), "{:?}", kinds(&two));
        let mut firsts = std::collections::HashSet::new();
        for seed in 0..20 {
            let ms = models(&fleet.wearers, seed, first(), 60).unwrap();
            let k = kinds(&ms);
            assert_eq!(k.iter().filter(|c| c.is_none()).count(), 2, "{k:?}");
            assert!(k[0].is_some() && k[2].is_some() && k[0] != k[2], "{k:?}");
            firsts.insert(k[0]);
            for c in ms.iter().filter_map(|m| m.change) {
                let day = (c.start - first()).num_days();
                assert!((30..=54).contains(&day), "{day}");
            }
        }
        assert_eq!(firsts.len(), 2, "the seed decides which change comes first");
    }

    /// The figures the deployed function computes from these days, judged by the
    /// domain's trend rules day by day: every change caught within 4 days, no
    /// trend for a stable wearer (the fast, pure version of the 60-day play).
    #[test]
    fn planted_changes_are_caught_within_4_days_and_stable_days_raise_nothing() {
        let fleet = fleet(6);
        for seed in [1, 2, 3] {
            for m in models(&fleet.wearers, seed, first(), 60).unwrap() {
                let mut history = Vec::new();
                let mut raised = Vec::new();
                for k in 0..60 {
                    let date = first() + Duration::days(k);
                    history.push(summary(&m, date));
                    if let Some(t) = new_trends(&history, date).first() {
                        raised.push((date, t.feature));
                    }
                }
                match m.change {
                    None => assert!(raised.is_empty(), "stable {} raised {raised:?}", m.wearer_id),
                    Some(c) => {
                        assert_eq!(raised.len(), 1, "{} {raised:?}", m.wearer_id);
                        let (date, feature) = raised[0];
                        assert_eq!(feature, c.planted.feature());
                        assert!((0..=4).contains(&(date - c.start).num_days()), "{c:?} caught on {date}");
                    }
                }
            }
        }
    }
}
