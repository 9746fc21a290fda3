//! The reaction names the server accepts (compatibility data from the Python original),
//! embedded once and served to the client by `GET /api/reactions`.

const TSV: &str = include_str!("reactions.tsv");

pub struct Reaction {
    pub name: &'static str,
    pub emoji: &'static str,
    pub label: &'static str,
}

/// Every reaction in file order.
pub fn all() -> impl Iterator<Item = Reaction> {
    TSV.lines().filter_map(|line| {
        let mut cols = line.split('\t');
        let (name, emoji, label) = (cols.next()?, cols.next()?, cols.next()?);
        (!name.is_empty()).then_some(Reaction { name, emoji, label })
    })
}

pub fn is_known(name: &str) -> bool {
    all().any(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_parses() {
        let all: Vec<_> = super::all().collect();
        assert!(all.len() > 400);
        assert_eq!(all[0].name, "thumbsup");
        assert_eq!(all[0].emoji, "👍");
        assert!(super::is_known("heart"));
        assert!(!super::is_known("Heart"));
        assert!(!super::is_known(""));
    }
}
