//! The table port: the few item operations every resource is built on, and nothing that knows a
//! resource. Two adapters implement it (`dynamo` for production, `embedded` for the local host and
//! tests, behind the `local` feature) and one contract suite (`tests/tests/it/store_contract.rs`)
//! holds them to the same semantics.
//!
//! Items are JSON objects (`serde_json::Map`) carrying their own `pk` and `sk` attributes; each
//! resource module owns its keys and maps its structs to items with `to_item`/`from_item`. List
//! routes read `Record`s instead (`query_records`), which a backend may hand out undecoded.

pub mod cascade;
pub mod dynamo;
#[cfg(feature = "local")]
pub mod embedded;
mod record;
pub mod schema;
pub mod transaction;

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use record::{Copied, Indexed, JsonItem, Record, RecordPage};
pub use schema::{EXPIRES_AT, Index, PK, SK};
pub use transaction::{Guard, Transaction, TransactionError};

/// One stored item: attribute name -> value. Always holds `pk` and `sk`.
pub type Item = Map<String, Value>;

/// The shared handle every router and domain function takes.
pub type SharedTable = Arc<dyn Table>;

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }

    /// The key of a stored item, if it has one.
    pub fn of(item: &Item) -> Option<Self> {
        Some(Self::new(item.get(PK)?.as_str()?, item.get(SK)?.as_str()?))
    }
}

/// A guard on a write. Evaluated atomically with the write it guards.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists (and has not expired).
    Exists,
    /// The item does not exist, or exists but has expired (`expiresAt` in the past).
    NotExists,
    /// The attribute exists and equals the value.
    Equals(String, Value),
    /// The attribute is numerically below the bound, an absent one (or a missing or expired
    /// item) counting as 0: a counter with a limit.
    Below(String, i64),
    /// The attribute is absent (or the whole item is).
    AttributeAbsent(String),
    /// The attribute exists and equals one of the values (at most 100); none holds for no value.
    OneOf(String, Vec<Value>),
    /// Every condition holds.
    All(Vec<Condition>),
}

impl Condition {
    pub fn equals(attribute: &str, value: impl Into<Value>) -> Self {
        Self::Equals(attribute.to_owned(), value.into())
    }
}

/// Changes to one item. Updating an absent item creates it (as DynamoDB's UpdateItem does), so
/// guard with `Condition::Exists` when that is not wanted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// Attributes to set to these values.
    pub set: Item,
    /// Attributes to remove.
    pub remove: Vec<String>,
    /// Numeric attributes to add to (an absent attribute counts as 0).
    pub add: Vec<(String, i64)>,
}

impl Update {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(mut self, attribute: &str, value: impl Into<Value>) -> Self {
        self.set.insert(attribute.to_owned(), value.into());
        self
    }

    pub fn remove(mut self, attribute: &str) -> Self {
        self.remove.push(attribute.to_owned());
        self
    }

    pub fn add(mut self, attribute: &str, by: i64) -> Self {
        self.add.push((attribute.to_owned(), by));
        self
    }
}

/// One write inside a transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Update {
        key: Key,
        update: Update,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Writes nothing; fails the transaction unless the condition holds.
    Check {
        key: Key,
        condition: Condition,
    },
}

/// A read of one partition, ordered by the primary sort key or by a local secondary index.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub pk: String,
    /// `None`: the primary sort key. Otherwise items lacking the index attribute are skipped.
    pub index: Option<Index>,
    /// Only items whose (index) sort key starts with this.
    pub prefix: String,
    /// Newest/largest first.
    pub descending: bool,
    /// At most this many items per page (1..=1000).
    pub limit: usize,
    /// Where the previous page stopped (`Page::cursor`).
    pub cursor: Option<Cursor>,
}

impl Query {
    pub fn new(pk: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            index: None,
            prefix: prefix.into(),
            descending: false,
            limit: 100,
            cursor: None,
        }
    }

    pub fn index(mut self, index: Index) -> Self {
        self.index = Some(index);
        self
    }

    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow.
    pub cursor: Option<Cursor>,
}

/// The most JSON bytes of items one list page answers with. A buffered Lambda answer (API
/// Gateway's proxy) is capped at 6 MB, and the envelope carries the body as a JSON string, which
/// escapes its quotes again: 2 MiB of items stays under the cap even if every byte doubled.
pub const PAGE_BYTES: usize = 2 * 1024 * 1024;

impl Page {
    /// This page cut after the items that fit in `budget` bytes of JSON (always at least one,
    /// and a stored item is at most 400 KB), the cursor then resuming after the last item kept.
    pub fn bounded(mut self, index: Option<Index>, budget: usize) -> Self {
        if let Some(keep) = cut_at(&self.items, budget, json_len_bound, json_len) {
            self.items.truncate(keep);
            self.cursor = self.items.last().and_then(|last| Cursor::after_item(last, index));
        }
        self
    }
}

/// How many of `items` a page keeps within `budget` bytes of JSON, when it cannot keep them all:
/// always at least one, so a page can never be empty while more follow. Most pages are far below
/// the budget even at the most each item could take (`bound`): only those that might not be are
/// measured (`exact`).
fn cut_at<T>(
    items: &[T],
    budget: usize,
    bound: impl Fn(&T) -> usize,
    exact: impl Fn(&T) -> usize,
) -> Option<usize> {
    if items.iter().map(|item| bound(item) + 1).sum::<usize>() <= budget {
        return None;
    }
    let mut used = 0;
    let cut = items.iter().position(|item| {
        used += exact(item) + 1;
        used > budget
    });
    cut.map(|at| at.max(1)).filter(|&keep| keep < items.len())
}

/// How many bytes of JSON `item` is, counted as it is written out (no buffer: this runs for every
/// item of every list page).
fn json_len(item: &Item) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a map of JSON values to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, item);
    counter.0
}

/// The most bytes `item` can take as JSON, without writing it: a string's byte may be escaped to
/// six (`\u001f`), a number takes at most 24.
fn json_len_bound(item: &Item) -> usize {
    fn value(of: &Value) -> usize {
        match of {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 24,
            Value::String(text) => text.len() * 6 + 2,
            Value::Array(values) => 2 + values.iter().map(|v| value(v) + 1).sum::<usize>(),
            Value::Object(map) => object(map),
        }
    }
    fn object(map: &Item) -> usize {
        2 + map.iter().map(|(key, v)| key.len() * 6 + 3 + value(v) + 1).sum::<usize>()
    }
    object(item)
}

/// One page of a list route: the query's page, bounded to `PAGE_BYTES` of items.
pub async fn list_page(table: &dyn Table, query: &Query) -> StoreResult<Page> {
    Ok(table.query(query).await?.bounded(query.index, PAGE_BYTES))
}

/// `list_page` with each item as its backend holds it, for a reader that decodes straight into
/// its own type (`Record::decode`).
pub async fn list_records(table: &dyn Table, query: &Query) -> StoreResult<RecordPage> {
    Ok(table.query_records(query).await?.bounded(query.index, PAGE_BYTES))
}

/// The position after the last item of a page: that item's key attributes (`pk`, `sk` and the
/// index attribute when querying an index). Opaque to clients as base64url JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub std::collections::BTreeMap<String, String>);

impl Cursor {
    /// The cursor of `item` for a query over `index`.
    pub fn after_item(item: &Item, index: Option<Index>) -> Option<Self> {
        Self::after(index, |name| item.get(name)?.as_str().map(str::to_owned))
    }

    /// The cursor of the item whose string attributes `attribute` reads, for a query over `index`:
    /// its keys and the index's sort attribute.
    pub fn after(index: Option<Index>, attribute: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let mut attributes = std::collections::BTreeMap::new();
        let names = [Some(PK), Some(SK), index.map(Index::attribute)];
        for name in names.into_iter().flatten() {
            attributes.insert(name.to_owned(), attribute(name)?);
        }
        Some(Self(attributes))
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&self.0).unwrap_or_default())
    }

    /// Decodes a client-supplied cursor; `None` when it is not one we issued for this partition,
    /// so a cursor can never move a query into another user's data.
    pub fn decode(text: &str, pk: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let attributes: std::collections::BTreeMap<String, String> = serde_json::from_slice(&bytes).ok()?;
        let known = |name: &str| name == PK || name == SK || Index::ALL.iter().any(|i| i.attribute() == name);
        if attributes.get(PK).map(String::as_str) != Some(pk)
            || !attributes.contains_key(SK)
            || !attributes.keys().all(|k| known(k))
        {
            return None;
        }
        Some(Self(attributes))
    }

    /// Whether this cursor is a position `query` can resume from: exactly the keys a page of it
    /// ends on (`pk`, `sk`, and the index attribute when it reads an index), in its partition,
    /// with a sort key inside its prefix. A cursor of another list of the same partition (the
    /// job infos' given to a job's questions) fails this, so it is a 400, never a backend error.
    pub fn fits(&self, query: &Query) -> bool {
        let sort = query.index.map_or(SK, Index::attribute);
        let keys = if query.index.is_some() { 3 } else { 2 };
        self.0.len() == keys
            && self.0.get(PK) == Some(&query.pk)
            && self.0.contains_key(SK)
            && self.0.get(sort).is_some_and(|value| value.starts_with(&query.prefix))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A query's cursor is not a position in that query (`Cursor::fits`): the client's mistake.
    #[error("the cursor was not issued for this query")]
    InvalidCursor,
    /// A write's condition did not hold; for a transaction, `write` is the index of the first
    /// write whose condition failed (adapters always say which; `Transaction` names it).
    #[error("condition failed (write {write:?})")]
    ConditionFailed { write: Option<usize> },
    /// Concurrent transactions kept colliding after bounded retries.
    #[error("transaction conflict persisted after retries")]
    Conflict,
    /// The backend could not be reached or refused the request.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored item could not be mapped to or from its type.
    #[error("item mapping failed: {0}")]
    Mapping(String),
}

impl StoreError {
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, Self::ConditionFailed { .. })
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The port. Reads are strongly consistent; items whose `expiresAt` (epoch seconds) has passed are
/// never returned, whether or not the backend has removed them yet.
#[async_trait]
pub trait Table: Send + Sync + 'static {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>>;
    /// Reads several items at once, answering in the order of `keys` (a key named twice is read
    /// once and answered twice). The default reads them one by one, concurrently; DynamoDB reads
    /// them in one call (`BatchGetItem`), so a route that needs two items costs one round trip.
    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        futures::future::try_join_all(keys.iter().map(|key| self.get(key))).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()>;
    /// Applies the update and returns the item as it is afterwards.
    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> StoreResult<Item>;
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<()>;
    async fn query(&self, query: &Query) -> StoreResult<Page>;
    /// `query`'s page with each item as the backend holds it, so that a reader decodes it once,
    /// straight into its own type (a list route's answer). The default hands out the decoded items;
    /// the embedded store, which keeps items as JSON text, hands out the text.
    async fn query_records(&self, query: &Query) -> StoreResult<RecordPage> {
        let page = self.query(query).await?;
        Ok(RecordPage { records: page.items.into_iter().map(Record::Item).collect(), cursor: page.cursor })
    }
    /// All writes or none (at most 100, each on a different item).
    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()>;
    /// Where short-lived counters live (the rate-limit windows, written on every request): items
    /// every user of the table must see at once, that expire within minutes and that a restart
    /// may lose. DynamoDB keeps them in the table itself, where every Lambda instance sees them;
    /// the embedded store, which one process alone can open, keeps them in that process's memory.
    fn counters(&self) -> &dyn Table;
}

/// A struct as an item under `key` (its fields become attributes beside `pk` and `sk`).
pub fn to_item<T: Serialize>(key: &Key, value: &T) -> StoreResult<Item> {
    let Value::Object(mut item) =
        serde_json::to_value(value).map_err(|e| StoreError::Mapping(e.to_string()))?
    else {
        return Err(StoreError::Mapping("an item must serialize to an object".into()));
    };
    item.insert(PK.into(), Value::String(key.pk.clone()));
    item.insert(SK.into(), Value::String(key.sk.clone()));
    Ok(item)
}

/// An item as a struct; key and index attributes are ignored unless the struct names them.
pub fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    serde_json::from_value(Value::Object(item)).map_err(|e| StoreError::Mapping(e.to_string()))
}

/// Whether an item's TTL has passed at `now` (epoch seconds).
pub fn is_expired(item: &Item, now: i64) -> bool {
    expired_by(item.get(EXPIRES_AT).and_then(Value::as_i64), now)
}

/// Whether an item whose `expiresAt` reads `at` (seconds; none: never) has expired at `now`.
pub fn expired_by(at: Option<i64>, now: i64) -> bool {
    at.is_some_and(|at| at <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sk: &str, bytes: usize) -> Item {
        let mut item = Item::new();
        item.insert(PK.into(), "USER#u".into());
        item.insert(SK.into(), sk.into());
        item.insert("text".into(), "x".repeat(bytes).into());
        item
    }

    #[test]
    fn pages_stop_at_the_byte_budget_and_resume_after_the_last_item_kept() {
        let items: Vec<Item> = (0..5).map(|n| item(&format!("JOB#{n}"), 1000)).collect();
        let page = Page { items: items.clone(), cursor: None }.bounded(None, 2500);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.cursor, Cursor::after_item(&items[1], None));
        // Within the budget: unchanged, the store's cursor kept.
        let whole = Page { items: items.clone(), cursor: None }.bounded(None, 10_000);
        assert_eq!((whole.items.len(), whole.cursor), (5, None));
        // One item larger than the budget still makes a page.
        let one = Page { items, cursor: None }.bounded(None, 10);
        assert_eq!(one.items.len(), 1);
        assert!(one.cursor.is_some());
    }

    #[test]
    fn the_bound_is_never_below_the_json() {
        let mut item = item("JOB#1", 10);
        item.insert("quote".into(), "\"\u{1}\\\n".into());
        item.insert("nested".into(), serde_json::json!({"n": [1, -2.5e300, null, true, "\u{1f}"]}));
        item.insert("big".into(), serde_json::json!(u64::MAX));
        assert!(json_len(&item) <= json_len_bound(&item), "{} > {}", json_len(&item), json_len_bound(&item));
        // A page under the budget by the bound keeps everything and its cursor.
        let page = Page { items: vec![item.clone(), item.clone()], cursor: None };
        let bound = 2 * (json_len_bound(&item) + 1);
        assert_eq!(page.clone().bounded(None, bound).items.len(), 2);
        // Under the bound, the exact count still decides: both fit exactly.
        let exact = 2 * (json_len(&item) + 1);
        assert_eq!(page.clone().bounded(None, exact).items.len(), 2);
        assert_eq!(page.bounded(None, exact - 1).items.len(), 1);
    }

    #[test]
    fn a_cursor_fits_only_its_own_query() {
        let query = Query::new("USER#u", "JOB#j#QUESTION#").index(Index::ByParent);
        let mut keys = std::collections::BTreeMap::new();
        keys.insert(PK.to_owned(), "USER#u".to_owned());
        keys.insert(SK.to_owned(), "QUESTION#q".to_owned());
        keys.insert(Index::ByParent.attribute().to_owned(), "JOB#j#QUESTION#q".to_owned());
        assert!(Cursor(keys.clone()).fits(&query));
        assert!(!Cursor(keys.clone()).fits(&Query::new("USER#u", "JOB#j#INTERVIEW#").index(Index::ByParent)));
        assert!(!Cursor(keys.clone()).fits(&Query::new("USER#v", "JOB#j#QUESTION#").index(Index::ByParent)));
        assert!(!Cursor(keys.clone()).fits(&Query::new("USER#u", "")), "an index cursor on the table");
        keys.remove(Index::ByParent.attribute());
        assert!(!Cursor(keys).fits(&query));
    }
}
