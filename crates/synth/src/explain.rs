//! The "sql-explain" task: SQL in, one English sentence out. The sentence is the example's own
//! question turned into a statement of what the query returns ("How many bugs …?" → "Counts
//! how many bugs …."), so every explanation is as verified as the SQL it was generated with.

use text2sql_sql::eval::AlpacaRow;

/// The instruction of an explain row.
pub const EXPLAIN_INSTRUCTION: &str = "Explain in one sentence what the SQL query returns.";

/// The serving prompt of the sql-explain adapter (exact).
pub fn explain_prompt(sql: &str) -> String {
    format!("### SQL:\n{}\n\nExplain in one sentence what this query returns.", sql.trim())
}

/// Imperative openers and their third-person forms.
const VERBS: &[(&str, &str)] = &[
    ("show me", "Shows"),
    ("give me", "Gives"),
    ("tell me", "Tells"),
    ("break down", "Breaks down"),
    ("sum up", "Sums up"),
    ("add up", "Adds up"),
    ("list", "Lists"),
    ("show", "Shows"),
    ("find", "Finds"),
    ("count", "Counts"),
    ("get", "Gets"),
    ("display", "Displays"),
    ("return", "Returns"),
    ("compute", "Computes"),
    ("calculate", "Calculates"),
    ("rank", "Ranks"),
    ("name", "Names"),
];

fn rest_after<'a>(q: &'a str, prefix: &str) -> Option<&'a str> {
    let head = q.get(..prefix.len())?;
    let rest = &q[prefix.len()..];
    (head.eq_ignore_ascii_case(prefix) && (rest.is_empty() || rest.starts_with(' '))).then(|| rest.trim_start())
}

/// The question as a statement of what the query returns.
pub fn explanation(question: &str) -> String {
    let q = question.trim().trim_end_matches(['?', '.', '!']).trim();
    let sentence = if let Some(r) = rest_after(q, "how many") {
        format!("Counts how many {r}")
    } else if let Some(r) = ["what is", "what's", "what are", "what was", "what were"].iter().find_map(|p| rest_after(q, p)) {
        format!("Returns {r}")
    } else if let Some(r) = ["which", "who", "what"].iter().find_map(|p| rest_after(q, p).map(|r| (p, r))) {
        format!("Finds {} {}", r.0, r.1)
    } else if let Some((verb, r)) = VERBS.iter().find_map(|(p, v)| rest_after(q, p).map(|r| (v, r))) {
        format!("{verb} {r}")
    } else {
        // "For each …, …", "On average, …", "Across how many …": keep the wording.
        let mut c = q.chars();
        let first = c.next().map(|f| f.to_lowercase().collect::<String>()).unwrap_or_default();
        format!("Answers: {first}{}", c.as_str())
    };
    format!("{}.", sentence.trim_end())
}

/// An Alpaca row of the explain task for a gold SQL and its question.
pub fn explain_row(sql: &str, question: &str) -> AlpacaRow {
    AlpacaRow { instruction: EXPLAIN_INSTRUCTION.to_string(), input: explain_prompt(sql), output: explanation(question) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_become_statements() {
        for (q, want) in [
            ("How many bugs have a date reported from 16 July 2023 onwards?", "Counts how many bugs have a date reported from 16 July 2023 onwards."),
            ("how many users?", "Counts how many users."),
            ("What is the total grade of all student riders?", "Returns the total grade of all student riders."),
            ("What's the average fare", "Returns the average fare."),
            ("Which venues have a show with ticket price above 160?", "Finds which venues have a show with ticket price above 160."),
            ("List the items with unit cost greater than 96.", "Lists the items with unit cost greater than 96."),
            ("show scholarships ordered by amount, largest first", "Shows scholarships ordered by amount, largest first."),
            ("Show me the 3 newest orders", "Shows the 3 newest orders."),
            ("Break down the average score by team.", "Breaks down the average score by team."),
            ("For each user, what is the total likes?", "Answers: for each user, what is the total likes."),
            ("Listings over 100", "Answers: listings over 100."),
        ] {
            assert_eq!(explanation(q), want, "{q}");
        }
    }

    #[test]
    fn rows_use_the_exact_prompt() {
        let r = explain_row("SELECT COUNT(*) FROM users\n", "How many users?");
        assert_eq!(r.input, "### SQL:\nSELECT COUNT(*) FROM users\n\nExplain in one sentence what this query returns.");
        assert_eq!(r.output, "Counts how many users.");
    }
}
