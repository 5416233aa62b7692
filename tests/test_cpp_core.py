"""Builds the C++ core's test driver under AddressSanitizer + UndefinedBehaviorSanitizer and runs it."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("c++") is None, reason="needs cmake and a C++ compiler")
def test_cpp_core_under_sanitizers(tmp_path):
    flags = "-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(tmp_path), "-DLIGHTRNN_CPP_TESTS=ON",
                    "-DCMAKE_BUILD_TYPE=Debug", f"-DCMAKE_CXX_FLAGS={flags}"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(tmp_path), "--target", "test_assign", "-j", "2"], check=True, capture_output=True)
    out = subprocess.run([str(tmp_path / "cpp" / "test_assign")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert " 0 failed" in out.stdout
