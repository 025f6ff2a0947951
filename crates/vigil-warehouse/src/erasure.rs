//! Erasure in the warehouse (`vigil erase`): every row of one wearer's pseudonym
//! deleted from each fact table, in one transaction. The views are computed from
//! the tables, so they follow.
//!
//! The pseudonym is the only link from a row to a person (there is no wearer id in
//! the warehouse), so the statements take it as a parameter and nothing else.

use crate::sql::{ALERTS, Dialect, READINGS, Table, WEARER_DAYS};

/// The fact tables that hold a wearer's rows, by `wearer_pseudonym`.
pub const TABLES: [&Table; 3] = [&READINGS, &ALERTS, &WEARER_DAYS];

/// The Redshift Data API's named parameter of the pseudonym.
pub const REDSHIFT_PARAMETER: &str = ":pseudonym";

/// The placeholder of the pseudonym: `$1` for PostgreSQL, [`REDSHIFT_PARAMETER`]
/// for the Redshift Data API.
fn placeholder(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "$1",
        Dialect::Redshift => REDSHIFT_PARAMETER,
    }
}

/// Counts `table`'s rows of the pseudonym.
pub fn count_rows(dialect: Dialect, table: &Table) -> String {
    format!("SELECT COUNT(*) FROM {} WHERE wearer_pseudonym = {}", table.name, placeholder(dialect))
}

/// Deletes `table`'s rows of the pseudonym.
pub fn delete_rows(dialect: Dialect, table: &Table) -> String {
    format!("DELETE FROM {} WHERE wearer_pseudonym = {}", table.name, placeholder(dialect))
}

/// Rows of one wearer per table: (table, rows).
pub type Counts = Vec<(&'static str, u64)>;

#[cfg(feature = "postgres")]
mod postgres {
    use tokio_postgres::Client;

    use super::{Counts, TABLES, count_rows, delete_rows};
    use crate::WarehouseError;
    use crate::sql::Dialect;

    fn failed(operation: &'static str, e: &tokio_postgres::Error) -> WarehouseError {
        // The server's message only: its DETAIL can quote row values.
        let message =
            e.as_db_error().map_or_else(|| e.to_string(), |db| format!("{}: {}", db.code().code(), db.message()));
        WarehouseError::Failed { statement_id: operation.to_owned(), status: "FAILED".into(), message }
    }

    /// Each table's rows of `pseudonym` (a dry run, and the verification).
    pub async fn count(client: &Client, pseudonym: &str) -> Result<Counts, WarehouseError> {
        let mut out = Vec::new();
        for table in TABLES {
            let row = client
                .query_one(&count_rows(Dialect::Postgres, table), &[&pseudonym])
                .await
                .map_err(|e| failed("count", &e))?;
            out.push((table.name, u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)));
        }
        Ok(out)
    }

    /// Deletes every row of `pseudonym` from every table in one transaction;
    /// returns the rows deleted per table.
    pub async fn erase(client: &mut Client, pseudonym: &str) -> Result<Counts, WarehouseError> {
        let tx = client.transaction().await.map_err(|e| failed("BEGIN", &e))?;
        let mut out = Vec::new();
        for table in TABLES {
            let rows = tx
                .execute(&delete_rows(Dialect::Postgres, table), &[&pseudonym])
                .await
                .map_err(|e| failed("DELETE", &e))?;
            out.push((table.name, rows));
        }
        tx.commit().await.map_err(|e| failed("COMMIT", &e))?;
        Ok(out)
    }
}

#[cfg(feature = "postgres")]
pub use postgres::{count, erase};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statements_name_the_table_and_take_the_pseudonym_as_a_parameter() {
        assert_eq!(delete_rows(Dialect::Postgres, &READINGS), "DELETE FROM readings WHERE wearer_pseudonym = $1");
        assert_eq!(
            count_rows(Dialect::Redshift, &ALERTS),
            "SELECT COUNT(*) FROM alerts WHERE wearer_pseudonym = :pseudonym"
        );
        assert_eq!(TABLES.map(|t| t.name), ["readings", "alerts", "wearer_days"]);
    }
}
