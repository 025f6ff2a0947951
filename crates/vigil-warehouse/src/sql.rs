//! Every SQL statement the warehouse runs, for Amazon Redshift and PostgreSQL 15.
//!
//! # Schema
//!
//! - `readings`: one row per distinct reading (the curated readings columns, in
//!   file order), keyed `reading_key`. Redshift: `DISTKEY (wearer_pseudonym)` so
//!   a wearer's rows sit on one slice and per-wearer aggregates need no
//!   redistribution, `SORTKEY (ts)` so a day's query reads only that day's
//!   blocks, column encodings chosen per type (AZ64 for integers and times,
//!   ZSTD for text and floats, BYTEDICT for the small enums, RAW for the sort
//!   key). PostgreSQL: the same columns, an enforced primary key and an index on
//!   `(wearer_pseudonym, ts)` standing in for the distribution and sort keys.
//! - `alerts`: one row per alert ([`vigil_curated::ALERT_COLUMNS`]), keyed `alert_key`,
//!   distributed on the pseudonym and sorted on `raised_at` the same way, with
//!   its lifecycle (`acknowledged_at`, `resolved_at`, `outcome`; added by
//!   version 4, so they are the table's last columns, as in the files).
//! - `daily_summary` (view): per pseudonym and UTC day, heart rate
//!   min/avg/max, steps, hours asleep and alerts by severity.
//! - `alert_response_times` (view): per rule and severity, alerts,
//!   acknowledged, median and p90 minutes from raised to acknowledged,
//!   resolved, false alarms.
//! - `alerts` also carries a baseline deviation's `feature` and `z` (version
//!   8), taken from whichever copy of the alert has them
//!   ([`Table::from_any_copy`]).
//! - `wearer_days`: one row per wearer and local day ([`WEARER_DAYS`]), keyed
//!   `(wearer_pseudonym, local_date)`; a recomputed day replaces its row when
//!   it is the later computation ([`Table::newer_by`]).
//! - `daily_summary_local` and `weekly_summary_local` (views): per wearer-local
//!   day, and per week with averages over complete days only.
//! - `baseline_deviations` (view): per rule, feature and week, deviations,
//!   wearers and median z.
//! - `schema_migrations`: the versions applied.
//!
//! # Migrations
//!
//! [`migrations`] is an append-only list: a version, once released, never
//! changes (so a table's DDL is frozen as its version created it: later
//! columns come by `ALTER TABLE … ADD COLUMN` in a later version). Each
//! version is recorded in `schema_migrations` with an insert that does nothing
//! when the version is there, in the same transaction as its statements. Both
//! adapters apply only the versions not recorded yet: PostgreSQL under an
//! advisory lock, Redshift after reading `schema_migrations` in a batch of its
//! own. Statements are re-runnable where the dialect allows it (`IF NOT
//! EXISTS`, `CREATE OR REPLACE`); Redshift has no `ADD COLUMN IF NOT EXISTS`,
//! so its version 4 runs once, and two cold starts racing to apply it end with
//! one committed and the other failed (retried by the next run, which finds
//! it recorded).
//!
//! # A load
//!
//! One transaction: create the temporary stage (`LIKE` the target), fill it
//! (Redshift: `COPY … FORMAT AS PARQUET MANIFEST`; PostgreSQL: `COPY … FROM
//! STDIN` fed from the Parquet files), keep one row per key in a second
//! temporary table, `MERGE` it into the target, drop both. The deduplication
//! is required, not an optimisation: Redshift's MERGE fails when two source
//! rows match one target row, and PostgreSQL's refuses to touch a row twice.

use std::fmt::Write as _;

/// The warehouse's SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Redshift,
    Postgres,
}

/// The band takes a reading every 5 seconds: the view counts each reading with
/// a sleep stage other than `awake` as this many seconds asleep.
pub const SECONDS_PER_READING: u32 = 5;

/// One column: its name, its SQL type and its Redshift encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// The type in both dialects, with `NOT NULL` where the column has no nulls.
    pub sql_type: &'static str,
    /// Redshift's compression encoding.
    pub encode: &'static str,
}

const fn col(name: &'static str, sql_type: &'static str, encode: &'static str) -> Column {
    Column { name, sql_type, encode }
}

/// A fact table fed from curated files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    /// The MERGE key (one column or more): unique per row in the table.
    pub key: &'static [&'static str],
    /// Redshift's distribution key.
    pub dist_key: &'static str,
    /// Redshift's sort key (and PostgreSQL's index after the pseudonym).
    pub sort_key: &'static str,
    /// In Parquet file order: the stage is filled by position.
    pub columns: &'static [Column],
    /// Which of two copies of one key the deduplication keeps (`ORDER BY` of
    /// `ROW_NUMBER()`; the first row wins).
    pub keep_first: &'static str,
    /// Update expressions that differ from "take the new value"
    /// (`s` is the deduplicated stage; the target is referenced by its name).
    pub updates: &'static [(&'static str, &'static str)],
    /// Columns the deduplication takes from whichever copy of a key has them
    /// (`MAX(c) OVER (PARTITION BY key)`: copies that have one agree on it),
    /// not only from the copy [`Table::keep_first`] keeps.
    pub from_any_copy: &'static [&'static str],
    /// When set, a row already in the table is replaced only by a copy whose
    /// value of this column is at least the table's (every other column
    /// becomes `CASE WHEN s.c >= t.c THEN s.x ELSE t.x END`), so the latest
    /// version of a row wins whatever order its files are loaded in.
    pub newer_by: Option<&'static str>,
}

/// The curated readings, in [`vigil_curated::COLUMNS`] order.
pub const READINGS: Table = Table {
    name: "readings",
    key: &["reading_key"],
    dist_key: "wearer_pseudonym",
    sort_key: "ts",
    columns: &[
        col("reading_key", "CHAR(32) NOT NULL", "ZSTD"),
        col("wearer_pseudonym", "CHAR(32) NOT NULL", "ZSTD"),
        col("ts", "TIMESTAMPTZ NOT NULL", "RAW"),
        col("received_at", "TIMESTAMPTZ NOT NULL", "AZ64"),
        col("heart_rate_bpm", "INTEGER", "AZ64"),
        col("spo2_pct", "INTEGER", "AZ64"),
        col("skin_temp_c", "DOUBLE PRECISION", "ZSTD"),
        col("steps", "INTEGER", "AZ64"),
        col("activity", "VARCHAR(16)", "BYTEDICT"),
        col("sleep_stage", "VARCHAR(8)", "BYTEDICT"),
        col("fall_detected", "BOOLEAN", "ZSTD"),
        col("fall_cancelled", "BOOLEAN", "ZSTD"),
        col("sos", "BOOLEAN", "ZSTD"),
        col("battery_pct", "INTEGER", "AZ64"),
        col("worn", "BOOLEAN", "ZSTD"),
    ],
    // A reading resent in a later upload keeps its first acceptance time.
    keep_first: "received_at",
    updates: &[("received_at", "LEAST(readings.received_at, s.received_at)")],
    from_any_copy: &[],
    newer_by: None,
};

/// The curated alerts, in [`vigil_curated::ALERT_COLUMNS`] order: the columns
/// version 2 created ([`ALERTS_CREATED_WITH`]), then the lifecycle columns
/// version 4 added.
pub const ALERTS: Table = Table {
    name: "alerts",
    key: &["alert_key"],
    dist_key: "wearer_pseudonym",
    sort_key: "raised_at",
    columns: &[
        col("alert_key", "CHAR(32) NOT NULL", "ZSTD"),
        col("wearer_pseudonym", "CHAR(32) NOT NULL", "ZSTD"),
        col("rule", "VARCHAR(32) NOT NULL", "BYTEDICT"),
        col("severity", "VARCHAR(16) NOT NULL", "BYTEDICT"),
        col("raised_at", "TIMESTAMPTZ NOT NULL", "RAW"),
        col("resolved", "BOOLEAN NOT NULL", "ZSTD"),
        col("acknowledged_at", "TIMESTAMPTZ", "AZ64"),
        col("resolved_at", "TIMESTAMPTZ", "AZ64"),
        col("outcome", "VARCHAR(32)", "BYTEDICT"),
        col("feature", "VARCHAR(32)", "BYTEDICT"),
        col("z", "DOUBLE PRECISION", "ZSTD"),
    ],
    // The copy that knows most wins: resolved over open, then (copies of one
    // alert agree on its first acknowledgement and resolution) one that has
    // the times over one that lacks them.
    keep_first: "resolved DESC, resolved_at ASC NULLS LAST, acknowledged_at ASC NULLS LAST",
    // Once resolved, always resolved; the first acknowledgement and the first
    // resolution loaded stand. So files loaded in any order converge.
    updates: &[
        ("resolved", "(alerts.resolved OR s.resolved)"),
        ("acknowledged_at", "COALESCE(alerts.acknowledged_at, s.acknowledged_at)"),
        ("resolved_at", "COALESCE(alerts.resolved_at, s.resolved_at)"),
        ("outcome", "COALESCE(alerts.outcome, s.outcome)"),
        ("feature", "COALESCE(alerts.feature, s.feature)"),
        ("z", "COALESCE(alerts.z, s.z)"),
    ],
    // A baseline deviation's feature and z come with the file its daily job
    // wrote; the alert path's and care-api's copies of the same alert lack them.
    from_any_copy: &["feature", "z"],
    newer_by: None,
};

/// How many of [`ALERTS`]' columns version 2 created (the lifecycle came with
/// version 4, up to [`ALERTS_LIFECYCLE_END`]).
pub const ALERTS_CREATED_WITH: usize = 6;

/// Where the lifecycle columns end in [`ALERTS`] (`feature` and `z` came with version 8).
pub const ALERTS_LIFECYCLE_END: usize = 9;

/// The curated days, in [`vigil_curated::DAY_COLUMNS`] order: one row per
/// wearer and local day, keyed `(wearer_pseudonym, local_date)`. A recomputed
/// day replaces the row when its computation is the later one
/// (`computed_after_s`), whatever order the files are loaded in.
pub const WEARER_DAYS: Table = Table {
    name: "wearer_days",
    key: &["wearer_pseudonym", "local_date"],
    dist_key: "wearer_pseudonym",
    sort_key: "local_date",
    columns: &[
        col("wearer_pseudonym", "CHAR(32) NOT NULL", "ZSTD"),
        col("local_date", "DATE NOT NULL", "RAW"),
        col("complete", "BOOLEAN NOT NULL", "ZSTD"),
        col("day_minutes", "BIGINT NOT NULL", "AZ64"),
        col("worn_minutes", "BIGINT NOT NULL", "AZ64"),
        col("sleep_minutes", "BIGINT NOT NULL", "AZ64"),
        col("wake_ups", "BIGINT NOT NULL", "AZ64"),
        col("restlessness", "DOUBLE PRECISION", "ZSTD"),
        col("steps", "BIGINT NOT NULL", "AZ64"),
        col("active_minutes", "BIGINT NOT NULL", "AZ64"),
        col("resting_hr", "DOUBLE PRECISION", "ZSTD"),
        col("lowest_spo2", "BIGINT", "AZ64"),
        col("alerts", "BIGINT NOT NULL", "AZ64"),
        col("acked", "BIGINT NOT NULL", "AZ64"),
        col("ack_median_secs", "BIGINT", "AZ64"),
        col("summary_version", "BIGINT NOT NULL", "AZ64"),
        col("computed_after_s", "BIGINT NOT NULL", "AZ64"),
    ],
    keep_first: "computed_after_s DESC",
    updates: &[],
    from_any_copy: &[],
    newer_by: Some("computed_after_s"),
};

impl Table {
    pub fn of(kind: crate::FileKind) -> &'static Table {
        match kind {
            crate::FileKind::Readings => &READINGS,
            crate::FileKind::Alerts => &ALERTS,
            crate::FileKind::Days => &WEARER_DAYS,
        }
    }

    pub fn column_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|c| c.name)
    }

    fn column_list(&self, prefix: &str) -> String {
        self.column_names().map(|c| format!("{prefix}{c}")).collect::<Vec<_>>().join(", ")
    }

    /// The temporary stage the files are copied into.
    pub fn staging(&self) -> String {
        format!("{}_staging", self.name)
    }

    /// The temporary table of one row per key.
    pub fn deduplicated(&self) -> String {
        format!("{}_dedup", self.name)
    }
}

/// `ALTER TABLE … ADD COLUMN` of each of `columns` (one statement each: Redshift
/// adds one column per statement), nullable. PostgreSQL's is re-runnable (`IF
/// NOT EXISTS`); Redshift has no such clause, so its version runs once (see the
/// module docs).
pub fn add_columns(dialect: Dialect, table: &Table, columns: &[Column]) -> Vec<String> {
    columns
        .iter()
        .map(|c| match dialect {
            Dialect::Redshift => {
                format!("ALTER TABLE {} ADD COLUMN {} {} ENCODE {}", table.name, c.name, c.sql_type, c.encode)
            }
            Dialect::Postgres => {
                format!("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}", table.name, c.name, c.sql_type)
            }
        })
        .collect()
}

/// `CREATE TABLE IF NOT EXISTS` of `table` in `dialect`, plus PostgreSQL's index.
pub fn create_table(dialect: Dialect, table: &Table) -> Vec<String> {
    let mut sql = format!("CREATE TABLE IF NOT EXISTS {} (\n", table.name);
    for c in table.columns {
        match dialect {
            Dialect::Redshift => {
                let _ = writeln!(sql, "    {} {} ENCODE {},", c.name, c.sql_type, c.encode);
            }
            Dialect::Postgres => {
                let _ = writeln!(sql, "    {} {},", c.name, c.sql_type);
            }
        }
    }
    let _ = write!(sql, "    PRIMARY KEY ({})\n)", table.key.join(", "));
    match dialect {
        Dialect::Redshift => {
            let _ = write!(sql, "\nDISTSTYLE KEY\nDISTKEY ({})\nSORTKEY ({})", table.dist_key, table.sort_key);
            vec![sql]
        }
        // The primary key's own index already serves (pseudonym, sort key).
        Dialect::Postgres if table.key == [table.dist_key, table.sort_key] => vec![sql],
        Dialect::Postgres => vec![
            sql,
            format!(
                "CREATE INDEX IF NOT EXISTS {t}_{d}_{s} ON {t} ({d}, {s})",
                t = table.name,
                d = table.dist_key,
                s = table.sort_key
            ),
        ],
    }
}

/// The daily summary view: the same text in both dialects. Days are UTC days
/// (`AT TIME ZONE 'UTC'`, so the session's time zone never moves a reading to
/// another day); the average is taken over DOUBLE PRECISION because Redshift's
/// AVG of an INTEGER column is an integer (PostgreSQL's is NUMERIC).
pub fn daily_summary_view() -> String {
    format!(
        "CREATE OR REPLACE VIEW daily_summary AS
WITH r AS (
    SELECT wearer_pseudonym,
           CAST(ts AT TIME ZONE 'UTC' AS DATE) AS day,
           COUNT(*) AS readings,
           MIN(heart_rate_bpm) AS heart_rate_min,
           AVG(CAST(heart_rate_bpm AS DOUBLE PRECISION)) AS heart_rate_avg,
           MAX(heart_rate_bpm) AS heart_rate_max,
           CAST(SUM(steps) AS BIGINT) AS steps,
           CAST(SUM(CASE WHEN sleep_stage IN ('light', 'deep', 'rem') THEN {SECONDS_PER_READING} ELSE 0 END)
                AS DOUBLE PRECISION) / 3600 AS hours_asleep
    FROM readings
    GROUP BY 1, 2
), a AS (
    SELECT wearer_pseudonym,
           CAST(raised_at AT TIME ZONE 'UTC' AS DATE) AS day,
           SUM(CASE WHEN severity = 'critical' THEN 1 ELSE 0 END) AS alerts_critical,
           SUM(CASE WHEN severity = 'high' THEN 1 ELSE 0 END) AS alerts_high,
           SUM(CASE WHEN severity = 'medium' THEN 1 ELSE 0 END) AS alerts_medium,
           SUM(CASE WHEN severity = 'low' THEN 1 ELSE 0 END) AS alerts_low
    FROM alerts
    GROUP BY 1, 2
)
SELECT COALESCE(r.wearer_pseudonym, a.wearer_pseudonym) AS wearer_pseudonym,
       COALESCE(r.day, a.day) AS day,
       COALESCE(r.readings, 0) AS readings,
       r.heart_rate_min,
       r.heart_rate_avg,
       r.heart_rate_max,
       COALESCE(r.steps, 0) AS steps,
       COALESCE(r.hours_asleep, 0) AS hours_asleep,
       COALESCE(a.alerts_critical, 0) AS alerts_critical,
       COALESCE(a.alerts_high, 0) AS alerts_high,
       COALESCE(a.alerts_medium, 0) AS alerts_medium,
       COALESCE(a.alerts_low, 0) AS alerts_low
FROM r
FULL OUTER JOIN a ON r.wearer_pseudonym = a.wearer_pseudonym AND r.day = a.day"
    )
}

/// Minutes from `raised_at` to `acknowledged_at` (null when not acknowledged),
/// as DOUBLE PRECISION. PostgreSQL subtracts the times (an interval) and takes
/// its seconds; Redshift has no EPOCH of an interval, so it counts the
/// microseconds between them with DATEDIFF (exact for microsecond times, where
/// `DATEDIFF(second, …)` would count second boundaries crossed), on both times
/// as UTC TIMESTAMPs (DATEDIFF takes TIMESTAMP, not TIMESTAMPTZ).
fn minutes_to_acknowledge(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM (acknowledged_at - raised_at)) AS DOUBLE PRECISION) / 60",
        Dialect::Redshift => {
            "CAST(DATEDIFF(microsecond, raised_at AT TIME ZONE 'UTC', acknowledged_at AT TIME ZONE 'UTC') AS DOUBLE \
             PRECISION) / 60000000"
        }
    }
}

/// Time to acknowledge per rule and severity: `alerts`, `acknowledged`,
/// `median_minutes_to_acknowledge` and `p90_minutes_to_acknowledge` (over the
/// acknowledged alerts; null when none is), `resolved` (by anyone, the rules
/// included) and `false_alarms` (resolved with outcome `false_alarm`).
/// `PERCENTILE_CONT … WITHIN GROUP` exists in both dialects (Redshift wants
/// every such call of a query ordered by the same expression, and they are);
/// counts are BIGINT in both.
pub fn alert_response_times_view(dialect: Dialect) -> String {
    format!(
        "CREATE OR REPLACE VIEW alert_response_times AS
SELECT rule,
       severity,
       COUNT(*) AS alerts,
       COUNT(minutes_to_acknowledge) AS acknowledged,
       PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY minutes_to_acknowledge) AS median_minutes_to_acknowledge,
       PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY minutes_to_acknowledge) AS p90_minutes_to_acknowledge,
       CAST(SUM(CASE WHEN resolved THEN 1 ELSE 0 END) AS BIGINT) AS resolved,
       CAST(SUM(CASE WHEN outcome = 'false_alarm' THEN 1 ELSE 0 END) AS BIGINT) AS false_alarms
FROM (
    SELECT rule, severity, resolved, outcome, {minutes} AS minutes_to_acknowledge
    FROM alerts
) AS a
GROUP BY rule, severity",
        minutes = minutes_to_acknowledge(dialect)
    )
}

/// The daily summary per wearer-local day, beside `daily_summary` (per UTC
/// day, from the readings, unchanged): the days as the daily job computed them
/// in each wearer's own time zone, which the warehouse does not know. Same
/// names as `daily_summary` where the figure is the same (`day`, `steps`,
/// `hours_asleep`); an incomplete day is shown with `complete` false.
pub fn daily_summary_local_view() -> String {
    "CREATE OR REPLACE VIEW daily_summary_local AS
SELECT wearer_pseudonym,
       local_date AS day,
       complete,
       CAST(day_minutes AS DOUBLE PRECISION) / 60 AS hours_in_day,
       CAST(worn_minutes AS DOUBLE PRECISION) / 60 AS hours_worn,
       CAST(sleep_minutes AS DOUBLE PRECISION) / 60 AS hours_asleep,
       wake_ups,
       restlessness,
       steps,
       active_minutes,
       resting_hr AS resting_heart_rate,
       lowest_spo2,
       alerts,
       acked AS alerts_acknowledged,
       CAST(ack_median_secs AS DOUBLE PRECISION) / 60 AS median_minutes_to_acknowledge
FROM wearer_days"
        .to_owned()
}

/// Per wearer and week (Monday, of local dates): `days` loaded, `complete_days`,
/// and averages over the **complete** days only (an incomplete day would drag
/// them down: it is counted, never averaged in); null when no day was complete.
pub fn weekly_summary_local_view() -> String {
    "CREATE OR REPLACE VIEW weekly_summary_local AS
SELECT wearer_pseudonym,
       CAST(DATE_TRUNC('week', CAST(local_date AS TIMESTAMP)) AS DATE) AS week,
       COUNT(*) AS days,
       CAST(SUM(CASE WHEN complete THEN 1 ELSE 0 END) AS BIGINT) AS complete_days,
       AVG(CASE WHEN complete THEN CAST(steps AS DOUBLE PRECISION) END) AS steps_avg,
       AVG(CASE WHEN complete THEN CAST(sleep_minutes AS DOUBLE PRECISION) / 60 END) AS hours_asleep_avg,
       AVG(CASE WHEN complete THEN CAST(active_minutes AS DOUBLE PRECISION) END) AS active_minutes_avg,
       AVG(CASE WHEN complete THEN resting_hr END) AS resting_heart_rate_avg,
       CAST(SUM(alerts) AS BIGINT) AS alerts
FROM wearer_days
GROUP BY 1, 2"
        .to_owned()
}

/// Baseline deviations for analysts: per rule, feature and week (Monday, UTC,
/// of `raised_at`), `deviations`, `wearers` (distinct pseudonyms), `median_z`
/// and `acknowledged`. A feature never loaded shows as `unknown`. The distinct
/// count is a query of its own: Redshift takes no `COUNT(DISTINCT …)` beside a
/// `WITHIN GROUP` aggregate.
pub fn baseline_deviations_view() -> String {
    "CREATE OR REPLACE VIEW baseline_deviations AS
WITH d AS (
    SELECT rule,
           COALESCE(feature, 'unknown') AS feature,
           CAST(DATE_TRUNC('week', raised_at AT TIME ZONE 'UTC') AS DATE) AS week,
           wearer_pseudonym,
           z,
           acknowledged_at
    FROM alerts
    WHERE rule = 'baseline_deviation'
), n AS (
    SELECT rule,
           feature,
           week,
           COUNT(*) AS deviations,
           PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY z) AS median_z,
           COUNT(acknowledged_at) AS acknowledged
    FROM d
    GROUP BY rule, feature, week
), w AS (
    SELECT rule, feature, week, COUNT(DISTINCT wearer_pseudonym) AS wearers
    FROM d
    GROUP BY rule, feature, week
)
SELECT n.rule, n.feature, n.week, n.deviations, w.wearers, n.median_z, n.acknowledged
FROM n
JOIN w ON n.rule = w.rule AND n.feature = w.feature AND n.week = w.week"
        .to_owned()
}

/// One schema version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    /// Idempotent statements (see the module docs).
    pub statements: Vec<String>,
}

/// The table of applied versions (created before any migration runs).
pub fn create_migrations_table(dialect: Dialect) -> String {
    let applied_at = match dialect {
        Dialect::Redshift => "TIMESTAMP NOT NULL DEFAULT GETDATE()",
        Dialect::Postgres => "TIMESTAMPTZ NOT NULL DEFAULT now()",
    };
    format!(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\n    version INTEGER NOT NULL,\n    name VARCHAR(64) NOT \
         NULL,\n    applied_at {applied_at},\n    PRIMARY KEY (version)\n)"
    )
}

/// Records `m` as applied, unless it is already.
pub fn record_migration(m: &Migration) -> String {
    format!(
        "INSERT INTO schema_migrations (version, name) SELECT {v}, '{n}' WHERE NOT EXISTS (SELECT 1 FROM \
         schema_migrations WHERE version = {v})",
        v = m.version,
        n = m.name
    )
}

/// Every schema version, oldest first (append only).
pub fn migrations(dialect: Dialect) -> Vec<Migration> {
    vec![
        Migration { version: 1, name: "readings", statements: create_table(dialect, &READINGS) },
        Migration {
            version: 2,
            name: "alerts",
            statements: create_table(dialect, &Table { columns: &ALERTS.columns[..ALERTS_CREATED_WITH], ..ALERTS }),
        },
        Migration { version: 3, name: "daily_summary", statements: vec![daily_summary_view()] },
        Migration {
            version: 4,
            name: "alert_lifecycle",
            statements: add_columns(dialect, &ALERTS, &ALERTS.columns[ALERTS_CREATED_WITH..ALERTS_LIFECYCLE_END]),
        },
        Migration { version: 5, name: "alert_response_times", statements: vec![alert_response_times_view(dialect)] },
        Migration { version: 6, name: "wearer_days", statements: create_table(dialect, &WEARER_DAYS) },
        Migration {
            version: 7,
            name: "daily_summary_local",
            statements: vec![daily_summary_local_view(), weekly_summary_local_view()],
        },
        Migration {
            version: 8,
            name: "alert_deviation",
            statements: add_columns(dialect, &ALERTS, &ALERTS.columns[ALERTS_LIFECYCLE_END..]),
        },
        Migration { version: 9, name: "baseline_deviations", statements: vec![baseline_deviations_view()] },
    ]
}

/// Where the stage is filled from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFrom<'a> {
    /// Redshift: a manifest of Parquet files on S3, read with `iam_role`.
    Manifest { url: &'a str, iam_role: &'a str },
    /// PostgreSQL: rows streamed by the client (`COPY … FROM STDIN`, text format).
    Stdin,
}

/// A literal in single quotes (URLs and ARNs never hold a quote; doubled if one did).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The statements of one load of `table`, in order (see the module docs). The
/// PostgreSQL adapter sends them one by one inside its transaction; Redshift's
/// are one BatchExecuteStatement, which is one transaction.
pub fn load_statements(table: &Table, from: CopyFrom<'_>) -> Vec<String> {
    let (t, stage, dedup) = (table.name, table.staging(), table.deduplicated());
    let copy = match from {
        CopyFrom::Manifest { url, iam_role } => {
            format!("COPY {stage} FROM {} IAM_ROLE {} FORMAT AS PARQUET MANIFEST", literal(url), literal(iam_role))
        }
        CopyFrom::Stdin => format!("COPY {stage} ({}) FROM STDIN", table.column_list("")),
    };
    let columns = table.column_list("");
    let key = table.key.join(", ");
    let updates: Vec<String> = table
        .column_names()
        .filter(|c| !table.key.contains(c))
        .map(|c| {
            let expr = match (table.updates.iter().find(|(name, _)| *name == c), table.newer_by) {
                (Some((_, e)), _) => (*e).to_owned(),
                (None, Some(n)) => format!("CASE WHEN s.{n} >= {t}.{n} THEN s.{c} ELSE {t}.{c} END"),
                (None, None) => format!("s.{c}"),
            };
            format!("{c} = {expr}")
        })
        .collect();
    let staged: Vec<String> = table
        .column_names()
        .map(|c| {
            if table.from_any_copy.contains(&c) {
                format!("MAX({c}) OVER (PARTITION BY {key}) AS {c}")
            } else {
                c.into()
            }
        })
        .collect();
    let on: Vec<String> = table.key.iter().map(|k| format!("{t}.{k} = s.{k}")).collect();
    vec![
        format!("CREATE TEMP TABLE {stage} (LIKE {t})"),
        copy,
        format!(
            "CREATE TEMP TABLE {dedup} AS SELECT {columns} FROM (SELECT {staged}, ROW_NUMBER() OVER (PARTITION BY \
             {key} ORDER BY {order}) AS rn FROM {stage}) AS d WHERE rn = 1",
            staged = staged.join(", "),
            order = table.keep_first
        ),
        format!(
            "MERGE INTO {t} USING {dedup} AS s ON {on} WHEN MATCHED THEN UPDATE SET {updates} WHEN NOT MATCHED THEN \
             INSERT ({columns}) VALUES ({values})",
            on = on.join(" AND "),
            updates = updates.join(", "),
            values = table.column_list("s.")
        ),
        format!("DROP TABLE {dedup}"),
        format!("DROP TABLE {stage}"),
    ]
}

/// Index of the MERGE in [`load_statements`] (its row count is the load's).
pub const MERGE_STATEMENT: usize = 3;

/// Index of the COPY in [`load_statements`].
pub const COPY_STATEMENT: usize = 1;

/// Index of [`expire_statement`] when a load carries it: after the six of
/// [`load_statements`], in the same transaction.
pub const EXPIRE_STATEMENT: usize = 6;

/// Deletes `table`'s rows older than `before` (UTC midnight; on a date column,
/// the date itself), by its sort key, which is each fact table's time: a
/// reading's `ts`, an alert's `raised_at`, a day's `local_date`. Redshift
/// skips the blocks whose sort key range lies after the cut, so a load that
/// expires nothing reads little. The date is a typed value written as an ISO
/// literal, so nothing outside the code reaches the statement.
pub fn expire_statement(table: &Table, before: chrono::NaiveDate) -> String {
    let column = table.sort_key;
    let is_date = table.columns.iter().any(|c| c.name == column && c.sql_type.starts_with("DATE"));
    let cut = if is_date {
        format!("'{}'::DATE", before.format("%Y-%m-%d"))
    } else {
        format!("'{} 00:00:00+00'::TIMESTAMPTZ", before.format("%Y-%m-%d"))
    };
    format!("DELETE FROM {} WHERE {column} < {cut}", table.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileKind;

    #[test]
    fn readings_columns_are_the_curated_columns_in_file_order() {
        let names: Vec<&str> = READINGS.column_names().collect();
        assert_eq!(names, vigil_curated::COLUMNS.to_vec());
        let alerts: Vec<&str> = ALERTS.column_names().collect();
        assert_eq!(alerts, vigil_curated::ALERT_COLUMNS.to_vec());
        assert_eq!(Table::of(FileKind::Alerts).name, "alerts");
    }

    #[test]
    fn redshift_ddl_distributes_on_the_pseudonym_sorts_on_time_and_encodes_columns() {
        let ddl = create_table(Dialect::Redshift, &READINGS);
        assert_eq!(ddl.len(), 1);
        let ddl = &ddl[0];
        assert!(ddl.starts_with("CREATE TABLE IF NOT EXISTS readings ("), "{ddl}");
        assert!(ddl.ends_with("DISTSTYLE KEY\nDISTKEY (wearer_pseudonym)\nSORTKEY (ts)"), "{ddl}");
        assert!(ddl.contains("    ts TIMESTAMPTZ NOT NULL ENCODE RAW,\n"), "the sort key stays uncompressed: {ddl}");
        assert!(ddl.contains("    heart_rate_bpm INTEGER ENCODE AZ64,\n"), "{ddl}");
        assert_eq!(ddl.matches("ENCODE").count(), READINGS.columns.len());
        let alerts = &create_table(Dialect::Redshift, &ALERTS)[0];
        assert!(alerts.ends_with("DISTKEY (wearer_pseudonym)\nSORTKEY (raised_at)"), "{alerts}");
    }

    #[test]
    fn postgres_ddl_has_no_redshift_clauses_and_indexes_pseudonym_and_time() {
        let ddl = create_table(Dialect::Postgres, &READINGS);
        assert_eq!(ddl.len(), 2);
        for word in ["ENCODE", "DISTKEY", "SORTKEY", "DISTSTYLE"] {
            assert!(!ddl[0].contains(word), "{word} in {}", ddl[0]);
        }
        assert_eq!(
            ddl[1],
            "CREATE INDEX IF NOT EXISTS readings_wearer_pseudonym_ts ON readings (wearer_pseudonym, ts)"
        );
    }

    #[test]
    fn migrations_are_versioned_in_order_and_idempotent_by_construction() {
        for dialect in [Dialect::Redshift, Dialect::Postgres] {
            let all = migrations(dialect);
            let versions: Vec<u32> = all.iter().map(|m| m.version).collect();
            assert_eq!(versions, vec![1, 2, 3, 4, 5, 6, 7, 8, 9]);
            for m in &all {
                for s in &m.statements {
                    let rerunnable = s.starts_with("CREATE TABLE IF NOT EXISTS")
                        || s.starts_with("CREATE INDEX IF NOT EXISTS")
                        || s.starts_with("CREATE OR REPLACE VIEW")
                        || s.starts_with("ALTER TABLE alerts ADD COLUMN IF NOT EXISTS");
                    // Redshift has no ADD COLUMN IF NOT EXISTS: versions 4 and 8 run once there.
                    let once = dialect == Dialect::Redshift
                        && [4, 8].contains(&m.version)
                        && s.starts_with("ALTER TABLE alerts ADD COLUMN");
                    assert!(rerunnable || once, "not re-runnable: {s}");
                }
            }
        }
        assert_eq!(
            record_migration(&migrations(Dialect::Redshift)[0]),
            "INSERT INTO schema_migrations (version, name) SELECT 1, 'readings' WHERE NOT EXISTS (SELECT 1 FROM \
             schema_migrations WHERE version = 1)"
        );
    }

    #[test]
    fn a_redshift_load_copies_the_manifest_as_parquet_then_dedups_and_merges() {
        let sql = load_statements(
            &READINGS,
            CopyFrom::Manifest { url: "s3://data/manifests/readings/r1.json", iam_role: "arn:aws:iam::1:role/copy" },
        );
        assert_eq!(sql[0], "CREATE TEMP TABLE readings_staging (LIKE readings)");
        assert_eq!(
            sql[COPY_STATEMENT],
            "COPY readings_staging FROM 's3://data/manifests/readings/r1.json' IAM_ROLE 'arn:aws:iam::1:role/copy' \
             FORMAT AS PARQUET MANIFEST"
        );
        assert!(sql[2].contains("ROW_NUMBER() OVER (PARTITION BY reading_key ORDER BY received_at)"), "{}", sql[2]);
        let merge = &sql[MERGE_STATEMENT];
        assert!(
            merge.starts_with(
                "MERGE INTO readings USING readings_dedup AS s ON readings.reading_key = s.reading_key WHEN MATCHED \
                 THEN UPDATE SET wearer_pseudonym = s.wearer_pseudonym, ts = s.ts, received_at = \
                 LEAST(readings.received_at, s.received_at), "
            ),
            "{merge}"
        );
        assert!(!merge.contains("reading_key = s.reading_key,"), "the key is never updated: {merge}");
        assert!(merge.ends_with("VALUES (s.reading_key, s.wearer_pseudonym, s.ts, s.received_at, s.heart_rate_bpm, s.spo2_pct, s.skin_temp_c, s.steps, s.activity, s.sleep_stage, s.fall_detected, s.fall_cancelled, s.sos, s.battery_pct, s.worn)"), "{merge}");
        assert_eq!(&sql[4..], &["DROP TABLE readings_dedup".to_owned(), "DROP TABLE readings_staging".to_owned()]);
    }

    #[test]
    fn expiry_cuts_each_table_at_utc_midnight_on_its_time_column() {
        let day = chrono::NaiveDate::from_ymd_opt(2025, 12, 4).unwrap();
        assert_eq!(
            expire_statement(&READINGS, day),
            "DELETE FROM readings WHERE ts < '2025-12-04 00:00:00+00'::TIMESTAMPTZ"
        );
        assert_eq!(
            expire_statement(&ALERTS, day),
            "DELETE FROM alerts WHERE raised_at < '2025-12-04 00:00:00+00'::TIMESTAMPTZ"
        );
        assert_eq!(
            expire_statement(&WEARER_DAYS, day),
            "DELETE FROM wearer_days WHERE local_date < '2025-12-04'::DATE"
        );
        assert_eq!(load_statements(&READINGS, CopyFrom::Stdin).len(), EXPIRE_STATEMENT);
    }

    #[test]
    fn a_postgres_load_copies_from_stdin_by_column_name_and_quotes_are_doubled() {
        let sql = load_statements(&ALERTS, CopyFrom::Stdin);
        assert_eq!(
            sql[COPY_STATEMENT],
            "COPY alerts_staging (alert_key, wearer_pseudonym, rule, severity, raised_at, resolved, acknowledged_at, \
             resolved_at, outcome, feature, z) FROM STDIN"
        );
        assert!(sql[MERGE_STATEMENT].contains("resolved = (alerts.resolved OR s.resolved)"));
        let odd = load_statements(&READINGS, CopyFrom::Manifest { url: "s3://b/it's", iam_role: "r" });
        assert!(odd[COPY_STATEMENT].contains("'s3://b/it''s'"), "{}", odd[COPY_STATEMENT]);
    }

    #[test]
    fn the_alerts_table_keeps_the_ddl_version_2_created_and_version_4_adds_the_lifecycle() {
        for dialect in [Dialect::Redshift, Dialect::Postgres] {
            let all = migrations(dialect);
            let created = &all[1].statements[0];
            for c in &ALERTS.columns[..ALERTS_CREATED_WITH] {
                assert!(created.contains(&format!("    {} {}", c.name, c.sql_type)), "{created}");
            }
            for c in ["acknowledged_at", "resolved_at", "outcome"] {
                assert!(!created.contains(c), "version 2 never changes: {created}");
            }
            assert_eq!((all[3].version, all[3].name), (4, "alert_lifecycle"));
            assert_eq!((all[4].version, all[4].name), (5, "alert_response_times"));
        }
        assert_eq!(
            migrations(Dialect::Postgres)[3].statements,
            [
                "ALTER TABLE alerts ADD COLUMN IF NOT EXISTS acknowledged_at TIMESTAMPTZ",
                "ALTER TABLE alerts ADD COLUMN IF NOT EXISTS resolved_at TIMESTAMPTZ",
                "ALTER TABLE alerts ADD COLUMN IF NOT EXISTS outcome VARCHAR(32)",
            ]
        );
        assert_eq!(
            migrations(Dialect::Redshift)[3].statements,
            [
                "ALTER TABLE alerts ADD COLUMN acknowledged_at TIMESTAMPTZ ENCODE AZ64",
                "ALTER TABLE alerts ADD COLUMN resolved_at TIMESTAMPTZ ENCODE AZ64",
                "ALTER TABLE alerts ADD COLUMN outcome VARCHAR(32) ENCODE BYTEDICT",
            ]
        );
        // A table created today ends where the files do: the stage (LIKE alerts)
        // is then filled by position on Redshift.
        let names: Vec<&str> = ALERTS.column_names().collect();
        assert_eq!(&names[ALERTS_CREATED_WITH..ALERTS_LIFECYCLE_END], ["acknowledged_at", "resolved_at", "outcome"]);
        assert_eq!(&names[ALERTS_LIFECYCLE_END..], ["feature", "z"]);
    }

    #[test]
    fn the_alerts_merge_keeps_the_first_acknowledgement_and_resolution_and_never_reopens() {
        let sql = load_statements(&ALERTS, CopyFrom::Stdin);
        assert!(
            sql[2].contains(
                "ROW_NUMBER() OVER (PARTITION BY alert_key ORDER BY resolved DESC, resolved_at ASC NULLS LAST, \
                 acknowledged_at ASC NULLS LAST)"
            ),
            "{}",
            sql[2]
        );
        let merge = &sql[MERGE_STATEMENT];
        for update in [
            "resolved = (alerts.resolved OR s.resolved)",
            "acknowledged_at = COALESCE(alerts.acknowledged_at, s.acknowledged_at)",
            "resolved_at = COALESCE(alerts.resolved_at, s.resolved_at)",
            "outcome = COALESCE(alerts.outcome, s.outcome)",
        ] {
            assert!(merge.contains(update), "{update} missing: {merge}");
        }
        assert!(merge.ends_with("s.resolved, s.acknowledged_at, s.resolved_at, s.outcome, s.feature, s.z)"), "{merge}");
    }

    #[test]
    fn the_response_times_view_differs_only_in_how_minutes_are_counted() {
        let pg = alert_response_times_view(Dialect::Postgres);
        let rs = alert_response_times_view(Dialect::Redshift);
        assert!(pg.starts_with("CREATE OR REPLACE VIEW alert_response_times AS"));
        assert!(
            pg.contains("CAST(EXTRACT(EPOCH FROM (acknowledged_at - raised_at)) AS DOUBLE PRECISION) / 60 AS minutes_to_acknowledge"),
            "{pg}"
        );
        assert!(
            rs.contains(
                "CAST(DATEDIFF(microsecond, raised_at AT TIME ZONE 'UTC', acknowledged_at AT TIME ZONE 'UTC') AS \
                 DOUBLE PRECISION) / 60000000 AS minutes_to_acknowledge"
            ),
            "{rs}"
        );
        assert!(!rs.contains("EXTRACT") && !pg.contains("DATEDIFF"));
        for view in [&pg, &rs] {
            // Redshift: every percentile of a query ordered by the same expression.
            assert_eq!(view.matches("WITHIN GROUP (ORDER BY minutes_to_acknowledge)").count(), 2, "{view}");
            assert!(view.contains("COUNT(*) AS alerts") && view.contains("AS false_alarms"), "{view}");
            assert!(view.ends_with("GROUP BY rule, severity"), "{view}");
        }
        let (pg_rest, rs_rest) = (
            pg.replace(minutes_to_acknowledge(Dialect::Postgres), "M"),
            rs.replace(minutes_to_acknowledge(Dialect::Redshift), "M"),
        );
        assert_eq!(pg_rest, rs_rest);
    }

    #[test]
    fn wearer_days_are_keyed_by_pseudonym_and_local_date_and_the_later_computation_wins() {
        let names: Vec<&str> = WEARER_DAYS.column_names().collect();
        assert_eq!(names, vigil_curated::DAY_COLUMNS.to_vec());
        assert_eq!(Table::of(FileKind::Days).name, "wearer_days");
        let rs = &create_table(Dialect::Redshift, &WEARER_DAYS)[0];
        assert!(rs.contains("    PRIMARY KEY (wearer_pseudonym, local_date)\n)"), "{rs}");
        assert!(rs.ends_with("DISTKEY (wearer_pseudonym)\nSORTKEY (local_date)"), "{rs}");
        assert!(rs.contains("    local_date DATE NOT NULL ENCODE RAW,\n"), "{rs}");
        // The primary key's index is the (pseudonym, date) index: no second one.
        assert_eq!(create_table(Dialect::Postgres, &WEARER_DAYS).len(), 1);

        let sql = load_statements(&WEARER_DAYS, CopyFrom::Stdin);
        assert!(
            sql[2].contains(
                "ROW_NUMBER() OVER (PARTITION BY wearer_pseudonym, local_date ORDER BY computed_after_s DESC)"
            ),
            "{}",
            sql[2]
        );
        let merge = &sql[MERGE_STATEMENT];
        assert!(
            merge.starts_with(
                "MERGE INTO wearer_days USING wearer_days_dedup AS s ON wearer_days.wearer_pseudonym = \
                 s.wearer_pseudonym AND wearer_days.local_date = s.local_date WHEN MATCHED THEN UPDATE SET complete = \
                 CASE WHEN s.computed_after_s >= wearer_days.computed_after_s THEN s.complete ELSE wearer_days.complete \
                 END, "
            ),
            "{merge}"
        );
        assert!(
            !merge.contains("SET wearer_pseudonym") && !merge.contains(", local_date ="),
            "keys never change: {merge}"
        );
        assert_eq!(merge.matches("CASE WHEN s.computed_after_s >= wearer_days.computed_after_s").count(), 15);
    }

    #[test]
    fn a_deviations_feature_and_z_come_from_whichever_copy_of_the_alert_has_them() {
        let sql = load_statements(&ALERTS, CopyFrom::Stdin);
        assert!(
            sql[2].contains(
                "outcome, MAX(feature) OVER (PARTITION BY alert_key) AS feature, MAX(z) OVER (PARTITION BY alert_key) \
                 AS z, ROW_NUMBER()"
            ),
            "{}",
            sql[2]
        );
        assert!(sql[2].starts_with("CREATE TEMP TABLE alerts_dedup AS SELECT alert_key, "), "{}", sql[2]);
        let merge = &sql[MERGE_STATEMENT];
        assert!(
            merge.contains("feature = COALESCE(alerts.feature, s.feature), z = COALESCE(alerts.z, s.z)"),
            "{merge}"
        );
        assert_eq!(
            migrations(Dialect::Redshift)[7].statements,
            [
                "ALTER TABLE alerts ADD COLUMN feature VARCHAR(32) ENCODE BYTEDICT",
                "ALTER TABLE alerts ADD COLUMN z DOUBLE PRECISION ENCODE ZSTD",
            ]
        );
        let names: Vec<(u32, &str)> = migrations(Dialect::Postgres).iter().map(|m| (m.version, m.name)).collect();
        assert_eq!(
            &names[5..],
            [(6, "wearer_days"), (7, "daily_summary_local"), (8, "alert_deviation"), (9, "baseline_deviations")]
        );
    }

    #[test]
    fn the_local_day_views_are_one_text_for_both_dialects() {
        let weekly = weekly_summary_local_view();
        // Every average is over the complete days only.
        assert_eq!(weekly.matches("AVG(CASE WHEN complete THEN ").count(), 4, "{weekly}");
        for average in ["steps_avg", "hours_asleep_avg", "active_minutes_avg", "resting_heart_rate_avg"] {
            assert!(weekly.contains(&format!("END) AS {average}")), "{average}: {weekly}");
        }
        let deviations = baseline_deviations_view();
        // Redshift: no COUNT(DISTINCT) in the query that has the percentile.
        let n = &deviations[deviations.find("), n AS").unwrap()..deviations.find("), w AS").unwrap()];
        assert!(n.contains("PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY z)") && !n.contains("DISTINCT"), "{n}");
        assert!(deviations.contains("WHERE rule = 'baseline_deviation'"), "{deviations}");
        for dialect in [Dialect::Redshift, Dialect::Postgres] {
            let all = migrations(dialect);
            assert_eq!(all[6].statements, [daily_summary_local_view(), weekly_summary_local_view()]);
            assert_eq!(all[8].statements, std::slice::from_ref(&deviations));
        }
    }
}
