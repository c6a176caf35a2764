//! Text for people at a terminal: the model checker's report and the demo wrap their prose to
//! [`WIDTH`] columns.

/// The width the reports fit: a terminal's default.
pub const WIDTH: usize = 80;

/// `label` followed by `text` wrapped at word boundaries into lines of at most `width`
/// characters, the lines after the first indented as far as the label reaches; a word longer
/// than a line stands alone. The lines are joined by newlines, with none at the end.
pub fn wrap(label: &str, text: &str, width: usize) -> String {
    let indent = label.chars().count();
    let mut wrapped = String::from(label);
    let mut line_length = indent;
    for word in text.split_whitespace() {
        let length = word.chars().count();
        if line_length == indent {
            line_length += length;
        } else if line_length + 1 + length <= width {
            wrapped.push(' ');
            line_length += 1 + length;
        } else {
            wrapped.push('\n');
            wrapped.push_str(&" ".repeat(indent));
            line_length = indent + length;
        }
        wrapped.push_str(word);
    }
    wrapped
}

/// The widest line of `text`, in characters.
pub fn widest_line(text: &str) -> usize {
    text.lines()
        .map(|line| line.chars().count())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_before_the_width_under_the_label() {
        let wrapped = wrap("1. ", "one two three four five", 9);
        assert_eq!(wrapped, "1. one\n   two\n   three\n   four\n   five");
        assert!(widest_line(&wrapped) <= 9);
    }

    #[test]
    fn a_word_longer_than_the_width_stands_alone() {
        assert_eq!(wrap("", "a 0123456789 b", 5), "a\n0123456789\nb");
    }

    #[test]
    fn runs_of_spaces_and_newlines_become_one_space() {
        assert_eq!(wrap("", "a  b\n c", 80), "a b c");
    }
}
