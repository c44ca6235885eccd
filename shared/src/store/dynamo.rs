//! DynamoDB adapter: the port on aws-sdk-dynamodb, items converted with serde_dynamo.
//!
//! Semantics shared with the embedded adapter (the contract suite checks both):
//! - reads are strongly consistent, also on the local secondary indexes;
//! - an item whose `expiresAt` has passed counts as absent: reads drop it and every condition
//!   treats it as missing, because DynamoDB deletes expired items only lazily. One difference
//!   remains: an update of an expired, not yet deleted item starts from its old attributes here,
//!   while the embedded adapter starts afresh. So a TTL item that may be revived must not rely on
//!   its old attributes being gone: give it fresh keys, or name what it holds so that old values
//!   cannot pass for new ones, as the rate-limit windows name each count by its window's start.
//! - `Update::set` never touches `pk`/`sk`: the key already names them and DynamoDB refuses to
//!   update key attributes.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, KeySchemaElement, KeyType,
    KeysAndAttributes, LocalSecondaryIndex, Projection, ProjectionType, Put, ReturnValue,
    ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem,
};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use http::Uri;
use rand::Rng;
use serde_json::Value;

use crate::aws_sdk::{AwsConfig, AwsHttpClient};
use crate::clock::unix_seconds;

use super::{
    Condition, Cursor, EXPIRES_AT, Index, Item, Key, PK, Page, Query, SK, StoreError, StoreResult, Table,
    Update, Write, is_expired,
};

/// Where the SDK sends DynamoDB's calls under `config`: the override, else the region's endpoint,
/// as the SDK's own endpoint rules resolve it (for a table named by name, with credentials that
/// name no account, as Lambda's do).
async fn origin(config: &aws_types::SdkConfig) -> Option<Uri> {
    let params = Params::builder()
        .set_region(config.region().map(ToString::to_string))
        .set_endpoint(config.endpoint_url().map(str::to_owned))
        .set_use_fips(config.use_fips())
        .set_use_dual_stack(config.use_dual_stack())
        .build()
        .ok()?;
    let endpoint = DefaultResolver::new().resolve_endpoint(&params).await.ok()?;
    endpoint.url().parse().ok()
}

/// An SDK HTTP client that sends nothing: each request fails as the caller's mistake, which the
/// SDK does not retry (`DynamoTable::rehearse`).
#[derive(Debug, Clone)]
struct Unsent;

impl HttpClient for Unsent {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for Unsent {
    fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Err(ConnectorError::user("a rehearsal is not sent".into())))
    }
}

/// An item as the SDK carries it.
type Attributes = HashMap<String, AttributeValue>;

/// Attempts of a write that keeps colliding with concurrent transactions before giving up.
const MAX_ATTEMPTS: u32 = 25;
/// The most keys one `BatchGetItem` may name.
const BATCH_GET_LIMIT: usize = 100;
/// First and largest backoff between those attempts.
const BACKOFF_START_MS: u64 = 4;
const BACKOFF_CAP_MS: u64 = 200;
/// How long `create_table_if_missing` waits for the table to become ACTIVE.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// Removed by an otherwise empty update: DynamoDB needs some update expression in a transaction
/// and refuses to SET key attributes, while removing an attribute nobody writes is a no-op that
/// still creates an absent item, as an empty update should.
const NOOP_ATTRIBUTE: &str = "darasaNoop";

/// The production table.
#[derive(Debug, Clone)]
pub struct DynamoTable {
    client: Client,
    table_name: String,
    /// Where the client's calls go and its HTTP client, for [`DynamoTable::prime`] (absent for a
    /// table built from a client alone).
    connections: Option<(Uri, AwsHttpClient)>,
}

impl DynamoTable {
    /// A client from the environment's AWS configuration. With an endpoint override (DynamoDB
    /// Local) dummy credentials and `us-east-1` fill in whatever the environment lacks, so tests and
    /// the local host need no AWS setup.
    pub async fn connect(endpoint: Option<&str>, table_name: &str) -> Self {
        let AwsConfig { sdk, http } = crate::aws_sdk::config(endpoint).await;
        let origin = origin(&sdk).await;
        Self {
            client: Client::new(&sdk),
            table_name: table_name.into(),
            connections: origin.map(|uri| (uri, http)),
        }
    }

    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        Self { client, table_name: table_name.into(), connections: None }
    }

    /// Opens `connections` connections to the table's endpoint at once, without a call: as many as
    /// a first request sends calls at once (each call in flight needs its own over HTTP/1.1: TCP
    /// and, against AWS, a TLS handshake); meanwhile takes a call through the SDK up to the
    /// sending ([`DynamoTable::rehearse`]). Called during a cold start's Init, which Lambda runs
    /// with a whole CPU whatever the memory setting, so the first request does not pay for them
    /// at a 128 MB function's share (`AppState::from_config` bounds it: an unreachable table
    /// delays Init a little, and the request meets the error again). Nothing is sent, so DynamoDB
    /// answers no call for it and the first request's calls are the instance's first.
    pub async fn prime(&self, connections: usize) {
        let open = async {
            if let Some((origin, http)) = &self.connections {
                http.open(origin, connections).await;
            }
        };
        tokio::join!(open, self.rehearse());
    }

    /// Takes one read through the SDK's whole path but the sending (serialization, endpoint
    /// rules, credentials, signing), with an HTTP client that refuses it, so the first request's
    /// calls find that path's lazy set-up done and its code paged in.
    async fn rehearse(&self) {
        let Ok(key) = Self::key_attributes(&Key::new("PRIME", "PRIME")) else {
            return;
        };
        let unsent = aws_sdk_dynamodb::config::Builder::default().http_client(Unsent);
        let _ = self
            .client
            .get_item()
            .table_name(&self.table_name)
            .set_key(Some(key))
            .customize()
            .config_override(unsent)
            .send()
            .await;
    }

    /// One consistent `BatchGetItem` of `keys`: the items found, and the keys DynamoDB left
    /// unprocessed.
    async fn batch_get(&self, keys: Vec<Attributes>) -> StoreResult<(Vec<Item>, Vec<Attributes>)> {
        let request = KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build();
        let output = self
            .client
            .batch_get_item()
            .request_items(&self.table_name, request.map_err(build_error)?)
            .send()
            .await
            .map_err(|e| unavailable("BatchGetItem", e))?;
        let found = output.responses.and_then(|mut by_table| by_table.remove(&self.table_name));
        let items = found.unwrap_or_default().into_iter().map(from_attributes).collect::<StoreResult<_>>()?;
        let unprocessed = output.unprocessed_keys.and_then(|mut by_table| by_table.remove(&self.table_name));
        Ok((items, unprocessed.map(|unprocessed| unprocessed.keys).unwrap_or_default()))
    }

    pub fn table_name(&self) -> &str {
        &self.table_name
    }

    /// Creates the table described by `schema` (tests, the local host) unless it exists, waits for
    /// it to become ACTIVE and enables TTL on `expiresAt`. Safe to call on every start.
    pub async fn create_table_if_missing(&self) -> StoreResult<()> {
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        };
        let key = |name: &str, key_type: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(build_error)
        };
        let mut attributes = vec![attribute(PK)?, attribute(SK)?];
        let mut indexes = Vec::new();
        for index in Index::ALL {
            attributes.push(attribute(index.attribute())?);
            indexes.push(
                LocalSecondaryIndex::builder()
                    .index_name(index.name())
                    .key_schema(key(PK, KeyType::Hash)?)
                    .key_schema(key(index.attribute(), KeyType::Range)?)
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(build_error)?,
            );
        }
        let created = self
            .client
            .create_table()
            .table_name(&self.table_name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attributes))
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .set_local_secondary_indexes(Some(indexes))
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), CreateTableError::ResourceInUseException(_)) => {}
            Err(e) => return Err(unavailable("CreateTable", e)),
        }
        self.wait_until_active().await?;
        self.enable_ttl().await
    }

    async fn wait_until_active(&self) -> StoreResult<()> {
        let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
        loop {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table_name)
                .send()
                .await
                .map_err(|e| unavailable("DescribeTable", e))?;
            let status = described.table().and_then(|t| t.table_status());
            if status == Some(&TableStatus::Active) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "table {} is not ACTIVE after {TABLE_ACTIVE_TIMEOUT:?} (status {status:?})",
                    self.table_name
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn enable_ttl(&self) -> StoreResult<()> {
        let described = self
            .client
            .describe_time_to_live()
            .table_name(&self.table_name)
            .send()
            .await
            .map_err(|e| unavailable("DescribeTimeToLive", e))?;
        let status = described.time_to_live_description().and_then(|d| d.time_to_live_status());
        if matches!(status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)) {
            return Ok(());
        }
        let specification = TimeToLiveSpecification::builder()
            .attribute_name(EXPIRES_AT)
            .enabled(true)
            .build()
            .map_err(build_error)?;
        match self
            .client
            .update_time_to_live()
            .table_name(&self.table_name)
            .time_to_live_specification(specification)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // A concurrent caller enabled it between our describe and update.
            Err(e) if e.message().is_some_and(|m| m.contains("already enabled")) => Ok(()),
            Err(e) => Err(unavailable("UpdateTimeToLive", e)),
        }
    }

    fn key_attributes(key: &Key) -> StoreResult<Attributes> {
        let mut item = Item::new();
        item.insert(PK.into(), Value::String(key.pk.clone()));
        item.insert(SK.into(), Value::String(key.sk.clone()));
        to_attributes(&item)
    }

    /// One transaction write in the SDK's shape.
    fn transact_item(&self, write: &Write, now: i64) -> StoreResult<TransactWriteItem> {
        let mut expr = Expressions::default();
        let item = match write {
            Write::Put { item, condition } => {
                let condition = expr.optional_condition(condition.as_ref(), now)?;
                let put = Put::builder()
                    .table_name(&self.table_name)
                    .set_item(Some(to_attributes(item)?))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().put(put)
            }
            Write::Update { key, update, condition } => {
                let update_expression = expr.update(update)?;
                let condition = expr.optional_condition(condition.as_ref(), now)?;
                let update = aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(Self::key_attributes(key)?))
                    .update_expression(update_expression)
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().update(update)
            }
            Write::Delete { key, condition } => {
                let condition = expr.optional_condition(condition.as_ref(), now)?;
                let delete = Delete::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(Self::key_attributes(key)?))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().delete(delete)
            }
            Write::Check { key, condition } => {
                let condition = expr.condition(condition, now)?;
                let check = ConditionCheck::builder()
                    .table_name(&self.table_name)
                    .set_key(Some(Self::key_attributes(key)?))
                    .condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check)
            }
        };
        Ok(item.build())
    }
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table_name)
            .set_key(Some(Self::key_attributes(key)?))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        let Some(attributes) = output.item else {
            return Ok(None);
        };
        let item = from_attributes(attributes)?;
        Ok((!is_expired(&item, unix_seconds())).then_some(item))
    }

    async fn get_many(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        let mut unique: Vec<&Key> = Vec::with_capacity(keys.len());
        for key in keys {
            // DynamoDB refuses a batch that names a key twice.
            if !unique.contains(&key) {
                unique.push(key);
            }
        }
        let mut found: HashMap<Key, Item> = HashMap::with_capacity(unique.len());
        for chunk in unique.chunks(BATCH_GET_LIMIT) {
            let mut pending =
                chunk.iter().map(|key| Self::key_attributes(key)).collect::<StoreResult<Vec<_>>>()?;
            for attempt in 0..MAX_ATTEMPTS {
                let items;
                (items, pending) = self.batch_get(pending).await?;
                found.extend(items.into_iter().filter_map(|item| Some((Key::of(&item)?, item))));
                if pending.is_empty() {
                    break;
                }
                // Keys DynamoDB left unprocessed (throttling, a response's size limit).
                tokio::time::sleep(backoff(attempt)).await;
            }
            if !pending.is_empty() {
                return Err(StoreError::Unavailable("BatchGetItem left keys unprocessed".into()));
            }
        }
        let now = unix_seconds();
        Ok(keys.iter().map(|key| found.get(key).filter(|item| !is_expired(item, now)).cloned()).collect())
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> StoreResult<()> {
        let attributes = to_attributes(&item)?;
        let mut expr = Expressions::default();
        let condition = expr.optional_condition(condition.as_ref(), unix_seconds())?;
        with_retries(|| async {
            self.client
                .put_item()
                .table_name(&self.table_name)
                .set_item(Some(attributes.clone()))
                .set_condition_expression(condition.clone())
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .send()
                .await
                .map(drop)
                .map_err(|e| classify("PutItem", e))
        })
        .await
    }

    async fn update(&self, key: &Key, update: Update, condition: Option<Condition>) -> StoreResult<Item> {
        let key = Self::key_attributes(key)?;
        let mut expr = Expressions::default();
        let update_expression = expr.update(&update)?;
        let condition = expr.optional_condition(condition.as_ref(), unix_seconds())?;
        let attributes = with_retries(|| async {
            self.client
                .update_item()
                .table_name(&self.table_name)
                .set_key(Some(key.clone()))
                .update_expression(update_expression.clone())
                .set_condition_expression(condition.clone())
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .return_values(ReturnValue::AllNew)
                .send()
                .await
                .map(|output| output.attributes)
                .map_err(|e| classify("UpdateItem", e))
        })
        .await?;
        let attributes = attributes
            .ok_or_else(|| StoreError::Unavailable("UpdateItem returned no attributes for ALL_NEW".into()))?;
        from_attributes(attributes)
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> StoreResult<()> {
        let key = Self::key_attributes(key)?;
        let mut expr = Expressions::default();
        let condition = expr.optional_condition(condition.as_ref(), unix_seconds())?;
        with_retries(|| async {
            self.client
                .delete_item()
                .table_name(&self.table_name)
                .set_key(Some(key.clone()))
                .set_condition_expression(condition.clone())
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .send()
                .await
                .map(drop)
                .map_err(|e| classify("DeleteItem", e))
        })
        .await
    }

    /// Keeps reading until the page is full or the partition is exhausted, so items dropped as
    /// expired do not shorten pages (an empty page with a cursor would end a cascade early).
    async fn query(&self, query: &Query) -> StoreResult<Page> {
        let sort_attribute = query.index.map_or(SK, Index::attribute);
        let mut expr = Expressions::default();
        let pk_name = expr.name(PK);
        let pk_value = expr.value(&Value::String(query.pk.clone()))?;
        let mut key_condition = format!("{pk_name} = {pk_value}");
        if !query.prefix.is_empty() {
            let sort_name = expr.name(sort_attribute);
            let prefix = expr.value(&Value::String(query.prefix.clone()))?;
            key_condition.push_str(&format!(" AND begins_with({sort_name}, {prefix})"));
        }
        let limit = query.limit.clamp(1, 1000);
        let mut start = match &query.cursor {
            Some(cursor) => {
                check_cursor(cursor, query)?;
                Some(to_attributes(&cursor.0)?)
            }
            None => None,
        };
        let mut items = Vec::new();
        loop {
            let remaining = i32::try_from(limit - items.len()).unwrap_or(1000);
            let output = self
                .client
                .query()
                .table_name(&self.table_name)
                .set_index_name(query.index.map(|index| index.name().to_owned()))
                .key_condition_expression(&key_condition)
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .consistent_read(true)
                .scan_index_forward(!query.descending)
                .limit(remaining)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("Query", e))?;
            let now = unix_seconds();
            for attributes in output.items.unwrap_or_default() {
                let item = from_attributes(attributes)?;
                if !is_expired(&item, now) {
                    items.push(item);
                }
            }
            start = output.last_evaluated_key;
            if items.len() >= limit || start.is_none() {
                break;
            }
        }
        let cursor = match start {
            Some(last) => Some(Cursor(
                serde_dynamo::from_item::<_, BTreeMap<String, String>>(last)
                    .map_err(|e| StoreError::Mapping(format!("LastEvaluatedKey: {e}")))?,
            )),
            None => None,
        };
        Ok(Page { items, cursor })
    }

    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let now = unix_seconds();
        let items =
            writes.iter().map(|write| self.transact_item(write, now)).collect::<StoreResult<Vec<_>>>()?;
        with_retries(|| async {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                // Makes the SDK's own resends of this attempt idempotent (a resent NotExists put
                // must not fail on its own first delivery); a new attempt gets a new token.
                .client_request_token(uuid::Uuid::now_v7().to_string())
                .send()
                .await;
            match sent {
                Ok(_) => Ok(()),
                Err(e) => Err(classify_transaction(e)),
            }
        })
        .await
    }

    fn counters(&self) -> &dyn Table {
        self
    }
}

/// Placeholders for one request's expressions: names as `#nN`, values as `:vN`, so no attribute
/// name or value is ever spliced into expression text.
#[derive(Default)]
struct Expressions {
    names: HashMap<String, String>,
    values: Attributes,
}

impl Expressions {
    fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, name)| *name == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: &Value) -> StoreResult<String> {
        let placeholder = format!(":v{}", self.values.len());
        let value =
            serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Mapping(e.to_string()))?;
        self.values.insert(placeholder.clone(), value);
        Ok(placeholder)
    }

    /// The request's names, `None` when there are none (DynamoDB rejects an empty map).
    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<Attributes> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    fn optional_condition(&mut self, condition: Option<&Condition>, now: i64) -> StoreResult<Option<String>> {
        condition.map(|c| self.condition(c, now)).transpose()
    }

    /// A condition expression. Every clause treats an expired item as absent, as reads do.
    /// Placeholders are created only for what the text uses: DynamoDB rejects unused ones.
    fn condition(&mut self, condition: &Condition, now: i64) -> StoreResult<String> {
        Ok(match condition {
            Condition::Exists => {
                let pk = self.name(PK);
                format!("attribute_exists({pk}) AND {}", self.live(now)?)
            }
            Condition::NotExists => {
                let pk = self.name(PK);
                format!("attribute_not_exists({pk}) OR {}", self.expired(now)?)
            }
            Condition::Equals(attribute, value) => {
                let name = self.name(attribute);
                let value = self.value(value)?;
                format!("{name} = {value} AND {}", self.live(now)?)
            }
            // An absent attribute (or an expired item) counts as 0.
            Condition::Below(attribute, bound) if *bound > 0 => {
                let name = self.name(attribute);
                let bound = self.value(&Value::from(*bound))?;
                let expired = self.expired(now)?;
                format!("attribute_not_exists({name}) OR {name} < {bound} OR {expired}")
            }
            Condition::Below(attribute, bound) => {
                let name = self.name(attribute);
                let bound = self.value(&Value::from(*bound))?;
                format!("{name} < {bound} AND {}", self.live(now)?)
            }
            Condition::AttributeAbsent(attribute) => {
                let name = self.name(attribute);
                format!("attribute_not_exists({name}) OR {}", self.expired(now)?)
            }
            Condition::OneOf(_, values) if values.is_empty() => {
                let pk = self.name(PK);
                format!("attribute_exists({pk}) AND attribute_not_exists({pk})")
            }
            Condition::OneOf(attribute, values) => {
                let name = self.name(attribute);
                let values = values.iter().map(|value| self.value(value)).collect::<StoreResult<Vec<_>>>()?;
                format!("{name} IN ({}) AND {}", values.join(", "), self.live(now)?)
            }
            Condition::All(parts) if parts.is_empty() => {
                let pk = self.name(PK);
                format!("attribute_exists({pk}) OR attribute_not_exists({pk})")
            }
            Condition::All(parts) => {
                let parts = parts
                    .iter()
                    .map(|part| Ok(format!("({})", self.condition(part, now)?)))
                    .collect::<StoreResult<Vec<_>>>()?;
                parts.join(" AND ")
            }
        })
    }

    /// The item has no TTL or it has not passed.
    fn live(&mut self, now: i64) -> StoreResult<String> {
        let expires = self.name(EXPIRES_AT);
        let now = self.value(&Value::from(now))?;
        Ok(format!("(attribute_not_exists({expires}) OR {expires} > {now})"))
    }

    /// The item's TTL has passed (false when it has none).
    fn expired(&mut self, now: i64) -> StoreResult<String> {
        let expires = self.name(EXPIRES_AT);
        let now = self.value(&Value::from(now))?;
        Ok(format!("{expires} <= {now}"))
    }

    /// `SET ... REMOVE ... ADD ...`; see `NOOP_ATTRIBUTE` for an empty update.
    fn update(&mut self, update: &Update) -> StoreResult<String> {
        let mut clauses = Vec::new();
        let mut sets = Vec::new();
        for (attribute, value) in &update.set {
            if attribute == PK || attribute == SK {
                continue;
            }
            let name = self.name(attribute);
            let value = self.value(value)?;
            sets.push(format!("{name} = {value}"));
        }
        if !sets.is_empty() {
            clauses.push(format!("SET {}", sets.join(", ")));
        }
        let mut removes: Vec<String> = update.remove.iter().map(|a| self.name(a)).collect();
        if update.remove.is_empty() && sets.is_empty() && update.add.is_empty() {
            removes.push(self.name(NOOP_ATTRIBUTE));
        }
        if !removes.is_empty() {
            clauses.push(format!("REMOVE {}", removes.join(", ")));
        }
        let mut adds = Vec::new();
        for (attribute, by) in &update.add {
            let name = self.name(attribute);
            let by = self.value(&Value::from(*by))?;
            adds.push(format!("{name} {by}"));
        }
        if !adds.is_empty() {
            clauses.push(format!("ADD {}", adds.join(", ")));
        }
        Ok(clauses.join(" "))
    }
}

/// How a failed request ends: for good, or worth another attempt.
enum Failure {
    Fatal(StoreError),
    Retry(String),
}

/// Runs `attempt` until it succeeds or fails for good, backing off (jittered, exponential) between
/// retries; a conflict that outlasts `MAX_ATTEMPTS` becomes `StoreError::Conflict`.
async fn with_retries<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    for number in 0..MAX_ATTEMPTS {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(Failure::Fatal(error)) => return Err(error),
            Err(Failure::Retry(reason)) => {
                tracing::debug!(attempt = number, %reason, "retrying a conflicting write");
                tokio::time::sleep(backoff(number)).await;
            }
        }
    }
    Err(StoreError::Conflict)
}

fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_START_MS.saturating_mul(1 << attempt.min(16)).min(BACKOFF_CAP_MS);
    Duration::from_millis(rand::thread_rng().gen_range(ceiling / 2..=ceiling))
}

/// Error codes that mean "another writer got there first / slow down": safe to retry, since the
/// request was not applied.
fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "TransactionConflictException"
            | "TransactionInProgressException"
            | "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
    )
}

/// A single-item write's error.
fn classify<E, R>(operation: &str, error: SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.code() {
        Some("ConditionalCheckFailedException") => {
            Failure::Fatal(StoreError::ConditionFailed { write: None })
        }
        Some(code) if is_retryable_code(code) => Failure::Retry(code.to_owned()),
        _ => Failure::Fatal(unavailable(operation, error)),
    }
}

/// A transaction's error: a failed condition names its write, conflicts and throttling retry.
fn classify_transaction<R: std::fmt::Debug>(error: SdkError<TransactWriteItemsError, R>) -> Failure {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() {
        let codes: Vec<&str> =
            cancelled.cancellation_reasons().iter().map(|reason| reason.code().unwrap_or("None")).collect();
        if let Some(index) = codes.iter().position(|code| *code == "ConditionalCheckFailed") {
            return Failure::Fatal(StoreError::ConditionFailed { write: Some(index) });
        }
        let retryable = |code: &&str| {
            matches!(*code, "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded")
        };
        if codes.iter().any(retryable) {
            return Failure::Retry(format!("transaction cancelled: {codes:?}"));
        }
        return Failure::Fatal(StoreError::Unavailable(format!(
            "TransactWriteItems cancelled ({codes:?}): {}",
            DisplayErrorContext(&error)
        )));
    }
    match error.code() {
        Some(code) if is_retryable_code(code) => Failure::Retry(code.to_owned()),
        _ => Failure::Fatal(unavailable("TransactWriteItems", error)),
    }
}

/// A cursor positions a query only where a page of it ended (`Cursor::fits`): DynamoDB would
/// refuse any other start key as a validation error.
fn check_cursor(cursor: &Cursor, query: &Query) -> StoreResult<()> {
    if cursor.fits(query) { Ok(()) } else { Err(StoreError::InvalidCursor) }
}

fn to_attributes<T: serde::Serialize>(value: &T) -> StoreResult<Attributes> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Mapping(e.to_string()))
}

fn from_attributes(attributes: Attributes) -> StoreResult<Item> {
    serde_dynamo::from_item(attributes).map_err(|e| StoreError::Mapping(e.to_string()))
}

fn unavailable<E, R>(operation: &str, error: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(format!("DynamoDB {operation} failed: {}", DisplayErrorContext(&error)))
}

fn build_error(error: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("invalid DynamoDB request: {error}"))
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;

    use std::collections::HashSet;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use axum::extract::ConnectInfo;

    use super::*;

    fn cancelled(codes: &[&str]) -> SdkError<TransactWriteItemsError, ()> {
        let mut exception = TransactionCanceledException::builder().message("cancelled");
        for code in codes {
            exception = exception.cancellation_reasons(CancellationReason::builder().code(*code).build());
        }
        SdkError::service_error(TransactWriteItemsError::TransactionCanceledException(exception.build()), ())
    }

    #[test]
    fn cancellation_reasons_decide_the_outcome() {
        let failed = classify_transaction(cancelled(&["None", "ConditionalCheckFailed"]));
        assert!(matches!(failed, Failure::Fatal(StoreError::ConditionFailed { write: Some(1) })));
        let both = classify_transaction(cancelled(&["TransactionConflict", "ConditionalCheckFailed"]));
        assert!(matches!(both, Failure::Fatal(StoreError::ConditionFailed { write: Some(1) })));
        let conflict = classify_transaction(cancelled(&["None", "TransactionConflict"]));
        assert!(matches!(conflict, Failure::Retry(_)));
        let throttled = classify_transaction(cancelled(&["ThrottlingError", "None"]));
        assert!(matches!(throttled, Failure::Retry(_)));
        let invalid = classify_transaction(cancelled(&["ValidationError"]));
        assert!(matches!(invalid, Failure::Fatal(StoreError::Unavailable(_))));
    }

    #[test]
    fn backoff_grows_with_jitter_and_stays_bounded() {
        for attempt in 0..MAX_ATTEMPTS {
            let delay = u64::try_from(backoff(attempt).as_millis()).unwrap();
            let ceiling = (BACKOFF_START_MS << attempt.min(16)).min(BACKOFF_CAP_MS);
            assert!((ceiling / 2..=ceiling).contains(&delay), "attempt {attempt}: {delay} ms");
        }
    }

    #[tokio::test]
    async fn retries_until_success_and_stops_on_a_fatal_error() {
        let mut calls = 0;
        let result = with_retries(|| {
            calls += 1;
            let outcome = if calls < 3 { Err(Failure::Retry("conflict".into())) } else { Ok(calls) };
            async move { outcome }
        })
        .await;
        assert_eq!(result.unwrap(), 3);

        let mut calls = 0;
        let result: StoreResult<()> = with_retries(|| {
            calls += 1;
            async { Err(Failure::Fatal(StoreError::ConditionFailed { write: None })) }
        })
        .await;
        assert!(result.unwrap_err().is_condition_failed());
        assert_eq!(calls, 1);
    }

    /// Counts the connections it accepts.
    struct CountingListener(tokio::net::TcpListener, Arc<AtomicUsize>);

    impl axum::serve::Listener for CountingListener {
        type Io = tokio::net::TcpStream;
        type Addr = SocketAddr;

        async fn accept(&mut self) -> (Self::Io, Self::Addr) {
            loop {
                if let Ok(accepted) = self.0.accept().await {
                    self.1.fetch_add(1, Ordering::SeqCst);
                    return accepted;
                }
            }
        }

        fn local_addr(&self) -> std::io::Result<SocketAddr> {
            self.0.local_addr()
        }
    }

    /// A call's client address, on a `CountingListener`.
    #[derive(Clone, Copy)]
    struct Peer(SocketAddr);

    impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, CountingListener>> for Peer {
        fn connect_info(stream: axum::serve::IncomingStream<'_, CountingListener>) -> Self {
            Self(*stream.remote_addr())
        }
    }

    /// A DynamoDB endpoint on loopback that answers every call `{}` (an absent item) after a
    /// moment; it counts the connections it accepts and records each call's client address.
    async fn counting_endpoint()
    -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<SocketAddr>>>, tokio::task::JoinHandle<()>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let answer = move |ConnectInfo(Peer(peer)): ConnectInfo<Peer>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(peer);
                // Long enough that calls sent at once are all in flight together.
                tokio::time::sleep(Duration::from_millis(50)).await;
                ([(http::header::CONTENT_TYPE, "application/x-amz-json-1.0")], "{}")
            }
        };
        let app = axum::Router::new().route("/", axum::routing::post(answer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let listener = CountingListener(listener, accepted.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app.into_make_service_with_connect_info::<Peer>()).await;
        });
        (endpoint, accepted, calls, server)
    }

    /// A DynamoDB endpoint on loopback whose `BatchGetItem` answers every key of a call but the
    /// last, which it leaves unprocessed (as DynamoDB does when throttled or past its response
    /// size), until a call names one key. It holds `stored` (items in DynamoDB's JSON) and records
    /// the keys each call named.
    async fn stingy_batch_endpoint(
        stored: Vec<serde_json::Value>,
    ) -> (String, Arc<Mutex<Vec<Vec<serde_json::Value>>>>, tokio::task::JoinHandle<()>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let answer = move |body: axum::body::Bytes| {
            let request: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let (table, asked) = request["RequestItems"]
                .as_object()
                .and_then(|tables| tables.iter().next())
                .map(|(table, asked)| (table.clone(), asked["Keys"].as_array().cloned().unwrap_or_default()))
                .unwrap_or_default();
            seen.lock().unwrap().push(asked.clone());
            let split = if asked.len() > 1 { asked.len() - 1 } else { asked.len() };
            let (answered, left) = asked.split_at(split);
            let found: Vec<&serde_json::Value> = stored
                .iter()
                .filter(|item| answered.iter().any(|key| key["pk"] == item["pk"] && key["sk"] == item["sk"]))
                .collect();
            let unprocessed = if left.is_empty() {
                serde_json::json!({})
            } else {
                serde_json::json!({ table.clone(): { "Keys": left, "ConsistentRead": true } })
            };
            let body = serde_json::json!({ "Responses": { table: found }, "UnprocessedKeys": unprocessed });
            async move { ([(http::header::CONTENT_TYPE, "application/x-amz-json-1.0")], body.to_string()) }
        };
        let app = axum::Router::new().route("/", axum::routing::post(answer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (endpoint, calls, server)
    }

    #[tokio::test]
    async fn get_many_sends_the_keys_left_unprocessed_again() {
        let item =
            |sk: &str| serde_json::json!({ "pk": { "S": "USER#u" }, "sk": { "S": sk }, "n": { "N": "1" } });
        let (endpoint, calls, server) = stingy_batch_endpoint(vec![item("A"), item("B")]).await;
        let table = DynamoTable::connect(Some(&endpoint), "t").await;
        let keys = [Key::new("USER#u", "A"), Key::new("USER#u", "C"), Key::new("USER#u", "B")];
        let answers = table.get_many(&keys).await;
        server.abort();

        let answers = answers.expect("every key answered in the end");
        let sort_keys: Vec<Option<&str>> = answers
            .iter()
            .map(|answer| answer.as_ref().and_then(|item| item.get(SK)).and_then(Value::as_str))
            .collect();
        assert_eq!(sort_keys, [Some("A"), None, Some("B")], "in the order asked");
        let calls = calls.lock().unwrap().clone();
        let named = |call: &Vec<serde_json::Value>| -> Vec<String> {
            call.iter().map(|key| key["sk"]["S"].as_str().unwrap_or_default().to_owned()).collect()
        };
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(named(&calls[0]), ["A", "C", "B"]);
        assert_eq!(named(&calls[1]), ["B"], "only what was left");
    }

    #[tokio::test]
    async fn priming_opens_the_connections_a_first_requests_calls_use_and_sends_nothing() {
        for connections in [2, 4] {
            let (endpoint, accepted, calls, server) = counting_endpoint().await;
            let table = DynamoTable::connect(Some(&endpoint), "primed").await;
            table.prime(connections).await;
            // The server accepts what the client's connect already completed.
            for _ in 0..100 {
                if accepted.load(Ordering::SeqCst) >= connections {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let primed = accepted.load(Ordering::SeqCst);
            let calls_primed = calls.lock().unwrap().len();

            let table = &table;
            let reads = (0..connections).map(|n| {
                let key = Key::new("USER#u", format!("JOBINFO#{n}"));
                async move { table.get(&key).await }
            });
            let answers = futures::future::join_all(reads).await;
            let after = accepted.load(Ordering::SeqCst);
            let peers: HashSet<SocketAddr> = calls.lock().unwrap().iter().copied().collect();
            server.abort();

            assert_eq!(primed, connections);
            assert_eq!(calls_primed, 0, "opening connections sends no call");
            assert!(answers.iter().all(|answer| matches!(answer, Ok(None))), "{answers:?}");
            assert_eq!(after, connections, "the calls at once found their connections open");
            assert_eq!(peers.len(), connections, "one call on each");
        }
    }

    /// An SDK HTTP client that records where each request goes and fails it.
    #[derive(Debug, Clone)]
    struct Recording(Arc<Mutex<Vec<String>>>);

    impl HttpClient for Recording {
        fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    impl HttpConnector for Recording {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            self.0.lock().unwrap().push(request.uri().to_owned());
            HttpConnectorFuture::ready(Err(ConnectorError::user("recorded".into())))
        }
    }

    #[tokio::test]
    async fn the_prime_goes_where_the_sdk_sends_the_calls() {
        let http = crate::aws_sdk::AwsHttpClient::new(rustls::RootCertStore::empty());
        let env = |region: &'static str| {
            move |name: &str| match name {
                "AWS_REGION" => Some(region.to_owned()),
                "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".to_owned()),
                _ => None,
            }
        };
        let config = crate::aws_sdk::environment_config(env("eu-west-1"), None, http.clone());
        assert_eq!(origin(&config).await, Some(Uri::from_static("https://dynamodb.eu-west-1.amazonaws.com")));
        // And the SDK's own call goes there too (answered with an error by a client that records it).
        let sent = Arc::new(Mutex::new(Vec::new()));
        let recording = config.to_builder().http_client(Recording(sent.clone())).build();
        let _ = DynamoTable::new(Client::new(&recording), "t").get(&Key::new("a", "b")).await;
        let sent = sent.lock().unwrap().clone();
        let first: Uri = sent.first().expect("the SDK sent its call").parse().unwrap();
        let primed = origin(&config).await.unwrap();
        assert_eq!((first.scheme(), first.authority()), (primed.scheme(), primed.authority()));
        let config = crate::aws_sdk::environment_config(env("cn-north-1"), None, http.clone());
        assert_eq!(
            origin(&config).await,
            Some(Uri::from_static("https://dynamodb.cn-north-1.amazonaws.com.cn"))
        );
        let config = crate::aws_sdk::environment_config(env(""), Some("http://127.0.0.1:8000"), http.clone());
        assert_eq!(origin(&config).await, Some(Uri::from_static("http://127.0.0.1:8000")));
        let config = crate::aws_sdk::environment_config(env(""), None, http);
        assert_eq!(origin(&config).await, None, "no region: nowhere to go");
    }

    #[test]
    fn expressions_use_placeholders_only() {
        let mut expr = Expressions::default();
        let condition = Condition::All(vec![
            Condition::Exists,
            Condition::equals("version", 3),
            Condition::Below("questions".into(), 5),
            Condition::AttributeAbsent("deletedAt".into()),
        ]);
        let text = expr.condition(&condition, 1_000).unwrap();
        for word in ["version", "questions", "deletedAt", "expiresAt", "1000"] {
            assert!(!text.contains(word), "{word} inlined in {text}");
        }
        let names = expr.names().unwrap();
        let values = expr.values().unwrap();
        // Every placeholder defined is used, as DynamoDB requires.
        for placeholder in names.keys().chain(values.keys()) {
            assert!(text.contains(placeholder.as_str()), "{placeholder} unused in {text}");
        }
        assert_eq!(names.len(), 5);

        let mut expr = Expressions::default();
        let update = Update::new().set("pk", "ignored").set("title", "t").remove("old").add("version", 1);
        assert_eq!(expr.update(&update).unwrap(), "SET #n0 = :v0 REMOVE #n1 ADD #n2 :v1");
        assert_eq!(expr.names().unwrap().len(), 3);

        let mut expr = Expressions::default();
        assert_eq!(expr.update(&Update::new()).unwrap(), "REMOVE #n0");
        assert_eq!(expr.names().unwrap()["#n0"], NOOP_ATTRIBUTE);
        assert!(expr.values().is_none());
    }
}
