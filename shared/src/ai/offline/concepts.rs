//! Loading the data files and compiling their concept definitions into `Concept`s: checking references,
//! stemming terms and expanding them with synonyms and technology spellings, and computing the
//! stems that recognise a concept in someone else's question.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::text::{self, Stems};
use super::vocabulary::{Ask, Concept, Kind, Language, Point, Scope, Templates, Vocabulary, VocabularyFile};

/// The data files (`data/*.json`), deflated by the build script (`shared/build.rs`).
const VOCABULARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vocabulary.json.deflate"));
const CONCEPTS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/concepts.json.deflate"));
const TECHNOLOGY_CONCEPTS: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/technology-concepts.json.deflate"));
const TEMPLATES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/templates.json.deflate"));
const LANGUAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/language.json.deflate"));

/// One data file, inflated and parsed.
fn parse<T: serde::de::DeserializeOwned>(file: &str, deflated: &[u8]) -> Result<T, String> {
    let json = miniz_oxide::inflate::decompress_to_vec(deflated).map_err(|e| format!("{file}: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("{file}: {e}"))
}

/// The embedded data. An error means a data file is malformed; the tests load it, so a
/// release never carries one.
pub fn load_vocabulary() -> Result<Vocabulary, String> {
    let vocabulary: VocabularyFile = parse("vocabulary.json", VOCABULARY)?;
    let concepts: ConceptsFile = parse("concepts.json", CONCEPTS)?;
    let technology_concepts: BTreeMap<String, Vec<ConceptDef>> =
        parse("technology-concepts.json", TECHNOLOGY_CONCEPTS)?;
    let templates: Templates = parse("templates.json", TEMPLATES)?;
    let language: Language = parse("language.json", LANGUAGE)?;
    let stems = Stems::new(&language.stopwords);
    let mut compiler = Compiler::new(&vocabulary, &language, &stems)?;
    for def in concepts.general {
        compiler.add(def, Scope::General)?;
    }
    for (category, defs) in concepts.packs {
        let index = compiler.category(&category)?;
        for def in defs {
            compiler.add(def, Scope::Category(index))?;
        }
    }
    for (technology, defs) in technology_concepts {
        let index = compiler.technology(&technology)?;
        for def in defs {
            compiler.add(def, Scope::Technology(index))?;
        }
    }
    let concepts = compiler.concepts;
    Ok(Vocabulary {
        categories: vocabulary.categories,
        technologies: vocabulary.technologies,
        domains: vocabulary.domains,
        concepts,
        templates,
        language,
        stems,
    })
}

#[derive(Deserialize)]
pub(super) struct ConceptDef {
    pub(super) id: String,
    pub(super) topic: String,
    pub(super) level: u8,
    pub(super) ask: BTreeMap<Kind, String>,
    #[serde(deserialize_with = "ordered_pairs")]
    pub(super) points: Vec<(String, String)>,
    pub(super) answer: String,
}

#[derive(Deserialize)]
pub(super) struct ConceptsFile {
    pub(super) general: Vec<ConceptDef>,
    pub(super) packs: BTreeMap<String, Vec<ConceptDef>>,
}

/// Compiles concept definitions and checks their references.
pub(super) struct Compiler<'a> {
    vocabulary: &'a VocabularyFile,
    stems: &'a Stems,
    /// A lowercase spelling mapped to every spelling it is interchangeable with (its synonym
    /// groups and, for a technology name, all of that technology's names).
    spellings: HashMap<String, Vec<String>>,
    /// Terms already expanded: the same terms recur across many points.
    expanded: HashMap<String, Vec<Vec<String>>>,
    stem_memo: HashMap<String, String>,
    term_memo: HashMap<String, Vec<String>>,
    ids: HashSet<String>,
    pub(super) concepts: Vec<Concept>,
}

impl<'a> Compiler<'a> {
    pub(super) fn new(
        vocabulary: &'a VocabularyFile,
        language: &Language,
        stems: &'a Stems,
    ) -> Result<Self, String> {
        let categories: HashSet<&str> = vocabulary.categories.iter().map(|c| c.id.as_str()).collect();
        let mut technology_ids = HashSet::new();
        for technology in &vocabulary.technologies {
            if !categories.contains(technology.category.as_str()) {
                return Err(format!(
                    "technology {}: unknown category {}",
                    technology.id, technology.category
                ));
            }
            if !technology_ids.insert(technology.id.clone()) {
                return Err(format!("technology {} is listed twice", technology.id));
            }
            for alternative in &technology.alternatives {
                if !vocabulary.technologies.iter().any(|t| &t.id == alternative) {
                    return Err(format!("technology {}: unknown alternative {alternative}", technology.id));
                }
            }
        }
        let mut spellings: HashMap<String, Vec<String>> = HashMap::new();
        let groups =
            language.synonyms.iter().map(|group| group.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>());
        let technology_groups = vocabulary.technologies.iter().map(|t| {
            t.aliases
                .iter()
                .chain(&t.guarded)
                .chain(std::iter::once(&t.name))
                .map(|s| s.to_lowercase())
                .collect()
        });
        for group in groups.chain(technology_groups) {
            for spelling in &group {
                spellings.entry(spelling.clone()).or_default().extend(group.iter().cloned());
            }
        }
        Ok(Compiler {
            vocabulary,
            stems,
            spellings,
            expanded: HashMap::new(),
            stem_memo: HashMap::new(),
            term_memo: HashMap::new(),
            ids: HashSet::new(),
            concepts: Vec::new(),
        })
    }

    pub(super) fn category(&self, id: &str) -> Result<usize, String> {
        self.vocabulary
            .categories
            .iter()
            .position(|c| c.id == id)
            .ok_or(format!("unknown category pack {id}"))
    }

    pub(super) fn technology(&self, id: &str) -> Result<usize, String> {
        self.vocabulary.technologies.iter().position(|t| t.id == id).ok_or(format!("unknown technology {id}"))
    }

    /// A term's stems; a term made only of stopwords ("as", "do") keeps them.
    fn term_stems(&mut self, term: &str) -> Vec<String> {
        if let Some(done) = self.term_memo.get(term) {
            return done.clone();
        }
        let content = self.stems.content_stems_memo(term, &mut self.stem_memo);
        let stems = if content.is_empty() {
            text::words(term).iter().map(|w| self.stems.stem(w)).collect()
        } else {
            content
        };
        self.term_memo.insert(term.to_owned(), stems.clone());
        stems
    }

    /// A term as stem sequences: itself and everything interchangeable with it.
    fn expand(&mut self, term: &str) -> Vec<Vec<String>> {
        let lower = term.trim().to_lowercase();
        if let Some(done) = self.expanded.get(&lower) {
            return done.clone();
        }
        let mut spellings = vec![lower.clone()];
        spellings.extend(self.spellings.get(&lower).into_iter().flatten().cloned());
        let mut variants: Vec<Vec<String>> =
            spellings.iter().map(|s| self.term_stems(s)).filter(|v| !v.is_empty()).collect();
        variants.sort();
        variants.dedup();
        self.expanded.insert(lower, variants.clone());
        variants
    }

    pub(super) fn add(&mut self, def: ConceptDef, scope: Scope) -> Result<(), String> {
        let id = def.id;
        if !self.ids.insert(id.clone()) {
            return Err(format!("concept {id} is defined twice"));
        }
        if !(1..=3).contains(&def.level) {
            return Err(format!("concept {id}: level must be 1, 2 or 3"));
        }
        if def.ask.is_empty() {
            return Err(format!("concept {id}: no questions"));
        }
        if !(3..=6).contains(&def.points.len()) {
            return Err(format!("concept {id}: needs 3 to 6 points"));
        }
        let mut points = Vec::with_capacity(def.points.len());
        for (text, terms) in def.points {
            let hints: Vec<String> =
                terms.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
            let terms: Vec<Vec<String>> = hints.iter().flat_map(|t| self.expand(t)).collect();
            if terms.is_empty() {
                return Err(format!("concept {id}: point '{text}' has no terms"));
            }
            points.push(Point { fragments: text::template_fragments(&text), text, hints, terms });
        }
        let mut signature = HashSet::new();
        for text in def.ask.values().chain(std::iter::once(&def.topic)) {
            let literal = text.replace("{tech}", "").replace("{other}", "");
            signature.extend(self.stems.content_stems_memo(&literal, &mut self.stem_memo));
        }
        let own_names: HashSet<String> = match scope {
            Scope::Technology(t) => self.vocabulary.technologies.get(t).map_or_else(HashSet::new, |t| {
                t.aliases
                    .iter()
                    .chain(&t.guarded)
                    .chain(std::iter::once(&t.name))
                    .flat_map(|n| self.term_stems(n))
                    .collect()
            }),
            _ => HashSet::new(),
        };
        let literal_topic = def.topic.replace("{tech}", "").replace("{other}", "");
        let subject = self
            .stems
            .content_stems_memo(&literal_topic, &mut self.stem_memo)
            .into_iter()
            .filter(|stem| !own_names.contains(stem))
            .collect();
        self.concepts.push(Concept {
            id,
            scope,
            topic: def.topic,
            level: def.level,
            asks: def
                .ask
                .into_iter()
                .map(|(kind, text)| Ask { kind, fragments: text::template_fragments(&text), text })
                .collect(),
            points,
            answer: def.answer,
            signature,
            subject,
        });
        Ok(())
    }
}

/// Reads a JSON object as its (key, value) pairs in written order, so key points keep the order
/// their author gave them.
fn ordered_pairs<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, String)>, D::Error> {
    struct Pairs;
    impl<'de> Visitor<'de> for Pairs {
        type Value = Vec<(String, String)>;
        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("an object mapping each key point to its terms")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pairs = Vec::new();
            while let Some(pair) = map.next_entry()? {
                pairs.push(pair);
            }
            Ok(pairs)
        }
    }
    deserializer.deserialize_map(Pairs)
}
