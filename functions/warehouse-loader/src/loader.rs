//! One run of the loader, whatever the warehouse: take a bounded set of pending
//! curated files, load each kind in one warehouse transaction, and only then
//! mark the files loaded, each with a conditional write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;
use vigil_domain::ports::StoreError;
use vigil_lambda::Deadline;
use vigil_warehouse::{FileKind, FileQueue, PendingFile, Warehouse, WarehouseError, manifest};

/// Below this much time left, a kind is left for the next run rather than
/// started and given up half way.
const MIN_LOAD_BUDGET: Duration = Duration::from_secs(1);

/// What one run did. Also the Lambda's response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    /// Pending files this run took (at most `max_files`).
    pub files_pending: usize,
    /// Seconds since the oldest of them was registered (0 when none was pending):
    /// the backlog's age, `OldestPendingFileAgeS`.
    pub oldest_pending_age_s: u64,
    /// Files whose rows this run committed and then marked loaded.
    pub files_loaded: usize,
    /// Files this run loaded but another run had marked first (their rows are
    /// in the warehouse once either way: MERGE).
    pub files_marked_by_other_run: usize,
    /// Rows read from the files, before deduplication.
    pub rows_staged: u64,
    /// Rows the MERGEs inserted or updated.
    pub rows_merged: u64,
    /// Rows older than the retention, deleted by the loads' transactions.
    pub rows_expired: u64,
    /// Schema versions this run applied (both warehouses report which were new; on
    /// Redshift a version whose count the Data API does not give is left out).
    pub migrations_applied: Vec<u32>,
    /// Kinds left for the next run because the time budget ran short.
    pub kinds_deferred: Vec<&'static str>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("applying the warehouse migrations failed")]
    Migrate(#[source] WarehouseError),
    #[error("listing pending curated files failed")]
    Pending(#[source] StoreError),
    /// A kind's load failed or was not confirmed: its files stay pending and
    /// the next run retries them. `report` is what the run did otherwise.
    #[error("loading {files} {kind} files failed")]
    Load {
        kind: &'static str,
        files: usize,
        report: Box<LoadReport>,
        #[source]
        source: WarehouseError,
    },
    /// The rows are committed but `failed` files could not be marked: they stay
    /// pending and the next run reloads them, harmlessly.
    #[error("{failed} loaded files could not be marked loaded")]
    Mark {
        failed: usize,
        report: Box<LoadReport>,
        #[source]
        source: StoreError,
    },
}

impl LoadError {
    /// What the run did before or besides the failure.
    pub fn report(&self) -> Option<&LoadReport> {
        match self {
            LoadError::Load { report, .. } | LoadError::Mark { report, .. } => Some(report),
            _ => None,
        }
    }
}

/// The warehouse loader, generic over the warehouse and the file registry.
///
/// # For the local runner (`vigil run`)
///
/// ```ignore
/// let sdk = vigil_local::endpoint::require().await;        // or vigil_aws::sdk::from_env(&ProcessEnv)?
/// let env = [("CURATED_FILES_TABLE", "files"), ("DATA_BUCKET", "data")]; // the function's settings
/// let url = std::env::var("VIGIL_PG_URL")?;                  // bash scripts/pg.sh env
/// let loader = warehouse_loader::postgres_loader(&sdk, &env, &url)?;
/// let report: warehouse_loader::LoadReport = loader.run(chrono::Utc::now()).await?;
/// println!("{} files, {} rows merged", report.files_loaded, report.rows_merged);
/// ```
///
/// The loader is cheap to keep and meant to be reused: it applies the warehouse
/// migrations on its first run only. Runs may overlap (two processes, two
/// Lambdas): the data stays exactly once and each file is marked by one run.
#[derive(Debug)]
pub struct Loader<W, Q> {
    pub warehouse: W,
    pub queue: Q,
    /// Most files taken per run (`LOAD_MAX_FILES`).
    pub max_files: usize,
    /// Time allowed for one run's loads (`LOAD_BUDGET_MS`).
    pub budget: Duration,
    /// Days of rows the warehouse keeps (`WAREHOUSE_RETENTION_DAYS`); `None`
    /// keeps every row.
    pub retention_days: Option<u32>,
    migrated: AtomicBool,
}

impl<W: Warehouse + Sync, Q: FileQueue + Sync> Loader<W, Q> {
    pub fn new(warehouse: W, queue: Q, max_files: usize, budget: Duration) -> Self {
        Self {
            warehouse,
            queue,
            max_files: max_files.max(1),
            budget,
            retention_days: None,
            migrated: AtomicBool::new(false),
        }
    }

    /// Keeps `days` of rows: each load also deletes its kind's rows from before
    /// the UTC day `days` before the run's.
    #[must_use]
    pub fn keep_days(mut self, days: u32) -> Self {
        self.retention_days = Some(days);
        self
    }

    /// The first day kept at `now`, if the rows expire.
    fn expire_before(&self, now: DateTime<Utc>) -> Option<NaiveDate> {
        let days = self.retention_days?;
        now.date_naive().checked_sub_days(Days::new(u64::from(days)))
    }

    /// One run at `now` (names the manifests, stamps `loaded_at`) within the
    /// configured budget.
    pub async fn run(&self, now: DateTime<Utc>) -> Result<LoadReport, LoadError> {
        self.run_within(now, self.budget).await
    }

    /// One run within `budget` (the Lambda cuts it to its own deadline).
    pub async fn run_within(&self, now: DateTime<Utc>, budget: Duration) -> Result<LoadReport, LoadError> {
        // Every call runs under the run's deadline, so a stalled store or warehouse
        // ends the run in time rather than Lambda's timeout ending it unreported.
        let deadline = Deadline::after(budget, Duration::ZERO);
        let out_of_time = |operation| StoreError {
            operation,
            resource: "warehouse-loader".into(),
            retryable: true,
            source: Box::new(vigil_lambda::Expired),
        };
        let mut report = LoadReport::default();
        if !self.migrated.load(Ordering::Acquire) {
            let migrated = deadline
                .run(self.warehouse.migrate())
                .await
                .map_err(|_| WarehouseError::Timeout { statement_id: "migrate".into(), budget })
                .and_then(|r| r)
                .map_err(LoadError::Migrate)?;
            report.migrations_applied = migrated.applied;
            self.migrated.store(true, Ordering::Release);
        }
        let pending = deadline
            .run(self.queue.pending(self.max_files))
            .await
            .unwrap_or_else(|_| Err(out_of_time("pending")))
            .map_err(LoadError::Pending)?;
        report.files_pending = pending.len();
        // Pending files come oldest first, but the minimum does not rely on it.
        report.oldest_pending_age_s = pending
            .iter()
            .map(|f| f.created_at)
            .min()
            .map_or(0, |oldest| u64::try_from((now - oldest).num_seconds()).unwrap_or(0));

        let mut first_error: Option<(FileKind, usize, WarehouseError)> = None;
        let mut mark_failures: Vec<StoreError> = Vec::new();
        for kind in FileKind::ALL {
            let files: Vec<PendingFile> = pending.iter().filter(|f| f.kind == kind).cloned().collect();
            if files.is_empty() {
                continue;
            }
            let left = deadline.remaining();
            if left < MIN_LOAD_BUDGET {
                report.kinds_deferred.push(kind.as_str());
                continue;
            }
            let run_id = manifest::run_id(now, kind, &files);
            let load = deadline
                .run(self.warehouse.load(kind, &files, &run_id, self.expire_before(now), left))
                .await
                .unwrap_or_else(|_| Err(WarehouseError::Timeout { statement_id: run_id.clone(), budget: left }));
            match load {
                Ok(loaded) => {
                    tracing::info!(
                        kind = kind.as_str(),
                        files = files.len(),
                        rows_staged = loaded.rows_staged,
                        rows_merged = loaded.rows_merged,
                        rows_expired = loaded.rows_expired,
                        statement_id = loaded.statement_id.as_deref().unwrap_or("-"),
                        "load committed"
                    );
                    report.rows_staged += loaded.rows_staged;
                    report.rows_merged += loaded.rows_merged;
                    report.rows_expired += loaded.rows_expired;
                    for file in &files {
                        let marked = deadline.run(self.queue.mark_loaded(&file.key, now)).await;
                        match marked.unwrap_or_else(|_| Err(out_of_time("mark_loaded"))) {
                            Ok(true) => report.files_loaded += 1,
                            Ok(false) => report.files_marked_by_other_run += 1,
                            Err(e) => {
                                tracing::warn!(file_key = %file.key, error = %e, "marking a loaded file failed; it stays pending and will be reloaded harmlessly");
                                mark_failures.push(e);
                            }
                        }
                    }
                }
                Err(e) => {
                    // An operator must know: the data is late until a run succeeds.
                    // The error is the warehouse's text about pseudonymized data only.
                    tracing::error!(kind = kind.as_str(), files = files.len(), run_id = %run_id, error = %e, "load failed; files stay pending");
                    if first_error.is_none() {
                        first_error = Some((kind, files.len(), e));
                    }
                }
            }
        }
        if let Some((kind, files, source)) = first_error {
            return Err(LoadError::Load { kind: kind.as_str(), files, report: Box::new(report), source });
        }
        let failed = mark_failures.len();
        if let Some(source) = mark_failures.into_iter().next() {
            return Err(LoadError::Mark { failed, report: Box::new(report), source });
        }
        Ok(report)
    }
}
