//! The protection layer: every request passes the shield, the bot rules and the rate limits, in
//! that order, before its route runs (or, for the GET routes that only read a few items, while
//! its windows are counted: `READS_WHILE_COUNTED`; a refused one's answer is dropped; and for the
//! spending routes that start by reading, while they read, up to the gate where they wait before
//! writing: `READS_THEN_GATE`; Clerk's webhook is counted after its route answered, and only when
//! the answer is not a genuine new delivery's: `GenuineDelivery`). While a cold start is still
//! building the shield's and the bot rules, its requests are inspected beside their count rather
//! than before it, and a refused one gives its counts back. Denials answer as the route would:
//! problem+json on the JSON routes, the original's plain text on the AI routes (`RATE_LIMIT`,
//! which its client shows as a "slow down" toast). Allowed answers carry the IETF draft
//! `RateLimit-Policy` and `RateLimit` headers. What was decided is left in the request's
//! extensions for `GET /api/arcjet`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
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

    // Once the rules are built, inspecting takes microseconds and goes first: a refused request
    // is never counted. A cold start's first requests can arrive while `Protection::prime` still
    // builds them (some milliseconds); those are inspected on a blocking thread while their
    // windows are counted (and their route reads, when it may), so the count's round trip does
    // not wait for the build, and an inspection that refuses takes the counts back.
    let bots_apply = modes.bots != Mode::Off && class != RouteClass::Webhook;
    let inspecting = if protection.rules_built(modes.shield != Mode::Off, bots_apply) {
        let inspection = inspect(&protection, class, request.uri(), request.headers(), &ip_text);
        if let Some(denial) = inspection.denial {
            if inspection.shield_hit {
                record_shield_hit(&protection, table.as_ref(), ip_rule, &ip_subject, now_ms, &ip_text).await;
            }
            return refuse(denial, class);
        }
        report.rules = inspection.rules;
        None
    } else {
        let (protection, uri, headers) =
            (protection.clone(), request.uri().clone(), request.headers().clone());
        let ip_text = ip_text.clone();
        Some(tokio::task::spawn_blocking(move || inspect(&protection, class, &uri, &headers, &ip_text)))
    };
    // Clerk's webhook is counted once its route has answered, and only when the answer is not a
    // genuine delivery's (`GenuineDelivery`): nothing waits for a count before a delivery is
    // applied.
    let count_after = (class == RouteClass::Webhook && modes.rate_limit != Mode::Off).then(|| CountAfter {
        protection: &protection,
        table: table.as_ref(),
        window: (ip_rule, ip_subject.clone()),
        now_ms,
        ip_text: &ip_text,
    });
    let mut windows = Vec::new();
    if modes.rate_limit != Mode::Off && count_after.is_none() {
        windows.push((ip_rule, ip_subject.clone()));
        if matches!(class, RouteClass::Spending { .. })
            && let Some(session) = session(&state, &mut request).await
        {
            let subject = Subject::new(users::partition(&session.user_id), USER_WINDOW);
            windows.push((USER_WINDOW, subject));
        }
    }
    if windows.is_empty() && inspecting.is_none() {
        request.extensions_mut().insert(report);
        let response = next.run(request).await;
        return match count_after {
            Some(count_after) => count_after.count_unless_genuine(response, class).await,
            None => response,
        };
    }
    let checking = async {
        let counting = async {
            if windows.is_empty() {
                return None;
            }
            Some(count(&protection, table.as_ref(), &windows, now_ms, &ip_text).await)
        };
        let (inspection, counted) = tokio::join!(inspected(inspecting), counting);
        let Some(inspection) = inspection else {
            return Checked { rules: Vec::new(), refused: None, counted };
        };
        if inspection.denial.is_some() {
            if let Some(counted) = &counted {
                take_back(&protection, table.as_ref(), &windows, &counted.taken, now_ms).await;
            }
            if inspection.shield_hit {
                record_shield_hit(&protection, table.as_ref(), ip_rule, &ip_subject, now_ms, &ip_text).await;
            }
        }
        Checked { rules: inspection.rules, refused: inspection.denial, counted }
    };
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
        let checking = async {
            let checked = checking.await;
            if let Some(opener) = opener {
                opener.open(checked.allowed());
            }
            checked
        };
        let (checked, mut response) = tokio::join!(checking, next.run(request));
        if let Some(denial) = settle(&mut report, checked) {
            return refuse(denial, class);
        }
        if let Some(count_after) = count_after {
            return count_after.count_unless_genuine(response, class).await;
        }
        add_rate_limit_headers(response.headers_mut(), &report.limits);
        return response;
    }
    if let Some(denial) = settle(&mut report, checking.await) {
        return refuse(denial, class);
    }
    let limits = report.limits.clone();
    request.extensions_mut().insert(report);
    let mut response = next.run(request).await;
    add_rate_limit_headers(response.headers_mut(), &limits);
    response
}

/// What the shield and the bot rules said about a request.
struct Inspection {
    rules: Vec<RuleReport>,
    denial: Option<Denial>,
    /// A live shield hit, to record against the client (`record_shield_hit`).
    shield_hit: bool,
}

/// The shield, then the bot rules (not on Clerk's webhook); the first live refusal stops it.
fn inspect(
    protection: &Protection,
    class: RouteClass,
    uri: &Uri,
    headers: &HeaderMap,
    ip_text: &str,
) -> Inspection {
    let modes = protection.modes;
    let mut inspection = Inspection { rules: Vec::new(), denial: None, shield_hit: false };
    if modes.shield != Mode::Off {
        let hit = protection.shield().inspect_head(uri, headers);
        let mut rule =
            RuleReport { rule: "shield", mode: modes.shield.as_str(), conclusion: "ALLOW", reason: None };
        if let Some(hit) = hit {
            let reason = format!("{} in {} ({})", hit.class.as_str(), hit.location, hit.rule);
            tracing::warn!(ip = %ip_text, attack = hit.class.as_str(), location = %hit.location, rule = hit.rule, mode = modes.shield.as_str(), "shield hit");
            rule.conclusion = "DENY";
            rule.reason = Some(reason);
            if modes.shield == Mode::Live {
                inspection.denial = Some(Denial::Forbidden {
                    code: "REQUEST_BLOCKED",
                    message: "This request looks like an attack and was blocked",
                });
                inspection.shield_hit = true;
            }
        }
        inspection.rules.push(rule);
    }
    if inspection.denial.is_none() && modes.bots != Mode::Off && class != RouteClass::Webhook {
        let verdict = protection.bots().classify(user_agent(headers));
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
                inspection.denial = Some(Denial::Forbidden {
                    code: "BOT_DENIED",
                    message: "Automated clients are not allowed on this API",
                });
            }
        }
        inspection.rules.push(rule);
    }
    inspection
}

/// The inspection a blocking thread ran, if one did. A thread that panicked inspected nothing:
/// the request goes on as the other rules decide.
async fn inspected(inspecting: Option<tokio::task::JoinHandle<Inspection>>) -> Option<Inspection> {
    match inspecting?.await {
        Ok(inspection) => Some(inspection),
        Err(error) => {
            tracing::error!(%error, "inspecting a request failed; allowing");
            None
        }
    }
}

/// Counts a live shield hit against the client (when the rate limits run: the block is theirs).
async fn record_shield_hit(
    protection: &Protection,
    table: &dyn Table,
    rule: SlidingWindow,
    subject: &Subject,
    now_ms: i64,
    ip_text: &str,
) {
    if protection.modes.rate_limit == Mode::Off {
        return;
    }
    let recorded = protection
        .limiter()
        .record_shield_hit(table, rule, subject, now_ms, SHIELD_BLOCK_AFTER, SHIELD_BLOCK)
        .await;
    match recorded {
        Ok(Some(_)) => tracing::warn!(ip = %ip_text, "client blocked after repeated shield hits"),
        Ok(None) => {}
        Err(error) => tracing::error!(%error, "recording a shield hit failed"),
    }
}

/// Gives back the counts a request took (`taken`, indexes into `windows`) before the shield or
/// the bot rules refused it.
async fn take_back(
    protection: &Protection,
    table: &dyn Table,
    windows: &[(SlidingWindow, Subject)],
    taken: &[usize],
    now_ms: i64,
) {
    let limiter = protection.limiter();
    let taken: Vec<_> = taken.iter().filter_map(|&index| windows.get(index)).collect();
    let given = taken.iter().map(|(window, subject)| limiter.take_back(table, *window, subject, now_ms));
    for (given, (window, _)) in futures::future::join_all(given).await.into_iter().zip(taken) {
        if let Err(error) = given {
            tracing::error!(%error, rule = window.name, "taking back a refused request's count failed");
        }
    }
}

/// The rules' outcome for one request: the shield's and the bot rules' when they were inspected
/// beside the count (their reports, their refusal), and the count's.
struct Checked {
    rules: Vec<RuleReport>,
    refused: Option<Denial>,
    counted: Option<Counted>,
}

impl Checked {
    fn allowed(&self) -> bool {
        self.refused.is_none() && self.counted.as_ref().is_none_or(|counted| counted.denial.is_none())
    }
}

/// Puts the rules' outcome in the report; the refusal, if any (a refused request's report goes
/// nowhere). The shield's or the bot rules' refusal comes first, as when they go first.
fn settle(report: &mut Report, checked: Checked) -> Option<Denial> {
    if checked.refused.is_some() {
        return checked.refused;
    }
    report.rules.extend(checked.rules);
    let counted = checked.counted?;
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
/// windows are counted and wait at the `CountGate` before anything that writes or spends (the
/// webhook, counted only afterwards, waits there only for a cold start's inspection). A route
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
    /// The windows (their indexes) whose count this request took.
    taken: Vec<usize>,
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
    // Every window that counted it, the ones after a refusal included.
    let taken = standings
        .iter()
        .enumerate()
        .filter(|(_, standing)| matches!(standing, Ok(Standing::Allowed { .. })))
        .map(|(index, _)| index)
        .collect();
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
    Counted { rule, limits, denial, taken }
}

/// Left in a response's extensions by Clerk's webhook route when the delivery's signature
/// verified, its event parsed, and it was not one already applied: an answer the webhook's window
/// does not count. An attacker cannot make one (it takes the signing secret), and counting them
/// could only turn Clerk's own deliveries away during a burst (a bulk import, a backlog Svix
/// sends at once). What the window does count, and refuses over its limit, is everything an
/// attacker can send: unsigned or badly signed requests, malformed events, replays.
#[derive(Debug, Clone, Copy)]
pub struct GenuineDelivery;

/// Clerk's webhook's window, counted after the route has answered.
struct CountAfter<'a> {
    protection: &'a Protection,
    table: &'a dyn Table,
    window: (SlidingWindow, Subject),
    now_ms: i64,
    ip_text: &'a str,
}

impl CountAfter<'_> {
    /// Counts `response` unless it is a genuine delivery's; over the limit, the refusal replaces
    /// it (such an answer changed nothing: a request that failed verification writes nothing,
    /// nor does a replay).
    async fn count_unless_genuine(self, mut response: Response, class: RouteClass) -> Response {
        if response.extensions().get::<GenuineDelivery>().is_some() {
            return response;
        }
        let windows = [self.window];
        let counted = count(self.protection, self.table, &windows, self.now_ms, self.ip_text).await;
        if let Some(denial) = counted.denial {
            return refuse(denial, class);
        }
        add_rate_limit_headers(response.headers_mut(), &counted.limits);
        response
    }
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
