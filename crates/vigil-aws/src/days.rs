//! Each wearer's daily picture: [`DynamoDays`].
//!
//! Item layout (table keyed by `wearer_id` S + `date` S, the wearer's local date
//! `YYYY-MM-DD`): the [`DaySummary`] through serde_dynamo (its figures as numbers,
//! so an operator can read them), and `expires_at` N (DynamoDB TTL: the date plus
//! the retention days). Personal data: the table is encrypted with the vitals'
//! key and nothing read from it is logged.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Days, NaiveDate, Utc};
use vigil_domain::days::DaySummary;
use vigil_domain::lifecycle::AlertRecord;
use vigil_domain::ports::{AlertQuery, DayInputs, DaysStore, StoreError, WearerPage};
use vigil_domain::vitals::VitalsItem;

use crate::alerts::DynamoAlertStore;
use crate::dynamo::{malformed, store_error};
use crate::vitals::DynamoVitalsStore;
use crate::wearers::DynamoWearerDirectory;

/// The partition key.
pub const WEARER_ID: &str = "wearer_id";
/// The sort key: the local date.
pub const DATE: &str = "date";
/// The TTL attribute.
pub const EXPIRES_AT: &str = "expires_at";
/// Default retention: a baseline looks back 56 days and an episode 60, so a day
/// is kept 90.
pub const DEFAULT_TTL_DAYS: u32 = 90;
/// The key of the item that keeps the daily job's scan position: a `wearer_id`
/// no wearer can have (ids never hold `#`: `vigil_domain::registry::check_id`).
pub const SCAN_POSITION_KEY: (&str, &str) = ("#daily-summary", "scan-position");
/// The scan position's attribute: the wearer id the next run starts after.
const AFTER: &str = "after";

#[derive(Debug, Clone)]
pub struct DynamoDays {
    client: aws_sdk_dynamodb::Client,
    table: String,
    ttl_days: u32,
}

impl DynamoDays {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>, ttl_days: u32) -> Self {
        Self { client, table: table.into(), ttl_days }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn expires_at(&self, date: NaiveDate) -> i64 {
        let end = date.checked_add_days(Days::new(u64::from(self.ttl_days))).unwrap_or(NaiveDate::MAX);
        end.and_hms_opt(0, 0, 0).map_or(i64::MAX, |t| t.and_utc().timestamp())
    }
}

impl DaysStore for DynamoDays {
    async fn put_day(&self, wearer_id: &str, day: &DaySummary) -> Result<(), StoreError> {
        let mut item: std::collections::HashMap<String, AttributeValue> =
            serde_dynamo::to_item(day).map_err(|_| malformed("PutItem", &self.table, "day"))?;
        item.insert(WEARER_ID.into(), AttributeValue::S(wearer_id.to_owned()));
        item.insert(EXPIRES_AT.into(), AttributeValue::N(self.expires_at(day.date).to_string()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_error("PutItem", &self.table, e))?;
        Ok(())
    }

    async fn days(&self, wearer_id: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<DaySummary>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#w = :w AND #d BETWEEN :from AND :to")
            .expression_attribute_names("#w", WEARER_ID)
            .expression_attribute_names("#d", DATE)
            .expression_attribute_values(":w", AttributeValue::S(wearer_id.to_owned()))
            .expression_attribute_values(":from", AttributeValue::S(from.to_string()))
            .expression_attribute_values(":to", AttributeValue::S(to.to_string()))
            .into_paginator()
            .items()
            .send();
        let mut days = Vec::new();
        while let Some(item) = pages.next().await {
            let mut item = item.map_err(|e| store_error("Query", &self.table, e))?;
            item.remove(WEARER_ID);
            item.remove(EXPIRES_AT);
            days.push(serde_dynamo::from_item(item).map_err(|_| malformed("Query", &self.table, "day"))?);
        }
        Ok(days)
    }

    async fn scan_position(&self) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(WEARER_ID, AttributeValue::S(SCAN_POSITION_KEY.0.into()))
            .key(DATE, AttributeValue::S(SCAN_POSITION_KEY.1.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", &self.table, e))?;
        match out.item().and_then(|item| item.get(AFTER)) {
            None => Ok(None),
            Some(AttributeValue::S(after)) => Ok(Some(after.clone())),
            Some(_) => Err(malformed("GetItem", &self.table, "scan position")),
        }
    }

    async fn set_scan_position(&self, after: Option<&str>) -> Result<(), StoreError> {
        let key = [
            (WEARER_ID.to_owned(), AttributeValue::S(SCAN_POSITION_KEY.0.into())),
            (DATE.to_owned(), AttributeValue::S(SCAN_POSITION_KEY.1.into())),
        ];
        match after {
            Some(after) => {
                let item = key.into_iter().chain([(AFTER.to_owned(), AttributeValue::S(after.to_owned()))]);
                let put = self.client.put_item().table_name(&self.table).set_item(Some(item.collect()));
                put.send().await.map_err(|e| store_error("PutItem", &self.table, e))?;
            }
            None => {
                let delete = self.client.delete_item().table_name(&self.table).set_key(Some(key.into()));
                delete.send().await.map_err(|e| store_error("DeleteItem", &self.table, e))?;
            }
        }
        Ok(())
    }
}

/// What the daily job reads, from the tables the other functions write: the
/// wearers (a Scan, with their caregivers), the vitals items and the alerts (the
/// alerts-by-wearer index).
#[derive(Debug, Clone)]
pub struct DynamoDayInputs {
    pub wearers: DynamoWearerDirectory,
    pub vitals: DynamoVitalsStore,
    pub alerts: DynamoAlertStore,
}

/// Alerts read per Query page (a wearer has a few a day).
const ALERTS_PAGE: usize = 100;

impl DayInputs for DynamoDayInputs {
    async fn wearers(&self, after: Option<&str>, limit: usize) -> Result<WearerPage, StoreError> {
        self.wearers.page(after, limit).await
    }

    async fn minutes(
        &self,
        wearer_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<VitalsItem>, StoreError> {
        let last = to - chrono::Duration::nanoseconds(1);
        self.vitals.query_range(wearer_id, from, last).await
    }

    async fn alerts(
        &self,
        wearer_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let mut query = AlertQuery { status: None, from: Some(from), to: Some(to), limit: ALERTS_PAGE, after: None };
        let mut alerts = Vec::new();
        loop {
            let page = self.alerts.of_wearer(wearer_id, &query).await?;
            alerts.extend(page.alerts);
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(alerts),
            }
        }
    }
}
