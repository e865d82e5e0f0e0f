// edgesight live view: the MJPEG stream in an <img>, with boxes, the mask, zones and lines drawn on a
// canvas above it from /api/status. Plain browser JavaScript, no build step; uPlot draws the chart.
'use strict';

const $ = (id) => document.getElementById(id);
const img = $('frame');
const canvas = $('overlay');
const ctx = canvas.getContext('2d');
const show = { boxes: $('show-boxes'), mask: $('show-mask'), zones: $('show-zones') };
let status = null;
let pollMs = 500;
let chart = null;
let chartStage = 'end_to_end';

// The same colours as the MQTT snapshot: a label keeps its colour everywhere.
const BOX_COLOURS = ['#ff3b30', '#34c759', '#0a84ff', '#ffcc00', '#ff9500', '#af52de', '#5ac8fa', '#ff2d55', '#00e5ff', '#30d158'];
function labelColour(label) {
  let h = 2166136261;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619) >>> 0;
  return BOX_COLOURS[h % BOX_COLOURS.length];
}

// Pascal VOC colour map: class i's colour spreads i's bits over the high bits of R, G, B.
function vocColour(index) {
  let r = 0,
    g = 0,
    b = 0,
    c = index;
  for (let j = 0; j < 8; j++) {
    r |= ((c >> 0) & 1) << (7 - j);
    g |= ((c >> 1) & 1) << (7 - j);
    b |= ((c >> 2) & 1) << (7 - j);
    c >>= 3;
  }
  return [r, g, b];
}

const MASK_ALPHA = Math.round(0.45 * 255);
const maskCanvas = document.createElement('canvas');
let maskKey = '';

function decodeBase64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function renderMask(mask) {
  const key = `${mask.frame_id}:${mask.width}x${mask.height}`;
  if (key === maskKey) return maskCanvas;
  maskKey = key;
  const data = decodeBase64(mask.data);
  maskCanvas.width = mask.width;
  maskCanvas.height = mask.height;
  const mctx = maskCanvas.getContext('2d');
  const px = mctx.createImageData(mask.width, mask.height);
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c === 0) continue; // background stays clear
    const [r, g, b] = vocColour(c);
    px.data.set([r, g, b, MASK_ALPHA], i * 4);
  }
  mctx.putImageData(px, 0, 0);
  return maskCanvas;
}

// ---- zone / line helper: click points on the picture, get the YAML to paste into the config ----
const draw = { mode: null, points: [] };
const round3 = (v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000;

function setMode(mode) {
  draw.mode = draw.mode === mode ? null : mode;
  draw.points = [];
  $('draw-zone').classList.toggle('active', draw.mode === 'zone');
  $('draw-line').classList.toggle('active', draw.mode === 'line');
  $('stage').classList.toggle('drawing', draw.mode !== null);
  $('helper').hidden = draw.mode === null;
  const name = $('draw-name');
  if (draw.mode && /^(zone|line)_\d+$/.test(name.value)) name.value = `${draw.mode}_1`;
  updateHelper();
}

function yamlSnippet() {
  const name = /^[A-Za-z0-9_-]+$/.test($('draw-name').value) ? $('draw-name').value : `${draw.mode}_1`;
  const pts = `[${draw.points.map(([x, y]) => `[${x}, ${y}]`).join(', ')}]`;
  return draw.mode === 'zone' ? `zones:\n  ${name}:\n    polygon: ${pts}\n` : `lines:\n  ${name}:\n    points: ${pts}\n`;
}

function updateHelper() {
  const need = draw.mode === 'zone' ? 3 : 2;
  $('draw-undo').disabled = draw.points.length === 0;
  $('draw-clear').disabled = draw.points.length === 0;
  if (!draw.mode) return;
  $('helper-hint').textContent =
    draw.points.length < need
      ? `Click ${need - draw.points.length} more point(s) on the picture (coordinates are normalised 0..1).`
      : `Paste this into the config file (${draw.mode === 'zone' ? 'the polygon closes itself' : 'add points for a polyline'}):`;
  $('yaml').value = draw.points.length >= need ? yamlSnippet() : '';
  paint();
}

canvas.addEventListener('click', (ev) => {
  if (!draw.mode) return;
  const r = canvas.getBoundingClientRect();
  draw.points.push([round3((ev.clientX - r.left) / r.width), round3((ev.clientY - r.top) / r.height)]);
  updateHelper();
});
$('draw-zone').addEventListener('click', () => setMode('zone'));
$('draw-line').addEventListener('click', () => setMode('line'));
$('draw-undo').addEventListener('click', () => {
  draw.points.pop();
  updateHelper();
});
$('draw-clear').addEventListener('click', () => {
  draw.points = [];
  updateHelper();
});
$('draw-name').addEventListener('input', updateHelper);
$('copy-yaml').addEventListener('click', () => {
  const t = $('yaml');
  t.select();
  if (navigator.clipboard) navigator.clipboard.writeText(t.value).catch(() => undefined);
});
for (const box of Object.values(show)) box.addEventListener('change', () => paint());

// ---- the overlay ----
function polyline(points, w, h, close) {
  ctx.beginPath();
  points.forEach(([x, y], i) => (i ? ctx.lineTo(x * w, y * h) : ctx.moveTo(x * w, y * h)));
  if (close) ctx.closePath();
}

function tag(text, x, y, colour, font) {
  ctx.font = `${font}px "DejaVu Sans", sans-serif`;
  const tw = ctx.measureText(text).width + 6;
  const th = font + 4;
  const ty = y - th >= 0 ? y - th : y;
  const tx = Math.max(0, Math.min(x, canvas.width - tw));
  ctx.globalAlpha = 0.85;
  ctx.fillStyle = colour;
  ctx.fillRect(tx, ty, tw, th);
  ctx.globalAlpha = 1;
  ctx.fillStyle = '#000';
  ctx.fillText(text, tx + 3, ty + font);
}

function paint() {
  const f = status && status.frame;
  const w = f ? f.width : img.naturalWidth || 640;
  const h = f ? f.height : img.naturalHeight || 480;
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  ctx.clearRect(0, 0, w, h);
  const stroke = Math.max(2, Math.round(Math.min(w, h) / 200));
  const font = Math.max(11, Math.round(h / 32));
  if (f && f.mask && show.mask.checked) {
    ctx.imageSmoothingEnabled = false; // class edges stay crisp
    ctx.drawImage(renderMask(f.mask), 0, 0, w, h);
  }
  if (status && show.zones.checked) {
    ctx.lineWidth = stroke;
    for (const [name, z] of Object.entries(status.zones || {})) {
      polyline(z.polygon, w, h, true);
      ctx.fillStyle = 'rgba(10, 132, 255, 0.15)';
      ctx.fill();
      ctx.strokeStyle = '#0a84ff';
      ctx.stroke();
      tag(name, z.polygon[0][0] * w, z.polygon[0][1] * h, '#0a84ff', font);
    }
    for (const [name, l] of Object.entries(status.lines || {})) {
      polyline(l.points, w, h, false);
      ctx.strokeStyle = '#ff9500';
      ctx.stroke();
      tag(name, l.points[0][0] * w, l.points[0][1] * h, '#ff9500', font);
    }
  }
  if (f && show.boxes.checked) {
    ctx.lineWidth = stroke;
    for (const d of f.detections) {
      const [x1, y1, x2, y2] = [d.box[0] * w, d.box[1] * h, d.box[2] * w, d.box[3] * h].map(Math.round);
      const colour = labelColour(d.label);
      ctx.strokeStyle = colour;
      ctx.strokeRect(x1 + stroke / 2, y1 + stroke / 2, Math.max(0, x2 - x1 - stroke), Math.max(0, y2 - y1 - stroke));
      const id = d.track_id !== undefined && d.track_id !== null ? ` #${d.track_id}` : '';
      tag(`${d.label} ${Math.round(d.score * 100)}%${id}`, x1, y1, colour, font);
    }
  }
  if (draw.mode && draw.points.length) {
    ctx.lineWidth = stroke;
    ctx.strokeStyle = '#fff';
    ctx.setLineDash([6, 4]);
    polyline(draw.points, w, h, draw.mode === 'zone' && draw.points.length > 2);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = '#fff';
    for (const [x, y] of draw.points) ctx.fillRect(x * w - 3, y * h - 3, 6, 6);
  }
  canvas.dataset.frameId = f ? String(f.id) : '';
  canvas.dataset.maskShown = String(Boolean(f && f.mask && show.mask.checked));
}

// ---- side panels ----
function setText(id, v) {
  $(id).textContent = v;
}
const fmt = (v, d = 1) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');

function dl(el, rows) {
  el.replaceChildren(
    ...rows.flatMap(([k, v, cls]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      if (cls) dd.className = cls;
      return [dt, dd];
    }),
  );
}

function renderPanels(s) {
  setText('device', s.device_name);
  setText('version', `v${s.version} · ${s.device}`);
  const state = $('state');
  state.textContent = s.state + (s.state_detail ? `: ${s.state_detail}` : '');
  state.className = `pill ${s.state}`;
  setText('fps-processed', fmt(s.fps.processed));
  setText('fps-camera', fmt(s.fps.camera));
  setText('frame-id', s.frame ? String(s.frame.id) : '–');
  setText('viewers', `${s.live.viewers}/${s.live.max_viewers}`);

  const counts = Object.entries(s.counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  $('counts').tBodies[0].replaceChildren(
    ...(counts.length ? counts : [['(no tracked labels)', '']]).map(([label, n]) => {
      const tr = document.createElement('tr');
      const a = document.createElement('td');
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = labelColour(label);
      a.append(sw, label);
      const b = document.createElement('td');
      b.textContent = String(n);
      tr.append(a, b);
      return tr;
    }),
  );

  $('latency').tBodies[0].replaceChildren(
    ...Object.entries(s.latency.now)
      .filter(([, v]) => v.count > 0)
      .map(([stage, v]) => {
        const tr = document.createElement('tr');
        for (const t of [stage, fmt(v.p50), fmt(v.p99), String(v.count)]) {
          const td = document.createElement('td');
          td.textContent = t;
          tr.append(td);
        }
        return tr;
      }),
  );
  setText('latency-note', `p50/p99 over the last ${s.latency.window_s} s window, sampled every ${s.latency.history.step_s} s`);

  const b = s.board;
  const thr = b.throttled
    ? Object.entries(b.throttled)
        .filter(([, v]) => v)
        .map(([k]) => k.replace(/_/g, ' '))
    : null;
  dl($('board'), [
    [
      'SoC temperature',
      b.soc_temp_c === null ? 'n/a' : `${fmt(b.soc_temp_c)} °C`,
      b.soc_temp_c !== null && b.soc_temp_c >= 80 ? 'bad' : b.soc_temp_c !== null && b.soc_temp_c >= 70 ? 'warn' : '',
    ],
    [
      'throttling',
      thr === null ? 'n/a (not a Pi)' : thr.length ? thr.join(', ') : 'none',
      thr && thr.some((t) => t.endsWith('now')) ? 'bad' : thr && thr.length ? 'warn' : '',
    ],
    ['CPU (process)', b.cpu_percent === null ? '–' : `${fmt(b.cpu_percent, 0)} %`],
    ['RSS', `${fmt(b.rss_mb, 0)} MiB`],
    ['load (1 min)', fmt(b.load_1, 2)],
    ['uptime', `${Math.round(s.uptime_s)} s`],
  ]);
  const m = s.models;
  dl($('models'), [
    ['detector', `${m.detector.name} (${m.detector.precision})`],
    ['segmenter', m.segmenter ? `${m.segmenter.name} (${m.segmenter.precision})` : 'off'],
    ['inference core', `${s.inference.cpus_allowed_list ?? '?'} (config ${s.inference.core}), ${s.inference.threads} thread(s)`],
    ['camera', `${s.camera.name}: ${s.camera.source} ${s.camera.width}×${s.camera.height} @ ${s.camera.fps} fps`],
    ['live view', `≤ ${s.live.fps} fps, ${s.live.encoded_frames} frames encoded`],
  ]);
  const e = s.last_error;
  const le = $('last-error');
  le.textContent = e ? `${new Date(e.at).toLocaleString()}: ${e.message}` : 'none';
  le.className = e ? 'bad' : '';
}

function renderChart(s) {
  if (typeof uPlot === 'undefined') return;
  const sel = $('stage-select');
  if (!sel.options.length) {
    for (const stage of Object.keys(s.latency.history.stages)) sel.add(new Option(stage, stage, stage === chartStage, stage === chartStage));
    sel.addEventListener('change', () => {
      chartStage = sel.value;
      if (status) renderChart(status);
    });
  }
  const h = s.latency.history;
  const series = h.stages[chartStage] || { p50: [], p99: [] };
  const data = [h.t, series.p50, series.p99];
  if (!chart) {
    const el = $('chart');
    chart = new uPlot(
      {
        width: el.clientWidth || 330,
        height: 160,
        scales: { x: { time: true } },
        axes: [
          { stroke: '#9aa3ad', grid: { stroke: '#2a313a' } },
          { stroke: '#9aa3ad', grid: { stroke: '#2a313a' }, label: 'ms' },
        ],
        series: [{}, { label: 'p50', stroke: '#34c759', width: 2, spanGaps: true }, { label: 'p99', stroke: '#ff9500', width: 2, spanGaps: true }],
      },
      data,
      el,
    );
  } else {
    chart.setData(data);
  }
}

// ---- polling and the stream ----
async function poll() {
  try {
    const res = await fetch('/api/status', { cache: 'no-store', credentials: 'same-origin' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    status = await res.json();
    pollMs = Math.max(200, Math.round(1000 / status.live.fps));
    renderPanels(status);
    paint();
    renderChart(status);
    document.body.dataset.ready = 'true';
  } catch (e) {
    const state = $('state');
    state.textContent = `no connection to the daemon (${e.message})`;
    state.className = 'pill down';
  }
  setTimeout(poll, pollMs);
}

img.addEventListener('load', () => {
  $('stream-msg').hidden = true;
  if (!status) paint();
});
img.addEventListener('error', () => {
  const msg = $('stream-msg');
  msg.hidden = false;
  msg.textContent = 'The video stream is not available (too many viewers, or the daemon stopped); retrying in 5 s.';
  setTimeout(() => {
    img.src = `/stream.mjpeg?retry=${Date.now()}`;
  }, 5000);
});

poll();
