#include "tandem/serve/page.h"

namespace tandem::serve {

const std::string& page_html() {
  static const std::string kPage = R"PAGE(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tandem</title>
<style>
  body { font-family: sans-serif; max-width: 60em; margin: 2em auto; }
  textarea { width: 100%; height: 4em; font-size: 1.1em; }
  #result { font-size: 1.3em; margin: 1em 0; min-height: 1.5em; }
  #error { color: #b00; }
  table.heat { border-collapse: collapse; font-size: 0.8em; }
  table.heat td { width: 2.2em; height: 1.6em; border: 1px solid #eee; }
  table.heat th { font-weight: normal; padding: 0 0.3em; }
  table.heat thead th { writing-mode: vertical-rl; text-align: left; }
</style>
</head>
<body>
<h1>Tandem</h1>
<textarea id="source" placeholder="A line to translate"></textarea>
<p><label>beam <input id="beam" type="number" min="1" max="16" value="5"></label>
<button id="translate">Translate</button></p>
<div id="result"></div>
<div id="error"></div>
<table id="attention" class="heat"></table>
<script>
function cell(tag, text) { const c = document.createElement(tag); c.textContent = text; return c; }
function heatMap(a) {
  const table = document.getElementById('attention');
  table.innerHTML = '';
  const head = document.createElement('thead');
  const top = document.createElement('tr');
  top.appendChild(cell('th', ''));
  a.source.forEach(p => top.appendChild(cell('th', p)));
  head.appendChild(top);
  table.appendChild(head);
  a.target.forEach((p, t) => {
    const row = document.createElement('tr');
    row.appendChild(cell('th', p));
    a.weights[t].forEach(w => {
      const c = cell('td', '');
      const shade = Math.round(255 * (1 - w));
      c.style.background = 'rgb(' + shade + ',' + shade + ',255)';
      c.title = w.toFixed(3);
      row.appendChild(c);
    });
    table.appendChild(row);
  });
}
async function translate() {
  const error = document.getElementById('error');
  const result = document.getElementById('result');
  error.textContent = '';
  const lines = document.getElementById('source').value.split('\n').filter(l => l.trim() !== '');
  if (lines.length === 0) { result.textContent = ''; return; }
  try {
    const response = await fetch('/translate', {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({text: lines, beam_size: parseInt(document.getElementById('beam').value, 10), attention: true})});
    const body = await response.json();
    if (!response.ok) { error.textContent = body.error; return; }
    result.textContent = body.translations.join('\n');
    heatMap(body.attention[0]);
  } catch (e) { error.textContent = String(e); }
}
document.getElementById('translate').addEventListener('click', translate);
// A link can carry the text: /?text=...&beam=5 fills the form and presses the button.
const query = new URLSearchParams(window.location.search);
if (query.has('text')) {
  document.getElementById('source').value = query.get('text');
  if (query.has('beam')) document.getElementById('beam').value = query.get('beam');
  document.getElementById('translate').click();
}
</script>
</body>
</html>
)PAGE";
  return kPage;
}

}  // namespace tandem::serve
