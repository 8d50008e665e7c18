//! The comparison plot (plotters): quality against generation speed, one labelled point per
//! model, the marker's area proportional to its peak resident memory. Drawn as SVG and PNG;
//! the PNG's text uses DejaVu Sans from the `dejavu` crate, so no system font (or fontconfig)
//! is needed.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One model on the plot.
#[derive(Clone, Debug)]
pub struct Point {
    /// The model's name.
    pub label: String,
    /// Generation tokens/s.
    pub x: f64,
    /// Quality: bits per byte or perplexity (lower is better).
    pub y: f64,
    /// Peak resident set, bytes (the marker's area).
    pub rss_bytes: u64,
}

/// What to draw.
#[derive(Clone, Debug)]
pub struct Plot {
    /// The title.
    pub title: String,
    /// Horizontal axis.
    pub x_label: String,
    /// Vertical axis.
    pub y_label: String,
    /// A line under the title (what the marker sizes mean, the machine).
    pub caption: String,
    /// The models.
    pub points: Vec<Point>,
}

const SIZE: (u32, u32) = (1000, 680);
/// Radius of the largest marker, in pixels.
const MAX_RADIUS: f64 = 34.0;
const FONT: &str = "sans-serif";

/// Makes DejaVu Sans the `sans-serif` of the drawing backends (once per process).
fn register_font() -> Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the built-in DejaVu Sans font did not load"))
    }
}

/// Writes `plot` to `path` as SVG.
pub fn write_svg(plot: &Plot, path: &Path) -> Result<()> {
    write(plot, path, SVGBackend::new(path, SIZE).into_drawing_area())
}

/// Writes `plot` to `path` as PNG.
pub fn write_png(plot: &Plot, path: &Path) -> Result<()> {
    write(
        plot,
        path,
        BitMapBackend::new(path, SIZE).into_drawing_area(),
    )
}

fn write<DB: DrawingBackend>(plot: &Plot, path: &Path, root: DrawingArea<DB, Shift>) -> Result<()> {
    register_font()?;
    draw(plot, &root).map_err(|e| anyhow!("drawing {}: {e}", path.display()))?;
    root.present()
        .map_err(|e| anyhow!("writing {}: {e}", path.display()))
}

fn draw<DB: DrawingBackend>(
    plot: &Plot,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (title_area, rest) = root.split_vertically(64);
    title_area.draw(&Text::new(
        plot.title.as_str(),
        (20, 10),
        (FONT, 22).into_font().color(&BLACK),
    ))?;
    title_area.draw(&Text::new(
        plot.caption.as_str(),
        (20, 40),
        (FONT, 14).into_font().color(&RGBColor(90, 90, 90)),
    ))?;

    let (x_max, y_min, y_max) = ranges(&plot.points);
    let mut chart = ChartBuilder::on(&rest)
        .margin(20)
        .margin_right(40)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)?;
    chart
        .configure_mesh()
        .x_desc(plot.x_label.as_str())
        .y_desc(plot.y_label.as_str())
        .axis_desc_style((FONT, 16))
        .label_style((FONT, 13))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;

    let rss_max = plot
        .points
        .iter()
        .map(|p| p.rss_bytes)
        .max()
        .unwrap_or(1)
        .max(1);
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(255, 127, 14),
        RGBColor(23, 190, 207),
    ];
    for (i, p) in plot.points.iter().enumerate() {
        let color = palette[i % palette.len()];
        // Area ∝ RSS: the radius goes with its square root.
        let r = (MAX_RADIUS * (p.rss_bytes as f64 / rss_max as f64).sqrt()).max(3.0) as i32;
        // Labels of points on the right half go to their left, so they stay inside.
        let right_half = p.x > x_max * 0.55;
        let (dx, h) = if right_half {
            (-r - 6, HPos::Right)
        } else {
            (r + 6, HPos::Left)
        };
        let name_style = (FONT, 15)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(h, VPos::Bottom));
        let rss_style = (FONT, 13)
            .into_font()
            .color(&RGBColor(90, 90, 90))
            .pos(Pos::new(h, VPos::Top));
        chart.draw_series(std::iter::once(
            EmptyElement::at((p.x, p.y))
                + Circle::new((0, 0), r, color.mix(0.35).filled())
                + Circle::new((0, 0), r, color.stroke_width(2))
                + Text::new(p.label.clone(), (dx, -1), name_style)
                + Text::new(
                    format!("peak RSS {:.0} MiB", p.rss_bytes as f64 / (1024.0 * 1024.0)),
                    (dx, 1),
                    rss_style,
                ),
        ))?;
    }
    Ok(())
}

/// Axis ranges with room around the points: x from 0, y padded by 12 % of the spread.
fn ranges(points: &[Point]) -> (f64, f64, f64) {
    let x_max = points.iter().map(|p| p.x).fold(0.0, f64::max);
    let y_lo = points.iter().map(|p| p.y).fold(f64::INFINITY, f64::min);
    let y_hi = points.iter().map(|p| p.y).fold(f64::NEG_INFINITY, f64::max);
    if !y_lo.is_finite() {
        return (1.0, 0.0, 1.0);
    }
    let pad = ((y_hi - y_lo) * 0.12).max(y_hi.abs() * 0.05).max(1e-3);
    (
        if x_max > 0.0 { x_max * 1.15 } else { 1.0 },
        (y_lo - pad).max(0.0),
        y_hi + pad,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot() -> Plot {
        Plot {
            title: "quality against speed".into(),
            x_label: "generation tokens/s".into(),
            y_label: "bits per byte".into(),
            caption: "marker area ∝ peak RSS".into(),
            points: vec![
                Point {
                    label: "small & fast".into(),
                    x: 120.0,
                    y: 1.3,
                    rss_bytes: 130 << 20,
                },
                Point {
                    label: "large <slow>".into(),
                    x: 12.0,
                    y: 0.9,
                    rss_bytes: 1200 << 20,
                },
            ],
        }
    }

    #[test]
    fn svg_and_png_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("compare.svg");
        write_svg(&plot(), &svg).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.trim_start().starts_with("<svg") && text.trim_end().ends_with("</svg>"));
        // Labels are escaped, so the file stays well-formed XML.
        assert!(text.contains("large &lt;slow&gt;") && text.contains("small &amp; fast"));
        let png = dir.path().join("compare.png");
        write_png(&plot(), &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn ranges_hold_every_point() {
        let (x_max, y_lo, y_hi) = ranges(&plot().points);
        assert!(x_max > 120.0 && y_lo < 0.9 && y_hi > 1.3);
    }
}
