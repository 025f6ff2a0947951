//! The device registry's view of a band and the authorization rule. The
//! registry's port is [`crate::ports::DeviceDirectory`]; its per-container cache
//! is [`crate::cache::CachedDirectory`].

use serde::{Deserialize, Serialize};

/// A registered wristband.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLink {
    pub device_id: String,
    /// The person wearing the band.
    pub wearer_id: String,
    /// App users (JWT `sub`) allowed to upload for this band.
    pub app_users: Vec<String>,
    /// The wearer's IANA time zone, e.g. `Europe/Madrid`.
    pub time_zone: String,
}

impl DeviceLink {
    /// Whether the band belongs to a wearer; an unlinked band (`vigil devices
    /// unlink`) keeps its record with no wearer and no app users.
    pub fn is_linked(&self) -> bool {
        !self.wearer_id.is_empty()
    }
}

/// Why an upload is not allowed. Unknown and foreign devices are deliberately
/// one variant, so responses cannot reveal which devices exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No caller identity at all (401).
    NoIdentity,
    /// Unknown device, or a device not linked to the caller (403).
    NotYourDevice,
}

/// Decides whether `caller` (the JWT `sub`) may upload for the device.
pub fn authorize<'a>(caller: Option<&str>, link: Option<&'a DeviceLink>) -> Result<&'a DeviceLink, Denied> {
    let caller = caller.filter(|c| !c.is_empty()).ok_or(Denied::NoIdentity)?;
    match link {
        Some(link) if link.is_linked() && link.app_users.iter().any(|u| u == caller) => Ok(link),
        _ => Err(Denied::NotYourDevice),
    }
}

// ---------------------------------------------------------------------------
// Validation on write: every registry write (the `vigil` commands, the adapters'
// `put`) goes through these, so the registry never holds what the readers would
// silently reinterpret (an unknown zone read as UTC, an unknown threshold ignored,
// an unknown language read as English).

use std::collections::BTreeSet;

use chrono_tz::Tz;
use serde_json::Value;

use crate::alerts::Thresholds;
use crate::care::{Caregiver, QuietHours, WearerProfile};

/// One problem of a registry write, at a field path such as `caregivers[1].phone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path of the field, e.g. `thresholds.spo2_low_pct`; `profile` for the whole document.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A registry write that was refused, with every problem found (not only the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<Problem>);

impl Invalid {
    /// The fields with a problem, in the order found.
    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|p| p.field.as_str()).collect()
    }
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { field: field.into(), message: message.into() });
    }

    fn check(&mut self, field: &str, result: Result<(), String>) {
        if let Err(message) = result {
            self.push(field, message);
        }
    }

    fn range<T: PartialOrd + std::fmt::Display + Copy>(&mut self, field: &str, value: T, lo: T, hi: T) {
        if value < lo || value > hi {
            self.push(format!("thresholds.{field}"), format!("{value} is outside {lo}..={hi}"));
        }
    }

    fn done(self) -> Result<(), Invalid> {
        if self.0.is_empty() { Ok(()) } else { Err(Invalid(self.0)) }
    }
}

/// Longest id (wearer, device, caregiver) the registry accepts.
pub const MAX_ID_LEN: usize = 128;

/// The languages messages are written in, as the registry stores them.
pub const MESSAGE_LANGUAGES: [&str; 3] = ["en", "es", "pt-BR"];

/// An id: 1 to [`MAX_ID_LEN`] characters, no whitespace or control characters
/// and no `#` (delivery keys join ids with it).
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("is empty".into());
    }
    if id.chars().count() > MAX_ID_LEN {
        return Err(format!("is longer than {MAX_ID_LEN} characters"));
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control() || c == '#') {
        return Err(format!("{id:?} contains whitespace, a control character or '#'"));
    }
    Ok(())
}

/// An IANA time zone name known to the tz database (`Europe/Madrid`, `UTC`).
pub fn check_time_zone(zone: &str) -> Result<(), String> {
    match zone.parse::<Tz>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!("{zone:?} is not an IANA time zone (e.g. Europe/Madrid)")),
    }
}

/// An E.164 number: `+`, then 8 to 15 digits, the first not 0; no spaces.
pub fn check_phone(phone: &str) -> Result<(), String> {
    let digits = phone.strip_prefix('+').unwrap_or("");
    let ok = (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
    if ok { Ok(()) } else { Err(format!("{phone:?} is not an E.164 number (e.g. +34600111222)")) }
}

/// A BCP 47 tag (`es`, `es-MX`, `pt-BR`) whose language messages are written in
/// (see [`crate::alerts::Language::parse`]: the primary subtag picks it). A tag of
/// another language is refused rather than read as English.
pub fn check_language(tag: &str) -> Result<(), String> {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    let shape = (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !shape {
        return Err(format!("{tag:?} is not a language tag (e.g. es, pt-BR)"));
    }
    let primary = primary.to_ascii_lowercase();
    if MESSAGE_LANGUAGES.iter().any(|l| l.split('-').next() == Some(primary.as_str())) {
        Ok(())
    } else {
        Err(format!("there are no messages in {tag:?}: use one of {}", MESSAGE_LANGUAGES.join(", ")))
    }
}

/// A push endpoint: an SNS platform endpoint ARN.
fn check_push_endpoint(arn: &str) -> Result<(), String> {
    if arn.starts_with("arn:") && arn.contains(":endpoint/") {
        Ok(())
    } else {
        Err("is not an SNS platform endpoint ARN (arn:aws:sns:…:endpoint/…)".into())
    }
}

/// Every problem of a device link: ids, at least one app user, the time zone.
pub fn validate_device(link: &DeviceLink) -> Result<(), Invalid> {
    let mut p = Problems::default();
    p.check("device_id", check_id(&link.device_id));
    p.check("wearer_id", check_id(&link.wearer_id));
    if link.app_users.is_empty() {
        p.push("app_users", "needs at least one app user (JWT sub)");
    }
    for (i, user) in link.app_users.iter().enumerate() {
        p.check(&format!("app_users[{i}]"), check_id(user));
    }
    p.check("time_zone", check_time_zone(&link.time_zone));
    p.done()
}

/// Every problem of a caregiver record, each field under `at` (e.g. `caregivers[1]`).
fn caregiver_problems(p: &mut Problems, at: &str, c: &Caregiver) {
    p.check(&format!("{at}.id"), check_id(&c.id));
    if let Some(sub) = &c.sub {
        p.check(&format!("{at}.sub"), check_id(sub));
    }
    if c.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        p.push(format!("{at}.name"), "is empty (leave it out instead)");
    }
    if !(1..=2).contains(&c.level) {
        p.push(format!("{at}.level"), format!("{} is not 1 (told at once) or 2 (told on escalation)", c.level));
    }
    if let Some(phone) = &c.phone {
        p.check(&format!("{at}.phone"), check_phone(phone));
    }
    if let Some(arn) = &c.push_endpoint {
        p.check(&format!("{at}.push_endpoint"), check_push_endpoint(arn));
    }
    if let Some(quiet) = &c.quiet_hours {
        quiet_hours_problems(p, &format!("{at}.quiet_hours"), quiet);
    }
}

fn quiet_hours_problems(p: &mut Problems, at: &str, q: &QuietHours) {
    p.check(&format!("{at}.time_zone"), check_time_zone(&q.time_zone));
    if q.start == q.end {
        p.push(format!("{at}.end"), "equals start: quiet hours must span some time");
    }
}

/// Every problem of one caregiver record on its own.
pub fn validate_caregiver(caregiver: &Caregiver) -> Result<(), Invalid> {
    let mut p = Problems::default();
    caregiver_problems(&mut p, "caregiver", caregiver);
    for problem in &mut p.0 {
        problem.field = problem.field.trim_start_matches("caregiver.").to_owned();
    }
    p.done()
}

fn threshold_problems(p: &mut Problems, t: &Thresholds) {
    p.range("fall_cancel_window_s", t.fall_cancel_window_s, 1, 300);
    p.range("heart_rate_high_bpm", t.heart_rate_high_bpm, 60, 250);
    p.range("heart_rate_low_bpm", t.heart_rate_low_bpm, 20, 100);
    if t.heart_rate_low_bpm >= t.heart_rate_high_bpm {
        p.push("thresholds.heart_rate_low_bpm", "must be below heart_rate_high_bpm");
    }
    p.range("heart_rate_sustain_s", t.heart_rate_sustain_s, 0, 3600);
    p.range("spo2_low_pct", t.spo2_low_pct, 50, 100);
    p.range("spo2_sustain_s", t.spo2_sustain_s, 0, 3600);
    p.range("inactivity_hours", t.inactivity_hours, 1, 24);
    p.range("not_worn_min", t.not_worn_min, 1, 1440);
    p.range("battery_low_pct", t.battery_low_pct, 0, 100);
    p.range("battery_hysteresis_pct", t.battery_hysteresis_pct, 0, 50);
    if t.battery_low_pct + t.battery_hysteresis_pct > 100 {
        p.push("thresholds.battery_hysteresis_pct", "battery_low_pct + battery_hysteresis_pct is over 100");
    }
    p.range("cooldown_min", t.cooldown_min, 0, 1440);
    for (rule, min) in &t.cooldown_overrides_min {
        p.range(&format!("cooldown_overrides_min.{}", rule.as_str()), *min, 0, 1440);
    }
    p.range("no_data_min", t.no_data_min, 1, 1440);
}

/// Every problem of a wearer profile: ids, name, IANA time zone, threshold ranges,
/// each caregiver (E.164 phone, level, quiet hours), unique caregiver ids and
/// accounts, snoozes (never of a critical rule, by one of the caregivers), and the
/// escalation policy ([`crate::escalation::EscalationPolicy::validate`]).
pub fn validate_wearer(profile: &WearerProfile) -> Result<(), Invalid> {
    let mut p = Problems::default();
    p.check("wearer_id", check_id(&profile.wearer_id));
    if profile.name.trim().is_empty() {
        p.push("name", "is empty");
    }
    p.check("time_zone", check_time_zone(&profile.time_zone));
    threshold_problems(&mut p, &profile.thresholds);
    let (mut ids, mut subs) = (BTreeSet::new(), BTreeSet::new());
    for (i, c) in profile.caregivers.iter().enumerate() {
        let at = format!("caregivers[{i}]");
        caregiver_problems(&mut p, &at, c);
        if !ids.insert(c.id.as_str()) {
            p.push(format!("{at}.id"), format!("{:?} is listed twice", c.id));
        }
        if let Some(sub) = c.sub.as_deref().filter(|s| !subs.insert(*s)) {
            p.push(format!("{at}.sub"), format!("{sub:?} is another caregiver's account too"));
        }
    }
    for (rule, snooze) in &profile.snoozes {
        let at = format!("snoozes.{}", rule.as_str());
        if rule.severity() == crate::alerts::Severity::Critical {
            p.push(at.clone(), "critical alerts can never be snoozed");
        }
        if !ids.contains(snooze.by.as_str()) {
            p.push(format!("{at}.by"), format!("{:?} is not one of the wearer's caregivers", snooze.by));
        }
    }
    if let Err(policy) = profile.escalation.validate() {
        for problem in policy.0 {
            // The policy's own messages start with the stage path: `critical[0].after_min must be …`.
            let (path, message) = problem.split_once([' ', ':']).unwrap_or((problem.as_str(), ""));
            p.push(format!("escalation.{path}"), message.trim_start_matches(':').trim().to_owned());
        }
    }
    p.done()
}

/// The top-level field names of `sample` as serde writes them.
fn field_names(sample: &impl serde::Serialize) -> BTreeSet<String> {
    match serde_json::to_value(sample) {
        Ok(Value::Object(map)) => map.into_iter().map(|(k, _)| k).collect(),
        _ => BTreeSet::new(),
    }
}

fn unknown_fields(p: &mut Problems, at: &str, value: &Value, known: &BTreeSet<String>) {
    if let Value::Object(map) = value {
        for key in map.keys().filter(|k| !known.contains(*k)) {
            let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
            p.push(
                path,
                format!("is not a known field (known: {})", known.iter().cloned().collect::<Vec<_>>().join(", ")),
            );
        }
    }
}

/// `json` as a JSON value, or `what` "is not JSON".
fn json_value(json: &str, what: &str) -> Result<Value, Invalid> {
    serde_json::from_str(json).map_err(|e| {
        let mut p = Problems::default();
        p.push(what, format!("is not JSON: {e}"));
        Invalid(p.0)
    })
}

/// A caregiver's field names, every optional one present.
fn caregiver_fields() -> BTreeSet<String> {
    field_names(&Caregiver {
        id: String::new(),
        sub: Some(String::new()),
        name: Some(String::new()),
        level: 1,
        language: Default::default(),
        phone: Some(String::new()),
        push_endpoint: Some(String::new()),
        quiet_hours: Some(QuietHours { start: Default::default(), end: Default::default(), time_zone: String::new() }),
        daily_at: Some(Default::default()),
    })
}

/// The language tag at `at` as written: serde would read an unknown one as English.
fn language_as_written(p: &mut Problems, at: &str, value: &Value) {
    match value.get("language") {
        Some(Value::String(tag)) => p.check(&format!("{at}language"), check_language(tag)),
        Some(_) => p.push(format!("{at}language"), "is not a string"),
        None => {}
    }
}

/// `value` as a `T` (its shape's problem under `what`), then `validate`d; every
/// problem found so far in `p` comes with them.
fn typed<T: serde::de::DeserializeOwned>(
    mut p: Problems,
    value: Value,
    what: &str,
    validate: impl Fn(&T) -> Result<(), Invalid>,
) -> Result<T, Invalid> {
    match serde_json::from_value::<T>(value) {
        Ok(parsed) => {
            if let Err(Invalid(more)) = validate(&parsed) {
                p.0.extend(more);
            }
            p.done().map(|()| parsed)
        }
        Err(e) => {
            p.push(what, e.to_string());
            Err(Invalid(p.0))
        }
    }
}

/// A wearer profile as written by an operator (the format of
/// `events/wearer-profile.json`), checked strictly: unknown fields (a misspelt
/// threshold would otherwise be ignored), language tags as written (an unknown one
/// would otherwise be read as English), the JSON shape, then [`validate_wearer`].
pub fn parse_wearer(json: &str) -> Result<WearerProfile, Invalid> {
    let mut p = Problems::default();
    let value = json_value(json, "profile")?;
    let mut profile_fields = field_names(&WearerProfile {
        wearer_id: String::new(),
        name: String::new(),
        time_zone: String::new(),
        thresholds: Thresholds::default(),
        caregivers: Vec::new(),
        snoozes: Default::default(),
        escalation: Default::default(),
    });
    profile_fields.insert("snoozes".into());
    unknown_fields(&mut p, "", &value, &profile_fields);
    if let Some(t) = value.get("thresholds") {
        unknown_fields(&mut p, "thresholds", t, &field_names(&Thresholds::default()));
    }
    if let Some(Value::Array(caregivers)) = value.get("caregivers") {
        let known = caregiver_fields();
        for (i, c) in caregivers.iter().enumerate() {
            let at = format!("caregivers[{i}]");
            unknown_fields(&mut p, &at, c, &known);
            language_as_written(&mut p, &format!("{at}."), c);
        }
    }
    typed(p, value, "profile", validate_wearer)
}

/// A caregiver's record as written by an operator (`vigil caregivers put`), checked
/// strictly as [`parse_wearer`] checks a profile: unknown fields, the language tag
/// as written, the JSON shape, then [`validate_caregiver`]. `level` is refused: it
/// belongs to each link, in the wearer's profile.
pub fn parse_caregiver(json: &str) -> Result<Caregiver, Invalid> {
    let mut p = Problems::default();
    let value = json_value(json, "caregiver")?;
    let mut known = caregiver_fields();
    known.remove("level");
    unknown_fields(&mut p, "", &value, &known);
    // `level` is unknown here on purpose; say where it goes instead.
    if let Some(level) = p.0.iter_mut().find(|problem| problem.field == "level") {
        level.message = "belongs to each link: set it in the wearer's profile (caregivers[].level)".into();
    }
    language_as_written(&mut p, "", &value);
    typed(p, value, "caregiver", validate_caregiver)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_caregiver_record_is_parsed_strictly_and_each_problem_names_its_field() {
        let ok = parse_caregiver(r#"{"id": "cg-1", "language": "es-MX", "phone": "+34600111222"}"#).unwrap();
        assert_eq!((ok.id.as_str(), ok.level, ok.phone.as_deref()), ("cg-1", 1, Some("+34600111222")));
        let err = parse_caregiver(
            r#"{"id": "cg 1", "level": 2, "language": "fr", "phone": "600", "push_endpoint": "x",
                "quiet_hours": {"start": "22:00:00", "end": "07:00:00", "time_zone": "Nowhere"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.fields(),
            ["level", "language", "id", "phone", "push_endpoint", "quiet_hours.time_zone"],
            "{err}"
        );
        assert!(err.to_string().contains("level: belongs to each link"), "{err}");
        assert_eq!(parse_caregiver("[]").unwrap_err().fields(), ["caregiver"]);
        assert_eq!(parse_caregiver("{").unwrap_err().fields(), ["caregiver"]);
    }

    const SAMPLE: &str = include_str!("../../../events/wearer-profile.json");

    fn sample() -> Value {
        serde_json::from_str(SAMPLE).unwrap()
    }

    fn refused(value: &Value) -> Invalid {
        parse_wearer(&value.to_string()).unwrap_err()
    }

    #[test]
    fn the_sample_profile_is_valid() {
        let profile = parse_wearer(SAMPLE).unwrap();
        assert_eq!(profile.caregivers.len(), 2);
        assert_eq!(profile.thresholds.inactivity_hours, 4);
    }

    #[test]
    fn every_problem_is_reported_at_once_each_at_its_field() {
        let mut v = sample();
        v["time_zone"] = "Europe/Madird".into();
        v["caregivers"][1]["phone"] = "+34 600".into();
        v["caregivers"][0]["language"] = "fr".into();
        v["thresholds"]["heart_rate_hihg_bpm"] = 130.into();
        v["thresholds"]["spo2_low_pct"] = 30.into();
        let err = refused(&v);
        assert_eq!(
            err.fields(),
            [
                "thresholds.heart_rate_hihg_bpm",
                "caregivers[0].language",
                "time_zone",
                "thresholds.spo2_low_pct",
                "caregivers[1].phone"
            ]
        );
        let text = err.to_string();
        assert!(text.contains(r#"caregivers[1].phone: "+34 600" is not an E.164 number"#), "{text}");
        assert!(text.contains(r#"time_zone: "Europe/Madird" is not an IANA time zone"#), "{text}");
        assert!(text.contains("thresholds.spo2_low_pct: 30 is outside 50..=100"), "{text}");
    }

    #[test]
    fn unknown_fields_are_refused_where_serde_would_ignore_them() {
        let mut v = sample();
        v["caregiver"] = serde_json::json!([]);
        v["caregivers"][0]["phone_number"] = "+34600000009".into();
        assert_eq!(refused(&v).fields(), ["caregiver", "caregivers[0].phone_number"]);
    }

    #[test]
    fn a_shape_error_is_reported_not_panicked() {
        let err = parse_wearer("{\"wearer_id\": 3}").unwrap_err();
        assert_eq!(err.fields(), ["profile"]);
        assert_eq!(parse_wearer("not json").unwrap_err().fields(), ["profile"]);
    }

    #[test]
    fn time_zones_are_iana_names() {
        for ok in ["Europe/Madrid", "America/Sao_Paulo", "UTC", "Asia/Kolkata"] {
            assert_eq!(check_time_zone(ok), Ok(()), "{ok}");
        }
        for bad in ["", "Madrid", "CEST+1", "Europe/Madird", "utc "] {
            assert!(check_time_zone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_are_e164() {
        for ok in ["+34600111222", "+447700900002", "+12025550101", "+5511987654321"] {
            assert_eq!(check_phone(ok), Ok(()), "{ok}");
        }
        for bad in ["", "34600111222", "+34 600", "+34-600-111-222", "+034600111222", "+1234567", "+1234567890123456"] {
            assert!(check_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn languages_are_tags_of_the_languages_messages_exist_in() {
        for ok in ["en", "es", "es-MX", "pt-BR", "pt", "EN-gb"] {
            assert_eq!(check_language(ok), Ok(()), "{ok}");
        }
        for bad in ["fr", "de-DE", "english", "e", "es_ES", "", "es-"] {
            assert!(check_language(bad).is_err(), "{bad}");
        }
        assert!(check_language("fr").unwrap_err().contains("en, es, pt-BR"));
    }

    #[test]
    fn threshold_ranges_and_their_relations() {
        let mut v = sample();
        v["thresholds"] = serde_json::json!({
            "heart_rate_high_bpm": 70, "heart_rate_low_bpm": 80, "battery_low_pct": 90,
            "battery_hysteresis_pct": 20, "no_data_min": 0, "cooldown_overrides_min": {"sos": 5000}
        });
        assert_eq!(
            refused(&v).fields(),
            [
                "thresholds.heart_rate_low_bpm",
                "thresholds.battery_hysteresis_pct",
                "thresholds.cooldown_overrides_min.sos",
                "thresholds.no_data_min"
            ]
        );
        v["thresholds"] = serde_json::json!({"cooldown_overrides_min": {"sneeze": 5}});
        assert_eq!(refused(&v).fields(), ["profile"], "an unknown rule name is a shape error");
    }

    #[test]
    fn caregivers_levels_quiet_hours_ids_and_accounts() {
        let mut v = sample();
        v["caregivers"][1]["id"] = "cg-daughter".into();
        v["caregivers"][1]["sub"] = v["caregivers"][0]["sub"].clone();
        v["caregivers"][1]["level"] = 3.into();
        v["caregivers"][1]["quiet_hours"] =
            serde_json::json!({"start": "22:00:00", "end": "22:00:00", "time_zone": "Mars/Olympus"});
        v["caregivers"][0]["push_endpoint"] = "not-an-arn".into();
        v["snoozes"] = serde_json::json!({"sos": {"until": "2026-11-22T12:00:00Z", "by": "cg-nobody"}});
        assert_eq!(
            refused(&v).fields(),
            [
                "caregivers[0].push_endpoint",
                "caregivers[1].level",
                "caregivers[1].quiet_hours.time_zone",
                "caregivers[1].quiet_hours.end",
                "caregivers[1].id",
                "caregivers[1].sub",
                "snoozes.sos",
                "snoozes.sos.by"
            ]
        );
    }

    #[test]
    fn the_escalation_policy_is_checked_by_its_own_validator() {
        let mut v = sample();
        v["escalation"] = serde_json::json!({"low": [{"after_min": 0, "to": "level1", "channels": ["voice"]}]});
        let err = refused(&v);
        assert_eq!(err.fields(), ["escalation.low[0].after_min", "escalation.low[0]"]);
        assert!(err.to_string().contains("escalation.low[0]: low-severity alerts never call"), "{err}");
    }

    #[test]
    fn device_links() {
        let link = DeviceLink {
            device_id: "band 1".into(),
            wearer_id: String::new(),
            app_users: vec![],
            time_zone: "Nowhere/City".into(),
        };
        assert_eq!(validate_device(&link).unwrap_err().fields(), ["device_id", "wearer_id", "app_users", "time_zone"]);
        let link = DeviceLink {
            device_id: "band-1".into(),
            wearer_id: "w-1".into(),
            app_users: vec!["u".into()],
            time_zone: "UTC".into(),
        };
        assert_eq!(validate_device(&link), Ok(()));
    }

    proptest! {
        #[test]
        fn e164_accepts_exactly_plus_and_8_to_15_digits_not_starting_with_0(digits in "[0-9]{0,18}") {
            let expected = (8..=15).contains(&digits.len()) && !digits.starts_with('0');
            prop_assert_eq!(check_phone(&format!("+{digits}")).is_ok(), expected);
            prop_assert!(check_phone(&digits).is_err());
        }

        #[test]
        fn any_known_zone_is_accepted(i in 0..chrono_tz::TZ_VARIANTS.len()) {
            prop_assert!(check_time_zone(chrono_tz::TZ_VARIANTS[i].name()).is_ok());
        }

        #[test]
        fn checks_never_panic(s in "\\PC{0,40}") {
            let _ = (check_phone(&s), check_language(&s), check_time_zone(&s), check_id(&s), parse_wearer(&s));
        }
    }
}
