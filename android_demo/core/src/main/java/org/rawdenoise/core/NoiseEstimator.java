package org.rawdenoise.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Blind {@code Var = a·x + b} per packed plane from one noisy Bayer mosaic, for captures without
 * {@code SENSOR_NOISE_PROFILE}: the Java twin of {@code denoise/noise_estimate.py}, whose module
 * documentation explains the method (8×8 blocks per plane, Haar cells minus low-order surfaces,
 * flatness and cross-plane tests, the flattest blocks standing in when too few pass, a low quantile
 * per signal bin made unbiased for χ² noise, a trimmed non-negative line fit, b on the DND line
 * when the signal range is too narrow). Golden vectors written by the Python SDK pin the answers.
 *
 * <p>Constants are the Python module's; the two F-distribution quantiles are its numbers, and the
 * χ² order-statistic means are integrated here from the closed-form χ² density.
 */
public final class NoiseEstimator {

    static final int BLOCK = 4;
    static final double QUANTILE = 0.2;
    static final double CORR_SIGMAS = 2.0;
    static final int MIN_FLAT_BLOCKS = 96;
    static final int MIN_BLOCKS_PER_BIN = 16;
    static final int MAX_BINS = 24;
    static final double BIN_SPAN = 0.25;
    static final double BIN_FLOOR = 0.01;
    static final double TRIM_SIGMAS = 3.0;
    static final double MAX_SLOPE_REL_SE = 0.3;
    static final int FIT_ITERATIONS = 20;
    static final int REBIN_ITERATIONS = 3;
    static final int MAX_BLOCKS = 16_000;
    static final int MIN_PLANE_SIZE = 2 * BLOCK * 8;
    static final double CLIP_FRACTION = 1e-4;
    static final double SILENT_STD = 1e-6;
    static final int DOF_COARSE = BLOCK * BLOCK - 6;
    static final int DOF_DETAIL = BLOCK * BLOCK - 3;
    static final int DOF = DOF_COARSE + 3 * DOF_DETAIL;
    /** F(0.9; 10, 13) and F(0.9; 26, 13): the flatness tests at 90 % (scipy.stats.f.ppf). */
    static final double F_COARSE = 2.137634588833275;
    static final double F_DETAIL = 1.9731557418282486;
    static final double CORR_LIMIT = CORR_SIGMAS / Math.sqrt(DOF);
    /** The DND-fitted read-term line {@code log b = 2.18·log a + 1.20} of {@code denoise/noise.py}. */
    static final double LOG_B_SLOPE = 2.18;
    static final double LOG_B_INTERCEPT = 1.20;

    private static final String[] PLANES = {"R", "G1", "G2", "B"};
    private static final String ADVICE = "pass the noise with --noise a,b";
    private static final double[][] AFTER_QUADRATIC = complementBasis(2);
    private static final double[][] AFTER_PLANE = complementBasis(1);

    private NoiseEstimator() {
    }

    /** A blind profile (source "estimate"), whether every plane had enough flat blocks, and why. */
    public static final class Result {
        private final NoiseProfile profile;
        private final boolean highConfidence;
        private final String detail;

        Result(NoiseProfile profile, boolean highConfidence, String detail) {
            this.profile = profile;
            this.highConfidence = highConfidence;
            this.detail = detail;
        }

        public NoiseProfile profile() {
            return profile;
        }

        /** False when textured blocks stood in on some plane: the estimate may be too high. */
        public boolean highConfidence() {
            return highConfidence;
        }

        /** The same one-line description the Python SDK gives (block counts, prior use, confidence). */
        public String detail() {
            return detail;
        }
    }

    /**
     * Estimate (a, b) per plane R, G1, G2, B from a normalized mosaic ({@code height × width},
     * row-major, 0 black, 1 white) in the given Bayer phase.
     */
    public static Result estimate(float[] mosaic, int height, int width, BayerPattern pattern) {
        if (pattern == null) {
            throw new NoiseEstimateException("noise estimation needs a Bayer pattern");
        }
        if (height <= 0 || width <= 0 || mosaic.length != (long) height * width) {
            throw new NoiseEstimateException("mosaic has " + mosaic.length + " values, not " + height + "x" + width);
        }
        for (float v : mosaic) {
            if (!Float.isFinite(v)) {
                throw new NoiseEstimateException("mosaic contains NaN or infinite values; cannot estimate noise ("
                        + ADVICE + ")");
            }
        }
        // Crop (not pad) to the RGGB phase: padding would repeat pixels and their noise.
        int top = pattern.redRow;
        int left = pattern.redCol;
        int h = (height - top) / 2 * 2;
        int w = (width - left) / 2 * 2;
        if (Math.min(h, w) < 2 * MIN_PLANE_SIZE) {
            throw new NoiseEstimateException("mosaic " + height + "x" + width + " is too small to estimate noise "
                    + "(needs about " + 2 * MIN_PLANE_SIZE + "x" + 2 * MIN_PLANE_SIZE + " pixels or more); " + ADVICE);
        }
        double[] clip = clipLevels(mosaic, width, top, left, h, w);
        Blocks blocks = blockResiduals(mosaic, width, top, left, h / 2, w / 2);
        double[][] fits = new double[4][];
        List<double[][]> chosen = new ArrayList<>();
        int[] passed = new int[4];
        for (int p = 0; p < 4; p++) {
            chosen.add(flattest(blocks, p, clip, passed));
        }
        StringBuilder counts = new StringBuilder();
        StringBuilder prior = new StringBuilder();
        for (int p = 0; p < 4; p++) {
            double[][] mv = chosen.get(p);
            fits[p] = fitPlane(mv[0], mv[1], PLANES[p]);
            counts.append(p == 0 ? "" : ", ").append(mv[0].length);
            if (fits[p][2] != 0) {
                prior.append(prior.length() == 0 ? "" : ",").append(PLANES[p]);
            }
        }
        String detail = "blind: " + 2 * BLOCK + "x" + 2 * BLOCK + "-pixel flat blocks (" + counts + "), q=" + QUANTILE
                + " per signal bin, NNLS line";
        if (prior.length() > 0) {
            detail += "; b from the DND a-b relation on " + prior + " (too narrow a signal range)";
        }
        int worst = 0;
        for (int p = 1; p < 4; p++) {
            if (passed[p] < passed[worst]) {
                worst = p;
            }
        }
        boolean high = passed[worst] >= MIN_FLAT_BLOCKS;
        if (high) {
            detail += "; confidence high";
        } else {
            detail += "; confidence low: only " + passed[worst] + " blocks of " + PLANES[worst] + " pass the flatness "
                    + "tests, the flattest textured ones stand in and may raise the estimate (" + ADVICE + " if known)";
        }
        double[] a = {fits[0][0], fits[1][0], fits[2][0], fits[3][0]};
        double[] b = {fits[0][1], fits[1][1], fits[2][1], fits[3][1]};
        return new Result(new NoiseProfile(a, b, "estimate"), high, detail);
    }

    /** Read term on the DND line for a shot term {@code a}. */
    static double logLinearB(double a) {
        return Math.exp(LOG_B_SLOPE * Math.log(a) + LOG_B_INTERCEPT);
    }

    // ------------------------------------------------------------------------------- blocks

    /** (low, high): values at or beyond are clipped (±infinity where the crop shows no clipping). */
    private static double[] clipLevels(float[] m, int width, int top, int left, int h, int w) {
        float lo = Float.POSITIVE_INFINITY;
        float hi = Float.NEGATIVE_INFINITY;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                float v = m[(top + y) * width + left + x];
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        long nLo = 0;
        long nHi = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                float v = m[(top + y) * width + left + x];
                nLo += v == lo ? 1 : 0;
                nHi += v == hi ? 1 : 0;
            }
        }
        double enough = CLIP_FRACTION * h * w;
        return new double[] {nLo > enough ? lo : Double.NEGATIVE_INFINITY, nHi > enough ? hi : Double.POSITIVE_INFINITY};
    }

    /** Per plane and block: mean, min, max and the DOF residual coordinates. */
    private static final class Blocks {
        final int count;
        final double[][] mean = new double[4][];
        final double[][] low = new double[4][];
        final double[][] high = new double[4][];
        final double[][][] res = new double[4][][];

        Blocks(int count) {
            this.count = count;
            for (int p = 0; p < 4; p++) {
                mean[p] = new double[count];
                low[p] = new double[count];
                high[p] = new double[count];
                res[p] = new double[count][];
            }
        }
    }

    private static Blocks blockResiduals(float[] m, int width, int top, int left, int ph, int pw) {
        int side = 2 * BLOCK;
        int bh = ph / side;
        int bw = pw / side;
        int step = Math.max(1, (int) Math.ceil(Math.sqrt((double) bh * bw / MAX_BLOCKS)));
        int rows = (bh + step - 1) / step;
        int cols = (bw + step - 1) / step;
        Blocks out = new Blocks(rows * cols);
        double[][] px = new double[side][side];
        double[][] maps = new double[4][BLOCK * BLOCK];
        for (int p = 0; p < 4; p++) {
            int dy = p / 2;
            int dx = p % 2;
            int k = 0;
            for (int by = 0; by < bh; by += step) {
                for (int bx = 0; bx < bw; bx += step, k++) {
                    double sum = 0;
                    double lo = Double.POSITIVE_INFINITY;
                    double hi = Double.NEGATIVE_INFINITY;
                    for (int y = 0; y < side; y++) {
                        int row = (top + 2 * (by * side + y) + dy) * width + left + dx;
                        for (int x = 0; x < side; x++) {
                            double v = m[row + 2 * (bx * side + x)];
                            px[y][x] = v;
                            sum += v;
                            lo = Math.min(lo, v);
                            hi = Math.max(hi, v);
                        }
                    }
                    for (int cy = 0; cy < BLOCK; cy++) {
                        for (int cx = 0; cx < BLOCK; cx++) {
                            double x00 = px[2 * cy][2 * cx];
                            double x01 = px[2 * cy][2 * cx + 1];
                            double x10 = px[2 * cy + 1][2 * cx];
                            double x11 = px[2 * cy + 1][2 * cx + 1];
                            int c = cy * BLOCK + cx;
                            maps[0][c] = 0.5 * (x00 + x01 + x10 + x11);
                            maps[1][c] = 0.5 * (x00 - x01 + x10 - x11);
                            maps[2][c] = 0.5 * (x00 + x01 - x10 - x11);
                            maps[3][c] = 0.5 * (x00 - x01 - x10 + x11);
                        }
                    }
                    double[] r = new double[DOF];
                    int at = project(maps[0], AFTER_QUADRATIC, r, 0);
                    for (int i = 1; i < 4; i++) {
                        at = project(maps[i], AFTER_PLANE, r, at);
                    }
                    out.mean[p][k] = sum / (side * side);
                    out.low[p][k] = lo;
                    out.high[p][k] = hi;
                    out.res[p][k] = r;
                }
            }
        }
        return out;
    }

    private static int project(double[] cells, double[][] basis, double[] into, int at) {
        for (double[] e : basis) {
            into[at++] = dot(cells, e);
        }
        return at;
    }

    /**
     * Orthonormal basis of what a polynomial surface of {@code degree} cannot fit on the BLOCK×BLOCK
     * cells. Any such basis gives the same energies and cross-plane correlations as the Python one.
     */
    private static double[][] complementBasis(int degree) {
        int n = BLOCK * BLOCK;
        List<double[]> vectors = new ArrayList<>();
        for (int p = 0; p <= degree; p++) {
            for (int q = 0; q <= degree - p; q++) {
                double[] col = new double[n];
                for (int c = 0; c < n; c++) {
                    col[c] = Math.pow(c / BLOCK - (BLOCK - 1) / 2.0, p) * Math.pow(c % BLOCK - (BLOCK - 1) / 2.0, q);
                }
                vectors.add(orthonormalized(col, vectors));
            }
        }
        int polynomial = vectors.size();
        for (int c = 0; c < n && vectors.size() < n; c++) {
            double[] unit = new double[n];
            unit[c] = 1.0;
            double[] e = orthonormalized(unit, vectors);
            if (e != null) {
                vectors.add(e);
            }
        }
        return vectors.subList(polynomial, n).toArray(new double[0][]);
    }

    /** {@code v} minus its projection on {@code basis} (twice, for accuracy), normalized; null if nothing is left. */
    private static double[] orthonormalized(double[] v, List<double[]> basis) {
        double[] out = v.clone();
        for (int pass = 0; pass < 2; pass++) {
            for (double[] e : basis) {
                double d = dot(out, e);
                for (int i = 0; i < out.length; i++) {
                    out[i] -= d * e[i];
                }
            }
        }
        double norm = Math.sqrt(dot(out, out));
        if (norm < 1e-6) {
            return null;
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= norm;
        }
        return out;
    }

    /** {mean, var} of the blocks of plane {@code p} that pass the tests, or of its flattest ones. */
    private static double[][] flattest(Blocks blocks, int p, double[] clip, int[] passed) {
        int n = blocks.count;
        double[] score = new double[n];
        double[] var = new double[n];
        for (int k = 0; k < n; k++) {
            double[] r = blocks.res[p][k];
            double coarse = 0;
            double first = 0;
            double hh = 0;
            for (int i = 0; i < DOF; i++) {
                double e = r[i] * r[i];
                if (i < DOF_COARSE) {
                    coarse += e;
                } else if (i < DOF_COARSE + 2 * DOF_DETAIL) {
                    first += e;
                } else {
                    hh += e;
                }
            }
            double total = Math.max(coarse + first + hh, 1e-300);
            double sHh = Math.max(hh / DOF_DETAIL, 1e-300);
            double s = Math.max(coarse / DOF_COARSE / (F_COARSE * sHh), first / (2 * DOF_DETAIL) / (F_DETAIL * sHh));
            for (int q = 0; q < 4; q++) {
                if (q != p) {
                    double[] o = blocks.res[q][k];
                    double otherTotal = Math.max(dot(o, o), 1e-300);
                    double corr = Math.abs(dot(r, o)) / Math.sqrt(total * otherTotal);
                    s = Math.max(s, corr / CORR_LIMIT);
                }
            }
            double mean = blocks.mean[p][k];
            boolean silent = total <= DOF * Math.pow(SILENT_STD * (Math.abs(mean) + 1e-3), 2);
            if (silent) {
                s = 0.0;
            }
            if (blocks.low[p][k] <= clip[0] || blocks.high[p][k] >= clip[1]) {
                s = Double.POSITIVE_INFINITY;
            }
            score[k] = s;
            var[k] = silent ? 0.0 : total / DOF;
        }
        List<Integer> keep = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            if (score[k] <= 1.0) {
                keep.add(k);
            }
        }
        passed[p] = keep.size();
        if (keep.size() < MIN_FLAT_BLOCKS) {
            Integer[] order = new Integer[n];
            for (int k = 0; k < n; k++) {
                order[k] = k;
            }
            Arrays.sort(order, (i, j) -> Double.compare(score[i], score[j]));  // stable: ties keep block order
            keep.clear();
            for (int k = 0; k < Math.min(MIN_FLAT_BLOCKS, n); k++) {
                if (Double.isFinite(score[order[k]])) {
                    keep.add(order[k]);
                }
            }
            keep.sort(null);
        }
        double[][] out = new double[2][keep.size()];
        for (int i = 0; i < keep.size(); i++) {
            out[0][i] = blocks.mean[p][keep.get(i)];
            out[1][i] = var[keep.get(i)];
        }
        return out;
    }

    // ------------------------------------------------------------------------------- fit

    /** {a, b, 1 if b follows the DND line else 0} of one plane. */
    private static double[] fitPlane(double[] mean, double[] var, String name) {
        if (mean.length < MIN_BLOCKS_PER_BIN) {
            throw new NoiseEstimateException("plane " + name + ": only " + mean.length + " flat unclipped 8x8 blocks, "
                    + "too few to estimate noise (image too small, too textured or mostly clipped); " + ADVICE);
        }
        double[] model = null;
        double[] fit = null;
        for (int i = 0; i < REBIN_ITERATIONS; i++) {
            double[][] bins = binnedVariances(mean, var, model);
            boolean any = false;
            for (double v : bins[1]) {
                any |= v > 0;
            }
            if (!any) {
                throw new NoiseEstimateException("plane " + name + ": the flat areas show no noise (synthetic or "
                        + "already denoised image?); " + ADVICE);
            }
            fit = fitLine(bins[0], bins[1], bins[2]);
            model = fit;
        }
        return fit;
    }

    /** Start and end (exclusive) of consecutive signal-sorted blocks forming bins (the Python rule). */
    static List<int[]> signalBins(double[] sorted) {
        int count = sorted.length;
        int target = Math.max(MIN_BLOCKS_PER_BIN, count / MAX_BINS);
        List<int[]> bins = new ArrayList<>();
        int start = 0;
        while (start < count) {
            double limit = (1 + BIN_SPAN) * Math.max(sorted[start], 0.0) + BIN_FLOOR;
            int tooFar = start;
            while (tooFar < count && sorted[tooFar] <= limit) {
                tooFar++;
            }
            int end = Math.min(Math.min(start + target, count), tooFar);
            if (end - start >= MIN_BLOCKS_PER_BIN / 2) {
                bins.add(new int[] {start, end});
            }
            start = end;
        }
        if (bins.isEmpty()) {
            bins.add(new int[] {0, count});
        }
        return bins;
    }

    /** {signal, unbiased low-quantile variance, count} per bin; with a model, variances relative to it. */
    private static double[][] binnedVariances(double[] mean, double[] var, double[] model) {
        int n = mean.length;
        Integer[] boxed = new Integer[n];
        for (int i = 0; i < n; i++) {
            boxed[i] = i;
        }
        Arrays.sort(boxed, (i, j) -> Double.compare(mean[i], mean[j]));
        int[] order = new int[n];
        double[] sorted = new double[n];
        for (int i = 0; i < n; i++) {
            order[i] = boxed[i];
            sorted[i] = mean[order[i]];
        }
        double[] shape = new double[n];
        if (model == null) {
            Arrays.fill(shape, 1.0);
        } else {
            for (int i = 0; i < n; i++) {
                shape[i] = model[0] * Math.max(mean[i], 0.0) + model[1];
            }
            double floor = 1e-2 * median(shape.clone());
            for (int i = 0; i < n; i++) {
                shape[i] = Math.max(shape[i], floor);
            }
        }
        List<int[]> bins = signalBins(sorted);
        double[][] out = new double[3][bins.size()];
        for (int b = 0; b < bins.size(); b++) {
            int start = bins.get(b)[0];
            int size = bins.get(b)[1] - start;
            double[] signal = new double[size];
            double[] relative = new double[size];
            double minShape = Double.POSITIVE_INFINITY;
            for (int i = 0; i < size; i++) {
                int k = order[start + i];
                signal[i] = mean[k];
                relative[i] = var[k] / shape[k];
                minShape = Math.min(minShape, shape[k]);
            }
            double x = median(signal);
            double atX = model == null ? 1.0 : Math.max(model[0] * Math.max(x, 0.0) + model[1], minShape);
            out[0][b] = x;
            out[1][b] = weibullQuantile(relative, QUANTILE) / expectedQuantile(size) * atX;
            out[2][b] = size;
        }
        return out;
    }

    /** Fit {@code v = a·x + b} (a, b ≥ 0), trimming bins far above the line: {a, b, 1 if b from the prior}. */
    private static double[] fitLine(double[] x0, double[] v0, double[] n) {
        int m = x0.length;
        double[] x = new double[m];
        double[] v = new double[m];
        double smallest = Double.POSITIVE_INFINITY;
        for (double value : v0) {
            if (value > 0) {
                smallest = Math.min(smallest, value);
            }
        }
        double[] relStd = new double[m];
        double vMin = Double.POSITIVE_INFINITY;
        for (int i = 0; i < m; i++) {
            x[i] = Math.max(x0[i], 0.0);
            v[i] = Math.max(v0[i], smallest);
            vMin = Math.min(vMin, v[i]);
            relStd[i] = QUANTILE_REL_STD_1 / Math.sqrt(n[i]);
        }
        boolean[] keep = new boolean[m];
        Arrays.fill(keep, true);
        double[] predicted = v.clone();
        double[] weight = new double[m];
        double[] coef = {0, 0};
        for (int iteration = 0; iteration < FIT_ITERATIONS; iteration++) {
            for (int i = 0; i < m; i++) {
                weight[i] = 1.0 / (relStd[i] * predicted[i]);
            }
            coef = nnls2(x, v, weight, keep);
            boolean[] now = new boolean[m];
            int kept = 0;
            for (int i = 0; i < m; i++) {
                predicted[i] = Math.max(coef[0] * x[i] + coef[1], 1e-3 * vMin);
                now[i] = (v[i] - predicted[i]) <= TRIM_SIGMAS * relStd[i] * predicted[i];
                kept += now[i] ? 1 : 0;
            }
            if (kept < 1 || (Arrays.equals(now, keep) && iteration >= 2)) {
                break;
            }
            keep = now;
        }
        double a = coef[0];
        double b = coef[1];
        double g00 = 0;
        double g01 = 0;
        double g11 = 0;
        int rows = 0;
        for (int i = 0; i < m; i++) {
            if (keep[i]) {
                double wx = x[i] * weight[i];
                double w1 = weight[i];
                g00 += wx * wx;
                g01 += wx * w1;
                g11 += w1 * w1;
                rows++;
            }
        }
        if (fullRank(g00, g01, g11, rows)) {
            double det = g00 * g11 - g01 * g01;
            if (Math.sqrt(g11 / det) <= MAX_SLOPE_REL_SE * a) {
                return new double[] {a, b, 0};
            }
        }
        // Too narrow a signal range to separate shot from read noise: fit a alone, b on the DND line.
        double lo = Math.log(1e-9);
        double hi = 0.0;
        double ratio = (Math.sqrt(5) - 1) / 2;
        double c = hi - ratio * (hi - lo);
        double d = lo + ratio * (hi - lo);
        double fc = priorLoss(c, x, v, weight, keep);
        double fd = priorLoss(d, x, v, weight, keep);
        while (hi - lo > 1e-10) {
            if (fc < fd) {
                hi = d;
                d = c;
                fd = fc;
                c = hi - ratio * (hi - lo);
                fc = priorLoss(c, x, v, weight, keep);
            } else {
                lo = c;
                c = d;
                fc = fd;
                d = lo + ratio * (hi - lo);
                fd = priorLoss(d, x, v, weight, keep);
            }
        }
        double best = Math.exp((lo + hi) / 2);
        return new double[] {best, logLinearB(best), 1};
    }

    private static double priorLoss(double logA, double[] x, double[] v, double[] w, boolean[] keep) {
        double a = Math.exp(logA);
        double b = logLinearB(a);
        double loss = 0;
        for (int i = 0; i < x.length; i++) {
            if (keep[i]) {
                double r = w[i] * (v[i] - a * x[i] - b);
                loss += r * r;
            }
        }
        return loss;
    }

    /** numpy's matrix_rank == 2 for the weighted (rows × 2) design with Gram matrix [[g00, g01], [g01, g11]]. */
    private static boolean fullRank(double g00, double g01, double g11, int rows) {
        double trace = g00 + g11;
        double det = g00 * g11 - g01 * g01;
        double big = (trace + Math.sqrt(Math.max(trace * trace - 4 * det, 0.0))) / 2;
        if (big <= 0) {
            return false;
        }
        double small = Math.max(det, 0.0) / big;
        double tol = Math.sqrt(big) * Math.max(rows, 2) * Math.ulp(1.0);
        return Math.sqrt(small) > tol;
    }

    /** Non-negative least squares of {@code w·v ≈ w·(a·x + b)} over the kept rows; {a, b}. */
    private static double[] nnls2(double[] x, double[] v, double[] w, boolean[] keep) {
        double g00 = 0;
        double g01 = 0;
        double g11 = 0;
        double r0 = 0;
        double r1 = 0;
        double yy = 0;
        for (int i = 0; i < x.length; i++) {
            if (keep[i]) {
                double wx = w[i] * x[i];
                double wy = w[i] * v[i];
                g00 += wx * wx;
                g01 += wx * w[i];
                g11 += w[i] * w[i];
                r0 += wx * wy;
                r1 += w[i] * wy;
                yy += wy * wy;
            }
        }
        double det = g00 * g11 - g01 * g01;
        if (det > 1e-12 * g00 * g11) {
            double a = (g11 * r0 - g01 * r1) / det;
            double b = (g00 * r1 - g01 * r0) / det;
            if (a >= 0 && b >= 0) {
                return new double[] {a, b};
            }
        }
        // The optimum is on a face of the positive quadrant: a alone or b alone, whichever fits better.
        double aOnly = g00 > 0 ? Math.max(r0 / g00, 0.0) : 0.0;
        double bOnly = g11 > 0 ? Math.max(r1 / g11, 0.0) : 0.0;
        double lossA = yy - 2 * aOnly * r0 + aOnly * aOnly * g00;
        double lossB = yy - 2 * bOnly * r1 + bOnly * bOnly * g11;
        return lossA <= lossB ? new double[] {aOnly, 0.0} : new double[] {0.0, bOnly};
    }

    // ------------------------------------------------------------------------------- statistics

    private static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** numpy's {@code quantile(method="weibull")}: position q·(n + 1) among the sorted values, interpolated. */
    private static double weibullQuantile(double[] values, double q) {
        double[] s = values.clone();
        Arrays.sort(s);
        double index = Math.min(Math.max(q * (s.length + 1) - 1, 0.0), s.length - 1.0);
        int lo = (int) Math.floor(index);
        int hi = Math.min(lo + 1, s.length - 1);
        double t = index - lo;
        return s[lo] + (s[hi] - s[lo]) * t;
    }

    // Density and distribution of χ²_DOF / DOF on a fine grid (Simpson-integrated), for the order statistics.
    private static final double GRID_MAX = 4.0;
    private static final int GRID_STEPS = 16_000;
    private static final double[] GRID_PDF = new double[GRID_STEPS + 1];
    private static final double[] GRID_CDF = new double[GRID_STEPS + 1];
    private static final Map<Integer, Double> EXPECTED = new ConcurrentHashMap<>();

    static {
        double h = GRID_MAX / GRID_STEPS;
        GRID_PDF[0] = 0.0;
        for (int i = 1; i <= GRID_STEPS; i++) {
            GRID_PDF[i] = scaledChi2Pdf(i * h);
            GRID_CDF[i] = GRID_CDF[i - 1] + h / 6 * (GRID_PDF[i - 1] + 4 * scaledChi2Pdf((i - 0.5) * h) + GRID_PDF[i]);
        }
    }

    /** {@code sqrt(q(1−q)) / (f(ξ)·ξ)} at the q-quantile ξ of χ²_DOF/DOF: a bin quantile's relative error × √n. */
    static final double QUANTILE_REL_STD_1 = quantileRelStd();

    private static double scaledChi2Pdf(double x) {
        if (x <= 0) {
            return 0.0;
        }
        double half = DOF / 2.0;
        double logGamma = 0.0;  // ln Γ(DOF/2) for a half-integer or integer DOF/2
        double g = half;
        while (g > 1.0) {
            g -= 1.0;
            logGamma += Math.log(g);
        }
        if (g == 0.5) {
            logGamma += 0.5 * Math.log(Math.PI);
        }
        double y = DOF * x;
        return DOF * Math.exp((half - 1) * Math.log(y) - y / 2 - half * Math.log(2) - logGamma);
    }

    private static double quantileRelStd() {
        int i = 1;
        while (GRID_CDF[i] < QUANTILE) {
            i++;
        }
        double h = GRID_MAX / GRID_STEPS;
        double xi = (i - 1 + (QUANTILE - GRID_CDF[i - 1]) / (GRID_CDF[i] - GRID_CDF[i - 1])) * h;
        return Math.sqrt(QUANTILE * (1 - QUANTILE)) / (scaledChi2Pdf(xi) * xi);
    }

    /** Expected sample QUANTILE ("weibull" rule) of {@code count} draws of χ²_DOF/DOF. */
    static double expectedQuantile(int count) {
        return EXPECTED.computeIfAbsent(count, n -> {
            double position = Math.min(Math.max(QUANTILE * (n + 1), 1.0), n);
            int k = (int) position;
            double frac = position - k;
            double low = orderStatisticMean(k, n);
            return frac == 0 ? low : (1 - frac) * low + frac * orderStatisticMean(k + 1, n);
        });
    }

    /** Mean of the j-th smallest of n draws: ∫ x · n!/((j−1)!(n−j)!) F^{j−1} (1−F)^{n−j} f dx (Simpson). */
    private static double orderStatisticMean(int j, int n) {
        double logCoef = 0.0;
        for (int i = 2; i <= n; i++) {
            logCoef += Math.log(i);
        }
        for (int i = 2; i < j; i++) {
            logCoef -= Math.log(i);
        }
        for (int i = 2; i <= n - j; i++) {
            logCoef -= Math.log(i);
        }
        double h = GRID_MAX / GRID_STEPS;
        double sum = 0.0;
        for (int i = 1; i < GRID_STEPS; i++) {
            double f = GRID_PDF[i];
            double cdf = GRID_CDF[i];
            if (f <= 0 || cdf <= 0 || cdf >= 1) {
                continue;
            }
            double density = Math.exp(logCoef + (j - 1) * Math.log(cdf) + (n - j) * Math.log1p(-cdf) + Math.log(f));
            sum += (i % 2 == 1 ? 4 : 2) * i * h * density;
        }
        return sum * h / 3;
    }

    private static double dot(double[] p, double[] q) {
        double s = 0;
        for (int i = 0; i < p.length; i++) {
            s += p[i] * q[i];
        }
        return s;
    }
}
