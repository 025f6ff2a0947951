//! Where the curated alerts go (alert-processor's and offline-detector's), read
//! once per container.
//!
//! `DATA_BUCKET` and `CURATED_FILES_TABLE` switch the curated alerts on; with
//! them, the pseudonym key is required: `PSEUDONYM_KEY`, or
//! `PSEUDONYM_KEY_SECRET_ARN` fetched from Secrets Manager at cold start (see
//! `vigil_aws::secrets`). It must be the same key as raw-archiver's, so a
//! wearer has one pseudonym in both fact tables. Without `DATA_BUCKET` the
//! function runs as before and logs that alerts are not curated.

use aws_config::SdkConfig;
use vigil_alerting::curated::CuratedAlerts;

use crate::archive::S3ObjectStore;
use crate::curated_files::DynamoCuratedFiles;
use crate::env::{self, Source};
use crate::secrets::SecretError;

/// The sink on S3 and DynamoDB.
pub type AwsCuratedAlerts = CuratedAlerts<S3ObjectStore, DynamoCuratedFiles>;

/// The sink for this environment, or `None` when `DATA_BUCKET` is unset.
pub async fn from_env(src: &impl Source, sdk: &SdkConfig) -> Result<Option<AwsCuratedAlerts>, SecretError> {
    let Some(bucket) = src.get("DATA_BUCKET") else {
        tracing::warn!("DATA_BUCKET is not set: alerts are not curated for the warehouse");
        return Ok(None);
    };
    let table = env::required(src, "CURATED_FILES_TABLE", "the DynamoDB table of curated files")?;
    let pseudonymizer = crate::secrets::pseudonymizer(src, || aws_sdk_secretsmanager::Client::new(sdk)).await?;
    Ok(Some(CuratedAlerts {
        objects: S3ObjectStore::new(crate::sdk::s3(sdk), bucket),
        registry: DynamoCuratedFiles::new(crate::sdk::dynamodb(sdk), table),
        pseudonymizer,
    }))
}
