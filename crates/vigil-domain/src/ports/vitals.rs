//! The vitals table and the wearer's shadow (what they store: [`crate::vitals`]).

use std::future::Future;

use super::StoreError;
use crate::vitals::{Shadow, VitalsItem, VitalsWriteError, WriteReport};

/// The vitals table.
pub trait VitalsStore {
    /// Writes every item, replacing any stored item with the same key (so a
    /// rewrite is idempotent); of items sharing a key, the last one is written.
    /// Unprocessed items are resent until written or the adapter's deadline;
    /// `Ok` means every item is stored, `Err` names the ones that are not.
    fn put_items(&self, items: &[VitalsItem]) -> impl Future<Output = Result<WriteReport, VitalsWriteError>> + Send;
}

/// The shadow table.
pub trait ShadowStore {
    /// Stores `shadow` unless the stored one is as new or newer (see
    /// [`Shadow::supersedes`]). `Ok(true)` when stored; `Ok(false)` when a newer
    /// state was there already, which is not an error.
    fn advance(&self, shadow: &Shadow) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
