//! The README as the tests read it: its ```sh lines and the commands its prose shows.

use std::path::Path;

/// Programs whose invocations the README may show.
const PROGRAMS: &[&str] = &["cargo", "yamctl", "yam-server", "yam-tray"];

pub struct Readme {
    text: String,
}

impl Readme {
    pub fn load() -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
        Self {
            text: std::fs::read_to_string(&path).expect("README.md"),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The commands of every ```sh block, comments removed, in order.
    pub fn sh_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut in_sh = false;
        let mut in_other = false;
        for line in self.text.lines() {
            let fence = line.trim_start().strip_prefix("```");
            match fence {
                Some(lang) if !in_sh && !in_other => {
                    in_sh = lang.trim() == "sh";
                    in_other = !in_sh;
                }
                Some(_) => (in_sh, in_other) = (false, false),
                None if in_sh => lines.extend(command_of(line)),
                None => {}
            }
        }
        lines
    }

    /// The one ```sh line equal to `command`; panics when the README does not show it.
    pub fn line(&self, command: &str) -> &'static str {
        assert!(
            self.sh_lines().iter().any(|l| l == command),
            "the README no longer shows `{command}` in a sh block"
        );
        crate::COVERED
            .iter()
            .map(|(c, _)| *c)
            .find(|c| *c == command)
            .unwrap_or_else(|| panic!("`{command}` is not in COVERED"))
    }

    /// Inline code spans outside code blocks that invoke one of our programs with arguments.
    pub fn inline_commands(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut in_block = false;
        for line in self.text.lines() {
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
                continue;
            }
            if in_block {
                continue;
            }
            for span in line.split('`').skip(1).step_by(2) {
                let words: Vec<&str> = span.split_whitespace().collect();
                if words.len() >= 2 && PROGRAMS.contains(&words[0]) {
                    found.push(words.join(" "));
                }
            }
        }
        found
    }
}

/// A shell line without its trailing `# comment`; `None` for blank and comment-only lines.
fn command_of(line: &str) -> Option<String> {
    let code = match line.find(" #") {
        Some(i) => &line[..i],
        None => line,
    };
    let code = code.trim();
    (!code.is_empty() && !code.starts_with('#')).then(|| code.to_owned())
}

#[test]
fn reads_commands_and_comments() {
    assert_eq!(
        command_of("yamctl up   # prints the URL").as_deref(),
        Some("yamctl up")
    );
    assert_eq!(command_of("    # a continued comment"), None);
    assert_eq!(command_of(""), None);
    let r = Readme {
        text: "a `yamctl status --json` b `yamctl` c\n```sh\nx y # z\n```\n```text\nnot run\n```\n"
            .into(),
    };
    assert_eq!(r.sh_lines(), vec!["x y"]);
    assert_eq!(r.inline_commands(), vec!["yamctl status --json"]);
}
