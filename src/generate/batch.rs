//! Rows in flight between the planner thread and the writer: one batch
//! holds a run of rows of one table as a flat array of small values whose
//! text and bytes live in two buffers of the batch (not one allocation per
//! value: freeing millions of strings on the writer that the planner had
//! allocated made the two threads fight over the allocator, see
//! `history.rs`).

/// A piece of a batch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

/// One value of one column.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Val {
    Null,
    Int(i64),
    Real(f64),
    Bool(bool),
    /// Text in the batch's `text`.
    Text(Span),
    /// Bytes in the batch's `bytes`.
    Blob(Span),
    /// A decimal: the unscaled integer (the column's plan knows the scale).
    Dec(i64),
}

/// Rows of one table.
#[derive(Debug, Default)]
pub struct Batch {
    /// Index of the table in the plan.
    pub table: usize,
    /// Row index of the first row.
    pub first: u64,
    /// Values, row after row (`width` per row).
    pub vals: Vec<Val>,
    /// Text of every `Val::Text`.
    pub text: String,
    /// Bytes of every `Val::Blob`.
    pub bytes: Vec<u8>,
}

impl Batch {
    /// An empty batch for `table` starting at row `first`.
    pub fn new(table: usize, first: u64, vals: usize, text: usize) -> Batch {
        Batch {
            table,
            first,
            vals: Vec::with_capacity(vals),
            text: String::with_capacity(text),
            bytes: Vec::new(),
        }
    }

    /// The text of a span.
    pub fn str(&self, s: Span) -> &str {
        &self.text[s.start as usize..(s.start + s.len) as usize]
    }

    /// The bytes of a span.
    pub fn blob(&self, s: Span) -> &[u8] {
        &self.bytes[s.start as usize..(s.start + s.len) as usize]
    }

    /// Start a text value: its span is closed by [`Batch::close_text`].
    pub fn open_text(&self) -> u32 {
        self.text.len() as u32
    }

    /// The text written since `start`.
    pub fn close_text(&self, start: u32) -> Val {
        Val::Text(Span {
            start,
            len: self.text.len() as u32 - start,
        })
    }

    /// Append `s` as one text value.
    pub fn push_text(&mut self, s: &str) -> Val {
        let start = self.open_text();
        self.text.push_str(s);
        self.close_text(start)
    }

    /// Append bytes as one blob value.
    pub fn push_blob(&mut self, b: &[u8]) -> Val {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(b);
        Val::Blob(Span {
            start,
            len: b.len() as u32,
        })
    }

    /// Copy value `v` of batch `from` into this batch.
    pub fn copy_from(&mut self, from: &Batch, v: Val) -> Val {
        match v {
            Val::Text(s) => self.push_text(from.str(s)),
            Val::Blob(s) => self.push_blob(from.blob(s)),
            other => other,
        }
    }

    /// Where the buffers end: to undo a rejected row with [`Batch::undo`].
    pub fn mark(&self) -> (usize, usize, usize) {
        (self.vals.len(), self.text.len(), self.bytes.len())
    }

    /// Drop everything written after `mark`.
    pub fn undo(&mut self, mark: (usize, usize, usize)) {
        self.vals.truncate(mark.0);
        self.text.truncate(mark.1);
        self.bytes.truncate(mark.2);
    }
}
