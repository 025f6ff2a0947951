//! The "sent" records on DynamoDB: [`DeliveryLog`], at most one message per
//! alert, caregiver and channel across retries and concurrent invocations.
//!
//! Item layout (table keyed by `delivery_key` S = [`Delivery::key`]):
//! - `status` S: `sending` (claimed), `sent`, `deferred` (waiting for
//!   `not_before`), `released` (a failed send gave its claim back);
//! - `claimed_at`, `sent_at`, `not_before` S (fixed-width RFC 3339 UTC);
//! - `message_id` S: the provider's id, once sent;
//! - `delivery` M: the whole [`Delivery`], written when deferred or claimed
//!   (personal data: the address and text; the table is encrypted);
//! - `due_shard` S ([`DUE_SHARD`]) while a deferred delivery (quiet hours, an
//!   escalation step) waits to be sent, or a claimed one waits for its sender's
//!   confirmation (then `not_before` is the lease's end): with `not_before` it keys
//!   the sparse [`DUE_INDEX`], so [`due`] is a Query on what is due, never a Scan.
//!   Removed when the delivery is sent or cancelled;
//! - `phone`, `alert_id`, `caregiver_id` S on a sent SMS: with `sent_at` they key
//!   [`PHONE_INDEX`], which [`TextLog::texted`] reads to match an SMS reply;
//! - `expires_at` N: the table's TTL (epoch seconds), the store's [`Retention`]
//!   (`DELIVERIES_TTL_DAYS`) after the last claim or send, or after the due time of
//!   a deferred delivery (an escalation step never expires before it is due).
//!
//! A claim is an UpdateItem, not a PutItem, so claiming a deferred delivery keeps
//! its `delivery` and `not_before`; releasing sets `released` instead of deleting
//! for the same reason: a deferred delivery whose send failed stays [`due`].
//!
//! [`due`]: DeliveryLog::due

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use vigil_domain::care::{Channel, Delivery};
use vigil_domain::ports::{Claim, DeliveryLog, REFUSED, StoreError, TextLog, Texted};
use vigil_domain::retention::{DEFAULT_DELIVERIES_DAYS, EXPIRES_AT, Retention};

use crate::dynamo::{is_conditional_check_failed, malformed, parse_timestamp, store_error, timestamp};

/// How long a claim stays someone else's before a sender that never confirmed
/// counts as dead. Longer than any send takes; short enough that a crash delays
/// a message by about a minute.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The sparse index of deliveries waiting for their time: `due_shard` (hash) and
/// `not_before` (range).
pub const DUE_INDEX: &str = "due_shard-not_before-index";
/// The one partition of [`DUE_INDEX`]. Deferred deliveries are few (escalation
/// steps of unacknowledged alerts, low-severity messages in quiet hours), far
/// below a partition's 1,000 writes a second; at larger scale, spread them over
/// `due-0` … `due-N` and query each.
pub const DUE_SHARD: &str = "due";
/// The index of sent SMS by number: `phone` (hash) and `sent_at` (range),
/// projecting `alert_id` and `caregiver_id`.
pub const PHONE_INDEX: &str = "phone-sent_at-index";

#[derive(Debug, Clone)]
pub struct DynamoDeliveryLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
    lease: chrono::Duration,
    retention: Retention,
}

impl DynamoDeliveryLog {
    /// Deliveries kept [`DEFAULT_DELIVERIES_DAYS`].
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            lease: lease(DEFAULT_LEASE),
            retention: Retention::days(DEFAULT_DELIVERIES_DAYS),
        }
    }

    /// Replaces the default retention (`DELIVERIES_TTL_DAYS`).
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The TTL of an item written for time `at`.
    fn expires_at(&self, at: DateTime<Utc>) -> AttributeValue {
        AttributeValue::N(self.retention.expires_at(at).to_string())
    }

    /// Replaces [`DEFAULT_LEASE`].
    pub fn with_lease(mut self, lease_duration: Duration) -> Self {
        self.lease = lease(lease_duration);
        self
    }

    fn key(delivery: &Delivery) -> AttributeValue {
        AttributeValue::S(delivery.key())
    }
}

fn lease(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

impl DeliveryLog for DynamoDeliveryLog {
    async fn claim(&self, delivery: &Delivery, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        // A claim is also a promise: if its sender dies before confirming (a crash
        // between claim and send), the delivery is due again when the lease runs out,
        // and the detector's sweep ([`DeliveryLog::due`]) sends it. So a first
        // message is never lost to a crash, only late by about a lease.
        let body = serde_dynamo::to_item(delivery).map_err(|_| malformed("UpdateItem", &self.table, "delivery"))?;
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("delivery_key", Self::key(delivery))
            .update_expression(
                "SET #s = :sending, claimed_at = :now, due_shard = :shard, not_before = :lease_end, \
                 delivery = if_not_exists(delivery, :body), #exp = :exp",
            )
            .condition_expression(
                "attribute_not_exists(delivery_key) OR #s IN (:deferred, :released) \
                 OR (#s = :sending AND claimed_at < :stale)",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":deferred", s("deferred"))
            .expression_attribute_values(":released", s("released"))
            .expression_attribute_values(":now", s(&timestamp(now)))
            .expression_attribute_values(":stale", s(&timestamp(now - self.lease)))
            .expression_attribute_values(":shard", s(DUE_SHARD))
            .expression_attribute_values(":lease_end", s(&timestamp(now + self.lease)))
            .expression_attribute_values(":body", AttributeValue::M(body))
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":exp", self.expires_at(now));
        match update.send().await {
            Ok(_) => return Ok(Claim::Granted),
            Err(e) if is_conditional_check_failed(&e) => {}
            Err(e) => return Err(store_error("UpdateItem", &self.table, e)),
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("delivery_key", Self::key(delivery))
            .projection_expression("#s")
            .expression_attribute_names("#s", "status")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?;
        let status = out.item.as_ref().and_then(|i| i.get("status")).and_then(|v| v.as_s().ok());
        // Sent or cancelled is final; anything else (a fresh claim, or a release racing
        // us) is worth a later retry.
        Ok(if status.is_some_and(|s| s == "sent" || s == "cancelled") { Claim::AlreadySent } else { Claim::InFlight })
    }

    async fn sent(&self, delivery: &Delivery, message_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut set = vec!["#s = :sent", "sent_at = :at", "#exp = :exp"];
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("delivery_key", Self::key(delivery))
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":exp", self.expires_at(now))
            .expression_attribute_values(":sent", s("sent"))
            .expression_attribute_values(":at", s(&timestamp(now)));
        if !message_id.is_empty() {
            set.push("message_id = :id");
            update = update.expression_attribute_values(":id", s(message_id));
        }
        if delivery.channel == Channel::Sms && message_id != REFUSED {
            // What an SMS reply from this number can refer to (PHONE_INDEX).
            set.extend(["phone = :phone", "alert_id = :alert", "caregiver_id = :caregiver"]);
            update = update
                .expression_attribute_values(":phone", s(&delivery.address))
                .expression_attribute_values(":alert", s(&delivery.alert_id))
                .expression_attribute_values(":caregiver", s(&delivery.caregiver_id));
        }
        update
            .update_expression(format!("SET {} REMOVE due_shard", set.join(", ")))
            .send()
            .await
            .map_err(|e| store_error("UpdateItem", &self.table, e))?;
        Ok(())
    }

    async fn release(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("delivery_key", Self::key(delivery))
            // Due again at once (not at the lease's end): the next sweep may retry it.
            .update_expression("SET #s = :released, not_before = claimed_at REMOVE claimed_at")
            .condition_expression("#s = :sending")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":released", s("released"))
            .expression_attribute_values(":sending", s("sending"));
        match update.send().await {
            // Not ours to release any more (sent, or never claimed): nothing to undo.
            Err(e) if is_conditional_check_failed(&e) => Ok(()),
            Err(e) => Err(store_error("UpdateItem", &self.table, e)),
            Ok(_) => Ok(()),
        }
    }

    async fn defer(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let body = serde_dynamo::to_item(delivery).map_err(|_| malformed("PutItem", &self.table, "delivery"))?;
        // No `not_before` means "now": due at once.
        let not_before = delivery.not_before.unwrap_or(DateTime::UNIX_EPOCH);
        let item = HashMap::from([
            ("delivery_key".to_owned(), Self::key(delivery)),
            ("status".to_owned(), s("deferred")),
            ("not_before".to_owned(), s(&timestamp(not_before))),
            ("due_shard".to_owned(), s(DUE_SHARD)),
            ("delivery".to_owned(), AttributeValue::M(body)),
            // Counted from when it is due (now, for one due at once).
            (EXPIRES_AT.to_owned(), self.expires_at(delivery.not_before.unwrap_or_else(Utc::now))),
        ]);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(delivery_key)");
        match put.send().await {
            // Already deferred, claimed or sent by an earlier attempt.
            Err(e) if is_conditional_check_failed(&e) => Ok(()),
            Err(e) => Err(store_error("PutItem", &self.table, e)),
            Ok(_) => Ok(()),
        }
    }

    /// A Query on [`DUE_INDEX`]: what is due by `now`, so a run costs what is due.
    /// Also returns deferred deliveries whose sender died mid-send (a stale
    /// claim), so none is lost.
    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<Delivery>, StoreError> {
        let mut deliveries = Vec::new();
        let mut items = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("due_shard = :shard AND not_before <= :now")
            .filter_expression("#s IN (:deferred, :released) OR (#s = :sending AND claimed_at < :stale)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":shard", s(DUE_SHARD))
            .expression_attribute_values(":now", s(&timestamp(now)))
            .expression_attribute_values(":deferred", s("deferred"))
            .expression_attribute_values(":released", s("released"))
            .expression_attribute_values(":sending", s("sending"))
            .expression_attribute_values(":stale", s(&timestamp(now - self.lease)))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| store_error("Query", &self.table, e))?;
            {
                let parsed = match item.get("delivery") {
                    Some(AttributeValue::M(body)) => serde_dynamo::from_item::<_, Delivery>(body.clone()).ok(),
                    _ => None,
                };
                match parsed {
                    Some(delivery) => deliveries.push(delivery),
                    // One bad item must not hold back every other deferred message;
                    // the key (alert, caregiver id, channel) is not personal data.
                    None => tracing::error!(
                        table = %self.table,
                        delivery_key = item.get("delivery_key").and_then(|v| v.as_s().ok()).map_or("?", |k| k.as_str()),
                        "deferred delivery unreadable, not sent"
                    ),
                }
            }
        }
        Ok(deliveries)
    }

    async fn cancel(&self, delivery: &Delivery) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("delivery_key", Self::key(delivery))
            .update_expression("SET #s = :cancelled REMOVE due_shard")
            // `sending` too: a claim whose sender died (due again) is dropped like a
            // deferred step; a live sender's confirm still records its send.
            .condition_expression("#s IN (:deferred, :released, :sending)")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":cancelled", s("cancelled"))
            .expression_attribute_values(":deferred", s("deferred"))
            .expression_attribute_values(":released", s("released"))
            .expression_attribute_values(":sending", s("sending"));
        match update.send().await {
            // Claimed or sent meanwhile, or never deferred: nothing to drop.
            Err(e) if is_conditional_check_failed(&e) => Ok(()),
            Err(e) => Err(store_error("UpdateItem", &self.table, e)),
            Ok(_) => Ok(()),
        }
    }

    /// One strongly consistent GetItem each: asked only about the few steps of an
    /// alert cancelled late, so a batch call would save nothing worth its retries.
    async fn went_out(&self, deliveries: &[Delivery]) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("delivery_key", Self::key(delivery))
                .projection_expression("#s")
                .expression_attribute_names("#s", "status")
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| store_error("GetItem", &self.table, e))?;
            let status = item.item.as_ref().and_then(|i| i.get("status")).and_then(|v| v.as_s().ok());
            out.push(matches!(status.map(String::as_str), Some("sent" | "sending")));
        }
        Ok(out)
    }
}

impl TextLog for DynamoDeliveryLog {
    async fn texted(&self, phone: &str, limit: usize) -> Result<Vec<Texted>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PHONE_INDEX)
            .key_condition_expression("phone = :phone")
            .expression_attribute_values(":phone", s(phone))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| store_error("Query", &self.table, e))?;
        let mut texted = Vec::new();
        for item in out.items.unwrap_or_default() {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            match (text("alert_id"), text("caregiver_id"), text("sent_at").as_deref().and_then(parse_timestamp)) {
                (Some(alert_id), Some(caregiver_id), Some(sent_at)) => {
                    texted.push(Texted { alert_id, caregiver_id, sent_at })
                }
                _ => return Err(malformed("Query", &self.table, "alert_id, caregiver_id or sent_at")),
            }
        }
        Ok(texted)
    }
}
