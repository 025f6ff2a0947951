use std::time::Duration;

use vigil_domain::config::{self as env, ConfigError, Source};
use vigil_domain::upload::policy::{Intervals, ROUTINE_EVERY_S, URGENT_EVERY_S};

const SECONDS: &str = "seconds as an integer, at least 1";

/// Everything ingest-api reads from its environment, once, at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// `STREAM_NAME`: the readings stream.
    pub stream_name: String,
    /// `DEVICES_TABLE`: the device registry table.
    pub devices_table: String,
    /// `PUBLISH_BUDGET_MS` (default 8000): longest time spent getting records on
    /// the stream before answering 503; also capped by the invocation deadline.
    pub publish_budget: Duration,
    /// `REGISTRY_CACHE_TTL_SECS` (default 60): how long a registered device is cached.
    pub registry_ttl: Duration,
    /// `REGISTRY_NEGATIVE_TTL_SECS` (default 10): how long an unknown device is cached.
    pub registry_negative_ttl: Duration,
    /// `WEARERS_TABLE`: wearer profiles, read for the limits of the upload policy.
    pub wearers_table: String,
    /// `UPLOAD_ROUTINE_EVERY_SECS` (default 300) and `UPLOAD_URGENT_EVERY_SECS`
    /// (default 60): the upload policy's intervals, told to the app in each 202.
    pub upload: Intervals,
}

impl IngestConfig {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        Ok(Self {
            stream_name: env::required(src, "STREAM_NAME", "the readings Kinesis stream name")?,
            devices_table: env::required(src, "DEVICES_TABLE", "the device registry DynamoDB table")?,
            publish_budget: env::millis_or(src, "PUBLISH_BUDGET_MS", Duration::from_millis(8_000))?,
            registry_ttl: env::secs_or(src, "REGISTRY_CACHE_TTL_SECS", Duration::from_secs(60))?,
            registry_negative_ttl: env::secs_or(src, "REGISTRY_NEGATIVE_TTL_SECS", Duration::from_secs(10))?,
            wearers_table: env::required(src, "WEARERS_TABLE", "the wearer profiles DynamoDB table")?,
            upload: Intervals {
                routine_every_s: env::positive_or(src, "UPLOAD_ROUTINE_EVERY_SECS", ROUTINE_EVERY_S, SECONDS)?,
                urgent_every_s: env::positive_or(src, "UPLOAD_URGENT_EVERY_SECS", URGENT_EVERY_S, SECONDS)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_and_missing_variables_are_named() {
        let cfg = IngestConfig::from_source(&[
            ("STREAM_NAME", "readings"),
            ("DEVICES_TABLE", "devices"),
            ("WEARERS_TABLE", "wearers"),
        ])
        .unwrap();
        assert_eq!(cfg.publish_budget, Duration::from_secs(8));
        assert_eq!(cfg.registry_ttl, Duration::from_secs(60));
        assert_eq!(cfg.upload, Intervals { routine_every_s: 300, urgent_every_s: 60 });

        let err = IngestConfig::from_source(&[("STREAM_NAME", "readings")]).unwrap_err();
        assert!(err.to_string().contains("DEVICES_TABLE"), "{err}");

        let err =
            IngestConfig::from_source(&[("STREAM_NAME", "s"), ("DEVICES_TABLE", "d"), ("PUBLISH_BUDGET_MS", "soon")])
                .unwrap_err();
        assert!(err.to_string().contains("PUBLISH_BUDGET_MS=\"soon\""), "{err}");
    }
}
