//! Search over the public log: the entries whose public fields and days match a query,
//! newest or oldest first, a page at a time (docs/api.md, `GET /v1/search`).
//!
//! The statistics cube says, per block of [`BLOCK`] entries, whether any entry of the block
//! matches; a search reads only those blocks' leaves, and checks each entry it reads. A
//! page stops after `limit` matches or after reading [`SCAN_BUDGET`] leaves, whichever comes
//! first, and gives a cursor to go on from, so that no request reads more than that.

use huella_core::entry::Leaf;
use huella_core::stats::{BLOCK, Facts, Query};
use huella_core::values::Timestamp;

use crate::ledger::reader::ReadError;
#[cfg(doc)]
use crate::ledger::reader::Snapshot;

/// SCAN_BUDGET is the most leaves one page reads.
pub const SCAN_BUDGET: u64 = 20_000;

/// MAX_LIMIT is the most entries one page returns.
pub const MAX_LIMIT: u64 = 100;

/// READ is how many leaves are read at once.
const READ: u64 = 256;

/// Order is the order entries are returned in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Highest index first.
    Newest,
    /// Lowest index first.
    Oldest,
}

/// Request is one page of a search.
#[derive(Clone, Debug)]
pub struct Request {
    /// What to match (`group_by` plays no part).
    pub query: Query,
    /// The order.
    pub order: Order,
    /// The index to go on from, included (a previous page's `next_cursor`); `None` starts at
    /// the newest or oldest entry.
    pub cursor: Option<u64>,
    /// Most entries to return, 1 to [`MAX_LIMIT`].
    pub limit: u64,
}

/// Found is one matching entry.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Found {
    /// Its index.
    pub index: u64,
    /// Its public fields, by name; those its kind does not have are left out.
    #[serde(flatten)]
    pub fields: std::collections::BTreeMap<&'static str, String>,
    /// `records_returned` (access entries).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records_returned: Option<u64>,
    /// Its time: `accessed_at` for an access, `read_at` for a sealed read, `ordered_at` for
    /// an erasure, `integrated_at` for the rest.
    pub time: String,
    /// When the log integrated it.
    pub integrated_at: String,
    /// Where to get its leaf, its inclusion proof and its receipt.
    pub links: Links,
}

/// Links are an entry's URLs, relative to the log's base URL.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Links {
    /// `GET /v1/entries/{index}`.
    pub leaf: String,
    /// `GET /v1/proofs/inclusion?index=…&tree_size=…`, at the page's tree size.
    pub inclusion_proof: String,
    /// `GET /v1/receipts/{index}`.
    pub receipt: String,
}

/// Page is one page of a search's answer.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Page {
    /// The log size searched.
    pub tree_size: u64,
    /// `newest` or `oldest`.
    pub order: &'static str,
    /// How many entries of the log match, in all (from the statistics index).
    pub matches: u64,
    /// This page's matches.
    pub entries: Vec<Found>,
    /// Where the next page starts; `null` when the search is done.
    pub next_cursor: Option<u64>,
    /// How many leaves this page read.
    pub scanned: u64,
}

/// search answers one page of `request` over a log of `size` entries whose leaves
/// `read(first, count)` reads (a [`Snapshot`]'s, for the server), reading only the blocks
/// `blocks` marks (a block past its end is read), with `matches` the total count.
pub fn search(
    size: u64,
    mut read: impl FnMut(u64, u64) -> Result<Vec<Vec<u8>>, ReadError>,
    blocks: &[bool],
    matches: u64,
    request: &Request,
) -> Result<Page, ReadError> {
    let mut page = Page {
        tree_size: size,
        order: match request.order {
            Order::Newest => "newest",
            Order::Oldest => "oldest",
        },
        matches,
        entries: Vec::new(),
        next_cursor: None,
        scanned: 0,
    };
    // The next index to look at, if any is left.
    let mut at = match (request.order, request.cursor) {
        (_, Some(c)) if c >= size => {
            return Err(ReadError::Beyond {
                what: "cursor",
                value: c,
                size,
            });
        }
        (_, Some(c)) => Some(c),
        (Order::Newest, None) => size.checked_sub(1),
        (Order::Oldest, None) => (size > 0).then_some(0),
    };
    let wanted = |block: u64| blocks.get(block as usize).copied().unwrap_or(true);
    while let Some(index) = at {
        if page.entries.len() as u64 >= request.limit || page.scanned >= SCAN_BUDGET {
            break;
        }
        let block = index / BLOCK;
        // The range to read next: within this block, towards the order's end.
        let (first, last) = match request.order {
            Order::Newest => ((index + 1).saturating_sub(READ).max(block * BLOCK), index),
            Order::Oldest => (index, (index + READ).min((block + 1) * BLOCK).min(size) - 1),
        };
        let next = |from_first: u64, from_last: u64| match request.order {
            Order::Newest => from_first.checked_sub(1),
            Order::Oldest => Some(from_last + 1).filter(|&i| i < size),
        };
        if !wanted(block) {
            // Nothing in this block matches: skip to the next block.
            at = match request.order {
                Order::Newest => (block * BLOCK).checked_sub(1),
                Order::Oldest => Some((block + 1) * BLOCK).filter(|&i| i < size),
            };
            continue;
        }
        let leaves = read(first, last - first + 1)?;
        let mut order: Vec<(u64, &Vec<u8>)> = (first..).zip(&leaves).collect();
        if request.order == Order::Newest {
            order.reverse();
        }
        at = next(first, last);
        for (i, leaf) in order {
            if page.entries.len() as u64 >= request.limit {
                at = Some(i);
                break;
            }
            page.scanned += 1;
            // Every published leaf parsed when it was appended, and verifiers check it; one
            // that does not parse is not a match.
            let Ok(parsed) = Leaf::parse(leaf) else {
                continue;
            };
            let facts = Facts::of(&parsed);
            if request.query.matches(&facts) {
                page.entries.push(found(i, &parsed, &facts, size));
            }
        }
    }
    page.next_cursor = at;
    Ok(page)
}

/// found is a matching entry's public form.
fn found(index: u64, leaf: &Leaf, facts: &Facts, size: u64) -> Found {
    let (time, integrated): (&Timestamp, &Timestamp) = match leaf {
        Leaf::Access(e) => (&e.event.accessed_at, &e.integrated_at),
        Leaf::SealedRead(e) => (&e.event.read_at, &e.integrated_at),
        Leaf::Erasure(e) => (&e.event.ordered_at, &e.integrated_at),
        Leaf::Retention(e) => (&e.integrated_at, &e.integrated_at),
        Leaf::Registry(e) => (&e.integrated_at, &e.integrated_at),
    };
    let fields = huella_core::stats::FIELDS
        .iter()
        .zip(&facts.values)
        .filter_map(|(field, value)| value.clone().map(|v| (field.name(), v)))
        .collect();
    Found {
        index,
        fields,
        records_returned: matches!(leaf, Leaf::Access(_)).then_some(facts.records_returned),
        time: time.as_str().to_string(),
        integrated_at: integrated.as_str().to_string(),
        links: Links {
            leaf: format!("/v1/entries/{index}"),
            inclusion_proof: format!("/v1/proofs/inclusion?index={index}&tree_size={size}"),
            receipt: format!("/v1/receipts/{index}"),
        },
    }
}
