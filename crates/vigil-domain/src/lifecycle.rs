//! An alert's life after it is raised: `open → acknowledged → resolved`, or
//! `open → resolved`, each step a [`Transition`] (who, when, through which
//! channel) kept in the alert's history.
//!
//! The first acknowledgement wins and is what everyone sees; so does the first
//! resolution. Stores apply a transition with a conditional write on the status
//! it starts from ([`AlertStatus::accepts`]), so two caregivers acting at once
//! leave one consistent history: the loser reads the winner's step back.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alerts::Alert;
use crate::names::{self, UnknownName};

/// Longest note a caregiver may leave when resolving, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// Who acts for the rules themselves (a silent band that is back).
pub const SYSTEM_ACTOR: &str = "vigil";

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 3] = [AlertStatus::Open, AlertStatus::Acknowledged, AlertStatus::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        }
    }

    /// Whether an alert in this status may move to `to`: acknowledging only an
    /// open alert, resolving an open or acknowledged one. Anything else keeps
    /// the stored state (the first step of each kind wins).
    pub fn accepts(self, to: AlertStatus) -> bool {
        matches!(
            (self, to),
            (AlertStatus::Open, AlertStatus::Acknowledged)
                | (AlertStatus::Open | AlertStatus::Acknowledged, AlertStatus::Resolved)
        )
    }

    /// The statuses from which a step to `to` is accepted.
    pub fn sources(to: AlertStatus) -> Vec<AlertStatus> {
        Self::ALL.into_iter().filter(|from| from.accepts(to)).collect()
    }
}

impl std::str::FromStr for AlertStatus {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        names::parse(&Self::ALL, Self::as_str, "status", s)
    }
}

/// Through what a caregiver (or the system) acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// The caregivers' API (the app).
    Api,
    /// A reply to the SMS.
    Sms,
    /// The link in a message.
    Link,
    /// The rule engine (a condition that cleared by itself).
    Rule,
}

impl Via {
    pub const ALL: [Via; 4] = [Via::Api, Via::Sms, Via::Link, Via::Rule];

    pub fn as_str(self) -> &'static str {
        match self {
            Via::Api => "api",
            Via::Sms => "sms",
            Via::Link => "link",
            Via::Rule => "rule",
        }
    }
}

impl std::str::FromStr for Via {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        names::parse(&Self::ALL, Self::as_str, "channel", s)
    }
}

/// How an alert ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Checked: the person is fine.
    Ok,
    /// A caregiver helped.
    Helped,
    /// Not a real event.
    FalseAlarm,
    /// Emergency services were called.
    EmergencyServices,
    /// The condition cleared by itself (resolved by the rules, e.g. a band back online).
    Cleared,
}

impl Outcome {
    pub const ALL: [Outcome; 5] =
        [Outcome::Ok, Outcome::Helped, Outcome::FalseAlarm, Outcome::EmergencyServices, Outcome::Cleared];
    /// The outcomes a caregiver may choose.
    pub const CAREGIVER: [Outcome; 4] = [Outcome::Ok, Outcome::Helped, Outcome::FalseAlarm, Outcome::EmergencyServices];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Helped => "helped",
            Outcome::FalseAlarm => "false_alarm",
            Outcome::EmergencyServices => "emergency_services",
            Outcome::Cleared => "cleared",
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        names::parse(&Self::ALL, Self::as_str, "outcome", s)
    }
}

/// One step of an alert's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub to: AlertStatus,
    pub at: DateTime<Utc>,
    /// The caregiver's id in the wearer's profile, or [`SYSTEM_ACTOR`].
    pub by: String,
    pub via: Via,
    /// For a resolution: how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

impl Transition {
    pub fn acknowledge(by: &str, at: DateTime<Utc>, via: Via) -> Self {
        Self { to: AlertStatus::Acknowledged, at, by: by.to_owned(), via, outcome: None }
    }

    pub fn resolve(by: &str, at: DateTime<Utc>, via: Via, outcome: Outcome) -> Self {
        Self { to: AlertStatus::Resolved, at, by: by.to_owned(), via, outcome: Some(outcome) }
    }

    /// The rules' own resolution: the condition cleared.
    pub fn cleared(at: DateTime<Utc>) -> Self {
        Self::resolve(SYSTEM_ACTOR, at, Via::Rule, Outcome::Cleared)
    }
}

/// An alert as stored, with its lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub alert: Alert,
    pub status: AlertStatus,
    /// The winning acknowledgement.
    pub acknowledged: Option<Transition>,
    /// The winning resolution.
    pub resolved: Option<Transition>,
    /// The caregiver's note with the resolution (personal: never logged).
    pub note: Option<String>,
    /// Every step, in order.
    pub history: Vec<Transition>,
    /// Raised while its rule was snoozed for the wearer: stored, not sent.
    pub snoozed: bool,
}

impl AlertRecord {
    /// A freshly raised alert.
    pub fn open(alert: Alert, snoozed: bool) -> Self {
        Self {
            alert,
            status: AlertStatus::Open,
            acknowledged: None,
            resolved: None,
            note: None,
            history: Vec::new(),
            snoozed,
        }
    }

    /// Applies `step` if the current status accepts it; `false` leaves the record
    /// as it was (what a store's failed condition means).
    pub fn apply(&mut self, step: Transition, note: Option<String>) -> bool {
        if !self.status.accepts(step.to) {
            return false;
        }
        self.status = step.to;
        match step.to {
            AlertStatus::Acknowledged => self.acknowledged = Some(step.clone()),
            AlertStatus::Resolved => {
                self.resolved = Some(step.clone());
                self.note = note;
            }
            AlertStatus::Open => {}
        }
        self.history.push(step);
        true
    }
}

/// Why a resolution request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("the note is longer than {MAX_NOTE_CHARS} characters")]
    TooLong,
}

/// A caregiver's note, trimmed; empty means none.
pub fn note(text: Option<&str>) -> Result<Option<String>, NoteError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if text.chars().count() > MAX_NOTE_CHARS {
        return Err(NoteError::TooLong);
    }
    Ok(Some(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertId, RuleKind};

    fn record() -> AlertRecord {
        let at: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let alert = Alert {
            id: AlertId::new("w1", RuleKind::Sos, at),
            wearer_id: "w1".into(),
            rule: RuleKind::Sos,
            severity: RuleKind::Sos.severity(),
            episode_start: at,
            raised_at: at,
            readings: vec![],
            location: None,
            value: None,
        };
        AlertRecord::open(alert, false)
    }

    #[test]
    fn the_first_acknowledgement_and_the_first_resolution_win() {
        let t = |m: i64| "2026-11-22T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::minutes(m);
        let mut r = record();
        assert!(r.apply(Transition::acknowledge("ana", t(1), Via::Api), None));
        assert!(!r.apply(Transition::acknowledge("ben", t(2), Via::Sms), None), "a second acknowledgement loses");
        assert_eq!(r.acknowledged.as_ref().map(|a| a.by.as_str()), Some("ana"));
        assert!(r.apply(Transition::resolve("ben", t(3), Via::Api, Outcome::Helped), Some("fine".into())));
        assert!(!r.apply(Transition::cleared(t(4)), None), "resolved stays resolved");
        assert!(!r.apply(Transition::acknowledge("cy", t(5), Via::Api), None), "nothing acknowledges a resolved alert");
        assert_eq!(r.status, AlertStatus::Resolved);
        assert_eq!(r.history.len(), 2);
        assert_eq!(r.note.as_deref(), Some("fine"));
        assert_eq!(r.resolved.unwrap().outcome, Some(Outcome::Helped));
    }

    #[test]
    fn an_open_alert_may_be_resolved_straight_away() {
        let mut r = record();
        assert!(r.apply(Transition::cleared(r.alert.raised_at), None));
        assert_eq!((r.status, r.acknowledged.is_none()), (AlertStatus::Resolved, true));
        assert_eq!(AlertStatus::sources(AlertStatus::Resolved), [AlertStatus::Open, AlertStatus::Acknowledged]);
        assert_eq!(AlertStatus::sources(AlertStatus::Acknowledged), [AlertStatus::Open]);
        assert!(AlertStatus::sources(AlertStatus::Open).is_empty());
    }

    #[test]
    fn notes_are_trimmed_and_bounded() {
        assert_eq!(note(None), Ok(None));
        assert_eq!(note(Some("   ")), Ok(None));
        assert_eq!(note(Some(" all good ")), Ok(Some("all good".into())));
        assert_eq!(note(Some(&"é".repeat(MAX_NOTE_CHARS))).map(|n| n.map(|n| n.chars().count())), Ok(Some(500)));
        assert_eq!(note(Some(&"é".repeat(MAX_NOTE_CHARS + 1))), Err(NoteError::TooLong));
    }

    #[test]
    fn names_round_trip() {
        for s in AlertStatus::ALL {
            assert_eq!(s.as_str().parse::<AlertStatus>().unwrap(), s);
        }
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), o);
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        for v in Via::ALL {
            assert_eq!(v.as_str().parse::<Via>().unwrap(), v);
        }
        assert!("closed".parse::<AlertStatus>().is_err());
    }
}
