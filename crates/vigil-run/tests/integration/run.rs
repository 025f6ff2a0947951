//! The whole pipeline end to end: a small fleet at high simulated speed through
//! the local API Gateway, the three stream functions behind their event source
//! mappings, the schedules, and every store, against the endpoint on :4566.

use std::net::SocketAddr;

use vigil_local::declaration::Users;
use vigil_run::run::RunOptions;
use vigil_run::view::Mode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_fleet_loses_nothing_misses_no_alert_and_sends_each_message_once() {
    let sdk = vigil_local::endpoint::require().await;
    let out_dir = std::env::temp_dir().join(format!("vigil-run-test-{}", std::process::id()));
    let options = RunOptions {
        wearers: 4,
        duration: chrono::TimeDelta::minutes(30),
        speed: 120.0,
        seed: 7,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        shards: 2,
        out_dir,
        view: Mode::Quiet,
        endpoint_url: Some(vigil_local::endpoint::url()),
        warehouse_url: Some(std::env::var("VIGIL_PG_URL").expect(
            "VIGIL_PG_URL is not set: start the local warehouse with `bash scripts/pg.sh start` and \
             `eval \"$(bash scripts/pg.sh env)\"` (make test does this)",
        )),
        canary: None,
        chaos: None,
    };
    let summary = Box::pin(vigil_run::run::run(&sdk, &options)).await.unwrap();
    println!("{}", summary.table());

    assert!(summary.readings_accepted > 4 * 30 * 12 - 100, "{summary:?}");
    // No 202 told the phone another policy than the one it follows (the wearer's own
    // limits); one without a policy is allowed (limits read too slowly on a loaded moto).
    assert_eq!(summary.uploads_off_policy, 0, "{summary:?}");
    assert!(summary.uploads_on_policy * 2 >= summary.uploads_accepted, "{summary:?}");
    assert_eq!(summary.readings_raw, summary.readings_accepted);
    assert_eq!(summary.readings_curated, summary.readings_accepted);
    assert_eq!(summary.readings_vitals, summary.readings_accepted);
    assert_eq!(summary.readings_warehouse, summary.readings_accepted, "one warehouse row per distinct reading");
    assert_eq!(summary.lost, 0);
    assert!(summary.alerts_warehouse > 0, "alert-processor's curated alerts reach the alerts fact table: {summary:?}");
    assert_eq!(summary.alerts_warehouse, summary.alerts_raised, "every alert reaches the warehouse: {summary:?}");
    assert_eq!(
        summary.alerts_resolved_warehouse, summary.alerts_resolved,
        "every resolution, the rules' and the caregivers', reaches the warehouse: {summary:?}"
    );
    assert_eq!(
        summary.alerts_acknowledged_warehouse, summary.alerts_acknowledged,
        "every acknowledgement reaches the warehouse: {summary:?}"
    );
    assert!(summary.injected_events >= 5, "the core events are always injected: {summary:?}");
    assert_eq!(summary.alerts_missed, 0, "{summary:?}");
    assert!(summary.alerts_raised >= 3, "SOS, an uncancelled fall and a heart-rate episode: {summary:?}");
    assert_eq!(summary.duplicate_notifications, 0);
    assert!(summary.notifications_sent >= summary.alerts_raised, "{summary:?}");
    // Every message but the calls (the voice stand-in's) is an SMS here: moto recorded each.
    let sms = summary.notifications_sent - summary.escalations.calls as u64;
    assert_eq!(summary.sms_recorded_by_endpoint, Some(sms), "moto recorded every SMS sent: {summary:?}");
    assert!(summary.uploads_sent > summary.uploads_accepted - 1, "resends are counted");
    assert_eq!(summary.records_to_failure_destination, 0);
    assert!(summary.alert_latency_ms.count > 0 && summary.alert_latency_ms.p99 > 0, "{summary:?}");
    let acks = &summary.acknowledgements;
    assert!(
        acks.told >= summary.alerts_raised as usize - 1 && acks.told > 0,
        "caregivers hear of the alerts: {acks:?}"
    );
    assert_eq!(acks.acknowledged + acks.resolved_false_alarm + acks.never_acknowledged, acks.told, "{acks:?}");
    assert_eq!(acks.mismatches, 0, "the alerts table holds what the caregivers did: {acks:?}");
    assert!(summary.problems().is_empty());
}

/// `vigil run --endpoint URL --token T --register` against an API that checks
/// timestamps with its own (real) clock: here the local API Gateway and
/// ingest-api on a clock at real speed, standing in for a deployment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_drives_a_deployed_api_with_one_users_token() {
    use std::sync::Arc;
    use vigil_run::gateway::{self, LocalIssuer};
    use vigil_run::pipeline::{ApiBackend, Env};

    let sdk = vigil_local::endpoint::require().await;
    let resources =
        vigil_local::provision::Resources { stream_shards: 1, ..vigil_local::provision::Resources::unique("remote") };
    vigil_local::provision::provision(&sdk, &resources).await.unwrap();
    let env = Env::for_resources(&resources, &"ab".repeat(32));
    let clock = vigil_run::clock::SimClock::new(chrono::Utc::now(), 1.0);
    let backend = Arc::new(ApiBackend::build(&sdk, &env, clock).await.unwrap());
    let issuer = Arc::new(LocalIssuer::generate().unwrap());
    let (addr, server) = gateway::serve(SocketAddr::from(([127, 0, 0, 1], 0)), issuer.clone(), backend).await.unwrap();

    let options = RunOptions {
        wearers: 3,
        duration: chrono::TimeDelta::minutes(10),
        speed: 600.0,
        seed: 3,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        shards: 1,
        out_dir: std::env::temp_dir(),
        view: Mode::Quiet,
        endpoint_url: None,
        warehouse_url: None,
        canary: None,
        chaos: None,
    };
    let token = issuer.token(Users::App, "caregiver-app-user");
    let summary =
        Box::pin(vigil_run::run::drive_remote(&sdk, &options, &format!("http://{addr}"), &token, Some(&resources)))
            .await
            .unwrap();
    assert_eq!(summary.uploads_lost, 0, "{summary:?}");
    assert!(summary.readings_accepted >= 3 * 10 * 12 - 40, "{summary:?}");

    // Another user's token for the same bands: every upload is refused (403), none lost silently.
    let unknown = RunOptions { seed: 4, wearers: 1, ..options };
    let refused = Box::pin(vigil_run::run::drive_remote(
        &sdk,
        &unknown,
        &format!("http://{addr}"),
        &issuer.token(Users::App, "someone-else"),
        None,
    ))
    .await
    .unwrap();
    assert_eq!(refused.uploads_accepted, 0, "another user's bands: {refused:?}");
    assert!(refused.uploads_lost > 0);
    server.abort();
}
