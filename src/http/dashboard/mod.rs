//! The oversight dashboard, `GET /`: charts and tables of the public log for inspectors who
//! do not read JSON, in Spanish and English.
//!
//! The page is rendered on the server: its tables, filters (a plain GET form) and the
//! paged list of entries work with scripts blocked. With scripts, `dashboard.js` draws the
//! same numbers as charts (Chart.js, served by the binary itself: no CDN) and checks the
//! checkpoint's signature in the browser with the log key. Every number comes from the
//! statistics index ([`huella_core::stats`]), the one `GET /v1/stats` answers from; nothing
//! sealed is ever read.
//!
//! - [`i18n`]: the words, in both languages.
//! - this file: the handlers of `/` and `/assets/…`, and the HTML.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use huella_core::entry::Leaf;
use huella_core::stats::{Query as StatsQuery, Table};
use huella_core::values::Timestamp;

use crate::http::handlers::App;
use crate::ledger::search::{Order, Page, Request};

pub mod i18n;

use i18n::Lang;

/// CHART_JS is Chart.js 4.6.2 (MIT, `vendor/chart.js-LICENSE.md`), the UMD build from the
/// npm package `chart.js@4.6.2`, `dist/chart.umd.min.js`, SHA-256
/// 3f288f4f26882c26b58931fb586a9b4f30370b5de38d69dc005b0bd05b08e113.
const CHART_JS: &[u8] = include_bytes!("vendor/chart-4.6.2.umd.min.js");
const DASHBOARD_JS: &[u8] = include_bytes!("dashboard.js");
const DASHBOARD_CSS: &[u8] = include_bytes!("dashboard.css");

/// Asset is a file the dashboard loads, served under a name that changes with its content,
/// so that browsers may cache it for a year.
struct Asset {
    name: String,
    bytes: &'static [u8],
    content_type: &'static str,
}

fn assets() -> &'static [Asset; 3] {
    static ASSETS: OnceLock<[Asset; 3]> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let named = |stem: &str, ext: &str, bytes: &'static [u8], content_type| {
            let hash = huella_core::merkle::Hash::sha256(bytes);
            let short: String = hash.0[..6].iter().map(|b| format!("{b:02x}")).collect();
            Asset {
                name: format!("{stem}-{short}.{ext}"),
                bytes,
                content_type,
            }
        };
        [
            named("chart", "js", CHART_JS, "text/javascript; charset=utf-8"),
            named(
                "dashboard",
                "js",
                DASHBOARD_JS,
                "text/javascript; charset=utf-8",
            ),
            named("dashboard", "css", DASHBOARD_CSS, "text/css; charset=utf-8"),
        ]
    })
}

/// asset serves `/assets/{name}`, cacheable for a year (the name changes with the bytes).
#[utoipa::path(get, path = "/assets/{name}", tag = "dashboard",
    params(("name" = String, Path, description = "an asset the dashboard names, with its content hash")),
    responses(
        (status = 200, description = "the script or style sheet, cacheable for a year", body = String),
        (status = 404, description = "no such asset", body = crate::http::error::ErrorBody)))]
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    match assets().iter().find(|a| a.name == name) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            a.bytes,
        )
            .into_response(),
        None => crate::http::ApiError::not_found("no such asset").into_response(),
    }
}

/// FILTERS are the dashboard's filters: the stats parameters they set.
const FILTERS: [&str; 6] = [
    "requesting_agency",
    "requesting_country",
    "category",
    "purpose",
    "from",
    "to",
];

/// PageParams are the page's query parameters, as the OpenAPI document describes them
/// ([`page`] reads them by name; tests/openapi.rs checks the two lists agree).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct PageParams {
    /// The page's language: es or en (default: from Accept-Language, else en).
    #[param(value_type = Option<PageLang>, inline)]
    lang: Option<String>,
    /// Only accesses by this agency (as `/v1/stats`' filter of the same name).
    requesting_agency: Option<String>,
    /// Only accesses by agencies of this country.
    requesting_country: Option<String>,
    /// Only accesses of this data category.
    category: Option<String>,
    /// Only accesses with this purpose.
    purpose: Option<String>,
    /// The first day counted, YYYY-MM-DD (also YYYY or YYYY-MM), of accessed_at.
    from: Option<String>,
    /// The last day counted, included.
    to: Option<String>,
    /// Where the table of entries goes on: the index the "older" link gives.
    cursor: Option<u64>,
}

/// PageLang is a language the page is written in.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum PageLang {
    Es,
    En,
}

/// Params are the page's query parameters, checked.
struct Params {
    lang: Lang,
    /// The filters set, by name, in [`FILTERS`] order.
    filters: Vec<(&'static str, String)>,
    cursor: Option<u64>,
}

/// favicon answers browsers' request for an icon: none (204), cacheable for a day.
#[utoipa::path(get, path = "/favicon.ico", tag = "dashboard",
    responses((status = 204, description = "no icon")))]
pub(crate) async fn favicon() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "public, max-age=86400")],
    )
        .into_response()
}

/// page serves the dashboard (`GET /`).
#[utoipa::path(get, path = "/", tag = "dashboard",
    params(PageParams),
    responses(
        (status = 200, description = "the dashboard", content_type = "text/html", body = String),
        (status = 400, description = "a bad filter, named on the page", content_type = "text/html", body = String)))]
pub(crate) async fn page(
    State(app): State<App>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let pairs = q.map(|Query(p)| p).unwrap_or_default();
    let mut params = Params {
        lang: Lang::from_accept(accept),
        filters: Vec::new(),
        cursor: None,
    };
    let mut problem = None;
    for (name, value) in &pairs {
        match name.as_str() {
            "lang" => params.lang = Lang::parse(value).unwrap_or(params.lang),
            "cursor" => match huella_core::checkpoint::parse_decimal(value) {
                Some(c) => params.cursor = Some(c),
                None => problem = Some("cursor: not a number".to_string()),
            },
            _ => {
                if let Some(filter) = FILTERS.iter().find(|f| **f == name.as_str()) {
                    if !value.is_empty() && !params.filters.iter().any(|(f, _)| f == filter) {
                        params.filters.push((filter, value.clone()));
                    }
                }
            }
        }
    }
    params
        .filters
        .sort_by_key(|(f, _)| FILTERS.iter().position(|x| x == f));
    // Off the runtime's threads, as `/v1/search` is: the page runs a dozen statistics
    // queries and a search.
    let rendered = crate::http::handlers::blocking(
        move || render(&app, &params, problem),
        "the dashboard's rendering",
    )
    .await;
    let (status, html) = match rendered {
        Ok(Ok(html)) => (StatusCode::OK, html),
        Ok(Err((status, html))) => (status, html),
        Err(e) => return e.into_response(),
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        html,
    )
        .into_response()
}

/// esc escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// enc percent-encodes a query-string value.
fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// link is the page's URL with `params`' filters, in `lang`, and `extra` parameters.
fn link(params: &Params, lang: Lang, extra: &[(&str, String)]) -> String {
    let mut parts = vec![format!("lang={}", lang.code())];
    for (name, value) in &params.filters {
        parts.push(format!("{name}={}", enc(value)));
    }
    for (name, value) in extra {
        parts.push(format!("{name}={}", enc(value)));
    }
    format!("/?{}", parts.join("&amp;"))
}

/// stats runs a statistics query with the page's filters and `extra` parameters.
fn stats(
    app: &App,
    filters: &[(&'static str, String)],
    extra: &[(&str, &str)],
) -> Result<Table, String> {
    let mut pairs: Vec<(&str, &str)> = filters.iter().map(|(n, v)| (*n, v.as_str())).collect();
    pairs.extend_from_slice(extra);
    let query = StatsQuery::from_pairs(pairs).map_err(|e| e.to_string())?;
    Ok(app.ledger.stats(&query))
}

/// A chart: its id, title, kind, the x labels, and datasets of (label, values).
struct Chart {
    id: &'static str,
    title: &'static str,
    kind: &'static str,
    labels: Vec<String>,
    datasets: Vec<(String, Vec<u64>)>,
}

impl Chart {
    fn total(&self) -> u64 {
        self.datasets.iter().flat_map(|(_, v)| v).sum()
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "labels": self.labels,
            "datasets": self.datasets.iter().map(|(label, data)| {
                serde_json::json!({"label": label, "data": data})
            }).collect::<Vec<_>>(),
            "total": self.total(),
        })
    }
}

/// value is a group's value for display, translated where the dashboard has a word.
fn value(lang: Lang, v: &Option<String>) -> String {
    match v.as_deref() {
        None => "—".into(),
        Some(s @ ("hit" | "no_hit" | "error" | "sealed_read" | "erasure")) => lang.t(s).into(),
        Some(s) => s.into(),
    }
}

/// one_dimension is a chart of one bar per value of the table's only dimension.
fn one_dimension(
    id: &'static str,
    title: &'static str,
    kind: &'static str,
    lang: Lang,
    table: &Table,
) -> Chart {
    Chart {
        id,
        title,
        kind,
        labels: table
            .groups
            .iter()
            .map(|g| value(lang, &g.key[0]))
            .collect(),
        datasets: vec![(
            lang.t("accesses").into(),
            table.groups.iter().map(|g| g.totals.count).collect(),
        )],
    }
}

/// two_dimensions is a chart with the first dimension on the x axis and one dataset per
/// value of the second (the second a label made of the rest of the key).
fn two_dimensions(
    id: &'static str,
    title: &'static str,
    lang: Lang,
    table: &Table,
    series: impl Fn(&[Option<String>]) -> String,
) -> Chart {
    let mut labels: Vec<String> = table
        .groups
        .iter()
        .map(|g| value(lang, &g.key[0]))
        .collect();
    labels.dedup();
    let mut sets: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for g in &table.groups {
        let x = labels
            .iter()
            .position(|l| *l == value(lang, &g.key[0]))
            .unwrap_or(0);
        let data = sets
            .entry(series(&g.key[1..]))
            .or_insert_with(|| vec![0; labels.len()]);
        data[x] += g.totals.count;
    }
    Chart {
        id,
        title,
        kind: "bar",
        labels,
        datasets: sets.into_iter().collect(),
    }
}

/// render writes the page, or an error page with its status.
fn render(
    app: &App,
    params: &Params,
    problem: Option<String>,
) -> Result<String, (StatusCode, String)> {
    let lang = params.lang;
    let t = |k| lang.t(k);
    let fail = |why: String| (StatusCode::BAD_REQUEST, why);
    if let Some(why) = problem {
        return Err(error_page(lang, &fail(why).1));
    }
    let access = [("kind", "access")];
    let run = |extra: &[(&str, &str)]| {
        stats(app, &params.filters, extra).map_err(|e| error_page(lang, &e))
    };
    let with = |group_by: &'static str| {
        let mut extra = vec![("group_by", group_by)];
        extra.extend_from_slice(&access);
        extra
    };
    let summary = run(&access)?;
    let pairs = run(&with("month,requesting_country,holder_country"))?;
    let category = run(&with("category"))?;
    let agency = run(&with("requesting_agency"))?;
    let purpose = run(&with("purpose"))?;
    let outcome = run(&with("outcome"))?;
    // Sealed reads and erasures: the agency, country and day filters only.
    let oversight_filters: Vec<(&'static str, String)> = params
        .filters
        .iter()
        .filter(|(n, _)| !matches!(*n, "category" | "purpose"))
        .cloned()
        .collect();
    let sealed = stats(
        app,
        &oversight_filters,
        &[("group_by", "month,kind"), ("kind", "sealed_read,erasure")],
    )
    .map_err(|e| error_page(lang, &e))?;
    let charts = [
        two_dimensions("pairs", t("chart_pairs"), lang, &pairs, |rest| {
            format!(
                "{} → {}",
                rest[0].as_deref().unwrap_or("?"),
                rest[1].as_deref().unwrap_or("?")
            )
        }),
        one_dimension("category", t("chart_category"), "bar", lang, &category),
        one_dimension("agency", t("chart_agency"), "bar", lang, &agency),
        one_dimension("purpose", t("chart_purpose"), "bar", lang, &purpose),
        one_dimension("outcome", t("chart_outcome"), "doughnut", lang, &outcome),
        two_dimensions("sealed", t("chart_sealed"), lang, &sealed, |rest| {
            value(lang, &rest[0])
        }),
    ];
    // The options of the filters: every value the log holds, unfiltered.
    let options = |dimension: &str| -> Vec<String> {
        stats(app, &[], &[("group_by", dimension), ("kind", "access")])
            .map(|t| t.groups.iter().filter_map(|g| g.key[0].clone()).collect())
            .unwrap_or_default()
    };
    let page = app
        .ledger
        .search(&Request {
            query: {
                let mut pairs: Vec<(&str, &str)> = params
                    .filters
                    .iter()
                    .map(|(n, v)| (*n, v.as_str()))
                    .collect();
                pairs.push(("kind", "access"));
                StatsQuery::from_pairs(pairs).map_err(|e| error_page(lang, &e.to_string()))?
            },
            order: Order::Newest,
            cursor: params.cursor,
            limit: 20,
        })
        .map_err(|e| error_page(lang, &e.to_string()))?;

    let mut h = String::with_capacity(64 * 1024);
    head(&mut h, lang);
    let _ = write!(
        h,
        r##"<body><a class="skip" href="#main">{skip}</a>
<header><div><h1>{title}</h1><p>{subtitle}</p></div>
<nav aria-label="{language}"><ul class="langs">"##,
        skip = t("skip"),
        title = t("title"),
        subtitle = t("subtitle"),
        language = t("language"),
    );
    for (other, name) in [(Lang::Es, "Español"), (Lang::En, "English")] {
        let current = if other == lang {
            r#" aria-current="page""#
        } else {
            ""
        };
        let _ = write!(
            h,
            r#"<li><a href="{href}" hreflang="{code}" lang="{code}"{current}>{name}</a></li>"#,
            href = link(params, other, &[]),
            code = other.code(),
        );
    }
    h.push_str("</ul></nav></header>\n<main id=\"main\">\n");
    health(&mut h, app, lang);
    filters_form(&mut h, params, lang, &options);
    summary_section(&mut h, lang, &summary, &sealed);
    let _ = write!(
        h,
        "<section aria-labelledby=\"charts-h\"><h2 id=\"charts-h\">{}</h2><div class=\"charts\">",
        t("charts")
    );
    for (chart, table) in charts
        .iter()
        .zip([&pairs, &category, &agency, &purpose, &outcome, &sealed])
    {
        chart_figure(&mut h, lang, chart, table);
    }
    h.push_str("</div></section>\n");
    entries_section(&mut h, params, lang, &page);
    let data = serde_json::json!({
        "lang": lang.code(),
        "words": {
            "sig_checking": t("sig_checking"), "sig_ok": t("sig_ok"), "sig_bad": t("sig_bad"),
            "sig_unsupported": t("sig_unsupported"),
        },
        "charts": charts.iter().map(Chart::to_json).collect::<Vec<_>>(),
    });
    // `</` cannot end the script element early: JSON escapes it.
    let data = data.to_string().replace("</", "<\\/");
    let _ = write!(
        h,
        r#"</main>
<footer><p>{footer} <a href="/openapi.json">/openapi.json</a> · <a href="/v1/stats?group_by=kind">/v1/stats</a></p></footer>
<script type="application/json" id="dashboard-data">{data}</script>
</body></html>
"#,
        footer = t("footer"),
    );
    Ok(h)
}

fn head(h: &mut String, lang: Lang) {
    let [chart, script, style] = assets();
    let _ = write!(
        h,
        r#"<!doctype html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/{style}">
<script src="/assets/{chart}" defer></script>
<script src="/assets/{script}" defer></script>
</head>
"#,
        code = lang.code(),
        title = lang.t("title"),
        style = style.name,
        chart = chart.name,
        script = script.name,
    );
}

fn error_page(lang: Lang, why: &str) -> (StatusCode, String) {
    let mut h = String::new();
    head(&mut h, lang);
    let _ = writeln!(
        h,
        r#"<body><main id="main"><h1>{title}</h1><p role="alert" class="problem">{bad}: {why}</p><p><a href="/?lang={code}">{clear}</a></p></main></body></html>"#,
        title = lang.t("title"),
        bad = lang.t("bad_filter"),
        why = esc(why),
        code = lang.code(),
        clear = lang.t("clear"),
    );
    (StatusCode::BAD_REQUEST, h)
}

/// age is how long ago `at` was, with the time, in `lang`.
fn age(lang: Lang, at: &Timestamp) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let secs = now.saturating_sub(at.unix_millis()) / 1000;
    let age = match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    };
    match lang {
        Lang::Es => format!("{} ({} {age})", at.as_str(), lang.t("ago")),
        Lang::En => format!("{} ({age} {})", at.as_str(), lang.t("ago")),
    }
}

/// health writes the log's health: the checkpoint shown (the one `GET /checkpoint` serves)
/// with its size, root and note all from that one checkpoint, when it was cosigned, and when
/// its newest entry was integrated.
fn health(h: &mut String, app: &App, lang: Lang) {
    let t = |k| lang.t(k);
    let published = app.ledger.published();
    let cosigned = app.witnessing.as_ref().and_then(|w| w.cosigned());
    let witnesses = match (&app.witnessing, &cosigned) {
        (None, _) => t("no_witnesses").to_string(),
        (Some(_), None) => t("witnesses_pending").to_string(),
        (Some(w), Some(c)) => format!(
            "{} ({} {}; {} {})",
            c.witnesses.join(", "),
            t("cosigned_size"),
            c.size,
            w.policy().witnesses.len(),
            t("in_policy"),
        ),
    };
    // The checkpoint shown is the one `GET /checkpoint` serves: cosigned, when witnessed.
    // Its size and root come from its own note, never from the published size, which runs
    // ahead of it while the witnesses have not cosigned the newest.
    let note = cosigned
        .as_ref()
        .map_or(published.note.as_str(), |c| c.note.as_str());
    let shown = huella_core::checkpoint::open(note.as_bytes(), app.ledger.log_key())
        .ok()
        .map(|(c, _)| c);
    let size = shown.as_ref().map_or(published.size, |c| c.size);
    let root = shown
        .as_ref()
        .map(|c| c.root.to_string())
        .unwrap_or_default();
    // When it was cosigned: its newest cosignature's time. A checkpoint the log signs alone
    // carries no time, so then only its newest entry's integration time is shown.
    let cosigned_at = app
        .witnessing
        .as_ref()
        .filter(|_| cosigned.is_some())
        .and_then(|w| w.policy().check(note.as_bytes()).ok())
        .and_then(|check| check.cosigned.iter().map(|(_, secs)| *secs).max())
        .map(|secs| {
            age(
                lang,
                &Timestamp::from_unix_millis(secs.saturating_mul(1000)),
            )
        });
    let latest = size
        .checked_sub(1)
        .and_then(|i| app.ledger.reader().snapshot().leaf(i).ok())
        .and_then(|leaf| Leaf::parse(&leaf).ok())
        .map(|leaf| match leaf {
            Leaf::Access(e) => e.integrated_at,
            Leaf::Registry(e) => e.integrated_at,
            Leaf::SealedRead(e) => e.integrated_at,
            Leaf::Erasure(e) => e.integrated_at,
            Leaf::Retention(e) => e.integrated_at,
        })
        .map_or_else(|| "—".into(), |at| age(lang, &at));
    let mut rows = String::new();
    if let Some(at) = cosigned_at {
        let _ = write!(
            rows,
            r#"<dt>{}</dt><dd id="cosigned-at">{}</dd>"#,
            t("cosigned_at"),
            esc(&at)
        );
    }
    let _ = write!(
        rows,
        r#"<dt>{}</dt><dd id="latest-entry">{}</dd>"#,
        t("latest"),
        esc(&latest)
    );
    if published.size > size {
        let _ = write!(
            rows,
            r#"<dt>{}</dt><dd id="awaiting">{}</dd>"#,
            t("awaiting"),
            published.size - size
        );
    }
    let _ = write!(
        h,
        r#"<section aria-labelledby="health-h" class="health"><h2 id="health-h">{health}</h2>
<dl>
<dt>{entries}</dt><dd id="tree-size">{size}</dd>
<dt>{root_t}</dt><dd><code id="tree-root">{root}</code></dd>
{rows}
<dt>{witnesses_t}</dt><dd id="witnesses">{witnesses}</dd>
<dt>{signature}</dt><dd id="sig-status" data-state="unchecked">{unchecked}</dd>
</dl>
<details><summary>{checkpoint_t}</summary>
<pre id="checkpoint">{note}</pre>
<p>{log_key_t}: <code id="log-key">{log_key}</code></p>
</details>
</section>
"#,
        health = t("health"),
        entries = t("entries_total"),
        root_t = t("root"),
        root = esc(&root),
        witnesses_t = t("witnesses"),
        witnesses = esc(&witnesses),
        signature = t("signature"),
        unchecked = t("sig_unchecked"),
        checkpoint_t = t("checkpoint"),
        note = esc(note),
        log_key_t = t("log_key"),
        log_key = esc(&app.ledger.log_key().to_string()),
    );
}

fn filters_form(
    h: &mut String,
    params: &Params,
    lang: Lang,
    options: &dyn Fn(&str) -> Vec<String>,
) {
    let t = |k| lang.t(k);
    let current = |name: &str| {
        params
            .filters
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    };
    let _ = write!(
        h,
        r#"<section aria-labelledby="filters-h"><h2 id="filters-h">{filters}</h2>
<form method="get" action="/" class="filters">
<input type="hidden" name="lang" value="{code}">
"#,
        filters = t("filters"),
        code = lang.code(),
    );
    for name in [
        "requesting_agency",
        "requesting_country",
        "category",
        "purpose",
    ] {
        let _ = write!(
            h,
            r#"<div><label for="f-{name}">{label}</label><select id="f-{name}" name="{name}"><option value="">{all}</option>"#,
            label = t(name),
            all = t("all"),
        );
        for option in options(name) {
            let selected = if current(name) == Some(option.as_str()) {
                " selected"
            } else {
                ""
            };
            let _ = write!(
                h,
                r#"<option value="{v}"{selected}>{v}</option>"#,
                v = esc(&option)
            );
        }
        h.push_str("</select></div>\n");
    }
    for name in ["from", "to"] {
        let _ = writeln!(
            h,
            r#"<div><label for="f-{name}">{label}</label><input type="date" id="f-{name}" name="{name}" value="{v}"></div>"#,
            label = t(name),
            v = esc(current(name).unwrap_or("")),
        );
    }
    let _ = write!(
        h,
        r#"<div class="actions"><button type="submit">{apply}</button> <a href="/?lang={code}">{clear}</a></div>
</form></section>
"#,
        apply = t("apply"),
        code = lang.code(),
        clear = t("clear"),
    );
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".into(), |r| format!("{:.1} %", r * 100.0))
}

fn summary_section(h: &mut String, lang: Lang, summary: &Table, sealed: &Table) {
    let t = |k| lang.t(k);
    let of_kind = |kind: &str| -> u64 {
        sealed
            .groups
            .iter()
            .filter(|g| g.key[1].as_deref() == Some(kind))
            .map(|g| g.totals.count)
            .sum()
    };
    let _ = write!(
        h,
        r#"<section aria-labelledby="summary-h"><h2 id="summary-h">{summary_t}</h2>
<dl class="numbers">
<div><dt>{accesses}</dt><dd id="total-accesses">{count}</dd></div>
<div><dt>{hits}</dt><dd>{hit_count}</dd></div>
<div><dt>{hit_rate}</dt><dd>{rate}</dd></div>
<div><dt>{records}</dt><dd>{records_n}</dd></div>
<div><dt>{sealed_reads}</dt><dd>{reads}</dd></div>
<div><dt>{erasures}</dt><dd>{erased}</dd></div>
</dl></section>
"#,
        summary_t = t("summary"),
        accesses = t("accesses"),
        count = summary.total.count,
        hits = t("hits"),
        hit_count = summary.total.hits,
        hit_rate = t("hit_rate"),
        rate = percent(summary.total.hit_rate()),
        records = t("records"),
        records_n = summary.total.records_returned,
        sealed_reads = t("sealed_reads"),
        reads = of_kind("sealed_read"),
        erasures = t("erasures"),
        erased = of_kind("erasure"),
    );
}

fn chart_figure(h: &mut String, lang: Lang, chart: &Chart, table: &Table) {
    let t = |k| lang.t(k);
    let _ = write!(
        h,
        r#"<figure class="chart" id="figure-{id}"><figcaption><h3>{title}</h3></figcaption>
<div class="canvas"><canvas id="chart-{id}" role="img" aria-label="{title}: {total} {accesses}" data-total="{total}"></canvas></div>
<div class="table-scroll" tabindex="0" role="region" aria-label="{title}"><table><caption class="visually-hidden">{title}</caption><thead><tr>"#,
        id = chart.id,
        title = esc(chart.title),
        total = chart.total(),
        accesses = t("count").to_lowercase(),
    );
    for dimension in &table.group_by {
        let name = match dimension.name() {
            "month" => t("month"),
            "requesting_country" => t("requesting_country"),
            "holder_country" => t("holder_country"),
            "kind" => t("kind"),
            "outcome" => t("outcome"),
            other => t(other),
        };
        let _ = write!(h, r#"<th scope="col">{}</th>"#, esc(name));
    }
    let _ = write!(
        h,
        r#"<th scope="col" class="n">{}</th><th scope="col" class="n">{}</th><th scope="col" class="n">{}</th></tr></thead><tbody>"#,
        t("count"),
        t("hits"),
        t("hit_rate"),
    );
    if table.groups.is_empty() {
        let _ = write!(
            h,
            r#"<tr><td colspan="{}">{}</td></tr>"#,
            table.group_by.len() + 3,
            t("none_match")
        );
    }
    for g in &table.groups {
        h.push_str("<tr>");
        for v in &g.key {
            let _ = write!(h, "<td>{}</td>", esc(&value(lang, v)));
        }
        let _ = write!(
            h,
            r#"<td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            g.totals.count,
            g.totals.hits,
            percent(g.totals.hit_rate())
        );
    }
    h.push_str("</tbody></table></div></figure>\n");
}

fn entries_section(h: &mut String, params: &Params, lang: Lang, page: &Page) {
    let t = |k| lang.t(k);
    let _ = write!(
        h,
        r#"<section aria-labelledby="entries-h"><h2 id="entries-h">{entries} ({matches})</h2><p>{note}</p>
<table class="entries"><thead><tr><th scope="col" class="n">{index}</th><th scope="col">{time}</th><th scope="col">{who}</th><th scope="col">{category}</th><th scope="col">{purpose}</th><th scope="col">{outcome}</th><th scope="col" class="n">{records}</th><th scope="col">{proofs}</th></tr></thead><tbody>
"#,
        entries = t("entries"),
        matches = page.matches,
        note = t("entries_note"),
        index = t("index"),
        time = t("time"),
        who = t("who"),
        category = t("category"),
        purpose = t("purpose"),
        outcome = t("outcome"),
        records = t("records"),
        proofs = t("proofs"),
    );
    if page.entries.is_empty() {
        let _ = write!(h, r#"<tr><td colspan="8">{}</td></tr>"#, t("none_match"));
    }
    for e in &page.entries {
        let f = |name: &str| esc(e.fields.get(name).map(String::as_str).unwrap_or("—"));
        let _ = writeln!(
            h,
            r#"<tr><td class="n"><a class="leaf" href="{leaf}">{index}</a></td><td>{time}</td><td>{ra} ({rc}) → {ha} ({hc})</td><td>{category}</td><td>{purpose}</td><td>{outcome}</td><td class="n">{records}</td><td><a href="{leaf}">{leaf_t}</a> · <a href="{inclusion}">{inclusion_t}</a> · <a href="{receipt}">{receipt_t}</a></td></tr>"#,
            leaf = esc(&e.links.leaf),
            index = e.index,
            time = esc(&e.time),
            ra = f("requesting_agency"),
            rc = f("requesting_country"),
            ha = f("holder_agency"),
            hc = f("holder_country"),
            category = f("category"),
            purpose = f("purpose"),
            outcome = esc(&value(lang, &e.fields.get("outcome").cloned())),
            records = e.records_returned.unwrap_or(0),
            inclusion = esc(&e.links.inclusion_proof),
            receipt = esc(&e.links.receipt),
            leaf_t = t("leaf"),
            inclusion_t = t("inclusion"),
            receipt_t = t("receipt"),
        );
    }
    h.push_str("</tbody></table>\n<nav class=\"pages\">");
    if params.cursor.is_some() {
        let _ = write!(
            h,
            r#"<a href="{}">{}</a> "#,
            link(params, lang, &[]),
            t("newest")
        );
    }
    if let Some(next) = page.next_cursor {
        let _ = write!(
            h,
            r#"<a rel="next" href="{}">{}</a>"#,
            link(params, lang, &[("cursor", next.to_string())]),
            t("older")
        );
    }
    h.push_str("</nav></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_links_are_escaped() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(enc("Ley 1581, art. 17"), "Ley%201581%2C%20art.%2017");
    }
}
