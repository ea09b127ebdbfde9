//! Statistics over the public log: counts of entries grouped by their public fields and by
//! day, month or year, filtered by the same fields and a range of days (docs/api.md,
//! `GET /v1/stats`).
//!
//! The log keeps a [`Cube`] up to date as it appends, and the verifier builds one from the
//! log it has just verified: both answer a [`Query`] with the same code, so a rights group's
//! numbers and the operator's can be compared cell for cell. A cube holds one cell per
//! distinct combination of an entry's public fields and its two days (`accessed_at`'s and
//! `integrated_at`'s), with the cell's totals; its size grows with that variety, not with
//! the number of entries. Nothing sealed is counted: only what every reader sees in the
//! leaves.

use std::collections::{BTreeMap, HashMap};

use crate::entry::{Entry, Leaf, RegistryEntry};
use crate::event::Outcome;
use crate::keylog::RegistryEvent;
use crate::sealed::{Erasure, Retention, SealedRead, SignedEntry};
use crate::values::Timestamp;

/// Field is a public field an entry is counted by. Not every kind has every field: a
/// sealed read has no `holder_agency`; the cell holds none there (JSON `null`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// The agency that accessed (an access), read (a sealed read), ordered (an erasure), or
    /// whose key a registration names.
    RequestingAgency,
    /// That agency's country.
    RequestingCountry,
    /// The agency holding the data accessed (access entries).
    HolderAgency,
    /// Its country.
    HolderCountry,
    /// The data category (access entries).
    Category,
    /// The purpose (access entries and sealed reads).
    Purpose,
    /// The legal basis (access entries, sealed reads, erasures).
    LegalBasis,
    /// `hit`, `no_hit` or `error` (access entries).
    Outcome,
    /// The entry's `kind`: `access`, `sealed_read`, `erasure`, `retention`, `key_register`,
    /// `key_retire`, `key_revoke`.
    Kind,
}

/// FIELDS is every [`Field`], in the order cells hold them.
pub const FIELDS: [Field; 9] = [
    Field::RequestingAgency,
    Field::RequestingCountry,
    Field::HolderAgency,
    Field::HolderCountry,
    Field::Category,
    Field::Purpose,
    Field::LegalBasis,
    Field::Outcome,
    Field::Kind,
];

impl Field {
    /// name is the field's name in queries and answers.
    pub fn name(self) -> &'static str {
        match self {
            Field::RequestingAgency => "requesting_agency",
            Field::RequestingCountry => "requesting_country",
            Field::HolderAgency => "holder_agency",
            Field::HolderCountry => "holder_country",
            Field::Category => "category",
            Field::Purpose => "purpose",
            Field::LegalBasis => "legal_basis",
            Field::Outcome => "outcome",
            Field::Kind => "kind",
        }
    }

    /// parse reads a field's name.
    pub fn parse(name: &str) -> Option<Field> {
        FIELDS.into_iter().find(|f| f.name() == name)
    }

    fn position(self) -> usize {
        self as usize
    }
}

/// Dimension is what a query groups by: a field, or the day, month or year of the query's
/// time field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// A public field.
    Field(Field),
    /// `YYYY-MM-DD` (UTC).
    Day,
    /// `YYYY-MM`.
    Month,
    /// `YYYY`.
    Year,
}

impl Dimension {
    /// name is the dimension's name in `group_by` and in answers.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Field(f) => f.name(),
            Dimension::Day => "day",
            Dimension::Month => "month",
            Dimension::Year => "year",
        }
    }

    /// parse reads a dimension's name.
    pub fn parse(name: &str) -> Option<Dimension> {
        match name {
            "day" => Some(Dimension::Day),
            "month" => Some(Dimension::Month),
            "year" => Some(Dimension::Year),
            other => Field::parse(other).map(Dimension::Field),
        }
    }
}

/// DIMENSION_NAMES lists every dimension's name, for error messages and docs.
pub const DIMENSION_NAMES: &str = "requesting_agency, requesting_country, holder_agency, \
    holder_country, category, purpose, legal_basis, outcome, kind, day, month, year";

/// TimeField is which time a query's days are of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeField {
    /// When the agency says the access (or read, or order) happened; for registry events
    /// and retention notices, which carry no such time, when the log integrated them.
    #[default]
    AccessedAt,
    /// When the log integrated the entry.
    IntegratedAt,
}

impl TimeField {
    /// name is the name in queries and answers.
    pub fn name(self) -> &'static str {
        match self {
            TimeField::AccessedAt => "accessed_at",
            TimeField::IntegratedAt => "integrated_at",
        }
    }
}

/// Facts are what statistics count of one entry: its public fields, its two days, and its
/// `records_returned`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// The fields, in [`FIELDS`] order.
    pub values: [Option<String>; 9],
    /// The UTC day (`YYYY-MM-DD`) of its `accessed_at` (or its stand-in, [`TimeField`]).
    pub accessed_day: String,
    /// The UTC day of its `integrated_at`.
    pub integrated_day: String,
    /// Records returned (access entries; 0 for other kinds).
    pub records_returned: u64,
}

/// day is the UTC day of a timestamp: its first ten characters, since every timestamp in a
/// leaf is RFC 3339 UTC (format.md §2).
fn day(t: &Timestamp) -> String {
    t.as_str().get(..10).unwrap_or_default().to_string()
}

impl Facts {
    /// of reads the facts of a parsed leaf.
    pub fn of(leaf: &Leaf) -> Facts {
        match leaf {
            Leaf::Access(entry) => Facts::of_access(entry),
            Leaf::SealedRead(entry) => Facts::of_sealed_read(entry),
            Leaf::Erasure(entry) => Facts::of_erasure(entry),
            Leaf::Retention(entry) => Facts::of_retention(entry),
            Leaf::Registry(entry) => Facts::of_registry(entry),
        }
    }

    fn new(
        fields: &[(Field, &str)],
        accessed: &Timestamp,
        integrated: &Timestamp,
        records_returned: u64,
    ) -> Facts {
        let mut values: [Option<String>; 9] = Default::default();
        for (field, value) in fields {
            values[field.position()] = Some(value.to_string());
        }
        Facts {
            values,
            accessed_day: day(accessed),
            integrated_day: day(integrated),
            records_returned,
        }
    }

    /// of_access is the facts of an access entry.
    pub fn of_access(entry: &Entry) -> Facts {
        let e = &entry.event;
        Facts::new(
            &[
                (Field::RequestingAgency, e.requesting_agency.as_str()),
                (Field::RequestingCountry, e.requesting_country.as_str()),
                (Field::HolderAgency, e.holder_agency.as_str()),
                (Field::HolderCountry, e.holder_country.as_str()),
                (Field::Category, e.category.as_str()),
                (Field::Purpose, e.purpose.as_str()),
                (Field::LegalBasis, e.legal_basis.as_str()),
                (Field::Outcome, e.outcome.as_str()),
                (Field::Kind, e.kind.as_str()),
            ],
            &e.accessed_at,
            &entry.integrated_at,
            e.records_returned.get(),
        )
    }

    /// of_sealed_read is the facts of a sealed read: who read, why, under what law.
    pub fn of_sealed_read(entry: &SignedEntry<SealedRead>) -> Facts {
        let e = &entry.event;
        Facts::new(
            &[
                (Field::RequestingAgency, e.agency.as_str()),
                (Field::RequestingCountry, e.country.as_str()),
                (Field::Purpose, e.purpose.as_str()),
                (Field::LegalBasis, e.legal_basis.as_str()),
                (Field::Kind, "sealed_read"),
            ],
            &e.read_at,
            &entry.integrated_at,
            0,
        )
    }

    /// of_erasure is the facts of an erasure order: who ordered it, under what law.
    pub fn of_erasure(entry: &SignedEntry<Erasure>) -> Facts {
        let e = &entry.event;
        Facts::new(
            &[
                (Field::RequestingAgency, e.agency.as_str()),
                (Field::RequestingCountry, e.country.as_str()),
                (Field::LegalBasis, e.legal_basis.as_str()),
                (Field::Kind, "erasure"),
            ],
            &e.ordered_at,
            &entry.integrated_at,
            0,
        )
    }

    /// of_retention is the facts of a retention notice: its kind and day only.
    pub fn of_retention(entry: &SignedEntry<Retention>) -> Facts {
        Facts::new(
            &[(Field::Kind, "retention")],
            &entry.integrated_at,
            &entry.integrated_at,
            0,
        )
    }

    /// of_registry is the facts of a registry event: its kind and, for a registration, the
    /// principal's agency and country.
    pub fn of_registry(entry: &RegistryEntry) -> Facts {
        let kind = (Field::Kind, entry.event.kind());
        let fields = match &entry.event {
            RegistryEvent::KeyRegister {
                agency, country, ..
            } => vec![
                (Field::RequestingAgency, agency.as_str()),
                (Field::RequestingCountry, country.as_str()),
                kind,
            ],
            _ => vec![kind],
        };
        Facts::new(&fields, &entry.integrated_at, &entry.integrated_at, 0)
    }
}

/// Totals are a cell's (or a group's) counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Totals {
    /// Entries.
    pub count: u64,
    /// The sum of their `records_returned`.
    pub records_returned: u64,
    /// Those with outcome `hit`.
    pub hits: u64,
    /// Those with any outcome (access entries): the hit rate's denominator.
    pub outcomes: u64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.count += other.count;
        self.records_returned += other.records_returned;
        self.hits += other.hits;
        self.outcomes += other.outcomes;
    }

    /// hit_rate is hits over entries with an outcome; `None` when there are none.
    pub fn hit_rate(&self) -> Option<f64> {
        (self.outcomes > 0).then(|| self.hits as f64 / self.outcomes as f64)
    }
}

/// NONE marks an absent value in a cell.
const NONE: u32 = u32::MAX;
/// ACCESSED and INTEGRATED are the days' positions in a cell, after the fields.
const ACCESSED: usize = 9;
const INTEGRATED: usize = 10;

/// Cell is one combination of values, each an index into the cube's strings.
type Cell = [u32; 11];

/// BLOCK is how many entries, in log order, one block of [`Cube::blocks`] covers.
pub const BLOCK: u64 = 4096;

/// Cube counts entries by every combination of their facts. [`Cube::add`] it entry by
/// entry, in log order; [`Cube::query`] it as often as wanted.
///
/// It also keeps, per block of [`BLOCK`] entries, which cells the block's entries fall in:
/// a search ([`Cube::blocks_matching`]) reads only the blocks that hold a matching entry.
#[derive(Clone, Debug, Default)]
pub struct Cube {
    strings: Vec<String>,
    ids: HashMap<String, u32>,
    /// The cells, by id, with their totals.
    cells: Vec<(Cell, Totals)>,
    cell_ids: HashMap<Cell, u32>,
    /// Per block, the ids of the cells its entries fall in.
    blocks: Vec<Vec<u32>>,
    size: u64,
}

/// Row is one cell of a cube in its portable form (the server's snapshot of its cube).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// The fields in [`FIELDS`] order, then the accessed and integrated days.
    pub values: Vec<Option<String>>,
    /// The cell's totals.
    pub totals: Totals,
}

impl Cube {
    /// size is the number of entries added.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// cells is the number of distinct combinations.
    pub fn cells(&self) -> usize {
        self.cells.len()
    }

    fn intern(&mut self, value: Option<&str>) -> u32 {
        let Some(value) = value else { return NONE };
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(value.to_string());
        self.ids.insert(value.to_string(), id);
        id
    }

    fn string(&self, id: u32) -> Option<&str> {
        self.strings.get(id as usize).map(String::as_str)
    }

    /// add counts one entry, the next in log order.
    pub fn add(&mut self, facts: &Facts) {
        let mut cell = [NONE; 11];
        for (i, value) in facts.values.iter().enumerate() {
            cell[i] = self.intern(value.as_deref());
        }
        cell[ACCESSED] = self.intern(Some(&facts.accessed_day));
        cell[INTEGRATED] = self.intern(Some(&facts.integrated_day));
        let outcome = facts.values[Field::Outcome.position()].as_deref();
        let totals = Totals {
            count: 1,
            records_returned: facts.records_returned,
            hits: u64::from(outcome == Some(Outcome::Hit.as_str())),
            outcomes: u64::from(outcome.is_some()),
        };
        let id = self.cell_id(cell);
        self.cells[id as usize].1.add(&totals);
        let block = (self.size / BLOCK) as usize;
        if self.blocks.len() <= block {
            self.blocks.push(Vec::new());
        }
        if !self.blocks[block].contains(&id) {
            self.blocks[block].push(id);
        }
        self.size += 1;
    }

    fn cell_id(&mut self, cell: Cell) -> u32 {
        *self.cell_ids.entry(cell).or_insert_with(|| {
            self.cells.push((cell, Totals::default()));
            (self.cells.len() - 1) as u32
        })
    }

    /// add_leaf counts one parsed leaf.
    pub fn add_leaf(&mut self, leaf: &Leaf) {
        self.add(&Facts::of(leaf));
    }

    /// rows are the cells in their portable form, in id order (which [`Cube::blocks`]
    /// refers to).
    pub fn rows(&self) -> Vec<Row> {
        self.cells
            .iter()
            .map(|(cell, totals)| Row {
                values: cell
                    .iter()
                    .map(|&id| self.string(id).map(str::to_string))
                    .collect(),
                totals: *totals,
            })
            .collect()
    }

    /// blocks are, per block of [`BLOCK`] entries, the ids (positions in [`Cube::rows`]) of
    /// the cells its entries fall in.
    pub fn blocks(&self) -> &[Vec<u32>] {
        &self.blocks
    }

    /// from_parts rebuilds a cube of `size` entries from its rows and blocks, checking that
    /// they fit together.
    pub fn from_parts(size: u64, rows: &[Row], blocks: Vec<Vec<u32>>) -> Result<Cube, String> {
        let mut cube = Cube::default();
        for row in rows {
            if row.values.len() != 11 {
                return Err(format!("a row has {} values, not 11", row.values.len()));
            }
            let mut cell = [NONE; 11];
            for (i, value) in row.values.iter().enumerate() {
                cell[i] = cube.intern(value.as_deref());
            }
            if cube.cell_ids.contains_key(&cell) {
                return Err("two rows have the same values".into());
            }
            let id = cube.cell_id(cell);
            cube.cells[id as usize].1 = row.totals;
        }
        let counted: u64 = cube.cells.iter().map(|(_, t)| t.count).sum();
        if counted != size {
            return Err(format!("the rows count {counted} entries, not {size}"));
        }
        if blocks.len() as u64 != size.div_ceil(BLOCK)
            || blocks.iter().flatten().any(|&id| id as usize >= rows.len())
        {
            return Err("the blocks do not fit the rows".into());
        }
        cube.blocks = blocks;
        cube.size = size;
        Ok(cube)
    }

    /// prepare resolves a query's filters to string ids.
    fn prepare<'q>(&self, query: &'q Query) -> Prepared<'q> {
        Prepared {
            // Each filter as the string ids it allows (a value no entry has allows none).
            filters: query
                .filters
                .iter()
                .map(|(field, values)| {
                    (
                        field.position(),
                        values
                            .iter()
                            .filter_map(|v| self.ids.get(v.as_str()).copied())
                            .collect(),
                    )
                })
                .collect(),
            time: match query.time {
                TimeField::AccessedAt => ACCESSED,
                TimeField::IntegratedAt => INTEGRATED,
            },
            from: query.from.as_deref(),
            to: query.to.as_deref(),
        }
    }

    /// cell_matches says whether a cell's entries match a prepared query.
    fn cell_matches(&self, cell: &Cell, prepared: &Prepared<'_>) -> bool {
        if !prepared
            .filters
            .iter()
            .all(|(position, allowed)| allowed.contains(&cell[*position]))
        {
            return false;
        }
        if prepared.from.is_none() && prepared.to.is_none() {
            return true;
        }
        let day = self.string(cell[prepared.time]).unwrap_or_default();
        !(prepared.from.is_some_and(|from| day < from) || prepared.to.is_some_and(|to| day > to))
    }

    /// blocks_matching says, per block of [`BLOCK`] entries, whether it holds an entry
    /// that matches `query`'s filters and days, and counts the entries that match.
    pub fn blocks_matching(&self, query: &Query) -> (Vec<bool>, u64) {
        let prepared = self.prepare(query);
        let matching: Vec<bool> = self
            .cells
            .iter()
            .map(|(cell, _)| self.cell_matches(cell, &prepared))
            .collect();
        let count = self
            .cells
            .iter()
            .zip(&matching)
            .filter(|(_, m)| **m)
            .map(|((_, t), _)| t.count)
            .sum();
        let blocks = self
            .blocks
            .iter()
            .map(|ids| ids.iter().any(|&id| matching[id as usize]))
            .collect();
        (blocks, count)
    }

    /// query answers `query` over every entry added.
    pub fn query(&self, query: &Query) -> Table {
        let prepared = self.prepare(query);
        let time = prepared.time;
        let mut groups: HashMap<[u32; MAX_GROUP_BY], Totals> = HashMap::new();
        // Per day id met, the ids of its month and year, made once per day; periods get ids
        // past the cube's strings.
        let mut periods: Vec<Option<(u32, u32)>> = vec![None; self.strings.len()];
        let mut period_ids: Vec<String> = Vec::new();
        let mut period_index: HashMap<String, u32> = HashMap::new();
        let mut period_id = |text: &str, period_ids: &mut Vec<String>| -> u32 {
            let next = (self.strings.len() + period_ids.len()) as u32;
            *period_index.entry(text.to_string()).or_insert_with(|| {
                period_ids.push(text.to_string());
                next
            })
        };
        let mut total = Totals::default();
        for (cell, totals) in &self.cells {
            if !self.cell_matches(cell, &prepared) {
                continue;
            }
            let mut key = [0u32; MAX_GROUP_BY];
            for (slot, dimension) in key.iter_mut().zip(&query.group_by) {
                *slot = match dimension {
                    Dimension::Field(f) => cell[f.position()],
                    Dimension::Day => cell[time],
                    Dimension::Month | Dimension::Year => {
                        let day_id = cell[time];
                        let (month, year) = match periods[day_id as usize] {
                            Some(ids) => ids,
                            None => {
                                let day = self.string(day_id).unwrap_or_default();
                                let ids = (
                                    period_id(day.get(..7).unwrap_or_default(), &mut period_ids),
                                    period_id(day.get(..4).unwrap_or_default(), &mut period_ids),
                                );
                                periods[day_id as usize] = Some(ids);
                                ids
                            }
                        };
                        if *dimension == Dimension::Month {
                            month
                        } else {
                            year
                        }
                    }
                };
            }
            groups.entry(key).or_default().add(totals);
            total.add(totals);
        }
        let name = |id: u32| -> Option<String> {
            if id == NONE {
                None
            } else if let Some(s) = self.string(id) {
                Some(s.to_string())
            } else {
                period_ids.get(id as usize - self.strings.len()).cloned()
            }
        };
        let mut groups: Vec<Group> = groups
            .into_iter()
            .map(|(key, totals)| Group {
                key: key[..query.group_by.len()]
                    .iter()
                    .map(|&id| name(id))
                    .collect(),
                totals,
            })
            .collect();
        // Sorted by key, absent values last.
        groups.sort_by(|a, b| {
            let order = |v: &Option<String>| (v.is_none(), v.clone());
            a.key.iter().map(order).cmp(b.key.iter().map(order))
        });
        Table {
            tree_size: self.size,
            group_by: query.group_by.clone(),
            time: query.time,
            from: query.from.clone(),
            to: query.to.clone(),
            filters: query.filters.clone(),
            groups,
            total,
        }
    }
}

/// Prepared is a query resolved against one cube's strings.
struct Prepared<'q> {
    filters: Vec<(usize, Vec<u32>)>,
    time: usize,
    from: Option<&'q str>,
    to: Option<&'q str>,
}

/// Query is what a statistics request asks: groups, filters and a range of days.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// What to group by, in order; none gives one group of everything that matches.
    pub group_by: Vec<Dimension>,
    /// Per field, the values allowed (any of them); fields not named are not filtered.
    pub filters: Vec<(Field, Vec<String>)>,
    /// Which time the days are of.
    pub time: TimeField,
    /// The first day counted (`YYYY-MM-DD`), if any.
    pub from: Option<String>,
    /// The last day counted, if any.
    pub to: Option<String>,
}

/// QueryError says which parameter of a query is wrong, and how.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {why}")]
pub struct QueryError {
    /// The parameter.
    pub parameter: String,
    /// What is wrong with it.
    pub why: String,
}

/// MAX_GROUP_BY and MAX_VALUES bound a query.
pub const MAX_GROUP_BY: usize = 12;
/// MAX_VALUES is the most values one filter may list.
pub const MAX_VALUES: usize = 100;

impl Query {
    /// matches says whether an entry with these facts matches the query's filters and days
    /// (what a search returns; `group_by` plays no part).
    pub fn matches(&self, facts: &Facts) -> bool {
        let day = match self.time {
            TimeField::AccessedAt => &facts.accessed_day,
            TimeField::IntegratedAt => &facts.integrated_day,
        };
        self.filters.iter().all(|(field, values)| {
            facts.values[field.position()]
                .as_ref()
                .is_some_and(|v| values.contains(v))
        }) && !(self.from.as_ref().is_some_and(|from| day < from)
            || self.to.as_ref().is_some_and(|to| day > to))
    }

    /// from_pairs reads a query from its parameters (the query string of `GET /v1/stats`):
    /// `group_by` (a comma list of dimensions), `time` (`accessed_at` or `integrated_at`),
    /// `from` and `to` (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`, both ends included), and any
    /// field with a comma list of values. Each parameter at most once; any other is an
    /// error.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Query, QueryError> {
        let err = |parameter: &str, why: String| QueryError {
            parameter: parameter.to_string(),
            why,
        };
        let mut query = Query::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            if seen.contains(&name) {
                return Err(err(name, "given twice; list values with commas".into()));
            }
            seen.push(name);
            match name {
                "group_by" => {
                    for part in value.split(',').filter(|p| !p.is_empty()) {
                        let dimension = Dimension::parse(part).ok_or_else(|| {
                            err(
                                name,
                                format!(
                                    "{} is not a dimension; want any of {DIMENSION_NAMES}",
                                    quoted(part)
                                ),
                            )
                        })?;
                        if query.group_by.contains(&dimension) {
                            return Err(err(name, format!("{part} is listed twice")));
                        }
                        query.group_by.push(dimension);
                    }
                    if query.group_by.len() > MAX_GROUP_BY {
                        return Err(err(name, format!("at most {MAX_GROUP_BY} dimensions")));
                    }
                }
                "time" => {
                    query.time = match value {
                        "accessed_at" => TimeField::AccessedAt,
                        "integrated_at" => TimeField::IntegratedAt,
                        other => {
                            return Err(err(
                                name,
                                format!(
                                    "{} is neither accessed_at nor integrated_at",
                                    quoted(other)
                                ),
                            ));
                        }
                    }
                }
                "from" => query.from = Some(period_start(value).map_err(|why| err(name, why))?),
                "to" => query.to = Some(period_end(value).map_err(|why| err(name, why))?),
                other => {
                    let field = Field::parse(other).ok_or_else(|| {
                        err(
                            other,
                            format!(
                                "not a parameter; want group_by, time, from, to, or a field: \
                                 {}",
                                FIELDS.map(Field::name).join(", ")
                            ),
                        )
                    })?;
                    let values: Vec<String> = value
                        .split(',')
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                        .collect();
                    if values.is_empty() {
                        return Err(err(other, "no value given".into()));
                    }
                    if values.len() > MAX_VALUES {
                        return Err(err(other, format!("at most {MAX_VALUES} values")));
                    }
                    query.filters.push((field, values));
                }
            }
        }
        if let (Some(from), Some(to)) = (&query.from, &query.to)
            && from > to
        {
            return Err(err("from", format!("{from} is after to ({to})")));
        }
        query.filters.sort();
        Ok(query)
    }
}

/// quoted shows a parameter's value in an error, cut short: it is the caller's own input,
/// never personal data (these are public fields), but it is bounded all the same.
fn quoted(value: &str) -> String {
    let cut: String = value.chars().take(40).collect();
    format!("{cut:?}")
}

/// period checks `YYYY`, `YYYY-MM` or `YYYY-MM-DD` and returns its parts.
fn period(value: &str) -> Result<(&str, Option<&str>, Option<&str>), String> {
    let bad = || {
        format!(
            "{} is not a date; want YYYY, YYYY-MM or YYYY-MM-DD (UTC)",
            quoted(value)
        )
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let mut parts = value.split('-');
    let year = parts.next().filter(|y| digits(y, 4)).ok_or_else(bad)?;
    let month = parts.next();
    let day = parts.next();
    if parts.next().is_some() {
        return Err(bad());
    }
    if let Some(m) = month
        && !(digits(m, 2) && ("01"..="12").contains(&m))
    {
        return Err(bad());
    }
    if let Some(d) = day
        && !(digits(d, 2) && ("01"..="31").contains(&d))
    {
        return Err(bad());
    }
    Ok((year, month, day))
}

/// period_start is the first day of a period.
fn period_start(value: &str) -> Result<String, String> {
    let (year, month, day) = period(value)?;
    Ok(format!(
        "{year}-{}-{}",
        month.unwrap_or("01"),
        day.unwrap_or("01")
    ))
}

/// period_end is the last day of a period, or a day past it that no date reaches (days
/// compare as text, so `2026-02-31` ends February).
fn period_end(value: &str) -> Result<String, String> {
    let (year, month, day) = period(value)?;
    Ok(format!(
        "{year}-{}-{}",
        month.unwrap_or("12"),
        day.unwrap_or("31")
    ))
}

/// Group is one group of an answer: its key (a value per `group_by` dimension, `None`
/// where its entries have no such field) and totals.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// The values, in `group_by` order.
    pub key: Vec<Option<String>>,
    /// The group's totals.
    pub totals: Totals,
}

/// Table is the answer to a query.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The entries counted: the first `tree_size` of the log.
    pub tree_size: u64,
    /// The query's groups.
    pub group_by: Vec<Dimension>,
    /// The query's time field.
    pub time: TimeField,
    /// The query's first day.
    pub from: Option<String>,
    /// The query's last day.
    pub to: Option<String>,
    /// The query's filters.
    pub filters: Vec<(Field, Vec<String>)>,
    /// The groups, sorted by key (absent values last).
    pub groups: Vec<Group>,
    /// Everything that matched.
    pub total: Totals,
}

impl Table {
    /// to_json is the answer's JSON (docs/api.md, `GET /v1/stats`).
    pub fn to_json(&self) -> serde_json::Value {
        let totals = |t: &Totals, map: &mut serde_json::Map<String, serde_json::Value>| {
            map.insert("count".into(), t.count.into());
            map.insert("records_returned".into(), t.records_returned.into());
            map.insert("hits".into(), t.hits.into());
            map.insert("hit_rate".into(), t.hit_rate().into());
        };
        let groups: Vec<serde_json::Value> = self
            .groups
            .iter()
            .map(|g| {
                let mut map = serde_json::Map::new();
                for (dimension, value) in self.group_by.iter().zip(&g.key) {
                    map.insert(dimension.name().into(), value.clone().into());
                }
                totals(&g.totals, &mut map);
                map.into()
            })
            .collect();
        let mut total = serde_json::Map::new();
        totals(&self.total, &mut total);
        let filters: BTreeMap<&str, &Vec<String>> =
            self.filters.iter().map(|(f, v)| (f.name(), v)).collect();
        serde_json::json!({
            "tree_size": self.tree_size,
            "group_by": self.group_by.iter().map(|d| d.name()).collect::<Vec<_>>(),
            "time": self.time.name(),
            "from": self.from,
            "to": self.to,
            "filters": filters,
            "groups": groups,
            "total": total,
        })
    }

    /// to_csv is the groups as CSV (RFC 4180): a header of the dimensions and `count`,
    /// `records_returned`, `hits`, `hit_rate`, then a line per group; an absent value is an
    /// empty field.
    pub fn to_csv(&self) -> String {
        let field = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out: Vec<String> = self.group_by.iter().map(|d| d.name().into()).collect();
        out.extend(["count", "records_returned", "hits", "hit_rate"].map(String::from));
        let mut csv = out.join(",") + "\r\n";
        for g in &self.groups {
            let mut line: Vec<String> = g
                .key
                .iter()
                .map(|v| v.as_deref().map(field).unwrap_or_default())
                .collect();
            line.push(g.totals.count.to_string());
            line.push(g.totals.records_returned.to_string());
            line.push(g.totals.hits.to_string());
            line.push(
                g.totals
                    .hit_rate()
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
            );
            csv += &(line.join(",") + "\r\n");
        }
        csv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(agency: &str, country: &str, outcome: Option<&str>, day: &str, n: u64) -> Facts {
        let mut values: [Option<String>; 9] = Default::default();
        values[0] = Some(agency.into());
        values[1] = Some(country.into());
        values[7] = outcome.map(String::from);
        values[8] = Some(
            if outcome.is_some() {
                "access"
            } else {
                "sealed_read"
            }
            .into(),
        );
        Facts {
            values,
            accessed_day: day.into(),
            integrated_day: day.into(),
            records_returned: n,
        }
    }

    fn cube() -> Cube {
        let mut cube = Cube::default();
        cube.add(&facts("US-DHS-CBP", "US", Some("hit"), "2026-10-31", 2));
        cube.add(&facts("US-DHS-CBP", "US", Some("no_hit"), "2026-11-01", 0));
        cube.add(&facts("US-DHS-CBP", "US", Some("hit"), "2026-11-01", 1));
        cube.add(&facts("CO-MIGRACION", "CO", Some("error"), "2026-11-02", 0));
        cube.add(&facts("CO-PROCURADURIA", "CO", None, "2026-11-02", 0));
        cube
    }

    fn query(q: &str) -> Result<Query, QueryError> {
        Query::from_pairs(q.split('&').filter(|p| !p.is_empty()).map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k, v)
        }))
    }

    #[test]
    fn groups_count_sum_and_rate_by_hand() {
        let table = cube().query(&query("group_by=requesting_country,month").unwrap());
        let json = table.to_json();
        assert_eq!(json["tree_size"], 5);
        let groups = json["groups"].as_array().unwrap();
        // CO 2026-11: 2 entries, one with an outcome (error): rate 0. US 2026-10: 1 hit of
        // 1. US 2026-11: 1 hit of 2, 1 record.
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0]["requesting_country"], "CO");
        assert_eq!(groups[0]["month"], "2026-11");
        assert_eq!(groups[0]["count"], 2);
        assert_eq!(groups[0]["hit_rate"], 0.0);
        assert_eq!(groups[1]["month"], "2026-10");
        assert_eq!(groups[1]["records_returned"], 2);
        assert_eq!(groups[1]["hit_rate"], 1.0);
        assert_eq!(groups[2]["count"], 2);
        assert_eq!(groups[2]["hits"], 1);
        assert_eq!(groups[2]["hit_rate"], 0.5);
        assert_eq!(json["total"]["count"], 5);
        assert_eq!(json["total"]["hits"], 2);
        assert_eq!(json["total"]["records_returned"], 3);
    }

    #[test]
    fn filters_and_day_ranges_include_both_ends() {
        let c = cube();
        let t = c.query(&query("requesting_country=US&from=2026-11&to=2026-11-01").unwrap());
        assert_eq!(t.total.count, 2);
        let t = c.query(&query("kind=sealed_read,access&outcome=hit,error").unwrap());
        assert_eq!(t.total.count, 3);
        let t = c.query(&query("requesting_agency=NOBODY").unwrap());
        assert_eq!(t.total.count, 0);
        assert!(t.groups.is_empty());
        let t = c.query(&query("group_by=outcome&to=2026").unwrap());
        assert_eq!(
            t.groups
                .iter()
                .map(|g| g.key[0].clone())
                .collect::<Vec<_>>(),
            vec![
                Some("error".into()),
                Some("hit".into()),
                Some("no_hit".into()),
                None
            ]
        );
        assert_eq!(t.groups[3].totals.hit_rate(), None);
        assert_eq!(
            t.to_json()["groups"][3]["hit_rate"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn bad_queries_name_the_parameter() {
        for (q, parameter) in [
            ("group_by=nationality", "group_by"),
            ("group_by=day,day", "group_by"),
            ("time=yesterday", "time"),
            ("from=2026-13", "from"),
            ("to=26-11-01", "to"),
            ("from=2026-11-02&to=2026-11-01", "from"),
            ("subject=CO-CC-1", "subject"),
            ("purpose=", "purpose"),
            ("purpose=a&purpose=b", "purpose"),
        ] {
            assert_eq!(query(q).unwrap_err().parameter, parameter, "{q}");
        }
    }

    #[test]
    fn rows_rebuild_the_same_cube_and_csv_quotes() {
        let c = cube();
        let again = Cube::from_parts(c.size(), &c.rows(), c.blocks().to_vec()).unwrap();
        let q = query("group_by=requesting_agency,day").unwrap();
        assert_eq!(c.query(&q), again.query(&q));
        assert!(Cube::from_parts(4, &c.rows(), c.blocks().to_vec()).is_err());
        assert!(Cube::from_parts(c.size(), &c.rows(), vec![vec![9]]).is_err());
        assert!(Cube::from_parts(c.size(), &c.rows(), vec![]).is_err());
        let mut c = Cube::default();
        let mut f = facts("A", "US", Some("hit"), "2026-11-01", 1);
        f.values[6] = Some("Ley 1581, art. \"17\"".into());
        c.add(&f);
        let csv = c.query(&query("group_by=legal_basis").unwrap()).to_csv();
        assert_eq!(
            csv,
            "legal_basis,count,records_returned,hits,hit_rate\r\n\"Ley 1581, art. \"\"17\"\"\",1,1,1,1\r\n"
        );
    }
}
