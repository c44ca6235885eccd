//! Server-sent events as model providers stream them: a reply body goes in as its bytes arrive,
//! the `data` of each complete event comes out. Shared by the HTTP adapters (Gemini sends one JSON
//! response per event, OpenAI-compatible servers one chunk per event and a final `[DONE]`).

/// Server-sent events, decoded incrementally: bytes go in as they arrive (an event may be split
/// anywhere, even inside a UTF-8 character or a `\r\n`), complete events' `data` come out.
/// Lines end with `\n`, `\r\n` or `\r`; a blank line ends an event; comments and other fields are
/// ignored.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buffer: Vec<u8>,
    data: Vec<String>,
}

impl SseDecoder {
    /// Feeds bytes; returns the data of every event they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(offset) = self.buffer[start..].iter().position(|b| *b == b'\n' || *b == b'\r') {
            let end = start + offset;
            let terminator = if self.buffer[end] == b'\r' {
                match self.buffer.get(end + 1) {
                    // A `\r` at the end of what we have may be half of a `\r\n`: wait for more.
                    None => break,
                    Some(b'\n') => 2,
                    Some(_) => 1,
                }
            } else {
                1
            };
            let line = String::from_utf8_lossy(&self.buffer[start..end]).into_owned();
            start = end + terminator;
            self.line(&line, &mut events);
        }
        self.buffer.drain(..start);
        events
    }

    /// The stream ended: an event whose blank line never came is still delivered (the caller
    /// finds out whether it is complete JSON).
    pub fn finish(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        let rest = std::mem::take(&mut self.buffer);
        let rest = String::from_utf8_lossy(&rest);
        let rest = rest.trim_end_matches(['\r', '\n']);
        if !rest.is_empty() {
            self.line(rest, &mut events);
        }
        self.line("", &mut events);
        events
    }

    fn line(&mut self, line: &str, events: &mut Vec<String>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                events.push(std::mem::take(&mut self.data).join("\n"));
            }
        } else if let Some(value) = line.strip_prefix("data:") {
            self.data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
        }
        // `event:`, `id:`, `retry:` and `:comments` carry nothing a model provider needs.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_anywhere_with_either_separator() {
        let stream = "data: {\"a\":1}\n\ndata: {\"b\":\"é\"}\r\n\r\n: comment\r\ndata: x\r\ndata: y\r\r";
        let bytes = stream.as_bytes();
        let mut decoder = SseDecoder::default();
        let mut whole = decoder.push(bytes);
        // The final `\r` may be half of a `\r\n` until the stream ends.
        assert_eq!(whole, ["{\"a\":1}", "{\"b\":\"é\"}"]);
        whole.extend(decoder.finish());
        assert_eq!(whole, ["{\"a\":1}", "{\"b\":\"é\"}", "x\ny"]);
        // Every split point, including inside the two-byte é and between \r and \n.
        for split in 0..bytes.len() {
            let mut decoder = SseDecoder::default();
            let mut events = decoder.push(&bytes[..split]);
            events.extend(decoder.push(&bytes[split..]));
            events.extend(decoder.finish());
            assert_eq!(events, whole, "split at {split}");
        }
        // One byte at a time.
        let mut decoder = SseDecoder::default();
        let mut events = Vec::new();
        for byte in bytes {
            events.extend(decoder.push(std::slice::from_ref(byte)));
        }
        events.extend(decoder.finish());
        assert_eq!(events, whole);
    }

    #[test]
    fn sse_last_event_without_blank_line_is_delivered_at_the_end() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.push(b"data: {\"done\":true}").is_empty());
        assert_eq!(decoder.finish(), ["{\"done\":true}"]);
        assert!(SseDecoder::default().finish().is_empty());
    }
}
