//! alert-processor: the hot path. A Kinesis batch of envelopes in, alerts and
//! caregiver notifications out, `batchItemFailures` back to Lambda.

pub mod handler;

pub use handler::Processor;

// Curated alerts for the warehouse (written after delivery, before the state is
// saved): vigil_alerting::curated, wired to AWS by vigil_aws::curated_alerts.
