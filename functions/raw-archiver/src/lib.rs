//! raw-archiver: a Kinesis batch of envelopes in; out, the audit trail (every
//! record as received, gzip NDJSON on S3) and the de-identified data set (one
//! pseudonymized row per reading, Parquet on S3, registered for the warehouse
//! loader); `batchItemFailures` back to Lambda.

pub mod archive;
pub mod config;
pub mod curated;
pub mod handler;
pub mod raw;

pub use handler::Archiver;
