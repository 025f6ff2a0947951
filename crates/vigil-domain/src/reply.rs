//! SMS replies from caregivers: which ones acknowledge an alert, and the short
//! confirmation sent back. A reply that does not acknowledge gets no action and
//! no answer.

use crate::alerts::Language;
use crate::alerts::message::fit_name;
use crate::sms::fits;

/// Replies that acknowledge, once trimmed, folded to upper case and stripped of
/// accents: "1", "ok", "sí"/"si", "sim", "yes".
const ACKNOWLEDGING: [&str; 5] = ["1", "OK", "SI", "SIM", "YES"];

/// Most segments the confirmation may cost (it is one for short names).
const MAX_CONFIRMATION_SEGMENTS: usize = 2;

/// Whether an SMS reply acknowledges the alert: `body`, trimmed, with trailing
/// punctuation ("ok.", "Sim!") and a leading "¡" or "¿" ignored, is exactly one of
/// `1`, `OK`, `SI`, `SÍ`, `SIM`, `YES`, in any case and with or without accents.
/// "sí", "Sim!", " ok ", "YES." acknowledge; "no", "11", "ok thanks", "" do not.
pub fn acknowledges(body: &str) -> bool {
    let word = body
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace() || matches!(c, '¡' | '¿' | '…'))
        .trim_start_matches(['¡', '¿'])
        .trim();
    // Longer than any accepted word, accents and all: not one (and no work to do).
    if word.len() > 16 {
        return false;
    }
    let folded: String = word.chars().filter_map(fold).collect();
    ACKNOWLEDGING.iter().any(|a| folded.eq_ignore_ascii_case(a))
}

/// `c` without its accent, as far as the accepted words need ("SÍ", "sì", and the
/// combining accents of a decomposed "í"); other characters as they are.
fn fold(c: char) -> Option<char> {
    match c {
        'í' | 'ì' | 'î' | 'ï' => Some('i'),
        'Í' | 'Ì' | 'Î' | 'Ï' => Some('I'),
        // Combining diacritical marks: "i" + U+0301 is a decomposed "í".
        '\u{0300}'..='\u{036F}' => None,
        c => Some(c),
    }
}

/// The SMS answer to a reply that acknowledged an alert about `wearer_name`
/// (personal data: never log it): one segment for a short name in every
/// language, at most two for any (the name shortened with "…" if needed).
pub fn confirmation(lang: Language, wearer_name: &str) -> String {
    let text = |n: &str| match lang {
        Language::En => format!("Vigil: thanks, alert for {n} acknowledged. Others can see it."),
        Language::Es => format!("Vigil: gracias, aviso de {n} confirmado. Los demás lo verán."),
        Language::PtBr => format!("Vigil: alerta de {n} confirmado. Os outros cuidadores já veem."),
    };
    fit_name(wearer_name.trim(), |t| fits(t, 0, MAX_CONFIRMATION_SEGMENTS), text)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::sms::{Encoding, segments};

    #[test]
    fn the_accepted_words_acknowledge_in_any_case_accents_and_punctuation() {
        for body in [
            "1",
            "ok",
            "OK",
            "Ok",
            " ok ",
            "ok.",
            "OK!",
            "ok!!",
            "ok ?",
            "si",
            "SI",
            "sí",
            "Sí",
            "SÍ",
            "sì",
            "¡Sí!",
            "si\u{301}",
            "sim",
            "Sim!",
            "SIM.",
            "yes",
            "YES.",
            "Yes!",
            "1.",
            "\t1\n",
            "sim…",
        ] {
            assert!(acknowledges(body), "{body:?}");
        }
    }

    #[test]
    fn anything_else_does_not() {
        for body in [
            "",
            " ",
            ".",
            "!",
            "no",
            "No.",
            "11",
            "1 1",
            "01",
            "ok thanks",
            "okay",
            "yes please",
            "sii",
            "s",
            "simm",
            "não",
            "2",
            "-1",
            "o k",
            "SOS",
            "ok 👍",
            "👍",
            "1x",
            "x1",
            "sí, ya voy",
            "ya",
        ] {
            assert!(!acknowledges(body), "{body:?}");
        }
    }

    #[test]
    fn confirmations_are_one_segment_for_a_short_name_and_at_most_two() {
        for lang in [Language::En, Language::Es, Language::PtBr] {
            for name in ["Carmen", "Ana", "João"] {
                let text = confirmation(lang, name);
                assert!(text.starts_with("Vigil: ") && text.contains(name), "{text}");
                assert_eq!(segments(&text).segments, 1, "{lang:?}: {text} ({:?})", segments(&text));
            }
            for name in ["María José Pérez Gil", "Maria da Conceição Albuquerque Fernandes"] {
                let text = confirmation(lang, name);
                assert!(text.contains(name), "{text}");
                assert!(segments(&text).segments <= MAX_CONFIRMATION_SEGMENTS, "{text}");
            }
            let huge = confirmation(lang, &"Conceição 🚨 ".repeat(40));
            assert!(huge.contains("Conceição") && huge.contains('…'), "{huge}");
            assert!(segments(&huge).segments <= MAX_CONFIRMATION_SEGMENTS, "{huge}");
        }
        assert_eq!(
            confirmation(Language::En, "Carmen"),
            "Vigil: thanks, alert for Carmen acknowledged. Others can see it."
        );
        assert_eq!(segments(&confirmation(Language::En, "Carmen")).encoding, Encoding::Gsm7);
        assert_eq!(
            confirmation(Language::Es, "Carmen"),
            "Vigil: gracias, aviso de Carmen confirmado. Los demás lo verán."
        );
        assert_eq!(
            confirmation(Language::PtBr, " Carmen "),
            "Vigil: alerta de Carmen confirmado. Os outros cuidadores já veem."
        );
    }

    proptest! {
        #[test]
        fn acknowledges_never_panics(body in any::<String>()) {
            let _ = acknowledges(&body);
        }

        #[test]
        fn surrounding_whitespace_and_ascii_case_do_not_matter(body in "\\PC{0,12}", pad in "[ \t\n]{0,3}") {
            let padded = format!("{pad}{body}{pad}");
            prop_assert_eq!(acknowledges(&padded), acknowledges(&body));
            prop_assert_eq!(acknowledges(&body.to_ascii_uppercase()), acknowledges(&body.to_ascii_lowercase()));
        }

        #[test]
        fn only_short_replies_acknowledge(body in "\\PC{0,40}") {
            if acknowledges(&body) {
                let core: String = body.chars().filter(|c| c.is_alphanumeric()).collect();
                prop_assert!(core.chars().count() <= 3, "{:?}", body);
            }
        }
    }
}
