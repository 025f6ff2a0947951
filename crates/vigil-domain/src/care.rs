//! Who is told about an alert, how, and when: wearer profiles, caregivers, and
//! the delivery plan for one alert (one SMS and/or one push per caregiver, low
//! severity held back until the caregiver's quiet hours end).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::alerts::{Alert, Language, Message, Severity, Thresholds, render};

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
}

impl WearerProfile {
    /// The wearer's time zone; UTC if the registry holds an unknown name.
    pub fn tz(&self) -> Tz {
        self.time_zone.parse().unwrap_or(Tz::UTC)
    }
}

/// Someone who looks after a wearer and wants their alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Caregiver {
    /// Stable id; with the alert id and channel it keys the "sent" record.
    pub id: String,
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
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
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
    /// Not before this instant (quiet hours); `None` means now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
}

impl Delivery {
    /// The key of the "sent" record: one message per alert, caregiver and channel.
    pub fn key(&self) -> String {
        format!("{}#{}#{}", self.alert_id, self.caregiver_id, self.channel.as_str())
    }
}

/// Every message `alert` needs, rendered in each caregiver's language. Only
/// low-severity alerts wait out quiet hours: anything worse is sent at once.
pub fn plan_deliveries(alert: &Alert, wearer: &WearerProfile, now: DateTime<Utc>) -> Vec<Delivery> {
    let tz = wearer.tz();
    let mut out = Vec::new();
    for caregiver in &wearer.caregivers {
        let message = render(alert, &wearer.name, tz, caregiver.language);
        let not_before = match (&caregiver.quiet_hours, alert.severity) {
            (Some(quiet), Severity::Low) => quiet.ends_after(now),
            _ => None,
        };
        let channels = [(Channel::Sms, &caregiver.phone), (Channel::Push, &caregiver.push_endpoint)];
        for (channel, address) in channels {
            if let Some(address) = address.as_ref().filter(|a| !a.is_empty()) {
                out.push(Delivery {
                    alert_id: alert.id.to_string(),
                    caregiver_id: caregiver.id.clone(),
                    channel,
                    address: address.clone(),
                    message: message.clone(),
                    not_before,
                });
            }
        }
    }
    out
}
