//! The Lambda handler: one run per scheduled event, within the configured
//! budget cut to the invocation's deadline, one EMF metrics line per run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use vigil_lambda::metrics::Metrics;
use vigil_warehouse::{FileQueue, Warehouse};

use crate::{LoadError, LoadReport, Loader};

pub const FUNCTION: &str = "warehouse-loader";

/// Left for marking files and reporting after the loads.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// The budget for a run: the configured one, or less if the invocation ends sooner.
pub fn budget(configured: Duration, time_left: Option<Duration>) -> Duration {
    match time_left {
        Some(left) => configured.min(left.saturating_sub(DEADLINE_MARGIN)),
        None => configured,
    }
}

/// One scheduled run: the report as the response, or the error (Lambda records a
/// failed invocation, which alarms can watch).
pub async fn handle<W: Warehouse + Sync, Q: FileQueue + Sync>(
    loader: &Loader<W, Q>,
    now: DateTime<Utc>,
    time_left: Option<Duration>,
) -> Result<LoadReport, LoadError> {
    let started = std::time::Instant::now();
    let result = loader.run_within(now, budget(loader.budget, time_left)).await;
    let empty = LoadReport::default();
    let report = match &result {
        Ok(r) => r,
        Err(e) => e.report().unwrap_or(&empty),
    };
    run_metrics(report, result.is_err(), started.elapsed()).emit();
    result
}

/// The metrics of one run.
pub fn run_metrics(report: &LoadReport, failed: bool, took: Duration) -> Metrics {
    let mut metrics = Metrics::new(FUNCTION);
    metrics
        .count("FilesPending", report.files_pending)
        .count("FilesLoaded", report.files_loaded)
        .count("FilesMarkedByOtherRun", report.files_marked_by_other_run)
        .count("RowsMerged", usize::try_from(report.rows_merged).unwrap_or(usize::MAX))
        .count("RowsExpired", usize::try_from(report.rows_expired).unwrap_or(usize::MAX))
        // The backlog's age, alarmed on: a loader that runs but never catches up.
        .seconds("OldestPendingFileAgeS", report.oldest_pending_age_s as f64)
        .count("LoadFailures", usize::from(failed))
        .millis("RunMs", took.as_secs_f64() * 1e3);
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_metrics_carry_its_report_and_the_backlogs_age() {
        let report = LoadReport {
            files_pending: 3,
            oldest_pending_age_s: 5_400,
            files_loaded: 2,
            rows_merged: 17,
            rows_expired: 4,
            ..LoadReport::default()
        };
        let m = run_metrics(&report, true, Duration::from_millis(1_250));
        let doc = m.to_emf(0).to_string();
        assert!(doc.contains(r#"{"Name":"OldestPendingFileAgeS","Unit":"Seconds"}"#), "{doc}");
        assert_eq!(
            [
                "FilesPending",
                "FilesLoaded",
                "RowsMerged",
                "RowsExpired",
                "OldestPendingFileAgeS",
                "LoadFailures",
                "RunMs"
            ]
            .map(|n| m.get(n)),
            [3.0, 2.0, 17.0, 4.0, 5_400.0, 1.0, 1_250.0]
        );
        assert_eq!(run_metrics(&LoadReport::default(), false, Duration::ZERO).get("OldestPendingFileAgeS"), 0.0);
    }

    #[test]
    fn the_budget_is_cut_to_the_deadline_with_a_margin() {
        let configured = Duration::from_secs(240);
        assert_eq!(budget(configured, None), configured);
        assert_eq!(budget(configured, Some(Duration::from_secs(900))), configured);
        assert_eq!(budget(configured, Some(Duration::from_secs(60))), Duration::from_secs(50));
        assert_eq!(budget(configured, Some(Duration::from_secs(5))), Duration::ZERO);
    }
}

#[cfg(test)]
mod event_tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use aws_lambda_events::event::eventbridge::EventBridgeEvent;

    #[test]
    fn the_sample_scheduled_event_round_trips() {
        let raw = include_bytes!("../../../events/scheduled-warehouse-loader.json");
        let event: EventBridgeEvent = serde_json::from_slice(raw).unwrap();
        assert_eq!(event.detail_type, "Scheduled Event");
        assert_eq!(
            event.resources,
            Some(vec!["arn:aws:events:eu-west-1:123456789012:rule/vigil-warehouse-loader".to_owned()])
        );
        let again: EventBridgeEvent = serde_json::from_value(serde_json::to_value(&event).unwrap()).unwrap();
        assert_eq!(again, event);
    }
}
