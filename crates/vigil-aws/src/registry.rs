//! The device registry on DynamoDB: [`DeviceDirectory`] with GetItem.
//!
//! Item layout (table keyed by `device_id`):
//! `device_id` S, `wearer_id` S, `app_users` SS (JWT subs allowed to upload),
//! `time_zone` S (IANA name). An unlinked band keeps its item without
//! `wearer_id` and `app_users` (read back with an empty wearer and no app users,
//! so no upload is authorized) until it is linked again.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;
use vigil_domain::ports::{DeviceDirectory, DirectoryError, StoreError};
use vigil_domain::registry::{DeviceLink, Invalid, validate_device};

use crate::dynamo::{is_conditional_check_failed, store_error};

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

    /// Registers or replaces a device (used by the `vigil` CLI and tests), after
    /// [`validate_device`]: a link that does not validate is refused with every problem.
    pub async fn put(&self, link: &DeviceLink) -> Result<(), WriteError> {
        validate_device(link)?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(link)))
            .send()
            .await
            .map_err(|e| store_error("PutItem", &self.table, e))?;
        Ok(())
    }

    /// Every registered band, linked or not, through the Scan paginator (the
    /// registry is an operator's listing, never a hot path).
    pub async fn list(&self) -> Result<Vec<DeviceLink>, StoreError> {
        let mut pages = self.client.scan().table_name(&self.table).into_paginator().items().send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| store_error("Scan", &self.table, e))?;
            out.push(from_item(&self.table, &item).map_err(|e| StoreError {
                operation: "Scan",
                resource: self.table.clone(),
                retryable: false,
                source: e.into(),
            })?);
        }
        out.sort_by(|a, b| a.device_id.cmp(&b.device_id));
        Ok(out)
    }

    /// Removes the band's wearer and app users, keeping its record (the band can be
    /// linked again); `Ok(false)` if there is no such band.
    pub async fn unlink(&self, device_id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("device_id", AttributeValue::S(device_id.to_owned()))
            .update_expression("REMOVE wearer_id, app_users")
            .condition_expression("attribute_exists(device_id)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_check_failed(&e) => Ok(false),
            Err(e) => Err(store_error("UpdateItem", &self.table, e)),
        }
    }

    /// Deletes the band's record; `Ok(false)` if there was none.
    pub async fn delete(&self, device_id: &str) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("device_id", AttributeValue::S(device_id.to_owned()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", &self.table, e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}

/// A registry write that was refused (with every problem, naming each field) or failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("refused: {0}")]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
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
        // Absent on an unlinked band: no wearer, and no app user may upload.
        wearer_id: s("wearer_id").unwrap_or_default(),
        time_zone: s("time_zone").unwrap_or_else(|_| "UTC".to_owned()),
        app_users: item.get("app_users").and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default(),
    })
}
