package org.rawdenoise.demo

import android.content.Context
import android.graphics.Bitmap
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.graphics.RectF
import android.util.AttributeSet
import android.util.TypedValue
import android.view.MotionEvent
import android.view.View

/**
 * Split view: the noisy preview left of a draggable divider, the denoised one right of it, both
 * scaled to fit the same rectangle so every pixel lines up across the divider.
 */
class BeforeAfterView @JvmOverloads constructor(
    context: Context,
    attrs: AttributeSet? = null,
) : View(context, attrs) {

    private var before: Bitmap? = null
    private var after: Bitmap? = null
    private var split = 0.5f
    private val image = RectF()
    private val bitmapPaint = Paint(Paint.FILTER_BITMAP_FLAG)
    private val dividerPaint = Paint().apply {
        color = Color.WHITE
        strokeWidth = 3f * resources.displayMetrics.density
    }
    private val labelPaint = Paint(Paint.ANTI_ALIAS_FLAG).apply {
        color = Color.WHITE
        textSize = TypedValue.applyDimension(TypedValue.COMPLEX_UNIT_SP, 14f, resources.displayMetrics)
        setShadowLayer(4f, 0f, 0f, Color.BLACK)
    }
    private val beforeLabel = context.getString(R.string.label_before)
    private val afterLabel = context.getString(R.string.label_after)

    fun show(noisy: Bitmap, denoised: Bitmap) {
        before = noisy
        after = denoised
        split = 0.5f
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val left = before ?: return
        val right = after ?: return
        fitCentered(left.width, left.height)
        val x = image.left + split * image.width()
        canvas.save()
        canvas.clipRect(image.left, image.top, x, image.bottom)
        canvas.drawBitmap(left, null, image, bitmapPaint)
        canvas.restore()
        canvas.save()
        canvas.clipRect(x, image.top, image.right, image.bottom)
        canvas.drawBitmap(right, null, image, bitmapPaint)
        canvas.restore()
        canvas.drawLine(x, image.top, x, image.bottom, dividerPaint)
        val baseline = image.top + labelPaint.textSize * 1.5f
        canvas.drawText(beforeLabel, image.left + labelPaint.textSize / 2, baseline, labelPaint)
        canvas.drawText(
            afterLabel, image.right - labelPaint.measureText(afterLabel) - labelPaint.textSize / 2, baseline, labelPaint,
        )
    }

    override fun onTouchEvent(event: MotionEvent): Boolean {
        if (before == null || image.width() <= 0f) {
            return super.onTouchEvent(event)
        }
        when (event.actionMasked) {
            MotionEvent.ACTION_DOWN, MotionEvent.ACTION_MOVE -> {
                parent?.requestDisallowInterceptTouchEvent(true)
                split = ((event.x - image.left) / image.width()).coerceIn(0f, 1f)
                invalidate()
            }
            MotionEvent.ACTION_UP -> performClick()
        }
        return true
    }

    override fun performClick(): Boolean = super.performClick()

    private fun fitCentered(bitmapWidth: Int, bitmapHeight: Int) {
        val scale = minOf(width.toFloat() / bitmapWidth, height.toFloat() / bitmapHeight)
        val w = bitmapWidth * scale
        val h = bitmapHeight * scale
        val left = (width - w) / 2
        val top = (height - h) / 2
        image.set(left, top, left + w, top + h)
    }
}
