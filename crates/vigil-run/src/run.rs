//! `vigil run`: provision a fresh set of resources on the endpoint, register a
//! simulated fleet, run every function on one simulated clock while the fleet's
//! phones post through the local API Gateway, drain, and audit every store.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_config::SdkConfig;
use chrono::{SubsecRound, TimeDelta, Utc};
use tokio::sync::watch;
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::registry::DynamoDeviceDirectory;
use vigil_aws::wearers::{DynamoCaregiverLinks, DynamoWearerDirectory};
use vigil_curated::Pseudonymizer;
use vigil_domain::care::WearerProfile;
use vigil_domain::registry::DeviceLink;
use vigil_local::provision::{self, Resources};

use crate::audit;
use crate::caregivers;
use crate::chaos::ChaosRun;
use crate::clock::{Hold, SimClock};
use crate::escalations;
use crate::fleet::{Fleet, FleetConfig};
use crate::gateway::{self, LocalIssuer};
use crate::observe::{Live, SentLog};
use crate::phones::{self, Target};
use crate::pipeline::{self, ApiBackend, Env, Functions};
use crate::summary::{self, Summary};
use crate::view::{self, Mode};
use crate::warehouse::{AlertCounts, PgWarehouse};
use vigil_local::declaration::Users;

/// How a run is shaped (the CLI's flags).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub wearers: usize,
    pub duration: TimeDelta,
    pub speed: f64,
    pub seed: u64,
    /// Where the local API Gateway listens (port 0: any free port).
    pub listen: SocketAddr,
    pub shards: i32,
    /// Where failure-destination files go.
    pub out_dir: PathBuf,
    pub view: Mode,
    /// The AWS-compatible endpoint, to read what it recorded (moto's SMS).
    pub endpoint_url: Option<String>,
    /// The local PostgreSQL warehouse (`VIGIL_PG_URL`); each run loads into a
    /// database of its own there. None: no warehouse step.
    pub warehouse_url: Option<String>,
    /// Canary personal data ([`FleetConfig::canary`]); None for `vigil run`.
    pub canary: Option<u32>,
    /// `--chaos <rate>`: faults injected at this rate per request and per invocation
    /// ([`crate::chaos`]); None: a calm run.
    pub chaos: Option<f64>,
}

/// Runs the whole pipeline once; returns the audited summary.
pub async fn run(sdk: &SdkConfig, opts: &RunOptions) -> anyhow::Result<Summary> {
    let real_start = Instant::now();
    std::fs::create_dir_all(&opts.out_dir).with_context(|| format!("creating {}", opts.out_dir.display()))?;
    let resources = Resources { stream_shards: opts.shards, ..Resources::unique("vigil-run") };
    provision::provision(sdk, &resources).await.context("provisioning the run's resources")?;
    let mut chaos = match opts.chaos {
        Some(rate) => Some(ChaosRun::start(rate, opts.seed, sdk).await?),
        None => None,
    };
    // Each function's SDK config: under chaos, through its own proxy.
    let sdk_of = |chaos: Option<&ChaosRun>, name: &str| chaos.map_or_else(|| sdk.clone(), |c| c.sdk(name, sdk));

    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness for the pseudonym key: {e}"))?;
    let mut env = Env::for_resources(&resources, &hex::encode(key));
    let pseudonymizer = Pseudonymizer::new(&key).map_err(|_| anyhow::anyhow!("pseudonym key too short"))?;

    let warehouse = match &opts.warehouse_url {
        Some(url) => {
            let database = resources.stream.replace(['-', '.'], "_").replace("_readings", "");
            Some(PgWarehouse::create(&sdk_of(chaos.as_ref(), "warehouse-loader"), url, &database, &env).await?)
        }
        None => None,
    };
    let warehouse = warehouse.as_ref();

    let clock = SimClock::new(Utc::now().trunc_subsecs(0), opts.speed);
    let fleet = Fleet::new(&FleetConfig {
        wearers: opts.wearers,
        start: clock.start(),
        duration: opts.duration,
        seed: opts.seed,
        canary: opts.canary,
        ..FleetConfig::new(clock.start())
    });
    register(sdk, &resources, &fleet).await?;
    // Caregiver address → how the live view names it (never the number).
    let labels: Arc<HashMap<String, String>> = Arc::new(
        caregiver_addresses(&fleet).map(|(a, c, wearer)| (a.clone(), format!("caregiver {c} of {wearer}"))).collect(),
    );

    let live = Arc::new(Live::default());
    let (messages_tx, messages_rx) = tokio::sync::mpsc::unbounded_channel();
    let sent = Arc::new(SentLog::new((opts.view == Mode::Live).then_some(messages_tx)));

    let issuer = Arc::new(LocalIssuer::generate().map_err(|e| anyhow::anyhow!("no randomness for the JWT key: {e}"))?);
    let backend = Arc::new(ApiBackend::build_with(|name| sdk_of(chaos.as_ref(), name), &env, clock.clone()).await?);
    let (addr, server) =
        gateway::serve(opts.listen, issuer.clone(), backend).await.context("starting the local API")?;
    // The SMS carry links to the ack-link page on this gateway.
    env.set("LINK_BASE_URL", &format!("http://{addr}"));
    let mut functions =
        Functions::build_with(|name| sdk_of(chaos.as_ref(), name), &env, sent.clone(), live.clone()).await?;
    // Calls go to the voice stand-in: moto has no End User Messaging voice API.
    let voice = vigil_local::voice::VoiceStandIn::start_local().await.context("starting the voice stand-in")?;
    // Every seventh wearer's first caregiver has a phone that cannot take calls: their
    // calls are refused, counted, and the next caregiver is called on time.
    for w in fleet.wearers.iter().step_by(7) {
        if let Some(phone) = w.profile.caregivers.first().and_then(|c| c.phone.clone()) {
            voice.mark_unreachable(phone);
        }
    }
    functions.offline_detector.alerting.notifier.inner.voice = Some(match chaos.as_mut() {
        Some(chaos) => {
            let url = chaos.voice("offline-detector", &voice.endpoint_url()).await?;
            let config = sdk.to_builder().endpoint_url(url).build();
            vigil_aws::voice::VoiceCaller::new(vigil_aws::sdk::voice(&config), pipeline::LOCAL_VOICE_ORIGINATION, None)
        }
        None => pipeline::voice_caller(sdk, &voice),
    });
    let tokens = fleet.wearers.iter().map(|w| (w.app_user.clone(), issuer.token(Users::App, &w.app_user))).collect();
    let (care_tokens, accounts) =
        caregivers::accounts(fleet.wearers.iter().map(|w| &w.profile), |sub| issuer.token(Users::Caregivers, sub));
    let replies = pipeline::replies(functions.sms_reply.clone(), clock.clone());
    let care =
        Arc::new(caregivers::CareApi { base_url: format!("http://{addr}"), tokens: care_tokens, accounts, replies });
    let phones_url = match chaos.as_mut() {
        Some(chaos) => chaos.phones(&format!("http://{addr}")).await?,
        None => format!("http://{addr}"),
    };
    let target = Arc::new(Target { base_url: phones_url, tokens });
    if opts.view == Mode::Live {
        println!(
            "local API Gateway on http://{addr}/v1/uploads (JWT checked); {} wearers on the way",
            fleet.wearers.len()
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let (view_stop_tx, view_stop_rx) = watch::channel(false);
    let drive = async {
        let ledger = tokio::select! {
            ledger = phones::drive(&fleet, &clock, target, live.clone()) => ledger,
            never = hold_for_pipeline(&clock, &live) => match never {},
        };
        clock.freeze();
        let _ = stop_tx.send(true);
        ledger
    };
    // Boxed: these futures are large (the SDK's), and a join of them on the stack
    // overflows a test thread's stack in debug builds.
    let drive = Box::pin(drive);
    let stream_run = pipeline::StreamRun {
        stream: &resources.stream,
        failures_dir: &opts.out_dir,
        drain_timeout: Duration::from_secs(300),
        chaos: chaos.as_ref().map(|c| &c.chaos),
    };
    let streams =
        Box::pin(pipeline::run_stream_functions(sdk, &functions, &clock, &live, &stream_run, stop_rx.clone()));
    let schedules = Box::pin(schedules(&functions, warehouse, &clock, &live, stop_rx, chaos.as_ref()));
    let work = async {
        let done = tokio::join!(drive, streams, schedules);
        let _ = view_stop_tx.send(true);
        done
    };
    let responders =
        tokio::spawn(caregivers::respond(care, sent.clone(), clock.clone(), live.clone(), view_stop_rx.clone()));
    let show = Box::pin(view::show(opts.view, live.clone(), clock.clone(), messages_rx, labels, view_stop_rx));
    let ((ledger, streams, ()), ()) = tokio::join!(work, show);
    let streams = streams.context("running the stream functions")?;
    let told = responders.await.context("the simulated caregivers")?;
    server.abort();

    // The schedule once more a simulated minute after the last upload: falls past
    // their cancel window with no later reading are raised now. Silence is not:
    // no band has been quiet for 15 minutes.
    // Under chaos a run can fail a check: as the next minute's run would, run it again.
    for _ in 0..5 {
        let ok = pipeline::detect(&functions, clock.now() + TimeDelta::minutes(1), &live).await;
        if ok || chaos.is_none() {
            break;
        }
    }
    if let Some(warehouse) = warehouse {
        for _ in 0..50 {
            let (files, rows) = match warehouse.load(clock.now()).await {
                Ok(loaded) => loaded,
                // Under chaos a load can fail past the SDK's retries: the next one redoes it.
                Err(err) if chaos.is_some() => {
                    tracing::warn!(error = %err, "warehouse load failed under chaos; loading again");
                    continue;
                }
                Err(err) => return Err(err.context("loading the warehouse")),
            };
            Live::add(&live.warehouse_loads, u64::from(files > 0));
            Live::add(&live.warehouse_rows, rows);
            if files == 0 {
                break;
            }
        }
    }

    // The audit: every store read back.
    let accepted = &ledger.accepted;
    let raw = audit::raw_readings(sdk, &resources.data_bucket).await?;
    let (curated, _rows) = audit::curated_keys(sdk, &resources.data_bucket).await?;
    let from = clock.start() - TimeDelta::hours(1);
    let to = clock.now() + TimeDelta::hours(1);
    let wearer_ids: Vec<&str> = fleet.wearers.iter().map(|w| w.profile.wearer_id.as_str()).collect();
    let vitals = audit::vitals_readings(sdk, &resources.vitals_table, wearer_ids, from, to).await?;
    let (warehouse_keys, in_warehouse) = match warehouse {
        Some(w) => (Some(w.reading_keys().await.context("reading the warehouse")?), w.alert_rows().await?),
        None => (None, AlertCounts::default()),
    };
    let lost = accepted
        .iter()
        .filter(|r| {
            let key = audit::reading_key(&pseudonymizer, r);
            !raw.contains(*r)
                || !curated.contains(&key)
                || !vitals.contains(*r)
                || warehouse_keys.as_ref().is_some_and(|keys| !keys.contains(&key))
        })
        .count() as u64;

    let alerts = audit::alerts(sdk, &resources.alerts_table).await?;
    let stored = DynamoAlertStore::new(vigil_aws::sdk::dynamodb(sdk), &resources.alerts_table);
    let mut records = HashMap::new();
    for t in &told {
        if let Some(record) = stored.get(&t.alert_id).await.context("reading an acknowledged alert")? {
            records.insert(t.alert_id.clone(), record);
        }
    }
    let acknowledgements = caregivers::audit(&told, &records);
    let steps = escalations::steps(sdk, &resources.deliveries_table).await?;
    for step in &steps {
        let id = &step.delivery.alert_id;
        if !records.contains_key(id)
            && let Some(record) = stored.get(id).await.context("reading an escalated alert")?
        {
            records.insert(id.clone(), record);
        }
    }
    // The calls the stand-in put through (refused ones are counted as refused steps).
    let calls_placed = voice.calls().iter().filter(|c| c.message_id.is_some()).count();
    let escalations = escalations::audit(&steps, &records, &live.detector_runs(), calls_placed);
    let (missed_events, unexpected_alerts) = summary::match_alerts(&fleet.events, &alerts);
    let sent = sent.all();
    // The fleet's intervals are FleetConfig's defaults (the run sets neither).
    let cost_inputs =
        match crate::cost::measure::measure(sdk, &resources, &sent, &FleetConfig::new(clock.start())).await {
            Ok(measured) => Some(measured),
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "the run's cost inputs could not be measured; the summary has none"
                );
                None
            }
        };
    let chaos = match &chaos {
        Some(run) => {
            let caregivers: HashMap<String, String> =
                caregiver_addresses(&fleet).map(|(a, c, _)| (a.clone(), c.to_owned())).collect();
            let (confirms, aborts) = (run.chaos.confirms(), run.chaos.aborts());
            let mut out = crate::chaos::explain(&sent, &caregivers, &confirms, &aborts, escalations.duplicate_calls);
            out.report = run.chaos.report();
            out.steps_late_explained =
                crate::chaos::late_steps_explained(&steps, &records, &live.detector_runs(), &run.detector_runs());
            out.claimed_never_sent =
                crate::chaos::claimed_never_sent(sdk, &resources.deliveries_table, &sent, &caregivers).await?;
            out.failure_destination_files = crate::chaos::failure_files(&opts.out_dir);
            Some(out)
        }
        None => None,
    };
    let sms_recorded_by_endpoint = match &opts.endpoint_url {
        Some(url) => {
            let url = url.clone();
            let ids: HashSet<String> = sent.iter().map(|s| s.id.clone()).collect();
            tokio::task::spawn_blocking(move || vigil_local::moto::recorded_sms(&url).ok())
                .await
                .ok()
                .flatten()
                .map(|recorded| recorded.iter().filter(|r| ids.contains(&r.message_id)).count() as u64)
        }
        None => None,
    };

    Ok(Summary {
        uploads_sent: ledger.uploads_sent,
        uploads_accepted: ledger.uploads_accepted,
        uploads_on_policy: ledger.uploads_on_policy,
        uploads_off_policy: ledger.uploads_off_policy,
        readings_accepted: accepted.len() as u64,
        readings_raw: raw.len() as u64,
        readings_curated: curated.len() as u64,
        readings_vitals: vitals.len() as u64,
        readings_warehouse: warehouse_keys.as_ref().map_or(0, |k| k.len() as u64),
        alerts_warehouse: in_warehouse.all,
        alerts_resolved: alerts.iter().filter(|a| a.resolved).count() as u64,
        alerts_resolved_warehouse: in_warehouse.resolved,
        alerts_acknowledged: alerts.iter().filter(|a| a.acknowledged).count() as u64,
        alerts_acknowledged_warehouse: in_warehouse.acknowledged,
        injected_events: fleet.events.len() as u64,
        alerts_raised: alerts.len() as u64,
        alerts_missed: missed_events.len() as u64,
        missed_events,
        alerts_unexpected: unexpected_alerts.len() as u64,
        unexpected_alerts,
        notifications_sent: sent.len() as u64,
        duplicate_notifications: summary::duplicates(&sent),
        lost,
        alert_latency_ms: summary::latency(&alerts, &ledger.carried, &sent),
        acknowledgements,
        escalations,
        readings_per_s: accepted.len() as f64 / ledger.elapsed.as_secs_f64().max(0.001),
        records_to_failure_destination: streams.iter().map(|s| s.records_to_destination).sum(),
        sms_recorded_by_endpoint,
        wearers: fleet.wearers.len(),
        simulated_minutes: opts.duration.num_minutes(),
        speed: opts.speed,
        achieved_speed: ledger.achieved_speed,
        clock_held_s: ledger.clock_held.as_secs_f64(),
        real_seconds: real_start.elapsed().as_secs_f64(),
        data_bucket: resources.data_bucket.clone(),
        warehouse_url: warehouse.map(|w| w.url().to_owned()),
        cost_inputs,
        chaos,
    })
}

/// offline-detector and warehouse-loader on their declared schedules
/// (`functions/<name>/function.json`) in simulated minutes, each on its own (as in AWS:
/// a slow load never delays a detector run), checked once a simulated minute and never
/// more often than once a real second.
pub async fn schedules(
    functions: &Functions,
    warehouse: Option<&PgWarehouse>,
    clock: &SimClock,
    live: &Live,
    stop: watch::Receiver<bool>,
    chaos: Option<&ChaosRun>,
) {
    let detect_every = pipeline::schedule("offline-detector");
    let detect = every(clock, detect_every, stop.clone(), |_| async move {
        let now = detector_now(clock, live);
        let run = pipeline::detect(functions, now, live);
        match chaos {
            // An aborted run records no tick: the escalation audit counts completed runs.
            Some(chaos) => chaos.detect(now, Box::pin(run)).await,
            None => drop(run.await),
        }
        // Back-pressure from the schedule: a detector run slower than its period (a
        // busy machine) would let a band's silence go by unseen between two runs.
        clock.hold_at(Hold::Schedule, Some(clock.now() + detect_every + SCHEDULE_SLACK));
    });
    // Each wearer's day once it has ended on the simulated clock (a run shorter
    // than a day sees none end; `vigil days` plays many).
    let days = every(clock, pipeline::schedule("daily-summary"), stop.clone(), |now| async move {
        let run = Box::pin(pipeline::summarize_days(functions, now));
        match chaos {
            Some(chaos) => drop(chaos.chaos.invoke("daily-summary", run).await),
            None => drop(run.await),
        }
    });
    let load = async {
        let Some(warehouse) = warehouse else { return };
        every(clock, pipeline::schedule("warehouse-loader"), stop, |now| async move {
            let load = warehouse.load(now);
            let loaded = match chaos {
                Some(chaos) => chaos.chaos.invoke("warehouse-loader", Box::pin(load)).await,
                None => Some(load.await),
            };
            // Aborted: as a crashed run, the next one redoes it.
            match loaded {
                Some(Ok((files, rows))) => {
                    Live::add(&live.warehouse_loads, u64::from(files > 0));
                    Live::add(&live.warehouse_rows, rows);
                }
                Some(Err(err)) => tracing::warn!(error = %err, "warehouse load failed; the next run retries"),
                None => {}
            }
        })
        .await;
    };
    // Boxed: three schedules' futures side by side overflow a debug build's stack.
    tokio::join!(Box::pin(detect), Box::pin(days), Box::pin(load));
    clock.hold_at(Hold::Schedule, None);
}

/// Runs `job` at simulated `now` every `period` of simulated time until `stop`.
async fn every<F: Future<Output = ()>>(
    clock: &SimClock,
    period: TimeDelta,
    mut stop: watch::Receiver<bool>,
    job: impl Fn(chrono::DateTime<Utc>) -> F,
) {
    let tick = clock.real(TimeDelta::minutes(1)).max(Duration::from_secs(1));
    let mut last = clock.now();
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(tick) => {}
        }
        let now = clock.now();
        if now - last >= period {
            last = now;
            job(now).await;
        }
    }
}

/// How far past a detector run's next due time the simulated clock may run before
/// that run has happened: past it, the clock waits ([`Hold::Schedule`]).
const SCHEDULE_SLACK: TimeDelta = TimeDelta::seconds(30);

/// The `now` offline-detector runs at: the simulated now, held back by
/// alert-processor's backlog. In AWS the detector sees the rule state a few real
/// seconds behind the stream; accelerated, those seconds would be minutes of the
/// fleet's time, and a band whose readings are merely queued would look silent.
/// So the detector runs at the simulated time of the oldest record alert-processor
/// has read but not processed, plus the real time since it arrived.
fn detector_now(clock: &SimClock, live: &Live) -> chrono::DateTime<Utc> {
    match live.oldest_unprocessed("alert-processor") {
        Some(arrival) => clock.processing_now(Some(arrival)),
        None => clock.now(),
    }
}

/// How far the simulated clock may run ahead of the oldest record alert-processor
/// has not processed: past it, the clock waits ([`Hold::Pipeline`]).
const PIPELINE_SLACK: TimeDelta = TimeDelta::seconds(30);

/// Back-pressure from the pipeline: the detector reads silence as simulated time
/// since a band's newest processed reading, so a backlog on a slow machine (a
/// second of it is a simulated minute at x60) would look like bands gone quiet.
/// The clock waits for alert-processor instead; returns never (dropped when the
/// phones are done, after which the clock is frozen).
async fn hold_for_pipeline(clock: &SimClock, live: &Live) -> std::convert::Infallible {
    loop {
        let oldest = live.oldest_unprocessed("alert-processor");
        clock.hold_at(Hold::Pipeline, oldest.map(|arrival| clock.at_wall(arrival) + PIPELINE_SLACK));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Registers every band and wearer (with their caregivers) of the fleet in the
/// registry tables of any endpoint, AWS included.
pub async fn register(sdk: &SdkConfig, resources: &Resources, fleet: &Fleet) -> anyhow::Result<()> {
    for w in &fleet.wearers {
        register_wearer(sdk, resources, &w.device, &w.profile).await?;
    }
    Ok(())
}

/// Registers one band, its wearer's profile and the caregivers' accounts (links).
pub async fn register_wearer(
    sdk: &SdkConfig,
    resources: &Resources,
    band: &DeviceLink,
    profile: &WearerProfile,
) -> anyhow::Result<()> {
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    DynamoDeviceDirectory::new(dynamodb.clone(), &resources.devices_table)
        .put(band)
        .await
        .context("registering a band")?;
    DynamoWearerDirectory::new(dynamodb.clone(), &resources.wearers_table, &resources.caregivers_table)
        .put(profile)
        .await
        .context("registering a wearer")?;
    DynamoCaregiverLinks::new(dynamodb, &resources.caregiver_links_table)
        .link(profile)
        .await
        .context("linking the caregivers' accounts")?;
    Ok(())
}

/// Every caregiver address of the fleet (phone numbers and push endpoints):
/// (address, caregiver id, wearer id).
fn caregiver_addresses(fleet: &Fleet) -> impl Iterator<Item = (&String, &str, &str)> {
    fleet.wearers.iter().flat_map(|w| {
        w.profile.caregivers.iter().flat_map(move |c| {
            c.phone.iter().chain(c.push_endpoint.iter()).map(move |a| (a, c.id.as_str(), w.profile.wearer_id.as_str()))
        })
    })
}

/// What driving a deployed API did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemoteSummary {
    pub uploads_sent: u64,
    pub uploads_accepted: u64,
    pub uploads_lost: u64,
    pub readings_accepted: u64,
    pub injected_events: u64,
    pub readings_per_s: f64,
}

/// The fleet's phones against a deployed API at `endpoint`, all signed in with
/// `token` (an app user's access token, e.g. from Cognito). The simulated day
/// ends now (the deployed API checks timestamps against its own clock), and
/// with `register` the fleet's bands are first registered to the token's user in
/// the given (devices, wearers) tables. The deployed pipeline's own metrics and
/// alarms tell the rest.
pub async fn drive_remote(
    sdk: &SdkConfig,
    opts: &RunOptions,
    endpoint: &str,
    token: &str,
    register_in: Option<&Resources>,
) -> anyhow::Result<RemoteSummary> {
    let sub = token_subject(token).context("the token has no readable `sub` claim")?;
    let start = (Utc::now() - opts.duration).trunc_subsecs(0);
    let clock = SimClock::new(start, opts.speed);
    let mut fleet = Fleet::new(&FleetConfig {
        wearers: opts.wearers,
        start,
        duration: opts.duration,
        seed: opts.seed,
        ..FleetConfig::new(start)
    });
    for w in &mut fleet.wearers {
        w.device.app_users = vec![sub.clone()];
    }
    if let Some(resources) = register_in {
        register(sdk, resources, &fleet).await?;
    }
    let tokens = fleet.wearers.iter().map(|w| (w.app_user.clone(), token.to_owned())).collect();
    let target = Arc::new(Target { base_url: endpoint.to_owned(), tokens });
    let ledger = phones::drive(&fleet, &clock, target, Arc::new(Live::default())).await;
    Ok(RemoteSummary {
        uploads_sent: ledger.uploads_sent,
        uploads_accepted: ledger.uploads_accepted,
        uploads_lost: ledger.uploads_lost,
        readings_accepted: ledger.accepted.len() as u64,
        injected_events: fleet.events.len() as u64,
        readings_per_s: ledger.accepted.len() as f64 / ledger.elapsed.as_secs_f64().max(0.001),
    })
}

/// The `sub` claim of a JWT, read without verifying it (the API verifies it).
fn token_subject(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn the_subject_of_a_token_is_read_from_its_payload() {
        let issuer = LocalIssuer::generate().unwrap();
        assert_eq!(token_subject(&issuer.token(Users::App, "app-user-7")).as_deref(), Some("app-user-7"));
        assert_eq!(token_subject("garbage"), None);
    }
}
