//! Readings and uploads of one phone, and the fleet-wide merge in `due` order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use vigil_domain::Reading;
use vigil_domain::alerts::Thresholds;
use vigil_domain::reading::{Activity, Location, SleepStage, limits};
use vigil_domain::upload::MAX_READINGS;
use vigil_domain::upload::policy::{Intervals, URGENT_EVERY_S, UploadPolicy};

use super::people::Person;
use super::rng::{Rng, mix};
use super::{EventKind, FleetConfig, SIM_APP_VERSION, Upload};

/// The run's clock grid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub reading: Duration,
    pub upload: Duration,
}

impl Timing {
    pub(crate) fn of(c: &FleetConfig) -> Self {
        Self {
            start: c.start,
            end: c.start + c.duration,
            reading: Duration::seconds(c.reading_interval_s),
            upload: Duration::seconds(c.upload_interval_s),
        }
    }

    /// The first reading time at or after `t`.
    pub(crate) fn reading_at_or_after(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let step = self.reading.num_seconds().max(1);
        let since = (t - self.start).num_seconds().max(0);
        self.start + Duration::seconds((since + step - 1) / step * step)
    }
}

/// An event as the generator applies it.
#[derive(Debug, Clone)]
pub(crate) struct Injection {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    /// See [`super::InjectedEvent::until`].
    pub until: DateTime<Utc>,
    /// Readings in `[at, effect_end)` are affected.
    pub effect_end: DateTime<Utc>,
    /// The heart rate or SpO2 of an episode.
    pub level: i64,
}

/// Everything fixed about one wearer's band and phone.
#[derive(Debug)]
pub(crate) struct WearerPlan {
    device_id: String,
    wearer_id: String,
    app_user: String,
    pub tz: Tz,
    pub th: Thresholds,
    /// What ingest-api's 202 tells this wearer's app.
    policy: UploadPolicy,
    seq0: u64,
    /// First upload at `start + upload_phase`, then every upload interval.
    pub upload_phase: Duration,
    battery0: f64,
    drain_per_h: f64,
    hr_rest: f64,
    /// Local minutes of the day: asleep in `[bed, wake)`, wrapping past midnight.
    bed: u32,
    wake: u32,
    home: Location,
    seed: u64,
    block_offset: u64,
    /// Sorted by `at`, never overlapping.
    pub injections: Vec<Injection>,
}

const DAY_MIN: u32 = 24 * 60;

impl WearerPlan {
    pub(crate) fn new(person: &Person, timing: &Timing, mut rng: Rng) -> Self {
        let sim = &person.sim;
        let th = sim.profile.thresholds.clone();
        let minutes = |t: chrono::NaiveTime| t.hour() * 60 + t.minute();
        let (day_start, day_end) = (minutes(th.day_start), minutes(th.day_end));
        // Asleep only outside daytime, so sleep never counts as daytime inactivity.
        let all_day = day_start == day_end;
        let wake = (day_start + DAY_MIN - rng.range(30, 120) as u32) % DAY_MIN;
        let bed = (day_end + rng.range(30, 120) as u32) % DAY_MIN;
        let upload_s = timing.upload.num_seconds().max(1);
        let routine = u32::try_from(upload_s).unwrap_or(u32::MAX);
        let policy = Intervals { routine_every_s: routine, urgent_every_s: URGENT_EVERY_S.min(routine) }.policy(&th);
        Self {
            policy,
            device_id: sim.device.device_id.clone(),
            wearer_id: sim.profile.wearer_id.clone(),
            app_user: sim.app_user.clone(),
            tz: sim.profile.tz(),
            seq0: rng.range(1_000, 999_999_999) as u64,
            upload_phase: Duration::seconds(rng.range(1, upload_s)),
            battery0: rng.range(60, 100) as f64,
            drain_per_h: 0.4 + rng.unit() * 0.2,
            hr_rest: rng.range(62, 72) as f64,
            bed: if all_day { 0 } else { bed },
            wake: if all_day { 0 } else { wake },
            home: person.home,
            seed: rng.next_u64(),
            block_offset: rng.below(4),
            th,
            injections: Vec::new(),
        }
    }

    pub(crate) fn wearer_id(&self) -> &str {
        &self.wearer_id
    }

    fn asleep(&self, minute: u32) -> bool {
        if self.bed <= self.wake {
            self.bed <= minute && minute < self.wake
        } else {
            minute >= self.bed || minute < self.wake
        }
    }

    /// Due time of upload boundary `k` (from 0), capped at the end of the run.
    pub(crate) fn boundary(&self, timing: &Timing, k: i64) -> DateTime<Utc> {
        (timing.start + self.upload_phase + timing.upload * k as i32).min(timing.end)
    }

    /// Heart rates outside injected events stay in here: clear of both limits.
    fn safe_hr(&self) -> (i64, i64) {
        let lo = (self.th.heart_rate_low_bpm + 10).max(limits::HEART_RATE_BPM.min);
        let hi = (self.th.heart_rate_high_bpm - 8).min(limits::HEART_RATE_BPM.max);
        if lo <= hi { (lo, hi) } else { ((lo + hi) / 2, (lo + hi) / 2) }
    }

    fn safe_spo2_min(&self) -> i64 {
        (self.th.spo2_low_pct + 3).clamp(limits::SPO2_PCT.min, limits::SPO2_PCT.max)
    }

    /// Battery never gets near the low limit: a band charged overnight.
    fn battery(&self, elapsed_h: f64) -> i64 {
        let floor = (self.th.battery_low_pct + self.th.battery_hysteresis_pct + 5).clamp(0, 95) as f64;
        let mut level = self.battery0 - self.drain_per_h * elapsed_h;
        while level < floor {
            level += 100.0 - floor;
        }
        (level.round() as i64).clamp(0, 100)
    }
}

/// Bounded without panicking when the bounds cross (odd thresholds): `hi` wins.
fn bound(v: i64, lo: i64, hi: i64) -> i64 {
    v.max(lo).min(hi)
}

/// The activity of a 10-minute block while awake: stateless in the block's index,
/// and at least light in one block of four.
fn block_activity(plan: &WearerPlan, t: DateTime<Utc>) -> Activity {
    let block = t.timestamp().div_euclid(600) as u64;
    let h = mix(plan.seed ^ block) % 100;
    if (block + plan.block_offset).is_multiple_of(4) {
        return if h < 30 { Activity::Moderate } else { Activity::Light };
    }
    match h {
        0..55 => Activity::Rest,
        55..90 => Activity::Light,
        _ => Activity::Moderate,
    }
}

pub(crate) fn sleep_stage(minutes_since_bed: u32) -> SleepStage {
    match minutes_since_bed % 90 {
        0..10 => SleepStage::Light,
        10..40 => SleepStage::Deep,
        40..65 => SleepStage::Light,
        65..85 => SleepStage::Rem,
        _ => SleepStage::Awake,
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// One phone and its band, producing that wearer's uploads in `due` order.
#[derive(Debug)]
struct Phone<'a> {
    plan: &'a WearerPlan,
    timing: Timing,
    rng: Rng,
    /// Smoothed heart rate.
    hr: f64,
    next_reading: i64,
    next_boundary: i64,
    buffer: Vec<Reading>,
    /// Index of the first injection that may still affect a reading.
    cursor: usize,
    /// Index of the next injection to look at for a resend.
    resend_cursor: usize,
    /// Generated, not yet handed out, with a serial for stable order.
    ready: Vec<(DateTime<Utc>, u64, Upload)>,
    serial: u64,
    /// `due` of the latest upload generated in the phone's own order: later ones are not earlier.
    last_due: Option<DateTime<Utc>>,
    exhausted: bool,
}

impl<'a> Phone<'a> {
    fn new(plan: &'a WearerPlan, timing: Timing) -> Self {
        Self {
            plan,
            timing,
            rng: Rng::derive(plan.seed, 1),
            hr: plan.hr_rest,
            next_reading: 0,
            next_boundary: 0,
            buffer: Vec::new(),
            cursor: 0,
            resend_cursor: 0,
            ready: Vec::new(),
            serial: 0,
            last_due: None,
            exhausted: false,
        }
    }

    fn reading_time(&self, i: i64) -> DateTime<Utc> {
        self.timing.start + self.timing.reading * i as i32
    }

    fn offline(&self, t: DateTime<Utc>) -> bool {
        self.plan.injections.iter().any(|e| e.kind == EventKind::PhoneOffline && e.at <= t && t < e.until)
    }

    /// The injection affecting a reading at `t`, if any (readings come in time order).
    fn active(&mut self, t: DateTime<Utc>) -> Option<&'a Injection> {
        let plan: &'a WearerPlan = self.plan;
        let injections = &plan.injections;
        while self.cursor < injections.len() && injections[self.cursor].effect_end <= t {
            self.cursor += 1;
        }
        injections.get(self.cursor).filter(|e| e.at <= t)
    }

    fn reading(&mut self, t: DateTime<Utc>) -> Reading {
        let plan = self.plan;
        let local = t.with_timezone(&plan.tz);
        let mut r = Reading::at(local.fixed_offset(), plan.seq0 + self.next_reading as u64);
        let minute = local.hour() * 60 + local.minute();
        let hour = f64::from(minute) / 60.0;

        let (target, activity, steps, stage, skin) = if plan.asleep(minute) {
            let stage = sleep_stage((minute + DAY_MIN - plan.bed) % DAY_MIN);
            let adj = match stage {
                SleepStage::Deep => -4.0,
                SleepStage::Light => 0.0,
                SleepStage::Rem => 3.0,
                SleepStage::Awake => 5.0,
            };
            (plan.hr_rest - 8.0 + adj, Activity::Rest, 0, Some(stage), 34.2)
        } else {
            let circadian = 3.0 * (std::f64::consts::TAU * (hour - 10.0) / 24.0).sin();
            match block_activity(plan, t) {
                Activity::Rest => (plan.hr_rest + circadian, Activity::Rest, 0, None, 33.2),
                Activity::Light => {
                    let steps = if self.rng.below(4) == 0 { 0 } else { self.rng.range(2, 6) };
                    (plan.hr_rest + 13.0 + circadian, Activity::Light, steps, None, 33.0)
                }
                _ => (plan.hr_rest + 28.0 + circadian, Activity::Moderate, self.rng.range(7, 11), None, 32.8),
            }
        };
        self.hr += (target - self.hr) * 0.08 + self.rng.noise(1.2);
        let (lo, hi) = plan.safe_hr();
        // Keep the smoothed state itself inside, so it never sticks at a bound.
        self.hr = self.hr.clamp(lo as f64, hi as f64);
        r.heart_rate_bpm = Some(bound((self.hr + self.rng.noise(0.8)).round() as i64, lo, hi));
        let spo2 = if stage.is_some() { 96 } else { 97 } + self.rng.range(-1, 2);
        r.spo2_pct = Some(bound(spo2, plan.safe_spo2_min(), limits::SPO2_PCT.max));
        r.skin_temp_c = Some(round1(skin + self.rng.noise(0.15)));
        r.steps = Some(steps);
        r.activity = Some(activity);
        r.sleep_stage = stage;
        let elapsed_h = (t - self.timing.start).num_seconds() as f64 / 3600.0;
        r.battery_pct = Some(plan.battery(elapsed_h));
        r.worn = Some(true);

        if let Some(event) = self.active(t) {
            self.inject(event, t, &mut r);
        }
        r
    }

    fn inject(&mut self, e: &Injection, t: DateTime<Utc>, r: &mut Reading) {
        let th = &self.plan.th;
        let still = |r: &mut Reading| {
            r.steps = Some(0);
            r.activity = Some(Activity::Rest);
        };
        match e.kind {
            EventKind::Sos => {
                r.sos = Some(true);
                r.location = Some(self.plan.home);
            }
            EventKind::Fall | EventKind::FallCancelled => {
                still(r);
                if t == e.at {
                    r.fall_detected = Some(true);
                    r.location = Some(self.plan.home);
                }
                if e.kind == EventKind::FallCancelled && t == e.until {
                    r.fall_cancelled = Some(true);
                }
            }
            EventKind::HeartRateHigh => {
                let v = e.level + self.rng.range(-2, 2);
                r.heart_rate_bpm = Some(bound(v, th.heart_rate_high_bpm + 1, limits::HEART_RATE_BPM.max));
                still(r);
            }
            EventKind::HeartRateLow => {
                let v = e.level + self.rng.range(-2, 2);
                r.heart_rate_bpm = Some(bound(v, limits::HEART_RATE_BPM.min, th.heart_rate_low_bpm - 1));
                still(r);
            }
            EventKind::Spo2Low => {
                let v = e.level + self.rng.range(-1, 1);
                r.spo2_pct = Some(bound(v, limits::SPO2_PCT.min, th.spo2_low_pct - 1));
            }
            EventKind::BandOff => {
                r.worn = Some(false);
                r.heart_rate_bpm = None;
                r.spo2_pct = None;
                r.steps = None;
                r.activity = None;
                r.sleep_stage = None;
                // On the bedside table: room temperature.
                r.skin_temp_c = Some(round1(23.5 + self.rng.noise(0.2)));
            }
            EventKind::PhoneOffline | EventKind::UploadResent => {}
        }
    }

    /// Generates the phone's next upload(s) in its own order; false when the run is over.
    fn step(&mut self) -> bool {
        while !self.exhausted {
            let boundary = self.plan.boundary(&self.timing, self.next_boundary);
            loop {
                let t = self.reading_time(self.next_reading);
                if t > boundary || t >= self.timing.end {
                    break;
                }
                let r = self.reading(t);
                self.next_reading += 1;
                let due = t + Duration::seconds(1);
                let now = self.plan.policy.post_now(&r, self.last_due.map(|last| due - last));
                self.buffer.push(r);
                if now && !self.offline(t) {
                    self.emit(due);
                    return true;
                }
            }
            self.next_boundary += 1;
            let at_end = boundary >= self.timing.end;
            if at_end {
                self.exhausted = true;
            }
            // At the end the phone sends what it has, even if it was offline until then.
            if !self.buffer.is_empty() && (at_end || !self.offline(boundary)) {
                self.emit(boundary);
                return true;
            }
        }
        false
    }

    /// Posts the buffer at `due`, in uploads of at most [`MAX_READINGS`], and queues a resend if one is planned.
    fn emit(&mut self, due: DateTime<Utc>) {
        let due = self.last_due.map_or(due, |last| due.max(last));
        self.last_due = Some(due);
        let readings = std::mem::take(&mut self.buffer);
        let mut first = true;
        for chunk in readings.chunks(MAX_READINGS) {
            let upload = self.upload(due, chunk);
            if first {
                first = false;
                if let Some(resend_at) = self.take_resend(due) {
                    let copy = Upload { due: resend_at, resend: true, ..upload.clone() };
                    self.push(copy);
                }
            }
            self.push(upload);
        }
    }

    /// The resend due for the upload posted at `due`: the first one at or after a resend event's `at`.
    fn take_resend(&mut self, due: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let plan: &'a WearerPlan = self.plan;
        let injections = &plan.injections;
        while let Some(e) = injections.get(self.resend_cursor) {
            if e.kind != EventKind::UploadResent {
                self.resend_cursor += 1;
                continue;
            }
            if e.at > due {
                return None;
            }
            self.resend_cursor += 1;
            return Some(due + (e.until - e.at));
        }
        None
    }

    fn push(&mut self, upload: Upload) {
        self.serial += 1;
        self.ready.push((upload.due, self.serial, upload));
    }

    fn upload(&self, due: DateTime<Utc>, readings: &[Reading]) -> Upload {
        #[derive(Serialize)]
        struct Body<'b> {
            device_id: &'b str,
            batch_id: &'b str,
            app_version: &'b str,
            readings: &'b [Reading],
        }
        let plan = self.plan;
        let seqs: Vec<u64> = readings.iter().map(|r| r.seq).collect();
        let batch_id = format!("{}-{}", plan.device_id, seqs.first().copied().unwrap_or_default());
        let body = Body { device_id: &plan.device_id, batch_id: &batch_id, app_version: SIM_APP_VERSION, readings };
        // Plain structs of strings, integers, finite floats and enums: serializing into a Vec cannot fail.
        let body = serde_json::to_vec(&body).unwrap_or_default();
        Upload {
            due,
            app_user: plan.app_user.clone(),
            device_id: plan.device_id.clone(),
            wearer_id: plan.wearer_id.clone(),
            batch_id,
            body,
            seqs,
            resend: false,
            policy: plan.policy.clone(),
        }
    }

    /// The phone's next upload in `due` order.
    fn next_upload(&mut self) -> Option<Upload> {
        loop {
            let earliest = self.ready.iter().enumerate().min_by_key(|(_, (due, serial, _))| (*due, *serial));
            // Anything generated later is due no earlier than `last_due`.
            if let Some((i, (due, _, _))) = earliest
                && (self.exhausted || self.last_due.is_some_and(|last| *due <= last))
            {
                return Some(self.ready.swap_remove(i).2);
            }
            if !self.step() && self.ready.is_empty() {
                return None;
            }
        }
    }
}

/// Every upload of a fleet in `due` order; see [`super::Fleet::uploads`].
#[derive(Debug)]
pub struct Uploads<'a> {
    phones: Vec<Phone<'a>>,
    heads: BinaryHeap<Reverse<(DateTime<Utc>, usize)>>,
    next: Vec<Option<Upload>>,
}

impl<'a> Uploads<'a> {
    pub(crate) fn new(plans: &'a [WearerPlan], timing: Timing) -> Self {
        let mut phones: Vec<Phone<'a>> = plans.iter().map(|p| Phone::new(p, timing)).collect();
        let mut heads = BinaryHeap::with_capacity(phones.len());
        let next = phones
            .iter_mut()
            .enumerate()
            .map(|(i, phone)| {
                let upload = phone.next_upload();
                if let Some(u) = &upload {
                    heads.push(Reverse((u.due, i)));
                }
                upload
            })
            .collect();
        Self { phones, heads, next }
    }
}

impl Iterator for Uploads<'_> {
    type Item = Upload;

    fn next(&mut self) -> Option<Upload> {
        let Reverse((_, i)) = self.heads.pop()?;
        let upload = self.next[i].take();
        let following = self.phones[i].next_upload();
        if let Some(u) = &following {
            self.heads.push(Reverse((u.due, i)));
        }
        self.next[i] = following;
        upload
    }
}
