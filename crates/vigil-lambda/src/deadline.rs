//! The invocation's time budget. Every request path runs under a [`Deadline`]: the
//! Lambda context's `deadline` less a margin kept back to answer (or, in the local
//! runner, the declared timeout from the moment of the call). Work still running
//! at the deadline is dropped and the function gives its "retry later" answer:
//! 503 + `Retry-After` (HTTP), every record of the batch reported (streams), an
//! error Lambda retries (SNS), or the rest left for the next run (schedules).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// When the work of one invocation must be over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

/// The deadline passed before the work was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the invocation's time budget ran out")]
pub struct Expired;

impl Deadline {
    /// `timeout` less `margin` from now (the local runner: the declared timeout).
    pub fn after(timeout: Duration, margin: Duration) -> Self {
        Self(Instant::now() + timeout.saturating_sub(margin))
    }

    /// The Lambda context's deadline less `margin`.
    pub fn of(context: &lambda_runtime::Context, margin: Duration) -> Self {
        let left = context.deadline().duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
        Self::after(left, margin)
    }

    /// Earlier by `reserve` (time kept for what comes after).
    #[must_use]
    pub fn less(self, reserve: Duration) -> Self {
        Self(self.0.checked_sub(reserve).unwrap_or_else(|| Instant::now().min(self.0)))
    }

    /// The earlier of this deadline and `budget` from now.
    #[must_use]
    pub fn within(self, budget: Duration) -> Self {
        Self(self.0.min(Instant::now() + budget))
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// Runs `work` until it is done or the deadline passes, whichever is first;
    /// at the deadline `work` is dropped (its calls in flight are abandoned).
    pub async fn run<F: Future>(&self, work: F) -> Result<F::Output, Expired> {
        tokio::time::timeout_at(self.0, work).await.map_err(|_| Expired)
    }
}

/// Runs `work` under `deadline` when there is one (tests and tools may run a
/// handler with none, and then need no timer).
pub async fn within<F: Future>(deadline: Option<Deadline>, work: F) -> Result<F::Output, Expired> {
    match deadline {
        Some(deadline) => deadline.run(work).await,
        None => Ok(work.await),
    }
}

/// A Lambda context whose deadline is `timeout` from now: how the local runner
/// and the tests invoke a handler as Lambda would.
pub fn context(timeout: Duration) -> lambda_runtime::Context {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut context = lambda_runtime::Context::default();
    context.deadline = u64::try_from((now + timeout).as_millis()).unwrap_or(u64::MAX);
    context
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn work_past_the_deadline_is_dropped_and_reported() {
        let deadline = Deadline::after(Duration::from_secs(10), Duration::from_secs(2));
        assert_eq!(deadline.remaining(), Duration::from_secs(8));
        assert_eq!(deadline.run(async { 7 }).await, Ok(7));
        let slow = tokio::time::sleep(Duration::from_secs(9));
        assert_eq!(deadline.run(slow).await, Err(Expired));
        assert_eq!(deadline.remaining(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reserve_and_a_budget_only_bring_it_closer() {
        let deadline = Deadline::after(Duration::from_secs(10), Duration::ZERO);
        assert_eq!(deadline.less(Duration::from_secs(3)).remaining(), Duration::from_secs(7));
        assert_eq!(deadline.less(Duration::from_secs(30)).remaining(), Duration::ZERO);
        assert_eq!(deadline.within(Duration::from_secs(4)).remaining(), Duration::from_secs(4));
        assert_eq!(deadline.within(Duration::from_secs(40)).remaining(), Duration::from_secs(10));
    }

    #[test]
    fn the_context_deadline_less_the_margin() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async {
            let mut context = context(Duration::from_secs(10));
            let left = Deadline::of(&context, Duration::from_secs(2)).remaining();
            assert!(left <= Duration::from_secs(8) && left > Duration::from_secs(7), "{left:?}");
            context.deadline -= 11_000;
            assert_eq!(Deadline::of(&context, Duration::from_secs(2)).remaining(), Duration::ZERO);
        });
    }
}
