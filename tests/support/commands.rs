//! Workflow commands as the GitHub runner reads them from a step's output, so a test can ask
//! which commands the runner would have executed (an `::error` annotation, a `::set-output`)
//! and check that nothing a pull request controls became one.
//!
//! It follows the runner's `ActionCommand.TryParseV2` (a line that starts, after leading
//! whitespace, with `::NAME props::data`) and its older `TryParse` (`##[NAME props]data`
//! anywhere in the line), with their unescaping, and `ActionCommandManager.TryProcessCommand`:
//! command names are case-insensitive and must be registered, `::stop-commands::TOKEN`
//! registers TOKEN and ignores every command until one named TOKEN, and that state lasts for the
//! whole job, across steps (actions/runner, src/Runner.Common/ActionCommand.cs and
//! src/Runner.Worker/ActionCommandManager.cs).

use std::collections::BTreeMap;

/// The runner's registered commands (its command extensions plus stop-commands).
const REGISTERED: &[&str] = &[
    "stop-commands",
    "set-env",
    "set-output",
    "save-state",
    "add-mask",
    "add-path",
    "add-matcher",
    "remove-matcher",
    "warning",
    "error",
    "notice",
    "debug",
    "group",
    "endgroup",
    "echo",
];

/// A command the runner executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowCommand {
    /// Lowercase name: error, warning, notice, set-output, add-mask, stop-commands...
    pub name: String,
    /// Properties with lowercase keys (title, file, line, name...), unescaped.
    pub properties: BTreeMap<String, String>,
    /// The message (data), unescaped.
    pub message: String,
    /// The output line it came from.
    pub line: String,
}

impl WorkflowCommand {
    /// Everything the command carries, for "does any command mention X" checks.
    pub fn text(&self) -> String {
        let props: Vec<String> = self
            .properties
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{} {} {}", self.name, props.join(","), self.message)
    }
}

/// The job's command processor: its stop-commands state outlives a step.
#[derive(Debug, Default)]
pub struct CommandProcessor {
    stop_token: Option<String>,
}

impl CommandProcessor {
    /// Reads one output line; returns the command the runner would execute, if any.
    pub fn process(&mut self, line: &str) -> Option<WorkflowCommand> {
        let command = parse_v2(line, self.stop_token.as_deref())
            .or_else(|| parse_v1(line, self.stop_token.as_deref()))?;
        if let Some(token) = &self.stop_token {
            if command.name.eq_ignore_ascii_case(token) {
                self.stop_token = None;
                return Some(command);
            }
            return None;
        }
        if command.name == "stop-commands" {
            self.stop_token = Some(command.message.clone());
        }
        Some(command)
    }
}

fn registered(name: &str, stop_token: Option<&str>) -> bool {
    REGISTERED.iter().any(|r| r.eq_ignore_ascii_case(name))
        || stop_token.is_some_and(|t| t.eq_ignore_ascii_case(name))
}

fn parse_v2(line: &str, stop_token: Option<&str>) -> Option<WorkflowCommand> {
    let message = line.trim_start();
    let rest = message.strip_prefix("::")?;
    let end = rest.find("::")?;
    let info = &rest[..end];
    let (name, props) = match info.find(' ') {
        Some(space) => (&info[..space], Some(&info[space + 1..])),
        None => (info, None),
    };
    if !registered(name, stop_token) {
        return None;
    }
    let mut properties = BTreeMap::new();
    for prop in props
        .unwrap_or("")
        .trim()
        .split(',')
        .filter(|p| !p.is_empty())
    {
        if let Some((key, value)) = prop.split_once('=') {
            if !key.is_empty() && !value.is_empty() {
                let value = unescape(
                    value,
                    &[
                        ("%0D", "\r"),
                        ("%0A", "\n"),
                        ("%3A", ":"),
                        ("%2C", ","),
                        ("%25", "%"),
                    ],
                );
                properties.insert(key.to_lowercase(), value);
            }
        }
    }
    Some(WorkflowCommand {
        name: name.to_lowercase(),
        properties,
        message: unescape(
            &rest[end + 2..],
            &[("%0D", "\r"), ("%0A", "\n"), ("%25", "%")],
        ),
        line: line.to_string(),
    })
}

fn parse_v1(line: &str, stop_token: Option<&str>) -> Option<WorkflowCommand> {
    let start = line.find("##[")? + 3;
    let end = start + line[start..].find(']')?;
    let info = &line[start..end];
    let (name, props) = match info.find(' ') {
        Some(space) => (&info[..space], Some(&info[space + 1..])),
        None => (info, None),
    };
    if !registered(name, stop_token) {
        return None;
    }
    let table = [
        ("%3B", ";"),
        ("%0D", "\r"),
        ("%0A", "\n"),
        ("%5D", "]"),
        ("%25", "%"),
    ];
    let mut properties = BTreeMap::new();
    for prop in props.unwrap_or("").split(';').filter(|p| !p.is_empty()) {
        if let Some((key, value)) = prop.split_once('=') {
            if !key.is_empty() && !value.is_empty() {
                properties.insert(key.to_lowercase(), unescape(value, &table));
            }
        }
    }
    Some(WorkflowCommand {
        name: name.to_lowercase(),
        properties,
        message: unescape(&line[end + 1..], &table),
        line: line.to_string(),
    })
}

/// The runner's unescaping: each mapping replaced in turn, `%25` last.
fn unescape(text: &str, table: &[(&str, &str)]) -> String {
    table
        .iter()
        .fold(text.to_string(), |acc, (from, to)| acc.replace(from, to))
}
