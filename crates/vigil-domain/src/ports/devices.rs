//! The device registry: which wearer a band belongs to and who may upload for it.

use std::future::Future;

use super::{BoxError, StoreError};
use crate::alerts::Thresholds;
use crate::registry::DeviceLink;

#[derive(Debug, thiserror::Error)]
#[error("device registry lookup failed")]
pub struct DirectoryError {
    #[source]
    pub source: BoxError,
}

/// Reads the device registry: device → wearer, linked app users, time zone.
pub trait DeviceDirectory {
    /// `Ok(None)` when the device is not registered.
    fn device(&self, device_id: &str) -> impl Future<Output = Result<Option<DeviceLink>, DirectoryError>> + Send;
}

/// Reads a wearer's limits, for the upload policy ingest-api gives the app
/// ([`crate::upload::policy`]).
pub trait WearerLimits {
    /// `Ok(None)` when the wearer has no profile.
    fn limits(&self, wearer_id: &str) -> impl Future<Output = Result<Option<Thresholds>, StoreError>> + Send;
}
