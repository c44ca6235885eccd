//! A page's items as their backend holds them, decoded once by the reader into its own type.
//!
//! The port's `Item` is a JSON map, which every reader then maps into its struct: for the
//! embedded store, which keeps items as JSON text, that is two decodings of every item of every
//! list (text into a map, the map into the struct), most of a warm list request. A `Record` of
//! that store is the text itself; DynamoDB's stays the decoded attributes.

use std::fmt;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::{
    Cursor, Index, Item, PK, SK, StoreError, StoreResult, cut_at, from_item, json_len, json_len_bound,
};

/// One item of a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Attributes already decoded (DynamoDB's, through serde_dynamo).
    Item(Item),
    /// The item's JSON as stored.
    Json(Box<str>),
}

impl Record {
    /// The item as a struct; key and index attributes are ignored unless the struct names them.
    pub fn decode<T: DeserializeOwned>(self) -> StoreResult<T> {
        match self {
            Self::Item(item) => from_item(item),
            Self::Json(text) => serde_json::from_str(&text).map_err(|e| StoreError::Mapping(e.to_string())),
        }
    }

    /// The item as attributes.
    pub fn into_item(self) -> StoreResult<Item> {
        match self {
            Self::Item(item) => Ok(item),
            Self::Json(_) => self.decode(),
        }
    }

    /// Whether the item has `attribute` (whatever its value).
    pub fn has(&self, attribute: &str) -> bool {
        match self {
            Self::Item(item) => item.contains_key(attribute),
            // The text was written by serde_json, which escapes no letter or digit: a name that is
            // not in it at all is no attribute of it (the usual case: no further pass).
            Self::Json(text) if !text.contains(attribute) => false,
            Self::Json(text) => attributes(text, &[attribute]).is_ok_and(|found| !found.is_empty()),
        }
    }

    fn json_len(&self) -> usize {
        match self {
            Self::Item(item) => json_len(item),
            Self::Json(text) => text.len(),
        }
    }

    fn json_len_bound(&self) -> usize {
        match self {
            Self::Item(item) => json_len_bound(item),
            Self::Json(text) => text.len(),
        }
    }

    /// The cursor that resumes after this item in a query over `index` (read from the text only
    /// for the one item a page ends on).
    pub(super) fn position(&self, index: Option<Index>) -> Option<Cursor> {
        match self {
            Self::Item(item) => Cursor::after_item(item, index),
            Self::Json(text) => {
                let names = [Some(PK), Some(SK), index.map(Index::attribute)];
                let names: Vec<&str> = names.into_iter().flatten().collect();
                Cursor::after_item(&attributes(text, &names).ok()?, index)
            }
        }
    }
}

/// One page of records.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPage {
    pub records: Vec<Record>,
    /// Present when more items may follow.
    pub cursor: Option<Cursor>,
}

impl RecordPage {
    /// As `Page::bounded`.
    pub fn bounded(mut self, index: Option<Index>, budget: usize) -> Self {
        if let Some(keep) = cut_at(&self.records, budget, Record::json_len_bound, Record::json_len) {
            self.records.truncate(keep);
            self.cursor = self.records.last().and_then(|last| last.position(index));
        }
        self
    }
}

/// The attributes named in `names` that the JSON object `text` holds, read without decoding the
/// others (the embedded store's keys, sort attributes and expiry of each stored item).
pub(crate) fn attributes(text: &str, names: &[&str]) -> serde_json::Result<Item> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let found = deserializer.deserialize_map(Wanted(names))?;
    deserializer.end()?;
    Ok(found)
}

/// Collects the wanted attributes of a map, skipping the rest.
struct Wanted<'n>(&'n [&'n str]);

impl<'de> Visitor<'de> for Wanted<'_> {
    type Value = Item;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a stored item (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut found = Item::new();
        while let Some(wanted) = map.next_key_seed(Which(self.0))? {
            match wanted {
                Some(name) => {
                    found.insert(name.to_owned(), map.next_value::<Value>()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// A key: which of the wanted names it is, if any (compared without allocating).
struct Which<'n>(&'n [&'n str]);

impl<'de, 'n> DeserializeSeed<'de> for Which<'n> {
    type Value = Option<&'n str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 'n> Visitor<'de> for Which<'n> {
    type Value = Option<&'n str>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an attribute name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().copied().find(|name| *name == key))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_wanted_attributes_are_read() {
        let text = r#"{"pk":"USER#u","sk":"JOB#1","n\u0061me":"x","nested":{"pk":"inner"},"expiresAt":12}"#;
        let found = attributes(text, &["pk", "expiresAt", "name", "absent"]).unwrap();
        let expected = json!({"pk": "USER#u", "expiresAt": 12, "name": "x"});
        assert_eq!(Value::Object(found), expected, "an escaped key matches too; nested keys do not");
        assert!(attributes("[1]", &["pk"]).is_err());
        assert!(attributes(r#"{"pk":"a"} trailing"#, &["pk"]).is_err());
    }

    #[test]
    fn a_json_record_decodes_and_answers_as_its_item_does() {
        let item: Item =
            serde_json::from_value(json!({"pk": "USER#u", "sk": "JOB#1", "deleting": null, "n": 1})).unwrap();
        let text: Box<str> = serde_json::to_string(&item).unwrap().into();
        let json = Record::Json(text);
        let decoded = Record::Item(item.clone());
        assert!(json.has("deleting") && decoded.has("deleting"), "present with a null value");
        assert!(!json.has("name") && !decoded.has("name"));
        let nested = Record::Json(r#"{"pk":"USER#u","inner":{"name":1},"note":"name"}"#.into());
        assert!(!nested.has("name"), "in the text, but no attribute of the item");
        assert_eq!(json.json_len(), decoded.json_len());
        assert_eq!(json.clone().into_item().unwrap(), item);
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Counted {
            n: u32,
        }
        assert_eq!(json.decode::<Counted>().unwrap(), Counted { n: 1 });
        assert_eq!(decoded.decode::<Counted>().unwrap(), Counted { n: 1 });
    }

    #[test]
    fn a_page_of_json_records_is_cut_at_the_budget_and_resumes_after_the_last_kept() {
        let record = |n: usize| {
            Record::Json(format!(r#"{{"pk":"USER#u","sk":"JOB#{n}","text":"{}"}}"#, "x".repeat(1000)).into())
        };
        let page = RecordPage { records: (0..5).map(record).collect(), cursor: None }.bounded(None, 2500);
        assert_eq!(page.records.len(), 2);
        let after_second =
            Cursor([("pk".to_owned(), "USER#u".to_owned()), ("sk".to_owned(), "JOB#1".to_owned())].into());
        assert_eq!(page.cursor, Some(after_second));
        let whole = RecordPage { records: (0..5).map(record).collect(), cursor: None }.bounded(None, 10_000);
        assert_eq!((whole.records.len(), whole.cursor), (5, None));
    }
}
