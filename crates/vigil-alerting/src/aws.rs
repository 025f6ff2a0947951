//! The alert path wired to AWS: the tables and bucket it uses, read from the
//! environment, the adapters built from one SDK config, and where the curated alerts
//! go. Shared by alert-processor and offline-detector so both see the same resources.

use std::time::Duration;

use aws_config::SdkConfig;
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::archive::S3ObjectStore;
use vigil_aws::curated_files::DynamoCuratedFiles;
use vigil_aws::deliveries::{DEFAULT_LEASE, DynamoDeliveryLog};
use vigil_aws::quarantine::S3Quarantine;
use vigil_aws::secrets::SecretError;
use vigil_aws::sns::SnsNotifier;
use vigil_aws::state::DynamoStateStore;
use vigil_aws::voice::VoiceCaller;
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_domain::alerts::Message;
use vigil_domain::cache::CachedWearers;
use vigil_domain::care::Channel;
use vigil_domain::config::{self as env, ConfigError, Source};
use vigil_domain::link::{LinkKey, LinkMaker};
use vigil_domain::ports::{Notifier, NotifyError};
use vigil_domain::retention::{self, Retention};

use crate::curated::CuratedAlerts;
use crate::{AlertPorts, Alerting};

/// Wearer profiles from DynamoDB, cached per container.
pub type AwsWearers = CachedWearers<DynamoWearerDirectory>;

/// The alert path's ports on AWS: DynamoDB, SNS and voice calls ([`Messaging`], or `N`
/// wrapping it: the local runner records what is sent) and the curated alerts on S3
/// (when configured).
#[derive(Debug)]
pub struct Aws<N = Messaging>(std::marker::PhantomData<N>);

impl<N: vigil_domain::ports::Notifier + Sync> AlertPorts for Aws<N> {
    type Wearers = AwsWearers;
    type States = DynamoStateStore;
    type Alerts = DynamoAlertStore;
    type Deliveries = DynamoDeliveryLog;
    type Notifier = N;
    type Sink = Option<AwsCuratedAlerts>;
}

/// The alert path on AWS.
pub type AwsAlerting<N = Messaging> = Alerting<Aws<N>>;

impl<N: vigil_domain::ports::Notifier + Sync> AwsAlerting<N> {
    /// The same alert path with its notifier wrapped.
    pub fn map_notifier<M: vigil_domain::ports::Notifier + Sync>(self, wrap: impl FnOnce(N) -> M) -> AwsAlerting<M> {
        let Self { wearers, states, alerts, deliveries, notifier, sink, links } = self;
        Alerting { wearers, states, alerts, deliveries, notifier: wrap(notifier), sink, links }
    }
}

/// The alert path from the environment (see [`AlertPathConfig`] and [`curated_alerts`]),
/// at cold start; alert-processor and offline-detector both start from this.
pub async fn alerting(src: &impl Source, sdk: &SdkConfig) -> Result<(AlertPathConfig, AwsAlerting), SecretError> {
    let config = AlertPathConfig::from_source(src)?;
    // Both secrets at once: one round trip of cold start instead of two.
    let (sink, links) = tokio::join!(curated_alerts(src, sdk), link_maker(src, sdk));
    let (sink, links) = (sink?, links?);
    let alerting = config.alerting(sdk, sink, links);
    Ok((config, alerting))
}

/// SMS and push through SNS, calls through End User Messaging SMS and Voice.
#[derive(Debug, Clone)]
pub struct Messaging {
    pub sns: SnsNotifier,
    /// `None` when no origination identity is configured: calls are refused (and
    /// counted), SMS and push still go out.
    pub voice: Option<VoiceCaller>,
}

impl Notifier for Messaging {
    async fn send(&self, channel: Channel, address: &str, message: &Message) -> Result<String, NotifyError> {
        match (channel, &self.voice) {
            (Channel::Voice, Some(voice)) => voice.call(address, &message.voice, message.language).await,
            (Channel::Voice, None) => Err(NotifyError::Rejected("no VOICE_ORIGINATION_IDENTITY: calls are off".into())),
            (Channel::Sms | Channel::Push, _) => self.sns.send(channel, address, message).await,
        }
    }
}

/// The caller of escalation calls (offline-detector's; alert-processor never calls):
/// from `VOICE_ORIGINATION_IDENTITY` (the phone number, its ARN, or a pool, with voice
/// enabled) and `VOICE_CONFIGURATION_SET` (optional: where call events go). `None`
/// when the identity is unset: calls are then refused and counted, and the
/// function says so at cold start.
pub fn voice_caller(src: &impl Source, sdk: &SdkConfig) -> Option<VoiceCaller> {
    let configuration_set = src.get("VOICE_CONFIGURATION_SET").filter(|v| !v.is_empty());
    let Some(origination) = src.get("VOICE_ORIGINATION_IDENTITY").filter(|v| !v.is_empty()) else {
        tracing::warn!("VOICE_ORIGINATION_IDENTITY is not set: escalation calls are refused");
        return None;
    };
    Some(VoiceCaller::new(vigil_aws::sdk::voice(sdk), origination, configuration_set))
}

/// The key acknowledgement links are signed with: `LINK_KEY`, or else the secret
/// `LINK_KEY_SECRET_ARN` (fetched once: call this at cold start); its text's bytes,
/// at least 32 of them. Never logged.
pub async fn link_key(src: &impl Source, sdk: &SdkConfig) -> Result<LinkKey, SecretError> {
    let what = "the secret key of the acknowledgement links (or LINK_KEY_SECRET_ARN)";
    let text = vigil_aws::secrets::value_or_secret(src, "LINK_KEY", "LINK_KEY_SECRET_ARN", what, || {
        vigil_aws::sdk::secrets(sdk)
    })
    .await?;
    LinkKey::new(text.as_bytes()).map_err(|weak| {
        // The error names the length only, never the key.
        ConfigError::Invalid { name: "LINK_KEY", value: format!("<{weak}>"), expected: "at least 32 bytes" }.into()
    })
}

/// What signs the links SMS carry, or `None` when `LINK_BASE_URL` is unset (SMS then go
/// out without a link, and the function says so).
pub async fn link_maker(src: &impl Source, sdk: &SdkConfig) -> Result<Option<LinkMaker>, SecretError> {
    let Some(base_url) = src.get("LINK_BASE_URL") else {
        tracing::warn!("LINK_BASE_URL is not set: SMS carry no acknowledgement link");
        return Ok(None);
    };
    Ok(Some(LinkMaker::new(link_key(src, sdk).await?, &base_url)))
}

/// How long a container keeps a wearer profile by default.
pub const DEFAULT_WEARER_CACHE_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertPathConfig {
    /// `WEARERS_TABLE`: wearer profiles (name, time zone, thresholds, caregivers).
    pub wearers_table: String,
    /// `CAREGIVERS_TABLE`: caregiver records (contact details) the profiles link to.
    pub caregivers_table: String,
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
    /// `ALERTS_TTL_DAYS` (default 400): alerts expire this long after they were raised.
    pub alerts_retention: Retention,
    /// `DELIVERIES_TTL_DAYS` (default 400): deliveries and escalation steps expire this
    /// long after their last claim or send (a deferred one: after its due time).
    pub deliveries_retention: Retention,
    /// `STATE_TTL_DAYS` (default 90): rule state expires this long after the wearer's
    /// last reading.
    pub state_retention: Retention,
}

impl AlertPathConfig {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        Ok(Self {
            wearers_table: env::required(src, "WEARERS_TABLE", "the wearer profiles DynamoDB table")?,
            caregivers_table: env::required(src, "CAREGIVERS_TABLE", "the caregivers DynamoDB table")?,
            state_table: env::required(src, "STATE_TABLE", "the wearer rule state DynamoDB table")?,
            alerts_table: env::required(src, "ALERTS_TABLE", "the alerts DynamoDB table")?,
            deliveries_table: env::required(src, "DELIVERIES_TABLE", "the notification deliveries DynamoDB table")?,
            quarantine_bucket: env::required(src, "QUARANTINE_BUCKET", "the S3 bucket for poison records")?,
            delivery_lease: env::secs_or(src, "DELIVERY_LEASE_SECS", DEFAULT_LEASE)?,
            wearer_cache_ttl: env::secs_or(src, "WEARER_CACHE_TTL_SECS", DEFAULT_WEARER_CACHE_TTL)?,
            alerts_retention: days(src, "ALERTS_TTL_DAYS", retention::DEFAULT_ALERTS_DAYS)?,
            deliveries_retention: days(src, "DELIVERIES_TTL_DAYS", retention::DEFAULT_DELIVERIES_DAYS)?,
            state_retention: days(src, "STATE_TTL_DAYS", retention::DEFAULT_STATE_DAYS)?,
        })
    }

    /// The alert service on this config's resources, handing alerts to `sink` and
    /// signing SMS links with `links`.
    pub fn alerting(&self, sdk: &SdkConfig, sink: Option<AwsCuratedAlerts>, links: Option<LinkMaker>) -> AwsAlerting {
        let dynamodb = vigil_aws::sdk::dynamodb(sdk);
        Alerting {
            wearers: CachedWearers::new(
                DynamoWearerDirectory::new(dynamodb.clone(), &self.wearers_table, &self.caregivers_table),
                self.wearer_cache_ttl,
            ),
            states: DynamoStateStore::new(dynamodb.clone(), &self.state_table).with_retention(self.state_retention),
            alerts: DynamoAlertStore::new(dynamodb.clone(), &self.alerts_table).with_retention(self.alerts_retention),
            deliveries: DynamoDeliveryLog::new(dynamodb, &self.deliveries_table)
                .with_lease(self.delivery_lease)
                .with_retention(self.deliveries_retention),
            notifier: Messaging { sns: SnsNotifier::new(vigil_aws::sdk::sns(sdk)), voice: None },
            sink,
            links,
        }
    }

    pub fn quarantine(&self, sdk: &SdkConfig) -> S3Quarantine {
        S3Quarantine::new(vigil_aws::sdk::s3(sdk), &self.quarantine_bucket)
    }
}

/// A retention in whole days from `name`, at least 1.
fn days(src: &impl Source, name: &'static str, default: u32) -> Result<Retention, ConfigError> {
    env::positive_or(src, name, default, "a whole number of days, at least 1").map(Retention::days)
}

/// The curated alerts on S3 and DynamoDB.
pub type AwsCuratedAlerts = CuratedAlerts<S3ObjectStore, DynamoCuratedFiles>;

/// Where the curated alerts go, or `None` when `DATA_BUCKET` is unset (the function
/// then runs without them and says so). With `DATA_BUCKET`, `CURATED_FILES_TABLE` and
/// the pseudonym key are required: `PSEUDONYM_KEY`, or `PSEUDONYM_KEY_SECRET_ARN`
/// fetched from Secrets Manager (call this at cold start). It must be raw-archiver's
/// key, so a wearer has one pseudonym in both fact tables.
pub async fn curated_alerts(src: &impl Source, sdk: &SdkConfig) -> Result<Option<AwsCuratedAlerts>, SecretError> {
    let Some(bucket) = src.get("DATA_BUCKET") else {
        tracing::warn!("DATA_BUCKET is not set: alerts are not curated for the warehouse");
        return Ok(None);
    };
    let table = env::required(src, "CURATED_FILES_TABLE", "the DynamoDB table of curated files")?;
    let key = vigil_aws::secrets::pseudonym_key(src, || vigil_aws::sdk::secrets(sdk)).await?;
    let pseudonymizer = vigil_curated::Pseudonymizer::from_key_text(&key)?;
    Ok(Some(CuratedAlerts {
        objects: S3ObjectStore::new(vigil_aws::sdk::s3(sdk), bucket),
        registry: DynamoCuratedFiles::new(vigil_aws::sdk::dynamodb(sdk), table),
        pseudonymizer,
    }))
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
            ("CAREGIVERS_TABLE", "c"),
        ];
        let cfg = AlertPathConfig::from_source(&full).unwrap();
        assert_eq!(cfg.delivery_lease, DEFAULT_LEASE);
        assert_eq!(cfg.wearer_cache_ttl, DEFAULT_WEARER_CACHE_TTL);
        let off = [full[0], full[1], full[2], full[3], full[4], full[5], ("WEARER_CACHE_TTL_SECS", "0")];
        assert_eq!(AlertPathConfig::from_source(&off).unwrap().wearer_cache_ttl, Duration::ZERO);
        let bad = [full[0], full[1], full[2], full[3], full[4], full[5], ("WEARER_CACHE_TTL_SECS", "soon")];
        let err = AlertPathConfig::from_source(&bad).unwrap_err();
        assert!(err.to_string().contains("WEARER_CACHE_TTL_SECS"), "{err}");
        assert_eq!(cfg.alerts_retention, Retention::days(400));
        assert_eq!(cfg.deliveries_retention, Retention::days(400));
        assert_eq!(cfg.state_retention, Retention::days(90));
        let longer = [full[0], full[1], full[2], full[3], full[4], full[5], ("ALERTS_TTL_DAYS", "730")];
        assert_eq!(AlertPathConfig::from_source(&longer).unwrap().alerts_retention, Retention::days(730));
        for name in ["ALERTS_TTL_DAYS", "DELIVERIES_TTL_DAYS", "STATE_TTL_DAYS"] {
            for bad in ["0", "-1", "a year"] {
                let err =
                    AlertPathConfig::from_source(&[full[0], full[1], full[2], full[3], full[4], full[5], (name, bad)])
                        .unwrap_err();
                assert!(err.to_string().contains(name), "{err}");
            }
        }
        let without_alerts = [full[0], full[1], full[3], full[4], full[5]];
        let err = AlertPathConfig::from_source(&without_alerts).unwrap_err();
        assert!(err.to_string().contains("ALERTS_TABLE"), "{err}");
        let without_caregivers = [full[0], full[1], full[2], full[3], full[4]];
        let err = AlertPathConfig::from_source(&without_caregivers).unwrap_err();
        assert!(err.to_string().contains("CAREGIVERS_TABLE"), "{err}");
    }
}
