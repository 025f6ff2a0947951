//! The invocation's time budget against an endpoint that accepts connections and
//! never answers: with its stores stalled, sms-reply fails the invocation (so Lambda
//! retries the event) before the deadline, rather than Lambda's timeout ending it.

use std::time::{Duration, Instant};

use vigil_lambda::Deadline;
use vigil_testkit::stalled::Stalled;

/// The invocation's time: shorter than one SDK attempt (5 s).
const TIMEOUT: Duration = Duration::from_secs(4);

#[tokio::test]
async fn stalled_stores_fail_the_invocation_before_the_deadline() {
    let stalled = Stalled::start().await;
    let sdk = vigil_local::endpoint::sdk_config(&stalled.url()).await;
    let env = [
        ("DELIVERIES_TABLE", "deliveries"),
        ("ALERTS_TABLE", "alerts"),
        ("WEARERS_TABLE", "wearers"),
        ("CAREGIVERS_TABLE", "caregivers"),
    ];
    let reply = sms_reply::build(&env, &sdk).await.unwrap();
    let event = sms_reply::inbound_event("+15555550123", "+15555550100", "1", "in-1");

    let started = Instant::now();
    let deadline = Deadline::after(TIMEOUT, sms_reply::DEADLINE_MARGIN);
    let (result, metrics) = reply.process_within(&event, chrono::Utc::now(), Some(deadline)).await;
    let took = started.elapsed();

    let err = result.unwrap_err();
    assert!(matches!(err, sms_reply::ReplyError::Failed { failed: 1, replies: 1, .. }), "{err:?}");
    assert_eq!(metrics.get("RepliesTimedOut"), 1.0);
    assert!(took < TIMEOUT, "answered after {took:?}, past the invocation's {TIMEOUT:?}");
}
