//! Issue #16: the oversight dashboard in a real browser. `tests/browser/dashboard.mjs`
//! drives headless Chromium (Debian's `chromium`, through Playwright's `playwright-core`)
//! over a demo log: every chart drawn with the totals `/v1/stats` gives, the checkpoint's
//! signature checked in the browser, the size and root shown being the shown checkpoint's,
//! labelled controls and table headers, a filter that moves the charts, the summary and the
//! table, the language switch, an entry's link to its leaf, the tables with scripts blocked,
//! and a screenshot.
//!
//! Needs `node`, `chromium` (or `$CHROMIUM`) and `npm ci` run in `tests/browser`; `.ci/run`
//! installs them. With `HUELLA_SCREENSHOT=PATH` the screenshot is also copied there (how
//! `docs/dashboard.png` is made).

mod common;

use std::process::Command;

use common::demo::DemoProcess;

#[test]
fn the_dashboard_works_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    // With the demo's two local witnesses, as the README's demo runs.
    let mut demo = DemoProcess::start_with(&data, 60, &["--witnesses", "2"], None);
    let shot = dir.path().join("dashboard.png");
    assert!(
        std::path::Path::new("tests/browser/node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (.ci/run does)"
    );
    let out = Command::new("node")
        .arg("tests/browser/dashboard.mjs")
        .arg(&demo.base)
        .arg(&shot)
        .output()
        .expect("node runs (the dashboard's browser test needs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}\nthe demo (exited: {:?}) logged:\n{}",
        demo.exited(),
        common::demo::stderr(&data)
    );
    // It checked what it says, and saved a real screenshot.
    assert!(stdout.contains("ok: the checkpoint's signature verifies in the browser"));
    assert!(stdout.contains("ok: the switch turns the page Spanish"));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "a screenshot"
    );
    if let Some(path) = std::env::var_os("HUELLA_SCREENSHOT") {
        std::fs::write(path, &png).unwrap();
    }
}

/// between returns the text of `html` between `start` and the next `end`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    html.split(start)
        .nth(1)
        .and_then(|rest| rest.split(end).next())
        .unwrap_or_else(|| panic!("no {start} in the page"))
}

/// Checks the health panel shows one checkpoint: the size and root beside the note are
/// the note's own. Returns the size.
fn health_is_one_checkpoint(html: &str) -> u64 {
    let shown: u64 = between(html, "id=\"tree-size\">", "<").parse().unwrap();
    let root = between(html, "id=\"tree-root\">", "<");
    let note = between(html, "<pre id=\"checkpoint\">", "</pre>");
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(
        lines[1],
        shown.to_string(),
        "the page shows {shown} entries beside the checkpoint:\n{note}"
    );
    assert_eq!(lines[2], root, "the root shown is not the checkpoint's");
    shown
}

/// The health panel with witnesses: size, root and note from the one cosigned checkpoint,
/// that checkpoint's cosignature time, and its newest entry's integration time.
#[tokio::test(flavor = "multi_thread")]
async fn the_health_panel_shows_one_checkpoint_with_its_cosignature_time() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let demo = DemoProcess::start_with(&dir.path().join("demo"), 10, &["--witnesses", "2"], None);
    let page = || async {
        reqwest::get(format!("{}/?lang=en", demo.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // Until the witnesses have cosigned, the log's own checkpoint is shown, with no
    // cosignature time; once they have, theirs, with the time.
    let mut html = page().await;
    for _ in 0..100 {
        if html.contains("id=\"cosigned-at\"") {
            break;
        }
        health_is_one_checkpoint(&html);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        html = page().await;
    }
    let size = health_is_one_checkpoint(&html);
    let witnesses = between(&html, "id=\"witnesses\">", "<");
    assert!(
        witnesses.contains(&format!("cosigned the checkpoint of size {size};")),
        "{witnesses}"
    );
    let served = reqwest::get(format!("{}/checkpoint", demo.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(served.starts_with(&format!("huella.localhost/log\n{size}\n")));
    // The cosignature's time is this checkpoint's: today, seconds ago.
    let at = between(&html, "id=\"cosigned-at\">", "<");
    let today = huella_core::values::Timestamp::from_system_time(std::time::SystemTime::now());
    assert!(
        at.starts_with(&today.as_str()[..10]) && at.contains(" s ago)"),
        "{at}"
    );
    assert!(between(&html, "id=\"latest-entry\">", "<").contains(" ago)"));
}

/// The page's own HTTP answers: headers that keep it safe and cacheable, assets cached for a
/// year, the language chosen by the header or the switch, a bad filter refused with a page
/// that names it (and never echoes a personal value into the page).
#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_page_and_assets_are_served_safely() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let demo = DemoProcess::start(&dir.path().join("demo"), 10);
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{}/", demo.base))
        .header("accept-language", "es-CO,es;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe"));
    let html = page.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>\n<html lang=\"es\">"));
    // Without witnesses: the log's own checkpoint, with no cosignature time.
    assert_eq!(
        health_is_one_checkpoint(&html),
        10 + common::demo::EXTRA_ENTRIES
    );
    assert!(!html.contains("id=\"cosigned-at\""));
    // Every asset the page names is served, cacheable for a year; others are not.
    let mut assets = 0;
    for part in html.split("/assets/").skip(1) {
        let name = part.split('"').next().unwrap();
        let response = reqwest::get(format!("{}/assets/{name}", demo.base))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert!(
            response.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age=31536000")
        );
        assets += 1;
    }
    assert_eq!(assets, 3);
    let missing = reqwest::get(format!("{}/assets/chart-000000.js", demo.base))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // English by the switch; a bad day refused, naming the filter.
    let html = reqwest::get(format!("{}/?lang=en&from=2026-13-01", demo.base))
        .await
        .unwrap();
    assert_eq!(html.status(), 400);
    let html = html.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">") && html.contains("from:"));
    // A personal value where a filter goes is not a filter: ignored, never echoed.
    let html = reqwest::get(format!("{}/?subject=CO-CC-1012345678", demo.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("1012345678"));
}
