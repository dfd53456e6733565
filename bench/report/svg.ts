/**
 * A hand-written SVG bar chart of the ratios: for each measurement, SDK/raw ssh2 and SDK/OpenSSH,
 * with a line at 1.0 (parity) and a tick for the target. Values past the axis are clipped with an arrow.
 */
export interface RatioBar {
  label: string;
  vsRaw: number;
  vsSshd: number;
  targetRaw?: number;
  targetSshd?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

export function ratioChart(title: string, bars: RatioBar[]): string {
  const labelW = 250;
  const plotW = 520;
  const rowH = 38;
  const top = 56;
  const height = top + bars.length * rowH + 46;
  const width = labelW + plotW + 90;
  const finite = bars.flatMap((b) => [b.vsRaw, b.vsSshd]).filter(Number.isFinite);
  const axisMax = Math.min(8, Math.max(2, Math.ceil(Math.max(...finite, 1) * 2) / 2));
  const x = (v: number) => labelW + (Math.min(Math.max(v, 0), axisMax) / axisMax) * plotW;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="#fff"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${labelW}" y="32" width="12" height="10" fill="#3b6fb6"/><text x="${labelW + 16}" y="41">SDK / raw ssh2</text>`);
  out.push(
    `<rect x="${labelW + 130}" y="32" width="12" height="10" fill="#e08a2c"/><text x="${labelW + 146}" y="41">SDK / OpenSSH sshd</text>`,
  );
  out.push(
    `<line x1="${labelW + 290}" y1="37" x2="${labelW + 302}" y2="37" stroke="#c00" stroke-width="2"/><text x="${labelW + 306}" y="41">target</text>`,
  );
  // grid
  for (let v = 0; v <= axisMax + 1e-9; v += axisMax > 4 ? 1 : 0.5) {
    const gx = x(v);
    out.push(
      `<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${top + bars.length * rowH}" stroke="${v === 1 ? '#444' : '#ddd'}" stroke-width="${v === 1 ? 1.5 : 1}"/>`,
    );
    out.push(`<text x="${gx}" y="${top + bars.length * rowH + 16}" text-anchor="middle" fill="#555">${v}×</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    out.push(`<text x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`);
    const series: [number, string, number | undefined][] = [
      [b.vsRaw, '#3b6fb6', b.targetRaw],
      [b.vsSshd, '#e08a2c', b.targetSshd],
    ];
    series.forEach(([v, color, target], k) => {
      const by = y + 4 + k * 15;
      if (Number.isFinite(v)) {
        out.push(`<rect x="${labelW}" y="${by}" width="${Math.max(1, x(v) - labelW)}" height="13" fill="${color}"/>`);
        const clipped = v > axisMax;
        out.push(`<text x="${x(v) + 4}" y="${by + 11}" fill="#222">${fmt(v)}×${clipped ? ' →' : ''}</text>`);
      } else {
        out.push(`<text x="${labelW + 4}" y="${by + 11}" fill="#999">n/a</text>`);
      }
      if (target !== undefined)
        out.push(`<line x1="${x(target)}" y1="${by - 1}" x2="${x(target)}" y2="${by + 14}" stroke="#c00" stroke-width="2"/>`);
    });
  });
  out.push(
    `<text x="${labelW + plotW / 2}" y="${height - 8}" text-anchor="middle" fill="#555">ratio of medians (higher is better for the SDK; memory is inverted: other / SDK)</text>`,
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}
