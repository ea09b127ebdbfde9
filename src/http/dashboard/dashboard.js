// Huella's oversight dashboard: draws the page's tables as charts (Chart.js, served by the
// log itself) and checks the checkpoint's signature in this browser with the log key.
// Without this script the page still shows every number, as tables.
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("dashboard-data").textContent);
  const palette = ["#1b5e9b", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b", "#975a16", "#4a5568"];

  function drawCharts() {
    if (typeof Chart === "undefined") return;
    for (const chart of data.charts) {
      const canvas = document.getElementById("chart-" + chart.id);
      if (!canvas) continue;
      const stacked = chart.datasets.length > 1;
      const doughnut = chart.kind === "doughnut";
      const drawn = new Chart(canvas, {
        type: chart.kind,
        data: {
          labels: chart.labels,
          datasets: chart.datasets.map((set, i) => ({
            label: set.label,
            data: set.data,
            backgroundColor: doughnut ? palette.slice(0, set.data.length) : palette[i % palette.length],
            borderColor: "#ffffff",
            borderWidth: doughnut ? 2 : 0,
          })),
        },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          plugins: { legend: { display: stacked || doughnut, position: "bottom" } },
          scales: doughnut ? {} : {
            x: { stacked: stacked },
            y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } },
          },
        },
      });
      const total = drawn.data.datasets.reduce((sum, set) => sum + set.data.reduce((a, b) => a + b, 0), 0);
      canvas.dataset.rendered = String(total);
    }
  }

  function decodeBase64(text) {
    const raw = atob(text);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function hex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // C2SP signed-note: the key is "name+hexid+base64(0x01 || key)"; a signature line is
  // "— name base64(key id (4 bytes) || Ed25519 signature)" over the note's text up to and
  // including the newline before the blank line.
  async function checkSignature() {
    const status = document.getElementById("sig-status");
    const note = document.getElementById("checkpoint").textContent;
    const vkey = document.getElementById("log-key").textContent.trim();
    const show = (state, word) => {
      status.dataset.state = state;
      status.textContent = data.words[word];
    };
    show("checking", "sig_checking");
    try {
      const first = vkey.indexOf("+");
      const second = vkey.indexOf("+", first + 1);
      const name = vkey.slice(0, first);
      const keyId = vkey.slice(first + 1, second);
      const keyBytes = decodeBase64(vkey.slice(second + 1));
      if (keyBytes.length !== 33 || keyBytes[0] !== 1) return show("bad", "sig_bad");
      const publicKey = keyBytes.slice(1);
      const enc = new TextEncoder();
      const idInput = new Uint8Array([...enc.encode(name + "\n"), 1, ...publicKey]);
      const idHash = new Uint8Array(await crypto.subtle.digest("SHA-256", idInput));
      if (hex(idHash.slice(0, 4)) !== keyId) return show("bad", "sig_bad");
      const split = note.indexOf("\n\n");
      if (split < 0) return show("bad", "sig_bad");
      const body = enc.encode(note.slice(0, split + 1));
      let key;
      try {
        key = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
      } catch (e) {
        return show("unsupported", "sig_unsupported");
      }
      for (const line of note.slice(split + 2).split("\n")) {
        const parts = line.split(" ");
        if (parts.length !== 3 || parts[0] !== "\u2014" || parts[1] !== name) continue;
        const sig = decodeBase64(parts[2]);
        if (sig.length !== 68 || hex(sig.slice(0, 4)) !== keyId) continue;
        if (await crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), body)) {
          return show("ok", "sig_ok");
        }
      }
      show("bad", "sig_bad");
    } catch (e) {
      show("bad", "sig_bad");
    }
  }

  drawCharts();
  if (window.crypto && crypto.subtle) {
    checkSignature();
  } else {
    const status = document.getElementById("sig-status");
    status.dataset.state = "unsupported";
    status.textContent = data.words.sig_unsupported;
  }
})();
