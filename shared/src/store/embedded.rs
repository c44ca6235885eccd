//! Embedded adapter: the port on one redb file, so the local host runs with no server at all.
//!
//! Items are stored as JSON under a `(pk, sk)` tuple key, so a partition is one contiguous key
//! range. Every write (and a whole transaction) is one redb write transaction; redb admits one
//! writer at a time, which makes condition-then-write atomic, like DynamoDB's conditional writes.
//! Index queries scan the partition and sort in memory: partitions are one user's data, small.
//! Expired items (`expiresAt` passed) are invisible and count as absent; reads that meet them
//! purge them afterwards.
//!
//! Writes of items that expire by design (leases, delivery records, token buckets: every written
//! item carries `expiresAt`) are committed without waiting for the disk; the next durable commit
//! persists them. Everything else is synced before the write returns. A crash can thus forget a
//! few seconds of such state, never a user's data. The rate-limit windows, counted on every
//! request, are not in the file at all: `Counters` keeps them in memory (`Table::counters`).
//!
//! A list keeps what it parsed of each stored item (`ParsedItems`) and reuses it while the stored
//! bytes are unchanged, so a warm list does not parse the partition again.
//!
//! Reads run on the calling thread (a redb read transaction never waits for a writer, and one
//! item or one user's partition decodes in less time than a hand-over to the blocking pool
//! costs); writes run on the blocking pool, as a durable commit waits for the disk.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

use async_trait::async_trait;
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;

use crate::clock::unix_seconds;

use super::record::{Indexed, JsonItem};
use super::{
    Condition, Cursor, EXPIRES_AT, Index, Item, Key, PK, Page, Query, Record, RecordPage, SK, StoreError,
    StoreResult, Table, Update, Write, expired_by, is_expired,
};

/// The one redb table: `(pk, sk)` -> the item as JSON.
const ITEMS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("items");

type ItemsTable<'txn> = redb::Table<'txn, (&'static str, &'static str), &'static [u8]>;

/// Transactions hold at most this many writes, as in DynamoDB.
const MAX_TRANSACTION_WRITES: usize = 100;

/// What a partition read makes of one stored item.
enum Read<T> {
    Live(T),
    /// Expired, to purge.
    Expired,
    /// Not one the query wants.
    Skip,
}

/// The local host's table: a redb database file.
#[derive(Clone)]
pub struct EmbeddedTable {
    db: Arc<Database>,
    counters: Arc<Counters>,
    parsed: Arc<ParsedItems>,
}

impl std::fmt::Debug for EmbeddedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedTable").finish_non_exhaustive()
    }
}

impl EmbeddedTable {
    /// Opens (or creates, with its parent directories) the database file at `path`.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", parent.display())))?;
        }
        let db = Database::create(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        // Create the table up front so read transactions always find it.
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(ITEMS).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        Ok(Self { db: Arc::new(db), counters: Arc::default(), parsed: Arc::default() })
    }

    /// Runs blocking redb work off the async runtime.
    async fn blocking<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| StoreError::Unavailable(format!("embedded store task failed: {e}")))?
    }

    /// What `read` makes of each stored item of partition `pk` (given its sort key and bytes), in
    /// key order; the expired ones are purged afterwards.
    async fn read_partition<T>(
        &self,
        pk: &str,
        read: impl FnMut(&str, &[u8]) -> StoreResult<Read<T>>,
    ) -> StoreResult<Vec<T>> {
        let (live, expired) = scan_partition(&self.db, pk, read)?;
        self.purge(expired).await?;
        Ok(live)
    }

    /// Removes what a read found expired (nothing to do for none).
    async fn purge(&self, expired: Vec<Key>) -> StoreResult<()> {
        if expired.is_empty() {
            return Ok(());
        }
        self.blocking(move |db| {
            purge(db, &expired);
            Ok(())
        })
        .await
    }
}

/// `read` applied to each stored item of partition `pk`, in key order: the live results, and the
/// keys of the expired items (as stored: the key is the item's address, whatever its text says).
fn scan_partition<T>(
    db: &Database,
    pk: &str,
    mut read: impl FnMut(&str, &[u8]) -> StoreResult<Read<T>>,
) -> StoreResult<(Vec<T>, Vec<Key>)> {
    let mut live = Vec::new();
    let mut expired = Vec::new();
    let txn = db.begin_read().map_err(unavailable)?;
    let table = txn.open_table(ITEMS).map_err(unavailable)?;
    // Every (pk, sk) sorts before (pk + "\0", ""), and no other partition key does.
    let end = format!("{pk}\0");
    let range = table.range((pk, "")..(end.as_str(), "")).map_err(unavailable)?;
    for entry in range {
        let (key, bytes) = entry.map_err(unavailable)?;
        match read(key.value().1, bytes.value())? {
            Read::Live(row) => live.push(row),
            Read::Expired => expired.push(Key::new(pk, key.value().1)),
            Read::Skip => {}
        }
    }
    Ok((live, expired))
}

/// Where the attributes of stored items sit (`record::Indexed`), kept from reading them: a list
/// reads every item of a user's partition, and parsing each again on every list was most of a warm
/// list's time in the store. An entry serves only while the stored bytes are still its text
/// (compared on every read), so writes need not touch it and a stale one is simply replaced.
/// Bounded: emptied when what it holds would pass `PARSED_LIMIT_BYTES`.
struct ParsedItems {
    kept: RwLock<Kept>,
    limit_bytes: usize,
}

#[derive(Default)]
struct Kept {
    /// Partition key -> sort key -> the item as last read.
    partitions: HashMap<String, HashMap<String, JsonItem>>,
    /// The kept items' footprints, summed.
    bytes: usize,
}

/// What `ParsedItems` holds at most before it starts again (texts and their indexes).
const PARSED_LIMIT_BYTES: usize = 16 << 20;

impl Default for ParsedItems {
    fn default() -> Self {
        Self::with_limit(PARSED_LIMIT_BYTES)
    }
}

impl ParsedItems {
    fn with_limit(limit_bytes: usize) -> Self {
        Self { kept: RwLock::default(), limit_bytes }
    }

    /// What is kept, to look items up.
    fn read(&self) -> RwLockReadGuard<'_, Kept> {
        self.kept.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps what a read of partition `pk` had to parse.
    fn keep(&self, pk: &str, parsed: Vec<(String, JsonItem)>) {
        if parsed.is_empty() {
            return;
        }
        let incoming: usize = parsed.iter().map(|(_, item)| item.footprint()).sum();
        let mut kept = self.kept.write().unwrap_or_else(PoisonError::into_inner);
        if kept.bytes + incoming > self.limit_bytes {
            *kept = Kept::default();
        }
        let Kept { partitions, bytes } = &mut *kept;
        let partition = partitions.entry(pk.to_owned()).or_default();
        for (sk, item) in parsed {
            *bytes += item.footprint();
            if let Some(replaced) = partition.insert(sk, item) {
                *bytes -= replaced.footprint();
            }
        }
    }
}

#[async_trait]
impl Table for EmbeddedTable {
    /// Runs on the calling thread: a read transaction never waits for a writer, and reading one
    /// item takes microseconds, less than the hand-over to the blocking pool.
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        match read_one(&self.db, key)? {
            Some(item) if is_expired(&item, unix_seconds()) => {
                let key = key.clone();
                self.blocking(move |db| {
                    purge(db, &[key]);
                    Ok(())
                })
                .await?;
                Ok(None)
            }
            other => Ok(other),
        }
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.blocking(move |db| {
            let write = Write::Put { item, condition };
            in_write(db, durability(&[&write]), |table| apply(table, &write, unix_seconds())).map(drop)
        })
        .await
    }

    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> StoreResult<Item> {
        let write = Write::Update { key: key.clone(), update, condition };
        self.blocking(move |db| {
            in_write(db, durability(&[&write]), |table| apply(table, &write, unix_seconds()))?
                .ok_or_else(|| StoreError::Unavailable("an update produced no item".into()))
        })
        .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<()> {
        let write = Write::Delete { key: key.clone(), condition };
        self.blocking(move |db| {
            in_write(db, durability(&[&write]), |table| apply(table, &write, unix_seconds())).map(drop)
        })
        .await
    }

    /// Runs on the calling thread, like `get`: a read transaction never waits, and one user's
    /// partition decodes in well under a millisecond, less than the hand-over would add.
    async fn query(&self, query: &Query) -> StoreResult<Page> {
        let now = unix_seconds();
        let live = self
            .read_partition(&query.pk, |_, bytes| {
                let item = decode(bytes)?;
                Ok(if is_expired(&item, now) { Read::Expired } else { Read::Live(item) })
            })
            .await?;
        page(query, live)
    }

    /// As `query`, each item handed out as its stored text with where its attributes sit
    /// (`record::Indexed`, one pass, kept for the next read in `ParsedItems`): its keys, sort
    /// attribute and expiry are looked up there, and the reader decodes or copies what it needs
    /// without reading the text again.
    async fn query_records(&self, query: &Query) -> StoreResult<RecordPage> {
        let now = unix_seconds();
        let attribute = query.index.map_or(SK, Index::attribute);
        let mut parsed = Vec::new();
        let (rows, expired) = {
            let kept = self.parsed.read();
            let known = kept.partitions.get(&query.pk);
            scan_partition(&self.db, &query.pk, |sk, bytes| {
                let kept = known.and_then(|partition| partition.get(sk));
                let (item, fresh) = match kept.filter(|item| item.text().as_bytes() == bytes) {
                    Some(item) => (item.clone(), false),
                    None => {
                        let mapping =
                            |e: &dyn std::fmt::Display| StoreError::Mapping(format!("stored item: {e}"));
                        let text = std::str::from_utf8(bytes).map_err(|e| mapping(&e))?;
                        (Indexed::read(text).map_err(|e| mapping(&e))?.into_owned(), true)
                    }
                };
                if expired_by(item.i64(EXPIRES_AT), now) {
                    // Purged below: nothing to keep.
                    return Ok(Read::Expired);
                }
                if fresh {
                    parsed.push((sk.to_owned(), item.clone()));
                }
                let (sort, sk) = match (item.str(attribute), item.str(SK)) {
                    (Some(sort), Some(sk)) if sort.starts_with(&query.prefix) => {
                        (sort.into_owned(), sk.into_owned())
                    }
                    _ => return Ok(Read::Skip),
                };
                Ok(Read::Live((sort, sk, Record::Json(item))))
            })?
        };
        self.parsed.keep(&query.pk, parsed);
        self.purge(expired).await?;
        let (records, more) = select(query, rows)?;
        let cursor = if more { records.last().and_then(|last| last.position(query.index)) } else { None };
        Ok(RecordPage { records, cursor })
    }

    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        check_transaction(&writes)?;
        self.blocking(move |db| {
            let durability = durability(&writes.iter().collect::<Vec<_>>());
            in_write(db, durability, |table| {
                let now = unix_seconds();
                for (index, write) in writes.iter().enumerate() {
                    apply(table, write, now).map_err(at_write(index))?;
                }
                Ok(())
            })
        })
        .await
    }

    fn counters(&self) -> &dyn Table {
        self.counters.as_ref()
    }
}

/// One item as stored, expired or not.
fn read_one(db: &Database, key: &Key) -> StoreResult<Option<Item>> {
    let txn = db.begin_read().map_err(unavailable)?;
    let table = txn.open_table(ITEMS).map_err(unavailable)?;
    match table.get((key.pk.as_str(), key.sk.as_str())).map_err(unavailable)? {
        Some(bytes) => Ok(Some(decode(bytes.value())?)),
        None => Ok(None),
    }
}

/// Where this store keeps its counters (`Table::counters`: the rate-limit windows, counted on every
/// request): in memory, a map behind one lock, so counting costs a microsecond instead of a redb
/// write transaction. Only one process can open a redb file, so every user of the store sees the
/// same counts, as every Lambda instance does in DynamoDB; a restart forgets them, as a crash may
/// forget their non-durable writes in redb anyway. Same semantics as the table: conditions,
/// updates, expiry, all-or-nothing transactions.
#[derive(Debug, Default)]
pub struct Counters {
    items: Mutex<ItemMap>,
    writes: AtomicUsize,
}

/// Every this many writes, the counters drop what has expired, so memory follows live clients.
const COUNTER_SWEEP_EVERY: usize = 1024;

impl Counters {
    fn lock(&self) -> MutexGuard<'_, ItemMap> {
        // Writes replace whole items, so a panic elsewhere cannot leave one half-written.
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `writes` all or none.
    fn write(&self, writes: &[Write]) -> StoreResult<Vec<Option<Item>>> {
        let now = unix_seconds();
        let mut items = self.lock();
        if self.writes.fetch_add(writes.len(), AtomicOrdering::Relaxed) % COUNTER_SWEEP_EVERY < writes.len() {
            items.retain(|_, partition| {
                partition.retain(|_, item| !is_expired(item, now));
                !partition.is_empty()
            });
        }
        // What to put back if a later write fails (a lone write fails before it changes anything).
        let mut before = Vec::new();
        let mut results = Vec::with_capacity(writes.len());
        for (index, write) in writes.iter().enumerate() {
            if writes.len() > 1 {
                let key = write_key(write)?;
                let item = items.load(&key)?;
                before.push((key, item));
            }
            match apply(&mut *items, write, now) {
                Ok(result) => results.push(result),
                Err(error) => {
                    for (key, item) in before.into_iter().rev() {
                        match item {
                            Some(item) => items.save(&key, &item)?,
                            None => items.erase(&key)?,
                        }
                    }
                    return Err(at_write(index)(error));
                }
            }
        }
        Ok(results)
    }

    fn write_one(&self, write: Write) -> StoreResult<Option<Item>> {
        self.write(std::slice::from_ref(&write)).map(|mut results| results.pop().flatten()).map_err(|error| {
            match error {
                StoreError::ConditionFailed { .. } => StoreError::ConditionFailed { write: None },
                other => other,
            }
        })
    }
}

#[async_trait]
impl Table for Counters {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        Ok(self.lock().load(key)?.filter(|item| !is_expired(item, unix_seconds())))
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        self.write_one(Write::Put { item, condition }).map(drop)
    }

    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> StoreResult<Item> {
        self.write_one(Write::Update { key: key.clone(), update, condition })?
            .ok_or_else(|| StoreError::Unavailable("an update produced no item".into()))
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<()> {
        self.write_one(Write::Delete { key: key.clone(), condition }).map(drop)
    }

    async fn query(&self, query: &Query) -> StoreResult<Page> {
        let now = unix_seconds();
        let live = self.lock().get(&query.pk).map_or_else(Vec::new, |partition| {
            partition.values().filter(|item| !is_expired(item, now)).cloned().collect()
        });
        page(query, live)
    }

    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        check_transaction(&writes)?;
        self.write(&writes).map(drop)
    }

    fn counters(&self) -> &dyn Table {
        self
    }
}

/// Writes whose every item expires by design need not wait for the disk (see the module's note).
fn durability(writes: &[&Write]) -> Durability {
    let expiring = |write: &&Write| match write {
        Write::Put { item, .. } => item.contains_key(EXPIRES_AT),
        Write::Update { update, .. } => update.set.contains_key(EXPIRES_AT),
        Write::Delete { .. } | Write::Check { .. } => false,
    };
    if !writes.is_empty() && writes.iter().all(expiring) { Durability::None } else { Durability::Immediate }
}

/// Runs `work` in one write transaction: committed when it succeeds, rolled back otherwise.
fn in_write<T>(
    db: &Database,
    durability: Durability,
    work: impl FnOnce(&mut ItemsTable<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut txn = db.begin_write().map_err(unavailable)?;
    txn.set_durability(durability).map_err(unavailable)?;
    let result = {
        let mut table = txn.open_table(ITEMS).map_err(unavailable)?;
        work(&mut table)
    };
    match result {
        Ok(value) => {
            txn.commit().map_err(unavailable)?;
            Ok(value)
        }
        Err(error) => {
            txn.abort().map_err(unavailable)?;
            Err(error)
        }
    }
}

/// Where `apply` reads and writes items: the redb table, or the counters' map.
trait Rows {
    /// The item as stored, expired or not.
    fn load(&self, key: &Key) -> StoreResult<Option<Item>>;
    fn save(&mut self, key: &Key, item: &Item) -> StoreResult<()>;
    fn erase(&mut self, key: &Key) -> StoreResult<()>;
}

impl Rows for ItemsTable<'_> {
    fn load(&self, key: &Key) -> StoreResult<Option<Item>> {
        match self.get((key.pk.as_str(), key.sk.as_str())).map_err(unavailable)? {
            Some(bytes) => Ok(Some(decode(bytes.value())?)),
            None => Ok(None),
        }
    }

    fn save(&mut self, key: &Key, item: &Item) -> StoreResult<()> {
        let bytes = serde_json::to_vec(item).map_err(|e| StoreError::Mapping(e.to_string()))?;
        self.insert((key.pk.as_str(), key.sk.as_str()), bytes.as_slice()).map_err(unavailable)?;
        Ok(())
    }

    fn erase(&mut self, key: &Key) -> StoreResult<()> {
        self.remove((key.pk.as_str(), key.sk.as_str())).map_err(unavailable)?;
        Ok(())
    }
}

/// The counters' items: partition key -> sort key -> item (looked up by `&str`, no copies).
type ItemMap = BTreeMap<String, BTreeMap<String, Item>>;

impl Rows for ItemMap {
    fn load(&self, key: &Key) -> StoreResult<Option<Item>> {
        Ok(self.get(&key.pk).and_then(|partition| partition.get(&key.sk)).cloned())
    }

    fn save(&mut self, key: &Key, item: &Item) -> StoreResult<()> {
        self.entry(key.pk.clone()).or_default().insert(key.sk.clone(), item.clone());
        Ok(())
    }

    fn erase(&mut self, key: &Key) -> StoreResult<()> {
        if let Some(partition) = self.get_mut(&key.pk) {
            partition.remove(&key.sk);
            if partition.is_empty() {
                self.remove(&key.pk);
            }
        }
        Ok(())
    }
}

/// Applies one write if its condition holds; returns the item an update leaves.
fn apply(rows: &mut impl Rows, write: &Write, now: i64) -> StoreResult<Option<Item>> {
    let key = write_key(write)?;
    let current = rows.load(&key)?.filter(|item| !is_expired(item, now));
    let condition = match write {
        Write::Put { condition, .. } | Write::Update { condition, .. } | Write::Delete { condition, .. } => {
            condition.as_ref()
        }
        Write::Check { condition, .. } => Some(condition),
    };
    if condition.is_some_and(|c| !holds(c, current.as_ref())) {
        return Err(StoreError::ConditionFailed { write: None });
    }
    match write {
        Write::Put { item, .. } => {
            validate(item)?;
            rows.save(&key, item)?;
            Ok(None)
        }
        Write::Update { update, .. } => {
            let item = updated(current, &key, update)?;
            rows.save(&key, &item)?;
            Ok(Some(item))
        }
        Write::Delete { .. } => {
            rows.erase(&key)?;
            Ok(None)
        }
        Write::Check { .. } => Ok(None),
    }
}

/// A transaction's limits, as DynamoDB's: at most 100 writes, each on a different item.
fn check_transaction(writes: &[Write]) -> StoreResult<()> {
    if writes.len() > MAX_TRANSACTION_WRITES {
        return Err(StoreError::Unavailable(format!(
            "a transaction holds at most {MAX_TRANSACTION_WRITES} writes, not {}",
            writes.len()
        )));
    }
    let mut keys = std::collections::HashSet::new();
    for write in writes {
        if !keys.insert(write_key(write)?) {
            return Err(StoreError::Unavailable("a transaction cannot write the same item twice".into()));
        }
    }
    Ok(())
}

/// Names the write whose condition failed.
fn at_write(index: usize) -> impl Fn(StoreError) -> StoreError {
    move |error| match error {
        StoreError::ConditionFailed { .. } => StoreError::ConditionFailed { write: Some(index) },
        other => other,
    }
}

fn write_key(write: &Write) -> StoreResult<Key> {
    match write {
        Write::Put { item, .. } => {
            Key::of(item).ok_or_else(|| StoreError::Unavailable("an item needs string pk and sk".into()))
        }
        Write::Update { key, .. } | Write::Delete { key, .. } | Write::Check { key, .. } => Ok(key.clone()),
    }
}

/// The item after `update`, starting from `current` or, as DynamoDB does, from just the key.
fn updated(current: Option<Item>, key: &Key, update: &Update) -> StoreResult<Item> {
    let mut item = current.unwrap_or_else(|| {
        let mut item = Item::new();
        item.insert(PK.into(), Value::String(key.pk.clone()));
        item.insert(SK.into(), Value::String(key.sk.clone()));
        item
    });
    for (attribute, value) in &update.set {
        if attribute != PK && attribute != SK {
            item.insert(attribute.clone(), value.clone());
        }
    }
    for attribute in &update.remove {
        item.remove(attribute);
    }
    for (attribute, by) in &update.add {
        let sum = match item.get(attribute) {
            None => Value::from(*by),
            Some(value) => {
                if let Some(n) = value.as_i64() {
                    n.checked_add(*by)
                        .map(Value::from)
                        .ok_or_else(|| StoreError::Unavailable(format!("ADD overflows {attribute}")))?
                } else if let Some(n) = value.as_f64() {
                    Value::from(n + *by as f64)
                } else {
                    return Err(StoreError::Unavailable(format!(
                        "ADD on {attribute}, which is not a number"
                    )));
                }
            }
        };
        item.insert(attribute.clone(), sum);
    }
    validate(&item)?;
    Ok(item)
}

/// What DynamoDB would refuse: index sort keys must be non-empty strings.
fn validate(item: &Item) -> StoreResult<()> {
    for index in Index::ALL {
        match item.get(index.attribute()) {
            None => {}
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(_) => {
                return Err(StoreError::Unavailable(format!(
                    "{} must be a non-empty string",
                    index.attribute()
                )));
            }
        }
    }
    Ok(())
}

/// Evaluates a condition against the live item (`None`: absent or expired).
fn holds(condition: &Condition, item: Option<&Item>) -> bool {
    match condition {
        Condition::Exists => item.is_some(),
        Condition::NotExists => item.is_none(),
        Condition::Equals(attribute, expected) => {
            item.and_then(|item| item.get(attribute)).is_some_and(|actual| same_value(actual, expected))
        }
        Condition::Below(attribute, bound) => match item.and_then(|item| item.get(attribute)) {
            None => 0 < *bound,
            Some(value) => match value.as_i64() {
                Some(n) => n < *bound,
                None => value.as_f64().is_some_and(|n| n < *bound as f64),
            },
        },
        Condition::AttributeAbsent(attribute) => item.is_none_or(|item| !item.contains_key(attribute)),
        Condition::OneOf(attribute, values) => item
            .and_then(|item| item.get(attribute))
            .is_some_and(|actual| values.iter().any(|value| same_value(actual, value))),
        Condition::All(parts) => parts.iter().all(|part| holds(part, item)),
    }
}

/// Equality as DynamoDB sees it: numbers by value (`1` equals `1.0`), everything else exactly.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}

/// One page of `live` (a partition's unexpired items, in `sk` order) for `query`.
fn page(query: &Query, live: Vec<Item>) -> StoreResult<Page> {
    let attribute = query.index.map_or(SK, Index::attribute);
    let rows = live.into_iter().filter_map(|item| {
        let sort = item.get(attribute)?.as_str()?.to_owned();
        let sk = item.get(SK)?.as_str()?.to_owned();
        sort.starts_with(&query.prefix).then_some((sort, sk, item))
    });
    let (items, more) = select(query, rows.collect())?;
    let cursor =
        if more { items.last().and_then(|last| Cursor::after_item(last, query.index)) } else { None };
    Ok(Page { items, cursor })
}

/// A query's page of the partition's live rows under its prefix, each `(sort attribute, sk, item)`:
/// in order, after the cursor, at most the limit; and whether more follow.
fn select<T>(query: &Query, mut rows: Vec<(String, String, T)>) -> StoreResult<(Vec<T>, bool)> {
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    if query.descending {
        rows.reverse();
    }
    if let Some(cursor) = &query.cursor {
        let position = cursor_position(cursor, query)?;
        let wanted = if query.descending { Ordering::Less } else { Ordering::Greater };
        rows.retain(|(sort, sk, _)| (sort.as_str(), sk.as_str()).cmp(&position) == wanted);
    }
    let limit = query.limit.clamp(1, 1000);
    let more = rows.len() > limit;
    Ok((rows.into_iter().take(limit).map(|(_, _, item)| item).collect(), more))
}

/// Where a cursor points: (sort attribute, sk). It must be a position in this query.
fn cursor_position<'c>(cursor: &'c Cursor, query: &Query) -> StoreResult<(&'c str, &'c str)> {
    let attribute = query.index.map_or(SK, Index::attribute);
    match (cursor.fits(query), cursor.0.get(attribute), cursor.0.get(SK)) {
        (true, Some(sort), Some(sk)) => Ok((sort.as_str(), sk.as_str())),
        _ => Err(StoreError::InvalidCursor),
    }
}

/// Best effort: removes items that are still expired; a failure only delays their removal.
fn purge(db: &Database, keys: &[Key]) {
    // Purging what expired loses nothing if a crash forgets it: it is invisible already.
    let result = in_write(db, Durability::None, |table| {
        let now = unix_seconds();
        for key in keys {
            let expired = match table.get((key.pk.as_str(), key.sk.as_str())).map_err(unavailable)? {
                Some(bytes) => is_expired(&decode(bytes.value())?, now),
                None => false,
            };
            if expired {
                table.remove((key.pk.as_str(), key.sk.as_str())).map_err(unavailable)?;
            }
        }
        Ok(())
    });
    if let Err(error) = result {
        tracing::debug!(%error, "purging expired items failed; they stay invisible");
    }
}

fn decode(bytes: &[u8]) -> StoreResult<Item> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Mapping(format!("stored item: {e}")))
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("embedded store: {error}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A table in a file of its own, removed when dropped.
    struct Scratch(EmbeddedTable, std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.1);
        }
    }

    fn scratch() -> Scratch {
        let path = std::env::temp_dir().join(format!("darasa-embedded-{}.redb", uuid::Uuid::now_v7()));
        Scratch(EmbeddedTable::open(&path).unwrap(), path)
    }

    fn note(sk: &str, text: &str) -> Item {
        serde_json::from_value(json!({"pk": "USER#u", "sk": sk, "text": text})).unwrap()
    }

    /// Where each record's text lives: the same address is the same kept parse.
    async fn texts(table: &EmbeddedTable) -> Vec<(usize, String)> {
        let page = table.query_records(&Query::new("USER#u", "NOTE#")).await.unwrap();
        page.records
            .into_iter()
            .map(|record| match record {
                Record::Json(item) => (item.text().as_ptr() as usize, item.text().to_owned()),
                Record::Item(_) => panic!("the embedded store hands out its text"),
            })
            .collect()
    }

    #[tokio::test]
    async fn a_read_reuses_what_the_last_read_parsed_until_the_item_changes() {
        let table = scratch();
        table.0.put(note("NOTE#1", "one"), None).await.unwrap();
        table.0.put(note("NOTE#2", "two"), None).await.unwrap();
        let first = texts(&table.0).await;
        let again = texts(&table.0).await;
        assert_eq!(first, again, "the same texts, parsed once");

        table.0.put(note("NOTE#2", "changed"), None).await.unwrap();
        let after = texts(&table.0).await;
        assert_eq!(after[0], first[0], "the unchanged item is still the kept one");
        assert!(after[1].1.contains("changed"), "the changed item is read as stored now");
    }

    #[tokio::test]
    async fn a_list_purges_the_expired_items_it_meets() {
        let table = scratch();
        let mut expired = note("NOTE#old", "gone");
        expired.insert(EXPIRES_AT.into(), json!(unix_seconds() - 60));
        table.0.put(expired, None).await.unwrap();
        table.0.put(note("NOTE#new", "kept"), None).await.unwrap();
        let old = Key::new("USER#u", "NOTE#old");
        assert!(read_one(&table.0.db, &old).unwrap().is_some(), "stored until a read meets it");

        let listed = texts(&table.0).await;
        assert_eq!(listed.len(), 1);
        assert!(read_one(&table.0.db, &old).unwrap().is_none(), "purged by its stored key");
        assert!(!table.0.parsed.read().partitions["USER#u"].contains_key("NOTE#old"), "and not kept");
    }

    #[test]
    fn kept_items_are_bounded() {
        let item = |text: &str| Indexed::read(text).unwrap().into_owned();
        let one = item(r#"{"n":1}"#).footprint();
        let parsed = ParsedItems::with_limit(3 * one);
        parsed.keep("A", vec![("1".into(), item(r#"{"n":1}"#)), ("2".into(), item(r#"{"n":2}"#))]);
        parsed.keep("A", vec![("2".into(), item(r#"{"n":3}"#))]);
        assert_eq!(parsed.read().bytes, 2 * one, "a replaced item counts once");
        parsed.keep("B", vec![("1".into(), item(r#"{"n":1}"#)), ("2".into(), item(r#"{"n":2}"#))]);
        let kept = parsed.read();
        assert_eq!(kept.bytes, 2 * one, "past the limit, it started again");
        assert!(!kept.partitions.contains_key("A") && kept.partitions["B"].len() == 2);
    }
}
