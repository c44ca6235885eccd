//! The text of a PDF resume, for models that read text rather than files (the offline engine,
//! OpenAI-compatible servers). Text is taken from the pages' content streams in page order;
//! a scanned PDF (images only) has none, which the uploader is told.

/// Pages read: a resume has one to three; a book is not a resume.
const MAX_PAGES: usize = 30;
/// The most text kept (characters): far beyond any resume, bounded for the prompt.
pub const MAX_TEXT: usize = 200_000;
/// The most bytes one stream, or one page's content, may inflate to. A resume page's content is
/// tens of KB; a small upload that inflates to gigabytes (a deflate bomb) is refused instead.
const MAX_INFLATED: usize = 8 * 1024 * 1024;

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
    let options = lopdf::LoadOptions::with_max_decompressed_size(MAX_INFLATED);
    let document = lopdf::Document::load_mem_with_options(bytes, options)
        .map_err(|error| PdfError::Unreadable(error.to_string()))?;
    let pages: Vec<u32> = document.get_pages().into_keys().take(MAX_PAGES).collect();
    if pages.is_empty() {
        return Err(PdfError::Empty);
    }
    let text = document
        .extract_text_with_limit(&pages, MAX_INFLATED)
        .map_err(|error| PdfError::Unreadable(error.to_string()))?;
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

    /// A one-page PDF showing `shown` (a string operand, as written) in the font `font` makes.
    fn one_page_pdf(
        font: impl FnOnce(&mut lopdf::Document) -> lopdf::Dictionary,
        shown: &[u8],
        filtered: bool,
    ) -> Vec<u8> {
        use lopdf::{Document, Object, Stream, dictionary};
        let mut document = Document::with_version("1.5");
        let pages_id = document.new_object_id();
        let font = font(&mut document);
        let font_id = document.add_object(font);
        let mut content = b"BT /F1 12 Tf 72 720 Td ".to_vec();
        content.extend_from_slice(shown);
        content.extend_from_slice(b" Tj ET");
        let mut content = Stream::new(dictionary! {}, content);
        if filtered {
            content.compress().unwrap();
        }
        let content_id = document.add_object(content);
        let page_id = document.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content_id,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font_id } },
        });
        document.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1,
                "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            }),
        );
        let catalog_id = document.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
        document.trailer.set("Root", catalog_id);
        let mut bytes = Vec::new();
        document.save_to(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn text_mapped_to_utf16_by_a_to_unicode_cmap_is_read_with_surrogate_pairs() {
        use lopdf::{Stream, dictionary};
        // Word and Google Docs write subset fonts whose codes map to UTF-16 through a CMap.
        let cmap = b"/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CMapName /Test-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
3 beginbfchar
<0001> <0052>
<0002> <00E9>
<0003> <D835DC00>
endbfchar
endcmap
CMapName currentdict /CMap defineresource pop
end
end
";
        let font = |document: &mut lopdf::Document| {
            dictionary! {
                "Type" => "Font", "Subtype" => "Type0", "BaseFont" => "Subset", "Encoding" => "Identity-H",
                "ToUnicode" => document.add_object(Stream::new(dictionary! {}, cmap.to_vec())),
            }
        };
        let text = pdf_text(&one_page_pdf(font, b"<0001000200030001>", false)).unwrap();
        assert!(text.contains("R\u{e9}\u{1d400}R"), "{text:?}");
    }

    #[test]
    fn glyph_names_of_a_differences_encoding_are_read() {
        use lopdf::{Object, dictionary};
        let differences: Vec<Object> = vec![65.into(), "Aring".into(), "eacute".into()];
        let font = |_: &mut lopdf::Document| {
            dictionary! {
                "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica",
                "Encoding" => dictionary! {
                    "Type" => "Encoding", "BaseEncoding" => "WinAnsiEncoding", "Differences" => differences,
                },
            }
        };
        let text = pdf_text(&one_page_pdf(font, b"(ABCD)", true)).unwrap();
        assert!(text.contains("\u{c5}\u{e9}"), "{text:?}");
    }

    #[test]
    fn a_stream_that_inflates_past_the_bound_is_refused() {
        use lopdf::dictionary;
        let font = |_: &mut lopdf::Document| {
            dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" }
        };
        let page_of = |shown_times: usize| {
            let mut shown = b"(Engineer) Tj ".repeat(shown_times);
            shown.extend_from_slice(b"(end)");
            one_page_pdf(font, &shown, true)
        };
        // About 1 MiB of content reads; just over the bound (deflated to a few KB) does not.
        assert!(pdf_text(&page_of(75_000)).unwrap().contains("EngineerEngineer"));
        let bomb = page_of(MAX_INFLATED / 14 + 1);
        assert!(bomb.len() < 100_000, "{} bytes", bomb.len());
        assert!(matches!(pdf_text(&bomb), Err(PdfError::Unreadable(_))));
    }

    #[test]
    fn unreadable_and_empty_pdfs_are_told_apart() {
        assert!(matches!(pdf_text(b"%PDF-1.4\nnot really"), Err(PdfError::Unreadable(_))));
        assert_eq!(pdf_text(&fixture("scanned.pdf")), Err(PdfError::Empty));
        assert!(!PdfError::Unreadable("xref at 12".into()).public_message().contains("xref"));
    }
}
