//! The local warehouse of a run: warehouse-loader's own PostgreSQL loader (the
//! same loader, port and SQL as in AWS, with PostgreSQL in place of Redshift),
//! in a fresh database per run so the audit sees only this run's rows.

use std::collections::HashSet;

use anyhow::Context;
use aws_config::SdkConfig;
use chrono::{DateTime, Utc};
use tokio_postgres::NoTls;
use vigil_domain::config::Source;
use warehouse_loader::PostgresLoader;

pub struct PgWarehouse {
    loader: PostgresLoader,
    url: String,
    database: String,
}

impl std::fmt::Debug for PgWarehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgWarehouse").field("database", &self.database).finish_non_exhaustive()
    }
}

impl PgWarehouse {
    /// Creates database `database` on the server at `admin_url` (any database
    /// URL of a user allowed to create databases) and a loader into it.
    pub async fn create(sdk: &SdkConfig, admin_url: &str, database: &str, env: &impl Source) -> anyhow::Result<Self> {
        let admin = connect(admin_url).await.with_context(|| {
            "connecting to the local warehouse (start it with `bash scripts/pg.sh start`, then \
             `eval \"$(bash scripts/pg.sh env)\"` to set VIGIL_PG_URL)"
        })?;
        admin.batch_execute(&format!("CREATE DATABASE {database}")).await.context("creating the run's database")?;
        let url = with_database(admin_url, database);
        let loader = warehouse_loader::postgres_loader(sdk, env, &url)?;
        Ok(Self { loader, url, database: database.to_owned() })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One warehouse-loader run at `now`: (files loaded, rows merged).
    pub async fn load(&self, now: DateTime<Utc>) -> anyhow::Result<(u64, u64)> {
        let report = self.loader.run(now).await?;
        Ok((report.files_loaded as u64, report.rows_merged))
    }

    /// Every reading key in the readings table.
    pub async fn reading_keys(&self) -> anyhow::Result<HashSet<String>> {
        let client = connect(&self.url).await?;
        let rows = client.query("SELECT reading_key FROM readings", &[]).await.context("reading the readings table")?;
        Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
    }
}

/// Alerts counted in a store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertCounts {
    pub all: u64,
    pub resolved: u64,
    pub acknowledged: u64,
}

impl PgWarehouse {
    /// Rows in the alerts fact table (the curated alerts of alert-processor,
    /// offline-detector and care-api): all, resolved, acknowledged.
    pub async fn alert_rows(&self) -> anyhow::Result<AlertCounts> {
        let client = connect(&self.url).await?;
        let row = client
            .query_one("SELECT COUNT(*), COUNT(*) FILTER (WHERE resolved), COUNT(acknowledged_at) FROM alerts", &[])
            .await
            .context("counting the alerts table")?;
        let count = |i: usize| u64::try_from(row.get::<_, i64>(i)).unwrap_or(0);
        Ok(AlertCounts { all: count(0), resolved: count(1), acknowledged: count(2) })
    }
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "warehouse connection ended with an error");
        }
    });
    Ok(client)
}

/// `url` with its database (the path) replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5433/postgres", "run1"),
            "postgres://postgres@127.0.0.1:5433/run1"
        );
        assert_eq!(with_database("postgres://u@h:1", "run1"), "postgres://u@h:1/run1");
        assert_eq!(with_database("postgres://u@h/db?sslmode=disable", "r"), "postgres://u@h/r?sslmode=disable");
    }
}
