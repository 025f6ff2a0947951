//! The pages: tiny HTML in the caregiver's language, no JavaScript, no external
//! resources (inline CSS only, which the Content-Security-Policy allows and
//! nothing else), readable on a small phone. Every value that reaches a page
//! passes through [`escape`]; the texts are this module's own.
//!
//! Personal data (names, the alert's place) is rendered here and nowhere logged.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use vigil_domain::alerts::{Language, RuleKind, render};
use vigil_domain::care::WearerProfile;
use vigil_domain::lifecycle::{AlertRecord, SYSTEM_ACTOR};

/// `s` safe in HTML text and in a double- or single-quoted attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The language of the request's `Accept-Language` (the highest-weighted of the
/// three we speak), for pages where no caregiver is known; English otherwise.
pub fn accepted(header: Option<&str>) -> Language {
    let mut best: Option<(f32, Language)> = None;
    // A header longer than this is not a browser's; its first entries still count.
    for entry in header.unwrap_or("").split(',').take(32) {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
            .filter(|q| q.is_finite() && *q > 0.0);
        let primary = tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        let language = match primary.as_str() {
            "en" => Language::En,
            "es" => Language::Es,
            "pt" => Language::PtBr,
            _ => continue,
        };
        if let Some(q) = q
            && best.is_none_or(|(b, _)| q > b)
        {
            best = Some((q, language));
        }
    }
    best.map_or(Language::En, |(_, l)| l)
}

/// The alert as a caregiver reads it: what (the message's title and text), when
/// (in the wearer's local time) and, for an SOS or a fall, where.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// "SOS: Carmen".
    pub title: String,
    /// "Carmen pressed the SOS button at 10:42. Call Carmen now; …".
    pub text: String,
    /// "10:42 CET", or with the date when it is not today's, in the wearer's time zone.
    pub when: String,
    /// A map of where an SOS or a fall happened.
    pub map: Option<String>,
}

impl Summary {
    /// The alert of `record` for a caregiver speaking `lang`, as of `now`.
    pub fn of(record: &AlertRecord, profile: &WearerProfile, lang: Language, now: DateTime<Utc>) -> Self {
        let tz = profile.tz();
        // The place is shown as a link of its own, not inside the text.
        let mut alert = record.alert.clone();
        let location = alert.location.take().filter(|_| matches!(alert.rule, RuleKind::Sos | RuleKind::Fall));
        let message = render(&alert, first_name(profile), tz, lang);
        Self {
            title: message.push_title,
            text: message.push_body,
            when: local_time(record.alert.raised_at, tz, now),
            map: location.map(|l| {
                format!(
                    "https://www.openstreetmap.org/?mlat={:.5}&mlon={:.5}#map=17/{:.5}/{:.5}",
                    l.lat, l.lon, l.lat, l.lon
                )
            }),
        }
    }
}

/// The wearer's first name: how the caregivers' app shows them.
pub fn first_name(profile: &WearerProfile) -> &str {
    profile.name.split_whitespace().next().unwrap_or("")
}

/// `at` in `tz`: "10:42 CET" today, "2026-11-21 23:58 CET" on another day.
pub fn local_time(at: DateTime<Utc>, tz: Tz, now: DateTime<Utc>) -> String {
    let local = at.with_timezone(&tz);
    let zone = local.format("%Z").to_string();
    // Zones without an abbreviation give their offset ("-03"): say it is one.
    let zone = if zone.starts_with(['+', '-']) { format!("UTC{zone}") } else { zone };
    if local.date_naive() == now.with_timezone(&tz).date_naive() {
        format!("{} {zone}", local.format("%H:%M"))
    } else {
        format!("{} {zone}", local.format("%Y-%m-%d %H:%M"))
    }
}

/// Who took a step, as the caregiver looking at the page sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The caregiver the link names.
    You,
    /// Another caregiver, by the name the profile gives them.
    Named(String),
    /// Another caregiver without a name in the profile (or no longer in it), or Vigil.
    Someone,
}

impl Actor {
    /// `by` (a caregiver's profile id) as seen by the caregiver `me`.
    pub fn of(profile: &WearerProfile, by: &str, me: &str) -> Self {
        if by == me {
            return Actor::You;
        }
        if by == SYSTEM_ACTOR {
            return Actor::Someone;
        }
        match profile.caregiver(by).and_then(|c| c.name.as_deref()).map(str::trim).filter(|n| !n.is_empty()) {
            Some(name) => Actor::Named(name.to_owned()),
            None => Actor::Someone,
        }
    }
}

/// What a page says.
#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    /// An open alert, with the one button.
    Open(Summary),
    /// Acknowledged: by whom and when; no button.
    Acknowledged { summary: Summary, by: Actor, at: String },
    /// This request's acknowledgement stands (or this caregiver's earlier one).
    Thanks { name: Option<String>, summary: Summary },
    /// Resolved: nothing left to do.
    Resolved(Summary),
    /// A forged or malformed token, an alert that does not exist, a caregiver the
    /// profile does not have: one page for all.
    NotValid,
    /// A genuine link past its expiry.
    Expired,
    /// A method other than GET and POST.
    MethodNotAllowed,
    /// The stores did not answer in time, or failed.
    Unavailable,
}

/// The texts of one language.
struct Texts {
    lang: &'static str,
    button: &'static str,
    button_hint: &'static str,
    when: &'static str,
    map: &'static str,
    thanks: &'static str,
    thanks_named: &'static str,
    others_see: &'static str,
    taken_by: &'static str,
    someone: &'static str,
    taken_by_you: &'static str,
    confirmed: &'static str,
    resolved_title: &'static str,
    resolved: &'static str,
    not_valid: &'static str,
    not_valid_hint: &'static str,
    expired: &'static str,
    expired_hint: &'static str,
    method: &'static str,
    method_hint: &'static str,
    unavailable: &'static str,
    unavailable_hint: &'static str,
}

const EN: Texts = Texts {
    lang: "en",
    button: "I'm on my way",
    button_hint: "The other caregivers will see that you are on your way.",
    when: "When",
    map: "See the place on a map",
    thanks: "Thanks",
    thanks_named: "Thanks, {name}",
    others_see: "the other caregivers see you are on your way.",
    taken_by: "{name} is already on the way.",
    someone: "Another caregiver",
    taken_by_you: "You said you are on your way.",
    confirmed: "Since",
    resolved_title: "Resolved",
    resolved: "This alert has been resolved. There is nothing left to do.",
    not_valid: "This link is not valid",
    not_valid_hint: "Open the Vigil app to see your alerts.",
    expired: "This link has expired",
    expired_hint: "Open the Vigil app to see the alert.",
    method: "This page opens from the link in the message",
    method_hint: "Open the link from the message, or the Vigil app.",
    unavailable: "This page could not be loaded",
    unavailable_hint: "Try again in a moment, or open the Vigil app.",
};

const ES: Texts = Texts {
    lang: "es",
    button: "Voy para allá",
    button_hint: "Los demás cuidadores verán que va para allá.",
    when: "Cuándo",
    map: "Ver el lugar en un mapa",
    thanks: "Gracias",
    thanks_named: "Gracias, {name}",
    others_see: "los demás cuidadores ven que va para allá.",
    taken_by: "{name} ya va para allá.",
    someone: "Otro cuidador",
    taken_by_you: "Usted ya dijo que va para allá.",
    confirmed: "Desde",
    resolved_title: "Resuelto",
    resolved: "Este aviso ya está resuelto. No hace falta hacer nada más.",
    not_valid: "Este enlace no es válido",
    not_valid_hint: "Abra la app de Vigil para ver sus avisos.",
    expired: "Este enlace ha caducado",
    expired_hint: "Abra la app de Vigil para ver el aviso.",
    method: "Esta página se abre desde el enlace del mensaje",
    method_hint: "Abra el enlace del mensaje o la app de Vigil.",
    unavailable: "No se pudo cargar la página",
    unavailable_hint: "Inténtelo de nuevo en un momento o abra la app de Vigil.",
};

const PT: Texts = Texts {
    lang: "pt-BR",
    button: "Estou a caminho",
    button_hint: "Os outros cuidadores vão ver que você está a caminho.",
    when: "Quando",
    map: "Ver o local no mapa",
    thanks: "Obrigado",
    thanks_named: "Obrigado, {name}",
    others_see: "os outros cuidadores veem que você está a caminho.",
    taken_by: "{name} já está a caminho.",
    someone: "Outro cuidador",
    taken_by_you: "Você já disse que está a caminho.",
    confirmed: "Desde",
    resolved_title: "Resolvido",
    resolved: "Este alerta já foi resolvido. Não é preciso fazer mais nada.",
    not_valid: "Este link não é válido",
    not_valid_hint: "Abra o app Vigil para ver seus alertas.",
    expired: "Este link expirou",
    expired_hint: "Abra o app Vigil para ver o alerta.",
    method: "Esta página abre pelo link da mensagem",
    method_hint: "Abra o link da mensagem ou o app Vigil.",
    unavailable: "Não foi possível carregar a página",
    unavailable_hint: "Tente de novo em instantes ou abra o app Vigil.",
};

fn texts(lang: Language) -> &'static Texts {
    match lang {
        Language::En => &EN,
        Language::Es => &ES,
        Language::PtBr => &PT,
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:1.125rem;\
line-height:1.45;color:#1b1b1b;background:#fff;margin:0 auto;padding:1rem;max-width:34rem}\
h1{font-size:1.45rem;line-height:1.25;margin:.5rem 0 1rem}p{margin:0 0 1rem}.when{color:#4a4a4a}\
.status{font-weight:600;padding:.75rem 1rem;border-radius:.5rem;background:#eef5ee}\
button{display:block;width:100%;min-height:3.75rem;margin:1.5rem 0 .5rem;padding:.75rem 1rem;border:0;\
border-radius:.6rem;background:#0b6b2f;color:#fff;font-size:1.3rem;font-weight:700;cursor:pointer}\
button:focus{outline:3px solid #f2b705;outline-offset:2px}.hint{color:#4a4a4a;font-size:1rem}a{color:#0645ad}";

impl Page {
    /// The page as an HTML document, in `lang`.
    pub fn html(&self, lang: Language) -> String {
        let t = texts(lang);
        let mut body = String::new();
        let title = match self {
            Page::Open(summary) => {
                summary_html(&mut body, t, summary);
                body.push_str("<form method=\"post\"><button type=\"submit\">");
                body.push_str(&escape(t.button));
                body.push_str("</button></form><p class=\"hint\">");
                body.push_str(&escape(t.button_hint));
                body.push_str("</p>");
                summary.title.clone()
            }
            Page::Acknowledged { summary, by, at } => {
                let who = match by {
                    Actor::You => t.taken_by_you.to_owned(),
                    Actor::Named(name) => t.taken_by.replace("{name}", name),
                    Actor::Someone => t.taken_by.replace("{name}", t.someone),
                };
                status_html(&mut body, &who, t, at);
                summary_html(&mut body, t, summary);
                summary.title.clone()
            }
            Page::Thanks { name, summary } => {
                let thanks = match name {
                    Some(name) => t.thanks_named.replace("{name}", name),
                    None => t.thanks.to_owned(),
                };
                body.push_str("<p class=\"status\">");
                body.push_str(&escape(&format!("{thanks}: {}", t.others_see)));
                body.push_str("</p>");
                summary_html(&mut body, t, summary);
                thanks
            }
            Page::Resolved(summary) => {
                body.push_str("<p class=\"status\">");
                body.push_str(&escape(t.resolved));
                body.push_str("</p>");
                // What it was about, without what to do: there is nothing left to.
                body.push_str("<p class=\"when\">");
                body.push_str(&escape(&format!("{}: {} · {}", t.when, summary.title, summary.when)));
                body.push_str("</p>");
                t.resolved_title.to_owned()
            }
            Page::NotValid => refusal(&mut body, t.not_valid, t.not_valid_hint),
            Page::Expired => refusal(&mut body, t.expired, t.expired_hint),
            Page::MethodNotAllowed => refusal(&mut body, t.method, t.method_hint),
            Page::Unavailable => refusal(&mut body, t.unavailable, t.unavailable_hint),
        };
        let title = escape(&title);
        format!(
            "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <meta name=\"robots\" content=\"noindex,nofollow\"><title>Vigil · {title}</title>\
             <style>{STYLE}</style></head><body><h1>{title}</h1>{body}</body></html>",
            t.lang
        )
    }
}

fn refusal(body: &mut String, title: &str, hint: &str) -> String {
    body.push_str("<p>");
    body.push_str(&escape(hint));
    body.push_str("</p>");
    title.to_owned()
}

fn status_html(body: &mut String, who: &str, t: &Texts, at: &str) {
    body.push_str("<p class=\"status\">");
    body.push_str(&escape(who));
    body.push_str(" <span class=\"when\">");
    body.push_str(&escape(&format!("{}: {at}", t.confirmed)));
    body.push_str("</span></p>");
}

fn summary_html(body: &mut String, t: &Texts, summary: &Summary) {
    body.push_str("<p>");
    body.push_str(&escape(&summary.text));
    body.push_str("</p><p class=\"when\">");
    body.push_str(&escape(&format!("{}: {}", t.when, summary.when)));
    body.push_str("</p>");
    if let Some(map) = &summary.map {
        body.push_str("<p><a href=\"");
        body.push_str(&escape(map));
        body.push_str("\" rel=\"noreferrer noopener\">");
        body.push_str(&escape(t.map));
        body.push_str("</a></p>");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use chrono::TimeZone;
    use vigil_domain::alerts::{Alert, AlertId};
    use vigil_domain::care::Caregiver;
    use vigil_domain::reading::Location;

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, h, m, 0).single().unwrap()
    }

    fn caregiver(id: &str, name: Option<&str>) -> Caregiver {
        Caregiver {
            id: id.into(),
            sub: None,
            name: name.map(Into::into),
            level: 1,
            language: Language::En,
            phone: None,
            push_endpoint: None,
            quiet_hours: None,
            daily_at: None,
        }
    }

    fn profile(name: &str) -> WearerProfile {
        WearerProfile {
            wearer_id: "w-1".into(),
            name: name.into(),
            time_zone: "Europe/Madrid".into(),
            thresholds: Default::default(),
            caregivers: vec![caregiver("cg-ana", Some("Ana")), caregiver("cg-ben", None)],
            snoozes: Default::default(),
            escalation: Default::default(),
        }
    }

    fn record(rule: RuleKind, location: Option<Location>) -> AlertRecord {
        let alert = Alert {
            id: AlertId::new("w-1", rule, at(9, 42)),
            wearer_id: "w-1".into(),
            rule,
            severity: rule.severity(),
            episode_start: at(9, 42),
            raised_at: at(9, 42),
            readings: vec![],
            location,
            value: None,
        };
        AlertRecord::open(alert, false)
    }

    fn madrid() -> Option<Location> {
        Some(Location { lat: 40.41678, lon: -3.70379, accuracy_m: Some(12.0) })
    }

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape("<script>alert('1')</script> & \"x\""),
            "&lt;script&gt;alert(&#39;1&#39;)&lt;/script&gt; &amp; &quot;x&quot;"
        );
        assert_eq!(escape("Conceição Ñandú"), "Conceição Ñandú");
    }

    #[test]
    fn accept_language_picks_the_best_weighted_language_we_speak() {
        assert_eq!(accepted(None), Language::En);
        assert_eq!(accepted(Some("")), Language::En);
        assert_eq!(accepted(Some("es-ES,es;q=0.9,en;q=0.8")), Language::Es);
        assert_eq!(accepted(Some("pt-BR")), Language::PtBr);
        assert_eq!(accepted(Some("de-DE,de;q=0.9,pt;q=0.5,en;q=0.4")), Language::PtBr, "German is not spoken here");
        assert_eq!(accepted(Some("en;q=0.2, es;q=0.7")), Language::Es);
        assert_eq!(accepted(Some("es;q=0, en")), Language::En, "q=0 means not acceptable");
        assert_eq!(accepted(Some("fr, *;q=0.1")), Language::En);
        assert_eq!(accepted(Some("es;q=abc,pt;q=0.3")), Language::PtBr, "an unreadable weight is not acceptable");
        assert_eq!(accepted(Some(&"x,".repeat(10_000))), Language::En);
    }

    #[test]
    fn times_are_the_wearers_own_with_the_date_when_not_today() {
        let tz: Tz = "Europe/Madrid".parse().unwrap();
        assert_eq!(local_time(at(9, 42), tz, at(10, 0)), "10:42 CET");
        assert_eq!(local_time(at(9, 42), tz, at(9, 42) + chrono::Duration::days(1)), "2026-11-22 10:42 CET");
        let sao_paulo: Tz = "America/Sao_Paulo".parse().unwrap();
        assert_eq!(local_time(at(9, 42), sao_paulo, at(10, 0)), "06:42 UTC-03");
    }

    #[test]
    fn an_open_alert_shows_who_what_when_where_and_one_button() {
        let p = profile("Carmen Ruiz");
        let sos = Summary::of(&record(RuleKind::Sos, madrid()), &p, Language::En, at(9, 50));
        assert_eq!(sos.title, "SOS: Carmen");
        assert!(sos.text.starts_with("Carmen pressed the SOS button at 10:42."), "{}", sos.text);
        assert!(!sos.text.contains("maps"), "the place is a link of its own");
        assert_eq!(sos.when, "10:42 CET");
        assert_eq!(
            sos.map.as_deref(),
            Some("https://www.openstreetmap.org/?mlat=40.41678&mlon=-3.70379#map=17/40.41678/-3.70379")
        );
        let html = Page::Open(sos).html(Language::En);
        assert_eq!(html.matches("<button").count(), 1);
        assert!(
            html.contains("<form method=\"post\"><button type=\"submit\">I&#39;m on my way</button></form>"),
            "{html}"
        );
        assert!(html.contains(
            "href=\"https://www.openstreetmap.org/?mlat=40.41678&amp;mlon=-3.70379#map=17/40.41678/-3.70379\""
        ));
        assert!(html.contains("<meta name=\"viewport\""));
        assert!(html.starts_with("<!doctype html><html lang=\"en\">"));
        for forbidden in ["<script", "src=", "<link", "@import", "url(", "action="] {
            assert!(!html.contains(forbidden), "{forbidden} in {html}");
        }

        // Other rules carry no place, even with a location; every language has its button.
        let hr = Summary::of(&record(RuleKind::HeartRateHigh, madrid()), &p, Language::Es, at(9, 50));
        assert_eq!(hr.map, None);
        for (lang, button, tag) in [(Language::Es, "Voy para allá", "es"), (Language::PtBr, "Estou a caminho", "pt-BR")]
        {
            let summary = Summary::of(&record(RuleKind::Fall, madrid()), &p, lang, at(9, 50));
            let html = Page::Open(summary).html(lang);
            assert!(html.contains(&format!(">{button}</button>")), "{html}");
            assert!(html.contains(&format!("<html lang=\"{tag}\">")));
        }
    }

    #[test]
    fn a_hostile_wearer_name_is_text() {
        let p = profile("<script>alert(1)</script> Smith");
        let summary = Summary::of(&record(RuleKind::Sos, madrid()), &p, Language::En, at(9, 50));
        for page in [
            Page::Open(summary.clone()),
            Page::Thanks { name: Some("<b>Ana</b>".into()), summary: summary.clone() },
            Page::Acknowledged {
                summary: summary.clone(),
                by: Actor::Named("<i>Ben\"".into()),
                at: "10:44 CET".into(),
            },
            Page::Resolved(summary),
        ] {
            let html = page.html(Language::En);
            assert!(!html.contains("<script>") && !html.contains("<b>") && !html.contains("<i>"), "{html}");
            assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
            assert_eq!(html.matches('<').count(), html.matches('>').count());
        }
    }

    #[test]
    fn acknowledged_pages_say_by_whom_and_when_without_a_button() {
        let p = profile("Carmen Ruiz");
        let summary = Summary::of(&record(RuleKind::Sos, None), &p, Language::En, at(9, 50));
        assert_eq!(Actor::of(&p, "cg-ana", "cg-ben"), Actor::Named("Ana".into()));
        assert_eq!(Actor::of(&p, "cg-ben", "cg-ana"), Actor::Someone, "Ben has no name in the profile");
        assert_eq!(Actor::of(&p, "cg-gone", "cg-ana"), Actor::Someone);
        assert_eq!(Actor::of(&p, "cg-ana", "cg-ana"), Actor::You);
        let page = |by| Page::Acknowledged { summary: summary.clone(), by, at: "10:44 CET".into() }.html(Language::En);
        let ana = page(Actor::Named("Ana".into()));
        assert!(ana.contains("Ana is already on the way. <span class=\"when\">Since: 10:44 CET</span>"), "{ana}");
        assert!(!ana.contains("<button") && !ana.contains("<form"));
        assert!(page(Actor::You).contains("You said you are on your way."));
        assert!(page(Actor::Someone).contains("Another caregiver is already on the way."));
        let thanks = Page::Thanks { name: Some("Ana".into()), summary: summary.clone() }.html(Language::En);
        assert!(thanks.contains("Thanks, Ana: the other caregivers see you are on your way."), "{thanks}");
        assert!(!thanks.contains("<button"));
        let gracias = Page::Thanks { name: None, summary: summary.clone() }.html(Language::Es);
        assert!(gracias.contains("Gracias: los demás cuidadores ven que va para allá."), "{gracias}");
        let resolved = Page::Resolved(summary).html(Language::PtBr);
        assert!(resolved.contains("Este alerta já foi resolvido.") && !resolved.contains("<button"), "{resolved}");
    }

    #[test]
    fn refusals_are_plain_pages_in_every_language() {
        for (lang, not_valid, expired) in [
            (Language::En, "This link is not valid", "This link has expired"),
            (Language::Es, "Este enlace no es válido", "Este enlace ha caducado"),
            (Language::PtBr, "Este link não é válido", "Este link expirou"),
        ] {
            let page = Page::NotValid.html(lang);
            assert!(page.contains(&format!("<h1>{}</h1>", escape(not_valid))), "{page}");
            assert!(!page.contains("<form"));
            assert!(Page::Expired.html(lang).contains(&escape(expired)));
            for other in [Page::MethodNotAllowed, Page::Unavailable] {
                assert!(!other.html(lang).contains("<form"));
            }
        }
    }
}
