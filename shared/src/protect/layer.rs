//! The protection layer: every request passes the shield, the bot rules and the rate limits, in
//! that order, before its route runs (or, for the GET routes that only read a few items, while
//! its windows are counted: `READS_WHILE_COUNTED`; a refused one's answer is dropped; and for the
//! spending routes that start by reading, while they read, up to the gate where they wait before
//! writing: `READS_THEN_GATE`). Denials answer as the route would: problem+json on the JSON
//! routes, the original's plain text on the AI routes (`RATE_LIMIT`, which its client shows as a
//! "slow down" toast). Allowed answers carry the IETF draft `RateLimit-Policy` and `RateLimit`
//! headers. What was decided is left in the request's extensions for `GET /api/arcjet`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::bots::BotVerdict;
use super::gate::CountGate;
use super::window::{SlidingWindow, Standing, Subject};
use super::{IP_WINDOW, Mode, Protection, SHIELD_BLOCK, SHIELD_BLOCK_AFTER, USER_WINDOW, WEBHOOK_WINDOW};
use crate::AppState;
use crate::auth::{Session, token_from_headers};
use crate::error::ApiError;
use crate::http::plain::PlainError;
use crate::store::Table;
use crate::users;

/// How a route is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// Clerk's webhook: exempt from the bot and per-user rules, its own per-IP window.
    Webhook,
    /// A route that spends on a model or starts paid work: the per-user window applies too.
    Spending {
        plain: bool,
    },
    Other,
}

impl RouteClass {
    /// The class of `method path`, `path` being the matched route's template when known.
    pub fn of(method: &Method, path: &str) -> Self {
        match (method, path) {
            (&Method::POST, crate::webhooks::ROUTE) => Self::Webhook,
            (_, path) if path.starts_with("/api/ai/") => Self::Spending { plain: true },
            (&Method::POST, "/api/job-infos/{jobInfoId}/interviews")
            | (&Method::POST, "/api/interviews/{interviewId}/feedback")
            | (&Method::POST, "/api/hume/access-token") => Self::Spending { plain: false },
            _ => Self::Other,
        }
    }

    fn plain(self) -> bool {
        matches!(self, Self::Spending { plain: true })
    }
}

/// One rule's outcome for a request.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleReport {
    pub rule: &'static str,
    pub mode: &'static str,
    /// `ALLOW` or `DENY` (in dry-run, `DENY` is what live would have done).
    pub conclusion: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A window's standing after this request.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitReport {
    pub name: &'static str,
    pub max: u32,
    /// Seconds.
    pub window: u64,
    pub remaining: u32,
    /// Seconds until the current window ends.
    pub reset: u64,
}

/// What the layer decided; left in the request's extensions.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    pub conclusion: &'static str,
    pub ip: Option<String>,
    pub rules: Vec<RuleReport>,
    pub limits: Vec<LimitReport>,
}

/// Why a request is refused.
enum Denial {
    Forbidden { code: &'static str, message: &'static str },
    RateLimited { retry_after_seconds: u64, policy: &'static str },
}

/// The client's address: API Gateway's or the function URL's `sourceIp` in Lambda, the peer
/// locally. Forwarding headers are not trusted: anyone can send them.
pub fn client_ip(request: &Request) -> Option<IpAddr> {
    use lambda_http::request::RequestContext;
    if let Some(RequestContext::ApiGatewayV2(context)) = request.extensions().get::<RequestContext>() {
        return context.http.source_ip.as_deref().and_then(|ip| ip.parse().ok());
    }
    request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| peer.ip())
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::USER_AGENT).and_then(|value| value.to_str().ok())
}

pub async fn protect(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let protection = state.protection.clone();
    let modes = protection.modes;
    let path = request.extensions().get::<MatchedPath>().map(|matched| matched.as_str().to_owned());
    let class = RouteClass::of(request.method(), path.as_deref().unwrap_or(request.uri().path()));
    let ip = client_ip(&request);
    let ip_text = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let mut report = Report { conclusion: "ALLOW", ip: ip.map(|ip| ip.to_string()), ..Report::default() };
    let now_ms = protection.clock.now_ms();
    let table = state.table.clone();
    let ip_rule = if class == RouteClass::Webhook { WEBHOOK_WINDOW } else { IP_WINDOW };
    let ip_subject = Subject::new(format!("CLIENT#{ip_text}"), ip_rule);

    let mut denial = None;
    if modes.shield != Mode::Off {
        let hit = protection.shield().inspect_head(request.uri(), request.headers());
        let mut rule =
            RuleReport { rule: "shield", mode: modes.shield.as_str(), conclusion: "ALLOW", reason: None };
        if let Some(hit) = hit {
            let reason = format!("{} in {} ({})", hit.class.as_str(), hit.location, hit.rule);
            tracing::warn!(ip = %ip_text, attack = hit.class.as_str(), location = %hit.location, rule = hit.rule, mode = modes.shield.as_str(), "shield hit");
            rule.conclusion = "DENY";
            rule.reason = Some(reason);
            if modes.shield == Mode::Live {
                denial = Some(Denial::Forbidden {
                    code: "REQUEST_BLOCKED",
                    message: "This request looks like an attack and was blocked",
                });
                if modes.rate_limit != Mode::Off {
                    let limiter = protection.limiter();
                    match limiter
                        .record_shield_hit(
                            table.as_ref(),
                            ip_rule,
                            &ip_subject,
                            now_ms,
                            SHIELD_BLOCK_AFTER,
                            SHIELD_BLOCK,
                        )
                        .await
                    {
                        Ok(Some(_)) => {
                            tracing::warn!(ip = %ip_text, "client blocked after repeated shield hits")
                        }
                        Ok(None) => {}
                        Err(error) => tracing::error!(%error, "recording a shield hit failed"),
                    }
                }
            }
        }
        report.rules.push(rule);
    }
    if denial.is_none() && modes.bots != Mode::Off && class != RouteClass::Webhook {
        let verdict = protection.bots().classify(user_agent(request.headers()));
        let mut rule =
            RuleReport { rule: "bots", mode: modes.bots.as_str(), conclusion: "ALLOW", reason: None };
        let refused = match &verdict {
            BotVerdict::Missing => Some("no User-Agent".to_owned()),
            BotVerdict::Bot { name, category } if !category.allowed() => {
                Some(format!("{} bot ({name})", category.as_str()))
            }
            BotVerdict::Bot { .. } | BotVerdict::NotBot => None,
        };
        if let Some(reason) = refused {
            tracing::info!(ip = %ip_text, reason, mode = modes.bots.as_str(), "bot rule denies");
            rule.conclusion = "DENY";
            rule.reason = Some(reason);
            if modes.bots == Mode::Live {
                denial = Some(Denial::Forbidden {
                    code: "BOT_DENIED",
                    message: "Automated clients are not allowed on this API",
                });
            }
        }
        report.rules.push(rule);
    }
    let mut windows = Vec::new();
    if denial.is_none() && modes.rate_limit != Mode::Off {
        windows.push((ip_rule, ip_subject));
        if matches!(class, RouteClass::Spending { .. })
            && let Some(session) = session(&state, &mut request).await
        {
            let subject = Subject::new(users::partition(&session.user_id), USER_WINDOW);
            windows.push((USER_WINDOW, subject));
        }
    }
    if let Some(denial) = denial {
        return refuse(denial, class);
    }
    if windows.is_empty() {
        request.extensions_mut().insert(report);
        return next.run(request).await;
    }
    let counting = count(&protection, table.as_ref(), &windows, now_ms, &ip_text);
    let gated = reads_then_gate(request.method(), path.as_deref());
    if gated || reads_while_counted(request.method(), path.as_deref()) {
        // The route's reads and the windows' count go out at once: one round trip less. A refused
        // request's answer is dropped; reading changed nothing. A gated route waits at its gate
        // before it writes or spends, and stops there when refused. These routes never read the
        // report (only `GET /api/arcjet` does), so it is not handed to them.
        let opener = gated.then(|| {
            let (gate, opener) = CountGate::new();
            request.extensions_mut().insert(gate);
            opener
        });
        let counting = async {
            let counted = counting.await;
            if let Some(opener) = opener {
                opener.open(counted.denial.is_none());
            }
            counted
        };
        let (counted, mut response) = tokio::join!(counting, next.run(request));
        if let Some(denial) = settle(&mut report, counted) {
            return refuse(denial, class);
        }
        add_rate_limit_headers(response.headers_mut(), &report.limits);
        return response;
    }
    if let Some(denial) = settle(&mut report, counting.await) {
        return refuse(denial, class);
    }
    let limits = report.limits.clone();
    request.extensions_mut().insert(report);
    let mut response = next.run(request).await;
    add_rate_limit_headers(response.headers_mut(), &limits);
    response
}

/// Puts the rate-limit rule's outcome in the report; the refusal, if any (a refused request's
/// report goes nowhere).
fn settle(report: &mut Report, counted: Counted) -> Option<Denial> {
    report.rules.push(counted.rule);
    report.limits = counted.limits;
    counted.denial
}

/// GET routes whose work is a few bounded reads of the caller's own items. They run while the
/// request's windows are counted (one round trip less on each, cold or warm), and a refused
/// request's answer is dropped: reading changes nothing, so a refusal still changes nothing, and
/// what a refused client costs is those reads beside the window's own write. Not here: `GET
/// /api/arcjet` (it reports the windows' outcome), the export (a whole partition) and a
/// transcript (a call to Hume), nor any route added later until it is listed.
const READS_WHILE_COUNTED: &[&str] = &[
    "/api/me",
    "/api/job-infos",
    "/api/job-infos/{jobInfoId}",
    "/api/job-infos/{jobInfoId}/progress",
    "/api/job-infos/{jobInfoId}/questions",
    "/api/job-infos/{jobInfoId}/resume-analyses",
    "/api/job-infos/{jobInfoId}/interviews",
    "/api/questions/{questionId}",
    "/api/questions/{questionId}/attempts",
    "/api/interviews/{interviewId}",
];

/// Whether `method path` (the matched route's template) may run while its windows are counted.
pub fn reads_while_counted(method: &Method, path: Option<&str>) -> bool {
    method == Method::GET && path.is_some_and(|path| READS_WHILE_COUNTED.contains(&path))
}

/// POST routes that start by reading what they need (the job, the question, the upload, the
/// plan's allowance) or checking it (the webhook's signature): they do so while the request's
/// windows are counted and wait at the `CountGate` before anything that writes or spends. A route
/// is listed only once it waits there; a refused request's reads change nothing, so a refusal
/// still changes nothing.
const READS_THEN_GATE: &[&str] = &[
    "/api/ai/questions/generate-question",
    "/api/ai/questions/generate-feedback",
    "/api/ai/resumes/analyze",
    "/api/job-infos/{jobInfoId}/interviews",
    "/api/hume/access-token",
    crate::webhooks::ROUTE,
];

/// Whether `method path` reads while its windows are counted, then waits at the gate.
pub fn reads_then_gate(method: &Method, path: Option<&str>) -> bool {
    method == Method::POST && path.is_some_and(|path| READS_THEN_GATE.contains(&path))
}

/// The rate-limit rule's outcome for one request.
struct Counted {
    rule: RuleReport,
    limits: Vec<LimitReport>,
    denial: Option<Denial>,
}

/// Counts the request in every window at once (one round trip, not one per window), as each of
/// Arcjet's rules counts it; the first refusal, in the order given, answers.
async fn count(
    protection: &Protection,
    table: &dyn Table,
    windows: &[(SlidingWindow, Subject)],
    now_ms: i64,
    ip_text: &str,
) -> Counted {
    let modes = protection.modes;
    let mut rule =
        RuleReport { rule: "rate-limit", mode: modes.rate_limit.as_str(), conclusion: "ALLOW", reason: None };
    let mut limits = Vec::new();
    let mut denial = None;
    let limiter = protection.limiter();
    let standings = futures::future::join_all(
        windows.iter().map(|(window, subject)| limiter.hit(table, *window, subject, now_ms)),
    )
    .await;
    for ((window, _), standing) in windows.iter().zip(standings) {
        let standing = match standing {
            Ok(standing) => standing,
            Err(error) => {
                // Protection must not take the API down with the table: let it through.
                tracing::error!(%error, rule = window.name, "rate limit could not be evaluated; allowing");
                continue;
            }
        };
        match standing {
            Standing::Allowed { remaining, reset_seconds } => limits.push(LimitReport {
                name: window.name,
                max: window.limit,
                window: window.window.as_secs(),
                remaining,
                reset: reset_seconds,
            }),
            Standing::Limited { retry_after_seconds } => {
                rule.conclusion = "DENY";
                rule.reason = Some(format!(
                    "over {} requests per {} s ({})",
                    window.limit,
                    window.window.as_secs(),
                    window.name
                ));
                tracing::info!(ip = %ip_text, rule = window.name, retry_after_seconds, mode = modes.rate_limit.as_str(), "rate limit denies");
                if modes.rate_limit == Mode::Live {
                    denial = Some(Denial::RateLimited { retry_after_seconds, policy: window.name });
                    break;
                }
            }
            Standing::Blocked { .. } => {
                rule.conclusion = "DENY";
                rule.reason = Some("blocked after repeated attack patterns".into());
                if modes.shield == Mode::Live && modes.rate_limit == Mode::Live {
                    denial = Some(Denial::Forbidden {
                        code: "REQUEST_BLOCKED",
                        message: "This client is blocked for a while after repeated attack patterns",
                    });
                    break;
                }
            }
        }
    }
    Counted { rule, limits, denial }
}

/// The caller's verified session, when the request carries a valid token (left in the request's
/// extensions, so the route's extractor does not verify it again). A missing or bad token is for
/// the route to refuse, not for the rate limit.
async fn session(state: &AppState, request: &mut Request) -> Option<Session> {
    if let Some(session) = request.extensions().get::<Session>() {
        return Some(session.clone());
    }
    let token = token_from_headers(request.headers())?;
    let session = state.verifier.verify(token).await.ok()?;
    request.extensions_mut().insert(session.clone());
    Some(session)
}

/// `RateLimit-Policy` lists every window this request was counted in; `RateLimit` reports the one
/// nearest to exhaustion (draft-ietf-httpapi-ratelimit-headers, structured fields).
fn add_rate_limit_headers(headers: &mut HeaderMap, limits: &[LimitReport]) {
    if limits.is_empty() {
        return;
    }
    let policy = limits
        .iter()
        .map(|limit| format!("\"{}\";q={};w={}", limit.name, limit.max, limit.window))
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(value) = HeaderValue::from_str(&policy) {
        headers.insert("ratelimit-policy", value);
    }
    if let Some(nearest) = limits.iter().min_by_key(|limit| limit.remaining)
        && let Ok(value) = HeaderValue::from_str(&format!(
            "\"{}\";r={};t={}",
            nearest.name, nearest.remaining, nearest.reset
        ))
    {
        headers.insert("ratelimit", value);
    }
}

fn refuse(denial: Denial, class: RouteClass) -> Response {
    match (denial, class.plain()) {
        (Denial::RateLimited { retry_after_seconds, policy }, plain) => {
            let mut response = if plain {
                PlainError::rate_limited(retry_after_seconds).into_response()
            } else {
                ApiError::RateLimited { retry_after_seconds }.into_response()
            };
            if let Ok(value) = HeaderValue::from_str(&format!("\"{policy}\";r=0;t={retry_after_seconds}")) {
                response.headers_mut().insert("ratelimit", value);
            }
            response
        }
        (Denial::Forbidden { .. }, true) => {
            PlainError::new(StatusCode::FORBIDDEN, "Forbidden").into_response()
        }
        (Denial::Forbidden { code, message }, false) => {
            ApiError::Forbidden { code, message: message.into() }.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classed_by_their_template() {
        assert_eq!(RouteClass::of(&Method::POST, "/api/webhooks/clerk"), RouteClass::Webhook);
        assert_eq!(
            RouteClass::of(&Method::POST, "/api/ai/questions/generate-question"),
            RouteClass::Spending { plain: true }
        );
        assert_eq!(
            RouteClass::of(&Method::POST, "/api/job-infos/{jobInfoId}/interviews"),
            RouteClass::Spending { plain: false }
        );
        assert_eq!(RouteClass::of(&Method::GET, "/api/job-infos/{jobInfoId}/interviews"), RouteClass::Other);
        assert_eq!(RouteClass::of(&Method::GET, "/api/webhooks/clerk"), RouteClass::Other);
    }

    #[test]
    fn headers_name_every_window_and_report_the_nearest() {
        let mut headers = HeaderMap::new();
        let limits = [
            LimitReport { name: "ip", max: 100, window: 60, remaining: 57, reset: 34 },
            LimitReport { name: "user", max: 100, window: 60, remaining: 12, reset: 34 },
        ];
        add_rate_limit_headers(&mut headers, &limits);
        assert_eq!(headers["ratelimit-policy"], "\"ip\";q=100;w=60, \"user\";q=100;w=60");
        assert_eq!(headers["ratelimit"], "\"user\";r=12;t=34");
    }
}
