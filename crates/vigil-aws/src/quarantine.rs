//! Poison records on S3: [`Quarantine`] with PutObject.
//!
//! Key `quarantine/<function>/<shard_id>/<sequence_number>.json`: deterministic,
//! so a retried quarantine overwrites its own object instead of adding one. The
//! object is JSON `{function, shard_id, sequence_number, reason, data_base64,
//! quarantined_at}`; the data is the record exactly as it came off the stream
//! (it may hold personal data: the bucket is encrypted and private).

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde_json::json;
use vigil_domain::ports::{PoisonRecord, Quarantine, StoreError};

use crate::dynamo::{store_error, timestamp};

#[derive(Debug, Clone)]
pub struct S3Quarantine {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Quarantine {
    /// `client` should come from [`crate::sdk::s3`] (path-style on emulators).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// Creates the bucket unless it exists already (for provisioning and tests;
    /// the deployed bucket comes from the CDK app).
    pub async fn create_bucket(&self) -> Result<(), StoreError> {
        let mut request = self.client.create_bucket().bucket(&self.bucket);
        // us-east-1 is the one region that rejects a location constraint naming itself.
        if let Some(region) = self.client.config().region().map(|r| r.as_ref()).filter(|r| *r != "us-east-1") {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            // Ours already; or, for a fixed name on a shared endpoint, someone else's:
            // then the first write says so.
            Err(e) if matches!(e.code(), Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")) => Ok(()),
            Err(e) => Err(store_error("CreateBucket", &self.bucket, e)),
        }
    }
}

/// Where a poison record is kept.
pub fn quarantine_key(record: &PoisonRecord<'_>) -> String {
    format!("quarantine/{}/{}/{}.json", record.function, record.shard_id, record.sequence_number)
}

impl Quarantine for S3Quarantine {
    async fn quarantine(&self, record: &PoisonRecord<'_>) -> Result<(), StoreError> {
        let body = json!({
            "function": record.function,
            "shard_id": record.shard_id,
            "sequence_number": record.sequence_number,
            "reason": record.reason,
            "data_base64": STANDARD.encode(record.data),
            "quarantined_at": timestamp(Utc::now()),
        });
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(quarantine_key(record))
            .content_type("application/json")
            .body(ByteStream::from(body.to_string().into_bytes()))
            .send()
            .await
            .map_err(|e| store_error("PutObject", &self.bucket, e))?;
        Ok(())
    }
}
