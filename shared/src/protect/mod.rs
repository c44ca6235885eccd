//! Protection the original delegated to Arcjet, as one layer every request passes (`layer`), in
//! Arcjet's order: the shield (attack patterns in the path, query and headers: `shield`), bot
//! rules (`bots`), then rate limits (sliding windows per client IP and per user: `window`). Each
//! rule runs `live`, `dry-run` (decide and log, never deny) or `off` (`PROTECT_SHIELD`,
//! `PROTECT_BOTS`, `PROTECT_RATE_LIMIT`). Rule state lives in the table, so every Lambda instance
//! sees the same counts. Spend bounds the AI routes apply themselves live here too: token buckets
//! (`bucket`: interview creation, Hume tokens) and the generations a user may run at once
//! (`lease`). The spending routes that start by reading run while their windows are counted and
//! wait at a gate before they write (`gate`). `GET /api/arcjet` reports a caller's standing
//! (`routes`).

pub mod bots;
mod bucket;
pub mod gate;
pub mod layer;
pub mod lease;
pub(crate) mod routes;
pub mod shield;
pub mod window;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use bucket::{Decision, HUME_TOKEN_BUCKET, INTERVIEW_BUCKET, TokenBucket};
pub use routes::routes;

use crate::clock::Clock;
use bots::BotRules;
use shield::Shield;
use window::{Limiter, SlidingWindow};

/// What a rule does when it would deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Deny.
    Live,
    /// Decide, count and log, but never deny (to try a rule on real traffic).
    DryRun,
    /// Not evaluated at all; the table is not touched.
    Off,
}

impl Mode {
    /// `live`, `dry-run` or `off` (as the variables and reports spell them).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "live" => Some(Self::Live),
            "dry-run" | "dry_run" | "dryrun" => Some(Self::DryRun),
            "off" => Some(Self::Off),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::DryRun => "dry-run",
            Self::Off => "off",
        }
    }
}

/// The mode of each rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modes {
    pub shield: Mode,
    pub bots: Mode,
    pub rate_limit: Mode,
}

impl Modes {
    /// What a deployed function runs when nothing says otherwise.
    pub const LIVE: Modes = Modes { shield: Mode::Live, bots: Mode::Live, rate_limit: Mode::Live };
    /// The local host's defaults: bots only reported, so `curl` works against it.
    pub const LOCAL: Modes = Modes { shield: Mode::Live, bots: Mode::DryRun, rate_limit: Mode::Live };
    pub const OFF: Modes = Modes { shield: Mode::Off, bots: Mode::Off, rate_limit: Mode::Off };
}

impl std::fmt::Display for Modes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shield {}, bots {}, rate limits {}",
            self.shield.as_str(),
            self.bots.as_str(),
            self.rate_limit.as_str()
        )
    }
}

/// The original's sliding window: 100 requests a minute per client IP, on every route.
pub const IP_WINDOW: SlidingWindow =
    SlidingWindow { name: "ip", limit: 100, window: Duration::from_secs(60) };
/// The same per user, on the AI routes and interview creation.
pub const USER_WINDOW: SlidingWindow =
    SlidingWindow { name: "user", limit: 100, window: Duration::from_secs(60) };
/// Clerk's webhook, per sending IP, counting only what is not a genuine new delivery
/// (`layer::GenuineDelivery`): forged or malformed requests and replays.
pub const WEBHOOK_WINDOW: SlidingWindow =
    SlidingWindow { name: "webhook", limit: 1_200, window: Duration::from_secs(60) };
/// Shield hits within two windows after which a client is blocked, and for how long.
pub const SHIELD_BLOCK_AFTER: i64 = 5;
pub const SHIELD_BLOCK: Duration = Duration::from_secs(10 * 60);

/// The rules, built once per process, and their in-process caches.
pub struct Protection {
    pub modes: Modes,
    pub clock: Arc<dyn Clock>,
    limiter: Limiter,
    shield: OnceLock<Shield>,
    bots: OnceLock<BotRules>,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protection").field("modes", &self.modes).finish_non_exhaustive()
    }
}

impl Protection {
    pub fn new(modes: Modes, clock: Arc<dyn Clock>) -> Self {
        Self { modes, clock, limiter: Limiter::new(), shield: OnceLock::new(), bots: OnceLock::new() }
    }

    /// The shield's compiled rules (built on first use: some milliseconds, once per process).
    pub fn shield(&self) -> &Shield {
        self.shield.get_or_init(Shield::new)
    }

    pub fn bots(&self) -> &BotRules {
        self.bots.get_or_init(BotRules::new)
    }

    /// Whether the rules a request meets are built: the shield (when `shield`) and the bot
    /// rules (when `bots`). Until then, inspecting it waits for `prime`'s build.
    pub fn rules_built(&self, shield: bool, bots: bool) -> bool {
        (!shield || self.shield.get().is_some()) && (!bots || self.bots.get().is_some())
    }

    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// Builds the rules now, on a blocking thread, so a cold start does it while the rest of its
    /// start-up runs instead of on the first request; then the shield inspects a browser's
    /// request once, so the first one finds the search states it needs already built (a request
    /// that comes before that builds its own). The bot rules only where a route meets them
    /// (`bots`: not in a function that serves Clerk's webhook alone).
    pub fn prime(self: &Arc<Self>, bots: bool) {
        let protection = Arc::clone(self);
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(tokio::task::spawn_blocking(move || {
                protection.shield();
                if bots {
                    protection.bots();
                }
                protection.shield().warm();
            }));
        }
    }
}
