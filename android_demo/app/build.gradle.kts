// The demo app: opens or captures a RAW DNG, denoises it with the bundle in src/main/assets/bundle
// (ONNX Runtime Mobile, XNNPACK), shows before/after and saves the denoised DNG. All contract logic
// (manifest, selector, noise profiles, packing, tiling, DNG I/O) comes from :core.
plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
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
    }

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

dependencies {
    implementation(project(":core"))
    implementation("com.microsoft.onnxruntime:onnxruntime-android:1.20.0")
}
