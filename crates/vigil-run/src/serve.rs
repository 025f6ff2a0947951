//! `vigil serve`: the pipeline on this machine with no simulated fleet, until
//! Ctrl-C, for building an app against it. One wearer (events/wearer-profile.json)
//! with one band and two caregivers with accounts is registered; the local API
//! Gateway serves ingest-api and care-api; the stream functions and the
//! offline detector run on the real clock. It prints a token for the app user
//! and one for the first caregiver, and curl lines to try every step: upload,
//! status, alerts, acknowledge. Every message sent to a caregiver is printed.
//!
//! Local only: it refuses to run without AWS_ENDPOINT_URL.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_config::SdkConfig;
use chrono::{SubsecRound, Utc};
use serde_json::json;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
use vigil_domain::care::WearerProfile;
use vigil_domain::registry::DeviceLink;
use vigil_local::declaration::Users;
use vigil_local::provision::{self, Resources};
use vigil_run::clock::SimClock;
use vigil_run::gateway::{self, LocalIssuer};
use vigil_run::observe::{Live, Sent, SentLog};
use vigil_run::pipeline::{self, ApiBackend, Env, Functions, StreamRun};
use vigil_run::run;

/// The demo wearer: Carmen Ruiz (wearer-42), cared for by Lucía and Tom.
const PROFILE: &str = include_str!("../../../events/wearer-profile.json");
/// How long the printed tokens stay valid (the signing key lives as long as the process).
const TOKEN_DAYS: i64 = 30;
/// How long stopping may take to let the stream functions finish what is on the
/// stream: raw-archiver's batching window (30 s, as deployed) and some.
const DRAIN: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub shards: i32,
    /// The demo wearer's band.
    pub device: String,
    /// The app user (JWT `sub`) allowed to upload for the band.
    pub app_user: String,
    /// Where failure-destination files go.
    pub out_dir: PathBuf,
    pub log_path: PathBuf,
}

pub async fn serve(sdk: &SdkConfig, opts: &ServeOptions) -> anyhow::Result<()> {
    if std::env::var("AWS_ENDPOINT_URL").unwrap_or_default().is_empty() {
        anyhow::bail!(
            "vigil serve runs against a local endpoint only: start one (`make endpoint`) and \
             `eval \"$(bash localstack/endpoint.sh env)\"`, or use `make serve`"
        );
    }
    std::fs::create_dir_all(&opts.out_dir).with_context(|| format!("creating {}", opts.out_dir.display()))?;
    let resources = Resources { stream_shards: opts.shards, ..Resources::unique("vigil-serve") };
    provision::provision(sdk, &resources).await.context("provisioning the resources")?;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness for the pseudonym key: {e}"))?;
    let mut env = Env::for_resources(&resources, &hex::encode(key));

    let mut profile: WearerProfile = serde_json::from_str(PROFILE).context("parsing events/wearer-profile.json")?;
    local_push_endpoints(sdk, &mut profile).await;
    let band = DeviceLink {
        device_id: opts.device.clone(),
        wearer_id: profile.wearer_id.clone(),
        app_users: vec![opts.app_user.clone()],
        time_zone: profile.time_zone.clone(),
    };
    run::register_wearer(sdk, &resources, &band, &profile).await?;

    let live = Arc::new(Live::default());
    let (messages_tx, messages_rx) = tokio::sync::mpsc::unbounded_channel();
    let sent = Arc::new(SentLog::new(Some(messages_tx)));
    let clock = SimClock::new(Utc::now().trunc_subsecs(0), 1.0);
    let issuer = Arc::new(LocalIssuer::generate().map_err(|e| anyhow::anyhow!("no randomness for the JWT key: {e}"))?);
    let backend = Arc::new(ApiBackend::build(sdk, &env, clock.clone()).await?);
    let (addr, server) = gateway::serve(opts.listen, issuer.clone(), backend)
        .await
        .with_context(|| format!("starting the local API on {} (--listen)", opts.listen))?;
    // SMS carry links to the ack-link page here; calls go to the voice stand-in (moto has no voice API).
    env.set("LINK_BASE_URL", &format!("http://{addr}"));
    let mut functions = Functions::build(sdk, &env, sent, live.clone()).await?;
    let voice = vigil_local::voice::VoiceStandIn::start_local().await.context("starting the voice stand-in")?;
    functions.offline_detector.alerting.notifier.inner.voice = Some(pipeline::voice_caller(sdk, &voice));

    let expires = Utc::now() + chrono::Duration::days(TOKEN_DAYS);
    let caregiver = profile.caregivers.iter().find(|c| c.sub.is_some()).context("no caregiver with an account")?;
    let caregiver_sub = caregiver.sub.clone().unwrap_or_default();
    let app_token = issuer.token_until(Users::App, &opts.app_user, expires);
    let care_token = issuer.token_until(Users::Caregivers, &caregiver_sub, expires);
    println!("{}", banner(&Banner { addr, profile: &profile, band: &band, resources: &resources, opts }));
    println!("{}", try_it(addr, &profile, &band, &app_token, &care_token, caregiver));

    let labels: HashMap<String, String> = profile
        .caregivers
        .iter()
        .flat_map(|c| {
            let label = format!("{} ({})", c.name.as_deref().unwrap_or(&c.id), c.id);
            c.phone.iter().chain(&c.push_endpoint).map(move |a| (a.clone(), label.clone()))
        })
        .collect();

    let (stop_tx, stop_rx) = watch::channel(false);
    let stream_run =
        StreamRun { stream: &resources.stream, failures_dir: &opts.out_dir, drain_timeout: DRAIN, chaos: None };
    let streams_stop = stop_rx.clone();
    let work = async {
        let mut streams =
            Box::pin(pipeline::run_stream_functions(sdk, &functions, &clock, &live, &stream_run, streams_stop));
        let ended = tokio::select! {
            // It returns only after `stop`: here, only if it failed.
            result = &mut streams => Some(result),
            signal = tokio::signal::ctrl_c() => {
                if let Err(err) = signal {
                    eprintln!("cannot wait for Ctrl-C ({err}); stopping");
                }
                None
            }
        };
        let _ = stop_tx.send(true);
        match ended {
            Some(result) => result.map(|_| ()),
            None => {
                println!(
                    "\nstopping: the stream functions finish what is on the stream, up to raw-archiver's \
                     30 s batching window (Ctrl-C again to quit at once)"
                );
                tokio::spawn(async {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        eprintln!("stopped without draining");
                        std::process::exit(130);
                    }
                });
                streams.await.map(|_| ())
            }
        }
    };
    let detector = Box::pin(run::schedules(&functions, None, &clock, &live, stop_rx.clone(), None));
    let printer = Box::pin(print_messages(messages_rx, labels, &live, stop_rx));
    let (result, (), ()) = tokio::join!(Box::pin(work), detector, printer);
    server.abort();
    result.context("running the stream functions")?;
    println!("stopped (logs: {})", opts.log_path.display());
    Ok(())
}

/// The profile's push endpoints are of a real account; each caregiver with one
/// gets an endpoint of a local platform application instead, so push messages
/// go out (and are printed) as SMS do. Without one, that caregiver gets SMS only.
async fn local_push_endpoints(sdk: &SdkConfig, profile: &mut WearerProfile) {
    let sns = vigil_aws::sdk::sns(sdk);
    let application = sns
        .create_platform_application()
        .name("vigil-serve-caregivers")
        .platform("GCM")
        .attributes("PlatformCredential", "local")
        .send()
        .await
        .ok()
        .and_then(|out| out.platform_application_arn);
    for c in profile.caregivers.iter_mut().filter(|c| c.push_endpoint.is_some()) {
        c.push_endpoint = match &application {
            Some(arn) => sns
                .create_platform_endpoint()
                .platform_application_arn(arn)
                .token(format!("vigil-serve-{}", c.id))
                .send()
                .await
                .ok()
                .and_then(|out| out.endpoint_arn),
            None => None,
        };
        if c.push_endpoint.is_none() {
            eprintln!("note: no local push endpoint for {}: SMS only", c.id);
        }
    }
}

struct Banner<'a> {
    addr: SocketAddr,
    profile: &'a WearerProfile,
    band: &'a DeviceLink,
    resources: &'a Resources,
    opts: &'a ServeOptions,
}

fn banner(b: &Banner<'_>) -> String {
    let caregivers: Vec<String> = b
        .profile
        .caregivers
        .iter()
        .map(|c| {
            let channels: Vec<&str> = [c.phone.as_ref().map(|_| "sms"), c.push_endpoint.as_ref().map(|_| "push")]
                .into_iter()
                .flatten()
                .collect();
            format!(
                "{} ({}, sub {}, {})",
                c.id,
                c.name.as_deref().unwrap_or("-"),
                c.sub.as_deref().unwrap_or("none"),
                channels.join("+")
            )
        })
        .collect();
    format!(
        "\nvigil serve: the pipeline on this machine, no simulated fleet. Ctrl-C stops it.\n\
         \x20 API        http://{addr} — POST /v1/uploads (ingest-api, app users' tokens); /v1/wearers…, /v1/alerts… \
         (care-api, caregivers' tokens); /a/<token> (ack-link, the SMS's link, no token)\n\
         \x20 wearer     {wearer} ({name}, {tz}); band {device} for app user {app_user}\n\
         \x20 caregivers {caregivers}\n\
         \x20 running    alert-processor, raw-archiver, vitals-writer (on the stream); offline-detector (every {every} min)\n\
         \x20 resources  stream {stream}, tables {devices}, {wearers}, {alerts}, …\n\
         \x20 logs       {log}",
        addr = b.addr,
        wearer = b.profile.wearer_id,
        name = b.profile.name,
        tz = b.profile.time_zone,
        device = b.band.device_id,
        app_user = b.opts.app_user,
        caregivers = caregivers.join("; "),
        every = pipeline::schedule("offline-detector").num_minutes(),
        stream = b.resources.stream,
        devices = b.resources.devices_table,
        wearers = b.resources.wearers_table,
        alerts = b.resources.alerts_table,
        log = b.opts.log_path.display(),
    )
}

/// The tokens as export lines, and a curl line for each step.
fn try_it(
    addr: SocketAddr,
    profile: &WearerProfile,
    band: &DeviceLink,
    app_token: &str,
    care_token: &str,
    caregiver: &vigil_domain::care::Caregiver,
) -> String {
    let base = format!("http://{addr}");
    let wearer = &profile.wearer_id;
    let care = r#"-H "authorization: Bearer $VIGIL_CARE_TOKEN""#;
    let code = r"-w '\nHTTP %{http_code}\n'";
    let upload = sos_upload(&band.device_id);
    format!(
        "\nTokens (valid {TOKEN_DAYS} days, for this process only: its signing key is new at each start):\n\
         export VIGIL_APP_TOKEN='{app_token}'   # app user {app_user}\n\
         export VIGIL_CARE_TOKEN='{care_token}'   # caregiver {cg} (sub {sub})\n\
         \n\
         In another shell, after the two export lines:\n\
         # upload 3 readings of {device}, the last an SOS press: 202; the SOS raises an alert and messages the caregivers\n\
         curl -s {code} -X POST {base}/v1/uploads -H \"authorization: Bearer $VIGIL_APP_TOKEN\" -H 'content-type: application/json' -d '{upload}'\n\
         # the wearer's state: online, vitals, open alerts: 200\n\
         curl -s {code} {care} {base}/v1/wearers/{wearer}\n\
         # the wearer's alerts, newest first: 200\n\
         curl -s {code} {care} {base}/v1/wearers/{wearer}/alerts\n\
         # acknowledge an alert: 200. ALERT_ID is an `alert_id` of the list above; this takes the newest\n\
         # (an upload's alert is listed a few seconds after its 202, once alert-processor has read the stream):\n\
         ALERT_ID=$(curl -s {care} {base}/v1/wearers/{wearer}/alerts | python3 -c 'import json,sys; a=json.load(sys.stdin)[\"alerts\"]; a or sys.exit(\"no alert yet\"); print(a[0][\"alert_id\"])')\n\
         curl -s {code} -X POST {care} {base}/v1/alerts/$ALERT_ID/acknowledge\n\
         \n\
         The upload above stays valid for 7 days; resent, it is accepted again and raises no second alert. \
         For a fresh one: vigil sample-upload --device {device}. The whole API: docs/openapi.yaml, docs/care-api.yaml.\n\
         Waiting for uploads; messages to caregivers appear below.\n",
        app_user = band.app_users.join(", "),
        cg = caregiver.id,
        sub = caregiver.sub.as_deref().unwrap_or(""),
        device = band.device_id,
    )
}

/// A valid upload of 3 readings timestamped now, the last an SOS press with the phone's location.
fn sos_upload(device: &str) -> String {
    let mut body = crate::sample_upload(device, 3);
    if let Some(last) = body["readings"].as_array_mut().and_then(|r| r.last_mut()) {
        last["sos"] = json!(true);
        last["location"] = json!({"lat": 40.4168, "lon": -3.7038, "accuracy_m": 8.0});
    }
    body.to_string()
}

/// Prints each message as the caregiver reads it, and each new alert.
async fn print_messages(
    mut messages: UnboundedReceiver<Sent>,
    labels: HashMap<String, String>,
    live: &Live,
    mut stop: watch::Receiver<bool>,
) {
    let (mut alerts, mut failures) = (0, 0);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            Some(sent) = messages.recv() => {
                let who = labels.get(&sent.address).map_or("a caregiver", String::as_str);
                println!("🔔 {} → {who}: {}", sent.channel.as_str(), sent.text);
            }
            _ = tick.tick() => {
                let now = Live::get(&live.alerts_raised);
                if now > alerts {
                    println!("⚠ {} new alert(s) raised ({now} in all): see the alerts curl line", now - alerts);
                    alerts = now;
                }
                let now = Live::get(&live.handler_failures);
                if now > failures {
                    println!("✗ {} record(s) failed in a stream function; see the log", now - failures);
                    failures = now;
                }
            }
        }
    }
    while let Ok(sent) = messages.try_recv() {
        let who = labels.get(&sent.address).map_or("a caregiver", String::as_str);
        println!("🔔 {} → {who}: {}", sent.channel.as_str(), sent.text);
    }
}
