//! The alert path, written once over the domain's ports and used by both the
//! alert-processor (stream batches) and the offline-detector (schedule).
//!
//! For one wearer, in this order, so that a crash at any point loses nothing and
//! duplicates nothing:
//! 1. load the rule state (with its version; at the same time as the profile)
//!    and evaluate the readings;
//! 2. store every alert (put-if-absent on its deterministic id) and, at the same
//!    time, claim each of its messages (alert, caregiver, channel) — or defer
//!    low-severity messages past quiet hours;
//! 3. once the alert is stored, send what was claimed and confirm each send;
//!    record the alert's escalation steps (deferred deliveries, due at their
//!    time; the scheduled path sends them unless someone acknowledged first);
//! 4. save the state with a conditional write; on a conflict, start again from 1.
//!
//! A crash before 4 re-evaluates the same readings on the old state: the same
//! alert ids come out, the alerts table keeps one row each, and the delivery
//! claims stop a second message. Saving the state last is what makes "never
//! lost" hold: the state never says "alerted" before the caregivers were told.

pub mod aws;
pub mod curated;

use chrono::{DateTime, Utc};
use futures_util::future::{join, join_all};
use vigil_domain::alerts::{self, Alert, RuleKind, Thresholds, WearerState};
use vigil_domain::care::{Channel, Delivery, WearerProfile, plan_deliveries, plan_fall_cancelled};
use vigil_domain::escalation;
use vigil_domain::lifecycle::{AlertRecord, AlertStatus, Via};
use vigil_domain::link::LinkMaker;
use vigil_domain::ports::{
    AlertStore, Claim, DeliveryLog, Notifier, NotifyError, REFUSED, StateStore, StoreError, WearerDirectory,
};
use vigil_domain::reading::Reading;

/// How often a wearer's evaluation is redone after losing a conditional write.
const MAX_STATE_CONFLICTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum AlertingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A message could not be sent now; its claim was released for the retry.
    #[error("a notification failed transiently")]
    Notify(#[source] NotifyError),
    #[error("rule state of a wearer kept changing under us ({MAX_STATE_CONFLICTS} conflicts)")]
    Contended,
}

/// What one call did, for metrics and logs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Alerts stored for the first time.
    pub alerts_raised: Vec<Alert>,
    /// Messages sent now.
    pub sent: usize,
    /// Messages held for quiet hours.
    pub deferred: usize,
    /// Messages the provider refused for good (bad number, disabled endpoint).
    pub refused: usize,
    /// Alerts resolved (a band that was silent is back, a fall cancelled on the band late).
    pub resolved: usize,
    /// Alerts stored but not sent: their rule is snoozed for the wearer.
    pub snoozed: usize,
    /// Escalation steps recorded, to be sent when due.
    pub steps_planned: usize,
    /// Escalation steps sent now (calls among them: `calls`).
    pub escalated: usize,
    /// Calls placed now.
    pub calls: usize,
    /// Escalation steps dropped because the alert was acknowledged or resolved.
    pub cancelled: usize,
    /// Alerts whose last escalation level went out now with nobody answering.
    pub last_level: Vec<String>,
    /// Due deliveries that failed transiently now; they stay due for the next run.
    pub failed: usize,
    /// Wearers evaluated with no profile (readings, but nobody to tell): 0 or 1 per
    /// wearer and evaluation.
    pub without_profile: usize,
}

impl Outcome {
    /// Adds another outcome into this one (batch totals).
    pub fn add(&mut self, other: Outcome) {
        self.alerts_raised.extend(other.alerts_raised);
        self.sent += other.sent;
        self.deferred += other.deferred;
        self.refused += other.refused;
        self.resolved += other.resolved;
        self.snoozed += other.snoozed;
        self.steps_planned += other.steps_planned;
        self.escalated += other.escalated;
        self.calls += other.calls;
        self.cancelled += other.cancelled;
        self.last_level.extend(other.last_level);
        self.failed += other.failed;
        self.without_profile += other.without_profile;
    }
}

/// One device's readings for a wearer, in the order the stream delivered them.
#[derive(Debug, Clone, Copy)]
pub struct DeviceReadings<'a> {
    pub device_id: &'a str,
    pub readings: &'a [Reading],
}

/// Where raised and resolved alerts go besides the alerts table: the curated
/// alerts for the warehouse. Handed every alert an evaluation raised, and every
/// alert it resolved as it then stands (with the winning resolution, which may
/// be an earlier one), including those an earlier attempt whose state was not
/// saved already handed on, so it must be idempotent (deterministic keys).
pub trait AlertSink {
    fn record(
        &self,
        wearer_id: &str,
        raised: &[Alert],
        resolved: &[AlertRecord],
    ) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;
}

/// No sink: alerts go to the alerts table only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSink;

impl AlertSink for NoSink {
    async fn record(&self, _: &str, _: &[Alert], _: &[AlertRecord]) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A sink that may be switched off by configuration (`None`: alerts table only).
impl<T: AlertSink + Sync> AlertSink for Option<T> {
    async fn record(&self, wearer_id: &str, raised: &[Alert], resolved: &[AlertRecord]) -> Result<(), StoreError> {
        match self {
            Some(sink) => sink.record(wearer_id, raised, resolved).await,
            None => Ok(()),
        }
    }
}

/// The alert path's ports, named once. Each setup — AWS ([`aws::Aws`]), the tests'
/// in-memory stores, the local runner — is one type implementing this, so whatever
/// uses the alert path takes one type parameter instead of six.
pub trait AlertPorts {
    type Wearers: WearerDirectory + Sync;
    type States: StateStore + Sync;
    type Alerts: AlertStore + Sync;
    type Deliveries: DeliveryLog + Sync;
    type Notifier: Notifier + Sync;
    /// Where alerts go besides the alerts table: the curated alerts, or [`NoSink`].
    type Sink: AlertSink + Sync;
}

/// The alert path over its ports.
pub struct Alerting<P: AlertPorts> {
    pub wearers: P::Wearers,
    pub states: P::States,
    pub alerts: P::Alerts,
    pub deliveries: P::Deliveries,
    pub notifier: P::Notifier,
    /// Handed every alert an evaluation raised or resolved, after delivery and before
    /// the state is saved: if it fails, the state is not saved, so the retry evaluates
    /// the same readings into the same alerts (deliveries already made are not
    /// repeated) and hands them on again.
    pub sink: P::Sink,
    /// Signs the acknowledgement link each SMS carries; `None`: SMS without links.
    pub links: Option<LinkMaker>,
}

impl<P: AlertPorts> std::fmt::Debug for Alerting<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerting").finish_non_exhaustive()
    }
}

impl<P: AlertPorts> Alerting<P> {
    /// Evaluates one wearer's readings from a stream batch, as of the wall clock `now`
    /// (used to raise falls whose cancel window has passed and for quiet hours).
    pub async fn process_wearer(
        &self,
        wearer_id: &str,
        batches: &[DeviceReadings<'_>],
        now: DateTime<Utc>,
    ) -> Result<Outcome, AlertingError> {
        let ((profile, registered), state) = self.profile_and_state(wearer_id).await?;
        let tz = profile.tz();
        let mut outcome = self
            .with_state(wearer_id, &profile, state, now, |state, th| {
                let mut raised = Vec::new();
                for batch in batches {
                    raised.extend(alerts::evaluate(state, th, tz, batch.device_id, batch.readings));
                }
                raised.extend(alerts::flush(state, th, now));
                raised
            })
            .await?;
        outcome.without_profile = usize::from(!registered);
        Ok(outcome)
    }

    /// The scheduled check of one wearer: falls past their cancel window and a
    /// band silent for longer than the wearer's no-data threshold.
    pub async fn check_wearer(&self, wearer_id: &str, now: DateTime<Utc>) -> Result<Outcome, AlertingError> {
        let ((profile, _), state) = self.profile_and_state(wearer_id).await?;
        self.with_state(wearer_id, &profile, state, now, |state, th| {
            let mut raised = alerts::flush(state, th, now);
            raised.extend(alerts::check_offline(state, th, now));
            raised
        })
        .await
    }

    /// The scheduled sends: deferred messages whose quiet hours are over, and
    /// escalation steps that are due — each step only while its alert is still
    /// open (acknowledged or resolved: the step is cancelled, never sent). A step
    /// that fails transiently stays due for the next run, is counted in
    /// `failed`, and does not hold back the others. `Err` only when the due
    /// deliveries could not be listed.
    pub async fn send_due(&self, now: DateTime<Utc>) -> Result<Outcome, AlertingError> {
        let mut outcome = Outcome::default();
        for mut delivery in self.deliveries.due(now).await? {
            delivery.not_before = None;
            let result = match delivery.step {
                Some(step) => self.escalate(&delivery, step.last, now, &mut outcome).await,
                None => self.deliver(&delivery, now, &mut outcome).await.map(|_| ()),
            };
            if let Err(err) = result {
                tracing::warn!(alert_id = %delivery.alert_id, error = %err, "a due delivery failed; it stays due");
                outcome.failed += 1;
            }
        }
        Ok(outcome)
    }

    /// Sends one escalation step if its alert is still open.
    async fn escalate(
        &self,
        step: &Delivery,
        last: bool,
        now: DateTime<Utc>,
        outcome: &mut Outcome,
    ) -> Result<(), AlertingError> {
        let open = self.alerts.get(&step.alert_id).await?.is_some_and(|r| r.status == AlertStatus::Open);
        if !open {
            self.deliveries.cancel(step).await?;
            outcome.cancelled += 1;
            return Ok(());
        }
        let sent_before = outcome.sent;
        let went_out = self.deliver(step, now, outcome).await?;
        if outcome.sent > sent_before {
            outcome.escalated += 1;
            if step.channel == Channel::Voice {
                outcome.calls += 1;
            }
        }
        // A refused last step (an unreachable number) still means the last level was reached.
        if went_out && last && !outcome.last_level.contains(&step.alert_id) {
            outcome.last_level.push(step.alert_id.clone());
        }
        Ok(())
    }

    /// The wearer's profile, and whether they have one (else a stand-in with nobody
    /// to tell, counted as `WearersWithoutProfile`).
    async fn profile(&self, wearer_id: &str) -> Result<(WearerProfile, bool), AlertingError> {
        Ok(match self.wearers.wearer(wearer_id).await? {
            Some(profile) => (profile, true),
            None => {
                // Alerts are still evaluated and stored, so nothing is lost once the
                // wearer is registered; but nobody can be told. An operator must act.
                tracing::error!(wearer_id, "no wearer profile: alerts are stored but nobody is notified");
                let stand_in = WearerProfile {
                    snoozes: Default::default(),
                    escalation: Default::default(),
                    wearer_id: wearer_id.to_owned(),
                    name: String::new(),
                    time_zone: "UTC".into(),
                    thresholds: Thresholds::default(),
                    caregivers: Vec::new(),
                };
                (stand_in, false)
            }
        })
    }

    /// The profile and the rule state: two independent reads, made at once (the
    /// profile's one-minute cache rarely hits at one upload a minute, so this is
    /// one round trip less before every alert).
    async fn profile_and_state(
        &self,
        wearer_id: &str,
    ) -> Result<((WearerProfile, bool), Option<WearerState>), AlertingError> {
        let (profile, state) = join(self.profile(wearer_id), self.states.load(wearer_id)).await;
        Ok((profile?, state?))
    }

    /// Evaluates `rules` on the wearer's state (`loaded`: as just read; read again
    /// after a lost conditional write), acts on what they raise and saves the state.
    async fn with_state(
        &self,
        wearer_id: &str,
        profile: &WearerProfile,
        mut loaded: Option<WearerState>,
        now: DateTime<Utc>,
        rules: impl Fn(&mut WearerState, &Thresholds) -> Vec<Alert>,
    ) -> Result<Outcome, AlertingError> {
        for attempt in 0..MAX_STATE_CONFLICTS {
            if attempt > 0 {
                loaded = self.states.load(wearer_id).await?;
            }
            let mut state = loaded.take().unwrap_or_else(|| WearerState::new(wearer_id));
            let silent_since = state.episodes.get(&RuleKind::NoData).map(|e| e.start);
            let falls_before = state.raised_falls.clone();
            let raised = rules(&mut state, &profile.thresholds);

            let mut outcome = Outcome::default();
            for alert in &raised {
                self.store_and_tell(alert, profile, now, &mut outcome).await?;
            }
            let mut resolved = Vec::new();
            if let Some(start) = silent_since
                && !state.episodes.contains_key(&RuleKind::NoData)
            {
                let id = alerts::AlertId::new(wearer_id, RuleKind::NoData, start);
                // Returned on a retry too (as it stands: the first resolution),
                // so the sink always hears of it, in the same state.
                if let Some(record) = self.alerts.resolve(id.as_str(), now).await? {
                    resolved.push(record);
                    outcome.resolved += 1;
                }
            }
            // A fall whose cancel came after its alert went out: resolved, and its
            // caregivers told it was cancelled on the band (once: the notice has a
            // delivery key of its own). Escalation steps still due are cancelled
            // when they come up, as for any resolved alert.
            for fall in alerts::newly_cancelled_falls(&falls_before, &state.raised_falls) {
                let (id, cancelled_at) = (fall.alert_id(wearer_id), fall.cancelled_at.unwrap_or(now));
                let Some(record) = self.alerts.resolve(id.as_str(), now).await? else { continue };
                // Unless a caregiver resolved it first: then their resolution stands, and
                // they need no notice.
                if record.resolved.as_ref().is_some_and(|r| r.via == Via::Rule) {
                    // Level 2 heard of it only if an escalation step reached them.
                    let asked = escalation::beyond_level1_due(&record.alert, profile, now);
                    let went_out = self.deliveries.went_out(&asked).await?;
                    let reached = escalation::reached_by(&asked, &went_out);
                    for notice in plan_fall_cancelled(&record.alert, profile, cancelled_at, &reached) {
                        self.deliver(&notice, now, &mut outcome).await?;
                    }
                }
                resolved.push(record);
                outcome.resolved += 1;
            }
            if !raised.is_empty() || !resolved.is_empty() {
                self.sink.record(wearer_id, &raised, &resolved).await?;
            }
            // When the scheduled detector must look again (its index's key; kept
            // while the stored one is early enough not to move the index).
            state.next_check = alerts::check_to_store(&state, &profile.thresholds, now);
            if self.states.save(&state).await? {
                return Ok(outcome);
            }
            tracing::info!(wearer_id, "rule state changed concurrently; evaluating again");
        }
        Err(AlertingError::Contended)
    }

    /// Raises `alert`, which no rule state holds (a trend found in the wearer's
    /// days): stores it, tells the caregivers and plans its escalation as for any
    /// alert, and hands it to the sink. Idempotent: raising it again (a retried or
    /// recomputed day) repeats no message and no step.
    pub async fn raise(
        &self,
        alert: &Alert,
        profile: &WearerProfile,
        now: DateTime<Utc>,
    ) -> Result<Outcome, AlertingError> {
        let mut outcome = Outcome::default();
        self.store_and_tell(alert, profile, now, &mut outcome).await?;
        self.sink.record(&alert.wearer_id, std::slice::from_ref(alert), &[]).await?;
        Ok(outcome)
    }

    /// Sends a message that is not an alert's (the daily message): once per
    /// [`Delivery::key`], however often it is asked (a read says whether it went
    /// out already, so asking again costs no claim); counted in `sent`, `refused`.
    pub async fn send(&self, delivery: &Delivery, now: DateTime<Utc>) -> Result<Outcome, AlertingError> {
        let mut outcome = Outcome::default();
        if self.deliveries.went_out(std::slice::from_ref(delivery)).await?.first() == Some(&true) {
            return Ok(outcome);
        }
        self.deliver(delivery, now, &mut outcome).await?;
        Ok(outcome)
    }

    /// Stores `alert` and, unless its rule is snoozed, tells its level-1
    /// caregivers and records its escalation steps.
    async fn store_and_tell(
        &self,
        alert: &Alert,
        profile: &WearerProfile,
        now: DateTime<Utc>,
        outcome: &mut Outcome,
    ) -> Result<(), AlertingError> {
        // A snoozed rule's alert is stored (and reaches the warehouse) but not sent.
        if profile.snoozed(alert.rule, now) {
            if self.alerts.put_alert(alert, true).await? {
                outcome.alerts_raised.push(alert.clone());
            }
            outcome.snoozed += 1;
            return Ok(());
        }
        // Deliver even when the alert existed: a previous attempt may have
        // stored it and died before telling everyone. Claims dedupe, so every
        // recipient is told at once: nobody's message waits behind another's.
        // The alert's put and the claims are independent writes, made at once;
        // the messages go out only once the alert is stored, so an acknowledgement
        // from one always finds its alert.
        let links = self.links.as_ref();
        let deliveries = plan_deliveries(alert, profile, now, links);
        let (stored, claims) = join(
            self.alerts.put_alert(alert, false),
            join_all(deliveries.iter().map(|delivery| async move {
                let mut one = Outcome::default();
                self.claim(delivery, now, &mut one).await.map(|granted| (granted, one))
            })),
        )
        .await;
        let granted: Vec<&Delivery> = claims
            .iter()
            .zip(&deliveries)
            .filter_map(|(claim, delivery)| matches!(claim, Ok((true, _))).then_some(delivery))
            .collect();
        if let Err(err) = stored {
            // Nothing went out: give the claims back so the retry sends at once
            // (a claim not given back is granted again when its lease runs out).
            for released in join_all(granted.iter().map(|delivery| self.deliveries.release(delivery))).await {
                if let Err(release_err) = released {
                    tracing::warn!(alert_id = %alert.id, error = %release_err, "a claim was not given back; it is due again after its lease");
                }
            }
            return Err(err.into());
        }
        if stored? {
            outcome.alerts_raised.push(alert.clone());
        }
        // What was granted goes out even if another claim failed (that error then
        // sends the wearer's records round again, and the retry sends the rest).
        let told = join_all(granted.iter().map(|delivery| async move {
            let mut one = Outcome::default();
            self.send_claimed(delivery, now, &mut one).await.map(|_| one)
        }))
        .await;
        for claim in claims {
            outcome.add(claim?.1);
        }
        for one in told {
            outcome.add(one?);
        }
        // Then what happens if nobody answers: recorded once per step (a
        // retry's later `now` changes no due time already recorded).
        let steps = escalation::deliveries(alert, profile, now, links);
        for recorded in join_all(steps.iter().map(|step| self.deliveries.defer(step))).await {
            recorded?;
            outcome.steps_planned += 1;
        }
        Ok(())
    }

    /// Sends `delivery` unless it was sent already or another sender holds it;
    /// `Ok(true)` when it was dealt with now: sent, or refused for good (counted in
    /// `refused`; an unreachable number never blocks the next recipient).
    async fn deliver(
        &self,
        delivery: &Delivery,
        now: DateTime<Utc>,
        outcome: &mut Outcome,
    ) -> Result<bool, AlertingError> {
        if !self.claim(delivery, now, outcome).await? {
            return Ok(false);
        }
        self.send_claimed(delivery, now, outcome).await
    }

    /// The first half of [`Self::deliver`]: records a delivery that is not due yet
    /// (counted in `deferred`), else claims it; `Ok(true)` when the claim is granted
    /// and the caller must send it.
    async fn claim(
        &self,
        delivery: &Delivery,
        now: DateTime<Utc>,
        outcome: &mut Outcome,
    ) -> Result<bool, AlertingError> {
        if delivery.not_before.is_some_and(|t| t > now) {
            self.deliveries.defer(delivery).await?;
            outcome.deferred += 1;
            return Ok(false);
        }
        Ok(self.deliveries.claim(delivery, now).await? == Claim::Granted)
    }

    /// The second half of [`Self::deliver`]: sends a delivery whose claim was granted.
    async fn send_claimed(
        &self,
        delivery: &Delivery,
        now: DateTime<Utc>,
        outcome: &mut Outcome,
    ) -> Result<bool, AlertingError> {
        match self.notifier.send(delivery.channel, &delivery.address, &delivery.message).await {
            Ok(message_id) => {
                self.deliveries.sent(delivery, &message_id, now).await?;
                outcome.sent += 1;
                Ok(true)
            }
            Err(NotifyError::Rejected(source)) => {
                // Retrying cannot help; keep the claim so retries do not hammer the
                // provider, and tell the operator (no number or text in the log).
                tracing::error!(alert_id = %delivery.alert_id, caregiver_id = %delivery.caregiver_id, channel = delivery.channel.as_str(), error = %source, "notification refused by the provider; fix the caregiver's contact");
                self.deliveries.sent(delivery, REFUSED, now).await?;
                outcome.refused += 1;
                Ok(true)
            }
            Err(err @ NotifyError::Transient(_)) => {
                self.deliveries.release(delivery).await?;
                Err(AlertingError::Notify(err))
            }
        }
    }
}
