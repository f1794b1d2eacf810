//! Just enough of Python's pickle to see who a Flask session belongs to: the top-level dict's
//! text and number entries. Bounded whatever the input: no recursion (containers live in a
//! flat arena and refer to each other by index, so nesting, cycles and drops cost no stack),
//! memo references are shared (a string referenced 70,000 times is one string), every opcode
//! consumes input (work is linear in the size), and sizes are checked against what is left
//! before anything is allocated. Objects we do not need (datetimes, classes) are opaque.

use std::collections::HashMap;
use std::rc::Rc;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PickleError {
    #[error("the pickle ends early")]
    Truncated,
    #[error("unknown opcode {0:#04x}")]
    Opcode(u8),
    #[error("malformed pickle: {0}")]
    Malformed(&'static str),
    #[error("more than {MAX_ITEMS} values")]
    TooMany,
}

/// Values made (pushes and container items) at most: far above any session, far below harm.
pub const MAX_ITEMS: usize = 200_000;

/// A value on the pickle machine's stack.
#[derive(Clone, Debug)]
enum V {
    None,
    Bool(bool),
    Int(i64),
    Text(Rc<str>),
    Bytes(Rc<[u8]>),
    /// A container in the arena.
    Ref(usize),
    /// Something we do not look into (a float, a big int, an object).
    Opaque,
    Mark,
}

/// A session entry's value, as far as we read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scalar {
    Text(String),
    Int(i64),
    Bool(bool),
    Other,
}

enum Container {
    Dict(Vec<(V, V)>),
    List(Vec<V>),
}

struct Machine<'a> {
    input: &'a [u8],
    at: usize,
    stack: Vec<V>,
    memo: HashMap<u32, V>,
    arena: Vec<Container>,
    items: usize,
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.at.checked_add(n).ok_or(PickleError::Truncated)?;
        let bytes = self.input.get(self.at..end).ok_or(PickleError::Truncated)?;
        self.at = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64, PickleError> {
        Ok(self
            .take(n)?
            .iter()
            .rev()
            .fold(0u64, |v, b| (v << 8) | u64::from(*b)))
    }

    /// A length, checked against what is left before anything is taken.
    fn len(&mut self, width: usize) -> Result<usize, PickleError> {
        let n = usize::try_from(self.le(width)?).map_err(|_| PickleError::Truncated)?;
        if n > self.input.len() - self.at {
            return Err(PickleError::Truncated);
        }
        Ok(n)
    }

    fn line(&mut self) -> Result<&'a [u8], PickleError> {
        let rest = &self.input[self.at..];
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .ok_or(PickleError::Truncated)?;
        self.at += end + 1;
        Ok(&rest[..end])
    }

    fn push(&mut self, v: V) -> Result<(), PickleError> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(PickleError::TooMany);
        }
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> Result<V, PickleError> {
        self.stack
            .pop()
            .ok_or(PickleError::Malformed("empty stack"))
    }

    /// Everything above the topmost mark (the mark removed).
    fn pop_mark(&mut self) -> Result<Vec<V>, PickleError> {
        let mark = self
            .stack
            .iter()
            .rposition(|v| matches!(v, V::Mark))
            .ok_or(PickleError::Malformed("no mark"))?;
        let items = self.stack.split_off(mark + 1);
        self.stack.pop();
        Ok(items)
    }

    fn container(&mut self, c: Container) -> Result<(), PickleError> {
        self.arena.push(c);
        self.push(V::Ref(self.arena.len() - 1))
    }

    fn top_container(&mut self) -> Result<&mut Container, PickleError> {
        match self.stack.last() {
            Some(V::Ref(i)) => Ok(&mut self.arena[*i]),
            _ => Err(PickleError::Malformed("not a container")),
        }
    }

    fn set_items(&mut self, items: Vec<V>) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(PickleError::Malformed("odd number of dict items"));
        }
        match self.top_container()? {
            Container::Dict(d) => {
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.push((k, v));
                }
                Ok(())
            }
            Container::List(_) => Err(PickleError::Malformed("items set on a list")),
        }
    }

    fn append(&mut self, items: Vec<V>) -> Result<(), PickleError> {
        match self.top_container()? {
            Container::List(l) => {
                l.extend(items);
                Ok(())
            }
            Container::Dict(_) => Err(PickleError::Malformed("append to a dict")),
        }
    }

    fn text(&mut self, bytes: &[u8]) -> Result<(), PickleError> {
        let s = std::str::from_utf8(bytes).map_err(|_| PickleError::Malformed("not UTF-8"))?;
        self.push(V::Text(Rc::from(s)))
    }

    fn put(&mut self, index: u32) -> Result<(), PickleError> {
        let top = self
            .stack
            .last()
            .cloned()
            .ok_or(PickleError::Malformed("put"))?;
        self.memo.insert(index, top);
        Ok(())
    }

    fn get(&mut self, index: u32) -> Result<(), PickleError> {
        let v = self
            .memo
            .get(&index)
            .cloned()
            .ok_or(PickleError::Malformed("unknown memo"))?;
        self.push(v)
    }

    fn decimal(line: &[u8]) -> Option<u32> {
        std::str::from_utf8(line).ok()?.trim().parse().ok()
    }

    /// Runs to STOP; the value it returns.
    fn run(&mut self) -> Result<V, PickleError> {
        loop {
            let op = self.byte()?;
            match op {
                0x80 => {
                    self.byte()?;
                }
                0x95 => {
                    self.take(8)?;
                }
                b'.' => return self.pop(),
                b'(' => self.push(V::Mark)?,
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let top = self
                        .stack
                        .last()
                        .cloned()
                        .ok_or(PickleError::Malformed("dup"))?;
                    self.push(top)?;
                }
                b'N' => self.push(V::None)?,
                0x88 => self.push(V::Bool(true))?,
                0x89 => self.push(V::Bool(false))?,
                b'I' => {
                    let line = self.line()?;
                    let v = match line {
                        b"01" => V::Bool(true),
                        b"00" => V::Bool(false),
                        _ => std::str::from_utf8(line)
                            .ok()
                            .and_then(|t| t.trim().parse().ok())
                            .map_or(V::Opaque, V::Int),
                    };
                    self.push(v)?;
                }
                b'L' => {
                    let line = self.line()?;
                    let v = std::str::from_utf8(line)
                        .ok()
                        .and_then(|t| t.trim().trim_end_matches('L').parse().ok())
                        .map_or(V::Opaque, V::Int);
                    self.push(v)?;
                }
                b'J' => {
                    let v = self.le(4)? as u32 as i32;
                    self.push(V::Int(i64::from(v)))?;
                }
                b'K' => {
                    let v = self.byte()?;
                    self.push(V::Int(i64::from(v)))?;
                }
                b'M' => {
                    let v = self.le(2)?;
                    self.push(V::Int(v as i64))?;
                }
                0x8a | 0x8b => {
                    let n = self.len(if op == 0x8a { 1 } else { 4 })?;
                    let bytes = self.take(n)?;
                    let v = match n {
                        0 => V::Int(0),
                        1..=8 => {
                            let unsigned = bytes
                                .iter()
                                .rev()
                                .fold(0u64, |v, b| (v << 8) | u64::from(*b));
                            let shift = 64 - 8 * n as u32;
                            V::Int(((unsigned << shift) as i64) >> shift)
                        }
                        _ => V::Opaque,
                    };
                    self.push(v)?;
                }
                b'F' => {
                    self.line()?;
                    self.push(V::Opaque)?;
                }
                b'G' => {
                    self.take(8)?;
                    self.push(V::Opaque)?;
                }
                b'X' => {
                    let n = self.len(4)?;
                    let b = self.take(n)?;
                    self.text(b)?;
                }
                0x8c => {
                    let n = self.len(1)?;
                    let b = self.take(n)?;
                    self.text(b)?;
                }
                0x8d => {
                    let n = self.len(8)?;
                    let b = self.take(n)?;
                    self.text(b)?;
                }
                b'V' | b'S' => {
                    let line = self.line()?;
                    let text = String::from_utf8_lossy(line);
                    let text = text.trim_matches(|c| c == '\'' || c == '"');
                    self.push(V::Text(Rc::from(text)))?;
                }
                b'T' | b'U' | b'B' | b'C' | 0x8e | 0x96 => {
                    let width = match op {
                        b'U' | b'C' => 1,
                        b'T' | b'B' => 4,
                        _ => 8,
                    };
                    let n = self.len(width)?;
                    let b = self.take(n)?;
                    self.push(V::Bytes(Rc::from(b)))?;
                }
                b'}' => self.container(Container::Dict(Vec::new()))?,
                b'd' => {
                    let items = self.pop_mark()?;
                    self.container(Container::Dict(Vec::new()))?;
                    self.set_items(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b']' | 0x8f => self.container(Container::List(Vec::new()))?,
                b'l' | 0x91 => {
                    let items = self.pop_mark()?;
                    self.container(Container::List(items))?;
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                b')' => self.container(Container::List(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.container(Container::List(items))?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err(PickleError::Malformed("tuple"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.container(Container::List(items))?;
                }
                b'p' => {
                    let i = Self::decimal(self.line()?).ok_or(PickleError::Malformed("put"))?;
                    self.put(i)?;
                }
                b'q' => {
                    let i = u32::from(self.byte()?);
                    self.put(i)?;
                }
                b'r' => {
                    let i = self.le(4)? as u32;
                    self.put(i)?;
                }
                0x94 => {
                    let i = u32::try_from(self.memo.len()).map_err(|_| PickleError::TooMany)?;
                    self.put(i)?;
                }
                b'g' => {
                    let i = Self::decimal(self.line()?).ok_or(PickleError::Malformed("get"))?;
                    self.get(i)?;
                }
                b'h' => {
                    let i = u32::from(self.byte()?);
                    self.get(i)?;
                }
                b'j' => {
                    let i = self.le(4)? as u32;
                    self.get(i)?;
                }
                // Objects: read past them, never built.
                b'c' => {
                    self.line()?;
                    self.line()?;
                    self.push(V::Opaque)?;
                }
                0x93 | b'R' | 0x81 => {
                    self.pop()?;
                    self.pop()?;
                    self.push(V::Opaque)?;
                }
                0x92 => {
                    self.pop()?;
                    self.pop()?;
                    self.pop()?;
                    self.push(V::Opaque)?;
                }
                b'b' => {
                    self.pop()?;
                }
                b'i' => {
                    self.line()?;
                    self.line()?;
                    self.pop_mark()?;
                    self.push(V::Opaque)?;
                }
                b'o' => {
                    self.pop_mark()?;
                    self.push(V::Opaque)?;
                }
                0x82 => {
                    self.take(1)?;
                    self.push(V::Opaque)?;
                }
                0x83 => {
                    self.take(2)?;
                    self.push(V::Opaque)?;
                }
                0x84 => {
                    self.take(4)?;
                    self.push(V::Opaque)?;
                }
                b'P' => {
                    self.line()?;
                    self.push(V::Opaque)?;
                }
                b'Q' => {
                    self.pop()?;
                    self.push(V::Opaque)?;
                }
                0x97 => self.push(V::Opaque)?,
                0x98 => {}
                other => return Err(PickleError::Opcode(other)),
            }
        }
    }
}

fn scalar(v: &V) -> Scalar {
    match v {
        V::Text(s) => Scalar::Text(s.to_string()),
        V::Bytes(b) => std::str::from_utf8(b).map_or(Scalar::Other, |s| Scalar::Text(s.to_owned())),
        V::Int(n) => Scalar::Int(*n),
        V::Bool(b) => Scalar::Bool(*b),
        V::None | V::Ref(_) | V::Opaque | V::Mark => Scalar::Other,
    }
}

/// Reads a pickle: `Some(entries)` when it is a dict (its text keys; texts of at most
/// `max_text` bytes, longer ones as `Other`), `None` for any other value.
pub fn read_dict(
    bytes: &[u8],
    max_text: usize,
) -> Result<Option<Vec<(String, Scalar)>>, PickleError> {
    let mut m = Machine {
        input: bytes,
        at: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
        arena: Vec::new(),
        items: 0,
    };
    let V::Ref(top) = m.run()? else {
        return Ok(None);
    };
    let Container::Dict(entries) = &m.arena[top] else {
        return Ok(None);
    };
    Ok(Some(
        entries
            .iter()
            .filter_map(|(k, v)| {
                let V::Text(key) = k else { return None };
                let value = match scalar(v) {
                    Scalar::Text(t) if t.len() > max_text => Scalar::Other,
                    s => s,
                };
                Some((key.to_string(), value))
            })
            .collect(),
    ))
}

/// Who a session dict names: Flask-Login's `_user_id`, else YAM's `user_id`; `username`.
/// `None` when an id entry is there but not a text or a number (not a session Flask wrote).
pub fn who(entries: &[(String, Scalar)]) -> Option<(Option<String>, Option<String>)> {
    let value = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let text = |v: &Scalar| match v {
        Scalar::Text(t) => Some(t.clone()),
        Scalar::Int(n) => Some(n.to_string()),
        Scalar::Bool(_) | Scalar::Other => None,
    };
    let mut id = None;
    for key in ["_user_id", "user_id"] {
        match value(key) {
            Some(v) => match text(v) {
                Some(t) => {
                    id = Some(t);
                    break;
                }
                None => return None,
            },
            None => continue,
        }
    }
    Some((id, value("username").and_then(text)))
}

/// The longest user id or name a session's entry may have to be read (longer: not a name).
pub const MAX_NAME: usize = 256;

#[cfg(test)]
mod tests;
