//! An in-memory vitals store for vitals-writer's handler tests. It keeps what
//! DynamoDB would (items by key) and records every write, so tests can assert
//! that nothing was written twice, and reads the wearer's latest state as the
//! adapter does.

use std::collections::BTreeMap;
use std::sync::Mutex;

use vigil_domain::ports::VitalsStore;
use vigil_domain::vitals::{Shadow, VitalsItem, VitalsWriteError, WriteReport};

use crate::{Faults, throttled};

/// The vitals table: items by (wearer, sort key).
#[derive(Debug, Default)]
pub struct MemoryVitals {
    pub items: Mutex<BTreeMap<(String, String), VitalsItem>>,
    /// Every successful item write, rewrites included.
    pub writes: Mutex<usize>,
    /// The next n calls write nothing and fail as throttled.
    pub faults: Faults,
    /// The next call writes only its first n items; the rest stay unprocessed.
    pub partial: Mutex<Option<usize>>,
    /// Calls made so far.
    pub calls: Mutex<usize>,
    /// Calls (numbered from 0) that write nothing and fail as throttled.
    pub fail_calls: Mutex<Vec<usize>>,
}

impl MemoryVitals {
    pub fn count(&self) -> usize {
        self.items.lock().unwrap().len()
    }

    pub fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }

    pub fn writes(&self) -> usize {
        *self.writes.lock().unwrap()
    }

    pub fn all(&self) -> Vec<VitalsItem> {
        self.items.lock().unwrap().values().cloned().collect()
    }

    /// The wearer's latest state from the items of their newest span, as the
    /// DynamoDB adapter reads it.
    pub fn latest(&self, wearer_id: &str) -> Option<Shadow> {
        let items: Vec<VitalsItem> = self.all().into_iter().filter(|i| i.wearer_id == wearer_id).collect();
        let newest = items.iter().map(|i| i.start).max()?;
        let span: Vec<VitalsItem> = items.into_iter().filter(|i| i.start == newest).collect();
        Shadow::latest(&span).unwrap()
    }
}

impl VitalsStore for MemoryVitals {
    async fn put_items(&self, items: &[VitalsItem]) -> Result<WriteReport, VitalsWriteError> {
        let report = WriteReport { calls: 1, retries: 0 };
        let call = {
            let mut calls = self.calls.lock().unwrap();
            *calls += 1;
            *calls - 1
        };
        if self.faults.take() || self.fail_calls.lock().unwrap().contains(&call) {
            return Err(VitalsWriteError::Failed {
                total: items.len(),
                unwritten: (0..items.len()).collect(),
                report,
                source: throttled("BatchWriteItem"),
            });
        }
        let limit = self.partial.lock().unwrap().take().unwrap_or(items.len());
        let mut stored = self.items.lock().unwrap();
        for item in items.iter().take(limit) {
            stored.insert((item.wearer_id.clone(), item.sort_key()), item.clone());
            *self.writes.lock().unwrap() += 1;
        }
        if limit < items.len() {
            return Err(VitalsWriteError::Deadline {
                table: "memory".into(),
                total: items.len(),
                unwritten: (limit..items.len()).collect(),
                report,
            });
        }
        Ok(report)
    }
}
