//! Vigil's AWS adapters: one config factory, one adapter per service, each
//! implementing a port of `vigil-domain`. LocalStack, moto's server and AWS differ
//! only by `AWS_ENDPOINT_URL`.

pub mod env;
pub mod kinesis;
pub mod metrics;
pub mod registry;
pub mod sdk;

pub use env::ConfigError;

// The alert path's adapters.
pub mod alerts;
pub mod deliveries;
pub mod dynamo;
pub mod quarantine;
pub mod sns;
pub mod state;
pub mod wearers;

// raw-archiver's adapters: the data lake and the curated-file registry.
pub mod archive;
pub mod curated_files;

// vitals-writer's adapters: the vitals table and the wearer's shadow.
pub mod shadow;
pub mod vitals;

// warehouse-loader's adapters: Redshift's Data API, the pending-file queue and
// reading the data lake; the pseudonym key from Secrets Manager.
pub mod redshift;
pub mod secrets;
pub mod warehouse;
