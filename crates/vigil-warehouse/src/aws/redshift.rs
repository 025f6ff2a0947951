//! The warehouse on Amazon Redshift (Serverless) through the Data API:
//! [`Warehouse`] with BatchExecuteStatement and DescribeStatement.
//!
//! A load writes a COPY manifest of exactly its files to the data bucket, then
//! sends one BatchExecuteStatement — which the Data API runs in one session and
//! one transaction — of the statements in `crate::sql::load_statements`:
//! `CREATE TEMP TABLE <t>_staging (LIKE <t>)`, `COPY … FORMAT AS PARQUET
//! MANIFEST` with the COPY role, deduplication into a second temp table,
//! `MERGE`, and the two `DROP`s. It then polls DescribeStatement with doubling
//! delays until the statement is FINISHED, FAILED or ABORTED, or the time budget
//! is spent (then it cancels the statement, best effort, so it cannot commit
//! after the loader has given up — if it does anyway, the next run's MERGE makes
//! that harmless). Throttled polls are retried within the budget. The batch
//! carries the run id as its client token, so an SDK retry of the submission
//! never runs the load twice.
//!
//! moto's redshift-data cannot serve the Rust SDK, so this adapter is tested
//! with aws-smithy-mocks (`functions/warehouse-loader/tests/integration/redshift.rs`).

use std::time::Duration;

use crate::sql::{self, CopyFrom, Dialect, Table};
use crate::{FileKind, Loaded, Migrated, PendingFile, Warehouse, WarehouseError, manifest};
use aws_sdk_redshiftdata::types::{Field, StatusString};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::NaiveDate;
use vigil_domain::ports::ObjectStore;

use vigil_aws::retry::is_retryable;

/// Where and how to reach the warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedshiftConfig {
    /// `REDSHIFT_WORKGROUP`: the Redshift Serverless workgroup.
    pub workgroup: String,
    /// `REDSHIFT_DATABASE`.
    pub database: String,
    /// `REDSHIFT_SECRET_ARN`: database credentials in Secrets Manager; without
    /// it the Data API signs in with the function's IAM identity.
    pub secret_arn: Option<String>,
    /// `COPY_ROLE_ARN`: the role Redshift assumes to read the manifest and files.
    pub copy_role_arn: String,
    /// `DATA_BUCKET`: where the curated files and the manifests are.
    pub data_bucket: String,
    /// `MANIFEST_PREFIX`: where manifests are written (`manifests/`).
    pub manifest_prefix: String,
    /// Delay before the first poll; doubled up to `max_poll` after each.
    pub first_poll: Duration,
    pub max_poll: Duration,
}

/// Redshift through the Data API; manifests go through `manifests` (the data
/// bucket's `vigil_aws::archive::S3ObjectStore` in production).
#[derive(Debug, Clone)]
pub struct RedshiftWarehouse<O> {
    client: aws_sdk_redshiftdata::Client,
    manifests: O,
    config: RedshiftConfig,
}

/// Data API error codes that mean "later": throttling and too many statements
/// or sessions at once.
const BUSY_CODES: &[&str] =
    &["ThrottlingException", "ActiveStatementsExceededException", "ActiveSessionsExceededException"];

fn call_error<E>(
    operation: &'static str,
    e: aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> WarehouseError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let busy = e.as_service_error().and_then(|s| s.code()).is_some_and(|c| BUSY_CODES.contains(&c));
    WarehouseError::Call { operation, retryable: busy || is_retryable(&e), source: e.into() }
}

impl<O> RedshiftWarehouse<O> {
    pub fn new(client: aws_sdk_redshiftdata::Client, manifests: O, config: RedshiftConfig) -> Self {
        Self { client, manifests, config }
    }

    /// Where the manifests are written.
    pub fn manifests(&self) -> &O {
        &self.manifests
    }

    /// Submits `sqls` as one transaction; returns the statement id.
    async fn submit(&self, sqls: Vec<String>, name: &str, token: Option<&str>) -> Result<String, WarehouseError> {
        let out = self
            .client
            .batch_execute_statement()
            .workgroup_name(&self.config.workgroup)
            .database(&self.config.database)
            .set_secret_arn(self.config.secret_arn.clone())
            .set_sqls(Some(sqls))
            .statement_name(name)
            .set_client_token(token.map(str::to_owned))
            .send()
            .await
            .map_err(|e| call_error("BatchExecuteStatement", e))?;
        out.id().map(str::to_owned).ok_or_else(|| WarehouseError::Call {
            operation: "BatchExecuteStatement",
            retryable: true,
            source: "the answer carried no statement id".into(),
        })
    }

    /// Polls until FINISHED (the sub-statements' row counts), FAILED or ABORTED,
    /// or `budget` is spent.
    async fn wait(
        &self,
        id: &str,
        budget: Duration,
    ) -> Result<aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput, WarehouseError> {
        let start = tokio::time::Instant::now();
        let mut delay = self.config.first_poll;
        let mut polls = 0u32;
        loop {
            if start.elapsed() + delay > budget {
                // Best effort: a statement that cannot be cancelled any more
                // has finished or is finishing, and MERGE makes a reload harmless.
                if let Err(e) = self.client.cancel_statement().id(id).send().await {
                    tracing::warn!(statement_id = id, error = %aws_sdk_redshiftdata::error::DisplayErrorContext(&e), "cancelling the load failed");
                }
                return Err(WarehouseError::Timeout { statement_id: id.to_owned(), budget });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.config.max_poll);
            polls += 1;
            match self.client.describe_statement().id(id).send().await {
                Ok(out) => match out.status() {
                    Some(StatusString::Finished) => {
                        tracing::debug!(statement_id = id, polls, "statement finished");
                        return Ok(out);
                    }
                    Some(status @ (StatusString::Failed | StatusString::Aborted)) => {
                        return Err(WarehouseError::Failed {
                            statement_id: id.to_owned(),
                            status: status.as_str().to_owned(),
                            // Redshift's own text; the warehouse holds no personal
                            // data, so neither can its messages. Bounded for logs.
                            message: out.error().unwrap_or("no error text").chars().take(1_000).collect(),
                        });
                    }
                    _ => {}
                },
                Err(e) => match call_error("DescribeStatement", e) {
                    WarehouseError::Call { retryable: true, source, .. } => {
                        tracing::warn!(statement_id = id, error = %source, "polling the load was throttled; retrying");
                    }
                    other => return Err(other),
                },
            }
        }
    }
}

/// How long a migration batch may take.
const MIGRATE_BUDGET: Duration = Duration::from_secs(120);

/// Reads the versions recorded in `schema_migrations` (created first if need be).
const READ_VERSIONS: &str = "SELECT version FROM schema_migrations";

impl<O> RedshiftWarehouse<O> {
    /// The versions `schema_migrations` records: one batch (create the table if
    /// need be, select), then the select's rows (the batch's sub-statement 2).
    async fn recorded_versions(&self) -> Result<Vec<u32>, WarehouseError> {
        let sqls = vec![sql::create_migrations_table(Dialect::Redshift), READ_VERSIONS.to_owned()];
        let id = self.submit(sqls, "vigil-migrate-versions", None).await?;
        self.wait(&id, MIGRATE_BUDGET).await?;
        let mut versions = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .get_statement_result()
                .id(format!("{id}:2"))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| call_error("GetStatementResult", e))?;
            for row in out.records() {
                match row.first() {
                    Some(Field::LongValue(v)) => versions.push(u32::try_from(*v).unwrap_or(u32::MAX)),
                    other => {
                        return Err(WarehouseError::Call {
                            operation: "GetStatementResult",
                            retryable: false,
                            source: format!("schema_migrations.version is not an integer: {other:?}").into(),
                        });
                    }
                }
            }
            token = out.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
            if token.is_none() {
                return Ok(versions);
            }
        }
    }
}

/// How long an erasure's batch may take.
const ERASE_BUDGET: Duration = Duration::from_secs(300);

impl<O> RedshiftWarehouse<O> {
    /// Erasure (`vigil erase`): each fact table's rows of `pseudonym`, counted, or
    /// deleted in one transaction (`delete`). One batch either way: a BatchExecuteStatement
    /// takes no parameters, so the pseudonym is written into the statements as a
    /// literal, which is safe because it is checked to be hex digits only first.
    ///
    /// # Errors
    /// The pseudonym is not hex, or as [`Warehouse::load`].
    pub async fn erasure(&self, pseudonym: &str, delete: bool) -> Result<crate::erasure::Counts, WarehouseError> {
        if pseudonym.is_empty() || !pseudonym.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(WarehouseError::Call {
                operation: "erasure",
                retryable: false,
                source: "a pseudonym is hex digits only".into(),
            });
        }
        let literal = format!("'{pseudonym}'");
        let statement = if delete { crate::erasure::delete_rows } else { crate::erasure::count_rows };
        let sqls = crate::erasure::TABLES
            .iter()
            .map(|t| statement(Dialect::Redshift, t).replace(crate::erasure::REDSHIFT_PARAMETER, &literal))
            .collect();
        let id = self.submit(sqls, if delete { "vigil-erase" } else { "vigil-erase-count" }, None).await?;
        let out = self.wait(&id, ERASE_BUDGET).await?;
        let mut counts = Vec::new();
        for (i, table) in crate::erasure::TABLES.iter().enumerate() {
            let rows = if delete { sub_rows(&out, i) } else { self.count_result(&format!("{id}:{}", i + 1)).await? };
            counts.push((table.name, rows));
        }
        Ok(counts)
    }

    /// The single number a `SELECT COUNT(*)` sub-statement returned.
    async fn count_result(&self, id: &str) -> Result<u64, WarehouseError> {
        let out =
            self.client.get_statement_result().id(id).send().await.map_err(|e| call_error("GetStatementResult", e))?;
        match out.records().first().and_then(|row| row.first()) {
            Some(Field::LongValue(n)) => Ok(u64::try_from(*n).unwrap_or(0)),
            other => Err(WarehouseError::Call {
                operation: "GetStatementResult",
                retryable: false,
                source: format!("a count is not an integer: {other:?}").into(),
            }),
        }
    }
}

/// Rows reported by sub-statement `index` (the Data API gives -1 when unknown).
fn sub_rows(out: &aws_sdk_redshiftdata::operation::describe_statement::DescribeStatementOutput, index: usize) -> u64 {
    out.sub_statements().get(index).map_or(0, |s| u64::try_from(s.result_rows()).unwrap_or(0))
}

impl<O: ObjectStore + Sync> Warehouse for RedshiftWarehouse<O> {
    /// Two batches. The first creates the migrations table if need be and reads
    /// the versions recorded (GetStatementResult of its second statement). The
    /// second, sent only when some version is missing, applies each missing
    /// version followed by its record, in one transaction. A record is an
    /// `INSERT … WHERE NOT EXISTS`, so the versions whose record inserted a row
    /// (the sub-statement's `ResultRows` is 1) are the ones this batch applied;
    /// where the Data API does not give the count (-1), the version is not
    /// reported. Two cold starts racing both send the missing versions: the
    /// second waits for the first's locks, then fails where a statement cannot
    /// run twice (Redshift has no `ADD COLUMN IF NOT EXISTS`) and the next run
    /// finds the version recorded.
    async fn migrate(&self) -> Result<Migrated, WarehouseError> {
        let recorded = self.recorded_versions().await?;
        let mut sqls = Vec::new();
        let mut records = Vec::new();
        for m in sql::migrations(Dialect::Redshift).into_iter().filter(|m| !recorded.contains(&m.version)) {
            sqls.extend(m.statements.iter().cloned());
            records.push((sqls.len(), m.version));
            sqls.push(sql::record_migration(&m));
        }
        if sqls.is_empty() {
            return Ok(Migrated::default());
        }
        // No client token: a token reused after a failure would return the
        // failed statement; a version recorded meanwhile is not sent again.
        let id = self.submit(sqls, "vigil-migrate", None).await?;
        let out = self.wait(&id, MIGRATE_BUDGET).await?;
        let applied = records.into_iter().filter(|&(index, _)| sub_rows(&out, index) == 1).map(|(_, v)| v).collect();
        Ok(Migrated { applied })
    }

    async fn load(
        &self,
        kind: FileKind,
        files: &[PendingFile],
        run_id: &str,
        expire_before: Option<NaiveDate>,
        budget: Duration,
    ) -> Result<Loaded, WarehouseError> {
        let key = manifest::manifest_key(&self.config.manifest_prefix, kind, run_id);
        self.manifests
            .put(&key, manifest::manifest(&self.config.data_bucket, files), "application/json")
            .await
            .map_err(|e| WarehouseError::Call { operation: "PutObject", retryable: e.retryable, source: e.into() })?;
        let url = format!("s3://{}/{key}", self.config.data_bucket);
        let table = Table::of(kind);
        let mut sqls =
            sql::load_statements(table, CopyFrom::Manifest { url: &url, iam_role: &self.config.copy_role_arn });
        sqls.extend(expire_before.map(|day| sql::expire_statement(table, day)));
        let id = self.submit(sqls, &format!("vigil-load-{}", kind.as_str()), Some(run_id)).await?;
        let out = self.wait(&id, budget).await?;
        Ok(Loaded {
            rows_staged: sub_rows(&out, sql::COPY_STATEMENT),
            rows_merged: sub_rows(&out, sql::MERGE_STATEMENT),
            rows_expired: if expire_before.is_some() { sub_rows(&out, sql::EXPIRE_STATEMENT) } else { 0 },
            statement_id: Some(id),
        })
    }
}
