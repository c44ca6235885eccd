//! The AWS clients' HTTP: requests go out through reqwest, the client every function already
//! links for Clerk's JWKS and the models, instead of the SDK's own HTTPS client. That one is a
//! second HTTP stack in every binary (hyper-rustls and HTTP/2, which no AWS endpoint we call
//! needs), about half a megabyte of each function.
//!
//! The SDK asks its client only to send a request and hand back the response; retries, signing,
//! timeouts around the whole attempt and parsing stay the SDK's. What a connection failure is
//! matters to its retries, so errors are classified as its own client classifies them: timeouts
//! and I/O failures (refused, reset) are transient, anything else is not retried.

use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;

/// The SDK's connect timeout (its default since behaviour version 2023-11-09): a connection not
/// made by then is retried on another.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// An `HttpClient` for the SDK over one reqwest client (its connection pool shared by every
/// operation of every AWS client built from the same configuration).
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
}

impl ReqwestHttpClient {
    /// A client trusting `roots` for HTTPS (none: plain HTTP only, as to DynamoDB Local).
    pub fn new(roots: rustls::RootCertStore) -> Self {
        // `http_client::builder` installs the process's TLS provider, which rustls's builder takes.
        let builder = crate::http_client::builder().connect_timeout(CONNECT_TIMEOUT);
        let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        Self { client: builder.use_preconfigured_tls(tls).build().unwrap_or_default() }
    }
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            client: self.client.clone(),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug)]
struct Connector {
    client: reqwest::Client,
    /// The SDK's read timeout, if one is configured (none by default): applied to the whole
    /// exchange, the closest reqwest has.
    read_timeout: Option<Duration>,
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let mut request = to_reqwest(request)?;
            if let Some(timeout) = read_timeout {
                *request.timeout_mut() = Some(timeout);
            }
            let response = http::Response::from(client.execute(request).await.map_err(classify)?);
            let (head, body) = response.into_parts();
            let body = body.collect().await.map_err(classify)?.to_bytes();
            HttpResponse::try_from(http::Response::from_parts(head, SdkBody::from(body)))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// The SDK's request as reqwest's. Every request the SDK makes for us (DynamoDB's and Secrets
/// Manager's JSON) has its body in memory; a streaming one is refused rather than half sent.
fn to_reqwest(request: HttpRequest) -> Result<reqwest::Request, ConnectorError> {
    let request = request.try_into_http1x().map_err(|error| ConnectorError::user(error.into()))?;
    let (parts, body) = request.into_parts();
    let bytes = body.bytes().map(bytes::Bytes::copy_from_slice).ok_or_else(|| {
        ConnectorError::user("a streaming request body cannot be sent by this client".into())
    })?;
    reqwest::Request::try_from(http::Request::from_parts(parts, bytes))
        .map_err(|error| ConnectorError::user(error.into()))
}

/// What kind of failure a reqwest error is, in the SDK's terms (its retries depend on it).
fn classify(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::post;

    use super::*;

    fn connector() -> Connector {
        Connector {
            client: ReqwestHttpClient::new(rustls::RootCertStore::empty()).client,
            read_timeout: None,
        }
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
        let response =
            connector().call(request(&format!("http://{address}/echo"), r#"{"Key":{}}"#)).await.unwrap();
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
        let error = connector().call(request(&format!("http://{address}/"), "{}")).await.unwrap_err();
        assert!(error.is_io(), "{error:?}");
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
        let connector = Connector { read_timeout: Some(Duration::from_millis(200)), ..connector() };
        let error = connector.call(request(&format!("http://{address}/"), "{}")).await.unwrap_err();
        server.abort();
        assert!(error.is_timeout(), "{error:?}");
    }

    #[test]
    fn a_streaming_body_is_refused_before_anything_is_sent() {
        let request = http::Request::builder()
            .uri("http://127.0.0.1:9/")
            .body(SdkBody::from_body_1_x(http_body_util::Full::new(bytes::Bytes::from_static(b"x"))))
            .unwrap();
        let error = to_reqwest(HttpRequest::try_from(request).unwrap()).unwrap_err();
        assert!(error.is_user(), "{error:?}");
    }
}
