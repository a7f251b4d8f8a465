//! Plots for the examples: line charts with min–max bands, and grids of grey images.
//!
//! ```
//! use course::plot::{save_gray_grid, Legend, LinePlot};
//! # let dir = std::env::temp_dir().join(format!("course-plot-doc-{}", std::process::id()));
//! let steps = [1, 2, 3, 4];
//! let (mean_loss, min_loss, max_loss) = ([1.0, 0.5, 0.3, 0.2], [0.9, 0.4, 0.2, 0.1], [1.1, 0.6, 0.4, 0.3]);
//! // One curve per run, with the spread over seeds as a translucent band of the same colour.
//! LinePlot::new("Training loss", "step", "MSE")
//!     .log_y()
//!     .series("softmax", &steps, &mean_loss)
//!     .band("softmax", &steps, &min_loss, &max_loss)
//!     .legend(Legend::UpperRight)
//!     .save(dir.join("loss"))?; // writes loss.png and loss.svg
//! // MNIST-like digits, one row per model (rows may have different lengths).
//! let (original, reconstruction) = (vec![0.0f32; 784], vec![0.5f32; 784]);
//! save_gray_grid(dir.join("digits"), &[vec![&original[..]], vec![&reconstruction[..]]], 28, 28)?;
//! assert!(dir.join("loss.png").is_file() && dir.join("digits.png").is_file());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - Text is drawn with DejaVu Sans compiled into the binary (plotters' `ab_glyph`
//!   backend), so a machine without system fonts still renders labels. Any extra text
//!   drawn with plotters directly must use the family `"sans-serif"`, the only one
//!   registered.
//! - PNGs are encoded with the `png` crate from plotters' RGB buffer (no `image` crate,
//!   which would double the build time of every example).
//! - Data are taken as any of `f32`, `f64`, `usize`, `u32`, `u64`, `i32`, `i64` slices.
//!   Points that are not finite — or not positive on a log axis — are left out (a
//!   diverged run does not break the plot); a series with no plottable point is skipped.
//! - Every name gets one colour: a band with the same name as a series shares its colour
//!   and legend entry; a band without a series gets its own entry.
//! - `save` creates missing parent directories, and every file is replaced atomically
//!   (encoded in memory, then written through `ferrograd::nn::atomic`): a run killed while
//!   plotting never leaves half a figure.

use std::error::Error;
use std::fmt;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Once;

use ferrograd::nn::atomic::{self, Durability};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The error of every function here: a message naming the file or the plotting step.
#[derive(Debug)]
pub struct PlotError(pub String);

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for PlotError {}

fn err(context: &str, e: impl fmt::Display) -> PlotError {
    PlotError(format!("{context}: {e}"))
}

/// A number that can be plotted.
pub trait PlotNum: Copy {
    /// The value as `f64`.
    fn to_f64(self) -> f64;
}

macro_rules! plot_num {
    ($($t:ty),*) => {$(
        impl PlotNum for $t {
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}
plot_num!(f32, f64, usize, u32, u64, i32, i64);

/// Where the legend box goes.
#[derive(Clone, Copy, Debug, Default)]
pub enum Legend {
    #[default]
    UpperRight,
    UpperLeft,
    LowerRight,
    LowerLeft,
    /// No legend box.
    Hidden,
}

/// The "tab10" palette: distinguishable, and also in grey-scale print order.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const FONT: &str = "sans-serif";

/// Registers the bundled font once per process; plotters' `ab_glyph` backend draws no text
/// at all (it errors) for a family nobody registered.
fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TTF shipped by the `dejavu` crate, so these cannot fail.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

struct Line {
    name: String,
    points: Vec<(f64, f64)>,
    dots: bool,
}

struct Band {
    name: String,
    /// (x, lo, hi)
    points: Vec<(f64, f64, f64)>,
}

/// A line chart: series drawn as lines with a dot per point, optional translucent bands,
/// optional log axes, a legend. Build it with the chained methods, then [`save`](Self::save).
pub struct LinePlot {
    title: String,
    x_label: String,
    y_label: String,
    log_x: bool,
    log_y: bool,
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
    size: (u32, u32),
    legend: Legend,
    lines: Vec<Line>,
    bands: Vec<Band>,
    hlines: Vec<(String, f64)>,
}

impl LinePlot {
    /// An empty 900×600 chart with linear axes and the legend at the upper right.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        LinePlot {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            x_range: None,
            y_range: None,
            size: (900, 600),
            legend: Legend::default(),
            lines: Vec::new(),
            bands: Vec::new(),
            hlines: Vec::new(),
        }
    }

    /// Logarithmic x axis (non-positive x are dropped).
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }

    /// Logarithmic y axis (non-positive y are dropped).
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// Fixes the x range instead of fitting the data.
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }

    /// Fixes the y range instead of fitting the data.
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// Image size in pixels (PNG) or user units (SVG).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// Where the legend goes.
    pub fn legend(mut self, at: Legend) -> Self {
        self.legend = at;
        self
    }

    /// A curve y(x), drawn as a line with a dot at each point. Panics if the lengths differ.
    #[track_caller]
    pub fn series<X: PlotNum, Y: PlotNum>(
        mut self,
        name: impl Into<String>,
        xs: &[X],
        ys: &[Y],
    ) -> Self {
        let name = name.into();
        assert_eq!(
            xs.len(),
            ys.len(),
            "LinePlot::series `{name}`: {} xs but {} ys",
            xs.len(),
            ys.len()
        );
        let points = xs
            .iter()
            .zip(ys)
            .map(|(x, y)| (x.to_f64(), y.to_f64()))
            .collect();
        self.lines.push(Line {
            name,
            points,
            dots: true,
        });
        self
    }

    /// Like [`series`](Self::series) but without dots (a dense curve, a fitted line).
    #[track_caller]
    pub fn line<X: PlotNum, Y: PlotNum>(
        mut self,
        name: impl Into<String>,
        xs: &[X],
        ys: &[Y],
    ) -> Self {
        self = self.series(name, xs, ys);
        self.lines.last_mut().expect("just pushed").dots = false;
        self
    }

    /// A translucent band between `lo(x)` and `hi(x)` (e.g. min and max over seeds), in
    /// the colour of the series of the same name if there is one. Panics if the lengths
    /// differ.
    #[track_caller]
    pub fn band<X: PlotNum, Y: PlotNum>(
        mut self,
        name: impl Into<String>,
        xs: &[X],
        lo: &[Y],
        hi: &[Y],
    ) -> Self {
        let name = name.into();
        assert!(
            xs.len() == lo.len() && xs.len() == hi.len(),
            "LinePlot::band `{name}`: {} xs, {} lo, {} hi",
            xs.len(),
            lo.len(),
            hi.len()
        );
        let points = xs
            .iter()
            .zip(lo.iter().zip(hi))
            .map(|(x, (l, h))| (x.to_f64(), l.to_f64(), h.to_f64()))
            .collect();
        self.bands.push(Band { name, points });
        self
    }

    /// A horizontal reference line across the whole chart, dashed-looking grey with a label.
    pub fn hline(mut self, name: impl Into<String>, y: f64) -> Self {
        self.hlines.push((name.into(), y));
        self
    }

    /// Writes `<path>.png` and `<path>.svg` (creating parent directories) and returns
    /// both paths. `path` is taken without extension; a dot in the stem is kept.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<[PathBuf; 2], PlotError> {
        ensure_font();
        let base = path.as_ref();
        create_parent(base)?;
        let png = with_ext(base, "png");
        let svg = with_ext(base, "svg");

        let (w, h) = self.size;
        let mut buf = vec![0u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
            self.draw_any(&root)
                .map_err(|e| err(&format!("drawing {}", png.display()), e))?;
            root.present()
                .map_err(|e| err(&format!("drawing {}", png.display()), e))?;
        }
        write_png(&png, &buf, w, h, png::ColorType::Rgb)?;

        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
            self.draw_any(&root)
                .map_err(|e| err(&format!("drawing {}", svg.display()), e))?;
            root.present()
                .map_err(|e| err(&format!("drawing {}", svg.display()), e))?;
        }
        write_whole(&svg, text.as_bytes())?;
        Ok([png, svg])
    }

    /// The finite (and, on log axes, positive) data, after per-axis filtering.
    fn ok_x(&self, x: f64) -> bool {
        x.is_finite() && (!self.log_x || x > 0.0)
    }

    fn ok_y(&self, y: f64) -> bool {
        y.is_finite() && (!self.log_y || y > 0.0)
    }

    fn data_range(&self) -> (Range<f64>, Range<f64>) {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for l in &self.lines {
            for &(x, y) in &l.points {
                if self.ok_x(x) && self.ok_y(y) {
                    xs.push(x);
                    ys.push(y);
                }
            }
        }
        for b in &self.bands {
            for &(x, lo, hi) in &b.points {
                if self.ok_x(x) && self.ok_y(lo) && self.ok_y(hi) {
                    xs.push(x);
                    ys.extend([lo, hi]);
                }
            }
        }
        for &(_, y) in &self.hlines {
            if self.ok_y(y) {
                ys.push(y);
            }
        }
        let x = self
            .x_range
            .map(|(a, b)| a..b)
            .unwrap_or_else(|| pad(&xs, self.log_x, 0.02));
        let y = self
            .y_range
            .map(|(a, b)| a..b)
            .unwrap_or_else(|| pad(&ys, self.log_y, 0.06));
        (x, y)
    }

    fn draw_any<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<(), Box<dyn Error>>
    where
        DB::ErrorType: 'static,
    {
        let (x, y) = self.data_range();
        let xs = (x.start, x.end);
        match (self.log_x, self.log_y) {
            (false, false) => self.draw(root, xs, x, y),
            (true, false) => self.draw(root, xs, x.log_scale(), y),
            (false, true) => self.draw(root, xs, x, y.log_scale()),
            (true, true) => self.draw(root, xs, x.log_scale(), y.log_scale()),
        }
    }

    fn draw<DB, XS, YS>(
        &self,
        root: &DrawingArea<DB, Shift>,
        (x_lo, x_hi): (f64, f64),
        x_spec: XS,
        y_spec: YS,
    ) -> Result<(), Box<dyn Error>>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
        XS: AsRangedCoord<Value = f64>,
        YS: AsRangedCoord<Value = f64>,
        XS::CoordDescType: ValueFormatter<f64>,
        YS::CoordDescType: ValueFormatter<f64>,
    {
        root.fill(&WHITE)?;
        // Title and y-axis name are laid out by hand: the ab_glyph text backend cannot draw
        // rotated text, so the y name sits horizontally above the axis instead of beside it.
        let (w, _) = root.dim_in_pixel();
        let title = TextStyle::from((FONT, 22).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(self.title.clone(), (w as i32 / 2, 8), title))?;
        let y_name = TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Left, VPos::Top));
        root.draw(&Text::new(self.y_label.clone(), (14, 40), y_name))?;
        let area = root.margin(64, 12, 12, 20);
        let (x, y) = self.data_range();
        let decades =
            |log: bool, r: std::ops::Range<f64>| if log { (r.end / r.start).log10() } else { 0.0 };
        let (x_decades, y_decades) = (
            decades(self.log_x, x.clone()),
            decades(self.log_y, y.clone()),
        );
        let (x_span, y_span) = (x.end - x.start, y.end - y.start);
        let mut chart = ChartBuilder::on(&area)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(x_spec, y_spec)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .x_label_formatter(&|v| axis_tick(*v, x_decades, x_span))
            .y_label_formatter(&|v| axis_tick(*v, y_decades, y_span))
            .light_line_style(RGBColor(244, 244, 244))
            .bold_line_style(RGBColor(210, 210, 210))
            .draw()?;

        // One colour per distinct name, in order of first appearance.
        let mut names: Vec<&str> = Vec::new();
        for n in self
            .lines
            .iter()
            .map(|l| &l.name)
            .chain(self.bands.iter().map(|b| &b.name))
        {
            if !names.contains(&n.as_str()) {
                names.push(n);
            }
        }
        let colour = |name: &str| {
            PALETTE[names.iter().position(|n| *n == name).unwrap_or(0) % PALETTE.len()]
        };

        // Bands first so lines stay on top.
        for b in &self.bands {
            let pts: Vec<_> = b
                .points
                .iter()
                .filter(|&&(x, l, h)| self.ok_x(x) && self.ok_y(l) && self.ok_y(h))
                .copied()
                .collect();
            if pts.is_empty() {
                continue;
            }
            let c = colour(&b.name);
            let mut poly: Vec<(f64, f64)> = pts.iter().map(|&(x, _, h)| (x, h)).collect();
            poly.extend(pts.iter().rev().map(|&(x, l, _)| (x, l)));
            let drawn =
                chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.22).filled())))?;
            if !self.lines.iter().any(|l| l.name == b.name) {
                drawn
                    .label(format!("{} (range)", b.name))
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 20, y + 6)], c.mix(0.3).filled())
                    });
            }
        }

        for &(ref name, y) in &self.hlines {
            if !self.ok_y(y) {
                continue;
            }
            let grey = RGBColor(90, 90, 90);
            // Short segments with gaps read as a dashed reference line in both backends.
            let n = 60;
            let segs = (0..n).step_by(2).map(move |i| {
                let t0 = i as f64 / n as f64;
                let t1 = (i + 1) as f64 / n as f64;
                let at = |t: f64| {
                    if self.log_x {
                        (x_lo.ln() + t * (x_hi.ln() - x_lo.ln())).exp()
                    } else {
                        x_lo + t * (x_hi - x_lo)
                    }
                };
                PathElement::new(vec![(at(t0), y), (at(t1), y)], grey.stroke_width(1))
            });
            chart
                .draw_series(segs)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(1))
                });
        }

        for l in &self.lines {
            let pts: Vec<(f64, f64)> = l
                .points
                .iter()
                .filter(|&&(x, y)| self.ok_x(x) && self.ok_y(y))
                .copied()
                .collect();
            if pts.is_empty() {
                continue;
            }
            let c = colour(&l.name);
            let dots = l.dots;
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))?
                .label(l.name.clone())
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (20, 0)], c.stroke_width(2))
                        + Circle::new((10, 0), if dots { 3 } else { 0 }, c.filled())
                });
            if dots {
                chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
            }
        }

        let position = match self.legend {
            Legend::UpperRight => SeriesLabelPosition::UpperRight,
            Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
            Legend::LowerRight => SeriesLabelPosition::LowerRight,
            Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
            Legend::Hidden => return Ok(()),
        };
        chart
            .configure_series_labels()
            .position(position)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(160, 160, 160))
            .draw()?;
        Ok(())
    }
}

/// The data's span widened by `frac` on each side (multiplicatively on a log axis); a
/// degenerate or empty span is opened up so plotters always gets a valid range. A log
/// axis starts at a power of ten: plotters places its ticks upwards from the first power
/// of ten inside the range, so data between the lower end and that power would get none.
fn pad(values: &[f64], log: bool, frac: f64) -> Range<f64> {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return if log { 0.1..10.0 } else { 0.0..1.0 };
    }
    if log {
        let (a, b) = (lo.log10(), hi.log10());
        let span = if b > a { b - a } else { 1.0 };
        10f64.powf((a - frac * span).floor())..10f64.powf(b + frac * span)
    } else {
        let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
        (lo - frac * span)..(hi + frac * span)
    }
}

/// One tick label. On a log axis (`decades` > 0) plotters puts a tick at every 1..9 × 10ᵏ,
/// and over more than a decade and a half their labels collide: keep 1, 2, 5 × 10ᵏ up to
/// three decades and only powers of ten beyond. On a linear axis plotters computes the
/// ticks by repeated addition, so the one at zero can come out as -2.78e-17: anything
/// within a billionth of the axis `span` of zero is labelled 0.
fn axis_tick(v: f64, decades: f64, span: f64) -> String {
    if decades == 0.0 && v.abs() <= 1e-9 * span.abs() {
        return "0".into();
    }
    if decades >= 1.5 && v > 0.0 {
        let mantissa = v / 10f64.powf(v.log10().floor());
        let keep: &[f64] = if decades >= 3.0 {
            &[1.0]
        } else {
            &[1.0, 2.0, 5.0]
        };
        if !keep.iter().any(|k| (mantissa - k).abs() < 1e-6 * k) && (mantissa - 10.0).abs() > 1e-5 {
            return String::new();
        }
    }
    tick(v)
}

/// Short tick labels: plain decimals in [1e-3, 1e5), otherwise `1e-4` style.
fn tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if (1e-3..1e5).contains(&a) {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        let s = format!("{v:.2e}");
        // 1.00e-4 -> 1e-4, 2.50e6 -> 2.5e6
        match s.split_once('e') {
            Some((m, e)) => format!("{}e{}", m.trim_end_matches('0').trim_end_matches('.'), e),
            None => s,
        }
    }
}

/// `base` with `.ext` appended (not replacing anything after a dot in the stem).
fn with_ext(base: &Path, ext: &str) -> PathBuf {
    if base.extension().is_some_and(|e| e == ext) {
        return base.to_path_buf();
    }
    let mut s = base.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn create_parent(path: &Path) -> Result<(), PlotError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            fs::create_dir_all(dir).map_err(|e| err(&format!("creating {}", dir.display()), e))
        }
        _ => Ok(()),
    }
}

/// Encodes `data` as a PNG in memory and writes it with [`write_whole`].
fn write_png(
    path: &Path,
    data: &[u8],
    w: u32,
    h: u32,
    colour: png::ColorType,
) -> Result<(), PlotError> {
    let ctx = format!("encoding {}", path.display());
    let mut bytes = Vec::new();
    let mut enc = png::Encoder::new(&mut bytes, w, h);
    enc.set_color(colour);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| err(&ctx, e))?;
    writer.write_image_data(data).map_err(|e| err(&ctx, e))?;
    writer.finish().map_err(|e| err(&ctx, e))?;
    write_whole(path, &bytes)
}

/// Replaces the file at `path` with `bytes` atomically: a run killed while plotting
/// leaves the previous figure or none, never half of one, and no temporary file that
/// outlives the next write into the folder (see `ferrograd::nn::atomic`).
fn write_whole(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    atomic::write(path, bytes, Durability::ProcessCrash)
        .map_err(|e| err(&format!("writing {}", path.display()), e))
}

/// How [`save_gray_grid_with`] maps pixel values to grey levels.
#[derive(Clone, Copy, Debug, Default)]
pub enum GrayScale {
    /// Values clamped to [0, 1], 0 black, 1 white (MNIST pixels, reconstructions).
    #[default]
    Clamp01,
    /// Each image stretched from its own min (black) to max (white): weights, PCA
    /// components, anything signed or of arbitrary scale.
    PerImage,
}

/// Writes a grid of `height × width` grey images as `<path>.png` (creating parent
/// directories; `.png` is added unless already there) and returns the path.
///
/// `rows[r][c]` is one row-major image of `height * width` values in [0, 1] (clamped).
/// Rows may differ in length; missing cells are left as background. Each pixel becomes a
/// 3×3 block and images are separated by a 4-pixel mid-grey gap, so digits are legible at
/// normal zoom. Panics if an image has the wrong number of values.
///
/// ```
/// # use course::plot::save_gray_grid;
/// # let path = std::env::temp_dir().join(format!("course-grid-doc-{}", std::process::id()));
/// let batch = vec![0.25f32; 3 * 784]; // three 28×28 images, row-major
/// let originals: Vec<&[f32]> = batch.chunks(784).collect();
/// let written = save_gray_grid(&path, &[originals], 28, 28)?;
/// assert_eq!(written.extension().unwrap(), "png");
/// # std::fs::remove_file(written)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[track_caller]
pub fn save_gray_grid(
    path: impl AsRef<Path>,
    rows: &[Vec<&[f32]>],
    height: usize,
    width: usize,
) -> Result<PathBuf, PlotError> {
    save_gray_grid_with(path, rows, height, width, GrayScale::Clamp01)
}

/// [`save_gray_grid`] with a choice of grey mapping.
#[track_caller]
pub fn save_gray_grid_with(
    path: impl AsRef<Path>,
    rows: &[Vec<&[f32]>],
    height: usize,
    width: usize,
    scale: GrayScale,
) -> Result<PathBuf, PlotError> {
    const ZOOM: usize = 3;
    const GAP: usize = 4;
    const BACKGROUND: u8 = 128;
    let path = with_ext(path.as_ref(), "png");
    let n_rows = rows.len().max(1);
    let n_cols = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let img_w = n_cols * width * ZOOM + (n_cols + 1) * GAP;
    let img_h = n_rows * height * ZOOM + (n_rows + 1) * GAP;
    let mut pixels = vec![BACKGROUND; img_w * img_h];
    for (r, row) in rows.iter().enumerate() {
        for (c, img) in row.iter().enumerate() {
            assert_eq!(
                img.len(),
                height * width,
                "save_gray_grid: image ({r}, {c}) has {} values, expected {height}×{width}",
                img.len()
            );
            let (lo, hi) = match scale {
                GrayScale::Clamp01 => (0.0, 1.0),
                GrayScale::PerImage => {
                    let lo = img
                        .iter()
                        .copied()
                        .filter(|v| v.is_finite())
                        .fold(f32::INFINITY, f32::min);
                    let hi = img
                        .iter()
                        .copied()
                        .filter(|v| v.is_finite())
                        .fold(f32::NEG_INFINITY, f32::max);
                    if hi > lo {
                        (lo, hi)
                    } else {
                        (lo - 1.0, lo + 1.0)
                    }
                }
            };
            let x0 = GAP + c * (width * ZOOM + GAP);
            let y0 = GAP + r * (height * ZOOM + GAP);
            for i in 0..height {
                for j in 0..width {
                    let v = img[i * width + j];
                    let t = if v.is_finite() {
                        ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let g = (t * 255.0).round() as u8;
                    for dy in 0..ZOOM {
                        let start = (y0 + i * ZOOM + dy) * img_w + x0 + j * ZOOM;
                        pixels[start..start + ZOOM].fill(g);
                    }
                }
            }
        }
    }
    create_parent(&path)?;
    write_png(
        &path,
        &pixels,
        img_w as u32,
        img_h as u32,
        png::ColorType::Grayscale,
    )?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folder's entries, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn figures_replace_the_old_files_whole_and_clear_a_dead_writers_temporary() {
        let dir = tempfile::tempdir().unwrap();
        // A plot writer killed midway left its temporary; an older run left its figures.
        fs::write(dir.path().join(".ferrograd-dead.tmp"), b"half a png").unwrap();
        for old in ["loss.png", "loss.svg", "digits.png"] {
            fs::write(dir.path().join(old), b"old").unwrap();
        }
        LinePlot::new("loss", "step", "MSE")
            .series("run", &[1, 2, 3], &[3.0, 2.0, 1.0])
            .save(dir.path().join("loss"))
            .unwrap();
        save_gray_grid(dir.path().join("digits"), &[vec![&[0.5f32; 4][..]]], 2, 2).unwrap();
        assert_eq!(names(dir.path()), ["digits.png", "loss.png", "loss.svg"]);
        for png in ["digits.png", "loss.png"] {
            let bytes = fs::read(dir.path().join(png)).unwrap();
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{png}");
            assert!(bytes.ends_with(b"IEND\xaeB`\x82"), "{png} is cut short");
        }
        let svg = fs::read_to_string(dir.path().join("loss.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn a_figure_that_cannot_be_written_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the figure should go: the rename onto it fails.
        fs::create_dir(dir.path().join("loss.png")).unwrap();
        let e = LinePlot::new("loss", "step", "MSE")
            .series("run", &[1, 2], &[2.0, 1.0])
            .save(dir.path().join("loss"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("writing ") && e.contains("loss.png"), "{e}");
        assert_eq!(
            names(dir.path()),
            ["loss.png"],
            "a temporary was left behind"
        );
    }

    #[test]
    fn a_linear_tick_that_misses_zero_by_rounding_is_labelled_zero() {
        // -0.2 + 2 × 0.1 in floating point, on an axis 0.6 wide.
        assert_eq!(axis_tick(-2.7755575615628914e-17, 0.0, 0.6), "0");
        assert_eq!(axis_tick(0.1, 0.0, 0.6), "0.1");
        // A genuinely small value on a genuinely small axis keeps its label.
        assert_eq!(axis_tick(3e-17, 0.0, 1e-16), "3e-17");
    }

    #[test]
    fn a_log_axis_labels_every_mantissa_over_one_decade_and_thins_out_beyond() {
        assert_eq!(axis_tick(30.0, 1.1, 300.0), "30");
        assert_eq!(axis_tick(30.0, 2.0, 1e3), "");
        assert_eq!(axis_tick(50.0, 2.0, 1e3), "50");
        assert_eq!(axis_tick(50.0, 4.0, 1e5), "");
        assert_eq!(axis_tick(100.0, 4.0, 1e5), "100");
    }

    #[test]
    fn a_log_axis_starts_at_a_power_of_ten() {
        let r = super::pad(&[16.0, 350.0], true, 0.06);
        assert_eq!(r.start, 10.0);
        assert!(r.end > 350.0);
        let r = super::pad(&[0.02, 3.0], true, 0.06);
        assert!((r.start - 0.01).abs() < 1e-15, "{r:?}");
    }
}
