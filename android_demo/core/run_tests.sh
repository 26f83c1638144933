#!/usr/bin/env bash
# Compile the core library and its JUnit 4 tests with javac and run them (no Gradle, no network).
# Needs a JDK 17+ and Debian's junit4 package (/usr/share/java/junit4.jar + hamcrest); installs nothing.
# Prints "N passed, M failed" as its last line and exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/build/javac"
junit="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
hamcrest="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"

for jar in "$junit" "$hamcrest"; do
    if [[ ! -f "$jar" ]]; then
        echo "run_tests.sh: $jar not found; install JUnit 4 (Debian: apt-get install -y junit4) or set JUNIT_JAR/HAMCREST_JAR" >&2
        echo "0 passed, 1 failed"
        exit 2
    fi
done

rm -rf "$build"
mkdir -p "$build/main" "$build/test"
find "$here/src/main/java" -name '*.java' > "$build/main-sources.txt"
find "$here/src/test/java" -name '*.java' > "$build/test-sources.txt"

compile_failed() {
    echo "run_tests.sh: compilation failed (see the javac errors above)" >&2
    echo "0 passed, 1 failed"
    exit 1
}
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$build/main" @"$build/main-sources.txt" || compile_failed
javac --release 17 -Xlint:all -Werror -encoding UTF-8 -d "$build/test" \
    -cp "$build/main:$junit:$hamcrest" @"$build/test-sources.txt" || compile_failed

classes=$(cd "$here/src/test/java" && find . -name '*Test.java' | sed -e 's|^\./||' -e 's|\.java$||' -e 's|/|.|g' | sort)
cp="$build/main:$build/test:$here/src/test/resources:$junit:$hamcrest"

set +e
java -cp "$cp" org.junit.runner.JUnitCore $classes > "$build/junit.log" 2>&1
status=$?
set -e
cat "$build/junit.log"

# JUnitCore ends with "OK (N tests)" or "Tests run: N,  Failures: M".
if ok=$(grep -Eo '^OK \([0-9]+ tests?\)' "$build/junit.log" | grep -Eo '[0-9]+'); then
    echo "$ok passed, 0 failed"
elif line=$(grep -E '^Tests run: [0-9]+, +Failures: [0-9]+' "$build/junit.log"); then
    run=$(echo "$line" | sed -E 's/^Tests run: ([0-9]+).*/\1/')
    failed=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
    echo "$((run - failed)) passed, $failed failed"
else
    echo "0 passed, 1 failed"
    [[ $status -ne 0 ]] || status=1
fi
exit $status
