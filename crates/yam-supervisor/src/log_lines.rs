//! Splitting a server's output into lines of bounded length. A server that prints a 100 MB
//! line (or thousands of 60 KB URLs) must not make the supervisor hold it: each line keeps its
//! first [`MAX_LINE_BYTES`] bytes and says how many it dropped. Pure; the reading loop is in
//! `process`.

/// The longest line kept, in bytes (a long URL or a traceback line fits).
pub const MAX_LINE_BYTES: usize = 8 * 1024;

/// Cuts `text` to at most `max` bytes (at a character boundary), saying what was dropped.
pub fn cap_line(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{} … [{} more bytes not kept]",
        &text[..end],
        text.len() - end
    )
    .into()
}

/// Turns chunks of output into lines, keeping at most `max` bytes of each.
#[derive(Debug)]
pub struct CappedLines {
    max: usize,
    kept: Vec<u8>,
    dropped: u64,
}

impl CappedLines {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            kept: Vec::new(),
            dropped: 0,
        }
    }

    /// The lines `chunk` completes.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Vec<String> {
        let mut done = Vec::new();
        while !chunk.is_empty() {
            let (part, ended) = match chunk.iter().position(|&b| b == b'\n') {
                Some(at) => (&chunk[..at], true),
                None => (chunk, false),
            };
            let room = self.max.saturating_sub(self.kept.len());
            let take = part.len().min(room);
            self.kept.extend_from_slice(&part[..take]);
            self.dropped += (part.len() - take) as u64;
            chunk = &chunk[part.len() + usize::from(ended)..];
            if ended {
                done.push(self.take_line());
            }
        }
        done
    }

    /// What is left once the output ends without a final newline.
    pub fn finish(&mut self) -> Option<String> {
        (!self.kept.is_empty() || self.dropped > 0).then(|| self.take_line())
    }

    fn take_line(&mut self) -> String {
        let mut line = String::from_utf8_lossy(&self.kept)
            .trim_end_matches('\r')
            .to_owned();
        if self.dropped > 0 {
            line.push_str(&format!(" … [{} more bytes not kept]", self.dropped));
        }
        self.kept.clear();
        self.dropped = 0;
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_come_out_whole() {
        let mut lines = CappedLines::new(100);
        assert!(lines.feed(b"hel").is_empty());
        assert_eq!(lines.feed(b"lo\r\nwor"), vec!["hello"]);
        assert_eq!(lines.feed(b"ld\n\nx"), vec!["world", ""]);
        assert_eq!(lines.finish().as_deref(), Some("x"));
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn a_huge_line_keeps_its_start_and_says_what_was_dropped() {
        let mut lines = CappedLines::new(8);
        let mut out = Vec::new();
        for _ in 0..1000 {
            out.extend(lines.feed(&[b'a'; 1000]));
        }
        out.extend(lines.feed(b"\nnext\n"));
        assert_eq!(
            out,
            vec![
                "aaaaaaaa … [999992 more bytes not kept]".to_owned(),
                "next".to_owned()
            ]
        );
        assert!(lines.kept.capacity() <= 64);
    }

    #[test]
    fn cap_line_cuts_at_a_character_boundary() {
        assert_eq!(cap_line("short", 8), "short");
        assert_eq!(cap_line("ééééé", 3), "é … [8 more bytes not kept]");
    }
}
