//! Reading examples out of `--help` texts and the README: pure text rules,
//! tested below on small inputs.

/// One example: a shell command line, the exit code it is shown with, and
/// (in a README session) the output shown under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub command: String,
    pub exit: i32,
    pub output: Option<String>,
}

impl Example {
    fn new(command: String, output: Option<String>) -> Example {
        let exit = shown_exit(&command);
        Example {
            command,
            exit,
            output,
        }
    }
}

/// The exit code a trailing comment shows (`# refused, exit 3`), else 0.
fn shown_exit(command: &str) -> i32 {
    let re = regex::Regex::new(r"#.*\bexit (\d)\b").unwrap();
    re.captures(command.lines().last().unwrap_or(""))
        .and_then(|c| c[1].parse().ok())
        .unwrap_or(0)
}

/// Subcommand names listed under `Commands:` in a help text (not `help`).
pub fn subcommands(help: &str) -> Vec<String> {
    section(help, "Commands:")
        .iter()
        .filter(|l| l.starts_with("  ") && !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect()
}

/// The indented lines under the first line that is `title` (or, for
/// examples, starts with "Example"), up to the first unindented line.
fn section<'a>(help: &'a str, title: &str) -> Vec<&'a str> {
    let mut lines = help.lines();
    for l in lines.by_ref() {
        let t = l.trim_end();
        let is_title = if title == "Example" {
            t.starts_with("Example") && t.ends_with(':')
        } else {
            t == title
        };
        if is_title {
            break;
        }
    }
    lines
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .collect()
}

/// The tools an example may run besides rollproof: the stock `ssh-keygen`
/// makes the key a signing example needs (docs/KEYS.md).
const RUNNABLE: &[&str] = &["rollproof ", "ssh-keygen "];

/// The examples of a help text: the `rollproof …` (and `ssh-keygen …`)
/// lines of its Examples section (a line ending in `\` continues on the
/// next).
pub fn help_examples(help: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut lines = section(help, "Example").into_iter();
    while let Some(l) = lines.next() {
        let l = l.trim();
        if !RUNNABLE.iter().any(|p| l.starts_with(p)) {
            continue;
        }
        let mut command = l.to_string();
        while command.ends_with('\\') {
            match lines.next() {
                Some(next) => {
                    command.push('\n');
                    command.push_str(next);
                }
                None => break,
            }
        }
        out.push(Example::new(command, None));
    }
    out
}

/// The README's ```console blocks: `$ ` lines are commands (continued by a
/// trailing `\`), the lines up to the next `$ ` the output shown for them.
pub fn console_sessions(md: &str) -> Vec<Vec<Example>> {
    let mut sessions = Vec::new();
    let mut lines = md.lines();
    while let Some(l) = lines.next() {
        if l.trim_end() != "```console" {
            continue;
        }
        let block: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        sessions.push(session(&block));
    }
    sessions
}

fn session(block: &[&str]) -> Vec<Example> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    let mut i = 0;
    while i < block.len() {
        let l = block[i];
        i += 1;
        if let Some(cmd) = l.strip_prefix("$ ") {
            let mut command = cmd.to_string();
            while command.ends_with('\\') && i < block.len() {
                command.push('\n');
                command.push_str(block[i]);
                i += 1;
            }
            out.push((command, Vec::new()));
        } else if let Some((_, output)) = out.last_mut() {
            output.push(l);
        }
    }
    out.into_iter()
        .map(|(command, output)| {
            let mut text = output.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            Example::new(command, Some(text))
        })
        .collect()
}

/// The README's indented (4-space) `cargo run -- ARGS` lines
/// outside fenced blocks, as `rollproof ARGS`.
pub fn indented_commands(md: &str) -> Vec<Example> {
    let mut fenced = false;
    let mut out = Vec::new();
    for l in md.lines() {
        if l.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && let Some(args) = l.strip_prefix("    cargo run -- ") {
            out.push(Example::new(format!("rollproof {args}"), None));
        }
    }
    out
}

#[test]
fn help_sections_commands_and_exit_codes() {
    let help = "Do things.\n\nCommands:\n  show   Show it\n         (wrapped)\n  help   Print\n\n\
                Options:\n  --json  JSON\n\nExamples:\n  rollproof show a.json\n  \
                rollproof show b \\\n      --wide     # refused, exit 3\n  \
                ssh-keygen -q -t ed25519 -N '' -f k\n  cat k.pub\n\nMore prose.\n";
    assert_eq!(subcommands(help), ["show"]);
    let ex = help_examples(help);
    assert_eq!(ex.len(), 3);
    assert_eq!(ex[2].command, "ssh-keygen -q -t ed25519 -N '' -f k");
    assert_eq!(ex[0].command, "rollproof show a.json");
    assert_eq!(ex[0].exit, 0);
    assert_eq!(
        ex[1].command,
        "rollproof show b \\\n      --wide     # refused, exit 3"
    );
    assert_eq!(ex[1].exit, 3);
}

#[test]
fn console_blocks_pair_commands_with_their_output() {
    let md = "Text\n\n```console\n$ rollproof a \\\n    --b\nout 1\n...\n$ rollproof c  # exit 2\n```\n\n    \
              cargo run -- rehearse x.toml\n";
    let s = console_sessions(md);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0][0].command, "rollproof a \\\n    --b");
    assert_eq!(s[0][0].output.as_deref(), Some("out 1\n...\n"));
    assert_eq!((s[0][1].exit, s[0][1].output.as_deref()), (2, Some("")));
    assert_eq!(
        indented_commands(md)[0].command,
        "rollproof rehearse x.toml"
    );
}
