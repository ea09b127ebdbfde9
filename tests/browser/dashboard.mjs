// Drives the oversight dashboard in headless Chromium, as an inspector would, and checks it
// against the log's own API. Run by tests/dashboard.rs:
//   node tests/browser/dashboard.mjs BASE_URL SCREENSHOT.png
// Chromium is Debian's (`chromium`), or the one $CHROMIUM names. Exit 0 when every check
// passes; otherwise 1, with what failed on stderr.
import { chromium } from "playwright-core";

const [base, screenshot] = process.argv.slice(2);
if (!base || !screenshot) {
  console.error("usage: dashboard.mjs BASE_URL SCREENSHOT.png");
  process.exit(2);
}

function check(ok, what) {
  if (!ok) {
    console.error("FAILED: " + what);
    process.exit(1);
  }
  console.log("ok: " + what);
}

async function stats(query) {
  const response = await fetch(`${base}/v1/stats?${query}`);
  check(response.ok, `GET /v1/stats?${query} answers 200`);
  return response.json();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, locale: "en-US" });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));

  // Every chart drawn, each with the total /v1/stats gives for the same filters.
  async function chartsMatch(filter, label) {
    const access = (await stats("kind=access" + filter)).total.count;
    const oversight = filter.replace(/&(category|purpose)=[^&]*/g, "");
    const sealed = (await stats("kind=sealed_read,erasure" + oversight)).total.count;
    const expected = { pairs: access, category: access, agency: access, purpose: access, outcome: access, sealed };
    for (const [id, want] of Object.entries(expected)) {
      await page.waitForFunction((id) => document.getElementById("chart-" + id)?.dataset.rendered !== undefined, id);
      const drawn = await page.evaluate((id) => {
        const chart = Chart.getChart("chart-" + id);
        return chart.data.datasets.reduce((sum, set) => sum + set.data.reduce((a, b) => a + b, 0), 0);
      }, id);
      check(drawn === want, `${label}: chart ${id} draws ${drawn} entries, /v1/stats says ${want}`);
    }
    const shown = Number(await page.textContent("#total-accesses"));
    check(shown === access, `${label}: the summary shows ${shown} accesses, /v1/stats says ${access}`);
    return access;
  }

  await page.goto(`${base}/?lang=en`);
  check((await page.getAttribute("html", "lang")) === "en", "the page is in English");
  const all = await chartsMatch("", "no filter");
  check(all > 0, "the demo log has accesses");

  // The checkpoint's signature, checked in the browser with the log key.
  await page.waitForSelector('#sig-status[data-state="ok"]', { timeout: 10000 });
  check(true, "the checkpoint's signature verifies in the browser");
  const size = Number(await page.textContent("#tree-size"));
  const note = (await page.textContent("#checkpoint")).split("\n");
  check(note[1] === String(size), `the size shown (${size}) is the shown checkpoint's (${note[1]})`);
  check(note[2] === (await page.textContent("#tree-root")), "the root shown is the shown checkpoint's");
  const checkpoint = await (await fetch(`${base}/checkpoint`)).text();
  check(checkpoint.split("\n")[1] === String(size), `the page shows the served checkpoint's size (${size})`);
  const witnesses = await page.textContent("#witnesses");
  check(witnesses.startsWith("W1, W2 (cosigned the checkpoint of size " + size), `the page names the witnesses that cosigned: ${witnesses}`);

  // Accessible: every control labelled, tables with header cells, a skip link first.
  const unlabelled = await page.$$eval("select, input:not([type=hidden])", (els) =>
    els.filter((el) => !document.querySelector(`label[for="${el.id}"]`)).length);
  check(unlabelled === 0, "every filter control has a label");
  const headless = await page.$$eval("table", (tables) => tables.filter((t) => !t.querySelector("th[scope]")).length);
  check(headless === 0, "every table has header cells");
  await page.keyboard.press("Tab");
  check((await page.evaluate(() => document.activeElement.className)) === "skip", "Tab reaches the skip link first");

  // A filter: the charts, the summary and the table follow it.
  const category = "biometric_face";
  await page.selectOption("#f-category", category);
  await Promise.all([page.waitForNavigation(), page.click("form.filters button[type=submit]")]);
  check(page.url().includes(`category=${category}`), "the filter is in the URL");
  const filtered = await chartsMatch(`&category=${category}`, "category filter");
  check(filtered < all, `the filtered total (${filtered}) is below the whole (${all})`);
  const categories = await page.$$eval("table.entries tbody tr td:nth-child(4)", (tds) => tds.map((td) => td.textContent));
  check(categories.length > 0 && categories.every((c) => c === category), "the entries table lists only that category");
  const heading = await page.textContent("#entries-h");
  check(heading.includes(`(${filtered})`), `the entries heading counts ${filtered} matches`);

  // The language switch keeps the filter.
  await Promise.all([page.waitForNavigation(), page.click('a[hreflang="es"]')]);
  check((await page.getAttribute("html", "lang")) === "es", "the switch turns the page Spanish");
  check((await page.textContent("h1")).includes("panel de supervisión"), "the title is in Spanish");
  check(page.url().includes(`category=${category}`), "the filter survives the switch");
  await chartsMatch(`&category=${category}`, "in Spanish");

  // An entry's link leads to its leaf, exactly as hashed.
  const first = await page.$("table.entries a.leaf");
  const index = Number(await first.textContent());
  await Promise.all([page.waitForNavigation(), first.click()]);
  check(page.url().endsWith(`/v1/entries/${index}`), `the link leads to /v1/entries/${index}`);
  const leaf = JSON.parse(await page.textContent("body"));
  check(leaf.index === index && leaf.event.category === category, "the leaf is the entry listed");
  // And its row's other links: the inclusion proof, and the receipt, of the same entry.
  await page.goBack();
  const links = await page.$$eval("table.entries tbody tr:first-child td:last-child a", (as) => as.map((a) => a.href));
  check(links.length === 3, `the first row links its leaf, proof and receipt (${links.length} links)`);
  await page.goto(links[1]);
  const proof = JSON.parse(await page.textContent("body"));
  check(proof.index === index && Array.isArray(proof.proof) && proof.tree_size > index,
    `the proof link gives entry ${index}'s inclusion proof`);
  await page.goto(links[2]);
  const receipt = await page.textContent("body");
  check(receipt.startsWith("c2sp.org/tlog-proof@v1\n") && receipt.includes(`\nindex ${index}\n`),
    `the receipt link gives entry ${index}'s receipt (a C2SP tlog-proof)`);

  // With scripts blocked, the numbers are all there, as tables.
  const plain = await browser.newContext({ javaScriptEnabled: false });
  const noScript = await plain.newPage();
  await noScript.goto(`${base}/?lang=en`);
  const rows = await noScript.$$eval("#figure-category tbody tr", (trs) => trs.length);
  check(rows > 0, "without scripts the category table is there");
  const state = await noScript.getAttribute("#sig-status", "data-state");
  check(state === "unchecked", "without scripts the signature says it was not checked");
  await plain.close();

  // The screenshot, on the whole log, in English.
  await page.goto(`${base}/?lang=en`);
  await page.waitForSelector('#sig-status[data-state="ok"]');
  await page.screenshot({ path: screenshot, fullPage: true });
  check(true, `screenshot saved to ${screenshot}`);
  check(errors.length === 0, "no script errors: " + errors.join("; "));
} finally {
  await browser.close();
}
