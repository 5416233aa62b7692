"""LightRNN (Li, Qin, Yang, Liu, NIPS 2016): a word-level LSTM LM over a 2-component word table.

Every word ``w`` sits in cell ``(row(w), col(w))`` of an R x C table. The network reads two
half-steps per word with ONE stacked LSTM (same weights): the row vector of ``x_t`` then its
column vector. With ``a_t`` the state after ``row(x_t)`` and ``b_t`` the state after ``col(x_t)``::

    P(x_{t+1}) = softmax(Y_r b_t)[row(x_{t+1})] * softmax(Y_c a_{t+1})[col(x_{t+1})]

``a_{t+1}`` is reached by feeding the TRUE ``row(x_{t+1})`` (teacher forcing; feeding a predicted
row is the bug of one public reimplementation). Cells left empty when R*C > V are masked out of
the column softmax of their row (and rows with no word out of the row softmax), so the
probabilities of the V words sum to exactly 1 and perplexities are exact.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightrnn.config import ModelConfig
from lightrnn.table import WordTable

__all__ = ["LMOutput", "LightRNNHead", "LightRNN"]

Hidden = tuple[Tensor, Tensor]


class LMOutput(NamedTuple):
    loss: Tensor  # scalar: mean of token_nll
    token_nll: Tensor  # (T, B): exact -log P(target) in nats
    hidden: Hidden  # state to carry into the next batch (not detached)


class LightRNNHead(nn.Module):
    r"""Row softmax and row-conditioned column softmax over a word table, empty cells masked.

    Mirrors :class:`torch.nn.AdaptiveLogSoftmaxWithLoss`: ``forward`` gives the per-token loss,
    ``log_prob`` the full distribution, ``predict`` the most likely word.

    Args:
        in_features: width H of the states the head reads.
        table: the word table (fixes V, R and C; may be replaced later by :meth:`set_table`).

    Shape:
        - row_hidden: (N, H), the state after the previous word's column step.
        - col_hidden: (N, H), the state after feeding the target's true row.
        - target: (N,) word ids in [0, V).
        - output of ``forward``: (N,) -log P(target).
        - col_hidden_per_row for ``log_prob``: (N, R, H), the state after feeding each row.
        - output of ``log_prob``: (N, V).
    """

    def __init__(self, in_features: int, table: WordTable) -> None:
        super().__init__()
        if not isinstance(table, WordTable):
            raise TypeError(f"table must be a WordTable, got {type(table).__name__}")
        if in_features < 1:
            raise ValueError(f"in_features must be >= 1, got {in_features}")
        self.in_features = in_features
        self.n_rows, self.n_cols = table.shape
        self.row_proj = nn.Linear(in_features, self.n_rows)  # Y_r
        self.col_proj = nn.Linear(in_features, self.n_cols)  # Y_c
        V = table.vocab_size
        self.register_buffer("word_row", torch.zeros(V, dtype=torch.long), persistent=False)
        self.register_buffer("word_col", torch.zeros(V, dtype=torch.long), persistent=False)
        self.register_buffer("word_cell", torch.zeros(V, dtype=torch.long), persistent=False)
        self.register_buffer("row_mask", torch.zeros(self.n_rows), persistent=False)
        self.register_buffer("cell_mask", torch.zeros(self.n_rows, self.n_cols), persistent=False)
        self.set_table(table)

    def set_table(self, table: WordTable) -> None:
        """Install a new table of the same shape; the weights are untouched (they belong to
        positions, not words)."""
        if table.shape != (self.n_rows, self.n_cols):
            raise ValueError(f"table shape {table.shape} differs from the head's {(self.n_rows, self.n_cols)}")
        self.table = table
        dev = self.row_proj.weight.device
        occ = torch.from_numpy(table.occupied.copy()).to(dev)  # (R, C) bool
        row_has_word = occ.any(dim=1)  # (R,)
        self.word_row = torch.from_numpy(table.rows.copy()).to(dev)
        self.word_col = torch.from_numpy(table.cols.copy()).to(dev)
        self.word_cell = self.word_row * self.n_cols + self.word_col
        self.row_mask = torch.where(row_has_word, 0.0, float("-inf")).to(dev)  # (R,)
        # A row with no word keeps an unmasked column softmax (its row probability is 0 anyway)
        # so that log_softmax never sees a row of -inf.
        cell_ok = occ | ~row_has_word[:, None]
        self.cell_mask = torch.where(cell_ok, 0.0, float("-inf")).to(dev)  # (R, C)

    @property
    def vocab_size(self) -> int:
        return int(self.word_row.shape[0])

    def row_log_prob(self, row_hidden: Tensor) -> Tensor:
        """(N, H) -> (N, R) masked log P_r."""
        return F.log_softmax(self.row_proj(row_hidden) + self.row_mask, dim=-1)

    def col_log_prob(self, col_hidden: Tensor, rows: Tensor) -> Tensor:
        """(..., H) states after feeding ``rows`` (...) -> (..., C) masked log P_c(. | row)."""
        return F.log_softmax(self.col_proj(col_hidden) + self.cell_mask[rows], dim=-1)

    def forward(self, row_hidden: Tensor, col_hidden: Tensor, target: Tensor) -> Tensor:
        rows = self.word_row[target]  # (N,)
        cols = self.word_col[target]  # (N,)
        lp_r = self.row_log_prob(row_hidden).gather(-1, rows[:, None]).squeeze(-1)  # (N,)
        lp_c = self.col_log_prob(col_hidden, rows).gather(-1, cols[:, None]).squeeze(-1)  # (N,)
        return -(lp_r + lp_c)

    def log_prob(self, row_hidden: Tensor, col_hidden_per_row: Tensor) -> Tensor:
        N = row_hidden.shape[0]
        lp_r = self.row_log_prob(row_hidden)  # (N, R)
        all_rows = torch.arange(self.n_rows, device=row_hidden.device)
        lp_c = self.col_log_prob(col_hidden_per_row, all_rows.expand(N, -1))  # (N, R, C)
        joint = (lp_r[:, :, None] + lp_c).reshape(N, self.n_rows * self.n_cols)  # (N, R*C)
        return joint[:, self.word_cell]  # (N, V)

    def predict(self, row_hidden: Tensor, col_hidden_per_row: Tensor) -> Tensor:
        """(N,) most likely word ids."""
        return self.log_prob(row_hidden, col_hidden_per_row).argmax(dim=-1)


class LightRNN(nn.Module):
    """LightRNN language model; see the module docstring for the recurrence.

    Args:
        config: a ModelConfig with ``model == "lightrnn"``.
        table: the initial word table, shape (config.rows, config.cols), V = config.vocab_size.

    Shape:
        - input, target: (T, B) word ids; ``target[t]`` is the word after ``input[t]``.
        - hidden: (h, c), each (num_layers, B, hidden_dim).
        - ``forward`` -> LMOutput(loss (), token_nll (T, B), hidden).
        - ``log_prob`` -> (T, B, V).
    """

    def __init__(self, config: ModelConfig, table: WordTable) -> None:
        super().__init__()
        if config.vocab_size != table.vocab_size:
            raise ValueError(f"config.vocab_size={config.vocab_size} but the table holds {table.vocab_size} words")
        if (config.rows, config.cols) != table.shape:
            raise ValueError(f"config table shape {(config.rows, config.cols)} differs from the table's {table.shape}")
        self.config = config
        d, h, L = config.emb_dim, config.hidden_dim, config.num_layers
        self.row_emb = nn.Embedding(config.rows, d)  # X_r
        self.col_emb = nn.Embedding(config.cols, d)  # X_c
        self.drop = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(d, h, L, dropout=config.dropout if L > 1 else 0.0)
        self.head = LightRNNHead(h, table)
        self.reset_parameters()

    def reset_parameters(self, init_range: float = 0.1) -> None:
        for emb in (self.row_emb, self.col_emb):
            nn.init.uniform_(emb.weight, -init_range, init_range)
        for proj in (self.head.row_proj, self.head.col_proj):
            nn.init.uniform_(proj.weight, -init_range, init_range)
            nn.init.zeros_(proj.bias)

    # -------------------------------------------------------------------------------- table
    @property
    def table(self) -> WordTable:
        return self.head.table

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    def set_table(self, table: WordTable) -> None:
        """Use a new table from the next batch on; row/column vectors stay with their positions."""
        if table.vocab_size != self.vocab_size:
            raise ValueError(f"new table holds {table.vocab_size} words, the model {self.vocab_size}")
        self.head.set_table(table)

    def init_hidden(self, batch_size: int) -> Hidden:
        w = self.row_emb.weight
        shape = (self.config.num_layers, batch_size, self.config.hidden_dim)
        return (w.new_zeros(shape), w.new_zeros(shape))

    # -------------------------------------------------------------------------------- core
    def _interleaved(self, input: Tensor) -> Tensor:
        """(T, B) words -> (2T, B, d) inputs row(x_1), col(x_1), row(x_2), ..."""
        T, B = input.shape
        rows = self.row_emb(self.head.word_row[input])  # (T, B, d)
        cols = self.col_emb(self.head.word_col[input])  # (T, B, d)
        return torch.stack([rows, cols], dim=1).reshape(2 * T, B, -1)  # (2T, B, d)

    def _states(self, input: Tensor, target: Tensor, hidden: Hidden) -> tuple[Tensor, Tensor, Hidden]:
        """States that predict each target's row and column.

        Returns row_hidden (T, B, H) (after col(x_t)), col_hidden (T, B, H) (after the true
        row(y_t)) and the hidden state after col(x_T), to carry.
        """
        T, B = input.shape
        x = self.drop(self._interleaved(input))  # (2T, B, d)
        out, carry = self.lstm(x, hidden)  # (2T, B, H)
        out = out.view(T, 2, B, -1)  # (T, 2, B, H)
        after_row, after_col = out[:, 0], out[:, 1]  # (T, B, H) each
        # One extra half-step: feed row(y_T) to predict col(y_T); its state is not carried.
        last_row = self.drop(self.row_emb(self.head.word_row[target[-1:]]))  # (1, B, d)
        extra, _ = self.lstm(last_row, carry)  # (1, B, H)
        col_hidden = torch.cat([after_row[1:], extra], dim=0)  # (T, B, H): a_{t+1}
        return self.drop(after_col), self.drop(col_hidden), carry

    def forward(self, input: Tensor, target: Tensor, hidden: Hidden) -> LMOutput:
        if input.shape != target.shape or input.dim() != 2:
            raise ValueError(f"input and target must both be (T, B), got {tuple(input.shape)} and {tuple(target.shape)}")
        if input.shape[0] > 1 and not torch.equal(target[:-1], input[1:]):
            # The column step of target t reuses the row step of input t+1 (the same true row).
            raise ValueError("LightRNN needs language-model batches: target[:-1] must equal input[1:]")
        T, B = input.shape
        row_h, col_h, carry = self._states(input, target, hidden)
        nll = self.head(row_h.reshape(T * B, -1), col_h.reshape(T * B, -1), target.reshape(-1))  # (T*B,)
        nll = nll.view(T, B)
        return LMOutput(nll.mean(), nll, carry)

    def component_logits(self, input: Tensor, target: Tensor, hidden: Hidden) -> tuple[Tensor, Tensor, Hidden]:
        """Unmasked logits for reallocation: row (T, B, R) and column (T, B, C), and the carry.

        Row logits predict row(target) from the state after col(input); column logits predict
        col(target) from the state after the true row(target). Unmasked because in a new table
        any cell may hold a word.
        """
        row_h, col_h, carry = self._states(input, target, hidden)
        return self.head.row_proj(row_h), self.head.col_proj(col_h), carry

    # -------------------------------------------------------------------------------- full distribution
    def row_log_probs(self, hidden: Hidden) -> Tensor:
        """(N, R) masked log P_r of the next word's row, from a state after a column step."""
        return self.head.row_log_prob(hidden[0][-1])

    def step_rows(self, hidden: Hidden, rows: Tensor) -> tuple[Tensor, Hidden]:
        """Feed candidate rows from a carried state, one LSTM half-step, batched.

        Args:
            hidden: (h, c), each (L, N, H): states after a column step.
            rows: (N, K) candidate rows per state.
        Returns:
            col_log_probs (N, K, C): masked log P_c(. | row) for each candidate, and the new
            hidden (each (L, N*K, H)).
        """
        N, K = rows.shape
        h, c = hidden
        L, H = h.shape[0], h.shape[-1]
        h = h[:, :, None, :].expand(L, N, K, H).reshape(L, N * K, H)  # (L, N*K, H)
        c = c[:, :, None, :].expand(L, N, K, H).reshape(L, N * K, H)
        x = self.row_emb(rows.reshape(1, N * K))  # (1, N*K, d)
        out, new = self.lstm(x, (h.contiguous(), c.contiguous()))  # (1, N*K, H)
        lp = self.head.col_log_prob(out[0].view(N, K, H), rows)  # (N, K, C)
        return lp, new

    def states_after_columns(self, input: Tensor, hidden: Hidden) -> tuple[Tensor, Tensor]:
        """(T, B) -> h, c each (T, L, B, H): the full stacked state after each col(x_t)."""
        hs, cs = [], []
        x = self._interleaved(input)  # (2T, B, d)
        for t in range(input.shape[0]):
            _, hidden = self.lstm(x[2 * t:2 * t + 2], hidden)
            hs.append(hidden[0])
            cs.append(hidden[1])
        return torch.stack(hs), torch.stack(cs)

    def log_prob(self, input: Tensor, hidden: Hidden) -> tuple[Tensor, Hidden]:
        """Exact log P(next word) over the whole vocabulary at every position: (T, B, V).

        Runs one extra half-step per candidate row from every state (T*B*R steps, batched).
        """
        T, B = input.shape
        hs, cs = self.states_after_columns(input, hidden)  # (T, L, B, H)
        L, H = hs.shape[1], hs.shape[-1]
        h = hs.permute(1, 0, 2, 3).reshape(L, T * B, H)  # (L, T*B, H)
        c = cs.permute(1, 0, 2, 3).reshape(L, T * B, H)
        lp_r = self.head.row_log_prob(h[-1])  # (T*B, R)
        rows = torch.arange(self.head.n_rows, device=input.device).expand(T * B, -1)  # (T*B, R)
        lp_c, _ = self.step_rows((h, c), rows)  # (T*B, R, C)
        joint = (lp_r[:, :, None] + lp_c).reshape(T * B, -1)  # (T*B, R*C)
        logp = joint[:, self.head.word_cell].view(T, B, -1)  # (T, B, V)
        return logp, (hs[-1], cs[-1])

    def param_counts(self) -> dict[str, int]:
        total = sum(p.numel() for p in self.parameters())
        emb_out = sum(p.numel() for m in (self.row_emb, self.col_emb, self.head) for p in m.parameters())
        return {"total": total, "embed_output": emb_out}
