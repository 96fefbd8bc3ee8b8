//! How far a peer's automerge chunks would inflate, measured with a limit before automerge
//! loads them (its loader inflates DEFLATE data without one: a few megabytes of crafted input
//! could ask for gigabytes). Walks the storage chunks one after another: a compressed change
//! (type 2) is inflated whole; a document (0) has its DEFLATE columns inflated one by one; a
//! bundle (3) is not accepted at all. Anything that does not parse is left to automerge, which
//! refuses it.

/// Why a peer's chunks are not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unaccepted {
    /// They would inflate past the limit.
    TooLarge,
    /// A bundle chunk: automerge's sync never sends one, and automerge 0.12 expands a crafted
    /// one into gigabytes (the `record` fuzzer found 211 bytes that asked for 2.3 GB).
    Bundle,
}

use Unaccepted::TooLarge;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// A column whose specification has this bit is DEFLATE-compressed.
const DEFLATE: u64 = 0b1000;

/// A cursor over bytes; `None` means "does not parse" (automerge will say why).
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn leb(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            value |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    /// A count-prefixed list of byte strings (actor IDs).
    fn skip_actors(&mut self) -> Option<()> {
        for _ in 0..self.leb()? {
            let n = self.leb()?;
            self.take(n)?;
        }
        Some(())
    }

    /// A count-prefixed list of change hashes.
    fn skip_hashes(&mut self) -> Option<()> {
        let n = self.leb()?;
        self.take(n.checked_mul(32)?)?;
        Some(())
    }

    /// Column specifications and lengths.
    fn columns(&mut self) -> Option<Vec<(u64, u64)>> {
        let n = self.leb()?;
        let mut out = Vec::new();
        for _ in 0..n {
            out.push((self.leb()?, self.leb()?));
        }
        Some(out)
    }
}

/// Inflates DEFLATE `data` into at most `budget` bytes; the bytes it came to.
fn inflate(data: &[u8], budget: &mut usize) -> Result<(), Unaccepted> {
    match miniz_oxide::inflate::decompress_to_vec_with_limit(data, *budget) {
        Ok(out) => {
            *budget -= out.len();
            Ok(())
        }
        Err(e) if e.status == miniz_oxide::inflate::TINFLStatus::HasMoreOutput => Err(TooLarge),
        // Corrupt: automerge refuses it.
        Err(_) => Ok(()),
    }
}

/// The DEFLATE columns among `columns`, whose data follows in `data`.
fn inflate_columns(
    columns: &[(u64, u64)],
    data: &mut Cursor<'_>,
    budget: &mut usize,
) -> Result<Option<()>, Unaccepted> {
    for &(spec, len) in columns {
        let Some(bytes) = data.take(len) else {
            return Ok(None);
        };
        if spec & DEFLATE != 0 {
            inflate(bytes, budget)?;
        }
    }
    Ok(Some(()))
}

/// Checks that `bytes` (storage chunks one after another, as a sync message carries them)
/// hold no bundle and inflate to at most `budget` bytes, and takes what they inflate to off it.
pub fn check(bytes: &[u8], budget: &mut usize) -> Result<(), Unaccepted> {
    let mut rest = Cursor(bytes);
    while !rest.0.is_empty() {
        let Some(header) = rest.take(9) else {
            return Ok(());
        };
        if header[..4] != MAGIC {
            return Ok(());
        }
        let kind = header[8];
        let Some(body) = rest.leb().and_then(|n| rest.take(n)) else {
            return Ok(());
        };
        let mut body = Cursor(body);
        let parsed = match kind {
            2 => {
                inflate(body.0, budget)?;
                Some(())
            }
            0 => {
                let Some(((), (), changes, ops)) = (|| {
                    Some((
                        body.skip_actors()?,
                        body.skip_hashes()?,
                        body.columns()?,
                        body.columns()?,
                    ))
                })() else {
                    return Ok(());
                };
                match inflate_columns(&changes, &mut body, budget)? {
                    None => None,
                    Some(()) => inflate_columns(&ops, &mut body, budget)?,
                }
            }
            3 => return Err(Unaccepted::Bundle),
            _ => Some(()),
        };
        if parsed.is_none() {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ROOT};

    use super::*;

    fn chunk(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend([0, 0, 0, 0, kind]);
        let mut n = body.len() as u64;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn a_compressed_chunk_that_inflates_past_the_limit_is_caught_before_automerge_loads_it() {
        let bomb = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 64 * 1024 * 1024], 10);
        assert!(bomb.len() < 128 * 1024, "a small frame: {}", bomb.len());
        let bytes = chunk(2, &bomb);
        assert_eq!(check(&bytes, &mut (1024 * 1024)), Err(TooLarge));
        assert_eq!(check(&bytes, &mut (65 * 1024 * 1024)), Ok(()));
    }

    #[test]
    fn a_deflated_document_column_counts_and_real_documents_pass() {
        let mut doc = Automerge::new();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "notes", "楼道".repeat(5_000))?;
            Ok(())
        })
        .expect("edit");
        let saved = doc.save();
        assert_eq!(check(&saved, &mut (10 * 1024 * 1024)), Ok(()));
        // The saved document deflates its large columns: a budget below them is exceeded.
        assert_eq!(check(&saved, &mut 100), Err(TooLarge));
        // So do its changes, one after another.
        let changes: Vec<u8> = doc
            .get_changes(&[])
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        assert_eq!(check(&changes, &mut (10 * 1024 * 1024)), Ok(()));
    }

    #[test]
    fn a_bundle_is_not_accepted() {
        assert_eq!(
            check(&chunk(3, &[0; 8]), &mut 1_000),
            Err(Unaccepted::Bundle)
        );
    }

    #[test]
    fn what_does_not_parse_is_left_to_automerge() {
        assert_eq!(check(b"not a chunk", &mut 10), Ok(()));
        assert_eq!(check(&chunk(0, &[0xff; 3]), &mut 10), Ok(()));
        assert_eq!(check(&[], &mut 10), Ok(()));
    }
}
