//! The curated-file registry on DynamoDB: [`CuratedFileRegistry`] with a
//! conditional PutItem.
//!
//! Item layout (table keyed by `file_key` S, the object key in the data bucket):
//! `status` S (`pending` when registered; the warehouse loader moves it on),
//! `event_date` S (`YYYY-MM-DD`), `rows` N, `bytes` N (the object's size, which
//! a COPY manifest of Parquet files must give), `min_ts` S, `max_ts` S and
//! `created_at` S (fixed-width RFC 3339 UTC, see [`crate::dynamo`]), `kind` S
//! (`readings` | `alerts`; items written before it existed have none, which
//! means readings). No personal data. The loader finds pending files through
//! the `status-created_at-index` ([`crate::warehouse`]).

use aws_sdk_dynamodb::types::AttributeValue;
use vigil_domain::ports::FileKind;
use vigil_domain::ports::{CuratedFile, CuratedFileRegistry, STATUS_PENDING, StoreError};

use crate::dynamo::{is_conditional_check_failed, store_error, timestamp};

#[derive(Debug, Clone)]
pub struct DynamoCuratedFiles {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoCuratedFiles {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl CuratedFileRegistry for DynamoCuratedFiles {
    async fn register(&self, file: &CuratedFile) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("file_key", AttributeValue::S(file.key.clone()))
            .item("status", AttributeValue::S(STATUS_PENDING.to_owned()))
            .item("event_date", AttributeValue::S(file.event_date.format("%Y-%m-%d").to_string()))
            .item("rows", AttributeValue::N(file.rows.to_string()))
            .item("bytes", AttributeValue::N(file.bytes.to_string()))
            .item("min_ts", AttributeValue::S(timestamp(file.min_ts)))
            .item("max_ts", AttributeValue::S(timestamp(file.max_ts)))
            .item("created_at", AttributeValue::S(timestamp(file.created_at)))
            // `readings` or `alerts`: which warehouse table the file feeds.
            .item("kind", AttributeValue::S(FileKind::of_key(&file.key).as_str().to_owned()))
            // A redelivered batch must never reset a file the loader has taken.
            .condition_expression("attribute_not_exists(file_key)");
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_check_failed(&e) => Ok(false),
            Err(e) => Err(store_error("PutItem", &self.table, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
    use aws_sdk_dynamodb::types::error::{ConditionalCheckFailedException, ProvisionedThroughputExceededException};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use chrono::{NaiveDate, TimeZone, Utc};

    fn file() -> CuratedFile {
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        CuratedFile {
            key: "curated/readings/dt=2026-11-22/shardId-000000000001-1-9.parquet".into(),
            event_date: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            rows: 12,
            bytes: 4321,
            min_ts: t,
            max_ts: t + chrono::Duration::seconds(55),
            created_at: t + chrono::Duration::seconds(70),
        }
    }

    #[tokio::test]
    async fn a_new_file_is_put_pending_with_its_stats_under_a_condition() {
        let put = mock!(Client::put_item)
            .match_requests(|r| {
                let item = r.item().unwrap();
                let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str);
                let n = |k: &str| item.get(k).and_then(|v| v.as_n().ok()).map(String::as_str);
                r.table_name() == Some("curated")
                    && r.condition_expression() == Some("attribute_not_exists(file_key)")
                    && s("file_key") == Some("curated/readings/dt=2026-11-22/shardId-000000000001-1-9.parquet")
                    && s("status") == Some("pending")
                    && s("event_date") == Some("2026-11-22")
                    && n("rows") == Some("12")
                    && n("bytes") == Some("4321")
                    && s("min_ts") == Some("2026-11-22T09:00:00.000Z")
                    && s("max_ts") == Some("2026-11-22T09:00:55.000Z")
                    && s("created_at") == Some("2026-11-22T09:01:10.000Z")
                    && s("kind") == Some("readings")
            })
            .then_output(|| PutItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&put]);
        assert!(DynamoCuratedFiles::new(client, "curated").register(&file()).await.unwrap());
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_existing_file_is_left_alone_and_throttling_is_retryable() {
        let exists = mock!(Client::put_item).then_error(|| {
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .meta(
                        aws_sdk_dynamodb::error::ErrorMetadata::builder()
                            .code("ConditionalCheckFailedException")
                            .build(),
                    )
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&exists]);
        assert!(!DynamoCuratedFiles::new(client, "curated").register(&file()).await.unwrap());

        let throttled = mock!(Client::put_item).then_error(|| {
            PutItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder()
                    .meta(
                        aws_sdk_dynamodb::error::ErrorMetadata::builder()
                            .code("ProvisionedThroughputExceededException")
                            .build(),
                    )
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&throttled], |c| c
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()));
        let err = DynamoCuratedFiles::new(client, "curated").register(&file()).await.unwrap_err();
        assert!(err.retryable, "{err:?}");
        assert_eq!((err.operation, err.resource.as_str()), ("PutItem", "curated"));
    }
}
