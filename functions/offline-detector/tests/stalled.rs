//! The run's time budget against an endpoint that accepts connections and never
//! answers: with the wearer profiles stalled, the detector stops taking new wearers
//! when only the time kept for due messages is left, reports how many it left, and
//! returns before the deadline.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

use std::time::{Duration, Instant};

use chrono::Utc;
use offline_detector::{DUE_RESERVE, Detector};
use vigil_alerting::{AlertPorts, Alerting, NoSink};
use vigil_domain::alerts::WearerState;
use vigil_lambda::Deadline;
use vigil_testkit::stalled::Stalled;
use vigil_testkit::{MemoryAlerts, MemoryDeliveries, MemoryNotifier, MemoryStates};

/// The wearer profiles from DynamoDB (stalled); everything else in memory.
struct StalledProfiles;

impl AlertPorts for StalledProfiles {
    type Wearers = vigil_alerting::aws::AwsWearers;
    type States = MemoryStates;
    type Alerts = MemoryAlerts;
    type Deliveries = MemoryDeliveries;
    type Notifier = MemoryNotifier;
    type Sink = NoSink;
}

#[tokio::test]
async fn a_stalled_store_leaves_the_rest_for_the_next_run_before_the_deadline() {
    let stalled = Stalled::start().await;
    let sdk = vigil_local::endpoint::sdk_config(&stalled.url()).await;
    let env = [
        ("WEARERS_TABLE", "wearers"),
        ("CAREGIVERS_TABLE", "caregivers"),
        ("STATE_TABLE", "state"),
        ("ALERTS_TABLE", "alerts"),
        ("DELIVERIES_TABLE", "deliveries"),
        ("QUARANTINE_BUCKET", "quarantine"),
    ];
    let (_, aws) = vigil_alerting::aws::alerting(&env, &sdk).await.unwrap();
    let now = Utc::now();
    let states = MemoryStates::default();
    for id in ["wearer-1", "wearer-2", "wearer-3"] {
        let mut state = WearerState::new(id);
        state.last_seen = Some(now - chrono::Duration::hours(1));
        state.next_check = Some(now - chrono::Duration::minutes(45));
        states.states.lock().unwrap().insert(id.to_owned(), state);
    }
    let detector = Detector {
        alerting: Alerting::<StalledProfiles> {
            wearers: aws.wearers,
            states,
            alerts: MemoryAlerts::default(),
            deliveries: MemoryDeliveries::default(),
            notifier: MemoryNotifier::default(),
            sink: NoSink,
            links: None,
        },
    };

    // Checks may run until DUE_RESERVE is left: 3 s, under one SDK attempt (5 s).
    let timeout = DUE_RESERVE + Duration::from_secs(3);
    let started = Instant::now();
    let (result, metrics) = detector.process_within(now, Some(Deadline::after(timeout, Duration::ZERO))).await;
    let took = started.elapsed();

    let summary = result.unwrap();
    assert_eq!((summary.checked, summary.wearers_left, summary.due_left), (0, 3, false), "{summary:?}");
    assert_eq!(metrics.get("WearersLeft"), 3.0);
    assert!(took < timeout, "returned after {took:?}, past the run's {timeout:?}");
}
