//! The rules themselves. See the table in the module docs.

use std::cell::Cell;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use super::state::{Episode, PendingFall, RaisedFall, WearStretch, WearerState};
use super::{Alert, MAX_ALERT_READINGS, RuleKind, Thresholds};
use crate::envelope::ReadingId;
use crate::reading::{Activity, Location, Reading};
use crate::upload::MAX_AGE;

/// A reading's id, hashed only when a rule keeps it: most readings raise
/// nothing and open no episode, and hashing every one is a large share of the
/// engine's time.
struct LazyId<'a> {
    device_id: &'a str,
    seq: u64,
    hex: std::cell::OnceCell<String>,
}

impl<'a> LazyId<'a> {
    fn new(device_id: &'a str, seq: u64) -> Self {
        Self { device_id, seq, hex: std::cell::OnceCell::new() }
    }

    fn get(&self) -> &str {
        self.hex.get_or_init(|| ReadingId::new(self.device_id, self.seq).to_string())
    }
}

/// Longest silence a heart-rate or SpO2 episode survives. Readings come every 5 s;
/// five minutes bridges a routine batch that arrives after an urgent reading was
/// sent ahead of it, while an hour without data is not "sustained" evidence.
pub const MAX_GAP: Duration = Duration::minutes(5);

/// Evaluates a batch of one wearer's readings from `device_id` in event-time order,
/// updates `state`, and returns the alerts raised, oldest first.
///
/// Evaluating the same readings again on the updated state raises nothing.
/// At the end of the batch, falls whose cancel window lies before the newest
/// reading seen are raised, so a cancel anywhere in the same batch counts. Call
/// [`flush`] too, so that a fall is raised even when no later reading ever comes.
pub fn evaluate(
    state: &mut WearerState,
    thresholds: &Thresholds,
    tz: Tz,
    device_id: &str,
    readings: &[Reading],
) -> Vec<Alert> {
    let mut sorted: Vec<&Reading> = readings.iter().collect();
    sorted.sort_by_key(|r| (r.ts, r.seq));
    let span = sorted.first().zip(sorted.last()).map(|(a, b)| (a.ts.with_timezone(&Utc), b.ts.with_timezone(&Utc)));
    let clock = LocalClock::new(tz, span);
    let mut ev = Eval { state, th: thresholds, alerts: Vec::new() };
    for r in sorted {
        let at = r.ts.with_timezone(&Utc);
        let id = LazyId::new(device_id, r.seq);
        ev.order_free(at, &id, r);
        // Value rules move forward only: a late reading cannot rewrite an episode
        // already judged on newer evidence.
        if ev.state.last_seen.is_none_or(|seen| at > seen) {
            ev.values(&clock, at, &id, r);
            ev.state.last_seen = Some(at);
        }
    }
    if let Some(seen) = ev.state.last_seen {
        ev.due_falls(seen);
        ev.prune(seen);
    }
    ev.alerts
}

/// Raises the pending falls whose cancel window has passed by `now`, an estimate
/// of the wearer's current event time (the processor passes its clock, after
/// [`evaluate`] and on its schedule). Without this, a wearer whose band went
/// silent after a fall (the case that matters most) would never be alerted.
///
/// Also ends an open `no_data` episode once the band is current again: its newest
/// reading is less than the no-data threshold old at `now`. A late upload of old
/// readings (a phone catching up on its buffer) does not end it, so one silence
/// raises one alert, however its readings trickle in.
pub fn flush(state: &mut WearerState, thresholds: &Thresholds, now: DateTime<Utc>) -> Vec<Alert> {
    let mut ev = Eval { state, th: thresholds, alerts: Vec::new() };
    ev.due_falls(now);
    if ev.state.last_seen.is_some_and(|seen| now - seen < thresholds.no_data()) {
        ev.state.episodes.remove(&RuleKind::NoData);
    }
    ev.alerts
}

/// The raised falls of `after` whose cancel arrived since `before` (the same
/// wearer's raised falls before an evaluation): their alerts are to be resolved and
/// their caregivers told the fall was cancelled on the band. Evaluating the same
/// readings on `before` again gives the same list, so a retry finds them again.
pub fn newly_cancelled_falls<'a>(before: &[RaisedFall], after: &'a [RaisedFall]) -> Vec<&'a RaisedFall> {
    after
        .iter()
        .filter(|f| f.cancelled_at.is_some())
        .filter(|f| !before.iter().any(|b| b.at == f.at && b.cancelled_at.is_some()))
        .collect()
}

/// The offline detector's rule: a `no_data` alert when nothing has been seen from
/// the band for `no_data_min` by `now` (the detector's clock), once per silence,
/// and not within the rule's cooldown of the previous one. The episode starts at
/// the last reading and stays open until the band is current again ([`flush`]),
/// so late readings of the silence raise no second alert.
pub fn check_offline(state: &mut WearerState, thresholds: &Thresholds, now: DateTime<Utc>) -> Option<Alert> {
    let last = state.last_seen?;
    let rule = RuleKind::NoData;
    let already = state.episodes.contains_key(&rule);
    if now - last < thresholds.no_data() || already || !cooled_down(state, thresholds, rule, now) {
        return None;
    }
    let silent_min = (now - last).num_minutes() as f64;
    let episode = Episode { start: last, last: now, readings: Vec::new(), value: Some(silent_min), alerted: true };
    state.episodes.insert(rule, episode);
    state.last_alert.insert(rule, now);
    let mut alert = Alert::new(&state.wearer_id, rule, last, now);
    alert.value = Some(silent_min);
    Some(alert)
}

/// The earliest time at which the scheduled check ([`flush`] then [`check_offline`])
/// can raise anything for this wearer, as the state stands: the first pending fall's
/// cancel window ending, or the band counting as silent (no open `no_data` episode,
/// `no_data` threshold since `last_seen`, and the rule's cooldown over). `None` when
/// only a new reading can change anything (no pending fall; never seen, or its
/// silence already alerted). Checking earlier raises nothing; checking at or after
/// it raises what is due, so the detector need look at nobody else.
pub fn next_check(state: &WearerState, thresholds: &Thresholds) -> Option<DateTime<Utc>> {
    // `due_falls` raises once `now > at + window`: one millisecond past (the stored precision).
    let window = thresholds.fall_cancel_window() + Duration::milliseconds(1);
    let fall = state.pending_falls.iter().map(|f| f.at + window).min();
    let rule = RuleKind::NoData;
    let silent = match state.last_seen {
        Some(last) if !state.episodes.contains_key(&rule) => {
            let cooled = state.last_alert.get(&rule).map(|&prev| prev + thresholds.cooldown(rule));
            Some(cooled.map_or(last + thresholds.no_data(), |c| c.max(last + thresholds.no_data())))
        }
        _ => None,
    };
    fall.into_iter().chain(silent).min()
}

/// The next check to store with the state at `now`: [`next_check`], unless the
/// check already stored is no later than it and still more than half the `no_data`
/// threshold ahead; then the stored one.
///
/// The stored check keys the detector's index, and moving an index entry costs two
/// writes (the old entry out, the new one in) beside the state's own. Every reading
/// moves [`next_check`] (`last_seen` + `no_data`), so keeping the exact one moved the
/// entry on every upload. The index may be early, never late: a check kept is never
/// later than the exact one, and the detector's visit of a wearer whose kept check
/// falls due (no reading for half the threshold) finds nothing to do and stores the
/// exact one. With readings every 5 minutes and a 15-minute threshold, the entry
/// moves every other upload and the detector never visits.
pub fn check_to_store(state: &WearerState, thresholds: &Thresholds, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let exact = next_check(state, thresholds);
    match (state.next_check, exact) {
        (Some(stored), Some(exact)) if stored <= exact && stored - now > thresholds.no_data() / 2 => Some(stored),
        _ => exact,
    }
}

fn cooled_down(state: &WearerState, th: &Thresholds, rule: RuleKind, at: DateTime<Utc>) -> bool {
    state.last_alert.get(&rule).is_none_or(|&prev| at - prev >= th.cooldown(rule))
}

/// Whether the condition of an episode rule holds in one reading.
enum Seen {
    /// The reading does not tell (the field is missing, or inside a hysteresis band).
    Unknown,
    /// Back in range: the episode ends.
    Clear,
    /// The condition holds, with its value.
    Holds(f64),
}

fn seen(value: Option<i64>, holds: impl Fn(i64) -> bool, clears: impl Fn(i64) -> bool) -> Seen {
    match value {
        Some(v) if holds(v) => Seen::Holds(v as f64),
        Some(v) if clears(v) => Seen::Clear,
        _ => Seen::Unknown,
    }
}

fn is_movement(r: &Reading) -> bool {
    r.steps.is_some_and(|s| s > 0) || r.activity.is_some_and(|a| a != Activity::Rest)
}

/// One evaluation: the wearer's state, their thresholds, and the alerts so far.
struct Eval<'a> {
    state: &'a mut WearerState,
    th: &'a Thresholds,
    alerts: Vec<Alert>,
}

impl Eval<'_> {
    /// What counts whatever the arrival order: SOS, falls and cancels, movement, location.
    fn order_free(&mut self, at: DateTime<Utc>, id: &LazyId, r: &Reading) {
        let state = &mut *self.state;
        if let Some(loc) = r.location
            && state.last_location.is_none_or(|(t, _)| at >= t)
        {
            state.last_location = Some((at, loc));
        }
        if is_movement(r) && state.last_movement.is_none_or(|t| at > t) {
            state.last_movement = Some(at);
        }
        let window = self.th.fall_cancel_window();
        if r.fall_cancelled == Some(true) {
            let cancels = |fall: DateTime<Utc>| fall <= at && at <= fall + window;
            state.pending_falls.retain(|f| !cancels(f.at));
            // Too late to hold the alert back (the band went quiet inside the
            // window, or the batch that passed it came first): it is resolved instead.
            for raised in state.raised_falls.iter_mut().filter(|f| f.cancelled_at.is_none() && cancels(f.at)) {
                raised.cancelled_at = Some(at);
            }
            // Kept: the fall it cancels may be delivered later than the cancel.
            if !state.fall_cancels.contains(&at) {
                state.fall_cancels.push(at);
            }
        }
        if r.fall_detected == Some(true)
            && !state.fall_cancels.iter().any(|&c| at <= c && c <= at + window)
            && !state.pending_falls.iter().any(|f| f.reading == id.get())
        {
            state.pending_falls.push(PendingFall { at, reading: id.get().to_owned(), location: r.location });
        }
        if r.sos == Some(true) {
            self.critical(RuleKind::Sos, at, id.get(), r.location);
        }
    }

    fn due_falls(&mut self, now: DateTime<Utc>) {
        let window = self.th.fall_cancel_window();
        let (mut due, waiting): (Vec<_>, Vec<_>) =
            self.state.pending_falls.drain(..).partition(|f| now > f.at + window);
        self.state.pending_falls = waiting;
        due.sort_by_key(|f| f.at);
        for fall in due {
            self.critical(RuleKind::Fall, fall.at, &fall.reading, fall.location);
        }
    }

    /// SOS and fall: one alert per cooldown window aligned to the epoch, so the set
    /// of alerts does not depend on which reading of a window arrives first.
    fn critical(&mut self, rule: RuleKind, at: DateTime<Utc>, reading: &str, location: Option<Location>) {
        let width = self.th.cooldown(rule).num_seconds();
        let window_start = DateTime::from_timestamp(at.timestamp().div_euclid(width) * width, 0).unwrap_or(at);
        let windows = self.state.alerted_windows.entry(rule).or_default();
        if windows.contains(&window_start) {
            return;
        }
        windows.push(window_start);
        if rule == RuleKind::Fall {
            self.state.raised_falls.push(RaisedFall { at, window_start, cancelled_at: None });
        }
        let mut alert = Alert::new(&self.state.wearer_id, rule, window_start, at);
        alert.readings.push(reading.to_owned());
        alert.location = location.or(self.state.last_location.map(|(_, l)| l));
        self.alerts.push(alert);
    }

    /// The rules that need readings in event-time order.
    fn values(&mut self, clock: &LocalClock, at: DateTime<Utc>, id: &LazyId, r: &Reading) {
        let th = self.th;
        let secs = |s: u32| Duration::seconds(i64::from(s));
        let high = seen(r.heart_rate_bpm, |v| v > th.heart_rate_high_bpm, |_| true);
        self.sustained(RuleKind::HeartRateHigh, at, id, high, secs(th.heart_rate_sustain_s));
        let low = seen(r.heart_rate_bpm, |v| v < th.heart_rate_low_bpm, |_| true);
        self.sustained(RuleKind::HeartRateLow, at, id, low, secs(th.heart_rate_sustain_s));
        let spo2 = seen(r.spo2_pct, |v| v < th.spo2_low_pct, |_| true);
        self.sustained(RuleKind::Spo2Low, at, id, spo2, secs(th.spo2_sustain_s));
        let battery_clear_at = th.battery_low_pct.saturating_add(th.battery_hysteresis_pct);
        let battery = seen(r.battery_pct, |v| v < th.battery_low_pct, |v| v >= battery_clear_at);
        self.sustained(RuleKind::BatteryLow, at, id, battery, Duration::zero());

        let state = &mut *self.state;
        match (r.worn, state.wear) {
            (Some(worn), Some(w)) if w.worn == worn => {}
            (Some(worn), _) => state.wear = Some(WearStretch { worn, since: at }),
            // A band that never says otherwise is assumed worn from its first reading.
            (None, None) => state.wear = Some(WearStretch { worn: true, since: at }),
            (None, Some(_)) => {}
        }
        // Daytime episodes start no earlier than today's daytime: a night asleep
        // or an evening without the band does not count towards them.
        let (off_since, still_since) = match (clock.daytime_start(th, at), state.wear) {
            (Some(day), Some(w)) if !w.worn => (Some(w.since.max(day)), None),
            (Some(day), Some(w)) => (None, Some(w.since.max(day).max(state.last_movement.unwrap_or(day)))),
            _ => (None, None),
        };
        self.daytime(RuleKind::NotWorn, at, id, off_since, Duration::minutes(i64::from(th.not_worn_min)));
        self.daytime(RuleKind::Inactivity, at, id, still_since, Duration::hours(i64::from(th.inactivity_hours)));
    }

    /// A condition that must hold in consecutive readings for `duration`.
    fn sustained(&mut self, rule: RuleKind, at: DateTime<Utc>, id: &LazyId, seen: Seen, duration: Duration) {
        let value = match seen {
            Seen::Unknown => return,
            Seen::Clear => {
                self.state.episodes.remove(&rule);
                return;
            }
            Seen::Holds(v) => v,
        };
        // Battery drains slowly and needs no "sustained" evidence: no gap limit.
        let max_gap = (rule != RuleKind::BatteryLow).then_some(MAX_GAP);
        match self.state.episodes.get_mut(&rule) {
            Some(ep) if max_gap.is_none_or(|g| at - ep.last <= g) => extend(ep, at, id, value),
            _ => {
                self.state.episodes.insert(rule, new_episode(at, at, id, value));
            }
        }
        self.raise_if_due(rule, at, duration, None);
    }

    /// A daytime condition that has held since `since` (None: it does not hold
    /// now). `since` is the episode's identity: a new `since` is a new episode.
    ///
    /// Its readings are the one that began the episode and the one that completed
    /// it: every reading in between says only "still" (or "off"), and hashing each
    /// one's id was a large share of the engine's time, since a wearer at rest in
    /// daytime is in an inactivity episode nearly always. A condition that began
    /// at this very reading (the wearer just moved, the band just came off) has
    /// lasted nothing yet: the episode starts with the next reading, still at `since`.
    fn daytime(
        &mut self,
        rule: RuleKind,
        at: DateTime<Utc>,
        id: &LazyId,
        since: Option<DateTime<Utc>>,
        duration: Duration,
    ) {
        let Some(since) = since.filter(|&s| s < at) else {
            self.state.episodes.remove(&rule);
            return;
        };
        let minutes = (at - since).num_minutes() as f64;
        match self.state.episodes.get_mut(&rule) {
            Some(ep) if ep.start == since => {
                ep.last = at;
                ep.value = Some(minutes);
            }
            _ => {
                self.state.episodes.insert(rule, new_episode(since, at, id, minutes));
            }
        }
        self.raise_if_due(rule, at, duration, Some(id));
    }

    /// Raises the open episode of `rule` once it has lasted `duration`, unless it
    /// already did or the rule is cooling down. A suppressed episode that still
    /// holds when the cooldown ends alerts then: the cooldown delays, never drops.
    ///
    /// `completing` is the reading that raised it, when the episode does not
    /// already keep every reading (daytime rules).
    fn raise_if_due(&mut self, rule: RuleKind, at: DateTime<Utc>, duration: Duration, completing: Option<&LazyId>) {
        let cooled = cooled_down(self.state, self.th, rule, at);
        let Some(ep) = self.state.episodes.get_mut(&rule) else { return };
        if ep.alerted || ep.last - ep.start < duration || !cooled {
            return;
        }
        ep.alerted = true;
        let mut alert = Alert::new(&self.state.wearer_id, rule, ep.start, at);
        alert.readings = ep.readings.clone();
        if let Some(id) = completing
            && alert.readings.last().is_none_or(|last| last != id.get())
        {
            alert.readings.push(id.get().to_owned());
        }
        alert.value = ep.value;
        self.state.last_alert.insert(rule, at);
        self.alerts.push(alert);
    }

    /// Forgets what can no longer matter: ingest refuses readings older than
    /// [`MAX_AGE`], so older cancels and windows are not needed for dedup. (A
    /// record replayed from further back is still deduplicated by its alert id.)
    fn prune(&mut self, seen: DateTime<Utc>) {
        let horizon = seen - MAX_AGE;
        self.state.fall_cancels.retain(|&c| c >= horizon);
        self.state.raised_falls.retain(|f| f.at >= horizon);
        for (rule, windows) in self.state.alerted_windows.iter_mut() {
            // A window starts up to one cooldown before the readings in it.
            let oldest = horizon - self.th.cooldown(*rule);
            windows.retain(|&w| w >= oldest);
        }
        self.state.alerted_windows.retain(|_, w| !w.is_empty());
    }
}

fn new_episode(start: DateTime<Utc>, at: DateTime<Utc>, id: &LazyId, value: f64) -> Episode {
    Episode { start, last: at, readings: vec![id.get().to_owned()], value: Some(value), alerted: false }
}

fn extend(ep: &mut Episode, at: DateTime<Utc>, id: &LazyId, value: f64) {
    ep.last = at;
    ep.value = Some(value);
    if ep.readings.len() >= MAX_ALERT_READINGS {
        ep.readings.remove(0);
    }
    ep.readings.push(id.get().to_owned());
}

/// The wearer's local clock over one batch.
///
/// Looking up a zone's offset (a binary search over its transitions, twice per
/// reading) was a large share of the engine's time. A batch spans seconds to
/// minutes: when the offset is the same at its first and last reading and they
/// are less than [`FIXED_SPAN`] apart, no transition lies between them (zones
/// change offset a few times a year at most), so local time is arithmetic on
/// that offset. Otherwise every reading is looked up. The instant a local day
/// starts is looked up once per date (it may lie before the batch, across a
/// transition).
struct LocalClock {
    tz: Tz,
    fixed: Option<FixedOffset>,
    day_start: Cell<Option<(NaiveDate, DateTime<Utc>)>>,
}

/// Longest batch span over which an unchanged offset is taken as constant.
const FIXED_SPAN: Duration = Duration::hours(6);

impl LocalClock {
    fn new(tz: Tz, span: Option<(DateTime<Utc>, DateTime<Utc>)>) -> Self {
        let offset = |t: DateTime<Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix();
        let fixed = span
            .filter(|(first, last)| *last - *first < FIXED_SPAN)
            .and_then(|(first, last)| Some(offset(first)).filter(|o| *o == offset(last)));
        Self { tz, fixed, day_start: Cell::new(None) }
    }

    /// `at` on the wearer's wall clock, with the offset in force.
    fn local(&self, at: DateTime<Utc>) -> (NaiveDateTime, FixedOffset) {
        match self.fixed {
            Some(offset) => (at.with_timezone(&offset).naive_local(), offset),
            None => {
                let local = at.with_timezone(&self.tz);
                (local.naive_local(), local.offset().fix())
            }
        }
    }

    /// The start of the wearer's daytime that `at` falls in, or None at night.
    fn daytime_start(&self, th: &Thresholds, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let (local, offset) = self.local(at);
        let date = daytime_date(th, local)?;
        if let Some((d, instant)) = self.day_start.get()
            && d == date
        {
            return Some(instant);
        }
        let instant = local_instant(self.tz, date, th.day_start, offset);
        self.day_start.set(Some((date, instant)));
        Some(instant)
    }
}

/// The local date whose daytime the wall-clock time `local` falls in, or None at night.
fn daytime_date(th: &Thresholds, local: NaiveDateTime) -> Option<NaiveDate> {
    let (t, today) = (local.time(), local.date());
    let (start, end) = (th.day_start, th.day_end);
    if start < end {
        (start <= t && t < end).then_some(today)
    } else if t >= start {
        // Wraps past midnight (or all day when start == end).
        Some(today)
    } else if t < end {
        today.pred_opt()
    } else {
        None
    }
}

/// A local wall-clock time as an instant. In a DST gap (the time does not exist
/// that day) the current offset is used, which lands just after the gap.
fn local_instant(tz: Tz, date: NaiveDate, time: NaiveTime, fallback: FixedOffset) -> DateTime<Utc> {
    let naive = date.and_time(time);
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|| (naive - Duration::seconds(i64::from(fallback.local_minus_utc()))).and_utc())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use proptest::prelude::*;

    use super::*;

    /// The plain definition: the zone looked up for every instant.
    fn daytime_start_reference(tz: Tz, th: &Thresholds, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&tz);
        let date = daytime_date(th, local.naive_local())?;
        Some(local_instant(tz, date, th.day_start, local.offset().fix()))
    }

    const ZONES: [Tz; 6] = [
        chrono_tz::Europe::Madrid,
        chrono_tz::America::Sao_Paulo,
        chrono_tz::America::New_York,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::Asia::Tokyo,
        chrono_tz::Pacific::Chatham,
    ];

    proptest! {
        // Cheap cases, and a mismatch needs a daytime boundary near a transition.
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// Batches of up to 8 h of readings, many across a DST change (2026-03-08 US,
        /// 03-29 EU, 04-05 AU/NZ, 10-04/10-25, 11-01): the clock built once per
        /// batch gives each reading the same daytime start as looking it up.
        #[test]
        fn batch_clock_matches_a_lookup_per_reading(
            zone in 0..ZONES.len(),
            day in prop::sample::select(vec![67u32, 68, 87, 88, 94, 95, 276, 277, 297, 298, 304, 305, 200]),
            first_min in 0i64..1440,
            steps in prop::collection::vec(0i64..3600, 1..12),
            // Half the time near the small hours, where zones change offset.
            start_min in prop_oneof![0u32..1440, 60u32..240],
            end_min in prop_oneof![0u32..1440, 60u32..240],
        ) {
            let tz = ZONES[zone];
            let th = Thresholds {
                day_start: NaiveTime::from_num_seconds_from_midnight_opt(start_min * 60, 0).unwrap(),
                day_end: NaiveTime::from_num_seconds_from_midnight_opt(end_min * 60, 0).unwrap(),
                ..Thresholds::default()
            };
            let base = NaiveDate::from_yo_opt(2026, day).unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc();
            let mut at = base + Duration::minutes(first_min);
            let mut times = vec![at];
            for s in steps {
                at += Duration::seconds(s);
                times.push(at);
            }
            let clock = LocalClock::new(tz, Some((times[0], *times.last().unwrap())));
            for t in times {
                prop_assert_eq!(clock.daytime_start(&th, t), daytime_start_reference(tz, &th, t), "at {}", t);
            }
        }
    }

    proptest! {
        /// `next_check` is exact: from the state's save (`saved`, the processor's clock)
        /// until it, the scheduled check (flush, then check_offline) changes nothing
        /// (nor ever, when it is `None`); at it (or at once, if it is past), it changes
        /// the state: a fall raised, a silence alerted.
        #[test]
        fn next_check_is_when_the_scheduled_check_first_acts(
            seen in prop::option::of(0i64..7_200),
            no_data_open in any::<bool>(),
            last_no_data in prop::option::of(0i64..7_200),
            falls in prop::collection::vec(0i64..7_200, 0..3),
            saved_s in 0i64..9_000,
            no_data_min in 1u32..60,
            cooldown_min in 1u32..120,
            window_s in 1u32..120,
        ) {
            let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
            let secs = |s: i64| t0 + Duration::seconds(s);
            let saved = secs(saved_s);
            let th = Thresholds { no_data_min, cooldown_min, fall_cancel_window_s: window_s, ..Thresholds::default() };
            let mut state = WearerState::new("w-1");
            state.last_seen = seen.map(secs);
            // As the processor saves it: its flush at `saved` raised the falls past their
            // window and ended a silence the band is current again after.
            if no_data_open && let Some(start) = state.last_seen && saved - start >= th.no_data() {
                let episode = Episode { start, last: start, readings: Vec::new(), value: None, alerted: true };
                state.episodes.insert(RuleKind::NoData, episode);
            }
            if let Some(at) = last_no_data {
                state.last_alert.insert(RuleKind::NoData, secs(at));
            }
            state.pending_falls = falls
                .iter()
                .map(|&s| PendingFall { at: secs(s), reading: "r".into(), location: None })
                .filter(|f| saved <= f.at + th.fall_cancel_window())
                .collect();
            let check = |now: DateTime<Utc>| {
                let mut after = state.clone();
                let mut raised = flush(&mut after, &th, now);
                raised.extend(check_offline(&mut after, &th, now));
                (after, raised)
            };
            match next_check(&state, &th) {
                None => {
                    let (after, raised) = check(saved + Duration::days(30));
                    prop_assert!(raised.is_empty());
                    prop_assert_eq!(after, state);
                }
                Some(due) => {
                    if due - Duration::milliseconds(1) >= saved {
                        let (before, raised) = check(due - Duration::milliseconds(1));
                        prop_assert!(raised.is_empty());
                        prop_assert_eq!(&before, &state);
                    }
                    let (after, _) = check(due.max(saved));
                    prop_assert_ne!(&after, &state);
                }
            }
        }
    }

    /// Readings every `every_s` for two hours, each saved with [`check_to_store`]:
    /// how often the stored check moved, and whether it was ever due between two
    /// readings (a detector visit) or later than the exact one.
    fn moves_with_readings_every(every_s: i64) -> usize {
        let th = Thresholds::default();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut state = WearerState::new("w-1");
        let mut moves = 0;
        for n in 0..(7_200 / every_s) {
            let now = t0 + Duration::seconds(n * every_s);
            state.last_seen = Some(now);
            let stored = check_to_store(&state, &th, now);
            let exact = next_check(&state, &th).unwrap();
            assert!(stored.is_some_and(|c| c <= exact), "never late");
            assert!(stored.is_some_and(|c| c > now + Duration::seconds(every_s)), "not due before the next reading");
            moves += usize::from(stored != state.next_check);
            state.next_check = stored;
        }
        moves
    }

    #[test]
    fn readings_on_time_move_the_stored_check_once_per_half_threshold_and_never_make_it_due() {
        // The default no_data threshold is 15 minutes: kept while over 7.5 minutes ahead.
        assert_eq!(moves_with_readings_every(300), 12, "every other of 24 uploads");
        assert_eq!(moves_with_readings_every(60), 15, "every 8th of 120 uploads");
    }

    #[test]
    fn a_stored_check_later_than_the_exact_one_or_close_is_replaced() {
        let th = Thresholds::default();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let mut state = WearerState::new("w-1");
        state.last_seen = Some(now);
        let exact = next_check(&state, &th);
        // A pending fall makes the exact check earlier than the stored one.
        state.next_check = Some(now + Duration::minutes(14));
        state.pending_falls.push(PendingFall { at: now, reading: "r".into(), location: None });
        assert_eq!(check_to_store(&state, &th, now), next_check(&state, &th));
        assert!(check_to_store(&state, &th, now) < Some(now + Duration::minutes(2)));
        state.pending_falls.clear();
        // Half the threshold ahead or less: moved.
        state.next_check = Some(now + Duration::seconds(450));
        assert_eq!(check_to_store(&state, &th, now), exact);
        state.next_check = Some(now + Duration::seconds(451));
        assert_eq!(check_to_store(&state, &th, now), Some(now + Duration::seconds(451)));
        // Nothing left to check: out of the index, whatever was stored.
        state.episodes.insert(
            RuleKind::NoData,
            Episode { start: now, last: now, readings: Vec::new(), value: None, alerted: true },
        );
        assert_eq!(check_to_store(&state, &th, now), None);
    }
}
