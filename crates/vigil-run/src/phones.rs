//! The fleet's phones: each upload is posted when the simulated clock reaches
//! its time, the way the app does it — `Authorization: Bearer <token>`,
//! `Content-Type: application/json`, and on a timeout, a 429 or a 5xx the same
//! body resent unchanged (same `batch_id`) after a backoff.
//!
//! The ledger is the ground truth the audit checks the stores against: which
//! readings the API accepted (202, minus the readings it listed as rejected),
//! and when each upload was accepted, for alert latency.
//!
//! Back-pressure: the phones hold the simulated clock ([`SimClock::hold_at`]) at
//! most [`HOLD_SLACK`] past the oldest upload that is due but not yet answered
//! (waiting to be sent, or in flight), so the clock never outruns what the
//! phones have posted: on a machine too slow for the fleet and the speed, the
//! run is slower, and no band looks silent because its phone is behind.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::clock::{Hold, SimClock};
use crate::fleet::{Fleet, Upload};
use crate::observe::Live;
use vigil_domain::upload::policy::UploadPolicy;

/// Uploads in flight at once (phones are independent; this bounds local sockets).
const IN_FLIGHT: usize = 32;
/// Attempts per upload before the phone sets it aside.
const ATTEMPTS: u32 = 6;
/// Times a phone sends an upload set aside again once the run's uploads are answered
/// (the app keeps readings until the API confirms them); after these, it is lost.
const RESEND_ROUNDS: u32 = 3;
/// How far the simulated clock may run past the oldest upload due and not yet
/// answered: enough for uploads to overlap in flight, far less than any rule's
/// time (a fall's 30 s cancel window is the shortest; its cancel is due 11–21 s
/// after the fall).
pub const HOLD_SLACK: TimeDelta = TimeDelta::seconds(5);

/// Due time → uploads in flight with it.
type Flying = BTreeMap<DateTime<Utc>, usize>;

/// Tells the pace an upload is answered when dropped.
struct Answered(Arc<Pace>, DateTime<Utc>);

impl Drop for Answered {
    fn drop(&mut self) {
        self.0.update(None, Some((self.1, false)));
    }
}

/// The uploads due and not yet answered, holding the clock at the oldest.
#[derive(Debug)]
struct Pace {
    clock: SimClock,
    /// Due time → uploads in flight with it; and the due time of the next to send.
    in_flight: Mutex<(Flying, Option<DateTime<Utc>>)>,
}

impl Pace {
    fn new(clock: &SimClock) -> Self {
        Self { clock: clock.clone(), in_flight: Mutex::new((BTreeMap::new(), None)) }
    }

    /// The next upload to send (None: no more), or one sent (`+1`) or answered (`-1`).
    fn update(&self, next: Option<Option<DateTime<Utc>>>, in_flight: Option<(DateTime<Utc>, bool)>) {
        let mut guard = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let (flying, waiting) = &mut *guard;
        if let Some(next) = next {
            *waiting = next;
        }
        match in_flight {
            Some((due, true)) => *flying.entry(due).or_default() += 1,
            Some((due, false)) => {
                if let Some(n) = flying.get_mut(&due) {
                    *n -= 1;
                    if *n == 0 {
                        flying.remove(&due);
                    }
                }
            }
            None => {}
        }
        let oldest = flying.keys().next().copied().into_iter().chain(*waiting).min();
        self.clock.hold_at(Hold::Phones, oldest.map(|t| t + HOLD_SLACK));
    }
}

/// Where the phones post.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL; uploads go to `<base>/v1/uploads`.
    pub base_url: String,
    /// Bearer token per app user.
    pub tokens: HashMap<String, String>,
}

/// What the phones did.
#[derive(Debug, Default)]
pub struct Ledger {
    /// POSTs made (retries included).
    pub uploads_sent: u64,
    /// Uploads answered 202.
    pub uploads_accepted: u64,
    /// Uploads refused for good (4xx other than 429), or never confirmed after every retry
    /// and every resend.
    pub uploads_lost: u64,
    /// Uploads whose 202 gave the upload policy the phone follows / another one.
    pub uploads_on_policy: u64,
    pub uploads_off_policy: u64,
    /// Uploads whose every attempt failed (5xx, 429, a broken connection), to send again.
    unconfirmed: Vec<Upload>,
    /// Distinct readings accepted, as (device, seq).
    pub accepted: HashSet<(String, u64)>,
    /// Per wearer: (newest reading time in the upload, when it was accepted).
    pub carried: HashMap<String, Vec<(DateTime<Utc>, Instant)>>,
    /// Real time from the first post to the last answer.
    pub elapsed: Duration,
    /// The clock's achieved speed by the last answer ([`SimClock::achieved_speed`]).
    pub achieved_speed: f64,
    /// Real time the phones held the clock back.
    pub clock_held: Duration,
}

#[derive(Debug)]
struct Posted {
    upload: Upload,
    attempts: u64,
    outcome: Outcome,
}

#[derive(Debug)]
enum Outcome {
    Accepted {
        at: Instant,
        rejected: HashSet<usize>,
        /// The 202's upload policy (none when the API could not read the wearer's limits).
        policy: Option<UploadPolicy>,
    },
    Refused,
    /// Every attempt failed without an answer that refuses it: the API may or may not have
    /// taken it, so the phone keeps it to send again.
    Unconfirmed,
}

#[derive(Deserialize)]
struct AcceptedBody {
    #[serde(default)]
    rejected: Vec<RejectedIndex>,
    upload_policy: Option<UploadPolicy>,
}

#[derive(Deserialize)]
struct RejectedIndex {
    index: usize,
}

/// Posts every upload of `fleet` on time; returns when all are answered.
pub async fn drive(fleet: &Fleet, clock: &SimClock, target: Arc<Target>, live: Arc<Live>) -> Ledger {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(15))).http_status_as_error(false).build(),
    );
    let limit = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = JoinSet::new();
    let mut ledger = Ledger::default();
    let started = Instant::now();
    let pace = Arc::new(Pace::new(clock));
    for upload in fleet.uploads() {
        pace.update(Some(Some(upload.due)), None);
        // Held, the clock reaches `due` later than it said: look again.
        while clock.now() < upload.due {
            tokio::time::sleep(clock.real_until(upload.due).max(Duration::from_millis(1))).await;
        }
        let Ok(permit) = limit.clone().acquire_owned().await else { break };
        let (agent, target, task_live, task_pace) = (agent.clone(), target.clone(), live.clone(), pace.clone());
        let due = upload.due;
        pace.update(None, Some((due, true)));
        tasks.spawn(async move {
            // Answered (or given up, or the task died): the clock may pass it.
            let _answered = Answered(task_pace, due);
            let posted = post(agent, &target, upload, &task_live).await;
            drop(permit);
            posted
        });
        while let Some(done) = tasks.try_join_next() {
            record(&mut ledger, done, &live);
        }
    }
    pace.update(Some(None), None);
    while let Some(done) = tasks.join_next().await {
        record(&mut ledger, done, &live);
    }
    // As the app does: what the API never confirmed goes again (the API takes a repeated
    // upload as the same readings).
    for _ in 0..RESEND_ROUNDS {
        for upload in std::mem::take(&mut ledger.unconfirmed) {
            let posted = post(agent.clone(), &target, upload, &live).await;
            record(&mut ledger, Ok(posted), &live);
        }
    }
    let never_confirmed = ledger.unconfirmed.len() as u64;
    ledger.uploads_lost += never_confirmed;
    Live::add(&live.uploads_refused, never_confirmed);
    ledger.elapsed = started.elapsed();
    ledger.achieved_speed = clock.achieved_speed();
    ledger.clock_held = clock.held();
    ledger
}

fn record(ledger: &mut Ledger, done: Result<Posted, tokio::task::JoinError>, live: &Live) {
    let Ok(posted) = done else {
        ledger.uploads_lost += 1;
        return;
    };
    ledger.uploads_sent += posted.attempts;
    match posted.outcome {
        Outcome::Accepted { at, rejected, policy } => {
            ledger.uploads_accepted += 1;
            let upload = &posted.upload;
            match policy {
                Some(p) if p == upload.policy => ledger.uploads_on_policy += 1,
                Some(_) => ledger.uploads_off_policy += 1,
                None => {}
            }
            let mut n = 0;
            for (i, seq) in upload.seqs.iter().enumerate() {
                if !rejected.contains(&i) {
                    n += u64::from(ledger.accepted.insert((upload.device_id.clone(), *seq)));
                }
            }
            Live::add(&live.readings_accepted, n);
            if let Some(newest) = newest_reading(&upload.body) {
                ledger.carried.entry(upload.wearer_id.clone()).or_default().push((newest, at));
            }
        }
        Outcome::Refused => ledger.uploads_lost += 1,
        Outcome::Unconfirmed => ledger.unconfirmed.push(posted.upload),
    }
}

/// The newest reading time in an upload body.
fn newest_reading(body: &[u8]) -> Option<DateTime<Utc>> {
    #[derive(Deserialize)]
    struct Body {
        readings: Vec<Ts>,
    }
    #[derive(Deserialize)]
    struct Ts {
        ts: DateTime<Utc>,
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    body.readings.iter().map(|r| r.ts).max()
}

async fn post(agent: ureq::Agent, target: &Target, upload: Upload, live: &Live) -> Posted {
    let url = format!("{}/v1/uploads", target.base_url.trim_end_matches('/'));
    let token = target.tokens.get(&upload.app_user).cloned().unwrap_or_default();
    let mut attempts = 0;
    let mut backoff = Duration::from_millis(200);
    loop {
        attempts += 1;
        Live::add(&live.uploads_sent, 1);
        let (agent, url, token, body) = (agent.clone(), url.clone(), token.clone(), upload.body.clone());
        let answer = tokio::task::spawn_blocking(move || {
            let mut response = agent
                .post(&url)
                .header("authorization", &format!("Bearer {token}"))
                .header("content-type", "application/json")
                .header("user-agent", "vigil-fleet-simulator")
                .send(&body[..])?;
            let status = response.status().as_u16();
            let text = response.body_mut().read_to_string().unwrap_or_default();
            Ok::<_, ureq::Error>((status, text))
        })
        .await;
        match answer {
            Ok(Ok((202, text))) => {
                Live::add(&live.uploads_accepted, 1);
                let (rejected, policy) = serde_json::from_str::<AcceptedBody>(&text)
                    .map(|b| (b.rejected.into_iter().map(|r| r.index).collect(), b.upload_policy))
                    .unwrap_or_default();
                let outcome = Outcome::Accepted { at: Instant::now(), rejected, policy };
                return Posted { upload, attempts, outcome };
            }
            Ok(Ok((status, _))) if status != 429 && status < 500 => {
                Live::add(&live.uploads_refused, 1);
                tracing::warn!(status, device_id = %upload.device_id, "upload refused");
                return Posted { upload, attempts, outcome: Outcome::Refused };
            }
            // 429, 5xx, a timeout or a broken connection: resend the same body.
            _ if attempts < u64::from(ATTEMPTS) => {
                tokio::time::sleep(backoff.mul_f64(0.5 + fastrand::f64())).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            _ => {
                tracing::warn!(device_id = %upload.device_id, attempts, "upload unconfirmed after every retry: kept to send again");
                return Posted { upload, attempts, outcome: Outcome::Unconfirmed };
            }
        }
    }
}
