import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** Distinguishable colours (Okabe–Ito), safe for the common kinds of colour blindness. */
const COLOURS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442', '#999999'];

export interface Series {
  readonly label: string;
  readonly values: readonly number[];
}

/**
 * Counts per day as lines (uPlot: small and fast). The same numbers are offered as a table for screen
 * readers and for people who prefer numbers.
 */
export function LineChart({ title, days, series, dayLabel, tableLabel }: { title: string; days: readonly string[]; series: readonly Series[]; dayLabel: string; tableLabel: string }) {
  const holder = useRef<HTMLDivElement>(null);
  const seriesKey = JSON.stringify(series);

  useEffect(() => {
    const element = holder.current;
    if (element === null) return;
    const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const plot = new uPlot(
      {
        width: Math.max(320, element.clientWidth),
        height: 240,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: { x: { time: true } },
        axes: [{}, { size: 50 }],
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, points: { show: true, size: 5 } }))],
      },
      [xs, ...series.map((s) => [...s.values])],
      element,
    );
    return () => plot.destroy();
    // seriesKey stands for series: a new array with the same numbers must not redraw the chart.
  }, [days, seriesKey]);

  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={holder} role="img" aria-label={title} />
      <details>
        <summary>{tableLabel}</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">{dayLabel}</th>
              {series.map((s) => (
                <th key={s.label} scope="col">
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {days.map((day, i) => (
              <tr key={day}>
                <th scope="row">{day}</th>
                {series.map((s) => (
                  <td key={s.label} className="num">
                    {s.values[i] ?? 0}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
