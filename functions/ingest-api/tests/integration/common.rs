//! In-memory ports and sample events shared by the handler tests.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use vigil_domain::alerts::Thresholds;
use vigil_domain::ports::{
    BoxError, DeviceDirectory, DirectoryError, PublishError, PublishReport, RecordPublisher, StoreError, StreamRecord,
    WearerLimits,
};
use vigil_domain::registry::DeviceLink;
pub use vigil_domain::upload::policy::Intervals;

pub const V2_UPLOAD: &[u8] = include_bytes!("../../../../events/apigw-v2-upload.json");
pub const V1_UPLOAD: &[u8] = include_bytes!("../../../../events/apigw-v1-upload.json");
pub const V2_MIXED: &[u8] = include_bytes!("../../../../events/apigw-v2-upload-mixed.json");
pub const V2_INVALID: &[u8] = include_bytes!("../../../../events/apigw-v2-upload-invalid.json");
pub const V2_UNAUTHORIZED: &[u8] = include_bytes!("../../../../events/apigw-v2-upload-unauthorized.json");
pub const V2_SOS: &[u8] = include_bytes!("../../../../events/apigw-v2-upload-sos.json");

/// The sample events were recorded at this instant.
pub fn event_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().with_timezone(&Utc)
}

pub fn request(event: &[u8]) -> Request {
    lambda_http::request::from_str(std::str::from_utf8(event).unwrap()).unwrap()
}

/// A sample event with its JSON edited.
pub fn edited(event: &[u8], edit: impl FnOnce(&mut Value)) -> Request {
    let mut v: Value = serde_json::from_slice(event).unwrap();
    edit(&mut v);
    lambda_http::request::from_str(&v.to_string()).unwrap()
}

pub fn body_json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

pub fn band_0001() -> DeviceLink {
    DeviceLink {
        device_id: "band-0001".into(),
        wearer_id: "wearer-42".into(),
        app_users: vec!["app-user-1".into(), "app-user-2".into()],
        time_zone: "Europe/Madrid".into(),
    }
}

/// Wearers' limits in memory: wearer-42 has a heart-rate limit of 110 bpm.
#[derive(Debug)]
pub struct MemoryLimits {
    pub limits: HashMap<String, Thresholds>,
    /// Every read fails.
    pub fail: bool,
    /// Every read takes this long first.
    pub delay: Duration,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        let wearer_42 = Thresholds { heart_rate_high_bpm: 110, ..Thresholds::default() };
        Self { limits: HashMap::from([("wearer-42".to_owned(), wearer_42)]), fail: false, delay: Duration::ZERO }
    }
}

impl WearerLimits for MemoryLimits {
    async fn limits(&self, wearer_id: &str) -> Result<Option<Thresholds>, StoreError> {
        tokio::time::sleep(self.delay).await;
        if self.fail {
            return Err(vigil_testkit::throttled("GetItem"));
        }
        Ok(self.limits.get(wearer_id).cloned())
    }
}

#[derive(Debug, Default)]
pub struct MemoryDirectory {
    pub devices: HashMap<String, DeviceLink>,
    pub fail: bool,
    pub calls: Mutex<usize>,
}

impl MemoryDirectory {
    pub fn with(links: impl IntoIterator<Item = DeviceLink>) -> Self {
        Self { devices: links.into_iter().map(|l| (l.device_id.clone(), l)).collect(), ..Default::default() }
    }
}

impl DeviceDirectory for MemoryDirectory {
    async fn device(&self, device_id: &str) -> Result<Option<DeviceLink>, DirectoryError> {
        *self.calls.lock().unwrap() += 1;
        if self.fail {
            return Err(DirectoryError { source: "table vigil-devices: connection reset (internal detail)".into() });
        }
        Ok(self.devices.get(device_id).cloned())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishMode {
    Ok,
    TimesOut,
    Refuses,
}

#[derive(Debug)]
pub struct MemoryPublisher {
    pub mode: PublishMode,
    pub records: Mutex<Vec<StreamRecord>>,
    pub budgets: Mutex<Vec<Duration>>,
}

impl MemoryPublisher {
    pub fn new(mode: PublishMode) -> Self {
        Self { mode, records: Mutex::new(Vec::new()), budgets: Mutex::new(Vec::new()) }
    }
    pub fn records(&self) -> Vec<StreamRecord> {
        self.records.lock().unwrap().clone()
    }
}

impl RecordPublisher for MemoryPublisher {
    async fn publish(&self, records: Vec<StreamRecord>, budget: Duration) -> Result<PublishReport, PublishError> {
        self.budgets.lock().unwrap().push(budget);
        match self.mode {
            PublishMode::Ok => {
                self.records.lock().unwrap().extend(records);
                Ok(PublishReport { calls: 1, resent: 0 })
            }
            PublishMode::TimesOut => Err(PublishError::Incomplete { unwritten: records.len(), total: records.len() }),
            PublishMode::Refuses => Err(PublishError::Refused {
                stream: "vigil-readings".into(),
                source: BoxError::from("AccessDeniedException: arn:aws:iam::123456789012:role/secret-role"),
            }),
        }
    }
}
