// Small inline-SVG charts for the HTML reports: no chart library, no network, opens anywhere.
import { escapeXml } from "./xml.ts";

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface Bar {
  readonly label: string;
  readonly values: readonly { readonly name: string; readonly color: string; readonly value: number }[];
}

const WIDTH = 760;
const HEIGHT = 280;
const MARGIN = { top: 30, right: 20, bottom: 40, left: 60 };

/** A round upper bound and tick step for an axis reaching `max`. */
export function niceScale(max: number, ticks = 5): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 0.2 };
  const rough = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step =
    [1, 2, 2.5, 5, 10].map((factor) => factor * magnitude).find((candidate) => candidate >= rough) ?? rough;
  return { max: Math.ceil(max / step) * step, step };
}

function axes(
  title: string,
  xLabel: string,
  yLabel: string,
  yMax: number,
  yStep: number,
  plotHeight: number,
  plotWidth: number,
) {
  const lines: string[] = [];
  for (let value = 0; value <= yMax + yStep / 2; value += yStep) {
    const y = MARGIN.top + plotHeight - (value / yMax) * plotHeight;
    lines.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e2e8f0"/>`,
      `<text x="${MARGIN.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11">${+value.toFixed(3)}</text>`,
    );
  }
  lines.push(
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${WIDTH / 2}" y="${HEIGHT - 6}" text-anchor="middle" font-size="12">${escapeXml(xLabel)}</text>`,
    `<text x="14" y="${HEIGHT / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${HEIGHT / 2})">${escapeXml(yLabel)}</text>`,
  );
  return lines.join("");
}

function legend(entries: readonly { name: string; color: string }[]): string {
  return entries
    .map(
      (entry, index) =>
        `<rect x="${MARGIN.left + 10 + index * 130}" y="${MARGIN.top + 4}" width="12" height="12" fill="${entry.color}"/>` +
        `<text x="${MARGIN.left + 26 + index * 130}" y="${MARGIN.top + 14}" font-size="12">${escapeXml(entry.name)}</text>`,
    )
    .join("");
}

export function lineChart(title: string, xLabel: string, yLabel: string, series: readonly Series[]): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const allPoints = series.flatMap((entry) => entry.points);
  const xMax = Math.max(1, ...allPoints.map(([x]) => x));
  const { max: yMax, step } = niceScale(Math.max(0, ...allPoints.map(([, y]) => y)));
  const x = (value: number) => MARGIN.left + (value / xMax) * plotWidth;
  const y = (value: number) => MARGIN.top + plotHeight - (value / yMax) * plotHeight;
  const paths = series
    .filter((entry) => entry.points.length > 0)
    .map(
      (entry) =>
        `<polyline fill="none" stroke="${entry.color}" stroke-width="2" points="${entry.points
          .map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`)
          .join(" ")}"><title>${escapeXml(entry.name)}</title></polyline>`,
    )
    .join("");
  const xTicks = niceScale(xMax, 8);
  let ticks = "";
  for (let value = 0; value <= xMax; value += xTicks.step) {
    ticks += `<text x="${x(value).toFixed(1)}" y="${MARGIN.top + plotHeight + 16}" text-anchor="middle" font-size="11">${+value.toFixed(2)}</text>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeXml(title)}">
${axes(title, xLabel, yLabel, yMax, step, plotHeight, plotWidth)}${ticks}${paths}${legend(series)}</svg>`;
}

/** Grouped bars: one group per label, one bar per value. */
export function barChart(title: string, yLabel: string, bars: readonly Bar[]): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const { max: yMax, step } = niceScale(
    Math.max(0, ...bars.flatMap((bar) => bar.values.map((value) => value.value))),
  );
  const groupWidth = plotWidth / Math.max(1, bars.length);
  const perGroup = Math.max(1, ...bars.map((bar) => bar.values.length));
  const barWidth = Math.min(60, (groupWidth * 0.8) / perGroup);
  const rects = bars
    .map((bar, group) => {
      const start = MARGIN.left + group * groupWidth + (groupWidth - barWidth * bar.values.length) / 2;
      const columns = bar.values
        .map((value, index) => {
          const height = (value.value / yMax) * plotHeight;
          const left = start + index * barWidth;
          return `<rect x="${left.toFixed(1)}" y="${(MARGIN.top + plotHeight - height).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${height.toFixed(1)}" fill="${value.color}"><title>${escapeXml(`${bar.label} ${value.name}: ${value.value}`)}</title></rect>`;
        })
        .join("");
      return `${columns}<text x="${(MARGIN.left + group * groupWidth + groupWidth / 2).toFixed(1)}" y="${MARGIN.top + plotHeight + 16}" text-anchor="middle" font-size="11">${escapeXml(bar.label)}</text>`;
    })
    .join("");
  const names = bars[0]?.values.map((value) => ({ name: value.name, color: value.color })) ?? [];
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeXml(title)}">
${axes(title, "", yLabel, yMax, step, plotHeight, plotWidth)}${rects}${names.length > 1 ? legend(names) : ""}</svg>`;
}
