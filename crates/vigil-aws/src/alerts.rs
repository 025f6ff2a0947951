//! The alerts table on DynamoDB: [`AlertStore`] with conditional writes.
//!
//! Item layout (table keyed by `alert_id` S, the deterministic [`AlertId`]):
//! `wearer_id` S, `rule` S, `severity` S, `status` S (`open`, `resolved`),
//! `episode_start` S, `raised_at` S, `resolved_at` S (times fixed-width RFC 3339
//! UTC), `readings` L of S (ordered; a string set could not be empty), `value` N
//! and `location` M (`lat`, `lon`, `accuracy_m`) when present. The location is
//! personal data: the table is encrypted, and it is never logged.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use vigil_domain::alerts::{Alert, AlertId};
use vigil_domain::ports::{AlertStore, StoreError};

use crate::dynamo::{is_conditional_check_failed, malformed, parse_timestamp, store_error, timestamp};

#[derive(Debug, Clone)]
pub struct DynamoAlertStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// An alert as stored, with its lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    pub alert: Alert,
    /// `open` or `resolved` (acknowledged comes later).
    pub status: String,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl DynamoAlertStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Reads one alert (strongly consistent), `None` if absent.
    pub async fn get(&self, alert_id: &str) -> Result<Option<StoredAlert>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("alert_id", AttributeValue::S(alert_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?;
        out.item
            .map(|item| from_item(&item).map_err(|attribute| malformed("GetItem", &self.table, attribute)))
            .transpose()
    }
}

impl AlertStore for DynamoAlertStore {
    async fn put_alert(&self, alert: &Alert) -> Result<bool, StoreError> {
        let item = to_item(alert).map_err(|attribute| malformed("PutItem", &self.table, attribute))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(alert_id)");
        match put.send().await {
            Ok(_) => Ok(true),
            // Same id, same episode: a retried batch raised it before.
            Err(e) if is_conditional_check_failed(&e) => Ok(false),
            Err(e) => Err(store_error("PutItem", &self.table, e)),
        }
    }

    async fn resolve(&self, alert_id: &str, at: DateTime<Utc>) -> Result<Option<Alert>, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("alert_id", AttributeValue::S(alert_id.to_owned()))
            // Idempotent: a retry keeps the first resolution time and still gets the alert back.
            .update_expression("SET #s = :resolved, resolved_at = if_not_exists(resolved_at, :at)")
            // False when the item is absent, so resolving never creates one.
            .condition_expression("attribute_exists(alert_id)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":resolved", AttributeValue::S("resolved".into()))
            .expression_attribute_values(":at", AttributeValue::S(timestamp(at)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        match update.send().await {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                let stored = from_item(&item).map_err(|attribute| malformed("UpdateItem", &self.table, attribute))?;
                Ok(Some(stored.alert))
            }
            Err(e) if is_conditional_check_failed(&e) => Ok(None),
            Err(e) => Err(store_error("UpdateItem", &self.table, e)),
        }
    }
}

fn to_item(alert: &Alert) -> Result<HashMap<String, AttributeValue>, &'static str> {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let mut item = HashMap::from([
        ("alert_id".to_owned(), s(alert.id.as_str())),
        ("wearer_id".to_owned(), s(&alert.wearer_id)),
        ("rule".to_owned(), s(alert.rule.as_str())),
        ("severity".to_owned(), serde_dynamo::to_attribute_value(alert.severity).map_err(|_| "severity")?),
        ("status".to_owned(), s("open")),
        ("episode_start".to_owned(), s(&timestamp(alert.episode_start))),
        ("raised_at".to_owned(), s(&timestamp(alert.raised_at))),
        ("readings".to_owned(), AttributeValue::L(alert.readings.iter().map(|r| s(r)).collect())),
    ]);
    if let Some(value) = alert.value.filter(|v| v.is_finite()) {
        item.insert("value".to_owned(), AttributeValue::N(value.to_string()));
    }
    if let Some(location) = alert.location {
        item.insert("location".to_owned(), serde_dynamo::to_attribute_value(location).map_err(|_| "location")?);
    }
    Ok(item)
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<StoredAlert, &'static str> {
    let s = |name: &'static str| item.get(name).and_then(|v| v.as_s().ok()).ok_or(name);
    let time = |name: &'static str| s(name).and_then(|v| parse_timestamp(v).ok_or(name));
    // The enums and the id parse through their serde forms, the ones the domain defines.
    fn typed<T: DeserializeOwned>(
        item: &HashMap<String, AttributeValue>,
        name: &'static str,
    ) -> Result<T, &'static str> {
        item.get(name).cloned().and_then(|v| serde_dynamo::from_attribute_value(v).ok()).ok_or(name)
    }
    let alert = Alert {
        id: typed::<AlertId>(item, "alert_id")?,
        wearer_id: s("wearer_id")?.clone(),
        rule: typed(item, "rule")?,
        severity: typed(item, "severity")?,
        episode_start: time("episode_start")?,
        raised_at: time("raised_at")?,
        readings: typed(item, "readings")?,
        location: item.get("location").map(|_| typed(item, "location")).transpose()?,
        value: item.get("value").map(|_| typed(item, "value")).transpose()?,
    };
    Ok(StoredAlert {
        alert,
        status: s("status")?.clone(),
        resolved_at: item.get("resolved_at").map(|_| time("resolved_at")).transpose()?,
    })
}
