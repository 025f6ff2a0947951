//! What a local run shows and audits: live counters, each function's stream lag,
//! and every message handed to the provider (recorded by wrapping the real SNS
//! notifier, so what is counted is what was sent).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;
use vigil_domain::alerts::Message;
use vigil_domain::care::Channel;
use vigil_domain::ports::{Notifier, NotifyError};

/// Counters the live view reads and the summary starts from.
#[derive(Debug, Default)]
pub struct Live {
    pub uploads_sent: AtomicU64,
    pub uploads_accepted: AtomicU64,
    pub uploads_refused: AtomicU64,
    pub readings_accepted: AtomicU64,
    pub alerts_raised: AtomicU64,
    pub notifications_sent: AtomicU64,
    pub warehouse_loads: AtomicU64,
    pub warehouse_rows: AtomicU64,
    /// Alerts the simulated caregivers acknowledged (or resolved) through the caregivers' API.
    pub acknowledged: AtomicU64,
    pub handler_failures: AtomicU64,
    /// Per stream function: (records read but not yet processed, age of the oldest in ms).
    lag: Mutex<BTreeMap<&'static str, (usize, i64)>>,
    /// Per stream function: when the oldest record of the batch it is processing reached the stream.
    in_flight: Mutex<BTreeMap<&'static str, chrono::DateTime<chrono::Utc>>>,
    /// The simulated "now" of every offline-detector run, in order (the escalation audit's ticks).
    detector_runs: Mutex<Vec<chrono::DateTime<chrono::Utc>>>,
}

impl Live {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn detector_ran(&self, now: chrono::DateTime<chrono::Utc>) {
        self.detector_runs.lock().unwrap_or_else(PoisonError::into_inner).push(now);
    }

    pub fn detector_runs(&self) -> Vec<chrono::DateTime<chrono::Utc>> {
        self.detector_runs.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn set_lag(&self, function: &'static str, pending: usize, age_ms: i64) {
        self.lag.lock().unwrap_or_else(PoisonError::into_inner).insert(function, (pending, age_ms));
    }

    pub fn lag(&self) -> BTreeMap<&'static str, (usize, i64)> {
        self.lag.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// `function` started (Some) or finished (None) a batch whose oldest record arrived at `arrival`.
    pub fn set_in_flight(&self, function: &'static str, arrival: Option<chrono::DateTime<chrono::Utc>>) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        match arrival {
            Some(at) => in_flight.insert(function, at),
            None => in_flight.remove(function),
        };
    }

    /// The arrival of the oldest record `function` has read but not finished:
    /// the batch in flight, else the oldest pending one.
    pub fn oldest_unprocessed(&self, function: &'static str) -> Option<chrono::DateTime<chrono::Utc>> {
        let in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).get(function).copied();
        let pending = match self.lag().get(function) {
            Some(&(pending, age_ms)) if pending > 0 => {
                Some(chrono::Utc::now() - chrono::TimeDelta::milliseconds(age_ms))
            }
            _ => None,
        };
        in_flight.into_iter().chain(pending).min()
    }
}

/// One message the provider accepted.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The alert the message is about.
    pub alert_id: String,
    pub channel: Channel,
    /// Phone number or push endpoint: personal data, never logged.
    pub address: String,
    /// The SMS text (or push body) exactly as the caregiver reads it.
    pub text: String,
    /// The provider's message id.
    pub id: String,
    pub at: Instant,
}

/// Every message sent during a run, and where to show each as it goes.
#[derive(Debug, Default)]
pub struct SentLog {
    sent: Mutex<Vec<Sent>>,
    show: Option<UnboundedSender<Sent>>,
}

impl SentLog {
    pub fn new(show: Option<UnboundedSender<Sent>>) -> Self {
        Self { sent: Mutex::new(Vec::new()), show }
    }

    fn record(&self, sent: Sent) {
        if let Some(show) = &self.show {
            // The view may have stopped; the record below is what counts.
            let _ = show.send(sent.clone());
        }
        self.sent.lock().unwrap_or_else(PoisonError::into_inner).push(sent);
    }

    pub fn all(&self) -> Vec<Sent> {
        self.since(0)
    }

    /// The messages from the `from`-th on (for readers that follow the log).
    pub fn since(&self, from: usize) -> Vec<Sent> {
        let sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        sent.get(from..).map(<[Sent]>::to_vec).unwrap_or_default()
    }
}

/// A [`Notifier`] that records what the wrapped one sent.
#[derive(Debug, Clone)]
pub struct Recording<N> {
    pub inner: N,
    pub log: Arc<SentLog>,
    pub live: Arc<Live>,
}

impl<N: Notifier + Sync> Notifier for Recording<N> {
    async fn send(&self, channel: Channel, address: &str, message: &Message) -> Result<String, NotifyError> {
        let id = self.inner.send(channel, address, message).await?;
        let text = match channel {
            Channel::Sms => message.sms.clone(),
            Channel::Push => format!("{}: {}", message.push_title, message.push_body),
            Channel::Voice => format!("📞 {}", message.voice),
        };
        Live::add(&self.live.notifications_sent, 1);
        self.log.record(Sent {
            alert_id: message.alert_id.clone(),
            channel,
            address: address.to_owned(),
            text,
            id: id.clone(),
            at: Instant::now(),
        });
        Ok(id)
    }
}
