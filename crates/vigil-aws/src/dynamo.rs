//! What the DynamoDB and S3 adapters share: store errors (retryable as
//! [`crate::retry::is_retryable`] says) and the one timestamp format of every stored time.
//!
//! Stored times are RFC 3339 UTC with exactly three fractional digits
//! (`2026-11-02T08:15:00.000Z`): fixed width, so string order is time order and
//! `<` in a condition or filter expression compares instants.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, SecondsFormat, Utc};
use vigil_domain::ports::StoreError;

use crate::retry::is_retryable;

const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailedException";

/// The failed conditional write every adapter here treats as an answer, not an error.
pub fn is_conditional_check_failed<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    matches!(err, SdkError::ServiceError(service) if service.err().code() == Some(CONDITIONAL_CHECK_FAILED))
}

/// Wraps an SDK failure of `operation` on `resource` (a table or bucket name).
pub fn store_error<E>(operation: &'static str, resource: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    StoreError { operation, resource: resource.to_owned(), retryable: is_retryable(&err), source: err.into() }
}

/// A stored item that does not have the shape this adapter writes. Names the
/// attribute only: the values may be personal data.
#[derive(Debug, thiserror::Error)]
#[error("stored item has a missing or malformed attribute {attribute}")]
pub struct MalformedItem {
    pub attribute: &'static str,
}

pub fn malformed(operation: &'static str, resource: &str, attribute: &'static str) -> StoreError {
    StoreError {
        operation,
        resource: resource.to_owned(),
        retryable: false,
        source: MalformedItem { attribute }.into(),
    }
}

/// The stored form of an instant (see the module docs).
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_sort_as_strings_in_time_order() {
        let a = Utc.with_ymd_and_hms(2026, 11, 2, 8, 15, 0).unwrap();
        let b = a + chrono::Duration::milliseconds(500);
        let c = a + chrono::Duration::seconds(1);
        assert_eq!(timestamp(a), "2026-11-02T08:15:00.000Z");
        assert!(timestamp(a) < timestamp(b) && timestamp(b) < timestamp(c));
        assert_eq!(parse_timestamp(&timestamp(b)), Some(b));
    }
}
