//! warehouse-loader: on an EventBridge schedule, loads the curated files not
//! loaded yet into the warehouse, exactly once (see `vigil_warehouse` for the
//! SQL, `vigil_aws::redshift` for the Data API, `vigil_aws::warehouse` for the
//! pending-file index and the conditional mark).
//!
//! The same [`Loader`] runs in-process against PostgreSQL for `vigil run` and
//! the tests: [`postgres_loader`] builds it from a URL and the SDK config.

pub mod config;
pub mod handler;
pub mod loader;

pub use config::{AwsLoader, Config, PostgresLoader, PostgresSettings, postgres_loader};
pub use loader::{LoadError, LoadReport, Loader};
pub use vigil_warehouse::{FileKind, Warehouse};
