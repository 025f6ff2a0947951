//! Wearer profiles on DynamoDB: [`WearerDirectory`] with GetItem.
//!
//! Item layout (table keyed by `wearer_id` S): the [`WearerProfile`] as
//! attributes, through serde_dynamo — `name` S, `time_zone` S, `thresholds` M,
//! `caregivers` L of M (`id`, `language`, `phone`, `push_endpoint`,
//! `quiet_hours`, `sub`, `name`), `snoozes` M (rule → `until`, `by`). Personal
//! data: the table is encrypted and nothing read from it is logged.
//!
//! The caregiver links table (keyed `caregiver_sub` S, `wearer_id` S) lists the
//! wearers of a caregiver's account without a Scan; the profile stays the
//! authority ([`DynamoCaregiverLinks`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use vigil_domain::alerts::RuleKind;
use vigil_domain::care::{Snooze, WearerProfile};
use vigil_domain::ports::{StoreError, WearerDirectory};
use vigil_domain::registry::validate_wearer;

use crate::dynamo::{is_conditional_check_failed, malformed, store_error};
use crate::registry::WriteError;

/// Reads (and, for the CLI and tests, writes) wearer profiles.
#[derive(Debug, Clone)]
pub struct DynamoWearerDirectory {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoWearerDirectory {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Registers or replaces a wearer's profile, after [`validate_wearer`]: a
    /// profile that does not validate is refused with every problem.
    pub async fn put(&self, profile: &WearerProfile) -> Result<(), WriteError> {
        validate_wearer(profile)?;
        let item = serde_dynamo::to_item(profile).map_err(|_| malformed("PutItem", &self.table, "profile"))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_error("PutItem", &self.table, e))?;
        Ok(())
    }

    /// Every wearer's profile, through the Scan paginator (an operator's listing).
    pub async fn list(&self) -> Result<Vec<WearerProfile>, StoreError> {
        let mut pages = self.client.scan().table_name(&self.table).into_paginator().items().send();
        let mut out: Vec<WearerProfile> = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| store_error("Scan", &self.table, e))?;
            out.push(serde_dynamo::from_item(item).map_err(|_| malformed("Scan", &self.table, "profile"))?);
        }
        out.sort_by(|a, b| a.wearer_id.cmp(&b.wearer_id));
        Ok(out)
    }

    /// Deletes a wearer's profile, returning it (`None` if there was none) so the
    /// caller can unlink its caregivers' accounts.
    pub async fn delete(&self, wearer_id: &str) -> Result<Option<WearerProfile>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("wearer_id", AttributeValue::S(wearer_id.to_owned()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", &self.table, e))?;
        out.attributes
            .filter(|a| !a.is_empty())
            .map(|item| serde_dynamo::from_item(item).map_err(|_| malformed("DeleteItem", &self.table, "profile")))
            .transpose()
    }
}

impl DynamoWearerDirectory {
    /// Sets the snooze of `rule` in the profile, leaving other rules' snoozes
    /// alone (two caregivers snoozing two rules at once both stand); `Ok(false)`
    /// if there is no such profile (a snooze never creates one).
    pub async fn snooze(&self, wearer_id: &str, rule: RuleKind, snooze: &Snooze) -> Result<bool, StoreError> {
        let value: AttributeValue =
            serde_dynamo::to_attribute_value(snooze).map_err(|_| malformed("UpdateItem", &self.table, "snooze"))?;
        let key = AttributeValue::S(wearer_id.to_owned());
        // The map may not exist yet; a nested SET needs it, so the first snooze creates it whole.
        for first in [false, true] {
            let update = self.client.update_item().table_name(&self.table).key("wearer_id", key.clone());
            let update = if first {
                let map = AttributeValue::M(HashMap::from([(rule.as_str().to_owned(), value.clone())]));
                update
                    .update_expression("SET snoozes = :map")
                    .condition_expression("attribute_exists(wearer_id) AND attribute_not_exists(snoozes)")
                    .expression_attribute_values(":map", map)
            } else {
                update
                    .update_expression("SET snoozes.#r = :s")
                    .condition_expression("attribute_exists(wearer_id) AND attribute_exists(snoozes)")
                    .expression_attribute_names("#r", rule.as_str())
                    .expression_attribute_values(":s", value.clone())
            };
            match update.send().await {
                Ok(_) => return Ok(true),
                Err(e) if is_conditional_check_failed(&e) => continue,
                Err(e) => return Err(store_error("UpdateItem", &self.table, e)),
            }
        }
        // Neither condition held: no profile (or the map appeared between the two calls: rare, the client retries).
        Ok(self.wearer(wearer_id).await?.is_some_and(|p| p.snoozes.get(&rule) == Some(snooze)))
    }
}

/// Caregiver account → wearers, the table [`crate::wearers`] describes.
#[derive(Debug, Clone)]
pub struct DynamoCaregiverLinks {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoCaregiverLinks {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Links every caregiver of `profile` that has an account to the wearer.
    pub async fn link(&self, profile: &WearerProfile) -> Result<usize, StoreError> {
        let mut linked = 0;
        for sub in profile.caregivers.iter().filter_map(|c| c.sub.as_deref()).filter(|s| !s.is_empty()) {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("caregiver_sub", AttributeValue::S(sub.to_owned()))
                .item("wearer_id", AttributeValue::S(profile.wearer_id.clone()))
                .send()
                .await
                .map_err(|e| store_error("PutItem", &self.table, e))?;
            linked += 1;
        }
        Ok(linked)
    }

    /// Makes the links of the wearer's caregivers' accounts match `new` (a wearer's
    /// profile just written, or `None` when it was deleted), given the profile it
    /// replaced: links the accounts of `new`, and removes those of `old` that are
    /// no longer there. Returns (linked, unlinked).
    pub async fn relink(
        &self,
        old: Option<&WearerProfile>,
        new: Option<&WearerProfile>,
    ) -> Result<(usize, usize), StoreError> {
        let linked = match new {
            Some(profile) => self.link(profile).await?,
            None => 0,
        };
        let mut unlinked = 0;
        if let Some(old) = old {
            let kept =
                |sub: &str| new.is_some_and(|n| n.wearer_id == old.wearer_id && n.caregiver_by_sub(sub).is_some());
            for sub in old.caregivers.iter().filter_map(|c| c.sub.as_deref()).filter(|s| !s.is_empty() && !kept(s)) {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .key("caregiver_sub", AttributeValue::S(sub.to_owned()))
                    .key("wearer_id", AttributeValue::S(old.wearer_id.clone()))
                    .send()
                    .await
                    .map_err(|e| store_error("DeleteItem", &self.table, e))?;
                unlinked += 1;
            }
        }
        Ok((linked, unlinked))
    }

    /// The wearers linked to the account `sub`.
    pub async fn wearers_of(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("caregiver_sub = :s")
            .expression_attribute_values(":s", AttributeValue::S(sub.to_owned()))
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| store_error("Query", &self.table, e))?;
            let id = item
                .get("wearer_id")
                .and_then(|v| v.as_s().ok())
                .ok_or_else(|| malformed("Query", &self.table, "wearer_id"))?;
            out.push(id.clone());
        }
        Ok(out)
    }
}

impl WearerDirectory for DynamoWearerDirectory {
    async fn wearer(&self, wearer_id: &str) -> Result<Option<WearerProfile>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("wearer_id", AttributeValue::S(wearer_id.to_owned()))
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?;
        out.item
            .map(|item| serde_dynamo::from_item(item).map_err(|_| malformed("GetItem", &self.table, "profile")))
            .transpose()
    }
}
