//! A prompter that answers from a script, for tests: each answer names the prompt it
//! expects, so a wizard that asks something else fails the test there, with the
//! questions asked so far. Running out of answers fails; answers left over fail when the
//! last handle is dropped (or at [`ScriptedPrompter::finish`]).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use super::{interrupted, Prompter, TextQuestion};

/// One scripted answer.
#[derive(Debug, Clone)]
enum Reply {
    /// Typed text and Enter; `""` takes the default.
    Text(String),
    /// Typed text that the prompt must refuse with a message containing the second
    /// field; the same prompt is then asked again.
    Refused(String, String),
    Secret(String),
    /// The item whose text is this, or starts with it (one item only).
    Choose(String),
    /// Exactly these items ticked (as [`Reply::Choose`] finds them).
    Tick(Vec<String>),
    Confirm(bool),
    /// Enter alone: the default of any kind of prompt.
    Enter,
    /// Ctrl-C.
    Interrupt,
}

#[derive(Debug)]
struct Step {
    label: String,
    reply: Reply,
}

#[derive(Debug)]
struct Script {
    steps: VecDeque<Step>,
    terminal: bool,
    yes: bool,
    /// Every question asked and its answer, and every status line, in order.
    log: Vec<String>,
    status: Vec<String>,
}

/// Answers from a queue. Clones share the script, so a test keeps one handle to check
/// what was asked while `Ctx` owns another.
#[derive(Debug, Clone)]
pub struct ScriptedPrompter(Rc<RefCell<Script>>);

impl Default for ScriptedPrompter {
    fn default() -> Self {
        ScriptedPrompter::new()
    }
}

impl ScriptedPrompter {
    /// A person at a terminal, with no answers yet.
    pub fn new() -> ScriptedPrompter {
        ScriptedPrompter(Rc::new(RefCell::new(Script {
            steps: VecDeque::new(),
            terminal: true,
            yes: false,
            log: Vec::new(),
            status: Vec::new(),
        })))
    }

    /// Nobody at a terminal: every question fails with the flag to pass instead.
    pub fn not_a_terminal() -> ScriptedPrompter {
        let p = ScriptedPrompter::new();
        p.0.borrow_mut().terminal = false;
        p
    }

    /// As `--yes`.
    pub fn assume_yes(self) -> ScriptedPrompter {
        self.0.borrow_mut().yes = true;
        self
    }

    fn then(self, label: &str, reply: Reply) -> ScriptedPrompter {
        self.0.borrow_mut().steps.push_back(Step {
            label: label.to_owned(),
            reply,
        });
        self
    }

    /// Types `text` at the text prompt whose label starts with `label`.
    pub fn text(self, label: &str, text: &str) -> ScriptedPrompter {
        self.then(label, Reply::Text(text.to_owned()))
    }

    /// Types `text`, which the prompt must refuse with a message containing `because`;
    /// the next answer is for the same prompt, asked again.
    pub fn refused(self, label: &str, text: &str, because: &str) -> ScriptedPrompter {
        self.then(label, Reply::Refused(text.to_owned(), because.to_owned()))
    }

    /// Types a secret at a hidden prompt.
    pub fn secret(self, label: &str, secret: &str) -> ScriptedPrompter {
        self.then(label, Reply::Secret(secret.to_owned()))
    }

    /// Picks the item `item` (its whole text, or the start of one item's text).
    pub fn choose(self, label: &str, item: &str) -> ScriptedPrompter {
        self.then(label, Reply::Choose(item.to_owned()))
    }

    /// Leaves exactly `items` ticked at a multi-select.
    pub fn tick(self, label: &str, items: &[&str]) -> ScriptedPrompter {
        let items = items.iter().map(|s| (*s).to_owned()).collect();
        self.then(label, Reply::Tick(items))
    }

    pub fn confirm(self, label: &str, yes: bool) -> ScriptedPrompter {
        self.then(label, Reply::Confirm(yes))
    }

    /// Enter alone: the prompt's default (for a multi-select, the pre-ticked items).
    pub fn enter(self, label: &str) -> ScriptedPrompter {
        self.then(label, Reply::Enter)
    }

    /// Ctrl-C at the prompt.
    pub fn interrupt(self, label: &str) -> ScriptedPrompter {
        self.then(label, Reply::Interrupt)
    }

    /// The questions asked and their answers, one line each (`*` marks defaults).
    pub fn log(&self) -> Vec<String> {
        self.0.borrow().log.clone()
    }

    /// The status lines shown to the person at the prompt.
    pub fn status_lines(&self) -> Vec<String> {
        self.0.borrow().status.clone()
    }

    /// Fails unless every answer was used.
    pub fn finish(&self) {
        let script = self.0.borrow();
        assert!(
            script.steps.is_empty(),
            "answers left over: {:?}\nasked:\n{}",
            script.steps,
            script.log.join("\n")
        );
    }

    /// The next answer, which must be for a prompt whose label starts with its own.
    fn next(&self, kind: &str, label: &str, shown: String) -> Reply {
        let mut script = self.0.borrow_mut();
        let Some(step) = script.steps.pop_front() else {
            panic!(
                "the script has no answer left for {kind} `{label}` {shown}\nasked:\n{}",
                script.log.join("\n")
            );
        };
        if !label.starts_with(&step.label) {
            panic!(
                "the script answers `{}` with {:?}, but the wizard asks {kind} `{label}` {shown}\nasked:\n{}",
                step.label,
                step.reply,
                script.log.join("\n")
            );
        }
        script
            .log
            .push(format!("{kind} `{label}` {shown} → {:?}", step.reply));
        step.reply
    }
}

/// The index of the item `wanted` names: its whole text, else the only item starting
/// with it.
fn find(label: &str, items: &[String], wanted: &str) -> usize {
    if let Some(i) = items.iter().position(|i| i == wanted) {
        return i;
    }
    let starts: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].starts_with(wanted))
        .collect();
    match starts[..] {
        [i] => i,
        _ => panic!(
            "`{wanted}` names {} of the items of `{label}`: {items:?}",
            starts.len()
        ),
    }
}

fn unexpected(kind: &str, label: &str, reply: &Reply) -> ! {
    panic!("{reply:?} is not an answer to {kind} `{label}`")
}

impl Prompter for ScriptedPrompter {
    fn can(&self) -> bool {
        self.0.borrow().terminal
    }

    fn assume_yes(&self) -> bool {
        self.0.borrow().yes
    }

    fn ask_text(&self, q: &TextQuestion<'_>) -> anyhow::Result<String> {
        let shown = format!("[default {:?}]", q.default);
        loop {
            let (typed, refusal) = match self.next("text", q.label, shown.clone()) {
                Reply::Text(t) => (t, None),
                Reply::Enter => (String::new(), None),
                Reply::Refused(t, because) => (t, Some(because)),
                Reply::Interrupt => return Err(interrupted("interrupted")),
                other => unexpected("text", q.label, &other),
            };
            // As dialoguer: Enter takes the default; an empty answer without one is
            // asked again unless empty answers are allowed; the check runs on both.
            let value = match (typed.is_empty(), q.default) {
                (true, Some(d)) => d.to_owned(),
                _ => typed.clone(),
            };
            let verdict = if value.is_empty() && !q.allow_empty {
                Err("an answer is needed".to_owned())
            } else {
                (q.check)(&value)
            };
            match (verdict, refusal) {
                (Ok(()), None) => return Ok(value),
                (Err(e), Some(because)) if e.contains(&because) => continue,
                (Err(e), Some(because)) => {
                    panic!(
                        "`{typed}` at `{}` was refused with {e:?}, not {because:?}",
                        q.label
                    )
                }
                (Ok(()), Some(because)) => panic!(
                    "`{typed}` at `{}` was accepted; the script expected it refused ({because:?})",
                    q.label
                ),
                (Err(e), None) => panic!("`{typed}` at `{}` was refused: {e}", q.label),
            }
        }
    }

    fn ask_secret(&self, label: &str) -> anyhow::Result<String> {
        match self.next("secret", label, String::new()) {
            Reply::Secret(s) => Ok(s),
            Reply::Interrupt => Err(interrupted("interrupted")),
            other => unexpected("secret", label, &other),
        }
    }

    fn ask_select(&self, label: &str, items: &[String], default: usize) -> anyhow::Result<usize> {
        let shown = items
            .iter()
            .enumerate()
            .map(|(i, item)| format!("{}{item}", if i == default { "*" } else { "" }))
            .collect::<Vec<_>>()
            .join(", ");
        match self.next("select", label, format!("[{shown}]")) {
            Reply::Choose(item) => Ok(find(label, items, &item)),
            Reply::Enter => Ok(default),
            Reply::Interrupt => Err(interrupted("interrupted")),
            other => unexpected("select", label, &other),
        }
    }

    fn ask_multi_select(
        &self,
        label: &str,
        items: &[String],
        checked: &[bool],
    ) -> anyhow::Result<Vec<usize>> {
        let shown = items
            .iter()
            .zip(checked)
            .map(|(item, on)| format!("{}{item}", if *on { "*" } else { "" }))
            .collect::<Vec<_>>()
            .join(", ");
        match self.next("multi-select", label, format!("[{shown}]")) {
            Reply::Tick(wanted) => {
                let mut ticked: Vec<usize> = wanted.iter().map(|w| find(label, items, w)).collect();
                ticked.sort_unstable();
                Ok(ticked)
            }
            Reply::Enter => Ok((0..items.len()).filter(|&i| checked[i]).collect()),
            Reply::Interrupt => Err(interrupted("interrupted")),
            other => unexpected("multi-select", label, &other),
        }
    }

    fn ask_confirm(&self, question: &str, default: bool) -> anyhow::Result<bool> {
        let shown = if default { "[Y/n]" } else { "[y/N]" };
        match self.next("confirm", question, shown.to_owned()) {
            Reply::Confirm(yes) => Ok(yes),
            Reply::Enter => Ok(default),
            Reply::Interrupt => Err(interrupted("interrupted")),
            other => unexpected("confirm", question, &other),
        }
    }

    fn status_line(&self, text: &str) {
        let mut script = self.0.borrow_mut();
        script.log.push(format!("status: {text}"));
        script.status.push(text.to_owned());
    }
}

impl Drop for ScriptedPrompter {
    fn drop(&mut self) {
        if Rc::strong_count(&self.0) == 1 && !std::thread::panicking() {
            self.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(p: &dyn Prompter) -> anyhow::Result<(String, u32)> {
        let name = p.text("name", "--name", Some("default"))?;
        let n = p.parsed("count", "--count", None, |t| t.parse::<u32>())?;
        Ok((name, n))
    }

    #[test]
    fn answers_in_order_and_bad_answers_are_asked_again() {
        let p = ScriptedPrompter::new()
            .enter("Name")
            .refused("Count", "many", "invalid digit")
            .text("Count", "3");
        assert_eq!(asked(&p).unwrap(), ("default".to_owned(), 3));
        p.finish();
    }

    #[test]
    fn not_a_terminal_names_the_flag() {
        let p = ScriptedPrompter::not_a_terminal();
        let e = asked(&p).unwrap_err();
        assert!(e.to_string().contains("`--name`"), "{e}");
    }

    #[test]
    fn interrupt_is_a_cancel() {
        let p = ScriptedPrompter::new().interrupt("Name");
        let e = asked(&p).unwrap_err();
        assert_eq!(crate::exit::kind_of(&e).exit_code(), 130);
    }

    #[test]
    #[should_panic(expected = "but the wizard asks text `Name`")]
    fn a_different_question_fails() {
        let p = ScriptedPrompter::new().text("Budget", "10");
        let _ = asked(&p);
    }

    #[test]
    #[should_panic(expected = "no answer left for text `Count`")]
    fn running_out_of_answers_fails() {
        let p = ScriptedPrompter::new().enter("Name");
        let _ = asked(&p);
    }

    #[test]
    #[should_panic(expected = "answers left over")]
    fn leftover_answers_fail() {
        let p = ScriptedPrompter::new()
            .enter("Name")
            .text("Count", "1")
            .confirm("Apply?", true);
        let _ = asked(&p);
    }

    #[test]
    fn choices_are_named_by_their_text() {
        let items = ["gpt-4o", "gpt-4o-mini", "o1"].map(str::to_owned);
        let p = ScriptedPrompter::new()
            .choose("Model", "gpt-4o")
            .tick("Models", &["o1", "gpt-4o-m"])
            .enter("Models");
        let p: &dyn Prompter = &p;
        assert_eq!(p.select("model", "--model", &items, 2).unwrap(), 0);
        assert_eq!(
            p.multi_select("models", "--models", &items, &[true, false, false])
                .unwrap(),
            [1, 2]
        );
        assert_eq!(
            p.multi_select("models", "--models", &items, &[true, false, false])
                .unwrap(),
            [0]
        );
    }
}
