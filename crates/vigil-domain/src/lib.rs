//! Vigil's domain: what a wristband upload is, when it is valid, how it travels
//! on the readings stream, and the ports through which handlers reach storage.
//!
//! No AWS types and no I/O live here, so everything is tested with plain unit
//! and property tests. The curated data set (pseudonyms, lake keys, Parquet) is
//! the `vigil-curated` crate's.

pub mod alerts;
pub mod cache;
pub mod care;
pub mod config;
pub mod days;
pub mod envelope;
mod error;
pub mod escalation;
pub mod lifecycle;
pub mod link;
pub mod names;
pub mod ports;
pub mod reading;
pub mod registry;
pub mod reply;
pub mod retention;
pub mod sms;
pub mod upload;
pub mod vitals;

pub use envelope::{Envelope, ReadingId};
pub use reading::Reading;
pub use upload::{FieldError, Upload, UploadRejected, parse_upload};
