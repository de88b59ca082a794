//! Charts as inline SVG, the one renderer of the dashboard and of every bundle's report, written
//! by hand so that neither needs anything from the network nor a font: horizontal bars, paired
//! bars, lines over dates or numbers, points, heat maps, donuts. Every data mark has the class
//! `mark` (what the browser test counts); legends sit above the plot, clear of the data; time
//! axes are labelled with dates.

use chrono::NaiveDate;
use std::fmt::Write as _;

/// Escapes text for HTML and SVG.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The palette (colour-blind safe).
pub const COLORS: [&str; 8] =
    ["#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#ff8ab7", "#a463f2", "#97bbf5"];

const FONT: &str =
    "font-family=\"system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif\"";

fn open(out: &mut String, width: u32, height: u32, title: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{t}\" {FONT} font-size=\"12\"><title>{t}</title><rect width=\"{width}\" height=\"{height}\" fill=\"#fff\"/><text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"600\">{t}</text>",
        t = escape(title)
    );
}

/// A label cut to `max` characters.
fn cut(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        label.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// Horizontal bars, one a row, the value written beside each.
pub fn bars(title: &str, items: &[(String, f64)], format: &dyn Fn(f64) -> String) -> String {
    let (width, left, row) = (640u32, 190u32, 22u32);
    let height = 34 + row * items.len().max(1) as u32 + 10;
    let mut out = String::new();
    open(&mut out, width, height, title);
    let max = items.iter().map(|i| i.1.abs()).fold(0.0f64, f64::max).max(1e-12);
    let plot = (width - left - 90) as f64;
    for (i, (label, value)) in items.iter().enumerate() {
        let y = 34 + row * i as u32;
        let w = (value.abs() / max * plot).max(1.0);
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect class=\"mark\" x=\"{left}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\"><title>{}: {}</title></rect><text x=\"{:.1}\" y=\"{}\" fill=\"#333\">{}</text>",
            left - 6,
            y + 15,
            escape(&cut(label, 28)),
            row - 6,
            if *value < 0.0 { COLORS[2] } else { COLORS[0] },
            escape(label),
            escape(&format(*value)),
            left as f64 + w + 4.0,
            y + 15,
            escape(&format(*value))
        );
    }
    out.push_str("</svg>");
    out
}

/// Paired bars: for each label, one bar per series (e.g. a region's share against the national
/// share), with a legend above the plot.
pub fn paired_bars(
    title: &str,
    series: &[&str],
    items: &[(String, Vec<f64>)],
    format: &dyn Fn(f64) -> String,
) -> String {
    let (width, left) = (640u32, 190u32);
    let bar = 10u32;
    let row = bar * series.len() as u32 + 10;
    let top = 50u32;
    let height = top + row * items.len().max(1) as u32 + 10;
    let mut out = String::new();
    open(&mut out, width, height, title);
    legend(&mut out, left, 36, series);
    let max = items.iter().flat_map(|i| i.1.iter()).fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
    let plot = (width - left - 70) as f64;
    for (i, (label, values)) in items.iter().enumerate() {
        let y = top + row * i as u32;
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            left - 6,
            y + row / 2 + 2,
            escape(&cut(label, 28))
        );
        for (s, value) in values.iter().enumerate() {
            let w = (value.abs() / max * plot).max(1.0);
            let yy = y + bar * s as u32;
            let _ = write!(
                out,
                "<rect class=\"mark\" x=\"{left}\" y=\"{yy}\" width=\"{w:.1}\" height=\"{}\" fill=\"{}\"><title>{} — {}: {}</title></rect><text x=\"{:.1}\" y=\"{}\" font-size=\"10\" fill=\"#333\">{}</text>",
                bar - 1,
                COLORS[s % COLORS.len()],
                escape(label),
                escape(series[s]),
                escape(&format(*value)),
                left as f64 + w + 3.0,
                yy + bar - 2,
                escape(&format(*value))
            );
        }
    }
    out.push_str("</svg>");
    out
}

fn legend(out: &mut String, x: u32, y: u32, names: &[&str]) {
    let mut at = x;
    for (i, name) in names.iter().enumerate() {
        let _ = write!(
            out,
            "<rect x=\"{at}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            y - 9,
            COLORS[i % COLORS.len()],
            at + 14,
            y,
            escape(name)
        );
        // Wide enough for capitals at 12 px.
        at += 30 + 9 * name.chars().count() as u32;
    }
}

/// Lines over dates (one series or several), the x axis labelled with dates, a legend above.
pub fn lines(
    title: &str,
    series: &[(String, Vec<(NaiveDate, f64)>)],
    format: &dyn Fn(f64) -> String,
) -> String {
    draw_lines(title, series, None, None, format)
}

/// Lines over periods, the periods `partial` says are cut by the data's first or last day
/// drawn dashed and marked hollow (their figures are not comparable with whole periods').
pub fn lines_marking_partial(
    title: &str,
    series: &[(String, Vec<(NaiveDate, f64)>)],
    partial: &dyn Fn(NaiveDate) -> bool,
    format: &dyn Fn(f64) -> String,
) -> String {
    draw_lines(title, series, None, Some(partial), format)
}

/// An interval drawn as a shaded band under the lines: its name and (day, low, high) points.
pub type Band = (String, Vec<(NaiveDate, f64, f64)>);

/// Lines over dates with an optional shaded interval (a forecast's P10–P90, say).
pub fn lines_with_band(
    title: &str,
    series: &[(String, Vec<(NaiveDate, f64)>)],
    band: Option<&Band>,
    format: &dyn Fn(f64) -> String,
) -> String {
    draw_lines(title, series, band, None, format)
}

fn draw_lines(
    title: &str,
    series: &[(String, Vec<(NaiveDate, f64)>)],
    band: Option<&Band>,
    partial: Option<&dyn Fn(NaiveDate) -> bool>,
    format: &dyn Fn(f64) -> String,
) -> String {
    let (width, height) = (640u32, 300u32);
    let (left, right, top, bottom) = (70.0, 20.0, 46.0, 40.0);
    let mut out = String::new();
    open(&mut out, width, height, title);
    let mut names: Vec<&str> = series.iter().map(|s| s.0.as_str()).collect();
    if let Some((name, _)) = band {
        names.push(name.as_str());
    }
    if names.len() > 1 {
        legend(&mut out, left as u32, 36, &names);
    }
    let band_points = band.map_or(&[][..], |b| b.1.as_slice());
    let points: Vec<(NaiveDate, f64)> = series
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .chain(band_points.iter().flat_map(|b| [(b.0, b.1), (b.0, b.2)]))
        .collect();
    if points.is_empty() {
        out.push_str("</svg>");
        return out;
    }
    let (x0, x1) =
        points.iter().fold((points[0].0, points[0].0), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let (y0, y1) = points.iter().fold((0.0f64, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let y1 = if y1 <= y0 { y0 + 1.0 } else { y1 * 1.05 };
    let span = ((x1 - x0).num_days().max(1)) as f64;
    let (pw, ph) = (width as f64 - left - right, height as f64 - top - bottom);
    let x = |d: NaiveDate| left + (d - x0).num_days() as f64 / span * pw;
    let y = |v: f64| top + ph - (v - y0) / (y1 - y0) * ph;
    if !band_points.is_empty() {
        let outline: Vec<String> = band_points
            .iter()
            .map(|b| format!("{:.1},{:.1}", x(b.0), y(b.2)))
            .chain(band_points.iter().rev().map(|b| format!("{:.1},{:.1}", x(b.0), y(b.1))))
            .collect();
        let _ = write!(
            out,
            "<polygon class=\"mark\" fill=\"{}\" fill-opacity=\"0.35\" stroke=\"none\" points=\"{}\"><title>{}</title></polygon>",
            COLORS[series.len() % COLORS.len()],
            outline.join(" "),
            escape(band.map_or("", |b| b.0.as_str()))
        );
    }
    // Axes, with four value ticks and up to six date ticks.
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>",
        top + ph,
        left + pw,
        top + ph
    );
    for k in 0..=4 {
        let v = y0 + (y1 - y0) * k as f64 / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"10\">{}</text>",
            y(v),
            left + pw,
            y(v),
            left - 4.0,
            y(v) + 3.0,
            escape(&format(v))
        );
    }
    let ticks = 6.min((span as usize).max(1));
    for k in 0..=ticks {
        let d = x0 + chrono::Duration::days((span * k as f64 / ticks as f64).round() as i64);
        // The end labels stay inside the chart.
        let anchor = match k {
            0 => "start",
            k if k == ticks => "end",
            _ => "middle",
        };
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" font-size=\"10\">{}</text>",
            x(d),
            top + ph + 16.0,
            d.format("%Y-%m-%d")
        );
    }
    let is_partial = |d: NaiveDate| partial.is_some_and(|p| p(d));
    if series.iter().any(|s| s.1.iter().any(|p| is_partial(p.0))) {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"18\" text-anchor=\"end\" font-size=\"10\" fill=\"#555\">dashed, hollow: partial period</text>",
            width as f64 - right
        );
    }
    for (i, (name, data)) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        // Whole periods in one solid line; a segment touching a partial period dashed.
        let whole: Vec<String> = data
            .iter()
            .filter(|p| !is_partial(p.0))
            .map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1)))
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"mark\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
            whole.join(" "),
            escape(name)
        );
        for pair in data.windows(2).filter(|w| is_partial(w[0].0) || is_partial(w[1].0)) {
            let _ = write!(
                out,
                "<line class=\"partial\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"5 4\"/>",
                x(pair[0].0),
                y(pair[0].1),
                x(pair[1].0),
                y(pair[1].1)
            );
        }
        for p in data.iter().filter(|p| is_partial(p.0)) {
            let _ = write!(
                out,
                "<circle class=\"partial\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"#fff\" stroke=\"{color}\" stroke-width=\"2\"><title>{}: partial period (cut by the data's first or last day)</title></circle>",
                x(p.0),
                y(p.1),
                p.0.format("%Y-%m-%d")
            );
        }
        if data.len() == 1 {
            let _ = write!(
                out,
                "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                x(data[0].0),
                y(data[0].1),
                COLORS[i % COLORS.len()]
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Lines over numbers (an ROC curve, a calibration curve, cumulative purchases by week), with
/// the axes named and, when `diagonal`, the y = x line (what a perfect calibration or a coin
/// would draw).
pub fn xy_lines(
    title: &str,
    axes: (&str, &str),
    series: &[(String, Vec<(f64, f64)>)],
    diagonal: bool,
) -> String {
    let points = series.iter().flat_map(|s| s.1.iter().copied());
    let mut frame = Frame::new(title, axes, points, diagonal, (640, 400));
    let names: Vec<&str> = series.iter().map(|s| s.0.as_str()).collect();
    legend(&mut frame.out, frame.left as u32, 36, &names);
    for (i, (name, data)) in series.iter().enumerate() {
        let path: Vec<String> = data
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .map(|p| format!("{:.1},{:.1}", frame.x(p.0), frame.y(p.1)))
            .collect();
        let _ = write!(
            frame.out,
            "<polyline class=\"mark\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"><title>{}</title></polyline>",
            COLORS[i % COLORS.len()],
            path.join(" "),
            escape(name)
        );
    }
    frame.finish()
}

/// Points (predicted against actual), with the y = x line of a perfect prediction.
pub fn scatter(title: &str, axes: (&str, &str), points: &[(f64, f64)]) -> String {
    let mut frame = Frame::new(title, axes, points.iter().copied(), true, (560, 480));
    for p in points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()) {
        let _ = write!(
            frame.out,
            "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2\" fill=\"{}\" fill-opacity=\"0.5\"/>",
            frame.x(p.0),
            frame.y(p.1),
            COLORS[0]
        );
    }
    frame.finish()
}

/// A plot over numbers on both axes: the chart's frame, axes and ticks, and the mapping of
/// values into it.
struct Frame {
    out: String,
    left: f64,
    top: f64,
    plot: (f64, f64),
    x_range: (f64, f64),
    y_range: (f64, f64),
}

impl Frame {
    fn new(
        title: &str,
        (x_label, y_label): (&str, &str),
        points: impl Iterator<Item = (f64, f64)>,
        diagonal: bool,
        (width, height): (u32, u32),
    ) -> Self {
        let (left, right, top, bottom) = (64.0, 20.0, 50.0, 46.0);
        let mut out = String::new();
        open(&mut out, width, height, title);
        let finite = |v: &f64| v.is_finite();
        let (xs, ys): (Vec<f64>, Vec<f64>) = points.unzip();
        let mut x_range = range(xs.iter().copied().filter(finite));
        let mut y_range = range(ys.iter().copied().filter(finite));
        if diagonal {
            let both = (x_range.0.min(y_range.0), x_range.1.max(y_range.1));
            (x_range, y_range) = (both, both);
        }
        let plot = (width as f64 - left - right, height as f64 - top - bottom);
        let mut frame = Self { out, left, top, plot, x_range, y_range };
        frame.axes(x_label, y_label, diagonal);
        frame
    }

    fn x(&self, v: f64) -> f64 {
        self.left + (v - self.x_range.0) / (self.x_range.1 - self.x_range.0) * self.plot.0
    }

    fn y(&self, v: f64) -> f64 {
        self.top + self.plot.1
            - (v - self.y_range.0) / (self.y_range.1 - self.y_range.0) * self.plot.1
    }

    fn axes(&mut self, x_label: &str, y_label: &str, diagonal: bool) {
        let (bottom, right) = (self.top + self.plot.1, self.left + self.plot.0);
        for k in 0..=4 {
            let (vx, vy) = (
                self.x_range.0 + (self.x_range.1 - self.x_range.0) * k as f64 / 4.0,
                self.y_range.0 + (self.y_range.1 - self.y_range.0) * k as f64 / 4.0,
            );
            let (x, y) = (self.x(vx), self.y(vy));
            let _ = write!(
                self.out,
                "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{right:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"10\">{}</text><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
                self.left,
                self.left - 4.0,
                y + 3.0,
                tick(vy),
                bottom + 14.0,
                tick(vx)
            );
        }
        let _ = write!(
            self.out,
            "<line x1=\"{:.1}\" y1=\"{bottom:.1}\" x2=\"{right:.1}\" y2=\"{bottom:.1}\" stroke=\"#999\"/><line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{bottom:.1}\" stroke=\"#999\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text><text transform=\"translate(14,{:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            self.left,
            self.left,
            self.top,
            self.left,
            self.left + self.plot.0 / 2.0,
            bottom + 34.0,
            escape(x_label),
            self.top + self.plot.1 / 2.0,
            escape(y_label)
        );
        if diagonal {
            let (lo, hi) = self.x_range;
            let _ = write!(
                self.out,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
                self.x(lo),
                self.y(lo),
                self.x(hi),
                self.y(hi)
            );
        }
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// The range of `values` with 5% room on each side ((0, 1) when there is none).
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

/// A tick label: as many decimals as the value's size needs.
fn tick(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

/// A heat map: rows × columns, each cell shaded by its value and labelled.
pub fn heatmap(
    title: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<f64>],
    labels: &[Vec<String>],
) -> String {
    let (cell_w, cell_h, left, top) = (84u32, 22u32, 170u32, 60u32);
    let width = left + cell_w * columns.len().max(1) as u32 + 10;
    let height = top + cell_h * rows.len().max(1) as u32 + 10;
    let mut out = String::new();
    open(&mut out, width.max(320), height, title);
    let max = values.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-12);
    for (j, column) in columns.iter().enumerate() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">{}</text>",
            left + cell_w * j as u32 + cell_w / 2,
            top - 8,
            escape(&cut(column, 13))
        );
    }
    for (i, row) in rows.iter().enumerate() {
        let y = top + cell_h * i as u32;
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            left - 6,
            y + cell_h / 2 + 4,
            escape(&cut(row, 26))
        );
        for (j, value) in values[i].iter().enumerate() {
            let shade = (value.abs() / max).clamp(0.0, 1.0);
            let light = (96.0 - 56.0 * shade).round();
            let _ = write!(
                out,
                "<rect class=\"mark\" x=\"{}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"hsl(220,70%,{light}%)\"><title>{} × {}: {}</title></rect><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" fill=\"{}\">{}</text>",
                left + cell_w * j as u32,
                cell_w - 2,
                cell_h - 2,
                escape(row),
                escape(&columns[j]),
                escape(&labels[i][j]),
                left + cell_w * j as u32 + cell_w / 2,
                y + cell_h / 2 + 3,
                if light < 60.0 { "#fff" } else { "#222" },
                escape(&labels[i][j])
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// A donut of shares (values summed to the whole), its legend beside it.
pub fn donut(title: &str, items: &[(String, f64)], format: &dyn Fn(f64) -> String) -> String {
    let (width, height) = (640u32, 60 + 20 * items.len().max(8) as u32);
    let mut out = String::new();
    open(&mut out, width, height, title);
    let total: f64 = items.iter().map(|i| i.1.max(0.0)).sum::<f64>().max(1e-12);
    let (cx, cy, r) =
        (130.0, 40.0 + (height as f64 - 40.0) / 2.0, 90.0f64.min((height as f64 - 50.0) / 2.0));
    let mut angle = -std::f64::consts::FRAC_PI_2;
    for (i, (label, value)) in items.iter().enumerate() {
        let share = value.max(0.0) / total;
        let sweep = share * std::f64::consts::TAU;
        let (a0, a1) = (angle, angle + sweep.min(std::f64::consts::TAU - 1e-6));
        let (x0, y0, x1, y1) =
            (cx + r * a0.cos(), cy + r * a0.sin(), cx + r * a1.cos(), cy + r * a1.sin());
        let large = if sweep > std::f64::consts::PI { 1 } else { 0 };
        let color = COLORS[i % COLORS.len()];
        let _ = write!(
            out,
            "<path class=\"mark\" d=\"M{cx:.1},{cy:.1} L{x0:.1},{y0:.1} A{r:.1},{r:.1} 0 {large} 1 {x1:.1},{y1:.1} Z\" fill=\"{color}\" stroke=\"#fff\"><title>{}: {:.1}%</title></path><rect x=\"270\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"286\" y=\"{}\">{} — {:.1}% ({})</text>",
            escape(label),
            100.0 * share,
            44 + 20 * i,
            53 + 20 * i,
            escape(&cut(label, 30)),
            100.0 * share,
            escape(&format(*value))
        );
        angle += sweep;
    }
    let _ = write!(out, "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"{:.1}\" fill=\"#fff\"/>", r * 0.55);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_marks_and_escaped_labels() {
        let items = vec![("<A & B>".to_owned(), 3.0), ("C".to_owned(), 1.0)];
        let f = |v: f64| format!("{v:.1}");
        for svg in [
            bars("t", &items, &f),
            donut("t", &items, &f),
            paired_bars("t", &["here", "all"], &[("x".into(), vec![0.2, 0.1])], &f),
            heatmap("t", &["r".into()], &["c".into()], &[vec![1.0]], &[vec!["1".into()]]),
            xy_lines("t", ("x <", "y"), &[("<A & B>".into(), vec![(0.0, 0.0), (1.0, 1.0)])], true),
            scatter("t", ("x", "y"), &[(1.0, 2.0), (2.0, 1.5)]),
            lines(
                "t",
                &[(
                    "s".into(),
                    vec![
                        (NaiveDate::from_ymd_opt(2022, 4, 1).unwrap(), 1.0),
                        (NaiveDate::from_ymd_opt(2022, 5, 1).unwrap(), 2.0),
                    ],
                )],
                &f,
            ),
        ] {
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
            assert!(svg.contains("class=\"mark\""));
            assert!(!svg.contains("<A &"));
        }
        assert!(
            lines(
                "t",
                &[("s".into(), vec![(NaiveDate::from_ymd_opt(2022, 4, 1).unwrap(), 1.0)])],
                &f
            )
            .contains("2022-04-01")
        );
    }
}
