//! The request handler: the token → the alert and the caregiver it names → a
//! page (GET) or the acknowledgement and a page (POST).
//!
//! Status codes:
//! - 200: a page about the alert (open, acknowledged, resolved; after a POST, whose
//!   acknowledgement stands).
//! - 404: a forged or malformed token, an alert that does not exist, a caregiver
//!   index beyond the wearer's profile: one page for all, so nothing can be probed.
//! - 410: a genuine link past its expiry.
//! - 405: a method other than GET and POST.
//! - 503 + Retry-After: the stores failed or did not answer within the budget.
//!
//! GET never changes anything: SMS apps and link scanners fetch links to preview
//! them, and must not acknowledge an alert nobody is going to.

use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use vigil_domain::care::{Caregiver, WearerProfile};
use vigil_domain::lifecycle::{AlertRecord, AlertStatus, Transition, Via};
use vigil_domain::link::{LinkError, LinkKey};
use vigil_domain::ports::{AlertStore, LifecycleSink, StoreError, WearerDirectory};
use vigil_lambda::metrics::Metrics;

use crate::page::{self, Actor, Page, Summary};

/// Seconds a browser should wait before retrying after a 503.
pub const RETRY_AFTER_SECS: u32 = 2;
/// Time kept back from the invocation deadline to write the response.
const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

/// Every page's policy: nothing but the inline style, forms only to this site,
/// never framed, no base URL.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The ack-link handler with its ports. Built once per container.
pub struct AckLink<A, W, L> {
    pub alerts: A,
    pub wearers: W,
    /// Where each acknowledgement goes besides the alerts table (the warehouse's
    /// curated alerts), or `None`.
    pub lifecycle: L,
    /// What the links are signed with.
    pub key: LinkKey,
    /// Longest time spent on the store calls of one request.
    pub budget: Duration,
}

impl<A, W, L> std::fmt::Debug for AckLink<A, W, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckLink").field("key", &self.key).field("budget", &self.budget).finish_non_exhaustive()
    }
}

/// Why a request gets no page about an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NotValid,
    Expired,
    MethodNotAllowed,
    Unavailable,
}

impl From<StoreError> for Refusal {
    fn from(err: StoreError) -> Self {
        // Names the operation and table only: never a value.
        tracing::warn!(error = %err, retryable = err.retryable, source = ?std::error::Error::source(&err).map(ToString::to_string), "store call failed");
        Refusal::Unavailable
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Show,
    Acknowledge,
}

/// The token of `/a/{token}` (anything before `/a/`, a stage name, is ignored).
fn token_of(path: &str) -> Option<&str> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let (rest, token) = path.rsplit_once('/')?;
    (rest.rsplit('/').next() == Some("a")).then_some(token)
}

impl<A, W, L> AckLink<A, W, L>
where
    A: AlertStore + Sync,
    W: WearerDirectory + Sync,
    L: LifecycleSink + Sync,
{
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let (response, metrics) = self.process(request, Utc::now()).await;
        metrics.emit();
        response
    }

    /// The response and the metrics of one request as of `now`, without writing
    /// anything but the acknowledgement.
    pub async fn process(&self, request: Request, now: DateTime<Utc>) -> (Response<Body>, Metrics) {
        let started = Instant::now();
        let mut metrics = Metrics::new("ack-link");
        let response = match self.answer(&request, now, &mut metrics).await {
            Ok((page, language)) => html(StatusCode::OK, &page.html(language)),
            Err(refusal) => {
                let language =
                    page::accepted(request.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()));
                refuse(refusal, language)
            }
        };
        vigil_lambda::http::count_request(&mut metrics, response.status(), "AckLinkMs", started);
        (response, metrics)
    }

    async fn answer(
        &self,
        request: &Request,
        now: DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> Result<(Page, vigil_domain::alerts::Language), Refusal> {
        // Steps are kept to the millisecond, as every stored time is.
        let now = now.trunc_subsecs(3);
        let token = token_of(request.uri().path()).ok_or(Refusal::NotValid)?;
        let action = match *request.method() {
            Method::GET => Action::Show,
            Method::POST => Action::Acknowledge,
            _ => return Err(Refusal::MethodNotAllowed),
        };
        let claim = match self.key.verify(token, now) {
            Ok(claim) => claim,
            Err(LinkError::Expired) => {
                metrics.count("LinksExpired", 1);
                return Err(Refusal::Expired);
            }
            // The token is a credential: it is never logged, nor what was wrong with it.
            Err(LinkError::Forged | LinkError::Malformed) => {
                metrics.count("LinksRefused", 1);
                return Err(Refusal::NotValid);
            }
        };
        let alert_id = claim.alert_id();
        let budget = vigil_lambda::http::budget(request, self.budget, DEADLINE_MARGIN);
        let work = self.act(&alert_id, usize::from(claim.caregiver()), action, now, metrics);
        match tokio::time::timeout(budget, work).await {
            Ok(Err(Refusal::NotValid)) => {
                // A genuine link to something that is not there (or no longer): worth knowing.
                tracing::warn!(alert_id = %alert_id, "a signed link names no alert or no caregiver of it");
                metrics.count("LinksRefused", 1);
                Err(Refusal::NotValid)
            }
            Ok(answer) => answer,
            Err(_) => {
                metrics.count("StoreTimeouts", 1);
                tracing::warn!(alert_id = %alert_id, budget_ms = budget.as_millis() as u64, "stores did not answer in time");
                Err(Refusal::Unavailable)
            }
        }
    }

    async fn act(
        &self,
        alert_id: &str,
        index: usize,
        action: Action,
        now: DateTime<Utc>,
        metrics: &mut Metrics,
    ) -> Result<(Page, vigil_domain::alerts::Language), Refusal> {
        let record = self.alerts.get(alert_id).await?.ok_or(Refusal::NotValid)?;
        let profile = self.wearers.wearer(&record.alert.wearer_id).await?.ok_or(Refusal::NotValid)?;
        // The index is resolved against the profile as it is now (see vigil_domain::link).
        let caregiver = profile.caregivers.get(index).ok_or(Refusal::NotValid)?;
        let language = caregiver.language;
        let page = match action {
            Action::Show => view(&profile, caregiver, &record, now),
            Action::Acknowledge => {
                let step = Transition::acknowledge(&caregiver.id, now, Via::Link);
                // The alert was there a moment ago; alerts are never deleted.
                let record = self.alerts.transition(alert_id, &step, None).await?.ok_or(Refusal::NotValid)?;
                // Handed on won or lost: a retry completes a write a failure left undone.
                self.lifecycle.record(&record).await?;
                let won = record.acknowledged.as_ref().is_some_and(|t| t.by == caregiver.id && t.at == now);
                if won {
                    metrics.count("Acknowledged", 1);
                    tracing::info!(alert_id = %alert_id, "acknowledged through the link");
                }
                view(&profile, caregiver, &record, now)
            }
        };
        Ok((page, language))
    }
}

/// The page about `record` for `caregiver`: the button while it is open, whose
/// acknowledgement stands once it is acknowledged (thanks, when it is theirs),
/// and that it is resolved once it is.
fn view(profile: &WearerProfile, caregiver: &Caregiver, record: &AlertRecord, now: DateTime<Utc>) -> Page {
    let summary = Summary::of(record, profile, caregiver.language, now);
    match (record.status, &record.acknowledged) {
        (AlertStatus::Resolved, _) => Page::Resolved(summary),
        (AlertStatus::Acknowledged, Some(ack)) if ack.by == caregiver.id => {
            let name = caregiver.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
            Page::Thanks { name, summary }
        }
        (AlertStatus::Acknowledged, Some(ack)) => Page::Acknowledged {
            summary,
            by: Actor::of(profile, &ack.by, &caregiver.id),
            at: page::local_time(ack.at, profile.tz(), now),
        },
        // Acknowledged without a step cannot be stored; show it as open rather than fail.
        (AlertStatus::Open | AlertStatus::Acknowledged, _) => Page::Open(summary),
    }
}

/// An HTML page with every page's headers.
fn html(status: StatusCode, page: &str) -> Response<Body> {
    let mut response = Response::new(Body::Text(page.to_owned()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    // The page's URL is the credential: it must not leave in a Referer (the map link).
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn refuse(refusal: Refusal, language: vigil_domain::alerts::Language) -> Response<Body> {
    match refusal {
        Refusal::NotValid => html(StatusCode::NOT_FOUND, &Page::NotValid.html(language)),
        Refusal::Expired => html(StatusCode::GONE, &Page::Expired.html(language)),
        Refusal::MethodNotAllowed => {
            let mut response = html(StatusCode::METHOD_NOT_ALLOWED, &Page::MethodNotAllowed.html(language));
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
            response
        }
        Refusal::Unavailable => {
            let mut response = html(StatusCode::SERVICE_UNAVAILABLE, &Page::Unavailable.html(language));
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            response
        }
    }
}

#[cfg(test)]
mod tests;
