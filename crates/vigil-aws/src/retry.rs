//! One retry policy for every adapter: which SDK failures are worth another attempt,
//! the backoff between attempts, and the loop that resends only what failed (PutRecords
//! entries, BatchWriteItem's unprocessed items) until everything is written or the time
//! budget is spent.

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::time::{Instant, sleep_until};

/// Service error codes that say "later, not never": throttling and transient faults
/// of Kinesis, DynamoDB, S3 and the Redshift Data API.
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "LimitExceededException",
    "KMSThrottlingException",
    "InternalServerError",
    "InternalError",
    "InternalFailure",
    "InternalFailureException",
    "ServiceUnavailable",
    "TransactionConflictException",
    "SlowDown",
    "RequestTimeout",
];

/// Whether trying the same call again can succeed: throttling, 5xx, timeouts and
/// failures to reach the service are; validation, access and missing-resource
/// errors are not.
pub fn is_retryable<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            service.raw().status().is_server_error()
                || service.raw().status().as_u16() == 429
                || service.err().code().is_some_and(|code| RETRYABLE_CODES.contains(&code))
        }
        _ => false,
    }
}

/// A short name for an SDK failure, for logs (never the message: it may quote data).
pub fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> String {
    match err {
        SdkError::ServiceError(service) => service.err().code().unwrap_or("unknown").to_owned(),
        SdkError::TimeoutError(_) => "timeout".into(),
        SdkError::DispatchFailure(_) => "dispatch failure".into(),
        SdkError::ResponseError(_) => "response error".into(),
        _ => "construction failure".into(),
    }
}

/// Backoff between attempts: full jitter over an exponentially growing ceiling.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_millis(50), max: Duration::from_secs(1) }
    }
}

impl Backoff {
    /// How long to wait before retry `attempt` (0-based): uniform over zero to
    /// `base · 2^attempt`, capped at `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << attempt.min(16)).min(self.max);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// What [`resend_failed`] left.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resent<T> {
    /// Never written: the next attempt would have started past the deadline.
    pub unwritten: Vec<T>,
    /// Entries sent again after a failure, over all attempts.
    pub resent: usize,
}

/// Sends `pending` with `send`, then only what `send` answers as not written, with
/// `backoff` between attempts, until nothing is left or the next attempt would start
/// past `deadline`. An error from `send` (a failure no retry can fix) ends it at once.
/// `resource` names the stream or table in the logs.
pub async fn resend_failed<T, E, F, Fut>(
    resource: &str,
    backoff: &Backoff,
    deadline: Instant,
    mut pending: Vec<T>,
    mut send: F,
) -> Result<Resent<T>, E>
where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Result<Vec<T>, E>>,
{
    let mut resent = 0;
    let mut attempt = 0u32;
    while !pending.is_empty() {
        let failed = send(pending).await?;
        if failed.is_empty() {
            break;
        }
        resent += failed.len();
        let wake = Instant::now() + backoff.delay(attempt);
        if wake >= deadline {
            return Ok(Resent { unwritten: failed, resent });
        }
        tracing::info!(resource, failed = failed.len(), attempt, "resending what failed");
        sleep_until(wake).await;
        pending = failed;
        attempt += 1;
    }
    Ok(Resent { unwritten: Vec::new(), resent })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_its_ceiling() {
        let b = Backoff { base: Duration::from_millis(50), max: Duration::from_millis(400) };
        for attempt in 0..40 {
            let ceiling = Duration::from_millis(50 * (1u64 << attempt.min(16))).min(b.max);
            assert!(b.delay(attempt) <= ceiling);
        }
    }

    #[tokio::test]
    async fn only_what_failed_is_sent_again_until_nothing_is_left_or_time_is_up() {
        let fast = Backoff { base: Duration::from_millis(1), max: Duration::from_millis(2) };
        let far = Instant::now() + Duration::from_secs(5);
        let mut sent = Vec::new();
        // Each attempt writes all but the last entry.
        let out: Result<_, ()> = resend_failed("t", &fast, far, vec![1, 2, 3], |batch: Vec<i32>| {
            sent.push(batch.clone());
            let failed = batch.last().copied().into_iter().filter(|_| batch.len() > 1).collect();
            async move { Ok(failed) }
        })
        .await;
        assert_eq!(sent, vec![vec![1, 2, 3], vec![3]]);
        assert_eq!(out, Ok(Resent { unwritten: vec![], resent: 1 }));

        let past = Instant::now();
        let out: Result<_, ()> = resend_failed("t", &fast, past, vec![1, 2], |b| async move { Ok(b) }).await;
        assert_eq!(out, Ok(Resent { unwritten: vec![1, 2], resent: 2 }));
        let out = resend_failed("t", &fast, far, vec![1], |_| async { Err::<Vec<i32>, _>("refused") }).await;
        assert_eq!(out, Err("refused"));
    }
}
