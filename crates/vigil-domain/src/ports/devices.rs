//! The device registry: which wearer a band belongs to and who may upload for it.

use std::future::Future;

use super::BoxError;
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
