//! Wearer profiles on DynamoDB: [`WearerDirectory`] with GetItem.
//!
//! Item layout (table keyed by `wearer_id` S): the [`WearerProfile`] as
//! attributes, through serde_dynamo — `name` S, `time_zone` S, `thresholds` M,
//! `caregivers` L of M (`id`, `language`, `phone`, `push_endpoint`,
//! `quiet_hours`). Personal data: the table is encrypted and nothing read from
//! it is logged.

use aws_sdk_dynamodb::types::AttributeValue;
use vigil_domain::care::WearerProfile;
use vigil_domain::ports::{StoreError, WearerDirectory};

use crate::dynamo::{malformed, store_error};

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

    /// Registers or replaces a wearer's profile.
    pub async fn put(&self, profile: &WearerProfile) -> Result<(), StoreError> {
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
