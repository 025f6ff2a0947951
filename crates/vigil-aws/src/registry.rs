//! The device registry on DynamoDB: [`DeviceDirectory`] with GetItem.
//!
//! Item layout (table keyed by `device_id`):
//! `device_id` S, `wearer_id` S, `app_users` SS (JWT subs allowed to upload),
//! `time_zone` S (IANA name).

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use vigil_domain::ports::{DeviceDirectory, DirectoryError};
use vigil_domain::registry::DeviceLink;

#[derive(Debug, Clone)]
pub struct DynamoDeviceDirectory {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry item for a device in table {table} lacks attribute {attribute}")]
    MalformedItem { table: String, attribute: &'static str },
}

impl DynamoDeviceDirectory {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Registers or replaces a device (used by the `vigil` CLI and tests).
    pub async fn put(&self, link: &DeviceLink) -> Result<(), DirectoryError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(link)))
            .send()
            .await
            .map_err(|e| DirectoryError { source: e.into() })?;
        Ok(())
    }
}

impl DeviceDirectory for DynamoDeviceDirectory {
    async fn device(&self, device_id: &str) -> Result<Option<DeviceLink>, DirectoryError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("device_id", AttributeValue::S(device_id.to_owned()))
            .consistent_read(false)
            .send()
            .await
            .map_err(|e| DirectoryError { source: e.into() })?;
        match out.item {
            None => Ok(None),
            Some(item) => from_item(&self.table, &item).map(Some).map_err(|e| DirectoryError { source: e.into() }),
        }
    }
}

pub fn to_item(link: &DeviceLink) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("device_id".to_owned(), AttributeValue::S(link.device_id.clone())),
        ("wearer_id".to_owned(), AttributeValue::S(link.wearer_id.clone())),
        ("time_zone".to_owned(), AttributeValue::S(link.time_zone.clone())),
    ]);
    // DynamoDB string sets cannot be empty: a band with no app users has no attribute.
    if !link.app_users.is_empty() {
        item.insert("app_users".to_owned(), AttributeValue::Ss(link.app_users.clone()));
    }
    item
}

fn from_item(table: &str, item: &HashMap<String, AttributeValue>) -> Result<DeviceLink, RegistryError> {
    let s = |attribute: &'static str| {
        item.get(attribute)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or(RegistryError::MalformedItem { table: table.to_owned(), attribute })
    };
    Ok(DeviceLink {
        device_id: s("device_id")?,
        wearer_id: s("wearer_id")?,
        time_zone: s("time_zone").unwrap_or_else(|_| "UTC".to_owned()),
        app_users: item.get("app_users").and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default(),
    })
}
