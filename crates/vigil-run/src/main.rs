//! `vigil`: the project's command line. `vigil run` runs the whole pipeline on
//! this machine with a simulated fleet; `vigil serve` runs it with no fleet,
//! until Ctrl-C, for building an app against it; the other commands provision resources
//! and register wristbands, wearers and caregivers on any endpoint (moto,
//! LocalStack, or AWS when AWS_ENDPOINT_URL is unset), and print sample uploads.

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::json;
use vigil_aws::registry::DynamoDeviceDirectory;
use vigil_aws::wearers::{DynamoCaregiverLinks, DynamoWearerDirectory};
use vigil_domain::registry::DeviceLink;
use vigil_local::provision::{self, Resources};
use vigil_run::run::RunOptions;
use vigil_run::view::Mode;

mod serve;

#[derive(Parser)]
#[command(
    name = "vigil",
    about = "Vigil's command line: run the pipeline locally, provision, register wristbands, sample uploads"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline on this machine against the endpoint in
    /// AWS_ENDPOINT_URL (moto or LocalStack), with a simulated fleet of wristbands
    /// posting through a local API Gateway; audit every store at the end.
    /// Exits non-zero if a reading was lost, an injected event raised no alert,
    /// or a notification went out twice.
    Run(RunArgs),
    /// Play many days of a small fleet fast (readings straight into the vitals table,
    /// then the real daily-summary on a simulated hourly clock) with slow changes
    /// planted in some wearers; audit that each is caught within 4 days, that stable
    /// wearers raise no trend, and that each opted-in caregiver gets one daily message
    /// a day (docs/daily.md). Exits non-zero if the audit fails.
    Days(vigil_run::days_play::Args),
    /// Run the pipeline on this machine with no simulated fleet, until Ctrl-C, against
    /// the local endpoint in AWS_ENDPOINT_URL: one wearer (events/wearer-profile.json)
    /// with a band and two caregivers, the local API Gateway with ingest-api and
    /// care-api, the stream functions and offline-detector on the real clock. Prints
    /// an app token, a caregiver token and curl lines to try the APIs.
    Serve(ServeArgs),
    /// Create the stream, tables and bucket on the endpoint (idempotent). Names
    /// come from the variables the functions read (STREAM_NAME, DEVICES_TABLE,
    /// WEARERS_TABLE, CAREGIVERS_TABLE, STATE_TABLE, ALERTS_TABLE, DELIVERIES_TABLE,
    /// QUARANTINE_BUCKET, DATA_BUCKET, CURATED_FILES_TABLE, VITALS_TABLE,
    /// DAYS_TABLE), else the local defaults.
    Provision {
        #[arg(long, default_value_t = 2)]
        shards: i32,
    },
    /// Register or replace a wearer's profile (name, time zone, thresholds,
    /// caregivers) from a JSON file; see events/wearer-profile.json.
    RegisterWearer {
        #[arg(long)]
        file: std::path::PathBuf,
        #[arg(long, env = "WEARERS_TABLE", default_value = "vigil-wearers")]
        wearers_table: String,
        /// The caregivers' records the profile's caregivers are written to or linked from.
        #[arg(long, env = "CAREGIVERS_TABLE", default_value = "vigil-caregivers")]
        caregivers_table: String,
        /// Where caregivers' accounts (`sub` in the profile) are linked to the wearer.
        #[arg(long, env = "CAREGIVER_LINKS_TABLE", default_value = "vigil-caregiver-links")]
        links_table: String,
    },
    /// Register a wristband: which wearer it belongs to and which app users may upload for it.
    RegisterDevice {
        #[arg(long)]
        device: String,
        #[arg(long)]
        wearer: String,
        /// App user (JWT `sub`) allowed to upload; repeat for several.
        #[arg(long = "app-user", required = true)]
        app_users: Vec<String>,
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        #[arg(long, env = "DEVICES_TABLE", default_value = "vigil-devices")]
        devices_table: String,
    },
    /// Put archived records back on the stream, or feed them to one function's handler
    /// (docs/operating.md).
    Replay(vigil_run::ops::replay::Args),
    /// Run a failure destination's records through their function again, deleting each
    /// message once its records succeeded.
    Redrive(vigil_run::ops::redrive::Args),
    /// Remove a wearer from every store, write a receipt, and verify nothing is left.
    Erase(Box<vigil_run::ops::erase::Args>),
    /// Once after upgrading: put the state items saved before the detector's index
    /// into it, due now, so the detector checks every wearer (docs/operating.md).
    BackfillCheckIndex(vigil_run::ops::backfill::Args),
    /// List, show, link, unlink and delete wristbands.
    Devices(vigil_run::ops::registry::DevicesArgs),
    /// List, show, put and delete wearers and their caregivers.
    Wearers(vigil_run::ops::registry::WearersArgs),
    /// List, show, put, delete and migrate caregivers (records of their own, linked to wearers).
    Caregivers(vigil_run::ops::registry::CaregiversArgs),
    /// Print the monthly AWS cost per service and per million readings for a fleet, beside
    /// the seed design's (docs/cost.md); --from-run reads a `vigil run --summary-json` file.
    Cost(vigil_run::cost::Args),
    /// Time each function's release binary starting cold against a local stand-in of the
    /// Lambda Runtime API (init, first invocation, size, peak RSS); `make bench-cold`.
    BenchCold(vigil_run::bench_cold::Args),
    /// Print a valid upload body timestamped now (or, with --event, an API Gateway
    /// HTTP API event for `cargo lambda invoke --data-file`).
    SampleUpload {
        #[arg(long, default_value = "band-0001")]
        device: String,
        #[arg(long, default_value_t = 12)]
        readings: u64,
        /// Wrap the body in an API Gateway v2 event signed in as this app user.
        #[arg(long)]
        event: Option<String>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Wearers in the fleet (one band and one phone each).
    #[arg(long, default_value_t = 20)]
    wearers: usize,
    /// Simulated minutes to run.
    #[arg(long, default_value_t = 120)]
    duration: i64,
    /// How much faster than real time the simulated clock runs.
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the local API Gateway listens.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: std::net::SocketAddr,
    #[arg(long, default_value_t = 2)]
    shards: i32,
    /// Write the summary as JSON here too.
    #[arg(long)]
    summary_json: Option<std::path::PathBuf>,
    /// No live view: only the summary.
    #[arg(long)]
    quiet: bool,
    /// The local PostgreSQL warehouse; each run loads into a database of its own.
    #[arg(long, env = "VIGIL_PG_URL", default_value = "postgres://postgres@127.0.0.1:5433/postgres")]
    warehouse_url: String,
    /// Skip the warehouse step (no PostgreSQL needed).
    #[arg(long)]
    no_warehouse: bool,
    /// Drive a deployed API instead (e.g. https://abc.execute-api.eu-west-1.amazonaws.com):
    /// only the phones run here, signed in with --token; the simulated day ends now.
    #[arg(long, requires = "token")]
    endpoint: Option<String>,
    /// An app user's access token for --endpoint (every simulated phone uses it).
    #[arg(long)]
    token: Option<String>,
    /// With --endpoint: first register the fleet's bands (to the token's user),
    /// wearers and caregivers in DEVICES_TABLE / WEARERS_TABLE / CAREGIVERS_TABLE of the AWS account.
    #[arg(long, requires = "endpoint")]
    register: bool,
    /// Where logs and failure-destination files go.
    #[arg(long, default_value = "target/vigil-run")]
    out_dir: std::path::PathBuf,
    /// Inject faults at this rate (0 to 1) per request and per invocation: throttling,
    /// 500/503, slow answers, resets, partial batch failures, aborted invocations
    /// (docs/local-development.md#chaos-run).
    #[arg(long, value_parser = chaos_rate)]
    chaos: Option<f64>,
}

fn chaos_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("{s} is not a rate between 0 and 1")),
    }
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Where the local API Gateway listens.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: std::net::SocketAddr,
    #[arg(long, default_value_t = 2)]
    shards: i32,
    /// The demo wearer's band.
    #[arg(long, default_value = "band-0042")]
    device: String,
    /// The app user (JWT `sub` of the printed app token) allowed to upload for the band.
    #[arg(long, default_value = "app-user-demo")]
    app_user: String,
    /// Where logs and failure-destination files go.
    #[arg(long, default_value = "target/vigil-serve")]
    out_dir: std::path::PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => return Box::pin(run(args)).await,
        Command::Days(args) => {
            std::fs::create_dir_all(&args.out_dir).with_context(|| format!("creating {}", args.out_dir.display()))?;
            log_to(&args.out_dir.join("vigil-days.log"))?;
            let report = Box::pin(vigil_run::days_play::play(&sdk().await, &(&args).into())).await?;
            println!("\n{}", report.table());
            if let Some(path) = &args.report_json {
                std::fs::write(path, serde_json::to_string_pretty(&report)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            let problems = report.problems();
            if !problems.is_empty() {
                anyhow::bail!("the days' audit found problems: {}", problems.join("; "));
            }
        }
        Command::Serve(args) => {
            std::fs::create_dir_all(&args.out_dir).with_context(|| format!("creating {}", args.out_dir.display()))?;
            let log_path = args.out_dir.join("vigil-serve.log");
            log_to(&log_path)?;
            let options = serve::ServeOptions {
                listen: args.listen,
                shards: args.shards,
                device: args.device,
                app_user: args.app_user,
                out_dir: args.out_dir,
                log_path,
            };
            return Box::pin(serve::serve(&sdk().await, &options)).await;
        }
        Command::Provision { shards } => {
            let sdk = sdk().await;
            let resources = resources_from_env(shards);
            provision::provision(&sdk, &resources).await.context("provisioning")?;
            println!("provisioned: {resources:#?}");
        }
        Command::RegisterWearer { file, wearers_table, caregivers_table, links_table } => {
            // The same code path as `vigil wearers put`.
            let client = aws_sdk_dynamodb::Client::new(&sdk().await);
            let directory = DynamoWearerDirectory::new(client.clone(), wearers_table, caregivers_table);
            let links = DynamoCaregiverLinks::new(client, links_table);
            vigil_run::ops::registry::put_wearer_file(&directory, &links, &file).await?;
        }
        Command::RegisterDevice { device, wearer, app_users, time_zone, devices_table } => {
            // The same code path as `vigil devices link`.
            let registry = DynamoDeviceDirectory::new(aws_sdk_dynamodb::Client::new(&sdk().await), devices_table);
            let link = DeviceLink { device_id: device.clone(), wearer_id: wearer, app_users, time_zone };
            vigil_run::ops::registry::link_device(&registry, &link).await?;
            println!("registered {device}");
        }
        Command::Cost(args) => vigil_run::cost::run(&args)?,
        Command::BenchCold(args) => vigil_run::bench_cold::run(&sdk().await, &args).await?,
        Command::Replay(args) => vigil_run::ops::replay::run(&sdk().await, args).await?,
        Command::Redrive(args) => vigil_run::ops::redrive::run(&sdk().await, args).await?,
        Command::Erase(args) => vigil_run::ops::erase::run(&sdk().await, *args).await?,
        Command::BackfillCheckIndex(args) => vigil_run::ops::backfill::run(&sdk().await, args).await?,
        Command::Devices(args) => vigil_run::ops::registry::devices(&sdk().await, args).await?,
        Command::Wearers(args) => vigil_run::ops::registry::wearers(&sdk().await, args).await?,
        Command::Caregivers(args) => vigil_run::ops::registry::caregivers(&sdk().await, args).await?,
        Command::SampleUpload { device, readings, event } => {
            let body = sample_upload(&device, readings);
            let out = match event {
                None => body,
                Some(sub) => json!({
                    "version": "2.0",
                    "routeKey": "POST /v1/uploads",
                    "rawPath": "/v1/uploads",
                    "rawQueryString": "",
                    "headers": {"content-type": "application/json"},
                    "requestContext": {
                        "http": {"method": "POST", "path": "/v1/uploads", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "vigil-cli"},
                        "authorizer": {"jwt": {"claims": {"sub": sub}, "scopes": null}},
                        "requestId": "local", "routeKey": "POST /v1/uploads", "stage": "$default",
                        "accountId": "000000000000", "apiId": "local", "time": "", "timeEpoch": 0
                    },
                    "body": body.to_string(),
                    "isBase64Encoded": false
                }),
            };
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
    }
    Ok(())
}

/// The resources named by the functions' environment variables, else the local defaults.
fn resources_from_env(shards: i32) -> Resources {
    let d = Resources::local_defaults();
    let var = |name: &str, default: String| std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or(default);
    Resources {
        stream: var("STREAM_NAME", d.stream),
        stream_shards: shards,
        devices_table: var("DEVICES_TABLE", d.devices_table),
        wearers_table: var("WEARERS_TABLE", d.wearers_table),
        caregivers_table: var("CAREGIVERS_TABLE", d.caregivers_table),
        state_table: var("STATE_TABLE", d.state_table),
        alerts_table: var("ALERTS_TABLE", d.alerts_table),
        caregiver_links_table: var("CAREGIVER_LINKS_TABLE", d.caregiver_links_table),
        deliveries_table: var("DELIVERIES_TABLE", d.deliveries_table),
        quarantine_bucket: var("QUARANTINE_BUCKET", d.quarantine_bucket),
        data_bucket: var("DATA_BUCKET", d.data_bucket),
        curated_files_table: var("CURATED_FILES_TABLE", d.curated_files_table),
        vitals_table: var("VITALS_TABLE", d.vitals_table),
        days_table: var("DAYS_TABLE", d.days_table),
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out_dir).with_context(|| format!("creating {}", args.out_dir.display()))?;
    let log_path = args.out_dir.join("vigil-run.log");
    log_to(&log_path)?;
    let endpoint_url = std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty());
    let sdk = sdk().await;
    let options = RunOptions {
        wearers: args.wearers,
        duration: chrono::TimeDelta::minutes(args.duration.max(1)),
        speed: args.speed,
        seed: args.seed,
        listen: args.listen,
        shards: args.shards,
        out_dir: args.out_dir.clone(),
        view: if args.quiet { Mode::Quiet } else { Mode::Live },
        endpoint_url,
        warehouse_url: if args.no_warehouse { None } else { Some(args.warehouse_url.clone()) },
        canary: None,
        chaos: args.chaos,
    };
    if let (Some(endpoint), Some(token)) = (&args.endpoint, &args.token) {
        let resources = resources_from_env(args.shards);
        let register_in = args.register.then_some(&resources);
        let summary = vigil_run::run::drive_remote(&sdk, &options, endpoint, token, register_in).await?;
        println!("{}", serde_json::to_string_pretty(&summary)?);
        if summary.uploads_lost > 0 {
            anyhow::bail!("{} uploads were refused or given up", summary.uploads_lost);
        }
        return Ok(());
    }
    let summary = Box::pin(vigil_run::run::run(&sdk, &options)).await?;
    println!("\n{}", summary.table());
    if let Some(path) = &args.summary_json {
        std::fs::write(path, serde_json::to_string_pretty(&summary)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("summary written to {}", path.display());
    }
    println!("logs: {}", log_path.display());
    let problems = summary.problems();
    if !problems.is_empty() {
        anyhow::bail!("the run found problems: {}", problems.join("; "));
    }
    Ok(())
}

/// Logs (RUST_LOG, default info) go to `path`, never to the terminal.
fn log_to(path: &std::path::Path) -> anyhow::Result<()> {
    let log = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,aws_config=warn".into()),
        )
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(log))
        .init();
    Ok(())
}

/// AWS when AWS_ENDPOINT_URL is unset; the emulator's dummy credentials when it is set.
async fn sdk() -> aws_config::SdkConfig {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => vigil_local::endpoint::sdk_config(&url).await,
        _ => vigil_aws::sdk::load().await,
    }
}

fn sample_upload(device: &str, n: u64) -> serde_json::Value {
    let now = chrono::Utc::now();
    let first_seq = u64::try_from(now.timestamp()).unwrap_or(0) / 5 * 10;
    let readings: Vec<_> = (0..n)
        .map(|i| {
            let ts = now - chrono::Duration::seconds(5 * i64::try_from(n - 1 - i).unwrap_or(0));
            json!({
                "ts": ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "seq": first_seq + i,
                "heart_rate_bpm": 68 + (i % 7),
                "spo2_pct": 97,
                "steps": i % 6,
                "activity": "light",
                "worn": true,
                "battery_pct": 80
            })
        })
        .collect();
    json!({
        "device_id": device,
        "batch_id": format!("cli-{}", now.timestamp_millis()),
        "app_version": "1.4.2",
        "readings": readings
    })
}
