//! The text of a PDF resume, for models that read text rather than files (the offline engine,
//! OpenAI-compatible servers). Text is taken from the pages' content streams in page order;
//! a scanned PDF (images only) has none, which the uploader is told.

/// Pages read: a resume has one to three; a book is not a resume.
const MAX_PAGES: usize = 30;
/// The most text kept (characters): far beyond any resume, bounded for the prompt.
pub const MAX_TEXT: usize = 200_000;

/// Why a PDF gave no text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PdfError {
    #[error("the PDF could not be read ({0})")]
    Unreadable(String),
    #[error("the PDF holds no text")]
    Empty,
}

impl PdfError {
    /// What the uploader is told (never the parser's words).
    pub fn public_message(&self) -> &'static str {
        match self {
            Self::Unreadable(_) => {
                "This PDF could not be read; save it again as PDF, or upload a DOCX or text file"
            }
            Self::Empty => {
                "This PDF has no text to read (a scanned image?); upload a PDF with text, a DOCX or a text file"
            }
        }
    }
}

/// The text of the first `MAX_PAGES` pages, at most `MAX_TEXT` characters.
pub fn pdf_text(bytes: &[u8]) -> Result<String, PdfError> {
    let document =
        lopdf::Document::load_mem(bytes).map_err(|error| PdfError::Unreadable(error.to_string()))?;
    let pages: Vec<u32> = document.get_pages().into_keys().take(MAX_PAGES).collect();
    if pages.is_empty() {
        return Err(PdfError::Empty);
    }
    let text = document.extract_text(&pages).map_err(|error| PdfError::Unreadable(error.to_string()))?;
    let text: String = text.chars().take(MAX_TEXT).collect();
    if text.trim().is_empty() {
        return Err(PdfError::Empty);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PDF from `tests/fixtures/documents` (written by reportlab: see `make-documents.py` there).
    fn fixture(name: &str) -> Vec<u8> {
        let path = crate::test_fixtures().join("documents").join(name);
        std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }

    #[test]
    fn the_text_of_every_line_is_read_in_order() {
        let text = pdf_text(&fixture("backend-strong.pdf")).unwrap();
        let lines = ["AMARA OKONKWO", "Staff Backend Engineer, Ledgerly", "DynamoDB", "Northbank"];
        let mut from = 0;
        for line in lines {
            let at = text[from..].find(line).unwrap_or_else(|| panic!("{line:?} after {from} in {text:?}"));
            from += at + line.len();
        }
    }

    #[test]
    fn unreadable_and_empty_pdfs_are_told_apart() {
        assert!(matches!(pdf_text(b"%PDF-1.4\nnot really"), Err(PdfError::Unreadable(_))));
        assert_eq!(pdf_text(&fixture("scanned.pdf")), Err(PdfError::Empty));
        assert!(!PdfError::Unreadable("xref at 12".into()).public_message().contains("xref"));
    }
}
