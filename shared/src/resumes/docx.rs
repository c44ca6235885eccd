//! The text of a DOCX (Office Open XML): paragraphs of `word/document.xml` as lines, read with a
//! bounded inflate, since a ZIP can expand a small upload into gigabytes.

/// The part of a DOCX that holds its body.
pub const BODY: &str = "word/document.xml";
/// The most XML read out of a DOCX's body; a real resume's is well below 1 MB.
const MAX_XML: u64 = 16 * 1024 * 1024;
/// The most text a DOCX may yield (characters): far beyond any resume, bounded for the prompt.
pub const MAX_TEXT: usize = 200_000;

/// Why a DOCX gave no text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocxError {
    #[error("the Word document could not be read ({0})")]
    Unreadable(String),
    #[error("the Word document holds too much text")]
    TooLong,
    #[error("the Word document holds no text")]
    Empty,
}

impl DocxError {
    /// What the uploader is told (never the parser's words).
    pub fn public_message(&self) -> &'static str {
        match self {
            Self::Unreadable(_) => "This Word document could not be read; save it again as .docx or PDF",
            Self::TooLong => "This Word document holds too much text to be a resume",
            Self::Empty => "This Word document contains no text",
        }
    }
}

/// The text of a DOCX's body: paragraphs become lines, tabs and breaks are kept.
pub fn docx_text(bytes: &[u8]) -> Result<String, DocxError> {
    use std::io::Read as _;
    let unreadable = |error: &dyn std::fmt::Display| DocxError::Unreadable(error.to_string());
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let file = archive.by_name(BODY).map_err(|e| unreadable(&e))?;
    let mut xml = Vec::new();
    file.take(MAX_XML + 1).read_to_end(&mut xml).map_err(|e| unreadable(&e))?;
    if xml.len() as u64 > MAX_XML {
        return Err(DocxError::TooLong);
    }
    let xml = std::str::from_utf8(&xml).map_err(|e| unreadable(&e))?;
    let text = xml_text(xml)?;
    if text.trim().is_empty() {
        return Err(DocxError::Empty);
    }
    if text.chars().count() > MAX_TEXT {
        return Err(DocxError::TooLong);
    }
    Ok(text)
}

/// WordprocessingML to text: the content of `<w:t>` runs (entities resolved), `<w:tab/>` as a
/// tab, `<w:br/>`/`<w:cr/>` as a line break, and a line break after each `</w:p>`.
fn xml_text(xml: &str) -> Result<String, DocxError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut text = String::new();
    let mut in_run_text = false;
    loop {
        let event = reader.read_event().map_err(|e| DocxError::Unreadable(e.to_string()))?;
        match event {
            Event::Start(start) if start.local_name().as_ref() == "t" => in_run_text = true,
            Event::End(end) => match end.local_name().as_ref() {
                "t" => in_run_text = false,
                "p" => text.push('\n'),
                _ => {}
            },
            Event::Empty(empty) => match empty.local_name().as_ref() {
                "tab" => text.push('\t'),
                "br" | "cr" => text.push('\n'),
                _ => {}
            },
            Event::Text(content) if in_run_text => text.push_str(&content.xml10_content()),
            Event::CData(content) if in_run_text => text.push_str(&content),
            Event::GeneralRef(reference) if in_run_text => {
                match reference.resolve_char_ref().map_err(|e| DocxError::Unreadable(e.to_string()))? {
                    Some(ch) => text.push(ch),
                    None => {
                        text.push_str(quick_xml::escape::resolve_predefined_entity(&reference).ok_or_else(
                            || DocxError::Unreadable(format!("unknown entity &{};", &*reference)),
                        )?)
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        if text.len() > MAX_TEXT * 4 {
            return Err(DocxError::TooLong);
        }
    }
    Ok(text)
}

#[cfg(test)]
pub(super) mod tests {
    use std::io::Write as _;

    use super::*;

    /// A DOCX whose body is `document_xml`.
    pub fn build(document_xml: &str) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        writer.start_file("[Content_Types].xml", options).unwrap();
        writer.write_all(b"<Types/>").unwrap();
        writer.start_file(BODY, options).unwrap();
        writer.write_all(document_xml.as_bytes()).unwrap();
        writer.finish().unwrap().into_inner()
    }

    #[test]
    fn docx_text_keeps_paragraphs_tabs_and_entities() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:r><w:t>Jane Doe</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Rust &amp; AWS </w:t></w:r><w:r><w:tab/><w:t>&#233;t&#xE9;</w:t><w:br/><w:t>line</w:t></w:r></w:p>
<w:p><w:r><w:instrText>PAGE</w:instrText></w:r></w:p>
</w:body></w:document>"#;
        assert_eq!(docx_text(&build(xml)).unwrap(), "Jane Doe\nRust & AWS \tété\nline\n\n");
        assert_eq!(docx_text(&build("<w:document><w:p/></w:document>")), Err(DocxError::Empty));
        assert!(matches!(docx_text(&build("<w:document><w:p><w:t>a</w:x>")), Err(DocxError::Unreadable(_))));
        assert!(matches!(docx_text(b"PK\x03\x04 not really"), Err(DocxError::Unreadable(_))));
    }
}
