//! Clerk's events as deliveries carry them: the envelope, the user of `user.created` and
//! `user.updated` (turned into our profile), the id of `user.deleted`. Unknown fields are
//! tolerated: Clerk adds fields over time.

use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use super::MAX_USER_ID;
use super::verify::Rejection;
use crate::users::Profile;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `user.created` / `user.updated`: store the profile unless a newer one is stored.
    Upsert { kind: String, profile: Profile, clerk_updated_at: i64 },
    /// `user.deleted`: remove everything the user owns.
    Delete { user_id: String },
    /// Any other event type: answered 200 and ignored, as the original did.
    Other { kind: String },
}

impl Event {
    pub fn kind(&self) -> &str {
        match self {
            Self::Upsert { kind, .. } | Self::Other { kind } => kind,
            Self::Delete { .. } => "user.deleted",
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::Upsert { profile, .. } => Some(&profile.id),
            Self::Delete { user_id } => Some(user_id),
            Self::Other { .. } => None,
        }
    }
}

/// Clerk's event envelope (`{"type", "object": "event", "data", "timestamp", "instance_id", …}`).
/// Unknown fields are tolerated: Clerk adds fields over time.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: Option<String>,
    data: serde_json::Map<String, Value>,
}

/// The part of Clerk's `UserJSON` the profile needs.
#[derive(Debug, Deserialize)]
struct ClerkUser {
    id: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    image_url: Option<String>,
    /// The deprecated predecessor of `image_url`, used only when that is absent.
    #[serde(default)]
    profile_image_url: Option<String>,
    #[serde(default)]
    primary_email_address_id: Option<String>,
    #[serde(default)]
    email_addresses: Option<Vec<ClerkEmail>>,
    created_at: i64,
    updated_at: i64,
}

#[derive(Debug, Deserialize)]
struct ClerkEmail {
    id: String,
    email_address: String,
}

/// `user.deleted`'s `DeletedObjectJSON`.
#[derive(Debug, Deserialize)]
struct DeletedObject {
    #[serde(default)]
    id: Option<String>,
}

/// Parses a verified body into the event it carries.
pub fn parse_event(body: &[u8]) -> Result<Event, Rejection> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|error| Rejection::Invalid(format!("the body is not a Clerk event ({error})")))?;
    if envelope.object.as_deref().is_some_and(|object| object != "event") {
        return Err(Rejection::Invalid("the body is not a Clerk event (object is not \"event\")".into()));
    }
    let data = Value::Object(envelope.data);
    match envelope.kind.as_str() {
        "user.created" | "user.updated" => {
            let user: ClerkUser = serde_json::from_value(data)
                .map_err(|error| Rejection::Invalid(format!("data is not a Clerk user ({error})")))?;
            let clerk_updated_at = user.updated_at;
            let profile = profile_from(user)?;
            Ok(Event::Upsert { kind: envelope.kind, profile, clerk_updated_at })
        }
        "user.deleted" => {
            let deleted: DeletedObject = serde_json::from_value(data)
                .map_err(|error| Rejection::Invalid(format!("data is not a deleted object ({error})")))?;
            let user_id = deleted.id.map(|id| id.trim().to_owned()).filter(|id| !id.is_empty());
            let user_id = user_id.ok_or(Rejection::NoUserId)?;
            check_user_id(&user_id)?;
            Ok(Event::Delete { user_id })
        }
        _ => Ok(Event::Other { kind: envelope.kind }),
    }
}

fn check_user_id(id: &str) -> Result<(), Rejection> {
    if id.is_empty() || id.len() > MAX_USER_ID || id.chars().any(char::is_control) {
        return Err(Rejection::Invalid("data.id is not a Clerk user id".into()));
    }
    Ok(())
}

/// The profile the original stored, minus its artefacts: the primary email (required), a name
/// without literal "null"/"undefined", Clerk's millisecond timestamps.
fn profile_from(user: ClerkUser) -> Result<Profile, Rejection> {
    check_user_id(&user.id)?;
    let email = user
        .primary_email_address_id
        .as_deref()
        .and_then(|primary| user.email_addresses.iter().flatten().find(|address| address.id == primary))
        .map(|address| address.email_address.trim().to_owned())
        .filter(|email| !email.is_empty())
        .ok_or(Rejection::NoPrimaryEmail)?;
    let name =
        display_name(user.first_name.as_deref(), user.last_name.as_deref(), user.username.as_deref(), &email);
    let image_url = user.image_url.or(user.profile_image_url).unwrap_or_default();
    Ok(Profile {
        id: user.id,
        name,
        email,
        image_url,
        created_at: from_millis(user.created_at, "created_at")?,
        updated_at: from_millis(user.updated_at, "updated_at")?,
    })
}

/// "First Last" from what is actually set; else the username; else the email's local part.
/// The original interpolated `${first_name} ${last_name}`, storing "John null" and the like.
pub fn display_name(first: Option<&str>, last: Option<&str>, username: Option<&str>, email: &str) -> String {
    let name = [first, last].into_iter().filter_map(meaningful).collect::<Vec<_>>().join(" ");
    if !name.is_empty() {
        return name;
    }
    if let Some(username) = meaningful(username) {
        return username.to_owned();
    }
    match email.split_once('@') {
        Some((local, _)) if !local.is_empty() => local.to_owned(),
        _ => email.to_owned(),
    }
}

/// A name part, unless it is blank or a serialised absence ("null", "undefined").
fn meaningful(part: Option<&str>) -> Option<&str> {
    let part = part?.trim();
    let artefact =
        part.is_empty() || part.eq_ignore_ascii_case("null") || part.eq_ignore_ascii_case("undefined");
    (!artefact).then_some(part)
}

fn from_millis(millis: i64, field: &str) -> Result<OffsetDateTime, Rejection> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .map_err(|_| Rejection::Invalid(format!("data.{field} is not a millisecond timestamp")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(data: Value) -> Vec<u8> {
        serde_json::json!({"type": "user.created", "object": "event", "data": data}).to_string().into_bytes()
    }

    fn clerk_user(first: Value, last: Value, username: Value) -> Value {
        serde_json::json!({
            "id": "user_1", "first_name": first, "last_name": last, "username": username,
            "image_url": "https://img.clerk.com/x", "primary_email_address_id": "idn_2",
            "email_addresses": [
                {"id": "idn_1", "email_address": "old@example.com"},
                {"id": "idn_2", "email_address": "ada.l@example.com"}
            ],
            "created_at": 1_654_012_591_514_i64, "updated_at": 1_654_012_591_835_i64
        })
    }

    #[test]
    fn names_never_carry_null_artefacts() {
        let name = |first: Value, last: Value, username: Value| match parse_event(&user(clerk_user(
            first, last, username,
        ))) {
            Ok(Event::Upsert { profile, .. }) => profile.name,
            other => panic!("{other:?}"),
        };
        assert_eq!(name("Ada".into(), "Lovelace".into(), Value::Null), "Ada Lovelace");
        assert_eq!(name("Ada".into(), Value::Null, Value::Null), "Ada");
        assert_eq!(name(Value::Null, " Lovelace ".into(), Value::Null), "Lovelace");
        assert_eq!(name("null".into(), "undefined".into(), "ada_l".into()), "ada_l");
        assert_eq!(name(Value::Null, Value::Null, Value::Null), "ada.l");
        assert_eq!(name("".into(), "  ".into(), "null".into()), "ada.l");
    }

    #[test]
    fn the_primary_email_and_millisecond_times_are_used() {
        let Ok(Event::Upsert { profile, clerk_updated_at, kind }) =
            parse_event(&user(clerk_user("A".into(), "B".into(), Value::Null)))
        else {
            panic!("not an upsert");
        };
        assert_eq!(kind, "user.created");
        assert_eq!(profile.email, "ada.l@example.com");
        assert_eq!(clerk_updated_at, 1_654_012_591_835);
        assert_eq!(profile.updated_at.unix_timestamp_nanos(), 1_654_012_591_835_000_000);
        assert_eq!(profile.created_at.unix_timestamp(), 1_654_012_591);

        let mut data = clerk_user("A".into(), "B".into(), Value::Null);
        data["primary_email_address_id"] = "idn_9".into();
        assert_eq!(parse_event(&user(data.clone())), Err(Rejection::NoPrimaryEmail));
        data["primary_email_address_id"] = Value::Null;
        assert_eq!(parse_event(&user(data)), Err(Rejection::NoPrimaryEmail));
    }

    #[test]
    fn bodies_that_are_not_the_envelope_are_rejected() {
        for body in [
            &b"not json"[..],
            br#"{"data": {}}"#,
            br#"{"type": "user.created"}"#,
            br#"{"type": "user.created", "data": []}"#,
            br#"{"type": "user.created", "object": "user", "data": {}}"#,
            br#"{"type": "user.created", "object": "event", "data": {"id": "user_1"}}"#,
            br#"{"type": 5, "object": "event", "data": {}}"#,
        ] {
            assert!(
                matches!(parse_event(body), Err(Rejection::Invalid(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let deleted = br#"{"type": "user.deleted", "object": "event", "data": {"deleted": true}}"#;
        assert_eq!(parse_event(deleted), Err(Rejection::NoUserId));
        let other = br#"{"type": "session.created", "object": "event", "data": {"anything": 1}}"#;
        assert_eq!(parse_event(other), Ok(Event::Other { kind: "session.created".into() }));
    }
}
