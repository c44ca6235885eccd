//! The shield's rules compiled once, at build time, instead of at every cold start.
//!
//! Parsing the rules, translating them and compiling the result into a Thompson NFA took 3.4-3.8
//! ms of CPU at every start (docs/performance.md). `shared/build.rs` does it once with
//! [`compile`] and writes the NFA's states out with [`encode`]; at start-up [`decode`] hands the
//! same states to regex-automata's own NFA builder, which only checks and links them. The shield's
//! lazy DFA is then built from that NFA exactly as it would be from a freshly compiled one (a test
//! compares the two state by state).
//!
//! regex-automata can write out DFAs but not NFAs, and the rules' DFA does not fit: their union
//! does not determinize in reasonable time, and one DFA per rule weighs about 500 KB. The NFA
//! written out is 49 KB.
//!
//! The build script includes this file as it is, so it uses nothing from the crate.
//!
//! Format: little-endian `u32` words. A header (format version, UTF-8 mode, line terminator,
//! state count, the anchored and unanchored start states, the pattern count and each pattern's
//! start state), then each state in order: a tag and its fields.

use regex_automata::nfa::thompson::{self, Builder, NFA, State, Transition, WhichCaptures};
use regex_automata::util::look::{Look, LookMatcher};
use regex_automata::util::primitives::StateID;
use regex_automata::util::syntax;

/// Changes whenever the encoding does.
const FORMAT: u32 = 1;

const BYTE_RANGE: u32 = 0;
const SPARSE: u32 = 1;
const LOOK: u32 = 2;
const UNION: u32 = 3;
const FAIL: u32 = 4;
const MATCH: u32 = 5;

/// The rules as the shield searches them: inputs are lower-cased ASCII (`decode::normalize`), so
/// no Unicode and no case folding, and only "which rules match" is asked, so no captures.
pub fn compile(patterns: &[&str]) -> Option<NFA> {
    thompson::Compiler::new()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(thompson::Config::new().utf8(false).which_captures(WhichCaptures::None))
        .build_many(patterns)
        .ok()
}

/// `nfa`'s states as words, or `None` for a kind of state the shield's configuration never
/// produces (dense transitions, captures) or a reverse NFA. For `shared/build.rs` and the tests.
#[cfg_attr(not(test), allow(dead_code))]
pub fn encode(nfa: &NFA) -> Option<Vec<u8>> {
    if nfa.is_reverse() {
        return None;
    }
    let mut words = vec![
        FORMAT,
        u32::from(nfa.is_utf8()),
        u32::from(nfa.look_matcher().get_line_terminator()),
        u32::try_from(nfa.states().len()).ok()?,
        nfa.start_anchored().as_u32(),
        nfa.start_unanchored().as_u32(),
        u32::try_from(nfa.pattern_len()).ok()?,
    ];
    for pattern in nfa.patterns() {
        words.push(nfa.start_pattern(pattern)?.as_u32());
    }
    for state in nfa.states() {
        match state {
            State::ByteRange { trans } => {
                words.push(BYTE_RANGE);
                push_transition(&mut words, trans);
            }
            State::Sparse(sparse) => {
                words.extend([SPARSE, u32::try_from(sparse.transitions.len()).ok()?]);
                sparse.transitions.iter().for_each(|trans| push_transition(&mut words, trans));
            }
            State::Look { look, next } => words.extend([LOOK, look.as_repr(), next.as_u32()]),
            State::Union { alternates } => {
                words.extend([UNION, u32::try_from(alternates.len()).ok()?]);
                words.extend(alternates.iter().map(|id| id.as_u32()));
            }
            State::BinaryUnion { alt1, alt2 } => words.extend([UNION, 2, alt1.as_u32(), alt2.as_u32()]),
            State::Fail => words.push(FAIL),
            State::Match { pattern_id } => words.extend([MATCH, pattern_id.as_u32()]),
            State::Dense(_) | State::Capture { .. } => return None,
        }
    }
    Some(words.iter().flat_map(|word| word.to_le_bytes()).collect())
}

#[cfg_attr(not(test), allow(dead_code))]
fn push_transition(words: &mut Vec<u32>, trans: &Transition) {
    words.extend([u32::from(trans.start) | u32::from(trans.end) << 8, trans.next.as_u32()]);
}

/// The NFA `encode` wrote, or `None` if `bytes` are not what it writes (another format version,
/// truncated, a state pointing nowhere): the caller then compiles the rules instead.
pub fn decode(bytes: &[u8]) -> Option<NFA> {
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut words =
        bytes.chunks_exact(4).map(|word| u32::from_le_bytes([word[0], word[1], word[2], word[3]]));
    if words.next()? != FORMAT {
        return None;
    }
    let utf8 = words.next()? != 0;
    let line_terminator = u8::try_from(words.next()?).ok()?;
    let state_count = usize::try_from(words.next()?).ok()?;
    // Every state id is checked before the builder sees it: it indexes with them.
    let start_anchored = read_state(&mut words, state_count)?;
    let start_unanchored = read_state(&mut words, state_count)?;
    let pattern_count = usize::try_from(words.next()?).ok()?;
    let mut pattern_starts = Vec::with_capacity(pattern_count.min(state_count));
    for _ in 0..pattern_count {
        pattern_starts.push(read_state(&mut words, state_count)?);
    }

    let mut builder = Builder::new();
    builder.set_utf8(utf8);
    let mut look_matcher = LookMatcher::new();
    look_matcher.set_line_terminator(line_terminator);
    builder.set_look_matcher(look_matcher);
    for index in 0..state_count {
        let added = match words.next()? {
            BYTE_RANGE => builder.add_range(read_transition(&mut words, state_count)?),
            SPARSE => {
                let len = alternatives(&mut words)?;
                let transitions =
                    (0..len).map(|_| read_transition(&mut words, state_count)).collect::<Option<Vec<_>>>()?;
                builder.add_sparse(transitions)
            }
            LOOK => {
                let look = Look::from_repr(words.next()?)?;
                builder.add_look(read_state(&mut words, state_count)?, look)
            }
            UNION => {
                let len = alternatives(&mut words)?;
                let alternates =
                    (0..len).map(|_| read_state(&mut words, state_count)).collect::<Option<Vec<_>>>()?;
                builder.add_union(alternates)
            }
            FAIL => builder.add_fail(),
            MATCH => {
                // Patterns were compiled one after another, each ending in its one match state,
                // so the match states come in pattern order. The builder insists on it.
                let pattern = usize::try_from(words.next()?).ok()?;
                if pattern != builder.pattern_len() || pattern >= pattern_count {
                    return None;
                }
                builder.start_pattern().ok()?;
                let added = builder.add_match();
                builder.finish_pattern(pattern_starts[pattern]).ok()?;
                added
            }
            _ => return None,
        };
        // The builder numbers states as they come: they must keep the ids the encoded ones use.
        if added.ok()?.as_usize() != index {
            return None;
        }
    }
    if words.next().is_some() || builder.pattern_len() != pattern_count {
        return None;
    }
    builder.build(start_anchored, start_unanchored).ok()
}

/// How many transitions or alternates a state has: at least two, as in the NFA. The builder
/// would turn fewer into other kinds of state (a one-way union into a bare jump it follows, so a
/// corrupt cycle of them would never end), and the ids would no longer line up.
fn alternatives(words: &mut impl Iterator<Item = u32>) -> Option<usize> {
    usize::try_from(words.next()?).ok().filter(|&len| len >= 2)
}

fn read_state(words: &mut impl Iterator<Item = u32>, state_count: usize) -> Option<StateID> {
    let id = usize::try_from(words.next()?).ok()?;
    if id < state_count { StateID::new(id).ok() } else { None }
}

fn read_transition(words: &mut impl Iterator<Item = u32>, state_count: usize) -> Option<Transition> {
    let range = words.next()?;
    let (start, end) = (u8::try_from(range & 0xff).ok()?, u8::try_from(range >> 8).ok()?);
    if start > end {
        return None;
    }
    Some(Transition { start, end, next: read_state(words, state_count)? })
}
