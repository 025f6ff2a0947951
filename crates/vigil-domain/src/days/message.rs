//! The daily message to caregivers who opt in, when it is due, and its
//! delivery key.
//!
//! "Vigil: Yesterday Lucía slept 7 h 10 min, walked 4,300 steps, resting heart
//! rate 62 (usual 60). No alerts." — in the caregiver's language (English,
//! Spanish, Brazilian Portuguese), numbers grouped as each writes them (4,300;
//! 4.300), naming the wearer rather than using a pronoun, as the alert texts do.
//! An incomplete day says how long the band was worn instead of figures that
//! would mislead; each trend adds a line.
//!
//! # Length
//!
//! One text serves push and SMS, and costs at most [`MAX_DAILY_SMS_SEGMENTS`]
//! SMS segments, counted by [`crate::sms::segments`] (no link is appended).
//! Accented names and Spanish or Portuguese text go as UCS-2: 134 units in two
//! parts. What does not fit is given up in this order: the usual values, then
//! the trend lines are merged into one sentence, then the day's figures and the
//! alerts' details (the app has them), then the alerts, then the name is
//! shortened with "…". The trends are kept longest:
//! they are why the message matters.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::baseline::{Feature, Trend, Usual};
use super::summary::{DaySummary, day_of};
use crate::alerts::Language;
use crate::alerts::message::Message;
use crate::alerts::message::fit_name;
use crate::care::{Caregiver, Channel, Delivery, Notice, QuietHours, WearerProfile};
use crate::sms::fits;

/// Most SMS segments a daily message costs.
pub const MAX_DAILY_SMS_SEGMENTS: usize = 2;
/// Longest wearer name used; an SMS may shorten it further.
const MAX_NAME_CHARS: usize = 40;

/// The daily message about day `s` to a caregiver speaking `lang`, naming the
/// wearer by `first_name` (personal data: never log the result).
pub fn daily_message(lang: Language, first_name: &str, s: &DaySummary, usual: &Usual, trends: &[Trend]) -> String {
    let name = crate::alerts::message::shorten(first_name.trim(), MAX_NAME_CHARS);
    let fits_sms = |t: &str| fits(t, 0, MAX_DAILY_SMS_SEGMENTS);
    let text = |n: &str, figures: Figures, merged: bool| {
        let mut parts = vec![day_text(lang, n, s, usual, figures)];
        if figures != Figures::None {
            parts.push(alerts_text(lang, s, figures == Figures::Brief));
        }
        if merged {
            parts.extend(merged_trends(lang, trends));
        } else {
            parts.extend(trends.iter().map(|t| trend_line(lang, t)));
        }
        parts.retain(|p| !p.is_empty());
        format!("Vigil: {}", parts.join(" "))
    };
    let candidates = [
        (Figures::WithUsual, false),
        (Figures::Plain, false),
        (Figures::Plain, true),
        (Figures::Brief, true),
        (Figures::None, true),
    ];
    for (figures, merged) in candidates {
        let t = text(&name, figures, merged);
        if fits_sms(&t) {
            return t;
        }
    }
    fit_name(&name, fits_sms, |n| text(n, Figures::None, true))
}

/// How much of the day a message tells, from most to least.
#[derive(Clone, Copy, PartialEq)]
enum Figures {
    /// The figures, with the usual values.
    WithUsual,
    Plain,
    /// No figures; the number of alerts only.
    Brief,
    /// Only the name (and the trends).
    None,
}

fn day_text(lang: Language, n: &str, s: &DaySummary, usual: &Usual, figures: Figures) -> String {
    let sep = if lang == Language::En { ',' } else { '.' };
    if !s.complete && figures != Figures::None {
        let worn = minutes(i64::from(s.worn_minutes));
        return match lang {
            Language::En => format!("Yesterday {n} wore the band {worn}, too little for a daily picture."),
            Language::Es => format!("ayer {n} llevó la pulsera {worn}, poco para un resumen del día."),
            Language::PtBr => format!("ontem {n} usou a pulseira {worn}, pouco para um resumo do dia."),
        };
    }
    match figures {
        Figures::Brief => {
            return match lang {
                Language::En => format!("{n}, yesterday:"),
                Language::Es => format!("{n}, ayer:"),
                Language::PtBr => format!("{n}, ontem:"),
            };
        }
        Figures::None => return format!("{n}."),
        Figures::WithUsual | Figures::Plain => {}
    }
    let (sleep, steps) = (minutes(i64::from(s.sleep_minutes)), grouped(s.steps, sep));
    let rhr = s.resting_hr.map(|v| {
        let usual = usual
            .resting_hr
            .filter(|_| figures == Figures::WithUsual)
            .map(|u| match lang {
                Language::En => format!(" (usual {u:.0})"),
                Language::Es => format!(" (habitual {u:.0})"),
                Language::PtBr => format!(" (normal {u:.0})"),
            })
            .unwrap_or_default();
        match lang {
            Language::En => format!(", resting heart rate {v:.0}{usual}"),
            Language::Es => format!(", pulso en reposo {v:.0}{usual}"),
            Language::PtBr => format!(", frequência cardíaca em repouso {v:.0}{usual}"),
        }
    });
    let rhr = rhr.unwrap_or_default();
    match lang {
        Language::En => format!("Yesterday {n} slept {sleep}, walked {steps} steps{rhr}."),
        Language::Es => format!("ayer {n} durmió {sleep}, caminó {steps} pasos{rhr}."),
        Language::PtBr => format!("ontem {n} dormiu {sleep}, caminhou {steps} passos{rhr}."),
    }
}

fn alerts_text(lang: Language, s: &DaySummary, brief: bool) -> String {
    let (a, k) = (s.alerts, s.acked);
    if brief && a > 0 {
        return match lang {
            Language::En => format!("{a} {}.", plural(a, "alert", "alerts")),
            Language::Es | Language::PtBr => format!("{a} {}.", plural(a, "alerta", "alertas")),
        };
    }
    let median = s.ack_median_secs.map(seconds).unwrap_or_default();
    match lang {
        Language::En => match (a, k) {
            (0, _) => "No alerts.".to_owned(),
            (_, 0) => format!("{a} {}, none acknowledged.", plural(a, "alert", "alerts")),
            _ => format!("{a} {}, {k} acknowledged (median {median}).", plural(a, "alert", "alerts")),
        },
        Language::Es => match (a, k) {
            (0, _) => "Sin alertas.".to_owned(),
            (_, 0) => format!("{a} {}, ninguna confirmada.", plural(a, "alerta", "alertas")),
            _ => format!(
                "{a} {}, {k} {} (mediana {median}).",
                plural(a, "alerta", "alertas"),
                plural(k, "confirmada", "confirmadas")
            ),
        },
        Language::PtBr => match (a, k) {
            (0, _) => "Nenhum alerta.".to_owned(),
            (_, 0) => format!("{a} {}, nenhum confirmado.", plural(a, "alerta", "alertas")),
            _ => format!(
                "{a} {}, {k} {} (mediana {median}).",
                plural(a, "alerta", "alertas"),
                plural(k, "confirmado", "confirmados")
            ),
        },
    }
}

fn trend_line(lang: Language, t: &Trend) -> String {
    let d = t.days;
    match (lang, t.feature) {
        (Language::En, Feature::Steps) => format!("Walking well below usual for {d} days."),
        (Language::En, Feature::RestingHeartRate) => format!("Resting heart rate well above usual for {d} days."),
        (Language::En, Feature::Restlessness) => format!("Nights more restless than usual for {d} days."),
        (Language::Es, Feature::Steps) => format!("Camina mucho menos de lo habitual desde hace {d} días."),
        (Language::Es, Feature::RestingHeartRate) => {
            format!("Pulso en reposo muy por encima de lo habitual desde hace {d} días.")
        }
        (Language::Es, Feature::Restlessness) => format!("Noches más agitadas de lo habitual desde hace {d} días."),
        (Language::PtBr, Feature::Steps) => format!("Caminhando bem menos que o normal há {d} dias."),
        (Language::PtBr, Feature::RestingHeartRate) => {
            format!("Frequência cardíaca em repouso bem acima do normal há {d} dias.")
        }
        (Language::PtBr, Feature::Restlessness) => format!("Noites mais agitadas que o normal há {d} dias."),
    }
}

/// One sentence for every trend: "For 2 days: less walking and more restless
/// nights than usual." (the shortest run of days, true of all of them).
fn merged_trends(lang: Language, trends: &[Trend]) -> Option<String> {
    let d = trends.iter().map(|t| t.days).min()?;
    let items: Vec<&str> = trends
        .iter()
        .map(|t| match (lang, t.feature) {
            (Language::En, Feature::Steps) => "less walking",
            (Language::En, Feature::RestingHeartRate) => "higher resting heart rate",
            (Language::En, Feature::Restlessness) => "more restless nights",
            (Language::Es, Feature::Steps) => "menos pasos",
            (Language::Es, Feature::RestingHeartRate) => "pulso en reposo más alto",
            (Language::Es, Feature::Restlessness) => "noches más agitadas",
            (Language::PtBr, Feature::Steps) => "menos passos",
            (Language::PtBr, Feature::RestingHeartRate) => "pulso em repouso mais alto",
            (Language::PtBr, Feature::Restlessness) => "noites mais agitadas",
        })
        .collect();
    let and = match lang {
        Language::En => " and ",
        Language::Es => " y ",
        Language::PtBr => " e ",
    };
    let list = match items.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{}{and}{last}", rest.join(", ")),
        None => return None,
    };
    Some(match lang {
        Language::En => format!("For {d} days: {list} than usual."),
        Language::Es => format!("Desde hace {d} días: {list} de lo habitual."),
        Language::PtBr => format!("Há {d} dias: {list} que o normal."),
    })
}

fn plural<'a>(n: u32, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// "7 h 10 min", "45 min".
fn minutes(m: i64) -> String {
    let m = m.max(0);
    if m >= 60 { format!("{} h {:02} min", m / 60, m % 60) } else { format!("{m} min") }
}

/// "40 s", "4 min", "1 h 05 min".
fn seconds(s: i64) -> String {
    if s < 60 { format!("{} s", s.max(0)) } else { minutes((s + 30) / 60) }
}

/// `4300` → "4,300" (`sep` = ',') or "4.300" (`sep` = '.').
fn grouped(n: i64, sep: char) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// Which of the wearer's days (in `wearer_tz`) a caregiver's daily message is due
/// for at `now`, or `None` if it is not due yet. The caregiver chose the time
/// `at` in `caregiver_tz` (their quiet hours' zone, else the wearer's): from that
/// time on, each of their days, the message is due for the wearer's last day that
/// had ended by then — except during the caregiver's quiet hours, which it waits
/// out. A time that a DST change skips counts from the first instant after it.
/// Call it as often as you like: [`daily_key`] makes the sending once per day.
pub fn due(
    wearer_tz: Tz,
    caregiver_tz: Tz,
    at: NaiveTime,
    quiet: Option<&QuietHours>,
    now: DateTime<Utc>,
) -> Option<NaiveDate> {
    let today = now.with_timezone(&caregiver_tz).date_naive();
    let local = today.and_time(at);
    let send_at = caregiver_tz
        .from_local_datetime(&local)
        .earliest()
        .or_else(|| caregiver_tz.from_local_datetime(&(local + Duration::hours(1))).earliest())?
        .with_timezone(&Utc);
    if now < send_at || quiet.is_some_and(|q| q.ends_after(now).is_some()) {
        return None;
    }
    day_of(wearer_tz, send_at).pred_opt()
}

/// The delivery claim of the daily message about `wearer_id`'s day `date` to
/// `caregiver_id`: `daily#<wearer>#<date>#<caregiver>`. Caregiver ids are unique
/// within a wearer's profile only, hence the wearer.
pub fn daily_key(wearer_id: &str, date: NaiveDate, caregiver_id: &str) -> String {
    format!("daily#{wearer_id}#{date}#{caregiver_id}")
}

/// The daily message `text` about `wearer_id`'s day `date` to `caregiver`, by push
/// when they have a push endpoint, else by SMS; `None` when they have neither.
/// Its [`Delivery::key`] is [`daily_key`], so it goes out once per day and
/// caregiver however often it is planned.
pub fn daily_delivery(wearer_id: &str, date: NaiveDate, caregiver: &Caregiver, text: String) -> Option<Delivery> {
    let (channel, address) = match (&caregiver.push_endpoint, &caregiver.phone) {
        (Some(endpoint), _) => (Channel::Push, endpoint),
        (None, Some(phone)) => (Channel::Sms, phone),
        (None, None) => return None,
    };
    let id = format!("daily#{wearer_id}#{date}");
    let title = match caregiver.language {
        Language::En => "Vigil: yesterday",
        Language::Es => "Vigil: ayer",
        Language::PtBr => "Vigil: ontem",
    };
    Some(Delivery {
        alert_id: id.clone(),
        caregiver_id: caregiver.id.clone(),
        channel,
        address: address.clone(),
        message: Message {
            alert_id: id,
            sms: text.clone(),
            push_title: title.to_owned(),
            push_body: text,
            voice: String::new(),
            language: caregiver.language,
        },
        not_before: None,
        step: None,
        notice: Some(Notice::Daily),
    })
}

/// When a message that must not go out at night may go, if `now` is night for
/// `wearer` (outside the daytime of their thresholds, in their time zone): for
/// caregivers who set no quiet hours of their own.
pub fn night_hold(wearer: &WearerProfile, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let night = QuietHours {
        start: wearer.thresholds.day_end,
        end: wearer.thresholds.day_start,
        time_zone: wearer.time_zone.clone(),
    };
    night.ends_after(now)
}
