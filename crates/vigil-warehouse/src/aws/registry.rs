//! The warehouse loader's side of the curated-files table and the data lake:
//! [`FileQueue`] on DynamoDB and [`ObjectSource`] on S3.
//!
//! # Finding pending files: the `status` index
//!
//! The curated-files table (keyed `file_key`, see `vigil_aws::curated_files`) has
//! a global secondary index [`PENDING_INDEX`] = `status-created_at-index`:
//! partition key `status` (S), sort key `created_at` (S, fixed-width RFC 3339,
//! so string order is time order), projection INCLUDE of `event_date`, `rows`,
//! `bytes` and `kind` — everything a load needs, nothing more. A run reads the
//! pending files with one Query (`status = pending`, oldest first, `Limit` =
//! the run's bound, paged only if DynamoDB stops early), never a Scan: the cost
//! is the files returned, however many are loaded already. `vigil provision`
//! creates the index (`vigil_local::provision`); the CDK app must declare the
//! same index on the table (`addGlobalSecondaryIndex`, name, keys and
//! projection as above).
//!
//! The index is eventually consistent: a file marked loaded a moment ago can
//! still be listed as pending. Loading it again is harmless (MERGE), and the
//! conditional mark then reports it as taken by another run.
//!
//! # Marking loaded
//!
//! `SET status = loaded, loaded_at = <now>, expires_at = <now + retention>` on
//! the condition `status = pending`, only after the warehouse reported the load
//! committed; of two overlapping runs that loaded the same file, exactly one
//! marks it. `expires_at` (epoch seconds) is the table's DynamoDB TTL attribute:
//! a loaded file's item leaves the table and its index after
//! [`DEFAULT_LOADED_TTL_DAYS`] (`LOADED_FILES_TTL_DAYS`), so the registry holds
//! the backlog and a month of history, not every file ever written. Pending
//! items have no `expires_at` and are never expired.

use std::collections::HashMap;

use crate::{FileKind, FileQueue, ObjectSource, PendingFile};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use vigil_domain::ports::{STATUS_PENDING, StoreError};

use vigil_aws::dynamo::{is_conditional_check_failed, malformed, parse_timestamp, store_error, timestamp};

/// The index of the curated-files table by `status` and `created_at`.
pub const PENDING_INDEX: &str = "status-created_at-index";

/// Status of a curated file once the warehouse has committed its rows.
pub const STATUS_LOADED: &str = "loaded";

/// The attributes the index projects besides its keys and the table's key.
pub const PENDING_INDEX_ATTRIBUTES: [&str; 4] = ["event_date", "rows", "bytes", "kind"];

/// Days a loaded file's registry item is kept (`LOADED_FILES_TTL_DAYS`).
pub const DEFAULT_LOADED_TTL_DAYS: u32 = 30;

/// The table's DynamoDB TTL attribute (epoch seconds), set when a file is loaded.
pub const EXPIRES_AT: &str = "expires_at";

/// The curated-files table as the loader's queue.
#[derive(Debug, Clone)]
pub struct DynamoFileQueue {
    client: aws_sdk_dynamodb::Client,
    table: String,
    keep_loaded: TimeDelta,
}

impl DynamoFileQueue {
    /// Loaded items expire [`DEFAULT_LOADED_TTL_DAYS`] after their load.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), keep_loaded: TimeDelta::days(i64::from(DEFAULT_LOADED_TTL_DAYS)) }
    }

    /// Loaded items expire `days` after their load.
    #[must_use]
    pub fn keep_loaded_for_days(mut self, days: u32) -> Self {
        self.keep_loaded = TimeDelta::days(i64::from(days));
        self
    }
}

fn pending_file(table: &str, item: &HashMap<String, AttributeValue>) -> Result<PendingFile, StoreError> {
    let s = |name: &'static str| item.get(name).and_then(|v| v.as_s().ok()).ok_or(name);
    let n = |name: &'static str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).ok_or(name);
    let parse = || -> Result<PendingFile, &'static str> {
        let kind = match item.get("kind") {
            None => FileKind::Readings,
            Some(v) => FileKind::from_attribute(Some(v.as_s().map_err(|_| "kind")?)).ok_or("kind")?,
        };
        Ok(PendingFile {
            key: s("file_key")?.clone(),
            kind,
            event_date: NaiveDate::parse_from_str(s("event_date")?, "%Y-%m-%d").map_err(|_| "event_date")?,
            rows: n("rows")?,
            bytes: n("bytes")?,
            created_at: parse_timestamp(s("created_at")?).ok_or("created_at")?,
        })
    };
    parse().map_err(|attribute| malformed("Query", table, attribute))
}

impl FileQueue for DynamoFileQueue {
    async fn pending(&self, limit: usize) -> Result<Vec<PendingFile>, StoreError> {
        let mut files = Vec::with_capacity(limit.min(1_000));
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        // Pages by hand, not with the SDK's paginator: each page asks only for the files
        // still wanted (a paginator repeats the first page's Limit and reads past it).
        while files.len() < limit {
            let page = i32::try_from(limit - files.len()).unwrap_or(i32::MAX);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(PENDING_INDEX)
                .key_condition_expression("#status = :pending")
                // `status` is a DynamoDB reserved word.
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":pending", AttributeValue::S(STATUS_PENDING.to_owned()))
                .scan_index_forward(true)
                .limit(page)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error("Query", &self.table, e))?;
            for item in out.items() {
                match pending_file(&self.table, item) {
                    Ok(file) => files.push(file),
                    // One bad item must not block every later file: it is left
                    // pending for an operator, who is told here (keys hold no
                    // personal data).
                    Err(e) => tracing::error!(
                        table = %self.table,
                        file_key = item.get("file_key").and_then(|v| v.as_s().ok()).map_or("?", String::as_str),
                        error = %e.source,
                        "a registered curated file is malformed and will not be loaded"
                    ),
                }
            }
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        files.truncate(limit);
        Ok(files)
    }

    async fn mark_loaded(&self, key: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("file_key", AttributeValue::S(key.to_owned()))
            .update_expression("SET #status = :loaded, loaded_at = :at, #expires = :expires")
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":loaded", AttributeValue::S(STATUS_LOADED.to_owned()))
            .expression_attribute_values(":pending", AttributeValue::S(STATUS_PENDING.to_owned()))
            .expression_attribute_values(":at", AttributeValue::S(timestamp(at)))
            .expression_attribute_values(
                ":expires",
                AttributeValue::N((at + self.keep_loaded).timestamp().to_string()),
            );
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_check_failed(&e) => Ok(false),
            Err(e) => Err(store_error("UpdateItem", &self.table, e)),
        }
    }
}

/// Objects of the data bucket, read whole (a curated file is at most a few MB).
#[derive(Debug, Clone)]
pub struct S3ObjectSource {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3ObjectSource {
    /// `client` should come from `vigil_aws::sdk::s3` (path-style on emulators).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }
}

impl ObjectSource for S3ObjectSource {
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let resource = || format!("s3://{}/{key}", self.bucket);
        let out = self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| {
            let mut err = store_error("GetObject", &self.bucket, e);
            err.resource = resource();
            err
        })?;
        let body = out.body.collect().await.map_err(|e| StoreError {
            operation: "GetObject",
            resource: resource(),
            retryable: true,
            source: e.into(),
        })?;
        Ok(body.into_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn item(key: &str, kind: Option<&str>) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            ("file_key".to_owned(), AttributeValue::S(key.into())),
            ("status".to_owned(), AttributeValue::S("pending".into())),
            ("event_date".to_owned(), AttributeValue::S("2026-11-21".into())),
            ("rows".to_owned(), AttributeValue::N("12".into())),
            ("bytes".to_owned(), AttributeValue::N("4321".into())),
            ("created_at".to_owned(), AttributeValue::S("2026-11-22T09:01:10.000Z".into())),
        ]);
        if let Some(kind) = kind {
            item.insert("kind".into(), AttributeValue::S(kind.into()));
        }
        item
    }

    #[tokio::test]
    async fn pending_files_come_from_one_bounded_query_of_the_status_index_and_bad_items_are_left() {
        let first = mock!(Client::query)
            .match_requests(|r| {
                r.index_name() == Some(PENDING_INDEX)
                    && r.key_condition_expression() == Some("#status = :pending")
                    && r.limit() == Some(3)
                    && r.scan_index_forward() == Some(true)
                    && r.exclusive_start_key().is_none()
            })
            .then_output(|| {
                let mut bad = item("k/bad", None);
                bad.remove("bytes");
                QueryOutput::builder()
                    .items(item("k/1", None))
                    .items(bad)
                    .last_evaluated_key("file_key", AttributeValue::S("k/bad".into()))
                    .build()
            });
        let second = mock!(Client::query)
            .match_requests(|r| r.limit() == Some(2) && r.exclusive_start_key().is_some())
            .then_output(|| QueryOutput::builder().items(item("k/2", Some("alerts"))).items(item("k/3", None)).build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&first, &second]);
        let files = DynamoFileQueue::new(client, "curated").pending(3).await.unwrap();
        let keys: Vec<(&str, FileKind)> = files.iter().map(|f| (f.key.as_str(), f.kind)).collect();
        assert_eq!(keys, vec![("k/1", FileKind::Readings), ("k/2", FileKind::Alerts), ("k/3", FileKind::Readings)]);
        assert_eq!((files[0].rows, files[0].bytes), (12, 4321));
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn marking_is_conditional_on_pending_and_a_lost_race_is_an_answer() {
        let mark = mock!(Client::update_item)
            .match_requests(|r| {
                r.condition_expression() == Some("#status = :pending")
                    && r.update_expression() == Some("SET #status = :loaded, loaded_at = :at, #expires = :expires")
                    && r.expression_attribute_names().unwrap()["#expires"] == "expires_at"
                    && r.expression_attribute_values().unwrap()[":at"].as_s().unwrap() == "2026-11-22T10:00:00.000Z"
                    // Seven days later, in epoch seconds (DynamoDB TTL's format).
                    && r.expression_attribute_values().unwrap()[":expires"].as_n().unwrap() == "1795946400"
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let taken = mock!(Client::update_item).then_error(|| {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .meta(
                        aws_sdk_dynamodb::error::ErrorMetadata::builder()
                            .code("ConditionalCheckFailedException")
                            .build(),
                    )
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&mark, &taken]);
        let queue = DynamoFileQueue::new(client, "curated").keep_loaded_for_days(7);
        let at = "2026-11-22T10:00:00Z".parse().unwrap();
        assert!(queue.mark_loaded("k/1", at).await.unwrap());
        assert!(!queue.mark_loaded("k/1", at).await.unwrap());
    }
}
