//! Where deleted data can still be read: a walk over a SQLite file's free
//! space, reported beside each phase and never part of the verdict.
//!
//! SQLite does not overwrite what it frees (unless `secure_delete` is on): a
//! deleted row's bytes stay in its page's freeblocks or unallocated gap, and
//! a dropped table's pages go to the freelist with their content intact.
//! After a compensating rollback the logical content can equal the before
//! state while the file still holds the rows the change wrote and the down
//! script deleted; on an operator's real dump that matters. The walk visits
//! every b-tree page from the schema's root pages (file format: sqlite.org
//! fileformat2.html §1.6, §2.3) and every freelist page, and counts the
//! non-zero bytes in their unused space. Overflow pages' unused tails are
//! not examined. Memory: one bit per page plus one page buffer.

use rusqlite::Connection;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Free-space facts of one state of a database file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FreeSpace {
    /// Pages on the freelist (`PRAGMA freelist_count`, header bytes 36–39).
    pub freelist_pages: u64,
    /// Pages whose unused space (freelist pages, freeblocks and the
    /// unallocated gap of b-tree pages) holds at least one non-zero byte.
    pub residue_pages: u64,
    /// Non-zero bytes in that unused space: remnants of deleted or moved
    /// rows that a reader of the raw file can still see.
    pub residue_bytes: u64,
}

/// A set of page numbers, one bit each.
struct Pages(Vec<u64>);

impl Pages {
    fn new(n: u64) -> Pages {
        Pages(vec![0; (n as usize / 64) + 1])
    }
    /// Insert `p`; false if it was already there (or out of range).
    fn insert(&mut self, p: u64) -> bool {
        let (i, b) = ((p / 64) as usize, p % 64);
        match self.0.get_mut(i) {
            Some(w) if *w & (1 << b) == 0 => {
                *w |= 1 << b;
                true
            }
            _ => false,
        }
    }
}

fn be16(d: &[u8], at: usize) -> usize {
    d.get(at..at + 2)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) as usize)
}

fn be32(d: &[u8], at: usize) -> u64 {
    d.get(at..at + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64)
}

fn nonzero(d: &[u8], from: usize, to: usize) -> u64 {
    d.get(from..to.min(d.len()))
        .map_or(0, |s| s.iter().filter(|&&b| b != 0).count() as u64)
}

struct Walk {
    file: File,
    page_size: usize,
    usable: usize,
    pages: u64,
    buf: Vec<u8>,
    out: FreeSpace,
}

impl Walk {
    fn read(&mut self, pgno: u64) -> io::Result<bool> {
        if pgno == 0 || pgno > self.pages {
            return Ok(false);
        }
        self.file
            .read_exact_at(&mut self.buf, (pgno - 1) * self.page_size as u64)?;
        Ok(true)
    }

    fn count(&mut self, n: u64) {
        if n > 0 {
            self.out.residue_pages += 1;
            self.out.residue_bytes += n;
        }
    }

    /// The freelist: trunk pages (next trunk, leaf count, leaf numbers, then
    /// unused) and their leaves (wholly unused).
    fn freelist(&mut self, first: u64, seen: &mut Pages) -> io::Result<()> {
        let mut trunk = first;
        while seen.insert(trunk) && self.read(trunk)? {
            let next = be32(&self.buf, 0);
            let leaves = (be32(&self.buf, 4) as usize).min((self.usable - 8) / 4);
            let ids: Vec<u64> = (0..leaves).map(|i| be32(&self.buf, 8 + 4 * i)).collect();
            let n = nonzero(&self.buf, 8 + 4 * leaves, self.usable);
            self.count(n);
            for leaf in ids {
                if seen.insert(leaf) && self.read(leaf)? {
                    let n = nonzero(&self.buf, 0, self.usable);
                    self.count(n);
                }
            }
            trunk = next;
        }
        Ok(())
    }

    /// One b-tree from its root: freeblocks and the gap of every page.
    fn btree(&mut self, root: u64, seen: &mut Pages) -> io::Result<()> {
        let mut stack = vec![root];
        while let Some(pgno) = stack.pop() {
            if !seen.insert(pgno) || !self.read(pgno)? {
                continue;
            }
            let h = if pgno == 1 { 100 } else { 0 };
            let interior = match self.buf.get(h) {
                Some(2 | 5) => true,
                Some(10 | 13) => false,
                _ => continue, // not a b-tree page: corrupt, leave it to integrity_check
            };
            let d = &self.buf;
            let cells = be16(d, h + 3);
            let content = match be16(d, h + 5) {
                0 => 65536,
                c => c,
            }
            .min(self.usable);
            let ptrs = h + if interior { 12 } else { 8 };
            let gap_start = ptrs + 2 * cells;
            let mut n = if gap_start < content {
                nonzero(d, gap_start, content)
            } else {
                0
            };
            // Freeblocks: (next u16, size u16, then free bytes), ascending.
            let mut fb = be16(d, h + 1);
            let mut last = 0;
            while fb > last && fb + 4 <= self.usable {
                let size = be16(d, fb + 2);
                n += nonzero(d, fb + 4, (fb + size).min(self.usable));
                last = fb;
                fb = be16(d, fb);
            }
            if interior {
                stack.push(be32(d, h + 8));
                for i in 0..cells {
                    let at = be16(d, ptrs + 2 * i);
                    stack.push(be32(d, at));
                }
            }
            self.count(n);
        }
        Ok(())
    }
}

/// Walk the free space of the database file at `path` (opened for reading
/// only; `conn` is a read-only connection to the same file, used to list
/// the root pages).
pub fn scan(path: &Path, conn: &Connection) -> io::Result<FreeSpace> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut header = [0u8; 100];
    if len < 100 {
        return Ok(FreeSpace {
            freelist_pages: 0,
            residue_pages: 0,
            residue_bytes: 0,
        });
    }
    file.read_exact_at(&mut header, 0)?;
    let page_size = match be16(&header, 16) {
        1 => 65536,
        n => n,
    };
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(io::Error::other(format!(
            "{}: header page size {page_size} is not a valid SQLite page size",
            path.display()
        )));
    }
    let usable = page_size - header[20] as usize;
    let pages = len / page_size as u64;
    let roots: Vec<u64> = {
        let mut stmt = conn
            .prepare("SELECT rootpage FROM sqlite_schema WHERE rootpage > 0")
            .map_err(io::Error::other)?;
        stmt.query_map([], |r| r.get::<_, i64>(0))
            .map_err(io::Error::other)?
            .filter_map(|r| r.ok())
            .map(|p| p as u64)
            .collect()
    };
    let mut w = Walk {
        file,
        page_size,
        usable,
        pages,
        buf: vec![0; page_size],
        out: FreeSpace {
            freelist_pages: be32(&header, 36),
            residue_pages: 0,
            residue_bytes: 0,
        },
    };
    let mut seen = Pages::new(pages + 1);
    w.freelist(be32(&header, 32), &mut seen)?;
    for root in std::iter::once(1).chain(roots) {
        w.btree(root, &mut seen)?;
    }
    Ok(w.out)
}
