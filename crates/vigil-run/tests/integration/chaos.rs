//! `vigil run --chaos`: a short run under a steady rain of faults — throttling,
//! 500/503, slow answers, resets, partial batch failures between every function and
//! the endpoint (and between the phones and the gateway), invocations aborted at a
//! random point — loses nothing and tells every caregiver once, up to the documented
//! bound (a fault between send and confirm), each such duplicate explained.

use std::net::SocketAddr;

use vigil_run::run::RunOptions;
use vigil_run::view::Mode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_rain_of_faults_nothing_is_lost_and_every_duplicate_is_explained() {
    let sdk = vigil_local::endpoint::require().await;
    let out_dir = std::env::temp_dir().join(format!("vigil-chaos-test-{}", std::process::id()));
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
        // High enough that every kind of fault fires in a short run.
        chaos: Some(0.2),
    };
    let summary = Box::pin(vigil_run::run::run(&sdk, &options)).await.unwrap();
    println!("{}", summary.table());
    println!("problems: {:?}", summary.problems());
    let chaos = summary.chaos.clone().expect("a chaos run reports its chaos");

    // The faults happened, of every kind, and the SDK retried through them.
    assert!(chaos.report.kinds_missing().is_empty(), "every kind of fault fires: {:?}", chaos.report);
    assert!(chaos.report.faults_by_function.contains_key("phones"), "the phones' link is faulted too");
    for function in ["ingest-api", "alert-processor", "raw-archiver", "vitals-writer", "offline-detector"] {
        assert!(chaos.report.faults_by_function.contains_key(function), "{function}: {:?}", chaos.report);
    }
    assert!(chaos.report.sdk_retries.values().sum::<u64>() > 0);
    assert!(chaos.report.invocations_aborted > 0);

    // And the audit holds as in a calm run.
    assert!(summary.readings_accepted > 4 * 30 * 12 - 100, "{summary:?}");
    assert_eq!(summary.lost, 0);
    assert_eq!(summary.readings_raw, summary.readings_accepted);
    assert_eq!(summary.readings_curated, summary.readings_accepted);
    assert_eq!(summary.readings_vitals, summary.readings_accepted);
    assert_eq!(summary.readings_warehouse, summary.readings_accepted, "one warehouse row per distinct reading");
    assert_eq!(summary.alerts_warehouse, summary.alerts_raised, "every alert reaches the warehouse once");
    assert_eq!(summary.alerts_missed, 0, "{summary:?}");
    assert_eq!(chaos.duplicates_unexplained, 0, "{chaos:?}");
    assert_eq!(summary.duplicate_notifications, chaos.duplicates_explained.len() as u64, "{chaos:?}");
    assert!(chaos.duplicates_explained.iter().all(|d| !d.why.is_empty()));
    assert_eq!(chaos.claimed_never_sent, 0, "every caregiver is told");
    assert_eq!(summary.records_to_failure_destination, 0, "retries as deployed absorb the faults");
    assert!(chaos.failure_destination_files.is_empty());
    assert_eq!(summary.acknowledgements.mismatches, 0, "{:?}", summary.acknowledgements);
    assert!(summary.problems().is_empty(), "{:?}", summary.problems());
}
