package org.rawdenoise.core;

import java.util.Arrays;

/**
 * Heteroscedastic Poisson–Gaussian noise {@code Var[x] = a·x + b} per packed plane R, G1, G2, B on
 * the normalized scale (0 black, 1 white) — the Java twin of {@code denoise/noise.py}.
 *
 * <p>Every metadata source (a DNG {@code NoiseProfile} tag, a Camera2 {@code SENSOR_NOISE_PROFILE})
 * is mapped to this one type; {@link #level()} is the scalar the bundle's selector compares.
 */
public final class NoiseProfile {

    private final double[] a;
    private final double[] b;
    private final String source;

    /** {@code a} and {@code b}: four values each, in plane order R, G1, G2, B. */
    public NoiseProfile(double[] a, double[] b, String source) {
        if (a.length != 4 || b.length != 4) {
            throw new NoiseProfileException("noise profile needs 4 values of a and of b (R,G1,G2,B), got "
                    + a.length + " and " + b.length);
        }
        check(a, "a");
        check(b, "b");
        if (max(a) == 0 && max(b) == 0) {
            throw new NoiseProfileException("noise a and b are both zero: nothing to denoise");
        }
        this.a = a.clone();
        this.b = b.clone();
        this.source = source;
    }

    /** The same (a, b) on all four planes. */
    public static NoiseProfile uniform(double a, double b, String source) {
        return new NoiseProfile(new double[] {a, a, a, a}, new double[] {b, b, b, b}, source);
    }

    /**
     * From the DNG {@code NoiseProfile} tag (51041): one (S, O) pair for all planes, or one pair per
     * colour plane in {@code CFAPlaneColor} order ({@code planeColors}: 0 red, 1 green, 2 blue; may
     * be null). Both greens take the first green pair; four pairs with colours R, G, G, B map one
     * to one. Same rules as {@code NoiseProfile.from_dng_pairs} in the Python SDK.
     */
    public static NoiseProfile fromDngPairs(double[] values, int[] planeColors) {
        if (values.length < 2 || values.length % 2 != 0) {
            throw new NoiseProfileException("DNG NoiseProfile needs an even number of values, got "
                    + values.length);
        }
        int pairs = values.length / 2;
        if (pairs == 1) {
            return uniform(values[0], values[1], "metadata");
        }
        int[] colors;
        if (planeColors == null) {
            colors = Arrays.copyOf(new int[] {0, 1, 2}, Math.min(3, pairs));
        } else {
            colors = planeColors.clone();
        }
        if (pairs == 4 && colors.length != 4) {
            colors = new int[] {0, 1, 1, 2};
        }
        double[] a = new double[4];
        double[] b = new double[4];
        if (pairs == 4 && Arrays.equals(colors, new int[] {0, 1, 1, 2})) {
            for (int p = 0; p < 4; p++) {
                a[p] = values[2 * p];
                b[p] = values[2 * p + 1];
            }
            return new NoiseProfile(a, b, "metadata");
        }
        int[] firstPairOfColor = {-1, -1, -1};
        for (int i = 0; i < Math.min(colors.length, pairs); i++) {
            int c = colors[i];
            if (c >= 0 && c < 3 && firstPairOfColor[c] < 0) {
                firstPairOfColor[c] = i;
            }
        }
        if (firstPairOfColor[0] < 0 || firstPairOfColor[1] < 0 || firstPairOfColor[2] < 0) {
            throw new NoiseProfileException("DNG NoiseProfile planes " + Arrays.toString(colors)
                    + " do not cover R, G and B");
        }
        int[] colorOfPlane = {0, 1, 1, 2};
        for (int p = 0; p < 4; p++) {
            int pair = firstPairOfColor[colorOfPlane[p]];
            a[p] = values[2 * pair];
            b[p] = values[2 * pair + 1];
        }
        return new NoiseProfile(a, b, "metadata");
    }

    /**
     * From Camera2 {@code SENSOR_NOISE_PROFILE}: one (S, O) pair per CFA channel, flattened as
     * {@code [S0, O0, S1, O1, …]}, channels in the sensor's CFA order (the 2×2 tile read row by
     * row, e.g. G, R, B, G for GRBG). Each pair goes to the packed plane its pixel lands on.
     */
    public static NoiseProfile fromCfaPairs(double[] values, BayerPattern pattern) {
        if (values.length != 8) {
            throw new NoiseProfileException("camera noise profile needs 4 (S, O) pairs, one per CFA channel, got "
                    + values.length + " values");
        }
        double[] a = new double[4];
        double[] b = new double[4];
        for (int i = 0; i < 4; i++) {
            int plane = pattern.planeOf(i / 2, i % 2);
            a[plane] = values[2 * i];
            b[plane] = values[2 * i + 1];
        }
        return new NoiseProfile(a, b, "metadata");
    }

    /**
     * The selection scalar: mean shot term over the four planes, summed in plane order and
     * divided by 4 in double — bit-identical to {@code NoiseProfile.level()} in Python.
     */
    public double level() {
        return (((a[0] + a[1]) + a[2]) + a[3]) / 4.0;
    }

    /** {@code [a_R, a_G1, a_G2, a_B, b_R, b_G1, b_G2, b_B]} as float: the models' noise input. */
    public float[] asVector() {
        float[] v = new float[8];
        for (int i = 0; i < 4; i++) {
            v[i] = (float) a[i];
            v[i + 4] = (float) b[i];
        }
        return v;
    }

    public double[] a() {
        return a.clone();
    }

    public double[] b() {
        return b.clone();
    }

    /** Where the profile came from ("metadata", "user", …), as in the Python SDK. */
    public String source() {
        return source;
    }

    @Override
    public String toString() {
        return "a=" + Arrays.toString(a) + " b=" + Arrays.toString(b) + " (" + source + ")";
    }

    private static void check(double[] values, String name) {
        for (double v : values) {
            if (!Double.isFinite(v)) {
                throw new NoiseProfileException("noise '" + name + "' must be finite, got " + v);
            }
            if (v < 0) {
                throw new NoiseProfileException("noise '" + name + "' must be >= 0, got " + v);
            }
        }
    }

    private static double max(double[] values) {
        double m = values[0];
        for (double v : values) {
            m = Math.max(m, v);
        }
        return m;
    }
}
