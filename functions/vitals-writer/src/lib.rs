//! vitals-writer: the sensitive store. A Kinesis batch of envelopes in, one
//! DynamoDB item per wearer, minute and envelope out (with a TTL), each wearer's
//! shadow moved forward, `batchItemFailures` back to Lambda.

pub mod config;
pub mod handler;

pub use config::VitalsConfig;
pub use handler::Writer;
