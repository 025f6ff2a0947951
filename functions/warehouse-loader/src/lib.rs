//! warehouse-loader: on an EventBridge schedule, loads the curated files not
//! loaded yet into the warehouse, exactly once (see `vigil_warehouse` for the
//! SQL, `vigil_warehouse::aws` for the Data API and for the
//! pending-file index and the conditional mark).
//!
//! The same [`Loader`] runs in-process against PostgreSQL for `vigil run` and
//! the tests: [`postgres_loader`] builds it from the same settings and a URL.

pub mod config;
pub mod handler;
pub mod loader;

pub use config::{AwsLoader, Config, LoadSettings};
#[cfg(feature = "postgres")]
pub use config::{PostgresLoader, postgres_loader};
pub use loader::{LoadError, LoadReport, Loader};
pub use vigil_warehouse::{FileKind, Warehouse};

/// warehouse-loader as deployed (on Redshift's Data API), from its environment (see
/// `function.json`) and one SDK config, at cold start; its `main` builds it here.
/// `vigil run` loads into PostgreSQL with [`postgres_loader`] instead, the same loader
/// over another warehouse.
pub async fn build(
    src: &impl vigil_domain::config::Source,
    sdk: &aws_config::SdkConfig,
) -> Result<AwsLoader, vigil_domain::config::ConfigError> {
    Ok(Config::from_source(src)?.loader(sdk))
}
