//! [`CareStore`] on DynamoDB: the caregivers' API's reads and writes, each through
//! the adapter of its table.

use chrono::{NaiveDate, NaiveTime};
use vigil_domain::alerts::RuleKind;
use vigil_domain::care::{Caregiver, Snooze, WearerProfile};
use vigil_domain::days::DaySummary;
use vigil_domain::lifecycle::{AlertRecord, Transition};
use vigil_domain::ports::{AlertPage, AlertQuery, CareStore, DaysStore, StoreError, WearerDirectory};
use vigil_domain::vitals::{Shadow, VitalsItem, Window};

use crate::alerts::DynamoAlertStore;
use crate::days::DynamoDays;
use crate::registry::WriteError;
use crate::vitals::DynamoVitalsStore;
use crate::wearers::{DynamoCaregiverLinks, DynamoWearerDirectory};

#[derive(Debug, Clone)]
pub struct DynamoCareStore {
    pub wearers: DynamoWearerDirectory,
    pub links: DynamoCaregiverLinks,
    pub alerts: DynamoAlertStore,
    pub vitals: DynamoVitalsStore,
    pub days: DynamoDays,
}

impl CareStore for DynamoCareStore {
    async fn linked_wearers(&self, sub: &str) -> Result<Vec<String>, StoreError> {
        self.links.wearers_of(sub).await
    }

    async fn profile(&self, wearer_id: &str) -> Result<Option<WearerProfile>, StoreError> {
        self.wearers.wearer(wearer_id).await
    }

    async fn snooze(&self, wearer_id: &str, rule: RuleKind, snooze: &Snooze) -> Result<bool, StoreError> {
        self.wearers.snooze(wearer_id, rule, snooze).await
    }

    async fn shadow(&self, wearer_id: &str) -> Result<Option<Shadow>, StoreError> {
        self.vitals.latest(wearer_id).await
    }

    async fn alert(&self, alert_id: &str) -> Result<Option<AlertRecord>, StoreError> {
        self.alerts.get(alert_id).await
    }

    async fn alerts_of(&self, wearer_id: &str, query: &AlertQuery) -> Result<AlertPage, StoreError> {
        self.alerts.of_wearer(wearer_id, query).await
    }

    async fn transition(
        &self,
        alert_id: &str,
        step: &Transition,
        note: Option<&str>,
    ) -> Result<Option<AlertRecord>, StoreError> {
        self.alerts.transition(alert_id, step, note).await
    }

    async fn vitals(&self, wearer_id: &str, window: &Window) -> Result<Vec<VitalsItem>, StoreError> {
        self.vitals.query_range(wearer_id, window.from, window.last()).await
    }

    async fn days(&self, wearer_id: &str, from: NaiveDate, to: NaiveDate) -> Result<Vec<DaySummary>, StoreError> {
        self.days.days(wearer_id, from, to).await
    }

    /// Read, change, write the one record (`put` validates it). A record written
    /// by someone else between the read and the write is overwritten: the record
    /// changes rarely, and only through this route and the operators' commands.
    async fn set_daily_at(&self, caregiver_id: &str, at: Option<NaiveTime>) -> Result<Option<Caregiver>, StoreError> {
        let directory = self.wearers.caregivers();
        let Some(mut record) = directory.caregiver(caregiver_id).await? else {
            return Ok(None);
        };
        record.daily_at = at;
        match directory.put(&record).await {
            Ok(()) => Ok(Some(record)),
            Err(WriteError::Store(e)) => Err(e),
            // The stored record no longer validates: nothing a retry changes. Its
            // problems may quote values (a phone number): only the fields are kept.
            Err(WriteError::Invalid(invalid)) => Err(StoreError {
                operation: "PutItem",
                resource: directory.table().to_owned(),
                retryable: false,
                source: format!("the stored caregiver record does not validate: {}", invalid.fields().join(", "))
                    .into(),
            }),
        }
    }
}
