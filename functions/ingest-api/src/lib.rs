//! ingest-api: `POST /v1/uploads`. Validates a wristband upload, authorizes the
//! device for the calling app user, and puts the accepted readings on the
//! readings stream. See `docs/openapi.yaml` for the contract.

pub mod config;
pub mod handler;

pub use config::IngestConfig;
pub use handler::Ingest;

use aws_config::SdkConfig;
use vigil_aws::kinesis::KinesisPublisher;
use vigil_aws::registry::DynamoDeviceDirectory;
use vigil_aws::wearers::DynamoWearerLimits;
use vigil_domain::cache::CachedDirectory;
use vigil_domain::config::{ConfigError, Source};

/// ingest-api on AWS.
pub type AwsIngest = Ingest<KinesisPublisher, CachedDirectory<DynamoDeviceDirectory>, DynamoWearerLimits>;

/// ingest-api as deployed, from its environment (see `function.json`) and one SDK
/// config, at cold start. Its `main` and `vigil run` both build it here.
pub async fn build(src: &impl Source, sdk: &SdkConfig) -> Result<AwsIngest, ConfigError> {
    let config = IngestConfig::from_source(src)?;
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    Ok(Ingest {
        publisher: KinesisPublisher::new(vigil_aws::sdk::kinesis(sdk), &config.stream_name),
        directory: CachedDirectory::new(
            DynamoDeviceDirectory::new(dynamodb.clone(), &config.devices_table),
            config.registry_ttl,
            config.registry_negative_ttl,
        ),
        limits: DynamoWearerLimits::new(dynamodb, &config.wearers_table),
        upload: config.upload,
        publish_budget: config.publish_budget,
    })
}
