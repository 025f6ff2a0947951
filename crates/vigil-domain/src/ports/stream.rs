//! The readings stream: what ingest publishes.

use std::future::Future;
use std::time::Duration;

use super::BoxError;

/// One record for the readings stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// What a successful publish cost, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// API calls made, including retries.
    pub calls: u32,
    /// Records that had to be resent after a failed entry or a failed call.
    pub resent: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Some records were still not on the stream when the time budget ran out.
    /// The caller must not report them as accepted; the client retries.
    #[error("{unwritten} of {total} records not written within the time budget")]
    Incomplete { unwritten: usize, total: usize },
    /// The stream refused the write for a reason retrying will not fix
    /// (missing stream, access denied): an operator must act.
    #[error("stream {stream} refused the write")]
    Refused {
        stream: String,
        #[source]
        source: BoxError,
    },
}

/// Puts records on the readings stream.
pub trait RecordPublisher {
    /// Writes every record, resending only the ones that failed, until all are
    /// written or `budget` is spent. `Ok` means every record is on the stream.
    fn publish(
        &self,
        records: Vec<StreamRecord>,
        budget: Duration,
    ) -> impl Future<Output = Result<PublishReport, PublishError>> + Send;
}
