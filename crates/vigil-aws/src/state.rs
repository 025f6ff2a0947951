//! Per-wearer rule state on DynamoDB: [`StateStore`] with optimistic concurrency.
//!
//! Item layout (table keyed by `wearer_id` S):
//! - `version` N — the stored version; a write succeeds only if it is still the
//!   version the writer loaded (or, for version 0, if there is no item), and
//!   stores version + 1;
//! - `state` M — the whole [`WearerState`] through serde_dynamo (personal data:
//!   the last location; the table is encrypted);
//! - `last_seen` S (fixed-width RFC 3339 UTC, see [`crate::dynamo`]) and
//!   `pending_falls` BOOL — copies kept top-level so the offline detector can
//!   filter on them without reading the state.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use vigil_domain::alerts::WearerState;
use vigil_domain::ports::{StateStore, StoreError};

use crate::dynamo::{is_conditional_check_failed, malformed, store_error, timestamp};

#[derive(Debug, Clone)]
pub struct DynamoStateStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStateStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
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

    /// A Scan of the whole table with a filter: every item is read (and paid
    /// for) on every run. Fine for thousands of wearers every few minutes; at
    /// large scale this becomes a query on a GSI keyed by a time bucket of
    /// `last_seen` (plus a sparse index on pending falls).
    async fn needing_check(&self, cutoff: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        let mut wearers = Vec::new();
        let mut items = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("last_seen < :cutoff OR pending_falls = :true")
            .expression_attribute_values(":cutoff", AttributeValue::S(timestamp(cutoff)))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .projection_expression("wearer_id")
            .into_paginator()
            .items()
            .send();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| store_error("Scan", &self.table, e))?;
            let id = item.get("wearer_id").and_then(|v| v.as_s().ok());
            wearers.push(id.cloned().ok_or_else(|| malformed("Scan", &self.table, "wearer_id"))?);
        }
        Ok(wearers)
    }
}
