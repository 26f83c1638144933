// The bundle contract in plain Java 17: no Android dependency, no third-party library at runtime.
// Its JUnit 4 tests read the golden vectors under src/test/resources/golden (written by
// `python -m denoise.golden`). Without Gradle, android_demo/core/run_tests.sh runs the same tests.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

tasks.withType<JavaCompile>().configureEach {
    options.encoding = "UTF-8"
    options.compilerArgs.addAll(listOf("-Xlint:all", "-Werror"))
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}
