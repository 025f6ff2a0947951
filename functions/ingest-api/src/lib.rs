//! ingest-api: `POST /v1/uploads`. Validates a wristband upload, authorizes the
//! device for the calling app user, and puts the accepted readings on the
//! readings stream. See `docs/openapi.yaml` for the contract.

pub mod config;
pub mod handler;

pub use config::IngestConfig;
pub use handler::Ingest;
