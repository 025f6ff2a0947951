//! Where injected events go: which wearer, when, and how long. See the module docs
//! of [`super`] for the rules; this file is their implementation.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use vigil_domain::alerts::{RuleKind, Thresholds};
use vigil_domain::reading::limits;

use super::rng::Rng;
use super::sim::{Injection, Timing, WearerPlan};
use super::{CORE_EVENTS, EventKind, InjectedEvent};

/// No event in the first minutes: the pipeline sees each band before anything happens.
const WARMUP: Duration = Duration::minutes(3);
/// Free time around each event of a wearer, so the readings are back to normal in between.
const GUARD: Duration = Duration::minutes(2);
/// How many wearers an event tries before it is dropped.
const MAX_WEARER_TRIES: usize = 12;

/// The kinds after the core five, in turn.
const CYCLE: [EventKind; 9] = [
    EventKind::HeartRateLow,
    EventKind::Spo2Low,
    EventKind::PhoneOffline,
    EventKind::BandOff,
    EventKind::Sos,
    EventKind::Fall,
    EventKind::FallCancelled,
    EventKind::HeartRateHigh,
    EventKind::UploadResent,
];

/// How many events a run gets.
pub(crate) fn event_count(rate: f64, wearers: usize, duration: Duration) -> usize {
    if rate <= 0.0 || wearers == 0 {
        return 0;
    }
    let hours = duration.num_seconds() as f64 / 3600.0;
    let n = (rate * wearers as f64 * hours).round();
    // Saturates for absurd rates; placement then stops when no slot is left.
    (n as usize).max(CORE_EVENTS.len())
}

/// Places the events on `plans` (filling their injections) and returns them.
pub(crate) fn place(timing: &Timing, plans: &mut [WearerPlan], rate: f64, rng: &mut Rng) -> Vec<InjectedEvent> {
    let n = event_count(rate, plans.len(), timing.end - timing.start);
    if n == 0 {
        return Vec::new();
    }
    let mut kinds: Vec<EventKind> = CORE_EVENTS.iter().chain(CYCLE.iter().cycle()).copied().take(n).collect();
    rng.shuffle(&mut kinds);
    let rotation = rng.below(plans.len() as u64) as usize;
    let tries = plans.len().min(MAX_WEARER_TRIES);
    let run = (timing.end - timing.start).num_seconds() as f64;

    let mut events = Vec::new();
    for (j, &kind) in kinds.iter().enumerate() {
        let u = rng.unit();
        let target = timing.start + Duration::seconds((run * (j as f64 + 0.5) / n as f64) as i64);
        for w in (0..tries).map(|t| (j + rotation + t) % plans.len()) {
            let plan = &plans[w];
            if let Some(injection) = find_slot(timing, plan, kind, target, u) {
                events.push(InjectedEvent {
                    wearer_id: plan_wearer(plans, w),
                    kind,
                    at: injection.at,
                    until: injection.until,
                    expects: kind.expects(),
                });
                let list = &mut plans[w].injections;
                let pos = list.partition_point(|e| e.at <= injection.at);
                list.insert(pos, injection);
                break;
            }
        }
    }
    events
}

fn plan_wearer(plans: &[WearerPlan], w: usize) -> String {
    plans[w].wearer_id().to_owned()
}

/// The nearest free slot to `target` for this wearer, searching outwards a minute at a time.
fn find_slot(timing: &Timing, plan: &WearerPlan, kind: EventKind, target: DateTime<Utc>, u: f64) -> Option<Injection> {
    let earliest = timing.start + WARMUP;
    let span = (timing.end - timing.start).num_minutes();
    for step in 0..=2 * span {
        // 0, +1, -1, +2, -2, ... minutes
        let offset = if step % 2 == 0 { -(step / 2) } else { step / 2 + 1 };
        let t = target + Duration::minutes(offset);
        if t < earliest || t >= timing.end {
            continue;
        }
        let injection = shape(timing, plan, kind, t, u);
        if injection.at >= earliest && finishes(timing, &injection) && fits(plan, &injection) {
            return Some(injection);
        }
    }
    None
}

/// The event of `kind` starting at (about) `t` for this wearer; `u` in [0, 1) picks durations and levels.
fn shape(timing: &Timing, plan: &WearerPlan, kind: EventKind, t: DateTime<Utc>, u: f64) -> Injection {
    let th = &plan.th;
    let secs = |s: f64| Duration::seconds(s.round() as i64);
    let at = match kind {
        // The resend repeats the upload due at a boundary of this phone.
        EventKind::UploadResent => {
            let k = ((t - timing.start - plan.upload_phase).num_seconds() as f64 / timing.upload.num_seconds() as f64)
                .ceil()
                .max(0.0) as i64;
            plan.boundary(timing, k)
        }
        _ => timing.reading_at_or_after(t),
    };
    let (until, effect_end, level) = match kind {
        EventKind::Sos => (at, at + Duration::seconds(1), 0),
        EventKind::Fall => (at, at + Duration::minutes(2), 0),
        EventKind::FallCancelled => {
            // 10–20 s later, always inside the cancel window, on the reading grid.
            let window = i64::from(th.fall_cancel_window_s);
            let after = (10 + (u * 10.0) as i64).min(window - 5).max(1);
            let cancel = timing.reading_at_or_after(at + Duration::seconds(after));
            let cancel = if cancel - at > Duration::seconds(window) { at + timing.reading } else { cancel };
            (cancel, cancel + Duration::seconds(1), 0)
        }
        EventKind::HeartRateHigh | EventKind::HeartRateLow => {
            let until = at + secs(f64::from(th.heart_rate_sustain_s) + 60.0 + u * 60.0);
            let level = if kind == EventKind::HeartRateHigh {
                (th.heart_rate_high_bpm + 8 + (u * 12.0) as i64).min(limits::HEART_RATE_BPM.max - 3)
            } else {
                (th.heart_rate_low_bpm - 3 - (u * 5.0) as i64).max(limits::HEART_RATE_BPM.min + 3)
            };
            (until, until, level)
        }
        EventKind::Spo2Low => {
            let until = at + secs(f64::from(th.spo2_sustain_s) + 60.0);
            (until, until, (th.spo2_low_pct - 3 - (u * 3.0) as i64).max(limits::SPO2_PCT.min + 2))
        }
        EventKind::BandOff => {
            let until = at + secs(f64::from(th.not_worn_min) * 60.0 + 300.0 + u * 300.0);
            (until, until, 0)
        }
        EventKind::PhoneOffline => {
            let until = at + secs(f64::from(th.no_data_min) * 60.0 + 300.0 + u * 300.0);
            (until, until, 0)
        }
        EventKind::UploadResent => (at + Duration::seconds(10 + (u * 20.0) as i64), at + Duration::seconds(1), 0),
    };
    Injection { kind, at, until, effect_end, level }
}

/// Whether the run lasts long enough for the event to play out and be alerted on.
fn finishes(timing: &Timing, e: &Injection) -> bool {
    let needs = match e.kind {
        EventKind::Sos | EventKind::Fall | EventKind::FallCancelled | EventKind::UploadResent => {
            e.until.max(e.effect_end) + Duration::minutes(1)
        }
        EventKind::HeartRateHigh | EventKind::HeartRateLow | EventKind::Spo2Low | EventKind::BandOff => {
            e.until + Duration::minutes(1)
        }
        // The phone must come back and post its buffer before the run ends.
        EventKind::PhoneOffline => e.until + timing.upload * 2 + Duration::minutes(1),
    };
    needs <= timing.end
}

/// Whether the event fits this wearer's schedule (see the module docs).
fn fits(plan: &WearerPlan, e: &Injection) -> bool {
    let occupied = |x: &Injection| (x.at - GUARD, x.until.max(x.effect_end) + GUARD);
    let (from, to) = occupied(e);
    for other in &plan.injections {
        let (o_from, o_to) = occupied(other);
        if from < o_to && o_from < to {
            return false;
        }
        if let (Some(a), Some(b)) = (e.kind.rule(), other.kind.rule())
            && a == b
            && (e.at - other.at).abs() < spacing(&plan.th, a)
        {
            return false;
        }
    }
    e.kind != EventKind::BandOff || all_daytime(plan.tz, &plan.th, e.at - Duration::minutes(1), e.until + GUARD)
}

/// Least time between the starts of two events of one rule for one wearer.
fn spacing(th: &Thresholds, rule: RuleKind) -> Duration {
    let margin =
        if matches!(rule, RuleKind::Sos | RuleKind::Fall) { Duration::minutes(1) } else { Duration::minutes(5) };
    th.cooldown(rule) + margin
}

/// Whether every minute of `[from, to]` is in the wearer's daytime.
pub(crate) fn all_daytime(tz: Tz, th: &Thresholds, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    let mut t = from;
    while t < to {
        if !is_daytime(tz, th, t) {
            return false;
        }
        t += Duration::minutes(1);
    }
    is_daytime(tz, th, to)
}

/// The engine's daytime: `[day_start, day_end)` local, wrapping past midnight; equal means all day.
pub(crate) fn is_daytime(tz: Tz, th: &Thresholds, t: DateTime<Utc>) -> bool {
    let local: NaiveTime = t.with_timezone(&tz).time();
    let (start, end) = (th.day_start, th.day_end);
    if start < end { start <= local && local < end } else { local >= start || local < end }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_never_below_the_core_unless_off() {
        assert_eq!(event_count(0.0, 20, Duration::hours(2)), 0);
        assert_eq!(event_count(1.0, 0, Duration::hours(2)), 0);
        assert_eq!(event_count(1.0, 20, Duration::hours(2)), 40);
        assert_eq!(event_count(0.01, 4, Duration::minutes(30)), CORE_EVENTS.len());
    }

    #[test]
    fn daytime_follows_the_thresholds() {
        let th = Thresholds::default();
        let tz: Tz = "Europe/Madrid".parse().unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert!(is_daytime(tz, &th, at("2026-01-10T08:00:00+01:00")));
        assert!(!is_daytime(tz, &th, at("2026-01-10T07:59:59+01:00")));
        assert!(!is_daytime(tz, &th, at("2026-01-10T21:00:00+01:00")));
        assert!(all_daytime(tz, &th, at("2026-01-10T19:00:00+01:00"), at("2026-01-10T20:59:00+01:00")));
        assert!(!all_daytime(tz, &th, at("2026-01-10T20:30:00+01:00"), at("2026-01-10T21:10:00+01:00")));
    }
}
