//! [`CareStore`] on DynamoDB: the caregivers' API's reads and writes, each through
//! the adapter of its table.

use vigil_domain::alerts::RuleKind;
use vigil_domain::care::{Snooze, WearerProfile};
use vigil_domain::lifecycle::{AlertRecord, Transition};
use vigil_domain::ports::{AlertPage, AlertQuery, CareStore, StoreError, WearerDirectory};
use vigil_domain::vitals::{Shadow, VitalsItem, Window};

use crate::alerts::DynamoAlertStore;
use crate::shadow::DynamoShadowStore;
use crate::vitals::DynamoVitalsStore;
use crate::wearers::{DynamoCaregiverLinks, DynamoWearerDirectory};

#[derive(Debug, Clone)]
pub struct DynamoCareStore {
    pub wearers: DynamoWearerDirectory,
    pub links: DynamoCaregiverLinks,
    pub alerts: DynamoAlertStore,
    pub shadows: DynamoShadowStore,
    pub vitals: DynamoVitalsStore,
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
        self.shadows.get(wearer_id).await
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
        self.vitals.query_minutes(wearer_id, window.from, window.last()).await
    }
}
