//! The vitals table (what it stores: [`crate::vitals`]).

use std::future::Future;

use crate::vitals::{VitalsItem, VitalsWriteError, WriteReport};

/// The vitals table.
pub trait VitalsStore {
    /// Writes every item, replacing any stored item with the same key (so a
    /// rewrite is idempotent); of items sharing a key, the last one is written.
    /// Unprocessed items are resent until written or the adapter's deadline;
    /// `Ok` means every item is stored, `Err` names the ones that are not.
    fn put_items(&self, items: &[VitalsItem]) -> impl Future<Output = Result<WriteReport, VitalsWriteError>> + Send;
}
