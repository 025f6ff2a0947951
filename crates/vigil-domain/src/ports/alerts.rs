//! The alert path: wearer profiles, rule state, alerts, deliveries and
//! notifications.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::{BoxError, StoreError};
use crate::alerts::{Alert, Message, WearerState};
use crate::care::{Channel, Delivery, WearerProfile};
use crate::lifecycle::{AlertRecord, Transition};

/// Reads wearer profiles: name, time zone, thresholds, caregivers.
pub trait WearerDirectory {
    fn wearer(&self, wearer_id: &str) -> impl Future<Output = Result<Option<WearerProfile>, StoreError>> + Send;
}

/// Per-wearer rule state with optimistic concurrency on `WearerState::version`.
pub trait StateStore {
    /// The stored state (its `version` as stored), `None` if never evaluated.
    fn load(&self, wearer_id: &str) -> impl Future<Output = Result<Option<WearerState>, StoreError>> + Send;

    /// Writes `state` with `version + 1` only if the stored version is still
    /// `state.version` (no item when it is 0). `Ok(false)`: another writer got
    /// there first; reload and evaluate again.
    fn save(&self, state: &WearerState) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Wearers the scheduled detector must look at by `now`: those whose stored
    /// [`WearerState::next_check`] is at or before it, however long ago (a missed
    /// run is caught up by the next). Read without a Scan: a run costs what is due.
    fn due_for_check(&self, now: DateTime<Utc>) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
}

/// The alerts table.
pub trait AlertStore {
    /// Stores the alert (status open; `snoozed` when its rule is snoozed for the
    /// wearer, so it is not sent) unless one with its id exists; `Ok(true)` when
    /// stored now.
    fn put_alert(&self, alert: &Alert, snoozed: bool) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The rules' own resolution (the condition cleared at `at`): a
    /// [`crate::lifecycle::Transition::cleared`] step unless the alert is resolved
    /// already (then the first resolution stands). Returns the alert as it then
    /// stands either way (with the winning resolution), so a retry after a crash
    /// still hands the same state on; `None` if there is no such alert
    /// (resolving never creates one).
    fn resolve(
        &self,
        alert_id: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<AlertRecord>, StoreError>> + Send;

    /// The alert as it stands (a strongly consistent read), `None` if absent.
    fn get(&self, alert_id: &str) -> impl Future<Output = Result<Option<AlertRecord>, StoreError>> + Send;

    /// Applies a caregiver's `step` (acknowledge or resolve, with a resolution's
    /// note) if the stored status accepts it, and returns the alert as it then
    /// stands: the winner's step when someone got there first. `None` if absent.
    fn transition(
        &self,
        alert_id: &str,
        step: &Transition,
        note: Option<&str>,
    ) -> impl Future<Output = Result<Option<AlertRecord>, StoreError>> + Send;
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

/// The message id a delivery the provider refused for good is marked sent with.
pub const REFUSED: &str = "refused";

/// The "sent" records: at most one message per alert, caregiver and channel.
pub trait DeliveryLog {
    /// Claims the right to send `delivery` at `now`. A claim older than the
    /// adapter's lease whose send was never confirmed is granted again (its
    /// sender died), so a crash cannot lose a message.
    fn claim(&self, delivery: &Delivery, now: DateTime<Utc>) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// Confirms the send, with the provider's message id.
    fn sent(
        &self,
        delivery: &Delivery,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives a claim back after a failed send, so a retry can send.
    fn release(&self, delivery: &Delivery) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a delivery to send at `delivery.not_before` (quiet hours), once.
    fn defer(&self, delivery: &Delivery) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deferred deliveries (quiet hours, escalation steps) whose time has come by
    /// `now`, and those whose sender died mid-send, found without a Scan.
    fn due(&self, now: DateTime<Utc>) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// Drops a deferred delivery that is no longer needed (an escalation step of
    /// an alert someone acknowledged): it is never due again. A delivery already
    /// claimed or sent is left as it is.
    fn cancel(&self, delivery: &Delivery) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Which of `deliveries` went out or are going out (sent, or claimed by a
    /// sender), in order: who has heard of an alert.
    fn went_out(&self, deliveries: &[Delivery]) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send;
}

/// An SMS sent to a number about an alert: what an SMS reply from that number
/// can refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Texted {
    pub alert_id: String,
    pub caregiver_id: String,
    pub sent_at: DateTime<Utc>,
}

/// The SMS sent to a phone number, newest first (the delivery records, by number).
pub trait TextLog {
    /// At most `limit` of the SMS sent to `phone`, newest first.
    fn texted(&self, phone: &str, limit: usize) -> impl Future<Output = Result<Vec<Texted>, StoreError>> + Send;
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
        channel: Channel,
        address: &str,
        message: &Message,
    ) -> impl Future<Output = Result<String, NotifyError>> + Send;
}
