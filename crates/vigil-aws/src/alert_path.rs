//! The alert path wired to AWS: the tables and bucket it uses, read from the
//! environment, and the adapters built from one SDK config. Shared by
//! alert-processor and offline-detector so both see the same resources.

use std::time::Duration;

use aws_config::SdkConfig;
use vigil_alerting::Alerting;

use crate::alerts::DynamoAlertStore;
use crate::deliveries::{DEFAULT_LEASE, DynamoDeliveryLog};
use crate::env::{self, ConfigError, Source};
use crate::quarantine::S3Quarantine;
use crate::sns::SnsNotifier;
use crate::state::DynamoStateStore;
use crate::wearers::DynamoWearerDirectory;

/// The alert path on DynamoDB and SNS.
pub type AwsAlerting =
    Alerting<DynamoWearerDirectory, DynamoStateStore, DynamoAlertStore, DynamoDeliveryLog, SnsNotifier>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertPathConfig {
    /// `WEARERS_TABLE`: wearer profiles (name, time zone, thresholds, caregivers).
    pub wearers_table: String,
    /// `STATE_TABLE`: per-wearer rule state.
    pub state_table: String,
    /// `ALERTS_TABLE`: alerts, keyed by their deterministic id.
    pub alerts_table: String,
    /// `DELIVERIES_TABLE`: one "sent" record per alert, caregiver and channel.
    pub deliveries_table: String,
    /// `QUARANTINE_BUCKET`: poison stream records.
    pub quarantine_bucket: String,
    /// `DELIVERY_LEASE_SECS` (default 60): after this, a claim whose send never
    /// confirmed (its sender died) may be taken again.
    pub delivery_lease: Duration,
}

impl AlertPathConfig {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        Ok(Self {
            wearers_table: env::required(src, "WEARERS_TABLE", "the wearer profiles DynamoDB table")?,
            state_table: env::required(src, "STATE_TABLE", "the wearer rule state DynamoDB table")?,
            alerts_table: env::required(src, "ALERTS_TABLE", "the alerts DynamoDB table")?,
            deliveries_table: env::required(src, "DELIVERIES_TABLE", "the notification deliveries DynamoDB table")?,
            quarantine_bucket: env::required(src, "QUARANTINE_BUCKET", "the S3 bucket for poison records")?,
            delivery_lease: env::secs_or(src, "DELIVERY_LEASE_SECS", DEFAULT_LEASE)?,
        })
    }

    /// The alert service on this config's resources.
    pub fn alerting(&self, sdk: &SdkConfig) -> AwsAlerting {
        let dynamodb = crate::sdk::dynamodb(sdk);
        Alerting {
            wearers: DynamoWearerDirectory::new(dynamodb.clone(), &self.wearers_table),
            states: DynamoStateStore::new(dynamodb.clone(), &self.state_table),
            alerts: DynamoAlertStore::new(dynamodb.clone(), &self.alerts_table),
            deliveries: DynamoDeliveryLog::new(dynamodb, &self.deliveries_table).with_lease(self.delivery_lease),
            notifier: SnsNotifier::new(crate::sdk::sns(sdk)),
        }
    }

    pub fn quarantine(&self, sdk: &SdkConfig) -> S3Quarantine {
        S3Quarantine::new(crate::sdk::s3(sdk), &self.quarantine_bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_required_by_name() {
        let full = [
            ("WEARERS_TABLE", "w"),
            ("STATE_TABLE", "s"),
            ("ALERTS_TABLE", "a"),
            ("DELIVERIES_TABLE", "d"),
            ("QUARANTINE_BUCKET", "q"),
        ];
        let cfg = AlertPathConfig::from_source(&full).unwrap();
        assert_eq!(cfg.delivery_lease, DEFAULT_LEASE);
        let without_alerts = [full[0], full[1], full[3], full[4]];
        let err = AlertPathConfig::from_source(&without_alerts).unwrap_err();
        assert!(err.to_string().contains("ALERTS_TABLE"), "{err}");
    }
}
