//! Ports: the small traits through which the domain reaches the outside world.
//! `vigil-aws` implements them with the AWS SDK; tests implement them in memory.
//!
//! One module per concern, every item re-exported here (`vigil_domain::ports::X`):
//!
//! | module       | ports                                                                 |
//! |--------------|-----------------------------------------------------------------------|
//! | `stream`     | [`RecordPublisher`]: ingest puts records on the readings stream       |
//! | `devices`    | [`DeviceDirectory`]: the device registry                              |
//! | `alerts`     | [`WearerDirectory`], [`StateStore`], [`AlertStore`], [`DeliveryLog`], [`Notifier`] |
//! | `care`       | [`CareStore`], [`LifecycleSink`]: the caregivers' API |
//! | `days`       | [`DaysStore`], [`DayInputs`]: each wearer's daily picture             |
//! | `quarantine` | [`Quarantine`]: stream records that can never be processed            |
//! | `lake`       | [`ObjectStore`], [`CuratedFileRegistry`]: the data lake               |
//! | `vitals`     | [`VitalsStore`]: what vitals-writer keeps                             |
//!
//! Storage adapters fail with the shared [`StoreError`]. The types the ports
//! speak in (a [`crate::registry::DeviceLink`], a [`crate::vitals::VitalsItem`],
//! an [`crate::alerts::Alert`], …) live in modules that never import the ports;
//! the caches ([`crate::cache`]) wrap ports, never the other way round.

mod alerts;
mod care;
mod days;
mod devices;
mod lake;
mod quarantine;
mod stream;
mod vitals;

pub use crate::error::{BoxError, StoreError};
pub use alerts::{
    AlertStore, Claim, DeliveryLog, Notifier, NotifyError, REFUSED, StateStore, TextLog, Texted, WearerDirectory,
};
pub use care::{AlertCursor, AlertPage, AlertQuery, CareStore, LifecycleSink};
pub use days::{DayInputs, DaysStore, WearerPage};
pub use devices::{DeviceDirectory, DirectoryError, WearerLimits};
pub use lake::{CuratedFile, CuratedFileRegistry, FileKind, ObjectStore, STATUS_PENDING};
pub use quarantine::{PoisonRecord, Quarantine};
pub use stream::{PublishError, PublishReport, RecordPublisher, StreamRecord};
pub use vitals::VitalsStore;
