//! `multipart/form-data` bodies built by hand, byte for byte, so tests control every part of them
//! (a missing field, a repeated one, a declared type that lies, a body cut short).

pub const BOUNDARY: &str = "----DarasaTestBoundary7MA4YWxkTrZu0gW";

/// The `Content-Type` of a body `form` builds.
pub fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

pub enum Field<'a> {
    Text(&'a str, &'a str),
    File { name: &'a str, file_name: &'a str, content_type: Option<&'a str>, bytes: &'a [u8] },
}

/// The resume route's file field.
pub fn file<'a>(file_name: &'a str, content_type: &'a str, bytes: &'a [u8]) -> Field<'a> {
    Field::File { name: "resumeFile", file_name, content_type: Some(content_type), bytes }
}

pub fn form(fields: &[Field<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for field in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match field {
            Field::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
                );
            }
            Field::File { name, file_name, content_type, bytes } => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\n")
                        .as_bytes(),
                );
                if let Some(content_type) = content_type {
                    body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
                }
                body.extend_from_slice(b"\r\n");
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}
