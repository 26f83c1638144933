"""The Android core library's JVM tests (JUnit 4), run against the committed golden vectors."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JUNIT = Path("/usr/share/java/junit4.jar")


def test_jvm_core_tests_pass():
    if not (shutil.which("javac") and JUNIT.is_file()):
        if os.environ.get("CI"):
            pytest.fail("CI needs javac and junit4 (.ci/run installs default-jdk-headless and junit4)")
        pytest.skip("javac or Debian's junit4 is not installed (apt-get install default-jdk-headless junit4)")
    proc = subprocess.run(["bash", str(ROOT / "android_demo" / "core" / "run_tests.sh")], capture_output=True,
                          text=True, timeout=600)
    print(proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " 0 failed" in proc.stdout
