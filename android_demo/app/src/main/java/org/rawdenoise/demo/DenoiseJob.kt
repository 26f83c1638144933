package org.rawdenoise.demo

import android.graphics.Bitmap
import android.graphics.Matrix
import org.rawdenoise.core.DngDenoiser
import org.rawdenoise.core.DngFile
import org.rawdenoise.core.NoiseProfile
import org.rawdenoise.core.PreviewRenderer
import org.rawdenoise.core.Specialist
import org.rawdenoise.core.TiledDenoiser

/** What the screen shows and the Save button writes after one image was denoised. */
class DenoiseOutcome(
    val name: String,
    val specialist: Specialist,
    val model: String,
    val profile: NoiseProfile,
    val profileOrigin: String,
    val tiles: Int,
    val inferenceMillis: Long,
    val totalMillis: Long,
    val before: Bitmap,
    val after: Bitmap,
    val denoisedDng: ByteArray,
)

/**
 * One DNG through the core: parse → noise profile (the camera's capture result when there is one,
 * else the file's NoiseProfile tag) → the manifest's specialist → the core's tiled denoiser with
 * that specialist's ONNX Runtime model → previews rendered by the core with one shared exposure.
 */
object DenoiseJob {

    private const val PREVIEW_MAX_SIDE = 1600

    fun run(
        bundle: DenoiserBundle,
        dngBytes: ByteArray,
        name: String,
        cameraProfile: NoiseProfile?,
        progress: (done: Int, total: Int) -> Unit,
    ): DenoiseOutcome {
        val dng = DngFile.parse(dngBytes, name)
        val profile = cameraProfile ?: dng.noiseProfile()
        val origin = if (cameraProfile != null) "camera capture result" else "DNG NoiseProfile tag"
        val specialist = bundle.manifest.select(profile)
        val model = bundle.modelFor(specialist)
        val result = DngDenoiser.denoise(
            dng, profile, model, bundle.manifest.tile, bundle.manifest.overlap, 1,
            TiledDenoiser.Progress { done, total -> progress(done, total) },
        )
        val renderer = PreviewRenderer.forImage(
            result.noisy, dng.height, dng.width, dng.pattern, dng.asShotNeutral, dng.colorMatrix1,
        )
        val step = PreviewRenderer.stepFor(dng.height, dng.width, PREVIEW_MAX_SIDE)
        val before = toBitmap(renderer.render(result.noisy, dng.height, dng.width, step), dng.orientation)
        val after = toBitmap(renderer.render(result.denoised, dng.height, dng.width, step), dng.orientation)
        return DenoiseOutcome(
            name = name,
            specialist = specialist,
            model = model.label,
            profile = profile,
            profileOrigin = origin,
            tiles = result.tiles,
            inferenceMillis = result.inferenceNanos / 1_000_000,
            totalMillis = result.totalNanos / 1_000_000,
            before = before,
            after = after,
            denoisedDng = result.dng,
        )
    }

    /** A bitmap of the preview turned upright by the DNG's TIFF Orientation. */
    private fun toBitmap(preview: PreviewRenderer.Preview, orientation: Int): Bitmap {
        val stored = Bitmap.createBitmap(preview.argb, preview.width, preview.height, Bitmap.Config.ARGB_8888)
        val matrix = Matrix()
        when (orientation) {
            2 -> matrix.setScale(-1f, 1f)
            3 -> matrix.setRotate(180f)
            4 -> matrix.setScale(1f, -1f)
            5 -> { matrix.setRotate(90f); matrix.postScale(-1f, 1f) }
            6 -> matrix.setRotate(90f)
            7 -> { matrix.setRotate(270f); matrix.postScale(-1f, 1f) }
            8 -> matrix.setRotate(270f)
            else -> return stored
        }
        return Bitmap.createBitmap(stored, 0, 0, stored.width, stored.height, matrix, true)
    }
}
