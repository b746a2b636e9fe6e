//! The font every plot's text is measured and drawn with: DejaVu Sans, embedded in the binary
//! and registered with `plotters` as its "sans-serif", so plots come out the same on a machine
//! without fonts (a CI runner). Without a registered font, `plotters` cannot measure text and
//! draws no chart at all.

use std::sync::Once;

use plotters::style::FontStyle;

/// The family the plots' text asks for: the name the embedded font is registered under.
pub const SANS: &str = "sans-serif";

/// Registers the embedded font, once per process. Call before drawing.
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are a valid TrueType font, so this cannot fail; were it to, the plot
        // would be missing (its drawing returns None) rather than the command failing.
        let _ = plotters::style::register_font(SANS, FontStyle::Normal, dejavu::sans::regular());
    });
}
