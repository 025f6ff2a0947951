//! In-memory ports with fault injection, for handler and service tests. Every
//! store keeps what a real one would, so tests assert on contents, not on calls.
#![allow(clippy::unwrap_used, reason = "test code: a poisoned mutex or a broken fixture should fail the test")]

pub mod bench_batch;
pub mod kinesis;
pub mod sinks_raw;
pub mod sinks_vitals;
pub mod stalled;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use vigil_domain::alerts::{Alert, Message, WearerState};
use vigil_domain::care::{Caregiver, Channel, Delivery, WearerProfile};
use vigil_domain::lifecycle::{AlertRecord, Transition};
use vigil_domain::ports::{
    AlertStore, Claim, DeliveryLog, Notifier, NotifyError, PoisonRecord, Quarantine, StateStore, StoreError,
    WearerDirectory,
};

/// A level-1 caregiver with an account name, a language and a phone (SMS), no push
/// endpoint and no quiet hours.
pub fn caregiver(id: &str, name: &str, language: vigil_domain::alerts::Language, phone: &str) -> Caregiver {
    Caregiver {
        id: id.into(),
        sub: None,
        name: Some(name.into()),
        level: 1,
        language,
        phone: Some(phone.into()),
        push_endpoint: None,
        quiet_hours: None,
        daily_at: None,
    }
}

/// A retryable store error, as throttling would give.
pub fn throttled(operation: &'static str) -> StoreError {
    StoreError { operation, resource: "memory".into(), retryable: true, source: "throttled".into() }
}

/// Counts down injected failures: `Some(n)` fails the next n calls.
#[derive(Debug, Default)]
pub struct Faults(Mutex<usize>);

impl Faults {
    pub fn fail_next(&self, n: usize) {
        *self.0.lock().unwrap() = n;
    }
    fn take(&self) -> bool {
        let mut n = self.0.lock().unwrap();
        if *n > 0 {
            *n -= 1;
            true
        } else {
            false
        }
    }
}

/// The alert path's ports in memory; `S` is where alerts go besides the alerts table
/// (the curated alerts in memory, or nothing).
#[derive(Debug)]
pub struct Memory<S = vigil_alerting::NoSink>(std::marker::PhantomData<S>);

impl<S: vigil_alerting::AlertSink + Sync> vigil_alerting::AlertPorts for Memory<S> {
    type Wearers = MemoryWearers;
    type States = MemoryStates;
    type Alerts = MemoryAlerts;
    type Deliveries = MemoryDeliveries;
    type Notifier = MemoryNotifier;
    type Sink = S;
}

#[derive(Debug, Default)]
pub struct MemoryWearers {
    pub profiles: Mutex<HashMap<String, WearerProfile>>,
    pub faults: Faults,
}

impl MemoryWearers {
    pub fn with(profiles: impl IntoIterator<Item = WearerProfile>) -> Self {
        let me = Self::default();
        me.profiles.lock().unwrap().extend(profiles.into_iter().map(|p| (p.wearer_id.clone(), p)));
        me
    }
}

impl WearerDirectory for MemoryWearers {
    async fn wearer(&self, wearer_id: &str) -> Result<Option<WearerProfile>, StoreError> {
        if self.faults.take() {
            return Err(throttled("GetItem"));
        }
        Ok(self.profiles.lock().unwrap().get(wearer_id).cloned())
    }
}

#[derive(Debug, Default)]
pub struct MemoryStates {
    pub states: Mutex<BTreeMap<String, WearerState>>,
    pub faults: Faults,
    /// Makes the next n saves lose to a concurrent writer.
    pub conflicts: Faults,
}

impl StateStore for MemoryStates {
    async fn load(&self, wearer_id: &str) -> Result<Option<WearerState>, StoreError> {
        if self.faults.take() {
            return Err(throttled("GetItem"));
        }
        Ok(self.states.lock().unwrap().get(wearer_id).cloned())
    }

    async fn save(&self, state: &WearerState) -> Result<bool, StoreError> {
        if self.conflicts.take() {
            // Someone else wrote: bump the stored version so ours is stale.
            let mut states = self.states.lock().unwrap();
            let stored = states.entry(state.wearer_id.clone()).or_insert_with(|| WearerState::new(&state.wearer_id));
            stored.version += 1;
            return Ok(false);
        }
        let mut states = self.states.lock().unwrap();
        let stored_version = states.get(&state.wearer_id).map_or(0, |s| s.version);
        if stored_version != state.version {
            return Ok(false);
        }
        let mut next = state.clone();
        next.version += 1;
        states.insert(state.wearer_id.clone(), next);
        Ok(true)
    }

    async fn due_for_check(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        Ok(self
            .states
            .lock()
            .unwrap()
            .values()
            .filter(|s| s.next_check.is_some_and(|t| t <= now))
            .map(|s| s.wearer_id.clone())
            .collect())
    }
}

#[derive(Debug, Default)]
pub struct MemoryAlerts {
    pub alerts: Mutex<BTreeMap<String, AlertRecord>>,
    pub faults: Faults,
}

impl MemoryAlerts {
    pub fn all(&self) -> Vec<Alert> {
        self.alerts.lock().unwrap().values().map(|r| r.alert.clone()).collect()
    }
    pub fn resolved_at(&self, id: &str) -> Option<DateTime<Utc>> {
        self.alerts.lock().unwrap().get(id).and_then(|r| r.resolved.as_ref().map(|t| t.at))
    }
    pub fn record(&self, id: &str) -> Option<AlertRecord> {
        self.alerts.lock().unwrap().get(id).cloned()
    }
}

impl AlertStore for MemoryAlerts {
    async fn put_alert(&self, alert: &Alert, snoozed: bool) -> Result<bool, StoreError> {
        if self.faults.take() {
            return Err(throttled("PutItem"));
        }
        let mut alerts = self.alerts.lock().unwrap();
        if alerts.contains_key(alert.id.as_str()) {
            return Ok(false);
        }
        alerts.insert(alert.id.to_string(), AlertRecord::open(alert.clone(), snoozed));
        Ok(true)
    }

    async fn resolve(&self, alert_id: &str, at: DateTime<Utc>) -> Result<Option<AlertRecord>, StoreError> {
        self.transition(alert_id, &Transition::cleared(at), None).await
    }

    async fn get(&self, alert_id: &str) -> Result<Option<AlertRecord>, StoreError> {
        if self.faults.take() {
            return Err(throttled("GetItem"));
        }
        Ok(self.record(alert_id))
    }

    async fn transition(
        &self,
        alert_id: &str,
        step: &Transition,
        note: Option<&str>,
    ) -> Result<Option<AlertRecord>, StoreError> {
        Ok(self.alerts.lock().unwrap().get_mut(alert_id).map(|record| {
            record.apply(step.clone(), note.map(str::to_owned));
            record.clone()
        }))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryStatus {
    /// Claimed at; with the delivery when it was deferred (a release keeps it due).
    Sending(DateTime<Utc>, Option<Delivery>),
    Sent(String),
    Deferred(Delivery),
    Cancelled,
}

#[derive(Debug)]
pub struct MemoryDeliveries {
    pub records: Mutex<BTreeMap<String, DeliveryStatus>>,
    pub lease: Duration,
    pub faults: Faults,
}

impl Default for MemoryDeliveries {
    fn default() -> Self {
        Self { records: Mutex::default(), lease: Duration::seconds(60), faults: Faults::default() }
    }
}

impl DeliveryLog for MemoryDeliveries {
    async fn claim(&self, d: &Delivery, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        if self.faults.take() {
            return Err(throttled("PutItem"));
        }
        let mut records = self.records.lock().unwrap();
        let deferred = match records.get(&d.key()) {
            Some(DeliveryStatus::Sent(_) | DeliveryStatus::Cancelled) => return Ok(Claim::AlreadySent),
            Some(DeliveryStatus::Sending(at, _)) if now - *at < self.lease => return Ok(Claim::InFlight),
            Some(DeliveryStatus::Sending(_, deferred)) => deferred.clone(),
            Some(DeliveryStatus::Deferred(deferred)) => Some(deferred.clone()),
            None => None,
        };
        records.insert(d.key(), DeliveryStatus::Sending(now, deferred));
        Ok(Claim::Granted)
    }

    async fn sent(&self, d: &Delivery, message_id: &str, _now: DateTime<Utc>) -> Result<(), StoreError> {
        self.records.lock().unwrap().insert(d.key(), DeliveryStatus::Sent(message_id.to_owned()));
        Ok(())
    }

    async fn release(&self, d: &Delivery) -> Result<(), StoreError> {
        let mut records = self.records.lock().unwrap();
        match records.remove(&d.key()) {
            Some(DeliveryStatus::Sending(_, Some(deferred))) => {
                records.insert(d.key(), DeliveryStatus::Deferred(deferred));
            }
            Some(DeliveryStatus::Sending(_, None)) | None => {}
            Some(other) => {
                records.insert(d.key(), other);
            }
        }
        Ok(())
    }

    async fn defer(&self, d: &Delivery) -> Result<(), StoreError> {
        self.records.lock().unwrap().entry(d.key()).or_insert_with(|| DeliveryStatus::Deferred(d.clone()));
        Ok(())
    }

    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        Ok(self
            .records
            .lock()
            .unwrap()
            .values()
            .filter_map(|s| match s {
                DeliveryStatus::Deferred(d) if d.not_before.is_none_or(|t| t <= now) => Some(d.clone()),
                _ => None,
            })
            .collect())
    }

    async fn cancel(&self, d: &Delivery) -> Result<(), StoreError> {
        let mut records = self.records.lock().unwrap();
        if matches!(records.get(&d.key()), Some(DeliveryStatus::Deferred(_))) {
            records.insert(d.key(), DeliveryStatus::Cancelled);
        }
        Ok(())
    }

    async fn went_out(&self, deliveries: &[Delivery]) -> Result<Vec<bool>, StoreError> {
        let records = self.records.lock().unwrap();
        Ok(deliveries
            .iter()
            .map(|d| matches!(records.get(&d.key()), Some(DeliveryStatus::Sent(_) | DeliveryStatus::Sending(..))))
            .collect())
    }
}

/// One message as the provider received it.
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub channel: Channel,
    pub address: String,
    pub message: Message,
}

#[derive(Debug, Default)]
pub struct MemoryNotifier {
    pub sent: Mutex<Vec<SentMessage>>,
    /// The next n sends fail transiently (throttling).
    pub transient: Faults,
    /// Addresses the provider refuses for good.
    pub refused: Mutex<Vec<String>>,
}

impl MemoryNotifier {
    pub fn sent(&self) -> Vec<SentMessage> {
        self.sent.lock().unwrap().clone()
    }
}

impl Notifier for MemoryNotifier {
    async fn send(&self, channel: Channel, address: &str, message: &Message) -> Result<String, NotifyError> {
        if self.transient.take() {
            return Err(NotifyError::Transient("Throttling: rate exceeded".into()));
        }
        if self.refused.lock().unwrap().iter().any(|a| a == address) {
            return Err(NotifyError::Rejected("InvalidParameter: PhoneNumber".into()));
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(SentMessage { channel, address: address.to_owned(), message: message.clone() });
        Ok(format!("msg-{}", sent.len()))
    }
}

/// A poison record as quarantined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub function: String,
    pub shard_id: String,
    pub sequence_number: String,
    pub data: Vec<u8>,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct MemoryQuarantine {
    pub records: Mutex<Vec<Quarantined>>,
    pub faults: Faults,
}

impl Quarantine for MemoryQuarantine {
    async fn quarantine(&self, r: &PoisonRecord<'_>) -> Result<(), StoreError> {
        if self.faults.take() {
            return Err(throttled("PutObject"));
        }
        self.records.lock().unwrap().push(Quarantined {
            function: r.function.to_owned(),
            shard_id: r.shard_id.to_owned(),
            sequence_number: r.sequence_number.to_owned(),
            data: r.data.to_vec(),
            reason: r.reason.to_owned(),
        });
        Ok(())
    }
}
