//! The CLI's progress bar for `sync` on a terminal: actions done of those
//! planned, and the throttled attempts seen so far. Drawn on standard error,
//! only when it is a terminal.

use std::io::IsTerminal;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::pool::settings::Progress;

pub struct Bar(ProgressBar);

impl Bar {
    /// A bar on standard error, if it is a terminal.
    pub fn on_terminal() -> Option<Arc<Self>> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} actions {msg}")
                .expect("a valid template")
                .progress_chars("=> ");
        bar.set_style(style);
        Some(Arc::new(Self(bar)))
    }

    pub fn finish(&self) {
        self.0.finish();
    }
}

impl Progress for Bar {
    fn planned(&self, actions: u64) {
        self.0.inc_length(actions);
    }

    fn done(&self, throttled: u64) {
        self.0.inc(1);
        if throttled > 0 {
            self.0.set_message(format!("({throttled} throttled)"));
        }
    }
}
