//! One drawing, two files: a plot drawn once against `plotters`' backend trait is rendered as
//! SVG (text measured with the embedded font of [`crate::base::fonts`]) and as a PNG (the bitmap
//! backend, encoded with `image`), so `explore`'s trade-off plot and `load`'s latency curve look
//! the same on any machine.

use image::ImageEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Something drawn onto any backend; None when the backend fails.
pub trait Drawing {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Option<()>;
}

/// The drawing as an SVG document, `width` by `height` user units.
pub fn svg(drawing: &impl Drawing, width: u32, height: u32) -> Option<String> {
    crate::base::fonts::register();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        drawing.draw(&root)?;
    }
    Some(svg)
}

/// The drawing as a PNG image, `width` by `height` pixels.
pub fn png(drawing: &impl Drawing, width: u32, height: u32) -> Option<Vec<u8>> {
    crate::base::fonts::register();
    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        drawing.draw(&root)?;
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&rgb, width, height, image::ExtendedColorType::Rgb8)
        .ok()?;
    Some(png)
}
