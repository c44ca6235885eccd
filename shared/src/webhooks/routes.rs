//! `POST /api/webhooks/clerk`: verify, parse, apply, answer in text.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use time::OffsetDateTime;

use super::{BODY_LIMIT, DEADLINE, Outcome, ROUTE, Rejection, SECRET_VARIABLE, apply, parse_event};
use crate::AppState;
use crate::error::ApiError;
use crate::protect::gate::CountGate;
use crate::protect::layer::GenuineDelivery;
use crate::store::StoreError;

pub fn routes() -> Router<AppState> {
    Router::new().route(ROUTE, post(receive).layer(DefaultBodyLimit::max(BODY_LIMIT)))
}

/// Verify, parse, apply; the body is taken as raw bytes so the signature covers exactly what
/// Svix signed (lambda_http has already decoded a base64-encoded body). The sender's window
/// counts the answer afterwards unless it is marked a `GenuineDelivery`. On a cold start whose
/// protection rules were still being built, the delivery is checked while the shield inspects the
/// request and applied only once it allowed it (`gate`).
async fn receive(
    State(state): State<AppState>,
    gate: CountGate,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(verifier) = state.webhooks.as_deref() else {
        return ApiError::Unavailable {
            message: format!("Clerk webhooks are not configured: set {SECRET_VARIABLE}"),
        }
        .into_response();
    };
    let id = match verifier.verify(&body, &headers) {
        Ok(id) => id,
        Err(rejection) => return rejection.into_response(),
    };
    let event = match parse_event(&body) {
        Ok(event) => event,
        Err(rejection) => {
            tracing::warn!(delivery = %id, "verified delivery is not a usable Clerk event");
            return rejection.into_response();
        }
    };
    if let Err(refused) = gate.pass().await {
        return ApiError::from(refused).into_response();
    }
    let now = OffsetDateTime::now_utc();
    let applied = tokio::time::timeout(DEADLINE, apply(state.table.as_ref(), &id, &event, now)).await;
    // A replay of a delivery applied before is counted by the sender's window; Clerk's own, seen
    // for the first time, is not (nor when storage failed: Svix will retry it).
    let genuine = !matches!(applied, Ok(Ok(Outcome::Duplicate)));
    let mut response = match applied {
        Ok(Ok(outcome)) => {
            tracing::info!(
                delivery = %id,
                kind = event.kind(),
                user_id = event.user_id().unwrap_or("-"),
                outcome = outcome.as_str(),
                "webhook delivery handled"
            );
            received(outcome)
        }
        Ok(Err(error)) => storage_failure(&id, error),
        Err(_) => {
            tracing::error!(delivery = %id, "webhook delivery ran past its deadline; Svix will retry");
            ApiError::Unavailable {
                message: "Storage is slow right now; the delivery will be retried".into(),
            }
            .into_response()
        }
    };
    if genuine {
        response.extensions_mut().insert(GenuineDelivery);
    }
    response
}

fn received(outcome: Outcome) -> Response {
    let mut response = (StatusCode::OK, "Webhook received").into_response();
    response.headers_mut().insert("x-webhook-outcome", HeaderValue::from_static(outcome.as_str()));
    response
}

/// Storage failed: a 5xx, so Svix retries (a 409 or other 4xx would be just as retried but
/// would blame the sender).
fn storage_failure(id: &str, error: StoreError) -> Response {
    tracing::error!(delivery = %id, %error, "webhook delivery not applied; Svix will retry");
    let error = match error {
        StoreError::Mapping(_) => ApiError::internal(error),
        _ => ApiError::Unavailable {
            message: "Storage is unavailable right now; the delivery will be retried".into(),
        },
    };
    error.into_response()
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        tracing::warn!(reason = %self, "webhook delivery rejected");
        (StatusCode::BAD_REQUEST, self.to_string()).into_response()
    }
}
