//! Vigil's functions wired together on one machine exactly as AWS runs them:
//! each built from the same configuration code its Lambda `main` uses (from an
//! environment of this run's resource names), ingest-api behind the local API
//! Gateway, the three stream functions each behind its own event source mapping
//! with its own position in the stream, and the scheduled functions on their
//! schedules — all on one simulated clock.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_config::SdkConfig;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::streams::KinesisEventResponse;

use tokio::sync::watch;
use vigil_aws::kinesis::KinesisPublisher;
use vigil_aws::registry::DynamoDeviceDirectory;
use vigil_aws::wearers::DynamoWearerLimits;
use vigil_domain::cache::CachedDirectory;
use vigil_domain::config::Source;
use vigil_domain::ports::{PublishError, PublishReport, RecordPublisher, StreamRecord};
use vigil_lambda::metrics::Metrics;
use vigil_lambda::stream::StreamFunction as _;
use vigil_local::declaration::Declaration;
use vigil_local::esm::{EventSourceMapping, JsonLines, Stats};
use vigil_local::provision::Resources;

use crate::clock::SimClock;
use crate::gateway::Backend;
use crate::observe::{Live, Recording, SentLog};

/// An environment made of this run's values, read by the functions' own config code.
#[derive(Debug, Clone, Default)]
pub struct Env(pub Vec<(String, String)>);

impl Source for Env {
    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
    }
}

impl Env {
    /// Sets `name` (replacing it).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.retain(|(k, _)| k != name);
        self.0.push((name.to_owned(), value.to_owned()));
    }

    /// Every variable the functions read, for `resources`; the acknowledgement
    /// links' key is derived from the run's (random) pseudonym key, so it is new
    /// each run too and never equal to it.
    pub fn for_resources(resources: &Resources, pseudonym_key_hex: &str) -> Self {
        use sha2::Digest as _;
        let r = resources;
        let link_key = hex::encode(sha2::Sha256::digest(format!("vigil-run link key\0{pseudonym_key_hex}")));
        let vars = [
            ("STREAM_NAME", r.stream.as_str()),
            ("DEVICES_TABLE", &r.devices_table),
            ("WEARERS_TABLE", &r.wearers_table),
            ("CAREGIVERS_TABLE", &r.caregivers_table),
            ("STATE_TABLE", &r.state_table),
            ("ALERTS_TABLE", &r.alerts_table),
            ("CAREGIVER_LINKS_TABLE", &r.caregiver_links_table),
            ("DELIVERIES_TABLE", &r.deliveries_table),
            ("QUARANTINE_BUCKET", &r.quarantine_bucket),
            ("DATA_BUCKET", &r.data_bucket),
            ("CURATED_FILES_TABLE", &r.curated_files_table),
            ("VITALS_TABLE", &r.vitals_table),
            ("DAYS_TABLE", &r.days_table),
            ("PSEUDONYM_KEY", pseudonym_key_hex),
            ("LINK_KEY", &link_key),
        ];
        Self(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
    }
}

type RunNotifier = Recording<vigil_alerting::aws::Messaging>;
pub type RunProcessor = alert_processor::AwsProcessor<RunNotifier>;
pub type RunDetector = offline_detector::AwsDetector<RunNotifier>;
pub type RunDaily = daily_summary::AwsDaily<RunNotifier>;
pub type RunSmsReply = sms_reply::AwsSmsReply<Recording<vigil_aws::sns::SnsNotifier>>;
pub type RunIngest =
    ingest_api::Ingest<OnePutAtATime<KinesisPublisher>, CachedDirectory<DynamoDeviceDirectory>, DynamoWearerLimits>;

/// The origination number local calls come from (the stand-in accepts any).
pub const LOCAL_VOICE_ORIGINATION: &str = "+15555550100";
/// The two-way number local SMS replies are sent to.
pub const LOCAL_SMS_NUMBER: &str = "+15555550100";

/// Delivers a caregiver's SMS reply to sms-reply as two-way SMS would (through its
/// topic), at the simulated `clock`'s now; `Ok` when it acknowledged an alert.
pub fn replies(handler: Arc<RunSmsReply>, clock: SimClock) -> crate::caregivers::Replies {
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    Arc::new(move |from: String, body: String| {
        let (handler, now) = (handler.clone(), clock.now());
        let id = format!("inbound-{}", count.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        Box::pin(async move {
            // Published on the simulated clock, as the SMS it answers were sent.
            let event = sms_reply::inbound_event_at(&from, LOCAL_SMS_NUMBER, &body, &id, now);
            // Metrics are not written: the live view shows the run instead.
            let deadline = invocation_deadline("sms-reply", sms_reply::DEADLINE_MARGIN);
            // Lambda retries a failed asynchronous invocation twice (function.json); a retry
            // that finds its own acknowledgement done counts it as repeated.
            let mut result = handler.process_within(&event, now, Some(deadline)).await.0;
            for _ in 0..2 {
                if result.is_ok() {
                    break;
                }
                let deadline = invocation_deadline("sms-reply", sms_reply::DEADLINE_MARGIN);
                result = handler.process_within(&event, now, Some(deadline)).await.0;
            }
            match result {
                Ok(summary) if summary.acknowledged > 0 || summary.repeated > 0 => Ok(()),
                Ok(summary) => Err(format!("nothing acknowledged: {summary:?}")),
                Err(err) => Err(err.to_string()),
            }
        })
    })
}

/// The real voice adapter and SDK client, pointed at `stand_in` (as
/// `AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2` would point them).
pub fn voice_caller(sdk: &SdkConfig, stand_in: &vigil_local::voice::VoiceStandIn) -> vigil_aws::voice::VoiceCaller {
    let config = sdk.to_builder().endpoint_url(stand_in.endpoint_url()).build();
    vigil_aws::voice::VoiceCaller::new(vigil_aws::sdk::voice(&config), LOCAL_VOICE_ORIGINATION, None)
}

/// Puts records on the local stream one call at a time. moto's Kinesis assigns
/// a shard's sequence numbers with an unlocked read-modify-write
/// (`moto/kinesis/models.py`, `Shard.put_record`: "not safe for concurrency"), so
/// concurrent PutRecords calls can overwrite each other's records. This runner's
/// audit found it: one record of 3,024 lost with 100 wearers uploading at once.
/// Kinesis itself has no such limit; the Lambda uses [`KinesisPublisher`] as is.
#[derive(Debug)]
pub struct OnePutAtATime<P> {
    inner: P,
    lock: tokio::sync::Mutex<()>,
}

impl<P> OnePutAtATime<P> {
    pub fn new(inner: P) -> Self {
        Self { inner, lock: tokio::sync::Mutex::new(()) }
    }
}

impl<P: RecordPublisher + Sync> RecordPublisher for OnePutAtATime<P> {
    async fn publish(&self, records: Vec<StreamRecord>, budget: Duration) -> Result<PublishReport, PublishError> {
        let _one_at_a_time = self.lock.lock().await;
        self.inner.publish(records, budget).await
    }
}

/// ingest-api, built by its own `build` from `env`, its stream puts one at a time.
pub async fn ingest(sdk: &SdkConfig, env: &Env) -> anyhow::Result<RunIngest> {
    let ingest = ingest_api::build(env, sdk).await?;
    Ok(ingest_api::Ingest {
        publisher: OnePutAtATime::new(ingest.publisher),
        directory: ingest.directory,
        limits: ingest.limits,
        upload: ingest.upload,
        publish_budget: ingest.publish_budget,
    })
}

/// The functions behind the stream and the schedules, built for one run.
pub struct Functions {
    pub alert_processor: RunProcessor,
    pub offline_detector: RunDetector,
    /// Each wearer's day, trends and daily messages, on its hourly schedule.
    pub daily_summary: RunDaily,
    pub raw_archiver: raw_archiver::AwsArchiver,
    pub vitals_writer: vitals_writer::AwsWriter,
    /// Invoked with each caregiver's SMS reply, as two-way SMS invokes it through its topic.
    pub sms_reply: Arc<RunSmsReply>,
}

impl std::fmt::Debug for Functions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Functions { .. }")
    }
}

impl Functions {
    /// Builds each function from `env` with its own `build` (what its Lambda `main`
    /// calls); only the alert path's notifier is wrapped, to record what is sent.
    pub async fn build(sdk: &SdkConfig, env: &Env, sent: Arc<SentLog>, live: Arc<Live>) -> anyhow::Result<Self> {
        Self::build_with(|_| sdk.clone(), env, sent, live).await
    }

    /// [`Functions::build`] with each function's own SDK config, `sdk_of(name)`
    /// (`vigil run --chaos`: each through its own fault-injecting proxy).
    pub async fn build_with(
        sdk_of: impl Fn(&str) -> SdkConfig,
        env: &Env,
        sent: Arc<SentLog>,
        live: Arc<Live>,
    ) -> anyhow::Result<Self> {
        let record = |inner| Recording { inner, log: sent.clone(), live: live.clone() };
        let sms_reply = sms_reply::build(env, &sdk_of("sms-reply")).await?.map_notifier(|inner| Recording {
            inner,
            log: sent.clone(),
            live: live.clone(),
        });
        let processor = alert_processor::build(env, &sdk_of("alert-processor")).await?;
        let detector = offline_detector::build(env, &sdk_of("offline-detector")).await?;
        let daily = daily_summary::build(env, &sdk_of("daily-summary")).await?;
        Ok(Self {
            alert_processor: alert_processor::Processor {
                alerting: processor.alerting.map_notifier(record),
                quarantine: processor.quarantine,
            },
            offline_detector: offline_detector::Detector { alerting: detector.alerting.map_notifier(record) },
            daily_summary: daily_summary::Daily {
                alerting: daily.alerting.map_notifier(record),
                days: daily.days,
                inputs: daily.inputs,
                lake: daily.lake,
                page: daily.page,
            },
            raw_archiver: raw_archiver::build(env, &sdk_of("raw-archiver")).await?,
            vitals_writer: vitals_writer::build(env, &sdk_of("vitals-writer")).await?,
            sms_reply: Arc::new(sms_reply),
        })
    }
}

/// The HTTP functions as the local API Gateway invokes them, on the simulated clock.
pub struct ApiBackend {
    pub ingest: RunIngest,
    pub care: care_api::AwsCare,
    /// The acknowledgement link's page (public routes: no token).
    pub ack_link: ack_link::AwsAckLink,
    pub clock: SimClock,
}

impl std::fmt::Debug for ApiBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiBackend").field("clock", &self.clock).finish_non_exhaustive()
    }
}

impl ApiBackend {
    /// ingest-api, care-api and ack-link, each built by its own `build` from `env`.
    pub async fn build(sdk: &SdkConfig, env: &Env, clock: SimClock) -> anyhow::Result<Self> {
        Self::build_with(|_| sdk.clone(), env, clock).await
    }

    /// [`ApiBackend::build`] with each function's own SDK config, `sdk_of(name)`.
    pub async fn build_with(sdk_of: impl Fn(&str) -> SdkConfig, env: &Env, clock: SimClock) -> anyhow::Result<Self> {
        Ok(Self {
            ingest: ingest(&sdk_of("ingest-api"), env).await?,
            care: care_api::build(env, &sdk_of("care-api")).await?,
            ack_link: ack_link::build(env, &sdk_of("ack-link")).await?,
            clock,
        })
    }
}

impl Backend for ApiBackend {
    async fn call(&self, function: &str, request: lambda_http::Request) -> lambda_http::Response<lambda_http::Body> {
        use lambda_http::RequestExt as _;
        let now = self.clock.now();
        // Invoked as Lambda would: with a context whose deadline is the declared timeout.
        let request = request.with_lambda_context(vigil_lambda::deadline::context(Declaration::timeout_of(function)));
        match function {
            "ingest-api" => self.ingest.process(request, now).await.0,
            "ack-link" => self.ack_link.process(request, now).await.0,
            _ => self.care.process(request, now).await.0,
        }
    }
}

/// The event source mappings of the three stream functions as declared in their
/// `function.json`, on a clock running `speed` times real time
/// (`KinesisTrigger::mapping` in vigil-local says what that changes).
pub fn mappings(stream: &str, speed: f64) -> anyhow::Result<[(&'static str, EventSourceMapping); 3]> {
    let mapping = |name: &'static str| -> anyhow::Result<(&'static str, EventSourceMapping)> {
        let declaration = Declaration::of(name)?;
        let trigger = declaration.kinesis().with_context(|| format!("{name} declares no Kinesis trigger"))?;
        Ok((name, trigger.mapping(stream, speed)))
    };
    Ok([mapping("alert-processor")?, mapping("raw-archiver")?, mapping("vitals-writer")?])
}

/// How often a scheduled function runs, as declared (in simulated time).
///
/// # Panics
/// If `name` declares no schedule: the declarations are compiled in and tested.
pub fn schedule(name: &str) -> chrono::TimeDelta {
    let minutes = Declaration::of(name).ok().and_then(|d| d.schedule().map(|s| s.rate_minutes));
    #[allow(clippy::expect_used, reason = "compiled-in declarations, tested in vigil-local")]
    chrono::TimeDelta::minutes(i64::from(minutes.expect("a scheduled function")))
}

/// An invocation's deadline as Lambda gives it: the declared timeout from now, less `margin`.
fn invocation_deadline(function: &str, margin: Duration) -> vigil_lambda::Deadline {
    vigil_lambda::Deadline::after(Declaration::timeout_of(function), margin)
}

/// When the newest record of a batch reached the stream (wall clock).
fn newest_arrival(event: &KinesisEvent) -> Option<chrono::DateTime<chrono::Utc>> {
    event.records.iter().map(|r| r.kinesis.approximate_arrival_timestamp.0).max()
}

/// When the oldest record of a batch reached the stream (wall clock).
fn oldest_arrival(event: &KinesisEvent) -> Option<chrono::DateTime<chrono::Utc>> {
    event.records.iter().map(|r| r.kinesis.approximate_arrival_timestamp.0).min()
}

/// What a stream function reports that the run counts.
fn count(live: &Live, metrics: &Metrics) {
    Live::add(&live.alerts_raised, metrics.get("AlertsRaised") as u64);
    Live::add(&live.handler_failures, metrics.get("RecordsFailed") as u64);
}

/// Where the stream functions read and where their failures go.
#[derive(Debug, Clone, Copy)]
pub struct StreamRun<'a> {
    pub stream: &'a str,
    /// On-failure destinations are written here as JSON lines, one file per function.
    pub failures_dir: &'a std::path::Path,
    /// How long draining may take after the fleet stops.
    pub drain_timeout: Duration,
    /// Aborts invocations at its rate (`vigil run --chaos`); None: never.
    pub chaos: Option<&'a Arc<vigil_local::chaos::Chaos>>,
}

/// Runs the three stream functions until `stop` turns true, then drains each
/// mapping (everything on the stream processed) within `drain_timeout`.
pub async fn run_stream_functions(
    sdk: &SdkConfig,
    functions: &Functions,
    clock: &SimClock,
    live: &Live,
    streams: &StreamRun<'_>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<[Stats; 3]> {
    let StreamRun { stream, failures_dir, drain_timeout, chaos } = *streams;
    // Without chaos, a rate of 0: nothing is ever aborted.
    let chaos = chaos.cloned().unwrap_or_else(|| vigil_local::chaos::Chaos::new(0.0, 0));
    let [(alerts_name, alerts), (raw_name, raw), (vitals_name, vitals)] = mappings(stream, clock.speed())?;
    let destination = |name: &str| -> anyhow::Result<JsonLines<std::fs::File>> {
        let path = failures_dir.join(format!("{name}-failures.jsonl"));
        Ok(JsonLines(std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?))
    };

    let alert_handler = |event: KinesisEvent| async move {
        live.set_in_flight("alert-processor", oldest_arrival(&event));
        let now = clock.processing_now(newest_arrival(&event));
        let deadline = invocation_deadline(alerts_name, vigil_lambda::stream::DEADLINE_MARGIN);
        let (records, newest) = (event.records.len(), newest_arrival(&event));
        let started = chrono::Utc::now();
        let (response, metrics) = functions.alert_processor.process_within(event, now, deadline).await;
        // Where alert latency goes: the wait before the batch (the mapping) and the batch itself.
        tracing::debug!(
            records,
            waited_ms = newest.map(|at| (started - at).num_milliseconds()),
            batch_ms = (chrono::Utc::now() - started).num_milliseconds(),
            alerts = metrics.get("AlertsRaised"),
            "alert-processor batch"
        );
        live.set_in_flight("alert-processor", None);
        count(live, &metrics);
        Ok::<KinesisEventResponse, Infallible>(response)
    };
    let raw_handler = |event: KinesisEvent| async move {
        let now = clock.processing_now(newest_arrival(&event));
        let deadline = invocation_deadline(raw_name, vigil_lambda::stream::DEADLINE_MARGIN);
        let (response, metrics) = functions.raw_archiver.process_within(event, now, deadline).await;
        count(live, &metrics);
        Ok::<KinesisEventResponse, Infallible>(response)
    };
    let vitals_handler = |event: KinesisEvent| async move {
        let now = clock.processing_now(newest_arrival(&event));
        let deadline = invocation_deadline(vitals_name, vigil_lambda::stream::DEADLINE_MARGIN);
        let (response, metrics) = functions.vitals_writer.process_within(event, now, deadline).await;
        count(live, &metrics);
        Ok::<KinesisEventResponse, Infallible>(response)
    };
    let (alert_handler, raw_handler, vitals_handler) = (
        chaos.aborting(alerts_name, alert_handler),
        chaos.aborting(raw_name, raw_handler),
        chaos.aborting(vitals_name, vitals_handler),
    );
    let mut a = alerts.start(sdk, alert_handler, destination(alerts_name)?).await?;
    let mut r = raw.start(sdk, raw_handler, destination(raw_name)?).await?;
    let mut v = vitals.start(sdk, vitals_handler, destination(vitals_name)?).await?;

    let stopped = |mut rx: watch::Receiver<bool>| async move {
        // A dropped sender means the run is over as well.
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let report = |name: &'static str| {
        move |stats: Stats| {
            let pending = stats.shards.iter().map(|s| s.pending_records).sum();
            let age = stats.shards.iter().map(|s| s.iterator_age_ms).max().unwrap_or(0);
            live.set_lag(name, pending, age);
        }
    };
    let (ra, rr, rv) = tokio::join!(
        Box::pin(a.run_reporting(stopped(stop.clone()), report(alerts_name))),
        Box::pin(r.run_reporting(stopped(stop.clone()), report(raw_name))),
        Box::pin(v.run_reporting(stopped(stop), report(vitals_name))),
    );
    ra?;
    rr?;
    rv?;
    let (ra, rr, rv) = tokio::join!(
        Box::pin(a.run_until_idle(drain_timeout)),
        Box::pin(r.run_until_idle(drain_timeout)),
        Box::pin(v.run_until_idle(drain_timeout))
    );
    for (name, stats) in [(alerts_name, &ra), (raw_name, &rr), (vitals_name, &rv)] {
        if let Ok(stats) = stats {
            live.set_lag(name, 0, 0);
            tracing::info!(function = name, batches = stats.batches_invoked, "stream drained");
        }
    }
    Ok([ra?, rr?, rv?])
}

/// One offline-detector run at `now`; false when it failed (the next run retries).
pub async fn detect(functions: &Functions, now: chrono::DateTime<chrono::Utc>, live: &Live) -> bool {
    let deadline = invocation_deadline("offline-detector", offline_detector::DEADLINE_MARGIN);
    let (result, metrics) = functions.offline_detector.process_within(now, Some(deadline)).await;
    live.detector_ran(now);
    Live::add(&live.alerts_raised, metrics.get("AlertsRaised") as u64);
    if let Err(err) = &result {
        tracing::warn!(error = %err, "offline-detector run failed; the next run retries");
    }
    result.is_ok()
}

/// One daily-summary run at `now`; false when it failed (the next run retries).
pub async fn summarize_days(functions: &Functions, now: chrono::DateTime<chrono::Utc>) -> bool {
    let deadline = invocation_deadline("daily-summary", daily_summary::DEADLINE_MARGIN);
    let (result, _metrics) = functions.daily_summary.process_within(now, Some(deadline)).await;
    match &result {
        Ok(summary) => tracing::info!(
            wearers_done = summary.wearers_done,
            trends = summary.trends_raised,
            messages = summary.messages_sent,
            "daily-summary ran"
        ),
        Err(err) => tracing::warn!(error = %err, "daily-summary run failed; the next run retries"),
    }
    result.is_ok()
}

/// Where the local API Gateway listens by default.
pub fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8787))
}
