//! The reading timestamp's fast path must be `DateTime::parse_from_rfc3339`
//! exactly: the same accepted strings, the same instant and offset, the same errors.

use chrono::{DateTime, FixedOffset};
use proptest::prelude::*;
use vigil_domain::reading::parse_rfc3339;

fn same(s: &str) {
    let fast = parse_rfc3339(s);
    let chrono = DateTime::parse_from_rfc3339(s);
    match (&fast, &chrono) {
        // DateTime's == compares instants only; the offset is part of the value too.
        (Ok(a), Ok(b)) => assert!(a == b && a.offset() == b.offset(), "{s:?}: {a:?} vs {b:?}"),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{s:?}"),
        _ => panic!("{s:?}: {fast:?} vs {chrono:?}"),
    }
}

#[test]
fn edge_cases_match_chrono() {
    for s in [
        "2026-11-22T09:00:05+01:00",
        "2026-11-22T09:00:05Z",
        "2026-11-22T09:00:05-00:00",
        "2026-11-22T09:00:05-12:45",
        "2026-11-22T23:59:59+23:59",
        "2026-11-22T00:00:00-23:59",
        "2024-02-29T12:00:00Z",
        "2025-02-29T12:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-11-22T24:00:00Z",
        "2026-11-22T23:60:00Z",
        "2026-11-22T23:59:60Z",
        "2026-12-31T23:59:60+01:00",
        "2026-11-22T09:00:05+24:00",
        "2026-11-22T09:00:05+01:60",
        "2026-11-22T09:00:05+99:99",
        "2026-11-22t09:00:05Z",
        "2026-11-22 09:00:05Z",
        "2026-11-22T09:00:05z",
        "2026-11-22T09:00:05.250+01:00",
        "2026-11-22T09:00:05.123456789123Z",
        "2026-11-22T09:00:05+0100",
        "2026-11-22T09:00:05+01",
        "2026-11-22T09:00:05",
        "2026-11-22T9:00:05Z",
        "0000-01-01T00:00:00+01:00",
        "0999-12-31T23:59:59Z",
        "1000-01-01T00:00:00+23:59",
        "9998-12-31T23:59:59-23:59",
        "9999-12-31T23:59:59-01:00",
        "+2026-11-22T09:00:05Z",
        "2026-11-22T09:00:05+01:00 ",
        " 2026-11-22T09:00:05Z",
        "2026-1a-22T09:00:05Z",
        "2026-11-22T09:00:05+0a:00",
        "2026-11-22T09:00:05\u{FF0B}1:00",
        "",
    ] {
        same(s);
    }
}

/// Strings near the fixed-width form: each position a digit, a separator or noise.
fn near_rfc3339() -> impl Strategy<Value = String> {
    let template = "2026-11-22T09:00:05+01:00";
    let positions: Vec<BoxedStrategy<String>> = template
        .chars()
        .map(|c| {
            let keep = Just(c.to_string()).boxed();
            if c.is_ascii_digit() {
                prop_oneof![4 => (0u8..10).prop_map(|d| d.to_string()), 1 => keep].boxed()
            } else {
                prop_oneof![
                    8 => keep,
                    1 => prop::sample::select(vec!["+", "-", "Z", "z", "T", "t", " ", ":", ".", "", "5", "é"])
                        .prop_map(str::to_owned),
                ]
                .boxed()
            }
        })
        .collect();
    (positions, prop::sample::select(vec!["", "", "", "Z", ".5", ":00", "00"]))
        .prop_map(|(parts, tail)| parts.concat() + tail)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn near_misses_match_chrono(s in near_rfc3339()) {
        same(&s);
    }

    #[test]
    fn utc_form_matches_chrono(s in near_rfc3339()) {
        same(&format!("{}Z", s.chars().take(19).collect::<String>()));
    }

    #[test]
    fn any_valid_instant_round_trips(secs in -30_000_000_000i64..250_000_000_000, off in -86_399i32..86_400) {
        let t: DateTime<FixedOffset> =
            DateTime::from_timestamp(secs, 0).unwrap().with_timezone(&FixedOffset::east_opt(off).unwrap());
        same(&t.to_rfc3339());
        same(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
}
