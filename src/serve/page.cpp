#include "tandem/serve/page.h"

namespace tandem::serve {

const std::string& page_html() {
  static const std::string kPage = R"PAGE(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tandem</title>
<style>
  *, *::before, *::after { box-sizing: border-box; }
  html { -webkit-text-size-adjust: 100%; }
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1d2330;
         background: #f5f6f8; line-height: 1.4; overflow-wrap: anywhere; }
  header { background: #243b6b; color: #fff; padding: 0.8rem 1rem; display: flex; flex-wrap: wrap;
           align-items: baseline; gap: 0.3rem 1rem; }
  header h1 { font-size: 1.3rem; margin: 0; }
  #languages { font-size: 0.95rem; opacity: 0.9; }
  main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
  .panes { display: grid; grid-template-columns: minmax(0, 1fr); gap: 1rem; }
  @media (min-width: 48rem) { .panes { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); } }
  .pane { background: #fff; border: 1px solid #d8dce3; border-radius: 0.5rem; padding: 0.75rem; min-width: 0; }
  .pane h2 { font-size: 0.85rem; font-weight: 600; text-transform: uppercase; letter-spacing: 0.04em;
             color: #5b6472; margin: 0 0 0.4rem; }
  textarea { width: 100%; min-height: 7rem; font: inherit; font-size: 1.05rem; padding: 0.5rem; border: 1px solid #c5cbd5;
             border-radius: 0.35rem; resize: vertical; }
  #result { font-size: 1.15rem; min-height: 7rem; white-space: pre-wrap; }
  .controls { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem; margin: 0.75rem 0; }
  .controls input[type=number] { width: 4.5rem; font: inherit; padding: 0.25rem; }
  .controls input[type=password] { width: 12rem; max-width: 100%; font: inherit; padding: 0.25rem; }
  button { font: inherit; font-weight: 600; padding: 0.5rem 1.4rem; border: 0; border-radius: 0.35rem; background: #2f6fde;
           color: #fff; cursor: pointer; }
  button:disabled { background: #8aa6d6; cursor: wait; }
  #status { color: #5b6472; font-size: 0.9rem; }
  #error { color: #b00020; min-height: 1.2em; }
  #key-row[hidden] { display: none; }
  .attention { margin-top: 1rem; }
  .scroll { overflow-x: auto; max-width: 100%; }
  table.heat { border-collapse: collapse; font-size: 0.85rem; }
  table.heat td { min-width: 1.9rem; height: 1.7rem; border: 1px solid #fff; text-align: center; font-size: 0.7rem; }
  table.heat th { font-weight: normal; padding: 0.1rem 0.35rem; white-space: nowrap; font-family: ui-monospace, monospace; }
  table.heat thead th { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; vertical-align: bottom; }
  table.heat tbody th { text-align: right; }
  .legend { display: flex; align-items: center; gap: 0.5rem; font-size: 0.8rem; color: #5b6472; margin-top: 0.5rem; }
  .legend .bar { width: 10rem; max-width: 40vw; height: 0.8rem; border: 1px solid #d8dce3;
                 background: linear-gradient(to right, rgb(255,255,255), rgb(36,59,107)); }
</style>
</head>
<body>
<header><h1>Tandem</h1><span id="languages">translation</span></header>
<main>
<div class="panes">
  <section class="pane"><h2 id="source-label">Source</h2>
    <textarea id="source" placeholder="Text to translate, one sentence a line"></textarea></section>
  <section class="pane"><h2 id="target-label">Translation</h2><div id="result"></div></section>
</div>
<div class="controls">
  <button id="translate">Translate</button>
  <label>beam <input id="beam" type="number" min="1" max="16" value="5"></label>
  <span id="key-row" hidden><label>API key <input id="key" type="password" autocomplete="off"></label></span>
  <span id="status"></span>
</div>
<div id="error"></div>
<section class="pane attention" id="attention-pane" hidden>
  <h2>Attention of the first line (source pieces across, translation pieces down)</h2>
  <div class="scroll"><table id="attention" class="heat"></table></div>
  <div class="legend"><span>0</span><span class="bar"></span><span>1</span></div>
</section>
</main>
<script>
function cell(tag, text) { const c = document.createElement(tag); c.textContent = text; return c; }
// SentencePiece marks a word's start with U+2581; shown as a middle dot so that pieces stay readable.
function piece(p) { return p.replace(/\u2581/g, '\u00b7'); }
function colour(w) {
  const mix = (a, b) => Math.round(a + (b - a) * w);
  return 'rgb(' + mix(255, 36) + ',' + mix(255, 59) + ',' + mix(255, 107) + ')';
}
function heatMap(a) {
  const table = document.getElementById('attention');
  table.innerHTML = '';
  document.getElementById('attention-pane').hidden = !a || a.target.length === 0;
  if (!a) return;
  const head = document.createElement('thead');
  const top = document.createElement('tr');
  top.appendChild(cell('th', ''));
  a.source.forEach(p => top.appendChild(cell('th', piece(p))));
  head.appendChild(top);
  table.appendChild(head);
  const body = document.createElement('tbody');
  a.target.forEach((p, t) => {
    const row = document.createElement('tr');
    row.appendChild(cell('th', piece(p)));
    a.weights[t].forEach(w => {
      const c = cell('td', w >= 0.5 ? w.toFixed(1) : '');
      c.style.background = colour(w);
      c.style.color = w >= 0.5 ? '#fff' : '#1d2330';
      c.title = piece(p) + ' / ' + piece(a.source[row.children.length - 1] || '') + ': ' + w.toFixed(3);
      row.appendChild(c);
    });
    body.appendChild(row);
  });
  table.appendChild(body);
}
function checkLayout() {
  // Read by the browser test: the page must never scroll sideways.
  const root = document.documentElement;
  document.body.dataset.sideways = String(root.scrollWidth > root.clientWidth);
}
async function languages() {
  try {
    const response = await fetch('/languages');
    const list = await response.json();
    if (list.length > 0 && list[0].targets.length > 0) {
      const target = list.find(l => l.code === list[0].targets[0]);
      document.getElementById('languages').textContent =
          list[0].name + ' \u2192 ' + (target ? target.name : list[0].targets[0]);
      document.getElementById('source-label').textContent = list[0].name;
      document.getElementById('target-label').textContent = target ? target.name : list[0].targets[0];
    }
  } catch (e) { /* the page works without the names */ }
}
async function translate() {
  const button = document.getElementById('translate');
  const error = document.getElementById('error');
  const result = document.getElementById('result');
  const status = document.getElementById('status');
  error.textContent = '';
  const lines = document.getElementById('source').value.split('\n').filter(l => l.trim() !== '');
  if (lines.length === 0) { result.textContent = ''; heatMap(null); return; }
  const request = {text: lines, beam_size: parseInt(document.getElementById('beam').value, 10), attention: true};
  const key = document.getElementById('key').value;
  if (key) request.api_key = key;
  button.disabled = true;
  status.textContent = 'translating\u2026';
  const start = performance.now();
  try {
    const response = await fetch('/translate', {
      method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(request)});
    const body = await response.json();
    const ms = Math.round(performance.now() - start);
    if (!response.ok) {
      error.textContent = body.error;
      status.textContent = '';
      if (response.status === 403) document.getElementById('key-row').hidden = false;
      return;
    }
    result.textContent = body.translations.join('\n');
    const cut = body.truncated.filter(t => t).length;
    status.textContent = 'translated in ' + ms + ' ms' + (cut ? ' (' + cut + ' long line(s) cut)' : '');
    heatMap(body.attention[0]);
  } catch (e) {
    error.textContent = String(e);
    status.textContent = '';
  } finally {
    button.disabled = false;
    checkLayout();
    document.body.dataset.done = '1';
  }
}
document.getElementById('translate').addEventListener('click', translate);
languages();
// A link can carry the text: /?text=...&beam=5 fills the form and presses the button.
const query = new URLSearchParams(window.location.search);
if (query.has('text')) {
  document.getElementById('source').value = query.get('text');
  if (query.has('beam')) document.getElementById('beam').value = query.get('beam');
  document.getElementById('translate').click();
}
checkLayout();
</script>
</body>
</html>
)PAGE";
  return kPage;
}

}  // namespace tandem::serve
