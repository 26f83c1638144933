package org.rawdenoise.core;

import java.util.Arrays;

/**
 * A small, fixed preview ISP for the before/after view: each {@code step × step} block of 2×2 Bayer
 * tiles becomes one pixel (R, mean of the greens, B — no demosaicing needed at preview size), then
 * white balance from AsShotNeutral, the camera→sRGB matrix derived from ColorMatrix1, one exposure
 * gain, and the sRGB transfer curve. The same renderer (same gain) draws the noisy and the
 * denoised mosaic, so the split view compares like with like.
 */
public final class PreviewRenderer {

    /** Linear sRGB (D65) → XYZ. */
    private static final double[][] XYZ_FROM_SRGB = {
        {0.4124564, 0.3575761, 0.1804375},
        {0.2126729, 0.7151522, 0.0721750},
        {0.0193339, 0.1191920, 0.9503041},
    };

    /** An ARGB_8888 image, row-major. */
    public static final class Preview {
        public final int[] argb;
        public final int width;
        public final int height;

        Preview(int[] argb, int width, int height) {
            this.argb = argb;
            this.width = width;
            this.height = height;
        }
    }

    private final BayerPattern pattern;
    private final double[] whiteBalance;
    private final double[][] srgbFromCamera;
    private final double gain;

    /**
     * @param asShotNeutral camera RGB of a neutral grey (DNG AsShotNeutral), or null for no white balance
     * @param colorMatrix1  XYZ → camera RGB, 3×3 row-major (DNG ColorMatrix1), or null to treat camera RGB as sRGB
     * @param gain          exposure multiplier applied after white balance
     */
    public PreviewRenderer(BayerPattern pattern, double[] asShotNeutral, double[] colorMatrix1, double gain) {
        this.pattern = pattern;
        this.whiteBalance = whiteBalance(asShotNeutral);
        this.srgbFromCamera = colorMatrix1 == null ? identity() : srgbFromCamera(colorMatrix1);
        this.gain = gain;
    }

    /** A renderer whose exposure puts the 99th percentile of the image's green at 90 % of white. */
    public static PreviewRenderer forImage(float[] mosaic, int height, int width, BayerPattern pattern,
                                           double[] asShotNeutral, double[] colorMatrix1) {
        PreviewRenderer unit = new PreviewRenderer(pattern, asShotNeutral, colorMatrix1, 1.0);
        int step = Math.max(1, Math.min(height, width) / 256);
        float[] green = unit.binnedGreen(mosaic, height, width, step);
        Arrays.sort(green);
        double p99 = green.length == 0 ? 0 : green[(int) Math.min(green.length - 1L, Math.round(0.99 * (green.length - 1)))];
        double gain = p99 > 1e-6 ? Math.max(1.0, Math.min(64.0, 0.9 / p99)) : 1.0;
        return new PreviewRenderer(pattern, asShotNeutral, colorMatrix1, gain);
    }

    public double gain() {
        return gain;
    }

    /** The largest binning step that keeps the preview's longer side at most {@code maxSide}. */
    public static int stepFor(int height, int width, int maxSide) {
        int longer = Math.max(height, width) / 2;
        return Math.max(1, (longer + maxSide - 1) / maxSide);
    }

    /** Render a normalized mosaic in this renderer's phase, {@code step} Bayer tiles per preview pixel. */
    public Preview render(float[] mosaic, int height, int width, int step) {
        if (mosaic.length != height * width) {
            throw new IllegalArgumentException("mosaic has " + mosaic.length + " values, expected " + height + "x" + width);
        }
        int outW = width / (2 * step);
        int outH = height / (2 * step);
        int[] argb = new int[outW * outH];
        double[] cam = new double[3];
        for (int oy = 0; oy < outH; oy++) {
            for (int ox = 0; ox < outW; ox++) {
                binnedRgb(mosaic, width, oy * 2 * step, ox * 2 * step, step, cam);
                int r = 0;
                int g = 0;
                int b = 0;
                for (int c = 0; c < 3; c++) {
                    double v = 0;
                    for (int k = 0; k < 3; k++) {
                        v += srgbFromCamera[c][k] * cam[k] * whiteBalance[k];
                    }
                    int byteValue = encode(v * gain);
                    if (c == 0) {
                        r = byteValue;
                    } else if (c == 1) {
                        g = byteValue;
                    } else {
                        b = byteValue;
                    }
                }
                argb[oy * outW + ox] = 0xFF000000 | (r << 16) | (g << 8) | b;
            }
        }
        return new Preview(argb, outW, outH);
    }

    /** Mean R, G, B (camera RGB) of the step × step Bayer tiles starting at (y0, x0). */
    private void binnedRgb(float[] mosaic, int width, int y0, int x0, int step, double[] out) {
        double[] sum = new double[3];
        int[] count = new int[3];
        for (int y = y0; y < y0 + 2 * step; y++) {
            for (int x = x0; x < x0 + 2 * step; x++) {
                int color = pattern.colorAt(y, x);
                sum[color] += mosaic[y * width + x];
                count[color]++;
            }
        }
        for (int c = 0; c < 3; c++) {
            out[c] = sum[c] / count[c];
        }
    }

    private float[] binnedGreen(float[] mosaic, int height, int width, int step) {
        int outW = width / (2 * step);
        int outH = height / (2 * step);
        float[] green = new float[outW * outH];
        double[] cam = new double[3];
        for (int oy = 0; oy < outH; oy++) {
            for (int ox = 0; ox < outW; ox++) {
                binnedRgb(mosaic, width, oy * 2 * step, ox * 2 * step, step, cam);
                green[oy * outW + ox] = (float) (cam[1] * whiteBalance[1]);
            }
        }
        return green;
    }

    /** Linear value → 8-bit sRGB (IEC 61966-2-1 transfer curve), clipped to [0, 1]. */
    static int encode(double linear) {
        double v = Math.max(0.0, Math.min(1.0, linear));
        double s = v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
        return (int) Math.round(s * 255.0);
    }

    private static double[] whiteBalance(double[] neutral) {
        if (neutral == null || neutral.length != 3 || neutral[0] <= 0 || neutral[1] <= 0 || neutral[2] <= 0) {
            return new double[] {1, 1, 1};
        }
        return new double[] {neutral[1] / neutral[0], 1.0, neutral[1] / neutral[2]};
    }

    /**
     * camera → linear sRGB: invert {@code ColorMatrix1 · XYZ_from_sRGB} after scaling its rows to
     * sum to 1, so that white-balanced camera white maps to sRGB white.
     */
    static double[][] srgbFromCamera(double[] colorMatrix1) {
        double[][] camFromSrgb = new double[3][3];
        for (int i = 0; i < 3; i++) {
            double rowSum = 0;
            for (int j = 0; j < 3; j++) {
                for (int k = 0; k < 3; k++) {
                    camFromSrgb[i][j] += colorMatrix1[i * 3 + k] * XYZ_FROM_SRGB[k][j];
                }
                rowSum += camFromSrgb[i][j];
            }
            if (Math.abs(rowSum) < 1e-12) {
                return identity();
            }
            for (int j = 0; j < 3; j++) {
                camFromSrgb[i][j] /= rowSum;
            }
        }
        double[][] inverse = invert(camFromSrgb);
        return inverse != null ? inverse : identity();
    }

    private static double[][] invert(double[][] m) {
        double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        if (Math.abs(det) < 1e-12) {
            return null;
        }
        double[][] inv = new double[3][3];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                int r1 = (j + 1) % 3;
                int r2 = (j + 2) % 3;
                int c1 = (i + 1) % 3;
                int c2 = (i + 2) % 3;
                inv[i][j] = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / det;
            }
        }
        return inv;
    }

    private static double[][] identity() {
        return new double[][] {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    }
}
