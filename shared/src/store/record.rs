//! A page's items as their backend holds them, decoded once by the reader into its own type.
//!
//! The port's `Item` is a JSON map, which every reader then maps into its struct: for the
//! embedded store, which keeps items as JSON text, that is two decodings of every item of every
//! list (text into a map, the map into the struct), most of a warm list request. A `Record` of
//! that store is the text itself, read once for where its attributes sit (`Indexed`); DynamoDB's
//! stays the decoded attributes.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{Cursor, Index, Item, StoreError, StoreResult, cut_at, from_item, json_len, json_len_bound};

/// One item of a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Attributes already decoded (DynamoDB's, through serde_dynamo).
    Item(Item),
    /// The item's JSON as stored, with where each attribute sits in it.
    Json(JsonItem),
}

impl Record {
    /// The item as a struct; key and index attributes are ignored unless the struct names them.
    pub fn decode<T: DeserializeOwned>(self) -> StoreResult<T> {
        match self {
            Self::Item(item) => from_item(item),
            Self::Json(json) => {
                serde_json::from_str(json.text()).map_err(|e| StoreError::Mapping(e.to_string()))
            }
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
            Self::Json(json) => json.raw(attribute).is_some(),
        }
    }

    fn json_len(&self) -> usize {
        match self {
            Self::Item(item) => json_len(item),
            Self::Json(json) => json.text().len(),
        }
    }

    fn json_len_bound(&self) -> usize {
        match self {
            Self::Item(item) => json_len_bound(item),
            Self::Json(json) => json.text().len(),
        }
    }

    /// The cursor that resumes after this item in a query over `index`.
    pub(super) fn position(&self, index: Option<Index>) -> Option<Cursor> {
        match self {
            Self::Item(item) => Cursor::after_item(item, index),
            Self::Json(json) => Cursor::after(index, |name| json.str(name).map(Cow::into_owned)),
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

/// A stored item as its JSON text, owned and shared (a clone counts a reference): what a page of
/// the embedded store hands out, and what it keeps to read the same item again without a parse.
pub type JsonItem = Indexed<Arc<str>>;

/// A JSON object's text with where each of its attributes sits in it, found in one pass (serde_json
/// checks the whole text on the way). Keys, a sort attribute, a flag or the fields an answer copies
/// are then looked up, not parsed again: the embedded store's list requests read every item of a
/// partition for its keys, and copy most of each listed one into the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed<T> {
    text: T,
    attributes: Arc<[Attribute]>,
}

/// Where one attribute of an `Indexed` text is.
#[derive(Debug, Clone, PartialEq)]
struct Attribute {
    tag: Tag,
    name: Name,
    /// The value's JSON, as a byte range of the text.
    value: Range<usize>,
}

/// A name's length and first eight bytes: one comparison of these tells most names apart, and
/// settles names of up to eight bytes. A lookup compares them before any name's bytes (a list
/// looks up a dozen names in each of its items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tag {
    len: usize,
    head: u64,
}

impl Tag {
    const fn of(name: &str) -> Self {
        let bytes = name.as_bytes();
        let head = if let [a, b, c, d, e, f, g, h, ..] = *bytes {
            // One load: most names are this long.
            [a, b, c, d, e, f, g, h]
        } else {
            let mut head = [0u8; 8];
            let mut at = 0;
            while at < bytes.len() {
                head[at] = bytes[at];
                at += 1;
            }
            head
        };
        Self { len: bytes.len(), head: u64::from_le_bytes(head) }
    }

    /// Whether equal tags mean equal names.
    fn is_whole_name(self) -> bool {
        self.len <= 8
    }
}

/// An attribute's name: a range of the text, or the name itself when the text escapes some of it
/// (serde_json writes the names of our attributes as they are, so that is for others' texts).
#[derive(Debug, Clone, PartialEq)]
enum Name {
    At(Range<usize>),
    Unescaped(Box<str>),
}

/// One attribute of the object `Indexed::copy_object` writes. Its name is plain (ASCII letters,
/// digits, `_`), so it is written as it is: the constructors refuse any other, at compile time when
/// the field list is a `const`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    name: &'static str,
    tag: Tag,
    /// Whether the text must hold it; if not, it is written as `null` when absent (an `Option`
    /// that serde writes as `null`).
    required: bool,
}

impl Copied {
    /// A field the text must hold.
    pub const fn required(name: &'static str) -> Self {
        Self::new(name, true)
    }

    /// A field written as `null` when the text does not hold it.
    pub const fn or_null(name: &'static str) -> Self {
        Self::new(name, false)
    }

    const fn new(name: &'static str, required: bool) -> Self {
        assert!(is_plain(name), "a copied field's name must be ASCII letters, digits or `_`");
        Self { name, tag: Tag::of(name), required }
    }
}

/// Whether `name` is non-empty ASCII letters, digits and `_`: JSON without any escape.
const fn is_plain(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if !(bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            return false;
        }
        at += 1;
    }
    !bytes.is_empty()
}

impl<'t> Indexed<&'t str> {
    /// Indexes the JSON object `text`; an error when it is not one.
    pub fn read(text: &'t str) -> serde_json::Result<Self> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let attributes = deserializer.deserialize_map(Spans { base: text.as_ptr() as usize })?;
        deserializer.end()?;
        Ok(Self { text, attributes: attributes.into() })
    }

    /// The same, owning a copy of the text.
    pub fn into_owned(self) -> JsonItem {
        Indexed { text: self.text.into(), attributes: self.attributes }
    }
}

impl<T: AsRef<str>> Indexed<T> {
    pub fn text(&self) -> &str {
        self.text.as_ref()
    }

    /// About the memory it holds: its text and its index.
    pub fn footprint(&self) -> usize {
        self.text().len() + std::mem::size_of_val(&*self.attributes)
    }

    /// `name`'s value as JSON text, if the object holds it.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.raw_tagged(name, Tag::of(name))
    }

    /// `raw`, with `name`'s tag at hand.
    fn raw_tagged(&self, name: &str, tag: Tag) -> Option<&str> {
        let text = self.text();
        // The last of a repeated name, as serde_json's decoding keeps it.
        let found = self.attributes.iter().rev().find(|attribute| {
            attribute.tag == tag
                && (tag.is_whole_name()
                    || match &attribute.name {
                        Name::At(range) => &text[range.clone()] == name,
                        Name::Unescaped(unescaped) => &**unescaped == name,
                    })
        })?;
        Some(&text[found.value.clone()])
    }

    /// `name`'s value when it is a string (borrowed from the text unless it has escapes).
    pub fn str(&self, name: &str) -> Option<Cow<'_, str>> {
        let raw = self.raw(name)?;
        match raw.strip_prefix('"').and_then(|inner| inner.strip_suffix('"')) {
            Some(inner) if !inner.contains('\\') => Some(Cow::Borrowed(inner)),
            Some(_) => serde_json::from_str::<String>(raw).ok().map(Cow::Owned),
            None => None,
        }
    }

    /// `name`'s value when it is an integer.
    pub fn i64(&self, name: &str) -> Option<i64> {
        serde_json::from_str(self.raw(name)?).ok()
    }

    /// A JSON object of the `fields` named, each value copied as the text writes it, in that
    /// order; `None` when a required one is missing. Nothing is decoded or encoded again, and the
    /// object is valid JSON by construction: each value is a whole value serde_json checked when
    /// it read the text, and each name needs no escape (`Copied` holds no other).
    pub fn copy_object(&self, fields: &[Copied]) -> Option<String> {
        let mut object = String::with_capacity(self.text().len());
        for (at, field) in fields.iter().enumerate() {
            let value = match self.raw_tagged(field.name, field.tag) {
                Some(value) => value,
                None if field.required => return None,
                None => "null",
            };
            object.push_str(if at == 0 { "{\"" } else { ",\"" });
            object.push_str(field.name);
            object.push_str("\":");
            object.push_str(value);
        }
        object.push('}');
        Some(object)
    }
}

/// Reads an object's attributes as ranges of the text starting at `base`. Every `'de` slice the
/// deserializer hands out (borrowed names, `&RawValue`s) is part of that text, the only input.
struct Spans {
    base: usize,
}

impl Spans {
    fn range(&self, part: &str) -> Range<usize> {
        let start = part.as_ptr() as usize - self.base;
        start..start + part.len()
    }
}

impl<'de> Visitor<'de> for Spans {
    type Value = Vec<Attribute>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a stored item (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut attributes = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some(name) = map.next_key_seed(NameSeed(&self))? {
            let value: &'de RawValue = map.next_value()?;
            let (tag, name) = name;
            attributes.push(Attribute { tag, name, value: self.range(value.get()) });
        }
        Ok(attributes)
    }
}

/// A name's tag and the name: its range when the text holds it as it is, else the unescaped name.
struct NameSeed<'s>(&'s Spans);

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = (Tag, Name);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(Tag, Name), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameSeed<'_> {
    type Value = (Tag, Name);

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an attribute name")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, name: &'de str) -> Result<(Tag, Name), E> {
        Ok((Tag::of(name), Name::At(self.0.range(name))))
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<(Tag, Name), E> {
        Ok((Tag::of(name), Name::Unescaped(name.into())))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn json(text: &str) -> Record {
        Record::Json(Indexed::read(text).unwrap().into_owned())
    }

    #[test]
    fn an_indexed_text_finds_its_own_attributes_only() {
        let text = r#"{"pk":"USER#u","sk":"JOB\"!1","n\u0061me":"x","nested":{"pk":"inner"},"expiresAt":12,"f":1.5}"#;
        let indexed = Indexed::read(text).unwrap();
        assert_eq!(indexed.str("pk").as_deref(), Some("USER#u"));
        assert_eq!(indexed.str("sk").as_deref(), Some("JOB\"!1"), "an escaped value is decoded");
        assert_eq!(indexed.str("name").as_deref(), Some("x"), "an escaped name is found by its name");
        assert_eq!(indexed.raw("nested"), Some(r#"{"pk":"inner"}"#), "nested names are not attributes");
        assert_eq!((indexed.i64("expiresAt"), indexed.i64("f"), indexed.i64("pk")), (Some(12), None, None));
        assert_eq!((indexed.str("expiresAt"), indexed.raw("absent")), (None, None));
        assert_eq!(
            Indexed::read(r#"{"a":1,"a":2}"#).unwrap().raw("a"),
            Some("2"),
            "the last one, as decoding keeps"
        );
        assert!(Indexed::read("[1]").is_err());
        assert!(Indexed::read(r#"{"pk":"a"} trailing"#).is_err());
        assert!(Indexed::read(r#"{"pk":"a""#).is_err());
    }

    #[test]
    fn an_object_copied_from_the_text_keeps_each_value_as_written() {
        let indexed = Indexed::read(r#"{"b":"x\"y","pk":"P","a":[1,{"c":null}],"n":null,"q\"":1}"#).unwrap();
        let fields = [Copied::required("a"), Copied::or_null("t"), Copied::required("b")];
        let copied = indexed.copy_object(&fields).unwrap();
        assert_eq!(copied, r#"{"a":[1,{"c":null}],"t":null,"b":"x\"y"}"#);
        assert!(serde_json::from_str::<serde_json::Value>(&copied).is_ok(), "valid JSON");
        assert!(indexed.copy_object(&[Copied::required("t")]).is_none(), "a required field is missing");
        assert_eq!(indexed.copy_object(&[Copied::required("n")]).unwrap(), r#"{"n":null}"#);
    }

    #[test]
    #[should_panic(expected = "must be ASCII letters, digits or `_`")]
    fn a_copied_name_needing_an_escape_is_refused() {
        let _ = Copied::required("q\"");
    }

    #[test]
    fn names_sharing_their_first_eight_bytes_are_told_apart() {
        let indexed = Indexed::read(r#"{"updatedAt":1,"updatedKey":2,"updated":3,"updatedA":4}"#).unwrap();
        assert_eq!(indexed.raw("updatedAt"), Some("1"));
        assert_eq!(indexed.raw("updatedKey"), Some("2"));
        assert_eq!((indexed.raw("updated"), indexed.raw("updatedA")), (Some("3"), Some("4")));
        assert_eq!((indexed.raw("updatedAx"), indexed.raw("update"), indexed.raw("")), (None, None, None));
    }

    #[test]
    fn a_json_record_decodes_and_answers_as_its_item_does() {
        let item: Item =
            serde_json::from_value(json!({"pk": "USER#u", "sk": "JOB#1", "deleting": null, "n": 1})).unwrap();
        let text = serde_json::to_string(&item).unwrap();
        let json = json(&text);
        let decoded = Record::Item(item.clone());
        assert!(json.has("deleting") && decoded.has("deleting"), "present with a null value");
        assert!(!json.has("name") && !decoded.has("name"));
        let nested = self::json(r#"{"pk":"USER#u","inner":{"name":1},"note":"name"}"#);
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
        let record =
            |n: usize| json(&format!(r#"{{"pk":"USER#u","sk":"JOB#{n}","text":"{}"}}"#, "x".repeat(1000)));
        let page = RecordPage { records: (0..5).map(record).collect(), cursor: None }.bounded(None, 2500);
        assert_eq!(page.records.len(), 2);
        let after_second =
            Cursor([("pk".to_owned(), "USER#u".to_owned()), ("sk".to_owned(), "JOB#1".to_owned())].into());
        assert_eq!(page.cursor, Some(after_second));
        let whole = RecordPage { records: (0..5).map(record).collect(), cursor: None }.bounded(None, 10_000);
        assert_eq!((whole.records.len(), whole.cursor), (5, None));
    }
}
