package org.rawdenoise.core;

/**
 * Even-sized RGGB mosaic (row-major {@code H × W}) ↔ packed planes ({@code 4 × H/2 × W/2}, plane
 * order R, G1, G2, B, channel-major like an NCHW tensor with N = 1) — {@code pack_rggb} /
 * {@code unpack_rggb} of {@code denoise/cfa.py}.
 */
public final class RggbPacking {

    private RggbPacking() {
    }

    public static float[] pack(float[] mosaic, int height, int width) {
        if (height % 2 != 0 || width % 2 != 0) {
            throw new CfaException("packing needs an even-sized RGGB mosaic, got " + height + "x" + width);
        }
        if (mosaic.length != height * width) {
            throw new CfaException("mosaic has " + mosaic.length + " values, expected " + height + "x" + width);
        }
        int h = height / 2;
        int w = width / 2;
        int plane = h * w;
        float[] out = new float[4 * plane];
        for (int y = 0; y < h; y++) {
            int even = 2 * y * width;
            int odd = even + width;
            int dst = y * w;
            for (int x = 0; x < w; x++) {
                out[dst + x] = mosaic[even + 2 * x];
                out[plane + dst + x] = mosaic[even + 2 * x + 1];
                out[2 * plane + dst + x] = mosaic[odd + 2 * x];
                out[3 * plane + dst + x] = mosaic[odd + 2 * x + 1];
            }
        }
        return out;
    }

    /** Inverse of {@link #pack}: planes of {@code h × w} → a {@code 2h × 2w} RGGB mosaic. */
    public static float[] unpack(float[] planes, int h, int w) {
        int plane = h * w;
        if (planes.length != 4 * plane) {
            throw new CfaException("expected 4 packed planes of " + h + "x" + w + ", got " + planes.length + " values");
        }
        int width = 2 * w;
        float[] out = new float[4 * plane];
        for (int y = 0; y < h; y++) {
            int even = 2 * y * width;
            int odd = even + width;
            int src = y * w;
            for (int x = 0; x < w; x++) {
                out[even + 2 * x] = planes[src + x];
                out[even + 2 * x + 1] = planes[plane + src + x];
                out[odd + 2 * x] = planes[2 * plane + src + x];
                out[odd + 2 * x + 1] = planes[3 * plane + src + x];
            }
        }
        return out;
    }
}
