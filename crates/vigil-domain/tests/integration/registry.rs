//! Who may upload for a band, and the per-container cache of registry lookups.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use vigil_domain::cache::CachedDirectory;
use vigil_domain::ports::{DeviceDirectory, DirectoryError};
use vigil_domain::registry::{Denied, DeviceLink, authorize};

fn link(device: &str, users: &[&str]) -> DeviceLink {
    DeviceLink {
        device_id: device.into(),
        wearer_id: format!("wearer-of-{device}"),
        app_users: users.iter().map(|u| (*u).to_owned()).collect(),
        time_zone: "Europe/Madrid".into(),
    }
}

// ---------------------------------------------------------------------------
// authorize

#[test]
fn a_caller_without_identity_is_refused_before_the_device_is_considered() {
    let mine = link("band-1", &["user-1"]);
    for caller in [None, Some("")] {
        assert_eq!(authorize(caller, Some(&mine)), Err(Denied::NoIdentity), "{caller:?}");
        assert_eq!(authorize(caller, None), Err(Denied::NoIdentity), "{caller:?}");
    }
}

#[test]
fn unknown_and_foreign_devices_are_refused_alike() {
    // One answer for both, so the API cannot be used to probe which bands exist.
    let foreign = link("band-2", &["user-2"]);
    let unknown = authorize(Some("user-1"), None);
    let not_mine = authorize(Some("user-1"), Some(&foreign));
    assert_eq!(unknown, Err(Denied::NotYourDevice));
    assert_eq!(not_mine, unknown);
}

#[test]
fn a_linked_user_is_allowed_and_gets_the_link() {
    let shared = link("band-1", &["daughter", "son", "carer"]);
    for user in ["daughter", "son", "carer"] {
        assert_eq!(authorize(Some(user), Some(&shared)), Ok(&shared), "{user}");
    }
}

#[test]
fn a_caller_must_match_a_linked_user_exactly() {
    let mine = link("band-1", &["user-1"]);
    for caller in ["user-", "user-10", "USER-1", " user-1"] {
        assert_eq!(authorize(Some(caller), Some(&mine)), Err(Denied::NotYourDevice), "{caller:?}");
    }
    assert_eq!(authorize(Some("anyone"), Some(&link("band-3", &[]))), Err(Denied::NotYourDevice));
}

// ---------------------------------------------------------------------------
// CachedDirectory

/// An in-memory registry that counts lookups and can be told to fail.
#[derive(Debug, Default)]
struct FakeDirectory {
    links: Mutex<HashMap<String, DeviceLink>>,
    calls: AtomicUsize,
    failures_left: AtomicUsize,
}

impl FakeDirectory {
    fn with(links: &[DeviceLink]) -> Self {
        let fake = Self::default();
        for l in links {
            fake.register(l.clone());
        }
        fake
    }

    fn register(&self, l: DeviceLink) {
        self.links.lock().unwrap().insert(l.device_id.clone(), l);
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl DeviceDirectory for FakeDirectory {
    async fn device(&self, device_id: &str) -> Result<Option<DeviceLink>, DirectoryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let failing = self.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        if failing.is_ok() {
            return Err(DirectoryError { source: "throttled".into() });
        }
        Ok(self.links.lock().unwrap().get(device_id).cloned())
    }
}

const TTL: Duration = Duration::from_secs(300);
const NEGATIVE_TTL: Duration = Duration::from_secs(30);

fn cached(fake: FakeDirectory) -> CachedDirectory<FakeDirectory> {
    CachedDirectory::new(fake, TTL, NEGATIVE_TTL)
}

#[tokio::test]
async fn a_found_device_is_served_from_the_cache_within_the_ttl() {
    let dir = cached(FakeDirectory::with(&[link("band-1", &["user-1"])]));
    let t0 = Instant::now();
    let first = dir.device_at("band-1", t0).await.unwrap();
    assert_eq!(first, Some(link("band-1", &["user-1"])));
    for later in [Duration::ZERO, Duration::from_secs(1), TTL - Duration::from_millis(1)] {
        assert_eq!(dir.device_at("band-1", t0 + later).await.unwrap(), first, "{later:?}");
    }
    assert_eq!(dir.inner().calls(), 1);
}

#[tokio::test]
async fn after_the_ttl_the_registry_is_asked_again_and_changes_are_seen() {
    let dir = cached(FakeDirectory::with(&[link("band-1", &["user-1"])]));
    let t0 = Instant::now();
    dir.device_at("band-1", t0).await.unwrap();
    // A second carer is linked; the cache may hide it for at most the TTL.
    dir.inner().register(link("band-1", &["user-1", "user-2"]));
    assert_eq!(dir.device_at("band-1", t0 + TTL).await.unwrap(), Some(link("band-1", &["user-1", "user-2"])));
    assert_eq!(dir.inner().calls(), 2);
    // The refreshed entry is cached again from the time it was fetched.
    dir.device_at("band-1", t0 + TTL + TTL - Duration::from_millis(1)).await.unwrap();
    assert_eq!(dir.inner().calls(), 2);
}

#[tokio::test]
async fn unknown_devices_are_cached_only_for_the_shorter_negative_ttl() {
    let dir = cached(FakeDirectory::default());
    let t0 = Instant::now();
    assert_eq!(dir.device_at("band-new", t0).await.unwrap(), None);
    // Registered a moment later: a flood of retries still does not reach the registry...
    dir.inner().register(link("band-new", &["user-1"]));
    assert_eq!(dir.device_at("band-new", t0 + NEGATIVE_TTL - Duration::from_millis(1)).await.unwrap(), None);
    assert_eq!(dir.inner().calls(), 1);
    // ...but the band works once the negative TTL is over, long before the full TTL.
    assert_eq!(dir.device_at("band-new", t0 + NEGATIVE_TTL).await.unwrap(), Some(link("band-new", &["user-1"])));
    assert_eq!(dir.inner().calls(), 2);
    // From then on it is a found device, kept for the full TTL.
    dir.device_at("band-new", t0 + NEGATIVE_TTL + NEGATIVE_TTL).await.unwrap();
    assert_eq!(dir.inner().calls(), 2);
}

#[tokio::test]
async fn lookup_errors_are_not_cached() {
    let fake = FakeDirectory::with(&[link("band-1", &["user-1"])]);
    fake.failures_left.store(1, Ordering::SeqCst);
    let dir = cached(fake);
    let t0 = Instant::now();
    assert!(dir.device_at("band-1", t0).await.is_err());
    // The very next lookup goes to the registry, and its answer is cached.
    assert_eq!(dir.device_at("band-1", t0).await.unwrap(), Some(link("band-1", &["user-1"])));
    assert_eq!(dir.device_at("band-1", t0 + Duration::from_secs(1)).await.unwrap(), Some(link("band-1", &["user-1"])));
    assert_eq!(dir.inner().calls(), 2);
}

#[tokio::test]
async fn each_device_has_its_own_entry() {
    let dir = cached(FakeDirectory::with(&[link("band-1", &["user-1"]), link("band-2", &["user-2"])]));
    let t0 = Instant::now();
    assert_eq!(dir.device_at("band-1", t0).await.unwrap().unwrap().device_id, "band-1");
    assert_eq!(dir.device_at("band-2", t0).await.unwrap().unwrap().device_id, "band-2");
    assert_eq!(dir.device_at("band-3", t0).await.unwrap(), None);
    assert_eq!(dir.device_at("band-1", t0).await.unwrap().unwrap().device_id, "band-1");
    assert_eq!(dir.inner().calls(), 3);
}

#[tokio::test]
async fn the_cache_is_bounded() {
    // A flood of distinct unknown ids must not grow the cache without limit: at
    // some point it is emptied and early entries are looked up again.
    let dir = cached(FakeDirectory::with(&[link("band-1", &["user-1"])]));
    let t0 = Instant::now();
    dir.device_at("band-1", t0).await.unwrap();
    for i in 0..50_000 {
        dir.device_at(&format!("probe-{i}"), t0).await.unwrap();
    }
    let before = dir.inner().calls();
    dir.device_at("band-1", t0).await.unwrap();
    assert_eq!(dir.inner().calls(), before + 1);
}

#[tokio::test]
async fn the_directory_interface_uses_the_cache() {
    // What handlers call: `DeviceDirectory::device`, on the real clock.
    let dir = cached(FakeDirectory::with(&[link("band-1", &["user-1"])]));
    for _ in 0..3 {
        assert_eq!(DeviceDirectory::device(&dir, "band-1").await.unwrap(), Some(link("band-1", &["user-1"])));
    }
    assert_eq!(dir.inner().calls(), 1);
}
