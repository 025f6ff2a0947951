//! The device registry's view of a band and the authorization rule. The
//! registry's port is [`crate::ports::DeviceDirectory`]; its per-container cache
//! is [`crate::cache::CachedDirectory`].

use serde::{Deserialize, Serialize};

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
