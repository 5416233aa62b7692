"""Using a trained model: load it, score text, exact next-word top-k, sampling, table neighbours.

Conventions (all four model types):

- A *state* is ``(hidden, last)``: the hidden state BEFORE the last word read, and that word's
  ids ``(B,)``. The next-word distribution is ``model.log_prob(last[None], hidden)``; keeping the
  last word unread lets every model type use only its public interface.
- A context (prediction, generation) starts a sentence: it is read after ``<eos>`` from a zero
  state. Words outside the vocabulary are read as ``<unk>`` and reported.

LightRNN's exact top-k search lives in :mod:`lightrnn.infer_topk` (re-exported here).

Sampling (``generate``). Without top-k/top-p it is exact ancestral sampling: for LightRNN a row
from ``P_r``, feed it, a column from ``P_c(. | row)``. A temperature T is applied to each factor
(``P_r^(1/T)`` and ``P_c^(1/T)``, each renormalised); for the peers to the word softmax. For
LightRNN at T != 1 this is NOT the tempered joint ``P(w)^(1/T)`` (the column normaliser depends on
the row); it is exact for T = 1. With top-k and/or top-p the candidate set is found exactly on the
model's joint word distribution (T = 1): the k most likely words and/or the smallest most-likely
prefix with mass >= p, whichever is shorter; the temperature is then applied to the joint within
that set (``P(w)^(1/T)`` renormalised over it). For top-p this means the nucleus is chosen before
the temperature (Hugging Face chooses it after).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from lightrnn import checkpoint as ck
from lightrnn.config import ModelConfig
from lightrnn.data import bptt_starts
from lightrnn.infer_topk import (Hidden, TopSearch, cell_word_tensor, check_kp, lightrnn_top, lightrnn_top_many,
                                 sorted_top)
from lightrnn.table import WordTable
from lightrnn.vocab import EOS, Vocab, read_lines

__all__ = ["TrainedModel", "ScoreResult", "TopSearch", "load", "lightrnn_top", "lightrnn_top_many"]


@dataclass
class ScoreResult:
    loss: float  # mean -log P per scored token, nats
    ppl: float  # exp(loss)
    tokens: int  # tokens scored (every line's words and its <eos>)
    oov: int  # words of the text outside the vocabulary, scored as <unk>
    unk: int  # scored tokens that are <unk> (the oov ones plus literal <unk>)
    token_logprobs: np.ndarray | None = None  # (N,) log P of each token in text order, NaN where not scored

    def to_dict(self) -> dict:
        return {"loss": self.loss, "ppl": self.ppl, "tokens": self.tokens, "oov": self.oov, "unk": self.unk}


class TrainedModel:
    """A trained model with its vocabulary and (LightRNN) table, ready for inference.

    Attributes:
        model: the network, in eval mode. config: its ModelConfig. vocab: Vocab (counts unknown,
        zeros). table: WordTable or None. path: the checkpoint it came from.
    """

    def __init__(self, model: nn.Module, vocab: Vocab, path: str | os.PathLike | None = None) -> None:
        if len(vocab) != model.config.vocab_size:
            raise ValueError(f"vocabulary has {len(vocab)} words, the model {model.config.vocab_size}")
        self.model = model.eval()
        self.vocab = vocab
        self.config: ModelConfig = model.config
        self.table: WordTable | None = getattr(model, "table", None)
        self.path = path
        self._cells: tuple[WordTable, Tensor] | None = None

    def __repr__(self) -> str:
        return f"TrainedModel({self.config.model}, V={len(self.vocab)}, from {self.path})"

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _cell_word(self) -> Tensor:
        """(R, C) word ids of the table's cells (-1 empty), cached per table and device."""
        table = self.model.table
        if self._cells is None or self._cells[0] is not table or self._cells[1].device != self.device:
            self._cells = (table, cell_word_tensor(table, self.device))
        return self._cells[1]

    @property
    def is_lightrnn(self) -> bool:
        return self.config.model == "lightrnn"

    # ------------------------------------------------------------------------------ words
    def encode(self, words: str | Sequence[str]) -> tuple[list[int], list[str]]:
        """Word ids (OOV -> <unk>) and the list of OOV words met."""
        if isinstance(words, str):
            words = words.split()
        oov = [w for w in words if w not in self.vocab]
        return [self.vocab.id(w) for w in words], oov

    def _ids(self, ids: Sequence[int] | np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(ids, dtype=np.int64), device=self.device)

    # ------------------------------------------------------------------------------ scoring
    @torch.no_grad()
    def score_tokens(self, tokens: np.ndarray, batch_size: int = 1, bptt: int = 35,
                     token_logprobs: bool = False) -> ScoreResult:
        """Perplexity of encoded ids, exactly as ``lightrnn.data.evaluate`` computes it.

        The text is cut into ``batch_size`` contiguous streams (the last N mod B ids dropped),
        each read from a zero state; the first id of each stream is context only. Reads
        ``tokens`` (e.g. a memory map) one chunk at a time.
        """
        N = len(tokens)
        L = N // batch_size
        if batch_size < 1 or bptt < 1:
            raise ValueError(f"batch_size and bptt must be >= 1, got {batch_size}, {bptt}")
        if L < 2:
            raise ValueError(f"{N} tokens are too few for {batch_size} streams (each needs 2)")
        hidden = self.model.init_hidden(batch_size)
        per_token = np.full(N, np.nan) if token_logprobs else None
        total, count, unk = 0.0, 0, 0
        for i in bptt_starts(L, bptt):
            n = min(bptt, L - 1 - i)
            chunk = np.stack([np.asarray(tokens[b * L + i:b * L + i + n + 1]) for b in range(batch_size)], 1)
            data = self._ids(chunk)  # (n + 1, B)
            out = self.model(data[:-1], data[1:], hidden)
            total += out.token_nll.double().sum().item()
            count += out.token_nll.numel()
            unk += int((data[1:] == self.vocab.unk_id).sum())
            hidden = out.hidden
            if per_token is not None:
                for b in range(batch_size):
                    per_token[b * L + i + 1:b * L + i + n + 1] = -out.token_nll[:, b].double().cpu().numpy()
        loss = total / count
        return ScoreResult(loss, math.exp(loss), count, 0, unk, per_token)

    @torch.no_grad()
    def score_lines(self, lines: Iterable[str], bptt: int = 35,
                    on_token: Callable[[str, float], None] | None = None) -> ScoreResult:
        """Score a text streamed line by line (one sentence a line, ``<eos>`` after each).

        One stream with the state carried, read after an initial ``<eos>``: every word and every
        ``<eos>`` of the text is scored. Equals ``evaluate(model, [<eos>] + ids, batch_size=1,
        bptt=bptt)``. ``on_token(word, logp)`` is called per token in text order (OOV words
        are passed as written, scored as ``<unk>``).
        """
        hidden = self.model.init_hidden(1)
        pending_ids: list[int] = [self.vocab.eos_id]  # pending_ids[0] is context, the rest targets
        pending_words: list[str] = []
        total, count, oov, unk = 0.0, 0, 0, 0

        def run(n: int) -> None:
            nonlocal hidden, total, count, unk
            data = self._ids(pending_ids[:n + 1])[:, None]  # (n + 1, 1)
            out = self.model(data[:-1], data[1:], hidden)
            total += out.token_nll.double().sum().item()
            count += n
            unk += int((data[1:] == self.vocab.unk_id).sum())
            hidden = out.hidden
            if on_token is not None:
                for w, nll in zip(pending_words[:n], out.token_nll[:, 0].tolist()):
                    on_token(w, -nll)
            del pending_ids[:n]
            del pending_words[:n]

        for line in lines:
            words = line.split()
            ids, missing = self.encode(words)
            oov += len(missing)
            pending_ids.extend(ids + [self.vocab.eos_id])
            pending_words.extend(words + [EOS])
            while len(pending_ids) > bptt:
                run(bptt)
        if len(pending_ids) > 1:
            run(len(pending_ids) - 1)
        if count == 0:
            raise ValueError("no tokens to score")
        loss = total / count
        return ScoreResult(loss, math.exp(loss), count, oov, unk)

    def score_file(self, path: str | os.PathLike, bptt: int = 35,
                   on_token: Callable[[str, float], None] | None = None) -> ScoreResult:
        """:meth:`score_lines` over a UTF-8 text file (CorpusError names the file and line)."""
        return self.score_lines((text for _, text in read_lines(path)), bptt, on_token)

    # ------------------------------------------------------------------------------ states
    @torch.no_grad()
    def context_state(self, context: str | Sequence[str] = "", batch_size: int = 1) -> tuple[Hidden, Tensor, list[str]]:
        """Read ``<eos>`` + context; returns (hidden before the last word, last word ids (B,), oov)."""
        ids, oov = self.encode(context)
        ids = [self.vocab.eos_id] + ids
        seq = self._ids(ids)[:, None].expand(-1, batch_size)  # (T, B)
        hidden = self.model.init_hidden(batch_size)
        if seq.shape[0] > 1:
            hidden = self.model(seq[:-1], seq[1:], hidden).hidden
        return hidden, seq[-1].clone(), oov

    def _after_last(self, hidden: Hidden, last: Tensor) -> Hidden:
        """LightRNN: the state after the last word's column step, (L, B, H) each."""
        hs, cs = self.model.states_after_columns(last[None], hidden)  # (1, L, B, H)
        return hs[-1], cs[-1]

    @torch.no_grad()
    def next_log_probs(self, hidden: Hidden, last: Tensor) -> tuple[Tensor, Hidden]:
        """Brute force: log P of every word after the state, (B, V), and the state after ``last``."""
        logp, new = self.model.log_prob(last[None], hidden)  # (1, B, V)
        return logp[0], new

    # ------------------------------------------------------------------------------ top-k
    @torch.no_grad()
    def top(self, hidden: Hidden, last: Tensor, k: int | None = None, p: float | None = None) -> TopSearch:
        """Exact top-k / top-p after ONE state (B = 1): LightRNN prunes rows, peers sort."""
        check_kp(k, p)
        if self.is_lightrnn:
            return lightrnn_top(self.model, self._after_last(hidden, last), k, p, cell_word=self._cell_word())
        logp, _ = self.next_log_probs(hidden, last)
        return sorted_top(logp[0], k, p)

    def predict(self, context: str | Sequence[str] = "", k: int = 10) -> dict:
        """The exact k most likely next words after a sentence-initial context.

        Returns {"words": [(word, prob), ...] descending, "oov": context words read as <unk>,
        "rows_evaluated", "rows_total"} (the row counts are LightRNN's search effort).
        """
        hidden, last, oov = self.context_state(context)
        res = self.top(hidden, last, k=k)
        words = [(self.vocab.words[i], math.exp(v)) for i, v in zip(res.ids.tolist(), res.logp.tolist())]
        return {"words": words, "oov": oov, "rows_evaluated": res.rows_evaluated, "rows_total": res.rows_total}

    # ------------------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample_step(self, hidden: Hidden, last: Tensor, gen: torch.Generator, temperature: float = 1.0,
                    top_k: int | None = None, top_p: float | None = None) -> tuple[Tensor, Hidden]:
        """One word per stream (B,) after each state, and the new ``hidden`` (before the sample).

        See the module docstring for what temperature, top-k and top-p mean here.
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        check_kp(top_k, top_p)
        B = last.shape[0]
        if top_k is not None or top_p is not None:
            out = torch.empty(B, dtype=torch.long, device=last.device)
            if self.is_lightrnn:
                new_hidden = self._after_last(hidden, last)
                tops = lightrnn_top_many(self.model, new_hidden, top_k, top_p, cell_word=self._cell_word())
            else:
                logp, new_hidden = self.next_log_probs(hidden, last)  # (B, V)
                tops = [sorted_top(logp[b], top_k, top_p) for b in range(B)]
            for b, res in enumerate(tops):
                probs = torch.softmax(res.logp.double() / temperature, 0)
                out[b] = res.ids[torch.multinomial(probs, 1, generator=gen)]
            return out, new_hidden
        if not self.is_lightrnn:
            logp, new_hidden = self.next_log_probs(hidden, last)  # (B, V)
            probs = torch.softmax(logp.double() / temperature, -1)
            return torch.multinomial(probs, 1, generator=gen)[:, 0], new_hidden
        h = self._after_last(hidden, last)
        lp_r = self.model.row_log_probs(h)  # (B, R)
        rows = torch.multinomial(torch.softmax(lp_r.double() / temperature, -1), 1, generator=gen)  # (B, 1)
        lp_c, _ = self.model.step_rows(h, rows)  # (B, 1, C)
        cols = torch.multinomial(torch.softmax(lp_c[:, 0].double() / temperature, -1), 1, generator=gen)  # (B, 1)
        return self._cell_word()[rows[:, 0], cols[:, 0]], h

    @torch.no_grad()
    def generate(self, prompt: str | Sequence[str] = "", max_tokens: int = 50, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int = 0,
                 num_samples: int = 1, stop_at_eos: bool = True) -> list[list[str]]:
        """Sample continuations of a sentence-initial prompt; one list of words per sample.

        Each continuation ends after ``<eos>`` (included) when ``stop_at_eos``, or after
        ``max_tokens`` words. Deterministic for a given seed (and device).
        """
        if max_tokens < 1 or num_samples < 1:
            raise ValueError(f"max_tokens and num_samples must be >= 1, got {max_tokens}, {num_samples}")
        gen = torch.Generator(device=self.device).manual_seed(seed)
        hidden, last, _ = self.context_state(prompt, num_samples)
        out = torch.empty(max_tokens, num_samples, dtype=torch.long)
        done = torch.zeros(num_samples, dtype=torch.bool)
        n = 0
        for n in range(1, max_tokens + 1):
            last, hidden = self.sample_step(hidden, last, gen, temperature, top_k, top_p)
            out[n - 1] = last.cpu()
            done |= out[n - 1] == self.vocab.eos_id
            if stop_at_eos and bool(done.all()):
                break
        samples = []
        for b in range(num_samples):
            ids = out[:n, b].tolist()
            if stop_at_eos and self.vocab.eos_id in ids:
                ids = ids[:ids.index(self.vocab.eos_id) + 1]
            samples.append(self.vocab.decode(ids))
        return samples

    # ------------------------------------------------------------------------------ table
    def neighbours(self, word: str) -> dict:
        """The words sharing ``word``'s row and its column in the LightRNN table."""
        if self.table is None:
            raise ValueError(f"a {self.config.model!r} model has no word table (only LightRNN does)")
        if word not in self.vocab:
            raise ValueError(f"{word!r} is not in the vocabulary ({len(self.vocab)} words)")
        w = self.vocab.index[word]
        r, c = int(self.table.rows[w]), int(self.table.cols[w])
        names = lambda ids: [self.vocab.words[i] for i in ids.tolist() if i >= 0 and i != w]  # noqa: E731
        return {"word": word, "id": w, "row": r, "col": c,
                "row_words": names(self.table.cell_word[r, :]), "col_words": names(self.table.cell_word[:, c])}


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu",
         vocab: Vocab | str | os.PathLike | None = None) -> TrainedModel:
    """A ready model (any type) with its vocabulary and table from a checkpoint.

    Reads with ``weights_only=True``; a missing, truncated or foreign file raises
    :class:`lightrnn.checkpoint.CheckpointError` naming it. The words come from the checkpoint;
    ``vocab`` (a Vocab or a vocab.tsv) is needed only for checkpoints saved without them.
    """
    ckpt = ck.load(path, map_location=map_location)
    if isinstance(vocab, (str, os.PathLike)):
        vocab = Vocab.load(vocab)
    if vocab is None:
        words = ckpt.get("vocab_words")
        if words is None:
            raise ck.CheckpointError(f"{path}: checkpoint holds no vocabulary; pass vocab=vocab.tsv")
        try:
            vocab = Vocab(words, np.zeros(len(words), dtype=np.int64))
        except ValueError as e:
            raise ck.CheckpointError(f"{path}: bad vocabulary in checkpoint: {e}") from None
    try:
        model = ck.build_model_from_checkpoint(ckpt, device=map_location)
    except (ValueError, TypeError, KeyError) as e:
        if isinstance(e, ck.CheckpointError):
            raise ck.CheckpointError(f"{path}: {e}") from None
        raise ck.CheckpointError(f"{path}: cannot rebuild the model: {e}") from None
    if len(vocab) != model.config.vocab_size:
        raise ck.CheckpointError(f"{path}: vocabulary has {len(vocab)} words, the model {model.config.vocab_size}")
    return TrainedModel(model, vocab, path)
