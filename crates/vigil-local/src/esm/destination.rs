//! The on-failure destination: where a mapping reports the record ranges it gave
//! up on, in the JSON shape Lambda sends to an SQS, SNS or S3 destination.

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The mapping's on-failure destination: receives the metadata of every record
/// range given up on. An error stops the mapping before it moves past the range,
/// because skipping records without a trace would lose them silently.
pub trait FailureDestination {
    fn send(&mut self, failure: &FailedBatch) -> std::io::Result<()>;
}

/// Collects failures in memory (tests).
impl FailureDestination for Vec<FailedBatch> {
    fn send(&mut self, failure: &FailedBatch) -> std::io::Result<()> {
        self.push(failure.clone());
        Ok(())
    }
}

/// Writes each failure as one JSON line (the local runner: a file or stdout).
#[derive(Debug)]
pub struct JsonLines<W>(pub W);

impl<W: Write> FailureDestination for JsonLines<W> {
    fn send(&mut self, failure: &FailedBatch) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.0, failure)?;
        self.0.write_all(b"\n")?;
        self.0.flush()
    }
}

/// What Lambda sends to an on-failure destination for a Kinesis mapping (same
/// JSON shape), plus `responseContext.reason`, a local addition saying why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedBatch {
    pub request_context: RequestContext,
    pub response_context: ResponseContext,
    pub version: String,
    pub timestamp: DateTime<Utc>,
    #[serde(rename = "KinesisBatchInfo")]
    pub kinesis_batch_info: KinesisBatchInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    /// Always "RetryAttemptsExhausted" (record age limits are not modelled).
    pub condition: String,
    /// Invocations that included the range's first record since the checkpoint reached it.
    pub approximate_invoke_count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseContext {
    /// "Unhandled" when the last attempt was a function error, as Lambda reports it.
    pub function_error: Option<String>,
    /// Why the last attempt failed: the function error's text, or the batch item failure.
    pub reason: String,
}

/// Read back by `vigil redrive`: Lambda's own records have exactly these fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisBatchInfo {
    pub shard_id: String,
    pub start_sequence_number: String,
    pub end_sequence_number: String,
    pub approximate_arrival_of_first_record: DateTime<Utc>,
    pub approximate_arrival_of_last_record: DateTime<Utc>,
    pub batch_size: usize,
    pub stream_arn: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_batch_serializes_in_lambdas_shape() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let failure = FailedBatch {
            request_context: RequestContext { condition: "RetryAttemptsExhausted".into(), approximate_invoke_count: 4 },
            response_context: ResponseContext { function_error: Some("Unhandled".into()), reason: "boom".into() },
            version: "1.0".into(),
            timestamp: at,
            kinesis_batch_info: KinesisBatchInfo {
                shard_id: "shardId-000000000000".into(),
                start_sequence_number: "1".into(),
                end_sequence_number: "3".into(),
                approximate_arrival_of_first_record: at,
                approximate_arrival_of_last_record: at,
                batch_size: 3,
                stream_arn: "arn:aws:kinesis:us-east-1:123456789012:stream/s".into(),
            },
        };
        let mut out = JsonLines(Vec::new());
        assert!(out.send(&failure).is_ok());
        let line = String::from_utf8(out.0).unwrap_or_default();
        assert!(line.ends_with('\n'));
        let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        assert_eq!(json["requestContext"]["condition"], "RetryAttemptsExhausted");
        assert_eq!(json["requestContext"]["approximateInvokeCount"], 4);
        assert_eq!(json["responseContext"]["functionError"], "Unhandled");
        assert_eq!(json["KinesisBatchInfo"]["shardId"], "shardId-000000000000");
        assert_eq!(json["KinesisBatchInfo"]["startSequenceNumber"], "1");
        assert_eq!(json["KinesisBatchInfo"]["batchSize"], 3);
    }
}
