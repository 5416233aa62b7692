"""The table picture is a valid PNG and shows the rows of the most frequent words."""
from lightrnn.table import WordTable
from lightrnn.viz import table_picture


def test_table_picture_writes_png(tmp_path):
    words = [f"w{i}" for i in range(30)]
    out = tmp_path / "pic.png"
    table_picture(WordTable.random(30, seed=1), words, out, max_rows=4, max_cols=3)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    assert not list(tmp_path.glob("*.tmp*"))  # atomic write left no temporary behind
