//! Fictitious wearers and caregivers: names, time zones, languages, phone numbers.
//!
//! Nothing here is a real person. Phone numbers are in the North American range
//! reserved for fiction (NXX-555-0100 to 0199), so an SMS that escapes the local
//! endpoint reaches nobody. Locations are a city centre rounded to 0.01° (about a
//! kilometre) with a kilometre of stated accuracy: coarse on purpose.

use chrono::NaiveTime;
use vigil_domain::alerts::{Language, Thresholds};
use vigil_domain::care::{Caregiver, QuietHours, WearerProfile};
use vigil_domain::reading::Location;
use vigil_domain::registry::DeviceLink;

use super::SimWearer;
use super::rng::Rng;

/// A time zone with the language its caregivers read and names that fit it.
struct Zone {
    tz: &'static str,
    language: Language,
    first: &'static [&'static str],
    last: &'static [&'static str],
    /// A city centre, rounded.
    centre: (f64, f64),
}

const ZONES: [Zone; 5] = [
    Zone {
        tz: "Europe/Madrid",
        language: Language::Es,
        first: &["Carmen", "Dolores", "Pilar", "Josefa", "Antonio", "Manuel", "Rosario", "Joaquín"],
        last: &["Ruiz", "Navarro", "Ortega", "Delgado", "Castillo", "Vidal", "Serrano", "Molina"],
        centre: (40.42, -3.70),
    },
    Zone {
        tz: "America/Sao_Paulo",
        language: Language::PtBr,
        first: &["Maria", "Francisca", "Antônia", "Raimundo", "Sebastião", "Conceição", "Benedito", "Lourdes"],
        last: &["Silva", "Santos", "Oliveira", "Souza", "Pereira", "Almeida", "Rocha", "Barbosa"],
        centre: (-23.55, -46.63),
    },
    Zone {
        tz: "Europe/London",
        language: Language::En,
        first: &["Margaret", "Dorothy", "Edith", "Arthur", "Harold", "Stanley", "Winifred", "Cyril"],
        last: &["Whitfield", "Pemberton", "Ashby", "Hollis", "Fairbairn", "Cartwright", "Lumley", "Oakes"],
        centre: (51.51, -0.13),
    },
    Zone {
        tz: "America/New_York",
        language: Language::En,
        first: &["Betty", "Shirley", "Gloria", "Walter", "Eugene", "Ruth", "Marvin", "Loretta"],
        last: &["Kowalski", "Brennan", "Hartman", "Russo", "Jablonski", "McGrath", "Feldman", "Doyle"],
        centre: (40.71, -74.01),
    },
    // No Japanese messages yet: these caregivers read English.
    Zone {
        tz: "Asia/Tokyo",
        language: Language::En,
        first: &["Haruko", "Kazuo", "Fumiko", "Shigeru", "Yoshiko", "Tadashi", "Kiyoko", "Isamu"],
        last: &["Tanaka", "Sato", "Watanabe", "Ito", "Nakamura", "Kobayashi", "Yamada", "Inoue"],
        centre: (35.68, 139.77),
    },
];

/// Caregivers numbered from 0 across the fleet map one-to-one onto fictitious
/// numbers: 100 per area code, area codes 200–999 without the N11 service codes.
pub(crate) const MAX_CAREGIVERS: usize = 100 * AREA_CODES;
const AREA_CODES: usize = 800 - 8;

/// The E.164 number of caregiver `k` (unique for `k < MAX_CAREGIVERS`).
pub(crate) fn phone(k: usize) -> String {
    // Each hundred of area codes holds 99 usable ones (x11 are service codes).
    let block = k / 100;
    let (hundred, rest) = (block / 99, block % 99);
    let area = 200 + hundred * 100 + rest + usize::from(rest >= 11);
    format!("+1{area}55501{:02}", k % 100)
}

/// What the generator needs about a wearer beyond the public [`SimWearer`].
pub(crate) struct Person {
    pub sim: SimWearer,
    pub home: Location,
}

/// The markers of a canary fleet's personal data ([`super::FleetConfig::canary`]): every
/// wearer's and caregiver's name starts with the first, every device id with the
/// second, every caregiver phone (E.164, 12 digits) with the third.
pub fn canary_markers(tag: u32) -> [String; 3] {
    [format!("CANARY-NAME-{tag}"), format!("CANARY-DEV-{tag}"), format!("+1{tag}")]
}

/// Builds wearer `index` (0-based); `next_caregiver` numbers caregivers across the fleet.
/// With a `canary` tag, names, phones and the device id are canary strings (the
/// generator draws the same numbers either way, so the rest of the fleet is the same).
pub(crate) fn person(index: usize, rng: &mut Rng, next_caregiver: &mut usize, canary: Option<u32>) -> Person {
    let n = index + 1;
    let zone = &ZONES[index % ZONES.len()];
    let wearer_id = format!("wearer-{n:04}");
    let name = format!("{} {}", rng.pick(zone.first), rng.pick(zone.last));

    let mut thresholds = Thresholds::default();
    // Some wearers carry a clinician's tighter limit, as in events/wearer-profile.json;
    // the generator reads every limit from the profile, so this is exercised too.
    if index % 4 == 3 {
        thresholds.heart_rate_high_bpm = 115;
    }

    let count = 1 + rng.below(2) as usize;
    let caregivers = (0..count)
        .map(|c| {
            let k = *next_caregiver;
            *next_caregiver += 1;
            // A second caregiver sometimes lives abroad and reads English, and keeps quiet hours.
            let abroad = c == 1 && rng.below(3) == 0;
            let quiet = c == 1 && rng.below(2) == 0;
            Caregiver {
                id: format!("cg-{n:04}-{}", c + 1),
                level: 1,
                // Every simulated caregiver signs in to the caregivers' API with an account of their own.
                sub: Some(format!("caregiver-{n:04}-{}", c + 1)),
                name: Some(zone.first[k % zone.first.len()].to_owned()),
                language: if abroad { Language::En } else { zone.language },
                phone: Some(phone(k)),
                push_endpoint: None,
                quiet_hours: quiet.then(|| QuietHours {
                    start: NaiveTime::from_hms_opt(22, 0, 0).unwrap_or(NaiveTime::MIN),
                    end: NaiveTime::from_hms_opt(7, 0, 0).unwrap_or(NaiveTime::MIN),
                    time_zone: zone.tz.to_owned(),
                }),
                // Opted out of the daily message; `vigil run --days` opts some in.
                daily_at: None,
            }
        })
        .collect();

    let device_id = format!("band-{n:04}");
    let app_user = format!("app-user-{n:04}");
    let profile = WearerProfile {
        wearer_id: wearer_id.clone(),
        name,
        time_zone: zone.tz.to_owned(),
        thresholds,
        caregivers,
        snoozes: Default::default(),
        escalation: Default::default(),
    };
    let device = DeviceLink { device_id, wearer_id, app_users: vec![app_user.clone()], time_zone: zone.tz.to_owned() };
    let jitter = |r: &mut Rng| r.range(-3, 3) as f64 / 100.0;
    let home = Location {
        lat: round2(zone.centre.0 + jitter(rng)),
        lon: round2(zone.centre.1 + jitter(rng)),
        accuracy_m: Some(1_000.0),
    };
    let mut sim = SimWearer { profile, device, app_user };
    if let Some(tag) = canary {
        let first_caregiver = *next_caregiver - sim.profile.caregivers.len();
        canary_person(&mut sim, n, tag, first_caregiver);
    }
    Person { sim, home }
}

/// Replaces wearer `n`'s name, device id, and their caregivers' names and phones
/// (numbered from `first_caregiver`) with canary strings.
fn canary_person(sim: &mut SimWearer, n: usize, tag: u32, first_caregiver: usize) {
    let [name, device, phone] = canary_markers(tag);
    sim.profile.name = format!("{name}-{n:04}");
    sim.device.device_id = format!("{device}-{n:04}");
    for (c, caregiver) in sim.profile.caregivers.iter_mut().enumerate() {
        caregiver.name = Some(format!("{name}-{n:04}-{}", c + 1));
        caregiver.phone = Some(format!("{phone}{:05}", first_caregiver + c));
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn phones_are_unique_fictitious_e164() {
        let mut seen = HashSet::new();
        for k in 0..MAX_CAREGIVERS {
            let p = phone(k);
            assert_eq!(p.len(), 12, "{p}");
            assert!(p.starts_with("+1") && p[2..].bytes().all(|b| b.is_ascii_digit()), "{p}");
            let area = &p[2..5];
            assert!(!area.ends_with("11") && ("200"..="999").contains(&area), "{p}");
            assert_eq!(&p[5..10], "55501", "{p}");
            assert!(seen.insert(p));
        }
    }

    #[test]
    fn a_canary_fleet_carries_only_canary_names_phones_and_devices() {
        let tag = 424_242;
        let [name, device, phone] = canary_markers(tag);
        let mut next = 0;
        let mut phones = HashSet::new();
        for i in 0..40 {
            let plain = person(i, &mut Rng::derive(3, i as u64), &mut 0, None).sim;
            let sim = person(i, &mut Rng::derive(3, i as u64), &mut next, Some(tag)).sim;
            assert!(sim.profile.name.starts_with(&name) && sim.device.device_id.starts_with(&device));
            assert_eq!(sim.profile.caregivers.len(), plain.profile.caregivers.len(), "the same draws");
            for c in &sim.profile.caregivers {
                assert!(c.name.as_deref().is_some_and(|n| n.starts_with(&name)), "{c:?}");
                let p = c.phone.clone().unwrap();
                assert!(p.starts_with(&phone) && p.len() == 13 && p[1..].bytes().all(|b| b.is_ascii_digit()), "{p}");
                assert!(phones.insert(p), "unique");
            }
        }
    }

    #[test]
    fn zones_parse_as_iana_names() {
        for zone in &ZONES {
            assert!(zone.tz.parse::<chrono_tz::Tz>().is_ok(), "{}", zone.tz);
        }
    }
}
