//! Question phrasings per template. Placeholders: {P} plural noun, {S} singular noun,
//! {C} column label, {V} value, {V2} second value, {N} number, {A}/{B} range ends, {K} count,
//! {Cs} plural column label, {W} flag words, {T} time phrase, {cP}/{cS}/{cC} child table, {pP}/{pS}/{pC} parent table.

/// (key, template kind, phrasings).
pub type Phrasing = (&'static str, &'static str, &'static [&'static str]);

/// Which templates a corpus is drawn from (`data synth --templates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TemplateSet {
    /// The first set, [`PHRASINGS`]: what text2sql-qlora's training stages 1 to 5 drew from;
    /// keeps their corpora byte-identical.
    V1,
    /// The first set plus [`PHRASINGS_V2`], compound questions.
    #[default]
    V2,
}

impl std::str::FromStr for TemplateSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "v1" | "1" => Ok(TemplateSet::V1),
            "v2" | "2" => Ok(TemplateSet::V2),
            other => Err(format!("unknown template set {other:?} (use v1 or v2)")),
        }
    }
}

impl TemplateSet {
    /// Its phrasings, the first set first.
    pub fn phrasings(self) -> impl Iterator<Item = &'static Phrasing> {
        let extra: &'static [Phrasing] = if self == TemplateSet::V2 { PHRASINGS_V2 } else { &[] };
        PHRASINGS.iter().chain(extra)
    }

    /// Template kinds (coverage units), each produced by at least one phrasing key.
    pub fn kinds(self) -> Vec<&'static str> {
        let mut v: Vec<&str> = self.phrasings().map(|p| p.1).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Number of phrasings in all.
    pub fn phrasing_count(self) -> usize {
        self.phrasings().map(|p| p.2.len()).sum()
    }
}

/// The first template set.
pub const PHRASINGS: &[Phrasing] = &[
    ("eq", "filter_eq", &[
        "List the {P} whose {C} is {V}.",
        "Which {P} have {V} as their {C}?",
        "Show me all {P} with a {C} of {V}.",
        "Find every {S} where the {C} is '{V}'.",
        "{P} with {C} {V}?",
    ]),
    ("gt", "compare", &[
        "Which {P} have a {C} above {N}?",
        "List the {P} with {C} greater than {N}.",
        "Show {P} whose {C} exceeds {N}.",
        "Find all {P} where {C} is more than {N}.",
    ]),
    ("lt", "compare", &[
        "Which {P} have a {C} below {N}?",
        "List the {P} with {C} less than {N}.",
        "Show {P} whose {C} is under {N}.",
    ]),
    ("between", "between", &[
        "List the {P} with {C} between {A} and {B}.",
        "Which {P} have a {C} from {A} to {B}, inclusive?",
        "Show {P} whose {C} lies in the range {A}-{B}.",
    ]),
    ("starts", "like", &[
        "Which {P} have a {C} starting with '{V}'?",
        "List {P} whose {C} begins with {V}.",
        "Find the {P} with a {C} that starts with \"{V}\".",
    ]),
    ("contains", "like", &[
        "Find {P} whose {C} contains '{V}'.",
        "Which {P} have '{V}' somewhere in their {C}?",
        "Show every {S} with {V} in the {C}.",
    ]),
    ("in", "in_list", &[
        "List the {P} whose {C} is {V} or {V2}.",
        "Which {P} have a {C} of either {V} or {V2}?",
        "Show {P} with {C} in ({V}, {V2}).",
    ]),
    ("null", "null", &[
        "Which {P} have no {C} recorded?",
        "List the {P} that are missing a {C}.",
        "Find {P} where the {C} is empty.",
    ]),
    ("notnull_count", "null", &[
        "How many {P} have a {C} on file?",
        "Count the {P} whose {C} is filled in.",
    ]),
    ("flag_true", "flag", &[
        "Which {P} are marked as {W}?",
        "List all {P} where {C} is true.",
        "Show me the {W} {P}.",
    ]),
    ("flag_count_false", "flag", &[
        "How many {P} are not {W}?",
        "Count the {P} that are not flagged as {W}.",
    ]),
    ("count_all", "count", &[
        "How many {P} are there?",
        "What is the total number of {P}?",
        "Count all {P}.",
    ]),
    ("count_eq", "count", &[
        "How many {P} have {C} {V}?",
        "Count the {P} whose {C} is {V}.",
        "What is the number of {P} with a {C} of {V}?",
    ]),
    ("sum", "aggregate", &["What is the total {C} of all {P}?", "Sum up the {C} across {P}.", "What is the combined {C} of all {P}?"]),
    ("avg", "aggregate", &["What is the average {C} of {P}?", "What's the mean {C} across all {P}?", "On average, what {C} do {P} have?"]),
    ("max", "aggregate", &["What is the highest {C} among {P}?", "What's the maximum {C} of any {S}?", "Find the largest {C} recorded for {P}."]),
    ("min", "aggregate", &["What is the lowest {C} among {P}?", "What's the minimum {C} of any {S}?", "Find the smallest {C} recorded for {P}."]),
    ("sum_where", "aggregate", &["What is the total {C} of {P} whose {C2} is {V}?", "Add up the {C} for {P} with {C2} {V}."]),
    ("avg_where", "aggregate", &["What is the average {C} of {P} with {C2} {V}?", "For {P} whose {C2} is {V}, what is the mean {C}?"]),
    ("group_count", "group_by", &[
        "How many {P} are there per {C}?",
        "Count the {P} by {C}.",
        "For each {C}, how many {P} are there?",
        "Break down the number of {P} by {C}.",
    ]),
    ("group_sum", "group_by", &["What is the total {N} of {P} for each {C}?", "Show the sum of {N} per {C}.", "For every {C}, add up the {N} of its {P}."]),
    ("group_avg", "group_by", &["What is the average {N} of {P} for each {C}?", "Show the mean {N} per {C}.", "For every {C}, what is the average {N}?"]),
    ("having", "having", &[
        "Which {C} values have more than {K} {P}?",
        "List every {C} shared by more than {K} {P}.",
        "Find the {Cs} with over {K} {P}.",
    ]),
    ("top_desc", "order_limit", &[
        "What are the top {K} {P} by {C}?",
        "List the {K} {P} with the highest {C}.",
        "Show the {K} {P} with the largest {C}, highest first.",
    ]),
    ("top_asc", "order_limit", &[
        "Which {K} {P} have the lowest {C}?",
        "List the {K} {P} with the smallest {C}.",
        "Show the bottom {K} {P} ranked by {C}.",
    ]),
    ("top_one", "order_limit", &["Which {S} has the highest {C}?", "Show the {S} with the largest {C}.", "Which {S} has the greatest {C}?"]),
    ("sorted", "order_limit", &["List all {P} sorted by {C} from highest to lowest.", "Show {P} ordered by {C}, largest first."]),
    ("distinct", "distinct", &[
        "What are the different {Cs} of the {P}?",
        "List each distinct {C} among {P}.",
        "Which {C} values occur for {P}?",
    ]),
    ("count_distinct", "distinct", &[
        "How many different {Cs} do the {P} have?",
        "Count the distinct {Cs} across all {P}.",
        "Across how many different {Cs} are the {P} spread?",
    ]),
    ("eq_and_gt", "filter_and", &[
        "List the {P} with {C2} {V} and a {C} above {N}.",
        "Which {P} whose {C2} is {V} have {C} greater than {N}?",
        "Show {P} in {C2} {V} where the {C} exceeds {N}.",
    ]),
    ("eq_or", "filter_and", &[
        "Which {P} have {C2} {V} or a {C} below {N}?",
        "List {P} whose {C2} is {V}, or whose {C} is less than {N}.",
    ]),
    ("above_avg", "subquery", &[
        "Which {P} have a {C} above the average?",
        "List the {P} whose {C} is higher than the average {C}.",
        "Show {P} with an above-average {C}.",
    ]),
    ("join_filter", "join", &[
        "List the {cP} of {pP} whose {pC} is {V}.",
        "Which {cP} belong to a {pS} with {pC} {V}?",
        "Show all {cP} for {pP} where the {pC} is {V}.",
    ]),
    ("join_distinct", "join", &[
        "Which {pP} have a {cS} with {cC} {V}?",
        "List the {pP} that have at least one {cS} whose {cC} is {V}.",
        "Find {pP} linked to {cP} with a {cC} of {V}.",
    ]),
    ("join_count", "join_group", &[
        "How many {cP} does each {pS} have?",
        "Count the {cP} for every {pS}.",
        "For each {pS}, show the number of {cP}.",
    ]),
    ("join_sum", "join_group", &[
        "What is the total {cC} of {cP} for each {pS}?",
        "For every {pS}, add up the {cC} of its {cP}.",
        "Show each {pS} with the sum of {cC} over its {cP}.",
    ]),
    ("join_cat_avg", "join_group", &[
        "What is the average {cC} of {cP} per {pC}?",
        "For each {pC}, what is the mean {cC} of the {cP}?",
        "Break down the average {cC} of {cP} by {pS} {pC}.",
    ]),
    ("join_top", "join_group", &[
        "Which {pS} has the most {cP}?",
        "Find the {pS} with the largest number of {cP}.",
        "Which {pS} is linked to the most {cP}?",
    ]),
    ("month", "date_month", &[
        "Which {P} have a {C} in {T}?",
        "List the {P} with {C} during {T}.",
        "How many {P} had their {C} in {T}?",
    ]),
    ("quarter", "date_quarter", &[
        "List the {P} whose {C} falls in {T}.",
        "Which {P} have a {C} in {T}?",
        "How many {P} have a {C} in {T}?",
    ]),
    ("since", "date_since", &[
        "Which {P} have a {C} since {T}?",
        "List {P} with {C} on or after {T}.",
        "How many {P} have a {C} from {T} onwards?",
    ]),
    ("before", "date_since", &["Which {P} have a {C} before {T}?", "List {P} with a {C} earlier than {T}."]),
    ("year", "date_year", &["List the {P} with a {C} in {T}.", "How many {P} have a {C} in the year {T}?", "Which {P} had their {C} in {T}?"]),
    ("nested_in", "nested_in", &[
        "Which {pP} have at least one {cS} with {cC} {V}?",
        "List {pP} that have {cP} whose {cC} is {V}.",
        "Find the {pP} with any {cS} where the {cC} is {V}.",
    ]),
    ("nested_in_gt", "nested_in", &[
        "Which {pP} have a {cS} with {cC} above {N}?",
        "List {pP} that have any {cP} whose {cC} exceeds {N}.",
    ]),
    ("not_in", "not_in", &[
        "Which {pP} have no {cP}?",
        "List the {pP} without any {cP}.",
        "Find {pP} that have never had a {cS}.",
    ]),
    ("not_in_cond", "not_in", &[
        "Which {pP} have no {cP} with {cC} {V}?",
        "List the {pP} that have no {cS} whose {cC} is {V}.",
    ]),
];

/// The second template set: compound questions analysts ask that the first set lacks.
/// {C2} is a second column label (a date's, in the period templates), {T} a period with its
/// preposition in `date_and_gt` ("before 2021", "in 2024") and without it elsewhere.
pub const PHRASINGS_V2: &[Phrasing] = &[
    ("flag_and_gt", "filter_mixed", &[
        "Which {W} {P} have a {C} above {N}?",
        "List the {P} that are {W} and have a {C} greater than {N}.",
        "{P} marked as {W} with a {C} over {N}",
        "Show the {W} {P} whose {C} exceeds {N}.",
    ]),
    ("date_and_gt", "filter_mixed", &[
        "Which {P} have a {C2} {T} and a {C} above {N}?",
        "List the {P} with a {C} over {N} and a {C2} {T}.",
        "{P} with a {C2} {T} whose {C} is more than {N}",
        "Show {P} where the {C} exceeds {N} and the {C2} is {T}.",
    ]),
    ("sum_period", "aggregate_period", &[
        "What was the total {C} of {P} in {T}?",
        "Add up the {C} of all {P} with a {C2} in {T}.",
        "Total {C} in {T}?",
        "How much {C} did the {P} come to in {T}?",
        "What is the sum of {C} for {P} whose {C2} falls in {T}?",
    ]),
    ("join_sum_top", "join_rank", &[
        "What are the top {K} {pP} by total {cC} of their {cP}?",
        "List the {K} {pP} with the highest combined {cC}.",
        "Top {K} {pP} by {cC}",
        "Rank the {pP} by the sum of {cC} over their {cP} and show the first {K}.",
    ]),
    ("join_sum_top1", "join_rank", &[
        "Which {pS} has the highest total {cC}?",
        "Which {pS} accounts for the most {cC} across its {cP}?",
        "Find the {pS} whose {cP} add up to the largest {cC}.",
    ]),
    ("join_period_count", "join_period", &[
        "How many {cP} did each {pS} have in {T}?",
        "For each {pS}, count the {cP} with a {cC} in {T}.",
        "Number of {cP} per {pS} in {T}",
    ]),
    ("join_period_top", "join_period", &[
        "Which {pS} had the most {cP} in {T}?",
        "Find the {pS} with the largest number of {cP} whose {cC} is in {T}.",
        "In {T}, which {pS} had the most {cP}?",
    ]),
    ("group_count_sorted", "group_sorted", &[
        "How many {P} are there per {C}, most first?",
        "Count the {P} by {C}, largest groups first.",
        "{P} per {C}, sorted by count",
    ]),
    ("group_avg_sorted", "group_sorted", &[
        "What is the average {N} of {P} for each {C}, highest first?",
        "Show the mean {N} per {C}, from highest to lowest.",
        "Average {N} by {C}, best first",
    ]),
    ("group_sum_top", "group_sorted", &[
        "Which {C} has the highest total {N}?",
        "Which {C} has the largest combined {N} of {P}?",
        "Find the {C} whose {P} add up to the most {N}.",
    ]),
];
