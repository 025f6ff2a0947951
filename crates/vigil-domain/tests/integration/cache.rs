//! The wearer-profile cache of the alert path, and the bound of every cache.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vigil_domain::cache::{CachedWearers, TtlCache};
use vigil_domain::care::WearerProfile;
use vigil_domain::ports::{StoreError, WearerDirectory};

/// Profiles by id, counting lookups; `fail_next` makes the next lookup fail.
#[derive(Debug, Default)]
struct FakeWearers {
    profiles: Mutex<HashMap<String, WearerProfile>>,
    calls: Mutex<usize>,
    fail_next: Mutex<bool>,
}

impl FakeWearers {
    fn register(&self, wearer_id: &str, name: &str) {
        let profile = WearerProfile {
            snoozes: Default::default(),
            escalation: Default::default(),
            wearer_id: wearer_id.into(),
            name: name.into(),
            time_zone: "Europe/Madrid".into(),
            thresholds: Default::default(),
            caregivers: Vec::new(),
        };
        self.profiles.lock().unwrap().insert(wearer_id.into(), profile);
    }

    fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

impl WearerDirectory for FakeWearers {
    async fn wearer(&self, wearer_id: &str) -> Result<Option<WearerProfile>, StoreError> {
        *self.calls.lock().unwrap() += 1;
        if std::mem::take(&mut *self.fail_next.lock().unwrap()) {
            return Err(StoreError {
                operation: "GetItem",
                resource: "wearers".into(),
                retryable: true,
                source: "throttled".into(),
            });
        }
        Ok(self.profiles.lock().unwrap().get(wearer_id).cloned())
    }
}

const TTL: Duration = Duration::from_secs(60);

fn name(p: Option<WearerProfile>) -> Option<String> {
    p.map(|p| p.name)
}

#[tokio::test]
async fn a_profile_is_read_once_per_ttl_and_a_change_is_seen_after_it() {
    let cache = CachedWearers::new(FakeWearers::default(), TTL);
    cache.inner().register("w-1", "Carmen");
    let t0 = Instant::now();
    for later in [Duration::ZERO, Duration::from_secs(1), TTL - Duration::from_millis(1)] {
        assert_eq!(name(cache.wearer_at("w-1", t0 + later).await.unwrap()).as_deref(), Some("Carmen"));
    }
    assert_eq!(cache.inner().calls(), 1);
    cache.inner().register("w-1", "Carmen Ruiz");
    assert_eq!(name(cache.wearer_at("w-1", t0 + TTL).await.unwrap()).as_deref(), Some("Carmen Ruiz"));
    assert_eq!(cache.inner().calls(), 2);
}

#[tokio::test]
async fn a_missing_profile_is_not_cached_so_one_registered_later_is_used_at_once() {
    let cache = CachedWearers::new(FakeWearers::default(), TTL);
    let t0 = Instant::now();
    assert_eq!(cache.wearer_at("w-new", t0).await.unwrap(), None);
    cache.inner().register("w-new", "Ana");
    assert_eq!(name(cache.wearer_at("w-new", t0).await.unwrap()).as_deref(), Some("Ana"));
}

#[tokio::test]
async fn errors_are_not_cached() {
    let cache = CachedWearers::new(FakeWearers::default(), TTL);
    cache.inner().register("w-1", "Carmen");
    *cache.inner().fail_next.lock().unwrap() = true;
    let t0 = Instant::now();
    assert!(cache.wearer_at("w-1", t0).await.is_err());
    assert_eq!(name(cache.wearer_at("w-1", t0).await.unwrap()).as_deref(), Some("Carmen"));
    assert_eq!(cache.inner().calls(), 2);
}

#[tokio::test]
async fn a_zero_ttl_reads_every_time_through_the_port() {
    let cache = CachedWearers::new(FakeWearers::default(), Duration::ZERO);
    cache.inner().register("w-1", "Carmen");
    for _ in 0..3 {
        assert!(WearerDirectory::wearer(&cache, "w-1").await.unwrap().is_some());
    }
    assert_eq!(cache.inner().calls(), 3);
}

#[test]
fn a_full_cache_is_emptied_not_grown() {
    let cache = TtlCache::new(TTL, TTL, 3);
    let t0 = Instant::now();
    for key in ["a", "b", "c"] {
        cache.put(key, t0, Some(1));
    }
    assert_eq!(cache.len(), 3);
    cache.put("d", t0, Some(2));
    assert_eq!((cache.len(), cache.get("a", t0), cache.get("d", t0)), (1, None, Some(Some(2))));
}
