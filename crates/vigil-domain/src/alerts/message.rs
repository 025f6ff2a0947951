//! Notification text for caregivers: who, what happened, when (the wearer's local
//! time) and what to do, in the caregiver's language; and what a phone call says
//! ([`render_voice`]).
//!
//! Texts name the wearer instead of using a gendered pronoun ("them" in English,
//! none in Spanish and Portuguese), so they stay gender-neutral.
//!
//! # The SMS budget
//!
//! The caller appends the caregiver's acknowledgement link to the SMS after one
//! space: at most [`MAX_LINK_CHARS`] characters. With it, an SMS must cost at most
//! [`MAX_SMS_SEGMENTS`] segments, counted honestly by [`crate::sms::segments`].
//! Spanish and Portuguese texts always hold a character outside GSM-7 (ó, ã, ç…),
//! and so does any text naming "María" or "Conceição", so they go as UCS-2: three
//! parts hold 201 units, which leaves 125 for the text before the link. The SMS
//! texts are therefore terser than the push ones, in a `Vigil, <what>: <who>
//! <when>. <what to do>` shape, and are written so that a 20-character accented
//! name, a value and (SOS, falls) the map link of the worst realistic coordinates
//! fit whole. What does not fit (a longer name, an exotic value) is made to fit
//! by shortening the name only as much as needed, with "…", and at worst the
//! text; a text sent as GSM-7 has far more room and keeps long names whole.
//!
//! The map link of the SMS has 4 decimals (about 11 m) and is written with
//! `https://` when that fits, else without it (`maps.google.com/?q=…`, which
//! phones still turn into a link): in SOS and fall texts with a 20-character
//! accented name the 8 characters of the scheme are what the instructions need.

use chrono::{NaiveTime, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::{Alert, RuleKind};
use crate::sms::{Encoding, fits};

/// Most segments an SMS may cost with its acknowledgement link appended.
pub const MAX_SMS_SEGMENTS: usize = 3;
/// Longest acknowledgement link appended to an SMS: `LINK_BASE_URL` (documented
/// to be at most 24 characters, e.g. `https://vgl.example.org`), `/a/` and the
/// token: 24 + 3 + 48 = 75, all GSM-7 basic characters.
pub const MAX_LINK_CHARS: usize = 24 + 3 + crate::link::TOKEN_LEN;
/// Longest SMS text we send, in characters: what leaves room for the link (and
/// its space) within [`MAX_SMS_SEGMENTS`] GSM-7 parts, 3 × 153 − 76 = 383. A text
/// sent as UCS-2 gets less: [`MAX_SMS_UCS2_UNITS`].
pub const MAX_SMS_CHARS: usize = MAX_SMS_SEGMENTS * Encoding::Gsm7.per_part() - (MAX_LINK_CHARS + 1);
/// Longest SMS text sent as UCS-2, in UTF-16 units: 3 × 67 − 76 = 125.
pub const MAX_SMS_UCS2_UNITS: usize = MAX_SMS_SEGMENTS * Encoding::Ucs2.per_part() - (MAX_LINK_CHARS + 1);
/// Longest wearer name used in a message; longer names are shortened with "…".
/// An SMS may shorten it further, only as much as its budget needs.
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The alert the message is about: push payloads carry it and the app's deep link.
    #[serde(default)]
    pub alert_id: String,
    /// The SMS text: with an acknowledgement link of up to [`MAX_LINK_CHARS`]
    /// appended after a space, at most [`MAX_SMS_SEGMENTS`] segments (hence at
    /// most [`MAX_SMS_CHARS`] characters, and [`MAX_SMS_UCS2_UNITS`] as UCS-2).
    pub sms: String,
    pub push_title: String,
    pub push_body: String,
    /// What a call says ([`render_voice`]); set only for a call's delivery.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub voice: String,
    /// The language of the texts (a call picks its voice by it).
    #[serde(default)]
    pub language: Language,
}

/// Renders `alert` for a caregiver of `wearer_name` (personal data: the result
/// must never be logged), with times in the wearer's time zone `tz`.
pub fn render(alert: &Alert, wearer_name: &str, tz: Tz, lang: Language) -> Message {
    let name = shorten(wearer_name.trim(), MAX_NAME_CHARS);
    let ctx = Ctx::new(alert, &name, tz, lang);
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
        sms: sms(alert, &ctx),
        push_title: title,
        push_body: body,
        voice: String::new(),
        language: lang,
    }
}

/// What a phone call about `alert` says to a caregiver of `wearer_name`, spoken
/// by text-to-speech in `lang`, with times in the wearer's time zone `tz`: who,
/// what, when, where the location is (for SOS and falls; coordinates are never
/// read out), what to do, and how to acknowledge. The caller says it twice, so
/// it is not repeated here. Personal data: the result must never be logged.
pub fn render_voice(alert: &Alert, wearer_name: &str, tz: Tz, lang: Language) -> String {
    let name = shorten(wearer_name.trim(), MAX_NAME_CHARS);
    let ctx = Ctx::new(alert, &name, tz, lang);
    let located = matches!(alert.rule, RuleKind::Sos | RuleKind::Fall) && alert.location.is_some();
    let value = alert.value.filter(|v| v.is_finite()).map(|v| format!("{v:.0}"));
    let value = value.as_deref();
    let parts = match lang {
        Language::En => voice_english(alert.rule, &ctx, value),
        Language::Es => voice_spanish(alert.rule, &ctx, value),
        Language::PtBr => voice_portuguese(alert.rule, &ctx, value),
    };
    let mut out = vec![parts.greeting, parts.what];
    if located {
        out.push(parts.location);
    }
    out.extend([parts.action, parts.acknowledge]);
    out.join(" ")
}

/// Most segments the "fall cancelled" SMS may cost (one for a short name).
pub const MAX_CANCELLED_SMS_SEGMENTS: usize = 2;

/// What the caregivers of `wearer_name` (personal data: never log the result) are
/// told when the cancel of a fall arrives after the fall alert went out: it was
/// cancelled on the band at `cancelled_at` (the wearer's local time, zone `tz`) and
/// nothing needs doing. The SMS has no acknowledgement link (there is nothing
/// to acknowledge) and costs at most [`MAX_CANCELLED_SMS_SEGMENTS`], the name
/// shortened with "…" if need be.
pub fn render_fall_cancelled(
    alert: &Alert,
    wearer_name: &str,
    tz: Tz,
    lang: Language,
    cancelled_at: chrono::DateTime<chrono::Utc>,
) -> Message {
    let at = clock(cancelled_at.with_timezone(&tz).naive_local().time(), lang, false);
    let text = |n: &str| match lang {
        Language::En => format!("Vigil: {n}'s fall alert was cancelled on the band {at}. No action needed."),
        Language::Es => {
            format!("Vigil: la alerta de caída de {n} se canceló en la pulsera {at}. No hace falta hacer nada.")
        }
        Language::PtBr => {
            format!("Vigil: o alerta de queda de {n} foi cancelado na pulseira {at}. Não é preciso fazer nada.")
        }
    };
    let name = shorten(wearer_name.trim(), MAX_NAME_CHARS);
    let title = match lang {
        Language::En => format!("Fall cancelled: {name}"),
        Language::Es => format!("Caída cancelada: {name}"),
        Language::PtBr => format!("Queda cancelada: {name}"),
    };
    Message {
        alert_id: alert.id.to_string(),
        sms: fit_name(&name, |t| fits(t, 0, MAX_CANCELLED_SMS_SEGMENTS), text),
        push_title: title,
        push_body: text(&name),
        voice: String::new(),
        language: lang,
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

impl<'a> Ctx<'a> {
    fn new(alert: &Alert, name: &'a str, tz: Tz, lang: Language) -> Self {
        Ctx {
            name,
            at: alert.raised_at.with_timezone(&tz).naive_local().time(),
            since: alert.episode_start.with_timezone(&tz).naive_local().time(),
            value: value_text(alert, lang),
            lang,
        }
    }

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
        RuleKind::Sos | RuleKind::Fall | RuleKind::BaselineDeviation => return String::new(),
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
        RuleKind::BaselineDeviation => (
            format!("Change from usual: {n}"),
            format!(
                "{n}'s sleep, walking or resting heart rate has been far from their usual for 2 days. \
                 See the daily summary in the app, and call {n} if you are worried."
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
        RuleKind::BaselineDeviation => (
            format!("Cambio respecto a lo habitual: {n}"),
            format!(
                "El sueño, la actividad o el pulso en reposo de {n} se alejan de lo habitual desde hace 2 días. \
                 Vea el resumen diario en la app y llame a {n} si le preocupa."
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
        RuleKind::BaselineDeviation => (
            format!("Mudança em relação ao normal: {n}"),
            format!(
                "O sono, a caminhada ou a frequência cardíaca em repouso de {n} estão longe do normal há 2 dias. \
                 Veja o resumo diário no app e ligue para {n} se achar necessário."
            ),
        ),
    }
}

/// The SMS of `alert`: the text for `c` with, for SOS and falls, the map link,
/// fitted to the budget of the module docs (the whole name and `https://` when
/// they fit).
fn sms(alert: &Alert, c: &Ctx) -> String {
    let text = |name: &str, https: bool| {
        let mut sms = match c.lang {
            Language::En => sms_english(alert.rule, c, name),
            Language::Es => sms_spanish(alert.rule, c, name),
            Language::PtBr => sms_portuguese(alert.rule, c, name),
        };
        if let (RuleKind::Sos | RuleKind::Fall, Some(loc)) = (alert.rule, alert.location) {
            let scheme = if https { "https://" } else { "" };
            sms.push_str(&format!(" {scheme}maps.google.com/?q={:.4},{:.4}", loc.lat, loc.lon));
        }
        sms
    };
    let whole = text(c.name, true);
    if fits_with_link(&whole) {
        return whole;
    }
    fit_name(c.name, fits_with_link, |name| text(name, false))
}

/// Whether `sms`, with the longest acknowledgement link after a space, costs at
/// most [`MAX_SMS_SEGMENTS`].
fn fits_with_link(sms: &str) -> bool {
    fits(sms, MAX_LINK_CHARS + 1, MAX_SMS_SEGMENTS)
}

/// `with_name(name)` with `name` shortened (ending in "…", never right after a
/// space) only as much as `fits` needs; when even "…" alone does not fit, the
/// text itself is shortened.
pub(crate) fn fit_name(name: &str, fits: impl Fn(&str) -> bool, with_name: impl Fn(&str) -> String) -> String {
    let chars: Vec<char> = name.chars().collect();
    for keep in (1..=chars.len()).rev() {
        // Cut names keep `keep - 1` characters and "…": skip a cut after a space.
        if keep < chars.len() && keep >= 2 && chars[keep - 2].is_whitespace() {
            continue;
        }
        let text = with_name(&shorten(name, keep));
        if fits(&text) {
            return text;
        }
    }
    let text = with_name(if chars.is_empty() { "" } else { "…" });
    (1..=text.chars().count()).rev().map(|keep| shorten(&text, keep)).find(|t| fits(t)).unwrap_or_default()
}

fn sms_english(rule: RuleKind, c: &Ctx, n: &str) -> String {
    let (v, at, since) = (&c.value, c.at(), c.since());
    let urgent = "Call now; if no answer, emergency services.";
    match rule {
        RuleKind::Sos => format!("Vigil, SOS: {n} {at}. {urgent}"),
        RuleKind::Fall => format!("Vigil, fall: {n} {at}. {urgent}"),
        RuleKind::HeartRateHigh | RuleKind::HeartRateLow => {
            let level = if rule == RuleKind::HeartRateHigh { "high" } else { "low" };
            format!("Vigil, {level} heart rate: {n}{v} {since}. Call now; if unwell, call emergency services.")
        }
        RuleKind::Spo2Low => {
            format!("Vigil, low blood oxygen: {n}{v} {since}. Call now; if breathless or confused, emergency services.")
        }
        RuleKind::Inactivity => {
            format!("Vigil, no movement: {n} {since}{v}. Call or visit to check they are all right.")
        }
        RuleKind::NotWorn => format!("Vigil, band not worn: {n} {since}{v}. Remind them to put it back on."),
        RuleKind::BatteryLow => format!("Vigil, low battery: {n}'s band{v} {at}. Remind them to charge it."),
        RuleKind::NoData => {
            format!("Vigil, no data: {n}'s band {since}{v}. Phone off or away from the band? Call them.")
        }
        RuleKind::BaselineDeviation => {
            format!("Vigil, change from usual: {n}'s sleep, walking or heart rate for 2 days. See the daily summary.")
        }
    }
}

fn sms_spanish(rule: RuleKind, c: &Ctx, n: &str) -> String {
    let (v, at, since) = (&c.value, c.at(), c.since());
    let urgent = "Llame ya; si no contesta, a emergencias.";
    match rule {
        RuleKind::Sos => format!("Vigil, SOS: {n} {at}. {urgent}"),
        RuleKind::Fall => format!("Vigil, caída: {n} {at}. {urgent}"),
        RuleKind::HeartRateHigh | RuleKind::HeartRateLow => {
            let level = if rule == RuleKind::HeartRateHigh { "alto" } else { "bajo" };
            format!("Vigil, pulso {level}: {n}{v} {since}. Llame ya; si se encuentra mal, a emergencias.")
        }
        RuleKind::Spo2Low => {
            format!("Vigil, oxígeno bajo: {n}{v} {since}. Llame ya; si le cuesta respirar o hablar, a emergencias.")
        }
        RuleKind::Inactivity => {
            format!("Vigil, sin movimiento: {n} {since}{v}. Llame o visite para comprobar que está bien.")
        }
        RuleKind::NotWorn => format!("Vigil, sin pulsera: {n} {since}{v}. Recuérdele que se la ponga."),
        RuleKind::BatteryLow => format!("Vigil, batería baja: pulsera de {n}{v} {at}. Recuérdele que la cargue."),
        RuleKind::NoData => {
            format!("Vigil, sin datos: pulsera de {n} {since}{v}. ¿Teléfono apagado o lejos de ella? Llame.")
        }
        RuleKind::BaselineDeviation => {
            format!("Vigil, cambio respecto a lo habitual: {n}, desde hace 2 días. Vea el resumen diario.")
        }
    }
}

fn sms_portuguese(rule: RuleKind, c: &Ctx, n: &str) -> String {
    let (v, at, since) = (&c.value, c.at(), c.since());
    let urgent = "Ligue já; sem resposta, chame o socorro.";
    match rule {
        RuleKind::Sos => format!("Vigil, SOS: {n} {at}. {urgent}"),
        RuleKind::Fall => format!("Vigil, queda: {n} {at}. {urgent}"),
        RuleKind::HeartRateHigh | RuleKind::HeartRateLow => {
            let level = if rule == RuleKind::HeartRateHigh { "alta" } else { "baixa" };
            format!("Vigil, frequência cardíaca {level}: {n}{v} {since}. Ligue já; se estiver mal, chame o socorro.")
        }
        RuleKind::Spo2Low => {
            format!("Vigil, oxigênio baixo: {n}{v} {since}. Ligue já. Falta de ar ou confusão? Chame o socorro.")
        }
        RuleKind::Inactivity => {
            format!("Vigil, sem movimento: {n} {since}{v}. Ligue ou visite para ver se está tudo bem.")
        }
        RuleKind::NotWorn => format!("Vigil, sem pulseira: {n} {since}{v}. Peça para colocá-la de volta."),
        RuleKind::BatteryLow => format!("Vigil, bateria fraca: pulseira de {n}{v} {at}. Peça para carregá-la."),
        RuleKind::NoData => {
            format!("Vigil, sem dados: pulseira de {n} {since}{v}. Celular desligado ou longe dela? Ligue.")
        }
        RuleKind::BaselineDeviation => {
            format!("Vigil, mudança em relação ao normal: {n}, há 2 dias. Veja o resumo diário.")
        }
    }
}

/// The sentences of a call, in the order they are said.
struct Voice {
    greeting: String,
    /// What happened and when.
    what: String,
    /// Where the location is (said for SOS and falls that have one).
    location: String,
    action: String,
    acknowledge: String,
}

/// A time as text-to-speech reads it well: "14:05", "9:05" (no leading zero, and
/// the colon rather than Portuguese "14h05", which a voice may spell out).
fn spoken(t: NaiveTime) -> String {
    format!("{}:{:02}", t.hour(), t.minute())
}

fn voice_english(rule: RuleKind, c: &Ctx, value: Option<&str>) -> Voice {
    let n = c.name;
    let (at, since) = (format!("at {}", spoken(c.at)), format!("since {}", spoken(c.since)));
    let urgent = format!("Call {n} now; if there is no answer, call emergency services.");
    let (what, action) = match rule {
        RuleKind::Sos => (format!("{n} pressed the SOS button {at}."), urgent),
        RuleKind::Fall => (format!("{n}'s band detected a fall {at}."), urgent),
        RuleKind::HeartRateHigh | RuleKind::HeartRateLow => {
            let level = if rule == RuleKind::HeartRateHigh { "high" } else { "low" };
            let v = value.map(|v| format!(", at {v} beats per minute")).unwrap_or_default();
            (
                format!("{n}'s heart rate has been {level} {since}{v}."),
                format!("Call {n} to ask how they feel; if they feel unwell, call emergency services."),
            )
        }
        RuleKind::Spo2Low => {
            let v = value.map(|v| format!(", at {v} percent")).unwrap_or_default();
            (
                format!("{n}'s blood oxygen has been low {since}{v}."),
                format!("Call {n} now; if they are short of breath or confused, call emergency services."),
            )
        }
        RuleKind::Inactivity => {
            (format!("{n} has not moved {since}."), format!("Call or visit {n} to check they are all right."))
        }
        RuleKind::NotWorn => {
            (format!("{n} has not been wearing the band {since}."), format!("Remind {n} to put it back on."))
        }
        RuleKind::BatteryLow => {
            let v = value.map(|v| format!(", at {v} percent")).unwrap_or_default();
            (format!("{n}'s band battery was low {at}{v}."), format!("Remind {n} to charge it."))
        }
        RuleKind::NoData => (
            format!("We have had no data from {n}'s band {since}."),
            format!("Check that the phone is on and near the band, or call {n}."),
        ),
        // Low severity never calls; the text exists so every rule can be rendered.
        RuleKind::BaselineDeviation => (
            format!("{n}'s daily figures have been far from their usual for 2 days."),
            format!("See the daily summary in the app, and call {n} if you are worried."),
        ),
    };
    Voice {
        greeting: format!("This is Vigil, with an alert about {n}."),
        what,
        location: "Their location is in the text message we sent.".to_owned(),
        action,
        acknowledge: "To acknowledge, reply 1 to our text message, or open its link.".to_owned(),
    }
}

fn voice_spanish(rule: RuleKind, c: &Ctx, value: Option<&str>) -> Voice {
    let n = c.name;
    // "a la 1:10", "a las 14:05": the article agrees with the hour.
    let article = |t: NaiveTime| if t.hour() == 1 { "la" } else { "las" };
    let at = format!("a {} {}", article(c.at), spoken(c.at));
    let since = format!("desde {} {}", article(c.since), spoken(c.since));
    let urgent = format!("Llame a {n} ahora; si no contesta, llame a emergencias.");
    let (what, action) = match rule {
        RuleKind::Sos => (format!("{n} pulsó el botón SOS {at}."), urgent),
        RuleKind::Fall => (format!("La pulsera de {n} detectó una caída {at}."), urgent),
        RuleKind::HeartRateHigh | RuleKind::HeartRateLow => {
            let level = if rule == RuleKind::HeartRateHigh { "alto" } else { "bajo" };
            let v = value.map(|v| format!(", con {v} latidos por minuto")).unwrap_or_default();
            (
                format!("{n} tiene el pulso {level} {since}{v}."),
                format!("Llame a {n} para saber cómo está; si se encuentra mal, llame a emergencias."),
            )
        }
        RuleKind::Spo2Low => {
            let v = value.map(|v| format!(", con un {v} por ciento")).unwrap_or_default();
            (
                format!("{n} tiene la saturación de oxígeno baja {since}{v}."),
                format!("Llame a {n} ahora; si le falta el aire o no responde con claridad, llame a emergencias."),
            )
        }
        RuleKind::Inactivity => {
            (format!("{n} no se ha movido {since}."), format!("Llame o visite a {n} para comprobar que está bien."))
        }
        RuleKind::NotWorn => {
            (format!("{n} no lleva puesta la pulsera {since}."), format!("Recuérdele a {n} que se la ponga."))
        }
        RuleKind::BatteryLow => {
            let v = value.map(|v| format!(", al {v} por ciento")).unwrap_or_default();
            (
                format!("La batería de la pulsera de {n} estaba baja {at}{v}."),
                format!("Recuérdele a {n} que la cargue."),
            )
        }
        RuleKind::NoData => (
            format!("No recibimos datos de la pulsera de {n} {since}."),
            format!("Compruebe que el teléfono está encendido y cerca de la pulsera, o llame a {n}."),
        ),
        RuleKind::BaselineDeviation => (
            format!("Las cifras diarias de {n} se alejan de lo habitual desde hace 2 días."),
            format!("Vea el resumen diario en la app y llame a {n} si le preocupa."),
        ),
    };
    Voice {
        greeting: format!("Le llama Vigil con un aviso sobre {n}."),
        what,
        location: format!("La ubicación de {n} está en el mensaje de texto que le enviamos."),
        action,
        acknowledge: "Para confirmar el aviso, responda 1 a nuestro mensaje de texto o abra su enlace.".to_owned(),
    }
}

fn voice_portuguese(rule: RuleKind, c: &Ctx, value: Option<&str>) -> Voice {
    let n = c.name;
    // "à 1:10", "às 14:05"; "desde a 1:10", "desde as 14:05".
    let at = format!("{} {}", if c.at.hour() <= 1 { "à" } else { "às" }, spoken(c.at));
    let since = format!("desde {} {}", if c.since.hour() <= 1 { "a" } else { "as" }, spoken(c.since));
    let urgent = format!("Ligue agora para {n}; se não atender, ligue para o serviço de emergência.");
    let (what, action) = match rule {
        RuleKind::Sos => (format!("{n} apertou o botão SOS {at}."), urgent),
        RuleKind::Fall => (format!("A pulseira de {n} detectou uma queda {at}."), urgent),
        RuleKind::HeartRateHigh | RuleKind::HeartRateLow => {
            let level = if rule == RuleKind::HeartRateHigh { "alta" } else { "baixa" };
            let v = value.map(|v| format!(", em {v} batimentos por minuto")).unwrap_or_default();
            (
                format!("{n} está com a frequência cardíaca {level} {since}{v}."),
                format!(
                    "Ligue para {n} para saber como está; se estiver passando mal, ligue para o serviço de \
                     emergência."
                ),
            )
        }
        RuleKind::Spo2Low => {
            let v = value.map(|v| format!(", em {v} por cento")).unwrap_or_default();
            (
                format!("{n} está com a saturação de oxigênio baixa {since}{v}."),
                format!(
                    "Ligue agora para {n}; se tiver falta de ar ou não responder com clareza, ligue para o \
                     serviço de emergência."
                ),
            )
        }
        RuleKind::Inactivity => {
            (format!("{n} está sem se movimentar {since}."), format!("Ligue ou visite {n} para ver se está tudo bem."))
        }
        RuleKind::NotWorn => {
            (format!("{n} está sem a pulseira {since}."), format!("Lembre {n} de colocá-la de volta."))
        }
        RuleKind::BatteryLow => {
            let v = value.map(|v| format!(", com {v} por cento")).unwrap_or_default();
            (format!("A bateria da pulseira de {n} estava fraca {at}{v}."), format!("Lembre {n} de carregá-la."))
        }
        RuleKind::NoData => (
            format!("Não recebemos dados da pulseira de {n} {since}."),
            format!("Verifique se o celular está ligado e perto da pulseira, ou ligue para {n}."),
        ),
        RuleKind::BaselineDeviation => (
            format!("Os números diários de {n} estão longe do normal há 2 dias."),
            format!("Veja o resumo diário no app e ligue para {n} se achar necessário."),
        ),
    };
    Voice {
        greeting: format!("Aqui é a Vigil, com um alerta sobre {n}."),
        what,
        location: format!("A localização de {n} está na mensagem de texto que enviamos."),
        action,
        acknowledge: "Para confirmar o alerta, responda 1 à nossa mensagem de texto ou abra o link dela.".to_owned(),
    }
}

/// At most `max` characters, ending in "…" when cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use chrono_tz::Europe::Madrid;

    use super::*;
    use crate::alerts::AlertId;
    use crate::reading::Location;

    const LANGUAGES: [Language; 3] = [Language::En, Language::Es, Language::PtBr];
    /// Puerta del Sol, Madrid.
    const SOL: (f64, f64) = (40.416_775, -3.703_79);

    fn utc(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, h, m, 0).single().unwrap_or_default()
    }

    /// An alert raised at 13:05 UTC (14:05 in Madrid), its episode since 12:05 (13:05).
    fn alert(rule: RuleKind, value: Option<f64>, place: Option<(f64, f64)>) -> Alert {
        let start = utc(12, 5);
        Alert {
            id: AlertId::new("wearer-0001", rule, start),
            wearer_id: "wearer-0001".to_owned(),
            rule,
            severity: rule.severity(),
            episode_start: start,
            raised_at: utc(13, 5),
            readings: Vec::new(),
            location: place.map(|(lat, lon)| Location { lat, lon, accuracy_m: None }),
            value,
        }
    }

    fn sms(rule: RuleKind, value: Option<f64>, name: &str, lang: Language) -> String {
        render(&alert(rule, value, Some(SOL)), name, Madrid, lang).sms
    }

    #[test]
    fn sos_sms_in_each_language() {
        assert_eq!(
            sms(RuleKind::Sos, None, "Carmen", Language::En),
            "Vigil, SOS: Carmen at 14:05. Call now; if no answer, emergency services. \
             https://maps.google.com/?q=40.4168,-3.7038"
        );
        assert_eq!(
            sms(RuleKind::Sos, None, "Carmen", Language::Es),
            "Vigil, SOS: Carmen a las 14:05. Llame ya; si no contesta, a emergencias. \
             https://maps.google.com/?q=40.4168,-3.7038"
        );
        assert_eq!(
            sms(RuleKind::Sos, None, "Carmen", Language::PtBr),
            "Vigil, SOS: Carmen às 14h05. Ligue já; sem resposta, chame o socorro. \
             https://maps.google.com/?q=40.4168,-3.7038"
        );
        // The push keeps its longer text.
        let push = render(&alert(RuleKind::Sos, None, Some(SOL)), "Carmen", Madrid, Language::En);
        assert_eq!(push.push_title, "SOS: Carmen");
        assert_eq!(
            push.push_body,
            "Carmen pressed the SOS button at 14:05. Call Carmen now; if there is no answer, call emergency \
             services. Location: https://maps.google.com/?q=40.41678,-3.70379"
        );
    }

    #[test]
    fn the_other_rules_say_what_when_and_what_to_do() {
        let cases = [
            (RuleKind::Fall, None, Language::Es, "Vigil, caída: Ana a las 14:05. Llame ya;"),
            (
                RuleKind::HeartRateHigh,
                Some(134.0),
                Language::Es,
                "Vigil, pulso alto: Ana (134 lpm) desde las 13:05. Llame ya; si se encuentra mal, a emergencias.",
            ),
            (
                RuleKind::HeartRateLow,
                Some(38.0),
                Language::PtBr,
                "Vigil, frequência cardíaca baixa: Ana (38 bpm) desde as 13h05. Ligue já; se estiver mal, chame o \
                 socorro.",
            ),
            (
                RuleKind::Spo2Low,
                Some(86.0),
                Language::En,
                "Vigil, low blood oxygen: Ana (86%) since 13:05. Call now; if breathless or confused, emergency \
                 services.",
            ),
            (
                RuleKind::Inactivity,
                Some(185.0),
                Language::En,
                "Vigil, no movement: Ana since 13:05 (3 h 05 min). Call or visit to check they are all right.",
            ),
            (
                RuleKind::NotWorn,
                Some(40.0),
                Language::Es,
                "Vigil, sin pulsera: Ana desde las 13:05 (40 min). Recuérdele que se la ponga.",
            ),
            (
                RuleKind::BatteryLow,
                Some(12.0),
                Language::PtBr,
                "Vigil, bateria fraca: pulseira de Ana (12%) às 14h05. Peça para carregá-la.",
            ),
            (
                RuleKind::NoData,
                Some(20.0),
                Language::En,
                "Vigil, no data: Ana's band since 13:05 (20 min). Phone off or away from the band? Call them.",
            ),
        ];
        for (rule, value, lang, expected) in cases {
            let text = sms(rule, value, "Ana", lang);
            assert!(text.starts_with(expected), "{rule:?} {lang:?}: {text}");
            assert_eq!(text.contains("maps.google.com"), rule == RuleKind::Fall, "{text}");
        }
    }

    #[test]
    fn the_map_link_loses_its_scheme_before_the_name_loses_a_character() {
        let name = "María José Pérez Gil";
        let sao_paulo = Some((-23.550_52, -46.633_308));
        for lang in LANGUAGES {
            for rule in [RuleKind::Sos, RuleKind::Fall] {
                let text = render(&alert(rule, None, sao_paulo), name, Madrid, lang).sms;
                assert!(text.contains(name) && text.ends_with(" maps.google.com/?q=-23.5505,-46.6333"), "{text}");
                assert!(fits_with_link(&text));
                // A short name leaves room for https://.
                let short = render(&alert(rule, None, sao_paulo), "Ana", Madrid, lang).sms;
                assert!(short.ends_with(" https://maps.google.com/?q=-23.5505,-46.6333"), "{short}");
            }
        }
    }

    #[test]
    fn long_names_are_shortened_only_as_much_as_the_sms_needs() {
        let ucs2 = "Maria da Conceição Albuquerque Fernandes";
        let ascii = "Margaret Elizabeth Worthington-Blackwood";
        for rule in RuleKind::ALL {
            for lang in LANGUAGES {
                let a = alert(rule, Some(750.0), Some(SOL));
                let m = render(&a, ucs2, Madrid, lang);
                assert!(fits_with_link(&m.sms), "{}", m.sms);
                assert!(m.sms.contains("Maria da Conceição"), "{}", m.sms);
                assert!(m.push_body.contains(ucs2), "the push keeps the whole name: {}", m.push_body);
                // Within GSM-7 (English, an ASCII name) there is room for all of it.
                if lang == Language::En {
                    assert!(render(&a, ascii, Madrid, lang).sms.contains(ascii));
                }
            }
        }
        // SOS with the map: the name is cut, after a letter, never after a space.
        let text = sms(RuleKind::Sos, None, ucs2, Language::PtBr);
        assert!(text.starts_with("Vigil, SOS: Maria da Conceição Albuque… às 14h05."), "{text}");
    }

    #[test]
    fn anything_fits_even_absurd_names_and_values() {
        let names = ["🚨".repeat(60), "a".repeat(500), String::new(), "  ".to_owned(), "Ana Ana ".repeat(50)];
        for name in &names {
            for rule in RuleKind::ALL {
                for lang in LANGUAGES {
                    for value in [None, Some(1e300), Some(-1e9), Some(f64::MAX)] {
                        let text = render(&alert(rule, value, Some((-89.999_99, -179.999_99))), name, Madrid, lang).sms;
                        assert!(fits_with_link(&text), "{text}");
                        assert!(text.starts_with("Vigil"), "{text}");
                        assert!(text.chars().count() <= MAX_SMS_CHARS);
                    }
                }
            }
        }
    }

    #[test]
    fn fit_name_never_cuts_right_after_a_space() {
        let fits_in = |n: usize| move |t: &str| t.chars().count() <= n;
        let with = |n: &str| format!("[{n}]");
        assert_eq!(fit_name("Ana Ruiz", fits_in(10), with), "[Ana Ruiz]");
        assert_eq!(fit_name("Ana Ruiz", fits_in(9), with), "[Ana Ru…]");
        assert_eq!(fit_name("Ana Ruiz", fits_in(7), with), "[Ana…]", "not \"[Ana …]\"");
        assert_eq!(fit_name("Ana Ruiz", fits_in(3), with), "[…]");
        assert_eq!(fit_name("Ana Ruiz", fits_in(2), with), "[…");
        assert_eq!(fit_name("", fits_in(2), with), "[]");
    }

    #[test]
    fn voice_says_who_what_when_where_and_how_to_acknowledge() {
        let name = "María José Pérez Gil";
        let ack = [
            (
                Language::En,
                "This is Vigil",
                "at 14:05",
                "since 13:05",
                "To acknowledge, reply 1 to our text message, or open its link.",
            ),
            (
                Language::Es,
                "Le llama Vigil",
                "a las 14:05",
                "desde las 13:05",
                "Para confirmar el aviso, responda 1 a nuestro mensaje de texto o abra su enlace.",
            ),
            (
                Language::PtBr,
                "Aqui é a Vigil",
                "às 14:05",
                "desde as 13:05",
                "Para confirmar o alerta, responda 1 à nossa mensagem de texto ou abra o link dela.",
            ),
        ];
        for (lang, greeting, time, since, acknowledge) in ack {
            for rule in RuleKind::ALL {
                let a = alert(rule, Some(135.0), Some((-23.550_52, -46.633_308)));
                let text = render_voice(&a, name, Madrid, lang);
                assert!(text.starts_with(greeting), "{text}");
                assert!(text.contains(name), "{text}");
                assert!(text.ends_with(acknowledge), "{text}");
                assert_eq!(text.matches(acknowledge).count(), 1, "said once: {text}");
                // Raised at 14:05; what lasts is said since its start, 13:05.
                let when = if matches!(rule, RuleKind::Sos | RuleKind::Fall | RuleKind::BatteryLow) {
                    time.to_owned()
                } else {
                    since.to_owned()
                };
                // A trend is about days, not a time of day.
                assert!(text.contains(&when) || rule == RuleKind::BaselineDeviation, "{rule:?} {lang:?}: {text}");
                for url in ["http", "maps", "google", "/", "?q=", "23", "46", "5505", "6333"] {
                    assert!(!text.contains(url), "{url:?} in {text}");
                }
                let located = matches!(rule, RuleKind::Sos | RuleKind::Fall);
                let location =
                    ["Their location is in the text message we sent.", "La ubicación de", "A localização de"];
                assert_eq!(location.iter().any(|l| text.contains(l)), located, "{text}");
            }
        }
        let a = alert(RuleKind::Sos, None, Some(SOL));
        assert_eq!(
            render_voice(&a, "Carmen", Madrid, Language::En),
            "This is Vigil, with an alert about Carmen. Carmen pressed the SOS button at 14:05. Their location is in \
             the text message we sent. Call Carmen now; if there is no answer, call emergency services. To \
             acknowledge, reply 1 to our text message, or open its link."
        );
        // Without a location, nothing is said about one.
        let a = alert(RuleKind::Fall, None, None);
        assert!(!render_voice(&a, "Carmen", Madrid, Language::Es).contains("ubicación"));
    }

    #[test]
    fn voice_reads_values_and_one_oclock_naturally() {
        let hr = alert(RuleKind::HeartRateHigh, Some(134.4), None);
        assert!(render_voice(&hr, "Ana", Madrid, Language::En).contains("since 13:05, at 134 beats per minute."));
        assert!(
            render_voice(&hr, "Ana", Madrid, Language::Es).contains("desde las 13:05, con 134 latidos por minuto.")
        );
        let spo2 = alert(RuleKind::Spo2Low, Some(87.0), None);
        assert!(render_voice(&spo2, "Ana", Madrid, Language::PtBr).contains("desde as 13:05, em 87 por cento."));
        let mut fall = alert(RuleKind::Fall, None, None);
        fall.raised_at = utc(0, 10); // 01:10 in Madrid
        assert!(render_voice(&fall, "Ana", Madrid, Language::Es).contains("a la 1:10."));
        assert!(render_voice(&fall, "Ana", Madrid, Language::PtBr).contains("à 1:10."));
        assert!(render_voice(&fall, "Ana", Madrid, Language::En).contains("at 1:10."));
    }
}
