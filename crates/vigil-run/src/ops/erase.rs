//! `vigil erase --wearer <id>`: removes a wearer (a data subject's request) from every
//! store, writes a receipt, then verifies by scanning every store for the wearer's
//! id, band ids, alert ids and pseudonym (docs/erasure.md).
//!
//! Order: what identifies the wearer's data is found first (their bands in the device
//! registry, their alerts, their pseudonym), then every table is scanned and cleaned
//! with all those identifiers (deliveries and escalation steps are found through the
//! alert ids), then the data lake (raw archive rewritten record by record, curated
//! Parquet row by row, manifests), the quarantine and the warehouse.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use vigil_aws::erasure::{self, Needles};
use vigil_curated::Pseudonymizer;

/// `vigil erase`'s arguments. Table and bucket names come from the variables the
/// functions read, else the local defaults.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The wearer to erase.
    #[arg(long)]
    pub wearer: String,
    /// Count what would be removed; change nothing (no verification).
    #[arg(long)]
    pub dry_run: bool,
    /// Write the receipt (JSON) here too; it is always printed on stdout.
    #[arg(long)]
    pub receipt: Option<PathBuf>,
    /// The PostgreSQL warehouse (local runs).
    #[arg(long, env = "VIGIL_PG_URL", conflicts_with = "redshift_workgroup")]
    pub warehouse_url: Option<String>,
    /// The Redshift Serverless workgroup (on AWS), reached through the Data API. With
    /// neither this nor --warehouse-url the warehouse is not reached: the receipt says
    /// what to run there (docs/erasure.md).
    #[arg(long, env = "REDSHIFT_WORKGROUP", requires = "redshift_database")]
    pub redshift_workgroup: Option<String>,
    #[arg(long, env = "REDSHIFT_DATABASE")]
    pub redshift_database: Option<String>,
    /// Database credentials in Secrets Manager; unset: the caller's IAM identity.
    #[arg(long, env = "REDSHIFT_SECRET_ARN")]
    pub redshift_secret_arn: Option<String>,
    #[command(flatten)]
    pub stores: Stores,
    #[command(flatten)]
    pub retention: Retention,
}

/// Where the wearer's data is.
#[derive(clap::Args, Debug, Clone)]
pub struct Stores {
    #[arg(long, env = "DEVICES_TABLE", default_value = "vigil-devices")]
    pub devices_table: String,
    #[arg(long, env = "WEARERS_TABLE", default_value = "vigil-wearers")]
    pub wearers_table: String,
    #[arg(long, env = "CAREGIVER_LINKS_TABLE", default_value = "vigil-caregiver-links")]
    pub caregiver_links_table: String,
    #[arg(long, env = "STATE_TABLE", default_value = "vigil-wearer-state")]
    pub state_table: String,
    #[arg(long, env = "VITALS_TABLE", default_value = "vigil-vitals")]
    pub vitals_table: String,
    #[arg(long, env = "DAYS_TABLE", default_value = "vigil-days")]
    pub days_table: String,
    #[arg(long, env = "ALERTS_TABLE", default_value = "vigil-alerts")]
    pub alerts_table: String,
    #[arg(long, env = "DELIVERIES_TABLE", default_value = "vigil-deliveries")]
    pub deliveries_table: String,
    #[arg(long, env = "CURATED_FILES_TABLE", default_value = "vigil-curated-files")]
    pub curated_files_table: String,
    #[arg(long, env = "DATA_BUCKET", default_value = "vigil-data")]
    pub data_bucket: String,
    #[arg(long, env = "QUARANTINE_BUCKET", default_value = "vigil-quarantine")]
    pub quarantine_bucket: String,
}

impl Stores {
    /// The names of a provisioned set of resources.
    pub fn of(r: &vigil_local::provision::Resources) -> Self {
        Self {
            devices_table: r.devices_table.clone(),
            wearers_table: r.wearers_table.clone(),
            caregiver_links_table: r.caregiver_links_table.clone(),
            state_table: r.state_table.clone(),
            vitals_table: r.vitals_table.clone(),
            days_table: r.days_table.clone(),
            alerts_table: r.alerts_table.clone(),
            deliveries_table: r.deliveries_table.clone(),
            curated_files_table: r.curated_files_table.clone(),
            data_bucket: r.data_bucket.clone(),
            quarantine_bucket: r.quarantine_bucket.clone(),
        }
    }

    /// (store name in the receipt, table), in the order they are cleaned.
    fn tables(&self) -> [(&'static str, &str); 9] {
        [
            ("devices", &self.devices_table),
            ("wearers", &self.wearers_table),
            ("caregiver_links", &self.caregiver_links_table),
            ("rule_state", &self.state_table),
            ("vitals", &self.vitals_table),
            ("days", &self.days_table),
            ("alerts", &self.alerts_table),
            ("deliveries", &self.deliveries_table),
            ("curated_files", &self.curated_files_table),
        ]
    }
}

/// The retention of what erasure cannot reach, as deployed (docs/storage.md): the
/// receipt prints the date each copy is gone by itself.
#[derive(clap::Args, Debug, Clone)]
pub struct Retention {
    /// The stream's retention (the CDK app: 7 days).
    #[arg(long, default_value_t = 168)]
    pub stream_retention_hours: i64,
    /// DynamoDB point-in-time recovery window (AWS default and the CDK app: 35 days).
    #[arg(long, default_value_t = 35)]
    pub pitr_days: i64,
    /// AWS Backup daily copies of the tables (the CDK app's plan: 35 days).
    #[arg(long, default_value_t = 35)]
    pub backup_days: i64,
    /// The failure queues (on-failure destinations: pointers to stream records; 14 days).
    #[arg(long, default_value_t = 14)]
    pub failure_queue_days: i64,
}

/// What one store held of the wearer, and what was removed.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct StoreCount {
    /// Items, records or rows of the wearer found.
    pub found: u64,
    /// Of those, removed (0 in a dry run).
    pub removed: u64,
    /// Objects rewritten without the wearer's records (S3).
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_rewritten: u64,
    /// Objects deleted whole (S3).
    #[serde(skip_serializing_if = "is_zero")]
    pub objects_deleted: u64,
    /// Older versions deleted (versioned buckets).
    #[serde(skip_serializing_if = "is_zero")]
    pub old_versions_deleted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A copy erasure cannot reach now, and when it is gone by itself.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Residual {
    pub store: &'static str,
    pub gone_by: DateTime<Utc>,
    pub why: &'static str,
}

/// Something of the wearer still found by the verification.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Hit {
    pub store: &'static str,
    /// The object key or table name (never item contents).
    pub location: String,
    pub count: u64,
}

/// The receipt: no personal data (the wearer's id only as a SHA-256).
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub wearer_sha256: String,
    pub dry_run: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub bands: usize,
    pub alerts: usize,
    /// Per store: found and removed. Deliveries include escalation steps, which are
    /// also counted on their own.
    pub stores: BTreeMap<&'static str, StoreCount>,
    /// Not reached by this command (no warehouse URL): run `warehouse_statement` there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_not_reached: Option<String>,
    pub residual: Vec<Residual>,
    /// The verification's scan (skipped in a dry run).
    pub verified: Option<bool>,
    pub hits: Vec<Hit>,
}

/// Runs `vigil erase`.
///
/// # Errors
/// A store could not be read or changed, the pseudonym key is missing, or the
/// verification found something of the wearer left (listed in the receipt).
pub async fn run(sdk: &aws_config::SdkConfig, args: Args) -> anyhow::Result<()> {
    let key = vigil_aws::secrets::pseudonym_key(&vigil_lambda::ProcessEnv, || vigil_aws::sdk::secrets(sdk))
        .await
        .context("reading the pseudonym key (PSEUDONYM_KEY or PSEUDONYM_KEY_SECRET_ARN)")?;
    let pseudonymizer = Pseudonymizer::from_key_text(&key).context("the pseudonym key")?;
    let receipt = erase(sdk, &args, &pseudonymizer).await?;
    let text = serde_json::to_string_pretty(&receipt)?;
    println!("{text}");
    if let Some(path) = &args.receipt {
        std::fs::write(path, &text).with_context(|| format!("writing the receipt to {}", path.display()))?;
        eprintln!("receipt written to {}", path.display());
    }
    if receipt.verified == Some(false) {
        anyhow::bail!(
            "verification failed: {} places still hold the wearer's data (listed in the receipt)",
            receipt.hits.len()
        );
    }
    Ok(())
}

/// Erases (or, in a dry run, counts) the wearer everywhere, then verifies.
///
/// # Errors
/// A store could not be read or changed.
pub async fn erase(sdk: &aws_config::SdkConfig, args: &Args, pseudonymizer: &Pseudonymizer) -> anyhow::Result<Receipt> {
    use sha2::Digest as _;
    anyhow::ensure!(!args.wearer.trim().is_empty(), "--wearer: an empty wearer id");
    let started_at = Utc::now();
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    let s3 = vigil_aws::sdk::s3(sdk);
    let stores = &args.stores;
    let wearer_only = Needles::new([args.wearer.clone()]);

    eprintln!("finding the wearer's bands and alerts");
    let bands = attribute_of(&dynamodb, &stores.devices_table, &wearer_only, "device_id").await?;
    let alerts = attribute_of(&dynamodb, &stores.alerts_table, &wearer_only, "alert_id").await?;
    let pseudonym = pseudonymizer.wearer(&args.wearer);
    let needles = Needles::new(
        [args.wearer.clone(), pseudonym.as_str().to_owned()]
            .into_iter()
            .chain(bands.iter().cloned())
            .chain(alerts.iter().cloned()),
    );

    let mut counts: BTreeMap<&'static str, StoreCount> = BTreeMap::new();
    for (store, table) in stores.tables() {
        let bar = progress(format!("scanning {store}"));
        let found = erasure::scan_table(&dynamodb, table, &needles, |n| bar.set_position(n))
            .await
            .with_context(|| format!("scanning the {store} table"))?;
        bar.finish_and_clear();
        let removed = if args.dry_run {
            0
        } else {
            erasure::delete_items(&dynamodb, table, &found.keys)
                .await
                .with_context(|| format!("deleting from {store}"))?
        };
        if store == "deliveries" {
            let steps = found.keys.iter().filter(|k| is_escalation_step(k)).count() as u64;
            counts.insert(
                "escalation_steps",
                StoreCount { found: steps, removed: if args.dry_run { 0 } else { steps }, ..Default::default() },
            );
        }
        eprintln!(
            "{store}: {} items of {} ({})",
            found.keys.len(),
            found.scanned,
            if args.dry_run { "dry run" } else { "deleted" }
        );
        counts.insert(store, StoreCount { found: found.keys.len() as u64, removed, ..Default::default() });
    }

    let lake = clean_bucket(&s3, &dynamodb, stores, &stores.data_bucket, &needles, &pseudonym, args.dry_run).await?;
    counts.extend(lake);
    let quarantine =
        clean_bucket(&s3, &dynamodb, stores, &stores.quarantine_bucket, &needles, &pseudonym, args.dry_run).await?;
    counts.insert("quarantine", quarantine.into_values().fold(StoreCount::default(), add));

    let mut warehouse_not_reached = None;
    match Warehouse::of(sdk, args).await? {
        Some(mut warehouse) => {
            let found = warehouse.erasure(pseudonym.as_str(), false).await?;
            let removed = if args.dry_run { Vec::new() } else { warehouse.erasure(pseudonym.as_str(), true).await? };
            for (table, rows) in found {
                let gone = removed.iter().find(|(t, _)| *t == table).map_or(0, |(_, n)| *n);
                counts.insert(warehouse_store(table), StoreCount { found: rows, removed: gone, ..Default::default() });
            }
            eprintln!("warehouse: done");
        }
        None => {
            let statements: Vec<String> = vigil_warehouse::erasure::TABLES
                .iter()
                .map(|t| vigil_warehouse::erasure::delete_rows(vigil_warehouse::sql::Dialect::Redshift, t))
                .collect();
            warehouse_not_reached = Some(format!(
                "no --warehouse-url or --redshift-workgroup: run with parameter pseudonym = the wearer's pseudonym: {}",
                statements.join("; ")
            ));
        }
    }

    let finished_at = Utc::now();
    let (verified, hits) = if args.dry_run {
        (None, Vec::new())
    } else {
        eprintln!("verifying: every store scanned again");
        let hits = verify(sdk, args, &needles, &pseudonym).await?;
        (Some(hits.is_empty()), hits)
    };
    Ok(Receipt {
        wearer_sha256: hex::encode(sha2::Sha256::digest(args.wearer.as_bytes())),
        dry_run: args.dry_run,
        started_at,
        finished_at,
        bands: bands.len(),
        alerts: alerts.len(),
        stores: counts,
        warehouse_not_reached,
        residual: residual(&args.retention, finished_at),
        verified,
        hits,
    })
}

fn add(a: StoreCount, b: StoreCount) -> StoreCount {
    StoreCount {
        found: a.found + b.found,
        removed: a.removed + b.removed,
        objects_rewritten: a.objects_rewritten + b.objects_rewritten,
        objects_deleted: a.objects_deleted + b.objects_deleted,
        old_versions_deleted: a.old_versions_deleted + b.old_versions_deleted,
    }
}

fn warehouse_store(table: &str) -> &'static str {
    match table {
        "readings" => "warehouse_readings",
        "wearer_days" => "warehouse_days",
        _ => "warehouse_alerts",
    }
}

/// A delivery key of an escalation step: `<alert>#L<level>#R<round>#…`.
fn is_escalation_step(key: &HashMap<String, AttributeValue>) -> bool {
    key.get("delivery_key")
        .and_then(|v| v.as_s().ok())
        .is_some_and(|k| k.split('#').nth(1).is_some_and(|p| p.starts_with('L')))
}

/// The copies only time removes, and when (from `at`).
pub fn residual(r: &Retention, at: DateTime<Utc>) -> Vec<Residual> {
    vec![
        Residual {
            store: "stream",
            gone_by: at + Duration::hours(r.stream_retention_hours),
            why: "records already on the stream expire with its retention; they cannot be deleted one by one",
        },
        Residual {
            store: "failure_queues",
            gone_by: at + Duration::days(r.failure_queue_days),
            why: "on-failure messages point at stream records (no readings); they expire with the queue's retention",
        },
        Residual {
            store: "dynamodb_point_in_time_recovery",
            gone_by: at + Duration::days(r.pitr_days),
            why: "a table restored to a time before the erasure would hold the wearer again: erase again after any restore",
        },
        Residual {
            store: "aws_backup",
            gone_by: at + Duration::days(r.backup_days),
            why: "daily backups taken before the erasure expire with the backup plan's retention",
        },
    ]
}

/// `attribute` of every item of `table` mentioning `needles`, read back by key.
async fn attribute_of(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    needles: &Needles,
    attribute: &str,
) -> anyhow::Result<BTreeSet<String>> {
    let found =
        erasure::scan_table(client, table, needles, |_| {}).await.with_context(|| format!("scanning {table}"))?;
    Ok(found.keys.iter().filter_map(|k| k.get(attribute).and_then(|v| v.as_s().ok()).cloned()).collect())
}

fn progress(message: String) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg}: {pos} read, {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar
}

/// What one object becomes.
enum Outcome {
    Untouched,
    Rewrite { body: Vec<u8>, removed: u64, rows: u64 },
    Delete { removed: u64 },
}

/// Cleans every object of `bucket`: the raw archive record by record, curated Parquet
/// row by row (their registry entries follow), anything else (manifests, quarantine)
/// deleted whole when it mentions the wearer. Counts per store.
async fn clean_bucket(
    s3: &aws_sdk_s3::Client,
    dynamodb: &aws_sdk_dynamodb::Client,
    stores: &Stores,
    bucket: &str,
    needles: &Needles,
    pseudonym: &vigil_curated::Pseudonym,
    dry_run: bool,
) -> anyhow::Result<BTreeMap<&'static str, StoreCount>> {
    let objects = erasure::list_objects(s3, bucket, "").await.with_context(|| format!("listing {bucket}"))?;
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(objects.len() as u64), indicatif::ProgressDrawTarget::stderr());
    bar.set_message(format!("objects of {bucket}"));
    let mut counts: BTreeMap<&'static str, StoreCount> = BTreeMap::new();
    for object in &objects {
        bar.inc(1);
        let store = store_of(&object.key, bucket == stores.quarantine_bucket);
        let (body, content_type) = erasure::get_object(s3, bucket, &object.key).await?;
        let outcome = match store {
            "raw_archive" => raw_without(&body, needles).with_context(|| format!("reading {}", object.key))?,
            "curated" => {
                let f = vigil_curated::without_wearer(body, pseudonym)
                    .with_context(|| format!("reading {}", object.key))?;
                match f.body {
                    None => Outcome::Untouched,
                    Some(_) if f.kept == 0 => Outcome::Delete { removed: f.removed as u64 },
                    Some(body) => Outcome::Rewrite { body, removed: f.removed as u64, rows: f.kept as u64 },
                }
            }
            _ if needles.in_bytes(&body) => Outcome::Delete { removed: 1 },
            _ => Outcome::Untouched,
        };
        let count = counts.entry(store).or_default();
        match outcome {
            Outcome::Untouched => {}
            Outcome::Rewrite { body, removed, rows } => {
                count.found += removed;
                if !dry_run {
                    let size = body.len() as u64;
                    count.old_versions_deleted +=
                        erasure::replace_object(s3, bucket, &object.key, body, content_type.as_deref()).await?;
                    if store == "curated" {
                        erasure::update_registered_file(dynamodb, &stores.curated_files_table, &object.key, rows, size)
                            .await?;
                    }
                    count.removed += removed;
                }
                count.objects_rewritten += 1;
            }
            Outcome::Delete { removed } => {
                count.found += removed;
                if !dry_run {
                    count.old_versions_deleted += erasure::delete_object(s3, bucket, &object.key).await?;
                    if store == "curated" {
                        erasure::delete_items(dynamodb, &stores.curated_files_table, &[registry_key(&object.key)])
                            .await?;
                    }
                    count.removed += removed;
                }
                count.objects_deleted += 1;
            }
        }
    }
    bar.finish_and_clear();
    for (store, c) in &counts {
        eprintln!(
            "{store}: {} records of the wearer; {} objects rewritten, {} deleted{}",
            c.found,
            c.objects_rewritten,
            c.objects_deleted,
            if dry_run { " (dry run: nothing changed)" } else { "" }
        );
    }
    Ok(counts)
}

fn registry_key(file_key: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("file_key".to_owned(), AttributeValue::S(file_key.to_owned()))])
}

fn store_of(key: &str, quarantine: bool) -> &'static str {
    if quarantine {
        "quarantine"
    } else if key.starts_with("raw/") {
        "raw_archive"
    } else if key.starts_with("curated/") && key.ends_with(".parquet") {
        "curated"
    } else {
        "other_objects"
    }
}

/// A raw archive object without the records that mention the wearer: the other lines
/// kept byte for byte, gzip as raw-archiver writes it.
fn raw_without(body: &[u8], needles: &Needles) -> anyhow::Result<Outcome> {
    let text = super::archive::gunzip(body).context("not gzip")?;
    let mut kept = Vec::with_capacity(text.len());
    let (mut removed, mut rows) = (0u64, 0u64);
    for line in text.split_inclusive(|b| *b == b'\n') {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        if content.is_empty() {
            continue;
        }
        if needles.in_bytes(content) {
            removed += 1;
        } else {
            kept.extend_from_slice(line);
            rows += 1;
        }
    }
    if removed == 0 {
        return Ok(Outcome::Untouched);
    }
    if rows == 0 {
        return Ok(Outcome::Delete { removed });
    }
    let mut gz = raw_archiver::raw::gzip_encoder();
    gz.write_all(&kept)?;
    Ok(Outcome::Rewrite { body: gz.finish()?, removed, rows })
}

/// Scans every store again for the wearer's identifiers; what is found is listed.
///
/// # Errors
/// A store could not be read.
pub async fn verify(
    sdk: &aws_config::SdkConfig,
    args: &Args,
    needles: &Needles,
    pseudonym: &vigil_curated::Pseudonym,
) -> anyhow::Result<Vec<Hit>> {
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    let s3 = vigil_aws::sdk::s3(sdk);
    let stores = &args.stores;
    let mut hits = Vec::new();
    for (store, table) in stores.tables() {
        let found = erasure::scan_table(&dynamodb, table, needles, |_| {}).await?;
        if !found.keys.is_empty() {
            hits.push(Hit { store, location: table.to_owned(), count: found.keys.len() as u64 });
        }
    }
    for bucket in [&stores.data_bucket, &stores.quarantine_bucket] {
        let quarantine = bucket == &stores.quarantine_bucket;
        for object in erasure::list_objects(&s3, bucket, "").await? {
            let store = store_of(&object.key, quarantine);
            let (body, _) = erasure::get_object(&s3, bucket, &object.key).await?;
            let count = match store {
                "raw_archive" => match raw_without(&body, needles)? {
                    Outcome::Untouched => 0,
                    Outcome::Rewrite { removed, .. } | Outcome::Delete { removed } => removed,
                },
                "curated" => vigil_curated::wearer_rows(body, pseudonym)? as u64,
                _ => u64::from(needles.in_bytes(&body)),
            };
            if count > 0 {
                hits.push(Hit { store, location: format!("s3://{bucket}/{}", object.key), count });
            }
        }
        // Older versions could hold anything: on a versioned bucket none may be left
        // of a key that held the wearer's data, and no delete marker may hide one.
        {
            for v in erasure::versions(&s3, bucket, "").await? {
                if v.delete_marker || !v.latest {
                    let body = if v.delete_marker {
                        None
                    } else {
                        s3.get_object().bucket(bucket).key(&v.key).version_id(&v.version_id).send().await.ok()
                    };
                    let mentions = match body {
                        None => true,
                        Some(out) => {
                            let bytes = out.body.collect().await.map(|b| b.into_bytes().to_vec()).unwrap_or_default();
                            old_version_mentions(&v.key, &bytes, needles, pseudonym)
                        }
                    };
                    if mentions {
                        hits.push(Hit {
                            store: "old_versions",
                            location: format!("s3://{bucket}/{}", v.key),
                            count: 1,
                        });
                    }
                }
            }
        }
    }
    if let Some(mut warehouse) = Warehouse::of(sdk, args).await? {
        for (table, rows) in warehouse.erasure(pseudonym.as_str(), false).await? {
            if rows > 0 {
                hits.push(Hit { store: warehouse_store(table), location: table.to_owned(), count: rows });
            }
        }
    }
    Ok(hits)
}

/// An older version's body mentions the wearer (checked as its current form would be).
fn old_version_mentions(key: &str, body: &[u8], needles: &Needles, pseudonym: &vigil_curated::Pseudonym) -> bool {
    if key.ends_with(".ndjson.gz") {
        return raw_without(body, needles).map_or(true, |o| !matches!(o, Outcome::Untouched));
    }
    if key.ends_with(".parquet") {
        return vigil_curated::wearer_rows(body.to_vec(), pseudonym).map_or(true, |n| n > 0);
    }
    needles.in_bytes(body)
}

/// The warehouse the command reaches: PostgreSQL (local runs) or Redshift (AWS).
enum Warehouse {
    Postgres(tokio_postgres::Client),
    Redshift(vigil_warehouse::aws::RedshiftWarehouse<()>),
}

impl Warehouse {
    async fn of(sdk: &aws_config::SdkConfig, args: &Args) -> anyhow::Result<Option<Self>> {
        if let Some(url) = &args.warehouse_url {
            return Ok(Some(Self::Postgres(connect(url).await?)));
        }
        let (Some(workgroup), Some(database)) = (&args.redshift_workgroup, &args.redshift_database) else {
            return Ok(None);
        };
        // Only the Data API's part of the loader's configuration is used here.
        let config = vigil_warehouse::aws::RedshiftConfig {
            workgroup: workgroup.clone(),
            database: database.clone(),
            secret_arn: args.redshift_secret_arn.clone(),
            copy_role_arn: String::new(),
            data_bucket: args.stores.data_bucket.clone(),
            manifest_prefix: String::new(),
            first_poll: std::time::Duration::from_millis(250),
            max_poll: std::time::Duration::from_secs(5),
        };
        let client = aws_sdk_redshiftdata::Client::new(sdk);
        Ok(Some(Self::Redshift(vigil_warehouse::aws::RedshiftWarehouse::new(client, (), config))))
    }

    /// Each fact table's rows of `pseudonym`: counted, or deleted in one transaction.
    async fn erasure(&mut self, pseudonym: &str, delete: bool) -> anyhow::Result<vigil_warehouse::erasure::Counts> {
        Ok(match self {
            Self::Postgres(client) if delete => vigil_warehouse::erasure::erase(client, pseudonym).await?,
            Self::Postgres(client) => vigil_warehouse::erasure::count(client, pseudonym).await?,
            Self::Redshift(redshift) => redshift.erasure(pseudonym, delete).await?,
        })
    }
}

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.context("connecting to the warehouse")?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "warehouse connection ended with an error");
        }
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    fn gz(text: &str) -> Vec<u8> {
        let mut gz = raw_archiver::raw::gzip_encoder();
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn a_raw_object_loses_only_the_wearers_lines_byte_for_byte() {
        let a = r#"{"shard_id":"s","data":{"wearer_id":"w-1","device_id":"band-1"}}"#;
        let b = r#"{"shard_id":"s","data":{"wearer_id":"w-10","device_id":"band-10"}}"#;
        let needles = Needles::new(["w-1", "band-1"]);
        let Outcome::Rewrite { body, removed, rows } = raw_without(&gz(&format!("{a}\n{b}\n")), &needles).unwrap()
        else {
            panic!("expected a rewrite")
        };
        assert_eq!((removed, rows), (1, 1));
        assert_eq!(body, gz(&format!("{b}\n")));
        assert!(matches!(raw_without(&gz(&format!("{b}\n")), &needles).unwrap(), Outcome::Untouched));
        assert!(matches!(raw_without(&gz(&format!("{a}\n")), &needles).unwrap(), Outcome::Delete { removed: 1 }));
    }

    #[test]
    fn the_residual_dates_follow_the_retention() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let r = Retention { stream_retention_hours: 168, pitr_days: 35, backup_days: 35, failure_queue_days: 14 };
        let dates: Vec<String> = residual(&r, at).iter().map(|x| x.gone_by.date_naive().to_string()).collect();
        assert_eq!(dates, ["2026-12-08", "2026-12-15", "2027-01-05", "2027-01-05"]);
    }
}
