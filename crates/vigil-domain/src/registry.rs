//! The device registry's view of a band, the authorization rule, and a
//! per-container cache of registry lookups.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cache::TtlCache;
use crate::ports::{DeviceDirectory, DirectoryError};

/// A registered wristband.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLink {
    pub device_id: String,
    /// The person wearing the band.
    pub wearer_id: String,
    /// App users (JWT `sub`) allowed to upload for this band.
    pub app_users: Vec<String>,
    /// The wearer's IANA time zone, e.g. `Europe/Madrid`.
    pub time_zone: String,
}

/// Why an upload is not allowed. Unknown and foreign devices are deliberately
/// one variant, so responses cannot reveal which devices exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No caller identity at all (401).
    NoIdentity,
    /// Unknown device, or a device not linked to the caller (403).
    NotYourDevice,
}

/// Decides whether `caller` (the JWT `sub`) may upload for the device.
pub fn authorize<'a>(caller: Option<&str>, link: Option<&'a DeviceLink>) -> Result<&'a DeviceLink, Denied> {
    let caller = caller.filter(|c| !c.is_empty()).ok_or(Denied::NoIdentity)?;
    match link {
        Some(link) if link.app_users.iter().any(|u| u == caller) => Ok(link),
        _ => Err(Denied::NotYourDevice),
    }
}

/// Caches registry lookups for the life of a Lambda container.
///
/// Found devices are kept for `ttl`, unknown ones for `negative_ttl` (shorter,
/// so a band registered a moment ago starts working soon, while a flood of
/// uploads for unknown devices still does not reach the table). Lookup errors are
/// never cached.
#[derive(Debug)]
pub struct CachedDirectory<D> {
    inner: D,
    cache: TtlCache<DeviceLink>,
}

impl<D> CachedDirectory<D> {
    pub fn new(inner: D, ttl: Duration, negative_ttl: Duration) -> Self {
        Self { inner, cache: TtlCache::new(ttl, negative_ttl, 10_000) }
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<D: DeviceDirectory + Sync> CachedDirectory<D> {
    /// Looks a device up as of `now` (exposed so tests can move the clock).
    pub async fn device_at(&self, device_id: &str, now: Instant) -> Result<Option<DeviceLink>, DirectoryError> {
        if let Some(hit) = self.cache.get(device_id, now) {
            return Ok(hit);
        }
        let link = self.inner.device(device_id).await?;
        self.cache.put(device_id, now, link.clone());
        Ok(link)
    }
}

impl<D: DeviceDirectory + Sync> DeviceDirectory for CachedDirectory<D> {
    async fn device(&self, device_id: &str) -> Result<Option<DeviceLink>, DirectoryError> {
        self.device_at(device_id, Instant::now()).await
    }
}
