"""Build a large-vocabulary corpus (train/valid/test, one sentence a line) from Debian packages.

The text is free (DFSG, Debian main) and deliberately non-literary: dictionaries, glossaries,
manuals and technical fortunes. Literary text (novels, poetry, Project Gutenberg books) is kept
out because it is reserved for independent evaluation; GCIDE's illustrative citations (Shakespeare,
Milton, ...) are dropped for the same reason, and so are the fortune files that quote literature.

    python benchmarks/make_bigvocab_corpus.py --out data/bigvocab --cache data/debcache

Steps: `apt-get download` each package into --cache (a .deb already there is reused), extract
with `dpkg-deb -x`, turn each source into documents of paragraphs (markup stripped), split the
paragraphs into sentences and tokens (`tokenize`), drop duplicate and too-short lines, shuffle the
documents with --seed, cut them contiguously into train/valid/test by token share, and write
train.txt, valid.txt, test.txt and manifest.json into --out, replacing it in one rename.

The tokenizer and the markup strippers are in benchmarks/bigvocab_text.py (documented there):
lowercase words, punctuation dropped, numbers as `N` (Mikolov's PTB conventions). Same
packages and seed give byte-identical outputs.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bigvocab_text import (Doc, dict_entry_paragraphs, dictd_entries, fortune_paragraphs,  # noqa: E402
                           html_paragraphs, paragraph_lines, plain_paragraphs, pod_paragraphs, rst_paragraphs,
                           wordnet_paragraphs)

FORTUNE_FILES = ("computers", "debian", "definitions", "education", "law", "linux", "linuxcookie",
                 "medicine", "perl", "science", "work")  # technical and professional; no literature, poems
PARAS_PER_DOC = 40  # long manuals are cut into documents of this many paragraphs so no split gets a whole one
MIN_COUNTS = (1, 2, 3, 5, 10, 20)


class BuildError(RuntimeError):
    """A clear, one-line reason the corpus cannot be built (missing package, unreadable file)."""


def chunked(paragraphs: list[str], size: int = PARAS_PER_DOC) -> list[Doc]:
    """Consecutive paragraphs grouped into documents of at most `size`."""
    return [paragraphs[i:i + size] for i in range(0, len(paragraphs), size)]


# ----------------------------------------------------------------------------- sources
def read_text(path: Path) -> str:
    """A text file (.gz/.dz decompressed), UTF-8, or Latin-1 when it is not UTF-8 (old fortunes)."""
    try:
        raw = gzip.open(path).read() if path.suffix in (".gz", ".dz") else path.read_bytes()
    except (OSError, EOFError) as e:
        raise BuildError(f"{path}: unreadable ({e})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def files(root: Path, pattern: str, exclude: str | None = None) -> list[Path]:
    """Files under root matching the glob, sorted (the file system's order is not reproducible);
    an error if there are none, so a changed package layout is noticed."""
    found = sorted(p for p in root.glob(pattern) if p.is_file() and not (exclude and re.search(exclude, str(p))))
    if not found:
        raise BuildError(f"{root}: no files match {pattern}")
    return found


def dictd_docs(root: Path, name: str) -> list[Doc]:
    base = root / "usr/share/dictd" / name
    index = read_text(base.with_suffix(".index"))
    data_path = base.with_suffix(".dict.dz")
    try:
        data = gzip.open(data_path).read()
    except (OSError, EOFError) as e:
        raise BuildError(f"{data_path}: unreadable ({e})") from None
    return [d for d in (dict_entry_paragraphs(e) for e in dictd_entries(index, data)) if d]


def rst_docs(root: Path, pattern: str, exclude: str | None = None) -> list[Doc]:
    return [doc for p in files(root, pattern, exclude) for doc in chunked(rst_paragraphs(read_text(p)))]


def plain_docs(root: Path, pattern: str, exclude: str | None = None) -> list[Doc]:
    return [doc for p in files(root, pattern, exclude) for doc in chunked(plain_paragraphs(read_text(p)))]


def html_docs(root: Path, pattern: str, exclude: str | None = None) -> list[Doc]:
    return [doc for p in files(root, pattern, exclude) for doc in chunked(html_paragraphs(read_text(p)))]


def pod_docs(root: Path, pattern: str) -> list[Doc]:
    return [doc for p in files(root, pattern) for doc in chunked(pod_paragraphs(read_text(p)))]


def wordnet_docs(root: Path) -> list[Doc]:
    return [[g] for p in files(root, "usr/share/wordnet/data.*") for g in wordnet_paragraphs(read_text(p))]


def fortune_docs(root: Path) -> list[Doc]:
    out: list[Doc] = []
    for name in FORTUNE_FILES:
        out += [d for d in fortune_paragraphs(read_text(root / "usr/share/games/fortunes" / name)) if d]
    return out


LINUX_DOCS = "usr/share/doc/linux-doc-6.1/Documentation"
DOC = "usr/share/doc"
SPHINX_EXTRA = r"/(_sources|_static|_modules|_images|genindex|search|py-modindex)"  # copies, indexes, code
# package -> (what it is, licence, extractor). All in Debian main, so DFSG-free.
SOURCES: dict[str, tuple[str, str, Callable[[Path], list[Doc]]]] = {
    "dict-gcide": ("GNU Collaborative International Dictionary of English", "GPL-2+",
                   lambda r: dictd_docs(r, "gcide")),
    "wordnet-base": ("WordNet 3.0 glosses", "WordNet licence (BSD-like)", wordnet_docs),
    "dict-foldoc": ("Free On-line Dictionary of Computing", "GFDL-1.1+ (no invariant sections)",
                    lambda r: dictd_docs(r, "foldoc")),
    "dict-vera": ("V.E.R.A. computing acronyms", "GFDL-1.1+ (no invariant sections)",
                  lambda r: dictd_docs(r, "vera")),
    "jargon-text": ("The Jargon File 4.4.7", "public domain",
                    lambda r: plain_docs(r, "usr/share/doc/jargon-text/jargon.txt.gz")),
    "linux-doc-6.1": ("Linux kernel documentation (reStructuredText and text sources)", "GPL-2",
                      lambda r: rst_docs(r, f"{LINUX_DOCS}/**/*.rst.gz", r"/translations/")
                      + plain_docs(r, f"{LINUX_DOCS}/**/*.txt.gz", r"/translations/")),
    "python3.11-doc": ("Python 3.11 documentation (reStructuredText sources)", "PSF-2",
                       lambda r: rst_docs(r, "usr/share/doc/python3.11/html/_sources/**/*.txt")),
    "debian-reference-en": ("Debian Reference", "GPL-2+",
                            lambda r: plain_docs(r, "usr/share/debian-reference/*.txt.gz")),
    "gnu-standards": ("GNU Coding Standards, Information for GNU Maintainers", "GFDL-1.3+ (no invariant sections)",
                      lambda r: plain_docs(r, "usr/share/doc/gnu-standards/*.text.gz")),
    "perl-doc": ("Perl 5.36 manual (POD)", "GPL-1+ or Artistic", lambda r: pod_docs(r, "usr/share/perl/*/pod/*.pod")),
    "git-doc": ("Git manual (AsciiDoc sources)", "GPL-2", lambda r: plain_docs(r, "usr/share/doc/git-doc/**/*.txt")),
    "postgresql-doc-15": ("PostgreSQL 15 manual", "PostgreSQL (BSD-like)",
                          lambda r: html_docs(r, "usr/share/doc/postgresql-doc-15/html/*.html")),
    "nodejs-doc": ("Node.js 18 API documentation", "MIT", lambda r: html_docs(r, "usr/share/doc/nodejs/api/*.html")),
    "python-django-doc": ("Django 3.2 documentation", "BSD-3-clause",
                          lambda r: html_docs(r, f"{DOC}/python-django-doc/html/**/*.html", SPHINX_EXTRA)),
    "python-sqlalchemy-doc": ("SQLAlchemy 1.4 documentation (reStructuredText)", "MIT",
                              lambda r: rst_docs(r, f"{DOC}/python-sqlalchemy-doc/rst/**/*.rst")),
    "python-scipy-doc": ("SciPy 1.10 documentation", "BSD-3-clause",
                         lambda r: html_docs(r, f"{DOC}/python-scipy-doc/html/**/*.html", SPHINX_EXTRA)),
    "python-sklearn-doc": ("scikit-learn 1.2 documentation", "BSD-3-clause",
                           lambda r: html_docs(r, f"{DOC}/python-sklearn-doc/html/**/*.html", SPHINX_EXTRA)),
    "python-astropy-doc": ("Astropy 5.2 documentation", "BSD-3-clause",
                           lambda r: html_docs(r, f"{DOC}/python-astropy-doc/html/**/*.html", SPHINX_EXTRA)),
    "python-sympy-doc": ("SymPy 1.11 documentation", "BSD-3-clause",
                         lambda r: html_docs(r, f"{DOC}/python-sympy-doc/html/**/*.html", SPHINX_EXTRA)),
    "sphinx-doc": ("Sphinx 5.3 documentation (reStructuredText sources)", "BSD-2-clause",
                   lambda r: rst_docs(r, f"{DOC}/sphinx-doc/html/_sources/**/*.txt")),
    # Not in the default set: a German-English glossary, mostly word lists; --add it for a
    # vocabulary past 500,000 words (German words and compounds).
    "dict-freedict-deu-eng": ("FreeDict German-English dictionary", "GPL-2+",
                              lambda r: dictd_docs(r, "freedict-deu-eng")),
    "fortunes": ("fortune cookies, technical files only: " + ", ".join(FORTUNE_FILES), "BSD",
                 fortune_docs),
}

OPTIONAL = ("dict-freedict-deu-eng",)
DEFAULT_PACKAGES = tuple(p for p in SOURCES if p not in OPTIONAL)

# ----------------------------------------------------------------------------- packages
def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_deb(package: str, cache: Path, offline: bool) -> Path:
    """The package's .deb in `cache`: reused when there is exactly one, else `apt-get download`."""
    found = sorted(cache.glob(f"{package}_*.deb"))
    if len(found) > 1:
        raise BuildError(f"{cache}: several .deb files for {package} ({', '.join(p.name for p in found)}); keep one")
    if found:
        return found[0]
    if offline:
        raise BuildError(f"package {package}: no .deb in {cache} and --offline given")
    p = subprocess.run(["apt-get", "download", package], cwd=cache, capture_output=True, text=True)
    found = sorted(cache.glob(f"{package}_*.deb"))
    if p.returncode != 0 or len(found) != 1:
        why = (p.stderr.strip().splitlines() or ["no .deb appeared"])[-1]
        raise BuildError(f"package {package}: apt-get download failed ({why}); run apt-get update?")
    return found[0]


def deb_version(deb: Path) -> str:
    p = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True)
    if p.returncode != 0:
        raise BuildError(f"{deb}: not a readable .deb ({p.stderr.strip()})")
    return p.stdout.strip()


def extract_deb(deb: Path, work: Path) -> Path:
    root = work / deb.stem
    p = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True, text=True)
    if p.returncode != 0:
        raise BuildError(f"{deb}: dpkg-deb -x failed ({p.stderr.strip()})")
    return root


# ----------------------------------------------------------------------------- corpus
def doc_lines(docs: list[Doc], min_tokens: int, max_tokens: int) -> list[list[str]]:
    """Each document as its tokenized sentences (documents left without any are dropped)."""
    out = []
    for doc in docs:
        lines = [line for para in doc for line in paragraph_lines(para, min_tokens, max_tokens)]
        if lines:
            out.append(lines)
    return out


def shuffle_dedup(docs: list[list[str]], seed: int) -> list[list[str]]:
    """Documents in a seeded random order; a line seen before (in any document) is dropped, so
    no valid or test line also appears in train."""
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    seen: set[bytes] = set()
    out = []
    for i in order:
        kept = []
        for line in docs[i]:
            key = hashlib.blake2b(line.encode(), digest_size=16).digest()
            if key not in seen:
                seen.add(key)
                kept.append(line)
        if kept:
            out.append(kept)
    return out


def split_docs(docs: list[list[str]], valid: float, test: float) -> dict[str, list[list[str]]]:
    """Contiguous split by token share: train first, then valid, then test, at document ends."""
    sizes = [sum(len(line.split()) for line in d) for d in docs]
    total = sum(sizes)
    bounds = {"train": (1 - valid - test) * total, "valid": (1 - test) * total}
    splits: dict[str, list[list[str]]] = {"train": [], "valid": [], "test": []}
    acc = 0
    for d, n in zip(docs, sizes):
        name = "train" if acc < bounds["train"] else "valid" if acc < bounds["valid"] else "test"
        splits[name].append(d)
        acc += n
    return splits


def vocab_sizes(counts: Counter, others: dict[str, Counter]) -> dict[str, dict]:
    """Per min_count: training words kept, and the share of valid/test tokens outside them."""
    out = {}
    for m in MIN_COUNTS:
        kept = {w for w, c in counts.items() if c >= m}
        row: dict = {"words": len(kept)}
        for split, cnt in others.items():
            oov = sum(c for w, c in cnt.items() if w not in kept)
            row[f"{split}_oov"] = round(oov / max(1, sum(cnt.values())), 5)
        out[str(m)] = row
    return out


def write_outputs(out: Path, splits: dict[str, list[list[str]]], manifest: dict) -> None:
    """Write the splits and manifest.json into a fresh folder beside `out`, then swap it in with
    renames, so `out` is always either the old corpus or the whole new one."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, docs in splits.items():
            path = tmp / f"{name}.txt"
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                for d in docs:
                    f.write("\n".join(d) + "\n")
            manifest["splits"][name]["sha256"] = sha256_file(path)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        old = out.with_name(f".{out.name}.old.{os.getpid()}")
        if out.exists():
            os.rename(out, old)
        os.rename(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def build(args: argparse.Namespace) -> dict:
    """Everything but the writing: packages -> documents -> splits; returns (splits, manifest)."""
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    packages, sources, all_docs = [], {}, []
    with tempfile.TemporaryDirectory(prefix="bigvocab-", dir=args.tmp) as work:
        for pkg in args.packages:
            deb = fetch_deb(pkg, cache, args.offline)
            what, licence, extract = SOURCES[pkg]
            packages.append({"package": pkg, "version": deb_version(deb), "deb": deb.name,
                             "sha256": sha256_file(deb), "content": what, "licence": licence})
            t0 = time.perf_counter()
            docs = doc_lines(extract(extract_deb(deb, Path(work))), args.min_tokens, args.max_tokens)
            n = sum(len(line.split()) for d in docs for line in d)
            sources[pkg] = {"documents": len(docs), "lines": sum(map(len, docs)), "tokens": n}
            print(f"{pkg:>20} {packages[-1]['version']:>22}: {len(docs):>8,} documents {n:>12,} tokens "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
            all_docs += docs
    docs = shuffle_dedup(all_docs, args.seed)
    splits = split_docs(docs, args.valid, args.test)
    counts = {name: Counter(w for d in ds for line in d for w in line.split()) for name, ds in splits.items()}
    manifest = {
        "script": "benchmarks/make_bigvocab_corpus.py",
        "python": sys.version.split()[0], "unicode": unicodedata.unidata_version,
        "seed": args.seed, "min_tokens": args.min_tokens, "max_tokens": args.max_tokens,
        "packages": packages, "sources_before_dedup": sources,
        "splits": {name: {"documents": len(ds), "lines": sum(map(len, ds)), "tokens": sum(counts[name].values()),
                          "tokens_with_eos": sum(counts[name].values()) + sum(map(len, ds)),
                          "distinct_words": len(counts[name])} for name, ds in splits.items()},
        "train_vocabulary_by_min_count": vocab_sizes(counts["train"], {k: counts[k] for k in ("valid", "test")}),
    }
    return {"splits": splits, "manifest": manifest}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", default="data/bigvocab", help="folder for train/valid/test.txt and manifest.json")
    ap.add_argument("--cache", default="data/debcache", help="folder of downloaded .deb files (reused when present)")
    ap.add_argument("--packages", default=",".join(DEFAULT_PACKAGES), help="comma-separated Debian packages to use")
    ap.add_argument("--add", default="",
                    help=f"comma-separated packages to use as well (optional: {', '.join(OPTIONAL)})")
    ap.add_argument("--seed", type=int, default=1, help="seed of the document shuffle")
    ap.add_argument("--valid", type=float, default=0.01, help="share of tokens in the validation split")
    ap.add_argument("--test", type=float, default=0.01, help="share of tokens in the test split")
    ap.add_argument("--min-tokens", type=int, default=3, help="drop sentences with fewer tokens (headings, fragments)")
    ap.add_argument("--max-tokens", type=int, default=200, help="drop sentences with more tokens (flattened tables)")
    ap.add_argument("--offline", action="store_true", help="use only the .deb files already in --cache")
    ap.add_argument("--tmp", default=None, help="folder for the extracted packages (default: the system's)")
    args = ap.parse_args(argv)
    args.packages = [p for p in f"{args.packages},{args.add}".split(",") if p]
    if not 0 < args.valid + args.test < 1:
        ap.error("--valid + --test must be between 0 and 1")
    unknown = [p for p in args.packages if p not in SOURCES]
    if unknown:  # before any download, not after minutes of work on the others
        print(f"error: package {unknown[0]}: no extractor for it (known: {', '.join(SOURCES)})", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    try:
        result = build(args)
        write_outputs(Path(args.out), result["splits"], result["manifest"])
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    m = result["manifest"]
    for name, s in m["splits"].items():
        print(f"{name:>5}: {s['documents']:>9,} documents {s['lines']:>10,} lines {s['tokens']:>12,} tokens "
              f"{s['distinct_words']:>9,} distinct words", flush=True)
    for mc, row in m["train_vocabulary_by_min_count"].items():
        print(f"train vocabulary at min_count {mc:>2}: {row['words']:>9,} words "
              f"(valid OOV {row['valid_oov']:.2%}, test OOV {row['test_oov']:.2%})")
    print(f"wrote {args.out} in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
