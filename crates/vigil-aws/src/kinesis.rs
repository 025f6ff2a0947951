//! The readings stream on Kinesis: [`RecordPublisher`] with PutRecords.
//!
//! PutRecords is not atomic: a call can succeed while some entries fail
//! (`FailedRecordCount`, per-entry `ErrorCode`, usually throttling on a hot
//! shard). Only the failed entries are sent again, with exponential backoff and
//! full jitter, until every record is written or the time budget is spent.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;
use tokio::time::{Instant, timeout_at};
use vigil_domain::ports::{PublishError, PublishReport, RecordPublisher, StreamRecord};

use crate::retry::{Backoff, error_code, is_retryable, resend_failed};

/// PutRecords limits: 500 entries and 5 MiB (data plus partition keys) per call.
pub const MAX_ENTRIES_PER_CALL: usize = 500;
pub const MAX_BYTES_PER_CALL: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct KinesisPublisher {
    client: aws_sdk_kinesis::Client,
    stream_name: String,
    backoff: Backoff,
}

impl KinesisPublisher {
    pub fn new(client: aws_sdk_kinesis::Client, stream_name: impl Into<String>) -> Self {
        Self { client, stream_name: stream_name.into(), backoff: Backoff::default() }
    }

    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// One PutRecords call for `batch` (indexes into `records`); returns the
    /// indexes that were not written.
    async fn put_batch(
        &self,
        records: &[StreamRecord],
        batch: &[usize],
        deadline: Instant,
    ) -> Result<Vec<usize>, PublishError> {
        let entries = batch
            .iter()
            .map(|&i| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(records[i].data.clone()))
                    .partition_key(&records[i].partition_key)
                    .build()
                    .map_err(|e| PublishError::Refused { stream: self.stream_name.clone(), source: e.into() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let call = self.client.put_records().stream_name(&self.stream_name).set_records(Some(entries)).send();
        let output = match timeout_at(deadline, call).await {
            // Out of time mid-call: the outcome is unknown, so count the batch unwritten.
            Err(_elapsed) => return Ok(batch.to_vec()),
            Ok(Ok(output)) => output,
            Ok(Err(err)) if is_retryable(&err) => {
                tracing::warn!(stream = %self.stream_name, error = %error_code(&err), entries = batch.len(), "PutRecords call failed, will retry");
                return Ok(batch.to_vec());
            }
            Ok(Err(err)) => {
                return Err(PublishError::Refused { stream: self.stream_name.clone(), source: err.into() });
            }
        };
        let results = output.records();
        if results.len() != batch.len() {
            // The API promises one result per entry; if not, trust none of them.
            tracing::warn!(stream = %self.stream_name, sent = batch.len(), results = results.len(), "PutRecords result count mismatch, resending batch");
            return Ok(batch.to_vec());
        }
        Ok(batch
            .iter()
            .zip(results)
            .filter(|(_, result)| result.error_code().is_some() || result.sequence_number().is_none())
            .map(|(&i, _)| i)
            .collect())
    }
}

impl RecordPublisher for KinesisPublisher {
    async fn publish(&self, records: Vec<StreamRecord>, budget: Duration) -> Result<PublishReport, PublishError> {
        let deadline = Instant::now() + budget;
        let total = records.len();
        let calls = AtomicU32::new(0);
        let records = &records;
        let resent = resend_failed(&self.stream_name, &self.backoff, deadline, (0..total).collect(), |pending| {
            let calls = &calls;
            async move {
                let mut failed = Vec::new();
                for batch in call_batches(records, &pending) {
                    calls.fetch_add(1, Ordering::Relaxed);
                    failed.extend(self.put_batch(records, &batch, deadline).await?);
                }
                Ok(failed)
            }
        })
        .await?;
        if !resent.unwritten.is_empty() {
            return Err(PublishError::Incomplete { unwritten: resent.unwritten.len(), total });
        }
        Ok(PublishReport { calls: calls.into_inner(), resent: resent.resent })
    }
}

/// Groups record indexes into PutRecords calls within the entry and byte limits,
/// keeping their order (a wearer's records stay in sequence).
pub fn call_batches(records: &[StreamRecord], indexes: &[usize]) -> Vec<Vec<usize>> {
    let mut batches = Vec::new();
    let mut batch = Vec::new();
    let mut bytes = 0usize;
    for &i in indexes {
        let size = records[i].data.len() + records[i].partition_key.len();
        if !batch.is_empty() && (batch.len() == MAX_ENTRIES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL) {
            batches.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        batch.push(i);
        bytes += size;
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(bytes: usize) -> StreamRecord {
        StreamRecord { partition_key: "w-1".into(), data: vec![b'x'; bytes] }
    }

    #[test]
    fn batches_respect_entry_and_byte_limits_in_order() {
        let records: Vec<_> = (0..1200).map(|_| rec(10)).collect();
        let idx: Vec<_> = (0..1200).collect();
        let batches = call_batches(&records, &idx);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![500, 500, 200]);
        assert_eq!(batches.concat(), idx);

        let big: Vec<_> = (0..7).map(|_| rec(1_000_000)).collect();
        let batches = call_batches(&big, &(0..7).collect::<Vec<_>>());
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 2]);
    }
}
