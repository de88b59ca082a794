//! SVG charts for the report (plotters, SVG backend only).

use plotters::prelude::*;

pub type ChartResult = Result<String, String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

/// Lines (name, points), optionally with the y = x diagonal.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    diagonal: bool,
) -> ChartResult {
    if series.iter().all(|(_, points)| points.is_empty()) {
        return Err("no data".into());
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let all = || series.iter().flat_map(|(_, p)| p.iter());
        let (mut x0, mut x1) = bounds(all().map(|p| p.0));
        let (mut y0, mut y1) = bounds(all().map(|p| p.1));
        if diagonal {
            (x0, y0) = (x0.min(y0), x0.min(y0));
            (x1, y1) = (x1.max(y1), x1.max(y1));
        }
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(err)?;
        if diagonal {
            chart
                .draw_series(LineSeries::new([(x0, x0), (x1, x1)], BLACK.mix(0.4)))
                .map_err(err)?;
        }
        for (i, (name, points)) in series.iter().enumerate() {
            let c = color(i);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], c.stroke_width(2)));
        }
        // Curves above the diagonal (ROC, calibration) leave the lower right free; rising
        // cumulative curves leave the upper left free.
        let corner =
            if diagonal { SeriesLabelPosition::LowerRight } else { SeriesLabelPosition::UpperLeft };
        chart
            .configure_series_labels()
            .position(corner)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Points, with the y = x diagonal.
pub fn scatter(title: &str, x_label: &str, y_label: &str, points: &[(f64, f64)]) -> ChartResult {
    if points.is_empty() {
        return Err("no data".into());
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (lo, hi) = bounds(points.iter().flat_map(|p| [p.0, p.1]));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..hi, lo..hi)
            .map_err(err)?;
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(err)?;
        chart.draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.4))).map_err(err)?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 2, color(0).mix(0.5).filled())))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A heat map of `values[row][column]`, each cell labelled with `labels[row][column]`.
pub fn heatmap(
    title: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<f64>],
    labels: &[Vec<String>],
) -> ChartResult {
    if rows.is_empty() || columns.is_empty() {
        return Err("no data".into());
    }
    let mut svg = String::new();
    {
        let cell = (90u32, 24u32);
        let (left, top) = (170u32, 70u32);
        let size =
            (left + cell.0 * columns.len() as u32 + 20, top + cell.1 * rows.len() as u32 + 20);
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        root.draw(&Text::new(title, (10, 10), ("sans-serif", 18).into_font())).map_err(err)?;
        let max = values.iter().flatten().copied().fold(0.0f64, f64::max).max(1e-12);
        for (j, c) in columns.iter().enumerate() {
            let x = (left + cell.0 * j as u32 + 4) as i32;
            root.draw(&Text::new(c.clone(), (x, 48), ("sans-serif", 11).into_font()))
                .map_err(err)?;
        }
        for (i, r) in rows.iter().enumerate() {
            let y = (top + cell.1 * i as u32) as i32;
            root.draw(&Text::new(r.clone(), (10, y + 6), ("sans-serif", 11).into_font()))
                .map_err(err)?;
            for (j, v) in values[i].iter().enumerate() {
                let x = (left + cell.0 * j as u32) as i32;
                let shade = (v / max).clamp(0.0, 1.0);
                let fill =
                    RGBColor((255.0 - 200.0 * shade) as u8, (255.0 - 120.0 * shade) as u8, 255);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell.0 as i32 - 2, y + cell.1 as i32 - 2)],
                    fill.filled(),
                ))
                .map_err(err)?;
                root.draw(&Text::new(
                    labels[i][j].clone(),
                    (x + 4, y + 6),
                    ("sans-serif", 11).into_font(),
                ))
                .map_err(err)?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}
