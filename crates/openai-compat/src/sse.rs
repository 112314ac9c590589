//! An incremental decoder of server-sent events (the `text/event-stream` format of the HTML
//! standard), fed with bytes as they arrive: it yields the `data` of each complete event, joins
//! multi-line data, skips comments (`: keep-alive`) and accepts `\n`, `\r\n` and `\r` line ends.

/// Decodes events from a byte stream.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: Vec<u8>,
    data: Vec<String>,
    /// The previous byte was `\r`, so a following `\n` belongs to the same line end.
    after_cr: bool,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Adds `bytes` and returns the data of every event they complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        for &byte in bytes {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.pending);
                    self.line(&line, &mut events);
                }
                _ => self.pending.push(byte),
            }
        }
        events
    }

    /// The data of an event the stream ended in the middle of (no blank line after it).
    pub fn finish(&mut self) -> Option<String> {
        let line = std::mem::take(&mut self.pending);
        let mut events = Vec::new();
        self.line(&line, &mut events);
        if self.data.is_empty() {
            return events.pop();
        }
        Some(std::mem::take(&mut self.data).join("\n"))
    }

    fn line(&mut self, line: &[u8], events: &mut Vec<String>) {
        if line.is_empty() {
            if !self.data.is_empty() {
                events.push(std::mem::take(&mut self.data).join("\n"));
            }
            return;
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        if field == "data" {
            self.data.push(value.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_are_put_back_together() {
        let stream = b": keep-alive\n\ndata: {\"a\":1}\r\n\r\ndata: line one\ndata: line two\n\nevent: x\ndata: [DONE]\n\n";
        // Every split point gives the same events.
        for split in 0..stream.len() {
            let mut decoder = Decoder::new();
            let mut events = decoder.feed(&stream[..split]);
            events.extend(decoder.feed(&stream[split..]));
            assert_eq!(
                events,
                ["{\"a\":1}", "line one\nline two", "[DONE]"],
                "split at {split}"
            );
        }
        let mut decoder = Decoder::new();
        assert!(decoder.feed(b"data: cut").is_empty());
        assert_eq!(decoder.finish().as_deref(), Some("cut"));
    }
}
