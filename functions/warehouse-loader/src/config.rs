//! warehouse-loader's configuration, read once per container from the environment.

use std::time::Duration;

use aws_config::SdkConfig;
use vigil_aws::archive::S3ObjectStore;
use vigil_domain::config::{self as env, ConfigError, Source};
use vigil_warehouse::aws::registry::{DEFAULT_LOADED_TTL_DAYS, DynamoFileQueue};
use vigil_warehouse::aws::{RedshiftConfig, RedshiftWarehouse};

use crate::Loader;

/// The loader in AWS: Redshift through the Data API, the DynamoDB registry.
pub type AwsLoader = Loader<RedshiftWarehouse<S3ObjectStore>, DynamoFileQueue>;

/// The loader on PostgreSQL (local runs): files read from S3 (or moto).
#[cfg(feature = "postgres")]
pub type PostgresLoader =
    Loader<vigil_warehouse::postgres::PostgresWarehouse<vigil_warehouse::aws::S3ObjectSource>, DynamoFileQueue>;

/// Default `LOAD_MAX_FILES`.
pub const DEFAULT_MAX_FILES: usize = 500;
/// Default `LOAD_BUDGET_MS`: well inside Lambda's 15 minutes, and cut further to
/// the invocation's own deadline.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(240);

/// What the loader reads whatever the warehouse (Redshift, or PostgreSQL locally).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadSettings {
    /// `CURATED_FILES_TABLE`: the registry of curated files (with its
    /// `status-created_at-index`).
    pub curated_files_table: String,
    /// `DATA_BUCKET`: where the curated files are.
    pub data_bucket: String,
    /// `LOAD_MAX_FILES` (500): most files per run, so a backlog is worked off in
    /// bounded steps that each fit the budget.
    pub max_files: usize,
    /// `LOAD_BUDGET_MS` (240000): time for one run's loads, polls included.
    pub budget: Duration,
    /// `LOADED_FILES_TTL_DAYS` (30): how long a curated file's registry item is
    /// kept once loaded (DynamoDB TTL on `expires_at`); the file itself stays in S3
    /// under the bucket's own lifecycle, its rows in the warehouse for `retention_days`.
    pub loaded_ttl_days: u32,
    /// `WAREHOUSE_RETENTION_DAYS` (365): days of rows the warehouse keeps. Each
    /// load deletes its table's rows from before the UTC day this many days
    /// back (a reading's `ts`, an alert's `raised_at`, a day's `local_date`).
    pub retention_days: u32,
}

/// Default `WAREHOUSE_RETENTION_DAYS`: a year, within the curated files' own
/// retention in the data lake (730 days), from which an older year reloads.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;

impl LoadSettings {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        // Invalid limits are reported before missing resources.
        let max_files = env::positive_or(src, "LOAD_MAX_FILES", DEFAULT_MAX_FILES, "a positive integer")?;
        let loaded_ttl_days = env::positive_or(
            src,
            "LOADED_FILES_TTL_DAYS",
            DEFAULT_LOADED_TTL_DAYS,
            "a whole number of days, at least 1",
        )?;
        let retention_days = env::positive_or(
            src,
            "WAREHOUSE_RETENTION_DAYS",
            DEFAULT_RETENTION_DAYS,
            "a whole number of days, at least 1",
        )?;
        Ok(Self {
            curated_files_table: env::required(src, "CURATED_FILES_TABLE", "the DynamoDB table of curated files")?,
            data_bucket: env::required(src, "DATA_BUCKET", "the S3 data lake bucket")?,
            max_files,
            budget: env::millis_or(src, "LOAD_BUDGET_MS", DEFAULT_BUDGET)?,
            loaded_ttl_days,
            retention_days,
        })
    }

    fn loader<W: vigil_warehouse::Warehouse + Sync>(
        &self,
        sdk: &SdkConfig,
        warehouse: W,
    ) -> Loader<W, DynamoFileQueue> {
        let queue = DynamoFileQueue::new(vigil_aws::sdk::dynamodb(sdk), &self.curated_files_table)
            .keep_loaded_for_days(self.loaded_ttl_days);
        Loader::new(warehouse, queue, self.max_files, self.budget).keep_days(self.retention_days)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub load: LoadSettings,
    /// `DATA_BUCKET`, `MANIFEST_PREFIX` (`manifests/`), `REDSHIFT_WORKGROUP`,
    /// `REDSHIFT_DATABASE`, `REDSHIFT_SECRET_ARN` (optional), `COPY_ROLE_ARN`.
    pub redshift: RedshiftConfig,
}

impl Config {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        let load = LoadSettings::from_source(src)?;
        let mut manifest_prefix = src.get("MANIFEST_PREFIX").unwrap_or_else(|| "manifests/".into());
        if !manifest_prefix.ends_with('/') {
            manifest_prefix.push('/');
        }
        Ok(Self {
            redshift: RedshiftConfig {
                workgroup: env::required(src, "REDSHIFT_WORKGROUP", "the Redshift Serverless workgroup")?,
                database: env::required(src, "REDSHIFT_DATABASE", "the Redshift database")?,
                secret_arn: src.get("REDSHIFT_SECRET_ARN"),
                copy_role_arn: env::required(src, "COPY_ROLE_ARN", "the IAM role Redshift's COPY assumes")?,
                data_bucket: load.data_bucket.clone(),
                manifest_prefix,
                first_poll: Duration::from_millis(250),
                max_poll: Duration::from_secs(5),
            },
            load,
        })
    }

    /// The loader on this config's resources.
    pub fn loader(&self, sdk: &SdkConfig) -> AwsLoader {
        let warehouse = RedshiftWarehouse::new(
            aws_sdk_redshiftdata::Client::new(sdk),
            S3ObjectStore::new(vigil_aws::sdk::s3(sdk), &self.redshift.data_bucket),
            self.redshift.clone(),
        );
        self.load.loader(sdk, warehouse)
    }
}

/// The same loader on the PostgreSQL database at `url` (`postgres://user@host:port/db`;
/// `bash scripts/pg.sh env` prints `VIGIL_PG_URL`), with the settings the function reads
/// from `src`, reading curated files from S3 (or the local endpoint): for `vigil run`
/// and tests. Call [`Loader::run`] on it as often as you like.
#[cfg(feature = "postgres")]
pub fn postgres_loader(sdk: &SdkConfig, src: &impl Source, url: &str) -> Result<PostgresLoader, ConfigError> {
    let load = LoadSettings::from_source(src)?;
    let objects = vigil_warehouse::aws::S3ObjectSource::new(vigil_aws::sdk::s3(sdk), &load.data_bucket);
    Ok(load.loader(sdk, vigil_warehouse::postgres::PostgresWarehouse::new(url, objects)))
}
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;

    const FULL: [(&str, &str); 6] = [
        ("CURATED_FILES_TABLE", "files"),
        ("DATA_BUCKET", "data"),
        ("REDSHIFT_WORKGROUP", "wg"),
        ("REDSHIFT_DATABASE", "vigil"),
        ("COPY_ROLE_ARN", "arn:aws:iam::1:role/copy"),
        ("MANIFEST_PREFIX", "m"),
    ];

    #[test]
    fn defaults_apply_and_every_required_setting_is_named() {
        let cfg = Config::from_source(&FULL).unwrap();
        assert_eq!(
            (cfg.load.max_files, cfg.load.budget, cfg.load.loaded_ttl_days, cfg.load.retention_days),
            (500, Duration::from_secs(240), 30, 365)
        );
        let [a, b, c, d, e, f] = FULL;
        let kept = [a, b, c, d, e, f, ("WAREHOUSE_RETENTION_DAYS", "92")];
        assert_eq!(Config::from_source(&kept).unwrap().load.retention_days, 92);
        assert_eq!(cfg.redshift.manifest_prefix, "m/");
        assert_eq!(cfg.redshift.secret_arn, None);
        for missing in
            ["CURATED_FILES_TABLE", "DATA_BUCKET", "REDSHIFT_WORKGROUP", "REDSHIFT_DATABASE", "COPY_ROLE_ARN"]
        {
            let src: Vec<(&str, &str)> = FULL.into_iter().filter(|(k, _)| *k != missing).collect();
            let src: [(&str, &str); 5] = src.try_into().unwrap();
            let err = Config::from_source(&src).unwrap_err();
            assert!(err.to_string().contains(missing), "{err}");
        }
        for name in ["LOAD_MAX_FILES", "LOADED_FILES_TTL_DAYS", "WAREHOUSE_RETENTION_DAYS"] {
            let zero = [(name, "0")];
            assert!(Config::from_source(&zero).unwrap_err().to_string().contains(name));
        }
    }
}
