//! Who is told about an alert, how, and when: wearer profiles, caregivers, and
//! the delivery plan for one alert (one SMS and/or one push per caregiver, low
//! severity held back until the caregiver's quiet hours end).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::alerts::{
    Alert, Language, Message, RuleKind, Severity, Thresholds, render, render_fall_cancelled, render_voice,
};
use crate::escalation::EscalationPolicy;
use crate::link::LinkMaker;

/// A wearer as the registry keeps them (personal data: never logged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WearerProfile {
    pub wearer_id: String,
    /// How caregivers know them, used in messages.
    pub name: String,
    /// IANA time zone, e.g. `Europe/Madrid`; daytime rules and message times use it.
    pub time_zone: String,
    #[serde(default)]
    pub thresholds: Thresholds,
    #[serde(default)]
    pub caregivers: Vec<Caregiver>,
    /// Rules silenced for a while by a caregiver (see [`Snooze`]); an expired
    /// snooze stays until the next snooze of its rule replaces it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub snoozes: BTreeMap<RuleKind, Snooze>,
    /// Who is told next when nobody acknowledges; the defaults need no setup.
    #[serde(default)]
    pub escalation: EscalationPolicy,
}

impl WearerProfile {
    /// The wearer's time zone; UTC if the registry holds an unknown name.
    pub fn tz(&self) -> Tz {
        self.time_zone.parse().unwrap_or(Tz::UTC)
    }

    /// The caregiver signed in as `sub` (their account), if they care for this wearer.
    pub fn caregiver_by_sub(&self, sub: &str) -> Option<&Caregiver> {
        if sub.is_empty() {
            return None;
        }
        self.caregivers.iter().find(|c| c.sub.as_deref() == Some(sub))
    }

    /// The caregiver with profile id `id`.
    pub fn caregiver(&self, id: &str) -> Option<&Caregiver> {
        self.caregivers.iter().find(|c| c.id == id)
    }

    /// The snoozes still running at `now`.
    pub fn active_snoozes(&self, now: DateTime<Utc>) -> impl Iterator<Item = (RuleKind, &Snooze)> {
        self.snoozes.iter().filter(move |(_, s)| s.until > now).map(|(rule, s)| (*rule, s))
    }

    /// Whether new alerts of `rule` are silenced at `now`. Critical rules never are.
    pub fn snoozed(&self, rule: RuleKind, now: DateTime<Utc>) -> bool {
        rule.severity() < Severity::Critical && self.snoozes.get(&rule).is_some_and(|s| s.until > now)
    }

    /// Whether the band counts as online at `now`, given when it was last seen:
    /// within the wearer's own no-data threshold.
    pub fn online(&self, last_seen: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        last_seen.is_some_and(|t| now - t < Duration::minutes(i64::from(self.thresholds.no_data_min)))
    }
}

/// Longest a rule may be snoozed.
pub const MAX_SNOOZE_MINUTES: u32 = 240;

/// New alerts of one rule for a wearer are stored but not sent until `until`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snooze {
    pub until: DateTime<Utc>,
    /// The caregiver (profile id) who asked.
    pub by: String,
}

/// Why a snooze is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnoozeError {
    #[error("{0} alerts are critical and can never be snoozed")]
    Critical(&'static str),
    #[error("minutes must be between 1 and {MAX_SNOOZE_MINUTES}")]
    Minutes,
}

impl Snooze {
    /// A snooze of `rule` for `minutes` from `now`, if allowed.
    pub fn new(rule: RuleKind, minutes: u32, by: &str, now: DateTime<Utc>) -> Result<Self, SnoozeError> {
        if rule.severity() == Severity::Critical {
            return Err(SnoozeError::Critical(rule.as_str()));
        }
        if !(1..=MAX_SNOOZE_MINUTES).contains(&minutes) {
            return Err(SnoozeError::Minutes);
        }
        Ok(Self { until: now + Duration::minutes(i64::from(minutes)), by: by.to_owned() })
    }
}

/// Someone who looks after a wearer and wants their alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Caregiver {
    /// Stable id; with the alert id and channel it keys the "sent" record.
    pub id: String,
    /// The caregiver's account (Cognito `sub`): what links them to this wearer in the
    /// caregivers' API. Without it they get messages but cannot sign in for this wearer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// How other caregivers see them ("Ana"), e.g. as the one who acknowledged an alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Escalation level: 1 (default) is told at once; 2 when level 1 does not answer
    /// (see [`crate::escalation`]).
    #[serde(default = "first_level")]
    pub level: u8,
    #[serde(default)]
    pub language: Language,
    /// E.164 phone number for SMS, e.g. `+34600111222`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// SNS mobile platform endpoint ARN for push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_endpoint: Option<String>,
    /// When low-severity alerts wait, in the caregiver's own time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// Opted in to the daily message about each wearer's day: the time of day they
    /// want it, in their quiet hours' zone (else the wearer's); see
    /// [`crate::days::due`]. Sent by push when they have a push endpoint, else SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_at: Option<NaiveTime>,
}

fn first_level() -> u8 {
    1
}

/// A daily span of local time, e.g. 22:00–07:00 (wrapping past midnight).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start: NaiveTime,
    pub end: NaiveTime,
    /// IANA time zone of the caregiver.
    pub time_zone: String,
}

impl QuietHours {
    /// When the quiet hours containing `now` end, or `None` if `now` is outside them.
    pub fn ends_after(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz: Tz = self.time_zone.parse().unwrap_or(Tz::UTC);
        let local = now.with_timezone(&tz);
        let t = local.time();
        let inside =
            if self.start <= self.end { t >= self.start && t < self.end } else { t >= self.start || t < self.end };
        if !inside {
            return None;
        }
        let mut day = local.date_naive();
        if t >= self.end {
            day += Duration::days(1);
        }
        // A DST gap at the end time: take the latest valid instant, or an hour later.
        let end = tz.from_local_datetime(&day.and_time(self.end));
        end.latest()
            .or_else(|| tz.from_local_datetime(&(day.and_time(self.end) + Duration::hours(1))).latest())
            .map(|e| e.with_timezone(&Utc))
    }
}

/// How a message reaches a caregiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Sms,
    Push,
    /// A phone call (text-to-speech): only escalation steps call.
    Voice,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::Voice => "voice",
        }
    }

    /// The caregiver's address for this channel: their phone for SMS and calls,
    /// their push endpoint for push; `None` when they have none.
    pub fn address(self, caregiver: &Caregiver) -> Option<&str> {
        let address = match self {
            Channel::Sms | Channel::Voice => caregiver.phone.as_deref(),
            Channel::Push => caregiver.push_endpoint.as_deref(),
        };
        address.filter(|a| !a.is_empty())
    }
}

/// One message to send for one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub alert_id: String,
    pub caregiver_id: String,
    pub channel: Channel,
    /// Phone number or push endpoint ARN (personal data: never logged).
    pub address: String,
    pub message: Message,
    /// Not before this instant (quiet hours, or an escalation step's due time);
    /// `None` means now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// Set when this is an escalation step rather than the first notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepRef>,
    /// Set when this is a notice about the alert rather than the alert itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<Notice>,
}

/// A message about an alert that is not the alert itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// The fall was cancelled on the band after its alert went out.
    FallCancelled,
    /// The daily message about a wearer's day (`alert_id` is `daily#<wearer>#<date>`,
    /// see [`crate::days::daily_key`]), not about an alert.
    Daily,
}

/// Which escalation step a delivery is (see [`crate::escalation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRef {
    /// 2 for the first stage after the first notification, and so on.
    pub level: u8,
    /// 0 for the first round of a stage, then 1, 2, …
    pub round: u8,
    /// A step of the policy's last stage, last round: when it goes out, the alert
    /// has reached its last level unacknowledged.
    #[serde(default)]
    pub last: bool,
}

impl Delivery {
    /// The key of the "sent" record: one message per alert, caregiver and channel,
    /// and for an escalation step one per (alert, level, round, caregiver, channel).
    /// A notice has a key of its own: `<alert>#cancelled#<caregiver>#<channel>`.
    pub fn key(&self) -> String {
        match (self.step, self.notice) {
            (_, Some(Notice::FallCancelled)) => {
                format!("{}#cancelled#{}#{}", self.alert_id, self.caregiver_id, self.channel.as_str())
            }
            // One per wearer, day and caregiver, whatever the channel.
            (_, Some(Notice::Daily)) => format!("{}#{}", self.alert_id, self.caregiver_id),
            (None, None) => format!("{}#{}#{}", self.alert_id, self.caregiver_id, self.channel.as_str()),
            (Some(s), None) => {
                format!("{}#L{}#R{}#{}#{}", self.alert_id, s.level, s.round, self.caregiver_id, self.channel.as_str())
            }
        }
    }
}

/// The first notification of `alert`: a message to every level-1 caregiver (level 2
/// are told only by escalation, see [`crate::escalation`]), rendered in each one's
/// language, each SMS with the caregiver's acknowledgement link when `links` is
/// set. Only low-severity alerts wait out quiet hours: anything worse is sent at once.
/// A `baseline_deviation` alert to a caregiver without quiet hours waits out the
/// wearer's night (outside the daytime of their thresholds).
pub fn plan_deliveries(
    alert: &Alert,
    wearer: &WearerProfile,
    now: DateTime<Utc>,
    links: Option<&LinkMaker>,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    for (index, caregiver) in wearer.caregivers.iter().enumerate().filter(|(_, c)| c.level <= 1) {
        let not_before = match (&caregiver.quiet_hours, alert.severity) {
            (Some(quiet), Severity::Low) => quiet.ends_after(now),
            // Raised as the wearer's day ends: never at night, quiet hours or not.
            (None, _) if alert.rule == RuleKind::BaselineDeviation => crate::days::night_hold(wearer, now),
            _ => None,
        };
        for channel in [Channel::Sms, Channel::Push] {
            if let Some(delivery) = delivery(alert, wearer, index, channel, now, links) {
                out.push(Delivery { not_before, ..delivery });
            }
        }
    }
    out
}

/// The message of `alert` to the caregiver at `index` by `channel`, sent now, or
/// `None` when the caregiver has no address for it. An SMS carries the
/// acknowledgement link (when `links` is set); a call says the voice text.
pub fn delivery(
    alert: &Alert,
    wearer: &WearerProfile,
    index: usize,
    channel: Channel,
    now: DateTime<Utc>,
    links: Option<&LinkMaker>,
) -> Option<Delivery> {
    let caregiver = wearer.caregivers.get(index)?;
    let address = channel.address(caregiver)?;
    let tz = wearer.tz();
    let mut message = render(alert, &wearer.name, tz, caregiver.language);
    match channel {
        Channel::Sms => {
            if let Some(link) = links.and_then(|l| l.url(alert.id.as_str(), index, now)) {
                message.sms = format!("{} {link}", message.sms);
            }
        }
        Channel::Voice => message.voice = render_voice(alert, &wearer.name, tz, caregiver.language),
        Channel::Push => {}
    }
    Some(Delivery {
        alert_id: alert.id.to_string(),
        caregiver_id: caregiver.id.clone(),
        channel,
        address: address.to_owned(),
        message,
        not_before: None,
        step: None,
        notice: None,
    })
}

/// The notice that the fall of `alert` was cancelled on the band at
/// `cancelled_at`, after its alert went out: one message to each caregiver who
/// heard of it — those told at once (level 1) and those an escalation step has
/// reached (`reached`, caregiver ids; see [`crate::escalation::reached_by`]) — by
/// SMS, or by push when they have no phone.
pub fn plan_fall_cancelled(
    alert: &Alert,
    wearer: &WearerProfile,
    cancelled_at: DateTime<Utc>,
    reached: &[String],
) -> Vec<Delivery> {
    let tz = wearer.tz();
    wearer
        .caregivers
        .iter()
        .filter(|c| c.level <= 1 || reached.contains(&c.id))
        .filter_map(|caregiver| {
            let channel = [Channel::Sms, Channel::Push].into_iter().find(|ch| ch.address(caregiver).is_some())?;
            Some(Delivery {
                alert_id: alert.id.to_string(),
                caregiver_id: caregiver.id.clone(),
                channel,
                address: channel.address(caregiver)?.to_owned(),
                message: render_fall_cancelled(alert, &wearer.name, tz, caregiver.language, cancelled_at),
                not_before: None,
                step: None,
                notice: Some(Notice::FallCancelled),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;
    use crate::alerts::AlertId;

    #[test]
    fn a_late_fall_cancel_is_one_message_per_caregiver_who_heard_of_it_under_a_key_of_its_own() {
        let profile: WearerProfile = serde_json::from_value(serde_json::json!({
            "wearer_id": "w", "name": "Carmen", "time_zone": "Europe/Madrid",
            "caregivers": [
                {"id": "sms-and-push", "language": "es", "phone": "+34600000001", "push_endpoint": "arn:push:1"},
                {"id": "push-only", "language": "en", "push_endpoint": "arn:push:2"},
                {"id": "nothing"},
                {"id": "backup", "level": 2, "phone": "+34600000003"}
            ]
        }))
        .unwrap();
        let at: DateTime<Utc> = "2026-11-22T09:42:00Z".parse().unwrap();
        let fall = Alert {
            id: AlertId::new("w", RuleKind::Fall, at),
            wearer_id: "w".into(),
            rule: RuleKind::Fall,
            severity: Severity::Critical,
            episode_start: at,
            raised_at: at,
            readings: vec![],
            location: None,
            value: None,
        };
        let notices = plan_fall_cancelled(&fall, &profile, at + Duration::seconds(15), &[]);
        let who: Vec<_> = notices.iter().map(|d| (d.caregiver_id.as_str(), d.channel)).collect();
        assert_eq!(who, [("sms-and-push", Channel::Sms), ("push-only", Channel::Push)]);
        // A level-2 contact an escalation step reached hears it too.
        let reached = plan_fall_cancelled(&fall, &profile, at + Duration::seconds(15), &["backup".into()]);
        let who: Vec<_> = reached.iter().map(|d| (d.caregiver_id.as_str(), d.channel)).collect();
        assert_eq!(who, [("sms-and-push", Channel::Sms), ("push-only", Channel::Push), ("backup", Channel::Sms)]);
        assert!(notices[0].message.sms.contains("a las 10:42"), "{}", notices[0].message.sms);
        assert!(notices[1].message.push_body.contains("at 10:42"), "{}", notices[1].message.push_body);
        // Not the alert's own message: another delivery key, so both are sent once.
        let first = delivery(&fall, &profile, 0, Channel::Sms, at, None).unwrap();
        assert_ne!(notices[0].key(), first.key());
        assert_eq!(notices[0].key(), format!("{}#cancelled#sms-and-push#sms", fall.id));
        assert!(notices.iter().all(|d| d.notice == Some(Notice::FallCancelled) && d.not_before.is_none()));
    }
}
