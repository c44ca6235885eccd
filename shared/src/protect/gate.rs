//! The gate between a route's reads and its writes. The spending routes that start by reading
//! (`layer::READS_THEN_GATE`) run while their windows are counted, and wait at the gate before
//! anything that writes or spends (a generation slot, a quota unit, a model call). The layer
//! opens it once the count is in (and, on a cold start whose rules were still being built, the
//! shield's and the bot rules' inspection): allowed, the route goes on; refused, the route stops
//! where it waits and the layer answers the refusal. Either way nothing was written before the
//! count said yes, so a refused request still changes nothing, and an allowed one saves the round
//! trip its reads would have waited for.

use std::convert::Infallible;
use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tokio::sync::watch;

use crate::domain::DomainError;

/// Why a route stopped at its gate: the protection refused the request. The layer answers the
/// refusal itself, so this error is never sent; each route's error type takes it (`?`) as it takes
/// any domain error.
const REFUSED: DomainError = DomainError::RateLimited { retry_after_seconds: 1 };

/// A route's side of the gate (an extractor: a request no window counts passes at once).
#[derive(Debug, Clone, Default)]
pub struct CountGate(Option<watch::Receiver<Option<bool>>>);

/// The layer's side: opened once with the count's outcome.
#[derive(Debug)]
pub struct GateOpener(watch::Sender<Option<bool>>);

impl CountGate {
    /// A closed gate and what opens it.
    pub fn new() -> (Self, GateOpener) {
        let (sender, receiver) = watch::channel(None);
        (Self(Some(receiver)), GateOpener(sender))
    }

    /// Waits for the count: the request may go on to write, or the refusal.
    pub async fn pass(&self) -> Result<(), DomainError> {
        if self.passed().await { Ok(()) } else { Err(REFUSED) }
    }

    /// Waits for the count: whether the request may go on to write. A request whose count was
    /// dropped unfinished may not.
    async fn passed(&self) -> bool {
        let Some(receiver) = &self.0 else {
            return true;
        };
        let mut receiver = receiver.clone();
        receiver.wait_for(Option::is_some).await.is_ok_and(|outcome| *outcome == Some(true))
    }

    /// Runs `reads` while the count is out, and answers them once it allowed the request;
    /// refused, the refusal: whatever the reads found is dropped.
    pub async fn read_beside<T>(&self, reads: impl Future<Output = T>) -> Result<T, DomainError> {
        let (passed, read) = tokio::join!(self.passed(), reads);
        if passed { Ok(read) } else { Err(REFUSED) }
    }
}

impl GateOpener {
    pub fn open(self, allowed: bool) {
        // No receiver left means the route has already answered: nothing waits.
        let _ = self.0.send(Some(allowed));
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CountGate {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<CountGate>().cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_gate_passes_what_the_count_allowed_and_nothing_else() {
        assert!(CountGate::default().passed().await, "no count: nothing to wait for");
        for allowed in [true, false] {
            let (gate, opener) = CountGate::new();
            let waiting = tokio::spawn({
                let gate = gate.clone();
                async move { gate.passed().await }
            });
            opener.open(allowed);
            assert_eq!(waiting.await.expect("the waiter"), allowed);
            assert_eq!(gate.passed().await, allowed, "a later wait sees the same outcome");
        }
        let (gate, opener) = CountGate::new();
        drop(opener);
        assert!(!gate.passed().await, "a count dropped unfinished lets nothing write");
        assert!(gate.pass().await.is_err(), "refused, the route stops");
        assert!(gate.read_beside(async { 7 }).await.is_err(), "refused, what was read is dropped");
        let (gate, opener) = CountGate::new();
        let reading = tokio::spawn({
            let gate = gate.clone();
            async move { gate.read_beside(async { 7 }).await }
        });
        opener.open(true);
        assert_eq!(reading.await.expect("the reader").ok(), Some(7));
    }
}
