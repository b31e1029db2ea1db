//! The second template set ([`crate::phrasings::PHRASINGS_V2`]): compound questions analysts ask
//! that the first set lacks — a flag or a date combined with a numeric filter, a total over a
//! period, parents ranked by an aggregate of their children, grouped counts within a period,
//! groups ordered by their aggregate.

use rand::seq::IndexedRandom;
use rand::Rng;

use super::{base_vars, is_additive, is_cat, is_date, is_num, is_summable, nice, period, pick_join, ymd, Built, Ctx, Join};
use crate::catalog::Role;
use crate::instance::{fmt_num, Val};

/// The periods a "in {T}" question names.
const PERIODS: [&str; 3] = ["month", "quarter", "year"];

/// flag_and_gt: "Which seasonal drinks have a price above 5?"; date_and_gt: "Which stores have an
/// opening date before 2020 and a seat count above 30?". Both literals come from one row.
pub(super) fn mixed_filter(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let (t, a) = if key == "flag_and_gt" { x.pick_col(|c| c.spec.role == Role::Flag)? } else { x.pick_col(is_date)? };
    let n = x.pick_col_in(t, is_num)?;
    let rows: Vec<Vec<Val>> = x.rows_with(t, a, n).into_iter().filter(|r| key != "flag_and_gt" || r[a] == Val::Int(1)).cloned().collect();
    let row = rows.choose(x.rng)?;
    let thr = nice(row[n].num()? * 0.8);
    let mut vars = base_vars(x, t, n);
    vars.push(("N", fmt_num(thr)));
    let (tn, an, nn) = (x.tn(t).to_string(), x.cn(t, a).to_string(), x.cn(t, n).to_string());
    let dn = x.cn(t, x.disp(t)).to_string();
    let first = if key == "flag_and_gt" {
        vars.push(("W", x.flag_words(t, a)));
        format!("{an} = 1")
    } else {
        let (y, _, _) = ymd(&row[a])?;
        vars.push(("C2", x.label(t, a)));
        if x.rng.random_bool(0.5) {
            vars.push(("T", format!("before {}", y + 1)));
            format!("{an} < '{}-01-01'", y + 1)
        } else {
            let (year, cond) = period("year", &an, &row[a], x.rng)?;
            vars.push(("T", format!("in {year}")));
            cond
        }
    };
    Some((vars, format!("SELECT {dn} FROM {tn} WHERE {first} AND {nn} > {}", fmt_num(thr))))
}

/// "What was the total quantity of sales in July 2024?"
pub(super) fn sum_period(x: &mut Ctx<'_>) -> Option<Built> {
    let (t, d) = x.pick_col(is_date)?;
    let n = x.pick_col_in(t, is_additive)?;
    let v = x.pick_val(t, d)?;
    let mut vars = base_vars(x, t, n);
    vars.push(("C2", x.label(t, d)));
    let (tn, dn, nn) = (x.tn(t).to_string(), x.cn(t, d).to_string(), x.cn(t, n).to_string());
    let p = *PERIODS.choose(x.rng)?;
    let (phrase, cond) = period(p, &dn, &v, x.rng)?;
    vars.push(("T", phrase));
    Some((vars, format!("SELECT SUM({nn}) FROM {tn} WHERE {cond}")))
}

/// join_sum_top: "Top 3 drinks by units sold"; join_sum_top1: "Which store sold the most in total?".
pub(super) fn join_rank(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let Join { ch, pa_, ca, pd, pk, from, mut vars, .. } = pick_join(x)?;
    let c = x.pick_col_in(ch, is_additive)?;
    vars.push(("cC", x.label(ch, c)));
    let total = format!("SUM({ca}.{})", x.cn(ch, c));
    Some(if key == "join_sum_top1" {
        (vars, format!("SELECT {pa_}.{pd} FROM {from} GROUP BY {pa_}.{pk} ORDER BY {total} DESC LIMIT 1"))
    } else {
        let k = x.rng.random_range(3..=5);
        vars.push(("K", k.to_string()));
        (vars, format!("SELECT {pa_}.{pd}, {total} FROM {from} GROUP BY {pa_}.{pk} ORDER BY {total} DESC LIMIT {k}"))
    })
}

/// join_period_count: "How many registrations did each event have in 2024?"; join_period_top:
/// "Which barista had the most sales in 2024?". The period is on a date of the child.
pub(super) fn join_period(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let Join { ch, pa_, ca, pd, pk, from, mut vars, .. } = pick_join(x)?;
    let d = x.pick_col_in(ch, is_date)?;
    let v = x.pick_val(ch, d)?;
    vars.push(("cC", x.label(ch, d)));
    let p = *PERIODS.choose(x.rng)?;
    let (phrase, cond) = period(p, &format!("{ca}.{}", x.cn(ch, d)), &v, x.rng)?;
    vars.push(("T", phrase));
    Some(if key == "join_period_top" {
        (vars, format!("SELECT {pa_}.{pd} FROM {from} WHERE {cond} GROUP BY {pa_}.{pk} ORDER BY COUNT(*) DESC LIMIT 1"))
    } else {
        (vars, format!("SELECT {pa_}.{pd}, COUNT(*) FROM {from} WHERE {cond} GROUP BY {pa_}.{pk}"))
    })
}

/// group_count_sorted: "Speakers per country, most first"; group_avg_sorted: "Average wage per
/// store, highest first"; group_sum_top: "Which region has the highest total revenue?".
pub(super) fn group_sorted(key: &str, x: &mut Ctx<'_>) -> Option<Built> {
    let (t, c) = x.pick_col(is_cat)?;
    let mut vars = base_vars(x, t, c);
    let (tn, cn) = (x.tn(t).to_string(), x.cn(t, c).to_string());
    if key == "group_count_sorted" {
        return Some((vars, format!("SELECT {cn}, COUNT(*) FROM {tn} GROUP BY {cn} ORDER BY COUNT(*) DESC")));
    }
    let n = x.pick_col_in(t, if key == "group_sum_top" { is_additive } else { is_summable })?;
    vars.push(("N", x.label(t, n)));
    let nn = x.cn(t, n).to_string();
    Some((vars, if key == "group_avg_sorted" {
        format!("SELECT {cn}, AVG({nn}) FROM {tn} GROUP BY {cn} ORDER BY AVG({nn}) DESC")
    } else {
        format!("SELECT {cn} FROM {tn} GROUP BY {cn} ORDER BY SUM({nn}) DESC LIMIT 1")
    }))
}
