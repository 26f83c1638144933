package org.rawdenoise.demo

import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import android.content.Context
import android.content.res.AssetManager
import org.rawdenoise.core.BundleFormatException
import org.rawdenoise.core.BundleManifest
import org.rawdenoise.core.Specialist

/**
 * The bundle shipped in the app's assets (`assets/bundle/`): its manifest, checked and with every
 * file's SHA-256 verified by the core before anything runs, and one ONNX Runtime session per
 * specialist, created when that specialist is first selected.
 */
class DenoiserBundle private constructor(
    val manifest: BundleManifest,
    private val assets: AssetManager,
) : AutoCloseable {

    private val env: OrtEnvironment = OrtEnvironment.getEnvironment()
    private val models = HashMap<String, OrtTileModel>()
    private val threads = Runtime.getRuntime().availableProcessors().coerceIn(1, MAX_THREADS)

    /** The ONNX Runtime model of [specialist], in the first format of [FORMAT_PREFERENCE] it has. */
    fun modelFor(specialist: Specialist): OrtTileModel = synchronized(models) {
        models.getOrPut(specialist.name) {
            val format = specialist.firstFormat(*FORMAT_PREFERENCE)
                ?: throw BundleFormatException(
                    "$SOURCE: specialist '${specialist.name}' has none of the formats " +
                        "${FORMAT_PREFERENCE.joinToString()}; re-export the bundle with --formats onnx,int8,ort"
                )
            val bytes = assets.open("$ASSET_DIR/${specialist.files[format]}").use { it.readBytes() }
            // ORT files are loaded at the level they were written for; ONNX files get every optimization.
            val level = if (format.endsWith("ort")) manifest.ortOptimizationLevel else "all"
            OrtTileModel(env, bytes, manifest.stride, "${specialist.name}/$format", threads, optLevel(level))
        }
    }

    override fun close() = synchronized(models) {
        models.values.forEach { it.close() }
        models.clear()
    }

    companion object {
        const val ASSET_DIR = "bundle"
        private const val SOURCE = "assets/$ASSET_DIR"
        private const val MAX_THREADS = 4

        /**
         * fp32 first: INT8 was not faster than fp32 for these models where it could be measured
         * (the cost_formats sections of BENCHMARKS.md) and costs up to the manifest's INT8 budget in
         * PSNR. ORT format before ONNX: it loads without the ONNX parser.
         */
        val FORMAT_PREFERENCE = arrayOf("ort", "onnx", "int8_ort", "int8")

        /**
         * Load and verify the bundle, and refuse ORT files this app's ONNX Runtime cannot load; a
         * missing, damaged or incompatible bundle gives a one-line [BundleFormatException].
         */
        fun open(context: Context): DenoiserBundle {
            val assets = context.assets
            val manifest = BundleManifest.load({ relative -> assets.open("$ASSET_DIR/$relative") }, SOURCE)
            manifest.requireOrtRuntime(BuildConfig.ONNXRUNTIME_VERSION)
            return DenoiserBundle(manifest, assets)
        }

        private fun optLevel(name: String): OrtSession.SessionOptions.OptLevel = when (name) {
            "disable" -> OrtSession.SessionOptions.OptLevel.NO_OPT
            "basic" -> OrtSession.SessionOptions.OptLevel.BASIC_OPT
            "extended" -> OrtSession.SessionOptions.OptLevel.EXTENDED_OPT
            else -> OrtSession.SessionOptions.OptLevel.ALL_OPT // "all", the only other level the core accepts
        }
    }
}
