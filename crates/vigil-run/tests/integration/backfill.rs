//! `vigil backfill-check-index` on the local endpoint: the state items the detector's
//! index does not hold go into it, due now, once; items it holds are left alone.

use chrono::{Duration, Utc};
use vigil_aws::state::DynamoStateStore;
use vigil_domain::alerts::WearerState;
use vigil_domain::ports::StateStore;
use vigil_local::provision::Resources;
use vigil_run::ops::backfill::{Report, backfill};

#[tokio::test]
async fn every_unindexed_wearer_is_due_once_and_the_indexed_ones_keep_their_time() {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources { stream_shards: 1, ..Resources::unique("backfill") };
    vigil_local::provision::provision(&sdk, &resources).await.unwrap();
    let store = DynamoStateStore::new(vigil_aws::sdk::dynamodb(&sdk), &resources.state_table);
    let now = Utc::now();
    let state = |id: &str, next_check| WearerState { next_check, ..WearerState::new(id) };
    // Indexed, due in ten minutes; saved before the index existed (no check_at, as
    // every item was then); its silence already alerted (nothing to check).
    let later = now + Duration::minutes(10);
    store.save(&state("w-indexed", Some(later))).await.unwrap();
    store.save(&state("w-before-the-index", None)).await.unwrap();
    store.save(&state("w-alerted", None)).await.unwrap();
    assert!(store.due_for_check(later).await.unwrap() == ["w-indexed"]);

    let dry = backfill(&store, true).await.unwrap();
    assert_eq!(dry, Report { unindexed: 2, indexed: 0 });
    assert!(store.due_for_check(now + Duration::seconds(5)).await.unwrap().is_empty(), "a dry run changes nothing");

    assert_eq!(backfill(&store, false).await.unwrap(), Report { unindexed: 2, indexed: 2 });
    assert_eq!(
        store.due_for_check(Utc::now()).await.unwrap(),
        ["w-alerted", "w-before-the-index"],
        "due now; the indexed wearer keeps its own time"
    );
    assert_eq!(store.due_for_check(later).await.unwrap().len(), 3);
    // The state itself is untouched: the detector's check loads it as it was.
    let loaded = store.load("w-before-the-index").await.unwrap().unwrap();
    assert_eq!(loaded, WearerState { version: 1, ..state("w-before-the-index", None) });

    assert_eq!(backfill(&store, false).await.unwrap(), Report { unindexed: 0, indexed: 0 }, "once is enough");
}
