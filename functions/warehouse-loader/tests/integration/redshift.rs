//! The Redshift adapter on exact Data API answers (aws-smithy-mocks: moto's
//! redshift-data cannot serve the Rust SDK): the statements sent, the polling,
//! FINISHED / FAILED / ABORTED / throttled / budget exhausted — and what each
//! does to the loader's files.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::operation::batch_execute_statement::{
    BatchExecuteStatementError, BatchExecuteStatementOutput,
};
use aws_sdk_redshiftdata::operation::cancel_statement::CancelStatementOutput;
use aws_sdk_redshiftdata::operation::describe_statement::{DescribeStatementError, DescribeStatementOutput};
use aws_sdk_redshiftdata::operation::get_statement_result::GetStatementResultOutput;
use aws_sdk_redshiftdata::types::{Field, StatementStatusString, StatusString, SubStatementData};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use vigil_domain::ports::StoreError;
use vigil_testkit::sinks_raw::MemoryObjectStore;
use vigil_warehouse::aws::{RedshiftConfig, RedshiftWarehouse};
use vigil_warehouse::{FileKind, FileQueue, PendingFile, Warehouse, WarehouseError};
use warehouse_loader::{LoadError, Loader};

const ROLE: &str = "arn:aws:iam::123456789012:role/vigil-copy";

fn config() -> RedshiftConfig {
    RedshiftConfig {
        workgroup: "vigil".into(),
        database: "analytics".into(),
        secret_arn: Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift".into()),
        copy_role_arn: ROLE.into(),
        data_bucket: "vigil-data".into(),
        manifest_prefix: "manifests/".into(),
        first_poll: Duration::from_millis(1),
        max_poll: Duration::from_millis(4),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
}

fn file(key: &str, kind: FileKind) -> PendingFile {
    PendingFile {
        key: key.into(),
        kind,
        event_date: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
        rows: 10,
        bytes: 2048,
        created_at: now() - chrono::Duration::minutes(5),
    }
}

fn files() -> Vec<PendingFile> {
    vec![
        file("curated/readings/dt=2026-11-22/shardId-000000000001-1-9.parquet", FileKind::Readings),
        file("curated/readings/dt=2026-11-21/shardId-000000000001-1-9.parquet", FileKind::Readings),
    ]
}

/// The registry in memory: key → status.
#[derive(Debug, Default)]
struct MemoryQueue {
    files: Mutex<Vec<PendingFile>>,
    status: Mutex<BTreeMap<String, String>>,
}

impl MemoryQueue {
    fn with(files: Vec<PendingFile>) -> Self {
        let status = files.iter().map(|f| (f.key.clone(), "pending".to_owned())).collect();
        Self { files: Mutex::new(files), status: Mutex::new(status) }
    }
    fn statuses(&self) -> Vec<String> {
        self.status.lock().unwrap().values().cloned().collect()
    }
}

impl FileQueue for MemoryQueue {
    async fn pending(&self, limit: usize) -> Result<Vec<PendingFile>, StoreError> {
        let status = self.status.lock().unwrap().clone();
        Ok(self.files.lock().unwrap().iter().filter(|f| status[&f.key] == "pending").take(limit).cloned().collect())
    }
    async fn mark_loaded(&self, key: &str, _at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut status = self.status.lock().unwrap();
        let s = status.get_mut(key).unwrap();
        if s == "pending" {
            *s = "loaded".into();
            Ok(true)
        } else {
            Ok(false)
        }
    }
}

fn submitted(id: &'static str) -> Rule {
    mock!(Client::batch_execute_statement).then_output(move || BatchExecuteStatementOutput::builder().id(id).build())
}

/// FINISHED with the sub-statements' row counts (COPY staged 20, MERGE 17).
fn finished(id: &'static str) -> Rule {
    finished_with(id, &[0, 20, 18, 17, 0, 0])
}

/// FINISHED, sub-statement `i` reporting `rows[i]` rows.
fn finished_with(id: &'static str, rows: &'static [i64]) -> Rule {
    mock!(Client::describe_statement).then_output(move || {
        let mut out = DescribeStatementOutput::builder().id(id).status(StatusString::Finished);
        for (i, &n) in rows.iter().enumerate() {
            out = out.sub_statements(
                SubStatementData::builder()
                    .id(format!("{id}:{}", i + 1))
                    .status(StatementStatusString::Finished)
                    .result_rows(n)
                    .build()
                    .unwrap(),
            );
        }
        out.build().unwrap()
    })
}

fn throttled_describe() -> Rule {
    mock!(Client::describe_statement).then_error(|| {
        DescribeStatementError::generic(
            aws_sdk_redshiftdata::error::ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build(),
        )
    })
}

fn client(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_redshiftdata, RuleMode::Sequential, rules, |c| c
        .retry_config(aws_sdk_redshiftdata::config::retry::RetryConfig::disabled()))
}

#[tokio::test]
async fn a_load_sends_one_batch_of_exact_statements_polls_until_finished_and_reports_rows() {
    let submit = mock!(Client::batch_execute_statement)
        .match_requests(|r| {
            let expected = [
                "CREATE TEMP TABLE readings_staging (LIKE readings)".to_owned(),
                format!(
                    "COPY readings_staging FROM 's3://vigil-data/manifests/readings/r-1.manifest' IAM_ROLE '{ROLE}' \
                     FORMAT AS PARQUET MANIFEST"
                ),
                "CREATE TEMP TABLE readings_dedup AS SELECT reading_key, wearer_pseudonym, ts, received_at, \
                 heart_rate_bpm, spo2_pct, skin_temp_c, steps, activity, sleep_stage, fall_detected, fall_cancelled, \
                 sos, battery_pct, worn FROM (SELECT reading_key, wearer_pseudonym, ts, received_at, heart_rate_bpm, \
                 spo2_pct, skin_temp_c, steps, activity, sleep_stage, fall_detected, fall_cancelled, sos, \
                 battery_pct, worn, ROW_NUMBER() OVER (PARTITION BY reading_key ORDER BY received_at) AS rn FROM \
                 readings_staging) AS d WHERE rn = 1"
                    .to_owned(),
                "MERGE INTO readings USING readings_dedup AS s ON readings.reading_key = s.reading_key WHEN MATCHED \
                 THEN UPDATE SET wearer_pseudonym = s.wearer_pseudonym, ts = s.ts, received_at = \
                 LEAST(readings.received_at, s.received_at), heart_rate_bpm = s.heart_rate_bpm, spo2_pct = \
                 s.spo2_pct, skin_temp_c = s.skin_temp_c, steps = s.steps, activity = s.activity, sleep_stage = \
                 s.sleep_stage, fall_detected = s.fall_detected, fall_cancelled = s.fall_cancelled, sos = s.sos, \
                 battery_pct = s.battery_pct, worn = s.worn WHEN NOT MATCHED THEN INSERT (reading_key, \
                 wearer_pseudonym, ts, received_at, heart_rate_bpm, spo2_pct, skin_temp_c, steps, activity, \
                 sleep_stage, fall_detected, fall_cancelled, sos, battery_pct, worn) VALUES (s.reading_key, \
                 s.wearer_pseudonym, s.ts, s.received_at, s.heart_rate_bpm, s.spo2_pct, s.skin_temp_c, s.steps, \
                 s.activity, s.sleep_stage, s.fall_detected, s.fall_cancelled, s.sos, s.battery_pct, s.worn)"
                    .to_owned(),
                "DROP TABLE readings_dedup".to_owned(),
                "DROP TABLE readings_staging".to_owned(),
            ];
            r.sqls() == expected.as_slice()
                && r.workgroup_name() == Some("vigil")
                && r.database() == Some("analytics")
                && r.secret_arn() == Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:redshift")
                && r.client_token() == Some("r-1")
                && r.statement_name() == Some("vigil-load-readings")
        })
        .then_output(|| BatchExecuteStatementOutput::builder().id("stmt-1").build());
    let describe_with_id = |s: StatusString| {
        mock!(Client::describe_statement)
            .match_requests(|r| r.id() == Some("stmt-1"))
            .then_output(move || DescribeStatementOutput::builder().id("stmt-1").status(s.clone()).build().unwrap())
    };
    let (submitted_, picked, started, done) = (
        describe_with_id(StatusString::Submitted),
        describe_with_id(StatusString::Picked),
        describe_with_id(StatusString::Started),
        finished("stmt-1"),
    );
    let manifests = MemoryObjectStore::default();
    let warehouse =
        RedshiftWarehouse::new(client(&[&submit, &submitted_, &picked, &started, &done]), manifests, config());
    let loaded = warehouse.load(FileKind::Readings, &files(), "r-1", None, Duration::from_secs(5)).await.unwrap();
    assert_eq!((loaded.rows_staged, loaded.rows_merged), (20, 17));
    assert_eq!(loaded.statement_id.as_deref(), Some("stmt-1"));
    assert_eq!(
        (submit.num_calls(), submitted_.num_calls(), picked.num_calls(), started.num_calls(), done.num_calls()),
        (1, 1, 1, 1, 1)
    );
}

#[tokio::test]
async fn the_manifest_names_exactly_the_files_with_their_sizes() {
    let (submit, done) = (submitted("stmt-2"), finished("stmt-2"));
    let warehouse = RedshiftWarehouse::new(client(&[&submit, &done]), MemoryObjectStore::default(), config());
    warehouse.load(FileKind::Readings, &files(), "r-2", None, Duration::from_secs(5)).await.unwrap();
    let stored = warehouse.manifests().get("manifests/readings/r-2.manifest").expect("the manifest is written first");
    assert_eq!(stored.content_type, "application/json");
    let doc: serde_json::Value = serde_json::from_slice(&stored.body).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"entries": [
            {"url": "s3://vigil-data/curated/readings/dt=2026-11-22/shardId-000000000001-1-9.parquet",
             "mandatory": true, "meta": {"content_length": 2048}},
            {"url": "s3://vigil-data/curated/readings/dt=2026-11-21/shardId-000000000001-1-9.parquet",
             "mandatory": true, "meta": {"content_length": 2048}},
        ]})
    );
}

/// The loader's first run reads the versions recorded (none here), applies the
/// migrations in a batch of their own (answered FINISHED here; the statements
/// are checked below), then loads.
fn migrate_rules() -> [Rule; 5] {
    [
        mock!(Client::batch_execute_statement)
            .match_requests(|r| r.statement_name() == Some("vigil-migrate-versions"))
            .then_output(|| BatchExecuteStatementOutput::builder().id("versions").build()),
        mock!(Client::describe_statement).match_requests(|r| r.id() == Some("versions")).then_output(|| {
            DescribeStatementOutput::builder().id("versions").status(StatusString::Finished).build().unwrap()
        }),
        versions_recorded("versions", &[]),
        mock!(Client::batch_execute_statement)
            .match_requests(|r| r.statement_name() == Some("vigil-migrate"))
            .then_output(|| BatchExecuteStatementOutput::builder().id("migrate").build()),
        mock!(Client::describe_statement).match_requests(|r| r.id() == Some("migrate")).then_output(|| {
            DescribeStatementOutput::builder().id("migrate").status(StatusString::Finished).build().unwrap()
        }),
    ]
}

/// The rows of `SELECT version FROM schema_migrations`, the second statement of batch `id`.
fn versions_recorded(id: &'static str, versions: &'static [i64]) -> Rule {
    mock!(Client::get_statement_result).match_requests(move |r| r.id() == Some(&format!("{id}:2"))).then_output(
        move || {
            GetStatementResultOutput::builder()
                .set_records(Some(versions.iter().map(|&v| vec![Field::LongValue(v)]).collect()))
                .build()
                .unwrap()
        },
    )
}

async fn run_loader(
    load_rules: &[&Rule],
    config: RedshiftConfig,
    budget: Duration,
) -> (Result<warehouse_loader::LoadReport, LoadError>, Vec<String>) {
    let migrate = migrate_rules();
    let mut rules: Vec<&Rule> = migrate.iter().collect();
    rules.extend_from_slice(load_rules);
    let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, &rules, |c| c
        .retry_config(aws_sdk_redshiftdata::config::retry::RetryConfig::disabled()));
    let warehouse = RedshiftWarehouse::new(client, MemoryObjectStore::default(), config);
    let loader = Loader::new(warehouse, MemoryQueue::with(files()), 200, budget);
    let result = loader.run(now()).await;
    (result, loader.queue.statuses())
}

fn load_submitted(id: &'static str) -> Rule {
    mock!(Client::batch_execute_statement)
        .match_requests(|r| r.statement_name() == Some("vigil-load-readings"))
        .then_output(move || BatchExecuteStatementOutput::builder().id(id).build())
}

#[tokio::test]
async fn finished_marks_every_file_loaded_once() {
    let submit = load_submitted("stmt-3");
    let done = finished("stmt-3");
    let (result, statuses) = run_loader(&[&submit, &done], config(), Duration::from_secs(5)).await;
    let report = result.unwrap();
    assert_eq!((report.files_pending, report.files_loaded, report.rows_merged), (2, 2, 17));
    assert_eq!(statuses, vec!["loaded", "loaded"]);
}

#[tokio::test]
async fn a_loader_keeping_days_deletes_older_rows_in_the_loads_transaction_and_reports_them() {
    // 2026-11-22 10:00 UTC keeping 365 days: rows before 2025-11-22 go.
    let submit = mock!(Client::batch_execute_statement)
        .match_requests(|r| {
            r.statement_name() == Some("vigil-load-readings")
                && r.sqls().len() == 7
                && r.sqls()[6] == "DELETE FROM readings WHERE ts < '2025-11-22 00:00:00+00'::TIMESTAMPTZ"
        })
        .then_output(|| BatchExecuteStatementOutput::builder().id("stmt-8").build());
    let done = finished_with("stmt-8", &[0, 20, 18, 17, 0, 0, 9]);
    let migrate = migrate_rules();
    let mut rules: Vec<&Rule> = migrate.iter().collect();
    rules.extend_from_slice(&[&submit, &done]);
    let client = mock_client!(aws_sdk_redshiftdata, RuleMode::MatchAny, &rules, |c| c
        .retry_config(aws_sdk_redshiftdata::config::retry::RetryConfig::disabled()));
    let warehouse = RedshiftWarehouse::new(client, MemoryObjectStore::default(), config());
    let loader = Loader::new(warehouse, MemoryQueue::with(files()), 200, Duration::from_secs(5)).keep_days(365);
    let report = loader.run(now()).await.unwrap();
    assert_eq!((report.files_loaded, report.rows_merged, report.rows_expired), (2, 17, 9));
    assert_eq!(submit.num_calls(), 1, "the load carried the cut");
    assert_eq!(loader.queue.statuses(), vec!["loaded", "loaded"]);
}

#[tokio::test]
async fn failed_or_aborted_leaves_the_files_pending_and_the_run_fails_with_the_statement_error() {
    for outcome in [StatusString::Failed, StatusString::Aborted] {
        let submit = load_submitted("stmt-4");
        let o = outcome.clone();
        let failed = mock!(Client::describe_statement).then_output(move || {
            DescribeStatementOutput::builder()
                .id("stmt-4")
                .status(o.clone())
                .error("ERROR: Spectrum Scan Error: file has an invalid version number")
                .build()
                .unwrap()
        });
        let (result, statuses) = run_loader(&[&submit, &failed], config(), Duration::from_secs(5)).await;
        let err = result.unwrap_err();
        let LoadError::Load { kind, files, source: WarehouseError::Failed { statement_id, status, message }, report } =
            &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(
            (*kind, *files, statement_id.as_str(), status.as_str()),
            ("readings", 2, "stmt-4", outcome.as_str())
        );
        assert!(message.contains("invalid version number"), "{message}");
        assert_eq!(report.files_loaded, 0);
        assert_eq!(statuses, vec!["pending", "pending"], "nothing is marked after {outcome:?}");
    }
}

#[tokio::test]
async fn throttled_polls_are_retried_within_the_budget() {
    let submit = submitted("stmt-5");
    let (t1, t2, done) = (throttled_describe(), throttled_describe(), finished("stmt-5"));
    let warehouse = RedshiftWarehouse::new(client(&[&submit, &t1, &t2, &done]), MemoryObjectStore::default(), config());
    let loaded = warehouse.load(FileKind::Readings, &files(), "r-5", None, Duration::from_secs(5)).await.unwrap();
    assert_eq!(loaded.rows_merged, 17);
    assert_eq!((t1.num_calls(), t2.num_calls(), done.num_calls()), (1, 1, 1));
}

#[tokio::test]
async fn a_throttled_submission_is_a_retryable_error_and_nothing_is_polled() {
    let refused = mock!(Client::batch_execute_statement).then_error(|| {
        BatchExecuteStatementError::generic(
            aws_sdk_redshiftdata::error::ErrorMetadata::builder().code("ActiveStatementsExceededException").build(),
        )
    });
    let poll = finished("never");
    let warehouse = RedshiftWarehouse::new(client(&[&refused, &poll]), MemoryObjectStore::default(), config());
    let err = warehouse.load(FileKind::Readings, &files(), "r-6", None, Duration::from_secs(5)).await.unwrap_err();
    assert!(matches!(err, WarehouseError::Call { operation: "BatchExecuteStatement", retryable: true, .. }), "{err:?}");
    assert_eq!(poll.num_calls(), 0);
}

#[tokio::test]
async fn an_exhausted_budget_cancels_the_statement_and_leaves_the_files_pending() {
    let submit = load_submitted("stmt-7");
    let started = mock!(Client::describe_statement)
        .match_requests(|r| r.id() == Some("stmt-7"))
        .sequence()
        .output(|| DescribeStatementOutput::builder().id("stmt-7").status(StatusString::Started).build().unwrap())
        .repeatedly()
        .build();
    let cancel = mock!(Client::cancel_statement)
        .match_requests(|r| r.id() == Some("stmt-7"))
        .then_output(|| CancelStatementOutput::builder().status(true).build());
    // The budget (3 s) lets the load start but not finish; polls back off to 100 ms. (At
    // 1.5 s a loaded CI machine once spent the whole budget before the submit answered.)
    let slow =
        RedshiftConfig { first_poll: Duration::from_millis(10), max_poll: Duration::from_millis(100), ..config() };
    let (result, statuses) = run_loader(&[&submit, &started, &cancel], slow, Duration::from_millis(3_000)).await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, LoadError::Load { source: WarehouseError::Timeout { statement_id, .. }, .. } if statement_id == "stmt-7"),
        "{err:?}"
    );
    assert!((5..=45).contains(&started.num_calls()), "polled {} times, with backoff", started.num_calls());
    assert_eq!(cancel.num_calls(), 1);
    assert_eq!(statuses, vec!["pending", "pending"]);
}

#[tokio::test]
async fn migrations_read_the_versions_recorded_then_apply_the_missing_ones_in_one_batch() {
    let read = mock!(Client::batch_execute_statement)
        .match_requests(|r| {
            let sqls = r.sqls();
            r.statement_name() == Some("vigil-migrate-versions")
                && sqls.len() == 2
                && sqls[0].starts_with("CREATE TABLE IF NOT EXISTS schema_migrations")
                && sqls[1] == "SELECT version FROM schema_migrations"
        })
        .then_output(|| BatchExecuteStatementOutput::builder().id("v-1").build());
    let read_done = finished_with("v-1", &[0, 3]);
    let recorded = versions_recorded("v-1", &[1, 3, 2]);
    // Versions 4 to 9 are missing: their statements, each version followed by its record.
    let submit = mock!(Client::batch_execute_statement)
        .match_requests(|r| {
            let sqls = r.sqls();
            r.statement_name() == Some("vigil-migrate")
                && sqls.len() == 3 + 1 + 1 + 1 + 1 + 1 + 2 + 1 + 2 + 1 + 1 + 1
                && sqls[0] == "ALTER TABLE alerts ADD COLUMN acknowledged_at TIMESTAMPTZ ENCODE AZ64"
                && sqls[1] == "ALTER TABLE alerts ADD COLUMN resolved_at TIMESTAMPTZ ENCODE AZ64"
                && sqls[2] == "ALTER TABLE alerts ADD COLUMN outcome VARCHAR(32) ENCODE BYTEDICT"
                && sqls[3].contains("SELECT 4, 'alert_lifecycle'")
                && sqls[4].starts_with("CREATE OR REPLACE VIEW alert_response_times")
                && sqls[4].contains("DATEDIFF(microsecond, raised_at AT TIME ZONE 'UTC'")
                && sqls[5].contains("SELECT 5, 'alert_response_times'")
                && sqls[6].contains("PRIMARY KEY (wearer_pseudonym, local_date)\n)\nDISTSTYLE KEY")
                && sqls[8].starts_with("CREATE OR REPLACE VIEW daily_summary_local")
                && sqls[9].starts_with("CREATE OR REPLACE VIEW weekly_summary_local")
                && sqls[11] == "ALTER TABLE alerts ADD COLUMN feature VARCHAR(32) ENCODE BYTEDICT"
                && sqls[12] == "ALTER TABLE alerts ADD COLUMN z DOUBLE PRECISION ENCODE ZSTD"
                && sqls[14].starts_with("CREATE OR REPLACE VIEW baseline_deviations")
                && sqls[15].contains("SELECT 9, 'baseline_deviations'")
        })
        .then_output(|| BatchExecuteStatementOutput::builder().id("m-1").build());
    let done = finished_with("m-1", &[0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1]);
    // The next cold start finds every version recorded: nothing more is sent.
    let read_again = submitted("v-2");
    let read_again_done = finished_with("v-2", &[0, 9]);
    let all = versions_recorded("v-2", &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let warehouse = RedshiftWarehouse::new(
        client(&[&read, &read_done, &recorded, &submit, &done, &read_again, &read_again_done, &all]),
        MemoryObjectStore::default(),
        config(),
    );
    assert_eq!(warehouse.migrate().await.unwrap().applied, vec![4, 5, 6, 7, 8, 9]);
    assert_eq!((read.num_calls(), recorded.num_calls(), submit.num_calls(), done.num_calls()), (1, 1, 1, 1));
    assert!(warehouse.migrate().await.unwrap().applied.is_empty());
    assert_eq!((read_again.num_calls(), all.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_new_warehouse_gets_every_version_in_one_batch_with_redshift_keys() {
    let read = submitted("v-1");
    let read_done = finished_with("v-1", &[0, 0]);
    let none = versions_recorded("v-1", &[]);
    let submit = mock!(Client::batch_execute_statement)
        .match_requests(|r| {
            let sqls = r.sqls();
            sqls.len() == 2 + 2 + 2 + 4 + 2 + 2 + 3 + 3 + 2
                && sqls[0].contains("DISTKEY (wearer_pseudonym)\nSORTKEY (ts)")
                && sqls[1]
                    .starts_with("INSERT INTO schema_migrations (version, name) SELECT 1, 'readings' WHERE NOT EXISTS")
                && sqls[2].contains("SORTKEY (raised_at)")
                && !sqls[2].contains("acknowledged_at")
                && sqls[4].starts_with("CREATE OR REPLACE VIEW daily_summary")
                && sqls[5].contains("SELECT 3, 'daily_summary'")
                && sqls[6] == "ALTER TABLE alerts ADD COLUMN acknowledged_at TIMESTAMPTZ ENCODE AZ64"
                && sqls[9].contains("SELECT 4, 'alert_lifecycle'")
                && sqls[10].starts_with("CREATE OR REPLACE VIEW alert_response_times")
                && sqls[12].contains("DISTKEY (wearer_pseudonym)\nSORTKEY (local_date)")
                && sqls[17] == "ALTER TABLE alerts ADD COLUMN feature VARCHAR(32) ENCODE BYTEDICT"
        })
        .then_output(|| BatchExecuteStatementOutput::builder().id("m-1").build());
    // Version 1 was recorded meanwhile by a racing cold start (its INSERT … WHERE
    // NOT EXISTS adds no row); a count the Data API does not know (-1) is not reported.
    let done = finished_with("m-1", &[0, 0, 0, 1, 0, 1, 0, 0, 0, -1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1]);
    let warehouse = RedshiftWarehouse::new(
        client(&[&read, &read_done, &none, &submit, &done]),
        MemoryObjectStore::default(),
        config(),
    );
    assert_eq!(warehouse.migrate().await.unwrap().applied, vec![2, 3, 5, 6, 7, 8, 9]);
    assert_eq!(submit.num_calls(), 1);
}

#[tokio::test]
async fn a_failed_migration_batch_fails_the_run_and_records_nothing() {
    let read = submitted("v-1");
    let read_done = finished_with("v-1", &[0, 3]);
    let recorded = versions_recorded("v-1", &[1, 2, 3]);
    let submit = submitted("m-1");
    let failed = mock!(Client::describe_statement).then_output(|| {
        DescribeStatementOutput::builder()
            .id("m-1")
            .status(StatusString::Failed)
            .error("ERROR: column \"acknowledged_at\" of relation \"alerts\" already exists")
            .build()
            .unwrap()
    });
    let warehouse = RedshiftWarehouse::new(
        client(&[&read, &read_done, &recorded, &submit, &failed]),
        MemoryObjectStore::default(),
        config(),
    );
    let err = warehouse.migrate().await.unwrap_err();
    assert!(matches!(&err, WarehouseError::Failed { message, .. } if message.contains("already exists")), "{err:?}");
}

/// A count sub-statement's single number.
fn count_of(id: &'static str, n: i64) -> Rule {
    mock!(Client::get_statement_result)
        .match_requests(move |r| r.id() == Some(id))
        .then_output(move || GetStatementResultOutput::builder().records(vec![Field::LongValue(n)]).build().unwrap())
}

#[tokio::test]
async fn erasure_counts_then_deletes_one_pseudonyms_rows_in_one_batch() {
    let pseudonym = "0f3a9c";
    let for_pseudonym = |r: &aws_sdk_redshiftdata::operation::batch_execute_statement::BatchExecuteStatementInput,
                         verb: &str| {
        let sqls = r.sqls();
        sqls.len() == 3
            && sqls[0] == format!("{verb} readings WHERE wearer_pseudonym = '0f3a9c'")
            && sqls[1] == format!("{verb} alerts WHERE wearer_pseudonym = '0f3a9c'")
            && sqls[2] == format!("{verb} wearer_days WHERE wearer_pseudonym = '0f3a9c'")
    };
    let count = mock!(Client::batch_execute_statement)
        .match_requests(move |r| for_pseudonym(r, "SELECT COUNT(*) FROM"))
        .then_output(|| BatchExecuteStatementOutput::builder().id("c-1").build());
    let counted = finished_with("c-1", &[1, 1, 1]);
    let (readings, alerts, days) = (count_of("c-1:1", 1440), count_of("c-1:2", 3), count_of("c-1:3", 28));
    let delete = mock!(Client::batch_execute_statement)
        .match_requests(move |r| for_pseudonym(r, "DELETE FROM"))
        .then_output(|| BatchExecuteStatementOutput::builder().id("d-1").build());
    let deleted = finished_with("d-1", &[1440, 3, 28]);
    let warehouse = RedshiftWarehouse::new(
        client(&[&count, &counted, &readings, &alerts, &days, &delete, &deleted]),
        MemoryObjectStore::default(),
        config(),
    );
    let expected = [("readings", 1440), ("alerts", 3), ("wearer_days", 28)];
    assert_eq!(warehouse.erasure(pseudonym, false).await.unwrap(), expected);
    assert_eq!(warehouse.erasure(pseudonym, true).await.unwrap(), expected);
    assert_eq!(
        (count.num_calls(), readings.num_calls(), alerts.num_calls(), days.num_calls(), delete.num_calls()),
        (1, 1, 1, 1, 1)
    );
}

#[tokio::test]
async fn erasure_refuses_anything_but_a_hex_pseudonym_and_sends_nothing() {
    let any = submitted("x-1");
    let warehouse = RedshiftWarehouse::new(client(&[&any]), MemoryObjectStore::default(), config());
    for hostile in ["", "' OR '1'='1", "0f3a9c'; DROP TABLE alerts; --", "wearer-1"] {
        assert!(matches!(warehouse.erasure(hostile, true).await, Err(WarehouseError::Call { retryable: false, .. })));
    }
    assert_eq!(any.num_calls(), 0);
}
