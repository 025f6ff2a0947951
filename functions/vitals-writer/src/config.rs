use std::time::Duration;

use aws_config::SdkConfig;
use chrono::TimeDelta;
use vigil_aws::quarantine::S3Quarantine;
use vigil_aws::vitals::{DEFAULT_BUDGET, DynamoVitalsStore};
use vigil_domain::config::{self as env, ConfigError, Source};
use vigil_domain::vitals::DEFAULT_TTL_DAYS;

use crate::Writer;

/// vitals-writer on DynamoDB and S3.
pub type AwsWriter = Writer<DynamoVitalsStore, S3Quarantine>;

/// Everything vitals-writer reads from its environment, once, at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VitalsConfig {
    /// `VITALS_TABLE`: half-hour vitals items, keyed `wearer_id` + `sk`, TTL on `expires_at`.
    pub vitals_table: String,
    /// `QUARANTINE_BUCKET`: poison stream records.
    pub quarantine_bucket: String,
    /// `VITALS_TTL_DAYS` (default 30): how long vitals are kept after their minute.
    pub ttl_days: u32,
    /// `WRITE_BUDGET_MS` (default 10000): longest time spent resending
    /// unprocessed vitals items of one batch before reporting their records;
    /// keep it well under the function timeout.
    pub write_budget: Duration,
}

impl VitalsConfig {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        let ttl_days =
            env::positive_or(src, "VITALS_TTL_DAYS", DEFAULT_TTL_DAYS, "a whole number of days, at least 1")?;
        Ok(Self {
            vitals_table: env::required(src, "VITALS_TABLE", "the vitals DynamoDB table")?,
            quarantine_bucket: env::required(src, "QUARANTINE_BUCKET", "the S3 bucket for poison records")?,
            ttl_days,
            write_budget: env::millis_or(src, "WRITE_BUDGET_MS", DEFAULT_BUDGET)?,
        })
    }

    pub fn ttl(&self) -> TimeDelta {
        TimeDelta::days(i64::from(self.ttl_days))
    }

    /// The handler on this config's resources, its clients built from `sdk`.
    pub fn writer(&self, sdk: &SdkConfig) -> AwsWriter {
        let dynamodb = vigil_aws::sdk::dynamodb(sdk);
        Writer {
            vitals: DynamoVitalsStore::new(dynamodb, &self.vitals_table).with_budget(self.write_budget),
            quarantine: S3Quarantine::new(vigil_aws::sdk::s3(sdk), &self.quarantine_bucket),
            ttl: self.ttl(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;

    const FULL: [(&str, &str); 2] = [("VITALS_TABLE", "v"), ("QUARANTINE_BUCKET", "q")];

    #[test]
    fn defaults_apply_and_missing_variables_are_named() {
        let cfg = VitalsConfig::from_source(&FULL).unwrap();
        assert_eq!((cfg.ttl_days, cfg.ttl()), (30, TimeDelta::days(30)));
        assert_eq!(cfg.write_budget, Duration::from_secs(10));

        let err = VitalsConfig::from_source(&[FULL[0]]).unwrap_err();
        assert!(err.to_string().contains("QUARANTINE_BUCKET"), "{err}");
    }

    #[test]
    fn the_ttl_is_a_positive_number_of_days() {
        let cfg = VitalsConfig::from_source(&[FULL[0], FULL[1], ("VITALS_TTL_DAYS", "90")]).unwrap();
        assert_eq!(cfg.ttl(), TimeDelta::days(90));
        for bad in ["0", "-1", "a month"] {
            let err = VitalsConfig::from_source(&[FULL[0], FULL[1], ("VITALS_TTL_DAYS", bad)]).unwrap_err();
            assert!(err.to_string().contains("VITALS_TTL_DAYS"), "{err}");
        }
    }
}
