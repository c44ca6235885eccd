//! Hume EVI (`docs/wire-formats.md`): the browser's access token by client credentials, cached until
//! shortly before it expires (concurrent callers share one fetch); a chat's events, paged until an
//! empty page as Hume's SDK pager does; and the original's transcript condensing.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;

pub const DEFAULT_BASE_URL: &str = "https://api.hume.ai";
/// The variables that enable the Hume routes; named by the 503 they answer without them.
pub const API_KEY_VARIABLE: &str = "HUME_API_KEY";
pub const SECRET_KEY_VARIABLE: &str = "HUME_SECRET_KEY";

/// Events per page (Hume's maximum), as the original asks.
pub const PAGE_SIZE: usize = 100;
/// A chat longer than this many pages is not a real interview; stop rather than loop.
pub const MAX_PAGES: usize = 500;
/// A cached token is replaced this long before it expires, so the browser never gets one that
/// dies while it connects.
pub const REFRESH_MARGIN_SECONDS: i64 = 120;

#[derive(Clone, PartialEq, Eq)]
pub struct HumeConfig {
    pub api_key: String,
    pub secret_key: String,
    pub base_url: String,
}

impl std::fmt::Debug for HumeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HumeConfig")
            .field("api_key", &"<redacted>")
            .field("secret_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Why a Hume call failed. `Display` is for the log; `public_message` is what a client reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HumeError {
    #[error("Hume refused our credentials ({0})")]
    Unauthorized(u16),
    #[error("Hume has no such chat (404)")]
    NotFound,
    #[error("Hume answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("Hume did not answer in time")]
    Timeout,
    #[error("Hume could not be reached: {0}")]
    Unreachable(String),
    #[error("unreadable answer from Hume: {0}")]
    Malformed(String),
    #[error("the chat has more than {MAX_PAGES} pages of events")]
    TooLong,
}

impl HumeError {
    pub fn public_message(&self) -> String {
        match self {
            Self::Unauthorized(_) => {
                "Hume refused this server's credentials; the voice service is misconfigured".into()
            }
            Self::NotFound => "Hume has no chat with this interview's humeChatId".into(),
            Self::Status { .. } | Self::Unreachable(_) => {
                "Hume's voice service failed to answer; try again shortly".into()
            }
            Self::Timeout => "Hume's voice service took too long to answer; try again".into(),
            Self::Malformed(_) => "Hume's voice service sent an unreadable answer; try again".into(),
            Self::TooLong => "This chat is too long to read".into(),
        }
    }
}

/// An access token for the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AccessToken {
    pub access_token: String,
    /// Seconds from now.
    pub expires_in: i64,
}

#[derive(Debug, Clone)]
struct Cached {
    token: String,
    /// Epoch seconds.
    expires_at: i64,
}

/// The client. Build it once per instance; the token cache lives as long as it does.
pub struct HumeClient {
    http: reqwest::Client,
    config: HumeConfig,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    /// Held across a fetch, so concurrent callers wait for one fetch instead of each making one.
    token: tokio::sync::Mutex<Option<Cached>>,
}

impl std::fmt::Debug for HumeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HumeClient").field("config", &self.config).finish_non_exhaustive()
    }
}

/// One page of `GET /v0/evi/chats/{id}`; only what the app reads.
#[derive(Debug, Deserialize)]
struct EventsPage {
    #[serde(default)]
    events_page: Vec<ChatEvent>,
    /// When the chat started (Unix ms).
    #[serde(default)]
    start_timestamp: Option<i64>,
}

/// A `ReturnChatEvent`. Roles and types are open enums: unknown strings are kept, not refused.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ChatEvent {
    #[serde(default)]
    pub role: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message_text: Option<String>,
    /// Stringified JSON of prosody scores, `""` or absent without audio.
    #[serde(default)]
    pub emotion_features: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

impl HumeClient {
    pub fn new(config: HumeConfig, http: reqwest::Client, clock: Arc<dyn Clock>) -> Self {
        Self { http, config, clock, timeout: Duration::from_secs(10), token: tokio::sync::Mutex::new(None) }
    }

    /// Each Hume request gives up after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn url(&self, path: &str) -> Result<reqwest::Url, HumeError> {
        let base = self.config.base_url.trim_end_matches('/');
        reqwest::Url::parse(&format!("{base}{path}")).map_err(|e| HumeError::Malformed(e.to_string()))
    }

    /// A token for the browser: the cached one while it has more than the margin left, else a
    /// new one (`POST /oauth2-cc/token`, Basic auth with the API and secret keys).
    pub async fn access_token(&self) -> Result<AccessToken, HumeError> {
        let mut cached = self.token.lock().await;
        let now = self.clock.now();
        if let Some(token) = cached.as_ref()
            && token.expires_at - REFRESH_MARGIN_SECONDS > now
        {
            return Ok(AccessToken { access_token: token.token.clone(), expires_in: token.expires_at - now });
        }
        let credentials = STANDARD.encode(format!("{}:{}", self.config.api_key, self.config.secret_key));
        let response = self
            .http
            .post(self.url("/oauth2-cc/token")?)
            .header(reqwest::header::AUTHORIZATION, format!("Basic {credentials}"))
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .timeout(self.timeout)
            .send()
            .await
            .map_err(transport)?;
        let reply: TokenReply = read_json(response).await?;
        if reply.access_token.is_empty() {
            return Err(HumeError::Malformed("empty access_token".into()));
        }
        // Hume documents 30 minutes; trust a positive answer, assume that without one.
        let expires_in = reply.expires_in.filter(|seconds| *seconds > 0).unwrap_or(1800);
        let now = self.clock.now();
        *cached = Some(Cached { token: reply.access_token.clone(), expires_at: now + expires_in });
        Ok(AccessToken { access_token: reply.access_token, expires_in })
    }

    /// Every event of chat `chat_id`, oldest first: pages of 100 from page 0 until an empty page.
    pub async fn chat_events(&self, chat_id: &str) -> Result<Vec<ChatEvent>, HumeError> {
        let mut events = Vec::new();
        for page_number in 0..MAX_PAGES {
            let page = self.events_page(chat_id, page_number, PAGE_SIZE).await?;
            if page.events_page.is_empty() {
                return Ok(events);
            }
            events.extend(page.events_page);
        }
        Err(HumeError::TooLong)
    }

    /// When chat `chat_id` started (Unix ms), or `None` when Hume has no such chat.
    pub async fn chat_started_at(&self, chat_id: &str) -> Result<Option<i64>, HumeError> {
        match self.events_page(chat_id, 0, 1).await {
            Ok(page) => page
                .start_timestamp
                .map(Some)
                .ok_or_else(|| HumeError::Malformed("the chat has no start_timestamp".into())),
            Err(HumeError::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn events_page(
        &self,
        chat_id: &str,
        page_number: usize,
        page_size: usize,
    ) -> Result<EventsPage, HumeError> {
        let mut url = self.url("/v0/evi/chats")?;
        url.path_segments_mut()
            .map_err(|()| HumeError::Malformed("HUME_BASE_URL cannot take a path".into()))?
            .push(chat_id);
        let response = self
            .http
            .get(url)
            .query(&[("page_number", page_number), ("page_size", page_size)])
            .header("X-Hume-Api-Key", &self.config.api_key)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(transport)?;
        read_json(response).await
    }
}

fn transport(error: reqwest::Error) -> HumeError {
    if error.is_timeout() { HumeError::Timeout } else { HumeError::Unreachable(error.to_string()) }
}

async fn read_json<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, HumeError> {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(transport)?;
    match status {
        200..=299 => serde_json::from_slice(&bytes).map_err(|e| HumeError::Malformed(e.to_string())),
        401 | 403 => Err(HumeError::Unauthorized(status)),
        404 => Err(HumeError::NotFound),
        _ => {
            let body: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
            Err(HumeError::Status { status, body })
        }
    }
}

/// One bubble of the transcript the original shows: consecutive messages of one speaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Condensed {
    pub is_user: bool,
    pub content: Vec<String>,
}

/// The original's `condenseChatMessages` on stored chat events: user and agent messages only
/// (`isUser` from the type), absent texts skipped, consecutive same-speaker texts grouped, each
/// message a separate string.
pub fn condense(events: &[ChatEvent]) -> Vec<Condensed> {
    let mut condensed: Vec<Condensed> = Vec::new();
    for event in events {
        let is_user = match event.kind.as_str() {
            "USER_MESSAGE" => true,
            "AGENT_MESSAGE" => false,
            _ => continue,
        };
        let Some(text) = &event.message_text else {
            continue;
        };
        match condensed.last_mut() {
            Some(last) if last.is_user == is_user => last.content.push(text.clone()),
            _ => condensed.push(Condensed { is_user, content: vec![text.clone()] }),
        }
    }
    condensed
}

/// One message of the transcript the feedback prompt carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptMessage {
    /// `interviewee` or `interviewer`.
    pub speaker: &'static str,
    pub text: String,
    /// The interviewee's prosody scores (0..1 by expression), when Hume sent readable ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emotion_features: Option<std::collections::BTreeMap<String, f64>>,
}

/// User and agent messages with text, in order; the interviewee's emotion scores parsed from
/// Hume's JSON string (`""`, absent or malformed: none; non-numeric entries dropped).
pub fn transcript(events: &[ChatEvent]) -> Vec<TranscriptMessage> {
    events
        .iter()
        .filter_map(|event| {
            let interviewee = match event.kind.as_str() {
                "USER_MESSAGE" => true,
                "AGENT_MESSAGE" => false,
                _ => return None,
            };
            let text = event.message_text.clone()?;
            let emotion_features =
                if interviewee { event.emotion_features.as_deref().and_then(parse_emotions) } else { None };
            Some(TranscriptMessage {
                speaker: if interviewee { "interviewee" } else { "interviewer" },
                text,
                emotion_features,
            })
        })
        .collect()
}

fn parse_emotions(raw: &str) -> Option<std::collections::BTreeMap<String, f64>> {
    if raw.trim().is_empty() {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(raw).ok()?;
    let scores: std::collections::BTreeMap<String, f64> = value
        .as_object()?
        .iter()
        .filter_map(|(name, score)| Some((name.clone(), (score.as_f64()? * 1000.0).round() / 1000.0)))
        .collect();
    (!scores.is_empty()).then_some(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, role: &str, text: Option<&str>, emotions: Option<&str>) -> ChatEvent {
        ChatEvent {
            role: role.into(),
            kind: kind.into(),
            message_text: text.map(str::to_owned),
            emotion_features: emotions.map(str::to_owned),
        }
    }

    #[test]
    fn condensing_groups_consecutive_speakers_and_skips_the_rest() {
        let events = [
            event("SYSTEM_PROMPT", "SYSTEM", Some("You are"), None),
            event("AGENT_MESSAGE", "AGENT", Some("Hi"), None),
            event("AGENT_MESSAGE", "AGENT", Some("Ready?"), None),
            event("USER_INTERRUPTION", "USER", Some("x"), None),
            event("USER_MESSAGE", "USER", None, None),
            event("USER_MESSAGE", "USER", Some("Yes"), None),
            event("ASSISTANT_PROSODY", "AGENT", Some("p"), None),
            event("USER_MESSAGE", "USER", Some(""), None),
            event("AGENT_MESSAGE", "AGENT", Some("Go"), None),
        ];
        assert_eq!(
            condense(&events),
            [
                Condensed { is_user: false, content: vec!["Hi".into(), "Ready?".into()] },
                Condensed { is_user: true, content: vec!["Yes".into(), "".into()] },
                Condensed { is_user: false, content: vec!["Go".into()] },
            ]
        );
    }

    #[test]
    fn transcript_parses_interviewee_emotions_only() {
        let events = [
            event("USER_MESSAGE", "USER", Some("Hello"), Some("{\"Joy\": 0.29638, \"Calmness\": \"x\"}")),
            event("AGENT_MESSAGE", "AGENT", Some("Hi"), Some("{\"Joy\": 0.5}")),
            event("USER_MESSAGE", "USER", Some("Um"), Some("")),
            event("USER_MESSAGE", "USER", Some("So"), Some("{not json")),
            event("FUNCTION_CALL", "TOOL", Some("f"), None),
        ];
        let messages = transcript(&events);
        assert_eq!(messages.len(), 4);
        assert_eq!(messages[0].emotion_features.as_ref().unwrap().get("Joy"), Some(&0.296));
        assert_eq!(messages[0].emotion_features.as_ref().unwrap().len(), 1);
        assert_eq!(messages[1].speaker, "interviewer");
        assert!(messages[1].emotion_features.is_none());
        assert!(messages[2].emotion_features.is_none() && messages[3].emotion_features.is_none());
        let json = serde_json::to_string(&messages[2]).unwrap();
        assert_eq!(json, r#"{"speaker":"interviewee","text":"Um"}"#);
    }
}
