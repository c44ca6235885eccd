//! Turns what a client sent into the one form the rules are written against: decoded as far as a
//! server or browser down the line might decode it, lower-case ASCII, SQL comments blanked.
//!
//! Attackers encode to slip past matchers that look at raw bytes; whatever a later layer decodes
//! (a framework decoding twice, a browser reading entities, MySQL running `/*!50000 ...*/`) has to
//! be decoded here first. Each step is cheap and only widens what the rules see; none of it is
//! used for anything but matching.

use std::borrow::Cow;

/// Enough for double and triple encoding; a fourth layer is not something a real stack undoes.
const MAX_ROUNDS: usize = 3;

/// A path, query pair, or header value as the rules see it. `form` treats `+` as a space, as a
/// query string's decoder does (only in the first round: a `+` that was `%2B` stays a `+`).
pub(super) fn normalize(raw: &[u8], form: bool) -> Vec<u8> {
    // Most values (tokens, ids, User-Agents) need nothing but lower-casing: one pass tells.
    let special = if form { ESCAPE | PLUS | NOT_PLAIN } else { ESCAPE | NOT_PLAIN };
    if raw.iter().fold(0, |seen, &byte| seen | BYTE_CLASS[usize::from(byte)]) & special == 0 {
        return raw.to_ascii_lowercase();
    }
    let mut text = Cow::Borrowed(raw);
    for round in 0..MAX_ROUNDS {
        let plus_is_space = form && round == 0;
        if !text.iter().any(|&byte| starts_escape(byte, plus_is_space)) {
            break;
        }
        let next = decode_round(&text, plus_is_space);
        if next[..] == text[..] {
            break;
        }
        text = Cow::Owned(next);
    }
    fold(&text)
}

/// What a byte asks of `normalize`, beyond lower-casing.
const ESCAPE: u8 = 1;
const PLUS: u8 = 2;
/// Non-ASCII (full-width and overlong forms) and `*` (SQL comments) need `fold`'s slow path.
const NOT_PLAIN: u8 = 4;

static BYTE_CLASS: [u8; 256] = {
    let mut classes = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        classes[byte] = match byte as u8 {
            b'%' | b'\\' | b'&' => ESCAPE,
            b'+' => PLUS,
            b'*' | 0x80..=0xFF => NOT_PLAIN,
            _ => 0,
        };
        byte += 1;
    }
    classes
};

fn starts_escape(byte: u8, plus_is_space: bool) -> bool {
    matches!(byte, b'%' | b'\\' | b'&') || (plus_is_space && byte == b'+')
}

/// What one escape stands for: percent and `\x` escapes give raw bytes (`%c0%ae` must stay the
/// two bytes the overlong-UTF-8 fold looks for), the others give characters.
enum Decoded {
    Byte(u8),
    Char(u32),
}

/// One layer of `%XX`, `%uXXXX`, `\uXXXX`, `\xXX` and HTML character references.
fn decode_round(input: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut at = 0;
    while at < input.len() {
        // Copy the plain run up to the next possible escape in one go.
        let rest = &input[at..];
        let plain = rest.iter().position(|&byte| starts_escape(byte, plus_is_space)).unwrap_or(rest.len());
        out.extend_from_slice(&rest[..plain]);
        at += plain;
        let Some(&byte) = input.get(at) else { break };
        let rest = &input[at..];
        let decoded = match byte {
            b'%' => percent(rest),
            b'\\' => backslash_escape(rest),
            b'&' => character_reference(rest),
            b'+' if plus_is_space => Some((Decoded::Byte(b' '), 1)),
            _ => None,
        };
        match decoded {
            Some((Decoded::Byte(decoded), consumed)) => {
                out.push(decoded);
                at += consumed;
            }
            Some((Decoded::Char(code_point), consumed)) => {
                push_code_point(&mut out, code_point);
                at += consumed;
            }
            None => {
                out.push(byte);
                at += 1;
            }
        }
    }
    out
}

fn hex_value(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |acc, &digit| Some(acc * 16 + char::from(digit).to_digit(16)?))
}

/// `%XX`, and IIS's `%uXXXX`.
fn percent(rest: &[u8]) -> Option<(Decoded, usize)> {
    if matches!(rest.get(1), Some(b'u' | b'U')) {
        return Some((Decoded::Char(hex_value(rest.get(2..6)?)?), 6));
    }
    Some((Decoded::Byte(hex_byte(rest.get(1..3)?)?), 3))
}

fn hex_byte(digits: &[u8]) -> Option<u8> {
    u8::try_from(hex_value(digits)?).ok()
}

/// JavaScript and JSON escapes: `\u003c`, `\x3c`.
fn backslash_escape(rest: &[u8]) -> Option<(Decoded, usize)> {
    match rest.get(1)? {
        b'u' | b'U' => Some((Decoded::Char(hex_value(rest.get(2..6)?)?), 6)),
        b'x' | b'X' => Some((Decoded::Byte(hex_byte(rest.get(2..4)?)?), 4)),
        _ => None,
    }
}

/// The names attackers use to hide `<`, quotes and the punctuation of `javascript:`; browsers
/// decode them in attributes.
const NAMED_REFERENCES: &[(&[u8], u8)] = &[
    (b"lt", b'<'),
    (b"gt", b'>'),
    (b"quot", b'"'),
    (b"apos", b'\''),
    (b"amp", b'&'),
    (b"colon", b':'),
    (b"lpar", b'('),
    (b"rpar", b')'),
    (b"sol", b'/'),
    (b"bsol", b'\\'),
    (b"period", b'.'),
    (b"grave", b'`'),
    (b"dollar", b'$'),
    (b"lcub", b'{'),
    (b"rcub", b'}'),
    (b"semi", b';'),
    (b"equals", b'='),
    (b"tab", b'\t'),
    (b"newline", b'\n'),
];

/// `&#60;`, `&#x3c;` (the `;` is optional, as in browsers) and the names above.
fn character_reference(rest: &[u8]) -> Option<(Decoded, usize)> {
    if rest.get(1) == Some(&b'#') {
        let (radix, start) = match rest.get(2) {
            Some(b'x' | b'X') => (16, 3),
            _ => (10, 2),
        };
        let digits =
            rest[start..].iter().take(8).take_while(|&&digit| char::from(digit).is_digit(radix)).count();
        if digits == 0 {
            return None;
        }
        let value = rest[start..start + digits].iter().try_fold(0u32, |acc, &digit| {
            Some(acc.checked_mul(radix)? + char::from(digit).to_digit(radix)?)
        })?;
        let end = start + digits;
        let consumed = if rest.get(end) == Some(&b';') { end + 1 } else { end };
        return Some((Decoded::Char(value), consumed));
    }
    let name_len = rest[1..].iter().take(8).take_while(|byte| byte.is_ascii_alphabetic()).count();
    if rest.get(1 + name_len) != Some(&b';') {
        return None;
    }
    let name = &rest[1..1 + name_len];
    NAMED_REFERENCES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|&(_, byte)| (Decoded::Byte(byte), name_len + 2))
}

fn push_code_point(out: &mut Vec<u8>, code_point: u32) {
    match char::from_u32(code_point) {
        Some(c) if c.is_ascii() => out.push(c as u8),
        Some(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        // A lone surrogate or out-of-range value: keep a marker byte rather than the escape.
        None => out.push(0xFF),
    }
}

/// Lower-case ASCII, fold look-alike encodings of ASCII (full-width forms, overlong UTF-8), and
/// blank SQL comments so `UNION/**/SELECT` reads as `union select`.
fn fold(input: &[u8]) -> Vec<u8> {
    if input.iter().all(|&byte| BYTE_CLASS[usize::from(byte)] & NOT_PLAIN == 0) {
        return input.to_ascii_lowercase();
    }
    let mut out = Vec::with_capacity(input.len());
    let mut at = 0;
    while let Some(&byte) = input.get(at) {
        let next = input.get(at + 1).copied();
        let after = input.get(at + 2).copied();
        match (byte, next, after) {
            // U+FF01..U+FF5E are full-width copies of `!`..`~`; some servers fold them to ASCII.
            (0xEF, Some(0xBC), Some(low @ 0x81..=0xBF)) => {
                out.push((low - 0x80 + 0x20).to_ascii_lowercase());
                at += 3;
            }
            (0xEF, Some(0xBD), Some(low @ 0x80..=0x9E)) => {
                out.push((low - 0x80 + 0x60).to_ascii_lowercase());
                at += 3;
            }
            // Overlong two-byte UTF-8 for ASCII (`%c0%ae` for `.`): invalid, but old decoders
            // accepted it, which made it a traversal classic.
            (0xC0 | 0xC1, Some(low @ 0x80..=0xBF), _) => {
                out.push((((byte & 0x1F) << 6) | (low & 0x3F)).to_ascii_lowercase());
                at += 2;
            }
            (b'/', Some(b'*'), _) => {
                out.push(b' ');
                at += 2;
                // MySQL runs the body of `/*!50000 ... */`; drop the version, keep the body.
                if input.get(at) == Some(&b'!') {
                    at += 1;
                    while input.get(at).is_some_and(u8::is_ascii_digit) {
                        at += 1;
                    }
                }
            }
            (b'*', Some(b'/'), _) => {
                out.push(b' ');
                at += 2;
            }
            _ => {
                out.push(byte.to_ascii_lowercase());
                at += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn text(raw: &str, form: bool) -> String {
        String::from_utf8_lossy(&normalize(raw.as_bytes(), form)).into_owned()
    }

    #[test]
    fn percent_encoding_is_undone_up_to_three_layers() {
        assert_eq!(text("%27%20OR%201%3D1", true), "' or 1=1");
        assert_eq!(text("%252e%252e%252f", false), "../");
        assert_eq!(text("%25252e%25252e%25252f", false), "../");
        assert_eq!(text("%2525252e", false), "%2e");
    }

    #[test]
    fn plus_is_a_space_only_in_forms_and_only_before_decoding() {
        assert_eq!(text("a+b%2Bc", true), "a b+c");
        assert_eq!(text("a+b", false), "a+b");
    }

    #[test]
    fn script_escapes_and_character_references_are_decoded() {
        assert_eq!(text(r"\u003cscript\x3e", false), "<script>");
        assert_eq!(text("%u003cimg", false), "<img");
        assert_eq!(text("javascript&#58;alert&lpar;1&rpar;", false), "javascript:alert(1)");
        assert_eq!(text("&#x6A;avascript&colon;", false), "javascript:");
        assert_eq!(text("&lt;svg&gt;", false), "<svg>");
        assert_eq!(text("rock &amp; roll & more &unknown; &#;", false), "rock & roll & more &unknown; &#;");
    }

    #[test]
    fn look_alike_encodings_fold_to_ascii() {
        assert_eq!(text("%c0%ae%c0%ae%c0%af", false), "../");
        assert_eq!(text("\u{FF1C}SCRIPT\u{FF1E}", false), "<script>");
        assert_eq!(text("UnIoN SeLeCt", false), "union select");
    }

    #[test]
    fn sql_comments_become_spaces() {
        assert_eq!(text("UNION/**/SELECT", false), "union  select");
        assert_eq!(text("/*!50000UNION*/SELECT", false), " union select");
    }

    #[test]
    fn broken_escapes_are_kept_as_they_are() {
        assert_eq!(text("100%", true), "100%");
        assert_eq!(text("%zz%4", true), "%zz%4");
        assert_eq!(text(r"C:\Users\x", false), r"c:\users\x");
        assert_eq!(normalize(b"%ud800", false), [0xFF]);
    }
}
