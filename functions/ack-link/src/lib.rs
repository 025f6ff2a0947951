//! ack-link: the page behind the acknowledgement link every alert SMS carries
//! (`<LINK_BASE_URL>/a/<token>`, see `vigil_domain::link`). Opening it shows the
//! alert; its one button ("I'm on my way") acknowledges it as the caregiver the
//! signed token names, through the channel `link`. No sign-in: the token is the
//! credential. See docs/care-api.md, "Acknowledge from the link".

pub mod config;
pub mod handler;
pub mod page;

pub use config::AckLinkConfig;
pub use handler::AckLink;

use aws_config::SdkConfig;
use vigil_alerting::aws::AwsCuratedAlerts;
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::secrets::SecretError;
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_domain::config::Source;

/// ack-link on AWS: the lifecycle goes to the curated alerts when `DATA_BUCKET` is set.
pub type AwsAckLink = AckLink<DynamoAlertStore, DynamoWearerDirectory, Option<AwsCuratedAlerts>>;

/// ack-link as deployed, from its environment (see `function.json`) and one SDK
/// config, at cold start (the link key's secret is fetched here, once). Its
/// `main` and `vigil run` both build it here.
pub async fn build(src: &impl Source, sdk: &SdkConfig) -> Result<AwsAckLink, SecretError> {
    let config = AckLinkConfig::from_source(src)?;
    // Both secrets at once: a cold start waits for one round trip, not two.
    let (key, lifecycle) =
        tokio::join!(vigil_alerting::aws::link_key(src, sdk), vigil_alerting::aws::curated_alerts(src, sdk));
    let (key, lifecycle) = (key?, lifecycle?);
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    Ok(AckLink {
        alerts: DynamoAlertStore::new(dynamodb.clone(), &config.alerts_table),
        wearers: DynamoWearerDirectory::new(dynamodb, &config.wearers_table, &config.caregivers_table),
        lifecycle,
        key,
        budget: config.budget,
    })
}
