//! The alerts table on DynamoDB: [`AlertStore`] with conditional writes, and the
//! alerts' lifecycle for the caregivers' API.
//!
//! Item layout (table keyed by `alert_id` S, the deterministic [`AlertId`]):
//! `wearer_id` S, `rule` S, `severity` S, `episode_start` S, `raised_at` S
//! (times fixed-width RFC 3339 UTC), `readings` L of S (ordered; a string set
//! could not be empty), `value` N and `location` M (`lat`, `lon`, `accuracy_m`)
//! when present, `snoozed` BOOL when raised under a snooze. The lifecycle:
//! `status` S (`open`, `acknowledged`, `resolved`), `acknowledged` and
//! `resolved` M (the winning [`Transition`]s), `history` L of M (every step, in
//! order), `note` S (the caregiver's, with a resolution). The location and the
//! note are personal data: the table is encrypted, and they are never logged.
//!
//! A step is one UpdateItem conditioned on the status it starts from (see
//! [`vigil_domain::lifecycle::AlertStatus::accepts`]): of two caregivers acting
//! at once one wins, and the other reads the winner's step back.
//!
//! [`ALERTS_BY_WEARER_INDEX`] (partition key `wearer_id`, sort key `raised_at`,
//! every attribute projected) serves a wearer's alerts newest first without a Scan.
//!
//! `expires_at` N (the table's TTL, epoch seconds) is `raised_at` plus the store's
//! [`Retention`] (`ALERTS_TTL_DAYS`), set by the put; a step sets it only on an
//! item that has none (one written before alerts expired), from the step's time.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use vigil_domain::alerts::{Alert, AlertId};
use vigil_domain::lifecycle::{AlertRecord, AlertStatus, Transition};
use vigil_domain::ports::{AlertCursor, AlertPage, AlertQuery, AlertStore, StoreError};
use vigil_domain::retention::{DEFAULT_ALERTS_DAYS, EXPIRES_AT, Retention};

use crate::dynamo::{is_conditional_check_failed, malformed, parse_timestamp, store_error, timestamp};

/// The index of a wearer's alerts by time (the CDK app declares the same).
pub const ALERTS_BY_WEARER_INDEX: &str = "wearer_id-raised_at-index";

#[derive(Debug, Clone)]
pub struct DynamoAlertStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    retention: Retention,
}

impl DynamoAlertStore {
    /// Alerts kept [`DEFAULT_ALERTS_DAYS`] after they were raised.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), retention: Retention::days(DEFAULT_ALERTS_DAYS) }
    }

    /// Replaces the default retention (`ALERTS_TTL_DAYS`).
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Reads one alert (strongly consistent), `None` if absent.
    pub async fn get(&self, alert_id: &str) -> Result<Option<AlertRecord>, StoreError> {
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

    /// Applies `step` if the stored status accepts it, and returns the alert as
    /// it then stands (the winner's step when someone else got there first);
    /// `None` if there is no such alert.
    pub async fn transition(
        &self,
        alert_id: &str,
        step: &Transition,
        note: Option<&str>,
    ) -> Result<Option<AlertRecord>, StoreError> {
        let slot = match step.to {
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
            // Nothing moves an alert back to open.
            AlertStatus::Open => return self.get(alert_id).await,
        };
        let value: AttributeValue =
            serde_dynamo::to_attribute_value(step).map_err(|_| malformed("UpdateItem", &self.table, "step"))?;
        let mut expression = format!(
            "SET #s = :to, {slot} = :step, history = list_append(if_not_exists(history, :none), :steps), \
             #exp = if_not_exists(#exp, :exp)"
        );
        let sources = AlertStatus::sources(step.to);
        let placeholders: Vec<String> = (0..sources.len()).map(|i| format!(":from{i}")).collect();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("alert_id", AttributeValue::S(alert_id.to_owned()))
            .condition_expression(format!("attribute_exists(alert_id) AND #s IN ({})", placeholders.join(", ")))
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":exp", AttributeValue::N(self.retention.expires_at(step.at).to_string()))
            .expression_attribute_values(":to", AttributeValue::S(step.to.as_str().to_owned()))
            .expression_attribute_values(":step", value.clone())
            .expression_attribute_values(":steps", AttributeValue::L(vec![value]))
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        for (placeholder, from) in placeholders.iter().zip(&sources) {
            update = update.expression_attribute_values(placeholder, AttributeValue::S(from.as_str().to_owned()));
        }
        if let Some(note) = note.filter(|_| step.to == AlertStatus::Resolved) {
            expression.push_str(", note = :note");
            update = update.expression_attribute_values(":note", AttributeValue::S(note.to_owned()));
        }
        match update.update_expression(expression).send().await {
            Ok(out) => {
                let item = out.attributes.unwrap_or_default();
                from_item(&item).map(Some).map_err(|attribute| malformed("UpdateItem", &self.table, attribute))
            }
            // Absent, or already past this step: read what stands.
            Err(e) if is_conditional_check_failed(&e) => self.get(alert_id).await,
            Err(e) => Err(store_error("UpdateItem", &self.table, e)),
        }
    }

    /// A wearer's alerts, newest first, through [`ALERTS_BY_WEARER_INDEX`]: pages
    /// are read until `query.limit` alerts match or the wearer has no more.
    pub async fn of_wearer(&self, wearer_id: &str, query: &AlertQuery) -> Result<AlertPage, StoreError> {
        let limit = query.limit.max(1);
        let mut condition = "wearer_id = :w".to_owned();
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(ALERTS_BY_WEARER_INDEX)
            .scan_index_forward(false)
            .expression_attribute_values(":w", AttributeValue::S(wearer_id.to_owned()));
        match (query.from, query.to) {
            (Some(_), Some(_)) => condition.push_str(" AND raised_at BETWEEN :from AND :to"),
            (Some(_), None) => condition.push_str(" AND raised_at >= :from"),
            (None, Some(_)) => condition.push_str(" AND raised_at <= :to"),
            (None, None) => {}
        }
        if let Some(from) = query.from {
            request = request.expression_attribute_values(":from", AttributeValue::S(timestamp(from)));
        }
        if let Some(to) = query.to {
            // `to` is exclusive; stored times have millisecond precision.
            let last = to - chrono::Duration::milliseconds(1);
            request = request.expression_attribute_values(":to", AttributeValue::S(timestamp(last)));
        }
        if let Some(status) = query.status {
            request = request
                .filter_expression("#s = :status")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":status", AttributeValue::S(status.as_str().to_owned()));
        }
        let mut start = query.after.as_ref().map(|c| {
            HashMap::from([
                ("alert_id".to_owned(), AttributeValue::S(c.alert_id.clone())),
                ("wearer_id".to_owned(), AttributeValue::S(wearer_id.to_owned())),
                ("raised_at".to_owned(), AttributeValue::S(timestamp(c.raised_at))),
            ])
        });
        let mut page = AlertPage::default();
        loop {
            // One more than needed tells whether another page follows.
            let want = limit + 1 - page.alerts.len();
            let out = request
                .clone()
                .key_condition_expression(&condition)
                .limit(i32::try_from(want).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_error("Query", &self.table, e))?;
            for item in out.items() {
                page.alerts.push(from_item(item).map_err(|attribute| malformed("Query", &self.table, attribute))?);
            }
            start = out.last_evaluated_key;
            if page.alerts.len() > limit {
                page.alerts.truncate(limit);
                break;
            }
            if start.is_none() {
                return Ok(page);
            }
        }
        page.next =
            page.alerts.last().map(|r| AlertCursor { raised_at: r.alert.raised_at, alert_id: r.alert.id.to_string() });
        Ok(page)
    }
}

impl AlertStore for DynamoAlertStore {
    async fn put_alert(&self, alert: &Alert, snoozed: bool) -> Result<bool, StoreError> {
        let mut item = to_item(alert).map_err(|attribute| malformed("PutItem", &self.table, attribute))?;
        item.insert(EXPIRES_AT.to_owned(), AttributeValue::N(self.retention.expires_at(alert.raised_at).to_string()));
        if snoozed {
            item.insert("snoozed".to_owned(), AttributeValue::Bool(true));
        }
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

    async fn resolve(&self, alert_id: &str, at: DateTime<Utc>) -> Result<Option<AlertRecord>, StoreError> {
        self.transition(alert_id, &Transition::cleared(at), None).await
    }

    async fn get(&self, alert_id: &str) -> Result<Option<AlertRecord>, StoreError> {
        DynamoAlertStore::get(self, alert_id).await
    }

    async fn transition(
        &self,
        alert_id: &str,
        step: &Transition,
        note: Option<&str>,
    ) -> Result<Option<AlertRecord>, StoreError> {
        DynamoAlertStore::transition(self, alert_id, step, note).await
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

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<AlertRecord, &'static str> {
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
    let status = s("status")?.parse::<AlertStatus>().map_err(|_| "status")?;
    let step = |name: &'static str| item.get(name).map(|_| typed::<Transition>(item, name)).transpose();
    Ok(AlertRecord {
        alert,
        status,
        acknowledged: step("acknowledged")?,
        resolved: step("resolved")?,
        note: item.get("note").map(|_| s("note").cloned()).transpose()?,
        history: item.get("history").map(|_| typed(item, "history")).transpose()?.unwrap_or_default(),
        snoozed: item.get("snoozed").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
    })
}
