//! Shared test support: locating and loading the recorded traffic in `fixtures/`.
//!
//! Every recorded exchange becomes an [`Exchange`]: the envelope the client sent, the envelope the
//! server answered (when there is one), and where it came from, so a failing test can name it.

use std::fmt;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

pub mod emu;
pub mod replay;

/// The project's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
}

/// Which recorded corpus a fixture file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Corpus {
    /// `fixtures/pypsrp-captures/responses/*.yml`: request/response pairs with Windows.
    Pypsrp,
    /// `fixtures/pywinrm-captures/test_xmls/*/N-{request,response}.xml`.
    Pywinrm,
    /// `fixtures/winrb-winrm-captures/**.xml`: single server responses (plain XML only, no ERB).
    Winrb,
    /// `fixtures/masterzen-winrm-captures/development/sample_requests.txt`: Go client requests.
    Masterzen,
}

/// One recorded request/response exchange (either side may be absent).
#[derive(Clone)]
pub struct Exchange {
    /// The file it came from, relative to `fixtures/`.
    pub file: String,
    /// Position in that file (0-based), for files holding several exchanges.
    pub index: usize,
    pub corpus: Corpus,
    /// The envelope the client sent.
    pub request: Option<String>,
    /// The envelope the server answered, when it answered one.
    pub response: Option<String>,
    /// pypsrp's `transport_error` / `http_error` / `auth_error` markers, when present.
    pub marker: Option<String>,
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.file, self.index)
    }
}

impl Exchange {
    /// A short unique name: `file#index`.
    pub fn name(&self) -> String {
        format!("{}#{}", self.file, self.index)
    }
}

/// A fixture file and the exchanges it holds.
#[derive(Debug, Clone)]
pub struct FixtureFile {
    /// Path relative to `fixtures/`, e.g. `pypsrp-captures/responses/test_winrs_standard.yml`.
    pub file: String,
    pub corpus: Corpus,
    pub exchanges: Vec<Exchange>,
}

impl FixtureFile {
    /// A test-friendly name: the relative path with separators and dots turned into `_`... kept
    /// readable, e.g. `pypsrp::test_winrs_standard`.
    pub fn test_name(&self) -> String {
        let stem = self
            .file
            .rsplit_once('/')
            .map_or(self.file.as_str(), |(_, s)| s)
            .trim_end_matches(".yml")
            .trim_end_matches(".xml")
            .trim_end_matches(".txt");
        let corpus = match self.corpus {
            Corpus::Pypsrp => "pypsrp",
            Corpus::Pywinrm => "pywinrm",
            Corpus::Winrb => "winrb",
            Corpus::Masterzen => "masterzen",
        };
        match self.corpus {
            // pywinrm's files are N-request.xml inside a scenario folder: name the folder.
            Corpus::Pywinrm => {
                let dir = self.file.rsplit('/').nth(1).unwrap_or("");
                format!("{corpus}::{dir}")
            }
            Corpus::Winrb => {
                let rel = self.file.trim_start_matches("winrb-winrm-captures/");
                format!(
                    "{corpus}::{}",
                    rel.trim_end_matches(".xml").replace('/', "::")
                )
            }
            _ => format!("{corpus}::{stem}"),
        }
    }

    /// The envelopes of this file, requests and responses, in order, labelled for messages.
    pub fn envelopes(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        for ex in &self.exchanges {
            if let Some(r) = &ex.request {
                out.push((format!("{} request", ex.name()), r.as_str()));
            }
            if let Some(r) = &ex.response {
                out.push((format!("{} response", ex.name()), r.as_str()));
            }
        }
        out
    }
}

/// Every fixture file of every corpus, sorted by path.
pub fn all_fixture_files() -> Vec<FixtureFile> {
    let mut files = pypsrp_files();
    files.extend(pywinrm_files());
    files.extend(winrb_files());
    files.extend(masterzen_files());
    files
}

/// pypsrp's recorded conversations (66 files, `_template.yml` excluded).
pub fn pypsrp_files() -> Vec<FixtureFile> {
    let dir = fixtures_dir().join("pypsrp-captures/responses");
    let mut out = Vec::new();
    for path in sorted_entries(&dir) {
        let name = file_name(&path);
        if !name.ends_with(".yml") || name.starts_with('_') {
            continue;
        }
        let rel = format!("pypsrp-captures/responses/{name}");
        let text = read(&path);
        let docs = YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{rel}: not valid YAML: {e}"));
        let messages = docs
            .first()
            .and_then(|d| d["messages"].as_vec())
            .unwrap_or_else(|| panic!("{rel}: no `messages` list"));
        let exchanges = messages
            .iter()
            .enumerate()
            .map(|(index, m)| {
                let marker = ["transport_error", "http_error", "auth_error"]
                    .into_iter()
                    .find(|k| !m[*k].is_badvalue())
                    .map(str::to_owned);
                Exchange {
                    file: rel.clone(),
                    index,
                    corpus: Corpus::Pypsrp,
                    request: yaml_text(&m["request"]),
                    response: yaml_text(&m["response"]),
                    marker,
                }
            })
            .collect();
        out.push(FixtureFile {
            file: rel,
            corpus: Corpus::Pypsrp,
            exchanges,
        });
    }
    out
}

/// pywinrm PR #162's scenarios: one file entry per scenario folder, exchanges numbered from 1.
pub fn pywinrm_files() -> Vec<FixtureFile> {
    let dir = fixtures_dir().join("pywinrm-captures/test_xmls");
    let mut out = Vec::new();
    for scenario in sorted_entries(&dir) {
        if !scenario.is_dir() {
            continue;
        }
        let sname = file_name(&scenario);
        let mut exchanges = Vec::new();
        for n in 1.. {
            let req = scenario.join(format!("{n}-request.xml"));
            let resp = scenario.join(format!("{n}-response.xml"));
            if !req.exists() && !resp.exists() {
                break;
            }
            exchanges.push(Exchange {
                file: format!("pywinrm-captures/test_xmls/{sname}/{n}"),
                index: n - 1,
                corpus: Corpus::Pywinrm,
                request: req.exists().then(|| read(&req)),
                response: resp.exists().then(|| read(&resp)),
                marker: None,
            });
        }
        out.push(FixtureFile {
            file: format!("pywinrm-captures/test_xmls/{sname}/"),
            corpus: Corpus::Pywinrm,
            exchanges,
        });
    }
    out
}

/// WinRb's plain-XML server responses (ERB templates are skipped: they are not XML until filled).
pub fn winrb_files() -> Vec<FixtureFile> {
    let root = fixtures_dir().join("winrb-winrm-captures");
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .filter(|p| file_name(p).ends_with(".xml"))
        .map(|p| {
            let rel = p
                .strip_prefix(fixtures_dir())
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_else(|_| p.to_string_lossy().into_owned());
            FixtureFile {
                file: rel.clone(),
                corpus: Corpus::Winrb,
                exchanges: vec![Exchange {
                    file: rel,
                    index: 0,
                    corpus: Corpus::Winrb,
                    request: None,
                    response: Some(read(&p)),
                    marker: None,
                }],
            }
        })
        .collect()
}

/// The Go client's five sample requests, split on their `<?xml` declarations.
pub fn masterzen_files() -> Vec<FixtureFile> {
    let rel = "masterzen-winrm-captures/development/sample_requests.txt".to_owned();
    let text = read(&fixtures_dir().join(&rel));
    let exchanges = text
        .split("<?xml")
        .skip(1)
        .enumerate()
        .map(|(index, chunk)| {
            let doc = format!("<?xml{chunk}");
            // Keep only the document: drop the notes (HTML comments) after the root element.
            let end = doc
                .rfind("</env:Envelope>")
                .map_or(doc.len(), |i| i + "</env:Envelope>".len());
            Exchange {
                file: rel.clone(),
                index,
                corpus: Corpus::Masterzen,
                request: Some(doc[..end].to_owned()),
                response: None,
                marker: None,
            }
        })
        .collect();
    vec![FixtureFile {
        file: rel,
        corpus: Corpus::Masterzen,
        exchanges,
    }]
}

fn yaml_text(y: &Yaml) -> Option<String> {
    y.as_str().map(str::to_owned)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    v.sort();
    v
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for p in sorted_entries(dir) {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_fixture_readmes() {
        let pypsrp = pypsrp_files();
        assert_eq!(pypsrp.len(), 66);
        let pairs: usize = pypsrp.iter().map(|f| f.exchanges.len()).sum();
        assert_eq!(pairs, 521);
        let pywinrm = pywinrm_files();
        assert_eq!(
            pywinrm.iter().map(|f| f.exchanges.len()).sum::<usize>(),
            104
        );
        assert_eq!(masterzen_files()[0].exchanges.len(), 5);
        assert!(winrb_files().len() >= 20);
        for f in all_fixture_files() {
            for (label, xml) in f.envelopes() {
                assert!(xml.contains("Envelope"), "{label}: not an envelope");
            }
        }
    }
}
