//! A small CBOR codec with the limits a network-facing decoder needs.
//!
//! Decoding never panics and never allocates more than the input can hold: every length is
//! checked against the bytes that remain before anything is reserved, nesting is capped, and
//! trailing bytes are an error. Encoding writes maps with a 16-bit length header (`0xb9`), as
//! cbor-x (the encoder automerge-repo uses) does, so our frames match the JS ones byte for byte.

/// A decoded CBOR item.
#[derive(Clone, Debug, PartialEq)]
pub enum Cbor {
    /// An unsigned integer.
    Uint(u64),
    /// A negative integer `-1 - n`.
    Nint(u64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A text string.
    Text(String),
    /// An array.
    Array(Vec<Cbor>),
    /// A map, in wire order.
    Map(Vec<(Cbor, Cbor)>),
    /// A tagged item.
    Tag(u64, Box<Cbor>),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `undefined` (JS sends it for absent optional fields).
    Undefined,
    /// A float of any width.
    Float(f64),
}

/// Why bytes are not a CBOR item we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CborError {
    /// The input ended inside an item.
    #[error("truncated cbor: input ended inside an item")]
    Truncated,
    /// Bytes follow the item.
    #[error("{0} trailing bytes after the cbor item")]
    Trailing(usize),
    /// Nesting deeper than the limit.
    #[error("cbor nested deeper than {0} levels")]
    TooDeep(usize),
    /// A text string is not UTF-8.
    #[error("cbor text is not valid utf-8")]
    BadUtf8,
    /// A construct this decoder does not accept (indefinite lengths, reserved values).
    #[error("unsupported cbor construct: {0}")]
    Unsupported(&'static str),
}

const MAX_DEPTH: usize = 32;

/// Decodes exactly one item from `input`.
pub fn decode(input: &[u8]) -> Result<Cbor, CborError> {
    let mut d = Decoder { input, pos: 0 };
    let item = d.item(0)?;
    match input.len() - d.pos {
        0 => Ok(item),
        n => Err(CborError::Trailing(n)),
    }
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&[u8], CborError> {
        if n > self.remaining() {
            return Err(CborError::Truncated);
        }
        let out = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, CborError> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self, info: u8) -> Result<u64, CborError> {
        Ok(match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.fixed()?)),
            26 => u64::from(u32::from_be_bytes(self.fixed()?)),
            27 => u64::from_be_bytes(self.fixed()?),
            31 => return Err(CborError::Unsupported("indefinite length")),
            _ => return Err(CborError::Unsupported("reserved additional info")),
        })
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], CborError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A length that must fit in what remains, each element taking at least `min` bytes.
    fn len(&mut self, info: u8, min: usize) -> Result<usize, CborError> {
        let n = self.uint(info)?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min) <= self.remaining() => Ok(n),
            _ => Err(CborError::Truncated),
        }
    }

    fn item(&mut self, depth: usize) -> Result<Cbor, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep(MAX_DEPTH));
        }
        let initial = self.byte()?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        Ok(match major {
            0 => Cbor::Uint(self.uint(info)?),
            1 => Cbor::Nint(self.uint(info)?),
            2 => {
                let n = self.len(info, 1)?;
                Cbor::Bytes(self.take(n)?.to_vec())
            }
            3 => {
                let n = self.len(info, 1)?;
                let bytes = self.take(n)?;
                Cbor::Text(
                    std::str::from_utf8(bytes)
                        .map_err(|_| CborError::BadUtf8)?
                        .to_owned(),
                )
            }
            4 => {
                let n = self.len(info, 1)?;
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.item(depth + 1)?);
                }
                Cbor::Array(items)
            }
            5 => {
                let n = self.len(info, 2)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let k = self.item(depth + 1)?;
                    let v = self.item(depth + 1)?;
                    entries.push((k, v));
                }
                Cbor::Map(entries)
            }
            6 => {
                let tag = self.uint(info)?;
                Cbor::Tag(tag, Box::new(self.item(depth + 1)?))
            }
            _ => match info {
                20 => Cbor::Bool(false),
                21 => Cbor::Bool(true),
                22 => Cbor::Null,
                23 => Cbor::Undefined,
                25 => Cbor::Float(half_to_f64(u16::from_be_bytes(self.fixed()?))),
                26 => Cbor::Float(f64::from(f32::from_be_bytes(self.fixed()?))),
                27 => Cbor::Float(f64::from_be_bytes(self.fixed()?)),
                _ => return Err(CborError::Unsupported("simple value")),
            },
        })
    }
}

fn half_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 == 0 { 1.0 } else { -1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

/// Encodes an item the way cbor-x does for the messages automerge-repo sends.
pub fn encode(item: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, item);
    out
}

fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend(n.to_be_bytes());
        }
    }
}

fn write(out: &mut Vec<u8>, item: &Cbor) {
    match item {
        Cbor::Uint(n) => head(out, 0, *n),
        Cbor::Nint(n) => head(out, 1, *n),
        Cbor::Bytes(b) => {
            head(out, 2, b.len() as u64);
            out.extend(b);
        }
        Cbor::Text(s) => {
            head(out, 3, s.len() as u64);
            out.extend(s.as_bytes());
        }
        Cbor::Array(items) => {
            head(out, 4, items.len() as u64);
            items.iter().for_each(|i| write(out, i));
        }
        Cbor::Map(entries) => {
            // cbor-x reserves a 16-bit length for objects it encodes key by key.
            if entries.len() <= 0xffff {
                out.push(0xb9);
                out.extend((entries.len() as u16).to_be_bytes());
            } else {
                head(out, 5, entries.len() as u64);
            }
            for (k, v) in entries {
                write(out, k);
                write(out, v);
            }
        }
        Cbor::Tag(t, inner) => {
            head(out, 6, *t);
            write(out, inner);
        }
        Cbor::Bool(false) => out.push(0xf4),
        Cbor::Bool(true) => out.push(0xf5),
        Cbor::Null => out.push(0xf6),
        Cbor::Undefined => out.push(0xf7),
        Cbor::Float(f) => {
            out.push(0xfb);
            out.extend(f.to_be_bytes());
        }
    }
}

impl Cbor {
    /// The value at `key` if this is a map with text keys.
    pub fn get(&self, key: &str) -> Option<&Cbor> {
        match self {
            Self::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Self::Text(t) if t == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A map with text keys, in the given order.
    pub fn map<const N: usize>(entries: [(&str, Cbor); N]) -> Self {
        Self::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Self::Text(k.to_owned()), v))
                .collect(),
        )
    }

    /// A number as JS's cbor-x writes it: an integer up to 32 bits, a float64 beyond.
    pub fn js_number(n: u64) -> Self {
        if n <= u64::from(u32::MAX) {
            Self::Uint(n)
        } else {
            Self::Float(n as f64)
        }
    }

    /// Text.
    pub fn text(s: impl Into<String>) -> Self {
        Self::Text(s.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nested_items() {
        let item = Cbor::map([
            ("a", Cbor::Uint(300)),
            (
                "b",
                Cbor::Array(vec![Cbor::Nint(0), Cbor::Bytes(vec![1, 2])]),
            ),
            ("c", Cbor::Undefined),
            ("d", Cbor::Float(1.5)),
            ("e", Cbor::text("门牌")),
        ]);
        assert_eq!(decode(&encode(&item)), Ok(item));
    }

    #[test]
    fn rejects_lengths_longer_than_the_input() {
        // A byte string claiming 2^64-1 bytes, an array claiming a million items.
        assert_eq!(
            decode(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(CborError::Truncated)
        );
        assert_eq!(
            decode(&[0x9a, 0x00, 0x0f, 0x42, 0x40]),
            Err(CborError::Truncated)
        );
        assert_eq!(decode(&[]), Err(CborError::Truncated));
        assert_eq!(decode(&[0x01, 0x02]), Err(CborError::Trailing(1)));
        assert_eq!(
            decode(&[0x9f]),
            Err(CborError::Unsupported("indefinite length"))
        );
    }

    #[test]
    fn caps_nesting() {
        let deep = vec![0x81; 100];
        assert_eq!(decode(&deep), Err(CborError::TooDeep(MAX_DEPTH)));
    }

    #[test]
    fn decodes_half_floats() {
        assert_eq!(decode(&[0xf9, 0x3c, 0x00]), Ok(Cbor::Float(1.0)));
        assert_eq!(decode(&[0xf9, 0xc0, 0x00]), Ok(Cbor::Float(-2.0)));
    }
}
