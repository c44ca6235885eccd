//! The AWS clients' HTTP: hyper-util's pooled HTTP/1.1 client over hyper-rustls, the stack
//! reqwest is built on and every function already links (for Clerk's JWKS and the models), used
//! directly instead of the SDK's own HTTPS client. That one is a second build of the stack in every
//! binary (with HTTP/2, which no AWS endpoint we call needs), about half a megabyte of each function.
//!
//! Used directly so that a cold start can open connections without sending anything
//! ([`AwsHttpClient::open`]): the connector hands out connections opened ahead of time before it
//! opens new ones, so the table's connections (TCP, and TLS against AWS) are made during Init and
//! no request is spent on it (DynamoDB would otherwise have to answer a call per connection).
//!
//! The SDK asks its client only to send a request and hand back the response; retries, signing,
//! timeouts around the whole attempt and parsing stay the SDK's. What a connection failure is
//! matters to its retries, so errors are classified as its own client classifies them: timeouts
//! and I/O failures (refused, reset, closed) are transient, anything else is not retried.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A connection: plain TCP (DynamoDB Local) or TLS over it.
type Stream = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;

/// How long a connection opened ahead waits for its first request before it is dropped unused.
/// A cold start's first request arrives right after Init; an instance that waits longer (one
/// started ahead of traffic) opens connections as it needs them, as it would have anyway, rather
/// than risk handing a request a connection the server has meanwhile closed.
const OPENED_MAX_AGE: Duration = Duration::from_secs(20);

/// An `HttpClient` for the SDK: one connection pool shared by every operation of every AWS
/// client built from the same configuration.
#[derive(Debug, Clone)]
pub struct AwsHttpClient {
    client: Client<Connections, Full<Bytes>>,
    connections: Connections,
}

impl AwsHttpClient {
    /// A client trusting `roots` for HTTPS (none: plain HTTP only, as to DynamoDB Local).
    pub fn new(roots: rustls::RootCertStore) -> Self {
        Self::with_max_age(roots, OPENED_MAX_AGE)
    }

    fn with_max_age(roots: rustls::RootCertStore, max_age: Duration) -> Self {
        // rustls's builder takes the process's provider, which `http_client` installs.
        crate::http_client::install_tls_provider();
        let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_connect_timeout(Some(super::CONNECT_TIMEOUT));
        // Requests are written in pieces; Nagle would hold the last one back for an ACK.
        tcp.set_nodelay(true);
        let connections =
            Connections { connect: HttpsConnector::from((tcp, tls)), opened: Arc::default(), max_age };
        // Timers as reqwest sets them: without one, idle connections would never time out.
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .build(connections.clone());
        Self { client, connections }
    }

    /// Opens `count` connections to `origin` (its scheme, host and port) at once, without sending
    /// anything, for the next requests there to take before the pool opens any; returns how many
    /// opened. A failure is left for a request to meet again (and the SDK to retry).
    pub async fn open(&self, origin: &Uri, count: usize) -> usize {
        let Some(key) = Origin::of(origin) else {
            return 0;
        };
        let opening = (0..count).map(|_| {
            let mut connect = self.connections.connect.clone();
            async move {
                std::future::poll_fn(|cx| connect.poll_ready(cx)).await?;
                connect.call(origin.clone()).await
            }
        });
        let streams: Vec<Stream> =
            futures::future::join_all(opening).await.into_iter().filter_map(Result::ok).collect();
        let opened = streams.len();
        let now = Instant::now();
        let mut kept = self.connections.opened.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.extend(streams.into_iter().map(|stream| Opened { origin: key.clone(), at: now, stream }));
        opened
    }
}

impl HttpClient for AwsHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(Exchange {
            client: self.client.clone(),
            read_timeout: settings.read_timeout(),
        })
    }
}

/// Where a connection goes: a connection opened for one origin serves only requests to it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn of(uri: &Uri) -> Option<Self> {
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Some(Self { https, host: uri.host()?.to_ascii_lowercase(), port })
    }
}

struct Opened {
    origin: Origin,
    at: Instant,
    stream: Stream,
}

/// hyper-util's connector: a connection opened ahead for the request's origin if one is waiting,
/// else a new one (TCP, then TLS for `https`).
#[derive(Clone)]
struct Connections {
    connect: HttpsConnector<TcpConnector>,
    opened: Arc<Mutex<Vec<Opened>>>,
    max_age: Duration,
}

impl Connections {
    fn take_opened(&self, uri: &Uri) -> Option<Stream> {
        let origin = Origin::of(uri)?;
        let mut opened = self.opened.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        opened.retain(|waiting| waiting.at.elapsed() <= self.max_age);
        let index = opened.iter().position(|waiting| waiting.origin == origin)?;
        Some(opened.swap_remove(index).stream)
    }
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let waiting = self.opened.lock().map_or(0, |opened| opened.len());
        f.debug_struct("Connections").field("waiting", &waiting).finish_non_exhaustive()
    }
}

impl Service<Uri> for Connections {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.connect.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        match self.take_opened(&uri) {
            Some(stream) => Box::pin(std::future::ready(Ok(stream))),
            None => self.connect.call(uri),
        }
    }
}

/// One SDK request sent and its answer read whole.
#[derive(Debug)]
struct Exchange {
    client: Client<Connections, Full<Bytes>>,
    /// The SDK's read timeout, if one is configured (none by default): applied to the whole
    /// exchange.
    read_timeout: Option<Duration>,
}

impl HttpConnector for Exchange {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let request = to_hyper(request)?;
            let exchange = async {
                let (head, body) = client.request(request).await.map_err(classify)?.into_parts();
                let body = body.collect().await.map_err(classify)?.to_bytes();
                Ok::<_, ConnectorError>((head, body))
            };
            let (head, body) = match read_timeout {
                Some(timeout) => tokio::time::timeout(timeout, exchange)
                    .await
                    .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))??,
                None => exchange.await?,
            };
            HttpResponse::try_from(http::Response::from_parts(head, SdkBody::from(body)))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// The SDK's request as hyper's. Every request the SDK makes for us (DynamoDB's and Secrets
/// Manager's JSON) has its body in memory; a streaming one is refused rather than half sent.
fn to_hyper(request: HttpRequest) -> Result<http::Request<Full<Bytes>>, ConnectorError> {
    let request = request.try_into_http1x().map_err(|error| ConnectorError::user(error.into()))?;
    let (parts, body) = request.into_parts();
    let bytes = body.bytes().map(Bytes::copy_from_slice).ok_or_else(|| {
        ConnectorError::user("a streaming request body cannot be sent by this client".into())
    })?;
    Ok(http::Request::from_parts(parts, Full::new(bytes)))
}

/// What kind of failure an error of the exchange is, in the SDK's terms (its retries depend on
/// it), as the SDK's own hyper client decides: a failed connection, a closed or cancelled one and
/// any I/O error are transient; so is an answer cut short; a request hyper refuses is the caller's.
fn classify(error: impl Into<BoxError>) -> ConnectorError {
    let error = error.into();
    let connect = source::<hyper_util::client::legacy::Error>(error.as_ref()).is_some_and(|e| e.is_connect());
    match source::<hyper::Error>(error.as_ref()) {
        _ if connect => ConnectorError::io(error),
        Some(hyper) if hyper.is_timeout() => ConnectorError::timeout(error),
        Some(hyper) if hyper.is_user() => ConnectorError::user(error),
        Some(hyper) if hyper.is_closed() || hyper.is_canceled() => ConnectorError::io(error),
        _ if source::<std::io::Error>(error.as_ref()).is_some() => ConnectorError::io(error),
        Some(hyper) if hyper.is_incomplete_message() => {
            ConnectorError::other(error, Some(ErrorKind::TransientError))
        }
        _ => ConnectorError::other(error, None),
    }
}

/// The first error of type `E` in `error`'s chain of sources.
fn source<'a, E: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        next = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::SocketAddr;

    use axum::extract::ConnectInfo;
    use axum::routing::post;

    use super::*;

    fn exchange(client: &AwsHttpClient) -> Exchange {
        Exchange { client: client.client.clone(), read_timeout: None }
    }

    fn plain() -> AwsHttpClient {
        AwsHttpClient::new(rustls::RootCertStore::empty())
    }

    fn request(uri: &str, body: &'static str) -> HttpRequest {
        let request = http::Request::builder()
            .method("POST")
            .uri(uri)
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .body(SdkBody::from(body))
            .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    /// A server on loopback answering `POST /` with `name`, recording each connection's address.
    async fn server(
        name: &'static str,
    ) -> (String, Arc<Mutex<HashSet<SocketAddr>>>, tokio::task::JoinHandle<()>) {
        let peers = Arc::new(Mutex::new(HashSet::new()));
        let seen = peers.clone();
        let answer = move |ConnectInfo(peer): ConnectInfo<SocketAddr>| {
            seen.lock().unwrap().insert(peer);
            async move { name }
        };
        let app = axum::Router::new().route("/", post(answer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await;
        });
        (origin, peers, server)
    }

    #[tokio::test]
    async fn a_request_and_its_answer_cross_unchanged() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let echo = axum::Router::new().route(
            "/echo",
            post(|headers: http::HeaderMap, body: String| async move {
                let target =
                    headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                (http::StatusCode::ACCEPTED, [("x-amzn-requestid", "r-1")], format!("{target} {body}"))
            }),
        );
        let server = tokio::spawn(async move { axum::serve(listener, echo).await });
        let response = exchange(&plain())
            .call(request(&format!("http://{address}/echo"), r#"{"Key":{}}"#))
            .await
            .unwrap();
        server.abort();
        assert_eq!(response.status().as_u16(), 202);
        assert_eq!(response.headers().get("x-amzn-requestid"), Some("r-1"));
        assert_eq!(response.body().bytes(), Some(&b"DynamoDB_20120810.GetItem {\"Key\":{}}"[..]));
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_io_error_the_sdk_retries() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let error = exchange(&plain()).call(request(&format!("http://{address}/"), "{}")).await.unwrap_err();
        assert!(error.is_io(), "{error:?}");
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_answer_is_an_io_error_the_sdk_retries() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // Accepts, reads a little, and hangs up without answering.
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = [0u8; 64];
            let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buffer).await;
        });
        let error = exchange(&plain()).call(request(&format!("http://{address}/"), "{}")).await.unwrap_err();
        server.abort();
        assert!(error.is_io() || error.as_other() == Some(ErrorKind::TransientError), "{error:?}");
    }

    #[tokio::test]
    async fn an_answer_slower_than_the_read_timeout_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // Accepts and never answers.
        let server = tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let exchange = Exchange { read_timeout: Some(Duration::from_millis(200)), ..exchange(&plain()) };
        let error = exchange.call(request(&format!("http://{address}/"), "{}")).await.unwrap_err();
        server.abort();
        assert!(error.is_timeout(), "{error:?}");
    }

    #[test]
    fn a_streaming_body_is_refused_before_anything_is_sent() {
        let request = http::Request::builder()
            .uri("http://127.0.0.1:9/")
            .body(SdkBody::from_body_1_x(http_body_util::Full::new(bytes::Bytes::from_static(b"x"))))
            .unwrap();
        let error = to_hyper(HttpRequest::try_from(request).unwrap()).unwrap_err();
        assert!(error.is_user(), "{error:?}");
    }

    #[tokio::test]
    async fn connections_opened_ahead_serve_the_next_requests_at_once() {
        let (origin, peers, server) = server("table").await;
        let client = plain();
        let uri: Uri = origin.parse().unwrap();
        assert_eq!(client.open(&uri, 3).await, 3);
        assert_eq!(peers.lock().unwrap().len(), 0, "nothing is sent to open a connection");

        let exchange = exchange(&client);
        let calls = (0..3).map(|_| exchange.call(request(&format!("{origin}/"), "{}")));
        let answers = futures::future::join_all(calls).await;
        let used = peers.lock().unwrap().len();
        server.abort();
        for answer in answers {
            assert_eq!(answer.unwrap().body().bytes(), Some(&b"table"[..]));
        }
        assert_eq!(used, 3, "three requests at once took the three open connections");
        assert_eq!(client.connections.opened.lock().unwrap().len(), 0);
    }

    #[tokio::test]
    async fn a_connection_serves_only_its_own_origin_and_only_while_fresh() {
        let (table, table_peers, table_server) = server("table").await;
        let (other, other_peers, other_server) = server("other").await;
        let client = plain();
        assert_eq!(client.open(&table.parse().unwrap(), 1).await, 1);
        let answer = exchange(&client).call(request(&format!("{other}/"), "{}")).await.unwrap();
        assert_eq!(answer.body().bytes(), Some(&b"other"[..]));
        assert_eq!(client.connections.opened.lock().unwrap().len(), 1, "still waiting for its own origin");

        // One opened too long ago is dropped, and the request opens its own.
        let stale = AwsHttpClient::with_max_age(rustls::RootCertStore::empty(), Duration::ZERO);
        assert_eq!(stale.open(&table.parse().unwrap(), 1).await, 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let answer = exchange(&stale).call(request(&format!("{table}/"), "{}")).await.unwrap();
        assert_eq!(answer.body().bytes(), Some(&b"table"[..]));
        assert_eq!(stale.connections.opened.lock().unwrap().len(), 0);
        let (table_used, other_used) = (table_peers.lock().unwrap().len(), other_peers.lock().unwrap().len());
        table_server.abort();
        other_server.abort();
        assert_eq!((table_used, other_used), (1, 1));
    }

    #[tokio::test]
    async fn a_connection_that_cannot_open_is_not_kept() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let client = plain();
        assert_eq!(client.open(&format!("http://{address}").parse().unwrap(), 2).await, 0);
        assert_eq!(client.connections.opened.lock().unwrap().len(), 0);
    }
}
