//! Caregivers as records of their own: [`DynamoCaregiverDirectory`].
//!
//! Item layout (table keyed by `caregiver_id` S): a [`Caregiver`] through
//! serde_dynamo without its `id` (the key) and its `level` (a fact of the link to
//! one wearer, kept in the wearer's item, see [`crate::wearers`]): `sub` S,
//! `name` S, `language` S, `phone` S, `push_endpoint` S, `quiet_hours` M. A
//! caregiver who looks after two wearers has one record, so a changed number is
//! changed once. Records never expire. Personal data: the table is encrypted and
//! nothing read from it is logged.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use tokio::time::Instant;
use vigil_domain::care::Caregiver;
use vigil_domain::ports::StoreError;
use vigil_domain::registry::validate_caregiver;

use crate::dynamo::{malformed, store_error};
use crate::registry::WriteError;
use crate::retry::{Backoff, resend_failed};

/// The key attribute of the caregivers table.
pub const CAREGIVER_ID: &str = "caregiver_id";

/// BatchGetItem reads at most this many keys per call.
const BATCH_GET_MAX: usize = 100;

/// How long one read keeps asking again for keys DynamoDB left unprocessed.
const BATCH_GET_BUDGET: Duration = Duration::from_secs(2);

/// Caregiver records: read in one BatchGetItem per wearer read, written by the
/// `vigil caregivers` commands (and [`crate::wearers::DynamoWearerDirectory::put`]).
#[derive(Debug, Clone)]
pub struct DynamoCaregiverDirectory {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoCaregiverDirectory {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates or replaces a caregiver's record, after [`validate_caregiver`]: a
    /// record that does not validate is refused with every problem. `level` is not
    /// stored (it belongs to each link).
    pub async fn put(&self, caregiver: &Caregiver) -> Result<(), WriteError> {
        validate_caregiver(caregiver)?;
        let item = to_item(caregiver).map_err(|_| malformed("PutItem", &self.table, "caregiver"))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_error("PutItem", &self.table, e))?;
        Ok(())
    }

    /// One caregiver's record (level 1), if there is one.
    pub async fn caregiver(&self, id: &str) -> Result<Option<Caregiver>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(CAREGIVER_ID, AttributeValue::S(id.to_owned()))
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?;
        out.item.map(|item| from_item(&self.table, "GetItem", item)).transpose()
    }

    /// The records of `ids` that exist, by id, read with BatchGetItem (100 keys a
    /// call), asking again for what DynamoDB leaves unprocessed. Unprocessed keys
    /// still left after a short budget are an error (retryable), never "no record".
    pub async fn caregivers(&self, ids: &[&str]) -> Result<HashMap<String, Caregiver>, StoreError> {
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        let unique: Vec<&str> = unique.into_iter().collect();
        let found = Mutex::new(HashMap::new());
        for chunk in unique.chunks(BATCH_GET_MAX) {
            let keys: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|id| HashMap::from([(CAREGIVER_ID.to_owned(), AttributeValue::S((*id).to_owned()))]))
                .collect();
            let deadline = Instant::now() + BATCH_GET_BUDGET;
            let found = &found;
            let left = resend_failed(&self.table, &Backoff::default(), deadline, keys, |keys| async move {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .build()
                    .map_err(|_| malformed("BatchGetItem", &self.table, "keys"))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| store_error("BatchGetItem", &self.table, e))?;
                for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                    let caregiver = from_item(&self.table, "BatchGetItem", item)?;
                    found
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(caregiver.id.clone(), caregiver);
                }
                let unprocessed = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table));
                Ok::<_, StoreError>(unprocessed.map(|k| k.keys).unwrap_or_default())
            })
            .await?;
            if !left.unwritten.is_empty() {
                return Err(StoreError {
                    operation: "BatchGetItem",
                    resource: self.table.clone(),
                    retryable: true,
                    source: format!("{} keys still unprocessed", left.unwritten.len()).into(),
                });
            }
        }
        Ok(found.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Every caregiver's record, through the Scan paginator (an operator's listing).
    pub async fn list(&self) -> Result<Vec<Caregiver>, StoreError> {
        let mut pages = self.client.scan().table_name(&self.table).into_paginator().items().send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| store_error("Scan", &self.table, e))?;
            out.push(from_item(&self.table, "Scan", item)?);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Deletes a caregiver's record, returning it (`None` if there was none).
    pub async fn delete(&self, id: &str) -> Result<Option<Caregiver>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(CAREGIVER_ID, AttributeValue::S(id.to_owned()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", &self.table, e))?;
        out.attributes.filter(|a| !a.is_empty()).map(|item| from_item(&self.table, "DeleteItem", item)).transpose()
    }
}

/// The stored form of a caregiver's record (see the module docs).
pub fn to_item(caregiver: &Caregiver) -> Result<HashMap<String, AttributeValue>, serde_dynamo::Error> {
    let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(caregiver)?;
    item.remove("id");
    item.remove("level");
    item.insert(CAREGIVER_ID.to_owned(), AttributeValue::S(caregiver.id.clone()));
    Ok(item)
}

fn from_item(
    table: &str,
    operation: &'static str,
    mut item: HashMap<String, AttributeValue>,
) -> Result<Caregiver, StoreError> {
    let id = item.remove(CAREGIVER_ID).ok_or_else(|| malformed(operation, table, CAREGIVER_ID))?;
    item.insert("id".to_owned(), id);
    item.remove("level");
    serde_dynamo::from_item(item).map_err(|_| malformed(operation, table, "caregiver"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use vigil_domain::alerts::Language;

    const TABLE: &str = "caregivers";

    fn record(id: &str, phone: &str) -> HashMap<String, AttributeValue> {
        let mut c = bare(id);
        c.phone = Some(phone.into());
        to_item(&c).unwrap()
    }

    fn bare(id: &str) -> Caregiver {
        Caregiver {
            id: id.into(),
            sub: None,
            name: None,
            level: 2,
            language: Language::Es,
            phone: None,
            push_endpoint: None,
            quiet_hours: None,
            daily_at: None,
        }
    }

    #[test]
    fn the_record_keeps_neither_the_id_attribute_nor_the_level() {
        let item = record("cg-1", "+34600111222");
        assert_eq!(item.get(CAREGIVER_ID), Some(&AttributeValue::S("cg-1".into())));
        assert!(!item.contains_key("id") && !item.contains_key("level"), "{item:?}");
        let back = from_item(TABLE, "GetItem", item).unwrap();
        assert_eq!((back.id.as_str(), back.level, back.phone.as_deref()), ("cg-1", 1, Some("+34600111222")));
    }

    #[tokio::test]
    async fn keys_left_unprocessed_are_asked_for_again_until_every_record_is_read() {
        let first = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_output(|| {
            let unprocessed = KeysAndAttributes::builder()
                .keys(HashMap::from([(CAREGIVER_ID.to_owned(), AttributeValue::S("cg-2".into()))]))
                .build()
                .unwrap();
            BatchGetItemOutput::builder()
                .responses(TABLE, vec![record("cg-1", "+34600000001")])
                .unprocessed_keys(TABLE, unprocessed)
                .build()
        });
        let second = mock!(aws_sdk_dynamodb::Client::batch_get_item)
            .match_requests(|r| r.request_items().and_then(|i| i.get(TABLE)).is_some_and(|k| k.keys().len() == 1))
            .then_output(|| {
                BatchGetItemOutput::builder().responses(TABLE, vec![record("cg-2", "+34600000002")]).build()
            });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&first, &second]);
        let directory = DynamoCaregiverDirectory::new(client, TABLE);
        let found = directory.caregivers(&["cg-1", "cg-2", "cg-1", "cg-404"]).await.unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found["cg-2"].phone.as_deref(), Some("+34600000002"));
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn keys_never_processed_are_a_retryable_error_not_missing_records() {
        let stuck = mock!(aws_sdk_dynamodb::Client::batch_get_item).then_output(|| {
            let unprocessed = KeysAndAttributes::builder()
                .keys(HashMap::from([(CAREGIVER_ID.to_owned(), AttributeValue::S("cg-1".into()))]))
                .build()
                .unwrap();
            BatchGetItemOutput::builder().unprocessed_keys(TABLE, unprocessed).build()
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&stuck]);
        let err = DynamoCaregiverDirectory::new(client, TABLE).caregivers(&["cg-1"]).await.unwrap_err();
        assert!(err.retryable && err.operation == "BatchGetItem", "{err:?}");
    }
}
