//! sms-reply: a caregiver acknowledges an alert by answering its SMS.
//!
//! AWS End User Messaging two-way SMS publishes every SMS sent to our number to an
//! SNS topic, as a JSON message ([`InboundSms`]); this function is subscribed to it.
//! For each reply:
//!
//! 1. a message that is not that JSON is counted (`RepliesMalformed`), never retried;
//! 2. a body that is not a yes ([`vigil_domain::reply::acknowledges`]: `1`, `OK`, `SI`,
//!    `SÍ`, `SIM`, `YES`, case and accents ignored) is counted (`RepliesNotAcknowledging`);
//! 3. the SMS we sent to the sender's number ([`TextLog::texted`], newest first) are
//!    looked at: none at all is `RepliesUnknownNumber`;
//! 4. of those sent within the reply window before the reply arrived, newest first,
//!    the first whose alert is still open, and whose caregiver still has this number
//!    in the wearer's profile, is acknowledged as that caregiver, through
//!    [`Via::Sms`]. None is `RepliesUnmatched`;
//! 5. when this reply's acknowledgement is the one that stands, the caregiver gets a
//!    short confirmation SMS ([`vigil_domain::reply::confirmation`]); the alert as it
//!    then stands goes to the lifecycle sink (the curated alerts), won or lost.
//!
//! Retries (Lambda retries a failed asynchronous invocation twice): a reply whose
//! acknowledgement already stands (same caregiver, through SMS, at or after the reply
//! arrived) is recognized (`RepliesRepeated`): it acknowledges nothing else and sends
//! no second confirmation, but hands the alert to the sink again, completing a write
//! a failure left undone. So a crash between the acknowledgement and the
//! confirmation loses the confirmation, never the acknowledgement.
//!
//! Phone numbers and message bodies are personal data: they are never logged, and
//! never in an error.

use std::collections::HashSet;
use std::time::Instant;

use aws_lambda_events::event::sns::{SnsEvent, SnsMessage, SnsRecord};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use vigil_domain::alerts::Message;
use vigil_domain::care::{Channel, WearerProfile};
use vigil_domain::config::{self as env, ConfigError, Source};
use vigil_domain::lifecycle::{AlertRecord, AlertStatus, Transition, Via};
use vigil_domain::ports::{AlertStore, LifecycleSink, Notifier, StoreError, TextLog, Texted, WearerDirectory};
use vigil_lambda::Deadline;
use vigil_lambda::deadline::within;
use vigil_lambda::metrics::Metrics;

pub const FUNCTION: &str = "sms-reply";

/// Time kept back from the invocation's deadline to answer Lambda.
pub const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

/// How many of the SMS sent to a number a reply looks at, newest first.
pub const TEXTED_LIMIT: usize = 20;

/// One SMS received on our number, as two-way SMS publishes it to the topic (see
/// "Example of a two-way SMS message payload for Amazon SNS topics" in the AWS End
/// User Messaging SMS user guide). Personal data: its `Debug` shows neither number
/// nor body.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundSms {
    /// The number that sent the reply: the caregiver's, in E.164.
    pub origination_number: String,
    /// Our number, the one the reply was sent to.
    #[serde(default)]
    pub destination_number: String,
    /// The registered keyword of our number.
    #[serde(default)]
    pub message_keyword: String,
    /// What the caregiver wrote.
    pub message_body: String,
    /// The reply's own id.
    #[serde(default)]
    pub inbound_message_id: String,
    /// The id of the message the reply answers, when the service knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_published_message_id: Option<String>,
}

impl std::fmt::Debug for InboundSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundSms")
            .field("origination_number", &"<redacted>")
            .field("destination_number", &"<redacted>")
            .field("message_keyword", &self.message_keyword)
            .field("message_body", &"<redacted>")
            .field("inbound_message_id", &self.inbound_message_id)
            .finish_non_exhaustive()
    }
}

/// The SNS event Lambda receives when two-way SMS publishes the SMS `body` sent from
/// `origination` to our number `destination` with id `id`, published now. Tests and
/// `vigil run` inject replies with it.
pub fn inbound_event(origination: &str, destination: &str, body: &str, id: &str) -> SnsEvent {
    inbound_event_at(origination, destination, body, id, Utc::now())
}

/// [`inbound_event`] published at `published` (a simulated clock's time).
pub fn inbound_event_at(
    origination: &str,
    destination: &str,
    body: &str,
    id: &str,
    published: DateTime<Utc>,
) -> SnsEvent {
    let sms = InboundSms {
        origination_number: origination.to_owned(),
        destination_number: destination.to_owned(),
        message_keyword: "KEYWORD_VIGIL".to_owned(),
        message_body: body.to_owned(),
        inbound_message_id: id.to_owned(),
        previous_published_message_id: None,
    };
    let topic = "arn:aws:sns:eu-west-1:000000000000:inboundSmsTopic";
    let mut message = SnsMessage::default();
    message.sns_message_type = "Notification".to_owned();
    // The same reply always makes the same event, as a redelivery does.
    message.message_id = format!("sns-{id}");
    message.topic_arn = topic.to_owned();
    message.timestamp = published;
    message.signature_version = "1".to_owned();
    message.message = serde_json::to_string(&sms).unwrap_or_default();
    let mut record = SnsRecord::default();
    record.event_source = "aws:sns".to_owned();
    record.event_version = "1.0".to_owned();
    record.event_subscription_arn = format!("{topic}:subscription");
    record.sns = message;
    let mut event = SnsEvent::default();
    event.records = vec![record];
    event
}

/// Configuration beyond the tables' clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyConfig {
    /// `DELIVERIES_TABLE`: the SMS sent, by number (`phone-sent_at-index`).
    pub deliveries_table: String,
    /// `ALERTS_TABLE`: alerts with their lifecycle.
    pub alerts_table: String,
    /// `WEARERS_TABLE`: wearer profiles (the caregiver's number and language, the
    /// wearer's name).
    pub wearers_table: String,
    /// `CAREGIVERS_TABLE`: caregiver records (number, language) the profiles link to.
    pub caregivers_table: String,
    /// `REPLY_WINDOW_HOURS` (default 24): a reply acknowledges only an alert texted to
    /// its number at most this long before the reply arrived.
    pub window: Duration,
}

impl ReplyConfig {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        let hours: u32 = env::positive_or(src, "REPLY_WINDOW_HOURS", 24, "hours as a positive integer")?;
        Ok(Self {
            deliveries_table: env::required(src, "DELIVERIES_TABLE", "the notification deliveries DynamoDB table")?,
            alerts_table: env::required(src, "ALERTS_TABLE", "the alerts DynamoDB table")?,
            wearers_table: env::required(src, "WEARERS_TABLE", "the wearer profiles DynamoDB table")?,
            caregivers_table: env::required(src, "CAREGIVERS_TABLE", "the caregivers DynamoDB table")?,
            window: Duration::hours(i64::from(hours)),
        })
    }
}

/// sms-reply on AWS (`N`: the notifier, SNS unless the local runner wraps it); the
/// lifecycle goes to the curated alerts when `DATA_BUCKET` is set.
pub type AwsSmsReply<N = vigil_aws::sns::SnsNotifier> = SmsReply<
    vigil_aws::deliveries::DynamoDeliveryLog,
    vigil_aws::alerts::DynamoAlertStore,
    vigil_aws::wearers::DynamoWearerDirectory,
    N,
    Option<vigil_alerting::aws::AwsCuratedAlerts>,
>;

/// sms-reply as deployed, from its environment (see `function.json`) and one SDK
/// config, at cold start. Its `main` and `vigil run` both build it here.
pub async fn build(
    src: &impl Source,
    sdk: &aws_config::SdkConfig,
) -> Result<AwsSmsReply, vigil_aws::secrets::SecretError> {
    let config = ReplyConfig::from_source(src)?;
    let lifecycle = vigil_alerting::aws::curated_alerts(src, sdk).await?;
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    Ok(SmsReply {
        texts: vigil_aws::deliveries::DynamoDeliveryLog::new(dynamodb.clone(), &config.deliveries_table),
        alerts: vigil_aws::alerts::DynamoAlertStore::new(dynamodb.clone(), &config.alerts_table),
        wearers: vigil_aws::wearers::DynamoWearerDirectory::new(
            dynamodb,
            &config.wearers_table,
            &config.caregivers_table,
        ),
        notifier: vigil_aws::sns::SnsNotifier::new(vigil_aws::sdk::sns(sdk)),
        lifecycle,
        window: config.window,
    })
}

/// What became of one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not the JSON two-way SMS publishes: retrying cannot help.
    Malformed,
    /// Not one of the yes words.
    NotAcknowledging,
    /// We never texted this number.
    UnknownNumber,
    /// No alert texted to this number within the window is open (or its caregiver
    /// no longer has this number).
    Unmatched,
    /// Acknowledged `alert_id` as `caregiver_id`; `confirmed`: the confirmation SMS
    /// went out.
    Acknowledged { alert_id: String, caregiver_id: String, confirmed: bool },
    /// Someone acknowledged or resolved `alert_id` between our read and our write: their
    /// step stands; no confirmation.
    Late { alert_id: String },
    /// This reply had acknowledged `alert_id` already (a retried event): nothing new.
    Repeated { alert_id: String },
}

/// What one invocation did; also the Lambda's response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub replies: usize,
    pub acknowledged: usize,
    pub confirmations_sent: usize,
    pub confirmations_failed: usize,
    pub malformed: usize,
    pub not_acknowledging: usize,
    pub unknown_number: usize,
    pub unmatched: usize,
    pub late: usize,
    pub repeated: usize,
    pub failed: usize,
}

impl Summary {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Malformed => self.malformed += 1,
            Outcome::NotAcknowledging => self.not_acknowledging += 1,
            Outcome::UnknownNumber => self.unknown_number += 1,
            Outcome::Unmatched => self.unmatched += 1,
            Outcome::Acknowledged { confirmed, .. } => {
                self.acknowledged += 1;
                if *confirmed {
                    self.confirmations_sent += 1;
                } else {
                    self.confirmations_failed += 1;
                }
            }
            Outcome::Late { .. } => self.late += 1,
            Outcome::Repeated { .. } => self.repeated += 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// A store failed (throttling, a timeout, …): Lambda retries the invocation; what
    /// this reply did already is recognized then.
    #[error("{failed} of {replies} replies failed")]
    Failed {
        failed: usize,
        replies: usize,
        #[source]
        first: StoreError,
    },
}

/// The handler, over its ports: the SMS sent by number, the alerts, the wearer
/// profiles, the notifier for the confirmation and the lifecycle sink.
#[derive(Debug)]
pub struct SmsReply<T, A, W, N, S> {
    pub texts: T,
    pub alerts: A,
    pub wearers: W,
    pub notifier: N,
    pub lifecycle: S,
    /// `REPLY_WINDOW_HOURS`.
    pub window: Duration,
}

impl<T, A, W, N, S> SmsReply<T, A, W, N, S>
where
    T: TextLog + Sync,
    A: AlertStore + Sync,
    W: WearerDirectory + Sync,
    N: Notifier + Sync,
    S: LifecycleSink + Sync,
{
    /// The same handler with its notifier wrapped (the local runner records what is sent).
    pub fn map_notifier<M: Notifier + Sync>(self, wrap: impl FnOnce(N) -> M) -> SmsReply<T, A, W, M, S> {
        let Self { texts, alerts, wearers, notifier, lifecycle, window } = self;
        SmsReply { texts, alerts, wearers, notifier: wrap(notifier), lifecycle, window }
    }

    /// Lambda's entry: every reply in `event` at `now`, its metrics written to stdout as EMF.
    pub async fn handle(&self, event: SnsEvent, now: DateTime<Utc>) -> Result<Summary, ReplyError> {
        let (result, metrics) = self.process(&event, now).await;
        metrics.emit();
        result
    }

    /// Lambda's entry under the invocation's `deadline`: replies not done by then
    /// fail the invocation, so Lambda retries it (see [`Self::process_within`]).
    pub async fn handle_within(
        &self,
        event: SnsEvent,
        now: DateTime<Utc>,
        deadline: Deadline,
    ) -> Result<Summary, ReplyError> {
        let (result, metrics) = self.process_within(&event, now, Some(deadline)).await;
        metrics.emit();
        result
    }

    /// Every reply in `event` at `now`, with no deadline of its own (tests); see
    /// [`Self::process_within`].
    pub async fn process(&self, event: &SnsEvent, now: DateTime<Utc>) -> (Result<Summary, ReplyError>, Metrics) {
        self.process_within(event, now, None).await
    }

    /// Every reply in `event` at `now`, each under `deadline` when there is one;
    /// returns the result and the metrics without writing them (the local runner
    /// shows them instead). A store error, or a reply not done by the deadline
    /// (`RepliesTimedOut`), fails the invocation after the other replies are done,
    /// so Lambda retries it.
    pub async fn process_within(
        &self,
        event: &SnsEvent,
        now: DateTime<Utc>,
        deadline: Option<Deadline>,
    ) -> (Result<Summary, ReplyError>, Metrics) {
        let started = Instant::now();
        let mut metrics = Metrics::new(FUNCTION);
        let mut summary = Summary { replies: event.records.len(), ..Summary::default() };
        let mut first_error = None;
        let mut timed_out = 0;
        for record in &event.records {
            let answer = within(deadline, self.reply(&record.sns, now)).await.unwrap_or_else(|expired| {
                timed_out += 1;
                Err(StoreError {
                    operation: "reply",
                    resource: FUNCTION.into(),
                    retryable: true,
                    source: expired.into(),
                })
            });
            match answer {
                Ok(outcome) => summary.add(&outcome),
                Err(err) => {
                    summary.failed += 1;
                    tracing::warn!(
                        sns_message_id = %record.sns.message_id,
                        error = %err,
                        retryable = err.retryable,
                        "reply failed; Lambda retries the invocation"
                    );
                    first_error.get_or_insert(err);
                }
            }
        }
        metrics
            .count("RepliesReceived", summary.replies)
            .count("RepliesAcknowledged", summary.acknowledged)
            .count("RepliesMalformed", summary.malformed)
            .count("RepliesNotAcknowledging", summary.not_acknowledging)
            .count("RepliesUnknownNumber", summary.unknown_number)
            .count("RepliesUnmatched", summary.unmatched)
            .count("RepliesLate", summary.late)
            .count("RepliesRepeated", summary.repeated)
            .count("RepliesFailed", summary.failed)
            .count("RepliesTimedOut", timed_out)
            .count("ConfirmationsSent", summary.confirmations_sent)
            .count("ConfirmationsFailed", summary.confirmations_failed)
            .millis("RunMs", started.elapsed().as_secs_f64() * 1e3);
        let result = match first_error {
            Some(first) => Err(ReplyError::Failed { failed: summary.failed, replies: summary.replies, first }),
            None => Ok(summary),
        };
        (result, metrics)
    }

    /// One reply, published to the topic as `sns`, handled at `now`.
    pub async fn reply(&self, sns: &SnsMessage, now: DateTime<Utc>) -> Result<Outcome, StoreError> {
        let sms = match serde_json::from_str::<InboundSms>(&sns.message) {
            Ok(sms) if !sms.origination_number.trim().is_empty() => sms,
            // The parser's message may quote the body: only the SNS id is logged.
            _ => {
                tracing::warn!(sns_message_id = %sns.message_id, "not a two-way SMS message; dropped");
                return Ok(Outcome::Malformed);
            }
        };
        if !vigil_domain::reply::acknowledges(&sms.message_body) {
            return Ok(Outcome::NotAcknowledging);
        }
        let phone = sms.origination_number.trim();
        let texted = self.texts.texted(phone, TEXTED_LIMIT).await?;
        if texted.is_empty() {
            return Ok(Outcome::UnknownNumber);
        }
        // When the reply arrived (never later than now: clocks differ a little, and a
        // local run's clock is simulated). A reply answers an SMS sent before it, within
        // the window; a retry long after still looks at the same SMS.
        let arrived = sns.timestamp.min(now);
        let mut candidates: Vec<&Texted> =
            texted.iter().filter(|t| t.sent_at <= arrived && t.sent_at >= arrived - self.window).collect();
        candidates.sort_by_key(|t| std::cmp::Reverse(t.sent_at));
        let mut seen = HashSet::new();
        for texted in candidates {
            if !seen.insert(texted.alert_id.as_str()) {
                continue;
            }
            let Some(record) = self.alerts.get(&texted.alert_id).await? else { continue };
            if record.status != AlertStatus::Open {
                if repeats(&record, texted, arrived) {
                    tracing::info!(
                        alert_id = %record.alert.id,
                        caregiver_id = %texted.caregiver_id,
                        inbound_message_id = %sms.inbound_message_id,
                        "reply already acknowledged this alert (a retry): nothing new"
                    );
                    // Completes a sink write an earlier attempt may have left undone.
                    self.lifecycle.record(&record).await?;
                    return Ok(Outcome::Repeated { alert_id: texted.alert_id.clone() });
                }
                continue;
            }
            let Some(profile) = self.wearers.wearer(&record.alert.wearer_id).await? else { continue };
            // The number must still be this caregiver's: a number given up or reassigned
            // acknowledges nothing.
            let Some(caregiver) = profile.caregiver(&texted.caregiver_id) else { continue };
            if Channel::Sms.address(caregiver).map(str::trim) != Some(phone) {
                continue;
            }
            let step = Transition::acknowledge(&caregiver.id, now, Via::Sms);
            let Some(stands) = self.alerts.transition(&texted.alert_id, &step, None).await? else { continue };
            let won = stands.acknowledged.as_ref().is_some_and(|t| t.by == step.by && t.at == now && t.via == Via::Sms);
            if !won {
                tracing::info!(
                    alert_id = %stands.alert.id,
                    status = stands.status.as_str(),
                    "alert acknowledged or resolved by someone else first: reply was late"
                );
                // The winner's own path hands its step to the sink; failing here would
                // only make a retry take another alert instead.
                if let Err(err) = self.lifecycle.record(&stands).await {
                    tracing::warn!(alert_id = %stands.alert.id, error = %err, "the winner's step not handed to the sink here");
                }
                return Ok(Outcome::Late { alert_id: texted.alert_id.clone() });
            }
            tracing::info!(
                alert_id = %stands.alert.id,
                caregiver_id = %caregiver.id,
                inbound_message_id = %sms.inbound_message_id,
                "alert acknowledged by SMS reply"
            );
            // Before the sink: a sink failure retries the invocation, which recognizes this
            // reply and sends no second confirmation.
            let confirmed = self.confirm(&profile, &caregiver.id, &stands, phone).await;
            self.lifecycle.record(&stands).await?;
            return Ok(Outcome::Acknowledged {
                alert_id: texted.alert_id.clone(),
                caregiver_id: caregiver.id.clone(),
                confirmed,
            });
        }
        Ok(Outcome::Unmatched)
    }

    /// Sends the confirmation to `phone`; `false` (logged without the number or text)
    /// when the provider refused or failed. It is never retried: the acknowledgement
    /// stands either way.
    async fn confirm(&self, profile: &WearerProfile, caregiver_id: &str, record: &AlertRecord, phone: &str) -> bool {
        let language = profile.caregiver(caregiver_id).map(|c| c.language).unwrap_or_default();
        let message = Message {
            alert_id: record.alert.id.to_string(),
            sms: vigil_domain::reply::confirmation(language, &profile.name),
            push_title: String::new(),
            push_body: String::new(),
            voice: String::new(),
            language,
        };
        match self.notifier.send(Channel::Sms, phone, &message).await {
            Ok(_) => true,
            Err(err) => {
                let cause = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
                tracing::warn!(
                    alert_id = %record.alert.id,
                    caregiver_id,
                    error = %err,
                    cause,
                    "confirmation SMS not sent; the acknowledgement stands"
                );
                false
            }
        }
    }
}

/// Whether `record` (no longer open) was acknowledged by this very reply: by the
/// caregiver it was texted to, through SMS, at or after the reply `arrived`.
fn repeats(record: &AlertRecord, texted: &Texted, arrived: DateTime<Utc>) -> bool {
    record.acknowledged.as_ref().is_some_and(|t| t.via == Via::Sms && t.by == texted.caregiver_id && t.at >= arrived)
}

#[cfg(test)]
mod tests;
