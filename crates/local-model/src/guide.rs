//! Constrained JSON decoding: a byte-level automaton that accepts exactly the
//! prefixes of compact JSON documents valid against a (practical subset of)
//! JSON Schema, so a decoder can take the model's most preferred token that
//! keeps the output valid.
//!
//! The schema compiles into a flat node table behind an `Arc`. A state is a
//! small set of alternative parse stacks ("branches"): alternatives (`anyOf`,
//! type arrays, free vs. listed keys) run in parallel and dead ones are
//! dropped. Every node has a precomputed minimal document, and no byte is
//! accepted unless the output can still be completed within the limits.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Branches kept at most; dropping extras only narrows what is accepted, and
/// every kept branch is completable, so the invariant survives.
const MAX_BRANCHES: usize = 64;
/// Largest minimal document precomputed for a node (guards pathological schemas).
const MAX_DOC: usize = 1 << 20;
/// Properties per object schema (used keys are tracked in a `u64`).
const MAX_PROPS: usize = 64;
/// Schema nesting accepted by the compiler (it recurses over the schema).
const MAX_NESTING: usize = 256;

type Obj = Map<String, Value>;
type Res<T> = Result<T, GuideError>;

/// Limits that keep every output finite.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest string or free-form key, in characters.
    pub max_string_chars: usize,
    /// Most items in an array.
    pub max_items: usize,
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
    /// Most digits before the decimal point (at most 18 are used).
    pub max_integer_digits: usize,
    /// Most digits after the decimal point (at most 18 are used).
    pub max_fraction_digits: usize,
    /// Most entries of a free-form object.
    pub max_properties: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_string_chars: 256,
            max_items: 16,
            max_depth: 8,
            max_integer_digits: 15,
            max_fraction_digits: 6,
            max_properties: 16,
        }
    }
}

/// Why a schema could not be compiled (names the schema location, e.g. "/properties/tags/items", and what was wrong).
#[derive(Debug, Clone, PartialEq)]
pub struct GuideError(pub String);

impl fmt::Display for GuideError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GuideError {}

fn err<T>(path: &str, msg: impl fmt::Display) -> Res<T> {
    let at = if path.is_empty() { "/" } else { path };
    Err(GuideError(format!("schema at {at}: {msg}")))
}

fn need<T>(v: Option<T>, path: &str, msg: &str) -> Res<T> {
    v.map_or_else(|| err(path, msg), Ok)
}

// ------------------------------------------------------------ compiled form

#[derive(Debug)]
enum Node {
    /// Any of these nodes; flattened after compiling, so members are never unions.
    Union(Vec<usize>),
    /// One of these compact serializations (sorted, so values sharing a prefix
    /// form a range) and the index of the first one declared (the minimal value).
    Lits(Vec<Vec<u8>>, usize),
    Str {
        min: usize,
        max: usize,
    },
    Num(NumSpec),
    Arr {
        items: usize,
        min: usize,
        max: usize,
    },
    Obj(ObjSpec),
}

/// Bounds are integers scaled by 10^fdig, so range checks are exact.
#[derive(Debug, Clone, Copy)]
struct NumSpec {
    idig: u32,
    fdig: u32,
    lo: i128,
    hi: i128,
}

#[derive(Debug, Default)]
struct ObjSpec {
    /// Serialized property names (`"name"`), sorted so prefixes form ranges.
    keys: Vec<Vec<u8>>,
    vals: Vec<usize>,
    required: u64,
    /// Schema for keys not listed; `None` means no other keys.
    extra: Option<usize>,
}

impl ObjSpec {
    /// The value schema after key `k` (a listed index, or `None` for a free key).
    fn value(&self, k: Option<usize>) -> Option<usize> {
        k.map_or(self.extra, |i| self.vals.get(i).copied())
    }

    fn missing(&self, used: u64) -> impl Iterator<Item = usize> + '_ {
        (0..self.keys.len()).filter(move |&i| self.required & !used & bit(i) != 0)
    }
}

#[derive(Debug, Clone)]
struct Doc {
    depth: usize,
    text: Vec<u8>,
}

#[derive(Debug)]
struct Compiled {
    nodes: Vec<Node>,
    /// Minimal document per node; `None` = unsatisfiable (e.g. endless recursion).
    docs: Vec<Option<Doc>>,
    root: usize,
    limits: Limits,
}

/// A compiled constraint: the set of JSON documents the output may be.
#[derive(Debug, Clone)]
pub struct JsonGuide {
    inner: Arc<Compiled>,
}

impl JsonGuide {
    /// Any JSON object (OpenAI's `response_format: json_object`).
    pub fn any_object(limits: Limits) -> JsonGuide {
        let mut limits = limits;
        limits.max_depth = limits.max_depth.max(1); // an object needs one level
        let root = Value::Null;
        let mut c = Compiler::new(&root, limits);
        c.any();
        let obj = c.any_obj;
        let inner = Arc::new(c.finish(obj));
        JsonGuide { inner }
    }

    /// Documents valid against `schema` (OpenAI's `response_format: json_schema`).
    pub fn from_schema(schema: &Value, limits: Limits) -> Result<JsonGuide, GuideError> {
        let mut c = Compiler::new(schema, limits);
        // Compiling the root as the reference "#" lets recursive `$ref: "#"` resolve.
        let root = c.reference("#", "")?;
        let inner = Arc::new(c.finish(root));
        if !inner.viable(root, 0) {
            let msg = format!("no document fits max_depth {}", limits.max_depth);
            return err("", msg + " (nesting too deep or endless)");
        }
        Ok(JsonGuide { inner })
    }

    /// The state before the first byte.
    pub fn start(&self) -> GuideState {
        let branches = vec![vec![Frame::Value(self.inner.root)]];
        let g = Arc::clone(&self.inner);
        GuideState { g, branches }
    }
}

// ------------------------------------------------------------ compiler

struct Compiler<'a> {
    root: &'a Value,
    limits: Limits,
    nodes: Vec<Node>,
    refs: HashMap<String, usize>,
    /// The shared "any value" node, and its free-form object member.
    any: Option<usize>,
    any_obj: usize,
    nest: usize,
}

impl<'a> Compiler<'a> {
    fn new(root: &'a Value, limits: Limits) -> Self {
        let (nodes, refs) = (Vec::new(), HashMap::new());
        Compiler {
            root,
            limits,
            nodes,
            refs,
            any: None,
            any_obj: 0,
            nest: 0,
        }
    }

    fn push(&mut self, n: Node) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn finish(mut self, root: usize) -> Compiled {
        flatten(&mut self.nodes);
        let docs = min_docs(&self.nodes);
        let (nodes, limits) = (self.nodes, self.limits);
        Compiled {
            nodes,
            docs,
            root,
            limits,
        }
    }

    fn any(&mut self) -> usize {
        if let Some(i) = self.any {
            return i;
        }
        let any = self.push(Node::Union(Vec::new()));
        self.any = Some(any);
        let (max, spec) = (self.limits.max_string_chars, self.num_spec(false, None));
        let lits = literals(vec![b"false".to_vec(), b"null".to_vec(), b"true".to_vec()]);
        let (items, min, extra) = (any, 0, Some(any));
        let arr = Node::Arr {
            items,
            min,
            max: self.limits.max_items,
        };
        let obj = Node::Obj(ObjSpec {
            extra,
            ..ObjSpec::default()
        });
        self.any_obj = self.push(obj);
        let members = vec![
            self.push(lits),
            self.push(Node::Str { min, max }),
            self.push(Node::Num(spec)),
            self.push(arr),
            self.any_obj,
        ];
        if let Some(slot) = self.nodes.get_mut(any) {
            *slot = Node::Union(members);
        }
        any
    }

    fn reference(&mut self, r: &str, path: &str) -> Res<usize> {
        let msg = format!("$ref {r:?} is not local (#...)");
        let ptr = need(r.strip_prefix('#'), path, &msg)?;
        if let Some(&i) = self.refs.get(ptr) {
            return Ok(i);
        }
        let (root, msg) = (self.root, format!("$ref {r:?} does not resolve"));
        let target = need(root.pointer(ptr), path, &msg)?;
        // Placeholder first, so a recursive reference finds it.
        let slot = self.push(Node::Union(Vec::new()));
        self.refs.insert(ptr.to_string(), slot);
        let inner = self.compile(target, ptr)?;
        if let Some(n) = self.nodes.get_mut(slot) {
            *n = Node::Union(vec![inner]);
        }
        Ok(slot)
    }

    fn compile(&mut self, s: &Value, path: &str) -> Res<usize> {
        if self.nest >= MAX_NESTING {
            return err(path, "schema nested too deeply");
        }
        self.nest += 1;
        let node = self.compile_inner(s, path);
        self.nest -= 1;
        let node = node?;
        if s.get("nullable") != Some(&Value::Bool(true)) {
            return Ok(node);
        }
        let null = self.push(literals(vec![b"null".to_vec()]));
        Ok(self.push(Node::Union(vec![node, null])))
    }

    fn compile_inner(&mut self, s: &Value, path: &str) -> Res<usize> {
        let m = match s {
            Value::Bool(true) => return Ok(self.any()),
            Value::Object(m) => m,
            Value::Bool(false) => return err(path, "`false` allows nothing"),
            _ => return err(path, "a schema must be an object or a boolean"),
        };
        if let Some(r) = m.get("$ref") {
            return self.reference(r.as_str().unwrap_or_default(), path);
        }
        if let Some(all) = m.get("allOf") {
            let msg = "allOf is supported only with exactly one member";
            let one = all.as_array().filter(|a| a.len() == 1);
            let one = need(one.and_then(|a| a.first()), path, msg)?;
            return self.compile(one, &format!("{path}/allOf/0"));
        }
        for key in ["anyOf", "oneOf"] {
            let Some(v) = m.get(key) else { continue };
            let arr = v.as_array().filter(|a| !a.is_empty());
            let arr = need(arr, path, "anyOf/oneOf must be a non-empty array")?;
            let mut members = Vec::new();
            for (i, s) in arr.iter().enumerate() {
                members.push(self.compile(s, &format!("{path}/{key}/{i}"))?);
            }
            return Ok(self.push(Node::Union(members)));
        }
        let types = match m.get("type") {
            None => None,
            Some(Value::String(t)) => Some(vec![t.as_str()]),
            Some(t) => Some(need(strs(t), path, "type must be a string or strings")?),
        };
        let values = match (m.get("const"), m.get("enum")) {
            (Some(c), _) => Some(std::slice::from_ref(c)),
            (None, Some(e)) => Some(need(e.as_array(), path, "enum must be an array")?.as_slice()),
            (None, None) => None,
        };
        if let Some(values) = values {
            // Values of another type would fail `type`, so they are never emitted.
            let fits =
                |v: &&Value| types.is_none() || types.iter().flatten().any(|t| is_type(v, t));
            let ok: Vec<_> = values.iter().filter(fits).map(to_json).collect();
            if ok.is_empty() {
                return err(path, "enum/const has no value of an allowed type");
            }
            return Ok(self.push(literals(ok)));
        }
        let Some(types) = types.or_else(|| infer_type(m).map(|t| vec![t])) else {
            return Ok(self.any());
        };
        let mut members = Vec::new();
        for t in types {
            let node = match t {
                "null" => literals(vec![b"null".to_vec()]),
                "boolean" => literals(vec![b"false".to_vec(), b"true".to_vec()]),
                "integer" | "number" => {
                    let spec = self.num_spec(t == "integer", Some(m));
                    let msg = "no number satisfies minimum/maximum within the digit limits";
                    need(num_completion(&spec, &NumF::start(0)), path, msg)?;
                    Node::Num(spec)
                }
                "string" => {
                    let lim = self.limits.max_string_chars;
                    let (min, max) = range(m, "minLength", "maxLength", lim, path)?;
                    Node::Str { min, max }
                }
                "array" => {
                    let items = match m.get("items") {
                        None => self.any(),
                        Some(Value::Array(_)) => return err(path, "tuple items are unsupported"),
                        Some(s) => self.compile(s, &format!("{path}/items"))?,
                    };
                    let lim = self.limits.max_items;
                    let (min, max) = range(m, "minItems", "maxItems", lim, path)?;
                    Node::Arr { items, min, max }
                }
                "object" => self.object(m, path)?,
                other => return err(path, format!("unknown type {other:?}")),
            };
            members.push(self.push(node));
        }
        Ok(match members.as_slice() {
            [one] => *one,
            _ => self.push(Node::Union(members)),
        })
    }

    fn object(&mut self, m: &Obj, path: &str) -> Res<Node> {
        let props = match m.get("properties") {
            None => None,
            Some(p) => Some(need(p.as_object(), path, "properties must be an object")?),
        };
        // Strict like OpenAI structured outputs: listed properties mean no others by default.
        let extra = match m.get("additionalProperties") {
            None if props.is_some() => None,
            None | Some(Value::Bool(true)) => Some(self.any()),
            Some(Value::Bool(false)) => None,
            Some(s) => Some(self.compile(s, &format!("{path}/additionalProperties"))?),
        };
        let mut entries = Vec::new();
        for (name, s) in props.into_iter().flatten() {
            let esc = name.replace('~', "~0").replace('/', "~1");
            let node = self.compile(s, &format!("{path}/properties/{esc}"))?;
            entries.push((to_json(&name.as_str().into()), node, false));
        }
        let req = m.get("required").map_or(Some(Vec::new()), strs);
        for name in need(req, path, "required must be an array of strings")? {
            let key = to_json(&name.into());
            if let Some(e) = entries.iter_mut().find(|e| e.0 == key) {
                e.2 = true;
            } else if let Some(x) = extra {
                entries.push((key, x, true)); // validated by additionalProperties
            } else {
                let msg = "is required but not in properties, and additionalProperties is false";
                return err(path, format!("{name:?} {msg}"));
            }
        }
        if entries.len() > MAX_PROPS {
            return err(path, format!("over {MAX_PROPS} properties are unsupported"));
        }
        entries.sort();
        let req = entries.iter().enumerate().filter(|(_, e)| e.2);
        let required = req.fold(0, |acc, (i, _)| acc | bit(i));
        let (keys, vals) = entries.into_iter().map(|(k, v, _)| (k, v)).unzip();
        let spec = ObjSpec {
            keys,
            vals,
            required,
            extra,
        };
        Ok(Node::Obj(spec))
    }

    fn num_spec(&self, integer: bool, m: Option<&Obj>) -> NumSpec {
        let idig = self.limits.max_integer_digits.clamp(1, 18) as u32;
        // Integers have no fraction digits.
        let fdig = self.limits.max_fraction_digits.min(18) as u32 * u32::from(!integer);
        let scale = pow10(fdig).unwrap_or(1);
        let lim = pow10(idig).unwrap_or(1).saturating_mul(scale) - 1;
        let (mut lo, mut hi) = (-lim, lim);
        let get = |k: &str| m.and_then(|m| m.get(k));
        let num = |k: &str| get(k).and_then(Value::as_f64);
        // Draft 4 spells exclusivity as a boolean beside minimum/maximum.
        let flag = |k: &str| get(k) == Some(&Value::Bool(true));
        if let Some(x) = num("minimum") {
            lo = lo.max(bound(x, scale, true, flag("exclusiveMinimum")));
        }
        if let Some(x) = num("exclusiveMinimum") {
            lo = lo.max(bound(x, scale, true, true));
        }
        if let Some(x) = num("maximum") {
            hi = hi.min(bound(x, scale, false, flag("exclusiveMaximum")));
        }
        if let Some(x) = num("exclusiveMaximum") {
            hi = hi.min(bound(x, scale, false, true));
        }
        NumSpec { idig, fdig, lo, hi }
    }
}

fn literals(values: Vec<Vec<u8>>) -> Node {
    let first = values.first().cloned().unwrap_or_default();
    let mut sorted = values;
    sorted.sort();
    sorted.dedup();
    let preferred = sorted.iter().position(|v| *v == first).unwrap_or(0);
    Node::Lits(sorted, preferred)
}

fn to_json(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn strs(v: &Value) -> Option<Vec<&str>> {
    v.as_array()?.iter().map(Value::as_str).collect()
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

/// Without `type`, constraints bind only their own type; emitting that type honours them.
fn infer_type(m: &Obj) -> Option<&'static str> {
    let has = |ks: &[&str]| ks.iter().any(|k| m.contains_key(*k));
    let object = ["properties", "additionalProperties", "required"];
    let numeric = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"];
    [
        (has(&object), "object"),
        (has(&["items", "minItems", "maxItems"]), "array"),
        (has(&["minLength", "maxLength"]), "string"),
        (has(&numeric), "number"),
    ]
    .into_iter()
    .find_map(|(yes, t)| yes.then_some(t))
}

fn count(m: &Obj, key: &str, path: &str) -> Res<Option<usize>> {
    let Some(v) = m.get(key) else { return Ok(None) };
    let whole = v.as_f64().filter(|f| *f >= 0.0 && f.fract() == 0.0);
    let n = v.as_u64().or(whole.map(|f| f as u64));
    let n = need(n, path, "counts must be non-negative integers")?;
    Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
}

/// `min..=max` from two count keywords, with `max` capped by a limit.
fn range(m: &Obj, lo: &str, hi: &str, lim: usize, path: &str) -> Res<(usize, usize)> {
    let min = count(m, lo, path)?.unwrap_or(0);
    let max = count(m, hi, path)?.map_or(lim, |x| x.min(lim));
    if min > max {
        let msg = format!("{lo} {min} exceeds {hi} (or the limit) {max}");
        return err(path, msg);
    }
    Ok((min, max))
}

fn bit(i: usize) -> u64 {
    let i = u32::try_from(i).unwrap_or(u32::MAX);
    1u64.checked_shl(i).unwrap_or(0)
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// The tightest scaled bound: the smallest n with n/scale >= x (lower) or the
/// largest with n/scale <= x (upper); `strict` excludes equality. Checked in
/// f64 as validators compare, so float rounding cannot let a boundary through.
fn bound(x: f64, scale: i128, lower: bool, strict: bool) -> i128 {
    let ok = |n: i128| {
        let v = n as f64 / scale as f64;
        match (lower, strict) {
            (true, false) => v >= x,
            (true, true) => v > x,
            (false, false) => v <= x,
            (false, true) => v < x,
        }
    };
    let scaled = x * scale as f64;
    let mut n = if lower { scaled.ceil() } else { scaled.floor() } as i128;
    for _ in 0..4 {
        if ok(n) {
            break;
        }
        n = n.saturating_add(if lower { 1 } else { -1 });
    }
    n
}

/// Replaces every union by the non-union nodes it reaches, so expansion never loops.
fn flatten(nodes: &mut [Node]) {
    for i in 0..nodes.len() {
        if !matches!(nodes.get(i), Some(Node::Union(_))) {
            continue;
        }
        let (mut seen, mut stack, mut leaves) = (vec![false; nodes.len()], vec![i], Vec::new());
        while let Some(j) = stack.pop() {
            match seen.get_mut(j) {
                Some(s) if !*s => *s = true,
                _ => continue,
            }
            match nodes.get(j) {
                Some(Node::Union(ms)) => stack.extend(ms.iter().rev()),
                Some(_) => leaves.push(j),
                None => {}
            }
        }
        if let Some(n) = nodes.get_mut(i) {
            *n = Node::Union(leaves);
        }
    }
}

/// Minimal documents by fixed-point iteration, preferring shallow then short;
/// nodes that never get one (endless recursion) are unsatisfiable.
fn min_docs(nodes: &[Node]) -> Vec<Option<Doc>> {
    let mut docs: Vec<Option<Doc>> = vec![None; nodes.len()];
    let key = |d: &Doc| (d.depth, d.text.len());
    for _ in 0..256 {
        let mut changed = false;
        for (i, node) in nodes.iter().enumerate() {
            let new = candidate(node, i, &docs);
            if let (Some(new), Some(slot)) = (new, docs.get_mut(i))
                && slot.as_ref().is_none_or(|d| key(&new) < key(d))
            {
                (*slot, changed) = (Some(new), true);
            }
        }
        if !changed {
            break;
        }
    }
    docs
}

fn candidate(node: &Node, i: usize, docs: &[Option<Doc>]) -> Option<Doc> {
    let get = |j: usize| docs.get(j).and_then(Option::as_ref);
    let mut size = 0;
    let mut part = |d: &Doc, prefix: &[u8]| {
        size += d.text.len() + prefix.len() + 1;
        (size <= MAX_DOC).then(|| [prefix, &d.text].concat())
    };
    let (depth, text) = match node {
        Node::Union(ls) => {
            let options = ls.iter().filter_map(|&l| get(l));
            return options.min_by_key(|d| (d.depth, d.text.len())).cloned();
        }
        Node::Lits(ls, first) => (0, ls.get(*first)?.clone()),
        Node::Str { min, .. } if *min <= MAX_DOC => (0, format!("\"{}\"", "a".repeat(*min)).into()),
        Node::Str { .. } => return None,
        Node::Num(sp) => (0, num_completion(sp, &NumF::start(i))?),
        Node::Arr { min: 0, .. } => (1, b"[]".to_vec()),
        Node::Arr { items, min, .. } => {
            let d = get(*items)?;
            let parts: Option<Vec<_>> = (0..*min).map(|_| part(d, b"")).collect();
            (d.depth + 1, join(b'[', &parts?, b']'))
        }
        Node::Obj(o) => {
            let (mut parts, mut depth) = (Vec::new(), 1);
            for k in o.missing(0) {
                let d = get(*o.vals.get(k)?)?;
                depth = depth.max(d.depth + 1);
                parts.push(part(d, &[o.keys.get(k)?.as_slice(), b":"].concat())?);
            }
            (depth, join(b'{', &parts, b'}'))
        }
    };
    Some(Doc { depth, text })
}

fn join(open: u8, parts: &[Vec<u8>], close: u8) -> Vec<u8> {
    [vec![open], parts.join(&b','), vec![close]].concat()
}

// ------------------------------------------------------------ runtime state

/// Items `lo..hi` of a sorted byte-string list (a `Lits` node's values or an
/// object's keys) that share their first `pos` bytes with the input.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    node: usize,
    lo: usize,
    hi: usize,
    pos: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Frame {
    /// A value of this node is expected and not yet started.
    Value(usize),
    Lit(Span),
    Str(StrF),
    Num(NumF),
    /// Containers hold the state *after* their current child, set before it is pushed.
    Arr(ArrF),
    Obj(ObjF),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct ArrF {
    node: usize,
    count: usize,
    st: ArrSt,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ArrSt {
    Open,
    AfterOpen,
    NeedItem,
    AfterItem,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct ObjF {
    node: usize,
    used: u64,
    free: usize,
    st: ObjSt,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ObjSt {
    Open,
    AfterOpen,
    NeedKey,
    /// Typing a listed key.
    Key(Span),
    /// Key done (listed index, or `None` for a free key); `:` is next.
    Colon(Option<usize>),
    AfterEntry,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct StrF {
    min: usize,
    max: usize,
    /// Characters so far; a multi-byte character or escape counts when it starts.
    len: usize,
    st: StrSt,
    /// For a free key beside listed keys: the listed keys it is still a prefix of.
    excl: Option<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum StrSt {
    Open,
    Body,
    Esc,
    /// `\u` escape: digits read, value so far, whether it is a pair's low half.
    Hex(u8, u32, bool),
    NeedBs,
    NeedU,
    /// UTF-8 continuation bytes still due, and the range allowed for the next.
    Utf8(u8, u8, u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct NumF {
    node: usize,
    neg: bool,
    st: NumSt,
    idig: u32,
    fdig: u32,
    /// The digits read so far (integer and fraction) as one integer.
    mag: i128,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
enum NumSt {
    #[default]
    Start,
    Int,
    Dot,
    Frac,
}

impl NumF {
    fn start(node: usize) -> Self {
        NumF {
            node,
            ..NumF::default()
        }
    }
}

impl Frame {
    fn is_container(&self) -> bool {
        matches!(self, Frame::Arr(_) | Frame::Obj(_))
    }
}

fn str_frame(min: usize, max: usize, st: StrSt, excl: Option<Span>) -> Frame {
    let len = 0;
    Frame::Str(StrF {
        min,
        max,
        len,
        st,
        excl,
    })
}

/// Scaled value of a complete number, or `None` if it is not complete.
fn num_value(sp: &NumSpec, f: &NumF) -> Option<i128> {
    let scale = match f.st {
        NumSt::Int => pow10(sp.fdig)?,
        NumSt::Frac => pow10(sp.fdig.checked_sub(f.fdig)?)?,
        _ => return None,
    };
    let v = f.mag.checked_mul(scale)?;
    Some(if f.neg { -v } else { v })
}

/// Shortest suffix turning the number prefix `f` into an in-range number;
/// `None` means the prefix is a dead end.
fn num_completion(sp: &NumSpec, f: &NumF) -> Option<Vec<u8>> {
    let s = pow10(sp.fdig)?;
    // Reachable scaled magnitudes, as `m * p ..= (m + 1) * p - 1`, shortest first.
    let (spans, typed, min_frac) = match f.st {
        NumSt::Start => (vec![(0, pow10(sp.idig)?.checked_mul(s)?)], 0, 0),
        NumSt::Int if f.mag == 0 => (vec![(0, s)], 1, 0), // a leading zero stays alone
        NumSt::Int => {
            let span = |k| Some((f.mag, pow10(k)?.checked_mul(s)?));
            let spans: Option<Vec<_>> = (0..=sp.idig.saturating_sub(f.idig)).map(span).collect();
            (spans?, f.idig, 0)
        }
        NumSt::Dot => (vec![(f.mag, s)], f.idig + 1, 1),
        NumSt::Frac => {
            let p = pow10(sp.fdig.checked_sub(f.fdig)?)?;
            (vec![(f.mag, p)], f.idig + 1 + f.fdig, f.fdig)
        }
    };
    let signs: &[bool] = match (f.neg, f.st) {
        (true, _) => &[true],
        (false, NumSt::Start) => &[false, true],
        _ => &[false],
    };
    for &neg in signs.iter().filter(|&&n| !n || sp.lo < 0) {
        let (a, b) = match neg {
            true => (sp.hi.saturating_neg().max(0), sp.lo.saturating_neg()),
            false => (sp.lo.max(0), sp.hi),
        };
        for &(m, p) in &spans {
            let t = m.checked_mul(p)?.max(a);
            if t > ((m + 1).checked_mul(p)? - 1).min(b) {
                continue;
            }
            let digits = format!("{:0w$}", t % s, w = sp.fdig as usize);
            let frac = if sp.fdig == 0 { "" } else { &digits };
            let keep = frac.trim_end_matches('0').len().max(min_frac as usize);
            let dot = if keep == 0 { "" } else { "." };
            let text = format!("{}{dot}{}", t / s, frac.get(..keep).unwrap_or_default());
            let sign: &[u8] = if neg && !f.neg { b"-" } else { b"" };
            return Some([sign, text.as_bytes().get(typed as usize..)?].concat());
        }
    }
    None
}

fn num_step(sp: &NumSpec, f: NumF, b: u8) -> Option<NumF> {
    let mut g = f;
    match (f.st, char::from(b).to_digit(10).map(i128::from)) {
        // `-` only when a negative value is allowed (so `minimum >= 0` forbids it).
        (NumSt::Start, None) if b == b'-' && !f.neg && sp.lo < 0 => g.neg = true,
        (NumSt::Start, Some(d)) => (g.st, g.idig, g.mag) = (NumSt::Int, 1, d),
        // `mag == 0` here is a leading zero, which no digit may follow.
        (NumSt::Int, Some(d)) if f.mag != 0 && f.idig < sp.idig => {
            (g.idig, g.mag) = (f.idig + 1, f.mag * 10 + d)
        }
        (NumSt::Int, None) if b == b'.' && sp.fdig > 0 => g.st = NumSt::Dot,
        (NumSt::Dot | NumSt::Frac, Some(d)) if f.fdig < sp.fdig => {
            (g.st, g.fdig, g.mag) = (NumSt::Frac, f.fdig + 1, f.mag * 10 + d)
        }
        _ => return None,
    }
    num_completion(sp, &g).map(|_| g)
}

impl Compiled {
    fn doc(&self, i: usize) -> Option<&[u8]> {
        self.docs.get(i)?.as_ref().map(|d| d.text.as_slice())
    }

    /// A value of node `i` may start at nesting `depth` only if its minimal document fits.
    fn viable(&self, i: usize, depth: usize) -> bool {
        matches!(self.docs.get(i), Some(Some(d)) if depth + d.depth <= self.limits.max_depth)
    }

    fn num_spec(&self, i: usize) -> Option<&NumSpec> {
        match self.nodes.get(i) {
            Some(Node::Num(sp)) => Some(sp),
            _ => None,
        }
    }

    /// `(items, min, max)` of an array node.
    fn arr(&self, i: usize) -> Option<(usize, usize, usize)> {
        match self.nodes.get(i) {
            Some(&Node::Arr { items, min, max }) => Some((items, min, max)),
            _ => None,
        }
    }

    fn obj(&self, i: usize) -> Option<&ObjSpec> {
        match self.nodes.get(i) {
            Some(Node::Obj(o)) => Some(o),
            _ => None,
        }
    }

    fn leaves<'s>(&'s self, n: &'s usize) -> &'s [usize] {
        match self.nodes.get(*n) {
            Some(Node::Union(ls)) => ls,
            _ => std::slice::from_ref(n),
        }
    }

    fn initial(&self, i: usize) -> Option<Frame> {
        let (node, count, used, free) = (i, 0, 0, 0);
        Some(match self.nodes.get(i)? {
            Node::Union(_) => return None,
            Node::Lits(ls, _) => Frame::Lit(self.span(i, ls.len())),
            &Node::Str { min, max } => str_frame(min, max, StrSt::Open, None),
            Node::Num(_) => Frame::Num(NumF::start(i)),
            Node::Arr { .. } => Frame::Arr(ArrF {
                node,
                count,
                st: ArrSt::Open,
            }),
            Node::Obj(_) => Frame::Obj(ObjF {
                node,
                used,
                free,
                st: ObjSt::Open,
            }),
        })
    }

    /// The whole list of `node` (literals, or keys after their opening quote).
    fn span(&self, node: usize, hi: usize) -> Span {
        let (lo, pos) = (0, usize::from(self.obj(node).is_some()));
        Span { node, lo, hi, pos }
    }

    fn list(&self, node: usize) -> &[Vec<u8>] {
        match self.nodes.get(node) {
            Some(Node::Lits(ls, _)) => ls,
            Some(Node::Obj(o)) => &o.keys,
            _ => &[],
        }
    }

    /// The items whose next byte is `b`; contiguous because the list is sorted.
    fn narrow(&self, mut s: Span, b: u8) -> Span {
        let items = self.list(s.node).get(s.lo..s.hi).unwrap_or_default();
        let at = |k: &Vec<u8>| k.get(s.pos) == Some(&b);
        let skip = items.iter().position(at).unwrap_or(items.len());
        let n = items.iter().skip(skip).take_while(|k| at(k)).count();
        (s.lo, s.hi, s.pos) = (s.lo + skip, s.lo + skip + n, s.pos + 1);
        s
    }

    /// Length of the span's first item; the item equal to the input sorts first.
    fn first_len(&self, s: Span) -> Option<usize> {
        self.list(s.node).get(s.lo).map(Vec::len)
    }

    /// Closing the free key now would spell a listed key. Free keys hold no
    /// backslash, so a listed key with `"` next ends right there.
    fn clash(&self, s: Span) -> bool {
        let q = self.narrow(s, b'"');
        q.lo < q.hi
    }

    /// Letters (at most `room`) that make a free key differ from every listed
    /// key; two letters always suffice for at most 64 keys.
    fn key_fix(&self, s: Span, room: usize) -> Option<Vec<u8>> {
        if !self.clash(s) {
            return Some(Vec::new());
        }
        for c1 in (b'a'..=b'z').filter(|_| room >= 1) {
            let s1 = self.narrow(s, c1);
            if !self.clash(s1) {
                return Some(vec![c1]);
            }
            let mut second = (b'a'..=b'z').filter(|_| room >= 2);
            if let Some(c2) = second.find(|&c2| !self.clash(self.narrow(s1, c2))) {
                return Some(vec![c1, c2]);
            }
        }
        None
    }

    fn key_ok(&self, o: &ObjSpec, i: usize, used: u64, depth: usize) -> bool {
        used & bit(i) == 0 && o.vals.get(i).is_some_and(|&v| self.viable(v, depth))
    }

    fn free_ok(&self, f: &ObjF, o: &ObjSpec, depth: usize) -> bool {
        let (lim, all) = (self.limits, self.span(f.node, o.keys.len()));
        let room = f.free < lim.max_properties;
        let fits = o.extra.is_some_and(|x| room && self.viable(x, depth));
        fits && (o.keys.is_empty() || self.key_fix(all, lim.max_string_chars).is_some())
    }

    /// A number or literal that is complete (it may still be extendable).
    fn scalar_complete(&self, f: &Frame) -> bool {
        match f {
            Frame::Lit(s) => self.first_len(*s) == Some(s.pos),
            Frame::Num(n) => self
                .num_spec(n.node)
                .is_some_and(|sp| num_value(sp, n).is_some_and(|v| (sp.lo..=sp.hi).contains(&v))),
            _ => false,
        }
    }

    /// Byte `b` closes container `f` (its frame is then dropped).
    fn closes(&self, f: &Frame, b: u8) -> bool {
        match (f, b) {
            (Frame::Arr(a), b']') if matches!(a.st, ArrSt::AfterOpen | ArrSt::AfterItem) => {
                self.arr(a.node).is_some_and(|(_, min, _)| a.count >= min)
            }
            (Frame::Obj(f), b'}') if matches!(f.st, ObjSt::AfterOpen | ObjSt::AfterEntry) => self
                .obj(f.node)
                .is_some_and(|o| o.missing(f.used).next().is_none()),
            _ => false,
        }
    }

    fn can_finish(&self, st: &[Frame]) -> bool {
        match st {
            [] => true,
            [only] => self.scalar_complete(only),
            _ => false,
        }
    }

    /// Feeds one byte to one branch, pushing every surviving successor to
    /// `out`; `None` where this path dies (so `?` can be used).
    fn feed(&self, mut st: Vec<Frame>, b: u8, out: &mut Vec<Vec<Frame>>) -> Option<()> {
        // Work on the popped top frame; whatever continues is pushed back.
        let top = st.pop()?; // a complete document takes nothing more
        let depth = st.iter().chain([&top]).filter(|f| f.is_container()).count();
        // A finished scalar hands the delimiter to its container.
        if matches!(b, b',' | b']' | b'}') && self.scalar_complete(&top) {
            self.feed(st.clone(), b, out);
        }
        if self.closes(&top, b) {
            out.push(st);
            return Some(());
        }
        match top {
            Frame::Value(n) => {
                for &leaf in self.leaves(&n).iter().filter(|&&l| self.viable(l, depth)) {
                    let mut s = st.clone();
                    s.extend(self.initial(leaf));
                    self.feed(s, b, out);
                }
                return Some(());
            }
            Frame::Lit(s) => {
                let s = self.narrow(s, b);
                match s.hi - s.lo {
                    0 => return None,
                    1 if self.first_len(s) == Some(s.pos) => {} // nothing extends it: done
                    _ => st.push(Frame::Lit(s)),
                }
            }
            Frame::Num(f) => st.push(Frame::Num(num_step(self.num_spec(f.node)?, f, b)?)),
            Frame::Str(s) => st.extend(self.str_step(s, b)?.map(Frame::Str)), // `None`: closed
            Frame::Arr(mut a) => {
                let (items, _, max) = self.arr(a.node)?;
                let item_ok = a.count < max && self.viable(items, depth);
                match (a.st, b) {
                    (ArrSt::Open, b'[') => a.st = ArrSt::AfterOpen,
                    (ArrSt::AfterItem, b',') if item_ok => a.st = ArrSt::NeedItem,
                    (ArrSt::AfterOpen | ArrSt::NeedItem, _) if item_ok => {
                        (a.count, a.st) = (a.count + 1, ArrSt::AfterItem);
                        st.extend([Frame::Arr(a), Frame::Value(items)]);
                        return self.feed(st, b, out); // the byte starts the item
                    }
                    _ => return None,
                }
                st.push(Frame::Arr(a));
            }
            Frame::Obj(mut f) => {
                let o = self.obj(f.node)?;
                let all = self.span(f.node, o.keys.len());
                let listed = |s: Span| (s.lo..s.hi).any(|i| self.key_ok(o, i, f.used, depth));
                let free_ok = self.free_ok(&f, o, depth);
                let mut child = None;
                match (f.st, b) {
                    (ObjSt::Open, b'{') => f.st = ObjSt::AfterOpen,
                    (ObjSt::AfterEntry, b',') if free_ok || listed(all) => f.st = ObjSt::NeedKey,
                    (ObjSt::AfterOpen | ObjSt::NeedKey, b'"') => {
                        // Listed and free keys run side by side; the free branch
                        // refuses listed names, so every value gets its own schema.
                        if listed(all) {
                            let mut k = f;
                            k.st = ObjSt::Key(all);
                            out.push([&st[..], &[Frame::Obj(k)]].concat());
                        }
                        if !free_ok {
                            return None;
                        }
                        (f.free, f.st) = (f.free + 1, ObjSt::Colon(None));
                        let excl = (!o.keys.is_empty()).then_some(all);
                        child = Some(str_frame(
                            0,
                            self.limits.max_string_chars,
                            StrSt::Body,
                            excl,
                        ));
                    }
                    (ObjSt::Key(s), _) => {
                        let s = self.narrow(s, b);
                        f.st = ObjSt::Key(s);
                        if !listed(s) {
                            return None;
                        } else if self.first_len(s) == Some(s.pos) {
                            (f.used, f.st) = (f.used | bit(s.lo), ObjSt::Colon(Some(s.lo)));
                        }
                    }
                    (ObjSt::Colon(k), b':') => {
                        (f.st, child) = (ObjSt::AfterEntry, Some(Frame::Value(o.value(k)?)));
                    }
                    _ => return None,
                }
                st.push(Frame::Obj(f));
                st.extend(child);
            }
        }
        out.push(st);
        Some(())
    }

    /// One byte of a string: `None` rejects, `Some(None)` closes it.
    fn str_step(&self, mut s: StrF, b: u8) -> Option<Option<StrF>> {
        s.st = match s.st {
            StrSt::Open if b == b'"' => StrSt::Body,
            StrSt::Body if b == b'"' => {
                let clash = s.excl.is_some_and(|e| self.clash(e));
                return (s.len >= s.min && !clash).then_some(None);
            }
            StrSt::Body if s.len >= s.max || b < 0x20 => return None,
            StrSt::Body if s.excl.is_some() => {
                // Free keys beside listed ones stay plain ASCII, so their bytes
                // are the key and can be compared with the listed names.
                if b == b'\\' || b >= 0x7f {
                    return None;
                }
                let e = self.narrow(s.excl?, b);
                self.key_fix(e, s.max - s.len - 1)?;
                (s.excl, s.len) = (Some(e), s.len + 1);
                StrSt::Body
            }
            StrSt::Body => {
                s.len += 1;
                match b {
                    b'\\' => StrSt::Esc,
                    0x20..=0x7f => StrSt::Body,
                    // UTF-8 lead bytes and the range of their next byte (this
                    // excludes overlongs, surrogates and code points past U+10FFFF).
                    0xc2..=0xdf => StrSt::Utf8(1, 0x80, 0xbf),
                    0xe0 => StrSt::Utf8(2, 0xa0, 0xbf),
                    0xe1..=0xec | 0xee | 0xef => StrSt::Utf8(2, 0x80, 0xbf),
                    0xed => StrSt::Utf8(2, 0x80, 0x9f),
                    0xf0 => StrSt::Utf8(3, 0x90, 0xbf),
                    0xf1..=0xf3 => StrSt::Utf8(3, 0x80, 0xbf),
                    0xf4 => StrSt::Utf8(3, 0x80, 0x8f),
                    _ => return None,
                }
            }
            StrSt::Utf8(left, lo, hi) if (lo..=hi).contains(&b) => match left {
                0 | 1 => StrSt::Body,
                _ => StrSt::Utf8(left - 1, 0x80, 0xbf),
            },
            StrSt::Esc if b"\"\\/bfnrt".contains(&b) => StrSt::Body,
            StrSt::Esc if b == b'u' => StrSt::Hex(0, 0, false),
            StrSt::Hex(n, val, low) => {
                let (n, val) = (n + 1, val * 16 + char::from(b).to_digit(16)?);
                // Surrogates must pair up (serde_json rejects lone ones): a low
                // half starts `dc`..`df`, exactly when it is due.
                let low_lead = (0xdc..=0xdf).contains(&val);
                if (n == 1 && low && val != 0xd) || (n == 2 && low != low_lead) {
                    return None;
                }
                match n {
                    4 if !low && (0xd800..=0xdbff).contains(&val) => StrSt::NeedBs,
                    4 => StrSt::Body,
                    _ => StrSt::Hex(n, val, low),
                }
            }
            StrSt::NeedBs if b == b'\\' => StrSt::NeedU,
            StrSt::NeedU if b == b'u' => StrSt::Hex(0, 0, true),
            _ => return None,
        };
        Some(Some(s))
    }

    fn str_completion(&self, s: &StrF) -> Option<Vec<u8>> {
        let mut out = match s.st {
            StrSt::Open => b"\"".to_vec(),
            StrSt::Body => Vec::new(),
            StrSt::Esc => b"n".to_vec(),
            // Pad with zeros; a high surrogate then needs its low half.
            StrSt::Hex(n, val, low) => {
                let pad: &[u8] = if low { b"dc00" } else { b"0000" };
                let full = (n..4).fold(val, |v, _| v * 16);
                let high = !low && (0xd800..=0xdbff).contains(&full);
                let half: &[u8] = if high { b"\\udc00" } else { b"" };
                [pad.get(usize::from(n)..).unwrap_or_default(), half].concat()
            }
            StrSt::NeedBs => b"\\udc00".to_vec(),
            StrSt::NeedU => b"udc00".to_vec(),
            // `lo` is always a valid next byte, and 0x80 any later one.
            StrSt::Utf8(left, lo, _) => [lo].into_iter().chain((1..left).map(|_| 0x80)).collect(),
        };
        let mut len = s.len;
        if let Some(e) = s.excl {
            let fix = self.key_fix(e, s.max.saturating_sub(len))?;
            len += fix.len();
            out.extend(fix);
        }
        out.extend((len..s.min).map(|_| b'a'));
        out.push(b'"');
        Some(out)
    }

    /// Suffix finishing frame `f` at container depth `depth`, once the frames above are finished.
    fn frame_completion(&self, f: &Frame, depth: usize) -> Option<Vec<u8>> {
        let doc = |n: usize| self.doc(n).map(<[u8]>::to_vec);
        match *f {
            Frame::Value(n) => doc(n),
            Frame::Lit(s) => Some(self.list(s.node).get(s.lo)?.get(s.pos..)?.to_vec()),
            Frame::Str(s) => self.str_completion(&s),
            Frame::Num(n) => num_completion(self.num_spec(n.node)?, &n),
            Frame::Arr(a) if a.st == ArrSt::Open => doc(a.node),
            Frame::Arr(a) => {
                let (items, min, _) = self.arr(a.node)?;
                // After a comma one more item is due; then pad up to minItems.
                let due = min.max(a.count + usize::from(a.st == ArrSt::NeedItem));
                let (mut out, mut sep) = (Vec::new(), a.st == ArrSt::AfterItem);
                for _ in a.count..due {
                    out.extend(if sep { &b","[..] } else { b"" });
                    out.extend_from_slice(self.doc(items)?);
                    sep = true;
                }
                out.push(b']');
                Some(out)
            }
            Frame::Obj(o) if o.st == ObjSt::Open => doc(o.node),
            Frame::Obj(o) => self.obj_completion(&o, depth),
        }
    }

    fn obj_completion(&self, f: &ObjF, depth: usize) -> Option<Vec<u8>> {
        let o = self.obj(f.node)?;
        let entry = |i: usize, from: usize| -> Option<Vec<u8>> {
            let (key, val) = (o.keys.get(i)?.get(from..)?, self.doc(*o.vals.get(i)?)?);
            Some([key, b":", val].concat())
        };
        let best = |s: Span| {
            let ok = (s.lo..s.hi).filter(|&i| self.key_ok(o, i, f.used, depth));
            ok.min_by_key(|&i| entry(i, 0).map_or(usize::MAX, |e| e.len()))
        };
        let all = self.span(f.node, o.keys.len());
        let (mut used, mut sep) = (f.used, f.st != ObjSt::AfterOpen);
        let mut out = match f.st {
            ObjSt::Colon(k) => [b":", self.doc(o.value(k)?)?].concat(),
            ObjSt::Key(s) => {
                let i = best(s)?;
                used |= bit(i);
                entry(i, s.pos)?
            }
            // After a comma one entry is due: a required one below, or the cheapest.
            ObjSt::NeedKey if o.missing(used).next().is_some() => {
                sep = false;
                Vec::new()
            }
            ObjSt::NeedKey => match best(all) {
                Some(i) => entry(i, 0)?,
                None => {
                    let key = self.key_fix(all, self.limits.max_string_chars)?;
                    [b"\"", &key[..], b"\":", self.doc(o.extra?)?].concat()
                }
            },
            _ => Vec::new(),
        };
        for i in o.missing(used) {
            out.extend(if sep { &b","[..] } else { b"" });
            out.extend(entry(i, 0)?);
            sep = true;
        }
        out.push(b'}');
        Some(out)
    }

    fn branch_completion(&self, st: &[Frame]) -> Option<Vec<u8>> {
        let mut depth = st.iter().filter(|f| f.is_container()).count();
        let mut out = Vec::new();
        for f in st.iter().rev() {
            out.extend(self.frame_completion(f, depth)?);
            depth -= usize::from(f.is_container());
        }
        Some(out)
    }
}

/// Where the output is so far. Cheap to clone (the decoder clones it for every candidate token).
#[derive(Clone)]
pub struct GuideState {
    g: Arc<Compiled>,
    branches: Vec<Vec<Frame>>,
}

impl fmt::Debug for GuideState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The compiled schema is shared and large; show only the parse state.
        let mut d = f.debug_struct("GuideState");
        d.field("branches", &self.branches).finish()
    }
}

impl GuideState {
    /// Feeds `bytes`; Ok if the output so far can still become a valid document, Err(()) otherwise (state then unspecified; callers clone first).
    #[allow(clippy::result_unit_err)] // the decoder only needs accept/reject
    pub fn advance(&mut self, bytes: &[u8]) -> Result<(), ()> {
        for &b in bytes {
            let mut next = Vec::new();
            for br in std::mem::take(&mut self.branches) {
                self.g.feed(br, b, &mut next);
            }
            for br in next {
                if self.branches.len() < MAX_BRANCHES && !self.branches.contains(&br) {
                    self.branches.push(br);
                }
            }
            if self.branches.is_empty() {
                return Err(());
            }
        }
        Ok(())
    }

    /// Whether `bytes` would be accepted (clone + advance).
    pub fn accepts(&self, bytes: &[u8]) -> bool {
        self.clone().advance(bytes).is_ok()
    }

    /// The output so far is a complete valid document (the decoder may stop here).
    pub fn can_finish(&self) -> bool {
        self.branches.iter().any(|b| self.g.can_finish(b))
    }

    /// Nothing may follow: the document is complete and no byte can extend it (e.g. after the closing `}` of the top-level object). For a top-level number that could still grow, can_finish is true and must_finish false.
    pub fn must_finish(&self) -> bool {
        self.can_finish() && (0..=255u8).all(|b| !self.accepts(&[b]))
    }

    /// The shortest bytes that, appended, make a complete valid document (used when the token budget runs out). Appending them must always give a document that parses and validates against the schema. Empty when can_finish().
    pub fn completion(&self) -> Vec<u8> {
        if self.can_finish() {
            return Vec::new();
        }
        let g = &self.g;
        let all = self.branches.iter().filter_map(|b| g.branch_completion(b));
        all.min_by_key(Vec::len).unwrap_or_default()
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn guide(s: &Value) -> JsonGuide {
        JsonGuide::from_schema(s, Limits::default()).expect("schema compiles")
    }

    fn fed(g: &JsonGuide, s: &[u8]) -> Option<GuideState> {
        let mut st = g.start();
        st.advance(s).ok().map(|_| st)
    }

    /// Each space-separated prefix in `yes` is accepted, each in `no` rejected.
    fn check(g: &JsonGuide, yes: &str, no: &str) {
        for y in yes.split(' ').filter(|y| !y.is_empty()) {
            assert!(fed(g, y.as_bytes()).is_some(), "should accept {y}");
        }
        for n in no.split(' ').filter(|n| !n.is_empty()) {
            assert!(fed(g, n.as_bytes()).is_none(), "should reject {n}");
        }
    }

    /// `(can_finish, must_finish)` after `s`.
    fn ends(g: &JsonGuide, s: &[u8]) -> (bool, bool) {
        let st = fed(g, s).expect("accepted");
        (st.can_finish(), st.must_finish())
    }

    fn assert_valid(schema: &Value, doc: &[u8]) {
        let text = String::from_utf8_lossy(doc);
        let v: Value = serde_json::from_slice(doc).unwrap_or_else(|e| panic!("{text}: {e}"));
        let val = jsonschema::validator_for(schema).expect("test schema is valid");
        assert!(val.is_valid(&v), "{text} is not valid against {schema}");
    }

    /// `prefix` + completion() is accepted, finished and valid; returns the completion.
    fn completes(g: &JsonGuide, schema: &Value, prefix: &[u8]) -> String {
        let mut st = fed(g, prefix).expect("prefix accepted");
        let c = st.completion();
        st.advance(&c).expect("completion accepted");
        assert!(st.can_finish());
        assert_valid(schema, &[prefix, &c].concat());
        String::from_utf8_lossy(&c).into_owned()
    }

    #[test]
    fn strict_keys_and_required_before_close() {
        let s = json!({"type":"object","properties":{"name":{"type":"string"},
            "age":{"type":"integer"}},"required":["name"]});
        let g = guide(&s);
        let no =
            r#"{"x {} {"age":1} {"age":3,"a {"age":" {"age":3,"name":"b", {"name":"b","age":1,"#;
        check(&g, r#"{"na {"age":3,"name":"b"}"#, no);
        assert!(
            fed(&g, b"{ ").is_none() && fed(&g, b"{\"age\": ").is_none(),
            "no whitespace"
        );
        assert_eq!(completes(&g, &s, br#"{"age":3"#), r#","name":""}"#);
        assert_eq!(completes(&g, &s, br#"{"a"#), r#"ge":0,"name":""}"#);
        assert_eq!(ends(&g, br#"{"age":3,"name":"b"}"#), (true, true));
    }

    #[test]
    fn enum_prefixes() {
        let s = json!({"enum":["red","green",7,70.5,null,{"k":[1]}]});
        let g = guide(&s);
        check(
            &g,
            r#""gr {"k":[1]} 70.5 null"#,
            r#""gx "red"x 71 {"k":[2 nulll"#,
        );
        assert_eq!(completes(&g, &s, b"\"g"), "reen\"");
        assert_eq!(ends(&g, b"7"), (true, false), "7 may grow into 70.5");
        assert_eq!(ends(&g, b"\"red\""), (true, true));
        let typed = json!({"type":"string","enum":[1]});
        assert!(JsonGuide::from_schema(&typed, Limits::default()).is_err());
    }

    #[test]
    fn utf8_and_escapes() {
        let s = json!({"type":"string","maxLength":2});
        let g = guide(&s);
        let mut st = fed(&g, b"\"\xc3").unwrap();
        assert!(!st.accepts(b"\"") && !st.accepts(b"\xc3"), "mid-character");
        st.advance(b"\xa9").unwrap();
        st.advance("é".as_bytes()).unwrap();
        assert!(!st.accepts(b"a") && st.accepts(b"\""), "counts characters");
        let bad: [&[u8]; 9] = [
            b"\"\xc0",
            b"\"\xed\xa0",
            b"\"\xf4\x90",
            b"\"\xff",
            b"\"\n",
            b"\"\\x",
            b"\"\\ude00",
            b"\"\\ud83d\"",
            b"\"\\ud83d\\u0",
        ];
        assert!(bad.iter().all(|b| fed(&g, b).is_none()));
        check(
            &g,
            r#""\u00e9\n" "\ud83d\ude00" "\/\"""#,
            r#""\ud83d\ude00ab"#,
        );
        let partial: [&[u8]; 6] = [
            b"\"\\ud83d",
            b"\"\\ud8",
            b"\"\\u",
            b"\"\\",
            b"\"\xf0\x9f",
            b"\"\xe0",
        ];
        for p in partial {
            completes(&g, &s, p);
        }
        let min = json!({"type":"string","minLength":3});
        assert_eq!(completes(&guide(&min), &min, b"\"\\"), "naa\"");
    }

    #[test]
    fn limits_are_respected() {
        let lim = Limits {
            max_string_chars: 3,
            max_items: 2,
            max_depth: 2,
            max_integer_digits: 3,
            max_fraction_digits: 1,
            max_properties: 1,
        };
        let g = JsonGuide::from_schema(&json!({}), lim).unwrap();
        let yes = r#""abc" [1,2] [[1]] 999 1.5 {"a":1} {"a":[]} -0.5"#;
        check(
            &g,
            yes,
            r#""abcd [1,2, [[[ [{"a":[ 1000 1.55 {"a":1, {"abcd"#,
        );
        let g = JsonGuide::any_object(lim);
        check(&g, "{}", "[ 1 \"");
        assert_eq!(ends(&g, b"{}"), (true, true));
        let e = JsonGuide::from_schema(&json!({"type":"array","minItems":3}), lim);
        assert!(e.unwrap_err().0.contains("minItems 3"));
    }

    #[test]
    fn numbers() {
        let g = guide(&json!({"type":"integer","minimum":0}));
        check(&g, "0 120", "- 01 1. 1e3");
        assert_eq!(
            (ends(&g, b"12"), ends(&g, b"0")),
            ((true, false), (true, true))
        );
        let num = json!({"type":"number"});
        let g = guide(&num);
        check(&g, "-0 -0.5 0.25", "-- 1e +1 1.2. .5");
        assert_eq!(
            (completes(&g, &num, b"-"), completes(&g, &num, b"1.")),
            ("0".into(), "0".into())
        );
        let range = json!({"type":"integer","minimum":10,"maximum":20});
        let g = guide(&range);
        check(&g, "1 15 20", "3 21 150 -");
        assert_eq!(completes(&g, &range, b"2"), "0");
        let real = json!({"type":"number","minimum":-2.5,"exclusiveMaximum":3.75});
        check(&guide(&real), "3.7 3.749 -2.5", "3.75 4 -2.6");
        check(
            &guide(&json!({"type":"integer","exclusiveMinimum":0})),
            "1",
            "0",
        );
        let neg = json!({"type":"integer","minimum":-7,"maximum":-3});
        assert_eq!(completes(&guide(&neg), &neg, b""), "-3");
        let empty = json!({"type":"integer","minimum":5,"maximum":4});
        assert!(JsonGuide::from_schema(&empty, Limits::default()).is_err());
    }

    #[test]
    fn nested_arrays_of_objects() {
        let s = json!({"type":"array","minItems":1,"items":{"type":"object","properties":{
            "id":{"type":"integer"},"tags":{"type":"array","maxItems":2,"items":{"type":"string"}}},
            "required":["id"]}});
        let g = guide(&s);
        let no = r#"[] [{"tags":[]}] [{"id":1,"tags":["a","b", [{"id":1}{"#;
        check(&g, r#"[{"id":1,"tags":["a","b"]},{"id":2}]"#, no);
        assert_eq!(completes(&g, &s, br#"[{"tags":["x"#), r#""],"id":0}]"#);
        assert_eq!(completes(&g, &s, br#"[{"id":1},"#), r#"{"id":0}]"#);
    }

    #[test]
    fn refs_recursion_and_depth() {
        let s = json!({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
            "kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}},
            "$ref":"#/$defs/node"});
        let lim = Limits {
            max_depth: 3,
            ..Limits::default()
        };
        let g = JsonGuide::from_schema(&s, lim).unwrap();
        // At depth 3 a "kids" array would exceed max_depth, so only "v" is offered.
        check(
            &g,
            r#"{"v":1,"kids":[{"v":2}]} {"kids":[{"v"#,
            r#"{"kids":[{"k"#,
        );
        let d = json!({"definitions":{"t":{"type":"array","items":{"$ref":"#"}}},
            "allOf":[{"$ref":"#/definitions/t"}]});
        check(&guide(&d), "[[],[[]]]", "[[{");
    }

    #[test]
    fn any_of_with_null_and_nullable() {
        let s = json!({"anyOf":[{"type":"string","maxLength":3},{"type":"null"}]});
        let g = guide(&s);
        check(&g, r#"null "ab""#, r#"nul" 1 "abcd"#);
        assert_eq!(completes(&g, &s, b""), "\"\"");
        check(
            &guide(&json!({"type":"integer","nullable":true})),
            "null 5",
            "\"",
        );
    }

    #[test]
    fn free_keys_beside_listed_keys() {
        let s = json!({"type":"object","properties":{"name":{"type":"string"}},
            "additionalProperties":{"type":"integer"},"required":["name"]});
        let g = guide(&s);
        // A listed name takes the listed schema; any other key takes additionalProperties.
        check(
            &g,
            r#"{"zz":3,"name":"x"} {"nam":1 {"names":1"#,
            r#"{"name":1 {"nam":""#,
        );
        completes(&g, &s, br#"{"name"#);
        completes(&g, &s, br#"{"q":1,"#);
        // A free key at the length limit may not spell a used listed name.
        let s = json!({"type":"object","properties":{"ab":{"type":"string"}},
            "additionalProperties":{"type":"integer"}});
        let lim = Limits {
            max_string_chars: 2,
            ..Limits::default()
        };
        let g = JsonGuide::from_schema(&s, lim).unwrap();
        check(&g, r#"{"ab":"x","ac":1} {"ab":"x","a"#, r#"{"ab":"x","ab"#);
        completes(&g, &s, br#"{"ab":"x","a"#);
        let st = g.start();
        assert!(st.accepts(b"{") && st.accepts(b"{") && st.completion() == b"{}");
    }

    #[test]
    fn compile_errors_name_the_location() {
        let bad = [
            (
                r#"{"properties":{"t":{"items":{"minItems":3,"maxItems":2}}}}"#,
                "/properties/t/items",
            ),
            (r#"{"properties":{"a":false}}"#, "/properties/a: `false`"),
            (r#"{"enum":[]}"#, "enum"),
            (r#"{"properties":{"a":{}},"required":["b"]}"#, "\"b\""),
            (
                r#"{"type":"string","minLength":5,"maxLength":2}"#,
                "minLength",
            ),
            (r#"{"type":"bogus"}"#, "bogus"),
            (r#"{"allOf":[{},{}]}"#, "allOf"),
            (r##"{"$ref":"#/$defs/missing"}"##, "missing"),
            (
                r##"{"properties":{"a":{"$ref":"#"}},"required":["a"]}"##,
                "max_depth",
            ),
        ];
        for (s, want) in bad {
            let s: Value = serde_json::from_str(s).unwrap();
            let e = JsonGuide::from_schema(&s, Limits::default()).unwrap_err();
            assert!(e.to_string().contains(want), "{e} lacks {want}");
        }
    }

    /// Varied schemas for the property tests (none uses `nullable`, which validators ignore).
    fn schemas() -> Vec<Value> {
        vec![
            json!({"type":"object","properties":{"name":{"type":"string","maxLength":10},
                "age":{"type":"integer","minimum":0,"maximum":150},
                "tags":{"type":"array","items":{"type":"string"},"maxItems":3}},"required":["name","age"]}),
            json!({"enum":["red","green","blue","rust",1,12,true,null,[1,2],{"k":"v"}]}),
            json!({"type":"object"}),
            json!({}),
            json!({"type":"array","minItems":1,"maxItems":4,"items":{"type":"object","properties":{
                "id":{"type":"integer"},"pts":{"type":"array","items":{"type":"number"}}},"required":["id"]}}),
            json!({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
                "kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}},"$ref":"#/$defs/node"}),
            json!({"anyOf":[{"type":"string","minLength":2},{"type":"null"},{"type":"integer","minimum":-5,"maximum":5}]}),
            json!({"type":"number","minimum":-2.5,"maximum":3.75}),
            json!({"type":"object","properties":{"name":{"type":"string"},"n":{"type":"boolean"}},
                "additionalProperties":{"type":"integer"},"required":["name"]}),
            json!({"type":"string","minLength":3,"maxLength":5}),
            json!({"type":["string","integer","boolean","null"]}),
            json!({"definitions":{"p":{"type":"object","properties":{"x":{"const":"é\n\"q"},"y":{"type":"array","items":true}},
                "required":["x"],"additionalProperties":false}},"type":"array","items":{"allOf":[{"$ref":"#/definitions/p"}]}}),
            json!({"type":"object","properties":{"k":{"oneOf":[{"type":"string","maxLength":1},
                {"type":"array","minItems":2,"items":{"enum":["a","b"]}}]}},"required":["k"],"additionalProperties":true}),
        ]
    }

    /// About 200 candidate tokens: structure, literals, keys, escapes, split UTF-8, junk.
    fn token_pool() -> Vec<Vec<u8>> {
        let words = [
            r#"{ } [ ] , : " ": ," {" "} [] {} [{ }] "] ", true false null nul l tr ue fa lse 0 1 12"#,
            r#"7 - -1 . .5 5. 00 9 150 3.75 123456789 e E + \ \n \" \\ \/ \u u00e9 00e9 d83d \ud83d"#,
            r#"\ude00 \u0041 n u name age tags id pts v kids red green blue rust ru k x y q hello ab"#,
            r#"abc nam names "name": "age": "id": "v": "kids":[ "k": :" :[ :{ ":" ":1 1, 2] "a" "b" "#,
            r#""" ' / # é 日本 😀 a b c d e f g h i j k l m n o p q r s t u v w x y z 2 3 4 5 6 8"#,
        ];
        let split = words.iter().flat_map(|w| w.split(' '));
        let mut pool: Vec<Vec<u8>> = split
            .chain([" ", " world", "\n", "\t"])
            .map(Into::into)
            .collect();
        let raw = [
            0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80, 0xff, 0x01, 0xed, 0xa0, 0xe6,
        ];
        pool.extend(raw.map(|b| vec![b]));
        pool
    }

    #[test]
    fn random_walks_stay_completable_and_valid() {
        let pool = token_pool();
        for (si, schema) in schemas().iter().enumerate() {
            let g = guide(schema);
            for seed in 0..60u64 {
                let mut rng = 0x9e37_79b9_7f4a_7c15 ^ (seed * 1_000_003 + si as u64 + 1);
                let mut below = |n: usize| {
                    // xorshift64
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    (rng % n.max(1) as u64) as usize
                };
                let (mut st, mut out) = (g.start(), Vec::new());
                for _ in 0..80 {
                    if st.must_finish() {
                        break;
                    }
                    let comp = st.completion();
                    let mut cands: Vec<_> =
                        (0..30).map(|_| pool[below(pool.len())].clone()).collect();
                    if !comp.is_empty() && below(4) == 0 {
                        let k = 1 + below(comp.len().min(4));
                        cands.insert(below(cands.len() + 1), comp[..k].to_vec());
                    }
                    // Like the decoder: the first accepted candidate, else the completion's first byte.
                    cands.extend((!comp.is_empty()).then(|| comp[..1].to_vec()));
                    let accepted = |c: &Vec<u8>| {
                        let advanced = st.clone().advance(c).is_ok();
                        assert_eq!(st.accepts(c), advanced);
                        advanced
                    };
                    let Some(c) = cands.into_iter().find(accepted) else {
                        assert!(
                            comp.is_empty(),
                            "the completion's first byte is always accepted"
                        );
                        break;
                    };
                    st.advance(&c).unwrap();
                    out.extend(c);
                    if st.can_finish() {
                        assert_valid(schema, &out);
                    }
                }
                let comp = completes(&g, schema, &out);
                assert!(comp.len() < 400, "{comp}");
            }
        }
    }

    #[test]
    fn start_completion_is_a_minimal_valid_document() {
        for schema in schemas() {
            let c = completes(&guide(&schema), &schema, b"");
            assert!(c.len() <= 40, "{c}");
        }
        let bools = json!({"type":"array","minItems":2,"items":{"type":"boolean"}});
        assert_eq!(completes(&guide(&bools), &bools, b""), "[false,false]");
        assert_eq!(
            JsonGuide::any_object(Limits::default())
                .start()
                .completion(),
            b"{}"
        );
    }
}
