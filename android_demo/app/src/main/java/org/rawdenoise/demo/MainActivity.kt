package org.rawdenoise.demo

import android.Manifest
import android.app.Activity
import android.content.Intent
import android.content.pm.PackageManager
import android.net.Uri
import android.os.Bundle
import android.provider.OpenableColumns
import android.view.View
import android.widget.Button
import android.widget.ProgressBar
import android.widget.TextView
import org.rawdenoise.core.NoiseProfile
import java.io.File
import java.io.FileNotFoundException
import java.io.IOException
import java.text.SimpleDateFormat
import java.util.Date
import java.util.Locale
import java.util.concurrent.CancellationException
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/**
 * Open a DNG (Storage Access Framework) or capture one RAW frame, denoise it with the bundle in the
 * assets, compare before/after on a split view, save the denoised DNG. All work runs on one
 * background thread; every failure is shown as its one-line message.
 */
class MainActivity : Activity() {

    private lateinit var openButton: Button
    private lateinit var captureButton: Button
    private lateinit var saveButton: Button
    private lateinit var progress: ProgressBar
    private lateinit var status: TextView
    private lateinit var beforeAfter: BeforeAfterView

    private val worker: ExecutorService = Executors.newSingleThreadExecutor()
    private var bundle: DenoiserBundle? = null
    private var outcome: DenoiseOutcome? = null
    @Volatile private var destroyed = false

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        openButton = findViewById(R.id.open)
        captureButton = findViewById(R.id.capture)
        saveButton = findViewById(R.id.save)
        progress = findViewById(R.id.progress)
        status = findViewById(R.id.status)
        beforeAfter = findViewById(R.id.before_after)

        openButton.setOnClickListener { pickDng() }
        captureButton.setOnClickListener { captureWithPermission() }
        saveButton.setOnClickListener { pickSaveTarget() }
        setBusy(true)
        background({ DenoiserBundle.open(this) }) { loaded ->
            bundle = loaded
            val m = loaded.manifest
            status.text = getString(R.string.bundle_ready, m.specialists.size, m.sdkVersion, m.tile, m.overlap)
        }
    }

    override fun onDestroy() {
        destroyed = true // a running denoise stops at its next tile (see denoise())
        worker.shutdownNow() // queued work never starts
        val loaded = bundle
        bundle = null
        // Never close an ONNX Runtime session under a running tile: close once the worker is idle.
        // A worker still busy after the wait keeps its sessions until the process ends.
        Thread({
            if (worker.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) loaded?.close()
        }, "close-bundle").start()
        super.onDestroy()
    }

    // ------------------------------------------------------------------ open a DNG

    private fun pickDng() {
        val intent = Intent(Intent.ACTION_OPEN_DOCUMENT)
            .addCategory(Intent.CATEGORY_OPENABLE)
            .setType("*/*")
            .putExtra(Intent.EXTRA_MIME_TYPES, arrayOf("image/x-adobe-dng", "image/dng", "application/octet-stream"))
        startActivityForResult(intent, REQUEST_OPEN)
    }

    private fun denoiseDocument(uri: Uri) {
        val name = displayName(uri)
        status.text = getString(R.string.reading, name)
        denoise(name) {
            val bytes = contentResolver.openInputStream(uri)?.use { it.readBytes() }
                ?: throw FileNotFoundException("$name: cannot be opened; pick the file again")
            RawSource(bytes, cameraProfile = null)
        }
    }

    // ------------------------------------------------------------------ capture a RAW frame

    private fun captureWithPermission() {
        if (checkSelfPermission(Manifest.permission.CAMERA) == PackageManager.PERMISSION_GRANTED) {
            capture()
        } else {
            requestPermissions(arrayOf(Manifest.permission.CAMERA), REQUEST_CAMERA)
        }
    }

    override fun onRequestPermissionsResult(requestCode: Int, permissions: Array<out String>, grantResults: IntArray) {
        super.onRequestPermissionsResult(requestCode, permissions, grantResults)
        if (requestCode != REQUEST_CAMERA) return
        if (grantResults.firstOrNull() == PackageManager.PERMISSION_GRANTED) capture()
        else status.text = getString(R.string.camera_denied)
    }

    private fun capture() {
        status.text = getString(R.string.capturing)
        val name = "RAW_" + SimpleDateFormat("yyyyMMdd_HHmmss", Locale.US).format(Date()) + ".dng"
        denoise(name) {
            val captured = RawCapture(this).capture()
            keepCapture(name, captured.dng)
            RawSource(captured.dng, captured.profile)
        }
    }

    /** Keep the noisy capture beside the app's other files (atomically: temp file, then rename). */
    private fun keepCapture(name: String, dng: ByteArray) {
        val folder = File(getExternalFilesDir(null) ?: filesDir, "captures").apply { mkdirs() }
        val temp = File(folder, ".$name.part")
        temp.writeBytes(dng)
        if (!temp.renameTo(File(folder, name))) {
            temp.delete()
            throw IOException("$folder: cannot store the capture; free some space")
        }
    }

    // ------------------------------------------------------------------ denoise and show

    /** DNG bytes and, for a capture, the noise profile of its own frame. */
    private class RawSource(val bytes: ByteArray, val cameraProfile: NoiseProfile?)

    /** Get the image with [read] on the worker thread, denoise it there, show the outcome. */
    private fun denoise(name: String, read: () -> RawSource) {
        val loaded = bundle ?: return
        setBusy(true)
        background({
            val source = read()
            DenoiseJob.run(loaded, source.bytes, name, source.cameraProfile) { done, total ->
                if (destroyed) throw CancellationException("$name: stopped, the app was closed")
                runOnUiThread {
                    progress.isIndeterminate = false
                    progress.max = total
                    progress.progress = done
                    status.text = getString(R.string.denoising, name, done, total)
                }
            }
        }) { result ->
            outcome = result
            beforeAfter.show(result.before, result.after)
            val range = "a ${"%.3g".format(result.specialist.aRange[0])}–${"%.3g".format(result.specialist.aRange[1])}"
            status.text = getString(
                R.string.result, result.name, result.specialist.name, range, result.profile.level(),
                result.profileOrigin, result.tiles, result.inferenceMillis, result.totalMillis,
            ) + " · " + result.model + " on XNNPACK"
        }
    }

    // ------------------------------------------------------------------ save

    private fun pickSaveTarget() {
        val current = outcome ?: return
        val intent = Intent(Intent.ACTION_CREATE_DOCUMENT)
            .addCategory(Intent.CATEGORY_OPENABLE)
            .setType("image/x-adobe-dng")
            .putExtra(Intent.EXTRA_TITLE, current.name.substringBeforeLast('.') + "_denoised.dng")
        startActivityForResult(intent, REQUEST_SAVE)
    }

    /** The user picked a new document; the input is never the target of a write. */
    private fun save(uri: Uri) {
        val current = outcome ?: return
        setBusy(true)
        background({
            val out = contentResolver.openOutputStream(uri, "wt")
                ?: throw IOException("${displayName(uri)}: cannot be written; choose another place")
            out.use { it.write(current.denoisedDng) }
            displayName(uri)
        }) { savedName -> status.text = getString(R.string.saved, savedName) }
    }

    override fun onActivityResult(requestCode: Int, resultCode: Int, data: Intent?) {
        super.onActivityResult(requestCode, resultCode, data)
        val uri = data?.data
        if (resultCode != RESULT_OK || uri == null) return
        when (requestCode) {
            REQUEST_OPEN -> denoiseDocument(uri)
            REQUEST_SAVE -> save(uri)
        }
    }

    // ------------------------------------------------------------------ plumbing

    /** Run [work] on the worker thread, then [done] on the UI thread; errors become the status line. */
    private fun <T> background(work: () -> T, done: (T) -> Unit) {
        worker.execute {
            try {
                val value = work()
                runOnUiThread {
                    done(value)
                    setBusy(false)
                }
            } catch (e: Exception) {
                val message = e.message?.lineSequence()?.firstOrNull() ?: e.javaClass.simpleName
                runOnUiThread {
                    setBusy(false)
                    status.text = message
                }
            } catch (e: OutOfMemoryError) {
                runOnUiThread {
                    setBusy(false)
                    status.text = "Not enough memory for this image on this phone"
                }
            }
        }
    }

    private fun setBusy(busy: Boolean) {
        progress.visibility = if (busy) View.VISIBLE else View.INVISIBLE
        progress.isIndeterminate = busy
        val ready = !busy && bundle != null
        openButton.isEnabled = ready
        captureButton.isEnabled = ready
        saveButton.isEnabled = ready && outcome != null
    }

    private fun displayName(uri: Uri): String =
        contentResolver.query(uri, arrayOf(OpenableColumns.DISPLAY_NAME), null, null, null)?.use { cursor ->
            if (cursor.moveToFirst()) cursor.getString(0) else null
        } ?: uri.lastPathSegment ?: "image.dng"

    private companion object {
        const val REQUEST_OPEN = 1
        const val REQUEST_SAVE = 2
        const val REQUEST_CAMERA = 3
        const val CLOSE_WAIT_SECONDS = 30L
    }
}
