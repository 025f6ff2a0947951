//! Per-container caches of lookups that rarely change: device links (ingest)
//! and wearer profiles (the alert path). A Lambda container lives for minutes to
//! hours and serves many batches; a short TTL saves a read per upload or per
//! wearer and batch, at the cost of seeing a change up to one TTL late.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::care::WearerProfile;
use crate::ports::{DeviceDirectory, DirectoryError, StoreError, WearerDirectory};
use crate::registry::DeviceLink;

/// Values by key, each kept for `ttl` after it was fetched (absent ones for
/// `negative_ttl`). When full it is emptied rather than evicting carefully: it
/// only saves reads.
#[derive(Debug)]
pub struct TtlCache<V> {
    ttl: Duration,
    negative_ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<String, (Instant, Option<V>)>>,
}

impl<V: Clone> TtlCache<V> {
    pub fn new(ttl: Duration, negative_ttl: Duration, max_entries: usize) -> Self {
        Self { ttl, negative_ttl, max_entries, entries: Mutex::new(HashMap::new()) }
    }

    /// The cached value of `key` as of `now`: `None` on a miss, `Some(None)`
    /// for a cached absence.
    pub fn get(&self, key: &str, now: Instant) -> Option<Option<V>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (at, value) = entries.get(key)?;
        let ttl = if value.is_some() { self.ttl } else { self.negative_ttl };
        (now.saturating_duration_since(*at) < ttl).then(|| value.clone())
    }

    pub fn put(&self, key: &str, now: Instant, value: Option<V>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries {
            entries.clear();
        }
        entries.insert(key.to_owned(), (now, value));
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Wearer profiles cached for `ttl` (a TTL of zero turns the cache off).
///
/// Only found profiles are kept: a wearer without a profile is an operator's
/// error (their alerts are stored but nobody can be told), and caching that
/// answer would keep a profile registered a moment later from being used.
/// Lookup errors are never cached.
#[derive(Debug)]
pub struct CachedWearers<W> {
    inner: W,
    cache: TtlCache<WearerProfile>,
}

impl<W> CachedWearers<W> {
    pub fn new(inner: W, ttl: Duration) -> Self {
        Self { inner, cache: TtlCache::new(ttl, Duration::ZERO, 10_000) }
    }

    pub fn inner(&self) -> &W {
        &self.inner
    }
}

impl<W: WearerDirectory + Sync> CachedWearers<W> {
    /// Looks a wearer up as of `now` (exposed so tests can move the clock).
    pub async fn wearer_at(&self, wearer_id: &str, now: Instant) -> Result<Option<WearerProfile>, StoreError> {
        if let Some(hit) = self.cache.get(wearer_id, now) {
            return Ok(hit);
        }
        let profile = self.inner.wearer(wearer_id).await?;
        if profile.is_some() {
            self.cache.put(wearer_id, now, profile.clone());
        }
        Ok(profile)
    }
}

impl<W: WearerDirectory + Sync> WearerDirectory for CachedWearers<W> {
    async fn wearer(&self, wearer_id: &str) -> Result<Option<WearerProfile>, StoreError> {
        self.wearer_at(wearer_id, Instant::now()).await
    }
}

/// Caches registry lookups for the life of a Lambda container.
///
/// Found devices are kept for `ttl`, unknown ones for `negative_ttl` (shorter,
/// so a band registered a moment ago starts working soon, while a flood of
/// uploads for unknown devices still does not reach the table). Lookup errors are
/// never cached.
#[derive(Debug)]
pub struct CachedDirectory<D> {
    inner: D,
    cache: TtlCache<DeviceLink>,
}

impl<D> CachedDirectory<D> {
    pub fn new(inner: D, ttl: Duration, negative_ttl: Duration) -> Self {
        Self { inner, cache: TtlCache::new(ttl, negative_ttl, 10_000) }
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<D: DeviceDirectory + Sync> CachedDirectory<D> {
    /// Looks a device up as of `now` (exposed so tests can move the clock).
    pub async fn device_at(&self, device_id: &str, now: Instant) -> Result<Option<DeviceLink>, DirectoryError> {
        if let Some(hit) = self.cache.get(device_id, now) {
            return Ok(hit);
        }
        let link = self.inner.device(device_id).await?;
        self.cache.put(device_id, now, link.clone());
        Ok(link)
    }
}

impl<D: DeviceDirectory + Sync> DeviceDirectory for CachedDirectory<D> {
    async fn device(&self, device_id: &str) -> Result<Option<DeviceLink>, DirectoryError> {
        self.device_at(device_id, Instant::now()).await
    }
}
