//! Ports: the small traits through which the domain reaches the outside world.
//! `vigil-aws` implements them with the AWS SDK; tests implement them in memory.

use std::future::Future;
use std::time::Duration;

use crate::registry::DeviceLink;

/// Boxed source error of an adapter, kept for logs, never shown to clients.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One record for the readings stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// What a successful publish cost, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// API calls made, including retries.
    pub calls: u32,
    /// Records that had to be resent after a failed entry or a failed call.
    pub resent: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Some records were still not on the stream when the time budget ran out.
    /// The caller must not report them as accepted; the client retries.
    #[error("{unwritten} of {total} records not written within the time budget")]
    Incomplete { unwritten: usize, total: usize },
    /// The stream refused the write for a reason retrying will not fix
    /// (missing stream, access denied): an operator must act.
    #[error("stream {stream} refused the write")]
    Refused {
        stream: String,
        #[source]
        source: BoxError,
    },
}

/// Puts records on the readings stream.
pub trait RecordPublisher {
    /// Writes every record, resending only the ones that failed, until all are
    /// written or `budget` is spent. `Ok` means every record is on the stream.
    fn publish(
        &self,
        records: Vec<StreamRecord>,
        budget: Duration,
    ) -> impl Future<Output = Result<PublishReport, PublishError>> + Send;
}

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

// ---------------------------------------------------------------------------
// The alert path: wearer profiles, rule state, alerts, deliveries, notifications,
// and the quarantine for records that can never be processed.

/// A storage adapter's failure, with whether trying again can help (throttling,
/// timeouts, 5xx) so stream handlers can report the record for retry.
#[derive(Debug, thiserror::Error)]
#[error("{operation} on {resource} failed")]
pub struct StoreError {
    pub operation: &'static str,
    pub resource: String,
    pub retryable: bool,
    #[source]
    pub source: BoxError,
}

/// Reads wearer profiles: name, time zone, thresholds, caregivers.
pub trait WearerDirectory {
    fn wearer(
        &self,
        wearer_id: &str,
    ) -> impl Future<Output = Result<Option<crate::care::WearerProfile>, StoreError>> + Send;
}

/// Per-wearer rule state with optimistic concurrency on `WearerState::version`.
pub trait StateStore {
    /// The stored state (its `version` as stored), `None` if never evaluated.
    fn load(
        &self,
        wearer_id: &str,
    ) -> impl Future<Output = Result<Option<crate::alerts::WearerState>, StoreError>> + Send;

    /// Writes `state` with `version + 1` only if the stored version is still
    /// `state.version` (no item when it is 0). `Ok(false)`: another writer got
    /// there first; reload and evaluate again.
    fn save(&self, state: &crate::alerts::WearerState) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Wearers the scheduled detector must look at: last seen before `cutoff`
    /// (possibly silent) or with falls waiting out their cancel window.
    fn needing_check(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}

/// The alerts table.
pub trait AlertStore {
    /// Stores the alert (status open) unless one with its id exists; `Ok(true)` when stored now.
    fn put_alert(&self, alert: &crate::alerts::Alert) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Marks the alert resolved at `at` (a second call keeps the first time) and
    /// returns it, so a retry after a crash still hands it on; `None` if there is
    /// no such alert (resolving never creates one).
    fn resolve(
        &self,
        alert_id: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<Option<crate::alerts::Alert>, StoreError>> + Send;
}

/// The outcome of claiming a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Send it, then call [`DeliveryLog::sent`] or [`DeliveryLog::release`].
    Granted,
    /// Already sent: do nothing.
    AlreadySent,
    /// Another invocation holds a fresh claim and is sending it now.
    InFlight,
}

/// The "sent" records: at most one message per alert, caregiver and channel.
pub trait DeliveryLog {
    /// Claims the right to send `delivery` at `now`. A claim older than the
    /// adapter's lease whose send was never confirmed is granted again (its
    /// sender died), so a crash cannot lose a message.
    fn claim(
        &self,
        delivery: &crate::care::Delivery,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Confirms the send, with the provider's message id.
    fn sent(
        &self,
        delivery: &crate::care::Delivery,
        message_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives a claim back after a failed send, so a retry can send.
    fn release(&self, delivery: &crate::care::Delivery) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a delivery to send at `delivery.not_before` (quiet hours), once.
    fn defer(&self, delivery: &crate::care::Delivery) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deferred deliveries whose time has come by `now`.
    fn due(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> impl Future<Output = Result<Vec<crate::care::Delivery>, StoreError>> + Send;
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Throttling or a transient fault: release the claim and retry later.
    #[error("notification failed transiently")]
    Transient(#[source] BoxError),
    /// The provider refused this message for good (e.g. an invalid number):
    /// retrying cannot help; an operator must fix the registry.
    #[error("notification refused")]
    Rejected(#[source] BoxError),
}

/// Sends SMS and push messages.
pub trait Notifier {
    /// Sends one message; returns the provider's message id.
    fn send(
        &self,
        channel: crate::care::Channel,
        address: &str,
        message: &crate::alerts::Message,
    ) -> impl Future<Output = Result<String, NotifyError>> + Send;
}

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
