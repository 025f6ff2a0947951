//! `vigil backfill-check-index`: once, after deploying the version whose detector
//! finds wearers through the state table's `check_shard-check_at-index` instead of a
//! Scan. State items saved before it have no `check_at`, so the detector would never
//! look at a wearer who fell silent before the deploy. This puts every item that is
//! not in the index into it, due now: the detector's next runs check each of them
//! once and save it with its own `check_at` (or out of the index, when only a new
//! reading can change anything). Running it again only costs those checks.

use chrono::Utc;
use futures_util::StreamExt as _;
use vigil_aws::state::DynamoStateStore;

/// Updates in flight at once: well within on-demand write capacity.
const CONCURRENCY: usize = 16;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The state table.
    #[arg(long, env = "STATE_TABLE", default_value = "vigil-state")]
    pub state_table: String,
    /// List how many items would be indexed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// What a backfill found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Items not in the index when the scan ran.
    pub unindexed: usize,
    /// Of those, put into the index by this run (the rest were saved meanwhile, or gone).
    pub indexed: usize,
}

/// Runs the backfill against the table in `args`.
///
/// # Errors
/// The table could not be scanned or an item could not be updated.
pub async fn backfill(store: &DynamoStateStore, dry_run: bool) -> anyhow::Result<Report> {
    let wearers = store.unindexed().await?;
    let mut report = Report { unindexed: wearers.len(), indexed: 0 };
    if dry_run || wearers.is_empty() {
        return Ok(report);
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(wearers.len() as u64), indicatif::ProgressDrawTarget::stderr());
    let now = Utc::now();
    let mut updates =
        futures_util::stream::iter(wearers.iter().map(|w| store.index_at(w, now))).buffer_unordered(CONCURRENCY);
    while let Some(put) = updates.next().await {
        report.indexed += usize::from(put?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(report)
}

/// `vigil backfill-check-index`: prints the report as JSON.
///
/// # Errors
/// As [`backfill`].
pub async fn run(sdk: &aws_config::SdkConfig, args: Args) -> anyhow::Result<()> {
    let store = DynamoStateStore::new(vigil_aws::sdk::dynamodb(sdk), &args.state_table);
    let report = backfill(&store, args.dry_run).await?;
    println!("{}", serde_json::json!({ "dry_run": args.dry_run, "report": report }));
    Ok(())
}
