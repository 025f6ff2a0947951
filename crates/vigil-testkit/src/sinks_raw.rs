//! In-memory ports of raw-archiver: the data lake's object store and the
//! curated-file registry, with fault injection.

use std::collections::BTreeMap;
use std::sync::Mutex;

use vigil_domain::ports::{CuratedFile, CuratedFileRegistry, ObjectStore, StoreError};

use crate::{Faults, throttled};

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub content_type: String,
}

#[derive(Debug, Default)]
pub struct MemoryObjectStore {
    pub objects: Mutex<BTreeMap<String, StoredObject>>,
    /// PutObject calls, failed ones included.
    pub puts: Mutex<usize>,
    /// The next n puts fail (S3 throttling or a 5xx).
    pub faults: Faults,
    /// Puts of keys under this prefix fail until it is cleared.
    pub failing_prefix: Mutex<Option<String>>,
}

impl MemoryObjectStore {
    /// Keys under `prefix`, in order.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.objects.lock().unwrap().keys().filter(|k| k.starts_with(prefix)).cloned().collect()
    }

    pub fn get(&self, key: &str) -> Option<StoredObject> {
        self.objects.lock().unwrap().get(key).cloned()
    }

    /// Every object, for comparing two states byte for byte.
    pub fn snapshot(&self) -> BTreeMap<String, StoredObject> {
        self.objects.lock().unwrap().clone()
    }
}

impl ObjectStore for MemoryObjectStore {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        *self.puts.lock().unwrap() += 1;
        let refused = self.failing_prefix.lock().unwrap().as_deref().is_some_and(|p| key.starts_with(p));
        if self.faults.take() || refused {
            return Err(throttled("PutObject"));
        }
        self.objects
            .lock()
            .unwrap()
            .insert(key.to_owned(), StoredObject { body, content_type: content_type.to_owned() });
        Ok(())
    }
}

/// A registered file and its status (`pending` until a loader marks it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub file: CuratedFile,
    pub status: String,
}

#[derive(Debug, Default)]
pub struct MemoryCuratedFiles {
    pub files: Mutex<BTreeMap<String, Registered>>,
    pub faults: Faults,
}

impl MemoryCuratedFiles {
    pub fn all(&self) -> Vec<Registered> {
        self.files.lock().unwrap().values().cloned().collect()
    }

    /// What the warehouse loader does after loading a file.
    pub fn mark(&self, key: &str, status: &str) {
        if let Some(r) = self.files.lock().unwrap().get_mut(key) {
            r.status = status.to_owned();
        }
    }
}

impl CuratedFileRegistry for MemoryCuratedFiles {
    async fn register(&self, file: &CuratedFile) -> Result<bool, StoreError> {
        if self.faults.take() {
            return Err(throttled("PutItem"));
        }
        let mut files = self.files.lock().unwrap();
        if files.contains_key(&file.key) {
            return Ok(false);
        }
        files.insert(
            file.key.clone(),
            Registered { file: file.clone(), status: vigil_domain::ports::STATUS_PENDING.to_owned() },
        );
        Ok(true)
    }
}
