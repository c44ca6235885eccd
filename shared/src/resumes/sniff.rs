//! What an uploaded file is, decided from its bytes, never from the client's claim: `%PDF-` is a
//! PDF, a ZIP holding `word/document.xml` a DOCX, an OLE2 compound file a legacy `.doc`, UTF-8
//! without NULs text. The declared type must be one the original accepts and agree with it.

/// What an uploaded file is, by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pdf,
    /// Office Open XML (a ZIP holding `word/document.xml`).
    Docx,
    /// Legacy Word (an OLE2 compound file).
    Doc,
    /// UTF-8 text.
    Text,
}

pub const PDF_MIME: &str = "application/pdf";
pub const DOC_MIME: &str = "application/msword";
pub const DOCX_MIME: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
pub const TEXT_MIME: &str = "text/plain";

const OLE2_MAGIC: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

impl FileKind {
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Pdf => PDF_MIME,
            Self::Docx => DOCX_MIME,
            Self::Doc => DOC_MIME,
            Self::Text => TEXT_MIME,
        }
    }

    /// How an error message names it.
    fn label(self) -> &'static str {
        match self {
            Self::Pdf => "a PDF",
            Self::Docx => "a Word (.docx) document",
            Self::Doc => "a legacy Word (.doc) document",
            Self::Text => "a text file",
        }
    }

    /// The type a client declared, if it is one the original accepts (parameters such as
    /// `charset` and letter case do not matter).
    pub fn from_declared(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            PDF_MIME => Some(Self::Pdf),
            DOCX_MIME => Some(Self::Docx),
            DOC_MIME => Some(Self::Doc),
            TEXT_MIME => Some(Self::Text),
            _ => None,
        }
    }

    /// Its short name (`pdf`, `docx`, `doc`, `text`), as an AI brief states it.
    pub fn format(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Docx => "docx",
            Self::Doc => "doc",
            Self::Text => "text",
        }
    }

    fn is_word(self) -> bool {
        matches!(self, Self::Doc | Self::Docx)
    }
}

/// The file's type from its first bytes (and, for a ZIP, its directory); `None` when it is none
/// of the four.
pub fn sniff(bytes: &[u8]) -> Option<FileKind> {
    if bytes.starts_with(b"%PDF-") {
        Some(FileKind::Pdf)
    } else if bytes.starts_with(OLE2_MAGIC) {
        Some(FileKind::Doc)
    } else if bytes.starts_with(ZIP_MAGIC) {
        let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
        archive.index_for_name(super::docx::BODY).map(|_| FileKind::Docx)
    } else if !bytes.is_empty() && !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() {
        Some(FileKind::Text)
    } else {
        None
    }
}

/// Why an upload's type is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TypeError {
    /// Not a type the original accepts, or content we do not recognise.
    #[error("Please upload a PDF, Word document, or text file")]
    Unsupported,
    #[error("The file's content does not match its type: it was sent as {} but is {}", .declared.label(), .actual.label())]
    Mismatch { declared: FileKind, actual: FileKind },
    /// A legacy `.doc` (OLE2), which neither we nor a model can read.
    #[error("Legacy .doc files cannot be read; save it as .docx or PDF")]
    LegacyDoc,
}

/// Decides the upload's type: the declared type must be one the original accepts, the content one
/// we recognise, and the two must agree. Both Word types count as "a Word document", so a DOCX
/// saved with a `.doc` name is read; a real `.doc` is refused whatever it was called.
pub fn check_type(declared: Option<&str>, bytes: &[u8]) -> Result<FileKind, TypeError> {
    let declared = declared.and_then(FileKind::from_declared).ok_or(TypeError::Unsupported)?;
    let actual = sniff(bytes).ok_or(TypeError::Unsupported)?;
    if declared != actual && !(declared.is_word() && actual.is_word()) {
        return Err(TypeError::Mismatch { declared, actual });
    }
    if actual == FileKind::Doc {
        return Err(TypeError::LegacyDoc);
    }
    Ok(actual)
}

#[cfg(test)]
mod tests {
    use super::super::docx::tests::build;
    use super::*;

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(sniff(b"%PDF-1.4\n..."), Some(FileKind::Pdf));
        assert_eq!(sniff(b"Jane Doe\nRust engineer\n"), Some(FileKind::Text));
        assert_eq!(sniff("Zoë – naïve résumé".as_bytes()), Some(FileKind::Text));
        assert_eq!(sniff(&[OLE2_MAGIC, b"rest"].concat()), Some(FileKind::Doc));
        assert_eq!(sniff(&build("<w:document/>")), Some(FileKind::Docx));
        // A ZIP that is not a Word document, binary junk, NULs, invalid UTF-8, nothing.
        let mut other_zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        other_zip.start_file("a.txt", zip::write::SimpleFileOptions::default()).unwrap();
        let other_zip = other_zip.finish().unwrap().into_inner();
        for junk in [&other_zip[..], b"\x89PNG\r\n\x1a\n", b"text\0with nul", &[0xff, 0xfe, 0x41], b""] {
            assert_eq!(sniff(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn declared_and_actual_types_must_agree() {
        let pdf = b"%PDF-1.4\n";
        assert_eq!(check_type(Some("application/pdf"), pdf), Ok(FileKind::Pdf));
        assert_eq!(check_type(Some("text/plain; charset=UTF-8"), b"hello"), Ok(FileKind::Text));
        let lie = check_type(Some("application/pdf"), b"just text").unwrap_err();
        assert_eq!(
            lie.to_string(),
            "The file's content does not match its type: it was sent as a PDF but is a text file"
        );
        for (declared, bytes) in
            [(Some("image/png"), &pdf[..]), (None, &pdf[..]), (Some("text/plain"), b"\x00\x01")]
        {
            assert_eq!(check_type(declared, bytes).unwrap_err().to_string(), super::super::UNSUPPORTED_TYPE);
        }
        // The Word types are one family; a real .doc is a 415 either way.
        assert_eq!(check_type(Some(DOC_MIME), &build("<w:document/>")), Ok(FileKind::Docx));
        let legacy = check_type(Some(DOCX_MIME), &[OLE2_MAGIC, b"x"].concat()).unwrap_err();
        assert_eq!((legacy, legacy.to_string().as_str()), (TypeError::LegacyDoc, super::super::LEGACY_DOC));
    }
}
