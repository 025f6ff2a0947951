//! A run's time budget against an endpoint that accepts connections and never
//! answers: whether the warehouse or the file registry stalls, a run invoked with
//! little time left stops, says what it could not do, and returns before the
//! invocation's deadline (every file stays pending for the next run).

use std::time::{Duration, Instant};

use vigil_testkit::stalled::Stalled;
use warehouse_loader::LoadError;

/// The invocation's time left: the handler keeps 10 s back, so the run gets 3 s,
/// less than one SDK attempt (5 s).
const TIME_LEFT: Duration = Duration::from_secs(13);

async fn run_in_time(loader: &warehouse_loader::PostgresLoader) -> LoadError {
    let started = Instant::now();
    let result = warehouse_loader::handler::handle(loader, chrono::Utc::now(), Some(TIME_LEFT)).await;
    let took = started.elapsed();
    assert!(took < TIME_LEFT, "returned after {took:?}, past the invocation's {TIME_LEFT:?}");
    result.unwrap_err()
}

#[tokio::test]
async fn a_stalled_warehouse_ends_the_run_before_the_deadline() {
    let stalled = Stalled::start().await;
    let sdk = vigil_local::endpoint::sdk_config(&stalled.url()).await;
    let env = [("DATA_BUCKET", "data"), ("CURATED_FILES_TABLE", "files")];
    let url = format!("postgres://postgres@{}/postgres", stalled.addr());
    let loader = warehouse_loader::postgres_loader(&sdk, &env, &url).unwrap();
    let err = run_in_time(&loader).await;
    assert!(matches!(err, LoadError::Migrate(vigil_warehouse::WarehouseError::Timeout { .. })), "{err:?}");
}

#[tokio::test]
async fn a_stalled_file_registry_ends_the_run_before_the_deadline() {
    // The warehouse answers (PostgreSQL); only the registry of pending files stalls.
    let db_url = crate::postgres::fresh_database().await;
    let stalled = Stalled::start().await;
    let sdk = vigil_local::endpoint::sdk_config(&stalled.url()).await;
    let env = [("DATA_BUCKET", "data"), ("CURATED_FILES_TABLE", "files")];
    let loader = warehouse_loader::postgres_loader(&sdk, &env, &db_url).unwrap();
    let err = run_in_time(&loader).await;
    assert!(matches!(&err, LoadError::Pending(e) if e.retryable && e.operation == "pending"), "{err:?}");
}
