package org.rawdenoise.demo

import android.annotation.SuppressLint
import android.content.Context
import android.graphics.ImageFormat
import android.hardware.camera2.CameraCaptureSession
import android.hardware.camera2.CameraCharacteristics
import android.hardware.camera2.CameraDevice
import android.hardware.camera2.CameraManager
import android.hardware.camera2.CameraMetadata
import android.hardware.camera2.CaptureFailure
import android.hardware.camera2.CaptureRequest
import android.hardware.camera2.CaptureResult
import android.hardware.camera2.DngCreator
import android.hardware.camera2.TotalCaptureResult
import android.media.ExifInterface
import android.media.Image
import android.media.ImageReader
import android.os.Handler
import android.os.HandlerThread
import android.view.Surface
import org.rawdenoise.core.BayerPattern
import org.rawdenoise.core.NoiseProfile
import java.io.ByteArrayOutputStream
import java.util.concurrent.CompletableFuture
import java.util.concurrent.ExecutionException
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/** A RAW capture that could not be made; the message says why in one line. */
class CaptureException(message: String) : Exception(message)

/**
 * One RAW_SENSOR frame from the back camera with Camera2, written to DNG bytes with [DngCreator].
 * The noise profile comes from the frame's own [CaptureResult.SENSOR_NOISE_PROFILE] (one (S, O)
 * pair per CFA channel, in the sensor's CFA order), mapped to planes R, G1, G2, B by the core.
 * Blocking: call it off the main thread, after the CAMERA permission was granted.
 */
class RawCapture(private val context: Context) {

    class Captured(val dng: ByteArray, val profile: NoiseProfile?, val pattern: BayerPattern)

    @SuppressLint("MissingPermission")
    fun capture(): Captured {
        val manager = context.getSystemService(CameraManager::class.java)
        val id = manager.cameraIdList.firstOrNull { supportsRaw(manager.getCameraCharacteristics(it)) }
            ?: throw CaptureException("this phone has no back camera with RAW capture; open a DNG instead")
        val characteristics = manager.getCameraCharacteristics(id)
        val arrangement = characteristics.get(CameraCharacteristics.SENSOR_INFO_COLOR_FILTER_ARRANGEMENT)
            ?: throw CaptureException("the camera does not report its colour filter layout; open a DNG instead")
        val pattern = BayerPattern.fromCamera2Arrangement(arrangement)
        val size = characteristics.get(CameraCharacteristics.SCALER_STREAM_CONFIGURATION_MAP)
            ?.getOutputSizes(ImageFormat.RAW_SENSOR)?.maxByOrNull { it.width.toLong() * it.height }
            ?: throw CaptureException("the camera lists no RAW_SENSOR output size")

        val thread = HandlerThread("raw-capture").apply { start() }
        val handler = Handler(thread.looper)
        val reader = ImageReader.newInstance(size.width, size.height, ImageFormat.RAW_SENSOR, READER_IMAGES)
        try {
            val device = await<CameraDevice>("opening the camera") { future -> openCamera(manager, id, handler, future) }
            try {
                val session = await<CameraCaptureSession>("configuring the camera") { future ->
                    createSession(device, reader.surface, handler, future)
                }
                try {
                    settleExposure(device, session, reader, handler)
                    return captureStill(device, session, reader, handler, characteristics, pattern)
                } finally {
                    session.close()
                }
            } finally {
                device.close()
            }
        } finally {
            reader.close()
            thread.quitSafely()
        }
    }

    /**
     * Stream to the reader until the capture results say auto-exposure has converged (or is locked,
     * or flash is required — the still cannot do better then), so the still is exposed as the camera
     * intends. Devices without AE report no state: their first result ends the wait. A camera that
     * does not converge within [SETTLE_LIMIT_SECONDS] (a very dark scene, a slow RAW stream) gets its
     * still taken as exposed by then.
     */
    private fun settleExposure(device: CameraDevice, session: CameraCaptureSession, reader: ImageReader, handler: Handler) {
        reader.setOnImageAvailableListener({ r -> r.acquireLatestImage()?.close() }, handler)
        val preview = device.createCaptureRequest(CameraDevice.TEMPLATE_PREVIEW).apply { addTarget(reader.surface) }
        val settled = CompletableFuture<Unit>()
        session.setRepeatingRequest(preview.build(), object : CameraCaptureSession.CaptureCallback() {
            override fun onCaptureCompleted(s: CameraCaptureSession, r: CaptureRequest, result: TotalCaptureResult) {
                if (aeSettled(result.get(CaptureResult.CONTROL_AE_STATE))) {
                    settled.complete(Unit)
                }
            }
        }, handler)
        try {
            settled.get(SETTLE_LIMIT_SECONDS, TimeUnit.SECONDS)
        } catch (e: java.util.concurrent.TimeoutException) {
            // not converged in time: the still below is taken with the exposure reached so far
        } finally {
            session.stopRepeating()
        }
    }

    private fun aeSettled(state: Int?): Boolean = when (state) {
        null, CaptureResult.CONTROL_AE_STATE_CONVERGED, CaptureResult.CONTROL_AE_STATE_LOCKED,
        CaptureResult.CONTROL_AE_STATE_FLASH_REQUIRED -> true
        else -> false
    }

    private fun captureStill(
        device: CameraDevice,
        session: CameraCaptureSession,
        reader: ImageReader,
        handler: Handler,
        characteristics: CameraCharacteristics,
        pattern: BayerPattern,
    ): Captured {
        val images = LinkedBlockingQueue<Image>()
        reader.setOnImageAvailableListener({ r -> r.acquireNextImage()?.let { images.offer(it) } }, handler)
        val request = device.createCaptureRequest(CameraDevice.TEMPLATE_STILL_CAPTURE).apply {
            addTarget(reader.surface)
        }.build()
        val result = await<TotalCaptureResult>("capturing") { future ->
            session.capture(request, object : CameraCaptureSession.CaptureCallback() {
                override fun onCaptureCompleted(s: CameraCaptureSession, r: CaptureRequest, total: TotalCaptureResult) {
                    future.complete(total)
                }

                override fun onCaptureFailed(s: CameraCaptureSession, r: CaptureRequest, failure: CaptureFailure) {
                    future.completeExceptionally(CaptureException("the camera dropped the frame (reason ${failure.reason})"))
                }
            }, handler)
        }
        val timestamp = result.get(CaptureResult.SENSOR_TIMESTAMP)
        val image = matchingImage(images, timestamp)
        try {
            val profile = result.get(CaptureResult.SENSOR_NOISE_PROFILE)?.let { pairs ->
                val values = DoubleArray(pairs.size * 2) { i -> if (i % 2 == 0) pairs[i / 2].first else pairs[i / 2].second }
                NoiseProfile.fromCfaPairs(values, pattern)
            }
            val out = ByteArrayOutputStream()
            DngCreator(characteristics, result).use { creator ->
                creator.setOrientation(exifOrientation(characteristics))
                creator.writeImage(out, image)
            }
            return Captured(out.toByteArray(), profile, pattern)
        } finally {
            image.close()
            images.forEach { it.close() }
        }
    }

    /** The still's image (frames of the settling stream may still be queued before it). */
    private fun matchingImage(images: LinkedBlockingQueue<Image>, timestamp: Long?): Image {
        while (true) {
            val image = images.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS)
                ?: throw CaptureException("the camera returned no RAW image")
            if (timestamp == null || image.timestamp == timestamp) {
                return image
            }
            image.close()
        }
    }

    private fun supportsRaw(c: CameraCharacteristics): Boolean =
        c.get(CameraCharacteristics.LENS_FACING) == CameraMetadata.LENS_FACING_BACK &&
            c.get(CameraCharacteristics.REQUEST_AVAILABLE_CAPABILITIES)
                ?.contains(CameraMetadata.REQUEST_AVAILABLE_CAPABILITIES_RAW) == true

    /** EXIF orientation of an image taken with the phone held in its natural orientation. */
    private fun exifOrientation(c: CameraCharacteristics): Int =
        when (c.get(CameraCharacteristics.SENSOR_ORIENTATION) ?: 0) {
            90 -> ExifInterface.ORIENTATION_ROTATE_90
            180 -> ExifInterface.ORIENTATION_ROTATE_180
            270 -> ExifInterface.ORIENTATION_ROTATE_270
            else -> ExifInterface.ORIENTATION_NORMAL
        }

    @SuppressLint("MissingPermission")
    private fun openCamera(manager: CameraManager, id: String, handler: Handler, future: CompletableFuture<CameraDevice>) {
        manager.openCamera(id, object : CameraDevice.StateCallback() {
            override fun onOpened(device: CameraDevice) {
                future.complete(device)
            }

            override fun onDisconnected(device: CameraDevice) {
                device.close()
                future.completeExceptionally(CaptureException("the camera was disconnected"))
            }

            override fun onError(device: CameraDevice, error: Int) {
                device.close()
                future.completeExceptionally(CaptureException("the camera reported error $error; close other camera apps"))
            }
        }, handler)
    }

    @Suppress("DEPRECATION") // the List<Surface> form is the one available from API 26 on
    private fun createSession(
        device: CameraDevice,
        surface: Surface,
        handler: Handler,
        future: CompletableFuture<CameraCaptureSession>,
    ) {
        device.createCaptureSession(listOf(surface), object : CameraCaptureSession.StateCallback() {
            override fun onConfigured(session: CameraCaptureSession) {
                future.complete(session)
            }

            override fun onConfigureFailed(session: CameraCaptureSession) {
                future.completeExceptionally(CaptureException("the camera cannot stream RAW at full size"))
            }
        }, handler)
    }

    /** Start an asynchronous camera step and wait for it, turning timeouts and failures into one line. */
    private fun <T> await(step: String, start: (CompletableFuture<T>) -> Unit): T {
        val future = CompletableFuture<T>()
        start(future)
        try {
            return future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS)
        } catch (e: ExecutionException) {
            throw e.cause ?: e
        } catch (e: java.util.concurrent.TimeoutException) {
            throw CaptureException("the camera did not respond while $step")
        }
    }

    private companion object {
        const val READER_IMAGES = 4
        const val SETTLE_LIMIT_SECONDS = 3L
        const val TIMEOUT_SECONDS = 5L
    }
}
