package org.rawdenoise.core;

import java.util.Arrays;

/**
 * Raw sensor numbers ↔ the SDK's normalized scale: black subtracted per CFA position, divided by
 * {@code white − black}, so 0 is black and 1 is saturation. Values below 0 are kept (noise around
 * black must reach the model unclipped).
 *
 * <p>{@code black} has four entries for the 2×2 tile of the mosaic's own phase, read row by row —
 * the layout of DNG {@code BlackLevel} with {@code BlackLevelRepeatDim} 2×2 and of Camera2
 * {@code SENSOR_BLACK_LEVEL_PATTERN}. Raw samples are 16-bit unsigned, stored in {@code short}.
 */
public final class BayerNormalization {

    private final double[] black;
    private final double white;

    public BayerNormalization(double[] black, double white) {
        if (black.length == 1) {
            black = new double[] {black[0], black[0], black[0], black[0]};
        }
        if (black.length != 4) {
            throw new IllegalArgumentException("black level needs 1 or 4 values (2x2 tile), got " + black.length);
        }
        for (double v : black) {
            if (!Double.isFinite(v) || v < 0 || v >= white) {
                throw new IllegalArgumentException("black level " + v + " must be finite, >= 0 and below white "
                        + white + "; the file's BlackLevel/WhiteLevel tags are inconsistent");
            }
        }
        this.black = black.clone();
        this.white = white;
    }

    public double[] black() {
        return black.clone();
    }

    public double white() {
        return white;
    }

    /**
     * Normalized float mosaic of a row-major {@code height × width} raw mosaic, computed in float
     * exactly as {@code read_raw} does: {@code (raw − black) / (white − black)}.
     */
    public float[] normalize(short[] raw, int height, int width) {
        checkSize(raw.length, height, width);
        float[] out = new float[raw.length];
        float[] blackF = new float[4];
        float[] range = new float[4];
        for (int i = 0; i < 4; i++) {
            blackF[i] = (float) black[i];
            range[i] = (float) white - blackF[i];
        }
        for (int y = 0; y < height; y++) {
            int row = y * width;
            int tile = (y & 1) * 2;
            for (int x = 0; x < width; x++) {
                int k = tile + (x & 1);
                out[row + x] = ((raw[row + x] & 0xFFFF) - blackF[k]) / range[k];
            }
        }
        return out;
    }

    /**
     * Back to raw numbers for writing, as {@code RawImage.to_dn} does: scaled in double, rounded
     * half to even, clipped to {@code [0, white]} (values between 0 and black are kept).
     */
    public short[] denormalize(float[] mosaic, int height, int width) {
        checkSize(mosaic.length, height, width);
        short[] out = new short[mosaic.length];
        for (int y = 0; y < height; y++) {
            int row = y * width;
            int tile = (y & 1) * 2;
            for (int x = 0; x < width; x++) {
                int k = tile + (x & 1);
                double v = Math.rint((double) mosaic[row + x] * (white - black[k]) + black[k]);
                out[row + x] = (short) (int) Math.max(0.0, Math.min(white, v));
            }
        }
        return out;
    }

    private static void checkSize(int length, int height, int width) {
        if (length != height * width) {
            throw new IllegalArgumentException("mosaic has " + length + " values, expected " + height + "x" + width);
        }
    }

    @Override
    public String toString() {
        return "black=" + Arrays.toString(black) + " white=" + white;
    }
}
