//! LDBC Graphalytics datasets: the `NAME.properties` description (Java properties
//! format) and the `NAME.v` vertex file; `NAME.e` edge lines use
//! [`crate::edges::parse_edge_line`].

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};

/// A Graphalytics graph and its per-algorithm parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphalyticsDataset {
    /// The graph name: the properties file's stem.
    pub name: String,
    pub vertex_file: PathBuf,
    pub edge_file: PathBuf,
    pub directed: bool,
    /// Whether edges carry a weight (`sssp.weight-property` or
    /// `edge-properties.names` is set).
    pub weighted: bool,
    pub pr_damping: Option<f64>,
    pub pr_iterations: Option<u32>,
    pub bfs_source: Option<u64>,
    pub sssp_source: Option<u64>,
    pub cdlp_iterations: Option<u32>,
    /// The vertex count stated in `meta.vertices`.
    pub vertices: Option<u64>,
    /// The edge count stated in `meta.edges`.
    pub edges: Option<u64>,
    /// The directory holding the properties file.
    pub dir: PathBuf,
}

impl GraphalyticsDataset {
    /// The file of expected output for an algorithm (`BFS`, `PR`, `WCC`, `CDLP`,
    /// `LCC`, `SSSP`), named `NAME-ALGORITHM` beside the properties file.
    pub fn expected_output_file(&self, algorithm: &str) -> PathBuf {
        self.dir
            .join(format!("{}-{}", self.name, algorithm.to_ascii_uppercase()))
    }
}

/// Parses Java properties text into key/value pairs: `key = value`, `key: value` or
/// `key value`; `#` and `!` comment lines; a trailing backslash continues a line.
/// Later keys override earlier ones. Escapes other than line continuation are kept
/// as written, which suits Graphalytics files.
pub fn parse_properties(text: &str) -> FxHashMap<String, String> {
    let mut map = FxHashMap::default();
    let mut logical = String::new();
    for raw in text.lines() {
        let piece = raw.trim_start();
        if logical.is_empty() && (piece.is_empty() || piece.starts_with(['#', '!'])) {
            continue;
        }
        let trailing = piece.len() - piece.trim_end_matches('\\').len();
        if trailing % 2 == 1 {
            logical.push_str(&piece[..piece.len() - 1]);
            continue;
        }
        logical.push_str(piece);
        let line = std::mem::take(&mut logical);
        let (key, value) = split_property(&line);
        map.insert(key.to_string(), value.to_string());
    }
    if !logical.is_empty() {
        let (key, value) = split_property(&logical);
        map.insert(key.to_string(), value.to_string());
    }
    map
}

fn split_property(line: &str) -> (&str, &str) {
    let line = line.trim();
    match line.find(['=', ':', ' ', '\t']) {
        None => (line, ""),
        Some(i) => {
            let key = &line[..i];
            let mut rest = line[i..].trim_start();
            if let Some(r) = rest.strip_prefix(['=', ':']) {
                rest = r.trim_start();
            }
            (key, rest.trim_end())
        }
    }
}

/// Loads `NAME.properties`: reads the `graph.NAME.*` keys, NAME being the file stem
/// (or, when no key uses the stem, the single graph the file describes). Data files
/// are relative to the properties file's directory. A missing `vertex-file`,
/// `edge-file` or `directed` key, or an unreadable value, is an
/// [`DatasetError::Invalid`] error naming the file and the key.
///
/// Some published datasets name the vertex file as their edge file; when
/// `edge-file` equals `vertex-file` and `NAME.e` exists beside it, `NAME.e` is used.
pub fn load_properties(path: &Path) -> Result<GraphalyticsDataset> {
    let text = std::fs::read_to_string(path).map_err(|e| DatasetError::io(path, e))?;
    let props = parse_properties(&text);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = graph_name(&props, &stem)
        .ok_or_else(|| {
            DatasetError::invalid(path, format!("missing key graph.{stem}.vertex-file"))
        })?
        .to_string();
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let key = |suffix: &str| format!("graph.{name}.{suffix}");
    let get = |suffix: &str| props.get(&key(suffix)).map(String::as_str);
    let require = |suffix: &str| {
        get(suffix)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| DatasetError::invalid(path, format!("missing key {}", key(suffix))))
    };
    fn parse_opt<T: std::str::FromStr>(
        path: &Path,
        key: String,
        value: Option<&str>,
    ) -> Result<Option<T>> {
        value
            .map(|v| {
                v.parse()
                    .map_err(|_| DatasetError::invalid(path, format!("bad value {v:?} for {key}")))
            })
            .transpose()
    }
    let directed = match require("directed")?.to_ascii_lowercase().as_str() {
        "true" => true,
        "false" => false,
        other => {
            return Err(DatasetError::invalid(
                path,
                format!("bad value {other:?} for {}", key("directed")),
            ))
        }
    };
    let vertex_file = dir.join(require("vertex-file")?);
    let mut edge_file = dir.join(require("edge-file")?);
    let conventional_edges = dir.join(format!("{name}.e"));
    if edge_file == vertex_file && conventional_edges.is_file() {
        edge_file = conventional_edges;
    }
    let weighted = get("sssp.weight-property").is_some_and(|v| !v.is_empty())
        || get("edge-properties.names").is_some_and(|v| !v.is_empty());
    Ok(GraphalyticsDataset {
        pr_damping: parse_opt(path, key("pr.damping-factor"), get("pr.damping-factor"))?,
        pr_iterations: parse_opt(path, key("pr.num-iterations"), get("pr.num-iterations"))?,
        bfs_source: parse_opt(path, key("bfs.source-vertex"), get("bfs.source-vertex"))?,
        sssp_source: parse_opt(path, key("sssp.source-vertex"), get("sssp.source-vertex"))?,
        cdlp_iterations: parse_opt(path, key("cdlp.max-iterations"), get("cdlp.max-iterations"))?,
        vertices: parse_opt(path, key("meta.vertices"), get("meta.vertices"))?,
        edges: parse_opt(path, key("meta.edges"), get("meta.edges"))?,
        name,
        vertex_file,
        edge_file,
        directed,
        weighted,
        dir,
    })
}

/// The graph name the keys use: the stem if any key has it, else the only name
/// with a `vertex-file` key.
fn graph_name<'a>(props: &'a FxHashMap<String, String>, stem: &'a str) -> Option<&'a str> {
    let prefix = format!("graph.{stem}.");
    if props.keys().any(|k| k.starts_with(&prefix)) {
        return Some(stem);
    }
    let mut names = props.keys().filter_map(|k| {
        k.strip_prefix("graph.")
            .and_then(|rest| rest.strip_suffix(".vertex-file"))
    });
    let first = names.next()?;
    names.next().is_none().then_some(first)
}

/// Parses one line of a `.v` file: a vertex id and an optional value (the rest of
/// the line). `None` for a blank or `#` comment line; a non-integer id is a
/// [`DatasetError::Malformed`] error naming `path` and `line_no`.
pub fn parse_vertex_line(
    line: &str,
    path: &Path,
    line_no: u64,
) -> Result<Option<(u64, Option<String>)>> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let (id_text, rest) = match trimmed.find([' ', '\t']) {
        Some(i) => (&trimmed[..i], trimmed[i..].trim_ascii_start()),
        None => (trimmed, ""),
    };
    let id = id_text.parse().map_err(|_| {
        DatasetError::malformed(
            path,
            line_no,
            format!("vertex id {id_text:?} is not a non-negative integer"),
        )
    })?;
    let value = (!rest.is_empty()).then(|| rest.to_string());
    Ok(Some((id, value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edges::parse_edge_line;

    #[test]
    fn properties_syntax() {
        let p = parse_properties("# c\n! c\n  a = 1\nb:2\nc 3\nd=\nlong = x, \\\n   y\nempty\n");
        assert_eq!(p["a"], "1");
        assert_eq!(p["b"], "2");
        assert_eq!(p["c"], "3");
        assert_eq!(p["d"], "");
        assert_eq!(p["long"], "x, y");
        assert_eq!(p["empty"], "");
    }

    #[test]
    fn loads_and_reports_missing_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.properties");
        std::fs::write(
            &path,
            "graph.g.vertex-file = g.v\ngraph.g.edge-file = g.e\ngraph.g.directed = false\n\
             graph.g.sssp.weight-property = weight\ngraph.g.sssp.source-vertex = 3\n\
             graph.g.pr.damping-factor = 0.85\ngraph.g.pr.num-iterations = 10\n",
        )
        .unwrap();
        let d = load_properties(&path).unwrap();
        assert_eq!(d.name, "g");
        assert_eq!(d.vertex_file, dir.path().join("g.v"));
        assert_eq!(d.edge_file, dir.path().join("g.e"));
        assert!(!d.directed && d.weighted);
        assert_eq!(d.sssp_source, Some(3));
        assert_eq!(d.pr_damping, Some(0.85));
        assert_eq!(d.pr_iterations, Some(10));
        assert_eq!(d.bfs_source, None);
        assert_eq!(d.expected_output_file("pr"), dir.path().join("g-PR"));

        std::fs::write(
            &path,
            "graph.g.vertex-file = g.v\ngraph.g.directed = true\n",
        )
        .unwrap();
        let err = load_properties(&path).unwrap_err();
        assert!(matches!(err, DatasetError::Invalid { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("g.properties") && msg.contains("graph.g.edge-file"),
            "{msg}"
        );

        std::fs::write(
            &path,
            "graph.g.vertex-file = g.v\ngraph.g.edge-file = g.e\ngraph.g.directed = maybe\n",
        )
        .unwrap();
        assert!(load_properties(&path)
            .unwrap_err()
            .to_string()
            .contains("directed"));
    }

    #[test]
    fn vertex_lines() {
        let p = Path::new("g.v");
        assert_eq!(parse_vertex_line("12", p, 1).unwrap(), Some((12, None)));
        assert_eq!(
            parse_vertex_line("7 0.25\r", p, 2).unwrap(),
            Some((7, Some("0.25".into())))
        );
        assert_eq!(
            parse_vertex_line("7\tinfinity extra", p, 2).unwrap(),
            Some((7, Some("infinity extra".into())))
        );
        assert_eq!(parse_vertex_line("", p, 3).unwrap(), None);
        let err = parse_vertex_line("x1", p, 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "g.v:4: vertex id \"x1\" is not a non-negative integer"
        );
    }

    /// Loads every dataset of the shared Graphalytics folder and checks that its
    /// files parse and match the stated counts.
    fn check_folder(folder: &Path) -> usize {
        let mut checked = 0;
        let mut entries: Vec<_> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "properties"))
            .collect();
        entries.sort();
        for props in entries {
            let d = load_properties(&props).unwrap();
            let vtext = std::fs::read_to_string(&d.vertex_file).unwrap();
            let mut vertices = rustc_hash::FxHashSet::default();
            for (i, line) in vtext.lines().enumerate() {
                if let Some((id, _)) =
                    parse_vertex_line(line, &d.vertex_file, i as u64 + 1).unwrap()
                {
                    vertices.insert(id);
                }
            }
            assert_eq!(Some(vertices.len() as u64), d.vertices, "{}", d.name);
            let etext = std::fs::read_to_string(&d.edge_file).unwrap();
            let mut edges = 0u64;
            for (i, line) in etext.lines().enumerate() {
                if let Some(e) = parse_edge_line(line, &d.edge_file, i as u64 + 1).unwrap() {
                    assert!(vertices.contains(&e.src) && vertices.contains(&e.dst));
                    assert_eq!(e.weight.is_some(), d.weighted, "{}", d.name);
                    edges += 1;
                }
            }
            assert_eq!(Some(edges), d.edges, "{}", d.name);
            if let Some(s) = d.bfs_source.or(d.sssp_source) {
                assert!(vertices.contains(&s));
            }
            for algo in ["BFS", "PR", "WCC", "CDLP", "LCC", "SSSP"] {
                let out = d.expected_output_file(algo);
                if let Ok(text) = std::fs::read_to_string(&out) {
                    let mut n = 0;
                    for (i, line) in text.lines().enumerate() {
                        let (id, value) = parse_vertex_line(line, &out, i as u64 + 1)
                            .unwrap()
                            .unwrap();
                        assert!(vertices.contains(&id) && value.is_some());
                        n += 1;
                    }
                    assert_eq!(n, vertices.len(), "{}", out.display());
                }
            }
            checked += 1;
        }
        checked
    }

    #[test]
    fn shared_graphalytics_datasets_load_and_parse() {
        let folder = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/graphalytics"
        ));
        if !folder.is_dir() {
            eprintln!("skipping: {} is absent", folder.display());
            return;
        }
        assert_eq!(check_folder(folder), 14);
        let example = load_properties(&folder.join("example-directed.properties")).unwrap();
        assert!(example.directed && example.weighted);
        assert_eq!(example.bfs_source, Some(1));
        assert_eq!(example.cdlp_iterations, Some(2));
        assert_eq!(example.pr_iterations, Some(2));
        let pr = load_properties(&folder.join("test-pr-directed.properties")).unwrap();
        assert!(!pr.weighted);
        assert_eq!((pr.vertices, pr.edges), (Some(50), Some(246)));
        assert_eq!(pr.pr_iterations, Some(14));
        // Its properties name the .v file as the edge file.
        let sssp = load_properties(&folder.join("test-sssp-undirected.properties")).unwrap();
        assert_eq!(sssp.edge_file, folder.join("test-sssp-undirected.e"));
    }

    #[test]
    fn bundled_samples_load_and_parse() {
        assert_eq!(check_folder(&crate::samples_dir().join("graphalytics")), 3);
    }
}
