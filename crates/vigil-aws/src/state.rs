//! Per-wearer rule state on DynamoDB: [`StateStore`] with optimistic concurrency.
//!
//! Item layout (table keyed by `wearer_id` S):
//! - `version` N — the stored version; a write succeeds only if it is still the
//!   version the writer loaded (or, for version 0, if there is no item), and
//!   stores version + 1;
//! - `state` M — the whole [`WearerState`] through serde_dynamo (personal data:
//!   the last location; the table is encrypted);
//! - `last_seen` S (fixed-width RFC 3339 UTC, see [`crate::dynamo`]) and
//!   `pending_falls` BOOL — top-level copies for operators and tools;
//! - `check_shard` S ([`check_shard`]) and `check_at` S ([`WearerState::next_check`])
//!   while the offline detector has something to look at for this wearer: they key
//!   the sparse [`CHECK_INDEX`], so [`due_for_check`] is a Query per shard on what is
//!   due, never a Scan. Absent (the item leaves the index) when only a new reading
//!   can change anything: a silence already alerted, no pending fall.
//!
//! [`due_for_check`]: StateStore::due_for_check
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use vigil_domain::alerts::WearerState;
use vigil_domain::ports::{StateStore, StoreError};

use crate::dynamo::{is_conditional_check_failed, malformed, store_error, timestamp};

/// The sparse index of wearers the offline detector must look at: `check_shard`
/// (hash) and `check_at` (range), keys only.
pub const CHECK_INDEX: &str = "check_shard-check_at-index";

/// How many partitions [`CHECK_INDEX`] is spread over. `check_at` moves on every
/// state write that advances `last_seen` (two index writes: the old entry out, the
/// new one in), and one partition takes about 1,000 writes a second: 100,000
/// wearers uploading every minute make ~3,300 a second. Sixteen shards leave
/// room for bursts; the detector pays 16 small Queries a run for it.
pub const CHECK_SHARDS: u32 = 16;

/// The [`CHECK_INDEX`] partition of a wearer: `c00` … `c15`, from a stable hash of
/// the id (FNV-1a), so a wearer stays in one shard. Any shard would be found (the
/// detector queries them all); a stable one spreads the writes evenly.
pub fn check_shard(wearer_id: &str) -> String {
    let hash = wearer_id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    shard_name(hash % CHECK_SHARDS)
}

/// Every [`CHECK_INDEX`] partition, as the detector queries them.
pub fn check_shards() -> impl Iterator<Item = String> {
    (0..CHECK_SHARDS).map(shard_name)
}

fn shard_name(n: u32) -> String {
    format!("c{n:02}")
}

#[derive(Debug, Clone)]
pub struct DynamoStateStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    /// `expires_at` (the table's TTL) is the last reading plus this (`STATE_TTL_DAYS`):
    /// every save moves it on, so state outlives an active wearer's silence only.
    retention: vigil_domain::retention::Retention,
}

impl DynamoStateStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        let retention = vigil_domain::retention::Retention::days(vigil_domain::retention::DEFAULT_STATE_DAYS);
        Self { client, table: table.into(), retention }
    }

    /// Replaces the default retention (`STATE_TTL_DAYS`).
    pub fn with_retention(mut self, retention: vigil_domain::retention::Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The wearers whose state item is not in [`CHECK_INDEX`] (a filtered Scan of the
    /// keys): items saved before the index existed, and those with nothing to check.
    pub async fn unindexed(&self) -> Result<Vec<String>, StoreError> {
        let mut items = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("attribute_not_exists(check_shard)")
            .projection_expression("wearer_id")
            .into_paginator()
            .items()
            .send();
        let mut wearers = Vec::new();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| store_error("Scan", &self.table, e))?;
            let id = item.get("wearer_id").and_then(|v| v.as_s().ok());
            wearers.push(id.cloned().ok_or_else(|| malformed("Scan", &self.table, "wearer_id"))?);
        }
        Ok(wearers)
    }

    /// Puts a wearer's item into [`CHECK_INDEX`], due at `at`, unless it is there
    /// already (then a save has placed it since) or gone; true if it was put. The
    /// detector's check of that wearer then saves the state with its own `check_at`.
    pub async fn index_at(&self, wearer_id: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("wearer_id", AttributeValue::S(wearer_id.to_owned()))
            .update_expression("SET check_shard = :shard, check_at = :at")
            .condition_expression("attribute_exists(wearer_id) AND attribute_not_exists(check_shard)")
            .expression_attribute_values(":shard", AttributeValue::S(check_shard(wearer_id)))
            .expression_attribute_values(":at", AttributeValue::S(timestamp(at)))
            .send()
            .await;
        match update {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_check_failed(&e) => Ok(false),
            Err(e) => Err(store_error("UpdateItem", &self.table, e)),
        }
    }
}

impl StateStore for DynamoStateStore {
    async fn load(&self, wearer_id: &str) -> Result<Option<WearerState>, StoreError> {
        // Consistent: a stale read would only lose the conditional write and loop.
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("wearer_id", AttributeValue::S(wearer_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?;
        let Some(mut item) = out.item else { return Ok(None) };
        let version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| malformed("GetItem", &self.table, "version"))?;
        let Some(AttributeValue::M(state)) = item.remove("state") else {
            return Err(malformed("GetItem", &self.table, "state"));
        };
        let mut state: WearerState =
            serde_dynamo::from_item(state).map_err(|_| malformed("GetItem", &self.table, "state"))?;
        // The top-level version is the one conditions check; it wins.
        state.version = version;
        Ok(Some(state))
    }

    async fn save(&self, state: &WearerState) -> Result<bool, StoreError> {
        let next = WearerState { version: state.version + 1, ..state.clone() };
        let body: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&next).map_err(|_| malformed("PutItem", &self.table, "state"))?;
        let mut item = HashMap::from([
            ("wearer_id".to_owned(), AttributeValue::S(state.wearer_id.clone())),
            ("version".to_owned(), AttributeValue::N(next.version.to_string())),
            ("pending_falls".to_owned(), AttributeValue::Bool(!state.pending_falls.is_empty())),
            ("state".to_owned(), AttributeValue::M(body)),
        ]);
        if let Some(seen) = state.last_seen {
            item.insert("last_seen".to_owned(), AttributeValue::S(timestamp(seen)));
            let expires = self.retention.expires_at(seen).to_string();
            item.insert(vigil_domain::retention::EXPIRES_AT.to_owned(), AttributeValue::N(expires));
        }
        // A put replaces the item: without `next_check` it leaves the index.
        if let Some(due) = state.next_check {
            item.insert("check_shard".to_owned(), AttributeValue::S(check_shard(&state.wearer_id)));
            item.insert("check_at".to_owned(), AttributeValue::S(timestamp(due)));
        }
        let mut put = self.client.put_item().table_name(&self.table).set_item(Some(item));
        put = if state.version == 0 {
            put.condition_expression("attribute_not_exists(wearer_id)")
        } else {
            put.condition_expression("#v = :expected")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":expected", AttributeValue::N(state.version.to_string()))
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_check_failed(&e) => Ok(false),
            Err(e) => Err(store_error("PutItem", &self.table, e)),
        }
    }

    /// One Query per [`CHECK_INDEX`] shard, all at once: the wearers whose
    /// `check_at` is at or before `now`, however long ago (a run that was skipped
    /// or cut short leaves them there, so the next run catches up). Items read are
    /// the wearers due, not the table. The index is eventually consistent: a wearer
    /// written a moment ago may be found by the next run instead, or found once more
    /// (the check reads its state consistently and acts only if it is due).
    async fn due_for_check(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut shards = tokio::task::JoinSet::new();
        for shard in check_shards() {
            let (client, table) = (self.client.clone(), self.table.clone());
            shards.spawn(async move { due_in_shard(&client, &table, shard, now).await });
        }
        let mut wearers = Vec::new();
        while let Some(joined) = shards.join_next().await {
            match joined {
                Ok(found) => wearers.extend(found?),
                Err(join) => {
                    let source: vigil_domain::ports::BoxError = join.into();
                    return Err(StoreError {
                        operation: "Query",
                        resource: self.table.clone(),
                        retryable: true,
                        source,
                    });
                }
            }
        }
        wearers.sort_unstable();
        Ok(wearers)
    }
}

async fn due_in_shard(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    shard: String,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut wearers = Vec::new();
    let mut items = client
        .query()
        .table_name(table)
        .index_name(CHECK_INDEX)
        .key_condition_expression("check_shard = :shard AND check_at <= :now")
        .expression_attribute_values(":shard", AttributeValue::S(shard))
        .expression_attribute_values(":now", AttributeValue::S(timestamp(now)))
        .into_paginator()
        .items()
        .send();
    while let Some(item) = items.next().await {
        let item = item.map_err(|e| store_error("Query", table, e))?;
        let id = item.get("wearer_id").and_then(|v| v.as_s().ok());
        wearers.push(id.cloned().ok_or_else(|| malformed("Query", table, "wearer_id"))?);
    }
    Ok(wearers)
}
