import { percentile } from './sample-stats.js';

export interface ChartRow {
  label: string;
  /** durations in ms */
  values: readonly number[];
}

const W = 960;
const LEFT = 210;
const RIGHT = 40;
const TOP = 64;
const ROW = 30;
const BOTTOM = 64;

/**
 * Per-stage latency distribution as horizontal box plots on a log axis (stages span µs to tens of ms):
 * box p25–p75, line at p50, whiskers p1–p99, a dot at the max, p50/p99 written at the right.
 * Hand-written SVG so the report needs no plotting dependency and renders on GitHub.
 */
export function latencyChartSvg(title: string, subtitle: string, rows: ChartRow[]): string {
  const data = rows
    .filter((r) => r.values.length > 0)
    .map((r) => {
      const s = [...r.values].sort((a, b) => a - b);
      return {
        label: r.label,
        p1: percentile(s, 1),
        p25: percentile(s, 25),
        p50: percentile(s, 50),
        p75: percentile(s, 75),
        p99: percentile(s, 99),
        max: s[s.length - 1]!,
        n: s.length,
      };
    });
  if (!data.length) throw new Error('latency chart: no stage has samples');
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(0.001, Math.min(...data.map((d) => (d.p1 > 0 ? d.p1 : 0.001)))))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...data.map((d) => d.max)) * 1.0001)));
  const plotW = W - LEFT - RIGHT - 130;
  const x = (ms: number): number => LEFT + (Math.log10(Math.min(hi, Math.max(lo, ms)) / lo) / Math.log10(hi / lo)) * plotW;
  const H = TOP + data.length * ROW + BOTTOM;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<title>${esc(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${LEFT}" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`);
  out.push(`<text x="${LEFT}" y="44" fill="#555555">${esc(subtitle)}</text>`);
  // decade grid with 2 and 5 minor lines
  const plotBottom = TOP + data.length * ROW;
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    for (const m of [1, 2, 5]) {
      const v = d * m;
      if (v > hi * 1.0001) break;
      const gx = x(v).toFixed(1);
      out.push(`<line x1="${gx}" y1="${TOP - 6}" x2="${gx}" y2="${plotBottom}" stroke="${m === 1 ? '#bbbbbb' : '#e6e6e6'}" stroke-width="1"/>`);
      out.push(
        `<text x="${gx}" y="${plotBottom + 16}" text-anchor="middle" fill="${m === 1 ? '#333333' : '#888888'}" font-size="${m === 1 ? 11 : 9}">${esc(fmtMs(v))}</text>`,
      );
    }
  }
  out.push(
    `<text x="${LEFT + plotW / 2}" y="${plotBottom + 36}" text-anchor="middle" fill="#333333">milliseconds (log scale) — box p25–p75, bar p50, whiskers p1–p99, dot max</text>`,
  );
  out.push(`<text x="${LEFT + plotW + 12}" y="${TOP - 10}" fill="#333333" font-weight="bold">p50 / p99 ms</text>`);
  data.forEach((d, i) => {
    const cy = TOP + i * ROW + ROW / 2;
    if (i % 2 === 0) out.push(`<rect x="0" y="${TOP + i * ROW}" width="${W}" height="${ROW}" fill="#f6f8fa"/>`);
    out.push(`<text x="${LEFT - 10}" y="${cy + 4}" text-anchor="end">${esc(d.label)} <tspan fill="#888888" font-size="10">n=${d.n}</tspan></text>`);
    out.push(`<line x1="${x(d.p1).toFixed(1)}" y1="${cy}" x2="${x(d.p99).toFixed(1)}" y2="${cy}" stroke="#44546a" stroke-width="1.5"/>`);
    for (const v of [d.p1, d.p99])
      out.push(`<line x1="${x(v).toFixed(1)}" y1="${cy - 6}" x2="${x(v).toFixed(1)}" y2="${cy + 6}" stroke="#44546a" stroke-width="1.5"/>`);
    const bx = x(d.p25);
    out.push(
      `<rect x="${bx.toFixed(1)}" y="${cy - 9}" width="${Math.max(1.5, x(d.p75) - bx).toFixed(1)}" height="18" fill="#9ecae1" stroke="#2b6ca3" stroke-width="1"/>`,
    );
    out.push(`<line x1="${x(d.p50).toFixed(1)}" y1="${cy - 9}" x2="${x(d.p50).toFixed(1)}" y2="${cy + 9}" stroke="#08306b" stroke-width="2.5"/>`);
    out.push(`<circle cx="${x(d.max).toFixed(1)}" cy="${cy}" r="3" fill="#c0392b"/>`);
    out.push(`<text x="${LEFT + plotW + 12}" y="${cy + 4}">${esc(`${fmtMs(d.p50)} / ${fmtMs(d.p99)}`)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function fmtMs(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  if (v >= 0.01) return v.toFixed(3);
  return v.toPrecision(2);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
