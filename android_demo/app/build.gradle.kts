// The demo app: opens or captures a RAW DNG, denoises it with the bundle copied into its assets
// (ONNX Runtime Mobile, XNNPACK), shows before/after and saves the denoised DNG. All contract logic
// (manifest, selector, noise profiles, packing, tiling, DNG I/O) comes from :core.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

// The ONNX Runtime the app links. The bundle's ORT files must be written by this version or an older
// one (`denoise export --ort-runtime`, default 1.20.0); the app refuses others before loading a model.
val onnxruntimeVersion = "1.20.0"

// The bundle the app ships: the SDK's default bundle, unless -PbundleDir=/path/to/bundle is given.
val bundleDir = providers.gradleProperty("bundleDir")
    .map { file(it) }
    .orElse(rootProject.file("../denoise/weights/bundle"))
val bundleAssets = layout.buildDirectory.dir("generated/bundleAssets")

val copyBundle by tasks.registering(Sync::class) {
    description = "Copies the denoising bundle (manifest.json and its model files) into the app's assets."
    from(bundleDir) // all of it: the app verifies the size and SHA-256 of every file the manifest lists
    into(bundleAssets.map { it.dir("bundle") })
    doFirst {
        require(bundleDir.get().resolve("manifest.json").isFile) {
            "${bundleDir.get()}: no manifest.json; export a bundle there or pass -PbundleDir=BUNDLE"
        }
    }
}

android {
    namespace = "org.rawdenoise.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.rawdenoise.demo"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        buildConfigField("String", "ONNXRUNTIME_VERSION", "\"$onnxruntimeVersion\"")
    }

    buildFeatures {
        buildConfig = true
    }

    sourceSets["main"].assets.srcDir(bundleAssets)

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    kotlinOptions {
        jvmTarget = "17"
    }

    androidResources {
        // Models are read straight from the APK; compression would only slow loading down.
        noCompress += listOf("onnx", "ort")
    }
}

tasks.named("preBuild") { dependsOn(copyBundle) }

dependencies {
    implementation(project(":core"))
    implementation("com.microsoft.onnxruntime:onnxruntime-android:$onnxruntimeVersion")
}
