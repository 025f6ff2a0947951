//! What a vitals write reports: its cost, and the items it did not write.

use crate::error::StoreError;

/// What a successful (or partly successful) vitals write cost, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// API calls made, including retries.
    pub calls: u32,
    /// Items sent again after UnprocessedItems or a throttled call.
    pub retries: usize,
}

/// Items that were not written. Indexes point into the slice given to
/// [`crate::ports::VitalsStore::put_items`]; the caller reports their records for retry.
#[derive(Debug, thiserror::Error)]
pub enum VitalsWriteError {
    /// Still unprocessed (throttled) when the write deadline came.
    #[error("{} of {total} vitals items not written to {table}: still unprocessed at the deadline after {} resends", unwritten.len(), report.retries)]
    Deadline { table: String, total: usize, unwritten: Vec<usize>, report: WriteReport },
    /// A call failed for a reason resending at once will not fix.
    #[error("{} of {total} vitals items not written", unwritten.len())]
    Failed {
        total: usize,
        unwritten: Vec<usize>,
        report: WriteReport,
        #[source]
        source: StoreError,
    },
}

impl VitalsWriteError {
    pub fn unwritten(&self) -> &[usize] {
        match self {
            Self::Deadline { unwritten, .. } | Self::Failed { unwritten, .. } => unwritten,
        }
    }

    pub fn report(&self) -> WriteReport {
        match self {
            Self::Deadline { report, .. } | Self::Failed { report, .. } => *report,
        }
    }

    /// Whether a later retry can succeed (false: an operator must act).
    pub fn retryable(&self) -> bool {
        match self {
            Self::Deadline { .. } => true,
            Self::Failed { source, .. } => source.retryable,
        }
    }
}
