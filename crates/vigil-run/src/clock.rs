//! The simulated clock every part of a local run reads: simulated time runs
//! `speed` times faster than real time from `start`, so a two-hour day of a
//! fleet plays in two minutes, and every handler is given this clock's `now`
//! (the functions take their clock as an input for exactly this).
//!
//! Back-pressure: the clock may be held ([`SimClock::hold_at`]) at a simulated
//! time it must not pass yet — the phones hold it at the oldest upload that is
//! due but not yet answered, the pipeline at the oldest record alert-processor
//! has not processed yet (see [`Hold`]). Held, it stops; released, it runs on from where it
//! stopped (the time held is not made up), so a machine too slow for `speed`
//! gets a slower run, never a fleet whose phones look silent. What it achieved
//! is [`SimClock::achieved_speed`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

/// Who holds the clock back ([`SimClock::hold_at`]).
#[derive(Debug, Clone, Copy)]
pub enum Hold {
    /// The phones: uploads due and not yet answered.
    Phones = 0,
    /// The pipeline: records on the stream alert-processor has not processed yet.
    Pipeline = 1,
    /// The schedule: a detector run not yet done ([`crate::run::schedules`]).
    Schedule = 2,
}

/// Cheap to clone; clones share the same time.
#[derive(Debug, Clone)]
pub struct SimClock {
    start: DateTime<Utc>,
    real_start: Instant,
    /// The wall clock when the simulated clock read `start`.
    wall_start: DateTime<Utc>,
    speed: f64,
    /// Simulated epoch millis the clock stopped at, or `i64::MIN` while running.
    frozen_at: Arc<AtomicI64>,
    /// Per [`Hold`]: simulated epoch millis the clock may not pass for now, or `i64::MAX`.
    limits: Arc<[AtomicI64; 3]>,
    /// Real nanoseconds the clock has been held so far: not simulated.
    held_ns: Arc<AtomicU64>,
}

impl SimClock {
    /// A clock at `start` now, running `speed` (≥ 1) times faster than real time.
    pub fn new(start: DateTime<Utc>, speed: f64) -> Self {
        Self {
            start,
            real_start: Instant::now(),
            wall_start: Utc::now(),
            speed: speed.max(1.0),
            frozen_at: Arc::new(AtomicI64::new(i64::MIN)),
            limits: Arc::new([AtomicI64::new(i64::MAX), AtomicI64::new(i64::MAX), AtomicI64::new(i64::MAX)]),
            held_ns: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Holds the clock at `limit` for `who` (it stops there until the limit moves; at
    /// once if it is there already), or releases `who`'s hold (`None`). The clock
    /// stops at the earliest hold; the time it stands still is not made up afterwards.
    pub fn hold_at(&self, who: Hold, limit: Option<DateTime<Utc>>) {
        // Settle the time held so far under the old limit first; a limit already
        // passed stops the clock where it is (it never runs back).
        let now = self.now();
        let millis = limit.map_or(i64::MAX, |t| t.max(now).timestamp_millis());
        self.limits[who as usize].store(millis, Ordering::Release);
    }

    /// Simulated time per real time since the start (held time included): what the
    /// run achieved, next to the `speed` asked for.
    pub fn achieved_speed(&self) -> f64 {
        let simulated = (self.now() - self.start).to_std().unwrap_or(Duration::ZERO);
        simulated.as_secs_f64() / self.real_start.elapsed().as_secs_f64().max(1e-9)
    }

    /// Real time the clock has stood still, held by back-pressure.
    pub fn held(&self) -> Duration {
        let _ = self.now();
        Duration::from_nanos(self.held_ns.load(Ordering::Acquire))
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn now(&self) -> DateTime<Utc> {
        let frozen = self.frozen_at.load(Ordering::Acquire);
        if frozen != i64::MIN {
            return DateTime::from_timestamp_millis(frozen).unwrap_or(self.start);
        }
        let elapsed = self.real_start.elapsed();
        let now = self.at(elapsed.saturating_sub(self.held_ns()));
        let limit = self.limits.iter().map(|l| l.load(Ordering::Acquire)).min().unwrap_or(i64::MAX);
        if now.timestamp_millis() <= limit {
            return now;
        }
        // Held: the real time beyond the limit is time held, not simulated.
        let limit = DateTime::from_timestamp_millis(limit).unwrap_or(now).max(self.start);
        let held = elapsed.saturating_sub(self.real(limit - self.start));
        self.held_ns.fetch_max(u64::try_from(held.as_nanos()).unwrap_or(u64::MAX), Ordering::AcqRel);
        limit
    }

    fn held_ns(&self) -> Duration {
        Duration::from_nanos(self.held_ns.load(Ordering::Acquire))
    }

    /// Stops simulated time where it is: after the fleet's last upload, so that
    /// draining the pipeline does not make every band look silent.
    pub fn freeze(&self) {
        let now = self.now();
        self.frozen_at.store(now.timestamp_millis(), Ordering::Release);
    }

    /// The simulated time at wall-clock time `wall` (e.g. a record's arrival on the stream).
    /// Time held since `wall` makes it earlier than it was, never later.
    pub fn at_wall(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        let now = self.now();
        let since_start = (wall - self.wall_start).to_std().unwrap_or(Duration::ZERO);
        self.at(since_start.saturating_sub(self.held_ns())).min(now)
    }

    /// The `now` a stream function is given for a batch whose newest record reached
    /// the stream at wall time `arrival`: the simulated arrival time plus the real
    /// (not accelerated) time since. Only the fleet's world is accelerated; the
    /// pipeline's own delays stay real, as they would be in AWS. Without this, at
    /// x60 a one-second poll would look like a minute to the rules, and a fall
    /// cancelled 15 s later on the band would be raised before its cancel arrived.
    pub fn processing_now(&self, arrival: Option<DateTime<Utc>>) -> DateTime<Utc> {
        let Some(arrival) = arrival else { return self.now() };
        let since = (Utc::now() - arrival).max(TimeDelta::zero());
        (self.at_wall(arrival) + since).min(self.now())
    }

    /// Real time until the clock reads `t` (zero if it already does).
    pub fn real_until(&self, t: DateTime<Utc>) -> Duration {
        let ahead = (t - self.now()).to_std().unwrap_or(Duration::ZERO);
        ahead.div_f64(self.speed)
    }

    /// Real duration of a simulated one.
    pub fn real(&self, simulated: TimeDelta) -> Duration {
        simulated.to_std().unwrap_or(Duration::ZERO).div_f64(self.speed)
    }

    fn at(&self, real_elapsed: Duration) -> DateTime<Utc> {
        let simulated = real_elapsed.mul_f64(self.speed);
        self.start + TimeDelta::from_std(simulated).unwrap_or(TimeDelta::MAX)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn simulated_time_runs_faster_and_freezes() {
        let start = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().to_utc();
        let clock = SimClock::new(start, 600.0);
        assert_eq!(clock.at(Duration::from_secs(1)), start + TimeDelta::minutes(10));
        assert_eq!(clock.real(TimeDelta::minutes(10)), Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(20));
        clock.freeze();
        let frozen = clock.now();
        assert!(frozen >= start + TimeDelta::seconds(12), "{frozen}");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(clock.now(), frozen);
        assert_eq!(clock.real_until(frozen - TimeDelta::seconds(1)), Duration::ZERO);
        // A record that arrived just now is processed at (about) the simulated now,
        // never later than it.
        let now = clock.processing_now(Some(Utc::now()));
        assert!(now <= frozen && now >= frozen - TimeDelta::seconds(1), "{now} vs {frozen}");
        assert_eq!(clock.processing_now(None), frozen);
    }

    #[test]
    fn a_held_clock_stops_at_its_limit_and_runs_on_from_there_when_released() {
        let start = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().to_utc();
        // x6000: 1 ms of real time is 6 simulated seconds.
        let clock = SimClock::new(start, 6000.0);
        let limit = start + TimeDelta::seconds(30);
        clock.hold_at(Hold::Phones, Some(limit));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(clock.now(), limit, "held: 40 ms would be 4 simulated minutes");
        let arrival = clock.at_wall(Utc::now());
        assert!(arrival <= limit && arrival > limit - TimeDelta::seconds(1), "never past the limit: {arrival}");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(clock.now(), limit, "still held");
        let held = clock.held();
        assert!(held >= Duration::from_millis(50), "{held:?}");

        // Released: it runs on from the limit, without making up the time held.
        clock.hold_at(Hold::Phones, None);
        let released = clock.now();
        assert!(released >= limit && released < limit + TimeDelta::seconds(30), "{released}");
        std::thread::sleep(Duration::from_millis(10));
        let later = clock.now();
        assert!(later >= released + TimeDelta::seconds(60), "runs at x6000 again: {later}");
        assert!(later < start + TimeDelta::minutes(5), "no catching up: {later}");
        // Achieved: less than asked for, by the time held.
        let achieved = clock.achieved_speed();
        assert!(achieved < 6000.0 * 0.5 && achieved > 0.0, "{achieved}");

        // Held again at a time it already passed: it stands still there, never goes back.
        clock.hold_at(Hold::Phones, Some(start));
        let stopped = clock.now();
        assert!(stopped >= later, "{stopped} vs {later}");
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), stopped);
    }

    #[test]
    fn the_earliest_of_two_holds_stops_the_clock() {
        let start = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().to_utc();
        let clock = SimClock::new(start, 6000.0);
        clock.hold_at(Hold::Phones, Some(start + TimeDelta::minutes(10)));
        clock.hold_at(Hold::Pipeline, Some(start + TimeDelta::seconds(30)));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(clock.now(), start + TimeDelta::seconds(30), "the pipeline's hold is the earlier");
        clock.hold_at(Hold::Pipeline, None);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(clock.now(), start + TimeDelta::minutes(10), "then the phones' hold");
    }
}
