package org.rawdenoise.demo

import ai.onnxruntime.OnnxTensor
import ai.onnxruntime.OrtEnvironment
import ai.onnxruntime.OrtSession
import org.rawdenoise.core.BundleFormatException
import org.rawdenoise.core.BundleManifest
import org.rawdenoise.core.TileModel
import java.nio.FloatBuffer

/**
 * One specialist model in ONNX Runtime Mobile on the XNNPACK execution provider, behind the core's
 * [TileModel] interface, so the core's tiled loop drives it exactly as the Python runtime does.
 */
class OrtTileModel(
    private val env: OrtEnvironment,
    model: ByteArray,
    private val stride: Int,
    val label: String,
    threads: Int,
    optLevel: OrtSession.SessionOptions.OptLevel,
) : TileModel, AutoCloseable {

    private val options = OrtSession.SessionOptions()
    private val session: OrtSession

    init {
        // XNNPACK runs its own thread pool; ORT's intra-op pool would only compete with it.
        options.setIntraOpNumThreads(1)
        options.addConfigEntry("session.intra_op.allow_spinning", "0")
        options.addXnnpack(mapOf("intra_op_num_threads" to threads.toString()))
        options.setOptimizationLevel(optLevel)
        session = env.createSession(model, options)
        val inputs = session.inputNames
        if (!inputs.contains(BundleManifest.INPUT_NOISY) || !inputs.contains(BundleManifest.INPUT_NOISE)) {
            close()
            throw BundleFormatException(
                "$label: model inputs are $inputs, expected '${BundleManifest.INPUT_NOISY}' and " +
                    "'${BundleManifest.INPUT_NOISE}'; re-export the bundle with this SDK"
            )
        }
    }

    override fun stride(): Int = stride

    override fun run(planes: FloatArray, noise: FloatArray, n: Int, h: Int, w: Int): FloatArray {
        val planeShape = longArrayOf(n.toLong(), 4, h.toLong(), w.toLong())
        OnnxTensor.createTensor(env, FloatBuffer.wrap(planes), planeShape).use { noisy ->
            OnnxTensor.createTensor(env, FloatBuffer.wrap(noise), longArrayOf(n.toLong(), 8)).use { level ->
                val feeds = mapOf(BundleManifest.INPUT_NOISY to noisy, BundleManifest.INPUT_NOISE to level)
                session.run(feeds, setOf(BundleManifest.OUTPUT_DENOISED)).use { result ->
                    val output = result.get(0) as OnnxTensor
                    val buffer = output.floatBuffer
                    return FloatArray(buffer.remaining()).also { buffer.get(it) }
                }
            }
        }
    }

    override fun close() {
        session.close()
        options.close() // only after the session that uses it
    }
}
