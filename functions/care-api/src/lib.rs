//! care-api: the caregivers' side of Vigil. Their wearers' status, alerts with
//! acknowledge / resolve, snoozes, vitals series and metrics over a window, the
//! wearers' days and the caregiver's daily message, every route authorized by the caregiver's link in the wearer's profile. See
//! `docs/care-api.yaml` for the contract.

pub mod config;
pub mod handler;
pub mod view;

pub use config::CareConfig;
pub use handler::Care;

use aws_config::SdkConfig;
use vigil_alerting::aws::AwsCuratedAlerts;
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::care::DynamoCareStore;
use vigil_aws::days::{DEFAULT_TTL_DAYS, DynamoDays};
use vigil_aws::secrets::SecretError;
use vigil_aws::vitals::DynamoVitalsStore;
use vigil_aws::wearers::{DynamoCaregiverLinks, DynamoWearerDirectory};
use vigil_domain::config::Source;

/// care-api on AWS: the lifecycle goes to the curated alerts when `DATA_BUCKET` is set.
pub type AwsCare = Care<DynamoCareStore, Option<AwsCuratedAlerts>>;

/// care-api as deployed, from its environment (see `function.json`) and one SDK
/// config, at cold start. Its `main` and `vigil run` both build it here.
pub async fn build(src: &impl Source, sdk: &SdkConfig) -> Result<AwsCare, SecretError> {
    let config = CareConfig::from_source(src)?;
    let lifecycle = vigil_alerting::aws::curated_alerts(src, sdk).await?;
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    Ok(Care {
        store: DynamoCareStore {
            wearers: DynamoWearerDirectory::new(dynamodb.clone(), &config.wearers_table, &config.caregivers_table),
            links: DynamoCaregiverLinks::new(dynamodb.clone(), &config.links_table),
            alerts: DynamoAlertStore::new(dynamodb.clone(), &config.alerts_table),
            vitals: DynamoVitalsStore::new(dynamodb.clone(), &config.vitals_table),
            // Read only here: the retention is the daily function's to apply.
            days: DynamoDays::new(dynamodb, &config.days_table, DEFAULT_TTL_DAYS),
        },
        lifecycle,
        budget: config.budget,
    })
}
