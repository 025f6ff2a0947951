//! The wearer's shadow on DynamoDB: [`ShadowStore`] with a conditional UpdateItem.
//!
//! Item layout (table keyed by `wearer_id` S): `last_seen` S (fixed-width RFC
//! 3339 UTC, see [`crate::dynamo`], so `<` compares instants), `device_id` S,
//! `seq` N, `app_version` S, `received_at` S, and the newest reading's
//! `heart_rate_bpm`, `spo2_pct`, `skin_temp_c`, `battery_pct` N, `worn` BOOL,
//! `activity`, `sleep_stage` S — removed when that reading did not carry them.
//!
//! The update applies only if `attribute_not_exists(last_seen) OR last_seen <
//! :ts`; a failed condition means a newer state is stored, which is an answer,
//! not an error. UpdateItem (not PutItem) leaves attributes other writers may
//! add to the item alone.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use vigil_domain::ports::{ShadowStore, StoreError};
use vigil_domain::vitals::Shadow;

use crate::dynamo::{is_conditional_check_failed, malformed, parse_timestamp, store_error, timestamp};

#[derive(Debug, Clone)]
pub struct DynamoShadowStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoShadowStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The stored shadow of `wearer_id`, if any.
    pub async fn get(&self, wearer_id: &str) -> Result<Option<Shadow>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("wearer_id", AttributeValue::S(wearer_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?;
        let Some(item) = out.item else { return Ok(None) };
        from_item(&item).map(Some).map_err(|attribute| malformed("GetItem", &self.table, attribute))
    }
}

/// Measurement attributes: set when the newest reading has them, removed otherwise.
fn measurements(s: &Shadow) -> [(&'static str, Option<AttributeValue>); 7] {
    [
        ("heart_rate_bpm", s.heart_rate_bpm.map(|v| AttributeValue::N(v.to_string()))),
        ("spo2_pct", s.spo2_pct.map(|v| AttributeValue::N(v.to_string()))),
        ("skin_temp_c", s.skin_temp_c.map(|v| AttributeValue::N(v.to_string()))),
        ("battery_pct", s.battery_pct.map(|v| AttributeValue::N(v.to_string()))),
        ("worn", s.worn.map(AttributeValue::Bool)),
        ("activity", s.activity.map(|a| AttributeValue::S(a.as_str().to_owned()))),
        ("sleep_stage", s.sleep_stage.map(|st| AttributeValue::S(st.as_str().to_owned()))),
    ]
}

impl ShadowStore for DynamoShadowStore {
    async fn advance(&self, shadow: &Shadow) -> Result<bool, StoreError> {
        let mut set: Vec<(&'static str, AttributeValue)> = vec![
            ("last_seen", AttributeValue::S(timestamp(shadow.last_seen))),
            ("device_id", AttributeValue::S(shadow.device_id.clone())),
            ("seq", AttributeValue::N(shadow.seq.to_string())),
            ("app_version", AttributeValue::S(shadow.app_version.clone())),
            ("received_at", AttributeValue::S(timestamp(shadow.received_at))),
        ];
        let mut remove: Vec<&'static str> = Vec::new();
        for (name, value) in measurements(shadow) {
            match value {
                Some(v) => set.push((name, v)),
                None => remove.push(name),
            }
        }
        // Names through placeholders: some (e.g. `seq`) may be reserved words.
        let mut names: HashMap<String, String> = HashMap::new();
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        let mut expression = String::from("SET ");
        for (i, (name, value)) in set.into_iter().enumerate() {
            if i > 0 {
                expression.push_str(", ");
            }
            expression.push_str(&format!("#s{i} = :s{i}"));
            names.insert(format!("#s{i}"), name.to_owned());
            values.insert(format!(":s{i}"), value);
        }
        for (i, name) in remove.into_iter().enumerate() {
            expression.push_str(if i == 0 { " REMOVE " } else { ", " });
            expression.push_str(&format!("#r{i}"));
            names.insert(format!("#r{i}"), name.to_owned());
        }
        // `#s0` is last_seen and `:s0` the new reading time.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("wearer_id", AttributeValue::S(shadow.wearer_id.clone()))
            .update_expression(expression)
            .condition_expression("attribute_not_exists(#s0) OR #s0 < :s0")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_check_failed(&e) => Ok(false),
            Err(e) => Err(store_error("UpdateItem", &self.table, e)),
        }
    }
}

/// A shadow read back; `Err` names the first missing or malformed attribute.
pub fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Shadow, &'static str> {
    let s = |name: &'static str| item.get(name).and_then(|v| v.as_s().ok()).ok_or(name);
    let time = |name: &'static str| s(name).and_then(|v| parse_timestamp(v).ok_or(name));
    fn n<T: std::str::FromStr>(
        item: &HashMap<String, AttributeValue>,
        name: &'static str,
    ) -> Result<Option<T>, &'static str> {
        match item.get(name) {
            None => Ok(None),
            Some(v) => v.as_n().ok().and_then(|v| v.parse().ok()).map(Some).ok_or(name),
        }
    }
    let opt_s = |name: &'static str| match item.get(name) {
        None => Ok(None),
        Some(v) => v.as_s().map(|v| Some(v.as_str())).map_err(|_| name),
    };
    Ok(Shadow {
        wearer_id: s("wearer_id")?.clone(),
        last_seen: time("last_seen")?,
        device_id: s("device_id")?.clone(),
        seq: n(item, "seq")?.ok_or("seq")?,
        app_version: s("app_version")?.clone(),
        received_at: time("received_at")?,
        heart_rate_bpm: n(item, "heart_rate_bpm")?,
        spo2_pct: n(item, "spo2_pct")?,
        skin_temp_c: n(item, "skin_temp_c")?,
        battery_pct: n(item, "battery_pct")?,
        worn: match item.get("worn") {
            None => None,
            Some(v) => Some(*v.as_bool().map_err(|_| "worn")?),
        },
        activity: opt_s("activity")?.map(|a| a.parse().map_err(|_| "activity")).transpose()?,
        sleep_stage: opt_s("sleep_stage")?.map(|st| st.parse().map_err(|_| "sleep_stage")).transpose()?,
    })
}

/// The conditional update against scripted answers.
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
    use aws_sdk_dynamodb::types::error::{ConditionalCheckFailedException, ProvisionedThroughputExceededException};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use chrono::{DateTime, Utc};
    use vigil_domain::reading::Activity;

    use super::*;

    fn no_retries(c: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder {
        c.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
    }

    fn shadow() -> Shadow {
        Shadow {
            wearer_id: "wearer-42".into(),
            last_seen: DateTime::parse_from_rfc3339("2026-11-22T10:59:55.250Z").unwrap().with_timezone(&Utc),
            device_id: "band-0001".into(),
            seq: 3001,
            app_version: "1.4.2".into(),
            received_at: DateTime::parse_from_rfc3339("2026-11-22T10:00:01Z").unwrap().with_timezone(&Utc),
            heart_rate_bpm: Some(72),
            spo2_pct: None,
            skin_temp_c: Some(33.5),
            battery_pct: Some(80),
            worn: Some(true),
            activity: Some(Activity::Light),
            sleep_stage: None,
        }
    }

    #[tokio::test]
    async fn the_update_is_conditional_on_an_older_reading_and_removes_what_was_not_measured() {
        let rule = mock!(Client::update_item)
            .match_requests(|r| {
                let names = r.expression_attribute_names().unwrap();
                let values = r.expression_attribute_values().unwrap();
                let expr = r.update_expression().unwrap();
                let removed: Vec<&str> =
                    expr.split(" REMOVE ").nth(1).unwrap_or("").split(", ").map(|p| names[p].as_str()).collect();
                r.condition_expression() == Some("attribute_not_exists(#s0) OR #s0 < :s0")
                    && names["#s0"] == "last_seen"
                    && values[":s0"].as_s().unwrap() == "2026-11-22T10:59:55.250Z"
                    && removed == ["spo2_pct", "sleep_stage"]
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], no_retries);
        assert!(DynamoShadowStore::new(client, "shadow").advance(&shadow()).await.unwrap());
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_newer_stored_state_is_an_answer_and_throttling_is_retryable() {
        let ccf = mock!(Client::update_item).then_error(|| {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .message("The conditional request failed")
                    .meta(ErrorMetadata::builder().code("ConditionalCheckFailedException").build())
                    .build(),
            )
        });
        let throttled = mock!(Client::update_item).then_error(|| {
            UpdateItemError::ProvisionedThroughputExceededException(
                ProvisionedThroughputExceededException::builder()
                    .message("mocked")
                    .meta(ErrorMetadata::builder().code("ProvisionedThroughputExceededException").build())
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&ccf, &throttled], no_retries);
        let store = DynamoShadowStore::new(client, "shadow");
        assert!(!store.advance(&shadow()).await.unwrap());
        let err = store.advance(&shadow()).await.unwrap_err();
        assert!(err.retryable);
        assert_eq!((err.operation, err.resource.as_str()), ("UpdateItem", "shadow"));
    }

    #[test]
    fn a_stored_shadow_reads_back() {
        let s = shadow();
        let mut item = HashMap::from([
            ("wearer_id".to_owned(), AttributeValue::S(s.wearer_id.clone())),
            ("last_seen".to_owned(), AttributeValue::S(timestamp(s.last_seen))),
            ("device_id".to_owned(), AttributeValue::S(s.device_id.clone())),
            ("seq".to_owned(), AttributeValue::N(s.seq.to_string())),
            ("app_version".to_owned(), AttributeValue::S(s.app_version.clone())),
            ("received_at".to_owned(), AttributeValue::S(timestamp(s.received_at))),
        ]);
        item.extend(measurements(&s).into_iter().filter_map(|(n, v)| v.map(|v| (n.to_owned(), v))));
        assert_eq!(from_item(&item).unwrap(), s);
        item.insert("worn".into(), AttributeValue::S("yes".into()));
        assert_eq!(from_item(&item), Err("worn"));
    }
}
