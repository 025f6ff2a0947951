//! The simulated clock every part of a local run reads: simulated time runs
//! `speed` times faster than real time from `start`, so a two-hour day of a
//! fleet plays in two minutes, and every handler is given this clock's `now`
//! (the functions take their clock as an input for exactly this).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

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
        }
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
        self.at(self.real_start.elapsed())
    }

    /// Stops simulated time where it is: after the fleet's last upload, so that
    /// draining the pipeline does not make every band look silent.
    pub fn freeze(&self) {
        let now = self.now();
        self.frozen_at.store(now.timestamp_millis(), Ordering::Release);
    }

    /// The simulated time at wall-clock time `wall` (e.g. a record's arrival on the stream).
    pub fn at_wall(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        self.at((wall - self.wall_start).to_std().unwrap_or(Duration::ZERO)).min(self.now())
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
}
