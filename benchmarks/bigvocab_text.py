"""Text side of benchmarks/make_bigvocab_corpus.py: markup to paragraphs, paragraphs to sentences
to tokens. Pure functions on strings (no files, no packages), so they are tested on inline samples.

Tokenizer (Mikolov's PTB conventions): NFKC, lowercase; a token is a run of letters, digits and
underscores, possibly joined by - ' . / (and , between digits), so `e-mail`, `don't`, `kernel.h`,
`tcp/ip` and `spin_lock` stay whole; other punctuation is dropped; a token with digits but no
letters (`1,000`, `3.14`, `2023-01-19`) becomes `N`; URLs and e-mail addresses are removed.
Sentences end at . ! ? followed by a space and an upper-case letter, digit or quote, except after
a few abbreviations (`e.g.`) and single letters (`J. Smith`).
"""
from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser
from typing import Iterable, Iterator

Doc = list[str]  # a document: its paragraphs, markup already stripped

ABBREVIATIONS = frozenset("e.g i.e etc cf vs mr mrs ms dr st no fig sec ch vol approx esp resp al obs".split())

_URL = re.compile(r"\S+://\S+|\S+@\S+\.\w+|\bwww\.\S+")
_TOKEN = re.compile(r"\w+(?:(?:[-'./]|(?<=\d),(?=\d))\w+)*")
_ALPHA = re.compile(r"[^\W\d_]")
_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


# ----------------------------------------------------------------------------- tokenizer
def tokenize(text: str) -> list[str]:
    """Lowercase word tokens of one sentence (see the module docstring for the rules)."""
    text = _URL.sub(" ", unicodedata.normalize("NFKC", text)).lower()
    return ["N" if not _ALPHA.search(t) and any(c.isdigit() for c in t) else t.replace("’", "'")
            for t in _TOKEN.findall(text.replace("’", "'"))]


def sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences at . ! ? followed by a capital, digit or quote; a period
    after an abbreviation or a single letter (`e.g.`, `J. Smith`) does not end one."""
    out: list[str] = []
    start = 0
    for m in _SENT_END.finditer(paragraph):
        words = paragraph[start:m.start()].split()
        last = words[-1].rstrip(".!?\"')]").lower() if words else ""
        if paragraph[m.start() - 1] == "." and (last in ABBREVIATIONS or len(last) <= 1):
            continue
        out.append(paragraph[start:m.start()])
        start = m.end()
    out.append(paragraph[start:])
    return [s for s in (s.strip() for s in out) if s]


def paragraph_lines(paragraph: str, min_tokens: int, max_tokens: int) -> list[str]:
    """The tokenized sentences of a paragraph, one string each, within [min_tokens, max_tokens]
    (shorter ones are headings and fragments, longer ones flattened tables)."""
    lines = []
    for s in sentences(paragraph):
        toks = tokenize(s)
        if min_tokens <= len(toks) <= max_tokens:
            lines.append(" ".join(toks))
    return lines


# ----------------------------------------------------------------------------- markup
def wordy(line: str) -> bool:
    """True for prose: at least half of the non-space characters are letters (drops code, tables,
    ASCII art and rulers)."""
    chars = [c for c in line if not c.isspace()]
    return bool(chars) and sum(c.isalpha() for c in chars) >= 0.5 * len(chars)


def blocks(lines: Iterable[str]) -> Iterator[list[str]]:
    """Blank-line separated blocks of lines."""
    block: list[str] = []
    for line in lines:
        if line.strip():
            block.append(line.rstrip())
        elif block:
            yield block
            block = []
    if block:
        yield block


def plain_paragraphs(text: str) -> list[str]:
    """Paragraphs of a plain-text file: blocks of prose lines joined with spaces."""
    out = []
    for block in blocks(text.splitlines()):
        kept = [line.strip() for line in block if wordy(line)]
        if kept:
            out.append(" ".join(" ".join(kept).split()))
    return out


_RST_CODE = re.compile(r"\.\.\s+[\w:-]*(?:code|include|literal|highlight|doctest|testcode|testoutput|production|"
                       r"kernel-|toctree|raw|image|math|graphviz|table|index|tabularcolumns)[\w:-]*::")
_RST_DIRECTIVE = re.compile(r"\.\.\s+[\w:-]+::")
_RST_ROLE = re.compile(r":[\w:+.-]+:`([^`<]*?)\s*(?:<[^>`]*>)?`")
_RST_LINK = re.compile(r"`([^`<]*?)\s*(?:<[^>`]*>)?`_{1,2}")
_RST_INLINE = re.compile(r"``([^`]*)``|`([^`]*)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|\|([^|\s][^|]*)\|")


def rst_inline(text: str) -> str:
    """Inline RST markup to its text: roles, links, literals, emphasis, substitutions."""
    text = _RST_LINK.sub(r"\1", _RST_ROLE.sub(r"\1", text))
    text = _RST_INLINE.sub(lambda m: next(g for g in m.groups() if g is not None), text)
    return re.sub(r"\[#?\w*\]_", "", text)


def rst_paragraphs(text: str) -> list[str]:
    """Prose paragraphs of a reStructuredText file: literal blocks (after `::`), code/table/toctree
    directives and comments are dropped with their indented bodies; headings' rulers, table rows
    and list markers go; admonitions (note, warning, ...) and description directives keep their
    body."""
    skip_indent: int | None = None
    cleaned: list[str] = []
    for raw in text.expandtabs(8).splitlines():
        indent = len(raw) - len(raw.lstrip())
        line = raw.strip()
        if skip_indent is not None:
            if not line or indent > skip_indent:
                continue
            skip_indent = None
        if line.startswith("..") and (_RST_CODE.match(line) or not _RST_DIRECTIVE.match(line)):
            skip_indent = indent  # code/table directive, or a comment, label, footnote: body goes too
            cleaned.append("")
            continue
        if line.startswith(".."):  # admonition or description directive: the body is prose
            cleaned.append("")
            continue
        if line.endswith("::"):  # a literal block follows; the paragraph keeps its text
            skip_indent = indent
            cleaned += [rst_inline(line[:-1]), ""]
            continue
        if re.fullmatch(r"([^\w\s])\1{2,}|[+|].*|(=+\s+)+=+", line):  # rulers, table rows
            cleaned.append("")
            continue
        m = re.match(r"(?:[-*+•]|#\.|\d+[.)]|\(\d+\)|:[^:`]+:)\s+", line)  # list markers, fields
        if m:
            cleaned.append("")
            line = line[m.end():]
        cleaned.append(rst_inline(line))
    return plain_paragraphs("\n".join(cleaned))


_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def b64_number(s: str) -> int:
    """dictd's index numbers: base 64, most significant digit first."""
    n = 0
    for c in s:
        n = n * 64 + _B64[c]
    return n


def dictd_entries(index_text: str, data: bytes) -> list[str]:
    """The entries of a dictd dictionary in file order (an entry indexed under several headwords
    once; the 00-database-* metadata entries left out)."""
    spans = set()
    for line in index_text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and not parts[0].startswith("00-database") and not parts[0].startswith("00database"):
            spans.add((b64_number(parts[1]), b64_number(parts[2])))
    return [data[o:o + n].decode("utf-8", "replace") for o, n in sorted(spans)]


_GCIDE_CITE = re.compile(r"\"[^\"]*\"\s*--\s?[A-Z][^.\n]*\.?|\s--\s?[A-Z][\w.' ]*\.?$", re.M)
_GCIDE_PRON = re.compile(r"\\[^\\\n]*\\,?")
_IPA = re.compile(r"/[^/\n]*[ˈˌːəɪʊɛɔɑɜæʃʒθðŋɡɾœøʏ][^/\n]*/")  # FreeDict's /ˈhaʊs/ pronunciations
_SOURCE_TAG = re.compile(r"^\s*\[[^\]]*\]\s*$|^\s*\(\d{4}-\d\d-\d\d\)\s*$", re.M)


def dict_entry_paragraphs(entry: str) -> list[str]:
    """Paragraphs of one dictd entry (GCIDE, FOLDOC, V.E.R.A., FreeDict): pronunciations (\\A*buse"\\, /ˈhaʊs/),
    source tags ([1913 Webster]), dates, {cross-reference} braces and <category> tags go;
    citations (blocks indented 10+ spaces, "quoted" text with a --Author) are dropped as
    literary text. Sense numbers are list markers."""
    entry = _SOURCE_TAG.sub("", _GCIDE_PRON.sub("", _IPA.sub("", entry)))
    out = []
    for block in blocks(entry.splitlines()):
        if all(len(line) - len(line.lstrip()) >= 10 for line in block) and len(block) < len(entry.splitlines()):
            continue  # an indented citation block (GCIDE puts them at 12 spaces)
        text = " ".join(line.strip() for line in block)
        text = _GCIDE_CITE.sub(" ", text)
        text = re.sub(r"<[\w ,.-]*>|[{}]", " ", text)
        text = re.sub(r"(?:^|\s)(?:\d+\.|\([a-z0-9]\)|Syn:|Usage:|Note:)\s", " ", text)
        if wordy(text):
            out.append(" ".join(text.split()))
    return out


def wordnet_paragraphs(data: str) -> list[str]:
    """WordNet glosses of one data.* file, one paragraph per synset: the definition and the
    quoted examples (split at ';'), without the pointer fields."""
    out = []
    for line in data.splitlines():
        if line.startswith("  ") or " | " not in line:
            continue  # licence header
        gloss = line.split(" | ", 1)[1].strip()
        parts = [p.strip().strip('"') for p in gloss.split(";")]
        out.append(". ".join(p[:1].upper() + p[1:] for p in parts if p) + ".")
    return out


def fortune_paragraphs(text: str) -> list[Doc]:
    """One document per fortune (`%` lines separate them); overstriking (x\\bx) removed."""
    text = re.sub(r".\x08", "", text)
    return [plain_paragraphs(f) for f in re.split(r"^%\s*$", text, flags=re.M) if f.strip()]


class _HTMLText(HTMLParser):
    """Collects an HTML page's text with a blank line at every block element and a space at other
    non-formatting tags; code (pre, script, style) and navigation (head, nav, Sphinx sidebars,
    headers and footers) are skipped."""

    BLOCK = frozenset("p div li dd dt h1 h2 h3 h4 h5 h6 td th tr br table section blockquote ul ol dl "
                      "title caption figcaption".split())
    # Inside a word (<code>x</code>s); other tags (span, dt parts, ...) separate words.
    INLINE = frozenset("a b i em strong code tt abbr var kbd samp sub sup u s small big wbr".split())
    SKIP = frozenset("pre script style head nav".split())
    SKIP_CLASS = re.compile(r"\b(sphinxsidebar|related|footer|header|navigation|navheader|navfooter|toc)\b")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_tag: str | None = None
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_tag is not None:
            self.skip_depth += tag == self.skip_tag
            return
        cls = " ".join(v or "" for k, v in attrs if k in ("class", "role", "id"))
        if tag in self.SKIP or (tag == "div" and self.SKIP_CLASS.search(cls)):
            self.skip_tag, self.skip_depth = tag, 1
        else:
            self.parts.append("\n\n" if tag in self.BLOCK else "" if tag in self.INLINE else " ")

    def handle_endtag(self, tag: str) -> None:
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
        else:
            self.parts.append("\n\n" if tag in self.BLOCK else "" if tag in self.INLINE else " ")

    def handle_data(self, data: str) -> None:
        if self.skip_tag is None:
            self.parts.append(data.replace("\n", " "))


def html_paragraphs(text: str) -> list[str]:
    """Prose paragraphs of an HTML page (see _HTMLText)."""
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    return plain_paragraphs("".join(parser.parts))


_POD_CODE = re.compile(r"[A-Z]<<+\s+(.*?)\s+>>+|[A-Z]<([^<>]*)>")


def pod_inline(text: str) -> str:
    """POD formatting codes to their text: B<x>, C<< x >>, L<text|target> -> text, E<gt> -> >."""
    def one(m: re.Match) -> str:
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        if m.group(0).startswith("E<"):
            return html.unescape(f"&{inner};") if not inner.isdigit() else chr(int(inner))
        if m.group(0).startswith(("X<", "Z<")):
            return ""
        return inner.split("|", 1)[0] if m.group(0).startswith("L<") else inner
    for _ in range(4):  # codes nest (B<C<x>>): innermost first
        text, n = _POD_CODE.subn(one, text)
        if not n:
            break
    return text


def pod_paragraphs(text: str) -> list[str]:
    """Prose paragraphs of a Perl POD file: verbatim (indented) paragraphs and =begin/=end
    sections go; headings and =item keep their text."""
    out: list[str] = []
    in_begin = False
    for block in blocks(text.expandtabs(8).splitlines()):
        first = block[0]
        if first.startswith("=begin"):
            in_begin = True
        if in_begin:
            in_begin = not any(line.startswith("=end") for line in block)
            continue
        if first[:1].isspace():
            continue  # verbatim: code
        if first.startswith("="):
            cmd, _, rest = first.partition(" ")
            if cmd not in ("=head1", "=head2", "=head3", "=head4", "=item"):
                continue
            block = [rest.lstrip("*0123456789. ")] + block[1:]
        out += plain_paragraphs(pod_inline(" ".join(line.strip() for line in block)))
    return out
