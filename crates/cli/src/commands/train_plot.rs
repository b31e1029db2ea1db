//! The loss curve of `text2sql train` as a PNG (plotters, DejaVu Sans compiled in, so it
//! renders the same on a machine without system fonts).

use anyhow::{anyhow, Result};
use plotters::prelude::*;
use std::path::Path;

/// Training loss per step (raw, light) with its moving average, and validation loss points.
pub fn loss_curve_png(path: &Path, title: &str, train: &[(usize, f64)], val: &[(usize, f64)]) -> Result<()> {
    static FONT: std::sync::Once = std::sync::Once::new();
    FONT.call_once(|| {
        // Fails only if the bytes are not a font: then text is left out, the curve still drawn.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
    if train.is_empty() {
        return Err(anyhow!("no training steps to plot"));
    }
    let err = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let root = BitMapBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let max_step = train.iter().chain(val).map(|p| p.0).max().unwrap_or(1).max(1);
    let ys = train.iter().chain(val).map(|p| p.1).filter(|y| y.is_finite());
    let y_max = ys.clone().fold(f64::MIN, f64::max).max(1e-3) * 1.05;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0usize..max_step, 0f64..y_max)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("optimizer step")
        .y_desc("loss per SQL token")
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(|e| err(&e))?;
    let raw = RGBColor(59, 91, 219).mix(0.25);
    chart.draw_series(LineSeries::new(train.iter().copied(), raw)).map_err(|e| err(&e))?;
    // Moving average over ~2% of the run (at least 5 steps).
    let w = (train.len() / 50).max(5);
    let smooth: Vec<(usize, f64)> = train
        .iter()
        .enumerate()
        .map(|(i, &(s, _))| {
            let lo = i.saturating_sub(w - 1);
            let win = &train[lo..=i];
            (s, win.iter().map(|p| p.1).sum::<f64>() / win.len() as f64)
        })
        .collect();
    chart
        .draw_series(LineSeries::new(smooth, RGBColor(59, 91, 219).stroke_width(2)))
        .map_err(|e| err(&e))?
        .label(format!("train (mean of {w} steps)"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(59, 91, 219).stroke_width(2)));
    if !val.is_empty() {
        let red = RGBColor(201, 42, 42);
        chart.draw_series(LineSeries::new(val.iter().copied(), red.stroke_width(2))).map_err(|e| err(&e))?;
        chart
            .draw_series(val.iter().map(|&p| Circle::new(p, 4, red.filled())))
            .map_err(|e| err(&e))?
            .label("validation")
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, red.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
