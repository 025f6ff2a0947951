//! The data lake on S3: [`ObjectStore`] with PutObject.
//!
//! Objects are written whole (a raw archive or a curated Parquet file is at most
//! a few MB: a Lambda invocation carries at most 6 MB), so a single PutObject
//! replaces any earlier write of the same deterministic key atomically; readers
//! never see half a file. Encryption at rest is the bucket's default (set by the
//! CDK app), so it applies to every writer alike.

use aws_sdk_s3::primitives::ByteStream;
use vigil_domain::ports::{ObjectStore, StoreError};

use crate::dynamo::store_error;

#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3ObjectStore {
    /// `client` should come from [`crate::sdk::s3`] (path-style on emulators).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            // Takes the Vec without copying it.
            .body(ByteStream::from(body))
            .send()
            .await
            // Keys name a shard, sequence numbers and a date: no personal data.
            .map_err(|e| {
                let mut err = store_error("PutObject", &self.bucket, e);
                err.resource = format!("s3://{}/{key}", self.bucket);
                err
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use aws_sdk_s3::Client;
    use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    #[tokio::test]
    async fn a_put_sends_the_key_type_and_bytes() {
        let put = mock!(Client::put_object)
            .match_requests(|r| {
                r.bucket() == Some("data")
                    && r.key() == Some("raw/dt=2026-11-22/hh=09/s/1-2.ndjson.gz")
                    && r.content_type() == Some("application/gzip")
                    && r.body().bytes() == Some(b"\x1f\x8b".as_slice())
            })
            .then_output(|| PutObjectOutput::builder().build());
        let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put]);
        S3ObjectStore::new(client, "data")
            .put("raw/dt=2026-11-22/hh=09/s/1-2.ndjson.gz", b"\x1f\x8b".to_vec(), "application/gzip")
            .await
            .unwrap();
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_500_is_retryable_and_names_the_object_and_access_denied_is_not() {
        let five_hundred = mock!(Client::put_object)
            .then_http_response(|| HttpResponse::new(StatusCode::try_from(500).unwrap(), SdkBody::from("")));
        let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&five_hundred], |c| c
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()));
        let err = S3ObjectStore::new(client, "data").put("k/1.parquet", vec![1], "x").await.unwrap_err();
        assert!(err.retryable, "{err:?}");
        assert_eq!(err.resource, "s3://data/k/1.parquet");

        let denied = mock!(Client::put_object).then_error(|| {
            PutObjectError::generic(aws_sdk_s3::error::ErrorMetadata::builder().code("AccessDenied").build())
        });
        let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&denied], |c| c
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()));
        let err = S3ObjectStore::new(client, "data").put("k", vec![1], "x").await.unwrap_err();
        assert!(!err.retryable, "{err:?}");
    }
}
