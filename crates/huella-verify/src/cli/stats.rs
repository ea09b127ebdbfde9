//! `huella-verify stats`: statistics of a log computed from a copy just verified, so that
//! numbers published about the log do not rest on its operator's word. The tables are the
//! same as `GET /v1/stats` gives for the same query and size, computed by the same code
//! ([`huella_core::stats`]).

use std::path::PathBuf;

use clap::Args;
use huella_core::stats::{Query, Table};

use crate::audit;
use crate::cli::{CliResult, ClientArgs, TrustArgs, parse_log_key};
use crate::error::AuditError;
use crate::sample::Sampling;
use crate::source::Source;

/// Arguments of `stats`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["url", "bundle"])))]
#[command(group(clap::ArgGroup::new("format").args(["json", "csv"])))]
pub struct StatsArgs {
    /// Base URL of the log.
    #[arg(long)]
    pub url: Option<String>,
    /// An exported bundle directory.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// The log's verifier key (or a file holding it), from a source you trust.
    #[arg(long)]
    pub log_key: String,
    /// Who may sign (as for `verify`).
    #[command(flatten)]
    pub trust: TrustArgs,
    /// What to group by, a comma list of: requesting_agency, requesting_country,
    /// holder_agency, holder_country, category, purpose, legal_basis, outcome, kind, day,
    /// month, year. None: one total.
    #[arg(long, value_name = "DIMENSIONS", default_value = "")]
    pub group_by: String,
    /// Only entries with these values, as FIELD=VALUE[,VALUE…] (any field above but the
    /// days); repeat for more fields.
    #[arg(long, value_name = "FIELD=VALUES")]
    pub filter: Vec<String>,
    /// The first day counted: YYYY, YYYY-MM or YYYY-MM-DD (UTC), included.
    #[arg(long)]
    pub from: Option<String>,
    /// The last day counted, included.
    #[arg(long)]
    pub to: Option<String>,
    /// Which time the days are of: accessed_at or integrated_at.
    #[arg(long, default_value = "accessed_at")]
    pub time: String,
    /// Print the table as JSON, in the form `GET /v1/stats` answers.
    #[arg(long)]
    pub json: bool,
    /// Print the table as CSV.
    #[arg(long)]
    pub csv: bool,
    /// Connection options.
    #[command(flatten)]
    pub client: ClientArgs,
}

impl StatsArgs {
    /// query is the statistics query these flags ask for.
    pub fn query(&self) -> Result<Query, AuditError> {
        let mut pairs: Vec<(&str, &str)> = vec![("group_by", &self.group_by), ("time", &self.time)];
        if let Some(from) = &self.from {
            pairs.push(("from", from));
        }
        if let Some(to) = &self.to {
            pairs.push(("to", to));
        }
        for filter in &self.filter {
            let (field, values) = filter.split_once('=').ok_or_else(|| {
                AuditError::Io(format!("--filter {filter}: want FIELD=VALUE[,VALUE…]"))
            })?;
            pairs.push((field, values));
        }
        Query::from_pairs(pairs).map_err(|e| {
            let flag = match e.parameter.as_str() {
                "group_by" => "--group-by".to_string(),
                "time" | "from" | "to" => format!("--{}", e.parameter),
                field => format!("--filter {field}"),
            };
            AuditError::Io(format!("{flag}: {}", e.why))
        })
    }
}

/// run verifies the log, then computes and prints the table.
pub async fn run(args: StatsArgs) -> CliResult {
    let query = args.query()?;
    let log_key = parse_log_key(&args.log_key)?;
    let trusted = args.trust.trusted(&log_key)?;
    let source = match (&args.url, &args.bundle) {
        (Some(url), _) => Source::Http(args.client.client(url)?),
        (None, Some(dir)) => Source::Bundle(dir.clone()),
        (None, None) => return Err(AuditError::Io("give --url or --bundle".into()).into()),
    };
    let quiet = args.json || args.csv;
    let verified = audit::verify_log_witnessed(
        &source,
        &log_key,
        trusted,
        &Sampling::off(),
        quiet,
        true,
        None,
    )
    .await?;
    // Invariant: verify_log_witnessed with `count` always returns a cube.
    let cube = verified
        .stats
        .as_ref()
        .expect("a counting audit keeps a cube");
    let table = cube.query(&query);
    if args.json {
        let mut json = table.to_json();
        json["verified"] = serde_json::json!({
            "origin": verified.origin,
            "tree_size": verified.tree_size,
            "root": verified.root,
        });
        println!("{json}");
    } else if args.csv {
        print!("{}", table.to_csv());
    } else {
        print!("{}", render(&table, &verified));
    }
    Ok(())
}

/// render writes the table for people: what was verified, the query, then aligned columns.
pub fn render(table: &Table, verified: &audit::Verified) -> String {
    let mut out = format!(
        "verified {} entries of {} (root {}); these numbers are computed from that copy\n",
        verified.tree_size, verified.origin, verified.root
    );
    let json = table.to_json();
    out += &format!("time: {}", json["time"].as_str().unwrap_or_default());
    if let Some(from) = json["from"].as_str() {
        out += &format!(", from {from}");
    }
    if let Some(to) = json["to"].as_str() {
        out += &format!(", to {to}");
    }
    for (field, values) in &table.filters {
        out += &format!(", {}={}", field.name(), values.join(","));
    }
    out += "\n\n";
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = table.group_by.iter().map(|d| d.name().into()).collect();
    header.extend(["count", "records", "hits", "hit rate"].map(String::from));
    rows.push(header);
    let line = |key: Vec<String>, t: &huella_core::stats::Totals| {
        let mut row = key;
        row.push(t.count.to_string());
        row.push(t.records_returned.to_string());
        row.push(t.hits.to_string());
        row.push(
            t.hit_rate()
                .map(|r| format!("{:.1}%", r * 100.0))
                .unwrap_or_else(|| "-".into()),
        );
        row
    };
    for g in &table.groups {
        let key = g
            .key
            .iter()
            .map(|v| v.clone().unwrap_or_else(|| "-".into()))
            .collect();
        rows.push(line(key, &g.totals));
    }
    let mut total_key = vec![String::new(); table.group_by.len()];
    if let Some(first) = total_key.first_mut() {
        *first = "total".into();
    }
    rows.push(line(total_key, &table.total));
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let numbers = table.group_by.len();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, v)| {
                if c < numbers {
                    format!("{v:<w$}", w = widths[c])
                } else {
                    format!("{v:>w$}", w = widths[c])
                }
            })
            .collect();
        out += cells.join("  ").trim_end();
        out += "\n";
    }
    out
}
