//! alert-processor: the hot path. A Kinesis batch of envelopes in, alerts and
//! caregiver notifications out, `batchItemFailures` back to Lambda.

pub mod handler;

pub use handler::Processor;
