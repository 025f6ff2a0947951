//! `vigil devices …`, `vigil wearers …` and `vigil caregivers …` (and
//! `register-wearer` / `register-device`, the same code paths) run as the built
//! binary against the local endpoint, on tables of their own; what they wrote is
//! read back through the adapters the functions use.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use vigil_aws::registry::DynamoDeviceDirectory;
use vigil_aws::wearers::{DynamoCaregiverLinks, DynamoWearerDirectory};
use vigil_domain::ports::{DeviceDirectory, WearerDirectory};
use vigil_local::provision::Resources;

const SAMPLE: &str = include_str!("../../../../events/wearer-profile.json");

struct Registry {
    resources: Resources,
    devices: DynamoDeviceDirectory,
    wearers: DynamoWearerDirectory,
    links: DynamoCaregiverLinks,
    dir: PathBuf,
}

/// What one `vigil` run printed, and whether it succeeded.
struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Registry {
    async fn new(prefix: &str) -> Self {
        let sdk = vigil_local::endpoint::require().await;
        let resources = Resources { stream_shards: 1, ..Resources::unique(prefix) };
        vigil_local::provision::provision(&sdk, &resources).await.unwrap();
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let dir = std::env::temp_dir().join(vigil_local::endpoint::unique_name(prefix));
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            devices: DynamoDeviceDirectory::new(dynamodb.clone(), &resources.devices_table),
            wearers: DynamoWearerDirectory::new(
                dynamodb.clone(),
                &resources.wearers_table,
                &resources.caregivers_table,
            ),
            links: DynamoCaregiverLinks::new(dynamodb, &resources.caregiver_links_table),
            resources,
            dir,
        }
    }

    /// Runs the built `vigil` with the tables of this test.
    fn vigil(&self, args: &[&str]) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(args)
            .env("AWS_ENDPOINT_URL", vigil_local::endpoint::url())
            .env("DEVICES_TABLE", &self.resources.devices_table)
            .env("WEARERS_TABLE", &self.resources.wearers_table)
            .env("CAREGIVERS_TABLE", &self.resources.caregivers_table)
            .env("CAREGIVER_LINKS_TABLE", &self.resources.caregiver_links_table)
            .output()
            .unwrap();
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.vigil(args);
        assert!(out.ok, "vigil {args:?} failed: {}", out.stderr);
        out.stdout
    }

    fn refused(&self, args: &[&str]) -> String {
        let out = self.vigil(args);
        assert!(!out.ok, "vigil {args:?} succeeded: {}", out.stdout);
        out.stderr
    }

    fn file(&self, name: &str, profile: &Value) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, profile.to_string()).unwrap();
        path.display().to_string()
    }
}

fn sample() -> Value {
    serde_json::from_str(SAMPLE).unwrap()
}

#[tokio::test]
async fn devices_link_show_list_unlink_and_delete() {
    let r = Registry::new("registry-dev").await;
    // No --time-zone: the wearer's, from their profile.
    let file = r.file("w.json", &sample());
    r.ok(&["wearers", "put", "--file", &file]);
    let out = r.ok(&["devices", "link", "band-1", "--wearer", "wearer-42", "--app-user", "u-1", "--app-user", "u-2"]);
    assert!(out.contains("linked band-1  wearer wearer-42  app users u-1,u-2  time zone Europe/Madrid"), "{out}");
    // register-device is the same path.
    assert!(
        r.ok(&["register-device", "--device", "band-2", "--wearer", "w-2", "--app-user", "u-3"])
            .contains("registered band-2")
    );

    let link = r.devices.device("band-1").await.unwrap().unwrap();
    assert_eq!(
        (link.wearer_id.as_str(), link.app_users.len(), link.time_zone.as_str()),
        ("wearer-42", 2, "Europe/Madrid")
    );
    let shown: Value = serde_json::from_str(&r.ok(&["devices", "show", "band-1", "--json"])).unwrap();
    assert_eq!(shown["app_users"], json!(["u-1", "u-2"]));
    let listed: Vec<Value> = serde_json::from_str(&r.ok(&["devices", "list", "--json"])).unwrap();
    let ids: Vec<&str> = listed.iter().map(|d| d["device_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["band-1", "band-2"]);
    assert!(r.ok(&["devices", "list"]).ends_with("2 bands\n"));

    // Unlink: the dry run changes nothing; then the record stays, with no wearer and no app user.
    assert!(r.ok(&["devices", "unlink", "band-1", "--dry-run"]).starts_with("would unlink band-1  wearer wearer-42"));
    assert!(r.devices.device("band-1").await.unwrap().unwrap().is_linked());
    r.ok(&["devices", "unlink", "band-1"]);
    let unlinked = r.devices.device("band-1").await.unwrap().unwrap();
    assert!(!unlinked.is_linked() && unlinked.app_users.is_empty(), "{unlinked:?}");
    assert_eq!(
        vigil_domain::registry::authorize(Some("u-1"), Some(&unlinked)),
        Err(vigil_domain::registry::Denied::NotYourDevice)
    );
    assert!(r.ok(&["devices", "show", "band-1"]).contains("band-1  unlinked  time zone Europe/Madrid"));
    // … and can be linked again.
    r.ok(&["devices", "link", "band-1", "--wearer", "wearer-42", "--app-user", "u-9", "--time-zone", "UTC"]);
    assert_eq!(r.devices.device("band-1").await.unwrap().unwrap().app_users, ["u-9"]);

    assert!(r.ok(&["devices", "delete", "band-2", "--dry-run"]).starts_with("would delete band-2"));
    assert!(r.devices.device("band-2").await.unwrap().is_some());
    r.ok(&["devices", "delete", "band-2"]);
    assert!(r.devices.device("band-2").await.unwrap().is_none());
    assert!(r.refused(&["devices", "delete", "band-2"]).contains("device band-2 is not registered"));
    assert!(r.refused(&["devices", "unlink", "band-404"]).contains("device band-404 is not registered"));
}

#[tokio::test]
async fn wearers_put_show_list_and_delete_keep_the_account_links_right() {
    let r = Registry::new("registry-wearers").await;
    let daughter = "7d1f6c0e-2b4a-4f57-9a39-0c1d2e3f4a5b";
    let neighbour = "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d";
    let file = r.file("w.json", &sample());
    let out = r.ok(&["wearers", "put", "--file", &file]);
    assert!(out.contains("registered wearer wearer-42 with 2 caregivers (2 with an account"), "{out}");
    assert_eq!(r.links.wearers_of(daughter).await.unwrap(), ["wearer-42"]);
    assert_eq!(r.links.wearers_of(neighbour).await.unwrap(), ["wearer-42"]);

    // register-wearer is the same path: a second wearer cared for by the daughter.
    let mut second = sample();
    second["wearer_id"] = "wearer-43".into();
    second["caregivers"].as_array_mut().unwrap().truncate(1);
    second["snoozes"] = json!({});
    assert!(r.ok(&["register-wearer", "--file", &r.file("w2.json", &second)]).contains("registered wearer wearer-43"));

    let read = r.wearers.wearer("wearer-42").await.unwrap().unwrap();
    assert_eq!(read, vigil_domain::registry::parse_wearer(SAMPLE).unwrap());
    let shown = r.ok(&["wearers", "show", "wearer-42"]);
    assert!(
        shown.contains("caregiver cg-neighbour  level 1  language en  phone +447700900002  channels sms"),
        "{shown}"
    );
    let shown: Value = serde_json::from_str(&r.ok(&["wearers", "show", "wearer-42", "--json"])).unwrap();
    assert_eq!(shown["thresholds"]["inactivity_hours"], 4);
    let listed: Vec<Value> = serde_json::from_str(&r.ok(&["wearers", "list", "--json"])).unwrap();
    assert_eq!(listed.iter().map(|w| w["wearer_id"].as_str().unwrap()).collect::<Vec<_>>(), ["wearer-42", "wearer-43"]);
    assert!(r.ok(&["wearers", "list"]).ends_with("2 wearers\n"));

    // Replacing the profile without the neighbour takes their account's access away.
    let mut fewer = sample();
    fewer["caregivers"].as_array_mut().unwrap().remove(1);
    fewer["snoozes"] = json!({});
    let out = r.ok(&["wearers", "put", "--file", &r.file("fewer.json", &fewer)]);
    assert!(
        out.contains("replaced wearer wearer-42 with 1 caregivers") && out.contains("1 dropped accounts unlinked"),
        "{out}"
    );
    assert!(r.links.wearers_of(neighbour).await.unwrap().is_empty());

    // Delete: the dry run changes nothing; then the profile and its links go, the other wearer stays.
    r.ok(&["devices", "link", "band-1", "--wearer", "wearer-42", "--app-user", "u-1"]);
    let out = r.ok(&["wearers", "delete", "wearer-42", "--dry-run"]);
    assert!(out.contains("would delete wearer wearer-42 and unlink 1 caregiver accounts"), "{out}");
    assert!(r.wearers.wearer("wearer-42").await.unwrap().is_some());
    let out = r.ok(&["wearers", "delete", "wearer-42"]);
    assert!(out.contains("deleted wearer wearer-42; unlinked 1 caregiver accounts"), "{out}");
    assert!(out.contains("still linked to wearer-42: band-1"), "{out}");
    assert!(r.wearers.wearer("wearer-42").await.unwrap().is_none());
    assert_eq!(r.links.wearers_of(daughter).await.unwrap(), ["wearer-43"]);
    assert!(r.wearers.wearer("wearer-43").await.unwrap().is_some());
    assert!(r.refused(&["wearers", "show", "wearer-42"]).contains("wearer wearer-42 is not registered"));
}

#[tokio::test]
async fn refused_writes_name_every_field_and_write_nothing() {
    let r = Registry::new("registry-refused").await;
    let mut bad = sample();
    bad["time_zone"] = "Europe/Madird".into();
    bad["caregivers"][1]["phone"] = "+34 600".into();
    bad["caregivers"][0]["language"] = "klingon".into();
    bad["thresholds"]["heart_rate_hihg_bpm"] = 130.into();
    bad["thresholds"]["spo2_low_pct"] = 101.into();
    let file = r.file("bad.json", &bad);
    for command in [&["wearers", "put", "--file", &file][..], &["register-wearer", "--file", &file][..]] {
        let err = r.refused(command);
        for expected in [
            r#"time_zone: "Europe/Madird" is not an IANA time zone"#,
            r#"caregivers[1].phone: "+34 600" is not an E.164 number"#,
            r#"caregivers[0].language: "klingon" is not a language tag"#,
            "thresholds.heart_rate_hihg_bpm: is not a known field",
            "thresholds.spo2_low_pct: 101 is outside 50..=100",
        ] {
            assert!(err.contains(expected), "{expected} not in {err}");
        }
    }
    assert!(r.wearers.wearer("wearer-42").await.unwrap().is_none());
    assert!(r.refused(&["wearers", "put", "--file", &r.file("x.json", &json!([1]))]).contains("profile: "));

    let err =
        r.refused(&["devices", "link", "band 1", "--wearer", "w-1", "--app-user", "u-1", "--time-zone", "Mars/Base"]);
    assert!(err.contains(r#"device_id: "band 1" contains whitespace"#), "{err}");
    assert!(err.contains(r#"time_zone: "Mars/Base" is not an IANA time zone"#), "{err}");
    let err = r.refused(&[
        "register-device",
        "--device",
        "band-1",
        "--wearer",
        "w-1",
        "--app-user",
        "u-1",
        "--time-zone",
        "CET+1",
    ]);
    assert!(err.contains("time_zone: \"CET+1\" is not an IANA time zone"), "{err}");
    assert!(r.devices.list().await.unwrap().is_empty());
}

/// A wearer linking existing caregivers by id: `links` are (caregiver id, level).
fn linking(wearer: &str, links: &[(&str, u8)]) -> Value {
    json!({
        "wearer_id": wearer,
        "name": format!("Wearer {wearer}"),
        "time_zone": "Europe/Madrid",
        "caregivers": links.iter().map(|(id, level)| json!({"id": id, "level": level})).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn a_caregiver_of_two_wearers_changes_their_number_once_and_both_wearers_read_it() {
    let r = Registry::new("registry-cg").await;
    let out = r.ok(&[
        "caregivers",
        "put",
        r#"{"id": "cg-ana", "sub": "acct-ana-1", "name": "Ana", "language": "es", "phone": "+34600000101"}"#,
    ]);
    assert!(out.contains("registered caregiver cg-ana; linked to 0 wearers"), "{out}");
    for (wearer, level) in [("w-a", 1), ("w-b", 2)] {
        let out = r.ok(&[
            "wearers",
            "put",
            "--file",
            &r.file(&format!("{wearer}.json"), &linking(wearer, &[("cg-ana", level)])),
        ]);
        assert!(out.contains(&format!("registered wearer {wearer} with 1 caregivers (1 with an account")), "{out}");
        assert!(!out.contains("records written"), "a link writes no record: {out}");
    }
    assert_eq!(r.links.wearers_of("acct-ana-1").await.unwrap(), ["w-a", "w-b"]);
    let shown: Value = serde_json::from_str(&r.ok(&["caregivers", "show", "cg-ana", "--json"])).unwrap();
    assert_eq!(shown["wearers"], json!(["w-a", "w-b"]));

    // One write of the new number (and a new account) ...
    let file = r.file(
        "ana.json",
        &json!({"id": "cg-ana", "sub": "acct-ana-2", "name": "Ana", "language": "es", "phone": "+34600000202"}),
    );
    let out = r.ok(&["caregivers", "put", &file]);
    assert!(
        out.contains("replaced caregiver cg-ana; linked to 2 wearers; account changed: moved for 2 wearers"),
        "{out}"
    );
    // ... and both wearers' profiles, as the functions read them, carry it, each with its own level.
    for (wearer, level) in [("w-a", 1), ("w-b", 2)] {
        let profile = r.wearers.wearer(wearer).await.unwrap().unwrap();
        let ana = profile.caregiver("cg-ana").unwrap();
        assert_eq!(
            (ana.phone.as_deref(), ana.level, ana.sub.as_deref()),
            (Some("+34600000202"), level, Some("acct-ana-2"))
        );
    }
    // The care API follows the account: the old one sees nobody, the new one both.
    assert!(r.links.wearers_of("acct-ana-1").await.unwrap().is_empty());
    assert_eq!(r.links.wearers_of("acct-ana-2").await.unwrap(), ["w-a", "w-b"]);
    // The next alert of either wearer goes to the new number (the domain's plan on the read profile).
    let now: chrono::DateTime<chrono::Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
    let wa = r.wearers.wearer("w-a").await.unwrap().unwrap();
    let alert = vigil_domain::alerts::Alert {
        id: vigil_domain::alerts::AlertId::new("w-a", vigil_domain::alerts::RuleKind::Sos, now),
        wearer_id: "w-a".into(),
        rule: vigil_domain::alerts::RuleKind::Sos,
        severity: vigil_domain::alerts::Severity::Critical,
        episode_start: now,
        raised_at: now,
        readings: vec![],
        location: None,
        value: None,
    };
    let planned = vigil_domain::care::plan_deliveries(&alert, &wa, now, None);
    assert_eq!(planned.iter().map(|d| d.address.as_str()).collect::<Vec<_>>(), ["+34600000202"]);
    assert!(r.ok(&["caregivers", "list"]).contains("cg-ana  language es  channels sms  account  linked to 2 wearers"));
}

#[tokio::test]
async fn caregiver_writes_are_validated_and_links_must_name_a_record() {
    let r = Registry::new("registry-cg-refused").await;
    let err = r.refused(&[
        "caregivers",
        "put",
        r#"{"id": "cg 1", "level": 2, "language": "fr", "phone": "600", "quiet_hours": {"start": "22:00:00", "end": "22:00:00", "time_zone": "Europe/Madrid"}}"#,
    ]);
    for expected in [
        "level: belongs to each link",
        r#"language: there are no messages in "fr""#,
        r#"id: "cg 1" contains whitespace"#,
        r#"phone: "600" is not an E.164 number"#,
        "quiet_hours.end: equals start",
    ] {
        assert!(err.contains(expected), "{expected} not in {err}");
    }
    assert!(r.refused(&["caregivers", "put", "{"]).contains("caregiver: is not JSON"));
    assert!(r.wearers.caregivers().list().await.unwrap().is_empty());

    // A wearer linking an unknown caregiver is refused at that field, and nothing is written.
    r.ok(&["caregivers", "put", r#"{"id": "cg-known", "language": "en", "phone": "+447700900101"}"#]);
    let file = r.file("w.json", &linking("w-x", &[("cg-known", 1), ("cg-ghost", 2)]));
    let err = r.refused(&["wearers", "put", "--file", &file]);
    assert!(err.contains(r#"caregivers[1].id: no caregiver "cg-ghost" is registered"#), "{err}");
    assert!(r.wearers.wearer("w-x").await.unwrap().is_none());
}

#[tokio::test]
async fn deleting_a_linked_caregiver_is_refused_unless_asked_to_unlink() {
    let r = Registry::new("registry-cg-delete").await;
    r.ok(&["caregivers", "put", r#"{"id": "cg-tom", "sub": "acct-tom", "language": "en", "phone": "+447700900102"}"#]);
    r.ok(&["caregivers", "put", r#"{"id": "cg-eva", "language": "en", "phone": "+447700900103"}"#]);
    r.ok(&["wearers", "put", "--file", &r.file("a.json", &linking("w-a", &[("cg-tom", 1), ("cg-eva", 1)]))]);
    r.ok(&["wearers", "put", "--file", &r.file("b.json", &linking("w-b", &[("cg-tom", 1)]))]);

    let err = r.refused(&["caregivers", "delete", "cg-tom"]);
    assert!(err.contains("caregiver cg-tom is linked to 2 wearers (w-a, w-b)"), "{err}");
    let out = r.ok(&["caregivers", "delete", "cg-tom", "--unlink", "--dry-run"]);
    assert!(out.contains("would unlink caregiver cg-tom from 2 wearers"), "{out}");
    assert!(r.wearers.caregivers().caregiver("cg-tom").await.unwrap().is_some());

    let out = r.ok(&["caregivers", "delete", "cg-tom", "--unlink"]);
    assert!(out.contains("deleted caregiver cg-tom; unlinked from 2 wearers"), "{out}");
    assert!(r.wearers.caregivers().caregiver("cg-tom").await.unwrap().is_none());
    let a = r.wearers.wearer("w-a").await.unwrap().unwrap();
    assert_eq!(a.caregivers.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["cg-eva"]);
    assert!(r.wearers.wearer("w-b").await.unwrap().unwrap().caregivers.is_empty());
    assert!(r.links.wearers_of("acct-tom").await.unwrap().is_empty());
    assert_eq!(r.wearers.skipped_links(), 0, "no dangling link is left behind");
    assert!(r.refused(&["caregivers", "delete", "cg-tom"]).contains("caregiver cg-tom is not registered"));
    // cg-eva, linked to nobody now but w-a, is deleted only with --unlink too.
    assert!(r.refused(&["caregivers", "delete", "cg-eva"]).contains("linked to 1 wearers (w-a)"));
}

#[tokio::test]
async fn old_items_with_embedded_caregivers_are_read_as_before_and_migrated() {
    let r = Registry::new("registry-cg-migrate").await;
    let dynamodb = vigil_aws::sdk::dynamodb(&vigil_local::endpoint::require().await);
    // Two items as the previous writer stored them: contact details inside the wearer.
    let mut old = vigil_domain::registry::parse_wearer(SAMPLE).unwrap();
    old.snoozes.clear();
    let mut other = old.clone();
    other.wearer_id = "wearer-43".into();
    other.caregivers.truncate(1);
    for profile in [&old, &other] {
        let item = serde_dynamo::to_item(profile).unwrap();
        dynamodb.put_item().table_name(&r.resources.wearers_table).set_item(Some(item)).send().await.unwrap();
    }
    assert_eq!(r.wearers.wearer("wearer-42").await.unwrap().unwrap(), old, "read as before");

    let out = r.ok(&["caregivers", "migrate", "--dry-run"]);
    assert!(
        out.contains("would migrate 2 of 2 wearers with embedded caregivers; 3 caregiver records created"),
        "{out}"
    );
    assert!(r.wearers.caregivers().list().await.unwrap().is_empty());
    // The daughter is in both items with the same details: one record.
    let out = r.ok(&["caregivers", "migrate"]);
    assert!(out.contains("migrated 2 of 2 wearers with embedded caregivers; 2 caregiver records created"), "{out}");
    assert_eq!(r.wearers.caregivers().list().await.unwrap().len(), 2);
    assert_eq!(r.wearers.wearer("wearer-42").await.unwrap().unwrap(), old, "the same profile, now from records");
    let raw = dynamodb
        .get_item()
        .table_name(&r.resources.wearers_table)
        .key("wearer_id", aws_sdk_dynamodb::types::AttributeValue::S("wearer-42".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let links = raw["caregivers"].as_l().unwrap();
    assert!(links.iter().all(|l| l.as_m().unwrap().keys().all(|k| k == "id" || k == "level")), "{links:?}");
    assert!(r.ok(&["caregivers", "migrate"]).contains("migrated 0 of 0 wearers"), "safe to run twice");

    // A link whose record is gone is skipped and counted, never a panic.
    r.wearers.caregivers().delete("cg-neighbour").await.unwrap();
    let read = r.wearers.wearer("wearer-42").await.unwrap().unwrap();
    assert_eq!(read.caregivers.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["cg-daughter"]);
    assert_eq!(r.wearers.skipped_links(), 1);
}
