//! The store contract: every test is written once against the port and runs on both adapters
//! (DynamoDB Local and the embedded redb file) and on the embedded store's in-memory counters
//! (`Table::counters`), so none can drift from the others.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use darasa::store::cascade::delete_matching;
use darasa::store::{
    Condition, Cursor, EXPIRES_AT, Index, Item, Key, Page, Query, SharedTable, StoreError, StoreResult,
    Table, Update, Write,
};
use futures::future::BoxFuture;
use serde_json::{Value, json};

/// For each contract test `name`, a module `name` with a `dynamo`, an `embedded` and a `counters`
/// test.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn dynamo() {
                let table = darasa_tests::dynamodb::test_table().await;
                super::$name(std::sync::Arc::new(table)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn embedded() {
                let (table, _dir) = darasa_tests::dynamodb::embedded_table();
                super::$name(std::sync::Arc::new(table)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn counters() {
                super::$name(std::sync::Arc::new(darasa::store::embedded::Counters::default())).await;
            }
        }
    )*};
}

contract!(
    create_if_absent,
    get_missing_and_delete,
    pagination_on_primary_key,
    pagination_on_index,
    prefix_isolation,
    forged_cursor_rejected,
    versioned_update,
    update_of_absent_item,
    quota_consumed_atomically,
    an_absent_counter_counts_as_zero,
    transaction_all_or_nothing,
    cascade_delete_over_pages,
    cascade_rerun_after_failure,
    ttl_hides_expired_items,
    records_follow_every_write,
    get_many_answers_in_the_order_asked,
);

// ---------------------------------------------------------------------------------------------
// Helpers

fn user() -> String {
    format!("USER#{}", uuid::Uuid::now_v7())
}

fn item(pk: &str, sk: &str, attributes: Value) -> Item {
    let mut item = match attributes {
        Value::Object(map) => map,
        other => panic!("attributes must be an object, got {other}"),
    };
    item.insert("pk".into(), json!(pk));
    item.insert("sk".into(), json!(sk));
    item
}

fn sk(item: &Item) -> String {
    item["sk"].as_str().unwrap().to_owned()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Reads every page of `query`, passing each cursor through its client form (encode/decode) as
/// the API does. Returns the items and the page sizes.
async fn all_pages(table: &dyn Table, query: Query) -> (Vec<Item>, Vec<usize>) {
    let mut items = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor = None;
    for _ in 0..50 {
        let paged = query.clone().after(cursor);
        let Page { items: page, cursor: next } = table.query(&paged).await.unwrap();
        assert!(page.len() <= query.limit, "page of {} exceeds limit {}", page.len(), query.limit);
        // The same page as records (the embedded store's stored text): the same items, the same cursor.
        let records = table.query_records(&paged).await.unwrap();
        assert_eq!(records.cursor, next, "records resume where items do");
        let decoded: Vec<Item> =
            records.records.into_iter().map(|record| record.into_item().unwrap()).collect();
        assert_eq!(decoded, page);
        sizes.push(page.len());
        items.extend(page);
        match next {
            None => return (items, sizes),
            Some(next) => {
                let decoded = Cursor::decode(&next.encode(), &query.pk);
                cursor = Some(decoded.expect("an issued cursor decodes for its own partition"));
            }
        }
    }
    panic!("pagination did not end after 50 pages");
}

async fn keys_under(table: &dyn Table, pk: &str, prefix: &str) -> Vec<String> {
    let (items, _) = all_pages(table, Query::new(pk, prefix).limit(1000)).await;
    items.iter().map(sk).collect()
}

fn assert_condition_failed<T: std::fmt::Debug>(result: StoreResult<T>, write: Option<usize>) {
    match result {
        Err(StoreError::ConditionFailed { write: got }) => assert_eq!(got, write),
        other => panic!("expected ConditionFailed {{ write: {write:?} }}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Contract tests

async fn create_if_absent(table: SharedTable) {
    let pk = user();
    let first = item(&pk, "NOTE#1", json!({"text": "first"}));
    table.put(first, Some(Condition::NotExists)).await.unwrap();

    let second = item(&pk, "NOTE#1", json!({"text": "second"}));
    assert_condition_failed(table.put(second, Some(Condition::NotExists)).await, None);
    let stored = table.get(&Key::new(&pk, "NOTE#1")).await.unwrap().unwrap();
    assert_eq!(stored["text"], json!("first"));

    // Without a condition a put replaces the whole item.
    let third = item(&pk, "NOTE#1", json!({"other": 3}));
    table.put(third.clone(), None).await.unwrap();
    assert_eq!(table.get(&Key::new(&pk, "NOTE#1")).await.unwrap(), Some(third));
}

async fn get_missing_and_delete(table: SharedTable) {
    let pk = user();
    let key = Key::new(&pk, "NOTE#missing");
    assert_eq!(table.get(&key).await.unwrap(), None);
    // Deleting what is not there is fine (retried cascades rely on it) unless guarded.
    table.delete(&key, None).await.unwrap();
    assert_condition_failed(table.delete(&key, Some(Condition::Exists)).await, None);

    let stored = item(&pk, "NOTE#1", json!({"n": 1}));
    table.put(stored.clone(), None).await.unwrap();
    let key = Key::new(&pk, "NOTE#1");
    assert_condition_failed(table.delete(&key, Some(Condition::equals("n", 2))).await, None);
    assert_eq!(table.get(&key).await.unwrap(), Some(stored));
    table.delete(&key, Some(Condition::Exists)).await.unwrap();
    assert_eq!(table.get(&key).await.unwrap(), None);
}

async fn pagination_on_primary_key(table: SharedTable) {
    let pk = user();
    for i in 0..25 {
        table.put(item(&pk, &format!("ITEM#{i:03}"), json!({"i": i})), None).await.unwrap();
    }
    // Neighbours that must never show up.
    table.put(item(&pk, "ITEL#zzz", json!({})), None).await.unwrap();
    table.put(item(&pk, "ITEMS", json!({})), None).await.unwrap();
    table.put(item(&user(), "ITEM#000", json!({})), None).await.unwrap();

    let expected: Vec<String> = (0..25).map(|i| format!("ITEM#{i:03}")).collect();
    let (items, sizes) = all_pages(&*table, Query::new(&pk, "ITEM#").limit(10)).await;
    assert_eq!(items.iter().map(sk).collect::<Vec<_>>(), expected);
    assert!(items.iter().all(|i| i["pk"] == json!(pk)));
    assert_eq!(sizes[..3], [10, 10, 5]);

    let (items, sizes) = all_pages(&*table, Query::new(&pk, "ITEM#").limit(10).descending()).await;
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(items.iter().map(sk).collect::<Vec<_>>(), reversed);
    assert_eq!(sizes[..3], [10, 10, 5]);

    // A page boundary exactly at the end still yields every item once.
    let (items, _) = all_pages(&*table, Query::new(&pk, "ITEM#").limit(5)).await;
    assert_eq!(items.iter().map(sk).collect::<Vec<_>>(), expected);
}

async fn pagination_on_index(table: SharedTable) {
    let pk = user();
    // Sort keys ascend while the index attribute descends, so the index order is observable.
    for i in 0..25 {
        let updated = format!("2024-05-01T00:00:{:02}Z#{i:03}", 59 - i);
        let stored = item(&pk, &format!("JOB#{i:03}"), json!({"updatedKey": updated, "i": i}));
        table.put(stored, None).await.unwrap();
    }
    // Sparse: items without the index attribute are not in the index.
    table.put(item(&pk, "JOB#999", json!({"i": 999})), None).await.unwrap();
    table.put(item(&pk, "PROFILE", json!({})), None).await.unwrap();
    let other = item(&user(), "JOB#000", json!({"updatedKey": "2024-05-01T00:00:00Z#x"}));
    table.put(other, None).await.unwrap();

    let oldest_first: Vec<i64> = (0..25).rev().collect();
    let query = Query::new(&pk, "").index(Index::ByUpdated).limit(10);
    let (items, sizes) = all_pages(&*table, query.clone()).await;
    let order: Vec<i64> = items.iter().map(|i| i["i"].as_i64().unwrap()).collect();
    assert_eq!(order, oldest_first);
    assert_eq!(sizes[..3], [10, 10, 5]);

    let (items, sizes) = all_pages(&*table, query.clone().descending()).await;
    let order: Vec<i64> = items.iter().map(|i| i["i"].as_i64().unwrap()).collect();
    let newest_first: Vec<i64> = (0..25).collect();
    assert_eq!(order, newest_first);
    assert_eq!(sizes[..3], [10, 10, 5]);
    // Index queries return whole items (projection ALL).
    assert!(items.iter().all(|i| i.contains_key("sk") && i.contains_key("updatedKey")));

    // A prefix on the index attribute.
    let query = Query::new(&pk, "2024-05-01T00:00:5").index(Index::ByUpdated).limit(3);
    let (items, _) = all_pages(&*table, query).await;
    let order: BTreeSet<i64> = items.iter().map(|i| i["i"].as_i64().unwrap()).collect();
    assert_eq!(order, (0..10).collect());
}

async fn prefix_isolation(table: SharedTable) {
    let (alice, bob) = (user(), user());
    for sk in ["QUESTION#1", "QUESTION#2", "QUESTION#3", "INTERVIEW#1", "INTERVIEW#2", "PROFILE"] {
        table.put(item(&alice, sk, json!({})), None).await.unwrap();
    }
    table.put(item(&bob, "QUESTION#9", json!({})), None).await.unwrap();

    assert_eq!(keys_under(&*table, &alice, "QUESTION#").await, ["QUESTION#1", "QUESTION#2", "QUESTION#3"]);
    assert_eq!(keys_under(&*table, &alice, "INTERVIEW#").await, ["INTERVIEW#1", "INTERVIEW#2"]);
    assert_eq!(keys_under(&*table, &bob, "QUESTION#").await, ["QUESTION#9"]);
    assert_eq!(keys_under(&*table, &bob, "INTERVIEW#").await, Vec::<String>::new());
    assert_eq!(keys_under(&*table, &alice, "").await.len(), 6);
    let page = table.query(&Query::new(user(), "")).await.unwrap();
    assert_eq!(page, Page { items: vec![], cursor: None });
}

async fn forged_cursor_rejected(table: SharedTable) {
    let (alice, bob) = (user(), user());
    for i in 0..3 {
        table.put(item(&alice, &format!("NOTE#{i}"), json!({})), None).await.unwrap();
        table.put(item(&bob, &format!("NOTE#{i}"), json!({})), None).await.unwrap();
    }
    let page = table.query(&Query::new(&alice, "NOTE#").limit(1)).await.unwrap();
    let cursor = page.cursor.expect("more notes follow");
    let text = cursor.encode();
    assert_eq!(Cursor::decode(&text, &alice), Some(cursor.clone()));
    // Bob cannot continue Alice's listing, nor forge one into her partition.
    assert_eq!(Cursor::decode(&text, &bob), None);
    assert_eq!(Cursor::decode("not base64!", &alice), None);
    let forged = |value: Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    assert_eq!(Cursor::decode(&forged(json!({"pk": bob, "sk": "NOTE#0"})), &alice), None);
    assert_eq!(Cursor::decode(&forged(json!({"pk": alice})), &alice), None);
    let extra = json!({"pk": alice, "sk": "NOTE#0", "secret": "x"});
    assert_eq!(Cursor::decode(&forged(extra), &alice), None);
    assert!(Cursor::decode(&forged(json!({"pk": alice, "sk": "NOTE#0"})), &alice).is_some());

    // Even a cursor built in code cannot move a query into another partition.
    let result = table.query(&Query::new(&bob, "NOTE#").after(Some(cursor))).await;
    assert!(result.is_err(), "a cursor from another partition was accepted: {result:?}");
}

async fn versioned_update(table: SharedTable) {
    let pk = user();
    let key = Key::new(&pk, "JOBINFO#1");
    table
        .put(item(&pk, "JOBINFO#1", json!({"title": "a", "version": 1})), Some(Condition::NotExists))
        .await
        .unwrap();

    let change = Update::new().set("title", "b").add("version", 1);
    let after = table.update(&key, change, Some(Condition::equals("version", 1))).await.unwrap();
    assert_eq!(after["title"], json!("b"));
    assert_eq!(after["version"].as_i64(), Some(2));
    assert_eq!(after["pk"], json!(pk));
    assert_eq!(after["sk"], json!("JOBINFO#1"));

    // A writer still holding version 1 is refused and changes nothing.
    let stale = Update::new().set("title", "stale").add("version", 1);
    assert_condition_failed(table.update(&key, stale, Some(Condition::equals("version", 1))).await, None);
    let stored = table.get(&key).await.unwrap().unwrap();
    assert_eq!(stored["title"], json!("b"));
    assert_eq!(stored["version"].as_i64(), Some(2));

    let change = Update::new().remove("title").set("note", "n").add("version", 1);
    let after = table.update(&key, change, Some(Condition::equals("version", 2))).await.unwrap();
    assert!(!after.contains_key("title"));
    assert_eq!(after["note"], json!("n"));
    assert_eq!(after["version"].as_i64(), Some(3));
    assert_eq!(table.get(&key).await.unwrap(), Some(after));
}

async fn update_of_absent_item(table: SharedTable) {
    let pk = user();
    let key = Key::new(&pk, "USAGE");
    let change = Update::new().add("questions", 1);
    assert_condition_failed(table.update(&key, change, Some(Condition::Exists)).await, None);
    assert_eq!(table.get(&key).await.unwrap(), None);

    // Unguarded, an update creates the item; ADD on an absent number starts from 0.
    let created = table.update(&key, Update::new().add("questions", 3), None).await.unwrap();
    assert_eq!(created, item(&pk, "USAGE", json!({"questions": 3})));
    let counted = table.update(&key, Update::new().add("questions", -1), None).await.unwrap();
    assert_eq!(counted["questions"].as_i64(), Some(2));

    // An update with nothing to change still checks its condition and returns the item.
    let same = table.update(&key, Update::new(), Some(Condition::Exists)).await.unwrap();
    assert_eq!(same, counted);
    let absent = Key::new(&pk, "EMPTY");
    assert_condition_failed(table.update(&absent, Update::new(), Some(Condition::Exists)).await, None);
    let bare = table.update(&absent, Update::new(), None).await.unwrap();
    assert_eq!(bare, item(&pk, "EMPTY", json!({})));
    let guarded = Condition::AttributeAbsent("questions".into());
    assert_condition_failed(table.update(&key, Update::new(), Some(guarded.clone())).await, None);
    table.update(&absent, Update::new().set("x", 1), Some(guarded)).await.unwrap();
}

async fn quota_consumed_atomically(table: SharedTable) {
    const LIMIT: i64 = 5;
    let pk = user();
    let usage = Key::new(&pk, "USAGE");
    let attempts = (0..50).map(|i| {
        let table = table.clone();
        let pk = pk.clone();
        let usage = usage.clone();
        tokio::spawn(async move {
            let question = item(&pk, &format!("QUESTION#{i:03}"), json!({"i": i}));
            table
                .transact(vec![
                    Write::Put { item: question, condition: Some(Condition::NotExists) },
                    Write::Update {
                        key: usage,
                        update: Update::new().add("questions", 1),
                        condition: Some(Condition::Below("questions".into(), LIMIT)),
                    },
                ])
                .await
        })
    });
    let results = futures::future::join_all(attempts).await;
    let mut succeeded = 0;
    for result in results {
        match result.unwrap() {
            Ok(()) => succeeded += 1,
            Err(StoreError::ConditionFailed { write: Some(1) }) => {}
            Err(other) => panic!("unexpected transaction outcome: {other:?}"),
        }
    }
    assert_eq!(succeeded, LIMIT);
    assert_eq!(keys_under(&*table, &pk, "QUESTION#").await.len() as i64, LIMIT);
    let counter = table.get(&usage).await.unwrap().unwrap();
    assert_eq!(counter["questions"].as_i64(), Some(LIMIT));
}

/// `Below` treats an absent counter (and a missing item) as 0: a limit of 0 refuses the first
/// unit, a limit of 1 admits exactly one.
async fn an_absent_counter_counts_as_zero(table: SharedTable) {
    let pk = user();
    let usage = Key::new(&pk, "USAGE");
    let take = |limit: i64| {
        let (table, usage) = (table.clone(), usage.clone());
        async move {
            table
                .update(
                    &usage,
                    Update::new().add("questions", 1),
                    Some(Condition::Below("questions".into(), limit)),
                )
                .await
        }
    };
    assert_condition_failed(take(0).await, None);
    assert!(table.get(&usage).await.unwrap().is_none(), "nothing written");
    assert_eq!(take(1).await.unwrap()["questions"].as_i64(), Some(1));
    assert_condition_failed(take(1).await, None);
    assert_condition_failed(take(-3).await, None);
}

async fn transaction_all_or_nothing(table: SharedTable) {
    let pk = user();
    let a = item(&pk, "A", json!({"v": 1}));
    let result = table
        .transact(vec![
            Write::Put { item: a.clone(), condition: Some(Condition::NotExists) },
            Write::Check { key: Key::new(&pk, "MISSING"), condition: Condition::Exists },
        ])
        .await;
    assert_condition_failed(result, Some(1));
    assert_eq!(table.get(&Key::new(&pk, "A")).await.unwrap(), None);

    table.put(item(&pk, "OLD", json!({})), None).await.unwrap();
    table.put(item(&pk, "COUNT", json!({"n": 1})), None).await.unwrap();
    let result = table
        .transact(vec![
            Write::Put { item: a.clone(), condition: None },
            Write::Update { key: Key::new(&pk, "COUNT"), update: Update::new().add("n", 1), condition: None },
            Write::Delete { key: Key::new(&pk, "OLD"), condition: None },
            Write::Delete {
                key: Key::new(&pk, "MISSING"),
                condition: Some(Condition::All(vec![Condition::Exists])),
            },
        ])
        .await;
    assert_condition_failed(result, Some(3));
    assert_eq!(table.get(&Key::new(&pk, "A")).await.unwrap(), None);
    assert_eq!(table.get(&Key::new(&pk, "COUNT")).await.unwrap().unwrap()["n"].as_i64(), Some(1));
    assert!(table.get(&Key::new(&pk, "OLD")).await.unwrap().is_some());

    // The first write failing is reported as write 0.
    let result = table
        .transact(vec![
            Write::Update {
                key: Key::new(&pk, "COUNT"),
                update: Update::new().add("n", 1),
                condition: Some(Condition::equals("n", 7)),
            },
            Write::Put { item: a.clone(), condition: None },
        ])
        .await;
    assert_condition_failed(result, Some(0));

    // When every condition holds, every write lands.
    table
        .transact(vec![
            Write::Put { item: a.clone(), condition: Some(Condition::NotExists) },
            Write::Update {
                key: Key::new(&pk, "COUNT"),
                update: Update::new().add("n", 2),
                condition: Some(Condition::All(vec![Condition::Exists, Condition::equals("n", 1)])),
            },
            Write::Delete { key: Key::new(&pk, "OLD"), condition: Some(Condition::Exists) },
            Write::Check { key: Key::new(&pk, "MISSING"), condition: Condition::NotExists },
        ])
        .await
        .unwrap();
    assert_eq!(table.get(&Key::new(&pk, "A")).await.unwrap(), Some(a));
    assert_eq!(table.get(&Key::new(&pk, "COUNT")).await.unwrap().unwrap()["n"].as_i64(), Some(3));
    assert_eq!(table.get(&Key::new(&pk, "OLD")).await.unwrap(), None);
}

/// A job with `children` children under the ByParent index, a sibling job whose id extends this
/// one's (a prefix trap) with children of its own, and the same keys in another partition.
async fn seed_family(table: &dyn Table, pk: &str, other_pk: &str, children: usize) {
    table.put(item(pk, "JOBINFO#a", json!({"title": "parent"})), None).await.unwrap();
    table.put(item(pk, "JOBINFO#a1", json!({"title": "sibling"})), None).await.unwrap();
    let writes: Vec<Write> = (0..children)
        .map(|i| Write::Put {
            item: item(pk, &format!("QUESTION#{i:04}"), json!({"parentKey": format!("JOB#a#{i:04}")})),
            condition: None,
        })
        .collect();
    for chunk in writes.chunks(25) {
        table.transact(chunk.to_vec()).await.unwrap();
    }
    for i in 0..5 {
        let sibling = item(pk, &format!("QUESTION#s{i}"), json!({"parentKey": format!("JOB#a1#{i}")}));
        table.put(sibling, None).await.unwrap();
        let elsewhere =
            item(other_pk, &format!("QUESTION#{i:04}"), json!({"parentKey": format!("JOB#a#{i:04}")}));
        table.put(elsewhere, None).await.unwrap();
    }
}

fn children_of_a(pk: &str) -> Query {
    Query::new(pk, "JOB#a#").index(Index::ByParent).limit(50)
}

async fn assert_family_survivors(table: &dyn Table, pk: &str, other_pk: &str) {
    let (left, _) = all_pages(table, children_of_a(pk)).await;
    assert!(left.is_empty(), "{} children survived the cascade", left.len());
    let siblings = Query::new(pk, "JOB#a1#").index(Index::ByParent);
    assert_eq!(all_pages(table, siblings).await.0.len(), 5);
    assert_eq!(all_pages(table, children_of_a(other_pk)).await.0.len(), 5);
    assert!(table.get(&Key::new(pk, "JOBINFO#a")).await.unwrap().is_some());
    assert!(table.get(&Key::new(pk, "JOBINFO#a1")).await.unwrap().is_some());
    // Everything that should remain, and nothing else: 2 jobs + 5 sibling children.
    assert_eq!(keys_under(table, pk, "").await.len(), 7);
}

async fn cascade_delete_over_pages(table: SharedTable) {
    let (pk, other_pk) = (user(), user());
    seed_family(&*table, &pk, &other_pk, 130).await;
    assert_eq!(all_pages(&*table, children_of_a(&pk)).await.0.len(), 130);

    let deleted = delete_matching(&*table, children_of_a(&pk)).await.unwrap();
    assert_eq!(deleted, 130);
    assert_family_survivors(&*table, &pk, &other_pk).await;
    // Running it again finds nothing left to do.
    assert_eq!(delete_matching(&*table, children_of_a(&pk)).await.unwrap(), 0);
}

/// Passes everything through, except that `transact` fails once `transacts_left` is used up:
/// a backend that dies halfway through a cascade.
struct FailingTable {
    inner: SharedTable,
    transacts_left: AtomicUsize,
}

impl Table for FailingTable {
    fn get<'a, 'b, 'f>(&'a self, key: &'b Key) -> BoxFuture<'f, StoreResult<Option<Item>>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        self.inner.get(key)
    }

    fn put<'a, 'f>(&'a self, item: Item, condition: Option<Condition>) -> BoxFuture<'f, StoreResult<()>>
    where
        'a: 'f,
        Self: 'f,
    {
        self.inner.put(item, condition)
    }

    fn update<'a, 'b, 'f>(
        &'a self,
        key: &'b Key,
        update: Update,
        condition: Option<Condition>,
    ) -> BoxFuture<'f, StoreResult<Item>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        self.inner.update(key, update, condition)
    }

    fn delete<'a, 'b, 'f>(
        &'a self,
        key: &'b Key,
        condition: Option<Condition>,
    ) -> BoxFuture<'f, StoreResult<()>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        self.inner.delete(key, condition)
    }

    fn query<'a, 'b, 'f>(&'a self, query: &'b Query) -> BoxFuture<'f, StoreResult<Page>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        self.inner.query(query)
    }

    fn transact<'a, 'f>(&'a self, writes: Vec<Write>) -> BoxFuture<'f, StoreResult<()>>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(async move {
            let allowed = self
                .transacts_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if !allowed {
                return Err(StoreError::Unavailable("injected failure".into()));
            }
            self.inner.transact(writes).await
        })
    }

    fn counters(&self) -> &dyn Table {
        self
    }
}

async fn cascade_rerun_after_failure(table: SharedTable) {
    let (pk, other_pk) = (user(), user());
    seed_family(&*table, &pk, &other_pk, 130).await;

    // Two transactions of 25 deletes go through, then the backend fails.
    let failing = FailingTable { inner: table.clone(), transacts_left: AtomicUsize::new(2) };
    let result = delete_matching(&failing, children_of_a(&pk)).await;
    assert!(matches!(result, Err(StoreError::Unavailable(_))), "got {result:?}");
    assert_eq!(all_pages(&*table, children_of_a(&pk)).await.0.len(), 80);

    let deleted = delete_matching(&*table, children_of_a(&pk)).await.unwrap();
    assert_eq!(deleted, 80);
    assert_family_survivors(&*table, &pk, &other_pk).await;
}

async fn ttl_hides_expired_items(table: SharedTable) {
    let pk = user();
    let past = now() - 60;
    let future = now() + 3600;
    let expired = item(&pk, "HOOK#old", json!({EXPIRES_AT: past, "updatedKey": "2024#old"}));
    let live = item(&pk, "HOOK#new", json!({EXPIRES_AT: future, "updatedKey": "2024#new"}));
    table.put(expired.clone(), None).await.unwrap();
    table.put(live.clone(), None).await.unwrap();
    table.put(item(&pk, "HOOK#gone", json!({EXPIRES_AT: past, "n": 1})), None).await.unwrap();

    assert_eq!(table.get(&Key::new(&pk, "HOOK#old")).await.unwrap(), None);
    assert_eq!(table.get(&Key::new(&pk, "HOOK#new")).await.unwrap(), Some(live.clone()));
    assert_eq!(keys_under(&*table, &pk, "HOOK#").await, ["HOOK#new"]);
    let by_updated = Query::new(&pk, "").index(Index::ByUpdated);
    assert_eq!(all_pages(&*table, by_updated).await.0, vec![live.clone()]);

    // An expired item counts as absent for conditions.
    let gone = Key::new(&pk, "HOOK#gone");
    assert_condition_failed(
        table.update(&gone, Update::new().set("m", 2), Some(Condition::Exists)).await,
        None,
    );
    assert_condition_failed(table.update(&gone, Update::new(), Some(Condition::equals("n", 1))).await, None);
    table.delete(&gone, Some(Condition::NotExists)).await.unwrap();

    // Creating over an expired item succeeds; over a live one it does not.
    let fresh = item(&pk, "HOOK#old", json!({"fresh": true}));
    table.put(fresh.clone(), Some(Condition::NotExists)).await.unwrap();
    assert_eq!(table.get(&Key::new(&pk, "HOOK#old")).await.unwrap(), Some(fresh));
    let again = item(&pk, "HOOK#new", json!({"fresh": true}));
    assert_condition_failed(table.put(again, Some(Condition::NotExists)).await, None);
    assert_eq!(table.get(&Key::new(&pk, "HOOK#new")).await.unwrap(), Some(live));
}

/// A page of records shows each item as it is now, however often it was read before (the embedded
/// store keeps what it parsed): after a replace, an update, a delete and a put of an earlier text.
async fn records_follow_every_write(table: SharedTable) {
    let pk = user();
    let query = Query::new(&pk, "NOTE#");
    let records = || async {
        let page = table.query_records(&query).await.unwrap();
        page.records.into_iter().map(|record| record.into_item().unwrap()).collect::<Vec<_>>()
    };
    let first = item(&pk, "NOTE#1", json!({"text": "first"}));
    table.put(first.clone(), None).await.unwrap();
    assert_eq!(records().await, std::slice::from_ref(&first));
    assert_eq!(records().await, std::slice::from_ref(&first), "read again");

    let replaced = item(&pk, "NOTE#1", json!({"text": "second"}));
    table.put(replaced.clone(), None).await.unwrap();
    assert_eq!(records().await, [replaced]);
    let key = Key::new(&pk, "NOTE#1");
    let updated = table.update(&key, Update::new().set("text", "third"), None).await.unwrap();
    assert_eq!(records().await, [updated]);
    table.delete(&key, None).await.unwrap();
    assert_eq!(records().await, []);
    table.put(first.clone(), None).await.unwrap();
    assert_eq!(records().await, [first]);
}

/// Several items read at once come back in the order asked, absent and expired ones as `None`, a
/// key named twice answered twice, past DynamoDB's 100 keys a call.
async fn get_many_answers_in_the_order_asked(table: SharedTable) {
    let pk = user();
    let first = item(&pk, "NOTE#1", json!({"text": "first"}));
    let second = item(&pk, "NOTE#2", json!({"text": "second"}));
    table.put(first.clone(), None).await.unwrap();
    table.put(second.clone(), None).await.unwrap();
    table.put(item(&pk, "NOTE#3", json!({EXPIRES_AT: 1})), None).await.unwrap();
    let key = |sk: &str| Key::new(&pk, sk);
    let keys = [key("NOTE#2"), key("NOTE#absent"), key("NOTE#1"), key("NOTE#3"), key("NOTE#2")];
    assert_eq!(
        table.get_many(&keys).await.unwrap(),
        [Some(second.clone()), None, Some(first.clone()), None, Some(second.clone())]
    );
    assert_eq!(table.get_many(&[]).await.unwrap(), []);

    let mut keys: Vec<Key> = (0..120).map(|n| key(&format!("NOTE#absent{n}"))).collect();
    keys.push(key("NOTE#1"));
    keys.insert(0, key("NOTE#2"));
    let answers = table.get_many(&keys).await.unwrap();
    assert_eq!(answers.len(), 122);
    assert_eq!((answers[0].as_ref(), answers[121].as_ref()), (Some(&second), Some(&first)));
    assert!(answers[1..121].iter().all(Option::is_none));
}

// ---------------------------------------------------------------------------------------------
// Adapter-specific guarantees the contract cannot express

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_table_creation_is_idempotent() {
    let table = darasa_tests::dynamodb::test_table().await;
    let pk = user();
    table.put(item(&pk, "NOTE#1", json!({})), None).await.unwrap();
    // Starting again over an existing table (TTL already on) is fine and keeps its items.
    table.create_table_if_missing().await.unwrap();
    assert!(table.get(&Key::new(&pk, "NOTE#1")).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_items_survive_reopening() {
    let dir = darasa_tests::dynamodb::TempDirGuard::new("darasa-reopen");
    let path = dir.path().join("nested").join("table.redb");
    let pk = user();
    let stored = item(&pk, "NOTE#1", json!({"kept": true}));
    {
        let table = darasa::store::embedded::EmbeddedTable::open(&path).unwrap();
        table.put(stored.clone(), None).await.unwrap();
    }
    let table = darasa::store::embedded::EmbeddedTable::open(&path).unwrap();
    assert_eq!(table.get(&Key::new(&pk, "NOTE#1")).await.unwrap(), Some(stored));
}

/// A function's AWS configuration comes from Lambda's environment alone (no aws-config in the
/// binaries): the same table operations work through it.
#[tokio::test]
async fn a_function_configured_from_its_environment_reaches_dynamodb() {
    let endpoint =
        std::env::var(darasa_tests::dynamodb::ENDPOINT_VARIABLE).expect("run through infra/test.sh");
    let env = |name: &str| match name {
        "AWS_REGION" => Some("eu-west-1".to_owned()),
        "AWS_ACCESS_KEY_ID" => Some("AKIDFUNCTION".to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some("secret".to_owned()),
        "AWS_SESSION_TOKEN" => Some("session".to_owned()),
        _ => None,
    };
    let http = darasa::aws_sdk::AwsHttpClient::new(rustls::RootCertStore::empty());
    let config = darasa::aws_sdk::environment_config(env, Some(&endpoint), http);
    let name = format!("test-{}", uuid::Uuid::now_v7());
    let table = darasa::store::dynamo::DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), &name);
    table.create_table_if_missing().await.unwrap();
    let pk = user();
    let stored = item(&pk, "NOTE#1", json!({"text": "from the environment"}));
    table.put(stored.clone(), Some(Condition::NotExists)).await.unwrap();
    assert_eq!(table.get(&Key::new(&pk, "NOTE#1")).await.unwrap(), Some(stored));
}
