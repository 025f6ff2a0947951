//! The warehouse on AWS: Redshift through the Data API, the curated-files registry on
//! DynamoDB as the queue of pending files, and the data lake on S3 as their source.

pub mod redshift;
pub mod registry;

pub use redshift::{RedshiftConfig, RedshiftWarehouse};
pub use registry::{DynamoFileQueue, S3ObjectSource};
