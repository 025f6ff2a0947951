//! How many SMS segments a text costs, counted the way the network will.
//!
//! An SMS is sent in the GSM 03.38 default alphabet (7-bit septets) when every
//! character is in it, else the whole message is sent as UCS-2 (in practice
//! UTF-16): one character outside GSM-7, such as the `ó` of "Ubicación", turns the
//! whole message into UCS-2 and cuts its room by more than half.
//!
//! | encoding | unit | one segment | per part when concatenated |
//! |---|---|---|---|
//! | GSM-7 | septet; the extension characters `^ { } \ [ ~ ] \|  €` and form feed take 2 (escape + code) | 160 | 153 |
//! | UCS-2 | UTF-16 code unit; a character outside the BMP (most emoji) takes 2 | 70 | 67 |
//!
//! Parts are packed the way senders pack them: an escape sequence or a surrogate
//! pair is never split across two parts, so a 2-unit character that does not fit
//! in what is left of a part starts the next one. The count is therefore exact,
//! not just `ceil(units / 153)`.

/// The alphabet an SMS is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GSM 03.38 default alphabet and its extension table: 7-bit septets.
    Gsm7,
    /// UCS-2 / UTF-16: 16-bit code units.
    Ucs2,
}

impl Encoding {
    /// Units that fit in a message sent as a single segment.
    pub const fn single(self) -> usize {
        match self {
            Encoding::Gsm7 => 160,
            Encoding::Ucs2 => 70,
        }
    }

    /// Units that fit in each part of a concatenated message (the rest of the
    /// part holds the concatenation header).
    pub const fn per_part(self) -> usize {
        match self {
            Encoding::Gsm7 => 153,
            Encoding::Ucs2 => 67,
        }
    }
}

/// What a text costs as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Segments (billed messages). An empty text still costs one.
    pub segments: usize,
}

/// The encoding, size and number of segments of `text` sent as one SMS.
pub fn segments(text: &str) -> Segments {
    let gsm: Option<Vec<usize>> = text.chars().map(gsm7_septets).collect();
    let (encoding, widths) = match gsm {
        Some(widths) => (Encoding::Gsm7, widths),
        None => (Encoding::Ucs2, text.chars().map(char::len_utf16).collect()),
    };
    let units: usize = widths.iter().sum();
    let segments = if units <= encoding.single() { 1 } else { pack(&widths, encoding.per_part()) };
    Segments { encoding, units, segments }
}

/// Whether `text`, followed by `reserved` more characters of the GSM-7 basic set
/// (such as a space and a link: an ASCII URL in base64url is all basic
/// characters, one unit in either encoding), costs at most `max_segments`.
pub fn fits(text: &str, reserved: usize, max_segments: usize) -> bool {
    let mut probe = String::with_capacity(text.len() + reserved);
    probe.push_str(text);
    probe.extend(std::iter::repeat_n('x', reserved));
    segments(&probe).segments <= max_segments
}

/// Parts needed for characters of `widths` units each, `per_part` units per
/// part, never splitting a character.
fn pack(widths: &[usize], per_part: usize) -> usize {
    let (mut parts, mut used) = (1, 0);
    for &w in widths {
        if used + w > per_part {
            parts += 1;
            used = 0;
        }
        used += w;
    }
    parts
}

/// Septets `c` takes in the GSM 03.38 default alphabet: 1 in the basic set, 2 in
/// the extension table (escape + code), `None` when it is not in GSM-7 at all.
fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The basic character set (3GPP TS 23.038 §6.2.1), in code order. 0x1B (the
/// escape to the extension table) is not a character and is left out; 0x09 is
/// the capital Ç, as senders map it (a lowercase ç is not in GSM-7).
const GSM7_BASIC: &str = concat!(
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ",
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
);

/// The extension table (§6.2.1.1): form feed and `^{}\[~]|€`, 2 septets each.
const GSM7_EXTENSION: &str = "\u{0C}^{}\\[~]|€";

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;

    use super::*;
    use crate::alerts::message::{MAX_LINK_CHARS, MAX_SMS_SEGMENTS};
    use crate::alerts::{Alert, AlertId, Language, RuleKind, render};
    use crate::link::{LINK_TTL, LinkClaim, LinkKey};
    use crate::reading::Location;

    fn gsm(units: usize, segments: usize) -> Segments {
        Segments { encoding: Encoding::Gsm7, units, segments }
    }

    fn ucs2(units: usize, segments: usize) -> Segments {
        Segments { encoding: Encoding::Ucs2, units, segments }
    }

    #[test]
    fn the_basic_set_has_its_128_characters_less_the_escape() {
        assert_eq!(GSM7_BASIC.chars().count(), 127);
        assert_eq!(GSM7_EXTENSION.chars().count(), 10);
        let mut all: Vec<char> = GSM7_BASIC.chars().chain(GSM7_EXTENSION.chars()).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 137, "no character twice");
    }

    #[test]
    fn plain_text_is_gsm7() {
        assert_eq!(segments(""), gsm(0, 1));
        assert_eq!(segments("Vigil: Ana pressed the SOS button at 14:05."), gsm(43, 1));
        // Accents that are in the basic set.
        assert_eq!(segments("é è ù ì ò Ç Ø ø Å å Ä Ö Ñ Ü ä ö ñ ü à É Æ æ ß ¡ ¿ ¤ £ ¥ § @ $"), gsm(61, 1));
        assert_eq!(segments("ΔΦΓΛΩΠΨΣΘΞ_"), gsm(11, 1));
        assert_eq!(segments("Niño, Müller, Ñandú").encoding, Encoding::Ucs2, "ú is not GSM-7");
        assert_eq!(segments("Niño, Müller").encoding, Encoding::Gsm7);
    }

    #[test]
    fn one_character_outside_gsm7_makes_the_whole_message_ucs2() {
        assert_eq!(segments("Ubicación"), ucs2(9, 1), "ó is not in GSM-7");
        for c in ['ó', 'á', 'í', 'ú', 'ç', 'ã', 'õ', 'ê', 'â', '…', '’', '`', '\t'] {
            assert_eq!(segments(&format!("abc{c}")).encoding, Encoding::Ucs2, "{c:?}");
        }
        for c in ['é', 'è', 'ù', 'ì', 'ò', 'Ç', 'ü', 'ñ', 'à', 'ß', '€', '^'] {
            assert_eq!(segments(&format!("abc{c}")).encoding, Encoding::Gsm7, "{c:?}");
        }
    }

    #[test]
    fn gsm7_boundaries() {
        assert_eq!(segments(&"a".repeat(160)), gsm(160, 1));
        assert_eq!(segments(&"a".repeat(161)), gsm(161, 2));
        assert_eq!(segments(&"a".repeat(153 * 2)), gsm(306, 2));
        assert_eq!(segments(&"a".repeat(153 * 2 + 1)), gsm(307, 3));
        assert_eq!(segments(&"a".repeat(153 * 3)), gsm(459, 3));
    }

    #[test]
    fn extension_characters_take_two_septets() {
        for c in GSM7_EXTENSION.chars() {
            assert_eq!(segments(&c.to_string()), gsm(2, 1), "{c:?}");
        }
        assert_eq!(segments(&format!("{}€", "a".repeat(158))), gsm(160, 1));
        assert_eq!(segments(&format!("{}€", "a".repeat(159))), gsm(161, 2));
        assert_eq!(segments(&"{".repeat(80)), gsm(160, 1));
        assert_eq!(segments(&"{".repeat(81)), gsm(162, 2));
        // An escape sequence is not split: after 152 septets the euro does not fit
        // in the first part and starts the second, so 306 septets need 3 parts.
        assert_eq!(segments(&format!("{}€{}", "a".repeat(152), "a".repeat(152))), gsm(306, 3));
        assert_eq!(segments(&format!("{}€{}", "a".repeat(151), "a".repeat(153))), gsm(306, 2));
    }

    #[test]
    fn ucs2_boundaries() {
        assert_eq!(segments(&"ó".repeat(70)), ucs2(70, 1));
        assert_eq!(segments(&"ó".repeat(71)), ucs2(71, 2));
        assert_eq!(segments(&"ó".repeat(67 * 2)), ucs2(134, 2));
        assert_eq!(segments(&"ó".repeat(67 * 2 + 1)), ucs2(135, 3));
        // Extension characters are 1 unit in UCS-2, like any BMP character.
        assert_eq!(segments(&format!("ó{}", "€".repeat(69))), ucs2(70, 1));
    }

    #[test]
    fn characters_outside_the_bmp_take_two_units() {
        assert_eq!(segments("🚨"), ucs2(2, 1));
        assert_eq!(segments(&format!("{}🚨", "a".repeat(68))), ucs2(70, 1));
        assert_eq!(segments(&format!("{}🚨", "a".repeat(69))), ucs2(71, 2));
        // A surrogate pair is not split across parts.
        assert_eq!(segments(&format!("{}🚨{}", "a".repeat(66), "a".repeat(66))), ucs2(134, 3));
        assert_eq!(segments(&format!("{}🚨{}", "a".repeat(65), "a".repeat(67))), ucs2(134, 2));
    }

    /// Text mixing GSM-7 basic and extension characters, UCS-2 ones and emoji.
    fn sms_char() -> impl Strategy<Value = char> {
        prop_oneof![
            8 => prop::sample::select(GSM7_BASIC.chars().collect::<Vec<_>>()),
            2 => prop::sample::select(GSM7_EXTENSION.chars().collect::<Vec<_>>()),
            1 => prop::sample::select(vec!['ó', 'ã', 'ç', '…', '€', '🚨', '😀']),
            1 => any::<char>(),
        ]
    }

    proptest! {
        #[test]
        fn appending_a_character_never_lowers_the_count(
            text in prop::collection::vec(sms_char(), 0..500).prop_map(String::from_iter),
            c in sms_char(),
        ) {
            let before = segments(&text);
            let after = segments(&format!("{text}{c}"));
            prop_assert!(after.segments >= before.segments, "{before:?} -> {after:?} after {c:?}");
            prop_assert!(after.segments >= before.segments.max(1));
            // And the count is never below what the units alone need.
            let e = after.encoding;
            let floor = if after.units <= e.single() { 1 } else { after.units.div_ceil(e.per_part()) };
            prop_assert!(after.segments >= floor);
        }
    }

    /// Names: a short ASCII one; 20 characters with accents outside GSM-7, the
    /// worst realistic one (texts are written to keep it whole); 40 characters,
    /// the longest a message keeps, with ç and ã and within GSM-7.
    const NAMES: [&str; 4] = [
        "Ana",
        "María José Pérez Gil",
        "Maria da Conceição Albuquerque Fernandes",
        "Margaret Elizabeth Worthington-Blackwood",
    ];

    /// Where SOS and falls happen: nowhere known; São Paulo, 17 characters at 4
    /// decimals, as long as coordinates get but in the South Pacific; Tahiti, 18.
    const PLACES: [Option<(f64, f64)>; 3] = [None, Some((-23.550_520, -46.633_308)), Some((-17.535_0, -149.569_6))];

    /// The longest `LINK_BASE_URL` documented: 24 characters.
    const BASE_URL: &str = "https://vgl.example.info";

    const LANGUAGES: [Language; 3] = [Language::Es, Language::PtBr, Language::En];

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0).single().unwrap_or_default()
    }

    /// An alert as the engine raises it: an episode since 12:05 UTC, raised at 12:35
    /// (13:05 and 13:35 in Madrid), with a value as long as the rule's values get.
    fn alert(rule: RuleKind, place: Option<(f64, f64)>) -> Alert {
        let (start, at) = (utc(12, 5), utc(12, 35));
        Alert {
            id: AlertId::new("wearer-0006", rule, start),
            wearer_id: "wearer-0006".to_owned(),
            rule,
            severity: rule.severity(),
            episode_start: start,
            raised_at: at,
            readings: Vec::new(),
            location: place.map(|(lat, lon)| Location { lat, lon, accuracy_m: None }),
            value: match rule {
                RuleKind::Sos | RuleKind::Fall | RuleKind::BaselineDeviation => None,
                RuleKind::HeartRateHigh => Some(188.0),
                RuleKind::HeartRateLow => Some(35.0),
                RuleKind::Spo2Low => Some(85.0),
                RuleKind::BatteryLow => Some(14.0),
                // "12 h 30 min": the longest duration text.
                RuleKind::Inactivity | RuleKind::NotWorn | RuleKind::NoData => Some(750.0),
            },
        }
    }

    /// The SMS as the caller sends it: the rendered text, a space and the
    /// acknowledgement link with a real token, as long as links get (75 characters).
    fn sms_with_link(alert: &Alert, name: &str, lang: Language) -> (String, String) {
        let key = LinkKey::new(&[7; 32]).unwrap_or_else(|e| panic!("{e}"));
        let claim = LinkClaim::new(alert.id.as_str(), 2, alert.raised_at + LINK_TTL).unwrap_or_else(|e| panic!("{e}"));
        let link = format!("{BASE_URL}/a/{}", key.sign(&claim));
        assert_eq!(link.chars().count(), MAX_LINK_CHARS);
        let sms = render(alert, name, chrono_tz::Europe::Madrid, lang).sms;
        let with_link = format!("{sms} {link}");
        (sms, with_link)
    }

    /// How many of `name`'s characters `sms` shows (all, or a prefix before "…").
    fn shown(sms: &str, name: &str) -> usize {
        let chars: Vec<char> = name.chars().collect();
        (0..=chars.len()).rev().find(|&k| sms.contains(&String::from_iter(&chars[..k]))).unwrap_or(0)
    }

    /// Every rule × language × name × place costs at most 3 segments with its
    /// link, and names up to 20 characters stay whole (but in the South Pacific,
    /// where the 20-character one may lose a character or two). Prints, per rule
    /// and language, the most segments any name and place cost, the units of the
    /// worst realistic case (the 20-character accented name, São Paulo for SOS and
    /// falls; 201 is the most 3 UCS-2 parts hold) and how many characters of the
    /// 40-character accented name the SMS keeps
    /// (`cargo test -p vigil-domain sms -- --nocapture`).
    #[test]
    fn alert_sms_with_their_link_and_three_segments() {
        let mut over = Vec::new();
        let mut most = [0; 3];
        println!(
            "\nalert SMS with a {MAX_LINK_CHARS}-character link: most segments | units with a 20-character accented name | characters kept of a 40-character one"
        );
        println!("{:<16} {:<16} {:<16} {:<16}", "rule", "es", "pt-BR", "en");
        for rule in RuleKind::ALL {
            let mut row = format!("{:<16}", rule.as_str());
            for (l, lang) in LANGUAGES.into_iter().enumerate() {
                let (mut seg, mut units20, mut kept40) = (0, 0, 0);
                for name in NAMES {
                    for place in PLACES {
                        let alert = alert(rule, place);
                        let (sms, text) = sms_with_link(&alert, name, lang);
                        let s = segments(&text);
                        if s.segments > MAX_SMS_SEGMENTS {
                            over.push(text.clone());
                        }
                        seg = seg.max(s.segments);
                        let south_pacific = place.is_some_and(|(lat, lon)| lat < 0.0 && lon <= -100.0);
                        if name.chars().count() <= 20 && !south_pacific {
                            assert!(sms.contains(name) && !sms.contains('…'), "{rule:?} {lang:?}: {sms}");
                        }
                        if name == NAMES[1] && place == PLACES[1] {
                            units20 = s.units;
                        }
                        if name == NAMES[2] && place == PLACES[1] {
                            kept40 = shown(&sms, name);
                        }
                    }
                }
                row.push_str(&format!(" {:<16}", format!("{seg} | {units20} | {kept40}")));
                most[l] = most[l].max(seg);
            }
            println!("{row}");
        }
        println!("{:<16} {:<16} {:<16} {:<16}", "max segments", most[0], most[1], most[2]);
        assert!(over.is_empty(), "over {MAX_SMS_SEGMENTS} segments with the link: {over:#?}");
    }

    #[test]
    fn fits_counts_the_reserved_characters() {
        assert!(fits("", 459, 3));
        assert!(!fits("", 460, 3));
        assert!(fits(&"ó".repeat(125), 76, 3));
        assert!(!fits(&"ó".repeat(126), 76, 3));
        // A surrogate pair is not split: 124 units and the emoji start the third part late.
        assert!(fits(&format!("{}🚨", "ó".repeat(123)), 76, 3));
        assert!(!fits(&format!("{}🚨{}", "ó".repeat(66), "ó".repeat(57)), 76, 3));
    }
}
