// The bundle contract in plain Java 17: no Android dependency, no third-party library at runtime.
// Its JUnit 4 tests read the golden vectors under src/test/resources/golden (written by
// `python -m export.golden`). Without Gradle, android_demo/core/run_tests.sh runs the same tests.
plugins {
    `java-library`
}

tasks.withType<JavaCompile>().configureEach {
    // --release 17 (not -source/-target 17): compiles against the Java 17 API on any newer JDK, which
    // also keeps -Werror free of the "bootstrap classpath not set" warning.
    options.release.set(17)
    options.encoding = "UTF-8"
    options.compilerArgs.addAll(listOf("-Xlint:all", "-Werror"))
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}
