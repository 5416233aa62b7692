"""benchmarks/make_bigvocab_corpus.py and its text side: tokenizer, sentence splitter, markup
strippers and the split/write steps, on tiny inline samples (nothing is downloaded)."""
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bigvocab_text as bt  # noqa: E402
import make_bigvocab_corpus as mb  # noqa: E402


def test_tokenize_ptb_conventions():
    text = "Don't mail 1,000 E-Mails to https://x.org/a or me@x.org; see kernel.h, TCP/IP and x86_64 (3.14)."
    assert bt.tokenize(text) == ["don't", "mail", "N", "e-mails", "to", "or", "see", "kernel.h", "tcp/ip", "and",
                                 "x86_64", "N"]
    assert bt.tokenize("ﬁle — “quoted” 2023-01-19") == ["file", "quoted", "N"]  # NFKC, punctuation dropped


def test_sentences_keep_abbreviations_and_initials():
    para = "This is one. This is e.g. two. J. Smith said so! And 3 more? Yes."
    assert bt.sentences(para) == ["This is one.", "This is e.g. two.", "J. Smith said so!", "And 3 more?", "Yes."]
    assert bt.paragraph_lines(para, 3, 200) == ["this is one", "this is e.g two", "j smith said so", "and N more"]


def test_rst_drops_code_comments_and_rulers():
    rst = """.. SPDX-License-Identifier: GPL-2.0

=====
Title
=====

Use ``foo()`` and :c:func:`bar <bar_impl>` as `the docs <https://x.org>`_ say::

    int x = 1;
    return x;

.. code-block:: c

    while (1) {}

.. note::

   Notes are **prose** and stay.

- A list item that stays.
"""
    assert bt.rst_paragraphs(rst) == ["Title", "Use foo() and bar as the docs say:", "Notes are prose and stay.",
                                      "A list item that stays."]


def test_html_skips_code_and_navigation():
    page = """<html><head><title>T</title></head><body>
    <div class="sphinxsidebar"><p>Previous topic here</p></div>
    <p>First <code>x</code>s paragraph.</p><pre>code = 1</pre>
    <dl><dt><strong>fun</strong><span class="classifier">callable</span></dt><dd>The function.</dd></dl>
    </body></html>"""
    assert bt.html_paragraphs(page) == ["First xs paragraph.", "fun callable", "The function."]


def test_pod_formatting_codes_and_verbatim():
    pod = "=head1 NAME\n\nperlfoo - B<bold> C<< $x->y >> L<perlfunc/open|text>\n\n    my $code = 1;\n\n" \
          "=begin html\n\n<b>x</b>\n\n=end html\n\n=item * An E<lt>itemE<gt>\n"
    assert bt.pod_paragraphs(pod) == ["NAME", "perlfoo - bold $x->y perlfunc/open", "An <item>"]


def test_gcide_entry_loses_pronunciation_tags_and_citations():
    entry = """Abuse \\A*buse"\\, v. t. [F. abuser.]
   1. To put to a wrong use; as, to abuse {gold}. "Shall flight abuse your name?" --Shak.
      [1913 Webster]

            This principle shoots rapidly into popularity.
                                                  --Froude.
      [1913 Webster]
"""
    paras = bt.dict_entry_paragraphs(entry)
    assert paras == ["Abuse v. t. [F. abuser.] To put to a wrong use; as, to abuse gold ."]
    assert "froude" not in " ".join(paras).lower() and "shak" not in " ".join(paras).lower()


def test_dictd_index_and_ipa():
    data = b"00-database-info\nheader\nHaus /ha\xca\x8as/ <n>\nhouse, home\n"
    off = data.index(b"Haus")
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    index = f"00-database-info\tA\t{b64[off]}\nhaus\t{b64[off]}\t{b64[len(data) - off]}\n"
    entries = bt.dictd_entries(index, data)
    assert entries == ["Haus /haʊs/ <n>\nhouse, home\n"]
    assert bt.dict_entry_paragraphs(entries[0]) == ["Haus house, home"]


def test_wordnet_gloss_and_fortunes():
    data = "  1 This software and database is licensed\n00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | " \
           "that which exists; \"the entity was there\"  \n"
    assert bt.wordnet_paragraphs(data) == ["That which exists. The entity was there."]
    assert bt.fortune_paragraphs("One fortune here.\n%\nT\x08Tw\x08wo lines\nof text.\n%\n") == \
        [["One fortune here."], ["Two lines of text."]]


def test_shuffle_dedup_split_deterministic():
    docs = [[f"line {i} a", "shared line here"] for i in range(50)]
    a = mb.shuffle_dedup(docs, seed=3)
    assert a == mb.shuffle_dedup(docs, seed=3) and a != mb.shuffle_dedup(docs, seed=4)
    assert sum(line == "shared line here" for d in a for line in d) == 1
    splits = mb.split_docs(a, valid=0.1, test=0.1)
    assert [d for s in ("train", "valid", "test") for d in splits[s]] == a  # contiguous, in order
    assert all(splits[s] for s in splits)


def test_write_outputs_replaces_folder(tmp_path):
    out = tmp_path / "bv"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    manifest = {"splits": {s: {} for s in ("train", "valid", "test")}}
    mb.write_outputs(out, {s: [["a b c"]] for s in ("train", "valid", "test")}, manifest)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bv"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "test.txt", "train.txt", "valid.txt"]
    assert json.loads((out / "manifest.json").read_text())["splits"]["train"]["sha256"]


def test_missing_package_is_one_clear_error(tmp_path, capsys):
    assert mb.main(["--offline", "--cache", str(tmp_path), "--packages", "jargon-text", "--out",
                    str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: package jargon-text: no .deb in {tmp_path} and --offline given"
    assert mb.main(["--offline", "--cache", str(tmp_path), "--packages", "no-such-pkg"]) == 1
    assert "no-such-pkg: no extractor" in capsys.readouterr().err


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "x.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(mb.BuildError, match="x.gz: unreadable"):
        mb.read_text(bad)


def test_solver_zipf_degenerate_kind():
    """benchmarks/solver.py's early-training shape: count x one shared marginal + small deviations;
    the default kind's problems are unchanged by the new one."""
    import numpy as np
    import solver

    L_r, L_c, R, C = solver.lightrnn_problem(400, seed=1, dtype=np.float64, kind="zipf-degenerate", deviation=0.05)
    assert L_r.shape == (400, R) and L_c.shape == (400, C) and R == C == 20
    share = L_r / L_r.sum(axis=1, keepdims=True)  # each word's costs over rows, normalised
    assert share.std(axis=0).max() < 0.01  # every word sees about the same marginal
    peaked = solver.lightrnn_problem(400, seed=1, dtype=np.float64)[0]
    assert (peaked / peaked.sum(axis=1, keepdims=True)).std(axis=0).max() > 0.01
    with pytest.raises(ValueError, match="unknown problem kind"):
        solver.lightrnn_problem(16, seed=0, dtype=np.float64, kind="flat")
