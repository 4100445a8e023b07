//! SVG bar charts of the ratios in the report (no dependencies: the charts
//! are simple enough to write as text).

use std::fmt::Write as _;

/// One series: a configuration, its colour and one ratio per row.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub values: Vec<Option<f64>>,
}

/// Colours for up to six series (colour-blind friendly palette).
pub const PALETTE: [&str; 6] = ["#0072B2", "#56B4E9", "#E69F00", "#009E73", "#CC79A7", "#D55E00"];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A horizontal grouped bar chart: one group per row label, one bar per
/// series, a reference line at ratio 1.0 (the baseline).
pub fn ratio_chart(title: &str, baseline: &str, rows: &[String], series: &[Series]) -> String {
    const LABEL_W: f64 = 110.0;
    const PLOT_W: f64 = 520.0;
    const BAR_H: f64 = 9.0;
    const GROUP_GAP: f64 = 8.0;
    const TOP: f64 = 48.0;
    let max = series.iter().flat_map(|s| s.values.iter().flatten()).fold(1.0f64, |a, &b| a.max(b)).ceil().max(1.0);
    let group_h = BAR_H * series.len() as f64 + GROUP_GAP;
    let legend_h = 18.0 * series.len() as f64;
    let height = TOP + group_h * rows.len() as f64 + 30.0 + legend_h;
    let width = LABEL_W + PLOT_W + 60.0;
    let x_of = |v: f64| LABEL_W + v / max * PLOT_W;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{LABEL_W}" y="18" font-size="14" font-weight="bold">{}</text>"#, escape(title));
    let _ = writeln!(
        s,
        r#"<text x="{LABEL_W}" y="34" fill="dimgray">ratio to {} (lower is better)</text>"#,
        escape(baseline)
    );
    // Grid: one line per integer ratio.
    let plot_bottom = TOP + group_h * rows.len() as f64;
    for tick in 0..=(max as u32) {
        let x = x_of(tick as f64);
        let stroke = if tick == 1 { "#000" } else { "#ddd" };
        let _ = writeln!(s, r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{plot_bottom}" stroke="{stroke}"/>"#);
        let _ = writeln!(s, r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{tick}×</text>"#, plot_bottom + 14.0);
    }
    for (r, label) in rows.iter().enumerate() {
        let y0 = TOP + group_h * r as f64;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LABEL_W - 6.0,
            y0 + BAR_H * series.len() as f64 / 2.0 + 4.0,
            escape(label)
        );
        for (k, series) in series.iter().enumerate() {
            let Some(v) = series.values.get(r).copied().flatten() else {
                continue;
            };
            let y = y0 + BAR_H * k as f64;
            let _ = writeln!(
                s,
                r#"<rect x="{LABEL_W}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {v:.2}×</title></rect>"#,
                x_of(v) - LABEL_W,
                BAR_H - 1.0,
                series.color,
                escape(&series.name)
            );
            let _ =
                writeln!(s, r#"<text x="{:.1}" y="{:.1}" font-size="8">{v:.2}</text>"#, x_of(v) + 3.0, y + BAR_H - 2.0);
        }
    }
    for (k, series) in series.iter().enumerate() {
        let y = plot_bottom + 30.0 + 18.0 * k as f64;
        let _ =
            writeln!(s, r#"<rect x="{LABEL_W}" y="{:.1}" width="12" height="12" fill="{}"/>"#, y - 10.0, series.color);
        let _ = writeln!(s, r#"<text x="{:.1}" y="{y:.1}">{}</text>"#, LABEL_W + 18.0, escape(&series.name));
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_is_well_formed_and_skips_missing_values() {
        let rows = vec!["a<b".to_string(), "geomean".to_string()];
        let series = vec![
            Series { name: "x".into(), color: PALETTE[0], values: vec![Some(2.5), None] },
            Series { name: "y&z".into(), color: PALETTE[1], values: vec![Some(0.5), Some(1.0)] },
        ];
        let svg = ratio_chart("t", "base", &rows, &series);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<title>").count(), 3, "one bar per present value");
        assert!(svg.contains("a&lt;b") && svg.contains("y&amp;z"));
        // Axis runs to the next integer above the largest ratio: 0..=3.
        assert!(svg.contains(">3×<") && !svg.contains(">4×<"));
    }
}
