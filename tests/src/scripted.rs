//! What the loopback model-provider fakes (`gemini`, `openai`) share: scripted HTTP replies
//! written piece by piece (pauses, gates the test opens, a cut connection, extra headers), the
//! queue they are served from and the record of what was received. A reply is typed by the
//! protocol it speaks (`Reply<W>`), so each fake's constructors (`Reply::stream` and so on)
//! build its own wire format.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use darasa::ai::policy::Policy;
use serde_json::Value;
use tokio::sync::Notify;

/// A point a scripted reply waits at until the test opens it.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Notify, AtomicBool)>);

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn open(&self) {
        self.0.1.store(true, Ordering::SeqCst);
        self.0.0.notify_waiters();
    }

    pub fn is_open(&self) -> bool {
        self.0.1.load(Ordering::SeqCst)
    }

    pub async fn wait(&self) {
        loop {
            let notified = self.0.0.notified();
            if self.is_open() {
                return;
            }
            notified.await;
        }
    }
}

/// One step of writing a reply body.
#[derive(Clone)]
pub enum Piece {
    /// Written (and flushed) on its own.
    Bytes(Vec<u8>),
    Sleep(Duration),
    Wait(Gate),
    /// Breaks the connection mid-body.
    Cut,
}

/// A scripted reply in wire format `W` (a marker type of the fake that serves it).
pub struct Reply<W> {
    pub status: u16,
    pub content_type: &'static str,
    pub extra_headers: Vec<(&'static str, String)>,
    /// Before the status line goes out.
    pub header_delay: Option<Duration>,
    pub pieces: Vec<Piece>,
    pub wire: PhantomData<W>,
}

impl<W> Clone for Reply<W> {
    fn clone(&self) -> Self {
        Self {
            status: self.status,
            content_type: self.content_type,
            extra_headers: self.extra_headers.clone(),
            header_delay: self.header_delay,
            pieces: self.pieces.clone(),
            wire: PhantomData,
        }
    }
}

impl<W> Reply<W> {
    /// An SSE stream, one write per event, events separated by `\n\n`.
    pub fn sse(events: &[Value]) -> Self {
        Self::sse_with(events, "\n\n")
    }

    /// An SSE stream with the given event separator (`\n\n` or `\r\n\r\n`).
    pub fn sse_with(events: &[Value], separator: &str) -> Self {
        let pieces = events
            .iter()
            .map(|event| Piece::Bytes(format!("data: {event}{separator}").into_bytes()))
            .collect();
        Self::with_pieces(200, "text/event-stream", pieces)
    }

    pub fn json(status: u16, body: Value) -> Self {
        Self::with_pieces(
            status,
            "application/json; charset=UTF-8",
            vec![Piece::Bytes(body.to_string().into_bytes())],
        )
    }

    pub fn with_pieces(status: u16, content_type: &'static str, pieces: Vec<Piece>) -> Self {
        Self {
            status,
            content_type,
            extra_headers: Vec::new(),
            header_delay: None,
            pieces,
            wire: PhantomData,
        }
    }

    /// Appends a piece.
    pub fn then(mut self, piece: Piece) -> Self {
        self.pieces.push(piece);
        self
    }

    /// Inserts a piece before piece `index`.
    pub fn insert(mut self, index: usize, piece: Piece) -> Self {
        self.pieces.insert(index, piece);
        self
    }

    /// Re-splits the body into pieces of `size` bytes with `pause` between them, so events and
    /// line ends arrive split across reads.
    pub fn split_every(mut self, size: usize, pause: Duration) -> Self {
        let bytes: Vec<u8> = self
            .pieces
            .iter()
            .flat_map(|piece| match piece {
                Piece::Bytes(bytes) => bytes.clone(),
                _ => Vec::new(),
            })
            .collect();
        self.pieces = bytes
            .chunks(size)
            .flat_map(|chunk| [Piece::Bytes(chunk.to_vec()), Piece::Sleep(pause)])
            .collect();
        self
    }

    pub fn delay_headers(mut self, delay: Duration) -> Self {
        self.header_delay = Some(delay);
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra_headers.push((name, value.into()));
        self
    }
}

/// The replies a fake serves in order (then `always`'s, if set) and what it received (`R`).
pub struct Script<W, R> {
    replies: Mutex<VecDeque<Reply<W>>>,
    fallback: Mutex<Option<Reply<W>>>,
    requests: Mutex<Vec<R>>,
}

impl<W, R> Default for Script<W, R> {
    fn default() -> Self {
        Self { replies: Mutex::default(), fallback: Mutex::default(), requests: Mutex::default() }
    }
}

impl<W, R: Clone> Script<W, R> {
    /// Queues `reply` for the next request not yet answered.
    pub fn push(&self, reply: Reply<W>) {
        self.replies.lock().unwrap().push_back(reply);
    }

    /// The reply for every request once the queue is empty.
    pub fn always(&self, reply: Reply<W>) {
        *self.fallback.lock().unwrap() = Some(reply);
    }

    /// The next reply to serve, if any is left.
    pub fn next(&self) -> Option<Reply<W>> {
        self.replies.lock().unwrap().pop_front().or_else(|| self.fallback.lock().unwrap().clone())
    }

    pub fn record(&self, request: R) {
        self.requests.lock().unwrap().push(request);
    }

    pub fn requests(&self) -> Vec<R> {
        self.requests.lock().unwrap().clone()
    }
}

/// Writes `reply`: its status and headers (after its delay), then its pieces one by one.
pub async fn respond<W>(reply: Reply<W>) -> Response {
    if let Some(delay) = reply.header_delay {
        tokio::time::sleep(delay).await;
    }
    let pieces = reply.pieces;
    let body = async_stream::stream! {
        for piece in pieces {
            match piece {
                Piece::Bytes(bytes) => yield Ok(Bytes::from(bytes)),
                Piece::Sleep(pause) => tokio::time::sleep(pause).await,
                Piece::Wait(gate) => gate.wait().await,
                Piece::Cut => {
                    // Let what was written reach the client first: hyper drops unflushed data
                    // when a body fails.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    yield Err(std::io::Error::other("fake: connection cut"));
                    return;
                }
            }
        }
    };
    let mut response =
        (StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK), Body::from_stream(body))
            .into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
    for (name, value) in reply.extra_headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Test timings: generous timeouts, short backoff, so retries do not slow the suite.
pub fn test_policy() -> Policy {
    Policy {
        connect_timeout: Duration::from_secs(2),
        first_byte_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(20),
        max_attempts: 3,
        backoff: Duration::from_millis(20),
        max_retry_delay: Duration::from_secs(3),
        max_steps: 10,
    }
}
