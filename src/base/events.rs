//! What a stage tells the command while it works. Stages never print: they send [`Event`]s to
//! the callback the command gave them, and the command shows them (a bar at a terminal, a line
//! per tenth in a log, each note as a line).

/// One thing a stage reports.
pub enum Event<'a> {
    /// `done` of `target` runs (or samples) of the phase `label`.
    Progress {
        label: &'a str,
        done: u64,
        target: u64,
    },
    /// A line for the person watching: what is about to be timed, a warning.
    Note(&'a str),
}

/// Where a stage sends its events.
pub type Progress<'a> = &'a mut dyn FnMut(Event<'_>);

/// Reports `done` of `target` of the phase `label`.
pub fn report(progress: &mut dyn FnMut(Event<'_>), label: &str, done: u64, target: u64) {
    progress(Event::Progress {
        label,
        done,
        target,
    });
}

/// `progress` with the counts of each progress event changed by `counts` ((done, target) to
/// (done, target)) and notes passed on unchanged: for a stage timing one part of a longer phase.
pub fn rescaled<'p>(
    progress: &'p mut dyn FnMut(Event<'_>),
    mut counts: impl FnMut(u64, u64) -> (u64, u64) + 'p,
) -> impl FnMut(Event<'_>) + 'p {
    move |event: Event<'_>| match event {
        Event::Progress {
            label,
            done,
            target,
        } => {
            let (done, target) = counts(done, target);
            report(progress, label, done, target);
        }
        note => progress(note),
    }
}

/// Sends a note.
pub fn note(progress: &mut dyn FnMut(Event<'_>), line: &str) {
    progress(Event::Note(line));
}
