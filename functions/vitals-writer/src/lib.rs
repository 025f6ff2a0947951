//! vitals-writer: the sensitive store. A Kinesis batch of envelopes in, one
//! DynamoDB item per wearer, half-hour span and envelope out (with a TTL),
//! `batchItemFailures` back to Lambda.

pub mod config;
pub mod handler;

pub use config::{AwsWriter, VitalsConfig};
pub use handler::Writer;

/// vitals-writer as deployed, from its environment (see `function.json`) and one SDK
/// config, at cold start. Its `main` and `vigil run` both build it here.
pub async fn build(
    src: &impl vigil_domain::config::Source,
    sdk: &aws_config::SdkConfig,
) -> Result<AwsWriter, vigil_domain::config::ConfigError> {
    Ok(VitalsConfig::from_source(src)?.writer(sdk))
}
