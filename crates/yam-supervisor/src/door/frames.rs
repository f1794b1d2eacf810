//! Where WebSocket frames end in a server-to-client byte stream (RFC 6455 §5.2), so the door
//! can close a relayed WebSocket properly when the server behind it goes away: a close frame
//! may only be added between frames, never inside one. Pure; counts bytes, keeps no payload.

/// The close frame the door sends when the server went away: code 1012 "service restart"
/// (the client may reconnect at once). Server frames are not masked.
pub const CLOSE_SERVICE_RESTART: [u8; 4] = [0x88, 0x02, 0x03, 0xF4];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FrameTracker {
    /// Header bytes of the frame being read (at most 14).
    header: Vec<u8>,
    /// Payload bytes still to come in the current frame.
    payload_left: u64,
    /// The server sent a close frame itself.
    closed_by_server: bool,
}

impl FrameTracker {
    /// Follows `bytes` as they pass.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let n = usize::try_from(self.payload_left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.payload_left -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            self.header.push(bytes[0]);
            bytes = &bytes[1..];
            if let Some(len) = self.header_done() {
                if self.header[0] & 0x0F == 0x8 {
                    self.closed_by_server = true;
                }
                self.payload_left = len;
                self.header.clear();
            }
        }
    }

    /// Whether the stream stopped between two frames (a close frame fits here).
    pub fn at_boundary(&self) -> bool {
        self.header.is_empty() && self.payload_left == 0
    }

    pub fn closed_by_server(&self) -> bool {
        self.closed_by_server
    }

    /// The payload length once the header is complete.
    fn header_done(&self) -> Option<u64> {
        let h = &self.header;
        if h.len() < 2 {
            return None;
        }
        let mask = if h[1] & 0x80 != 0 { 4 } else { 0 };
        let (len, ext) = match h[1] & 0x7F {
            126 => (None, 2),
            127 => (None, 8),
            n => (Some(u64::from(n)), 0),
        };
        if h.len() < 2 + ext + mask {
            return None;
        }
        Some(len.unwrap_or_else(|| {
            h[2..2 + ext]
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(opcode: u8, payload_len: usize) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        match payload_len {
            0..=125 => f.push(payload_len as u8),
            126..=65535 => {
                f.push(126);
                f.extend_from_slice(&(payload_len as u16).to_be_bytes());
            }
            _ => {
                f.push(127);
                f.extend_from_slice(&(payload_len as u64).to_be_bytes());
            }
        }
        f.extend(std::iter::repeat_n(b'x', payload_len));
        f
    }

    #[test]
    fn boundaries_are_found_across_any_split_for_all_three_length_forms() {
        let stream: Vec<u8> = [frame(1, 5), frame(2, 300), frame(2, 70_000), frame(9, 0)].concat();
        for chunk in [1, 2, 3, 7, 100, 4096, stream.len()] {
            let mut t = FrameTracker::default();
            let mut boundaries = 0;
            for piece in stream.chunks(chunk) {
                t.feed(piece);
                boundaries += usize::from(t.at_boundary());
            }
            assert!(t.at_boundary(), "chunk {chunk}");
            assert!(boundaries >= 1);
        }
        let mut t = FrameTracker::default();
        t.feed(&frame(1, 5)[..4]);
        assert!(!t.at_boundary(), "inside a frame");
        t.feed(&[0x81]);
        assert!(!t.at_boundary(), "inside the payload still");
    }

    #[test]
    fn a_close_from_the_server_is_noticed() {
        let mut t = FrameTracker::default();
        t.feed(&frame(1, 3));
        assert!(!t.closed_by_server());
        t.feed(&CLOSE_SERVICE_RESTART);
        assert!(t.closed_by_server() && t.at_boundary());
    }
}
