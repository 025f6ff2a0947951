//! offline-detector as deployed (its `build`, the real DynamoDB adapters) against moto's
//! server: the wearers it checks come from the state table's due index, not a Scan.
//! Needs the endpoint: `bash localstack/endpoint.sh start`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

use chrono::{DateTime, Duration, DurationRound, Utc};
use vigil_alerting::DeviceReadings;
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_domain::alerts::{AlertId, RuleKind};
use vigil_domain::care::WearerProfile;
use vigil_domain::ports::StateStore;
use vigil_domain::reading::Reading;
use vigil_local::provision::{Resources, provision};

struct Setup {
    detector: offline_detector::AwsDetector,
}

async fn setup(wearers: &[&str]) -> Setup {
    let sdk = vigil_local::endpoint::require().await;
    let r = Resources::unique("detector");
    provision(&sdk, &r).await.unwrap();
    let env = [
        ("WEARERS_TABLE", r.wearers_table.as_str()),
        ("CAREGIVERS_TABLE", r.caregivers_table.as_str()),
        ("STATE_TABLE", r.state_table.as_str()),
        ("ALERTS_TABLE", r.alerts_table.as_str()),
        ("DELIVERIES_TABLE", r.deliveries_table.as_str()),
        ("QUARANTINE_BUCKET", r.quarantine_bucket.as_str()),
    ];
    let directory = DynamoWearerDirectory::new(vigil_aws::sdk::dynamodb(&sdk), &r.wearers_table, &r.caregivers_table);
    for id in wearers {
        // No caregivers: the alerts are stored, nobody is texted.
        let profile = WearerProfile {
            snoozes: Default::default(),
            escalation: Default::default(),
            wearer_id: (*id).into(),
            name: "Test Wearer".into(),
            time_zone: "Europe/Madrid".into(),
            thresholds: Default::default(),
            caregivers: Vec::new(),
        };
        directory.put(&profile).await.unwrap();
    }
    Setup { detector: offline_detector::build(&env, &sdk).await.unwrap() }
}

impl Setup {
    /// A reading from `wearer`'s band at `at`, through the alert path as alert-processor
    /// runs it (which writes the state, and with it the wearer's next check).
    async fn seen(&self, wearer: &str, at: DateTime<Utc>, fall: bool) {
        let mut r = Reading::at(at.fixed_offset(), 1);
        r.heart_rate_bpm = Some(70);
        r.fall_detected = fall.then_some(true);
        let batch = [DeviceReadings { device_id: "band", readings: std::slice::from_ref(&r) }];
        self.detector.alerting.process_wearer(wearer, &batch, at).await.unwrap();
    }

    async fn version(&self, wearer: &str) -> u64 {
        self.detector.alerting.states.load(wearer).await.unwrap().unwrap().version
    }

    async fn no_data_alert(&self, wearer: &str, last_seen: DateTime<Utc>) -> bool {
        let id = AlertId::new(wearer, RuleKind::NoData, last_seen);
        self.detector.alerting.alerts.get(id.as_str()).await.unwrap().is_some()
    }
}

fn t0() -> DateTime<Utc> {
    // Recent (the state's TTL is counted from the last reading), whole seconds.
    Utc::now().duration_trunc(Duration::seconds(1)).unwrap() - Duration::hours(2)
}

#[tokio::test]
async fn a_due_wearer_is_found_one_not_due_is_not_read_and_a_missed_run_is_caught_up() {
    let s = setup(&["w-silent", "w-fresh", "w-fall"]).await;
    let t0 = t0();
    let min = Duration::minutes;
    s.seen("w-silent", t0, false).await;
    s.seen("w-fresh", t0 + min(14), false).await;
    // The default no_data threshold is 15 min: w-silent is due at t0 + 15 min,
    // w-fresh at t0 + 29 min.
    let fresh_version = s.version("w-fresh").await;

    let run = s.detector.handle(t0 + min(16)).await.unwrap();
    assert_eq!((run.checked, run.alerts_raised), (1, 1), "{run:?}");
    assert!(s.no_data_alert("w-silent", t0).await);
    assert_eq!(s.version("w-fresh").await, fresh_version, "w-fresh was not due: not read, not written");

    // The alerted silence leaves the index: the next minute reads nobody.
    let run = s.detector.handle(t0 + min(17)).await.unwrap();
    assert_eq!((run.checked, run.alerts_raised), (0, 0), "{run:?}");

    // A fall at t0 + 20 min whose cancel window (30 s) ends with no later reading, and
    // then no run for 40 minutes (skipped, timed out): the next run catches up with
    // w-fresh's silence (due since t0 + 29 min), and w-fall's fall and silence.
    s.seen("w-fall", t0 + min(20), true).await;
    let run = s.detector.handle(t0 + min(60)).await.unwrap();
    assert_eq!((run.checked, run.alerts_raised), (2, 3), "{run:?}");
    assert!(s.no_data_alert("w-fresh", t0 + min(14)).await);
    assert!(s.no_data_alert("w-fall", t0 + min(20)).await);
    let run = s.detector.handle(t0 + min(61)).await.unwrap();
    assert_eq!((run.checked, run.alerts_raised), (0, 0), "{run:?}");

    // The band comes back: the wearer is due again a threshold after its new reading.
    s.seen("w-silent", t0 + min(70), false).await;
    let run = s.detector.handle(t0 + min(84)).await.unwrap();
    assert_eq!(run.checked, 0, "{run:?}");
    let run = s.detector.handle(t0 + min(85)).await.unwrap();
    assert_eq!((run.checked, run.alerts_raised), (1, 1), "{run:?}");
}

/// A reading on time keeps the index entry where it was (early, never late): the
/// detector looks at the kept time, finds nothing to do and stores the exact one, and
/// the silence is still alerted a threshold after the last reading, not later.
#[tokio::test]
async fn a_kept_entry_brings_the_detector_early_and_the_silence_is_alerted_on_time() {
    let s = setup(&["w-1"]).await;
    let t0 = t0();
    let min = Duration::minutes;
    s.seen("w-1", t0, false).await;
    // 5 minutes on, the stored check (t0 + 15 min) is 10 minutes ahead: kept.
    s.seen("w-1", t0 + min(5), false).await;
    let run = s.detector.handle(t0 + min(14)).await.unwrap();
    assert_eq!(run.checked, 0, "{run:?}");
    // At the kept time: looked at, nothing raised (the band was seen at t0 + 5 min).
    let version = s.version("w-1").await;
    let run = s.detector.handle(t0 + min(15)).await.unwrap();
    assert_eq!((run.checked, run.alerts_raised), (1, 0), "{run:?}");
    assert_eq!(s.version("w-1").await, version + 1, "the exact time stored");
    let run = s.detector.handle(t0 + min(19)).await.unwrap();
    assert_eq!(run.checked, 0, "{run:?}");
    // At the exact time, a threshold after the last reading: alerted.
    let run = s.detector.handle(t0 + min(20)).await.unwrap();
    assert_eq!((run.checked, run.alerts_raised), (1, 1), "{run:?}");
    assert!(s.no_data_alert("w-1", t0 + min(5)).await);
}
