//! The quarantine for stream records that can never be processed.

use std::future::Future;

use super::StoreError;

/// A stream record that can never be processed, and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct PoisonRecord<'a> {
    pub function: &'a str,
    pub shard_id: &'a str,
    pub sequence_number: &'a str,
    pub data: &'a [u8],
    pub reason: &'a str,
}

/// Keeps poison records for inspection and replay, so they never block a shard.
pub trait Quarantine {
    fn quarantine(&self, record: &PoisonRecord<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
}
