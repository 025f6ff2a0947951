//! Notification text for caregivers: who, what happened, when (the wearer's local
//! time) and what to do, in the caregiver's language.
//!
//! Texts name the wearer instead of using a pronoun, so they stay gender-neutral
//! in Spanish and Portuguese too.

use chrono::{NaiveTime, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{Alert, RuleKind};

/// Longest SMS we send: two concatenated GSM-7 segments' worth of characters.
pub const MAX_SMS_CHARS: usize = 320;
/// Longest wearer name used in a message; longer names are shortened with "…".
const MAX_NAME_CHARS: usize = 40;

/// A caregiver's language. Deserializes leniently, like [`Language::parse`], so a
/// registry entry with an unexpected tag still gets a message (in English).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String")]
pub enum Language {
    #[default]
    #[serde(rename = "en")]
    En,
    #[serde(rename = "es")]
    Es,
    #[serde(rename = "pt-BR")]
    PtBr,
}

impl Language {
    /// Reads a language tag case-insensitively by its primary subtag: `es`,
    /// `es-MX` → Spanish; `pt`, `pt-BR` (and `pt-PT`, closer to it than English
    /// is) → Brazilian Portuguese; anything else → English.
    pub fn parse(tag: &str) -> Self {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "es" => Language::Es,
            "pt" => Language::PtBr,
            _ => Language::En,
        }
    }
}

impl From<String> for Language {
    fn from(tag: String) -> Self {
        Self::parse(&tag)
    }
}

/// The texts of one notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The alert the message is about: push payloads carry it and the app's deep link.
    #[serde(default)]
    pub alert_id: String,
    /// At most [`MAX_SMS_CHARS`] characters.
    pub sms: String,
    pub push_title: String,
    pub push_body: String,
}

/// Renders `alert` for a caregiver of `wearer_name` (personal data: the result
/// must never be logged), with times in the wearer's time zone `tz`.
pub fn render(alert: &Alert, wearer_name: &str, tz: Tz, lang: Language) -> Message {
    let name = shorten(wearer_name.trim(), MAX_NAME_CHARS);
    let ctx = Ctx {
        name: &name,
        at: alert.raised_at.with_timezone(&tz).naive_local().time(),
        since: alert.episode_start.with_timezone(&tz).naive_local().time(),
        value: value_text(alert, lang),
        lang,
    };
    let (title, mut body) = match lang {
        Language::En => english(alert.rule, &ctx),
        Language::Es => spanish(alert.rule, &ctx),
        Language::PtBr => portuguese(alert.rule, &ctx),
    };
    if let (RuleKind::Sos | RuleKind::Fall, Some(loc)) = (alert.rule, alert.location) {
        let label = match lang {
            Language::En => "Location",
            Language::Es => "Ubicación",
            Language::PtBr => "Localização",
        };
        body.push_str(&format!(" {label}: https://maps.google.com/?q={:.5},{:.5}", loc.lat, loc.lon));
    }
    Message {
        alert_id: alert.id.to_string(),
        sms: shorten(&format!("Vigil: {body}"), MAX_SMS_CHARS),
        push_title: title,
        push_body: body,
    }
}

struct Ctx<'a> {
    name: &'a str,
    at: NaiveTime,
    since: NaiveTime,
    /// " (130 bpm)", or empty when the alert carries no value.
    value: String,
    lang: Language,
}

impl Ctx<'_> {
    /// "at 14:05", "a las 14:05", "às 14h05".
    fn at(&self) -> String {
        clock(self.at, self.lang, false)
    }

    /// "since 14:05", "desde las 14:05", "desde as 14h05".
    fn since(&self) -> String {
        clock(self.since, self.lang, true)
    }
}

fn clock(t: NaiveTime, lang: Language, since: bool) -> String {
    let (h, m) = (t.hour(), t.minute());
    match (lang, since) {
        (Language::En, false) => format!("at {h:02}:{m:02}"),
        (Language::En, true) => format!("since {h:02}:{m:02}"),
        // "a la una", "a las dos": the article agrees with the hour.
        (Language::Es, _) => {
            let article = if h == 1 { "la" } else { "las" };
            let prep = if since { "desde" } else { "a" };
            format!("{prep} {article} {h:02}:{m:02}")
        }
        // "à 0h05", "à 1h05", "às 14h05"; "desde a 1h05", "desde as 14h05".
        (Language::PtBr, false) => format!("{} {h}h{m:02}", if h <= 1 { "à" } else { "às" }),
        (Language::PtBr, true) => format!("desde {} {h}h{m:02}", if h <= 1 { "a" } else { "as" }),
    }
}

fn value_text(alert: &Alert, lang: Language) -> String {
    let Some(v) = alert.value else { return String::new() };
    let text = match alert.rule {
        RuleKind::HeartRateHigh | RuleKind::HeartRateLow => {
            format!("{v:.0} {}", if lang == Language::Es { "lpm" } else { "bpm" })
        }
        RuleKind::Spo2Low | RuleKind::BatteryLow if lang == Language::Es => format!("{v:.0} %"),
        RuleKind::Spo2Low | RuleKind::BatteryLow => format!("{v:.0}%"),
        RuleKind::Inactivity | RuleKind::NotWorn | RuleKind::NoData => {
            let min = v.max(0.0) as u64;
            if min >= 60 { format!("{} h {:02} min", min / 60, min % 60) } else { format!("{min} min") }
        }
        RuleKind::Sos | RuleKind::Fall => return String::new(),
    };
    format!(" ({text})")
}

fn english(rule: RuleKind, c: &Ctx) -> (String, String) {
    let (n, v, at, since) = (c.name, &c.value, c.at(), c.since());
    let urgent = format!("Call {n} now; if there is no answer, call emergency services.");
    match rule {
        RuleKind::Sos => (format!("SOS: {n}"), format!("{n} pressed the SOS button {at}. {urgent}")),
        RuleKind::Fall => {
            (format!("Fall: {n}"), format!("{n}'s band detected a fall {at} that was not cancelled. {urgent}"))
        }
        RuleKind::HeartRateHigh | RuleKind::HeartRateLow => {
            let level = if rule == RuleKind::HeartRateHigh { "high" } else { "low" };
            (
                format!("Heart rate {level}: {n}"),
                format!(
                    "{n}'s heart rate has been {level}{v} {since}. Call {n} to ask how they feel; \
                     if they feel unwell, call emergency services."
                ),
            )
        }
        RuleKind::Spo2Low => (
            format!("Low blood oxygen: {n}"),
            format!(
                "{n}'s blood oxygen has been low{v} {since}. Call {n} now; if they are short of breath \
                 or confused, call emergency services."
            ),
        ),
        RuleKind::Inactivity => (
            format!("No movement: {n}"),
            format!("{n} has not moved {since}{v}. Call or visit {n} to check they are all right."),
        ),
        RuleKind::NotWorn => (
            format!("Band not worn: {n}"),
            format!("{n} has not been wearing the band {since}{v}. Remind {n} to put it back on."),
        ),
        RuleKind::BatteryLow => {
            (format!("Low battery: {n}"), format!("{n}'s band battery is low{v} {at}. Remind {n} to charge it."))
        }
        RuleKind::NoData => (
            format!("No data: {n}"),
            format!(
                "No data from {n}'s band {since}{v}. Check that the phone is on and near the band, \
                 or call {n}."
            ),
        ),
    }
}

fn spanish(rule: RuleKind, c: &Ctx) -> (String, String) {
    let (n, v, at, since) = (c.name, &c.value, c.at(), c.since());
    let urgent = format!("Llame a {n} ahora; si no contesta, llame a emergencias.");
    match rule {
        RuleKind::Sos => (format!("SOS: {n}"), format!("{n} pulsó el botón SOS {at}. {urgent}")),
        RuleKind::Fall => {
            (format!("Caída: {n}"), format!("La pulsera de {n} detectó una caída {at} y no se canceló. {urgent}"))
        }
        RuleKind::HeartRateHigh | RuleKind::HeartRateLow => {
            let level = if rule == RuleKind::HeartRateHigh { "alto" } else { "bajo" };
            (
                format!("Pulso {level}: {n}"),
                format!(
                    "{n} tiene el pulso {level}{v} {since}. Llame a {n} para saber cómo está; \
                     si se encuentra mal, llame a emergencias."
                ),
            )
        }
        RuleKind::Spo2Low => (
            format!("Saturación baja: {n}"),
            format!(
                "{n} tiene la saturación de oxígeno baja{v} {since}. Llame a {n} ahora; si le falta el aire \
                 o no responde con claridad, llame a emergencias."
            ),
        ),
        RuleKind::Inactivity => (
            format!("Sin movimiento: {n}"),
            format!("{n} no se ha movido {since}{v}. Llame o visite a {n} para comprobar que está bien."),
        ),
        RuleKind::NotWorn => (
            format!("Sin pulsera: {n}"),
            format!("{n} no lleva puesta la pulsera {since}{v}. Recuérdele a {n} que se la ponga."),
        ),
        RuleKind::BatteryLow => (
            format!("Batería baja: {n}"),
            format!("La batería de la pulsera de {n} está baja{v} {at}. Recuérdele a {n} que la cargue."),
        ),
        RuleKind::NoData => (
            format!("Sin datos: {n}"),
            format!(
                "No recibimos datos de la pulsera de {n} {since}{v}. Compruebe que el teléfono está \
                 encendido y cerca de la pulsera, o llame a {n}."
            ),
        ),
    }
}

fn portuguese(rule: RuleKind, c: &Ctx) -> (String, String) {
    let (n, v, at, since) = (c.name, &c.value, c.at(), c.since());
    let urgent = format!("Ligue agora para {n}; se não atender, ligue para o serviço de emergência.");
    match rule {
        RuleKind::Sos => (format!("SOS: {n}"), format!("{n} apertou o botão SOS {at}. {urgent}")),
        RuleKind::Fall => (
            format!("Queda: {n}"),
            format!("A pulseira de {n} detectou uma queda {at} que não foi cancelada. {urgent}"),
        ),
        RuleKind::HeartRateHigh | RuleKind::HeartRateLow => {
            let level = if rule == RuleKind::HeartRateHigh { "alta" } else { "baixa" };
            (
                format!("Frequência cardíaca {level}: {n}"),
                format!(
                    "{n} está com a frequência cardíaca {level}{v} {since}. Ligue para {n} para saber \
                     como está; se estiver passando mal, ligue para o serviço de emergência."
                ),
            )
        }
        RuleKind::Spo2Low => (
            format!("Saturação baixa: {n}"),
            format!(
                "{n} está com a saturação de oxigênio baixa{v} {since}. Ligue agora para {n}; se tiver \
                 falta de ar ou não responder com clareza, ligue para o serviço de emergência."
            ),
        ),
        RuleKind::Inactivity => (
            format!("Sem movimento: {n}"),
            format!("{n} está sem se movimentar {since}{v}. Ligue ou visite {n} para ver se está tudo bem."),
        ),
        RuleKind::NotWorn => (
            format!("Pulseira fora do pulso: {n}"),
            format!("{n} está sem a pulseira {since}{v}. Lembre {n} de colocá-la de volta."),
        ),
        RuleKind::BatteryLow => (
            format!("Bateria fraca: {n}"),
            format!("A bateria da pulseira de {n} está fraca{v} {at}. Lembre {n} de carregá-la."),
        ),
        RuleKind::NoData => (
            format!("Sem dados: {n}"),
            format!(
                "Não recebemos dados da pulseira de {n} {since}{v}. Verifique se o celular está ligado \
                 e perto da pulseira, ou ligue para {n}."
            ),
        ),
    }
}

/// At most `max` characters, ending in "…" when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
