//! The simulated caregivers: each alert's first message reaches a caregiver who
//! acts as real ones do — most acknowledge within minutes, some late, some never,
//! some resolve it as a false alarm. They acknowledge through the caregivers' API
//! (the local gateway, with their own token), by answering the SMS ("Sí", "Sim",
//! "YES", "1": the sms-reply function, as two-way SMS would invoke it), or by
//! opening the SMS's link and pressing its button (the ack-link page, through
//! the gateway). The audit then compares the alerts table with what they did.
//!
//! Who does what, and how, is a pure function of the alert id ([`response`],
//! [`way`]), so a run with the same seed behaves the same way.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use vigil_domain::care::Channel;
use vigil_domain::lifecycle::{AlertRecord, AlertStatus, Outcome, Via};

use crate::clock::SimClock;
use crate::observe::{Live, SentLog};

/// How a caregiver answers an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Acknowledges within 1–5 minutes (60 % of alerts).
    Prompt,
    /// Acknowledges after 20–40 minutes (15 %).
    Late,
    /// Never answers (10 %).
    Never,
    /// Resolves it as a false alarm within 2–10 minutes (15 %).
    FalseAlarm,
}

/// What the caregiver told about `alert_id` does, and after how long.
pub fn response(alert_id: &str) -> (Response, TimeDelta) {
    let digest = Sha256::digest(alert_id.as_bytes());
    let (pick, delay) = (u32::from(digest[0]) * 100 / 256, i64::from(digest[1]));
    let seconds = |from: i64, to: i64| TimeDelta::seconds(from * 60 + delay * (to - from) * 60 / 255);
    match pick {
        0..60 => (Response::Prompt, seconds(1, 5)),
        60..75 => (Response::Late, seconds(20, 40)),
        75..85 => (Response::Never, TimeDelta::zero()),
        _ => (Response::FalseAlarm, seconds(2, 10)),
    }
}

/// How a caregiver who acknowledges does it: through the app (40 %), by answering
/// the SMS (30 %) or by its link (30 %). Only a caregiver who got the alert by
/// SMS can answer it or open its link; the others use the app.
pub fn way(alert_id: &str) -> Via {
    match u32::from(Sha256::digest(alert_id.as_bytes())[2]) * 100 / 256 {
        0..40 => Via::Api,
        40..70 => Via::Sms,
        _ => Via::Link,
    }
}

/// Delivers an inbound SMS (from, text) to the sms-reply function, as two-way SMS
/// does through its topic; `Err` when the function failed.
pub type Replies = Arc<dyn Fn(String, String) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// One alert a caregiver was told about.
#[derive(Debug, Clone)]
pub struct Told {
    pub alert_id: String,
    /// The caregiver's account (`sub`).
    pub sub: String,
    pub response: Response,
    /// How they acknowledge (a false alarm is always resolved in the app).
    pub via: Via,
    /// The SMS they got, when they got one (it carries the link).
    pub sms: Option<(String, String)>,
    /// Simulated time the first message was seen.
    pub told_at: DateTime<Utc>,
    /// Simulated time the caregiver acted, if they did within the run.
    pub acted_at: Option<DateTime<Utc>>,
    /// The API's status code for the action.
    pub answer: Option<u16>,
}

/// Where the caregivers reach the API, and each one's token.
#[derive(Clone)]
pub struct CareApi {
    pub base_url: String,
    /// Account (`sub`) → bearer token.
    pub tokens: HashMap<String, String>,
    /// Caregiver address (phone or push endpoint) → account.
    pub accounts: HashMap<String, String>,
    /// Where their SMS replies go (the sms-reply function).
    pub replies: Replies,
}

impl std::fmt::Debug for CareApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CareApi").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// Follows the messages sent and acts on each alert's first one, until `stop`.
pub async fn respond(
    api: Arc<CareApi>,
    sent: Arc<SentLog>,
    clock: SimClock,
    live: Arc<Live>,
    mut stop: watch::Receiver<bool>,
) -> Vec<Told> {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).http_status_as_error(false).build(),
    );
    let mut read = 0;
    let mut told: Vec<Told> = Vec::new();
    let mut seen = HashSet::new();
    // Simulated due time → index into `told`.
    let mut due: BTreeSet<(DateTime<Utc>, usize)> = BTreeSet::new();
    loop {
        let new = sent.since(read);
        read += new.len();
        for message in new {
            let Some(sub) = api.accounts.get(&message.address) else { continue };
            if message.alert_id.is_empty() || !seen.insert(message.alert_id.clone()) {
                continue;
            }
            let (response, delay) = response(&message.alert_id);
            let now = clock.now();
            let sms = (message.channel == Channel::Sms).then(|| (message.address.clone(), message.text.clone()));
            let via = match (response, &sms) {
                (Response::FalseAlarm, _) | (_, None) => Via::Api,
                _ => way(&message.alert_id),
            };
            told.push(Told {
                alert_id: message.alert_id,
                sub: sub.clone(),
                response,
                via,
                sms,
                told_at: now,
                acted_at: None,
                answer: None,
            });
            if response != Response::Never {
                due.insert((now + delay, told.len() - 1));
            }
        }
        while let Some(&(at, i)) = due.first() {
            if at > clock.now() {
                break;
            }
            due.pop_first();
            let t = &mut told[i];
            // A reply acknowledges the newest open alert texted to the number: a caregiver
            // whose phone got an SMS about another alert since answers through the link.
            if t.via == Via::Sms
                && let Some((phone, _)) = &t.sms
                && newer_sms(&sent.all(), phone, &t.alert_id)
            {
                t.via = Via::Link;
            }
            let t = &mut told[i];
            let status = match (t.via, &t.sms) {
                (Via::Sms, Some((phone, _))) => {
                    let body = ["Sí", "1", "ok", "YES!", "Sim"][t.alert_id.len() % 5].to_owned();
                    match (api.replies)(phone.clone(), body).await {
                        Ok(()) => 200,
                        Err(_) => 0,
                    }
                }
                (Via::Link, Some((_, text))) => match link_in(text) {
                    Some(url) => open_and_press(&agent, url).await,
                    None => 0,
                },
                _ => {
                    let (path, body) = match t.response {
                        Response::FalseAlarm => {
                            (format!("/v1/alerts/{}/resolve", t.alert_id), Some(json!({"outcome": "false_alarm"})))
                        }
                        _ => (format!("/v1/alerts/{}/acknowledge", t.alert_id), None),
                    };
                    let url = format!("{}{path}", api.base_url);
                    let token = api.tokens.get(&t.sub).cloned().unwrap_or_default();
                    let agent = agent.clone();
                    tokio::task::spawn_blocking(move || {
                        with_retries(|| {
                            let request = agent.post(&url).header("authorization", format!("Bearer {token}"));
                            let result = match &body {
                                Some(b) => request.header("content-type", "application/json").send(b.to_string()),
                                None => request.send_empty(),
                            };
                            result.map(|r| r.status().as_u16()).unwrap_or(0)
                        })
                    })
                    .await
                    .unwrap_or(0)
                }
            };
            t.answer = Some(status);
            if status == 200 {
                t.acted_at = Some(clock.now());
                Live::add(&live.acknowledged, 1);
            }
        }
        if *stop.borrow() {
            return told;
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// Whether `phone` got an SMS about another alert after its first one about `alert_id`.
fn newer_sms(log: &[crate::observe::Sent], phone: &str, alert_id: &str) -> bool {
    let Some(first) = log.iter().position(|m| m.alert_id == alert_id && m.address == phone) else { return false };
    log[first + 1..].iter().any(|m| m.address == phone && m.channel == Channel::Sms && m.alert_id != alert_id)
}

/// The acknowledgement link at the end of an SMS, if it has one.
pub fn link_in(text: &str) -> Option<String> {
    text.split_whitespace().rev().find(|w| w.starts_with("http") && w.contains("/a/")).map(str::to_owned)
}

/// Opens the link's page (GET, as the phone's browser would) and presses its
/// button (the form's POST to the same address); the POST's status.
async fn open_and_press(agent: &ureq::Agent, url: String) -> u16 {
    let agent = agent.clone();
    tokio::task::spawn_blocking(move || {
        let page = with_retries(|| agent.get(&url).call().map(|r| r.status().as_u16()).unwrap_or(0));
        if page != 200 {
            return page;
        }
        with_retries(|| {
            agent
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .send("")
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        })
    })
    .await
    .unwrap_or(0)
}

/// A caregiver's app or browser tries again on no answer, a 429 or a 5xx (the
/// acknowledgement and the resolution are idempotent: the first one wins), as
/// `vigil run --chaos` makes happen; the last status.
fn with_retries(mut call: impl FnMut() -> u16) -> u16 {
    let mut status = call();
    for _ in 1..4 {
        if status != 0 && status != 429 && status < 500 {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        status = call();
    }
    status
}

/// What the caregivers did, and whether the alerts table agrees.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Acknowledgements {
    /// Alerts a caregiver was told about.
    pub told: usize,
    /// Acknowledged (promptly or late), by any channel.
    pub acknowledged: usize,
    /// Of those: through the app, by SMS reply, by the link.
    pub by_api: usize,
    pub by_sms: usize,
    pub by_link: usize,
    /// Resolved as false alarms through the API.
    pub resolved_false_alarm: usize,
    /// Alerts nobody acknowledged or resolved by the end of the run.
    pub never_acknowledged: usize,
    /// Time from the first message to the acknowledgement, simulated seconds.
    pub time_to_ack_p50_s: i64,
    pub time_to_ack_p99_s: i64,
    /// Alerts whose stored state does not match what the caregivers did (must be 0).
    pub mismatches: usize,
}

/// Compares what the caregivers did with the stored alerts (`records` by alert id).
pub fn audit(told: &[Told], records: &HashMap<String, AlertRecord>) -> Acknowledgements {
    let mut out = Acknowledgements { told: told.len(), ..Acknowledgements::default() };
    let mut waits: Vec<i64> = Vec::new();
    for t in told {
        let stored = records.get(&t.alert_id);
        let consistent = match (t.acted_at, t.response, stored) {
            (_, _, None) => false,
            // Nobody acted: not acknowledged (the rules may have resolved it themselves).
            (None, _, Some(r)) => {
                r.acknowledged.is_none() && r.resolved.as_ref().is_none_or(|s| s.outcome == Some(Outcome::Cleared))
            }
            (Some(_), Response::FalseAlarm, Some(r)) => {
                out.resolved_false_alarm += 1;
                r.status == AlertStatus::Resolved && r.resolved.is_some()
            }
            (Some(at), _, Some(r)) => {
                out.acknowledged += 1;
                match t.via {
                    Via::Sms => out.by_sms += 1,
                    Via::Link => out.by_link += 1,
                    _ => out.by_api += 1,
                }
                waits.push((at - t.told_at).num_seconds());
                // Acknowledged by the caregiver through the channel they used (or resolved
                // by the rules before they got to it).
                r.acknowledged.as_ref().is_some_and(|a| a.via == t.via)
                    || r.resolved.as_ref().is_some_and(|s| s.outcome == Some(Outcome::Cleared))
            }
        };
        if t.acted_at.is_none() {
            out.never_acknowledged += 1;
        }
        out.mismatches += usize::from(!consistent);
    }
    waits.sort_unstable();
    let pct = |p: usize| waits.get((waits.len() * p / 100).min(waits.len().saturating_sub(1))).copied().unwrap_or(0);
    out.time_to_ack_p50_s = pct(50);
    out.time_to_ack_p99_s = pct(99);
    out
}

/// The caregivers' accounts and tokens for the fleet's profiles.
pub fn accounts<'a>(
    profiles: impl Iterator<Item = &'a vigil_domain::care::WearerProfile>,
    token: impl Fn(&str) -> String,
) -> (HashMap<String, String>, HashMap<String, String>) {
    let (mut tokens, mut accounts) = (HashMap::new(), HashMap::new());
    for c in profiles.flat_map(|p| &p.caregivers) {
        let Some(sub) = c.sub.clone() else { continue };
        for address in c.phone.iter().chain(&c.push_endpoint) {
            accounts.insert(address.clone(), sub.clone());
        }
        tokens.entry(sub.clone()).or_insert_with(|| token(&sub));
    }
    (tokens, accounts)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn responses_follow_the_documented_mix_and_delays() {
        let mut counts = HashMap::new();
        for i in 0..10_000 {
            let (r, delay) = response(&format!("{i:032x}"));
            *counts.entry(r).or_insert(0) += 1;
            let minutes = delay.num_seconds() as f64 / 60.0;
            let (lo, hi) = match r {
                Response::Prompt => (1.0, 5.0),
                Response::Late => (20.0, 40.0),
                Response::Never => (0.0, 0.0),
                Response::FalseAlarm => (2.0, 10.0),
            };
            assert!((lo..=hi).contains(&minutes), "{r:?} after {minutes} min");
        }
        let share = |r| f64::from(counts[&r]) / 100.0;
        assert!((share(Response::Prompt) - 60.0).abs() < 3.0, "{counts:?}");
        assert!((share(Response::Late) - 15.0).abs() < 3.0, "{counts:?}");
        assert!((share(Response::Never) - 10.0).abs() < 3.0, "{counts:?}");
        assert!((share(Response::FalseAlarm) - 15.0).abs() < 3.0, "{counts:?}");
        assert_eq!(response("abc"), response("abc"));
    }
}
