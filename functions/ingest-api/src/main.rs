use lambda_http::{run, service_fn, tracing};
use vigil_aws::kinesis::KinesisPublisher;
use vigil_aws::registry::DynamoDeviceDirectory;
use vigil_domain::registry::CachedDirectory;

use ingest_api::{Ingest, IngestConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing::init_default_subscriber();
    let config = IngestConfig::from_env()?;
    let sdk = vigil_aws::sdk::load().await;
    let ingest = Ingest {
        publisher: KinesisPublisher::new(vigil_aws::sdk::kinesis(&sdk), &config.stream_name),
        directory: CachedDirectory::new(
            DynamoDeviceDirectory::new(vigil_aws::sdk::dynamodb(&sdk), &config.devices_table),
            config.registry_ttl,
            config.registry_negative_ttl,
        ),
        publish_budget: config.publish_budget,
    };
    let ingest = &ingest;
    run(service_fn(move |request| async move { Ok::<_, std::convert::Infallible>(ingest.handle(request).await) })).await
}
