//! raw-archiver: a Kinesis batch of envelopes in; out, the audit trail (every
//! record as received, gzip NDJSON on S3) and the de-identified data set (one
//! pseudonymized row per reading, Parquet on S3, registered for the warehouse
//! loader); `batchItemFailures` back to Lambda.

pub mod archive;
pub mod config;
pub mod handler;
pub mod raw;

pub use config::AwsArchiver;
pub use handler::Archiver;

/// raw-archiver as deployed, from its environment (see `function.json`) and one SDK
/// config, at cold start (the pseudonym key fetched here). Its `main` and `vigil run`
/// both build it here.
pub async fn build(
    src: &impl vigil_domain::config::Source,
    sdk: &aws_config::SdkConfig,
) -> Result<AwsArchiver, vigil_aws::secrets::SecretError> {
    Ok(config::Config::load(src, sdk).await?.archiver(sdk))
}
