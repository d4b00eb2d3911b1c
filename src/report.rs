//! What a command tells the user: warnings and errors on stderr, each with the whole
//! chain of causes, and the exit status libvirt and scripts act on.

/// Exit status: done (warnings may have been printed).
pub const EXIT_OK: u8 = 0;
/// Exit status: invalid input; every problem is on stderr and nothing on stdout.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: usage error (clap uses 2 too).
pub const EXIT_USAGE: u8 = 2;

pub use translator::diag::error_chain as chain;

/// Why a command produced nothing.
#[derive(Debug)]
pub enum Failure {
    /// The input is invalid: one line per problem (without the `error: ` prefix).
    Invalid(Vec<String>),
    /// Part of the work was done: `out` is its output (printed on stdout), `errors` one
    /// line per part that failed (exit 1).
    Partial {
        /// What the parts that worked print.
        out: String,
        /// One line per part that failed (without the `error: ` prefix).
        errors: Vec<String>,
    },
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Invalid(vec![format!("{e:#}")])
    }
}

/// Warnings gathered while a command runs, printed before its output.
#[derive(Debug, Default)]
pub struct Report {
    warnings: Vec<String>,
}

impl Report {
    /// Adds a warning (without the `warning: ` prefix).
    pub fn warn(&mut self, w: String) {
        self.warnings.push(w);
    }

    /// The stderr text: one `warning: ` line each, escaped and bounded
    /// ([`translator::diag::one_line`]) so no value in it starts a line of its own.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for w in &self.warnings {
            s.push_str("warning: ");
            s.push_str(&translator::diag::one_line(w));
            s.push('\n');
        }
        s
    }
}
