//! `cargo xtask test --only docs`: the READMEs and `docs/` say what is true.
//!
//! - Every relative link resolves to a file or folder of the repository, and
//!   its `#anchor`, when the target is Markdown, to a heading there (GitHub's
//!   slug of it) or an HTML `id`/`name`.
//! - Every `cargo xtask …`, `cargo run … -p keyward-server -- …` and
//!   `keyward …` command in a shell block parses with the real command-line
//!   definitions (xtask's own and the server's), so a renamed flag or
//!   subcommand fails here instead of in a reader's terminal.
//! - Every fenced block right after an `<!-- check: run -->` line runs, with
//!   bash from the workspace root, and must exit 0 within two minutes. Mark
//!   only commands that are safe and quick on a fresh checkout (no installs,
//!   no long builds, no servers left running).

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;

use crate::workspace_root;

/// The marker line that makes the next fenced block runnable.
const RUN_MARKER: &str = "<!-- check: run -->";
/// How long one runnable block may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The documents checked: the READMEs, CONTRIBUTING and everything in docs/.
fn documents(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> =
        ["README.md", "CONTRIBUTING.md", "sdk-rust/README.md", "sdk-python/README.md", "sdk-node/README.md"]
            .iter()
            .map(|name| root.join(name))
            .collect();
    let mut docs = Vec::new();
    // The design record and the generated SDK references.
    for folder in ["docs", "docs/reference"] {
        let entries = fs::read_dir(root.join(folder)).with_context(|| format!("reading {folder}/"))?;
        docs.extend(
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "md")),
        );
    }
    docs.sort();
    files.extend(docs);
    Ok(files)
}

pub fn check() -> anyhow::Result<()> {
    let root = workspace_root();
    let mut problems = Vec::new();
    let mut slugs = SlugCache::default();
    let mut ran = 0;
    let mut commands = 0;
    let mut links = 0;
    for file in documents(root)? {
        let text = fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        let doc = scan(&text);
        let shown = file.strip_prefix(root).unwrap_or(&file).display().to_string();
        for link in &doc.links {
            links += 1;
            if let Err(problem) = check_link(root, &file, &doc, link, &mut slugs) {
                problems.push(format!("{shown}:{}: link `{}`: {problem}", link.line, link.target));
            }
        }
        for (line, span) in &doc.spans {
            if let Some(problem) = check_path_span(root, &file, span) {
                problems.push(format!("{shown}:{line}: {problem}"));
            }
        }
        for block in doc.blocks.iter().filter(|block| block.is_shell()) {
            for (line, command) in shell_commands(block) {
                match parse_command(&command) {
                    CommandCheck::NotChecked => {}
                    CommandCheck::Parsed => commands += 1,
                    CommandCheck::Failed(error) => {
                        problems.push(format!("{shown}:{line}: `{command}` does not parse: {error}"))
                    }
                }
            }
        }
        for block in doc.blocks.iter().filter(|block| block.run) {
            ran += 1;
            eprintln!("docs: running the block at {shown}:{}", block.line);
            if let Err(error) = run_block(root, &block.body) {
                problems.push(format!("{shown}:{}: the block marked {RUN_MARKER} failed: {error:#}", block.line));
            }
        }
    }
    eprintln!("docs: {links} links, {commands} commands parsed, {ran} blocks run");
    if problems.is_empty() {
        return Ok(());
    }
    for problem in &problems {
        eprintln!("  {problem}");
    }
    bail!("{} problem(s) in the documentation", problems.len())
}

// ---------------------------------------------------------------------------
// Scanning Markdown
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Document {
    links: Vec<Link>,
    /// Inline code spans outside fenced blocks: (line, content).
    spans: Vec<(usize, String)>,
    /// GitHub slugs of the headings, plus HTML `id`/`name` anchors.
    anchors: HashSet<String>,
    blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    line: usize,
    target: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Block {
    /// The line of the opening fence (1-based).
    line: usize,
    lang: String,
    body: String,
    /// Preceded by [`RUN_MARKER`].
    run: bool,
}

impl Block {
    fn is_shell(&self) -> bool {
        matches!(self.lang.as_str(), "sh" | "bash" | "shell" | "console" | "zsh")
    }
}

/// An opening fence: its character, length and info string.
fn fence_open(line: &str) -> Option<(char, usize, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let fence = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let length = trimmed.chars().take_while(|c| *c == fence).count();
    let info = trimmed[length..].trim();
    (length >= 3 && !(fence == '`' && info.contains('`'))).then_some((fence, length, info))
}

fn fence_closes(line: &str, fence: char, length: usize) -> bool {
    let trimmed = line.trim();
    trimmed.len() >= length && trimmed.chars().all(|c| c == fence)
}

fn scan(text: &str) -> Document {
    let mut doc = Document::default();
    // The text outside fenced blocks, line for line (blocks become blank
    // lines), for links: code spans may cross lines, so they are removed from
    // the whole of it.
    let mut prose = String::with_capacity(text.len());
    let mut open: Option<(char, usize, Block)> = None;
    let mut previous_nonblank = "";
    let mut slugger = Slugger::default();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if let Some((fence, length, block)) = open.as_mut() {
            if fence_closes(line, *fence, *length) {
                let (_, _, block) = open.take().expect("a block is open");
                doc.blocks.push(block);
                previous_nonblank = line;
            } else {
                block.body.push_str(line);
                block.body.push('\n');
            }
            prose.push('\n');
            continue;
        }
        if let Some((fence, length, info)) = fence_open(line) {
            let lang = info.split_whitespace().next().unwrap_or("").to_owned();
            let run = previous_nonblank.trim() == RUN_MARKER;
            open = Some((fence, length, Block { line: number, lang, body: String::new(), run }));
            prose.push('\n');
            continue;
        }
        if !line.trim().is_empty() {
            previous_nonblank = line;
        }
        if let Some(heading) = atx_heading(line) {
            doc.anchors.insert(slugger.slug(&heading));
        }
        doc.anchors.extend(html_anchors(line));
        prose.push_str(line);
        prose.push('\n');
    }
    // An unclosed fence runs to the end of the document (CommonMark).
    if let Some((_, _, block)) = open {
        doc.blocks.push(block);
    }
    let (stripped, spans) = strip_code_spans(&prose);
    doc.links = links(&stripped);
    doc.spans = spans;
    doc
}

/// The text of an ATX heading (`## Text ##`), if `line` is one.
fn atx_heading(line: &str) -> Option<String> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let level = trimmed.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &trimmed[level..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let mut text = rest.trim();
    // A closing sequence of #s, preceded by a space, is not part of the text.
    let without_closing = text.trim_end_matches('#');
    if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        text = without_closing.trim_end();
    }
    Some(text.to_owned())
}

/// `id="…"` and `name="…"` of HTML anchors in a line (`<a id="x"></a>`).
fn html_anchors(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in [" id=\"", " name=\""] {
        let mut rest = line;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            if let Some(end) = rest.find('"') {
                found.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    found
}

/// `text` with the contents of inline code spans replaced by spaces
/// (newlines kept, so line numbers stay right), and the spans themselves
/// with the line each starts on.
fn strip_code_spans(text: &str) -> (String, Vec<(usize, String)>) {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            let next = text[i..].find('`').map_or(text.len(), |offset| i + offset);
            out.push_str(&text[i..next]);
            i = next;
            continue;
        }
        let run = bytes[i..].iter().take_while(|b| **b == b'`').count();
        // The closing run has exactly the same length.
        let mut search = i + run;
        let mut close = None;
        while let Some(offset) = text[search..].find('`') {
            let start = search + offset;
            let length = bytes[start..].iter().take_while(|b| **b == b'`').count();
            if length == run {
                close = Some(start);
                break;
            }
            search = start + length;
        }
        match close {
            Some(start) => {
                let line = text[..i].matches('\n').count() + 1;
                spans.push((line, text[i + run..start].trim().to_owned()));
                out.extend(text[i..start + run].chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
                i = start + run;
            }
            None => {
                // A lone backtick run is literal text.
                out.push_str(&text[i..i + run]);
                i += run;
            }
        }
    }
    (out, spans)
}

/// A code span that names a file of the repository: `sdk-node/lib/client.js`,
/// `tests/fixtures/`, … — no spaces, a `/`, path characters only, and a
/// first segment that is a folder at the root or beside the document. Such a
/// path must exist (from the root or from the document's folder). Globs,
/// `target/` and `node_modules/` (built, not committed) are not checked.
fn check_path_span(root: &Path, from: &Path, span: &str) -> Option<String> {
    let path = span.split('#').next().unwrap_or_default();
    let path = path.split("::").next().unwrap_or_default();
    let plain = path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-'));
    if !plain || !path.contains('/') || path.starts_with(['/', '.']) || path.contains("//") {
        return None;
    }
    let first = path.split('/').next().unwrap_or_default();
    if matches!(first, "target" | "node_modules") {
        return None;
    }
    let here = from.parent().unwrap_or(root);
    let bases: Vec<&Path> = [root, here].into_iter().filter(|base| base.join(first).is_dir()).collect();
    if bases.is_empty() || bases.iter().any(|base| base.join(path).exists()) {
        return None;
    }
    Some(format!("`{span}` names {path}, which does not exist"))
}

/// Inline links and images `[text](target "title")`, and reference
/// definitions `[label]: target`, in text without code.
fn links(text: &str) -> Vec<Link> {
    let mut found = Vec::new();
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut search = 0;
    while let Some(offset) = text[search..].find("](") {
        let start = search + offset + 2;
        // The destination ends at the `)` that balances the `(`.
        let mut depth = 0usize;
        let mut end = None;
        for (index, c) in text[start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = Some(start + index);
                    break;
                }
                ')' => depth -= 1,
                '\n' => break,
                _ => {}
            }
        }
        search = start;
        let Some(end) = end else { continue };
        let destination = text[start..end].trim();
        let target = match destination.strip_prefix('<') {
            Some(rest) => rest.split('>').next().unwrap_or_default(),
            None => destination.split_whitespace().next().unwrap_or_default(),
        };
        if !target.is_empty() {
            found.push(Link { line: line_of(start), target: target.to_owned() });
        }
    }
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix('[')
            && let Some((label, destination)) = rest.split_once("]:")
            && !label.is_empty()
            && !label.contains(']')
            && let Some(target) = destination.split_whitespace().next()
        {
            let target = target.trim_start_matches('<').trim_end_matches('>');
            found.push(Link { line: index + 1, target: target.to_owned() });
        }
    }
    found.sort_by_key(|link| link.line);
    found
}

/// GitHub's heading anchors: lower-cased, punctuation dropped (letters,
/// digits, `_` and `-` stay), spaces to `-`; a repeated slug gets `-1`, `-2`, ….
#[derive(Debug, Default)]
struct Slugger {
    seen: HashSet<String>,
}

impl Slugger {
    fn slug(&mut self, heading: &str) -> String {
        let base = slug(&plain_heading(heading));
        let mut candidate = base.clone();
        let mut n = 0;
        while self.seen.contains(&candidate) {
            n += 1;
            candidate = format!("{base}-{n}");
        }
        self.seen.insert(candidate.clone());
        candidate
    }
}

/// The text a heading renders to: link text without its target, no code or
/// emphasis markers.
fn plain_heading(heading: &str) -> String {
    let mut out = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.split_once("](").and_then(|(text, tail)| tail.split_once(')').map(|(_, tail)| (text, tail))) {
            Some((text, tail)) => {
                out.push_str(text);
                rest = tail;
            }
            None => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.chars().filter(|c| !matches!(c, '`' | '*')).collect()
}

/// The anchor GitHub gives a heading (also used by the generated references).
pub(crate) fn slug(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            '-' | '_' => Some(c),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------

/// The anchors of the Markdown files links point into, read once each.
#[derive(Default)]
struct SlugCache {
    anchors: std::collections::HashMap<PathBuf, HashSet<String>>,
}

impl SlugCache {
    fn anchors(&mut self, path: &Path) -> anyhow::Result<&HashSet<String>> {
        if !self.anchors.contains_key(path) {
            let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            self.anchors.insert(path.to_owned(), scan(&text).anchors);
        }
        Ok(&self.anchors[path])
    }
}

#[derive(Debug, PartialEq, Eq)]
enum LinkProblem {
    Missing(PathBuf),
    OutsideRepository,
    NoAnchor(String),
}

impl fmt::Display for LinkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkProblem::Missing(path) => write!(f, "{} does not exist", path.display()),
            LinkProblem::OutsideRepository => write!(f, "points outside the repository"),
            LinkProblem::NoAnchor(anchor) => write!(f, "no heading or id makes the anchor #{anchor}"),
        }
    }
}

/// A link that leaves the repository: a URL with a scheme, or `//host`.
fn is_external(target: &str) -> bool {
    if target.starts_with("//") {
        return true;
    }
    match target.split_once(':') {
        Some((scheme, _)) => {
            !scheme.is_empty()
                && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        }
        None => false,
    }
}

/// `target` (a relative link written in `from`) as a path inside `root`,
/// `.`/`..` resolved, and its anchor.
fn resolve(root: &Path, from: &Path, target: &str) -> Result<(PathBuf, Option<String>), LinkProblem> {
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor.to_owned())),
        None => (target, None),
    };
    let path = path.split('?').next().unwrap_or_default().replace("%20", " ");
    let joined = if path.is_empty() {
        from.to_owned()
    } else if let Some(absolute) = path.strip_prefix('/') {
        root.join(absolute)
    } else {
        from.parent().unwrap_or(root).join(&path)
    };
    let mut normal = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                if !normal.pop() {
                    return Err(LinkProblem::OutsideRepository);
                }
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    if !normal.starts_with(root) {
        return Err(LinkProblem::OutsideRepository);
    }
    Ok((normal, anchor))
}

fn check_link(root: &Path, from: &Path, doc: &Document, link: &Link, slugs: &mut SlugCache) -> Result<(), LinkProblem> {
    if is_external(&link.target) {
        return Ok(());
    }
    let (path, anchor) = resolve(root, from, &link.target)?;
    if !path.exists() {
        return Err(LinkProblem::Missing(path.strip_prefix(root).unwrap_or(&path).to_owned()));
    }
    let Some(anchor) = anchor.filter(|anchor| !anchor.is_empty()) else { return Ok(()) };
    if path.extension().is_none_or(|ext| ext != "md") {
        return Ok(()); // `file.rs#L10` and the like: GitHub's viewer, not a heading
    }
    let known = if path == from {
        doc.anchors.contains(&anchor)
    } else {
        slugs.anchors(&path).map(|anchors| anchors.contains(&anchor)).unwrap_or(false)
    };
    if known { Ok(()) } else { Err(LinkProblem::NoAnchor(anchor)) }
}

// ---------------------------------------------------------------------------
// Shell blocks
// ---------------------------------------------------------------------------

/// The commands of a shell block with the line each starts on: `\`
/// continuations joined, a leading `$ ` prompt and `#` comments dropped, and
/// split at `&&`, `||`, `;` and `|`.
fn shell_commands(block: &Block) -> Vec<(usize, String)> {
    let mut commands = Vec::new();
    let mut pending = String::new();
    let mut pending_line = 0;
    for (index, raw) in block.body.lines().enumerate() {
        let line = block.line + 1 + index;
        if pending.is_empty() {
            pending_line = line;
        }
        let (text, continued) = match raw.trim_end().strip_suffix('\\') {
            Some(text) => (text, true),
            None => (raw, false),
        };
        pending.push_str(text);
        pending.push(' ');
        if continued {
            continue;
        }
        let full = std::mem::take(&mut pending);
        let full = full.trim().strip_prefix("$ ").unwrap_or(full.trim());
        let code = strip_comment(full);
        for part in split_commands(&code) {
            let part = part.trim();
            if !part.is_empty() {
                commands.push((pending_line, part.to_owned()));
            }
        }
    }
    commands
}

/// The line without a `#` comment (a `#` that starts a word, outside quotes).
fn strip_comment(line: &str) -> String {
    let mut out = String::new();
    let mut quote = None;
    let mut previous = ' ';
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => break,
            None => {}
        }
        out.push(c);
        previous = c;
    }
    out
}

/// Splits at `&&`, `||`, `;` and `|` outside quotes.
fn split_commands(line: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quote = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ';' || c == '|' || (c == '&' && chars.peek() == Some(&'&')) => {
                if matches!(chars.peek(), Some('&' | '|')) {
                    chars.next();
                }
                parts.push(String::new());
                continue;
            }
            None => {}
        }
        parts.last_mut().expect("at least one part").push(c);
    }
    parts
}

/// Words of a command: whitespace-separated, quotes removed (no expansion).
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in command.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

#[derive(Debug, PartialEq, Eq)]
enum CommandCheck {
    NotChecked,
    Parsed,
    Failed(String),
}

/// Parses the commands whose command line this repository defines:
/// `cargo xtask …` with xtask's CLI, and the server (`keyward …`,
/// `cargo run [-q] [--release] -p keyward-server -- …`) with its own.
fn parse_command(command: &str) -> CommandCheck {
    let words = words(command);
    // Leading `VAR=value` assignments.
    let words: Vec<&str> =
        words.iter().map(String::as_str).skip_while(|word| word.contains('=') && !word.starts_with('-')).collect();
    let outcome = match words.as_slice() {
        ["cargo", "xtask", args @ ..] => {
            crate::Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied())).map(|_| ())
        }
        ["keyward", args @ ..] => {
            keyward_server::config::Cli::try_parse_from(std::iter::once("keyward").chain(args.iter().copied()))
                .map(|_| ())
        }
        ["cargo", "run", rest @ ..] => {
            let (cargo_args, server_args) = match rest.iter().position(|word| *word == "--") {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, &[][..]),
            };
            let runs_server = cargo_args.windows(2).any(|pair| matches!(pair, ["-p" | "--package", "keyward-server"]));
            if !runs_server {
                return CommandCheck::NotChecked;
            }
            keyward_server::config::Cli::try_parse_from(std::iter::once("keyward").chain(server_args.iter().copied()))
                .map(|_| ())
        }
        _ => return CommandCheck::NotChecked,
    };
    match outcome {
        Ok(()) => CommandCheck::Parsed,
        // `--help`/`--version` "fail" with a display error: they are valid.
        Err(error)
            if matches!(error.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) =>
        {
            CommandCheck::Parsed
        }
        Err(error) => CommandCheck::Failed(error.to_string().lines().next().unwrap_or_default().to_owned()),
    }
}

/// Runs a marked block with bash in `root`; fails on a non-zero exit or
/// after [`RUN_TIMEOUT`], showing the block's output.
fn run_block(root: &Path, body: &str) -> anyhow::Result<()> {
    let output = tempfile_path("docs-block-output");
    let file = fs::File::create(&output).context("creating the block's output file")?;
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail", "-c", body])
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .context("starting bash")?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let shown = fs::read_to_string(&output).unwrap_or_default();
    let _ = fs::remove_file(&output);
    match status {
        Some(status) if status.success() => Ok(()),
        Some(status) => bail!("{status}; output:\n{shown}"),
        None => bail!("still running after {} s; output:\n{shown}", RUN_TIMEOUT.as_secs()),
    }
}

fn tempfile_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("keyward-xtask-{name}-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(markdown: &str) -> Vec<(usize, String)> {
        scan(markdown).links.into_iter().map(|link| (link.line, link.target)).collect()
    }

    #[test]
    fn finds_inline_links_images_and_reference_definitions() {
        let markdown = "See [the docs](docs/a.md#part) and ![logo](img/logo.png \"Logo\").\n\
                        Two [a](x.md) [b](<y z.md>) on a line.\n\
                        [ref]: docs/ref.md\n\
                        A [link with (parens)](p(1).md).\n";
        assert_eq!(
            targets(markdown),
            vec![
                (1, "docs/a.md#part".to_owned()),
                (1, "img/logo.png".to_owned()),
                (2, "x.md".to_owned()),
                (2, "y z.md".to_owned()),
                (3, "docs/ref.md".to_owned()),
                (4, "p(1).md".to_owned()),
            ]
        );
    }

    #[test]
    fn ignores_links_in_code() {
        let markdown = "`[not](a link)` and ``code with ` [no](link)`` but [yes](real.md)\n\
                        ```sh\n\
                        echo [no](inside-a-fence)\n\
                        ```\n\
                        a span `that crosses\n\
                        lines [no](x)` then [after](after.md)\n\
                        ~~~\n\
                        [no](tilde)\n\
                        ~~~\n";
        assert_eq!(targets(markdown), vec![(1, "real.md".to_owned()), (6, "after.md".to_owned())]);
    }

    #[test]
    fn a_lone_backtick_is_text() {
        assert_eq!(targets("a ` b [c](d.md)\n"), vec![(1, "d.md".to_owned())]);
    }

    #[test]
    fn code_spans_are_collected_with_their_line() {
        let doc = scan("one `a/b.rs` two\n``x ` y`` and `across\nlines`\n```\n`not/a/span`\n```\n");
        assert_eq!(doc.spans, vec![(1, "a/b.rs".to_owned()), (2, "x ` y".to_owned()), (2, "across\nlines".to_owned())]);
    }

    #[test]
    fn path_spans_must_exist() {
        let root = crate::workspace_root();
        let readme = root.join("README.md");
        let sdk_readme = root.join("sdk-python/README.md");
        assert_eq!(check_path_span(root, &readme, "docs/roles.md"), None);
        assert_eq!(check_path_span(root, &readme, "docs/architecture.md#layers"), None);
        assert_eq!(check_path_span(root, &sdk_readme, "tests/test_fastapi.py"), None, "beside the document");
        assert!(check_path_span(root, &readme, "docs/no-such-page.md").is_some());
        assert!(
            check_path_span(root, &readme, "tests/test_fastapi.py").is_some(),
            "tests/ at the root has no such file"
        );
        assert_eq!(check_path_span(root, &readme, "application/json"), None, "not a folder of ours");
        assert_eq!(check_path_span(root, &readme, "target/debug/keyward"), None, "built, not committed");
        assert_eq!(check_path_span(root, &readme, "sdk-node/keyward.*.node"), None, "a glob");
    }

    #[test]
    fn slugs_follow_github() {
        let mut slugger = Slugger::default();
        assert_eq!(slugger.slug("A tour with curl"), "a-tour-with-curl");
        assert_eq!(
            slugger.slug("Key hygiene: scheduled rotation, webhooks, leak reports, import"),
            "key-hygiene-scheduled-rotation-webhooks-leak-reports-import"
        );
        assert_eq!(
            slugger.slug("Webhook verification — as built (all three SDKs)"),
            "webhook-verification--as-built-all-three-sdks"
        );
        assert_eq!(slugger.slug("The `keys:verify` scope"), "the-keysverify-scope");
        assert_eq!(slugger.slug("[Linked](x.md) heading"), "linked-heading");
        assert_eq!(slugger.slug("snake_case and CamelCase 2"), "snake_case-and-camelcase-2");
        assert_eq!(slugger.slug("A tour with curl"), "a-tour-with-curl-1", "repeats are numbered");
        assert_eq!(slugger.slug("A tour with curl"), "a-tour-with-curl-2");
    }

    #[test]
    fn headings_and_html_ids_are_anchors() {
        let doc = scan(
            "# Title #\n## Second ##\n#not a heading\n    # indented code\n<a id=\"custom\"></a>\n```\n# in a fence\n```\n",
        );
        let mut anchors: Vec<_> = doc.anchors.into_iter().collect();
        anchors.sort();
        assert_eq!(anchors, vec!["custom", "second", "title"]);
    }

    #[test]
    fn marked_blocks_run() {
        let doc = scan("text\n\n<!-- check: run -->\n```sh\ncargo xtask --help\n```\n\n```sh\nrm -rf /\n```\n");
        assert_eq!(doc.blocks.len(), 2);
        assert!(doc.blocks[0].run && doc.blocks[0].is_shell());
        assert_eq!(doc.blocks[0].body, "cargo xtask --help\n");
        assert_eq!(doc.blocks[0].line, 4);
        assert!(!doc.blocks[1].run);
    }

    #[test]
    fn resolves_relative_absolute_and_parent_paths() {
        let root = Path::new("/repo");
        let from = Path::new("/repo/sdk-python/README.md");
        assert_eq!(resolve(root, from, "../docs/a.md#x"), Ok((PathBuf::from("/repo/docs/a.md"), Some("x".to_owned()))));
        assert_eq!(
            resolve(root, from, "examples/app.py"),
            Ok((PathBuf::from("/repo/sdk-python/examples/app.py"), None))
        );
        assert_eq!(resolve(root, from, "/docs/b.md"), Ok((PathBuf::from("/repo/docs/b.md"), None)));
        assert_eq!(resolve(root, from, "#local"), Ok((from.to_owned(), Some("local".to_owned()))));
        assert_eq!(resolve(root, from, "../../etc/passwd"), Err(LinkProblem::OutsideRepository));
        assert!(is_external("https://example.com/a.md"));
        assert!(is_external("mailto:someone@example.com"));
        assert!(!is_external("docs/a.md"));
        assert!(!is_external("#anchor"));
    }

    #[test]
    fn shell_commands_are_split_and_cleaned() {
        let block = Block {
            line: 10,
            lang: "sh".into(),
            body: "$ cargo xtask test --only lint   # house rules\ncd sdk-node && npm ci && npm run build\n\
                   cargo xtask bench \\\n  --keys 10\necho 'a # b; c' | wc -l\n"
                .into(),
            run: false,
        };
        let commands: Vec<(usize, String)> =
            shell_commands(&block).into_iter().map(|(line, command)| (line, words(&command).join(" "))).collect();
        assert_eq!(
            commands,
            vec![
                (11, "cargo xtask test --only lint".to_owned()),
                (12, "cd sdk-node".to_owned()),
                (12, "npm ci".to_owned()),
                (12, "npm run build".to_owned()),
                (13, "cargo xtask bench --keys 10".to_owned()),
                (15, "echo a # b; c".to_owned()),
                (15, "wc -l".to_owned()),
            ]
        );
        assert_eq!(words("KW=x cargo run -- --name 'a b'"), vec!["KW=x", "cargo", "run", "--", "--name", "a b"]);
    }

    #[test]
    fn commands_parse_with_the_real_command_lines() {
        assert_eq!(parse_command("cargo xtask test --only lint --only drift"), CommandCheck::Parsed);
        assert_eq!(parse_command("cargo xtask --help"), CommandCheck::Parsed);
        assert!(matches!(parse_command("cargo xtask test --only nonsense"), CommandCheck::Failed(_)));
        assert!(matches!(parse_command("cargo xtask frobnicate"), CommandCheck::Failed(_)));
        assert_eq!(
            parse_command(
                "cargo run --release -p keyward-server -- --listen 127.0.0.1:8080 --database-url sqlite://k.db"
            ),
            CommandCheck::Parsed
        );
        assert!(matches!(parse_command("cargo run -p keyward-server -- --no-such-flag"), CommandCheck::Failed(_)));
        assert_eq!(parse_command("keyward bootstrap --org-name Acme"), CommandCheck::Parsed);
        assert_eq!(parse_command("cargo run -p keyward --example quickstart"), CommandCheck::NotChecked);
        assert_eq!(parse_command("npm ci"), CommandCheck::NotChecked);
    }
}
