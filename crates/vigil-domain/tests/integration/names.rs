//! The enums stored as text: one spelling each, the serde one, and back.

use vigil_domain::alerts::{RuleKind, Severity};
use vigil_domain::reading::{Activity, SleepStage};

#[test]
fn enum_strings_match_the_upload_contract() {
    for a in [Activity::Rest, Activity::Light, Activity::Moderate, Activity::Vigorous] {
        assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
    }
    for s in [SleepStage::Awake, SleepStage::Light, SleepStage::Deep, SleepStage::Rem] {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
}

fn round_trips<T>(all: &[T], name: fn(T) -> &'static str)
where
    T: Copy + PartialEq + std::fmt::Debug + serde::Serialize + std::str::FromStr,
    T::Err: std::fmt::Debug,
{
    for v in all {
        assert_eq!(serde_json::to_value(v).unwrap(), name(*v), "{v:?}: as_str is not the serde spelling");
        assert_eq!(name(*v).parse::<T>().unwrap(), *v);
    }
    assert!("".parse::<T>().is_err());
    assert!(name(all[0]).to_uppercase().parse::<T>().is_err(), "parsing is exact");
}

#[test]
fn every_stored_enum_parses_back_from_its_one_spelling() {
    round_trips(&Activity::ALL, Activity::as_str);
    round_trips(&SleepStage::ALL, SleepStage::as_str);
    round_trips(&RuleKind::ALL, RuleKind::as_str);
    round_trips(&Severity::ALL, Severity::as_str);
    let err = "sleepy".parse::<SleepStage>().unwrap_err();
    assert_eq!(err.to_string(), r#"unknown sleep stage "sleepy""#);
}
