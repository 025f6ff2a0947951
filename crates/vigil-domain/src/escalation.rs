//! Escalation: what happens when nobody acknowledges an alert. Pure: the policy
//! (per wearer, in the profile, with defaults that need no setup) and the plan of
//! steps it gives for one alert. The scheduled path takes the steps that are due,
//! stops the moment the alert is acknowledged or resolved, and sends each step
//! once through the delivery claims (its [`Delivery::key`]).
//!
//! The first notification (every caregiver, push and SMS) is the alert path's own;
//! the stages here come after it:
//!
//! | severity | default stages |
//! |---|---|
//! | critical (SOS, fall) | at 3 min: voice calls to the level-1 caregivers one after another (1 min apart), and SMS to the level-2 contacts; at 10 min: voice calls to everyone, repeated twice more 5 min apart |
//! | high (heart rate, SpO2) | at 15 min: SMS and push to the level-2 contacts |
//! | medium, low | none |
//!
//! A caregiver's level is in their profile entry (default 1). Quiet hours never
//! delay a step: only the first notification of a low-severity alert waits them out.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::alerts::{Alert, Severity};
use crate::care::{Channel, Delivery, StepRef, WearerProfile, delivery};
use crate::link::LinkMaker;

/// Longest delay of a stage after the alert.
pub const MAX_AFTER_MIN: u32 = 24 * 60;
/// Most repetitions of a stage.
pub const MAX_REPEATS: u32 = 5;

/// Who a stage reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Caregivers of level 1 (the default level).
    Level1,
    /// Caregivers of level 2 (contacts told only when level 1 does not answer).
    Level2,
    Everyone,
}

/// One stage of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Minutes after the alert was raised.
    pub after_min: u32,
    pub to: Audience,
    pub channels: Vec<Channel>,
    /// Seconds between one recipient and the next (0: all at once). Calls one after
    /// another give each caregiver the time to answer before the next phone rings.
    #[serde(default)]
    pub one_by_one_s: u32,
    /// Further rounds of the stage.
    #[serde(default)]
    pub repeat: u32,
    /// Minutes between rounds.
    #[serde(default)]
    pub repeat_every_min: u32,
}

/// The stages per severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EscalationPolicy {
    pub critical: Vec<Stage>,
    pub high: Vec<Stage>,
    pub medium: Vec<Stage>,
    pub low: Vec<Stage>,
}

impl Default for EscalationPolicy {
    fn default() -> Self {
        let stage = |after_min, to, channels: &[Channel]| Stage {
            after_min,
            to,
            channels: channels.to_vec(),
            one_by_one_s: 0,
            repeat: 0,
            repeat_every_min: 0,
        };
        Self {
            critical: vec![
                Stage { one_by_one_s: 60, ..stage(3, Audience::Level1, &[Channel::Voice]) },
                stage(3, Audience::Level2, &[Channel::Sms]),
                Stage { repeat: 2, repeat_every_min: 5, ..stage(10, Audience::Everyone, &[Channel::Voice]) },
            ],
            high: vec![stage(15, Audience::Level2, &[Channel::Sms, Channel::Push])],
            medium: Vec::new(),
            low: Vec::new(),
        }
    }
}

/// A policy that cannot be used, with every reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid escalation policy: {}", .0.join("; "))]
pub struct PolicyError(pub Vec<String>);

impl EscalationPolicy {
    pub fn stages(&self, severity: Severity) -> &[Stage] {
        match severity {
            Severity::Critical => &self.critical,
            Severity::High => &self.high,
            Severity::Medium => &self.medium,
            Severity::Low => &self.low,
        }
    }

    /// Every problem of the policy: delays within a day and not decreasing, at least
    /// one channel, repeats bounded and spaced, no voice call for low severity.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut problems = Vec::new();
        for severity in Severity::ALL {
            let name = severity.as_str();
            let mut last = 0;
            for (i, s) in self.stages(severity).iter().enumerate() {
                let at = format!("{name}[{i}]");
                if s.after_min == 0 || s.after_min > MAX_AFTER_MIN {
                    problems.push(format!("{at}.after_min must be 1..={MAX_AFTER_MIN}"));
                }
                if s.after_min < last {
                    problems.push(format!("{at}.after_min is earlier than the stage before it"));
                }
                last = s.after_min;
                if s.channels.is_empty() {
                    problems.push(format!("{at}.channels is empty"));
                }
                if s.repeat > MAX_REPEATS {
                    problems.push(format!("{at}.repeat is over {MAX_REPEATS}"));
                }
                if s.repeat > 0 && s.repeat_every_min == 0 {
                    problems.push(format!("{at}.repeat_every_min must be set when repeating"));
                }
                if s.one_by_one_s > 600 {
                    problems.push(format!("{at}.one_by_one_s is over 600"));
                }
                if severity == Severity::Low && s.channels.contains(&Channel::Voice) {
                    problems.push(format!("{at}: low-severity alerts never call"));
                }
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(PolicyError(problems)) }
    }
}

/// One step of an alert's escalation: one recipient, one channel, one round.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EscalationStep {
    pub due_at: DateTime<Utc>,
    pub alert_id: String,
    /// 2 for the first stage after the first notification, and so on.
    pub level: u8,
    /// 0 for the first round of a stage, then 1, 2, …
    pub round: u8,
    pub caregiver_id: String,
    pub channel: Channel,
}

/// Every escalation step of `alert` for `profile`, in due order, counted from
/// `notified_at` (when the first notification went out: an alert uploaded late
/// still gives its caregivers the policy's minutes). A caregiver who lacks the
/// channel's address (no phone for SMS or voice, no push endpoint) is left out of
/// that channel's steps.
pub fn plan(
    alert: &Alert,
    profile: &WearerProfile,
    policy: &EscalationPolicy,
    notified_at: DateTime<Utc>,
) -> Vec<EscalationStep> {
    let mut steps = Vec::new();
    for (i, stage) in policy.stages(alert.severity).iter().enumerate() {
        let level = u8::try_from(i + 2).unwrap_or(u8::MAX);
        let recipients: Vec<_> = profile
            .caregivers
            .iter()
            .filter(|c| match stage.to {
                Audience::Level1 => c.level <= 1,
                Audience::Level2 => c.level == 2,
                Audience::Everyone => true,
            })
            .collect();
        for round in 0..=stage.repeat.min(MAX_REPEATS) {
            let start = notified_at
                + Duration::minutes(i64::from(stage.after_min))
                + Duration::minutes(i64::from(round) * i64::from(stage.repeat_every_min));
            for (k, c) in recipients.iter().enumerate() {
                let due_at = start + Duration::seconds(k as i64 * i64::from(stage.one_by_one_s));
                for &channel in &stage.channels {
                    if channel.address(c).is_some() {
                        steps.push(EscalationStep {
                            due_at,
                            alert_id: alert.id.to_string(),
                            level,
                            round: u8::try_from(round).unwrap_or(u8::MAX),
                            caregiver_id: c.id.clone(),
                            channel,
                        });
                    }
                }
            }
        }
    }
    steps.sort();
    steps
}

/// The escalation steps of `alert` as deliveries, counted from `now` (the first
/// notification), each due at its time (`not_before`) with its message rendered
/// for its caregiver (an SMS with their acknowledgement link, a call with the
/// voice text); the steps of the last stage's last round are marked
/// [`StepRef::last`].
pub fn deliveries(
    alert: &Alert,
    profile: &WearerProfile,
    now: DateTime<Utc>,
    links: Option<&LinkMaker>,
) -> Vec<Delivery> {
    let steps = plan(alert, profile, &profile.escalation, now);
    let last = steps.iter().map(|s| (s.level, s.round)).max();
    steps
        .into_iter()
        .filter_map(|step| {
            let index = profile.caregivers.iter().position(|c| c.id == step.caregiver_id)?;
            let planned = delivery(alert, profile, index, step.channel, now, links)?;
            Some(Delivery {
                not_before: Some(step.due_at),
                step: Some(StepRef {
                    level: step.level,
                    round: step.round,
                    last: last == Some((step.level, step.round)),
                }),
                ..planned
            })
        })
        .collect()
}

/// The escalation steps of `alert` that may have reached a caregiver beyond level 1
/// by `now` (those due by then, counted from the alert's event time, so never
/// fewer than were due): the deliveries to ask the log about when the alert is
/// withdrawn (a fall cancelled on the band late), so everyone who heard of it
/// hears it is over.
pub fn beyond_level1_due(alert: &Alert, profile: &WearerProfile, now: DateTime<Utc>) -> Vec<Delivery> {
    deliveries(alert, profile, alert.raised_at, None)
        .into_iter()
        .filter(|d| d.not_before.is_none_or(|due| due <= now))
        .filter(|d| profile.caregivers.iter().any(|c| c.id == d.caregiver_id && c.level > 1))
        .collect()
}

/// The caregivers reached by the steps of `asked` that `went_out` (the log's answer,
/// in order), each once.
pub fn reached_by(asked: &[Delivery], went_out: &[bool]) -> Vec<String> {
    let mut reached: Vec<String> =
        asked.iter().zip(went_out).filter(|(_, went)| **went).map(|(d, _)| d.caregiver_id.clone()).collect();
    reached.sort();
    reached.dedup();
    reached
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertId, RuleKind};
    use crate::care::Caregiver;

    fn caregiver(id: &str, level: u8, phone: bool, push: bool) -> Caregiver {
        Caregiver {
            id: id.into(),
            sub: None,
            name: None,
            level,
            language: Default::default(),
            phone: phone.then(|| format!("+3460000{id}")),
            push_endpoint: push.then(|| format!("arn:push:{id}")),
            quiet_hours: None,
            daily_at: None,
        }
    }

    fn profile(caregivers: Vec<Caregiver>) -> WearerProfile {
        WearerProfile {
            wearer_id: "w".into(),
            name: "Carmen".into(),
            time_zone: "Europe/Madrid".into(),
            thresholds: Default::default(),
            caregivers,
            snoozes: Default::default(),
            escalation: Default::default(),
        }
    }

    fn alert(rule: RuleKind) -> Alert {
        let at: DateTime<Utc> = "2026-11-22T03:00:00Z".parse().unwrap();
        Alert {
            id: AlertId::new("w", rule, at),
            wearer_id: "w".into(),
            rule,
            severity: rule.severity(),
            episode_start: at,
            raised_at: at,
            readings: vec![],
            location: None,
            value: None,
        }
    }

    fn min(m: i64, s: i64) -> DateTime<Utc> {
        "2026-11-22T03:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(m) + Duration::seconds(s)
    }

    #[test]
    fn the_steps_asked_about_on_a_late_cancel_are_those_due_to_level_two_and_reached_names_each_once() {
        let p = profile(vec![caregiver("a", 1, true, true), caregiver("c", 2, true, false)]);
        let fall = alert(RuleKind::Fall);
        assert!(beyond_level1_due(&fall, &p, min(2, 59)).is_empty(), "level 2 hears nothing before 3 min");
        let at4 = beyond_level1_due(&fall, &p, min(4, 0));
        let asked: Vec<_> = at4.iter().map(|d| (d.caregiver_id.as_str(), d.channel)).collect();
        assert_eq!(asked, [("c", Channel::Sms)]);
        let at30 = beyond_level1_due(&fall, &p, min(30, 0));
        assert!(at30.len() > 1 && at30.iter().all(|d| d.caregiver_id == "c"), "{at30:?}");
        assert!(reached_by(&at30, &vec![false; at30.len()]).is_empty());
        let mut went = vec![true; at30.len()];
        went[0] = false;
        assert_eq!(reached_by(&at30, &went), ["c"]);
    }

    #[test]
    fn a_critical_alert_calls_level_one_in_turn_texts_level_two_then_calls_everyone() {
        let p = profile(vec![
            caregiver("a", 1, true, true),
            caregiver("b", 1, true, false),
            caregiver("c", 2, true, false),
            caregiver("d", 2, false, true),
        ]);
        let steps = plan(&alert(RuleKind::Sos), &p, &EscalationPolicy::default(), min(0, 0));
        let at3: Vec<_> = steps
            .iter()
            .filter(|s| s.level == 2 || s.level == 3)
            .map(|s| (s.due_at, s.caregiver_id.as_str(), s.channel))
            .collect();
        assert_eq!(
            at3,
            [(min(3, 0), "a", Channel::Voice), (min(3, 0), "c", Channel::Sms), (min(4, 0), "b", Channel::Voice),],
            "d has no phone: no SMS for d"
        );
        let calls: Vec<_> =
            steps.iter().filter(|s| s.level == 4).map(|s| (s.due_at, s.round, s.caregiver_id.as_str())).collect();
        assert_eq!(calls.len(), 3 * 3, "3 rounds × the 3 caregivers with a phone");
        assert!(calls.contains(&(min(10, 0), 0, "a")) && calls.contains(&(min(20, 0), 2, "c")));
        // Every step has its own delivery key, none a first notification's.
        let planned = deliveries(&alert(RuleKind::Sos), &p, min(0, 0), None);
        assert_eq!(planned.len(), steps.len());
        let keys: std::collections::HashSet<String> = planned.iter().map(Delivery::key).collect();
        assert_eq!(keys.len(), steps.len());
        assert!(keys.iter().all(|k| k.contains("#L")), "{keys:?}");
        let last: Vec<_> = planned
            .iter()
            .filter(|d| d.step.is_some_and(|s| s.last))
            .map(|d| (d.not_before, d.caregiver_id.as_str()))
            .collect();
        assert_eq!(last, [(Some(min(20, 0)), "a"), (Some(min(20, 0)), "b"), (Some(min(20, 0)), "c")]);
        assert!(planned.iter().filter(|d| d.channel == Channel::Voice).all(|d| !d.message.voice.is_empty()));
    }

    #[test]
    fn high_goes_to_level_two_after_15_minutes_and_medium_and_low_never_escalate() {
        let p = profile(vec![caregiver("a", 1, true, true), caregiver("c", 2, true, true)]);
        let steps = plan(&alert(RuleKind::HeartRateHigh), &p, &EscalationPolicy::default(), min(0, 0));
        assert_eq!(
            steps.iter().map(|s| (s.due_at, s.caregiver_id.as_str(), s.channel)).collect::<Vec<_>>(),
            [(min(15, 0), "c", Channel::Sms), (min(15, 0), "c", Channel::Push)]
        );
        assert!(steps.iter().all(|s| s.channel != Channel::Voice), "no calls for high by default");
        for rule in [RuleKind::Inactivity, RuleKind::NoData, RuleKind::BatteryLow] {
            assert!(plan(&alert(rule), &p, &EscalationPolicy::default(), min(0, 0)).is_empty(), "{rule:?}");
        }
    }

    #[test]
    fn the_default_policy_is_valid_and_bad_ones_name_every_problem() {
        EscalationPolicy::default().validate().unwrap();
        let bad = EscalationPolicy {
            critical: vec![
                Stage {
                    after_min: 10,
                    to: Audience::Everyone,
                    channels: vec![Channel::Voice],
                    one_by_one_s: 0,
                    repeat: 9,
                    repeat_every_min: 0,
                },
                Stage {
                    after_min: 5,
                    to: Audience::Level2,
                    channels: vec![],
                    one_by_one_s: 0,
                    repeat: 0,
                    repeat_every_min: 0,
                },
            ],
            low: vec![Stage {
                after_min: 0,
                to: Audience::Level1,
                channels: vec![Channel::Voice],
                one_by_one_s: 0,
                repeat: 0,
                repeat_every_min: 0,
            }],
            ..EscalationPolicy::default()
        };
        let err = bad.validate().unwrap_err();
        assert_eq!(err.0.len(), 6, "{err}");
        assert!(err.to_string().contains("low-severity alerts never call"));
    }

    #[test]
    fn a_policy_reads_from_the_profile_with_defaults_for_what_is_left_out() {
        let policy: EscalationPolicy = serde_json::from_str(r#"{"high": []}"#).unwrap();
        assert_eq!(policy.critical, EscalationPolicy::default().critical);
        assert!(policy.high.is_empty());
        assert!(
            serde_json::from_str::<EscalationPolicy>(r#"{"urgent": []}"#).is_err(),
            "unknown severities are refused"
        );
    }
}
