//! Request ids: the id Lambda gave the invocation (or a client's `x-request-id`, else a new one),
//! visible to error responses and logs while the request is handled, and echoed in
//! `x-request-id`. Its own module so `error` (which quotes it in 5xx bodies) and `http` (which
//! installs the layer) need not know each other.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The longest client-supplied id echoed back.
const MAX_CLIENT_ID: usize = 128;

/// The id of the request being handled, when called inside the `layer` middleware.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The middleware (`axum::middleware::from_fn(request_id::layer)`).
pub async fn layer(request: Request, next: Next) -> Response {
    let id = lambda_request_id(&request)
        .or_else(|| {
            request
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty() && v.len() <= MAX_CLIENT_ID)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let mut response =
        REQUEST_ID.scope(id.clone(), tracing::Instrument::instrument(next.run(request), span)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

fn lambda_request_id(request: &Request) -> Option<String> {
    use lambda_http::request::RequestContext;
    match request.extensions().get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context.request_id.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}
