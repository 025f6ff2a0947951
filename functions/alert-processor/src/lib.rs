//! alert-processor: the hot path. A Kinesis batch of envelopes in, alerts and
//! caregiver notifications out, `batchItemFailures` back to Lambda.

pub mod handler;

pub use handler::Processor;

use aws_config::SdkConfig;
use vigil_alerting::aws::Aws;
use vigil_aws::quarantine::S3Quarantine;
use vigil_aws::secrets::SecretError;
use vigil_domain::config::Source;

/// alert-processor on AWS (`N`: the notifier, SNS unless the local runner wraps it).
pub type AwsProcessor<N = vigil_alerting::aws::Messaging> = Processor<Aws<N>, S3Quarantine>;

/// alert-processor as deployed, from its environment (see `function.json`) and one SDK
/// config, at cold start: the alert path, the curated alerts for the warehouse (when
/// `DATA_BUCKET` is set) and the quarantine. Its `main` and `vigil run` both build it here.
pub async fn build(src: &impl Source, sdk: &SdkConfig) -> Result<AwsProcessor, SecretError> {
    let (config, alerting) = vigil_alerting::aws::alerting(src, sdk).await?;
    Ok(Processor { alerting, quarantine: config.quarantine(sdk) })
}
