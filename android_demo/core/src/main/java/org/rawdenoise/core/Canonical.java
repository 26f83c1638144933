package org.rawdenoise.core;

/**
 * How a mosaic of one Bayer phase and size maps to the even-sized RGGB mosaic the models see, and
 * back — the Java twin of {@code to_rggb} / {@code Canonical} in {@code denoise/cfa.py}.
 *
 * <p>A non-RGGB phase gets one row and/or column reflect-padded in front (the padded line repeats
 * the line two away, so it has the right colour phase); an odd size gets one reflect-padded line at
 * the end. {@link #toOriginal} crops exactly those pads off again. Mosaics are row-major
 * {@code float[height * width]}.
 */
public final class Canonical {

    public final BayerPattern pattern;
    /** Size of the original mosaic. */
    public final int height;
    public final int width;
    /** Lines padded on each side. */
    public final int top;
    public final int left;
    public final int bottom;
    public final int right;

    private Canonical(BayerPattern pattern, int height, int width) {
        this.pattern = pattern;
        this.height = height;
        this.width = width;
        this.top = pattern.redRow;
        this.left = pattern.redCol;
        this.bottom = (height + top) % 2;
        this.right = (width + left) % 2;
    }

    /** The padding plan for a {@code height × width} mosaic in {@code pattern}'s phase. */
    public static Canonical of(BayerPattern pattern, int height, int width) {
        if (height < 3 || width < 3) {
            throw new CfaException("mosaic " + height + "x" + width + " is too small (needs at least 3x3 pixels)");
        }
        return new Canonical(pattern, height, width);
    }

    public int rggbHeight() {
        return top + height + bottom;
    }

    public int rggbWidth() {
        return left + width + right;
    }

    /** The even-sized RGGB mosaic ({@link #rggbHeight()} × {@link #rggbWidth()}). */
    public float[] toRggb(float[] mosaic) {
        if (mosaic.length != height * width) {
            throw new CfaException("mosaic has " + mosaic.length + " values, expected " + height + "x" + width);
        }
        int outH = rggbHeight();
        int outW = rggbWidth();
        float[] out = new float[outH * outW];
        for (int y = 0; y < outH; y++) {
            int srcRow = reflect(y - top, height) * width;
            int dst = y * outW;
            for (int x = 0; x < outW; x++) {
                out[dst + x] = mosaic[srcRow + reflect(x - left, width)];
            }
        }
        return out;
    }

    /** Crop a canonical RGGB mosaic back to the original phase and size (exact inverse of the pad). */
    public float[] toOriginal(float[] rggb) {
        int outW = rggbWidth();
        if (rggb.length != rggbHeight() * outW) {
            throw new CfaException("RGGB mosaic has " + rggb.length + " values, expected "
                    + rggbHeight() + "x" + outW);
        }
        float[] out = new float[height * width];
        for (int y = 0; y < height; y++) {
            System.arraycopy(rggb, (y + top) * outW + left, out, y * width, width);
        }
        return out;
    }

    /** numpy's "reflect" (edge not repeated) for indices at most one line outside {@code [0, n)}. */
    private static int reflect(int i, int n) {
        if (i < 0) {
            return -i;
        }
        if (i >= n) {
            return 2 * (n - 1) - i;
        }
        return i;
    }
}
