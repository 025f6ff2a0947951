//! `vigil bench-cold`: each function's release binary started as Lambda starts it,
//! against a stand-in of the Lambda Runtime API on 127.0.0.1 ([`runtime_api`]), several
//! times: init (spawn → its first `GET .../invocation/next`, every SDK client built), its
//! first invocation (the event handed out → the response posted), the binary's size and
//! its peak RSS (`VmHWM` after the first response). Each function gets the environment
//! its `function.json` declares, with this run's resources on the local endpoint (the
//! local runner's [`Env`]), and a realistic event from `events/` against a seeded wearer;
//! a first invocation that answers an error is a failure, not a figure.
//! `make bench-cold` builds the binaries and runs it (docs/performance.md, "Cold starts").

pub mod runtime_api;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_config::SdkConfig;
use serde::Serialize;
use vigil_domain::care::WearerProfile;
use vigil_domain::config::Source as _;
use vigil_domain::registry::DeviceLink;
use vigil_local::declaration::Declaration;
use vigil_local::provision::{self, Resources};

use crate::pipeline::Env;
pub use runtime_api::{Invocation, Observed, RuntimeApi};

/// The targets of issue 17: init within 20 ms, a stripped binary within 8 MiB.
pub const INIT_TARGET: Duration = Duration::from_millis(20);
pub const SIZE_TARGET_BYTES: u64 = 8 * 1024 * 1024;

/// The order the functions are started in: the warehouse loader first, while nothing is
/// pending (moto does not serve the Redshift Data API), the alert path before the links
/// and replies that need its alert and SMS.
pub const ORDER: [&str; 10] = [
    "warehouse-loader",
    "ingest-api",
    "alert-processor",
    "raw-archiver",
    "vitals-writer",
    "care-api",
    "offline-detector",
    "daily-summary",
    "ack-link",
    "sms-reply",
];

/// The wearer, band and app user the sample events name.
const PROFILE: &str = include_str!("../../../../events/wearer-profile.json");
const DEVICE: &str = "band-0001";
const APP_USER: &str = "app-user-1";
/// Where the acknowledgement links point (alert-processor signs one into each SMS).
const LINK_BASE_URL: &str = "https://vgl.example.org";
/// In `events/apigw-v2-ack-link.json`, replaced by a link signed for the alert raised.
pub const TOKEN_PLACEHOLDER: &str = "LINK-TOKEN";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory of the functions' release binaries (cargo's target directory + `/release`).
    #[arg(long)]
    pub bin_dir: PathBuf,
    /// Cold starts per function.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,
    /// Only this function (repeat for several); default: all ten.
    #[arg(long = "function")]
    pub functions: Vec<String>,
    /// Also write every run's figures here, as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Where each function's own output (its logs) is written, one file per function.
    #[arg(long, default_value = "target/bench-cold/logs")]
    pub logs: PathBuf,
    /// Wearers registered: the sample events' wearer and copies of their profile
    /// (same caregivers, no band), so that daily-summary's first invocation, which
    /// reads every wearer, shows its peak RSS for a fleet of this size.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub wearers: u32,
    /// Longest wait, in seconds, for a function to start and answer its first invocation.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=900))]
    pub timeout_secs: u64,
}

/// What the first invocation must answer for the cold start to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// An API Gateway response with this status code.
    Http(u16),
    /// A Kinesis batch response with no batch item failures.
    NoBatchFailures,
    /// Any response (not an error).
    Answer,
    /// sms-reply's summary: the reply acknowledged the alert (or, on a later run, is
    /// recognized as having done so).
    Acknowledged,
    /// Init only: the first invocation cannot run on the local endpoint, for this reason.
    InitOnly(&'static str),
}

/// A function's first invocation: its event and the answer it must give.
#[derive(Debug, Clone, Copy)]
pub struct FirstInvocation {
    pub event_file: &'static str,
    pub event: &'static str,
    pub expect: Expect,
}

/// The first invocation of `function` (a crate name), or `None` for an unknown name.
pub fn first_invocation(function: &str) -> Option<FirstInvocation> {
    macro_rules! event {
        ($file:literal, $expect:expr) => {
            FirstInvocation {
                event_file: concat!("events/", $file),
                event: include_str!(concat!("../../../../events/", $file)),
                expect: $expect,
            }
        };
    }
    Some(match function {
        "ingest-api" => event!("apigw-v2-upload.json", Expect::Http(202)),
        "care-api" => event!("apigw-v2-care-wearer.json", Expect::Http(200)),
        "ack-link" => event!("apigw-v2-ack-link.json", Expect::Http(200)),
        "alert-processor" | "raw-archiver" | "vitals-writer" => {
            event!("kinesis-readings.json", Expect::NoBatchFailures)
        }
        "offline-detector" => event!("scheduled-offline-detector.json", Expect::Answer),
        "daily-summary" => event!("scheduled-daily-summary.json", Expect::Answer),
        "warehouse-loader" => event!(
            "scheduled-warehouse-loader.json",
            Expect::InitOnly(
                "its first invocation migrates the warehouse through the Redshift Data API, which moto does not serve"
            )
        ),
        "sms-reply" => event!("sns-sms-reply.json", Expect::Acknowledged),
        _ => return None,
    })
}

/// Whether `body`, a function's response, is the answer `expect` asks for; else why not
/// (a status or a count, never the body: it may carry personal data).
pub fn check(expect: Expect, body: &[u8]) -> Result<(), String> {
    let parsed =
        || serde_json::from_slice::<serde_json::Value>(body).map_err(|_| "a response that is not JSON".to_owned());
    match expect {
        Expect::Answer | Expect::InitOnly(_) => Ok(()),
        Expect::Acknowledged => {
            let summary = parsed()?;
            let count = |field: &str| summary.get(field).and_then(serde_json::Value::as_u64).unwrap_or(0);
            if count("acknowledged") + count("repeated") > 0 { Ok(()) } else { Err("acknowledged nothing".to_owned()) }
        }
        Expect::Http(want) => match parsed()?.get("statusCode").and_then(serde_json::Value::as_u64) {
            Some(code) if code == u64::from(want) => Ok(()),
            Some(code) => Err(format!("answered HTTP {code}, expected {want}")),
            None => Err("a response without statusCode".to_owned()),
        },
        Expect::NoBatchFailures => match parsed()?.get("batchItemFailures").and_then(serde_json::Value::as_array) {
            Some(failures) if failures.is_empty() => Ok(()),
            Some(failures) => Err(format!("{} batch item failures", failures.len())),
            None => Err("a response without batchItemFailures".to_owned()),
        },
    }
}

/// One cold start's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Run {
    /// Spawn → the first `GET .../invocation/next`.
    pub init_ms: f64,
    /// The event handed out → the response posted; `None` when not measured
    /// ([`Expect::InitOnly`]).
    pub first_invocation_ms: Option<f64>,
    /// `VmHWM` after the first response (or after init, when that is all that is measured).
    pub peak_rss_kb: u64,
}

/// One function's figures, or why it has none.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionFigures {
    pub function: String,
    pub binary_bytes: u64,
    pub memory_mb: u32,
    pub runs: Vec<Run>,
    /// Why a run failed (the runs before it are kept).
    pub failure: Option<String>,
}

/// Every function's figures, and how they were taken.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub measured_at: String,
    pub runs_per_function: u32,
    pub host: String,
    pub functions: Vec<FunctionFigures>,
}

/// Median and max of `values` (the upper median of an even count).
pub fn median_max(values: &[f64]) -> Option<(f64, f64)> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some((*sorted.get(sorted.len() / 2)?, *sorted.last()?))
}

impl FunctionFigures {
    fn init(&self) -> Option<(f64, f64)> {
        median_max(&self.runs.iter().map(|r| r.init_ms).collect::<Vec<_>>())
    }
    fn first(&self) -> Option<(f64, f64)> {
        median_max(&self.runs.iter().filter_map(|r| r.first_invocation_ms).collect::<Vec<_>>())
    }
    fn rss_mb(&self) -> Option<f64> {
        self.runs.iter().map(|r| r.peak_rss_kb).max().map(|kb| kb as f64 / 1024.0)
    }
}

impl Report {
    /// Whether every function has its figures.
    pub fn complete(&self) -> bool {
        self.functions.iter().all(|f| f.failure.is_none())
    }

    /// The table `vigil bench-cold` prints.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "{:<17} {:>17} {:>20} {:>9} {:>13} {:>7}\n",
            "function", "init ms med/max", "1st invoke med/max", "size MiB", "peak RSS MiB", "memory"
        );
        let pair = |p: Option<(f64, f64)>| p.map_or("-".to_owned(), |(m, x)| format!("{m:.1} / {x:.1}"));
        for f in &self.functions {
            let size = f.binary_bytes as f64 / (1024.0 * 1024.0);
            let _ = writeln!(
                out,
                "{:<17} {:>17} {:>20} {:>9.2} {:>13} {:>5}MB{}",
                f.function,
                pair(f.init()),
                pair(f.first()),
                size,
                f.rss_mb().map_or("-".to_owned(), |m| format!("{m:.1}")),
                f.memory_mb,
                f.failure.as_deref().map(|why| format!("  FAILED: {why}")).unwrap_or_default()
            );
            if let (None, Some(Expect::InitOnly(why))) = (&f.failure, first_invocation(&f.function).map(|i| i.expect)) {
                let _ = writeln!(out, "{:<17} (init only: {why})", "");
            }
        }
        let measured: Vec<&FunctionFigures> = self.functions.iter().filter(|f| !f.runs.is_empty()).collect();
        let slow: Vec<&str> = measured
            .iter()
            .filter(|f| f.init().is_some_and(|(m, _)| m > INIT_TARGET.as_secs_f64() * 1000.0))
            .map(|f| f.function.as_str())
            .collect();
        let big: Vec<&str> =
            self.functions.iter().filter(|f| f.binary_bytes > SIZE_TARGET_BYTES).map(|f| f.function.as_str()).collect();
        let verdict =
            |over: &[&str]| if over.is_empty() { "met".to_owned() } else { format!("missed by {}", over.join(", ")) };
        let _ = writeln!(
            out,
            "\ntargets: init median <= {} ms: {}; binary <= {} MiB: {}\n{} cold starts per function, {} ({})",
            INIT_TARGET.as_millis(),
            verdict(&slow),
            SIZE_TARGET_BYTES / (1024 * 1024),
            verdict(&big),
            self.runs_per_function,
            self.measured_at,
            self.host
        );
        out
    }
}

/// `vigil bench-cold`: the bench, its table on stdout, its JSON if asked; an error if a
/// function has no figures.
pub async fn run(sdk: &SdkConfig, args: &Args) -> anyhow::Result<()> {
    let report = bench(sdk, args).await?;
    print!("{}", report.table());
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report).context("encoding the figures")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("figures written to {}", path.display());
    }
    let failed: Vec<&str> =
        report.functions.iter().filter(|f| f.failure.is_some()).map(|f| f.function.as_str()).collect();
    if !failed.is_empty() {
        anyhow::bail!("no cold-start figures for {}", failed.join(", "));
    }
    Ok(())
}

/// Runs the bench against the local endpoint `sdk` points at.
pub async fn bench(sdk: &SdkConfig, args: &Args) -> anyhow::Result<Report> {
    if std::env::var("AWS_ENDPOINT_URL").unwrap_or_default().is_empty() {
        anyhow::bail!(
            "vigil bench-cold runs against a local endpoint only: start one (`make endpoint`) and \
             `eval \"$(bash localstack/endpoint.sh env)\"`, or use `make bench-cold`"
        );
    }
    let functions = selected(&args.functions)?;
    std::fs::create_dir_all(&args.logs).with_context(|| format!("creating {}", args.logs.display()))?;

    eprintln!("provisioning a fresh set of resources and the sample events' wearer");
    let resources = Resources::unique("vigil-bench");
    provision::provision(sdk, &resources).await.context("provisioning the resources")?;
    let env = environment(&resources)?;
    seed(sdk, &resources, args.wearers).await?;

    let mut report = Report {
        measured_at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        runs_per_function: args.runs,
        host: host(),
        functions: Vec::new(),
    };
    for name in functions {
        let figures = bench_function(sdk, args, name, &env, &resources).await;
        if let Some(why) = &figures.failure {
            eprintln!("{name}: FAILED: {why} (its output: {})", log_path(&args.logs, name).display());
        }
        report.functions.push(figures);
    }
    Ok(report)
}

/// The functions asked for, in [`ORDER`]; an unknown name is an error naming it.
fn selected(asked: &[String]) -> anyhow::Result<Vec<&'static str>> {
    if let Some(unknown) = asked.iter().find(|a| !ORDER.contains(&a.as_str())) {
        anyhow::bail!("--function {unknown}: no such function (one of {})", ORDER.join(", "));
    }
    Ok(ORDER.into_iter().filter(|n| asked.is_empty() || asked.iter().any(|a| a == n)).collect())
}

/// The local runner's environment for `resources`, plus what the stand-in stack gives
/// the functions that `vigil run` builds otherwise (the warehouse, the links' base URL).
pub fn environment(resources: &Resources) -> anyhow::Result<Env> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness for the pseudonym key: {e}"))?;
    let mut env = Env::for_resources(resources, &hex::encode(key));
    env.set("LINK_BASE_URL", LINK_BASE_URL);
    // warehouse-loader's Redshift settings, read at init (its invocation is not timed: Expect::InitOnly).
    env.set("REDSHIFT_WORKGROUP", "vigil-bench");
    env.set("REDSHIFT_DATABASE", "dev");
    env.set("COPY_ROLE_ARN", "arn:aws:iam::123456789012:role/vigil-bench-copy");
    Ok(env)
}

/// The sample events' wearer (events/wearer-profile.json) with their band, the uploads'
/// app user, and the caregivers' accounts, then `wearers - 1` copies of the profile.
/// Caregivers are reached by SMS only: the profile's push endpoints do not exist on the
/// local endpoint.
async fn seed(sdk: &SdkConfig, resources: &Resources, wearers: u32) -> anyhow::Result<()> {
    let mut profile: WearerProfile = serde_json::from_str(PROFILE).context("parsing events/wearer-profile.json")?;
    for caregiver in &mut profile.caregivers {
        caregiver.push_endpoint = None;
    }
    let band = DeviceLink {
        device_id: DEVICE.to_owned(),
        wearer_id: profile.wearer_id.clone(),
        app_users: vec![APP_USER.to_owned()],
        time_zone: profile.time_zone.clone(),
    };
    crate::run::register_wearer(sdk, resources, &band, &profile).await?;
    if wearers > 1 {
        eprintln!("registering {} more wearers", wearers - 1);
    }
    let directory = vigil_aws::wearers::DynamoWearerDirectory::new(
        vigil_aws::sdk::dynamodb(sdk),
        &resources.wearers_table,
        &resources.caregivers_table,
    );
    for n in 1..wearers {
        let copy = WearerProfile { wearer_id: format!("{}-{n:07}", profile.wearer_id), ..profile.clone() };
        directory.put_links(&copy).await.with_context(|| format!("registering wearer copy {n}"))?;
    }
    Ok(())
}

/// The variables Lambda gives `function`: those its declaration lists, valued from `env`
/// or their declared default (the rest, e.g. the secrets' ARNs, stay unset as in local
/// runs), the endpoint and credentials of this process, and Lambda's own.
pub fn function_environment(function: &str, env: &Env, runtime_api: &str) -> anyhow::Result<Vec<(String, String)>> {
    let declaration = Declaration::of(function)?;
    let mut vars: Vec<(String, String)> = declaration
        .environment
        .iter()
        .filter_map(|(name, v)| env.get(name).or_else(|| v.default.clone()).map(|value| (name.clone(), value)))
        .collect();
    for (name, value) in std::env::vars() {
        let passed = name.starts_with("AWS_ENDPOINT_URL")
            || ["AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
                .contains(&name.as_str());
        if passed {
            vars.push((name, value));
        }
    }
    let lambda = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", function.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", declaration.memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/03/[$LATEST]0123456789abcdef0123456789abcdef".to_owned()),
        // As the stack deploys them (infra/lib/function.ts): JSON logs at INFO.
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO".to_owned()),
        ("TZ", ":UTC".to_owned()),
    ];
    vars.extend(lambda.into_iter().map(|(k, v)| (k.to_owned(), v)));
    Ok(vars)
}

fn log_path(dir: &Path, function: &str) -> PathBuf {
    dir.join(format!("{function}.log"))
}

async fn bench_function(sdk: &SdkConfig, args: &Args, name: &str, env: &Env, resources: &Resources) -> FunctionFigures {
    let binary = args.bin_dir.join(name);
    let mut figures = FunctionFigures {
        function: name.to_owned(),
        binary_bytes: std::fs::metadata(&binary).map_or(0, |m| m.len()),
        memory_mb: Declaration::of(name).map_or(0, |d| d.memory_mb),
        runs: Vec::new(),
        failure: None,
    };
    if figures.binary_bytes == 0 {
        figures.failure = Some(format!("no binary at {} (build it with cargo build --release)", binary.display()));
        return figures;
    }
    let event = match event_for(sdk, name, env, resources).await {
        Ok(event) => event,
        Err(err) => {
            figures.failure = Some(format!("{err:#}"));
            return figures;
        }
    };
    let Some(first) = first_invocation(name) else {
        figures.failure = Some("no first invocation declared".to_owned());
        return figures;
    };
    let timeout = Duration::from_secs(args.timeout_secs);
    let invocation_timeout = Declaration::timeout_of(name);
    let log = log_path(&args.logs, name);
    let _ = std::fs::write(&log, b"");
    for run in 1..=args.runs {
        let invocation = Invocation::new(name, event.clone(), invocation_timeout);
        let invocation = match first.expect {
            Expect::InitOnly(_) => None,
            _ => Some(invocation),
        };
        let result = cold_start(&binary, name, env, invocation, timeout, &log).await.and_then(|outcome| {
            check(first.expect, &outcome.body)
                .map_err(|why| format!("its first invocation {why} ({})", first.event_file))?;
            Ok(outcome.run)
        });
        match result {
            Ok(r) => {
                eprintln!(
                    "{name} {run}/{}: init {:.1} ms, first invocation {}, peak RSS {:.1} MiB",
                    args.runs,
                    r.init_ms,
                    r.first_invocation_ms.map_or("not measured".to_owned(), |ms| format!("{ms:.1} ms")),
                    r.peak_rss_kb as f64 / 1024.0
                );
                figures.runs.push(r);
            }
            Err(why) => {
                figures.failure = Some(format!("run {run}: {why}"));
                break;
            }
        }
    }
    figures
}

/// The first invocation's event for `name`; ack-link's carries a link signed, with the
/// run's link key, for the alert alert-processor raised on the sample SOS.
async fn event_for(sdk: &SdkConfig, name: &str, env: &Env, resources: &Resources) -> anyhow::Result<Vec<u8>> {
    let first = first_invocation(name).with_context(|| format!("{name}: no sample event"))?;
    if name == "sms-reply" {
        return reply_now(first.event);
    }
    if name == "ingest-api" {
        return upload_now(first.event);
    }
    if name != "ack-link" {
        return Ok(first.event.as_bytes().to_vec());
    }
    let profile: WearerProfile = serde_json::from_str(PROFILE).context("parsing events/wearer-profile.json")?;
    let alerts = vigil_aws::alerts::DynamoAlertStore::new(vigil_aws::sdk::dynamodb(sdk), &resources.alerts_table);
    let query = vigil_domain::ports::AlertQuery { status: None, from: None, to: None, limit: 1, after: None };
    let page = alerts.of_wearer(&profile.wearer_id, &query).await.context("reading the alerts raised")?;
    let alert = page.alerts.first().context(
        "no alert to link to: alert-processor raises one on events/kinesis-readings.json's SOS (bench it first)",
    )?;
    let key = vigil_alerting::aws::link_key(env, sdk).await.context("the link key")?;
    let now = chrono::Utc::now();
    let claim = vigil_domain::link::LinkClaim::new(&alert.alert.id.to_string(), 0, now + vigil_domain::link::LINK_TTL)
        .map_err(|e| anyhow::anyhow!("signing a link: {e}"))?;
    Ok(first.event.replace(TOKEN_PLACEHOLDER, &key.sign(&claim)).into_bytes())
}

/// The sample reply, published now: it answers the SMS alert-processor has just sent
/// (a reply answers only an SMS sent before it).
fn reply_now(event: &str) -> anyhow::Result<Vec<u8>> {
    let mut event: serde_json::Value = serde_json::from_str(event).context("parsing events/sns-sms-reply.json")?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let timestamp = event
        .pointer_mut("/Records/0/Sns/Timestamp")
        .context("events/sns-sms-reply.json: no Records[0].Sns.Timestamp")?;
    *timestamp = serde_json::Value::String(now);
    Ok(serde_json::to_vec(&event)?)
}

/// The sample upload with its readings taken in the last minute, 5 s apart: ingest-api
/// accepts readings up to 7 days old, and the sample's are dated 2026-11-22.
fn upload_now(event: &str) -> anyhow::Result<Vec<u8>> {
    let what = "events/apigw-v2-upload.json";
    let mut event: serde_json::Value = serde_json::from_str(event).with_context(|| format!("parsing {what}"))?;
    let body = event.get("body").and_then(serde_json::Value::as_str).with_context(|| format!("{what}: no body"))?;
    let mut upload: serde_json::Value = serde_json::from_str(body).with_context(|| format!("{what}: body"))?;
    let readings = upload
        .get_mut("readings")
        .and_then(serde_json::Value::as_array_mut)
        .with_context(|| format!("{what}: no readings"))?;
    let (n, now) = (readings.len(), chrono::Utc::now());
    for (i, reading) in readings.iter_mut().enumerate() {
        let ts = now - chrono::Duration::seconds(5 * i64::try_from(n - 1 - i).unwrap_or(0));
        reading["ts"] = ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true).into();
    }
    event["body"] = serde_json::to_string(&upload)?.into();
    Ok(serde_json::to_vec(&event)?)
}

/// What one cold start measured, and the response it answered.
#[derive(Debug)]
pub struct Outcome {
    pub run: Run,
    pub body: bytes::Bytes,
}

/// Starts `binary` as Lambda would start `function`, hands it `invocation` and measures
/// the cold start; the process is killed once it answered. `Err` says why it has no figures.
pub async fn cold_start(
    binary: &Path,
    function: &str,
    env: &Env,
    invocation: Option<Invocation>,
    timeout: Duration,
    log: &Path,
) -> Result<Outcome, String> {
    let api = RuntimeApi::start().await.map_err(|e| format!("starting the Runtime API stand-in: {e}"))?;
    let vars = function_environment(function, env, &api.address()).map_err(|e| format!("{e:#}"))?;
    let mut command = tokio::process::Command::new(binary);
    command.env_clear().envs(vars);
    run_process(command, api, invocation, timeout, log).await
}

/// Spawns `command` (its environment set, `AWS_LAMBDA_RUNTIME_API` naming `api`), hands it
/// `invocation`, and measures: spawn → first `GET .../next`, handed out → response, and
/// `VmHWM` after the response. With no invocation, only init, and `VmHWM` then. The
/// process is killed before this returns.
pub async fn run_process(
    mut command: tokio::process::Command,
    mut api: RuntimeApi,
    invocation: Option<Invocation>,
    timeout: Duration,
    log: &Path,
) -> Result<Outcome, String> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("opening {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| format!("opening {}: {e}", log.display()))?;
    command
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true);
    let request_id = invocation.as_ref().map(|i| i.request_id.clone());
    if let Some(invocation) = invocation {
        api.invoke(invocation);
    }
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("starting it: {e}"))?;
    let pid = child.id().ok_or("it exited at once")?;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let (mut init, mut handed) = (None, None);
    let result = loop {
        tokio::select! {
            observed = api.observed() => match observed {
                Some(Observed::Next { at }) if request_id.is_none() => {
                    break peak_rss_kb(pid).map(|peak_rss_kb| Outcome {
                        run: Run { init_ms: (at - started).as_secs_f64() * 1000.0, first_invocation_ms: None, peak_rss_kb },
                        body: bytes::Bytes::new(),
                    });
                }
                Some(Observed::Next { at }) => { init.get_or_insert(at - started); }
                Some(Observed::Handed { request_id: id, at }) if Some(&id) == request_id.as_ref() => handed = Some(at),
                Some(Observed::Response { request_id: id, body, at }) if Some(&id) == request_id.as_ref() => {
                    // Read before the process is killed: its peak so far.
                    let rss = peak_rss_kb(pid);
                    break match (init, handed, rss) {
                        (Some(init), Some(handed), Ok(peak_rss_kb)) => Ok(Outcome {
                            run: Run {
                                init_ms: init.as_secs_f64() * 1000.0,
                                first_invocation_ms: Some(at.saturating_duration_since(handed).as_secs_f64() * 1000.0),
                                peak_rss_kb,
                            },
                            body,
                        }),
                        (_, _, Err(e)) => Err(e),
                        _ => Err("it answered an invocation it was never handed".to_owned()),
                    };
                }
                Some(Observed::Error { request_id: id, error_type, .. }) if Some(&id) == request_id.as_ref() => {
                    break Err(format!("its first invocation failed: {}", error_type.as_deref().unwrap_or("no error type")));
                }
                Some(Observed::InitError { error_type, .. }) => {
                    break Err(format!("its init failed: {}", error_type.as_deref().unwrap_or("no error type")));
                }
                Some(_) => {}
                None => break Err("the Runtime API stand-in stopped".to_owned()),
            },
            status = child.wait() => {
                break Err(match status {
                    Ok(s) => format!("it exited ({s}) before answering its first invocation"),
                    Err(e) => format!("waiting for it: {e}"),
                });
            }
            () = &mut deadline => break Err(format!("no answer within {} s", timeout.as_secs())),
        }
    };
    let _ = child.start_kill();
    let _ = child.wait().await;
    result
}

/// The peak resident set size of process `pid` so far (`VmHWM`), in KiB.
pub fn peak_rss_kb(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    vm_hwm_kb(&status).ok_or_else(|| format!("no VmHWM in /proc/{pid}/status"))
}

fn vm_hwm_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
}

/// The machine, for the figures' context: CPU model and count.
fn host() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    format!("{model}, {cpus} CPUs, {}", std::env::consts::ARCH)
}

#[cfg(test)]
mod tests;
