//! The whole pipeline end to end: a small fleet at high simulated speed through
//! the local API Gateway, the three stream functions behind their event source
//! mappings, the schedules, and every store, against the endpoint on :4566.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::net::SocketAddr;

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
        load_every_min: 5,
        warehouse_url: Some(std::env::var("VIGIL_PG_URL").expect(
            "VIGIL_PG_URL is not set: start the local warehouse with `bash scripts/pg.sh start` and \
             `eval \"$(bash scripts/pg.sh env)\"` (make test does this)",
        )),
    };
    let summary = Box::pin(vigil_run::run::run(&sdk, &options)).await.unwrap();
    println!("{}", summary.table());

    assert!(summary.readings_accepted > 4 * 30 * 12 - 100, "{summary:?}");
    assert_eq!(summary.readings_raw, summary.readings_accepted);
    assert_eq!(summary.readings_curated, summary.readings_accepted);
    assert_eq!(summary.readings_vitals, summary.readings_accepted);
    assert_eq!(summary.readings_warehouse, summary.readings_accepted, "one warehouse row per distinct reading");
    assert_eq!(summary.lost, 0);
    assert!(summary.injected_events >= 5, "the core events are always injected: {summary:?}");
    assert_eq!(summary.alerts_missed, 0, "{summary:?}");
    assert!(summary.alerts_raised >= 3, "SOS, an uncancelled fall and a heart-rate episode: {summary:?}");
    assert_eq!(summary.duplicate_notifications, 0);
    assert!(summary.notifications_sent >= summary.alerts_raised, "{summary:?}");
    assert_eq!(summary.sms_recorded_by_endpoint, Some(summary.notifications_sent), "moto recorded every SMS sent");
    assert!(summary.uploads_sent > summary.uploads_accepted - 1, "resends are counted");
    assert_eq!(summary.records_to_failure_destination, 0);
    assert!(summary.alert_latency_ms.count > 0 && summary.alert_latency_ms.p99 > 0, "{summary:?}");
    assert!(summary.problems().is_empty());
}
