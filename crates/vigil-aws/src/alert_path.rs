//! The alert path wired to AWS: the tables and bucket it uses, read from the
//! environment, and the adapters built from one SDK config. Shared by
//! alert-processor and offline-detector so both see the same resources.

use std::time::Duration;

use aws_config::SdkConfig;
use vigil_alerting::Alerting;
use vigil_domain::cache::CachedWearers;

use crate::alerts::DynamoAlertStore;
use crate::deliveries::{DEFAULT_LEASE, DynamoDeliveryLog};
use crate::env::{self, ConfigError, Source};
use crate::quarantine::S3Quarantine;
use crate::sns::SnsNotifier;
use crate::state::DynamoStateStore;
use crate::wearers::DynamoWearerDirectory;

/// Wearer profiles from DynamoDB, cached per container.
pub type AwsWearers = CachedWearers<DynamoWearerDirectory>;

/// The alert path on DynamoDB and SNS.
pub type AwsAlerting = Alerting<AwsWearers, DynamoStateStore, DynamoAlertStore, DynamoDeliveryLog, SnsNotifier>;

/// How long a container keeps a wearer profile by default.
pub const DEFAULT_WEARER_CACHE_TTL: Duration = Duration::from_secs(60);

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
    /// `WEARER_CACHE_TTL_SECS` (default 60, 0 turns the cache off): how long a
    /// container keeps a wearer profile, saving a read per wearer and batch. A
    /// changed profile (a new caregiver, a new number, thresholds) is used at
    /// most this much later; a wearer with no profile yet is never cached.
    pub wearer_cache_ttl: Duration,
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
            wearer_cache_ttl: env::secs_or(src, "WEARER_CACHE_TTL_SECS", DEFAULT_WEARER_CACHE_TTL)?,
        })
    }

    /// The alert service on this config's resources.
    pub fn alerting(&self, sdk: &SdkConfig) -> AwsAlerting {
        let dynamodb = crate::sdk::dynamodb(sdk);
        Alerting {
            wearers: CachedWearers::new(
                DynamoWearerDirectory::new(dynamodb.clone(), &self.wearers_table),
                self.wearer_cache_ttl,
            ),
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
        assert_eq!(cfg.wearer_cache_ttl, DEFAULT_WEARER_CACHE_TTL);
        let off = [full[0], full[1], full[2], full[3], full[4], ("WEARER_CACHE_TTL_SECS", "0")];
        assert_eq!(AlertPathConfig::from_source(&off).unwrap().wearer_cache_ttl, Duration::ZERO);
        let bad = [full[0], full[1], full[2], full[3], full[4], ("WEARER_CACHE_TTL_SECS", "soon")];
        let err = AlertPathConfig::from_source(&bad).unwrap_err();
        assert!(err.to_string().contains("WEARER_CACHE_TTL_SECS"), "{err}");
        let without_alerts = [full[0], full[1], full[3], full[4]];
        let err = AlertPathConfig::from_source(&without_alerts).unwrap_err();
        assert!(err.to_string().contains("ALERTS_TABLE"), "{err}");
    }
}
